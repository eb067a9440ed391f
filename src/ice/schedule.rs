//! The check scheduler and STUN transactions (RFC 8445 §6.1.4, RFC 8489 §6.2).

use core::net::SocketAddr;

use crate::net::Protocol;
use crate::time::Instant;

use super::IceConnectionState;
use super::IceEvent;
use super::agent::{IceAgent, Tx, TxKind};
use super::candidate::{CandidateKind, candidate_priority, pair_priority};
use super::pair::{Pair, PairState, SelectedPair};
use super::stun::{self, IntegrityKey, MessageClass};

/// Work the scheduler can start at the next Ta tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    Gather { local: usize, server: SocketAddr },
    Check { pair: usize, nominate: bool },
}

impl IceAgent {
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
    pub(crate) fn priority_of(&self, l: usize, r: usize) -> u64 {
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
    /// pruning §6.1.2.4: only host bases and relayed candidates pair; reflexive locals
    /// are redundant with their host bases; the transport policy may allow relayed only).
    /// Returns its index.
    pub(crate) fn add_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let lc = self.local.get(l)?;
        let rc = self.remote.get(r)?;
        if !self.pairs_local(lc.cand.kind)
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

    pub(crate) fn checks_allowed(&self) -> bool {
        !self.config.lite
            && self.remote_creds.is_some()
            && !matches!(
                self.state,
                IceConnectionState::Failed | IceConnectionState::Closed
            )
    }

    /// The next new transaction to start (RFC 8445 §6.1.4.2), without changing anything.
    pub(crate) fn pick_work(&self, now: Instant) -> Option<Work> {
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
    pub(crate) fn nomination_due_at(&self) -> Option<Instant> {
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
        self.turn_tick(now);
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

    pub(crate) fn maybe_gathering_complete(&mut self) {
        if self.local_eoc
            && !self.gathering_done_sent
            && self.pending_gather.is_empty()
            && !self.turn_gathering()
            && !self
                .txs
                .iter()
                .any(|t| matches!(t.kind, TxKind::Gather { .. }))
        {
            self.gathering_done_sent = true;
            self.events.push_back(IceEvent::GatheringComplete);
        }
    }

    pub(crate) fn start_work(&mut self, now: Instant, work: Work) {
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
    pub(crate) fn run_transactions(&mut self, now: Instant) {
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

    pub(crate) fn on_tx_timeout(&mut self, _now: Instant, tx: Tx) {
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
}
