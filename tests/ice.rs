//! ICE scenarios through the simulated network: `cargo test --features sim --test ice`.
#![cfg(feature = "sim")]

mod common;

use common::{Node, addr, config, signalled};
use proptest::prelude::*;
use sansrtc::ice::{
    Candidate, CandidateKind, Credentials, IceConnectionState as S, IceEvent, SelectedPair,
};
use sansrtc::sim::{LinkConfig, NatBehavior, NatConfig, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol};

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

/// Exchanges credentials and candidates between two agents (instant signalling).
fn signal(sim: &mut Sim<Node>, a: NodeId, b: NodeId) {
    let (ca, cb) = (
        sim.endpoint(a).ice().local_credentials().clone(),
        sim.endpoint(b).ice().local_credentials().clone(),
    );
    let (la, lb) = (
        signalled(sim.endpoint(a).ice()),
        signalled(sim.endpoint(b).ice()),
    );
    let ea = sim.endpoint_mut(a).ice_mut();
    ea.set_remote_credentials(cb).unwrap();
    for c in lb {
        ea.add_remote_candidate(c).unwrap();
    }
    ea.end_of_remote_candidates();
    let eb = sim.endpoint_mut(b).ice_mut();
    eb.set_remote_credentials(ca).unwrap();
    for c in la {
        eb.add_remote_candidate(c).unwrap();
    }
    eb.end_of_remote_candidates();
}

fn selected(sim: &Sim<Node>, n: NodeId) -> Option<SelectedPair> {
    sim.endpoint(n).ice().selected_pair()
}

fn connected(s: S) -> bool {
    matches!(s, S::Connected | S::Completed)
}

/// Two public hosts A (controlling) and B.
fn two_hosts(seed: u64, link: LinkConfig) -> (Sim<Node>, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let a = sim.add_endpoint(
        ip("198.51.100.1"),
        Node::agent(config(true, seed), Instant::ZERO),
    );
    let b = sim.add_endpoint(
        ip("198.51.100.2"),
        Node::agent(config(false, seed + 1000), Instant::ZERO),
    );
    sim.endpoint_mut(a)
        .ice_mut()
        .add_local_candidate(Candidate::host(addr("198.51.100.1:4000"), Protocol::Udp))
        .unwrap();
    sim.endpoint_mut(b)
        .ice_mut()
        .add_local_candidate(Candidate::host(addr("198.51.100.2:5000"), Protocol::Udp))
        .unwrap();
    (sim, a, b)
}

/// Both sides select the same pair (mirror images of each other).
fn assert_same_pair(sim: &Sim<Node>, a: NodeId, b: NodeId) {
    let pa = selected(sim, a).expect("A selected a pair");
    let pb = selected(sim, b).expect("B selected a pair");
    assert_eq!(pa.local, pb.remote, "A's local is B's remote");
    assert_eq!(pa.remote, pb.local, "A's remote is B's local");
}

fn run_until_both_selected(sim: &mut Sim<Node>, a: NodeId, b: NodeId, limit: Instant) -> bool {
    sim.run_until_pred(limit, |s| {
        let (ea, eb) = (s.endpoint(a), s.endpoint(b));
        ea.ice().selected_pair().is_some()
            && eb.ice().selected_pair().is_some()
            && connected(ea.state())
            && connected(eb.state())
    })
}

#[test]
fn connects_without_loss() {
    let (mut sim, a, b) = two_hosts(1, LinkConfig::default());
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(5)
    ));
    assert!(sim.now() < Instant::from_secs(1), "took {:?}", sim.now());
    assert_same_pair(&sim, a, b);
    let pa = selected(&sim, a).unwrap();
    assert_eq!(pa.remote, addr("198.51.100.2:5000"));
    assert_eq!(
        (pa.local_kind, pa.remote_kind),
        (CandidateKind::Host, CandidateKind::Host)
    );
    // RTT is measured: two 10 ms hops.
    let rtt = sim
        .endpoint(a)
        .ice()
        .pair_stats()
        .find(|p| p.nominated)
        .unwrap()
        .rtt
        .unwrap();
    assert_eq!(rtt, Duration::from_millis(20));
    // Checking comes before connected; the controlling side completes.
    let t_check = sim.endpoint(a).reached(S::Checking).unwrap();
    let t_conn = sim
        .endpoint(a)
        .reached(S::Connected)
        .or(sim.endpoint(a).reached(S::Completed))
        .unwrap();
    assert!(t_check < t_conn);
    sim.run_until(sim.now() + Duration::from_secs(2));
    assert_eq!(sim.endpoint(a).state(), S::Completed);
}

