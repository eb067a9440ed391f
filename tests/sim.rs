//! The simulated network itself: `cargo test --features sim --test sim`.
#![cfg(feature = "sim")]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use sansrtc::sim::{BurstLoss, Endpoint, Fate, LinkConfig, NatBehavior, NatConfig, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, Transmit};

#[derive(Debug, Clone, PartialEq)]
struct Got {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

/// Sends what its plan says when it says; records everything it receives.
#[derive(Default)]
struct Toy {
    plan: VecDeque<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    due: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    got: Vec<Got>,
}

impl Toy {
    fn send_at(&mut self, at: Instant, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        self.plan.push_back((at, from, to, data));
    }

    /// `n` datagrams of `size` bytes (first 4 bytes: sequence number), every `every`.
    fn stream(from: SocketAddr, to: SocketAddr, n: u32, every: Duration, size: usize) -> Toy {
        let mut t = Toy::default();
        for i in 0..n {
            let mut d = vec![0u8; size.max(4)];
            d[..4].copy_from_slice(&i.to_be_bytes());
            t.send_at(Instant::ZERO + every * i, from, to, d);
        }
        t
    }

    fn seqs(&self) -> Vec<u32> {
        self.got
            .iter()
            .map(|g| u32::from_be_bytes(g.data[..4].try_into().unwrap()))
            .collect()
    }
}

impl Endpoint for Toy {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.got.push(Got {
            at: now,
            from: rx.source,
            to: rx.destination,
            data: rx.contents.to_vec(),
        });
    }
    fn handle_timeout(&mut self, now: Instant) {
        while self.plan.front().is_some_and(|p| p.0 <= now) {
            let (_, f, t, d) = self.plan.pop_front().unwrap();
            self.due.push_back((f, t, d));
        }
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (source, destination, d) = self.due.pop_front()?;
        buf[..d.len()].copy_from_slice(&d);
        Some(Transmit {
            proto: Protocol::Udp,
            source,
            destination,
            size: d.len(),
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.plan.front().map(|p| p.0)
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const A: &str = "192.0.2.1:1000";
const B: &str = "192.0.2.2:2000";

/// A streams `n` datagrams to B over `link`; returns the sim and B's id.
fn stream(seed: u64, link: LinkConfig, n: u32, size: usize) -> (Sim<Toy>, NodeId) {
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    sim.add_endpoint(
        ip("192.0.2.1"),
        Toy::stream(sa(A), sa(B), n, Duration::from_millis(1), size),
    );
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.run_until(Instant::from_secs(3600));
    (sim, b)
}

#[test]
fn latency_is_exact_without_jitter() {
    let link = LinkConfig {
        latency: Duration::from_millis(37),
        ..LinkConfig::default()
    };
    let (sim, b) = stream(1, link, 100, 100);
    let got = &sim.endpoint(b).got;
    assert_eq!(got.len(), 100);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.at, Instant::from_millis(i as u64 + 37));
        assert_eq!(g.from, sa(A));
        assert_eq!(g.to, sa(B));
    }
    assert_eq!(sim.endpoint(b).seqs(), (0..100).collect::<Vec<_>>());
}

#[test]
fn jitter_stays_in_bounds() {
    let link = LinkConfig {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(10),
        ..LinkConfig::default()
    };
    let (sim, b) = stream(2, link, 2000, 100);
    let got = &sim.endpoint(b).got;
    assert_eq!(got.len(), 2000);
    let mut delays = Vec::new();
    for g in got {
        let seq = u32::from_be_bytes(g.data[..4].try_into().unwrap()) as u64;
        let d = g.at - Instant::from_millis(seq);
        assert!(
            d >= Duration::from_millis(20) && d <= Duration::from_millis(30),
            "{d:?}"
        );
        delays.push(d);
    }
    // The spread is used: some near each end.
    assert!(delays.iter().any(|d| *d < Duration::from_millis(22)));
    assert!(delays.iter().any(|d| *d > Duration::from_millis(28)));
}

#[test]
fn random_loss_rate_matches() {
    let link = LinkConfig {
        loss: 0.2,
        ..LinkConfig::default()
    };
    let (sim, b) = stream(3, link, 10_000, 100);
    let lost = 10_000 - sim.endpoint(b).got.len();
    // Binomial(10000, 0.2): sd = 40; allow 5 sd.
    assert!((1800..=2200).contains(&lost), "lost {lost}");
    assert_eq!(sim.stats().dropped_loss as usize, lost);
    assert_eq!(sim.stats().sent, 10_000);
}

#[test]
fn burst_loss_comes_in_runs() {
    let link = LinkConfig {
        burst: Some(BurstLoss {
            p_enter_bad: 0.01,
            p_leave_bad: 0.1,
            loss_in_bad: 1.0,
        }),
        ..LinkConfig::default()
    };
    let (sim, b) = stream(4, link, 20_000, 100);
    let seqs = sim.endpoint(b).seqs();
    let mut present = vec![false; 20_000];
    for s in seqs {
        present[s as usize] = true;
    }
    let mut runs = Vec::new();
    let mut cur = 0;
    for p in present {
        if !p {
            cur += 1;
        } else if cur > 0 {
            runs.push(cur);
            cur = 0;
        }
    }
    let lost: usize = runs.iter().sum();
    let mean = lost as f64 / runs.len() as f64;
    // Mean run length of a Gilbert chain with p_leave 0.1 is 10; random loss gives ~1.
    assert!(mean > 5.0, "mean run {mean}");
    assert!(sim.stats().dropped_burst > 0);
    // Stationary bad fraction: 0.01 / (0.01 + 0.1) ≈ 9 %.
    assert!((1000..=3000).contains(&lost), "lost {lost}");
}

#[test]
fn duplication_and_reordering_happen_at_their_rates() {
    let link = LinkConfig {
        duplicate: 0.1,
        reorder: 0.1,
        reorder_delay: Duration::from_millis(5),
        ..LinkConfig::default()
    };
    let (sim, b) = stream(5, link, 10_000, 100);
    let seqs = sim.endpoint(b).seqs();
    let dups = seqs.len() - 10_000;
    assert!((800..=1200).contains(&dups), "dups {dups}");
    let out_of_order = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(out_of_order > 500, "out of order {out_of_order}");
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 10_000, "nothing lost");
    assert_eq!(sim.stats().duplicated as usize, dups);
}

#[test]
fn mtu_drops_big_datagrams() {
    let link = LinkConfig {
        mtu: 600,
        ..LinkConfig::default()
    };
    let mut sim = Sim::new(6);
    sim.set_default_link(link);
    let mut t = Toy::default();
    t.send_at(Instant::ZERO, sa(A), sa(B), vec![1; 600]);
    t.send_at(Instant::ZERO, sa(A), sa(B), vec![2; 601]);
    sim.add_endpoint(ip("192.0.2.1"), t);
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.run_until(Instant::from_secs(1));
    let got = &sim.endpoint(b).got;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data.len(), 600);
    assert_eq!(sim.stats().dropped_mtu, 1);
}

