//! Unit tests of the per-SSRC stream state. Expected values are worked out by hand from
//! the RFC formulas in the comments, not taken from the code under test. The send side,
//! TWCC and the property tests are in `tests/`.

mod props;
mod send;
mod twcc;

use super::*;
use crate::rtp::wire::{
    ReportBlock, RtcpPacket, RtcpPackets, RtpHeader, RtpHeaderRepr, SenderInfo, write_twcc,
};
use crate::time::{Duration, Instant};

const SSRC: u32 = 0x1122_3344;
const RTX_SSRC: u32 = 0x5566_7788;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// A plain RTP packet on `SSRC`, payload type 96.
fn packet(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    packet_with(
        RtpHeaderRepr {
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc: SSRC,
            ..Default::default()
        },
        payload,
    )
}

fn packet_with(repr: RtpHeaderRepr<'_>, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 2000];
    let n = repr.write(&mut buf, payload).unwrap();
    buf.truncate(n);
    buf
}

fn recv(nack: Option<NackConfig>) -> RecvStream {
    RecvStream::new(RecvConfig {
        ssrc: SSRC,
        clock_rate: 90_000,
        nack,
    })
}

/// Requests at once (no reordering tolerance), to keep the timing tests simple.
fn nack_config() -> NackConfig {
    NackConfig {
        reorder_delay: Duration::ZERO,
        ..NackConfig::default()
    }
}

/// Polls NACKs at `now` into a fresh list.
fn nacks(r: &mut RecvStream, now: Instant) -> Vec<u16> {
    let mut out = Vec::new();
    r.poll_nack(now, &mut out);
    out
}

fn resend(s: &mut SendStream, now: Instant) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2000];
    let n = s.poll_resend(now, &mut buf)?;
    buf.truncate(n);
    Some(buf)
}

fn rtx_config() -> SendConfig {
    SendConfig {
        rtx: Some(RtxConfig {
            ssrc: RTX_SSRC,
            payload_types: vec![(96, 97), (100, 101)],
        }),
        ..SendConfig::new(SSRC, 90_000)
    }
}

