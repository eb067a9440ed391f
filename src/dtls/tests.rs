//! Unit tests of the DTLS endpoint: two endpoints in memory, with a hand-driven "network".

use std::sync::OnceLock;

use super::reassembly::{Outcome, Reassembler};
use super::wire::handshake::{Fragment, HandshakeType};
use super::wire::record::{ContentType, DTLS_1_2, RecordHeader, records};
use super::*;
use crate::rng::RngSource;
use crate::time::{Duration, Instant};

fn certs() -> &'static (DtlsCertificate, DtlsCertificate) {
    static C: OnceLock<(DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    C.get_or_init(|| {
        (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        )
    })
}

fn cfg(seed: u64) -> DtlsConfig {
    DtlsConfig {
        rng: RngSource::Seeded(seed),
        ..DtlsConfig::default()
    }
}

fn pair_with(c: DtlsConfig, s: DtlsConfig) -> (Dtls, Dtls) {
    let (ca, cb) = certs();
    let mut client = Dtls::new(c, ca.clone(), DtlsRole::Client).unwrap();
    let mut server = Dtls::new(s, cb.clone(), DtlsRole::Server).unwrap();
    client.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
    server.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
    (client, server)
}

fn drain(d: &mut Dtls) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while let Some(n) = d.poll_datagram(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn events(d: &mut Dtls) -> Vec<DtlsEvent> {
    core::iter::from_fn(|| d.poll_event()).collect()
}

/// Delivers everything both ways until nothing moves.
fn shuttle(a: &mut Dtls, b: &mut Dtls, now: Instant) {
    for _ in 0..20 {
        let (x, y) = (drain(a), drain(b));
        if x.is_empty() && y.is_empty() {
            return;
        }
        for d in x {
            b.handle_receive(now, &d);
        }
        for d in y {
            a.handle_receive(now, &d);
        }
    }
}

fn connected_pair() -> (Dtls, Dtls) {
    let (mut c, mut s) = pair_with(cfg(1), cfg(2));
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected() && s.is_connected());
    events(&mut c);
    events(&mut s);
    (c, s)
}

