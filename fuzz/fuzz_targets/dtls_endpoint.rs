//! Two DTLS endpoints (a client and a server) handshaking over a hostile link, driven by
//! a script decoded from the fuzz input.
//!
//! One endpoint is the *victim*: everything the other (the *peer*) sends it passes
//! through the script, which delivers, drops, duplicates, reorders, corrupts, truncates
//! or replays it, and injects datagrams of its own. What the victim sends reaches the peer
//! unharmed, so the handshake can make progress. The script also moves the virtual
//! clock, sends application data and closes either side, and changes the fingerprints
//! the victim expects.
//!
//! Checked on both endpoints, after every step:
//! - nothing panics, and `poll_datagram` never reports more bytes than its buffer holds;
//! - every datagram an endpoint sends frames as well-formed records, and one without
//!   application data fits the configured MTU;
//! - no event follows `Closed` (so no `Connected` after it), `Connected` comes at most
//!   once, and `is_closed` agrees with the events;
//! - `Connected` only while the fingerprints set on that endpoint match the other's
//!   certificate, and it names that certificate (an attacker without the key cannot
//!   be accepted);
//! - application data received was sent by the other endpoint, each payload at most as
//!   many times as it was sent (forged or replayed records must not get through);
//! - once both are connected, they export the same keying material;
//! - after `handle_timeout(now)`, the next deadline is later than `now` (a host that
//!   loops on expired deadlines must not spin).
//!
//! Time is virtual (`Instant::from_millis`); nothing here reads a clock. The handshake's
//! randoms come from seeded generators, but the ephemeral keys and ECDSA signatures come
//! from the crypto library's own randomness and the certificates are generated once per
//! process, so the bytes on the wire differ from run to run: the script's operations are
//! positional ("flip bit n of the next datagram"), which keeps crashes reproducible
//! unless they depend on the exact key material.
#![no_main]

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::wire::handshake::{HandshakeType, put_header};
use sansrtc::dtls::wire::record::{ContentType, DTLS_1_2, RECORD_HEADER_LEN, RecordHeader};
use sansrtc::dtls::{
    CipherSuite, Dtls, DtlsCertificate, DtlsConfig, DtlsEvent, DtlsRole, Fingerprint,
    HashAlgorithm, NamedGroup,
};
use sansrtc::{Duration, Instant, RngSource};

/// Most operations run per input (keeps each input fast).
const MAX_OPS: usize = 300;
/// Most peer datagrams waiting on the link; older ones are lost beyond it.
const MAX_ON_WIRE: usize = 256;
/// Peer datagrams kept for replay.
const MAX_HISTORY: usize = 64;
/// The buffer `poll_datagram` normally gets: more than any datagram here can need (the
/// MTU is at most 1200 and application data at most 255 bytes).
const BUF_LEN: usize = 1500;

/// The victim's certificate and the peer's, made once per process (generating one per
/// input would dominate the run time).
fn certs() -> &'static (DtlsCertificate, DtlsCertificate) {
    static CERTS: OnceLock<(DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            DtlsCertificate::generate().expect("certificate"),
            DtlsCertificate::generate().expect("certificate"),
        )
    })
}

/// The fuzz input, read front to back; reads past the end give zeros / empty slices.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A length byte, then up to that many bytes.
    fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8()).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// What the events of one endpoint have said so far.
#[derive(Default)]
struct Log {
    connected: bool,
    closed: bool,
}

/// One endpoint and what is checked against it.
struct Side {
    dtls: Dtls,
    log: Log,
    /// Whether the fingerprints last given to this endpoint match the other's certificate.
    fingerprint_ok: bool,
    /// The other endpoint's certificate (DER).
    other_cert: Vec<u8>,
    /// Payloads the other endpoint sent to this one and that have not arrived yet, with
    /// their multiplicity.
    expected: HashMap<Vec<u8>, usize>,
    mtu: usize,
}

impl Side {
    fn new(
        config: DtlsConfig,
        cert: &DtlsCertificate,
        role: DtlsRole,
        other: &DtlsCertificate,
    ) -> Self {
        let mtu = config.mtu;
        Side {
            dtls: Dtls::new(config, cert.clone(), role).expect("valid config"),
            log: Log::default(),
            fingerprint_ok: false,
            other_cert: other.der().to_vec(),
            expected: HashMap::new(),
            mtu,
        }
    }

    /// Sets the fingerprints; `ok` says whether they include the other side's.
    fn set_fingerprints(&mut self, fps: Vec<Fingerprint>, ok: bool) {
        self.fingerprint_ok = ok;
        self.dtls.set_remote_fingerprints(fps);
    }

