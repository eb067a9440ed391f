//! Hostile input against a connected peer connection, through the simulated network:
//! `cargo test --features sim --test hostile`.
//!
//! Every scenario asserts that the victim keeps its connection (numbered, checksummed
//! messages still flow both ways, in order and intact) and that every queue and buffer
//! stays within its configured bound, measured through `Rtc::diagnostics` after every
//! input (the high-water mark of each figure).
#![cfg(feature = "sim")]

mod robust;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant as WallClock;

use robust::*;
use sansrtc::dtls::{Dtls, DtlsConfig, DtlsRole};
use sansrtc::ice::stun;
use sansrtc::net::DatagramKind;
use sansrtc::rtc::{RtcDiagnostics, RtcError, RtcState};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

/// A small deterministic generator (xorshift64*).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn fill(&mut self, b: &mut [u8]) {
        for c in b.chunks_mut(8) {
            let x = self.next().to_le_bytes();
            c.copy_from_slice(&x[..c.len()]);
        }
    }
}

/// Asserts no figure of `d` is past its bound.
fn assert_bounded(who: &str, d: &RtcDiagnostics) {
    assert_eq!(
        d.over_limit(),
        None,
        "{who}: a queue past its bound: {d:#?}"
    );
}

/// A random datagram whose first byte falls in RFC 7983 class `class` (0 STUN, 1 ZRTP,
/// 2 DTLS, 3 TURN channel, 4 RTP/RTCP, 5 none), sometimes with a well-formed header so
/// it gets past the first checks.
fn random_datagram(g: &mut Gen, class: u64, buf: &mut Vec<u8>) {
    let len = if g.below(10) == 0 {
        1 + g.below(24) as usize
    } else {
        1 + g.below(1200) as usize
    };
    buf.resize(len, 0);
    g.fill(buf);
    let structured = g.below(2) == 0;
    let first = match class {
        0 => g.below(4) as u8,
        1 => 16 + g.below(4) as u8,
        2 => 20 + g.below(44) as u8,
        3 => 64 + g.below(16) as u8,
        4 => 128 + g.below(64) as u8,
        _ => [
            4 + g.below(12) as u8,
            80 + g.below(48) as u8,
            192 + g.below(64) as u8,
        ][g.below(3) as usize],
    };
    buf[0] = first;
    if !structured || len < 24 {
        return;
    }
    match class {
        0 => {
            // A Binding request header with the magic cookie and a plausible length.
            buf[0] = 0;
            buf[1] = 1;
            let body = ((len - 20) & !3) as u16;
            buf[2..4].copy_from_slice(&body.to_be_bytes());
            buf[4..8].copy_from_slice(&0x2112_a442u32.to_be_bytes());
            buf.truncate(20 + body as usize);
        }
        2 => {
            // A DTLS 1.2 record header: a real content type, epoch 0 or 1, the length
            // of what follows.
            buf[0] = 20 + g.below(4) as u8;
            buf[1] = 0xfe;
            buf[2] = 0xfd;
            buf[3] = 0;
            buf[4] = g.below(2) as u8;
            let l = (len - 13) as u16;
            buf[11..13].copy_from_slice(&l.to_be_bytes());
        }
        4 => {
            // RTP (V=2) or an RTCP packet type.
            buf[0] = 0x80 | (buf[0] & 0x3f);
            if g.below(2) == 0 {
                buf[1] = 200 + g.below(7) as u8;
            }
        }
        _ => {}
    }
}

