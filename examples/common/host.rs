//! A blocking host loop for many peer connections on one UDP socket: the whole of what
//! a host owes sansrtc (sockets, the clock, routing, the drain rule), in one place.
#![allow(dead_code)] // each example uses part of it
#![allow(clippy::disallowed_methods)] // the host owns the clock

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use sansrtc::ice::Candidate;
use sansrtc::rtc::{Rtc, RtcEvent, route_by_ufrag};
use sansrtc::time::Clock;
use sansrtc::{Instant, Protocol, Receive};

/// Peer connections sharing one socket.
pub struct Host {
    socket: UdpSocket,
    local: SocketAddr,
    clock: Clock,
    conns: Vec<Option<Rtc>>,
    /// First contact by ICE ufrag, then by the peer's address (the 5-tuple: our side of
    /// it is always the one socket).
    by_ufrag: HashMap<String, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    buf: Vec<u8>,
    /// Test knob, `SANSRTC_DROP_RTP=N`: drop every Nth RTP datagram, in and out (RTCP
    /// and everything else pass), so that NACK and RTX have work on a lossless loopback.
    drop_rtp: Option<u64>,
    rtp_in: u64,
    rtp_out: u64,
    /// `SANSRTC_CAPTURE=<dir>`: every datagram received, kept as fuzz seeds ([`Capture`];
    /// the SDP and the decrypted RTP are the examples' part).
    capture: Option<Capture>,
}

/// Test knob, `SANSRTC_CAPTURE=<dir>`: real traffic written to files, to seed the fuzz
/// targets (`fuzz/seeds/`, see `docs/INTEROP.md`). Every datagram received becomes
/// `<dir>/<kind>-<n>.bin`, the kind by its RFC 7983 first byte (`stun`, `dtls`, `srtp`
/// for SRTP and SRTCP, `other`); the SDP offers and answers `sdp-<n>.txt`; the decrypted
/// RTP packets the host is given (`raw` of `RtcEvent::MediaRtp`) `rtp-<n>.bin`. Each kind
/// keeps its first 200 files, then one in 25, up to 300; existing files are never
/// overwritten (`n` goes on past them).
pub struct Capture {
    dir: std::path::PathBuf,
    /// Per kind: items seen, files written.
    counts: HashMap<&'static str, (u64, u64)>,
}

impl Capture {
    const ALL_UP_TO: u64 = 200;
    const THEN_ONE_IN: u64 = 25;
    const MAX_FILES: u64 = 300;

    /// From `SANSRTC_CAPTURE`, when set (the directory is created).
    pub fn from_env() -> Option<Capture> {
        let dir = std::path::PathBuf::from(std::env::var_os("SANSRTC_CAPTURE")?);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("SANSRTC_CAPTURE: cannot create {}: {e}", dir.display());
            return None;
        }
        Some(Capture {
            dir,
            counts: HashMap::new(),
        })
    }

    /// The RFC 7983 class of a datagram, as a file name prefix.
    pub fn kind(datagram: &[u8]) -> &'static str {
        match datagram.first() {
            Some(0..=3) => "stun",
            Some(20..=63) => "dtls",
            Some(128..=191) => "srtp",
            _ => "other",
        }
    }

    /// A received datagram.
    pub fn datagram(&mut self, data: &[u8]) {
        self.write(Self::kind(data), "bin", data);
    }

    /// An SDP offer or answer.
    pub fn sdp(&mut self, text: &str) {
        self.write("sdp", "txt", text.as_bytes());
    }

    /// A decrypted RTP packet.
    pub fn rtp(&mut self, packet: &[u8]) {
        self.write("rtp", "bin", packet);
    }

    fn write(&mut self, kind: &'static str, ext: &str, data: &[u8]) {
        let (seen, written) = self.counts.entry(kind).or_insert((0, 0));
        *seen += 1;
        let take = *seen <= Self::ALL_UP_TO || (*seen).is_multiple_of(Self::THEN_ONE_IN);
        if !take || *written >= Self::MAX_FILES {
            return;
        }
        for n in *written.. {
            let path = self.dir.join(format!("{kind}-{n}.{ext}"));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match file {
                Ok(mut f) => {
                    let _ = io::Write::write_all(&mut f, data);
                    *written = n + 1;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    eprintln!("SANSRTC_CAPTURE: {}: {e}", path.display());
                    *written = Self::MAX_FILES;
                    return;
                }
            }
        }
    }
}

/// An SRTP (not SRTCP) datagram: RFC 7983 first byte 128..=191, and RFC 5761 §4: an
/// RTCP packet type (192..=223 in the second byte) is not RTP.
fn is_rtp(d: &[u8]) -> bool {
    matches!(d, [128..=191, b, ..] if !(192..=223).contains(b))
}

