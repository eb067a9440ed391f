//! Shared harness of the robustness scenarios (`tests/hostile.rs`, `tests/faults.rs`,
//! `tests/soak.rs`): two peer connections in the simulated network that exchange
//! numbered, checksummed messages on a reliable channel (and optionally audio and
//! video), record what they send and to whom, and keep the high-water mark of their
//! diagnostics.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::OnceLock;

use sansrtc::datachannel::ChannelConfig;
use sansrtc::dtls::DtlsCertificate;
use sansrtc::ice::{Candidate, IceConnectionState};
use sansrtc::jsep::{Direction, MediaKind};
use sansrtc::net::{DatagramKind, demux};
use sansrtc::rtc::{
    ChannelId, MediaId, Rtc, RtcCloseReason, RtcConfig, RtcDiagnostics, RtcError, RtcEvent,
    RtcState, RtpWrite,
};
use sansrtc::sim::{Endpoint, LinkConfig, NatConfig, NatId, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource, Transmit};

/// Writes a line to stderr past the test harness's capture (libtest captures only the
/// print macros): skips and warnings must show in a plain `cargo test` run.
pub fn loud(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

pub const AUDIO_PT: u8 = 111;
pub const VIDEO_PT: u8 = 96;

/// The content of message `seq` on a channel: its number, then bytes derived from it.
pub fn message(seq: u64, size: usize) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while m.len() < size.max(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m.push(x as u8);
    }
    m
}

/// Size of message `seq` (varies from 8 to 1,500 bytes, some over one packet).
pub fn message_size(seq: u64) -> usize {
    8 + (seq.wrapping_mul(7919) % 1493) as usize
}

/// What a peer sends on its channel.
#[derive(Debug, Clone, Default)]
pub struct SendPlan {
    /// Messages still to send (`u64::MAX`: forever).
    pub remaining: u64,
    /// Next message number.
    pub next_seq: u64,
    /// Interval between messages; zero sends as fast as the buffer takes them.
    pub interval: Duration,
    pub next_at: Option<Instant>,
    /// `send` refusals (buffer full), and the last error.
    pub refused: u64,
    pub last_error: Option<RtcError>,
}

/// What a peer received on its channel: every message must be the next number, with
/// the right content (ordered, reliable: nothing lost, nothing duplicated).
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub count: u64,
    pub bytes: u64,
    /// Messages that were not the expected next one or had the wrong content.
    pub wrong: u64,
    pub first_wrong: Option<String>,
}

/// Audio (20 ms) and video (30 fps, three packets a frame) sending.
#[derive(Debug, Clone, Default)]
pub struct MediaPlan {
    pub audio: Option<MediaId>,
    pub video: Option<MediaId>,
    pub next_audio: Option<Instant>,
    pub next_video: Option<Instant>,
    pub audio_sent: u64,
    pub video_sent: u64,
    /// Writes refused (closed connection, queue full).
    pub refused: u64,
    pub on: bool,
    /// Sequence numbers of the first packets (audio, video), to make them wrap early;
    /// `None` lets the stack choose.
    pub seq_start: Option<(u16, u16)>,
}

/// One record of a datagram a node sent.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    pub at: Instant,
    pub destination: SocketAddr,
    pub size: usize,
    pub kind: DatagramKind,
    pub first: u8,
}

