//! SCTP associations through the simulated network: `cargo test --features sim --test sctp`.
#![cfg(feature = "sim")]

use std::collections::VecDeque;
use std::net::SocketAddr;

use proptest::prelude::*;
use sansrtc::datachannel::{ChannelConfig, DataChannelEvent, DataChannels, DataChannelsConfig};
use sansrtc::dtls::DtlsRole;
use sansrtc::sctp::wire::Packet;
use sansrtc::sctp::wire::chunk_type as ct;
use sansrtc::sctp::wire::chunks::{DataChunk, Tlvs, cause};
use sansrtc::sctp::{
    Association, CloseReason, Reliability, SctpConfig, SctpError, SctpEvent, SendOptions,
};
use sansrtc::sim::{Endpoint, LinkConfig, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource, Transmit};

/// An association on a fixed address; the "application" feeds it from a queue as the
/// send buffer allows, and keeps what it receives.
struct Node {
    assoc: Association,
    me: SocketAddr,
    peer: SocketAddr,
    outbox: VecDeque<(u16, SendOptions, Vec<u8>)>,
    got: Vec<(u16, u32, Vec<u8>)>,
    events: Vec<(Instant, SctpEvent)>,
    /// The host stops polling events (they wait in the association).
    hold_events: bool,
    /// Record the TSNs of the DATA chunks this node sends (see [`TsnWatch`]).
    watch_tsns: Option<TsnWatch>,
    /// Packets sent with checksum field zero (RFC 9653), and with another value.
    zero_sums: usize,
    other_sums: usize,
}

/// What a node's DATA chunks showed of their TSNs.
#[derive(Debug, Default)]
struct TsnWatch {
    first: Option<u32>,
    /// A TSN in the top 64 Ki of the space was sent.
    high: bool,
    /// A TSN in the bottom 64 Ki was sent after a high one: the wrap was crossed.
    low_after_high: bool,
}