    /// Drains the events, checking each.
    fn check_events(&mut self, who: &str) {
        while let Some(e) = self.dtls.poll_event() {
            assert!(!self.log.closed, "{who}: event after Closed: {e:?}");
            match e {
                DtlsEvent::Connected(c) => {
                    assert!(!self.log.connected, "{who}: Connected twice");
                    assert!(
                        self.fingerprint_ok,
                        "{who}: Connected without a matching fingerprint"
                    );
                    assert!(
                        c.peer_certificate == self.other_cert,
                        "{who}: Connected to a certificate that is not the peer's"
                    );
                    self.log.connected = true;
                }
                DtlsEvent::ApplicationData(d) => self.arrived(who, &d),
                DtlsEvent::Closed(_) => self.log.closed = true,
            }
        }
        assert_eq!(
            self.dtls.is_closed(),
            self.log.closed,
            "{who}: is_closed disagrees"
        );
        if self.dtls.is_connected() {
            assert!(self.log.connected, "{who}: connected without an event");
        }
    }

    /// Application data arrived: the other side must have sent it, at least as many times.
    fn arrived(&mut self, who: &str, d: &[u8]) {
        match self.expected.get_mut(d) {
            Some(n) if *n > 0 => *n -= 1,
            _ => panic!("{who}: received data that was not sent (or more often): {d:02x?}"),
        }
    }

    /// Hands in a datagram, through the data sink or the event queue.
    fn receive(&mut self, now: Instant, d: &[u8], sink: bool, who: &str) {
        if sink {
            let mut got = Vec::new();
            self.dtls
                .handle_receive_with(now, d, &mut |p: &[u8]| got.push(p.to_vec()));
            for p in got {
                self.arrived(who, &p);
            }
        } else {
            self.dtls.handle_receive(now, d);
        }
    }

    fn timeout(&mut self, now: Instant, who: &str) {
        self.dtls.handle_timeout(now);
        if let Some(t) = self.dtls.poll_timeout() {
            assert!(
                t > now,
                "{who}: deadline {t:?} not after handle_timeout({now:?})"
            );
        }
    }

    /// The next outgoing datagram into a buffer of `len` bytes, checked.
    fn poll(&mut self, len: usize, who: &str) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = self.dtls.poll_datagram(&mut buf)?;
        assert!(n <= len, "{who}: poll_datagram returned {n} > buffer {len}");
        let d = buf[..n].to_vec();
        check_datagram(&d, self.mtu, who);
        Some(d)
    }
}

/// A datagram we produced must frame as records; without application data, it must fit
/// the MTU (flights are fragmented to fit).
fn check_datagram(d: &[u8], mtu: usize, who: &str) {
    assert!(!d.is_empty(), "{who}: empty datagram");
    let mut app_data = false;
    for rec in sansrtc::dtls::wire::record::records(d) {
        let rec = rec.unwrap_or_else(|e| panic!("{who}: malformed own datagram ({e:?}) {d:02x?}"));
        app_data |= rec.header.content_type == ContentType::ApplicationData;
    }
    assert!(
        app_data || d.len() <= mtu,
        "{who}: {}-byte datagram over the {mtu}-byte MTU",
        d.len()
    );
}

struct Harness {
    now: Instant,
    victim: Side,
    peer: Side,
    /// Peer datagrams not delivered yet: the script decides their fate.
    wire: VecDeque<Vec<u8>>,
    /// Peer datagrams already on the wire once, for replays.
    history: VecDeque<Vec<u8>>,
    /// Whether the keying material of the two connected sides was compared.
    keys_compared: bool,
}

impl Harness {
    /// Moves datagrams and checks events: the victim's go straight to the peer, the
    /// peer's onto the wire.
    fn pump(&mut self) {
        while let Some(d) = self.victim.poll(BUF_LEN, "victim") {
            self.peer.receive(self.now, &d, false, "peer");
        }
        while let Some(d) = self.peer.poll(BUF_LEN, "peer") {
            if self.wire.len() == MAX_ON_WIRE {
                self.wire.pop_front();
            }
            if self.history.len() == MAX_HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(d.clone());
            self.wire.push_back(d);
        }
        self.victim.check_events("victim");
        self.peer.check_events("peer");
        if !self.keys_compared && self.victim.dtls.is_connected() && self.peer.dtls.is_connected() {
            self.keys_compared = true;
            assert_eq!(
                self.victim.dtls.srtp_keying_material(),
                self.peer.dtls.srtp_keying_material(),
                "SRTP keys differ"
            );
            let label = b"EXPORTER-fuzz";
            assert_eq!(
                self.victim.dtls.export_keying_material(label, None, 32),
                self.peer.dtls.export_keying_material(label, None, 32),
                "exported keys differ"
            );
        }
    }

