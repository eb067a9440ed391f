//! ICE (RFC 8445) with STUN (RFC 8489): candidates, connectivity checks, nomination,
//! consent freshness (RFC 7675) and restarts, as a sans-IO agent.

pub mod stun;
