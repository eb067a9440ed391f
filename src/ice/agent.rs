//! The ICE agent: state, public API, timers and the check scheduler (RFC 8445 §6).

use std::collections::VecDeque;

use core::net::SocketAddr;

use crate::net::{Protocol, Receive, Transmit};
use crate::rng::Rng;
use crate::time::{Duration, Instant, earliest};

use super::candidate::{Candidate, CandidateKind, candidate_priority, foundation};
use super::config::{Credentials, IceConfig};
use super::pair::{Pair, PairStats, SelectedPair};
use super::stun::IntegrityKey;
use super::{IceConnectionState, IceError, IceEvent, IceStats};

/// A local candidate and the base it sends from (RFC 8445 §5.1.1).
#[derive(Debug, Clone)]
pub(crate) struct LocalCand {
    pub cand: Candidate,
    pub base: SocketAddr,
    pub local_pref: u16,
}

/// What a STUN transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    /// A connectivity check on a pair (RFC 8445 §7.2.4).
    Check {
        pair: usize,
        nominate: bool,
        controlling: bool,
        prflx_priority: u32,
    },
    /// A Binding request to a STUN server for a server-reflexive candidate (§5.1.1.2).
    Gather { local: usize },
    /// A consent freshness check (RFC 7675) on the selected pair, or on the previous
    /// generation's pair while an ICE restart is in progress.
    Consent { previous: bool },
}

#[derive(Debug)]
pub(crate) struct Tx {
    pub tid: [u8; 12],
    pub kind: TxKind,
    pub source: SocketAddr,
    pub dest: SocketAddr,
    pub bytes: Vec<u8>,
    pub key: Option<IntegrityKey>,
    pub first_sent: Instant,
    pub retransmits: u32,
    pub max_retransmits: u32,
    pub rto: Duration,
    pub next: Instant,
    /// No more retransmissions; still waits for a response until `next` (§7.3.1.4).
    pub cancelled: bool,
}

/// The previous generation kept alive during an ICE restart (RFC 8445 §9).
#[derive(Debug)]
pub(crate) struct Previous {
    pub local: Credentials,
    pub remote: Credentials,
    pub pair: SelectedPair,
    pub last_consent: Instant,
    pub next_consent: Instant,
}

/// An ICE agent (RFC 8445), full or lite, as a sans-IO state machine.
///
/// The host adds local candidates (its sockets) and remote candidates (from signalling),
/// feeds every STUN datagram with [`handle_receive`](Self::handle_receive), calls
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout), and
/// drains [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event).
/// Application data goes over [`selected_pair`](Self::selected_pair).
#[derive(Debug)]
pub struct IceAgent {
    pub(crate) config: IceConfig,
    pub(crate) rng: Rng,
    pub(crate) controlling: bool,
    pub(crate) tie_breaker: u64,
    pub(crate) local_creds: Credentials,
    pub(crate) local_key: IntegrityKey,
    pub(crate) remote_creds: Option<Credentials>,
    pub(crate) remote_key: Option<IntegrityKey>,
    pub(crate) local: Vec<LocalCand>,
    pub(crate) remote: Vec<Candidate>,
    pub(crate) remote_eoc: bool,
    pub(crate) local_eoc: bool,
    pub(crate) gathering_done_sent: bool,
    pub(crate) pending_gather: VecDeque<(usize, SocketAddr)>,
    pub(crate) pairs: Vec<Pair>,
    pub(crate) triggered: VecDeque<usize>,
    pub(crate) txs: Vec<Tx>,
    pub(crate) next_pace: Instant,
    pub(crate) selected: Option<usize>,
    pub(crate) nominating: Option<usize>,
    pub(crate) first_valid_at: Option<Instant>,
    pub(crate) checking_since: Option<Instant>,
    pub(crate) last_consent: Instant,
    pub(crate) next_consent: Instant,
    pub(crate) last_sent_selected: Instant,
    pub(crate) previous: Option<Previous>,
    /// A pair being checked to replace the selected one after a NAT rebinding.
    pub(crate) rebind_to: Option<usize>,
    pub(crate) state: IceConnectionState,
    pub(crate) events: VecDeque<IceEvent>,
    pub(crate) out: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    pub(crate) stats: IceStats,
    /// One TURN client per `turn:`/`turns:` URL (RFC 8656).
    pub(crate) turn: Vec<super::turn::client::TurnClient>,
    /// Remote candidates (by index) already given permissions on every allocation.
    pub(crate) turn_synced: usize,
}