fn data_events(evs: &[DtlsEvent]) -> Vec<Vec<u8>> {
    evs.iter()
        .filter_map(|e| match e {
            DtlsEvent::ApplicationData(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_with_cookie_and_keys_agree() {
    let (mut c, mut s) = pair_with(cfg(1), cfg(2));
    c.start(Instant::ZERO);
    // Flight 1 → HelloVerifyRequest: the server keeps no state, sends one datagram.
    let f1 = drain(&mut c);
    assert_eq!(f1.len(), 1);
    s.handle_receive(Instant::ZERO, &f1[0]);
    let hvr = drain(&mut s);
    assert_eq!(hvr.len(), 1);
    assert_eq!(hvr[0][13], 3, "HelloVerifyRequest");
    // The HVR reuses the ClientHello's record sequence number (RFC 6347 §4.2.1).
    assert_eq!(hvr[0][5..11], f1[0][5..11]);
    assert_eq!(s.poll_timeout(), None, "no timer: stateless");
    c.handle_receive(Instant::ZERO, &hvr[0]);
    shuttle(&mut c, &mut s, Instant::ZERO);
    let (ec, es) = (events(&mut c), events(&mut s));
    let conn = |e: &[DtlsEvent]| match e.first() {
        Some(DtlsEvent::Connected(c)) => (**c).clone(),
        other => panic!("expected Connected first, got {other:?}"),
    };
    let (kc, ks) = (conn(&ec), conn(&es));
    assert_eq!(kc.cipher_suite, CipherSuite::EcdheEcdsaAes128GcmSha256);
    assert_eq!(kc.srtp, ks.srtp);
    assert_eq!(
        kc.srtp.as_ref().unwrap().profile,
        SrtpProfile::AeadAes128Gcm
    );
    assert_eq!(kc.peer_certificate, certs().1.der());
    assert_eq!(ks.peer_certificate, certs().0.der());
    let e1 = c
        .export_keying_material(b"label", Some(b"ctx"), 40)
        .unwrap();
    let e2 = s
        .export_keying_material(b"label", Some(b"ctx"), 40)
        .unwrap();
    assert_eq!(e1, e2);
    assert_ne!(e1, c.export_keying_material(b"label", None, 40).unwrap());
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn every_suite_and_group_connects() {
    for suite in CipherSuite::ALL {
        for group in [NamedGroup::X25519, NamedGroup::Secp256r1] {
            let c = DtlsConfig {
                cipher_suites: vec![suite],
                groups: vec![group],
                ..cfg(3)
            };
            let (mut c, mut s) = pair_with(c, cfg(4));
            c.start(Instant::ZERO);
            shuttle(&mut c, &mut s, Instant::ZERO);
            assert!(c.is_connected() && s.is_connected(), "{suite:?} {group:?}");
            c.send(b"ping").unwrap();
            shuttle(&mut c, &mut s, Instant::ZERO);
            assert_eq!(data_events(&events(&mut s)), vec![b"ping".to_vec()]);
        }
    }
}

#[test]
fn srtp_profile_follows_server_preference_or_is_absent() {
    let c = DtlsConfig {
        srtp_profiles: vec![
            SrtpProfile::Aes128CmHmacSha1_32,
            SrtpProfile::Aes128CmHmacSha1_80,
        ],
        ..cfg(5)
    };
    let s = DtlsConfig {
        srtp_profiles: vec![
            SrtpProfile::Aes128CmHmacSha1_80,
            SrtpProfile::Aes128CmHmacSha1_32,
        ],
        ..cfg(6)
    };
    let (mut c, mut s) = pair_with(c, s);
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    let k = c.srtp_keying_material().unwrap();
    assert_eq!(k.profile, SrtpProfile::Aes128CmHmacSha1_80);
    assert_eq!((k.client_key.len(), k.client_salt.len()), (16, 14));
    assert_eq!(
        k.local(DtlsRole::Client),
        s.srtp_keying_material().unwrap().remote(DtlsRole::Server)
    );
    // Data channels only: no use_srtp at all.
    let c = DtlsConfig {
        srtp_profiles: vec![],
        ..cfg(7)
    };
    let (mut c, mut s) = pair_with(c, cfg(8));
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected());
    assert_eq!(c.srtp_keying_material(), None);
    assert_eq!(s.srtp_keying_material(), None);
}

#[test]
fn replayed_truncated_and_flipped_records_are_dropped_and_counted() {
    let (mut c, mut s) = connected_pair();
    c.send(b"one").unwrap();
    let d = drain(&mut c).remove(0);
    s.handle_receive(Instant::ZERO, &d);
    assert_eq!(data_events(&events(&mut s)), vec![b"one".to_vec()]);
    let before = s.stats().clone();
    // Replay.
    s.handle_receive(Instant::ZERO, &d);
    assert_eq!(s.stats().dropped_replay, before.dropped_replay + 1);
    // Truncated: the record's length no longer fits the datagram.
    s.handle_receive(Instant::ZERO, &d[..d.len() - 1]);
    assert_eq!(s.stats().dropped_malformed, before.dropped_malformed + 1);
    // Every single flipped bit in a fresh record fails authentication (or framing).
    c.send(b"two").unwrap();
    let fresh = drain(&mut c).remove(0);
    for bit in (13 * 8)..(fresh.len() * 8) {
        let mut bad = fresh.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        s.handle_receive(Instant::ZERO, &bad);
    }
    let st = s.stats().clone();
    let flips = (fresh.len() - 13) as u64 * 8;
    assert_eq!(st.dropped_bad_auth, before.dropped_bad_auth + flips);
    assert!(
        events(&mut s).is_empty(),
        "nothing delivered from forgeries"
    );
    // The connection carries on: the genuine record still opens.
    s.handle_receive(Instant::ZERO, &fresh);
    assert_eq!(data_events(&events(&mut s)), vec![b"two".to_vec()]);
    assert!(s.is_connected());
}

#[test]
fn replay_window_accepts_reordering_within_64() {
    let (mut c, mut s) = connected_pair();
    let mut recs = Vec::new();
    for i in 0..100u32 {
        c.send(&i.to_be_bytes()).unwrap();
        recs.push(drain(&mut c).remove(0));
    }
    // Newest first, then the rest: everything within 64 of the top opens once.
    s.handle_receive(Instant::ZERO, &recs[99]);
    for r in recs.iter().rev().skip(1) {
        s.handle_receive(Instant::ZERO, r);
    }
    let got = data_events(&events(&mut s));
    assert_eq!(got.len(), 64, "the top and the 63 below it");
    assert_eq!(s.stats().dropped_replay, 36);
}

#[test]
fn fingerprint_mismatch_fails_both_sides_without_data() {
    let (ca, cb) = certs();
    let other = DtlsCertificate::generate().unwrap();
    let mut c = Dtls::new(cfg(9), ca.clone(), DtlsRole::Client).unwrap();
    let mut s = Dtls::new(cfg(10), cb.clone(), DtlsRole::Server).unwrap();
    c.set_remote_fingerprints(vec![other.fingerprint().clone()]);
    s.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
    c.send(b"secret").unwrap();
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    let (ec, es) = (events(&mut c), events(&mut s));
    assert!(!c.is_connected() && !s.is_connected());
    assert!(c.is_closed() && s.is_closed());
    assert!(data_events(&es).is_empty());
    assert!(matches!(
        ec.last(),
        Some(DtlsEvent::Closed(CloseReason::Failed(
            DtlsError::HandshakeFailed {
                alert: AlertDescription::BadCertificate,
                ..
            }
        )))
    ));
    assert_eq!(
        es.last(),
        Some(&DtlsEvent::Closed(CloseReason::Failed(
            DtlsError::AlertReceived(AlertDescription::BadCertificate)
        )))
    );
}

#[test]
fn fingerprint_given_late_holds_the_connection() {
    let (ca, cb) = certs();
    let mut c = Dtls::new(cfg(11), ca.clone(), DtlsRole::Client).unwrap();
    let mut s = Dtls::new(cfg(12), cb.clone(), DtlsRole::Server).unwrap();
    c.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected());
    assert!(!s.is_connected(), "server still waits for the fingerprint");
    c.send(b"early").unwrap();
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(events(&mut s).is_empty(), "held, not delivered");
    assert!(s.send(b"queued").is_ok());
    s.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
    assert!(s.is_connected());
    let es = events(&mut s);
    assert!(matches!(es.first(), Some(DtlsEvent::Connected(_))));
    assert_eq!(data_events(&es), vec![b"early".to_vec()]);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert_eq!(data_events(&events(&mut c)), vec![b"queued".to_vec()]);

    // And a late wrong fingerprint fails it.
    let mut c = Dtls::new(cfg(13), ca.clone(), DtlsRole::Client).unwrap();
    let mut s = Dtls::new(cfg(14), cb.clone(), DtlsRole::Server).unwrap();
    c.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    s.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
    assert!(s.is_closed());
    assert!(matches!(
        events(&mut s).last(),
        Some(DtlsEvent::Closed(CloseReason::Failed(
            DtlsError::FingerprintMismatch
        )))
    ));
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_closed(), "the client got the bad_certificate alert");
}

#[test]
fn lost_flights_are_retransmitted_with_backoff() {
    let (mut c, mut s) = pair_with(cfg(15), cfg(16));
    c.start(Instant::ZERO);
    let t1 = c.poll_timeout().unwrap();
    assert_eq!(t1, Instant::ZERO + Duration::from_secs(1));
    drain(&mut c); // lost
    c.handle_timeout(t1);
    assert_eq!(drain(&mut c).len(), 1, "ClientHello again");
    let t2 = c.poll_timeout().unwrap();
    assert_eq!(t2, t1 + Duration::from_secs(2), "doubled");
    c.handle_timeout(t2);
    assert_eq!(c.poll_timeout().unwrap(), t2 + Duration::from_secs(4));
    // Eventually the handshake gives up.
    let mut now = t2;
    while let Some(t) = c.poll_timeout() {
        now = t;
        c.handle_timeout(now);
        drain(&mut c);
    }
    assert!(now <= Instant::ZERO + Duration::from_secs(30));
    assert!(matches!(
        events(&mut c).last(),
        Some(DtlsEvent::Closed(CloseReason::Failed(
            DtlsError::HandshakeTimeout
        )))
    ));
    assert!(c.stats().retransmits >= 4);
    let _ = s.poll_event();
}

#[test]
fn lost_last_flight_is_answered_on_demand() {
    let (mut c, mut s) = pair_with(cfg(17), cfg(18));
    c.start(Instant::ZERO);
    // CH, HVR, CH(cookie), flight 4, flight 5.
    for _ in 0..2 {
        for d in drain(&mut c) {
            s.handle_receive(Instant::ZERO, &d);
        }
        for d in drain(&mut s) {
            c.handle_receive(Instant::ZERO, &d);
        }
    }
    for d in drain(&mut c) {
        s.handle_receive(Instant::ZERO, &d);
    }
    assert!(s.is_connected());
    let lost = drain(&mut s); // the server's CCS + Finished: lost
    assert!(!lost.is_empty());
    assert_eq!(s.poll_timeout(), None, "the last flight is not timed");
    // The client times out and retransmits flight 5; the server answers with flight 6.
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    for d in drain(&mut c) {
        s.handle_receive(t, &d);
    }
    let again = drain(&mut s);
    assert!(!again.is_empty(), "server retransmitted its last flight");
    for d in again {
        c.handle_receive(t, &d);
    }
    assert!(c.is_connected());
    assert_eq!(s.stats().retransmits, 1);
}

#[test]
fn close_notify_closes_both() {
    let (mut c, mut s) = connected_pair();
    c.close();
    assert_eq!(events(&mut c), vec![DtlsEvent::Closed(CloseReason::Local)]);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert_eq!(
        events(&mut s),
        vec![DtlsEvent::Closed(CloseReason::PeerClosed)]
    );
    assert_eq!(s.send(b"x"), Err(DtlsError::Closed));
    assert_eq!(c.send(b"x"), Err(DtlsError::Closed));
    c.close(); // idempotent
    assert!(events(&mut c).is_empty());
}

#[test]
fn plaintext_alerts_and_data_after_handshake_are_ignored() {
    let (mut c, mut s) = connected_pair();
    // A forged epoch-0 fatal alert and epoch-0 application data.
    let alert = [21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 99, 0, 2, 2, 40];
    let data = [23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 98, 0, 1, 0x41];
    s.handle_receive(Instant::ZERO, &alert);
    s.handle_receive(Instant::ZERO, &data);
    assert!(s.is_connected());
    assert!(events(&mut s).is_empty());
    assert_eq!(s.stats().dropped_unexpected, 2);
    // Epochs that never exist here.
    let mut e2 = data;
    e2[4] = 2;
    s.handle_receive(Instant::ZERO, &e2);
    assert_eq!(s.stats().dropped_epoch, 1);
    c.send(b"still fine").unwrap();
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert_eq!(data_events(&events(&mut s)), vec![b"still fine".to_vec()]);
}

#[test]
fn renegotiation_is_refused() {
    let (mut c, mut s) = connected_pair();
    // An encrypted ClientHello with a message_seq beyond the handshake: a renegotiation.
    let mut hs = Vec::new();
    super::wire::handshake::put_header(&mut hs, HandshakeType::ClientHello, 0, 40, 0, 0);
    let mut rec = vec![0u8; 13 + hs.len() + 40];
    let n = c
        .seal_raw(1, ContentType::Handshake, &hs, &mut rec)
        .unwrap();
    s.handle_receive(Instant::ZERO, &rec[..n]);
    assert!(s.is_connected());
    let out = drain(&mut s);
    assert_eq!(out.len(), 1, "a warning alert");
    c.handle_receive(Instant::ZERO, &out[0]);
    assert!(c.is_connected(), "a warning does not close");
    assert_eq!(s.stats().dropped_unexpected, 1);
}

#[test]
fn bounds_hold() {
    let c = DtlsConfig {
        max_queued_bytes: 100,
        ..cfg(19)
    };
    let (mut c, mut s) = pair_with(c, cfg(20));
    assert!(c.send(&[0; 60]).is_ok());
    assert_eq!(c.send(&[0; 60]), Err(DtlsError::QueueFull));
    assert_eq!(c.send(&[0; 20000]), Err(DtlsError::TooLarge(20000)));
    assert!(matches!(
        c.seal_application_data(b"x", &mut [0u8; 100]),
        Err(DtlsError::NotConnected)
    ));
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(matches!(
        c.seal_application_data(&[0; 90], &mut [0u8; 100]),
        Err(DtlsError::TooLarge(_))
    ));
    // A datagram of garbage never panics and never changes state.
    for len in 0..64 {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 20) as u8).collect();
        s.handle_receive(Instant::ZERO, &junk);
    }
    assert!(s.is_connected());
}

