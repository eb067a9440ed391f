//! A simulated network for sans-IO endpoints (feature `sim`).
//!
//! Any number of endpoints — anything implementing [`Endpoint`]: an ICE agent, a whole
//! peer connection, a STUN server written for a test — exchange datagrams through links
//! with latency, jitter, random and burst loss, reordering, duplication and an MTU, and
//! through NAT boxes with the mapping and filtering behaviours of RFC 4787. A virtual clock
//! jumps straight to the next delivery or endpoint deadline, so an hour of virtual time
//! runs in milliseconds. Everything random comes from one seeded generator: the same seed
//! replays the same run exactly.
//!
//! ```
//! use sansrtc::sim::{Endpoint, LinkConfig, Sim};
//! use sansrtc::{Duration, Instant, Protocol, Receive, Transmit};
//! use std::net::SocketAddr;
//!
//! /// Sends a numbered datagram every second, five in all; keeps what it receives.
//! struct Pinger { me: SocketAddr, peer: SocketAddr, next: Instant, due: bool, sent: u8, got: Vec<u8> }
//!
//! impl Endpoint for Pinger {
//!     fn handle_receive(&mut self, _now: Instant, rx: Receive<'_>) {
//!         self.got.extend_from_slice(rx.contents);
//!     }
//!     fn handle_timeout(&mut self, now: Instant) {
//!         if now >= self.next && self.sent < 5 {
//!             self.due = true;
//!             self.next = now + Duration::from_secs(1);
//!         }
//!     }
//!     fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
//!         if !self.due { return None; }
//!         self.due = false;
//!         buf[0] = self.sent;
//!         self.sent += 1;
//!         Some(Transmit { proto: Protocol::Udp, source: self.me, destination: self.peer, size: 1 })
//!     }
//!     fn poll_timeout(&mut self) -> Option<Instant> {
//!         (self.sent < 5).then_some(self.next)
//!     }
//! }
//!
//! let (a, b): (SocketAddr, SocketAddr) = ("192.0.2.1:1".parse().unwrap(), "192.0.2.2:2".parse().unwrap());
//! let mut sim = Sim::new(42);
//! sim.set_default_link(LinkConfig { latency: Duration::from_millis(50), ..LinkConfig::default() });
//! let pa = sim.add_endpoint(a.ip(), Pinger { me: a, peer: b, next: Instant::ZERO, due: false, sent: 0, got: vec![] });
//! let pb = sim.add_endpoint(b.ip(), Pinger { me: b, peer: a, next: Instant::ZERO, due: false, sent: 0, got: vec![] });
//! sim.run_until(Instant::from_secs(3600));
//! assert_eq!(sim.endpoint(pb).got, vec![0, 1, 2, 3, 4]);
//! assert_eq!(sim.endpoint(pa).got, vec![0, 1, 2, 3, 4]);
//! assert_eq!(sim.now(), Instant::from_secs(3600));
//! ```

mod link;
mod nat;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use core::net::{IpAddr, SocketAddr};

use crate::net::{Protocol, Receive, Transmit};
use crate::rng::{Rng, RngSource};
use crate::time::{Duration, Instant};

pub use link::{BurstLoss, LinkConfig, SimStats};
pub use nat::{NatBehavior, NatConfig};

use nat::Nat;

/// A sans-IO machine the simulator can drive: the run-loop contract without events (an
/// endpoint keeps its own events; a test inspects them through [`Sim::endpoint`]).
pub trait Endpoint {
    /// A datagram arrived.
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>);
    /// The deadline given by `poll_timeout` was reached.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, written into `buf`.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;
    /// When `handle_timeout` should next be called.
    fn poll_timeout(&mut self) -> Option<Instant>;
}

/// An endpoint in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

/// A NAT box in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(usize);

/// One line of the capture log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureEntry {
    /// When it happened.
    pub at: Instant,
    /// Source address on the wire (after NAT translation).
    pub source: SocketAddr,
    /// Destination address on the wire.
    pub destination: SocketAddr,
    /// Datagram length.
    pub len: usize,
    /// What became of it.
    pub fate: Fate,
}

