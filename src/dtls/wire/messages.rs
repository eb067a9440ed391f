//! Handshake message bodies (RFC 5246 §7.4, RFC 6347 §4.2, RFC 8422 §5).
//!
//! Parsers take untrusted bytes and return an error naming what was wrong; they never
//! panic. Encoders write into a `Vec` (handshakes are not a hot path).

use super::codec::{
    Reader, put_len_prefixed, put_u8, put_u16, put_u16_list16, put_vec8, put_vec16, put_vec24,
};
use super::extensions::Extensions;

/// A parse failure: the `decode_error` alert, with what was wrong.
pub type DecodeError = &'static str;

/// The ECDHE curve type `named_curve` (RFC 8422 §5.4).
pub const CURVE_TYPE_NAMED: u8 = 3;
/// Certificate type `ecdsa_sign` (RFC 8422 §5.5).
pub const CERT_TYPE_ECDSA_SIGN: u8 = 64;
/// Certificate type `rsa_sign` (RFC 5246 §7.4.4).
pub const CERT_TYPE_RSA_SIGN: u8 = 1;
/// The null compression method.
pub const COMPRESSION_NULL: u8 = 0;
/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3).
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;

fn done(r: &Reader<'_>, what: DecodeError) -> Result<(), DecodeError> {
    if r.is_empty() { Ok(()) } else { Err(what) }
}

/// ClientHello (RFC 6347 §4.2.1: with a cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// client_version.
    pub version: u16,
    /// random.
    pub random: [u8; 32],
    /// session_id (we never resume; kept to echo nothing).
    pub session_id: Vec<u8>,
    /// cookie.
    pub cookie: Vec<u8>,
    /// cipher_suites, in the client's preference order.
    pub cipher_suites: Vec<u16>,
    /// compression_methods.
    pub compression_methods: Vec<u8>,
    /// extensions.
    pub extensions: Extensions,
}

impl ClientHello {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let version = r.u16().ok_or("client_hello truncated")?;
        let random = r.array::<32>().ok_or("client_hello truncated")?;
        let session_id = r.vec8().ok_or("client_hello truncated")?;
        if session_id.len() > 32 {
            return Err("session_id too long");
        }
        let cookie = r.vec8().ok_or("client_hello truncated")?;
        let cipher_suites = r.u16_list16().ok_or("bad cipher_suites")?;
        if cipher_suites.is_empty() {
            return Err("no cipher suites");
        }
        let compression_methods = r.vec8().ok_or("bad compression_methods")?.to_vec();
        if compression_methods.is_empty() {
            return Err("no compression methods");
        }
        let extensions = Extensions::parse(&mut r)?;
        done(&r, "trailing bytes after client_hello")?;
        Ok(ClientHello {
            version,
            random,
            session_id: session_id.to_vec(),
            cookie: cookie.to_vec(),
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.version);
        out.extend_from_slice(&self.random);
        put_vec8(out, &self.session_id);
        put_vec8(out, &self.cookie);
        put_u16_list16(out, &self.cipher_suites);
        put_vec8(out, &self.compression_methods);
        self.extensions.write(out);
    }
}

/// HelloVerifyRequest (RFC 6347 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVerifyRequest {
    /// server_version (DTLS 1.0 per RFC 6347 §4.2.1 SHOULD, 1.2 accepted).
    pub version: u16,
    /// cookie<0..2^8-1>.
    pub cookie: Vec<u8>,
}

impl HelloVerifyRequest {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let version = r.u16().ok_or("hello_verify_request truncated")?;
        let cookie = r.vec8().ok_or("hello_verify_request truncated")?.to_vec();
        done(&r, "trailing bytes after hello_verify_request")?;
        Ok(HelloVerifyRequest { version, cookie })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.version);
        put_vec8(out, &self.cookie);
    }
}

/// ServerHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// server_version.
    pub version: u16,
    /// random.
    pub random: [u8; 32],
    /// session_id.
    pub session_id: Vec<u8>,
    /// The chosen cipher suite.
    pub cipher_suite: u16,
    /// The chosen compression method.
    pub compression_method: u8,
    /// extensions.
    pub extensions: Extensions,
}

impl ServerHello {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let version = r.u16().ok_or("server_hello truncated")?;
        let random = r.array::<32>().ok_or("server_hello truncated")?;
        let session_id = r.vec8().ok_or("server_hello truncated")?;
        if session_id.len() > 32 {
            return Err("session_id too long");
        }
        let cipher_suite = r.u16().ok_or("server_hello truncated")?;
        let compression_method = r.u8().ok_or("server_hello truncated")?;
        let extensions = Extensions::parse(&mut r)?;
        done(&r, "trailing bytes after server_hello")?;
        Ok(ServerHello {
            version,
            random,
            session_id: session_id.to_vec(),
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.version);
        out.extend_from_slice(&self.random);
        put_vec8(out, &self.session_id);
        put_u16(out, self.cipher_suite);
        put_u8(out, self.compression_method);
        self.extensions.write(out);
    }
}

