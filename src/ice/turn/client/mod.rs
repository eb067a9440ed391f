//! The TURN client (RFC 8656): one allocation on one server, kept alive, with
//! permissions and channels towards the peers the ICE agent talks to. Sans-IO: bytes to
//! the server come out of `poll_transmit`, bytes from it go in with `handle_input`, and
//! every retransmission and refresh runs from `tick` at `poll_timeout`.

use std::collections::VecDeque;

use core::net::{IpAddr, SocketAddr};

use crate::net::{Protocol, Receive, Transmit};
use crate::rng::Rng;
use crate::time::{Duration, Instant, earliest};

mod data;
mod rx;

use super::channel_data;
use super::stream::Framer;
use super::tls::TlsStream;
use super::url::{IceServerUrl, TurnTransport};
use super::{TurnError, TurnStats};
use crate::ice::stun::{self, IntegrityKey, MessageClass};

/// RFC 8489 §6.2.2: a transaction over a reliable transport times out after Ti = 39.5 s.
const STREAM_TIMEOUT: Duration = Duration::from_millis(39_500);
/// REQUESTED-TRANSPORT: UDP (RFC 8656 §18.6, protocol number 17).
const UDP_PROTOCOL: u8 = 17;
/// Most retries of one request after 401/438 before giving up.
const MAX_AUTH_RETRIES: u8 = 3;

/// Timers and bounds of a client (from `IceConfig`).
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub rto_initial: Duration,
    pub rto_max: Duration,
    pub max_retransmits: u32,
    pub lifetime: Duration,
    pub permission_refresh: Duration,
    pub channel_refresh: Duration,
    pub max_permissions: usize,
    pub max_channels: usize,
    pub max_pending: usize,
    pub stream_buffer: usize,
    pub software: Option<String>,
}

/// Where the allocation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// UDP: no host socket of the server's family yet.
    WaitingSocket,
    /// Ready to send the first Allocate at the next tick.
    Idle,
    /// Allocate in flight.
    Allocating,
    /// Relayed address known; refreshed before it expires.
    Allocated,
    /// Gave up (the error was reported).
    Failed,
    /// Deallocated on close.
    Closed,
}

/// What the client tells the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientEvent {
    /// The allocation succeeded (RFC 8656 §7.3): relayed and server-reflexive addresses.
    Allocated {
        relayed: SocketAddr,
        mapped: Option<SocketAddr>,
    },
    /// Something failed; the allocation may be gone (see the state).
    Error(TurnError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Allocate,
    Refresh { lifetime: u32 },
    Permission { ip: IpAddr },
    ChannelBind { channel: u16, peer: SocketAddr },
}

#[derive(Debug)]
struct Tx {
    tid: [u8; 12],
    kind: TxKind,
    bytes: Vec<u8>,
    authed: bool,
    auth_retries: u8,
    next: Instant,
    rto: Duration,
    retransmits: u32,
}

#[derive(Debug, Clone)]
struct Permission {
    ip: IpAddr,
    installed: bool,
    in_flight: bool,
    refresh_at: Instant,
}

#[derive(Debug, Clone)]
struct Binding {
    channel: u16,
    peer: SocketAddr,
    bound: bool,
    in_flight: bool,
    refresh_at: Instant,
}

/// The TLS connection or plain TCP framing of a stream transport.
#[derive(Debug)]
struct Stream {
    tls: Option<TlsStream>,
    framer: Framer,
}

/// One TURN allocation.
#[derive(Debug)]
pub(crate) struct TurnClient {
    pub url: IceServerUrl,
    pub server: SocketAddr,
    username: String,
    password: String,
    realm: Option<String>,
    nonce: Option<String>,
    key: Option<IntegrityKey>,
    /// UDP: the host socket used to reach the server.
    pub local: Option<SocketAddr>,
    pub state: State,
    pub relayed: Option<SocketAddr>,
    pub mapped: Option<SocketAddr>,
    expires: Instant,
    refresh_at: Option<Instant>,
    txs: Vec<Tx>,
    perms: Vec<Permission>,
    channels: Vec<Binding>,
    next_channel: u16,
    /// Datagrams for peers whose permission is being created (bounded).
    pending: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Frames for the server (UDP datagrams or stream chunks), bounded.
    out: VecDeque<Vec<u8>>,
    stream: Option<Stream>,
    cfg: ClientConfig,
    events: VecDeque<ClientEvent>,
    pub stats: TurnStats,
    /// The relayed candidate was added to the agent.
    pub candidate_added: bool,
}

