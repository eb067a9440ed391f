//! Unit tests of the DTLS wire codecs.