#[test]
fn connects_with_20_percent_loss() {
    for seed in 0..20 {
        let link = LinkConfig {
            loss: 0.2,
            ..LinkConfig::default()
        };
        let (mut sim, a, b) = two_hosts(100 + seed, link);
        signal(&mut sim, a, b);
        assert!(
            run_until_both_selected(&mut sim, a, b, Instant::from_secs(30)),
            "seed {seed}: not connected by 30 s"
        );
        assert_same_pair(&sim, a, b);
        // And it stays up under the same loss for a minute of consent checks.
        sim.run_until(sim.now() + Duration::from_secs(60));
        assert!(
            connected(sim.endpoint(a).state()),
            "seed {seed}: A {:?}",
            sim.endpoint(a).state()
        );
        assert!(
            connected(sim.endpoint(b).state()),
            "seed {seed}: B {:?}",
            sim.endpoint(b).state()
        );
    }
}

/// A STUN server and two agents behind NATs. Returns (sim, a, b).
fn natted(seed: u64, nat_a: NatConfig, nat_b: NatConfig) -> (Sim<Node>, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    sim.add_endpoint(ip("192.0.2.100"), Node::StunServer(Vec::new()));
    let stun = addr("192.0.2.100:3478");
    let na = sim.add_nat(ip("203.0.113.1"), nat_a);
    let nb = sim.add_nat(ip("203.0.113.2"), nat_b);
    let mut ca = config(true, seed);
    ca.stun_servers = vec![stun];
    let mut cb = config(false, seed + 1);
    cb.stun_servers = vec![stun];
    let a = sim.add_endpoint_behind(na, ip("10.0.0.1"), Node::agent(ca, Instant::ZERO));
    let b = sim.add_endpoint_behind(nb, ip("10.1.0.1"), Node::agent(cb, Instant::ZERO));
    for (n, h) in [(a, "10.0.0.1:4000"), (b, "10.1.0.1:5000")] {
        let e = sim.endpoint_mut(n).ice_mut();
        e.add_local_candidate(Candidate::host(addr(h), Protocol::Udp))
            .unwrap();
        e.end_of_local_candidates();
    }
    // Gather server-reflexive candidates first, as a browser does before signalling.
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| {
        [a, b].iter().all(|&n| {
            s.endpoint(n)
                .events()
                .iter()
                .any(|(_, e)| *e == IceEvent::GatheringComplete)
        })
    }));
    (sim, a, b)
}

fn nat(mapping: NatBehavior, filtering: NatBehavior) -> NatConfig {
    NatConfig {
        mapping,
        filtering,
        ..NatConfig::default()
    }
}

