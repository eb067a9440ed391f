//! SendStream: history, NACK, RTX (RFC 4588), sender info and report blocks (RFC 3550
//! §6.4.1).

use super::*;

// ---------------------------------------------------------------------------------------
// SendStream
// ---------------------------------------------------------------------------------------

#[test]
fn resend_without_rtx_is_byte_identical() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    assert_eq!(s.rtx_ssrc(), None);
    assert_eq!(s.ssrc(), SSRC);
    let sent: Vec<Vec<u8>> = (10u16..20)
        .map(|seq| packet(seq, 3000 * u32::from(seq), &[seq as u8; 50]))
        .collect();
    for p in &sent {
        assert!(s.on_sent(ms(0), p));
    }
    s.on_nack(ms(5), [12, 15, 12]);
    assert_eq!(s.resend_pending(), 2);
    assert_eq!(resend(&mut s, ms(5)).as_ref(), Some(&sent[2]));
    assert_eq!(resend(&mut s, ms(5)).as_ref(), Some(&sent[5]));
    assert_eq!(resend(&mut s, ms(5)), None);
    let st = s.stats();
    assert_eq!((st.packets, st.bytes), (10, 500));
    assert_eq!((st.retransmitted_packets, st.retransmitted_bytes), (2, 100));
    assert_eq!((st.nacks, st.nacked, st.nack_ignored), (1, 3, 1));
    // Retransmissions on the media SSRC count in its sender report.
    let info = s.sender_info(ms(5), 0).unwrap();
    assert_eq!((info.packet_count, info.octet_count), (12, 600));
}

#[test]
fn resend_with_rtx() {
    let mut s = SendStream::new(rtx_config());
    assert_eq!(s.rtx_ssrc(), Some(RTX_SSRC));
    let csrcs = [7u32, 8];
    let exts: [(u8, &[u8]); 2] = [(1, &[1, 2, 3]), (3, &[9])];
    let original = packet_with(
        RtpHeaderRepr {
            marker: true,
            payload_type: 96,
            sequence_number: 1000,
            timestamp: 123_456,
            ssrc: SSRC,
            csrcs: &csrcs,
            extensions: &exts,
            padding: 4,
        },
        b"frame data",
    );
    s.on_sent(ms(0), &original);
    s.on_sent(ms(0), &packet(1001, 123_456, b"more"));
    // Payload type 98 has no RTX mapping: not retransmitted.
    s.on_sent(
        ms(0),
        &packet_with(
            RtpHeaderRepr {
                payload_type: 98,
                sequence_number: 1002,
                ssrc: SSRC,
                ..Default::default()
            },
            b"x",
        ),
    );
    s.on_nack(ms(10), [1000, 1002, 1001]);
    let a = resend(&mut s, ms(10)).unwrap();
    let b = resend(&mut s, ms(10)).unwrap();
    assert_eq!(resend(&mut s, ms(10)), None);

    let h = RtpHeader::parse(&a).unwrap();
    let o = RtpHeader::parse(&original).unwrap();
    assert_eq!(h.ssrc, RTX_SSRC);
    assert_eq!(h.payload_type, 97);
    assert!(h.marker);
    assert_eq!(h.timestamp, 123_456);
    assert_eq!(h.csrcs().collect::<Vec<_>>(), [7, 8]);
    assert_eq!(
        h.extension, o.extension,
        "the extension block is kept as sent"
    );
    assert_eq!(h.extension(1), Some(&[1u8, 2, 3][..]));
    assert_eq!(h.padding, 0, "the original padding is left out");
    // RFC 4588 §4: the OSN, then the original payload.
    assert_eq!(&h.payload[..2], &1000u16.to_be_bytes());
    assert_eq!(&h.payload[2..], b"frame data");

    let h2 = RtpHeader::parse(&b).unwrap();
    assert_eq!(h2.ssrc, RTX_SSRC);
    assert_eq!(h2.sequence_number, h.sequence_number.wrapping_add(1));
    assert_eq!(h2.payload, [&1001u16.to_be_bytes()[..], b"more"].concat());
    assert!(!h2.marker);
    // RTX does not count in the media SSRC's sender report.
    let info = s.sender_info(ms(10), 0).unwrap();
    assert_eq!(info.packet_count, 3);
    assert_eq!(s.stats().retransmitted_packets, 2);
    // The next retransmission continues the RTX sequence.
    s.on_nack(ms(30), [1000]);
    let c = resend(&mut s, ms(30)).unwrap();
    assert_eq!(
        RtpHeader::parse(&c).unwrap().sequence_number,
        h.sequence_number.wrapping_add(2)
    );
}