impl Node {
    fn new(seed: u64, me: SocketAddr, peer: SocketAddr, cfg: &SctpConfig) -> Node {
        Node {
            assoc: Association::new(
                SctpConfig {
                    rng: RngSource::Seeded(seed),
                    ..cfg.clone()
                },
                Instant::ZERO,
            ),
            me,
            peer,
            outbox: VecDeque::new(),
            got: Vec::new(),
            events: Vec::new(),
            hold_events: false,
            watch_tsns: None,
            zero_sums: 0,
            other_sums: 0,
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some((s, o, d)) = self.outbox.pop_front() {
            match self.assoc.send_owned(s, 53, d.clone(), o) {
                Ok(()) => {}
                Err(SctpError::BufferFull) => {
                    self.outbox.push_front((s, o, d));
                    break;
                }
                // The application closed that stream: its message is dropped.
                Err(SctpError::StreamClosing(_)) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        while !self.hold_events
            && let Some(e) = self.assoc.poll_event()
        {
            match e {
                SctpEvent::Message { stream, ppid, data } => self.got.push((stream, ppid, data)),
                e => self.events.push((now, e)),
            }
        }
    }

    fn closed(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|(_, e)| match e {
            SctpEvent::Closed(r) => Some(r),
            _ => None,
        })
    }

    fn connected(&self) -> bool {
        self.events.iter().any(|(_, e)| *e == SctpEvent::Connected)
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.assoc.handle_receive(now, rx.contents);
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
        self.pump(now);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.pump(now);
        let size = self.assoc.poll_transmit(now, buf)?;
        if buf[8..12] == [0; 4] {
            self.zero_sums += 1;
        } else {
            self.other_sums += 1;
        }
        if let Some(w) = &mut self.watch_tsns {
            let p = Packet::parse(&buf[..size]).unwrap();
            for c in p.chunks().map(Result::unwrap).filter(|c| c.ty == ct::DATA) {
                let tsn = DataChunk::parse(&c).unwrap().tsn;
                w.first.get_or_insert(tsn);
                w.high |= tsn >= 0xFFFF_0000;
                w.low_after_high |= w.high && tsn < 0x0001_0000;
            }
        }
        self.pump(now);
        Some(Transmit {
            proto: Protocol::Udp,
            source: self.me,
            destination: self.peer,
            size,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }
}

const A: &str = "192.0.2.1:5000";
const B: &str = "192.0.2.2:5000";

fn pair(seed: u64, link: LinkConfig, cfg: SctpConfig) -> (Sim<Node>, NodeId, NodeId) {
    pair_with(seed, link, cfg.clone(), cfg)
}

/// Like [`pair`], with a configuration for each end (`a` connects).
fn pair_with(
    seed: u64,
    link: LinkConfig,
    cfg_a: SctpConfig,
    cfg_b: SctpConfig,
) -> (Sim<Node>, NodeId, NodeId) {
    let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let mut na = Node::new(seed * 2 + 1, a, b, &cfg_a);
    let nb = Node::new(seed * 2 + 2, b, a, &cfg_b);
    na.assoc.connect(Instant::ZERO);
    let ia = sim.add_endpoint(a.ip(), na);
    let ib = sim.add_endpoint(b.ip(), nb);
    (sim, ia, ib)
}

/// 20 ms each way, `loss`, and always some reordering (5 % held back 15 ms) and
/// duplication (2 %).
fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        loss,
        reorder: 0.05,
        reorder_delay: Duration::from_millis(15),
        duplicate: 0.02,
        mtu: 1500,
        ..LinkConfig::default()
    }
}

/// A 16 KiB message carrying its index and a checksum of its contents.
fn message(i: u32) -> Vec<u8> {
    let mut d = vec![0u8; 16 * 1024];
    let mut x = i.wrapping_mul(2654435761).wrapping_add(1);
    for b in d.iter_mut().skip(8) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    d[..4].copy_from_slice(&i.to_be_bytes());
    let sum = crc32fast::hash(&d[8..]);
    d[4..8].copy_from_slice(&sum.to_be_bytes());
    d
}

fn check(d: &[u8]) -> u32 {
    assert_eq!(d.len(), 16 * 1024);
    let sum = u32::from_be_bytes(d[4..8].try_into().unwrap());
    assert_eq!(crc32fast::hash(&d[8..]), sum, "payload corrupted");
    u32::from_be_bytes(d[..4].try_into().unwrap())
}

fn transfer_16mib(seed: u64, loss: f64) {
    let (mut sim, a, b) = pair(seed, lossy(loss), SctpConfig::default());
    let n = 1024u32;
    for i in 0..n {
        sim.endpoint_mut(a)
            .outbox
            .push_back((1, SendOptions::default(), message(i)));
    }
    let ok = sim.run_until_pred(Instant::from_secs(3600), |s| {
        s.endpoint(b).got.len() == n as usize
    });
    let st = sim.endpoint(a).assoc.stats();
    assert!(
        ok,
        "loss {loss}: {} of {n} messages after {:?}; sender {:?}; closed {:?}",
        sim.endpoint(b).got.len(),
        sim.now(),
        st,
        sim.endpoint(a).closed()
    );
    for (k, (stream, ppid, d)) in sim.endpoint(b).got.iter().enumerate() {
        assert_eq!((*stream, *ppid), (1, 53));
        assert_eq!(check(d), k as u32, "in order, exactly once");
    }
    let secs = sim.now().as_micros() as f64 / 1e6;
    eprintln!(
        "16 MiB at {:.0}% loss: {secs:.1} s virtual, {} retransmitted chunks, {} fast retransmits, {} T3, rx dups {}",
        loss * 100.0,
        st.retransmitted_chunks,
        st.fast_retransmits,
        st.t3_timeouts,
        sim.endpoint(b).assoc.stats().duplicate_chunks
    );
    if loss > 0.0 {
        assert!(st.retransmitted_chunks > 0);
    }
}

#[test]
fn reliable_ordered_16mib_no_loss() {
    transfer_16mib(1, 0.0);
}

#[test]
fn reliable_ordered_16mib_10_percent_loss() {
    transfer_16mib(2, 0.10);
}

#[test]
fn reliable_ordered_16mib_30_percent_loss() {
    transfer_16mib(3, 0.30);
}

fn small(i: u32, len: usize) -> Vec<u8> {
    let mut d = vec![(i % 251) as u8; len.max(4)];
    d[..4].copy_from_slice(&i.to_be_bytes());
    d
}

fn index(d: &[u8]) -> u32 {
    u32::from_be_bytes(d[..4].try_into().unwrap())
}

#[test]
fn packet_sizes_that_are_not_a_multiple_of_four() {
    // Chunks are padded to four bytes, the last one too: an MTU of 1163 (what is left
    // of 1200 after DTLS) must still fill packets without ever overflowing them.
    for mtu in [1163usize, 1161, 1162, 1201] {
        let cfg = SctpConfig {
            mtu,
            ..SctpConfig::default()
        };
        let (mut sim, a, b) = pair(30 + mtu as u64, lossy(0.0), cfg);
        for i in 0..50u32 {
            sim.endpoint_mut(a).outbox.push_back((
                1,
                SendOptions::default(),
                small(i, 100 + 997 * i as usize % 5000),
            ));
        }
        assert!(
            sim.run_until_pred(Instant::from_secs(10), |s| s.endpoint(b).got.len() == 50),
            "mtu {mtu}"
        );
        let st = sim.endpoint(a).assoc.stats();
        assert_eq!(st.t3_timeouts, 0, "mtu {mtu}: nothing lost");
    }
}

#[test]
fn unordered_delivery_delivers_everything_once() {
    let (mut sim, a, b) = pair(4, lossy(0.1), SctpConfig::default());
    let opts = SendOptions {
        unordered: true,
        ..SendOptions::default()
    };
    for i in 0..2000u32 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((3, opts, small(i, 700)));
    }
    assert!(sim.run_until_pred(Instant::from_secs(600), |s| s.endpoint(b).got.len() == 2000));
    let mut idx: Vec<u32> = sim
        .endpoint(b)
        .got
        .iter()
        .map(|(_, _, d)| index(d))
        .collect();
    let in_order = idx.windows(2).all(|w| w[0] < w[1]);
    idx.sort_unstable();
    assert_eq!(idx, (0..2000).collect::<Vec<_>>(), "each exactly once");
    assert!(!in_order || sim.endpoint(a).assoc.stats().retransmitted_chunks == 0);
}

#[test]
fn unreliable_channel_never_stalls_the_reliable_one() {
    let (mut sim, a, b) = pair(5, lossy(0.1), SctpConfig::default());
    let unreliable = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    for i in 0..3000u32 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((7, unreliable, small(i, 1000)));
        if i % 3 == 0 {
            sim.endpoint_mut(a)
                .outbox
                .push_back((8, SendOptions::default(), small(i / 3, 1000)));
        }
    }
    let ok = sim.run_until_pred(Instant::from_secs(600), |s| {
        s.endpoint(b)
            .got
            .iter()
            .filter(|(st, _, _)| *st == 8)
            .count()
            == 1000
            && s.endpoint(a).assoc.buffered_amount(7) == 0
    });
    assert!(ok, "reliable stream complete");
    sim.run_until(sim.now() + Duration::from_secs(5));
    let got = &sim.endpoint(b).got;
    let rel: Vec<u32> = got
        .iter()
        .filter(|m| m.0 == 8)
        .map(|m| index(&m.2))
        .collect();
    assert_eq!(
        rel,
        (0..1000).collect::<Vec<_>>(),
        "reliable: all, in order"
    );
    let unrel: Vec<u32> = got
        .iter()
        .filter(|m| m.0 == 7)
        .map(|m| index(&m.2))
        .collect();
    assert!(
        unrel.windows(2).all(|w| w[0] < w[1]),
        "unreliable but ordered: increasing"
    );
    assert!(
        unrel.len() > 2000 && unrel.len() < 3000,
        "a subset: {}",
        unrel.len()
    );
    let st = sim.endpoint(a).assoc.stats();
    assert!(st.abandoned_messages > 0);
    assert!(sim.endpoint(b).closed().is_none());
}

