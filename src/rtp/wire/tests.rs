//! Unit tests of the RTP/RTCP wire codec.
//!
//! Organised like the codec: RTP packets and header extensions, extension values, RTCP
//! framing, each RTCP packet type, then robustness (malformed input, every truncation) and
//! property tests. Known answers are packets written out byte by byte here from the RFC
//! figures, never produced by the encoder under test.

use super::ext::{self, AudioLevel};
use super::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Decodes a hex string, ignoring spaces (for packets written out by hand).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks_exact(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Runs a writer into a large buffer and returns what it wrote; checks that it refuses
/// every buffer shorter than that (so it never writes past the end) and that it writes
/// the same bytes into a buffer of exactly that size.
fn written(f: impl Fn(&mut [u8]) -> Option<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = f(&mut buf).expect("writer refused a large buffer");
    buf.truncate(n);
    for short in 0..n {
        let mut b = vec![0u8; short];
        assert_eq!(f(&mut b), None, "writer claimed {n} bytes fit in {short}");
    }
    let mut exact = vec![0u8; n];
    assert_eq!(f(&mut exact), Some(n));
    assert_eq!(exact, buf);
    buf
}

/// [`written`] for large packets: checks only the buffers one byte short and exact.
fn written_quick(f: impl Fn(&mut [u8]) -> Option<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let n = f(&mut buf).expect("writer refused a large buffer");
    buf.truncate(n);
    assert_eq!(
        f(&mut vec![0u8; n - 1]),
        None,
        "writer claimed {n} bytes fit in one less"
    );
    let mut exact = vec![0u8; n];
    assert_eq!(f(&mut exact), Some(n));
    assert_eq!(exact, buf);
    buf
}

/// The only packet of an RTCP datagram, typed.
fn only_rtcp(b: &[u8]) -> RtcpPacket<'_> {
    let mut it = RtcpPackets::new(b);
    let p = it.next().expect("one packet").expect("packet parses");
    assert!(it.next().is_none(), "more than one packet");
    p
}

/// Reads every field of every view of an RTP packet (for the no-panic tests).
fn walk_rtp(b: &[u8]) {
    let _ = is_rtcp(b);
    if let Ok(h) = RtpHeader::parse(b) {
        assert!(h.header_len() + h.payload.len() + usize::from(h.padding) == b.len());
        let _ = h.csrcs().fold(0u32, u32::wrapping_add);
        for (id, v) in h.extensions() {
            let _ = (
                ext::abs_send_time(v),
                ext::transport_cc(v),
                ext::mid(v),
                ext::rid(v),
            );
            let _ = (AudioLevel::parse(v), h.extension(id));
        }
    }
}

