//! Tests of the media packetizers and depacketizers: the payload formats, from examples
//! built by hand after the RFC figures. The reorder buffer's rules and the properties
//! over random frames, MTUs and deliveries are in `tests/buffer.rs`.

use super::*;

/// The fuzz target `fuzz/fuzz_targets/media.rs`, compiled here so its harness is tested
/// and its frame builders shared.
#[path = "../../fuzz/fuzz_targets/media.rs"]
mod fuzz_media;

use fuzz_media::{Script, make_frame, primed, vp9_header};

/// All payloads of one frame, with their marker bits.
fn payloads(codec: Codec, frame: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
    let mut p = Packetizer::new(codec);
    let mut out = Vec::new();
    p.packetize(frame, max, &mut |b: &[u8], m: bool| {
        out.push((b.to_vec(), m))
    })
    .unwrap();
    out
}

/// Pushes one frame's payloads from `seq` on and pops the frame.
fn one_frame(
    d: &mut Depacketizer,
    seq: u16,
    ts: u32,
    payloads: &[(Vec<u8>, bool)],
) -> Option<Frame> {
    for (i, (p, m)) in payloads.iter().enumerate() {
        d.push(seq.wrapping_add(i as u16), ts, *m, p).unwrap();
    }
    d.pop()
}

// ---------------------------------------------------------------------------------------
// VP8 (RFC 7741)

#[test]
fn vp8_descriptor_optional_fields() {
    // RFC 7741 §4.2, Figure 1: X R N S R PID | I L T K RSV | M PictureID | TL0PICIDX |
    // TID Y KEYIDX; each case: descriptor bytes, its length, the PictureID.
    let cases: &[(&[u8], usize, Option<u16>)] = &[
        (&[0x10], 1, None),                               // S=1, no extension
        (&[0x90, 0x00], 2, None),                         // X=1, nothing present
        (&[0x90, 0x80, 0x11], 3, Some(17)),               // I: 7-bit PictureID 17
        (&[0x90, 0x80, 0x92, 0x67], 4, Some(4711)),       // I, M=1: 15-bit PictureID 4711
        (&[0x90, 0xc0, 0x92, 0x67, 0x05], 5, Some(4711)), // I, L: TL0PICIDX
        (&[0x90, 0xf0, 0x11, 0x05, 0x61], 5, Some(17)),   // I, L, T, K
        (&[0x90, 0x20, 0x40], 3, None),                   // T alone
        (&[0x90, 0x10, 0x1f], 3, None),                   // K alone: the same octet
        (&[0x90, 0x70, 0x05, 0x61], 4, None),             // L, T, K without I
    ];
    for &(desc, len, pid) in cases {
        let mut payload = desc.to_vec();
        payload.extend_from_slice(&[0xaa, 0xbb]);
        let d = vp8::parse_descriptor(&payload).unwrap();
        assert_eq!((d.len, d.picture_id), (len, pid), "{desc:02x?}");
        assert_eq!(vp8::body(&payload).unwrap(), &[0xaa, 0xbb]);
        for cut in 0..len {
            assert!(
                vp8::parse_descriptor(&payload[..cut]).is_err(),
                "{desc:02x?} cut at {cut}"
            );
        }
    }
}

#[test]
fn vp8_packetizer_writes_the_descriptor() {
    let mut p = Packetizer::new(Codec::Vp8);
    p.set_picture_id(4711);
    let mut out = Vec::new();
    let n = p
        .packetize(&[7u8; 10], 9, &mut |b: &[u8], m: bool| {
            out.push((b.to_vec(), m))
        })
        .unwrap();
    // 10 bytes at 5 per packet: two balanced payloads.
    assert_eq!(n, 2);
    assert_eq!(
        out[0],
        ([0x90, 0x80, 0x92, 0x67, 7, 7, 7, 7, 7].to_vec(), false)
    );
    assert_eq!(
        out[1],
        ([0x80, 0x80, 0x92, 0x67, 7, 7, 7, 7, 7].to_vec(), true)
    );
    assert_eq!(p.picture_id(), 4712);
    p.set_picture_id(0x7fff);
    p.packetize(&[1], 100, &mut |_: &[u8], _: bool| {}).unwrap();
    assert_eq!(p.picture_id(), 0, "the 15-bit PictureID wraps");
}

