//! Per-SSRC RTP stream state: what a sender and a receiver keep about one media source.
//!
//! - [`SendStream`]: one outgoing SSRC. Counts what is sent for the sender report (RFC 3550
//!   §6.4.1), keeps a bounded history of sent packets and answers generic NACKs (RFC 4585
//!   §6.2.1) with retransmissions, wrapped in RTX (RFC 4588) when an RTX SSRC is
//!   configured, and reads the report blocks the remote sends about it (loss, jitter, RTT).
//! - [`RecvStream`]: one incoming SSRC. Extends sequence numbers and drops duplicates
//!   (RFC 3550 A.1), computes loss (A.3) and interarrival jitter (A.8), builds the report
//!   block about it (§6.4.1), and tracks missing packets to NACK them ([`NackConfig`]).
//! - [`TwccReceiver`] and [`TwccSender`]: transport-wide congestion control feedback
//!   (draft-holmer-rmcat-transport-wide-cc-extensions-01), receiver and sender sides.
//!
//! Like the rest of the crate these are sans-IO: every call that can make time pass takes
//! `now`, they never read a clock, and every list they keep has a bound. They work on plain
//! (pre-SRTP, post-SRTP-decryption) RTP and on parsed RTCP from [`crate::rtp::wire`]; the
//! host routes packets to streams by SSRC.
//!
//! ```
//! use sansrtc::Instant;
//! use sansrtc::rtp::stream::{NackConfig, RecvConfig, RecvStream, SendConfig, SendStream};
//! use sansrtc::rtp::wire::RtpHeaderRepr;
//!
//! let mut tx = SendStream::new(SendConfig::new(0x1234, 90_000));
//! let mut rx = RecvStream::new(RecvConfig {
//!     ssrc: 0x1234,
//!     clock_rate: 90_000,
//!     nack: Some(NackConfig::default()),
//! });
//! let mut pkt = [0u8; 1200];
//! let now = Instant::from_millis(1000);
//! for seq in 0..3u16 {
//!     let repr = RtpHeaderRepr { payload_type: 96, sequence_number: seq, ssrc: 0x1234, ..Default::default() };
//!     let n = repr.write(&mut pkt, b"media").unwrap();
//!     tx.on_sent(now, &pkt[..n]);
//!     if seq != 1 {
//!         // Packet 1 is lost on the way.
//!         rx.on_packet(now, seq, 0, 5);
//!     }
//! }
//! // A gap is NACKed once it has outlived the reorder delay (10 ms by default).
//! let later = now + sansrtc::Duration::from_millis(20);
//! let mut lost = Vec::new();
//! rx.poll_nack(later, &mut lost);
//! assert_eq!(lost, [1]);
//! tx.on_nack(now, lost.iter().copied());
//! let n = tx.poll_resend(now, &mut pkt).unwrap();
//! assert_eq!(rx.on_packet(now, 1, 0, n - 12), Some(65_537));
//! assert_eq!(rx.stats().recovered, 1);
//! ```

mod nack;
mod recv;
mod send;
#[cfg(test)]
mod tests;
mod twcc;

pub use nack::NackConfig;
pub use recv::{RecvConfig, RecvStats, RecvStream};
pub use send::{RtxConfig, SendConfig, SendStats, SendStream};
pub use twcc::{
    TwccReceiver, TwccReceiverConfig, TwccReceiverStats, TwccSender, TwccSenderConfig, TwccStats,
};

use crate::time::Duration;

/// The first extended sequence number of a stream is `FIRST_CYCLE + seq`: starting in
/// cycle 1 rather than 0 leaves room below for packets reordered before the first one, so
/// extended numbers never go below zero. Report blocks subtract it again (RFC 3550 §6.4.1
/// counts cycles from 0).
const FIRST_CYCLE: u64 = 1 << 16;

/// The 16-bit sequence number space (RFC 3550 A.1 `RTP_SEQ_MOD`).
const SEQ_MOD: u64 = 1 << 16;

/// Extends `seq` to the 64-bit number nearest `reference` (within -2^15..2^15), or `None`
/// if that would be negative.
fn extend_seq(reference: u64, seq: u16) -> Option<u64> {
    // The truncations keep the low 16 bits on purpose: the difference modulo 2^16,
    // read as signed, is the distance to the nearest candidate.
    let diff = seq.wrapping_sub(reference as u16) as i16;
    reference.checked_add_signed(i64::from(diff))
}

/// `micros` microseconds in units of a `rate` Hz clock, modulo 2^32 (RTP timestamps wrap,
/// RFC 3550 §5.1).
fn micros_to_clock(micros: u128, rate: u32) -> u32 {
    let ticks = micros.saturating_mul(u128::from(rate)) / 1_000_000;
    // Keep the low 32 bits: timestamps are modular.
    (ticks & 0xffff_ffff) as u32
}

/// A duration in units of 1/65536 s, as DLSR and RTT are carried (RFC 3550 §6.4.1),
/// saturating at `u32::MAX`.
fn duration_to_q16(d: Duration) -> u32 {
    let v = d.as_micros().saturating_mul(65_536) / 1_000_000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A count of 1/65536 s as a duration.
fn q16_to_duration(v: u32) -> Duration {
    Duration::from_micros(u64::from(v) * 1_000_000 / 65_536)
}

/// A count of `rate` Hz clock ticks as a duration (zero for a zero rate).
fn clock_to_duration(ticks: u32, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(u64::from(ticks) * 1_000_000 / u64::from(rate))
}
