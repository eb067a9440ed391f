//! Transceivers: the audio and video m-lines of a peer connection, their negotiated
//! codecs and header extensions, their SSRCs, and the handle the host sends through
//! ([`Media`]).

use super::*;
use crate::jsep::codecs::{
    CodecKind, default_audio_codecs, default_audio_extensions, default_video_codecs,
    default_video_extensions, uri,
};
use crate::jsep::{Codec, Direction, Extmap, MediaDesc, MediaKind, Msid, SsrcDesc, SsrcGroup};
use crate::rng::Rng;
use crate::rtp::stream::{RecvStats, RecvStream, SendStats, SendStream};
use crate::rtp::wire::ext::AudioLevel;
use std::sync::{Arc, OnceLock};

/// A transceiver's handle in an [`Rtc`]: one audio or video m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaId(pub u32);

/// Media settings of a peer connection.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Audio codecs we offer and accept, best first. Default: Opus, PCMU, PCMA.
    ///
    /// The four lists are shared (`Arc`): every default config points at one copy, so a
    /// server with thousands of connections keeps one. To change one, assign a new list
    /// or edit it in place with `Arc::make_mut(&mut config.media.video_codecs)`.
    pub audio_codecs: Arc<Vec<Codec>>,
    /// Video codecs we offer and accept, best first, with their RTX. Default: VP8, VP9,
    /// H.264 (constrained baseline and baseline, packetization mode 1), AV1.
    pub video_codecs: Arc<Vec<Codec>>,
    /// Audio header extensions we offer and accept.
    pub audio_extensions: Arc<Vec<Extmap>>,
    /// Video header extensions we offer and accept.
    pub video_extensions: Arc<Vec<Extmap>>,
    /// Our direction for m-lines a remote offer adds. Default sendrecv (we may send
    /// back; a host that never writes simply sends nothing).
    pub answer_direction: Direction,
    /// Most transceivers. Default 64.
    pub max_media: usize,
    /// Most incoming SSRCs per transceiver (simulcast layers). Default 8.
    pub max_receive_streams: usize,
    /// Video packets kept per outgoing stream for retransmission (NACK). Default 1024.
    pub video_history: usize,
    /// Audio packets kept per outgoing stream. Default 0 (audio is not retransmitted).
    pub audio_history: usize,
    /// Most SRTP/SRTCP datagrams waiting to be handed out by `poll_transmit` (writes
    /// beyond fail and are counted), and most media events waiting for `poll_event`
    /// (packets beyond are dropped and counted in `RtcStats::media_dropped`). Default
    /// 1024.
    pub max_queued: usize,
    /// Largest RTP packet (before SRTP) `write_rtp` takes: an SFU forwards what senders
    /// send, which may exceed what the stack itself builds (`RtcConfig::datagram_size`).
    /// Default 1436: with the 16-byte SRTP tag, a 1500-byte path MTU over IPv6.
    /// `poll_transmit` buffers must hold this plus 16 bytes.
    pub max_rtp_size: usize,
    /// Interval between regular RTCP reports (RFC 3550 §6.2; randomized ±50 %, §6.3.5).
    /// Default 1 s.
    pub rtcp_interval: Duration,
    /// Deliver received media as whole frames, [`RtcEvent::MediaFrame`] (depacketized,
    /// for endpoints), instead of packets, [`RtcEvent::MediaRtp`] (for SFUs). Default
    /// `false`.
    pub frames: bool,
}

/// The default codec and extension lists, built once per process.
type DefaultLists = (
    Arc<Vec<Codec>>,
    Arc<Vec<Codec>>,
    Arc<Vec<Extmap>>,
    Arc<Vec<Extmap>>,
);

fn default_lists() -> &'static DefaultLists {
    static LISTS: OnceLock<DefaultLists> = OnceLock::new();
    LISTS.get_or_init(|| {
        (
            Arc::new(default_audio_codecs()),
            Arc::new(default_video_codecs()),
            Arc::new(default_audio_extensions()),
            Arc::new(default_video_extensions()),
        )
    })
}

impl Default for MediaConfig {
    fn default() -> Self {
        let (ac, vc, ae, ve) = default_lists();
        MediaConfig {
            audio_codecs: ac.clone(),
            video_codecs: vc.clone(),
            audio_extensions: ae.clone(),
            video_extensions: ve.clone(),
            answer_direction: Direction::SendRecv,
            max_media: 64,
            max_receive_streams: 8,
            video_history: 1024,
            audio_history: 0,
            max_queued: 1024,
            max_rtp_size: 1436,
            rtcp_interval: Duration::from_secs(1),
            frames: false,
        }
    }
}

