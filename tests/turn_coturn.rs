//! TURN against a real server: coturn from Debian on loopback, `cargo test --test
//! turn_coturn`.
//!
//! The test installs coturn if `turnserver` is missing (`apt-get update`, then
//! `apt-get install -y coturn`), makes a self-signed certificate with the openssl CLI,
//! writes a config (one long-term user, a realm, a 12 s maximum allocation lifetime so
//! that allocations must be refreshed during the test, 10 s permission and channel
//! lifetimes so that those must be refreshed too, a nonce that goes stale every 9 s,
//! loopback peers allowed) and starts it on free ports of 127.0.0.1. When the suite runs
//! as root each test runs in a private network namespace holding only `lo`.
//!
//! For UDP, TCP and TLS: two sansrtc `Rtc`s with the `relay` transport policy connect
//! through coturn; the selected pair must be relay↔relay, data channel messages must keep
//! flowing for 20 s across at least one allocation refresh on each side, and a wrong
//! password must give a `TurnError::WrongCredentials` event. Then aiortc (the interop
//! suite's peer) answers a sansrtc offerer that uses only coturn's relay.
//!
//! Set `SANSRTC_SKIP_TURN=1` to skip (the test then says so loudly).
#![allow(clippy::disallowed_methods)] // a host: it reads the clock and sleeps
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod interop;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use interop::{Peer, in_private_netns, require_command};
use sansrtc::datachannel::ChannelConfig;
use sansrtc::ice::{Candidate, CandidateKind, IceServer, IceTransportPolicy, TurnError};
use sansrtc::rtc::{Rtc, RtcConfig, RtcEvent, RtcState};
use sansrtc::time::Clock;
use sansrtc::{Protocol, Receive};

const USER: &str = "alice";
const PASSWORD: &str = "wonderland-7";
const REALM: &str = "sansrtc.test";
/// coturn's `max-allocate-lifetime`: the client refreshes halfway (6 s).
const MAX_LIFETIME: u64 = 12;

fn skip(name: &str) -> bool {
    if std::env::var_os("SANSRTC_SKIP_TURN").is_some() {
        interop::loud(format_args!(
            "SKIPPED {name}: SANSRTC_SKIP_TURN is set; coturn was not tested"
        ));
        return true;
    }
    false
}

/// Installs coturn and openssl if missing (outside the namespace: it needs the network),
/// one test at a time (apt holds a lock).
fn install() {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    require_command("openssl", "openssl");
    if !Path::new("/usr/bin/turnserver").exists() {
        require_command("turnserver", "coturn");
    }
}

/// A running coturn, killed on drop.
struct Coturn {
    _peer: Peer,
    port: u16,
    tls_port: u16,
    cert_der: Vec<u8>,
    dir: PathBuf,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    // Free for both UDP and TCP.
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_coturn() -> Coturn {
    let dir = std::env::temp_dir().join(format!("sansrtc-coturn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A self-signed leaf certificate for 127.0.0.1 (not a CA: webpki refuses a CA
    // certificate as the server's own), trusted by the test as its only root.
    std::fs::write(
        dir.join("cert.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n\
         [dn]\nCN=127.0.0.1\n\
         [ext]\nsubjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl").current_dir(&dir).args([
        "req",
        "-x509",
        "-config",
        "cert.cnf",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "2",
    ]));
    run(Command::new("openssl").current_dir(&dir).args([
        "x509", "-in", "cert.pem", "-outform", "der", "-out", "cert.der",
    ]));
    let cert_der = std::fs::read(dir.join("cert.der")).unwrap();
    let port = free_port();
    let tls_port = free_port();
    let relay_min = 49_152 + (std::process::id() % 1000) as u16 * 10;
    let conf = format!(
        "listening-ip=127.0.0.1\n\
         relay-ip=127.0.0.1\n\
         listening-port={port}\n\
         tls-listening-port={tls_port}\n\
         min-port={relay_min}\n\
         max-port={}\n\
         realm={REALM}\n\
         lt-cred-mech\n\
         user={USER}:{PASSWORD}\n\
         fingerprint\n\
         max-allocate-lifetime={MAX_LIFETIME}\n\
         permission-lifetime=10\n\
         channel-lifetime=10\n\
         stale-nonce=9\n\
         cert={}\n\
         pkey={}\n\
         no-cli\n\
         no-dtls\n\
         no-tlsv1\n\
         no-tlsv1_1\n\
         allow-loopback-peers\n\
         no-multicast-peers\n\
         userdb={}\n\
         pidfile={}\n\
         log-file=stdout\n\
         simple-log\n",
        relay_min + 9,
        dir.join("cert.pem").display(),
        dir.join("key.pem").display(),
        dir.join("turndb").display(),
        dir.join("turnserver.pid").display(),
    );
    std::fs::write(dir.join("turnserver.conf"), conf).unwrap();
    let peer = Peer::spawn(
        Command::new("turnserver")
            .arg("-c")
            .arg(dir.join("turnserver.conf")),
    );
    // Ready once it listens on TCP (UDP and TLS listeners start alongside).
    let end = StdInstant::now() + StdDuration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            StdInstant::now() < end,
            "coturn did not start:\n{}",
            peer.output()
        );
        std::thread::sleep(StdDuration::from_millis(50));
    }
    std::thread::sleep(StdDuration::from_millis(200));
    Coturn {
        _peer: peer,
        port,
        tls_port,
        cert_der,
        dir,
    }
}

/// One sansrtc peer and the sockets its host owns.
struct Host {
    rtc: Rtc,
    udp: UdpSocket,
    tcp: HashMap<SocketAddr, TcpStream>,
    events: Vec<RtcEvent>,
    name: &'static str,
}

impl Host {
    fn new(name: &'static str, cfg: RtcConfig, clock: &Clock) -> Host {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let mut rtc = Rtc::new(cfg, clock.now()).unwrap();
        rtc.add_local_candidate(Candidate::host(udp.local_addr().unwrap(), Protocol::Udp))
            .unwrap();
        rtc.end_of_local_candidates();
        Host {
            rtc,
            udp,
            tcp: HashMap::new(),
            events: Vec::new(),
            name,
        }
    }

