//! The SCTP wire codec on arbitrary bytes: the common header and its CRC32c, the chunk
//! iterator, and every typed chunk view in `sansrtc::sctp::wire::chunks`.
//!
//! The input is tried three ways:
//! - as a packet, as it is (the checksum almost never matches, so this mostly tests the
//!   rejection path);
//! - as a packet with its checksum fixed up by `write_checksum` on a copy, so the chunk
//!   iterator and every chunk parser are reached with the fuzzer's bytes;
//! - as the value of a single chunk, against every typed view (the fuzzer finds each
//!   view's format on its own).
//!
//! Every chunk is fed to every typed view, whatever its type code.
//!
//! Checked:
//! - nothing panics;
//! - `Packet::parse` reads the header fields from their places, and accepts exactly the
//!   inputs of at least 12 bytes whose checksum field is `checksum(input)`;
//!   `write_checksum` makes any such input acceptable;
//! - the chunk iterator makes progress, yields at most one `Err` (and then ends), and
//!   every chunk's value lies within the packet; the chunks written back with
//!   `Writer::chunk` under the same header make a packet that parses to the same chunks;
//! - the TLV iterator likewise (progress, one `Err` at most, then the end);
//! - round trips through the writers give equal values: `DataChunk::write`,
//!   `Init::write` (INIT and INIT ACK), `write_sack`, `write_forward_tsn`, `write_tlv`,
//!   `write_outgoing_reset` and `write_reconfig_response`; where the view keeps every
//!   byte, the encoding is the very value that was parsed;
//! - the views agree with each other: `Init::state_cookie`, `supports` and `params_ok`
//!   with a walk over `tlvs()`; `Sack::gap_count` with `gap_blocks()`; `stream_ids` with
//!   the stream list's length;
//! - the writers never write past their buffer: in a buffer one byte too short they
//!   refuse, and `Writer::chunk` then leaves the writer where it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::sctp::wire::chunks::{
    self, DATA_HEADER_LEN, DataChunk, ForwardTsn, Init, PARAM_FORWARD_TSN_SUPPORTED,
    PARAM_RECONFIG_RESPONSE, PARAM_STATE_COOKIE, PARAM_SUPPORTED_EXTENSIONS, ReconfigParam, Sack,
    Tlv, Tlvs,
};
use sansrtc::sctp::wire::{
    CHUNK_HEADER_LEN, COMMON_HEADER_LEN, Packet, PacketError, RawChunk, Writer, checksum,
    chunk_type as ct, write_checksum,
};

fuzz_target!(|data: &[u8]| {
    // The input as it is.
    if let Ok(p) = packet(data) {
        walk_packet(&p, data);
    }

    // The input with its checksum made right: the chunk parsers see the fuzzer's bytes.
    let mut fixed = data.to_vec();
    write_checksum(&mut fixed);
    match packet(&fixed) {
        Ok(p) => walk_packet(&p, &fixed),
        Err(e) => {
            assert!(
                fixed.len() < COMMON_HEADER_LEN,
                "fixed packet rejected: {e:?}"
            );
            assert_eq!(e, PacketError::TooShort);
        }
    }

    // The input as one chunk's value, under a type and flags taken from its first bytes
    // (the views ignore the type, so any will do).
    if let [ty, flags, value @ ..] = data
        && value.len() <= usize::from(u16::MAX) - CHUNK_HEADER_LEN
    {
        every_view(&RawChunk {
            ty: *ty,
            flags: *flags,
            value,
        });
    }
});

