//! H.264 (RFC 6184), packetization-mode 1 (non-interleaved, §6.3).
//!
//! Sending takes an access unit as an Annex B byte stream (H.264 Annex B: start codes
//! `00 00 01` or `00 00 00 01`) and sends each NAL unit that fits as a single NAL unit
//! packet (§5.6), runs of small ones together as STAP-A (§5.7.1), and each one too big as
//! FU-A fragments (§5.8) of nearly equal size. Receiving accepts those three and gives the
//! access unit back as Annex B with 4-byte start codes. STAP-B, MTAP and FU-B belong to
//! the interleaved mode and are refused.

use super::{MediaError, PacketInfo, split_balanced};

const START_CODE: [u8; 4] = [0, 0, 0, 1];
const TYPE_MASK: u8 = 0x1f;
/// The F bit and the NRI field of a NAL unit header (§5.3).
const F_NRI_MASK: u8 = 0xe0;
const F_MASK: u8 = 0x80;
const NRI_MASK: u8 = 0x60;
const IDR: u8 = 5;
const SPS: u8 = 7;
const AUD: u8 = 9;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;
const FU_START: u8 = 0x80;
const FU_END: u8 = 0x40;

/// Finds the next `00 00 01` at or after `from`: its position and the position after it.
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let at = data.get(from..)?.windows(3).position(|w| w == [0, 0, 1])?;
    Some((from + at, from + at + 3))
}

/// The NAL unit types a single NAL unit packet may carry (§5.4, Table 1).
fn is_single_type(t: u8) -> bool {
    (1..=23).contains(&t)
}

/// Splits an Annex B byte stream into NAL unit ranges. Zero bytes before a start code
/// (`trailing_zero_8bits`, and the first byte of a 4-byte start code) belong to no NAL
/// unit: a NAL unit never ends with a zero byte (H.264 §7.4.1).
pub(super) fn split_annex_b(data: &[u8], nals: &mut Vec<(usize, usize)>) -> Result<(), MediaError> {
    nals.clear();
    let (first, mut start) =
        find_start_code(data, 0).ok_or(MediaError::InvalidFrame("no Annex B start code"))?;
    if data.iter().take(first).any(|&b| b != 0) {
        return Err(MediaError::InvalidFrame("data before the first start code"));
    }
    loop {
        let next = find_start_code(data, start);
        let mut end = next.map_or(data.len(), |(at, _)| at);
        while end > start && data.get(end - 1) == Some(&0) {
            end -= 1;
        }
        if let Some(&header) = data.get(start).filter(|_| end > start) {
            if !is_single_type(header & TYPE_MASK) {
                return Err(MediaError::InvalidFrame("NAL unit type outside 1..=23"));
            }
            nals.push((start, end));
        }
        match next {
            Some((_, after)) => start = after,
            None => break,
        }
    }
    if nals.is_empty() {
        return Err(MediaError::EmptyFrame);
    }
    Ok(())
}

pub(super) fn packetize(
    frame: &[u8],
    max_payload: usize,
    nals: &mut Vec<(usize, usize)>,
    buf: &mut Vec<u8>,
    out: &mut dyn FnMut(&[u8], bool),
) -> Result<usize, MediaError> {
    split_annex_b(frame, nals)?;
    let unit = |i: usize| {
        nals.get(i)
            .and_then(|&(s, e)| frame.get(s..e))
            .unwrap_or_default()
    };
    let n = nals.len();
    let mut count = 0;
    let mut i = 0;
    while i < n {
        let nal = unit(i);
        if nal.len() > max_payload {
            // FU-A (§5.8): the FU indicator keeps F and NRI, the FU header the type; the
            // NAL unit header itself is not sent.
            let Some((&header, body)) = nal.split_first() else {
                break;
            };
            let cap = max_payload - 2;
            let pieces = body.len().div_ceil(cap);
            for (k, piece) in split_balanced(body, cap).enumerate() {
                let mut fu = header & TYPE_MASK;
                if k == 0 {
                    fu |= FU_START;
                }
                if k + 1 == pieces {
                    fu |= FU_END;
                }
                buf.clear();
                buf.extend_from_slice(&[header & F_NRI_MASK | FU_A, fu]);
                buf.extend_from_slice(piece);
                count += 1;
                out(buf, i + 1 == n && k + 1 == pieces);
            }
            i += 1;
            continue;
        }
        // As many following NAL units as fit in one STAP-A (§5.7.1): a 1-byte header,
        // then a 16-bit size before each.
        let mut j = i;
        let mut size = 1;
        while j < n {
            let u = unit(j);
            if u.len() > usize::from(u16::MAX) || size + 2 + u.len() > max_payload {
                break;
            }
            size += 2 + u.len();
            j += 1;
        }
        if j - i >= 2 {
            buf.clear();
            buf.push(0);
            let mut f_nri = 0u8;
            for k in i..j {
                let u = unit(k);
                let first = u.first().copied().unwrap_or(0);
                // F is the OR of the aggregated units' F bits, NRI their maximum (§5.7).
                f_nri = (f_nri | first) & F_MASK | (f_nri & NRI_MASK).max(first & NRI_MASK);
                buf.extend_from_slice(&(u.len() as u16).to_be_bytes());
                buf.extend_from_slice(u);
            }
            if let Some(h) = buf.first_mut() {
                *h = f_nri | STAP_A;
            }
            count += 1;
            out(buf, j == n);
            i = j;
        } else {
            count += 1;
            out(nal, i + 1 == n);
            i += 1;
        }
    }
    Ok(count)
}

