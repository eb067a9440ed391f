//! Tests of the depacketizer's reorder buffer, and properties over random frames, MTUs
//! and deliveries (with the fuzz target's own harness).

use super::fuzz_media::{self, Packet, Script, deliver, make_frame, packetize, primed, shuffle};
use super::{SPS, one_frame, payloads};
use crate::media::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// The reorder buffer

/// Packets of `count` frames of `codec` from `seq`/`ts` on (3000 ticks apart).
fn stream(
    codec: Codec,
    count: usize,
    max: usize,
    seq: &mut u16,
    ts: u32,
    seed: u8,
) -> (Vec<Vec<u8>>, Vec<Packet>) {
    let bytes: Vec<u8> = (0..20_000u32)
        .map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed))
        .collect();
    let mut s = Script(&bytes);
    let mut p = Packetizer::new(codec);
    let mut frames = Vec::new();
    let mut packets = Vec::new();
    for i in 0..count {
        let f = make_frame(codec, &mut s, i == 0);
        packets.extend(packetize(
            &mut p,
            &f.input,
            max,
            seq,
            ts.wrapping_add(3000 * i as u32),
        ));
        frames.push(f.expected);
    }
    (frames, packets)
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    for codec in Codec::ALL {
        let mut seq = 65_530;
        let ts = u32::MAX - 4000;
        let (frames, packets) = stream(codec, 12, 300, &mut seq, ts, 3);
        assert!(packets.len() > 6, "{codec:?}: the stream crosses seq 0");
        let mut d = Depacketizer::new(codec, 1 << 20);
        let out = deliver(&mut d, &packets);
        let data: Vec<_> = out.iter().map(|f| f.data.clone()).collect();
        assert_eq!(data, frames, "{codec:?}");
        assert_eq!(out[2].timestamp, ts.wrapping_add(6000));
        assert_eq!(out[0].first_seq, 65_530);
    }
}

#[test]
fn a_frame_with_a_lost_packet_never_comes_out() {
    for codec in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
        let mut seq = 100;
        let (frames, mut packets) = stream(codec, 8, 200, &mut seq, 0, 5);
        // Lose the middle packet of the second frame.
        let second: Vec<usize> = (0..packets.len())
            .filter(|&i| packets[i].1 == 3000)
            .collect();
        assert!(second.len() >= 3, "{codec:?}");
        packets.remove(second[second.len() / 2]);
        let mut d = Depacketizer::new(codec, 1 << 20);
        let out = deliver(&mut d, &packets);
        assert!(out.iter().all(|f| f.timestamp != 3000), "{codec:?}");
        for f in &out {
            assert_eq!(f.data, frames[f.timestamp as usize / 3000], "{codec:?}");
        }
        assert_eq!(d.dropped(), 1, "{codec:?}");
        assert_eq!(out[0].timestamp, 0);
        if matches!(codec, Codec::Vp8 | Codec::Vp9) {
            // Start bits make every later frame provably whole.
            assert_eq!(out.len(), 7, "{codec:?}");
        }
    }
}

#[test]
fn h264_after_a_loss_waits_for_a_provable_start() {
    let sc = |nal: &[u8]| [&[0, 0, 0, 1][..], nal].concat();
    let pops = |d: &mut Depacketizer| -> Vec<u32> {
        std::iter::from_fn(|| d.pop())
            .map(|f| f.timestamp)
            .collect()
    };
    let mut d = primed(Codec::H264, 1 << 16, 10, 0);
    // Frame 1 loses its first packet (seq 10); its second still shows where frame 2
    // begins, but frame 1 holds the others back until three are complete.
    d.push(11, 1, true, &[0x41, 1]).unwrap();
    d.push(12, 2, true, &[0x41, 2]).unwrap();
    d.push(13, 3, true, &[0x41, 3]).unwrap();
    assert_eq!(pops(&mut d), [0u32; 0]);
    d.push(14, 4, true, &[0x41, 4]).unwrap();
    assert_eq!(pops(&mut d), [2, 3, 4]);
    assert_eq!(d.dropped(), 1);
    // Frame 5 (seq 15) is lost whole: frame 6 cannot prove its start (seq 15 could be its
    // first packet), so it waits and goes; frame 7 opens with an SPS and comes out.
    d.push(16, 6, true, &[0x41, 6]).unwrap();
    d.push(17, 7, false, &SPS).unwrap();
    d.push(18, 7, true, &[0x65, 7]).unwrap();
    assert_eq!(pops(&mut d), [0u32; 0]);
    d.push(19, 8, true, &[0x41, 8]).unwrap();
    d.push(20, 9, true, &[0x41, 9]).unwrap();
    let out: Vec<Frame> = std::iter::from_fn(|| d.pop()).collect();
    let ts: Vec<u32> = out.iter().map(|f| f.timestamp).collect();
    assert_eq!(ts, [7, 8, 9]);
    assert_eq!(out[0].data, [sc(&SPS), sc(&[0x65, 7])].concat());
    assert!(out[0].keyframe && !out[1].keyframe);
    assert_eq!(d.dropped(), 2);
}