/// A peer connection with its application.
pub struct Node {
    pub rtc: Rtc,
    pub name: &'static str,
    pub chan: Option<ChannelId>,
    pub open: bool,
    pub send: SendPlan,
    pub recv: Received,
    pub media: MediaPlan,
    pub media_rtp_in: u64,
    /// Lowest and highest extended RTP sequence numbers received, and packets received,
    /// per kind (audio, video).
    pub ext_seq_max: [u64; 2],
    pub ext_seq_min: [u64; 2],
    pub rtp_in: [u64; 2],
    pub states: Vec<(Instant, RtcState)>,
    pub ice_states: Vec<(Instant, IceConnectionState)>,
    pub selected_changes: u64,
    pub closed: Option<RtcCloseReason>,
    pub buffered_low: u64,
    /// Datagrams to send before the peer connection's own (a test plays an attacker
    /// sharing this node's address).
    pub inject: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Outgoing datagrams for which this returns `true` are dropped (a peer that stops
    /// sending some kind of packet).
    pub drop_out: Option<fn(&[u8]) -> bool>,
    /// Every datagram sent, when `log` is on.
    pub log: bool,
    pub sent: Vec<Sent>,
    /// Datagrams sent to addresses outside `peer_addrs` (always recorded).
    pub peer_addrs: Vec<SocketAddr>,
    pub to_strangers: Vec<Sent>,
    /// Copies of the next `capture` SRTP/SRTCP datagrams sent (replay material).
    pub capture: usize,
    pub captured: Vec<Vec<u8>>,
    /// High-water mark of the diagnostics, sampled after every input.
    pub diag_max: RtcDiagnostics,
    pub sample_diag: bool,
    pub now: Instant,
    /// Largest message size (both ends must agree): message `seq` has
    /// `message_size(seq).min(size_cap)` bytes.
    pub size_cap: usize,
}

impl Node {
    pub fn new(rtc: Rtc, name: &'static str) -> Node {
        Node {
            rtc,
            name,
            chan: None,
            open: false,
            send: SendPlan::default(),
            recv: Received::default(),
            media: MediaPlan::default(),
            media_rtp_in: 0,
            ext_seq_max: [0; 2],
            ext_seq_min: [u64::MAX; 2],
            rtp_in: [0; 2],
            states: Vec::new(),
            ice_states: Vec::new(),
            selected_changes: 0,
            closed: None,
            buffered_low: 0,
            inject: VecDeque::new(),
            drop_out: None,
            log: false,
            sent: Vec::new(),
            peer_addrs: Vec::new(),
            to_strangers: Vec::new(),
            capture: 0,
            captured: Vec::new(),
            diag_max: RtcDiagnostics::default(),
            sample_diag: true,
            now: Instant::ZERO,
            size_cap: usize::MAX,
        }
    }

    pub fn connected(&self) -> bool {
        self.rtc.state() == RtcState::Connected
    }

    /// Takes every event and reacts to it.
    pub fn collect(&mut self) {
        while let Some(e) = self.rtc.poll_event() {
            match e {
                RtcEvent::ChannelOpen { id, .. } if self.chan.is_none_or(|c| c == id) => {
                    self.chan = Some(id);
                    self.open = true;
                }
                RtcEvent::ChannelData { id, data, .. } if Some(id) == self.chan => {
                    let seq = self.recv.count;
                    if data != message(seq, message_size(seq).min(self.size_cap)) {
                        self.recv.wrong += 1;
                        if self.recv.first_wrong.is_none() {
                            let got = data
                                .get(..8)
                                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                                .map(u64::from_le_bytes);
                            self.recv.first_wrong =
                                Some(format!("expected message {seq}, got number {got:?}"));
                        }
                    }
                    self.recv.count += 1;
                    self.recv.bytes += data.len() as u64;
                }
                RtcEvent::ChannelBufferedAmountLow(_) => self.buffered_low += 1,
                RtcEvent::StateChange(s) => self.states.push((self.now, s)),
                RtcEvent::IceStateChange(s) => self.ice_states.push((self.now, s)),
                RtcEvent::SelectedPairChange(_) => self.selected_changes += 1,
                RtcEvent::Closed { reason } => self.closed = Some(reason),
                RtcEvent::MediaAdded { id, kind, .. } => match kind {
                    MediaKind::Audio => self.media.audio = Some(id),
                    MediaKind::Video => self.media.video = Some(id),
                    _ => {}
                },
                RtcEvent::MediaRtp(p) => {
                    self.media_rtp_in += 1;
                    let i = usize::from(Some(p.media) == self.media.video);
                    if let Some(m) = self.ext_seq_max.get_mut(i) {
                        *m = (*m).max(p.sequence_number);
                    }
                    if let Some(m) = self.ext_seq_min.get_mut(i) {
                        *m = (*m).min(p.sequence_number);
                    }
                    if let Some(m) = self.rtp_in.get_mut(i) {
                        *m += 1;
                    }
                }
                _ => {}
            }
        }
        if self.sample_diag {
            self.diag_max = self.diag_max.max(&self.rtc.diagnostics());
        }
    }

