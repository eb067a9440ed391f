//! RTCP feedback messages (RFC 4585 §6.1): generic NACK, PLI, FIR and REMB, and their
//! writers. Transport-wide congestion control feedback is in `twcc.rs`.

use super::rtcp::{Ssrcs, packet_type, write_packet};
use super::{WireError, Writer, be16, be24, be32, byte};

/// Bytes of the common feedback header after the RTCP header: the SSRC of the packet
/// sender and the SSRC of the media source (RFC 4585 §6.1).
pub(super) const FB_HEADER_LEN: usize = 8;

/// FMT of a generic NACK (RFC 4585 §6.2.1).
const FMT_NACK: u8 = 1;
/// FMT of a PLI (RFC 4585 §6.3.1).
const FMT_PLI: u8 = 1;
/// FMT of a FIR (RFC 5104 §4.3.1).
const FMT_FIR: u8 = 4;
/// FMT of an application layer feedback message (RFC 4585 §6.4), REMB's carrier.
const FMT_AFB: u8 = 15;

/// Packets after the PID a BLP can name (RFC 4585 §6.2.1).
const BLP_BITS: u16 = 16;

/// The unique identifier that starts a REMB's FCI (draft-alvestrand-rmcat-remb-03 §2.2).
const REMB_ID: &[u8; 4] = b"REMB";

/// Bits of a REMB mantissa.
const REMB_MANTISSA_BITS: u32 = 18;

/// Splits the feedback header off a feedback message body: (sender, media source, FCI).
fn fb_header(body: &[u8]) -> Result<(u32, u32, &[u8]), WireError> {
    let (head, fci) = body
        .split_at_checked(FB_HEADER_LEN)
        .ok_or(WireError::TooShort)?;
    Ok((be32(head, 0), be32(head, 4), fci))
}

/// Writes a feedback message (RFC 4585 §6.1): header, then the FCI `f` writes.
fn write_fb(
    buf: &mut [u8],
    pt: u8,
    fmt: u8,
    sender_ssrc: u32,
    media_ssrc: u32,
    f: impl FnOnce(&mut Writer<'_>) -> Option<()>,
) -> Option<usize> {
    write_packet(buf, usize::from(fmt), pt, false, |w| {
        w.u32(sender_ssrc)?;
        w.u32(media_ssrc)?;
        f(w)
    })
}

/// A generic NACK (RFC 4585 §6.2.1): RTPFB, FMT 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source the packets were lost from.
    pub media_ssrc: u32,
    /// The FCI entries: PID and BLP, 4 bytes each.
    fci: &'a [u8],
}

impl<'a> Nack<'a> {
    /// Parses a NACK body; the FCI must be whole 4-byte entries.
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let (sender_ssrc, media_ssrc, fci) = fb_header(body)?;
        if !fci.len().is_multiple_of(4) {
            return Err(WireError::Malformed);
        }
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            fci,
        })
    }

    /// The (PID, BLP) entries.
    pub fn pairs(&self) -> NackPairs<'a> {
        NackPairs { rest: self.fci }
    }

    /// The lost sequence numbers, entry by entry: each PID, then the packets its BLP
    /// names, in increasing order (modulo 2^16).
    pub fn lost(&self) -> NackLost<'a> {
        NackLost {
            pairs: self.pairs(),
            pid: 0,
            mask: 0,
        }
    }
}

/// Iterator over the (PID, BLP) entries of a NACK.
#[derive(Debug, Clone)]
pub struct NackPairs<'a> {
    rest: &'a [u8],
}

impl Iterator for NackPairs<'_> {
    type Item = (u16, u16);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (entry, rest) = self.rest.split_at_checked(4)?;
        self.rest = rest;
        Some((be16(entry, 0), be16(entry, 2)))
    }
}

/// Iterator over the sequence numbers a NACK reports lost.
#[derive(Debug, Clone)]
pub struct NackLost<'a> {
    pairs: NackPairs<'a>,
    pid: u16,
    /// Offsets from `pid` still to yield: bit 0 is the PID itself, bit i the BLP's bit i
    /// ("bit i of the bit mask is set to 1 if ... packet number (PID+i)" is lost).
    mask: u32,
}

impl Iterator for NackLost<'_> {
    type Item = u16;

    #[inline]
    fn next(&mut self) -> Option<u16> {
        while self.mask == 0 {
            let (pid, blp) = self.pairs.next()?;
            self.pid = pid;
            self.mask = 1 | (u32::from(blp) << 1);
        }
        let offset = self.mask.trailing_zeros();
        self.mask &= self.mask - 1;
        // offset <= 16: the truncation is exact.
        Some(self.pid.wrapping_add(offset as u16))
    }
}

/// Writes a generic NACK (RFC 4585 §6.2.1) for the sequence numbers in `lost`.
///
/// Each entry's PID is the next number not yet covered, and its BLP takes the numbers
/// that follow within 16 (modulo 2^16); so a list in increasing order (with wrap-around)
/// takes the fewest entries and parses back, by [`Nack::lost`], as itself minus
/// duplicates. `None` if `lost` is empty or the packet does not fit.
pub fn write_nack(
    buf: &mut [u8],
    sender_ssrc: u32,
    media_ssrc: u32,
    lost: &[u16],
) -> Option<usize> {
    if lost.is_empty() {
        return None;
    }
    write_fb(
        buf,
        packet_type::RTPFB,
        FMT_NACK,
        sender_ssrc,
        media_ssrc,
        |w| {
            let mut rest = lost;
            while let Some((&pid, tail)) = rest.split_first() {
                let mut blp = 0u16;
                rest = tail;
                while let Some((&seq, tail)) = rest.split_first() {
                    let d = seq.wrapping_sub(pid);
                    if d > BLP_BITS {
                        break;
                    }
                    if d > 0 {
                        blp |= 1 << (d - 1);
                    }
                    rest = tail;
                }
                w.u16(pid)?;
                w.u16(blp)?;
            }
            Some(())
        },
    )
}