#[test]
fn duplicates_late_packets_and_conflicts() {
    let out = payloads(Codec::Vp8, &[5u8; 30], 14);
    let mut d = Depacketizer::new(Codec::Vp8, 1 << 16);
    d.push(1, 0, false, &out[0].0).unwrap();
    d.push(1, 0, false, &out[0].0).unwrap(); // duplicate: ignored
    assert!(
        d.push(2, 77, false, &out[1].0).is_ok(),
        "a new timestamp after the first packet is another frame"
    );
    // A packet of frame 0 beyond frame 77's packet: the frames would overlap.
    assert!(matches!(
        d.push(3, 0, true, &out[2].0),
        Err(MediaError::InvalidPayload(_))
    ));
    let mut d = Depacketizer::new(Codec::Vp8, 1 << 16);
    let f = one_frame(&mut d, 1, 0, &out).unwrap();
    assert_eq!(f.data, [5u8; 30]);
    // Late copies of its packets are ignored.
    for (i, (p, m)) in out.iter().enumerate() {
        d.push(1 + i as u16, 0, *m, p).unwrap();
    }
    assert_eq!((d.pop(), d.pending_frames(), d.dropped()), (None, 0, 0));
}

#[test]
fn oversized_frames_are_dropped() {
    let out = payloads(Codec::Vp8, &[5u8; 300], 104);
    let mut d = Depacketizer::new(Codec::Vp8, 200);
    d.push(1, 0, false, &out[0].0).unwrap();
    assert!(matches!(
        d.push(2, 0, false, &out[1].0),
        Err(MediaError::FrameTooLarge { .. })
    ));
    assert_eq!(d.dropped(), 1);
    d.push(3, 0, true, &out[2].0).unwrap(); // the rest of that frame is ignored
    assert_eq!(d.pending_frames(), 0);
    let small = payloads(Codec::Vp8, &[6u8; 50], 104);
    d.push(4, 1, true, &small[0].0).unwrap();
    assert_eq!(d.pop().unwrap().data, [6u8; 50]);
}

#[test]
fn memory_stays_bounded() {
    for codec in Codec::ALL {
        let mut d = Depacketizer::new(codec, 2000);
        let bytes: Vec<u8> = (0..=255).collect();
        let mut s = Script(&bytes);
        let f = make_frame(codec, &mut s, true);
        let out = payloads(codec, &f.input, 600);
        // Thousands of frames, each missing its last packet, a gap between each.
        for i in 0..3000u32 {
            for (k, (p, _)) in out
                .iter()
                .enumerate()
                .take(out.len().saturating_sub(1).max(1))
            {
                let _ = d.push((i * 40 + k as u32) as u16, i * 90, false, p);
            }
            while d.pop().is_some() {}
            assert!(d.pending_frames() <= MAX_PENDING_FRAMES);
            assert!(d.buffered_bytes() <= d.max_buffered_bytes());
        }
        if codec != Codec::Opus {
            // (Every Opus packet is a whole frame.)
            assert!(d.dropped() > 2000, "{codec:?}: {}", d.dropped());
        }
    }
}

