//! [`Rtc`]: the peer connection. It negotiates with SDP ([`crate::jsep`]), runs ICE,
//! DTLS and SCTP over one bundled transport, and gives data channels to the host
//! (W3C webrtc-pc semantics where they fit).
//!
//! ```
//! use sansrtc::rtc::{Rtc, RtcConfig, RtcEvent};
//! use sansrtc::datachannel::ChannelConfig;
//! use sansrtc::ice::Candidate;
//! use sansrtc::{Instant, Protocol, Receive, RngSource};
//!
//! let now = Instant::ZERO;
//! let cfg = |seed| RtcConfig { rng: RngSource::Seeded(seed), ..RtcConfig::default() };
//! let mut a = Rtc::new(cfg(1), now).unwrap();
//! let mut b = Rtc::new(cfg(2), now).unwrap();
//! let (addr_a, addr_b) = ("127.0.0.1:1000".parse().unwrap(), "127.0.0.1:2000".parse().unwrap());
//! a.add_local_candidate(Candidate::host(addr_a, Protocol::Udp)).unwrap();
//! b.add_local_candidate(Candidate::host(addr_b, Protocol::Udp)).unwrap();
//! let chan = a.create_data_channel(ChannelConfig { label: "chat".into(), ..ChannelConfig::default() }).unwrap();
//!
//! let offer = a.create_offer(now).unwrap();
//! let answer = b.accept_offer(now, &offer).unwrap();
//! a.accept_answer(now, &answer).unwrap();
//!
//! // A perfect network in memory.
//! let mut buf = vec![0u8; 2048];
//! let mut now = now;
//! let mut got = None;
//! for _ in 0..10_000 {
//!     let mut moved = false;
//!     while let Some(t) = a.poll_transmit(now, &mut buf) {
//!         b.handle_receive(now, Receive { proto: t.proto, source: t.source, destination: t.destination, contents: &buf[..t.size] });
//!         moved = true;
//!     }
//!     while let Some(t) = b.poll_transmit(now, &mut buf) {
//!         a.handle_receive(now, Receive { proto: t.proto, source: t.source, destination: t.destination, contents: &buf[..t.size] });
//!         moved = true;
//!     }
//!     while let Some(e) = a.poll_event() {
//!         if let RtcEvent::ChannelOpen { id, .. } = e { a.channel(id).unwrap().send_text("hello").unwrap(); }
//!     }
//!     while let Some(e) = b.poll_event() {
//!         if let RtcEvent::ChannelData { data, .. } = e { got = Some(data); }
//!     }
//!     if got.is_some() { break; }
//!     if !moved {
//!         now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
//!         a.handle_timeout(now);
//!         b.handle_timeout(now);
//!     }
//! }
//! assert_eq!(got, Some(b"hello".to_vec()));
//! # let _ = chan;
//! ```

mod diag;
mod frames;
mod io;
mod media;
mod negotiate;
mod rtcp_io;
mod rtp_io;
#[cfg(feature = "sim")]
mod sim_hooks;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_media;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

pub use diag::{
    DataChannelDiag, DtlsDiag, GAUGES, Gauge, IceDiag, MediaDiag, RtcDiagnostics, SctpDiag,
};
pub use frames::MediaFrame;
pub use media::{KeyframeKind, Media, MediaConfig, MediaId, MediaStats, RtpPacket, RtpWrite};

use crate::datachannel::{
    ChannelConfig, ChannelState, DataChannelError, DataChannelStats, DataChannels,
    DataChannelsConfig,
};
use crate::dtls::{Dtls, DtlsCertificate, DtlsConfig, DtlsError, DtlsRole, DtlsStats, Fingerprint};
use crate::ice::{
    Candidate, CandidateCounts, IceAgent, IceConfig, IceConnectionState, IceError, IceServer,
    IceStats, IceTransportPolicy, PairStats, SelectedPair, TurnError, TurnStats,
};
use crate::jsep::{JsepError, SignalingState};
use crate::rng::{Rng, RngSource};
use crate::sctp::{SctpConfig, SctpError, SctpStats};
use crate::time::Instant;