impl Host {
    /// Binds the socket.
    pub fn bind(addr: &str) -> io::Result<Host> {
        let socket = UdpSocket::bind(addr)?;
        let local = socket.local_addr()?;
        Ok(Host {
            socket,
            local,
            clock: Clock::new(),
            conns: Vec::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            buf: vec![0u8; 65536],
            drop_rtp: std::env::var("SANSRTC_DROP_RTP")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 1),
            rtp_in: 0,
            rtp_out: 0,
            capture: Capture::from_env(),
        })
    }

    /// The socket's address: our one host candidate.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Now, on sansrtc's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Gives a connection its host candidate (this socket) and takes it in.
    pub fn add(&mut self, mut rtc: Rtc) -> usize {
        let _ = rtc.add_local_candidate(Candidate::host(self.local, Protocol::Udp));
        rtc.end_of_local_candidates();
        self.by_ufrag
            .insert(rtc.local_ufrag().to_string(), self.conns.len());
        self.conns.push(Some(rtc));
        self.conns.len() - 1
    }

    /// A connection.
    pub fn rtc(&mut self, i: usize) -> Option<&mut Rtc> {
        self.conns.get_mut(i).and_then(Option::as_mut)
    }

    /// Connections still open.
    pub fn open(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// Sends every datagram of every connection, and hands their events to `on_event`
    /// (which may send more: the loop repeats until all is quiet).
    fn drain(
        &mut self,
        on_event: &mut dyn FnMut(usize, &mut Rtc, Instant, RtcEvent),
    ) -> io::Result<()> {
        loop {
            let mut moved = false;
            let now = self.clock.now();
            for (i, slot) in self.conns.iter_mut().enumerate() {
                let Some(rtc) = slot else { continue };
                while let Some(t) = rtc.poll_transmit(now, &mut self.buf) {
                    moved = true;
                    if let Some(d) = self.buf.get(..t.size) {
                        if let Some(n) = self.drop_rtp
                            && is_rtp(d)
                        {
                            self.rtp_out += 1;
                            if self.rtp_out.is_multiple_of(n) {
                                continue;
                            }
                        }
                        // A full socket buffer drops the datagram, as the network may.
                        let _ = self.socket.send_to(d, t.destination);
                    }
                }
                let mut closed = false;
                while let Some(e) = rtc.poll_event() {
                    moved = true;
                    closed |= matches!(e, RtcEvent::Closed { .. });
                    on_event(i, rtc, now, e);
                }
                if closed {
                    // Flush what the close left (ABORT, close_notify), then forget it.
                    while let Some(t) = rtc.poll_transmit(now, &mut self.buf) {
                        if let Some(d) = self.buf.get(..t.size) {
                            let _ = self.socket.send_to(d, t.destination);
                        }
                    }
                    *slot = None;
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// One turn of the loop: drain, wait for a datagram (at most `max_wait`, at most until
    /// the earliest deadline), hand it in, run due timers, drain again.
    pub fn turn(
        &mut self,
        max_wait: Duration,
        on_event: &mut dyn FnMut(usize, &mut Rtc, Instant, RtcEvent),
    ) -> io::Result<()> {
        self.drain(on_event)?;
        let now_std = std::time::Instant::now();
        let deadline = self
            .conns
            .iter()
            .flatten()
            .filter_map(Rtc::poll_timeout)
            .min()
            .map(|t| self.clock.to_std(t).saturating_duration_since(now_std));
        let wait = deadline
            .unwrap_or(max_wait)
            .min(max_wait)
            .max(Duration::from_micros(100));
        self.socket.set_read_timeout(Some(wait))?;
        // Read everything that is waiting (a burst of datagrams), without blocking again.
        let mut first = true;
        loop {
            let r = self.socket.recv_from(&mut self.buf);
            match r {
                Ok((n, from)) => {
                    self.route(n, from);
                    if first {
                        first = false;
                        self.socket.set_nonblocking(true)?;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                // ICMP errors from a peer that went away: ignore.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
        self.socket.set_nonblocking(false)?;
        let now = self.clock.now();
        for rtc in self.conns.iter_mut().flatten() {
            if rtc.poll_timeout().is_some_and(|t| t <= now) {
                rtc.handle_timeout(now);
            }
        }
        self.drain(on_event)
    }

    fn route(&mut self, n: usize, from: SocketAddr) {
        let Some(data) = self.buf.get(..n) else {
            return;
        };
        if let Some(c) = self.capture.as_mut() {
            c.datagram(data);
        }
        if let Some(every) = self.drop_rtp
            && is_rtp(data)
        {
            self.rtp_in += 1;
            if self.rtp_in.is_multiple_of(every) {
                return;
            }
        }
        if std::env::var_os("SANSRTC_DUMP").is_some() {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!("in {from} {n}: {hex}");
        }
        let idx = match self.by_addr.get(&from) {
            Some(i) => Some(*i),
            None => route_by_ufrag(data)
                .and_then(|u| self.by_ufrag.get(u))
                .copied(),
        };
        let Some(i) = idx else { return };
        let Some(rtc) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        self.by_addr.insert(from, i);
        let rx = Receive {
            proto: Protocol::Udp,
            source: from,
            destination: self.local,
            contents: data,
        };
        rtc.handle_receive(self.clock.now(), rx);
    }
}
