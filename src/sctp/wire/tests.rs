//! Unit tests of the SCTP wire codec.
//!
//! Organised like the codec: the CRC32c and the common header, chunk framing, each typed
//! chunk view (DATA, INIT, SACK, FORWARD TSN, RE-CONFIG parameters), then the [`Writer`]
//! and the TLV iterator, and finally property tests. Known answers come from published
//! CRC32c vectors and from packets written out byte by byte here, never from the encoder
//! under test.

use super::chunks::{
    DATA_HEADER_LEN, DataChunk, EDMID_SCTP_OVER_DTLS, ForwardTsn, Init,
    PARAM_FORWARD_TSN_SUPPORTED, PARAM_INCOMING_RESET, PARAM_OUTGOING_RESET,
    PARAM_RECONFIG_RESPONSE, PARAM_STATE_COOKIE, PARAM_SUPPORTED_EXTENSIONS,
    PARAM_ZERO_CHECKSUM_ACCEPTABLE, ReconfigParam, Sack, Tlv, Tlvs, reconfig_result, stream_ids,
    write_forward_tsn, write_outgoing_reset, write_reconfig_response, write_sack, write_tlv,
};
use super::{
    CHUNK_HEADER_LEN, COMMON_HEADER_LEN, ChunkError, Packet, PacketError, RawChunk, Writer,
    checksum, chunk_type as ct, write_checksum,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A bit-at-a-time CRC32c (Castagnoli, reflected polynomial 0x82F63B78, initial value and
/// final XOR all ones): an implementation independent of the `crc32c` crate the codec
/// uses, checked against published vectors below.
fn crc32c_ref(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Decodes a hex string, ignoring spaces (for packets written out by hand).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks_exact(2)
        .map(|p| {
            let s = core::str::from_utf8(p).unwrap();
            u8::from_str_radix(s, 16).unwrap()
        })
        .collect()
}

/// Builds a packet with ports 5000 → 5001 and verification tag `tag`; `f` writes the
/// chunks. The checksum is filled in.
fn packet(tag: u32, f: impl FnOnce(&mut Writer<'_>) -> Option<()>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(&mut buf);
    w.common_header(5000, 5001, tag).unwrap();
    f(&mut w).unwrap();
    let n = w.len();
    buf.truncate(n);
    write_checksum(&mut buf);
    buf
}

/// Encodes a packet holding the chunks `f` writes, parses it back and returns its
/// chunks, which must all frame correctly.
fn round_trip_chunks(f: impl FnOnce(&mut Writer<'_>) -> Option<()>) -> Vec<OwnedChunk> {
    let p = packet(1, f);
    let parsed = Packet::parse(&p).unwrap();
    parsed
        .chunks()
        .map(|c| {
            let c = c.unwrap();
            OwnedChunk {
                ty: c.ty,
                flags: c.flags,
                value: c.value.to_vec(),
            }
        })
        .collect()
}

/// A chunk copied out of its packet, so tests can keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedChunk {
    ty: u8,
    flags: u8,
    value: Vec<u8>,
}

impl OwnedChunk {
    fn raw(&self) -> RawChunk<'_> {
        RawChunk {
            ty: self.ty,
            flags: self.flags,
            value: &self.value,
        }
    }
}

/// One item of a chunk iteration, copied out: type, flags and value, or the error.
type ChunkResult = Result<(u8, u8, Vec<u8>), ChunkError>;

/// The results of iterating the chunk area `bytes`.
fn chunk_results(bytes: &[u8]) -> Vec<ChunkResult> {
    let p = Packet {
        src_port: 0,
        dst_port: 0,
        verification_tag: 0,
        chunk_bytes: bytes,
    };
    p.chunks()
        .map(|c| c.map(|c| (c.ty, c.flags, c.value.to_vec())))
        .collect()
}

/// A RawChunk with the given type and value (flags zero).
fn raw(ty: u8, value: &[u8]) -> RawChunk<'_> {
    RawChunk {
        ty,
        flags: 0,
        value,
    }
}

/// The single TLV of `bytes`.
fn only_tlv(bytes: &[u8]) -> Tlv<'_> {
    let v: Vec<_> = Tlvs::new(bytes).collect();
    assert_eq!(v.len(), 1, "{v:?}");
    v.into_iter().next().unwrap().unwrap()
}

// ---------------------------------------------------------------------------------------
// CRC32c and the common header
// ---------------------------------------------------------------------------------------

