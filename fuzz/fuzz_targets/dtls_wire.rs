//! The DTLS wire codecs on arbitrary bytes: the record iterator, the handshake fragment
//! parser, every handshake message parser and the alert parser.
//!
//! Nothing may panic. Where a parse succeeds and the type can be written back, the
//! encoding must parse again to an equal value (and, where the encoding is canonical,
//! to the very same bytes).
//!
//! The input is tried two ways: whole, against every parser (the fuzzer finds each
//! parser's format on its own), and as a datagram, following its structure down to the
//! message bodies (so seeds taken from real handshakes reach deep into every parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::wire::alert::Alert;
use sansrtc::dtls::wire::extensions::Extensions;
use sansrtc::dtls::wire::handshake::{self, Fragment, HandshakeType};
use sansrtc::dtls::wire::messages::{
    self, Certificate, CertificateRequest, CertificateVerify, ClientHello, ClientKeyExchange,
    HelloVerifyRequest, ServerHello, ServerKeyExchange,
};
use sansrtc::dtls::wire::record::{self, ContentType, RECORD_HEADER_LEN};

/// The chain limit the endpoint uses by default (`DtlsConfig::max_cert_chain`).
const MAX_CERTS: usize = 4;

fuzz_target!(|data: &[u8]| {
    // Every parser on the raw input.
    all_bodies(data);
    if let Ok((frag, _)) = handshake::parse_fragment(data) {
        fragment_round_trip(&frag);
    }
    if let Some(a) = Alert::parse(data) {
        alert_round_trip(a, data);
    }

    // The input as a datagram: records, then (in plaintext handshake records) fragments,
    // then the bodies of unfragmented messages with the parser their type calls for.
    let mut records = 0usize;
    for rec in record::records(data) {
        let Ok(rec) = rec else {
            // A malformed record ends the iteration.
            continue;
        };
        records += 1;
        record_round_trip(&rec);
        if rec.header.epoch != 0 {
            continue; // ciphertext
        }
        match rec.header.content_type {
            ContentType::Handshake => {
                let mut rest = rec.fragment;
                while !rest.is_empty() {
                    let Ok((frag, tail)) = handshake::parse_fragment(rest) else {
                        break;
                    };
                    // A fragment always consumes its header: the loop ends.
                    assert!(tail.len() < rest.len(), "parse_fragment made no progress");
                    rest = tail;
                    fragment_round_trip(&frag);
                    if frag.offset == 0 && frag.body.len() == frag.length as usize {
                        typed_body(frag.msg_type, frag.body);
                    }
                }
            }
            ContentType::Alert => {
                if let Some(a) = Alert::parse(rec.fragment) {
                    alert_round_trip(a, rec.fragment);
                }
            }
            ContentType::ChangeCipherSpec | ContentType::ApplicationData => {}
        }
    }
    // Every record takes at least its header from the datagram.
    assert!(records <= data.len() / RECORD_HEADER_LEN);
});

/// A record's header written back in front of its fragment gives the record's raw bytes.
fn record_round_trip(rec: &record::Record<'_>) {
    assert_eq!(rec.fragment.len(), usize::from(rec.header.length));
    assert_eq!(rec.raw.len(), RECORD_HEADER_LEN + rec.fragment.len());
    let mut enc = vec![0u8; RECORD_HEADER_LEN];
    assert!(rec.header.write(&mut enc));
    enc.extend_from_slice(rec.fragment);
    assert_eq!(
        enc, rec.raw,
        "record header does not re-encode to its bytes"
    );
    let (again, rest) = record::parse_record(&enc).expect("own record parses");
    assert!(rest.is_empty());
    assert_eq!(again.header, rec.header);
    assert_eq!(again.fragment, rec.fragment);
    // The header alone refuses a buffer too short for it.
    let mut short = [0u8; RECORD_HEADER_LEN - 1];
    assert!(!rec.header.write(&mut short));
}

/// A fragment's header and body written back parse to the same fragment.
fn fragment_round_trip(frag: &Fragment<'_>) {
    let mut enc = Vec::new();
    let frag_len = u32::try_from(frag.body.len()).expect("fragment length is a u24");
    handshake::put_header(
        &mut enc,
        frag.msg_type,
        frag.length,
        frag.message_seq,
        frag.offset,
        frag_len,
    );
    enc.extend_from_slice(frag.body);
    let (again, rest) = handshake::parse_fragment(&enc).expect("own fragment parses");
    assert!(rest.is_empty());
    assert_eq!(&again, frag);
}

fn alert_round_trip(a: Alert, input: &[u8]) {
    let bytes = a.to_bytes();
    assert_eq!(&bytes[..], input, "alert does not re-encode to its bytes");
    assert_eq!(Alert::parse(&bytes), Some(a));
}

/// Every message parser on the same bytes.
fn all_bodies(body: &[u8]) {
    for ty in [
        HandshakeType::HelloRequest,
        HandshakeType::ClientHello,
        HandshakeType::ServerHello,
        HandshakeType::HelloVerifyRequest,
        HandshakeType::Certificate,
        HandshakeType::ServerKeyExchange,
        HandshakeType::CertificateRequest,
        HandshakeType::ServerHelloDone,
        HandshakeType::CertificateVerify,
        HandshakeType::ClientKeyExchange,
        HandshakeType::Finished,
    ] {
        typed_body(ty, body);
    }
}

