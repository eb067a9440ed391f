//! ICE candidates: kinds, priorities and foundations (RFC 8445 §5.1), and the
//! `a=candidate` text form (RFC 8839 §5.1).

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::str::FromStr;

use crate::net::Protocol;

/// The type of a candidate (RFC 8445 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// The address a NAT gave us, learned from a STUN server.
    ServerReflexive,
    /// An address learned from a connectivity check.
    PeerReflexive,
    /// An address on a TURN relay.
    Relayed,
}

impl CandidateKind {
    /// The recommended type preference (RFC 8445 §5.1.2.2).
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }

    /// The `typ` token of the SDP form.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relayed => "relay",
        }
    }
}

/// Candidate priority (RFC 8445 §5.1.2.1):
/// `2^24 * type_pref + 2^8 * local_pref + (256 - component)`.
pub fn candidate_priority(kind: CandidateKind, local_pref: u16, component: u16) -> u32 {
    (kind.type_preference() << 24)
        | (u32::from(local_pref) << 8)
        | (256u32.saturating_sub(u32::from(component.min(256))))
}

/// Candidate-pair priority (RFC 8445 §6.1.2.3), where `g` is the controlling agent's
/// candidate priority and `d` the controlled agent's.
pub fn pair_priority(g: u32, d: u32) -> u64 {
    let (g, d) = (u64::from(g), u64::from(d));
    (1u64 << 32) * g.min(d) + 2 * g.max(d) + u64::from(g > d)
}

/// Foundation (RFC 8445 §5.1.1.3): equal for candidates of the same type, base IP,
/// STUN/TURN server and transport. Derived by FNV-1a so it is deterministic.
pub fn foundation(
    kind: CandidateKind,
    base_ip: IpAddr,
    server: Option<IpAddr>,
    proto: Protocol,
) -> String {
    let mut h: u32 = 0x811C_9DC5;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= u32::from(x);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    eat(kind.as_str().as_bytes());
    eat(&ip_bytes(base_ip));
    if let Some(s) = server {
        eat(&ip_bytes(s));
    }
    eat(match proto {
        Protocol::Udp => b"udp",
        Protocol::Tcp => b"tcp",
    });
    h.to_string()
}

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// An ICE candidate, local or remote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Foundation: candidates with the same one are likely to succeed or fail together.
    pub foundation: String,
    /// Component id; WebRTC with rtcp-mux uses only 1.
    pub component: u16,
    /// Transport.
    pub proto: Protocol,
    /// Priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// The transport address.
    pub addr: SocketAddr,
    /// The candidate's type.
    pub kind: CandidateKind,
    /// Related address (`raddr`/`rport`): the base of a reflexive candidate.
    pub related: Option<SocketAddr>,
    /// The ufrag this candidate belongs to, when the signalling said (`ufrag` extension).
    pub ufrag: Option<String>,
}

impl Candidate {
    /// A host candidate for a local socket address. The agent fills in priority and
    /// foundation when it is added with `IceAgent::add_local_candidate`.
    pub fn host(addr: SocketAddr, proto: Protocol) -> Self {
        Candidate {
            foundation: String::new(),
            component: 1,
            proto,
            priority: 0,
            addr,
            kind: CandidateKind::Host,
            related: None,
            ufrag: None,
        }
    }

    /// A candidate of any kind with explicit fields; priority and foundation computed from
    /// the kind and `local_pref`.
    pub fn new(
        kind: CandidateKind,
        addr: SocketAddr,
        base: SocketAddr,
        server: Option<IpAddr>,
        proto: Protocol,
        local_pref: u16,
    ) -> Self {
        Candidate {
            foundation: foundation(kind, base.ip(), server, proto),
            component: 1,
            proto,
            priority: candidate_priority(kind, local_pref, 1),
            addr,
            kind,
            related: (kind != CandidateKind::Host).then_some(base),
            ufrag: None,
        }
    }
}

/// Why an `a=candidate` line could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateParseError {
    /// Fewer fields than the grammar requires, or a field of the wrong form.
    #[error("malformed candidate: {0}")]
    Malformed(&'static str),
    /// The address is a hostname (e.g. an mDNS `.local` name) that the host must resolve.
    #[error("candidate address is a hostname: {0}")]
    Hostname(String),
}

/// The SDP attribute value, without `a=` (RFC 8839 §5.1), e.g.
/// `candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host`.
impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.proto {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        };
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            proto,
            self.priority,
            self.addr.ip(),
            self.addr.port(),
            self.kind.as_str()
        )?;
        if let Some(r) = self.related {
            write!(f, " raddr {} rport {}", r.ip(), r.port())?;
        }
        if self.proto == Protocol::Tcp {
            f.write_str(" tcptype passive")?;
        }
        if let Some(u) = &self.ufrag {
            write!(f, " ufrag {u}")?;
        }
        Ok(())
    }
}

impl FromStr for Candidate {
    type Err = CandidateParseError;

    /// Accepts the value with or without `a=` and `candidate:` prefixes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use CandidateParseError::Malformed;
        // Trimmed as the fields are split: ASCII whitespace only (Unicode trimming
        // would also take a vertical tab that the split keeps as a field, so our own
        // output would not parse back; found by fuzzing).
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let s = s.strip_prefix("a=").unwrap_or(s);
        let s = s.strip_prefix("candidate:").unwrap_or(s);
        let mut it = s.split_ascii_whitespace();
        let mut next = |what| it.next().ok_or(Malformed(what));
        let foundation = next("foundation")?;
        if foundation.is_empty() || foundation.len() > 32 {
            return Err(Malformed("foundation"));
        }
        let foundation = foundation.to_owned();
        let component: u16 = next("component")?
            .parse()
            .map_err(|_| Malformed("component"))?;
        let proto = match next("transport")?.to_ascii_lowercase().as_str() {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            _ => return Err(Malformed("transport")),
        };
        let priority: u32 = next("priority")?
            .parse()
            .map_err(|_| Malformed("priority"))?;
        let host = next("address")?;
        let port: u16 = next("port")?.parse().map_err(|_| Malformed("port"))?;
        let ip: IpAddr = match host.parse() {
            Ok(ip) => ip,
            Err(_) => {
                return Err(CandidateParseError::Hostname(
                    host.chars().take(64).collect(),
                ));
            }
        };
        if next("typ")? != "typ" {
            return Err(Malformed("typ"));
        }
        let kind = match next("type")? {
            "host" => CandidateKind::Host,
            "srflx" => CandidateKind::ServerReflexive,
            "prflx" => CandidateKind::PeerReflexive,
            "relay" => CandidateKind::Relayed,
            _ => return Err(Malformed("type")),
        };
        let mut raddr: Option<IpAddr> = None;
        let mut rport: Option<u16> = None;
        let mut ufrag = None;
        // Extension attributes come as name/value pairs (RFC 8839 §5.1).
        while let Some(name) = it.next() {
            let value = it.next().ok_or(Malformed("extension value"))?;
            match name {
                "raddr" => raddr = value.parse().ok(),
                "rport" => rport = value.parse().ok(),
                "ufrag" => ufrag = Some(value.chars().take(256).collect()),
                _ => {}
            }
        }
        Ok(Candidate {
            foundation,
            component,
            proto,
            priority,
            addr: SocketAddr::new(ip, port),
            kind,
            related: match (raddr, rport) {
                (Some(ip), Some(port)) => Some(SocketAddr::new(ip, port)),
                _ => None,
            },
            ufrag,
        })
    }
}
