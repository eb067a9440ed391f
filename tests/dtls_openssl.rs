//! DTLS 1.2 against OpenSSL's command-line peers, over loopback UDP inside a private
//! network namespace: `cargo test --test dtls_openssl`.
//!
//! For each case sansrtc is once the client (against `openssl s_server -listen`, which
//! answers with a HelloVerifyRequest cookie) and once the server (against
//! `openssl s_client`): the handshake completes with the expected suite and SRTP profile,
//! application data crosses both ways, and the RFC 5764 keying material equals what
//! OpenSSL prints for `-keymatexport EXTRACTOR-dtls_srtp -keymatexportlen 60`.
// The test is the host: it may read the clock and sleep (the library may not).
#![allow(clippy::disallowed_methods)]

mod interop;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration as StdDuration;

use interop::{Peer, free_udp_port, in_private_netns, require_command};
use sansrtc::dtls::{
    CipherSuite, CloseReason, Dtls, DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole, Fingerprint,
    HashAlgorithm, NamedGroup, SrtpProfile,
};
use sansrtc::time::Clock;

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    suite: CipherSuite,
    openssl_cipher: &'static str,
    srtp: SrtpProfile,
    openssl_srtp: &'static str,
    group: NamedGroup,
    openssl_group: &'static str,
    /// Datagram size limit on both sides: small ones make both fragment their flights.
    mtu: usize,
}

const CASES: [Case; 4] = [
    Case {
        name: "aes128gcm",
        suite: CipherSuite::EcdheEcdsaAes128GcmSha256,
        openssl_cipher: "ECDHE-ECDSA-AES128-GCM-SHA256",
        srtp: SrtpProfile::Aes128CmHmacSha1_80,
        openssl_srtp: "SRTP_AES128_CM_SHA1_80",
        group: NamedGroup::X25519,
        openssl_group: "X25519:P-256",
        mtu: 1200,
    },
    Case {
        name: "aes256gcm",
        suite: CipherSuite::EcdheEcdsaAes256GcmSha384,
        openssl_cipher: "ECDHE-ECDSA-AES256-GCM-SHA384",
        srtp: SrtpProfile::AeadAes128Gcm,
        openssl_srtp: "SRTP_AEAD_AES_128_GCM",
        group: NamedGroup::Secp256r1,
        openssl_group: "P-256",
        mtu: 1200,
    },
    Case {
        name: "fragmented",
        suite: CipherSuite::EcdheEcdsaAes128GcmSha256,
        openssl_cipher: "ECDHE-ECDSA-AES128-GCM-SHA256",
        srtp: SrtpProfile::Aes128CmHmacSha1_32,
        openssl_srtp: "SRTP_AES128_CM_SHA1_32",
        group: NamedGroup::Secp256r1,
        openssl_group: "P-256",
        mtu: 256,
    },
    Case {
        name: "chacha20",
        suite: CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
        openssl_cipher: "ECDHE-ECDSA-CHACHA20-POLY1305",
        srtp: SrtpProfile::AeadAes256Gcm,
        openssl_srtp: "SRTP_AEAD_AES_256_GCM",
        group: NamedGroup::X25519,
        openssl_group: "X25519:P-256",
        mtu: 1200,
    },
];

/// An ECDSA P-256 certificate for OpenSSL, made by OpenSSL; returns (cert, key, fingerprint).
fn openssl_cert(dir: &Path) -> (PathBuf, PathBuf, Fingerprint) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=openssl-peer"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl req");
    assert!(
        ok.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl x509");
    assert!(der.status.success());
    let fp = Fingerprint::of(HashAlgorithm::Sha256, &der.stdout);
    (cert, key, fp)
}