/// Parses a buffer holding one transport-cc feedback: (fb_pkt_count, arrivals).
fn parse_twcc(buf: &[u8]) -> (u8, Vec<(u16, Option<i64>)>) {
    let mut packets = RtcpPackets::new(buf);
    let p = packets.next().unwrap().unwrap();
    assert!(packets.next().is_none());
    match p {
        RtcpPacket::TransportCc(fb) => (fb.fb_pkt_count, fb.arrivals().collect()),
        other => panic!("not transport-cc: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// RecvStream: sequence numbers (RFC 3550 A.1)
// ---------------------------------------------------------------------------------------

#[test]
fn seq_extension_across_wrap() {
    let mut r = recv(None);
    let base = 1u64 << 16;
    assert_eq!(r.on_packet(ms(0), 65534, 0, 10), Some(base + 65534));
    assert_eq!(r.on_packet(ms(1), 65535, 0, 10), Some(base + 65535));
    assert_eq!(r.on_packet(ms(2), 0, 0, 10), Some(base + 65536));
    assert_eq!(r.on_packet(ms(3), 1, 0, 10), Some(base + 65537));
    let rb = r.report_block(ms(4)).unwrap();
    // One cycle, highest 1 (RFC 3550 §6.4.1: cycles in the high 16 bits).
    assert_eq!(rb.extended_highest_seq, 0x0001_0001);
    assert_eq!(rb.cumulative_lost, 0);
    assert_eq!(rb.ssrc, SSRC);
}

#[test]
fn seq_extension_reordering_across_wrap() {
    let mut r = recv(None);
    let base = 1u64 << 16;
    assert_eq!(r.on_packet(ms(0), 65533, 0, 1), Some(base + 65533));
    assert_eq!(r.on_packet(ms(0), 1, 0, 1), Some(base + 65537));
    // Late ones from before the wrap keep their cycle.
    assert_eq!(r.on_packet(ms(0), 65535, 0, 1), Some(base + 65535));
    assert_eq!(r.on_packet(ms(0), 0, 0, 1), Some(base + 65536));
    assert_eq!(r.on_packet(ms(0), 65534, 0, 1), Some(base + 65534));
    assert_eq!(r.stats().cumulative_lost, 0);
    assert_eq!(r.stats().expected, 5);
}

#[test]
fn packet_before_the_first_widens_expected() {
    let mut r = recv(None);
    let base = 1u64 << 16;
    assert_eq!(r.on_packet(ms(0), 2, 0, 1), Some(base + 2));
    // Sent before the first one received, and before the wrap.
    assert_eq!(r.on_packet(ms(0), 65535, 0, 1), Some(base - 1));
    let s = r.stats();
    assert_eq!((s.expected, s.packets, s.cumulative_lost), (4, 2, 2));
    let rb = r.report_block(ms(1)).unwrap();
    assert_eq!(rb.extended_highest_seq, 2);
    assert_eq!(rb.cumulative_lost, 2);
}

#[test]
fn duplicates_are_dropped() {
    let mut r = recv(Some(nack_config()));
    assert!(r.on_packet(ms(0), 1, 0, 10).is_some());
    assert!(r.on_packet(ms(0), 2, 0, 10).is_some());
    assert_eq!(r.on_packet(ms(0), 2, 0, 10), None);
    assert!(r.on_packet(ms(0), 4, 0, 10).is_some());
    assert_eq!(r.on_packet(ms(0), 1, 0, 10), None);
    assert!(r.on_packet(ms(0), 3, 0, 10).is_some());
    assert_eq!(r.on_packet(ms(0), 3, 0, 10), None);
    let s = r.stats();
    assert_eq!(s.duplicates, 3);
    assert_eq!(s.packets, 4);
    assert_eq!(s.bytes, 40);
    assert_eq!(s.cumulative_lost, 0);
}

#[test]
fn jump_is_a_restart_only_when_confirmed() {
    let mut r = recv(Some(nack_config()));
    let base = 1u64 << 16;
    r.on_packet(ms(0), 100, 0, 1);
    r.on_packet(ms(0), 101, 0, 1);
    // A stray packet far ahead: dropped, the sequence goes on.
    assert_eq!(r.on_packet(ms(0), 40_000, 0, 1), None);
    assert_eq!(r.on_packet(ms(0), 102, 0, 1), Some(base + 102));
    assert_eq!(r.stats().restarts, 0);
    assert_eq!(r.stats().missing, 0, "a jump is not a gap");
    // A jump confirmed by the next packet: a restart, numbers keep increasing.
    assert_eq!(r.on_packet(ms(0), 20_000, 0, 1), None);
    assert_eq!(r.on_packet(ms(0), 20_001, 0, 1), Some(base + 20_001));
    assert_eq!(r.on_packet(ms(0), 20_002, 0, 1), Some(base + 20_002));
    let s = r.stats();
    assert_eq!((s.restarts, s.jumps), (1, 2));
    // Counting restarted at 20001 (A.1 init_seq): 2 expected, 2 received.
    assert_eq!((s.expected, s.cumulative_lost), (2, 0));
    assert_eq!(s.missing, 0);
}

#[test]
fn backward_jump_restart() {
    let mut r = recv(None);
    let base = 1u64 << 16;
    r.on_packet(ms(0), 5000, 0, 1);
    r.on_packet(ms(0), 5001, 0, 1);
    // 4901 behind: more than the misorder bound.
    assert_eq!(r.on_packet(ms(0), 100, 0, 1), None);
    // Confirmed: the new sequence is placed after the old one.
    assert_eq!(r.on_packet(ms(0), 101, 0, 1), Some(2 * base + 101));
    assert_eq!(r.on_packet(ms(0), 102, 0, 1), Some(2 * base + 102));
    assert_eq!(r.stats().restarts, 1);
    // A late packet within the misorder bound is accepted, not a jump.
    let mut r = recv(None);
    r.on_packet(ms(0), 5000, 0, 1);
    assert_eq!(r.on_packet(ms(0), 4100, 0, 1), Some(base + 4100));
}

// ---------------------------------------------------------------------------------------
// RecvStream: loss (A.3), jitter (A.8), report blocks (§6.4.1)
// ---------------------------------------------------------------------------------------

#[test]
fn fraction_lost_by_hand() {
    let mut r = recv(None);
    for seq in [0u16, 1, 2, 4, 6, 8, 9] {
        r.on_packet(ms(0), seq, 0, 1);
    }
    // Expected 10, received 7: lost 3; fraction (3 << 8) / 10 = 76.
    let rb = r.report_block(ms(10)).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (76, 3));
    assert_eq!(r.stats().fraction_lost, 76);
    // 10..=19 all and 3 late: 10 expected in the interval, 11 received: fraction 0;
    // cumulative 20 - 18 = 2.
    for seq in 10u16..20 {
        r.on_packet(ms(20), seq, 0, 1);
    }
    r.on_packet(ms(20), 3, 0, 1);
    let rb = r.report_block(ms(30)).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (0, 2));
    // 20..=24 lost, 25 received: 6 expected, 1 received, 5 lost: (5 << 8) / 6 = 213.
    r.on_packet(ms(40), 25, 0, 1);
    let rb = r.report_block(ms(50)).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (213, 7));
    assert_eq!(rb.extended_highest_seq, 25);
    // Nothing new: an empty interval reports 0.
    let rb = r.report_block(ms(60)).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (0, 7));
}

