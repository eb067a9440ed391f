//! The other direction: sansrtc offers to a WHIP-style endpoint (such as the `echo`
//! example, aiortc or a browser page behind one), and checks the echo.
//!
//! ```text
//! cargo run --example offer -- http://127.0.0.1:8080/whip
//! ```
//!
//! The workload, which the answerer must echo (same channel, same message type):
//! 1. a data channel `echo` (ordered, reliable) opens; the time from offer to open is
//!    measured;
//! 2. 1,000 messages of mixed sizes from 0 to 65,536 bytes, every third one a string,
//!    the rest binary, each with content derived from its index, are sent and every echo
//!    is compared with what was sent, in order;
//! 3. 16 MiB of binary data in 64 KiB messages, with backpressure, is sent; the SHA-256
//!    of the echoed bytes must equal that of the sent bytes; the round trip rate is
//!    measured;
//! 4. the channel is closed, then the connection.
//!
//! The last line printed is JSON: `{"peer":"sansrtc","role":"offer","open_ms":..,
//! "msgs_ok":1000,"bulk_mb_per_s":..,"ok":true}`. The exit status is 0 only if every
//! check held.
//!
//! Video mode, instead of the data channel workload:
//!
//! ```text
//! cargo run --example offer -- http://127.0.0.1:8080/whip --video-ivf clip.ivf
//! ```
//!
//! offers one send-only video m-line with only the IVF file's codec (VP8, VP9 or AV1)
//! and its RTX, and once connected sends the file's frames with `write_frame` at their
//! pace (RTP clock 90 kHz, from the IVF time base). After the last frame it waits 1.5 s
//! (the answerer's reports and NACKs), then `DELETE`s the session the answer's
//! `Location` named, and prints one JSON line: what it sent, the feedback it got, and
//! the answerer's reply to the `DELETE` when that is JSON (the aiortc test peer reports
//! the frames it decoded there). `--srtp-profile aes128-gcm|aes256-gcm|aes128-cm-80|
//! aes128-cm-32` offers only that SRTP profile (to tell a key derivation problem from
//! another).
#![allow(clippy::disallowed_methods)] // a host: it owns the clock

#[path = "common/host.rs"]
mod host;

use std::time::{Duration, Instant as StdInstant};

use aws_lc_rs::digest;
use sansrtc::datachannel::ChannelConfig;
use sansrtc::dtls::SrtpProfile;
use sansrtc::rtc::{ChannelId, Rtc, RtcConfig, RtcEvent};

const MESSAGES: usize = 1000;
const BULK_MESSAGE: usize = 64 * 1024;
const BULK_TOTAL: usize = 16 * 1024 * 1024;
/// Keep at most this much queued on the channel.
const HIGH_WATER: usize = 1024 * 1024;

/// Size of message `i`: 0, 65,536, and a spread of small and medium sizes.
fn size(i: usize) -> usize {
    match i {
        0 => 0,
        i if i % 100 == 1 => 65536,
        i if i % 5 == 0 => (i * 7919) % 65537,
        i => (i * 37) % 1500,
    }
}

/// Message `i`: a string (every third) or binary, with content derived from `i`.
fn message(i: usize) -> (bool, Vec<u8>) {
    let n = size(i);
    if i.is_multiple_of(3) {
        let text: Vec<u8> = (0..n).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        (false, text)
    } else {
        let mut data: Vec<u8> = (0..n).map(|j| ((i * 131 + j * 31) % 251) as u8).collect();
        if let Some(head) = data.get_mut(..4) {
            head.copy_from_slice(&(i as u32).to_be_bytes());
        }
        (true, data)
    }
}

fn bulk_chunk(k: usize) -> Vec<u8> {
    let mut x = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..BULK_MESSAGE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Messages,
    Bulk,
    Closing,
    Done,
}

struct Driver {
    chan: ChannelId,
    phase: Phase,
    offered_at: StdInstant,
    open_ms: u128,
    sent: usize,
    echoed: usize,
    bulk_sent: usize,
    bulk_echoed: usize,
    bulk_started: Option<StdInstant>,
    bulk_secs: f64,
    sent_hash: digest::Context,
    echo_hash: digest::Context,
    error: Option<String>,
}