pub use crate::datachannel::ChannelReliability;

/// Peer connection configuration. Each layer has its own; `rng` overrides theirs so one
/// seed replays a whole connection.
#[derive(Debug, Clone)]
pub struct RtcConfig {
    /// ICE (the role and lite flag are decided by negotiation; STUN servers, timings and
    /// bounds are taken from here).
    pub ice: IceConfig,
    /// DTLS.
    pub dtls: DtlsConfig,
    /// SCTP (ports come from SDP; the packet size is derived from `datagram_size`).
    pub sctp: SctpConfig,
    /// Our certificate; one is generated when `None`.
    pub certificate: Option<DtlsCertificate>,
    /// Largest UDP payload sent. Default 1200.
    pub datagram_size: usize,
    /// Most data channels at once. Default 1024.
    pub max_channels: usize,
    /// Act as an ICE-lite agent (servers with a public address). Default `false`.
    pub ice_lite: bool,
    /// ICE servers (W3C `iceServers`): `stun:`, `turn:` and `turns:` URLs with
    /// credentials, added to `ice.ice_servers`. Default empty.
    pub ice_servers: Vec<IceServer>,
    /// W3C `iceTransportPolicy`: `Relay` uses and signals only relayed (TURN) candidates.
    /// `Relay` here or in `ice.transport_policy` wins. Default `All`.
    pub ice_transport_policy: IceTransportPolicy,
    /// Audio and video: codecs, header extensions, bounds, RTCP timing.
    pub media: MediaConfig,
    /// Randomness for everything.
    pub rng: RngSource,
}

impl Default for RtcConfig {
    fn default() -> Self {
        RtcConfig {
            ice: IceConfig::default(),
            dtls: DtlsConfig::default(),
            sctp: SctpConfig::default(),
            certificate: None,
            datagram_size: 1200,
            max_channels: 1024,
            ice_lite: false,
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            media: MediaConfig::default(),
            rng: RngSource::Secure,
        }
    }
}

/// A data channel's handle in an [`Rtc`]: stable from creation, before the stream id
/// is known (it is assigned once the DTLS role is negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// The peer connection's state (W3C `RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcState {
    /// Not negotiated yet.
    New,
    /// ICE or DTLS in progress.
    Connecting,
    /// ICE and DTLS up.
    Connected,
    /// ICE lost consent for a while; may recover.
    Disconnected,
    /// ICE or DTLS failed.
    Failed,
    /// Closed.
    Closed,
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcCloseReason {
    /// [`Rtc::close`] was called.
    Local,
    /// The peer closed DTLS (close_notify) or aborted the association.
    Remote,
    /// ICE failed (no pair, or consent lost).
    IceFailed,
    /// DTLS failed (fingerprint mismatch, handshake timeout, fatal alert).
    Dtls(DtlsError),
    /// The SCTP association failed.
    Sctp(SctpError),
    /// Audio or video was negotiated but DTLS agreed no SRTP protection profile (RFC 5764
    /// §4.1.1: the peers have none in common).
    NoSrtpProfile,
}

