//! The sending half of an association: stream queues, TSN assignment, the in-flight
//! table, SACK processing, retransmission (T3-rtx and fast retransmit), congestion
//! control (RFC 9260 §6, §7) and partial reliability (RFC 3758 §3.5).
//!
//! Costs are proportional to what changed: a SACK's cumulative ack pops acknowledged
//! chunks off the front of the table; its gap blocks are diffed against the previous
//! SACK's so only newly acknowledged TSNs are touched; miss indications walk only the
//! holes between blocks; retransmissions wait in their own queue.

use std::collections::{BTreeMap, VecDeque};

use super::tsn::{le, lt, lt16};
use super::wire::chunks::{DATA_HEADER_LEN, Sack};
use super::{Reliability, SctpError, SendOptions};
use crate::time::{Duration, Instant};

/// Most gap ranges remembered from the previous SACK.
const MAX_REMEMBERED_GAPS: usize = 256;

#[derive(Debug)]
pub(crate) struct OutMessage {
    pub(crate) stream: u16,
    pub(crate) ssn: u16,
    pub(crate) ppid: u32,
    pub(crate) unordered: bool,
    pub(crate) data: Vec<u8>,
    policy: Reliability,
    /// When a lifetime-limited message expires (set at the first `now` after `send`).
    expires: Option<Instant>,
    /// Bytes already given TSNs.
    chunked: usize,
    /// Counts in the stream's buffered amount (application data, not DCEP).
    counted: bool,
    /// Chunks with TSNs not yet acknowledged (or abandoned).
    outstanding: u32,
    abandoned: bool,
    /// Its stream's reset was asked for after it got its SSN: a FORWARD TSN no longer
    /// names this SSN (see `Sender::reset_requested`).
    before_reset: bool,
}

impl OutMessage {
    fn done_chunking(&self) -> bool {
        self.chunked >= self.data.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Sent, not acknowledged.
    Outstanding,
    /// Acknowledged by a gap block.
    GapAcked,
    /// Given up (PR-SCTP).
    Abandoned,
}

/// One TSN in flight.
#[derive(Debug)]
pub(crate) struct InFlight {
    msg: usize,
    offset: usize,
    len: usize,
    beginning: bool,
    ending: bool,
    sent_at: Instant,
    transmissions: u16,
    misses: u8,
    state: ChunkState,
    queued_for_rtx: bool,
    /// Counted in `flight_size` (sent and not acked, abandoned or marked for rtx).
    in_flight: bool,
}

#[derive(Debug, Default)]
pub(crate) struct StreamOut {
    /// Messages not fully given TSNs yet (slab indexes), in order.
    queue: VecDeque<usize>,
    pub(crate) next_ssn: u16,
    /// Bytes accepted by `send` and not yet sent once (W3C `bufferedAmount`).
    pub(crate) buffered: usize,
    pub(crate) low_threshold: usize,
    /// A reset was asked for: no more sends.
    pub(crate) closing: bool,
}

/// A DATA chunk to write: what [`Sender::next_chunk`] hands the packet builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkRef {
    pub(crate) tsn: u32,
    pub(crate) msg: usize,
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) beginning: bool,
    pub(crate) ending: bool,
}

/// Round-trip estimation (RFC 9260 §6.3.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rto {
    pub(crate) srtt: Option<Duration>,
    rttvar: Duration,
    pub(crate) rto: Duration,
    min: Duration,
    max: Duration,
}

impl Rto {
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        Rto {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: initial,
            min,
            max,
        }
    }

    pub(crate) fn measure(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(s) => {
                // RTO.Alpha = 1/8, RTO.Beta = 1/4.
                let diff = s.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((s * 7 + r) / 8);
            }
        }
        let s = self.srtt.unwrap_or(r);
        self.rto = (s + (self.rttvar * 4).max(Duration::from_millis(1))).clamp(self.min, self.max);
    }

    /// Undoes the exponential backoff (no new sample is taken: Karn's rule holds).
    pub(crate) fn restore(&mut self) {
        if let Some(s) = self.srtt {
            self.rto =
                (s + (self.rttvar * 4).max(Duration::from_millis(1))).clamp(self.min, self.max);
        }
    }

    pub(crate) fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max);
    }
}

