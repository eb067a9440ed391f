//! Datagrams in and out: the RFC 7983 demultiplexer, the layers' outputs in priority
//! order (ICE, DTLS handshake, SCTP in DTLS records), timers, and events between layers.

use super::*;
use crate::datachannel::DataChannelEvent;
use crate::dtls::{CloseReason as DtlsClose, DtlsEvent};
use crate::ice::IceEvent;
use crate::net::{DatagramKind, Receive, Transmit, demux};

/// Room for one datagram unwrapped from a TURN stream (the largest ChannelData).
const TURN_RX_BUFFER: usize = 65_536;
use crate::sctp::CloseReason as SctpClose;

impl Rtc {
    /// Handles a datagram the host received on one of our candidates' sockets, or bytes
    /// read from a TCP connection to a TURN server (`proto: Tcp`, see
    /// [`crate::ice::turn`]).
    pub fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.last_now = now;
        if self.closed {
            return;
        }
        self.stats.bytes_in += rx.contents.len() as u64;
        if self.ice.is_from_turn_server(&rx) {
            // RFC 8656: relayed data comes back wrapped (ChannelData, Data indications);
            // unwrapped, it is handled as if the peer sent it to our relayed address.
            if let Some(inner) = self.ice.handle_turn_receive(now, rx) {
                self.receive_datagram(now, inner);
            }
            let mut buf = core::mem::take(&mut self.turn_rx);
            if buf.is_empty() {
                buf = vec![0u8; TURN_RX_BUFFER];
            }
            while let Some(d) = self.ice.poll_relayed(now, &mut buf) {
                let contents = buf.get(..d.size).unwrap_or_default();
                self.receive_datagram(
                    now,
                    Receive {
                        proto: crate::net::Protocol::Udp,
                        source: d.source,
                        destination: d.destination,
                        contents,
                    },
                );
            }
            self.turn_rx = buf;
        } else {
            self.receive_datagram(now, rx);
        }
        self.drive(now);
    }

    /// The host's TCP connection to a TURN server (`turn:...?transport=tcp` or
    /// `turns:`) closed or failed: its allocation is lost, reported as
    /// [`RtcEvent::TurnError`].
    pub fn handle_turn_stream_closed(&mut self, now: Instant, server: core::net::SocketAddr) {
        self.last_now = now;
        self.ice.handle_turn_stream_closed(now, server);
        self.drive(now);
    }

    /// One datagram from the peer (straight, or unwrapped from a TURN relay).
    fn receive_datagram(&mut self, now: Instant, rx: Receive<'_>) {
        let kind = demux(rx.contents);
        let slot = match kind {
            DatagramKind::Stun => 0,
            DatagramKind::Dtls => 1,
            DatagramKind::Rtp => 2,
            _ => 3,
        };
        if let Some(n) = self.stats.datagrams_in.get_mut(slot) {
            *n += 1;
        }
        if matches!(kind, DatagramKind::Dtls | DatagramKind::Rtp)
            && !self.is_peer_address(rx.source)
        {
            // Only STUN may come from anywhere (it authenticates itself). DTLS and SRTP
            // come from the peer's candidates: signalled ones, or peer-reflexive ones
            // learned from its authenticated checks (RFC 8445 §7.3.1.3). A stranger's
            // datagram costs no crypto and reaches no state.
            self.stats.dropped_unknown_source += 1;
            return;
        }
        match kind {
            DatagramKind::Stun => {
                self.ice.handle_receive(now, rx);
            }
            DatagramKind::Dtls => {
                // DTLS is authenticated end to end; ICE decides where we send, not what
                // we accept. Application data goes straight into SCTP.
                if let (Some(dtls), Some(dc)) = (self.dtls.as_mut(), self.dc.as_mut()) {
                    dtls.handle_receive_with(now, rx.contents, &mut |plain| {
                        dc.handle_receive(now, plain)
                    });
                }
            }
            DatagramKind::Rtp => self.handle_srtp(now, rx.contents),
            _ => {}
        }
    }

    /// Whether `source` is one of the peer's addresses: the selected pair's remote (also
    /// the previous generation's during an ICE restart) or a remote candidate.
    fn is_peer_address(&self, source: core::net::SocketAddr) -> bool {
        self.ice.selected_pair().is_some_and(|p| p.remote == source)
            || self.ice.remote_candidates().any(|c| c.addr == source)
    }

    /// Runs every layer's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        if self.closed {
            return;
        }
        self.ice.handle_timeout(now);
        if let Some(d) = self.dtls.as_mut() {
            d.handle_timeout(now);
        }
        if let Some(dc) = self.dc.as_mut() {
            dc.handle_timeout(now);
        }
        self.media_timeout(now);
        self.drive(now);
    }

    /// The next deadline of any layer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut t = self.ice.poll_timeout();
        if let Some(d) = &self.dtls {
            t = crate::time::earliest(t, d.poll_timeout());
        }
        if let Some(dc) = &self.dc {
            t = crate::time::earliest(t, dc.poll_timeout());
        }
        crate::time::earliest(t, self.media_poll_timeout())
    }

    /// The next event. Channel events are taken from the data channel layer as they are
    /// asked for, so data the host has not taken yet keeps counting against the SCTP
    /// receive window (a host that stops polling slows the peer down, bounded memory).
    pub fn poll_event(&mut self) -> Option<RtcEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.closed {
                return None;
            }
            let e = self.dc.as_mut()?.poll_event()?;
            self.channel_event(e);
        }
    }

    /// The next datagram, written into `buf`: at least `datagram_size` bytes, and with
    /// media, at least [`MediaConfig::max_rtp_size`] + 16 (forwarded RTP keeps its
    /// sender's size), plus 51 on a relayed pair (a TURN Send indication header and
    /// padding). 2048 bytes always do with the defaults.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.last_now = now;
        let t = match self.final_out.pop_front() {
            Some((mut t, d)) => match self.ice.relay_overhead(t.source, t.destination) {
                Some((head, _)) => {
                    buf.get_mut(head..head + d.len())?.copy_from_slice(&d);
                    self.ice
                        .wrap_relayed(t.source, t.destination, buf, head, d.len())
                }
                None => {
                    let dst = buf.get_mut(..d.len())?;
                    dst.copy_from_slice(&d);
                    t.size = d.len();
                    Some(t)
                }
            },
            None => self.next_transmit(now, buf),
        };
        if let Some(t) = &t {
            self.stats.datagrams_out += 1;
            self.stats.bytes_out += t.size as u64;
        }
        t
    }

    fn next_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(t) = self.ice.poll_transmit(now, buf) {
            return Some(t);
        }
        if self.closed {
            return None;
        }
        let pair = self.ice.selected_pair()?;
        // A datagram that cannot be relayed right now is dropped (and counted by the
        // TURN client); the next one is tried, a bounded number of times.
        for _ in 0..8 {
            // On a relayed pair, the datagram is written after room for the TURN header
            // and wrapped in place (RFC 8656 §12.4 ChannelData, §11.1 Send indication).
            let relay = self.ice.relay_overhead(pair.local, pair.remote);
            let (head, tail) = relay.unwrap_or((0, 0));
            let end = buf.len().checked_sub(tail)?;
            let n = self.next_datagram(now, buf.get_mut(head..end)?)?;
            if relay.is_none() {
                return Some(Transmit {
                    proto: pair.proto,
                    source: pair.local,
                    destination: pair.remote,
                    size: n,
                });
            }
            if let Some(t) = self.ice.wrap_relayed(pair.local, pair.remote, buf, head, n) {
                return Some(t);
            }
        }
        None
    }

    /// The next datagram for the selected pair (DTLS handshake, media, SCTP), written at
    /// the start of `buf`; its length.
    fn next_datagram(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let dtls = self.dtls.as_mut()?;
        if let Some(n) = dtls.poll_datagram(buf) {
            self.ice.note_sent(now);
            return Some(n);
        }
        if !dtls.is_connected() {
            return None;
        }
        // Media before data: SCTP has its own congestion control and can wait.
        if let Some(n) = self.pop_media(buf) {
            self.ice.note_sent(now);
            return Some(n);
        }
        let dtls = self.dtls.as_mut()?;
        let dc = self.dc.as_mut()?;
        let max = self.config.datagram_size.min(buf.len());
        let plain_room = max.saturating_sub(DTLS_OVERHEAD);
        let n = dc.poll_transmit(now, self.scratch.get_mut(..plain_room)?)?;
        let packet = self.scratch.get(..n)?;
        match dtls.seal_application_data(packet, buf) {
            Ok(size) => {
                self.ice.note_sent(now);
                Some(size)
            }
            Err(e) => {
                tracing::debug!(?e, "could not seal an SCTP packet");
                None
            }
        }
    }

    /// Moves the layers on after any input: starts DTLS when ICE has a pair, SCTP when
    /// DTLS is up, and turns the layers' events into ours.
    pub(super) fn drive(&mut self, now: Instant) {
        while let Some(e) = self.ice.poll_event() {
            match e {
                IceEvent::StateChanged(s) => {
                    self.ice_state = s;
                    self.events.push_back(RtcEvent::IceStateChange(s));
                    match s {
                        IceConnectionState::Failed => {
                            self.finish(RtcCloseReason::IceFailed);
                            return;
                        }
                        IceConnectionState::Disconnected => self.set_state(RtcState::Disconnected),
                        IceConnectionState::Connected | IceConnectionState::Completed
                            if self.dtls.as_ref().is_some_and(Dtls::is_connected) =>
                        {
                            self.set_state(RtcState::Connected);
                        }
                        _ => {}
                    }
                }
                IceEvent::SelectedPairChanged(p) => {
                    self.events.push_back(RtcEvent::SelectedPairChange(p));
                }
                IceEvent::LocalCandidate(c) => self.events.push_back(RtcEvent::LocalCandidate(c)),
                IceEvent::TurnError { url, error } => {
                    self.events.push_back(RtcEvent::TurnError { url, error });
                }
                IceEvent::GatheringComplete => self.events.push_back(RtcEvent::GatheringComplete),
                IceEvent::RoleChanged { .. } => {}
            }
        }
        if self.closed {
            return;
        }
        // DTLS starts once ICE has a pair to send on (the client speaks first).
        if !self.dtls_started
            && self.ice.selected_pair().is_some()
            && let Some(d) = self.dtls.as_mut()
        {
            self.dtls_started = true;
            d.start(now);
        }
        let mut dtls_events = Vec::new();
        if let Some(d) = self.dtls.as_mut() {
            while let Some(e) = d.poll_event() {
                dtls_events.push(e);
            }
        }
        for e in dtls_events {
            match e {
                DtlsEvent::Connected(c) => {
                    if let (Some(km), Some(n)) = (&c.srtp, self.negotiated.as_ref()) {
                        let role = n.role;
                        self.srtp_keys(km, role);
                        self.handle_early_srtp(now);
                    } else if self.media.iter().any(|t| !t.codecs.is_empty()) {
                        // Media without keys cannot flow: say so rather than connect.
                        if let Some(d) = self.dtls.as_mut() {
                            d.close();
                        }
                        self.finish(RtcCloseReason::NoSrtpProfile);
                        return;
                    }
                    if matches!(
                        self.ice_state,
                        IceConnectionState::Connected | IceConnectionState::Completed
                    ) {
                        self.set_state(RtcState::Connected);
                    }
                }
                DtlsEvent::ApplicationData(d) => {
                    // Data held back until the fingerprint was checked.
                    if let Some(dc) = self.dc.as_mut() {
                        dc.handle_receive(now, &d);
                    }
                }
                DtlsEvent::Closed(DtlsClose::PeerClosed) => {
                    self.finish(RtcCloseReason::Remote);
                    return;
                }
                DtlsEvent::Closed(DtlsClose::Local) => {}
                DtlsEvent::Closed(DtlsClose::Failed(e)) => {
                    self.finish(RtcCloseReason::Dtls(e));
                    return;
                }
            }
        }
        // Both ends start the association once DTLS is up (RFC 8841 §10.1); crossing
        // INITs resolve by RFC 9260 §5.2.1. A data channel m-line negotiated later
        // starts it then.
        if !self.sctp_started
            && self.dtls.as_ref().is_some_and(Dtls::is_connected)
            && let Some(dc) = self.dc.as_mut()
        {
            self.sctp_started = true;
            dc.connect(now);
        }
    }

    fn channel_event(&mut self, e: DataChannelEvent) {
        {
            match e {
                DataChannelEvent::Connected => {}
                DataChannelEvent::Opened {
                    id,
                    label,
                    protocol,
                    remote,
                } => {
                    let rid = match self.by_stream.get(&id.0) {
                        Some(r) => *r,
                        None => {
                            let r = ChannelId(self.next_channel);
                            self.next_channel += 1;
                            self.channels.insert(
                                r,
                                ChannelSlot {
                                    stream: Some(id.0),
                                    pending: None,
                                },
                            );
                            self.by_stream.insert(id.0, r);
                            r
                        }
                    };
                    self.events.push_back(RtcEvent::ChannelOpen {
                        id: rid,
                        label,
                        protocol,
                        remote,
                    });
                }
                DataChannelEvent::Message { id, binary, data } => {
                    if let Some(r) = self.by_stream.get(&id.0) {
                        self.events.push_back(RtcEvent::ChannelData {
                            id: *r,
                            binary,
                            data,
                        });
                    }
                }
                DataChannelEvent::BufferedAmountLow(id) => {
                    if let Some(r) = self.by_stream.get(&id.0) {
                        self.events
                            .push_back(RtcEvent::ChannelBufferedAmountLow(*r));
                    }
                }
                DataChannelEvent::Closed(id) => {
                    if let Some(r) = self.by_stream.remove(&id.0) {
                        self.channels.remove(&r);
                        self.events.push_back(RtcEvent::ChannelClose(r));
                    }
                }
                DataChannelEvent::Disconnected(reason) => {
                    let r = match reason {
                        SctpClose::Shutdown | SctpClose::LocalAbort => RtcCloseReason::Remote,
                        SctpClose::Error(SctpError::PeerAborted(_)) => RtcCloseReason::Remote,
                        SctpClose::Error(e) => RtcCloseReason::Sctp(e),
                    };
                    // The peer is gone: say goodbye on DTLS too.
                    if let Some(d) = self.dtls.as_mut() {
                        d.close();
                    }
                    self.finish(r);
                }
            }
        }
    }
}