/// Something the host should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcEvent {
    /// The ICE connection state changed.
    IceStateChange(IceConnectionState),
    /// The peer connection state changed.
    StateChange(RtcState),
    /// A local candidate learned by the agent (server-reflexive or relayed): signal it
    /// (trickle).
    LocalCandidate(Candidate),
    /// A TURN server failed: wrong credentials, quota, unreachable, allocation lost.
    TurnError {
        /// The server's URL.
        url: String,
        /// What went wrong.
        error: TurnError,
    },
    /// Local gathering finished: signal end-of-candidates.
    GatheringComplete,
    /// Application data now flows over this pair.
    SelectedPairChange(SelectedPair),
    /// A channel opened (ours acknowledged, or the peer's announced).
    ChannelOpen {
        /// Its handle.
        id: ChannelId,
        /// Label.
        label: String,
        /// Subprotocol.
        protocol: String,
        /// Whether the peer opened it.
        remote: bool,
    },
    /// A message on a channel.
    ChannelData {
        /// The channel.
        id: ChannelId,
        /// Binary (`true`) or string.
        binary: bool,
        /// The payload.
        data: Vec<u8>,
    },
    /// A channel's buffered amount fell to its low threshold.
    ChannelBufferedAmountLow(ChannelId),
    /// A channel closed.
    ChannelClose(ChannelId),
    /// The peer's offer added an audio or video m-line: a new transceiver.
    MediaAdded {
        /// Its handle.
        id: MediaId,
        /// Its mid.
        mid: String,
        /// Audio or video.
        kind: crate::jsep::MediaKind,
        /// The negotiated direction, our side.
        direction: crate::jsep::Direction,
    },
    /// An RTP packet arrived (SRTP removed, RTX undone, duplicates dropped).
    MediaRtp(RtpPacket),
    /// A whole frame arrived (when [`MediaConfig::frames`] is set).
    MediaFrame(MediaFrame),
    /// The peer ended one of its streams (RTCP BYE, RFC 3550 §6.6).
    MediaStreamEnded {
        /// The transceiver.
        media: MediaId,
        /// The SSRC that left.
        ssrc: u32,
    },
    /// The peer asks for a keyframe on one of our outgoing streams.
    KeyframeRequest {
        /// The transceiver.
        media: MediaId,
        /// PLI or FIR.
        kind: KeyframeKind,
    },
    /// The connection is over; nothing more will happen.
    Closed {
        /// Why.
        reason: RtcCloseReason,
    },
}

