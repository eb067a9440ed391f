//! Opus (RFC 7587): the RTP payload is one Opus packet, as the encoder made it.

use super::MediaError;

/// One payload: the frame itself. RFC 7587 §4.2 gives Opus no fragmentation, so a frame
/// larger than `max_payload` is an error, not split.
pub(super) fn packetize(
    frame: &[u8],
    max_payload: usize,
    out: &mut dyn FnMut(&[u8], bool),
) -> Result<usize, MediaError> {
    if frame.len() > max_payload {
        return Err(MediaError::FrameTooLarge {
            size: frame.len(),
            max: max_payload,
        });
    }
    // Audio gives the marker bit another meaning: the first packet of a talkspurt, after
    // a silence the encoder did not send (RFC 7587 §4.1, RFC 3551 §4.1). Only the caller
    // knows that, so it is left clear here; the depacketizer does not need it.
    out(frame, false);
    Ok(1)
}