    fn deliver(&mut self, d: &[u8], sink: bool) {
        self.victim.receive(self.now, d, sink, "victim");
    }

    fn timeouts(&mut self) {
        self.victim.timeout(self.now, "victim");
        self.peer.timeout(self.now, "peer");
    }

    /// Runs one operation of the script.
    fn step(&mut self, s: &mut Script<'_>, op: u8) {
        let flags = op >> 4;
        match op & 0x0f {
            // Deliver the next datagram (0x10: through the data sink; 0x20: glued to the
            // one after it, as one datagram).
            0 => {
                if let Some(mut d) = self.wire.pop_front() {
                    if flags & 2 != 0
                        && let Some(next) = self.wire.pop_front()
                    {
                        d.extend_from_slice(&next);
                    }
                    self.deliver(&d, flags & 1 != 0);
                }
            }
            // Lose it.
            1 => {
                self.wire.pop_front();
            }
            // Deliver a copy and keep it for later.
            2 => {
                if let Some(d) = self.wire.front().cloned() {
                    self.deliver(&d, flags & 1 != 0);
                }
            }
            // Deliver it with one bit flipped.
            3 => {
                let bit = usize::from(s.u16());
                if let Some(mut d) = self.wire.pop_front() {
                    let i = bit % (d.len() * 8);
                    d[i / 8] ^= 1 << (i % 8);
                    self.deliver(&d, false);
                }
            }
            // Deliver a prefix of it.
            4 => {
                let keep = usize::from(s.u16());
                if let Some(d) = self.wire.pop_front() {
                    self.deliver(&d[..keep % d.len()], false);
                }
            }
            // Delay it behind the others.
            5 => {
                if let Some(d) = self.wire.pop_front() {
                    self.wire.push_back(d);
                }
            }
            // Replay an old datagram.
            6 => {
                let i = usize::from(s.u8());
                if !self.history.is_empty() {
                    let d = self.history[i % self.history.len()].clone();
                    self.deliver(&d, false);
                }
            }
            // Inject arbitrary bytes.
            7 => {
                let d = s.chunk().to_vec();
                self.deliver(&d, flags & 1 != 0);
            }
            // Inject a well-framed record with fuzz contents.
            8 => {
                let d = forged_record(s);
                self.deliver(&d, false);
            }
            // Let time pass (up to about a minute: past the 30 s handshake timeout).
            9 => {
                self.now += Duration::from_millis(u64::from(s.u16()));
                self.timeouts();
            }
            // Jump to the earliest deadline.
            10 => {
                let next = [
                    self.victim.dtls.poll_timeout(),
                    self.peer.dtls.poll_timeout(),
                ]
                .into_iter()
                .flatten()
                .min();
                if let Some(t) = next {
                    self.now = self.now.max(t);
                    self.timeouts();
                }
            }
            // The victim sends (0x10: sealed at once into a buffer of fuzz length, and
            // handed to the peer directly).
            11 => {
                let data = s.chunk().to_vec();
                if flags & 1 != 0 {
                    let mut out = vec![0u8; usize::from(s.u16()) % 512];
                    if let Ok(n) = self.victim.dtls.seal_application_data(&data, &mut out) {
                        assert!(n <= out.len(), "seal_application_data overran its buffer");
                        check_datagram(&out[..n], self.victim.mtu, "victim");
                        *self.peer.expected.entry(data).or_default() += 1;
                        self.peer.receive(self.now, &out[..n], false, "peer");
                    }
                } else if self.victim.dtls.send(&data).is_ok() {
                    *self.peer.expected.entry(data).or_default() += 1;
                }
            }
            // The peer sends.
            12 => {
                let data = s.chunk().to_vec();
                if self.peer.dtls.send(&data).is_ok() {
                    *self.victim.expected.entry(data).or_default() += 1;
                }
            }
            // Close one side (0x10: the peer).
            13 => {
                if flags & 1 != 0 {
                    self.peer.dtls.close();
                } else {
                    self.victim.dtls.close();
                }
            }
            // Change the fingerprints the victim expects: none, a wrong one, or the
            // peer's (whether they are right is decided here, not by the library).
            14 => {
                let peer_cert = self.victim.other_cert.as_slice();
                let right = |alg| Fingerprint::of(alg, peer_cert);
                // Our own certificate's: a real fingerprint, of the wrong certificate.
                let wrong = self.victim.dtls.local_fingerprint().clone();
                let (fps, ok) = match s.u8() % 5 {
                    0 => (Vec::new(), false),
                    1 => (vec![wrong], false),
                    2 => (vec![right(HashAlgorithm::Sha256)], true),
                    // One match among several is enough, under any hash.
                    3 => (vec![wrong, right(HashAlgorithm::Sha384)], true),
                    _ => {
                        // The right sha-256 hash labelled sha-512.
                        let mut f = right(HashAlgorithm::Sha256);
                        f.algorithm = HashAlgorithm::Sha512;
                        (vec![f], false)
                    }
                };
                self.victim.set_fingerprints(fps, ok);
            }
            // Take the victim's next datagram into a buffer of fuzz length (too short a
            // buffer loses it) and hand it to the peer.
            15 => {
                let len = usize::from(s.u16()) % (BUF_LEN + 1);
                if let Some(d) = self.victim.poll(len, "victim") {
                    self.peer.receive(self.now, &d, false, "peer");
                }
            }
            _ => unreachable!(),
        }
    }
}