/// `Packet::parse`, checked against the definition of the header and the checksum.
fn packet(data: &[u8]) -> Result<Packet<'_>, PacketError> {
    let r = Packet::parse(data);
    match &r {
        Ok(p) => {
            assert!(data.len() >= COMMON_HEADER_LEN);
            assert_eq!(p.src_port, u16::from_be_bytes([data[0], data[1]]));
            assert_eq!(p.dst_port, u16::from_be_bytes([data[2], data[3]]));
            assert_eq!(
                p.verification_tag,
                u32::from_be_bytes([data[4], data[5], data[6], data[7]])
            );
            assert_eq!(
                u32::from_le_bytes([data[8], data[9], data[10], data[11]]),
                checksum(data)
            );
            assert_eq!(p.chunk_bytes, &data[COMMON_HEADER_LEN..]);
        }
        Err(PacketError::TooShort) => assert!(data.len() < COMMON_HEADER_LEN),
        Err(PacketError::BadChecksum) => {
            assert!(data.len() >= COMMON_HEADER_LEN);
            assert_ne!(
                u32::from_le_bytes([data[8], data[9], data[10], data[11]]),
                checksum(data)
            );
        }
    }
    // RFC 9653: accepting zero checksums adds exactly the packets whose field is zero.
    let zero_field = data.get(8..12) == Some(&[0u8; 4][..]);
    match Packet::parse_with(data, true) {
        Ok(q) => {
            assert!(r.is_ok() || zero_field);
            assert_eq!(q.chunk_bytes, &data[COMMON_HEADER_LEN..]);
        }
        Err(e) => assert!(r == Err(e) && !zero_field),
    }
    r
}

