//! SCTP association micro-benchmarks: `cargo bench --bench sctp`.
//!
//! Two [`Association`]s talk directly in memory (no DTLS, no simulated network, no loss):
//! every packet one end writes is handed to the other at once, on one thread, so both
//! ends' costs add up in each measurement (the "both ends on one core" figure). The pair
//! is connected once, outside the measurement; each iteration then sends 1 MiB of
//! reliable messages from A (`send_owned`, with buffers made outside the measurement)
//! and shuttles packets until B has delivered all of them. The default MTU (1200) is
//! used, so a 16 KiB message is 14 DATA chunks.
//!
//! - `ordered_16k`: ordered 16 KiB messages, lock-step (see [`Mode`]): the headline.
//! - `ordered_1k`: ordered 1 KiB messages (one per packet), lock-step.
//! - `unordered_16k`: unordered 16 KiB messages, lock-step.
//! - `ordered_16k_burst`: ordered 16 KiB messages, A sending whole flights before B
//!   answers.
//!
//! Byte counters make divan print throughput; the allocation profiler shows the
//! allocations per iteration (per MiB moved), including the drop of the delivered
//! messages. `SCTP_BENCH_STATS=1` also prints packets per iteration.
//!
//! To profile one case, build with `cargo bench --bench sctp --no-run` and run the binary
//! it names under a profiler, e.g. `valgrind --tool=callgrind
//! --toggle-collect='sctp::Pair::transfer*' target/release/deps/sctp-<hash> --bench
//! --exact sctp::ordered_16k --sample-count 20`.

use divan::Bencher;
use divan::counter::BytesCount;
use sansrtc::sctp::{Association, SctpConfig, SctpEvent, SendOptions};
use sansrtc::{Instant, RngSource};

/// Counts allocations so divan prints them next to the timings.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// Bytes moved per iteration.
const BYTES_PER_ITER: usize = 1 << 20;

/// The stream the messages go on.
const STREAM: u16 = 1;

/// WebRTC binary PPID (RFC 8831 §8).
const PPID: u32 = 53;

/// Packet buffer: the default MTU (1200) fits.
const BUF_LEN: usize = 1500;

/// Rounds of packet exchange after which the handshake is considered stuck.
const MAX_SETUP_ROUNDS: usize = 16;

/// Default configuration with a deterministic RNG.
fn config(seed: u64) -> SctpConfig {
    SctpConfig {
        rng: RngSource::Seeded(seed),
        ..SctpConfig::default()
    }
}

/// Two connected associations and their shared virtual clock.
struct Pair {
    a: Association,
    b: Association,
    now: Instant,
    buf: Vec<u8>,
    /// Times nothing moved and the clock had to jump to the next deadline.
    clock_jumps: u64,
}

impl Pair {
    /// Connects A to B (outside any measurement) and drops the `Connected` events.
    fn connected() -> Self {
        let now = Instant::ZERO;
        let mut p = Pair {
            a: Association::new(config(1), now),
            b: Association::new(config(2), now),
            now,
            buf: vec![0u8; BUF_LEN],
            clock_jumps: 0,
        };
        p.a.connect(now);
        for _ in 0..MAX_SETUP_ROUNDS {
            p.exchange();
            if p.a.is_established() && p.b.is_established() {
                break;
            }
        }
        assert!(
            p.a.is_established() && p.b.is_established(),
            "no association"
        );
        while p.a.poll_event().is_some() {}
        while p.b.poll_event().is_some() {}
        p
    }

    /// Hands every packet A has to B, then every packet B has to A; returns whether any
    /// packet moved.
    fn exchange(&mut self) -> bool {
        let mut moved = false;
        while let Some(n) = self.a.poll_transmit(self.now, &mut self.buf) {
            self.b.handle_receive(self.now, &self.buf[..n]);
            moved = true;
        }
        while let Some(n) = self.b.poll_transmit(self.now, &mut self.buf) {
            self.a.handle_receive(self.now, &self.buf[..n]);
            moved = true;
        }
        moved
    }

    /// Nothing moves: jump the clock to the earliest deadline and run the timers.
    fn advance_clock(&mut self) {
        let next = match (self.a.poll_timeout(), self.b.poll_timeout()) {
            (Some(x), Some(y)) => x.min(y),
            (x, y) => x.or(y).expect("stalled with no timer armed"),
        };
        self.now = next.max(self.now);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.clock_jumps += 1;
    }

