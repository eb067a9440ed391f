//! The workloads on str0m 0.25: two `Rtc`s in memory on this thread, virtual time.
//!
//! Driving follows str0m's contract ("every mutation of an `Rtc` must be followed by a
//! complete drain of `poll_output` until it returns `Output::Timeout`"): each peer's
//! datagrams are queued (moved, not copied: str0m hands out owned buffers) while it is
//! drained, then fed to the other peer one by one, each followed by a drain. Time is
//! `std::time::Instant`: a base taken once at start plus a virtual offset; str0m never
//! reads the clock, so nothing sleeps.

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::ChannelId;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Receive, Transmit};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use crate::common::*;
use crate::measure::{Mem, Span, thread_cpu_ns, trim};

const A_ADDR: &str = "127.0.0.1:10000";
const B_ADDR: &str = "127.0.0.1:20000";

/// The synthetic clock's origin: one real `Instant`, read once.
#[allow(clippy::disallowed_methods)]
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Installs the aws-lc-rs provider as the process default (once).
pub fn init() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        str0m::crypto::from_feature_flags().install_process_default();
        base();
    });
}

trait Watch {
    fn a(&mut self, _e: Event) -> Result<(), String> {
        Ok(())
    }
    fn b(&mut self, _e: Event) -> Result<(), String> {
        Ok(())
    }
}

/// Drains `rtc` until `Output::Timeout`: datagrams into `out`, events to `w`.
/// Returns the next deadline and whether anything came out.
fn drain<W: Watch>(
    rtc: &mut Rtc,
    out: &mut VecDeque<Transmit>,
    w: &mut W,
    side_a: bool,
) -> Result<(Instant, bool), String> {
    let mut moved = false;
    loop {
        match rtc
            .poll_output()
            .map_err(|e| format!("str0m: poll_output: {e}"))?
        {
            Output::Timeout(t) => return Ok((t, moved)),
            Output::Transmit(t) => {
                out.push_back(t);
                moved = true;
            }
            Output::Event(e) => {
                if side_a {
                    w.a(e)?
                } else {
                    w.b(e)?
                }
                moved = true;
            }
        }
    }
}

pub struct Pair {
    a: Rtc,
    b: Rtc,
    /// Virtual time since `base()`.
    now: Duration,
    ta: Instant,
    tb: Instant,
    to_a: VecDeque<Transmit>,
    to_b: VecDeque<Transmit>,
    /// When the current phase (connecting, a transfer) started, and how much virtual
    /// time it may take before it is declared stuck.
    phase_start: Duration,
    phase_limit: Duration,
}

impl Pair {
    fn at(&self) -> Instant {
        base() + self.now
    }

    /// Drains A after a mutation of A.
    fn drain_a(&mut self, w: &mut impl Watch) -> Result<bool, String> {
        let (t, moved) = drain(&mut self.a, &mut self.to_b, w, true)?;
        self.ta = t;
        Ok(moved)
    }

    fn drain_b(&mut self, w: &mut impl Watch) -> Result<bool, String> {
        let (t, moved) = drain(&mut self.b, &mut self.to_a, w, false)?;
        self.tb = t;
        Ok(moved)
    }

    /// Runs due timers and delivers queued datagrams until nothing moves.
    fn pump(&mut self, w: &mut impl Watch) -> Result<bool, String> {
        let now = self.at();
        let mut any = false;
        loop {
            let mut moved = false;
            if self.ta <= now {
                self.a
                    .handle_input(Input::Timeout(now))
                    .map_err(|e| format!("str0m A: timeout: {e}"))?;
                moved |= self.drain_a(w)?;
            }
            if self.tb <= now {
                self.b
                    .handle_input(Input::Timeout(now))
                    .map_err(|e| format!("str0m B: timeout: {e}"))?;
                moved |= self.drain_b(w)?;
            }
            while let Some(t) = self.to_b.pop_front() {
                let r = Receive::new(t.proto, t.source, t.destination, &t.contents)
                    .map_err(|e| format!("str0m: datagram: {e}"))?;
                self.b
                    .handle_input(Input::Receive(now, r))
                    .map_err(|e| format!("str0m B: receive: {e}"))?;
                self.drain_b(w)?;
                moved = true;
            }
            while let Some(t) = self.to_a.pop_front() {
                let r = Receive::new(t.proto, t.source, t.destination, &t.contents)
                    .map_err(|e| format!("str0m: datagram: {e}"))?;
                self.a
                    .handle_input(Input::Receive(now, r))
                    .map_err(|e| format!("str0m A: receive: {e}"))?;
                self.drain_a(w)?;
                moved = true;
            }
            if !moved {
                break;
            }
            any = true;
        }
        Ok(any)
    }

