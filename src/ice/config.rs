//! ICE agent configuration.

use core::net::SocketAddr;

use crate::rng::{Rng, RngSource};

use super::turn::{IceServer, IceTransportPolicy};
use crate::time::Duration;

/// A username fragment and password (RFC 8445 §5.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The username fragment (`a=ice-ufrag`), 4 to 256 ICE characters.
    pub ufrag: String,
    /// The password (`a=ice-pwd`), 22 to 256 ICE characters.
    pub pwd: String,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never log passwords.
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"..")
            .finish()
    }
}

impl Credentials {
    /// New random credentials: an 8-character ufrag (48 bits) and a 24-character password
    /// (144 bits), from the ICE character set (RFC 8839 §5.4).
    pub fn random(rng: &mut Rng) -> Self {
        Credentials {
            ufrag: ice_chars(rng, 8),
            pwd: ice_chars(rng, 24),
        }
    }

    /// True when both fields use only ICE characters and have legal lengths
    /// (RFC 8839 §5.4: ufrag 4..=256, pwd 22..=256).
    pub fn is_valid(&self) -> bool {
        let ok = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        };
        (4..=256).contains(&self.ufrag.len())
            && (22..=256).contains(&self.pwd.len())
            && ok(&self.ufrag)
            && ok(&self.pwd)
    }
}

fn ice_chars(rng: &mut Rng, n: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = [0u8; 256];
    let n = n.min(bytes.len());
    let buf = bytes.get_mut(..n).unwrap_or_default();
    rng.fill(buf);
    buf.iter()
        .map(|b| char::from(ALPHABET.get(usize::from(b & 63)).copied().unwrap_or(b'A')))
        .collect()
}