impl IceAgent {
    /// A new agent. Local credentials are random unless the config gives them.
    pub fn new(config: IceConfig, now: Instant) -> Self {
        let mut rng = Rng::new(config.rng);
        let local_creds = config
            .local_credentials
            .clone()
            .unwrap_or_else(|| Credentials::random(&mut rng));
        let tie_breaker = rng.u64();
        let mut agent = IceAgent {
            controlling: config.controlling && !config.lite,
            local_key: IntegrityKey::short_term(&local_creds.pwd),
            local_creds,
            tie_breaker,
            rng,
            remote_creds: None,
            remote_key: None,
            local: Vec::new(),
            remote: Vec::new(),
            remote_eoc: false,
            local_eoc: false,
            gathering_done_sent: false,
            pending_gather: VecDeque::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            txs: Vec::new(),
            next_pace: now,
            selected: None,
            nominating: None,
            first_valid_at: None,
            checking_since: None,
            last_consent: now,
            next_consent: now,
            last_sent_selected: now,
            previous: None,
            rebind_to: None,
            state: IceConnectionState::New,
            events: VecDeque::new(),
            out: VecDeque::new(),
            stats: IceStats::default(),
            turn: Vec::new(),
            turn_synced: 0,
            config,
        };
        agent.init_servers(now);
        agent
    }