/// One million random datagrams at a connected peer connection: random bytes in every
/// RFC 7983 class, half from the peer's own address (they reach DTLS and SRTP), half
/// from strangers. The connection carries on, every message arrives, the queues stay
/// bounded and memory ends where it started.
#[test]
fn a_million_random_datagrams() {
    // Debug builds run a tenth of the flood (the full size runs in release, see
    // scripts/test-all.sh); FLOOD=n sets the size.
    let full = 1_000_000u64;
    let total: u64 = std::env::var("FLOOD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            full / 10
        } else {
            full
        });
    if total < full {
        robust::loud(format_args!(
            "NOTE: debug build: {total} datagrams instead of {full} \
             (run with --release, or FLOOD={full}, for the full flood)"
        ));
    }
    let mut w = world(Options {
        seed: 7,
        media: true,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    // Warm up until the retransmission histories are full (1024 video packets at 90 a
    // second): from then on memory is flat without a flood.
    w.stream_both(u64::MAX, Duration::from_millis(10));
    w.run_for(Duration::from_secs(15));
    let before = w.a().rtc.diagnostics();
    let recv_before = (w.a().recv.count, w.b().recv.count);
    let stats_before = w.a().rtc.stats();
    let (peer, victim) = (addr(B_ADDR), addr(A_ADDR));
    let mut g = Gen(0x5eed_1234_5678_9abc);
    let mut buf = Vec::with_capacity(1500);
    let batch = 500u64;
    #[allow(clippy::disallowed_methods)] // the test measures its own run time
    let started = WallClock::now();
    let mut sent = 0u64;
    let mut from_peer = [0u64; 6];
    let flood_start = w.sim.now();
    while sent < total {
        let now = w.sim.now();
        let node = w.a_mut();
        for _ in 0..batch.min(total - sent) {
            let class = g.below(6);
            random_datagram(&mut g, class, &mut buf);
            let source = if g.below(2) == 0 {
                from_peer[class as usize] += 1;
                peer
            } else {
                SocketAddr::new(
                    std::net::Ipv4Addr::new(203, 0, 113, g.below(250) as u8 + 1).into(),
                    1024 + g.below(60000) as u16,
                )
            };
            sansrtc::sim::Endpoint::handle_receive(
                node,
                now,
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: victim,
                    contents: &buf,
                },
            );
            sent += 1;
        }
        w.run_for(Duration::from_millis(5));
    }
    let flood_time = started.elapsed();
    let flood_end = w.sim.now();
    // Stop streaming; everything sent must arrive.
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).send.remaining = 0;
    }
    w.assert_all_delivered(Duration::from_secs(30));
    w.run_for(Duration::from_secs(5));
    let a = w.a();
    let st = a.rtc.stats();
    let after = a.rtc.diagnostics();
    eprintln!(
        "flood of {sent} datagrams in {flood_time:?} ({:.1} µs each, {} build); \
         messages delivered A→B {} B→A {}",
        flood_time.as_secs_f64() * 1e6 / sent as f64,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        w.b().recv.count,
        a.recv.count
    );
    eprintln!(
        "victim memory: before {} B, high-water {} B, after {} B; stats: {:?} strangers \
         dropped, STUN malformed {}, DTLS dropped (malformed {}, bad auth {}, epoch {}, \
         unexpected {}), SRTP auth failures {}, malformed {}, media dropped {}",
        before.total_bytes,
        a.diag_max.total_bytes,
        after.total_bytes,
        st.dropped_unknown_source - stats_before.dropped_unknown_source,
        st.ice.stun_malformed,
        st.dtls.dropped_malformed,
        st.dtls.dropped_bad_auth,
        st.dtls.dropped_epoch,
        st.dtls.dropped_unexpected,
        st.srtp_in.auth_failures,
        st.srtp_in.malformed,
        st.media_dropped
    );
    for ((name, x), (_, y)) in before.gauges().into_iter().zip(after.gauges()) {
        if x.len != y.len {
            eprintln!("  {name}: {} -> {}", x.len, y.len);
        }
    }
    assert_eq!(a.rtc.state(), RtcState::Connected, "A still connected");
    assert_eq!(a.closed, None);
    assert_eq!(w.b().closed, None);
    // Messages kept flowing during the flood (one every 10 ms each way).
    let expected = (flood_end - flood_start).as_millis() as u64 / 10 * 9 / 10;
    assert!(
        w.b().recv.count - recv_before.1 >= expected && a.recv.count - recv_before.0 >= expected,
        "fewer than {expected} messages during the flood"
    );
    assert_bounded("A", &a.diag_max);
    assert_bounded("B", &w.b().diag_max);
    // Memory ends where it started (the SCTP and media queues drain; nothing of the
    // flood stays).
    assert!(
        after.total_bytes <= before.total_bytes + 16 * 1024,
        "memory grew from {} to {} bytes: {after:#?}",
        before.total_bytes,
        after.total_bytes
    );
    // The peer's address got through to the layers; strangers' DTLS and RTP did not.
    let stranger_dtls_rtp = sent / 2 / 3; // about: half strangers, 2 of 6 classes
    let dropped = st.dropped_unknown_source - stats_before.dropped_unknown_source;
    assert!(
        dropped > stranger_dtls_rtp * 9 / 10 && dropped < stranger_dtls_rtp * 11 / 10,
        "stranger DTLS/RTP dropped: {dropped} (expected about {stranger_dtls_rtp})"
    );
    assert!(st.dtls.dropped_malformed + st.dtls.dropped_bad_auth > from_peer[2] / 2);
    assert!(st.srtp_in.auth_failures + st.srtp_in.malformed + st.media_dropped > from_peer[4] / 2);
    // Nothing went to a stranger but STUN error answers no bigger than what came in
    // (the smallest flood request with a magic cookie is 20 bytes).
    for s in &a.to_strangers {
        assert_eq!(s.kind, DatagramKind::Stun, "{s:?}");
        assert!(s.size <= 1200, "{s:?}");
    }
}

