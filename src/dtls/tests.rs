//! Unit tests of the DTLS endpoint.
