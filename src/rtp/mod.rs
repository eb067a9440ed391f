//! RTP and RTCP (RFC 3550, 4585, 5104, 5506, 8285, 4588, transport-cc): the wire format,
//! and the per-SSRC send and receive state.

pub mod stream;
pub mod wire;
