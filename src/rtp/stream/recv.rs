//! The receive side of one SSRC: sequence numbers (RFC 3550 A.1), loss (A.3), jitter
//! (A.8), the reception report block (§6.4.1) and NACKs (RFC 4585 §6.2.1).

use super::nack::{NackConfig, NackTracker};
use super::{FIRST_CYCLE, SEQ_MOD, clock_to_duration, duration_to_q16, micros_to_clock};
use crate::rtp::wire::{ReportBlock, SenderInfo};
use crate::time::{Duration, Instant};

/// A forward jump of this many sequence numbers or more is not taken as loss but as a
/// possible restart of the sequence (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u16 = 3000;

/// A packet at most this far behind the highest sequence number is a late (reordered or
/// retransmitted) packet; further back it is a possible restart. RFC 3550 A.1 suggests
/// 100; retransmissions of NACKed packets arrive an RTT late, which at video rates is
/// hundreds of packets, so this is larger (libwebrtc uses 450).
const MAX_MISORDER: u16 = 1000;

/// Sequence numbers below the highest whose reception is remembered, to tell duplicates.
/// Covers every late packet accepted (`MAX_MISORDER`).
const DUP_WINDOW_WORDS: usize = 16;
const DUP_WINDOW: u64 = 64 * DUP_WINDOW_WORDS as u64;

/// How a [`RecvStream`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvConfig {
    /// The media source's SSRC, used in the report block.
    pub ssrc: u32,
    /// The RTP clock rate of its payload format, in Hz (RFC 3550 §5.1), for jitter.
    pub clock_rate: u32,
    /// Whether and how to NACK missing packets; `None` for no NACK.
    pub nack: Option<NackConfig>,
}

/// Counters of a [`RecvStream`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvStats {
    /// Packets accepted (duplicates and unconfirmed jumps not counted).
    pub packets: u64,
    /// Payload bytes of the packets accepted.
    pub bytes: u64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Packets dropped as a sequence jump not (yet) confirmed by the next packet.
    pub jumps: u64,
    /// Sequence restarts: confirmed jumps (RFC 3550 A.1), after which loss counts afresh.
    pub restarts: u64,
    /// Packets expected since the (re)start of the sequence: highest extended sequence
    /// number minus the first, plus one (RFC 3550 A.3).
    pub expected: u64,
    /// Packets lost since the (re)start of the sequence: expected minus received
    /// (RFC 3550 A.3).
    pub cumulative_lost: i64,
    /// The fraction lost of the last report block, in 1/256 (RFC 3550 §6.4.1).
    pub fraction_lost: u8,
    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    pub jitter: u32,
    /// Interarrival jitter as a duration.
    pub jitter_delay: Duration,
    /// Sequence numbers requested by NACK, repeats included.
    pub nacks_sent: u64,
    /// Packets that arrived after being requested.
    pub recovered: u64,
    /// Missing packets given up (too old or out of retries).
    pub nack_given_up: u64,
    /// Times the missing list overflowed and was cleared for a key frame.
    pub nack_overflows: u64,
    /// Packets currently missing.
    pub missing: usize,
    /// When the last sender report arrived.
    pub last_sr: Option<Instant>,
}

/// The sequence state (RFC 3550 A.1 `source`), once a packet arrived.
#[derive(Debug, Clone, Copy)]
struct Seq {
    /// Highest sequence number seen.
    max_seq: u16,
    /// `FIRST_CYCLE` plus the count of wraps, times 2^16: the extended number of
    /// `max_seq` is `cycles + max_seq`.
    cycles: u64,
    /// Extended number of the first packet of the sequence (or of an earlier one that
    /// arrived late).
    base: u64,
    /// The sequence number that would confirm a jump (A.1 `bad_seq`).
    bad_seq: Option<u16>,
    /// Packets received since the (re)start (A.1 `received`).
    received: u64,
    /// A.3 `expected_prior` and `received_prior`.
    expected_prior: u64,
    received_prior: u64,
    /// Relative transit time of the last in-order packet (A.8 `transit`).
    transit: u32,
    /// Jitter times 16 (A.8 `jitter`, kept scaled as in the RFC's integer form).
    jitter_q4: u64,
}

