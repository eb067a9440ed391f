//! The whole peer connection's data paths, with allocation counts: `cargo bench --bench rtc`.
//!
//! Two connected [`Rtc`]s in memory on one thread (ICE, DTLS, SCTP and SRTP all real;
//! datagrams handed across at once, virtual time). The pair is connected and warmed up
//! outside the measurement (the send history of video is full, buffers have been
//! recycled), so each iteration shows the steady state:
//!
//! - `dc_16k_message`: A sends one 16 KiB binary message on a reliable ordered channel;
//!   datagrams cross until B has it (with the SACKs back); B checks its length and hands
//!   the buffer back with [`Rtc::recycle`].
//! - `media_forward_1200`: A writes a 1,200-byte-payload video packet at the RTP level;
//!   B receives it and forwards it back on its own sending stream (what an SFU does);
//!   A receives it. Both hosts recycle the packets.
//!
//! The allocation profiler must show 0 allocations per iteration for both (issue 8):
//! no allocation per message or packet on the send and receive paths.

#[path = "support/pair.rs"]
mod pair;

use divan::Bencher;
use divan::counter::BytesCount;
use pair::{Forward, SPARE, one_message};

/// Counts allocations so divan prints them next to the timings.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

const MESSAGE: usize = 16 * 1024;
const PAYLOAD: usize = 1200;

#[divan::bench]
fn dc_16k_message(bencher: Bencher) {
    let mut p = pair::Pair::connect(false);
    let msg = vec![0x5a; MESSAGE];
    let mut got = Vec::with_capacity(SPARE);
    for _ in 0..200 {
        assert_eq!(one_message(&mut p, &msg, &mut got), MESSAGE);
    }
    bencher
        .counter(BytesCount::new(MESSAGE))
        .bench_local(|| assert_eq!(one_message(&mut p, &msg, &mut got), MESSAGE));
}

#[divan::bench]
fn media_forward_1200(bencher: Bencher) {
    let mut f = Forward::new(PAYLOAD);
    assert_eq!(f.step(), 1, "the packet went A→B→A");
    bencher
        .counter(BytesCount::new(PAYLOAD))
        .bench_local(|| f.step());
}