impl Driver {
    fn fail(&mut self, e: String) {
        if self.error.is_none() {
            eprintln!("failure: {e}");
            self.error = Some(e);
        }
        self.phase = Phase::Done;
    }

    /// Sends as much as the high-water mark allows.
    fn pump(&mut self, rtc: &mut Rtc) {
        let Some(mut ch) = rtc.channel(self.chan) else {
            return;
        };
        match self.phase {
            Phase::Messages => {
                while self.sent < MESSAGES && ch.buffered_amount() < HIGH_WATER {
                    let (binary, data) = message(self.sent);
                    let r = if binary {
                        ch.send_binary(&data)
                    } else {
                        ch.send_text(std::str::from_utf8(&data).unwrap_or_default())
                    };
                    if let Err(e) = r {
                        return self.fail(format!("send {}: {e}", self.sent));
                    }
                    self.sent += 1;
                }
            }
            Phase::Bulk => {
                while self.bulk_sent < BULK_TOTAL / BULK_MESSAGE
                    && ch.buffered_amount() < HIGH_WATER
                {
                    let data = bulk_chunk(self.bulk_sent);
                    self.sent_hash.update(&data);
                    if let Err(e) = ch.send_binary(&data) {
                        return self.fail(format!("bulk send: {e}"));
                    }
                    self.bulk_sent += 1;
                }
            }
            _ => {}
        }
    }

