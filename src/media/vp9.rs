//! VP9 (RFC 9628).
//!
//! Sending uses non-flexible mode without layer indices: a 3-byte descriptor with I=1 and
//! a 15-bit picture ID (M=1), B on the first and E on the last packet of the frame, P
//! clear on key frames only; a key frame's first packet also carries a scalability
//! structure (V=1) with one spatial layer and its resolution, read from the frame's
//! uncompressed header. Receiving parses every field (I, L with TL0PICIDX in
//! non-flexible mode, the flexible-mode P_DIFF list, the whole SS) to find the data.

use super::{MediaError, PacketInfo, split_balanced};

/// The descriptor we write: required octet and two picture ID octets.
pub(super) const DESCRIPTOR_LEN: usize = 3;
/// The scalability structure we write on key frames: one spatial layer with its size.
pub(super) const SS_LEN: usize = 5;

const I: u8 = 0x80;
const P: u8 = 0x40;
const L: u8 = 0x20;
const F: u8 = 0x10;
const B: u8 = 0x08;
const E: u8 = 0x04;
const V: u8 = 0x02;
const M: u8 = 0x80;
/// At most three P_DIFF octets follow in flexible mode (RFC 9628 §4.2).
const MAX_P_DIFF: usize = 3;

/// The parts of a payload descriptor the depacketizer uses (RFC 9628 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Descriptor {
    /// P: the layer frame is inter-picture predicted.
    pub inter: bool,
    /// B: the payload starts a layer frame.
    pub begin: bool,
    /// E: the payload ends a layer frame.
    pub end: bool,
    /// The picture ID, when present (7 or 15 bits).
    pub picture_id: Option<u16>,
    /// The spatial layer ID, when layer indices are present.
    pub spatial_id: Option<u8>,
    /// The descriptor's length in bytes.
    pub len: usize,
}

/// A cursor over the descriptor's octets.
struct Octets<'a> {
    rest: &'a [u8],
    len: usize,
}

impl Octets<'_> {
    fn next(&mut self) -> Result<u8, MediaError> {
        let (&b, rest) = self.rest.split_first().ok_or(MediaError::InvalidPayload(
            "truncated VP9 payload descriptor",
        ))?;
        self.rest = rest;
        self.len += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<(), MediaError> {
        self.rest = self.rest.get(n..).ok_or(MediaError::InvalidPayload(
            "truncated VP9 payload descriptor",
        ))?;
        self.len += n;
        Ok(())
    }
}

/// Parses the payload descriptor at the start of `payload`.
pub(super) fn parse_descriptor(payload: &[u8]) -> Result<Descriptor, MediaError> {
    let mut o = Octets {
        rest: payload,
        len: 0,
    };
    let b0 = o.next()?;
    let mut d = Descriptor {
        inter: b0 & P != 0,
        begin: b0 & B != 0,
        end: b0 & E != 0,
        picture_id: None,
        spatial_id: None,
        len: 0,
    };
    let flexible = b0 & F != 0;
    if b0 & I != 0 {
        let p0 = o.next()?;
        d.picture_id = Some(if p0 & M != 0 {
            u16::from(p0 & 0x7f) << 8 | u16::from(o.next()?)
        } else {
            u16::from(p0)
        });
    }
    if b0 & L != 0 {
        // TID (3) U (1) SID (3) D (1); TL0PICIDX follows in non-flexible mode.
        let layer = o.next()?;
        d.spatial_id = Some((layer >> 1) & 0x07);
        if !flexible {
            o.next()?;
        }
    }
    if flexible && d.inter {
        // P_DIFF (7) N (1): N says another P_DIFF follows.
        let mut count = 0;
        loop {
            let p_diff = o.next()?;
            count += 1;
            if p_diff & 0x01 == 0 {
                break;
            }
            if count == MAX_P_DIFF {
                return Err(MediaError::InvalidPayload("more than three VP9 P_DIFF"));
            }
        }
    }
    if b0 & V != 0 {
        skip_scalability_structure(&mut o)?;
    }
    d.len = o.len;
    Ok(d)
}

/// Skips the scalability structure (RFC 9628 §4.2.1):
/// `N_S(3) Y(1) G(1) -(3)`, then N_S+1 widths and heights if Y, then N_G and that many
/// picture descriptions `TID(3) U(1) R(2) -(2)` each with R P_DIFF octets, if G.
fn skip_scalability_structure(o: &mut Octets<'_>) -> Result<(), MediaError> {
    let head = o.next()?;
    let layers = usize::from(head >> 5) + 1;
    if head & 0x10 != 0 {
        o.skip(layers * 4)?;
    }
    if head & 0x08 != 0 {
        let pictures = o.next()?;
        for _ in 0..pictures {
            let description = o.next()?;
            o.skip(usize::from((description >> 2) & 0x03))?;
        }
    }
    Ok(())
}