/// The chunks of a parsed packet: framing, a rebuilt packet, and every view of each.
fn walk_packet(p: &Packet<'_>, raw: &[u8]) {
    let area = p.chunk_bytes;
    let mut chunks = Vec::new();
    let mut errors = 0usize;
    let mut it = p.chunks();
    let mut steps = 0usize;
    for c in it.by_ref() {
        steps += 1;
        // Every chunk takes at least its 4-byte header.
        assert!(
            steps <= area.len() / CHUNK_HEADER_LEN + 1,
            "chunk iterator made no progress"
        );
        match c {
            Ok(c) => {
                assert_eq!(errors, 0, "a chunk after an error");
                assert!(within(c.value, area), "chunk value outside the packet");
                assert!(c.value.len() + CHUNK_HEADER_LEN <= usize::from(u16::MAX));
                chunks.push(c);
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1, "more than one chunk error");
    assert!(it.next().is_none(), "chunk iterator resumed after its end");
    assert_eq!(p.chunks().count(), steps);

    for c in &chunks {
        every_view(c);
    }
    rebuild_packet(p, &chunks, raw);
}

/// Whether `inner` is a subslice of `outer`.
fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// The header and the well-formed chunks written back make a packet that parses to the
/// same header and chunks. When it is as long as the original, the two differ at most in
/// the checksum and in padding (written back as zeros).
fn rebuild_packet(p: &Packet<'_>, chunks: &[RawChunk<'_>], raw: &[u8]) {
    let mut buf = vec![0u8; raw.len() + 3];
    let mut w = Writer::new(&mut buf);
    w.common_header(p.src_port, p.dst_port, p.verification_tag)
        .expect("room for the header");
    for c in chunks {
        w.chunk(c.ty, c.flags, |w| w.bytes(c.value))
            .expect("room for the chunk");
    }
    let n = w.len();
    let enc = &mut buf[..n];
    write_checksum(enc);
    let q = Packet::parse(enc).expect("rebuilt packet parses");
    assert_eq!(
        (q.src_port, q.dst_port, q.verification_tag),
        (p.src_port, p.dst_port, p.verification_tag)
    );
    let again: Vec<RawChunk<'_>> = q
        .chunks()
        .map(|c| c.expect("rebuilt chunk frames"))
        .collect();
    assert_eq!(again, chunks, "rebuilt packet has other chunks");
    if n == raw.len() {
        for (i, (e, r)) in enc.iter().zip(raw).enumerate().skip(COMMON_HEADER_LEN) {
            assert!(e == r || *e == 0, "rebuilt packet differs at byte {i}");
        }
    }
}

/// Feeds a chunk to every typed view, whatever its type.
fn every_view(c: &RawChunk<'_>) {
    data_view(c);
    init_view(c);
    sack_view(c);
    forward_tsn_view(c);
    tlvs_view(c.value);
}

/// Writes with `f` into a buffer of `cap` bytes; the written bytes, or `None` if `f`
/// refused. A writer never claims more than its buffer.
fn write_into(cap: usize, f: impl FnOnce(&mut Writer<'_>) -> Option<()>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    let mut w = Writer::new(&mut buf);
    let r = f(&mut w);
    let n = w.len();
    assert!(n <= cap, "writer wrote {n} bytes into {cap}");
    assert_eq!(w.remaining(), cap - n);
    assert_eq!(w.is_empty(), n == 0);
    assert_eq!(w.written().len(), n);
    r.map(|()| buf[..n].to_vec())
}

/// Writes a chunk with `f` (which must use `Writer::chunk`) into a buffer exactly its
/// size and parses it back as the only chunk of the buffer. In a buffer one byte shorter
/// the writer refuses and rewinds to where it started.
fn chunk_round_trip(size: usize, f: impl Fn(&mut Writer<'_>) -> Option<()>) -> (u8, u8, Vec<u8>) {
    assert_eq!(size % 4, 0, "chunks are padded");
    let enc = write_into(size, &f).expect("chunk fits its own size");
    assert_eq!(enc.len(), size);
    let short = {
        let mut buf = vec![0u8; size - 1];
        let mut w = Writer::new(&mut buf);
        let r = f(&mut w);
        (r, w.len())
    };
    assert_eq!(short, (None, 0), "chunk writer overran or did not rewind");
    // Parse it back through a packet, as a receiver would.
    let mut pkt = vec![0u8; COMMON_HEADER_LEN];
    pkt.extend_from_slice(&enc);
    write_checksum(&mut pkt);
    let p = Packet::parse(&pkt).expect("own packet");
    let mut it = p.chunks();
    let c = it.next().expect("one chunk").expect("own chunk frames");
    assert!(it.next().is_none(), "own chunk is not alone");
    (c.ty, c.flags, c.value.to_vec())
}

/// Bytes a chunk with a value of `n` bytes takes, padded.
fn padded_chunk(n: usize) -> usize {
    (CHUNK_HEADER_LEN + n + 3) & !3
}

fn data_view(c: &RawChunk<'_>) {
    let Some(d) = DataChunk::parse(c) else {
        assert!(c.value.len() < DATA_HEADER_LEN - CHUNK_HEADER_LEN);
        return;
    };
    assert_eq!(d.payload, &c.value[DATA_HEADER_LEN - CHUNK_HEADER_LEN..]);
    assert_eq!(d.flags(), c.flags & 0x0f);
    let size = padded_chunk(c.value.len());
    let (ty, flags, value) = chunk_round_trip(size, |w| d.write(w));
    assert_eq!(ty, ct::DATA);
    assert_eq!(flags, d.flags());
    // The view keeps every byte of the value.
    assert_eq!(value, c.value, "DATA does not re-encode to its value");
    let raw = RawChunk {
        ty,
        flags,
        value: &value,
    };
    assert_eq!(
        DataChunk::parse(&raw),
        Some(d),
        "DATA changed in a round trip"
    );
}

fn init_view(c: &RawChunk<'_>) {
    let Some(init) = Init::parse(c) else {
        assert!(c.value.len() < 16);
        return;
    };
    assert_eq!(init.params, &c.value[16..]);
    let params: Vec<Result<Tlv<'_>, ()>> = init.tlvs().collect();
    let good = || params.iter().map_while(|p| p.as_ref().ok());
    assert_eq!(init.params_ok(), params.iter().all(Result::is_ok));
    assert_eq!(
        init.state_cookie(),
        good().find(|p| p.ty == PARAM_STATE_COOKIE).map(|p| p.value)
    );
    for ty in [
        ct::DATA,
        ct::FORWARD_TSN,
        ct::RECONFIG,
        ct::PAD,
        c.ty,
        c.flags,
    ] {
        let expect = good().any(|p| {
            (p.ty == PARAM_SUPPORTED_EXTENSIONS && p.value.contains(&ty))
                || (ty == ct::FORWARD_TSN && p.ty == PARAM_FORWARD_TSN_SUPPORTED)
        });
        assert_eq!(init.supports(ty), expect, "supports({ty}) disagrees");
    }
    for p in good() {
        tlvs_view(p.value);
    }
    let size = padded_chunk(c.value.len());
    for ty in [ct::INIT, ct::INIT_ACK] {
        let (t, flags, value) = chunk_round_trip(size, |w| init.write(w, ty));
        assert_eq!((t, flags), (ty, 0));
        assert_eq!(value, c.value, "INIT does not re-encode to its value");
        let raw = RawChunk {
            ty,
            flags,
            value: &value,
        };
        assert_eq!(
            Init::parse(&raw),
            Some(init),
            "INIT changed in a round trip"
        );
    }
}

fn sack_view(c: &RawChunk<'_>) {
    let Some(sack) = Sack::parse(c) else {
        // Too short for the fixed part, or for the blocks it announces.
        let v = c.value;
        let count = |at: usize| {
            v.get(at..at + 2)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        };
        let (n_gaps, n_dups) = (count(8), count(10));
        assert!(v.len() < 12 + 4 * (n_gaps + n_dups));
        return;
    };
    let gaps: Vec<(u16, u16)> = sack.gap_blocks().collect();
    let dups: Vec<u32> = sack.dup_tsns().collect();
    assert_eq!(gaps.len(), sack.gap_count());
    let v = c.value;
    assert_eq!(
        usize::from(u16::from_be_bytes([v[8], v[9]])),
        gaps.len(),
        "gap count"
    );
    assert_eq!(
        usize::from(u16::from_be_bytes([v[10], v[11]])),
        dups.len(),
        "dup count"
    );
    let used = 12 + 4 * (gaps.len() + dups.len());
    let size = padded_chunk(used);
    let (ty, flags, value) = chunk_round_trip(size, |w| {
        chunks::write_sack(
            w,
            sack.cum_tsn_ack,
            sack.a_rwnd,
            gaps.iter().copied(),
            &dups,
        )
    });
    assert_eq!((ty, flags), (ct::SACK, 0));
    // The view ignores what follows the blocks; the rest is written back as it was.
    assert_eq!(value, &v[..used], "SACK does not re-encode to its value");
    let raw = RawChunk {
        ty,
        flags,
        value: &value,
    };
    let again = Sack::parse(&raw).expect("own SACK parses");
    assert_eq!(again, sack, "SACK changed in a round trip");
    assert_eq!(
        (again.cum_tsn_ack, again.a_rwnd),
        (sack.cum_tsn_ack, sack.a_rwnd)
    );
    assert!(again.gap_blocks().eq(gaps.iter().copied()), "gaps changed");
    assert!(again.dup_tsns().eq(dups.iter().copied()), "dups changed");
}

fn forward_tsn_view(c: &RawChunk<'_>) {
    let Some(f) = ForwardTsn::parse(c) else {
        assert!(c.value.len() < 4);
        return;
    };
    let streams: Vec<(u16, u16)> = f.streams().collect();
    assert_eq!(streams.len(), (c.value.len() - 4) / 4);
    let used = 4 + 4 * streams.len();
    let (ty, flags, value) = chunk_round_trip(padded_chunk(used), |w| {
        chunks::write_forward_tsn(w, f.new_cum_tsn, &streams)
    });
    assert_eq!((ty, flags), (ct::FORWARD_TSN, 0));
    // A trailing partial entry is ignored by the view; the rest comes back as it was.
    assert_eq!(value, &c.value[..used], "FORWARD TSN does not re-encode");
    let raw = RawChunk {
        ty,
        flags,
        value: &value,
    };
    let again = ForwardTsn::parse(&raw).expect("own FORWARD TSN parses");
    assert_eq!(again.new_cum_tsn, f.new_cum_tsn);
    assert!(
        again.streams().eq(streams.iter().copied()),
        "streams changed"
    );
}

/// TLVs over `bytes`: framing, `write_tlv` round trips, and every TLV as a RE-CONFIG
/// parameter.
fn tlvs_view(bytes: &[u8]) {
    let mut it = Tlvs::new(bytes);
    let mut steps = 0usize;
    let mut errors = 0usize;
    for t in it.by_ref() {
        steps += 1;
        assert!(
            steps <= bytes.len() / 4 + 1,
            "TLV iterator made no progress"
        );
        match t {
            Ok(t) => {
                assert_eq!(errors, 0, "a TLV after an error");
                assert!(within(t.value, bytes), "TLV value outside its bytes");
                tlv_round_trip(&t);
                reconfig_view(&t);
            }
            Err(()) => errors += 1,
        }
    }
    assert!(errors <= 1);
    assert!(it.next().is_none(), "TLV iterator resumed after its end");
}

/// Parses the only TLV of `enc`.
fn only_tlv(enc: &[u8]) -> Tlv<'_> {
    let mut it = Tlvs::new(enc);
    let t = it.next().expect("one TLV").expect("own TLV frames");
    assert!(it.next().is_none(), "own TLV is not alone");
    t
}

fn tlv_round_trip(t: &Tlv<'_>) {
    let size = (4 + t.value.len() + 3) & !3;
    let enc = write_into(size, |w| chunks::write_tlv(w, t.ty, t.value)).expect("TLV fits its size");
    assert_eq!(enc.len(), size);
    assert_eq!(&only_tlv(&enc), t, "TLV changed in a round trip");
    assert!(
        write_into(size - 1, |w| chunks::write_tlv(w, t.ty, t.value)).is_none(),
        "TLV written into too short a buffer"
    );
}

fn reconfig_view(t: &Tlv<'_>) {
    let Some(p) = ReconfigParam::parse(t) else {
        // Only the three known requests and responses can be malformed.
        assert!(matches!(
            t.ty,
            chunks::PARAM_OUTGOING_RESET | chunks::PARAM_INCOMING_RESET | PARAM_RECONFIG_RESPONSE
        ));
        return;
    };
    match p {
        ReconfigParam::OutgoingReset {
            req_seq,
            resp_seq,
            last_tsn,
            streams,
        } => {
            assert_eq!(t.ty, chunks::PARAM_OUTGOING_RESET);
            let ids: Vec<u16> = chunks::stream_ids(streams).collect();
            assert_eq!(ids.len() * 2, streams.len());
            let size = (16 + streams.len() + 3) & !3;
            let enc = write_into(size, |w| {
                chunks::write_outgoing_reset(w, req_seq, resp_seq, last_tsn, &ids)
            })
            .expect("request fits its size");
            assert_eq!(enc.len(), size);
            let again = only_tlv(&enc);
            assert_eq!(&again, t, "outgoing reset request changed in a round trip");
            assert_eq!(ReconfigParam::parse(&again), Some(p));
            assert!(
                write_into(size - 1, |w| {
                    chunks::write_outgoing_reset(w, req_seq, resp_seq, last_tsn, &ids)
                })
                .is_none()
            );
        }
        ReconfigParam::IncomingReset { req_seq, streams } => {
            assert_eq!(t.ty, chunks::PARAM_INCOMING_RESET);
            assert_eq!(req_seq.to_be_bytes(), t.value[..4]);
            assert_eq!(chunks::stream_ids(streams).count() * 2, streams.len());
        }
        ReconfigParam::Response { resp_seq, result } => {
            assert_eq!(t.ty, PARAM_RECONFIG_RESPONSE);
            let enc = write_into(12, |w| chunks::write_reconfig_response(w, resp_seq, result))
                .expect("response fits");
            let again = only_tlv(&enc);
            // Optional sender's/receiver's next TSNs (RFC 6525 §4.4) are not kept.
            assert_eq!(again.value, &t.value[..8]);
            assert_eq!(ReconfigParam::parse(&again), Some(p));
        }
        ReconfigParam::Other { ty, req_seq } => {
            assert_eq!(ty, t.ty);
            assert_eq!(
                req_seq,
                t.value
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            );
        }
    }
}
