//! STUN (RFC 8489, RFC 5389) for ICE: parse, authenticate, build.
//!
//! Attribute encoding and decoding is done by `stun_codec`/`bytecodec`. MESSAGE-INTEGRITY
//! and FINGERPRINT are computed and verified by sansrtc over the raw bytes, so the HMAC is
//! compared in constant time and nothing is re-encoded to check it.
//!
//! The parser never panics: every input is either a [`StunPacket`] or a [`StunError`].

mod attrs;
#[cfg(test)]
mod tests;

use aws_lc_rs::hmac;
use bytecodec::{DecodeExt, EncodeExt};
use stun_codec::{MessageDecoder, MessageEncoder};

pub use attrs::{Attribute, AttributeDecoder, AttributeEncoder};
pub use stun_codec::rfc5245::attributes::{IceControlled, IceControlling, Priority, UseCandidate};
pub use stun_codec::rfc5389::attributes::{
    ErrorCode, MappedAddress, Nonce, Realm, Software, UnknownAttributes, Username, XorMappedAddress,
};
pub use stun_codec::{Message, MessageClass, Method, TransactionId};

/// The magic cookie of RFC 5389 §6.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// The Binding method (RFC 8489 §18.2).
pub const BINDING: Method = stun_codec::rfc5389::methods::BINDING;
/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;
/// XOR constant of the FINGERPRINT attribute (RFC 8489 §14.7).
const FINGERPRINT_XOR: u32 = 0x5354_554E;
const TYPE_MESSAGE_INTEGRITY: u16 = 0x0008;
const TYPE_FINGERPRINT: u16 = 0x8028;
const TYPE_USERNAME: u16 = 0x0006;

/// Why a datagram is not an acceptable STUN message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Shorter than a header, top bits set, wrong cookie or length.
    #[error("not a STUN message")]
    NotStun,
    /// The attribute list does not fit the declared length or an attribute is malformed.
    #[error("malformed STUN message: {0}")]
    Malformed(&'static str),
    /// FINGERPRINT present but wrong (RFC 8489 §14.7): the datagram is not STUN.
    #[error("STUN FINGERPRINT mismatch")]
    BadFingerprint,
    /// A message could not be encoded (an attribute value too long, a buffer too small).
    #[error("cannot encode STUN message: {0}")]
    Encode(&'static str),
}

/// A parsed STUN message, still tied to its raw bytes so integrity can be checked.
#[derive(Debug)]
pub struct StunPacket<'a> {
    raw: &'a [u8],
    /// The decoded message (attributes after MESSAGE-INTEGRITY other than FINGERPRINT are
    /// left out, as RFC 8489 §14.5 says they must be ignored).
    pub message: Message<Attribute>,
    integrity_offset: Option<usize>,
    has_fingerprint: bool,
    unknown_required: Vec<u16>,
}

/// Finds the USERNAME of a STUN message without decoding it, for routing a first datagram
/// to the connection it belongs to (RFC 8445 §7.3: the part before the colon is the
/// receiver's ufrag). Returns `None` for anything that is not a well-formed STUN message
/// with a UTF-8 USERNAME.
pub fn peek_username(datagram: &[u8]) -> Option<&str> {
    let walk = RawWalk::new(datagram).ok()?;
    for item in walk {
        let (ty, value, _) = item.ok()?;
        if ty == TYPE_USERNAME {
            return core::str::from_utf8(value).ok();
        }
    }
    None
}

/// A walk over raw attributes: (type, value, offset of the attribute header).
struct RawWalk<'a> {
    raw: &'a [u8],
    offset: usize,
}

impl<'a> RawWalk<'a> {
    fn new(raw: &'a [u8]) -> Result<Self, StunError> {
        check_header(raw)?;
        Ok(RawWalk {
            raw,
            offset: HEADER_LEN,
        })
    }
}

