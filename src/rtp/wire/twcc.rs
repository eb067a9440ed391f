//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01 §3.1): RTPFB, FMT 15.
//!
//! After the feedback header come the base sequence number, the packet status count, a
//! 24-bit signed reference time in multiples of 64 ms and a feedback packet count; then
//! packet chunks (16 bits each) giving a status symbol per packet, and a receive delta for
//! every received packet, in multiples of 250 µs: one unsigned byte for a "small" delta,
//! two signed bytes for a "large" (or negative) one (§3.1.5).

use super::feedback::FB_HEADER_LEN;
use super::rtcp::{packet_type, write_packet};
use super::{WireError, Writer, be16, be24, be32, byte, sign_extend24};

/// FMT of transport-wide feedback.
const FMT_TWCC: usize = 15;

/// Bytes of the fixed part of the FCI: base sequence number, packet status count,
/// reference time, feedback packet count.
const FCI_FIXED_LEN: usize = 8;

/// Microseconds per unit of the reference time (§3.1: "multiples of 64ms").
const REFERENCE_TIME_UNIT_US: i64 = 64_000;

/// Microseconds per unit of a receive delta (§3.1.5: "multiples of 250us").
const DELTA_UNIT_US: i64 = 250;

/// Largest run a run-length chunk holds (13 bits, §3.1.3).
const MAX_RUN: usize = 0x1fff;

/// Symbols in a status vector chunk of 1-bit symbols (§3.1.4).
const ONE_BIT_SYMBOLS: usize = 14;

/// Symbols in a status vector chunk of 2-bit symbols (§3.1.4).
const TWO_BIT_SYMBOLS: usize = 7;

/// Packet status symbols (§3.1.1).
const NOT_RECEIVED: u8 = 0;
const SMALL_DELTA: u8 = 1;
const LARGE_DELTA: u8 = 2;

/// A transport-wide congestion control feedback message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccFeedback<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source (senders put one of their media SSRCs or 0).
    pub media_ssrc: u32,
    /// Transport-wide sequence number of the first packet reported on.
    pub base_seq: u16,
    /// Number of packets reported on, from `base_seq` on.
    pub status_count: u16,
    /// Reference time: 24-bit signed, in multiples of 64 ms, in the receiver's time base.
    pub reference_time: i32,
    /// Feedback packet count: a sequence number of feedback messages.
    pub fb_pkt_count: u8,
    /// The packet chunks, 2 bytes each.
    chunks: &'a [u8],
    /// The receive deltas the chunks announce.
    deltas: &'a [u8],
}

/// A packet chunk being read (§3.1.3, §3.1.4).
#[derive(Debug, Clone, Copy, Default)]
struct ChunkReader {
    /// Symbols not read yet.
    left: usize,
    /// Bits per symbol: 0 for a run-length chunk, 1 or 2 for a status vector.
    width: u32,
    /// The run's symbol, or the vector's symbols not read yet, left-aligned.
    bits: u16,
}

impl ChunkReader {
    #[inline]
    fn new(chunk: u16) -> Self {
        if chunk & 0x8000 == 0 {
            // Run length: T=0, the symbol in 2 bits, the run in 13.
            ChunkReader {
                left: usize::from(chunk & 0x1fff),
                width: 0,
                bits: (chunk >> 13) & 0x3,
            }
        } else if chunk & 0x4000 == 0 {
            // Status vector, S=0: 14 symbols of 1 bit.
            ChunkReader {
                left: ONE_BIT_SYMBOLS,
                width: 1,
                bits: chunk << 2,
            }
        } else {
            // Status vector, S=1: 7 symbols of 2 bits.
            ChunkReader {
                left: TWO_BIT_SYMBOLS,
                width: 2,
                bits: chunk << 2,
            }
        }
    }

    /// The next symbol.
    #[inline]
    fn take(&mut self) -> u8 {
        self.left = self.left.saturating_sub(1);
        let s = if self.width == 0 {
            self.bits
        } else {
            let s = self.bits >> (16 - self.width);
            self.bits <<= self.width;
            s
        };
        // At most 2 bits: the truncation is exact.
        s as u8
    }
}

