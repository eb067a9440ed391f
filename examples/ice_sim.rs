//! Two ICE agents connecting through a simulated network: one behind a symmetric NAT, the
//! other behind a restricted-cone NAT, with 10 % loss and 40 ms latency, a STUN server for
//! server-reflexive candidates, and a peer that vanishes at the end.
//!
//! Run: `cargo run --example ice_sim --features sim`

use std::net::{IpAddr, SocketAddr};

use sansrtc::ice::stun::{self, MessageClass};
use sansrtc::ice::{Candidate, CandidateKind, IceAgent, IceConfig, IceEvent};
use sansrtc::sim::{Endpoint, LinkConfig, NatBehavior, NatConfig, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource, Transmit};

/// A sim node: an ICE agent that prints its events, or a tiny STUN server.
enum Node {
    Agent(&'static str, Box<IceAgent>),
    Stun(Vec<(SocketAddr, SocketAddr, Vec<u8>)>),
}

impl Node {
    fn ice(&mut self) -> &mut IceAgent {
        match self {
            Node::Agent(_, a) => a,
            Node::Stun(_) => unreachable!("the STUN server has no agent"),
        }
    }

    fn print_events(&mut self, now: Instant) {
        if let Node::Agent(name, a) = self {
            while let Some(e) = a.poll_event() {
                match e {
                    IceEvent::LocalCandidate(c) => println!("{now:>12?} {name}: gathered {c}"),
                    other => println!("{now:>12?} {name}: {other:?}"),
                }
            }
        }
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        match self {
            Node::Agent(_, a) => {
                a.handle_receive(now, rx);
            }
            Node::Stun(out) => {
                // RFC 8489 §7.3: answer a Binding request with the address it came from.
                if let Ok(p) = stun::parse(rx.contents)
                    && p.class() == MessageClass::Request
                {
                    let mut m = stun::Message::new(
                        MessageClass::SuccessResponse,
                        stun::BINDING,
                        p.transaction_id(),
                    );
                    m.add_attribute(stun::XorMappedAddress::new(rx.source));
                    let mut buf = [0u8; 128];
                    if let Ok(n) = stun::encode(m, None, true, &mut buf) {
                        out.push((rx.destination, rx.source, buf[..n].to_vec()));
                    }
                }
            }
        }
        self.print_events(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Node::Agent(_, a) = self {
            a.handle_timeout(now);
        }
        self.print_events(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            Node::Agent(_, a) => a.poll_transmit(now, buf),
            Node::Stun(out) => {
                let (source, destination, bytes) = out.pop()?;
                buf.get_mut(..bytes.len())?.copy_from_slice(&bytes);
                Some(Transmit {
                    proto: Protocol::Udp,
                    source,
                    destination,
                    size: bytes.len(),
                })
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Node::Agent(_, a) => a.poll_timeout(),
            Node::Stun(_) => None,
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("valid IP")
}

fn main() {
    let mut sim: Sim<Node> = Sim::new(2024);
    sim.set_default_link(LinkConfig {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(5),
        loss: 0.10,
        ..LinkConfig::default()
    });
    let stun_addr: SocketAddr = "192.0.2.100:3478".parse().expect("addr");
    sim.add_endpoint(stun_addr.ip(), Node::Stun(Vec::new()));
    let symmetric = NatConfig {
        mapping: NatBehavior::AddressAndPortDependent,
        filtering: NatBehavior::AddressAndPortDependent,
        ..NatConfig::default()
    };
    let restricted = NatConfig {
        mapping: NatBehavior::EndpointIndependent,
        filtering: NatBehavior::AddressDependent,
        ..NatConfig::default()
    };
    let nat_a = sim.add_nat(ip("203.0.113.1"), symmetric);
    let nat_b = sim.add_nat(ip("203.0.113.2"), restricted);
    let config = |controlling, seed| IceConfig {
        controlling,
        stun_servers: vec![stun_addr],
        rng: RngSource::Seeded(seed),
        ..IceConfig::default()
    };
    let now = Instant::ZERO;
    let a = sim.add_endpoint_behind(
        nat_a,
        ip("10.0.0.1"),
        Node::Agent("alice", Box::new(IceAgent::new(config(true, 1), now))),
    );
    let b = sim.add_endpoint_behind(
        nat_b,
        ip("10.1.0.1"),
        Node::Agent("bob  ", Box::new(IceAgent::new(config(false, 2), now))),
    );
    for (n, host) in [(a, "10.0.0.1:4000"), (b, "10.1.0.1:5000")] {
        let agent = sim.endpoint_mut(n).ice();
        let addr = host.parse().expect("addr");
        agent
            .add_local_candidate(Candidate::host(addr, Protocol::Udp))
            .expect("host candidate");
        agent.end_of_local_candidates();
    }
    println!("-- gathering (alice behind a symmetric NAT, bob behind a restricted-cone NAT)");
    sim.run_until(Instant::from_secs(2));

    println!("-- signalling credentials and candidates");
    let creds_a = sim.endpoint_mut(a).ice().local_credentials().clone();
    let creds_b = sim.endpoint_mut(b).ice().local_credentials().clone();
    let cands = |agent: &mut IceAgent| -> Vec<Candidate> {
        agent
            .local_candidates()
            .filter(|c| c.kind != CandidateKind::PeerReflexive)
            .cloned()
            .collect()
    };
    let cands_a = cands(sim.endpoint_mut(a).ice());
    let cands_b = cands(sim.endpoint_mut(b).ice());
    for (n, creds, list) in [(a, creds_b, cands_b), (b, creds_a, cands_a)] {
        let agent = sim.endpoint_mut(n).ice();
        agent.set_remote_credentials(creds).expect("credentials");
        for c in list {
            println!("   {c}");
            agent.add_remote_candidate(c).expect("candidate");
        }
        agent.end_of_remote_candidates();
    }
    sim.run_until(Instant::from_secs(12));
    for (name, n) in [("alice", a), ("bob  ", b)] {
        let agent = sim.endpoint_mut(n).ice();
        println!(
            "-- {name}: state {:?}, selected {:?}",
            agent.state(),
            agent.selected_pair()
        );
        for p in agent.pair_stats() {
            println!(
                "   {} -> {} {:?} valid={} nominated={} req={} resp={} rtt={:?}",
                p.local,
                p.remote,
                p.state,
                p.valid,
                p.nominated,
                p.requests_sent,
                p.responses_received,
                p.rtt
            );
        }
    }
    println!("-- bob vanishes; alice notices through consent freshness (RFC 7675)");
    sim.set_node_online(b, false);
    sim.run_until(Instant::from_secs(60));
    println!(
        "-- done at {:?}: alice is {:?}",
        sim.now(),
        sim.endpoint_mut(a).ice().state()
    );
}