#[test]
fn lifetime_limited_messages_expire() {
    // The link drops everything for 3 s while 100 ms-lifetime messages are sent.
    let (mut sim, a, b) = pair(6, lossy(0.0), SctpConfig::default());
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    let opts = SendOptions {
        unordered: true,
        reliability: Reliability::Lifetime(Duration::from_millis(100)),
    };
    let start = sim.now();
    sim.set_node_online(b, false);
    for i in 0..50u32 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((9, opts, small(i, 500)));
    }
    sim.run_until(start + Duration::from_secs(3));
    sim.set_node_online(b, true);
    for i in 50..60u32 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((9, opts, small(i, 500)));
    }
    sim.run_until(start + Duration::from_secs(30));
    let got: Vec<u32> = sim.endpoint(b).got.iter().map(|m| index(&m.2)).collect();
    assert!(
        got.iter().all(|i| *i >= 50),
        "expired messages never arrive: {got:?}"
    );
    assert_eq!(got.len(), 10, "fresh ones do, once each: {got:?}");
    assert!(sim.endpoint(a).assoc.stats().abandoned_messages >= 50);
    assert_eq!(sim.endpoint(a).assoc.buffered_amount(9), 0);
}

#[test]
fn a_thousand_streams_open_and_close() {
    let (mut sim, a, b) = pair(7, lossy(0.02), SctpConfig::default());
    for s in 0..1000u16 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((s, SendOptions::default(), small(u32::from(s), 64)));
    }
    assert!(sim.run_until_pred(Instant::from_secs(60), |s| s.endpoint(b).got.len() == 1000));
    for s in 0..1000u16 {
        sim.endpoint_mut(a).assoc.reset_stream(s).unwrap();
        assert!(matches!(
            sim.endpoint_mut(a)
                .assoc
                .send(s, 51, b"late", SendOptions::default()),
            Err(SctpError::StreamClosing(_))
        ));
    }
    let done = |n: &Node, f: fn(&SctpEvent) -> bool| n.events.iter().filter(|(_, e)| f(e)).count();
    let ok = sim.run_until_pred(Instant::from_secs(120), |s| {
        done(s.endpoint(a), |e| {
            matches!(e, SctpEvent::OutgoingStreamReset { .. })
        }) == 1000
            && done(s.endpoint(b), |e| {
                matches!(e, SctpEvent::IncomingStreamReset { .. })
            }) == 1000
    });
    assert!(ok, "every stream reset on both sides");
    // Stream ids can be used again, from sequence number 0.
    for s in 0..10u16 {
        sim.endpoint_mut(a).outbox.push_back((
            s,
            SendOptions::default(),
            small(5000 + u32::from(s), 64),
        ));
    }
    assert!(sim.run_until_pred(
        sim.now() + Duration::from_secs(30),
        |s| s.endpoint(b).got.len() == 1010
    ));
}

#[test]
fn big_messages_and_the_size_limit() {
    let (mut sim, a, b) = pair(8, lossy(0.05), SctpConfig::default());
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    sim.endpoint_mut(a)
        .outbox
        .push_back((2, SendOptions::default(), big.clone()));
    assert!(sim.run_until_pred(Instant::from_secs(120), |s| s.endpoint(b).got.len() == 1));
    assert_eq!(sim.endpoint(b).got[0].2, big);
    let err =
        sim.endpoint_mut(a)
            .assoc
            .send(2, 53, &vec![0u8; 256 * 1024 + 1], SendOptions::default());
    assert_eq!(
        err,
        Err(SctpError::MessageTooBig {
            size: 256 * 1024 + 1,
            max: 256 * 1024
        })
    );
    // The peer's a=max-message-size lowers it.
    sim.endpoint_mut(a).assoc.set_remote_max_message_size(1000);
    assert!(
        sim.endpoint_mut(a)
            .assoc
            .send(2, 53, &[0; 1001], SendOptions::default())
            .is_err()
    );
}

#[test]
fn abort_is_observed_by_the_peer() {
    let (mut sim, a, b) = pair(9, lossy(0.0), SctpConfig::default());
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    sim.endpoint_mut(a).assoc.abort();
    sim.run_until(sim.now() + Duration::from_secs(1));
    assert_eq!(sim.endpoint(a).closed(), Some(&CloseReason::LocalAbort));
    assert_eq!(
        sim.endpoint(b).closed(),
        Some(&CloseReason::Error(SctpError::PeerAborted(12)))
    );
}

#[test]
fn shutdown_delivers_queued_data_first() {
    let (mut sim, a, b) = pair(10, lossy(0.1), SctpConfig::default());
    for i in 0..200u32 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((1, SendOptions::default(), small(i, 3000)));
    }
    // Queue everything, then shut down.
    let now = sim.now();
    sim.endpoint_mut(a).pump(now);
    sim.endpoint_mut(a).assoc.shutdown(now);
    assert!(
        sim.endpoint_mut(a)
            .assoc
            .send(1, 53, b"x", SendOptions::default())
            .is_err()
    );
    sim.run_until(Instant::from_secs(300));
    assert_eq!(sim.endpoint(b).got.len(), 200);
    assert_eq!(sim.endpoint(a).closed(), Some(&CloseReason::Shutdown));
    assert_eq!(sim.endpoint(b).closed(), Some(&CloseReason::Shutdown));
}

