//! SRTP and SRTCP (RFC 3711, RFC 7714): key derivation, protection and unprotection in
//! place (no allocation per packet), rollover counter estimation, replay protection.
//!
//! One [`SrtpContext`] holds the keys of one direction: the peer connection makes one
//! from its own keys (to protect) and one from the peer's (to unprotect), both out of the
//! DTLS keying material (RFC 5764 §4.2).
//!
//! ```
//! use sansrtc::srtp::{Profile, SrtpConfig, SrtpContext};
//! let (key, salt) = ([7u8; 16], [9u8; 14]);
//! let mut tx = SrtpContext::new(Profile::Aes128CmHmacSha1_80, &key, &salt, SrtpConfig::default()).unwrap();
//! let mut rx = SrtpContext::new(Profile::Aes128CmHmacSha1_80, &key, &salt, SrtpConfig::default()).unwrap();
//! // An RTP packet: 12-byte header, then the payload; room for the tag after it.
//! let mut buf = [0u8; 64];
//! buf[..12].copy_from_slice(&[0x80, 96, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef]);
//! buf[12..17].copy_from_slice(b"hello");
//! let n = tx.protect_rtp(&mut buf, 17).unwrap();
//! assert_eq!(n, 17 + 10);
//! assert_ne!(&buf[12..17], b"hello");
//! let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
//! assert_eq!(&buf[12..m], b"hello");
//! // A replay is refused.
//! let mut again = [0u8; 64];
//! assert!(rx.unprotect_rtp(&mut again[..n]).is_err());
//! ```

mod cipher;
mod kdf;
mod replay;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use cipher::{Transform, rtp_header_len};
use replay::ReplayWindow;

/// SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag.
    Aes128CmHmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80-bit on SRTCP).
    Aes128CmHmacSha1_32,
    /// AEAD AES-128-GCM, 16-byte tag.
    AeadAes128Gcm,
    /// AEAD AES-256-GCM, 16-byte tag.
    AeadAes256Gcm,
}

impl Profile {
    /// Master key length.
    pub fn key_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length.
    pub fn salt_len(self) -> usize {
        match self {
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Bytes an SRTP packet grows by.
    pub fn rtp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 => 10,
            Profile::Aes128CmHmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes an SRTCP packet grows by (tag and the E/index word).
    pub fn rtcp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => 10 + 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16 + 4,
        }
    }
}

/// Configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpConfig {
    /// Replay window size in packets (rounded up to a multiple of 64). Default 1024
    /// (RFC 3711 asks for at least 64; video bursts need more).
    pub replay_window: usize,
    /// Most SSRCs with state; packets of further SSRCs are refused. Default 256.
    pub max_ssrcs: usize,
}

impl Default for SrtpConfig {
    fn default() -> Self {
        SrtpConfig {
            replay_window: 1024,
            max_ssrcs: 256,
        }
    }
}

/// Why a packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// Key or salt of the wrong length for the profile.
    #[error("key or salt of the wrong length")]
    BadKey,
    /// Not an RTP/RTCP packet (version, lengths).
    #[error("malformed packet")]
    Malformed,
    /// The buffer has no room for the tag.
    #[error("no room for the authentication tag")]
    NoRoom,
    /// Authentication failed (forged or corrupted).
    #[error("authentication failed")]
    AuthFailed,
    /// Seen before, or older than the replay window.
    #[error("replayed packet")]
    Replay,
    /// More SSRCs than `max_ssrcs`.
    #[error("too many SSRCs")]
    TooManySsrcs,
    /// The SRTCP index (2^31 packets) ran out: rekey.
    #[error("index exhausted")]
    Exhausted,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SrtpStats {
    /// Packets protected.
    pub protected: u64,
    /// Packets unprotected.
    pub unprotected: u64,
    /// Packets that failed authentication.
    pub auth_failures: u64,
    /// Replays dropped.
    pub replays: u64,
    /// Malformed packets dropped.
    pub malformed: u64,
}

#[derive(Debug)]
struct SsrcState {
    /// Sending: the last sequence number sent and its rollover counter.
    /// Receiving: the highest sequence number authenticated (`s_l`) and its ROC.
    seq: u16,
    roc: u32,
    started: bool,
    rtp_replay: ReplayWindow,
    /// SRTCP: next index to send / replay window of received indexes.
    rtcp_index: u32,
    rtcp_replay: ReplayWindow,
}

