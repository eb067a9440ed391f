//! RTCP compound packets (RFC 3550 §6): framing, the typed view of each packet, and the
//! sender and receiver reports, SDES and BYE with their writers.

use super::feedback::{Fir, Nack, Pli, Remb};
use super::twcc::TwccFeedback;
use super::{WireError, Writer, be16, be24, be32, byte, sign_extend24};

/// Bytes of the common RTCP header (RFC 3550 §6.4.1): V, P, count, PT, length.
pub const RTCP_HEADER_LEN: usize = 4;

/// RTCP packet types.
pub mod packet_type {
    /// Sender report (RFC 3550 §6.4.1).
    pub const SR: u8 = 200;
    /// Receiver report (RFC 3550 §6.4.2).
    pub const RR: u8 = 201;
    /// Source description (RFC 3550 §6.5).
    pub const SDES: u8 = 202;
    /// Goodbye (RFC 3550 §6.6).
    pub const BYE: u8 = 203;
    /// Application-defined (RFC 3550 §6.7).
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585 §6.2).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585 §6.3).
    pub const PSFB: u8 = 206;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}

/// SDES item types (RFC 3550 §6.5).
pub mod sdes_type {
    /// End of the item list of a chunk.
    pub const END: u8 = 0;
    /// Canonical end-point identifier (RFC 3550 §6.5.1).
    pub const CNAME: u8 = 1;
    /// User name.
    pub const NAME: u8 = 2;
    /// Electronic mail address.
    pub const EMAIL: u8 = 3;
    /// Phone number.
    pub const PHONE: u8 = 4;
    /// Geographic user location.
    pub const LOC: u8 = 5;
    /// Application or tool name.
    pub const TOOL: u8 = 6;
    /// Notice/status.
    pub const NOTE: u8 = 7;
    /// Private extensions.
    pub const PRIV: u8 = 8;
}

/// The largest count (RC, SC) or FMT the 5-bit header field holds.
const MAX_COUNT: usize = 31;

/// Bytes of a report block (RFC 3550 §6.4.1).
const REPORT_BLOCK_LEN: usize = 24;

/// Bytes of an SR's SSRC and sender info (RFC 3550 §6.4.1).
const SR_FIXED_LEN: usize = 24;

/// One RTCP packet of a compound, framed but not typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRtcp<'a> {
    /// The 5-bit count field: RC, SC, or FMT for feedback messages (RFC 4585 §6.1).
    pub count: u8,
    /// The packet type.
    pub packet_type: u8,
    /// Bytes of padding at its end, the count byte included; 0 when P is clear.
    pub padding: u8,
    /// Everything after the 4-byte header, padding removed.
    pub body: &'a [u8],
}

impl<'a> RawRtcp<'a> {
    /// Types the packet. Packet types and feedback formats this module does not know come
    /// back as [`RtcpPacket::Unknown`]; known ones that are malformed as an error.
    pub fn parse(&self) -> Result<RtcpPacket<'a>, WireError> {
        use packet_type as pt;
        let (c, body) = (self.count, self.body);
        Ok(match (self.packet_type, c) {
            (pt::SR, _) => RtcpPacket::SenderReport(SenderReport::parse(c, body)?),
            (pt::RR, _) => RtcpPacket::ReceiverReport(ReceiverReport::parse(c, body)?),
            (pt::SDES, _) => RtcpPacket::Sdes(Sdes::parse(c, body)?),
            (pt::BYE, _) => RtcpPacket::Bye(Bye::parse(c, body)?),
            (pt::RTPFB, 1) => RtcpPacket::Nack(Nack::parse(body)?),
            (pt::RTPFB, 15) => RtcpPacket::TransportCc(TwccFeedback::parse(body)?),
            (pt::PSFB, 1) => RtcpPacket::Pli(Pli::parse(body)?),
            (pt::PSFB, 4) => RtcpPacket::Fir(Fir::parse(body)?),
            (pt::PSFB, 15) if Remb::is_remb(body) => RtcpPacket::Remb(Remb::parse(body)?),
            (p, f) => RtcpPacket::Unknown {
                pt: p,
                fmt: f,
                body,
            },
        })
    }
}

