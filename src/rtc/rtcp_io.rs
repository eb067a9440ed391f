//! Incoming SRTP/SRTCP and the RTCP the stack sends on its own timers: receiver and
//! sender reports (RFC 3550 §6.4), generic NACK (RFC 4585 §6.2.1), PLI/FIR (RFC 4585
//! §6.3.1, RFC 5104 §4.3.1) and transport-wide feedback.

use super::media::{KeyframeKind, RtpPacket};
use super::rtp_io::{MAX_ROUTES, Route, new_recv_slot};
use super::*;
use crate::jsep::codecs::CodecKind;
use crate::rtp::wire::{
    self, FirEntry, ReportBlock, RtcpPacket, RtcpPackets, RtpHeader, ext, is_rtcp,
};

/// SRTP datagrams kept while the keys are not known yet.
pub(super) const MAX_EARLY_SRTP: usize = 128;
/// Bytes of those datagrams, at most (128 full-size packets).
pub(super) const MAX_EARLY_SRTP_BYTES: usize = 128 * 1500;

/// Room for one RTCP compound.
const RTCP_BUF: usize = 1200;

/// Overwrites the value of header extension `id` in an RTP packet, when present with
/// the same length.
pub(super) fn patch_extension(packet: &mut [u8], id: u8, value: &[u8]) {
    let at = RtpHeader::parse(packet).ok().and_then(|h| {
        let v = h.extension(id)?;
        // Where the value sits in the packet (it borrows from it).
        let at = (v.as_ptr() as usize).checked_sub(packet.as_ptr() as usize)?;
        (v.len() == value.len()).then_some(at)
    });
    if let Some(dst) = at.and_then(|at| packet.get_mut(at..at + value.len())) {
        dst.copy_from_slice(value);
    }
}

