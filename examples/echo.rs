//! A WHIP-style echo server: data channel messages and audio/video come back.
//!
//! ```text
//! cargo run --example echo -- [--http 127.0.0.1:8080] [--udp 127.0.0.1:0] [--frames]
//! ```
//!
//! - `POST /whip` with `Content-Type: application/sdp` takes an SDP offer and answers
//!   `201 Created` with the SDP answer (RFC 9725 convention). The answer carries one host
//!   candidate: the UDP socket's address.
//! - Every data channel message is sent back on its channel, as string or binary as it
//!   came.
//! - Every audio and video m-line is answered sendrecv (or sendonly to a recvonly offer)
//!   and the first stream received on it is forwarded back at the RTP level, as an SFU
//!   would; the peer's keyframe requests are passed on to the peer as the source. With
//!   `--frames`, media is instead received as whole frames (depacketized) and sent back
//!   with `write_frame` (packetized again, with our own sequence numbers).
//! - `GET /` serves a page that connects from a browser and shows the echo.
//!
//! One blocking loop owns the UDP socket and every connection (any number at once); the
//! HTTP server runs on its own thread and hands offers to the loop.
#![allow(clippy::disallowed_methods)] // a host: it owns the clock

#[path = "common/host.rs"]
mod host;

use std::sync::mpsc;
use std::time::Duration;

use std::collections::{HashMap, VecDeque};

use sansrtc::datachannel::DataChannelError;
use sansrtc::rtc::{ChannelId, MediaId, Rtc, RtcConfig, RtcError, RtcEvent, RtpWrite};
use sansrtc::sctp::SctpError;

const PAGE: &str = include_str!("common/echo.html");

/// Messages to echo, oldest first: (binary, payload).
type Echoes = VecDeque<(bool, Vec<u8>)>;

struct Offer {
    sdp: String,
    answer: mpsc::Sender<Result<String, String>>,
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let http_addr = arg(&args, "--http", "127.0.0.1:8080");
    let udp_addr = arg(&args, "--udp", "127.0.0.1:0");
    let mut host = host::Host::bind(&udp_addr)?;
    let server = tiny_http::Server::http(&http_addr).map_err(std::io::Error::other)?;
    let http_port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .unwrap_or_default();
    println!(
        "sansrtc echo: UDP {}, HTTP http://{http_addr}",
        host.local_addr()
    );
    println!("open http://127.0.0.1:{http_port}/ in a browser, or POST an SDP offer to /whip");
    // Machine-readable for scripts and tests.
    println!("LISTENING {http_port}");

    let (tx, rx) = mpsc::channel::<Offer>();
    std::thread::spawn(move || serve_http(server, tx));

