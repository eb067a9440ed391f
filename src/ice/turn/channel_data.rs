//! The TURN ChannelData message (RFC 8656 §12.4): a 4-byte header (channel number,
//! length) and the application data, padded to a multiple of four bytes over stream
//! transports (§12.5). The parser never panics: every input is a [`ChannelData`] view or a
//! [`ChannelDataError`].

/// Lowest channel number a client may bind (RFC 8656 §12: 0x4000 through 0x4FFF).
pub const CHANNEL_MIN: u16 = 0x4000;
/// Highest channel number a client may bind.
pub const CHANNEL_MAX: u16 = 0x4FFF;
/// Length of the ChannelData header.
pub const HEADER_LEN: usize = 4;

/// A ChannelData message borrowed from the bytes it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// The channel number (0x4000..=0x4FFF).
    pub channel: u16,
    /// The application data (without padding).
    pub data: &'a [u8],
}

/// Why bytes are not a ChannelData message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChannelDataError {
    /// Fewer than four bytes.
    #[error("ChannelData shorter than its header")]
    TooShort,
    /// A channel number outside 0x4000..=0x4FFF (RFC 8656 §12: others are reserved).
    #[error("ChannelData channel number {0:#06x} out of range")]
    BadChannel(u16),
    /// The length field claims more data than there is (RFC 8656 §12.4: discard).
    #[error("ChannelData length exceeds the message")]
    Truncated,
    /// The output buffer cannot hold the message.
    #[error("buffer too small for ChannelData")]
    BufferTooSmall,
}

/// True when `n` is a channel number a client may use.
pub fn is_valid_channel(n: u16) -> bool {
    (CHANNEL_MIN..=CHANNEL_MAX).contains(&n)
}

/// Bytes of padding after `data_len` bytes of data: to a multiple of four over stream
/// transports (RFC 8656 §12.5), none over UDP.
pub fn padding(data_len: usize, stream: bool) -> usize {
    if stream { (4 - data_len % 4) % 4 } else { 0 }
}

/// Parses one ChannelData message from a UDP datagram (trailing bytes past the length,
/// such as padding, are ignored) or from a complete stream frame.
///
/// ```
/// use sansrtc::ice::turn::channel_data::{parse, ChannelData};
/// let m = parse(&[0x40, 0x01, 0x00, 0x02, 0xAB, 0xCD, 0, 0]).unwrap();
/// assert_eq!(m, ChannelData { channel: 0x4001, data: &[0xAB, 0xCD] });
/// ```
pub fn parse(bytes: &[u8]) -> Result<ChannelData<'_>, ChannelDataError> {
    let Some(&[c0, c1, l0, l1]) = bytes.get(..HEADER_LEN) else {
        return Err(ChannelDataError::TooShort);
    };
    let channel = u16::from_be_bytes([c0, c1]);
    if !is_valid_channel(channel) {
        return Err(ChannelDataError::BadChannel(channel));
    }
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let data = bytes
        .get(HEADER_LEN..HEADER_LEN + len)
        .ok_or(ChannelDataError::Truncated)?;
    Ok(ChannelData { channel, data })
}

/// The length of the ChannelData frame at the start of a byte stream, padding included
/// (RFC 8656 §12.5), once its header is there. `None` with fewer than four bytes.
pub fn stream_frame_len(bytes: &[u8]) -> Option<usize> {
    let &[_, _, l0, l1] = bytes.get(..HEADER_LEN)? else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    Some(HEADER_LEN + len + padding(len, true))
}

/// Writes the 4-byte header for `data_len` bytes of data on `channel` into `out`.
pub fn write_header(out: &mut [u8], channel: u16, data_len: usize) -> Result<(), ChannelDataError> {
    if !is_valid_channel(channel) {
        return Err(ChannelDataError::BadChannel(channel));
    }
    let len = u16::try_from(data_len).map_err(|_| ChannelDataError::BufferTooSmall)?;
    let head = out
        .get_mut(..HEADER_LEN)
        .ok_or(ChannelDataError::BufferTooSmall)?;
    let [c0, c1] = channel.to_be_bytes();
    let [l0, l1] = len.to_be_bytes();
    head.copy_from_slice(&[c0, c1, l0, l1]);
    Ok(())
}

/// Frames, in place, `data_len` bytes of data already written at `buf[4..]`: writes the
/// header at `buf[..4]` and, over a stream, zero padding after the data. Returns the
/// frame's length. Nothing is copied or allocated (the hot path of relayed data).
pub fn frame_in_place(
    buf: &mut [u8],
    channel: u16,
    data_len: usize,
    stream: bool,
) -> Result<usize, ChannelDataError> {
    let pad = padding(data_len, stream);
    let total = HEADER_LEN + data_len + pad;
    if buf.len() < total {
        return Err(ChannelDataError::BufferTooSmall);
    }
    write_header(buf, channel, data_len)?;
    if let Some(p) = buf.get_mut(HEADER_LEN + data_len..total) {
        p.fill(0);
    }
    Ok(total)
}

/// Encodes a ChannelData message with a copy of `data` into `out`. Returns its length.
///
/// ```
/// use sansrtc::ice::turn::channel_data::encode;
/// let mut out = [0u8; 16];
/// assert_eq!(encode(0x4000, b"abcde", true, &mut out), Ok(12));
/// assert_eq!(&out[..12], &[0x40, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]);
/// assert_eq!(encode(0x4000, b"abcde", false, &mut out), Ok(9));
/// ```
pub fn encode(
    channel: u16,
    data: &[u8],
    stream: bool,
    out: &mut [u8],
) -> Result<usize, ChannelDataError> {
    out.get_mut(HEADER_LEN..HEADER_LEN + data.len())
        .ok_or(ChannelDataError::BufferTooSmall)?
        .copy_from_slice(data);
    frame_in_place(out, channel, data.len(), stream)
}
