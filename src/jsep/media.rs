//! The RTP side of an m-line: direction, codecs (`a=rtpmap`, `a=fmtp`, `a=rtcp-fb`),
//! header extensions (`a=extmap`, RFC 8285), `a=msid` (RFC 8830), `a=ssrc` and
//! `a=ssrc-group` (RFC 5576), `a=rid` (RFC 8851) and `a=simulcast` (RFC 8853).

use ::sdp::description::common::Attribute;

use super::description::SdpError;

/// Most codecs taken from one m-line (payload types are 7 bits).
pub const MAX_CODECS: usize = 128;
/// Most `a=ssrc` SSRCs and `a=rid` ids taken from one m-line.
pub const MAX_SSRCS: usize = 64;
/// Most `a=rtcp-fb` values per codec, and `a=fmtp` parameters per codec.
const MAX_PER_CODEC: usize = 32;

/// Which way media flows on an m-line (RFC 8866 §6.7), from the describer's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// The describer only sends.
    SendOnly,
    /// The describer only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Whether the describer sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the describer receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction seen from the other side.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// From "sends" and "receives".
    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The answer's direction given the offer's and what the answerer wants
    /// (RFC 8866 §6.7 / RFC 3264 §6.1): the answerer sends only if the offerer receives.
    pub fn answer(offered: Direction, wanted: Direction) -> Direction {
        Direction::from_flags(
            wanted.sends() && offered.receives(),
            wanted.receives() && offered.sends(),
        )
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        match s {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// `a=fmtp` parameters, in order. Values that are not `key=value` pairs (RED's `111/111`)
/// are kept with an empty key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fmtp(pub Vec<(String, String)>);

impl Fmtp {
    /// Parses `a=fmtp` parameters (`k=v;k=v`).
    pub fn parse(s: &str) -> Fmtp {
        Fmtp(
            s.split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .take(MAX_PER_CODEC)
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
                    None => (String::new(), p.to_string()),
                })
                .collect(),
        )
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric parameter.
    pub fn num(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }

    /// Sets (or replaces) a parameter.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Display for Fmtp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            if k.is_empty() {
                f.write_str(v)?;
            } else {
                write!(f, "{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// One payload type of an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// The RTP payload type.
    pub payload_type: u8,
    /// The encoding name as written (`opus`, `VP8`, `H264`, `rtx`, ...).
    pub name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels (1 unless the rtpmap says otherwise).
    pub channels: u16,
    /// `a=fmtp` parameters.
    pub fmtp: Fmtp,
    /// `a=rtcp-fb` values (`nack`, `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`).
    pub feedback: Vec<String>,
}

impl Codec {
    /// Whether the encoding name is `name` (case-insensitive, RFC 4855 §3).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// For RTX (RFC 4588 §8.6): the payload type it repairs (`apt`).
    pub fn apt(&self) -> Option<u8> {
        if !self.is("rtx") {
            return None;
        }
        u8::try_from(self.fmtp.num("apt")?).ok()
    }

    /// Whether `a=rtcp-fb` lists `fb`.
    pub fn has_feedback(&self, fb: &str) -> bool {
        self.feedback.iter().any(|f| f == fb)
    }
}

/// RFC 3551 static payload types a description may use without `a=rtpmap`.
fn static_codec(pt: u8) -> Option<(&'static str, u32, u16)> {
    Some(match pt {
        0 => ("PCMU", 8000, 1),
        8 => ("PCMA", 8000, 1),
        9 => ("G722", 8000, 1),
        13 => ("CN", 8000, 1),
        _ => return None,
    })
}

/// `a=extmap`: a header extension's id and URI (RFC 8285 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extmap {
    /// The id used in packets (1-14 one-byte, 1-255 two-byte).
    pub id: u8,
    /// The extension's URI.
    pub uri: String,
    /// A direction restriction, if any.
    pub direction: Option<Direction>,
}

/// `a=msid` (RFC 8830): the media stream and track ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msid {
    /// The stream id (`-` for none).
    pub stream: String,
    /// The track id.
    pub track: String,
}

/// One SSRC described with `a=ssrc` (RFC 5576 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcDesc {
    /// The SSRC.
    pub ssrc: u32,
    /// Its `cname` attribute.
    pub cname: Option<String>,
}