/// Reads every field of every view of an RTCP compound (for the no-panic tests).
fn walk_rtcp(b: &[u8]) {
    for p in RtcpPackets::new(b).flatten() {
        match p {
            RtcpPacket::SenderReport(sr) => {
                let _ = sr.reports.iter().count();
            }
            RtcpPacket::ReceiverReport(rr) => {
                let _ = rr.reports.iter().count();
            }
            RtcpPacket::Sdes(s) => {
                for c in s.chunks() {
                    let _ = (c.items().count(), c.cname());
                }
            }
            RtcpPacket::Bye(bye) => {
                let _ = bye.ssrcs.iter().count();
            }
            RtcpPacket::Nack(n) => {
                let _ = (n.pairs().count(), n.lost().count());
            }
            RtcpPacket::TransportCc(t) => {
                assert_eq!(t.packets().count(), usize::from(t.status_count));
                let _ = t.arrivals().count();
            }
            RtcpPacket::Fir(f) => {
                let _ = f.entries().count();
            }
            RtcpPacket::Remb(r) => {
                let _ = (r.bitrate(), r.ssrcs.iter().count());
            }
            RtcpPacket::Pli(_) | RtcpPacket::Unknown { .. } => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// RTP
// ---------------------------------------------------------------------------------------

/// RFC 3550 §5.1 header with the X bit, and an RFC 8285 §4.2 one-byte block holding
/// id 1 (3 bytes), a padding byte, id 3 (2 bytes) and a final padding byte.
const RTP_ONE_BYTE: &str = "90 e0 12 34  11 22 33 44  de ad be ef
                            be de 00 02  12 aa bb cc  00 31 01 02
                            68 65 6c 6c 6f";

#[test]
fn rtp_known_one_byte_extensions() {
    let b = hex(RTP_ONE_BYTE);
    let h = RtpHeader::parse(&b).unwrap();
    assert!(h.marker);
    assert_eq!(h.payload_type, 96);
    assert_eq!(h.sequence_number, 0x1234);
    assert_eq!(h.timestamp, 0x1122_3344);
    assert_eq!(h.ssrc, 0xdead_beef);
    assert_eq!(h.csrc_count(), 0);
    assert_eq!(h.padding, 0);
    assert_eq!(h.header_len(), 24);
    assert_eq!(h.payload, b"hello");
    let e = h.extension.unwrap();
    assert_eq!(
        (e.profile, e.form()),
        (0xbede, Some(ExtensionForm::OneByte))
    );
    let exts: Vec<_> = h.extensions().collect();
    assert_eq!(exts, [(1, &[0xaa, 0xbb, 0xcc][..]), (3, &[1, 2][..])]);
    assert_eq!(h.extension(3), Some(&[1u8, 2][..]));
    assert_eq!(h.extension(2), None);

    // The writer puts the elements back to back and pads the block at its end.
    let repr = RtpHeaderRepr {
        marker: true,
        payload_type: 96,
        sequence_number: 0x1234,
        timestamp: 0x1122_3344,
        ssrc: 0xdead_beef,
        extensions: &[(1, &[0xaa, 0xbb, 0xcc]), (3, &[1, 2])],
        ..Default::default()
    };
    assert_eq!(repr.extension_form(), Some(ExtensionForm::OneByte));
    let w = written(|buf| repr.write(buf, b"hello"));
    assert_eq!(
        w,
        hex(
            "90 e0 12 34 11 22 33 44 de ad be ef be de 00 02 12 aa bb cc 31 01 02 00 68 65 6c 6c 6f"
        )
    );
    assert_eq!(repr.header_len(), 24);
}

#[test]
fn rtp_known_two_byte_extensions_csrcs_padding() {
    // P, X, CC=2; profile 0x1001 (appbits 1); id 20 with 0 bytes, a padding byte, id 2
    // with 3 bytes, padding to the word; payload "ab"; 3 bytes of padding.
    let b = hex(
        "b2 08 00 01  00 00 00 02  00 00 00 03  00 00 00 0a  00 00 00 0b
         10 01 00 02  14 00 00 02  03 01 02 03  61 62 00 00 03",
    );
    let h = RtpHeader::parse(&b).unwrap();
    assert!(!h.marker);
    assert_eq!(h.payload_type, 8);
    assert_eq!(h.csrcs().collect::<Vec<_>>(), [10, 11]);
    assert_eq!(h.extension.unwrap().form(), Some(ExtensionForm::TwoByte));
    let exts: Vec<_> = h.extensions().collect();
    assert_eq!(exts, [(20, &[][..]), (2, &[1, 2, 3][..])]);
    assert_eq!(h.payload, b"ab");
    assert_eq!(h.padding, 3);

    let repr = RtpHeaderRepr {
        payload_type: 8,
        sequence_number: 1,
        timestamp: 2,
        ssrc: 3,
        csrcs: &[10, 11],
        extensions: &[(20, &[]), (2, &[1, 2, 3])],
        padding: 3,
        ..Default::default()
    };
    assert_eq!(repr.extension_form(), Some(ExtensionForm::TwoByte));
    let w = written(|buf| repr.write(buf, b"ab"));
    // Written without the inner padding byte and with appbits 0.
    assert_eq!(
        w,
        hex("b2 08 00 01 00 00 00 02 00 00 00 03 00 00 00 0a 00 00 00 0b
             10 00 00 02 14 00 02 03 01 02 03 00 61 62 00 00 03")
    );
}

#[test]
fn rtp_minimal_and_padding_only() {
    let b = hex("80 00 00 00 00 00 00 00 00 00 00 00");
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!((h.payload, h.extension, h.padding), (&[][..], None, 0));
    assert_eq!(h.extensions().count(), 0);
    // A packet of nothing but padding (as in bandwidth probes) is fine.
    let b = hex("a0 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04");
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!((h.payload, h.padding), (&[][..], 4));
}

#[test]
fn rtp_extension_form_is_chosen() {
    let form = |exts: &[(u8, &[u8])]| {
        RtpHeaderRepr {
            extensions: exts,
            ..Default::default()
        }
        .extension_form()
    };
    assert_eq!(form(&[]), None);
    assert_eq!(form(&[(14, &[0; 16])]), Some(ExtensionForm::OneByte));
    assert_eq!(form(&[(15, &[0])]), Some(ExtensionForm::TwoByte));
    assert_eq!(form(&[(1, &[0; 17])]), Some(ExtensionForm::TwoByte));
    assert_eq!(form(&[(1, &[1]), (2, &[])]), Some(ExtensionForm::TwoByte));
}

#[test]
fn rtp_writer_refuses_what_it_cannot_encode() {
    let mut buf = [0u8; 2048];
    let ok = RtpHeaderRepr::default();
    assert_eq!(ok.write(&mut buf, &[]), Some(12));
    let pt = RtpHeaderRepr {
        payload_type: 128,
        ..ok
    };
    assert_eq!(pt.write(&mut buf, &[]), None);
    let csrcs = [0u32; 16];
    let many = RtpHeaderRepr {
        csrcs: &csrcs,
        ..ok
    };
    assert_eq!(many.write(&mut buf, &[]), None);
    let id0 = RtpHeaderRepr {
        extensions: &[(0, &[1])],
        ..ok
    };
    assert_eq!(id0.write(&mut buf, &[]), None);
    let long = [0u8; 256];
    let too_long = RtpHeaderRepr {
        extensions: &[(1, &long)],
        ..ok
    };
    assert_eq!(too_long.write(&mut buf, &[]), None);
}

#[test]
fn rtp_extension_iteration_edges() {
    let elems = |profile: u16, data: &'static [u8]| -> Vec<(u8, Vec<u8>)> {
        ExtensionBlock { profile, data }
            .elements()
            .map(|(i, v)| (i, v.to_vec()))
            .collect()
    };
    // Id 15 ends processing (RFC 8285 §4.2), whatever follows.
    assert_eq!(elems(0xbede, &[0x10, 7, 0xf0, 0x10, 8]), [(1, vec![7])]);
    // An element running past the block ends it, keeping those before.
    assert_eq!(elems(0xbede, &[0x10, 7, 0x23, 1]), [(1, vec![7])]);
    assert_eq!(
        elems(0x1000, &[0x05, 0x02, 1, 2, 0x06, 0x09, 1]),
        [(5, vec![1, 2])]
    );
    // A two-byte element cut after its id.
    assert_eq!(elems(0x1000, &[0, 0, 0x05]), []);
    // Leading padding and all-padding blocks.
    assert_eq!(elems(0xbede, &[0, 0, 0, 0x30, 9]), [(3, vec![9])]);
    assert_eq!(elems(0xbede, &[0, 0, 0, 0]), []);
    // One-byte id 0 is a single padding byte, whatever its length nibble.
    assert_eq!(elems(0xbede, &[0x05, 0x10, 7]), [(1, vec![7])]);
    // Any other profile has no RFC 8285 elements.
    assert_eq!(elems(0x1234, &[0x10, 7, 0, 0]), []);
    assert_eq!(
        ExtensionBlock {
            profile: 0x1234,
            data: &[]
        }
        .form(),
        None
    );
    assert_eq!(
        ExtensionBlock {
            profile: 0x100f,
            data: &[]
        }
        .form(),
        Some(ExtensionForm::TwoByte)
    );
}

#[test]
fn rtp_malformed_is_rejected() {
    let good = hex(RTP_ONE_BYTE);
    assert!(RtpHeader::parse(&good).is_ok());
    let with = |i: usize, v: u8| {
        let mut b = good.clone();
        b[i] = v;
        b
    };
    // Versions 0, 1 and 3.
    for v in [0x10, 0x50, 0xd0] {
        assert_eq!(RtpHeader::parse(&with(0, v)), Err(WireError::BadVersion));
    }
    assert_eq!(RtpHeader::parse(&good[..11]), Err(WireError::TooShort));
    assert_eq!(RtpHeader::parse(&[]), Err(WireError::TooShort));
    // 15 CSRCs do not fit.
    assert_eq!(RtpHeader::parse(&with(0, 0x9f)), Err(WireError::TooShort));
    // An extension length beyond the packet.
    assert_eq!(RtpHeader::parse(&with(15, 0x04)), Err(WireError::BadLength));
    assert_eq!(RtpHeader::parse(&good[..15]), Err(WireError::TooShort));
    // X set, no room for the extension header.
    assert_eq!(
        RtpHeader::parse(&hex("90 00 00 00 00 00 00 00 00 00 00 00 be de")),
        Err(WireError::TooShort)
    );
    // Padding: a zero count, and counts that eat into the header.
    let mut p = with(0, 0xb0);
    *p.last_mut().unwrap() = 0;
    assert_eq!(RtpHeader::parse(&p), Err(WireError::BadPadding));
    *p.last_mut().unwrap() = 5;
    assert_eq!(RtpHeader::parse(&p).unwrap().payload, b"");
    *p.last_mut().unwrap() = 6;
    assert_eq!(RtpHeader::parse(&p), Err(WireError::BadPadding));
    *p.last_mut().unwrap() = 255;
    assert_eq!(RtpHeader::parse(&p), Err(WireError::BadPadding));
}

#[test]
fn rtp_is_rtcp() {
    for pt in [200u8, 201, 202, 203, 204, 205, 206, 207, 192, 223] {
        assert!(is_rtcp(&[0x80, pt, 0, 1]), "{pt}");
    }
    // RTP payload types, with and without the marker.
    for b1 in [0u8, 63, 96, 127, 0x80, 0xe0, 0xff, 0x80 | 96] {
        assert!(!is_rtcp(&[0x80, b1, 0, 1]), "{b1}");
    }
    // The marker bit is masked, as libwebrtc does (RTP PTs 64..=95 are forbidden, §4).
    assert!(is_rtcp(&[0x80, 72, 0, 1]));
    assert!(!is_rtcp(&[0x80]));
    assert!(!is_rtcp(&[]));
    assert!(is_rtcp(&hex(RR_KNOWN)));
    assert!(!is_rtcp(&hex(RTP_ONE_BYTE)));
}

// ---------------------------------------------------------------------------------------
// Extension values
// ---------------------------------------------------------------------------------------

#[test]
fn ext_abs_send_time() {
    // 1.5 s in 6.18 fixed point.
    assert_eq!(ext::abs_send_time(&[0x06, 0x00, 0x00]), Some(0x06_0000));
    assert_eq!(ext::abs_send_time_bytes(0x06_0000), [0x06, 0, 0]);
    assert_eq!(ext::abs_send_time_bytes(0xff12_3456), [0x12, 0x34, 0x56]);
    assert_eq!(ext::abs_send_time_from_micros(1_500_000), 0x06_0000);
    assert_eq!(ext::abs_send_time_to_micros(0x06_0000), 1_500_000);
    // Wraps every 64 s.
    assert_eq!(ext::abs_send_time_from_micros(65_500_000), 0x06_0000);
    assert_eq!(ext::abs_send_time_from_micros(u64::MAX) & !0xff_ffff, 0);
    assert_eq!(ext::abs_send_time(&[1, 2]), None);
    assert_eq!(ext::abs_send_time(&[1, 2, 3, 4]), None);
}

#[test]
fn ext_transport_cc_mid_rid_audio_level() {
    assert_eq!(ext::transport_cc(&[0x12, 0x34]), Some(0x1234));
    assert_eq!(ext::transport_cc_bytes(0x1234), [0x12, 0x34]);
    assert_eq!(ext::transport_cc(&[1]), None);
    assert_eq!(ext::mid(b"0"), Some("0"));
    assert_eq!(ext::mid(b"audio\0\0"), Some("audio"));
    assert_eq!(ext::mid(b""), None);
    assert_eq!(ext::mid(b"\0a"), None);
    assert_eq!(ext::mid(&[0xff]), None);
    assert_eq!(ext::rid(b"hi-res_1"), Some("hi-res_1"));
    assert_eq!(ext::rid(b"a b"), None);
    assert_eq!(ext::text_bytes("q"), Some(&b"q"[..]));
    assert_eq!(ext::text_bytes(""), None);
    assert_eq!(ext::text_bytes(&"x".repeat(256)), None);
    assert_eq!(ext::text_bytes("a\0"), None);
    // RFC 6464 §3: V then the level in -dBov.
    assert_eq!(
        AudioLevel::parse(&[0x80 | 42]),
        Some(AudioLevel {
            voice: true,
            level: 42
        })
    );
    assert_eq!(
        AudioLevel {
            voice: false,
            level: 127
        }
        .to_bytes(),
        [0x7f]
    );
    assert_eq!(
        AudioLevel {
            voice: true,
            level: 200
        }
        .to_bytes(),
        [0xff]
    );
    assert_eq!(AudioLevel::parse(&[]), None);
    assert_eq!(AudioLevel::parse(&[1, 2]), None);
}

#[test]
fn ext_values_in_a_packet() {
    let ast = ext::abs_send_time_bytes(0x12_3456);
    let tcc = ext::transport_cc_bytes(7);
    let mid = ext::text_bytes("video").unwrap();
    let level = AudioLevel {
        voice: true,
        level: 30,
    }
    .to_bytes();
    let exts: [(u8, &[u8]); 4] = [(3, &ast), (5, &tcc), (9, mid), (1, &level)];
    let repr = RtpHeaderRepr {
        extensions: &exts,
        ..Default::default()
    };
    let b = written(|buf| repr.write(buf, &[1, 2, 3]));
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!(h.extension(3).and_then(ext::abs_send_time), Some(0x12_3456));
    assert_eq!(h.extension(5).and_then(ext::transport_cc), Some(7));
    assert_eq!(h.extension(9).and_then(ext::mid), Some("video"));
    assert_eq!(
        h.extension(1).and_then(AudioLevel::parse),
        Some(AudioLevel {
            voice: true,
            level: 30
        })
    );
}

// ---------------------------------------------------------------------------------------
// RTCP: framing
// ---------------------------------------------------------------------------------------

/// RFC 3550 §6.4.2: an RR from 0x01020304 with one block about 0x0a0b0c0d: fraction lost
/// 0x40, cumulative lost -2, extended highest sequence 0x00010064, jitter 16, LSR
/// 0x11223344, DLSR 1.5 s.
const RR_KNOWN: &str = "81 c9 00 07  01 02 03 04
                        0a 0b 0c 0d  40 ff ff fe  00 01 00 64  00 00 00 10
                        11 22 33 44  00 01 80 00";

#[test]
fn rtcp_known_rr() {
    let b = hex(RR_KNOWN);
    let RtcpPacket::ReceiverReport(rr) = only_rtcp(&b) else {
        panic!("not an RR")
    };
    assert_eq!(rr.ssrc, 0x0102_0304);
    assert_eq!(rr.extension, b"");
    let block = ReportBlock {
        ssrc: 0x0a0b_0c0d,
        fraction_lost: 0x40,
        cumulative_lost: -2,
        extended_highest_seq: 0x0001_0064,
        jitter: 16,
        last_sr: 0x1122_3344,
        delay_since_last_sr: 0x0001_8000,
    };
    assert_eq!(rr.reports.len(), 1);
    assert_eq!(rr.reports.iter().collect::<Vec<_>>(), [block]);
    assert_eq!(
        written(|buf| write_receiver_report(buf, 0x0102_0304, &[block])),
        b
    );
    // An empty RR.
    assert_eq!(
        written(|buf| write_receiver_report(buf, 7, &[])),
        hex("80 c9 00 01 00 00 00 07")
    );
}

#[test]
fn rtcp_cumulative_lost_is_24_bit_signed() {
    for (v, bytes) in [
        (0, [0, 0, 0]),
        (0x7f_ffff, [0x7f, 0xff, 0xff]),
        (-0x80_0000, [0x80, 0, 0]),
        (-1, [0xff, 0xff, 0xff]),
        // Clamped.
        (i32::MAX, [0x7f, 0xff, 0xff]),
        (i32::MIN, [0x80, 0, 0]),
    ] {
        let block = ReportBlock {
            cumulative_lost: v,
            ..Default::default()
        };
        let b = written(|buf| write_receiver_report(buf, 1, &[block]));
        assert_eq!(b[13..16], bytes, "{v}");
        let RtcpPacket::ReceiverReport(rr) = only_rtcp(&b) else {
            panic!()
        };
        assert_eq!(
            rr.reports.iter().next().unwrap().cumulative_lost,
            v.clamp(-0x80_0000, 0x7f_ffff)
        );
    }
}

#[test]
fn rtcp_sender_report_round_trip() {
    let info = SenderInfo {
        ntp_time: 0xe000_0001_8000_0000,
        rtp_time: 90_000,
        packet_count: 10,
        octet_count: 12_000,
    };
    let blocks = [
        ReportBlock {
            ssrc: 1,
            jitter: 3,
            ..Default::default()
        },
        ReportBlock {
            ssrc: 2,
            cumulative_lost: 5,
            ..Default::default()
        },
    ];
    let b = written(|buf| write_sender_report(buf, 0x55, &info, &blocks));
    assert_eq!(b[..12], hex("82 c8 00 12 00 00 00 55 e0 00 00 01"));
    let RtcpPacket::SenderReport(sr) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!((sr.ssrc, sr.info, sr.extension), (0x55, info, &[][..]));
    assert_eq!(sr.reports.iter().collect::<Vec<_>>(), blocks);
    // A profile-specific extension after the blocks is kept aside.
    let mut ext = b.clone();
    ext[3] += 1;
    ext.extend_from_slice(&[9, 9, 9, 9]);
    let RtcpPacket::SenderReport(sr) = only_rtcp(&ext) else {
        panic!()
    };
    assert_eq!((sr.reports.len(), sr.extension), (2, &[9u8, 9, 9, 9][..]));
    // 32 blocks do not fit the count.
    let many = [ReportBlock::default(); 32];
    assert_eq!(write_sender_report(&mut [0; 4096], 1, &info, &many), None);
    assert!(write_sender_report(&mut [0; 4096], 1, &info, &many[..31]).is_some());
}

#[test]
fn rtcp_known_sdes_cname() {
    let b = hex("81 ca 00 03  11 22 33 44  01 03 61 62  63 00 00 00");
    assert_eq!(written(|buf| write_sdes_cname(buf, 0x1122_3344, "abc")), b);
    let RtcpPacket::Sdes(s) = only_rtcp(&b) else {
        panic!()
    };
    let chunks: Vec<_> = s.chunks().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].ssrc, 0x1122_3344);
    assert_eq!(chunks[0].cname(), Some(&b"abc"[..]));
    // A CNAME whose null terminator falls on a word boundary gets a full word of nulls.
    let b = written(|buf| write_sdes_cname(buf, 1, "ab"));
    assert_eq!(b, hex("81 ca 00 03 00 00 00 01 01 02 61 62 00 00 00 00"));
}

#[test]
fn rtcp_sdes_round_trip() {
    let a = [
        SdesItem {
            kind: sdes_type::CNAME,
            value: b"user@host",
        },
        SdesItem {
            kind: sdes_type::TOOL,
            value: b"",
        },
        SdesItem {
            kind: sdes_type::NOTE,
            value: &[b'n'; 255],
        },
    ];
    let empty: [SdesItem<'_>; 0] = [];
    let chunks: [(u32, &[SdesItem<'_>]); 3] = [(1, &a), (2, &empty), (3, &a[..1])];
    let b = written(|buf| write_sdes(buf, &chunks));
    let RtcpPacket::Sdes(s) = only_rtcp(&b) else {
        panic!()
    };
    let got: Vec<(u32, Vec<SdesItem<'_>>)> =
        s.chunks().map(|c| (c.ssrc, c.items().collect())).collect();
    let want: Vec<(u32, Vec<SdesItem<'_>>)> =
        chunks.iter().map(|(s, i)| (*s, i.to_vec())).collect();
    assert_eq!(got, want);
    assert_eq!(s.chunks().nth(1).unwrap().cname(), None);
    // Type 0 would end the list; 256 bytes do not fit the length.
    let bad = [SdesItem {
        kind: 0,
        value: b"x",
    }];
    assert_eq!(write_sdes(&mut [0; 64], &[(1, &bad)]), None);
    let long = [0u8; 256];
    let bad = [SdesItem {
        kind: 1,
        value: &long,
    }];
    assert_eq!(write_sdes(&mut [0; 1024], &[(1, &bad)]), None);
}

#[test]
fn rtcp_bye() {
    let b = hex("82 cb 00 04  00 00 00 01  00 00 00 02  04 64 6f 6e  65 00 00 00");
    assert_eq!(written(|buf| write_bye(buf, &[1, 2], Some(b"done"))), b);
    let RtcpPacket::Bye(bye) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(bye.ssrcs.iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(bye.reason, Some(&b"done"[..]));
    let b = written(|buf| write_bye(buf, &[9], None));
    assert_eq!(b, hex("81 cb 00 01 00 00 00 09"));
    let RtcpPacket::Bye(bye) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!((bye.ssrcs.len(), bye.reason), (1, None));
    // A reason longer than the packet.
    let bad = hex("81 cb 00 02 00 00 00 01 09 61 62 63");
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::BadLength))
    );
}

// ---------------------------------------------------------------------------------------
// RTCP: feedback
// ---------------------------------------------------------------------------------------

#[test]
fn rtcp_known_nack() {
    // RFC 4585 §6.2.1: 100 with 101 (BLP bit 1) and 105 (bit 5); 117 is 17 after 100, so
    // it needs an entry of its own.
    let b = hex("81 cd 00 04  00 00 00 01  00 00 00 02  00 64 00 11  00 75 00 00");
    assert_eq!(
        written(|buf| write_nack(buf, 1, 2, &[100, 101, 105, 117])),
        b
    );
    let RtcpPacket::Nack(n) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!((n.sender_ssrc, n.media_ssrc), (1, 2));
    assert_eq!(n.pairs().collect::<Vec<_>>(), [(100, 0x11), (117, 0)]);
    assert_eq!(n.lost().collect::<Vec<_>>(), [100, 101, 105, 117]);
}

#[test]
fn rtcp_nack_edges() {
    // Wrapping around 65535, the full BLP, duplicates.
    let lost = [65530, 65535, 0, 10, 10, 11, 12];
    let b = written(|buf| write_nack(buf, 1, 2, &lost));
    let RtcpPacket::Nack(n) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(
        n.pairs().collect::<Vec<_>>(),
        [(65530, 0x8030), (11, 0x0001)]
    );
    assert_eq!(n.lost().collect::<Vec<_>>(), [65530, 65535, 0, 10, 11, 12]);
    let all: Vec<u16> = (0..=16).collect();
    let b = written(|buf| write_nack(buf, 1, 2, &all));
    let RtcpPacket::Nack(n) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(n.pairs().collect::<Vec<_>>(), [(0, 0xffff)]);
    assert_eq!(n.lost().collect::<Vec<_>>(), all);
    // Out of order: each step back starts a new entry.
    let b = written(|buf| write_nack(buf, 1, 2, &[5, 3, 4]));
    let RtcpPacket::Nack(n) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(n.pairs().collect::<Vec<_>>(), [(5, 0), (3, 1)]);
    assert_eq!(write_nack(&mut [0; 64], 1, 2, &[]), None);
    // An FCI that is not whole entries.
    let bad = hex("a1 cd 00 03 00 00 00 01 00 00 00 02 00 64 00 02");
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::Malformed))
    );
}

#[test]
fn rtcp_known_pli_fir() {
    let b = hex("81 ce 00 02  00 00 00 01  00 00 00 02");
    assert_eq!(written(|buf| write_pli(buf, 1, 2)), b);
    assert_eq!(
        only_rtcp(&b),
        RtcpPacket::Pli(Pli {
            sender_ssrc: 1,
            media_ssrc: 2
        })
    );

    // RFC 5104 §4.3.1: media source 0, then SSRC and sequence number per request.
    let b = hex(
        "84 ce 00 06  00 00 00 01  00 00 00 00  00 00 00 0a 07 00 00 00  00 00 00 0b 08 00 00 00",
    );
    let entries = [FirEntry { ssrc: 10, seq: 7 }, FirEntry { ssrc: 11, seq: 8 }];
    assert_eq!(written(|buf| write_fir(buf, 1, &entries)), b);
    let RtcpPacket::Fir(f) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!((f.sender_ssrc, f.media_ssrc), (1, 0));
    assert_eq!(f.entries().collect::<Vec<_>>(), entries);
}

#[test]
fn rtcp_known_remb() {
    // 1 Mbit/s = 250000 * 2^2: exp 2, mantissa 0x3d090.
    let b = hex("8f ce 00 05  00 00 00 01  00 00 00 00  52 45 4d 42  01 0b d0 90  00 00 00 07");
    assert_eq!(written(|buf| write_remb(buf, 1, 1_000_000, &[7])), b);
    let RtcpPacket::Remb(r) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(
        (r.sender_ssrc, r.media_ssrc, r.exponent, r.mantissa),
        (1, 0, 2, 0x3d090)
    );
    assert_eq!(r.bitrate(), 1_000_000);
    assert_eq!(r.ssrcs.iter().collect::<Vec<_>>(), [7]);
    // Rounding down to 18 bits of mantissa; the largest values.
    for (bitrate, expect) in [
        (0u64, 0u64),
        (0x3ffff, 0x3ffff),
        (0x40001, 0x40000),
        (u64::MAX, 0x3ffff << 46),
    ] {
        let b = written(|buf| write_remb(buf, 1, bitrate, &[]));
        let RtcpPacket::Remb(r) = only_rtcp(&b) else {
            panic!()
        };
        assert_eq!(r.bitrate(), expect, "{bitrate}");
    }
    // 63 as exponent saturates.
    let big = Remb {
        sender_ssrc: 0,
        media_ssrc: 0,
        exponent: 63,
        mantissa: 0x3ffff,
        ssrcs: r.ssrcs,
    };
    assert_eq!(big.bitrate(), u64::MAX);
    // Application layer feedback that is not REMB.
    let b = hex("8f ce 00 03  00 00 00 01  00 00 00 00  41 42 43 44");
    assert_eq!(
        only_rtcp(&b),
        RtcpPacket::Unknown {
            pt: 206,
            fmt: 15,
            body: &b[4..]
        }
    );
    // More SSRCs announced than present.
    let mut bad = hex("8f ce 00 04  00 00 00 01  00 00 00 00  52 45 4d 42  02 0b d0 90");
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::TooShort))
    );
    bad[16] = 0;
    assert!(RtcpPackets::new(&bad).next().unwrap().is_ok());
}