/// The ids of the header extensions the stack reads and writes itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ExtIds {
    pub(super) mid: Option<u8>,
    pub(super) rid: Option<u8>,
    pub(super) repaired_rid: Option<u8>,
    pub(super) abs_send_time: Option<u8>,
    pub(super) twcc: Option<u8>,
    pub(super) audio_level: Option<u8>,
}

impl ExtIds {
    fn of(exts: &[Extmap]) -> ExtIds {
        let id = |u: &str| exts.iter().find(|e| e.uri == u).map(|e| e.id);
        ExtIds {
            mid: id(uri::MID),
            rid: id(uri::RID),
            repaired_rid: id(uri::REPAIRED_RID),
            abs_send_time: id(uri::ABS_SEND_TIME),
            twcc: id(uri::TWCC),
            audio_level: id(uri::AUDIO_LEVEL),
        }
    }
}

/// One incoming stream of a transceiver.
pub(super) struct RecvSlot {
    pub(super) ssrc: u32,
    pub(super) rtx_ssrc: Option<u32>,
    pub(super) rid: Option<String>,
    pub(super) stream: RecvStream,
    /// Whether the stream's NACKs go out (video with `nack` negotiated).
    pub(super) nack: bool,
    /// The FIR command sequence number (RFC 5104 §4.3.1.1).
    pub(super) fir_seq: u8,
    /// Frame reassembly (frame-level API), for the payload type last seen.
    pub(super) depacketizer: Option<(u8, crate::media::Depacketizer)>,
}

/// What the peer said about its side of an m-line.
#[derive(Debug, Clone, Default)]
pub(super) struct RemoteMedia {
    /// Media SSRCs and their RTX SSRCs (`a=ssrc`, `a=ssrc-group:FID`).
    pub(super) ssrcs: Vec<(u32, Option<u32>)>,
    /// Rids it sends (simulcast).
    pub(super) rids: Vec<String>,
    /// Reduced-size RTCP accepted.
    pub(super) rsize: bool,
}

/// An audio or video m-line.
pub(super) struct Transceiver {
    pub(super) id: MediaId,
    pub(super) kind: MediaKind,
    pub(super) mid: Option<String>,
    /// What the host wants.
    pub(super) wanted: Direction,
    /// What was negotiated, from our side (`None` before).
    pub(super) current: Option<Direction>,
    /// Codecs and extensions we offer (or, for an m-line the peer offered, what we
    /// answered, so later offers keep its payload types).
    pub(super) local_codecs: Vec<Codec>,
    pub(super) local_exts: Vec<Extmap>,
    /// Negotiated.
    pub(super) codecs: Vec<Codec>,
    pub(super) exts: Vec<Extmap>,
    pub(super) ext_ids: ExtIds,
    pub(super) msid: Msid,
    /// Our SSRCs: media and RTX (RTX used when negotiated).
    pub(super) ssrc: u32,
    pub(super) rtx_ssrc: u32,
    pub(super) send: Option<SendStream>,
    pub(super) next_seq: u16,
    pub(super) remote: RemoteMedia,
    pub(super) recv: Vec<RecvSlot>,
    /// The last REMB the peer sent for our stream, in bits per second.
    pub(super) remb: Option<u64>,
    pub(super) history: usize,
    /// PLIs and FIRs we sent.
    pub(super) keyframe_requests_sent: u64,
    /// The packetizer of the frame-level API, for the payload type last used.
    pub(super) packetizer: Option<(u8, crate::media::Packetizer)>,
}

