//! AV1 (AOM "RTP Payload Format For AV1", v1.0.0).
//!
//! Sending takes a temporal unit in the low-overhead bitstream format (AV1 §5.2: OBUs
//! with `obu_has_size_field` set; the last may go without) and sends its OBUs as OBU
//! elements (§4.5): the size field is cleared and dropped (the element length takes its
//! place), temporal delimiters and tile lists are not sent (§5), up to three elements per
//! packet use W so the last needs no length, an OBU that does not fit is fragmented across
//! packets with Y and Z (§4.4), and N marks the first packet of a temporal unit holding a
//! sequence header. Receiving reverses it: the temporal unit comes back with a temporal
//! delimiter first and every OBU with its size field.

use super::{MediaError, PacketInfo};

// Aggregation header (§4.4): Z Y W(2) N - - -.
const Z: u8 = 0x80;
const Y: u8 = 0x40;
const W_SHIFT: u8 = 4;
const W_MASK: u8 = 0x30;
const N: u8 = 0x08;

// OBU header (AV1 §5.3.2): forbidden(1) type(4) extension_flag(1) has_size_field(1) reserved(1).
const FORBIDDEN: u8 = 0x80;
const EXTENSION: u8 = 0x04;
const HAS_SIZE: u8 = 0x02;
const SEQUENCE_HEADER: u8 = 1;
const TEMPORAL_DELIMITER: u8 = 2;
const TILE_LIST: u8 = 8;

fn obu_type(header: u8) -> u8 {
    (header >> 3) & 0x0f
}

/// Reads a leb128 (AV1 §4.10.5): at most 8 bytes, a value below 2^32. Returns the value
/// and its length.
pub(super) fn read_leb128(data: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let v = u32::try_from(value).ok()?;
            return Some((usize::try_from(v).ok()?, i + 1));
        }
    }
    None
}