#[test]
fn a_stream_restart_resets_the_buffer() {
    let out = payloads(Codec::Vp8, &[1u8; 10], 100);
    let mut d = Depacketizer::new(Codec::Vp8, 1 << 16);
    d.push(40_000, 1, true, &out[0].0).unwrap();
    assert!(d.pop().is_some());
    d.push(39_990, 2, true, &out[0].0).unwrap(); // late: ignored
    assert_eq!(d.pop(), None);
    d.push(20_000, 3, true, &out[0].0).unwrap(); // far behind: a new stream
    assert_eq!(d.pop().unwrap().first_seq, 20_000);
}

#[test]
fn reorder_window_is_configurable() {
    // With a window of 1, the first newer complete frame gives up on an older gap.
    let a = payloads(Codec::Vp8, &[1u8; 20], 14);
    let b = payloads(Codec::Vp8, &[2u8; 5], 14);
    let mut d = Depacketizer::new(Codec::Vp8, 1 << 16).with_reorder_frames(1);
    d.push(1, 1, false, &a[0].0).unwrap();
    d.push(3, 2, true, &b[0].0).unwrap();
    assert_eq!(d.pop().unwrap().timestamp, 2);
    assert_eq!(d.dropped(), 1);
    d.push(2, 1, true, &a[1].0).unwrap(); // too late now
    assert_eq!(d.pop(), None);
}

#[test]
fn flush_gives_up_on_gaps_at_once() {
    let a = payloads(Codec::Vp8, &[1u8; 20], 14);
    let b = payloads(Codec::Vp8, &[2u8; 5], 14);
    let mut d = Depacketizer::new(Codec::Vp8, 1 << 16);
    d.push(1, 1, false, &a[0].0).unwrap(); // frame 1 loses its second packet
    d.push(3, 2, true, &b[0].0).unwrap();
    d.push(5, 3, true, &b[0].0).unwrap(); // and seq 4 is lost
    d.push(6, 4, false, &a[0].0).unwrap(); // frame 4 is still coming
    assert_eq!(d.pop(), None);
    let out: Vec<u32> = std::iter::from_fn(|| d.flush())
        .map(|f| f.timestamp)
        .collect();
    assert_eq!(out, [2, 3]);
    assert_eq!((d.dropped(), d.pending_frames()), (1, 1));
    d.push(7, 4, true, &a[1].0).unwrap();
    assert_eq!(d.pop().unwrap().data, [1u8; 20]);
}

// ---------------------------------------------------------------------------------------
// Properties