/// A is behind an address-and-port-dependent NAT (mapping and filtering: "symmetric"). B's
/// NAT maps endpoint-independently and filters by address, so A's checks (from a mapping
/// B never saw) get in once B has sent to A's IP, and B learns A only as a peer-reflexive
/// candidate: A's server-reflexive address is useless behind its symmetric NAT.
///
/// With both NATs address-and-port-dependent in mapping *and* filtering no direct path
/// exists at all (that is what TURN is for); `symmetric_nats_both_fail` checks that both
/// agents then agree on failure.
#[test]
fn symmetric_nat_reached_through_peer_reflexive_candidate() {
    use NatBehavior::*;
    let (mut sim, a, b) = natted(
        7,
        nat(AddressAndPortDependent, AddressAndPortDependent),
        nat(EndpointIndependent, AddressDependent),
    );
    let srflx_a = signalled(sim.endpoint(a).ice())
        .into_iter()
        .find(|c| c.kind == CandidateKind::ServerReflexive)
        .expect("A learned a server-reflexive candidate");
    assert_eq!(srflx_a.addr.ip(), ip("203.0.113.1"));
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(30)
    ));
    let pb = selected(&sim, b).unwrap();
    // B reaches A only at a NAT mapping it learned from A's check.
    assert_eq!(pb.remote_kind, CandidateKind::PeerReflexive);
    assert_eq!(pb.remote.ip(), ip("203.0.113.1"));
    assert_ne!(pb.remote, srflx_a.addr);
    let pa = selected(&sim, a).unwrap();
    assert_eq!(pa.local, addr("10.0.0.1:4000"));
    assert_eq!(pa.remote.ip(), ip("203.0.113.2"));
    // A's own view: its mapped address toward B is peer-reflexive too.
    assert_eq!(pa.local_kind, CandidateKind::PeerReflexive);
}

/// Both NATs symmetric: no direct path; both agents must end `Failed`, never one
/// connected and the other failed.
#[test]
fn symmetric_nats_both_fail() {
    use NatBehavior::*;
    let (mut sim, a, b) = natted(
        8,
        nat(AddressAndPortDependent, AddressAndPortDependent),
        nat(AddressAndPortDependent, AddressAndPortDependent),
    );
    signal(&mut sim, a, b);
    sim.run_until(Instant::from_secs(60));
    assert_eq!(sim.endpoint(a).state(), S::Failed);
    assert_eq!(sim.endpoint(b).state(), S::Failed);
    assert!(sim.endpoint(a).reached(S::Connected).is_none());
    assert!(sim.endpoint(b).reached(S::Connected).is_none());
}

#[test]
fn port_restricted_cone_nats_connect_over_server_reflexive() {
    use NatBehavior::*;
    let (mut sim, a, b) = natted(
        9,
        nat(EndpointIndependent, AddressAndPortDependent),
        nat(EndpointIndependent, AddressAndPortDependent),
    );
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(30)
    ));
    let pa = selected(&sim, a).unwrap();
    assert_eq!(pa.remote_kind, CandidateKind::ServerReflexive);
    assert_eq!(pa.local_kind, CandidateKind::ServerReflexive);
}

#[test]
fn role_conflict_is_repaired() {
    let (mut sim, a, b) = two_hosts(3, LinkConfig::default());
    // Both think they are controlling (e.g. both sent offers).
    sim.endpoint_mut(b).ice_mut().set_controlling(true);
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(10)
    ));
    assert_same_pair(&sim, a, b);
    let ca = sim.endpoint(a).ice().is_controlling();
    let cb = sim.endpoint(b).ice().is_controlling();
    assert!(ca != cb, "exactly one stays controlling");
    let switched = [a, b]
        .iter()
        .filter(|&&n| {
            sim.endpoint(n)
                .events()
                .iter()
                .any(|(_, e)| matches!(e, IceEvent::RoleChanged { controlling: false }))
        })
        .count();
    assert_eq!(switched, 1);
}

#[test]
fn trickled_candidates_after_checks_began() {
    let (mut sim, a, b) = two_hosts(4, LinkConfig::default());
    // B has a second address only reachable one way: A first learns B's dead address.
    let ca = sim.endpoint(a).ice().local_credentials().clone();
    let cb = sim.endpoint(b).ice().local_credentials().clone();
    sim.endpoint_mut(a)
        .ice_mut()
        .set_remote_credentials(cb)
        .unwrap();
    sim.endpoint_mut(b)
        .ice_mut()
        .set_remote_credentials(ca)
        .unwrap();
    sim.endpoint_mut(a)
        .ice_mut()
        .add_remote_candidate(Candidate::host(addr("198.51.100.99:9"), Protocol::Udp))
        .unwrap();
    sim.run_until(Instant::from_secs(2));
    assert_eq!(sim.endpoint(a).state(), S::Checking);
    assert!(selected(&sim, a).is_none());
    // Now the real candidates trickle in, A's to B first, then B's to A.
    let la = signalled(sim.endpoint(a).ice());
    for c in la {
        sim.endpoint_mut(b)
            .ice_mut()
            .add_remote_candidate(c)
            .unwrap();
    }
    sim.run_until(Instant::from_secs(3));
    let lb = signalled(sim.endpoint(b).ice());
    for c in lb {
        sim.endpoint_mut(a)
            .ice_mut()
            .add_remote_candidate(c)
            .unwrap();
    }
    sim.endpoint_mut(a).ice_mut().end_of_remote_candidates();
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(10)
    ));
    assert_same_pair(&sim, a, b);
    assert_eq!(selected(&sim, a).unwrap().remote, addr("198.51.100.2:5000"));
}

