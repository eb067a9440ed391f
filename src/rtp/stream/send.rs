//! The send side of one SSRC: sender report counters (RFC 3550 §6.4.1), the packet
//! history that answers generic NACKs (RFC 4585 §6.2.1) with retransmissions, RTX
//! (RFC 4588), and what the remote's report blocks say about the stream.

use std::collections::VecDeque;

use super::{FIRST_CYCLE, extend_seq, micros_to_clock, q16_to_duration};
use crate::rtp::wire::{ReportBlock, RtpHeader, SenderInfo};
use crate::time::{Duration, Instant};

/// Largest history: half the sequence number space, so that a NACKed number can be
/// placed unambiguously before the highest sent.
const MAX_HISTORY: usize = 1 << 15;

/// An RTT above this, from a report block, is taken as a bogus LSR/DLSR and ignored.
const MAX_RTT_Q16: u32 = 60 * 65_536;

/// Packets longer than this are not kept for retransmission: the Ethernet MTU, beyond
/// which a packet sent over UDP would be fragmented, which WebRTC avoids. It bounds the
/// history's memory at `history * MAX_PACKET_LEN` bytes.
const MAX_PACKET_LEN: usize = 1500;

/// Least time between two retransmissions of one packet, used until an RTT is known;
/// then the larger of this and the RTT. Absorbs repeated NACKs of a burst.
const MIN_RESEND_INTERVAL: Duration = Duration::from_millis(10);

/// Retransmission in a separate RTX stream (RFC 4588).
///
/// RTX sequence numbers start at the low 16 bits of the RTX SSRC, which is random, as
/// RFC 3550 §5.1 wants of an initial sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtxConfig {
    /// The RTX SSRC (RFC 4588 §4: SSRC-multiplexed, a=ssrc-group:FID).
    pub ssrc: u32,
    /// `(media payload type, RTX payload type)` pairs, from the SDP's `apt` parameters
    /// (RFC 4588 §8.6). A packet whose payload type is not listed is not retransmitted.
    pub payload_types: Vec<(u8, u8)>,
}

/// How a [`SendStream`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendConfig {
    /// The media SSRC.
    pub ssrc: u32,
    /// The RTP clock rate of the payload format, in Hz (RFC 3550 §5.1).
    pub clock_rate: u32,
    /// RTX, or `None` to retransmit the original packets on the media SSRC.
    pub rtx: Option<RtxConfig>,
    /// Packets kept for retransmission, at most 32768; 0 turns NACK handling off.
    /// [`SendConfig::new`] sets 1024. Packets longer than 1500 bytes are not kept, so the
    /// history holds at most `history * 1500` bytes.
    pub history: usize,
}

impl SendConfig {
    /// A stream on `ssrc` at `clock_rate` Hz, without RTX, with the default history.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        SendConfig {
            ssrc,
            clock_rate,
            rtx: None,
            history: 1024,
        }
    }
}

/// Counters of a [`SendStream`], and what the remote's report blocks say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Packets sent ([`SendStream::on_sent`]).
    pub packets: u64,
    /// Payload bytes of those (RFC 3550 §6.4.1: no header, no padding).
    pub bytes: u64,
    /// Retransmissions written by [`SendStream::poll_resend`].
    pub retransmitted_packets: u64,
    /// Payload bytes of the original packets retransmitted.
    pub retransmitted_bytes: u64,
    /// Generic NACK messages received ([`SendStream::on_nack`] calls).
    pub nacks: u64,
    /// Sequence numbers those NACKs asked for.
    pub nacked: u64,
    /// NACKed sequence numbers not retransmitted: not (or no longer) in the history, or
    /// retransmitted too recently.
    pub nack_ignored: u64,
    /// Picture loss indications received.
    pub plis: u64,
    /// Full intra requests received.
    pub firs: u64,
    /// Round-trip time from the last report block with an LSR (RFC 3550 §6.4.1).
    pub rtt: Option<Duration>,
    /// Fraction lost of the last report block, in 1/256.
    pub remote_fraction_lost: u8,
    /// Cumulative lost of the last report block.
    pub remote_cumulative_lost: i32,
    /// Interarrival jitter of the last report block, in timestamp units.
    pub remote_jitter: u32,
    /// When the last report block arrived.
    pub last_report: Option<Instant>,
}

/// One packet of the history.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// Extended sequence number; 0 for an empty slot (real ones are at least 2^16).
    ext: u64,
    /// The packet as sent.
    data: Vec<u8>,
    /// Its payload length.
    payload_len: usize,
    /// When it was last retransmitted.
    last_resent: Option<Instant>,
    /// Whether it is in the resend queue.
    queued: bool,
}

/// RTX state.
#[derive(Debug, Clone)]
struct Rtx {
    ssrc: u32,
    payload_types: Vec<(u8, u8)>,
    next_seq: u16,
}