/// Peer connection errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcError {
    /// From negotiation.
    #[error(transparent)]
    Jsep(#[from] JsepError),
    /// From the ICE agent.
    #[error(transparent)]
    Ice(#[from] IceError),
    /// From DTLS (certificate).
    #[error(transparent)]
    Dtls(#[from] DtlsError),
    /// From the data channel layer.
    #[error(transparent)]
    DataChannel(#[from] DataChannelError),
    /// No such channel.
    #[error("no channel {0:?}")]
    NoChannel(ChannelId),
    /// A media call that cannot be done now (the reason says why).
    #[error("media: {0}")]
    Media(&'static str),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// Most spare media packet buffers kept (see [`Rtc::recycle`]).
const MEDIA_POOL: usize = 64;
/// Media buffers hold `max_rtp_size` and this much more (the SRTP tag and index).
const MEDIA_SLACK: usize = 64;

/// Counters of every layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcStats {
    /// ICE agent counters.
    pub ice: IceStats,
    /// Candidate pairs.
    pub pairs: Vec<PairStats>,
    /// The selected pair.
    pub selected_pair: Option<SelectedPair>,
    /// DTLS counters (none before negotiation).
    pub dtls: DtlsStats,
    /// SCTP counters (including the smoothed RTT).
    pub sctp: SctpStats,
    /// Data channel counters.
    pub datachannel: DataChannelStats,
    /// Datagrams received, by kind: STUN, DTLS, RTP/RTCP, other.
    pub datagrams_in: [u64; 4],
    /// DTLS and SRTP datagrams dropped because they came from no address of the peer's
    /// (no remote candidate, not the selected pair).
    pub dropped_unknown_source: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received and sent (UDP payloads).
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// SRTP/SRTCP datagrams dropped: before keys, failed authentication or replay,
    /// malformed, unknown payload type, or sends over the queue limit.
    pub media_dropped: u64,
    /// RTP packets of an SSRC no transceiver could be found for.
    pub media_unrouted: u64,
    /// Local candidates (those signalled) by type.
    pub local_candidates: CandidateCounts,
    /// Remote candidates by type.
    pub remote_candidates: CandidateCounts,
    /// Each TURN server's counters (allocations, refreshes, relayed datagrams).
    pub turn: Vec<TurnStats>,
    /// SRTP/SRTCP of the peer's direction: packets unprotected, and those dropped as
    /// forged or corrupted (`auth_failures`), replayed (`replays`) or malformed.
    pub srtp_in: crate::srtp::SrtpStats,
    /// SRTP/SRTCP of our direction (packets protected).
    pub srtp_out: crate::srtp::SrtpStats,
}

/// What the last completed negotiation fixed.
#[derive(Debug, Clone)]
struct Negotiated {
    role: DtlsRole,
    remote_sctp_port: u16,
    remote_max_message_size: usize,
}

struct ChannelSlot {
    /// The stream id once assigned.
    stream: Option<u16>,
    /// Config kept until the channel can be created in the data channel layer.
    pending: Option<ChannelConfig>,
}

/// A WebRTC peer connection. See the [module docs](self).
pub struct Rtc {
    config: RtcConfig,
    ice: IceAgent,
    cert: DtlsCertificate,
    dtls: Option<Dtls>,
    dc: Option<DataChannels>,
    signaling: SignalingState,
    negotiated: Option<Negotiated>,
    remote_fingerprints: Vec<Fingerprint>,
    session_id: u64,
    session_version: u64,
    local_gathering_done: bool,
    channels: BTreeMap<ChannelId, ChannelSlot>,
    by_stream: BTreeMap<u16, ChannelId>,
    next_channel: u32,
    events: VecDeque<RtcEvent>,
    state: RtcState,
    ice_state: IceConnectionState,
    dtls_started: bool,
    sctp_started: bool,
    closed: bool,
    /// Datagrams written at `close` (SCTP ABORT, DTLS close_notify) still to hand out.
    final_out: VecDeque<(crate::net::Transmit, Vec<u8>)>,
    /// The latest time the host gave us.
    last_now: Instant,
    scratch: Vec<u8>,
    stats: RtcStats,
    rng: Rng,
    /// Transceivers, in creation order.
    media: Vec<media::Transceiver>,
    next_media: u32,
    /// The m-lines of the session, in order (empty before the first exchange).
    sections: Vec<negotiate::Slot>,
    /// The m-lines of our pending offer.
    pending_offer: Option<Vec<negotiate::Slot>>,
    /// RTCP CNAME (RFC 7022: random per connection) and the msid stream id.
    cname: String,
    stream_id: String,
    /// SRTP contexts: (ours, the peer's), once DTLS is up.
    /// Built on first use from `srtp_km` (a data-only connection never pays for them).
    srtp: Option<Box<(crate::srtp::SrtpContext, crate::srtp::SrtpContext)>>,
    /// The SRTP keying material DTLS exported, and our DTLS role.
    srtp_km: Option<Box<(crate::dtls::SrtpKeyingMaterial, DtlsRole)>>,
    /// Incoming SSRC → transceiver.
    routes: HashMap<u32, rtp_io::Route>,
    twcc_rx: crate::rtp::stream::TwccReceiver,
    twcc_tx: crate::rtp::stream::TwccSender,
    /// SRTP/SRTCP datagrams waiting for `poll_transmit`, and spare buffers.
    media_out: VecDeque<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    media_scratch: Vec<u8>,
    media_rx: Vec<u8>,
    nack_scratch: Vec<u16>,
    /// When the next regular RTCP reports are due.
    rtcp_at: Option<Instant>,
    /// SRTP datagrams that came before the keys, and their bytes.
    early_srtp: VecDeque<Vec<u8>>,
    /// Where datagrams unwrapped from a TURN stream land (allocated on first use).
    turn_rx: Vec<u8>,
    early_srtp_bytes: usize,
}

impl core::fmt::Debug for Rtc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Rtc")
            .field("state", &self.state)
            .field("signaling", &self.signaling)
            .finish_non_exhaustive()
    }
}

/// Bytes a DTLS 1.2 AEAD record adds (header 13, explicit nonce 8, tag 16).
const DTLS_OVERHEAD: usize = 37;

impl Rtc {
    /// A new peer connection.
    pub fn new(mut config: RtcConfig, now: Instant) -> Result<Rtc, RtcError> {
        let mut rng = Rng::new(config.rng);
        if let RngSource::Seeded(_) = config.rng {
            // Sub-machines get their own streams derived from the one seed.
            config.ice.rng = RngSource::Seeded(rng.u64());
            config.dtls.rng = RngSource::Seeded(rng.u64());
            config.sctp.rng = RngSource::Seeded(rng.u64());
        }
        let cert = match &config.certificate {
            Some(c) => c.clone(),
            None => DtlsCertificate::generate()?,
        };
        config.dtls.mtu = config.datagram_size;
        config.sctp.mtu = config.datagram_size.saturating_sub(DTLS_OVERHEAD);
        let mut ice_cfg = config.ice.clone();
        ice_cfg.lite = config.ice_lite;
        ice_cfg
            .ice_servers
            .extend(config.ice_servers.iter().cloned());
        if config.ice_transport_policy == IceTransportPolicy::Relay {
            ice_cfg.transport_policy = IceTransportPolicy::Relay;
        }
        let ice = IceAgent::new(ice_cfg, now);
        let session_id = rng.u64() >> 2;
        let cname = media::new_cname(&mut rng);
        let stream_id = media::new_stream_id(&mut rng);
        let mut rtc = Rtc {
            cname,
            stream_id,
            media: Vec::new(),
            next_media: 1,
            sections: Vec::new(),
            pending_offer: None,
            srtp: None,
            srtp_km: None,
            routes: HashMap::new(),
            twcc_rx: crate::rtp::stream::TwccReceiver::new(Default::default()),
            twcc_tx: crate::rtp::stream::TwccSender::new(Default::default()),
            media_out: VecDeque::new(),
            pool: Vec::new(),
            media_scratch: Vec::new(),
            media_rx: Vec::new(),
            nack_scratch: Vec::new(),
            rtcp_at: None,
            early_srtp: VecDeque::new(),
            turn_rx: Vec::new(),
            early_srtp_bytes: 0,
            scratch: vec![0u8; config.datagram_size.max(256)],
            config,
            ice,
            cert,
            dtls: None,
            dc: None,
            signaling: SignalingState::Stable,
            negotiated: None,
            remote_fingerprints: Vec::new(),
            session_id,
            session_version: 1,
            local_gathering_done: false,
            channels: BTreeMap::new(),
            by_stream: BTreeMap::new(),
            next_channel: 1,
            events: VecDeque::new(),
            state: RtcState::New,
            ice_state: IceConnectionState::New,
            dtls_started: false,
            sctp_started: false,
            closed: false,
            final_out: VecDeque::new(),
            last_now: now,
            stats: RtcStats::default(),
            rng,
        };
        // What the agent found at once (a TURN URL it cannot use) is reported now.
        rtc.drive(now);
        Ok(rtc)
    }

    /// Our certificate's fingerprint (what goes into `a=fingerprint`).
    pub fn local_fingerprint(&self) -> &Fingerprint {
        self.cert.fingerprint()
    }

    /// Our ICE username fragment: hosts that share a socket between connections route
    /// first-contact STUN by it (see [`route_by_ufrag`]).
    pub fn local_ufrag(&self) -> &str {
        &self.ice.local_credentials().ufrag
    }

    /// The peer connection state.
    pub fn state(&self) -> RtcState {
        self.state
    }

    /// The signaling state.
    pub fn signaling_state(&self) -> SignalingState {
        self.signaling
    }

    /// The ICE agent (candidates, pair statistics).
    pub fn ice(&self) -> &IceAgent {
        &self.ice
    }

    /// Adds one of our host candidates (a socket the host reads from). Candidates added
    /// before an offer or answer go into it; later ones are trickled by the host.
    pub fn add_local_candidate(&mut self, c: Candidate) -> Result<(), RtcError> {
        Ok(self.ice.add_local_candidate(c)?)
    }

    /// Says no more local candidates will be added (the SDP gets `a=end-of-candidates`).
    pub fn end_of_local_candidates(&mut self) {
        self.local_gathering_done = true;
        self.ice.end_of_local_candidates();
    }

    /// Adds a candidate the peer trickled (`a=candidate` text, with or without the
    /// `a=` prefix). TCP and hostname (mDNS) candidates are ignored without error.
    pub fn add_remote_candidate(&mut self, c: Candidate) -> Result<(), RtcError> {
        match self.ice.add_remote_candidate(c) {
            Ok(()) | Err(IceError::UnsupportedTransport) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The peer's end-of-candidates.
    pub fn end_of_remote_candidates(&mut self) {
        self.ice.end_of_remote_candidates();
    }

    /// Creates a data channel. It opens once the connection is up (and, unless
    /// pre-negotiated, the peer acknowledges it): see [`RtcEvent::ChannelOpen`].
    pub fn create_data_channel(&mut self, config: ChannelConfig) -> Result<ChannelId, RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.channels.len() >= self.config.max_channels {
            return Err(DataChannelError::TooManyChannels.into());
        }
        let id = ChannelId(self.next_channel);
        self.next_channel += 1;
        self.channels.insert(
            id,
            ChannelSlot {
                stream: None,
                pending: Some(config),
            },
        );
        self.create_pending_channels();
        if self
            .channels
            .get(&id)
            .is_some_and(|s| s.pending.is_none() && s.stream.is_none())
        {
            // The data channel layer refused it.
            self.channels.remove(&id);
            return Err(DataChannelError::TooManyChannels.into());
        }
        Ok(id)
    }

    /// Creates channels that waited for the DTLS role.
    fn create_pending_channels(&mut self) {
        let Some(dc) = self.dc.as_mut() else {
            return;
        };
        for (id, slot) in self.channels.iter_mut() {
            let Some(cfg) = slot.pending.take() else {
                continue;
            };
            match dc.create_channel(cfg) {
                Ok(stream) => {
                    slot.stream = Some(stream.0);
                    self.by_stream.insert(stream.0, *id);
                }
                Err(e) => tracing::debug!(?e, "data channel refused"),
            }
        }
    }

    /// A handle on a channel.
    pub fn channel(&mut self, id: ChannelId) -> Option<Channel<'_>> {
        self.channels
            .contains_key(&id)
            .then_some(Channel { rtc: self, id })
    }

    /// Hands a buffer back for reuse once the host is done with it: the `data` of a
    /// [`RtcEvent::ChannelData`] or the `raw` of a [`RtcEvent::MediaRtp`] packet.
    ///
    /// Optional, and the way to a data path without allocation: received messages and
    /// packets are built in recycled buffers, so a host that recycles what it takes
    /// makes steady traffic allocate nothing per message or packet. Buffers are kept
    /// within bounds (`SctpConfig::buffer_pool` bytes for messages, 64 packet buffers
    /// for media) and freed beyond.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        let media_sized = buf.capacity() <= self.config.media.max_rtp_size + MEDIA_SLACK;
        match self.dc.as_mut() {
            Some(dc) if !media_sized || self.media.is_empty() => dc.association_mut().recycle(buf),
            _ => {
                if media_sized && self.pool.len() < MEDIA_POOL {
                    self.pool.push(buf);
                }
            }
        }
    }

    /// Counters of every layer.
    pub fn stats(&self) -> RtcStats {
        let mut s = self.stats.clone();
        s.ice = self.ice.stats().clone();
        s.pairs = self.ice.pair_stats().collect();
        s.selected_pair = self.ice.selected_pair();
        (s.local_candidates, s.remote_candidates) = self.ice.candidate_counts();
        s.turn = self.ice.turn_stats().cloned().collect();
        if let Some(d) = &self.dtls {
            s.dtls = d.stats().clone();
        }
        if let Some(p) = self.srtp.as_deref() {
            s.srtp_in = p.1.stats();
            s.srtp_out = p.0.stats();
        }
        if let Some(dc) = &self.dc {
            s.sctp = dc.association().stats();
            s.datachannel = dc.stats().clone();
        }
        s
    }

    fn set_state(&mut self, s: RtcState) {
        if self.state != s && self.state != RtcState::Closed {
            self.state = s;
            self.events.push_back(RtcEvent::StateChange(s));
        }
    }

    fn finish(&mut self, reason: RtcCloseReason) {
        if self.closed {
            return;
        }
        // What DTLS still has to say (a fatal alert, close_notify) goes out last.
        if let (Some(pair), Some(dtls)) = (self.ice.selected_pair(), self.dtls.as_mut()) {
            let mut buf = vec![0u8; self.config.datagram_size.max(256)];
            while let Some(n) = dtls.poll_datagram(&mut buf) {
                let t = crate::net::Transmit {
                    proto: pair.proto,
                    source: pair.local,
                    destination: pair.remote,
                    size: n,
                };
                self.final_out
                    .push_back((t, buf.get(..n).unwrap_or_default().to_vec()));
            }
        }
        self.closed = true;
        let open: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in open {
            self.events.push_back(RtcEvent::ChannelClose(id));
        }
        self.channels.clear();
        self.by_stream.clear();
        // On a relayed pair the last datagrams go to the TURN client now, so they leave
        // before the deallocation (RFC 8656 §7) in every transport.
        let now = self.last_now;
        let mut keep = VecDeque::new();
        while let Some((t, d)) = self.final_out.pop_front() {
            if !self.ice.send_relayed(now, t.source, t.destination, &d) {
                keep.push_back((t, d));
            }
        }
        self.final_out = keep;
        self.ice.close_at(now);
        let failed = matches!(
            reason,
            RtcCloseReason::IceFailed
                | RtcCloseReason::Dtls(_)
                | RtcCloseReason::Sctp(_)
                | RtcCloseReason::NoSrtpProfile
        );
        self.set_state(if failed {
            RtcState::Failed
        } else {
            RtcState::Closed
        });
        self.state = RtcState::Closed;
        self.events.push_back(RtcEvent::Closed { reason });
    }

    /// Closes the connection: the SCTP ABORT and the DTLS close_notify are written at
    /// once and handed out by the next `poll_transmit` calls; [`RtcEvent::Closed`]
    /// follows immediately.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        let now = self.last_now;
        self.media_goodbye();
        if let (Some(pair), Some(dtls)) = (self.ice.selected_pair(), self.dtls.as_mut()) {
            let to = |size| crate::net::Transmit {
                proto: pair.proto,
                source: pair.local,
                destination: pair.remote,
                size,
            };
            let mut buf = vec![0u8; self.config.datagram_size.max(256)];
            if let Some(dc) = self.dc.as_mut()
                && dtls.is_connected()
            {
                dc.association_mut().abort();
                while let Some(n) = dc.poll_transmit(now, &mut self.scratch) {
                    let packet = self.scratch.get(..n).unwrap_or_default();
                    if let Ok(size) = dtls.seal_application_data(packet, &mut buf) {
                        let d = buf.get(..size).unwrap_or_default().to_vec();
                        self.final_out.push_back((to(size), d));
                    }
                }
            }
            dtls.close();
        }
        self.finish(RtcCloseReason::Local);
    }
}