/// What became of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered to an endpoint.
    Delivered,
    /// Dropped by the named mechanism.
    Dropped(&'static str),
}

struct Node<E> {
    endpoint: E,
    ip: IpAddr,
    nat: Option<usize>,
    online: bool,
    dirty: bool,
}

struct InFlight {
    at: Instant,
    seq: u64,
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for InFlight {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Calls of `handle_timeout` on one endpoint at one instant before the simulator treats
/// the endpoint as spinning and moves its deadline on by a microsecond.
const SPIN_LIMIT: u32 = 1000;

/// The simulated network. See the [module docs](self).
pub struct Sim<E: Endpoint> {
    now: Instant,
    rng: Rng,
    nodes: Vec<Node<E>>,
    nats: Vec<Nat>,
    default_link: LinkConfig,
    links: BTreeMap<(usize, usize), LinkConfig>,
    burst_bad: BTreeMap<(usize, usize), bool>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    max_in_flight: usize,
    seq: u64,
    stats: SimStats,
    capture: Option<(usize, Vec<CaptureEntry>)>,
    spin: (Instant, u32),
    buf: Vec<u8>,
}

impl<E: Endpoint> Sim<E> {
    /// An empty network whose randomness comes from `seed`.
    pub fn new(seed: u64) -> Self {
        Sim {
            now: Instant::ZERO,
            rng: Rng::new(RngSource::Seeded(seed)),
            nodes: Vec::new(),
            nats: Vec::new(),
            default_link: LinkConfig::default(),
            links: BTreeMap::new(),
            burst_bad: BTreeMap::new(),
            in_flight: BinaryHeap::new(),
            max_in_flight: 100_000,
            seq: 0,
            stats: SimStats::default(),
            capture: None,
            spin: (Instant::ZERO, 0),
            buf: vec![0; 65536],
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Counters of sends, deliveries and drops.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// Sets the most datagrams in flight at once (default 100,000); more are dropped.
    pub fn set_max_in_flight(&mut self, n: usize) {
        self.max_in_flight = n;
    }

    /// Records up to `limit` datagram fates in a capture log.
    pub fn enable_capture(&mut self, limit: usize) {
        self.capture = Some((limit, Vec::new()));
    }

    /// The capture log (empty unless [`enable_capture`](Self::enable_capture) was called).
    pub fn capture(&self) -> &[CaptureEntry] {
        self.capture.as_ref().map_or(&[], |(_, c)| c.as_slice())
    }

    /// Adds a publicly reachable endpoint owning `ip` (any port).
    pub fn add_endpoint(&mut self, ip: IpAddr, endpoint: E) -> NodeId {
        self.push_node(ip, None, endpoint)
    }

    /// Adds a NAT box with the given public IP.
    pub fn add_nat(&mut self, public_ip: IpAddr, cfg: NatConfig) -> NatId {
        self.nats.push(Nat::new(public_ip, cfg));
        NatId(self.nats.len() - 1)
    }

    /// Adds an endpoint with a private IP behind `nat`. An unknown `nat` makes it public.
    pub fn add_endpoint_behind(&mut self, nat: NatId, private_ip: IpAddr, endpoint: E) -> NodeId {
        let nat = (nat.0 < self.nats.len()).then_some(nat.0);
        self.push_node(private_ip, nat, endpoint)
    }

    fn push_node(&mut self, ip: IpAddr, nat: Option<usize>, endpoint: E) -> NodeId {
        self.nodes.push(Node {
            endpoint,
            ip,
            nat,
            online: true,
            dirty: true,
        });
        NodeId(self.nodes.len() - 1)
    }

    /// The endpoint. Panics on a `NodeId` from another simulator (a test bug, not input).
    pub fn endpoint(&self, id: NodeId) -> &E {
        #[allow(clippy::indexing_slicing)] // documented: ids come from this simulator
        &self.nodes[id.0].endpoint
    }

    /// The endpoint, mutably, for commands. Its transmits are drained before the next step.
    /// Panics on a `NodeId` from another simulator.
    pub fn endpoint_mut(&mut self, id: NodeId) -> &mut E {
        #[allow(clippy::indexing_slicing)] // documented: ids come from this simulator
        let node = &mut self.nodes[id.0];
        node.dirty = true;
        &mut node.endpoint
    }

    /// The number of live mappings in a NAT (0 for an unknown id).
    pub fn nat_mappings(&self, nat: NatId) -> usize {
        self.nats.get(nat.0).map_or(0, |n| n.mapping_count())
    }

    /// Forgets every mapping of a NAT at once, as a NAT reboot or a mobile handover does
    /// (RFC 4787 §4.3): the next outbound datagram of each host behind it gets a new
    /// public port, and datagrams to the old ports are dropped.
    pub fn rebind_nat(&mut self, nat: NatId) {
        if let Some(n) = self.nats.get_mut(nat.0) {
            n.clear();
        }
    }

    /// The link configuration used when no per-pair one is set.
    pub fn set_default_link(&mut self, cfg: LinkConfig) {
        self.default_link = cfg;
    }

    /// Configures the direction `from` → `to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, cfg: LinkConfig) {
        self.links.insert((from.0, to.0), cfg);
    }

    /// Takes a node off the network (everything to and from it is dropped) or back on.
    /// Its timers keep running.
    pub fn set_node_online(&mut self, id: NodeId, online: bool) {
        if let Some(n) = self.nodes.get_mut(id.0) {
            n.online = online;
        }
    }

    fn link(&self, from: usize, to: Option<usize>) -> LinkConfig {
        to.and_then(|t| self.links.get(&(from, t)).copied())
            .unwrap_or(self.default_link)
    }

    fn record(&mut self, source: SocketAddr, destination: SocketAddr, len: usize, fate: Fate) {
        if let Some((limit, log)) = &mut self.capture
            && log.len() < *limit
        {
            log.push(CaptureEntry {
                at: self.now,
                source,
                destination,
                len,
                fate,
            });
        }
    }

    /// Drains every transmit of node `i` onto the network.
    fn drain(&mut self, i: usize) {
        let mut buf = core::mem::take(&mut self.buf);
        loop {
            let now = self.now;
            let Some(node) = self.nodes.get_mut(i) else {
                break;
            };
            node.dirty = false;
            let Some(t) = node.endpoint.poll_transmit(now, &mut buf) else {
                break;
            };
            let data = buf.get(..t.size).unwrap_or_default().to_vec();
            self.send(i, t, data);
        }
        self.buf = buf;
    }

    fn send(&mut self, from: usize, t: Transmit, mut data: Vec<u8>) {
        self.stats.sent += 1;
        let Some(node) = self.nodes.get(from) else {
            return;
        };
        let (node_ip, nat, online) = (node.ip, node.nat, node.online);
        if t.source.ip() != node_ip || t.proto != Protocol::Udp {
            self.stats.dropped_bad_source += 1;
            self.record(
                t.source,
                t.destination,
                data.len(),
                Fate::Dropped("bad source"),
            );
            return;
        }
        if !online {
            self.stats.dropped_offline += 1;
            self.record(
                t.source,
                t.destination,
                data.len(),
                Fate::Dropped("offline"),
            );
            return;
        }
        // To the NAT's own public address from behind it: hairpinning (RFC 4787 §6).
        if let Some(natbox) = nat.and_then(|n| self.nats.get(n))
            && natbox.public_ip == t.destination.ip()
            && !natbox.cfg.hairpinning
        {
            self.stats.dropped_no_route += 1;
            self.record(
                t.source,
                t.destination,
                data.len(),
                Fate::Dropped("no hairpinning"),
            );
            return;
        }
        // Same private network: delivered directly, no translation.
        let lan_peer = nat.and_then(|n| {
            self.nodes
                .iter()
                .position(|x| x.nat == Some(n) && x.ip == t.destination.ip())
        });
        let source = match (nat, lan_peer) {
            (Some(n), None) => match self.nats.get_mut(n) {
                Some(natbox) => natbox.outbound(self.now, t.source, t.destination),
                None => t.source,
            },
            _ => t.source,
        };
        let to = lan_peer.or_else(|| self.route_peek(t.destination));
        let link = self.link(from, to);
        if data.len() > link.mtu {
            self.stats.dropped_mtu += 1;
            self.record(source, t.destination, data.len(), Fate::Dropped("mtu"));
            return;
        }
        if let Some(b) = link.burst {
            let key = (from, to.unwrap_or(usize::MAX));
            let bad = self.burst_bad.get(&key).copied().unwrap_or(false);
            let bad = if bad {
                self.rng.unit() >= b.p_leave_bad
            } else {
                self.rng.unit() < b.p_enter_bad
            };
            self.burst_bad.insert(key, bad);
            if bad && self.rng.unit() < b.loss_in_bad {
                self.stats.dropped_burst += 1;
                self.record(source, t.destination, data.len(), Fate::Dropped("burst"));
                return;
            }
        }
        if link.loss > 0.0 && self.rng.unit() < link.loss {
            self.stats.dropped_loss += 1;
            self.record(source, t.destination, data.len(), Fate::Dropped("loss"));
            return;
        }
        let copies = if link.duplicate > 0.0 && self.rng.unit() < link.duplicate {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for c in 0..copies {
            let mut delay = link.latency;
            if !link.jitter.is_zero() {
                let j = self.rng.below(link.jitter.as_micros() as u64 + 1);
                delay += Duration::from_micros(j);
            }
            if link.reorder > 0.0 && self.rng.unit() < link.reorder {
                self.stats.reordered += 1;
                delay += link.reorder_delay;
            }
            if self.in_flight.len() >= self.max_in_flight {
                self.stats.dropped_queue_full += 1;
                self.record(
                    source,
                    t.destination,
                    data.len(),
                    Fate::Dropped("queue full"),
                );
                continue;
            }
            self.seq += 1;
            let payload = if c + 1 == copies {
                core::mem::take(&mut data)
            } else {
                data.clone()
            };
            self.in_flight.push(Reverse(InFlight {
                at: self.now + delay,
                seq: self.seq,
                source,
                destination: t.destination,
                data: payload,
            }));
        }
    }

    /// The node a datagram to `dest` would reach now, for choosing the link (no NAT state
    /// is changed).
    fn route_peek(&self, dest: SocketAddr) -> Option<usize> {
        if let Some(i) = self
            .nodes
            .iter()
            .position(|n| n.nat.is_none() && n.ip == dest.ip())
        {
            return Some(i);
        }
        let nat = self.nats.iter().position(|n| n.public_ip == dest.ip())?;
        // Behind a NAT: the first node behind it is as good as any for link choice.
        self.nodes.iter().position(|n| n.nat == Some(nat))
    }

    /// Resolves the receiving node and local address of an arriving datagram.
    fn route_arrival(
        &mut self,
        source: SocketAddr,
        dest: SocketAddr,
    ) -> Result<(usize, SocketAddr), &'static str> {
        if let Some(i) = self
            .nodes
            .iter()
            .position(|n| n.ip == dest.ip() && (n.nat.is_none() || self.same_lan(n.nat, source)))
        {
            return Ok((i, dest));
        }
        let Some(nat_idx) = self.nats.iter().position(|n| n.public_ip == dest.ip()) else {
            return Err("no route");
        };
        let now = self.now;
        let internal = self
            .nats
            .get_mut(nat_idx)
            .and_then(|n| n.inbound(now, dest.port(), source))
            .ok_or("nat filter")?;
        let node = self
            .nodes
            .iter()
            .position(|n| n.nat == Some(nat_idx) && n.ip == internal.ip())
            .ok_or("no route")?;
        Ok((node, internal))
    }

    /// True if `source` is a private address on the LAN of `nat`.
    fn same_lan(&self, nat: Option<usize>, source: SocketAddr) -> bool {
        self.nodes
            .iter()
            .any(|n| n.nat.is_some() && n.nat == nat && n.ip == source.ip())
    }

    fn next_deadline(&mut self) -> Option<(Instant, Option<usize>)> {
        let mut best: Option<(Instant, Option<usize>)> =
            self.in_flight.peek().map(|Reverse(p)| (p.at, None));
        for i in 0..self.nodes.len() {
            let Some(node) = self.nodes.get_mut(i) else {
                continue;
            };
            if let Some(mut t) = node.endpoint.poll_timeout() {
                if t < self.now {
                    t = self.now;
                }
                if t == self.now && self.spin.0 == self.now && self.spin.1 >= SPIN_LIMIT {
                    t = self.now + Duration::from_micros(1);
                }
                if best.is_none_or(|(b, _)| t < b) {
                    best = Some((t, Some(i)));
                }
            }
        }
        best
    }

    /// Processes the earliest pending thing (a delivery or an endpoint deadline) and
    /// returns `true`, or `false` if nothing is scheduled at all.
    pub fn step(&mut self) -> bool {
        self.drain_dirty();
        let Some((at, timer)) = self.next_deadline() else {
            return false;
        };
        self.advance(at);
        match timer {
            Some(i) => {
                let now = self.now;
                if let Some(n) = self.nodes.get_mut(i) {
                    n.endpoint.handle_timeout(now);
                }
                self.drain(i);
            }
            None => self.deliver_next(),
        }
        true
    }

    fn advance(&mut self, at: Instant) {
        if at > self.now {
            self.now = at;
            self.spin = (at, 0);
        } else {
            self.spin.1 += 1;
        }
    }

    fn drain_dirty(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes.get(i).is_some_and(|n| n.dirty) {
                self.drain(i);
            }
        }
    }

    fn deliver_next(&mut self) {
        let Some(Reverse(p)) = self.in_flight.pop() else {
            return;
        };
        let (node, local) = match self.route_arrival(p.source, p.destination) {
            Ok(x) => x,
            Err(why) => {
                if why == "nat filter" {
                    self.stats.dropped_nat_filter += 1;
                } else {
                    self.stats.dropped_no_route += 1;
                }
                self.record(p.source, p.destination, p.data.len(), Fate::Dropped(why));
                return;
            }
        };
        if !self.nodes.get(node).is_some_and(|n| n.online) {
            self.stats.dropped_offline += 1;
            self.record(
                p.source,
                p.destination,
                p.data.len(),
                Fate::Dropped("offline"),
            );
            return;
        }
        self.stats.delivered += 1;
        self.record(p.source, p.destination, p.data.len(), Fate::Delivered);
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(node) {
            n.endpoint.handle_receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source: p.source,
                    destination: local,
                    contents: &p.data,
                },
            );
        }
        self.drain(node);
    }

    /// Runs everything scheduled up to and including `t`; the clock ends at `t`.
    pub fn run_until(&mut self, t: Instant) {
        loop {
            self.drain_dirty();
            match self.next_deadline() {
                Some((at, _)) if at <= t => {
                    self.step();
                }
                _ => break,
            }
        }
        if t > self.now {
            self.now = t;
        }
    }

    /// Runs until `pred` holds (checked after every step) or `deadline` passes. Returns
    /// whether `pred` held; the clock stays where `pred` became true.
    pub fn run_until_pred(
        &mut self,
        deadline: Instant,
        mut pred: impl FnMut(&Self) -> bool,
    ) -> bool {
        if pred(self) {
            return true;
        }
        loop {
            self.drain_dirty();
            match self.next_deadline() {
                Some((at, _)) if at <= deadline => {
                    self.step();
                    if pred(self) {
                        return true;
                    }
                }
                _ => {
                    if deadline > self.now {
                        self.now = deadline;
                    }
                    return pred(self);
                }
            }
        }
    }
}
