//! Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01):
//! the receiver notes when each transport-wide sequence number arrived and reports it
//! back in feedback packets (§3.1); the sender numbers its packets (§2) and reads the
//! feedback.

use std::collections::VecDeque;

use super::{FIRST_CYCLE, extend_seq};
use crate::rtp::wire::{TwccFeedback, write_twcc};
use crate::time::{Duration, Instant};

/// Largest window or history: half the 16-bit sequence space, so extension is unambiguous.
const MAX_WINDOW: usize = 1 << 15;

/// Feedbacks remembered for the delivered rate (more within a second are merged).
const RATE_ENTRIES: usize = 128;

/// The window of the delivered rate.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// How a [`TwccReceiver`] paces its feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccReceiverConfig {
    /// Time between feedback packets. Default 100 ms.
    pub interval: Duration,
    /// Sequence numbers remembered (reported or not, received or not), from the highest
    /// down; the oldest fall out beyond it, unreported or not. Default 1000, at most 32768.
    pub max_pending: usize,
    /// Feedback is due at once when this many packets wait to be reported. Default 100.
    pub feedback_threshold: usize,
    /// Most sequence numbers (received or not) one feedback covers (at least 1). The
    /// default, 400,
    /// keeps a feedback under ~950 bytes even when every delta is large (2 bytes each
    /// plus a 2-bit status vector chunk per 7 packets, §3.1.4).
    pub max_packets_per_feedback: usize,
}

impl Default for TwccReceiverConfig {
    fn default() -> Self {
        TwccReceiverConfig {
            interval: Duration::from_millis(100),
            max_pending: 1000,
            feedback_threshold: 100,
            max_packets_per_feedback: 400,
        }
    }
}

/// Counters of a [`TwccReceiver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwccReceiverStats {
    /// Packets recorded.
    pub packets: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Packets too far behind the highest to be recorded.
    pub too_old: u64,
    /// Received packets dropped unreported (window overflow, or a buffer too small).
    pub dropped: u64,
    /// Feedback packets written.
    pub feedbacks: u64,
}

/// The receive side of transport-wide congestion control.
///
/// Feed it the transport-wide sequence number of every packet that carries one
/// ([`crate::rtp::wire::ext::transport_cc`]) with [`TwccReceiver::on_packet`], and write
/// feedback with [`TwccReceiver::poll_feedback`] when [`TwccReceiver::poll_timeout`] says.
///
/// Each feedback covers the sequence numbers after the previous one's up to the highest
/// received, the missing ones reported as not received. A packet arriving late, after the
/// feedback that reported it missing, moves the start of the next feedback back to it, so
/// that the packets between are reported again with their true arrivals (as libwebrtc
/// does). Arrival times are microseconds since the first packet.
#[derive(Debug, Clone)]
pub struct TwccReceiver {
    config: TwccReceiverConfig,
    /// The time base of arrivals: the first packet's arrival.
    origin: Option<Instant>,
    /// Arrival (µs since `origin`) of each sequence number from `start` on.
    window: VecDeque<Option<i64>>,
    /// Extended sequence number of `window`'s front.
    start: u64,
    /// The first extended number the next feedback covers.
    report_from: u64,
    /// Received packets at or after `report_from`, roughly (late ones count once).
    unreported: usize,
    /// More is left to report after a feedback that hit the size cap.
    urgent: bool,
    last_feedback: Option<Instant>,
    last_arrival: Instant,
    fb_count: u8,
    /// Reused for the packet list handed to the writer.
    scratch: Vec<(u16, Option<i64>)>,
    stats: TwccReceiverStats,
}

impl Default for TwccReceiver {
    fn default() -> Self {
        TwccReceiver::new(TwccReceiverConfig::default())
    }
}

impl TwccReceiver {
    /// A receiver that has seen nothing yet.
    pub fn new(config: TwccReceiverConfig) -> Self {
        TwccReceiver {
            config,
            origin: None,
            window: VecDeque::new(),
            start: 0,
            report_from: 0,
            unreported: 0,
            urgent: false,
            last_feedback: None,
            last_arrival: Instant::ZERO,
            fb_count: 0,
            scratch: Vec::new(),
            stats: TwccReceiverStats::default(),
        }
    }

