//! Two connected `Rtc`s in memory on one thread, virtual time: the harness of the
//! allocation benches (`benches/rtc.rs`). Not a bench target of its own.

use sansrtc::datachannel::ChannelConfig;
use sansrtc::dtls::DtlsCertificate;
use sansrtc::ice::Candidate;
use sansrtc::jsep::{Direction, MediaKind};
use sansrtc::rtc::{ChannelId, MediaId, Rtc, RtcConfig, RtcEvent, RtcState, RtpWrite};
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

/// Both peers, their clock and a datagram buffer.
pub struct Pair {
    pub a: Rtc,
    pub b: Rtc,
    pub now: Instant,
    buf: Vec<u8>,
    /// The channel on A and on B (data mode).
    pub chan: Option<(ChannelId, ChannelId)>,
    /// The video transceiver on A and on B (media mode).
    pub video: Option<(MediaId, Option<MediaId>)>,
}

fn rtc(seed: u64, addr: &str) -> Rtc {
    let mut r = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(seed),
            certificate: Some(DtlsCertificate::generate().expect("certificate")),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .expect("rtc");
    r.add_local_candidate(Candidate::host(addr.parse().expect("addr"), Protocol::Udp))
        .expect("candidate");
    r
}

impl Pair {
    /// Connects A and B with one data channel (`video` false) or one video m-line.
    pub fn connect(video: bool) -> Pair {
        let mut a = rtc(1, "127.0.0.1:10000");
        let mut b = rtc(2, "127.0.0.1:20000");
        let mut vid = None;
        if video {
            vid = Some(
                a.add_media(MediaKind::Video, Direction::SendRecv)
                    .expect("media"),
            );
        } else {
            a.create_data_channel(ChannelConfig::default())
                .expect("channel");
        }
        let offer = a.create_offer(Instant::ZERO).expect("offer");
        let answer = b.accept_offer(Instant::ZERO, &offer).expect("answer");
        a.accept_answer(Instant::ZERO, &answer).expect("accept");
        let mut p = Pair {
            a,
            b,
            now: Instant::ZERO,
            buf: vec![0; 2048],
            chan: None,
            video: vid.map(|v| (v, None)),
        };
        let (mut a_chan, mut b_chan, mut a_up, mut b_up) = (None, None, false, false);
        for _ in 0..10_000 {
            p.pump(
                |e| match e {
                    RtcEvent::ChannelOpen { id, .. } => a_chan = Some(id),
                    RtcEvent::StateChange(RtcState::Connected) => a_up = true,
                    _ => {}
                },
                |e| match e {
                    RtcEvent::ChannelOpen { id, .. } => b_chan = Some(id),
                    RtcEvent::StateChange(RtcState::Connected) => b_up = true,
                    _ => {}
                },
            );
            let done = if video {
                a_up && b_up
            } else {
                a_chan.is_some() && b_chan.is_some()
            };
            if done {
                break;
            }
            p.advance(Duration::from_millis(10));
        }
        if !video {
            p.chan = Some((a_chan.expect("A open"), b_chan.expect("B open")));
        } else {
            assert!(a_up && b_up, "connected");
            let bv = p.b.media_ids().first().copied();
            p.video = vid.map(|v| (v, bv));
        }
        p
    }

    /// Lets virtual time pass: every due timer runs.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }

    /// Hands every datagram across and drains events until nothing moves.
    pub fn pump(&mut self, mut on_a: impl FnMut(RtcEvent), mut on_b: impl FnMut(RtcEvent)) {
        let now = self.now;
        loop {
            let mut moved = cross(&mut self.a, &mut self.b, now, &mut self.buf);
            while let Some(e) = self.b.poll_event() {
                on_b(e);
                moved = true;
            }
            moved |= cross(&mut self.b, &mut self.a, now, &mut self.buf);
            while let Some(e) = self.a.poll_event() {
                on_a(e);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

/// Every datagram `from` has to send, handed to `to`; whether there was any.
fn cross(from: &mut Rtc, to: &mut Rtc, now: Instant, buf: &mut [u8]) -> bool {
    let mut any = false;
    while let Some(t) = from.poll_transmit(now, buf) {
        let contents = buf.get(..t.size).unwrap_or_default();
        to.handle_receive(
            now,
            Receive {
                proto: t.proto,
                source: t.source,
                destination: t.destination,
                contents,
            },
        );
        any = true;
    }
    any
}

/// Spare vectors the harness keeps for the events' buffers (so it does not allocate).
pub const SPARE: usize = 64;

/// Sends one message A→B and runs until B has it; returns the bytes B got.
pub fn one_message(p: &mut Pair, msg: &[u8], got: &mut Vec<Vec<u8>>) -> usize {
    let (a, _) = p.chan.expect("channel");
    p.a.channel(a)
        .expect("channel")
        .send_binary(msg)
        .expect("send");
    let mut n = 0;
    for _ in 0..3 {
        p.pump(
            |_| {},
            |e| {
                if let RtcEvent::ChannelData { data, .. } = e {
                    n += data.len();
                    if got.len() < SPARE {
                        got.push(data);
                    }
                }
            },
        );
        for b in got.drain(..) {
            p.b.recycle(b);
        }
        if n > 0 {
            break;
        }
        p.advance(Duration::from_millis(1));
    }
    // Let the delayed SACK go, so A's buffer returns to its pool.
    p.advance(Duration::from_millis(1));
    p.pump(|_| {}, |_| {});
    n
}

/// One packet A→B, forwarded B→A.
pub struct Forward {
    pub p: Pair,
    seq: u16,
    payload: Vec<u8>,
    spare_a: Vec<Vec<u8>>,
    spare_b: Vec<Vec<u8>>,
}

impl Forward {
    /// A connected video pair, warmed up past the 1,024-packet send history (every
    /// history slot has its buffer).
    pub fn new(payload: usize) -> Forward {
        let mut f = Forward {
            p: Pair::connect(true),
            seq: 0,
            payload: vec![0xa5; payload],
            spare_a: Vec::with_capacity(SPARE),
            spare_b: Vec::with_capacity(SPARE),
        };
        for _ in 0..3000 {
            f.step();
        }
        f
    }

    /// One packet A→B, B forwards it, A receives it; returns how many made the round trip.
    pub fn step(&mut self) -> usize {
        let (va, vb) = self.p.video.expect("video");
        let vb = vb.expect("B's transceiver");
        let now = self.p.now;
        let mut w = RtpWrite::new(
            96,
            u32::from(self.seq).wrapping_mul(3000),
            true,
            &self.payload,
        );
        w.sequence_number = Some(self.seq);
        self.seq = self.seq.wrapping_add(1);
        self.p
            .a
            .media(va)
            .expect("A media")
            .write_rtp(now, w)
            .expect("write");
        let (spare_a, spare_b) = (&mut self.spare_a, &mut self.spare_b);
        self.p.pump(
            |e| {
                if let RtcEvent::MediaRtp(pk) = e
                    && spare_a.len() < SPARE
                {
                    spare_a.push(pk.raw);
                }
            },
            |e| {
                if let RtcEvent::MediaRtp(pk) = e
                    && spare_b.len() < SPARE
                {
                    spare_b.push(pk.raw);
                }
            },
        );
        // B forwards what it got, as an SFU would, on its own stream.
        let mut forwarded = 0;
        for raw in self.spare_b.drain(..) {
            let payload = raw.get(12..).unwrap_or_default();
            let mut w = RtpWrite::new(96, 0, true, payload);
            w.sequence_number = Some(self.seq);
            if let Some(mut m) = self.p.b.media(vb) {
                m.write_rtp(now, w).expect("forward");
                forwarded += 1;
            }
            self.p.b.recycle(raw);
        }
        let mut back = 0;
        let spare_a = &mut self.spare_a;
        self.p.pump(
            |e| {
                if let RtcEvent::MediaRtp(pk) = e {
                    back += 1;
                    if spare_a.len() < SPARE {
                        spare_a.push(pk.raw);
                    }
                }
            },
            |_| {},
        );
        for raw in self.spare_a.drain(..) {
            self.p.a.recycle(raw);
        }
        self.p.advance(Duration::from_micros(100));
        forwarded.min(back)
    }
}
