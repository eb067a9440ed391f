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
#![allow(clippy::disallowed_methods)] // a host: it owns the clock

#[path = "common/host.rs"]
mod host;

use std::time::{Duration, Instant as StdInstant};

use aws_lc_rs::digest;
use sansrtc::datachannel::ChannelConfig;
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
                eprintln!("channel open after {} ms", self.open_ms);
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
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/whip".into());
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