/// The reference CRC gives the published answers: the classic check value and the four
/// 32-byte vectors of RFC 3720 Appendix B.4 (which RFC 9260 Appendix B points to).
#[test]
fn reference_crc_matches_published_vectors() {
    assert_eq!(crc32c_ref(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c_ref(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c_ref(&[0xffu8; 32]), 0x62A8_AB43);
    let up: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c_ref(&up), 0x46DD_794E);
    let down: Vec<u8> = (0..32).rev().collect();
    assert_eq!(crc32c_ref(&down), 0x113F_DB5C);
}

/// An all-zero 32-byte packet is RFC 3720's first vector (its checksum field is zero
/// already), and the checksum goes on the wire in the byte order shown there.
#[test]
fn checksum_known_answer_and_byte_order() {
    let mut p = [0u8; 32];
    assert_eq!(checksum(&p), 0x8A91_36AA);
    write_checksum(&mut p);
    assert_eq!(p[8..12], [0xaa, 0x36, 0x91, 0x8a]);
    assert_eq!(p[..8], [0; 8]);
    assert_eq!(p[12..], [0; 20]);
    let parsed = Packet::parse(&p).unwrap();
    assert_eq!(parsed.src_port, 0);
    assert_eq!(parsed.chunk_bytes.len(), 20);
}

/// The checksum is the CRC32c of the packet with its checksum field taken as zero, so
/// whatever is stored in the field does not change it.
#[test]
fn checksum_covers_the_packet_with_the_field_zeroed() {
    let mut p: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    let mut zeroed = p.clone();
    zeroed[8..12].fill(0);
    let want = crc32c_ref(&zeroed);
    assert_eq!(checksum(&p), want);
    p[8..12].copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(checksum(&p), want);
    write_checksum(&mut p);
    assert_eq!(p[8..12], want.to_le_bytes());
    assert!(Packet::parse(&p).is_ok());
    // Shorter than a header: no panic, and `write_checksum` leaves it alone.
    for n in 0..COMMON_HEADER_LEN {
        let mut short = vec![0x5au8; n];
        let _ = checksum(&short);
        write_checksum(&mut short);
        assert_eq!(short, vec![0x5au8; n]);
    }
}

/// An INIT packet written out byte by byte (checksum computed independently) parses, and
/// the encoder produces exactly these bytes.
#[test]
fn hand_built_init_packet() {
    let wire = hex("1388 1388 00000000 cef2cd91
         01 00 0020 12345678 00100000 ffff ffff 0000002a
         8008 0006 c0 82 0000
         c000 0004");
    assert_eq!(wire.len(), 44);
    let p = Packet::parse(&wire).unwrap();
    assert_eq!(
        (p.src_port, p.dst_port, p.verification_tag),
        (5000, 5000, 0)
    );
    let chunks: Vec<_> = p.chunks().collect();
    assert_eq!(chunks.len(), 1);
    let c = chunks[0].unwrap();
    assert_eq!((c.ty, c.flags, c.value.len()), (ct::INIT, 0, 28));
    let init = Init::parse(&c).unwrap();
    assert_eq!(init.initiate_tag, 0x1234_5678);
    assert_eq!(init.a_rwnd, 1 << 20);
    assert_eq!(
        (init.outbound_streams, init.inbound_streams),
        (65535, 65535)
    );
    assert_eq!(init.initial_tsn, 42);
    assert!(init.params_ok());
    assert!(init.supports(ct::FORWARD_TSN));
    assert!(init.supports(ct::RECONFIG));
    assert!(!init.supports(ct::DATA));
    assert_eq!(init.state_cookie(), None);

    // Re-encode with the codec: byte-identical.
    let mut params = [0u8; 12];
    let mut pw = Writer::new(&mut params);
    write_tlv(
        &mut pw,
        PARAM_SUPPORTED_EXTENSIONS,
        &[ct::FORWARD_TSN, ct::RECONFIG],
    )
    .unwrap();
    write_tlv(&mut pw, PARAM_FORWARD_TSN_SUPPORTED, &[]).unwrap();
    assert_eq!(pw.len(), 12);
    let ours = {
        let mut buf = vec![0u8; 44];
        let mut w = Writer::new(&mut buf);
        w.common_header(5000, 5000, 0).unwrap();
        Init {
            params: &params,
            ..init
        }
        .write(&mut w, ct::INIT)
        .unwrap();
        assert_eq!(w.len(), 44);
        write_checksum(&mut buf);
        buf
    };
    assert_eq!(ours, wire);
}

/// A DATA packet written out by hand: flags B|E, a 5-byte payload padded to 8.
#[test]
fn hand_built_data_packet() {
    let wire = hex("1388 1388 deadbeef 2d1abab6
         00 03 0015 00000001 0005 0000 00000033 68656c6c6f 000000");
    let p = Packet::parse(&wire).unwrap();
    assert_eq!(p.verification_tag, 0xdead_beef);
    let c = p.chunks().next().unwrap().unwrap();
    let d = DataChunk::parse(&c).unwrap();
    assert_eq!(
        d,
        DataChunk {
            tsn: 1,
            stream: 5,
            ssn: 0,
            ppid: 51,
            unordered: false,
            beginning: true,
            ending: true,
            immediate: false,
            payload: b"hello",
        }
    );
    assert_eq!(p.chunks().count(), 1);
    // The encoder writes the same bytes.
    let ours = {
        let mut buf = vec![0u8; wire.len()];
        let mut w = Writer::new(&mut buf);
        w.common_header(5000, 5000, 0xdead_beef).unwrap();
        d.write(&mut w).unwrap();
        assert_eq!(w.len(), wire.len());
        write_checksum(&mut buf);
        buf
    };
    assert_eq!(ours, wire);
}

/// A packet we encode parses; flipping any single bit anywhere (checksum field
/// included) makes it fail the checksum. CRC32c detects every single-bit error.
#[test]
fn every_single_bit_flip_is_rejected() {
    let p = packet(0x0102_0304, |w| {
        DataChunk {
            tsn: 77,
            stream: 3,
            ssn: 9,
            ppid: 53,
            unordered: false,
            beginning: true,
            ending: false,
            immediate: true,
            payload: &[0xab; 37],
        }
        .write(w)?;
        write_sack(w, 5, 1000, [(2u16, 4u16)].into_iter(), &[3])
    });
    assert!(Packet::parse(&p).is_ok());
    for bit in 0..p.len() * 8 {
        let mut q = p.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            Packet::parse(&q),
            Err(PacketError::BadChecksum),
            "bit {bit}"
        );
    }
}

/// RFC 9653 §5.2: an endpoint that accepts zero checksums takes a packet whose checksum
/// field is 0 unchecked, and still checks every other value; one that does not, rejects
/// the zero. The INIT parameter carries the method identifier, read back here.
#[test]
fn zero_checksum_accepted_only_when_announced() {
    let mut p = packet(0x0102_0304, |w| {
        write_sack(w, 5, 1000, core::iter::empty(), &[])
    });
    assert!(
        Packet::parse_with(&p, true).is_ok(),
        "a correct CRC32c always passes"
    );
    p[8..12].copy_from_slice(&[0; 4]);
    assert_eq!(Packet::parse(&p), Err(PacketError::BadChecksum));
    assert_eq!(Packet::parse_with(&p, false), Err(PacketError::BadChecksum));
    let parsed = Packet::parse_with(&p, true).unwrap();
    assert_eq!(parsed.verification_tag, 0x0102_0304);
    p[8] = 1;
    assert_eq!(Packet::parse_with(&p, true), Err(PacketError::BadChecksum));

    let mut params = [0u8; 16];
    let mut w = Writer::new(&mut params);
    write_tlv(
        &mut w,
        PARAM_ZERO_CHECKSUM_ACCEPTABLE,
        &EDMID_SCTP_OVER_DTLS.to_be_bytes(),
    )
    .unwrap();
    let n = w.len();
    assert_eq!(&params[..n], &[0x80, 0x01, 0, 8, 0, 0, 0, 1]);
    let init = |params| Init {
        initiate_tag: 1,
        a_rwnd: 1,
        outbound_streams: 1,
        inbound_streams: 1,
        initial_tsn: 1,
        params,
    };
    assert_eq!(init(&params[..n]).zero_checksum_edmid(), Some(1));
    assert_eq!(init(&[]).zero_checksum_edmid(), None);
    // A value of the wrong length is no announcement.
    assert_eq!(
        init(&[0x80, 0x01, 0, 6, 0, 1, 0, 0]).zero_checksum_edmid(),
        None
    );
}

/// Fewer than 12 bytes: TooShort, whatever they hold; exactly a header is a packet
/// without chunks.
#[test]
fn short_packets() {
    for n in 0..COMMON_HEADER_LEN {
        assert_eq!(Packet::parse(&vec![0u8; n]), Err(PacketError::TooShort));
    }
    let p = packet(9, |_| Some(()));
    assert_eq!(p.len(), COMMON_HEADER_LEN);
    let parsed = Packet::parse(&p).unwrap();
    assert!(parsed.chunk_bytes.is_empty());
    assert_eq!(parsed.chunks().count(), 0);
}

/// The common header fields come back, in network byte order on the wire.
#[test]
fn common_header_fields() {
    let p = packet(0xfeed_f00d, |w| w.chunk(ct::COOKIE_ACK, 0, |_| Some(())));
    assert_eq!(p[..8], [0x13, 0x88, 0x13, 0x89, 0xfe, 0xed, 0xf0, 0x0d]);
    let parsed = Packet::parse(&p).unwrap();
    assert_eq!(parsed.src_port, 5000);
    assert_eq!(parsed.dst_port, 5001);
    assert_eq!(parsed.verification_tag, 0xfeed_f00d);
    assert_eq!(parsed.chunk_bytes, &p[COMMON_HEADER_LEN..]);
    assert_eq!(parsed.chunk_bytes, [ct::COOKIE_ACK, 0, 0, 4]);

    // Extreme values.
    let mut buf = [0u8; 12];
    let mut w = Writer::new(&mut buf);
    w.common_header(u16::MAX, 0, u32::MAX).unwrap();
    assert!(w.common_header(1, 1, 1).is_none(), "no room for a second");
    write_checksum(&mut buf);
    let parsed = Packet::parse(&buf).unwrap();
    assert_eq!(
        (parsed.src_port, parsed.dst_port, parsed.verification_tag),
        (u16::MAX, 0, u32::MAX)
    );
}

// ---------------------------------------------------------------------------------------
// Chunk framing
// ---------------------------------------------------------------------------------------

/// Chunks whose lengths are not multiples of 4 are padded on the wire; the iterator
/// strips the padding and finds the next chunk after it.
#[test]
fn chunk_iteration_with_padding() {
    let values: [&[u8]; 6] = [b"", b"a", b"bc", b"def", b"ghij", b"klmno"];
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    for (i, v) in values.iter().enumerate() {
        w.chunk(200 + i as u8, i as u8, |w| w.bytes(v)).unwrap();
        // Every chunk starts 4-aligned.
        assert_eq!(w.len() % 4, 0);
    }
    // 4 + 8 + 8 + 8 + 8 + 12 bytes.
    assert_eq!(w.len(), 48);
    let n = w.len();
    let bytes = &buf[..n];
    // The length fields exclude the padding; the padding is zeros.
    assert_eq!(bytes[4..8], [201, 1, 0, 5]);
    assert_eq!(bytes[8..12], [b'a', 0, 0, 0]);
    assert_eq!(bytes[36..40], [205, 5, 0, 9]);
    assert_eq!(bytes[45..48], [0, 0, 0]);
    let got = chunk_results(bytes);
    assert_eq!(got.len(), values.len());
    for (i, (g, v)) in got.iter().zip(values).enumerate() {
        assert_eq!(g, &Ok((200 + i as u8, i as u8, v.to_vec())));
    }
}

/// The last chunk may omit its padding (the iterator is lenient at the end).
#[test]
fn last_chunk_without_padding() {
    let bytes = [1, 0, 0, 4, 9, 9, 0, 5, b'x'];
    assert_eq!(
        chunk_results(&bytes),
        vec![Ok((1, 0, vec![])), Ok((9, 9, vec![b'x']))]
    );
    // With only part of the padding, too.
    let bytes = [9, 9, 0, 6, b'x', b'y', 0];
    assert_eq!(chunk_results(&bytes), vec![Ok((9, 9, b"xy".to_vec()))]);
}

/// A zero, short (below 4) or overlong length, or a header cut short, yields exactly one
/// `Err` after the good chunks before it, then the iterator stops.
#[test]
fn bad_chunk_lengths_yield_one_error_and_stop() {
    let good = [7u8, 0, 0, 5, 0xee, 0, 0, 0];
    let tails: [&[u8]; 8] = [
        // Length 0.
        &[1, 0, 0, 0, 1, 0, 0, 4],
        // Lengths 1 to 3.
        &[1, 0, 0, 1, 1, 0, 0, 4],
        &[1, 0, 0, 3, 1, 0, 0, 4],
        // Overlong: 9 claimed, 8 present.
        &[1, 0, 0, 9, 1, 2, 3, 4],
        // Far beyond the packet.
        &[1, 0, 0xff, 0xff, 0, 0, 0, 0],
        // A header cut short: 1, 2 and 3 bytes left.
        &[1],
        &[1, 0],
        &[1, 0, 0],
    ];
    for tail in tails {
        let mut bytes = good.to_vec();
        bytes.extend_from_slice(tail);
        let got = chunk_results(&bytes);
        assert_eq!(
            got,
            vec![Ok((7, 0, vec![0xee])), Err(ChunkError::BadLength)],
            "tail {tail:?}"
        );
        // The error comes alone, as the first item, when the bad chunk is first.
        assert_eq!(chunk_results(tail), vec![Err(ChunkError::BadLength)]);
    }
    // After the error the iterator stays exhausted.
    let p = Packet {
        src_port: 0,
        dst_port: 0,
        verification_tag: 0,
        chunk_bytes: &[1, 0, 0, 0],
    };
    let mut it = p.chunks();
    assert_eq!(it.next(), Some(Err(ChunkError::BadLength)));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}

/// A chunk of exactly the maximum length (65535) frames, its value 65531 bytes.
#[test]
fn largest_chunk() {
    let mut buf = vec![0u8; 70_000];
    let mut w = Writer::new(&mut buf);
    let value = vec![0x11u8; 65535 - CHUNK_HEADER_LEN];
    w.chunk(ct::DATA, 0, |w| w.bytes(&value)).unwrap();
    assert_eq!(w.len(), 65536);
    let n = w.len();
    let got = chunk_results(&buf[..n]);
    assert_eq!(got, vec![Ok((ct::DATA, 0, value.clone()))]);
    // One byte more does not fit the length field: refused, nothing written.
    let mut w = Writer::new(&mut buf);
    let too_big = vec![0u8; 65536 - CHUNK_HEADER_LEN];
    assert!(w.chunk(ct::DATA, 0, |w| w.bytes(&too_big)).is_none());
    assert_eq!(w.len(), 0);
}

// ---------------------------------------------------------------------------------------
// DATA
// ---------------------------------------------------------------------------------------

/// Every combination of the I, U, B and E flags survives encoding and parsing, in the
/// bit positions RFC 9260 §3.3.1 and RFC 7053 give them.
#[test]
fn data_chunk_flags_round_trip() {
    for bits in 0u8..16 {
        let d = DataChunk {
            tsn: 0x8000_0001,
            stream: 0xbeef,
            ssn: 0xfffe,
            ppid: 0x0102_0304,
            immediate: bits & 8 != 0,
            unordered: bits & 4 != 0,
            beginning: bits & 2 != 0,
            ending: bits & 1 != 0,
            payload: b"xyz",
        };
        assert_eq!(d.flags(), bits);
        let chunks = round_trip_chunks(|w| d.write(w));
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ty, ct::DATA);
        assert_eq!(chunks[0].flags, bits);
        assert_eq!(chunks[0].value.len(), 12 + 3);
        assert_eq!(DataChunk::parse(&chunks[0].raw()), Some(d));
    }
    // The I/U/B/E bits are 0x08, 0x04, 0x02, 0x01; other flag bits are ignored.
    let v = [0u8; 13];
    let c = RawChunk {
        ty: ct::DATA,
        flags: 0xf0 | 0x04,
        value: &v,
    };
    let d = DataChunk::parse(&c).unwrap();
    assert!(d.unordered && !d.immediate && !d.beginning && !d.ending);
    assert_eq!(d.flags(), 0x04);
}

/// DATA fields are read at their offsets (TSN, stream, SSN, PPID, then payload), and a
/// value too short for the fixed part is refused.
#[test]
fn data_chunk_layout_and_truncation() {
    let v = hex("01020304 0506 0708 090a0b0c ff");
    let d = DataChunk::parse(&raw(ct::DATA, &v)).unwrap();
    assert_eq!(
        (d.tsn, d.stream, d.ssn, d.ppid, d.payload),
        (0x0102_0304, 0x0506, 0x0708, 0x090a_0b0c, &[0xff][..])
    );
    for n in 0..12 {
        assert_eq!(DataChunk::parse(&raw(ct::DATA, &v[..n])), None, "{n}");
    }
    // A chunk with the fixed part and no user data parses with an empty payload: the
    // association rejects it itself (RFC 9260 §6.2, No User Data).
    let d = DataChunk::parse(&raw(ct::DATA, &v[..12])).unwrap();
    assert!(d.payload.is_empty());
    assert_eq!(DATA_HEADER_LEN, CHUNK_HEADER_LEN + 12);
}

/// Writing a DATA chunk that does not fit leaves the writer untouched.
#[test]
fn data_chunk_write_refused_when_full() {
    let d = DataChunk {
        tsn: 1,
        stream: 0,
        ssn: 0,
        ppid: 0,
        unordered: false,
        beginning: true,
        ending: true,
        immediate: false,
        payload: &[1; 10],
    };
    // 16 + 10 = 26, padded 28.
    for size in 0..28 {
        let mut buf = vec![0u8; size];
        let mut w = Writer::new(&mut buf);
        assert!(d.write(&mut w).is_none(), "{size}");
        assert_eq!(w.len(), 0);
    }
    let mut buf = [0u8; 28];
    let mut w = Writer::new(&mut buf);
    d.write(&mut w).unwrap();
    assert_eq!(w.len(), 28);
    assert_eq!(buf[2..4], [0, 26]);
}

// ---------------------------------------------------------------------------------------
// INIT / INIT ACK
// ---------------------------------------------------------------------------------------

/// The parameters an INIT ACK of ours carries, for `cookie`.
fn init_params(cookie: &[u8], exts: &[u8], forward_tsn_param: bool) -> Vec<u8> {
    let mut p = vec![0u8; 64 + cookie.len()];
    let mut w = Writer::new(&mut p);
    if !exts.is_empty() {
        write_tlv(&mut w, PARAM_SUPPORTED_EXTENSIONS, exts).unwrap();
    }
    if forward_tsn_param {
        write_tlv(&mut w, PARAM_FORWARD_TSN_SUPPORTED, &[]).unwrap();
    }
    if !cookie.is_empty() {
        write_tlv(&mut w, PARAM_STATE_COOKIE, cookie).unwrap();
    }
    let n = w.len();
    p.truncate(n);
    p
}

/// An INIT ACK with a state cookie, Supported Extensions and Forward-TSN-Supported
/// round-trips; the cookie and the supported chunk types are found.
#[test]
fn init_with_parameters_round_trip() {
    // A cookie whose length is not a multiple of 4, so its TLV is padded.
    let cookie: Vec<u8> = (1..=37).collect();
    let params = init_params(&cookie, &[ct::FORWARD_TSN, ct::RECONFIG], true);
    let init = Init {
        initiate_tag: 0xa1b2_c3d4,
        a_rwnd: 131_072,
        outbound_streams: 1024,
        inbound_streams: 2048,
        initial_tsn: u32::MAX,
        params: &params,
    };
    for ty in [ct::INIT, ct::INIT_ACK] {
        let chunks = round_trip_chunks(|w| init.write(w, ty));
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].ty, chunks[0].flags), (ty, 0));
        let raw = chunks[0].raw();
        let got = Init::parse(&raw).unwrap();
        assert_eq!(got, init);
        assert!(got.params_ok());
        assert_eq!(got.state_cookie(), Some(&cookie[..]));
        assert!(got.supports(ct::FORWARD_TSN));
        assert!(got.supports(ct::RECONFIG));
        assert!(!got.supports(ct::DATA));
        assert!(!got.supports(ct::PAD));
        let tys: Vec<u16> = got.tlvs().map(|t| t.unwrap().ty).collect();
        assert_eq!(
            tys,
            [
                PARAM_SUPPORTED_EXTENSIONS,
                PARAM_FORWARD_TSN_SUPPORTED,
                PARAM_STATE_COOKIE
            ]
        );
    }
}

