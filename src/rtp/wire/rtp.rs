//! RTP packets (RFC 3550 §5.1) and their header extensions (RFC 8285).

use super::{WireError, Writer, be16, be32, byte};

/// Bytes of the fixed RTP header (RFC 3550 §5.1), before CSRCs and extensions.
pub const RTP_HEADER_LEN: usize = 12;

/// The largest number of CSRCs a header can carry (the CC field has 4 bits).
const MAX_CSRCS: usize = 15;

/// Profile of the one-byte header extension form (RFC 8285 §4.2).
const PROFILE_ONE_BYTE: u16 = 0xBEDE;

/// Profile of the two-byte header extension form (RFC 8285 §4.3): 0x100 then 4 "appbits",
/// which carry nothing for us and are written as zero.
const PROFILE_TWO_BYTE: u16 = 0x1000;

/// The largest element a one-byte header can carry (its length field is `len - 1`).
const ONE_BYTE_MAX_LEN: usize = 16;

/// The largest local identifier of the one-byte form; 15 is reserved (RFC 8285 §4.2).
const ONE_BYTE_MAX_ID: u8 = 14;

/// Whether a datagram on an RTP/RTCP-multiplexed port is RTCP (RFC 5761 §4).
///
/// RFC 5761 §4 names second bytes 192..=223 (RTCP packet types 192..223); like libwebrtc,
/// this masks the marker bit and takes 64..=95 in the low seven bits, which is the same
/// test for every packet either side may send, since §4 forbids RTP payload types 64..=95
/// on a muxed port. Only the second byte is looked at: the version is checked by the
/// parsers.
pub fn is_rtcp(packet: &[u8]) -> bool {
    matches!(packet.get(1), Some(b) if (64..=95).contains(&(b & 0x7f)))
}

/// The form of a header extension block (RFC 8285 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// One-byte headers, profile 0xBEDE (RFC 8285 §4.2): ids 1..=14, 1..=16 bytes each.
    OneByte,
    /// Two-byte headers, profile 0x100X (RFC 8285 §4.3): ids 1..=255, 0..=255 bytes each.
    TwoByte,
}

/// The header extension block of an RTP packet (RFC 3550 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionBlock<'a> {
    /// The "defined by profile" field: 0xBEDE, 0x100X or anything else.
    pub profile: u16,
    /// The extension data (its length is the 16-bit word count times 4).
    pub data: &'a [u8],
}

impl<'a> ExtensionBlock<'a> {
    /// The RFC 8285 form the profile names, if any.
    pub fn form(&self) -> Option<ExtensionForm> {
        if self.profile == PROFILE_ONE_BYTE {
            Some(ExtensionForm::OneByte)
        } else if self.profile & 0xfff0 == PROFILE_TWO_BYTE {
            Some(ExtensionForm::TwoByte)
        } else {
            None
        }
    }

    /// The RFC 8285 elements; none if the profile is not an RFC 8285 form.
    pub fn elements(&self) -> Extensions<'a> {
        Extensions {
            rest: self.data,
            form: self.form(),
        }
    }
}

/// Iterator over the elements of an RFC 8285 extension block, as `(id, value)`.
///
/// Padding bytes (id 0) are skipped. Iteration ends at the end of the block, at id 15 in
/// the one-byte form (RFC 8285 §4.2: "processing of the entire extension should terminate
/// at that point"), and at an element whose length runs past the block (the elements
/// before it are kept, as libwebrtc does).
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    rest: &'a [u8],
    form: Option<ExtensionForm>,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u8, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let form = self.form?;
        loop {
            let (&b, tail) = self.rest.split_first()?;
            // Id 0 is padding (RFC 8285 §4.2, §4.3): a single byte, whatever its length
            // nibble in the one-byte form (as libwebrtc reads it).
            let id = match form {
                ExtensionForm::OneByte => b >> 4,
                ExtensionForm::TwoByte => b,
            };
            if id == 0 {
                self.rest = tail;
                continue;
            }
            let (id, len, tail) = match form {
                ExtensionForm::OneByte => {
                    if id == 15 {
                        self.rest = &[];
                        return None;
                    }
                    (id, usize::from(b & 0x0f) + 1, tail)
                }
                ExtensionForm::TwoByte => {
                    let Some((&len, tail)) = tail.split_first() else {
                        self.rest = &[];
                        return None;
                    };
                    (b, usize::from(len), tail)
                }
            };
            if len > tail.len() {
                self.rest = &[];
                return None;
            }
            let (value, rest) = tail.split_at(len);
            self.rest = rest;
            return Some((id, value));
        }
    }
}

