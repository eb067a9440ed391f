//! ICE server URLs: `stun:` (RFC 7064) and `turn:`/`turns:` (RFC 7065), as a browser's
//! `RTCIceServer` carries them, with their credentials.

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::str::FromStr;

/// The scheme of an ICE server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlScheme {
    /// `stun:`: a STUN server, for server-reflexive candidates (RFC 7064).
    Stun,
    /// `turn:`: a TURN server over UDP or TCP (RFC 7065).
    Turn,
    /// `turns:`: a TURN server over TLS on TCP (RFC 7065 §3.2).
    Turns,
}

/// How the agent reaches a TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// UDP datagrams (`turn:...?transport=udp`, the default of `turn:`).
    Udp,
    /// A TCP byte stream the host owns (`turn:...?transport=tcp`, RFC 8656 §3.1).
    Tcp,
    /// TLS over a TCP byte stream the host owns (`turns:`, RFC 8656 §3.1).
    Tls,
}

/// One parsed ICE server URL.
///
/// ```
/// use sansrtc::ice::turn::{IceServerUrl, TurnTransport, UrlScheme};
/// let u: IceServerUrl = "turn:192.0.2.1?transport=tcp".parse().unwrap();
/// assert_eq!(u.scheme, UrlScheme::Turn);
/// assert_eq!(u.transport, TurnTransport::Tcp);
/// assert_eq!(u.port, 3478);
/// assert_eq!(u.addr(), Some("192.0.2.1:3478".parse().unwrap()));
/// let s: IceServerUrl = "turns:turn.example.org".parse().unwrap();
/// assert_eq!((s.port, s.transport, s.addr()), (5349, TurnTransport::Tls, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IceServerUrl {
    /// The scheme.
    pub scheme: UrlScheme,
    /// The host as written: an IP literal (IPv6 without brackets) or a DNS name.
    pub host: String,
    /// The port: given, or 3478 (`stun:`, `turn:`) or 5349 (`turns:`) (RFC 7064 §3.1,
    /// RFC 7065 §3).
    pub port: u16,
    /// The transport to the server (`stun:` servers are always reached over UDP here).
    pub transport: TurnTransport,
    /// The server's IP address: the host itself when it is an IP literal, or what the
    /// host program resolved the name to (see [`IceServerUrl::resolved`]). sansrtc does
    /// no DNS: a URL with a name and no address is reported as
    /// [`TurnError::UnresolvedHost`](super::TurnError::UnresolvedHost).
    pub ip: Option<IpAddr>,
}

impl IceServerUrl {
    /// The server's transport address, when its IP is known.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.ip.map(|ip| SocketAddr::new(ip, self.port))
    }

    /// The same URL with the server's IP set (the host resolved the DNS name). The name
    /// stays the TLS server name of a `turns:` URL.
    pub fn resolved(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// True for `turn:` and `turns:`.
    pub fn is_turn(&self) -> bool {
        self.scheme != UrlScheme::Stun
    }
}

impl fmt::Display for IceServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            UrlScheme::Stun => "stun",
            UrlScheme::Turn => "turn",
            UrlScheme::Turns => "turns",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}:[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{scheme}:{}:{}", self.host, self.port)?;
        }
        match (self.scheme, self.transport) {
            (UrlScheme::Turn, TurnTransport::Tcp) => f.write_str("?transport=tcp"),
            (UrlScheme::Turn, _) => f.write_str("?transport=udp"),
            _ => Ok(()),
        }
    }
}

/// Why an ICE server URL or entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceServerError {
    /// The scheme is not `stun:`, `turn:` or `turns:`.
    #[error("unknown ICE server URL scheme in {0:?}")]
    UnknownScheme(String),
    /// No host after the scheme.
    #[error("ICE server URL without a host")]
    MissingHost,
    /// The port is not a number in 1..=65535.
    #[error("bad port in ICE server URL")]
    BadPort,
    /// An IPv6 literal without its closing bracket, or a host with characters a host
    /// name cannot have.
    #[error("bad host in ICE server URL")]
    BadHost,
    /// A query other than `transport=udp` or `transport=tcp` (RFC 7065 §3.1).
    #[error("bad transport in ICE server URL: {0:?}")]
    BadTransport(String),
    /// A transport the scheme does not allow: `stun:` takes none (RFC 7064), and
    /// `turns:` with `transport=udp` would be DTLS, which sansrtc does not do.
    #[error("transport not allowed for this scheme")]
    TransportNotAllowed,
    /// A `turn:`/`turns:` URL in an entry without username or credential.
    #[error("TURN server without username or credential")]
    MissingCredentials,
    /// An entry without URLs.
    #[error("ICE server entry without URLs")]
    NoUrls,
}