/// `supports`: FORWARD TSN by either parameter, anything else only by the list.
#[test]
fn init_supports() {
    let check = |params: &[u8], fwd: bool, reconfig: bool| {
        let init = Init {
            initiate_tag: 1,
            a_rwnd: 1,
            outbound_streams: 1,
            inbound_streams: 1,
            initial_tsn: 1,
            params,
        };
        assert_eq!(init.supports(ct::FORWARD_TSN), fwd, "{params:?}");
        assert_eq!(init.supports(ct::RECONFIG), reconfig, "{params:?}");
    };
    check(&[], false, false);
    check(&init_params(&[], &[], true), true, false);
    check(&init_params(&[], &[ct::RECONFIG], false), false, true);
    check(&init_params(&[], &[ct::FORWARD_TSN], false), true, false);
    check(
        &init_params(&[], &[ct::RECONFIG, ct::FORWARD_TSN], true),
        true,
        true,
    );
    // The padding of the extensions list is not part of it: a list of one type, padded
    // with zeros, does not claim DATA (type 0).
    let p = init_params(&[], &[ct::RECONFIG], false);
    assert_eq!(p, [0x80, 0x08, 0, 5, ct::RECONFIG, 0, 0, 0]);
    let init = Init {
        initiate_tag: 1,
        a_rwnd: 1,
        outbound_streams: 1,
        inbound_streams: 1,
        initial_tsn: 1,
        params: &p,
    };
    assert!(!init.supports(ct::DATA));
}