/// A parsed RTP packet (RFC 3550 §5.1): the header fields, borrowed CSRC list and
/// extension block, and the payload without its padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    /// M bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Bytes of padding at the end of the packet, the count byte included; 0 when the
    /// P bit is clear.
    pub padding: u8,
    /// The header extension block, when the X bit is set.
    pub extension: Option<ExtensionBlock<'a>>,
    /// The payload, padding removed.
    pub payload: &'a [u8],
    /// The CSRC list, 4 bytes each.
    csrc_bytes: &'a [u8],
    /// Bytes of header: fixed part, CSRCs and extension block.
    header_len: usize,
}

impl<'a> RtpHeader<'a> {
    /// Parses an RTP packet.
    ///
    /// Checks the version, that the CSRCs and the extension block are within the packet,
    /// and that a padding count is at least 1 and leaves the header intact (RFC 3550 §5.1,
    /// §A.1). The extension elements are read lazily by [`RtpHeader::extensions`].
    pub fn parse(packet: &'a [u8]) -> Result<Self, WireError> {
        if packet.len() < RTP_HEADER_LEN {
            return Err(WireError::TooShort);
        }
        let b0 = byte(packet, 0);
        let b1 = byte(packet, 1);
        if b0 >> 6 != 2 {
            return Err(WireError::BadVersion);
        }
        let csrc_end = RTP_HEADER_LEN + 4 * usize::from(b0 & 0x0f);
        let csrc_bytes = packet
            .get(RTP_HEADER_LEN..csrc_end)
            .ok_or(WireError::TooShort)?;
        let mut header_len = csrc_end;
        let extension = if b0 & 0x10 != 0 {
            // RFC 3550 §5.3.1: 16-bit profile, 16-bit length in words, then the data.
            if packet.len() < csrc_end + 4 {
                return Err(WireError::TooShort);
            }
            let profile = be16(packet, csrc_end);
            let words = usize::from(be16(packet, csrc_end + 2));
            let end = csrc_end + 4 + 4 * words;
            let data = packet.get(csrc_end + 4..end).ok_or(WireError::BadLength)?;
            header_len = end;
            Some(ExtensionBlock { profile, data })
        } else {
            None
        };
        let mut end = packet.len();
        let padding = if b0 & 0x20 != 0 {
            let n = packet.last().copied().unwrap_or(0);
            if n == 0 || usize::from(n) > end - header_len {
                return Err(WireError::BadPadding);
            }
            end -= usize::from(n);
            n
        } else {
            0
        };
        Ok(RtpHeader {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7f,
            sequence_number: be16(packet, 2),
            timestamp: be32(packet, 4),
            ssrc: be32(packet, 8),
            padding,
            extension,
            payload: packet.get(header_len..end).unwrap_or_default(),
            csrc_bytes,
            header_len,
        })
    }

    /// Bytes of header: the fixed part, the CSRCs and the extension block.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Number of CSRCs (0..=15).
    pub fn csrc_count(&self) -> usize {
        self.csrc_bytes.len() / 4
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + Clone + 'a {
        self.csrc_bytes.chunks_exact(4).map(|c| be32(c, 0))
    }

    /// The RFC 8285 extension elements as `(id, value)`; none without an extension block
    /// or with another profile.
    pub fn extensions(&self) -> Extensions<'a> {
        match self.extension {
            Some(e) => e.elements(),
            None => Extensions {
                rest: &[],
                form: None,
            },
        }
    }

    /// The value of the first extension element with local identifier `id`.
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions().find(|(i, _)| *i == id).map(|(_, v)| v)
    }
}