#[test]
fn simultaneous_connect_resolves() {
    let (mut sim, a, b) = pair(11, lossy(0.0), SctpConfig::default());
    sim.endpoint_mut(b).assoc.connect(Instant::ZERO);
    sim.endpoint_mut(a)
        .outbox
        .push_back((0, SendOptions::default(), small(1, 10)));
    sim.endpoint_mut(b)
        .outbox
        .push_back((1, SendOptions::default(), small(2, 10)));
    assert!(sim.run_until_pred(Instant::from_secs(10), |s| {
        s.endpoint(a).got.len() == 1 && s.endpoint(b).got.len() == 1
    }));
    for n in [a, b] {
        let c = sim
            .endpoint(n)
            .events
            .iter()
            .filter(|(_, e)| *e == SctpEvent::Connected)
            .count();
        assert_eq!(c, 1, "exactly one Connected");
    }
}

#[test]
fn unreachable_peer_fails_the_association() {
    let (mut sim, a, b) = pair(12, lossy(0.0), SctpConfig::default());
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    sim.set_node_online(b, false);
    sim.endpoint_mut(a)
        .outbox
        .push_back((0, SendOptions::default(), small(1, 10)));
    sim.run_until(Instant::from_secs(600));
    assert_eq!(
        sim.endpoint(a).closed(),
        Some(&CloseReason::Error(SctpError::Unreachable))
    );
}

/// A data channel layer on a fixed address, keeping its events.
struct DcNode {
    dc: DataChannels,
    me: SocketAddr,
    peer: SocketAddr,
    events: Vec<DataChannelEvent>,
}

