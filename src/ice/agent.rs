//! The ICE agent: state, public API, timers and the check scheduler (RFC 8445 §6).

use std::collections::VecDeque;

use core::net::SocketAddr;

use crate::net::{Protocol, Receive, Transmit};
use crate::rng::Rng;
use crate::time::{Duration, Instant, earliest};

use super::candidate::{Candidate, CandidateKind, candidate_priority, foundation, pair_priority};
use super::config::{Credentials, IceConfig};
use super::pair::{Pair, PairState, PairStats, SelectedPair};
use super::stun::{self, IntegrityKey, MessageClass};
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

/// Work the scheduler can start at the next Ta tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Gather { local: usize, server: SocketAddr },
    Check { pair: usize, nominate: bool },
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
    pub(crate) state: IceConnectionState,
    pub(crate) events: VecDeque<IceEvent>,
    pub(crate) out: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    pub(crate) stats: IceStats,
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
        IceAgent {
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
            state: IceConnectionState::New,
            events: VecDeque::new(),
            out: VecDeque::new(),
            stats: IceStats::default(),
            config,
        }
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

    /// Local candidates (host, server-reflexive and peer-reflexive).
    pub fn local_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.local.iter().map(|l| &l.cand)
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
        Ok(())
    }

    /// Tells the agent the host has added all its local candidates. Once the STUN server
    /// requests are done too, [`IceEvent::GatheringComplete`] is emitted.
    pub fn end_of_local_candidates(&mut self) {
        self.local_eoc = true;
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
        self.triggered.clear();
        self.txs
            .retain(|t| matches!(t.kind, TxKind::Gather { .. } | TxKind::Consent { .. }));
        // Consent transactions of the current generation now belong to the previous one.
        for t in &mut self.txs {
            if let TxKind::Consent { previous } = &mut t.kind {
                *previous = true;
            }
        }
        self.local
            .retain(|l| l.cand.kind != CandidateKind::PeerReflexive);
        self.selected = None;
        self.nominating = None;
        self.first_valid_at = None;
        self.checking_since = None;
        if self.previous.is_none() {
            self.set_state(IceConnectionState::New);
        }
    }

    /// Stops the agent: nothing more is sent or answered.
    pub fn close(&mut self) {
        self.txs.clear();
        self.out.clear();
        self.set_state(IceConnectionState::Closed);
    }

    /// Tells the agent that the host sent a datagram on the selected pair, so no
    /// keepalive is needed for a while (RFC 8445 §11).
    pub fn note_sent(&mut self, now: Instant) {
        self.last_sent_selected = now;
    }

    /// Feeds a received datagram. Returns `false` if it is not STUN for this agent (the
    /// host passes it on to the next layer).
    pub fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) -> bool {
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
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        while let Some((source, destination, bytes)) = self.out.pop_front() {
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
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(
            self.state,
            IceConnectionState::Closed | IceConnectionState::Failed
        ) {
            return None;
        }
        let mut t = None;
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
                t = earliest(t, Some(self.last_consent + self.config.consent_timeout));
                if self.state != IceConnectionState::Disconnected {
                    t = earliest(
                        t,
                        Some(self.last_consent + self.config.disconnected_timeout),
                    );
                }
            }
            t = earliest(
                t,
                Some(self.last_sent_selected + self.config.keepalive_interval),
            );
        }
        if let Some(p) = &self.previous {
            t = earliest(t, Some(p.next_consent));
        }
        if let (Some(since), None) = (self.checking_since, self.selected) {
            t = earliest(t, Some(since + self.config.checking_timeout));
        }
        t
    }

    // ---- internals -------------------------------------------------------------------

    pub(crate) fn pair_info(&self, i: usize) -> Option<SelectedPair> {
        let p = self.pairs.get(i)?;
        let l = self.local.get(p.local)?;
        let r = self.remote.get(p.remote)?;
        Some(SelectedPair {
            local: l.base,
            remote: r.addr,
            proto: Protocol::Udp,
            local_kind: p.valid_kind,
            remote_kind: r.kind,
        })
    }

    pub(crate) fn set_state(&mut self, s: IceConnectionState) {
        if self.state != s {
            tracing::debug!(from = ?self.state, to = ?s, "ice state");
            self.state = s;
            self.events.push_back(IceEvent::StateChanged(s));
        }
    }

    /// Pair priority for local `l` and remote `r` in the current role.
    fn priority_of(&self, l: usize, r: usize) -> u64 {
        let lp = self.local.get(l).map_or(0, |c| c.cand.priority);
        let rp = self.remote.get(r).map_or(0, |c| c.priority);
        if self.controlling {
            pair_priority(lp, rp)
        } else {
            pair_priority(rp, lp)
        }
    }

    pub(crate) fn recompute_priorities(&mut self) {
        for i in 0..self.pairs.len() {
            let (l, r) = match self.pairs.get(i) {
                Some(p) => (p.local, p.remote),
                None => continue,
            };
            let prio = self.priority_of(l, r);
            if let Some(p) = self.pairs.get_mut(i) {
                p.priority = prio;
            }
        }
    }

    /// Forms the pair (local, remote) if it is a legal, new one (RFC 8445 §6.1.2.2 and
    /// pruning §6.1.2.4: only host bases pair; reflexive locals are redundant with them).
    /// Returns its index.
    pub(crate) fn add_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let lc = self.local.get(l)?;
        let rc = self.remote.get(r)?;
        if lc.cand.kind != CandidateKind::Host
            || lc.cand.proto != rc.proto
            || lc.base.is_ipv4() != rc.addr.is_ipv4()
        {
            return None;
        }
        if let Some(i) = self
            .pairs
            .iter()
            .position(|p| self.local.get(p.local).map(|x| x.base) == Some(lc.base) && p.remote == r)
        {
            return Some(i);
        }
        let foundation = format!("{}:{}", lc.cand.foundation, rc.foundation);
        let priority = self.priority_of(l, r);
        let state = if self.pairs.iter().any(|p| p.foundation == foundation) {
            PairState::Frozen
        } else {
            PairState::Waiting
        };
        let pair = Pair {
            local: l,
            remote: r,
            priority,
            state,
            valid: false,
            valid_kind: CandidateKind::Host,
            nominate_on_success: false,
            nominated: false,
            nominate_failures: 0,
            foundation,
            requests_sent: 0,
            responses_received: 0,
            requests_received: 0,
            responses_sent: 0,
            rtt: None,
        };
        if self.pairs.len() >= self.config.max_pairs {
            // RFC 8445 §6.1.2.5: keep the highest-priority pairs. Replace the lowest
            // Frozen/Waiting pair that nothing refers to, if the new one is better.
            let victim = self
                .pairs
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    matches!(p.state, PairState::Frozen | PairState::Waiting)
                        && !self.triggered.contains(i)
                        && p.priority < priority
                })
                .min_by_key(|(_, p)| p.priority)
                .map(|(i, _)| i);
            let slot = self.pairs.get_mut(victim?)?;
            *slot = pair;
            self.stats.pairs_pruned += 1;
            return victim;
        }
        self.pairs.push(pair);
        Some(self.pairs.len() - 1)
    }

    fn checks_allowed(&self) -> bool {
        !self.config.lite
            && self.remote_creds.is_some()
            && !matches!(
                self.state,
                IceConnectionState::Failed | IceConnectionState::Closed
            )
    }

    /// The next new transaction to start (RFC 8445 §6.1.4.2), without changing anything.
    fn pick_work(&self, now: Instant) -> Option<Work> {
        if matches!(
            self.state,
            IceConnectionState::Failed | IceConnectionState::Closed
        ) || self.txs.len() >= self.config.max_transactions
        {
            return None;
        }
        if let Some(&(local, server)) = self.pending_gather.front() {
            return Some(Work::Gather { local, server });
        }
        if !self.checks_allowed() {
            return None;
        }
        if let Some(&pair) = self.triggered.front() {
            let nominate = self.controlling && self.nominating == Some(pair);
            return Some(Work::Check { pair, nominate });
        }
        if self.selected.is_none()
            && self.nominating.is_none()
            && self.controlling
            && let Some(at) = self.nomination_due_at()
            && now >= at
            && let Some(best) = self.best_valid()
        {
            return Some(Work::Check {
                pair: best,
                nominate: true,
            });
        }
        if self.selected.is_some() {
            return None;
        }
        let waiting = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == PairState::Waiting)
            .max_by_key(|(_, p)| p.priority)
            .map(|(i, _)| i);
        if let Some(pair) = waiting {
            return Some(Work::Check {
                pair,
                nominate: false,
            });
        }
        // No Waiting pair: unfreeze the best Frozen pair of a foundation with nothing
        // Waiting or In-Progress (§6.1.4.2 step 2).
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == PairState::Frozen)
            .filter(|(_, p)| {
                !self.pairs.iter().any(|q| {
                    q.foundation == p.foundation
                        && matches!(q.state, PairState::Waiting | PairState::InProgress)
                })
            })
            .max_by_key(|(_, p)| p.priority)
            .map(|(pair, _)| Work::Check {
                pair,
                nominate: false,
            })
    }

    /// The best valid pair (highest priority among succeeded ones).
    pub(crate) fn best_valid(&self) -> Option<usize> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.valid && p.state == PairState::Succeeded)
            .max_by_key(|(_, p)| p.priority)
            .map(|(i, _)| i)
    }

    /// When the controlling agent will nominate: at once when no pair that could beat the
    /// best valid one is still pending, else `nomination_delay` after the first success.
    fn nomination_due_at(&self) -> Option<Instant> {
        if !self.controlling
            || self.config.lite
            || self.selected.is_some()
            || self.nominating.is_some()
        {
            return None;
        }
        let best = self.best_valid()?;
        let best_prio = self.pairs.get(best)?.priority;
        let better_pending = self.pairs.iter().any(|p| {
            p.priority > best_prio
                && matches!(
                    p.state,
                    PairState::Frozen | PairState::Waiting | PairState::InProgress
                )
        });
        if better_pending {
            self.first_valid_at
                .map(|t| t + self.config.nomination_delay)
        } else {
            self.first_valid_at
        }
    }

    pub(crate) fn tick(&mut self, now: Instant) {
        if matches!(
            self.state,
            IceConnectionState::Closed | IceConnectionState::Failed
        ) {
            return;
        }
        self.run_transactions(now);
        if now >= self.next_pace
            && let Some(work) = self.pick_work(now)
        {
            self.start_work(now, work);
            self.next_pace = now + self.config.ta;
        }
        self.run_consent(now);
        self.update_state(now);
        self.maybe_gathering_complete();
    }

    fn maybe_gathering_complete(&mut self) {
        if self.local_eoc
            && !self.gathering_done_sent
            && self.pending_gather.is_empty()
            && !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Gather { .. }))
        {
            self.gathering_done_sent = true;
            self.events.push_back(IceEvent::GatheringComplete);
        }
    }

    fn start_work(&mut self, now: Instant, work: Work) {
        match work {
            Work::Gather { local, server } => {
                self.pending_gather.pop_front();
                let Some(base) = self.local.get(local).map(|l| l.base) else {
                    return;
                };
                let tid = self.new_tid();
                let m = stun::message(MessageClass::Request, stun::BINDING, tid);
                self.start_tx(now, TxKind::Gather { local }, base, server, m, None, false);
            }
            Work::Check { pair, nominate } => {
                if self.triggered.front() == Some(&pair) {
                    self.triggered.pop_front();
                }
                if !self.send_check(now, pair, nominate)
                    && let Some(p) = self.pairs.get_mut(pair)
                {
                    p.state = PairState::Failed;
                }
            }
        }
    }

    /// Sends a connectivity check on `pair` (RFC 8445 §7.2.2).
    /// False if the check could not be sent.
    pub(crate) fn send_check(&mut self, now: Instant, pair: usize, nominate: bool) -> bool {
        let (Some(creds), Some(key)) = (self.remote_creds.clone(), self.remote_key.clone()) else {
            return false;
        };
        let Some(p) = self.pairs.get(pair) else {
            return false;
        };
        let (Some(l), Some(r)) = (self.local.get(p.local), self.remote.get(p.remote)) else {
            return false;
        };
        let (base, dest, local_pref) = (l.base, r.addr, l.local_pref);
        // PRIORITY: what a peer-reflexive candidate from this base would have (§7.2.2).
        let prflx_priority = candidate_priority(CandidateKind::PeerReflexive, local_pref, 1);
        let tid = self.new_tid();
        let mut m = stun::message(MessageClass::Request, stun::BINDING, tid);
        let username = format!("{}:{}", creds.ufrag, self.local_creds.ufrag);
        let Ok(u) = stun::Username::new(username) else {
            return false;
        };
        m.add_attribute(u);
        m.add_attribute(stun::Priority::new(prflx_priority));
        if self.controlling {
            m.add_attribute(stun::IceControlling::new(self.tie_breaker));
            if nominate {
                m.add_attribute(stun::UseCandidate::new());
            }
        } else {
            m.add_attribute(stun::IceControlled::new(self.tie_breaker));
        }
        // A new check on the pair supersedes any older one still in flight.
        for t in &mut self.txs {
            if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                t.cancelled = true;
            }
        }
        let kind = TxKind::Check {
            pair,
            nominate,
            controlling: self.controlling,
            prflx_priority,
        };
        if self.start_tx(now, kind, base, dest, m, Some(key), true) {
            if let Some(p) = self.pairs.get_mut(pair) {
                p.state = PairState::InProgress;
                p.requests_sent += 1;
            }
            if nominate {
                self.nominating = Some(pair);
            }
            if self.checking_since.is_none() {
                self.checking_since = Some(now);
            }
            if self.state == IceConnectionState::New {
                self.set_state(IceConnectionState::Checking);
            }
            return true;
        }
        false
    }

    pub(crate) fn new_tid(&mut self) -> [u8; 12] {
        let mut tid = [0u8; 12];
        self.rng.fill(&mut tid);
        tid
    }

    /// Encodes and queues a request, and records its transaction. False if it could not
    /// be encoded or the transaction table is full.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_tx(
        &mut self,
        now: Instant,
        kind: TxKind,
        source: SocketAddr,
        dest: SocketAddr,
        mut m: stun::Message<stun::Attribute>,
        key: Option<IntegrityKey>,
        fingerprint: bool,
    ) -> bool {
        if self.txs.len() >= self.config.max_transactions {
            self.stats.transactions_refused += 1;
            return false;
        }
        if let Some(s) = &self.config.software
            && let Ok(sw) = stun::Software::new(s.clone())
        {
            m.add_attribute(sw);
        }
        let mut buf = [0u8; 1280];
        let Ok(n) = stun::encode(m, key.as_ref(), fingerprint, &mut buf) else {
            return false;
        };
        let bytes = buf.get(..n).unwrap_or_default().to_vec();
        let tid = {
            let mut t = [0u8; 12];
            if let Some(src) = bytes.get(8..20) {
                t.copy_from_slice(src);
            }
            t
        };
        // RFC 8445 §14.3: RTO = max(500 ms, Ta * number of pairs being checked).
        let active = self
            .pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count() as u32;
        let rto = self
            .config
            .rto_initial
            .max(self.config.ta.saturating_mul(active))
            .min(self.config.rto_max);
        let max_retransmits = match kind {
            TxKind::Consent { .. } => 2,
            _ => self.config.max_retransmits,
        };
        self.queue(source, dest, bytes.clone());
        self.txs.push(Tx {
            tid,
            kind,
            source,
            dest,
            bytes,
            key,
            first_sent: now,
            retransmits: 0,
            max_retransmits,
            rto,
            next: now + rto,
            cancelled: false,
        });
        true
    }

    pub(crate) fn queue(&mut self, source: SocketAddr, dest: SocketAddr, bytes: Vec<u8>) {
        if self.out.len() >= self.config.max_queued_transmits {
            self.stats.transmits_dropped += 1;
            return;
        }
        self.out.push_back((source, dest, bytes));
    }

    /// Retransmits due transactions and fails those out of tries (RFC 8489 §6.2.1).
    fn run_transactions(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.txs.len() {
            let Some(tx) = self.txs.get_mut(i) else {
                break;
            };
            if tx.next > now {
                i += 1;
                continue;
            }
            if !tx.cancelled && tx.retransmits < tx.max_retransmits {
                tx.retransmits += 1;
                tx.rto = (tx.rto * 2).min(self.config.rto_max);
                tx.next = now + tx.rto;
                let (s, d, b, kind) = (tx.source, tx.dest, tx.bytes.clone(), tx.kind);
                if let TxKind::Check { pair, .. } = kind
                    && let Some(p) = self.pairs.get_mut(pair)
                {
                    p.requests_sent += 1;
                }
                self.queue(s, d, b);
                i += 1;
                continue;
            }
            let tx = self.txs.swap_remove(i);
            self.on_tx_timeout(now, tx);
        }
    }

    fn on_tx_timeout(&mut self, _now: Instant, tx: Tx) {
        match tx.kind {
            TxKind::Check { pair, nominate, .. } => {
                if tx.cancelled {
                    return;
                }
                if nominate && self.nominating == Some(pair) {
                    self.nominating = None;
                    if let Some(p) = self.pairs.get_mut(pair) {
                        p.nominate_failures = p.nominate_failures.saturating_add(1);
                        // A valid pair whose nomination got lost is tried again; after
                        // three losses it is given up.
                        if p.nominate_failures >= 3 {
                            p.state = PairState::Failed;
                            p.valid = false;
                        }
                    }
                    return;
                }
                if let Some(p) = self.pairs.get_mut(pair)
                    && p.state == PairState::InProgress
                {
                    p.state = PairState::Failed;
                }
            }
            TxKind::Gather { .. } => self.stats.gather_failures += 1,
            TxKind::Consent { .. } => {}
        }
    }

    /// Consent freshness (RFC 7675 §5.1) and keepalives (RFC 8445 §11).
    fn run_consent(&mut self, now: Instant) {
        if self.selected.is_some() && !self.config.lite && now >= self.next_consent {
            let interval = if self.state == IceConnectionState::Disconnected {
                Duration::from_secs(1)
            } else {
                self.config.consent_interval
            };
            self.next_consent = now + self.jitter(interval);
            if let Some(pair) = self.selected {
                self.send_consent(now, pair);
            }
        }
        if let Some(prev) = &self.previous
            && now >= prev.next_consent
        {
            let (pair, creds, local_ufrag) =
                (prev.pair, prev.remote.clone(), prev.local.ufrag.clone());
            let next = now + self.jitter(self.config.consent_interval);
            if let Some(p) = self.previous.as_mut() {
                p.next_consent = next;
            }
            let tid = self.new_tid();
            let mut m = stun::message(MessageClass::Request, stun::BINDING, tid);
            if let Ok(u) = stun::Username::new(format!("{}:{}", creds.ufrag, local_ufrag)) {
                m.add_attribute(u);
                m.add_attribute(stun::Priority::new(0));
                let key = IntegrityKey::short_term(&creds.pwd);
                self.start_tx(
                    now,
                    TxKind::Consent { previous: true },
                    pair.local,
                    pair.remote,
                    m,
                    Some(key),
                    true,
                );
            }
        }
        if let Some(sel) = self.selected.and_then(|i| self.pair_info(i))
            && now >= self.last_sent_selected + self.config.keepalive_interval
        {
            // A Binding indication needs no answer (RFC 8445 §11).
            let tid = self.new_tid();
            let m = stun::message(MessageClass::Indication, stun::BINDING, tid);
            let mut buf = [0u8; 64];
            if let Ok(n) = stun::encode(m, None, true, &mut buf) {
                let bytes = buf.get(..n).unwrap_or_default().to_vec();
                self.queue(sel.local, sel.remote, bytes);
            }
            self.last_sent_selected = now;
        }
    }

    fn send_consent(&mut self, now: Instant, pair: usize) {
        let (Some(creds), Some(key)) = (self.remote_creds.clone(), self.remote_key.clone()) else {
            return;
        };
        let Some(info) = self.pair_info(pair) else {
            return;
        };
        let prflx_priority = self
            .pairs
            .get(pair)
            .and_then(|p| self.local.get(p.local))
            .map_or(0, |l| {
                candidate_priority(CandidateKind::PeerReflexive, l.local_pref, 1)
            });
        let tid = self.new_tid();
        let mut m = stun::message(MessageClass::Request, stun::BINDING, tid);
        let Ok(u) = stun::Username::new(format!("{}:{}", creds.ufrag, self.local_creds.ufrag))
        else {
            return;
        };
        m.add_attribute(u);
        m.add_attribute(stun::Priority::new(prflx_priority));
        if self.controlling {
            m.add_attribute(stun::IceControlling::new(self.tie_breaker));
        } else {
            m.add_attribute(stun::IceControlled::new(self.tie_breaker));
        }
        if self.start_tx(
            now,
            TxKind::Consent { previous: false },
            info.local,
            info.remote,
            m,
            Some(key),
            true,
        ) {
            self.last_sent_selected = now;
            if let Some(p) = self.pairs.get_mut(pair) {
                p.requests_sent += 1;
            }
        }
    }

    /// `base` randomised to 0.8–1.2 times (RFC 7675 §5.1).
    fn jitter(&mut self, base: Duration) -> Duration {
        let f = 0.8 + 0.4 * self.rng.unit();
        base.mul_f64(f)
    }

    fn update_state(&mut self, now: Instant) {
        use IceConnectionState as S;
        if let Some(prev) = &self.previous
            && now >= prev.last_consent + self.config.consent_timeout
            && self.selected.is_none()
        {
            tracing::debug!("consent lost on the previous generation's pair");
            self.previous = None;
            self.set_state(S::Failed);
            return;
        }
        if self.selected.is_some() {
            if !self.config.lite {
                if now >= self.last_consent + self.config.consent_timeout {
                    // RFC 7675 §5.1: consent expired; stop sending.
                    self.set_state(S::Failed);
                    self.out.clear();
                    self.txs.clear();
                    return;
                }
                if now >= self.last_consent + self.config.disconnected_timeout {
                    self.set_state(S::Disconnected);
                    return;
                }
            }
            let checks_pending = self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Check { .. }) && !t.cancelled);
            let done = !checks_pending && (self.controlling || self.remote_eoc);
            self.set_state(if done { S::Completed } else { S::Connected });
            return;
        }
        if let Some(since) = self.checking_since
            && now >= since + self.config.checking_timeout
        {
            if self.previous.is_some() {
                // The new generation found nothing; the old pair carries on while its
                // consent lasts.
                self.checking_since = None;
                for p in &mut self.pairs {
                    p.state = PairState::Failed;
                }
                self.triggered.clear();
                return;
            }
            self.set_state(S::Failed);
            return;
        }
        if self.previous.is_some() {
            return;
        }
        // Every pair failed and the peer said it has no more candidates (RFC 8838 §8).
        if self.remote_eoc
            && !self.pairs.is_empty()
            && self.pairs.iter().all(|p| p.state == PairState::Failed)
            && self.triggered.is_empty()
        {
            self.set_state(S::Failed);
        }
    }

    /// Makes `pair` the selected pair (RFC 8445 §8.1.1 / §8.2).
    pub(crate) fn select(&mut self, now: Instant, pair: usize) {
        if self.selected == Some(pair) {
            return;
        }
        if let Some(cur) = self.selected
            && let (Some(a), Some(b)) = (self.pairs.get(cur), self.pairs.get(pair))
            && a.priority > b.priority
        {
            return;
        }
        if let Some(old) = self.selected.and_then(|i| self.pairs.get_mut(i)) {
            old.nominated = false;
        }
        let Some(p) = self.pairs.get_mut(pair) else {
            return;
        };
        p.nominated = true;
        self.selected = Some(pair);
        self.nominating = None;
        self.previous = None;
        self.last_consent = now;
        self.next_consent = now + self.jitter(self.config.consent_interval);
        self.last_sent_selected = now;
        // §8.1.2: once nominated, stop checking other pairs.
        let sel_prio = self.pairs.get(pair).map_or(0, |p| p.priority);
        for (i, q) in self.pairs.iter_mut().enumerate() {
            if i != pair && matches!(q.state, PairState::Frozen | PairState::Waiting) {
                q.state = PairState::Failed;
            }
            if i != pair && q.state == PairState::InProgress && q.priority < sel_prio {
                for t in &mut self.txs {
                    if matches!(t.kind, TxKind::Check { pair: x, .. } if x == i) {
                        t.cancelled = true;
                    }
                }
            }
        }
        self.triggered.clear();
        if let Some(info) = self.pair_info(pair) {
            tracing::debug!(local = %info.local, remote = %info.remote, "ice selected pair");
            self.events.push_back(IceEvent::SelectedPairChanged(info));
        }
        self.update_state(now);
    }
}