/// Feeds `d` to A as if it came from `source` (no network in between: the flood is the
/// point, not the links).
fn inject_a(w: &mut World, source: SocketAddr, d: &[u8]) {
    let now = w.sim.now();
    let victim = addr(A_ADDR);
    sansrtc::sim::Endpoint::handle_receive(
        w.a_mut(),
        now,
        Receive {
            proto: Protocol::Udp,
            source,
            destination: victim,
            contents: d,
        },
    );
}

fn stranger(i: u64) -> SocketAddr {
    SocketAddr::new(
        std::net::Ipv4Addr::new(198, 18, (i / 250) as u8, (i % 250) as u8 + 1).into(),
        1024 + (i % 50_000) as u16,
    )
}

/// A Binding request as strangers send them: `kind` 0 bare, 1 USERNAME without
/// MESSAGE-INTEGRITY, 2 an unknown ufrag, 3 the victim's ufrag with a wrong password.
fn bad_binding_request(kind: u64, i: u64, victim_ufrag: &str, peer_ufrag: &str) -> Vec<u8> {
    let mut tid = [0u8; 12];
    tid[..8].copy_from_slice(&i.to_le_bytes());
    let mut m = stun::message(stun::MessageClass::Request, stun::BINDING, tid);
    let key = stun::IntegrityKey::short_term("not-the-password-at-all");
    let user = match kind {
        0 => None,
        2 => Some(format!("nobody{i}:{peer_ufrag}")),
        _ => Some(format!("{victim_ufrag}:{peer_ufrag}")),
    };
    if let Some(u) = user {
        m.add_attribute(stun::Username::new(u).unwrap());
    }
    if kind == 3 {
        m.add_attribute(stun::Priority::new(0x6e00_01ff));
        m.add_attribute(stun::UseCandidate::new());
        m.add_attribute(stun::IceControlling::new(i));
    }
    let mut buf = [0u8; 512];
    let key = (kind >= 2).then_some(&key);
    let n = stun::encode(m, key, true, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// STUN Binding requests with missing or wrong credentials from 4,000 addresses: no
/// candidate, pair or state for any of them; nothing sent to them but the RFC 8489
/// error answer (400 or 401), and never more bytes than the request carried (no
/// amplification); the connection carries on.
#[test]
fn stun_without_valid_credentials_from_many_addresses() {
    let mut w = world(Options {
        seed: 11,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.stream_both(u64::MAX, Duration::from_millis(10));
    w.run_for(Duration::from_secs(1));
    let victim_ufrag = w.a().rtc.local_ufrag().to_string();
    let peer_ufrag = w.b().rtc.local_ufrag().to_string();
    let before = w.a().rtc.stats();
    let diag_before = w.a().rtc.diagnostics();
    let n = 4000u64;
    let mut request_size = BTreeMap::new();
    for i in 0..n {
        let req = bad_binding_request(i % 4, i, &victim_ufrag, &peer_ufrag);
        let from = stranger(i);
        request_size.insert(from, req.len());
        inject_a(&mut w, from, &req);
        if i % 200 == 199 {
            w.run_for(Duration::from_millis(10));
        }
    }
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).send.remaining = 0;
    }
    w.assert_all_delivered(Duration::from_secs(30));
    let a = w.a();
    let st = a.rtc.stats();
    let answered = st.ice.error_responses_sent - before.ice.error_responses_sent;
    let suppressed = st.ice.error_responses_suppressed - before.ice.error_responses_suppressed;
    eprintln!(
        "{n} bad requests: {answered} error answers, {suppressed} not sent (larger than \
         the request), {} datagrams to strangers",
        a.to_strangers.len()
    );
    assert_eq!(st.ice.auth_failures - before.ice.auth_failures, n);
    assert_eq!(answered + suppressed, n, "one answer (or none) per request");
    assert!(suppressed > 0 && answered > 0);
    assert_eq!(a.to_strangers.len() as u64, answered);
    for s in &a.to_strangers {
        assert_eq!(s.kind, DatagramKind::Stun, "{s:?}");
        let req = request_size.get(&s.destination).copied().unwrap_or(0);
        assert!(
            s.size <= req,
            "amplification: {} bytes answered {req}: {s:?}",
            s.size
        );
    }
    // Nothing learned about any of them.
    let ice = a.rtc.ice();
    assert!(
        ice.remote_candidates()
            .all(|c| !request_size.contains_key(&c.addr))
    );
    assert!(
        a.rtc
            .stats()
            .pairs
            .iter()
            .all(|p| !request_size.contains_key(&p.remote))
    );
    let d = a.rtc.diagnostics();
    assert_eq!(d.ice.remote_candidates, diag_before.ice.remote_candidates);
    assert_eq!(d.ice.pairs, diag_before.ice.pairs);
    assert_bounded("A", &a.diag_max);
    assert_eq!(a.rtc.state(), RtcState::Connected);
    w.assert_data_flows(100);
}

/// Real ClientHellos (made by DTLS clients with other seeds).
fn client_hellos(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|seed| {
            let mut c = Dtls::new(
                DtlsConfig {
                    rng: RngSource::Seeded(1000 + seed),
                    ..DtlsConfig::default()
                },
                certs()[1].clone(),
                DtlsRole::Client,
            )
            .unwrap();
            c.start(Instant::ZERO);
            let mut buf = [0u8; 1500];
            let len = c.poll_datagram(&mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

/// A flood of real ClientHellos at the DTLS server, from the start of the handshake on
/// and after it: half from strangers (dropped before DTLS), half with the peer's own
/// address (as an on-path attacker can send). The listening server answers statelessly
/// and keeps no state per hello (diagnostics: no reassembly, one queued answer at most,
/// the same high-water mark after 2,000 hellos as after 40,000); the real handshake
/// completes, and afterwards the connection carries on.
#[test]
fn dtls_client_hello_flood() {
    let hellos = client_hellos(16);
    let mut w = world(Options {
        seed: 13,
        ..Options::default()
    });
    let peer = addr(B_ADDR);
    let mut sent = 0u64;
    let mut mark_after_2000 = None;
    let deadline = Instant::from_secs(30);
    // During the handshake: 20 hellos every 10 ms until both ends are up.
    while !(w.a().connected() && w.b().connected() && w.a().open && w.b().open) {
        assert!(
            w.sim.now() < deadline,
            "not connected under the flood: A {:?} {:?}, B {:?} {:?}",
            w.a().rtc.state(),
            w.a().closed,
            w.b().rtc.state(),
            w.b().closed
        );
        for k in 0..20u64 {
            let h = &hellos[(sent % 16) as usize];
            let from = if k % 2 == 0 { peer } else { stranger(sent) };
            inject_a(&mut w, from, h);
            sent += 1;
        }
        if sent >= 2000 && mark_after_2000.is_none() {
            mark_after_2000 = Some(w.a().diag_max);
        }
        w.run_for(Duration::from_millis(10));
    }
    let connected_at = w.sim.now();
    let during_handshake = sent;
    // After: 40,000 in all, while data flows.
    w.stream_both(u64::MAX, Duration::from_millis(10));
    while sent < 40_000 {
        for k in 0..20u64 {
            let h = &hellos[(sent % 16) as usize];
            let from = if k % 2 == 0 { peer } else { stranger(sent) };
            inject_a(&mut w, from, h);
            sent += 1;
        }
        w.run_for(Duration::from_millis(10));
    }
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).send.remaining = 0;
    }
    w.assert_all_delivered(Duration::from_secs(30));
    let a = w.a();
    let st = a.rtc.stats();
    eprintln!(
        "connected at {connected_at:?} after {during_handshake} hellos; {sent} hellos in \
         all; DTLS stats {:?}; high-water DTLS {:?}",
        st.dtls, a.diag_max.dtls
    );
    let m = &a.diag_max.dtls;
    assert_eq!(m.reassembly_bytes.len, 0, "no hello state kept");
    assert!(m.queued_datagrams.len <= 8, "{m:?}");
    assert_bounded("A", &a.diag_max);
    let early = mark_after_2000.unwrap_or(a.diag_max);
    assert!(
        a.diag_max.dtls.bytes <= early.dtls.bytes + 4096,
        "DTLS memory grew with the number of hellos: {} then {}",
        early.dtls.bytes,
        a.diag_max.dtls.bytes
    );
    assert_eq!(a.rtc.state(), RtcState::Connected);
    assert!(st.dropped_unknown_source >= sent / 2);
    w.assert_data_flows(100);
}

/// An SCTP common header and chunks, with a correct or broken CRC32c.
fn sctp_packet(tag: u32, chunks: &[u8], good_crc: bool) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + chunks.len());
    p.extend_from_slice(&5000u16.to_be_bytes());
    p.extend_from_slice(&5000u16.to_be_bytes());
    p.extend_from_slice(&tag.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(chunks);
    sansrtc::sctp::wire::write_checksum(&mut p);
    if !good_crc {
        p[8] ^= 0x5a;
    }
    p
}

fn init_chunk(itag: u32, tsn: u32) -> Vec<u8> {
    let mut c = vec![1, 0, 0, 20];
    c.extend_from_slice(&itag.to_be_bytes());
    c.extend_from_slice(&131_072u32.to_be_bytes());
    c.extend_from_slice(&1024u16.to_be_bytes());
    c.extend_from_slice(&1024u16.to_be_bytes());
    c.extend_from_slice(&tsn.to_be_bytes());
    c
}

fn data_chunk(tsn: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut c = vec![0, 3];
    c.extend_from_slice(&(len as u16).to_be_bytes());
    c.extend_from_slice(&tsn.to_be_bytes());
    c.extend_from_slice(&[0, 0, 0, 0]);
    c.extend_from_slice(&53u32.to_be_bytes());
    c.extend_from_slice(payload);
    while c.len() % 4 != 0 {
        c.push(0);
    }
    c
}

/// A peer holding the DTLS keys floods SCTP: INITs, DATA/ABORT/SHUTDOWN with a wrong
/// verification tag, DATA with the right tag and a broken CRC32c. Everything but the
/// INITs is dropped and counted; the INITs are answered statelessly (RFC 9260 §5.2.2)
/// without touching the association; the association and its data carry on.
#[test]
fn sctp_init_flood_wrong_tags_and_bad_checksums() {
    let mut w = world(Options {
        seed: 17,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.stream_both(u64::MAX, Duration::from_millis(10));
    w.run_for(Duration::from_secs(1));
    let (_, a_tag) = w.b().rtc.sim_sctp_tags().unwrap();
    let before = w.a().rtc.stats().sctp;
    let mut g = Gen(99);
    let (mut inits, mut dropped_expected) = (0u64, 0u64);
    for round in 0..400u64 {
        for k in 0..20u64 {
            let wrong = (g.next() as u32) | 1;
            let wrong = if wrong == a_tag { wrong ^ 2 } else { wrong };
            let p = match (round * 20 + k) % 5 {
                0 => {
                    inits += 1;
                    sctp_packet(0, &init_chunk(g.next() as u32 | 1, g.next() as u32), true)
                }
                1 => {
                    dropped_expected += 1;
                    sctp_packet(wrong, &data_chunk(g.next() as u32, b"forged"), true)
                }
                2 => {
                    dropped_expected += 1;
                    sctp_packet(a_tag, &data_chunk(g.next() as u32, b"corrupt"), false)
                }
                3 => {
                    // ABORT without the T bit: must carry our tag.
                    dropped_expected += 1;
                    sctp_packet(wrong, &[6, 0, 0, 4], true)
                }
                _ => {
                    // SHUTDOWN with a wrong tag.
                    dropped_expected += 1;
                    let mut c = vec![7, 0, 0, 8];
                    c.extend_from_slice(&(g.next() as u32).to_be_bytes());
                    sctp_packet(wrong, &c, true)
                }
            };
            assert!(w.b_mut().rtc.sim_send_raw_sctp(&p));
        }
        w.run_for(Duration::from_millis(10));
    }
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).send.remaining = 0;
    }
    w.assert_all_delivered(Duration::from_secs(30));
    let a = w.a();
    let st = a.rtc.stats().sctp;
    eprintln!(
        "{inits} INITs, {dropped_expected} bad packets: dropped {} (before {}), \
         high-water SCTP {:?}",
        st.dropped_packets, before.dropped_packets, a.diag_max.sctp
    );
    assert!(st.dropped_packets - before.dropped_packets >= dropped_expected);
    assert_eq!(a.closed, None);
    assert_eq!(a.rtc.state(), RtcState::Connected);
    assert!(a.diag_max.sctp.control_packets.len <= 16);
    assert_bounded("A", &a.diag_max);
    w.assert_data_flows(100);
}

/// Replayed and forged SRTP/SRTCP, from the peer's address and from strangers: all
/// dropped and counted (replays, authentication failures, unknown sources); no SRTP
/// state for forged SSRCs; media from the peer keeps arriving, each packet once.
#[test]
fn srtp_replays_and_forgeries() {
    let mut w = world(Options {
        seed: 19,
        media: true,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.run_for(Duration::from_secs(2));
    w.b_mut().capture = 400;
    w.run_for(Duration::from_secs(3));
    let captured = w.b().captured.clone();
    assert_eq!(captured.len(), 400);
    let before = w.a().rtc.stats();
    let rtp_before = w.a().media_rtp_in;
    let sent_before = w.b().media.audio_sent + w.b().media.video_sent;
    let peer = addr(B_ADDR);
    let mut g = Gen(5);
    let (mut replays, mut forged, mut strangers) = (0u64, 0u64, 0u64);
    for round in 0..50u64 {
        for (i, p) in captured.iter().enumerate() {
            if !(i as u64 + round).is_multiple_of(8) {
                continue;
            }
            // The packet as it was: a replay.
            inject_a(&mut w, peer, p);
            replays += 1;
            // A bit flipped in the payload or the tag, or a new SSRC: forgeries.
            let mut f = p.clone();
            let at = 12 + g.below((f.len() - 12) as u64) as usize;
            f[at] ^= 1 << g.below(8);
            inject_a(&mut w, peer, &f);
            let mut f = p.clone();
            f[8..12].copy_from_slice(&(g.next() as u32).to_be_bytes());
            inject_a(&mut w, peer, &f);
            forged += 2;
            // The same from a stranger.
            inject_a(&mut w, stranger(i as u64), p);
            strangers += 1;
        }
        w.run_for(Duration::from_millis(20));
    }
    // Let the last real packets land.
    w.run_for(Duration::from_secs(1));
    let a = w.a();
    let st = a.rtc.stats();
    let got = a.media_rtp_in - rtp_before;
    let sent = w.b().media.audio_sent + w.b().media.video_sent - sent_before;
    eprintln!(
        "{replays} replays, {forged} forgeries, {strangers} from strangers; SRTP in {:?}; \
         RTP delivered {got} of {sent} sent meanwhile",
        st.srtp_in
    );
    // RTCP in the capture fails its replay check too; every replay is refused.
    assert!(st.srtp_in.replays - before.srtp_in.replays >= replays * 95 / 100);
    let refused = (st.srtp_in.replays - before.srtp_in.replays)
        + (st.srtp_in.auth_failures - before.srtp_in.auth_failures);
    assert!(refused >= replays + forged * 95 / 100, "refused {refused}");
    assert_eq!(
        st.dropped_unknown_source - before.dropped_unknown_source,
        strangers
    );
    // Nothing forged or replayed was delivered: at most what the peer sent, and it all
    // arrived (no loss on this link; the last 20 ms may still be in flight).
    assert!(
        got <= sent && got + 10 >= sent,
        "delivered {got}, sent {sent}"
    );
    let d = a.rtc.diagnostics();
    assert!(
        d.media.srtp_ssrcs_in.len <= 4,
        "{:?}",
        d.media.srtp_ssrcs_in
    );
    assert_bounded("A", &a.diag_max);
    assert_eq!(a.rtc.state(), RtcState::Connected);
    w.assert_data_flows(50);
}

/// A peer that stops acknowledging SCTP data (its DTLS application data never leaves it;
/// ICE consent still flows): the sender's buffer stops at its bound, `send` fails with
/// "send buffer full", and once Association.Max.Retrans timeouts have passed the
/// connection closes with an SCTP error: the host is told.
#[test]
fn peer_that_stops_acknowledging() {
    let mut w = world(Options {
        seed: 23,
        config: |c| c.sctp.send_buffer = 512 * 1024,
        ..Options::default()
    });
    w.connect(Duration::from_secs(10));
    w.assert_data_flows(20);
    w.b_mut().drop_out = Some(|d| d.first() == Some(&23));
    // A sends as fast as the buffer takes it.
    {
        let a = w.a_mut();
        a.send.remaining = u64::MAX;
        a.send.interval = Duration::ZERO;
    }
    let a_id = w.a;
    assert!(
        w.sim
            .run_until_pred(w.sim.now() + Duration::from_secs(10), |s| s
                .endpoint(a_id)
                .send
                .refused
                > 0)
    );
    let a = w.a();
    let err = a.send.last_error.clone();
    eprintln!(
        "refused after {} messages: {err:?}; SCTP {:?}",
        a.send.next_seq, a.diag_max.sctp
    );
    assert_eq!(
        err,
        Some(RtcError::DataChannel(
            sansrtc::datachannel::DataChannelError::Sctp(sansrtc::sctp::SctpError::BufferFull)
        ))
    );
    let limit = 512 * 1024;
    assert!(a.diag_max.sctp.send_queue_bytes.len <= limit);
    assert!(a.diag_max.sctp.send_queue_bytes.len > limit - 2000);
    let chan = a.chan.unwrap();
    let buffered = w.a_mut().rtc.channel(chan).unwrap().buffered_amount();
    assert!(buffered <= limit, "buffered {buffered}");
    // Association.Max.Retrans (10) timeouts with RTO doubling up to 10 s: the peer is
    // declared unreachable and the host told, within a few minutes.
    assert!(
        w.sim
            .run_until_pred(w.sim.now() + Duration::from_secs(300), |s| s
                .endpoint(a_id)
                .closed
                .is_some())
    );
    let a = w.a();
    eprintln!("closed at {:?}: {:?}", w.sim.now(), a.closed);
    assert_eq!(
        a.closed,
        Some(sansrtc::rtc::RtcCloseReason::Sctp(
            sansrtc::sctp::SctpError::Unreachable
        ))
    );
    assert_bounded("A", &a.diag_max);
}

/// Huge descriptions and thousands of candidates: an SDP over the size limit is refused
/// with a clear error; an offer with 2,000 candidates is accepted with the candidates
/// cut to the bounds (no blow-up), and the real candidate among them still connects;
/// 10,000 trickled candidates stop at `max_remote_candidates` with an error.
#[test]
fn huge_sdp_and_thousands_of_candidates() {
    // Over the size limit.
    let mut w = world(Options {
        seed: 29,
        a_offers: false,
        ..Options::default()
    });
    let mut victim = sansrtc::rtc::Rtc::new(
        sansrtc::rtc::RtcConfig {
            rng: RngSource::Seeded(5),
            certificate: Some(certs()[0].clone()),
            ..Default::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    let huge = format!("v=0\r\n{}", "a=x-junk:0123456789abcdef\r\n".repeat(40_000));
    let err = victim.accept_offer(Instant::ZERO, &huge).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("longer than {} bytes", sansrtc::jsep::MAX_SDP_LEN)),
        "{err}"
    );
    // A real offer (B's, to A in the world) padded with 2,000 junk candidates after the
    // real one, under the size limit: accepted, bounded.
    let offer = {
        let mut b = sansrtc::rtc::Rtc::new(
            sansrtc::rtc::RtcConfig {
                rng: RngSource::Seeded(6),
                certificate: Some(certs()[1].clone()),
                ..Default::default()
            },
            Instant::ZERO,
        )
        .unwrap();
        b.add_local_candidate(sansrtc::ice::Candidate::host(addr(B_ADDR), Protocol::Udp))
            .unwrap();
        b.create_data_channel(Default::default()).unwrap();
        b.create_offer(Instant::ZERO).unwrap()
    };
    let mut junk = String::new();
    for i in 0..2000u32 {
        junk.push_str(&format!(
            "a=candidate:{i} 1 udp {} 198.19.{}.{} {} typ host\r\n",
            2_000_000_000u32 - i,
            i / 250,
            i % 250 + 1,
            10_000 + i
        ));
    }
    let at = offer.find("a=candidate").expect("a candidate line");
    let end = at + offer[at..].find("\r\n").unwrap() + 2;
    let padded = format!("{}{}{}", &offer[..end], junk, &offer[end..]);
    assert!(padded.len() < sansrtc::jsep::MAX_SDP_LEN);
    let answer = victim.accept_offer(Instant::ZERO, &padded);
    assert!(answer.is_ok(), "{answer:?}");
    let d = victim.diagnostics();
    eprintln!("after 2000 signalled candidates: ICE {:?}", d.ice);
    assert_eq!(
        d.ice.remote_candidates.len, 100,
        "cut to max_remote_candidates"
    );
    assert!(d.ice.pairs.len <= 100);
    assert_bounded("victim", &d);
    // 10,000 trickled: refused beyond the bound.
    let refused_before = victim.stats().ice.candidates_refused;
    let mut refused = 0;
    for i in 0..10_000u32 {
        let c = sansrtc::ice::Candidate::host(
            SocketAddr::new(
                std::net::Ipv4Addr::new(198, 20, (i / 250) as u8, (i % 250) as u8 + 1).into(),
                20_000,
            ),
            Protocol::Udp,
        );
        if victim.add_remote_candidate(c).is_err() {
            refused += 1;
        }
    }
    assert_eq!(refused, 10_000);
    assert_eq!(
        victim.stats().ice.candidates_refused - refused_before,
        10_000
    );
    assert_bounded("victim", &victim.diagnostics());
    // And in the world: B offers with the junk after its real candidate; A, swamped
    // with pairs to nowhere, still connects and carries data.
    let offer = w.b_mut().rtc.create_offer(Instant::ZERO);
    // B already offered in `world` (a_offers: false); a second offer is a renegotiation
    // that adds nothing: accept it padded, as a stress of the same paths.
    if let Ok(offer) = offer {
        let at = offer.find("a=candidate").expect("a candidate line");
        let end = at + offer[at..].find("\r\n").unwrap() + 2;
        let padded = format!("{}{}{}", &offer[..end], junk, &offer[end..]);
        let answer = w.a_mut().rtc.accept_offer(Instant::ZERO, &padded).unwrap();
        w.b_mut().rtc.accept_answer(Instant::ZERO, &answer).unwrap();
    }
    w.connect(Duration::from_secs(30));
    assert_bounded("A", &w.a().diag_max);
    w.assert_data_flows(100);
}

/// The remaining configured limits, each driven past its bound at the `Rtc` API with a
/// small setting: local candidates, pairs, transactions and queued STUN datagrams,
/// channels, transceivers, the SRTP send queue and SRTP that arrives before the keys.
/// Each refuses (with an error or a drop counted) and the diagnostics sit at the bound.
#[test]
fn configured_limits_hold() {
    use sansrtc::datachannel::{ChannelConfig, DataChannelError};
    use sansrtc::ice::{Candidate, IceError};
    use sansrtc::jsep::{Direction, MediaKind};
    use sansrtc::rtc::{Rtc, RtcConfig, RtpWrite};
    let small = |seed| {
        let mut c = RtcConfig {
            rng: RngSource::Seeded(seed),
            certificate: Some(certs()[0].clone()),
            max_channels: 8,
            ..RtcConfig::default()
        };
        c.ice.max_local_candidates = 4;
        c.ice.max_pairs = 10;
        c.ice.max_transactions = 2;
        c.ice.max_queued_transmits = 8;
        c.media.max_media = 3;
        c
    };
    let mut v = Rtc::new(small(1), Instant::ZERO).unwrap();
    // Local candidates.
    for i in 0..4u16 {
        let a = SocketAddr::new(std::net::Ipv4Addr::new(192, 0, 2, 1).into(), 5000 + i);
        v.add_local_candidate(Candidate::host(a, Protocol::Udp))
            .unwrap();
    }
    let extra = Candidate::host(addr("192.0.2.1:6000"), Protocol::Udp);
    assert_eq!(
        v.add_local_candidate(extra),
        Err(sansrtc::rtc::RtcError::Ice(IceError::TooManyCandidates))
    );
    // Channels and transceivers.
    for _ in 0..8 {
        v.create_data_channel(ChannelConfig::default()).unwrap();
    }
    assert_eq!(
        v.create_data_channel(ChannelConfig::default()),
        Err(sansrtc::rtc::RtcError::DataChannel(
            DataChannelError::TooManyChannels
        ))
    );
    for _ in 0..3 {
        v.add_media(MediaKind::Audio, Direction::SendRecv).unwrap();
    }
    assert!(v.add_media(MediaKind::Video, Direction::SendRecv).is_err());
    // Pairs, transactions, queued datagrams: an answer with 30 candidates (120 possible pairs), and the host
    // never drains `poll_transmit`.
    let offer = v.create_offer(Instant::ZERO).unwrap();
    let mut peer = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(2),
            certificate: Some(certs()[1].clone()),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    for i in 0..30u16 {
        let ip = std::net::Ipv4Addr::new(198, 51, 100, 7 + i as u8);
        let a = SocketAddr::new(ip.into(), 7000 + i);
        peer.add_local_candidate(Candidate::host(a, Protocol::Udp))
            .unwrap();
    }
    let answer = peer.accept_offer(Instant::ZERO, &offer).unwrap();
    v.accept_answer(Instant::ZERO, &answer).unwrap();
    let mut now = Instant::ZERO;
    let mut d = v.diagnostics();
    for _ in 0..2000 {
        now = v
            .poll_timeout()
            .unwrap_or(now)
            .max(now + Duration::from_millis(1));
        v.handle_timeout(now);
        d = d.max(&v.diagnostics());
    }
    eprintln!(
        "ICE high-water over 2000 timeouts, never drained: {:?}",
        d.ice
    );
    assert_bounded("victim", &d);
    assert_eq!(d.ice.local_candidates.len, 4);
    assert_eq!(d.ice.pairs.len, 10, "max_pairs");
    assert_eq!(d.ice.transactions.len, 2, "max_transactions");
    assert_eq!(d.ice.queued_transmits.len, 8, "max_queued_transmits");
    assert!(v.stats().ice.transmits_dropped > 0);

    // SRTP before the keys, and the SRTP send queue, on a connected pair with media.
    let mut w = world(Options {
        seed: 61,
        media: true,
        config: |c| c.media.max_queued = 32,
        ..Options::default()
    });
    let peer = addr(B_ADDR);
    // Negotiated, not connected: 1,000 full-size "SRTP" datagrams from the peer's
    // address wait for the keys, at most 128 of them and 192,000 bytes.
    let mut junk = vec![0x80u8; 1400];
    for i in 0..1000u32 {
        junk[8..12].copy_from_slice(&i.to_be_bytes());
        inject_a(&mut w, peer, &junk);
    }
    let d = w.a().rtc.diagnostics();
    assert_eq!(d.media.early_srtp.len, 128);
    assert!(d.media.early_srtp_bytes.len <= 128 * 1500);
    assert_bounded("A", &d);
    w.connect(Duration::from_secs(10));
    // The junk was tried once the keys came, and failed.
    assert!(w.a().rtc.stats().srtp_in.auth_failures + w.a().rtc.stats().srtp_in.malformed >= 128);
    assert_eq!(w.a().rtc.diagnostics().media.early_srtp.len, 0);
    // 100 writes with no `poll_transmit` between: 32 queued, the rest refused.
    let now = w.sim.now();
    let node = w.a_mut();
    node.media.on = false;
    let audio = node.media.audio.unwrap();
    let mut refused = 0;
    for i in 0..100u32 {
        let r = node
            .rtc
            .media(audio)
            .unwrap()
            .write_rtp(now, RtpWrite::new(AUDIO_PT, i * 960, false, &[1; 80]));
        if r.is_err() {
            refused += 1;
        }
    }
    let d = node.rtc.diagnostics();
    assert_eq!(d.media.queued_out.len, 32);
    assert!(refused >= 68, "refused {refused}");
    assert_bounded("A", &d);
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.a().rtc.state(), RtcState::Connected);
}
