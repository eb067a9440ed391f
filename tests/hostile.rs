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
        eprintln!(
            "NOTE: debug build: {total} datagrams instead of {full} \
             (run with --release, or FLOOD={full}, for the full flood)"
        );
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
