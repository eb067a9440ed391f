//! DTLS through the simulated network: `cargo test --features sim --test dtls`.
#![cfg(feature = "sim")]

use std::net::SocketAddr;
use std::sync::OnceLock;

use sansrtc::dtls::{
    CloseReason, Dtls, DtlsCertificate, DtlsConfig, DtlsError, DtlsEvent, DtlsRole,
};
use sansrtc::sim::{Endpoint, LinkConfig, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource, Transmit};

/// A DTLS endpoint on a fixed address, talking to one peer, keeping its events.
struct Node {
    dtls: Dtls,
    me: SocketAddr,
    peer: SocketAddr,
    events: Vec<(Instant, DtlsEvent)>,
}

impl Node {
    fn collect(&mut self, now: Instant) {
        while let Some(e) = self.dtls.poll_event() {
            self.events.push((now, e));
        }
    }

    fn connected_at(&self) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, DtlsEvent::Connected(_)))
            .map(|(t, _)| *t)
    }

    fn data(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                DtlsEvent::ApplicationData(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn closed(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|(_, e)| match e {
            DtlsEvent::Closed(r) => Some(r),
            _ => None,
        })
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.dtls.handle_receive(now, rx.contents);
        self.collect(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.dtls.handle_timeout(now);
        self.collect(now);
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let size = self.dtls.poll_datagram(buf)?;
        Some(Transmit {
            proto: Protocol::Udp,
            source: self.me,
            destination: self.peer,
            size,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.dtls.poll_timeout()
    }
}

fn certs() -> &'static (DtlsCertificate, DtlsCertificate, DtlsCertificate) {
    static C: OnceLock<(DtlsCertificate, DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    C.get_or_init(|| {
        (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        )
    })
}

const A: &str = "192.0.2.1:5000";
const B: &str = "192.0.2.2:6000";

/// A client at A and a server at B; `wrong_fp` makes the client expect another
/// certificate than the server's.
fn setup(
    seed: u64,
    link: LinkConfig,
    config: DtlsConfig,
    wrong_fp: bool,
) -> (Sim<Node>, NodeId, NodeId) {
    let (ca, cb, other) = certs();
    let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let mut client = Dtls::new(
        DtlsConfig {
            rng: RngSource::Seeded(seed),
            ..config.clone()
        },
        ca.clone(),
        DtlsRole::Client,
    )
    .unwrap();
    let mut server = Dtls::new(
        DtlsConfig {
            rng: RngSource::Seeded(seed + 1000),
            ..config
        },
        cb.clone(),
        DtlsRole::Server,
    )
    .unwrap();
    let expected = if wrong_fp { other } else { cb };
    client.set_remote_fingerprints(vec![expected.fingerprint().clone()]);
    server.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
    client.start(Instant::ZERO);
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    sim.enable_capture(100_000);
    let na = sim.add_endpoint(
        a.ip(),
        Node {
            dtls: client,
            me: a,
            peer: b,
            events: Vec::new(),
        },
    );
    let nb = sim.add_endpoint(
        b.ip(),
        Node {
            dtls: server,
            me: b,
            peer: a,
            events: Vec::new(),
        },
    );
    (sim, na, nb)
}

fn both_connected(sim: &Sim<Node>, a: NodeId, b: NodeId) -> bool {
    sim.endpoint(a).dtls.is_connected() && sim.endpoint(b).dtls.is_connected()
}

/// After connecting, application data crosses both ways.
fn exchange(sim: &mut Sim<Node>, a: NodeId, b: NodeId) {
    sim.endpoint_mut(a).dtls.send(b"from the client").unwrap();
    sim.endpoint_mut(b).dtls.send(b"from the server").unwrap();
    let t = sim.now() + Duration::from_secs(1);
    sim.run_until(t);
    assert_eq!(sim.endpoint(b).data(), vec![b"from the client".to_vec()]);
    assert_eq!(sim.endpoint(a).data(), vec![b"from the server".to_vec()]);
}

#[test]
fn handshake_fragments_to_a_600_byte_mtu() {
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        mtu: 600,
        ..LinkConfig::default()
    };
    let config = DtlsConfig {
        mtu: 600,
        ..DtlsConfig::default()
    };
    let (mut sim, a, b) = setup(1, link, config, false);
    assert!(sim.run_until_pred(Instant::from_secs(10), |s| both_connected(s, a, b)));
    assert_eq!(sim.stats().dropped_mtu, 0, "nothing above the MTU was sent");
    let cap = sim.capture();
    assert!(cap.iter().all(|e| e.len <= 600));
    // The server's flight (hello, certificate, key exchange, request) needed more than
    // one datagram, and nothing had to be retransmitted.
    let from_server = cap.iter().filter(|e| e.source.to_string() == B).count();
    assert!(from_server >= 3, "server sent {from_server} datagrams");
    assert_eq!(sim.endpoint(a).dtls.stats().retransmits, 0);
    assert_eq!(sim.endpoint(b).dtls.stats().retransmits, 0);
    // 2 round trips after the cookie one: about 3 RTTs of 20 ms.
    assert!(sim.endpoint(a).connected_at().unwrap() <= Instant::from_millis(80));
    exchange(&mut sim, a, b);
}

#[test]
fn handshake_survives_30_percent_loss_reordering_and_duplication() {
    let link = LinkConfig {
        latency: Duration::from_millis(25),
        jitter: Duration::from_millis(10),
        loss: 0.3,
        reorder: 0.2,
        reorder_delay: Duration::from_millis(40),
        duplicate: 0.2,
        mtu: 600,
        ..LinkConfig::default()
    };
    let config = DtlsConfig {
        mtu: 600,
        initial_retransmit: Duration::from_millis(300),
        max_retransmit: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(60),
        ..DtlsConfig::default()
    };
    let mut times = Vec::new();
    let mut impaired = [0u64; 3];
    for seed in 1..=40 {
        let (mut sim, a, b) = setup(seed, link, config.clone(), false);
        let ok = sim.run_until_pred(Instant::from_secs(60), |s| both_connected(s, a, b));
        assert!(
            ok,
            "seed {seed}: client {:?} / server {:?}",
            sim.endpoint(a).closed(),
            sim.endpoint(b).closed()
        );
        let st = sim.stats();
        impaired[0] += st.dropped_loss;
        impaired[1] += st.reordered;
        impaired[2] += st.duplicated;
        // The keys agree, whatever the network did.
        assert_eq!(
            sim.endpoint(a).dtls.srtp_keying_material(),
            sim.endpoint(b).dtls.srtp_keying_material()
        );
        times.push(sim.now().as_micros() / 1000);
    }
    assert!(
        impaired.iter().all(|n| *n > 20),
        "the network really was impaired: lost/reordered/duplicated {impaired:?}"
    );
    times.sort_unstable();
    eprintln!(
        "connect times (ms), 40 seeds: median {} max {}",
        times[20], times[39]
    );
}

#[test]
fn fingerprint_mismatch_fails_on_both_sides_with_no_data() {
    let link = LinkConfig {
        latency: Duration::from_millis(10),
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = setup(7, link, DtlsConfig::default(), true);
    sim.endpoint_mut(a).dtls.send(b"must never arrive").unwrap();
    sim.run_until(Instant::from_secs(40));
    let (ca, cb) = (sim.endpoint(a), sim.endpoint(b));
    assert!(ca.connected_at().is_none() && cb.connected_at().is_none());
    assert!(ca.data().is_empty() && cb.data().is_empty());
    assert!(matches!(
        ca.closed(),
        Some(CloseReason::Failed(DtlsError::HandshakeFailed { .. }))
    ));
    assert!(
        matches!(
            cb.closed(),
            Some(CloseReason::Failed(DtlsError::AlertReceived(_)))
        ),
        "server: {:?}",
        cb.closed()
    );
    assert_eq!(sim.endpoint(a).dtls.poll_timeout(), None);
    assert_eq!(sim.endpoint(b).dtls.poll_timeout(), None);
}
