//! DTLS micro-benchmarks: `cargo bench --bench dtls`.
//!
//! - `handshake`: one full handshake (cookie exchange included) between two in-memory
//!   endpoints.
//! - `seal_open` / `seal`: the application-data record path of an established connection,
//!   with byte counters (throughput) and allocation counts (the record path should not
//!   allocate).

use divan::Bencher;
use divan::counter::BytesCount;
use sansrtc::dtls::{Dtls, DtlsCertificate, DtlsConfig, DtlsRole};
use sansrtc::{Instant, RngSource};

/// Counts allocations so divan prints them next to the timings.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// Payload sizes: a typical data channel message under a 1200-byte MTU, and the largest
/// plaintext a record can carry.
const LENS: [usize; 2] = [1200, 16384];

/// Rounds of datagram exchange after which a handshake is considered stuck.
const MAX_ROUNDS: usize = 16;

/// The two endpoints' identities, generated once per benchmark.
struct Identities {
    client: DtlsCertificate,
    server: DtlsCertificate,
}

impl Identities {
    fn generate() -> Self {
        Identities {
            client: DtlsCertificate::generate().expect("client certificate"),
            server: DtlsCertificate::generate().expect("server certificate"),
        }
    }
}

/// Default configuration (cookie exchange on) with a deterministic RNG.
fn config(seed: u64) -> DtlsConfig {
    DtlsConfig {
        rng: RngSource::Seeded(seed),
        ..DtlsConfig::default()
    }
}

/// Makes a client and a server that know each other's fingerprints, and starts the client.
fn endpoints(ids: &Identities) -> (Dtls, Dtls) {
    let mut client = Dtls::new(config(1), ids.client.clone(), DtlsRole::Client).unwrap();
    let mut server = Dtls::new(config(2), ids.server.clone(), DtlsRole::Server).unwrap();
    client.set_remote_fingerprints(vec![ids.server.fingerprint().clone()]);
    server.set_remote_fingerprints(vec![ids.client.fingerprint().clone()]);
    client.start(Instant::ZERO);
    (client, server)
}

/// Delivers datagrams both ways (lossless, instantaneous) until both ends are connected.
fn run_handshake(client: &mut Dtls, server: &mut Dtls, buf: &mut [u8]) {
    let now = Instant::ZERO;
    for _ in 0..MAX_ROUNDS {
        while let Some(n) = client.poll_datagram(buf) {
            server.handle_receive(now, &buf[..n]);
        }
        while let Some(n) = server.poll_datagram(buf) {
            client.handle_receive(now, &buf[..n]);
        }
        if client.is_connected() && server.is_connected() {
            break;
        }
    }
    assert!(client.is_connected(), "client did not connect");
    assert!(server.is_connected(), "server did not connect");
    // Drop the Connected events so they are not counted against later measurements.
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
}

/// A connected pair (the handshake runs outside any measurement).
fn connected(ids: &Identities) -> (Dtls, Dtls) {
    let (mut client, mut server) = endpoints(ids);
    let mut buf = [0u8; 1500];
    run_handshake(&mut client, &mut server, &mut buf);
    (client, server)
}

/// One full handshake with the default configuration: ClientHello, HelloVerifyRequest,
/// ClientHello with cookie, the server's flight, the client's flight, the server's
/// Finished. Endpoint construction is included; certificate generation is not.
#[divan::bench]
fn handshake(bencher: Bencher) {
    let ids = Identities::generate();
    let mut buf = [0u8; 1500];
    bencher.bench_local(|| {
        let (mut client, mut server) = endpoints(&ids);
        run_handshake(&mut client, &mut server, &mut buf);
        // Return the endpoints so their drop is not part of the measurement.
        (client, server)
    });
}

/// Seal one application-data record on the client and open it on the server, handing the
/// plaintext to a callback (the zero-copy receive path).
#[divan::bench(args = LENS)]
fn seal_open(bencher: Bencher, len: usize) {
    let ids = Identities::generate();
    let (mut client, mut server) = connected(&ids);
    let payload = vec![0xa5u8; len];
    // Room for the record header, explicit nonce and tag.
    let mut buf = vec![0u8; len + 64];
    let now = Instant::ZERO;
    // One warm-up record, so that internal buffers reach their steady-state size before
    // the measurement (the first 16 KiB record grows the receive scratch buffer once).
    let n = client.seal_application_data(&payload, &mut buf).unwrap();
    server.handle_receive_with(now, &buf[..n], &mut |d| assert_eq!(d.len(), len));
    bencher.counter(BytesCount::new(len)).bench_local(|| {
        let n = client
            .seal_application_data(divan::black_box(&payload), &mut buf)
            .unwrap();
        let mut got = 0usize;
        server.handle_receive_with(now, divan::black_box(&buf[..n]), &mut |d| {
            got += divan::black_box(d).len();
        });
        assert_eq!(got, len);
    });
    // Every measured record was opened: nothing was dropped on the way.
    let stats = server.stats();
    assert_eq!(stats.dropped_bad_auth + stats.dropped_replay, 0);
}

/// Seal one application-data record into a caller buffer (the zero-copy send path).
#[divan::bench(args = LENS)]
fn seal(bencher: Bencher, len: usize) {
    let ids = Identities::generate();
    let (mut client, _server) = connected(&ids);
    let payload = vec![0xa5u8; len];
    let mut buf = vec![0u8; len + 64];
    bencher.counter(BytesCount::new(len)).bench_local(|| {
        client
            .seal_application_data(divan::black_box(&payload), &mut buf)
            .unwrap()
    });
}
