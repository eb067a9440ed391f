//! DTLS 1.2 (RFC 6347) as a sans-IO machine: the handshake, the record layer and the
//! SRTP keying material export that WebRTC needs.
//!
//! Both ends use self-signed certificates and authenticate each other by certificate
//! fingerprint (RFC 8122, RFC 8827): the host hands the peer's `a=fingerprint` values to
//! [`Dtls::set_remote_fingerprints`], and the connection comes up only if the peer's
//! certificate matches one of them.
//!
//! [`Dtls`] knows nothing of addresses: it takes datagrams that the host's demultiplexer
//! (RFC 7983) classified as DTLS, and gives datagrams to send to the peer.
//!
//! ```
//! use sansrtc::dtls::{Dtls, DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole};
//! use sansrtc::{Instant, RngSource};
//!
//! let (ca, cb) = (DtlsCertificate::generate().unwrap(), DtlsCertificate::generate().unwrap());
//! let config = |seed| DtlsConfig { rng: RngSource::Seeded(seed), ..DtlsConfig::default() };
//! let mut client = Dtls::new(config(1), ca.clone(), DtlsRole::Client).unwrap();
//! let mut server = Dtls::new(config(2), cb.clone(), DtlsRole::Server).unwrap();
//! // From signalling: each side learns the other's fingerprint.
//! client.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
//! server.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
//!
//! let now = Instant::ZERO;
//! client.start(now);
//! client.send(b"hello").unwrap(); // queued until connected
//! let mut buf = [0u8; 1500];
//! let mut got = Vec::new();
//! for _ in 0..10 {
//!     while let Some(n) = client.poll_datagram(&mut buf) { server.handle_receive(now, &buf[..n]); }
//!     while let Some(n) = server.poll_datagram(&mut buf) { client.handle_receive(now, &buf[..n]); }
//!     while let Some(e) = server.poll_event() {
//!         if let DtlsEvent::ApplicationData(d) = e { got.push(d); }
//!     }
//! }
//! assert!(client.is_connected() && server.is_connected());
//! assert_eq!(got, vec![b"hello".to_vec()]);
//! let k1 = client.srtp_keying_material().unwrap();
//! let k2 = server.srtp_keying_material().unwrap();
//! assert_eq!(k1, k2);
//! ```

mod cert;
mod config;
mod crypto;
mod endpoint;
mod flight;
mod handshake;
mod reassembly;
mod record_layer;
#[cfg(test)]
mod tests;
pub mod wire;

pub use cert::{DtlsCertificate, Fingerprint, FingerprintParseError, HashAlgorithm};
pub use config::{CipherSuite, DtlsConfig, NamedGroup, SrtpProfile};
pub use endpoint::Dtls;
pub use wire::alert::AlertDescription;