fn random_id(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| {
            let i = rng.below(ALPHABET.len() as u64) as usize;
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

pub(super) fn new_cname(rng: &mut Rng) -> String {
    random_id(rng, 16)
}

pub(super) fn new_stream_id(rng: &mut Rng) -> String {
    random_id(rng, 20)
}

impl Transceiver {
    pub(super) fn new(
        id: MediaId,
        kind: MediaKind,
        wanted: Direction,
        rng: &mut Rng,
        config: &MediaConfig,
        stream_id: &str,
    ) -> Transceiver {
        let video = kind == MediaKind::Video;
        let (codecs, exts) = if video {
            (
                config.video_codecs.to_vec(),
                config.video_extensions.to_vec(),
            )
        } else {
            (
                config.audio_codecs.to_vec(),
                config.audio_extensions.to_vec(),
            )
        };
        let ssrc = rng.u32() | 1;
        let mut rtx_ssrc = rng.u32() | 1;
        if rtx_ssrc == ssrc {
            rtx_ssrc ^= 2;
        }
        Transceiver {
            id,
            kind,
            mid: None,
            wanted,
            current: None,
            local_codecs: codecs,
            local_exts: exts,
            codecs: Vec::new(),
            exts: Vec::new(),
            ext_ids: ExtIds::default(),
            msid: Msid {
                stream: stream_id.to_string(),
                track: random_id(rng, 20),
            },
            ssrc,
            rtx_ssrc,
            send: None,
            next_seq: (rng.u32() & 0x7fff) as u16,
            remote: RemoteMedia::default(),
            recv: Vec::new(),
            remb: None,
            keyframe_requests_sent: 0,
            packetizer: None,
            history: if video {
                config.video_history
            } else {
                config.audio_history
            },
        }
    }

    fn uses_rtx(codecs: &[Codec]) -> bool {
        codecs.iter().any(|c| c.is("rtx"))
    }

    /// The RTP side of our offer.
    pub(super) fn offer_desc(&self, cname: &str) -> MediaDesc {
        self.desc(cname, self.wanted, &self.local_codecs, &self.local_exts)
    }

    /// The RTP side of our answer.
    pub(super) fn answer_desc(&self, cname: &str, direction: Direction) -> MediaDesc {
        self.desc(cname, direction, &self.codecs, &self.exts)
    }

    fn desc(
        &self,
        cname: &str,
        direction: Direction,
        codecs: &[Codec],
        exts: &[Extmap],
    ) -> MediaDesc {
        let mut d = MediaDesc {
            direction,
            codecs: codecs.to_vec(),
            extmaps: exts.to_vec(),
            msid: Some(self.msid.clone()),
            rtcp_rsize: true,
            ..MediaDesc::default()
        };
        if direction.sends() {
            d.ssrcs.push(SsrcDesc {
                ssrc: self.ssrc,
                cname: Some(cname.to_string()),
            });
            if Self::uses_rtx(codecs) {
                d.ssrcs.push(SsrcDesc {
                    ssrc: self.rtx_ssrc,
                    cname: Some(cname.to_string()),
                });
                d.ssrc_groups.push(SsrcGroup {
                    semantics: "FID".into(),
                    ssrcs: vec![self.ssrc, self.rtx_ssrc],
                });
            }
        }
        d
    }

    /// Takes a negotiated result.
    pub(super) fn apply_remote(
        &mut self,
        remote: &MediaDesc,
        codecs: Vec<Codec>,
        exts: Vec<Extmap>,
        direction: Direction,
        recv_rids: &[String],
    ) {
        self.ext_ids = ExtIds::of(&exts);
        self.codecs = codecs;
        self.exts = exts;
        self.current = Some(direction);
        let mut ssrcs = Vec::new();
        for s in remote.ssrcs.iter().take(crate::jsep::MAX_SSRCS) {
            // RTX SSRCs are the second of an FID group.
            let is_rtx = remote
                .ssrc_groups
                .iter()
                .any(|g| g.semantics == "FID" && g.ssrcs.get(1) == Some(&s.ssrc));
            if !is_rtx {
                ssrcs.push((s.ssrc, remote.rtx_ssrc(s.ssrc)));
            }
        }
        self.remote = RemoteMedia {
            ssrcs,
            rids: recv_rids.to_vec(),
            rsize: remote.rtcp_rsize,
        };
    }

    /// The m-line was rejected: nothing flows.
    pub(super) fn reject(&mut self) {
        self.current = Some(Direction::Inactive);
        self.codecs.clear();
        self.send = None;
        self.recv.clear();
    }

    /// The negotiated codec of payload type `pt`.
    pub(super) fn codec(&self, pt: u8) -> Option<&Codec> {
        self.codecs.iter().find(|c| c.payload_type == pt)
    }

    /// The RTX payload types mapped from the media payload types they repair.
    pub(super) fn rtx_map(&self) -> Vec<(u8, u8)> {
        self.codecs
            .iter()
            .filter_map(|c| Some((c.apt()?, c.payload_type)))
            .collect()
    }

    /// Whether the peer asked for `fb` feedback on any of the negotiated codecs.
    pub(super) fn has_feedback(&self, fb: &str) -> bool {
        self.codecs.iter().any(|c| c.has_feedback(fb))
    }

    pub(super) fn sending(&self) -> bool {
        self.current.is_some_and(Direction::sends)
    }

    pub(super) fn receiving(&self) -> bool {
        self.current.is_some_and(Direction::receives)
    }
}

/// An RTP packet to send on a transceiver ([`Media::write_rtp`]).
#[derive(Debug, Clone, Copy)]
pub struct RtpWrite<'a> {
    /// A negotiated payload type.
    pub payload_type: u8,
    /// The sequence number; `None` takes the transceiver's next one. An SFU forwarding
    /// a stream passes the incoming numbers so gaps stay gaps.
    pub sequence_number: Option<u16>,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit (end of a video frame, start of an audio talkspurt).
    pub marker: bool,
    /// The payload.
    pub payload: &'a [u8],
    /// The audio level to put in the RFC 6464 extension when negotiated.
    pub audio_level: Option<AudioLevel>,
    /// Further header extension elements, by negotiated id (see
    /// [`Media::extensions`]); the stack writes mid, abs-send-time and the
    /// transport-wide sequence number itself.
    pub extensions: &'a [(u8, &'a [u8])],
}