    /// Moves bytes both ways and runs timers once. True if anything happened.
    fn step(&mut self, clock: &Clock) -> bool {
        let mut moved = false;
        let mut buf = vec![0u8; 70_000];
        loop {
            match self.udp.recv_from(&mut buf) {
                Ok((n, src)) => {
                    moved = true;
                    let rx = Receive {
                        proto: Protocol::Udp,
                        source: src,
                        destination: self.udp.local_addr().unwrap(),
                        contents: &buf[..n],
                    };
                    self.rtc.handle_receive(clock.now(), rx);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{}: udp recv: {e}", self.name),
            }
        }
        let servers: Vec<SocketAddr> = self.tcp.keys().copied().collect();
        for server in servers {
            loop {
                let s = self.tcp.get_mut(&server).unwrap();
                match s.read(&mut buf) {
                    Ok(0) => {
                        self.tcp.remove(&server);
                        self.rtc.handle_turn_stream_closed(clock.now(), server);
                        break;
                    }
                    Ok(n) => {
                        moved = true;
                        if std::env::var_os("TURN_DEBUG").is_some() {
                            eprintln!("{} tcp in {n} bytes", self.name);
                        }
                        let rx = Receive {
                            proto: Protocol::Tcp,
                            source: server,
                            destination: s.local_addr().unwrap(),
                            contents: &buf[..n],
                        };
                        self.rtc.handle_receive(clock.now(), rx);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        self.tcp.remove(&server);
                        self.rtc.handle_turn_stream_closed(clock.now(), server);
                        break;
                    }
                }
            }
        }
        if let Some(t) = self.rtc.poll_timeout()
            && clock.now() >= t
        {
            self.rtc.handle_timeout(clock.now());
            moved = true;
        }
        while let Some(t) = self.rtc.poll_transmit(clock.now(), &mut buf) {
            moved = true;
            let data = &buf[..t.size];
            match t.proto {
                Protocol::Udp => {
                    let _ = self.udp.send_to(data, t.destination);
                }
                Protocol::Tcp => {
                    let s = self.tcp.entry(t.destination).or_insert_with(|| {
                        let s = TcpStream::connect(t.destination).unwrap();
                        s.set_nodelay(true).unwrap();
                        s.set_nonblocking(true).unwrap();
                        s
                    });
                    if std::env::var_os("TURN_DEBUG").is_some() {
                        eprintln!(
                            "{} tcp out {} bytes to {}",
                            self.name,
                            data.len(),
                            t.destination
                        );
                    }
                    write_all(s, data);
                }
            }
        }
        while let Some(e) = self.rtc.poll_event() {
            self.events.push(e);
            moved = true;
        }
        moved
    }

    fn turn_errors(&self) -> Vec<TurnError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RtcEvent::TurnError { error, .. } => Some(error.clone()),
                _ => None,
            })
            .collect()
    }

    fn gathered(&self) -> bool {
        self.events.contains(&RtcEvent::GatheringComplete)
    }
}