impl Seq {
    fn max_ext(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// A.3: packets expected since the (re)start.
    fn expected(&self) -> u64 {
        (self.max_ext() + 1).saturating_sub(self.base)
    }
}

/// Bit `i` set: the packet `i` below the highest arrived.
#[derive(Debug, Clone, Default)]
struct DupWindow([u64; DUP_WINDOW_WORDS]);

impl DupWindow {
    fn get(&self, back: u64) -> bool {
        let word = (back / 64) as usize;
        back < DUP_WINDOW
            && self
                .0
                .get(word)
                .is_some_and(|w| w & (1 << (back % 64)) != 0)
    }

    fn set(&mut self, back: u64) {
        if back < DUP_WINDOW
            && let Some(w) = self.0.get_mut((back / 64) as usize)
        {
            *w |= 1 << (back % 64);
        }
    }

    /// The highest moves up by `n`: bit `i` becomes bit `i + n`.
    fn advance(&mut self, n: u64) {
        if n >= DUP_WINDOW {
            self.0 = [0; DUP_WINDOW_WORDS];
            return;
        }
        let (words, bits) = ((n / 64) as usize, (n % 64) as u32);
        for i in (0..DUP_WINDOW_WORDS).rev() {
            let word = |j: Option<usize>| j.and_then(|j| self.0.get(j)).copied().unwrap_or(0);
            let hi = word(i.checked_sub(words));
            let lo = word(i.checked_sub(words + 1));
            let v = if bits == 0 {
                hi
            } else {
                (hi << bits) | (lo >> (64 - bits))
            };
            if let Some(w) = self.0.get_mut(i) {
                *w = v;
            }
        }
    }
}

/// One incoming media SSRC.
///
/// Feed it every packet of the SSRC with [`RecvStream::on_packet`] (after SRTP, RTX
/// unwrapped: a retransmission comes with its original sequence number) and every sender
/// report with [`RecvStream::on_sender_report`]; take a [`ReportBlock`] for each RTCP
/// report and the sequence numbers to NACK from [`RecvStream::poll_nack`] when
/// [`RecvStream::poll_timeout`] says so.
///
/// Sequence numbers follow RFC 3550 A.1, except that the first packet is trusted at once
/// (no probation: the SSRC was signalled). A jump of `MAX_DROPOUT` (3000) or more ahead,
/// or more than `MAX_MISORDER` (1000) behind, is a restart only when the next packet
/// follows it (A.1 `bad_seq`); until then the jumped packet is dropped (`None`). On a
/// restart the counts start afresh (A.1 `init_seq`) but extended sequence numbers keep
/// increasing, so callers can keep ordering by them.
#[derive(Debug, Clone)]
pub struct RecvStream {
    config: RecvConfig,
    seq: Option<Seq>,
    dups: DupWindow,
    nack: Option<NackTracker>,
    keyframe_needed: bool,
    /// Middle 32 bits of the last SR's NTP time (LSR) and when it arrived.
    last_sr: Option<(u32, Instant)>,
    stats: RecvStats,
}

impl RecvStream {
    /// A stream that has received nothing yet.
    pub fn new(config: RecvConfig) -> Self {
        RecvStream {
            config,
            seq: None,
            dups: DupWindow::default(),
            nack: config.nack.map(NackTracker::new),
            keyframe_needed: false,
            last_sr: None,
            stats: RecvStats::default(),
        }
    }

    /// Packets tracked as missing for NACK (at most `NackConfig::max_missing`), and
    /// that bound (0 without NACK).
    pub fn nack_usage(&self) -> (usize, usize) {
        self.nack.as_ref().map_or((0, 0), |n| {
            (n.len(), self.config.nack.map_or(0, |c| c.max_missing))
        })
    }

    /// The media source's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.config.ssrc
    }

    /// Sets the round-trip time (from the sender's reports, or measured elsewhere): NACKs
    /// for one packet are then at least an RTT apart.
    pub fn set_rtt(&mut self, rtt: Duration) {
        if let Some(n) = &mut self.nack {
            n.set_rtt(rtt);
        }
    }