#[test]
fn vp8_keyframe_is_the_p_bit() {
    // RFC 7741 §4.3: the P bit, the lowest bit of the first octet after the descriptor of
    // a packet with S=1 and PID=0, is 0 on key frames.
    assert!(is_keyframe(
        Codec::Vp8,
        &[0x90, 0x80, 0x92, 0x67, 0x50, 0x01]
    ));
    assert!(!is_keyframe(
        Codec::Vp8,
        &[0x90, 0x80, 0x92, 0x67, 0x51, 0x01]
    ));
    assert!(
        !is_keyframe(Codec::Vp8, &[0x80, 0x80, 0x92, 0x67, 0x50]),
        "S=0"
    );
    assert!(
        !is_keyframe(Codec::Vp8, &[0x91, 0x80, 0x92, 0x67, 0x50]),
        "PID=1"
    );
    assert!(
        !is_keyframe(Codec::Vp8, &[0x90, 0x80, 0x92, 0x67]),
        "no payload header"
    );
    assert!(is_keyframe(Codec::Vp8, &[0x10, 0x50]), "no extension");
}

// ---------------------------------------------------------------------------------------
// VP9 (RFC 9628)

#[test]
fn vp9_descriptor_fields() {
    // RFC 9628 §4.2: I P L F B E V Z, then the optional fields.
    type Case<'a> = (&'a [u8], usize, Option<u16>, Option<u8>);
    let cases: &[Case] = &[
        (&[0x0c], 1, None, None),                                    // B E only
        (&[0x88, 0x05], 2, Some(5), None),                           // I: 7-bit picture ID
        (&[0x88, 0x92, 0x67], 3, Some(4711), None),                  // I, M: 15-bit
        (&[0xa8, 0x81, 0x00, 0x23, 0x07], 5, Some(256), Some(1)),    // L + TL0PICIDX (non-flexible)
        (&[0xb8, 0x81, 0x00, 0x22], 4, Some(256), Some(1)),          // flexible L: no TL0PICIDX
        (&[0xd8, 0x81, 0x00, 0x03, 0x05, 0x06], 6, Some(256), None), // flexible P: 3 P_DIFF
        // V: SS with N_S=1 (two layers), Y: sizes, G: N_G=2, R=1 then R=0.
        (
            &[
                0x8a, 0x01, 0x38, 0x01, 0x40, 0x00, 0xb4, 0x02, 0x80, 0x01, 0x68, 0x02, 0x04, 0x01,
                0x00,
            ],
            15,
            Some(1),
            None,
        ),
        (&[0x0a, 0x00], 2, None, None), // V: SS with nothing in it
    ];
    for &(desc, len, pid, sid) in cases {
        let mut payload = desc.to_vec();
        payload.push(0xee);
        let d = vp9::parse_descriptor(&payload).unwrap();
        assert_eq!(
            (d.len, d.picture_id, d.spatial_id),
            (len, pid, sid),
            "{desc:02x?}"
        );
        assert_eq!(vp9::body(&payload).unwrap(), &[0xee]);
        for cut in 0..len {
            assert!(
                vp9::parse_descriptor(&payload[..cut]).is_err(),
                "{desc:02x?} cut at {cut}"
            );
        }
    }
    // More than three P_DIFF octets.
    assert!(vp9::parse_descriptor(&[0x58, 0x03, 0x03, 0x03, 0x02, 0x00]).is_err());
}

#[test]
fn vp9_packetizer_sends_ss_on_key_frames() {
    let mut key = vp9_header(true, 640, 480);
    key.extend_from_slice(&[0x11; 20]);
    assert_eq!(vp9::frame_info(&key), Some((true, Some((640, 480)))));
    let mut p = Packetizer::new(Codec::Vp9);
    p.set_picture_id(4711);
    let mut out = Vec::new();
    p.packetize(&key, 100, &mut |b: &[u8], m: bool| {
        out.push((b.to_vec(), m))
    })
    .unwrap();
    // I B E V, picture ID 4711, SS: N_S=0 Y=1 G=0, 640 x 480.
    let head = [0x8e, 0x92, 0x67, 0x10, 0x02, 0x80, 0x01, 0xe0];
    assert_eq!(&out[0].0[..8], &head);
    assert!(out[0].1);
    assert!(is_keyframe(Codec::Vp9, &out[0].0));

    let mut inter = vp9_header(false, 1, 1);
    inter.extend_from_slice(&[0x22; 300]);
    let out = payloads(Codec::Vp9, &inter, 110);
    assert_eq!(out.len(), 3);
    // I P B, then I P, then I P E: P=1 and no SS.
    assert_eq!(out[0].0[0], 0xc8);
    assert_eq!(out[1].0[0], 0xc0);
    assert_eq!(out[2].0[0], 0xc4);
    assert!(!is_keyframe(Codec::Vp9, &out[0].0));
}

