//! Unit tests of the peer connection.

use super::*;

#[test]
fn a_peer_connection_can_move_between_threads() {
    // DESIGN.md §1: one Rtc is one peer connection and is Send.
    fn assert_send<T: Send>() {}
    assert_send::<Rtc>();
    assert_send::<crate::dtls::Dtls>();
    assert_send::<crate::sctp::Association>();
    assert_send::<crate::datachannel::DataChannels>();
}

#[test]
fn route_by_ufrag_reads_the_username_of_a_check() {
    use crate::ice::stun;
    // A Binding request with USERNAME "local:remote" (RFC 8445 §7.2.2).
    let mut a = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(1),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    let mut b = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(2),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    let (aa, ba): (std::net::SocketAddr, std::net::SocketAddr) = (
        "127.0.0.1:1000".parse().unwrap(),
        "127.0.0.1:2000".parse().unwrap(),
    );
    a.add_local_candidate(Candidate::host(aa, crate::Protocol::Udp))
        .unwrap();
    b.add_local_candidate(Candidate::host(ba, crate::Protocol::Udp))
        .unwrap();
    let offer = a.create_offer(Instant::ZERO).unwrap();
    let answer = b.accept_offer(Instant::ZERO, &offer).unwrap();
    a.accept_answer(Instant::ZERO, &answer).unwrap();
    let mut buf = [0u8; 1500];
    let mut now = Instant::ZERO;
    // Run until A sends its first check.
    for _ in 0..100 {
        if let Some(t) = a.poll_transmit(now, &mut buf) {
            let d = &buf[..t.size];
            assert!(stun::peek_username(d).is_some());
            assert_eq!(
                route_by_ufrag(d),
                Some(b.local_ufrag()),
                "the check names B's ufrag first"
            );
            return;
        }
        now = a.poll_timeout().unwrap_or(now);
        a.handle_timeout(now);
    }
    panic!("no check sent");
}

#[test]
fn closed_connections_refuse_commands() {
    let mut a = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(3),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    a.close();
    assert!(matches!(
        a.poll_event(),
        Some(RtcEvent::StateChange(RtcState::Closed))
    ));
    assert_eq!(
        a.poll_event(),
        Some(RtcEvent::Closed {
            reason: RtcCloseReason::Local
        })
    );
    assert_eq!(a.poll_event(), None);
    assert_eq!(a.create_offer(Instant::ZERO), Err(RtcError::Closed));
    assert!(a.create_data_channel(ChannelConfig::default()).is_err());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn retransmissions_get_fresh_extension_values() {
    use crate::rtp::wire::{RtpHeader, RtpHeaderRepr};
    let exts: [(u8, &[u8]); 2] = [(3, &[0, 7]), (2, &[1, 2, 3])];
    let repr = RtpHeaderRepr {
        payload_type: 96,
        sequence_number: 9,
        ssrc: 5,
        extensions: &exts,
        ..Default::default()
    };
    let mut buf = [0u8; 100];
    let n = repr.write(&mut buf, b"payload").unwrap();
    let p = &mut buf[..n];
    super::rtcp_io::patch_extension(p, 3, &[0x12, 0x34]);
    super::rtcp_io::patch_extension(p, 2, &[9, 9, 9]);
    // Absent id or another length: untouched.
    super::rtcp_io::patch_extension(p, 4, &[1, 1]);
    super::rtcp_io::patch_extension(p, 3, &[1]);
    let h = RtpHeader::parse(p).unwrap();
    assert_eq!(h.extension(3), Some(&[0x12, 0x34][..]));
    assert_eq!(h.extension(2), Some(&[9, 9, 9][..]));
    assert_eq!(h.payload, b"payload");
}