impl<'a> TwccFeedback<'a> {
    /// Parses the body of an RTPFB FMT 15 packet, checking that the chunks cover the
    /// status count, that no reported packet has the reserved symbol, and that the deltas
    /// are all there. Bytes after the deltas (zero padding) are ignored.
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let (head, rest) = body
            .split_at_checked(FB_HEADER_LEN + FCI_FIXED_LEN)
            .ok_or(WireError::TooShort)?;
        let status_count = be16(head, 10);
        let mut left = usize::from(status_count);
        let mut pos = 0usize;
        let mut delta_bytes = 0usize;
        while left > 0 {
            let chunk = rest.get(pos..pos + 2).ok_or(WireError::TooShort)?;
            pos += 2;
            let mut reader = ChunkReader::new(be16(chunk, 0));
            let used = reader.left.min(left);
            left -= used;
            if reader.width == 0 {
                let s = reader.take();
                if used > 0 && s > LARGE_DELTA {
                    return Err(WireError::Malformed);
                }
                delta_bytes += usize::from(s) * used;
            } else {
                for _ in 0..used {
                    let s = reader.take();
                    if s > LARGE_DELTA {
                        return Err(WireError::Malformed);
                    }
                    delta_bytes += usize::from(s);
                }
            }
        }
        let chunks = rest.get(..pos).unwrap_or_default();
        let deltas = rest
            .get(pos..pos + delta_bytes)
            .ok_or(WireError::TooShort)?;
        Ok(TwccFeedback {
            sender_ssrc: be32(head, 0),
            media_ssrc: be32(head, 4),
            base_seq: be16(head, 8),
            status_count,
            reference_time: sign_extend24(be24(head, 12)),
            fb_pkt_count: byte(head, 15),
            chunks,
            deltas,
        })
    }

    /// The reference time in microseconds.
    pub fn reference_time_us(&self) -> i64 {
        i64::from(self.reference_time) * REFERENCE_TIME_UNIT_US
    }

    /// Every packet reported on, as (sequence number, receive delta in µs): `None` for a
    /// packet not received; the delta is from the previous received packet, or from the
    /// reference time for the first.
    pub fn packets(&self) -> TwccPackets<'a> {
        TwccPackets {
            chunks: self.chunks,
            deltas: self.deltas,
            seq: self.base_seq,
            left: self.status_count,
            chunk: ChunkReader::default(),
        }
    }

    /// Every packet reported on, as (sequence number, arrival time in µs in the
    /// receiver's time base): the reference time plus the deltas so far.
    pub fn arrivals(&self) -> TwccArrivals<'a> {
        TwccArrivals {
            packets: self.packets(),
            time: self.reference_time_us(),
        }
    }
}

/// Iterator over the packets of a transport-wide feedback: (sequence number, delta in µs).
#[derive(Debug, Clone)]
pub struct TwccPackets<'a> {
    chunks: &'a [u8],
    deltas: &'a [u8],
    seq: u16,
    left: u16,
    /// The chunk being read.
    chunk: ChunkReader,
}

impl Iterator for TwccPackets<'_> {
    type Item = (u16, Option<i64>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        while self.chunk.left == 0 {
            let (c, rest) = self.chunks.split_at_checked(2)?;
            self.chunks = rest;
            self.chunk = ChunkReader::new(be16(c, 0));
        }
        let symbol = self.chunk.take();
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let delta = match symbol {
            NOT_RECEIVED => None,
            SMALL_DELTA => {
                let (&d, rest) = self.deltas.split_first()?;
                self.deltas = rest;
                Some(i64::from(d))
            }
            LARGE_DELTA => {
                let (d, rest) = self.deltas.split_at_checked(2)?;
                self.deltas = rest;
                Some(i64::from(be16(d, 0).cast_signed()))
            }
            // The reserved symbol was refused by the parser.
            _ => return None,
        };
        Some((seq, delta.map(|d| d * DELTA_UNIT_US)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// Iterator over the packets of a transport-wide feedback: (sequence number, arrival time
/// in µs).
#[derive(Debug, Clone)]
pub struct TwccArrivals<'a> {
    packets: TwccPackets<'a>,
    time: i64,
}

impl Iterator for TwccArrivals<'_> {
    type Item = (u16, Option<i64>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (seq, delta) = self.packets.next()?;
        Some((
            seq,
            delta.map(|d| {
                self.time += d;
                self.time
            }),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.packets.size_hint()
    }
}

/// The status of one packet as the writer encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    NotReceived,
    Small(u8),
    Large(i16),
    /// A delta beyond ±8 s: cannot be encoded.
    Unencodable,
}

impl Status {
    fn symbol(self) -> u8 {
        match self {
            Status::NotReceived => NOT_RECEIVED,
            Status::Small(_) => SMALL_DELTA,
            Status::Large(_) => LARGE_DELTA,
            Status::Unencodable => 3,
        }
    }
}

/// The status of every sequence number from the first listed packet to the last, with
/// the deltas quantized as a receiver reports them.
#[derive(Debug, Clone)]
struct Statuses<'p> {
    packets: &'p [(u16, Option<i64>)],
    seq: u16,
    left: usize,
    /// Arrival of the previous received packet, in 250 µs ticks.
    prev_ticks: i64,
}

impl Iterator for Statuses<'_> {
    type Item = Status;

    fn next(&mut self) -> Option<Status> {
        self.left = self.left.checked_sub(1)?;
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let Some((&(s, arrival), rest)) = self.packets.split_first() else {
            return Some(Status::NotReceived);
        };
        if s != seq {
            return Some(Status::NotReceived);
        }
        self.packets = rest;
        let Some(arrival) = arrival else {
            return Some(Status::NotReceived);
        };
        // Deltas are whole ticks between tick-quantized arrivals, so rounding errors do
        // not add up over a feedback (as libwebrtc does).
        let ticks = arrival.div_euclid(DELTA_UNIT_US);
        let delta = ticks.checked_sub(self.prev_ticks);
        self.prev_ticks = ticks;
        Some(match delta {
            Some(d) => match (u8::try_from(d), i16::try_from(d)) {
                (Ok(d), _) => Status::Small(d),
                (_, Ok(d)) => Status::Large(d),
                _ => Status::Unencodable,
            },
            None => Status::Unencodable,
        })
    }
}