#[test]
fn vp9_keyframe_needs_base_layer_and_start() {
    assert!(is_keyframe(Codec::Vp9, &[0x88, 0x01, 0xaa]));
    assert!(!is_keyframe(Codec::Vp9, &[0xc8, 0x01, 0xaa]), "P=1");
    assert!(!is_keyframe(Codec::Vp9, &[0x80, 0x01, 0xaa]), "B=0");
    assert!(
        !is_keyframe(Codec::Vp9, &[0xa8, 0x01, 0x02, 0x00, 0xaa]),
        "spatial layer 1"
    );
    assert!(
        is_keyframe(Codec::Vp9, &[0xa8, 0x01, 0x00, 0x00, 0xaa]),
        "spatial layer 0"
    );
}

// ---------------------------------------------------------------------------------------
// H.264 (RFC 6184)

const SPS: [u8; 4] = [0x67, 0x42, 0x00, 0x1f];
const PPS: [u8; 2] = [0x68, 0xce];

fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
        .collect()
}

#[test]
fn h264_stap_a_as_in_rfc6184_figure_7() {
    // RFC 6184 §5.7.1, Figure 7: STAP-A NAL header, then size and NAL unit for each.
    // F=0 and NRI=3 (the largest of the two) with type 24: 0x78.
    let mut idr = vec![0x65];
    idr.extend_from_slice(&[0x88; 40]);
    let au = annex_b(&[&SPS, &PPS, &idr]);
    let out = payloads(Codec::H264, &au, 20);
    let stap = [
        0x78, 0x00, 0x04, 0x67, 0x42, 0x00, 0x1f, 0x00, 0x02, 0x68, 0xce,
    ];
    assert_eq!(out[0], (stap.to_vec(), false));
    assert!(
        is_keyframe(Codec::H264, &out[0].0),
        "an SPS starts an IDR access unit"
    );
    // RFC 6184 §5.8, Figures 14 and 15: the IDR (header 0x65) split as FU-A. FU indicator:
    // F=0, NRI=3, type 28 (0x7c); FU header: S, E and type 5.
    assert_eq!(out.len(), 4);
    assert_eq!(&out[1].0[..2], &[0x7c, 0x85]);
    assert_eq!(&out[2].0[..2], &[0x7c, 0x05]);
    assert_eq!(&out[3].0[..2], &[0x7c, 0x45]);
    assert!(out[3].1, "marker on the last packet of the access unit");
    assert_eq!(out[1].0.len() + out[2].0.len() + out[3].0.len(), 3 * 2 + 40);

    let mut d = Depacketizer::new(Codec::H264, 1 << 16);
    let f = one_frame(&mut d, 1, 1, &out).unwrap();
    assert_eq!(f.data, au);
    assert!(f.keyframe);
}

#[test]
fn h264_single_nal_units_and_start_codes() {
    // 3- and 4-byte start codes, leading and trailing zero bytes.
    let mut stream = vec![0, 0, 0, 0, 1];
    stream.extend_from_slice(&[0x41, 0x9a, 0x00, 0x00, 0x00]); // trailing_zero_8bits
    stream.extend_from_slice(&[0, 0, 1, 0x41, 0x9b]);
    let mut nals = Vec::new();
    h264::split_annex_b(&stream, &mut nals).unwrap();
    assert_eq!(nals, vec![(5, 7), (13, 15)]);
    let out = payloads(Codec::H264, &stream, 3);
    assert_eq!(
        out,
        vec![(vec![0x41, 0x9a], false), (vec![0x41, 0x9b], true)]
    );
    assert!(!is_keyframe(Codec::H264, &out[0].0));

    let bad: &[(&[u8], MediaError)] = &[
        (
            &[0x41, 0x9a],
            MediaError::InvalidFrame("no Annex B start code"),
        ),
        (
            &[7, 0, 0, 1, 0x41],
            MediaError::InvalidFrame("data before the first start code"),
        ),
        (
            &[0, 0, 1, 0x78, 1],
            MediaError::InvalidFrame("NAL unit type outside 1..=23"),
        ),
        (&[0, 0, 1, 0, 0, 1], MediaError::EmptyFrame),
    ];
    for (frame, err) in bad {
        assert_eq!(
            Packetizer::new(Codec::H264).packetize(frame, 100, &mut |_: &[u8], _: bool| {}),
            Err(err.clone())
        );
    }
}

