//! The RTP and RTCP wire format.
//!
//! - RTP packets (RFC 3550 §5.1) with RFC 8285 header extensions, one-byte and two-byte
//!   forms: [`RtpHeader`] parses, [`RtpHeaderRepr`] writes; [`ext`] reads and writes the
//!   values of the extensions WebRTC uses (abs-send-time, transport-wide sequence number,
//!   MID, RID, audio level). [`is_rtcp`] tells RTP from RTCP on a muxed port (RFC 5761 §4).
//! - RTCP compound packets (RFC 3550 §6): [`RawPackets`] splits a compound into its
//!   sub-packets, [`RawRtcp::parse`] types one of them as an [`RtcpPacket`]: sender and
//!   receiver reports, SDES, BYE, generic NACK (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1),
//!   FIR (RFC 5104 §4.3.1), REMB (draft-alvestrand-rmcat-remb) and transport-wide
//!   congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).
//!   Reduced-size RTCP (RFC 5506) is just a compound that does not start with a report,
//!   and is accepted as such. One `write_*` function per packet type appends one packet;
//!   a compound packet is their concatenation.
//!
//! Parsing borrows from the packet, allocates nothing and never panics, whatever the input
//! (fuzzed by `fuzz/fuzz_targets/rtp.rs` and `fuzz/fuzz_targets/rtcp.rs`). Writers write
//! into a caller buffer and return the number of bytes written, or `None` when the packet
//! does not fit or a value cannot be encoded (the buffer then holds garbage).

pub mod ext;
mod feedback;
mod rtcp;
mod rtp;
#[cfg(test)]
mod tests;
mod twcc;

pub use feedback::{
    Fir, FirEntry, Nack, NackLost, NackPairs, Pli, Remb, write_fir, write_nack, write_pli,
    write_remb,
};
pub use rtcp::{
    Bye, RTCP_HEADER_LEN, RawPackets, RawRtcp, ReceiverReport, ReportBlock, ReportBlocks,
    RtcpPacket, RtcpPackets, Sdes, SdesChunk, SdesChunks, SdesItem, SdesItems, SenderInfo,
    SenderReport, Ssrcs, packet_type, sdes_type, write_bye, write_receiver_report, write_rtcp,
    write_sdes, write_sdes_cname, write_sender_report,
};
pub use rtp::{
    ExtensionBlock, ExtensionForm, Extensions, RTP_HEADER_LEN, RtpHeader, RtpHeaderRepr, is_rtcp,
};
pub use twcc::{TwccArrivals, TwccFeedback, TwccPackets, write_twcc};

/// Why a packet was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than its fixed header or than the fields it announces.
    #[error("packet too short")]
    TooShort,
    /// The version field is not 2 (RFC 3550 §5.1, §6.4.1).
    #[error("RTP/RTCP version is not 2")]
    BadVersion,
    /// A length field points beyond the packet.
    #[error("length field beyond the packet")]
    BadLength,
    /// The padding count is zero or larger than the packet (RFC 3550 §5.1).
    #[error("bad padding")]
    BadPadding,
    /// The body does not follow its format (counts, item lists, reserved symbols).
    #[error("malformed packet body")]
    Malformed,
}

/// Reads a big-endian `u16` at `at`, or 0 when out of bounds (callers check lengths first).
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

/// Reads a big-endian 24-bit unsigned value at `at`, or 0 when out of bounds.
fn be24(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(3)) {
        Some(&[x, y, z]) => u32::from_be_bytes([0, x, y, z]),
        _ => 0,
    }
}

/// Reads a big-endian `u32` at `at`, or 0 when out of bounds.
fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

/// Reads a byte at `at`, or 0 when out of bounds.
fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// Sign-extends a 24-bit two's complement value.
fn sign_extend24(v: u32) -> i32 {
    // Shift the sign bit into bit 31, then back with an arithmetic shift.
    ((v << 8) as i32) >> 8
}

/// A bounds-checked writer into a caller buffer: every method returns `None` rather than
/// write past the end.
#[derive(Debug)]
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    fn bytes(&mut self, b: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(b.len())?;
        self.buf.get_mut(self.pos..end)?.copy_from_slice(b);
        self.pos = end;
        Some(())
    }

    fn u8(&mut self, v: u8) -> Option<()> {
        self.bytes(&[v])
    }

    fn u16(&mut self, v: u16) -> Option<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// The low 24 bits of `v`.
    fn u24(&mut self, v: u32) -> Option<()> {
        let [_, a, b, c] = v.to_be_bytes();
        self.bytes(&[a, b, c])
    }

    fn u32(&mut self, v: u32) -> Option<()> {
        self.bytes(&v.to_be_bytes())
    }

    fn u64(&mut self, v: u64) -> Option<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes `n` zero bytes.
    fn zeros(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        self.buf.get_mut(self.pos..end)?.fill(0);
        self.pos = end;
        Some(())
    }

    /// Pads with zeros to a multiple of 4 bytes counted from `from`.
    fn pad4_from(&mut self, from: usize) -> Option<()> {
        let used = self.pos.checked_sub(from)?;
        self.zeros((4 - used % 4) % 4)
    }

    /// Overwrites bytes already written at `at`.
    fn patch(&mut self, at: usize, b: &[u8]) -> Option<()> {
        let end = at.checked_add(b.len())?;
        if end > self.pos {
            return None;
        }
        self.buf.get_mut(at..end)?.copy_from_slice(b);
        Some(())
    }
}
