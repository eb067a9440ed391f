//! [`Rtc::diagnostics`]: the current size of every queue, table and buffer a peer
//! connection holds, per layer, each next to the configured limit that bounds it.
//!
//! The figures are what the machine holds right now, not counters: a host (or a test)
//! calls this to watch memory stay bounded under load or attack, and to see which
//! queue grows when it does. [`RtcDiagnostics::gauges`] lists every bounded figure by
//! name; [`RtcDiagnostics::over_limit`] names the first one past its bound (there should
//! never be one: every limit is enforced where the queue grows).
//!
//! ```
//! use sansrtc::rtc::{Rtc, RtcConfig};
//! use sansrtc::{Instant, RngSource};
//!
//! let rtc = Rtc::new(RtcConfig { rng: RngSource::Seeded(1), ..RtcConfig::default() }, Instant::ZERO).unwrap();
//! let d = rtc.diagnostics();
//! assert_eq!(d.over_limit(), None);
//! assert_eq!(d.ice.pairs.limit, Some(100));
//! assert!(d.total_bytes < 64 * 1024); // a fresh connection holds little
//! ```

use super::*;
use crate::dtls::MAX_QUEUED_DATAGRAMS;

/// One figure: how many (items or bytes) are held now, and the configured bound, where
/// one applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauge {
    /// Held now.
    pub len: usize,
    /// The bound (`None` where the figure is bounded only through others, as noted on
    /// its field).
    pub limit: Option<usize>,
}

impl Gauge {
    fn new(len: usize, limit: usize) -> Gauge {
        Gauge {
            len,
            limit: Some(limit),
        }
    }

    fn unbounded(len: usize) -> Gauge {
        Gauge { len, limit: None }
    }

    /// True when `len` is within the limit (or no limit applies).
    pub fn within_limit(&self) -> bool {
        self.limit.is_none_or(|l| self.len <= l)
    }
}

/// The ICE agent's tables and queues ([`IceConfig`] bounds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceDiag {
    /// Local candidates (`max_local_candidates`).
    pub local_candidates: Gauge,
    /// Remote candidates, signalled and peer-reflexive (`max_remote_candidates`).
    pub remote_candidates: Gauge,
    /// Candidate pairs (`max_pairs`).
    pub pairs: Gauge,
    /// Outstanding STUN transactions (`max_transactions`).
    pub transactions: Gauge,
    /// Datagrams waiting for `poll_transmit` (`max_queued_transmits`).
    pub queued_transmits: Gauge,
    /// Pairs waiting for a triggered check (`max_pairs`).
    pub triggered: Gauge,
    /// Events not yet turned into [`RtcEvent`]s (drained on every call).
    pub events: Gauge,
    /// Approximate bytes.
    pub bytes: usize,
}

/// The DTLS endpoint's buffers ([`DtlsConfig`] bounds). All zero before negotiation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtlsDiag {
    /// Handshake bytes held for reassembly (`max_reassembly_bytes`).
    pub reassembly_bytes: Gauge,
    /// Datagrams waiting for `poll_transmit` (4096).
    pub queued_datagrams: Gauge,
    /// Bytes of the current flight kept for retransmission (bounded by the handshake's
    /// own messages: a few KiB).
    pub flight_bytes: Gauge,
    /// Application data queued before the connection is up (`max_queued_bytes`).
    pub queued_app_bytes: Gauge,
    /// Records held for keys not known yet (`max_buffered_records`).
    pub early_records: Gauge,
    /// Application data records held until the fingerprint is checked
    /// (`max_buffered_records`).
    pub held_records: Gauge,
    /// Events (`max_events`).
    pub events: Gauge,
    /// Approximate bytes.
    pub bytes: usize,
}

