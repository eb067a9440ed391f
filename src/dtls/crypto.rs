//! The cryptography seam: everything DTLS needs from a crypto library, in one file.
//!
//! Handshake crypto (ECDHE, the TLS 1.2 PRF, transcript hashes, signatures) comes from
//! rustls's aws-lc-rs `CryptoProvider` and rustls-webpki; record protection uses
//! aws-lc-rs's AEADs directly, because rustls's TLS 1.2 AEAD API cannot take a 16-byte
//! key (see DESIGN.md §3).

use std::sync::{Arc, OnceLock};

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::SignatureScheme;
use rustls::crypto::{ActiveKeyExchange, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::CertificateDer;
use rustls::sign::SigningKey;

use super::config::{CipherSuite, NamedGroup};
use super::wire::record::{ContentType, DTLS_1_2};

/// AEAD tag length for every suite we speak.
pub(crate) const TAG_LEN: usize = 16;

/// The signature schemes we accept from a peer, in the order we advertise them.
pub(crate) const VERIFY_SCHEMES: [u16; 8] = [
    0x0403, // ecdsa_secp256r1_sha256
    0x0503, // ecdsa_secp384r1_sha384
    0x0603, // ecdsa_secp521r1_sha512
    0x0807, // ed25519
    0x0804, // rsa_pss_rsae_sha256
    0x0805, // rsa_pss_rsae_sha384
    0x0401, // rsa_pkcs1_sha256
    0x0501, // rsa_pkcs1_sha384
];

/// Whether a signature scheme fits the ECDHE_ECDSA suites: ECDSA, or EdDSA (RFC 8422
/// §5.1.3 lets ECDHE_ECDSA suites sign with Ed25519).
pub(crate) fn is_ecdsa_suite_scheme(scheme: u16) -> bool {
    matches!(scheme, 0x0403 | 0x0503 | 0x0603 | 0x0807)
}

fn tls12_suite(s: CipherSuite) -> Option<&'static rustls::Tls12CipherSuite> {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let supported = match s {
        CipherSuite::EcdheEcdsaAes128GcmSha256 => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::EcdheEcdsaAes256GcmSha384 => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
    };
    match supported {
        rustls::SupportedCipherSuite::Tls12(t) => Some(t),
        _ => None,
    }
}

/// The suite's handshake hash of `data` (SHA-256 or SHA-384).
pub(crate) fn hash(s: CipherSuite, data: &[u8]) -> Vec<u8> {
    match tls12_suite(s) {
        Some(t) => t.common.hash_provider.hash(data).as_ref().to_vec(),
        None => Vec::new(),
    }
}

/// The TLS 1.2 PRF of the suite (RFC 5246 §5): `PRF(secret, label, seed)` into `out`.
pub(crate) fn prf(s: CipherSuite, out: &mut [u8], secret: &[u8], label: &[u8], seed: &[u8]) {
    if let Some(t) = tls12_suite(s) {
        t.prf_provider.for_secret(out, secret, label, seed);
    }
}

/// The master secret from a completed ECDHE exchange: `PRF(pms, label, seed)`, where the
/// label is "extended master secret" and the seed the session hash (RFC 7627 §4).
pub(crate) fn master_secret(
    s: CipherSuite,
    kx: Box<dyn ActiveKeyExchange>,
    peer_public: &[u8],
    label: &[u8],
    seed: &[u8],
) -> Option<[u8; 48]> {
    let t = tls12_suite(s)?;
    let mut out = [0u8; 48];
    t.prf_provider
        .for_key_exchange(&mut out, kx, peer_public, label, seed)
        .ok()?;
    Some(out)
}

/// Starts an ephemeral key exchange in `g`.
pub(crate) fn start_kx(g: NamedGroup) -> Option<Box<dyn ActiveKeyExchange>> {
    use rustls::crypto::aws_lc_rs::kx_group;
    let group: &'static dyn SupportedKxGroup = match g {
        NamedGroup::X25519 => kx_group::X25519,
        NamedGroup::Secp256r1 => kx_group::SECP256R1,
    };
    group.start().ok()
}

fn verify_algs() -> &'static WebPkiSupportedAlgorithms {
    static ALGS: OnceLock<WebPkiSupportedAlgorithms> = OnceLock::new();
    ALGS.get_or_init(|| {
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms
    })
}

/// Verifies `signature` over `message` with the public key of the certificate `cert_der`
/// under the TLS 1.2 signature scheme `scheme`. Only schemes we advertised are accepted.
pub(crate) fn verify_signature(
    cert_der: &[u8],
    scheme: u16,
    message: &[u8],
    signature: &[u8],
) -> bool {
    if !VERIFY_SCHEMES.contains(&scheme) {
        return false;
    }
    let scheme = SignatureScheme::from(scheme);
    let der = CertificateDer::from(cert_der);
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    let Some((_, algs)) = verify_algs().mapping.iter().find(|(s, _)| *s == scheme) else {
        return false;
    };
    // TLS 1.2 schemes name a hash, not a curve: try each algorithm that fits (the same
    // approach as rustls's `verify_tls12_signature`).
    algs.iter()
        .any(|alg| cert.verify_signature(*alg, message, signature).is_ok())
}