/// The transport-wide feedback of [`rtcp_known_twcc`]: 20 packets with 1 ms between them
/// (a run-length chunk), then 7 in a 2-bit status vector: a negative delta (large), a
/// loss, two small deltas, a loss, a 100 ms delta (large) and a 250 µs one.
const TWCC_KNOWN: &str = "af cd 00 0c  00 00 00 01  00 00 00 02
                          00 64 00 1b  00 00 0a 05
                          20 14 e1 49
                          04 04 04 04 04 04 04 04 04 04 04 04 04 04 04 04 04 04 04 04
                          ff fe 04 04 01 90 01  01";

fn twcc_known_input() -> Vec<(u16, Option<i64>)> {
    let mut v: Vec<(u16, Option<i64>)> = (0..20)
        .map(|i| (100 + i, Some(641_000 + 1000 * i64::from(i))))
        .collect();
    v.extend([
        (120, Some(659_500)),
        (121, None),
        (122, Some(660_500)),
        (123, Some(661_500)),
        // 124 is not listed: not received.
        (125, Some(761_500)),
        (126, Some(761_750)),
    ]);
    v
}

#[test]
fn rtcp_known_twcc() {
    let b = hex(TWCC_KNOWN);
    let RtcpPacket::TransportCc(t) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(
        (t.sender_ssrc, t.media_ssrc, t.base_seq, t.status_count),
        (1, 2, 100, 27)
    );
    assert_eq!(
        (t.reference_time, t.fb_pkt_count, t.reference_time_us()),
        (10, 5, 640_000)
    );
    let packets: Vec<_> = t.packets().collect();
    assert_eq!(packets.len(), 27);
    assert_eq!(packets[0], (100, Some(1000)));
    assert_eq!(packets[19], (119, Some(1000)));
    assert_eq!(
        packets[20..],
        [
            (120, Some(-500)),
            (121, None),
            (122, Some(1000)),
            (123, Some(1000)),
            (124, None),
            (125, Some(100_000)),
            (126, Some(250))
        ]
    );
    let arrivals: Vec<_> = t.arrivals().collect();
    let want: Vec<_> = (100u16..=126)
        .map(|s| {
            (
                s,
                twcc_known_input()
                    .iter()
                    .find(|p| p.0 == s)
                    .and_then(|p| p.1),
            )
        })
        .collect();
    assert_eq!(arrivals, want);
    assert_eq!(
        written(|buf| write_twcc(buf, 1, 2, 5, &twcc_known_input())),
        b
    );
}