    /// Whether a key frame should be requested (PLI or FIR): set when too many packets went
    /// missing to NACK them. Cleared by [`RecvStream::clear_keyframe_needed`].
    pub fn keyframe_needed(&self) -> bool {
        self.keyframe_needed
    }

    /// Clears [`RecvStream::keyframe_needed`], once the request is sent.
    pub fn clear_keyframe_needed(&mut self) {
        self.keyframe_needed = false;
    }

    /// The arrival of `now` in timestamp units (A.8 "arrival").
    fn arrival(&self, now: Instant) -> u32 {
        micros_to_clock(u128::from(now.as_micros()), self.config.clock_rate)
    }

    /// A packet arrived at `now` with sequence number `seq`, RTP timestamp `rtp_ts` and
    /// `payload_len` bytes of payload. Returns its extended sequence number, or `None` when
    /// it is a duplicate or an unconfirmed jump and should be dropped.
    ///
    /// Extended numbers start at 2^16 plus the first sequence number (so that a packet
    /// reordered before the first one still gets a smaller number) and grow by one per
    /// sequence number.
    pub fn on_packet(
        &mut self,
        now: Instant,
        seq: u16,
        rtp_ts: u32,
        payload_len: usize,
    ) -> Option<u64> {
        let arrival = self.arrival(now);
        let Some(s) = &mut self.seq else {
            self.restart(now, FIRST_CYCLE + u64::from(seq), seq, rtp_ts, payload_len);
            return self.seq.map(|s| s.max_ext());
        };
        let max_ext = s.max_ext();
        let udelta = seq.wrapping_sub(s.max_seq);
        if udelta == 0 {
            self.stats.duplicates += 1;
            return None;
        }
        if udelta < MAX_DROPOUT {
            // In order, with a permissible gap (A.1).
            let ext = max_ext + u64::from(udelta);
            if seq < s.max_seq {
                s.cycles += SEQ_MOD;
            }
            s.max_seq = seq;
            s.received += 1;
            // A.8: J += (|D| - J) / 16, on the integer form J*16 += |D| - (J*16 + 8) / 16.
            let transit = arrival.wrapping_sub(rtp_ts);
            let d = u64::from(transit.wrapping_sub(s.transit).cast_signed().unsigned_abs());
            s.transit = transit;
            s.jitter_q4 = s.jitter_q4.saturating_sub((s.jitter_q4 + 8) >> 4) + d;
            self.dups.advance(u64::from(udelta));
            self.dups.set(0);
            self.count(payload_len);
            if let Some(n) = &mut self.nack
                && !n.add_gap(now, max_ext + 1, ext)
            {
                self.keyframe_needed = true;
                self.stats.nack_overflows += 1;
            }
            return Some(ext);
        }
        if udelta <= u16::MAX - MAX_MISORDER + 1 {
            // A very large jump (A.1): a restart if the packet after the last jump
            // follows it, else remember what would confirm this one.
            if s.bad_seq == Some(seq) {
                let ext = max_ext + u64::from(udelta);
                self.restart(now, ext, seq, rtp_ts, payload_len);
                self.stats.restarts += 1;
                return Some(ext);
            }
            s.bad_seq = Some(seq.wrapping_add(1));
            self.stats.jumps += 1;
            return None;
        }
        // Late: reordered or retransmitted, `back` behind the highest.
        let back = u64::from(s.max_seq.wrapping_sub(seq));
        if self.dups.get(back) {
            self.stats.duplicates += 1;
            return None;
        }
        let ext = max_ext.checked_sub(back)?;
        self.dups.set(back);
        s.received += 1;
        // A packet from before the first one widens what was expected (A.3), so that
        // `received` never exceeds `expected`, and the numbers between it and the first
        // are now known to be missing.
        let base = s.base;
        s.base = s.base.min(ext);
        if ext < base
            && let Some(n) = &mut self.nack
        {
            n.add_gap_before(now, ext + 1, base);
        }
        self.count(payload_len);
        if let Some(n) = &mut self.nack
            && n.on_received(ext)
        {
            self.stats.recovered += 1;
        }
        Some(ext)
    }

    /// Counts an accepted packet.
    fn count(&mut self, payload_len: usize) {
        self.stats.packets += 1;
        self.stats.bytes = self.stats.bytes.saturating_add(payload_len as u64);
    }

