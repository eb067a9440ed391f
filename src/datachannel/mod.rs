//! WebRTC data channels (RFC 8831) over an SCTP [`Association`], opened in-band with
//! DCEP (RFC 8832) or pre-negotiated, closed by stream reset.
//!
//! [`DataChannels`] owns the association and keeps its sans-IO verbs: SCTP packets in
//! and out (the peer connection carries them in DTLS), events, and deadlines.
//!
//! ```
//! use sansrtc::datachannel::{ChannelConfig, DataChannelEvent, DataChannels, DataChannelsConfig};
//! use sansrtc::dtls::DtlsRole;
//! use sansrtc::sctp::SctpConfig;
//! use sansrtc::{Instant, RngSource};
//!
//! let now = Instant::ZERO;
//! let cfg = |role, seed| DataChannelsConfig { role, sctp: SctpConfig { rng: RngSource::Seeded(seed), ..SctpConfig::default() }, ..DataChannelsConfig::default() };
//! let mut a = DataChannels::new(cfg(DtlsRole::Client, 1), now);
//! let mut b = DataChannels::new(cfg(DtlsRole::Server, 2), now);
//! a.connect(now);
//! b.connect(now);
//! let id = a.create_channel(ChannelConfig { label: "chat".into(), ..ChannelConfig::default() }).unwrap();
//! a.channel(id).unwrap().send_text("hi").unwrap();
//! let mut buf = [0u8; 1200];
//! let mut got = Vec::new();
//! for _ in 0..10 {
//!     while let Some(n) = a.poll_transmit(now, &mut buf) { b.handle_receive(now, &buf[..n]); }
//!     while let Some(n) = b.poll_transmit(now, &mut buf) { a.handle_receive(now, &buf[..n]); }
//!     while let Some(e) = b.poll_event() { got.push(e); }
//! }
//! assert!(matches!(&got[..], [
//!     DataChannelEvent::Connected,
//!     DataChannelEvent::Opened { label, remote: true, .. },
//!     DataChannelEvent::Message { binary: false, data, .. },
//! ] if label == "chat" && data == b"hi"), "{got:?}");
//! ```

pub mod dcep;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use dcep::ChannelReliability;
use dcep::{Open, ppid};

use crate::dtls::DtlsRole;
use crate::sctp::{
    Association, CloseReason, Reliability, SctpConfig, SctpError, SctpEvent, SendOptions,
};
use crate::time::{Duration, Instant};

/// Configuration of the data channel layer.
#[derive(Debug, Clone)]
pub struct DataChannelsConfig {
    /// Our DTLS role: the client uses even stream ids, the server odd (RFC 8832 §6).
    pub role: DtlsRole,
    /// Most channels at once. Default 1024.
    pub max_channels: usize,
    /// The association's configuration.
    pub sctp: SctpConfig,
}

impl Default for DataChannelsConfig {
    fn default() -> Self {
        DataChannelsConfig {
            role: DtlsRole::Client,
            max_channels: 1024,
            sctp: SctpConfig::default(),
        }
    }
}

/// Options of a channel (the W3C `RTCDataChannelInit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The label.
    pub label: String,
    /// The subprotocol.
    pub protocol: String,
    /// Ordered delivery. Default `true`.
    pub ordered: bool,
    /// Reliability. Default reliable.
    pub reliability: ChannelReliability,
    /// Priority (RFC 8831 §6.4). Default 256 (normal).
    pub priority: u16,
    /// Pre-negotiated on this stream id: no DCEP, both sides create it themselves.
    pub negotiated: Option<u16>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            label: String::new(),
            protocol: String::new(),
            ordered: true,
            reliability: ChannelReliability::Reliable,
            priority: 256,
            negotiated: None,
        }
    }
}

/// A channel's identifier: its SCTP stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u16);

/// The life of a channel (W3C `RTCDataChannelState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Waiting for the association or the peer's DATA_CHANNEL_ACK.
    Connecting,
    /// Open.
    Open,
    /// Being closed (stream reset in progress).
    Closing,
    /// Closed.
    Closed,
}