/// One outgoing media SSRC, with optional RTX.
///
/// Give it every RTP packet sent on the SSRC ([`SendStream::on_sent`]), before SRTP; it
/// keeps the sender report counters and a copy of each packet in a ring of `history`
/// slots indexed by sequence number. NACKs ([`SendStream::on_nack`]) queue packets still
/// in the ring; [`SendStream::poll_resend`] writes them out, as RTX packets when RTX is
/// configured.
///
/// A packet is not queued again while queued, nor within `max(rtt, 10 ms)` of its last
/// retransmission: a NACK arriving sooner was most likely sent before the receiver could
/// see that retransmission (libwebrtc's packet history waits one RTT too); the 10 ms floor
/// absorbs the repeats of a burst of NACKs while the RTT is unknown.
#[derive(Debug, Clone)]
pub struct SendStream {
    ssrc: u32,
    clock_rate: u32,
    rtx: Option<Rtx>,
    slots: Vec<Slot>,
    /// Highest extended sequence number sent.
    highest: Option<u64>,
    /// Extended sequence numbers to retransmit, oldest request first.
    queue: VecDeque<u64>,
    /// RTP timestamp of the newest packet and when it was sent.
    last_ts: Option<(u32, Instant)>,
    /// Sender report packet and payload octet counts (RFC 3550 §6.4.1, modulo 2^32).
    sr_packets: u32,
    sr_octets: u32,
    stats: SendStats,
}

impl SendStream {
    /// A stream that has sent nothing yet.
    pub fn new(config: SendConfig) -> Self {
        let history = config.history.min(MAX_HISTORY);
        SendStream {
            ssrc: config.ssrc,
            clock_rate: config.clock_rate,
            rtx: config.rtx.map(|r| Rtx {
                // RFC 3550 §5.1: the initial sequence number should be random. The RTX
                // SSRC is, so its low bits serve (no RNG needed here).
                next_seq: r.ssrc as u16,
                ssrc: r.ssrc,
                payload_types: r.payload_types,
            }),
            slots: core::iter::repeat_with(Slot::default)
                .take(history)
                .collect(),
            highest: None,
            queue: VecDeque::new(),
            last_ts: None,
            sr_packets: 0,
            sr_octets: 0,
            stats: SendStats::default(),
        }
    }

    /// The retransmission history: packets held, their bytes, and the slots
    /// (`SendConfig::history`, at most 32768). Cheap: one pass over the slots.
    pub fn history_usage(&self) -> (usize, usize, usize) {
        let (n, bytes) = self
            .slots
            .iter()
            .filter(|s| s.ext != 0)
            .fold((0, 0), |(n, b), s| (n + 1, b + s.data.capacity()));
        (n, bytes, self.slots.len())
    }

    /// The media SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The RTX SSRC, if RTX is configured.
    pub fn rtx_ssrc(&self) -> Option<u32> {
        self.rtx.as_ref().map(|r| r.ssrc)
    }

    /// The slot of extended sequence number `ext`.
    fn slot_mut(&mut self, ext: u64) -> Option<&mut Slot> {
        let len = self.slots.len() as u64;
        if len == 0 {
            return None;
        }
        // The remainder is below `slots.len()`, a `usize`.
        self.slots.get_mut((ext % len) as usize)
    }

    /// The packet `packet` (plain RTP, before SRTP) was sent on this SSRC at `now`.
    /// Sequence numbers are the caller's and may jump. Returns `false`, ignoring it, when
    /// it does not parse as RTP or is for another SSRC.
    pub fn on_sent(&mut self, now: Instant, packet: &[u8]) -> bool {
        let Ok(h) = RtpHeader::parse(packet) else {
            return false;
        };
        if h.ssrc != self.ssrc {
            return false;
        }
        let payload_len = h.payload.len();
        self.stats.packets += 1;
        self.stats.bytes = self.stats.bytes.saturating_add(payload_len as u64);
        // RFC 3550 §6.4.1: counts wrap modulo 2^32; payload octets exclude header and
        // padding.
        self.sr_packets = self.sr_packets.wrapping_add(1);
        self.sr_octets = self.sr_octets.wrapping_add(payload_len as u32);
        let ext = match self.highest {
            None => Some(FIRST_CYCLE + u64::from(h.sequence_number)),
            Some(hi) => extend_seq(hi, h.sequence_number),
        };
        let Some(ext) = ext else {
            return true;
        };
        if self.highest.is_none_or(|hi| ext >= hi) {
            self.highest = Some(ext);
            self.last_ts = Some((h.timestamp, now));
        }
        // Padding-only packets are not worth retransmitting (RFC 4588 §4 wraps payloads).
        if payload_len == 0 || packet.len() > MAX_PACKET_LEN {
            return true;
        }
        if let Some(slot) = self.slot_mut(ext) {
            // Reuse the slot's buffer: no allocation once every slot held a packet.
            slot.ext = ext;
            slot.data.clear();
            slot.data.extend_from_slice(packet);
            slot.payload_len = payload_len;
            slot.last_resent = None;
            // A queued request for the packet this slot held is now stale.
            slot.queued = false;
        }
        true
    }

