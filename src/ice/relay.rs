//! The agent's side of TURN (RFC 8656, RFC 8445 §5.1.1.2): one client per TURN URL,
//! relayed candidates, permissions for remote candidates, and wrapping and unwrapping of
//! everything sent and received on a relayed candidate.

use core::net::SocketAddr;

use crate::net::{Protocol, Receive, Transmit};
use crate::time::{Instant, earliest};

use super::IceEvent;
use super::agent::{IceAgent, LocalCand};
use super::candidate::{Candidate, CandidateKind, candidate_priority, foundation};
use super::turn::client::{ClientConfig, ClientEvent, State, TurnClient};
use super::turn::{IceTransportPolicy, TurnError, TurnStats, TurnTransport, UrlScheme};

/// A relayed datagram taken from a TURN stream with
/// [`IceAgent::poll_relayed`]: as if received from `source` at `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayedDatagram {
    /// The peer that sent it (to our relayed address).
    pub source: SocketAddr,
    /// Our relayed address.
    pub destination: SocketAddr,
    /// Its length, at the start of the caller's buffer.
    pub size: usize,
}

impl IceAgent {
    /// Creates a client per `turn:`/`turns:` URL and adds `stun:` URLs to the STUN
    /// servers.
    pub(crate) fn init_servers(&mut self, now: Instant) {
        let mut tls_config = None;
        for server in self.config.ice_servers.clone() {
            for url in server.urls {
                let Some(addr) = url.addr() else {
                    if url.is_turn() {
                        self.events.push_back(IceEvent::TurnError {
                            url: url.to_string(),
                            error: TurnError::UnresolvedHost,
                        });
                    }
                    continue;
                };
                if url.scheme == UrlScheme::Stun {
                    if !self.config.stun_servers.contains(&addr) {
                        self.config.stun_servers.push(addr);
                    }
                    continue;
                }
                let tls = (url.transport == TurnTransport::Tls).then(|| {
                    tls_config
                        .get_or_insert_with(|| {
                            super::turn::tls::client_config(&self.config.turn_tls_roots)
                        })
                        .clone()
                });
                let cfg = ClientConfig {
                    rto_initial: self.config.rto_initial,
                    rto_max: self.config.rto_max,
                    max_retransmits: self.config.max_retransmits,
                    lifetime: self.config.turn_lifetime,
                    permission_refresh: self.config.turn_permission_refresh,
                    channel_refresh: self.config.turn_channel_refresh,
                    max_permissions: self.config.turn_max_permissions,
                    max_channels: self.config.turn_max_channels,
                    max_pending: self.config.turn_max_pending,
                    stream_buffer: self.config.turn_stream_buffer,
                    software: self.config.software.clone(),
                };
                let client = TurnClient::new(
                    url,
                    addr,
                    server.username.clone(),
                    server.credential.clone(),
                    tls,
                    cfg,
                    now,
                );
                self.turn.push(client);
            }
        }
        if self.config.transport_policy == IceTransportPolicy::Relay {
            // Relay only: no server-reflexive candidates.
            self.config.stun_servers.clear();
        }
        self.turn_events();
    }

    /// True when only relayed candidates may be used.
    pub(crate) fn relay_only(&self) -> bool {
        self.config.transport_policy == IceTransportPolicy::Relay
    }

    /// Whether a local candidate of this kind pairs under the transport policy.
    pub(crate) fn pairs_local(&self, kind: CandidateKind) -> bool {
        match self.config.transport_policy {
            IceTransportPolicy::All => matches!(kind, CandidateKind::Host | CandidateKind::Relayed),
            IceTransportPolicy::Relay => kind == CandidateKind::Relayed,
        }
    }

    /// Gives UDP clients waiting for a socket a host candidate of the server's family;
    /// once the host said it has no more, those left fail with `NoLocalSocket`.
    pub(crate) fn assign_turn_sockets(&mut self) {
        for i in 0..self.turn.len() {
            let Some(c) = self.turn.get(i) else { break };
            if c.state != State::WaitingSocket {
                continue;
            }
            let want_v4 = c.server.is_ipv4();
            let local = self
                .local
                .iter()
                .find(|l| {
                    l.cand.kind == CandidateKind::Host
                        && l.cand.proto == Protocol::Udp
                        && l.base.is_ipv4() == want_v4
                })
                .map(|l| l.base);
            let eoc = self.local_eoc;
            let Some(c) = self.turn.get_mut(i) else { break };
            match local {
                Some(l) => c.set_local(l),
                None if eoc => {
                    c.state = State::Failed;
                    let url = c.url.to_string();
                    self.events.push_back(IceEvent::TurnError {
                        url,
                        error: TurnError::NoLocalSocket,
                    });
                }
                None => {}
            }
        }
    }