/// A data channel, borrowed from its [`Rtc`].
pub struct Channel<'a> {
    rtc: &'a mut Rtc,
    id: ChannelId,
}

impl Channel<'_> {
    fn stream(&self) -> Option<u16> {
        self.rtc.channels.get(&self.id).and_then(|s| s.stream)
    }

    fn with<T>(
        &mut self,
        f: impl FnOnce(crate::datachannel::ChannelHandle<'_>) -> Result<T, DataChannelError>,
    ) -> Result<T, RtcError> {
        let stream = self.stream().ok_or(RtcError::NoChannel(self.id))?;
        let dc = self.rtc.dc.as_mut().ok_or(RtcError::NoChannel(self.id))?;
        let h = dc
            .channel(crate::datachannel::ChannelId(stream))
            .ok_or(RtcError::NoChannel(self.id))?;
        Ok(f(h)?)
    }

    /// The handle.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The SCTP stream id (the W3C `id`), once negotiated.
    pub fn stream_id(&self) -> Option<u16> {
        self.stream()
    }

    /// The state.
    pub fn state(&self) -> ChannelState {
        match (self.stream(), &self.rtc.dc) {
            (Some(s), Some(dc)) => dc.state(crate::datachannel::ChannelId(s)),
            _ => ChannelState::Connecting,
        }
    }

    /// Sends a string.
    pub fn send_text(&mut self, text: &str) -> Result<(), RtcError> {
        self.with(|mut h| h.send_text(text))
    }

    /// Sends binary data.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), RtcError> {
        self.with(|mut h| h.send_binary(data))
    }

    /// Bytes queued and not yet sent.
    pub fn buffered_amount(&self) -> usize {
        match (self.stream(), &self.rtc.dc) {
            (Some(s), Some(dc)) => dc.association().buffered_amount(s),
            _ => 0,
        }
    }

    /// Sets the threshold of [`RtcEvent::ChannelBufferedAmountLow`].
    pub fn set_buffered_amount_low_threshold(&mut self, bytes: usize) -> Result<(), RtcError> {
        self.with(|mut h| {
            h.set_buffered_amount_low_threshold(bytes);
            Ok(())
        })
    }

    /// Closes the channel (queued data goes first).
    pub fn close(&mut self) -> Result<(), RtcError> {
        if self.stream().is_none() {
            self.rtc.channels.remove(&self.id);
            self.rtc.events.push_back(RtcEvent::ChannelClose(self.id));
            return Ok(());
        }
        self.with(|mut h| h.close())
    }
}