    /// Nothing moves: jump to the earliest deadline (at least 1 ms on).
    fn advance(&mut self) -> Result<(), String> {
        let next = self.ta.min(self.tb);
        let now = self.at();
        self.now = if next > now {
            next - base()
        } else {
            self.now + Duration::from_millis(1)
        };
        if self.now.saturating_sub(self.phase_start) > self.phase_limit {
            return Err(format!(
                "str0m: not done after {:?} of virtual time",
                self.phase_limit
            ));
        }
        Ok(())
    }

    fn run_until<W: Watch>(&mut self, w: &mut W, done: impl Fn(&W) -> bool) -> Result<(), String> {
        while !done(w) {
            if !self.pump(w)? && !done(w) {
                self.advance()?;
            }
        }
        Ok(())
    }

    fn idle(&mut self, d: Duration) -> Result<(), String> {
        struct Nothing;
        impl Watch for Nothing {}
        let until = self.now + d;
        loop {
            self.pump(&mut Nothing)?;
            let next = self.ta.min(self.tb);
            if next > base() + until {
                break;
            }
            let next = next - base();
            self.now = if next > self.now {
                next
            } else {
                self.now + Duration::from_millis(1)
            };
        }
        self.now = until;
        Ok(())
    }
}

/// Certificates made once, one per side, for `Certs::Reused`.
pub struct SharedCerts([DtlsCert; 2]);

impl SharedCerts {
    pub fn new() -> SharedCerts {
        init();
        let p = str0m::crypto::from_feature_flags();
        SharedCerts(std::array::from_fn(|_| {
            p.dtls_provider
                .generate_certificate()
                .expect("str0m certificate")
        }))
    }
}

fn rtc(
    cert: Option<&DtlsCert>,
    addr: &str,
    rtp_mode: bool,
    send_buffer: Option<usize>,
    now: Instant,
) -> Result<Rtc, String> {
    let mut cfg: RtcConfig = Rtc::builder();
    if let Some(b) = send_buffer {
        cfg = cfg.set_sctp_max_buffered_amount(b);
    }
    if let Some(c) = cert {
        cfg = cfg.set_dtls_cert(c.clone());
    }
    if rtp_mode {
        // As for sansrtc: room for a 1200-byte payload in a datagram.
        cfg = cfg.set_rtp_mode(true).set_mtu(1400..=1500);
    }
    let mut r = cfg.build(now);
    let addr: SocketAddr = addr.parse().unwrap();
    r.add_local_candidate(
        Candidate::host(addr, "udp").map_err(|e| format!("str0m: candidate: {e}"))?,
    )
    .ok_or("str0m: candidate refused")?;
    Ok(r)
}

pub struct Connected {
    pair: Pair,
    chan: Option<(ChannelId, ChannelId)>,
    video: Option<(Mid, Pt)>,
}

#[derive(Default)]
struct SetupWatch {
    a_open: Option<ChannelId>,
    b_open: Option<ChannelId>,
    a_up: bool,
    b_up: bool,
}

impl Watch for SetupWatch {
    fn a(&mut self, e: Event) -> Result<(), String> {
        match e {
            Event::ChannelOpen(id, _) => self.a_open = Some(id),
            Event::Connected => self.a_up = true,
            Event::Closed => return Err("str0m A closed".into()),
            _ => {}
        }
        Ok(())
    }
    fn b(&mut self, e: Event) -> Result<(), String> {
        match e {
            Event::ChannelOpen(id, _) => self.b_open = Some(id),
            Event::Connected => self.b_up = true,
            Event::Closed => return Err("str0m B closed".into()),
            _ => {}
        }
        Ok(())
    }
}