/// Writes a transport-wide congestion control feedback (draft-holmer-rmcat-transport-
/// wide-cc-extensions-01 §3.1) about `packets`: (transport-wide sequence number, arrival
/// time in µs, `None` if not received), in increasing sequence order (modulo 2^16).
/// Sequence numbers missing from the list between its first and last are reported as not
/// received.
///
/// The base sequence number is the first listed; the reference time is the first arrival
/// rounded down to 64 ms (wrapped to 24 bits); arrivals are quantized down to 250 µs.
/// Parsing with [`TwccFeedback::arrivals`] then gives back every arrival rounded down to
/// 250 µs, when the first arrival's multiple of 64 ms fits in 24 signed bits (within
/// ±6.2 days of the time origin). Chunks are run-length where a run is long, status
/// vectors elsewhere; the packet is completed with RTCP padding (P bit), as libwebrtc does.
///
/// `None` if it does not fit, `packets` is empty, sequence numbers do not increase by
/// 1..=32767 from one to the next, they span more than 65535, or two successive received
/// packets arrive more than 8.19 s apart (a delta needs more than 16 bits).
pub fn write_twcc(
    buf: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    fb_pkt_count: u8,
    packets: &[(u16, Option<i64>)],
) -> Option<usize> {
    let (&(base_seq, _), _) = packets.split_first()?;
    let mut span = 1usize;
    for pair in packets.windows(2) {
        if let [(a, _), (b, _)] = pair {
            let step = b.wrapping_sub(*a);
            if step == 0 || step > 0x7fff {
                return None;
            }
            span += usize::from(step);
        }
    }
    let status_count = u16::try_from(span).ok()?;
    let reference = packets
        .iter()
        .find_map(|(_, a)| *a)
        .map_or(0, |a| a.div_euclid(REFERENCE_TIME_UNIT_US));
    let statuses = Statuses {
        packets,
        seq: base_seq,
        left: span,
        prev_ticks: reference.checked_mul(REFERENCE_TIME_UNIT_US / DELTA_UNIT_US)?,
    };
    write_packet(buf, FMT_TWCC, packet_type::RTPFB, true, |w| {
        w.u32(sender_ssrc)?;
        w.u32(media_ssrc)?;
        w.u16(base_seq)?;
        w.u16(status_count)?;
        // 24-bit two's complement: the low three bytes (wrapping, like libwebrtc).
        w.u24(reference as u32)?;
        w.u8(fb_pkt_count)?;
        write_chunks(w, statuses.clone())?;
        for status in statuses {
            match status {
                Status::NotReceived => {}
                Status::Small(d) => w.u8(d)?,
                Status::Large(d) => w.u16(d.cast_unsigned())?,
                Status::Unencodable => return None,
            }
        }
        Some(())
    })
}

/// Writes the packet chunks for `statuses` (§3.1.3, §3.1.4): a run-length chunk for a run
/// of 14 or more equal symbols (or 7 or more where a 1-bit vector cannot be used), a
/// 1-bit status vector when the next 14 packets have no large delta, a 2-bit one
/// otherwise. A vector past the last packet is filled with "not received".
fn write_chunks(w: &mut Writer<'_>, mut statuses: Statuses<'_>) -> Option<()> {
    while let Some(first) = statuses.clone().next() {
        let symbol = first.symbol();
        if symbol > LARGE_DELTA {
            return None;
        }
        let run = statuses
            .clone()
            .take(MAX_RUN)
            .take_while(|s| s.symbol() == symbol)
            .count();
        let one_bit = statuses
            .clone()
            .take(ONE_BIT_SYMBOLS)
            .all(|s| s.symbol() <= SMALL_DELTA);
        if run >= ONE_BIT_SYMBOLS || (run >= TWO_BIT_SYMBOLS && !one_bit) {
            // The run is at most 13 bits: the truncation is exact.
            w.u16((u16::from(symbol) << 13) | run as u16)?;
            statuses.by_ref().take(run).for_each(drop);
        } else if one_bit {
            let mut chunk = 0x8000u16;
            for (i, s) in statuses.by_ref().take(ONE_BIT_SYMBOLS).enumerate() {
                chunk |= u16::from(s.symbol()) << (13 - i);
            }
            w.u16(chunk)?;
        } else {
            let mut chunk = 0xc000u16;
            for (i, s) in statuses.by_ref().take(TWO_BIT_SYMBOLS).enumerate() {
                let symbol = s.symbol();
                if symbol > LARGE_DELTA {
                    return None;
                }
                chunk |= u16::from(symbol) << (12 - 2 * i);
            }
            w.u16(chunk)?;
        }
    }
    Some(())
}
