//! Packetizers and depacketizers for Opus, VP8, VP9, H.264 and AV1.
//!
//! A [`Packetizer`] splits one encoded frame into RTP payloads that fit a size limit; a
//! [`Depacketizer`] takes RTP payloads as they arrive (out of order, duplicated or with
//! losses) and gives back whole frames, in decoding order, never one with a packet missing.
//! Neither touches RTP headers: the caller passes the sequence number, timestamp and marker
//! bit alongside each payload, and sets the marker bit the packetizer asks for.
//!
//! | codec | payload format | frame in / out |
//! |---|---|---|
//! | [`Codec::Opus`] | RFC 7587: one frame per packet, never split | an Opus packet |
//! | [`Codec::Vp8`] | RFC 7741: payload descriptor with a 15-bit PictureID | a VP8 frame |
//! | [`Codec::Vp9`] | RFC 9628: non-flexible mode, 15-bit picture ID, SS on keyframes | a VP9 frame (or superframe) |
//! | [`Codec::H264`] | RFC 6184, packetization-mode 1: single NAL, STAP-A, FU-A | an access unit as an Annex B byte stream |
//! | [`Codec::Av1`] | AV1 RTP payload format v1.0 | a temporal unit in the low-overhead bitstream format |
//!
//! ```
//! use sansrtc::media::{Codec, Depacketizer, Packetizer};
//!
//! let mut packetizer = Packetizer::new(Codec::Vp8);
//! let mut depacketizer = Depacketizer::new(Codec::Vp8, 1 << 20);
//! let frame = vec![0x10u8; 3000]; // a VP8 keyframe would start with its frame tag
//! let mut payloads = Vec::new();
//! packetizer.packetize(&frame, 1200, &mut |p: &[u8], marker: bool| payloads.push((p.to_vec(), marker)))?;
//! assert_eq!(payloads.len(), 3);
//! // Deliver them out of order: the frame comes out once the last one arrives.
//! for (i, (p, marker)) in payloads.iter().enumerate().rev() {
//!     depacketizer.push(1000 + i as u16, 90_000, *marker, p)?;
//! }
//! let out = depacketizer.pop().expect("complete");
//! assert_eq!(out.data, frame);
//! assert!(depacketizer.pop().is_none());
//! # Ok::<(), sansrtc::media::MediaError>(())
//! ```
//!
//! What is not supported: sending VP8 partitions in separate packets, VP9 flexible mode,
//! layer indices or spatial layers, and H.264 interleaved mode (STAP-B, MTAP, FU-B:
//! refused on receive). Received VP9 spatial layers of one picture come out concatenated,
//! which libvpx decodes as it would a superframe. Frames come out in sequence number
//! order, which is decoding order; it equals timestamp order unless the sender reorders
//! frames (H.264 B-frames).
//!
//! Memory is bounded: the depacketizer holds at most [`MAX_PENDING_FRAMES`] frames, each
//! at most `max_frame_size` payload bytes, and about eight times `max_frame_size` bytes
//! in all ([`Depacketizer::max_buffered_bytes`]). The packetizer keeps one reusable
//! payload buffer.

mod av1;
mod h264;
mod jitter;
mod opus;
mod vp8;
mod vp9;

#[cfg(test)]
mod tests;

pub use jitter::{DEFAULT_REORDER_FRAMES, Depacketizer, MAX_FRAME_PACKETS, MAX_PENDING_FRAMES};

/// A codec with an RTP payload format here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus audio (RFC 7587).
    Opus,
    /// VP8 video (RFC 7741).
    Vp8,
    /// VP9 video (RFC 9628).
    Vp9,
    /// H.264 video (RFC 6184, packetization-mode 1).
    H264,
    /// AV1 video (AOM "RTP Payload Format For AV1" v1.0).
    Av1,
}

impl Codec {
    /// All codecs, for iterating in tests and tools.
    pub const ALL: [Codec; 5] = [Codec::Opus, Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1];

    /// The smallest `max_payload` [`Packetizer::packetize`] accepts for this codec: room
    /// for the payload header and one byte of the frame.
    pub fn min_payload(self) -> usize {
        match self {
            Codec::Opus => 1,
            Codec::Vp8 => vp8::DESCRIPTOR_LEN + 1,
            // The descriptor, plus a scalability structure on keyframes.
            Codec::Vp9 => vp9::DESCRIPTOR_LEN + vp9::SS_LEN + 1,
            // An FU-A indicator and header, and one byte.
            Codec::H264 => 3,
            // The aggregation header and one byte of an OBU element.
            Codec::Av1 => 2,
        }
    }
}

