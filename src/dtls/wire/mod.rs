//! The DTLS 1.2 wire format: records, handshake fragments, message bodies, extensions
//! and alerts. Pure codecs: parsing takes untrusted bytes and never panics (fuzzed by
//! `fuzz/fuzz_targets/dtls_wire.rs`); encoding writes into caller buffers.

pub mod alert;
pub(crate) mod codec;
pub mod extensions;
pub mod handshake;
pub mod messages;
pub mod record;
#[cfg(test)]
mod tests;