/// Data channel errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataChannelError {
    /// No such channel (or it is closed).
    #[error("no channel {0:?}")]
    NoChannel(ChannelId),
    /// The channel is closing or closed.
    #[error("channel closed")]
    Closed,
    /// `max_channels` reached, or no stream id of our parity is free.
    #[error("too many channels")]
    TooManyChannels,
    /// A pre-negotiated id is already in use.
    #[error("stream id {0} in use")]
    IdInUse(u16),
    /// Label or protocol over 65535 bytes.
    #[error("label or protocol too long")]
    TooLong,
    /// From the association (message too big, buffer full, ...).
    #[error(transparent)]
    Sctp(#[from] SctpError),
}

/// Something the host should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataChannelEvent {
    /// The SCTP association is up.
    Connected,
    /// A channel opened: one we created (the peer acknowledged it, or it is
    /// pre-negotiated and the association is up), or one the peer opened.
    Opened {
        /// Its id.
        id: ChannelId,
        /// Label.
        label: String,
        /// Subprotocol.
        protocol: String,
        /// Whether the peer opened it.
        remote: bool,
    },
    /// A message.
    Message {
        /// The channel.
        id: ChannelId,
        /// `true` for binary, `false` for a string (UTF-8 is the sender's promise).
        binary: bool,
        /// The payload.
        data: Vec<u8>,
    },
    /// The channel's buffered amount fell to its low threshold.
    BufferedAmountLow(ChannelId),
    /// The channel closed (both directions reset); its id may be reused.
    Closed(ChannelId),
    /// The association ended; every channel is closed.
    Disconnected(CloseReason),
}

#[derive(Debug)]
struct Channel {
    config: ChannelConfig,
    state: ChannelState,
    /// We sent the OPEN and wait for the ACK: send ordered until then (RFC 8832 §6).
    awaiting_ack: bool,
    /// `Opened` was reported for it: only then are its messages delivered.
    announced: bool,
    remote: bool,
    incoming_reset: bool,
    outgoing_reset: bool,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataChannelStats {
    /// Channels opened (both sides).
    pub channels_opened: u64,
    /// Channels closed.
    pub channels_closed: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Messages on streams with no open channel, or malformed DCEP: dropped.
    pub dropped: u64,
}

/// Data channels over one association. See the [module docs](self).
pub struct DataChannels {
    assoc: Association,
    role: DtlsRole,
    max_channels: usize,
    channels: BTreeMap<u16, Channel>,
    events: std::collections::VecDeque<DataChannelEvent>,
    next_id: u16,
    connected: bool,
    stats: DataChannelStats,
}

impl core::fmt::Debug for DataChannels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataChannels")
            .field("channels", &self.channels.len())
            .field("assoc", &self.assoc)
            .finish()
    }
}

impl DataChannels {
    /// A new layer with a CLOSED association.
    pub fn new(config: DataChannelsConfig, now: Instant) -> Self {
        DataChannels {
            assoc: Association::new(config.sctp, now),
            role: config.role,
            max_channels: config.max_channels,
            channels: BTreeMap::new(),
            events: std::collections::VecDeque::new(),
            next_id: match config.role {
                DtlsRole::Client => 0,
                DtlsRole::Server => 1,
            },
            connected: false,
            stats: DataChannelStats::default(),
        }
    }

    /// Channels with state (open, opening or closing): at most `max_channels`.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Events waiting for `poll_event` (channel events only; messages stay in the
    /// association until asked for).
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// Starts the association (WebRTC peers both do, once DTLS is up).
    pub fn connect(&mut self, now: Instant) {
        self.assoc.connect(now);
    }

    /// The association (stats, limits).
    pub fn association(&self) -> &Association {
        &self.assoc
    }

    /// The association, for what this layer does not wrap (the peer's max message size).
    pub fn association_mut(&mut self) -> &mut Association {
        &mut self.assoc
    }

    /// Counters.
    pub fn stats(&self) -> &DataChannelStats {
        &self.stats
    }

