//! [`Association`]: the state machine of RFC 9260 §4 (set-up, data, shutdown, abort).
//! Incoming packets are handled in `inbound.rs`; outgoing packets and timers in
//! `outbound.rs`.

mod inbound;
mod outbound;

use std::collections::VecDeque;

use aws_lc_rs::hmac;

use super::cookie::Cookie;
use super::reconfig::{Actions, Reconfig};
use super::recv::{DataOutcome, Receiver};
use super::send::{Rto, Sender};
use super::wire::chunks::{
    self, DataChunk, EDMID_SCTP_OVER_DTLS, ForwardTsn, Init, PARAM_FORWARD_TSN_SUPPORTED,
    PARAM_STATE_COOKIE, PARAM_SUPPORTED_EXTENSIONS, PARAM_ZERO_CHECKSUM_ACCEPTABLE, ReconfigParam,
    Sack, Tlvs, cause, write_tlv,
};
use super::wire::{COMMON_HEADER_LEN, Packet, RawChunk, Writer, chunk_type as ct, write_checksum};
use super::{CloseReason, SctpConfig, SctpError, SctpEvent, SctpStats, SendOptions};
use crate::rng::Rng;
use crate::time::{Duration, Instant, earliest};

/// Control packets waiting (INIT ACK, COOKIE ACK, ABORT, ...): a flood of INITs costs
/// drops beyond this, not memory.
const MAX_CTRL: usize = 16;
/// Most RE-CONFIG responses waiting to be sent.
const MAX_RECONFIG_RESPONSES: usize = 16;
/// Most gap blocks in one SACK.
const MAX_GAP_BLOCKS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    CookieWait,
    CookieEchoed,
    Established,
    ShutdownPending,
    ShutdownSent,
    ShutdownReceived,
    ShutdownAckSent,
    /// Ended: nothing more happens.
    Dead,
}

/// An SCTP association. See the [module docs](super).
pub struct Association {
    config: SctpConfig,
    rng: Rng,
    state: State,
    my_tag: u32,
    peer_tag: u32,
    my_initial_tsn: u32,
    /// The state cookie's HMAC-SHA256 secret (RFC 9260 §5.1.3); the key is prepared
    /// per use (cookies are set-up traffic only), which keeps ~1.2 KB out of every
    /// association.
    cookie_key: [u8; 32],
    sender: Sender,
    receiver: Receiver,
    reconfig: Reconfig,
    peer_reconfig: bool,
    /// The peer announced Zero Checksum Acceptable for SCTP over DTLS and so do we
    /// (`SctpConfig::zero_checksum`): our established-phase packets carry checksum 0.
    send_zero_checksum: bool,
    /// T1-init / T1-cookie.
    t1: Option<Instant>,
    t1_rto: Duration,
    init_retries: u32,
    init_due: bool,
    cookie: Vec<u8>,
    cookie_echo_due: bool,
    ctrl: VecDeque<Vec<u8>>,
    sack_due: bool,
    sack_deadline: Option<Instant>,
    data_packets_unacked: u32,
    /// T2-shutdown.
    t2: Option<Instant>,
    shutdown_due: bool,
    shutdown_retries: u32,
    heartbeat_at: Option<Instant>,
    heartbeat_sent: Option<(Instant, u64)>,
    heartbeat_due: bool,
    /// `shutdown` was called before the association was up.
    shutdown_requested: bool,
    error_count: u32,
    events: VecDeque<SctpEvent>,
    /// Incoming stream resets performed while messages before them still wait in the
    /// receiver (the event queue was full): the stream, and how many of the waiting
    /// messages go first. Their events follow those messages, never overtake them.
    held_resets: VecDeque<(u16, usize)>,
    event_bytes: usize,
    remote_max_message: usize,
    stats: SctpStats,
    /// The latest time the host gave us.
    last_now: Instant,
}