/// Which side of the handshake this endpoint plays (from SDP `a=setup`: `active` is the
/// client, `passive` the server; RFC 8842 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// DTLS errors: from the API, and the reasons a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// A certificate or key could not be made or loaded.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The configuration cannot work (named field).
    #[error("invalid DTLS configuration: {0}")]
    Config(&'static str),
    /// We ended the handshake with a fatal alert.
    #[error("handshake failed ({alert}): {reason}")]
    HandshakeFailed {
        /// The alert sent to the peer.
        alert: AlertDescription,
        /// What went wrong.
        reason: &'static str,
    },
    /// The peer's certificate matches none of the fingerprints from signalling.
    #[error("peer certificate does not match the signalled fingerprint")]
    FingerprintMismatch,
    /// The peer sent a fatal alert.
    #[error("peer sent fatal alert {0}")]
    AlertReceived(AlertDescription),
    /// The handshake did not complete within `handshake_timeout`.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The connection is not up yet.
    #[error("not connected")]
    NotConnected,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// A bound was reached (queued bytes or datagrams); try again after draining.
    #[error("queue full")]
    QueueFull,
    /// The data does not fit one record (16 KiB) or the given buffer.
    #[error("too large: {0} bytes")]
    TooLarge(usize),
    /// The record sequence numbers of epoch 1 ran out (2^48 records).
    #[error("sequence numbers exhausted")]
    SequenceExhausted,
}

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Dtls::close`] was called.
    Local,
    /// The peer sent close_notify.
    PeerClosed,
    /// The handshake or the connection failed.
    Failed(DtlsError),
}

/// SRTP master keys and salts exported from the handshake (RFC 5764 §4.2).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    /// The negotiated protection profile.
    pub profile: SrtpProfile,
    /// client_write_SRTP_master_key.
    pub client_key: Vec<u8>,
    /// client_write_SRTP_master_salt.
    pub client_salt: Vec<u8>,
    /// server_write_SRTP_master_key.
    pub server_key: Vec<u8>,
    /// server_write_SRTP_master_salt.
    pub server_salt: Vec<u8>,
}

impl core::fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SrtpKeyingMaterial {
    /// `(key, salt)` this side protects with.
    pub fn local(&self, role: DtlsRole) -> (&[u8], &[u8]) {
        match role {
            DtlsRole::Client => (&self.client_key, &self.client_salt),
            DtlsRole::Server => (&self.server_key, &self.server_salt),
        }
    }

    /// `(key, salt)` the peer protects with.
    pub fn remote(&self, role: DtlsRole) -> (&[u8], &[u8]) {
        match role {
            DtlsRole::Client => (&self.server_key, &self.server_salt),
            DtlsRole::Server => (&self.client_key, &self.client_salt),
        }
    }
}

/// What an established connection runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsConnected {
    /// The negotiated cipher suite.
    pub cipher_suite: CipherSuite,
    /// SRTP keys when `use_srtp` was negotiated.
    pub srtp: Option<SrtpKeyingMaterial>,
    /// The peer's certificate (DER).
    pub peer_certificate: Vec<u8>,
}

/// Something the host should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    /// The handshake completed and the peer's fingerprint matched.
    Connected(Box<DtlsConnected>),
    /// Application data from the peer (from [`Dtls::handle_receive`]; the sink given to
    /// [`Dtls::handle_receive_with`] gets it directly instead, except for data that
    /// arrived before the connection was confirmed).
    ApplicationData(Vec<u8>),
    /// The connection closed; nothing more will happen.
    Closed(CloseReason),
}

/// Counters. "Dropped" records were discarded without any change of state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DtlsStats {
    /// Datagrams handed in.
    pub datagrams_in: u64,
    /// Datagrams handed out.
    pub datagrams_out: u64,
    /// Records that authenticated (or epoch-0 records accepted).
    pub records_in: u64,
    /// Records or datagrams that did not parse.
    pub dropped_malformed: u64,
    /// Records seen before or older than the replay window.
    pub dropped_replay: u64,
    /// Records that failed authentication.
    pub dropped_bad_auth: u64,
    /// Records of an epoch we have no keys for (and could not buffer).
    pub dropped_epoch: u64,
    /// Records that make no sense in the current state (plaintext application data,
    /// renegotiation attempts, unauthenticated alerts after the handshake).
    pub dropped_unexpected: u64,
    /// Application data dropped because the event queue or a buffer was full.
    pub dropped_overflow: u64,
    /// Flights retransmitted (by timer or because the peer retransmitted).
    pub retransmits: u64,
    /// Application data bytes received.
    pub app_bytes_in: u64,
    /// Application data bytes sent.
    pub app_bytes_out: u64,
}

/// Current sizes of a [`Dtls`] endpoint's buffers and queues
/// ([`Dtls::diagnostics`]). The limits are the matching [`DtlsConfig`] fields, and 4096
/// datagrams for the output queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtlsDiagnostics {
    /// Handshake bytes held for reassembly (limit `max_reassembly_bytes`).
    pub reassembly_bytes: usize,
    /// Datagrams waiting for `poll_datagram` (limit 4096).
    pub queued_datagrams: usize,
    /// Bytes of those datagrams.
    pub queued_datagram_bytes: usize,
    /// Bytes of the current flight kept for retransmission.
    pub flight_bytes: usize,
    /// Application data queued by `send` before the connection is up (limit
    /// `max_queued_bytes`).
    pub queued_app_bytes: usize,
    /// Records held for keys not known yet (limit `max_buffered_records`).
    pub early_records: usize,
    /// Application data records held until the fingerprint is checked (limit
    /// `max_buffered_records`).
    pub held_records: usize,
    /// Events waiting for `poll_event` (limit `max_events`).
    pub events: usize,
    /// Approximate bytes held by all of the above.
    pub bytes: usize,
}

/// Most datagrams a [`Dtls`] endpoint queues for `poll_datagram`.
pub const MAX_QUEUED_DATAGRAMS: usize = 4096;