/// The 64-bit NTP time (RFC 3550 §4) the stack uses for `now`: the host's time origin
/// taken as the NTP epoch (peers only use differences and round trips).
pub(super) fn ntp(now: Instant) -> u64 {
    let us = now.as_micros();
    let secs = us / 1_000_000;
    let frac = ((us % 1_000_000) << 32) / 1_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP time (RFC 3550 §6.4.1, LSR).
fn ntp_mid32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

impl Rtc {
    /// An SRTP or SRTCP datagram from the peer.
    pub(super) fn handle_srtp(&mut self, now: Instant, data: &[u8]) {
        if !self.make_srtp() {
            // The peer's keys come with our side of the handshake finishing; its media
            // may arrive first (a DTLS server sends right after its Finished, which may
            // be lost). The latest datagrams wait for the keys.
            if self.dtls.is_some() && data.len() <= MAX_EARLY_SRTP_BYTES {
                while self.early_srtp.len() >= MAX_EARLY_SRTP
                    || self.early_srtp_bytes + data.len() > MAX_EARLY_SRTP_BYTES
                {
                    let Some(old) = self.early_srtp.pop_front() else {
                        break;
                    };
                    self.early_srtp_bytes = self.early_srtp_bytes.saturating_sub(old.len());
                    self.stats.media_dropped += 1;
                }
                self.early_srtp_bytes += data.len();
                self.early_srtp.push_back(data.to_vec());
            } else {
                self.stats.media_dropped += 1;
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.media_rx);
        buf.clear();
        buf.extend_from_slice(data);
        let rtcp = is_rtcp(&buf);
        let res = match self.srtp.as_deref_mut() {
            Some((_, rx)) if rtcp => rx.unprotect_rtcp(&mut buf),
            Some((_, rx)) => rx.unprotect_rtp(&mut buf),
            None => Err(crate::srtp::SrtpError::Malformed),
        };
        match res {
            Ok(n) => {
                let plain = buf.get(..n).unwrap_or_default();
                if rtcp {
                    self.handle_rtcp(now, plain);
                } else {
                    self.handle_rtp(now, plain);
                }
            }
            Err(e) => {
                tracing::trace!(?e, "SRTP packet dropped");
                self.stats.media_dropped += 1;
            }
        }
        self.media_rx = buf;
        self.media_timeout(now);
    }

    /// Fuzzing only: a plain (already decrypted) RTP or RTCP packet, as if SRTP had let it
    /// through, so fuzz targets reach routing, streams and RTCP handling.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn fuzz_plain_media(&mut self, now: Instant, packet: &[u8]) {
        if is_rtcp(packet) {
            self.handle_rtcp(now, packet);
        } else {
            self.handle_rtp(now, packet);
        }
        self.media_timeout(now);
    }

    /// Which stream an RTP packet belongs to: a known SSRC, else learned from the MID,
    /// RID and repaired-RID extensions (RFC 8843 §9.2, RFC 8852), else from a payload
    /// type only one receiving transceiver has.
    fn route(&mut self, h: &RtpHeader<'_>) -> Option<Route> {
        if let Some(r) = self.routes.get(&h.ssrc) {
            return Some(*r);
        }
        if self.routes.len() >= MAX_ROUTES {
            return None;
        }
        let text = |id: Option<u8>| id.and_then(|id| h.extension(id)).and_then(ext::mid);
        let by_mid = self.media.iter().position(|t| {
            t.mid.is_some()
                && t.receiving()
                && text(t.ext_ids.mid).is_some_and(|m| Some(m) == t.mid.as_deref())
        });
        let at = by_mid.or_else(|| {
            let mut with_pt = self
                .media
                .iter()
                .enumerate()
                .filter(|(_, t)| t.receiving() && t.codec(h.payload_type).is_some());
            match (with_pt.next(), with_pt.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        })?;
        let max_recv = self.config.media.max_receive_streams;
        let t = self.media.get_mut(at)?;
        let rid = text(t.ext_ids.rid).map(str::to_string);
        let rrid = text(t.ext_ids.repaired_rid).map(str::to_string);
        let is_rtx = t.codec(h.payload_type).is_some_and(|c| c.is("rtx"));
        let route = if is_rtx || rrid.is_some() {
            // RTX of an existing stream: by repaired rid, else the only stream without
            // an RTX SSRC.
            let slot = match &rrid {
                Some(r) => t
                    .recv
                    .iter_mut()
                    .find(|s| s.rid.as_deref() == Some(r.as_str())),
                None => {
                    let mut free = t.recv.iter_mut().filter(|s| s.rtx_ssrc.is_none());
                    match (free.next(), free.next()) {
                        (Some(s), None) => Some(s),
                        _ => None,
                    }
                }
            }?;
            slot.rtx_ssrc = Some(h.ssrc);
            Route {
                media: t.id,
                ssrc: slot.ssrc,
                rtx: true,
            }
        } else {
            if t.recv.len() >= max_recv {
                return None;
            }
            if rid.is_some() && !t.remote.rids.is_empty() && !t.remote.rids.contains(rid.as_ref()?)
            {
                return None;
            }
            let slot = new_recv_slot(t, h.ssrc, None, rid);
            t.recv.push(slot);
            Route {
                media: t.id,
                ssrc: h.ssrc,
                rtx: false,
            }
        };
        self.routes.insert(h.ssrc, route);
        Some(route)
    }

    /// A plain RTP packet.
    pub(super) fn handle_rtp(&mut self, now: Instant, pkt: &[u8]) {
        let Ok(h) = RtpHeader::parse(pkt) else {
            self.stats.media_dropped += 1;
            return;
        };
        let Some(route) = self.route(&h) else {
            self.stats.media_unrouted += 1;
            return;
        };
        let Some(t) = self.media.iter_mut().find(|t| t.id == route.media) else {
            return;
        };
        if let Some(seq) = t
            .ext_ids
            .twcc
            .and_then(|id| h.extension(id))
            .and_then(ext::transport_cc)
        {
            self.twcc_rx.on_packet(now, seq);
        }
        if !t.receiving() {
            return;
        }
        let (seq, pt, payload) = if route.rtx {
            // RFC 4588 §4: the original sequence number, then the original payload. A
            // payload of padding only is a bandwidth probe.
            let Some((osn, rest)) = h.payload.split_first_chunk::<2>() else {
                return;
            };
            let Some(apt) = t.codec(h.payload_type).and_then(|c| c.apt()) else {
                return;
            };
            (u16::from_be_bytes(*osn), apt, rest)
        } else {
            (h.sequence_number, h.payload_type, h.payload)
        };
        let Some(codec) = t.codec(pt) else {
            self.stats.media_dropped += 1;
            return;
        };
        let codec = CodecKind::of(codec);
        let media = t.id;
        let Some(slot) = t.recv.iter_mut().find(|s| s.ssrc == route.ssrc) else {
            return;
        };
        let Some(ext_seq) = slot.stream.on_packet(now, seq, h.timestamp, payload.len()) else {
            return;
        };
        let rid = slot.rid.clone();
        // The packet as it was sent: for RTX, the original header fields back.
        let hl = h.header_len();
        let mut raw = super::rtp_io::take_media_buf(&mut self.pool, self.config.media.max_rtp_size);
        raw.reserve(hl + payload.len());
        raw.extend_from_slice(pkt.get(..hl).unwrap_or_default());
        if route.rtx {
            if let Some(b) = raw.get_mut(1) {
                *b = (*b & 0x80) | pt;
            }
            if let Some(b) = raw.get_mut(2..4) {
                b.copy_from_slice(&seq.to_be_bytes());
            }
            if let Some(b) = raw.get_mut(8..12) {
                b.copy_from_slice(&route.ssrc.to_be_bytes());
            }
        }
        // Padding is gone: clear the P bit.
        if let Some(b) = raw.first_mut() {
            *b &= !0x20;
        }
        raw.extend_from_slice(payload);
        let audio_level = t
            .ext_ids
            .audio_level
            .and_then(|id| h.extension(id))
            .and_then(ext::AudioLevel::parse);
        let packet = RtpPacket {
            media,
            ssrc: route.ssrc,
            rid,
            payload_type: pt,
            codec,
            sequence_number: ext_seq,
            timestamp: h.timestamp,
            marker: h.marker,
            repaired: route.rtx,
            audio_level,
            arrival: now,
            raw,
            payload_offset: hl,
        };
        if self.config.media.frames {
            self.depacketize(&packet);
            self.recycle(packet.raw);
        } else if self.events.len() >= self.config.media.max_queued {
            // A host that does not take its events: drops, not memory.
            self.stats.media_dropped += 1;
            self.recycle(packet.raw);
        } else {
            self.events.push_back(RtcEvent::MediaRtp(packet));
        }
    }

    /// A plain RTCP compound.
    fn handle_rtcp(&mut self, now: Instant, compound: &[u8]) {
        for p in RtcpPackets::new(compound) {
            let Ok(p) = p else {
                continue;
            };
            match p {
                RtcpPacket::SenderReport(sr) => {
                    for t in self.media.iter_mut() {
                        for s in t.recv.iter_mut().filter(|s| s.ssrc == sr.ssrc) {
                            s.stream.on_sender_report(now, &sr.info);
                        }
                    }
                    for rb in sr.reports.iter() {
                        self.on_report_block(now, &rb);
                    }
                }
                RtcpPacket::ReceiverReport(rr) => {
                    for rb in rr.reports.iter() {
                        self.on_report_block(now, &rb);
                    }
                }
                RtcpPacket::Nack(n) => {
                    if let Some(t) = self.media.iter_mut().find(|t| t.ssrc == n.media_ssrc)
                        && let Some(s) = t.send.as_mut()
                    {
                        s.on_nack(now, n.lost());
                    }
                    self.flush_resends(now);
                }
                RtcpPacket::Pli(p) => self.keyframe_request(p.media_ssrc, KeyframeKind::Pli),
                RtcpPacket::Fir(f) => {
                    let ours: Vec<u32> = f.entries().map(|e| e.ssrc).collect();
                    for ssrc in ours {
                        self.keyframe_request(ssrc, KeyframeKind::Fir);
                    }
                }
                RtcpPacket::Remb(r) => {
                    let rate = r.bitrate();
                    for ssrc in r.ssrcs.iter() {
                        if let Some(t) = self.media.iter_mut().find(|t| t.ssrc == ssrc) {
                            t.remb = Some(rate);
                        }
                    }
                }
                RtcpPacket::TransportCc(fb) => self.twcc_tx.on_feedback(now, &fb),
                RtcpPacket::Bye(b) => {
                    for ssrc in b.ssrcs.iter() {
                        if let Some(r) = self.routes.get(&ssrc).filter(|r| !r.rtx) {
                            let media = r.media;
                            self.events
                                .push_back(RtcEvent::MediaStreamEnded { media, ssrc });
                        }
                    }
                }
                RtcpPacket::Sdes(_) | RtcpPacket::Unknown { .. } => {}
            }
        }
    }

    fn keyframe_request(&mut self, ssrc: u32, kind: KeyframeKind) {
        let Some(t) = self.media.iter_mut().find(|t| t.ssrc == ssrc) else {
            return;
        };
        if let Some(s) = t.send.as_mut() {
            match kind {
                KeyframeKind::Pli => s.on_pli(),
                KeyframeKind::Fir => s.on_fir(),
            }
        }
        let media = t.id;
        self.events
            .push_back(RtcEvent::KeyframeRequest { media, kind });
    }

    fn on_report_block(&mut self, now: Instant, rb: &ReportBlock) {
        let mid32 = ntp_mid32(ntp(now));
        let Some(t) = self.media.iter_mut().find(|t| t.ssrc == rb.ssrc) else {
            return;
        };
        let Some(s) = t.send.as_mut() else {
            return;
        };
        s.on_report_block(now, mid32, rb);
        // The round trip paces our NACKs too.
        if let Some(rtt) = s.stats().rtt {
            for t in self.media.iter_mut() {
                for r in t.recv.iter_mut() {
                    r.stream.set_rtt(rtt);
                }
            }
        }
    }

    /// Retransmissions the peer's NACKs asked for.
    fn flush_resends(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.media_scratch);
        // Room for the largest packet written, plus the RTX original sequence number.
        let room = self
            .config
            .datagram_size
            .max(self.config.media.max_rtp_size + 2);
        buf.resize(room, 0);
        for i in 0..self.media.len() {
            let ids = self.media.get(i).map(|t| t.ext_ids).unwrap_or_default();
            while let Some(n) = self
                .media
                .get_mut(i)
                .and_then(|t| t.send.as_mut())
                .and_then(|s| s.poll_resend(now, &mut buf))
            {
                let Some(packet) = buf.get_mut(..n) else {
                    break;
                };
                // A retransmission is a new packet on the transport: its own
                // transport-wide sequence number and send time.
                if let Some(id) = ids.twcc {
                    let seq = self.twcc_tx.next_seq(now, n);
                    patch_extension(packet, id, &ext::transport_cc_bytes(seq));
                }
                if let Some(id) = ids.abs_send_time {
                    let t = ext::abs_send_time_from_micros(now.as_micros());
                    patch_extension(packet, id, &ext::abs_send_time_bytes(t));
                }
                let _ = self.queue_srtp(packet, false);
            }
        }
        self.media_scratch = buf;
    }

    /// Sends a keyframe request for the incoming stream(s) of a transceiver.
    pub(super) fn request_keyframe(
        &mut self,
        id: MediaId,
        kind: KeyframeKind,
        ssrc: Option<u32>,
    ) -> Result<(), RtcError> {
        let Some(t) = self.media.iter_mut().find(|t| t.id == id) else {
            return Err(RtcError::Media("no such transceiver"));
        };
        let sender = t.ssrc;
        let rsize = t.remote.rsize;
        let mut targets = Vec::new();
        for s in t
            .recv
            .iter_mut()
            .filter(|s| ssrc.is_none_or(|x| x == s.ssrc))
        {
            s.fir_seq = s.fir_seq.wrapping_add(1);
            targets.push((s.ssrc, s.fir_seq));
        }
        t.keyframe_requests_sent += targets.len() as u64;
        if targets.is_empty() {
            return Err(RtcError::Media("no incoming stream to ask a keyframe of"));
        }
        let mut buf = [0u8; RTCP_BUF];
        for (target, seq) in targets {
            let mut n = self.compound_head(&mut buf, sender, rsize);
            let w = match kind {
                KeyframeKind::Pli => {
                    wire::write_pli(buf.get_mut(n..).unwrap_or_default(), sender, target)
                }
                KeyframeKind::Fir => wire::write_fir(
                    buf.get_mut(n..).unwrap_or_default(),
                    sender,
                    &[FirEntry { ssrc: target, seq }],
                ),
            };
            n += w.unwrap_or(0);
            self.queue_srtp(buf.get(..n).unwrap_or_default(), true)?;
        }
        Ok(())
    }

    /// The start of a feedback compound: an empty RR unless the peer takes reduced-size
    /// RTCP (RFC 5506 §3: a compound must start with a report otherwise).
    fn compound_head(&self, buf: &mut [u8], sender: u32, rsize: bool) -> usize {
        if rsize {
            0
        } else {
            wire::write_receiver_report(buf, sender, &[]).unwrap_or(0)
        }
    }

    /// The media timers: NACKs due, transport-wide feedback, regular reports.
    pub(super) fn media_timeout(&mut self, now: Instant) {
        if self.closed || self.media.is_empty() || !self.make_srtp() {
            return;
        }
        let mut buf = [0u8; RTCP_BUF];
        let mut lost = std::mem::take(&mut self.nack_scratch);
        let mut out: Vec<(usize, [u8; RTCP_BUF])> = Vec::new();
        for t in self.media.iter_mut() {
            let (sender, rsize) = (t.ssrc, t.remote.rsize);
            for s in t.recv.iter_mut().filter(|s| s.nack) {
                if s.stream.poll_timeout().is_none_or(|at| at > now) {
                    continue;
                }
                lost.clear();
                s.stream.poll_nack(now, &mut lost);
                if lost.is_empty() {
                    continue;
                }
                let mut n = if rsize {
                    0
                } else {
                    wire::write_receiver_report(&mut buf, sender, &[]).unwrap_or(0)
                };
                // At most ~250 sequence numbers per NACK packet keep it in one datagram.
                for chunk in lost.chunks(250) {
                    let mut m = n;
                    m += wire::write_nack(
                        buf.get_mut(m..).unwrap_or_default(),
                        sender,
                        s.ssrc,
                        chunk,
                    )
                    .unwrap_or(0);
                    out.push((m, buf));
                    n = 0;
                }
            }
        }
        self.nack_scratch = lost;
        for (n, b) in out {
            let _ = self.queue_srtp(b.get(..n).unwrap_or_default(), true);
        }
        // Transport-wide feedback.
        if self.twcc_rx.poll_timeout().is_some_and(|at| at <= now) {
            let (sender, media) = self
                .media
                .first()
                .map_or((0, 0), |t| (t.ssrc, t.recv.first().map_or(0, |r| r.ssrc)));
            while let Some(n) = self.twcc_rx.poll_feedback(now, sender, media, &mut buf) {
                let _ = self.queue_srtp(buf.get(..n).unwrap_or_default(), true);
                if self.twcc_rx.poll_timeout().is_none_or(|at| at > now) {
                    break;
                }
            }
        }
        // Regular reports (RFC 3550 §6.4): one compound per transceiver.
        if self.rtcp_at.is_some_and(|at| at <= now) {
            let interval = self.config.media.rtcp_interval;
            // RFC 3550 §6.3.5: randomized to 0.5-1.5 times the interval.
            let factor = 0.5 + self.rng.unit();
            self.rtcp_at = Some(now + interval.mul_f64(factor));
            let ntp_now = ntp(now);
            let mut compounds = Vec::new();
            for t in self.media.iter_mut() {
                if t.current.is_none() || t.recv.is_empty() && t.send.is_none() {
                    continue;
                }
                let blocks: Vec<ReportBlock> = t
                    .recv
                    .iter_mut()
                    .filter_map(|r| r.stream.report_block(now))
                    .take(31)
                    .collect();
                let info = t.send.as_ref().and_then(|s| s.sender_info(now, ntp_now));
                let mut n = match info {
                    Some(info) => wire::write_sender_report(&mut buf, t.ssrc, &info, &blocks),
                    None => wire::write_receiver_report(&mut buf, t.ssrc, &blocks),
                }
                .unwrap_or(0);
                n += wire::write_sdes_cname(
                    buf.get_mut(n..).unwrap_or_default(),
                    t.ssrc,
                    &self.cname,
                )
                .unwrap_or(0);
                compounds.push((n, buf));
            }
            for (n, b) in compounds {
                let _ = self.queue_srtp(b.get(..n).unwrap_or_default(), true);
            }
        }
    }

    /// At close: an RTCP BYE for each of our sending SSRCs (RFC 3550 §6.6), written
    /// straight to the final datagrams.
    pub(super) fn media_goodbye(&mut self) {
        let Some(pair) = self.ice.selected_pair() else {
            return;
        };
        let Some((tx, _)) = self.srtp.as_deref_mut() else {
            return;
        };
        for t in self.media.iter().filter(|t| t.send.is_some()) {
            let mut buf = vec![0u8; RTCP_BUF];
            let mut n = wire::write_receiver_report(&mut buf, t.ssrc, &[]).unwrap_or(0);
            let ssrcs = [t.ssrc, t.rtx_ssrc];
            let rtx = usize::from(t.send.as_ref().is_some_and(|s| s.rtx_ssrc().is_some()));
            n += wire::write_bye(
                buf.get_mut(n..).unwrap_or_default(),
                ssrcs.get(..1 + rtx).unwrap_or_default(),
                None,
            )
            .unwrap_or(0);
            if let Ok(size) = tx.protect_rtcp(&mut buf, n) {
                buf.truncate(size);
                let t = crate::net::Transmit {
                    proto: pair.proto,
                    source: pair.local,
                    destination: pair.remote,
                    size,
                };
                self.final_out.push_back((t, buf));
            }
        }
    }

    /// The next media deadline.
    pub(super) fn media_poll_timeout(&self) -> Option<Instant> {
        if self.closed || self.media.is_empty() || self.srtp_km.is_none() {
            return None;
        }
        if self.srtp.is_none() {
            // Media was added after DTLS: `media_timeout` builds the contexts.
            return Some(self.last_now);
        }
        let mut t = self.rtcp_at;
        t = crate::time::earliest(t, self.twcc_rx.poll_timeout());
        for m in &self.media {
            for r in m.recv.iter().filter(|r| r.nack) {
                t = crate::time::earliest(t, r.stream.poll_timeout());
            }
        }
        t
    }
}
