//! SRTP tests: the RFC test vectors, rollover, replay and tampering.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 3711 Appendix B.3: the key derivation test vectors.
#[test]
fn kdf_rfc3711_b3() {
    let mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let ms = hex("0EC675AD498AFEEBB6960B3AABE6");
    let mut enc = [0u8; 16];
    let mut salt = [0u8; 14];
    let mut auth = [0u8; 20];
    kdf::derive(&mk, &ms, kdf::label::SRTP_ENCRYPTION, &mut enc).unwrap();
    kdf::derive(&mk, &ms, kdf::label::SRTP_SALT, &mut salt).unwrap();
    kdf::derive(&mk, &ms, kdf::label::SRTP_AUTH, &mut auth).unwrap();
    assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
    assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

/// RFC 3711 Appendix B.2: the AES-CM keystream for SSRC 0, index 0. An all-zero payload
/// encrypts to the keystream itself.
#[test]
fn aes_cm_keystream_rfc3711_b2() {
    let key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    let salt = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
    let mut ctx =
        SrtpContext::from_session_keys(Profile::Aes128CmHmacSha1_80, &key, &salt, &[0; 20])
            .unwrap();
    let mut buf = [0u8; 12 + 48 + 10];
    buf[0] = 0x80;
    let n = ctx.protect_rtp(&mut buf, 12 + 48).unwrap();
    assert_eq!(n, 70);
    let want = hex(
        "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0",
    );
    assert_eq!(&buf[12..60], &want[..]);
}

const GCM_SALT: &str = "517569642070726f2071756f";
const RTP_HDR: &str = "8040f17b8041f8d35501a0b2";

fn gallia() -> Vec<u8> {
    let mut p = hex(RTP_HDR);
    p.extend_from_slice(b"Gallia est omnis divisa in partes tres");
    p
}

fn gcm_rtp_vector(profile: Profile, key: &str, out: &str) {
    let key = hex(key);
    let salt = hex(GCM_SALT);
    let plain = gallia();
    let want = [hex(RTP_HDR), hex(out)].concat();
    let mut tx = SrtpContext::from_session_keys(profile, &key, &salt, &[]).unwrap();
    let mut buf = vec![0u8; plain.len() + 16];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &want[..]);
    let mut rx = SrtpContext::from_session_keys(profile, &key, &salt, &[]).unwrap();
    let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..m], &plain[..]);
}

/// RFC 7714 §16.1.1: AEAD_AES_128_GCM on RTP.
#[test]
fn gcm128_rtp_rfc7714() {
    gcm_rtp_vector(
        Profile::AeadAes128Gcm,
        "000102030405060708090a0b0c0d0e0f",
        "f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833\
         899d7f27beb16a9152cf765ee4390cce",
    );
}

/// RFC 7714 §16.2.1: AEAD_AES_256_GCM on RTP.
#[test]
fn gcm256_rtp_rfc7714() {
    gcm_rtp_vector(
        Profile::AeadAes256Gcm,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "32b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13",
    );
}

const RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61\
                    deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

fn gcm_rtcp_vector(profile: Profile, key: &str, out: &str) {
    let key = hex(key);
    let salt = hex(GCM_SALT);
    let plain = hex(RTCP);
    let want = hex(out);
    // Protect with the vector's SRTCP index, 0x5d4.
    let mut tx = SrtpContext::from_session_keys(profile, &key, &salt, &[]).unwrap();
    tx.state(0x4d61_7273).unwrap().rtcp_index = 0x5d3;
    let mut buf = vec![0u8; plain.len() + 20];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtcp(&mut buf, plain.len()).unwrap();
    assert_eq!(&buf[..n], &want[..]);
    let mut rx = SrtpContext::from_session_keys(profile, &key, &salt, &[]).unwrap();
    let m = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..m], &plain[..]);
    // The same packet again is a replay.
    let mut again = want.clone();
    assert_eq!(rx.unprotect_rtcp(&mut again), Err(SrtpError::Replay));
}

/// RFC 7714 §17.1.1: AEAD_AES_128_GCM on RTCP, encrypted.
#[test]
fn gcm128_rtcp_rfc7714() {
    gcm_rtcp_vector(
        Profile::AeadAes128Gcm,
        "000102030405060708090a0b0c0d0e0f",
        "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda\
         4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4",
    );
}