fn connect(
    certs: Option<&SharedCerts>,
    video: bool,
    send_buffer: Option<usize>,
) -> Result<Connected, String> {
    init();
    let now = Duration::ZERO;
    let t0 = base() + now;
    let mut a = rtc(certs.map(|c| &c.0[0]), A_ADDR, video, send_buffer, t0)?;
    let mut b = rtc(certs.map(|c| &c.0[1]), B_ADDR, video, send_buffer, t0)?;
    let mut change = a.sdp_api();
    let mut created = None;
    let mut mid = None;
    if video {
        mid = Some(change.add_media(MediaKind::Video, Direction::SendRecv, None, None, None));
    } else {
        created = Some(change.add_channel("bench".into()));
    }
    let (offer, pending) = change.apply().ok_or("str0m: no offer")?;
    // Through SDP text, as a signalling channel would carry it.
    let offer_text = offer.to_sdp_string();
    let offer = SdpOffer::from_sdp_string(&offer_text).map_err(|e| format!("str0m: offer: {e}"))?;
    let answer = b
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| format!("str0m: accept_offer: {e}"))?;
    let answer_text = answer.to_sdp_string();
    let answer =
        SdpAnswer::from_sdp_string(&answer_text).map_err(|e| format!("str0m: answer: {e}"))?;
    a.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| format!("str0m: accept_answer: {e}"))?;
    let mut pair = Pair {
        a,
        b,
        now,
        ta: t0,
        tb: t0,
        to_a: VecDeque::new(),
        to_b: VecDeque::new(),
        phase_start: now,
        phase_limit: Duration::from_millis(STALL_LIMIT_MS),
    };
    let mut w = SetupWatch::default();
    pair.drain_a(&mut w)?;
    pair.drain_b(&mut w)?;
    if video {
        pair.run_until(&mut w, |w| w.a_up && w.b_up)?;
    } else {
        pair.run_until(&mut w, |w| w.a_open.is_some() && w.b_open.is_some())?;
        if w.a_open != created {
            return Err(format!(
                "str0m: A opened {:?}, created {created:?}",
                w.a_open
            ));
        }
    }
    let video = match mid {
        Some(mid) => {
            let pt = pair
                .a
                .codec_config()
                .iter()
                .find(|p| p.spec().codec == Codec::Vp8)
                .map(|p| p.pt())
                .ok_or("str0m: no VP8")?;
            let remote = pair.a.media(mid).ok_or("str0m: media gone")?.remote_pts();
            if !remote.contains(&pt) {
                return Err(format!("str0m: VP8 ({pt}) not negotiated: {remote:?}"));
            }
            Some((mid, pt))
        }
        None => None,
    };
    Ok(Connected {
        pair,
        chan: created.zip(w.b_open),
        video,
    })
}

#[inline(never)]
pub fn run_setup(n: usize, certs: Certs) -> Result<SetupResult, String> {
    init();
    let shared = (certs == Certs::Reused).then(SharedCerts::new);
    let mut cpu = 0u64;
    let mut wall = 0f64;
    let mut allocs = 0u64;
    // One untimed connection first, as for sansrtc.
    drop(black_box(connect(shared.as_ref(), false, None)?));
    for _ in 0..n {
        let span = Span::start();
        let c = setup_one(shared.as_ref())?;
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
fn setup_one(certs: Option<&SharedCerts>) -> Result<Connected, String> {
    connect(certs, false, None)
}

struct DcWatch<'a> {
    data: &'a DcData,
    chan: ChannelId,
    got: usize,
    bytes: u64,
}

impl Watch for DcWatch<'_> {
    fn b(&mut self, e: Event) -> Result<(), String> {
        match e {
            Event::ChannelData(d) => {
                if d.id != self.chan {
                    return Err(format!("str0m: data on {:?}", d.id));
                }
                self.data.check(self.got, d.binary, &d.data)?;
                self.got += 1;
                self.bytes += d.data.len() as u64;
            }
            Event::Closed => return Err("str0m B closed".into()),
            _ => {}
        }
        Ok(())
    }
    fn a(&mut self, e: Event) -> Result<(), String> {
        if let Event::Closed = e {
            return Err("str0m A closed".into());
        }
        Ok(())
    }
}

pub fn run_dc(bytes: usize, data: &DcData, send_buffer: Option<usize>) -> Result<DcResult, String> {
    let certs = SharedCerts::new();
    let c = connect(Some(&certs), false, send_buffer)?;
    let (ca, cb) = c.chan.ok_or("str0m: no channel")?;
    let mut pair = c.pair;
    let n = bytes / MSG;
    let start = pair.now;
    pair.phase_start = pair.now;
    pair.phase_limit = Duration::from_millis(STALL_LIMIT_MS);
    let span = Span::start();
    let w = dc_transfer(&mut pair, data, ca, cb, n)?;
    let spent = span.stop();
    if w.got != n || w.bytes != (n * MSG) as u64 {
        return Err(format!(
            "str0m: {} messages, {} bytes received",
            w.got, w.bytes
        ));
    }
    Ok(DcResult {
        bytes: w.bytes,
        msgs: w.got,
        spent,
        virtual_s: (pair.now - start).as_secs_f64(),
    })
}