    /// The interval under which a packet is not retransmitted again.
    /// Three quarters of the RTT: a NACK sent before the receiver could see our last
    /// resend arrives within one RTT of it, but the receiver's own repeat comes about one
    /// RTT after its previous request, and path jitter must not make us refuse that one.
    fn resend_interval(&self) -> Duration {
        match self.stats.rtt {
            Some(rtt) => (rtt * 3 / 4).max(MIN_RESEND_INTERVAL),
            None => MIN_RESEND_INTERVAL,
        }
    }

    /// A generic NACK (RFC 4585 §6.2.1) asked at `now` for the sequence numbers `lost`
    /// (e.g. [`Nack::lost`](crate::rtp::wire::Nack::lost)): queues those still in the
    /// history for [`SendStream::poll_resend`], unless queued already or retransmitted
    /// less than `max(3/4 rtt, 10 ms)` ago.
    pub fn on_nack(&mut self, now: Instant, lost: impl IntoIterator<Item = u16>) {
        self.stats.nacks += 1;
        let interval = self.resend_interval();
        let cap = self.slots.len();
        for seq in lost {
            self.stats.nacked += 1;
            // Only numbers at or before the highest sent can be in the history (whose
            // slot then still holds that very packet: sequences may have gaps).
            let ext = self.highest.and_then(|hi| {
                let back = (hi as u16).wrapping_sub(seq);
                if usize::from(back) >= MAX_HISTORY {
                    None
                } else {
                    hi.checked_sub(u64::from(back))
                }
            });
            let Some(ext) = ext else {
                self.stats.nack_ignored += 1;
                continue;
            };
            let queue = match self.slot_mut(ext) {
                Some(slot)
                    if slot.ext == ext
                        && !slot.queued
                        && slot.last_resent.is_none_or(|t| now >= t + interval) =>
                {
                    slot.queued = true;
                    true
                }
                _ => false,
            };
            if !queue {
                self.stats.nack_ignored += 1;
                continue;
            }
            self.queue.push_back(ext);
            // Each slot is queued at most once, but stale entries (slots reused since)
            // may linger: keep the queue within the history's size.
            if self.queue.len() > cap
                && let Some(old) = self.queue.pop_front()
                && let Some(slot) = self.slot_mut(old)
                && slot.ext == old
            {
                slot.queued = false;
            }
        }
    }

    /// Writes the next retransmission into `buf` and returns its length, `None` when
    /// nothing is queued or it does not fit (that packet is then dropped).
    ///
    /// With RTX it is the RTX packet (RFC 4588 §4): the RTX SSRC, the next RTX sequence
    /// number, the RTX payload type mapped from the original one, the original timestamp,
    /// marker, CSRCs and header extension block, and as payload the original sequence
    /// number (OSN) followed by the original payload; the original padding is left out.
    /// Without RTX it is the original packet, byte for byte.
    pub fn poll_resend(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        while let Some(ext) = self.queue.pop_front() {
            let cap = self.slots.len() as u64;
            let Some(slot) = self.slots.get_mut((ext % cap.max(1)) as usize) else {
                continue;
            };
            if slot.ext != ext || !slot.queued {
                // Stale: the slot holds a newer packet now.
                continue;
            }
            slot.queued = false;
            let written = match &mut self.rtx {
                None => buf.get_mut(..slot.data.len()).map(|out| {
                    out.copy_from_slice(&slot.data);
                    slot.data.len()
                }),
                Some(rtx) => match write_rtx(&slot.data, rtx, buf) {
                    Rewrap::Written(n) => Some(n),
                    Rewrap::TooSmall => None,
                    // Not retransmittable: go on with the next.
                    Rewrap::NoPayloadType => continue,
                },
            };
            let n = written?;
            slot.last_resent = Some(now);
            let payload_len = slot.payload_len;
            self.stats.retransmitted_packets += 1;
            self.stats.retransmitted_bytes = self
                .stats
                .retransmitted_bytes
                .saturating_add(payload_len as u64);
            if self.rtx.is_none() {
                // Sent again on the media SSRC: it counts in its sender report.
                self.sr_packets = self.sr_packets.wrapping_add(1);
                self.sr_octets = self.sr_octets.wrapping_add(payload_len as u32);
            }
            return Some(n);
        }
        None
    }

    /// Packets queued for retransmission.
    pub fn resend_pending(&self) -> usize {
        self.queue.len()
    }

