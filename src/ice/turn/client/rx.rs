//! What the TURN server sends: responses to the client's requests (RFC 8656 §7–§12,
//! the long-term credential mechanism of RFC 8489 §9.2), and relayed data in ChannelData
//! messages and Data indications, over UDP or cut from a stream.

use core::net::SocketAddr;

use crate::ice::stun::{self, IntegrityKey, MessageClass};
use crate::net::{Protocol, Receive};
use crate::rng::Rng;
use crate::time::{Duration, Instant};

use super::super::{TurnError, channel_data, msg};
use super::{ClientEvent, MAX_AUTH_RETRIES, State, TurnClient, TxKind};

impl TurnClient {
    // ---- input

    /// Bytes from the server: a datagram (UDP) or a chunk of the stream. For a UDP
    /// datagram carrying relayed data, returns it as if received from the peer at the
    /// relayed address; stream data is taken with `poll_relayed`.
    pub fn handle_input<'a>(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        rx: Receive<'a>,
    ) -> Option<Receive<'a>> {
        if matches!(self.state, State::Closed) {
            return None;
        }
        let Some(stream) = self.stream.as_mut() else {
            let (peer, data) = self.handle_frame(now, rng, rx.contents)?;
            return Some(Receive {
                proto: Protocol::Udp,
                source: peer,
                destination: self.relayed?,
                contents: data,
            });
        };
        let res = match stream.tls.as_mut() {
            Some(tls) => tls.read_tls(rx.contents, &mut stream.framer),
            None => stream
                .framer
                .push(rx.contents)
                .map_err(|_| "TURN stream overflow".to_owned()),
        };
        if let Err(e) = res {
            self.stream_failed(TurnError::Tls(e));
        }
        None
    }

    /// The next relayed datagram cut from the stream, copied into `out`: (peer, length).
    /// Control messages met on the way are handled.
    pub fn poll_relayed(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        out: &mut [u8],
    ) -> Option<(SocketAddr, SocketAddr, usize)> {
        // The framer is taken out while frames are handled (a response may make the
        // client send, through the TLS connection that stays in place).
        let mut framer = core::mem::take(&mut self.stream.as_mut()?.framer);
        let mut result = None;
        let mut broken = false;
        while let Some(frame) = framer.next_frame() {
            let Ok(frame) = frame else {
                broken = true;
                break;
            };
            if let Some((peer, data)) = self.handle_frame(now, rng, frame) {
                let Some(dst) = out.get_mut(..data.len()) else {
                    self.stats.dropped += 1;
                    continue;
                };
                dst.copy_from_slice(data);
                if let Some(relayed) = self.relayed {
                    result = Some((peer, relayed, data.len()));
                    break;
                }
            }
        }
        if let Some(s) = self.stream.as_mut() {
            s.framer = framer;
        }
        if broken {
            self.stream_failed(TurnError::StreamClosed);
        }
        result
    }

    /// The host's TCP connection closed, or its bytes cannot be framed.
    pub fn stream_failed(&mut self, e: TurnError) {
        if let Some(s) = self.stream.as_mut() {
            s.framer.clear();
        }
        if !matches!(self.state, State::Failed | State::Closed) {
            self.fail(e);
        }
    }

    /// One datagram or stream frame from the server.
    fn handle_frame<'b>(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        frame: &'b [u8],
    ) -> Option<(SocketAddr, &'b [u8])> {
        match frame.first() {
            Some(0x40..=0x4F) => {
                let Ok(cd) = channel_data::parse(frame) else {
                    self.stats.malformed += 1;
                    return None;
                };
                let Some(peer) = self
                    .channels
                    .iter()
                    .find(|c| c.channel == cd.channel && c.bound)
                    .map(|c| c.peer)
                else {
                    self.stats.malformed += 1;
                    return None;
                };
                self.stats.received_channel_data += 1;
                Some((peer, cd.data))
            }
            Some(0..=3) if msg::is_data_indication(frame) => {
                let Some((peer, data)) = msg::parse_data_indication(frame) else {
                    self.stats.malformed += 1;
                    return None;
                };
                self.stats.received_data_indications += 1;
                Some((peer, data))
            }
            Some(0..=3) => {
                self.handle_response(now, rng, frame);
                None
            }
            _ => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    fn handle_response(&mut self, now: Instant, rng: &mut Rng, raw: &[u8]) {
        let Ok(pkt) = stun::parse(raw) else {
            self.stats.malformed += 1;
            return;
        };
        let success = match pkt.class() {
            MessageClass::SuccessResponse => true,
            MessageClass::ErrorResponse => false,
            _ => return,
        };
        let tid = *pkt.transaction_id().as_bytes();
        let Some(i) = self.txs.iter().position(|t| t.tid == tid) else {
            return;
        };
        let Some(tx) = self.txs.get(i) else {
            return;
        };
        // Responses to authenticated requests must be authenticated (RFC 8489 §9.2.5);
        // error responses may come without integrity (401 and 438 do: the nonce or realm
        // changed). A bad MESSAGE-INTEGRITY is never accepted.
        let code = pkt
            .message
            .get_attribute::<stun::ErrorCode>()
            .map(|e| e.code());
        if tx.authed {
            let verified = self.key.as_ref().is_some_and(|k| pkt.verify_integrity(k));
            if (pkt.has_integrity() && !verified) || (success && !pkt.has_integrity()) {
                self.stats.malformed += 1;
                return;
            }
        }
        let tx = self.txs.swap_remove(i);
        if success {
            self.on_success(now, rng, tx.kind, &pkt);
            return;
        }
        let realm = pkt
            .message
            .get_attribute::<stun::Realm>()
            .map(|r| r.text().to_owned());
        let nonce = pkt
            .message
            .get_attribute::<stun::Nonce>()
            .map(|n| n.value().to_owned());
        match code {
            // RFC 8489 §9.2.5: a first 401 gives realm and nonce; a 401 to a request that
            // already carried credentials means they are wrong.
            Some(401) if !tx.authed && tx.auth_retries < MAX_AUTH_RETRIES => {
                let (Some(realm), Some(nonce)) = (realm, nonce) else {
                    self.on_error(tx.kind, TurnError::WrongCredentials);
                    return;
                };
                self.key = Some(IntegrityKey::long_term(
                    &self.username,
                    &realm,
                    &self.password,
                ));
                self.realm = Some(realm);
                self.nonce = Some(nonce);
                self.request(now, rng, tx.kind, tx.auth_retries + 1);
            }
            // RFC 8489 §9.2.5: stale nonce, retry with the new one.
            Some(438) if tx.auth_retries < MAX_AUTH_RETRIES => {
                self.stats.stale_nonces += 1;
                if let Some(n) = nonce {
                    self.nonce = Some(n);
                }
                if let Some(r) = realm
                    && Some(&r) != self.realm.as_ref()
                {
                    self.key = Some(IntegrityKey::long_term(&self.username, &r, &self.password));
                    self.realm = Some(r);
                }
                self.request(now, rng, tx.kind, tx.auth_retries + 1);
            }
            Some(401) => self.on_error(tx.kind, TurnError::WrongCredentials),
            Some(486) => self.on_error(tx.kind, TurnError::AllocationQuota),
            Some(508) => self.on_error(tx.kind, TurnError::InsufficientCapacity),
            Some(437) => self.on_error(tx.kind, TurnError::AllocationLost),
            other => {
                let reason = pkt
                    .message
                    .get_attribute::<stun::ErrorCode>()
                    .map(|e| e.reason_phrase().chars().take(128).collect())
                    .unwrap_or_default();
                self.on_error(
                    tx.kind,
                    TurnError::Rejected {
                        code: other.unwrap_or(0),
                        reason,
                    },
                );
            }
        }
    }

    fn on_error(&mut self, kind: TxKind, e: TurnError) {
        match kind {
            TxKind::Allocate => self.fail(e),
            TxKind::Refresh { lifetime: 0 } => {}
            TxKind::Refresh { .. } => {
                if e == TurnError::AllocationLost || e == TurnError::WrongCredentials {
                    self.fail(e);
                } else {
                    self.error(e);
                }
            }
            TxKind::Permission { ip } => {
                self.perms.retain(|p| p.ip != ip);
                self.pending.retain(|(peer, _)| peer.ip() != ip);
                self.error(e);
            }
            TxKind::ChannelBind { channel, .. } => {
                // Data keeps flowing in Send indications.
                self.channels.retain(|c| c.channel != channel);
                self.error(e);
            }
        }
    }

    fn on_success(
        &mut self,
        now: Instant,
        rng: &mut Rng,
        kind: TxKind,
        pkt: &stun::StunPacket<'_>,
    ) {
        let lifetime = pkt
            .message
            .get_attribute::<stun::Lifetime>()
            .map(|l| l.lifetime());
        match kind {
            TxKind::Allocate => {
                let Some(relayed) = pkt
                    .message
                    .get_attribute::<stun::XorRelayAddress>()
                    .map(|a| a.address())
                else {
                    self.fail(TurnError::Rejected {
                        code: 0,
                        reason: "no XOR-RELAYED-ADDRESS".into(),
                    });
                    return;
                };
                self.mapped = pkt
                    .message
                    .get_attribute::<stun::XorMappedAddress>()
                    .map(|a| a.address());
                self.relayed = Some(relayed);
                self.state = State::Allocated;
                self.stats.allocations += 1;
                self.stats.relayed = Some(relayed);
                self.stats.mapped = self.mapped;
                self.set_lifetime(now, lifetime.unwrap_or(Duration::from_secs(600)));
                self.events.push_back(ClientEvent::Allocated {
                    relayed,
                    mapped: self.mapped,
                });
            }
            TxKind::Refresh { lifetime: 0 } => {}
            TxKind::Refresh { .. } => {
                self.stats.refreshes += 1;
                match lifetime {
                    Some(l) if l.is_zero() => self.fail(TurnError::AllocationLost),
                    Some(l) => self.set_lifetime(now, l),
                    None => self.set_lifetime(now, self.cfg.lifetime),
                }
            }
            TxKind::Permission { ip } => {
                self.stats.permissions += 1;
                let refresh_at = now + self.cfg.permission_refresh;
                if let Some(p) = self.perms.iter_mut().find(|p| p.ip == ip) {
                    p.installed = true;
                    p.in_flight = false;
                    p.refresh_at = refresh_at;
                }
                self.flush_pending(rng, ip);
            }
            TxKind::ChannelBind { channel, peer } => {
                self.stats.channel_binds += 1;
                let refresh_at = now + self.cfg.channel_refresh;
                if let Some(c) = self.channels.iter_mut().find(|c| c.channel == channel) {
                    c.bound = true;
                    c.in_flight = false;
                    c.refresh_at = refresh_at;
                }
                // RFC 8656 §12.2: a channel binding installs the permission too.
                if let Some(p) = self.perms.iter_mut().find(|p| p.ip == peer.ip())
                    && !p.installed
                {
                    p.installed = true;
                    p.in_flight = false;
                    p.refresh_at = now + self.cfg.permission_refresh;
                }
                self.flush_pending(rng, peer.ip());
            }
        }
    }

    /// Refresh one minute before expiry, or halfway for a short lifetime (RFC 8656 §7.3
    /// leaves the margin to the client).
    fn set_lifetime(&mut self, now: Instant, lifetime: Duration) {
        self.expires = now + lifetime;
        let margin = Duration::from_secs(60).min(lifetime / 2);
        self.refresh_at = Some(now + (lifetime - margin));
    }
}
