//! Unit tests of the SCTP association and its halves.

use super::recv::{DataOutcome, Receiver};
use super::wire::chunks::DataChunk;

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
