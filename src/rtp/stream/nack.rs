//! The receiver's list of missing packets, and when to ask for them again with a generic
//! NACK (RFC 4585 §6.2.1).
//!
//! Every sequence number skipped by an arriving packet is added as missing, due for a
//! request once it has been missing for `reorder_delay` (so plain reordering costs no
//! retransmission). Each request is repeated at most `max_retries` times, no sooner than
//! `max(min_interval, rtt)` after the previous one (an earlier repeat could not have been
//! answered yet), and a packet is given up `max_age` after it was found missing or when
//! its retries are spent. The list holds at most `max_missing` entries: a gap that would
//! overflow it clears it instead, and the stream asks for a key frame, since recovering
//! that many packets one by one is hopeless (as libwebrtc's `NackRequester` does).

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

/// How a [`RecvStream`](super::RecvStream) asks for missing packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    /// Most packets tracked as missing at once. A gap that would take the list past this
    /// clears it and sets [`RecvStream::keyframe_needed`](super::RecvStream::keyframe_needed).
    /// Default 1000; 0 turns every gap into a key frame request.
    pub max_missing: usize,
    /// A packet missing for longer than this is given up. Default 1 s.
    pub max_age: Duration,
    /// Requests per missing packet, at most. Default 10.
    pub max_retries: u8,
    /// Least time between two requests for the same packet; once an RTT is known
    /// ([`RecvStream::set_rtt`](super::RecvStream::set_rtt)) the larger of this and 5/4
    /// of the RTT. Default 20 ms.
    pub min_interval: Duration,
    /// How long a gap may be a reordering before it is first requested: packets a few
    /// milliseconds out of order are common on real paths, and an early NACK for one
    /// costs a useless retransmission. Default 10 ms.
    pub reorder_delay: Duration,
}

impl Default for NackConfig {
    fn default() -> Self {
        NackConfig {
            max_missing: 1000,
            max_age: Duration::from_secs(1),
            max_retries: 10,
            min_interval: Duration::from_millis(20),
            reorder_delay: Duration::from_millis(10),
        }
    }
}

/// One missing packet.
#[derive(Debug, Clone, Copy)]
struct Missing {
    /// Its extended sequence number.
    ext: u64,
    /// When it was found missing.
    detected: Instant,
    /// When it was last requested.
    last_sent: Option<Instant>,
    /// How many times it was requested.
    retries: u8,
}

/// What [`NackTracker::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Polled {
    /// Sequence numbers appended to the output.
    pub(super) requested: u64,
    /// Packets given up.
    pub(super) given_up: u64,
}

/// The missing packets, in increasing extended sequence order.
#[derive(Debug, Clone)]
pub(super) struct NackTracker {
    config: NackConfig,
    list: VecDeque<Missing>,
    rtt: Option<Duration>,
}

impl NackTracker {
    pub(super) fn new(config: NackConfig) -> Self {
        NackTracker {
            config,
            list: VecDeque::new(),
            rtt: None,
        }
    }

    /// Sets the round-trip time, which lengthens the interval between repeated requests.
    pub(super) fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// The time between two requests for one packet: a little over the RTT (the answer
    /// to the last one cannot have come sooner; the margin absorbs path jitter).
    fn interval(&self) -> Duration {
        match self.rtt {
            Some(rtt) => (rtt * 5 / 4).max(self.config.min_interval),
            None => self.config.min_interval,
        }
    }

    /// Packets tracked as missing.
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Forgets every missing packet.
    pub(super) fn clear(&mut self) {
        self.list.clear();
    }

    /// Adds `from..to` (extended numbers, all above every number tracked so far) as
    /// missing. Returns `false`, with the list cleared, when they do not fit in
    /// `max_missing`.
    pub(super) fn add_gap(&mut self, now: Instant, from: u64, to: u64) -> bool {
        let n = to.saturating_sub(from);
        if n == 0 {
            return true;
        }
        let room = self.config.max_missing.saturating_sub(self.list.len());
        if n > room as u64 {
            self.list.clear();
            return false;
        }
        self.list.extend((from..to).map(|ext| Missing {
            ext,
            detected: now,
            last_sent: None,
            retries: 0,
        }));
        true
    }

    /// Adds `from..to` (extended numbers, all below every number tracked so far: a late
    /// packet from before the first one revealed them) as missing; nothing when they do
    /// not fit.
    pub(super) fn add_gap_before(&mut self, now: Instant, from: u64, to: u64) {
        let n = to.saturating_sub(from);
        let room = self.config.max_missing.saturating_sub(self.list.len());
        if n == 0 || n > room as u64 || self.list.front().is_some_and(|m| m.ext < to) {
            return;
        }
        for ext in (from..to).rev() {
            self.list.push_front(Missing {
                ext,
                detected: now,
                last_sent: None,
                retries: 0,
            });
        }
    }

    /// A packet arrived: forgets it if it was missing. Returns whether it was missing and
    /// had been requested (a recovery).
    pub(super) fn on_received(&mut self, ext: u64) -> bool {
        let Ok(i) = self.list.binary_search_by_key(&ext, |m| m.ext) else {
            return false;
        };
        self.list.remove(i).is_some_and(|m| m.retries > 0)
    }

    /// Appends to `out` the sequence numbers due for a request at `now`, in increasing
    /// order, and gives up those too old or requested `max_retries` times already.
    pub(super) fn poll(&mut self, now: Instant, out: &mut Vec<u16>) -> Polled {
        let interval = self.interval();
        let reorder = self.config.reorder_delay;
        let NackConfig {
            max_age,
            max_retries,
            ..
        } = self.config;
        let mut polled = Polled::default();
        self.list.retain_mut(|m| {
            if now < due(m, interval, reorder) {
                return true;
            }
            if now.saturating_duration_since(m.detected) >= max_age || m.retries >= max_retries {
                polled.given_up += 1;
                return false;
            }
            // The low 16 bits are the sequence number on the wire.
            out.push(m.ext as u16);
            m.retries += 1;
            m.last_sent = Some(now);
            polled.requested += 1;
            true
        });
        polled
    }

    /// When [`NackTracker::poll`] next has something to do.
    pub(super) fn next_due(&self) -> Option<Instant> {
        let interval = self.interval();
        let reorder = self.config.reorder_delay;
        self.list.iter().map(|m| due(m, interval, reorder)).min()
    }
}

/// When packet `m` is next due for a request (or to be given up): the reordering
/// tolerance after it was found missing, then one interval after each request.
fn due(m: &Missing, interval: Duration, reorder: Duration) -> Instant {
    match m.last_sent {
        Some(t) => t + interval,
        None => m.detected + reorder,
    }
}
