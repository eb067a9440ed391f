//! The SCTP wire format (RFC 9260 §3): the common header with its CRC32c, and chunks.
//!
//! Parsing borrows from the packet and never panics (fuzzed by
//! `fuzz/fuzz_targets/sctp_wire.rs`); writing goes into a caller buffer through
//! [`Writer`], which refuses (returns `None`) instead of overflowing.

pub mod chunks;
#[cfg(test)]
mod tests;

/// Bytes of the common header.
pub const COMMON_HEADER_LEN: usize = 12;
/// Bytes of a chunk header.
pub const CHUNK_HEADER_LEN: usize = 4;

/// Chunk type codes (RFC 9260 §3.2, RFC 3758, RFC 6525, RFC 8260, RFC 4820).
pub mod chunk_type {
    /// DATA
    pub const DATA: u8 = 0;
    /// INIT
    pub const INIT: u8 = 1;
    /// INIT ACK
    pub const INIT_ACK: u8 = 2;
    /// SACK
    pub const SACK: u8 = 3;
    /// HEARTBEAT
    pub const HEARTBEAT: u8 = 4;
    /// HEARTBEAT ACK
    pub const HEARTBEAT_ACK: u8 = 5;
    /// ABORT
    pub const ABORT: u8 = 6;
    /// SHUTDOWN
    pub const SHUTDOWN: u8 = 7;
    /// SHUTDOWN ACK
    pub const SHUTDOWN_ACK: u8 = 8;
    /// ERROR
    pub const ERROR: u8 = 9;
    /// COOKIE ECHO
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK
    pub const COOKIE_ACK: u8 = 11;
    /// SHUTDOWN COMPLETE
    pub const SHUTDOWN_COMPLETE: u8 = 14;
    /// RE-CONFIG (RFC 6525)
    pub const RECONFIG: u8 = 130;
    /// PAD (RFC 4820)
    pub const PAD: u8 = 132;
    /// FORWARD TSN (RFC 3758)
    pub const FORWARD_TSN: u8 = 192;
}

/// A parsed SCTP packet: the common header and its chunk area, checksum verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Verification tag.
    pub verification_tag: u32,
    /// The chunks, still encoded (iterate with [`Packet::chunks`]).
    pub chunk_bytes: &'a [u8],
}

/// Why a packet was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than the common header.
    TooShort,
    /// The CRC32c does not match.
    BadChecksum,
}

/// The CRC32c of a packet with its checksum field taken as zero (RFC 9260 Appendix B).
pub fn checksum(packet: &[u8]) -> u32 {
    let head = packet.get(..8).unwrap_or_default();
    let tail = packet.get(COMMON_HEADER_LEN..).unwrap_or_default();
    let c = crc32c::crc32c(head);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, tail)
}

/// Writes the checksum of `packet` into it (the field is little-endian on the wire, as
/// the reflected CRC32c comes out).
pub fn write_checksum(packet: &mut [u8]) {
    let c = checksum(packet);
    if let Some(f) = packet.get_mut(8..12) {
        f.copy_from_slice(&c.to_le_bytes());
    }
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

impl<'a> Packet<'a> {
    /// Parses the common header and checks the CRC32c.
    pub fn parse(packet: &'a [u8]) -> Result<Self, PacketError> {
        Self::parse_with(packet, false)
    }

    /// Parses the common header and checks the CRC32c, unless `accept_zero` is set and
    /// the checksum field is zero: an endpoint that announced Zero Checksum Acceptable
    /// takes such packets unchecked, the lower layer (DTLS) having authenticated them
    /// (RFC 9653 §5.2). A non-zero checksum is always checked.
    pub fn parse_with(packet: &'a [u8], accept_zero: bool) -> Result<Self, PacketError> {
        if packet.len() < COMMON_HEADER_LEN {
            return Err(PacketError::TooShort);
        }
        let stored = match packet.get(8..12) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => return Err(PacketError::TooShort),
        };
        if !(accept_zero && stored == 0) && stored != checksum(packet) {
            return Err(PacketError::BadChecksum);
        }
        Ok(Packet {
            src_port: be16(packet, 0),
            dst_port: be16(packet, 2),
            verification_tag: be32(packet, 4),
            chunk_bytes: packet.get(COMMON_HEADER_LEN..).unwrap_or_default(),
        })
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            rest: self.chunk_bytes,
        }
    }
}

/// A chunk: type, flags and value (the padding stripped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// Chunk type.
    pub ty: u8,
    /// Chunk flags.
    pub flags: u8,
    /// The value (after the 4-byte chunk header, before padding).
    pub value: &'a [u8],
}

/// Why a chunk did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A length below 4 or beyond the packet.
    BadLength,
}

/// Iterator over the chunks of a packet. Yields one `Err` and stops at a chunk whose
/// length does not fit.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<RawChunk<'a>, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        let len = usize::from(be16(r, 2));
        if r.len() < CHUNK_HEADER_LEN || len < CHUNK_HEADER_LEN || len > r.len() {
            self.rest = &[];
            return Some(Err(ChunkError::BadLength));
        }
        let ty = r.first().copied().unwrap_or(0);
        let flags = r.get(1).copied().unwrap_or(0);
        let value = r.get(CHUNK_HEADER_LEN..len).unwrap_or_default();
        let padded = (len + 3) & !3;
        self.rest = r.get(padded..).unwrap_or_default();
        Some(Ok(RawChunk { ty, flags, value }))
    }
}

/// A bounds-checked writer into a caller buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The written bytes.
    pub fn written(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.pos).unwrap_or_default()
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(b.len())?;
        let dst = self.buf.get_mut(self.pos..end)?;
        dst.copy_from_slice(b);
        self.pos += b.len();
        Some(())
    }

    /// Appends a big-endian u8.
    pub fn u8(&mut self, v: u8) -> Option<()> {
        self.bytes(&[v])
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) -> Option<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) -> Option<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Pads with zeros to a multiple of 4.
    pub fn pad4(&mut self) -> Option<()> {
        while !self.pos.is_multiple_of(4) {
            self.u8(0)?;
        }
        Some(())
    }

    /// Overwrites a big-endian u16 at `at` (already written).
    pub fn patch_u16(&mut self, at: usize, v: u16) -> Option<()> {
        let end = at.checked_add(2)?;
        if end > self.pos {
            return None;
        }
        self.buf.get_mut(at..end)?.copy_from_slice(&v.to_be_bytes());
        Some(())
    }

    /// Writes a chunk: header, then `f` writes the value; the length is patched and the
    /// chunk padded. On `None` the writer is rewound to where the chunk started.
    pub fn chunk(
        &mut self,
        ty: u8,
        flags: u8,
        f: impl FnOnce(&mut Self) -> Option<()>,
    ) -> Option<()> {
        let start = self.pos;
        let r = (|| {
            self.u8(ty)?;
            self.u8(flags)?;
            self.u16(0)?;
            f(self)?;
            let len = u16::try_from(self.pos - start).ok()?;
            self.patch_u16(start + 2, len)?;
            self.pad4()
        })();
        if r.is_none() {
            self.pos = start;
        }
        r
    }

    /// Writes the common header (checksum zero; fill it with [`write_checksum`]).
    pub fn common_header(&mut self, src_port: u16, dst_port: u16, tag: u32) -> Option<()> {
        self.u16(src_port)?;
        self.u16(dst_port)?;
        self.u32(tag)?;
        self.u32(0)
    }
}

pub(crate) use {be16 as read_u16, be32 as read_u32};
