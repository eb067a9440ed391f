//! A bounded pool of byte buffers, so steady-state traffic reuses memory instead of
//! allocating a buffer per message or packet.
//!
//! Buffers come back from two places: the stack's own (a sent message once the peer
//! acknowledged it) and the host's (a received message or packet it is done with,
//! handed back through `Rtc::recycle` or `Association::recycle`). The pool keeps at most
//! `max_bytes` of capacity in all; anything beyond is freed, so an idle connection
//! holds a bounded amount.

/// A bounded stack of spare buffers.
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    bufs: Vec<Vec<u8>>,
    /// Capacity held now, in bytes.
    held: usize,
    /// Most capacity held, in bytes.
    max_bytes: usize,
}

impl BufPool {
    /// An empty pool that keeps at most `max_bytes` of buffer capacity.
    pub(crate) fn new(max_bytes: usize) -> Self {
        BufPool {
            bufs: Vec::new(),
            held: 0,
            max_bytes,
        }
    }

    /// An empty buffer with room for at least `min` bytes: a spare one if there is
    /// one (grown if it is too small), else a new one.
    pub(crate) fn take(&mut self, min: usize) -> Vec<u8> {
        match self.bufs.pop() {
            Some(mut b) => {
                self.held = self.held.saturating_sub(b.capacity());
                b.clear();
                b.reserve(min);
                b
            }
            None => Vec::with_capacity(min),
        }
    }

    /// Keeps `buf` for a later `take` if it fits the budget; frees it otherwise.
    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap == 0 || self.held + cap > self.max_bytes {
            return;
        }
        self.held += cap;
        self.bufs.push(buf);
    }

    /// Buffers held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.bufs.len()
    }

    /// Frees every spare buffer.
    pub(crate) fn clear(&mut self) {
        self.bufs = Vec::new();
        self.held = 0;
    }

    /// Capacity held now, in bytes.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_within_budget_and_frees_beyond() {
        let mut p = BufPool::new(10_000);
        let a = p.take(4096);
        let ptr = a.as_ptr();
        p.give(a);
        assert_eq!(p.len(), 1);
        assert!(p.held_bytes() >= 4096);
        let mut b = p.take(100);
        assert_eq!(b.as_ptr(), ptr, "the spare buffer came back");
        assert!(b.is_empty());
        b.extend_from_slice(&[1; 50]);
        p.give(b);
        p.give(Vec::with_capacity(4096));
        // A third one would pass the 10,000-byte budget.
        p.give(Vec::with_capacity(4096));
        assert_eq!(p.len(), 2);
        assert!(p.held_bytes() <= 10_000);
        p.give(Vec::new());
        assert_eq!(p.len(), 2, "empty buffers are not kept");
        let c = p.take(20_000);
        assert!(
            c.capacity() >= 20_000,
            "a small spare grows to what is asked"
        );
    }
}
