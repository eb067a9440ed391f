//! VP8 (RFC 7741).
//!
//! Sending, every payload starts with a 4-byte payload descriptor (§4.2): X=1, then I=1
//! with a 15-bit PictureID (M=1); S=1 and PID=0 on the first packet of the frame only (the
//! frame is not split at partition boundaries, which §4.4 allows). Receiving, every
//! optional field (I with a 7- or 15-bit PictureID, L, T, K) is parsed and skipped.

use super::{MediaError, PacketInfo, split_balanced};

/// The descriptor we write: required octet, X octet, two PictureID octets.
pub(super) const DESCRIPTOR_LEN: usize = 4;

const X: u8 = 0x80;
const S: u8 = 0x10;
const PID_MASK: u8 = 0x07;
const I: u8 = 0x80;
const L: u8 = 0x40;
const T: u8 = 0x20;
const K: u8 = 0x10;
const M: u8 = 0x80;

/// The parts of a payload descriptor the depacketizer uses (RFC 7741 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Descriptor {
    /// S: the payload starts a VP8 partition.
    pub start: bool,
    /// PID: the partition index.
    pub partition: u8,
    /// The PictureID, when present (7 or 15 bits).
    pub picture_id: Option<u16>,
    /// The descriptor's length in bytes.
    pub len: usize,
}

/// Parses the payload descriptor at the start of `payload`.
pub(super) fn parse_descriptor(payload: &[u8]) -> Result<Descriptor, MediaError> {
    const SHORT: MediaError = MediaError::InvalidPayload("truncated VP8 payload descriptor");
    let (&b0, mut rest) = payload.split_first().ok_or(SHORT)?;
    let mut d = Descriptor {
        start: b0 & S != 0,
        partition: b0 & PID_MASK,
        picture_id: None,
        len: 1,
    };
    if b0 & X == 0 {
        return Ok(d);
    }
    let (&x, tail) = rest.split_first().ok_or(SHORT)?;
    rest = tail;
    d.len += 1;
    if x & I != 0 {
        let (&p0, tail) = rest.split_first().ok_or(SHORT)?;
        rest = tail;
        d.len += 1;
        if p0 & M != 0 {
            let (&p1, tail) = rest.split_first().ok_or(SHORT)?;
            rest = tail;
            d.len += 1;
            d.picture_id = Some(u16::from(p0 & 0x7f) << 8 | u16::from(p1));
        } else {
            d.picture_id = Some(u16::from(p0));
        }
    }
    if x & L != 0 {
        // TL0PICIDX.
        let (_, tail) = rest.split_first().ok_or(SHORT)?;
        rest = tail;
        d.len += 1;
    }
    if x & (T | K) != 0 {
        // One octet holds TID, Y and KEYIDX, present if either T or K is set.
        rest.split_first().ok_or(SHORT)?;
        d.len += 1;
    }
    Ok(d)
}

/// The VP8 data after the payload descriptor.
pub(super) fn body(payload: &[u8]) -> Result<&[u8], MediaError> {
    let d = parse_descriptor(payload)?;
    payload.get(d.len..).ok_or(MediaError::InvalidPayload(
        "truncated VP8 payload descriptor",
    ))
}

pub(super) fn inspect(payload: &[u8]) -> Result<PacketInfo, MediaError> {
    let d = parse_descriptor(payload)?;
    // S=1 with PID=0 is exactly the first packet of a frame (§4.2).
    let first = d.start && d.partition == 0;
    Ok(PacketInfo {
        may_start: first,
        starts_frame: first,
        ends_frame: false,
    })
}

/// The P bit of the VP8 payload header (§4.3), in the first octet after the descriptor of
/// a frame's first packet: 0 for a key frame.
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    let Ok(d) = parse_descriptor(payload) else {
        return false;
    };
    d.start && d.partition == 0 && payload.get(d.len).is_some_and(|&header| header & 0x01 == 0)
}

pub(super) fn packetize(
    frame: &[u8],
    max_payload: usize,
    picture_id: u16,
    buf: &mut Vec<u8>,
    out: &mut dyn FnMut(&[u8], bool),
) -> usize {
    let cap = max_payload.saturating_sub(DESCRIPTOR_LEN);
    let total = frame.len().div_ceil(cap.max(1));
    let mut n = 0;
    for piece in split_balanced(frame, cap) {
        buf.clear();
        let s = if n == 0 { S } else { 0 };
        let [hi, lo] = picture_id.to_be_bytes();
        buf.extend_from_slice(&[X | s, I, M | (hi & 0x7f), lo]);
        buf.extend_from_slice(piece);
        n += 1;
        out(buf, n == total);
    }
    n
}
