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
//! Media (audio and video over SRTP), each case checked by the receiving peer's decoder:
//! - Chromium offers its fake camera and microphone (sendrecv) to the echo, which
//!   forwards both back at the RTP level; Chromium's `getStats()` must show the echoed
//!   video decoded (at least 30 frames) and the echoed audio played out, for VP8 and for
//!   H.264 (said to be skipped, loudly, if this Chromium cannot encode it); also with
//!   `echo --frames` (depacketized and packetized again; VP8, H.264, VP9, AV1), and with
//!   one RTP datagram in 20 dropped each way (NACK and RTX must recover them);
//! - aiortc does the same with its own synthetic tracks (a moving test pattern, a tone)
//!   and counts the echoed frames it decodes;
//! - the `offer` example sends a VP8 clip (an IVF file made at test time by PyAV's libvpx)
//!   to aiortc and to Chromium, which must decode at least 80 % of its frames.
//!
//! In the echo cases the echo runs with `SANSRTC_DEBUG=1` and must not have failed to
//! forward a single packet.
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
        interop::loud(format_args!(
            "SKIPPED {name}: SANSRTC_SKIP_INTEROP is set; no real peer was tested"
        ));
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
    if let Some(l) = stderr.lines().find(|l| l.contains("SCTP zero checksums")) {
        eprintln!("{what}: {l}");
    }
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
    if let Some(l) = echo
        .output()
        .lines()
        .find(|l| l.contains("SCTP zero checksums"))
    {
        eprintln!("{peer} offers -> sansrtc echo: {l}");
    }
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

// ------------------------------------------------------------------------------------
// Media

/// The number after `"key":` in a JSON line (either spacing), if any.
fn json_num(line: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = line.find(&pat)? + pat.len();
    let rest = line.get(at..)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

/// The echo example with forward errors reported (`SANSRTC_DEBUG=1`); with `frames`,
/// media is depacketized into frames and packetized again (`--frames`).
fn spawn_echo(frames: bool) -> Peer {
    let mut cmd = Command::new(example("echo"));
    cmd.args(["--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"])
        .env("SANSRTC_DEBUG", "1");
    if frames {
        cmd.arg("--frames");
    }
    Peer::spawn(&mut cmd)
}

/// The echo forwarded every packet it got, on both m-lines.
fn check_echo_forwarded(echo: &Peer) {
    let out = echo.output();
    // (A packet still queued when the peer closed cannot go out: not a failure.)
    let failed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("forward of") && !l.ends_with(": connection closed"))
        .collect();
    assert!(
        failed.is_empty(),
        "the echo failed to forward {} packet(s), first: {}",
        failed.len(),
        failed.first().unwrap_or(&"")
    );
    for kind in ["Audio", "Video"] {
        assert!(
            out.contains(&format!("{kind} m-line")),
            "the echo saw no {kind} m-line:\n{out}"
        );
    }
}

