//! Incoming handshake messages: fragments reassembled and handed over strictly in
//! message_seq order (RFC 6347 §4.2.2), tolerant of loss, reordering and duplication,
//! within fixed memory bounds.

use super::wire::handshake::{Fragment, HandshakeType};

/// How far ahead of the next expected message we hold fragments.
const WINDOW: u16 = 16;
/// Most distinct byte ranges tracked per message (a peer sending thousands of tiny
/// overlapping fragments is refused rather than tracked).
const MAX_RANGES: usize = 64;

/// A complete handshake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) msg_type: HandshakeType,
    pub(crate) seq: u16,
    /// The epoch its fragments arrived in (all must agree).
    pub(crate) epoch: u16,
    pub(crate) body: Vec<u8>,
}

/// What became of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Kept (or already had it).
    Stored,
    /// Belongs to a message already handed over: the peer is retransmitting.
    Old,
    /// Refused: too far ahead, too big, over the memory bound, or inconsistent.
    Dropped,
}

#[derive(Debug)]
struct Partial {
    msg_type: HandshakeType,
    seq: u16,
    epoch: u16,
    body: Vec<u8>,
    /// Sorted, disjoint, non-adjacent received ranges `[start, end)`.
    ranges: Vec<(usize, usize)>,
}

impl Partial {
    fn complete(&self) -> bool {
        match self.ranges.as_slice() {
            [] => self.body.is_empty(),
            [(0, end)] => *end == self.body.len(),
            _ => false,
        }
    }

    fn add(&mut self, start: usize, data: &[u8]) -> bool {
        let end = start + data.len();
        let Some(dst) = self.body.get_mut(start..end) else {
            return false;
        };
        dst.copy_from_slice(data);
        if data.is_empty() {
            return true;
        }
        // Merge [start, end) into the range list.
        let mut merged = (start, end);
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(s, e) in &self.ranges {
            if e < merged.0 || s > merged.1 {
                kept.push((s, e));
            } else {
                merged = (merged.0.min(s), merged.1.max(e));
            }
        }
        kept.push(merged);
        kept.sort_unstable();
        if kept.len() > MAX_RANGES {
            return false;
        }
        self.ranges = kept;
        true
    }
}

/// The reassembly buffer.
#[derive(Debug)]
pub(crate) struct Reassembler {
    next_seq: u16,
    partial: Vec<Partial>,
    bytes: usize,
    max_message: usize,
    max_bytes: usize,
}

impl Reassembler {
    pub(crate) fn new(max_message: usize, max_bytes: usize) -> Self {
        Reassembler {
            next_seq: 0,
            partial: Vec::new(),
            bytes: 0,
            max_message,
            max_bytes,
        }
    }

    /// The next message_seq to be handed over.
    pub(crate) fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Expects `seq` next, forgetting everything held (the server, after a ClientHello
    /// that it answered statelessly).
    pub(crate) fn reset_to(&mut self, seq: u16) {
        self.next_seq = seq;
        self.partial.clear();
        self.bytes = 0;
    }

    /// Bytes held.
    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn insert(&mut self, f: &Fragment<'_>, epoch: u16) -> Outcome {
        if f.message_seq < self.next_seq {
            return Outcome::Old;
        }
        if f.message_seq - self.next_seq >= WINDOW {
            return Outcome::Dropped;
        }
        let Ok(length) = usize::try_from(f.length) else {
            return Outcome::Dropped;
        };
        if length > self.max_message {
            return Outcome::Dropped;
        }
        let idx = match self.partial.iter().position(|p| p.seq == f.message_seq) {
            Some(i) => i,
            None => {
                if self.bytes + length > self.max_bytes {
                    return Outcome::Dropped;
                }
                self.bytes += length;
                self.partial.push(Partial {
                    msg_type: f.msg_type,
                    seq: f.message_seq,
                    epoch,
                    body: vec![0; length],
                    ranges: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let Some(p) = self.partial.get_mut(idx) else {
            return Outcome::Dropped;
        };
        if p.msg_type != f.msg_type || p.body.len() != length || p.epoch != epoch {
            return Outcome::Dropped;
        }
        let Ok(offset) = usize::try_from(f.offset) else {
            return Outcome::Dropped;
        };
        if p.add(offset, f.body) {
            Outcome::Stored
        } else {
            Outcome::Dropped
        }
    }

    /// The next message if it is complete.
    pub(crate) fn pop(&mut self) -> Option<Message> {
        let idx = self
            .partial
            .iter()
            .position(|p| p.seq == self.next_seq && p.complete())?;
        let p = self.partial.swap_remove(idx);
        self.bytes = self.bytes.saturating_sub(p.body.len());
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(Message {
            msg_type: p.msg_type,
            seq: p.seq,
            epoch: p.epoch,
            body: p.body,
        })
    }
}
