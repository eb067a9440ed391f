//! The peer connection under hostile input.
//!
//! The first byte picks the mode:
//! - even: the rest is SDP text handed to `accept_offer`, and (after our own offer) to
//!   `accept_answer`; both must return, never panic;
//! - 3 mod 4: a peer connection that accepted Chromium's audio/video offer takes the rest
//!   as plain RTP/RTCP packets (length-prefixed), as if SRTP had let them through: media
//!   routing, RTX, streams, NACK, reports and feedback under hostile packets;
//! - 1 mod 4: two peer connections are set up in memory until a data channel is open, then
//!   the rest is a script of operations: deliver the next real datagram, drop it, inject
//!   fuzz bytes as a datagram (with a STUN, DTLS or RTP first byte, or raw) from the
//!   peer's address or a stranger's, send on the channel, advance virtual time, close.
//!
//! Checked: nothing panics; `poll_transmit` never reports more bytes than its buffer;
//! nothing follows the `Closed` event; a datagram from a stranger never produces channel
//! data.
#![no_main]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sansrtc::datachannel::ChannelConfig;
use sansrtc::dtls::DtlsCertificate;
use sansrtc::ice::Candidate;
use sansrtc::rtc::{Rtc, RtcConfig, RtcEvent};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

fn certs() -> &'static (DtlsCertificate, DtlsCertificate) {
    static C: OnceLock<(DtlsCertificate, DtlsCertificate)> = OnceLock::new();
    C.get_or_init(|| {
        (
            DtlsCertificate::generate().unwrap(),
            DtlsCertificate::generate().unwrap(),
        )
    })
}

fn rtc(seed: u64, cert: &DtlsCertificate, addr: SocketAddr) -> Rtc {
    let mut r = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(seed),
            certificate: Some(cert.clone()),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    r.add_local_candidate(Candidate::host(addr, Protocol::Udp))
        .unwrap();
    r
}

struct Side {
    rtc: Rtc,
    addr: SocketAddr,
    out: VecDeque<Vec<u8>>,
    closed: bool,
    data: usize,
}

impl Side {
    fn drain(&mut self, now: Instant) {
        let mut buf = vec![0u8; 1500];
        while let Some(t) = self.rtc.poll_transmit(now, &mut buf) {
            assert!(t.size <= buf.len());
            self.out.push_back(buf[..t.size].to_vec());
        }
        while let Some(e) = self.rtc.poll_event() {
            assert!(!self.closed, "event after Closed: {e:?}");
            match e {
                RtcEvent::Closed { .. } => self.closed = true,
                RtcEvent::ChannelData { .. } => self.data += 1,
                _ => {}
            }
        }
    }

    fn receive(&mut self, now: Instant, from: SocketAddr, d: &[u8]) {
        let rx = Receive {
            proto: Protocol::Udp,
            source: from,
            destination: self.addr,
            contents: d,
        };
        self.rtc.handle_receive(now, rx);
        self.drain(now);
    }
}

fn sdp_mode(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (ca, _) = certs();
    let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
    let mut r = rtc(1, ca, a);
    let _ = r.accept_offer(Instant::ZERO, &text);
    let mut r = rtc(2, ca, a);
    let _ = r.create_offer(Instant::ZERO);
    let _ = r.accept_answer(Instant::ZERO, &text);
}

fn connected_mode(data: &[u8]) {
    let (ca, cb) = certs();
    let (aa, ba): (SocketAddr, SocketAddr) = (
        "127.0.0.1:1000".parse().unwrap(),
        "127.0.0.1:2000".parse().unwrap(),
    );
    let stranger: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    let mut a = Side {
        rtc: rtc(3, ca, aa),
        addr: aa,
        out: VecDeque::new(),
        closed: false,
        data: 0,
    };
    let mut b = Side {
        rtc: rtc(4, cb, ba),
        addr: ba,
        out: VecDeque::new(),
        closed: false,
        data: 0,
    };
    let chan = a.rtc.create_data_channel(ChannelConfig::default()).unwrap();
    let mut now = Instant::ZERO;
    let offer = a.rtc.create_offer(now).unwrap();
    let answer = b.rtc.accept_offer(now, &offer).unwrap();
    a.rtc.accept_answer(now, &answer).unwrap();
    // Bring it up on a perfect link.
    for _ in 0..2000 {
        a.drain(now);
        b.drain(now);
        if a.out.is_empty() && b.out.is_empty() {
            let next = [a.rtc.poll_timeout(), b.rtc.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next else { break };
            now = t.max(now);
            a.rtc.handle_timeout(now);
            b.rtc.handle_timeout(now);
        }
        while let Some(d) = a.out.pop_front() {
            b.receive(now, aa, &d);
        }
        while let Some(d) = b.out.pop_front() {
            a.receive(now, ba, &d);
        }
        if a.rtc.channel(chan).is_some_and(|c| c.stream_id().is_some())
            && b.data == 0
            && now > Instant::from_millis(500)
        {
            break;
        }
    }
    // The script: b is the victim.
    let mut i = 0;
    let mut ops = 0;
    while i < data.len() && ops < 300 {
        ops += 1;
        let op = data[i];
        i += 1;
        match op % 8 {
            0 => {
                if let Some(d) = a.out.pop_front() {
                    b.receive(now, aa, &d);
                }
            }
            1 => {
                a.out.pop_front();
            }
            2 | 3 => {
                let len = usize::from(*data.get(i).unwrap_or(&0));
                i = (i + 1).min(data.len());
                let end = (i + len).min(data.len());
                let mut d = data[i..end].to_vec();
                i = end;
                match op % 4 {
                    0 => d.insert(0, 0x00),
                    1 => d.insert(0, 23),
                    2 => d.insert(0, 0x80),
                    _ => {}
                }
                let from = if op & 0x80 != 0 { stranger } else { aa };
                let before = b.data;
                b.receive(now, from, &d);
                if from == stranger {
                    assert_eq!(b.data, before, "a stranger's datagram became channel data");
                }
            }
            4 => {
                if let Some(mut c) = a.rtc.channel(chan) {
                    let n = usize::from(*data.get(i).unwrap_or(&1)) * 7;
                    i += 1;
                    let _ = c.send_binary(&vec![op; n]);
                }
                a.drain(now);
            }
            5 => {
                now = now + Duration::from_millis(u64::from(op) * 4);
                a.rtc.handle_timeout(now);
                b.rtc.handle_timeout(now);
                a.drain(now);
                b.drain(now);
            }
            6 => {
                if let Some(d) = b.out.pop_front() {
                    a.receive(now, ba, &d);
                }
            }
            _ => {
                if op > 250 {
                    b.rtc.close();
                    b.drain(now);
                }
            }
        }
    }
}

const CHROMIUM_AV: &str = include_str!("../../tests/fixtures/sdp/chromium-av-datachannel.sdp");

fn media_mode(data: &[u8]) {
    let (ca, _) = certs();
    let mut r = rtc(5, ca, "127.0.0.1:1000".parse().unwrap());
    r.accept_offer(Instant::ZERO, CHROMIUM_AV)
        .expect("Chromium's offer is accepted");
    let mut now = Instant::from_millis(1);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (packet, tail) = tail.split_at(n);
        rest = tail;
        r.fuzz_plain_media(now, packet);
        now = now + Duration::from_millis(u64::from(len % 16));
        r.handle_timeout(now);
        while r.poll_event().is_some() {}
    }
    let _ = r.stats();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 | 2 => sdp_mode(rest),
        3 => media_mode(rest),
        _ => connected_mode(rest),
    }
});
