//! Offer/answer (RFC 9429) for the peer connection: one bundled transport with a data
//! channel m-line; other m-lines in a remote offer are rejected (port 0).

use super::*;
use crate::jsep::{LocalSection, MediaSection, RejectedSection, Sdp, Section, Setup, write};

/// The mid of the data channel m-line in our offers.
const OUR_MID: &str = "0";
/// The SCTP port we announce (RFC 8841 §5: 5000 by convention).
const OUR_SCTP_PORT: u16 = 5000;

impl Rtc {
    /// Makes an offer (state becomes have-local-offer). Our host candidates so far are
    /// in it; `a=end-of-candidates` too once [`end_of_local_candidates`](Self::end_of_local_candidates)
    /// was called.
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
        let mid = self
            .negotiated
            .as_ref()
            .map_or(OUR_MID.to_string(), |n| n.mid.clone());
        let text = self.describe(&mid, setup, &[]);
        self.signaling = SignalingState::HaveLocalOffer;
        Ok(text)
    }

    /// Abandons our pending offer (have-local-offer → stable).
    pub fn rollback(&mut self) {
        if self.signaling == SignalingState::HaveLocalOffer {
            self.signaling = SignalingState::Stable;
        }
    }

    fn describe(&mut self, mid: &str, setup: Setup, remote_media: &[MediaSection]) -> String {
        let candidates: Vec<Candidate> = self.ice.local_candidates().cloned().collect();
        let creds = self.ice.local_credentials().clone();
        let fingerprint = self.cert.fingerprint().clone();
        let local = LocalSection {
            mid,
            credentials: &creds,
            fingerprint: &fingerprint,
            setup,
            candidates: &candidates,
            end_of_candidates: self.local_gathering_done,
            sctp_port: OUR_SCTP_PORT,
            max_message_size: self.config.sctp.max_receive_message_size,
        };
        let sections: Vec<Section<'_>> = if remote_media.is_empty() {
            vec![Section::DataChannel(local)]
        } else {
            // An answer: one section per offered m-line, in order; the first usable data
            // channel section is ours, the rest rejected.
            let dc_index = remote_media
                .iter()
                .position(|m| m.is_datachannel() && !m.is_rejected());
            remote_media
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    if Some(i) == dc_index {
                        Section::DataChannel(local.clone())
                    } else {
                        Section::Rejected(RejectedSection { section: m })
                    }
                })
                .collect()
        };
        let text = write(
            self.session_id,
            self.session_version,
            self.config.ice_lite,
            &sections,
        );
        self.session_version += 1;
        text
    }

    /// Takes the peer's offer and returns our answer (stable → stable). Audio and video
    /// m-lines are rejected; the data channel m-line is accepted.
    pub fn accept_offer(&mut self, now: Instant, offer: &str) -> Result<String, RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.signaling != SignalingState::Stable {
            return Err(JsepError::WrongState("accept_offer", self.signaling).into());
        }
        let sdp = Sdp::parse(offer).map_err(JsepError::from)?;
        let (_, dc) = sdp
            .datachannel()
            .ok_or(JsepError::Unusable("no data channel m-line"))?;
        let dc = dc.clone();
        // RFC 8842 §5.2: the answerer picks; active (DTLS client) unless the offerer
        // insists on being active itself.
        let role = match (self.negotiated.as_ref().map(|n| n.role), dc.setup) {
            (Some(r), _) => r,
            (None, Some(Setup::Active)) => DtlsRole::Server,
            (None, Some(Setup::Passive | Setup::ActPass) | None) => DtlsRole::Client,
        };
        let mid = dc.mid.clone().unwrap_or_else(|| OUR_MID.to_string());
        // ICE: the offerer controls, unless one side is lite (the full agent controls).
        let controlling = !self.config.ice_lite && sdp.ice_lite;
        self.apply_remote(now, &sdp, &dc, role, controlling, &mid)?;
        let setup = match role {
            DtlsRole::Client => Setup::Active,
            DtlsRole::Server => Setup::Passive,
        };
        Ok(self.describe(&mid, setup, &sdp.media))
    }

    /// Takes the peer's answer to our offer (have-local-offer → stable).
    pub fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), RtcError> {
        if self.closed {
            return Err(RtcError::Closed);
        }
        if self.signaling != SignalingState::HaveLocalOffer {
            return Err(JsepError::WrongState("accept_answer", self.signaling).into());
        }
        let sdp = Sdp::parse(answer).map_err(JsepError::from)?;
        if sdp.media.len() != 1 {
            return Err(JsepError::AnswerMismatch("m-line count differs from the offer").into());
        }
        let (_, dc) = sdp.datachannel().ok_or(JsepError::AnswerMismatch(
            "the data channel m-line was rejected",
        ))?;
        let dc = dc.clone();
        let role = match (self.negotiated.as_ref().map(|n| n.role), dc.setup) {
            (Some(r), _) => r,
            (None, Some(Setup::Active)) => DtlsRole::Server,
            (None, Some(Setup::Passive)) => DtlsRole::Client,
            (None, _) => {
                return Err(JsepError::AnswerMismatch("a=setup must be active or passive").into());
            }
        };
        let mid = dc.mid.clone().unwrap_or_else(|| OUR_MID.to_string());
        let controlling = !self.config.ice_lite;
        self.apply_remote(now, &sdp, &dc, role, controlling, &mid)?;
        Ok(())
    }

    /// Applies what a remote description says to ICE, DTLS and SCTP.
    fn apply_remote(
        &mut self,
        now: Instant,
        sdp: &Sdp,
        dc: &MediaSection,
        role: DtlsRole,
        controlling: bool,
        mid: &str,
    ) -> Result<(), RtcError> {
        let creds = dc
            .ice
            .clone()
            .ok_or(JsepError::Unusable("no a=ice-ufrag/a=ice-pwd"))?;
        if dc.fingerprints.is_empty() {
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
        for c in &dc.candidates {
            let _ = self.add_remote_candidate(c.clone());
        }
        if dc.end_of_candidates {
            self.ice.end_of_remote_candidates();
        }
        self.remote_fingerprints = dc.fingerprints.clone();
        let remote_port = dc.sctp_port.unwrap_or(OUR_SCTP_PORT);
        let max_message = dc.max_message_size.unwrap_or(65536);
        if first {
            let mut dtls = Dtls::new(dtls_config(&self.config), self.cert.clone(), role)?;
            dtls.set_remote_fingerprints(self.remote_fingerprints.clone());
            self.dtls = Some(dtls);
            self.dc = Some(DataChannels::new(
                dc_config(&self.config, role, remote_port, max_message),
                now,
            ));
            self.negotiated = Some(Negotiated {
                role,
                mid: mid.to_string(),
                remote_sctp_port: remote_port,
                remote_max_message_size: max_message,
            });
            self.create_pending_channels();
            self.set_state(RtcState::Connecting);
        } else {
            if let Some(d) = self.dtls.as_mut() {
                d.set_remote_fingerprints(self.remote_fingerprints.clone());
            }
            if let Some(n) = self.negotiated.as_mut() {
                n.remote_max_message_size = max_message;
                n.remote_sctp_port = remote_port;
            }
            if let Some(dc) = self.dc.as_mut() {
                dc.association_mut()
                    .set_remote_max_message_size(max_message);
            }
        }
        self.signaling = SignalingState::Stable;
        let _ = sdp;
        self.drive(now);
        Ok(())
    }
}
