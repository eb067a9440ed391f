//! [`Dtls`]: the endpoint that runs the handshake, the record layer, retransmission and
//! application data, under the sans-IO contract.

use std::collections::VecDeque;

use super::cert::{DtlsCertificate, Fingerprint};
use super::config::DtlsConfig;
use super::flight::{Flight, FlightItem, MIN_MTU, seal_append};
use super::handshake::{self, Ctx, Fatal, Handshake, ServerListening};
use super::reassembly::{Outcome, Reassembler};
use super::record_layer::{OpenError, RecordLayer};
use super::wire::alert::{Alert, AlertDescription, AlertLevel};
use super::wire::handshake::{HandshakeType, parse_fragment};
use super::wire::record::{ContentType, MAX_PLAINTEXT, RECORD_HEADER_LEN, Record, records};
use super::{
    CloseReason, DtlsConnected, DtlsDiagnostics, DtlsError, DtlsEvent, DtlsRole, DtlsStats,
    SrtpKeyingMaterial,
};
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// Where decrypted application data goes: a host's callback, or the event queue.
type Sink<'a> = Option<&'a mut dyn FnMut(&[u8])>;

/// Most datagrams waiting in the output queue.
const MAX_OUT_DATAGRAMS: usize = super::MAX_QUEUED_DATAGRAMS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A client before `start`.
    Idle,
    Handshaking,
    /// Handshake done; the peer's fingerprint is not known yet.
    AwaitingFingerprint,
    Connected,
    Closed,
}

/// A DTLS 1.2 endpoint. See the [module docs](super).
pub struct Dtls {
    config: DtlsConfig,
    role: DtlsRole,
    cert: DtlsCertificate,
    rng: Rng,
    fingerprints: Vec<Fingerprint>,
    records: RecordLayer,
    reasm: Reassembler,
    hs: Handshake,
    phase: Phase,
    flight: Option<Flight>,
    rto: Duration,
    retransmit_at: Option<Instant>,
    last_flight_tx: Option<Instant>,
    started_at: Option<Instant>,
    /// Epoch our alerts go out in: 1 once the peer has been sent our keys' CCS.
    alert_epoch: u16,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    queued: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// Epoch-1 records that arrived before the keys.
    early: Vec<Vec<u8>>,
    /// Application data that arrived before the connection was confirmed.
    held: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    stats: DtlsStats,
}

impl core::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dtls")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("handshake", &self.hs)
            .finish_non_exhaustive()
    }
}

impl Dtls {
    /// A new endpoint. A client sends nothing until [`start`](Self::start); a server
    /// answers ClientHellos from the start.
    pub fn new(
        config: DtlsConfig,
        cert: DtlsCertificate,
        role: DtlsRole,
    ) -> Result<Self, DtlsError> {
        if config.cipher_suites.is_empty() {
            return Err(DtlsError::Config("cipher_suites is empty"));
        }
        if config.groups.is_empty() {
            return Err(DtlsError::Config("groups is empty"));
        }
        if config.mtu < MIN_MTU {
            return Err(DtlsError::Config("mtu below 128"));
        }
        let mut rng = Rng::new(config.rng);
        let mut records = RecordLayer::default();
        let hs = match role {
            DtlsRole::Client => Handshake::ClientIdle,
            DtlsRole::Server => {
                let mut ctx = Ctx {
                    config: &config,
                    cert: &cert,
                    rng: &mut rng,
                    records: &mut records,
                    fingerprints: &[],
                    flight: None,
                    stateless_reply: None,
                    expect_seq: None,
                };
                Handshake::ServerListening(Box::new(ServerListening::new(&mut ctx)))
            }
        };
        let phase = match role {
            DtlsRole::Client => Phase::Idle,
            DtlsRole::Server => Phase::Handshaking,
        };
        Ok(Dtls {
            reasm: Reassembler::new(config.max_handshake_message, config.max_reassembly_bytes),
            rto: config.initial_retransmit,
            config,
            role,
            cert,
            rng,
            fingerprints: Vec::new(),
            records,
            hs,
            phase,
            flight: None,
            retransmit_at: None,
            last_flight_tx: None,
            started_at: None,
            alert_epoch: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            queued: VecDeque::new(),
            queued_bytes: 0,
            early: Vec::new(),
            held: Vec::new(),
            // Grows to the largest record received (about one MTU).
            scratch: Vec::new(),
            stats: DtlsStats::default(),
        })
    }