/// RFC 7714 §17.2.1: AEAD_AES_256_GCM on RTCP, encrypted.
#[test]
fn gcm256_rtcp_rfc7714() {
    gcm_rtcp_vector(
        Profile::AeadAes256Gcm,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be\
         8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4",
    );
}

/// RFC 7714 §17.1.2: an authenticated-only (E = 0) SRTCP packet is accepted and left
/// as it was.
#[test]
fn gcm128_rtcp_auth_only_rfc7714() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let mut rx =
        SrtpContext::from_session_keys(Profile::AeadAes128Gcm, &key, &hex(GCM_SALT), &[]).unwrap();
    let mut pkt = [hex(RTCP), hex("841dd9683dd78ec92ae58790125f62b3000005d4")].concat();
    let m = rx.unprotect_rtcp(&mut pkt).unwrap();
    assert_eq!(&pkt[..m], &hex(RTCP)[..]);
}

const ALL: [Profile; 4] = [
    Profile::Aes128CmHmacSha1_80,
    Profile::Aes128CmHmacSha1_32,
    Profile::AeadAes128Gcm,
    Profile::AeadAes256Gcm,
];

fn pair(profile: Profile) -> (SrtpContext, SrtpContext) {
    let key: Vec<u8> = (0..profile.key_len() as u8).collect();
    let salt: Vec<u8> = (100..100 + profile.salt_len() as u8).collect();
    let tx = SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap();
    let rx = SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap();
    (tx, rx)
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&u32::from(seq).wrapping_mul(960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; plain.len() + 16];
    buf[..plain.len()].copy_from_slice(plain);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

/// Every profile round-trips RTP and RTCP, with the stated overhead.
#[test]
fn round_trip_all_profiles() {
    for profile in ALL {
        let (mut tx, mut rx) = pair(profile);
        for seq in 0..50u16 {
            let plain = rtp(seq, 7, &[seq as u8; 100]);
            let mut sealed = protect(&mut tx, &plain);
            assert_eq!(sealed.len(), plain.len() + profile.rtp_overhead());
            assert_ne!(
                &sealed[12..112],
                &plain[12..],
                "{profile:?} payload encrypted"
            );
            let n = rx.unprotect_rtp(&mut sealed).unwrap();
            assert_eq!(&sealed[..n], &plain[..]);
        }
        let rr = hex("81c90007000000070000000100000000000000000000000000000000");
        let mut buf = vec![0u8; rr.len() + 20];
        buf[..rr.len()].copy_from_slice(&rr);
        let n = tx.protect_rtcp(&mut buf, rr.len()).unwrap();
        assert_eq!(n, rr.len() + profile.rtcp_overhead());
        let m = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
        assert_eq!(&buf[..m], &rr[..]);
        assert_eq!(rx.stats().unprotected, 51);
    }
}

/// The rollover counter follows the sequence number across 65535 → 0, also with packets
/// reordered around the wrap (RFC 3711 §3.3.1).
#[test]
fn rollover_across_wrap() {
    for profile in ALL {
        let (mut tx, mut rx) = pair(profile);
        let seqs: Vec<u16> = (65000..=65535).chain(0..600).collect();
        let sealed: Vec<Vec<u8>> = seqs
            .iter()
            .map(|&s| protect(&mut tx, &rtp(s, 9, b"x")))
            .collect();
        // Deliver in pairs swapped: 65535 arrives after 0, and so on.
        let mut order: Vec<usize> = (0..sealed.len()).collect();
        for pair in order.chunks_mut(2) {
            pair.reverse();
        }
        for i in order {
            let mut p = sealed[i].clone();
            let n = rx
                .unprotect_rtp(&mut p)
                .unwrap_or_else(|e| panic!("{profile:?} seq {}: {e}", seqs[i]));
            assert_eq!(&p[12..n], b"x");
        }
        assert_eq!(rx.ssrcs[&9].roc, 1);
        // A second wrap.
        for s in (600..=65535).chain(0..10) {
            let mut p = protect(&mut tx, &rtp(s, 9, b"y"));
            rx.unprotect_rtp(&mut p).unwrap();
        }
        assert_eq!(rx.ssrcs[&9].roc, 2);
        assert_eq!(tx.ssrcs[&9].roc, 2);
    }
}

/// A resent packet keeps the index it had (the sender's ROC does not move back), and
/// the receiver takes it once.
#[test]
fn retransmission_keeps_index_and_replays_are_refused() {
    let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm);
    let first = protect(&mut tx, &rtp(65535, 1, b"a"));
    let _ = protect(&mut tx, &rtp(0, 1, b"b"));
    let again = protect(&mut tx, &rtp(65535, 1, b"a"));
    assert_eq!(first, again, "same index, same keystream, same packet");
    let mut p = first.clone();
    rx.unprotect_rtp(&mut p).unwrap();
    let mut p = again.clone();
    assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::Replay));
    assert_eq!(rx.stats().replays, 1);
}