/// A badly framed parameter area: `params_ok` says so, and lookups stop at the bad TLV
/// (a cookie behind it is not found).
#[test]
fn init_with_bad_parameters() {
    let mut params = init_params(&[], &[ct::RECONFIG], false);
    // A TLV claiming 2 bytes, then a good cookie that must not be reached.
    params.extend_from_slice(&[0x12, 0x34, 0, 2]);
    params.extend_from_slice(&[0, 7, 0, 8, 1, 2, 3, 4]);
    let init = Init {
        initiate_tag: 1,
        a_rwnd: 1,
        outbound_streams: 1,
        inbound_streams: 1,
        initial_tsn: 1,
        params: &params,
    };
    assert!(!init.params_ok());
    assert_eq!(init.state_cookie(), None);
    assert!(
        init.supports(ct::RECONFIG),
        "parameters before it still count"
    );
    // Parameters after the fixed part are optional, but the fixed part is not.
    let fixed = [0u8; 16];
    let i = Init::parse(&raw(ct::INIT, &fixed)).unwrap();
    assert!(i.params.is_empty() && i.params_ok());
    for n in 0..16 {
        assert_eq!(Init::parse(&raw(ct::INIT, &fixed[..n])), None, "{n}");
    }
}

// ---------------------------------------------------------------------------------------
// SACK
// ---------------------------------------------------------------------------------------

