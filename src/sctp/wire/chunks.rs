//! Typed views of the chunks a WebRTC association uses, and their writers.

use super::{RawChunk, Writer, chunk_type as ct, read_u16, read_u32};

/// A TLV parameter or error cause (type, value without padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Parameter type or cause code.
    pub ty: u16,
    /// The value.
    pub value: &'a [u8],
}

/// Iterator over 4-byte-aligned TLVs (INIT parameters, error causes, RE-CONFIG
/// parameters). Stops (with `Err`) at a TLV whose length does not fit.
#[derive(Debug, Clone)]
pub struct Tlvs<'a> {
    rest: &'a [u8],
}

impl<'a> Tlvs<'a> {
    /// TLVs in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Tlvs { rest: bytes }
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Result<Tlv<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        let len = usize::from(read_u16(r, 2));
        if r.len() < 4 || len < 4 || len > r.len() {
            self.rest = &[];
            return Some(Err(()));
        }
        let ty = read_u16(r, 0);
        let value = r.get(4..len).unwrap_or_default();
        self.rest = r.get((len + 3) & !3..).unwrap_or_default();
        Some(Ok(Tlv { ty, value }))
    }
}

/// Writes one TLV, padded.
pub fn write_tlv(w: &mut Writer<'_>, ty: u16, value: &[u8]) -> Option<()> {
    let len = u16::try_from(4 + value.len()).ok()?;
    w.u16(ty)?;
    w.u16(len)?;
    w.bytes(value)?;
    w.pad4()
}

/// DATA (RFC 9260 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    /// Transmission sequence number.
    pub tsn: u32,
    /// Stream identifier.
    pub stream: u16,
    /// Stream sequence number (ignored when unordered).
    pub ssn: u16,
    /// Payload protocol identifier (WebRTC: RFC 8831 §8).
    pub ppid: u32,
    /// U bit.
    pub unordered: bool,
    /// B bit: first fragment.
    pub beginning: bool,
    /// E bit: last fragment.
    pub ending: bool,
    /// I bit: SACK immediately (RFC 7053).
    pub immediate: bool,
    /// User data.
    pub payload: &'a [u8],
}

/// Bytes a DATA chunk takes before its payload.
pub const DATA_HEADER_LEN: usize = 16;

impl<'a> DataChunk<'a> {
    /// Views a DATA chunk; `None` if it is too short for the header (an empty payload
    /// is returned as such: the association aborts on it, RFC 9260 §6.2).
    pub fn parse(c: &RawChunk<'a>) -> Option<Self> {
        let v = c.value;
        let payload = v.get(12..)?;
        Some(DataChunk {
            tsn: read_u32(v, 0),
            stream: read_u16(v, 4),
            ssn: read_u16(v, 6),
            ppid: read_u32(v, 8),
            immediate: c.flags & 0x08 != 0,
            unordered: c.flags & 0x04 != 0,
            beginning: c.flags & 0x02 != 0,
            ending: c.flags & 0x01 != 0,
            payload,
        })
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        (u8::from(self.immediate) << 3)
            | (u8::from(self.unordered) << 2)
            | (u8::from(self.beginning) << 1)
            | u8::from(self.ending)
    }

    /// Writes the chunk.
    pub fn write(&self, w: &mut Writer<'_>) -> Option<()> {
        w.chunk(ct::DATA, self.flags(), |w| {
            w.u32(self.tsn)?;
            w.u16(self.stream)?;
            w.u16(self.ssn)?;
            w.u32(self.ppid)?;
            w.bytes(self.payload)
        })
    }
}

/// INIT parameter: State Cookie (RFC 9260 §3.3.3.1).
pub const PARAM_STATE_COOKIE: u16 = 7;
/// INIT parameter: Supported Extensions (RFC 5061 §4.2.7).
pub const PARAM_SUPPORTED_EXTENSIONS: u16 = 0x8008;
/// INIT parameter: Forward-TSN-Supported (RFC 3758 §3.1).
pub const PARAM_FORWARD_TSN_SUPPORTED: u16 = 0xc000;
/// INIT parameter: Zero Checksum Acceptable (RFC 9653 §4): its value is an Error
/// Detection Method Identifier.
pub const PARAM_ZERO_CHECKSUM_ACCEPTABLE: u16 = 0x8001;
/// Error Detection Method Identifier 1: SCTP over DTLS (RFC 9653 §7, RFC 8261).
pub const EDMID_SCTP_OVER_DTLS: u32 = 1;
/// INIT parameter: Unrecognized Parameter, inside an INIT ACK (RFC 9260 §3.3.3.1).
pub const PARAM_UNRECOGNIZED: u16 = 8;

