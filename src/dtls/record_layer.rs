//! The record layer: epochs, 48-bit sequence numbers, the anti-replay window and record
//! protection (RFC 6347 §4.1).
//!
//! sansrtc never renegotiates, so there are exactly two epochs: 0 (plaintext, the
//! handshake) and 1 (the negotiated AEAD).

use super::crypto::RecordCipher;
use super::wire::record::{
    ContentType, DTLS_1_2, MAX_PLAINTEXT, MAX_SEQ, RECORD_HEADER_LEN, Record, RecordHeader,
};

/// A 64-record sliding window (RFC 6347 §4.1.2.6). A sequence number is accepted once,
/// and only if it is newer than the window's bottom.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReplayWindow {
    /// Highest sequence number accepted so far.
    top: Option<u64>,
    /// Bit `i` set: `top - i` was accepted.
    bits: u64,
}

impl ReplayWindow {
    /// Whether `seq` is new (not seen, not older than the window).
    pub(crate) fn check(&self, seq: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if seq > top => true,
            Some(top) => {
                let back = top - seq;
                back < 64 && self.bits & (1u64 << back) == 0
            }
        }
    }

    /// Records `seq` as seen (call after the record authenticated).
    pub(crate) fn mark(&mut self, seq: u64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.top = Some(seq);
            }
            Some(top) => {
                let back = top - seq;
                if back < 64 {
                    self.bits |= 1u64 << back;
                }
            }
        }
    }
}

/// Why an incoming record was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Seen before, or older than the window.
    Replay,
    /// Epoch 1 before its keys exist: the caller may buffer the record.
    NoKeys,
    /// An epoch that never exists here (above 1).
    BadEpoch,
    /// Authentication failed (or the fragment was too short to hold a tag).
    BadAuth,
}

/// Both directions' cipher states and counters.
#[derive(Debug, Default)]
pub(crate) struct RecordLayer {
    write_seq: [u64; 2],
    write_cipher: Option<RecordCipher>,
    read_cipher: Option<RecordCipher>,
    replay: [ReplayWindow; 2],
}

impl RecordLayer {
    /// Installs epoch 1 in both directions.
    pub(crate) fn install(&mut self, write: RecordCipher, read: RecordCipher) {
        self.write_cipher = Some(write);
        self.read_cipher = Some(read);
    }

    /// Whether records of epoch 1 can be opened.
    pub(crate) fn has_read_keys(&self) -> bool {
        self.read_cipher.is_some()
    }

    /// Whether records of epoch 1 can be sealed.
    pub(crate) fn has_write_keys(&self) -> bool {
        self.write_cipher.is_some()
    }

    /// Forgets the records seen in epoch 0 (after a HelloVerifyRequest: the server's
    /// stateless reply reused our sequence number, RFC 6347 §4.2.1).
    pub(crate) fn reset_read_epoch0(&mut self) {
        self.replay[0] = ReplayWindow::default();
    }

    /// Makes the next epoch-0 record carry at least `seq` (the server continues from the
    /// ClientHello's record sequence number, RFC 6347 §4.2.1).
    pub(crate) fn bump_write_seq0(&mut self, seq: u64) {
        self.write_seq[0] = self.write_seq[0].max(seq);
    }

    /// Bytes a record of `epoch` adds around its plaintext.
    pub(crate) fn overhead(&self, epoch: u16) -> usize {
        RECORD_HEADER_LEN
            + match (epoch, &self.write_cipher) {
                (1, Some(c)) => c.overhead(),
                _ => 0,
            }
    }

    /// Writes one record carrying `plain` into `out`; returns its length, or `None` if
    /// `out` is too small, the epoch has no keys, or the sequence numbers ran out.
    pub(crate) fn seal(
        &mut self,
        epoch: u16,
        ty: ContentType,
        plain: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let slot = usize::from(epoch.min(1));
        let seq = *self.write_seq.get(slot)?;
        if seq > MAX_SEQ || epoch > 1 {
            return None;
        }
        let (hdr, body) = out.split_at_mut_checked(RECORD_HEADER_LEN)?;
        let frag_len = match (epoch, &self.write_cipher) {
            (0, _) => {
                body.get_mut(..plain.len())?.copy_from_slice(plain);
                plain.len()
            }
            (_, Some(c)) => {
                let ex = c.overhead() - super::crypto::TAG_LEN;
                body.get_mut(ex..ex + plain.len())?.copy_from_slice(plain);
                let h = RecordHeader {
                    content_type: ty,
                    version: DTLS_1_2,
                    epoch,
                    seq,
                    length: 0,
                };
                c.seal(h.epoch_seq(), ty, body, plain.len())?
            }
            _ => return None,
        };
        let header = RecordHeader {
            content_type: ty,
            version: DTLS_1_2,
            epoch,
            seq,
            length: u16::try_from(frag_len).ok()?,
        };
        header.write(hdr);
        if let Some(s) = self.write_seq.get_mut(slot) {
            *s += 1;
        }
        Some(RECORD_HEADER_LEN + frag_len)
    }

    /// Checks and opens an incoming record; the plaintext is left in `scratch`.
    pub(crate) fn open<'s>(
        &mut self,
        rec: &Record<'_>,
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8], OpenError> {
        let h = rec.header;
        let slot = match h.epoch {
            0 => 0,
            1 => 1,
            _ => return Err(OpenError::BadEpoch),
        };
        let window = self.replay.get(slot).copied().unwrap_or_default();
        if !window.check(h.seq) {
            return Err(OpenError::Replay);
        }
        // RFC 5246 §6.2.1/§6.2.3: plaintext beyond 2^14 is a record_overflow; dropped.
        if slot == 0 && rec.fragment.len() > MAX_PLAINTEXT {
            return Err(OpenError::BadAuth);
        }
        scratch.clear();
        scratch.extend_from_slice(rec.fragment);
        let range = if slot == 0 {
            0..scratch.len()
        } else {
            let c = self.read_cipher.as_ref().ok_or(OpenError::NoKeys)?;
            c.open(h.epoch_seq(), h.content_type, scratch)
                .ok_or(OpenError::BadAuth)?
        };
        if range.len() > MAX_PLAINTEXT {
            return Err(OpenError::BadAuth);
        }
        if let Some(w) = self.replay.get_mut(slot) {
            w.mark(h.seq);
        }
        scratch.get(range).ok_or(OpenError::BadAuth)
    }
}