/// Packets older than the window are refused; reordering inside it is accepted.
#[test]
fn replay_window_bounds() {
    let (mut tx, mut rx) = pair(Profile::Aes128CmHmacSha1_80);
    let sealed: Vec<Vec<u8>> = (0..3000u16)
        .map(|s| protect(&mut tx, &rtp(s, 3, b"z")))
        .collect();
    let mut p = sealed[2999].clone();
    rx.unprotect_rtp(&mut p).unwrap();
    // 1023 back: inside the 1024 window.
    let mut p = sealed[2999 - 1023].clone();
    rx.unprotect_rtp(&mut p).unwrap();
    // 1024 back: outside.
    let mut p = sealed[2999 - 1024].clone();
    assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::Replay));
    // Every one in between, in reverse, then all again as replays.
    for i in (2000..2999).rev() {
        let mut p = sealed[i].clone();
        rx.unprotect_rtp(&mut p).unwrap();
    }
    for i in std::iter::once(1976).chain(2000..3000) {
        let mut p = sealed[i].clone();
        assert_eq!(
            rx.unprotect_rtp(&mut p),
            Err(SrtpError::Replay),
            "index {i}"
        );
    }
}

/// A flipped bit anywhere fails authentication and changes no state: the genuine packet
/// is accepted afterwards.
#[test]
fn tampering_is_refused() {
    for profile in ALL {
        let (mut tx, mut rx) = pair(profile);
        let sealed = protect(&mut tx, &rtp(5, 1, b"some payload bytes"));
        for bit in 0..sealed.len() * 8 {
            let mut p = sealed.clone();
            p[bit / 8] ^= 1 << (bit % 8);
            let r = rx.unprotect_rtp(&mut p);
            assert!(r.is_err(), "{profile:?} bit {bit} accepted");
        }
        let mut p = sealed.clone();
        rx.unprotect_rtp(&mut p).unwrap();
        // RTCP too.
        let sr = hex(RTCP);
        let mut buf = vec![0u8; sr.len() + 20];
        buf[..sr.len()].copy_from_slice(&sr);
        let n = tx.protect_rtcp(&mut buf, sr.len()).unwrap();
        for bit in 0..n * 8 {
            let mut p = buf[..n].to_vec();
            p[bit / 8] ^= 1 << (bit % 8);
            assert!(
                rx.unprotect_rtcp(&mut p).is_err(),
                "{profile:?} rtcp bit {bit} accepted"
            );
        }
        rx.unprotect_rtcp(&mut buf[..n]).unwrap();
    }
}

