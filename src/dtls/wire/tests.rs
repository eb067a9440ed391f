//! Unit tests of the DTLS wire codecs.
//!
//! Organised by module: the codec [`Reader`] and writers, record headers and the records
//! of a datagram, handshake fragments, hello extensions, each handshake message body, and
//! alerts. Parsers take untrusted bytes, so besides round trips the tests feed them every
//! truncation and many single-byte corruptions of valid encodings and check they return
//! errors without panicking.

use super::alert::{Alert, AlertDescription, AlertLevel};
use super::codec::{
    Reader, put_len_prefixed, put_u8, put_u16, put_u16_list16, put_u24, put_vec8, put_vec16,
    put_vec24, u16_list,
};
use super::extensions::{
    EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO, EXT_SERVER_NAME,
    EXT_SIGNATURE_ALGORITHMS, EXT_SUPPORTED_GROUPS, EXT_USE_SRTP, Extensions,
    POINT_FORMAT_UNCOMPRESSED, UseSrtp, raw_ext,
};
use super::handshake::{
    FragmentError, HANDSHAKE_HEADER_LEN, HandshakeType, parse_fragment, put_header,
    transcript_bytes,
};
use super::messages::{
    CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN, COMPRESSION_NULL, CURVE_TYPE_NAMED, Certificate,
    CertificateRequest, CertificateVerify, ClientHello, ClientKeyExchange,
    EMPTY_RENEGOTIATION_INFO_SCSV, HelloVerifyRequest, ServerHello, ServerKeyExchange, parse_empty,
    parse_finished,
};
use super::record::{
    ContentType, DTLS_1_0, DTLS_1_2, MAX_CIPHERTEXT, MAX_PLAINTEXT, MAX_SEQ, RECORD_HEADER_LEN,
    RecordError, RecordHeader, parse_record, records,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A recognisable 32-byte random: `start, start+1, ...`.
fn random(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(i as u8))
}

/// Runs a writer into a fresh buffer.
fn encode(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

/// One whole record: header (with `length` set from the fragment) and fragment.
fn record_bytes(ty: ContentType, version: u16, epoch: u16, seq: u64, fragment: &[u8]) -> Vec<u8> {
    let header = RecordHeader {
        content_type: ty,
        version,
        epoch,
        seq,
        length: u16::try_from(fragment.len()).unwrap(),
    };
    let mut out = vec![0u8; RECORD_HEADER_LEN];
    assert!(header.write(&mut out));
    out.extend_from_slice(fragment);
    out
}

/// Every extension a WebRTC ClientHello of ours carries.
fn all_extensions() -> Extensions {
    Extensions {
        supported_groups: Some(vec![29, 23]),
        ec_point_formats: Some(vec![POINT_FORMAT_UNCOMPRESSED]),
        signature_algorithms: Some(vec![0x0403, 0x0503, 0x0807, 0x0804, 0x0401]),
        use_srtp: Some(UseSrtp {
            profiles: vec![0x0007, 0x0008, 0x0001, 0x0002],
            mki: Vec::new(),
        }),
        extended_master_secret: true,
        renegotiation_info: Some(Vec::new()),
        present: Vec::new(),
    }
}

/// The extension types `Extensions::write` emits for [`all_extensions`], in its order.
const ALL_PRESENT: [u16; 6] = [
    EXT_RENEGOTIATION_INFO,
    EXT_EXTENDED_MASTER_SECRET,
    EXT_SUPPORTED_GROUPS,
    EXT_EC_POINT_FORMATS,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_USE_SRTP,
];

/// A second ClientHello (with a cookie and a session id) carrying every extension.
fn full_client_hello() -> ClientHello {
    ClientHello {
        version: DTLS_1_2,
        random: random(1),
        session_id: vec![0x55; 32],
        cookie: vec![0xc0; 20],
        cipher_suites: vec![0xc02b, 0xc02c, 0xcca9, EMPTY_RENEGOTIATION_INFO_SCSV],
        compression_methods: vec![COMPRESSION_NULL],
        extensions: all_extensions(),
    }
}

/// The ClientHello body of [`full_client_hello`] without its extensions block, so tests
/// can append blocks of their own.
fn client_hello_without_extensions() -> Vec<u8> {
    let hello = ClientHello {
        extensions: Extensions::default(),
        ..full_client_hello()
    };
    let mut body = encode(|o| hello.write(o));
    // An empty `Extensions` still writes its (zero) length prefix: drop it.
    assert_eq!(body.split_off(body.len() - 2), [0, 0]);
    body
}

/// A ClientHello body whose extensions block holds exactly `block` (length prefix added).
fn client_hello_with_block(block: &[u8]) -> Vec<u8> {
    let mut body = client_hello_without_extensions();
    put_vec16(&mut body, block);
    body
}

/// Parses an extensions block (with its length prefix) on its own.
fn parse_block(block: &[u8]) -> Result<Extensions, &'static str> {
    let prefixed = encode(|o| put_vec16(o, block));
    let mut r = Reader::new(&prefixed);
    let ext = Extensions::parse(&mut r)?;
    assert!(r.is_empty(), "the block was not consumed whole");
    Ok(ext)
}

/// Every parser of this module applied to `b`; only checks that none panics.
fn parse_everything(b: &[u8]) {
    let _ = parse_record(b);
    let _ = records(b).count();
    let _ = parse_fragment(b);
    let _ = ClientHello::parse(b);
    let _ = ServerHello::parse(b);
    let _ = HelloVerifyRequest::parse(b);
    let _ = Certificate::parse(b, 4);
    let _ = ServerKeyExchange::parse(b);
    let _ = CertificateRequest::parse(b);
    let _ = ClientKeyExchange::parse(b);
    let _ = CertificateVerify::parse(b);
    let _ = parse_finished(b);
    let _ = parse_empty(b);
    let _ = Alert::parse(b);
    let _ = Extensions::parse(&mut Reader::new(b));
}

/// Feeds every prefix and many single-byte corruptions of `valid` to every parser.
fn assert_no_panic_on_corruptions(valid: &[u8]) {
    for i in 0..=valid.len() {
        parse_everything(&valid[..i]);
    }
    for i in 0..valid.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
            let mut b = valid.to_vec();
            b[i] = v;
            parse_everything(&b);
        }
    }
}

// ---------------------------------------------------------------------------------------
// codec: Reader and writers
// ---------------------------------------------------------------------------------------

#[test]
fn reader_reads_big_endian_integers() {
    let bytes = [
        0x01, // u8
        0x02, 0x03, // u16
        0x04, 0x05, 0x06, // u24
        0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, // u48
        0xaa, 0xbb, 0xcc, // array::<3>
    ];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.u8(), Some(0x01));
    assert_eq!(r.u16(), Some(0x0203));
    assert_eq!(r.u24(), Some(0x04_0506));
    assert_eq!(r.u48(), Some(0x0708_090a_0b0c));
    assert_eq!(r.array::<3>(), Some([0xaa, 0xbb, 0xcc]));
    assert!(r.is_empty());
    assert_eq!(r.rest(), &[] as &[u8]);
}

#[test]
fn reader_extremes() {
    let mut r = Reader::new(&[0xff; 6]);
    assert_eq!(r.u48(), Some(MAX_SEQ));
    let mut r = Reader::new(&[0xff; 3]);
    assert_eq!(r.u24(), Some(0x00ff_ffff));
}

#[test]
fn reader_on_empty_input_returns_none() {
    let mut r = Reader::new(&[]);
    assert!(r.is_empty());
    assert_eq!(r.u8(), None);
    assert_eq!(r.u16(), None);
    assert_eq!(r.u24(), None);
    assert_eq!(r.u48(), None);
    assert_eq!(r.array::<1>(), None);
    assert_eq!(r.vec8(), None);
    assert_eq!(r.vec16(), None);
    assert_eq!(r.vec24(), None);
    assert_eq!(r.u16_list16(), None);
    // Taking nothing always works, even from nothing.
    assert_eq!(r.take(0), Some(&[] as &[u8]));
    assert_eq!(r.array::<0>(), Some([]));
}

#[test]
fn reader_short_read_consumes_nothing() {
    let bytes = [1, 2, 3];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.take(4), None);
    assert_eq!(r.u48(), None);
    assert_eq!(r.array::<4>(), None);
    assert_eq!(r.rest(), &bytes);
    // A length-prefixed read whose contents are short fails too. The prefix itself has
    // been read by then (the reader is a cursor; parsers abandon it on `None`), but the
    // contents are not consumed.
    let bytes = [5, 1, 2];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.vec8(), None);
    assert_eq!(r.rest(), &[1, 2]);
}

