//! Property tests: arbitrary input never panics and keeps the invariants.

use super::*;
use proptest::prelude::*;

proptest! {
    /// Whatever the order, gaps, jumps and duplicates: no panic, loss within what
    /// was expected, the NACK list within its bound, deadlines that make progress.
    #[test]
    fn recv_stream_never_panics(
        start in any::<u16>(),
        steps in proptest::collection::vec((-1500i32..4000, 0u64..50_000, any::<bool>()), 1..400),
    ) {
        let config = NackConfig { max_missing: 300, ..NackConfig::default() };
        let mut r = RecvStream::new(RecvConfig { ssrc: SSRC, clock_rate: 48_000, nack: Some(config) });
        let mut seq = start;
        let mut now = 0u64;
        let mut out = Vec::new();
        let mut accepted = std::collections::HashSet::new();
        for (step, dt, poll) in steps {
            seq = seq.wrapping_add(step as u16);
            now += dt;
            let got = r.on_packet(Instant::from_micros(now), seq, (now / 20) as u32, 100);
            if let Some(ext) = got {
                prop_assert_eq!(ext as u16, seq);
                // Never the same extended number twice, restarts included.
                prop_assert!(accepted.insert(ext), "{} twice", ext);
            }
            if poll {
                out.clear();
                r.poll_nack(Instant::from_micros(now), &mut out);
                prop_assert!(out.len() <= 300);
                if let Some(rb) = r.report_block(Instant::from_micros(now)) {
                    prop_assert!(i64::from(rb.cumulative_lost) <= r.stats().expected as i64);
                }
            }
            let s = r.stats();
            prop_assert!(s.cumulative_lost <= s.expected as i64);
            prop_assert!(s.cumulative_lost >= 0, "duplicates are filtered: {:?}", s);
            prop_assert!(s.missing <= 300);
            if let Some(t) = r.poll_timeout() {
                // Nothing is due before the last request plus the interval.
                prop_assert!(t.as_micros() <= now + 1_000_000);
            }
        }
    }

    /// Random arrivals into the TWCC receiver: every feedback parses, covers
    /// increasing sequence numbers, and the receiver's pending list stays bounded.
    #[test]
    fn twcc_receiver_feedback_always_parses(
        steps in proptest::collection::vec((-50i32..300, 0u64..30_000, 0usize..1500), 1..300),
    ) {
        let mut r = TwccReceiver::default();
        let mut seq = 0u16;
        let mut now = 0u64;
        let mut buf = vec![0u8; 1500];
        for (step, dt, len) in steps {
            seq = seq.wrapping_add(step as u16);
            now += dt;
            r.on_packet(Instant::from_micros(now), seq);
            let mut guard = 0;
            while let Some(n) = r.poll_feedback(Instant::from_micros(now), 1, 2, &mut buf[..len]) {
                prop_assert!(n <= len);
                let (_, got) = parse_twcc(&buf[..n]);
                prop_assert!(!got.is_empty() && got.len() <= 400);
                guard += 1;
                prop_assert!(guard <= 1100);
            }
        }
    }

    /// Random NACKs against a send stream: never panics, retransmissions are
    /// packets that were sent.
    #[test]
    fn send_stream_resends_only_sent_packets(
        sent in proptest::collection::vec(any::<u16>(), 1..100),
        lost in proptest::collection::vec(any::<u16>(), 0..50),
        rtx in any::<bool>(),
    ) {
        let config = if rtx { rtx_config() } else { SendConfig { history: 32, ..SendConfig::new(SSRC, 90_000) } };
        let mut s = SendStream::new(config);
        for (i, seq) in sent.iter().enumerate() {
            s.on_sent(ms(i as u64), &packet(*seq, 0, &seq.to_be_bytes()));
        }
        s.on_nack(ms(200), lost.iter().copied().chain(sent.iter().copied()));
        let mut buf = [0u8; 100];
        let mut n = 0;
        while let Some(len) = s.poll_resend(ms(200), &mut buf) {
            let h = RtpHeader::parse(&buf[..len]).unwrap();
            let orig = if rtx {
                prop_assert_eq!(h.ssrc, RTX_SSRC);
                u16::from_be_bytes([h.payload[0], h.payload[1]])
            } else {
                h.sequence_number
            };
            prop_assert!(sent.contains(&orig));
            n += 1;
            prop_assert!(n <= 1024);
        }
    }
}
