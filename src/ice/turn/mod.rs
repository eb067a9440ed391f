//! TURN (RFC 8656): relayed candidates through a TURN server, as the ICE agent's own
//! client.
//!
//! The host lists ICE servers as URLs with credentials ([`IceServer`], the W3C
//! `RTCIceServer`) in [`IceConfig::ice_servers`](super::IceConfig::ice_servers). For each
//! `turn:`/`turns:` URL the agent allocates a relayed transport address with the
//! long-term credential mechanism (401 realm/nonce challenge, 438 stale nonce), signals
//! it as a `relay` candidate (type preference 0, related address = the server-reflexive
//! address the server saw), refreshes the allocation before it expires, creates a
//! permission for each remote candidate's IP and binds a channel per peer. Checks and
//! all later data on a pair whose local candidate is relayed travel in ChannelData
//! messages once the channel is bound, in Send indications before; what the server
//! relays back (ChannelData, Data indications) is unwrapped and handled as if it came
//! from the peer straight to the relayed address. Closing deallocates (Refresh with
//! LIFETIME 0). Failures are [`IceEvent::TurnError`](super::IceEvent::TurnError).
//!
//! ## Transports and the host's part
//!
//! - `turn:...?transport=udp` (default): datagrams from one of the host's UDP candidates
//!   of the server's address family. `Transmit { proto: Udp, source: host socket,
//!   destination: server }`; the host feeds what the server sends with
//!   `handle_receive` as usual.
//! - `turn:...?transport=tcp` and `turns:` (TLS over TCP): a byte stream the host owns.
//!   A `Transmit` with `proto: Protocol::Tcp` means: write these bytes, in order and
//!   entirely, to your TCP connection to `destination` (open one the first time; its
//!   `source` is the unspecified address). Everything read from that connection goes
//!   back with `handle_receive(Receive { proto: Tcp, source: server, destination: any,
//!   contents: bytes })`, in any chunking. If the connection fails or closes, call
//!   `handle_turn_stream_closed(server)`. Framing (RFC 8656 §12.5: STUN messages and
//!   ChannelData padded to 4 bytes) and TLS (rustls's `ClientConnection` with in-memory
//!   buffers, trusting [`IceConfig::turn_tls_roots`](super::IceConfig::turn_tls_roots))
//!   are done by sansrtc.
//!
//! sansrtc does no DNS: a URL whose host is a name must be given its address with
//! [`IceServerUrl::resolved`]; otherwise it is reported as [`TurnError::UnresolvedHost`].

pub mod channel_data;
pub(crate) mod client;
pub(crate) mod msg;
pub(crate) mod stream;
#[cfg(test)]
mod tests;
pub(crate) mod tls;
mod url;

use core::net::SocketAddr;

pub use url::{
    IceServer, IceServerError, IceServerUrl, IceTransportPolicy, TurnTransport, UrlScheme,
};

/// The long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":"
/// password). The inputs are used as given (OpaqueString/SASLprep processing is the
/// caller's; it changes nothing for ASCII).
///
/// ```
/// // MD5("user:realm:pass"), as `printf 'user:realm:pass' | openssl md5` prints it.
/// let k = sansrtc::ice::turn::long_term_key("user", "realm", "pass");
/// assert_eq!(k, [0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb]);
/// ```
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut ctx = md5::Context::new();
    ctx.consume(username.as_bytes());
    ctx.consume(b":");
    ctx.consume(realm.as_bytes());
    ctx.consume(b":");
    ctx.consume(password.as_bytes());
    ctx.compute().0
}

/// A TURN failure, reported with [`IceEvent::TurnError`](super::IceEvent::TurnError).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// 401 to a request that carried our credentials (RFC 8489 §9.2.5): wrong username
    /// or password (or realm).
    #[error("TURN server refused the credentials (401)")]
    WrongCredentials,
    /// 486 Allocation Quota Reached (RFC 8656 §7.2).
    #[error("TURN allocation quota reached (486)")]
    AllocationQuota,
    /// 508 Insufficient Capacity (RFC 8656 §7.2).
    #[error("TURN server has insufficient capacity (508)")]
    InsufficientCapacity,
    /// No response: every retransmission timed out (RFC 8489 §6.2.1), or Ti elapsed on a
    /// stream.
    #[error("TURN server unreachable (no response)")]
    Unreachable,
    /// The allocation is gone: 437, a refresh the server refused, or it expired.
    #[error("TURN allocation lost")]
    AllocationLost,
    /// Another error response.
    #[error("TURN server error {code}: {reason}")]
    Rejected {
        /// The STUN error code.
        code: u16,
        /// Its reason phrase (at most 128 characters).
        reason: String,
    },
    /// The URL names a host the host program did not resolve ([`IceServerUrl::resolved`]).
    #[error("TURN server host name not resolved")]
    UnresolvedHost,
    /// A UDP server with no host candidate of its address family to send from.
    #[error("no local UDP socket for the TURN server's address family")]
    NoLocalSocket,
    /// TLS failed (configuration, handshake, certificate).
    #[error("TURN over TLS: {0}")]
    Tls(String),
    /// The host's TCP connection closed, or its bytes could not be framed.
    #[error("TURN stream closed or broken")]
    StreamClosed,
}

/// Counters of one TURN server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnStats {
    /// The server's URL.
    pub url: String,
    /// The relayed address, once allocated.
    pub relayed: Option<SocketAddr>,
    /// The server-reflexive address the server reported.
    pub mapped: Option<SocketAddr>,
    /// Successful Allocate requests.
    pub allocations: u32,
    /// Successful Refresh requests (not counting the deallocation).
    pub refreshes: u32,
    /// 438 Stale Nonce answers (each retried with the new nonce).
    pub stale_nonces: u32,
    /// Successful CreatePermission requests (new and refreshed).
    pub permissions: u32,
    /// Successful ChannelBind requests (new and refreshed).
    pub channel_binds: u32,
    /// ChannelData messages sent.
    pub sent_channel_data: u64,
    /// Send indications sent.
    pub sent_send_indications: u64,
    /// ChannelData messages received.
    pub received_channel_data: u64,
    /// Data indications received.
    pub received_data_indications: u64,
    /// Datagrams dropped: queues full, no permission, buffer too small.
    pub dropped: u64,
    /// Malformed or unauthenticated messages from the server.
    pub malformed: u64,
    /// Errors reported as events.
    pub errors: u32,
}