    fn on_event(&mut self, rtc: &mut Rtc, e: RtcEvent) {
        if std::env::var_os("SANSRTC_DEBUG").is_some() && !matches!(e, RtcEvent::ChannelData { .. })
        {
            eprintln!("event: {e:?}");
        }
        match e {
            RtcEvent::ChannelOpen { id, .. } if id == self.chan => {
                self.open_ms = self.offered_at.elapsed().as_millis();
                eprintln!(
                    "channel open after {} ms (SCTP zero checksums: {})",
                    self.open_ms,
                    rtc.stats().sctp.zero_checksum
                );
                self.phase = Phase::Messages;
                if let Some(mut ch) = rtc.channel(id) {
                    let _ = ch.set_buffered_amount_low_threshold(HIGH_WATER / 4);
                }
            }
            RtcEvent::ChannelData { id, binary, data } if id == self.chan => match self.phase {
                Phase::Messages => {
                    let (want_binary, want) = message(self.echoed);
                    if binary != want_binary || data != want {
                        return self.fail(format!(
                            "echo {} differs: {} bytes ({}) instead of {} ({})",
                            self.echoed,
                            data.len(),
                            if binary { "binary" } else { "string" },
                            want.len(),
                            if want_binary { "binary" } else { "string" }
                        ));
                    }
                    self.echoed += 1;
                    if self.echoed == MESSAGES {
                        eprintln!("{MESSAGES} messages echoed intact");
                        self.phase = Phase::Bulk;
                        self.bulk_started = Some(StdInstant::now());
                    }
                }
                Phase::Bulk => {
                    if !binary || data.len() != BULK_MESSAGE {
                        return self.fail(format!("bulk echo of {} bytes", data.len()));
                    }
                    self.echo_hash.update(&data);
                    self.bulk_echoed += 1;
                    if self.bulk_echoed == BULK_TOTAL / BULK_MESSAGE {
                        self.bulk_secs =
                            self.bulk_started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                        let sent = core::mem::replace(
                            &mut self.sent_hash,
                            digest::Context::new(&digest::SHA256),
                        )
                        .finish();
                        let echoed = core::mem::replace(
                            &mut self.echo_hash,
                            digest::Context::new(&digest::SHA256),
                        )
                        .finish();
                        if sent.as_ref() != echoed.as_ref() {
                            return self.fail("16 MiB checksum mismatch".into());
                        }
                        eprintln!("16 MiB echoed in {:.2} s, checksum equal", self.bulk_secs);
                        self.phase = Phase::Closing;
                        if let Some(mut ch) = rtc.channel(id) {
                            let _ = ch.close();
                        }
                    }
                }
                _ => self.fail("data after the workload".into()),
            },
            RtcEvent::ChannelClose(id) if id == self.chan => {
                if self.phase == Phase::Closing {
                    self.phase = Phase::Done;
                    rtc.close();
                } else {
                    self.fail(format!("channel closed early in {:?}", self.phase));
                }
            }
            RtcEvent::Closed { reason } if self.phase != Phase::Done => {
                self.fail(format!("connection closed: {reason:?}"));
            }
            _ => {}
        }
        self.pump(rtc);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/whip".into());
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut config = RtcConfig::default();
    if let Some(p) = flag("--srtp-profile") {
        let profile = match p.as_str() {
            "aes128-gcm" => SrtpProfile::AeadAes128Gcm,
            "aes256-gcm" => SrtpProfile::AeadAes256Gcm,
            "aes128-cm-80" => SrtpProfile::Aes128CmHmacSha1_80,
            "aes128-cm-32" => SrtpProfile::Aes128CmHmacSha1_32,
            _ => {
                eprintln!("unknown SRTP profile {p}");
                std::process::exit(2);
            }
        };
        config.dtls.srtp_profiles = vec![profile];
    }
    if let Some(ivf) = flag("--video-ivf") {
        std::process::exit(video::main(&url, &ivf, config));
    }
    let code = match run(&url) {
        Ok(d) if d.error.is_none() => {
            let mbps = (BULK_TOTAL as f64 / 1e6) / d.bulk_secs.max(1e-9);
            println!(
                "{{\"peer\":\"sansrtc\",\"role\":\"offer\",\"open_ms\":{},\"msgs_ok\":{},\"bulk_mb_per_s\":{mbps:.1},\"ok\":true}}",
                d.open_ms, d.echoed
            );
            0
        }
        Ok(d) => {
            let e = d.error.unwrap_or_default().replace('"', "'");
            println!("{{\"peer\":\"sansrtc\",\"role\":\"offer\",\"ok\":false,\"error\":\"{e}\"}}");
            1
        }
        Err(e) => {
            let e = e.replace('"', "'");
            println!("{{\"peer\":\"sansrtc\",\"role\":\"offer\",\"ok\":false,\"error\":\"{e}\"}}");
            1
        }
    };
    std::process::exit(code);
}

fn run(url: &str) -> Result<Driver, String> {
    let mut host = host::Host::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let now = host.now();
    let rtc = Rtc::new(RtcConfig::default(), now).map_err(|e| e.to_string())?;
    let i = host.add(rtc);
    let rtc = host.rtc(i).ok_or("no connection")?;
    let chan = rtc
        .create_data_channel(ChannelConfig {
            label: "echo".into(),
            ..ChannelConfig::default()
        })
        .map_err(|e| e.to_string())?;
    let offered_at = StdInstant::now();
    let offer = rtc.create_offer(now).map_err(|e| e.to_string())?;
    let answer = ureq::post(url)
        .content_type("application/sdp")
        .send(&offer)
        .map_err(|e| format!("POST {url}: {e}"))?
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("reading the answer: {e}"))?;
    if let Some(mut c) = host::Capture::from_env() {
        c.sdp(&offer);
        c.sdp(&answer);
    }
    let now = host.now();
    host.rtc(i)
        .ok_or("no connection")?
        .accept_answer(now, &answer)
        .map_err(|e| format!("the answer: {e}"))?;
    let mut d = Driver {
        chan,
        phase: Phase::Connecting,
        offered_at,
        open_ms: 0,
        sent: 0,
        echoed: 0,
        bulk_sent: 0,
        bulk_echoed: 0,
        bulk_started: None,
        bulk_secs: 0.0,
        sent_hash: digest::Context::new(&digest::SHA256),
        echo_hash: digest::Context::new(&digest::SHA256),
        error: None,
    };
    let secs = std::env::var("SANSRTC_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let deadline = StdInstant::now() + Duration::from_secs(secs);
    while d.phase != Phase::Done || host.rtc(i).is_some() {
        if StdInstant::now() > deadline {
            if std::env::var_os("SANSRTC_DEBUG").is_some()
                && let Some(r) = host.rtc(i)
            {
                eprintln!("stats: {:#?}", r.stats());
            }
            d.fail(format!("timed out in {:?}", d.phase));
            break;
        }
        host.turn(Duration::from_millis(50), &mut |_, rtc, _, e| {
            d.on_event(rtc, e)
        })
        .map_err(|e| e.to_string())?;
        if d.phase == Phase::Done && d.error.is_some() {
            break;
        }
    }
    Ok(d)
}

/// Video mode: an IVF file's frames to the answerer, at their pace.
mod video {
    use std::time::{Duration, Instant as StdInstant};