/// The sender.
#[derive(Debug)]
pub(crate) struct Sender {
    msgs: Vec<Option<OutMessage>>,
    free: Vec<usize>,
    streams: BTreeMap<u16, StreamOut>,
    /// Streams with queued messages, round-robin order.
    ready: VecDeque<u16>,
    /// The message being fragmented (its TSNs must be consecutive, RFC 9260 §6.9).
    current: Option<usize>,
    inflight: VecDeque<InFlight>,
    /// Highest TSN the peer acknowledged cumulatively.
    pub(crate) cum_ack: u32,
    pub(crate) next_tsn: u32,
    /// Advanced.Peer.Ack.Point (RFC 3758 §3.5).
    adv_ack: u32,
    pub(crate) flight_size: usize,
    pub(crate) cwnd: usize,
    ssthresh: usize,
    partial_bytes_acked: usize,
    pub(crate) peer_rwnd: usize,
    rtx: VecDeque<u32>,
    /// Fast recovery until this TSN is acked.
    fast_recovery: Option<u32>,
    /// A fast retransmission may go out regardless of cwnd (RFC 9260 §7.2.4 step 3).
    fast_rtx_allowance: bool,
    /// Bytes accepted and not yet acknowledged or abandoned.
    pub(crate) queued_bytes: usize,
    last_gaps: Vec<(u32, u32)>,
    /// A FORWARD TSN should be sent.
    pub(crate) forward_tsn_due: bool,
    pub(crate) peer_forward_tsn: bool,
    pub(crate) rto: Rto,
    /// The chunk timed for RTT (Karn: first transmissions only).
    rtt_probe: Option<(u32, Instant)>,
    /// T3-rtx deadline.
    pub(crate) t3: Option<Instant>,
    mtu: usize,
    pub(crate) outbound_streams: u16,
    max_active_streams: usize,
    /// Streams whose buffered amount fell to their threshold.
    pub(crate) low_events: Vec<u16>,
    /// Spare message buffers: a message's buffer returns here once it is acknowledged
    /// (or abandoned), and received messages are assembled in them.
    pub(crate) pool: crate::buf::BufPool,
    /// Lifetime-limited messages whose clock starts at the next `now`.
    unstamped: Vec<usize>,
    // Statistics.
    pub(crate) chunks_sent: u64,
    pub(crate) chunks_retransmitted: u64,
    pub(crate) fast_retransmits: u64,
    pub(crate) abandoned_messages: u64,
}

impl Sender {
    pub(crate) fn new(
        initial_tsn: u32,
        mtu: usize,
        rto: Rto,
        max_active_streams: usize,
        pool_bytes: usize,
    ) -> Self {
        // RFC 9260 §7.2.1: initial cwnd = min(4 MTU, max(2 MTU, 4380)).
        let cwnd = (4 * mtu).min((2 * mtu).max(4380));
        Sender {
            msgs: Vec::new(),
            free: Vec::new(),
            streams: BTreeMap::new(),
            ready: VecDeque::new(),
            current: None,
            inflight: VecDeque::new(),
            cum_ack: initial_tsn.wrapping_sub(1),
            next_tsn: initial_tsn,
            adv_ack: initial_tsn.wrapping_sub(1),
            flight_size: 0,
            cwnd,
            ssthresh: usize::MAX,
            partial_bytes_acked: 0,
            peer_rwnd: 0,
            rtx: VecDeque::new(),
            fast_recovery: None,
            fast_rtx_allowance: false,
            queued_bytes: 0,
            last_gaps: Vec::new(),
            forward_tsn_due: false,
            peer_forward_tsn: false,
            rto,
            rtt_probe: None,
            t3: None,
            mtu,
            outbound_streams: 0,
            max_active_streams,
            low_events: Vec::new(),
            pool: crate::buf::BufPool::new(pool_bytes),
            unstamped: Vec::new(),
            chunks_sent: 0,
            chunks_retransmitted: 0,
            fast_retransmits: 0,
            abandoned_messages: 0,
        }
    }

    /// Starts over with the negotiated parameters (the association was established).
    pub(crate) fn establish(
        &mut self,
        initial_tsn: u32,
        peer_rwnd: u32,
        outbound_streams: u16,
        forward_tsn: bool,
    ) {
        self.cum_ack = initial_tsn.wrapping_sub(1);
        self.adv_ack = self.cum_ack;
        self.next_tsn = initial_tsn;
        self.peer_rwnd = peer_rwnd as usize;
        self.outbound_streams = outbound_streams;
        self.peer_forward_tsn = forward_tsn;
    }

    pub(crate) fn message(&self, i: usize) -> Option<&OutMessage> {
        self.msgs.get(i).and_then(Option::as_ref)
    }

    pub(crate) fn stream_mut(&mut self, id: u16) -> &mut StreamOut {
        self.streams.entry(id).or_default()
    }

