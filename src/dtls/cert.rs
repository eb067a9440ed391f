//! Certificates and their fingerprints (RFC 8122 §5, `a=fingerprint`).
//!
//! WebRTC endpoints use self-signed certificates; the peer is authenticated by comparing
//! the hash of its certificate with the fingerprint carried in the signalled SDP.

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::digest;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::SigningKey;

use super::DtlsError;

/// Hash functions of a certificate fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl HashAlgorithm {
    /// The name used in SDP.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    fn len(self) -> usize {
        self.digest_alg().output_len
    }
}

/// A certificate fingerprint: a hash algorithm and the hash of the DER certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The hash function.
    pub algorithm: HashAlgorithm,
    /// The hash.
    pub bytes: Vec<u8>,
}

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(algorithm: HashAlgorithm, der: &[u8]) -> Self {
        Fingerprint {
            algorithm,
            bytes: digest::digest(algorithm.digest_alg(), der)
                .as_ref()
                .to_vec(),
        }
    }

    /// Whether `der` hashes to this fingerprint (compared in constant time).
    pub fn matches(&self, der: &[u8]) -> bool {
        let other = Fingerprint::of(self.algorithm, der);
        other.bytes.len() == self.bytes.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(&other.bytes, &self.bytes).is_ok()
    }
}

/// The `a=fingerprint` value: `sha-256 AB:CD:...` (upper-case hex, RFC 8122 §5).
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.name())?;
        for (i, b) in self.bytes.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ":" })?;
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Why an `a=fingerprint` value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintParseError {
    /// The hash function is not sha-256, sha-384 or sha-512.
    #[error("unsupported fingerprint hash function {0:?}")]
    UnsupportedHash(String),
    /// The value is not colon-separated hex pairs of the hash's length.
    #[error("malformed fingerprint value")]
    Malformed,
}

impl FromStr for Fingerprint {
    type Err = FingerprintParseError;

    /// Parses `sha-256 AB:CD:...`; the hash name and hex digits are case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, value) = s
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(FingerprintParseError::Malformed)?;
        let algorithm = match name.to_ascii_lowercase().as_str() {
            "sha-256" => HashAlgorithm::Sha256,
            "sha-384" => HashAlgorithm::Sha384,
            "sha-512" => HashAlgorithm::Sha512,
            _ => {
                return Err(FingerprintParseError::UnsupportedHash(
                    name.chars().take(16).collect(),
                ));
            }
        };
        let mut bytes = Vec::with_capacity(algorithm.len());
        for pair in value.trim().split(':') {
            if pair.len() != 2 || bytes.len() >= algorithm.len() {
                return Err(FingerprintParseError::Malformed);
            }
            let b = u8::from_str_radix(pair, 16).map_err(|_| FingerprintParseError::Malformed)?;
            bytes.push(b);
        }
        if bytes.len() != algorithm.len() {
            return Err(FingerprintParseError::Malformed);
        }
        Ok(Fingerprint { algorithm, bytes })
    }
}

struct CertInner {
    der: Vec<u8>,
    key: Arc<dyn SigningKey>,
    fingerprint: Fingerprint,
}

/// A certificate with its private key: this endpoint's DTLS identity. Cheap to clone
/// (shared), so one certificate can serve many connections.
#[derive(Clone)]
pub struct DtlsCertificate {
    inner: Arc<CertInner>,
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.inner.fingerprint.to_string())
            .finish()
    }
}

impl DtlsCertificate {
    /// A new self-signed ECDSA P-256 certificate (what browsers make for WebRTC).
    pub fn generate() -> Result<Self, DtlsError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| DtlsError::Certificate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| DtlsError::Certificate(e.to_string()))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sansrtc");
        let cert = params
            .self_signed(&key)
            .map_err(|e| DtlsError::Certificate(e.to_string()))?;
        Self::from_der(cert.der().to_vec(), key.serialize_der())
    }

    /// A certificate from its DER encoding and its private key in PKCS#8 DER (ECDSA
    /// P-256/P-384, Ed25519 or RSA keys are accepted by the signer; the cipher suites
    /// need an ECDSA key when this endpoint is the server).
    pub fn from_der(cert_der: Vec<u8>, pkcs8_key_der: Vec<u8>) -> Result<Self, DtlsError> {
        if !super::crypto::parses_as_certificate(&cert_der) {
            return Err(DtlsError::Certificate("not an X.509 certificate".into()));
        }
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key_der));
        let key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der)
            .map_err(|e| DtlsError::Certificate(e.to_string()))?;
        let fingerprint = Fingerprint::of(HashAlgorithm::Sha256, &cert_der);
        Ok(DtlsCertificate {
            inner: Arc::new(CertInner {
                der: cert_der,
                key,
                fingerprint,
            }),
        })
    }

    /// A certificate from PEM text: a `CERTIFICATE` block and a `PRIVATE KEY` (PKCS#8)
    /// block.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, DtlsError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| DtlsError::Certificate(format!("certificate PEM: {e}")))?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| DtlsError::Certificate(format!("key PEM: {e}")))?;
        Self::from_der(cert.to_vec(), key.secret_pkcs8_der().to_vec())
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The sha-256 fingerprint, for `a=fingerprint`.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.inner.fingerprint
    }

    pub(crate) fn key(&self) -> &Arc<dyn SigningKey> {
        &self.inner.key
    }
}
