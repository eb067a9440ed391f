//! Media on the wire: SRTP keys from DTLS (RFC 5764 §4.2), RTP and RTCP demultiplexed
//! on the bundled transport (RFC 5761 §4, RFC 8843 §9.2), streams routed by SSRC, MID or
//! RID, RTX undone (RFC 4588), and the RTCP the stack sends by itself: reports, NACK,
//! keyframe requests and transport-wide feedback.

use super::media::{RecvSlot, RtpWrite};
use super::*;
use crate::dtls::SrtpKeyingMaterial;
use crate::rtp::stream::{NackConfig, RecvConfig, RecvStream, RtxConfig, SendConfig, SendStream};
use crate::rtp::wire::{RtpHeaderRepr, ext};
use crate::srtp::{Profile, SrtpConfig, SrtpContext};

/// Where an incoming SSRC goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Route {
    pub(super) media: MediaId,
    /// The media SSRC (for RTX, the one it repairs).
    pub(super) ssrc: u32,
    pub(super) rtx: bool,
}

/// Most SSRC routes kept (incoming streams of all transceivers).
pub(super) const MAX_ROUTES: usize = 256;
/// Most header extension elements on a packet we write.
const MAX_EXTENSIONS: usize = 16;

fn profile(p: crate::dtls::SrtpProfile) -> Profile {
    use crate::dtls::SrtpProfile as D;
    match p {
        D::Aes128CmHmacSha1_80 => Profile::Aes128CmHmacSha1_80,
        D::Aes128CmHmacSha1_32 => Profile::Aes128CmHmacSha1_32,
        D::AeadAes128Gcm => Profile::AeadAes128Gcm,
        D::AeadAes256Gcm => Profile::AeadAes256Gcm,
    }
}

impl Rtc {
    /// DTLS is up: keep the SRTP keying material; the contexts of both directions are
    /// built now if media is negotiated, else on first use.
    pub(super) fn srtp_keys(&mut self, km: &SrtpKeyingMaterial, role: DtlsRole) {
        self.srtp = None;
        self.srtp_km = Some(Box::new((km.clone(), role)));
        if self.media.iter().any(|t| !t.codecs.is_empty()) {
            self.make_srtp();
        }
    }

    /// Builds the SRTP contexts from the keying material if they do not exist yet;
    /// whether they exist now.
    pub(super) fn make_srtp(&mut self) -> bool {
        if self.srtp.is_some() {
            return true;
        }
        let Some(b) = self.srtp_km.as_deref() else {
            return false;
        };
        let (km, role) = (&b.0, b.1);
        let p = profile(km.profile);
        let cfg = SrtpConfig::default();
        let (lk, ls) = km.local(role);
        let (rk, rs) = km.remote(role);
        match (
            SrtpContext::new(p, lk, ls, cfg),
            SrtpContext::new(p, rk, rs, cfg),
        ) {
            (Ok(tx), Ok(rx)) => {
                self.srtp = Some(Box::new((tx, rx)));
                true
            }
            _ => {
                tracing::warn!("SRTP keys of the wrong length");
                self.srtp_km = None;
                false
            }
        }
    }

    /// Media that arrived before the keys.
    pub(super) fn handle_early_srtp(&mut self, now: Instant) {
        self.early_srtp_bytes = 0;
        while let Some(d) = self.early_srtp.pop_front() {
            self.handle_srtp(now, &d);
        }
    }