impl TurnClient {
    /// A client for `url` (its address known). TLS needs `tls`, a rustls configuration.
    pub fn new(
        url: IceServerUrl,
        server: SocketAddr,
        username: String,
        password: String,
        tls: Option<Result<std::sync::Arc<rustls::ClientConfig>, String>>,
        cfg: ClientConfig,
        now: Instant,
    ) -> Self {
        let mut events = VecDeque::new();
        let mut state = match url.transport {
            TurnTransport::Udp => State::WaitingSocket,
            _ => State::Idle,
        };
        let stream = match url.transport {
            TurnTransport::Udp => None,
            TurnTransport::Tcp => Some(Stream {
                tls: None,
                framer: Framer::new(cfg.stream_buffer),
            }),
            TurnTransport::Tls => {
                let tls = match tls {
                    Some(Ok(c)) => TlsStream::new(c, &url.host, cfg.stream_buffer),
                    Some(Err(e)) => Err(e),
                    None => Err("no TLS configuration".to_owned()),
                };
                match tls {
                    Ok(t) => Some(Stream {
                        tls: Some(t),
                        framer: Framer::new(cfg.stream_buffer),
                    }),
                    Err(e) => {
                        state = State::Failed;
                        events.push_back(ClientEvent::Error(TurnError::Tls(e)));
                        None
                    }
                }
            }
        };
        let stats = TurnStats {
            url: url.to_string(),
            ..TurnStats::default()
        };
        TurnClient {
            url,
            server,
            username,
            password,
            realm: None,
            nonce: None,
            key: None,
            local: None,
            state,
            relayed: None,
            mapped: None,
            expires: now,
            refresh_at: None,
            txs: Vec::new(),
            perms: Vec::new(),
            channels: Vec::new(),
            next_channel: channel_data::CHANNEL_MIN,
            pending: VecDeque::new(),
            out: VecDeque::new(),
            stream,
            cfg,
            events,
            stats,
            candidate_added: false,
        }
    }

    /// True for TCP and TLS.
    pub fn is_stream(&self) -> bool {
        self.url.transport != TurnTransport::Udp
    }

    /// The transport the host uses to reach the server.
    pub fn proto(&self) -> Protocol {
        if self.is_stream() {
            Protocol::Tcp
        } else {
            Protocol::Udp
        }
    }

    /// The source address of transmits to the server: the host socket (UDP), or the
    /// unspecified address (TCP: "the connection to `destination`").
    fn source(&self) -> SocketAddr {
        match (self.local, self.server) {
            (Some(l), _) if !self.is_stream() => l,
            (_, SocketAddr::V4(_)) => SocketAddr::from(([0u8; 4], 0)),
            (_, SocketAddr::V6(_)) => SocketAddr::from(([0u16; 8], 0)),
        }
    }

    /// True when `rx` came from this server on the transport it is reached by.
    pub fn is_from_server(&self, rx: &Receive<'_>) -> bool {
        rx.source == self.server
            && rx.proto == self.proto()
            && (self.is_stream() || Some(rx.destination) == self.local)
            && !matches!(self.state, State::WaitingSocket)
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn error(&mut self, e: TurnError) {
        tracing::debug!(url = %self.url, error = %e, "turn error");
        self.stats.errors += 1;
        self.events.push_back(ClientEvent::Error(e));
    }

    fn fail(&mut self, e: TurnError) {
        self.state = State::Failed;
        self.txs.clear();
        self.pending.clear();
        self.error(e);
    }

    /// The host socket to use (UDP), once the agent has one of the server's family.
    pub fn set_local(&mut self, local: SocketAddr) {
        if self.state == State::WaitingSocket {
            self.local = Some(local);
            self.state = State::Idle;
        }
    }

    // ---- output

    /// Queues one frame for the server (a STUN message or framed data).
    fn emit(&mut self, bytes: &[u8]) {
        match self.stream.as_mut().and_then(|s| s.tls.as_mut()) {
            Some(tls) => {
                if !tls.write_plain(bytes) {
                    self.stats.dropped += 1;
                }
            }
            None => {
                if self.out.len() >= self.cfg.max_pending.max(16) * 2 {
                    self.stats.dropped += 1;
                    return;
                }
                self.out.push_back(bytes.to_vec());
            }
        }
    }

    /// The next chunk for the server, written into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let (proto, source, destination) = (self.proto(), self.source(), self.server);
        if let Some(tls) = self.stream.as_mut().and_then(|s| s.tls.as_mut()) {
            let n = tls.write_tls(buf);
            return (n > 0).then_some(Transmit {
                proto,
                source,
                destination,
                size: n,
            });
        }
        while let Some(bytes) = self.out.pop_front() {
            let Some(dst) = buf.get_mut(..bytes.len()) else {
                self.stats.dropped += 1;
                continue;
            };
            dst.copy_from_slice(&bytes);
            return Some(Transmit {
                proto,
                source,
                destination,
                size: bytes.len(),
            });
        }
        None
    }