/// Epoch-1 records that arrive before their keys are held up to `max_buffered_records`
/// (default 32); those beyond are dropped and counted, and the held ones are tried once
/// the keys exist (forgeries then fail authentication; the handshake is unharmed).
#[test]
fn early_records_past_max_buffered_records_are_dropped() {
    let bound = DtlsConfig::default().max_buffered_records;
    assert_eq!(bound, 32);
    let (mut c, mut s) = pair_with(cfg(41), cfg(42));
    c.start(Instant::ZERO);
    // One datagram of 40 epoch-1 records, sequence numbers 0..40, 24 bytes each.
    let mut flood = Vec::new();
    for seq in 0..40u64 {
        let mut rec = [0u8; 13 + 24];
        let h = RecordHeader {
            content_type: ContentType::ApplicationData,
            version: DTLS_1_2,
            epoch: 1,
            seq,
            length: 24,
        };
        assert!(h.write(&mut rec));
        rec[13..].fill(seq as u8);
        flood.extend_from_slice(&rec);
    }
    let before = c.stats().clone();
    c.handle_receive(Instant::ZERO, &flood);
    assert_eq!(c.diagnostics().early_records, bound, "held up to the bound");
    assert_eq!(
        c.stats().dropped_epoch,
        before.dropped_epoch + 40 - bound as u64
    );
    // More of them change nothing.
    c.handle_receive(Instant::ZERO, &flood);
    assert_eq!(c.diagnostics().early_records, bound);
    // The handshake completes; the held forgeries fail authentication once the keys
    // exist and deliver nothing.
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected() && s.is_connected());
    assert_eq!(c.diagnostics().early_records, 0);
    assert!(c.stats().dropped_bad_auth + c.stats().dropped_replay >= bound as u64);
    assert!(data_events(&events(&mut c)).is_empty());
}