/// Errors of the packetizers and depacketizers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// `max_payload` cannot hold the payload header and any data
    /// (see [`Codec::min_payload`]).
    #[error("max_payload {max} is too small (at least {min} bytes)")]
    MaxPayloadTooSmall {
        /// The limit given.
        max: usize,
        /// The smallest limit this codec accepts.
        min: usize,
    },
    /// The frame is larger than a limit: an Opus frame over `max_payload` (Opus frames are
    /// never split), or a received frame over the depacketizer's `max_frame_size`.
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The frame size (for a received frame: at least this many bytes).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// There is nothing to send: an empty frame, or one with no NAL unit or OBU to carry.
    #[error("empty frame")]
    EmptyFrame,
    /// The frame given to the packetizer is not a valid bitstream for the codec
    /// (no Annex B start code, a truncated OBU, ...).
    #[error("invalid frame: {0}")]
    InvalidFrame(&'static str),
    /// A received payload is malformed (and was not used).
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
    /// A received payload uses a feature this implementation does not support (H.264
    /// interleaved-mode packet types).
    #[error("unsupported payload: {0}")]
    Unsupported(&'static str),
    /// The depacketizer's buffer had no room for the packet even after dropping the
    /// oldest frames; the packet was not used.
    #[error("reorder buffer full")]
    BufferFull,
}

/// A complete frame out of a [`Depacketizer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame: an Opus packet, a VP8 or VP9 frame, an H.264 access unit in Annex B
    /// (4-byte start codes), or an AV1 temporal unit (low-overhead format, starting with
    /// a temporal delimiter, every OBU with its size field).
    pub data: Vec<u8>,
    /// The RTP timestamp of its packets.
    pub timestamp: u32,
    /// Whether the frame can be decoded on its own: a VP8 key frame (RFC 7741 §4.3), a
    /// VP9 picture that is not inter-predicted on its base spatial layer (RFC 9628 §4.2),
    /// an H.264 access unit with an IDR picture, an AV1 temporal unit that starts a coded
    /// video sequence (N bit). Always true for Opus.
    pub keyframe: bool,
    /// The sequence number of its first packet.
    pub first_seq: u16,
    /// The sequence number of its last packet.
    pub last_seq: u16,
}

/// Splits frames into RTP payloads no larger than a given size.
///
/// It keeps the VP8 and VP9 picture ID (incremented per frame) and reusable buffers; one
/// packetizer serves one RTP stream.
#[derive(Debug, Clone)]
pub struct Packetizer {
    codec: Codec,
    picture_id: u16,
    buf: Vec<u8>,
    /// H.264 NAL unit ranges of the frame being packetized.
    nals: Vec<(usize, usize)>,
    /// AV1 OBUs of the frame being packetized.
    obus: Vec<av1::Obu>,
}

impl Packetizer {
    /// A packetizer for `codec`. The VP8/VP9 picture ID starts at 0; see
    /// [`Packetizer::set_picture_id`] to start elsewhere (RFC 7741 §4.2 suggests a random
    /// start).
    pub fn new(codec: Codec) -> Self {
        Packetizer {
            codec,
            picture_id: 0,
            buf: Vec::new(),
            nals: Vec::new(),
            obus: Vec::new(),
        }
    }

    /// The codec this packetizer was made for.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Sets the 15-bit picture ID the next VP8 or VP9 frame carries (higher bits are
    /// ignored).
    pub fn set_picture_id(&mut self, id: u16) {
        self.picture_id = id & 0x7fff;
    }

    /// The picture ID the next VP8 or VP9 frame will carry.
    pub fn picture_id(&self) -> u16 {
        self.picture_id
    }

