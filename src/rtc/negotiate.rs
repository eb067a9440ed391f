//! Offer/answer (RFC 9429) for the peer connection: one bundled transport (RFC 8843,
//! max-bundle) carrying audio and video m-lines and one data channel m-line. The order
//! of m-lines is fixed by the first exchange; later offers keep it and append new ones.

use super::media::Transceiver;
use super::*;
use crate::jsep::codecs::{accept_answer_codecs, answer_codecs, answer_extmaps};
use crate::jsep::{
    Direction, LocalSection, MediaDesc, MediaKind, MediaSection, RejectedSection, Rid, Sdp,
    Section, Setup, Simulcast, write,
};

/// The SCTP port we announce (RFC 8841 §5: 5000 by convention).
const OUR_SCTP_PORT: u16 = 5000;

/// What an m-line of the session is.
#[derive(Debug, Clone)]
pub(super) enum SlotKind {
    /// The data channel section.
    Data,
    /// An audio or video section.
    Media(MediaId),
    /// A section rejected (port 0), kept so the order stays.
    Rejected(Box<MediaSection>),
}

/// One m-line of the session, by position.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) mid: String,
    pub(super) kind: SlotKind,
}

impl Rtc {
    /// Makes an offer (state becomes have-local-offer): every m-line so far in its place,
    /// then media added since, then the data channel section if there is none yet. Our
    /// host candidates so far are in it; `a=end-of-candidates` too once
    /// [`end_of_local_candidates`](Self::end_of_local_candidates) was called.
    pub fn create_offer(&mut self, _now: Instant) -> Result<String, RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        // RFC 8842 §5.5: a later offer keeps the established DTLS role.
        let setup = match self.negotiated.as_ref().map(|n| n.role) {
            None => Setup::ActPass,
            Some(DtlsRole::Client) => Setup::Active,
            Some(DtlsRole::Server) => Setup::Passive,
        };
        let mut slots = self.sections.clone();
        let mut next_mid = slots
            .iter()
            .filter_map(|s| s.mid.parse::<u32>().ok())
            .max()
            .map_or(0, |m| m + 1);
        let mut fresh_mid = |slots: &[Slot]| loop {
            let m = next_mid.to_string();
            next_mid += 1;
            if !slots.iter().any(|s| s.mid == m) {
                return m;
            }
        };
        for t in &self.media {
            if !slots
                .iter()
                .any(|s| matches!(s.kind, SlotKind::Media(id) if id == t.id))
            {
                let mid = t.mid.clone().unwrap_or_else(|| fresh_mid(&slots));
                slots.push(Slot {
                    mid,
                    kind: SlotKind::Media(t.id),
                });
            }
        }
        if !slots.iter().any(|s| matches!(s.kind, SlotKind::Data)) {
            let mid = fresh_mid(&slots);
            slots.push(Slot {
                mid,
                kind: SlotKind::Data,
            });
        }
        for s in &slots {
            if let SlotKind::Media(id) = s.kind
                && let Some(t) = self.transceiver_mut(id)
            {
                t.mid = Some(s.mid.clone());
            }
        }
        let descs: Vec<Option<MediaDesc>> = slots
            .iter()
            .map(|s| match s.kind {
                SlotKind::Media(id) => self.transceiver(id).map(|t| t.offer_desc(&self.cname)),
                _ => None,
            })
            .collect();
        let text = self.describe(&slots, &descs, setup);
        self.pending_offer = Some(slots);
        self.signaling = SignalingState::HaveLocalOffer;
        Ok(text)
    }

    /// Restarts ICE (W3C `restartIce()`, RFC 8445 §9): new local credentials at once;
    /// the next [`create_offer`](Self::create_offer) carries them, and the peer restarts
    /// too when it accepts it. The selected pair keeps carrying data (with consent
    /// checks in the old credentials) until the new generation selects a pair. Call it
    /// in the stable state; the offer/answer that follows completes the restart.
    pub fn restart_ice(&mut self, now: Instant) -> Result<(), RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.signaling != SignalingState::Stable {
            return Err(JsepError::Unusable("ICE restart outside the stable state").into());
        }
        self.ice.restart(now, None);
        Ok(())
    }

    /// Abandons our pending offer (have-local-offer → stable). Media added for it stay
    /// and go into the next offer.
    pub fn rollback(&mut self) {
        if self.signaling == SignalingState::HaveLocalOffer {
            self.signaling = SignalingState::Stable;
            self.pending_offer = None;
        }
    }

    /// Writes a description of `slots`, `descs` giving the RTP side of media slots.
    fn describe<'a>(
        &mut self,
        slots: &'a [Slot],
        descs: &'a [Option<MediaDesc>],
        setup: Setup,
    ) -> String {
        let candidates: Vec<Candidate> = self.ice.local_candidates().cloned().collect();
        let creds = self.ice.local_credentials().clone();
        let fingerprint = self.cert.fingerprint().clone();
        let gathering_done = self.local_gathering_done;
        let max_message_size = self.config.sctp.max_receive_message_size;
        let local = |mid: &'a str| LocalSection {
            mid,
            credentials: &creds,
            fingerprint: &fingerprint,
            setup,
            candidates: &candidates,
            end_of_candidates: gathering_done,
            sctp_port: OUR_SCTP_PORT,
            max_message_size,
        };
        let kinds: Vec<MediaKind> = slots
            .iter()
            .map(|s| match s.kind {
                SlotKind::Media(id) => self
                    .transceiver(id)
                    .map_or(MediaKind::Audio, |t| t.kind.clone()),
                _ => MediaKind::Application,
            })
            .collect();
        let sections: Vec<Section<'_>> = slots
            .iter()
            .zip(descs)
            .zip(&kinds)
            .map(|((s, d), kind)| match (&s.kind, d) {
                (SlotKind::Data, _) => Section::DataChannel(local(&s.mid)),
                (SlotKind::Media(_), Some(d)) => Section::Media(local(&s.mid), kind.clone(), d),
                (SlotKind::Rejected(m), _) => Section::Rejected(RejectedSection { section: m }),
                (SlotKind::Media(_), None) => Section::DataChannel(local(&s.mid)),
            })
            .collect();
        let text = write(
            self.session_id,
            self.session_version,
            self.config.ice_lite,
            &sections,
        );
        self.session_version += 1;
        text
    }

    /// Takes the peer's offer and returns our answer (stable → stable). Every audio and
    /// video m-line we can carry is accepted (a new one becomes a transceiver, announced
    /// by [`RtcEvent::MediaAdded`]), with the codecs and header extensions both sides
    /// support, in the direction the offer allows; the first data channel m-line is
    /// accepted; everything else is rejected (port 0).
    pub fn accept_offer(&mut self, now: Instant, offer: &str) -> Result<String, RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.signaling != SignalingState::Stable {
            return Err(JsepError::WrongState("accept_offer", self.signaling).into());
        }
        let sdp = Sdp::parse(offer).map_err(JsepError::from)?;
        if !self.sections.is_empty() && sdp.media.len() < self.sections.len() {
            return Err(JsepError::Unusable("an offer may not remove m-lines").into());
        }
        let data_index = sdp
            .media
            .iter()
            .position(|m| m.is_datachannel() && !m.is_rejected());
        let cname = self.cname.clone();
        let mut slots = Vec::with_capacity(sdp.media.len());
        let mut descs = Vec::with_capacity(sdp.media.len());
        let mut added = Vec::new();
        for (i, m) in sdp.media.iter().enumerate() {
            let mid = m.mid.clone().unwrap_or_else(|| i.to_string());
            let reject = |m: &MediaSection| Slot {
                mid: mid.clone(),
                kind: SlotKind::Rejected(Box::new(m.clone())),
            };
            if Some(i) == data_index {
                slots.push(Slot {
                    mid,
                    kind: SlotKind::Data,
                });
                descs.push(None);
                continue;
            }
            if !m.is_rtp() || m.is_rejected() {
                slots.push(reject(m));
                descs.push(None);
                continue;
            }
            // The transceiver this m-line was before, or a new one.
            let existing = self
                .media
                .iter()
                .position(|t| t.mid.as_deref() == Some(mid.as_str()) && t.kind == m.kind);
            let ours = match existing {
                Some(at) => self
                    .media
                    .get(at)
                    .map(|t| (t.local_codecs.clone(), t.local_exts.clone())),
                None => Some(self.default_codecs(&m.kind)),
            };
            let Some((codecs_ours, exts_ours)) = ours else {
                slots.push(reject(m));
                descs.push(None);
                continue;
            };
            let codecs = answer_codecs(&m.rtp.codecs, &codecs_ours);
            if codecs.is_empty()
                || (existing.is_none() && self.media.len() >= self.config.media.max_media)
            {
                slots.push(reject(m));
                descs.push(None);
                continue;
            }
            let exts = answer_extmaps(&m.rtp.extmaps, &exts_ours);
            let id = match existing.and_then(|at| self.media.get(at)).map(|t| t.id) {
                Some(id) => id,
                None => {
                    let id = MediaId(self.next_media);
                    self.next_media += 1;
                    let mut t = Transceiver::new(
                        id,
                        m.kind.clone(),
                        self.config.media.answer_direction,
                        &mut self.rng,
                        &self.config.media,
                        &self.stream_id,
                    );
                    // Later offers of ours keep the offerer's payload types and ids.
                    t.local_codecs = codecs.clone();
                    t.local_exts = exts.clone();
                    t.mid = Some(mid.clone());
                    self.media.push(t);
                    added.push(id);
                    id
                }
            };
            let Some(t) = self.transceiver_mut(id) else {
                continue;
            };
            let direction = Direction::answer(m.rtp.direction, t.wanted);
            // Simulcast the offerer sends: we receive those rids (RFC 8853 §5.3).
            let recv_rids: Vec<String> = m
                .rtp
                .rids
                .iter()
                .filter(|r| r.send)
                .map(|r| r.id.clone())
                .collect();
            t.apply_remote(&m.rtp, codecs, exts, direction, &recv_rids);
            let mut desc = t.answer_desc(&cname, direction);
            if !recv_rids.is_empty() {
                desc.rids = recv_rids
                    .iter()
                    .map(|id| Rid {
                        id: id.clone(),
                        send: false,
                        restrictions: String::new(),
                    })
                    .collect();
                desc.simulcast = Some(Simulcast {
                    send: Vec::new(),
                    recv: m
                        .rtp
                        .simulcast
                        .as_ref()
                        .map(|s| s.send.clone())
                        .unwrap_or_else(|| recv_rids.iter().map(|r| vec![r.clone()]).collect()),
                });
            }
            slots.push(Slot {
                mid,
                kind: SlotKind::Media(id),
            });
            descs.push(Some(desc));
        }
        // The transport: the first accepted bundled section (RFC 8843 §7.3.1).
        let transport = sdp
            .media
            .iter()
            .zip(&slots)
            .find(|(_, s)| !matches!(s.kind, SlotKind::Rejected(_)))
            .map(|(m, _)| m.clone())
            .ok_or(JsepError::Unusable(
                "no audio, video or data channel m-line we can accept",
            ))?;
        // RFC 8842 §5.2: the answerer picks; active (DTLS client) unless the offerer
        // insists on being active itself.
        let role = match (self.negotiated.as_ref().map(|n| n.role), transport.setup) {
            (Some(r), _) => r,
            (None, Some(Setup::Active)) => DtlsRole::Server,
            (None, Some(Setup::Passive | Setup::ActPass) | None) => DtlsRole::Client,
        };
        // ICE: the offerer controls, unless one side is lite (the full agent controls).
        let controlling = !self.config.ice_lite && sdp.ice_lite;
        let data = data_index.and_then(|i| sdp.media.get(i)).cloned();
        self.apply_remote(now, &transport, data.as_ref(), role, controlling)?;
        self.sections = slots.clone();
        for id in added {
            if let Some(t) = self.transceiver(id) {
                self.events.push_back(RtcEvent::MediaAdded {
                    id,
                    mid: t.mid.clone().unwrap_or_default(),
                    kind: t.kind.clone(),
                    direction: t.current.unwrap_or(Direction::Inactive),
                });
            }
        }
        let setup = match role {
            DtlsRole::Client => Setup::Active,
            DtlsRole::Server => Setup::Passive,
        };
        let text = self.describe(&slots, &descs, setup);
        self.media_negotiated(now);
        Ok(text)
    }

    /// Takes the peer's answer to our offer (have-local-offer → stable).
    pub fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.signaling != SignalingState::HaveLocalOffer {
            return Err(JsepError::WrongState("accept_answer", self.signaling).into());
        }
        let slots = self.pending_offer.clone().unwrap_or_default();
        let sdp = Sdp::parse(answer).map_err(JsepError::from)?;
        if sdp.media.len() != slots.len() {
            return Err(JsepError::AnswerMismatch("m-line count differs from the offer").into());
        }
        let mut data = None;
        let mut transport = None;
        let mut updates = Vec::new();
        for (slot, m) in slots.iter().zip(&sdp.media) {
            if m.mid.as_deref().is_some_and(|mid| mid != slot.mid) {
                return Err(JsepError::AnswerMismatch("mids differ from the offer").into());
            }
            match &slot.kind {
                SlotKind::Data if m.is_datachannel() && !m.is_rejected() => {
                    data = Some(m.clone());
                    transport.get_or_insert_with(|| m.clone());
                }
                SlotKind::Data => {}
                SlotKind::Media(id) if m.is_rtp() && !m.is_rejected() => {
                    let Some(t) = self.transceiver(*id) else {
                        continue;
                    };
                    let codecs = accept_answer_codecs(&t.local_codecs, &m.rtp.codecs);
                    if codecs.is_empty() {
                        updates.push((*id, None));
                        continue;
                    }
                    let exts: Vec<_> = m
                        .rtp
                        .extmaps
                        .iter()
                        .filter(|e| t.local_exts.iter().any(|o| o.uri == e.uri))
                        .cloned()
                        .collect();
                    // The answer's direction is the peer's; ours is its mirror, within
                    // what we want.
                    let theirs = m.rtp.direction.reverse();
                    let direction = Direction::from_flags(
                        theirs.sends() && t.wanted.sends(),
                        theirs.receives() && t.wanted.receives(),
                    );
                    updates.push((*id, Some((m.rtp.clone(), codecs, exts, direction))));
                    transport.get_or_insert_with(|| m.clone());
                }
                SlotKind::Media(id) => updates.push((*id, None)),
                SlotKind::Rejected(_) => {}
            }
        }
        let transport = transport.ok_or(JsepError::AnswerMismatch("every m-line was rejected"))?;
        let role = match (self.negotiated.as_ref().map(|n| n.role), transport.setup) {
            (Some(r), _) => r,
            (None, Some(Setup::Active)) => DtlsRole::Server,
            (None, Some(Setup::Passive)) => DtlsRole::Client,
            (None, _) => {
                return Err(JsepError::AnswerMismatch("a=setup must be active or passive").into());
            }
        };
        let controlling = !self.config.ice_lite;
        self.apply_remote(now, &transport, data.as_ref(), role, controlling)?;
        for (id, update) in updates {
            let Some(t) = self.transceiver_mut(id) else {
                continue;
            };
            match update {
                Some((rtp, codecs, exts, direction)) => {
                    let rids: Vec<String> = rtp
                        .rids
                        .iter()
                        .filter(|r| r.send)
                        .map(|r| r.id.clone())
                        .collect();
                    t.apply_remote(&rtp, codecs, exts, direction, &rids);
                }
                None => t.reject(),
            }
        }
        self.sections = slots;
        self.pending_offer = None;
        self.media_negotiated(now);
        Ok(())
    }

    /// Applies what a remote description says to ICE, DTLS and SCTP: `transport` is the
    /// section whose ICE and DTLS attributes the bundle uses, `data` the data channel
    /// section if one was accepted.
    fn apply_remote(
        &mut self,
        now: Instant,
        transport: &MediaSection,
        data: Option<&MediaSection>,
        role: DtlsRole,
        controlling: bool,
    ) -> Result<(), RtcError> {
        let creds = transport
            .ice
            .clone()
            .ok_or(JsepError::Unusable("no a=ice-ufrag/a=ice-pwd"))?;
        if transport.fingerprints.is_empty() {
            return Err(JsepError::Unusable("no usable a=fingerprint").into());
        }
        let first = self.negotiated.is_none();
        if !first && self.ice.remote_credentials().is_some_and(|c| *c != creds) {
            // An ICE restart by the peer (RFC 8445 §9): new credentials, new checks, the
            // old pair carries data until a new one is selected.
            self.ice.restart(now, None);
        }
        if first || self.ice.remote_credentials() != Some(&creds) {
            self.ice.set_remote_credentials(creds)?;
        }
        if first && !self.config.ice_lite {
            self.ice.set_controlling(controlling);
        }
        for c in &transport.candidates {
            let _ = self.add_remote_candidate(c.clone());
        }
        if transport.end_of_candidates {
            self.ice.end_of_remote_candidates();
        }
        self.remote_fingerprints = transport.fingerprints.clone();
        let remote_port = data.and_then(|d| d.sctp_port).unwrap_or(OUR_SCTP_PORT);
        let max_message = data.and_then(|d| d.max_message_size).unwrap_or(65536);
        if first {
            let mut dtls = Dtls::new(dtls_config(&self.config), self.cert.clone(), role)?;
            dtls.set_remote_fingerprints(self.remote_fingerprints.clone());
            self.dtls = Some(dtls);
            self.negotiated = Some(Negotiated {
                role,
                remote_sctp_port: remote_port,
                remote_max_message_size: max_message,
            });
            self.set_state(RtcState::Connecting);
        } else if let Some(d) = self.dtls.as_mut() {
            d.set_remote_fingerprints(self.remote_fingerprints.clone());
        }
        if data.is_some() {
            if let Some(dc) = self.dc.as_mut() {
                dc.association_mut()
                    .set_remote_max_message_size(max_message);
            } else {
                // The data channel section, in the first exchange or a later one.
                self.dc = Some(DataChannels::new(
                    dc_config(&self.config, role, remote_port, max_message),
                    now,
                ));
                self.sctp_started = false;
                self.create_pending_channels();
            }
            if let Some(n) = self.negotiated.as_mut() {
                n.remote_max_message_size = max_message;
                n.remote_sctp_port = remote_port;
            }
        }
        self.signaling = SignalingState::Stable;
        self.drive(now);
        Ok(())
    }
}