impl<'a> Iterator for RawWalk<'a> {
    type Item = Result<(u16, &'a [u8], usize), StunError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.offset;
        if start >= self.raw.len() {
            return None;
        }
        let head = self.raw.get(start..start + 4);
        let Some(&[t0, t1, l0, l1]) = head else {
            self.offset = self.raw.len();
            return Some(Err(StunError::Malformed("truncated attribute header")));
        };
        let ty = u16::from_be_bytes([t0, t1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let value_start = start + 4;
        let padded_end = value_start + ((len + 3) & !3);
        let (Some(value), true) = (
            self.raw.get(value_start..value_start + len),
            padded_end <= self.raw.len(),
        ) else {
            self.offset = self.raw.len();
            return Some(Err(StunError::Malformed("attribute overruns message")));
        };
        self.offset = padded_end;
        Some(Ok((ty, value, start)))
    }
}

/// Checks the fixed header: top two bits zero, magic cookie, declared length equal to the
/// datagram's and a multiple of four (RFC 8489 §5).
fn check_header(raw: &[u8]) -> Result<(), StunError> {
    let Some(&[b0, _, l0, l1, c0, c1, c2, c3]) = raw.get(..8) else {
        return Err(StunError::NotStun);
    };
    if b0 & 0xC0 != 0 || u32::from_be_bytes([c0, c1, c2, c3]) != MAGIC_COOKIE {
        return Err(StunError::NotStun);
    }
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if raw.len() < HEADER_LEN || len + HEADER_LEN != raw.len() || len % 4 != 0 {
        return Err(StunError::NotStun);
    }
    Ok(())
}

/// Parses and (if present) checks the FINGERPRINT of a STUN message.
pub fn parse(raw: &[u8]) -> Result<StunPacket<'_>, StunError> {
    let mut integrity_offset = None;
    let mut has_fingerprint = false;
    let mut unknown_required = Vec::new();
    let mut after_integrity_other = false;
    for item in RawWalk::new(raw)? {
        let (ty, value, offset) = item?;
        if has_fingerprint {
            // RFC 8489 §14.7: FINGERPRINT is the last attribute.
            return Err(StunError::Malformed("attribute after FINGERPRINT"));
        }
        match ty {
            TYPE_FINGERPRINT => {
                let Ok(&[a, b, c, d]) = <&[u8; 4]>::try_from(value) else {
                    return Err(StunError::Malformed("FINGERPRINT length"));
                };
                let expect = crc32_with_length(raw, offset, 8) ^ FINGERPRINT_XOR;
                if u32::from_be_bytes([a, b, c, d]) != expect {
                    return Err(StunError::BadFingerprint);
                }
                has_fingerprint = true;
            }
            _ if integrity_offset.is_some() => after_integrity_other = true,
            TYPE_MESSAGE_INTEGRITY => {
                if value.len() != 20 {
                    return Err(StunError::Malformed("MESSAGE-INTEGRITY length"));
                }
                integrity_offset = Some(offset);
            }
            // MESSAGE-INTEGRITY-SHA256 is not supported: it counts as unknown below.
            t if t < 0x8000 && !attrs::KNOWN_TYPES.contains(&t) && unknown_required.len() < 16 => {
                unknown_required.push(t);
            }
            _ => {}
        }
    }
    let message = match (integrity_offset, after_integrity_other) {
        // Attributes other than FINGERPRINT after MESSAGE-INTEGRITY must be ignored
        // (RFC 8489 §14.5): decode only what precedes the integrity attribute.
        (Some(end), true) => {
            let mut prefix = raw.get(..end).unwrap_or_default().to_vec();
            let len = u16::try_from(end - HEADER_LEN).map_err(|_| StunError::NotStun)?;
            if let Some(l) = prefix.get_mut(2..4) {
                l.copy_from_slice(&len.to_be_bytes());
            }
            decode(&prefix)?
        }
        _ => decode(raw)?,
    };
    Ok(StunPacket {
        raw,
        message,
        integrity_offset,
        has_fingerprint,
        unknown_required,
    })
}

fn decode(raw: &[u8]) -> Result<Message<Attribute>, StunError> {
    let mut decoder = MessageDecoder::<Attribute>::new();
    match decoder.decode_from_bytes(raw) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(_)) => Err(StunError::Malformed("attribute value")),
        Err(_) => Err(StunError::Malformed("message")),
    }
}

/// CRC-32 of `raw[..end]` with the header length field replaced by the length the
/// message has once an attribute of `attr_total` bytes at `end` is included.
fn crc32_with_length(raw: &[u8], end: usize, attr_total: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let len = (end + attr_total - HEADER_LEN) as u16;
    h.update(raw.get(..2).unwrap_or_default());
    h.update(&len.to_be_bytes());
    h.update(raw.get(4..end).unwrap_or_default());
    h.finalize()
}

/// HMAC-SHA1 key for STUN message integrity.
///
/// Holds the key bytes only (tens of bytes rather than the ~1.2 KB of a prepared HMAC
/// key); the HMAC is keyed per message, which costs two SHA-1 blocks on messages that
/// are rare next to media and data.
#[derive(Clone)]
pub struct IntegrityKey(Box<[u8]>);

impl core::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IntegrityKey(..)")
    }
}

impl IntegrityKey {
    /// Short-term credential key (RFC 8489 §9.1.1): the password itself. ICE passwords are
    /// ASCII, so OpaqueString processing leaves them unchanged.
    pub fn short_term(password: &str) -> Self {
        IntegrityKey(password.as_bytes().into())
    }

    /// Long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password).
    /// The inputs must already be SASLprep/OpaqueString processed.
    pub fn long_term(username: &str, realm: &str, password: &str) -> Self {
        let digest = md5::compute(format!("{username}:{realm}:{password}"));
        IntegrityKey(digest.0.as_slice().into())
    }

    fn sign(&self, raw: &[u8], end: usize) -> hmac::Tag {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mut ctx = hmac::Context::with_key(&key);
        let len = (end + 24 - HEADER_LEN) as u16;
        ctx.update(raw.get(..2).unwrap_or_default());
        ctx.update(&len.to_be_bytes());
        ctx.update(raw.get(4..end).unwrap_or_default());
        ctx.sign()
    }
}