#[test]
fn no_resend_outside_history() {
    let mut s = SendStream::new(SendConfig {
        history: 4,
        ..SendConfig::new(SSRC, 90_000)
    });
    for seq in 0u16..10 {
        s.on_sent(ms(0), &packet(seq, 0, &[1; 20]));
    }
    // 2 was overwritten by 6, 50 was never sent, 9 is still there.
    s.on_nack(ms(0), [2, 50, 9]);
    let p = resend(&mut s, ms(0)).unwrap();
    assert_eq!(RtpHeader::parse(&p).unwrap().sequence_number, 9);
    assert_eq!(resend(&mut s, ms(0)), None);
    assert_eq!(s.stats().nack_ignored, 2);

    // No history at all.
    let mut s = SendStream::new(SendConfig {
        history: 0,
        ..SendConfig::new(SSRC, 90_000)
    });
    s.on_sent(ms(0), &packet(1, 0, &[1; 20]));
    s.on_nack(ms(0), [1]);
    assert_eq!(resend(&mut s, ms(0)), None);

    // A packet for another SSRC, or not RTP, is refused.
    let mut s = SendStream::new(SendConfig::new(SSRC + 1, 90_000));
    assert!(!s.on_sent(ms(0), &packet(1, 0, &[1; 20])));
    assert!(!s.on_sent(ms(0), &[0x80, 0x60]));
    assert_eq!(s.sender_info(ms(0), 0), None);
}

#[test]
fn history_with_sequence_jumps() {
    let mut s = SendStream::new(SendConfig {
        history: 16,
        ..SendConfig::new(SSRC, 90_000)
    });
    // An SFU forwards with gaps and a wrap.
    for seq in [65530u16, 65533, 2, 9] {
        s.on_sent(ms(0), &packet(seq, 0, &seq.to_be_bytes()));
    }
    s.on_nack(ms(0), [65533, 0, 2]);
    let a = resend(&mut s, ms(0)).unwrap();
    let b = resend(&mut s, ms(0)).unwrap();
    assert_eq!(RtpHeader::parse(&a).unwrap().sequence_number, 65533);
    assert_eq!(RtpHeader::parse(&b).unwrap().sequence_number, 2);
    assert_eq!(resend(&mut s, ms(0)), None);
}

#[test]
fn resend_not_repeated_too_soon() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    s.on_sent(ms(0), &packet(5, 0, &[0; 10]));
    s.on_nack(ms(100), [5]);
    assert!(resend(&mut s, ms(100)).is_some());
    // Within 10 ms (no RTT yet): ignored.
    s.on_nack(ms(105), [5]);
    assert_eq!(resend(&mut s, ms(105)), None);
    s.on_nack(ms(110), [5]);
    assert!(resend(&mut s, ms(110)).is_some());
    // With an RTT of 100 ms, a NACK within 3/4 of it is stale.
    s.set_rtt(Duration::from_millis(100));
    s.on_nack(ms(184), [5]);
    assert_eq!(resend(&mut s, ms(184)), None);
    s.on_nack(ms(185), [5]);
    assert!(resend(&mut s, ms(185)).is_some());
    assert_eq!(s.stats().retransmitted_packets, 3);
}

#[test]
fn resend_into_too_small_buffer_drops_it() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    s.on_sent(ms(0), &packet(5, 0, &[0; 100]));
    s.on_sent(ms(0), &packet(6, 0, &[0; 10]));
    s.on_nack(ms(0), [5, 6]);
    let mut small = [0u8; 50];
    assert_eq!(s.poll_resend(ms(0), &mut small), None);
    // 5 was dropped; 6 fits.
    assert_eq!(s.poll_resend(ms(0), &mut small), Some(22));
    assert_eq!(s.poll_resend(ms(0), &mut small), None);
    // And 5 can be asked for again.
    s.on_nack(ms(1), [5]);
    assert!(resend(&mut s, ms(1)).is_some());
}