#[test]
fn jitter_by_hand() {
    // 8 kHz, 20 ms packets (160 ticks); arrivals at 0, 20, 45, 60, 80 ms. In ticks
    // (relative) the transits are 0, 0, 40, 0, 0, so |D| = 0, 40, 40, 0 and, on the RFC's
    // integer form J16 += |D| - (J16 + 8) / 16: 0, 40, 40 - 3 + 40 = 77, 77 - 5 = 72.
    // Reported jitter 72 / 16 = 4 ticks (the float form gives 4.54).
    let mut r = RecvStream::new(RecvConfig {
        ssrc: SSRC,
        clock_rate: 8000,
        nack: None,
    });
    let arrivals = [0u64, 20, 45, 60, 80];
    for (i, t) in arrivals.iter().enumerate() {
        let i = i as u32;
        r.on_packet(ms(1000 + t), 7 + i as u16, 5000 + 160 * i, 160);
    }
    let s = r.stats();
    assert_eq!(s.jitter, 4);
    assert_eq!(s.jitter_delay, Duration::from_micros(500));
    assert_eq!(r.report_block(ms(2000)).unwrap().jitter, 4);
    // Late and duplicate packets do not move the jitter.
    r.on_packet(ms(5000), 6, 0, 160);
    r.on_packet(ms(5000), 10, 0, 160);
    assert_eq!(r.stats().jitter, 4);
}

#[test]
fn report_block_lsr_dlsr() {
    let mut r = recv(None);
    assert_eq!(
        r.report_block(ms(0)),
        None,
        "no block before the first packet"
    );
    r.on_packet(ms(900), 1, 0, 1);
    let rb = r.report_block(ms(950)).unwrap();
    assert_eq!((rb.last_sr, rb.delay_since_last_sr), (0, 0));
    let info = SenderInfo {
        ntp_time: 0x1234_5678_9abc_def0,
        rtp_time: 0,
        packet_count: 0,
        octet_count: 0,
    };
    r.on_sender_report(ms(1000), &info);
    assert_eq!(r.stats().last_sr, Some(ms(1000)));
    let rb = r.report_block(ms(1500)).unwrap();
    // LSR: the middle 32 bits; DLSR: 0.5 s in 1/65536 s.
    assert_eq!(rb.last_sr, 0x5678_9abc);
    assert_eq!(rb.delay_since_last_sr, 32768);
    let rb = r.report_block(ms(3250)).unwrap();
    assert_eq!(rb.delay_since_last_sr, 2 * 65536 + 16384);
}

// ---------------------------------------------------------------------------------------
// RecvStream: NACK
// ---------------------------------------------------------------------------------------

#[test]
fn nack_gap_due_at_once_then_after_interval() {
    let mut r = recv(Some(nack_config()));
    assert_eq!(r.poll_timeout(), None);
    r.on_packet(ms(100), 0, 0, 1);
    r.on_packet(ms(100), 1, 0, 1);
    r.on_packet(ms(100), 4, 0, 1);
    assert_eq!(r.poll_timeout(), Some(ms(100)));
    assert_eq!(nacks(&mut r, ms(100)), [2, 3]);
    assert_eq!(r.poll_timeout(), Some(ms(120)));
    assert!(nacks(&mut r, ms(110)).is_empty());
    assert!(nacks(&mut r, ms(119)).is_empty());
    assert_eq!(nacks(&mut r, ms(120)), [2, 3]);
    assert_eq!(r.stats().nacks_sent, 4);
    assert_eq!(r.stats().missing, 2);
    // Once the RTT is known and larger, 5/4 of it spaces the requests.
    r.set_rtt(Duration::from_millis(40));
    assert_eq!(r.poll_timeout(), Some(ms(170)));
    assert!(nacks(&mut r, ms(160)).is_empty());
    assert_eq!(nacks(&mut r, ms(170)), [2, 3]);
}

#[test]
fn nack_wraps_and_stays_ordered() {
    let mut r = recv(Some(nack_config()));
    r.on_packet(ms(0), 65533, 0, 1);
    r.on_packet(ms(0), 2, 0, 1);
    assert_eq!(nacks(&mut r, ms(0)), [65534, 65535, 0, 1]);
}