/// Application data that arrives before the peer's fingerprint is checked is held up to
/// `max_buffered_records` records; the rest is dropped and counted (`dropped_overflow`),
/// and exactly the held records are delivered, in order, once the fingerprint matches.
#[test]
fn held_data_past_max_buffered_records_is_dropped() {
    let (ca, cb) = certs();
    let bound = DtlsConfig::default().max_buffered_records;
    let mut c = Dtls::new(cfg(43), ca.clone(), DtlsRole::Client).unwrap();
    let mut s = Dtls::new(cfg(44), cb.clone(), DtlsRole::Server).unwrap();
    c.set_remote_fingerprints(vec![cb.fingerprint().clone()]);
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected() && !s.is_connected());
    for i in 0..(bound as u32 + 10) {
        c.send(&i.to_be_bytes()).unwrap();
    }
    let before = s.stats().dropped_overflow;
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(events(&mut s).is_empty(), "held, not delivered");
    assert_eq!(s.diagnostics().held_records, bound);
    assert_eq!(s.stats().dropped_overflow, before + 10);
    s.set_remote_fingerprints(vec![ca.fingerprint().clone()]);
    assert!(s.is_connected());
    assert_eq!(s.diagnostics().held_records, 0);
    let expected: Vec<Vec<u8>> = (0..bound as u32)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    assert_eq!(data_events(&events(&mut s)), expected);
}