/// Iterator over the packets of a compound RTCP packet (RFC 3550 §6.1), not typed.
///
/// Yields one `Err` and stops at a packet whose header is malformed: a version other than
/// 2, a length beyond the datagram, or a bad padding count. It does not insist that the
/// compound starts with SR or RR, so reduced-size RTCP (RFC 5506) passes.
#[derive(Debug, Clone)]
pub struct RawPackets<'a> {
    rest: &'a [u8],
}

impl<'a> RawPackets<'a> {
    /// The packets of `compound`.
    pub fn new(compound: &'a [u8]) -> Self {
        RawPackets { rest: compound }
    }
}

impl<'a> Iterator for RawPackets<'a> {
    type Item = Result<RawRtcp<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = frame(self.rest);
        match r {
            Ok((packet, rest)) => {
                self.rest = rest;
                Some(Ok(packet))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Frames the first packet of `b` (RFC 3550 §6.4.1): the packet and what follows it.
fn frame(b: &[u8]) -> Result<(RawRtcp<'_>, &[u8]), WireError> {
    if b.len() < RTCP_HEADER_LEN {
        return Err(WireError::TooShort);
    }
    let b0 = byte(b, 0);
    if b0 >> 6 != 2 {
        return Err(WireError::BadVersion);
    }
    // "The length of this RTCP packet in 32-bit words minus one, including the header
    // and any padding."
    let len = (usize::from(be16(b, 2)) + 1) * 4;
    let (packet, rest) = b.split_at_checked(len).ok_or(WireError::BadLength)?;
    let mut end = len;
    let padding = if b0 & 0x20 != 0 {
        let n = packet.last().copied().unwrap_or(0);
        if n == 0 || usize::from(n) > len - RTCP_HEADER_LEN {
            return Err(WireError::BadPadding);
        }
        end -= usize::from(n);
        n
    } else {
        0
    };
    let raw = RawRtcp {
        count: b0 & 0x1f,
        packet_type: byte(b, 1),
        padding,
        body: packet.get(RTCP_HEADER_LEN..end).unwrap_or_default(),
    };
    Ok((raw, rest))
}

/// Iterator over the typed packets of a compound RTCP packet.
///
/// A malformed header ends the compound (one `Err`, as in [`RawPackets`]); a malformed
/// body yields an `Err` for that packet and iteration goes on with the next one.
#[derive(Debug, Clone)]
pub struct RtcpPackets<'a> {
    raw: RawPackets<'a>,
}

impl<'a> RtcpPackets<'a> {
    /// The packets of `compound`.
    pub fn new(compound: &'a [u8]) -> Self {
        RtcpPackets {
            raw: RawPackets::new(compound),
        }
    }
}

impl<'a> Iterator for RtcpPackets<'a> {
    type Item = Result<RtcpPacket<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.raw.next()?.and_then(|r| r.parse()))
    }
}