    fn cap(&self) -> usize {
        self.config.max_pending.clamp(1, MAX_WINDOW)
    }

    /// Extended number of the highest packet received, if any.
    fn max_ext(&self) -> Option<u64> {
        let len = self.window.len() as u64;
        len.checked_sub(1).map(|l| self.start + l)
    }

    /// A packet with transport-wide sequence number `seq` arrived at `now`.
    pub fn on_packet(&mut self, now: Instant, seq: u16) {
        let (Some(origin), Some(max)) = (self.origin, self.max_ext()) else {
            self.origin = Some(now);
            self.reset_at(FIRST_CYCLE + u64::from(seq), 0);
            self.last_arrival = now;
            self.stats.packets += 1;
            return;
        };
        let arrival =
            i64::try_from(now.saturating_duration_since(origin).as_micros()).unwrap_or(i64::MAX);
        let Some(ext) = extend_seq(max, seq) else {
            self.stats.too_old += 1;
            return;
        };
        if ext > max {
            let grow = ext - max;
            if grow >= self.cap() as u64 {
                // Everything remembered falls out of the window.
                self.stats.dropped += self.unreported as u64;
                self.reset_at(ext, arrival);
            } else {
                self.window
                    .extend(core::iter::repeat_n(None, (grow - 1) as usize));
                self.window.push_back(Some(arrival));
                self.unreported += 1;
                self.trim();
            }
        } else if let Some(slot) = ext
            .checked_sub(self.start)
            .and_then(|i| self.window.get_mut(usize::try_from(i).ok()?))
        {
            if slot.is_some() {
                self.stats.duplicates += 1;
                return;
            }
            *slot = Some(arrival);
            self.report_from = self.report_from.min(ext);
            self.unreported += 1;
        } else {
            self.stats.too_old += 1;
            return;
        }
        self.last_arrival = now;
        self.stats.packets += 1;
    }

    /// Forgets everything and starts the window at `ext`, received at `arrival`.
    fn reset_at(&mut self, ext: u64, arrival: i64) {
        self.window.clear();
        self.window.push_back(Some(arrival));
        self.start = ext;
        self.report_from = ext;
        self.unreported = 1;
    }

    /// Drops the oldest sequence numbers beyond the window's bound.
    fn trim(&mut self) {
        let cap = self.cap();
        while self.window.len() > cap {
            if let Some(Some(_)) = self.window.pop_front()
                && self.start >= self.report_from
            {
                self.unreported = self.unreported.saturating_sub(1);
                self.stats.dropped += 1;
            }
            self.start += 1;
        }
        self.report_from = self.report_from.max(self.start);
    }

    /// When the periodic feedback is due (without the threshold or a pending remainder).
    fn periodic_due(&self) -> Option<Instant> {
        let since = self.last_feedback.or(self.origin)?;
        Some(since + self.config.interval)
    }

    /// Whether a feedback is due at `now`.
    fn due(&self, now: Instant) -> bool {
        self.unreported > 0
            && (self.urgent
                || self.unreported >= self.config.feedback_threshold
                || self.periodic_due().is_some_and(|t| now >= t))
    }

