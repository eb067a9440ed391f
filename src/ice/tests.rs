//! Unit tests of the ICE agent over a perfect in-memory network.

use super::*;
use crate::net::{Protocol, Receive};
use crate::rng::RngSource;
use crate::time::{Duration, Instant};
use core::net::SocketAddr;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn agent(controlling: bool, seed: u64) -> IceAgent {
    IceAgent::new(
        IceConfig {
            controlling,
            rng: RngSource::Seeded(seed),
            ..Default::default()
        },
        Instant::ZERO,
    )
}

/// Shuttles datagrams between two agents with zero latency; `drop` decides per datagram.
fn run(
    a: &mut IceAgent,
    b: &mut IceAgent,
    mut now: Instant,
    until: Instant,
    mut drop: impl FnMut(&[u8]) -> bool,
    mut stop: impl FnMut(&IceAgent, &IceAgent) -> bool,
) -> Instant {
    let mut buf = [0u8; 1500];
    let mut same_instant = 0;
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            moved = true;
            if !drop(&buf[..t.size]) {
                b.handle_receive(now, rx(&t, &buf));
            }
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            moved = true;
            if !drop(&buf[..t.size]) {
                a.handle_receive(now, rx(&t, &buf));
            }
        }
        if stop(a, b) {
            return now;
        }
        if !moved {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    assert!(t >= now, "deadline in the past: {t:?} < {now:?}");
                    same_instant = if t == now { same_instant + 1 } else { 0 };
                    assert!(same_instant < 100, "agents spin at {now:?}");
                    now = t;
                    a.handle_timeout(now);
                    b.handle_timeout(now);
                }
                _ => return until,
            }
        }
    }
}

fn rx<'a>(t: &crate::net::Transmit, buf: &'a [u8]) -> Receive<'a> {
    Receive {
        proto: t.proto,
        source: t.source,
        destination: t.destination,
        contents: &buf[..t.size],
    }
}

fn signal(a: &mut IceAgent, b: &mut IceAgent) {
    a.set_remote_credentials(b.local_credentials().clone())
        .unwrap();
    b.set_remote_credentials(a.local_credentials().clone())
        .unwrap();
    for c in b.local_candidates().cloned().collect::<Vec<_>>() {
        a.add_remote_candidate(c).unwrap();
    }
    for c in a.local_candidates().cloned().collect::<Vec<_>>() {
        b.add_remote_candidate(c).unwrap();
    }
}

fn pair_of_agents() -> (IceAgent, IceAgent) {
    let mut a = agent(true, 1);
    let mut b = agent(false, 2);
    a.add_local_candidate(Candidate::host(addr("10.0.0.1:1000"), Protocol::Udp))
        .unwrap();
    b.add_local_candidate(Candidate::host(addr("10.0.0.2:2000"), Protocol::Udp))
        .unwrap();
    (a, b)
}

fn both_selected(a: &IceAgent, b: &IceAgent) -> bool {
    a.selected_pair().is_some() && b.selected_pair().is_some()
}

#[test]
fn connects_on_a_perfect_network() {
    let (mut a, mut b) = pair_of_agents();
    signal(&mut a, &mut b);
    let t = run(
        &mut a,
        &mut b,
        Instant::ZERO,
        Instant::from_secs(10),
        |_| false,
        both_selected,
    );
    eprintln!(
        "{:?}\n{:?}",
        a.pair_stats().collect::<Vec<_>>(),
        b.pair_stats().collect::<Vec<_>>()
    );
    assert!(t < Instant::from_secs(2), "took {t:?}");
    let sa = a.selected_pair().unwrap();
    let sb = b.selected_pair().unwrap();
    assert_eq!(sa.remote, addr("10.0.0.2:2000"));
    assert_eq!(sb.remote, addr("10.0.0.1:1000"));
    assert_eq!(sa.local, sb.remote);
    let ev: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(ev.contains(&IceEvent::StateChanged(IceConnectionState::Checking)));
    assert!(
        ev.iter()
            .any(|e| matches!(e, IceEvent::SelectedPairChanged(_)))
    );
    assert!(matches!(
        a.state(),
        IceConnectionState::Connected | IceConnectionState::Completed
    ));
}