#[test]
fn ice_restart_keeps_old_pair_until_new_one_is_selected() {
    let link = LinkConfig {
        latency: Duration::from_millis(150),
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = two_hosts(5, link);
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(10)
    ));
    let old = selected(&sim, a).unwrap();
    sim.run_until(sim.now() + Duration::from_secs(3));
    let t0 = sim.now();
    let old_a = sim.endpoint(a).ice().local_credentials().clone();
    sim.endpoint_mut(a).ice_mut().restart(t0, None);
    sim.endpoint_mut(b).ice_mut().restart(t0, None);
    let new_a = sim.endpoint(a).ice().local_credentials().clone();
    assert_ne!(old_a, new_a);
    // Mid-restart, before the new generation is signalled: the old pair still carries
    // data, and its consent (old credentials) keeps it connected for longer than the
    // disconnection timeout.
    assert_eq!(selected(&sim, a), Some(old));
    sim.run_until_pred(t0 + Duration::from_secs(12), |s| {
        assert_eq!(
            s.endpoint(a).ice().selected_pair(),
            Some(old),
            "at {:?}",
            s.now()
        );
        assert_eq!(
            s.endpoint(b).ice().selected_pair().map(|p| p.remote),
            Some(old.local)
        );
        false
    });
    for n in [a, b] {
        assert!(
            connected(sim.endpoint(n).state()),
            "{:?}",
            sim.endpoint(n).state()
        );
    }
    // Signal the new generation.
    signal(&mut sim, a, b);
    let t_signal = sim.now();
    let switched = |s: &Sim<Node>, n: NodeId| {
        s.endpoint(n)
            .events()
            .iter()
            .any(|(t, e)| *t >= t_signal && matches!(e, IceEvent::SelectedPairChanged(_)))
    };
    // Until the new generation selects, every observation sees the old pair, never none.
    sim.run_until_pred(t_signal + Duration::from_secs(20), |s| {
        if switched(s, a) {
            return true;
        }
        assert_eq!(
            s.endpoint(a).ice().selected_pair(),
            Some(old),
            "at {:?}",
            s.now()
        );
        false
    });
    assert!(switched(&sim, a), "A selected a pair in the new generation");
    let limit = sim.now() + Duration::from_secs(5);
    assert!(run_until_both_selected(&mut sim, a, b, limit));
    sim.run_until(sim.now() + Duration::from_secs(2));
    assert!(switched(&sim, b), "B selected a pair in the new generation");
    assert_same_pair(&sim, a, b);
    // The new pair was nominated with the new credentials: A's checks now name them.
    assert!(
        sim.endpoint(a)
            .ice()
            .pair_stats()
            .any(|p| p.nominated && p.responses_received > 0)
    );
    // Never disconnected or failed during the restart; and it stays up afterwards.
    sim.run_until(sim.now() + Duration::from_secs(40));
    for n in [a, b] {
        let e = sim.endpoint(n);
        assert!(e.reached(S::Failed).is_none());
        assert!(e.reached(S::Disconnected).is_none());
        assert!(connected(e.state()));
    }
}