/// The parser a message of this type goes to.
fn typed_body(ty: HandshakeType, body: &[u8]) {
    match ty {
        HandshakeType::ClientHello => {
            if let Ok(m) = ClientHello::parse(body) {
                client_hello_round_trip(&m);
            }
        }
        HandshakeType::ServerHello => {
            if let Ok(m) = ServerHello::parse(body) {
                server_hello_round_trip(&m);
            }
        }
        HandshakeType::HelloVerifyRequest => {
            if let Ok(m) = HelloVerifyRequest::parse(body) {
                round_trip(
                    &m,
                    body,
                    HelloVerifyRequest::write,
                    HelloVerifyRequest::parse,
                );
            }
        }
        HandshakeType::Certificate => {
            if let Ok(m) = Certificate::parse(body, MAX_CERTS) {
                round_trip(&m, body, Certificate::write, |b| {
                    Certificate::parse(b, MAX_CERTS)
                });
            }
        }
        HandshakeType::ServerKeyExchange => {
            if let Ok(m) = ServerKeyExchange::parse(body) {
                round_trip(&m, body, ServerKeyExchange::write, ServerKeyExchange::parse);
            }
        }
        HandshakeType::CertificateRequest => {
            if let Ok(m) = CertificateRequest::parse(body) {
                cert_request_round_trip(&m, body);
            }
        }
        HandshakeType::ClientKeyExchange => {
            if let Ok(m) = ClientKeyExchange::parse(body) {
                round_trip(&m, body, ClientKeyExchange::write, ClientKeyExchange::parse);
            }
        }
        HandshakeType::CertificateVerify => {
            if let Ok(m) = CertificateVerify::parse(body) {
                round_trip(&m, body, CertificateVerify::write, CertificateVerify::parse);
            }
        }
        HandshakeType::Finished => {
            if let Ok(v) = messages::parse_finished(body) {
                assert_eq!(&v[..], body);
            }
        }
        HandshakeType::HelloRequest | HandshakeType::ServerHelloDone => {
            if messages::parse_empty(body).is_ok() {
                assert!(body.is_empty());
            }
        }
    }
}

/// `parse(write(m)) == m`, for the messages whose encoding is canonical (every field is
/// written back as parsed, and the parser refuses trailing bytes): the encoding must then
/// be the very bytes that were parsed.
fn round_trip<T: PartialEq + core::fmt::Debug, E: core::fmt::Debug>(
    m: &T,
    input: &[u8],
    write: impl Fn(&T, &mut Vec<u8>),
    parse: impl Fn(&[u8]) -> Result<T, E>,
) {
    let mut enc = Vec::new();
    write(m, &mut enc);
    let again = parse(&enc).unwrap_or_else(|e| panic!("own encoding of {m:?} fails: {e:?}"));
    assert_eq!(&again, m, "round trip changed the value");
    assert_eq!(
        enc, input,
        "canonical message does not re-encode to its bytes"
    );
}

/// CertificateRequest drops certificate_authorities when parsing and writes an empty
/// list, so only the two kept fields can round-trip. The encoding is as long as the input
/// exactly when the input's authorities list was empty, and then it is the input.
fn cert_request_round_trip(m: &CertificateRequest, input: &[u8]) {
    let mut enc = Vec::new();
    m.write(&mut enc);
    let again = CertificateRequest::parse(&enc)
        .unwrap_or_else(|e| panic!("own encoding of {m:?} fails: {e}"));
    assert_eq!(&again, m, "certificate_request changed in a round trip");
    assert!(enc.len() <= input.len());
    if enc.len() == input.len() {
        assert_eq!(
            enc, input,
            "certificate_request does not re-encode to its bytes"
        );
    }
}

/// Extensions written back lose what the parser only records in `present`: unknown
/// extension types, and the order of the known ones (`write` has a fixed order). Every
/// other field must survive, and `present` may only shrink.
fn assert_extensions_survive(orig: &Extensions, again: &Extensions) {
    let strip = |e: &Extensions| Extensions {
        present: Vec::new(),
        ..e.clone()
    };
    assert_eq!(
        strip(again),
        strip(orig),
        "extensions changed in a round trip"
    );
    for ty in &again.present {
        assert!(
            orig.present.contains(ty),
            "round trip invented extension {ty}"
        );
    }
}

fn client_hello_round_trip(m: &ClientHello) {
    let mut enc = Vec::new();
    m.write(&mut enc);
    let again =
        ClientHello::parse(&enc).unwrap_or_else(|e| panic!("own encoding of {m:?} fails: {e}"));
    assert_extensions_survive(&m.extensions, &again.extensions);
    let strip = |h: &ClientHello| ClientHello {
        extensions: Extensions::default(),
        ..h.clone()
    };
    assert_eq!(
        strip(&again),
        strip(m),
        "client_hello changed in a round trip"
    );
    // After one normalising pass the encoding is stable.
    let mut enc2 = Vec::new();
    again.write(&mut enc2);
    assert_eq!(enc, enc2, "client_hello encoding is not a fixed point");
    assert_eq!(ClientHello::parse(&enc2).as_ref(), Ok(&again));
}

fn server_hello_round_trip(m: &ServerHello) {
    let mut enc = Vec::new();
    m.write(&mut enc);
    let again =
        ServerHello::parse(&enc).unwrap_or_else(|e| panic!("own encoding of {m:?} fails: {e}"));
    assert_extensions_survive(&m.extensions, &again.extensions);
    let strip = |h: &ServerHello| ServerHello {
        extensions: Extensions::default(),
        ..h.clone()
    };
    assert_eq!(
        strip(&again),
        strip(m),
        "server_hello changed in a round trip"
    );
    let mut enc2 = Vec::new();
    again.write(&mut enc2);
    assert_eq!(enc, enc2, "server_hello encoding is not a fixed point");
    assert_eq!(ServerHello::parse(&enc2).as_ref(), Ok(&again));
}
