//! DTLS handshake fragments (RFC 6347 §4.2.2) and handshake message types.

use super::codec::{Reader, put_u8, put_u16, put_u24};

/// Bytes in a DTLS handshake header: type, length, message_seq, fragment offset and length.
pub const HANDSHAKE_HEADER_LEN: usize = 12;

/// Handshake message types (RFC 5246 §7.4, RFC 6347 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeType {
    /// hello_request(0)
    HelloRequest,
    /// client_hello(1)
    ClientHello,
    /// server_hello(2)
    ServerHello,
    /// hello_verify_request(3)
    HelloVerifyRequest,
    /// certificate(11)
    Certificate,
    /// server_key_exchange(12)
    ServerKeyExchange,
    /// certificate_request(13)
    CertificateRequest,
    /// server_hello_done(14)
    ServerHelloDone,
    /// certificate_verify(15)
    CertificateVerify,
    /// client_key_exchange(16)
    ClientKeyExchange,
    /// finished(20)
    Finished,
}

impl HandshakeType {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        use HandshakeType::*;
        match self {
            HelloRequest => 0,
            ClientHello => 1,
            ServerHello => 2,
            HelloVerifyRequest => 3,
            Certificate => 11,
            ServerKeyExchange => 12,
            CertificateRequest => 13,
            ServerHelloDone => 14,
            CertificateVerify => 15,
            ClientKeyExchange => 16,
            Finished => 20,
        }
    }

    /// From the wire value; `None` for types DTLS 1.2 does not define.
    pub fn from_u8(v: u8) -> Option<Self> {
        use HandshakeType::*;
        Some(match v {
            0 => HelloRequest,
            1 => ClientHello,
            2 => ServerHello,
            3 => HelloVerifyRequest,
            11 => Certificate,
            12 => ServerKeyExchange,
            13 => CertificateRequest,
            14 => ServerHelloDone,
            15 => CertificateVerify,
            16 => ClientKeyExchange,
            20 => Finished,
            _ => return None,
        })
    }
}

/// One handshake fragment, borrowed from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The message type.
    pub msg_type: HandshakeType,
    /// The whole message's body length.
    pub length: u32,
    /// The message sequence number.
    pub message_seq: u16,
    /// Where this fragment starts in the body.
    pub offset: u32,
    /// The fragment's bytes.
    pub body: &'a [u8],
}

/// Why a handshake fragment did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentError {
    /// Shorter than its header says.
    Truncated,
    /// A message type DTLS 1.2 does not define.
    UnknownType,
    /// Offset plus fragment length beyond the message length.
    OutOfBounds,
}

/// Parses one fragment from the start of `buf`; returns it and the rest of the record.
pub fn parse_fragment(buf: &[u8]) -> Result<(Fragment<'_>, &[u8]), FragmentError> {
    let mut r = Reader::new(buf);
    let ty = r.u8().ok_or(FragmentError::Truncated)?;
    let length = r.u24().ok_or(FragmentError::Truncated)?;
    let message_seq = r.u16().ok_or(FragmentError::Truncated)?;
    let offset = r.u24().ok_or(FragmentError::Truncated)?;
    let frag_len = r.u24().ok_or(FragmentError::Truncated)?;
    let msg_type = HandshakeType::from_u8(ty).ok_or(FragmentError::UnknownType)?;
    if u64::from(offset) + u64::from(frag_len) > u64::from(length) {
        return Err(FragmentError::OutOfBounds);
    }
    let body = r
        .take(usize::try_from(frag_len).map_err(|_| FragmentError::Truncated)?)
        .ok_or(FragmentError::Truncated)?;
    Ok((
        Fragment {
            msg_type,
            length,
            message_seq,
            offset,
            body,
        },
        r.rest(),
    ))
}

/// Writes a handshake header.
pub fn put_header(
    out: &mut Vec<u8>,
    msg_type: HandshakeType,
    length: u32,
    message_seq: u16,
    offset: u32,
    frag_len: u32,
) {
    put_u8(out, msg_type.to_u8());
    put_u24(out, length);
    put_u16(out, message_seq);
    put_u24(out, offset);
    put_u24(out, frag_len);
}

/// The whole message as it enters the handshake transcript: an unfragmented header
/// (offset 0, fragment length = length) followed by the body (RFC 6347 §4.2.6).
pub fn transcript_bytes(out: &mut Vec<u8>, msg_type: HandshakeType, message_seq: u16, body: &[u8]) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX) & 0x00ff_ffff;
    put_header(out, msg_type, len, message_seq, 0, len);
    out.extend_from_slice(body);
}