impl core::fmt::Debug for Association {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Association")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Association {
    /// A new association in the CLOSED state: it answers an INIT, or starts one with
    /// [`connect`](Self::connect).
    pub fn new(config: SctpConfig, now: Instant) -> Self {
        let mut rng = Rng::new(config.rng);
        let my_tag = loop {
            let t = rng.u32();
            if t != 0 {
                break t;
            }
        };
        let my_initial_tsn = rng.u32();
        let mut secret = [0u8; 32];
        rng.fill(&mut secret);
        let mtu = config.mtu.clamp(256, 65535);
        let rto = Rto::new(config.rto_initial, config.rto_min, config.rto_max);
        Association {
            sender: Sender::new(
                my_initial_tsn,
                mtu,
                rto,
                config.max_active_streams,
                config.buffer_pool,
            ),
            receiver: Receiver::new(
                config.receive_buffer,
                config.max_receive_message_size,
                config.max_active_streams,
                config.buffer_pool,
            ),
            reconfig: Reconfig::new(my_initial_tsn, 0),
            peer_reconfig: false,
            send_zero_checksum: false,
            t1: None,
            t1_rto: config.rto_initial,
            init_retries: 0,
            init_due: false,
            cookie: Vec::new(),
            cookie_echo_due: false,
            ctrl: VecDeque::new(),
            sack_due: false,
            sack_deadline: None,
            data_packets_unacked: 0,
            t2: None,
            shutdown_due: false,
            shutdown_retries: 0,
            heartbeat_at: None,
            heartbeat_sent: None,
            heartbeat_due: false,
            shutdown_requested: false,
            error_count: 0,
            events: VecDeque::new(),
            held_resets: VecDeque::new(),
            event_bytes: 0,
            remote_max_message: config.max_message_size,
            stats: SctpStats::default(),
            last_now: now,
            state: State::Closed,
            my_tag,
            peer_tag: 0,
            my_initial_tsn,
            cookie_key: secret,
            rng,
            config,
        }
    }

    /// Starts the association: sends INIT. Both ends may call it (WebRTC peers do): the
    /// crossing INITs resolve as RFC 9260 §5.2.1 says.
    pub fn connect(&mut self, now: Instant) {
        if self.state != State::Closed {
            return;
        }
        self.state = State::CookieWait;
        self.init_due = true;
        self.t1_rto = self.config.rto_initial;
        self.t1 = Some(now + self.t1_rto);
    }

