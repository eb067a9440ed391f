//! Values of the RTP header extensions WebRTC uses, and their `a=extmap` URIs.
//!
//! Each reader takes the value of one element (as [`super::RtpHeader::extension`] returns
//! it) and returns `None` when it has the wrong size or content; each writer returns the
//! bytes to pass as a value in [`super::RtpHeaderRepr::extensions`].

/// abs-send-time (<http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time>).
pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
/// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2).
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// MID (RFC 9143, the `sdes:mid` header extension).
pub const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// RtpStreamId (RFC 8852 §3.3).
pub const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// RepairedRtpStreamId (RFC 8852 §3.3).
pub const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
/// Client-to-mixer audio level (RFC 6464 §4).
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Fractional bits of abs-send-time: a 6.18 fixed-point number of seconds.
const ABS_SEND_TIME_FRACTION_BITS: u32 = 18;

/// abs-send-time wraps every 64 s: 24 bits of 6.18 fixed point.
const ABS_SEND_TIME_MASK: u32 = 0x00ff_ffff;

/// Reads abs-send-time: 24 bits, seconds in 6.18 fixed point (3 bytes).
pub fn abs_send_time(value: &[u8]) -> Option<u32> {
    match value {
        &[a, b, c] => Some(u32::from_be_bytes([0, a, b, c])),
        _ => None,
    }
}

/// The 3 bytes of an abs-send-time value (the low 24 bits of `t`).
pub fn abs_send_time_bytes(t: u32) -> [u8; 3] {
    let [_, a, b, c] = t.to_be_bytes();
    [a, b, c]
}

/// abs-send-time for a send time in microseconds (any origin; the value wraps every
/// 64 s, so only differences matter).
pub fn abs_send_time_from_micros(us: u64) -> u32 {
    let fixed = (u128::from(us) << ABS_SEND_TIME_FRACTION_BITS) / 1_000_000;
    // Truncation to the low 24 bits is the wrap-around of the format.
    (fixed & u128::from(ABS_SEND_TIME_MASK)) as u32
}

/// Microseconds (0..64 s) an abs-send-time value stands for, rounded down.
pub fn abs_send_time_to_micros(t: u32) -> u64 {
    (u64::from(t & ABS_SEND_TIME_MASK) * 1_000_000) >> ABS_SEND_TIME_FRACTION_BITS
}

/// Reads a transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-
/// extensions-01 §2: 16 bits).
pub fn transport_cc(value: &[u8]) -> Option<u16> {
    match value {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The 2 bytes of a transport-wide sequence number.
pub fn transport_cc_bytes(seq: u16) -> [u8; 2] {
    seq.to_be_bytes()
}

/// The text of an SDES-item extension (MID, RID): up to the first NUL byte, which some
/// senders pad with (as libwebrtc reads it); `None` if empty or not UTF-8.
fn sdes_text(value: &[u8]) -> Option<&str> {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    let text = core::str::from_utf8(value.get(..end)?).ok()?;
    (!text.is_empty()).then_some(text)
}

/// Reads a MID (RFC 9143): the identification-tag as text.
pub fn mid(value: &[u8]) -> Option<&str> {
    sdes_text(value)
}

/// Reads an RtpStreamId or RepairedRtpStreamId (RFC 8852 §3.3): letters, digits, `-` and
/// `_` (the `rid-id` syntax of RFC 8851 §10).
pub fn rid(value: &[u8]) -> Option<&str> {
    let text = sdes_text(value)?;
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then_some(text)
}

/// The bytes of a MID or RID value: the text itself, if it is 1..=255 bytes long and holds
/// no NUL (values up to 16 bytes allow the one-byte header form).
pub fn text_bytes(text: &str) -> Option<&[u8]> {
    let b = text.as_bytes();
    ((1..=255).contains(&b.len()) && !b.contains(&0)).then_some(b)
}

/// A client-to-mixer audio level (RFC 6464 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevel {
    /// The V flag: the encoder believes the packet holds voice activity.
    pub voice: bool,
    /// The level in -dBov, 0..=127 (0 is loudest, 127 is silence or quieter).
    pub level: u8,
}

impl AudioLevel {
    /// Reads the 1-byte value.
    pub fn parse(value: &[u8]) -> Option<Self> {
        match value {
            &[b] => Some(AudioLevel {
                voice: b & 0x80 != 0,
                level: b & 0x7f,
            }),
            _ => None,
        }
    }

    /// The 1-byte value (a level above 127 is written as 127).
    pub fn to_bytes(self) -> [u8; 1] {
        [(u8::from(self.voice) << 7) | self.level.min(0x7f)]
    }
}