#[test]
fn reader_take_exact_and_split() {
    let bytes = [1, 2, 3, 4, 5];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.take(2), Some(&[1, 2][..]));
    assert_eq!(r.rest(), &[3, 4, 5]);
    assert_eq!(r.take(3), Some(&[3, 4, 5][..]));
    assert!(r.is_empty());
    assert_eq!(r.take(1), None);
}

#[test]
fn reader_is_a_copyable_cursor() {
    let bytes = [1, 2, 3, 4];
    let mut a = Reader::new(&bytes);
    assert_eq!(a.u8(), Some(1));
    let mut b = a; // a snapshot
    assert_eq!(a.u16(), Some(0x0203));
    assert_eq!(b.u8(), Some(2), "the copy keeps its own position");
    assert_eq!(a.rest(), &[4]);
    assert_eq!(b.rest(), &[3, 4]);
}

#[test]
fn reader_length_prefixed_vectors() {
    // Exact fits.
    let mut r = Reader::new(&[3, 7, 8, 9, 0xee]);
    assert_eq!(r.vec8(), Some(&[7, 8, 9][..]));
    assert_eq!(r.rest(), &[0xee]);
    let mut r = Reader::new(&[0, 2, 7, 8]);
    assert_eq!(r.vec16(), Some(&[7, 8][..]));
    assert!(r.is_empty());
    let mut r = Reader::new(&[0, 0, 1, 7]);
    assert_eq!(r.vec24(), Some(&[7][..]));
    assert!(r.is_empty());
    // Empty vectors.
    assert_eq!(Reader::new(&[0]).vec8(), Some(&[] as &[u8]));
    assert_eq!(Reader::new(&[0, 0]).vec16(), Some(&[] as &[u8]));
    assert_eq!(Reader::new(&[0, 0, 0]).vec24(), Some(&[] as &[u8]));
    // One byte short.
    assert_eq!(Reader::new(&[3, 7, 8]).vec8(), None);
    assert_eq!(Reader::new(&[0, 3, 7, 8]).vec16(), None);
    assert_eq!(Reader::new(&[0, 0, 3, 7, 8]).vec24(), None);
    // Huge prefixes on short input.
    assert_eq!(Reader::new(&[0xff; 10]).vec8(), None);
    assert_eq!(Reader::new(&[0xff; 10]).vec16(), None);
    assert_eq!(Reader::new(&[0xff; 10]).vec24(), None);
    // A truncated prefix.
    assert_eq!(Reader::new(&[0]).vec16(), None);
    assert_eq!(Reader::new(&[0, 0]).vec24(), None);
}

#[test]
fn reader_u16_lists() {
    let mut r = Reader::new(&[0, 4, 0xc0, 0x2b, 0xcc, 0xa9]);
    assert_eq!(r.u16_list16(), Some(vec![0xc02b, 0xcca9]));
    assert!(r.is_empty());
    assert_eq!(Reader::new(&[0, 0]).u16_list16(), Some(vec![]));
    // Odd length.
    assert_eq!(Reader::new(&[0, 3, 1, 2, 3]).u16_list16(), None);
    // Prefix beyond the input.
    assert_eq!(Reader::new(&[0, 4, 1, 2]).u16_list16(), None);
    assert_eq!(u16_list(&[]), Some(vec![]));
    assert_eq!(u16_list(&[1]), None);
    assert_eq!(u16_list(&[0xab, 0xcd, 0, 1]), Some(vec![0xabcd, 1]));
}

#[test]
fn writers_produce_big_endian_and_prefixes() {
    let b = encode(|o| {
        put_u8(o, 0x01);
        put_u16(o, 0x0203);
        put_u24(o, 0x04_0506);
        put_vec8(o, &[0xa]);
        put_vec16(o, &[0xb, 0xc]);
        put_vec24(o, &[]);
        put_u16_list16(o, &[0xc02b, 0x0001]);
    });
    assert_eq!(
        b,
        [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // integers
            0x01, 0x0a, // vec8
            0x00, 0x02, 0x0b, 0x0c, // vec16
            0x00, 0x00, 0x00, // vec24
            0x00, 0x04, 0xc0, 0x2b, 0x00, 0x01, // u16 list
        ]
    );
}

#[test]
fn put_u24_keeps_the_low_three_bytes() {
    assert_eq!(encode(|o| put_u24(o, 0x0012_3456)), [0x12, 0x34, 0x56]);
    assert_eq!(encode(|o| put_u24(o, 0xff12_3456)), [0x12, 0x34, 0x56]);
}

#[test]
fn put_len_prefixed_nests_and_truncates_overlong_content() {
    // Nested prefixes, as in an extension inside an extensions block.
    let b = encode(|o| {
        put_len_prefixed(o, 2, |o| {
            put_u16(o, 0x1234);
            put_len_prefixed(o, 1, |o| o.extend_from_slice(&[9, 9]));
        })
    });
    assert_eq!(b, [0, 5, 0x12, 0x34, 2, 9, 9]);
    // Content longer than a 1-byte prefix can state: cut to 255 rather than panicking.
    let b = encode(|o| put_vec8(o, &[7; 300]));
    assert_eq!(b.len(), 256);
    assert_eq!(b[0], 255);
    let mut r = Reader::new(&b);
    assert_eq!(r.vec8().map(<[u8]>::len), Some(255));
    assert!(r.is_empty());
    // Appends after existing content without disturbing it.
    let mut b = vec![0xee];
    put_vec16(&mut b, &[1]);
    assert_eq!(b, [0xee, 0, 1, 1]);
}

#[test]
fn writers_and_reader_round_trip_maximal_vec16() {
    let content = vec![0x5a; 0xffff];
    let b = encode(|o| put_vec16(o, &content));
    let mut r = Reader::new(&b);
    assert_eq!(r.vec16(), Some(&content[..]));
    assert!(r.is_empty());
}

// ---------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------

#[test]
fn content_type_values() {
    for (ty, v) in [
        (ContentType::ChangeCipherSpec, 20),
        (ContentType::Alert, 21),
        (ContentType::Handshake, 22),
        (ContentType::ApplicationData, 23),
    ] {
        assert_eq!(ty.to_u8(), v);
        assert_eq!(ContentType::from_u8(v), Some(ty));
    }
    for v in (0..=255u8).filter(|v| !(20..=23).contains(v)) {
        assert_eq!(ContentType::from_u8(v), None, "{v}");
    }
}

#[test]
fn record_header_known_bytes() {
    // handshake, DTLS 1.2, epoch 1, seq 42, length 3.
    let bytes = [
        0x16, // type: handshake
        0xfe, 0xfd, // version: DTLS 1.2
        0x00, 0x01, // epoch
        0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // sequence_number (48 bits)
        0x00, 0x03, // length
        0xaa, 0xbb, 0xcc, // fragment
    ];
    let (rec, rest) = parse_record(&bytes).unwrap();
    assert_eq!(
        rec.header,
        RecordHeader {
            content_type: ContentType::Handshake,
            version: DTLS_1_2,
            epoch: 1,
            seq: 42,
            length: 3,
        }
    );
    assert_eq!(rec.fragment, &[0xaa, 0xbb, 0xcc]);
    assert_eq!(rec.raw, &bytes[..]);
    assert!(rest.is_empty());
    // And writing the header gives the same 13 bytes.
    let mut out = [0u8; RECORD_HEADER_LEN];
    assert!(rec.header.write(&mut out));
    assert_eq!(out, bytes[..RECORD_HEADER_LEN]);
}

#[test]
fn record_header_round_trip_with_48_bit_seq_and_epoch() {
    let cases = [
        (ContentType::Handshake, DTLS_1_0, 0u16, 0u64),
        (ContentType::ChangeCipherSpec, DTLS_1_2, 0, 1),
        (ContentType::Alert, DTLS_1_2, 1, 0x0000_0102_0304),
        (ContentType::ApplicationData, DTLS_1_2, 1, 0x0102_0304_0506),
        (ContentType::ApplicationData, DTLS_1_2, 0xffff, MAX_SEQ),
        (ContentType::Handshake, DTLS_1_2, 0x8001, 1 << 47),
        (ContentType::Alert, DTLS_1_2, 0x0100, 0x00ff_ffff_ffff),
    ];
    for (ty, version, epoch, seq) in cases {
        let fragment: Vec<u8> = (0..=(seq % 50) as u8).collect();
        let bytes = record_bytes(ty, version, epoch, seq, &fragment);
        assert_eq!(bytes.len(), RECORD_HEADER_LEN + fragment.len());
        let (rec, rest) = parse_record(&bytes).unwrap();
        assert_eq!(rec.header.content_type, ty);
        assert_eq!(rec.header.version, version);
        assert_eq!(rec.header.epoch, epoch);
        assert_eq!(rec.header.seq, seq);
        assert_eq!(usize::from(rec.header.length), fragment.len());
        assert_eq!(rec.fragment, &fragment[..]);
        assert_eq!(rec.raw, &bytes[..]);
        assert!(rest.is_empty());
        // The nonce/AAD value: epoch in the top 16 bits, sequence number below.
        assert_eq!(
            rec.header.epoch_seq(),
            (u64::from(epoch) << 48) | seq,
            "{epoch} {seq}"
        );
    }
}

