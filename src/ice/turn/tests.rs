use core::net::SocketAddr;

use proptest::prelude::*;

use super::channel_data::{self, ChannelData, ChannelDataError};
use super::stream::{FrameError, Framer};
use super::*;
use crate::ice::stun::{self, IntegrityKey, MessageClass};
use crate::ice::{Candidate, CandidateKind, Credentials, IceAgent, IceConfig, IceEvent};
use crate::net::{Protocol, Receive};
use crate::rng::RngSource;
use crate::time::{Duration, Instant};

// ---- ChannelData (RFC 8656 §12.4, §12.5)

#[test]
fn channel_data_round_trips_with_and_without_padding() {
    for len in 0..9usize {
        let data: Vec<u8> = (0..len as u8).collect();
        for stream in [false, true] {
            let mut out = [0xEEu8; 32];
            let n = channel_data::encode(0x4ABC, &data, stream, &mut out).unwrap();
            let want = 4 + len + if stream { (4 - len % 4) % 4 } else { 0 };
            assert_eq!(n, want, "len {len} stream {stream}");
            assert!(out[4 + len..n].iter().all(|&b| b == 0), "padding is zero");
            let m = channel_data::parse(&out[..n]).unwrap();
            assert_eq!(
                m,
                ChannelData {
                    channel: 0x4ABC,
                    data: &data
                }
            );
            if stream {
                assert_eq!(channel_data::stream_frame_len(&out[..4]), Some(n));
            }
        }
    }
}

#[test]
fn channel_data_rejects_malformed_input() {
    use ChannelDataError::*;
    assert_eq!(channel_data::parse(&[]), Err(TooShort));
    assert_eq!(channel_data::parse(&[0x40, 0x00, 0x00]), Err(TooShort));
    // Reserved channel numbers (RFC 8656 §12: only 0x4000..=0x4FFF).
    assert_eq!(
        channel_data::parse(&[0x3F, 0xFF, 0, 0]),
        Err(BadChannel(0x3FFF))
    );
    assert_eq!(
        channel_data::parse(&[0x50, 0x00, 0, 0]),
        Err(BadChannel(0x5000))
    );
    // Length longer than the datagram: discarded (§12.4).
    assert_eq!(
        channel_data::parse(&[0x40, 0, 0, 5, 1, 2, 3, 4]),
        Err(Truncated)
    );
    assert_eq!(
        channel_data::parse(&[0x40, 0, 0xFF, 0xFF, 1]),
        Err(Truncated)
    );
    // Writing: bad channel, small buffer, oversize data.
    let mut out = [0u8; 8];
    assert_eq!(
        channel_data::encode(0x3000, b"a", false, &mut out),
        Err(BadChannel(0x3000))
    );
    assert_eq!(
        channel_data::encode(0x4000, b"abcde", false, &mut out),
        Err(BufferTooSmall)
    );
    assert_eq!(channel_data::encode(0x4000, b"abcd", true, &mut out), Ok(8));
    assert_eq!(
        channel_data::encode(0x4000, b"abcde", true, &mut [0u8; 11]),
        Err(BufferTooSmall)
    );
    let mut big = vec![0u8; 70_000];
    assert_eq!(
        channel_data::frame_in_place(&mut big, 0x4000, 65_536, false),
        Err(BufferTooSmall)
    );
    assert_eq!(channel_data::stream_frame_len(&[0x40, 0]), None);
}