/// The number after `key: ` in the echo's `Debug` dump of the video m-line's stats at
/// close (`at close: Some(Video) MediaStats { .. }`).
fn echo_video_stat(echo: &Peer, key: &str) -> Option<u64> {
    let out = echo.output();
    let line = out.lines().find(|l| l.contains("at close: Some(Video)"))?;
    let pat = format!("{key}: ");
    let at = line.find(&pat)? + pat.len();
    let rest = line.get(at..)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

/// Chromium sends audio and video to an echo that drops one RTP datagram in 20 each way
/// (`SANSRTC_DROP_RTP=20`): both sides must NACK, retransmit over RTX and recover.
fn chromium_media_with_loss() {
    let echo = Peer::spawn(
        Command::new(example("echo"))
            .args(["--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"])
            .env("SANSRTC_DEBUG", "1")
            .env("SANSRTC_DROP_RTP", "20"),
    );
    let port = port_of(&echo);
    let mut cmd = peer_cmd("chromium");
    cmd.args(["media", &format!("http://127.0.0.1:{port}/whip")]);
    let line = run_client(cmd, "chromium media (VP8, 5 % RTP loss) -> sansrtc echo");
    assert!(
        echo.wait_for("at close: Some(Video)", Duration::from_secs(10)),
        "the echo did not see the close:\n{}",
        echo.output()
    );
    let decoded = json_num(&line, "video_frames_decoded").unwrap_or(0.0);
    let encoded = json_num(&line, "video_frames_encoded").unwrap_or(0.0);
    let nacks_from_chromium = json_num(&line, "video_nack_sent").unwrap_or(0.0);
    let nacks_to_chromium = json_num(&line, "video_nack_received").unwrap_or(0.0);
    let resent = echo_video_stat(&echo, "retransmitted_packets").unwrap_or(0);
    let recovered = echo_video_stat(&echo, "recovered").unwrap_or(0);
    eprintln!(
        "chromium decoded {decoded} of {encoded} frames; NACKs: chromium sent {nacks_from_chromium}, \
         got {nacks_to_chromium}; the echo retransmitted {resent} and recovered {recovered}"
    );
    let dump = || {
        echo.output()
            .lines()
            .filter(|l| l.contains("at close"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        nacks_from_chromium > 0.0 && resent > 0,
        "the echo's retransmissions:\n{line}\n{}",
        dump()
    );
    assert!(
        nacks_to_chromium > 0.0 && recovered > 0,
        "the echo's NACKs to Chromium:\n{line}\n{}",
        dump()
    );
    assert!(
        decoded >= 30.0 && decoded >= 0.8 * encoded,
        "chromium decoded {decoded} of {encoded} frames:\n{line}"
    );
}

/// The peer sends audio and video to the echo and checks what comes back decodes.
fn peer_media_to_echo(peer: &str, codec: &str, frames: bool) {
    let echo = spawn_echo(frames);
    let port = port_of(&echo);
    let mut cmd = peer_cmd(peer);
    cmd.args([
        "media",
        &format!("http://127.0.0.1:{port}/whip"),
        "--codec",
        codec,
    ]);
    let how = if frames { "frames" } else { "RTP" };
    let line = run_client(
        cmd,
        &format!("{peer} media ({codec}) -> sansrtc echo ({how})"),
    );
    if line.contains("\"skipped\"") {
        // VP8 is mandatory to implement (RFC 7742 §5): never a reason to skip.
        assert!(codec != "VP8", "{peer} skipped VP8: {line}");
        interop::loud(format_args!(
            "\n*** SKIPPED: {peer} {codec} media was NOT tested: {line}\n"
        ));
        return;
    }
    let decoded = json_num(&line, "video_frames_decoded").unwrap_or(0.0);
    assert!(
        decoded >= 30.0,
        "{peer}: {decoded} echoed video frames decoded: {line}"
    );
    check_echo_forwarded(&echo);
}

/// A VP8 clip, made by PyAV's libvpx in the interop venv.
fn make_clip(dir: &std::path::Path) -> PathBuf {
    let clip = dir.join("clip.ivf");
    let out = Command::new(python())
        .arg(root().join("tests/interop/peers/make_ivf.py"))
        .arg(&clip)
        .args([
            "--frames", "90", "--size", "320x240", "--fps", "30", "--keyint", "30",
        ])
        .output()
        .expect("run make_ivf.py");
    assert!(
        out.status.success(),
        "make_ivf.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("clip: {}", String::from_utf8_lossy(&out.stdout).trim());
    clip
}

/// sansrtc's `offer` sends the VP8 clip to the peer's answerer, which must decode at
/// least 80 % of the frames (it reports them with `RESULT {json}` when the session ends).
fn sansrtc_video_to(peer: &str) {
    /// Removes the clip's directory however the test ends.
    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = TempDir(std::env::temp_dir().join(format!("sansrtc-interop-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let clip = make_clip(&dir.0);
    let mut server = peer_cmd(peer);
    server.args(["answer", "--listen", "127.0.0.1:0"]);
    let server = Peer::spawn(&mut server);
    let port = port_of(&server);
    let mut cmd = Command::new(example("offer"));
    cmd.arg(format!("http://127.0.0.1:{port}/whip"))
        .arg("--video-ivf")
        .arg(&clip);
    let line = run_client(cmd, &format!("sansrtc offers VP8 video -> {peer}"));
    let sent = json_num(&line, "frames_sent").unwrap_or(0.0);
    assert!(sent >= 90.0, "only {sent} frames sent: {line}");
    assert!(
        server.wait_for("RESULT ", Duration::from_secs(10)),
        "{peer} reported nothing about the session:\n{}",
        server.output()
    );
    let out = server.output();
    let result = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_default()
        .to_string();
    eprintln!("{peer} answerer: {result}");
    let decoded = json_num(&result, "video_frames_decoded").unwrap_or(0.0);
    assert!(
        decoded >= 0.8 * sent,
        "{peer} decoded {decoded} of {sent} frames (want >= 80 %):\n{result}\n{out}"
    );
}

#[test]
fn chromium_media_vp8_to_sansrtc_echo() {
    run("chromium_media_vp8_to_sansrtc_echo", || {
        peer_media_to_echo("chromium", "VP8", false)
    });
}

#[test]
fn chromium_media_h264_to_sansrtc_echo() {
    run("chromium_media_h264_to_sansrtc_echo", || {
        peer_media_to_echo("chromium", "H264", false)
    });
}

#[test]
fn aiortc_media_vp8_to_sansrtc_echo() {
    run("aiortc_media_vp8_to_sansrtc_echo", || {
        peer_media_to_echo("aiortc", "VP8", false)
    });
}

#[test]
fn aiortc_media_h264_to_sansrtc_echo() {
    run("aiortc_media_h264_to_sansrtc_echo", || {
        peer_media_to_echo("aiortc", "H264", false)
    });
}

#[test]
fn sansrtc_video_to_aiortc() {
    run("sansrtc_video_to_aiortc", || sansrtc_video_to("aiortc"));
}

#[test]
fn sansrtc_video_to_chromium() {
    run("sansrtc_video_to_chromium", || sansrtc_video_to("chromium"));
}

#[test]
fn chromium_media_vp8_with_rtp_loss_to_sansrtc_echo() {
    run(
        "chromium_media_vp8_with_rtp_loss_to_sansrtc_echo",
        chromium_media_with_loss,
    );
}

/// Frame level: the echo depacketizes what the peer sends into whole frames and
/// packetizes them again (`--frames`), so the peer's decoder checks sansrtc's
/// depacketizers and packetizers, not only the forwarding.
#[test]
fn chromium_media_vp8_to_sansrtc_echo_frames() {
    run("chromium_media_vp8_to_sansrtc_echo_frames", || {
        peer_media_to_echo("chromium", "VP8", true)
    });
}

#[test]
fn chromium_media_h264_to_sansrtc_echo_frames() {
    run("chromium_media_h264_to_sansrtc_echo_frames", || {
        peer_media_to_echo("chromium", "H264", true)
    });
}

#[test]
fn aiortc_media_h264_to_sansrtc_echo_frames() {
    run("aiortc_media_h264_to_sansrtc_echo_frames", || {
        peer_media_to_echo("aiortc", "H264", true)
    });
}

#[test]
fn chromium_media_vp9_to_sansrtc_echo_frames() {
    run("chromium_media_vp9_to_sansrtc_echo_frames", || {
        peer_media_to_echo("chromium", "VP9", true)
    });
}

#[test]
fn chromium_media_av1_to_sansrtc_echo_frames() {
    run("chromium_media_av1_to_sansrtc_echo_frames", || {
        peer_media_to_echo("chromium", "AV1", true)
    });
}