fn write_all(s: &mut TcpStream, mut data: &[u8]) {
    let end = StdInstant::now() + StdDuration::from_secs(5);
    while !data.is_empty() {
        match s.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock && StdInstant::now() < end => {
                std::thread::sleep(StdDuration::from_micros(200));
            }
            Err(e) => panic!("tcp write: {e}"),
        }
    }
}

fn relay_config(url: &str, password: &str, coturn: &Coturn) -> RtcConfig {
    let mut cfg = RtcConfig {
        ice_servers: vec![IceServer::new(&[url], USER, password).unwrap()],
        ice_transport_policy: IceTransportPolicy::Relay,
        ..RtcConfig::default()
    };
    cfg.ice.turn_tls_roots = vec![coturn.cert_der.clone()];
    // coturn's permissions and channels last 10 s here: refresh them after 4 s.
    cfg.ice.turn_permission_refresh = sansrtc::Duration::from_secs(4);
    cfg.ice.turn_channel_refresh = sansrtc::Duration::from_secs(4);
    cfg
}

/// Drives both hosts until `done` or the deadline.
fn drive(
    a: &mut Host,
    b: &mut Host,
    clock: &Clock,
    secs: u64,
    mut done: impl FnMut(&mut Host, &mut Host) -> bool,
) -> bool {
    let end = StdInstant::now() + StdDuration::from_secs(secs);
    while StdInstant::now() < end {
        let moved = a.step(clock) | b.step(clock);
        if done(a, b) {
            return true;
        }
        if !moved {
            std::thread::sleep(StdDuration::from_millis(1));
        }
    }
    false
}