/// A picture loss indication (RFC 4585 §6.3.1): PSFB, FMT 1, no FCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source that should send a key frame.
    pub media_ssrc: u32,
}

impl Pli {
    /// Parses a PLI body (anything after the feedback header is ignored).
    pub(super) fn parse(body: &[u8]) -> Result<Self, WireError> {
        let (sender_ssrc, media_ssrc, _) = fb_header(body)?;
        Ok(Pli {
            sender_ssrc,
            media_ssrc,
        })
    }
}

/// Writes a PLI (RFC 4585 §6.3.1).
pub fn write_pli(buf: &mut [u8], sender_ssrc: u32, media_ssrc: u32) -> Option<usize> {
    write_fb(
        buf,
        packet_type::PSFB,
        FMT_PLI,
        sender_ssrc,
        media_ssrc,
        |_| Some(()),
    )
}

/// An FCI entry of a FIR (RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirEntry {
    /// The media sender asked for a decoder refresh point.
    pub ssrc: u32,
    /// Command sequence number, incremented for each new request to that sender.
    pub seq: u8,
}

/// A full intra request (RFC 5104 §4.3.1): PSFB, FMT 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source: unused, 0 (RFC 5104 §4.3.1.2).
    pub media_ssrc: u32,
    /// The FCI entries, 8 bytes each.
    fci: &'a [u8],
}

impl<'a> Fir<'a> {
    /// Parses a FIR body; the FCI must be whole 8-byte entries.
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let (sender_ssrc, media_ssrc, fci) = fb_header(body)?;
        if !fci.len().is_multiple_of(8) {
            return Err(WireError::Malformed);
        }
        Ok(Fir {
            sender_ssrc,
            media_ssrc,
            fci,
        })
    }

    /// The requests: (media sender, command sequence number).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = FirEntry> + Clone + 'a {
        self.fci.chunks_exact(8).map(|e| FirEntry {
            ssrc: be32(e, 0),
            seq: byte(e, 4),
        })
    }
}

/// Writes a FIR (RFC 5104 §4.3.1) with the media source field 0 (§4.3.1.2) and one FCI
/// entry per request (reserved bits zero).
pub fn write_fir(buf: &mut [u8], sender_ssrc: u32, entries: &[FirEntry]) -> Option<usize> {
    write_fb(buf, packet_type::PSFB, FMT_FIR, sender_ssrc, 0, |w| {
        entries.iter().try_for_each(|e| {
            w.u32(e.ssrc)?;
            w.u8(e.seq)?;
            w.u24(0)
        })
    })
}

/// A receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 §2.2): PSFB,
/// FMT 15 (application layer feedback), FCI starting with "REMB".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: u32,
    /// SSRC of the media source: unused, 0.
    pub media_ssrc: u32,
    /// BR Exp: 6 bits.
    pub exponent: u8,
    /// BR Mantissa: 18 bits. The bitrate is `mantissa * 2^exponent` bits per second.
    pub mantissa: u32,
    /// The SSRCs the estimate applies to.
    pub ssrcs: Ssrcs<'a>,
}

impl<'a> Remb<'a> {
    /// Whether an application layer feedback body is a REMB (its FCI starts "REMB").
    pub(super) fn is_remb(body: &[u8]) -> bool {
        body.get(FB_HEADER_LEN..FB_HEADER_LEN + 4) == Some(REMB_ID.as_slice())
    }

    /// Parses a REMB body.
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let (sender_ssrc, media_ssrc, fci) = fb_header(body)?;
        if fci.len() < 8 {
            return Err(WireError::TooShort);
        }
        let num = usize::from(byte(fci, 4));
        let br = be24(fci, 5);
        let bytes = fci.get(8..8 + 4 * num).ok_or(WireError::TooShort)?;
        Ok(Remb {
            sender_ssrc,
            media_ssrc,
            // A 6-bit field: the truncation is exact.
            exponent: (br >> REMB_MANTISSA_BITS) as u8,
            mantissa: br & ((1 << REMB_MANTISSA_BITS) - 1),
            ssrcs: Ssrcs { bytes },
        })
    }

    /// The bitrate in bits per second, `u64::MAX` if it is larger.
    pub fn bitrate(&self) -> u64 {
        let full = u128::from(self.mantissa) << self.exponent;
        u64::try_from(full).unwrap_or(u64::MAX)
    }
}

/// Writes a REMB (draft-alvestrand-rmcat-remb-03 §2.2) of `bitrate` bits per second for
/// up to 255 SSRCs. The bitrate is rounded down to the 18-bit mantissa.
pub fn write_remb(buf: &mut [u8], sender_ssrc: u32, bitrate: u64, ssrcs: &[u32]) -> Option<usize> {
    let num = u8::try_from(ssrcs.len()).ok()?;
    let bits = u64::BITS - bitrate.leading_zeros();
    let exponent = bits.saturating_sub(REMB_MANTISSA_BITS);
    // Below 2^18 after the shift: the truncation is exact.
    let mantissa = (bitrate >> exponent) as u32;
    write_fb(buf, packet_type::PSFB, FMT_AFB, sender_ssrc, 0, |w| {
        w.bytes(REMB_ID)?;
        w.u8(num)?;
        w.u24((exponent << REMB_MANTISSA_BITS) | mantissa)?;
        ssrcs.iter().try_for_each(|s| w.u32(*s))
    })
}