#[test]
fn sender_info_extrapolates_rtp_time() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    assert_eq!(s.sender_info(ms(0), 1), None);
    // 10 payload bytes plus 4 of padding: 10 octets (RFC 3550 §6.4.1).
    let padded = packet_with(
        RtpHeaderRepr {
            payload_type: 96,
            sequence_number: 1,
            timestamp: 1000,
            ssrc: SSRC,
            padding: 4,
            ..Default::default()
        },
        &[0; 10],
    );
    s.on_sent(ms(1000), &padded);
    let info = s.sender_info(ms(1500), 0xabcd).unwrap();
    // 0.5 s at 90 kHz: 45000 ticks later.
    assert_eq!(info.rtp_time, 46_000);
    assert_eq!(info.ntp_time, 0xabcd);
    assert_eq!((info.packet_count, info.octet_count), (1, 10));
    // The timestamp wraps modulo 2^32.
    s.on_sent(ms(2000), &packet(2, u32::MAX - 9, &[0; 5]));
    let info = s.sender_info(ms(3000), 0).unwrap();
    assert_eq!(info.rtp_time, 90_000 - 10);
    assert_eq!((info.packet_count, info.octet_count), (2, 15));
}

#[test]
fn rtt_from_report_block() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    // The example of RFC 3550 §6.4.1 (Figure 2): A = 0xb710:8000, LSR = 0xb705:2000,
    // DLSR = 0x0005:4000, so RTT = 0x0006:2000 = 6.125 s.
    let rb = ReportBlock {
        ssrc: SSRC,
        fraction_lost: 12,
        cumulative_lost: 34,
        extended_highest_seq: 0,
        jitter: 56,
        last_sr: 0xb705_2000,
        delay_since_last_sr: 0x0005_4000,
    };
    s.on_report_block(ms(7), 0xb710_8000, &rb);
    let st = s.stats();
    assert_eq!(st.rtt, Some(Duration::from_millis(6125)));
    assert_eq!(
        (
            st.remote_fraction_lost,
            st.remote_cumulative_lost,
            st.remote_jitter
        ),
        (12, 34, 56)
    );
    assert_eq!(st.last_report, Some(ms(7)));
    // No LSR, a negative result, another SSRC: the RTT stays.
    for (ssrc, lsr, now) in [
        (SSRC, 0, 0xb710_8000),
        (SSRC, 0xb705_2000, 0xb705_3000),
        (SSRC + 1, 0xb705_2000, 0xb710_8000 + 0x1_0000),
    ] {
        let rb = ReportBlock {
            ssrc,
            last_sr: lsr,
            ..rb
        };
        s.on_report_block(ms(8), now, &rb);
        assert_eq!(s.stats().rtt, Some(Duration::from_millis(6125)));
    }
}

#[test]
fn rtt_round_trip_through_both_streams() {
    // NTP as seconds.fraction; the host maps its clock to NTP.
    let ntp = |t: Instant| -> u64 {
        let us = t.as_micros() + 3_900_000_000 * 1_000_000;
        ((us / 1_000_000) << 32) | (((us % 1_000_000) << 32) / 1_000_000)
    };
    let mid32 = |n: u64| (n >> 16) as u32;
    let mut tx = SendStream::new(SendConfig::new(SSRC, 90_000));
    let mut rx = recv(None);
    let p = packet(1, 0, &[0; 10]);
    tx.on_sent(ms(1000), &p);
    rx.on_packet(ms(1040), 1, 0, 10);
    // SR sent at 1000 ms, received 40 ms later; RR sent 300 ms after that, received
    // 40 ms later (a 40 ms one-way delay each way, 80 ms RTT).
    let info = tx.sender_info(ms(1000), ntp(ms(1000))).unwrap();
    rx.on_sender_report(ms(1040), &info);
    let rb = rx.report_block(ms(1340)).unwrap();
    tx.on_report_block(ms(1380), mid32(ntp(ms(1380))), &rb);
    let rtt = tx.stats().rtt.unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(80)) < Duration::from_micros(100),
        "{rtt:?}"
    );
}

#[test]
fn pli_and_fir_counters() {
    let mut s = SendStream::new(SendConfig::new(SSRC, 90_000));
    s.on_pli();
    s.on_pli();
    s.on_fir();
    assert_eq!((s.stats().plis, s.stats().firs), (2, 1));
}