    use sansrtc::jsep::{Direction, MediaKind};
    use sansrtc::rtc::{Rtc, RtcConfig, RtcEvent, RtcState};

    use super::host;

    /// After the last frame, how long reports, NACKs and retransmissions go on.
    const LINGER: Duration = Duration::from_millis(1500);
    /// From the offer to connected, at most.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
    /// Each HTTP exchange (the POST of the offer, the DELETE), at most.
    const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

    /// An IVF file (a 32-byte header, then per frame a 12-byte header, size u32 LE and
    /// pts u64 LE, and the frame).
    pub struct Ivf {
        pub fourcc: [u8; 4],
        pub width: u16,
        pub height: u16,
        /// Seconds per pts unit: `num / den`.
        pub num: u32,
        pub den: u32,
        pub frames: Vec<(u64, Vec<u8>)>,
    }

    fn le16(b: &[u8], at: usize) -> u16 {
        b.get(at..at + 2)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u16::from_le_bytes)
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    pub fn read_ivf(path: &str) -> Result<Ivf, String> {
        let b = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        if b.get(..4) != Some(b"DKIF") {
            return Err(format!("{path}: not an IVF file"));
        }
        let header_len = usize::from(le16(&b, 6)).max(32);
        let mut fourcc = [0u8; 4];
        fourcc.copy_from_slice(b.get(8..12).ok_or("short IVF header")?);
        let (den, num) = (le32(&b, 16), le32(&b, 20));
        if den == 0 || num == 0 {
            return Err(format!("{path}: IVF time base {num}/{den}"));
        }
        let mut frames = Vec::new();
        let mut at = header_len;
        while at + 12 <= b.len() {
            let size = le32(&b, at) as usize;
            let pts = b
                .get(at + 4..at + 12)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u64::from_le_bytes);
            let data = b
                .get(at + 12..at + 12 + size)
                .ok_or_else(|| format!("{path}: frame {} truncated", frames.len()))?;
            frames.push((pts, data.to_vec()));
            at += 12 + size;
        }
        Ok(Ivf {
            fourcc,
            width: le16(&b, 12),
            height: le16(&b, 14),
            num,
            den,
            frames,
        })
    }