    // ---- requests

    fn new_tid(rng: &mut Rng) -> [u8; 12] {
        let mut t = [0u8; 12];
        rng.fill(&mut t);
        t
    }

    /// Builds, encodes and sends a request, recording its transaction.
    fn request(&mut self, now: Instant, rng: &mut Rng, kind: TxKind, auth_retries: u8) {
        let tid = Self::new_tid(rng);
        let method = match kind {
            TxKind::Allocate => stun::ALLOCATE,
            TxKind::Refresh { .. } => stun::REFRESH,
            TxKind::Permission { .. } => stun::CREATE_PERMISSION,
            TxKind::ChannelBind { .. } => stun::CHANNEL_BIND,
        };
        let mut m = stun::message(MessageClass::Request, method, tid);
        match kind {
            TxKind::Allocate => {
                m.add_attribute(stun::RequestedTransport::new(UDP_PROTOCOL));
            }
            TxKind::Refresh { lifetime } => {
                m.add_attribute(stun::Lifetime::from_u32(lifetime));
            }
            TxKind::Permission { ip } => {
                m.add_attribute(stun::XorPeerAddress::new(SocketAddr::new(ip, 0)));
            }
            TxKind::ChannelBind { channel, peer } => {
                let Ok(c) = stun::ChannelNumber::new(channel) else {
                    return;
                };
                m.add_attribute(c);
                m.add_attribute(stun::XorPeerAddress::new(peer));
            }
        }
        if let Some(s) = &self.cfg.software
            && let Ok(sw) = stun::Software::new(s.clone())
        {
            m.add_attribute(sw);
        }
        // RFC 8489 §9.2.4: once the realm and nonce are known, every request carries
        // USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
        let authed = match (&self.realm, &self.nonce, &self.key) {
            (Some(realm), Some(nonce), Some(_)) => {
                let (Ok(u), Ok(r), Ok(n)) = (
                    stun::Username::new(self.username.clone()),
                    stun::Realm::new(realm.clone()),
                    stun::Nonce::new(nonce.clone()),
                ) else {
                    self.fail(TurnError::WrongCredentials);
                    return;
                };
                m.add_attribute(u);
                m.add_attribute(r);
                m.add_attribute(n);
                true
            }
            _ => false,
        };
        let key = if authed { self.key.clone() } else { None };
        let mut buf = [0u8; 1024];
        let Ok(n) = stun::encode(m, key.as_ref(), true, &mut buf) else {
            return;
        };
        let max_txs = 8 + self.cfg.max_permissions + self.cfg.max_channels;
        if self.txs.len() >= max_txs {
            self.stats.dropped += 1;
            return;
        }
        let bytes = buf.get(..n).unwrap_or_default().to_vec();
        self.emit(&bytes);
        // RFC 8489 §6.2.1: retransmit over UDP from RTO, doubling; over a stream, wait Ti.
        let rto = if self.is_stream() {
            STREAM_TIMEOUT
        } else {
            self.cfg.rto_initial
        };
        self.txs.push(Tx {
            tid,
            kind,
            bytes,
            authed,
            auth_retries,
            next: now + rto,
            rto,
            retransmits: 0,
        });
    }

    // ---- timers

