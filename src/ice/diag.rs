//! The sizes of the agent's tables and queues, for memory accounting
//! ([`IceAgent::diagnostics`]).

use super::agent::{IceAgent, Tx};
use super::candidate::Candidate;
use super::pair::Pair;

/// Current sizes of an [`IceAgent`]'s tables and queues. The limits are the matching
/// [`IceConfig`](super::IceConfig) fields (`max_local_candidates`,
/// `max_remote_candidates`, `max_pairs`, `max_transactions`, `max_queued_transmits`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IceDiagnostics {
    /// Local candidates (host, server- and peer-reflexive).
    pub local_candidates: usize,
    /// Remote candidates (signalled and peer-reflexive).
    pub remote_candidates: usize,
    /// Candidate pairs.
    pub pairs: usize,
    /// Outstanding STUN transactions.
    pub transactions: usize,
    /// Datagrams waiting for `poll_transmit`.
    pub queued_transmits: usize,
    /// Pairs waiting for a triggered check (at most `max_pairs`).
    pub triggered: usize,
    /// Events waiting for `poll_event`.
    pub events: usize,
    /// Approximate bytes held by all of the above.
    pub bytes: usize,
}

impl IceAgent {
    /// Current sizes of the agent's tables and queues. Cheap: no allocation, one pass over
    /// the (bounded) transaction table and output queue to sum their bytes.
    pub fn diagnostics(&self) -> IceDiagnostics {
        let tx_bytes: usize = self.txs.iter().map(|t| t.bytes.len()).sum();
        let out_bytes: usize = self.out.iter().map(|(_, _, b)| b.len()).sum();
        let bytes = tx_bytes
            + out_bytes
            + self.txs.len() * core::mem::size_of::<Tx>()
            + (self.local.len() + self.remote.len()) * core::mem::size_of::<Candidate>()
            + self.pairs.len() * core::mem::size_of::<Pair>()
            + self.out.len() * 64;
        IceDiagnostics {
            local_candidates: self.local.len(),
            remote_candidates: self.remote.len(),
            pairs: self.pairs.len(),
            transactions: self.txs.len(),
            queued_transmits: self.out.len(),
            triggered: self.triggered.len(),
            events: self.events.len(),
            bytes,
        }
    }
}