/// INIT and INIT ACK (RFC 9260 §3.3.2, §3.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Init<'a> {
    /// Initiate Tag.
    pub initiate_tag: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    /// Number of outbound streams.
    pub outbound_streams: u16,
    /// Number of inbound streams.
    pub inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: u32,
    /// The parameters, encoded.
    pub params: &'a [u8],
}

impl<'a> Init<'a> {
    /// Views an INIT or INIT ACK value.
    pub fn parse(c: &RawChunk<'a>) -> Option<Self> {
        let v = c.value;
        Some(Init {
            initiate_tag: read_u32(v, 0),
            a_rwnd: read_u32(v, 4),
            outbound_streams: read_u16(v, 8),
            inbound_streams: read_u16(v, 10),
            initial_tsn: read_u32(v, 12),
            params: v.get(16..)?,
        })
    }

    /// The parameters.
    pub fn tlvs(&self) -> Tlvs<'a> {
        Tlvs::new(self.params)
    }

    /// The State Cookie parameter (INIT ACK).
    pub fn state_cookie(&self) -> Option<&'a [u8]> {
        self.tlvs()
            .map_while(Result::ok)
            .find(|p| p.ty == PARAM_STATE_COOKIE)
            .map(|p| p.value)
    }

    /// Whether the peer supports chunk type `ty`, by Supported Extensions (or, for
    /// FORWARD TSN, the Forward-TSN-Supported parameter).
    pub fn supports(&self, ty: u8) -> bool {
        self.tlvs().map_while(Result::ok).any(|p| {
            (p.ty == PARAM_SUPPORTED_EXTENSIONS && p.value.contains(&ty))
                || (ty == ct::FORWARD_TSN && p.ty == PARAM_FORWARD_TSN_SUPPORTED)
        })
    }

    /// The Error Detection Method Identifier of a Zero Checksum Acceptable parameter
    /// (RFC 9653 §4), if there is one.
    pub fn zero_checksum_edmid(&self) -> Option<u32> {
        self.tlvs()
            .map_while(Result::ok)
            .find(|p| p.ty == PARAM_ZERO_CHECKSUM_ACCEPTABLE && p.value.len() == 4)
            .map(|p| read_u32(p.value, 0))
    }

    /// Whether the parameter area frames correctly.
    pub fn params_ok(&self) -> bool {
        self.tlvs().all(|p| p.is_ok())
    }

    /// Writes an INIT (`ty` = INIT) or INIT ACK with the given extra parameters.
    pub fn write(&self, w: &mut Writer<'_>, ty: u8) -> Option<()> {
        w.chunk(ty, 0, |w| {
            w.u32(self.initiate_tag)?;
            w.u32(self.a_rwnd)?;
            w.u16(self.outbound_streams)?;
            w.u16(self.inbound_streams)?;
            w.u32(self.initial_tsn)?;
            w.bytes(self.params)
        })
    }
}

/// SACK (RFC 9260 §3.3.4), viewed without copying its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sack<'a> {
    /// Cumulative TSN Ack.
    pub cum_tsn_ack: u32,
    /// Advertised receiver window credit.
    pub a_rwnd: u32,
    gaps: &'a [u8],
    dups: &'a [u8],
}

impl<'a> Sack<'a> {
    /// Views a SACK; `None` if the block counts do not fit the chunk.
    pub fn parse(c: &RawChunk<'a>) -> Option<Self> {
        let v = c.value;
        let n_gaps = usize::from(read_u16(v, 8));
        let n_dups = usize::from(read_u16(v, 10));
        let gaps_end = 12 + 4 * n_gaps;
        let gaps = v.get(12..gaps_end)?;
        let dups = v.get(gaps_end..gaps_end + 4 * n_dups)?;
        if v.len() < 12 {
            return None;
        }
        Some(Sack {
            cum_tsn_ack: read_u32(v, 0),
            a_rwnd: read_u32(v, 4),
            gaps,
            dups,
        })
    }