    /// Our credentials, to put in `a=ice-ufrag`/`a=ice-pwd`.
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_creds
    }

    /// The peer's credentials, once known.
    pub fn remote_credentials(&self) -> Option<&Credentials> {
        self.remote_creds.as_ref()
    }

    /// Sets the peer's credentials (from its SDP). Checks start once they are known.
    pub fn set_remote_credentials(&mut self, creds: Credentials) -> Result<(), IceError> {
        if creds.ufrag.is_empty() || creds.pwd.is_empty() || creds.ufrag.contains(':') {
            return Err(IceError::InvalidCredentials);
        }
        self.remote_key = Some(IntegrityKey::short_term(&creds.pwd));
        self.remote_creds = Some(creds);
        Ok(())
    }

    /// True in the controlling role.
    pub fn is_controlling(&self) -> bool {
        self.controlling
    }

    /// True for an ICE-lite agent.
    pub fn is_lite(&self) -> bool {
        self.config.lite
    }

    /// Sets the role (from offer/answer, RFC 8445 §6.1.1). A lite agent stays controlled.
    pub fn set_controlling(&mut self, controlling: bool) {
        let controlling = controlling && !self.config.lite;
        if controlling != self.controlling {
            self.controlling = controlling;
            self.recompute_priorities();
        }
    }

    /// The connection state.
    pub fn state(&self) -> IceConnectionState {
        self.state
    }

    /// The pair application data should use: the nominated pair, or while an ICE restart
    /// is in progress the previous generation's pair.
    pub fn selected_pair(&self) -> Option<SelectedPair> {
        if let Some(p) = self.selected.and_then(|i| self.pair_info(i)) {
            return Some(p);
        }
        self.previous.as_ref().map(|p| p.pair)
    }

    /// Local candidates to signal: host, server-reflexive, peer-reflexive and relayed;
    /// only relayed ones under [`IceTransportPolicy::Relay`](super::IceTransportPolicy).
    pub fn local_candidates(&self) -> impl Iterator<Item = &Candidate> {
        let relay_only = self.relay_only();
        self.local
            .iter()
            .map(|l| &l.cand)
            .filter(move |c| !relay_only || c.kind == CandidateKind::Relayed)
    }

    /// Remote candidates (signalled and peer-reflexive).
    pub fn remote_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.remote.iter()
    }

    /// Per-pair statistics.
    pub fn pair_stats(&self) -> impl Iterator<Item = PairStats> + '_ {
        self.pairs.iter().filter_map(|p| {
            let l = self.local.get(p.local)?;
            let r = self.remote.get(p.remote)?;
            Some(PairStats {
                local: l.base,
                remote: r.addr,
                state: p.state,
                valid: p.valid,
                nominated: p.nominated,
                priority: p.priority,
                requests_sent: p.requests_sent,
                responses_received: p.responses_received,
                requests_received: p.requests_received,
                responses_sent: p.responses_sent,
                rtt: p.rtt,
            })
        })
    }

    /// Agent-wide counters.
    pub fn stats(&self) -> &IceStats {
        &self.stats
    }

    /// Adds a local candidate. Host candidates get their priority and foundation here;
    /// for each host UDP candidate the agent asks every configured STUN server for a
    /// server-reflexive candidate, reported with [`IceEvent::LocalCandidate`].
    pub fn add_local_candidate(&mut self, mut cand: Candidate) -> Result<(), IceError> {
        if cand.proto != Protocol::Udp {
            return Err(IceError::UnsupportedTransport);
        }
        if cand.kind != CandidateKind::Host {
            return Err(IceError::UnsupportedCandidate);
        }
        if self.local.iter().any(|l| l.cand.addr == cand.addr) {
            return Ok(());
        }
        if self.local.len() >= self.config.max_local_candidates {
            return Err(IceError::TooManyCandidates);
        }
        // Local preference: distinct per host IP, IPv6 first (RFC 8421 spirit).
        let distinct_ips = self
            .local
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host)
            .map(|l| l.base.ip())
            .filter(|ip| *ip != cand.addr.ip())
            .count();
        let family_bonus: u16 = if cand.addr.is_ipv6() { 0 } else { 2048 };
        let local_pref = 65535u16
            .saturating_sub(family_bonus)
            .saturating_sub(u16::try_from(distinct_ips.saturating_mul(16)).unwrap_or(u16::MAX));
        cand.component = 1;
        cand.priority = candidate_priority(CandidateKind::Host, local_pref, 1);
        cand.foundation = foundation(CandidateKind::Host, cand.addr.ip(), None, cand.proto);
        cand.related = None;
        let base = cand.addr;
        let idx = self.local.len();
        self.local.push(LocalCand {
            cand,
            base,
            local_pref,
        });
        for server in self.config.stun_servers.clone() {
            if server.is_ipv4() == base.is_ipv4() {
                self.pending_gather.push_back((idx, server));
            }
        }
        self.gathering_done_sent = false;
        for r in 0..self.remote.len() {
            self.add_pair(idx, r);
        }
        self.assign_turn_sockets();
        Ok(())
    }

    /// Tells the agent the host has added all its local candidates. Once the STUN server
    /// requests are done too, [`IceEvent::GatheringComplete`] is emitted.
    pub fn end_of_local_candidates(&mut self) {
        self.local_eoc = true;
        self.assign_turn_sockets();
    }

    /// Adds a remote candidate (trickled or from the SDP, RFC 8838). TCP candidates are
    /// refused with [`IceError::UnsupportedTransport`]; candidates of another ICE
    /// generation (a `ufrag` that is not the current remote one) are ignored.
    pub fn add_remote_candidate(&mut self, cand: Candidate) -> Result<(), IceError> {
        if cand.proto != Protocol::Udp {
            return Err(IceError::UnsupportedTransport);
        }
        if cand.component != 1 {
            return Err(IceError::UnsupportedCandidate);
        }
        if let (Some(u), Some(rc)) = (&cand.ufrag, &self.remote_creds)
            && *u != rc.ufrag
        {
            return Ok(());
        }
        if cand.addr.port() == 0 || cand.addr.ip().is_unspecified() {
            return Err(IceError::UnsupportedCandidate);
        }
        if let Some(existing) = self.remote.iter_mut().find(|r| r.addr == cand.addr) {
            // A signalled candidate replaces a peer-reflexive one learned earlier.
            if existing.kind == CandidateKind::PeerReflexive {
                existing.kind = cand.kind;
                existing.priority = cand.priority;
                existing.foundation = cand.foundation;
                self.recompute_priorities();
            }
            return Ok(());
        }
        if self.remote.len() >= self.config.max_remote_candidates {
            self.stats.candidates_refused += 1;
            return Err(IceError::TooManyCandidates);
        }
        self.insert_remote(cand);
        Ok(())
    }

    pub(crate) fn insert_remote(&mut self, cand: Candidate) -> usize {
        let idx = self.remote.len();
        self.remote.push(cand);
        for l in 0..self.local.len() {
            self.add_pair(l, idx);
        }
        idx
    }

    /// The peer signalled end-of-candidates (RFC 8838 §4.4): once every pair failed,
    /// the agent may give up.
    pub fn end_of_remote_candidates(&mut self) {
        self.remote_eoc = true;
    }

    /// Starts an ICE restart (RFC 8445 §9): new local credentials, remote credentials and
    /// candidates forgotten. The selected pair keeps carrying data (and consent checks,
    /// with the old credentials) until the new generation selects a pair.
    pub fn restart(&mut self, now: Instant, credentials: Option<Credentials>) {
        if let (Some(pair), Some(remote)) = (self.selected_pair(), self.remote_creds.clone()) {
            let prev_last = match &self.previous {
                Some(p) if self.selected.is_none() => p.last_consent,
                _ => self.last_consent,
            };
            self.previous = Some(Previous {
                local: self.local_creds.clone(),
                remote,
                pair,
                last_consent: prev_last,
                next_consent: now,
            });
        }
        let creds = credentials.unwrap_or_else(|| Credentials::random(&mut self.rng));
        self.local_key = IntegrityKey::short_term(&creds.pwd);
        self.local_creds = creds;
        self.remote_creds = None;
        self.remote_key = None;
        self.remote.clear();
        self.remote_eoc = false;
        self.pairs.clear();
        self.rebind_to = None;
        self.triggered.clear();
        self.txs
            .retain(|t| matches!(t.kind, TxKind::Gather { .. } | TxKind::Consent { .. }));
        // Consent transactions of the current generation now belong to the previous one.
        for t in &mut self.txs {
            if let TxKind::Consent { previous } = &mut t.kind {
                *previous = true;
            }
        }
        self.selected = None;
        self.nominating = None;
        self.first_valid_at = None;
        self.checking_since = None;
        self.turn_synced = 0;
        if self.previous.is_none() {
            self.set_state(IceConnectionState::New);
        }
    }

    /// Stops the agent: nothing more is sent or answered. TURN allocations are released
    /// (a Refresh with LIFETIME 0, RFC 8656 §7), handed out by the next `poll_transmit`
    /// calls.
    pub fn close(&mut self) {
        self.close_at(self.next_pace);
    }

    /// [`close`](Self::close) at a known time.
    pub fn close_at(&mut self, now: Instant) {
        self.txs.clear();
        self.out.clear();
        self.turn_close(now);
        self.set_state(IceConnectionState::Closed);
    }

    /// Tells the agent that the host sent a datagram on the selected pair, so no
    /// keepalive is needed for a while (RFC 8445 §11).
    pub fn note_sent(&mut self, now: Instant) {
        self.last_sent_selected = now;
    }

    /// Feeds a received datagram. Returns `false` if it is not STUN for this agent (the
    /// host passes it on to the next layer).
    ///
    /// Bytes from a TURN server are taken too (and `true` returned): control messages
    /// are handled, and a relayed UDP datagram that is STUN is processed; relayed
    /// application data is dropped here. A host that relays more than ICE checks feeds
    /// bytes from TURN servers ([`is_from_turn_server`](Self::is_from_turn_server)) to
    /// [`handle_turn_receive`](Self::handle_turn_receive) and
    /// [`poll_relayed`](Self::poll_relayed) instead, as `Rtc` does.
    pub fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) -> bool {
        if self.is_from_turn_server(&rx) {
            if let Some(inner) = self.handle_turn_receive(now, rx)
                && crate::net::demux(inner.contents) == crate::net::DatagramKind::Stun
            {
                self.handle_stun(now, inner);
            }
            let mut buf = [0u8; 1500];
            while let Some(d) = self.poll_relayed(now, &mut buf) {
                let contents = buf.get(..d.size).unwrap_or_default();
                if crate::net::demux(contents) == crate::net::DatagramKind::Stun {
                    let inner = Receive {
                        proto: Protocol::Udp,
                        source: d.source,
                        destination: d.destination,
                        contents,
                    };
                    self.handle_stun(now, inner);
                }
            }
            self.tick(now);
            return true;
        }
        if crate::net::demux(rx.contents) != crate::net::DatagramKind::Stun {
            return false;
        }
        self.handle_stun(now, rx);
        self.tick(now);
        true
    }

    /// Advances timers: retransmissions, paced checks, consent, keepalives, timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// Writes the next datagram into `buf`. A datagram larger than `buf` is dropped.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            if let Some(t) = self.turn_poll_transmit(buf) {
                return Some(t);
            }
            let (source, destination, bytes) = self.out.pop_front()?;
            if self.relay_queued(now, source, destination, &bytes) {
                continue;
            }
            let Some(dst) = buf.get_mut(..bytes.len()) else {
                self.stats.transmits_dropped += 1;
                continue;
            };
            dst.copy_from_slice(&bytes);
            return Some(Transmit {
                proto: Protocol::Udp,
                source,
                destination,
                size: bytes.len(),
            });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(
            self.state,
            IceConnectionState::Closed | IceConnectionState::Failed
        ) {
            return None;
        }
        let mut t = self.turn_poll_timeout();
        for tx in &self.txs {
            t = earliest(t, Some(tx.next));
        }
        if self.pick_work(self.next_pace).is_some() {
            t = earliest(t, Some(self.next_pace));
        } else if let Some(at) = self.nomination_due_at() {
            // Only a deadline at which the scheduler will really have work, so a host
            // never spins on a deadline that changes nothing.
            let at = at.max(self.next_pace);
            if self.pick_work(at).is_some() {
                t = earliest(t, Some(at));
            }
        }
        if self.selected.is_some() {
            if !self.config.lite {
                t = earliest(t, Some(self.next_consent));
            }
            t = earliest(t, Some(self.last_consent + self.config.consent_timeout));
            if self.state != IceConnectionState::Disconnected {
                t = earliest(
                    t,
                    Some(self.last_consent + self.config.disconnected_timeout),
                );
            }
            t = earliest(
                t,
                Some(self.last_sent_selected + self.config.keepalive_interval),
            );
        }
        if let Some(p) = &self.previous {
            if !self.config.lite {
                t = earliest(t, Some(p.next_consent));
            }
            if self.selected.is_none() {
                t = earliest(t, Some(p.last_consent + self.config.consent_timeout));
                if self.state != IceConnectionState::Disconnected {
                    t = earliest(t, Some(p.last_consent + self.config.disconnected_timeout));
                }
            }
        }
        if let (Some(since), None) = (self.checking_since, self.selected) {
            t = earliest(t, Some(since + self.config.checking_timeout));
        }
        t
    }
}
