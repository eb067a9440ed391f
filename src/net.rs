//! Datagrams in and out, and the RFC 7983 first-byte demultiplexer.
//!
//! The host owns the sockets. It hands every datagram it reads to sansrtc as a
//! [`Receive`], and asks for datagrams to send with `poll_transmit(now, &mut buf)`, which
//! writes one datagram into the caller's buffer and returns a [`Transmit`] saying how many
//! bytes were written and where they go. No datagram is allocated on the way out.

use core::net::SocketAddr;

/// The transport a datagram travels on between the host and the remote peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain UDP: the normal WebRTC transport.
    Udp,
    /// A TCP byte stream, framed by the host (RFC 6544 / RFC 4571 framing).
    Tcp,
}

/// One datagram received by the host, borrowed for the duration of the call.
#[derive(Debug, Clone, Copy)]
pub struct Receive<'a> {
    /// The transport it arrived on.
    pub proto: Protocol,
    /// The address it came from (the remote peer as seen by the host's socket).
    pub source: SocketAddr,
    /// The local address it arrived at (the host's socket address).
    pub destination: SocketAddr,
    /// The datagram's bytes.
    pub contents: &'a [u8],
}

/// A datagram that `poll_transmit` wrote into the caller's buffer.
///
/// The first `size` bytes of the buffer are the datagram; send them from `source` to
/// `destination`.
#[must_use = "a Transmit describes a datagram that must be sent"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The transport to send on.
    pub proto: Protocol,
    /// The local address to send from (one of the host's socket addresses).
    pub source: SocketAddr,
    /// The remote address to send to.
    pub destination: SocketAddr,
    /// Length of the datagram written at the start of the caller's buffer.
    pub size: usize,
}

/// What a datagram carries, decided by its first byte (RFC 7983 §7, with the TURN
/// ChannelData range of RFC 7983bis / RFC 8656 §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatagramKind {
    /// 0..=3: a STUN message (ICE checks, consent, TURN control).
    Stun,
    /// 16..=19: ZRTP. WebRTC does not use it; it is dropped.
    Zrtp,
    /// 20..=63: a DTLS record.
    Dtls,
    /// 64..=79: a TURN ChannelData message.
    TurnChannel,
    /// 128..=191: RTP or RTCP (told apart by the payload type, RFC 5761 §4).
    Rtp,
    /// Anything else (including an empty datagram): dropped.
    Unknown,
}

/// Classifies a datagram by its first byte, as RFC 7983 §7 prescribes.
///
/// ```
/// use sansrtc::net::{demux, DatagramKind};
/// assert_eq!(demux(&[0x00, 0x01]), DatagramKind::Stun);
/// assert_eq!(demux(&[22, 254, 253]), DatagramKind::Dtls);
/// assert_eq!(demux(&[0x80, 96]), DatagramKind::Rtp);
/// assert_eq!(demux(&[]), DatagramKind::Unknown);
/// ```
pub fn demux(datagram: &[u8]) -> DatagramKind {
    match datagram.first() {
        Some(0..=3) => DatagramKind::Stun,
        Some(16..=19) => DatagramKind::Zrtp,
        Some(20..=63) => DatagramKind::Dtls,
        Some(64..=79) => DatagramKind::TurnChannel,
        Some(128..=191) => DatagramKind::Rtp,
        _ => DatagramKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_first_byte_classifies() {
        for b in 0..=255u8 {
            let k = demux(&[b]);
            let expect = match b {
                0..=3 => DatagramKind::Stun,
                16..=19 => DatagramKind::Zrtp,
                20..=63 => DatagramKind::Dtls,
                64..=79 => DatagramKind::TurnChannel,
                128..=191 => DatagramKind::Rtp,
                _ => DatagramKind::Unknown,
            };
            assert_eq!(k, expect, "byte {b}");
        }
        assert_eq!(demux(&[]), DatagramKind::Unknown);
    }
}