    /// Sends what the plans say is due.
    fn app(&mut self, now: Instant) {
        if self.open
            && self.send.remaining > 0
            && self.send.next_at.is_none_or(|t| now >= t)
            && let Some(id) = self.chan
        {
            // As many as are due (one per interval), or as many as fit.
            let burst = if self.send.interval.is_zero() { 64 } else { 1 };
            for _ in 0..burst {
                if self.send.remaining == 0 {
                    break;
                }
                let seq = self.send.next_seq;
                let r = match self.rtc.channel(id) {
                    Some(mut ch) => {
                        ch.send_binary(&message(seq, message_size(seq).min(self.size_cap)))
                    }
                    None => Err(RtcError::NoChannel(id)),
                };
                match r {
                    Ok(()) => {
                        self.send.next_seq += 1;
                        self.send.remaining = self.send.remaining.saturating_sub(1);
                    }
                    Err(e) => {
                        self.send.refused += 1;
                        self.send.last_error = Some(e);
                        break;
                    }
                }
            }
            let step = if self.send.interval.is_zero() {
                Duration::from_millis(5)
            } else {
                self.send.interval
            };
            self.send.next_at = Some(self.send.next_at.unwrap_or(now).max(now - step) + step);
        }
        self.send_media(now);
    }

    fn send_media(&mut self, now: Instant) {
        if !self.media.on || self.rtc.state() == RtcState::Closed {
            return;
        }
        if let Some(audio) = self.media.audio
            && self.media.next_audio.is_none_or(|t| now >= t)
            && self.connected()
        {
            let ts = (self.media.audio_sent as u32).wrapping_mul(960);
            let payload = [self.media.audio_sent as u8; 80];
            let mut wr = RtpWrite::new(AUDIO_PT, ts, false, &payload);
            wr.sequence_number = self
                .media
                .seq_start
                .map(|(a, _)| a.wrapping_add(self.media.audio_sent as u16));
            let ok = self.rtc.media(audio).map(|mut m| m.write_rtp(now, wr));
            match ok {
                Some(Ok(())) => self.media.audio_sent += 1,
                _ => self.media.refused += 1,
            }
            let next = self.media.next_audio.unwrap_or(now) + Duration::from_millis(20);
            self.media.next_audio = Some(next.max(now));
        }
        if let Some(video) = self.media.video
            && self.media.next_video.is_none_or(|t| now >= t)
            && self.connected()
        {
            let frame = self.media.video_sent / 3;
            let ts = (frame as u32).wrapping_mul(3000);
            for i in 0..3u64 {
                let payload = vec![(self.media.video_sent + i) as u8; 900];
                let ok = self
                    .rtc
                    .media(video)
                    .map(|mut m| m.write_rtp(now, RtpWrite::new(VIDEO_PT, ts, i == 2, &payload)));
                match ok {
                    Some(Ok(())) => self.media.video_sent += 1,
                    _ => self.media.refused += 1,
                }
            }
            let next = self.media.next_video.unwrap_or(now) + Duration::from_micros(33_333);
            self.media.next_video = Some(next.max(now));
        }
    }

