//! The workloads on sansrtc: two `Rtc`s in memory on this thread, virtual time.
//!
//! Driving follows the crate's drain rule as its README example does: every datagram
//! `poll_transmit` writes into our buffer is handed straight to the peer's
//! `handle_receive`, events are drained, and when nothing moves virtual time jumps to
//! the earliest `poll_timeout`.

use std::hint::black_box;

use sansrtc::datachannel::{ChannelConfig, DataChannelError};
use sansrtc::dtls::DtlsCertificate;
use sansrtc::ice::Candidate;
use sansrtc::jsep::{Direction, MediaKind};
use sansrtc::rtc::{ChannelId, MediaId, Rtc, RtcConfig, RtcError, RtcEvent, RtcState, RtpWrite};
use sansrtc::sctp::SctpError;
use sansrtc::{Duration, Instant, Protocol, Receive, RngSource};

use crate::common::*;
use crate::measure::{Mem, Span, thread_cpu_ns, trim};

const A_ADDR: &str = "127.0.0.1:10000";
const B_ADDR: &str = "127.0.0.1:20000";

/// What the host does with each side's events.
trait Watch {
    fn a(&mut self, _e: RtcEvent) -> Result<(), String> {
        Ok(())
    }
    fn b(&mut self, _e: RtcEvent) -> Result<(), String> {
        Ok(())
    }
    /// A buffer B's host is done with, to hand back with `Rtc::recycle` (the crate's
    /// way to a receive path without allocation).
    fn spare_b(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Every datagram `from` has to send, handed to `to`; whether there was any.
fn cross(from: &mut Rtc, to: &mut Rtc, now: Instant, buf: &mut [u8]) -> bool {
    let mut any = false;
    while let Some(t) = from.poll_transmit(now, buf) {
        to.handle_receive(
            now,
            Receive {
                proto: t.proto,
                source: t.source,
                destination: t.destination,
                contents: &buf[..t.size],
            },
        );
        any = true;
    }
    any
}

/// Two peers and their clock.
pub struct Pair {
    a: Rtc,
    b: Rtc,
    now: Instant,
    /// When the current phase (connecting, a transfer) started, and how much virtual
    /// time it may take before it is declared stuck.
    phase_start: Instant,
    phase_limit: Duration,
}

impl Pair {
    /// Hands every datagram across and drains events until nothing moves; timers
    /// that are due run first. Returns whether anything moved.
    fn pump(&mut self, buf: &mut [u8], w: &mut impl Watch) -> Result<bool, String> {
        let now = self.now;
        let mut any = false;
        loop {
            if self.a.poll_timeout().is_some_and(|t| t <= now) {
                self.a.handle_timeout(now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= now) {
                self.b.handle_timeout(now);
            }
            let mut moved = cross(&mut self.a, &mut self.b, now, buf);
            while let Some(e) = self.b.poll_event() {
                w.b(e)?;
                moved = true;
            }
            while let Some(spare) = w.spare_b() {
                self.b.recycle(spare);
            }
            moved |= cross(&mut self.b, &mut self.a, now, buf);
            while let Some(e) = self.a.poll_event() {
                w.a(e)?;
                moved = true;
            }
            if !moved {
                break;
            }
            any = true;
        }
        Ok(any)
    }

    /// Nothing moves: jump to the earliest deadline (at least 1 ms on) and run it.
    fn advance(&mut self) -> Result<(), String> {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .ok_or("sansrtc: stuck, and neither side has a timer")?;
        self.now = if next > self.now {
            next
        } else {
            self.now + Duration::from_millis(1)
        };
        if self.now.saturating_duration_since(self.phase_start) > self.phase_limit {
            return Err(format!(
                "sansrtc: not done after {:?} of virtual time",
                self.phase_limit
            ));
        }
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        Ok(())
    }

    /// Runs until `done`, advancing time when idle.
    fn run_until<W: Watch>(
        &mut self,
        buf: &mut [u8],
        w: &mut W,
        done: impl Fn(&W) -> bool,
    ) -> Result<(), String> {
        while !done(w) {
            if !self.pump(buf, w)? && !done(w) {
                self.advance()?;
            }
        }
        Ok(())
    }

    /// Lets `d` of virtual time pass (timers run, whatever they send is delivered).
    fn idle(&mut self, buf: &mut [u8], d: Duration) -> Result<(), String> {
        struct Nothing;
        impl Watch for Nothing {}
        let until = self.now + d;
        loop {
            self.pump(buf, &mut Nothing)?;
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
        Ok(())
    }
}

fn rtc(
    seed: u64,
    cert: Option<&DtlsCertificate>,
    addr: &str,
    datagram_size: usize,
    send_buffer: Option<usize>,
) -> Result<Rtc, String> {
    let mut config = RtcConfig {
        rng: RngSource::Seeded(seed),
        certificate: cert.cloned(),
        datagram_size,
        ..RtcConfig::default()
    };
    if let Some(b) = send_buffer {
        config.sctp.send_buffer = b;
    }
    let mut r = Rtc::new(config, Instant::ZERO).map_err(|e| format!("sansrtc: Rtc::new: {e}"))?;
    r.add_local_candidate(Candidate::host(addr.parse().unwrap(), Protocol::Udp))
        .map_err(|e| format!("sansrtc: add_local_candidate: {e}"))?;
    Ok(r)
}

/// Certificates made once, one per side, for `Certs::Reused`.
pub struct SharedCerts([DtlsCertificate; 2]);

impl SharedCerts {
    pub fn new() -> SharedCerts {
        SharedCerts(std::array::from_fn(|_| {
            DtlsCertificate::generate().expect("sansrtc certificate")
        }))
    }
}

/// What a connection was set up with.
pub struct Connected {
    pair: Pair,
    /// The channel, on A and on B.
    chan: Option<(ChannelId, ChannelId)>,
    /// The video transceiver on A and its VP8 payload type.
    video: Option<(MediaId, u8)>,
}

#[derive(Default)]
struct SetupWatch {
    a_open: Option<ChannelId>,
    b_open: Option<ChannelId>,
    a_up: bool,
    b_up: bool,
}

impl Watch for SetupWatch {
    fn a(&mut self, e: RtcEvent) -> Result<(), String> {
        match e {
            RtcEvent::ChannelOpen { id, .. } => self.a_open = Some(id),
            RtcEvent::StateChange(RtcState::Connected) => self.a_up = true,
            RtcEvent::Closed { reason } => return Err(format!("sansrtc A closed: {reason:?}")),
            _ => {}
        }
        Ok(())
    }
    fn b(&mut self, e: RtcEvent) -> Result<(), String> {
        match e {
            RtcEvent::ChannelOpen { id, .. } => self.b_open = Some(id),
            RtcEvent::StateChange(RtcState::Connected) => self.b_up = true,
            RtcEvent::Closed { reason } => return Err(format!("sansrtc B closed: {reason:?}")),
            _ => {}
        }
        Ok(())
    }
}

/// Builds both peers, offer/answer through SDP text, and runs until the data channel
/// is open on both sides (`video == false`) or until both are connected with one
/// video m-line (`video == true`).
fn connect(
    seed: u64,
    certs: Option<&SharedCerts>,
    video: bool,
    send_buffer: Option<usize>,
    buf: &mut [u8],
) -> Result<Connected, String> {
    // Media packets of 1200-byte payload need more than the default 1200-byte
    // datagram (header, extensions, SRTP tag).
    let size = if video { 1400 } else { 1200 };
    let mut a = rtc(seed, certs.map(|c| &c.0[0]), A_ADDR, size, send_buffer)?;
    let mut b = rtc(
        seed ^ 0x5555,
        certs.map(|c| &c.0[1]),
        B_ADDR,
        size,
        send_buffer,
    )?;
    let mut created = None;
    let mut vid = None;
    if video {
        vid = Some(
            a.add_media(MediaKind::Video, Direction::SendRecv)
                .map_err(|e| format!("sansrtc: add_media: {e}"))?,
        );
    } else {
        created = Some(
            a.create_data_channel(ChannelConfig {
                label: "bench".into(),
                ..ChannelConfig::default()
            })
            .map_err(|e| format!("sansrtc: create_data_channel: {e}"))?,
        );
    }
    let now = Instant::ZERO;
    let offer: String = a
        .create_offer(now)
        .map_err(|e| format!("sansrtc: create_offer: {e}"))?;
    let answer: String = b
        .accept_offer(now, &offer)
        .map_err(|e| format!("sansrtc: accept_offer: {e}"))?;
    a.accept_answer(now, &answer)
        .map_err(|e| format!("sansrtc: accept_answer: {e}"))?;
    let mut pair = Pair {
        a,
        b,
        now,
        phase_start: now,
        phase_limit: Duration::from_millis(STALL_LIMIT_MS),
    };
    let mut w = SetupWatch::default();
    if video {
        pair.run_until(buf, &mut w, |w| w.a_up && w.b_up)?;
    } else {
        pair.run_until(buf, &mut w, |w| w.a_open.is_some() && w.b_open.is_some())?;
        if w.a_open != created {
            return Err(format!(
                "sansrtc: A opened {:?}, created {created:?}",
                w.a_open
            ));
        }
    }
    let video = match vid {
        Some(id) => {
            let pt = pair
                .a
                .media(id)
                .ok_or("sansrtc: video transceiver gone")?
                .codecs()
                .iter()
                .find(|c| c.is("VP8"))
                .map(|c| c.payload_type)
                .ok_or("sansrtc: VP8 not negotiated")?;
            Some((id, pt))
        }
        None => None,
    };
    Ok(Connected {
        pair,
        chan: created.zip(w.b_open),
        video,
    })
}

/// `setup`: CPU time of `n` connections, each built and run until its channel is open
/// on both sides (dropping it is not counted).
#[inline(never)]
pub fn run_setup(n: usize, certs: Certs) -> Result<SetupResult, String> {
    let shared = (certs == Certs::Reused).then(SharedCerts::new);
    let mut buf = vec![0u8; 2048];
    let mut cpu = 0u64;
    let mut wall = 0f64;
    let mut allocs = 0u64;
    // One untimed connection first: process-wide one-time costs (aws-lc seeds its
    // jitter-entropy DRBG on first use, ~30 ms) are not per-connection costs.
    drop(black_box(connect(
        u64::MAX / 2,
        shared.as_ref(),
        false,
        None,
        &mut buf,
    )?));
    for i in 0..n {
        let span = Span::start();
        let c = setup_one(i as u64, shared.as_ref(), &mut buf)?;
        let s = span.stop();
        cpu += (s.cpu_s * 1e9) as u64;
        wall += s.wall_s;
        allocs += s.allocs;
        drop(black_box(c));
    }
    Ok(SetupResult {
        conns: n,
        cpu_s: cpu as f64 / 1e9,
        wall_s: wall,
        allocs,
    })
}

#[inline(never)]
fn setup_one(seed: u64, certs: Option<&SharedCerts>, buf: &mut [u8]) -> Result<Connected, String> {
    connect(1000 + seed, certs, false, None, buf)
}

struct DcWatch<'a> {
    data: &'a DcData,
    chan: ChannelId,
    got: usize,
    bytes: u64,
    spare: Vec<Vec<u8>>,
}

impl Watch for DcWatch<'_> {
    fn b(&mut self, e: RtcEvent) -> Result<(), String> {
        match e {
            RtcEvent::ChannelData { id, binary, data } => {
                if id != self.chan {
                    return Err(format!("sansrtc: data on {id:?}"));
                }
                self.data.check(self.got, binary, &data)?;
                self.got += 1;
                self.bytes += data.len() as u64;
                self.spare.push(data);
            }
            RtcEvent::Closed { reason } => return Err(format!("sansrtc B closed: {reason:?}")),
            _ => {}
        }
        Ok(())
    }
    fn a(&mut self, e: RtcEvent) -> Result<(), String> {
        if let RtcEvent::Closed { reason } = e {
            return Err(format!("sansrtc A closed: {reason:?}"));
        }
        Ok(())
    }
    fn spare_b(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
    }
}

/// `dc`: `bytes` in 16 KiB binary messages A→B on a reliable ordered channel.
pub fn run_dc(bytes: usize, data: &DcData, send_buffer: Option<usize>) -> Result<DcResult, String> {
    let mut buf = vec![0u8; 2048];
    let certs = SharedCerts::new();
    let c = connect(1, Some(&certs), false, send_buffer, &mut buf)?;
    let (ca, cb) = c.chan.ok_or("sansrtc: no channel")?;
    let mut pair = c.pair;
    let n = bytes / MSG;
    let start = pair.now;
    pair.phase_start = pair.now;
    pair.phase_limit = Duration::from_millis(STALL_LIMIT_MS);
    let span = Span::start();
    let w = dc_transfer(&mut pair, &mut buf, data, ca, cb, n)?;
    let spent = span.stop();
    if w.got != n || w.bytes != (n * MSG) as u64 {
        return Err(format!(
            "sansrtc: {} messages, {} bytes received",
            w.got, w.bytes
        ));
    }
    Ok(DcResult {
        bytes: w.bytes,
        msgs: w.got,
        spent,
        virtual_s: pair.now.saturating_duration_since(start).as_secs_f64(),
    })
}

#[inline(never)]
fn dc_transfer<'a>(
    pair: &mut Pair,
    buf: &mut [u8],
    data: &'a DcData,
    ca: ChannelId,
    cb: ChannelId,
    n: usize,
) -> Result<DcWatch<'a>, String> {
    let mut w = DcWatch {
        data,
        chan: cb,
        got: 0,
        bytes: 0,
        spare: Vec::with_capacity(1024),
    };
    let mut sent = 0;
    while w.got < n {
        while sent < n {
            let mut ch = pair.a.channel(ca).ok_or("sansrtc: channel gone")?;
            match ch.send_binary(data.msg(sent)) {
                Ok(()) => sent += 1,
                Err(RtcError::DataChannel(DataChannelError::Sctp(SctpError::BufferFull))) => {
                    break;
                }
                Err(e) => return Err(format!("sansrtc: send_binary: {e}")),
            }
        }
        if !pair.pump(buf, &mut w)? && w.got < n {
            pair.advance()?;
        }
    }
    Ok(w)
}