    /// This endpoint's role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// This endpoint's certificate fingerprint (sha-256), for `a=fingerprint`.
    pub fn local_fingerprint(&self) -> &Fingerprint {
        self.cert.fingerprint()
    }

    /// Counters.
    pub fn stats(&self) -> &DtlsStats {
        &self.stats
    }

    /// Whether the handshake completed and the peer's certificate matched.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Whether the connection closed (or failed).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Largest application data that fits one datagram of the configured MTU.
    pub fn max_application_data(&self) -> usize {
        self.config
            .mtu
            .saturating_sub(self.records.overhead(1).max(RECORD_HEADER_LEN + 24))
    }

    /// The fingerprints the peer's certificate must match (one is enough). May be given
    /// before or during the handshake; the connection is confirmed only once they are.
    pub fn set_remote_fingerprints(&mut self, fingerprints: Vec<Fingerprint>) {
        self.fingerprints = fingerprints;
        if self.phase == Phase::AwaitingFingerprint {
            self.confirm();
        }
    }

    /// Starts the handshake: a client sends its ClientHello. Does nothing for a server
    /// (it starts when a ClientHello arrives) or when already started.
    pub fn start(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Handshaking;
        self.started_at = Some(now);
        let mut ctx = self.ctx();
        let hs = handshake::start_client(&mut ctx);
        let flight = ctx.flight.take();
        self.hs = hs;
        if let Some(f) = flight {
            self.new_flight(now, f);
        }
    }

    fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            cert: &self.cert,
            rng: &mut self.rng,
            records: &mut self.records,
            fingerprints: &self.fingerprints,
            flight: None,
            stateless_reply: None,
            expect_seq: None,
        }
    }

    /// Handles a datagram; application data becomes [`DtlsEvent::ApplicationData`].
    pub fn handle_receive(&mut self, now: Instant, datagram: &[u8]) {
        self.receive(now, datagram, None);
    }

    /// Handles a datagram, handing application data straight to `on_data` (no copy, no
    /// allocation: the slice lives in an internal buffer until `on_data` returns).
    pub fn handle_receive_with(
        &mut self,
        now: Instant,
        datagram: &[u8],
        on_data: &mut dyn FnMut(&[u8]),
    ) {
        self.receive(now, datagram, Some(on_data));
    }

    fn receive(&mut self, now: Instant, datagram: &[u8], mut sink: Sink<'_>) {
        self.stats.datagrams_in += 1;
        if matches!(self.phase, Phase::Closed | Phase::Idle) {
            return;
        }
        let mut peer_retransmitted = false;
        for rec in records(datagram) {
            match rec {
                Ok(rec) => self.record(now, &rec, &mut sink, &mut peer_retransmitted),
                Err(_) => self.stats.dropped_malformed += 1,
            }
            if self.phase == Phase::Closed {
                return;
            }
        }
        self.advance(now, peer_retransmitted, &mut sink);
    }

    fn record(
        &mut self,
        now: Instant,
        rec: &Record<'_>,
        sink: &mut Sink<'_>,
        peer_retransmitted: &mut bool,
    ) {
        let h = rec.header;
        if let Handshake::ServerListening(_) = self.hs {
            if h.epoch == 0 && h.content_type == ContentType::Handshake {
                self.listening_hello(now, rec);
            } else {
                self.stats.dropped_unexpected += 1;
            }
            return;
        }
        let mut scratch = core::mem::take(&mut self.scratch);
        match self.records.open(rec, &mut scratch) {
            Ok(plain) => {
                self.stats.records_in += 1;
                self.dispatch(h.epoch, h.content_type, plain, sink, peer_retransmitted);
            }
            Err(OpenError::Replay) => self.stats.dropped_replay += 1,
            Err(OpenError::BadAuth) => self.stats.dropped_bad_auth += 1,
            Err(OpenError::BadEpoch) => self.stats.dropped_epoch += 1,
            Err(OpenError::NoKeys) => {
                if self.early.len() < self.config.max_buffered_records
                    && self.phase == Phase::Handshaking
                {
                    self.early.push(rec.raw.to_vec());
                } else {
                    self.stats.dropped_epoch += 1;
                }
            }
        }
        self.scratch = scratch;
    }

    fn dispatch(
        &mut self,
        epoch: u16,
        ty: ContentType,
        plain: &[u8],
        sink: &mut Sink<'_>,
        peer_retransmitted: &mut bool,
    ) {
        match ty {
            ContentType::Handshake => self.handshake_record(epoch, plain, peer_retransmitted),
            ContentType::ChangeCipherSpec => {
                // Epochs are explicit in DTLS records, so the CCS carries no information
                // we need; it is only checked for form (RFC 5246 §7.1).
                if plain != [1] {
                    self.stats.dropped_malformed += 1;
                }
            }
            ContentType::Alert => self.alert(epoch, plain),
            ContentType::ApplicationData => {
                if epoch != 1 {
                    self.stats.dropped_unexpected += 1;
                    return;
                }
                match self.phase {
                    Phase::Connected => {
                        self.stats.app_bytes_in += plain.len() as u64;
                        match sink {
                            Some(s) => s(plain),
                            None => self.push_data_event(plain.to_vec()),
                        }
                    }
                    Phase::Handshaking | Phase::AwaitingFingerprint
                        if self.held.len() < self.config.max_buffered_records =>
                    {
                        self.held.push(plain.to_vec());
                    }
                    _ => self.stats.dropped_overflow += 1,
                }
            }
        }
    }

    fn push_data_event(&mut self, data: Vec<u8>) {
        if self.events.len() < self.config.max_events {
            self.events.push_back(DtlsEvent::ApplicationData(data));
        } else {
            self.stats.dropped_overflow += 1;
        }
    }

    fn handshake_record(&mut self, epoch: u16, mut plain: &[u8], peer_retransmitted: &mut bool) {
        while !plain.is_empty() {
            let Ok((frag, rest)) = parse_fragment(plain) else {
                self.stats.dropped_malformed += 1;
                return;
            };
            plain = rest;
            if frag.msg_type == HandshakeType::HelloRequest {
                // RFC 5246 §7.4.1.1: ignored during a handshake; afterwards it asks for a
                // renegotiation, which we refuse.
                self.stats.dropped_unexpected += 1;
                if epoch == 1 && self.hs.is_established() {
                    self.send_alert(AlertLevel::Warning, AlertDescription::NoRenegotiation);
                }
                continue;
            }
            if self.hs.is_established() {
                if frag.message_seq < self.reasm.next_seq() {
                    *peer_retransmitted = true;
                } else {
                    // A new handshake after ours: renegotiation, which we refuse
                    // (RFC 5746 §4.5 allows a warning no_renegotiation).
                    self.stats.dropped_unexpected += 1;
                    if epoch == 1 && frag.msg_type != HandshakeType::Finished {
                        self.send_alert(AlertLevel::Warning, AlertDescription::NoRenegotiation);
                    }
                }
                continue;
            }
            match self.reasm.insert(&frag, epoch) {
                Outcome::Stored => {}
                Outcome::Old => *peer_retransmitted = true,
                Outcome::Dropped => self.stats.dropped_unexpected += 1,
            }
        }
    }

    /// A ClientHello while listening: answered statelessly, or the handshake begins.
    fn listening_hello(&mut self, now: Instant, rec: &Record<'_>) {
        let Ok((frag, _)) = parse_fragment(rec.fragment) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        // A ClientHello bigger than a datagram (post-quantum key shares make Chromium's
        // about 1.4 KB) comes in fragments: reassemble them within the reassembly bound
        // (the only state kept before the cookie checks), then treat it as one.
        let whole;
        let frag = if frag.offset == 0 && usize::try_from(frag.length).ok() == Some(frag.body.len())
        {
            frag
        } else {
            if frag.msg_type != HandshakeType::ClientHello {
                self.stats.dropped_unexpected += 1;
                return;
            }
            if frag.message_seq != self.reasm.next_seq() {
                self.reasm.reset_to(frag.message_seq);
            }
            if self.reasm.insert(&frag, 0) == Outcome::Dropped {
                self.stats.dropped_unexpected += 1;
                return;
            }
            let Some(msg) = self.reasm.pop() else {
                self.stats.records_in += 1;
                return;
            };
            whole = msg.body;
            super::wire::handshake::Fragment {
                msg_type: msg.msg_type,
                length: u32::try_from(whole.len()).unwrap_or(u32::MAX),
                message_seq: msg.seq,
                offset: 0,
                body: &whole,
            }
        };
        let Handshake::ServerListening(listening) =
            core::mem::replace(&mut self.hs, Handshake::Dead)
        else {
            return;
        };
        let mut ctx = Ctx {
            config: &self.config,
            cert: &self.cert,
            rng: &mut self.rng,
            records: &mut self.records,
            fingerprints: &self.fingerprints,
            flight: None,
            stateless_reply: None,
            expect_seq: None,
        };
        let result = listening.client_hello(&frag, rec.header.seq, &mut ctx);
        let (flight, reply, expect) = (
            ctx.flight.take(),
            ctx.stateless_reply.take(),
            ctx.expect_seq,
        );
        match result {
            Ok(None) => {
                self.hs = Handshake::ServerListening(listening);
                self.stats.records_in += 1;
                if let Some(d) = reply {
                    // RFC 6347 §4.2.1: the listening server keeps no state per hello, and
                    // that includes its answers: only the latest HelloVerifyRequest waits
                    // for the host (nothing else is sent while listening), so a flood of
                    // hellos cannot fill the output queue.
                    self.out.clear();
                    self.push_out(d);
                }
            }
            Ok(Some(next)) => {
                self.stats.records_in += 1;
                self.hs = next;
                self.started_at = Some(now);
                if let Some(seq) = expect {
                    self.reasm.reset_to(seq);
                }
                if let Some(f) = flight {
                    self.new_flight(now, f);
                }
            }
            Err(f) => self.fail_fatal(f),
        }
    }

    /// Runs the handshake over every complete message, then sends what it produced.
    fn advance(&mut self, now: Instant, peer_retransmitted: bool, sink: &mut Sink<'_>) {
        let mut produced = None;
        loop {
            while let Some(msg) = self.reasm.pop() {
                let hs = core::mem::replace(&mut self.hs, Handshake::Dead);
                let mut ctx = self.ctx();
                let result = hs.handle(msg, &mut ctx);
                let flight = ctx.flight.take();
                match result {
                    Ok(next) => self.hs = next,
                    Err(f) => {
                        self.fail_fatal(f);
                        return;
                    }
                }
                if let Some(f) = flight {
                    produced = Some(f);
                }
            }
            if self.records.has_read_keys() && !self.early.is_empty() {
                let early = core::mem::take(&mut self.early);
                let mut retx = false;
                for raw in early {
                    if let Some(Ok(rec)) = records(&raw).next() {
                        self.record(now, &rec, sink, &mut retx);
                    }
                    if self.phase == Phase::Closed {
                        return;
                    }
                }
                continue;
            }
            break;
        }
        if let Some(f) = produced {
            self.new_flight(now, f);
        } else if peer_retransmitted {
            self.retransmit_on_demand(now);
        }
        if self.hs.is_established() && self.phase == Phase::Handshaking {
            self.on_established();
        }
    }

    fn new_flight(&mut self, now: Instant, f: Flight) {
        let has_ccs = f
            .items
            .iter()
            .any(|i| matches!(i, FlightItem::ChangeCipherSpec));
        self.flight = Some(f);
        self.rto = self.config.initial_retransmit;
        self.transmit_flight(now);
        if has_ccs {
            self.alert_epoch = 1;
        }
        // The last flight of the handshake (the server's Finished) is not timed: it is
        // sent again only when the peer retransmits (RFC 6347 §4.2.4).
        self.retransmit_at = if self.hs.is_established() {
            None
        } else {
            Some(now + self.rto)
        };
        if self.hs.is_established() && self.role == DtlsRole::Client {
            self.flight = None;
        }
    }

    fn transmit_flight(&mut self, now: Instant) {
        let Some(f) = &self.flight else {
            return;
        };
        match f.pack(&mut self.records, self.config.mtu) {
            Some(dgrams) => {
                for d in dgrams {
                    self.push_out(d);
                }
                self.last_flight_tx = Some(now);
            }
            None => self.fail(DtlsError::SequenceExhausted, None),
        }
    }

    fn retransmit_on_demand(&mut self, now: Instant) {
        // Answer the peer's retransmission with ours, but not more often than a quarter
        // of the initial timeout (duplicated datagrams must not multiply our flights).
        let guard = self.config.initial_retransmit / 4;
        if self.flight.is_some()
            && self
                .last_flight_tx
                .is_none_or(|t| now.saturating_duration_since(t) >= guard)
        {
            self.stats.retransmits += 1;
            self.transmit_flight(now);
        }
    }

    fn on_established(&mut self) {
        // The client is done with its flight; the server keeps its last one to answer
        // retransmissions, untimed.
        self.retransmit_at = None;
        if self.role == DtlsRole::Client {
            self.flight = None;
        }
        self.phase = Phase::AwaitingFingerprint;
        if !self.fingerprints.is_empty() {
            self.confirm();
        }
    }

    /// Checks the peer's certificate against the fingerprints and brings the connection
    /// up (or fails it).
    fn confirm(&mut self) {
        let Handshake::Established(e) = &self.hs else {
            return;
        };
        if self.fingerprints.is_empty() {
            return;
        }
        if !self.fingerprints.iter().any(|f| f.matches(&e.peer_cert)) {
            self.fail(
                DtlsError::FingerprintMismatch,
                Some(AlertDescription::BadCertificate),
            );
            return;
        }
        let connected = DtlsConnected {
            cipher_suite: e.suite,
            srtp: self.srtp_keying_material(),
            peer_certificate: e.peer_cert.clone(),
        };
        self.phase = Phase::Connected;
        self.started_at = None;
        self.events
            .push_back(DtlsEvent::Connected(Box::new(connected)));
        for d in core::mem::take(&mut self.held) {
            self.stats.app_bytes_in += d.len() as u64;
            self.push_data_event(d);
        }
        while let Some(d) = self.queued.pop_front() {
            self.queued_bytes = self.queued_bytes.saturating_sub(d.len());
            if self.seal_to_out(&d).is_err() {
                break;
            }
        }
    }

    fn alert(&mut self, epoch: u16, plain: &[u8]) {
        let Some(alert) = Alert::parse(plain) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        // After the handshake, an unencrypted alert cannot be the peer's: ignore it.
        if epoch == 0 && matches!(self.phase, Phase::Connected | Phase::AwaitingFingerprint) {
            self.stats.dropped_unexpected += 1;
            return;
        }
        match (alert.level, alert.description) {
            (_, AlertDescription::CloseNotify) => {
                // RFC 5246 §7.2.1: answer with our own close_notify and close.
                self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
                self.close_with(CloseReason::PeerClosed);
            }
            (AlertLevel::Fatal, d) => {
                self.close_with(CloseReason::Failed(DtlsError::AlertReceived(d)));
            }
            (AlertLevel::Warning, _) => {}
        }
    }

    fn send_alert(&mut self, level: AlertLevel, description: AlertDescription) {
        let alert = Alert { level, description }.to_bytes();
        let epoch = if self.records.has_write_keys() {
            self.alert_epoch
        } else {
            0
        };
        let mut d = Vec::with_capacity(64);
        if seal_append(&mut self.records, &mut d, epoch, ContentType::Alert, &alert).is_some() {
            self.push_out(d);
        }
    }

    fn push_out(&mut self, d: Vec<u8>) {
        if self.out.len() < MAX_OUT_DATAGRAMS {
            self.out.push_back(d);
        }
    }

    fn fail_fatal(&mut self, f: Fatal) {
        tracing::debug!(alert = ?f.alert, reason = f.reason, "DTLS handshake failed");
        self.fail(
            DtlsError::HandshakeFailed {
                alert: f.alert,
                reason: f.reason,
            },
            Some(f.alert),
        );
    }

    fn fail(&mut self, error: DtlsError, alert: Option<AlertDescription>) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(a) = alert {
            self.send_alert(AlertLevel::Fatal, a);
        }
        self.close_with(CloseReason::Failed(error));
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.hs = Handshake::Dead;
        self.flight = None;
        self.retransmit_at = None;
        self.started_at = None;
        self.queued.clear();
        self.queued_bytes = 0;
        self.held.clear();
        self.early.clear();
        self.events.push_back(DtlsEvent::Closed(reason));
    }

    /// Sends close_notify (when connected) and closes. Idempotent.
    pub fn close(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase == Phase::Connected {
            self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        }
        self.close_with(CloseReason::Local);
    }

    /// Handles the deadline from [`poll_timeout`](Self::poll_timeout): retransmits the
    /// current flight with a doubled timeout, or gives the handshake up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(start) = self.started_at
            && now >= start + self.config.handshake_timeout
            && matches!(self.phase, Phase::Handshaking | Phase::AwaitingFingerprint)
        {
            self.fail(DtlsError::HandshakeTimeout, None);
            return;
        }
        if let Some(at) = self.retransmit_at
            && now >= at
        {
            self.stats.retransmits += 1;
            self.rto = (self.rto * 2).min(self.config.max_retransmit);
            self.transmit_flight(now);
            self.retransmit_at = Some(now + self.rto);
        }
    }

    /// The next deadline: a retransmission or the handshake timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let give_up = self.started_at.map(|s| s + self.config.handshake_timeout);
        crate::time::earliest(self.retransmit_at, give_up)
    }

    /// The next datagram to send, written into `buf` (which should hold the configured
    /// MTU; a datagram that does not fit is dropped). Returns its length.
    pub fn poll_datagram(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let d = self.out.pop_front()?;
            if let Some(dst) = buf.get_mut(..d.len()) {
                dst.copy_from_slice(&d);
                self.stats.datagrams_out += 1;
                return Some(d.len());
            }
        }
    }

    /// Current sizes of the endpoint's buffers and queues. Cheap: no allocation, one pass
    /// over each (bounded) queue to sum its bytes.
    pub fn diagnostics(&self) -> DtlsDiagnostics {
        let sum = |q: &mut dyn Iterator<Item = usize>| q.sum::<usize>();
        let queued_datagram_bytes = sum(&mut self.out.iter().map(Vec::len));
        let flight_bytes = self.flight.as_ref().map_or(0, |f| {
            f.items
                .iter()
                .map(|i| match i {
                    FlightItem::Handshake { body, .. } => body.len() + 12,
                    FlightItem::ChangeCipherSpec => 1,
                })
                .sum()
        });
        let early = sum(&mut self.early.iter().map(Vec::len));
        let held = sum(&mut self.held.iter().map(Vec::len));
        let event_bytes = sum(&mut self.events.iter().map(|e| match e {
            DtlsEvent::ApplicationData(d) => d.len(),
            DtlsEvent::Connected(c) => c.peer_certificate.len(),
            DtlsEvent::Closed(_) => 0,
        }));
        let reassembly_bytes = self.reasm.held_bytes();
        DtlsDiagnostics {
            reassembly_bytes,
            queued_datagrams: self.out.len(),
            queued_datagram_bytes,
            flight_bytes,
            queued_app_bytes: self.queued_bytes,
            early_records: self.early.len(),
            held_records: self.held.len(),
            events: self.events.len(),
            bytes: reassembly_bytes
                + queued_datagram_bytes
                + flight_bytes
                + self.queued_bytes
                + early
                + held
                + event_bytes
                + self.scratch.capacity(),
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// Sends application data: now when connected, or queued (up to `max_queued_bytes`)
    /// until the connection is confirmed.
    pub fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if data.len() > MAX_PLAINTEXT {
            return Err(DtlsError::TooLarge(data.len()));
        }
        match self.phase {
            Phase::Closed => Err(DtlsError::Closed),
            Phase::Connected => self.seal_to_out(data),
            _ => {
                if self.queued_bytes + data.len() > self.config.max_queued_bytes {
                    return Err(DtlsError::QueueFull);
                }
                self.queued_bytes += data.len();
                self.queued.push_back(data.to_vec());
                Ok(())
            }
        }
    }

    fn seal_to_out(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if self.out.len() >= MAX_OUT_DATAGRAMS {
            return Err(DtlsError::QueueFull);
        }
        let mut d = vec![0u8; data.len() + self.records.overhead(1)];
        let n = self.seal_application_data(data, &mut d)?;
        d.truncate(n);
        self.out.push_back(d);
        Ok(())
    }

    /// Seals application data as one record straight into `out` (the zero-copy path for
    /// a host that sends it at once); returns the datagram length. Connected only.
    pub fn seal_application_data(
        &mut self,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DtlsError> {
        match self.phase {
            Phase::Connected => {}
            Phase::Closed => return Err(DtlsError::Closed),
            _ => return Err(DtlsError::NotConnected),
        }
        if data.len() > MAX_PLAINTEXT {
            return Err(DtlsError::TooLarge(data.len()));
        }
        let need = data.len() + self.records.overhead(1);
        if out.len() < need {
            return Err(DtlsError::TooLarge(need));
        }
        let n = self
            .records
            .seal(1, ContentType::ApplicationData, data, out)
            .ok_or(DtlsError::SequenceExhausted)?;
        self.stats.app_bytes_out += data.len() as u64;
        Ok(n)
    }

    /// RFC 5705 keying material exporter (connected only).
    pub fn export_keying_material(
        &self,
        label: &[u8],
        context: Option<&[u8]>,
        len: usize,
    ) -> Result<Vec<u8>, DtlsError> {
        match (&self.hs, self.phase) {
            (Handshake::Established(e), Phase::Connected) => Ok(e.export(label, context, len)),
            _ => Err(DtlsError::NotConnected),
        }
    }

    /// The SRTP keys (RFC 5764 §4.2, label `EXTRACTOR-dtls_srtp`), once connected with
    /// `use_srtp` negotiated.
    pub fn srtp_keying_material(&self) -> Option<SrtpKeyingMaterial> {
        let Handshake::Established(e) = &self.hs else {
            return None;
        };
        let profile = e.srtp?;
        let (k, s) = (profile.key_len(), profile.salt_len());
        let m = e.export(b"EXTRACTOR-dtls_srtp", None, 2 * (k + s));
        let (ck, rest) = m.split_at(k);
        let (sk, rest) = rest.split_at(k);
        let (cs, ss) = rest.split_at(s);
        Some(SrtpKeyingMaterial {
            profile,
            client_key: ck.to_vec(),
            client_salt: cs.to_vec(),
            server_key: sk.to_vec(),
            server_salt: ss.to_vec(),
        })
    }

    /// Seals any record (tests forge renegotiations and other oddities with it).
    #[cfg(test)]
    pub(crate) fn seal_raw(
        &mut self,
        epoch: u16,
        ty: ContentType,
        plain: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        self.records.seal(epoch, ty, plain, out)
    }

    /// The peer's certificate (DER) once the handshake has received it.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        match &self.hs {
            Handshake::Established(e) => Some(&e.peer_cert),
            _ => None,
        }
    }
}
