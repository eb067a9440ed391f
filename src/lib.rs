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
//! Every machine in this crate (the ICE [`ice::IceAgent`] today, the whole peer connection
//! later) has three kinds of call:
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
//! ## Layers
//!
//! | module | job |
//! |---|---|
//! | [`net`] | [`Receive`], [`Transmit`], [`Protocol`], the RFC 7983 demultiplexer |
//! | [`ice`] | STUN (RFC 8489) and the ICE agent (RFC 8445, 8838, 7675) |
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

pub mod ice;
pub mod net;
pub mod rng;
pub mod time;

pub use net::{Protocol, Receive, Transmit};
pub use rng::RngSource;
pub use time::{Duration, Instant};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