/// A typed RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR (RFC 3550 §6.4.1).
    SenderReport(SenderReport<'a>),
    /// RR (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport<'a>),
    /// SDES (RFC 3550 §6.5).
    Sdes(Sdes<'a>),
    /// BYE (RFC 3550 §6.6).
    Bye(Bye<'a>),
    /// Generic NACK: RTPFB, FMT 1 (RFC 4585 §6.2.1).
    Nack(Nack<'a>),
    /// Transport-wide congestion control feedback: RTPFB, FMT 15.
    TransportCc(TwccFeedback<'a>),
    /// Picture loss indication: PSFB, FMT 1 (RFC 4585 §6.3.1).
    Pli(Pli),
    /// Full intra request: PSFB, FMT 4 (RFC 5104 §4.3.1).
    Fir(Fir<'a>),
    /// Receiver estimated maximum bitrate: PSFB, FMT 15, "REMB".
    Remb(Remb<'a>),
    /// Any other packet type or feedback format (APP, XR, TMMBR, ...).
    Unknown {
        /// Packet type.
        pt: u8,
        /// The count or FMT field.
        fmt: u8,
        /// Everything after the header, padding removed.
        body: &'a [u8],
    },
}

/// Writes one RTCP packet: header, the body `f` writes, then padding to a 32-bit boundary,
/// with zeros, or, when `rtcp_padding`, as RTCP padding with the P bit (RFC 3550 §6.4.1).
pub(super) fn write_packet(
    buf: &mut [u8],
    count: usize,
    pt: u8,
    rtcp_padding: bool,
    f: impl FnOnce(&mut Writer<'_>) -> Option<()>,
) -> Option<usize> {
    if count > MAX_COUNT {
        return None;
    }
    let count = u8::try_from(count).ok()?;
    let mut w = Writer::new(buf);
    w.u8(0x80 | count)?;
    w.u8(pt)?;
    w.u16(0)?;
    f(&mut w)?;
    let pad = (4 - w.pos % 4) % 4;
    if rtcp_padding && pad > 0 {
        w.zeros(pad - 1)?;
        w.u8(u8::try_from(pad).ok()?)?;
        w.patch(0, &[0xa0 | count])?;
    } else {
        w.zeros(pad)?;
    }
    let words = u16::try_from(w.pos / 4 - 1).ok()?;
    w.patch(2, &words.to_be_bytes())?;
    Some(w.pos)
}

/// Writes any RTCP packet from its count (or FMT), type and body. A body that is not a
/// multiple of 4 bytes is completed with RTCP padding (P bit), so that parsing gives the
/// body back. `None` if it does not fit or `count` is over 31.
pub fn write_rtcp(buf: &mut [u8], count: u8, pt: u8, body: &[u8]) -> Option<usize> {
    write_packet(buf, usize::from(count), pt, true, |w| w.bytes(body))
}

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, as a fixed point number with the binary point
    /// at the left edge.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost: 24-bit signed (duplicates can make it
    /// negative). Written clamped to -0x800000..=0x7fffff.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// LSR: the middle 32 bits of the NTP timestamp of the last SR received.
    pub last_sr: u32,
    /// DLSR: delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Reads a block from its 24 bytes (callers pass at least that many).
    fn read(b: &[u8]) -> Self {
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: byte(b, 4),
            cumulative_lost: sign_extend24(be24(b, 5)),
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Option<()> {
        w.u32(self.ssrc)?;
        w.u8(self.fraction_lost)?;
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff);
        // Two's complement in 24 bits: the low three bytes of the i32.
        w.u24(lost as u32)?;
        w.u32(self.extended_highest_seq)?;
        w.u32(self.jitter)?;
        w.u32(self.last_sr)?;
        w.u32(self.delay_since_last_sr)
    }
}

/// The report blocks of an SR or RR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    bytes: &'a [u8],
}

impl<'a> ReportBlocks<'a> {
    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.bytes.len() / REPORT_BLOCK_LEN
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The blocks, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ReportBlock> + Clone + 'a {
        self.bytes
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::read)
    }
}

/// Splits `rc` report blocks off the front of `b`: the blocks and the rest (the
/// profile-specific extension).
fn report_blocks(rc: u8, b: &[u8]) -> Result<(ReportBlocks<'_>, &[u8]), WireError> {
    let (bytes, rest) = b
        .split_at_checked(usize::from(rc) * REPORT_BLOCK_LEN)
        .ok_or(WireError::TooShort)?;
    Ok((ReportBlocks { bytes }, rest))
}

/// The sender information of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// NTP timestamp (64 bits, seconds since 1900 in 32.32 fixed point).
    pub ntp_time: u64,
    /// The same instant in RTP timestamp units.
    pub rtp_time: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender.
    pub ssrc: u32,
    /// Sender information.
    pub info: SenderInfo,
    /// Reception report blocks.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension after the blocks (usually empty).
    pub extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// Parses an SR body with `rc` report blocks.
    fn parse(rc: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let (fixed, rest) = body
            .split_at_checked(SR_FIXED_LEN)
            .ok_or(WireError::TooShort)?;
        let (reports, extension) = report_blocks(rc, rest)?;
        Ok(SenderReport {
            ssrc: be32(fixed, 0),
            info: SenderInfo {
                ntp_time: (u64::from(be32(fixed, 4)) << 32) | u64::from(be32(fixed, 8)),
                rtp_time: be32(fixed, 12),
                packet_count: be32(fixed, 16),
                octet_count: be32(fixed, 20),
            },
            reports,
            extension,
        })
    }
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The sender of this report.
    pub ssrc: u32,
    /// Reception report blocks.
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension after the blocks (usually empty).
    pub extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// Parses an RR body with `rc` report blocks.
    fn parse(rc: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let (ssrc, rest) = body.split_at_checked(4).ok_or(WireError::TooShort)?;
        let (reports, extension) = report_blocks(rc, rest)?;
        Ok(ReceiverReport {
            ssrc: be32(ssrc, 0),
            reports,
            extension,
        })
    }
}

/// Writes an SR (RFC 3550 §6.4.1) with up to 31 report blocks.
pub fn write_sender_report(
    buf: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    reports: &[ReportBlock],
) -> Option<usize> {
    write_packet(buf, reports.len(), packet_type::SR, false, |w| {
        w.u32(ssrc)?;
        w.u64(info.ntp_time)?;
        w.u32(info.rtp_time)?;
        w.u32(info.packet_count)?;
        w.u32(info.octet_count)?;
        reports.iter().try_for_each(|r| r.write(w))
    })
}

/// Writes an RR (RFC 3550 §6.4.2) with up to 31 report blocks (none is fine: an empty RR
/// opens a compound when there is nothing to report, §6.1).
pub fn write_receiver_report(buf: &mut [u8], ssrc: u32, reports: &[ReportBlock]) -> Option<usize> {
    write_packet(buf, reports.len(), packet_type::RR, false, |w| {
        w.u32(ssrc)?;
        reports.iter().try_for_each(|r| r.write(w))
    })
}

/// An SDES item (RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type ([`sdes_type`]), never 0.
    pub kind: u8,
    /// Its text (UTF-8 by the RFC, not checked), up to 255 bytes.
    pub value: &'a [u8],
}

/// A source description packet (RFC 3550 §6.5): one chunk per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    bytes: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// Parses an SDES body with `sc` chunks, checking every chunk and item.
    fn parse(sc: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let mut pos = 0;
        for _ in 0..sc {
            let (_, next) = sdes_chunk(body, pos).ok_or(WireError::Malformed)?;
            pos = next;
        }
        Ok(Sdes {
            count: sc,
            bytes: body.get(..pos).unwrap_or_default(),
        })
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            bytes: self.bytes,
            pos: 0,
            left: self.count,
        }
    }
}

