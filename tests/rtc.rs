//! Two peer connections through the simulated network: `cargo test --features sim --test rtc`.
#![cfg(feature = "sim")]

use std::net::SocketAddr;
use std::sync::OnceLock;

use sansrtc::datachannel::ChannelConfig;
use sansrtc::dtls::DtlsCertificate;
use sansrtc::ice::Candidate;
use sansrtc::rtc::{ChannelId, Rtc, RtcCloseReason, RtcConfig, RtcEvent, RtcState};
use sansrtc::sim::{Endpoint, LinkConfig, NodeId, Sim};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource, Transmit};

/// A peer connection on one address, echoing nothing, keeping its events.
struct Peer {
    rtc: Rtc,
    events: Vec<RtcEvent>,
    /// Echo every message back on its channel.
    echo: bool,
}

impl Peer {
    fn collect(&mut self) {
        while let Some(e) = self.rtc.poll_event() {
            if self.echo
                && let RtcEvent::ChannelData { id, binary, data } = &e
                && let Some(mut ch) = self.rtc.channel(*id)
            {
                let r = if *binary {
                    ch.send_binary(data)
                } else {
                    ch.send_text(std::str::from_utf8(data).unwrap_or(""))
                };
                r.expect("echo");
            }
            self.events.push(e);
        }
    }

    fn opened(&self) -> Vec<ChannelId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RtcEvent::ChannelOpen { id, .. } => Some(*id),
                _ => None,
            })
            .collect()
    }

    fn data(&self, on: ChannelId) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RtcEvent::ChannelData { id, data, .. } if *id == on => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn all_data(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, RtcEvent::ChannelData { .. }))
            .count()
    }

    fn closed(&self) -> Option<&RtcCloseReason> {
        self.events.iter().find_map(|e| match e {
            RtcEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }
}

impl Endpoint for Peer {
    fn handle_receive(&mut self, now: Instant, rx: Receive<'_>) {
        self.rtc.handle_receive(now, rx);
        self.collect();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.rtc.handle_timeout(now);
        self.collect();
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.rtc.poll_transmit(now, buf);
        self.collect();
        t
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.rtc.poll_timeout()
    }
}

fn certs() -> &'static [DtlsCertificate; 3] {
    static C: OnceLock<[DtlsCertificate; 3]> = OnceLock::new();
    C.get_or_init(|| std::array::from_fn(|_| DtlsCertificate::generate().unwrap()))
}

const A: &str = "192.0.2.1:5000";
const B: &str = "192.0.2.2:6000";

fn rtc(seed: u64, cert: usize, addr: SocketAddr, add_candidate: bool) -> Rtc {
    let mut r = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(seed),
            certificate: Some(certs()[cert].clone()),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    if add_candidate {
        r.add_local_candidate(Candidate::host(addr, Protocol::Udp))
            .unwrap();
    }
    r
}

struct Setup {
    sim: Sim<Peer>,
    a: NodeId,
    b: NodeId,
}

/// A offers, B answers (B echoes); `trickle` adds the candidates after the exchange.
fn setup(seed: u64, link: LinkConfig, trickle: bool, a_offers: bool) -> (Setup, ChannelId) {
    let (aa, ba): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let mut ra = rtc(seed, 0, aa, !trickle);
    let mut rb = rtc(seed + 100, 1, ba, !trickle);
    let chan = ra
        .create_data_channel(ChannelConfig {
            label: "data".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    let now = Instant::ZERO;
    if a_offers {
        let offer = ra.create_offer(now).unwrap();
        let answer = rb.accept_offer(now, &offer).unwrap();
        ra.accept_answer(now, &answer).unwrap();
    } else {
        let offer = rb.create_offer(now).unwrap();
        let answer = ra.accept_offer(now, &offer).unwrap();
        rb.accept_answer(now, &answer).unwrap();
    }
    if trickle {
        // Candidates signalled after the descriptions, as trickle ICE does.
        ra.add_local_candidate(Candidate::host(aa, Protocol::Udp))
            .unwrap();
        rb.add_local_candidate(Candidate::host(ba, Protocol::Udp))
            .unwrap();
        let ca: Vec<Candidate> = ra.ice().local_candidates().cloned().collect();
        let cb: Vec<Candidate> = rb.ice().local_candidates().cloned().collect();
        for c in cb {
            ra.add_remote_candidate(c).unwrap();
        }
        for c in ca {
            rb.add_remote_candidate(c).unwrap();
        }
    }
    let mut sim = Sim::new(seed);
    sim.set_default_link(link);
    let a = sim.add_endpoint(
        aa.ip(),
        Peer {
            rtc: ra,
            events: Vec::new(),
            echo: false,
        },
    );
    let b = sim.add_endpoint(
        ba.ip(),
        Peer {
            rtc: rb,
            events: Vec::new(),
            echo: true,
        },
    );
    (Setup { sim, a, b }, chan)
}

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(20),
        loss,
        ..LinkConfig::default()
    }
}

