//! Time as the host gives it.
//!
//! sansrtc never reads a clock. Every call that can make time pass takes a `now: Instant`
//! given by the host, and every machine tells the host when it next wants to be woken up
//! through `poll_timeout`. [`Instant`] is the crate's own type: a count of microseconds
//! since an origin the host picks. That keeps every state machine deterministic and
//! replayable (a test or a fuzzer can invent time), and free of `std::time`.
//!
//! Hosts that run on a real clock map `std::time::Instant` to ours with [`Clock`].

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

pub use core::time::Duration;

/// A point in time: microseconds since an origin chosen by the host.
///
/// Arithmetic saturates instead of overflowing or panicking: adding a huge duration
/// gives [`Instant::MAX`], subtracting a later instant gives [`Duration::ZERO`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);
    /// The farthest instant; used as "never".
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the origin (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1000))
    }

    /// An instant `secs` seconds after the origin (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed since the origin.
    pub const fn since_origin(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let micros = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(micros).map(Instant)
    }

    /// `self - d`, or `None` if that is before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let micros = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_sub(micros).map(Instant)
    }
}

/// Saturating: never panics.
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// Saturating: an earlier minus a later instant is [`Duration::ZERO`].
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Saturating at the origin.
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        self.checked_sub(d).unwrap_or(Instant::ZERO)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The earliest of two optional deadlines (`None` means "no deadline").
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Maps the host's `std::time::Instant` to sansrtc's [`Instant`] and back.
///
/// This is the one place in the crate that may read the real clock, and only when the host
/// asks it to through [`Clock::now`]. The state machines never call it.
///
/// ```
/// let clock = sansrtc::time::Clock::new();
/// let now = clock.now();
/// let later = now + sansrtc::time::Duration::from_millis(20);
/// assert!(clock.to_std(later) > clock.to_std(now));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock whose origin is the moment of this call.
    #[allow(clippy::disallowed_methods)] // the host-side edge: reading the clock is its job
    pub fn new() -> Self {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// A clock with the given origin.
    pub fn with_origin(origin: std::time::Instant) -> Self {
        Clock { origin }
    }

    /// The current time on this clock.
    #[allow(clippy::disallowed_methods)] // the host-side edge: reading the clock is its job
    pub fn now(&self) -> Instant {
        self.from_std(std::time::Instant::now())
    }

    /// Converts a `std::time::Instant` (before the origin maps to the origin).
    pub fn from_std(&self, t: std::time::Instant) -> Instant {
        let d = t.saturating_duration_since(self.origin);
        Instant(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Converts back to a `std::time::Instant` (saturating far in the future).
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        let d = Duration::from_micros(t.0);
        self.origin
            .checked_add(d)
            .unwrap_or(self.origin + Duration::from_secs(86_400 * 365 * 30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_secs(1);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(1500));
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(Instant::from_millis(1500) - t, Duration::from_millis(500));
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
    }

    #[test]
    fn earliest_picks_min() {
        let a = Some(Instant::from_secs(2));
        let b = Some(Instant::from_secs(1));
        assert_eq!(earliest(a, b), b);
        assert_eq!(earliest(None, b), b);
        assert_eq!(earliest(a, None), a);
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn debug_format() {
        assert_eq!(
            format!("{:?}", Instant::from_micros(1_500_000)),
            "1.500000s"
        );
    }
}
