//! Unit tests of SDP handling.