#[test]
fn offline_node_drops_both_ways_and_keeps_timers() {
    let mut sim = Sim::new(7);
    let a = sim.add_endpoint(
        ip("192.0.2.1"),
        Toy::stream(sa(A), sa(B), 10, Duration::from_secs(1), 8),
    );
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.set_node_online(b, false);
    sim.run_until(Instant::from_millis(4500));
    sim.set_node_online(b, true);
    sim.run_until(Instant::from_secs(20));
    assert_eq!(sim.endpoint(b).seqs(), vec![5, 6, 7, 8, 9]);
    assert_eq!(sim.stats().dropped_offline, 5);
    assert!(sim.endpoint(a).plan.is_empty());
}

#[test]
fn unknown_destination_and_forged_source_are_dropped() {
    let mut sim = Sim::new(8);
    let mut t = Toy::default();
    t.send_at(Instant::ZERO, sa(A), sa("198.51.100.9:1"), vec![1]);
    t.send_at(Instant::ZERO, sa("192.0.2.77:1"), sa(B), vec![2]);
    sim.add_endpoint(ip("192.0.2.1"), t);
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.run_until(Instant::from_secs(1));
    assert!(sim.endpoint(b).got.is_empty());
    assert_eq!(sim.stats().dropped_no_route, 1);
    assert_eq!(sim.stats().dropped_bad_source, 1);
}

