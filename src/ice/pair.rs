//! Candidate pairs and their checklist state (RFC 8445 §6.1.2).

use core::net::SocketAddr;

use crate::net::Protocol;
use crate::time::Duration;

use super::candidate::CandidateKind;

/// The state of a candidate pair in the checklist (RFC 8445 §6.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairState {
    /// Not checked yet; waits for a pair of the same foundation.
    Frozen,
    /// Will be checked when its turn comes.
    Waiting,
    /// A check is in flight.
    InProgress,
    /// A check succeeded.
    Succeeded,
    /// A check failed, or the pair was removed after nomination.
    Failed,
}

/// The pair the agent sends on: application data goes from `local` to `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelectedPair {
    /// The local base address to send from: a host socket address, or for a relayed
    /// local candidate its relayed address (datagrams from it are wrapped for the TURN
    /// server with `IceAgent::wrap_relayed`; `Rtc` does that itself).
    pub local: SocketAddr,
    /// The remote address to send to.
    pub remote: SocketAddr,
    /// The transport.
    pub proto: Protocol,
    /// Type of the local candidate the pair was validated with (host, srflx, prflx,
    /// relay).
    pub local_kind: CandidateKind,
    /// Type of the remote candidate.
    pub remote_kind: CandidateKind,
}

/// Statistics of one candidate pair (in the spirit of W3C `RTCIceCandidatePairStats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairStats {
    /// Local base address.
    pub local: SocketAddr,
    /// Remote address.
    pub remote: SocketAddr,
    /// Checklist state.
    pub state: PairState,
    /// True once a check succeeded (the pair is in the valid list).
    pub valid: bool,
    /// True if this pair is the nominated, selected one.
    pub nominated: bool,
    /// Pair priority (RFC 8445 §6.1.2.3).
    pub priority: u64,
    /// Connectivity and consent requests sent (retransmissions included).
    pub requests_sent: u64,
    /// Success responses received.
    pub responses_received: u64,
    /// Requests received from the peer on this pair.
    pub requests_received: u64,
    /// Success responses sent.
    pub responses_sent: u64,
    /// Most recent round-trip time measured from a check not retransmitted.
    pub rtt: Option<Duration>,
}

/// A pair in the checklist. Indexes into the agent's local/remote candidate tables.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub local: usize,
    pub remote: usize,
    pub priority: u64,
    pub state: PairState,
    pub valid: bool,
    /// Kind of the local candidate the success response mapped to.
    pub valid_kind: CandidateKind,
    /// Controlled side: USE-CANDIDATE seen; select when the pair succeeds.
    pub nominate_on_success: bool,
    pub nominated: bool,
    /// Nomination checks that timed out (controlling side).
    pub nominate_failures: u8,
    pub foundation: String,
    pub requests_sent: u64,
    pub responses_received: u64,
    pub requests_received: u64,
    pub responses_sent: u64,
    pub rtt: Option<Duration>,
}