    /// When [`TwccReceiver::poll_feedback`] next has something to write.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.unreported == 0 {
            None
        } else if self.urgent || self.unreported >= self.config.feedback_threshold {
            Some(self.last_arrival)
        } else {
            self.periodic_due()
        }
    }

    /// Writes one feedback packet (RTPFB FMT 15) into `buf` when one is due at `now`, and
    /// returns its length. It covers at most `max_packets_per_feedback` sequence numbers;
    /// when more are left the next is due at once, so call until `None`. A feedback that
    /// does not fit in `buf` is retried with half as many packets, and the packets dropped
    /// if not even one fits.
    pub fn poll_feedback(
        &mut self,
        now: Instant,
        sender_ssrc: u32,
        media_ssrc: u32,
        buf: &mut [u8],
    ) -> Option<usize> {
        if !self.due(now) {
            return None;
        }
        let max = self.max_ext()?;
        let left = (max + 1).saturating_sub(self.report_from);
        let mut n = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(self.config.max_packets_per_feedback.max(1));
        let written = loop {
            if n == 0 {
                self.stats.dropped += self.unreported as u64;
                self.report_from = max + 1;
                self.finish(now);
                return None;
            }
            self.scratch.clear();
            for ext in self.report_from..self.report_from + n as u64 {
                let arrival = ext
                    .checked_sub(self.start)
                    .and_then(|i| self.window.get(usize::try_from(i).ok()?))
                    .copied()
                    .flatten();
                // The wire carries the low 16 bits.
                self.scratch.push((ext as u16, arrival));
            }
            match write_twcc(buf, sender_ssrc, media_ssrc, self.fb_count, &self.scratch) {
                Some(len) => break len,
                // Too big for `buf`, or a delta too large to encode (arrivals over 8 s
                // apart): fewer packets, down to one, always encodable.
                None => n /= 2,
            }
        };
        self.report_from += n as u64;
        self.fb_count = self.fb_count.wrapping_add(1);
        self.stats.feedbacks += 1;
        if self.report_from > max {
            self.finish(now);
        } else {
            self.urgent = true;
            let from = usize::try_from(self.report_from - self.start).unwrap_or(usize::MAX);
            self.unreported = self.window.iter().skip(from).flatten().count();
        }
        Some(written)
    }

    /// Everything is reported.
    fn finish(&mut self, now: Instant) {
        self.unreported = 0;
        self.urgent = false;
        self.last_feedback = Some(now);
    }

    /// Sequence numbers tracked (arrivals not yet reported or still in the window), and
    /// the bound (`max_pending`, at most 32768).
    pub fn tracked(&self) -> (usize, usize) {
        (
            self.window.len(),
            self.config.max_pending.clamp(1, MAX_WINDOW),
        )
    }

    /// The counters so far.
    pub fn stats(&self) -> TwccReceiverStats {
        self.stats
    }
}

/// How a [`TwccSender`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccSenderConfig {
    /// Sent packets remembered to match feedback against. Default 4096, at most 32768.
    pub history: usize,
    /// The first transport-wide sequence number. Default 0.
    pub initial_seq: u16,
}

impl Default for TwccSenderConfig {
    fn default() -> Self {
        TwccSenderConfig {
            history: 4096,
            initial_seq: 0,
        }
    }
}

/// Counters of a [`TwccSender`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TwccStats {
    /// Packets numbered.
    pub packets_sent: u64,
    /// Bytes of those, as given to [`TwccSender::next_seq`].
    pub bytes_sent: u64,
    /// Packets feedback reported received.
    pub packets_acked: u64,
    /// Bytes of those.
    pub bytes_acked: u64,
    /// Packets feedback reported not received (and no later feedback received).
    pub packets_lost: u64,
    /// Feedback packets read.
    pub feedbacks: u64,
    /// Sequence numbers reported on that were not (or no longer) in the history.
    pub unknown: u64,
    /// Bits per second delivered: the bytes newly reported received by the feedbacks of
    /// the last second before the latest one (included), times 8.
    pub delivered_bps: u64,
}

/// What feedback said about a sent packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Fate {
    #[default]
    Unreported,
    Received,
    Lost,
}

/// A sent packet.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    /// Extended sequence number; 0 for an empty slot.
    ext: u64,
    size: usize,
    at: Instant,
    fate: Fate,
}

/// The send side of transport-wide congestion control: numbers the packets (§2) and
/// matches feedback (§3.1) to them.
#[derive(Debug, Clone)]
pub struct TwccSender {
    /// The ring of sent packets, allocated on the first packet numbered (a connection
    /// without transport-cc media never pays for it).
    slots: Vec<Sent>,
    /// How many slots the ring gets.
    capacity: usize,
    next_ext: u64,
    first_ext: u64,
    /// Bytes newly acked per feedback, with the feedback's arrival, for the last second.
    acked: VecDeque<(Instant, u64)>,
    stats: TwccStats,
}

impl Default for TwccSender {
    fn default() -> Self {
        TwccSender::new(TwccSenderConfig::default())
    }
}