/// Calls `f` on each NAL unit of a STAP-A payload (after its header), checking the sizes.
fn for_each_stap_unit<'a>(
    mut rest: &'a [u8],
    mut f: impl FnMut(&'a [u8]),
) -> Result<(), MediaError> {
    const BAD: MediaError = MediaError::InvalidPayload("malformed STAP-A");
    if rest.is_empty() {
        return Err(BAD);
    }
    while !rest.is_empty() {
        let (size, tail) = rest.split_first_chunk::<2>().ok_or(BAD)?;
        let (nal, tail) = tail
            .split_at_checked(usize::from(u16::from_be_bytes(*size)))
            .ok_or(BAD)?;
        match nal.first() {
            Some(h) if is_single_type(h & TYPE_MASK) => f(nal),
            _ => return Err(BAD),
        }
        rest = tail;
    }
    Ok(())
}

/// The FU header of an FU-A payload, and the fragment after it.
fn fu_a(payload: &[u8]) -> Result<(u8, &[u8]), MediaError> {
    match payload.get(1..).and_then(<[u8]>::split_first) {
        Some((&fu, body)) if is_single_type(fu & TYPE_MASK) && !body.is_empty() => Ok((fu, body)),
        _ => Err(MediaError::InvalidPayload("malformed FU-A")),
    }
}

pub(super) fn inspect(payload: &[u8]) -> Result<PacketInfo, MediaError> {
    let Some((&header, rest)) = payload.split_first() else {
        return Err(MediaError::InvalidPayload("empty payload"));
    };
    // An access unit delimiter, or an SPS (which in practice opens an IDR access unit),
    // can only be the first NAL unit of an access unit (H.264 §7.4.1.2.3).
    let opens_access_unit = |t: u8| t == AUD || t == SPS;
    match header & TYPE_MASK {
        t if is_single_type(t) => Ok(PacketInfo {
            may_start: true,
            starts_frame: opens_access_unit(t),
            ends_frame: false,
        }),
        STAP_A => {
            let mut first = None;
            for_each_stap_unit(rest, |nal| {
                first = first.or(nal.first().map(|h| h & TYPE_MASK));
            })?;
            Ok(PacketInfo {
                may_start: true,
                starts_frame: first.is_some_and(opens_access_unit),
                ends_frame: false,
            })
        }
        FU_A => {
            let (fu, _) = fu_a(payload)?;
            let start = fu & FU_START != 0;
            Ok(PacketInfo {
                may_start: start,
                starts_frame: start && opens_access_unit(fu & TYPE_MASK),
                ends_frame: false,
            })
        }
        25..=27 | 29 => Err(MediaError::Unsupported(
            "H.264 interleaved mode (STAP-B, MTAP, FU-B)",
        )),
        _ => Err(MediaError::InvalidPayload("reserved H.264 NAL unit type")),
    }
}

/// The packet holds an IDR slice or an SPS (or starts a fragmented one).
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    let key = |t: u8| t == IDR || t == SPS;
    let Some((&header, rest)) = payload.split_first() else {
        return false;
    };
    match header & TYPE_MASK {
        STAP_A => {
            let mut found = false;
            let ok = for_each_stap_unit(rest, |nal| {
                found |= nal.first().is_some_and(|h| key(h & TYPE_MASK));
            });
            ok.is_ok() && found
        }
        FU_A => fu_a(payload).is_ok_and(|(fu, _)| fu & FU_START != 0 && key(fu & TYPE_MASK)),
        t => key(t),
    }
}

/// Rebuilds an access unit from its payloads, in order.
#[derive(Debug, Default)]
pub(super) struct Assembly {
    /// The NAL unit type of the FU-A being reassembled.
    fu: Option<u8>,
    /// An IDR slice was seen.
    idr: bool,
}

impl Assembly {
    pub(super) fn push(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        let Some((&header, rest)) = payload.split_first() else {
            return Err(MediaError::InvalidPayload("empty payload"));
        };
        let t = header & TYPE_MASK;
        if t != FU_A && self.fu.is_some() {
            return Err(MediaError::InvalidPayload("FU-A without its end"));
        }
        match t {
            t if is_single_type(t) => {
                self.idr |= t == IDR;
                out.extend_from_slice(&START_CODE);
                out.extend_from_slice(payload);
            }
            STAP_A => {
                let idr = &mut self.idr;
                for_each_stap_unit(rest, |nal| {
                    *idr |= nal.first().is_some_and(|h| h & TYPE_MASK == IDR);
                    out.extend_from_slice(&START_CODE);
                    out.extend_from_slice(nal);
                })?;
            }
            FU_A => {
                let (fu, body) = fu_a(payload)?;
                let t = fu & TYPE_MASK;
                if fu & FU_START != 0 {
                    if self.fu.is_some() {
                        return Err(MediaError::InvalidPayload("FU-A without its end"));
                    }
                    // The NAL unit header comes back from the indicator's F and NRI and
                    // the FU header's type (§5.8).
                    self.idr |= t == IDR;
                    self.fu = Some(t);
                    out.extend_from_slice(&START_CODE);
                    out.push(header & F_NRI_MASK | t);
                } else if self.fu != Some(t) {
                    return Err(MediaError::InvalidPayload("FU-A without its start"));
                }
                out.extend_from_slice(body);
                if fu & FU_END != 0 {
                    self.fu = None;
                }
            }
            _ => return Err(MediaError::Unsupported("H.264 packet type")),
        }
        Ok(())
    }

    /// Ends the access unit; returns whether it holds an IDR picture.
    pub(super) fn finish(self) -> Result<bool, MediaError> {
        if self.fu.is_some() {
            return Err(MediaError::InvalidPayload("FU-A without its end"));
        }
        Ok(self.idr)
    }
}