    /// Gap Ack Blocks as (start, end) offsets from the cumulative TSN.
    pub fn gap_blocks(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        self.gaps
            .chunks_exact(4)
            .map(|b| (read_u16(b, 0), read_u16(b, 2)))
    }

    /// Number of gap blocks.
    pub fn gap_count(&self) -> usize {
        self.gaps.len() / 4
    }

    /// Duplicate TSNs.
    pub fn dup_tsns(&self) -> impl Iterator<Item = u32> + 'a {
        self.dups.chunks_exact(4).map(|b| read_u32(b, 0))
    }
}

/// Writes a SACK.
pub fn write_sack(
    w: &mut Writer<'_>,
    cum_tsn_ack: u32,
    a_rwnd: u32,
    gaps: impl ExactSizeIterator<Item = (u16, u16)>,
    dups: &[u32],
) -> Option<()> {
    w.chunk(ct::SACK, 0, |w| {
        w.u32(cum_tsn_ack)?;
        w.u32(a_rwnd)?;
        w.u16(u16::try_from(gaps.len()).ok()?)?;
        w.u16(u16::try_from(dups.len()).ok()?)?;
        for (s, e) in gaps {
            w.u16(s)?;
            w.u16(e)?;
        }
        for d in dups {
            w.u32(*d)?;
        }
        Some(())
    })
}

/// FORWARD TSN (RFC 3758 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardTsn<'a> {
    /// New Cumulative TSN.
    pub new_cum_tsn: u32,
    streams: &'a [u8],
}

impl<'a> ForwardTsn<'a> {
    /// Views a FORWARD TSN.
    pub fn parse(c: &RawChunk<'a>) -> Option<Self> {
        let v = c.value;
        let streams = v.get(4..)?;
        Some(ForwardTsn {
            new_cum_tsn: read_u32(v, 0),
            streams,
        })
    }

    /// (stream, SSN) pairs for ordered streams whose messages were skipped.
    pub fn streams(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        self.streams
            .chunks_exact(4)
            .map(|b| (read_u16(b, 0), read_u16(b, 2)))
    }
}

/// Writes a FORWARD TSN.
pub fn write_forward_tsn(
    w: &mut Writer<'_>,
    new_cum_tsn: u32,
    streams: &[(u16, u16)],
) -> Option<()> {
    w.chunk(ct::FORWARD_TSN, 0, |w| {
        w.u32(new_cum_tsn)?;
        for (s, n) in streams {
            w.u16(*s)?;
            w.u16(*n)?;
        }
        Some(())
    })
}

/// RE-CONFIG parameter: Outgoing SSN Reset Request (RFC 6525 §4.1).
pub const PARAM_OUTGOING_RESET: u16 = 13;
/// RE-CONFIG parameter: Incoming SSN Reset Request (RFC 6525 §4.2).
pub const PARAM_INCOMING_RESET: u16 = 14;
/// RE-CONFIG parameter: Re-configuration Response (RFC 6525 §4.4).
pub const PARAM_RECONFIG_RESPONSE: u16 = 16;

/// Re-configuration Response results (RFC 6525 §4.4).
pub mod reconfig_result {
    /// Success - Nothing to do.
    pub const SUCCESS_NOTHING: u32 = 0;
    /// Success - Performed.
    pub const SUCCESS_PERFORMED: u32 = 1;
    /// Denied.
    pub const DENIED: u32 = 2;
    /// Error - Wrong SSN.
    pub const ERROR_WRONG_SSN: u32 = 3;
    /// Error - Request already in progress.
    pub const ERROR_IN_PROGRESS: u32 = 4;
    /// Error - Bad Sequence Number.
    pub const ERROR_BAD_SEQUENCE: u32 = 5;
    /// In progress.
    pub const IN_PROGRESS: u32 = 6;
}