struct MediaWatch {
    pt: u8,
    got: usize,
    spare: Vec<Vec<u8>>,
}

impl Watch for MediaWatch {
    fn b(&mut self, e: RtcEvent) -> Result<(), String> {
        match e {
            RtcEvent::MediaRtp(p) => {
                if p.payload_type != self.pt {
                    return Err(format!("sansrtc: payload type {}", p.payload_type));
                }
                check_rtp(self.got, p.sequence_number as u16, p.payload())?;
                self.got += 1;
                self.spare.push(p.raw);
            }
            RtcEvent::Closed { reason } => return Err(format!("sansrtc B closed: {reason:?}")),
            _ => {}
        }
        Ok(())
    }
    fn a(&mut self, e: RtcEvent) -> Result<(), String> {
        if let RtcEvent::Closed { reason } = e {
            return Err(format!("sansrtc A closed: {reason:?}"));
        }
        Ok(())
    }
    fn spare_b(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
    }
}

/// `media`: `n` RTP packets of 1200-byte payload written by A, counted at B.
pub fn run_media(n: usize) -> Result<MediaResult, String> {
    let mut buf = vec![0u8; 2048];
    let certs = SharedCerts::new();
    let c = connect(2, Some(&certs), true, None, &mut buf)?;
    let (vid, pt) = c.video.ok_or("sansrtc: no video")?;
    let mut pair = c.pair;
    let start = pair.now;
    pair.phase_start = pair.now;
    pair.phase_limit = Duration::from_millis(STALL_LIMIT_MS)
        + Duration::from_micros((n / MEDIA_BATCH + 1) as u64 * MEDIA_BATCH_US);
    let span = Span::start();
    let got = media_transfer(&mut pair, &mut buf, vid, pt, n)?;
    let spent = span.stop();
    if got != n {
        return Err(format!("sansrtc: {got} of {n} RTP packets received"));
    }
    Ok(MediaResult {
        packets: got,
        spent,
        virtual_s: pair.now.saturating_duration_since(start).as_secs_f64(),
    })
}