/// The SCTP association's buffers ([`SctpConfig`] bounds). All zero before negotiation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SctpDiag {
    /// Bytes accepted by `send` and not yet acknowledged (`send_buffer`).
    pub send_queue_bytes: Gauge,
    /// Messages in the send queue (`send_buffer`: each holds at least one byte).
    pub send_queue_messages: Gauge,
    /// Bytes in flight (`send_buffer`).
    pub in_flight_bytes: Gauge,
    /// DATA chunks in flight (`send_buffer`: each carries at least one byte).
    pub in_flight_chunks: Gauge,
    /// Chunks queued for retransmission (`send_buffer`).
    pub retransmit_queue: Gauge,
    /// Bytes held by the receiver: reassembly, out of order, waiting for order and not
    /// yet taken by the host (`receive_buffer`).
    pub receive_bytes: Gauge,
    /// Out-of-order chunks held beyond a gap (`receive_buffer / 256`, 64..=8192).
    pub out_of_order_chunks: Gauge,
    /// Outgoing streams with state (`max_active_streams`).
    pub streams_out: Gauge,
    /// Incoming streams with state (`max_active_streams`).
    pub streams_in: Gauge,
    /// Control packets waiting (16).
    pub control_packets: Gauge,
    /// Events (`max_events`).
    pub events: Gauge,
    /// Spare message buffers kept for reuse, bytes of capacity (`buffer_pool` per
    /// direction).
    pub pooled_bytes: Gauge,
    /// Approximate bytes.
    pub bytes: usize,
}

/// Data channels ([`RtcConfig::max_channels`], [`SctpConfig::send_buffer`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataChannelDiag {
    /// Channels known to the peer connection, open or waiting (`max_channels`).
    pub channels: Gauge,
    /// Channels with state in the data channel layer (`max_channels`).
    pub layer_channels: Gauge,
    /// Sum of every channel's buffered amount (`send_buffer`).
    pub buffered_total: Gauge,
    /// The largest buffered amount of one channel (`send_buffer`); each channel's own is
    /// [`Channel::buffered_amount`].
    pub buffered_max_channel: Gauge,
    /// Channel events waiting (open/close/low-threshold; bounded by `max_channels`
    /// times three).
    pub events: Gauge,
}

/// Audio and video ([`MediaConfig`] bounds and the fixed bounds of the media path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaDiag {
    /// Transceivers (`max_media`).
    pub transceivers: Gauge,
    /// Packets held in the retransmission histories of our outgoing streams (the sum of
    /// each stream's `video_history` or `audio_history`).
    pub send_history_packets: Gauge,
    /// Bytes of those packets (history slots times `max_rtp_size`).
    pub send_history_bytes: Gauge,
    /// Packets queued for retransmission (history slots).
    pub resend_queue: Gauge,
    /// SRTP datagrams that came before the keys (128).
    pub early_srtp: Gauge,
    /// Their bytes (128 × 1500).
    pub early_srtp_bytes: Gauge,
    /// Incoming streams with state (`max_media × max_receive_streams`).
    pub receive_streams: Gauge,
    /// SSRC routes (256).
    pub routes: Gauge,
    /// Packets tracked as missing for NACK, over all incoming streams (each stream's
    /// bound, 1000 by default, times the streams).
    pub nack_missing: Gauge,
    /// Bytes held by frame reassembly (frame-level API), over all incoming streams.
    pub frame_bytes: Gauge,
    /// SRTP/SRTCP datagrams waiting for `poll_transmit` (`max_queued`).
    pub queued_out: Gauge,
    /// SSRCs with SRTP state, incoming (`SrtpConfig::max_ssrcs`, 256).
    pub srtp_ssrcs_in: Gauge,
    /// SSRCs with SRTP state, outgoing (256).
    pub srtp_ssrcs_out: Gauge,
    /// Transport-wide sequence numbers tracked by the receiver (its `max_pending`).
    pub twcc_window: Gauge,
    /// Approximate bytes.
    pub bytes: usize,
}