/// Our certificate, also written as PEM so OpenSSL could be told about it.
fn our_cert() -> DtlsCertificate {
    DtlsCertificate::generate().expect("generate certificate")
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sansrtc-dtls-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Drives `dtls` over `socket` until `done` says so or the time runs out; returns the
/// application data received and the events seen.
struct Driver {
    dtls: Dtls,
    socket: UdpSocket,
    peer: Option<SocketAddr>,
    clock: Clock,
    received: Vec<Vec<u8>>,
    connected: Option<Box<sansrtc::dtls::DtlsConnected>>,
    closed: Option<CloseReason>,
}

impl Driver {
    fn pump(&mut self, for_: StdDuration) {
        let end = std::time::Instant::now() + for_;
        let mut buf = vec![0u8; 65536];
        while std::time::Instant::now() < end {
            while let Some(n) = self.dtls.poll_datagram(&mut buf) {
                if let Some(p) = self.peer {
                    self.socket.send_to(&buf[..n], p).unwrap();
                }
            }
            while let Some(e) = self.dtls.poll_event() {
                match e {
                    DtlsEvent::Connected(c) => self.connected = Some(c),
                    DtlsEvent::ApplicationData(d) => self.received.push(d),
                    DtlsEvent::Closed(r) => self.closed = Some(r),
                }
            }
            let wait = self
                .dtls
                .poll_timeout()
                .map(|t| {
                    self.clock
                        .to_std(t)
                        .saturating_duration_since(std::time::Instant::now())
                })
                .unwrap_or(StdDuration::from_millis(20))
                .clamp(StdDuration::from_millis(1), StdDuration::from_millis(20));
            self.socket.set_read_timeout(Some(wait)).unwrap();
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    self.peer.get_or_insert(from);
                    self.dtls.handle_receive(self.clock.now(), &buf[..n]);
                }
                Err(_) => self.dtls.handle_timeout(self.clock.now()),
            }
        }
    }

    fn pump_until(&mut self, limit: StdDuration, mut f: impl FnMut(&Self) -> bool) -> bool {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if f(self) {
                return true;
            }
            self.pump(StdDuration::from_millis(30));
        }
        f(self)
    }
}

fn keying_material(output: &str) -> Option<Vec<u8>> {
    let line = output.lines().find(|l| l.contains("Keying material:"))?;
    let hex = line.split("Keying material:").nth(1)?.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// 60 bytes for the 128-bit profiles (the `-keymatexportlen 60` of the issue); the
/// AES-256-GCM profile needs 2 × (32 + 12) = 88.
fn export_len(case: &Case) -> usize {
    2 * (case.srtp.key_len() + case.srtp.salt_len())
}

fn config(case: &Case) -> DtlsConfig {
    DtlsConfig {
        cipher_suites: vec![case.suite],
        srtp_profiles: vec![case.srtp],
        // OpenSSL wants the curve of its ECDSA certificate among the client's
        // supported_groups, so P-256 is always offered; the case's group comes first.
        groups: if case.group == NamedGroup::X25519 {
            vec![NamedGroup::X25519, NamedGroup::Secp256r1]
        } else {
            vec![case.group]
        },
        initial_retransmit: sansrtc::Duration::from_millis(300),
        mtu: case.mtu,
        ..DtlsConfig::default()
    }
}

fn check_session(case: &Case, d: &mut Driver, peer: &mut Peer, role: DtlsRole) {
    let connected = d.pump_until(StdDuration::from_secs(15), |d| {
        d.connected.is_some() || d.closed.is_some()
    });
    assert!(
        connected && d.connected.is_some(),
        "{} as {role:?}: no connection (closed: {:?}); openssl said:\n{}",
        case.name,
        d.closed,
        peer.output()
    );
    let c = d.connected.clone().unwrap();
    assert_eq!(c.cipher_suite, case.suite);
    let keys = c.srtp.expect("SRTP negotiated");
    assert_eq!(keys.profile, case.srtp);

    // sansrtc -> OpenSSL
    let ours = format!("sansrtc says hello over {}", case.name);
    d.dtls.send(format!("{ours}\n").as_bytes()).unwrap();
    d.pump(StdDuration::from_millis(50));
    assert!(
        peer.wait_for(&ours, StdDuration::from_secs(5)),
        "OpenSSL did not print our data; it said:\n{}",
        peer.output()
    );
    // OpenSSL -> sansrtc
    let theirs = format!("openssl answers over {}", case.name);
    peer.write_line(&theirs);
    let got = d.pump_until(StdDuration::from_secs(5), |d| {
        d.received
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains(&theirs))
    });
    assert!(got, "no data from OpenSSL; received {:?}", d.received);

    // The exported keying material matches OpenSSL's, byte for byte.
    assert!(peer.wait_for("Keying material:", StdDuration::from_secs(5)));
    let theirs = keying_material(&peer.output()).expect("OpenSSL keying material");
    let ours = d
        .dtls
        .export_keying_material(b"EXTRACTOR-dtls_srtp", None, export_len(case))
        .unwrap();
    assert_eq!(ours.len(), export_len(case));
    assert_eq!(ours, theirs, "keying material differs from OpenSSL's");
    // And the SRTP split of it is the RFC 5764 §4.2 layout of the same bytes.
    let (k, s) = (case.srtp.key_len(), case.srtp.salt_len());
    let mut flat = Vec::new();
    flat.extend_from_slice(&keys.client_key);
    flat.extend_from_slice(&keys.server_key);
    flat.extend_from_slice(&keys.client_salt);
    flat.extend_from_slice(&keys.server_salt);
    assert_eq!(flat.len(), 2 * (k + s));
    assert_eq!(flat, ours);

    d.dtls.close();
    d.pump(StdDuration::from_millis(100));
    assert_eq!(d.closed, Some(CloseReason::Local));
    eprintln!("{} as {role:?}: ok ({:?})", case.name, d.dtls.stats());
}