#[test]
fn nack_retries_bounded() {
    let mut r = recv(Some(NackConfig {
        reorder_delay: Duration::ZERO,
        max_retries: 3,
        ..nack_config()
    }));
    r.on_packet(ms(0), 0, 0, 1);
    r.on_packet(ms(0), 2, 0, 1);
    let mut requested = 0;
    for t in (0..400).step_by(20) {
        requested += nacks(&mut r, ms(t)).len();
    }
    assert_eq!(requested, 3);
    let s = r.stats();
    assert_eq!((s.nacks_sent, s.nack_given_up, s.missing), (3, 1, 0));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn nack_recovered_on_arrival() {
    let mut r = recv(Some(nack_config()));
    let base = 1u64 << 16;
    r.on_packet(ms(0), 10, 0, 1);
    r.on_packet(ms(0), 13, 0, 1);
    assert_eq!(nacks(&mut r, ms(0)), [11, 12]);
    assert_eq!(r.on_packet(ms(30), 12, 0, 1), Some(base + 12));
    assert_eq!(r.stats().recovered, 1);
    assert_eq!(r.stats().missing, 1);
    assert_eq!(nacks(&mut r, ms(30)), [11]);
    // A reordered packet filling a hole before any request is not a recovery.
    r.on_packet(ms(40), 15, 0, 1);
    r.on_packet(ms(40), 14, 0, 1);
    assert_eq!(r.stats().recovered, 1);
    assert_eq!(r.stats().missing, 1);
    assert_eq!(r.stats().cumulative_lost, 1);
}

#[test]
fn nack_given_up_after_max_age() {
    let mut r = recv(Some(NackConfig {
        reorder_delay: Duration::ZERO,
        max_age: Duration::from_millis(100),
        min_interval: Duration::from_millis(30),
        ..nack_config()
    }));
    r.on_packet(ms(0), 0, 0, 1);
    r.on_packet(ms(0), 2, 0, 1);
    for t in [0, 30, 60, 90] {
        assert_eq!(nacks(&mut r, ms(t)), [1], "at {t} ms");
    }
    assert_eq!(r.poll_timeout(), Some(ms(120)));
    assert!(nacks(&mut r, ms(120)).is_empty());
    let s = r.stats();
    assert_eq!((s.nacks_sent, s.nack_given_up, s.missing), (4, 1, 0));
    // Arriving after being given up: a late packet, no longer missing.
    assert!(r.on_packet(ms(130), 1, 0, 1).is_some());
    assert_eq!(r.stats().recovered, 0);
}

#[test]
fn nack_overflow_asks_for_a_keyframe() {
    let mut r = recv(Some(NackConfig {
        reorder_delay: Duration::ZERO,
        max_missing: 10,
        ..nack_config()
    }));
    r.on_packet(ms(0), 0, 0, 1);
    // A gap of exactly 10 fits.
    r.on_packet(ms(0), 11, 0, 1);
    assert_eq!(r.stats().missing, 10);
    assert!(!r.keyframe_needed());
    // One more does not: the list is cleared for a key frame.
    r.on_packet(ms(0), 13, 0, 1);
    assert!(r.keyframe_needed());
    let s = r.stats();
    assert_eq!((s.missing, s.nack_overflows), (0, 1));
    assert!(nacks(&mut r, ms(0)).is_empty());
    r.clear_keyframe_needed();
    assert!(!r.keyframe_needed());
    // Tracking goes on afterwards.
    r.on_packet(ms(0), 15, 0, 1);
    assert_eq!(nacks(&mut r, ms(0)), [14]);
}

#[test]
fn no_nack_without_config() {
    let mut r = recv(None);
    r.on_packet(ms(0), 0, 0, 1);
    r.on_packet(ms(0), 5, 0, 1);
    assert!(nacks(&mut r, ms(0)).is_empty());
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().cumulative_lost, 4);
}

#[test]
fn nack_waits_for_reordering_first() {
    let mut r = recv(Some(NackConfig::default()));
    r.on_packet(ms(100), 0, 0, 1);
    r.on_packet(ms(100), 2, 0, 1);
    // Missing 1 is not asked for during the 10 ms reordering tolerance...
    assert_eq!(r.poll_timeout(), Some(ms(110)));
    assert!(nacks(&mut r, ms(105)).is_empty());
    // ...and a reordered arrival in that time costs nothing.
    r.on_packet(ms(106), 1, 0, 1);
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().nacks_sent, 0);
    r.on_packet(ms(120), 4, 0, 1);
    assert_eq!(nacks(&mut r, ms(130)), [3]);
}

#[test]
fn nack_covers_packets_between_a_late_one_and_the_first() {
    let mut r = recv(Some(nack_config()));
    // 12 comes first, then 10: 11 is known missing (it was sent between them).
    r.on_packet(ms(100), 12, 0, 1);
    r.on_packet(ms(101), 10, 0, 1);
    assert_eq!(nacks(&mut r, ms(101)), [11]);
    assert!(r.on_packet(ms(120), 11, 0, 1).is_some());
    assert_eq!(r.stats().recovered, 1);
    assert_eq!(r.stats().cumulative_lost, 0);
}