/// `a=ssrc-group` (RFC 5576 §4.2), e.g. `FID` pairing a media SSRC with its RTX SSRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcGroup {
    /// The semantics (`FID`, `SIM`, `FEC-FR`).
    pub semantics: String,
    /// The SSRCs, in order.
    pub ssrcs: Vec<u32>,
}

/// `a=rid` (RFC 8851): one RTP stream id and which way it flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rid {
    /// The rid.
    pub id: String,
    /// `true` for `send`, `false` for `recv` (the describer's side).
    pub send: bool,
    /// Restrictions as written after the direction (`pt=96;max-width=1280`).
    pub restrictions: String,
}

/// `a=simulcast` (RFC 8853 §5.1): rid lists per direction; each stream may list
/// alternatives (`,`); a `~` prefix marks a paused stream (kept in the id here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulcast {
    /// Streams the describer sends.
    pub send: Vec<Vec<String>>,
    /// Streams the describer receives.
    pub recv: Vec<Vec<String>>,
}

impl Simulcast {
    fn parse(v: &str) -> Option<Simulcast> {
        let mut s = Simulcast::default();
        let mut words = v.split_whitespace();
        while let Some(dir) = words.next() {
            let list = words.next()?;
            let streams: Vec<Vec<String>> = list
                .split(';')
                .take(MAX_SSRCS)
                .map(|alts| alts.split(',').take(8).map(str::to_string).collect())
                .collect();
            match dir {
                "send" => s.send = streams,
                "recv" => s.recv = streams,
                _ => return None,
            }
        }
        Some(s)
    }

    fn write(&self) -> String {
        let list = |l: &[Vec<String>]| l.iter().map(|a| a.join(",")).collect::<Vec<_>>().join(";");
        let mut parts = Vec::new();
        if !self.send.is_empty() {
            parts.push(format!("send {}", list(&self.send)));
        }
        if !self.recv.is_empty() {
            parts.push(format!("recv {}", list(&self.recv)));
        }
        parts.join(" ")
    }
}

/// The RTP side of an audio or video m-line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaDesc {
    /// `a=sendrecv` / `sendonly` / `recvonly` / `inactive` (default sendrecv).
    pub direction: Direction,
    /// The payload types, in the m-line's order of preference.
    pub codecs: Vec<Codec>,
    /// Header extensions.
    pub extmaps: Vec<Extmap>,
    /// `a=msid`.
    pub msid: Option<Msid>,
    /// SSRCs the describer will send.
    pub ssrcs: Vec<SsrcDesc>,
    /// SSRC groups.
    pub ssrc_groups: Vec<SsrcGroup>,
    /// `a=rid` lines.
    pub rids: Vec<Rid>,
    /// `a=simulcast`.
    pub simulcast: Option<Simulcast>,
    /// `a=rtcp-rsize` (RFC 5506: reduced-size RTCP accepted).
    pub rtcp_rsize: bool,
    /// `a=extmap-allow-mixed` (RFC 8285 §6: one- and two-byte extensions may mix).
    pub extmap_allow_mixed: bool,
}

impl MediaDesc {
    /// The codec with payload type `pt`.
    pub fn codec(&self, pt: u8) -> Option<&Codec> {
        self.codecs.iter().find(|c| c.payload_type == pt)
    }

    /// The id of the extension `uri`.
    pub fn extmap_id(&self, uri: &str) -> Option<u8> {
        self.extmaps.iter().find(|e| e.uri == uri).map(|e| e.id)
    }

    /// The RTX SSRC paired with `ssrc` by `a=ssrc-group:FID`.
    pub fn rtx_ssrc(&self, ssrc: u32) -> Option<u32> {
        self.ssrc_groups
            .iter()
            .find(|g| g.semantics == "FID" && g.ssrcs.first() == Some(&ssrc))
            .and_then(|g| g.ssrcs.get(1).copied())
    }