#[inline(never)]
fn media_transfer(
    pair: &mut Pair,
    buf: &mut [u8],
    vid: MediaId,
    pt: u8,
    n: usize,
) -> Result<usize, String> {
    let mut w = MediaWatch {
        pt,
        got: 0,
        spare: Vec::with_capacity(1024),
    };
    let mut payload = rtp_payload();
    let mut written = 0;
    while w.got < n {
        if written < n {
            let end = (written + MEDIA_BATCH).min(n);
            let mut m = pair.a.media(vid).ok_or("sansrtc: transceiver gone")?;
            while written < end {
                stamp_rtp(&mut payload, written);
                let frame = written / FRAME_PACKETS;
                let mut p = RtpWrite::new(
                    pt,
                    (frame as u32).wrapping_mul(3000),
                    written % FRAME_PACKETS == FRAME_PACKETS - 1,
                    &payload,
                );
                p.sequence_number = Some(written as u16);
                m.write_rtp(pair.now, p)
                    .map_err(|e| format!("sansrtc: write_rtp: {e}"))?;
                written += 1;
            }
            pair.now += Duration::from_micros(MEDIA_BATCH_US);
        }
        let moved = pair.pump(buf, &mut w)?;
        if !moved && written == n && w.got < n {
            pair.advance()?;
        }
    }
    Ok(w.got)
}

