//! Async embedding: one peer connection driven by tokio instead of a blocking loop.
//!
//! ```text
//! cargo run --example echo &                       # an echo server to talk to
//! cargo run --example tokio_offer -- http://127.0.0.1:8080/whip
//! ```
//!
//! The whole host is one `select!`: a datagram arrives, or the connection's deadline
//! passes. After either, the drain rule: send every datagram, handle every event. It sends
//! 100 messages on a data channel and checks that each comes back.
#![allow(clippy::disallowed_methods)] // a host: it owns the clock

use std::time::Duration;

use sansrtc::datachannel::ChannelConfig;
use sansrtc::ice::Candidate;
use sansrtc::rtc::{Rtc, RtcConfig, RtcEvent};
use sansrtc::time::Clock;
use sansrtc::{Protocol, Receive};
use tokio::net::UdpSocket;

const MESSAGES: usize = 100;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/whip".into());
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let local = socket.local_addr()?;
    let clock = Clock::new();
    let mut rtc = Rtc::new(RtcConfig::default(), clock.now())?;
    rtc.add_local_candidate(Candidate::host(local, Protocol::Udp))?;
    rtc.end_of_local_candidates();
    let chan = rtc.create_data_channel(ChannelConfig {
        label: "echo".into(),
        ..ChannelConfig::default()
    })?;
    let offer = rtc.create_offer(clock.now())?;
    // Signalling is plain blocking HTTP here; keep it off the event loop.
    let answer = tokio::task::spawn_blocking(move || -> Result<String, String> {
        ureq::post(&url)
            .content_type("application/sdp")
            .send(&offer)
            .map_err(|e| e.to_string())?
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())
    })
    .await??;
    rtc.accept_answer(clock.now(), &answer)?;

    let mut buf = vec![0u8; 65536];
    let mut out = vec![0u8; 2048];
    let mut echoed = 0usize;
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        // The drain rule: every datagram, then every event.
        let now = clock.now();
        while let Some(t) = rtc.poll_transmit(now, &mut out) {
            socket.send_to(&out[..t.size], t.destination).await?;
        }
        while let Some(e) = rtc.poll_event() {
            match e {
                RtcEvent::ChannelOpen { id, .. } if id == chan => {
                    println!("channel open");
                    let mut ch = rtc.channel(chan).ok_or("no channel")?;
                    for i in 0..MESSAGES {
                        ch.send_text(&format!("message {i}"))?;
                    }
                }
                RtcEvent::ChannelData { data, .. } => {
                    let want = format!("message {echoed}");
                    if data != want.as_bytes() {
                        return Err(format!("echo {echoed} differs").into());
                    }
                    echoed += 1;
                    if echoed == MESSAGES {
                        println!("{MESSAGES} messages echoed; closing");
                        rtc.close();
                    }
                }
                RtcEvent::Closed { reason } => {
                    // Flush what the close wrote (SCTP ABORT, DTLS close_notify).
                    while let Some(t) = rtc.poll_transmit(clock.now(), &mut out) {
                        socket.send_to(&out[..t.size], t.destination).await?;
                    }
                    println!("closed: {reason:?}");
                    return if echoed == MESSAGES {
                        Ok(())
                    } else {
                        Err("closed early".into())
                    };
                }
                _ => {}
            }
        }
        let deadline = rtc
            .poll_timeout()
            .map(|t| tokio::time::Instant::from_std(clock.to_std(t)))
            .unwrap_or(end)
            .min(end);
        if tokio::time::Instant::now() >= end {
            return Err("timed out".into());
        }
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, source) = r?;
                rtc.handle_receive(clock.now(), Receive { proto: Protocol::Udp, source, destination: local, contents: &buf[..n] });
            }
            _ = tokio::time::sleep_until(deadline) => rtc.handle_timeout(clock.now()),
        }
    }
}
