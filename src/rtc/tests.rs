//! Unit tests of the peer connection.
