//! The SDP parser on its own: any text into `Sdp::parse` (typed SDP on the `sdp` crate:
//! ICE credentials, fingerprints, setup, BUNDLE, candidates, the data channel and RTP
//! m-lines with codecs, extensions, SSRCs, rids and simulcast), and `Fmtp::parse` on
//! the same text. Seeds: real offers and answers from Chromium and aiortc
//! (`fuzz/seeds/sdp`). The whole peer connection's handling of SDP is the `rtc`
//! target's SDP mode.
//!
//! Checked: nothing panics; a description that parses has its bounds held
//! (`MAX_MEDIA_SECTIONS`, `MAX_CANDIDATES` per section, `MAX_CODECS`, `MAX_SSRCS`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::jsep::{Fmtp, MAX_CANDIDATES, MAX_CODECS, MAX_MEDIA_SECTIONS, MAX_SSRCS, Sdp};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Fmtp::parse(&text);
    if let Ok(sdp) = Sdp::parse(&text) {
        assert!(sdp.media.len() <= MAX_MEDIA_SECTIONS);
        for m in &sdp.media {
            assert!(m.candidates.len() <= MAX_CANDIDATES);
            assert!(m.rtp.codecs.len() <= MAX_CODECS);
            assert!(m.rtp.ssrcs.len() <= MAX_SSRCS);
            assert!(m.rtp.rids.len() <= MAX_SSRCS);
        }
        let _ = sdp.datachannel();
    }
});
