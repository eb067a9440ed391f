//! Typed SDP (RFC 8866) for WebRTC, on top of the `sdp` crate: what a peer connection
//! needs from a description, and the descriptions it writes.

use core::fmt;
use std::io::Cursor;

use ::sdp::description::common::{Address, Attribute, ConnectionInformation};
use ::sdp::description::media::{MediaDescription, MediaName, RangedPort};
use ::sdp::description::session::{Origin, SessionDescription, TimeDescription, Timing};

use super::media::MediaDesc;
use crate::dtls::Fingerprint;
use crate::ice::{Candidate, Credentials};

/// Largest SDP accepted, in bytes.
pub const MAX_SDP_LEN: usize = 256 * 1024;
/// Most m-lines accepted.
pub const MAX_MEDIA_SECTIONS: usize = 256;
/// Most candidates taken from one description (more are ignored).
pub const MAX_CANDIDATES: usize = 256;

/// The proto of a data channel m-line (RFC 8841 §4.1).
pub const DATACHANNEL_PROTO: &str = "UDP/DTLS/SCTP";
/// The proto of an audio or video m-line (RFC 8829 §5.1.2).
pub const RTP_PROTO: &str = "UDP/TLS/RTP/SAVPF";
/// The format of a data channel m-line.
pub const DATACHANNEL_FORMAT: &str = "webrtc-datachannel";

/// Why a description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SDP{}: {reason}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
pub struct SdpError {
    /// The 1-based line the problem is on, when it can be told.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl SdpError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        SdpError {
            line: None,
            reason: reason.into(),
        }
    }
}

/// DTLS role negotiation (RFC 8842 §5, `a=setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Either role (offers).
    ActPass,
    /// DTLS client.
    Active,
    /// DTLS server.
    Passive,
}

impl Setup {
    fn parse(s: &str) -> Option<Setup> {
        match s.trim() {
            "actpass" => Some(Setup::ActPass),
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        }
    }
}

/// What an m-line carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `application`: data channels when the proto is `UDP/DTLS/SCTP`.
    Application,
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// Anything else.
    Other(String),
}

impl MediaKind {
    fn parse(s: &str) -> MediaKind {
        match s {
            "application" => MediaKind::Application,
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            o => MediaKind::Other(o.to_string()),
        }
    }

    /// The m-line's media name.
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Application => "application",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Other(o) => o,
        }
    }
}

/// One m-line, typed. Session-level values (credentials, fingerprints, setup) are
/// inherited where the m-line has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// The media type.
    pub kind: MediaKind,
    /// The port (0: rejected).
    pub port: u16,
    /// The proto, e.g. `UDP/DTLS/SCTP`.
    pub proto: String,
    /// The formats.
    pub formats: Vec<String>,
    /// `a=mid`.
    pub mid: Option<String>,
    /// `a=ice-ufrag` / `a=ice-pwd`.
    pub ice: Option<Credentials>,
    /// `a=fingerprint` values.
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup`.
    pub setup: Option<Setup>,
    /// `a=candidate` lines that are usable (UDP, numeric address).
    pub candidates: Vec<Candidate>,
    /// Candidates that were skipped (TCP, hostnames such as mDNS, malformed).
    pub skipped_candidates: usize,
    /// `a=end-of-candidates`.
    pub end_of_candidates: bool,
    /// `a=sctp-port`.
    pub sctp_port: Option<u16>,
    /// `a=max-message-size` (0 means no limit, RFC 8841 §6).
    pub max_message_size: Option<usize>,
    /// `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// The RTP side of an audio or video m-line (codecs, extensions, SSRCs, direction);
    /// empty for other m-lines.
    pub rtp: MediaDesc,
}

impl MediaSection {
    /// Whether this is a data channel section (`m=application ... UDP/DTLS/SCTP
    /// webrtc-datachannel`).
    pub fn is_datachannel(&self) -> bool {
        self.kind == MediaKind::Application
            && self.proto == DATACHANNEL_PROTO
            && self.formats.iter().any(|f| f == DATACHANNEL_FORMAT)
    }

    /// Whether the port is 0.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether this is an audio or video section over SRTP (`UDP/TLS/RTP/SAVPF`, or
    /// another RTP profile of the same family, RFC 8829 §5.1.3).
    pub fn is_rtp(&self) -> bool {
        matches!(self.kind, MediaKind::Audio | MediaKind::Video) && self.proto.contains("RTP/SAVP")
    }
}

/// A session description, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version.
    pub session_version: u64,
    /// `a=ice-lite` at session level.
    pub ice_lite: bool,
    /// `a=ice-options:trickle` anywhere.
    pub trickle: bool,
    /// The mids of `a=group:BUNDLE`.
    pub bundle: Vec<String>,
    /// The m-lines, in order.
    pub media: Vec<MediaSection>,
}