/// A sends `n` messages on `chan` once it is open and waits for every echo.
fn exchange(s: &mut Setup, chan: ChannelId, n: usize) {
    let (a, b) = (s.a, s.b);
    assert!(
        s.sim
            .run_until_pred(s.sim.now() + Duration::from_secs(60), |sim| sim
                .endpoint(a)
                .opened()
                .contains(&chan)),
        "channel opened: A {:?}",
        s.sim.endpoint(a).events
    );
    let before = s.sim.endpoint(a).data(chan).len();
    for i in 0..n {
        let msg = format!("message {i} {}", "x".repeat(i * 37 % 3000));
        s.sim
            .endpoint_mut(a)
            .rtc
            .channel(chan)
            .unwrap()
            .send_text(&msg)
            .unwrap();
    }
    let ok = s
        .sim
        .run_until_pred(s.sim.now() + Duration::from_secs(120), |sim| {
            sim.endpoint(a).data(chan).len() == before + n
        });
    assert!(
        ok,
        "all echoes back: {} of {n}; B got {}; A {:?} B {:?}",
        s.sim.endpoint(a).data(chan).len() - before,
        s.sim.endpoint(b).all_data(),
        s.sim.stats(),
        (
            s.sim.endpoint(a).rtc.stats().datagrams_in,
            s.sim.endpoint(a).rtc.stats().datagrams_out,
            s.sim.endpoint(b).rtc.stats().datagrams_in,
            s.sim.endpoint(b).rtc.stats().datagrams_out
        )
    );
    let echoes = s.sim.endpoint(a).data(chan);
    for (i, d) in echoes.iter().skip(before).enumerate() {
        assert!(String::from_utf8_lossy(d).starts_with(&format!("message {i} ")));
    }
    assert!(s.sim.endpoint(b).all_data() >= n);
}

#[test]
fn data_flows_both_ways_with_10_percent_loss() {
    let (mut s, chan) = setup(1, lossy(0.1), false, true);
    exchange(&mut s, chan, 200);
    assert_eq!(s.sim.endpoint(s.a).rtc.state(), RtcState::Connected);
    assert_eq!(s.sim.endpoint(s.b).rtc.state(), RtcState::Connected);
    let stats = s.sim.endpoint(s.a).rtc.stats();
    assert!(stats.selected_pair.is_some());
    assert!(stats.sctp.srtt.is_some());
    assert!(stats.dtls.app_bytes_out > 0);
    // Inside DTLS both ends announce zero checksums (RFC 9653), so both use them.
    assert!(stats.sctp.zero_checksum);
    assert!(s.sim.endpoint(s.b).rtc.stats().sctp.zero_checksum);
}

#[test]
fn trickled_candidates() {
    let (mut s, chan) = setup(2, lossy(0.0), true, true);
    exchange(&mut s, chan, 20);
}

#[test]
fn the_other_side_offers() {
    let (mut s, chan) = setup(3, lossy(0.05), false, false);
    exchange(&mut s, chan, 50);
}

