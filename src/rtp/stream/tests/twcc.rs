//! Transport-wide congestion control feedback, receiver and sender.

use super::*;

// ---------------------------------------------------------------------------------------
// TWCC
// ---------------------------------------------------------------------------------------

fn feedback(r: &mut TwccReceiver, now: Instant) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 1500];
    let n = r.poll_feedback(now, 1, 2, &mut buf)?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn twcc_feedback_parses_back() {
    let mut r = TwccReceiver::default();
    let t0 = 5_000_000u64;
    // Sequence 65534 .. 3 across the wrap, 1 lost; arrivals in µs after t0.
    let arrivals: [(u16, u64); 5] = [
        (65534, 0),
        (65535, 1_100),
        (0, 2_300),
        (2, 10_000),
        (3, 10_250),
    ];
    assert_eq!(r.poll_timeout(), None);
    for (seq, at) in arrivals {
        r.on_packet(Instant::from_micros(t0 + at), seq);
    }
    assert_eq!(r.poll_timeout(), Some(Instant::from_micros(t0 + 100_000)));
    assert_eq!(feedback(&mut r, Instant::from_micros(t0 + 50_000)), None);
    let fb = feedback(&mut r, Instant::from_micros(t0 + 100_000)).unwrap();
    assert!(fb.len() <= 1100);
    let (count, got) = parse_twcc(&fb);
    assert_eq!(count, 0);
    let seqs: Vec<u16> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [65534, 65535, 0, 1, 2, 3]);
    assert_eq!(got[3].1, None, "the gap is reported not received");
    let first = got[0].1.unwrap();
    for ((_, at), (_, parsed)) in arrivals.iter().zip(got.iter().filter(|(s, _)| *s != 1)) {
        let rel = parsed.unwrap() - first;
        assert!((rel - *at as i64).abs() < 250, "{rel} vs {at}");
    }
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(feedback(&mut r, Instant::from_micros(t0 + 300_000)), None);

    // Packet 1 arrives late: the next feedback starts from it, reporting 2 and 3 again.
    r.on_packet(Instant::from_micros(t0 + 120_000), 1);
    r.on_packet(Instant::from_micros(t0 + 121_000), 4);
    let fb = feedback(&mut r, Instant::from_micros(t0 + 200_000)).unwrap();
    let (count, got) = parse_twcc(&fb);
    assert_eq!(count, 1);
    let seqs: Vec<(u16, bool)> = got.iter().map(|(s, a)| (*s, a.is_some())).collect();
    assert_eq!(seqs, [(1, true), (2, true), (3, true), (4, true)]);
    let rel = got[0].1.unwrap() - first;
    assert!((rel - 120_000).abs() < 250);
    assert_eq!(r.stats().feedbacks, 2);
}

#[test]
fn twcc_lost_after_feedback_reported_next() {
    let mut r = TwccReceiver::default();
    r.on_packet(ms(0), 10);
    assert!(feedback(&mut r, ms(100)).is_some());
    // 11 and 12 are lost, 13 arrives.
    r.on_packet(ms(150), 13);
    let (_, got) = parse_twcc(&feedback(&mut r, ms(200)).unwrap());
    let seqs: Vec<(u16, bool)> = got.iter().map(|(s, a)| (*s, a.is_some())).collect();
    assert_eq!(seqs, [(11, false), (12, false), (13, true)]);
}

#[test]
fn twcc_threshold_and_cap() {
    let mut r = TwccReceiver::default();
    for seq in 0u16..99 {
        r.on_packet(ms(10), seq);
    }
    // The first feedback is due an interval after the first packet.
    assert_eq!(r.poll_timeout(), Some(ms(110)));
    r.on_packet(ms(11), 99);
    // 100 pending: due at once.
    assert_eq!(r.poll_timeout(), Some(ms(11)));
    assert!(feedback(&mut r, ms(11)).is_some());
    // 450 at once: 400 in the first feedback, the rest due at once.
    for seq in 100u16..550 {
        r.on_packet(ms(20 + u64::from(seq) / 100), seq);
    }
    let (_, a) = parse_twcc(&feedback(&mut r, ms(30)).unwrap());
    assert_eq!(a.len(), 400);
    assert!(r.poll_timeout().unwrap() <= ms(30));
    let (_, b) = parse_twcc(&feedback(&mut r, ms(30)).unwrap());
    assert_eq!(b.len(), 50);
    assert_eq!(b[0].0, 500);
    assert_eq!(feedback(&mut r, ms(30)), None);
}

#[test]
fn twcc_large_deltas_fit() {
    // The worst case for size: every delta large (packets 70 ms apart need 2-byte
    // deltas and 2-bit status vectors). 400 still fit in 1100 bytes.
    let mut r = TwccReceiver::new(TwccReceiverConfig {
        max_pending: 2000,
        feedback_threshold: 10_000,
        interval: Duration::from_secs(1000),
        ..TwccReceiverConfig::default()
    });
    for seq in 0u16..400 {
        r.on_packet(ms(70 * u64::from(seq)), seq);
    }
    let fb = feedback(&mut r, ms(1_000_000)).unwrap();
    assert!(fb.len() <= 1100, "{}", fb.len());
    let (_, got) = parse_twcc(&fb);
    assert_eq!(got.len(), 400);
    for (seq, arrival) in got {
        assert_eq!(arrival, Some(70_000 * i64::from(seq)));
    }
}

