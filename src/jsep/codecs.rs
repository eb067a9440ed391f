//! Codec and header extension negotiation (RFC 9429 §5.3.1, RFC 3264 §6.1): the answer
//! keeps the offer's payload types and ids, for the formats both sides support.

use super::media::{Codec, Extmap, Fmtp};

/// Header extension URIs sansrtc knows (RFC 8285 registrations and the WebRTC ones).
pub mod uri {
    /// `a=mid` in packets (RFC 9143 §15).
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// RTP stream id (RFC 8852).
    pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// Repaired RTP stream id (RFC 8852).
    pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
    /// Absolute send time (WebRTC, 6.18 fixed point seconds).
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    pub const TWCC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Client-to-mixer audio level (RFC 6464).
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    /// Transmission time offset (RFC 5450).
    pub const TOFFSET: &str = "urn:ietf:params:rtp-hdrext:toffset";
    /// Coordination of video orientation (3GPP TS 26.114).
    pub const VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";
}

/// The codecs sansrtc can packetize and depacketize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// Opus (RFC 7587).
    Opus,
    /// G.711 µ-law (RFC 3551).
    Pcmu,
    /// G.711 A-law (RFC 3551).
    Pcma,
    /// G.722 (RFC 3551).
    G722,
    /// VP8 (RFC 7741).
    Vp8,
    /// VP9 (RFC 9628).
    Vp9,
    /// H.264 (RFC 6184).
    H264,
    /// AV1 (AOM AV1 RTP specification).
    Av1,
    /// Retransmission (RFC 4588).
    Rtx,
}

impl CodecKind {
    /// The kind of a described codec, if sansrtc knows it.
    pub fn of(c: &Codec) -> Option<CodecKind> {
        // Names compare case-insensitively (RFC 4855 §3), without allocating: this runs
        // per received packet.
        const KINDS: [(&str, Option<u32>, CodecKind); 9] = [
            ("opus", Some(48000), CodecKind::Opus),
            ("PCMU", Some(8000), CodecKind::Pcmu),
            ("PCMA", Some(8000), CodecKind::Pcma),
            ("G722", Some(8000), CodecKind::G722),
            ("VP8", Some(90000), CodecKind::Vp8),
            ("VP9", Some(90000), CodecKind::Vp9),
            ("H264", Some(90000), CodecKind::H264),
            ("AV1", Some(90000), CodecKind::Av1),
            ("rtx", None, CodecKind::Rtx),
        ];
        KINDS
            .iter()
            .find(|(name, rate, _)| {
                c.name.eq_ignore_ascii_case(name) && rate.is_none_or(|r| r == c.clock_rate)
            })
            .map(|k| k.2)
    }

    /// Whether this is a video codec.
    pub fn is_video(self) -> bool {
        matches!(
            self,
            CodecKind::Vp8 | CodecKind::Vp9 | CodecKind::H264 | CodecKind::Av1
        )
    }
}

/// The feedback sansrtc gives and uses for video (RFC 4585, RFC 5104, REMB, TWCC).
const VIDEO_FEEDBACK: [&str; 5] = ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"];

fn codec(
    pt: u8,
    name: &str,
    clock_rate: u32,
    channels: u16,
    fmtp: &str,
    feedback: &[&str],
) -> Codec {
    Codec {
        payload_type: pt,
        name: name.to_string(),
        clock_rate,
        channels,
        fmtp: Fmtp::parse(fmtp),
        feedback: feedback.iter().map(|s| s.to_string()).collect(),
    }
}

/// The audio codecs offered by default, best first: Opus, PCMU, PCMA.
pub fn default_audio_codecs() -> Vec<Codec> {
    vec![
        codec(
            111,
            "opus",
            48000,
            2,
            "minptime=10;useinbandfec=1",
            &["transport-cc"],
        ),
        codec(0, "PCMU", 8000, 1, "", &[]),
        codec(8, "PCMA", 8000, 1, "", &[]),
    ]
}

/// The video codecs offered by default, best first, each with its RTX: VP8, VP9
/// profile 0, H.264 constrained baseline and baseline (packetization mode 1), AV1.
pub fn default_video_codecs() -> Vec<Codec> {
    let fb = &VIDEO_FEEDBACK;
    vec![
        codec(96, "VP8", 90000, 1, "", fb),
        codec(97, "rtx", 90000, 1, "apt=96", &[]),
        codec(98, "VP9", 90000, 1, "profile-id=0", fb),
        codec(99, "rtx", 90000, 1, "apt=98", &[]),
        codec(
            100,
            "H264",
            90000,
            1,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            fb,
        ),
        codec(101, "rtx", 90000, 1, "apt=100", &[]),
        codec(
            102,
            "H264",
            90000,
            1,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
            fb,
        ),
        codec(103, "rtx", 90000, 1, "apt=102", &[]),
        codec(45, "AV1", 90000, 1, "", fb),
        codec(46, "rtx", 90000, 1, "apt=45", &[]),
    ]
}

/// The header extensions offered for audio by default.
pub fn default_audio_extensions() -> Vec<Extmap> {
    [uri::AUDIO_LEVEL, uri::ABS_SEND_TIME, uri::TWCC, uri::MID]
        .iter()
        .enumerate()
        .map(|(i, u)| Extmap {
            id: i as u8 + 1,
            uri: u.to_string(),
            direction: None,
        })
        .collect()
}

/// The header extensions offered for video by default.
pub fn default_video_extensions() -> Vec<Extmap> {
    [
        (2, uri::ABS_SEND_TIME),
        (3, uri::TWCC),
        (4, uri::MID),
        (10, uri::RID),
        (11, uri::REPAIRED_RID),
        (13, uri::VIDEO_ORIENTATION),
        (14, uri::TOFFSET),
    ]
    .iter()
    .map(|(id, u)| Extmap {
        id: *id,
        uri: u.to_string(),
        direction: None,
    })
    .collect()
}

