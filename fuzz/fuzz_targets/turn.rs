//! TURN: the ChannelData codec, TURN messages through the STUN parser, and the TURN
//! client fed arbitrary bytes from its server over UDP and over a TCP stream, including
//! responses carrying the transaction id of the client's own request (so the 401/438,
//! success and error paths are reached). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::ice::stun;
use sansrtc::ice::turn::channel_data;
use sansrtc::ice::{Candidate, IceAgent, IceConfig, IceServer, IceTransportPolicy};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

fuzz_target!(|data: &[u8]| {
    // Codecs.
    if let Ok(m) = channel_data::parse(data) {
        assert!(channel_data::is_valid_channel(m.channel));
        let mut out = vec![0u8; m.data.len() + 8];
        let n = channel_data::encode(m.channel, m.data, true, &mut out).expect("re-encodes");
        assert_eq!(
            channel_data::parse(&out[..n]).expect("own output parses"),
            m
        );
    }
    let _ = channel_data::stream_frame_len(data);
    if let Ok(p) = stun::parse(data) {
        let _ = p.message.get_attribute::<stun::XorRelayAddress>();
        let _ = p.message.get_attribute::<stun::XorPeerAddress>();
        let _ = p.message.get_attribute::<stun::Lifetime>();
        let _ = p.message.get_attribute::<stun::ChannelNumber>();
    }

    // The client, over UDP and over TCP.
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let url = if mode & 1 == 0 {
        "turn:192.0.2.1:3478"
    } else {
        "turn:192.0.2.1:3478?transport=tcp"
    };
    let proto = if mode & 1 == 0 {
        Protocol::Udp
    } else {
        Protocol::Tcp
    };
    let host: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let server: std::net::SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut agent = IceAgent::new(
        IceConfig {
            ice_servers: vec![IceServer::new(&[url], "user", "pass").unwrap()],
            transport_policy: if mode & 2 == 0 {
                IceTransportPolicy::Relay
            } else {
                IceTransportPolicy::All
            },
            rng: RngSource::Seeded(3),
            ..Default::default()
        },
        Instant::ZERO,
    );
    let _ = agent.add_local_candidate(Candidate::host(host, Protocol::Udp));
    agent.end_of_local_candidates();
    let mut now = Instant::ZERO;
    let mut buf = vec![0u8; 70_000];
    let mut last_tid = [0u8; 12];
    for chunk in rest.chunks(61) {
        agent.handle_timeout(now);
        while let Some(t) = agent.poll_transmit(now, &mut buf) {
            if let Some(tid) = buf.get(8..20).filter(|_| t.size >= 20) {
                last_tid.copy_from_slice(tid);
            }
        }
        // Half the chunks become STUN messages with the client's last transaction id.
        let mut msg = chunk.to_vec();
        if chunk.first().is_some_and(|b| b & 1 == 1) && msg.len() >= 20 {
            msg[0] &= 0x01;
            msg[1] |= 0x10; // a response class bit
            let len = ((msg.len() - 20) & !3) as u16;
            msg.truncate(20 + usize::from(len));
            msg[2..4].copy_from_slice(&len.to_be_bytes());
            msg[4..8].copy_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
            msg[8..20].copy_from_slice(&last_tid);
        }
        let rx = Receive {
            proto,
            source: server,
            destination: host,
            contents: &msg,
        };
        if agent.is_from_turn_server(&rx) {
            let _ = agent.handle_turn_receive(now, rx);
            while agent.poll_relayed(now, &mut buf).is_some() {}
        } else {
            let _ = agent.handle_receive(now, rx);
        }
        while agent.poll_event().is_some() {}
        if let Some(c) = agent.local_candidates().next().cloned() {
            let _ = agent.relay_overhead(c.addr, server);
        }
        now = now + Duration::from_millis(u64::from(chunk.len() as u8) * 40);
    }
    agent.close_at(now);
    while agent.poll_transmit(now, &mut buf).is_some() {}
});