#[test]
fn rtcp_twcc_one_bit_vector_and_edges() {
    // A 1-bit vector: received, lost, received ×12; then zero padding, not RTCP padding.
    let b = hex(
        "8f cd 00 08  00 00 00 01  00 00 00 02  ff ff 00 0e  ff ff ff 00
                 af ff 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 00",
    );
    let RtcpPacket::TransportCc(t) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(t.reference_time, -1);
    let p: Vec<_> = t.packets().collect();
    assert_eq!(p[0], (65535, Some(250)));
    assert_eq!(p[1], (0, None));
    assert_eq!(p[13], (12, Some(13 * 250)));
    assert_eq!(t.arrivals().next(), Some((65535, Some(-64_000 + 250))));
    // The reserved symbol, in a vector and in a run.
    let mut bad = b.clone();
    bad[20..22].copy_from_slice(&[0xf0, 0x00]);
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::Malformed))
    );
    bad[20..22].copy_from_slice(&[0x60, 0x01]);
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::Malformed))
    );
    // A status count beyond the chunks, or the deltas.
    let mut bad = b.clone();
    bad[15] = 0x0f;
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::TooShort))
    );
    bad[14..16].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(
        RtcpPackets::new(&bad).next(),
        Some(Err(WireError::TooShort))
    );
    // Writer refusals: empty, out of order, too far apart in time.
    assert_eq!(write_twcc(&mut [0; 256], 1, 2, 0, &[]), None);
    assert_eq!(
        write_twcc(&mut [0; 256], 1, 2, 0, &[(5, None), (5, None)]),
        None
    );
    assert_eq!(
        write_twcc(&mut [0; 256], 1, 2, 0, &[(5, None), (4, None)]),
        None
    );
    assert_eq!(
        write_twcc(
            &mut [0; 256],
            1,
            2,
            0,
            &[(1, Some(0)), (2, Some(8_200_000))]
        ),
        None
    );
    assert!(
        write_twcc(
            &mut [0; 256],
            1,
            2,
            0,
            &[(1, Some(0)), (2, Some(8_000_000))]
        )
        .is_some()
    );
    // Nothing received: reference time 0, one run of losses.
    let b = written(|buf| write_twcc(buf, 1, 2, 3, &[(7, None), (9, None)]));
    let RtcpPacket::TransportCc(t) = only_rtcp(&b) else {
        panic!()
    };
    assert_eq!(
        t.packets().collect::<Vec<_>>(),
        [(7, None), (8, None), (9, None)]
    );
}