/// Application data handed over as events waits in a queue of at most `max_events`
/// (default 1024); what arrives while it is full is dropped and counted, as a datagram
/// transport may drop, and the queue takes data again once the host polls.
#[test]
fn data_events_past_max_events_are_dropped() {
    let bound = DtlsConfig::default().max_events;
    assert_eq!(bound, 1024);
    let (mut c, mut s) = connected_pair();
    let before = s.stats().dropped_overflow;
    for i in 0..(bound as u32 + 10) {
        c.send(&i.to_be_bytes()).unwrap();
        for d in drain(&mut c) {
            s.handle_receive(Instant::ZERO, &d);
        }
        assert!(s.diagnostics().events <= bound);
    }
    assert_eq!(s.diagnostics().events, bound);
    assert_eq!(s.stats().dropped_overflow, before + 10);
    let expected: Vec<Vec<u8>> = (0..bound as u32)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    assert_eq!(
        data_events(&events(&mut s)),
        expected,
        "the first ones, in order"
    );
    // Room again: the next record is delivered.
    c.send(b"after").unwrap();
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert_eq!(data_events(&events(&mut s)), vec![b"after".to_vec()]);
    assert!(s.is_connected());
}

#[test]
fn config_errors_are_reported() {
    let (ca, _) = certs();
    let bad = DtlsConfig {
        cipher_suites: vec![],
        ..cfg(1)
    };
    assert!(matches!(
        Dtls::new(bad, ca.clone(), DtlsRole::Client),
        Err(DtlsError::Config(_))
    ));
    let bad = DtlsConfig { mtu: 50, ..cfg(1) };
    assert!(Dtls::new(bad, ca.clone(), DtlsRole::Server).is_err());
}