/// Reads the chunk starting at `pos` (32-bit aligned): the chunk and where the next one
/// starts, or `None` if it is malformed.
fn sdes_chunk(b: &[u8], pos: usize) -> Option<(SdesChunk<'_>, usize)> {
    let ssrc = be32(b.get(pos..pos.checked_add(4)?)?, 0);
    let start = pos + 4;
    let mut at = start;
    loop {
        let kind = *b.get(at)?;
        if kind == sdes_type::END {
            // "terminated by one or more null octets, ... to pad until the next 32-bit
            // boundary"; the packet length being whole words, a missing pad can only be
            // at the very end, where it is forgiven.
            let next = (at + 1).next_multiple_of(4).min(b.len());
            let items = b.get(start..at)?;
            return Some((SdesChunk { ssrc, items }, next));
        }
        let len = usize::from(*b.get(at + 1)?);
        at = at.checked_add(2 + len)?;
        if at > b.len() {
            return None;
        }
    }
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    bytes: &'a [u8],
    pos: usize,
    left: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let (chunk, next) = sdes_chunk(self.bytes, self.pos)?;
        self.pos = next;
        Some(chunk)
    }
}

/// One chunk of an SDES packet: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// SSRC or CSRC described.
    pub ssrc: u32,
    /// The items, up to (not including) the terminating null.
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items, in order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The first CNAME item's value (RFC 3550 §6.5.1).
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.kind == sdes_type::CNAME)
            .map(|i| i.value)
    }
}