    fn record(&mut self, now: Instant, t: &Transmit, data: &[u8]) {
        let s = Sent {
            at: now,
            destination: t.destination,
            size: t.size,
            kind: demux(data),
            first: data.first().copied().unwrap_or(0),
        };
        if self.log {
            self.sent.push(s);
        }
        if !self.peer_addrs.contains(&t.destination) {
            self.to_strangers.push(s);
        }
    }
}

impl Endpoint for Node {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.now = now;
        self.rtc.handle_receive(now, rx);
        self.collect();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.rtc.poll_timeout().is_some_and(|t| t <= now) {
            self.rtc.handle_timeout(now);
        }
        self.collect();
        self.app(now);
        self.collect();
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.now = now;
        if let Some((source, destination, data)) = self.inject.pop_front() {
            let dst = buf.get_mut(..data.len())?;
            dst.copy_from_slice(&data);
            return Some(Transmit {
                proto: Protocol::Udp,
                source,
                destination,
                size: data.len(),
            });
        }
        loop {
            let t = self.rtc.poll_transmit(now, buf)?;
            let data = buf.get(..t.size).unwrap_or_default();
            if self.drop_out.is_some_and(|f| f(data)) {
                continue;
            }
            let data = data.to_vec();
            self.record(now, &t, &data);
            if self.capture > 0 && demux(&data) == DatagramKind::Rtp {
                self.capture -= 1;
                self.captured.push(data);
            }
            self.collect();
            return Some(t);
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t = self.rtc.poll_timeout();
        let mut app = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if self.open && self.send.remaining > 0 {
            app(Some(self.send.next_at.unwrap_or(self.now)));
        }
        if self.media.on && self.connected() {
            if self.media.audio.is_some() {
                app(Some(self.media.next_audio.unwrap_or(self.now)));
            }
            if self.media.video.is_some() {
                app(Some(self.media.next_video.unwrap_or(self.now)));
            }
        }
        t
    }
}

pub fn certs() -> &'static [DtlsCertificate; 2] {
    static C: OnceLock<[DtlsCertificate; 2]> = OnceLock::new();
    C.get_or_init(|| std::array::from_fn(|_| DtlsCertificate::generate().unwrap()))
}

pub const A_ADDR: &str = "192.0.2.1:5000";
pub const B_ADDR: &str = "192.0.2.2:6000";
pub const B_PRIVATE: &str = "10.0.0.2:6000";
pub const B_NAT_IP: &str = "198.51.100.1";

/// How to build a world.
#[derive(Clone)]
pub struct Options {
    pub seed: u64,
    pub link: LinkConfig,
    /// Audio and video transceivers too.
    pub media: bool,
    /// B sits behind a NAT (endpoint-independent mapping, address-dependent filtering).
    pub b_behind_nat: bool,
    /// A offers (A is ICE-controlling and the DTLS server).
    pub a_offers: bool,
    pub config: fn(&mut RtcConfig),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            link: LinkConfig {
                latency: Duration::from_millis(20),
                ..LinkConfig::default()
            },
            media: false,
            b_behind_nat: false,
            a_offers: true,
            config: |_| {},
        }
    }
}