    /// After an offer/answer: streams for what was negotiated, and the SSRC routes.
    pub(super) fn media_negotiated(&mut self, now: Instant) {
        let max_recv = self.config.media.max_receive_streams;
        for t in self.media.iter_mut() {
            if t.sending() && t.send.is_none() {
                let rtx_map = t.rtx_map();
                let rtx = (!rtx_map.is_empty()).then_some(RtxConfig {
                    ssrc: t.rtx_ssrc,
                    payload_types: rtx_map,
                });
                let clock_rate = t
                    .codecs
                    .iter()
                    .find(|c| !c.is("rtx"))
                    .map_or(90000, |c| c.clock_rate);
                let nack = t.has_feedback("nack");
                t.send = Some(SendStream::new(SendConfig {
                    ssrc: t.ssrc,
                    clock_rate,
                    rtx,
                    history: if nack { t.history } else { 0 },
                }));
            }
            // Streams the SDP announced.
            let announced = t.remote.ssrcs.clone();
            for (ssrc, rtx) in announced {
                if t.receiving()
                    && !t.recv.iter().any(|r| r.ssrc == ssrc)
                    && t.recv.len() < max_recv
                {
                    let slot = new_recv_slot(t, ssrc, rtx, None);
                    t.recv.push(slot);
                }
            }
        }
        self.rebuild_routes();
        if self.rtcp_at.is_none() {
            self.rtcp_at = Some(now + self.config.media.rtcp_interval / 2);
        }
    }

    pub(super) fn rebuild_routes(&mut self) {
        self.routes.clear();
        for t in &self.media {
            for r in &t.recv {
                self.routes.insert(
                    r.ssrc,
                    Route {
                        media: t.id,
                        ssrc: r.ssrc,
                        rtx: false,
                    },
                );
                if let Some(x) = r.rtx_ssrc {
                    self.routes.insert(
                        x,
                        Route {
                            media: t.id,
                            ssrc: r.ssrc,
                            rtx: true,
                        },
                    );
                }
            }
        }
    }

    /// Protects a plain RTP (`rtcp` false) or RTCP packet and queues it.
    pub(super) fn queue_srtp(&mut self, plain: &[u8], rtcp: bool) -> Result<(), RtcError> {
        if !self.make_srtp() {
            return Err(RtcError::Media("no SRTP keys yet (DTLS not connected)"));
        }
        if self.media_out.len() >= self.config.media.max_queued {
            self.stats.media_dropped += 1;
            return Err(RtcError::Media("send queue full"));
        }
        let mut buf = self.media_buf();
        let Some((tx, _)) = self.srtp.as_deref_mut() else {
            return Err(RtcError::Media("no SRTP keys yet (DTLS not connected)"));
        };
        buf.extend_from_slice(plain);
        buf.resize(plain.len() + 32, 0);
        let res = if rtcp {
            tx.protect_rtcp(&mut buf, plain.len())
        } else {
            tx.protect_rtp(&mut buf, plain.len())
        };
        match res {
            Ok(n) => {
                buf.truncate(n);
                self.media_out.push_back(buf);
                Ok(())
            }
            Err(e) => {
                self.pool.push(buf);
                tracing::debug!(?e, "SRTP protect failed");
                Err(RtcError::Media("SRTP protect failed"))
            }
        }
    }

    /// An empty media buffer: a spare one, or a new one of the pool's size (every media
    /// buffer has that capacity, so none grows and all come back to the pool).
    pub(super) fn media_buf(&mut self) -> Vec<u8> {
        take_media_buf(&mut self.pool, self.config.media.max_rtp_size)
    }

    /// The next queued SRTP/SRTCP datagram, written into `buf`.
    pub(super) fn pop_media(&mut self, buf: &mut [u8]) -> Option<usize> {
        let d = self.media_out.pop_front()?;
        let n = d.len();
        let out = buf.get_mut(..n);
        let written = match out {
            Some(out) => {
                out.copy_from_slice(&d);
                Some(n)
            }
            None => {
                // The host's buffer is smaller than the contract asks.
                self.stats.media_dropped += 1;
                None
            }
        };
        if self.pool.len() < super::MEDIA_POOL {
            self.pool.push(d);
        }
        written
    }