/// Host H (10.0.0.1 behind a NAT at 203.0.113.1) sends to S1:p1, S1:p2 and S2:p1; each
/// server answers from its own address, and S1 also from another port. Returns the public
/// source ports the servers saw and what H received.
fn nat_probe(
    mapping: NatBehavior,
    filtering: NatBehavior,
) -> (Vec<(SocketAddr, SocketAddr)>, Vec<SocketAddr>) {
    let mut sim = Sim::new(9);
    let nat = sim.add_nat(
        ip("203.0.113.1"),
        NatConfig {
            mapping,
            filtering,
            ..NatConfig::default()
        },
    );
    let h_addr = sa("10.0.0.1:5000");
    let mut h = Toy::default();
    for dst in ["192.0.2.10:3478", "192.0.2.10:3479", "192.0.2.20:3478"] {
        h.send_at(Instant::ZERO, h_addr, sa(dst), vec![0]);
    }
    let h = sim.add_endpoint_behind(nat, ip("10.0.0.1"), h);
    let s1 = sim.add_endpoint(ip("192.0.2.10"), Toy::default());
    let s2 = sim.add_endpoint(ip("192.0.2.20"), Toy::default());
    let s3 = sim.add_endpoint(ip("192.0.2.30"), Toy::default());
    sim.run_until(Instant::from_secs(1));
    let mut seen = Vec::new();
    for s in [s1, s2] {
        for g in &sim.endpoint(s).got {
            seen.push((g.to, g.from));
        }
    }
    assert_eq!(
        sim.nat_mappings(nat),
        match mapping {
            NatBehavior::EndpointIndependent => 1,
            NatBehavior::AddressDependent => 2,
            NatBehavior::AddressAndPortDependent => 3,
        }
    );
    // Answers: S1 from the port H used, S1 from an unused port, S3 (never contacted).
    let mapped = seen[0].1;
    let now = sim.now();
    sim.endpoint_mut(s1)
        .send_at(now, sa("192.0.2.10:3478"), mapped, vec![1]);
    sim.endpoint_mut(s1)
        .send_at(now, sa("192.0.2.10:9999"), mapped, vec![2]);
    sim.endpoint_mut(s3)
        .send_at(now, sa("192.0.2.30:3478"), mapped, vec![3]);
    sim.run_until(Instant::from_secs(2));
    let got = sim
        .endpoint(h)
        .got
        .iter()
        .map(|g| {
            assert_eq!(g.to, h_addr, "translated back to the private address");
            g.from
        })
        .collect();
    (seen, got)
}

#[test]
fn nat_mapping_behaviours() {
    use NatBehavior::*;
    let port =
        |v: &[(SocketAddr, SocketAddr)], to: &str| v.iter().find(|(t, _)| *t == sa(to)).unwrap().1;
    let (ei, _) = nat_probe(EndpointIndependent, EndpointIndependent);
    assert_eq!(ei.len(), 3);
    assert!(ei.iter().all(|(_, from)| from.ip() == ip("203.0.113.1")));
    assert_eq!(port(&ei, "192.0.2.10:3478"), port(&ei, "192.0.2.10:3479"));
    assert_eq!(port(&ei, "192.0.2.10:3478"), port(&ei, "192.0.2.20:3478"));
    let (ad, _) = nat_probe(AddressDependent, EndpointIndependent);
    assert_eq!(port(&ad, "192.0.2.10:3478"), port(&ad, "192.0.2.10:3479"));
    assert_ne!(port(&ad, "192.0.2.10:3478"), port(&ad, "192.0.2.20:3478"));
    let (apd, _) = nat_probe(AddressAndPortDependent, EndpointIndependent);
    assert_ne!(port(&apd, "192.0.2.10:3478"), port(&apd, "192.0.2.10:3479"));
    assert_ne!(port(&apd, "192.0.2.10:3478"), port(&apd, "192.0.2.20:3478"));
}

#[test]
fn nat_filtering_behaviours() {
    use NatBehavior::*;
    let (_, ei) = nat_probe(EndpointIndependent, EndpointIndependent);
    assert_eq!(
        ei.len(),
        3,
        "endpoint-independent filtering lets everyone in"
    );
    let (_, ad) = nat_probe(EndpointIndependent, AddressDependent);
    assert_eq!(
        ad,
        vec![sa("192.0.2.10:3478"), sa("192.0.2.10:9999")],
        "only IPs sent to"
    );
    let (_, apd) = nat_probe(EndpointIndependent, AddressAndPortDependent);
    assert_eq!(
        apd,
        vec![sa("192.0.2.10:3478")],
        "only exact addresses sent to"
    );
}