#[test]
fn h264_refuses_interleaved_and_reserved_types() {
    for t in [25u8, 26, 27, 29] {
        assert!(matches!(
            inspect(Codec::H264, &[t, 0, 1, 2]),
            Err(MediaError::Unsupported(_))
        ));
    }
    for t in [0u8, 30, 31] {
        assert!(matches!(
            inspect(Codec::H264, &[t, 1]),
            Err(MediaError::InvalidPayload(_))
        ));
    }
    // STAP-A with a truncated unit, an empty one, or nothing at all.
    for bad in [
        &[0x78, 0, 5, 0x67][..],
        &[0x78, 0, 0],
        &[0x78],
        &[0x78, 0, 1, 0x67, 0],
    ] {
        assert!(inspect(Codec::H264, bad).is_err(), "{bad:02x?}");
    }
    // FU-A without a fragment.
    assert!(inspect(Codec::H264, &[0x7c, 0x85]).is_err());
}

#[test]
fn h264_fu_a_out_of_place_drops_the_frame() {
    // An FU-A that ends without starting, sandwiched between a proper start and marker.
    let mut d = primed(Codec::H264, 1 << 16, 10, 50);
    d.push(10, 50, false, &[0x41, 0x01]).unwrap();
    d.push(11, 50, true, &[0x7c, 0x45, 0x02]).unwrap();
    assert_eq!(d.pop(), None);
    assert_eq!(
        d.dropped(),
        1,
        "a frame whose payloads do not fit together is dropped"
    );
    // The next one is fine.
    d.push(12, 51, true, &[0x41, 0x03]).unwrap();
    assert_eq!(d.pop().unwrap().data, [0, 0, 0, 1, 0x41, 0x03]);
}

// ---------------------------------------------------------------------------------------
// AV1 (AV1 RTP payload format v1.0)