    fn codec_name(fourcc: &[u8; 4]) -> Option<&'static str> {
        match fourcc {
            b"VP80" => Some("VP8"),
            b"VP90" => Some("VP9"),
            b"AV01" => Some("AV1"),
            _ => None,
        }
    }

    #[derive(Default)]
    struct Report {
        codec: String,
        payload_type: u8,
        connect_ms: u128,
        frames_sent: usize,
        frame_errors: usize,
        first_error: Option<String>,
        send_secs: f64,
        keyframe_requests: u64,
        answerer: Option<String>,
        error: Option<String>,
        stats: Option<sansrtc::rtc::MediaStats>,
    }

    fn json_str(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "'"))
    }

    pub fn main(url: &str, path: &str, config: RtcConfig) -> i32 {
        let mut r = Report::default();
        let ivf = match read_ivf(path) {
            Ok(i) => i,
            Err(e) => {
                r.error = Some(e);
                return print(&r, 0);
            }
        };
        let total = ivf.frames.len();
        if let Err(e) = run(url, &ivf, config, &mut r) {
            r.error.get_or_insert(e);
        }
        print(&r, total)
    }

    fn print(r: &Report, total: usize) -> i32 {
        let ok = r.error.is_none() && r.frame_errors == 0 && r.frames_sent == total && total > 0;
        let mut j = format!(
            "{{\"peer\":\"sansrtc\",\"role\":\"offer\",\"mode\":\"video\",\"codec\":{},\"payload_type\":{},\"connect_ms\":{},\"frames\":{},\"frames_sent\":{},\"frame_errors\":{},\"send_secs\":{:.2},\"keyframe_requests\":{}",
            json_str(&r.codec),
            r.payload_type,
            r.connect_ms,
            total,
            r.frames_sent,
            r.frame_errors,
            r.send_secs,
            r.keyframe_requests
        );
        if let Some(s) = r.stats.as_ref().and_then(|s| s.send.as_ref()) {
            j += &format!(
                ",\"packets_sent\":{},\"bytes_sent\":{},\"nacks\":{},\"nacked\":{},\"retransmitted\":{},\"plis\":{},\"firs\":{},\"rtt_ms\":{},\"remote_lost\":{},\"remote_jitter\":{}",
                s.packets,
                s.bytes,
                s.nacks,
                s.nacked,
                s.retransmitted_packets,
                s.plis,
                s.firs,
                s.rtt.map_or("null".into(), |d| format!(
                    "{:.1}",
                    d.as_secs_f64() * 1000.0
                )),
                s.remote_cumulative_lost,
                s.remote_jitter
            );
        }
        if let Some(e) = &r.first_error {
            j += &format!(",\"first_frame_error\":{}", json_str(e));
        }
        if let Some(a) = r.answerer.as_deref().map(str::trim)
            && a.starts_with('{')
            && a.ends_with('}')
        {
            j += &format!(",\"answerer\":{a}");
        }
        j += &format!(",\"ok\":{ok}");
        if !ok {
            let e = r
                .error
                .clone()
                .or_else(|| r.first_error.clone())
                .unwrap_or_else(|| format!("{} of {total} frames sent", r.frames_sent));
            j += &format!(",\"error\":{}", json_str(&e));
        }
        j += "}";
        println!("{j}");
        if ok { 0 } else { 1 }
    }

    /// `http://host:port/whip` and `/session/1` → `http://host:port/session/1`.
    fn resolve(url: &str, location: &str) -> String {
        if location.contains("://") {
            return location.to_string();
        }
        let origin_end = url.match_indices('/').nth(2).map_or(url.len(), |(i, _)| i);
        format!("{}{}", url.get(..origin_end).unwrap_or(url), location)
    }

    fn run(url: &str, ivf: &Ivf, mut config: RtcConfig, r: &mut Report) -> Result<(), String> {
        let name = codec_name(&ivf.fourcc).ok_or_else(|| {
            format!(
                "IVF codec {:?} is not VP8, VP9 or AV1",
                String::from_utf8_lossy(&ivf.fourcc)
            )
        })?;
        r.codec = name.to_string();
        eprintln!(
            "{} frames of {name} {}x{}, {}/{} s per pts unit",
            ivf.frames.len(),
            ivf.width,
            ivf.height,
            ivf.num,
            ivf.den
        );
        // Offer only this codec (and the RTX of its payload types).
        let keep: Vec<u8> = config
            .media
            .video_codecs
            .iter()
            .filter(|c| c.is(name))
            .map(|c| c.payload_type)
            .collect();
        std::sync::Arc::make_mut(&mut config.media.video_codecs).retain(|c| {
            keep.contains(&c.payload_type)
                || (c.is("rtx")
                    && c.fmtp
                        .num("apt")
                        .is_some_and(|apt| keep.iter().any(|k| u64::from(*k) == apt)))
        });
        let mut host = host::Host::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let now = host.now();
        let rtc = Rtc::new(config, now).map_err(|e| e.to_string())?;
        let i = host.add(rtc);
        let rtc = host.rtc(i).ok_or("no connection")?;
        let media = rtc
            .add_media(MediaKind::Video, Direction::SendOnly)
            .map_err(|e| e.to_string())?;
        let offered_at = StdInstant::now();
        let offer = rtc.create_offer(now).map_err(|e| e.to_string())?;
        if std::env::var_os("SANSRTC_DEBUG").is_some() {
            eprintln!("offer:\n{offer}");
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        let mut resp = agent
            .post(url)
            .content_type("application/sdp")
            .send(&offer)
            .map_err(|e| format!("POST {url}: {e}"))?;
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let answer = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading the answer: {e}"))?;
        if std::env::var_os("SANSRTC_DEBUG").is_some() {
            eprintln!("answer:\n{answer}");
        }
        if let Some(mut c) = host::Capture::from_env() {
            c.sdp(&offer);
            c.sdp(&answer);
        }
        let now = host.now();
        let rtc = host.rtc(i).ok_or("no connection")?;
        rtc.accept_answer(now, &answer)
            .map_err(|e| format!("the answer: {e}"))?;
        let m = rtc.media(media).ok_or("no transceiver")?;
        if !m.direction().is_some_and(Direction::sends) {
            return Err(format!(
                "the answer leaves the video m-line {:?}",
                m.direction()
            ));
        }
        let pt = m
            .codecs()
            .iter()
            .find(|c| c.is(name))
            .map(|c| c.payload_type)
            .ok_or_else(|| format!("{name} was not negotiated"))?;
        r.payload_type = pt;
        eprintln!("{name} negotiated as payload type {pt}");

        let mut connected: Option<StdInstant> = None;
        let mut closed: Option<String> = None;
        let mut next = 0usize;
        let mut done_at: Option<StdInstant> = None;
        let pts0 = ivf.frames.first().map_or(0, |f| f.0);
        // RFC 3550 §5.1: a random first timestamp.
        let ts0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let at_of = |pts: u64| {
            Duration::from_secs_f64(
                (pts.saturating_sub(pts0)) as f64 * f64::from(ivf.num) / f64::from(ivf.den),
            )
        };
        let rtp_ts = |pts: u64| {
            let ticks = u128::from(pts.saturating_sub(pts0)) * 90_000 * u128::from(ivf.num)
                / u128::from(ivf.den);
            ts0.wrapping_add(ticks as u32)
        };
        let deadline = offered_at + CONNECT_TIMEOUT;
        loop {
            let wait = match (connected, done_at) {
                (_, Some(_)) | (None, _) => Duration::from_millis(50),
                (Some(t0), None) => ivf.frames.get(next).map_or(Duration::from_millis(50), |f| {
                    (t0 + at_of(f.0))
                        .saturating_duration_since(StdInstant::now())
                        .min(Duration::from_millis(50))
                }),
            };
            host.turn(wait, &mut |_, _, _, e| match e {
                RtcEvent::StateChange(RtcState::Connected) if connected.is_none() => {
                    connected = Some(StdInstant::now());
                }
                RtcEvent::KeyframeRequest { kind, .. } => {
                    r.keyframe_requests += 1;
                    eprintln!("keyframe request ({kind:?}) from the answerer");
                }
                RtcEvent::Closed { reason } => closed = Some(format!("{reason:?}")),
                _ => {}
            })
            .map_err(|e| e.to_string())?;
            if let Some(c) = &closed {
                return Err(format!("connection closed: {c}"));
            }
            let Some(t0) = connected else {
                if StdInstant::now() > deadline {
                    return Err(format!("not connected after {CONNECT_TIMEOUT:?}"));
                }
                continue;
            };
            if r.connect_ms == 0 {
                r.connect_ms = t0.duration_since(offered_at).as_millis();
                eprintln!("connected after {} ms", r.connect_ms);
            }
            // Every frame that is due.
            while let Some((pts, frame)) = ivf.frames.get(next) {
                if StdInstant::now() < t0 + at_of(*pts) {
                    break;
                }
                let now = host.now();
                let rtc = host.rtc(i).ok_or("connection gone")?;
                let mut m = rtc.media(media).ok_or("no transceiver")?;
                match m.write_frame(now, pt, rtp_ts(*pts), frame) {
                    Ok(()) => r.frames_sent += 1,
                    Err(e) => {
                        r.frame_errors += 1;
                        r.first_error
                            .get_or_insert_with(|| format!("frame {next}: {e}"));
                    }
                }
                next += 1;
                if next == ivf.frames.len() {
                    r.send_secs = t0.elapsed().as_secs_f64();
                    done_at = Some(StdInstant::now());
                    eprintln!("{} frames sent in {:.2} s", r.frames_sent, r.send_secs);
                }
            }
            if done_at.is_some_and(|t| t.elapsed() >= LINGER) {
                break;
            }
        }
        let rtc = host.rtc(i).ok_or("connection gone")?;
        r.stats = rtc.media_stats(media);
        // The answerer's account of the session, then goodbye.
        if let Some(loc) = location {
            let del = resolve(url, &loc);
            match agent.delete(&del).call() {
                Ok(mut resp) => r.answerer = resp.body_mut().read_to_string().ok(),
                Err(e) => eprintln!("DELETE {del}: {e}"),
            }
        }
        if let Some(rtc) = host.rtc(i) {
            rtc.close();
        }
        let _ = host.turn(Duration::from_millis(10), &mut |_, _, _, _| {});
        Ok(())
    }
}