#[test]
fn consent_lost_when_peer_vanishes() {
    let (mut sim, a, b) = two_hosts(6, LinkConfig::default());
    signal(&mut sim, a, b);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        b,
        Instant::from_secs(5)
    ));
    let vanished = sim.now();
    assert!(vanished < Instant::from_secs(1));
    sim.set_node_online(b, false);
    sim.run_until(Instant::from_secs(60));
    let failed = sim.endpoint(a).reached(S::Failed).expect("A failed");
    assert!(
        failed >= Instant::from_secs(30) && failed <= Instant::from_secs(40),
        "failed at {failed:?}"
    );
    // Disconnected came first.
    let disc = sim
        .endpoint(a)
        .reached(S::Disconnected)
        .expect("disconnected first");
    assert!(disc < failed);
    // RFC 7675: nothing more is sent once consent is lost.
    assert!(sim.endpoint(a).ice().poll_timeout().is_none());
}

#[test]
fn wrong_password_never_yields_a_valid_pair() {
    let (mut sim, a, b) = two_hosts(7, LinkConfig::default());
    signal(&mut sim, a, b);
    let ufrag = sim.endpoint(b).ice().local_credentials().ufrag.clone();
    sim.endpoint_mut(a)
        .ice_mut()
        .set_remote_credentials(Credentials {
            ufrag,
            pwd: "thisisnotthepasswordatall".into(),
        })
        .unwrap();
    sim.run_until(Instant::from_secs(60));
    let ea = sim.endpoint(a).ice();
    assert!(
        ea.pair_stats().all(|p| !p.valid),
        "{:?}",
        ea.pair_stats().collect::<Vec<_>>()
    );
    assert!(ea.selected_pair().is_none());
    assert!(sim.endpoint(b).ice().selected_pair().is_none());
    assert!(sim.endpoint(b).ice().stats().auth_failures > 0);
    assert_eq!(sim.endpoint(a).state(), S::Failed);
}

#[test]
fn lite_agent_connects_with_full_agent() {
    let (mut sim, a, _) = two_hosts(8, LinkConfig::default());
    let mut cfg = config(false, 99);
    cfg.lite = true;
    let l = sim.add_endpoint(ip("198.51.100.3"), Node::agent(cfg, Instant::ZERO));
    sim.endpoint_mut(l)
        .ice_mut()
        .add_local_candidate(Candidate::host(addr("198.51.100.3:6000"), Protocol::Udp))
        .unwrap();
    signal(&mut sim, a, l);
    assert!(run_until_both_selected(
        &mut sim,
        a,
        l,
        Instant::from_secs(5)
    ));
    assert_same_pair(&sim, a, l);
    sim.run_until(sim.now() + Duration::from_secs(60));
    assert!(connected(sim.endpoint(a).state()));
    assert!(connected(sim.endpoint(l).state()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// For any seed, latency up to 300 ms and loss up to 30 %: both agents select the same
    /// pair within 30 s, or (only when loss made it impossible) both fail — never one
    /// connected and the other failed for good.
    #[test]
    fn agents_agree(seed in any::<u64>(), latency_ms in 0u64..=300, loss in 0.0f64..=0.3) {
        let link = LinkConfig {
            latency: Duration::from_millis(latency_ms),
            loss,
            ..LinkConfig::default()
        };
        let seed = seed % (u64::MAX / 2);
        let (mut sim, a, b) = two_hosts(seed, link);
        signal(&mut sim, a, b);
        let ok = run_until_both_selected(&mut sim, a, b, Instant::from_secs(30));
        if ok {
            let pa = selected(&sim, a).unwrap();
            let pb = selected(&sim, b).unwrap();
            prop_assert_eq!(pa.local, pb.remote);
            prop_assert_eq!(pa.remote, pb.local);
        } else {
            // Give consent time to expire on a side that did connect.
            sim.run_until(Instant::from_secs(100));
            let (sa, sb) = (sim.endpoint(a).state(), sim.endpoint(b).state());
            prop_assert!(sa == S::Failed && sb == S::Failed, "A {:?} B {:?}", sa, sb);
        }
    }
}
