//! Outgoing packets and timers: what goes into the next packet, in the order RFC 9260
//! §6.10 bundles it (control chunks first, then DATA), and what each timer does.

use super::*;
use crate::sctp::wire::chunks::{
    write_forward_tsn, write_outgoing_reset, write_reconfig_response, write_sack,
};

impl Association {
    /// Writes the next packet into `buf` (which should hold the configured MTU) and
    /// returns its length.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.last_now = now;
        self.sender.stamp(now);
        if let Some(p) = self.ctrl.pop_front() {
            let dst = buf.get_mut(..p.len())?;
            dst.copy_from_slice(&p);
            self.stats.packets_out += 1;
            return Some(p.len());
        }
        let mtu = self.config.mtu.min(buf.len());
        let buf = buf.get_mut(..mtu)?;
        // RFC 9653 §5.1: once both announced it, packets of the association proper go
        // with checksum 0 (the field is zero as written); INIT and COOKIE ECHO never.
        let mut zero = false;
        let n = match self.state {
            State::CookieWait if self.init_due => {
                self.init_due = false;
                let params = self.init_params(None);
                let init = self.init_chunk(&params);
                let mut w = Writer::new(buf);
                w.common_header(self.config.local_port, self.config.remote_port, 0)?;
                init.write(&mut w, ct::INIT)?;
                w.len()
            }
            State::CookieEchoed if self.cookie_echo_due => {
                self.cookie_echo_due = false;
                let mut w = Writer::new(buf);
                w.common_header(
                    self.config.local_port,
                    self.config.remote_port,
                    self.peer_tag,
                )?;
                let cookie = &self.cookie;
                w.chunk(ct::COOKIE_ECHO, 0, |w| w.bytes(cookie))?;
                w.len()
            }
            State::Established
            | State::ShutdownPending
            | State::ShutdownReceived
            | State::ShutdownSent
            | State::ShutdownAckSent => {
                zero = self.send_zero_checksum;
                self.data_packet(now, buf)?
            }
            _ => return None,
        };
        if !zero && let Some(p) = buf.get_mut(..n) {
            write_checksum(p);
        }
        self.stats.packets_out += 1;
        Some(n)
    }

    /// A packet of the established phases: SACK, FORWARD TSN, RE-CONFIG, HEARTBEAT,
    /// SHUTDOWN*, then DATA. `None` when there is nothing to send.
    fn data_packet(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.update_reconfig();
        let mut w = Writer::new(buf);
        w.common_header(
            self.config.local_port,
            self.config.remote_port,
            self.peer_tag,
        )?;
        let header = w.len();
        let may_send_data = matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        );
        // Piggyback a pending SACK on data too (RFC 9260 §6.2).
        let data_waiting = may_send_data && self.sender.has_sendable();
        if self.sack_due || (self.sack_deadline.is_some() && data_waiting) {
            let gaps = self.receiver.gap_blocks(MAX_GAP_BLOCKS);
            let dups = self.receiver.take_dups();
            let rwnd = self.receiver.a_rwnd(self.event_bytes);
            write_sack(&mut w, self.receiver.cum_tsn, rwnd, gaps.into_iter(), &dups)?;
            self.sack_due = false;
            self.sack_deadline = None;
            self.data_packets_unacked = 0;
        }
        if self.sender.forward_tsn_due {
            self.sender.forward_tsn_due = false;
            if let Some((cum, streams)) = self.sender.forward_tsn() {
                write_forward_tsn(&mut w, cum, &streams)?;
                // RFC 3758 §3.5 C5: it is repeated on T3-rtx until acknowledged.
                if self.sender.t3.is_none() {
                    self.sender.t3 = Some(now + self.sender.rto.rto);
                }
            }
        }
        if self.peer_reconfig && (self.reconfig.request_due || !self.reconfig.responses.is_empty())
        {
            let req = self
                .reconfig
                .request_due
                .then(|| self.reconfig.inflight.clone())
                .flatten();
            let responses = core::mem::take(&mut self.reconfig.responses);
            w.chunk(ct::RECONFIG, 0, |w| {
                for (seq, result) in &responses {
                    write_reconfig_response(w, *seq, *result)?;
                }
                if let Some(r) = &req {
                    write_outgoing_reset(w, r.req_seq, r.resp_seq, r.last_tsn, &r.streams)?;
                }
                Some(())
            })?;
            if req.is_some() {
                self.reconfig.request_due = false;
                self.reconfig.timer = Some(now + self.sender.rto.rto);
            }
        }
        if self.heartbeat_due {
            self.heartbeat_due = false;
            let nonce = self.rng.u64();
            let mut info = [0u8; 16];
            info[..8].copy_from_slice(&nonce.to_be_bytes());
            info[8..].copy_from_slice(&now.as_micros().to_be_bytes());
            w.chunk(ct::HEARTBEAT, 0, |w| write_tlv(w, 1, &info))?;
            self.heartbeat_sent = Some((now, nonce));
        }
        if self.shutdown_due {
            self.shutdown_due = false;
            match self.state {
                State::ShutdownSent => {
                    let cum = self.receiver.cum_tsn;
                    w.chunk(ct::SHUTDOWN, 0, |w| w.u32(cum))?;
                }
                State::ShutdownAckSent => {
                    w.chunk(ct::SHUTDOWN_ACK, 0, |_| Some(()))?;
                }
                _ => {}
            }
        }
        if may_send_data {
            let mtu = self.config.mtu;
            while let Some(c) = self.sender.next_chunk(now, w.remaining().min(mtu)) {
                let Some(m) = self.sender.message(c.msg) else {
                    continue;
                };
                let chunk = DataChunk {
                    tsn: c.tsn,
                    stream: m.stream,
                    ssn: m.ssn,
                    ppid: m.ppid,
                    unordered: m.unordered,
                    beginning: c.beginning,
                    ending: c.ending,
                    immediate: false,
                    payload: self.sender.payload(&c),
                };
                if chunk.write(&mut w).is_none() {
                    // Cannot happen (the sender sized it to the room); if it did, the
                    // chunk counts as sent and lost, and is retransmitted.
                    break;
                }
            }
            self.emit_low_events();
        }
        if w.len() == header {
            return None;
        }
        Some(w.len())
    }

    fn emit_low_events(&mut self) {
        // Drained in place: the list keeps its capacity (no allocation per event).
        for s in self.sender.low_events.drain(..) {
            self.events
                .push_back(SctpEvent::BufferedAmountLow { stream: s });
        }
    }

    /// Makes an outgoing stream reset request when its streams are drained.
    fn update_reconfig(&mut self) {
        if self.reconfig.pending.is_empty() || !self.is_established() {
            return;
        }
        let last_tsn = self.sender.next_tsn.wrapping_sub(1);
        let sender = &self.sender;
        if let Some(streams) = self
            .reconfig
            .maybe_request(last_tsn, |s| sender.stream_drained(s))
        {
            for &s in streams {
                self.sender.reset_requested(s);
            }
        }
        if !self.peer_reconfig
            && let Some(req) = self.reconfig.inflight.take()
        {
            // The peer cannot reset streams: the best we can do is forget ours.
            self.apply(Actions {
                reset_outgoing: req.streams,
                ..Actions::default()
            });
        }
    }

    /// Moves the shutdown sequence on once everything is acknowledged.
    pub(super) fn progress_shutdown(&mut self, now: Instant) {
        let next = match self.state {
            State::ShutdownPending if self.sender.all_acked() => State::ShutdownSent,
            State::ShutdownReceived if self.sender.all_acked() => State::ShutdownAckSent,
            _ => return,
        };
        self.state = next;
        self.shutdown_due = true;
        self.shutdown_retries = 0;
        self.t2 = Some(now + self.sender.rto.rto);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SctpEvent> {
        let e = self.events.pop_front();
        if let Some(SctpEvent::Message { data, .. }) = &e {
            self.event_bytes = self.event_bytes.saturating_sub(data.len());
            // Room in the queue: more messages may move in, and the window reopens.
            self.move_deliveries();
        }
        e
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Dead {
            return None;
        }
        let mut t = earliest(self.t1, self.t2);
        t = earliest(t, self.sender.t3);
        t = earliest(t, self.sack_deadline);
        t = earliest(t, self.reconfig.timer);
        if self.is_established() {
            t = earliest(t, self.heartbeat_at);
        }
        t
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        self.sender.stamp(now);
        if self.state == State::Dead {
            return;
        }
        if self.t1.is_some_and(|t| now >= t) {
            self.init_retries += 1;
            if self.init_retries > self.config.max_init_retransmits {
                self.fail(SctpError::SetupTimeout);
                return;
            }
            self.t1_rto = (self.t1_rto * 2).min(self.config.rto_max);
            self.t1 = Some(now + self.t1_rto);
            match self.state {
                State::CookieWait => self.init_due = true,
                State::CookieEchoed => self.cookie_echo_due = true,
                _ => self.t1 = None,
            }
        }
        if self.sender.t3.is_some_and(|t| now >= t) {
            self.stats.t3_timeouts += 1;
            self.error_count += 1;
            if self.error_count > self.config.max_retransmits {
                self.fail(SctpError::Unreachable);
                return;
            }
            self.sender.on_t3_timeout(now);
        }
        if self.sack_deadline.is_some_and(|t| now >= t) {
            self.sack_deadline = None;
            self.sack_due = true;
        }
        if self.t2.is_some_and(|t| now >= t) {
            self.shutdown_retries += 1;
            if self.shutdown_retries > self.config.max_retransmits {
                self.fail(SctpError::Unreachable);
                return;
            }
            self.sender.rto.back_off();
            self.shutdown_due = true;
            self.t2 = Some(now + self.sender.rto.rto);
        }
        if self.reconfig.timer.is_some_and(|t| now >= t) {
            self.reconfig.on_timeout();
        }
        if self.is_established() && self.heartbeat_at.is_some_and(|t| now >= t) {
            if self.heartbeat_sent.is_some() {
                // The last heartbeat went unanswered (RFC 9260 §8.3).
                self.error_count += 1;
                if self.error_count > self.config.max_retransmits {
                    self.fail(SctpError::Unreachable);
                    return;
                }
                self.sender.rto.back_off();
            }
            if self.sender.has_outstanding() {
                // Data in flight keeps the path probed (T3-rtx).
                self.heartbeat_sent = None;
                self.heartbeat_at = Some(now + self.config.heartbeat_interval);
            } else {
                self.heartbeat_due = true;
                // Idle for a heartbeat interval: spare buffers kept for a burst of
                // traffic go back to the allocator.
                self.sender.pool.clear();
                self.receiver.msg_pool.clear();
                self.heartbeat_at = Some(now + self.sender.rto.rto);
            }
        }
        self.progress_shutdown(now);
    }
}