pub struct World {
    pub sim: Sim<Node>,
    pub a: NodeId,
    pub b: NodeId,
    pub nat: Option<NatId>,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn new_rtc(seed: u64, cert: usize, host: SocketAddr, config: fn(&mut RtcConfig)) -> Rtc {
    let mut cfg = RtcConfig {
        rng: RngSource::Seeded(seed),
        certificate: Some(certs()[cert].clone()),
        ..RtcConfig::default()
    };
    config(&mut cfg);
    let mut r = Rtc::new(cfg, Instant::ZERO).unwrap();
    r.add_local_candidate(Candidate::host(host, Protocol::Udp))
        .unwrap();
    r
}

/// Two peer connections, negotiated (a data channel from A, media if asked), not yet
/// connected.
pub fn world(o: Options) -> World {
    let a_host = addr(A_ADDR);
    let b_host = if o.b_behind_nat {
        addr(B_PRIVATE)
    } else {
        addr(B_ADDR)
    };
    let mut ra = new_rtc(o.seed, 0, a_host, o.config);
    let mut rb = new_rtc(o.seed + 1000, 1, b_host, o.config);
    let chan = ra
        .create_data_channel(ChannelConfig {
            label: "data".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    let (mut audio, mut video) = (None, None);
    if o.media {
        audio = Some(ra.add_media(MediaKind::Audio, Direction::SendRecv).unwrap());
        video = Some(ra.add_media(MediaKind::Video, Direction::SendRecv).unwrap());
    }
    let now = Instant::ZERO;
    if o.a_offers {
        let offer = ra.create_offer(now).unwrap();
        let answer = rb.accept_offer(now, &offer).unwrap();
        ra.accept_answer(now, &answer).unwrap();
    } else {
        let offer = rb.create_offer(now).unwrap();
        let answer = ra.accept_offer(now, &offer).unwrap();
        rb.accept_answer(now, &answer).unwrap();
    }
    let mut na = Node::new(ra, "A");
    na.chan = Some(chan);
    na.media.audio = audio;
    na.media.video = video;
    na.media.on = o.media;
    let mut nb = Node::new(rb, "B");
    nb.media.on = o.media;
    nb.collect();
    na.peer_addrs = vec![addr(B_ADDR), b_host];
    nb.peer_addrs = vec![a_host];
    let mut sim = Sim::new(o.seed);
    sim.set_default_link(o.link);
    let a = sim.add_endpoint(a_host.ip(), na);
    let (b, nat) = if o.b_behind_nat {
        let nat = sim.add_nat(
            B_NAT_IP.parse().unwrap(),
            NatConfig {
                mapping: sansrtc::sim::NatBehavior::EndpointIndependent,
                filtering: sansrtc::sim::NatBehavior::AddressDependent,
                ..NatConfig::default()
            },
        );
        (sim.add_endpoint_behind(nat, b_host.ip(), nb), Some(nat))
    } else {
        (sim.add_endpoint(b_host.ip(), nb), None)
    };
    World { sim, a, b, nat }
}

impl World {
    pub fn a(&self) -> &Node {
        self.sim.endpoint(self.a)
    }
    pub fn b(&self) -> &Node {
        self.sim.endpoint(self.b)
    }
    pub fn a_mut(&mut self) -> &mut Node {
        self.sim.endpoint_mut(self.a)
    }
    pub fn b_mut(&mut self) -> &mut Node {
        self.sim.endpoint_mut(self.b)
    }

    /// Runs until both are connected and both ends of the channel are open.
    pub fn connect(&mut self, within: Duration) {
        let (a, b) = (self.a, self.b);
        let deadline = self.sim.now() + within;
        let ok = self.sim.run_until_pred(deadline, |s| {
            let (x, y) = (s.endpoint(a), s.endpoint(b));
            x.connected() && y.connected() && x.open && y.open
        });
        assert!(
            ok,
            "connected within {within:?}: A {:?} {:?} open {}, B {:?} {:?} open {}",
            self.a().rtc.state(),
            self.a().closed,
            self.a().open,
            self.b().rtc.state(),
            self.b().closed,
            self.b().open
        );
    }

    /// Both ends send `n` more messages every `interval`.
    pub fn stream_both(&mut self, n: u64, interval: Duration) {
        for id in [self.a, self.b] {
            let node = self.sim.endpoint_mut(id);
            node.send.remaining = node.send.remaining.saturating_add(n);
            node.send.interval = interval;
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let t = self.sim.now() + d;
        self.sim.run_until(t);
    }

    /// Runs until each end received everything the other sent (up to `within`), and
    /// checks it all arrived in order and intact.
    pub fn assert_all_delivered(&mut self, within: Duration) {
        let (a, b) = (self.a, self.b);
        let deadline = self.sim.now() + within;
        let done = |s: &Sim<Node>| {
            let (x, y) = (s.endpoint(a), s.endpoint(b));
            x.send.remaining == 0
                && y.send.remaining == 0
                && y.recv.count == x.send.next_seq
                && x.recv.count == y.send.next_seq
        };
        let ok = self.sim.run_until_pred(deadline, done);
        for (from, to) in [(self.a(), self.b()), (self.b(), self.a())] {
            assert_eq!(
                to.recv.wrong, 0,
                "{}→{}: {:?}",
                from.name, to.name, to.recv.first_wrong
            );
            assert!(
                ok,
                "{}→{}: sent {} (left {}), received {} within {within:?}; {:?} {:?}",
                from.name,
                to.name,
                from.send.next_seq,
                from.send.remaining,
                to.recv.count,
                from.rtc.state(),
                to.closed
            );
        }
    }

    /// Sends `n` more messages each way and checks they all arrive: the connection
    /// still carries data.
    pub fn assert_data_flows(&mut self, n: u64) {
        self.stream_both(n, Duration::from_millis(10));
        self.assert_all_delivered(Duration::from_secs(60));
    }
}

/// Bytes sent to stranger addresses that are not a STUN error response no larger than
/// what `request_size` says the stranger sent: the no-amplification rule.
pub fn stun_class(b: &[u8]) -> Option<u16> {
    (b.len() >= 20 && b.first().is_some_and(|x| *x < 4))
        .then(|| u16::from_be_bytes([b[0], b[1]]) & 0x0110)
}