/// A SACK with gap blocks and duplicate TSNs round-trips, in the RFC 9260 §3.3.4 layout.
#[test]
fn sack_round_trip() {
    let gaps = [(2u16, 3u16), (5, 9), (11, 65535)];
    let dups = [7u32, 100, u32::MAX];
    let chunks = round_trip_chunks(|w| write_sack(w, 0xffff_fff0, 65_536, gaps.into_iter(), &dups));
    assert_eq!(chunks.len(), 1);
    let c = &chunks[0];
    assert_eq!((c.ty, c.flags), (ct::SACK, 0));
    assert_eq!(c.value.len(), 12 + 4 * 3 + 4 * 3);
    // Counts at offsets 8 and 10, then blocks, then dups.
    assert_eq!(c.value[8..12], [0, 3, 0, 3]);
    assert_eq!(c.value[12..16], [0, 2, 0, 3]);
    assert_eq!(c.value[24..28], [0, 0, 0, 7]);
    let s = Sack::parse(&c.raw()).unwrap();
    assert_eq!(s.cum_tsn_ack, 0xffff_fff0);
    assert_eq!(s.a_rwnd, 65_536);
    assert_eq!(s.gap_count(), 3);
    assert_eq!(s.gap_blocks().collect::<Vec<_>>(), gaps);
    assert_eq!(s.dup_tsns().collect::<Vec<_>>(), dups);
}

/// Without blocks: a 12-byte value.
#[test]
fn sack_without_blocks() {
    let chunks = round_trip_chunks(|w| write_sack(w, 9, 0, core::iter::empty(), &[]));
    assert_eq!(chunks[0].value.len(), 12);
    let s = Sack::parse(&chunks[0].raw()).unwrap();
    assert_eq!((s.cum_tsn_ack, s.a_rwnd, s.gap_count()), (9, 0, 0));
    assert_eq!(s.gap_blocks().count(), 0);
    assert_eq!(s.dup_tsns().count(), 0);
}

/// Block counts that promise more than the chunk holds are refused, as is a value
/// shorter than the fixed part; trailing bytes beyond the counted blocks are ignored.
#[test]
fn sack_truncated_counts_rejected() {
    let mut v = Vec::new();
    v.extend_from_slice(&5u32.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&[0, 2, 0, 1]); // two gaps, one dup
    v.extend_from_slice(&[0, 2, 0, 3, 0, 5, 0, 6]);
    v.extend_from_slice(&42u32.to_be_bytes());
    assert_eq!(v.len(), 24);
    let s = Sack::parse(&raw(ct::SACK, &v)).unwrap();
    assert_eq!(s.gap_blocks().collect::<Vec<_>>(), [(2, 3), (5, 6)]);
    assert_eq!(s.dup_tsns().collect::<Vec<_>>(), [42]);
    // Every truncation is refused.
    for n in 0..v.len() {
        assert_eq!(Sack::parse(&raw(ct::SACK, &v[..n])), None, "{n}");
    }
    // Counts larger than the chunk: refused.
    for counts in [[0, 3, 0, 1], [0, 2, 0, 2], [0xff, 0xff, 0xff, 0xff]] {
        let mut w = v.clone();
        w[8..12].copy_from_slice(&counts);
        assert_eq!(Sack::parse(&raw(ct::SACK, &w)), None, "{counts:?}");
    }
    // Extra trailing bytes: ignored.
    let mut long = v.clone();
    long.extend_from_slice(&[9; 7]);
    let s = Sack::parse(&raw(ct::SACK, &long)).unwrap();
    assert_eq!(s.gap_count(), 2);
    assert_eq!(s.dup_tsns().collect::<Vec<_>>(), [42]);
}