impl<'a> RtpWrite<'a> {
    /// A packet with payload type, timestamp, marker and payload; the rest default.
    pub fn new(payload_type: u8, timestamp: u32, marker: bool, payload: &'a [u8]) -> Self {
        RtpWrite {
            payload_type,
            sequence_number: None,
            timestamp,
            marker,
            payload,
            audio_level: None,
            extensions: &[],
        }
    }
}

/// A received RTP packet, after SRTP, with RTX undone ([`RtcEvent::MediaRtp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// The transceiver.
    pub media: MediaId,
    /// The media SSRC.
    pub ssrc: u32,
    /// The simulcast layer, when the peer sends rids.
    pub rid: Option<String>,
    /// The payload type.
    pub payload_type: u8,
    /// The codec of the payload type.
    pub codec: Option<CodecKind>,
    /// The sequence number, extended to 64 bits across wraps.
    pub sequence_number: u64,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The marker bit.
    pub marker: bool,
    /// Whether it came as a retransmission (RTX or a repeated packet that filled a gap).
    pub repaired: bool,
    /// The audio level extension, when present.
    pub audio_level: Option<AudioLevel>,
    /// When it arrived.
    pub arrival: Instant,
    /// The whole RTP packet (header with its extensions, then payload; padding removed).
    pub raw: Vec<u8>,
    /// Where the payload starts in `raw`.
    pub payload_offset: usize,
}

impl RtpPacket {
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.raw.get(self.payload_offset..).unwrap_or_default()
    }

    /// The value of header extension `id` (ids from [`Media::extensions`]).
    pub fn extension(&self, id: u8) -> Option<&[u8]> {
        crate::rtp::wire::RtpHeader::parse(&self.raw)
            .ok()?
            .extension(id)
    }
}

/// What kind of keyframe request (RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeKind {
    /// Picture loss indication.
    Pli,
    /// Full intra request.
    Fir,
}

/// Counters of a transceiver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaStats {
    /// Our outgoing stream, once sending.
    pub send: Option<SendStats>,
    /// Incoming streams: SSRC, rid, counters.
    pub recv: Vec<(u32, Option<String>, RecvStats)>,
    /// The last REMB the peer sent, bits per second.
    pub remb: Option<u64>,
    /// Keyframe requests (PLI, FIR) we sent.
    pub keyframe_requests_sent: u64,
}

/// A transceiver, borrowed from its [`Rtc`].
pub struct Media<'a> {
    pub(super) rtc: &'a mut Rtc,
    pub(super) id: MediaId,
}

