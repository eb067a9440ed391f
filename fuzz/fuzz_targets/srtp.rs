//! SRTP/SRTCP on arbitrary bytes: unprotect never panics, and whatever the input, a
//! protected packet unprotects to exactly what was protected.
//!
//! The first byte picks the profile; the rest is tried as an SRTP packet, an SRTCP packet,
//! and as plaintext RTP/RTCP for a protect → unprotect round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::srtp::{Profile, SrtpConfig, SrtpContext};

const PROFILES: [Profile; 4] = [
    Profile::Aes128CmHmacSha1_80,
    Profile::Aes128CmHmacSha1_32,
    Profile::AeadAes128Gcm,
    Profile::AeadAes256Gcm,
];

fn context(profile: Profile) -> SrtpContext {
    let key = vec![0x42; profile.key_len()];
    let salt = vec![0x17; profile.salt_len()];
    let config = SrtpConfig {
        replay_window: 128,
        max_ssrcs: 4,
    };
    SrtpContext::new(profile, &key, &salt, config).expect("valid key lengths")
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let profile = PROFILES[usize::from(pick) % PROFILES.len()];
    let mut rx = context(profile);

    // Hostile SRTP and SRTCP.
    let _ = rx.unprotect_rtp(&mut rest.to_vec());
    let _ = rx.unprotect_rtcp(&mut rest.to_vec());

    // Round trips.
    let mut tx = context(profile);
    let mut rx = context(profile);
    let mut buf = rest.to_vec();
    buf.resize(rest.len() + 32, 0);
    if let Ok(n) = tx.protect_rtp(&mut buf, rest.len()) {
        let m = rx
            .unprotect_rtp(&mut buf[..n])
            .expect("own SRTP unprotects");
        assert_eq!(&buf[..m], rest);
    }
    let mut buf = rest.to_vec();
    buf.resize(rest.len() + 32, 0);
    if let Ok(n) = tx.protect_rtcp(&mut buf, rest.len()) {
        let m = rx
            .unprotect_rtcp(&mut buf[..n])
            .expect("own SRTCP unprotects");
        assert_eq!(&buf[..m], rest);
    }
});