fn client_against_s_server(case: &Case) {
    let dir = tempdir(&format!("srv-{}", case.name));
    let (cert, key, fp) = openssl_cert(&dir);
    let port = free_udp_port();
    let mut peer = Peer::spawn(
        Command::new("openssl")
            .args(["s_server", "-dtls1_2", "-4", "-listen"])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args([
                "-cipher",
                case.openssl_cipher,
                "-groups",
                case.openssl_group,
            ])
            .args(["-use_srtp", case.openssl_srtp, "-verify", "1"])
            .args(["-mtu", &case.mtu.to_string()])
            .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen"])
            .arg(export_len(case).to_string()),
    );
    std::thread::sleep(StdDuration::from_millis(300));
    let mut dtls = Dtls::new(config(case), our_cert(), DtlsRole::Client).unwrap();
    dtls.set_remote_fingerprints(vec![fp]);
    let clock = Clock::new();
    dtls.start(clock.now());
    let mut d = Driver {
        dtls,
        socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
        peer: Some(format!("127.0.0.1:{port}").parse().unwrap()),
        clock,
        received: Vec::new(),
        connected: None,
        closed: None,
    };
    check_session(case, &mut d, &mut peer, DtlsRole::Client);
    assert!(
        peer.output().contains("CLIENT CERTIFICATE")
            || peer.output().contains("Client certificate"),
        "OpenSSL did not receive our certificate:\n{}",
        peer.output()
    );
}

fn server_against_s_client(case: &Case) {
    let dir = tempdir(&format!("cli-{}", case.name));
    let (cert, key, fp) = openssl_cert(&dir);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let mut dtls = Dtls::new(config(case), our_cert(), DtlsRole::Server).unwrap();
    dtls.set_remote_fingerprints(vec![fp]);
    let mut peer = Peer::spawn(
        Command::new("openssl")
            .args(["s_client", "-dtls1_2", "-4"])
            .args(["-connect", &addr.to_string()])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args([
                "-cipher",
                case.openssl_cipher,
                "-groups",
                case.openssl_group,
            ])
            .args(["-use_srtp", case.openssl_srtp])
            .args(["-mtu", &case.mtu.to_string()])
            .args(["-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen"])
            .arg(export_len(case).to_string()),
    );
    let mut d = Driver {
        dtls,
        socket,
        peer: None,
        clock: Clock::new(),
        received: Vec::new(),
        connected: None,
        closed: None,
    };
    check_session(case, &mut d, &mut peer, DtlsRole::Server);
    assert!(
        d.dtls.stats().datagrams_out > 0 && peer.output().contains("Cipher is"),
        "OpenSSL did not report the session:\n{}",
        peer.output()
    );
}

fn run(name: &str, f: fn()) {
    require_command("openssl", "openssl");
    require_command("ip", "iproute2");
    in_private_netns(name, f);
}

#[test]
fn sansrtc_client_openssl_server() {
    run("sansrtc_client_openssl_server", || {
        for case in &CASES {
            client_against_s_server(case);
        }
    });
}

#[test]
fn sansrtc_server_openssl_client() {
    run("sansrtc_server_openssl_client", || {
        for case in &CASES {
            server_against_s_client(case);
        }
    });
}
