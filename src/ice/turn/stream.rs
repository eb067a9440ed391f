//! Framing of TURN over a byte stream (RFC 8656 §12.5, the RFC 6544 way of carrying
//! STUN over TCP): STUN messages are self-delimiting (20-byte header with a length) and
//! ChannelData messages are padded to four bytes, so frames are cut from the stream by
//! their first bytes alone.

use crate::ice::stun::HEADER_LEN as STUN_HEADER_LEN;

use super::channel_data;

/// Why the stream cannot be framed any more (the connection must be dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A frame that is neither STUN nor ChannelData (RFC 7983 first byte).
    Garbage,
    /// More unframed bytes than the configured bound.
    Overflow,
}

/// Bytes read from the stream and not yet framed, bounded by `cap`.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
    start: usize,
    cap: usize,
}

impl Framer {
    pub fn new(cap: usize) -> Self {
        Framer {
            buf: Vec::new(),
            start: 0,
            cap,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.start > 0
            && (self.start >= self.buf.len() / 2 || self.buf.len() + bytes.len() > self.cap)
        {
            // Compact: move the unframed tail to the front (no allocation).
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() + bytes.len() > self.cap {
            return Err(FrameError::Overflow);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete frame, if one is there. The slice stays valid until the next
    /// call that mutates the framer.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        let rest = self.buf.get(self.start..)?;
        let first = *rest.first()?;
        let len = match first {
            0..=3 => {
                let &[_, _, l0, l1] = rest.get(..4)? else {
                    return None;
                };
                STUN_HEADER_LEN + usize::from(u16::from_be_bytes([l0, l1]))
            }
            0x40..=0x4F => channel_data::stream_frame_len(rest)?,
            _ => return Some(Err(FrameError::Garbage)),
        };
        if len > self.cap {
            return Some(Err(FrameError::Overflow));
        }
        let frame = rest.get(..len)?;
        self.start += len;
        Some(Ok(frame))
    }

    /// Forgets everything (the stream was closed).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}
