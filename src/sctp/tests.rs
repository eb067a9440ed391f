//! Unit tests of the SCTP association and its halves.

use super::recv::{DataOutcome, Receiver};
use super::send::{Rto, Sender};
use super::wire::chunks::DataChunk;
use super::{Reliability, SendOptions};
use crate::time::{Duration, Instant};

fn chunk(tsn: u32, unordered: bool, b: bool, e: bool, payload: &[u8]) -> DataChunk<'_> {
    DataChunk {
        tsn,
        stream: 1,
        ssn: 0,
        ppid: 51,
        unordered,
        beginning: b,
        ending: e,
        immediate: false,
        payload,
    }
}

fn drain(r: &mut Receiver) -> Vec<Vec<u8>> {
    core::iter::from_fn(|| r.take_message())
        .map(|d| d.data)
        .collect()
}

#[test]
fn unordered_messages_beyond_a_gap_are_delivered_once() {
    let mut r = Receiver::new(1 << 20, 1 << 18, 16, 64 * 1024);
    r.establish(100, 10);
    for t in [105, 106, 107] {
        assert_eq!(
            r.on_data(&chunk(t, true, true, true, &[t as u8]), 0),
            DataOutcome::OutOfOrder
        );
    }
    assert_eq!(drain(&mut r), vec![vec![105], vec![106], vec![107]]);
    // Duplicates before and after the gap closes.
    assert_eq!(
        r.on_data(&chunk(106, true, true, true, &[106]), 0),
        DataOutcome::Duplicate
    );
    r.on_forward_tsn(104, core::iter::empty());
    assert_eq!(r.cum_tsn, 107);
    assert_eq!(
        r.on_data(&chunk(105, true, true, true, &[105]), 0),
        DataOutcome::Duplicate
    );
    assert!(drain(&mut r).is_empty());
    // A two-chunk unordered message completes out of order too.
    assert_eq!(
        r.on_data(&chunk(110, true, false, true, b"b"), 0),
        DataOutcome::OutOfOrder
    );
    assert!(drain(&mut r).is_empty());
    assert_eq!(
        r.on_data(&chunk(109, true, true, false, b"a"), 0),
        DataOutcome::OutOfOrder
    );
    assert_eq!(drain(&mut r), vec![b"ab".to_vec()]);
    assert_eq!(
        r.on_data(&chunk(108, false, true, true, b"o"), 0),
        DataOutcome::InOrder
    );
    assert_eq!(drain(&mut r), vec![b"o".to_vec()]);
    assert_eq!(r.cum_tsn, 110);
    assert_eq!(r.held_bytes, 0);
}