fn attr<'a>(attrs: &'a [Attribute], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_deref().unwrap_or(""))
}

fn attrs<'a>(list: &'a [Attribute], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    list.iter()
        .filter(move |a| a.key == key)
        .map(|a| a.value.as_deref().unwrap_or(""))
}

fn creds(list: &[Attribute]) -> Option<Credentials> {
    Some(Credentials {
        ufrag: attr(list, "ice-ufrag")?.trim().to_string(),
        pwd: attr(list, "ice-pwd")?.trim().to_string(),
    })
}

fn fingerprints(list: &[Attribute]) -> Result<Vec<Fingerprint>, SdpError> {
    let mut out = Vec::new();
    for v in attrs(list, "fingerprint") {
        match v.parse::<Fingerprint>() {
            Ok(f) => out.push(f),
            // Another hash function (sha-1, ...): usable ones may follow.
            Err(crate::dtls::FingerprintParseError::UnsupportedHash(_)) => {}
            Err(e) => return Err(SdpError::new(format!("a=fingerprint:{v}: {e}"))),
        }
    }
    Ok(out)
}

impl Sdp {
    /// Parses a description. Errors name the offending line where they can.
    pub fn parse(text: &str) -> Result<Sdp, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::new(format!("longer than {MAX_SDP_LEN} bytes")));
        }
        let desc = unmarshal(text)?;
        if desc.media_descriptions.len() > MAX_MEDIA_SECTIONS {
            return Err(SdpError::new("too many m-lines"));
        }
        let session = &desc.attributes;
        let s_creds = creds(session);
        let s_fps = fingerprints(session)?;
        let s_setup = attr(session, "setup").and_then(Setup::parse);
        let mut trickle =
            attrs(session, "ice-options").any(|v| v.split_whitespace().any(|o| o == "trickle"));
        let bundle = attrs(session, "group")
            .find_map(|v| v.strip_prefix("BUNDLE"))
            .map(|rest| rest.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let mut media = Vec::new();
        let mut candidates_seen = 0usize;
        for md in &desc.media_descriptions {
            let a = &md.attributes;
            trickle |=
                attrs(a, "ice-options").any(|v| v.split_whitespace().any(|o| o == "trickle"));
            let port = u16::try_from(md.media_name.port.value)
                .map_err(|_| SdpError::new(format!("m={}: bad port", md.media_name.media)))?;
            let mut candidates = Vec::new();
            let mut skipped = 0;
            for v in attrs(a, "candidate") {
                candidates_seen += 1;
                if candidates_seen > MAX_CANDIDATES {
                    skipped += 1;
                    continue;
                }
                match format!("candidate:{v}").parse::<Candidate>() {
                    Ok(c) if c.proto == crate::Protocol::Udp => candidates.push(c),
                    // TCP, hostnames (mDNS) and lines we cannot read are ignored politely.
                    _ => skipped += 1,
                }
            }
            let fps = fingerprints(a)?;
            let max_message_size = match attr(a, "max-message-size") {
                Some(v) => Some(
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| SdpError::new(format!("a=max-message-size:{v}")))?,
                ),
                None => None,
            };
            let sctp_port = match attr(a, "sctp-port") {
                Some(v) => Some(
                    v.trim()
                        .parse::<u16>()
                        .map_err(|_| SdpError::new(format!("a=sctp-port:{v}")))?,
                ),
                None => None,
            };
            let kind = MediaKind::parse(&md.media_name.media);
            let proto = md.media_name.protos.join("/");
            let rtp = if matches!(kind, MediaKind::Audio | MediaKind::Video)
                && proto.contains("RTP")
                && port != 0
            {
                MediaDesc::parse(&md.media_name.formats, a, session).map_err(|e| {
                    SdpError::new(format!(
                        "m={} (mid {}): {}",
                        kind.as_str(),
                        attr(a, "mid").unwrap_or("?"),
                        e.reason
                    ))
                })?
            } else {
                MediaDesc::default()
            };
            media.push(MediaSection {
                kind,
                port,
                proto,
                formats: md.media_name.formats.clone(),
                mid: attr(a, "mid").map(|m| m.trim().to_string()),
                ice: creds(a).or_else(|| s_creds.clone()),
                fingerprints: if fps.is_empty() { s_fps.clone() } else { fps },
                setup: attr(a, "setup").and_then(Setup::parse).or(s_setup),
                candidates,
                skipped_candidates: skipped,
                end_of_candidates: attr(a, "end-of-candidates").is_some(),
                sctp_port,
                max_message_size,
                rtcp_mux: attr(a, "rtcp-mux").is_some(),
                rtp,
            });
        }
        Ok(Sdp {
            session_id: desc.origin.session_id,
            session_version: desc.origin.session_version,
            ice_lite: attr(session, "ice-lite").is_some(),
            trickle,
            bundle,
            media,
        })
    }

    /// The first data channel section that is not rejected.
    pub fn datachannel(&self) -> Option<(usize, &MediaSection)> {
        self.media
            .iter()
            .enumerate()
            .find(|(_, m)| m.is_datachannel() && !m.is_rejected())
    }
}