#[test]
fn record_header_write_masks_the_sequence_number_to_48_bits() {
    let header = RecordHeader {
        content_type: ContentType::ApplicationData,
        version: DTLS_1_2,
        epoch: 1,
        seq: u64::MAX,
        length: 0,
    };
    let mut out = [0u8; RECORD_HEADER_LEN];
    assert!(header.write(&mut out));
    // The epoch bytes are not overwritten by the high bits of the sequence number.
    assert_eq!(out[3..5], [0x00, 0x01]);
    assert_eq!(out[5..11], [0xff; 6]);
    let (rec, _) = parse_record(&out).unwrap();
    assert_eq!(rec.header.seq, MAX_SEQ);
    assert_eq!(rec.header.epoch, 1);
    // epoch_seq masks too.
    assert_eq!(header.epoch_seq(), (1 << 48) | MAX_SEQ);
    assert_eq!(
        RecordHeader {
            seq: 1 << 48,
            ..header
        }
        .epoch_seq(),
        1 << 48
    );
}

#[test]
fn record_header_write_needs_13_bytes() {
    let header = RecordHeader {
        content_type: ContentType::Alert,
        version: DTLS_1_2,
        epoch: 0,
        seq: 7,
        length: 2,
    };
    let mut short = [0xee; RECORD_HEADER_LEN - 1];
    assert!(!header.write(&mut short));
    assert_eq!(short, [0xee; RECORD_HEADER_LEN - 1], "nothing written");
    // A longer buffer: only the first 13 bytes are written.
    let mut long = [0xee; RECORD_HEADER_LEN + 2];
    assert!(header.write(&mut long));
    assert_eq!(long[RECORD_HEADER_LEN..], [0xee, 0xee]);
}