/// The keys of one direction and the state of its SSRCs.
pub struct SrtpContext {
    profile: Profile,
    rtp: Transform,
    rtcp: Transform,
    ssrcs: HashMap<u32, SsrcState>,
    config: SrtpConfig,
    stats: SrtpStats,
}

impl core::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("ssrcs", &self.ssrcs.len())
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Derives the session keys (RFC 3711 §4.3, key derivation rate 0) from a master key
    /// and salt.
    pub fn new(
        profile: Profile,
        master_key: &[u8],
        master_salt: &[u8],
        config: SrtpConfig,
    ) -> Result<Self, SrtpError> {
        if master_key.len() != profile.key_len() || master_salt.len() != profile.salt_len() {
            return Err(SrtpError::BadKey);
        }
        let rtp = Transform::derive(profile, master_key, master_salt, false)?;
        let rtcp = Transform::derive(profile, master_key, master_salt, true)?;
        Ok(SrtpContext {
            profile,
            rtp,
            rtcp,
            ssrcs: HashMap::new(),
            config,
            stats: SrtpStats::default(),
        })
    }

    /// A context from session keys directly (tests use the RFC vectors this way).
    #[cfg(test)]
    pub(crate) fn from_session_keys(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        auth: &[u8],
    ) -> Result<Self, SrtpError> {
        Ok(SrtpContext {
            profile,
            rtp: Transform::from_session(profile, key, salt, auth, false)?,
            rtcp: Transform::from_session(profile, key, salt, auth, true)?,
            ssrcs: HashMap::new(),
            config: SrtpConfig::default(),
            stats: SrtpStats::default(),
        })
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// SSRCs with state (at most `SrtpConfig::max_ssrcs`).
    pub fn ssrc_count(&self) -> usize {
        self.ssrcs.len()
    }

    /// Counters.
    pub fn stats(&self) -> SrtpStats {
        self.stats
    }

    fn state(&mut self, ssrc: u32) -> Result<&mut SsrcState, SrtpError> {
        if !self.ssrcs.contains_key(&ssrc) && self.ssrcs.len() >= self.config.max_ssrcs {
            return Err(SrtpError::TooManySsrcs);
        }
        let window = self.config.replay_window;
        Ok(self.ssrcs.entry(ssrc).or_insert_with(|| SsrcState {
            seq: 0,
            roc: 0,
            started: false,
            rtp_replay: ReplayWindow::new(window),
            rtcp_index: 0,
            rtcp_replay: ReplayWindow::new(window),
        }))
    }

    /// Protects the RTP packet in `buf[..len]` in place; the tag goes after it. Returns
    /// the SRTP packet's length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::Malformed)?;
        let header_len = rtp_header_len(packet).ok_or(SrtpError::Malformed)?;
        if buf.len() < len + self.profile.rtp_overhead() {
            return Err(SrtpError::NoRoom);
        }
        let (seq, ssrc) = (be16(packet, 2)?, be32(packet, 8)?);
        let st = self.state(ssrc)?;
        // The sender's rollover counter increments when the sequence number wraps; a
        // resent older packet keeps the index it had (RFC 3711 §3.3.1).
        let index = if st.started {
            let (v, index) = estimate(st.seq, st.roc, seq).unwrap_or((0, u64::from(seq)));
            if v > st.roc || (v == st.roc && seq > st.seq) {
                st.roc = v;
                st.seq = seq;
            }
            index
        } else {
            st.started = true;
            st.seq = seq;
            u64::from(seq)
        };
        let n = self.rtp.protect_rtp(buf, header_len, len, ssrc, index)?;
        self.stats.protected += 1;
        Ok(n)
    }

    /// Unprotects the SRTP packet `buf` in place. Returns the RTP packet's length. A
    /// packet that fails is left unusable and counted; nothing else changes.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.profile.rtp_overhead();
        let Some(header_len) = rtp_header_len(buf).filter(|h| h + tag_len <= buf.len()) else {
            self.stats.malformed += 1;
            return Err(SrtpError::Malformed);
        };
        let (seq, ssrc) = (be16(buf, 2)?, be32(buf, 8)?);
        // State for a new SSRC is made only once a packet of it authenticates: forged
        // packets must not fill the table (`max_ssrcs`) and lock real streams out.
        let (v, index) = match self.ssrcs.get(&ssrc) {
            // RFC 3711 §3.3.1: guess the packet index from the highest one seen. A
            // packet from before the first rollover period seen is older than the
            // stream: refused.
            Some(st) if st.started => {
                let Some((v, index)) = estimate(st.seq, st.roc, seq) else {
                    self.stats.replays += 1;
                    return Err(SrtpError::Replay);
                };
                if !st.rtp_replay.check(index) {
                    self.stats.replays += 1;
                    return Err(SrtpError::Replay);
                }
                (v, index)
            }
            Some(_) => (0, u64::from(seq)),
            None if self.ssrcs.len() >= self.config.max_ssrcs => {
                return Err(SrtpError::TooManySsrcs);
            }
            None => (0, u64::from(seq)),
        };
        let n = match self.rtp.unprotect_rtp(buf, header_len, ssrc, index) {
            Ok(n) => n,
            Err(e) => {
                self.stats.auth_failures += 1;
                return Err(e);
            }
        };
        let st = self.state(ssrc)?;
        st.rtp_replay.mark(index);
        if !st.started || v > st.roc || (v == st.roc && seq > st.seq) {
            st.started = true;
            st.roc = v;
            st.seq = seq;
        }
        self.stats.unprotected += 1;
        Ok(n)
    }

    /// Protects the RTCP compound packet in `buf[..len]` in place (encrypted, with the
    /// E flag and the next SRTCP index). Returns the SRTCP packet's length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::Malformed)?;
        if len < 8 || packet.first().is_none_or(|b| b >> 6 != 2) {
            return Err(SrtpError::Malformed);
        }
        let ssrc = be32(packet, 4)?;
        if buf.len() < len + self.profile.rtcp_overhead() {
            return Err(SrtpError::NoRoom);
        }
        let st = self.state(ssrc)?;
        if st.rtcp_index >= 0x7fff_ffff {
            return Err(SrtpError::Exhausted);
        }
        st.rtcp_index += 1;
        let index = st.rtcp_index;
        let n = self.rtcp.protect_rtcp(buf, len, ssrc, index)?;
        self.stats.protected += 1;
        Ok(n)
    }

    /// Unprotects an SRTCP packet in place. Returns the RTCP packet's length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let overhead = self.profile.rtcp_overhead();
        if buf.len() < 8 + overhead || buf.first().is_none_or(|b| b >> 6 != 2) {
            self.stats.malformed += 1;
            return Err(SrtpError::Malformed);
        }
        let ssrc = be32(buf, 4)?;
        let word = cipher::esrtcp_word(buf, self.profile).ok_or(SrtpError::Malformed)?;
        let index = word & 0x7fff_ffff;
        // As for RTP: no state for an SSRC until one of its packets authenticates.
        match self.ssrcs.get(&ssrc) {
            Some(st) if !st.rtcp_replay.check(u64::from(index)) => {
                self.stats.replays += 1;
                return Err(SrtpError::Replay);
            }
            Some(_) => {}
            None if self.ssrcs.len() >= self.config.max_ssrcs => {
                return Err(SrtpError::TooManySsrcs);
            }
            None => {}
        }
        let n = match self.rtcp.unprotect_rtcp(buf, ssrc, word) {
            Ok(n) => n,
            Err(e) => {
                self.stats.auth_failures += 1;
                return Err(e);
            }
        };
        if let Ok(st) = self.state(ssrc) {
            st.rtcp_replay.mark(u64::from(index));
        }
        self.stats.unprotected += 1;
        Ok(n)
    }
}

/// RFC 3711 §3.3.1: the index of a received sequence number given the highest one seen
/// (`s_l`) and its rollover counter. Returns (ROC guess, 48-bit index), or `None` when the
/// guess is the period before ROC 0.
fn estimate(s_l: u16, roc: u32, seq: u16) -> Option<(u32, u64)> {
    let v = if s_l < 32768 {
        if seq > s_l && seq - s_l > 32768 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 32768 > seq {
        roc.wrapping_add(1)
    } else {
        roc
    };
    Some((v, (u64::from(v) << 16) | u64::from(seq)))
}

fn be16(p: &[u8], at: usize) -> Result<u16, SrtpError> {
    let b: [u8; 2] = p
        .get(at..at + 2)
        .and_then(|b| b.try_into().ok())
        .ok_or(SrtpError::Malformed)?;
    Ok(u16::from_be_bytes(b))
}

fn be32(p: &[u8], at: usize) -> Result<u32, SrtpError> {
    let b: [u8; 4] = p
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or(SrtpError::Malformed)?;
    Ok(u32::from_be_bytes(b))
}