/// Parses with the `sdp` crate; on failure finds the first line that breaks it.
fn unmarshal(text: &str) -> Result<SessionDescription, SdpError> {
    let parse = |t: &str| SessionDescription::unmarshal(&mut Cursor::new(t.as_bytes()));
    // RFC 8866 §5: every line is `<type>=<value>` with a one-letter type.
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_end_matches('\r');
        if l.is_empty() {
            continue;
        }
        let b = l.as_bytes();
        if b.len() < 2 || b.get(1) != Some(&b'=') || !b.first().is_some_and(u8::is_ascii_lowercase)
        {
            return Err(SdpError {
                line: Some(i + 1),
                reason: format!("not a <type>=<value> line: {:?}", truncate(l)),
            });
        }
        if let Some(why) = check_line(l) {
            return Err(SdpError {
                line: Some(i + 1),
                reason: format!("{why}: {:?}", truncate(l)),
            });
        }
    }
    match parse(text) {
        Ok(d) => Ok(d),
        Err(e) => {
            let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
            let msg = e.to_string();
            // Most errors quote the offending line in backticks.
            let quoted = msg
                .split('`')
                .nth(1)
                .filter(|q| q.len() > 2)
                .and_then(|q| lines.iter().position(|l| *l == q));
            let line = quoted.map(|i| i + 1).or_else(|| {
                // Otherwise: the shortest failing prefix, among prefixes that hold the
                // mandatory session header (up to the first t= line).
                let start = lines.iter().position(|l| l.starts_with("t="))? + 1;
                let fails = |k: usize| {
                    parse(&(lines.get(..k).unwrap_or_default().join("\r\n") + "\r\n")).is_err()
                };
                if fails(start) {
                    return Some(start);
                }
                let (mut lo, mut hi) = (start + 1, lines.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if fails(mid) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                Some(lo)
            });
            let shown = line
                .and_then(|l| lines.get(l - 1))
                .map(|l| format!(" ({:?})", truncate(l)))
                .unwrap_or_default();
            Err(SdpError {
                line,
                reason: format!("{e}{shown}"),
            })
        }
    }
}

/// The shape of the lines whose values the session cannot do without (RFC 8866 §5).
fn check_line(l: &str) -> Option<&'static str> {
    let (ty, v) = l.split_at_checked(2)?;
    let f: Vec<&str> = v.split_whitespace().collect();
    let num = |s: Option<&&str>| s.is_some_and(|s| s.parse::<u64>().is_ok());
    match ty {
        "v=" if v.trim() != "0" => Some("v= must be 0"),
        "o=" if f.len() != 6 || !num(f.get(1)) || !num(f.get(2)) => {
            Some("o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> <address>")
        }
        "t=" if f.len() != 2 || !num(f.first()) || !num(f.get(1)) => {
            Some("t= needs <start> <stop>")
        }
        "m=" if f.len() < 4
            || f.get(1)
                .and_then(|p| p.split('/').next())
                .is_none_or(|p| p.parse::<u16>().is_err()) =>
        {
            Some("m= needs <media> <port> <proto> <fmt> ...")
        }
        _ => None,
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// What we write into an m-line of ours.
#[derive(Debug, Clone)]
pub(crate) struct LocalSection<'a> {
    pub(crate) mid: &'a str,
    pub(crate) credentials: &'a Credentials,
    pub(crate) fingerprint: &'a Fingerprint,
    pub(crate) setup: Setup,
    pub(crate) candidates: &'a [Candidate],
    pub(crate) end_of_candidates: bool,
    pub(crate) sctp_port: u16,
    pub(crate) max_message_size: usize,
}

/// A section we reject in an answer: same kind, proto and formats, port 0.
#[derive(Debug, Clone)]
pub(crate) struct RejectedSection<'a> {
    pub(crate) section: &'a MediaSection,
}

