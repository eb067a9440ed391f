//! The RTP and RTCP wire format.
