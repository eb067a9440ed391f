//! SCTP (RFC 9260) as a sans-IO association, as WebRTC runs it over DTLS (RFC 8261):
//! one path, no multihoming, with partial reliability (RFC 3758) and stream reset
//! (RFC 6525).
//!
//! [`Association`] takes and gives whole SCTP packets as bytes: the host (or the peer
//! connection) carries them in DTLS records, or hands them straight to another
//! association in a test.
//!
//! ```
//! use sansrtc::sctp::{Association, SctpConfig, SctpEvent, SendOptions};
//! use sansrtc::{Instant, RngSource};
//!
//! let now = Instant::ZERO;
//! let mut a = Association::new(SctpConfig { rng: RngSource::Seeded(1), ..SctpConfig::default() }, now);
//! let mut b = Association::new(SctpConfig { rng: RngSource::Seeded(2), ..SctpConfig::default() }, now);
//! a.connect(now);
//! a.send(1, 51, b"hello", SendOptions::default()).unwrap(); // queued until established
//! let mut buf = [0u8; 1200];
//! let mut got = None;
//! for _ in 0..10 {
//!     while let Some(n) = a.poll_transmit(now, &mut buf) { b.handle_receive(now, &buf[..n]); }
//!     while let Some(n) = b.poll_transmit(now, &mut buf) { a.handle_receive(now, &buf[..n]); }
//!     while let Some(e) = b.poll_event() {
//!         if let SctpEvent::Message { stream, data, .. } = e { got = Some((stream, data)); }
//!     }
//! }
//! assert_eq!(got, Some((1, b"hello".to_vec())));
//! ```

mod assoc;
mod cookie;
mod reconfig;
mod recv;
mod send;
#[cfg(test)]
mod tests;
mod tsn;
pub mod wire;

pub use assoc::Association;

use crate::rng::RngSource;
use crate::time::Duration;

/// Association configuration. Defaults suit WebRTC data channels.
#[derive(Debug, Clone)]
pub struct SctpConfig {
    /// Our SCTP port (`a=sctp-port`). Default 5000.
    pub local_port: u16,
    /// The peer's SCTP port. Default 5000.
    pub remote_port: u16,
    /// Largest SCTP packet sent (what is left of the path MTU after UDP, DTLS and IP
    /// overheads). Default 1200.
    pub mtu: usize,
    /// Streams announced in each direction (OS and MIS). Default 65535.
    pub streams: u16,
    /// Most streams with state at once (queued data, reassembly or sequence numbers away
    /// from their initial values). Default 4096.
    pub max_active_streams: usize,
    /// Largest message we send; the peer's `a=max-message-size` may lower it
    /// ([`Association::set_remote_max_message_size`]). Default 256 KiB.
    pub max_message_size: usize,
    /// Largest message we accept; a bigger one aborts the association. Default 256 KiB.
    pub max_receive_message_size: usize,
    /// Receive buffer: our advertised window, and the bound on held and undelivered
    /// data. Default 1 MiB.
    pub receive_buffer: usize,
    /// Bytes queued for sending (not yet acknowledged) in total. Default 4 MiB.
    pub send_buffer: usize,
    /// Initial retransmission timeout (RFC 9260 §6.3.1 RTO.Initial). Default 1 s.
    pub rto_initial: Duration,
    /// RTO.Min. Default 200 ms (RFC 9260 says 1 s; WebRTC stacks use less).
    pub rto_min: Duration,
    /// RTO.Max. Default 10 s.
    pub rto_max: Duration,
    /// Max.Init.Retransmits. Default 8.
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans: consecutive timeouts before the association fails.
    /// Default 10.
    pub max_retransmits: u32,
    /// Delayed SACK timeout (RFC 9260 §6.2). Default 200 ms.
    pub sack_delay: Duration,
    /// HB.interval when idle (RFC 9260 §8.3). Default 30 s.
    pub heartbeat_interval: Duration,
    /// Valid.Cookie.Life. Default 60 s.
    pub cookie_lifetime: Duration,
    /// Events held until polled. Default 65536; received data counts against the
    /// receive buffer as long as it waits here.
    pub max_events: usize,
    /// Spare message buffers kept for reuse, in bytes of capacity, per direction: the
    /// buffers of acknowledged messages are reused for the next messages sent, and
    /// those the host hands back with [`Association::recycle`] for the next messages
    /// received, so steady traffic does not allocate per message. The pools are
    /// emptied when the association has been idle for a heartbeat interval. Default
    /// 1 MiB (a burst as large as the receive buffer reuses buffers too).
    pub buffer_pool: usize,
    /// Zero checksums (RFC 9653) with error detection method 1, SCTP over DTLS: we
    /// announce that we accept packets whose checksum field is zero, take them without
    /// computing the CRC32c, and send such packets ourselves once the peer announced
    /// the same (never INIT, INIT ACK, COOKIE ECHO or the answers to stray packets).
    /// Set it only when the packets travel inside DTLS, which authenticates them; the
    /// peer connection (`Rtc`) always does. Default `false`.
    pub zero_checksum: bool,
    /// Randomness for tags, initial TSN and the cookie secret.
    pub rng: RngSource,
}