#[test]
fn nat_mapping_expires_when_idle() {
    let mut sim = Sim::new(10);
    let nat = sim.add_nat(
        ip("203.0.113.1"),
        NatConfig {
            mapping_timeout: Duration::from_secs(30),
            filtering: NatBehavior::EndpointIndependent,
            ..NatConfig::default()
        },
    );
    let mut h = Toy::default();
    h.send_at(Instant::ZERO, sa("10.0.0.1:5000"), sa(B), vec![0]);
    let h = sim.add_endpoint_behind(nat, ip("10.0.0.1"), h);
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.run_until(Instant::from_secs(1));
    let mapped = sim.endpoint(b).got[0].from;
    sim.endpoint_mut(b)
        .send_at(Instant::from_secs(29), sa(B), mapped, vec![1]);
    sim.endpoint_mut(b)
        .send_at(Instant::from_secs(31), sa(B), mapped, vec![2]);
    sim.run_until(Instant::from_secs(40));
    let got: Vec<u8> = sim.endpoint(h).got.iter().map(|g| g.data[0]).collect();
    assert_eq!(
        got,
        vec![1],
        "the mapping expired 30 s after the last outbound datagram"
    );
    assert_eq!(sim.stats().dropped_nat_filter, 1);
    assert_eq!(sim.nat_mappings(nat), 0);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let run = |seed| {
        let link = LinkConfig {
            loss: 0.1,
            jitter: Duration::from_millis(5),
            duplicate: 0.05,
            reorder: 0.05,
            ..LinkConfig::default()
        };
        let mut sim = Sim::new(seed);
        sim.enable_capture(100_000);
        sim.set_default_link(link);
        sim.add_endpoint(
            ip("192.0.2.1"),
            Toy::stream(sa(A), sa(B), 1000, Duration::from_millis(1), 20),
        );
        sim.add_endpoint(ip("192.0.2.2"), Toy::default());
        sim.run_until(Instant::from_secs(10));
        (sim.capture().to_vec(), sim.stats().clone())
    };
    let (c1, s1) = run(11);
    let (c2, s2) = run(11);
    let (c3, _) = run(12);
    assert_eq!(c1, c2);
    assert_eq!(s1, s2);
    assert_ne!(c1, c3);
    assert!(c1.iter().any(|e| e.fate == Fate::Dropped("loss")));
}

#[test]
fn virtual_clock_jumps_to_deadlines() {
    // A datagram every second for an hour: 3600 deliveries, instantly.
    let (sim, b) = stream(13, LinkConfig::default(), 1, 8);
    assert_eq!(sim.endpoint(b).got.len(), 1);
    let mut sim = Sim::new(13);
    sim.add_endpoint(
        ip("192.0.2.1"),
        Toy::stream(sa(A), sa(B), 3600, Duration::from_secs(1), 8),
    );
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    sim.run_until(Instant::from_secs(3600));
    assert_eq!(sim.endpoint(b).got.len(), 3600);
    assert_eq!(sim.now(), Instant::from_secs(3600));
}

#[test]
fn run_until_pred_stops_when_it_holds() {
    let mut sim = Sim::new(14);
    sim.add_endpoint(
        ip("192.0.2.1"),
        Toy::stream(sa(A), sa(B), 100, Duration::from_millis(100), 8),
    );
    let b = sim.add_endpoint(ip("192.0.2.2"), Toy::default());
    let ok = sim.run_until_pred(Instant::from_secs(100), |s| s.endpoint(b).got.len() == 5);
    assert!(ok);
    assert_eq!(sim.now(), Instant::from_millis(410));
    assert!(!sim.run_until_pred(Instant::from_secs(2), |s| s.endpoint(b).got.len() == 1000));
    assert_eq!(sim.now(), Instant::from_secs(2));
}

#[test]
fn hairpinning_only_when_configured() {
    use NatBehavior::*;
    let run = |hairpinning: bool| {
        let mut sim = Sim::new(15);
        let nat = sim.add_nat(
            ip("203.0.113.1"),
            NatConfig {
                mapping: EndpointIndependent,
                filtering: EndpointIndependent,
                hairpinning,
                ..NatConfig::default()
            },
        );
        let mut h2 = Toy::default();
        h2.send_at(
            Instant::ZERO,
            sa("10.0.0.2:5000"),
            sa("192.0.2.10:3478"),
            vec![0],
        );
        let h1 = sim.add_endpoint_behind(nat, ip("10.0.0.1"), Toy::default());
        let h2 = sim.add_endpoint_behind(nat, ip("10.0.0.2"), h2);
        let s = sim.add_endpoint(ip("192.0.2.10"), Toy::default());
        sim.run_until(Instant::from_secs(1));
        let public = sim.endpoint(s).got[0].from;
        assert_eq!(public.ip(), ip("203.0.113.1"));
        let now = sim.now();
        sim.endpoint_mut(h1)
            .send_at(now, sa("10.0.0.1:6000"), public, vec![1]);
        sim.run_until(Instant::from_secs(2));
        sim.endpoint(h2).got.clone()
    };
    let got = run(true);
    assert_eq!(got.len(), 1, "hairpinned to the host behind the same NAT");
    assert_eq!(got[0].to, sa("10.0.0.2:5000"));
    assert_eq!(got[0].from.ip(), ip("203.0.113.1"), "source translated too");
    assert!(run(false).is_empty(), "no hairpinning: dropped");
}
