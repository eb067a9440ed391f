//! The frame-level media API: encoded frames in, packetized for the negotiated codec
//! ([`crate::media::Packetizer`]); RTP in, whole frames out
//! ([`crate::media::Depacketizer`]) when [`MediaConfig::frames`](super::MediaConfig::frames)
//! is set.

use super::media::RtpWrite;
use super::*;
use crate::jsep::codecs::CodecKind;
use crate::media::{Codec, Depacketizer, Packetizer};

/// Bytes kept for the RTP header and the extensions the stack writes (12 fixed, 4 of
/// extension header, mid up to 16, abs-send-time, transport-wide sequence, audio level,
/// padded to 32 bits).
const HEADER_ROOM: usize = 48;
/// Largest frame a depacketizer reassembles (a 4K keyframe fits).
pub(super) const MAX_FRAME: usize = 4 << 20;

/// The payload format used for a negotiated codec: G.711 and G.722 are carried one
/// frame per packet, as Opus is.
pub(super) fn payload_format(kind: CodecKind) -> Option<Codec> {
    Some(match kind {
        CodecKind::Opus | CodecKind::Pcmu | CodecKind::Pcma | CodecKind::G722 => Codec::Opus,
        CodecKind::Vp8 => Codec::Vp8,
        CodecKind::Vp9 => Codec::Vp9,
        CodecKind::H264 => Codec::H264,
        CodecKind::Av1 => Codec::Av1,
        CodecKind::Rtx => return None,
    })
}

/// A whole frame received ([`RtcEvent::MediaFrame`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    /// The transceiver.
    pub media: MediaId,
    /// The media SSRC.
    pub ssrc: u32,
    /// The simulcast layer, when the peer sends rids.
    pub rid: Option<String>,
    /// The payload type.
    pub payload_type: u8,
    /// The codec.
    pub codec: CodecKind,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// Whether it decodes on its own (see [`crate::media::Frame::keyframe`]).
    pub keyframe: bool,
    /// The frame: an Opus/G.711 packet, a VP8 or VP9 frame, an H.264 access unit in
    /// Annex B, an AV1 temporal unit.
    pub data: Vec<u8>,
}

impl Rtc {
    /// Packetizes and sends one encoded frame (see [`Media::write_frame`]).
    pub(super) fn write_frame(
        &mut self,
        now: Instant,
        id: MediaId,
        pt: u8,
        timestamp: u32,
        frame: &[u8],
    ) -> Result<(), RtcError> {
        let overhead = self
            .srtp
            .as_ref()
            .map_or(16, |b| b.0.profile().rtp_overhead());
        let max_payload = self
            .config
            .datagram_size
            .saturating_sub(overhead + HEADER_ROOM);
        let t = self
            .media
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or(RtcError::Media("no such transceiver"))?;
        let kind = t
            .codec(pt)
            .and_then(CodecKind::of)
            .ok_or(RtcError::Media("payload type not negotiated"))?;
        let format = payload_format(kind).ok_or(RtcError::Media("not a media payload type"))?;
        let mut packetizer = match t.packetizer.take() {
            Some((p, k)) if p == pt => k,
            _ => {
                let mut k = Packetizer::new(format);
                k.set_picture_id((self.rng.u32() & 0x7fff) as u16);
                k
            }
        };
        let mut result = Ok(());
        let packetized = packetizer.packetize(frame, max_payload, &mut |payload, marker| {
            if result.is_ok() {
                // Audio: the marker is the start of a talkspurt, which the caller knows;
                // a frame here is not one.
                result = self.write_rtp(
                    now,
                    id,
                    RtpWrite::new(pt, timestamp, marker && format != Codec::Opus, payload),
                );
            }
        });
        if let Some(t) = self.media.iter_mut().find(|t| t.id == id) {
            t.packetizer = Some((pt, packetizer));
        }
        packetized.map_err(|_| RtcError::Media("the frame cannot be packetized"))?;
        result
    }

    /// A received packet for the frame-level API: into the stream's depacketizer, and
    /// whole frames out as events.
    pub(super) fn depacketize(&mut self, p: &super::media::RtpPacket) {
        let Some(kind) = p.codec else {
            return;
        };
        let Some(format) = payload_format(kind) else {
            return;
        };
        let Some(slot) = self
            .media
            .iter_mut()
            .find(|t| t.id == p.media)
            .and_then(|t| t.recv.iter_mut().find(|s| s.ssrc == p.ssrc))
        else {
            return;
        };
        if !matches!(&slot.depacketizer, Some((pt, _)) if *pt == p.payload_type) {
            slot.depacketizer = Some((p.payload_type, Depacketizer::new(format, MAX_FRAME)));
        }
        let Some((_, d)) = slot.depacketizer.as_mut() else {
            return;
        };
        let bad = d
            .push(p.sequence_number as u16, p.timestamp, p.marker, p.payload())
            .is_err();
        while let Some(f) = d.pop() {
            if self.events.len() >= self.config.media.max_queued {
                self.stats.media_dropped += 1;
                continue;
            }
            self.events.push_back(RtcEvent::MediaFrame(MediaFrame {
                media: p.media,
                ssrc: p.ssrc,
                rid: p.rid.clone(),
                payload_type: p.payload_type,
                codec: kind,
                timestamp: f.timestamp,
                keyframe: f.keyframe,
                data: f.data,
            }));
        }
        if bad {
            self.stats.media_dropped += 1;
        }
    }
}