/// Every queue, table and buffer of an [`Rtc`], with its bound ([`Rtc::diagnostics`]).
///
/// The figures are what the machine holds right now, not counters: a host (or a test)
/// reads them to watch memory stay bounded under load or attack, and to see which queue
/// grows when one does. [`gauges`](Self::gauges) lists every figure by name;
/// [`over_limit`](Self::over_limit) names the first past its bound (there should never
/// be one: every limit is enforced where its queue grows).
///
/// ```
/// use sansrtc::rtc::{Rtc, RtcConfig};
/// use sansrtc::{Instant, RngSource};
///
/// let rtc = Rtc::new(RtcConfig { rng: RngSource::Seeded(1), ..RtcConfig::default() }, Instant::ZERO).unwrap();
/// let d = rtc.diagnostics();
/// assert_eq!(d.over_limit(), None);
/// assert_eq!(d.ice.pairs.limit, Some(100));
/// assert!(d.total_bytes < 64 * 1024); // a fresh connection holds little
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtcDiagnostics {
    /// Events waiting for `poll_event`: media events (`max_queued`), channel events
    /// (`max_channels`), a few state and candidate events.
    pub events: Gauge,
    /// Datagrams written at close, still to hand out (a handful).
    pub final_out: Gauge,
    /// ICE.
    pub ice: IceDiag,
    /// DTLS.
    pub dtls: DtlsDiag,
    /// SCTP.
    pub sctp: SctpDiag,
    /// Data channels.
    pub datachannel: DataChannelDiag,
    /// Media.
    pub media: MediaDiag,
    /// Approximate bytes held by the whole machine: the layers' figures plus the peer
    /// connection's own buffers (scratch space, pools). A trend, not an allocator count.
    pub total_bytes: usize,
}

/// Number of named gauges [`RtcDiagnostics::gauges`] returns.
pub const GAUGES: usize = 48;