    /// Whether the association is established (data can flow).
    pub fn is_established(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::ShutdownPending | State::ShutdownReceived
        )
    }

    /// Whether the association ended.
    pub fn is_closed(&self) -> bool {
        self.state == State::Dead
    }

    /// The verification tags: ours (the peer puts it in every packet it sends us) and
    /// the peer's (RFC 9260 §8.5). Zero for the peer's before the association is up.
    pub fn verification_tags(&self) -> (u32, u32) {
        (self.my_tag, self.peer_tag)
    }

    /// Current sizes of the association's buffers and queues. Cheap: no allocation; one
    /// pass over the (bounded) stream tables and control queue.
    pub fn diagnostics(&self) -> super::SctpDiagnostics {
        let (messages, streams_out, inflight, rtx, buffered_total, buffered_max) =
            self.sender.sizes();
        let (ooo, ooo_slots, streams_in, _ready, ready_bytes, ooo_limit) = self.receiver.sizes();
        let ctrl_bytes: usize = self.ctrl.iter().map(Vec::len).sum();
        let receive_bytes = self.receiver.held_bytes + ready_bytes + self.event_bytes;
        super::SctpDiagnostics {
            send_queue_bytes: self.sender.queued_bytes,
            send_queue_messages: messages,
            in_flight_bytes: self.sender.flight_size,
            in_flight_chunks: inflight,
            retransmit_queue: rtx,
            buffered_total,
            buffered_max_stream: buffered_max,
            receive_bytes,
            out_of_order_chunks: ooo,
            out_of_order_slots: ooo_slots,
            out_of_order_limit: ooo_limit,
            streams_out,
            streams_in,
            control_packets: self.ctrl.len(),
            events: self.events.len(),
            pooled_bytes: self.pooled_bytes(),
            bytes: self.pooled_bytes()
                + self.sender.queued_bytes
                + receive_bytes
                + ctrl_bytes
                + self.cookie.len()
                + messages * 64
                + inflight * 48
                + ooo_slots * 64
                + (streams_in + streams_out) * 64,
        }
    }

    /// Counters.
    pub fn stats(&self) -> SctpStats {
        let mut s = self.stats.clone();
        s.data_chunks_out = self.sender.chunks_sent;
        s.retransmitted_chunks = self.sender.chunks_retransmitted;
        s.fast_retransmits = self.sender.fast_retransmits;
        s.abandoned_messages = self.sender.abandoned_messages;
        s.duplicate_chunks = self.receiver.duplicates;
        s.dropped_chunks = self.receiver.dropped;
        s.srtt = self.sender.rto.srtt;
        s.cwnd = self.sender.cwnd;
        s.rto = self.sender.rto.rto;
        s.bytes_in_flight = self.sender.flight_size;
        s.peer_rwnd = self.sender.peer_rwnd;
        s.local_rwnd = self.receiver.a_rwnd(self.event_bytes) as usize;
        s.zero_checksum = self.send_zero_checksum;
        s
    }

    /// The largest message [`send`](Self::send) accepts: ours, or the peer's
    /// `a=max-message-size` if smaller.
    pub fn max_message_size(&self) -> usize {
        self.config.max_message_size.min(self.remote_max_message)
    }

    /// The peer's `a=max-message-size` (RFC 8841 §6); 0 means no limit was given.
    pub fn set_remote_max_message_size(&mut self, size: usize) {
        self.remote_max_message = if size == 0 { usize::MAX } else { size };
    }

    /// Queues a message on `stream` with payload protocol identifier `ppid`. Messages
    /// sent before the association is up wait for it.
    pub fn send(
        &mut self,
        stream: u16,
        ppid: u32,
        data: &[u8],
        opts: SendOptions,
    ) -> Result<(), SctpError> {
        // The copy goes into a spare buffer when there is one.
        let mut buf = self.sender.pool.take(data.len());
        buf.extend_from_slice(data);
        self.queue_message(stream, ppid, buf, opts)
            .map_err(|(e, buf)| {
                self.sender.pool.give(buf);
                e
            })
    }

    /// Hands a buffer back for reuse: typically the data of a received message the host
    /// is done with. Kept within [`SctpConfig::buffer_pool`], freed beyond.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.receiver.msg_pool.give(buf);
    }

    /// Bytes of spare buffer capacity held for reuse, both directions (at most twice
    /// [`SctpConfig::buffer_pool`]).
    pub fn pooled_bytes(&self) -> usize {
        self.sender.pool.held_bytes() + self.receiver.msg_pool.held_bytes()
    }

    /// Like [`send`](Self::send), taking ownership of the data (no copy).
    pub fn send_owned(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
        opts: SendOptions,
    ) -> Result<(), SctpError> {
        self.queue_message(stream, ppid, data, opts)
            .map_err(|(e, _)| e)
    }

    /// Queues a message; on refusal the data comes back with the error.
    fn queue_message(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
        opts: SendOptions,
    ) -> Result<(), (SctpError, Vec<u8>)> {
        match self.state {
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established
                if !self.shutdown_requested => {}
            _ => return Err((SctpError::Closed, data)),
        }
        let max = self.max_message_size();
        if data.len() > max {
            let size = data.len();
            return Err((SctpError::MessageTooBig { size, max }, data));
        }
        self.sender
            .send(stream, ppid, data, opts, self.config.send_buffer, true)?;
        self.stats.messages_out += 1;
        Ok(())
    }

    /// Queues a control message (DCEP) that does not count in the stream's buffered
    /// amount.
    pub(crate) fn send_control(
        &mut self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
    ) -> Result<(), SctpError> {
        if !matches!(
            self.state,
            State::Closed | State::CookieWait | State::CookieEchoed | State::Established
        ) {
            return Err(SctpError::Closed);
        }
        self.sender
            .send(
                stream,
                ppid,
                data,
                SendOptions::default(),
                self.config.send_buffer,
                false,
            )
            .map_err(|(e, _)| e)
    }

    /// Bytes queued on `stream` and not yet sent.
    pub fn buffered_amount(&self, stream: u16) -> usize {
        self.sender.buffered_amount(stream)
    }

    /// Sets the low threshold of `stream`'s buffered amount; crossing down to it raises
    /// [`SctpEvent::BufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, stream: u16, bytes: usize) {
        self.sender.stream_mut(stream).low_threshold = bytes;
    }

    /// Resets our outgoing `stream` (RFC 6525): it takes no more data, and once what was
    /// queued has been sent, the peer is told. [`SctpEvent::OutgoingStreamReset`] follows.
    pub fn reset_stream(&mut self, stream: u16) -> Result<(), SctpError> {
        if !self.is_established()
            && self.state != State::CookieWait
            && self.state != State::CookieEchoed
        {
            return Err(SctpError::Closed);
        }
        let s = self.sender.stream_mut(stream);
        if s.closing {
            return Ok(());
        }
        s.closing = true;
        self.reconfig.pending.push(stream);
        Ok(())
    }

    /// Starts the graceful shutdown (RFC 9260 §9.2): no more sends; queued data is
    /// delivered first.
    pub fn shutdown(&mut self, now: Instant) {
        match self.state {
            State::Established => {
                self.state = State::ShutdownPending;
                self.progress_shutdown(now);
            }
            // Still connecting: shut down (after the queued data) once established.
            State::CookieWait | State::CookieEchoed => self.shutdown_requested = true,
            State::Closed => self.close(CloseReason::Shutdown),
            _ => {}
        }
    }

    /// Aborts at once (sends ABORT with a User-Initiated Abort cause).
    pub fn abort(&mut self) {
        if self.state == State::Dead {
            return;
        }
        if self.peer_tag != 0 {
            let tag = self.peer_tag;
            self.push_ctrl(tag, |w| {
                w.chunk(ct::ABORT, 0, |w| write_tlv(w, cause::USER_ABORT, &[]))
            });
        }
        self.close(CloseReason::LocalAbort);
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state == State::Dead {
            return;
        }
        self.state = State::Dead;
        // Messages already received still reach the host, before the end (and the
        // stream resets among them, in their place).
        self.release_resets();
        while self.deliver_one() {
            self.release_resets();
        }
        self.t1 = None;
        self.t2 = None;
        self.sender.t3 = None;
        self.sack_deadline = None;
        self.heartbeat_at = None;
        self.reconfig.timer = None;
        self.events.push_back(SctpEvent::Closed(reason));
    }

    fn fail(&mut self, e: SctpError) {
        self.close(CloseReason::Error(e));
    }

    /// Aborts because the peer broke the protocol.
    fn violation(&mut self, why: &'static str) {
        let tag = self.peer_tag;
        self.push_ctrl(tag, |w| {
            w.chunk(ct::ABORT, 0, |w| {
                write_tlv(w, cause::PROTOCOL_VIOLATION, why.as_bytes())
            })
        });
        self.fail(SctpError::ProtocolViolation(why));
    }

    /// Builds a control packet with verification tag `tag` and queues it.
    fn push_ctrl(&mut self, tag: u32, f: impl FnOnce(&mut Writer<'_>) -> Option<()>) {
        if self.ctrl.len() >= MAX_CTRL {
            return;
        }
        let mut buf = vec![0u8; self.config.mtu.max(256)];
        let mut w = Writer::new(&mut buf);
        if w.common_header(self.config.local_port, self.config.remote_port, tag)
            .is_none()
            || f(&mut w).is_none()
        {
            return;
        }
        let n = w.len();
        buf.truncate(n);
        write_checksum(&mut buf);
        self.ctrl.push_back(buf);
    }

    fn init_params(&self, cookie: Option<&[u8]>) -> Vec<u8> {
        let mut p = vec![0u8; 64 + cookie.map_or(0, <[u8]>::len)];
        let mut w = Writer::new(&mut p);
        let ok = (|| {
            write_tlv(
                &mut w,
                PARAM_SUPPORTED_EXTENSIONS,
                &[ct::FORWARD_TSN, ct::RECONFIG],
            )?;
            write_tlv(&mut w, PARAM_FORWARD_TSN_SUPPORTED, &[])?;
            if self.config.zero_checksum {
                // RFC 9653 §4: we take zero checksums on packets inside DTLS.
                write_tlv(
                    &mut w,
                    PARAM_ZERO_CHECKSUM_ACCEPTABLE,
                    &EDMID_SCTP_OVER_DTLS.to_be_bytes(),
                )?;
            }
            if let Some(c) = cookie {
                write_tlv(&mut w, PARAM_STATE_COOKIE, c)?;
            }
            Some(())
        })();
        let n = if ok.is_some() { w.len() } else { 0 };
        p.truncate(n);
        p
    }

    fn init_chunk<'p>(&self, params: &'p [u8]) -> Init<'p> {
        Init {
            initiate_tag: self.my_tag,
            a_rwnd: self.receiver.a_rwnd(self.event_bytes),
            outbound_streams: self.config.streams,
            inbound_streams: self.config.streams,
            initial_tsn: self.my_initial_tsn,
            params,
        }
    }
}