/// The length of the shortest leb128 encoding of `v`.
pub(super) fn leb128_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends the shortest leb128 encoding of `v`.
pub(super) fn write_leb128(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One OBU of a temporal unit being sent, as the OBU element it becomes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obu {
    /// The OBU header with `obu_has_size_field` cleared.
    header: u8,
    /// The extension header, if any.
    extension: Option<u8>,
    /// Where the OBU's payload is in the frame, and its length.
    start: usize,
    len: usize,
}

impl Obu {
    fn header_len(&self) -> usize {
        1 + usize::from(self.extension.is_some())
    }

    /// The length of the OBU element: header, extension, payload.
    fn element_len(&self) -> usize {
        self.header_len() + self.len
    }

    /// Appends bytes `from..from + n` of the OBU element to `buf`.
    fn write(&self, frame: &[u8], from: usize, n: usize, buf: &mut Vec<u8>) {
        let head = [self.header, self.extension.unwrap_or(0)];
        let hl = self.header_len();
        let end = from + n;
        if from < hl {
            buf.extend_from_slice(head.get(from..end.min(hl)).unwrap_or_default());
        }
        if end > hl {
            let payload = frame
                .get(self.start..self.start + self.len)
                .unwrap_or_default();
            buf.extend_from_slice(
                payload
                    .get(from.saturating_sub(hl)..end - hl)
                    .unwrap_or_default(),
            );
        }
    }
}

/// Splits a temporal unit into the OBUs to send. Returns whether it holds a sequence
/// header.
fn parse_obus(frame: &[u8], obus: &mut Vec<Obu>) -> Result<bool, MediaError> {
    const TRUNCATED: MediaError = MediaError::InvalidFrame("truncated OBU");
    obus.clear();
    let mut sequence_header = false;
    let mut pos = 0;
    while let Some(&header) = frame.get(pos) {
        if header & FORBIDDEN != 0 {
            return Err(MediaError::InvalidFrame("OBU forbidden bit set"));
        }
        let mut p = pos + 1;
        let extension = if header & EXTENSION != 0 {
            p += 1;
            Some(*frame.get(pos + 1).ok_or(TRUNCATED)?)
        } else {
            None
        };
        let len = if header & HAS_SIZE != 0 {
            let (len, n) = frame.get(p..).and_then(read_leb128).ok_or(TRUNCATED)?;
            p += n;
            len
        } else {
            // Only the last OBU may go without a size: it runs to the end.
            frame.len().checked_sub(p).ok_or(TRUNCATED)?
        };
        let end = p
            .checked_add(len)
            .filter(|&e| e <= frame.len())
            .ok_or(TRUNCATED)?;
        let t = obu_type(header);
        // Temporal delimiters and tile lists are not sent (§5).
        if t != TEMPORAL_DELIMITER && t != TILE_LIST {
            sequence_header |= t == SEQUENCE_HEADER;
            obus.push(Obu {
                header: header & !HAS_SIZE,
                extension,
                start: p,
                len,
            });
        }
        pos = end;
    }
    if obus.is_empty() {
        return Err(MediaError::EmptyFrame);
    }
    Ok(sequence_header)
}

pub(super) fn packetize(
    frame: &[u8],
    max_payload: usize,
    obus: &mut Vec<Obu>,
    buf: &mut Vec<u8>,
    out: &mut dyn FnMut(&[u8], bool),
) -> Result<usize, MediaError> {
    let sequence_header = parse_obus(frame, obus)?;
    let cap = max_payload - 1;
    let mut count = 0;
    let mut idx = 0;
    let mut off = 0;
    while idx < obus.len() {
        buf.clear();
        buf.push(0);
        let mut agg = if off > 0 { Z } else { 0 };
        if count == 0 && sequence_header {
            agg |= N;
        }
        let mut elements = 0usize;
        let mut all_sized = false;
        while let Some(obu) = obus.get(idx) {
            let rest = obu.element_len() - off;
            let room = cap - (buf.len() - 1);
            let more = idx + 1 < obus.len();
            if more && leb128_len(rest) + rest < room {
                // The whole rest fits with its length, and leaves room for more.
                write_leb128(rest, buf);
                obu.write(frame, off, rest, buf);
                elements += 1;
                idx += 1;
                off = 0;
                continue;
            }
            // The packet's last element.
            let take = if elements < 3 {
                // W counts it: no length.
                rest.min(room)
            } else {
                // W=0: every element has a length.
                all_sized = true;
                let len_room = leb128_len(room);
                if room <= len_room {
                    break;
                }
                let take = rest.min(room - len_room);
                write_leb128(take, buf);
                take
            };
            obu.write(frame, off, take, buf);
            elements += 1;
            if take < rest {
                off += take;
                agg |= Y;
            } else {
                idx += 1;
                off = 0;
            }
            break;
        }
        if !all_sized {
            // At most three elements here: the last one was added with `elements < 3`.
            agg |= (elements.min(3) as u8) << W_SHIFT;
        }
        if let Some(h) = buf.first_mut() {
            *h = agg;
        }
        count += 1;
        out(buf, idx >= obus.len());
    }
    Ok(count)
}

/// Calls `f(index, element, last)` for each OBU element of a payload (from 1). Returns
/// the aggregation header.
fn for_each_element<'a>(
    payload: &'a [u8],
    mut f: impl FnMut(usize, &'a [u8], bool) -> Result<(), MediaError>,
) -> Result<u8, MediaError> {
    const BAD: MediaError = MediaError::InvalidPayload("malformed AV1 OBU elements");
    let (&agg, mut rest) = payload.split_first().ok_or(BAD)?;
    let w = usize::from((agg & W_MASK) >> W_SHIFT);
    let mut i = 0;
    while !rest.is_empty() {
        i += 1;
        let element = if i == w {
            // The W-th element has no length: it fills the packet (§4.5).
            core::mem::take(&mut rest)
        } else {
            let (len, n) = read_leb128(rest).ok_or(BAD)?;
            let (element, tail) = rest
                .get(n..)
                .and_then(|r| r.split_at_checked(len))
                .ok_or(BAD)?;
            rest = tail;
            element
        };
        if element.is_empty() {
            return Err(BAD);
        }
        f(i, element, rest.is_empty())?;
    }
    if i == 0 || (w != 0 && i != w) {
        return Err(BAD);
    }
    Ok(agg)
}

pub(super) fn inspect(payload: &[u8]) -> Result<PacketInfo, MediaError> {
    let agg = for_each_element(payload, |_, _, _| Ok(()))?;
    let continuation = agg & Z != 0;
    Ok(PacketInfo {
        may_start: !continuation,
        // N: the first packet of a coded video sequence (§4.4), so of its temporal unit.
        starts_frame: !continuation && agg & N != 0,
        ends_frame: false,
    })
}

/// The N bit: the packet starts a coded video sequence, which begins with a key frame.
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    inspect(payload).is_ok_and(|info| info.starts_frame)
}