#[test]
fn av1_leb128() {
    // AV1 §4.10.5.
    for (v, bytes) in [
        (0usize, &[0x00][..]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (300, &[0xac, 0x02]),
        (u32::MAX as usize, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ] {
        let mut out = Vec::new();
        av1::write_leb128(v, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(av1::leb128_len(v), bytes.len());
        assert_eq!(av1::read_leb128(bytes), Some((v, bytes.len())));
    }
    // Non-minimal encodings are read; too long or too big are not.
    assert_eq!(av1::read_leb128(&[0x80, 0x00]), Some((0, 2)));
    assert_eq!(av1::read_leb128(&[0x80; 9]), None);
    assert_eq!(av1::read_leb128(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None);
    assert_eq!(av1::read_leb128(&[0x80]), None);
}

#[test]
fn av1_aggregation_as_in_the_spec() {
    // §4.4/§4.5: a temporal delimiter (dropped), a sequence header with a 1-byte payload
    // and a frame OBU with 3 bytes, in one packet: N=1 and W=2, the first element with
    // its length, the last without; obu_has_size_field cleared in both.
    let tu = [0x12, 0x00, 0x0a, 0x01, 0xaa, 0x32, 0x03, 1, 2, 3];
    let out = payloads(Codec::Av1, &tu, 100);
    assert_eq!(
        out,
        vec![(vec![0x28, 0x02, 0x08, 0xaa, 0x30, 1, 2, 3], true)]
    );
    assert!(is_keyframe(Codec::Av1, &out[0].0));
    let mut d = Depacketizer::new(Codec::Av1, 1 << 16);
    let f = one_frame(&mut d, 7, 9, &out).unwrap();
    assert_eq!(f.data, tu, "sizes restored, temporal delimiter first");
    assert!(f.keyframe);

    // Fragmented: a 21-byte element (a frame OBU with 20 bytes of payload) at 8 bytes per
    // packet, 7 of them after the aggregation header: Z and Y link the three pieces.
    let mut tu = vec![0x12, 0x00, 0x32, 20];
    tu.extend(0..20u8);
    let out = payloads(Codec::Av1, &tu, 8);
    let agg: Vec<u8> = out.iter().map(|(p, _)| p[0]).collect();
    // W=1 throughout; Y on all but the last, Z on all but the first.
    assert_eq!(agg, vec![0x50, 0xd0, 0x90]);
    assert!(!is_keyframe(Codec::Av1, &out[0].0));
    let f = one_frame(&mut primed(Codec::Av1, 1 << 16, 20, 9), 20, 10, &out).unwrap();
    assert_eq!(f.data, tu);

    // Four small OBUs: W=0, every element with its length.
    let tu = [0x1a, 0x01, 1, 0x1a, 0x01, 2, 0x1a, 0x01, 3, 0x1a, 0x01, 4];
    let out = payloads(Codec::Av1, &tu, 100);
    assert_eq!(
        out[0].0,
        [0x00, 2, 0x18, 1, 2, 0x18, 2, 2, 0x18, 3, 2, 0x18, 4]
    );
    let f = one_frame(&mut primed(Codec::Av1, 1 << 16, 30, 9), 30, 11, &out).unwrap();
    assert_eq!(&f.data[2..], &tu);
}

#[test]
fn av1_many_small_obus() {
    // 600 padding OBUs with empty payloads: W=0 packets of hundreds of elements each.
    let mut tu = vec![0x12, 0x00];
    for _ in 0..600 {
        tu.extend_from_slice(&[0x7a, 0x00]);
    }
    for max in [2, 3, 5, 1200] {
        let out = payloads(Codec::Av1, &tu, max);
        assert!(out.iter().all(|(p, _)| p.len() <= max));
        let f = one_frame(&mut primed(Codec::Av1, 1 << 16, 1, 1), 1, 2, &out).unwrap();
        assert_eq!(f.data, tu, "max {max}");
    }
}

#[test]
fn av1_receiver_accepts_kept_size_fields() {
    // A sender may keep obu_has_size_field; the size must then match the element.
    let mut d = primed(Codec::Av1, 1 << 16, 1, 1);
    d.push(1, 2, true, &[0x10, 0x32, 0x02, 7, 8]).unwrap();
    assert_eq!(d.pop().unwrap().data, [0x12, 0x00, 0x32, 0x02, 7, 8]);
    d.push(2, 3, true, &[0x10, 0x32, 0x05, 7, 8]).unwrap();
    assert_eq!(d.pop(), None, "a size field that disagrees: dropped");
    assert_eq!(d.dropped(), 1);
    // Bad element framing is refused at once.
    for bad in [
        &[0x20, 0x02, 0x30][..],
        &[0x00, 0x05, 0x30],
        &[0x10],
        &[0x00, 0x00],
    ] {
        assert!(inspect(Codec::Av1, bad).is_err(), "{bad:02x?}");
    }
}

#[test]
fn av1_packetizer_checks_obus() {
    let mut p = Packetizer::new(Codec::Av1);
    let mut sink = |_: &[u8], _: bool| {};
    assert_eq!(
        p.packetize(&[0x12, 0x00], 100, &mut sink),
        Err(MediaError::EmptyFrame)
    );
    assert!(
        p.packetize(&[0x32, 0x05, 1], 100, &mut sink).is_err(),
        "truncated"
    );
    assert!(
        p.packetize(&[0xb2, 0x00], 100, &mut sink).is_err(),
        "forbidden bit"
    );
    // The last OBU may go without its size field.
    assert_eq!(p.packetize(&[0x30, 1, 2], 100, &mut sink), Ok(1));
}

// ---------------------------------------------------------------------------------------
// Opus (RFC 7587) and the packetizer's limits

#[test]
fn opus_is_one_packet_per_frame() {
    let out = payloads(Codec::Opus, &[0xfc, 1, 2], 3);
    assert_eq!(
        out,
        vec![(vec![0xfc, 1, 2], false)],
        "marker left to the caller"
    );
    let mut p = Packetizer::new(Codec::Opus);
    let mut sink = |_: &[u8], _: bool| {};
    assert_eq!(
        p.packetize(&[0; 4], 3, &mut sink),
        Err(MediaError::FrameTooLarge { size: 4, max: 3 })
    );
    assert!(is_keyframe(Codec::Opus, &[0xfc]));
    let mut d = Depacketizer::new(Codec::Opus, 100);
    d.push(5, 960, false, &[0xfc, 1]).unwrap();
    assert_eq!(d.pop().unwrap().data, [0xfc, 1]);
    // A second packet with the same timestamp is not a frame of its own.
    assert!(d.push(7, 1920, false, &[1]).is_ok());
    assert!(d.push(8, 1920, false, &[2]).is_err());
}

#[test]
fn packetizer_limits() {
    for codec in Codec::ALL {
        let mut p = Packetizer::new(codec);
        let mut sink = |_: &[u8], _: bool| {};
        let min = codec.min_payload();
        assert_eq!(
            p.packetize(&[1], min - 1, &mut sink),
            Err(MediaError::MaxPayloadTooSmall { max: min - 1, min })
        );
        assert_eq!(
            p.packetize(&[], 1200, &mut sink),
            Err(MediaError::EmptyFrame)
        );
        // At the smallest limit every valid frame still goes, in payloads within it.
        let f = make_frame(codec, &mut Script(&[9; 64]), true);
        let max = if codec == Codec::Opus {
            f.input.len()
        } else {
            min
        };
        let out = payloads(codec, &f.input, max);
        assert!(out.iter().all(|(p, _)| p.len() <= max), "{codec:?}");
    }
}

mod buffer;
