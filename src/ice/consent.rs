//! Consent freshness (RFC 7675), keepalives (RFC 8445 §11), connection state and
//! selection of the nominated pair (RFC 8445 §8).

use crate::time::{Duration, Instant};

use super::IceConnectionState;
use super::IceEvent;
use super::agent::{IceAgent, TxKind};
use super::candidate::{CandidateKind, candidate_priority};
use super::pair::PairState;
use super::stun::{self, IntegrityKey, MessageClass};

impl IceAgent {
    /// Consent freshness (RFC 7675 §5.1) and keepalives (RFC 8445 §11).
    pub(crate) fn run_consent(&mut self, now: Instant) {
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
            && !self.config.lite
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

    pub(crate) fn send_consent(&mut self, now: Instant, pair: usize) {
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
    pub(crate) fn jitter(&mut self, base: Duration) -> Duration {
        let f = 0.8 + 0.4 * self.rng.unit();
        base.mul_f64(f)
    }

    pub(crate) fn update_state(&mut self, now: Instant) {
        use IceConnectionState as S;
        if let Some(prev) = &self.previous
            && self.selected.is_none()
        {
            // During a restart the previous generation's pair is the connection: its
            // consent decides between connected, disconnected and failed.
            if now >= prev.last_consent + self.config.consent_timeout {
                tracing::debug!("consent lost on the previous generation's pair");
                self.previous = None;
                self.set_state(S::Failed);
                return;
            }
            if now >= prev.last_consent + self.config.disconnected_timeout {
                self.set_state(S::Disconnected);
            } else if self.state == S::Disconnected {
                self.set_state(S::Connected);
            }
        }
        if self.selected.is_some() {
            // A full agent's consent comes from responses to its checks (RFC 7675); a lite
            // agent sends no checks and takes the peer's checks on the pair instead.
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