    /// Calls `out(payload, marker)` for each RTP payload of `frame`, in order, with the
    /// marker bit set on the last one, and returns how many there were. Every payload is
    /// at most `max_payload` bytes (the RTP packet's room after its header, extensions
    /// and SRTP tag). All payloads of a frame share one RTP timestamp and take
    /// consecutive sequence numbers.
    ///
    /// Opus gives the marker bit another meaning, the first packet of a talkspurt (RFC
    /// 7587 §4.1, RFC 3551 §4.1), which only the caller knows: it is always `false` here.
    ///
    /// On error nothing was given to `out` and the picture ID did not move.
    pub fn packetize(
        &mut self,
        frame: &[u8],
        max_payload: usize,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<usize, MediaError> {
        let min = self.codec.min_payload();
        if max_payload < min {
            return Err(MediaError::MaxPayloadTooSmall {
                max: max_payload,
                min,
            });
        }
        if frame.is_empty() {
            return Err(MediaError::EmptyFrame);
        }
        match self.codec {
            Codec::Opus => opus::packetize(frame, max_payload, out),
            Codec::Vp8 => {
                let n = vp8::packetize(frame, max_payload, self.picture_id, &mut self.buf, out);
                self.picture_id = (self.picture_id + 1) & 0x7fff;
                Ok(n)
            }
            Codec::Vp9 => {
                let n = vp9::packetize(frame, max_payload, self.picture_id, &mut self.buf, out);
                self.picture_id = (self.picture_id + 1) & 0x7fff;
                Ok(n)
            }
            Codec::H264 => h264::packetize(frame, max_payload, &mut self.nals, &mut self.buf, out),
            Codec::Av1 => av1::packetize(frame, max_payload, &mut self.obus, &mut self.buf, out),
        }
    }
}

/// Whether the RTP payload, the first packet of a frame, starts a frame that can be
/// decoded on its own. Malformed payloads are not keyframes.
///
/// - Opus: always true (every packet decodes on its own).
/// - VP8: S=1, PID=0 and the P bit of the VP8 payload header clear (RFC 7741 §4.3).
/// - VP9: B=1, P=0, and spatial layer 0 when layer indices are present (RFC 9628 §4.2).
/// - H.264: the packet holds an IDR slice (type 5) or a sequence parameter set (type 7),
///   which starts the access unit of an IDR picture (RFC 6184 §5.4; the IDR itself may be
///   in a later packet).
/// - AV1: the N bit, set on the first packet of a coded video sequence (AV1 RTP §4.4).
pub fn is_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Opus => !payload.is_empty(),
        Codec::Vp8 => vp8::is_keyframe(payload),
        Codec::Vp9 => vp9::is_keyframe(payload),
        Codec::H264 => h264::is_keyframe(payload),
        Codec::Av1 => av1::is_keyframe(payload),
    }
}

/// What the reorder buffer needs to know of one packet, from its payload header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PacketInfo {
    /// The payload begins a codec unit, so the packet can be the first of a frame
    /// (VP8 S=1 with PID 0, VP9 B=1, an H.264 NAL unit or FU-A start, AV1 Z=0).
    pub may_start: bool,
    /// The packet is certainly the first of its frame, whatever came before it (VP8 and
    /// VP9 start bits, an H.264 access unit delimiter or SPS, the AV1 N bit, any Opus
    /// packet).
    pub starts_frame: bool,
    /// The packet is certainly the last of its frame, whatever its marker bit (Opus: one
    /// frame per packet).
    pub ends_frame: bool,
}

/// Parses and checks one received payload's headers.
pub(crate) fn inspect(codec: Codec, payload: &[u8]) -> Result<PacketInfo, MediaError> {
    if payload.is_empty() {
        return Err(MediaError::InvalidPayload("empty payload"));
    }
    match codec {
        Codec::Opus => Ok(PacketInfo {
            may_start: true,
            starts_frame: true,
            ends_frame: true,
        }),
        Codec::Vp8 => vp8::inspect(payload),
        Codec::Vp9 => vp9::inspect(payload),
        Codec::H264 => h264::inspect(payload),
        Codec::Av1 => av1::inspect(payload),
    }
}

/// Rebuilds one frame from its payloads (in sequence order) into `out`, failing when the
/// frame would exceed `max` bytes or its payloads do not fit together. Returns whether it
/// is a keyframe.
pub(crate) fn assemble<'a>(
    codec: Codec,
    payloads: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
    max: usize,
    scratch: &mut Vec<u8>,
) -> Result<bool, MediaError> {
    let mut first = true;
    let mut keyframe = false;
    let mut h264 = h264::Assembly::default();
    let mut av1 = av1::Assembly::new(scratch);
    if codec == Codec::Av1 {
        av1::start_temporal_unit(out);
    }
    for p in payloads {
        if first && codec != Codec::H264 {
            keyframe = is_keyframe(codec, p);
        }
        first = false;
        match codec {
            Codec::Opus => out.extend_from_slice(p),
            Codec::Vp8 => out.extend_from_slice(vp8::body(p)?),
            Codec::Vp9 => out.extend_from_slice(vp9::body(p)?),
            Codec::H264 => h264.push(p, out)?,
            Codec::Av1 => av1.push(p, out, max)?,
        }
        if out.len() > max {
            return Err(MediaError::FrameTooLarge {
                size: out.len(),
                max,
            });
        }
    }
    match codec {
        Codec::H264 => keyframe = h264.finish()?,
        Codec::Av1 => av1.finish()?,
        _ => {}
    }
    Ok(keyframe)
}

/// Splits `data` into `ceil(len / cap)` pieces of nearly equal size (larger ones first),
/// each at most `cap` bytes, so no packet of a frame is much smaller than the others.
pub(crate) fn split_balanced(data: &[u8], cap: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    let mut left = data.len().div_ceil(cap.max(1));
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let size = rest.len().div_ceil(left);
        let (piece, tail) = rest.split_at_checked(size)?;
        rest = tail;
        left -= 1;
        Some(piece)
    })
}