/// `write_sack` refuses counts that do not fit 16 bits and rewinds.
#[test]
fn sack_write_refuses_too_many_blocks() {
    let mut buf = vec![0u8; 400_000];
    let mut w = Writer::new(&mut buf);
    let many = vec![(1u16, 1u16); 65536];
    assert!(write_sack(&mut w, 1, 1, many.into_iter(), &[]).is_none());
    assert_eq!(w.len(), 0);
    let dups = vec![0u32; 65536];
    assert!(write_sack(&mut w, 1, 1, core::iter::empty(), &dups).is_none());
    assert_eq!(w.len(), 0);
}

// ---------------------------------------------------------------------------------------
// FORWARD TSN
// ---------------------------------------------------------------------------------------

/// FORWARD TSN with and without (stream, SSN) pairs round-trips.
#[test]
fn forward_tsn_round_trip() {
    let pairs = [(1u16, 5u16), (7, 65535), (65535, 0)];
    let chunks = round_trip_chunks(|w| {
        write_forward_tsn(w, 0x1234_5678, &pairs)?;
        write_forward_tsn(w, 3, &[])
    });
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].ty, ct::FORWARD_TSN);
    assert_eq!(chunks[0].value.len(), 4 + 4 * 3);
    let f = ForwardTsn::parse(&chunks[0].raw()).unwrap();
    assert_eq!(f.new_cum_tsn, 0x1234_5678);
    assert_eq!(f.streams().collect::<Vec<_>>(), pairs);
    let f = ForwardTsn::parse(&chunks[1].raw()).unwrap();
    assert_eq!(f.new_cum_tsn, 3);
    assert_eq!(f.streams().count(), 0);
}

/// A FORWARD TSN shorter than its TSN is refused; a partial trailing pair is ignored.
#[test]
fn forward_tsn_truncation() {
    let v = [0, 0, 0, 9, 0, 1, 0, 2, 0xaa, 0xbb];
    for n in 0..4 {
        assert_eq!(ForwardTsn::parse(&raw(ct::FORWARD_TSN, &v[..n])), None);
    }
    let f = ForwardTsn::parse(&raw(ct::FORWARD_TSN, &v)).unwrap();
    assert_eq!(f.new_cum_tsn, 9);
    assert_eq!(f.streams().collect::<Vec<_>>(), [(1, 2)]);
}

// ---------------------------------------------------------------------------------------
// RE-CONFIG
// ---------------------------------------------------------------------------------------

/// A RE-CONFIG chunk holding a response and an outgoing reset request (with an odd
/// number of streams, so padded) parses into both parameters.
#[test]
fn reconfig_chunk_round_trip() {
    let chunks = round_trip_chunks(|w| {
        w.chunk(ct::RECONFIG, 0, |w| {
            write_reconfig_response(w, 41, reconfig_result::SUCCESS_PERFORMED)?;
            write_outgoing_reset(w, 7, 40, 0xffff_0000, &[1, 2, 65535])
        })
    });
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].ty, ct::RECONFIG);
    // Response 12, reset 16 + 6 = 22, padded 24.
    assert_eq!(chunks[0].value.len(), 12 + 24);
    let params: Vec<_> = Tlvs::new(&chunks[0].value)
        .map(|t| ReconfigParam::parse(&t.unwrap()).unwrap())
        .collect();
    assert_eq!(params.len(), 2);
    assert_eq!(
        params[0],
        ReconfigParam::Response {
            resp_seq: 41,
            result: reconfig_result::SUCCESS_PERFORMED
        }
    );
    let ReconfigParam::OutgoingReset {
        req_seq,
        resp_seq,
        last_tsn,
        streams,
    } = params[1]
    else {
        panic!("{:?}", params[1]);
    };
    assert_eq!((req_seq, resp_seq, last_tsn), (7, 40, 0xffff_0000));
    assert_eq!(streams, [0, 1, 0, 2, 0xff, 0xff]);
    assert_eq!(stream_ids(streams).collect::<Vec<_>>(), [1, 2, 65535]);
}

/// An outgoing reset of all streams (none listed).
#[test]
fn reconfig_outgoing_reset_of_all_streams() {
    let mut buf = [0u8; 16];
    let mut w = Writer::new(&mut buf);
    write_outgoing_reset(&mut w, 1, 2, 3, &[]).unwrap();
    assert_eq!(w.len(), 16);
    assert_eq!(buf[..4], [0, PARAM_OUTGOING_RESET as u8, 0, 16]);
    let t = only_tlv(&buf);
    assert_eq!(
        ReconfigParam::parse(&t),
        Some(ReconfigParam::OutgoingReset {
            req_seq: 1,
            resp_seq: 2,
            last_tsn: 3,
            streams: &[],
        })
    );
}

/// The RE-CONFIG parameter encoded in `bytes` (one TLV).
fn param(bytes: &[u8]) -> Option<ReconfigParam<'_>> {
    ReconfigParam::parse(&only_tlv(bytes))
}

