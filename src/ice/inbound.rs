//! Received STUN: answering checks (RFC 8445 §7.3) and processing responses (§7.2.5).

use core::net::SocketAddr;

use crate::net::Receive;
use crate::time::Instant;

use super::IceConnectionState;
use super::agent::{IceAgent, TxKind};
use super::candidate::{Candidate, CandidateKind};
use super::pair::PairState;
use super::stun::{self, IntegrityKey, MessageClass, StunPacket};

/// Which generation of local credentials a request authenticated with.
enum Generation {
    Current,
    Previous,
}

impl IceAgent {
    pub(crate) fn handle_stun(&mut self, now: Instant, rx: Receive<'_>) {
        if matches!(
            self.state,
            IceConnectionState::Failed | IceConnectionState::Closed
        ) {
            self.stats.stun_ignored += 1;
            return;
        }
        let pkt = match stun::parse(rx.contents) {
            Ok(p) => p,
            Err(e) => {
                tracing::trace!(error = %e, "dropping malformed STUN");
                self.stats.stun_malformed += 1;
                return;
            }
        };
        match pkt.class() {
            MessageClass::Request => self.on_request(now, &rx, &pkt),
            MessageClass::SuccessResponse | MessageClass::ErrorResponse => {
                self.on_response(now, &rx, &pkt)
            }
            MessageClass::Indication => self.stats.indications_received += 1,
        }
    }

    /// Sends an error response; authenticated when the request was (RFC 8489 §6.3.4).
    fn reply_error(
        &mut self,
        rx: &Receive<'_>,
        pkt: &StunPacket<'_>,
        code: u16,
        reason: &str,
        key: Option<&IntegrityKey>,
    ) {
        let m = stun::error_response(&pkt.message, code, reason, pkt.unknown_required());
        let mut buf = [0u8; 512];
        if let Ok(n) = stun::encode(m, key, true, &mut buf) {
            // No amplification (RFC 8489 §6.3.4 lets a server answer; nothing says it
            // must answer a stranger with more than it sent): an unauthenticated answer
            // never outweighs the request, or it is not sent.
            if key.is_none() && n > rx.contents.len() {
                self.stats.error_responses_suppressed += 1;
                return;
            }
            self.stats.error_responses_sent += 1;
            let bytes = buf.get(..n).unwrap_or_default().to_vec();
            self.queue(rx.destination, rx.source, bytes);
        }
    }

    fn on_request(&mut self, now: Instant, rx: &Receive<'_>, pkt: &StunPacket<'_>) {
        self.stats.requests_received += 1;
        if self.relay_only()
            && !self
                .local
                .iter()
                .any(|l| l.cand.kind == CandidateKind::Relayed && l.base == rx.destination)
        {
            // Relay only: checks reaching a host socket directly are not answered (that
            // would make the host address known to the peer).
            self.stats.stun_ignored += 1;
            return;
        }
        if pkt.method() != stun::BINDING {
            self.reply_error(rx, pkt, 400, "Bad Request", None);
            return;
        }
        // RFC 8489 §9.1.3: both USERNAME and MESSAGE-INTEGRITY, else 400.
        let Some(username) = pkt.username().map(str::to_owned) else {
            self.stats.auth_failures += 1;
            self.reply_error(rx, pkt, 400, "Bad Request", None);
            return;
        };
        if !pkt.has_integrity() {
            self.stats.auth_failures += 1;
            self.reply_error(rx, pkt, 400, "Bad Request", None);
            return;
        }
        // USERNAME is "ours:theirs" (RFC 8445 §7.2.2); an unknown ufrag is a 401.
        let (lfrag, rfrag) = username.split_once(':').unwrap_or((username.as_str(), ""));
        let (generation, key) = if lfrag == self.local_creds.ufrag {
            (Generation::Current, self.local_key.clone())
        } else if let Some(p) = self.previous.as_ref().filter(|p| p.local.ufrag == lfrag) {
            (Generation::Previous, IntegrityKey::short_term(&p.local.pwd))
        } else {
            self.stats.auth_failures += 1;
            self.reply_error(rx, pkt, 401, "Unauthenticated", None);
            return;
        };
        if !pkt.verify_integrity(&key) {
            self.stats.auth_failures += 1;
            self.reply_error(rx, pkt, 401, "Unauthenticated", None);
            return;
        }
        // RFC 8489 §6.3.1.1: unknown comprehension-required attributes, after auth.
        if !pkt.unknown_required().is_empty() {
            self.reply_error(rx, pkt, 420, "Unknown Attribute", Some(&key));
            return;
        }
        if let Generation::Previous = generation {
            // The peer's consent checks on the old pair during a restart: answer only (a
            // lite agent takes them as consent, as it does for the current pair).
            if self.config.lite
                && let Some(p) = self.previous.as_mut()
            {
                p.last_consent = now;
            }
            self.reply_success(rx, pkt, &key);
            return;
        }
        if !self.config.lite && self.role_conflict(rx, pkt, &key) {
            return;
        }
        self.reply_success(rx, pkt, &key);
        let use_candidate = pkt.message.get_attribute::<stun::UseCandidate>().is_some();
        let priority = pkt
            .message
            .get_attribute::<stun::Priority>()
            .map_or(0, |p| p.prio());
        if let Some(rc) = &self.remote_creds
            && rfrag != rc.ufrag
        {
            // Authenticated with our password but naming another remote ufrag: a stale
            // check from an older generation of the peer. Answered, nothing learned.
            return;
        }
        self.learn_from_request(now, rx, priority, use_candidate);
    }

