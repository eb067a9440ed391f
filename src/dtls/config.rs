//! DTLS configuration and the negotiable parameters.

use crate::rng::RngSource;
use crate::time::Duration;

/// The cipher suites sansrtc speaks (all ECDHE with ECDSA certificates, AEAD records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xC02B, RFC 5289): what browsers use.
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xC02C, RFC 5289).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xCCA9, RFC 7905).
    EcdheEcdsaChacha20Poly1305Sha256,
}

impl CipherSuite {
    /// Every suite, strongest-first is not implied: this is the default preference.
    pub const ALL: [CipherSuite; 3] = [
        CipherSuite::EcdheEcdsaAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes256GcmSha384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
    ];

    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            CipherSuite::EcdheEcdsaAes128GcmSha256 => 0xc02b,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => 0xc02c,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => 0xcca9,
        }
    }

    /// From the IANA code point.
    pub fn from_id(id: u16) -> Option<Self> {
        CipherSuite::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// Key exchange groups (RFC 8422 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamedGroup {
    /// x25519 (29).
    X25519,
    /// secp256r1 / P-256 (23).
    Secp256r1,
}

impl NamedGroup {
    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            NamedGroup::X25519 => 29,
            NamedGroup::Secp256r1 => 23,
        }
    }

    /// From the IANA code point.
    pub fn from_id(id: u16) -> Option<Self> {
        [NamedGroup::X25519, NamedGroup::Secp256r1]
            .into_iter()
            .find(|g| g.id() == id)
    }
}

/// SRTP protection profiles negotiated by `use_srtp` (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001): what Chromium picks.
    Aes128CmHmacSha1_80,
    /// SRTP_AES128_CM_HMAC_SHA1_32 (0x0002).
    Aes128CmHmacSha1_32,
    /// SRTP_AEAD_AES_128_GCM (0x0007).
    AeadAes128Gcm,
    /// SRTP_AEAD_AES_256_GCM (0x0008).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, in the default preference order.
    pub const ALL: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
    ];

    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => 0x0001,
            SrtpProfile::Aes128CmHmacSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// From the IANA code point.
    pub fn from_id(id: u16) -> Option<Self> {
        SrtpProfile::ALL.into_iter().find(|p| p.id() == id)
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes.
    pub fn salt_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
            _ => 14,
        }
    }
}

/// Configuration of a DTLS endpoint. Defaults suit WebRTC.
#[derive(Debug, Clone)]
pub struct DtlsConfig {
    /// Cipher suites in preference order (the server's order decides). Default: all three,
    /// AES-128-GCM first.
    pub cipher_suites: Vec<CipherSuite>,
    /// Key exchange groups in preference order. Default: X25519, P-256.
    pub groups: Vec<NamedGroup>,
    /// SRTP profiles offered or accepted, in preference order (the server's order
    /// decides). Empty: no `use_srtp` (data channels only). Default: all four, GCM first.
    pub srtp_profiles: Vec<SrtpProfile>,
    /// Largest datagram sent; handshake flights are fragmented to fit. Default 1200.
    pub mtu: usize,
    /// First retransmission timeout of a flight (RFC 6347 §4.2.4.1). Default 1 s.
    pub initial_retransmit: Duration,
    /// Ceiling of the doubling retransmission timeout. Default 8 s.
    pub max_retransmit: Duration,
    /// The handshake fails when it has not completed this long after it started.
    /// Default 30 s.
    pub handshake_timeout: Duration,
    /// A server answers a ClientHello without a valid cookie with a HelloVerifyRequest
    /// (RFC 6347 §4.2.1) and keeps no state for it. Default `true`.
    pub require_cookie: bool,
    /// Largest handshake message accepted. Default 16 KiB.
    pub max_handshake_message: usize,
    /// Bytes of handshake messages held for reassembly at once. Default 64 KiB.
    pub max_reassembly_bytes: usize,
    /// Records held because they arrived before their keys, or application data held
    /// before the peer's fingerprint was checked. Default 32.
    pub max_buffered_records: usize,
    /// Application data queued by `send` before the connection is up, in bytes.
    /// Default 256 KiB.
    pub max_queued_bytes: usize,
    /// Events held until `poll_event` takes them. Default 1024; application data beyond
    /// it is dropped (and counted), as a datagram transport may.
    pub max_events: usize,
    /// Most certificates accepted in the peer's chain. Default 4.
    pub max_cert_chain: usize,
    /// Randomness for the hello randoms and the cookie secret.
    pub rng: RngSource,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            cipher_suites: CipherSuite::ALL.to_vec(),
            groups: vec![NamedGroup::X25519, NamedGroup::Secp256r1],
            srtp_profiles: SrtpProfile::ALL.to_vec(),
            mtu: 1200,
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(8),
            handshake_timeout: Duration::from_secs(30),
            require_cookie: true,
            max_handshake_message: 16 * 1024,
            max_reassembly_bytes: 64 * 1024,
            max_buffered_records: 32,
            max_queued_bytes: 256 * 1024,
            max_events: 1024,
            max_cert_chain: 4,
            rng: RngSource::Secure,
        }
    }
}