    // Forwarded RTP keeps the sender's packet size (Chromium sends video packets of up to
    // 1,200 bytes before SRTP, aiortc up to 1,300): `MediaConfig::max_rtp_size` (1,436 by
    // default) takes both.
    let mut config = RtcConfig::default();
    let frames = args.iter().any(|a| a == "--frames");
    config.media.frames = frames;
    let mut opened = 0u64;
    // Echoes waiting for send buffer room, per connection and channel. A peer that sends
    // faster than it reads its echoes fills this; the peer's own buffered amount keeps it
    // in bounds for well-behaved peers (the interop workload keeps under 1 MiB).
    let mut pending: HashMap<(usize, ChannelId), Echoes> = HashMap::new();
    // The incoming SSRC forwarded per connection and m-line.
    let mut forwarded: HashMap<(usize, MediaId), u32> = HashMap::new();
    let debug = std::env::var_os("SANSRTC_DEBUG").is_some();
    // `SANSRTC_CAPTURE=<dir>`: offers, answers and decrypted RTP kept as fuzz seeds (the
    // host keeps the datagrams).
    let mut capture = host::Capture::from_env();
    let mut last_dump = std::time::Instant::now();
    loop {
        if debug && last_dump.elapsed() > Duration::from_secs(3) {
            last_dump = std::time::Instant::now();
            for i in 0..64 {
                if let Some(r) = host.rtc(i) {
                    let st = r.stats();
                    eprintln!(
                        "[{i}] {:?}\n[{i}] media dropped {} unrouted {}, datagrams in {:?}",
                        st.sctp, st.media_dropped, st.media_unrouted, st.datagrams_in
                    );
                    for id in r.media_ids() {
                        eprintln!("[{i}] {id:?} {:?}", r.media_stats(id));
                    }
                }
            }
        }
        while let Ok(offer) = rx.try_recv() {
            let now = host.now();
            let result = Rtc::new(config.clone(), now)
                .map_err(|e| e.to_string())
                .and_then(|rtc| {
                    let i = host.add(rtc);
                    host.rtc(i)
                        .ok_or_else(|| "connection gone".to_string())?
                        .accept_offer(now, &offer.sdp)
                        .map_err(|e| e.to_string())
                });
            if let Some(c) = capture.as_mut() {
                c.sdp(&offer.sdp);
                if let Ok(answer) = &result {
                    c.sdp(answer);
                }
            }
            let _ = offer.answer.send(result);
        }
        host.turn(Duration::from_millis(20), &mut |i, rtc, now, e| match e {
            RtcEvent::ChannelOpen { id, label, .. } => {
                opened += 1;
                let zero = rtc.stats().sctp.zero_checksum;
                println!(
                    "[{i}] channel {id:?} {label:?} open ({opened} so far; SCTP zero checksums: {zero})"
                );
            }
            RtcEvent::ChannelData { id, binary, data } => {
                // Echo in order: behind what is already waiting for room.
                let queue = pending.entry((i, id)).or_default();
                queue.push_back((binary, data));
                flush(rtc, id, queue);
            }
            RtcEvent::ChannelBufferedAmountLow(id) => {
                if let Some(q) = pending.get_mut(&(i, id)) {
                    flush(rtc, id, q);
                }
            }
            RtcEvent::ChannelClose(id) => {
                pending.remove(&(i, id));
            }
            RtcEvent::MediaAdded {
                id,
                mid,
                kind,
                direction,
            } => {
                println!("[{i}] {kind:?} m-line {mid} ({direction:?}): echoing it");
                let _ = id;
            }
            RtcEvent::MediaRtp(p) => {
                if let Some(c) = capture.as_mut() {
                    c.rtp(&p.raw);
                }
                // An SFU-style forward: the first incoming stream of each m-line goes back
                // on our stream of the same m-line, with its own sequence numbers, so the
                // peer's NACKs and jitter buffer see the gaps we saw.
                let first = forwarded.entry((i, p.media)).or_insert(p.ssrc);
                if *first == p.ssrc
                    && let Some(mut m) = rtc.media(p.media)
                {
                    let mut w = RtpWrite::new(p.payload_type, p.timestamp, p.marker, p.payload());
                    w.sequence_number = Some(p.sequence_number as u16);
                    w.audio_level = p.audio_level;
                    if let Err(e) = m.write_rtp(now, w)
                        && debug
                    {
                        eprintln!(
                            "[{i}] forward of {:?} seq {} ({} bytes, payload {}): {e}",
                            p.codec,
                            p.sequence_number,
                            p.raw.len(),
                            p.payload().len()
                        );
                    }
                }
            }
            RtcEvent::MediaFrame(f) => {
                // Frame mode: the first incoming stream of each m-line, packetized again.
                let first = forwarded.entry((i, f.media)).or_insert(f.ssrc);
                if *first == f.ssrc
                    && let Some(mut m) = rtc.media(f.media)
                    && let Err(e) = m.write_frame(now, f.payload_type, f.timestamp, &f.data)
                    && debug
                {
                    eprintln!(
                        "[{i}] forward of {:?} frame ts {} ({} bytes, keyframe {}): {e}",
                        f.codec,
                        f.timestamp,
                        f.data.len(),
                        f.keyframe
                    );
                }
            }
            RtcEvent::KeyframeRequest { media, kind } => {
                // The peer lost a picture of what we forward: ask the source (the peer
                // itself) for a keyframe.
                if let Some(mut m) = rtc.media(media) {
                    let _ = m.request_keyframe(kind, None);
                }
            }
            RtcEvent::StateChange(s) => println!("[{i}] {s:?}"),
            RtcEvent::Closed { reason } => {
                if debug {
                    for id in rtc.media_ids() {
                        let kind = rtc.media(id).map(|m| m.kind());
                        eprintln!("[{i}] at close: {kind:?} {:?}", rtc.media_stats(id));
                    }
                }
                pending.retain(|(c, _), _| *c != i);
                forwarded.retain(|(c, _), _| *c != i);
                println!("[{i}] closed: {reason:?}");
            }
            _ => {}
        })?;
        // Room may have opened without an event (acknowledgements): retry what waits.
        pending.retain(|(i, id), q| {
            if let Some(rtc) = host.rtc(*i) {
                flush(rtc, *id, q);
            }
            !q.is_empty()
        });
    }
}

/// Echo messages waiting for send buffer room, oldest first, until the buffer is full.
fn flush(rtc: &mut Rtc, id: ChannelId, queue: &mut Echoes) {
    let Some(mut ch) = rtc.channel(id) else {
        queue.clear();
        return;
    };
    while let Some((binary, data)) = queue.front() {
        let r = if *binary {
            ch.send_binary(data)
        } else {
            // A string came in; the same bytes go back as a string.
            ch.send_text(&String::from_utf8_lossy(data))
        };
        match r {
            Ok(()) => {
                queue.pop_front();
            }
            Err(RtcError::DataChannel(DataChannelError::Sctp(SctpError::BufferFull))) => return,
            Err(e) => {
                eprintln!("echo failed: {e}");
                queue.clear();
                return;
            }
        }
    }
}

fn serve_http(server: tiny_http::Server, offers: mpsc::Sender<Offer>) {
    for mut req in server.incoming_requests() {
        let path = req.url().to_string();
        let method = req.method().clone();
        let response = match (method, path.as_str()) {
            (tiny_http::Method::Get, "/") => tiny_http::Response::from_string(PAGE)
                .with_header(header("Content-Type", "text/html; charset=utf-8")),
            (tiny_http::Method::Post, "/whip") => {
                let mut sdp = String::new();
                if std::io::Read::read_to_string(&mut req.as_reader(), &mut sdp).is_err() {
                    let _ = req.respond(
                        tiny_http::Response::from_string("bad body").with_status_code(400),
                    );
                    continue;
                }
                let (tx, rx) = mpsc::channel();
                let _ = offers.send(Offer { sdp, answer: tx });
                match rx.recv_timeout(Duration::from_secs(5)) {
                    Ok(Ok(answer)) => tiny_http::Response::from_string(answer)
                        .with_status_code(201)
                        .with_header(header("Content-Type", "application/sdp"))
                        .with_header(header("Location", "/whip/session")),
                    Ok(Err(e)) => tiny_http::Response::from_string(e).with_status_code(400),
                    Err(_) => tiny_http::Response::from_string("timeout").with_status_code(503),
                }
            }
            _ => tiny_http::Response::from_string("not found").with_status_code(404),
        };
        let _ = req.respond(response);
    }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap_or_else(|_| {
        tiny_http::Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).expect("static header")
    })
}