    /// Role conflict repair (RFC 8445 §7.3.1.1). True when a 487 was sent.
    fn role_conflict(
        &mut self,
        rx: &Receive<'_>,
        pkt: &StunPacket<'_>,
        key: &IntegrityKey,
    ) -> bool {
        let theirs_controlling = pkt.message.get_attribute::<stun::IceControlling>();
        let theirs_controlled = pkt.message.get_attribute::<stun::IceControlled>();
        if self.controlling
            && let Some(t) = theirs_controlling
        {
            if self.tie_breaker >= t.prio() {
                self.reply_error(rx, pkt, 487, "Role Conflict", Some(key));
                return true;
            }
            self.switch_role(false);
        } else if !self.controlling
            && let Some(t) = theirs_controlled
        {
            if self.tie_breaker >= t.prio() {
                self.switch_role(true);
            } else {
                self.reply_error(rx, pkt, 487, "Role Conflict", Some(key));
                return true;
            }
        }
        false
    }

    pub(crate) fn switch_role(&mut self, controlling: bool) {
        if self.controlling != controlling && !(controlling && self.config.lite) {
            tracing::debug!(controlling, "ice role switch");
            self.controlling = controlling;
            self.recompute_priorities();
            self.events
                .push_back(super::IceEvent::RoleChanged { controlling });
        }
    }

    fn reply_success(&mut self, rx: &Receive<'_>, pkt: &StunPacket<'_>, key: &IntegrityKey) {
        let mut m = stun::Message::new(
            MessageClass::SuccessResponse,
            stun::BINDING,
            pkt.transaction_id(),
        );
        m.add_attribute(stun::XorMappedAddress::new(rx.source));
        let mut buf = [0u8; 256];
        if let Ok(n) = stun::encode(m, Some(key), true, &mut buf) {
            let bytes = buf.get(..n).unwrap_or_default().to_vec();
            self.queue(rx.destination, rx.source, bytes);
            self.stats.responses_sent += 1;
        }
    }