impl StunPacket<'_> {
    /// Message class.
    pub fn class(&self) -> MessageClass {
        self.message.class()
    }

    /// Message method.
    pub fn method(&self) -> Method {
        self.message.method()
    }

    /// Transaction id.
    pub fn transaction_id(&self) -> TransactionId {
        self.message.transaction_id()
    }

    /// True if the message carries MESSAGE-INTEGRITY.
    pub fn has_integrity(&self) -> bool {
        self.integrity_offset.is_some()
    }

    /// True if the message carries a (valid) FINGERPRINT.
    pub fn has_fingerprint(&self) -> bool {
        self.has_fingerprint
    }

    /// Comprehension-required attribute types this agent does not understand.
    pub fn unknown_required(&self) -> &[u16] {
        &self.unknown_required
    }

    /// Checks MESSAGE-INTEGRITY with `key`, comparing in constant time. False when the
    /// attribute is absent.
    pub fn verify_integrity(&self, key: &IntegrityKey) -> bool {
        let Some(off) = self.integrity_offset else {
            return false;
        };
        let Some(mac) = self.raw.get(off + 4..off + 24) else {
            return false;
        };
        let tag = key.sign(self.raw, off);
        aws_lc_rs::constant_time::verify_slices_are_equal(tag.as_ref(), mac).is_ok()
    }

    /// The USERNAME, if any.
    pub fn username(&self) -> Option<&str> {
        self.message.get_attribute::<Username>().map(|u| u.name())
    }

    /// The raw bytes the packet was parsed from.
    pub fn raw(&self) -> &[u8] {
        self.raw
    }
}

/// Encodes `message` into `out`, appending MESSAGE-INTEGRITY (when `key` is given) and
/// FINGERPRINT (when `fingerprint`), computed over the encoded bytes. Returns the length.
pub fn encode(
    message: Message<Attribute>,
    key: Option<&IntegrityKey>,
    fingerprint: bool,
    out: &mut [u8],
) -> Result<usize, StunError> {
    let bytes = MessageEncoder::new()
        .encode_into_bytes(message)
        .map_err(|_| StunError::Encode("attribute"))?;
    let mut n = bytes.len();
    let total = n + if key.is_some() { 24 } else { 0 } + if fingerprint { 8 } else { 0 };
    if total > out.len() || total - HEADER_LEN > usize::from(u16::MAX) {
        return Err(StunError::Encode("buffer too small"));
    }
    let dst = out
        .get_mut(..n)
        .ok_or(StunError::Encode("buffer too small"))?;
    dst.copy_from_slice(&bytes);
    if let Some(key) = key {
        let tag = key.sign(out, n);
        let len = (n + 24 - HEADER_LEN) as u16;
        write_attr_and_len(out, n, TYPE_MESSAGE_INTEGRITY, tag.as_ref(), len)?;
        n += 24;
    }
    if fingerprint {
        let crc = crc32_with_length(out, n, 8) ^ FINGERPRINT_XOR;
        let len = (n + 8 - HEADER_LEN) as u16;
        write_attr_and_len(out, n, TYPE_FINGERPRINT, &crc.to_be_bytes(), len)?;
        n += 8;
    }
    Ok(n)
}

fn write_attr_and_len(
    out: &mut [u8],
    at: usize,
    ty: u16,
    value: &[u8],
    msg_len: u16,
) -> Result<(), StunError> {
    let too_small = StunError::Encode("buffer too small");
    out.get_mut(2..4)
        .ok_or(too_small.clone())?
        .copy_from_slice(&msg_len.to_be_bytes());
    let head = out.get_mut(at..at + 4).ok_or(too_small.clone())?;
    head.get_mut(..2)
        .ok_or(too_small.clone())?
        .copy_from_slice(&ty.to_be_bytes());
    head.get_mut(2..4)
        .ok_or(too_small.clone())?
        .copy_from_slice(&(value.len() as u16).to_be_bytes());
    out.get_mut(at + 4..at + 4 + value.len())
        .ok_or(too_small)?
        .copy_from_slice(value);
    Ok(())
}

/// A new message of `class`/`method` with the given transaction id.
pub fn message(class: MessageClass, method: Method, tid: [u8; 12]) -> Message<Attribute> {
    Message::new(class, method, TransactionId::new(tid))
}

/// Builds an error response (RFC 8489 §6.3.4) for a request. `unknown` fills
/// UNKNOWN-ATTRIBUTES for a 420.
pub fn error_response(
    request: &Message<Attribute>,
    code: u16,
    reason: &str,
    unknown: &[u16],
) -> Message<Attribute> {
    let mut m = Message::new(
        MessageClass::ErrorResponse,
        request.method(),
        request.transaction_id(),
    );
    if let Ok(e) = ErrorCode::new(code, reason.to_owned()) {
        m.add_attribute(e);
    }
    if !unknown.is_empty() {
        m.add_attribute(UnknownAttributes::new(
            unknown
                .iter()
                .map(|&t| stun_codec::AttributeType::new(t))
                .collect(),
        ));
    }
    m
}