/// A RE-CONFIG parameter we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconfigParam<'a> {
    /// Outgoing SSN Reset Request: the peer resets its outgoing streams (our incoming).
    OutgoingReset {
        /// Re-configuration Request Sequence Number.
        req_seq: u32,
        /// Re-configuration Response Sequence Number.
        resp_seq: u32,
        /// Sender's last assigned TSN.
        last_tsn: u32,
        /// The streams (big-endian u16s; none = all).
        streams: &'a [u8],
    },
    /// Incoming SSN Reset Request: the peer asks us to reset our outgoing streams.
    IncomingReset {
        /// Re-configuration Request Sequence Number.
        req_seq: u32,
        /// The streams.
        streams: &'a [u8],
    },
    /// Re-configuration Response.
    Response {
        /// Re-configuration Response Sequence Number.
        resp_seq: u32,
        /// Result.
        result: u32,
    },
    /// Any other parameter (not supported: answered as denied where it has a sequence
    /// number).
    Other {
        /// Parameter type.
        ty: u16,
        /// Its first four value bytes (a request sequence number), if any.
        req_seq: Option<u32>,
    },
}

impl<'a> ReconfigParam<'a> {
    /// Views one parameter.
    pub fn parse(t: &Tlv<'a>) -> Option<Self> {
        let v = t.value;
        Some(match t.ty {
            PARAM_OUTGOING_RESET => ReconfigParam::OutgoingReset {
                req_seq: read_u32(v, 0),
                resp_seq: read_u32(v, 4),
                last_tsn: read_u32(v, 8),
                streams: v.get(12..).filter(|s| s.len() % 2 == 0)?,
            },
            PARAM_INCOMING_RESET => ReconfigParam::IncomingReset {
                req_seq: read_u32(v, 0),
                streams: v.get(4..).filter(|s| s.len() % 2 == 0)?,
            },
            PARAM_RECONFIG_RESPONSE => {
                v.get(..8)?;
                ReconfigParam::Response {
                    resp_seq: read_u32(v, 0),
                    result: read_u32(v, 4),
                }
            }
            ty => ReconfigParam::Other {
                ty,
                req_seq: (v.len() >= 4).then(|| read_u32(v, 0)),
            },
        })
    }
}

/// Stream ids of a reset request.
pub fn stream_ids(streams: &[u8]) -> impl Iterator<Item = u16> + '_ {
    streams.chunks_exact(2).map(|b| read_u16(b, 0))
}

/// Writes an Outgoing SSN Reset Request parameter.
pub fn write_outgoing_reset(
    w: &mut Writer<'_>,
    req_seq: u32,
    resp_seq: u32,
    last_tsn: u32,
    streams: &[u16],
) -> Option<()> {
    let len = u16::try_from(16 + 2 * streams.len()).ok()?;
    w.u16(PARAM_OUTGOING_RESET)?;
    w.u16(len)?;
    w.u32(req_seq)?;
    w.u32(resp_seq)?;
    w.u32(last_tsn)?;
    for s in streams {
        w.u16(*s)?;
    }
    w.pad4()
}

/// Writes a Re-configuration Response parameter.
pub fn write_reconfig_response(w: &mut Writer<'_>, resp_seq: u32, result: u32) -> Option<()> {
    w.u16(PARAM_RECONFIG_RESPONSE)?;
    w.u16(12)?;
    w.u32(resp_seq)?;
    w.u32(result)
}

/// Error cause codes (RFC 9260 §3.3.10).
pub mod cause {
    /// Invalid Stream Identifier.
    pub const INVALID_STREAM: u16 = 1;
    /// Missing Mandatory Parameter.
    pub const MISSING_PARAMETER: u16 = 2;
    /// Stale Cookie Error.
    pub const STALE_COOKIE: u16 = 3;
    /// Out of Resource.
    pub const OUT_OF_RESOURCE: u16 = 4;
    /// Unrecognized Chunk Type.
    pub const UNRECOGNIZED_CHUNK: u16 = 6;
    /// Invalid Mandatory Parameter.
    pub const INVALID_PARAMETER: u16 = 7;
    /// Unrecognized Parameters.
    pub const UNRECOGNIZED_PARAMETERS: u16 = 8;
    /// No User Data.
    pub const NO_USER_DATA: u16 = 9;
    /// Cookie Received While Shutting Down.
    pub const COOKIE_WHILE_SHUTTING_DOWN: u16 = 10;
    /// User-Initiated Abort.
    pub const USER_ABORT: u16 = 12;
    /// Protocol Violation.
    pub const PROTOCOL_VIOLATION: u16 = 13;
}