fn codec_strategy() -> impl Strategy<Value = Codec> {
    prop::sample::select(Codec::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random frames at random MTUs come back identical, in order, through reordered
    /// and duplicated delivery, across sequence number and timestamp wrap-around.
    #[test]
    fn round_trip_reordered_and_duplicated(
        codec in codec_strategy(),
        seed in prop::collection::vec(any::<u8>(), 0..6000),
        order in prop::collection::vec(any::<u8>(), 0..400),
        extra in 0usize..1400,
        seq0 in any::<u16>(),
        ts0 in any::<u32>(),
        count in 1usize..10,
    ) {
        let max = codec.min_payload() + extra;
        let mut s = Script(&seed);
        let mut p = Packetizer::new(codec);
        let mut seq = seq0;
        let mut frames = Vec::new();
        let mut packets = Vec::new();
        for i in 0..count {
            let f = make_frame(codec, &mut s, i == 0 || i % 4 == 0);
            let ts = ts0.wrapping_add(3000 * i as u32);
            packets.extend(packetize(&mut p, &f.input, max, &mut seq, ts));
            frames.push((f, ts));
        }
        shuffle(&mut packets, &mut Script(&order));
        let mut d = Depacketizer::new(codec, 1 << 20);
        let out = deliver(&mut d, &packets);
        prop_assert_eq!(out.len(), frames.len());
        for (f, (expect, ts)) in out.iter().zip(&frames) {
            prop_assert!(f.data == expect.expected);
            prop_assert_eq!(f.timestamp, *ts);
            prop_assert_eq!(f.keyframe, expect.keyframe);
        }
        prop_assert_eq!(d.dropped(), 0);
        prop_assert_eq!(d.pending_frames(), 0);
    }

    /// Losses never produce a corrupted frame; VP8 and VP9 frames that lost nothing all
    /// come out (their start bits prove where frames begin).
    #[test]
    fn losses_never_corrupt(
        codec in codec_strategy(),
        seed in prop::collection::vec(any::<u8>(), 0..4000),
        lose in prop::collection::vec(any::<u8>(), 1..64),
        extra in 0usize..600,
    ) {
        let max = codec.min_payload() + extra;
        let mut s = Script(&seed);
        let mut p = Packetizer::new(codec);
        let mut seq = 65_000u16;
        let mut frames = Vec::new();
        let mut packets = Vec::new();
        let mut ranges = Vec::new();
        for i in 0..12u32 {
            let f = make_frame(codec, &mut s, i % 5 == 0);
            let start = seq;
            packets.extend(packetize(&mut p, &f.input, max, &mut seq, i * 3000));
            ranges.push((start, seq.wrapping_sub(start)));
            frames.push(f.expected);
        }
        // Lose packets of the first eight frames only: the last four flush the buffer.
        let lost: Vec<u16> = packets
            .iter()
            .filter(|pk| pk.1 < 8 * 3000 && lose[usize::from(pk.0) % lose.len()] < 40)
            .map(|pk| pk.0)
            .collect();
        packets.retain(|pk| !lost.contains(&pk.0));
        let mut d = Depacketizer::new(codec, 1 << 20);
        let out = deliver(&mut d, &packets);
        let mut last = None;
        for f in &out {
            let i = f.timestamp as usize / 3000;
            prop_assert!(f.data == frames[i], "frame {} corrupted", i);
            prop_assert!(last < Some(i));
            last = Some(i);
        }
        if matches!(codec, Codec::Vp8 | Codec::Vp9 | Codec::Opus) {
            let intact: Vec<u32> = (0..12u32)
                .filter(|&i| !lost.iter().any(|&q| q.wrapping_sub(ranges[i as usize].0) < ranges[i as usize].1))
                .collect();
            let got: Vec<u32> = out.iter().map(|f| f.timestamp / 3000).collect();
            prop_assert_eq!(got, intact);
        }
    }

    /// Every truncation of every valid payload, and random payloads, never panic.
    #[test]
    fn hostile_payloads_never_panic(
        codec in codec_strategy(),
        seed in prop::collection::vec(any::<u8>(), 0..2000),
        noise in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..40),
    ) {
        let f = make_frame(codec, &mut Script(&seed), seed.first().is_some_and(|b| b & 1 == 1));
        let out = payloads(codec, &f.input, (codec.min_payload() + 60).max(if codec == Codec::Opus { f.input.len() } else { 0 }));
        let mut shared = Depacketizer::new(codec, 4096);
        let mut seq = 0u16;
        for (p, m) in &out {
            for cut in 0..=p.len() {
                let part = &p[..cut];
                let _ = is_keyframe(codec, part);
                let mut d = primed(codec, 4096, 1, 1);
                let _ = d.push(1, 1, true, part);
                while d.pop().is_some() {}
                seq = seq.wrapping_add(1);
                let _ = shared.push(seq, u32::from(seq / 3), *m, part);
                while shared.pop().is_some() {}
            }
        }
        for (i, p) in noise.iter().enumerate() {
            let _ = shared.push(i as u16 * 7, i as u32 % 5, i % 3 == 0, p);
            while let Some(f) = shared.pop() {
                prop_assert!(f.data.len() <= 4096);
            }
        }
    }

    /// The fuzz target's harness on random inputs, in both modes.
    #[test]
    fn fuzz_harness(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        fuzz_media::run(&data);
        let mut round_trip = data.clone();
        if let Some(first) = round_trip.first_mut() {
            *first |= 0x80;
        }
        fuzz_media::run(&round_trip);
    }
}

#[test]
fn fuzz_harness_fixed_inputs() {
    for codec in 0..5u8 {
        for mode in [0x00, 0x80, 0xc0] {
            for fill in [0x00, 0x5a, 0xff] {
                let mut data = vec![mode | codec];
                data.extend((0..4000u32).map(|i| (i as u8).wrapping_mul(13) ^ fill));
                fuzz_media::run(&data);
            }
        }
    }
}
