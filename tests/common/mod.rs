//! Shared helpers for scenario tests: sim endpoints wrapping sansrtc machines.
#![allow(dead_code)]

use std::net::SocketAddr;

use sansrtc::ice::stun::{self, MessageClass};
use sansrtc::ice::{Candidate, IceAgent, IceConfig, IceConnectionState, IceEvent};
use sansrtc::sim::Endpoint;
use sansrtc::{Instant, Receive, RngSource, Transmit};

/// A sim endpoint: an ICE agent recording its events, or a minimal STUN server.
pub enum Node {
    /// An ICE agent and the events it produced, with their times.
    Agent(Box<IceAgent>, Vec<(Instant, IceEvent)>),
    /// A STUN server answering Binding requests with XOR-MAPPED-ADDRESS (RFC 8489 §7.3).
    StunServer(Vec<(SocketAddr, SocketAddr, Vec<u8>)>),
}

impl Node {
    pub fn agent(config: IceConfig, now: Instant) -> Self {
        Node::Agent(Box::new(IceAgent::new(config, now)), Vec::new())
    }

    pub fn ice(&self) -> &IceAgent {
        match self {
            Node::Agent(a, _) => a,
            Node::StunServer(_) => panic!("not an agent"),
        }
    }

    pub fn ice_mut(&mut self) -> &mut IceAgent {
        match self {
            Node::Agent(a, _) => a,
            Node::StunServer(_) => panic!("not an agent"),
        }
    }

    pub fn events(&self) -> &[(Instant, IceEvent)] {
        match self {
            Node::Agent(_, e) => e,
            Node::StunServer(_) => &[],
        }
    }

    pub fn state(&self) -> IceConnectionState {
        self.ice().state()
    }

    /// When the agent first reached `state`.
    pub fn reached(&self, state: IceConnectionState) -> Option<Instant> {
        self.events()
            .iter()
            .find(|(_, e)| *e == IceEvent::StateChanged(state))
            .map(|(t, _)| *t)
    }

    fn drain(&mut self, now: Instant) {
        if let Node::Agent(a, ev) = self {
            while let Some(e) = a.poll_event() {
                ev.push((now, e));
            }
        }
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        match self {
            Node::Agent(a, _) => {
                a.handle_receive(now, rx);
            }
            Node::StunServer(out) => {
                let Ok(p) = stun::parse(rx.contents) else {
                    return;
                };
                if p.class() != MessageClass::Request || p.method() != stun::BINDING {
                    return;
                }
                let mut m = stun::Message::new(
                    MessageClass::SuccessResponse,
                    stun::BINDING,
                    p.transaction_id(),
                );
                m.add_attribute(stun::XorMappedAddress::new(rx.source));
                let mut buf = [0u8; 256];
                let n = stun::encode(m, None, true, &mut buf).unwrap();
                out.push((rx.destination, rx.source, buf[..n].to_vec()));
            }
        }
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Node::Agent(a, _) = self {
            a.handle_timeout(now);
        }
        self.drain(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        match self {
            Node::Agent(a, _) => a.poll_transmit(now, buf),
            Node::StunServer(out) => {
                let (source, destination, bytes) = out.pop()?;
                buf[..bytes.len()].copy_from_slice(&bytes);
                Some(Transmit {
                    proto: sansrtc::Protocol::Udp,
                    source,
                    destination,
                    size: bytes.len(),
                })
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Node::Agent(a, _) => a.poll_timeout(),
            Node::StunServer(_) => None,
        }
    }
}

pub fn config(controlling: bool, seed: u64) -> IceConfig {
    IceConfig {
        controlling,
        rng: RngSource::Seeded(seed),
        ..Default::default()
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Candidates an agent would signal: everything but peer-reflexive ones.
pub fn signalled(a: &IceAgent) -> Vec<Candidate> {
    a.local_candidates()
        .filter(|c| c.kind != sansrtc::ice::CandidateKind::PeerReflexive)
        .cloned()
        .collect()
}