    /// Sends `msgs` from A and runs both ends until B has delivered all of them; with
    /// `ordered`, checks that they arrive in order (each carries its index). Returns the
    /// bytes delivered.
    fn transfer(
        &mut self,
        msgs: Vec<Vec<u8>>,
        opts: SendOptions,
        ordered: bool,
        mode: Mode,
    ) -> usize {
        let count = msgs.len();
        for m in msgs {
            self.a.send_owned(STREAM, PPID, m, opts).expect("send");
        }
        let mut received = 0usize;
        let mut bytes = 0usize;
        while received < count {
            // A → B first, so B's events are taken before it writes its SACKs (the
            // window they advertise then counts the delivered messages as taken).
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut self.buf) {
                self.b.handle_receive(self.now, &self.buf[..n]);
                moved = true;
                if mode == Mode::LockStep {
                    break;
                }
            }
            while let Some(e) = self.b.poll_event() {
                if let SctpEvent::Message { stream, data, .. } = e {
                    debug_assert_eq!(stream, STREAM);
                    if ordered {
                        assert_eq!(index_of(&data), received, "out of order");
                    }
                    bytes += data.len();
                    received += 1;
                }
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut self.buf) {
                self.a.handle_receive(self.now, &self.buf[..n]);
                moved = true;
            }
            // BufferedAmountLow events (one per iteration, when the stream drains).
            while self.a.poll_event().is_some() {}
            if !moved {
                self.advance_clock();
            }
        }
        bytes
    }

    /// After a benchmark: the transfer ran on the fast path (no retransmission, nothing
    /// dropped), so the timings measure what they claim to.
    fn check_clean(&self) {
        let (a, b) = (self.a.stats(), self.b.stats());
        assert_eq!(a.retransmitted_chunks, 0, "A retransmitted: {a:?}");
        assert_eq!(b.dropped_chunks, 0, "B dropped chunks: {b:?}");
        assert_eq!(a.dropped_packets + b.dropped_packets, 0);
        assert!(self.a.is_established() && self.b.is_established());
    }
}

/// The messages of one iteration: `BYTES_PER_ITER / len` messages of `len` bytes, each
/// starting with its index (for the order check). Filled with a non-zero byte so the
/// pages are touched before the measurement.
fn messages(len: usize) -> Vec<Vec<u8>> {
    (0..BYTES_PER_ITER / len)
        .map(|i| {
            let mut m = vec![0xa5u8; len];
            m[..8].copy_from_slice(&(i as u64).to_be_bytes());
            m
        })
        .collect()
}

/// The index a message of [`messages`] carries.
fn index_of(m: &[u8]) -> usize {
    let mut b = [0u8; 8];
    b.copy_from_slice(&m[..8]);
    u64::from_be_bytes(b) as usize
}

/// How packets are shuttled between the two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Each packet of A is handed to B, and B's answers (SACKs) to A, before A writes
    /// the next: B acknowledges every second packet, as it would on a real path.
    LockStep,
    /// A writes everything its windows allow before B sees any of it: one SACK covers a
    /// whole flight, so SACK costs almost vanish (and the congestion window grows to
    /// the receive window).
    Burst,
}

/// Runs one transfer benchmark of `len`-byte messages.
fn run(bencher: Bencher, len: usize, unordered: bool, mode: Mode) {
    let mut pair = Pair::connected();
    let opts = SendOptions {
        unordered,
        ..SendOptions::default()
    };
    // Warm up until the congestion window stops moving (in burst mode it grows by at
    // most one MTU per SACK), so that every sample sees the same steady state and the
    // buffers have their steady-state sizes.
    for _ in 0..1000 {
        let cwnd = pair.a.stats().cwnd;
        pair.transfer(messages(len), opts, !unordered, mode);
        if pair.a.stats().cwnd == cwnd {
            break;
        }
    }
    let before = (pair.a.stats(), pair.b.stats());
    let mut iters = 0u64;
    bencher
        .counter(BytesCount::new(BYTES_PER_ITER))
        .with_inputs(|| messages(len))
        .bench_local_values(|msgs| {
            let got = pair.transfer(msgs, opts, !unordered, mode);
            assert_eq!(got, BYTES_PER_ITER);
            iters += 1;
        });
    pair.check_clean();
    // Packets per iteration, to put the timings in perspective; only on request, since
    // it lands in the middle of divan's table.
    let (a, b) = (pair.a.stats(), pair.b.stats());
    if iters > 0 && std::env::var_os("SCTP_BENCH_STATS").is_some() {
        eprintln!(
            "sctp {mode:?} len={len} unordered={unordered}: per MiB {} DATA packets, {} SACK \
             packets; cwnd {}; clock jumps {}",
            (a.packets_out - before.0.packets_out) / iters,
            (b.packets_out - before.1.packets_out) / iters,
            a.cwnd,
            pair.clock_jumps,
        );
    }
}

// One function per case (rather than `args`), so that each can be picked out by name
// (`--exact sctp::ordered_16k`) for profiling.

/// Reliable ordered 16 KiB messages, lock-step: the headline number.
#[divan::bench]
fn ordered_16k(bencher: Bencher) {
    run(bencher, 16 * 1024, false, Mode::LockStep);
}

/// Reliable ordered 1 KiB messages (one message per packet), lock-step.
#[divan::bench]
fn ordered_1k(bencher: Bencher) {
    run(bencher, 1024, false, Mode::LockStep);
}

/// Reliable unordered 16 KiB messages, lock-step.
#[divan::bench]
fn unordered_16k(bencher: Bencher) {
    run(bencher, 16 * 1024, true, Mode::LockStep);
}

/// Reliable ordered 16 KiB messages in bursts (one SACK per flight of up to 1 MiB).
#[divan::bench]
fn ordered_16k_burst(bencher: Bencher) {
    run(bencher, 16 * 1024, false, Mode::Burst);
}
