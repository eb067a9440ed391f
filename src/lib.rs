//! # sansrtc
//!
//! A complete WebRTC peer connection written as a pure, poll-driven state machine
//! ("sans-IO"). Datagrams and timestamps go in; datagrams, events and the next deadline
//! come out. Nothing inside reads a clock, sleeps, spawns, locks, blocks or opens a socket,
//! so any runtime can host it: a tokio server, a plain blocking loop, a game engine's frame
//! tick, an embedded device, a fuzzer or a property test.
//!
//! ## The run-loop contract
//!
//! Every machine in this crate (the peer connection [`rtc::Rtc`], and each layer alone:
//! [`ice::IceAgent`], [`dtls::Dtls`], [`sctp::Association`]) has three kinds of call:
//!
//! - `handle_*` feeds an input: `handle_receive(now, Receive)` for a datagram,
//!   `handle_timeout(now)` when the deadline passed;
//! - plain verbs are commands (`add_remote_candidate`, `restart`, ...);
//! - `poll_*` drains an output: `poll_transmit(now, &mut buf)` writes one datagram into the
//!   caller's buffer, `poll_event()` returns one event, `poll_timeout()` the next deadline.
//!
//! **The drain rule**: after any `handle_*` call or command, call `poll_transmit` and
//! `poll_event` until both return `None`; then wait for the next datagram or until
//! `poll_timeout()`, whichever comes first, and call `handle_timeout(now)` when the
//! deadline is reached.
//!
//! Time is the crate's own [`Instant`] (microseconds since an origin the host picks);
//! [`time::Clock`] maps `std::time::Instant` to it.
//!
//! A complete host loop around one machine, on a blocking UDP socket (the [`ice`] module
//! docs have a runnable two-agent version without sockets):
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use sansrtc::ice::{Candidate, Credentials, IceAgent, IceConfig, IceEvent};
//! use sansrtc::time::Clock;
//! use sansrtc::{Protocol, Receive};
//!
//! # fn main() -> std::io::Result<()> {
//! let socket = UdpSocket::bind("192.0.2.10:5000")?;
//! let local = socket.local_addr()?;
//! let clock = Clock::new();
//! let mut agent = IceAgent::new(IceConfig::default(), clock.now());
//! agent.add_local_candidate(Candidate::host(local, Protocol::Udp)).unwrap();
//! // From signalling (the peer's SDP): its credentials and candidates.
//! agent.set_remote_credentials(Credentials { ufrag: "peer".into(), pwd: "peerpasswordpeerpassword".into() }).unwrap();
//! agent.add_remote_candidate("candidate:1 1 udp 2130706431 192.0.2.20 6000 typ host".parse().unwrap()).unwrap();
//!
//! let mut out = [0u8; 1500];
//! let mut inp = [0u8; 1500];
//! loop {
//!     // Drain: every datagram and every event, until both are empty.
//!     let now = clock.now();
//!     while let Some(t) = agent.poll_transmit(now, &mut out) {
//!         socket.send_to(&out[..t.size], t.destination)?;
//!     }
//!     while let Some(event) = agent.poll_event() {
//!         if let IceEvent::SelectedPairChanged(pair) = event {
//!             println!("connected: {} -> {}", pair.local, pair.remote);
//!         }
//!     }
//!     // Sleep until the next datagram or the deadline, whichever comes first.
//!     let wait = agent.poll_timeout().map(|t| clock.to_std(t).saturating_duration_since(clock.to_std(clock.now())));
//!     socket.set_read_timeout(wait.map(|w| w.max(std::time::Duration::from_millis(1))))?;
//!     match socket.recv_from(&mut inp) {
//!         Ok((n, source)) => {
//!             agent.handle_receive(clock.now(), Receive { proto: Protocol::Udp, source, destination: local, contents: &inp[..n] });
//!         }
//!         Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
//!             agent.handle_timeout(clock.now());
//!         }
//!         Err(e) => return Err(e),
//!     }
//! }
//! # }
//! ```
//!
//! ## Layers
//!
//! | module | job |
//! |---|---|
//! | [`rtc`] | the peer connection: SDP offer/answer, all layers over one bundled transport |
//! | [`net`] | [`Receive`], [`Transmit`], [`Protocol`], the RFC 7983 demultiplexer |
//! | [`ice`] | STUN (RFC 8489) and the ICE agent (RFC 8445, 8838, 7675) |
//! | [`dtls`] | DTLS 1.2 (RFC 6347) with fingerprint authentication and SRTP key export |
//! | [`sctp`] | SCTP (RFC 9260) with partial reliability (RFC 3758) and stream reset (RFC 6525) |
//! | [`datachannel`] | data channels and DCEP (RFC 8831, 8832) |
//! | [`jsep`] | offer/answer and typed SDP (RFC 9429, 8866) |
//! | `sim` (feature `sim`) | a simulated network: virtual clock, impaired links, NATs |
//!
//! See `docs/ARCHITECTURE.md` for the picture and `docs/COVERAGE.md` for what is done.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod buf;
pub mod datachannel;
pub mod dtls;
pub mod ice;
pub mod jsep;
pub mod media;
pub mod net;
pub mod rng;
pub mod rtc;
pub mod rtp;
pub mod sctp;
#[cfg(feature = "sim")]
pub mod sim;
pub mod srtp;
pub mod time;

pub use net::{Protocol, Receive, Transmit};
pub use rng::RngSource;
pub use time::{Duration, Instant};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
