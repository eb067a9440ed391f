//! Incoming packets: verification tags, then each chunk by type (RFC 9260 §8.5, §3.2).

use super::*;

impl Association {
    /// Handles one SCTP packet. Packets with a bad checksum, framing or verification
    /// tag are dropped and counted; nothing in them can panic or grow memory.
    pub fn handle_receive(&mut self, now: Instant, packet: &[u8]) {
        self.last_now = now;
        self.sender.stamp(now);
        self.stats.packets_in += 1;
        if self.state == State::Dead {
            return;
        }
        let Ok(p) = Packet::parse_with(packet, self.config.zero_checksum) else {
            self.stats.dropped_packets += 1;
            return;
        };
        if p.dst_port != self.config.local_port || p.src_port != self.config.remote_port {
            self.stats.dropped_packets += 1;
            return;
        }
        let mut chunks = p.chunks().peekable();
        let Some(Ok(first)) = chunks.peek().copied() else {
            self.stats.dropped_packets += 1;
            return;
        };
        if !self.tag_ok(&p, &first) {
            self.stats.dropped_packets += 1;
            return;
        }
        let mut data_seen = false;
        let mut immediate = false;
        for c in chunks {
            let Ok(c) = c else {
                self.stats.dropped_packets += 1;
                break;
            };
            match self.chunk(now, &c, &mut data_seen, &mut immediate) {
                Flow::Continue => {}
                Flow::Stop => break,
            }
            if self.state == State::Dead {
                return;
            }
        }
        if data_seen {
            // RFC 9260 §6.2: a SACK for every second packet with DATA, and within the
            // delayed-SACK time of the first; at once when something is amiss.
            self.data_packets_unacked += 1;
            if immediate || self.data_packets_unacked >= 2 || self.receiver.has_gaps() {
                self.sack_due = true;
            } else if self.sack_deadline.is_none() {
                self.sack_deadline = Some(now + self.config.sack_delay);
            }
            let mut actions = Actions::default();
            self.reconfig
                .on_data_progress(self.receiver.cum_tsn, &mut actions);
            self.apply(actions);
        }
        self.move_deliveries();
        self.progress_shutdown(now);
    }

    /// RFC 9260 §8.5: the verification tag rules.
    fn tag_ok(&self, p: &Packet<'_>, first: &RawChunk<'_>) -> bool {
        let tag = p.verification_tag;
        match first.ty {
            // An INIT carries tag 0 and must be alone (§8.5.1 A).
            ct::INIT => tag == 0 && p.chunks().count() == 1,
            // ABORT and SHUTDOWN COMPLETE with the T bit carry the peer's own tag.
            ct::ABORT | ct::SHUTDOWN_COMPLETE if first.flags & 1 != 0 => {
                self.peer_tag != 0 && tag == self.peer_tag
            }
            _ => tag == self.my_tag,
        }
    }