/// Incoming reset requests, other parameters, and the truncations each refuses.
#[test]
fn reconfig_param_variants() {
    let tlv = |ty: u16, value: &[u8]| -> Vec<u8> {
        let mut b = vec![0u8; 8 + value.len()];
        let mut w = Writer::new(&mut b);
        write_tlv(&mut w, ty, value).unwrap();
        let n = w.len();
        b.truncate(n);
        b
    };
    // Incoming reset: a request sequence number and streams.
    let b = tlv(PARAM_INCOMING_RESET, &[0, 0, 0, 9, 0, 4, 0, 5]);
    assert_eq!(
        param(&b),
        Some(ReconfigParam::IncomingReset {
            req_seq: 9,
            streams: &[0, 4, 0, 5],
        })
    );
    let b = tlv(PARAM_INCOMING_RESET, &[0, 0, 0, 9]);
    assert_eq!(
        param(&b),
        Some(ReconfigParam::IncomingReset {
            req_seq: 9,
            streams: &[],
        })
    );
    // An odd stream list, or no room for the sequence number: refused.
    assert_eq!(param(&tlv(PARAM_INCOMING_RESET, &[0, 0, 0, 9, 1])), None);
    assert_eq!(param(&tlv(PARAM_INCOMING_RESET, &[0, 0, 9])), None);

    // Outgoing reset: 12 fixed bytes, then an even stream list.
    assert_eq!(param(&tlv(PARAM_OUTGOING_RESET, &[0; 11])), None);
    assert_eq!(param(&tlv(PARAM_OUTGOING_RESET, &[0; 13])), None);
    assert!(param(&tlv(PARAM_OUTGOING_RESET, &[0; 14])).is_some());

    // Response: at least 8 bytes (the optional TSNs after them are ignored).
    assert_eq!(param(&tlv(PARAM_RECONFIG_RESPONSE, &[0; 7])), None);
    let mut v = vec![0, 0, 0, 3, 0, 0, 0, 2];
    v.extend_from_slice(&[0xff; 8]);
    assert_eq!(
        param(&tlv(PARAM_RECONFIG_RESPONSE, &v)),
        Some(ReconfigParam::Response {
            resp_seq: 3,
            result: reconfig_result::DENIED,
        })
    );

    // Anything else (here Add Outgoing Streams, 17): its sequence number if it has one.
    assert_eq!(
        param(&tlv(17, &[0, 0, 1, 0, 0, 5, 0, 0])),
        Some(ReconfigParam::Other {
            ty: 17,
            req_seq: Some(256),
        })
    );
    assert_eq!(
        param(&tlv(0xffff, &[1, 2, 3])),
        Some(ReconfigParam::Other {
            ty: 0xffff,
            req_seq: None,
        })
    );
}

/// The response parameter's exact bytes.
#[test]
fn reconfig_response_layout() {
    let mut buf = [0u8; 12];
    let mut w = Writer::new(&mut buf);
    write_reconfig_response(&mut w, 0x0a0b_0c0d, reconfig_result::IN_PROGRESS).unwrap();
    assert_eq!(buf, [0, 16, 0, 12, 10, 11, 12, 13, 0, 0, 0, 6]);
    // No room: refused.
    let mut small = [0u8; 11];
    let mut w = Writer::new(&mut small);
    assert!(write_reconfig_response(&mut w, 1, 1).is_none());
}

/// `stream_ids` reads big-endian u16s and ignores a trailing odd byte.
#[test]
fn stream_ids_decoding() {
    assert_eq!(stream_ids(&[]).count(), 0);
    assert_eq!(stream_ids(&[7]).count(), 0);
    assert_eq!(
        stream_ids(&[0, 1, 0xff, 0xff, 0x12, 0x34, 0x56]).collect::<Vec<_>>(),
        [1, 65535, 0x1234]
    );
}

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

/// Each write either fits entirely or is refused without writing anything.
#[test]
fn writer_refuses_to_overflow() {
    let mut buf = [0xeeu8; 7];
    let mut w = Writer::new(&mut buf);
    assert!(w.is_empty());
    assert_eq!(w.remaining(), 7);
    w.u32(0x0102_0304).unwrap();
    assert!(w.u32(5).is_none());
    assert_eq!(w.len(), 4);
    w.u16(0x0506).unwrap();
    assert!(w.u16(7).is_none());
    assert!(w.bytes(&[1, 2]).is_none());
    assert_eq!(w.len(), 6);
    w.u8(7).unwrap();
    assert!(w.u8(8).is_none());
    assert!(w.bytes(&[1]).is_none());
    // An empty write always fits.
    w.bytes(&[]).unwrap();
    assert_eq!((w.len(), w.remaining(), w.is_empty()), (7, 0, false));
    // Padding a full writer that is not 4-aligned: refused.
    assert!(w.pad4().is_none());
    assert_eq!(w.written(), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7]);

    // An empty buffer takes nothing.
    let mut none: [u8; 0] = [];
    let mut w = Writer::new(&mut none);
    assert!(w.u8(0).is_none());
    w.pad4().unwrap();
    assert_eq!(w.len(), 0);
}

/// `pad4` writes zeros up to the next multiple of 4; `patch_u16` only rewrites bytes
/// already written.
#[test]
fn writer_pad_and_patch() {
    let mut buf = [0xeeu8; 8];
    let mut w = Writer::new(&mut buf);
    w.u8(1).unwrap();
    w.pad4().unwrap();
    assert_eq!(w.len(), 4);
    w.pad4().unwrap();
    assert_eq!(w.len(), 4, "aligned: nothing added");
    w.patch_u16(1, 0xabcd).unwrap();
    w.patch_u16(2, 0x1234).unwrap();
    assert!(w.patch_u16(3, 0).is_none(), "past what was written");
    assert!(w.patch_u16(usize::MAX - 1, 0).is_none(), "no overflow");
    assert_eq!(w.written(), [1, 0xab, 0x12, 0x34]);
    // The writer is done with the buffer: the bytes after what it wrote are untouched.
    assert_eq!(buf[4..], [0xee; 4]);
}

/// `chunk` rewinds to where the chunk began when its body, its length or its padding
/// does not fit; what was written before stays.
#[test]
fn writer_chunk_rewinds_on_failure() {
    let mut buf = [0u8; 16];
    let mut w = Writer::new(&mut buf);
    w.chunk(ct::COOKIE_ACK, 0, |_| Some(())).unwrap();
    assert_eq!(w.len(), 4);
    // The body gives up.
    assert!(
        w.chunk(ct::SHUTDOWN, 0, |w| {
            w.u16(1)?;
            None
        })
        .is_none()
    );
    assert_eq!(w.len(), 4);
    // The body overflows.
    assert!(w.chunk(ct::DATA, 0, |w| w.bytes(&[9; 13])).is_none());
    assert_eq!(w.len(), 4);
    // The body fits (4 + 4 + 5 = 13 of 16) but its padding to 16 would not: buffer of 15.
    let mut small = [0u8; 15];
    let mut w2 = Writer::new(&mut small);
    w2.u32(0).unwrap();
    assert!(w2.chunk(ct::DATA, 3, |w| w.bytes(&[9; 5])).is_none());
    assert_eq!(w2.len(), 4);
    // The same chunk fits once padding has room.
    w.chunk(ct::DATA, 3, |w| w.bytes(&[9; 5])).unwrap();
    assert_eq!(w.len(), 16);
    assert_eq!(
        w.written(),
        [11, 0, 0, 4, 0, 3, 0, 9, 9, 9, 9, 9, 9, 0, 0, 0]
    );
    // Full: even an empty chunk is refused, without trace.
    assert!(w.chunk(ct::PAD, 0, |_| Some(())).is_none());
    assert_eq!(w.len(), 16);
}