#[test]
fn renegotiation_adds_a_second_channel() {
    let (mut s, first) = setup(4, lossy(0.0), false, true);
    exchange(&mut s, first, 5);
    let (a, b) = (s.a, s.b);
    let now = s.sim.now();
    let second = s
        .sim
        .endpoint_mut(a)
        .rtc
        .create_data_channel(ChannelConfig {
            label: "second".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    let offer = s.sim.endpoint_mut(a).rtc.create_offer(now).unwrap();
    assert!(offer.contains("a=setup:"), "{offer}");
    let answer = s.sim.endpoint_mut(b).rtc.accept_offer(now, &offer).unwrap();
    s.sim
        .endpoint_mut(a)
        .rtc
        .accept_answer(now, &answer)
        .unwrap();
    exchange(&mut s, second, 5);
    exchange(&mut s, first, 5);
}

#[test]
fn closing_is_observed_by_the_peer() {
    let (mut s, chan) = setup(5, lossy(0.0), false, true);
    exchange(&mut s, chan, 3);
    let (a, b) = (s.a, s.b);
    s.sim.endpoint_mut(a).rtc.close();
    s.sim.endpoint_mut(a).collect();
    assert_eq!(s.sim.endpoint(a).closed(), Some(&RtcCloseReason::Local));
    assert!(
        s.sim
            .run_until_pred(s.sim.now() + Duration::from_secs(5), |sim| sim
                .endpoint(b)
                .closed()
                .is_some())
    );
    assert_eq!(s.sim.endpoint(b).closed(), Some(&RtcCloseReason::Remote));
    assert_eq!(s.sim.endpoint(b).rtc.state(), RtcState::Closed);
    assert!(
        s.sim
            .endpoint(b)
            .events
            .iter()
            .any(|e| matches!(e, RtcEvent::ChannelClose(_)))
    );
}

#[test]
fn closing_a_channel_is_observed() {
    let (mut s, chan) = setup(6, lossy(0.0), false, true);
    exchange(&mut s, chan, 3);
    let (a, b) = (s.a, s.b);
    s.sim
        .endpoint_mut(a)
        .rtc
        .channel(chan)
        .unwrap()
        .close()
        .unwrap();
    assert!(
        s.sim
            .run_until_pred(s.sim.now() + Duration::from_secs(5), |sim| {
                sim.endpoint(b)
                    .events
                    .iter()
                    .any(|e| matches!(e, RtcEvent::ChannelClose(_)))
                    && sim
                        .endpoint(a)
                        .events
                        .contains(&RtcEvent::ChannelClose(chan))
            })
    );
    assert_eq!(
        s.sim.endpoint(a).rtc.state(),
        RtcState::Connected,
        "the connection stays"
    );
}

#[test]
fn fingerprint_mismatch_stops_everything() {
    let (aa, ba): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let mut ra = rtc(7, 0, aa, true);
    let mut rb = rtc(107, 1, ba, true);
    let chan = ra.create_data_channel(ChannelConfig::default()).unwrap();
    let now = Instant::ZERO;
    let offer = ra.create_offer(now).unwrap();
    let answer = rb.accept_offer(now, &offer).unwrap();
    // A man in the middle swaps the fingerprint for another certificate's.
    let theirs = rb.local_fingerprint().to_string();
    let forged = certs()[2].fingerprint().to_string();
    let answer = answer.replace(&theirs, &forged);
    assert_ne!(answer, rb.local_fingerprint().to_string());
    ra.accept_answer(now, &answer).unwrap();
    let mut sim = Sim::new(7);
    sim.set_default_link(lossy(0.0));
    let a = sim.add_endpoint(
        aa.ip(),
        Peer {
            rtc: ra,
            events: Vec::new(),
            echo: false,
        },
    );
    let b = sim.add_endpoint(
        ba.ip(),
        Peer {
            rtc: rb,
            events: Vec::new(),
            echo: true,
        },
    );
    sim.run_until(Instant::from_secs(40));
    for n in [a, b] {
        let p = sim.endpoint(n);
        assert!(p.opened().is_empty(), "no channel opened");
        assert_eq!(p.all_data(), 0, "no data");
        assert!(
            matches!(p.closed(), Some(RtcCloseReason::Dtls(_))),
            "DTLS failed: {:?}",
            p.closed()
        );
    }
    let _ = chan;
}

#[test]
fn bad_sdp_is_refused_with_the_line() {
    let mut r = rtc(8, 0, A.parse().unwrap(), true);
    let err = r
        .accept_offer(
            Instant::ZERO,
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio\r\n",
        )
        .unwrap_err();
    assert!(err.to_string().contains("line 5"), "{err}");
    // Only audio: nothing usable.
    let audio_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n";
    assert!(r.accept_offer(Instant::ZERO, audio_only).is_err());
    // An answer without an offer.
    assert!(r.accept_answer(Instant::ZERO, audio_only).is_err());
}