    /// The sender info of a sender report sent at `now` with NTP time `ntp_time` (RFC
    /// 3550 §6.4.1), `None` before the first packet. The RTP time is the newest packet's
    /// timestamp advanced by the time since it was sent, at the clock rate, so that it
    /// corresponds to `ntp_time`.
    pub fn sender_info(&self, now: Instant, ntp_time: u64) -> Option<SenderInfo> {
        let (ts, at) = self.last_ts?;
        let elapsed = now.saturating_duration_since(at).as_micros();
        Some(SenderInfo {
            ntp_time,
            rtp_time: ts.wrapping_add(micros_to_clock(elapsed, self.clock_rate)),
            packet_count: self.sr_packets,
            octet_count: self.sr_octets,
        })
    }

    /// A report block about this SSRC arrived at `now`, when the middle 32 bits of the
    /// NTP time were `ntp_mid32_now`. Records the remote's loss and jitter, and the RTT:
    /// `now - LSR - DLSR` in 1/65536 s (RFC 3550 §6.4.1), unless LSR is 0 (no SR
    /// received yet) or the result is negative or above 60 s. Blocks about another SSRC
    /// are ignored.
    pub fn on_report_block(&mut self, now: Instant, ntp_mid32_now: u32, rb: &ReportBlock) {
        if rb.ssrc != self.ssrc {
            return;
        }
        self.stats.remote_fraction_lost = rb.fraction_lost;
        self.stats.remote_cumulative_lost = rb.cumulative_lost;
        self.stats.remote_jitter = rb.jitter;
        self.stats.last_report = Some(now);
        if rb.last_sr == 0 {
            return;
        }
        let rtt = ntp_mid32_now
            .wrapping_sub(rb.last_sr)
            .wrapping_sub(rb.delay_since_last_sr);
        if rtt <= MAX_RTT_Q16 {
            self.stats.rtt = Some(q16_to_duration(rtt));
        }
    }

    /// Sets the round-trip time measured elsewhere (it spaces retransmissions of one
    /// packet, and is reported in [`SendStats::rtt`]).
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.stats.rtt = Some(rtt);
    }

    /// A picture loss indication (RFC 4585 §6.3.1) arrived.
    pub fn on_pli(&mut self) {
        self.stats.plis += 1;
    }

    /// A full intra request (RFC 5104 §4.3.1) arrived. (Telling a repeat from a new
    /// request by its sequence number, §4.3.1.2, is the caller's: it has the FIR entry.)
    pub fn on_fir(&mut self) {
        self.stats.firs += 1;
    }

    /// The counters so far.
    pub fn stats(&self) -> SendStats {
        self.stats
    }
}

/// What [`write_rtx`] did.
enum Rewrap {
    Written(usize),
    TooSmall,
    NoPayloadType,
}

/// Writes `packet` as an RTX packet into `buf` (RFC 4588 §4), advancing the RTX sequence
/// number when it fits.
///
/// The header is copied (so the extension block stays exactly as sent, whatever its
/// profile) with the RTP fields the RTX stream changes rewritten in place (RFC 3550
/// §5.1): the P bit cleared, the payload type (marker kept), sequence number and SSRC.
fn write_rtx(packet: &[u8], rtx: &mut Rtx, buf: &mut [u8]) -> Rewrap {
    let Ok(h) = RtpHeader::parse(packet) else {
        return Rewrap::NoPayloadType;
    };
    let Some(&(_, rtx_pt)) = rtx
        .payload_types
        .iter()
        .find(|(pt, _)| *pt == h.payload_type)
    else {
        return Rewrap::NoPayloadType;
    };
    let Some(header) = packet.get(..h.header_len()) else {
        return Rewrap::NoPayloadType;
    };
    let total = header.len() + 2 + h.payload.len();
    let Some(out) = buf.get_mut(..total) else {
        return Rewrap::TooSmall;
    };
    let Some((out_header, out_body)) = out.split_at_mut_checked(header.len()) else {
        return Rewrap::TooSmall;
    };
    out_header.copy_from_slice(header);
    let Some((osn, payload)) = out_body.split_at_mut_checked(2) else {
        return Rewrap::TooSmall;
    };
    osn.copy_from_slice(&h.sequence_number.to_be_bytes());
    payload.copy_from_slice(h.payload);
    if let Some(b0) = out_header.get_mut(0) {
        *b0 &= !0x20;
    }
    if let Some(b1) = out_header.get_mut(1) {
        *b1 = (*b1 & 0x80) | (rtx_pt & 0x7f);
    }
    if let Some(s) = out_header.get_mut(2..4) {
        s.copy_from_slice(&rtx.next_seq.to_be_bytes());
    }
    if let Some(s) = out_header.get_mut(8..12) {
        s.copy_from_slice(&rtx.ssrc.to_be_bytes());
    }
    rtx.next_seq = rtx.next_seq.wrapping_add(1);
    Rewrap::Written(total)
}