impl Media<'_> {
    fn t(&self) -> Option<&Transceiver> {
        self.rtc.transceiver(self.id)
    }

    /// The handle.
    pub fn id(&self) -> MediaId {
        self.id
    }

    /// The mid, once in an offer or answer.
    pub fn mid(&self) -> Option<&str> {
        self.t().and_then(|t| t.mid.as_deref())
    }

    /// Audio or video.
    pub fn kind(&self) -> MediaKind {
        self.t().map_or(MediaKind::Audio, |t| t.kind.clone())
    }

    /// The negotiated direction (our side), `None` before negotiation.
    pub fn direction(&self) -> Option<Direction> {
        self.t().and_then(|t| t.current)
    }

    /// Sets the direction we want; it takes effect with the next offer/answer.
    pub fn set_direction(&mut self, d: Direction) {
        if let Some(t) = self.rtc.transceiver_mut(self.id) {
            t.wanted = d;
        }
    }

    /// The negotiated codecs, best first (empty before negotiation).
    pub fn codecs(&self) -> &[Codec] {
        self.t().map_or(&[], |t| &t.codecs)
    }

    /// The negotiated header extensions (ids and URIs).
    pub fn extensions(&self) -> &[Extmap] {
        self.t().map_or(&[], |t| &t.exts)
    }

    /// Our media SSRC.
    pub fn ssrc(&self) -> u32 {
        self.t().map_or(0, |t| t.ssrc)
    }

    /// Sends one RTP packet (SRTP-protected, queued for `poll_transmit`). Fails before
    /// the connection's keys exist, when the direction does not send, with a payload
    /// type that was not negotiated, or when the packet would exceed
    /// [`MediaConfig::max_rtp_size`].
    pub fn write_rtp(&mut self, now: Instant, packet: RtpWrite<'_>) -> Result<(), RtcError> {
        self.rtc.write_rtp(now, self.id, packet)
    }

    /// Sends one encoded frame: split into RTP packets by the payload format of the
    /// codec of `payload_type` (Opus and G.711 one packet per frame; VP8, VP9, H.264 as an
    /// Annex B access unit, AV1 as a temporal unit), all with `timestamp`, the marker on
    /// the last packet of a video frame.
    pub fn write_frame(
        &mut self,
        now: Instant,
        payload_type: u8,
        timestamp: u32,
        frame: &[u8],
    ) -> Result<(), RtcError> {
        self.rtc
            .write_frame(now, self.id, payload_type, timestamp, frame)
    }

    /// Asks the sender of our incoming stream(s) for a keyframe: a PLI or FIR for each
    /// (or only `ssrc`'s).
    pub fn request_keyframe(
        &mut self,
        kind: KeyframeKind,
        ssrc: Option<u32>,
    ) -> Result<(), RtcError> {
        self.rtc.request_keyframe(self.id, kind, ssrc)
    }

    /// Counters.
    pub fn stats(&self) -> MediaStats {
        self.rtc.media_stats(self.id).unwrap_or_default()
    }
}

impl Rtc {
    pub(super) fn transceiver(&self, id: MediaId) -> Option<&Transceiver> {
        self.media.iter().find(|t| t.id == id)
    }

    pub(super) fn transceiver_mut(&mut self, id: MediaId) -> Option<&mut Transceiver> {
        self.media.iter_mut().find(|t| t.id == id)
    }

    pub(super) fn default_codecs(&self, kind: &MediaKind) -> (Vec<Codec>, Vec<Extmap>) {
        let m = &self.config.media;
        if *kind == MediaKind::Video {
            (m.video_codecs.to_vec(), m.video_extensions.to_vec())
        } else {
            (m.audio_codecs.to_vec(), m.audio_extensions.to_vec())
        }
    }

    /// Adds an audio or video transceiver; it goes into the next offer.
    pub fn add_media(
        &mut self,
        kind: MediaKind,
        direction: Direction,
    ) -> Result<MediaId, RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if !matches!(kind, MediaKind::Audio | MediaKind::Video) {
            return Err(RtcError::Media(
                "only audio and video transceivers can be added",
            ));
        }
        if self.media.len() >= self.config.media.max_media {
            return Err(RtcError::Media("too many transceivers"));
        }
        let id = MediaId(self.next_media);
        self.next_media += 1;
        let t = Transceiver::new(
            id,
            kind,
            direction,
            &mut self.rng,
            &self.config.media,
            &self.stream_id,
        );
        self.media.push(t);
        Ok(id)
    }

    /// A handle on a transceiver.
    pub fn media(&mut self, id: MediaId) -> Option<Media<'_>> {
        self.transceiver(id)
            .is_some()
            .then_some(Media { rtc: self, id })
    }

    /// A transceiver's counters.
    pub fn media_stats(&self, id: MediaId) -> Option<MediaStats> {
        let t = self.transceiver(id)?;
        Some(MediaStats {
            send: t.send.as_ref().map(SendStream::stats),
            recv: t
                .recv
                .iter()
                .map(|r| (r.ssrc, r.rid.clone(), r.stream.stats()))
                .collect(),
            remb: t.remb,
            keyframe_requests_sent: t.keyframe_requests_sent,
        })
    }

    /// The transceivers, in creation order.
    pub fn media_ids(&self) -> Vec<MediaId> {
        self.media.iter().map(|t| t.id).collect()
    }
}