    /// Channels that are not closed.
    pub fn channel_ids(&self) -> impl Iterator<Item = ChannelId> + '_ {
        self.channels.keys().map(|k| ChannelId(*k))
    }

    fn parity_ok(&self, id: u16) -> bool {
        match self.role {
            DtlsRole::Client => id.is_multiple_of(2),
            DtlsRole::Server => !id.is_multiple_of(2),
        }
    }

    fn free_id(&mut self) -> Option<u16> {
        // Stream 65535 is never valid (65535 streams are announced: 0..=65534).
        for _ in 0..32768 {
            let id = self.next_id;
            self.next_id = if id >= 65532 { id % 2 } else { id + 2 };
            if !self.channels.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Creates a channel. In-band channels send DATA_CHANNEL_OPEN (queued until the
    /// association is up) and open when the peer acknowledges; pre-negotiated ones open
    /// with the association.
    pub fn create_channel(&mut self, config: ChannelConfig) -> Result<ChannelId, DataChannelError> {
        if self.channels.len() >= self.max_channels {
            return Err(DataChannelError::TooManyChannels);
        }
        if config.label.len() > 65535 || config.protocol.len() > 65535 {
            return Err(DataChannelError::TooLong);
        }
        let id = match config.negotiated {
            Some(id) => {
                if self.channels.contains_key(&id) || id == u16::MAX {
                    return Err(DataChannelError::IdInUse(id));
                }
                id
            }
            None => self.free_id().ok_or(DataChannelError::TooManyChannels)?,
        };
        let negotiated = config.negotiated.is_some();
        if !negotiated {
            let open = Open {
                ordered: config.ordered,
                reliability: config.reliability,
                priority: config.priority,
                label: config.label.clone(),
                protocol: config.protocol.clone(),
            };
            self.assoc.send_control(id, ppid::DCEP, open.encode())?;
        }
        let state = if negotiated && self.connected {
            ChannelState::Open
        } else {
            ChannelState::Connecting
        };
        if state == ChannelState::Open {
            self.opened(id, &config, false);
        }
        self.channels.insert(
            id,
            Channel {
                config,
                state,
                awaiting_ack: !negotiated,
                announced: state == ChannelState::Open,
                remote: false,
                incoming_reset: false,
                outgoing_reset: false,
            },
        );
        Ok(ChannelId(id))
    }

    fn opened(&mut self, id: u16, config: &ChannelConfig, remote: bool) {
        self.stats.channels_opened += 1;
        self.events.push_back(DataChannelEvent::Opened {
            id: ChannelId(id),
            label: config.label.clone(),
            protocol: config.protocol.clone(),
            remote,
        });
    }

    /// A handle on a channel, for sending and closing.
    pub fn channel(&mut self, id: ChannelId) -> Option<ChannelHandle<'_>> {
        if self.channels.contains_key(&id.0) {
            Some(ChannelHandle { dc: self, id })
        } else {
            None
        }
    }

    /// A channel's state (`Closed` for unknown ids).
    pub fn state(&self, id: ChannelId) -> ChannelState {
        self.channels
            .get(&id.0)
            .map_or(ChannelState::Closed, |c| c.state)
    }

    /// A channel's configuration (label, protocol, reliability ...).
    pub fn config(&self, id: ChannelId) -> Option<&ChannelConfig> {
        self.channels.get(&id.0).map(|c| &c.config)
    }

    fn send(&mut self, id: ChannelId, data: &[u8], binary: bool) -> Result<(), DataChannelError> {
        let c = self
            .channels
            .get(&id.0)
            .ok_or(DataChannelError::NoChannel(id))?;
        if matches!(c.state, ChannelState::Closing | ChannelState::Closed) {
            return Err(DataChannelError::Closed);
        }
        let reliability = match c.config.reliability {
            ChannelReliability::Reliable => Reliability::Reliable,
            ChannelReliability::MaxRetransmits(n) => Reliability::MaxRetransmits(n),
            ChannelReliability::MaxLifetimeMs(ms) => {
                Reliability::Lifetime(Duration::from_millis(u64::from(ms)))
            }
        };
        let opts = SendOptions {
            // Until the ACK, everything goes ordered (RFC 8832 §6).
            unordered: !c.config.ordered && !c.awaiting_ack,
            reliability,
        };
        // SCTP cannot carry an empty message: the Empty PPIDs carry one byte (RFC 8831 §6.6).
        let (p, payload): (u32, &[u8]) = match (binary, data.is_empty()) {
            (true, false) => (ppid::BINARY, data),
            (false, false) => (ppid::STRING, data),
            (true, true) => (ppid::BINARY_EMPTY, &[0]),
            (false, true) => (ppid::STRING_EMPTY, &[0]),
        };
        self.assoc.send(id.0, p, payload, opts)?;
        self.stats.messages_out += 1;
        Ok(())
    }

    fn close_channel(&mut self, id: ChannelId) -> Result<(), DataChannelError> {
        let c = self
            .channels
            .get_mut(&id.0)
            .ok_or(DataChannelError::NoChannel(id))?;
        if matches!(c.state, ChannelState::Closing | ChannelState::Closed) {
            return Ok(());
        }
        c.state = ChannelState::Closing;
        // RFC 8831 §6.7: reset our outgoing stream; the peer resets its own in answer.
        match self.assoc.reset_stream(id.0) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.finish_close(id.0);
                Ok(())
            }
        }
    }

    fn finish_close(&mut self, id: u16) {
        if self.channels.remove(&id).is_some() {
            self.stats.channels_closed += 1;
            self.events
                .push_back(DataChannelEvent::Closed(ChannelId(id)));
        }
    }

    /// Handles one SCTP packet.
    pub fn handle_receive(&mut self, now: Instant, packet: &[u8]) {
        self.assoc.handle_receive(now, packet);
    }

    /// Runs the association's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
    }

    /// The next SCTP packet to send.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.assoc.poll_transmit(now, buf)
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }

    /// The next event. The association's events are taken one at a time, as they are
    /// asked for: received data not yet taken keeps counting against the receive window,
    /// which is how a host that stops polling slows the peer down.
    pub fn poll_event(&mut self) -> Option<DataChannelEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let e = self.assoc.poll_event()?;
            self.process(e);
        }
    }

    fn process(&mut self, e: SctpEvent) {
        {
            match e {
                SctpEvent::Connected => self.on_connected(),
                SctpEvent::Message { stream, ppid, data } => self.on_message(stream, ppid, data),
                SctpEvent::IncomingStreamReset { stream } => self.on_incoming_reset(stream),
                SctpEvent::OutgoingStreamReset { stream } => self.on_outgoing_reset(stream),
                SctpEvent::BufferedAmountLow { stream } => {
                    if self.channels.contains_key(&stream) {
                        self.events
                            .push_back(DataChannelEvent::BufferedAmountLow(ChannelId(stream)));
                    }
                }
                SctpEvent::Closed(reason) => {
                    let ids: Vec<u16> = self.channels.keys().copied().collect();
                    for id in ids {
                        self.finish_close(id);
                    }
                    self.events
                        .push_back(DataChannelEvent::Disconnected(reason));
                }
            }
        }
    }

    fn on_connected(&mut self) {
        self.connected = true;
        self.events.push_back(DataChannelEvent::Connected);
        let ready: Vec<u16> = self
            .channels
            .iter()
            .filter(|(_, c)| c.config.negotiated.is_some() && c.state == ChannelState::Connecting)
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            if let Some(c) = self.channels.get_mut(&id) {
                c.state = ChannelState::Open;
                c.announced = true;
                let cfg = c.config.clone();
                self.opened(id, &cfg, false);
            }
        }
    }

    fn on_message(&mut self, stream: u16, p: u32, data: Vec<u8>) {
        if p == ppid::DCEP {
            self.on_dcep(stream, &data);
            return;
        }
        let (binary, data) = match p {
            ppid::STRING | ppid::STRING_PARTIAL => (false, data),
            ppid::BINARY | ppid::BINARY_PARTIAL => (true, data),
            ppid::STRING_EMPTY => (false, Vec::new()),
            ppid::BINARY_EMPTY => (true, Vec::new()),
            _ => {
                self.stats.dropped += 1;
                return;
            }
        };
        let Some(c) = self.channels.get_mut(&stream) else {
            self.stats.dropped += 1;
            return;
        };
        let mut implicit_ack = None;
        if c.state == ChannelState::Connecting {
            c.state = ChannelState::Open;
            if !c.remote {
                // Our channel, its ACK not seen yet: any message proves the peer got our
                // OPEN (RFC 8832 §6), so the channel is open, and says so before the
                // message is delivered.
                implicit_ack = Some(c.config.clone());
                c.announced = true;
            }
        }
        c.awaiting_ack = false;
        if !c.announced {
            // A channel closed before it ever opened: nothing to deliver on.
            self.stats.dropped += 1;
            return;
        }
        if let Some(cfg) = implicit_ack {
            self.opened(stream, &cfg, false);
        }
        self.stats.messages_in += 1;
        self.events.push_back(DataChannelEvent::Message {
            id: ChannelId(stream),
            binary,
            data,
        });
    }

    fn on_dcep(&mut self, stream: u16, data: &[u8]) {
        if dcep::is_ack(data) {
            if let Some(c) = self.channels.get_mut(&stream)
                && c.awaiting_ack
            {
                c.awaiting_ack = false;
                if c.state == ChannelState::Connecting {
                    c.state = ChannelState::Open;
                    c.announced = true;
                    let cfg = c.config.clone();
                    self.opened(stream, &cfg, false);
                }
            }
            return;
        }
        let Ok(open) = Open::parse(data) else {
            self.stats.dropped += 1;
            return;
        };
        // The peer must use its own parity, on a free stream, within our limit.
        if self.parity_ok(stream)
            || self.channels.contains_key(&stream)
            || self.channels.len() >= self.max_channels
        {
            self.stats.dropped += 1;
            return;
        }
        let config = ChannelConfig {
            label: open.label,
            protocol: open.protocol,
            ordered: open.ordered,
            reliability: open.reliability,
            priority: open.priority,
            negotiated: None,
        };
        if self
            .assoc
            .send_control(stream, ppid::DCEP, vec![dcep::MSG_ACK])
            .is_err()
        {
            self.stats.dropped += 1;
            return;
        }
        self.opened(stream, &config, true);
        self.channels.insert(
            stream,
            Channel {
                config,
                state: ChannelState::Open,
                awaiting_ack: false,
                announced: true,
                remote: true,
                incoming_reset: false,
                outgoing_reset: false,
            },
        );
    }

    fn on_incoming_reset(&mut self, stream: u16) {
        let Some(c) = self.channels.get_mut(&stream) else {
            return;
        };
        c.incoming_reset = true;
        if c.state != ChannelState::Closing {
            // The peer closed: close our side too (RFC 8831 §6.7).
            c.state = ChannelState::Closing;
            if self.assoc.reset_stream(stream).is_err() {
                self.finish_close(stream);
                return;
            }
        }
        self.maybe_closed(stream);
    }

    fn on_outgoing_reset(&mut self, stream: u16) {
        if let Some(c) = self.channels.get_mut(&stream) {
            c.outgoing_reset = true;
        }
        self.maybe_closed(stream);
    }

    fn maybe_closed(&mut self, stream: u16) {
        if self
            .channels
            .get(&stream)
            .is_some_and(|c| c.incoming_reset && c.outgoing_reset)
        {
            self.finish_close(stream);
        }
    }
}