/// The VP9 data after the payload descriptor.
pub(super) fn body(payload: &[u8]) -> Result<&[u8], MediaError> {
    let d = parse_descriptor(payload)?;
    payload.get(d.len..).ok_or(MediaError::InvalidPayload(
        "truncated VP9 payload descriptor",
    ))
}

pub(super) fn inspect(payload: &[u8]) -> Result<PacketInfo, MediaError> {
    let d = parse_descriptor(payload)?;
    // A picture starts with the B bit of its lowest spatial layer.
    let first = d.begin && d.spatial_id.unwrap_or(0) == 0;
    Ok(PacketInfo {
        may_start: first,
        starts_frame: first,
        ends_frame: false,
    })
}

/// B=1 and P=0 on the base spatial layer: the start of a picture that references no
/// earlier one (RFC 9628 §4.2).
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    parse_descriptor(payload).is_ok_and(|d| d.begin && !d.inter && d.spatial_id.unwrap_or(0) == 0)
}

/// A big-endian bit reader.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.data.get(self.pos / 8)?;
            v = v << 1 | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// What the sender needs from a VP9 frame's uncompressed header (VP9 bitstream
/// specification §6.2): whether it is a key frame, and then its size when it fits the SS
/// fields. `None` when the header is not a VP9 one.
pub(super) fn frame_info(frame: &[u8]) -> Option<(bool, Option<(u16, u16)>)> {
    let mut b = Bits {
        data: frame,
        pos: 0,
    };
    if b.read(2)? != 2 {
        return None; // frame_marker
    }
    let low = b.read(1)?;
    let profile = b.read(1)? << 1 | low;
    if profile == 3 {
        b.read(1)?; // reserved_zero
    }
    if b.read(1)? == 1 {
        return Some((false, None)); // show_existing_frame
    }
    let key = b.read(1)? == 0; // frame_type: KEY_FRAME is 0
    b.read(2)?; // show_frame, error_resilient_mode
    if !key {
        return Some((false, None));
    }
    Some((true, key_frame_size(&mut b, profile)))
}

/// The rest of a key frame's uncompressed header up to its size: frame_sync_code,
/// color_config() and frame_size() (VP9 bitstream specification §6.2).
fn key_frame_size(b: &mut Bits<'_>, profile: u32) -> Option<(u16, u16)> {
    if b.read(24)? != 0x49_83_42 {
        return None; // frame_sync_code
    }
    if profile >= 2 {
        b.read(1)?; // ten_or_twelve_bit
    }
    let color_space = b.read(3)?;
    let odd_profile = profile == 1 || profile == 3;
    if color_space != 7 {
        // color_range, then subsampling_x, subsampling_y, reserved_zero
        b.read(if odd_profile { 4 } else { 1 })?;
    } else if odd_profile {
        b.read(1)?; // reserved_zero (CS_RGB)
    }
    let width = u16::try_from(b.read(16)? + 1).ok()?;
    let height = u16::try_from(b.read(16)? + 1).ok()?;
    Some((width, height))
}

pub(super) fn packetize(
    frame: &[u8],
    max_payload: usize,
    picture_id: u16,
    buf: &mut Vec<u8>,
    out: &mut dyn FnMut(&[u8], bool),
) -> usize {
    let (key, size) = frame_info(frame).unwrap_or((false, None));
    let ss = size.map(|(w, h)| {
        let [w0, w1] = w.to_be_bytes();
        let [h0, h1] = h.to_be_bytes();
        // N_S=0 (one spatial layer), Y=1, G=0; then WIDTH and HEIGHT.
        [0x10, w0, w1, h0, h1]
    });
    // The SS goes in the first packet only; keep every packet's room the same, simply.
    let overhead = DESCRIPTOR_LEN + if ss.is_some() { SS_LEN } else { 0 };
    let cap = max_payload.saturating_sub(overhead);
    let total = frame.len().div_ceil(cap.max(1));
    let [hi, lo] = picture_id.to_be_bytes();
    let mut n = 0;
    for piece in split_balanced(frame, cap) {
        let first = n == 0;
        n += 1;
        let last = n == total;
        let mut b0 = I;
        if !key {
            b0 |= P;
        }
        if first {
            b0 |= B;
        }
        if last {
            b0 |= E;
        }
        buf.clear();
        match ss {
            Some(ss) if first => {
                buf.extend_from_slice(&[b0 | V, M | (hi & 0x7f), lo]);
                buf.extend_from_slice(&ss);
            }
            _ => buf.extend_from_slice(&[b0, M | (hi & 0x7f), lo]),
        }
        buf.extend_from_slice(piece);
        out(buf, last);
    }
    n
}