/// An H.264 profile (RFC 6184 §8.1, `profile-level-id`): profile_idc and whether the
/// constraint flags make it Constrained Baseline, which is what interoperates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct H264Profile {
    idc: u8,
    constrained_baseline: bool,
}

fn h264_profile(c: &Codec) -> Option<(H264Profile, u8)> {
    // RFC 6184 §8.1: the default is 420010 (baseline, level 1).
    let plid = c.fmtp.get("profile-level-id").unwrap_or("42000a");
    let v = u32::from_str_radix(plid, 16)
        .ok()
        .filter(|_| plid.len() == 6)?;
    let [_, idc, iop, level] = v.to_be_bytes();
    // RFC 6184 Table 5: constraint_set1 on Baseline, constraint_set0+1 on Extended, or
    // set1 on Main, are decodable by a Constrained Baseline decoder.
    let cb = match idc {
        0x42 => iop & 0x40 != 0,
        0x4d => iop & 0x80 != 0,
        0x58 => iop & 0xc0 == 0xc0,
        _ => false,
    };
    Some((
        H264Profile {
            idc: if cb { 0x42 } else { idc },
            constrained_baseline: cb,
        },
        level,
    ))
}

/// Whether `a` and `b` describe the same format: name, clock rate, channels, and the
/// format parameters that must agree (H.264 packetization mode and profile, VP9
/// profile, AV1 profile).
pub fn same_format(a: &Codec, b: &Codec) -> bool {
    if !a.name.eq_ignore_ascii_case(&b.name)
        || a.clock_rate != b.clock_rate
        || a.channels != b.channels
    {
        return false;
    }
    match CodecKind::of(a) {
        Some(CodecKind::H264) => {
            let mode = |c: &Codec| c.fmtp.num("packetization-mode").unwrap_or(0);
            mode(a) == mode(b)
                && match (h264_profile(a), h264_profile(b)) {
                    (Some((pa, _)), Some((pb, _))) => pa == pb,
                    _ => false,
                }
        }
        Some(CodecKind::Vp9) => {
            a.fmtp.num("profile-id").unwrap_or(0) == b.fmtp.num("profile-id").unwrap_or(0)
        }
        Some(CodecKind::Av1) => {
            a.fmtp.num("profile").unwrap_or(0) == b.fmtp.num("profile").unwrap_or(0)
        }
        _ => true,
    }
}

/// The codecs of an answer: each offered codec (in the offer's order and with its
/// payload type) that matches one of `ours`, with the feedback both list; RTX only for
/// an accepted `apt`. H.264's level is the lower of the two unless both allow level
/// asymmetry (RFC 6184 §8.2.2).
pub fn answer_codecs(offered: &[Codec], ours: &[Codec]) -> Vec<Codec> {
    let mut out: Vec<Codec> = Vec::new();
    for o in offered.iter().filter(|c| !c.is("rtx")) {
        let Some(mine) = ours.iter().find(|m| !m.is("rtx") && same_format(o, m)) else {
            continue;
        };
        let mut c = o.clone();
        c.feedback = o
            .feedback
            .iter()
            .filter(|f| mine.has_feedback(f))
            .cloned()
            .collect();
        if CodecKind::of(o) == Some(CodecKind::H264) {
            let asym = |x: &Codec| x.fmtp.num("level-asymmetry-allowed") == Some(1);
            if !(asym(o) && asym(mine))
                && let (Some((_, lo)), Some((_, lm))) = (h264_profile(o), h264_profile(mine))
                && lm < lo
                && let Some(p) = o.fmtp.get("profile-level-id").map(str::to_string)
            {
                c.fmtp.set(
                    "profile-level-id",
                    format!("{}{lm:02x}", p.get(..4).unwrap_or("42e0")),
                );
            }
        }
        out.push(c);
    }
    // RTX, right after what it repairs when we offer it too.
    let has_rtx = ours.iter().any(|c| c.is("rtx"));
    if has_rtx {
        for r in offered.iter().filter(|c| c.is("rtx")) {
            if let Some(apt) = r.apt()
                && let Some(at) = out
                    .iter()
                    .position(|c| c.payload_type == apt && !c.is("rtx"))
            {
                let mut r = r.clone();
                r.feedback.clear();
                out.insert(at + 1, r);
            }
        }
    }
    out
}

/// The codecs an answer to our offer settles on: the answer's, where each matches what
/// we offered under the same payload type.
pub fn accept_answer_codecs(offered: &[Codec], answered: &[Codec]) -> Vec<Codec> {
    let media: Vec<Codec> = answered
        .iter()
        .filter(|a| {
            !a.is("rtx")
                && offered
                    .iter()
                    .any(|o| o.payload_type == a.payload_type && same_format(o, a))
        })
        .cloned()
        .collect();
    // RTX only for an accepted payload type, in the answer's order.
    answered
        .iter()
        .filter(|a| {
            if a.is("rtx") {
                let ours = offered
                    .iter()
                    .any(|o| o.payload_type == a.payload_type && o.is("rtx"));
                ours && a
                    .apt()
                    .is_some_and(|apt| media.iter().any(|m| m.payload_type == apt))
            } else {
                media.iter().any(|m| m.payload_type == a.payload_type)
            }
        })
        .cloned()
        .collect()
}

/// The header extensions of an answer: those offered whose URI we support, with the
/// offer's ids.
pub fn answer_extmaps(offered: &[Extmap], ours: &[Extmap]) -> Vec<Extmap> {
    offered
        .iter()
        .filter(|o| ours.iter().any(|m| m.uri == o.uri))
        .cloned()
        .collect()
}