/// Configuration of an [`IceAgent`](super::IceAgent). `Default` gives the values noted on
/// each field.
#[derive(Debug, Clone)]
pub struct IceConfig {
    /// Act as an ICE-lite agent (RFC 8445 §2.5): answer checks, never send them.
    /// Default `false`.
    pub lite: bool,
    /// Start in the controlling role. The offerer of a full/full session is controlling
    /// (RFC 8445 §6.1.1). Default `true`.
    pub controlling: bool,
    /// Local credentials; random when `None`. Default `None`.
    pub local_credentials: Option<Credentials>,
    /// STUN servers to learn server-reflexive candidates from. Default empty.
    pub stun_servers: Vec<SocketAddr>,
    /// ICE servers as URLs (`stun:`, `turn:`, `turns:`) with credentials, as in the W3C
    /// `RTCConfiguration.iceServers`: `stun:` URLs join `stun_servers`, and each TURN URL
    /// gets an allocation and a relayed candidate (see [`super::turn`]). Default empty.
    pub ice_servers: Vec<IceServer>,
    /// Which candidates may be used (W3C `iceTransportPolicy`): with `Relay`, only
    /// relayed candidates are paired and signalled. Default `All`.
    pub transport_policy: IceTransportPolicy,
    /// Trusted root certificates (DER) for `turns:` servers. Default empty (a `turns:`
    /// URL then fails with `TurnError::Tls`).
    pub turn_tls_roots: Vec<Vec<u8>>,
    /// The allocation lifetime asked for in Refresh requests (RFC 8656 §7.2: 600 s by
    /// default; the server may give less, and the client refreshes before what it got
    /// runs out). Default 600 s.
    pub turn_lifetime: Duration,
    /// Refresh a permission this long after it was installed (RFC 8656 §9: permissions
    /// last 300 s). Default 240 s.
    pub turn_permission_refresh: Duration,
    /// Refresh a channel binding this long after it was made (RFC 8656 §12: bindings last
    /// 600 s). Default 540 s.
    pub turn_channel_refresh: Duration,
    /// Most permissions per allocation (peer IPs). Default 32.
    pub turn_max_permissions: usize,
    /// Most channels per allocation; further peers get Send indications. Default 32.
    pub turn_max_channels: usize,
    /// Most datagrams held per allocation while a permission is being created, and the
    /// bound (times two) of frames queued for the server. Default 32.
    pub turn_max_pending: usize,
    /// Most bytes buffered from or for a TCP/TLS stream to a TURN server. Default
    /// 135,168 (two largest frames).
    pub turn_stream_buffer: usize,
    /// Ta, the pacing of new transactions (RFC 8445 §14.2). Default 50 ms.
    pub ta: Duration,
    /// Initial retransmission timeout of a STUN transaction (RFC 8445 §14.3 takes the
    /// larger of this and Ta times the number of active pairs). Default 500 ms.
    pub rto_initial: Duration,
    /// Ceiling of the doubling retransmission timeout. Default 3 s.
    pub rto_max: Duration,
    /// Retransmissions of a connectivity check or gathering request before it fails
    /// (RFC 8489 §6.2.1 Rc - 1). Default 6.
    pub max_retransmits: u32,
    /// Without nomination, the controlling agent nominates the best valid pair this long
    /// after the first pair became valid, even if better pairs are still being checked.
    /// Default 1 s.
    pub nomination_delay: Duration,
    /// Give up (state `Failed`) if no pair is selected this long after checks began.
    /// Default 30 s.
    pub checking_timeout: Duration,
    /// Mean interval of consent checks on the selected pair (RFC 7675 §5.1: 5 s,
    /// randomised to 0.8–1.2 times). Default 5 s.
    pub consent_interval: Duration,
    /// Consent is lost this long after the last consent response (RFC 7675 §5.1: 30 s).
    /// Default 30 s.
    pub consent_timeout: Duration,
    /// The state becomes `Disconnected` when no consent response came for this long.
    /// Default 8 s.
    pub disconnected_timeout: Duration,
    /// Keepalive (Binding indication) when nothing was sent on the selected pair for this
    /// long (RFC 8445 §11, Tr). Default 15 s.
    pub keepalive_interval: Duration,
    /// Most remote candidates kept; more are refused. Default 100.
    pub max_remote_candidates: usize,
    /// Most local candidates (host, reflexive) kept. Default 32.
    pub max_local_candidates: usize,
    /// Most candidate pairs (RFC 8445 §6.1.2.5 recommends 100). Default 100.
    pub max_pairs: usize,
    /// Most outstanding STUN transactions. Default 200.
    pub max_transactions: usize,
    /// Most datagrams queued for `poll_transmit`; more are dropped. Default 256.
    pub max_queued_transmits: usize,
    /// SOFTWARE attribute value, if any. Default `None`.
    pub software: Option<String>,
    /// Source of randomness (credentials, tie-breaker, transaction ids). Default secure.
    pub rng: RngSource,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            lite: false,
            controlling: true,
            local_credentials: None,
            stun_servers: Vec::new(),
            ice_servers: Vec::new(),
            transport_policy: IceTransportPolicy::All,
            turn_tls_roots: Vec::new(),
            turn_lifetime: Duration::from_secs(600),
            turn_permission_refresh: Duration::from_secs(240),
            turn_channel_refresh: Duration::from_secs(540),
            turn_max_permissions: 32,
            turn_max_channels: 32,
            turn_max_pending: 32,
            turn_stream_buffer: 135_168,
            ta: Duration::from_millis(50),
            rto_initial: Duration::from_millis(500),
            rto_max: Duration::from_secs(3),
            max_retransmits: 6,
            nomination_delay: Duration::from_secs(1),
            checking_timeout: Duration::from_secs(30),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            disconnected_timeout: Duration::from_secs(8),
            keepalive_interval: Duration::from_secs(15),
            max_remote_candidates: 100,
            max_local_candidates: 32,
            max_pairs: 100,
            max_transactions: 200,
            max_queued_transmits: 256,
            software: None,
            rng: RngSource::Secure,
        }
    }
}
