//! Network faults during a call, through the simulated network:
//! `cargo test --features sim --test faults`.
//!
//! Both ends stream numbered, checksummed messages on a reliable ordered channel (one
//! every 10 ms each way) while the fault happens; "no data lost" means every message
//! arrives once, in order and intact.
#![cfg(feature = "sim")]

mod robust;

use robust::*;
use sansrtc::Duration;
use sansrtc::ice::IceConnectionState;
use sansrtc::net::DatagramKind;
use sansrtc::rtc::{RtcCloseReason, RtcState};

/// The peer's NAT forgets its mappings mid-call (a NAT reboot, a handover): the peer's
/// address changes. The victim's consent checks to the old address go unanswered
/// (disconnected); the peer's next consent check arrives from the new address, is
/// checked back, and becomes the selected pair; no message is lost. Both ICE roles.
#[test]
fn nat_rebinding_mid_call() {
    for a_offers in [true, false] {
        let mut w = world(Options {
            seed: 31,
            b_behind_nat: true,
            a_offers,
            ..Options::default()
        });
        w.connect(Duration::from_secs(10));
        w.stream_both(3000, Duration::from_millis(10));
        w.run_for(Duration::from_secs(5));
        let old = w.a().rtc.ice().selected_pair().unwrap().remote;
        let changes = w.a().selected_changes;
        let nat = w.nat.unwrap();
        let t0 = w.sim.now();
        w.sim.rebind_nat(nat);
        let a_id = w.a;
        let moved = w.sim.run_until_pred(t0 + Duration::from_secs(30), |s| {
            s.endpoint(a_id)
                .rtc
                .ice()
                .selected_pair()
                .is_some_and(|p| p.remote != old)
        });
        let new = w.a().rtc.ice().selected_pair().unwrap().remote;
        eprintln!(
            "a_offers {a_offers}: B moved from {old} to {new}; A followed after {:?}; \
             A ICE states {:?}",
            w.sim.now() - t0,
            w.a().ice_states
        );
        assert!(moved, "A never followed B to its new address");
        assert_eq!(new.ip(), old.ip());
        assert_ne!(new.port(), old.port());
        assert!(w.a().selected_changes > changes);
        w.assert_all_delivered(Duration::from_secs(60));
        assert_eq!(w.a().closed, None);
        assert_eq!(w.b().closed, None);
        assert_eq!(w.a().rtc.state(), RtcState::Connected);
        assert!(w.a().recv.count >= 3000 && w.b().recv.count >= 3000);
        w.assert_data_flows(100);
    }
}