    fn chunk(
        &mut self,
        now: Instant,
        c: &RawChunk<'_>,
        data_seen: &mut bool,
        immediate: &mut bool,
    ) -> Flow {
        match c.ty {
            ct::DATA => {
                *data_seen = true;
                self.on_data(c, immediate);
            }
            ct::INIT => self.on_init(now, c),
            ct::INIT_ACK => self.on_init_ack(now, c),
            ct::SACK => self.on_sack(now, c),
            ct::HEARTBEAT => {
                // Echo the Heartbeat Info parameter (RFC 9260 §8.3).
                let tag = self.peer_tag;
                let info = c.value.to_vec();
                if self.peer_tag != 0 {
                    self.push_ctrl(tag, |w| w.chunk(ct::HEARTBEAT_ACK, 0, |w| w.bytes(&info)));
                }
            }
            ct::HEARTBEAT_ACK => self.on_heartbeat_ack(now, c),
            ct::ABORT => {
                let code = Tlvs::new(c.value)
                    .next()
                    .and_then(Result::ok)
                    .map_or(0, |t| t.ty);
                self.fail(SctpError::PeerAborted(code));
                return Flow::Stop;
            }
            ct::SHUTDOWN => self.on_shutdown(now, c),
            ct::SHUTDOWN_ACK => {
                if matches!(self.state, State::ShutdownSent | State::ShutdownAckSent) {
                    let tag = self.peer_tag;
                    self.push_ctrl(tag, |w| w.chunk(ct::SHUTDOWN_COMPLETE, 0, |_| Some(())));
                    self.close(CloseReason::Shutdown);
                    return Flow::Stop;
                }
            }
            ct::SHUTDOWN_COMPLETE => {
                if self.state == State::ShutdownAckSent {
                    self.close(CloseReason::Shutdown);
                    return Flow::Stop;
                }
            }
            ct::ERROR => {
                tracing::debug!(causes = ?Tlvs::new(c.value).map_while(Result::ok).map(|t| t.ty).collect::<Vec<_>>(), "SCTP ERROR");
                self.on_error(now, c);
            }
            ct::COOKIE_ECHO => self.on_cookie_echo(now, c),
            ct::COOKIE_ACK => {
                if self.state == State::CookieEchoed {
                    self.established();
                }
            }
            ct::FORWARD_TSN => {
                if let Some(f) = ForwardTsn::parse(c)
                    && self.is_receiving()
                {
                    self.receiver.on_forward_tsn(f.new_cum_tsn, f.streams());
                    self.sack_due = true;
                    let mut actions = Actions::default();
                    self.reconfig
                        .on_data_progress(self.receiver.cum_tsn, &mut actions);
                    self.apply(actions);
                }
            }
            ct::RECONFIG => self.on_reconfig(c),
            ct::PAD => {}
            other => {
                // RFC 9260 §3.2: the two high bits say what to do with an unknown chunk.
                let report = other & 0x40 != 0;
                if report && self.peer_tag != 0 {
                    let tag = self.peer_tag;
                    let mut unrecognized = vec![other, c.flags];
                    unrecognized.extend_from_slice(&((c.value.len() + 4) as u16).to_be_bytes());
                    unrecognized.extend_from_slice(
                        c.value.get(..c.value.len().min(256)).unwrap_or_default(),
                    );
                    self.push_ctrl(tag, |w| {
                        w.chunk(ct::ERROR, 0, |w| {
                            write_tlv(w, cause::UNRECOGNIZED_CHUNK, &unrecognized)
                        })
                    });
                }
                if other & 0x80 == 0 {
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    }

    fn is_receiving(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownSent
        )
    }

    fn on_data(&mut self, c: &RawChunk<'_>, immediate: &mut bool) {
        if !self.is_receiving() {
            return;
        }
        let Some(d) = DataChunk::parse(c) else {
            self.violation("truncated DATA chunk");
            return;
        };
        if d.payload.is_empty() {
            // RFC 9260 §6.2: a DATA chunk without user data aborts (No User Data).
            let tag = self.peer_tag;
            let tsn = d.tsn.to_be_bytes();
            self.push_ctrl(tag, |w| {
                w.chunk(ct::ABORT, 0, |w| write_tlv(w, cause::NO_USER_DATA, &tsn))
            });
            self.fail(SctpError::ProtocolViolation("DATA without user data"));
            return;
        }
        self.stats.data_chunks_in += 1;
        if d.immediate {
            *immediate = true;
        }
        match self.receiver.on_data(&d, self.event_bytes) {
            DataOutcome::InOrder => {}
            DataOutcome::OutOfOrder | DataOutcome::Duplicate | DataOutcome::Dropped => {
                *immediate = true;
            }
            DataOutcome::TooBig => self.violation("message larger than max-message-size"),
        }
        if self.receiver.out_of_streams {
            let tag = self.peer_tag;
            self.push_ctrl(tag, |w| {
                w.chunk(ct::ABORT, 0, |w| write_tlv(w, cause::OUT_OF_RESOURCE, &[]))
            });
            self.fail(SctpError::ProtocolViolation(
                "more active streams than max_active_streams",
            ));
            return;
        }
        self.move_deliveries();
    }

    /// Moves complete messages from the receiver into the event queue, within its bound.
    pub(super) fn move_deliveries(&mut self) {
        // After `Closed`, nothing (`close` already moved what was received).
        if self.state == State::Dead {
            return;
        }
        self.release_resets();
        while self.events.len() < self.config.max_events && self.deliver_one() {
            self.release_resets();
        }
    }

    /// Moves the receiver's next complete message into the events, if there is one.
    pub(super) fn deliver_one(&mut self) -> bool {
        let Some(d) = self.receiver.take_message() else {
            return false;
        };
        for h in &mut self.held_resets {
            h.1 = h.1.saturating_sub(1);
        }
        self.stats.messages_in += 1;
        self.stats.bytes_in += d.data.len() as u64;
        self.event_bytes += d.data.len();
        self.events.push_back(SctpEvent::Message {
            stream: d.stream,
            ppid: d.ppid,
            data: d.data,
        });
        true
    }

    /// Queues the events of held stream resets whose messages have all gone before.
    pub(super) fn release_resets(&mut self) {
        while let Some(&(stream, 0)) = self.held_resets.front() {
            self.held_resets.pop_front();
            self.events
                .push_back(SctpEvent::IncomingStreamReset { stream });
        }
    }

    fn on_init(&mut self, now: Instant, c: &RawChunk<'_>) {
        let Some(init) = Init::parse(c) else {
            return;
        };
        if init.initiate_tag == 0
            || init.outbound_streams == 0
            || init.inbound_streams == 0
            || !init.params_ok()
        {
            // RFC 9260 §3.3.2: invalid mandatory parameters abort (tag 0: silently drop).
            if init.initiate_tag != 0 {
                self.push_ctrl(init.initiate_tag, |w| {
                    w.chunk(ct::ABORT, 0, |w| {
                        write_tlv(w, cause::INVALID_PARAMETER, &[])
                    })
                });
            }
            return;
        }
        if matches!(self.state, State::ShutdownAckSent) {
            return;
        }
        // Stateless (RFC 9260 §5.1 B): everything goes into the cookie. In COOKIE-WAIT
        // and COOKIE-ECHOED our tag and initial TSN stay those of our own INIT
        // (§5.2.1), and the same holds once established (§5.2.2): the peer's echo of
        // this cookie then matches what we have.
        let cookie = Cookie {
            my_tag: self.my_tag,
            peer_tag: init.initiate_tag,
            my_initial_tsn: self.my_initial_tsn,
            peer_initial_tsn: init.initial_tsn,
            peer_rwnd: init.a_rwnd,
            inbound_streams: init.outbound_streams.min(self.config.streams),
            outbound_streams: init.inbound_streams.min(self.config.streams),
            peer_forward_tsn: init.supports(ct::FORWARD_TSN),
            peer_reconfig: init.supports(ct::RECONFIG),
            peer_zero_checksum: init.zero_checksum_edmid() == Some(EDMID_SCTP_OVER_DTLS),
            created: now,
        }
        .seal(&hmac::Key::new(hmac::HMAC_SHA256, &self.cookie_key));
        let params = self.init_params(Some(&cookie));
        let ack = self.init_chunk(&params);
        let mut buf = vec![0u8; 64 + params.len() + COMMON_HEADER_LEN];
        let mut w = Writer::new(&mut buf);
        let ok = w
            .common_header(
                self.config.local_port,
                self.config.remote_port,
                init.initiate_tag,
            )
            .and_then(|_| ack.write(&mut w, ct::INIT_ACK));
        if ok.is_some() && self.ctrl.len() < MAX_CTRL {
            let n = w.len();
            buf.truncate(n);
            write_checksum(&mut buf);
            self.ctrl.push_back(buf);
        }
    }

    fn on_init_ack(&mut self, now: Instant, c: &RawChunk<'_>) {
        if self.state != State::CookieWait {
            return;
        }
        let Some(ia) = Init::parse(c) else {
            return;
        };
        let Some(cookie) = ia.state_cookie() else {
            // RFC 9260 §5.1: an INIT ACK without a cookie: Missing Mandatory Parameter.
            let tag = ia.initiate_tag;
            self.push_ctrl(tag, |w| {
                w.chunk(ct::ABORT, 0, |w| {
                    w.u16(cause::MISSING_PARAMETER)?;
                    w.u16(12)?;
                    w.u32(1)?;
                    w.u16(PARAM_STATE_COOKIE)?;
                    w.u16(0)
                })
            });
            self.fail(SctpError::ProtocolViolation(
                "INIT ACK without a state cookie",
            ));
            return;
        };
        if ia.initiate_tag == 0
            || ia.outbound_streams == 0
            || ia.inbound_streams == 0
            || cookie.len() > 4096
        {
            return;
        }
        self.peer_tag = ia.initiate_tag;
        self.cookie = cookie.to_vec();
        self.setup_transfer(
            ia.initial_tsn,
            ia.a_rwnd,
            ia.outbound_streams.min(self.config.streams),
            ia.inbound_streams.min(self.config.streams),
            ia.supports(ct::FORWARD_TSN),
            ia.supports(ct::RECONFIG),
        );
        self.send_zero_checksum =
            self.config.zero_checksum && ia.zero_checksum_edmid() == Some(EDMID_SCTP_OVER_DTLS);
        self.state = State::CookieEchoed;
        self.cookie_echo_due = true;
        self.init_retries = 0;
        self.t1_rto = self.config.rto_initial;
        self.t1 = Some(now + self.t1_rto);
    }

    fn setup_transfer(
        &mut self,
        peer_initial_tsn: u32,
        peer_rwnd: u32,
        inbound: u16,
        outbound: u16,
        forward_tsn: bool,
        reconfig: bool,
    ) {
        self.sender
            .establish(self.my_initial_tsn, peer_rwnd, outbound, forward_tsn);
        self.receiver.establish(peer_initial_tsn, inbound);
        // Streams the host already asked to reset stay asked.
        let pending = core::mem::take(&mut self.reconfig.pending);
        self.reconfig = Reconfig::new(self.my_initial_tsn, peer_initial_tsn);
        self.reconfig.pending = pending;
        self.peer_reconfig = reconfig;
    }

    fn on_cookie_echo(&mut self, now: Instant, c: &RawChunk<'_>) {
        let Some(cookie) = Cookie::open(
            c.value,
            &hmac::Key::new(hmac::HMAC_SHA256, &self.cookie_key),
        ) else {
            return;
        };
        if cookie.my_tag != self.my_tag || cookie.my_initial_tsn != self.my_initial_tsn {
            return;
        }
        let age = now.saturating_duration_since(cookie.created);
        if age > self.config.cookie_lifetime {
            // RFC 9260 §5.1.5: Stale Cookie Error; its Measure of Staleness is the time
            // since the cookie expired, in microseconds (§3.3.10.3).
            let since_expiry = age.saturating_sub(self.config.cookie_lifetime).as_micros();
            let stale = u32::try_from(since_expiry)
                .unwrap_or(u32::MAX)
                .to_be_bytes();
            self.push_ctrl(cookie.peer_tag, |w| {
                w.chunk(ct::ERROR, 0, |w| write_tlv(w, cause::STALE_COOKIE, &stale))
            });
            return;
        }
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed => {
                self.peer_tag = cookie.peer_tag;
                self.setup_transfer(
                    cookie.peer_initial_tsn,
                    cookie.peer_rwnd,
                    cookie.inbound_streams,
                    cookie.outbound_streams,
                    cookie.peer_forward_tsn,
                    cookie.peer_reconfig,
                );
                self.send_zero_checksum = self.config.zero_checksum && cookie.peer_zero_checksum;
                let tag = self.peer_tag;
                self.push_ctrl(tag, |w| w.chunk(ct::COOKIE_ACK, 0, |_| Some(())));
                self.established();
            }
            _ if cookie.peer_tag == self.peer_tag => {
                // A retransmitted COOKIE ECHO (RFC 9260 §5.2.4 case D): ack again.
                let tag = self.peer_tag;
                self.push_ctrl(tag, |w| w.chunk(ct::COOKIE_ACK, 0, |_| Some(())));
            }
            // A restarted peer (cases A-C): WebRTC never restarts an association.
            _ => {}
        }
    }

    /// An ERROR chunk. Only a Stale Cookie cause in COOKIE-ECHOED changes anything
    /// (RFC 9260 §5.2.6): our cookie expired before the peer saw it, so we go back to
    /// COOKIE-WAIT and send a new INIT for a fresh one (alternative 1). The T1-init
    /// retries keep counting, so a peer that only ever answers "stale" still ends in
    /// `SetupTimeout` after `max_init_retransmits`. Everything else is only logged.
    fn on_error(&mut self, now: Instant, c: &RawChunk<'_>) {
        if self.state != State::CookieEchoed {
            return;
        }
        let stale = Tlvs::new(c.value)
            .map_while(Result::ok)
            .any(|t| t.ty == cause::STALE_COOKIE);
        if !stale {
            return;
        }
        self.cookie.clear();
        self.cookie_echo_due = false;
        self.peer_tag = 0;
        self.state = State::CookieWait;
        self.init_due = true;
        self.t1_rto = self.config.rto_initial;
        self.t1 = Some(now + self.t1_rto);
    }

    fn established(&mut self) {
        self.state = if self.shutdown_requested {
            State::ShutdownPending
        } else {
            State::Established
        };
        self.t1 = None;
        self.cookie.clear();
        self.cookie_echo_due = false;
        self.init_due = false;
        self.events.push_back(SctpEvent::Connected);
        self.heartbeat_at = Some(self.last_now + self.config.heartbeat_interval);
    }

    fn on_sack(&mut self, now: Instant, c: &RawChunk<'_>) {
        if !matches!(
            self.state,
            State::Established
                | State::ShutdownPending
                | State::ShutdownReceived
                | State::ShutdownSent
        ) {
            return;
        }
        let Some(sack) = Sack::parse(c) else {
            return;
        };
        if self.sender.on_sack(now, &sack) {
            self.error_count = 0;
        }
    }

    fn on_shutdown(&mut self, now: Instant, c: &RawChunk<'_>) {
        let Some(cum) = c.value.get(..4) else {
            return;
        };
        // The cumulative ack it carries acknowledges like a SACK without gaps.
        let mut v = [0u8; 12];
        v[..4].copy_from_slice(cum);
        let rwnd = (self.sender.peer_rwnd + self.sender.flight_size) as u32;
        v[4..8].copy_from_slice(&rwnd.to_be_bytes());
        let raw = RawChunk {
            ty: ct::SACK,
            flags: 0,
            value: &v,
        };
        if let Some(sack) = Sack::parse(&raw) {
            self.sender.on_sack(now, &sack);
        }
        match self.state {
            State::Established | State::ShutdownPending => {
                self.state = State::ShutdownReceived;
            }
            State::ShutdownSent => {
                // Both sides shut down at once (RFC 9260 §9.2): answer with SHUTDOWN ACK.
                self.state = State::ShutdownAckSent;
                self.shutdown_due = true;
                self.t2 = Some(now + self.sender.rto.rto);
            }
            _ => {}
        }
    }

    fn on_heartbeat_ack(&mut self, now: Instant, c: &RawChunk<'_>) {
        let Some(info) = Tlvs::new(c.value).next().and_then(Result::ok) else {
            return;
        };
        let Some(&(sent, nonce)) = self.heartbeat_sent.as_ref() else {
            return;
        };
        if info.value.get(..8) == Some(&nonce.to_be_bytes()[..]) {
            self.sender.rto.measure(now.saturating_duration_since(sent));
            self.heartbeat_sent = None;
            self.error_count = 0;
            self.heartbeat_at = Some(now + self.config.heartbeat_interval);
        }
    }

    fn on_reconfig(&mut self, c: &RawChunk<'_>) {
        // RE-CONFIG is only for peers that announced it (RFC 6525 §3.1); and the answers
        // waiting to be sent are bounded.
        if (!self.is_established() && self.state != State::ShutdownSent)
            || !self.peer_reconfig
            || self.reconfig.responses.len() >= MAX_RECONFIG_RESPONSES
        {
            return;
        }
        let mut actions = Actions::default();
        for t in Tlvs::new(c.value) {
            let Ok(t) = t else {
                break;
            };
            let Some(p) = ReconfigParam::parse(&t) else {
                continue;
            };
            if self.reconfig.responses.len() >= MAX_RECONFIG_RESPONSES {
                break;
            }
            match p {
                ReconfigParam::OutgoingReset {
                    req_seq,
                    last_tsn,
                    streams,
                    ..
                } => {
                    let streams: Vec<u16> = chunks::stream_ids(streams).collect();
                    let r = &self.receiver;
                    let through = |t: u32| r.received_through(t);
                    self.reconfig.on_outgoing_reset(
                        req_seq,
                        last_tsn,
                        streams,
                        through,
                        &mut actions,
                    );
                }
                ReconfigParam::IncomingReset { req_seq, .. } => self.reconfig.deny(req_seq),
                ReconfigParam::Response { resp_seq, result } => {
                    self.reconfig.on_response(resp_seq, result, &mut actions);
                }
                ReconfigParam::Other { req_seq, .. } => {
                    if let Some(s) = req_seq {
                        self.reconfig.deny(s);
                    }
                }
            }
        }
        self.apply(actions);
    }

    /// Carries out stream resets: incoming ones after the messages before them.
    pub(super) fn apply(&mut self, actions: Actions) {
        for s in actions.reset_incoming {
            // The old sequence's last messages go before the reset event; those the full
            // event queue cannot take yet keep it behind them. (Bounded: past
            // `max_active_streams` held resets the event goes out at once.)
            self.receiver.reset_stream(s);
            self.move_deliveries();
            let ahead = self.receiver.ready_len();
            if (ahead == 0 && self.held_resets.is_empty())
                || self.held_resets.len() >= self.config.max_active_streams
            {
                self.events
                    .push_back(SctpEvent::IncomingStreamReset { stream: s });
            } else {
                self.held_resets.push_back((s, ahead));
            }
        }
        for s in actions.reset_outgoing {
            let st = self.sender.stream_mut(s);
            st.next_ssn = 0;
            st.closing = false;
            self.sender.reset_stream(s);
            self.events
                .push_back(SctpEvent::OutgoingStreamReset { stream: s });
        }
    }
}

/// Whether to go on with a packet's chunks.
pub(super) enum Flow {
    Continue,
    Stop,
}
