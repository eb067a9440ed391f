//! Outgoing flights: handshake messages packed into records and datagrams under the MTU,
//! fragmented where a message does not fit (RFC 6347 §4.2.3), and retransmitted whole
//! with fresh record sequence numbers (RFC 6347 §4.2.4).

use super::record_layer::RecordLayer;
use super::wire::handshake::{HANDSHAKE_HEADER_LEN, HandshakeType, put_header};
use super::wire::record::ContentType;

/// Smallest MTU we fragment for: below it a record header, a handshake header and a
/// useful fragment no longer fit.
pub(crate) const MIN_MTU: usize = 128;

/// One message of a flight.
#[derive(Debug, Clone)]
pub(crate) enum FlightItem {
    /// A handshake message, sent in `epoch`.
    Handshake {
        epoch: u16,
        msg_type: HandshakeType,
        seq: u16,
        body: Vec<u8>,
    },
    /// A ChangeCipherSpec (always epoch 0).
    ChangeCipherSpec,
}

/// A flight: the messages one side sends before waiting for the other.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flight {
    pub(crate) items: Vec<FlightItem>,
}

impl Flight {
    pub(crate) fn handshake(
        &mut self,
        epoch: u16,
        msg_type: HandshakeType,
        seq: u16,
        body: Vec<u8>,
    ) {
        self.items.push(FlightItem::Handshake {
            epoch,
            msg_type,
            seq,
            body,
        });
    }

    pub(crate) fn ccs(&mut self) {
        self.items.push(FlightItem::ChangeCipherSpec);
    }

    /// Packs the flight into datagrams of at most `mtu` bytes, sealing each record with
    /// the next sequence number of its epoch. Returns `None` if a record cannot be sealed
    /// (no keys for its epoch, or sequence numbers exhausted).
    pub(crate) fn pack(&self, records: &mut RecordLayer, mtu: usize) -> Option<Vec<Vec<u8>>> {
        let mtu = mtu.max(MIN_MTU);
        let mut out = Vec::new();
        let mut dgram: Vec<u8> = Vec::with_capacity(mtu);
        let mut plain = Vec::new();
        for item in &self.items {
            match item {
                FlightItem::ChangeCipherSpec => {
                    let need = records.overhead(0) + 1;
                    if dgram.len() + need > mtu {
                        out.push(core::mem::replace(&mut dgram, Vec::with_capacity(mtu)));
                    }
                    seal_append(records, &mut dgram, 0, ContentType::ChangeCipherSpec, &[1])?;
                }
                FlightItem::Handshake {
                    epoch,
                    msg_type,
                    seq,
                    body,
                } => {
                    let total = u32::try_from(body.len()).ok()?;
                    let mut offset = 0usize;
                    loop {
                        let overhead = records.overhead(*epoch) + HANDSHAKE_HEADER_LEN;
                        let room = mtu.saturating_sub(dgram.len() + overhead);
                        let left = body.len() - offset;
                        // Start a new datagram rather than send a sliver of a message
                        // (or a header that does not fit at all).
                        let fits = dgram.len() + overhead + left.min(64) <= mtu;
                        if !fits && !dgram.is_empty() {
                            out.push(core::mem::replace(&mut dgram, Vec::with_capacity(mtu)));
                            continue;
                        }
                        let n = left.min(room);
                        let chunk = body.get(offset..offset + n)?;
                        plain.clear();
                        put_header(
                            &mut plain,
                            *msg_type,
                            total,
                            *seq,
                            u32::try_from(offset).ok()?,
                            u32::try_from(n).ok()?,
                        );
                        plain.extend_from_slice(chunk);
                        seal_append(records, &mut dgram, *epoch, ContentType::Handshake, &plain)?;
                        offset += n;
                        if offset >= body.len() {
                            break;
                        }
                    }
                }
            }
        }
        if !dgram.is_empty() {
            out.push(dgram);
        }
        Some(out)
    }
}

/// Seals one record onto the end of `dgram`.
pub(crate) fn seal_append(
    records: &mut RecordLayer,
    dgram: &mut Vec<u8>,
    epoch: u16,
    ty: ContentType,
    plain: &[u8],
) -> Option<()> {
    let at = dgram.len();
    dgram.resize(at + records.overhead(epoch) + plain.len(), 0);
    let n = records.seal(epoch, ty, plain, dgram.get_mut(at..)?)?;
    dgram.truncate(at + n);
    Some(())
}
