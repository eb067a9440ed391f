//! The RTP wire codec on arbitrary bytes: `RtpHeader::parse`, the RFC 8285 extension
//! iterator (one-byte and two-byte forms), the extension value readers in
//! `sansrtc::rtp::wire::ext`, `is_rtcp`, and the writer `RtpHeaderRepr::write`.
//!
//! The input is tried three ways: as an RTP packet as it is; as the same packet with the
//! version bits forced to 2 (so the rest of the parser is reached more often); and as the
//! data of an extension block in either RFC 8285 form.
//!
//! Checked:
//! - nothing panics;
//! - `is_rtcp` is its definition (RFC 5761 §4 with the marker masked);
//! - `RtpHeader::parse` reads the fixed fields from their places, accepts only version 2,
//!   and splits the packet exactly into header, payload and padding;
//! - the extension iterator makes progress and yields values within the block; the
//!   elements written back by `RtpHeaderRepr::write` (in the form it picks) parse to the
//!   same elements;
//! - a parsed packet written back with its CSRCs, elements, payload and padding parses to
//!   the same fields; without an extension block the bytes are the same, except the
//!   padding's filler (written as zeros);
//! - the writer refuses a buffer one byte too short;
//! - each extension value reader agrees with its writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::rtp::wire::ext::{self, AudioLevel};
use sansrtc::rtp::wire::{
    ExtensionBlock, ExtensionForm, RTP_HEADER_LEN, RtpHeader, RtpHeaderRepr, WireError, is_rtcp,
};

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        is_rtcp(data),
        data.get(1).is_some_and(|b| (64..=95).contains(&(b & 0x7f)))
    );
    packet(data);
    if let Some((first, rest)) = data.split_first() {
        let mut fixed = vec![0x80 | (first & 0x3f)];
        fixed.extend_from_slice(rest);
        packet(&fixed);
    }
    for profile in [0xbede, 0x1000, 0x100f] {
        block(&ExtensionBlock { profile, data });
    }
});

/// Parses `data` as an RTP packet and checks the view and its round trip.
fn packet(data: &[u8]) {
    let h = match RtpHeader::parse(data) {
        Ok(h) => h,
        Err(WireError::BadVersion) => {
            assert!(data.len() >= RTP_HEADER_LEN && data[0] >> 6 != 2);
            return;
        }
        Err(_) => return,
    };
    assert!(data.len() >= RTP_HEADER_LEN);
    assert_eq!(data[0] >> 6, 2);
    assert_eq!(h.marker, data[1] & 0x80 != 0);
    assert_eq!(h.payload_type, data[1] & 0x7f);
    assert_eq!(h.sequence_number, u16::from_be_bytes([data[2], data[3]]));
    assert_eq!(
        h.timestamp,
        u32::from_be_bytes([data[4], data[5], data[6], data[7]])
    );
    assert_eq!(
        h.ssrc,
        u32::from_be_bytes([data[8], data[9], data[10], data[11]])
    );
    assert_eq!(h.csrc_count(), usize::from(data[0] & 0x0f));
    assert_eq!(h.extension.is_some(), data[0] & 0x10 != 0);
    assert_eq!(h.padding != 0, data[0] & 0x20 != 0);
    assert_eq!(
        h.header_len() + h.payload.len() + usize::from(h.padding),
        data.len()
    );
    assert_eq!(
        h.payload,
        &data[h.header_len()..data.len() - usize::from(h.padding)]
    );
    if h.padding != 0 {
        assert_eq!(data.last(), Some(&h.padding));
    }

    let csrcs: Vec<u32> = h.csrcs().collect();
    assert_eq!(csrcs.len(), h.csrc_count());
    let elements: Vec<(u8, &[u8])> = h.extensions().collect();
    if let Some(e) = h.extension {
        block(&e);
    } else {
        assert!(elements.is_empty());
    }
    for (id, value) in &elements {
        values(value);
        assert!(h.extension(*id).is_some());
    }

    let repr = RtpHeaderRepr {
        marker: h.marker,
        payload_type: h.payload_type,
        sequence_number: h.sequence_number,
        timestamp: h.timestamp,
        ssrc: h.ssrc,
        csrcs: &csrcs,
        extensions: &elements,
        padding: h.padding,
    };
    let len = repr.header_len() + h.payload.len() + usize::from(h.padding);
    let mut buf = vec![0u8; len];
    // Elements read from a two-byte block with id 0 never come out, so the writer can
    // always encode what the iterator yields.
    assert_eq!(repr.write(&mut buf, h.payload), Some(len), "rewrite failed");
    assert_eq!(repr.write(&mut vec![0u8; len - 1], h.payload), None);
    let again = RtpHeader::parse(&buf).expect("rewritten packet parses");
    assert_eq!(
        (again.marker, again.payload_type, again.sequence_number),
        (h.marker, h.payload_type, h.sequence_number)
    );
    assert_eq!((again.timestamp, again.ssrc), (h.timestamp, h.ssrc));
    assert_eq!((again.payload, again.padding), (h.payload, h.padding));
    assert!(again.csrcs().eq(csrcs.iter().copied()));
    assert!(again.extensions().eq(elements.iter().copied()));
    assert_eq!(again.header_len(), repr.header_len());
    if h.extension.is_none() {
        let body = data.len() - usize::from(h.padding);
        assert_eq!(buf[..body], data[..body], "rewrite changed the packet");
    }
}