/// Certificate: the chain, leaf first (RFC 5246 §7.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// DER certificates.
    pub chain: Vec<Vec<u8>>,
}

impl Certificate {
    /// Parses a body. At most `max_certs` certificates are accepted.
    pub fn parse(body: &[u8], max_certs: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let list = r.vec24().ok_or("certificate truncated")?;
        done(&r, "trailing bytes after certificate")?;
        let mut l = Reader::new(list);
        let mut chain = Vec::new();
        while !l.is_empty() {
            if chain.len() >= max_certs {
                return Err("certificate chain too long");
            }
            let c = l.vec24().ok_or("certificate entry truncated")?;
            if c.is_empty() {
                return Err("empty certificate entry");
            }
            chain.push(c.to_vec());
        }
        Ok(Certificate { chain })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_len_prefixed(out, 3, |o| {
            for c in &self.chain {
                put_vec24(o, c);
            }
        });
    }
}

/// ServerKeyExchange for ECDHE (RFC 8422 §5.4): named-curve parameters and a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKeyExchange {
    /// The group (RFC 8422 NamedCurve).
    pub group: u16,
    /// The server's ephemeral public key.
    pub public: Vec<u8>,
    /// The signature scheme (RFC 5246 SignatureAndHashAlgorithm as one u16).
    pub scheme: u16,
    /// The signature.
    pub signature: Vec<u8>,
}

impl ServerKeyExchange {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        if r.u8().ok_or("server_key_exchange truncated")? != CURVE_TYPE_NAMED {
            return Err("curve type not named_curve");
        }
        let group = r.u16().ok_or("server_key_exchange truncated")?;
        let public = r.vec8().ok_or("server_key_exchange truncated")?.to_vec();
        if public.is_empty() {
            return Err("empty public key");
        }
        let scheme = r.u16().ok_or("server_key_exchange truncated")?;
        let signature = r.vec16().ok_or("server_key_exchange truncated")?.to_vec();
        done(&r, "trailing bytes after server_key_exchange")?;
        Ok(ServerKeyExchange {
            group,
            public,
            scheme,
            signature,
        })
    }

    /// The `ServerECDHParams` bytes the signature covers (after the two randoms).
    pub fn params(group: u16, public: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(4 + public.len());
        put_u8(&mut p, CURVE_TYPE_NAMED);
        put_u16(&mut p, group);
        put_vec8(&mut p, public);
        p
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::params(self.group, &self.public));
        put_u16(out, self.scheme);
        put_vec16(out, &self.signature);
    }
}

/// CertificateRequest (RFC 5246 §7.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// certificate_types.
    pub cert_types: Vec<u8>,
    /// supported_signature_algorithms.
    pub signature_algorithms: Vec<u16>,
}

impl CertificateRequest {
    /// Parses a body (the certificate_authorities list is checked for framing and
    /// ignored: WebRTC certificates are self-signed).
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let cert_types = r.vec8().ok_or("certificate_request truncated")?.to_vec();
        let signature_algorithms = r.u16_list16().ok_or("bad signature algorithms")?;
        let _authorities = r.vec16().ok_or("certificate_request truncated")?;
        done(&r, "trailing bytes after certificate_request")?;
        Ok(CertificateRequest {
            cert_types,
            signature_algorithms,
        })
    }

    /// Writes the body (no certificate authorities).
    pub fn write(&self, out: &mut Vec<u8>) {
        put_vec8(out, &self.cert_types);
        put_u16_list16(out, &self.signature_algorithms);
        put_vec16(out, &[]);
    }
}

/// ClientKeyExchange for ECDHE: the client's ephemeral public key (RFC 8422 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyExchange {
    /// The public key.
    pub public: Vec<u8>,
}

impl ClientKeyExchange {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let public = r.vec8().ok_or("client_key_exchange truncated")?.to_vec();
        if public.is_empty() {
            return Err("empty public key");
        }
        done(&r, "trailing bytes after client_key_exchange")?;
        Ok(ClientKeyExchange { public })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_vec8(out, &self.public);
    }
}

/// A `DigitallySigned` body: CertificateVerify (RFC 5246 §7.4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateVerify {
    /// The signature scheme.
    pub scheme: u16,
    /// The signature.
    pub signature: Vec<u8>,
}

impl CertificateVerify {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let scheme = r.u16().ok_or("certificate_verify truncated")?;
        let signature = r.vec16().ok_or("certificate_verify truncated")?.to_vec();
        done(&r, "trailing bytes after certificate_verify")?;
        Ok(CertificateVerify { scheme, signature })
    }

    /// Writes the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.scheme);
        put_vec16(out, &self.signature);
    }
}

/// Finished: 12 bytes of verify_data (RFC 5246 §7.4.9).
pub fn parse_finished(body: &[u8]) -> Result<[u8; 12], DecodeError> {
    body.try_into().map_err(|_| "finished is not 12 bytes")
}

/// An empty body (ServerHelloDone, HelloRequest).
pub fn parse_empty(body: &[u8]) -> Result<(), DecodeError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err("message should be empty")
    }
}