/// Whether a certificate parses as an X.509 end-entity certificate.
pub(crate) fn parses_as_certificate(cert_der: &[u8]) -> bool {
    let der = CertificateDer::from(cert_der);
    webpki::EndEntityCert::try_from(&der).is_ok()
}

/// Signs `message` with `key` under a scheme from `offered` (or ECDSA P-256 SHA-256 when
/// the peer offered none); returns the scheme's code point and the signature.
pub(crate) fn sign(
    key: &Arc<dyn SigningKey>,
    offered: &[u16],
    message: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let offered: Vec<SignatureScheme> = if offered.is_empty() {
        vec![SignatureScheme::ECDSA_NISTP256_SHA256]
    } else {
        offered.iter().map(|s| SignatureScheme::from(*s)).collect()
    };
    let signer = key.choose_scheme(&offered)?;
    let sig = signer.sign(message).ok()?;
    Some((u16::from(signer.scheme()), sig))
}

/// Record protection for one direction of one epoch (RFC 5288 for AES-GCM, RFC 7905 for
/// ChaCha20-Poly1305), with the DTLS additional data of RFC 6347 §4.1.2.1.
pub(crate) struct RecordCipher {
    key: LessSafeKey,
    iv: [u8; 12],
    /// AES-GCM carries an 8-byte explicit nonce in each record; ChaCha20 does not.
    explicit_nonce: bool,
}

impl core::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RecordCipher(..)")
    }
}

impl RecordCipher {
    /// Key and implicit IV lengths of a suite.
    pub(crate) fn lengths(s: CipherSuite) -> (usize, usize) {
        match s {
            CipherSuite::EcdheEcdsaAes128GcmSha256 => (16, 4),
            CipherSuite::EcdheEcdsaAes256GcmSha384 => (32, 4),
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => (32, 12),
        }
    }

    /// A cipher from key material of the right lengths.
    pub(crate) fn new(s: CipherSuite, key: &[u8], iv: &[u8]) -> Option<Self> {
        let alg = match s {
            CipherSuite::EcdheEcdsaAes128GcmSha256 => &aead::AES_128_GCM,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => &aead::AES_256_GCM,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => &aead::CHACHA20_POLY1305,
        };
        let key = LessSafeKey::new(UnboundKey::new(alg, key).ok()?);
        let mut full_iv = [0u8; 12];
        full_iv.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(RecordCipher {
            key,
            iv: full_iv,
            explicit_nonce: s != CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
        })
    }

    /// Bytes a record's fragment grows by when protected.
    pub(crate) fn overhead(&self) -> usize {
        self.explicit_len() + TAG_LEN
    }

    fn explicit_len(&self) -> usize {
        if self.explicit_nonce { 8 } else { 0 }
    }

    fn nonce(&self, explicit: [u8; 8]) -> Nonce {
        let mut n = self.iv;
        if self.explicit_nonce {
            if let Some(tail) = n.get_mut(4..) {
                tail.copy_from_slice(&explicit);
            }
        } else {
            for (b, e) in n.iter_mut().skip(4).zip(explicit) {
                *b ^= e;
            }
        }
        Nonce::assume_unique_for_key(n)
    }

    fn aad(epoch_seq: u64, ty: ContentType, plain_len: usize) -> [u8; 13] {
        let mut a = [0u8; 13];
        a[..8].copy_from_slice(&epoch_seq.to_be_bytes());
        a[8] = ty.to_u8();
        a[9..11].copy_from_slice(&DTLS_1_2.to_be_bytes());
        a[11..13].copy_from_slice(&(plain_len as u16).to_be_bytes());
        a
    }

    /// Protects in place. `frag` holds room for the explicit nonce, then `plain_len` bytes
    /// of plaintext, then room for the tag; returns the fragment length.
    pub(crate) fn seal(
        &self,
        epoch_seq: u64,
        ty: ContentType,
        frag: &mut [u8],
        plain_len: usize,
    ) -> Option<usize> {
        let ex = self.explicit_len();
        let total = ex + plain_len + TAG_LEN;
        let frag = frag.get_mut(..total)?;
        let explicit = epoch_seq.to_be_bytes();
        if let Some(dst) = frag.get_mut(..ex) {
            dst.copy_from_slice(explicit.get(..ex)?);
        }
        let nonce = self.nonce(explicit);
        let aad = Self::aad(epoch_seq, ty, plain_len);
        let (body, tag_out) = frag.get_mut(ex..)?.split_at_mut(plain_len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), body)
            .ok()?;
        tag_out.copy_from_slice(tag.as_ref());
        Some(total)
    }

    /// Opens a fragment in place; returns the plaintext's range within `frag`, or `None`
    /// when authentication fails.
    pub(crate) fn open(
        &self,
        epoch_seq: u64,
        ty: ContentType,
        frag: &mut [u8],
    ) -> Option<core::ops::Range<usize>> {
        let ex = self.explicit_len();
        let plain_len = frag.len().checked_sub(ex + TAG_LEN)?;
        let mut explicit = epoch_seq.to_be_bytes();
        if self.explicit_nonce {
            explicit = frag.get(..8)?.try_into().ok()?;
        }
        let nonce = self.nonce(explicit);
        let aad = Self::aad(epoch_seq, ty, plain_len);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), frag.get_mut(ex..)?)
            .ok()?;
        Some(ex..ex + plain.len())
    }
}