#[test]
fn fingerprints_parse_and_print() {
    let fp = certs().0.fingerprint().clone();
    let text = fp.to_string();
    assert!(text.starts_with("sha-256 "));
    assert_eq!(text.len(), 8 + 32 * 3 - 1);
    assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
    assert_eq!(
        text.to_lowercase()
            .replace("sha-256", "SHA-256")
            .parse::<Fingerprint>()
            .unwrap(),
        fp
    );
    assert!(fp.matches(certs().0.der()));
    assert!(!fp.matches(certs().1.der()));
    assert!(matches!(
        "sha-1 AB:CD".parse::<Fingerprint>(),
        Err(FingerprintParseError::UnsupportedHash(_))
    ));
    assert!("sha-256 AB:CD".parse::<Fingerprint>().is_err());
    assert!("sha-256".parse::<Fingerprint>().is_err());
    assert!(format!("{text}:00").parse::<Fingerprint>().is_err());
    let f384 = Fingerprint::of(HashAlgorithm::Sha384, certs().0.der());
    assert_eq!(f384.to_string().parse::<Fingerprint>().unwrap(), f384);
    // Any of several fingerprints (of various hashes) is enough.
    let (ca, cb) = certs();
    let mut c = Dtls::new(cfg(21), ca.clone(), DtlsRole::Client).unwrap();
    let mut s = Dtls::new(cfg(22), cb.clone(), DtlsRole::Server).unwrap();
    c.set_remote_fingerprints(vec![
        Fingerprint::of(HashAlgorithm::Sha512, ca.der()),
        Fingerprint::of(HashAlgorithm::Sha512, cb.der()),
    ]);
    s.set_remote_fingerprints(vec![Fingerprint::of(HashAlgorithm::Sha384, ca.der())]);
    c.start(Instant::ZERO);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected() && s.is_connected());
}

#[test]
fn certificates_load_from_pem() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["x".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let c = DtlsCertificate::from_pem(&cert.pem(), &key.serialize_pem()).unwrap();
    assert_eq!(c.der(), cert.der().as_ref());
    assert!(DtlsCertificate::from_pem("junk", "junk").is_err());
    assert!(DtlsCertificate::from_der(vec![1, 2, 3], key.serialize_der()).is_err());
}

#[test]
fn handshake_flights_fragment_to_the_mtu() {
    let small = |seed| DtlsConfig {
        mtu: 200,
        ..cfg(seed)
    };
    let (mut c, mut s) = pair_with(small(23), small(24));
    c.start(Instant::ZERO);
    for _ in 0..20 {
        let (x, y) = (drain(&mut c), drain(&mut s));
        if x.is_empty() && y.is_empty() {
            break;
        }
        for d in &x {
            assert!(d.len() <= 200, "client datagram of {}", d.len());
        }
        for d in &y {
            assert!(d.len() <= 200, "server datagram of {}", d.len());
        }
        // Deliver in reverse order to exercise reassembly.
        for d in x.iter().rev() {
            s.handle_receive(Instant::ZERO, d);
        }
        for d in y.iter().rev() {
            c.handle_receive(Instant::ZERO, d);
        }
    }
    assert!(c.is_connected() && s.is_connected());
}