/// Starts a temporal unit in `out` with a temporal delimiter (AV1 §7.5: every temporal
/// unit starts with one; the sender dropped it).
pub(super) fn start_temporal_unit(out: &mut Vec<u8>) {
    out.extend_from_slice(&[TEMPORAL_DELIMITER << 3 | HAS_SIZE, 0]);
}

/// Appends one received OBU with its size field set (AV1 §5.3.1), unless it is a
/// temporal delimiter or tile list, which receivers ignore (§5).
fn write_obu(obu: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
    const BAD: MediaError = MediaError::InvalidPayload("malformed OBU");
    let &header = obu.first().ok_or(BAD)?;
    if header & FORBIDDEN != 0 {
        return Err(BAD);
    }
    let hl = 1 + usize::from(header & EXTENSION != 0);
    let head = obu.get(..hl).ok_or(BAD)?;
    let mut payload = obu.get(hl..).ok_or(BAD)?;
    if header & HAS_SIZE != 0 {
        // The sender kept the size field: it must agree with the element's length.
        let (size, n) = read_leb128(payload).ok_or(BAD)?;
        payload = payload.get(n..).filter(|p| p.len() == size).ok_or(BAD)?;
    }
    let t = obu_type(header);
    if t == TEMPORAL_DELIMITER || t == TILE_LIST {
        return Ok(());
    }
    out.push(header | HAS_SIZE);
    out.extend_from_slice(head.get(1..).unwrap_or_default());
    write_leb128(payload.len(), out);
    out.extend_from_slice(payload);
    Ok(())
}

/// Rebuilds a temporal unit from its payloads, in order.
pub(super) struct Assembly<'s> {
    /// The OBU being reassembled from fragments.
    fragment: &'s mut Vec<u8>,
    /// The last payload ended with a fragment (Y=1).
    open: bool,
}

impl<'s> Assembly<'s> {
    pub(super) fn new(scratch: &'s mut Vec<u8>) -> Self {
        scratch.clear();
        Assembly {
            fragment: scratch,
            open: false,
        }
    }

    pub(super) fn push(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), MediaError> {
        let agg = payload.first().copied().unwrap_or(0);
        let (z, y) = (agg & Z != 0, agg & Y != 0);
        if z != self.open {
            return Err(MediaError::InvalidPayload(
                "AV1 fragment without its neighbour",
            ));
        }
        let fragment = &mut *self.fragment;
        for_each_element(payload, |i, element, last| {
            let continues = i == 1 && z;
            let opens = last && y;
            if !continues && !opens {
                return write_obu(element, out);
            }
            if !continues {
                fragment.clear();
            }
            if fragment.len() + element.len() > max {
                return Err(MediaError::FrameTooLarge {
                    size: fragment.len() + element.len(),
                    max,
                });
            }
            fragment.extend_from_slice(element);
            if !opens {
                write_obu(fragment, out)?;
                fragment.clear();
            }
            Ok(())
        })?;
        self.open = y;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<(), MediaError> {
        if self.open {
            return Err(MediaError::InvalidPayload(
                "AV1 temporal unit ends in a fragment",
            ));
        }
        Ok(())
    }
}
