//! Helpers for tests against real, independently written peers on loopback.
//!
//! Every such test runs inside a private network namespace holding only `lo` when the
//! suite runs as root (`unshare -n`): the test re-executes its own binary there, so no
//! datagram can reach any other address. Without root it runs on the host's loopback
//! and says so loudly.
#![allow(clippy::disallowed_methods)] // a host-side helper: it may read the clock and sleep
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes a line to stderr past the test harness's capture (libtest captures only the
/// print macros): skips and warnings must show in a plain `cargo test` run.
pub fn loud(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

const NETNS_MARK: &str = "SANSRTC_IN_NETNS";

/// Runs `body` inside a fresh network namespace (re-executing this test binary with only
/// the test `name`), or directly when that is impossible. Returns after the body passed;
/// panics if it failed.
pub fn in_private_netns(name: &str, body: impl FnOnce()) {
    if std::env::var_os(NETNS_MARK).is_some() {
        body();
        return;
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let have_unshare = Command::new("unshare").arg("--version").output().is_ok();
    if !(is_root && have_unshare) {
        loud(format_args!(
            "WARNING: {name}: not root or no unshare(1): running on the host loopback, \
             without a private network namespace"
        ));
        body();
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let script = format!(
        "ip link set lo up && exec '{}' --exact '{}' --nocapture --test-threads=1",
        exe.display(),
        name
    );
    let status = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", &script])
        .env(NETNS_MARK, "1")
        .status()
        .expect("run unshare");
    assert!(
        status.success(),
        "{name} failed inside the private network namespace"
    );
}

/// A child process whose output lines are collected as they come, with its standard
/// input held open (OpenSSL's s_server/s_client quit when stdin closes).
pub struct Peer {
    pub child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<String>>,
}

impl Peer {
    pub fn spawn(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        let stdin = child.stdin.take();
        Peer {
            child,
            stdin,
            output,
        }
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Writes a line to the peer's standard input.
    pub fn write_line(&mut self, line: &str) {
        if let Some(s) = &mut self.stdin {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Waits until the output contains `needle`, or `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.output().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port on 127.0.0.1 (bound and released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Installs Debian packages if a command is missing (the test suite is allowed to; the
/// test script does it up front, this is for a lone `cargo test`).
pub fn require_command(cmd: &str, package: &str) {
    if Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        return;
    }
    eprintln!("installing {package} for {cmd}");
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}"),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{cmd} is missing and {package} could not be installed");
}
