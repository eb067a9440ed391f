//! Link impairments: latency, jitter, random and burst loss, reordering, duplication, MTU.

use crate::time::Duration;

/// Gilbert–Elliott burst loss: a two-state chain (good/bad) stepped once per datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstLoss {
    /// Probability of moving from the good to the bad state, per datagram.
    pub p_enter_bad: f64,
    /// Probability of leaving the bad state, per datagram.
    pub p_leave_bad: f64,
    /// Loss probability while in the bad state.
    pub loss_in_bad: f64,
}

/// Impairments of one direction of a link. `Default`: 10 ms latency, nothing else, MTU
/// 1500 bytes of UDP payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// One-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram. Jitter alone never
    /// reorders more than it delays.
    pub jitter: Duration,
    /// Independent random loss probability, 0.0–1.0.
    pub loss: f64,
    /// Burst loss on top of `loss`.
    pub burst: Option<BurstLoss>,
    /// Probability that a datagram is held back by `reorder_delay`, so that later ones
    /// overtake it.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Probability that a datagram is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Largest UDP payload carried; larger datagrams are dropped (as by a router that
    /// does not fragment).
    pub mtu: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(20),
            duplicate: 0.0,
            mtu: 1500,
        }
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams endpoints sent.
    pub sent: u64,
    /// Datagrams delivered to an endpoint (duplicates included).
    pub delivered: u64,
    /// Dropped by random loss.
    pub dropped_loss: u64,
    /// Dropped by burst loss.
    pub dropped_burst: u64,
    /// Dropped for exceeding the link MTU.
    pub dropped_mtu: u64,
    /// Dropped because the sender or receiver was offline.
    pub dropped_offline: u64,
    /// Dropped because no endpoint or NAT owns the destination.
    pub dropped_no_route: u64,
    /// Dropped by a NAT's filtering (or a missing mapping).
    pub dropped_nat_filter: u64,
    /// Dropped because the source address is not the sender's.
    pub dropped_bad_source: u64,
    /// Dropped because too many datagrams were in flight.
    pub dropped_queue_full: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams held back to be overtaken.
    pub reordered: u64,
}