/// Two relay-only peers through coturn on `url`: connect, exchange messages for 20 s
/// across allocation refreshes, then check a wrong password is reported.
fn two_peers_through(url: &str) {
    let coturn = start_coturn();
    let url = url
        .replace("PORT", &coturn.port.to_string())
        .replace("TLS", &coturn.tls_port.to_string());
    let clock = Clock::new();
    let mut a = Host::new("a", relay_config(&url, PASSWORD, &coturn), &clock);
    let mut b = Host::new("b", relay_config(&url, PASSWORD, &coturn), &clock);
    assert!(
        drive(&mut a, &mut b, &clock, 15, |a, b| a.gathered()
            && b.gathered()),
        "gathering did not complete: a {:?} b {:?}\ncoturn:\n{}",
        a.events,
        b.events,
        coturn._peer.output()
    );
    assert!(a.turn_errors().is_empty(), "{:?}", a.turn_errors());
    let chan = a
        .rtc
        .create_data_channel(ChannelConfig {
            label: "turn".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    let offer = a.rtc.create_offer(clock.now()).unwrap();
    // Relay policy: only the relayed candidate is offered, with its related address.
    assert!(
        offer.contains(" typ relay raddr 127.0.0.1 rport "),
        "{offer}"
    );
    assert!(!offer.contains("typ host"), "{offer}");
    let answer = b.rtc.accept_offer(clock.now(), &offer).unwrap();
    assert!(answer.contains(" typ relay raddr "), "{answer}");
    a.rtc.accept_answer(clock.now(), &answer).unwrap();

    let opened = |h: &Host| {
        h.events
            .iter()
            .any(|e| matches!(e, RtcEvent::ChannelOpen { .. }))
    };
    assert!(
        drive(&mut a, &mut b, &clock, 20, |a, b| opened(a) && opened(b)),
        "channel did not open: a {:?}\nb {:?}",
        a.events,
        b.events
    );
    for h in [&a, &b] {
        let sel = h.rtc.stats().selected_pair.expect("a selected pair");
        assert_eq!(
            (sel.local_kind, sel.remote_kind),
            (CandidateKind::Relayed, CandidateKind::Relayed),
            "{}: selected pair must be relay<->relay: {sel:?}",
            h.name
        );
    }
    let b_chan = b
        .events
        .iter()
        .find_map(|e| match e {
            RtcEvent::ChannelOpen { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();

    // 20 s of messages both ways (more than one 6 s refresh period, and the 4 s
    // permission and channel refreshes), every one echoed.
    let start = StdInstant::now();
    let mut sent = 0u32;
    let mut echoed = 0u32;
    let mut last_send = StdInstant::now() - StdDuration::from_secs(1);
    let mut refreshed_at: Option<u32> = None;
    let (mut a_seen, mut b_seen) = (a.events.len(), b.events.len());
    while start.elapsed() < StdDuration::from_secs(20) || echoed < sent {
        assert!(
            start.elapsed() < StdDuration::from_secs(40),
            "echoes stopped: sent {sent}, echoed {echoed}\na: {:?}\nb: {:?}",
            a.rtc.stats().turn,
            b.rtc.stats().turn
        );
        if start.elapsed() < StdDuration::from_secs(20)
            && last_send.elapsed() >= StdDuration::from_millis(100)
        {
            let msg = format!("message {sent} {}", "x".repeat((sent as usize * 37) % 1500));
            a.rtc.channel(chan).unwrap().send_text(&msg).unwrap();
            sent += 1;
            last_send = StdInstant::now();
        }
        let moved = a.step(&clock) | b.step(&clock);
        let new_b: Vec<RtcEvent> = b.events[b_seen..].to_vec();
        b_seen = b.events.len();
        for e in new_b {
            if let RtcEvent::ChannelData { id, data, binary } = &e {
                assert_eq!(*id, b_chan);
                let mut ch = b.rtc.channel(b_chan).unwrap();
                if *binary {
                    ch.send_binary(data).unwrap();
                } else {
                    ch.send_text(std::str::from_utf8(data).unwrap()).unwrap();
                }
            }
        }
        for e in &a.events[a_seen..] {
            if let RtcEvent::ChannelData { data, .. } = e {
                let want = format!(
                    "message {echoed} {}",
                    "x".repeat((echoed as usize * 37) % 1500)
                );
                assert_eq!(std::str::from_utf8(data).unwrap(), want, "echoes in order");
                echoed += 1;
            }
        }
        a_seen = a.events.len();
        if refreshed_at.is_none()
            && a.rtc.stats().turn[0].refreshes >= 1
            && b.rtc.stats().turn[0].refreshes >= 1
        {
            refreshed_at = Some(sent);
        }
        if !moved {
            std::thread::sleep(StdDuration::from_millis(1));
        }
    }
    let refreshed_at = refreshed_at.expect("both allocations refreshed during the test");
    assert!(
        echoed > refreshed_at + 20,
        "messages flowed after the refresh: {echoed} echoed, refresh after {refreshed_at}"
    );
    for h in [&a, &b] {
        let st = h.rtc.stats();
        let t = &st.turn[0];
        eprintln!("{url} {}: {t:?}", h.name);
        assert!(
            t.refreshes >= 2,
            "{}: allocation refreshed every 6 s: {t:?}",
            h.name
        );
        assert!(
            t.permissions >= 3,
            "{}: permission refreshed: {t:?}",
            h.name
        );
        assert!(t.channel_binds >= 3, "{}: channel refreshed: {t:?}", h.name);
        assert!(
            t.sent_channel_data > 100,
            "{}: data in ChannelData: {t:?}",
            h.name
        );
        assert!(
            t.received_channel_data > 100,
            "{}: data back in ChannelData: {t:?}",
            h.name
        );
        assert_eq!(h.rtc.state(), RtcState::Connected, "{}", h.name);
        assert!(
            h.turn_errors().is_empty(),
            "{}: {:?}",
            h.name,
            h.turn_errors()
        );
        assert_eq!(st.local_candidates.relayed, 1);
        assert_eq!(
            st.local_candidates.host, 0,
            "relay policy signals no host candidate"
        );
    }
    // coturn's nonce goes stale every 9 s: the 438 answers were retried.
    let stale = a.rtc.stats().turn[0].stale_nonces + b.rtc.stats().turn[0].stale_nonces;
    eprintln!("{url}: {echoed} messages echoed, {stale} stale nonces retried");

    // Close: the allocation is released (Refresh, LIFETIME 0) after the last datagrams.
    a.rtc.close();
    a.step(&clock);
    assert!(
        a.events
            .iter()
            .any(|e| matches!(e, RtcEvent::Closed { .. }))
    );

    // Wrong password: a clear error event.
    let mut w = Host::new(
        "wrong",
        relay_config(&url, "not-the-password", &coturn),
        &clock,
    );
    let mut idle = Host::new("idle", RtcConfig::default(), &clock);
    assert!(
        drive(&mut w, &mut idle, &clock, 15, |w, _| !w
            .turn_errors()
            .is_empty()),
        "no TURN error for a wrong password: {:?}",
        w.events
    );
    assert_eq!(w.turn_errors(), vec![TurnError::WrongCredentials]);
    assert!(drive(&mut w, &mut idle, &clock, 5, |w, _| w.gathered()));
    assert_eq!(w.rtc.stats().local_candidates.relayed, 0);
}

fn turn_test(name: &str, url: &'static str) {
    if skip(name) {
        return;
    }
    install();
    in_private_netns(name, move || two_peers_through(url));
}

#[test]
fn relay_to_relay_over_udp() {
    turn_test(
        "relay_to_relay_over_udp",
        "turn:127.0.0.1:PORT?transport=udp",
    );
}

#[test]
fn relay_to_relay_over_tcp() {
    turn_test(
        "relay_to_relay_over_tcp",
        "turn:127.0.0.1:PORT?transport=tcp",
    );
}

#[test]
fn relay_to_relay_over_tls() {
    turn_test("relay_to_relay_over_tls", "turns:127.0.0.1:TLS");
}

// ---- aiortc through coturn

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A sansrtc offerer using only coturn's relay, against aiortc's WHIP echo answerer
/// (which uses its host candidate): messages must come back.
fn aiortc_through_coturn() {
    let coturn = start_coturn();
    let server = Peer::spawn(
        Command::new(repo().join(".interop/venv/bin/python"))
            .arg(repo().join("tests/interop/peers/aiortc_peer.py"))
            .args(["answer", "--listen", "127.0.0.1:0"]),
    );
    assert!(
        server.wait_for("LISTENING ", StdDuration::from_secs(60)),
        "aiortc did not start:\n{}",
        server.output()
    );
    let port: u16 = server
        .output()
        .lines()
        .find_map(|l| l.strip_prefix("LISTENING "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
    let clock = Clock::new();
    let url = format!("turn:127.0.0.1:{}?transport=udp", coturn.port);
    let mut a = Host::new("sansrtc", relay_config(&url, PASSWORD, &coturn), &clock);
    let mut idle = Host::new("idle", RtcConfig::default(), &clock);
    assert!(drive(&mut a, &mut idle, &clock, 15, |a, _| a.gathered()));
    let chan = a
        .rtc
        .create_data_channel(ChannelConfig {
            label: "echo".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    let offer = a.rtc.create_offer(clock.now()).unwrap();
    assert!(offer.contains(" typ relay "), "{offer}");
    let answer = ureq::post(format!("http://127.0.0.1:{port}/whip"))
        .content_type("application/sdp")
        .send(&offer)
        .expect("WHIP POST to aiortc")
        .body_mut()
        .read_to_string()
        .unwrap();
    a.rtc.accept_answer(clock.now(), &answer).unwrap();
    let mut sent = 0;
    let mut echoed = 0;
    let mut seen = 0;
    let end = StdInstant::now() + StdDuration::from_secs(30);
    while echoed < 50 {
        assert!(
            StdInstant::now() < end,
            "aiortc through coturn: {echoed}/{sent} echoed\nevents {:?}\nstats {:?}\naiortc:\n{}",
            a.events,
            a.rtc.stats().turn,
            server.output()
        );
        let moved = a.step(&clock) | idle.step(&clock);
        let new: Vec<RtcEvent> = a.events[seen..].to_vec();
        seen = a.events.len();
        for e in new {
            match &e {
                RtcEvent::ChannelOpen { id, .. } if *id == chan => {
                    for i in 0..50 {
                        a.rtc
                            .channel(chan)
                            .unwrap()
                            .send_binary(&vec![i as u8; 100 + i * 20])
                            .unwrap();
                        sent += 1;
                    }
                }
                RtcEvent::ChannelData { data, .. } => {
                    assert_eq!(data, &vec![echoed as u8; 100 + echoed * 20]);
                    echoed += 1;
                }
                _ => {}
            }
        }
        if !moved {
            std::thread::sleep(StdDuration::from_millis(1));
        }
    }
    let st = a.rtc.stats();
    let sel = st.selected_pair.unwrap();
    assert_eq!(sel.local_kind, CandidateKind::Relayed, "{sel:?}");
    // SCTP bundles messages: fewer datagrams than messages, all through the relay.
    let t = &st.turn[0];
    assert!(t.sent_channel_data + t.sent_send_indications >= 10, "{t:?}");
    assert!(
        t.received_channel_data + t.received_data_indications >= 10,
        "{t:?}"
    );
    assert!(a.turn_errors().is_empty(), "{:?}", a.turn_errors());
    eprintln!("aiortc through coturn: {echoed} echoed; {:?}", st.turn[0]);
    a.rtc.close();
    a.step(&clock);
}

#[test]
fn aiortc_connects_to_sansrtc_through_coturn() {
    let name = "aiortc_connects_to_sansrtc_through_coturn";
    if skip(name) || std::env::var_os("SANSRTC_SKIP_INTEROP").is_some() {
        interop::loud(format_args!(
            "SKIPPED {name}: skip variable set; aiortc through coturn was not tested"
        ));
        return;
    }
    install();
    let out = Command::new("bash")
        .arg(repo().join("tests/interop/peers/setup.sh"))
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "interop setup failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    in_private_netns(name, aiortc_through_coturn);
}
