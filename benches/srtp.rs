//! SRTP micro-benchmarks: `cargo bench --bench srtp`.
//!
//! One iteration protects a packet in place and unprotects it again in another context
//! (both ends' costs, one core), for every profile, on a 1200-byte video-sized packet
//! and a 160-byte audio-sized one. The sequence number advances every iteration, so the
//! rollover and replay bookkeeping is the real per-packet path. Byte counters make divan
//! print throughput; the allocation profiler shows that no iteration allocates.

use divan::Bencher;
use divan::counter::BytesCount;
use sansrtc::srtp::{Profile, SrtpConfig, SrtpContext};

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

const PROFILES: [Profile; 4] = [
    Profile::Aes128CmHmacSha1_80,
    Profile::Aes128CmHmacSha1_32,
    Profile::AeadAes128Gcm,
    Profile::AeadAes256Gcm,
];

fn pair(profile: Profile) -> (SrtpContext, SrtpContext) {
    let key = vec![7u8; profile.key_len()];
    let salt = vec![9u8; profile.salt_len()];
    (
        SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap(),
        SrtpContext::new(profile, &key, &salt, SrtpConfig::default()).unwrap(),
    )
}

fn round_trip(bencher: Bencher, profile: Profile, payload: usize) {
    let (mut tx, mut rx) = pair(profile);
    let mut buf = vec![0u8; 12 + payload + 16];
    let mut seq = 0u16;
    bencher.counter(BytesCount::new(payload)).bench_local(|| {
        seq = seq.wrapping_add(1);
        buf[..12].copy_from_slice(&[0x80, 96, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        let n = tx.protect_rtp(&mut buf, 12 + payload).unwrap();
        rx.unprotect_rtp(&mut buf[..n]).unwrap()
    });
}

/// A 1200-byte payload, protected and unprotected.
#[divan::bench(args = PROFILES)]
fn rtp_1200(bencher: Bencher, profile: Profile) {
    round_trip(bencher, profile, 1200);
}

/// A 160-byte payload (20 ms of G.711, or a large Opus frame).
#[divan::bench(args = PROFILES)]
fn rtp_160(bencher: Bencher, profile: Profile) {
    round_trip(bencher, profile, 160);
}

/// An 80-byte RTCP compound (SR + SDES), protected and unprotected.
#[divan::bench(args = PROFILES)]
fn rtcp_80(bencher: Bencher, profile: Profile) {
    let (mut tx, mut rx) = pair(profile);
    let mut buf = vec![0u8; 80 + 20];
    bencher.counter(BytesCount::new(80usize)).bench_local(|| {
        buf[..8].copy_from_slice(&[0x80, 200, 0, 19, 1, 2, 3, 4]);
        let n = tx.protect_rtcp(&mut buf, 80).unwrap();
        rx.unprotect_rtcp(&mut buf[..n]).unwrap()
    });
}
