//! The replay list (RFC 3711 §3.3.2): a sliding window of packet indexes.

/// A window of `size` indexes below the highest seen.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    top: Option<u64>,
    /// Bit `i` of the window: `top - i` was seen.
    bits: Vec<u64>,
}

impl ReplayWindow {
    pub(crate) fn new(size: usize) -> Self {
        ReplayWindow {
            top: None,
            bits: vec![0; size.div_ceil(64).max(1)],
        }
    }

    fn size(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn get(&self, back: u64) -> bool {
        let (w, b) = ((back / 64) as usize, back % 64);
        self.bits.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    fn set(&mut self, back: u64) {
        let (w, b) = ((back / 64) as usize, back % 64);
        if let Some(x) = self.bits.get_mut(w) {
            *x |= 1 << b;
        }
    }

    /// Whether `index` is new and within the window.
    pub(crate) fn check(&self, index: u64) -> bool {
        match self.top {
            None => true,
            Some(top) if index > top => true,
            Some(top) => {
                let back = top - index;
                back < self.size() && !self.get(back)
            }
        }
    }

    /// Records `index` (after it authenticated).
    pub(crate) fn mark(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => self.set(top - index),
            _ => {
                let shift = self.top.map_or(self.size(), |t| index - t);
                self.shift(shift);
                self.top = Some(index);
                self.set(0);
            }
        }
    }

    /// Moves the window up by `n`: bit i becomes bit i + n.
    fn shift(&mut self, n: u64) {
        if n >= self.size() {
            self.bits.fill(0);
            return;
        }
        let (words, bits) = ((n / 64) as usize, (n % 64) as u32);
        let len = self.bits.len();
        for i in (0..len).rev() {
            let hi = i
                .checked_sub(words)
                .and_then(|j| self.bits.get(j))
                .copied()
                .unwrap_or(0);
            let lo = i
                .checked_sub(words + 1)
                .and_then(|j| self.bits.get(j))
                .copied()
                .unwrap_or(0);
            let v = if bits == 0 {
                hi
            } else {
                (hi << bits) | (lo >> (64 - bits))
            };
            if let Some(x) = self.bits.get_mut(i) {
                *x = v;
            }
        }
    }
}