/// `write_tlv` pads, and refuses values too long for the 16-bit length.
#[test]
fn write_tlv_layout() {
    let mut buf = vec![0u8; 70_000];
    let mut w = Writer::new(&mut buf);
    write_tlv(&mut w, 0x8008, &[0xc0]).unwrap();
    assert_eq!(w.written(), [0x80, 0x08, 0, 5, 0xc0, 0, 0, 0]);
    assert!(write_tlv(&mut w, 1, &vec![0; 65532]).is_none());
    assert_eq!(w.len(), 8);
    write_tlv(&mut w, 1, &vec![0; 65531]).unwrap();
    assert_eq!(w.len(), 8 + 65536);
}

// ---------------------------------------------------------------------------------------
// TLVs
// ---------------------------------------------------------------------------------------

/// TLVs with padding iterate; a bad length (below 4, beyond the bytes, or a header cut
/// short) yields one `Err` and ends the iteration.
#[test]
fn tlvs_stop_at_bad_length() {
    let good = [0u8, 1, 0, 5, 0xaa, 0, 0, 0, 0, 2, 0, 4];
    let got: Vec<_> = Tlvs::new(&good).collect();
    assert_eq!(
        got,
        [
            Ok(Tlv {
                ty: 1,
                value: &[0xaa]
            }),
            Ok(Tlv { ty: 2, value: &[] })
        ]
    );
    let tails: [&[u8]; 6] = [
        &[0, 3, 0, 0, 0, 4, 0, 4],
        &[0, 3, 0, 3, 0, 4, 0, 4],
        &[0, 3, 0, 9, 1, 2, 3, 4],
        &[0],
        &[0, 3],
        &[0, 3, 0],
    ];
    for tail in tails {
        let mut b = good.to_vec();
        b.extend_from_slice(tail);
        let got: Vec<_> = Tlvs::new(&b).collect();
        assert_eq!(got.len(), 3, "{tail:?}");
        assert!(got[0].is_ok() && got[1].is_ok());
        assert_eq!(got[2], Err(()));
    }
    assert_eq!(Tlvs::new(&[]).count(), 0);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any DATA chunk (with user data) survives a packet round trip, alongside a
        /// second chunk that must be found after its padding.
        #[test]
        fn data_chunk_round_trip(
            tsn in any::<u32>(),
            stream in any::<u16>(),
            ssn in any::<u16>(),
            ppid in any::<u32>(),
            flags in 0u8..16,
            payload in vec(any::<u8>(), 1..1500),
        ) {
            let d = DataChunk {
                tsn,
                stream,
                ssn,
                ppid,
                immediate: flags & 8 != 0,
                unordered: flags & 4 != 0,
                beginning: flags & 2 != 0,
                ending: flags & 1 != 0,
                payload: &payload,
            };
            let chunks = round_trip_chunks(|w| {
                d.write(w)?;
                w.chunk(ct::COOKIE_ACK, 0, |_| Some(()))
            });
            prop_assert_eq!(chunks.len(), 2);
            prop_assert_eq!(chunks[0].ty, ct::DATA);
            prop_assert_eq!(DataChunk::parse(&chunks[0].raw()), Some(d));
            prop_assert_eq!(chunks[1].ty, ct::COOKIE_ACK);
        }

        /// Any SACK survives a round trip.
        #[test]
        fn sack_round_trip(
            cum in any::<u32>(),
            rwnd in any::<u32>(),
            gaps in vec((any::<u16>(), any::<u16>()), 0..40),
            dups in vec(any::<u32>(), 0..40),
        ) {
            let chunks = round_trip_chunks(|w| write_sack(w, cum, rwnd, gaps.iter().copied(), &dups));
            prop_assert_eq!(chunks.len(), 1);
            let s = Sack::parse(&chunks[0].raw()).unwrap();
            prop_assert_eq!(s.cum_tsn_ack, cum);
            prop_assert_eq!(s.a_rwnd, rwnd);
            prop_assert_eq!(s.gap_count(), gaps.len());
            prop_assert_eq!(s.gap_blocks().collect::<Vec<_>>(), gaps);
            prop_assert_eq!(s.dup_tsns().collect::<Vec<_>>(), dups);
        }

        /// Arbitrary bytes never make the parsers panic, the chunk iterator yields at
        /// most one error and only last, and every chunk it yields lies in the packet.
        #[test]
        fn parsers_never_panic(bytes in vec(any::<u8>(), 0..256)) {
            let mut p = bytes.clone();
            write_checksum(&mut p);
            let Ok(parsed) = Packet::parse(&p) else {
                prop_assert!(p.len() < COMMON_HEADER_LEN);
                return Ok(());
            };
            let all: Vec<_> = parsed.chunks().collect();
            let errors = all.iter().filter(|c| c.is_err()).count();
            prop_assert!(errors <= 1);
            if errors == 1 {
                prop_assert!(all.last().is_some_and(Result::is_err));
            }
            let mut total = 0;
            for c in all.into_iter().flatten() {
                total += CHUNK_HEADER_LEN + c.value.len();
                let _ = DataChunk::parse(&c);
                if let Some(i) = Init::parse(&c) {
                    let _ = (i.params_ok(), i.state_cookie(), i.supports(ct::RECONFIG));
                }
                if let Some(s) = Sack::parse(&c) {
                    prop_assert!(s.gap_blocks().count() == s.gap_count());
                    let _ = s.dup_tsns().count();
                }
                if let Some(f) = ForwardTsn::parse(&c) {
                    let _ = f.streams().count();
                }
                for t in Tlvs::new(c.value).flatten() {
                    if let Some(ReconfigParam::OutgoingReset { streams, .. }) =
                        ReconfigParam::parse(&t)
                    {
                        let _ = stream_ids(streams).count();
                    }
                }
            }
            prop_assert!(total <= parsed.chunk_bytes.len());
        }
    }
}
