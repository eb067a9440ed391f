//! The State Cookie (RFC 9260 §5.1.3): everything the association needs from an INIT,
//! sealed with an HMAC so the responder keeps no state until COOKIE ECHO proves the
//! peer's address (RFC 9260 §5.1, step B).

use aws_lc_rs::hmac;

use crate::time::Instant;

/// What a cookie carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cookie {
    /// Our verification tag (the INIT ACK's Initiate Tag).
    pub(crate) my_tag: u32,
    /// The peer's tag (its INIT's Initiate Tag).
    pub(crate) peer_tag: u32,
    /// Our initial TSN.
    pub(crate) my_initial_tsn: u32,
    /// The peer's initial TSN.
    pub(crate) peer_initial_tsn: u32,
    /// The peer's a_rwnd.
    pub(crate) peer_rwnd: u32,
    /// Streams the peer may send on (min of its OS and our MIS).
    pub(crate) inbound_streams: u16,
    /// Streams we may send on (min of its MIS and our OS).
    pub(crate) outbound_streams: u16,
    /// The peer supports FORWARD TSN (RFC 3758).
    pub(crate) peer_forward_tsn: bool,
    /// The peer supports RE-CONFIG (RFC 6525).
    pub(crate) peer_reconfig: bool,
    /// The peer accepts zero checksums over DTLS (RFC 9653).
    pub(crate) peer_zero_checksum: bool,
    /// When the cookie was made.
    pub(crate) created: Instant,
}

const BODY_LEN: usize = 4 * 5 + 2 * 2 + 1 + 8;
const MAC_LEN: usize = 32;
/// Bytes of an encoded cookie.
pub(crate) const COOKIE_LEN: usize = BODY_LEN + MAC_LEN;

impl Cookie {
    /// The cookie, authenticated with `key`.
    pub(crate) fn seal(&self, key: &hmac::Key) -> [u8; COOKIE_LEN] {
        let mut out = [0u8; COOKIE_LEN];
        let mut body = [0u8; BODY_LEN];
        body[0..4].copy_from_slice(&self.my_tag.to_be_bytes());
        body[4..8].copy_from_slice(&self.peer_tag.to_be_bytes());
        body[8..12].copy_from_slice(&self.my_initial_tsn.to_be_bytes());
        body[12..16].copy_from_slice(&self.peer_initial_tsn.to_be_bytes());
        body[16..20].copy_from_slice(&self.peer_rwnd.to_be_bytes());
        body[20..22].copy_from_slice(&self.inbound_streams.to_be_bytes());
        body[22..24].copy_from_slice(&self.outbound_streams.to_be_bytes());
        body[24] = u8::from(self.peer_forward_tsn)
            | (u8::from(self.peer_reconfig) << 1)
            | (u8::from(self.peer_zero_checksum) << 2);
        body[25..33].copy_from_slice(&self.created.as_micros().to_be_bytes());
        let tag = hmac::sign(key, &body);
        out[..BODY_LEN].copy_from_slice(&body);
        out[BODY_LEN..].copy_from_slice(tag.as_ref().get(..MAC_LEN).unwrap_or(&[0; MAC_LEN]));
        out
    }

    /// Checks and opens a cookie; `None` if it was not made with `key` or is malformed.
    pub(crate) fn open(bytes: &[u8], key: &hmac::Key) -> Option<Cookie> {
        let bytes: &[u8; COOKIE_LEN] = bytes.try_into().ok()?;
        let (body, mac) = bytes.split_at(BODY_LEN);
        hmac::verify(key, body, mac).ok()?;
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(body.get(i..i + 4)?.try_into().ok()?))
        };
        let u16_at = |i: usize| -> Option<u16> {
            Some(u16::from_be_bytes(body.get(i..i + 2)?.try_into().ok()?))
        };
        let flags = *body.get(24)?;
        Some(Cookie {
            my_tag: u32_at(0)?,
            peer_tag: u32_at(4)?,
            my_initial_tsn: u32_at(8)?,
            peer_initial_tsn: u32_at(12)?,
            peer_rwnd: u32_at(16)?,
            inbound_streams: u16_at(20)?,
            outbound_streams: u16_at(22)?,
            peer_forward_tsn: flags & 1 != 0,
            peer_reconfig: flags & 2 != 0,
            peer_zero_checksum: flags & 4 != 0,
            created: Instant::from_micros(u64::from_be_bytes(body.get(25..33)?.try_into().ok()?)),
        })
    }
}
