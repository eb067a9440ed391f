//! STUN and ICE micro-benchmarks: `cargo bench --bench ice`.

use sansrtc::ice::stun::{self, IntegrityKey, MessageClass};
use sansrtc::ice::{Candidate, Credentials, IceAgent, IceConfig};
use sansrtc::{Instant, Protocol, Receive, RngSource};

fn main() {
    divan::main();
}

fn request(tid: [u8; 12], local_ufrag: &str, key: &IntegrityKey, out: &mut [u8]) -> usize {
    let mut m = stun::message(MessageClass::Request, stun::BINDING, tid);
    m.add_attribute(stun::Username::new(format!("{local_ufrag}:peer")).unwrap());
    m.add_attribute(stun::Priority::new(1_845_501_695));
    m.add_attribute(stun::IceControlling::new(0x1234_5678_9abc_def0));
    m.add_attribute(stun::UseCandidate::new());
    stun::encode(m, Some(key), true, out).unwrap()
}

/// Encode a connectivity check with MESSAGE-INTEGRITY and FINGERPRINT, then parse and
/// verify it.
#[divan::bench]
fn stun_encode_and_verify(bencher: divan::Bencher) {
    let key = IntegrityKey::short_term("aaaaaaaaaaaaaaaaaaaaaaaa");
    let mut buf = [0u8; 256];
    bencher.bench_local(|| {
        let n = request([7; 12], "abcd", &key, &mut buf);
        let p = stun::parse(divan::black_box(&buf[..n])).unwrap();
        assert!(p.verify_integrity(&key));
    });
}

/// Parse and verify only (what a server does per received check).
#[divan::bench]
fn stun_parse_and_verify(bencher: divan::Bencher) {
    let key = IntegrityKey::short_term("aaaaaaaaaaaaaaaaaaaaaaaa");
    let mut buf = [0u8; 256];
    let n = request([7; 12], "abcd", &key, &mut buf);
    bencher.bench_local(|| {
        let p = stun::parse(divan::black_box(&buf[..n])).unwrap();
        assert!(p.verify_integrity(&key));
    });
}

/// A controlled agent handling one authenticated Binding request and writing its
/// response (learned pair already in place).
#[divan::bench]
fn agent_handles_binding_request(bencher: divan::Bencher) {
    let local: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let remote: std::net::SocketAddr = "10.0.0.2:6000".parse().unwrap();
    let creds = Credentials {
        ufrag: "abcd".into(),
        pwd: "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
    };
    let mut agent = IceAgent::new(
        IceConfig {
            controlling: false,
            local_credentials: Some(creds.clone()),
            rng: RngSource::Seeded(1),
            ..Default::default()
        },
        Instant::ZERO,
    );
    agent
        .add_local_candidate(Candidate::host(local, Protocol::Udp))
        .unwrap();
    agent
        .set_remote_credentials(Credentials {
            ufrag: "peer".into(),
            pwd: "bbbbbbbbbbbbbbbbbbbbbbbb".into(),
        })
        .unwrap();
    let key = IntegrityKey::short_term(&creds.pwd);
    let mut req = [0u8; 256];
    let n = request([9; 12], "abcd", &key, &mut req);
    let mut out = [0u8; 1500];
    let now = Instant::ZERO;
    bencher.bench_local(|| {
        agent.handle_receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: remote,
                destination: local,
                contents: &req[..n],
            },
        );
        while let Some(t) = agent.poll_transmit(now, &mut out) {
            let _ = divan::black_box(t);
        }
        while agent.poll_event().is_some() {}
    });
}