impl RtcDiagnostics {
    /// Every figure with its name (`"layer.field"`), in a fixed-size array.
    pub fn gauges(&self) -> [(&'static str, Gauge); GAUGES] {
        let (i, d, s, c, m) = (
            &self.ice,
            &self.dtls,
            &self.sctp,
            &self.datachannel,
            &self.media,
        );
        [
            ("events", self.events),
            ("final_out", self.final_out),
            ("ice.local_candidates", i.local_candidates),
            ("ice.remote_candidates", i.remote_candidates),
            ("ice.pairs", i.pairs),
            ("ice.transactions", i.transactions),
            ("ice.queued_transmits", i.queued_transmits),
            ("ice.triggered", i.triggered),
            ("ice.events", i.events),
            ("dtls.reassembly_bytes", d.reassembly_bytes),
            ("dtls.queued_datagrams", d.queued_datagrams),
            ("dtls.flight_bytes", d.flight_bytes),
            ("dtls.queued_app_bytes", d.queued_app_bytes),
            ("dtls.early_records", d.early_records),
            ("dtls.held_records", d.held_records),
            ("dtls.events", d.events),
            ("sctp.send_queue_bytes", s.send_queue_bytes),
            ("sctp.send_queue_messages", s.send_queue_messages),
            ("sctp.in_flight_bytes", s.in_flight_bytes),
            ("sctp.in_flight_chunks", s.in_flight_chunks),
            ("sctp.retransmit_queue", s.retransmit_queue),
            ("sctp.receive_bytes", s.receive_bytes),
            ("sctp.out_of_order_chunks", s.out_of_order_chunks),
            ("sctp.streams_out", s.streams_out),
            ("sctp.streams_in", s.streams_in),
            ("sctp.control_packets", s.control_packets),
            ("sctp.events", s.events),
            ("sctp.pooled_bytes", s.pooled_bytes),
            ("datachannel.channels", c.channels),
            ("datachannel.layer_channels", c.layer_channels),
            ("datachannel.buffered_total", c.buffered_total),
            ("datachannel.buffered_max_channel", c.buffered_max_channel),
            ("datachannel.events", c.events),
            ("media.transceivers", m.transceivers),
            ("media.send_history_packets", m.send_history_packets),
            ("media.send_history_bytes", m.send_history_bytes),
            ("media.resend_queue", m.resend_queue),
            ("media.early_srtp", m.early_srtp),
            ("media.early_srtp_bytes", m.early_srtp_bytes),
            ("media.receive_streams", m.receive_streams),
            ("media.routes", m.routes),
            ("media.nack_missing", m.nack_missing),
            ("media.frame_bytes", m.frame_bytes),
            ("media.queued_out", m.queued_out),
            ("media.srtp_ssrcs_in", m.srtp_ssrcs_in),
            ("media.srtp_ssrcs_out", m.srtp_ssrcs_out),
            ("media.twcc_window", m.twcc_window),
            ("total_bytes", Gauge::unbounded(self.total_bytes)),
        ]
    }

    /// The first figure past its limit, if any (there should never be one).
    pub fn over_limit(&self) -> Option<(&'static str, Gauge)> {
        self.gauges().into_iter().find(|(_, g)| !g.within_limit())
    }

    /// Every figure's maximum with `other`'s (the high-water marks of a run); the
    /// limits and byte figures of the layers are `other`'s (the later sample).
    pub fn max(&self, other: &RtcDiagnostics) -> RtcDiagnostics {
        let mut out = *other;
        let ours = self.gauges();
        for (slot, (_, g)) in out.gauges_mut().into_iter().zip(ours) {
            slot.len = slot.len.max(g.len);
        }
        out.ice.bytes = self.ice.bytes.max(other.ice.bytes);
        out.dtls.bytes = self.dtls.bytes.max(other.dtls.bytes);
        out.sctp.bytes = self.sctp.bytes.max(other.sctp.bytes);
        out.media.bytes = self.media.bytes.max(other.media.bytes);
        out.total_bytes = self.total_bytes.max(other.total_bytes);
        out
    }

    fn gauges_mut(&mut self) -> [&mut Gauge; GAUGES - 1] {
        let RtcDiagnostics {
            events,
            final_out,
            ice: i,
            dtls: d,
            sctp: s,
            datachannel: c,
            media: m,
            total_bytes: _,
        } = self;
        [
            events,
            final_out,
            &mut i.local_candidates,
            &mut i.remote_candidates,
            &mut i.pairs,
            &mut i.transactions,
            &mut i.queued_transmits,
            &mut i.triggered,
            &mut i.events,
            &mut d.reassembly_bytes,
            &mut d.queued_datagrams,
            &mut d.flight_bytes,
            &mut d.queued_app_bytes,
            &mut d.early_records,
            &mut d.held_records,
            &mut d.events,
            &mut s.send_queue_bytes,
            &mut s.send_queue_messages,
            &mut s.in_flight_bytes,
            &mut s.in_flight_chunks,
            &mut s.retransmit_queue,
            &mut s.receive_bytes,
            &mut s.out_of_order_chunks,
            &mut s.streams_out,
            &mut s.streams_in,
            &mut s.control_packets,
            &mut s.events,
            &mut s.pooled_bytes,
            &mut c.channels,
            &mut c.layer_channels,
            &mut c.buffered_total,
            &mut c.buffered_max_channel,
            &mut c.events,
            &mut m.transceivers,
            &mut m.send_history_packets,
            &mut m.send_history_bytes,
            &mut m.resend_queue,
            &mut m.early_srtp,
            &mut m.early_srtp_bytes,
            &mut m.receive_streams,
            &mut m.routes,
            &mut m.nack_missing,
            &mut m.frame_bytes,
            &mut m.queued_out,
            &mut m.srtp_ssrcs_in,
            &mut m.srtp_ssrcs_out,
            &mut m.twcc_window,
        ]
    }
}

/// Upper bound of one DTLS flight we send: certificate, key exchange and the rest, well
/// under this.
const MAX_FLIGHT_BYTES: usize = 16 * 1024;

impl Rtc {
    /// The current size of every queue, table and buffer, per layer, with the configured
    /// limit next to each. Cheap: no allocation (the result is a fixed-size `Copy`
    /// struct); a pass over the bounded queues to sum their bytes. See
    /// [`RtcDiagnostics`] for the layout.
    pub fn diagnostics(&self) -> RtcDiagnostics {
        let cfg = &self.config;
        let mc = &cfg.media;
        let ice_cfg = &cfg.ice;
        let id = self.ice.diagnostics();
        let ice = IceDiag {
            local_candidates: Gauge::new(id.local_candidates, ice_cfg.max_local_candidates),
            remote_candidates: Gauge::new(id.remote_candidates, ice_cfg.max_remote_candidates),
            pairs: Gauge::new(id.pairs, ice_cfg.max_pairs),
            transactions: Gauge::new(id.transactions, ice_cfg.max_transactions),
            queued_transmits: Gauge::new(id.queued_transmits, ice_cfg.max_queued_transmits),
            triggered: Gauge::new(id.triggered, ice_cfg.max_pairs),
            events: Gauge::unbounded(id.events),
            bytes: id.bytes,
        };
        let dtls = self.dtls.as_ref().map_or_else(DtlsDiag::default, |d| {
            let dd = d.diagnostics();
            let c = &cfg.dtls;
            DtlsDiag {
                reassembly_bytes: Gauge::new(dd.reassembly_bytes, c.max_reassembly_bytes),
                queued_datagrams: Gauge::new(dd.queued_datagrams, MAX_QUEUED_DATAGRAMS),
                flight_bytes: Gauge::new(dd.flight_bytes, MAX_FLIGHT_BYTES),
                queued_app_bytes: Gauge::new(dd.queued_app_bytes, c.max_queued_bytes),
                early_records: Gauge::new(dd.early_records, c.max_buffered_records),
                held_records: Gauge::new(dd.held_records, c.max_buffered_records),
                events: Gauge::new(dd.events, c.max_events),
                bytes: dd.bytes,
            }
        });
        let sc = &cfg.sctp;
        let (sctp, datachannel_layer) = match &self.dc {
            Some(dc) => {
                let sd = dc.association().diagnostics();
                let send = sc.send_buffer;
                (
                    SctpDiag {
                        send_queue_bytes: Gauge::new(sd.send_queue_bytes, send),
                        send_queue_messages: Gauge::new(sd.send_queue_messages, send),
                        in_flight_bytes: Gauge::new(sd.in_flight_bytes, send),
                        in_flight_chunks: Gauge::new(sd.in_flight_chunks, send),
                        retransmit_queue: Gauge::new(sd.retransmit_queue, send),
                        receive_bytes: Gauge::new(sd.receive_bytes, sc.receive_buffer),
                        out_of_order_chunks: Gauge::new(
                            sd.out_of_order_chunks,
                            sd.out_of_order_limit,
                        ),
                        streams_out: Gauge::new(sd.streams_out, sc.max_active_streams),
                        streams_in: Gauge::new(sd.streams_in, sc.max_active_streams),
                        control_packets: Gauge::new(sd.control_packets, 16),
                        events: Gauge::new(sd.events, sc.max_events),
                        pooled_bytes: Gauge::new(sd.pooled_bytes, sc.buffer_pool.saturating_mul(2)),
                        bytes: sd.bytes,
                    },
                    Some((
                        dc.channel_count(),
                        dc.queued_events(),
                        sd.buffered_total,
                        sd.buffered_max_stream,
                    )),
                )
            }
            None => (SctpDiag::default(), None),
        };
        let (layer_channels, dc_events, buffered_total, buffered_max) =
            datachannel_layer.unwrap_or_default();
        let datachannel = DataChannelDiag {
            channels: Gauge::new(self.channels.len(), cfg.max_channels),
            layer_channels: Gauge::new(layer_channels, cfg.max_channels),
            buffered_total: Gauge::new(buffered_total, sc.send_buffer),
            buffered_max_channel: Gauge::new(buffered_max, sc.send_buffer),
            events: Gauge::new(dc_events, cfg.max_channels.saturating_mul(3)),
        };
        let media = self.media_diag();
        let own = self.scratch.capacity()
            + self.media_scratch.capacity()
            + self.media_rx.capacity()
            + self.nack_scratch.capacity() * 2
            + self.pool.iter().map(Vec::capacity).sum::<usize>()
            + self.final_out.iter().map(|(_, d)| d.len()).sum::<usize>()
            + self.events.len() * core::mem::size_of::<RtcEvent>()
            + self
                .events
                .iter()
                .map(|e| match e {
                    RtcEvent::ChannelData { data, .. } => data.len(),
                    RtcEvent::MediaRtp(p) => p.payload().len() + 64,
                    RtcEvent::MediaFrame(f) => f.data.len(),
                    _ => 0,
                })
                .sum::<usize>();
        let media_events = mc.max_queued;
        let control_events = cfg.max_channels + ice_cfg.max_local_candidates + 64;
        RtcDiagnostics {
            events: Gauge::new(self.events.len(), media_events + control_events),
            final_out: Gauge::new(self.final_out.len(), 64),
            total_bytes: own + ice.bytes + dtls.bytes + sctp.bytes + media.bytes,
            ice,
            dtls,
            sctp,
            datachannel,
            media,
        }
    }