    /// Timers of every client, then what they report.
    pub(crate) fn turn_tick(&mut self, now: Instant) {
        self.assign_turn_sockets();
        for c in &mut self.turn {
            c.tick(now, &mut self.rng);
        }
        self.turn_events();
        self.sync_permissions(now);
    }

    /// Turns client events into candidates and agent events.
    pub(crate) fn turn_events(&mut self) {
        for i in 0..self.turn.len() {
            while let Some(e) = self.turn.get_mut(i).and_then(|c| c.poll_event()) {
                match e {
                    ClientEvent::Allocated { relayed, mapped } => {
                        self.add_relayed(i, relayed, mapped)
                    }
                    ClientEvent::Error(error) => {
                        let url = self
                            .turn
                            .get(i)
                            .map(|c| c.url.to_string())
                            .unwrap_or_default();
                        self.events.push_back(IceEvent::TurnError { url, error });
                    }
                }
            }
        }
    }

    /// The relayed candidate of client `i` (RFC 8445 §5.1.1.2, §5.1.2.2: type
    /// preference 0; related address: the mapped address the Allocate response gave).
    fn add_relayed(&mut self, i: usize, relayed: SocketAddr, mapped: Option<SocketAddr>) {
        let Some(c) = self.turn.get_mut(i) else {
            return;
        };
        if c.candidate_added || self.local.len() >= self.config.max_local_candidates {
            return;
        }
        c.candidate_added = true;
        // Prefer UDP relays to TCP ones, and those to TLS ones (as browsers do).
        let base_pref: u16 = match c.url.transport {
            TurnTransport::Udp => 65535,
            TurnTransport::Tcp => 32767,
            TurnTransport::Tls => 16383,
        };
        let local_pref = base_pref.saturating_sub(u16::try_from(i).unwrap_or(u16::MAX));
        let cand = Candidate {
            foundation: foundation(
                CandidateKind::Relayed,
                relayed.ip(),
                Some(c.server.ip()),
                c.proto(),
            ),
            component: 1,
            proto: Protocol::Udp,
            priority: candidate_priority(CandidateKind::Relayed, local_pref, 1),
            addr: relayed,
            kind: CandidateKind::Relayed,
            related: Some(mapped.or(c.local).unwrap_or(relayed)),
            ufrag: Some(self.local_creds.ufrag.clone()),
        };
        let idx = self.local.len();
        // The base of a relayed candidate is the candidate itself (RFC 8445 §5.1.1.2).
        self.local.push(LocalCand {
            cand: cand.clone(),
            base: relayed,
            local_pref,
        });
        self.events.push_back(IceEvent::LocalCandidate(cand));
        for r in 0..self.remote.len() {
            self.add_pair(idx, r);
        }
        self.turn_synced = 0;
    }

    /// Permissions (and channels) towards every remote candidate, on every allocation.
    pub(crate) fn sync_permissions(&mut self, now: Instant) {
        while self.turn_synced < self.remote.len() {
            let Some(peer) = self.remote.get(self.turn_synced).map(|r| r.addr) else {
                break;
            };
            for c in &mut self.turn {
                c.ensure_peer(now, &mut self.rng, peer);
            }
            self.turn_synced += 1;
        }
    }

    /// True while an allocation is still being made (gathering is not complete).
    pub(crate) fn turn_gathering(&self) -> bool {
        self.turn.iter().any(|c| {
            matches!(c.state, State::Idle | State::Allocating)
                || (c.state == State::WaitingSocket && !self.local_eoc)
        })
    }

    pub(crate) fn turn_poll_timeout(&self) -> Option<Instant> {
        let mut t = None;
        for c in &self.turn {
            t = earliest(t, c.poll_timeout());
        }
        t
    }