#[test]
fn a_fragmented_client_hello_is_reassembled_by_the_listening_server() {
    // Chromium's ClientHello (with a post-quantum key share) is larger than a datagram.
    let small = |seed| DtlsConfig {
        mtu: 128,
        ..cfg(seed)
    };
    let (mut c, mut s) = pair_with(small(27), cfg(28));
    c.start(Instant::ZERO);
    let first = drain(&mut c);
    assert!(
        first.len() > 1,
        "the ClientHello went out in {} datagrams",
        first.len()
    );
    // Delivered out of order, with a duplicate.
    for d in first.iter().rev().chain(first.first()) {
        s.handle_receive(Instant::ZERO, d);
    }
    let hvr = drain(&mut s);
    assert_eq!(hvr.len(), 1, "one HelloVerifyRequest");
    c.handle_receive(Instant::ZERO, &hvr[0]);
    shuttle(&mut c, &mut s, Instant::ZERO);
    assert!(c.is_connected() && s.is_connected());
}

#[test]
fn records_of_a_flight_parse() {
    let (mut c, _) = pair_with(cfg(25), cfg(26));
    c.start(Instant::ZERO);
    let d = drain(&mut c).remove(0);
    let recs: Vec<_> = records(&d).collect();
    assert_eq!(recs.len(), 1);
    let r = recs[0].unwrap();
    assert_eq!(r.header.content_type, ContentType::Handshake);
    assert_eq!(r.header.epoch, 0);
}

fn frag(seq: u16, len: u32, offset: u32, body: &[u8]) -> Fragment<'_> {
    Fragment {
        msg_type: HandshakeType::Certificate,
        length: len,
        message_seq: seq,
        offset,
        body,
    }
}

#[test]
fn reassembly_orders_merges_and_bounds() {
    let mut r = Reassembler::new(100, 150);
    let body: Vec<u8> = (0..90).collect();
    // Message 1 arrives before message 0; fragments overlap and repeat.
    assert_eq!(r.insert(&frag(1, 4, 0, &[9, 9, 9, 9]), 0), Outcome::Stored);
    assert_eq!(
        r.insert(&frag(0, 90, 30, &body[30..60]), 0),
        Outcome::Stored
    );
    assert_eq!(
        r.insert(&frag(0, 90, 50, &body[50..90]), 0),
        Outcome::Stored
    );
    assert_eq!(r.pop(), None, "message 0 incomplete");
    assert_eq!(r.insert(&frag(0, 90, 0, &body[0..31]), 0), Outcome::Stored);
    assert_eq!(r.insert(&frag(0, 90, 0, &body[0..31]), 0), Outcome::Stored);
    let m0 = r.pop().unwrap();
    assert_eq!((m0.seq, m0.body.clone()), (0, body.clone()));
    assert_eq!(r.pop().unwrap().body, vec![9, 9, 9, 9]);
    assert_eq!(r.held_bytes(), 0);
    // Old messages are retransmissions.
    assert_eq!(r.insert(&frag(1, 4, 0, &[9, 9, 9, 9]), 0), Outcome::Old);
    // Too big, too far ahead, over the byte bound, inconsistent.
    assert_eq!(r.insert(&frag(2, 101, 0, &[]), 0), Outcome::Dropped);
    assert_eq!(r.insert(&frag(40, 4, 0, &[1]), 0), Outcome::Dropped);
    assert_eq!(r.insert(&frag(2, 100, 0, &[1]), 0), Outcome::Stored);
    assert_eq!(r.insert(&frag(3, 60, 0, &[1]), 0), Outcome::Dropped);
    assert_eq!(r.insert(&frag(2, 99, 0, &[1]), 0), Outcome::Dropped);
    assert_eq!(
        r.insert(&frag(2, 100, 0, &[1]), 1),
        Outcome::Dropped,
        "epoch changed"
    );
    assert_eq!(r.held_bytes(), 100);
    // Empty messages complete at once.
    let mut r = Reassembler::new(100, 150);
    assert_eq!(r.insert(&frag(0, 0, 0, &[]), 0), Outcome::Stored);
    assert_eq!(r.pop().unwrap().body, Vec::<u8>::new());
}