/// A channel, borrowed from its [`DataChannels`].
#[derive(Debug)]
pub struct ChannelHandle<'a> {
    dc: &'a mut DataChannels,
    id: ChannelId,
}

impl ChannelHandle<'_> {
    /// The id.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The state.
    pub fn state(&self) -> ChannelState {
        self.dc.state(self.id)
    }

    /// The label.
    pub fn label(&self) -> &str {
        self.dc.config(self.id).map_or("", |c| c.label.as_str())
    }

    /// The subprotocol.
    pub fn protocol(&self) -> &str {
        self.dc.config(self.id).map_or("", |c| c.protocol.as_str())
    }

    /// Sends a string message (PPID 51, or 56 when empty).
    pub fn send_text(&mut self, text: &str) -> Result<(), DataChannelError> {
        self.dc.send(self.id, text.as_bytes(), false)
    }

    /// Sends a binary message (PPID 53, or 57 when empty).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), DataChannelError> {
        self.dc.send(self.id, data, true)
    }

    /// Bytes queued and not yet sent (the W3C `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.dc.assoc.buffered_amount(self.id.0)
    }

    /// Sets the threshold below which [`DataChannelEvent::BufferedAmountLow`] fires.
    pub fn set_buffered_amount_low_threshold(&mut self, bytes: usize) {
        self.dc
            .assoc
            .set_buffered_amount_low_threshold(self.id.0, bytes);
    }

    /// Closes the channel: queued messages are sent first, then the stream is reset;
    /// [`DataChannelEvent::Closed`] follows once the peer reset its side.
    pub fn close(&mut self) -> Result<(), DataChannelError> {
        self.dc.close_channel(self.id)
    }
}