    pub fn tick(&mut self, now: Instant, rng: &mut Rng) {
        if self.state == State::Idle {
            // RFC 8656 §7.1: the first Allocate goes without credentials; the 401
            // answer gives the realm and nonce.
            self.state = State::Allocating;
            self.request(now, rng, TxKind::Allocate, 0);
            return;
        }
        self.run_transactions(now);
        if self.state != State::Allocated {
            return;
        }
        if now >= self.expires {
            self.fail(TurnError::AllocationLost);
            return;
        }
        if let Some(at) = self.refresh_at
            && now >= at
            && !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Refresh { .. }))
        {
            self.refresh_at = None;
            let lifetime = u32::try_from(self.cfg.lifetime.as_secs()).unwrap_or(600);
            self.request(now, rng, TxKind::Refresh { lifetime }, 0);
        }
        // Permissions last 300 s and channels 600 s (RFC 8656 §9, §12): refresh early.
        let due: Vec<IpAddr> = self
            .perms
            .iter()
            .filter(|p| p.installed && !p.in_flight && now >= p.refresh_at)
            .map(|p| p.ip)
            .collect();
        for ip in due {
            if let Some(p) = self.perms.iter_mut().find(|p| p.ip == ip) {
                p.in_flight = true;
            }
            self.request(now, rng, TxKind::Permission { ip }, 0);
        }
        let due: Vec<(u16, SocketAddr)> = self
            .channels
            .iter()
            .filter(|c| c.bound && !c.in_flight && now >= c.refresh_at)
            .map(|c| (c.channel, c.peer))
            .collect();
        for (channel, peer) in due {
            if let Some(c) = self.channels.iter_mut().find(|c| c.channel == channel) {
                c.in_flight = true;
            }
            self.request(now, rng, TxKind::ChannelBind { channel, peer }, 0);
        }
    }

    fn run_transactions(&mut self, now: Instant) {
        let stream = self.is_stream();
        let mut i = 0;
        while i < self.txs.len() {
            let Some(tx) = self.txs.get_mut(i) else {
                break;
            };
            if tx.next > now {
                i += 1;
                continue;
            }
            if !stream && tx.retransmits < self.cfg.max_retransmits {
                tx.retransmits += 1;
                tx.rto = (tx.rto * 2).min(self.cfg.rto_max);
                tx.next = now + tx.rto;
                let bytes = tx.bytes.clone();
                self.emit(&bytes);
                i += 1;
                continue;
            }
            let tx = self.txs.swap_remove(i);
            self.on_timeout(tx.kind);
        }
    }

    fn on_timeout(&mut self, kind: TxKind) {
        match kind {
            TxKind::Allocate => self.fail(TurnError::Unreachable),
            TxKind::Refresh { lifetime: 0 } => {}
            TxKind::Refresh { .. } => {
                // Try again soon; the allocation is lost only when it expires.
                self.refresh_at = Some(
                    self.expires.min(
                        self.expires
                            .checked_sub(Duration::from_secs(1))
                            .unwrap_or(self.expires),
                    ),
                );
                self.error(TurnError::Unreachable);
            }
            TxKind::Permission { ip } => {
                self.perms.retain(|p| p.installed || p.ip != ip);
                if let Some(p) = self.perms.iter_mut().find(|p| p.ip == ip) {
                    p.in_flight = false;
                }
                self.pending.retain(|(peer, _)| peer.ip() != ip);
            }
            TxKind::ChannelBind { channel, .. } => {
                self.channels.retain(|c| c.bound || c.channel != channel);
                if let Some(c) = self.channels.iter_mut().find(|c| c.channel == channel) {
                    c.in_flight = false;
                }
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(
            self.state,
            State::Failed | State::Closed | State::WaitingSocket
        ) {
            return None;
        }
        let mut t = None;
        if self.state == State::Idle {
            // Due at once (`expires` is still the creation time).
            return Some(self.expires);
        }
        for tx in &self.txs {
            t = earliest(t, Some(tx.next));
        }
        if self.state == State::Allocated {
            t = earliest(t, Some(self.expires));
            if !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Refresh { .. }))
            {
                t = earliest(t, self.refresh_at);
            }
            for p in self.perms.iter().filter(|p| p.installed && !p.in_flight) {
                t = earliest(t, Some(p.refresh_at));
            }
            for c in self.channels.iter().filter(|c| c.bound && !c.in_flight) {
                t = earliest(t, Some(c.refresh_at));
            }
        }
        t
    }

    /// Deallocates (RFC 8656 §7: Refresh with LIFETIME 0), once, without waiting for the
    /// answer; TLS then says close_notify.
    pub fn close(&mut self, now: Instant, rng: &mut Rng) {
        if self.state == State::Allocated {
            self.request(now, rng, TxKind::Refresh { lifetime: 0 }, MAX_AUTH_RETRIES);
        }
        self.txs.clear();
        self.pending.clear();
        self.state = State::Closed;
        if let Some(tls) = self.stream.as_mut().and_then(|s| s.tls.as_mut()) {
            tls.close();
        }
    }
}