#[inline(never)]
fn dc_transfer<'a>(
    pair: &mut Pair,
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
    };
    let mut sent = 0;
    while w.got < n {
        while sent < n {
            let mut ch = pair.a.channel(ca).ok_or("str0m: channel gone")?;
            let accepted = ch
                .write(true, data.msg(sent))
                .map_err(|e| format!("str0m: write: {e}"))?;
            // A write is a mutation: drain before the next one.
            pair.drain_a(&mut w)?;
            if !accepted {
                break;
            }
            sent += 1;
        }
        if !pair.pump(&mut w)? && w.got < n {
            pair.advance()?;
        }
    }
    Ok(w)
}

struct MediaWatch {
    pt: Pt,
    got: usize,
}

impl Watch for MediaWatch {
    fn b(&mut self, e: Event) -> Result<(), String> {
        match e {
            Event::RtpPacket(p) => {
                if p.header.payload_type != self.pt {
                    return Err(format!("str0m: payload type {}", p.header.payload_type));
                }
                check_rtp(self.got, p.header.sequence_number, &p.payload)?;
                self.got += 1;
            }
            Event::Closed => return Err("str0m B closed".into()),
            _ => {}
        }
        Ok(())
    }
    fn a(&mut self, e: Event) -> Result<(), String> {
        if let Event::Closed = e {
            return Err("str0m A closed".into());
        }
        Ok(())
    }
}

pub fn run_media(n: usize) -> Result<MediaResult, String> {
    let certs = SharedCerts::new();
    let c = connect(Some(&certs), true, None)?;
    let (mid, pt) = c.video.ok_or("str0m: no video")?;
    let mut pair = c.pair;
    let start = pair.now;
    pair.phase_start = pair.now;
    pair.phase_limit = Duration::from_millis(STALL_LIMIT_MS)
        + Duration::from_micros((n / MEDIA_BATCH + 1) as u64 * MEDIA_BATCH_US);
    let span = Span::start();
    let got = media_transfer(&mut pair, mid, pt, n)?;
    let spent = span.stop();
    if got != n {
        return Err(format!("str0m: {got} of {n} RTP packets received"));
    }
    Ok(MediaResult {
        packets: got,
        spent,
        virtual_s: (pair.now - start).as_secs_f64(),
    })
}

#[inline(never)]
fn media_transfer(pair: &mut Pair, mid: Mid, pt: Pt, n: usize) -> Result<usize, String> {
    let mut w = MediaWatch { pt, got: 0 };
    let mut payload = rtp_payload();
    let mut written = 0;
    while w.got < n {
        if written < n {
            let end = (written + MEDIA_BATCH).min(n);
            while written < end {
                stamp_rtp(&mut payload, written);
                let frame = written / FRAME_PACKETS;
                let wallclock = pair.at();
                let mut api = pair.a.direct_api();
                let tx = api
                    .stream_tx_by_mid(mid, None)
                    .ok_or("str0m: no send stream")?;
                // Nackable: kept for retransmission, as sansrtc keeps video packets.
                let p = RtpWrite::new(
                    pt,
                    SeqNo::from(written as u64),
                    (frame as u32).wrapping_mul(3000),
                    wallclock,
                    &payload[..],
                )
                .marker(written % FRAME_PACKETS == FRAME_PACKETS - 1)
                .nackable(true);
                tx.write_rtp(p);
                pair.drain_a(&mut w)?;
                written += 1;
            }
            pair.now += Duration::from_micros(MEDIA_BATCH_US);
        }
        let moved = pair.pump(&mut w)?;
        if !moved && written == n && w.got < n {
            pair.advance()?;
        }
    }
    Ok(w.got)
}

pub fn run_memory(n: usize, certs: Certs) -> Result<MemResult, String> {
    init();
    let shared = (certs == Certs::Reused).then(SharedCerts::new);
    trim();
    let before = Mem::now();
    let mut kept: Vec<(Rtc, Rtc)> = Vec::with_capacity(n);
    let cpu0 = thread_cpu_ns();
    for _ in 0..n {
        let mut c = connect(shared.as_ref(), false, None)?;
        c.pair.idle(Duration::from_millis(MEMORY_IDLE_MS))?;
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