#[test]
fn twcc_feedback_splits_when_buffer_small_or_delta_huge() {
    let mut r = TwccReceiver::default();
    r.on_packet(ms(0), 0);
    r.on_packet(ms(1), 1);
    // 20 s later: no 16-bit delta can say that.
    r.on_packet(ms(20_000), 2);
    let a = parse_twcc(&feedback(&mut r, ms(20_000)).unwrap()).1;
    assert_eq!(a.len(), 1, "halved until encodable: {a:?}");
    let b = parse_twcc(&feedback(&mut r, ms(20_000)).unwrap()).1;
    let c = parse_twcc(&feedback(&mut r, ms(20_000)).unwrap()).1;
    assert_eq!([b.len(), c.len()], [1, 1]);
    assert_eq!(feedback(&mut r, ms(20_000)), None);
    // A buffer too small for even one packet drops them.
    r.on_packet(ms(20_001), 3);
    let mut tiny = [0u8; 8];
    assert_eq!(r.poll_feedback(ms(30_000), 1, 2, &mut tiny), None);
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().dropped, 1);
}

#[test]
fn twcc_receiver_bounded() {
    let mut r = TwccReceiver::default();
    for i in 0u64..5000 {
        r.on_packet(ms(i / 10), i as u16);
    }
    let mut covered = 0;
    while let Some(fb) = feedback(&mut r, ms(1000)) {
        covered += parse_twcc(&fb).1.len();
    }
    assert_eq!(covered, 1000);
    assert_eq!(r.stats().dropped, 4000);
    // Duplicates and packets older than the window are ignored.
    r.on_packet(ms(1001), 4999);
    r.on_packet(ms(1001), 100);
    let s = r.stats();
    assert_eq!((s.duplicates, s.too_old), (1, 1));
}

#[test]
fn twcc_sender_stats_after_feedback() {
    let mut tx = TwccSender::default();
    let seqs: Vec<u16> = (0..10).map(|i| tx.next_seq(ms(i), 100)).collect();
    assert_eq!(seqs, (0u16..10).collect::<Vec<_>>());
    assert_eq!(tx.sent(4), Some((ms(4), 100)));
    // 3 and 7 lost, and 500 never sent.
    let list: Vec<(u16, Option<i64>)> = (0u16..10)
        .map(|s| (s, (s != 3 && s != 7).then_some(i64::from(s) * 1000)))
        .collect();
    let mut buf = [0u8; 200];
    let n = write_twcc(&mut buf, 1, 2, 0, &list).unwrap();
    let fb = one_twcc(&buf[..n]);
    tx.on_feedback(ms(100), &fb);
    let s = tx.stats();
    assert_eq!((s.packets_sent, s.bytes_sent), (10, 1000));
    assert_eq!(
        (s.packets_acked, s.bytes_acked, s.packets_lost),
        (8, 800, 2)
    );
    assert_eq!(s.delivered_bps, 6400);
    // 3 shows up in a later feedback: received wins; a repeat changes nothing.
    let n = write_twcc(&mut buf, 1, 2, 1, &[(3, Some(50_000)), (7, None)]).unwrap();
    let fb = one_twcc(&buf[..n]);
    tx.on_feedback(ms(200), &fb);
    tx.on_feedback(ms(300), &fb);
    let s = tx.stats();
    assert_eq!((s.packets_acked, s.packets_lost, s.feedbacks), (9, 1, 3));
    assert_eq!(s.delivered_bps, 7200);
    // Later, the rate window holds only the feedbacks of the last second (those at 200
    // and 300 ms: 100 bytes), and a number never sent is unknown.
    let n = write_twcc(&mut buf, 1, 2, 2, &[(500, Some(0))]).unwrap();
    let fb = one_twcc(&buf[..n]);
    tx.on_feedback(ms(1150), &fb);
    let s = tx.stats();
    assert_eq!(s.unknown, 1);
    assert_eq!(s.delivered_bps, 800);
}

/// Parses one transport-cc feedback, keeping the borrowed view.
fn one_twcc(buf: &[u8]) -> crate::rtp::wire::TwccFeedback<'_> {
    match RtcpPackets::new(buf).next().unwrap().unwrap() {
        RtcpPacket::TransportCc(fb) => fb,
        other => panic!("not transport-cc: {other:?}"),
    }
}

#[test]
fn twcc_end_to_end() {
    let mut tx = TwccSender::new(TwccSenderConfig {
        initial_seq: 65530,
        ..TwccSenderConfig::default()
    });
    let mut rx = TwccReceiver::default();
    for i in 0u64..20 {
        let seq = tx.next_seq(ms(i), 1000);
        // Every fifth packet is lost.
        if i % 5 != 4 {
            rx.on_packet(ms(i + 30), seq);
        }
    }
    let fb = feedback(&mut rx, ms(200)).unwrap();
    let fb = one_twcc(&fb);
    tx.on_feedback(ms(230), &fb);
    let s = tx.stats();
    // The feedback ends at the last received packet (18): 19 reported, 3 of them lost.
    assert_eq!((s.packets_acked, s.packets_lost, s.unknown), (16, 3, 0));
}