/// A record that frames correctly (so it reaches the endpoint's record and handshake
/// logic) with contents from the script: content type, epoch 0 or 1, sequence number,
/// and for handshake records optionally a handshake header around the body.
fn forged_record(s: &mut Script<'_>) -> Vec<u8> {
    let t = s.u8();
    let content_type = [
        ContentType::Handshake,
        ContentType::Alert,
        ContentType::ChangeCipherSpec,
        ContentType::ApplicationData,
    ][usize::from(t & 3)];
    let epoch = u16::from((t >> 2) & 1);
    let seq = u64::from(s.u8());
    let body = s.chunk();
    let mut fragment = Vec::new();
    if content_type == ContentType::Handshake && t & 0x10 != 0 {
        let msg_type = HandshakeType::from_u8(s.u8()).unwrap_or(HandshakeType::ClientHello);
        let message_seq = u16::from(s.u8());
        let len = body.len() as u32; // a chunk: at most 255 bytes
        put_header(&mut fragment, msg_type, len, message_seq, 0, len);
    }
    fragment.extend_from_slice(body);
    let header = RecordHeader {
        content_type,
        version: DTLS_1_2,
        epoch,
        seq,
        length: fragment.len() as u16, // at most 12 + 255 bytes
    };
    let mut d = vec![0u8; RECORD_HEADER_LEN];
    assert!(header.write(&mut d));
    d.extend_from_slice(&fragment);
    d
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script(data);
    // The first byte sets the scene:
    //   bit 0: the victim is the server (else the client);
    //   bit 1: the server answers without a cookie exchange;
    //   bit 2: both use a small MTU (flights get fragmented);
    //   bit 3: the victim offers/accepts no SRTP profile;
    //   bit 4: the victim only has P-256 (not X25519);
    //   bits 5-6: the victim's cipher suites (all, or just one);
    //   bit 7: the victim starts without the peer's fingerprint.
    let setup = s.u8();
    let (victim_cert, peer_cert) = certs();
    let base = |seed| DtlsConfig {
        rng: RngSource::Seeded(seed),
        require_cookie: setup & 2 == 0,
        mtu: if setup & 4 != 0 { 200 } else { 1200 },
        ..DtlsConfig::default()
    };
    let mut vc = base(1);
    if setup & 8 != 0 {
        vc.srtp_profiles.clear();
    }
    if setup & 16 != 0 {
        vc.groups = vec![NamedGroup::Secp256r1];
    }
    match (setup >> 5) & 3 {
        1 => vc.cipher_suites = vec![CipherSuite::EcdheEcdsaAes256GcmSha384],
        2 => vc.cipher_suites = vec![CipherSuite::EcdheEcdsaChacha20Poly1305Sha256],
        3 => vc.cipher_suites = vec![CipherSuite::EcdheEcdsaAes128GcmSha256],
        _ => {}
    }
    let (victim_role, peer_role) = if setup & 1 != 0 {
        (DtlsRole::Server, DtlsRole::Client)
    } else {
        (DtlsRole::Client, DtlsRole::Server)
    };
    let mut h = Harness {
        now: Instant::from_millis(0),
        victim: Side::new(vc, victim_cert, victim_role, peer_cert),
        peer: Side::new(base(2), peer_cert, peer_role, victim_cert),
        wire: VecDeque::new(),
        history: VecDeque::new(),
        keys_compared: false,
    };
    if setup & 0x80 == 0 {
        h.victim
            .set_fingerprints(vec![peer_cert.fingerprint().clone()], true);
    }
    h.peer
        .set_fingerprints(vec![victim_cert.fingerprint().clone()], true);
    h.victim.dtls.start(h.now);
    h.peer.dtls.start(h.now);
    h.pump();

    for _ in 0..MAX_OPS {
        let Some(op) = s.byte() else {
            break;
        };
        h.step(&mut s, op);
        h.pump();
    }
});