/// A packet from a different key fails; a short or non-RTP buffer is malformed; the
/// SSRC table is bounded.
#[test]
fn wrong_key_malformed_and_ssrc_limit() {
    let (mut tx, _) = pair(Profile::Aes128CmHmacSha1_80);
    let mut other = SrtpContext::new(
        Profile::Aes128CmHmacSha1_80,
        &[1; 16],
        &[2; 14],
        SrtpConfig::default(),
    )
    .unwrap();
    let mut p = protect(&mut tx, &rtp(1, 1, b"q"));
    assert_eq!(other.unprotect_rtp(&mut p), Err(SrtpError::AuthFailed));
    assert_eq!(
        other.unprotect_rtp(&mut [0x80, 0, 0]),
        Err(SrtpError::Malformed)
    );
    assert_eq!(
        other.unprotect_rtp(&mut [0u8; 40]),
        Err(SrtpError::Malformed)
    );
    assert_eq!(
        other.unprotect_rtcp(&mut [0x80; 10]),
        Err(SrtpError::Malformed)
    );
    let mut small = [0u8; 20];
    small[..13].copy_from_slice(&rtp(1, 1, b"q"));
    assert_eq!(tx.protect_rtp(&mut small, 13), Err(SrtpError::NoRoom));
    let config = SrtpConfig {
        max_ssrcs: 4,
        ..SrtpConfig::default()
    };
    let mut tx = SrtpContext::new(Profile::AeadAes128Gcm, &[1; 16], &[2; 12], config).unwrap();
    for ssrc in 0..4 {
        protect(&mut tx, &rtp(1, ssrc, b"q"));
    }
    let mut buf = [0u8; 40];
    buf[..13].copy_from_slice(&rtp(1, 99, b"q"));
    assert_eq!(tx.protect_rtp(&mut buf, 13), Err(SrtpError::TooManySsrcs));
    assert_eq!(
        SrtpContext::new(Profile::AeadAes128Gcm, &[1; 16], &[2; 14], config).err(),
        Some(SrtpError::BadKey)
    );
}

/// The first packet seen with a sequence number far below the first one is from before
/// the stream (ROC would be -1): refused, not wrapped.
#[test]
fn packet_before_the_first_period_is_refused() {
    let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm);
    let early = protect(&mut tx, &rtp(65530, 4, b"e"));
    let _ = protect(&mut tx, &rtp(65535, 4, b"e"));
    let late = protect(&mut tx, &rtp(10, 4, b"l"));
    // The receiver starts at 65530 (ROC 0) and follows the sender into ROC 1.
    let mut p = early.clone();
    rx.unprotect_rtp(&mut p).unwrap();
    let mut p = late.clone();
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(rx.ssrcs[&4].roc, 1);
    // Start the receiver fresh at seq 10 with ROC 0 (a sender that starts at 10).
    let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm);
    let mut p = protect(&mut tx, &rtp(10, 4, b"l"));
    rx.unprotect_rtp(&mut p).unwrap();
    let mut q = protect(&mut tx, &rtp(65000, 4, b"o"));
    // 65000 after 10 is more than half the space back: the period before ROC 0, which
    // the sender cannot have sent (it has no index); the receiver refuses it.
    assert_eq!(rx.unprotect_rtp(&mut q), Err(SrtpError::Replay));
}

/// Forged packets (RTP and RTCP) of a thousand SSRCs leave no state: the table stays
/// empty, and real streams are not locked out by a full table.
#[test]
fn forgeries_make_no_ssrc_state() {
    for profile in [Profile::Aes128CmHmacSha1_80, Profile::AeadAes128Gcm] {
        let (_, mut rx) = pair(profile);
        let key: Vec<u8> = (0..profile.key_len() as u8).collect();
        let salt: Vec<u8> = (100..100 + profile.salt_len() as u8).collect();
        let big = SrtpConfig {
            max_ssrcs: 4096,
            ..SrtpConfig::default()
        };
        let mut tx = SrtpContext::new(profile, &key, &salt, big).unwrap();
        for ssrc in 0..1000u32 {
            let mut p = protect(&mut tx, &rtp(1, ssrc, b"payload"));
            let last = p.len() - 1;
            p[last] ^= 1;
            assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::AuthFailed));
            let mut c = vec![0x80, 201, 0, 1];
            c.extend_from_slice(&ssrc.to_be_bytes());
            c.extend_from_slice(&[0u8; 40]);
            assert!(rx.unprotect_rtcp(&mut c).is_err());
        }
        assert_eq!(rx.ssrc_count(), 0, "{profile:?}");
        assert_eq!(rx.stats().auth_failures, 2000, "{profile:?}");
        // Real streams still get in, up to the bound.
        for ssrc in 0..256u32 {
            let mut p = protect(&mut tx, &rtp(2, 5000 + ssrc, b"payload"));
            assert!(rx.unprotect_rtp(&mut p).is_ok(), "{profile:?} {ssrc}");
        }
        assert_eq!(rx.ssrc_count(), 256);
        let mut p = protect(&mut tx, &rtp(2, 1, b"payload"));
        assert_eq!(rx.unprotect_rtp(&mut p), Err(SrtpError::TooManySsrcs));
    }
}