    /// Whether anything is queued, in flight or waiting for retransmission.
    pub(crate) fn idle(&self) -> bool {
        self.inflight.is_empty() && self.ready.is_empty() && self.current.is_none()
    }

    /// Whether a DATA chunk could go out now (a retransmission, or new data within the
    /// windows).
    pub(crate) fn has_sendable(&self) -> bool {
        !self.rtx.is_empty()
            || ((self.current.is_some() || !self.ready.is_empty()) && self.new_data_allowed())
    }

    /// Whether every message has been chunked and acknowledged.
    pub(crate) fn all_acked(&self) -> bool {
        self.idle()
    }

    /// Whether the stream has nothing left to give TSNs to.
    pub(crate) fn stream_drained(&self, id: u16) -> bool {
        let current_here = self
            .current
            .and_then(|m| self.message(m))
            .is_some_and(|m| m.stream == id);
        !current_here && self.streams.get(&id).is_none_or(|s| s.queue.is_empty())
    }

    /// Accepts a message.
    pub(crate) fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
        opts: SendOptions,
        send_buffer: usize,
        counted: bool,
    ) -> Result<(), (SctpError, Vec<u8>)> {
        if stream >= self.outbound_streams && self.outbound_streams != 0 {
            return Err((SctpError::InvalidStream(stream), data));
        }
        if self.queued_bytes + data.len() > send_buffer {
            return Err((SctpError::BufferFull, data));
        }
        if !self.streams.contains_key(&stream) && self.streams.len() >= self.max_active_streams {
            return Err((SctpError::TooManyStreams, data));
        }
        let s = self.streams.entry(stream).or_default();
        if s.closing {
            return Err((SctpError::StreamClosing(stream), data));
        }
        if data.is_empty() {
            return Err((SctpError::EmptyMessage, data));
        }
        // The SSN is given when the first fragment gets its TSN: a message that expires
        // unsent leaves no hole in the stream's sequence.
        let ssn = 0;
        if counted {
            s.buffered += data.len();
        }
        let was_empty = s.queue.is_empty();
        self.queued_bytes += data.len();
        let msg = OutMessage {
            stream,
            ssn,
            ppid,
            unordered: opts.unordered,
            data,
            policy: opts.reliability,
            expires: None,
            chunked: 0,
            counted,
            outstanding: 0,
            abandoned: false,
            before_reset: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.msgs.get_mut(i) {
                    *slot = Some(msg);
                }
                i
            }
            None => {
                self.msgs.push(Some(msg));
                self.msgs.len() - 1
            }
        };
        if matches!(opts.reliability, Reliability::Lifetime(_)) {
            self.unstamped.push(idx);
        }
        let s = self.streams.entry(stream).or_default();
        s.queue.push_back(idx);
        if was_empty {
            self.ready.push_back(stream);
        }
        Ok(())
    }

    /// Starts the lifetime clocks of messages sent since the last call: the host calls
    /// `poll_transmit(now, ..)` right after `send` (the drain rule), so this is when the
    /// message was sent.
    pub(crate) fn stamp(&mut self, now: Instant) {
        for i in core::mem::take(&mut self.unstamped) {
            if let Some(m) = self.msgs.get_mut(i).and_then(Option::as_mut)
                && m.expires.is_none()
                && let Reliability::Lifetime(d) = m.policy
            {
                m.expires = Some(now + d);
            }
        }
    }

    fn free_msg(&mut self, i: usize) {
        if let Some(slot) = self.msgs.get_mut(i)
            && let Some(m) = slot.take()
        {
            self.queued_bytes = self.queued_bytes.saturating_sub(m.data.len());
            self.free.push(i);
            self.pool.give(m.data);
        }
    }

    /// Bytes of new data that may go out now under cwnd and the peer's window.
    fn new_data_allowed(&self) -> bool {
        if self.flight_size >= self.cwnd {
            return false;
        }
        // Zero window probing (RFC 9260 §6.1 A): one chunk when nothing is in flight.
        self.peer_rwnd > 0 || self.flight_size == 0
    }

    /// The next chunk to send in a packet with `room` bytes left, retransmissions first.
    /// The chunk is recorded as sent at `now`.
    pub(crate) fn next_chunk(&mut self, now: Instant, room: usize) -> Option<ChunkRef> {
        // Chunks are padded to four bytes (RFC 9260 §3.2), the last one too: only whole
        // words of the room can hold one.
        let room = room & !3;
        if room <= DATA_HEADER_LEN {
            return None;
        }
        if let Some(c) = self.next_retransmission(now, room) {
            return Some(c);
        }
        if !self.new_data_allowed() {
            return None;
        }
        self.next_new_chunk(now, room)
    }

    fn next_retransmission(&mut self, now: Instant, room: usize) -> Option<ChunkRef> {
        loop {
            let tsn = *self.rtx.front()?;
            let off = tsn.wrapping_sub(self.cum_ack.wrapping_add(1)) as usize;
            let Some(e) = self.inflight.get(off) else {
                self.rtx.pop_front();
                continue;
            };
            if e.state != ChunkState::Outstanding || !e.queued_for_rtx {
                self.rtx.pop_front();
                if let Some(e) = self.inflight.get_mut(off) {
                    e.queued_for_rtx = false;
                }
                continue;
            }
            if e.len + DATA_HEADER_LEN > room {
                return None;
            }
            // cwnd limits retransmissions too, except the one fast retransmission.
            if self.flight_size >= self.cwnd && !self.fast_rtx_allowance {
                return None;
            }
            self.fast_rtx_allowance = false;
            self.rtx.pop_front();
            let e = self.inflight.get_mut(off)?;
            e.queued_for_rtx = false;
            e.transmissions = e.transmissions.saturating_add(1);
            e.sent_at = now;
            e.misses = 0;
            if !e.in_flight {
                e.in_flight = true;
                self.flight_size += e.len;
            }
            let c = ChunkRef {
                tsn,
                msg: e.msg,
                offset: e.offset,
                len: e.len,
                beginning: e.beginning,
                ending: e.ending,
            };
            // Karn's algorithm: a retransmitted chunk is not timed.
            if self.rtt_probe.is_some_and(|(t, _)| t == tsn) {
                self.rtt_probe = None;
            }
            self.peer_rwnd = self.peer_rwnd.saturating_sub(c.len);
            self.chunks_sent += 1;
            self.chunks_retransmitted += 1;
            if self.t3.is_none() {
                self.t3 = Some(now + self.rto.rto);
            }
            return Some(c);
        }
    }

    /// Picks the message to fragment next (round-robin over streams), dropping messages
    /// whose lifetime ran out while they waited.
    fn pick_message(&mut self, now: Instant) -> Option<usize> {
        if let Some(c) = self.current {
            return Some(c);
        }
        // Each turn either returns or removes an expired message for good, so this
        // loop costs O(1) amortized per message.
        loop {
            let stream = self.ready.pop_front()?;
            let Some(s) = self.streams.get_mut(&stream) else {
                continue;
            };
            let Some(m) = s.queue.pop_front() else {
                continue;
            };
            if !s.queue.is_empty() {
                self.ready.push_back(stream);
            }
            let expired = self
                .message(m)
                .is_some_and(|msg| msg.expires.is_some_and(|e| now >= e));
            if expired {
                self.abandon_unsent(m);
                continue;
            }
            self.current = Some(m);
            return Some(m);
        }
    }

    /// Drops a message that never got a TSN.
    fn abandon_unsent(&mut self, m: usize) {
        if let Some(msg) = self.message(m) {
            let (stream, len, counted) = (msg.stream, msg.data.len(), msg.counted);
            if counted {
                self.note_sent_bytes(stream, len);
            }
            self.abandoned_messages += 1;
        }
        self.free_msg(m);
    }

    fn note_sent_bytes(&mut self, stream: u16, n: usize) {
        if let Some(s) = self.streams.get_mut(&stream) {
            let before = s.buffered;
            s.buffered = s.buffered.saturating_sub(n);
            if before > s.low_threshold && s.buffered <= s.low_threshold {
                self.low_events.push(stream);
            }
        }
    }

    fn next_new_chunk(&mut self, now: Instant, room: usize) -> Option<ChunkRef> {
        let m = self.pick_message(now)?;
        let msg = self.msgs.get_mut(m)?.as_mut()?;
        let left = msg.data.len() - msg.chunked;
        let max_payload = (self.mtu.saturating_sub(super::wire::COMMON_HEADER_LEN) & !3)
            .saturating_sub(DATA_HEADER_LEN);
        let fit = room - DATA_HEADER_LEN;
        // Do not start a fragment in a sliver of a packet if a fuller one could follow.
        if fit < left && fit < max_payload / 4 {
            return None;
        }
        let len = left.min(fit).min(max_payload.max(1));
        let offset = msg.chunked;
        let beginning = offset == 0;
        if beginning && !msg.unordered {
            let st = self.streams.entry(msg.stream).or_default();
            msg.ssn = st.next_ssn;
            st.next_ssn = st.next_ssn.wrapping_add(1);
        }
        msg.chunked += len;
        let ending = msg.done_chunking();
        msg.outstanding += 1;
        let (stream, counted) = (msg.stream, msg.counted);
        if ending {
            self.current = None;
        }
        let tsn = self.next_tsn;
        self.next_tsn = tsn.wrapping_add(1);
        self.inflight.push_back(InFlight {
            msg: m,
            offset,
            len,
            beginning,
            ending,
            sent_at: now,
            transmissions: 1,
            misses: 0,
            state: ChunkState::Outstanding,
            queued_for_rtx: false,
            in_flight: true,
        });
        self.flight_size += len;
        self.peer_rwnd = self.peer_rwnd.saturating_sub(len);
        if counted {
            self.note_sent_bytes(stream, len);
        }
        if self.rtt_probe.is_none() {
            self.rtt_probe = Some((tsn, now));
        }
        if self.t3.is_none() {
            self.t3 = Some(now + self.rto.rto);
        }
        self.chunks_sent += 1;
        Some(ChunkRef {
            tsn,
            msg: m,
            offset,
            len,
            beginning,
            ending,
        })
    }

    /// A chunk left the table (acknowledged or abandoned): account for its message.
    fn release(&mut self, msg: usize) {
        let free = match self.msgs.get_mut(msg).and_then(Option::as_mut) {
            Some(m) => {
                m.outstanding = m.outstanding.saturating_sub(1);
                m.outstanding == 0 && (m.done_chunking() || m.abandoned)
            }
            None => false,
        };
        if free && self.current != Some(msg) {
            self.free_msg(msg);
        }
    }

    fn take_out_of_flight(&mut self, off: usize) -> usize {
        match self.inflight.get_mut(off) {
            Some(e) if e.in_flight => {
                e.in_flight = false;
                self.flight_size = self.flight_size.saturating_sub(e.len);
                e.len
            }
            _ => 0,
        }
    }

    /// Processes a SACK (RFC 9260 §6.2.1); returns whether the cumulative ack advanced.
    pub(crate) fn on_sack(&mut self, now: Instant, sack: &Sack<'_>) -> bool {
        let cum = sack.cum_tsn_ack;
        // Older than what we know, or acknowledging what we never sent: ignore.
        if lt(cum, self.cum_ack) || !lt(cum, self.next_tsn) {
            return false;
        }
        let flight_before = self.flight_size;
        let mut newly_acked = 0usize;
        let advanced = lt(self.cum_ack, cum);
        // Cumulative part: pop from the front.
        while lt(self.cum_ack, cum) {
            let Some(e) = self.inflight.pop_front() else {
                break;
            };
            self.cum_ack = self.cum_ack.wrapping_add(1);
            if e.in_flight {
                self.flight_size = self.flight_size.saturating_sub(e.len);
            }
            if e.state == ChunkState::Outstanding {
                newly_acked += e.len;
                if e.transmissions == 1
                    && let Some((t, at)) = self.rtt_probe
                    && t == self.cum_ack
                {
                    self.rto.measure(now.saturating_duration_since(at));
                    self.rtt_probe = None;
                }
            }
            // A timed chunk acknowledged earlier by a gap block (or abandoned) gives no
            // sample now; drop the probe so the next first transmission is timed
            // (RFC 9260 §6.3.1 C4: an RTT measurement per round trip).
            if self.rtt_probe.is_some_and(|(t, _)| t == self.cum_ack) {
                self.rtt_probe = None;
            }
            self.release(e.msg);
        }
        // Forward progress ends the backoff (as TCP stacks do, RFC 6298 §5.7): the path
        // works, and the estimate from before the timeouts still stands.
        if advanced {
            self.rto.restore();
        }
        if lt(self.adv_ack, self.cum_ack) {
            self.adv_ack = self.cum_ack;
        }
        // Gap blocks, absolute and diffed against the previous SACK's.
        let base = cum;
        let mut gaps: Vec<(u32, u32)> =
            Vec::with_capacity(sack.gap_count().min(MAX_REMEMBERED_GAPS));
        for (s, e) in sack.gap_blocks().take(MAX_REMEMBERED_GAPS) {
            if s == 0 || e < s {
                continue;
            }
            gaps.push((
                base.wrapping_add(u32::from(s)),
                base.wrapping_add(u32::from(e)),
            ));
        }
        let mut highest_new: Option<u32> = None;
        let old = core::mem::take(&mut self.last_gaps);
        let mut pieces: Vec<(u32, u32)> = Vec::new();
        for &(s, e) in &gaps {
            // The part of [s, e] that no block of the previous SACK covered.
            let mut t = s;
            let mut covered = false;
            for &(os, oe) in &old {
                if lt(oe, t) {
                    continue;
                }
                if lt(e, os) {
                    break;
                }
                if lt(t, os) {
                    pieces.push((t, os.wrapping_sub(1)));
                }
                t = oe.wrapping_add(1);
                if lt(e, t) {
                    covered = true;
                    break;
                }
            }
            if !covered && le(t, e) {
                pieces.push((t, e));
            }
        }
        let first = self.cum_ack.wrapping_add(1);
        for (s, e) in pieces {
            let start = s.wrapping_sub(first) as usize;
            let end = (e.wrapping_sub(first) as usize).min(self.inflight.len().saturating_sub(1));
            if lt(s, first) || start >= self.inflight.len() {
                continue;
            }
            for off in start..=end {
                let newly = self
                    .inflight
                    .get(off)
                    .is_some_and(|x| x.state == ChunkState::Outstanding);
                if !newly {
                    continue;
                }
                self.take_out_of_flight(off);
                if let Some(x) = self.inflight.get_mut(off) {
                    x.state = ChunkState::GapAcked;
                    x.queued_for_rtx = false;
                    newly_acked += x.len;
                }
                let t = first.wrapping_add(off as u32);
                highest_new = Some(match highest_new {
                    Some(h) if lt(t, h) => h,
                    _ => t,
                });
            }
        }
        self.last_gaps = gaps;
        // Miss indications (HTNA, RFC 9260 §7.2.4): holes below the highest newly acked TSN.
        if let Some(h) = highest_new {
            self.count_misses(now, h);
        }
        // The peer's window, minus what is still in flight (RFC 9260 §6.2.1).
        self.peer_rwnd = (sack.a_rwnd as usize).saturating_sub(self.flight_size);
        // Congestion control (RFC 9260 §7.2.1, §7.2.2).
        if advanced {
            let in_recovery = self.fast_recovery.is_some_and(|r| lt(self.cum_ack, r));
            if !in_recovery {
                self.fast_recovery = None;
                if self.cwnd <= self.ssthresh {
                    if flight_before >= self.cwnd.saturating_sub(self.mtu) {
                        self.cwnd += newly_acked.min(self.mtu);
                    }
                } else {
                    self.partial_bytes_acked += newly_acked;
                    if self.partial_bytes_acked >= self.cwnd && flight_before >= self.cwnd {
                        self.partial_bytes_acked -= self.cwnd;
                        self.cwnd += self.mtu;
                    }
                }
            }
        }
        // T3-rtx (RFC 9260 §6.3.2 R2, R3).
        if self.flight_size == 0 && self.rtx.is_empty() && !self.forward_tsn_needed() {
            self.t3 = None;
        } else if advanced {
            self.t3 = Some(now + self.rto.rto);
        }
        if self.peer_forward_tsn {
            self.advance_peer_ack_point();
        }
        advanced
    }

    fn count_misses(&mut self, now: Instant, highest: u32) {
        // Early retransmit (RFC 5827 §3.2): with fewer than four chunks outstanding
        // there will never be three miss indications; lower the threshold.
        let outstanding = self
            .inflight
            .iter()
            .filter(|e| e.state == ChunkState::Outstanding)
            .take(4)
            .count();
        let threshold: u8 = if outstanding < 4 && !self.has_sendable() {
            (outstanding.saturating_sub(1)).max(1) as u8
        } else {
            3
        };
        let mut fast = Vec::new();
        let first = self.cum_ack.wrapping_add(1);
        // Walk only the holes: TSNs not covered by the current gap blocks.
        let mut t = first;
        let mut holes: Vec<(u32, u32)> = Vec::new();
        for &(s, e) in &self.last_gaps {
            if lt(t, s) {
                holes.push((t, s.wrapping_sub(1)));
            }
            t = e.wrapping_add(1);
        }
        for (s, e) in holes {
            let mut t = s;
            while le(t, e) && lt(t, highest) {
                let off = t.wrapping_sub(first) as usize;
                if let Some(x) = self.inflight.get_mut(off)
                    && x.state == ChunkState::Outstanding
                    && !x.queued_for_rtx
                {
                    x.misses = x.misses.saturating_add(1);
                    if x.misses >= threshold {
                        fast.push(t);
                    }
                }
                t = t.wrapping_add(1);
            }
        }
        if fast.is_empty() {
            return;
        }
        // RFC 9260 §7.2.4: enter fast recovery once per window of data.
        if self.fast_recovery.is_none() {
            self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
            self.cwnd = self.ssthresh;
            self.partial_bytes_acked = 0;
            self.fast_recovery = Some(self.next_tsn.wrapping_sub(1));
            self.fast_retransmits += 1;
        }
        self.fast_rtx_allowance = true;
        for t in fast {
            self.mark_for_rtx(now, t);
        }
    }

    /// Queues a TSN for retransmission, or abandons its message under PR-SCTP.
    fn mark_for_rtx(&mut self, now: Instant, tsn: u32) {
        let off = tsn.wrapping_sub(self.cum_ack.wrapping_add(1)) as usize;
        let Some(e) = self.inflight.get(off) else {
            return;
        };
        let msg = e.msg;
        let give_up = self.message(msg).is_some_and(|m| match m.policy {
            Reliability::Reliable => false,
            Reliability::MaxRetransmits(n) => e.transmissions > n,
            Reliability::Lifetime(_) => m.expires.is_some_and(|x| now >= x),
        });
        if give_up && self.peer_forward_tsn {
            self.abandon(msg);
            return;
        }
        self.take_out_of_flight(off);
        if let Some(e) = self.inflight.get_mut(off)
            && !e.queued_for_rtx
        {
            e.queued_for_rtx = true;
            e.misses = 0;
            self.rtx.push_back(tsn);
        }
    }

    /// Abandons every chunk of a message (RFC 3758 §3.5 C1-C3).
    fn abandon(&mut self, msg: usize) {
        let Some(m) = self.msgs.get_mut(msg).and_then(Option::as_mut) else {
            return;
        };
        if m.abandoned {
            return;
        }
        m.abandoned = true;
        let remainder = m.data.len() - m.chunked;
        let unsent = if m.counted { remainder } else { 0 };
        let stream = m.stream;
        m.chunked = m.data.len();
        if self.current == Some(msg) {
            self.current = None;
            if remainder > 0 {
                // Half sent: its unsent rest takes one TSN, never sent, so the FORWARD TSN
                // must skip past it and the receiver learns to drop the fragments it has
                // and to skip the message's SSN (however many fragments it got).
                m.outstanding += 1;
                self.next_tsn = self.next_tsn.wrapping_add(1);
                self.inflight.push_back(InFlight {
                    msg,
                    offset: m.chunked,
                    len: 0,
                    beginning: false,
                    ending: true,
                    sent_at: Instant::ZERO,
                    transmissions: 0,
                    misses: 0,
                    state: ChunkState::Abandoned,
                    queued_for_rtx: false,
                    in_flight: false,
                });
            }
        }
        self.abandoned_messages += 1;
        self.note_sent_bytes(stream, unsent);
        // Each chunk is released once, when the cumulative ack (moved by our FORWARD
        // TSN) passes it; here it only leaves the flight.
        for off in 0..self.inflight.len() {
            let is_it = self
                .inflight
                .get(off)
                .is_some_and(|e| e.msg == msg && e.state != ChunkState::Abandoned);
            if !is_it {
                continue;
            }
            self.take_out_of_flight(off);
            if let Some(e) = self.inflight.get_mut(off) {
                e.state = ChunkState::Abandoned;
                e.queued_for_rtx = false;
            }
        }
        self.advance_peer_ack_point();
    }

    /// Moves the Advanced.Peer.Ack.Point over abandoned chunks; a FORWARD TSN is due if
    /// it moved past the cumulative ack (RFC 3758 §3.5 C4).
    fn advance_peer_ack_point(&mut self) {
        if lt(self.adv_ack, self.cum_ack) {
            self.adv_ack = self.cum_ack;
        }
        let mut off = self.adv_ack.wrapping_sub(self.cum_ack) as usize;
        while let Some(e) = self.inflight.get(off) {
            if e.state != ChunkState::Abandoned {
                break;
            }
            self.adv_ack = self.adv_ack.wrapping_add(1);
            off += 1;
        }
        if lt(self.cum_ack, self.adv_ack) {
            self.forward_tsn_due = true;
        }
    }

    /// The FORWARD TSN to send: the new cumulative TSN and, per ordered stream, the
    /// highest SSN skipped.
    pub(crate) fn forward_tsn(&self) -> Option<(u32, Vec<(u16, u16)>)> {
        if !lt(self.cum_ack, self.adv_ack) {
            return None;
        }
        let mut streams: Vec<(u16, u16)> = Vec::new();
        let n = self.adv_ack.wrapping_sub(self.cum_ack) as usize;
        for e in self.inflight.iter().take(n) {
            let Some(m) = self.message(e.msg) else {
                continue;
            };
            // An abandoned message from before its stream's reset (see `reset_requested`).
            if m.unordered || m.before_reset {
                continue;
            }
            match streams.iter_mut().find(|(s, _)| *s == m.stream) {
                Some((_, ssn)) => {
                    if lt16(*ssn, m.ssn) {
                        *ssn = m.ssn;
                    }
                }
                None => streams.push((m.stream, m.ssn)),
            }
        }
        Some((self.adv_ack, streams))
    }

    /// T3-rtx expired (RFC 9260 §6.3.3): back off, collapse cwnd, retransmit everything
    /// outstanding; lifetimes and retransmission limits are applied here.
    pub(crate) fn on_t3_timeout(&mut self, now: Instant) {
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.partial_bytes_acked = 0;
        self.fast_recovery = None;
        self.rto.back_off();
        self.rtt_probe = None;
        self.expire_lifetimes(now);
        let first = self.cum_ack.wrapping_add(1);
        for off in 0..self.inflight.len() {
            if self
                .inflight
                .get(off)
                .is_some_and(|e| e.state == ChunkState::Outstanding && !e.queued_for_rtx)
            {
                self.mark_for_rtx(now, first.wrapping_add(off as u32));
            }
        }
        // RFC 3758 §3.5 C5: the FORWARD TSN is repeated with the retransmissions.
        if self.peer_forward_tsn && self.forward_tsn_needed() {
            self.forward_tsn_due = true;
        }
        self.t3 = if self.inflight.is_empty() {
            None
        } else {
            Some(now + self.rto.rto)
        };
    }

    /// Abandons in-flight messages whose lifetime ran out.
    pub(crate) fn expire_lifetimes(&mut self, now: Instant) {
        if !self.peer_forward_tsn {
            return;
        }
        let mut expired = Vec::new();
        for e in &self.inflight {
            if e.state == ChunkState::Outstanding
                && self
                    .message(e.msg)
                    .is_some_and(|m| m.expires.is_some_and(|x| now >= x))
                && !expired.contains(&e.msg)
            {
                expired.push(e.msg);
            }
        }
        for m in expired {
            self.abandon(m);
        }
    }

    /// The peer's FORWARD TSN answer came as a SACK; nothing else to do. Used by the
    /// association to learn whether a FORWARD TSN is still needed.
    pub(crate) fn forward_tsn_needed(&self) -> bool {
        lt(self.cum_ack, self.adv_ack)
    }

    /// Sizes for diagnostics: (messages queued, streams with state, chunks in flight,
    /// retransmission queue, buffered amount: total and the largest stream's).
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize, usize, usize) {
        let messages = self.msgs.len() - self.free.len();
        let (total, largest) = self
            .streams
            .values()
            .fold((0, 0), |(t, m), s| (t + s.buffered, m.max(s.buffered)));
        (
            messages,
            self.streams.len(),
            self.inflight.len(),
            self.rtx.len(),
            total,
            largest,
        )
    }

    /// Outstanding bytes on a stream not yet sent (W3C bufferedAmount).
    pub(crate) fn buffered_amount(&self, stream: u16) -> usize {
        self.streams.get(&stream).map_or(0, |s| s.buffered)
    }

    /// The stream's outgoing reset was asked for (every message of it has its TSNs): from
    /// now on a FORWARD TSN leaves its old sequence numbers out. The peer performs the
    /// reset once it has every TSN up to the request's last one (RFC 6525 §5.2.2), and
    /// then holds nothing of the old sequence; a FORWARD TSN made before the request
    /// covers TSNs up to that last one at most, which the peer tells apart (see
    /// `Receiver::reset_stream`), but one made after it could reach the new sequence
    /// and skip messages there.
    pub(crate) fn reset_requested(&mut self, stream: u16) {
        for m in self.msgs.iter_mut().flatten() {
            if m.stream == stream {
                m.before_reset = true;
            }
        }
    }

    /// Forgets a stream's state after its outgoing reset completed.
    pub(crate) fn reset_stream(&mut self, stream: u16) {
        self.reset_requested(stream);
        if let Some(s) = self.streams.get(&stream)
            && s.queue.is_empty()
        {
            self.streams.remove(&stream);
        }
    }

    /// The payload of a chunk.
    pub(crate) fn payload(&self, c: &ChunkRef) -> &[u8] {
        self.message(c.msg)
            .and_then(|m| m.data.get(c.offset..c.offset + c.len))
            .unwrap_or_default()
    }

    /// Oldest outstanding data exists (for the association's idle check).
    pub(crate) fn has_outstanding(&self) -> bool {
        !self.inflight.is_empty()
    }
}