impl DcNode {
    fn collect(&mut self) {
        while let Some(e) = self.dc.poll_event() {
            self.events.push(e);
        }
    }
    fn count(&self, f: impl Fn(&DataChannelEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

impl Endpoint for DcNode {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.dc.handle_receive(now, rx.contents);
        self.collect();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.dc.handle_timeout(now);
        self.collect();
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let size = self.dc.poll_transmit(now, buf)?;
        self.collect();
        Some(Transmit {
            proto: Protocol::Udp,
            source: self.me,
            destination: self.peer,
            size,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.dc.poll_timeout()
    }
}

#[test]
fn a_thousand_data_channels_open_and_close() {
    let (a, b): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let node = |role, seed, me, peer| DcNode {
        dc: DataChannels::new(
            DataChannelsConfig {
                role,
                sctp: SctpConfig {
                    rng: RngSource::Seeded(seed),
                    ..SctpConfig::default()
                },
                ..DataChannelsConfig::default()
            },
            Instant::ZERO,
        ),
        me,
        peer,
        events: Vec::new(),
    };
    let mut sim = Sim::new(21);
    sim.set_default_link(lossy(0.05));
    let ia = sim.add_endpoint(a.ip(), node(DtlsRole::Client, 1, a, b));
    let ib = sim.add_endpoint(b.ip(), node(DtlsRole::Server, 2, b, a));
    sim.endpoint_mut(ia).dc.connect(Instant::ZERO);
    sim.endpoint_mut(ib).dc.connect(Instant::ZERO);
    let mut ids = Vec::new();
    for round in 0..4 {
        // 250 channels at a time (within the default limit of 1024), opened, used, closed.
        for k in 0..250 {
            let id = sim
                .endpoint_mut(ia)
                .dc
                .create_channel(ChannelConfig {
                    label: format!("ch{round}-{k}"),
                    ..ChannelConfig::default()
                })
                .unwrap();
            sim.endpoint_mut(ia)
                .dc
                .channel(id)
                .unwrap()
                .send_text("hello")
                .unwrap();
            ids.push(id);
        }
        let want = 250 * (round + 1);
        assert!(
            sim.run_until_pred(sim.now() + Duration::from_secs(60), |s| {
                s.endpoint(ib)
                    .count(|e| matches!(e, DataChannelEvent::Message { .. }))
                    == want
            })
        );
        for id in ids.drain(..) {
            sim.endpoint_mut(ia)
                .dc
                .channel(id)
                .unwrap()
                .close()
                .unwrap();
        }
        assert!(
            sim.run_until_pred(sim.now() + Duration::from_secs(60), |s| {
                s.endpoint(ia)
                    .count(|e| matches!(e, DataChannelEvent::Closed(_)))
                    == want
                    && s.endpoint(ib)
                        .count(|e| matches!(e, DataChannelEvent::Closed(_)))
                        == want
            })
        );
    }
    let opened = sim
        .endpoint(ib)
        .count(|e| matches!(e, DataChannelEvent::Opened { remote: true, .. }));
    assert_eq!(opened, 1000);
    assert_eq!(sim.endpoint(ia).dc.channel_ids().count(), 0);
    assert_eq!(sim.endpoint(ib).dc.channel_ids().count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Any mix of sends on reliable streams, resets of other streams, and loss and
    /// reordering up to 30 %: the reliable streams arrive complete and in order, and the
    /// receiver never holds more than its buffer.
    #[test]
    fn reliable_streams_survive_anything(
        seed in 0u64..1_000_000,
        loss in 0.0f64..0.3,
        reorder in 0.0f64..0.3,
        ops in proptest::collection::vec((0u16..6, 1usize..5000, any::<bool>()), 1..120),
    ) {
        let link = LinkConfig {
            latency: Duration::from_millis(15),
            loss,
            reorder,
            reorder_delay: Duration::from_millis(10),
            duplicate: 0.05,
            mtu: 1500,
            ..LinkConfig::default()
        };
        let cfg = SctpConfig { receive_buffer: 256 * 1024, ..SctpConfig::default() };
        let (mut sim, a, b) = pair(seed, link, cfg);
        let mut expected: Vec<Vec<u32>> = vec![Vec::new(); 6];
        let mut counter = 0u32;
        for (stream, len, reset_other) in ops {
            // Streams 0..3 carry reliable data; 3..6 are reset now and then.
            if stream < 3 {
                counter += 1;
                expected[stream as usize].push(counter);
                sim.endpoint_mut(a).outbox.push_back((stream, SendOptions::default(), small(counter, len)));
            } else {
                sim.endpoint_mut(a).outbox.push_back((stream, SendOptions { unordered: true, reliability: Reliability::MaxRetransmits(1) }, small(0, len)));
                if reset_other {
                    let _ = sim.endpoint_mut(a).assoc.reset_stream(stream);
                }
            }
            let t = sim.now() + Duration::from_millis(7);
            sim.run_until(t);
            // Memory bound on the receiver (stats expose what it advertises).
            let rwnd = sim.endpoint(b).assoc.stats().local_rwnd;
            prop_assert!(rwnd <= 256 * 1024);
        }
        let total: usize = expected.iter().map(Vec::len).sum();
        let ok = sim.run_until_pred(Instant::from_secs(3600), |s| {
            s.endpoint(b).got.iter().filter(|m| m.0 < 3).count() == total
        });
        prop_assert!(ok, "all reliable data arrived");
        for st in 0..3u16 {
            let got: Vec<u32> = sim.endpoint(b).got.iter().filter(|m| m.0 == st).map(|m| index(&m.2)).collect();
            prop_assert_eq!(&got, &expected[st as usize]);
        }
    }
}

/// Buffers are reused while traffic flows and handed back once the association idles:
/// the sender's pool fills with the buffers of acknowledged messages, the receiver's
/// with those the host recycles, each within `buffer_pool`, and both are empty after
/// a heartbeat interval of silence.
#[test]
fn spare_buffers_are_bounded_and_freed_when_idle() {
    let cfg = SctpConfig {
        buffer_pool: 64 * 1024,
        heartbeat_interval: sansrtc::Duration::from_secs(5),
        ..SctpConfig::default()
    };
    let (mut sim, a, b) = pair(40, lossy(0.0), cfg);
    let n = 64u32;
    for i in 0..n {
        sim.endpoint_mut(a)
            .outbox
            .push_back((1, SendOptions::default(), message(i)));
    }
    assert!(
        sim.run_until_pred(Instant::from_secs(60), |s| s.endpoint(b).got.len()
            == n as usize)
    );
    let got: Vec<_> = sim.endpoint_mut(b).got.drain(..).collect();
    for (_, _, d) in got {
        sim.endpoint_mut(b).assoc.recycle(d);
    }
    let settle = sim.now() + sansrtc::Duration::from_millis(500);
    sim.run_until(settle);
    let (pa, pb) = (
        sim.endpoint(a).assoc.pooled_bytes(),
        sim.endpoint(b).assoc.pooled_bytes(),
    );
    assert!(pa > 0 && pa <= 64 * 1024, "sender pool {pa}");
    assert!(pb > 0 && pb <= 64 * 1024, "receiver pool {pb}");
    let idle = sim.now() + sansrtc::Duration::from_secs(8);
    sim.run_until(idle);
    assert_eq!(sim.endpoint(a).assoc.pooled_bytes(), 0);
    assert_eq!(sim.endpoint(b).assoc.pooled_bytes(), 0);
    assert!(sim.endpoint(a).closed().is_none());
}

/// A message bigger than our `max_receive_message_size` aborts the association
/// (Protocol Violation, RFC 9260 §3.3.10.13): the peer learns why, and nothing of the
/// message is delivered. A message of exactly the limit still arrives.
#[test]
fn receiving_a_message_past_max_receive_message_size_aborts() {
    let limit = 64 * 1024;
    let cfg_b = SctpConfig {
        max_receive_message_size: limit,
        ..SctpConfig::default()
    };
    let (mut sim, a, b) = pair_with(41, lossy(0.02), SctpConfig::default(), cfg_b);
    let at_limit: Vec<u8> = (0..limit).map(|i| (i * 7 % 251) as u8).collect();
    sim.endpoint_mut(a)
        .outbox
        .push_back((1, SendOptions::default(), at_limit.clone()));
    assert!(sim.run_until_pred(Instant::from_secs(30), |s| s.endpoint(b).got.len() == 1));
    assert_eq!(sim.endpoint(b).got[0].2, at_limit);
    // The sender's own limit (256 KiB) lets a bigger one go.
    sim.endpoint_mut(a)
        .outbox
        .push_back((1, SendOptions::default(), vec![9; limit + 1]));
    assert!(
        sim.run_until_pred(sim.now() + Duration::from_secs(30), |s| {
            s.endpoint(a).closed().is_some() && s.endpoint(b).closed().is_some()
        })
    );
    assert_eq!(
        sim.endpoint(b).closed(),
        Some(&CloseReason::Error(SctpError::ProtocolViolation(
            "message larger than max-message-size"
        )))
    );
    // Cause 13: Protocol Violation.
    assert_eq!(
        sim.endpoint(a).closed(),
        Some(&CloseReason::Error(SctpError::PeerAborted(13)))
    );
    assert_eq!(sim.endpoint(b).got.len(), 1, "nothing of the big message");
    let d = sim.endpoint(b).assoc.diagnostics();
    assert!(d.receive_bytes <= SctpConfig::default().receive_buffer);
}

/// `max_active_streams` bounds the streams with state on both sides: `send` refuses a
/// stream beyond it (`TooManyStreams`), and a peer that makes more incoming streams than
/// that with ordered messages gets an ABORT (Out of Resource, RFC 9260 §3.3.10.4) after
/// the messages of the streams within the bound were delivered.
#[test]
fn streams_past_max_active_streams() {
    let bound = 16usize;
    let small_table = SctpConfig {
        max_active_streams: bound,
        ..SctpConfig::default()
    };
    // Sending side.
    let (mut sim, a, b) = pair_with(42, lossy(0.0), small_table.clone(), SctpConfig::default());
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    for s in 0..bound as u16 {
        sim.endpoint_mut(a)
            .assoc
            .send(s, 53, b"x", SendOptions::default())
            .unwrap();
    }
    assert_eq!(
        sim.endpoint_mut(a)
            .assoc
            .send(bound as u16, 53, b"x", SendOptions::default()),
        Err(SctpError::TooManyStreams)
    );
    // Streams that already have state still take messages.
    assert!(
        sim.endpoint_mut(a)
            .assoc
            .send(0, 53, b"y", SendOptions::default())
            .is_ok()
    );
    assert!(sim.endpoint(a).assoc.diagnostics().streams_out <= bound);
    assert!(sim.run_until_pred(sim.now() + Duration::from_secs(5), |s| {
        s.endpoint(b).got.len() == bound + 1
    }));

    // Receiving side: one ordered message on each of bound + 1 streams.
    let (mut sim, a, b) = pair_with(43, lossy(0.0), SctpConfig::default(), small_table);
    for s in 0..=bound as u16 {
        sim.endpoint_mut(a)
            .outbox
            .push_back((s, SendOptions::default(), small(u32::from(s), 100)));
    }
    assert!(sim.run_until_pred(Instant::from_secs(10), |s| {
        s.endpoint(a).closed().is_some() && s.endpoint(b).closed().is_some()
    }));
    assert_eq!(
        sim.endpoint(b).closed(),
        Some(&CloseReason::Error(SctpError::ProtocolViolation(
            "more active streams than max_active_streams"
        )))
    );
    // Cause 4: Out of Resource.
    assert_eq!(
        sim.endpoint(a).closed(),
        Some(&CloseReason::Error(SctpError::PeerAborted(4)))
    );
    assert_eq!(sim.endpoint(b).got.len(), bound);
    assert!(sim.endpoint(b).assoc.diagnostics().streams_in <= bound);
}

/// A host that stops polling: complete messages wait in the event queue up to
/// `max_events`, the rest stays in the receive buffer, which the queued data counts
/// against, so the window closes and the sender stops. Nothing is dropped: once the
/// host polls again every message arrives, once and in order.
#[test]
fn events_past_max_events_wait_in_the_receive_window() {
    let cfg_b = SctpConfig {
        max_events: 8,
        receive_buffer: 64 * 1024,
        ..SctpConfig::default()
    };
    let (mut sim, a, b) = pair_with(44, lossy(0.02), SctpConfig::default(), cfg_b);
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    sim.endpoint_mut(b).hold_events = true;
    let n = 400u32;
    for i in 0..n {
        sim.endpoint_mut(a)
            .outbox
            .push_back((1, SendOptions::default(), small(i, 1000)));
    }
    let stop = sim.now() + Duration::from_secs(20);
    while sim.now() < stop {
        let next = sim.now() + Duration::from_millis(50);
        sim.run_until(next);
        let d = sim.endpoint(b).assoc.diagnostics();
        assert!(d.events <= 8, "events {}", d.events);
        assert!(d.receive_bytes <= 64 * 1024, "held {}", d.receive_bytes);
    }
    let (da, sb) = (
        sim.endpoint(a).assoc.diagnostics(),
        sim.endpoint(b).assoc.stats(),
    );
    assert_eq!(sim.endpoint(b).assoc.diagnostics().events, 8);
    assert!(
        da.send_queue_messages > 0,
        "the sender is held back by the window"
    );
    assert!(sb.local_rwnd < 64 * 1024 - 8 * 1000, "queued events count");
    assert!(sim.endpoint(a).closed().is_none() && sim.endpoint(b).closed().is_none());
    sim.endpoint_mut(b).hold_events = false;
    let now = sim.now();
    sim.endpoint_mut(b).pump(now);
    assert!(sim.run_until_pred(
        sim.now() + Duration::from_secs(60),
        |s| s.endpoint(b).got.len() == n as usize
    ));
    let got: Vec<u32> = sim.endpoint(b).got.iter().map(|m| index(&m.2)).collect();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

/// The peer resets a stream while the host is not polling: the messages sent on it
/// before the reset wait behind the full event queue, and the reset's event waits with
/// them, after the last (a data channel closed before its last messages would lose them).
#[test]
fn a_stream_reset_event_never_overtakes_the_messages_before_it() {
    let cfg_b = SctpConfig {
        max_events: 8,
        ..SctpConfig::default()
    };
    let (mut sim, a, b) = pair_with(46, lossy(0.0), SctpConfig::default(), cfg_b);
    assert!(sim.run_until_pred(Instant::from_secs(5), |s| s.endpoint(b).connected()));
    sim.endpoint_mut(b).hold_events = true;
    let n = 20u32;
    for i in 0..n {
        sim.endpoint_mut(a)
            .outbox
            .push_back((1, SendOptions::default(), small(i, 1000)));
    }
    let now = sim.now();
    sim.endpoint_mut(a).pump(now);
    sim.endpoint_mut(a).assoc.reset_stream(1).unwrap();
    let until = sim.now() + Duration::from_secs(5);
    sim.run_until(until);
    assert!(
        sim.endpoint(a)
            .events
            .iter()
            .any(|(_, e)| *e == SctpEvent::OutgoingStreamReset { stream: 1 }),
        "the reset was performed by the peer"
    );
    let order: Vec<Option<u32>> = std::iter::from_fn(|| sim.endpoint_mut(b).assoc.poll_event())
        .filter_map(|e| match e {
            SctpEvent::Message {
                stream: 1, data, ..
            } => Some(Some(index(&data))),
            SctpEvent::IncomingStreamReset { stream: 1 } => Some(None),
            _ => None,
        })
        .collect();
    let mut expected: Vec<Option<u32>> = (0..n).map(Some).collect();
    expected.push(None);
    assert_eq!(order, expected);
}

/// TSNs cross 2^32 in a transfer over 10 % loss, reordering and duplication (serial
/// arithmetic, RFC 9260 §1.6), with an unreliable stream beside the reliable one, so gap
/// blocks, fast retransmissions and FORWARD TSNs span the wrap too. The seed is one that
/// gives A an initial TSN 3,984 below the wrap (the test checks it).
#[test]
fn tsns_wrap_in_a_lossy_transfer() {
    let (mut sim, a, b) = pair(2_517_504, lossy(0.1), SctpConfig::default());
    sim.endpoint_mut(a).watch_tsns = Some(TsnWatch::default());
    let n = 512u32;
    let unreliable = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    for i in 0..n {
        let out = &mut sim.endpoint_mut(a).outbox;
        out.push_back((1, SendOptions::default(), message(i)));
        out.push_back((2, unreliable, small(i, 3000)));
    }
    let ok = sim.run_until_pred(Instant::from_secs(3600), |s| {
        s.endpoint(b).got.iter().filter(|m| m.0 == 1).count() == n as usize
    });
    assert!(ok, "the reliable stream completes");
    let w = sim.endpoint(a).watch_tsns.as_ref().unwrap();
    assert!(
        w.first.is_some_and(|t| t > u32::MAX - 10_000),
        "the seed no longer gives an initial TSN near the wrap: {w:?}"
    );
    assert!(w.low_after_high, "the TSNs crossed 2^32: {w:?}");
    let reliable: Vec<u32> = sim
        .endpoint(b)
        .got
        .iter()
        .filter(|m| m.0 == 1)
        .map(|m| check(&m.2))
        .collect();
    assert_eq!(
        reliable,
        (0..n).collect::<Vec<_>>(),
        "in order, exactly once"
    );
    let partial: Vec<u32> = sim
        .endpoint(b)
        .got
        .iter()
        .filter(|m| m.0 == 2)
        .map(|m| index(&m.2))
        .collect();
    assert!(
        partial.windows(2).all(|p| p[0] < p[1]),
        "ordered, no duplicates"
    );
    let st = sim.endpoint(a).assoc.stats();
    assert!(st.abandoned_messages > 0 && partial.len() < n as usize);
    // Each unreliable message arrived or was given up (some both: abandoned after it
    // arrived, its SACK lost).
    assert!(partial.len() as u64 + st.abandoned_messages >= u64::from(n));
}

/// Zero checksums (RFC 9653): when both ends announce them, the packets of the
/// established association carry checksum 0 both ways (the handshake keeps its CRC32c)
/// and a lossy transfer completes; when only one does, every packet keeps a correct
/// CRC32c (the other end would drop it otherwise) and the transfer completes too.
#[test]
fn zero_checksums_only_when_both_announce_them() {
    for (zero_a, zero_b) in [(true, true), (true, false), (false, true)] {
        let cfg = |zero_checksum| SctpConfig {
            zero_checksum,
            ..SctpConfig::default()
        };
        let (mut sim, a, b) = pair_with(47, lossy(0.1), cfg(zero_a), cfg(zero_b));
        let n = 64u32;
        for i in 0..n {
            sim.endpoint_mut(a)
                .outbox
                .push_back((1, SendOptions::default(), message(i)));
        }
        assert!(
            sim.run_until_pred(Instant::from_secs(600), |s| s.endpoint(b).got.len()
                == n as usize)
        );
        let got: Vec<u32> = sim.endpoint(b).got.iter().map(|m| check(&m.2)).collect();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        for node in [a, b] {
            let e = sim.endpoint(node);
            let st = e.assoc.stats();
            if zero_a && zero_b {
                // INIT or INIT ACK, COOKIE ECHO or COOKIE ACK: at most a few with a CRC.
                assert!(
                    e.other_sums <= 4,
                    "{zero_a} {zero_b}: {} with a CRC",
                    e.other_sums
                );
                assert!(e.zero_sums > 40, "{}", e.zero_sums);
            } else {
                assert_eq!(e.zero_sums, 0, "{zero_a} {zero_b}");
            }
            assert_eq!(st.dropped_packets, 0, "{zero_a} {zero_b}: nothing rejected");
        }
    }
}

/// Packets an association has to send now.
fn out(assoc: &mut Association, now: Instant) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 1500];
    let mut v = Vec::new();
    while let Some(n) = assoc.poll_transmit(now, &mut buf) {
        v.push(buf[..n].to_vec());
    }
    v
}

/// The chunk types of a packet.
fn chunk_types(p: &[u8]) -> Vec<u8> {
    let p = Packet::parse(p).unwrap();
    p.chunks().map(|c| c.unwrap().ty).collect()
}

fn events_of(assoc: &mut Association) -> Vec<SctpEvent> {
    std::iter::from_fn(|| assoc.poll_event()).collect()
}

fn raw(seed: u64, cfg: &SctpConfig) -> Association {
    Association::new(
        SctpConfig {
            rng: RngSource::Seeded(seed),
            ..cfg.clone()
        },
        Instant::ZERO,
    )
}

/// Max.Init.Retransmits (default 8): an INIT that is never answered is sent 1 + 8 times,
/// with the T1-init timeout doubling from RTO.Initial up to RTO.Max, and then the
/// association ends with `SetupTimeout`. The same holds for a COOKIE ECHO never
/// answered.
#[test]
fn unanswered_init_and_cookie_echo_give_up_after_max_init_retransmits() {
    let cfg = SctpConfig::default();
    assert_eq!(cfg.max_init_retransmits, 8);
    let mut a = raw(45, &cfg);
    a.connect(Instant::ZERO);
    let mut now = Instant::ZERO;
    let mut inits = Vec::new();
    loop {
        for p in out(&mut a, now) {
            assert_eq!(chunk_types(&p), [ct::INIT]);
            inits.push(now);
        }
        let Some(t) = a.poll_timeout() else { break };
        now = t;
        a.handle_timeout(now);
    }
    // 1 s, then doubling, capped at RTO.Max (10 s).
    let secs: Vec<u64> = inits.iter().map(|t| t.as_micros() / 1_000_000).collect();
    assert_eq!(secs, [0, 1, 3, 7, 15, 25, 35, 45, 55]);
    assert_eq!(now, Instant::from_secs(65));
    assert_eq!(
        events_of(&mut a),
        [SctpEvent::Closed(CloseReason::Error(
            SctpError::SetupTimeout
        ))]
    );
    assert!(a.is_closed() && a.poll_timeout().is_none());
    assert!(out(&mut a, now).is_empty());

    // INIT answered, COOKIE ECHO lost every time.
    let mut a = raw(46, &cfg);
    let mut b = raw(47, &cfg);
    a.connect(Instant::ZERO);
    let mut now = Instant::ZERO;
    for p in out(&mut a, now) {
        b.handle_receive(now, &p);
    }
    for p in out(&mut b, now) {
        a.handle_receive(now, &p);
    }
    let mut echoes = 0;
    loop {
        for p in out(&mut a, now) {
            assert_eq!(chunk_types(&p), [ct::COOKIE_ECHO]);
            echoes += 1;
        }
        let Some(t) = a.poll_timeout() else { break };
        now = t;
        a.handle_timeout(now);
    }
    assert_eq!(echoes, 9);
    assert_eq!(
        events_of(&mut a),
        [SctpEvent::Closed(CloseReason::Error(
            SctpError::SetupTimeout
        ))]
    );
    assert!(events_of(&mut b).is_empty(), "b never had an association");
}

/// Valid.Cookie.Life (default 60 s): a COOKIE ECHO whose cookie is older than that is
/// refused with an ERROR carrying a Stale Cookie cause (RFC 9260 §5.1.5, §3.3.10.3: the
/// measure of staleness is the time since the cookie expired, in microseconds) and
/// sets nothing up. The sender then asks for a fresh cookie with a new INIT (§5.2.6)
/// and the association comes up. A cookie exactly `cookie_lifetime` old is accepted.
#[test]
fn a_stale_cookie_echo_is_refused() {
    let cfg = SctpConfig::default();
    assert_eq!(cfg.cookie_lifetime, Duration::from_secs(60));
    let mut a = raw(48, &cfg);
    let mut b = raw(49, &cfg);
    a.connect(Instant::ZERO);
    let t0 = Instant::ZERO;
    for p in out(&mut a, t0) {
        b.handle_receive(t0, &p);
    }
    for p in out(&mut b, t0) {
        a.handle_receive(t0, &p);
    }
    let echo = out(&mut a, t0);
    assert_eq!(echo.len(), 1);
    assert_eq!(chunk_types(&echo[0]), [ct::COOKIE_ECHO]);

    // Delivered 61 s later.
    let late = Instant::from_secs(61);
    b.handle_receive(late, &echo[0]);
    let answer = out(&mut b, late);
    assert_eq!(answer.len(), 1, "one ERROR, no COOKIE ACK");
    let p = Packet::parse(&answer[0]).unwrap();
    assert_eq!(p.verification_tag, a.verification_tags().0);
    let chunk = p.chunks().next().unwrap().unwrap();
    assert_eq!(chunk.ty, ct::ERROR);
    let causes: Vec<_> = Tlvs::new(chunk.value).map(Result::unwrap).collect();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].ty, cause::STALE_COOKIE);
    assert_eq!(
        causes[0].value,
        1_000_000u32.to_be_bytes(),
        "expired 1 s ago"
    );
    assert!(!b.is_established());
    assert!(events_of(&mut b).is_empty(), "no Connected");
    assert!(
        b.send(0, 51, b"x", SendOptions::default()).is_ok(),
        "b is still only queueing"
    );
    assert!(!b.is_established());

    // The sender starts over with a new INIT and a fresh cookie.
    a.handle_receive(late, &answer[0]);
    let init = out(&mut a, late);
    assert_eq!(init.len(), 1);
    assert_eq!(chunk_types(&init[0]), [ct::INIT]);
    b.handle_receive(late, &init[0]);
    for _ in 0..4 {
        for p in out(&mut b, late) {
            a.handle_receive(late, &p);
        }
        for p in out(&mut a, late) {
            b.handle_receive(late, &p);
        }
    }
    assert!(a.is_established() && b.is_established());
    assert_eq!(
        events_of(&mut a),
        [
            SctpEvent::Connected,
            SctpEvent::Message {
                stream: 0,
                ppid: 51,
                data: b"x".to_vec()
            }
        ],
        "and b's queued message follows"
    );
    let eb = events_of(&mut b);
    assert_eq!(eb.first(), Some(&SctpEvent::Connected));
    assert_eq!(eb.iter().filter(|e| **e == SctpEvent::Connected).count(), 1);

    // At exactly the lifetime, the cookie is still good.
    let mut a = raw(50, &cfg);
    let mut b = raw(51, &cfg);
    a.connect(t0);
    for p in out(&mut a, t0) {
        b.handle_receive(t0, &p);
    }
    for p in out(&mut b, t0) {
        a.handle_receive(t0, &p);
    }
    let echo = out(&mut a, t0);
    let edge = t0 + cfg.cookie_lifetime;
    b.handle_receive(edge, &echo[0]);
    let answer = out(&mut b, edge);
    assert_eq!(chunk_types(&answer[0]), [ct::COOKIE_ACK]);
    assert!(b.is_established());
}
