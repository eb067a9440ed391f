//! JSEP (RFC 9429): the offer/answer state machine and typed SDP for a WebRTC peer
//! connection with one bundled transport: audio and video m-lines ([`MediaDesc`]) and a
//! data channel m-line; codec and header extension negotiation in [`codecs`].
//!
//! Parsing rides on the `sdp` crate; [`Sdp`] types the attributes WebRTC needs
//! (ICE credentials and candidates, fingerprints, `a=setup`, mids and BUNDLE, the data
//! channel section). Malformed SDP is an [`SdpError`] naming the line, never a panic.
//!
//! ```
//! use sansrtc::jsep::Sdp;
//! let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
//!     m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
//!     a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
//!     a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
//!     a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n\
//!     a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n";
//! let sdp = Sdp::parse(offer).unwrap();
//! let (_, dc) = sdp.datachannel().unwrap();
//! assert_eq!(dc.sctp_port, Some(5000));
//! assert_eq!(dc.candidates.len(), 1);
//! let bad = Sdp::parse("v=0\r\nbogus\r\n").unwrap_err();
//! assert_eq!(bad.line, Some(2));
//! ```

pub mod codecs;
mod description;
mod media;
#[cfg(test)]
mod media_tests;
#[cfg(test)]
mod tests;

pub use codecs::CodecKind;
pub use description::{
    DATACHANNEL_FORMAT, DATACHANNEL_PROTO, MAX_CANDIDATES, MAX_MEDIA_SECTIONS, MAX_SDP_LEN,
    MediaKind, MediaSection, RTP_PROTO, Sdp, SdpError, Setup,
};
pub(crate) use description::{LocalSection, RejectedSection, Section, write};
pub use media::{
    Codec, Direction, Extmap, Fmtp, MAX_CODECS, MAX_SSRCS, MediaDesc, Msid, Rid, Simulcast,
    SsrcDesc, SsrcGroup,
};

/// Where the offer/answer exchange stands (the W3C `RTCSignalingState` values we use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    /// No exchange in progress.
    Stable,
    /// We made an offer and wait for the answer.
    HaveLocalOffer,
}

/// JSEP errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsepError {
    /// The SDP did not parse.
    #[error(transparent)]
    Sdp(#[from] SdpError),
    /// The call does not fit the signaling state (e.g. an answer without an offer).
    #[error("{0} is not allowed in state {1:?}")]
    WrongState(&'static str, SignalingState),
    /// The description lacks something WebRTC requires.
    #[error("unusable description: {0}")]
    Unusable(&'static str),
    /// The answer does not match our offer.
    #[error("answer does not match the offer: {0}")]
    AnswerMismatch(&'static str),
}