/// One m-line of a description we write.
#[derive(Debug, Clone)]
pub(crate) enum Section<'a> {
    DataChannel(LocalSection<'a>),
    /// An audio or video section: the transport, the kind, the RTP side.
    Media(LocalSection<'a>, MediaKind, &'a MediaDesc),
    Rejected(RejectedSection<'a>),
}

/// Writes a description.
pub(crate) fn write(
    session_id: u64,
    version: u64,
    ice_lite: bool,
    sections: &[Section<'_>],
) -> String {
    let mut attributes = vec![Attribute::new("ice-options".into(), Some("trickle".into()))];
    if ice_lite {
        attributes.push(Attribute::new("ice-lite".into(), None));
    }
    let bundled: Vec<&str> = sections
        .iter()
        .filter_map(|s| match s {
            Section::DataChannel(l) | Section::Media(l, _, _) => Some(l.mid),
            Section::Rejected(_) => None,
        })
        .collect();
    if !bundled.is_empty() {
        attributes.insert(
            0,
            Attribute::new(
                "group".into(),
                Some(format!("BUNDLE {}", bundled.join(" "))),
            ),
        );
    }
    let zero_addr = || ConnectionInformation {
        network_type: "IN".into(),
        address_type: "IP4".into(),
        address: Some(Address {
            address: "0.0.0.0".into(),
            ttl: None,
            range: None,
        }),
    };
    let mut media = Vec::new();
    for s in sections {
        let md = match s {
            Section::Media(l, kind, desc) => {
                let mut a = transport_attributes(l);
                desc.write(&mut a);
                MediaDescription {
                    media_name: MediaName {
                        media: kind.as_str().into(),
                        port: RangedPort {
                            value: 9,
                            range: None,
                        },
                        protos: RTP_PROTO.split('/').map(str::to_string).collect(),
                        formats: desc
                            .codecs
                            .iter()
                            .map(|c| c.payload_type.to_string())
                            .collect(),
                    },
                    media_title: None,
                    connection_information: Some(zero_addr()),
                    bandwidth: vec![],
                    encryption_key: None,
                    attributes: a,
                }
            }
            Section::DataChannel(l) => {
                let mut a = transport_attributes(l);
                a.push(Attribute::new(
                    "sctp-port".into(),
                    Some(l.sctp_port.to_string()),
                ));
                a.push(Attribute::new(
                    "max-message-size".into(),
                    Some(l.max_message_size.to_string()),
                ));
                MediaDescription {
                    media_name: MediaName {
                        media: "application".into(),
                        port: RangedPort {
                            value: 9,
                            range: None,
                        },
                        protos: DATACHANNEL_PROTO.split('/').map(str::to_string).collect(),
                        formats: vec![DATACHANNEL_FORMAT.into()],
                    },
                    media_title: None,
                    connection_information: Some(zero_addr()),
                    bandwidth: vec![],
                    encryption_key: None,
                    attributes: a,
                }
            }
            Section::Rejected(r) => {
                let m = r.section;
                let mut a = Vec::new();
                if let Some(mid) = &m.mid {
                    a.push(Attribute::new("mid".into(), Some(mid.clone())));
                }
                MediaDescription {
                    media_name: MediaName {
                        media: m.kind.as_str().into(),
                        port: RangedPort {
                            value: 0,
                            range: None,
                        },
                        protos: m.proto.split('/').map(str::to_string).collect(),
                        formats: if m.formats.is_empty() {
                            vec!["0".into()]
                        } else {
                            m.formats.clone()
                        },
                    },
                    media_title: None,
                    connection_information: Some(zero_addr()),
                    bandwidth: vec![],
                    encryption_key: None,
                    attributes: a,
                }
            }
        };
        media.push(md);
    }
    let desc = SessionDescription {
        version: 0,
        origin: Origin {
            username: "-".into(),
            session_id,
            session_version: version,
            network_type: "IN".into(),
            address_type: "IP4".into(),
            unicast_address: "127.0.0.1".into(),
        },
        session_name: "-".into(),
        session_information: None,
        uri: None,
        email_address: None,
        phone_number: None,
        connection_information: None,
        bandwidth: vec![],
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: vec![],
        }],
        time_zones: vec![],
        encryption_key: None,
        attributes,
        media_descriptions: media,
    };
    desc.marshal()
}

/// The ICE, DTLS and mid attributes every m-line of ours carries (RFC 8843 §7.1.3 lets
/// bundled sections repeat them; browsers do).
fn transport_attributes(l: &LocalSection<'_>) -> Vec<Attribute> {
    let mut a = vec![
        Attribute::new("ice-ufrag".into(), Some(l.credentials.ufrag.clone())),
        Attribute::new("ice-pwd".into(), Some(l.credentials.pwd.clone())),
        Attribute::new("ice-options".into(), Some("trickle".into())),
        Attribute::new("fingerprint".into(), Some(l.fingerprint.to_string())),
        Attribute::new("setup".into(), Some(l.setup.as_str().into())),
        Attribute::new("mid".into(), Some(l.mid.into())),
    ];
    for c in l.candidates {
        let text = c.to_string();
        let v = text.strip_prefix("candidate:").unwrap_or(&text).to_string();
        a.push(Attribute::new("candidate".into(), Some(v)));
    }
    if l.end_of_candidates {
        a.push(Attribute::new("end-of-candidates".into(), None));
    }
    a
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
