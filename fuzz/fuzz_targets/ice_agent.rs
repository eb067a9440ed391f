//! An ICE agent driven by arbitrary datagrams, authenticated checks built from fuzz
//! input, timeouts and API calls. Nothing may panic, and the agent's deadlines must never
//! go backwards in a way that would spin a host loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::ice::stun::{self, IntegrityKey, MessageClass};
use sansrtc::ice::{Candidate, Credentials, IceAgent, IceConfig};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::ZERO;
    let local: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let mut agent = IceAgent::new(
        IceConfig {
            controlling: data.first().is_some_and(|b| b & 1 == 1),
            lite: data.first().is_some_and(|b| b & 2 == 2),
            stun_servers: vec!["192.0.2.1:3478".parse().unwrap()],
            rng: RngSource::Seeded(7),
            ..Default::default()
        },
        now,
    );
    let _ = agent.add_local_candidate(Candidate::host(local, Protocol::Udp));
    let remote = Credentials {
        ufrag: "rmte".into(),
        pwd: "remotepasswordremotepassword".into(),
    };
    let _ = agent.set_remote_credentials(remote.clone());
    let mut buf = [0u8; 2048];
    let mut input = data.get(1..).unwrap_or_default();
    while let Some((&op, rest)) = input.split_first() {
        let (len, rest) = match rest.split_first() {
            Some((&l, r)) => (usize::from(l).min(r.len()), r),
            None => (0, rest),
        };
        let (chunk, rest) = rest.split_at(len);
        input = rest;
        let port = 6000 + u16::from(op >> 4);
        let source = std::net::SocketAddr::new([10, 0, 0, 2].into(), port);
        match op & 0x0f {
            0 | 1 => {
                agent.handle_receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: local,
                        contents: chunk,
                    },
                );
            }
            2 | 3 => {
                // A well-formed Binding request, authenticated or not, with fuzz attributes.
                let mut tid = [0u8; 12];
                for (t, c) in tid.iter_mut().zip(chunk) {
                    *t = *c;
                }
                let mut m = stun::message(MessageClass::Request, stun::BINDING, tid);
                let name = format!("{}:rmte", agent.local_credentials().ufrag);
                if let Ok(u) = stun::Username::new(name) {
                    m.add_attribute(u);
                }
                let flags = chunk.first().copied().unwrap_or(0);
                m.add_attribute(stun::Priority::new(u32::from(flags) << 20));
                if flags & 1 != 0 {
                    m.add_attribute(stun::UseCandidate::new());
                }
                if flags & 2 != 0 {
                    m.add_attribute(stun::IceControlling::new(u64::from(flags)));
                } else {
                    m.add_attribute(stun::IceControlled::new(u64::from(flags)));
                }
                let key = IntegrityKey::short_term(&agent.local_credentials().pwd.clone());
                let mut out = [0u8; 512];
                let with_key = op & 1 == 0;
                if let Ok(n) = stun::encode(m, with_key.then_some(&key), true, &mut out) {
                    agent.handle_receive(
                        now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: local,
                            contents: &out[..n],
                        },
                    );
                }
            }
            4 => {
                let step = chunk
                    .iter()
                    .fold(0u64, |a, &b| a.wrapping_mul(256).wrapping_add(u64::from(b)));
                now = now + Duration::from_micros(step % 60_000_000);
                agent.handle_timeout(now);
            }
            5 => {
                if let Some(t) = agent.poll_timeout() {
                    assert!(t.as_micros() < u64::MAX, "deadline overflow");
                    now = now.max(t);
                    agent.handle_timeout(now);
                }
            }
            6 => {
                if let Ok(s) = std::str::from_utf8(chunk)
                    && let Ok(c) = s.parse::<Candidate>()
                {
                    let _ = agent.add_remote_candidate(c);
                }
            }
            7 => {
                let _ = agent.add_remote_candidate(Candidate::host(source, Protocol::Udp));
            }
            8 => agent.restart(now, None),
            9 => {
                let _ = agent.set_remote_credentials(remote.clone());
            }
            10 => agent.set_controlling(op & 0x10 != 0),
            11 => agent.end_of_remote_candidates(),
            12 => agent.close(),
            _ => {}
        }
        while agent.poll_transmit(now, &mut buf).is_some() {}
        while agent.poll_event().is_some() {}
        let _ = agent.pair_stats().count();
        let _ = agent.selected_pair();
    }
});