/// `memory`: `n` pairs connected (channel open, then idle for a while) and kept alive;
/// memory per pair.
pub fn run_memory(n: usize, certs: Certs) -> Result<MemResult, String> {
    let shared = (certs == Certs::Reused).then(SharedCerts::new);
    let mut buf = vec![0u8; 2048];
    trim();
    let before = Mem::now();
    // After the baseline: the `Rtc` structs themselves are part of a pair's memory.
    let mut kept: Vec<(Rtc, Rtc)> = Vec::with_capacity(n);
    let cpu0 = thread_cpu_ns();
    for i in 0..n {
        let mut c = connect(100_000 + i as u64, shared.as_ref(), false, None, &mut buf)?;
        c.pair
            .idle(&mut buf, Duration::from_millis(MEMORY_IDLE_MS))?;
        kept.push((c.pair.a, c.pair.b));
    }
    let connect_cpu_s = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    let after = Mem::now();
    let per = |a: f64, b: f64| (b - a) / n as f64;
    let r = MemResult {
        pairs: kept.len(),
        rust: per(before.rust as f64, after.rust as f64),
        malloc: per(before.malloc as f64, after.malloc as f64),
        rss: per(before.rss as f64, after.rss as f64),
        connect_cpu_s,
    };
    drop(black_box(kept));
    trim();
    Ok(r)
}
