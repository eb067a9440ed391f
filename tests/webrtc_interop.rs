//! sansrtc against real WebRTC peers, over loopback UDP inside a private network
//! namespace: `cargo test --test webrtc_interop`.
//!
//! Peers: aiortc (PyPI) and headless Chromium (Debian, driven by playwright-core from
//! npm), installed by `tests/interop/peers/setup.sh` (idempotent). For each peer, both
//! directions: the peer offers to the `echo` example, and the `offer` example offers to
//! the peer. The offering side drives the workload (see `examples/offer.rs`): the channel
//! opens, 1,000 messages of mixed sizes up to 64 KiB and a 16 MiB binary transfer come
//! back intact (checksummed), and both sides close. Each run prints the offering side's
//! JSON line with the time from offer to open and the 16 MiB round-trip rate.
//!
//! Set `SANSRTC_SKIP_INTEROP=1` to skip (the test then says so loudly).
#![allow(clippy::disallowed_methods)] // a host: it reads the clock and sleeps

mod interop;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use interop::{Peer, in_private_netns};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skip(name: &str) -> bool {
    if std::env::var_os("SANSRTC_SKIP_INTEROP").is_some() {
        eprintln!("SKIPPED {name}: SANSRTC_SKIP_INTEROP is set; no real peer was tested");
        return true;
    }
    false
}

/// Installs the peers (outside the namespace: it may need the network).
fn setup() {
    let script = root().join("tests/interop/peers/setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "interop setup failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example binaries, built with the release profile (the throughput printed is then
/// meaningful) when missing or older than the sources.
fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--examples", "--quiet"])
            .current_dir(root())
            .status()
            .expect("cargo build --release --examples");
        assert!(status.success(), "building the examples failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("release/examples").join(name)
}

fn python() -> PathBuf {
    root().join(".interop/venv/bin/python")
}

fn peer_cmd(peer: &str) -> Command {
    let dir = root().join("tests/interop/peers");
    match peer {
        "aiortc" => {
            let mut c = Command::new(python());
            c.arg(dir.join("aiortc_peer.py"));
            c
        }
        _ => {
            let mut c = Command::new("node");
            c.arg(dir.join("chromium_peer.mjs"));
            c.env("NODE_PATH", root().join(".interop/node/node_modules"));
            c
        }
    }
}

/// Waits for `LISTENING <port>` from a server process.
fn port_of(p: &Peer) -> u16 {
    assert!(
        p.wait_for("LISTENING ", Duration::from_secs(60)),
        "server did not start:\n{}",
        p.output()
    );
    p.output()
        .lines()
        .find_map(|l| l.strip_prefix("LISTENING "))
        .and_then(|p| p.trim().parse().ok())
        .expect("a port")
}

/// Runs an offering client to completion; returns its final JSON line.
fn run_client(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().expect("run client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("")
        .to_string();
    assert!(
        out.status.success() && (last.contains("\"ok\":true") || last.contains("\"ok\": true")),
        "{what} failed (status {:?}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    eprintln!("{what}: {last}");
    last
}

/// The peer offers; sansrtc's echo answers.
fn peer_offers(peer: &str) {
    let echo = Peer::spawn(Command::new(example("echo")).args([
        "--http",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
    ]));
    let port = port_of(&echo);
    let mut cmd = peer_cmd(peer);
    cmd.args(["offer", &format!("http://127.0.0.1:{port}/whip")]);
    run_client(cmd, &format!("{peer} offers -> sansrtc echo"));
    // The echo server saw the connection close.
    assert!(
        echo.wait_for("closed:", Duration::from_secs(10)),
        "echo did not see the close:\n{}",
        echo.output()
    );
}

/// sansrtc offers; the peer answers and echoes.
fn sansrtc_offers(peer: &str) {
    let mut server = peer_cmd(peer);
    server.args(["answer", "--listen", "127.0.0.1:0"]);
    let server = Peer::spawn(&mut server);
    let port = port_of(&server);
    let mut cmd = Command::new(example("offer"));
    cmd.arg(format!("http://127.0.0.1:{port}/whip"));
    run_client(cmd, &format!("sansrtc offers -> {peer}"));
}

/// One at a time: browsers are heavy, and the installer must not run twice at once.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(name: &str, f: fn()) {
    if skip(name) {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    example("echo");
    example("offer");
    in_private_netns(name, f);
}

#[test]
fn aiortc_offers_to_sansrtc() {
    run("aiortc_offers_to_sansrtc", || peer_offers("aiortc"));
}

#[test]
fn sansrtc_offers_to_aiortc() {
    run("sansrtc_offers_to_aiortc", || sansrtc_offers("aiortc"));
}

#[test]
fn chromium_offers_to_sansrtc() {
    run("chromium_offers_to_sansrtc", || peer_offers("chromium"));
}

#[test]
fn sansrtc_offers_to_chromium() {
    run("sansrtc_offers_to_chromium", || sansrtc_offers("chromium"));
}

/// sansrtc against itself over real UDP: the tokio example offers to the echo example
/// (no third-party peer, so nothing to install).
#[test]
fn tokio_example_against_the_echo_example() {
    if skip("tokio_example_against_the_echo_example") {
        return;
    }
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    example("echo");
    in_private_netns("tokio_example_against_the_echo_example", || {
        let echo = Peer::spawn(Command::new(example("echo")).args([
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
        ]));
        let port = port_of(&echo);
        let out = Command::new(example("tokio_offer"))
            .arg(format!("http://127.0.0.1:{port}/whip"))
            .output()
            .expect("run tokio_offer");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("100 messages echoed"),
            "tokio_offer failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