    /// Peer-reflexive remote candidates (§7.3.1.3), triggered checks (§7.3.1.4) and
    /// nomination as the controlled agent (§7.3.1.5).
    fn learn_from_request(
        &mut self,
        now: Instant,
        rx: &Receive<'_>,
        priority: u32,
        use_candidate: bool,
    ) {
        let Some(local) = self
            .local
            .iter()
            .position(|l| self.pairs_local(l.cand.kind) && l.base == rx.destination)
        else {
            self.stats.unknown_destination += 1;
            return;
        };
        let remote = match self.remote.iter().position(|r| r.addr == rx.source) {
            Some(r) => r,
            None => {
                if self.remote.len() >= self.config.max_remote_candidates {
                    self.stats.candidates_refused += 1;
                    return;
                }
                let foundation = format!("prflx{}", self.remote.len());
                self.insert_remote(Candidate {
                    foundation,
                    component: 1,
                    proto: rx.proto,
                    priority,
                    addr: rx.source,
                    kind: CandidateKind::PeerReflexive,
                    related: None,
                    ufrag: None,
                })
            }
        };
        let Some(pair) = self.add_pair(local, remote) else {
            return;
        };
        if let Some(p) = self.pairs.get_mut(pair) {
            p.requests_received += 1;
            p.responses_sent += 1;
        }
        if self.config.lite && self.selected == Some(pair) {
            self.last_consent = now;
        }
        if self.config.lite {
            // A lite agent has no checks of its own: the pair is valid once the peer's
            // check arrives, and selected when it carries USE-CANDIDATE (§7.3.1.5 / §8.2).
            if let Some(p) = self.pairs.get_mut(pair) {
                p.state = PairState::Succeeded;
                p.valid = true;
            }
            if use_candidate {
                self.select(now, pair);
            }
            return;
        }
        let state = self.pairs.get(pair).map(|p| p.state);
        if use_candidate && !self.controlling {
            if state == Some(PairState::Succeeded) {
                self.select(now, pair);
            } else if let Some(p) = self.pairs.get_mut(pair) {
                p.nominate_on_success = true;
            }
        }
        if self.rebinding_candidate(pair) {
            // NAT rebinding: the selected pair has had no consent response for a while
            // (Disconnected) and the peer's authenticated checks now come from a new
            // address to the same local base. Consent is per 5-tuple (RFC 7675 §5.1):
            // check the new one; if it answers, it becomes the selected pair.
            self.rebind_to = Some(pair);
            if state != Some(PairState::InProgress) {
                self.trigger(pair);
            }
            return;
        }
        if self.selected.is_some() && self.selected != Some(pair) && !use_candidate {
            return;
        }
        match state {
            Some(PairState::Succeeded) | None => {}
            Some(PairState::InProgress) => {
                // Cancel the in-flight check and trigger a new one (§7.3.1.4).
                for t in &mut self.txs {
                    if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                        t.cancelled = true;
                    }
                }
                self.trigger(pair);
            }
            Some(_) => self.trigger(pair),
        }
    }

    /// True when `pair` could replace the selected pair after a NAT rebinding: the
    /// selected pair lost its consent responses (Disconnected) and `pair` shares its
    /// local base but reaches the peer at another address.
    fn rebinding_candidate(&self, pair: usize) -> bool {
        if self.state != IceConnectionState::Disconnected || self.config.lite {
            return false;
        }
        let (Some(sel), Some(p)) = (
            self.selected.and_then(|s| self.pairs.get(s)),
            self.pairs.get(pair),
        ) else {
            return false;
        };
        self.selected != Some(pair) && sel.local == p.local && sel.remote != p.remote
    }

    fn trigger(&mut self, pair: usize) {
        if let Some(p) = self.pairs.get_mut(pair) {
            p.state = PairState::Waiting;
        }
        if !self.triggered.contains(&pair) && self.triggered.len() < self.config.max_pairs {
            self.triggered.push_back(pair);
        }
    }

    fn on_response(&mut self, now: Instant, rx: &Receive<'_>, pkt: &StunPacket<'_>) {
        let tid = *pkt.transaction_id().as_bytes();
        let Some(i) = self.txs.iter().position(|t| t.tid == tid) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        let Some(tx) = self.txs.get(i) else {
            return;
        };
        // Responses to authenticated requests must be authenticated the same way.
        if let Some(key) = &tx.key
            && !pkt.verify_integrity(key)
        {
            self.stats.auth_failures += 1;
            return;
        }
        let tx = self.txs.swap_remove(i);
        // §7.2.5.2.1: the response must come from where the request went, to where it
        // came from; otherwise the pair fails.
        let symmetric = rx.source == tx.dest && rx.destination == tx.source;
        let rtt = (tx.retransmits == 0).then(|| now - tx.first_sent);
        let success = pkt.class() == MessageClass::SuccessResponse;
        let mapped = pkt
            .message
            .get_attribute::<stun::XorMappedAddress>()
            .map(|x| x.address())
            .or_else(|| {
                pkt.message
                    .get_attribute::<stun::MappedAddress>()
                    .map(|x| x.address())
            });
        let error_code = pkt
            .message
            .get_attribute::<stun::ErrorCode>()
            .map(|e| e.code());
        match tx.kind {
            TxKind::Gather { local } => {
                if success
                    && rx.source == tx.dest
                    && let Some(mapped) = mapped
                {
                    self.add_srflx(local, mapped, tx.dest);
                } else {
                    self.stats.gather_failures += 1;
                }
            }
            TxKind::Consent { previous } => {
                if success && symmetric {
                    if previous {
                        if let Some(p) = self.previous.as_mut() {
                            p.last_consent = now;
                        }
                    } else {
                        self.last_consent = now;
                        if let Some(p) = self.selected.and_then(|s| self.pairs.get_mut(s)) {
                            p.responses_received += 1;
                            if let Some(rtt) = rtt {
                                p.rtt = Some(rtt);
                            }
                        }
                    }
                }
            }
            TxKind::Check {
                pair,
                nominate,
                controlling,
                prflx_priority,
            } => {
                if self.nominating == Some(pair) && nominate {
                    self.nominating = None;
                }
                if !success {
                    if error_code == Some(487) {
                        // §7.2.5.1: switch to the opposite of what the request claimed
                        // and check the pair again.
                        self.switch_role(!controlling);
                        self.trigger(pair);
                    } else if let Some(p) = self.pairs.get_mut(pair) {
                        p.state = PairState::Failed;
                    }
                    return;
                }
                let Some(mapped) = mapped.filter(|_| symmetric) else {
                    if let Some(p) = self.pairs.get_mut(pair) {
                        p.state = PairState::Failed;
                    }
                    return;
                };
                self.on_check_success(now, pair, nominate, prflx_priority, tx.source, mapped, rtt);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_check_success(
        &mut self,
        now: Instant,
        pair: usize,
        nominate: bool,
        prflx_priority: u32,
        base: SocketAddr,
        mapped: SocketAddr,
        rtt: Option<crate::time::Duration>,
    ) {
        // §7.2.5.3.1: a mapped address we do not know is a new peer-reflexive candidate.
        let kind = match self.local.iter().find(|l| l.cand.addr == mapped) {
            Some(l) => l.cand.kind,
            None => {
                if self.local.len() < self.config.max_local_candidates {
                    let local_pref = self
                        .local
                        .iter()
                        .find(|l| l.base == base)
                        .map_or(0, |l| l.local_pref);
                    let mut c = Candidate::new(
                        CandidateKind::PeerReflexive,
                        mapped,
                        base,
                        None,
                        crate::net::Protocol::Udp,
                        local_pref,
                    );
                    c.priority = prflx_priority;
                    self.local.push(super::agent::LocalCand {
                        cand: c,
                        base,
                        local_pref,
                    });
                }
                CandidateKind::PeerReflexive
            }
        };
        let Some(p) = self.pairs.get_mut(pair) else {
            return;
        };
        p.state = PairState::Succeeded;
        p.valid = true;
        p.valid_kind = kind;
        p.responses_received += 1;
        if rtt.is_some() {
            p.rtt = rtt;
        }
        let foundation = p.foundation.clone();
        let nominated_by_peer = p.nominate_on_success;
        // A triggered check queued while this one was in flight is now pointless.
        self.triggered.retain(|&q| q != pair);
        if self.first_valid_at.is_none() {
            self.first_valid_at = Some(now);
        }
        // §7.2.5.3.3: unfreeze the pairs of the same foundation.
        for q in &mut self.pairs {
            if q.state == PairState::Frozen && q.foundation == foundation {
                q.state = PairState::Waiting;
            }
        }
        if self.rebind_to == Some(pair) {
            self.rebind_to = None;
            if self.state == IceConnectionState::Disconnected {
                tracing::debug!("ice: the peer's address changed; following it");
                // Not a nomination: the peer's view of the 5-tuple did not change.
                if let Some(old) = self.selected.take().and_then(|i| self.pairs.get_mut(i)) {
                    old.nominated = false;
                }
                self.select(now, pair);
                return;
            }
        }
        if (nominate && self.controlling) || (nominated_by_peer && !self.controlling) {
            self.select(now, pair);
        }
    }

    fn add_srflx(&mut self, local: usize, mapped: SocketAddr, server: SocketAddr) {
        let Some(l) = self.local.get(local) else {
            return;
        };
        let (base, local_pref) = (l.base, l.local_pref);
        // Redundant when equal to the base or to a candidate we have (§5.1.3).
        if mapped == base || self.local.iter().any(|l| l.cand.addr == mapped) {
            return;
        }
        if self.local.len() >= self.config.max_local_candidates {
            return;
        }
        let mut c = Candidate::new(
            CandidateKind::ServerReflexive,
            mapped,
            base,
            Some(server.ip()),
            crate::net::Protocol::Udp,
            local_pref,
        );
        c.ufrag = Some(self.local_creds.ufrag.clone());
        self.local.push(super::agent::LocalCand {
            cand: c.clone(),
            base,
            local_pref,
        });
        self.events.push_back(super::IceEvent::LocalCandidate(c));
    }
}