/// A peer that ignores our window: in-order data it sends while the host takes nothing
/// is dropped once the receive buffer is full, whether the messages are ready or wait
/// for an earlier sequence number that never comes; out-of-order chunks beyond the
/// window too. What may drain held data still gets in: the chunk filling a gap, and the
/// rest of a message bigger than the buffer.
#[test]
fn the_receive_buffer_holds_against_a_peer_ignoring_the_window() {
    static KB: [u8; 1000] = [7; 1000];
    let buffer = 10_000;
    let kb: &'static [u8] = &KB;
    let ordered = |tsn: u32, ssn: u16, b: bool, e: bool, p: &'static [u8]| DataChunk {
        ssn,
        ..chunk(tsn, false, b, e, p)
    };

    // Ready messages the host never takes.
    let mut r = Receiver::new(buffer, 1 << 18, 16, 0);
    r.establish(1, 10);
    let mut dropped = 0;
    for i in 0..50u32 {
        match r.on_data(&ordered(1 + i, i as u16, true, true, kb), 0) {
            DataOutcome::InOrder => {}
            DataOutcome::Dropped => dropped += 1,
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(dropped, 40);
    assert_eq!(r.sizes().4, buffer, "ten messages ready, no more");
    assert_eq!(r.a_rwnd(0), 0);
    // Delivered-but-untaken bytes (`extra`) count the same.
    let mut r = Receiver::new(buffer, 1 << 18, 16, 0);
    r.establish(1, 10);
    assert_eq!(
        r.on_data(&ordered(1, 0, true, true, kb), 9_500),
        DataOutcome::Dropped
    );

    // Messages waiting for sequence number 0, which never comes.
    let mut r = Receiver::new(buffer, 1 << 18, 16, 0);
    r.establish(1, 10);
    let mut dropped = 0;
    for i in 0..50u32 {
        if r.on_data(&ordered(1 + i, 1 + i as u16, true, true, kb), 0) == DataOutcome::Dropped {
            dropped += 1;
        }
    }
    assert_eq!(dropped, 40);
    assert_eq!(r.held_bytes, buffer);

    // Beyond a gap: held up to the window; the gap's chunk still gets in and drains it.
    let mut r = Receiver::new(buffer, 1 << 18, 16, 0);
    r.establish(1, 10);
    let mut dropped = 0;
    for i in 1..50u32 {
        match r.on_data(&ordered(1 + i, i as u16, true, true, kb), 0) {
            DataOutcome::OutOfOrder => {}
            DataOutcome::Dropped => dropped += 1,
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(dropped, 39);
    assert_eq!(r.held_bytes, buffer);
    assert_eq!(
        r.on_data(&ordered(1, 0, true, true, kb), 0),
        DataOutcome::InOrder
    );
    assert_eq!(drain(&mut r).len(), 11);
    assert_eq!(r.held_bytes + r.sizes().4, 0);

    // A message of 30 kB through a 10 kB buffer: its chunks keep coming in.
    let mut r = Receiver::new(buffer, 1 << 18, 16, 0);
    r.establish(1, 10);
    for i in 0..30u32 {
        let c = ordered(1 + i, 0, i == 0, i == 29, kb);
        assert_eq!(r.on_data(&c, 0), DataOutcome::InOrder, "chunk {i}");
    }
    assert_eq!(drain(&mut r), vec![vec![7u8; 30_000]]);
}

fn ordered(tsn: u32, ssn: u16, payload: &[u8]) -> DataChunk<'_> {
    DataChunk {
        ssn,
        ..chunk(tsn, false, true, true, payload)
    }
}

/// Found by fuzzing: a FORWARD TSN from before a stream reset (duplicated or late) must
/// not move the reset stream's new sequence, or every later message would look stale
/// and be lost although acknowledged.
#[test]
fn a_forward_tsn_from_before_a_reset_leaves_the_new_sequence_alone() {
    let mut r = Receiver::new(1 << 20, 1 << 18, 16, 64 * 1024);
    r.establish(100, 10);
    for (i, t) in (100..104).enumerate() {
        r.on_data(&ordered(t, i as u16, &[i as u8]), 0);
    }
    assert_eq!(drain(&mut r).len(), 4);
    r.on_forward_tsn(103, [(1, 3)].into_iter());
    r.reset_stream(1);
    // The same FORWARD TSN again, after the reset.
    r.on_forward_tsn(103, [(1, 3)].into_iter());
    r.on_data(&ordered(104, 0, b"new 0"), 0);
    r.on_data(&ordered(105, 1, b"new 1"), 0);
    assert_eq!(drain(&mut r), vec![b"new 0".to_vec(), b"new 1".to_vec()]);
}

/// RFC 3758 §3.6: messages that arrived whole but wait for an abandoned earlier one are
/// delivered when a FORWARD TSN skips it (the sender counts them acknowledged).
#[test]
fn a_forward_tsn_releases_the_complete_messages_it_covers() {
    let mut r = Receiver::new(1 << 20, 1 << 18, 16, 64 * 1024);
    r.establish(100, 10);
    // SSN 0 never comes; SSNs 1 and 2 arrive in TSN order and wait for it.
    r.on_data(&ordered(100, 1, b"one"), 0);
    r.on_data(&ordered(101, 2, b"two"), 0);
    assert!(drain(&mut r).is_empty());
    // The sender gives up on stream 1 up to SSN 2: what arrived is delivered, in order.
    r.on_forward_tsn(101, [(1, 2)].into_iter());
    assert_eq!(drain(&mut r), vec![b"one".to_vec(), b"two".to_vec()]);
    r.on_data(&ordered(102, 3, b"three"), 0);
    assert_eq!(drain(&mut r), vec![b"three".to_vec()]);
}

/// Found by fuzzing: messages that arrived whole but wait behind abandoned ones when the
/// peer's reset is performed are delivered, in order, not dropped. By then every TSN up
/// to the request's last one is in or skipped, so nothing else can come before them;
/// and the sender counts them acknowledged.
#[test]
fn a_reset_delivers_the_old_sequence_that_waits() {
    let mut r = Receiver::new(1 << 20, 1 << 18, 16, 64 * 1024);
    r.establish(100, 10);
    // SSN 0 of stream 1 was abandoned (never sent); SSNs 1 and 2 wait for it.
    r.on_data(&ordered(100, 2, b"two"), 0);
    r.on_data(&ordered(101, 1, b"one"), 0);
    assert!(drain(&mut r).is_empty());
    r.reset_stream(1);
    assert_eq!(drain(&mut r), vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(r.held_bytes, 0);
    // The new sequence starts at 0.
    r.on_data(&ordered(102, 0, b"new"), 0);
    assert_eq!(drain(&mut r), vec![b"new".to_vec()]);
}

/// Found by fuzzing (the sender's half of the above): once a stream's reset is asked
/// for, FORWARD TSNs stop naming its old sequence numbers. The peer, having performed
/// the reset, would otherwise apply a late one to the new sequence (it repeated while
/// the SACKs were lost) and drop the new messages as stale.
#[test]
fn forward_tsns_leave_out_a_stream_whose_reset_was_asked_for() {
    let rto = Rto::new(
        Duration::from_secs(1),
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    let mut s = Sender::new(1000, 1200, rto, 16, 0);
    s.establish(1000, 1 << 20, 16, true);
    let opts = SendOptions {
        unordered: false,
        reliability: Reliability::MaxRetransmits(0),
    };
    for stream in [1, 2] {
        assert!(s.send(stream, 51, vec![7; 10], opts, 1 << 20, true).is_ok());
    }
    let now = Instant::from_millis(0);
    while s.next_chunk(now, 1200).is_some() {}
    // Both are lost; with no retransmission allowed, both are abandoned.
    s.on_t3_timeout(Instant::from_millis(2000));
    assert_eq!(s.forward_tsn(), Some((1001, vec![(1, 0), (2, 0)])));
    s.reset_requested(1);
    assert_eq!(s.forward_tsn(), Some((1001, vec![(2, 0)])));
}