/// Which connection a datagram on a shared socket belongs to, for first contact: the
/// local ufrag of a STUN request's USERNAME (`local:remote`, RFC 8445 §7.2.2). Pure:
/// hosts keep a map from [`Rtc::local_ufrag`] to connection, then route by 5-tuple.
pub fn route_by_ufrag(datagram: &[u8]) -> Option<&str> {
    let user = crate::ice::stun::peek_username(datagram)?;
    user.split(':').next()
}

/// Configuration pieces made per negotiation.
fn dc_config(
    config: &RtcConfig,
    role: DtlsRole,
    remote_port: u16,
    max_message: usize,
) -> DataChannelsConfig {
    let mut sctp: SctpConfig = config.sctp.clone();
    sctp.remote_port = remote_port;
    // Our SCTP always travels inside DTLS, which authenticates every packet: zero
    // checksums (RFC 9653) are safe, and used when the peer announces them too.
    sctp.zero_checksum = true;
    sctp.max_message_size = sctp.max_message_size.min(if max_message == 0 {
        usize::MAX
    } else {
        max_message
    });
    DataChannelsConfig {
        role,
        max_channels: config.max_channels,
        sctp,
    }
}

fn dtls_config(config: &RtcConfig) -> DtlsConfig {
    config.dtls.clone()
}