#[test]
fn consent_keeps_connection_alive_then_expires() {
    let (mut a, mut b) = pair_of_agents();
    signal(&mut a, &mut b);
    let t = run(
        &mut a,
        &mut b,
        Instant::ZERO,
        Instant::from_secs(10),
        |_| false,
        both_selected,
    );
    // A minute of consent checks: still connected.
    let t = run(
        &mut a,
        &mut b,
        t,
        t + Duration::from_secs(60),
        |_| false,
        |_, _| false,
    );
    assert!(matches!(
        a.state(),
        IceConnectionState::Completed | IceConnectionState::Connected
    ));
    assert!(
        a.pair_stats()
            .any(|p| p.nominated && p.responses_received > 10)
    );
    // Then everything is lost: failed within the consent timeout.
    let mut failed_at = None;
    run(
        &mut a,
        &mut b,
        t,
        t + Duration::from_secs(60),
        |_| true,
        |a, _| {
            if a.state() == IceConnectionState::Failed {
                failed_at = Some(());
                true
            } else {
                false
            }
        },
    );
    assert_eq!(a.state(), IceConnectionState::Failed);
    assert!(a.poll_timeout().is_none());
}

#[test]
fn wrong_password_never_validates() {
    let (mut a, mut b) = pair_of_agents();
    signal(&mut a, &mut b);
    a.set_remote_credentials(Credentials {
        ufrag: b.local_credentials().ufrag.clone(),
        pwd: "wrongwrongwrongwrongwrong".into(),
    })
    .unwrap();
    run(
        &mut a,
        &mut b,
        Instant::ZERO,
        Instant::from_secs(40),
        |_| false,
        |_, _| false,
    );
    assert!(a.selected_pair().is_none());
    assert!(a.pair_stats().all(|p| !p.valid));
    assert_eq!(a.state(), IceConnectionState::Failed);
    assert!(b.stats().auth_failures > 0);
}

#[test]
fn candidate_sdp_round_trip() {
    let s = "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 10.0.0.5 rport 61665 generation 0 ufrag EsAw network-cost 999";
    let c: Candidate = s.parse().unwrap();
    assert_eq!(c.kind, CandidateKind::ServerReflexive);
    assert_eq!(c.addr, addr("203.0.113.7:61665"));
    assert_eq!(c.related, Some(addr("10.0.0.5:61665")));
    assert_eq!(c.ufrag.as_deref(), Some("EsAw"));
    let back: Candidate = c.to_string().parse().unwrap();
    assert_eq!(back, c);
    assert!(matches!(
        "candidate:1 1 udp 1 abc.local 9 typ host".parse::<Candidate>(),
        Err(CandidateParseError::Hostname(_))
    ));
    for bad in [
        "",
        "candidate:",
        "candidate:1 1 udp",
        "candidate:1 x udp 1 1.2.3.4 5 typ host",
        "candidate:1 1 sctp 1 1.2.3.4 5 typ host",
        "candidate:1 1 udp 1 1.2.3.4 5 type host",
    ] {
        assert!(bad.parse::<Candidate>().is_err(), "{bad}");
    }
}

#[test]
fn priorities_follow_rfc8445() {
    // §5.1.2.1 with type preference 126, local preference 65535, component 1.
    assert_eq!(
        candidate_priority(CandidateKind::Host, 65535, 1),
        2130706431
    );
    assert_eq!(pair_priority(10, 20), (1u64 << 32) * 10 + 40);
    assert_eq!(pair_priority(20, 10), (1u64 << 32) * 10 + 40 + 1);
}

#[test]
fn lonely_agent_deadlines_progress() {
    // No peer at all: checks retransmit, time out, and the agent fails; deadlines never
    // repeat without progress.
    let (mut a, _) = pair_of_agents();
    a.set_remote_credentials(Credentials {
        ufrag: "peer".into(),
        pwd: "peerpasswordpeerpassword".into(),
    })
    .unwrap();
    a.add_remote_candidate(Candidate::host(addr("10.0.0.9:9"), Protocol::Udp))
        .unwrap();
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 1500];
    let mut steps = 0;
    while let Some(t) = a.poll_timeout() {
        assert!(
            t > now || steps == 0,
            "deadline {t:?} does not progress past {now:?}"
        );
        now = t;
        a.handle_timeout(now);
        while a.poll_transmit(now, &mut buf).is_some() {}
        steps += 1;
        assert!(steps < 10_000);
    }
    assert_eq!(a.state(), IceConnectionState::Failed);
    assert!(now >= Instant::from_secs(30));
}

/// Found by fuzzing: a field the split keeps (a vertical tab is not ASCII whitespace)
/// at the end of the line must survive our own formatting and parsing.
#[test]
fn candidate_with_odd_characters_round_trips() {
    let line = "candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host ufrag \u{b}";
    let c: Candidate = line.parse().unwrap();
    assert_eq!(c.ufrag.as_deref(), Some("\u{b}"));
    let back: Candidate = c.to_string().parse().unwrap();
    assert_eq!(back.ufrag, c.ufrag);
}
