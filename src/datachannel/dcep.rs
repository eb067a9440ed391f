//! The Data Channel Establishment Protocol wire format (RFC 8832 §5).

/// DATA_CHANNEL_OPEN message type.
pub const MSG_OPEN: u8 = 0x03;
/// DATA_CHANNEL_ACK message type.
pub const MSG_ACK: u8 = 0x02;

/// WebRTC payload protocol identifiers (RFC 8831 §8).
pub mod ppid {
    /// WebRTC DCEP.
    pub const DCEP: u32 = 50;
    /// WebRTC String.
    pub const STRING: u32 = 51;
    /// WebRTC Binary Partial (deprecated).
    pub const BINARY_PARTIAL: u32 = 52;
    /// WebRTC Binary.
    pub const BINARY: u32 = 53;
    /// WebRTC String Partial (deprecated).
    pub const STRING_PARTIAL: u32 = 54;
    /// WebRTC String Empty.
    pub const STRING_EMPTY: u32 = 56;
    /// WebRTC Binary Empty.
    pub const BINARY_EMPTY: u32 = 57;
}

/// How a channel delivers (RFC 8832 §5.1 channel types, without the unordered bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelReliability {
    /// Every message, retransmitted until acknowledged.
    #[default]
    Reliable,
    /// At most this many retransmissions (DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT).
    MaxRetransmits(u16),
    /// Given up after this many milliseconds (DATA_CHANNEL_PARTIAL_RELIABLE_TIMED).
    MaxLifetimeMs(u32),
}

/// A DATA_CHANNEL_OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Ordered delivery.
    pub ordered: bool,
    /// The reliability.
    pub reliability: ChannelReliability,
    /// Priority (RFC 8831 §6.4 values: 128 below normal, 256 normal, 512 high, 1024
    /// extra high).
    pub priority: u16,
    /// The label.
    pub label: String,
    /// The subprotocol.
    pub protocol: String,
}

/// Why a DCEP message did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcepError {
    /// Shorter than its fields say.
    Truncated,
    /// A message or channel type RFC 8832 does not define.
    UnknownType,
    /// Label or protocol is not UTF-8.
    NotUtf8,
}

impl Open {
    /// Parses a DATA_CHANNEL_OPEN (the message type byte included).
    pub fn parse(b: &[u8]) -> Result<Open, DcepError> {
        let head: &[u8; 12] = b
            .get(..12)
            .and_then(|h| h.try_into().ok())
            .ok_or(DcepError::Truncated)?;
        if head[0] != MSG_OPEN {
            return Err(DcepError::UnknownType);
        }
        let channel_type = head[1];
        let priority = u16::from_be_bytes([head[2], head[3]]);
        let param = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let label_len = usize::from(u16::from_be_bytes([head[8], head[9]]));
        let proto_len = usize::from(u16::from_be_bytes([head[10], head[11]]));
        let label = b.get(12..12 + label_len).ok_or(DcepError::Truncated)?;
        let protocol = b
            .get(12 + label_len..12 + label_len + proto_len)
            .ok_or(DcepError::Truncated)?;
        let reliability = match channel_type & 0x7f {
            0x00 => ChannelReliability::Reliable,
            0x01 => ChannelReliability::MaxRetransmits(u16::try_from(param).unwrap_or(u16::MAX)),
            0x02 => ChannelReliability::MaxLifetimeMs(param),
            _ => return Err(DcepError::UnknownType),
        };
        Ok(Open {
            ordered: channel_type & 0x80 == 0,
            reliability,
            priority,
            label: String::from_utf8(label.to_vec()).map_err(|_| DcepError::NotUtf8)?,
            protocol: String::from_utf8(protocol.to_vec()).map_err(|_| DcepError::NotUtf8)?,
        })
    }

    /// Encodes it. Label and protocol longer than 65535 bytes are cut (the API refuses
    /// them before they get here).
    pub fn encode(&self) -> Vec<u8> {
        let (ty, param) = match self.reliability {
            ChannelReliability::Reliable => (0x00u8, 0u32),
            ChannelReliability::MaxRetransmits(n) => (0x01, u32::from(n)),
            ChannelReliability::MaxLifetimeMs(ms) => (0x02, ms),
        };
        let ty = if self.ordered { ty } else { ty | 0x80 };
        let label = self
            .label
            .as_bytes()
            .get(..self.label.len().min(65535))
            .unwrap_or_default();
        let proto = self
            .protocol
            .as_bytes()
            .get(..self.protocol.len().min(65535))
            .unwrap_or_default();
        let mut b = Vec::with_capacity(12 + label.len() + proto.len());
        b.push(MSG_OPEN);
        b.push(ty);
        b.extend_from_slice(&self.priority.to_be_bytes());
        b.extend_from_slice(&param.to_be_bytes());
        b.extend_from_slice(&(label.len() as u16).to_be_bytes());
        b.extend_from_slice(&(proto.len() as u16).to_be_bytes());
        b.extend_from_slice(label);
        b.extend_from_slice(proto);
        b
    }
}

/// Whether `b` is a DATA_CHANNEL_ACK.
pub fn is_ack(b: &[u8]) -> bool {
    b.first() == Some(&MSG_ACK)
}