    /// The next transmit of a TURN client (control messages, relayed STUN, TLS bytes).
    pub(crate) fn turn_poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        self.turn.iter_mut().find_map(|c| c.poll_transmit(buf))
    }

    /// If `source` is a relayed candidate, sends `bytes` to `dest` through its server.
    /// True when it was (and is no longer the caller's to send).
    pub(crate) fn relay_queued(
        &mut self,
        now: Instant,
        source: SocketAddr,
        dest: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let Some(c) = self.turn.iter_mut().find(|c| c.relayed == Some(source)) else {
            return false;
        };
        c.send_to_peer(now, &mut self.rng, dest, bytes);
        true
    }

    /// Sends `bytes` from our relayed address `source` to `destination` through its
    /// TURN server (copied and queued). False when `source` is not a relayed address.
    pub fn send_relayed(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        self.relay_queued(now, source, destination, bytes)
    }

    /// Deallocates every allocation (on close).
    pub(crate) fn turn_close(&mut self, now: Instant) {
        for c in &mut self.turn {
            c.close(now, &mut self.rng);
        }
    }

    /// True when `rx` came from one of the configured TURN servers (on the socket or
    /// stream used for it): feed it to [`handle_turn_receive`](Self::handle_turn_receive).
    pub fn is_from_turn_server(&self, rx: &Receive<'_>) -> bool {
        self.turn.iter().any(|c| c.is_from_server(rx))
    }

    /// Bytes from a TURN server (see the [`turn`](super::turn) module docs). Control
    /// messages are handled here. A relayed UDP datagram is returned as if received from
    /// the peer at our relayed address: give it to [`handle_receive`](Self::handle_receive)
    /// if it is STUN, or to the next layer otherwise. Relayed datagrams cut from a TCP or
    /// TLS stream are taken with [`poll_relayed`](Self::poll_relayed) afterwards.
    pub fn handle_turn_receive<'a>(
        &mut self,
        now: Instant,
        rx: Receive<'a>,
    ) -> Option<Receive<'a>> {
        let i = self.turn.iter().position(|c| c.is_from_server(&rx))?;
        let inner = self
            .turn
            .get_mut(i)
            .and_then(|c| c.handle_input(now, &mut self.rng, rx));
        self.turn_events();
        self.sync_permissions(now);
        self.maybe_gathering_complete();
        inner
    }

    /// The next relayed datagram received over a TCP or TLS stream, copied into `buf`.
    /// Call until `None` after each [`handle_turn_receive`](Self::handle_turn_receive).
    pub fn poll_relayed(&mut self, now: Instant, buf: &mut [u8]) -> Option<RelayedDatagram> {
        let mut found = None;
        for c in &mut self.turn {
            if !c.is_stream() {
                continue;
            }
            if let Some((source, destination, size)) = c.poll_relayed(now, &mut self.rng, buf) {
                found = Some(RelayedDatagram {
                    source,
                    destination,
                    size,
                });
                break;
            }
        }
        self.turn_events();
        self.sync_permissions(now);
        self.maybe_gathering_complete();
        found
    }

    /// The host's TCP connection to `server` closed or failed: its allocation is lost.
    pub fn handle_turn_stream_closed(&mut self, _now: Instant, server: SocketAddr) {
        for c in &mut self.turn {
            if c.server == server && c.is_stream() {
                c.stream_failed(TurnError::StreamClosed);
            }
        }
        self.turn_events();
        self.maybe_gathering_complete();
    }

    /// For data from `source` to `destination`: when `source` is one of our relayed
    /// addresses, the room to leave before the data (for the ChannelData or Send
    /// indication header) and after it (padding). `None` when `source` is not relayed.
    pub fn relay_overhead(
        &self,
        source: SocketAddr,
        destination: SocketAddr,
    ) -> Option<(usize, usize)> {
        self.turn
            .iter()
            .find(|c| c.relayed == Some(source))
            .map(|c| c.overhead(&destination))
    }

    /// Wraps `len` bytes of data written at `buf[head..]` (`head` from
    /// [`relay_overhead`](Self::relay_overhead)) for the relay: ChannelData or a Send
    /// indication, built in place, and for TLS encrypted into `buf`. Returns the
    /// transmit to the TURN server; `None` when it cannot be relayed (no permission yet:
    /// the datagram is dropped and counted).
    pub fn wrap_relayed(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        buf: &mut [u8],
        head: usize,
        len: usize,
    ) -> Option<Transmit> {
        let c = self.turn.iter_mut().find(|c| c.relayed == Some(source))?;
        c.wrap_in_place(&mut self.rng, buf, head, len, &destination)
    }

    /// Counters of each TURN server, in configuration order.
    pub fn turn_stats(&self) -> impl Iterator<Item = &TurnStats> {
        self.turn.iter().map(|c| &c.stats)
    }

    /// How many local (signalled) and remote candidates there are of each type.
    pub fn candidate_counts(&self) -> (CandidateCounts, CandidateCounts) {
        let mut local = CandidateCounts::default();
        for c in self.local_candidates() {
            local.add(c.kind);
        }
        let mut remote = CandidateCounts::default();
        for c in &self.remote {
            remote.add(c.kind);
        }
        (local, remote)
    }
}

/// Candidates by type (stats per candidate type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateCounts {
    /// Host candidates.
    pub host: usize,
    /// Server-reflexive candidates.
    pub server_reflexive: usize,
    /// Peer-reflexive candidates.
    pub peer_reflexive: usize,
    /// Relayed candidates.
    pub relayed: usize,
}

impl CandidateCounts {
    fn add(&mut self, kind: CandidateKind) {
        match kind {
            CandidateKind::Host => self.host += 1,
            CandidateKind::ServerReflexive => self.server_reflexive += 1,
            CandidateKind::PeerReflexive => self.peer_reflexive += 1,
            CandidateKind::Relayed => self.relayed += 1,
        }
    }
}