#[test]
fn channel_data_parses_every_short_input_without_panicking() {
    // Exhaustive over the first three bytes of every length up to 5.
    for len in 0..=5usize {
        for a in [0u8, 0x3F, 0x40, 0x4F, 0x50, 0xFF] {
            for b in [0u8, 1, 0xFF] {
                for c in [0u8, 1, 0xFF] {
                    let mut v = vec![a, b, 0, c, 9];
                    v.truncate(len);
                    if let Ok(m) = channel_data::parse(&v) {
                        assert!(channel_data::is_valid_channel(m.channel));
                        assert!(m.data.len() + 4 <= v.len());
                    }
                    let _ = channel_data::stream_frame_len(&v);
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn channel_data_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(m) = channel_data::parse(&bytes) {
            prop_assert!(channel_data::is_valid_channel(m.channel));
            prop_assert_eq!(m.data, &bytes[4..4 + m.data.len()]);
        }
        let mut f = Framer::new(64);
        let _ = f.push(&bytes);
        for _ in 0..100 {
            match f.next_frame() {
                Some(Ok(frame)) => prop_assert!(!frame.is_empty()),
                _ => break,
            }
        }
        let _ = msg::parse_data_indication(&bytes);
    }
}

// ---- stream framing (RFC 8656 §12.5)

#[test]
fn stream_frames_are_cut_across_any_chunking() {
    let mut stream = Vec::new();
    let mut out = [0u8; 64];
    let n = channel_data::encode(0x4001, b"hello", true, &mut out).unwrap();
    stream.extend_from_slice(&out[..n]);
    let m = stun::message(MessageClass::Indication, stun::BINDING, [7; 12]);
    let k = stun::encode(m, None, true, &mut out).unwrap();
    stream.extend_from_slice(&out[..k]);
    let n2 = channel_data::encode(0x4002, b"", true, &mut out).unwrap();
    stream.extend_from_slice(&out[..n2]);
    for chunk in 1..=stream.len() {
        let mut f = Framer::new(1024);
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for c in stream.chunks(chunk) {
            f.push(c).unwrap();
            while let Some(fr) = f.next_frame() {
                frames.push(fr.unwrap().to_vec());
            }
        }
        assert_eq!(frames.len(), 3, "chunk size {chunk}");
        assert_eq!(channel_data::parse(&frames[0]).unwrap().data, b"hello");
        assert_eq!(frames[0].len(), 12, "padded to 4 over a stream");
        assert!(stun::parse(&frames[1]).is_ok());
        assert_eq!(channel_data::parse(&frames[2]).unwrap().data, b"");
    }
}

#[test]
fn stream_garbage_and_overflow_are_errors() {
    let mut f = Framer::new(16);
    f.push(&[0x99, 0, 0, 0]).unwrap();
    assert_eq!(f.next_frame(), Some(Err(FrameError::Garbage)));
    let mut f = Framer::new(16);
    assert_eq!(f.push(&[0u8; 17]), Err(FrameError::Overflow));
    let mut f = Framer::new(16);
    f.push(&[0x40, 0, 0, 200]).unwrap();
    assert_eq!(f.next_frame(), Some(Err(FrameError::Overflow)));
}

// ---- the long-term credential key (RFC 8489 §9.2.2)

#[test]
fn long_term_key_is_md5_of_user_realm_password() {
    // RFC 1321 §A.5 test suite, through the same MD5.
    assert_eq!(
        hex(&md5::compute(b"").0),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    assert_eq!(
        hex(&md5::compute(b"abc").0),
        "900150983cd24fb0d6963f7d28e17f72"
    );
    assert_eq!(
        hex(&md5::compute(b"message digest").0),
        "f96b697d7cb7938d525a2f31aaf161d0"
    );
    // MD5("a:b:c") and MD5("user:realm:pass") as `openssl md5` computes them.
    assert_eq!(
        hex(&long_term_key("a", "b", "c")),
        "02cc8f08398a4f3113b554e8105ebe4c"
    );
    assert_eq!(
        hex(&long_term_key("user", "realm", "pass")),
        "8493fbc53ba582fb4c044c456bdc40eb"
    );
}

#[test]
fn long_term_key_verifies_the_rfc5769_long_term_request() {
    // RFC 5769 §2.4: USERNAME "マトリックス" (SASLprep'd), REALM "example.org",
    // password "TheMatrIX".
    let raw = unhex(concat!(
        "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383",
        "aae38383e382afe382b900000015001c662f2f3439396b39353464364f4c3334",
        "6f4c394653547679363473410014000b6578616d706c652e6f72670000080014",
        "f67024656dd64a3e02b8e0712e85c9a28ca89666",
    ));
    let p = stun::parse(&raw).unwrap();
    let user = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";
    let good = long_term_key(user, "example.org", "TheMatrIX");
    assert!(p.verify_integrity(&IntegrityKey::from_long_term_key(&good)));
    let bad = long_term_key(user, "example.org", "TheMatrix");
    assert!(!p.verify_integrity(&IntegrityKey::from_long_term_key(&bad)));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- URLs (RFC 7064, RFC 7065)

#[test]
fn ice_server_urls_parse() {
    let ok: &[(&str, UrlScheme, &str, u16, TurnTransport)] = &[
        (
            "stun:192.0.2.1",
            UrlScheme::Stun,
            "192.0.2.1",
            3478,
            TurnTransport::Udp,
        ),
        (
            "stun:stun.example.org:19302",
            UrlScheme::Stun,
            "stun.example.org",
            19302,
            TurnTransport::Udp,
        ),
        (
            "turn:192.0.2.1",
            UrlScheme::Turn,
            "192.0.2.1",
            3478,
            TurnTransport::Udp,
        ),
        (
            "turn:192.0.2.1:3479?transport=udp",
            UrlScheme::Turn,
            "192.0.2.1",
            3479,
            TurnTransport::Udp,
        ),
        (
            "TURN:192.0.2.1?transport=TCP",
            UrlScheme::Turn,
            "192.0.2.1",
            3478,
            TurnTransport::Tcp,
        ),
        (
            "turns:turn.example.org",
            UrlScheme::Turns,
            "turn.example.org",
            5349,
            TurnTransport::Tls,
        ),
        (
            "turns:[2001:db8::1]:443?transport=tcp",
            UrlScheme::Turns,
            "2001:db8::1",
            443,
            TurnTransport::Tls,
        ),
        (
            "turn:[::1]",
            UrlScheme::Turn,
            "::1",
            3478,
            TurnTransport::Udp,
        ),
    ];
    for (s, scheme, host, port, transport) in ok {
        let u: IceServerUrl = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.transport),
            (*scheme, *host, *port, *transport),
            "{s}"
        );
        assert_eq!(
            u.ip.is_some(),
            host.parse::<core::net::IpAddr>().is_ok(),
            "{s}"
        );
        // Display gives a URL that parses to the same thing.
        let back: IceServerUrl = u.to_string().parse().unwrap();
        assert_eq!(back, u, "{s}");
    }
    use IceServerError::*;
    let bad: &[(&str, IceServerError)] = &[
        ("http://x", UnknownScheme("http".into())),
        ("192.0.2.1", UnknownScheme("192.0.2.1".into())),
        ("turn:", MissingHost),
        ("turn::3478", MissingHost),
        ("turn:192.0.2.1:0", BadPort),
        ("turn:192.0.2.1:99999", BadPort),
        ("turn:192.0.2.1:x", BadPort),
        ("turn:[::1", BadHost),
        ("turn:[nothex]:1", BadHost),
        ("turn:a b", BadHost),
        (
            "turn:h?transport=sctp",
            BadTransport("transport=sctp".into()),
        ),
        ("turn:h?foo=bar", BadTransport("foo=bar".into())),
        ("stun:h?transport=udp", TransportNotAllowed),
        ("turns:h?transport=udp", TransportNotAllowed),
    ];
    for (s, e) in bad {
        assert_eq!(s.parse::<IceServerUrl>().as_ref(), Err(e), "{s}");
    }
    assert_eq!(IceServer::new(&[], "u", "p"), Err(NoUrls));
    assert_eq!(
        IceServer::new(&["turns:h"], "u", ""),
        Err(MissingCredentials)
    );
    let resolved = "turns:turn.example.org"
        .parse::<IceServerUrl>()
        .unwrap()
        .resolved("192.0.2.7".parse().unwrap());
    assert_eq!(resolved.addr(), Some("192.0.2.7:5349".parse().unwrap()));
    assert_eq!(resolved.host, "turn.example.org");
    assert!(
        !format!("{:?}", IceServer::new(&["turn:h"], "u", "secret").unwrap()).contains("secret")
    );
}

// ---- Send and Data indications (RFC 8656 §11)

#[test]
fn send_indication_is_valid_stun_with_the_peer_and_data() {
    for peer in ["192.0.2.9:4000", "[2001:db8::9]:4000"] {
        let peer: SocketAddr = peer.parse().unwrap();
        let head = msg::send_indication_head_len(&peer);
        let mut buf = vec![0u8; head + 5 + 3];
        buf[head..head + 5].copy_from_slice(b"hello");
        let tid = [3u8; 12];
        let n = msg::frame_send_indication(&mut buf, &peer, 5, &tid).unwrap();
        assert_eq!(n % 4, 0);
        // stun_codec decodes XOR-PEER-ADDRESS to the same peer (independent decoder).
        let p = stun::parse(&buf[..n]).unwrap();
        assert_eq!(p.class(), MessageClass::Indication);
        assert_eq!(p.method(), stun_codec::rfc5766::methods::SEND);
        assert_eq!(
            p.message
                .get_attribute::<stun::XorPeerAddress>()
                .unwrap()
                .address(),
            peer
        );
        // The same bytes as a Data indication parse back to peer and data.
        buf[1] = 0x17;
        assert_eq!(
            msg::parse_data_indication(&buf[..n]),
            Some((peer, &b"hello"[..]))
        );
    }
    // A Data indication without DATA is discarded (§11.4).
    let peer: SocketAddr = "192.0.2.9:4000".parse().unwrap();
    let mut m = stun::message(
        MessageClass::Indication,
        stun_codec::rfc5766::methods::DATA,
        [1; 12],
    );
    m.add_attribute(stun::XorPeerAddress::new(peer));
    let mut out = [0u8; 64];
    let n = stun::encode(m, None, false, &mut out).unwrap();
    assert_eq!(msg::parse_data_indication(&out[..n]), None);
}

// ---- the client against a scripted server

const SERVER: &str = "10.0.0.1:3478";
const HOST: &str = "10.0.0.2:5000";
const RELAYED: &str = "10.0.0.1:49152";
const MAPPED: &str = "203.0.113.5:5000";
const PEER: &str = "10.0.0.9:7000";

/// A TURN server that answers what the tests need, with the long-term mechanism.
struct FakeServer {
    realm: String,
    nonce: String,
    key: IntegrityKey,
    lifetime: u32,
    /// Answer the next authenticated request with 438 and a new nonce.
    stale_next: bool,
    /// Answer Allocate with this error code instead.
    allocate_error: Option<u16>,
    requests: Vec<(stun::Method, Option<u32>)>,
    channel: Option<(u16, SocketAddr)>,
    relayed_in: Vec<(SocketAddr, Vec<u8>)>,
}

impl FakeServer {
    fn new(password: &str) -> Self {
        FakeServer {
            realm: "sansrtc.test".into(),
            nonce: "nonce-1".into(),
            key: IntegrityKey::long_term("alice", "sansrtc.test", password),
            lifetime: 40,
            stale_next: false,
            allocate_error: None,
            requests: Vec::new(),
            channel: None,
            relayed_in: Vec::new(),
        }
    }

    fn answer(&mut self, req: &[u8]) -> Option<Vec<u8>> {
        if let Ok(cd) = channel_data::parse(req) {
            let (ch, peer) = self.channel?;
            assert_eq!(cd.channel, ch);
            self.relayed_in.push((peer, cd.data.to_vec()));
            return None;
        }
        let p = stun::parse(req).unwrap();
        if p.class() == MessageClass::Indication {
            let peer = p
                .message
                .get_attribute::<stun::XorPeerAddress>()
                .unwrap()
                .address();
            self.relayed_in.push((peer, req[req.len() - 24..].to_vec()));
            return None;
        }
        let lifetime = p
            .message
            .get_attribute::<stun::Lifetime>()
            .map(|l| l.lifetime().as_secs() as u32);
        self.requests.push((p.method(), lifetime));
        let tid = *p.transaction_id().as_bytes();
        let error = |code: u16, realm: &str, nonce: &str| {
            let mut m = stun::message(MessageClass::ErrorResponse, p.method(), tid);
            m.add_attribute(stun::ErrorCode::new(code, "x".into()).unwrap());
            m.add_attribute(stun::Realm::new(realm.into()).unwrap());
            m.add_attribute(stun::Nonce::new(nonce.into()).unwrap());
            m
        };
        let mut out = [0u8; 512];
        if !p.has_integrity() || !p.verify_integrity(&self.key) {
            let m = error(401, &self.realm, &self.nonce);
            let n = stun::encode(m, None, true, &mut out).unwrap();
            return Some(out[..n].to_vec());
        }
        assert_eq!(p.username(), Some("alice"));
        if self.stale_next {
            self.stale_next = false;
            self.nonce = "nonce-2".into();
            let m = error(438, &self.realm, &self.nonce);
            let n = stun::encode(m, None, true, &mut out).unwrap();
            return Some(out[..n].to_vec());
        }
        let nonce = p
            .message
            .get_attribute::<stun::Nonce>()
            .unwrap()
            .value()
            .to_owned();
        assert_eq!(nonce, self.nonce, "the client uses the current nonce");
        let mut m = stun::message(MessageClass::SuccessResponse, p.method(), tid);
        match p.method() {
            stun::ALLOCATE => {
                if let Some(code) = self.allocate_error {
                    let m = error(code, &self.realm, &self.nonce);
                    let n = stun::encode(m, Some(&self.key), true, &mut out).unwrap();
                    return Some(out[..n].to_vec());
                }
                m.add_attribute(stun::XorRelayAddress::new(RELAYED.parse().unwrap()));
                m.add_attribute(stun::XorMappedAddress::new(MAPPED.parse().unwrap()));
                m.add_attribute(stun::Lifetime::from_u32(self.lifetime));
            }
            stun::REFRESH => {
                m.add_attribute(stun::Lifetime::from_u32(
                    lifetime.unwrap_or(600).min(self.lifetime),
                ));
            }
            stun::CHANNEL_BIND => {
                let ch = p
                    .message
                    .get_attribute::<stun::ChannelNumber>()
                    .unwrap()
                    .value();
                let peer = p
                    .message
                    .get_attribute::<stun::XorPeerAddress>()
                    .unwrap()
                    .address();
                self.channel = Some((ch, peer));
            }
            _ => {}
        }
        let n = stun::encode(m, Some(&self.key), true, &mut out).unwrap();
        Some(out[..n].to_vec())
    }
}

fn turn_agent(password: &str, url: &str, seed: u64) -> IceAgent {
    let cfg = IceConfig {
        rng: RngSource::Seeded(seed),
        ice_servers: vec![IceServer::new(&[url], "alice", password).unwrap()],
        transport_policy: IceTransportPolicy::Relay,
        ..IceConfig::default()
    };
    let mut a = IceAgent::new(cfg, Instant::ZERO);
    a.add_local_candidate(Candidate::host(HOST.parse().unwrap(), Protocol::Udp))
        .unwrap();
    a.end_of_local_candidates();
    a
}

/// Delivers everything between agent and server until quiet; returns the agent's events.
fn exchange(a: &mut IceAgent, s: &mut FakeServer, now: Instant, chunk: usize) -> Vec<IceEvent> {
    let mut buf = vec![0u8; 2048];
    for _ in 0..100 {
        a.handle_timeout(now);
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            moved = true;
            assert_eq!(
                t.destination,
                SERVER.parse().unwrap(),
                "only the server is talked to"
            );
            let mut frames = Vec::new();
            if t.proto == Protocol::Tcp {
                let mut f = Framer::new(4096);
                f.push(&buf[..t.size]).unwrap();
                while let Some(fr) = f.next_frame() {
                    frames.push(fr.unwrap().to_vec());
                }
            } else {
                assert_eq!(t.source, HOST.parse().unwrap());
                frames.push(buf[..t.size].to_vec());
            }
            for fr in frames {
                if let Some(resp) = s.answer(&fr) {
                    for c in resp.chunks(chunk) {
                        let rx = Receive {
                            proto: t.proto,
                            source: t.destination,
                            destination: HOST.parse().unwrap(),
                            contents: c,
                        };
                        assert!(a.is_from_turn_server(&rx));
                        a.handle_receive(now, rx);
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    std::iter::from_fn(|| a.poll_event()).collect()
}

#[test]
fn allocates_with_the_long_term_mechanism_and_signals_a_relayed_candidate() {
    for (url, chunk) in [
        ("turn:10.0.0.1:3478", 4096),
        ("turn:10.0.0.1:3478?transport=tcp", 1),
        ("turn:10.0.0.1:3478?transport=tcp", 7),
    ] {
        let mut a = turn_agent("secret", url, 1);
        let mut s = FakeServer::new("secret");
        let events = exchange(&mut a, &mut s, Instant::ZERO, chunk);
        // 401 first, then the authenticated Allocate.
        assert_eq!(
            s.requests.iter().filter(|r| r.0 == stun::ALLOCATE).count(),
            2,
            "{url}"
        );
        let cand = events
            .iter()
            .find_map(|e| match e {
                IceEvent::LocalCandidate(c) => Some(c.clone()),
                _ => None,
            })
            .expect("a relayed candidate");
        assert_eq!(cand.kind, CandidateKind::Relayed);
        assert_eq!(cand.addr, RELAYED.parse().unwrap());
        assert_eq!(
            cand.related,
            Some(MAPPED.parse().unwrap()),
            "raddr = the mapped address"
        );
        assert_eq!(
            cand.priority >> 24,
            0,
            "type preference 0 (RFC 8445 §5.1.2.2)"
        );
        assert!(
            cand.to_string()
                .contains("typ relay raddr 203.0.113.5 rport 5000"),
            "{cand}"
        );
        assert!(events.contains(&IceEvent::GatheringComplete));
        // Relay policy: only the relayed candidate is signalled.
        let locals: Vec<_> = a.local_candidates().collect();
        assert_eq!(locals.len(), 1);
        assert_eq!(locals[0].kind, CandidateKind::Relayed);
        let st = a.turn_stats().next().unwrap();
        assert_eq!(
            (st.allocations, st.relayed),
            (1, Some(RELAYED.parse().unwrap()))
        );
        assert_eq!(a.candidate_counts().0.relayed, 1);
    }
}

#[test]
fn refreshes_before_expiry_and_retries_a_stale_nonce() {
    let mut a = turn_agent("secret", "turn:10.0.0.1:3478", 2);
    let mut s = FakeServer::new("secret");
    exchange(&mut a, &mut s, Instant::ZERO, 4096);
    // Lifetime 40 s: refresh at 20 s (half, as a minute is more than half), not before.
    let t = a.poll_timeout().unwrap();
    assert!(t <= Instant::from_secs(20), "refresh scheduled by {t:?}");
    exchange(&mut a, &mut s, Instant::from_secs(19), 4096);
    assert!(!s.requests.iter().any(|r| r.0 == stun::REFRESH));
    s.stale_next = true;
    exchange(&mut a, &mut s, Instant::from_secs(20), 4096);
    let refreshes: Vec<_> = s.requests.iter().filter(|r| r.0 == stun::REFRESH).collect();
    assert_eq!(refreshes.len(), 2, "stale nonce answered, then retried");
    assert_eq!(
        refreshes[0].1,
        Some(600),
        "asks for the configured lifetime"
    );
    let st = a.turn_stats().next().unwrap().clone();
    assert_eq!((st.refreshes, st.stale_nonces), (1, 1));
    // And again 20 s later.
    exchange(&mut a, &mut s, Instant::from_secs(40), 4096);
    assert_eq!(a.turn_stats().next().unwrap().refreshes, 2);
    // Close deallocates: Refresh with LIFETIME 0.
    a.close_at(Instant::from_secs(41));
    exchange(&mut a, &mut s, Instant::from_secs(41), 4096);
    assert_eq!(s.requests.last(), Some(&(stun::REFRESH, Some(0))));
}

#[test]
fn permissions_channels_and_relayed_checks() {
    let mut a = turn_agent("secret", "turn:10.0.0.1:3478", 3);
    let mut s = FakeServer::new("secret");
    exchange(&mut a, &mut s, Instant::ZERO, 4096);
    a.set_remote_credentials(Credentials {
        ufrag: "rfrag".into(),
        pwd: "rpwdrpwdrpwdrpwdrpwdrpwd".into(),
    })
    .unwrap();
    let mut peer_cand = Candidate::host(PEER.parse().unwrap(), Protocol::Udp);
    peer_cand.priority = 1000;
    peer_cand.foundation = "1".into();
    a.add_remote_candidate(peer_cand).unwrap();
    let mut now = Instant::ZERO;
    for _ in 0..10 {
        now += Duration::from_millis(50);
        exchange(&mut a, &mut s, now, 4096);
    }
    assert!(s.requests.iter().any(|r| r.0 == stun::CREATE_PERMISSION));
    assert!(s.requests.iter().any(|r| r.0 == stun::CHANNEL_BIND));
    // The connectivity check went through the relay to the peer, as a Binding request.
    let (peer, data) = s.relayed_in.first().expect("a relayed check").clone();
    assert_eq!(peer, PEER.parse().unwrap());
    let check = stun::parse(&data).unwrap();
    assert_eq!(
        (check.class(), check.method()),
        (MessageClass::Request, stun::BINDING)
    );
    let st = a.turn_stats().next().unwrap().clone();
    assert!(st.sent_channel_data + st.sent_send_indications >= 1);
    // What the server relays back on the channel comes out as from the peer to the
    // relayed address.
    let (ch, _) = s.channel.unwrap();
    let mut frame = [0u8; 64];
    let n = channel_data::encode(ch, &[22, 254, 253, 1], false, &mut frame).unwrap();
    let rx = Receive {
        proto: Protocol::Udp,
        source: SERVER.parse().unwrap(),
        destination: HOST.parse().unwrap(),
        contents: &frame[..n],
    };
    let inner = a.handle_turn_receive(now, rx).expect("relayed data");
    assert_eq!(
        (inner.source, inner.destination, inner.contents),
        (
            PEER.parse().unwrap(),
            RELAYED.parse().unwrap(),
            &[22, 254, 253, 1][..]
        )
    );
    // A ChannelData on an unbound channel is dropped and counted.
    let mut frame2 = [0u8; 64];
    let n = channel_data::encode(0x4FFF, b"x", false, &mut frame2).unwrap();
    let rx = Receive {
        contents: &frame2[..n],
        ..rx
    };
    assert!(a.handle_turn_receive(now, rx).is_none());
    assert_eq!(a.turn_stats().next().unwrap().malformed, 1);
    // Relayed application data is wrapped in place into ChannelData.
    let (head, tail) = a
        .relay_overhead(RELAYED.parse().unwrap(), PEER.parse().unwrap())
        .unwrap();
    assert_eq!((head, tail), (4, 3));
    let mut buf = vec![0u8; 100];
    buf[head..head + 5].copy_from_slice(b"dtls!");
    let t = a
        .wrap_relayed(
            RELAYED.parse().unwrap(),
            PEER.parse().unwrap(),
            &mut buf,
            head,
            5,
        )
        .unwrap();
    assert_eq!(
        (t.source, t.destination, t.size),
        (HOST.parse().unwrap(), SERVER.parse().unwrap(), 9)
    );
    assert_eq!(
        channel_data::parse(&buf[..9]).unwrap(),
        ChannelData {
            channel: ch,
            data: b"dtls!"
        }
    );
    // Not a relayed source: no overhead.
    assert_eq!(
        a.relay_overhead(HOST.parse().unwrap(), PEER.parse().unwrap()),
        None
    );
}

#[test]
fn wrong_credentials_quota_and_unreachable_are_events() {
    let mut a = turn_agent("wrong", "turn:10.0.0.1:3478", 4);
    let mut s = FakeServer::new("secret");
    let events = exchange(&mut a, &mut s, Instant::ZERO, 4096);
    assert!(
        events.contains(&IceEvent::TurnError {
            url: "turn:10.0.0.1:3478?transport=udp".into(),
            error: TurnError::WrongCredentials
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&IceEvent::GatheringComplete),
        "gathering ends without the relay"
    );
    assert_eq!(a.local_candidates().count(), 0);

    let mut a = turn_agent("secret", "turn:10.0.0.1:3478", 5);
    let mut s = FakeServer::new("secret");
    s.allocate_error = Some(486);
    let events = exchange(&mut a, &mut s, Instant::ZERO, 4096);
    assert!(
        events.iter().any(|e| matches!(
            e,
            IceEvent::TurnError {
                error: TurnError::AllocationQuota,
                ..
            }
        )),
        "{events:?}"
    );

    // Nobody answers: retransmissions, then "unreachable".
    let mut a = turn_agent("secret", "turn:10.0.0.1:3478", 6);
    let mut buf = [0u8; 1500];
    let mut sent = 0;
    let mut now = Instant::ZERO;
    let mut events = Vec::new();
    for _ in 0..100 {
        a.handle_timeout(now);
        while a.poll_transmit(now, &mut buf).is_some() {
            sent += 1;
        }
        events.extend(std::iter::from_fn(|| a.poll_event()));
        match a.poll_timeout() {
            Some(t) => now = t,
            None => break,
        }
    }
    assert_eq!(sent, 7, "the Allocate and its 6 retransmissions");
    assert!(
        events.iter().any(|e| matches!(
            e,
            IceEvent::TurnError {
                error: TurnError::Unreachable,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(events.contains(&IceEvent::GatheringComplete));
    assert!(now < Instant::from_secs(30), "gave up at {now:?}");

    // A name nobody resolved.
    let cfg = IceConfig {
        ice_servers: vec![IceServer::new(&["turn:turn.example.org"], "u", "p").unwrap()],
        ..IceConfig::default()
    };
    let mut a = IceAgent::new(cfg, Instant::ZERO);
    assert!(matches!(
        a.poll_event(),
        Some(IceEvent::TurnError {
            error: TurnError::UnresolvedHost,
            ..
        })
    ));
    // turns: without trusted roots.
    let cfg = IceConfig {
        ice_servers: vec![IceServer::new(&["turns:127.0.0.1"], "u", "p").unwrap()],
        ..IceConfig::default()
    };
    let mut a = IceAgent::new(cfg, Instant::ZERO);
    assert!(matches!(
        a.poll_event(),
        Some(IceEvent::TurnError {
            error: TurnError::Tls(_),
            ..
        })
    ));
}

#[test]
fn client_fed_random_bytes_never_panics() {
    let mut a = turn_agent("secret", "turn:10.0.0.1:3478?transport=tcp", 7);
    let mut s = FakeServer::new("secret");
    exchange(&mut a, &mut s, Instant::ZERO, 4096);
    let mut rng = crate::rng::Rng::new(RngSource::Seeded(9));
    let mut buf = vec![0u8; 70_000];
    for i in 0..2000u64 {
        let mut junk = [0u8; 64];
        rng.fill(&mut junk);
        let len = (rng.u32() % 64) as usize;
        if i % 3 == 0 {
            junk[0] = 0x40;
        }
        let rx = Receive {
            proto: Protocol::Tcp,
            source: SERVER.parse().unwrap(),
            destination: HOST.parse().unwrap(),
            contents: &junk[..len],
        };
        a.handle_turn_receive(Instant::from_millis(i), rx);
        while a.poll_relayed(Instant::from_millis(i), &mut buf).is_some() {}
        while a.poll_transmit(Instant::from_millis(i), &mut buf).is_some() {}
        a.handle_timeout(Instant::from_millis(i));
    }
    // Garbage on the stream breaks it: reported, not panicked.
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, IceEvent::TurnError { .. })),
        "{events:?}"
    );
}

#[test]
fn turns_starts_with_a_tls_client_hello_over_tcp() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let cfg = IceConfig {
        rng: RngSource::Seeded(8),
        ice_servers: vec![IceServer::new(&["turns:127.0.0.1:5349"], "u", "p").unwrap()],
        turn_tls_roots: vec![cert.cert.der().to_vec()],
        ..IceConfig::default()
    };
    let mut a = IceAgent::new(cfg, Instant::ZERO);
    assert_eq!(a.poll_event(), None, "no error at creation");
    a.handle_timeout(
        a.poll_timeout()
            .expect("a deadline to start the allocation"),
    );
    let mut buf = [0u8; 4096];
    let t = a
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("the ClientHello");
    assert_eq!(t.proto, Protocol::Tcp);
    assert_eq!(t.destination, "127.0.0.1:5349".parse().unwrap());
    assert_eq!(buf[0], 0x16, "a TLS handshake record");
    // The host reports the connection closed: a clear error, and gathering ends.
    a.end_of_local_candidates();
    a.handle_turn_stream_closed(Instant::ZERO, t.destination);
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(
            e,
            IceEvent::TurnError {
                error: TurnError::StreamClosed,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(events.contains(&IceEvent::GatheringComplete), "{events:?}");
}
