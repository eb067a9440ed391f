//! The STUN attributes ICE understands, as a `stun_codec` attribute enum.
//!
//! MESSAGE-INTEGRITY and FINGERPRINT are deliberately absent: `stun_codec` checks them by
//! re-encoding the decoded message (slow, and its HMAC comparison is not constant-time), so
//! sansrtc computes and verifies both over the raw bytes itself (see `super::integrity`).

use stun_codec::define_attribute_enums;
use stun_codec::rfc5245::attributes::{IceControlled, IceControlling, Priority, UseCandidate};
use stun_codec::rfc5389::attributes::{
    ErrorCode, MappedAddress, Nonce, Realm, Software, UnknownAttributes, Username, XorMappedAddress,
};
use stun_codec::rfc5766::attributes::{
    ChannelNumber, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
};

define_attribute_enums!(
    Attribute,
    AttributeDecoder,
    AttributeEncoder,
    [
        // RFC 8489 §14
        MappedAddress,
        Username,
        ErrorCode,
        UnknownAttributes,
        Realm,
        Nonce,
        XorMappedAddress,
        Software,
        // RFC 8445 §16.1
        Priority,
        UseCandidate,
        IceControlled,
        IceControlling,
        // RFC 8656 §18 (TURN control; DATA is read and written on raw bytes)
        ChannelNumber,
        Lifetime,
        XorPeerAddress,
        XorRelayAddress,
        RequestedTransport
    ]
);

/// Attribute types this agent understands (the enum above plus the two it handles on raw
/// bytes). A comprehension-required attribute (type < 0x8000) not in this list makes a
/// request fail with 420 (RFC 8489 §6.3.1.1).
pub(crate) const KNOWN_TYPES: &[u16] = &[
    0x0001, // MAPPED-ADDRESS
    0x0006, // USERNAME
    0x0008, // MESSAGE-INTEGRITY
    0x0009, // ERROR-CODE
    0x000A, // UNKNOWN-ATTRIBUTES
    0x0014, // REALM
    0x0015, // NONCE
    0x0020, // XOR-MAPPED-ADDRESS
    0x0024, // PRIORITY
    0x0025, // USE-CANDIDATE
];