impl FromStr for IceServerUrl {
    type Err = IceServerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| IceServerError::UnknownScheme(s.chars().take(32).collect()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "stun" => UrlScheme::Stun,
            "turn" => UrlScheme::Turn,
            "turns" => UrlScheme::Turns,
            other => {
                return Err(IceServerError::UnknownScheme(
                    other.chars().take(32).collect(),
                ));
            }
        };
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let (host, port) = split_host_port(hostport)?;
        let transport = match (scheme, query) {
            (UrlScheme::Stun, None) => TurnTransport::Udp,
            (UrlScheme::Stun, Some(_)) => return Err(IceServerError::TransportNotAllowed),
            (UrlScheme::Turn, None) => TurnTransport::Udp,
            (UrlScheme::Turns, None) => TurnTransport::Tls,
            (scheme, Some(q)) => match (scheme, q.to_ascii_lowercase().as_str()) {
                (UrlScheme::Turn, "transport=udp") => TurnTransport::Udp,
                (UrlScheme::Turn, "transport=tcp") => TurnTransport::Tcp,
                (UrlScheme::Turns, "transport=tcp") => TurnTransport::Tls,
                (UrlScheme::Turns, "transport=udp") => {
                    return Err(IceServerError::TransportNotAllowed);
                }
                (_, other) => {
                    return Err(IceServerError::BadTransport(
                        other.chars().take(32).collect(),
                    ));
                }
            },
        };
        let port = match port {
            Some(p) => p,
            None if scheme == UrlScheme::Turns => 5349,
            None => 3478,
        };
        Ok(IceServerUrl {
            scheme,
            ip: host.parse().ok(),
            host,
            port,
            transport,
        })
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), IceServerError> {
    if s.is_empty() {
        return Err(IceServerError::MissingHost);
    }
    let parse_port = |p: &str| -> Result<u16, IceServerError> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(IceServerError::BadPort),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(IceServerError::BadHost)?;
        if host.parse::<core::net::Ipv6Addr>().is_err() {
            return Err(IceServerError::BadHost);
        }
        let port = match after {
            "" => None,
            p => Some(parse_port(
                p.strip_prefix(':').ok_or(IceServerError::BadHost)?,
            )?),
        };
        return Ok((host.to_owned(), port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(parse_port(p)?)),
        None => (s, None),
    };
    if host.is_empty() {
        return Err(IceServerError::MissingHost);
    }
    let ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if !ok || host.len() > 253 {
        return Err(IceServerError::BadHost);
    }
    Ok((host.to_owned(), port))
}

/// One ICE server entry (the W3C `RTCIceServer`): URLs sharing one username and
/// credential.
#[derive(Clone, PartialEq, Eq)]
pub struct IceServer {
    /// The server's URLs.
    pub urls: Vec<IceServerUrl>,
    /// The TURN username (long-term credential mechanism, RFC 8489 §9.2).
    pub username: String,
    /// The TURN password.
    pub credential: String,
}

impl fmt::Debug for IceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log passwords.
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &"..")
            .finish()
    }
}

impl IceServer {
    /// Parses the URLs of one entry. `turn:` and `turns:` URLs need a non-empty username
    /// and credential.
    ///
    /// ```
    /// use sansrtc::ice::turn::{IceServer, IceServerError};
    /// let s = IceServer::new(&["turn:127.0.0.1:3478", "turns:127.0.0.1:5349"], "user", "pass").unwrap();
    /// assert_eq!(s.urls.len(), 2);
    /// assert_eq!(IceServer::new(&["turn:127.0.0.1"], "", ""), Err(IceServerError::MissingCredentials));
    /// assert!(IceServer::new(&["stun:127.0.0.1"], "", "").is_ok());
    /// ```
    pub fn new(urls: &[&str], username: &str, credential: &str) -> Result<Self, IceServerError> {
        if urls.is_empty() {
            return Err(IceServerError::NoUrls);
        }
        let urls = urls
            .iter()
            .map(|u| u.parse())
            .collect::<Result<Vec<IceServerUrl>, _>>()?;
        if urls.iter().any(IceServerUrl::is_turn) && (username.is_empty() || credential.is_empty())
        {
            return Err(IceServerError::MissingCredentials);
        }
        Ok(IceServer {
            urls,
            username: username.to_owned(),
            credential: credential.to_owned(),
        })
    }
}

/// Which candidates the agent may use (the W3C `RTCIceTransportPolicy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IceTransportPolicy {
    /// Every candidate type. The default.
    #[default]
    All,
    /// Only relayed candidates are paired and signalled; host candidates serve only as
    /// sockets to reach the TURN servers, and checks arriving at them are ignored.
    Relay,
}