impl Default for SctpConfig {
    fn default() -> Self {
        SctpConfig {
            local_port: 5000,
            remote_port: 5000,
            mtu: 1200,
            streams: 65535,
            max_active_streams: 4096,
            max_message_size: 256 * 1024,
            max_receive_message_size: 256 * 1024,
            receive_buffer: 1024 * 1024,
            send_buffer: 4 * 1024 * 1024,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(10),
            max_init_retransmits: 8,
            max_retransmits: 10,
            sack_delay: Duration::from_millis(200),
            heartbeat_interval: Duration::from_secs(30),
            cookie_lifetime: Duration::from_secs(60),
            max_events: 65536,
            buffer_pool: 1024 * 1024,
            zero_checksum: false,
            rng: RngSource::Secure,
        }
    }
}

/// How hard a message is tried (RFC 3758 partial reliability policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Retransmitted until acknowledged.
    #[default]
    Reliable,
    /// Abandoned after this many retransmissions (0: sent once).
    MaxRetransmits(u16),
    /// Abandoned when not acknowledged within this time after `send` (the clock starts
    /// at the next `poll_transmit`, which the drain rule makes "now").
    Lifetime(Duration),
}

/// Per-message options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// Delivered without regard to order (the U bit).
    pub unordered: bool,
    /// The partial reliability policy.
    pub reliability: Reliability,
}

/// SCTP errors: API misuse and why an association ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SctpError {
    /// The message is larger than the negotiated maximum.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    MessageTooBig {
        /// The message size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// SCTP cannot carry an empty message (data channels send a one-byte placeholder
    /// with an "empty" PPID instead, RFC 8831 §6.6).
    #[error("empty message")]
    EmptyMessage,
    /// The send buffer is full; wait for [`SctpEvent::BufferedAmountLow`] or retry later.
    #[error("send buffer full")]
    BufferFull,
    /// The stream id is beyond the negotiated number of streams.
    #[error("invalid stream {0}")]
    InvalidStream(u16),
    /// The stream is being reset (closing) and takes no more data.
    #[error("stream {0} is closing")]
    StreamClosing(u16),
    /// Too many streams with state at once.
    #[error("too many active streams")]
    TooManyStreams,
    /// The association is closed or shutting down.
    #[error("association closed")]
    Closed,
    /// The peer aborted, with the first error cause code it gave (0 when none).
    #[error("aborted by peer (cause {0})")]
    PeerAborted(u16),
    /// We aborted: the peer violated the protocol.
    #[error("protocol violation: {0}")]
    ProtocolViolation(&'static str),
    /// The association could not be set up: INIT or COOKIE ECHO went unanswered.
    #[error("association setup timed out")]
    SetupTimeout,
    /// Association.Max.Retrans consecutive timeouts: the peer is unreachable.
    #[error("peer unreachable")]
    Unreachable,
}

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The graceful SHUTDOWN sequence completed.
    Shutdown,
    /// [`Association::abort`] was called.
    LocalAbort,
    /// Failed, or aborted by the peer.
    Error(SctpError),
}