/// The fields of an RTP packet to write (RFC 3550 §5.1), with its extensions (RFC 8285).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeaderRepr<'a> {
    /// M bit.
    pub marker: bool,
    /// Payload type, 0..=127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Contributing sources, at most 15.
    pub csrcs: &'a [u32],
    /// Header extension elements as `(id, value)`. Written in the one-byte form (RFC 8285
    /// §4.2) when every id is 1..=14 and every value 1..=16 bytes, otherwise in the
    /// two-byte form (§4.3: ids 1..=255, values 0..=255 bytes). No block when empty.
    pub extensions: &'a [(u8, &'a [u8])],
    /// Bytes of padding to append after the payload, the count byte included (0: none,
    /// P bit clear).
    pub padding: u8,
}

impl RtpHeaderRepr<'_> {
    /// The form the extensions are written in, `None` when there are none.
    pub fn extension_form(&self) -> Option<ExtensionForm> {
        if self.extensions.is_empty() {
            None
        } else if self.extensions.iter().all(|(id, v)| {
            (1..=ONE_BYTE_MAX_ID).contains(id) && (1..=ONE_BYTE_MAX_LEN).contains(&v.len())
        }) {
            Some(ExtensionForm::OneByte)
        } else {
            Some(ExtensionForm::TwoByte)
        }
    }

    /// Bytes of header [`RtpHeaderRepr::write`] writes: fixed part, CSRCs, extension
    /// block.
    pub fn header_len(&self) -> usize {
        let ext = match self.extension_form() {
            None => 0,
            Some(form) => {
                let per = match form {
                    ExtensionForm::OneByte => 1,
                    ExtensionForm::TwoByte => 2,
                };
                let data: usize = self.extensions.iter().map(|(_, v)| per + v.len()).sum();
                4 + data.div_ceil(4) * 4
            }
        };
        RTP_HEADER_LEN + 4 * self.csrcs.len() + ext
    }

    /// Writes the packet: header, extensions, `payload`, then `padding` bytes (zeros and a
    /// final count byte, RFC 3550 §5.1). Returns its length, or `None` if it does not fit
    /// in `buf` or cannot be encoded (payload type above 127, more than 15 CSRCs, an
    /// extension id 0 or a value longer than 255 bytes, a block over 65535 words).
    pub fn write(&self, buf: &mut [u8], payload: &[u8]) -> Option<usize> {
        if self.payload_type > 0x7f || self.csrcs.len() > MAX_CSRCS {
            return None;
        }
        let form = self.extension_form();
        let mut w = Writer::new(buf);
        let cc = u8::try_from(self.csrcs.len()).ok()?;
        let b0 = 0x80 | (u8::from(self.padding != 0) << 5) | (u8::from(form.is_some()) << 4) | cc;
        w.u8(b0)?;
        w.u8((u8::from(self.marker) << 7) | self.payload_type)?;
        w.u16(self.sequence_number)?;
        w.u32(self.timestamp)?;
        w.u32(self.ssrc)?;
        for c in self.csrcs {
            w.u32(*c)?;
        }
        if let Some(form) = form {
            write_extension_block(&mut w, form, self.extensions)?;
        }
        w.bytes(payload)?;
        if self.padding != 0 {
            w.zeros(usize::from(self.padding) - 1)?;
            w.u8(self.padding)?;
        }
        Some(w.pos)
    }
}

/// Writes an extension block (RFC 3550 §5.3.1) in the RFC 8285 `form`, padded with zeros
/// to a 32-bit boundary.
fn write_extension_block(
    w: &mut Writer<'_>,
    form: ExtensionForm,
    elements: &[(u8, &[u8])],
) -> Option<()> {
    let start = w.pos;
    let profile = match form {
        ExtensionForm::OneByte => PROFILE_ONE_BYTE,
        ExtensionForm::TwoByte => PROFILE_TWO_BYTE,
    };
    w.u16(profile)?;
    w.u16(0)?;
    for (id, value) in elements {
        if *id == 0 {
            return None;
        }
        match form {
            ExtensionForm::OneByte => {
                let len = u8::try_from(value.len().checked_sub(1)?).ok()?;
                if *id > ONE_BYTE_MAX_ID || len > 0x0f {
                    return None;
                }
                w.u8((id << 4) | len)?;
            }
            ExtensionForm::TwoByte => {
                w.u8(*id)?;
                w.u8(u8::try_from(value.len()).ok()?)?;
            }
        }
        w.bytes(value)?;
    }
    w.pad4_from(start)?;
    let words = u16::try_from((w.pos - start - 4) / 4).ok()?;
    w.patch(start + 2, &words.to_be_bytes())
}