// ---------------------------------------------------------------------------------------
// RTCP: compounds
// ---------------------------------------------------------------------------------------

/// SR + SDES + NACK + TWCC, as a sender of video with feedback might send them.
fn compound() -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let mut n = 0;
    let info = SenderInfo {
        ntp_time: 1 << 32,
        rtp_time: 3000,
        packet_count: 1,
        octet_count: 100,
    };
    n += write_sender_report(
        &mut buf[n..],
        1,
        &info,
        &[ReportBlock {
            ssrc: 2,
            ..Default::default()
        }],
    )
    .unwrap();
    n += write_sdes_cname(&mut buf[n..], 1, "cname-of-one").unwrap();
    n += write_nack(&mut buf[n..], 1, 2, &[100, 101, 105, 117]).unwrap();
    n += write_twcc(&mut buf[n..], 1, 2, 0, &twcc_known_input()).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn rtcp_compound() {
    let b = compound();
    assert!(is_rtcp(&b));
    let kinds: Vec<_> = RtcpPackets::new(&b)
        .map(|p| match p.unwrap() {
            RtcpPacket::SenderReport(_) => "sr",
            RtcpPacket::Sdes(_) => "sdes",
            RtcpPacket::Nack(_) => "nack",
            RtcpPacket::TransportCc(_) => "twcc",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["sr", "sdes", "nack", "twcc"]);
    let raw: Vec<_> = RawPackets::new(&b).map(Result::unwrap).collect();
    assert_eq!(
        raw.iter().map(|r| r.packet_type).collect::<Vec<_>>(),
        [200, 202, 205, 205]
    );
    assert_eq!(raw[3].padding, 1);
    // Reduced-size RTCP (RFC 5506): a lone feedback message.
    let pli = written(|buf| write_pli(buf, 1, 2));
    assert!(matches!(only_rtcp(&pli), RtcpPacket::Pli(_)));
}

#[test]
fn rtcp_unknown_and_raw_round_trip() {
    // APP (RFC 3550 §6.7), with subtype 3, name "test" and 4 bytes.
    let b = hex("83 cc 00 03 00 00 00 01 74 65 73 74 01 02 03 04");
    assert_eq!(
        only_rtcp(&b),
        RtcpPacket::Unknown {
            pt: 204,
            fmt: 3,
            body: &b[4..]
        }
    );
    assert_eq!(written(|buf| write_rtcp(buf, 3, 204, &b[4..])), b);
    // A body that is not whole words comes back through RTCP padding.
    let w = written(|buf| write_rtcp(buf, 0, 207, &[1, 2, 3, 4, 5]));
    assert_eq!(w, hex("a0 cf 00 02 01 02 03 04 05 00 00 03"));
    let raw = RawPackets::new(&w).next().unwrap().unwrap();
    assert_eq!(
        (raw.count, raw.packet_type, raw.padding, raw.body),
        (0, 207, 3, &[1u8, 2, 3, 4, 5][..])
    );
    // RTPFB and PSFB formats not handled here.
    let b = hex("83 cd 00 02 00 00 00 01 00 00 00 02");
    assert!(matches!(
        only_rtcp(&b),
        RtcpPacket::Unknown {
            pt: 205,
            fmt: 3,
            ..
        }
    ));
    assert_eq!(write_rtcp(&mut [0; 64], 32, 204, &[]), None);
}

#[test]
fn rtcp_malformed_framing() {
    let good = hex(RR_KNOWN);
    fn first(b: &[u8]) -> Option<Result<RawRtcp<'_>, WireError>> {
        RawPackets::new(b).next()
    }
    assert_eq!(first(&[]), None);
    assert_eq!(first(&good[..3]), Some(Err(WireError::TooShort)));
    for v in [0x01u8, 0x41, 0xc1] {
        let mut b = good.clone();
        b[0] = v;
        assert_eq!(first(&b), Some(Err(WireError::BadVersion)));
    }
    // A length beyond the datagram.
    assert_eq!(
        first(&good[..good.len() - 4]),
        Some(Err(WireError::BadLength))
    );
    let mut b = good.clone();
    b[2] = 0xff;
    assert_eq!(first(&b), Some(Err(WireError::BadLength)));
    // Padding: zero, and more than the body.
    let mut b = good.clone();
    b[0] |= 0x20;
    *b.last_mut().unwrap() = 0;
    assert_eq!(first(&b), Some(Err(WireError::BadPadding)));
    *b.last_mut().unwrap() = 29;
    assert_eq!(first(&b), Some(Err(WireError::BadPadding)));
    *b.last_mut().unwrap() = 28;
    assert_eq!(first(&b).unwrap().unwrap().body, b"");
    // After a framing error, nothing more.
    let mut two = good.clone();
    two.extend_from_slice(&[0, 0, 0, 0]);
    two.extend_from_slice(&good);
    let items: Vec<_> = RtcpPackets::new(&two).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1], Err(WireError::BadVersion));
}