/// Something the host should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SctpEvent {
    /// The association is established.
    Connected,
    /// A complete message.
    Message {
        /// Stream identifier.
        stream: u16,
        /// Payload protocol identifier.
        ppid: u32,
        /// The message.
        data: Vec<u8>,
    },
    /// The peer reset its outgoing stream (RFC 6525): no more messages will come on it;
    /// its incoming sequence numbers start over.
    IncomingStreamReset {
        /// Stream identifier.
        stream: u16,
    },
    /// Our outgoing reset of a stream completed: the stream id may be reused.
    OutgoingStreamReset {
        /// Stream identifier.
        stream: u16,
    },
    /// The bytes queued on a stream fell to (or below) its low threshold.
    BufferedAmountLow {
        /// Stream identifier.
        stream: u16,
    },
    /// The association ended; nothing more will happen.
    Closed(CloseReason),
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SctpStats {
    /// Packets handed in.
    pub packets_in: u64,
    /// Packets handed out.
    pub packets_out: u64,
    /// Packets dropped for a bad checksum, bad framing or a wrong verification tag.
    pub dropped_packets: u64,
    /// DATA chunks received (duplicates included).
    pub data_chunks_in: u64,
    /// DATA chunks sent (retransmissions included).
    pub data_chunks_out: u64,
    /// DATA chunks retransmitted (timeouts and fast retransmits).
    pub retransmitted_chunks: u64,
    /// Fast retransmit episodes.
    pub fast_retransmits: u64,
    /// T3-rtx timeouts.
    pub t3_timeouts: u64,
    /// Duplicate DATA chunks received.
    pub duplicate_chunks: u64,
    /// DATA chunks dropped for lack of receive buffer.
    pub dropped_chunks: u64,
    /// Messages abandoned under partial reliability (by us, as sender).
    pub abandoned_messages: u64,
    /// Messages delivered.
    pub messages_in: u64,
    /// Messages accepted by `send`.
    pub messages_out: u64,
    /// Payload bytes delivered.
    pub bytes_in: u64,
    /// Smoothed round-trip time, when measured.
    pub srtt: Option<Duration>,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Bytes sent and not yet acknowledged.
    pub bytes_in_flight: usize,
    /// The peer's receive window as we last computed it.
    pub peer_rwnd: usize,
    /// Our advertised receive window.
    pub local_rwnd: usize,
    /// Both ends announced zero checksums (RFC 9653, [`SctpConfig::zero_checksum`]):
    /// our packets of the established association carry checksum 0.
    pub zero_checksum: bool,
}

/// Current sizes of an [`Association`]'s buffers and queues
/// ([`Association::diagnostics`]), with the bounds that apply to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SctpDiagnostics {
    /// Bytes accepted by `send` and not yet acknowledged or abandoned (limit
    /// [`SctpConfig::send_buffer`]).
    pub send_queue_bytes: usize,
    /// Messages in the send queue (each holds at least one byte of `send_queue_bytes`).
    pub send_queue_messages: usize,
    /// Bytes sent and not yet acknowledged.
    pub in_flight_bytes: usize,
    /// DATA chunks with a TSN not yet acknowledged (bounded by `send_queue_bytes`: each
    /// carries at least one byte).
    pub in_flight_chunks: usize,
    /// Chunks queued for retransmission (at most `in_flight_chunks`).
    pub retransmit_queue: usize,
    /// Bytes not yet sent once, over all streams (the W3C buffered amounts).
    pub buffered_total: usize,
    /// The largest buffered amount of one stream.
    pub buffered_max_stream: usize,
    /// Bytes held by the receiver: out of order, in reassembly, waiting for order, and
    /// delivered but not yet taken by `poll_event` (limit [`SctpConfig::receive_buffer`]).
    pub receive_bytes: usize,
    /// Out-of-order DATA chunks held beyond a gap.
    pub out_of_order_chunks: usize,
    /// Slots of the out-of-order table (limit: `out_of_order_limit`).
    pub out_of_order_slots: usize,
    /// The out-of-order table's bound (from the receive buffer: `receive_buffer / 256`,
    /// clamped to 64..=8192).
    pub out_of_order_limit: usize,
    /// Outgoing streams with state (limit [`SctpConfig::max_active_streams`]).
    pub streams_out: usize,
    /// Incoming streams with state (limit [`SctpConfig::max_active_streams`]).
    pub streams_in: usize,
    /// Control packets waiting to be sent (limit 16).
    pub control_packets: usize,
    /// Events waiting for `poll_event` (limit [`SctpConfig::max_events`]).
    pub events: usize,
    /// Capacity of the spare message buffers kept for reuse, both directions (at most
    /// twice `buffer_pool`).
    pub pooled_bytes: usize,
    /// Approximate bytes held by all of the above.
    pub bytes: usize,
}
