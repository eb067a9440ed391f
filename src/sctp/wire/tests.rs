//! Unit tests of the SCTP wire codec.
