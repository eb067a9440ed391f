//! The DTLS 1.2 record header (RFC 6347 §4.1) and the records of a datagram.

use super::codec::Reader;

/// DTLS 1.2 on the wire ({254, 253}, RFC 6347 §4.1).
pub const DTLS_1_2: u16 = 0xfefd;
/// DTLS 1.0 ({254, 255}); allowed in the record version of a first ClientHello.
pub const DTLS_1_0: u16 = 0xfeff;
/// Bytes in a record header: type, version, epoch, 48-bit sequence number, length.
pub const RECORD_HEADER_LEN: usize = 13;
/// Largest plaintext a record may carry (RFC 5246 §6.2.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest ciphertext a record may carry (RFC 5246 §6.2.3).
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// Largest 48-bit sequence number.
pub const MAX_SEQ: u64 = (1 << 48) - 1;

/// Record content types (RFC 5246 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// change_cipher_spec(20)
    ChangeCipherSpec,
    /// alert(21)
    Alert,
    /// handshake(22)
    Handshake,
    /// application_data(23)
    ApplicationData,
}

impl ContentType {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 20,
            ContentType::Alert => 21,
            ContentType::Handshake => 22,
            ContentType::ApplicationData => 23,
        }
    }

    /// From the wire value; `None` for anything else.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            20 => ContentType::ChangeCipherSpec,
            21 => ContentType::Alert,
            22 => ContentType::Handshake,
            23 => ContentType::ApplicationData,
            _ => return None,
        })
    }
}

/// A parsed record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record carries.
    pub content_type: ContentType,
    /// The record-layer version.
    pub version: u16,
    /// The cipher state epoch.
    pub epoch: u16,
    /// The 48-bit sequence number within the epoch.
    pub seq: u64,
    /// Length of the fragment that follows.
    pub length: u16,
}

impl RecordHeader {
    /// Writes the 13-byte header into `out` (which must be at least that long; returns
    /// `false` and writes nothing otherwise).
    pub fn write(&self, out: &mut [u8]) -> bool {
        let Some(h) = out.get_mut(..RECORD_HEADER_LEN) else {
            return false;
        };
        let seq = (self.seq & MAX_SEQ).to_be_bytes();
        let mut bytes = [0u8; RECORD_HEADER_LEN];
        bytes[0] = self.content_type.to_u8();
        bytes[1..3].copy_from_slice(&self.version.to_be_bytes());
        bytes[3..5].copy_from_slice(&self.epoch.to_be_bytes());
        bytes[5..11].copy_from_slice(&seq[2..]);
        bytes[11..13].copy_from_slice(&self.length.to_be_bytes());
        h.copy_from_slice(&bytes);
        true
    }

    /// The 64-bit `epoch || sequence_number` used in nonces and additional data.
    pub fn epoch_seq(&self) -> u64 {
        (u64::from(self.epoch) << 48) | (self.seq & MAX_SEQ)
    }
}

/// One record of a datagram, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The header.
    pub header: RecordHeader,
    /// The fragment (ciphertext when the epoch is above 0).
    pub fragment: &'a [u8],
    /// The whole record, header included (to buffer it for later).
    pub raw: &'a [u8],
}

/// Why a datagram's records stopped parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than a header, or than the header's length says.
    Truncated,
    /// A content type this version does not define.
    UnknownContentType,
    /// A version other than DTLS 1.0 or 1.2.
    BadVersion,
    /// A length above the protocol's maximum.
    TooLong,
}

/// Parses one record from the start of `buf`; returns it and the rest.
pub fn parse_record(buf: &[u8]) -> Result<(Record<'_>, &[u8]), RecordError> {
    let mut r = Reader::new(buf);
    let ty = r.u8().ok_or(RecordError::Truncated)?;
    let version = r.u16().ok_or(RecordError::Truncated)?;
    let epoch = r.u16().ok_or(RecordError::Truncated)?;
    let seq = r.u48().ok_or(RecordError::Truncated)?;
    let length = r.u16().ok_or(RecordError::Truncated)?;
    let content_type = ContentType::from_u8(ty).ok_or(RecordError::UnknownContentType)?;
    if version != DTLS_1_2 && version != DTLS_1_0 {
        return Err(RecordError::BadVersion);
    }
    if usize::from(length) > MAX_CIPHERTEXT {
        return Err(RecordError::TooLong);
    }
    let fragment = r.take(usize::from(length)).ok_or(RecordError::Truncated)?;
    let total = RECORD_HEADER_LEN + usize::from(length);
    let raw = buf.get(..total).ok_or(RecordError::Truncated)?;
    Ok((
        Record {
            header: RecordHeader {
                content_type,
                version,
                epoch,
                seq,
                length,
            },
            fragment,
            raw,
        },
        r.rest(),
    ))
}

/// The records of a datagram, in order. A malformed record ends the iteration with one
/// `Err` (RFC 6347 §4.1.2.7: invalid records are discarded; the rest of the datagram
/// cannot be framed any more).
pub fn records(datagram: &[u8]) -> Records<'_> {
    Records {
        rest: datagram,
        done: false,
    }
}

/// Iterator returned by [`records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        match parse_record(self.rest) {
            Ok((rec, rest)) => {
                self.rest = rest;
                Some(Ok(rec))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