    /// Parses the RTP attributes of an m-line with `formats`.
    pub(crate) fn parse(
        formats: &[String],
        attrs: &[Attribute],
        session: &[Attribute],
    ) -> Result<MediaDesc, SdpError> {
        let mut d = MediaDesc::default();
        fn find<'a>(attrs: &'a [Attribute], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
            attrs
                .iter()
                .filter(move |a| a.key == key)
                .map(|a| a.value.as_deref().unwrap_or("").trim())
        }
        let find = |key: &'static str| find(attrs, key);
        for a in attrs {
            if let Some(dir) = Direction::parse(&a.key) {
                d.direction = dir;
            }
        }
        d.rtcp_rsize = attrs.iter().any(|a| a.key == "rtcp-rsize");
        d.extmap_allow_mixed = attrs
            .iter()
            .chain(session)
            .any(|a| a.key == "extmap-allow-mixed");
        // The m-line's formats give the order; a=rtpmap names them.
        for f in formats.iter().take(MAX_CODECS) {
            let Ok(pt) = f.parse::<u8>() else {
                return Err(SdpError::new(format!("payload type {f:?} is not a number")));
            };
            if pt > 127 {
                return Err(SdpError::new(format!("payload type {pt} above 127")));
            }
            if d.codecs.iter().any(|c| c.payload_type == pt) {
                continue;
            }
            let rtpmap = find("rtpmap").find_map(|v| {
                let (p, rest) = v.split_once(char::is_whitespace)?;
                (p.parse::<u8>().ok()? == pt).then_some(rest.trim())
            });
            let (name, clock_rate, channels) = match rtpmap {
                Some(map) => {
                    let mut parts = map.split('/');
                    let name = parts.next().unwrap_or_default().to_string();
                    let clock = parts
                        .next()
                        .and_then(|c| c.parse::<u32>().ok())
                        .ok_or_else(|| {
                            SdpError::new(format!("a=rtpmap:{pt} {map}: no clock rate"))
                        })?;
                    let channels = match parts.next() {
                        Some(c) => c.parse::<u16>().map_err(|_| {
                            SdpError::new(format!("a=rtpmap:{pt} {map}: bad channel count"))
                        })?,
                        None => 1,
                    };
                    (name, clock, channels)
                }
                None => match static_codec(pt) {
                    Some((n, c, ch)) => (n.to_string(), c, ch),
                    // A dynamic type without a=rtpmap: nothing to negotiate with.
                    None => continue,
                },
            };
            let per_pt = |key: &'static str| {
                find(key).filter_map(move |v| {
                    let (p, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
                    (p == "*" || p.parse::<u8>().ok() == Some(pt)).then_some(rest.trim())
                })
            };
            let fmtp = per_pt("fmtp").next().map(Fmtp::parse).unwrap_or_default();
            let mut feedback: Vec<String> = Vec::new();
            for fb in per_pt("rtcp-fb").take(MAX_PER_CODEC) {
                let fb = fb.split_whitespace().collect::<Vec<_>>().join(" ");
                if !fb.is_empty() && !feedback.contains(&fb) {
                    feedback.push(fb);
                }
            }
            d.codecs.push(Codec {
                payload_type: pt,
                name,
                clock_rate,
                channels,
                fmtp,
                feedback,
            });
        }
        for v in find("extmap").take(255) {
            let (head, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            let (id, dir) = match head.split_once('/') {
                Some((i, dir)) => (i, Direction::parse(dir)),
                None => (head, None),
            };
            let id = id
                .parse::<u8>()
                .ok()
                .filter(|i| *i != 0 && *i != 15)
                .ok_or_else(|| SdpError::new(format!("a=extmap:{v}: bad id")))?;
            let uri = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            if uri.is_empty() {
                return Err(SdpError::new(format!("a=extmap:{v}: no URI")));
            }
            if d.extmaps.iter().any(|e| e.id == id) {
                return Err(SdpError::new(format!("a=extmap:{v}: id {id} used twice")));
            }
            d.extmaps.push(Extmap {
                id,
                uri,
                direction: dir,
            });
        }
        d.msid = find("msid").next().and_then(|v| {
            let mut w = v.split_whitespace();
            Some(Msid {
                stream: w.next()?.to_string(),
                track: w.next().unwrap_or_default().to_string(),
            })
        });
        for v in find("ssrc") {
            let (s, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            let ssrc = s
                .parse::<u32>()
                .map_err(|_| SdpError::new(format!("a=ssrc:{v}: bad SSRC")))?;
            let cname = rest
                .trim()
                .strip_prefix("cname:")
                .map(|c| c.trim().to_string());
            let count = d.ssrcs.len();
            match d.ssrcs.iter_mut().find(|x| x.ssrc == ssrc) {
                Some(x) if x.cname.is_none() => x.cname = cname,
                Some(_) => {}
                None if count < MAX_SSRCS => d.ssrcs.push(SsrcDesc { ssrc, cname }),
                None => {}
            }
        }
        for v in find("ssrc-group").take(MAX_SSRCS) {
            let mut w = v.split_whitespace();
            let semantics = w.next().unwrap_or_default().to_string();
            let ssrcs = w
                .take(MAX_SSRCS)
                .map(|s| s.parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| SdpError::new(format!("a=ssrc-group:{v}: bad SSRC")))?;
            d.ssrc_groups.push(SsrcGroup { semantics, ssrcs });
        }
        for v in find("rid").take(MAX_SSRCS) {
            let mut w = v.splitn(3, char::is_whitespace);
            let id = w.next().unwrap_or_default().to_string();
            let send = match w.next() {
                Some("send") => true,
                Some("recv") => false,
                _ => {
                    return Err(SdpError::new(format!(
                        "a=rid:{v}: direction must be send or recv"
                    )));
                }
            };
            d.rids.push(Rid {
                id,
                send,
                restrictions: w.next().unwrap_or_default().trim().to_string(),
            });
        }
        if let Some(v) = find("simulcast").next() {
            d.simulcast =
                Some(Simulcast::parse(v).ok_or_else(|| SdpError::new(format!("a=simulcast:{v}")))?);
        }
        Ok(d)
    }

    /// The attributes describing this (after the transport ones), in the order browsers
    /// write them.
    pub(crate) fn write(&self, out: &mut Vec<Attribute>) {
        let a = |k: &str, v: Option<String>| Attribute::new(k.to_string(), v);
        for e in &self.extmaps {
            let id = match e.direction {
                Some(d) => format!("{}/{}", e.id, d.as_str()),
                None => e.id.to_string(),
            };
            out.push(a("extmap", Some(format!("{id} {}", e.uri))));
        }
        if self.extmap_allow_mixed {
            out.push(a("extmap-allow-mixed", None));
        }
        out.push(a(self.direction.as_str(), None));
        if let Some(m) = &self.msid {
            out.push(a("msid", Some(format!("{} {}", m.stream, m.track))));
        }
        out.push(a("rtcp-mux", None));
        if self.rtcp_rsize {
            out.push(a("rtcp-rsize", None));
        }
        for c in &self.codecs {
            let map = if c.channels > 1 {
                format!(
                    "{} {}/{}/{}",
                    c.payload_type, c.name, c.clock_rate, c.channels
                )
            } else {
                format!("{} {}/{}", c.payload_type, c.name, c.clock_rate)
            };
            out.push(a("rtpmap", Some(map)));
            for fb in &c.feedback {
                out.push(a("rtcp-fb", Some(format!("{} {fb}", c.payload_type))));
            }
            if !c.fmtp.is_empty() {
                out.push(a("fmtp", Some(format!("{} {}", c.payload_type, c.fmtp))));
            }
        }
        for r in &self.rids {
            let dir = if r.send { "send" } else { "recv" };
            let v = if r.restrictions.is_empty() {
                format!("{} {dir}", r.id)
            } else {
                format!("{} {dir} {}", r.id, r.restrictions)
            };
            out.push(a("rid", Some(v)));
        }
        if let Some(s) = &self.simulcast {
            out.push(a("simulcast", Some(s.write())));
        }
        for g in &self.ssrc_groups {
            let list: Vec<String> = g.ssrcs.iter().map(u32::to_string).collect();
            out.push(a(
                "ssrc-group",
                Some(format!("{} {}", g.semantics, list.join(" "))),
            ));
        }
        for s in &self.ssrcs {
            if let Some(c) = &s.cname {
                out.push(a("ssrc", Some(format!("{} cname:{c}", s.ssrc))));
            }
            if let Some(m) = &self.msid {
                out.push(a(
                    "ssrc",
                    Some(format!("{} msid:{} {}", s.ssrc, m.stream, m.track)),
                ));
            }
        }
    }
}