    pub(super) fn write_rtp(
        &mut self,
        now: Instant,
        id: MediaId,
        p: RtpWrite<'_>,
    ) -> Result<(), RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        let max = self.config.media.max_rtp_size;
        // The MID, copied to the stack (no allocation per packet).
        let mut mid_buf = [0u8; 255];
        let mid_len = self
            .transceiver(id)
            .and_then(|t| t.mid.as_deref())
            .and_then(ext::text_bytes)
            .and_then(|b| {
                mid_buf.get_mut(..b.len())?.copy_from_slice(b);
                Some(b.len())
            });
        let Some(t) = self.media.iter_mut().find(|t| t.id == id) else {
            return Err(RtcError::Media("no such transceiver"));
        };
        if !t.sending() {
            return Err(RtcError::Media("the negotiated direction does not send"));
        }
        if t.codec(p.payload_type).is_none_or(|c| c.is("rtx")) {
            return Err(RtcError::Media("payload type not negotiated"));
        }
        let seq = p.sequence_number.unwrap_or(t.next_seq);
        t.next_seq = seq.wrapping_add(1);
        let ids = t.ext_ids;
        let abs = ext::abs_send_time_bytes(ext::abs_send_time_from_micros(now.as_micros()));
        let twcc_seq = ids
            .twcc
            .map(|_| self.twcc_tx.next_seq(now, p.payload.len()));
        let twcc = twcc_seq.map(ext::transport_cc_bytes);
        let level = p.audio_level.map(|l| l.to_bytes());
        // The extension list, without allocating.
        let mut list: [(u8, &[u8]); MAX_EXTENSIONS] = [(0, &[]); MAX_EXTENSIONS];
        let mut k = 0;
        let mid_bytes = mid_len.and_then(|n| mid_buf.get(..n));
        let ours = [
            (ids.mid, mid_bytes),
            (ids.abs_send_time, Some(&abs[..])),
            (ids.twcc, twcc.as_ref().map(|b| &b[..])),
            (ids.audio_level, level.as_ref().map(|b| &b[..])),
        ];
        let theirs = p.extensions.iter().map(|&(id, v)| (Some(id), Some(v)));
        for (id, v) in ours.into_iter().chain(theirs) {
            if let (Some(id), Some(v), Some(slot)) = (id, v, list.get_mut(k)) {
                *slot = (id, v);
                k += 1;
            }
        }
        let repr = RtpHeaderRepr {
            marker: p.marker,
            payload_type: p.payload_type,
            sequence_number: seq,
            timestamp: p.timestamp,
            ssrc: t.ssrc,
            csrcs: &[],
            extensions: list.get(..k).unwrap_or_default(),
            padding: 0,
        };
        let mut plain = std::mem::take(&mut self.media_scratch);
        plain.resize(max.max(64), 0);
        let written = repr.write(&mut plain, p.payload);
        let result = match written {
            None => Err(RtcError::Media("RTP packet larger than max_rtp_size")),
            Some(len) => {
                let packet = plain.get(..len).unwrap_or_default();
                if let Some(s) = t.send.as_mut() {
                    s.on_sent(now, packet);
                }
                self.queue_srtp(packet, false)
            }
        };
        self.media_scratch = plain;
        result
    }
}

/// A spare media buffer from `pool`, or a new one (see [`Rtc::media_buf`]).
pub(super) fn take_media_buf(pool: &mut Vec<Vec<u8>>, max_rtp_size: usize) -> Vec<u8> {
    let mut b = pool.pop().unwrap_or_default();
    b.clear();
    b.reserve_exact(max_rtp_size + super::MEDIA_SLACK);
    b
}

pub(super) fn new_recv_slot(
    t: &super::media::Transceiver,
    ssrc: u32,
    rtx: Option<u32>,
    rid: Option<String>,
) -> RecvSlot {
    let video = t.kind == crate::jsep::MediaKind::Video;
    let nack = video && t.has_feedback("nack");
    let clock_rate = t
        .codecs
        .iter()
        .find(|c| !c.is("rtx"))
        .map_or(90000, |c| c.clock_rate);
    RecvSlot {
        ssrc,
        rtx_ssrc: rtx,
        rid,
        stream: RecvStream::new(RecvConfig {
            ssrc,
            clock_rate,
            nack: nack.then(NackConfig::default),
        }),
        nack,
        fir_seq: 0,
        depacketizer: None,
    }
}