impl TwccSender {
    /// A sender that has numbered nothing yet.
    pub fn new(config: TwccSenderConfig) -> Self {
        let first = FIRST_CYCLE + u64::from(config.initial_seq);
        TwccSender {
            slots: Vec::new(),
            capacity: config.history.min(MAX_WINDOW),
            next_ext: first,
            first_ext: first,
            acked: VecDeque::new(),
            stats: TwccStats::default(),
        }
    }

    /// The transport-wide sequence number for a packet of `size` bytes sent at `now`, to
    /// put in its header extension ([`crate::rtp::wire::ext::transport_cc_bytes`]).
    pub fn next_seq(&mut self, now: Instant, size: usize) -> u16 {
        let ext = self.next_ext;
        self.next_ext += 1;
        if self.slots.len() < self.capacity {
            self.slots = vec![Sent::default(); self.capacity];
        }
        let len = self.slots.len() as u64;
        if let Some(slot) = self.slots.get_mut((ext % len.max(1)) as usize) {
            *slot = Sent {
                ext,
                size,
                at: now,
                fate: Fate::Unreported,
            };
        }
        self.stats.packets_sent += 1;
        self.stats.bytes_sent = self.stats.bytes_sent.saturating_add(size as u64);
        // The wire carries the low 16 bits.
        ext as u16
    }

    /// When the packet with sequence number `seq` was sent and its size, if still in the
    /// history.
    pub fn sent(&self, seq: u16) -> Option<(Instant, usize)> {
        let slot = self.slot(seq)?;
        Some((slot.at, slot.size))
    }

    /// The history slot of a sequence number reported on.
    fn slot_index(&self, seq: u16) -> Option<usize> {
        let last = self
            .next_ext
            .checked_sub(1)
            .filter(|l| *l >= self.first_ext)?;
        let back = u64::from((last as u16).wrapping_sub(seq));
        let len = self.slots.len() as u64;
        if back >= len {
            return None;
        }
        let ext = last.checked_sub(back)?;
        let i = (ext % len) as usize;
        self.slots.get(i).filter(|s| s.ext == ext).map(|_| i)
    }

    fn slot(&self, seq: u16) -> Option<&Sent> {
        self.slots.get(self.slot_index(seq)?)
    }

    /// A feedback packet arrived at `now`: marks each packet it reports on as received
    /// or lost (received wins over an earlier "lost"), and updates the counters.
    pub fn on_feedback(&mut self, now: Instant, fb: &TwccFeedback<'_>) {
        self.stats.feedbacks += 1;
        let mut newly = 0u64;
        for (seq, delta) in fb.packets() {
            let Some(slot) = self.slot_index(seq).and_then(|i| self.slots.get_mut(i)) else {
                self.stats.unknown += 1;
                continue;
            };
            match (delta.is_some(), slot.fate) {
                (true, Fate::Received) | (false, Fate::Received | Fate::Lost) => {}
                (true, fate) => {
                    if fate == Fate::Lost {
                        self.stats.packets_lost = self.stats.packets_lost.saturating_sub(1);
                    }
                    slot.fate = Fate::Received;
                    self.stats.packets_acked += 1;
                    newly = newly.saturating_add(slot.size as u64);
                }
                (false, Fate::Unreported) => {
                    slot.fate = Fate::Lost;
                    self.stats.packets_lost += 1;
                }
            }
        }
        self.stats.bytes_acked = self.stats.bytes_acked.saturating_add(newly);
        while self
            .acked
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= RATE_WINDOW)
        {
            self.acked.pop_front();
        }
        if self.acked.len() < RATE_ENTRIES {
            self.acked.push_back((now, newly));
        } else if let Some((_, bytes)) = self.acked.back_mut() {
            // Bounded: a burst of feedback within one second adds to the newest entry.
            *bytes = bytes.saturating_add(newly);
        }
        let bytes: u64 = self.acked.iter().map(|(_, b)| b).sum();
        self.stats.delivered_bps = bytes.saturating_mul(8);
    }

    /// Slots of the send history (fixed at creation) and the feedback history length.
    pub fn tracked(&self) -> (usize, usize) {
        (self.slots.len(), self.acked.len())
    }

    /// The counters so far.
    pub fn stats(&self) -> TwccStats {
        self.stats
    }
}