    fn media_diag(&self) -> MediaDiag {
        let mc = &self.config.media;
        let (mut hist_n, mut hist_bytes, mut hist_slots, mut resend) = (0, 0, 0, 0);
        let (mut recv, mut nack, mut nack_limit, mut frame_bytes, mut frame_limit) =
            (0, 0, 0, 0, 0);
        for t in &self.media {
            if let Some(s) = &t.send {
                let (n, b, slots) = s.history_usage();
                hist_n += n;
                hist_bytes += b;
                hist_slots += slots;
                resend += s.resend_pending();
            }
            recv += t.recv.len();
            for r in &t.recv {
                let (n, l) = r.stream.nack_usage();
                nack += n;
                nack_limit += l;
                if let Some((_, d)) = &r.depacketizer {
                    frame_bytes += d.buffered_bytes();
                    frame_limit += d.max_buffered_bytes();
                }
            }
        }
        let early_bytes: usize = self.early_srtp.iter().map(Vec::len).sum();
        let out_bytes: usize = self.media_out.iter().map(Vec::capacity).sum();
        let (ssrc_in, ssrc_out) = self
            .srtp
            .as_ref()
            .map_or((0, 0), |p| (p.1.ssrc_count(), p.0.ssrc_count()));
        let srtp_max = crate::srtp::SrtpConfig::default().max_ssrcs;
        let (twcc, twcc_limit) = self.twcc_rx.tracked();
        let (twcc_tx_slots, _) = self.twcc_tx.tracked();
        // A history slot keeps the capacity of the largest packet it held.
        let slot_bytes = mc.max_rtp_size.max(self.config.datagram_size) + 64;
        MediaDiag {
            transceivers: Gauge::new(self.media.len(), mc.max_media),
            send_history_packets: Gauge::new(hist_n, hist_slots),
            send_history_bytes: Gauge::new(hist_bytes, hist_slots * slot_bytes),
            resend_queue: Gauge::new(resend, hist_slots),
            early_srtp: Gauge::new(self.early_srtp.len(), rtcp_io::MAX_EARLY_SRTP),
            early_srtp_bytes: Gauge::new(early_bytes, rtcp_io::MAX_EARLY_SRTP_BYTES),
            receive_streams: Gauge::new(recv, mc.max_media * mc.max_receive_streams),
            routes: Gauge::new(self.routes.len(), rtp_io::MAX_ROUTES),
            nack_missing: Gauge::new(nack, nack_limit),
            frame_bytes: Gauge::new(frame_bytes, frame_limit),
            queued_out: Gauge::new(self.media_out.len(), mc.max_queued),
            srtp_ssrcs_in: Gauge::new(ssrc_in, srtp_max),
            srtp_ssrcs_out: Gauge::new(ssrc_out, srtp_max),
            twcc_window: Gauge::new(twcc, twcc_limit),
            bytes: hist_bytes
                + early_bytes
                + out_bytes
                + frame_bytes
                + nack * 32
                + recv * 512
                + (ssrc_in + ssrc_out) * 256
                + twcc * 16
                + twcc_tx_slots * 32
                + self.routes.len() * 32,
        }
    }
}
