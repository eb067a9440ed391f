//! Randomness: secure by default, seeded for tests.
//!
//! ICE credentials and tie-breakers, STUN transaction ids, SCTP verification tags, DTLS
//! randoms and consent jitter all need random numbers. In production they come from the
//! crypto provider's secure generator (aws-lc-rs). Tests, simulations and fuzzers give a
//! seed instead, so a run can be replayed bit for bit.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Where a machine's random numbers come from. Part of every layer's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RngSource {
    /// The operating system's secure generator through aws-lc-rs. Use this in production.
    #[default]
    Secure,
    /// A deterministic ChaCha20 stream from this seed. For tests and simulations only:
    /// predictable credentials and keys are not secure.
    Seeded(u64),
}

/// A random number generator built from an [`RngSource`].
pub struct Rng {
    inner: Inner,
}

enum Inner {
    Secure,
    Seeded(Box<ChaCha20Rng>),
}

impl core::fmt::Debug for Rng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.inner {
            Inner::Secure => f.write_str("Rng(Secure)"),
            Inner::Seeded(_) => f.write_str("Rng(Seeded)"),
        }
    }
}

impl Rng {
    /// A generator for the given source.
    pub fn new(source: RngSource) -> Self {
        let inner = match source {
            RngSource::Secure => Inner::Secure,
            RngSource::Seeded(seed) => Inner::Seeded(Box::new(ChaCha20Rng::seed_from_u64(seed))),
        };
        Rng { inner }
    }

    /// A seeded generator derived from this one: for a sub-machine that needs its own
    /// stream (secure stays secure).
    pub fn fork(&mut self) -> Rng {
        match &mut self.inner {
            Inner::Secure => Rng {
                inner: Inner::Secure,
            },
            Inner::Seeded(r) => Rng {
                inner: Inner::Seeded(Box::new(ChaCha20Rng::seed_from_u64(r.next_u64()))),
            },
        }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        match &mut self.inner {
            Inner::Secure => {
                // aws-lc-rs fails only when the OS offers no entropy source at all; then a
                // ChaCha stream seeded from std's randomly keyed hasher (itself seeded by
                // the OS at start-up) is the best that is left.
                if aws_lc_rs::rand::fill(buf).is_err() {
                    let mut fallback = ChaCha20Rng::seed_from_u64(std_random_seed());
                    fallback.fill_bytes(buf);
                }
            }
            Inner::Seeded(r) => r.fill_bytes(buf),
        }
    }

    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    /// A random `u64`.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// A uniformly distributed value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection sampling to avoid modulo bias.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// A uniformly distributed float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Seed material from std's randomly keyed hasher, used only if aws-lc-rs cannot reach the
/// OS generator.
fn std_random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic() {
        let mut a = Rng::new(RngSource::Seeded(7));
        let mut b = Rng::new(RngSource::Seeded(7));
        assert_eq!(a.u64(), b.u64());
        let mut c = Rng::new(RngSource::Seeded(8));
        assert_ne!(a.u64(), c.u64());
    }

    #[test]
    fn below_is_in_range() {
        let mut r = Rng::new(RngSource::Seeded(1));
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
        let u = r.unit();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn secure_fills() {
        let mut r = Rng::new(RngSource::Secure);
        let mut a = [0u8; 32];
        r.fill(&mut a);
        let mut b = [0u8; 32];
        r.fill(&mut b);
        assert_ne!(a, b);
    }
}