#[test]
fn rtcp_malformed_body_skips_to_the_next_packet() {
    // An RR announcing 2 blocks with 1 present, then a good RR.
    let mut b = hex(RR_KNOWN);
    b[0] = 0x82;
    b.extend_from_slice(&hex(RR_KNOWN));
    let items: Vec<_> = RtcpPackets::new(&b).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], Err(WireError::TooShort));
    assert!(matches!(items[1], Ok(RtcpPacket::ReceiverReport(_))));
    // Too short for their fixed parts: SR, RR, PLI, FIR, TWCC; partial FIR entries.
    for packet in [
        "80 c8 00 01 00 00 00 01",
        "80 c9 00 00",
        "81 ce 00 01 00 00 00 01",
        "84 ce 00 01 00 00 00 01",
        "8f cd 00 03 00 00 00 01 00 00 00 02 00 01 00 01",
        "84 ce 00 03 00 00 00 01 00 00 00 00 00 00 00 05",
    ] {
        let b = hex(packet);
        assert!(RtcpPackets::new(&b).next().unwrap().is_err(), "{packet}");
    }
    // SDES: a chunk missing, an item running past the packet, no terminating null.
    for packet in [
        "82 ca 00 02 00 00 00 01 01 01 61 00",
        "81 ca 00 02 00 00 00 01 01 09 61 00",
        "81 ca 00 02 00 00 00 01 01 02 61 62",
    ] {
        let b = hex(packet);
        assert_eq!(
            RtcpPackets::new(&b).next(),
            Some(Err(WireError::Malformed)),
            "{packet}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------

/// Every valid packet of these tests.
fn samples() -> Vec<Vec<u8>> {
    vec![
        hex(RTP_ONE_BYTE),
        hex(
            "b2 08 00 01 00 00 00 02 00 00 00 03 00 00 00 0a 00 00 00 0b 10 01 00 02 14 00 00 02 03 01 02 03 61 62 00 00 03",
        ),
        hex(RR_KNOWN),
        hex(TWCC_KNOWN),
        compound(),
        written(|buf| write_bye(buf, &[1, 2], Some(b"done"))),
        written(|buf| write_fir(buf, 1, &[FirEntry { ssrc: 10, seq: 7 }])),
        written(|buf| write_remb(buf, 1, 1_000_000, &[7, 8])),
    ]
}

#[test]
fn every_truncation_is_handled() {
    for s in samples() {
        for n in 0..=s.len() {
            walk_rtp(&s[..n]);
            walk_rtcp(&s[..n]);
            walk_rtp(&s[n..]);
            walk_rtcp(&s[n..]);
        }
    }
}

#[test]
fn every_byte_change_is_handled() {
    for s in samples() {
        for i in 0..s.len() {
            for v in [0u8, 1, 0x0f, 0x7f, 0x80, 0xbe, 0xff, s[i] ^ 0x20] {
                let mut b = s.clone();
                b[i] = v;
                walk_rtp(&b);
                walk_rtcp(&b);
            }
        }
    }
}

mod properties {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Extension elements with distinct ids, in either form.
    fn extensions() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
        prop_oneof![
            vec((1u8..=14, vec(any::<u8>(), 1..=16)), 0..6),
            vec((1u8..=255, vec(any::<u8>(), 0..=40)), 0..6),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any header, with CSRCs, extensions and padding, survives a round trip.
        #[test]
        fn rtp_round_trip(
            marker in any::<bool>(),
            payload_type in 0u8..=127,
            sequence_number in any::<u16>(),
            timestamp in any::<u32>(),
            ssrc in any::<u32>(),
            csrcs in vec(any::<u32>(), 0..=15),
            exts in extensions(),
            payload in vec(any::<u8>(), 0..64),
            padding in any::<u8>(),
        ) {
            let list: Vec<(u8, &[u8])> = exts.iter().map(|(i, v)| (*i, v.as_slice())).collect();
            let repr = RtpHeaderRepr {
                marker, payload_type, sequence_number, timestamp, ssrc,
                csrcs: &csrcs, extensions: &list, padding,
            };
            let b = written(|buf| repr.write(buf, &payload));
            prop_assert_eq!(b.len(), repr.header_len() + payload.len() + usize::from(padding));
            let h = RtpHeader::parse(&b).unwrap();
            prop_assert_eq!(
                (h.marker, h.payload_type, h.sequence_number, h.timestamp, h.ssrc, h.padding),
                (marker, payload_type, sequence_number, timestamp, ssrc, padding)
            );
            prop_assert_eq!(h.csrcs().collect::<Vec<_>>(), csrcs.clone());
            prop_assert_eq!(h.extensions().collect::<Vec<_>>(), list.clone());
            prop_assert_eq!(h.extension.and_then(|e| e.form()), repr.extension_form());
            prop_assert_eq!(h.header_len(), repr.header_len());
            prop_assert_eq!(h.payload, payload.as_slice());
        }

        /// Sorted lost lists (with wrap-around and duplicates) come back as themselves.
        #[test]
        fn nack_round_trip(start in any::<u16>(), steps in vec(0u16..40, 1..200)) {
            let mut lost = vec![start];
            for s in &steps {
                let last = *lost.last().unwrap();
                lost.push(last.wrapping_add(*s));
            }
            // Keep within half the sequence space, so the order is unambiguous.
            let span: u32 = steps.iter().map(|s| u32::from(*s)).sum();
            prop_assume!(span < 0x8000);
            let b = written(|buf| write_nack(buf, 1, 2, &lost));
            let RtcpPacket::Nack(n) = only_rtcp(&b) else { panic!() };
            let mut want = lost.clone();
            want.dedup();
            prop_assert_eq!(n.lost().collect::<Vec<_>>(), want);
        }

        /// Any lost list in any order: the same set comes back.
        #[test]
        fn nack_any_order(lost in vec(any::<u16>(), 1..100)) {
            let b = written(|buf| write_nack(buf, 1, 2, &lost));
            let RtcpPacket::Nack(n) = only_rtcp(&b) else { panic!() };
            let mut got: Vec<u16> = n.lost().collect();
            let mut want = lost.clone();
            got.sort_unstable();
            got.dedup();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(got, want);
        }

        /// Any feedback: every arrival comes back rounded down to 250 µs.
        #[test]
        fn twcc_round_trip(
            base in any::<u16>(),
            start in -500_000_000_000i64..500_000_000_000,
            steps in vec((1u16..20, prop::option::weighted(0.8, -100_000i64..300_000)), 1..300),
            fb in any::<u8>(),
        ) {
            let mut packets: Vec<(u16, Option<i64>)> = vec![(base, Some(start))];
            let (mut seq, mut time) = (base, start);
            for (step, delta) in &steps {
                seq = seq.wrapping_add(*step);
                packets.push((seq, delta.map(|d| { time += d; time })));
            }
            let b = written_quick(|buf| write_twcc(buf, 7, 8, fb, &packets));
            let RtcpPacket::TransportCc(t) = only_rtcp(&b) else { panic!() };
            prop_assert_eq!((t.sender_ssrc, t.media_ssrc, t.base_seq, t.fb_pkt_count), (7, 8, base, fb));
            let got: Vec<_> = t.arrivals().collect();
            let mut want = Vec::new();
            let mut it = packets.iter().peekable();
            let mut s = base;
            while let Some(&&(ps, arrival)) = it.peek() {
                if ps == s {
                    want.push((s, arrival.map(|a| a.div_euclid(250) * 250)));
                    it.next();
                } else {
                    want.push((s, None));
                }
                s = s.wrapping_add(1);
            }
            prop_assert_eq!(got, want);
        }

        /// Arbitrary bytes never panic either parser.
        #[test]
        fn arbitrary_bytes(b in vec(any::<u8>(), 0..200)) {
            walk_rtp(&b);
            walk_rtcp(&b);
            let mut fixed = b.clone();
            if let Some(first) = fixed.first_mut() {
                *first = 0x80 | (*first & 0x3f);
            }
            walk_rtp(&fixed);
            walk_rtcp(&fixed);
        }
    }
}
