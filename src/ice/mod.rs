//! ICE (RFC 8445) with STUN (RFC 8489): candidates, connectivity checks, nomination,
//! consent freshness (RFC 7675), trickle (RFC 8838) and restarts, as a sans-IO agent.
//!
//! ```
//! use sansrtc::ice::{Candidate, IceAgent, IceConfig, IceEvent};
//! use sansrtc::{Instant, Protocol, Receive, RngSource};
//!
//! let now = Instant::ZERO;
//! let mut a = IceAgent::new(IceConfig { controlling: true, rng: RngSource::Seeded(1), ..Default::default() }, now);
//! let mut b = IceAgent::new(IceConfig { controlling: false, rng: RngSource::Seeded(2), ..Default::default() }, now);
//! let (addr_a, addr_b) = ("127.0.0.1:1000".parse().unwrap(), "127.0.0.1:2000".parse().unwrap());
//! a.add_local_candidate(Candidate::host(addr_a, Protocol::Udp)).unwrap();
//! b.add_local_candidate(Candidate::host(addr_b, Protocol::Udp)).unwrap();
//! // Signalling: exchange credentials and candidates.
//! a.set_remote_credentials(b.local_credentials().clone()).unwrap();
//! b.set_remote_credentials(a.local_credentials().clone()).unwrap();
//! for c in b.local_candidates().cloned().collect::<Vec<_>>() { a.add_remote_candidate(c).unwrap(); }
//! for c in a.local_candidates().cloned().collect::<Vec<_>>() { b.add_remote_candidate(c).unwrap(); }
//!
//! // A perfect network: deliver every datagram at once, jump to the next deadline.
//! let mut now = now;
//! let mut buf = [0u8; 1500];
//! for _ in 0..1000 {
//!     let mut moved = false;
//!     while let Some(t) = a.poll_transmit(now, &mut buf) {
//!         b.handle_receive(now, Receive { proto: t.proto, source: t.source, destination: t.destination, contents: &buf[..t.size] });
//!         moved = true;
//!     }
//!     while let Some(t) = b.poll_transmit(now, &mut buf) {
//!         a.handle_receive(now, Receive { proto: t.proto, source: t.source, destination: t.destination, contents: &buf[..t.size] });
//!         moved = true;
//!     }
//!     if a.selected_pair().is_some() && b.selected_pair().is_some() { break; }
//!     if !moved {
//!         now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().unwrap();
//!         a.handle_timeout(now);
//!         b.handle_timeout(now);
//!     }
//! }
//! assert_eq!(a.selected_pair().unwrap().remote, addr_b);
//! assert_eq!(b.selected_pair().unwrap().remote, addr_a);
//! while let Some(e) = a.poll_event() { println!("{e:?}"); }
//! ```

mod agent;
mod candidate;
mod config;
mod consent;
mod diag;
mod inbound;
mod pair;
mod relay;
mod schedule;
pub mod stun;
#[cfg(test)]
mod tests;
pub mod turn;

pub use agent::IceAgent;
pub use candidate::{
    Candidate, CandidateKind, CandidateParseError, candidate_priority, foundation, pair_priority,
};
pub use config::{Credentials, IceConfig};
pub use diag::IceDiagnostics;
pub use pair::{PairState, PairStats, SelectedPair};
pub use relay::{CandidateCounts, RelayedDatagram};
pub use turn::{IceServer, IceTransportPolicy, TurnError, TurnStats};

/// Connection state (the W3C `RTCIceConnectionState` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceConnectionState {
    /// Nothing checked yet.
    New,
    /// Checks are running; no pair selected.
    Checking,
    /// A pair is selected; checks may still run.
    Connected,
    /// A pair is selected and checking is over.
    Completed,
    /// Consent responses stopped arriving on the selected pair; may recover.
    Disconnected,
    /// Every pair failed, checking timed out, or consent was lost (RFC 7675).
    Failed,
    /// The agent was closed.
    Closed,
}

/// Something the host should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceEvent {
    /// The connection state changed.
    StateChanged(IceConnectionState),
    /// Application data should now use this pair.
    SelectedPairChanged(SelectedPair),
    /// A new local candidate (server-reflexive or relayed) to signal to the peer
    /// (trickle).
    LocalCandidate(Candidate),
    /// A TURN server failed (wrong credentials, quota, unreachable, ...). Its relayed
    /// candidate, if any, no longer works once the allocation is lost.
    TurnError {
        /// The server's URL.
        url: String,
        /// What went wrong.
        error: TurnError,
    },
    /// Gathering finished: signal end-of-candidates.
    GatheringComplete,
    /// The role changed after a role conflict (RFC 8445 §7.3.1.1).
    RoleChanged {
        /// The new role.
        controlling: bool,
    },
}

/// Errors from ICE agent commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    /// Only UDP candidates are supported (TCP candidates are ignored).
    #[error("unsupported candidate transport")]
    UnsupportedTransport,
    /// A candidate the agent cannot use (component other than 1, unspecified address, or
    /// a non-host local candidate).
    #[error("unsupported candidate")]
    UnsupportedCandidate,
    /// The candidate table is full (see `IceConfig::max_*_candidates`).
    #[error("too many candidates")]
    TooManyCandidates,
    /// Empty credentials or a ufrag containing ':'.
    #[error("invalid ICE credentials")]
    InvalidCredentials,
}

/// Agent-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceStats {
    /// Requests received.
    pub requests_received: u64,
    /// Success responses sent.
    pub responses_sent: u64,
    /// Error responses sent (400, 401, 420, 487).
    pub error_responses_sent: u64,
    /// Unauthenticated error responses not sent because they would have been larger
    /// than the request (no amplification towards unauthenticated addresses).
    pub error_responses_suppressed: u64,
    /// Requests or responses that failed authentication.
    pub auth_failures: u64,
    /// Datagrams that looked like STUN but did not parse.
    pub stun_malformed: u64,
    /// STUN ignored because the agent is failed or closed.
    pub stun_ignored: u64,
    /// Responses matching no transaction.
    pub unmatched_responses: u64,
    /// Binding indications received (keepalives).
    pub indications_received: u64,
    /// Requests that arrived at an address that is no local candidate.
    pub unknown_destination: u64,
    /// Remote candidates refused because the table was full.
    pub candidates_refused: u64,
    /// Pairs dropped to stay within `max_pairs`.
    pub pairs_pruned: u64,
    /// Transactions not started because the table was full.
    pub transactions_refused: u64,
    /// Datagrams dropped because the output queue was full.
    pub transmits_dropped: u64,
    /// STUN server requests that failed.
    pub gather_failures: u64,
}