/// The link goes down for 10 s and comes back: ICE goes disconnected (no consent
/// responses for 8 s) and connected again; the reliable channel loses nothing.
#[test]
fn link_down_ten_seconds_then_back() {
    let mut w = world(Options {
        seed: 37,
        media: true,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.stream_both(4000, Duration::from_millis(10));
    w.run_for(Duration::from_secs(5));
    let t0 = w.sim.now();
    let b = w.b;
    w.sim.set_node_online(b, false);
    w.run_for(Duration::from_secs(10));
    let down_states: Vec<_> = w
        .a()
        .states
        .iter()
        .filter(|(t, _)| *t >= t0)
        .copied()
        .collect();
    w.sim.set_node_online(b, true);
    let a_id = w.a;
    let back = w.sim.run_until_pred(t0 + Duration::from_secs(30), |s| {
        let ok = |n: &Node| {
            n.rtc.state() == RtcState::Connected
                && n.ice_states
                    .last()
                    .is_some_and(|(t, s)| *t >= t0 && *s != IceConnectionState::Disconnected)
        };
        ok(s.endpoint(a_id)) && ok(s.endpoint(b))
    });
    eprintln!(
        "A states during the outage {down_states:?}; back at {:?}; ICE {:?}",
        w.sim.now() - t0,
        w.a()
            .ice_states
            .iter()
            .filter(|(t, _)| *t >= t0)
            .collect::<Vec<_>>()
    );
    assert!(back, "A and B never both reconnected");
    assert!(
        down_states
            .iter()
            .any(|(_, s)| *s == RtcState::Disconnected),
        "A saw the outage: {down_states:?}"
    );
    for n in [w.a(), w.b()] {
        let disc = n
            .ice_states
            .iter()
            .position(|(t, s)| *t >= t0 && *s == IceConnectionState::Disconnected);
        let again = disc.and_then(|i| {
            n.ice_states.iter().skip(i).position(|(_, s)| {
                matches!(
                    s,
                    IceConnectionState::Connected | IceConnectionState::Completed
                )
            })
        });
        assert!(
            disc.is_some() && again.is_some(),
            "{}: disconnected then connected: {:?}",
            n.name,
            n.ice_states
        );
    }
    w.assert_all_delivered(Duration::from_secs(60));
    assert_eq!(w.a().recv.count, 4000);
    assert_eq!(w.b().recv.count, 4000);
    assert_eq!(w.a().closed, None);
    assert_eq!(w.b().closed, None);
}

/// The link goes down for good: ICE fails within the consent timeout (RFC 7675 §5.1:
/// 30 s after the last consent response), the connection closes with `IceFailed`, and
/// from then on nothing at all is sent to the peer: no RTP, no RTCP, no DTLS, no STUN.
#[test]
fn link_never_comes_back() {
    let mut w = world(Options {
        seed: 41,
        media: true,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.stream_both(u64::MAX, Duration::from_millis(10));
    w.run_for(Duration::from_secs(5));
    w.a_mut().log = true;
    let t0 = w.sim.now();
    let b = w.b;
    w.sim.set_node_online(b, false);
    let a_id = w.a;
    let failed = w.sim.run_until_pred(t0 + Duration::from_secs(60), |s| {
        s.endpoint(a_id).closed.is_some()
    });
    assert!(failed, "A never gave up");
    let failed_at = w.sim.now();
    w.run_for(Duration::from_secs(30));
    let a = w.a_mut();
    assert_eq!(a.closed, Some(RtcCloseReason::IceFailed));
    let after = failed_at - t0;
    let rtp_before = a
        .sent
        .iter()
        .filter(|s| s.kind == DatagramKind::Rtp && s.at < failed_at)
        .count();
    let late: Vec<_> = a.sent.iter().filter(|s| s.at >= failed_at).collect();
    eprintln!(
        "failed {after:?} after the link went down; {rtp_before} SRTP datagrams sent \
         while consent lasted; {} after",
        late.len()
    );
    // Consent is lost 30 s after the last response, which came at most one consent
    // interval (5 s ± 20 %) before the link went down.
    assert!(
        after <= Duration::from_secs(30) && after >= Duration::from_secs(23),
        "failed after {after:?}"
    );
    assert!(rtp_before > 0);
    assert!(late.is_empty(), "sent after consent was lost: {late:?}");
    assert_eq!(
        a.rtc.poll_timeout(),
        None,
        "a closed connection has no timers"
    );
}

/// One end restarts ICE with a new offer (new credentials): the other answers, both
/// check the new generation while the old pair carries the data, and the connection
/// never drops; nothing is lost. Each end restarts once.
#[test]
fn ice_restart_by_new_offer() {
    let mut w = world(Options {
        seed: 43,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.stream_both(3000, Duration::from_millis(10));
    w.run_for(Duration::from_secs(3));
    for restarter in [w.b, w.a] {
        let other = if restarter == w.a { w.b } else { w.a };
        let t0 = w.sim.now();
        let old_ufrag = w.sim.endpoint(restarter).rtc.local_ufrag().to_string();
        let offer = {
            let r = &mut w.sim.endpoint_mut(restarter).rtc;
            r.restart_ice(t0).unwrap();
            r.create_offer(t0).unwrap()
        };
        let answer = w
            .sim
            .endpoint_mut(other)
            .rtc
            .accept_offer(t0, &offer)
            .unwrap();
        w.sim
            .endpoint_mut(restarter)
            .rtc
            .accept_answer(t0, &answer)
            .unwrap();
        let new_ufrag = w.sim.endpoint(restarter).rtc.local_ufrag().to_string();
        assert_ne!(old_ufrag, new_ufrag);
        assert!(offer.contains(&format!("a=ice-ufrag:{new_ufrag}")));
        let changes = w.sim.endpoint(restarter).selected_changes;
        let r = restarter;
        let ok = w.sim.run_until_pred(t0 + Duration::from_secs(20), |s| {
            s.endpoint(r).selected_changes > changes
        });
        assert!(ok, "the new generation selected a pair");
        w.run_for(Duration::from_secs(3));
        for n in [w.a(), w.b()] {
            let bad: Vec<_> = n
                .ice_states
                .iter()
                .filter(|(t, s)| {
                    *t >= t0
                        && matches!(
                            s,
                            IceConnectionState::Disconnected | IceConnectionState::Failed
                        )
                })
                .collect();
            assert!(bad.is_empty(), "{}: {bad:?}", n.name);
            assert_eq!(n.rtc.state(), RtcState::Connected, "{}", n.name);
        }
    }
    w.assert_all_delivered(Duration::from_secs(60));
    assert_eq!(w.a().recv.count, 3000);
    assert_eq!(w.b().recv.count, 3000);
}