    /// Starts (or restarts) the sequence at `seq`, extended `ext` (A.1 `init_seq`).
    fn restart(&mut self, now: Instant, ext: u64, seq: u16, rtp_ts: u32, payload_len: usize) {
        let jitter_q4 = self.seq.map_or(0, |s| s.jitter_q4);
        self.seq = Some(Seq {
            max_seq: seq,
            cycles: ext - u64::from(seq),
            base: ext,
            bad_seq: None,
            received: 1,
            expected_prior: 0,
            received_prior: 0,
            transit: self.arrival(now).wrapping_sub(rtp_ts),
            jitter_q4,
        });
        self.dups = DupWindow::default();
        self.dups.set(0);
        if let Some(n) = &mut self.nack {
            n.clear();
        }
        self.count(payload_len);
    }

    /// A sender report about this SSRC arrived at `now`: remembers its NTP time for the
    /// next report block's LSR and DLSR (RFC 3550 §6.4.1).
    pub fn on_sender_report(&mut self, now: Instant, info: &SenderInfo) {
        // LSR: "the middle 32 bits out of 64 in the NTP timestamp".
        let lsr = ((info.ntp_time >> 16) & 0xffff_ffff) as u32;
        self.last_sr = Some((lsr, now));
        self.stats.last_sr = Some(now);
    }

    /// The report block about this source for a report sent at `now` (RFC 3550 §6.4.1),
    /// `None` before the first packet. Its fraction lost covers the time since the
    /// previous call (A.3), so call it once per report sent.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let s = self.seq.as_mut()?;
        let expected = s.expected();
        let lost = i64::try_from(expected).unwrap_or(i64::MAX)
            - i64::try_from(s.received).unwrap_or(i64::MAX);
        // A.3: the fraction of the packets expected in the interval that were lost.
        let expected_interval = expected.saturating_sub(s.expected_prior);
        s.expected_prior = expected;
        let received_interval = s.received.saturating_sub(s.received_prior);
        s.received_prior = s.received;
        let fraction_lost = match expected_interval.checked_sub(received_interval) {
            Some(lost_interval) if lost_interval > 0 => {
                u8::try_from((lost_interval << 8) / expected_interval).unwrap_or(u8::MAX)
            }
            _ => 0,
        };
        let jitter = u32::try_from(s.jitter_q4 >> 4).unwrap_or(u32::MAX);
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (lsr, duration_to_q16(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        self.stats.fraction_lost = fraction_lost;
        Some(ReportBlock {
            ssrc: self.config.ssrc,
            fraction_lost,
            // 24-bit signed field.
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            // The cycle count from 0 in the high 16 bits (the low 32 bits of the
            // extended number, minus the cycle we start in).
            extended_highest_seq: ((s.max_ext() - FIRST_CYCLE) & 0xffff_ffff) as u32,
            jitter,
            last_sr,
            delay_since_last_sr,
        })
    }

    /// Appends to `out` the sequence numbers to NACK now (in increasing order), counting
    /// each as one more request of that packet; gives up those missing for longer than
    /// `max_age` or requested `max_retries` times. Nothing without NACK configured.
    pub fn poll_nack(&mut self, now: Instant, out: &mut Vec<u16>) {
        if let Some(n) = &mut self.nack {
            let polled = n.poll(now, out);
            self.stats.nacks_sent += polled.requested;
            self.stats.nack_given_up += polled.given_up;
        }
    }

    /// When [`RecvStream::poll_nack`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.nack.as_ref().and_then(|n| n.next_due())
    }

    /// The counters so far.
    pub fn stats(&self) -> RecvStats {
        let mut stats = self.stats;
        if let Some(s) = &self.seq {
            stats.expected = s.expected();
            stats.cumulative_lost = i64::try_from(s.expected()).unwrap_or(i64::MAX)
                - i64::try_from(s.received).unwrap_or(i64::MAX);
            stats.jitter = u32::try_from(s.jitter_q4 >> 4).unwrap_or(u32::MAX);
            stats.jitter_delay = clock_to_duration(stats.jitter, self.config.clock_rate);
        }
        stats.missing = self.nack.as_ref().map_or(0, |n| n.len());
        stats
    }
}