/// Iterator over the items of an SDES chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, tail) = self.rest.split_first()?;
        let (&len, tail) = tail.split_first()?;
        let (value, rest) = tail.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(SdesItem { kind, value })
    }
}

/// Writes an SDES packet (RFC 3550 §6.5): up to 31 chunks of (source, items). `None` if
/// an item has type 0 or a value over 255 bytes.
pub fn write_sdes(buf: &mut [u8], chunks: &[(u32, &[SdesItem<'_>])]) -> Option<usize> {
    write_packet(buf, chunks.len(), packet_type::SDES, false, |w| {
        for (ssrc, items) in chunks {
            let start = w.pos;
            w.u32(*ssrc)?;
            for item in *items {
                if item.kind == sdes_type::END {
                    return None;
                }
                w.u8(item.kind)?;
                w.u8(u8::try_from(item.value.len()).ok()?)?;
                w.bytes(item.value)?;
            }
            // The terminating null item, then nulls to the next 32-bit boundary.
            w.u8(sdes_type::END)?;
            w.pad4_from(start)?;
        }
        Some(())
    })
}

/// Writes an SDES packet with one chunk holding just the CNAME of `ssrc`
/// (RFC 3550 §6.5.1; RFC 8834 §4.9 for its use in WebRTC).
pub fn write_sdes_cname(buf: &mut [u8], ssrc: u32, cname: &str) -> Option<usize> {
    let item = [SdesItem {
        kind: sdes_type::CNAME,
        value: cname.as_bytes(),
    }];
    write_sdes(buf, &[(ssrc, &item)])
}

/// A list of SSRCs, 4 bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssrcs<'a> {
    pub(super) bytes: &'a [u8],
}

impl<'a> Ssrcs<'a> {
    /// Number of SSRCs.
    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SSRCs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u32> + Clone + 'a {
        self.bytes.chunks_exact(4).map(|c| be32(c, 0))
    }
}

/// A goodbye packet (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    /// The sources leaving.
    pub ssrcs: Ssrcs<'a>,
    /// The reason for leaving, if given.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// Parses a BYE body with `sc` sources.
    fn parse(sc: u8, body: &'a [u8]) -> Result<Self, WireError> {
        let (bytes, rest) = body
            .split_at_checked(4 * usize::from(sc))
            .ok_or(WireError::TooShort)?;
        let reason = match rest.split_first() {
            None => None,
            Some((&len, text)) => Some(text.get(..usize::from(len)).ok_or(WireError::BadLength)?),
        };
        Ok(Bye {
            ssrcs: Ssrcs { bytes },
            reason,
        })
    }
}

/// Writes a BYE (RFC 3550 §6.6) for up to 31 sources, with an optional reason of up to
/// 255 bytes.
pub fn write_bye(buf: &mut [u8], ssrcs: &[u32], reason: Option<&[u8]>) -> Option<usize> {
    write_packet(buf, ssrcs.len(), packet_type::BYE, false, |w| {
        ssrcs.iter().try_for_each(|s| w.u32(*s))?;
        if let Some(reason) = reason {
            w.u8(u8::try_from(reason.len()).ok()?)?;
            w.bytes(reason)?;
        }
        Some(())
    })
}