/// The elements of an extension block: progress, bounds, and a round trip through the
/// writer.
fn block(e: &ExtensionBlock<'_>) {
    let mut it = e.elements();
    let mut elements = Vec::new();
    for (id, value) in it.by_ref() {
        assert!(
            elements.len() < e.data.len(),
            "extension iterator made no progress"
        );
        assert_ne!(id, 0);
        match e.form() {
            Some(ExtensionForm::OneByte) => {
                assert!((1..=14).contains(&id));
                assert!((1..=16).contains(&value.len()));
            }
            Some(ExtensionForm::TwoByte) => {}
            None => panic!("elements from a non-RFC 8285 profile"),
        }
        assert!(within(value, e.data));
        elements.push((id, value));
    }
    assert!(
        it.next().is_none(),
        "extension iterator resumed after its end"
    );
    let repr = RtpHeaderRepr {
        extensions: &elements,
        ..RtpHeaderRepr::default()
    };
    let mut buf = vec![0u8; repr.header_len()];
    match repr.write(&mut buf, &[]) {
        Some(n) => assert_eq!(n, buf.len()),
        // A block can hold more than 65535 words of elements only in theory: fuzz inputs
        // are far smaller.
        None => panic!("elements could not be written back"),
    }
    let again = RtpHeader::parse(&buf).expect("written elements parse");
    assert!(again.extensions().eq(elements.iter().copied()));
    assert_eq!(
        again.extension.and_then(|b| b.form()),
        repr.extension_form()
    );
}

/// Every extension value reader on `value`, with its writer.
fn values(value: &[u8]) {
    if let Some(t) = ext::abs_send_time(value) {
        assert_eq!(ext::abs_send_time_bytes(t), value);
        assert!(ext::abs_send_time_to_micros(t) < 64_000_000);
        let back = ext::abs_send_time_from_micros(ext::abs_send_time_to_micros(t));
        assert!(t - back <= 1, "abs-send-time {t} came back as {back}");
    } else {
        assert_ne!(value.len(), 3);
    }
    match ext::transport_cc(value) {
        Some(s) => assert_eq!(ext::transport_cc_bytes(s), value),
        None => assert_ne!(value.len(), 2),
    }
    if let Some(mid) = ext::mid(value) {
        let b = ext::text_bytes(mid).expect("a MID read is writable");
        assert!(value.starts_with(b));
        assert!(value.len() == b.len() || value[b.len()] == 0);
    }
    if let Some(rid) = ext::rid(value) {
        assert_eq!(ext::mid(value), Some(rid));
    }
    match AudioLevel::parse(value) {
        Some(a) => assert_eq!(a.to_bytes(), value),
        None => assert_ne!(value.len(), 1),
    }
}

/// Whether `inner` is a subslice of `outer`.
fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}