#[test]
fn records_of_a_datagram_with_several_records() {
    let mut datagram = Vec::new();
    datagram.extend(record_bytes(
        ContentType::Handshake,
        DTLS_1_2,
        0,
        5,
        &[1, 2, 3],
    ));
    datagram.extend(record_bytes(
        ContentType::ChangeCipherSpec,
        DTLS_1_2,
        0,
        6,
        &[1],
    ));
    datagram.extend(record_bytes(
        ContentType::Handshake,
        DTLS_1_2,
        1,
        0,
        &[9; 40],
    ));
    // A record with an empty fragment.
    datagram.extend(record_bytes(
        ContentType::ApplicationData,
        DTLS_1_2,
        1,
        1,
        &[],
    ));
    let recs: Vec<_> = records(&datagram).collect::<Result<_, _>>().unwrap();
    assert_eq!(recs.len(), 4);
    let summary: Vec<_> = recs
        .iter()
        .map(|r| {
            (
                r.header.content_type,
                r.header.epoch,
                r.header.seq,
                r.fragment.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (ContentType::Handshake, 0, 5, 3),
            (ContentType::ChangeCipherSpec, 0, 6, 1),
            (ContentType::Handshake, 1, 0, 40),
            (ContentType::ApplicationData, 1, 1, 0),
        ]
    );
    // The raw records tile the datagram.
    let rejoined: Vec<u8> = recs.iter().flat_map(|r| r.raw.iter().copied()).collect();
    assert_eq!(rejoined, datagram);
    // parse_record hands back the rest after each.
    let (first, rest) = parse_record(&datagram).unwrap();
    assert_eq!(rest.len(), datagram.len() - first.raw.len());
}

#[test]
fn records_of_an_empty_datagram() {
    assert_eq!(records(&[]).count(), 0);
}

#[test]
fn records_stop_with_one_error_at_a_truncated_record() {
    let mut datagram = Vec::new();
    datagram.extend(record_bytes(
        ContentType::Handshake,
        DTLS_1_2,
        0,
        1,
        &[1; 10],
    ));
    datagram.extend(record_bytes(ContentType::Alert, DTLS_1_2, 0, 2, &[2, 40]));
    let valid = datagram.len();
    datagram.extend(record_bytes(
        ContentType::Handshake,
        DTLS_1_2,
        0,
        3,
        &[3; 10],
    ));
    // Cut the third record at every length: two good records, then exactly one error.
    for cut in valid + 1..datagram.len() {
        let out: Vec<_> = records(&datagram[..cut]).collect();
        assert_eq!(out.len(), 3, "cut at {cut}");
        assert!(out[0].is_ok() && out[1].is_ok());
        assert_eq!(out[2].unwrap_err(), RecordError::Truncated, "cut at {cut}");
    }
    // Cut exactly between records: just the two good ones.
    assert_eq!(records(&datagram[..valid]).count(), 2);
}

#[test]
fn records_stop_at_garbage_and_never_resume() {
    let good = record_bytes(ContentType::Handshake, DTLS_1_2, 0, 1, &[1, 2]);
    let mut datagram = good.clone();
    // Garbage that happens to be 13+ bytes long, then a perfectly valid record which must
    // not be reached: once framing is lost, the rest of the datagram is discarded.
    datagram.extend([0x99; 20]);
    datagram.extend(&good);
    let mut it = records(&datagram);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(
        it.next().unwrap().unwrap_err(),
        RecordError::UnknownContentType
    );
    assert!(it.next().is_none());
    assert!(it.next().is_none(), "fused after the error");
}

#[test]
fn records_reject_a_leading_garbage_byte() {
    let out: Vec<_> = records(&[0x42]).map(|r| r.err()).collect();
    assert_eq!(out, [Some(RecordError::Truncated)]);
}

#[test]
fn record_truncated_header_at_every_length() {
    let bytes = record_bytes(ContentType::Handshake, DTLS_1_2, 0, 0, &[1, 2, 3]);
    for n in 0..bytes.len() {
        assert_eq!(
            parse_record(&bytes[..n]).unwrap_err(),
            RecordError::Truncated,
            "length {n}"
        );
    }
}

#[test]
fn record_unknown_content_type_rejected() {
    for ty in [0u8, 19, 24, 25, 0x80, 0xff] {
        let mut bytes = record_bytes(ContentType::Handshake, DTLS_1_2, 0, 0, &[1]);
        bytes[0] = ty;
        assert_eq!(
            parse_record(&bytes).unwrap_err(),
            RecordError::UnknownContentType,
            "type {ty}"
        );
    }
}

#[test]
fn record_bad_version_rejected() {
    // TLS 1.2, TLS 1.0, SSL 3.0, a made-up DTLS version, DTLS 1.3's 0xfefc, zero.
    for version in [0x0303u16, 0x0301, 0x0300, 0xfefe, 0xfefc, 0x0000, 0xffff] {
        let bytes = record_bytes(ContentType::Handshake, version, 0, 0, &[1]);
        assert_eq!(
            parse_record(&bytes).unwrap_err(),
            RecordError::BadVersion,
            "version {version:#06x}"
        );
    }
    // Both DTLS versions are accepted at this layer.
    for version in [DTLS_1_0, DTLS_1_2] {
        let bytes = record_bytes(ContentType::Handshake, version, 0, 0, &[1]);
        assert!(parse_record(&bytes).is_ok());
    }
}

#[test]
fn record_over_long_length_rejected() {
    // A header claiming MAX_CIPHERTEXT + 1 is refused as too long (not as truncated),
    // whatever follows.
    for length in [MAX_CIPHERTEXT + 1, usize::from(u16::MAX)] {
        let header = RecordHeader {
            content_type: ContentType::ApplicationData,
            version: DTLS_1_2,
            epoch: 1,
            seq: 0,
            length: u16::try_from(length).unwrap(),
        };
        let mut bytes = vec![0u8; RECORD_HEADER_LEN + length];
        assert!(header.write(&mut bytes));
        assert_eq!(parse_record(&bytes).unwrap_err(), RecordError::TooLong);
        assert_eq!(
            parse_record(&bytes[..RECORD_HEADER_LEN]).unwrap_err(),
            RecordError::TooLong
        );
    }
    // Exactly the maximum is fine.
    let bytes = record_bytes(
        ContentType::ApplicationData,
        DTLS_1_2,
        1,
        0,
        &vec![0; MAX_CIPHERTEXT],
    );
    let (rec, _) = parse_record(&bytes).unwrap();
    assert_eq!(rec.fragment.len(), MAX_CIPHERTEXT);
    assert_eq!(MAX_CIPHERTEXT, MAX_PLAINTEXT + 2048);
}

#[test]
fn record_length_shorter_than_the_datagram_leaves_a_rest() {
    let mut bytes = record_bytes(ContentType::Alert, DTLS_1_2, 0, 0, &[1, 0]);
    bytes.extend([0xde, 0xad]);
    let (rec, rest) = parse_record(&bytes).unwrap();
    assert_eq!(rec.fragment, &[1, 0]);
    assert_eq!(rest, &[0xde, 0xad]);
}

// ---------------------------------------------------------------------------------------
// Handshake fragments
// ---------------------------------------------------------------------------------------

const ALL_HANDSHAKE_TYPES: [(HandshakeType, u8); 11] = [
    (HandshakeType::HelloRequest, 0),
    (HandshakeType::ClientHello, 1),
    (HandshakeType::ServerHello, 2),
    (HandshakeType::HelloVerifyRequest, 3),
    (HandshakeType::Certificate, 11),
    (HandshakeType::ServerKeyExchange, 12),
    (HandshakeType::CertificateRequest, 13),
    (HandshakeType::ServerHelloDone, 14),
    (HandshakeType::CertificateVerify, 15),
    (HandshakeType::ClientKeyExchange, 16),
    (HandshakeType::Finished, 20),
];

#[test]
fn handshake_type_values() {
    for (ty, v) in ALL_HANDSHAKE_TYPES {
        assert_eq!(ty.to_u8(), v);
        assert_eq!(HandshakeType::from_u8(v), Some(ty));
    }
    let known: Vec<u8> = ALL_HANDSHAKE_TYPES.iter().map(|(_, v)| *v).collect();
    for v in (0..=255u8).filter(|v| !known.contains(v)) {
        assert_eq!(HandshakeType::from_u8(v), None, "{v}");
    }
}

#[test]
fn fragment_header_known_bytes() {
    // certificate(11), length 0x000123, message_seq 2, offset 0x10, fragment length 3.
    let bytes = [
        0x0b, // msg_type: certificate
        0x00, 0x01, 0x23, // length
        0x00, 0x02, // message_seq
        0x00, 0x00, 0x10, // fragment_offset
        0x00, 0x00, 0x03, // fragment_length
        0xaa, 0xbb, 0xcc, // body
    ];
    let (f, rest) = parse_fragment(&bytes).unwrap();
    assert_eq!(f.msg_type, HandshakeType::Certificate);
    assert_eq!(f.length, 0x123);
    assert_eq!(f.message_seq, 2);
    assert_eq!(f.offset, 0x10);
    assert_eq!(f.body, &[0xaa, 0xbb, 0xcc]);
    assert!(rest.is_empty());
    let written = encode(|o| put_header(o, HandshakeType::Certificate, 0x123, 2, 0x10, 3));
    assert_eq!(written, bytes[..HANDSHAKE_HEADER_LEN]);
}

#[test]
fn fragment_round_trip_for_every_type() {
    for (i, (ty, _)) in ALL_HANDSHAKE_TYPES.into_iter().enumerate() {
        let body: Vec<u8> = (0..i as u8 * 3).collect();
        let length = 1000 + i as u32;
        let offset = 7 * i as u32;
        let seq = 0x100 * i as u16 + 1;
        let mut bytes = encode(|o| put_header(o, ty, length, seq, offset, body.len() as u32));
        bytes.extend(&body);
        let (f, rest) = parse_fragment(&bytes).unwrap();
        assert_eq!(f.msg_type, ty);
        assert_eq!(f.length, length);
        assert_eq!(f.message_seq, seq);
        assert_eq!(f.offset, offset);
        assert_eq!(f.body, &body[..]);
        assert!(rest.is_empty());
    }
}

#[test]
fn several_fragments_in_one_record() {
    let mut bytes = Vec::new();
    transcript_bytes(&mut bytes, HandshakeType::ServerHello, 1, &[1, 2, 3]);
    transcript_bytes(&mut bytes, HandshakeType::ServerHelloDone, 2, &[]);
    let (a, rest) = parse_fragment(&bytes).unwrap();
    let (b, rest) = parse_fragment(rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!((a.msg_type, a.message_seq), (HandshakeType::ServerHello, 1));
    assert_eq!(a.body, &[1, 2, 3]);
    assert_eq!(
        (b.msg_type, b.message_seq),
        (HandshakeType::ServerHelloDone, 2)
    );
    assert!(b.body.is_empty());
}

#[test]
fn transcript_bytes_are_an_unfragmented_header_and_the_body() {
    let body = [5u8; 300];
    let bytes = encode(|o| transcript_bytes(o, HandshakeType::ClientKeyExchange, 4, &body));
    assert_eq!(
        bytes[..HANDSHAKE_HEADER_LEN],
        [16, 0, 1, 44, 0, 4, 0, 0, 0, 0, 1, 44]
    );
    assert_eq!(bytes[HANDSHAKE_HEADER_LEN..], body);
    let (f, _) = parse_fragment(&bytes).unwrap();
    assert_eq!((f.offset, f.length), (0, 300));
}

#[test]
fn fragment_offset_plus_length_beyond_message_rejected() {
    let frag = |length: u32, offset: u32, body: &[u8]| {
        let mut b = encode(|o| {
            put_header(
                o,
                HandshakeType::Certificate,
                length,
                0,
                offset,
                body.len() as u32,
            )
        });
        b.extend(body);
        b
    };
    // Ends exactly at the message's end: fine.
    assert!(parse_fragment(&frag(10, 7, &[0; 3])).is_ok());
    // One byte beyond.
    assert_eq!(
        parse_fragment(&frag(10, 8, &[0; 3])).unwrap_err(),
        FragmentError::OutOfBounds
    );
    // Longer than the whole message.
    assert_eq!(
        parse_fragment(&frag(2, 0, &[0; 3])).unwrap_err(),
        FragmentError::OutOfBounds
    );
    // An offset past the end with an empty fragment.
    assert_eq!(
        parse_fragment(&frag(10, 11, &[])).unwrap_err(),
        FragmentError::OutOfBounds
    );
    // Offset at the end with an empty fragment is within bounds.
    assert!(parse_fragment(&frag(10, 10, &[])).is_ok());
    // Maximal 24-bit values: no overflow in the check.
    let mut b = encode(|o| {
        put_header(
            o,
            HandshakeType::Finished,
            0xff_ffff,
            0,
            0xff_ffff,
            0xff_ffff,
        )
    });
    assert_eq!(parse_fragment(&b).unwrap_err(), FragmentError::OutOfBounds);
    // The bounds are checked before the body's presence.
    b.truncate(HANDSHAKE_HEADER_LEN);
    assert_eq!(parse_fragment(&b).unwrap_err(), FragmentError::OutOfBounds);
}

#[test]
fn fragment_truncated_at_every_length() {
    let mut bytes = Vec::new();
    transcript_bytes(&mut bytes, HandshakeType::Finished, 3, &[0xf; 12]);
    for n in 0..bytes.len() {
        assert_eq!(
            parse_fragment(&bytes[..n]).unwrap_err(),
            FragmentError::Truncated,
            "length {n}"
        );
    }
}

#[test]
fn fragment_unknown_type_rejected() {
    for ty in [4u8, 5, 21, 24, 254, 255] {
        let mut bytes = Vec::new();
        transcript_bytes(&mut bytes, HandshakeType::Finished, 0, &[0; 12]);
        bytes[0] = ty;
        assert_eq!(
            parse_fragment(&bytes).unwrap_err(),
            FragmentError::UnknownType,
            "type {ty}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------------------

#[test]
fn extensions_round_trip_all_we_use() {
    let ext = all_extensions();
    let bytes = encode(|o| ext.write(o));
    let mut r = Reader::new(&bytes);
    let parsed = Extensions::parse(&mut r).unwrap();
    assert!(r.is_empty());
    assert_eq!(
        parsed,
        Extensions {
            present: ALL_PRESENT.to_vec(),
            ..ext
        }
    );
}

#[test]
fn extensions_round_trip_each_alone() {
    let cases = [
        Extensions {
            supported_groups: Some(vec![23]),
            ..Default::default()
        },
        Extensions {
            ec_point_formats: Some(vec![0, 1, 2]),
            ..Default::default()
        },
        Extensions {
            signature_algorithms: Some(vec![0x0403]),
            ..Default::default()
        },
        Extensions {
            use_srtp: Some(UseSrtp {
                profiles: vec![0x0001],
                mki: vec![1, 2, 3],
            }),
            ..Default::default()
        },
        Extensions {
            extended_master_secret: true,
            ..Default::default()
        },
        Extensions {
            renegotiation_info: Some(vec![0xab; 12]),
            ..Default::default()
        },
    ];
    for (ext, ty) in cases.into_iter().zip([
        EXT_SUPPORTED_GROUPS,
        EXT_EC_POINT_FORMATS,
        EXT_SIGNATURE_ALGORITHMS,
        EXT_USE_SRTP,
        EXT_EXTENDED_MASTER_SECRET,
        EXT_RENEGOTIATION_INFO,
    ]) {
        let bytes = encode(|o| ext.write(o));
        let parsed = Extensions::parse(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(
            parsed,
            Extensions {
                present: vec![ty],
                ..ext
            }
        );
    }
}

#[test]
fn extensions_known_bytes() {
    let ext = Extensions {
        extended_master_secret: true,
        use_srtp: Some(UseSrtp {
            profiles: vec![0x0007],
            mki: Vec::new(),
        }),
        ..Default::default()
    };
    assert_eq!(
        encode(|o| ext.write(o)),
        [
            0x00, 0x0d, // block length
            0x00, 0x17, 0x00, 0x00, // extended_master_secret, empty
            0x00, 0x0e, 0x00, 0x05, // use_srtp, 5 bytes
            0x00, 0x02, 0x00, 0x07, // profiles: SRTP_AEAD_AES_128_GCM
            0x00, // no MKI
        ]
    );
}

#[test]
fn empty_and_absent_extension_blocks() {
    // No bytes at all: no extensions (the hello simply ends).
    let mut r = Reader::new(&[]);
    assert_eq!(Extensions::parse(&mut r), Ok(Extensions::default()));
    // A zero-length block.
    assert_eq!(parse_block(&[]), Ok(Extensions::default()));
    // Writing no extensions writes an empty block.
    assert_eq!(encode(|o| Extensions::default().write(o)), [0, 0]);
    // A block prefix alone, one byte of it, or a prefix promising more than there is.
    assert!(Extensions::parse(&mut Reader::new(&[0])).is_err());
    assert!(Extensions::parse(&mut Reader::new(&[0, 4, 0, 23])).is_err());
}

#[test]
fn unknown_extensions_are_skipped_but_recorded() {
    let block = encode(|o| {
        raw_ext(o, EXT_SERVER_NAME, b"\x00\x09\x00\x00\x06abc.de");
        raw_ext(o, 0x1234, &[0xde, 0xad, 0xbe, 0xef]);
        raw_ext(o, EXT_EXTENDED_MASTER_SECRET, &[]);
        // GREASE-style value with an empty body.
        raw_ext(o, 0x0a0a, &[]);
        raw_ext(o, EXT_SUPPORTED_GROUPS, &[0, 2, 0, 29]);
    });
    let ext = parse_block(&block).unwrap();
    assert!(ext.extended_master_secret);
    assert_eq!(ext.supported_groups, Some(vec![29]));
    assert_eq!(
        ext.present,
        [
            EXT_SERVER_NAME,
            0x1234,
            EXT_EXTENDED_MASTER_SECRET,
            0x0a0a,
            EXT_SUPPORTED_GROUPS
        ]
    );
    assert_eq!(ext.use_srtp, None);
    assert_eq!(ext.renegotiation_info, None);
}

#[test]
fn duplicate_extensions_rejected() {
    for ty in [EXT_SUPPORTED_GROUPS, EXT_EXTENDED_MASTER_SECRET, 0x1234] {
        let body: &[u8] = if ty == EXT_SUPPORTED_GROUPS {
            &[0, 2, 0, 29]
        } else {
            &[]
        };
        let block = encode(|o| {
            raw_ext(o, ty, body);
            raw_ext(o, EXT_RENEGOTIATION_INFO, &[0]);
            raw_ext(o, ty, body);
        });
        assert_eq!(parse_block(&block), Err("duplicate extension"), "{ty:#x}");
    }
}

#[test]
fn too_many_extensions_rejected() {
    let block = |n: u16| encode(|o| (0..n).for_each(|i| raw_ext(o, 0x1000 + i, &[])));
    assert_eq!(parse_block(&block(64)).unwrap().present.len(), 64);
    assert_eq!(parse_block(&block(65)), Err("too many extensions"));
}

#[test]
fn malformed_known_extensions_rejected() {
    let cases: [(u16, &[u8]); 14] = [
        // Odd-length or mis-prefixed u16 lists.
        (EXT_SUPPORTED_GROUPS, &[0, 3, 0, 29, 0]),
        (EXT_SUPPORTED_GROUPS, &[0, 4, 0, 29]),
        (EXT_SUPPORTED_GROUPS, &[]),
        (EXT_SIGNATURE_ALGORITHMS, &[0, 1, 4]),
        // Contents beyond the inner vector.
        (EXT_SUPPORTED_GROUPS, &[0, 2, 0, 29, 0xff]),
        (EXT_EC_POINT_FORMATS, &[1, 0, 0]),
        (EXT_EC_POINT_FORMATS, &[2, 0]),
        (EXT_RENEGOTIATION_INFO, &[]),
        (EXT_RENEGOTIATION_INFO, &[0, 0]),
        // extended_master_secret must be empty.
        (EXT_EXTENDED_MASTER_SECRET, &[0]),
        // use_srtp: no MKI length, odd profiles, trailing byte, prefix beyond the data.
        (EXT_USE_SRTP, &[0, 2, 0, 1]),
        (EXT_USE_SRTP, &[0, 1, 1, 0]),
        (EXT_USE_SRTP, &[0, 2, 0, 1, 0, 9]),
        (EXT_USE_SRTP, &[0, 2, 0, 1, 3, 1]),
    ];
    for (ty, data) in cases {
        let block = encode(|o| raw_ext(o, ty, data));
        assert!(
            parse_block(&block).is_err(),
            "extension {ty:#x} with {data:?} was accepted"
        );
    }
}

#[test]
fn extension_framing_errors_rejected() {
    // An extension header cut short inside the block.
    assert!(parse_block(&[0x00]).is_err());
    assert!(parse_block(&[0x00, 0x17]).is_err());
    assert!(parse_block(&[0x00, 0x17, 0x00]).is_err());
    // An extension's length running past the block.
    assert!(parse_block(&[0x00, 0x17, 0x00, 0x01]).is_err());
    // Unknown extensions are framed too.
    assert!(parse_block(&[0x12, 0x34, 0x00, 0x05, 1, 2]).is_err());
}

// ---------------------------------------------------------------------------------------
// ClientHello
// ---------------------------------------------------------------------------------------

#[test]
fn client_hello_round_trip_with_all_extensions() {
    let hello = full_client_hello();
    let body = encode(|o| hello.write(o));
    let parsed = ClientHello::parse(&body).unwrap();
    assert_eq!(
        parsed,
        ClientHello {
            extensions: Extensions {
                present: ALL_PRESENT.to_vec(),
                ..all_extensions()
            },
            ..hello
        }
    );
    // Encoding the parsed hello gives the same bytes (write ignores `present`).
    assert_eq!(encode(|o| parsed.write(o)), body);
}

#[test]
fn client_hello_first_flight_round_trip() {
    // A first ClientHello: empty session id and cookie, DTLS 1.0 version.
    let hello = ClientHello {
        version: DTLS_1_0,
        random: random(200),
        session_id: Vec::new(),
        cookie: Vec::new(),
        cipher_suites: vec![0xc02b],
        compression_methods: vec![COMPRESSION_NULL],
        extensions: Extensions::default(),
    };
    let body = encode(|o| hello.write(o));
    assert_eq!(ClientHello::parse(&body), Ok(hello));
}

#[test]
fn client_hello_with_unknown_extension_skips_it() {
    let block = encode(|o| {
        raw_ext(o, EXT_RENEGOTIATION_INFO, &[0]);
        raw_ext(o, 0x3374, b"next protocol negotiation, say");
        raw_ext(o, EXT_USE_SRTP, &[0, 4, 0, 7, 0, 1, 0]);
    });
    let hello = ClientHello::parse(&client_hello_with_block(&block)).unwrap();
    assert_eq!(hello.extensions.renegotiation_info, Some(vec![]));
    assert_eq!(
        hello.extensions.use_srtp,
        Some(UseSrtp {
            profiles: vec![7, 1],
            mki: vec![]
        })
    );
    assert_eq!(
        hello.extensions.present,
        [EXT_RENEGOTIATION_INFO, 0x3374, EXT_USE_SRTP]
    );
    assert_eq!(hello.cookie, vec![0xc0; 20]);
}

#[test]
fn client_hello_with_duplicate_extension_rejected() {
    let block = encode(|o| {
        raw_ext(o, EXT_EC_POINT_FORMATS, &[1, 0]);
        raw_ext(o, EXT_EC_POINT_FORMATS, &[1, 0]);
    });
    assert_eq!(
        ClientHello::parse(&client_hello_with_block(&block)),
        Err("duplicate extension")
    );
}

#[test]
fn client_hello_without_extensions_block_parses() {
    // RFC 5246 §7.4.1.2: extensions are detected by bytes after compression_methods.
    let hello = ClientHello::parse(&client_hello_without_extensions()).unwrap();
    assert_eq!(hello.extensions, Extensions::default());
    assert_eq!(hello.session_id, vec![0x55; 32]);
}

#[test]
fn client_hello_field_checks() {
    let base = full_client_hello();
    let bad = |h: ClientHello| ClientHello::parse(&encode(|o| h.write(o)));
    assert_eq!(
        bad(ClientHello {
            session_id: vec![0; 33],
            ..base.clone()
        }),
        Err("session_id too long")
    );
    assert_eq!(
        bad(ClientHello {
            cipher_suites: vec![],
            ..base.clone()
        }),
        Err("no cipher suites")
    );
    assert_eq!(
        bad(ClientHello {
            compression_methods: vec![],
            ..base.clone()
        }),
        Err("no compression methods")
    );
    // The longest cookie DTLS 1.2 allows (2^8-1) is fine.
    let long_cookie = ClientHello {
        cookie: vec![7; 255],
        ..base.clone()
    };
    assert_eq!(bad(long_cookie.clone()).unwrap().cookie, long_cookie.cookie);
    // Trailing bytes after the extensions block.
    let mut body = encode(|o| base.write(o));
    body.push(0);
    assert_eq!(
        ClientHello::parse(&body),
        Err("trailing bytes after client_hello")
    );
    // An odd-length cipher_suites vector.
    let mut body = Vec::new();
    put_u16(&mut body, DTLS_1_2);
    body.extend(random(0));
    put_vec8(&mut body, &[]);
    put_vec8(&mut body, &[]);
    put_vec16(&mut body, &[0xc0, 0x2b, 0x00]);
    put_vec8(&mut body, &[0]);
    assert_eq!(ClientHello::parse(&body), Err("bad cipher_suites"));
}

#[test]
fn client_hello_every_truncation_is_an_error() {
    let body = encode(|o| full_client_hello().write(o));
    // The one prefix that is itself a valid hello: the one ending right before the
    // extensions block (extensions are optional).
    let no_ext = client_hello_without_extensions().len();
    for n in 0..body.len() {
        let r = ClientHello::parse(&body[..n]);
        if n == no_ext {
            assert_eq!(r.unwrap().extensions, Extensions::default());
        } else {
            assert!(r.is_err(), "prefix of {n} of {} bytes parsed", body.len());
        }
    }
}

#[test]
fn client_hello_corruptions_do_not_panic() {
    assert_no_panic_on_corruptions(&encode(|o| full_client_hello().write(o)));
}

// ---------------------------------------------------------------------------------------
// ServerHello
// ---------------------------------------------------------------------------------------

fn server_hello() -> ServerHello {
    ServerHello {
        version: DTLS_1_2,
        random: random(100),
        session_id: vec![1, 2, 3, 4],
        cipher_suite: 0xc02b,
        compression_method: COMPRESSION_NULL,
        extensions: Extensions {
            renegotiation_info: Some(Vec::new()),
            extended_master_secret: true,
            ec_point_formats: Some(vec![POINT_FORMAT_UNCOMPRESSED]),
            use_srtp: Some(UseSrtp {
                profiles: vec![0x0007],
                mki: Vec::new(),
            }),
            ..Default::default()
        },
    }
}

#[test]
fn server_hello_round_trip() {
    let hello = server_hello();
    let body = encode(|o| hello.write(o));
    let parsed = ServerHello::parse(&body).unwrap();
    assert_eq!(
        parsed.extensions.present,
        [
            EXT_RENEGOTIATION_INFO,
            EXT_EXTENDED_MASTER_SECRET,
            EXT_EC_POINT_FORMATS,
            EXT_USE_SRTP
        ]
    );
    assert_eq!(
        parsed,
        ServerHello {
            extensions: Extensions {
                present: parsed.extensions.present.clone(),
                ..hello.extensions.clone()
            },
            ..hello
        }
    );
    assert_eq!(encode(|o| parsed.write(o)), body);
}

/// A ServerHello written out by hand from RFC 5246 §7.4.1.3 (with RFC 6347's DTLS version,
/// RFC 5746 renegotiation_info, RFC 7627 extended_master_secret and RFC 5764 use_srtp).
#[test]
fn server_hello_known_bytes() {
    let mut body = vec![
        0xfe, 0xfd, // server_version: DTLS 1.2 = {254, 253}
    ];
    body.extend(0x20..0x40u8); // random: 32 bytes (gmt_unix_time + random_bytes)
    body.extend([
        0x00, // session_id: <0..32>, empty
        0xc0, 0x2b, // cipher_suite: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        0x00, // compression_method: null
        0x00, 0x12, // extensions<0..2^16-1>: 18 bytes
        0xff, 0x01, 0x00, 0x01, // renegotiation_info, 1 byte:
        0x00, //   renegotiated_connection<0..255> = {}
        0x00, 0x17, 0x00, 0x00, // extended_master_secret: empty
        0x00, 0x0e, 0x00, 0x05, // use_srtp, 5 bytes:
        0x00, 0x02, 0x00, 0x01, //   SRTPProtectionProfiles = {SRTP_AES128_CM_HMAC_SHA1_80}
        0x00, //   srtp_mki = {}
    ]);
    let hello = ServerHello::parse(&body).unwrap();
    assert_eq!(hello.version, DTLS_1_2);
    assert_eq!(hello.random[0], 0x20);
    assert_eq!(hello.random[31], 0x3f);
    assert!(hello.session_id.is_empty());
    assert_eq!(hello.cipher_suite, 0xc02b);
    assert_eq!(hello.compression_method, COMPRESSION_NULL);
    let ext = &hello.extensions;
    assert_eq!(ext.renegotiation_info, Some(vec![]));
    assert!(ext.extended_master_secret);
    assert_eq!(
        ext.use_srtp,
        Some(UseSrtp {
            profiles: vec![0x0001],
            mki: vec![]
        })
    );
    assert_eq!(ext.supported_groups, None);
    assert_eq!(ext.ec_point_formats, None);
    assert_eq!(ext.signature_algorithms, None);
    assert_eq!(
        ext.present,
        [
            EXT_RENEGOTIATION_INFO,
            EXT_EXTENDED_MASTER_SECRET,
            EXT_USE_SRTP
        ]
    );
    // Our encoder writes these extensions in the same order: same bytes back.
    assert_eq!(encode(|o| hello.write(o)), body);
}

#[test]
fn server_hello_rejections() {
    let body = encode(|o| server_hello().write(o));
    let no_ext = body.len() - encode(|o| server_hello().extensions.write(o)).len();
    for n in 0..body.len() {
        let r = ServerHello::parse(&body[..n]);
        if n == no_ext {
            assert_eq!(r.unwrap().extensions, Extensions::default());
        } else {
            assert!(r.is_err(), "prefix of {n} bytes parsed");
        }
    }
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        ServerHello::parse(&long),
        Err("trailing bytes after server_hello")
    );
    let h = ServerHello {
        session_id: vec![0; 33],
        ..server_hello()
    };
    assert_eq!(
        ServerHello::parse(&encode(|o| h.write(o))),
        Err("session_id too long")
    );
    assert_no_panic_on_corruptions(&body);
}

// ---------------------------------------------------------------------------------------
// HelloVerifyRequest
// ---------------------------------------------------------------------------------------

#[test]
fn hello_verify_request_round_trip_and_known_bytes() {
    let hvr = HelloVerifyRequest {
        version: DTLS_1_0,
        cookie: vec![0xaa, 0xbb],
    };
    let body = encode(|o| hvr.write(o));
    assert_eq!(body, [0xfe, 0xff, 0x02, 0xaa, 0xbb]);
    assert_eq!(HelloVerifyRequest::parse(&body), Ok(hvr));
    let max = HelloVerifyRequest {
        version: DTLS_1_2,
        cookie: vec![1; 255],
    };
    assert_eq!(
        HelloVerifyRequest::parse(&encode(|o| max.write(o))),
        Ok(max)
    );
    let empty = HelloVerifyRequest {
        version: DTLS_1_2,
        cookie: vec![],
    };
    assert_eq!(
        HelloVerifyRequest::parse(&encode(|o| empty.write(o))),
        Ok(empty)
    );
}

#[test]
fn hello_verify_request_rejections() {
    let body = [0xfe, 0xff, 0x02, 0xaa, 0xbb];
    for n in 0..body.len() {
        assert!(HelloVerifyRequest::parse(&body[..n]).is_err(), "{n}");
    }
    assert_eq!(
        HelloVerifyRequest::parse(&[0xfe, 0xff, 0x02, 0xaa, 0xbb, 0x00]),
        Err("trailing bytes after hello_verify_request")
    );
}

// ---------------------------------------------------------------------------------------
// Certificate
// ---------------------------------------------------------------------------------------

#[test]
fn certificate_round_trip_and_known_bytes() {
    let cert = Certificate {
        chain: vec![vec![0x30, 0x01], vec![0x30; 300], vec![0x42]],
    };
    let body = encode(|o| cert.write(o));
    // certificate_list length, then each entry's 24-bit length.
    assert_eq!(body[..5], [0x00, 0x01, 0x38, 0x00, 0x00]);
    assert_eq!(body.len(), 3 + (3 + 2) + (3 + 300) + (3 + 1));
    assert_eq!(Certificate::parse(&body, 4), Ok(cert.clone()));
    assert_eq!(Certificate::parse(&body, 3), Ok(cert));
    // An empty chain (a client without a certificate) is well-formed.
    let empty = Certificate { chain: vec![] };
    let body = encode(|o| empty.write(o));
    assert_eq!(body, [0, 0, 0]);
    assert_eq!(Certificate::parse(&body, 0), Ok(empty));
}

#[test]
fn certificate_max_certs_limit() {
    let cert = Certificate {
        chain: vec![vec![1]; 5],
    };
    let body = encode(|o| cert.write(o));
    assert_eq!(Certificate::parse(&body, 5).unwrap().chain.len(), 5);
    for max in 0..5 {
        assert_eq!(
            Certificate::parse(&body, max),
            Err("certificate chain too long"),
            "max {max}"
        );
    }
}

#[test]
fn certificate_rejections() {
    // An empty entry.
    let body = encode(|o| put_len_prefixed(o, 3, |o| put_vec24(o, &[])));
    assert_eq!(Certificate::parse(&body, 4), Err("empty certificate entry"));
    // An entry running past the list.
    let body = encode(|o| put_len_prefixed(o, 3, |o| o.extend([0, 0, 5, 1, 2])));
    assert_eq!(
        Certificate::parse(&body, 4),
        Err("certificate entry truncated")
    );
    // Trailing bytes after the list.
    let mut body = encode(|o| {
        Certificate {
            chain: vec![vec![1]],
        }
        .write(o)
    });
    body.push(0);
    assert_eq!(
        Certificate::parse(&body, 4),
        Err("trailing bytes after certificate")
    );
    // Every truncation.
    let body = encode(|o| {
        Certificate {
            chain: vec![vec![1, 2, 3], vec![4, 5]],
        }
        .write(o)
    });
    for n in 0..body.len() {
        assert!(Certificate::parse(&body[..n], 4).is_err(), "{n}");
    }
    assert_no_panic_on_corruptions(&body);
}

// ---------------------------------------------------------------------------------------
// ServerKeyExchange
// ---------------------------------------------------------------------------------------

fn server_key_exchange() -> ServerKeyExchange {
    ServerKeyExchange {
        group: 29,
        public: vec![0x11; 32],
        scheme: 0x0403,
        signature: vec![0x30; 71],
    }
}

#[test]
fn server_key_exchange_round_trip_and_params() {
    let ske = server_key_exchange();
    let body = encode(|o| ske.write(o));
    assert_eq!(ServerKeyExchange::parse(&body), Ok(ske.clone()));
    // ServerECDHParams: curve_type named_curve(3), x25519(29), point<1..2^8-1>.
    let params = ServerKeyExchange::params(29, &ske.public);
    assert_eq!(params[..4], [CURVE_TYPE_NAMED, 0x00, 0x1d, 32]);
    assert_eq!(params[4..], ske.public[..]);
    // The body is the params, the scheme, then signature<0..2^16-1>.
    assert_eq!(body[..params.len()], params[..]);
    assert_eq!(body[params.len()..params.len() + 4], [0x04, 0x03, 0x00, 71]);
    assert_eq!(body.len(), params.len() + 4 + 71);
}

#[test]
fn server_key_exchange_rejections() {
    let body = encode(|o| server_key_exchange().write(o));
    for n in 0..body.len() {
        assert!(ServerKeyExchange::parse(&body[..n]).is_err(), "{n}");
    }
    // explicit_prime(1) / explicit_char2(2) curves are not supported.
    for ty in [0, 1, 2, 4] {
        let mut b = body.clone();
        b[0] = ty;
        assert_eq!(
            ServerKeyExchange::parse(&b),
            Err("curve type not named_curve")
        );
    }
    let empty = ServerKeyExchange {
        public: vec![],
        ..server_key_exchange()
    };
    assert_eq!(
        ServerKeyExchange::parse(&encode(|o| empty.write(o))),
        Err("empty public key")
    );
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        ServerKeyExchange::parse(&long),
        Err("trailing bytes after server_key_exchange")
    );
    assert_no_panic_on_corruptions(&body);
}

// ---------------------------------------------------------------------------------------
// CertificateRequest
// ---------------------------------------------------------------------------------------

#[test]
fn certificate_request_round_trip_and_known_bytes() {
    let req = CertificateRequest {
        cert_types: vec![CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN],
        signature_algorithms: vec![0x0403, 0x0804],
    };
    let body = encode(|o| req.write(o));
    assert_eq!(
        body,
        [
            0x02, 64, 1, // certificate_types
            0x00, 0x04, 0x04, 0x03, 0x08, 0x04, // supported_signature_algorithms
            0x00, 0x00, // certificate_authorities: none
        ]
    );
    assert_eq!(CertificateRequest::parse(&body), Ok(req));
}

#[test]
fn certificate_request_ignores_authorities() {
    let mut body = Vec::new();
    put_vec8(&mut body, &[CERT_TYPE_ECDSA_SIGN]);
    put_u16_list16(&mut body, &[0x0403]);
    put_vec16(&mut body, &encode(|o| put_vec16(o, b"some DN")));
    let req = CertificateRequest::parse(&body).unwrap();
    assert_eq!(req.cert_types, [CERT_TYPE_ECDSA_SIGN]);
    assert_eq!(req.signature_algorithms, [0x0403]);
}

#[test]
fn certificate_request_rejections() {
    let req = CertificateRequest {
        cert_types: vec![CERT_TYPE_ECDSA_SIGN],
        signature_algorithms: vec![0x0403],
    };
    let body = encode(|o| req.write(o));
    for n in 0..body.len() {
        assert!(CertificateRequest::parse(&body[..n]).is_err(), "{n}");
    }
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        CertificateRequest::parse(&long),
        Err("trailing bytes after certificate_request")
    );
    // Odd-length signature algorithm list.
    let odd = [0x01, 64, 0x00, 0x01, 0x04, 0x00, 0x00];
    assert_eq!(
        CertificateRequest::parse(&odd),
        Err("bad signature algorithms")
    );
    assert_no_panic_on_corruptions(&body);
}

// ---------------------------------------------------------------------------------------
// ClientKeyExchange, CertificateVerify, Finished, empty bodies
// ---------------------------------------------------------------------------------------

#[test]
fn client_key_exchange_round_trip_and_rejections() {
    // An uncompressed P-256 point.
    let mut public = vec![0x04];
    public.extend([0x22; 64]);
    let cke = ClientKeyExchange { public };
    let body = encode(|o| cke.write(o));
    assert_eq!(body[0], 65);
    assert_eq!(ClientKeyExchange::parse(&body), Ok(cke));
    for n in 0..body.len() {
        assert!(ClientKeyExchange::parse(&body[..n]).is_err(), "{n}");
    }
    assert_eq!(ClientKeyExchange::parse(&[0]), Err("empty public key"));
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        ClientKeyExchange::parse(&long),
        Err("trailing bytes after client_key_exchange")
    );
}

#[test]
fn certificate_verify_round_trip_and_rejections() {
    let cv = CertificateVerify {
        scheme: 0x0403,
        signature: vec![0x30, 0x45, 0x02],
    };
    let body = encode(|o| cv.write(o));
    assert_eq!(body, [0x04, 0x03, 0x00, 0x03, 0x30, 0x45, 0x02]);
    assert_eq!(CertificateVerify::parse(&body), Ok(cv));
    for n in 0..body.len() {
        assert!(CertificateVerify::parse(&body[..n]).is_err(), "{n}");
    }
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        CertificateVerify::parse(&long),
        Err("trailing bytes after certificate_verify")
    );
    // An empty signature is well-formed here (verification rejects it later).
    assert_eq!(
        CertificateVerify::parse(&[0x04, 0x03, 0, 0]),
        Ok(CertificateVerify {
            scheme: 0x0403,
            signature: vec![]
        })
    );
}

#[test]
fn finished_is_exactly_12_bytes() {
    let verify_data: [u8; 12] = core::array::from_fn(|i| i as u8);
    assert_eq!(parse_finished(&verify_data), Ok(verify_data));
    for len in [0, 1, 11, 13, 32] {
        assert_eq!(
            parse_finished(&vec![0; len]),
            Err("finished is not 12 bytes"),
            "{len}"
        );
    }
}

#[test]
fn empty_bodies() {
    assert_eq!(parse_empty(&[]), Ok(()));
    assert_eq!(parse_empty(&[0]), Err("message should be empty"));
}

// ---------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------

#[test]
fn alert_parse_and_encode() {
    let a = Alert::parse(&[2, 40]).unwrap();
    assert_eq!(a.level, AlertLevel::Fatal);
    assert_eq!(a.description, AlertDescription::HandshakeFailure);
    assert_eq!(a.to_bytes(), [2, 40]);
    let close = Alert {
        level: AlertLevel::Warning,
        description: AlertDescription::CloseNotify,
    };
    assert_eq!(close.to_bytes(), [1, 0]);
    assert_eq!(Alert::parse(&close.to_bytes()), Some(close));
    // Unnamed codes survive.
    let other = Alert::parse(&[1, 200]).unwrap();
    assert_eq!(other.description, AlertDescription::Other(200));
    assert_eq!(other.to_bytes(), [1, 200]);
}

#[test]
fn alert_rejections() {
    // Bad levels.
    for level in [0u8, 3, 255] {
        assert_eq!(Alert::parse(&[level, 0]), None, "level {level}");
    }
    // Wrong lengths.
    assert_eq!(Alert::parse(&[]), None);
    assert_eq!(Alert::parse(&[1]), None);
    assert_eq!(Alert::parse(&[1, 0, 0]), None);
}

#[test]
fn alert_descriptions_round_trip_every_code() {
    use AlertDescription::*;
    let named = [
        (CloseNotify, 0u8),
        (UnexpectedMessage, 10),
        (BadRecordMac, 20),
        (RecordOverflow, 22),
        (HandshakeFailure, 40),
        (BadCertificate, 42),
        (UnsupportedCertificate, 43),
        (CertificateExpired, 45),
        (CertificateUnknown, 46),
        (IllegalParameter, 47),
        (DecodeError, 50),
        (DecryptError, 51),
        (ProtocolVersion, 70),
        (InsufficientSecurity, 71),
        (InternalError, 80),
        (UserCanceled, 90),
        (NoRenegotiation, 100),
        (UnsupportedExtension, 110),
    ];
    for (d, v) in named {
        assert_eq!(d.to_u8(), v);
        assert_eq!(AlertDescription::from_u8(v), d);
    }
    for v in 0..=255u8 {
        let d = AlertDescription::from_u8(v);
        assert_eq!(d.to_u8(), v);
        // Named codes never come back as `Other`.
        let is_named = named.iter().any(|(_, n)| *n == v);
        assert_eq!(matches!(d, Other(_)), !is_named, "{v}");
        for level in [AlertLevel::Warning, AlertLevel::Fatal] {
            let a = Alert {
                level,
                description: d,
            };
            assert_eq!(Alert::parse(&a.to_bytes()), Some(a));
        }
    }
}

#[test]
fn alert_description_display() {
    assert_eq!(
        AlertDescription::BadCertificate.to_string(),
        "BadCertificate"
    );
    assert_eq!(AlertDescription::Other(7).to_string(), "alert 7");
}

// ---------------------------------------------------------------------------------------
// All layers together
// ---------------------------------------------------------------------------------------

#[test]
fn client_hello_in_a_fragment_in_a_record() {
    let hello = full_client_hello();
    let body = encode(|o| hello.write(o));
    let mut fragment = Vec::new();
    transcript_bytes(&mut fragment, HandshakeType::ClientHello, 1, &body);
    let datagram = record_bytes(ContentType::Handshake, DTLS_1_2, 0, 1, &fragment);
    let mut recs = records(&datagram);
    let rec = recs.next().unwrap().unwrap();
    assert!(recs.next().is_none());
    let (frag, rest) = parse_fragment(rec.fragment).unwrap();
    assert!(rest.is_empty());
    assert_eq!(frag.msg_type, HandshakeType::ClientHello);
    assert_eq!(frag.length as usize, body.len());
    assert_eq!(ClientHello::parse(frag.body).unwrap().cookie, hello.cookie);
    assert_no_panic_on_corruptions(&datagram);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Extensions as our encoder can write them, and the `present` list parsing them
    /// should give back (in the encoder's fixed order).
    fn extensions() -> impl Strategy<Value = Extensions> {
        (
            proptest::option::of(vec(any::<u16>(), 0..8)),
            proptest::option::of(vec(any::<u8>(), 0..4)),
            proptest::option::of(vec(any::<u16>(), 0..8)),
            proptest::option::of((vec(any::<u16>(), 0..5), vec(any::<u8>(), 0..4))),
            any::<bool>(),
            proptest::option::of(vec(any::<u8>(), 0..24)),
        )
            .prop_map(|(groups, formats, sigs, srtp, ems, reneg)| {
                let mut e = Extensions {
                    supported_groups: groups,
                    ec_point_formats: formats,
                    signature_algorithms: sigs,
                    use_srtp: srtp.map(|(profiles, mki)| UseSrtp { profiles, mki }),
                    extended_master_secret: ems,
                    renegotiation_info: reneg,
                    present: Vec::new(),
                };
                e.present = expected_present(&e);
                e
            })
    }

    fn expected_present(e: &Extensions) -> Vec<u16> {
        [
            (e.renegotiation_info.is_some(), EXT_RENEGOTIATION_INFO),
            (e.extended_master_secret, EXT_EXTENDED_MASTER_SECRET),
            (e.supported_groups.is_some(), EXT_SUPPORTED_GROUPS),
            (e.ec_point_formats.is_some(), EXT_EC_POINT_FORMATS),
            (e.signature_algorithms.is_some(), EXT_SIGNATURE_ALGORITHMS),
            (e.use_srtp.is_some(), EXT_USE_SRTP),
        ]
        .into_iter()
        .filter_map(|(on, ty)| on.then_some(ty))
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any ClientHello we can encode parses back to itself.
        #[test]
        fn client_hello_round_trips(
            version in any::<u16>(),
            random in any::<[u8; 32]>(),
            session_id in vec(any::<u8>(), 0..=32),
            cookie in vec(any::<u8>(), 0..=255),
            cipher_suites in vec(any::<u16>(), 1..16),
            compression_methods in vec(any::<u8>(), 1..4),
            extensions in extensions(),
        ) {
            let hello = ClientHello {
                version,
                random,
                session_id,
                cookie,
                cipher_suites,
                compression_methods,
                extensions,
            };
            let body = encode(|o| hello.write(o));
            prop_assert_eq!(ClientHello::parse(&body), Ok(hello));
        }

        /// Any ServerHello we can encode parses back to itself.
        #[test]
        fn server_hello_round_trips(
            version in any::<u16>(),
            random in any::<[u8; 32]>(),
            session_id in vec(any::<u8>(), 0..=32),
            cipher_suite in any::<u16>(),
            compression_method in any::<u8>(),
            extensions in extensions(),
        ) {
            let hello = ServerHello {
                version,
                random,
                session_id,
                cipher_suite,
                compression_method,
                extensions,
            };
            let body = encode(|o| hello.write(o));
            prop_assert_eq!(ServerHello::parse(&body), Ok(hello));
        }

        /// Any record header round-trips, the sequence number kept to 48 bits.
        #[test]
        fn record_header_round_trips(
            ty in 20u8..=23,
            dtls_1_0 in any::<bool>(),
            epoch in any::<u16>(),
            seq in any::<u64>(),
            fragment in vec(any::<u8>(), 0..64),
            trailing in vec(any::<u8>(), 0..16),
        ) {
            let ty = ContentType::from_u8(ty).unwrap();
            let version = if dtls_1_0 { DTLS_1_0 } else { DTLS_1_2 };
            let mut bytes = record_bytes(ty, version, epoch, seq, &fragment);
            bytes.extend(&trailing);
            let (rec, rest) = parse_record(&bytes).unwrap();
            prop_assert_eq!(rec.header.content_type, ty);
            prop_assert_eq!(rec.header.version, version);
            prop_assert_eq!(rec.header.epoch, epoch);
            prop_assert_eq!(rec.header.seq, seq & MAX_SEQ);
            prop_assert_eq!(rec.fragment, &fragment[..]);
            prop_assert_eq!(rest, &trailing[..]);
        }

        /// Arbitrary bytes never make a parser panic.
        #[test]
        fn arbitrary_bytes_do_not_panic(bytes in vec(any::<u8>(), 0..512)) {
            parse_everything(&bytes);
        }
    }
}
