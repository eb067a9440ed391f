//! The media packetizers and depacketizers (`sansrtc::media`), every codec.
//!
//! The first byte picks the codec (bits 0-2, modulo 5) and the mode (bit 7):
//!
//! - **hostile** (bit 7 clear): a script of RTP packets for a depacketizer with a small
//!   `max_frame_size`: raw payloads, real payloads of frames made from the input (some
//!   packets skipped, truncated or with a byte flipped), sequence number steps and jumps,
//!   timestamps old and new. Checked after every packet: nothing panics, no frame is
//!   larger than `max_frame_size` or spans more than `MAX_FRAME_PACKETS`, and the buffer
//!   stays within `MAX_PENDING_FRAMES` frames and `max_buffered_bytes()`.
//! - **round trip** (bit 7 set): frames made from the input, valid for the codec, are
//!   packetized at an input-chosen size limit and delivered with bounded reordering
//!   (each packet at most two places late), duplicates and, when bit 6 is set, one lost
//!   packet. Checked: every payload fits the limit and only the last of a frame has the
//!   marker; without a loss every frame comes out identical, in order, with its
//!   timestamp, sequence numbers and keyframe flag; with a loss, whatever comes out is
//!   an intact frame. Then arbitrary bytes that packetize come back in a normal form that
//!   round-trips to itself.
//!
//! The same file is compiled into the library's unit tests (`src/media/tests.rs`), which
//! run [`run`] on fixed and random inputs; there `crate::media` stands for `sansrtc::media`.
#![cfg_attr(not(test), no_main)]

#[cfg(test)]
use crate::media;
#[cfg(not(test))]
use sansrtc::media;

use media::{Codec, Depacketizer, Frame, MAX_FRAME_PACKETS, MAX_PENDING_FRAMES, Packetizer};

#[cfg(not(test))]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Most script operations per input (keeps each input fast).
const MAX_OPS: usize = 200;
/// The depacketizer limit in round trips: larger than any frame made here.
const BIG_FRAME: usize = 1 << 20;

/// The fuzz input, read front to back; reads past the end give zeros.
pub struct Script<'a>(pub &'a [u8]);

impl<'a> Script<'a> {
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    pub fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) << 16 | u32::from(self.u16())
    }

    /// `n` bytes: from the input while it lasts, then a filler pattern.
    pub fn fill(&mut self, n: usize) -> Vec<u8> {
        let take = n.min(self.0.len());
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let mut v = head.to_vec();
        v.extend((take..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)));
        v
    }

    /// A length byte, then up to that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8()).min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// A frame for the packetizer, what the depacketizer must give back for it, and whether
/// it is a keyframe.
pub struct TestFrame {
    pub input: Vec<u8>,
    pub expected: Vec<u8>,
    pub keyframe: bool,
}

/// A valid frame for `codec` made from the script; `key` asks for a keyframe (for H.264
/// an access unit opening with an SPS, for AV1 a temporal unit with a sequence header).
pub fn make_frame(codec: Codec, s: &mut Script<'_>, key: bool) -> TestFrame {
    match codec {
        Codec::Opus => {
            let n = 1 + usize::from(s.u8()) % 160;
            let f = s.fill(n);
            TestFrame {
                input: f.clone(),
                expected: f,
                keyframe: true,
            }
        }
        Codec::Vp8 => {
            let n = 1 + usize::from(s.u16()) % 6000;
            let mut f = s.fill(n);
            // The P bit of the frame tag (RFC 7741 §4.3): 0 on key frames.
            f[0] = if key { f[0] & !1 } else { f[0] | 1 };
            TestFrame {
                input: f.clone(),
                expected: f,
                keyframe: key,
            }
        }
        Codec::Vp9 => {
            let n = usize::from(s.u16()) % 6000;
            let mut f = vp9_header(key, 1 + s.u16() % 4000, 1 + s.u16() % 4000);
            f.extend(s.fill(n));
            TestFrame {
                input: f.clone(),
                expected: f,
                keyframe: key,
            }
        }
        Codec::H264 => {
            let count = 1 + usize::from(s.u8()) % 6;
            let three_byte = s.u8() & 1 == 1;
            let (mut input, mut expected) = (Vec::new(), Vec::new());
            let mut keyframe = false;
            for i in 0..count {
                // Types 7 (SPS) and 9 (AUD) only open an access unit, as in real streams.
                let t = match (i, key) {
                    (0, true) => 7,
                    (_, true) if i + 1 == count => 5,
                    _ => [1, 1, 1, 5, 6, 8, 12, 20][usize::from(s.u8()) % 8],
                };
                keyframe |= t == 5;
                let nal = h264_nal(t, s);
                input.extend_from_slice(if three_byte {
                    &[0, 0, 1]
                } else {
                    &[0, 0, 0, 1]
                });
                input.extend_from_slice(&nal);
                expected.extend_from_slice(&[0, 0, 0, 1]);
                expected.extend_from_slice(&nal);
            }
            TestFrame {
                input,
                expected,
                keyframe,
            }
        }
        Codec::Av1 => {
            let count = 1 + usize::from(s.u8()) % 5;
            let mut tu = vec![0x12, 0x00]; // temporal delimiter
            for i in 0..count {
                let t = if i == 0 && key {
                    1
                } else {
                    [3, 4, 5, 6, 6, 15][usize::from(s.u8()) % 6]
                };
                let ext = s.u8();
                let header = t << 3 | 0x02 | if ext & 1 == 1 { 0x04 } else { 0 };
                tu.push(header);
                if ext & 1 == 1 {
                    tu.push(ext & 0xf8);
                }
                let len = usize::from(s.u16()) % 3000;
                leb128(len, &mut tu);
                tu.extend(s.fill(len));
            }
            TestFrame {
                input: tu.clone(),
                expected: tu,
                keyframe: key,
            }
        }
    }
}

/// An H.264 NAL unit of type `t` with no start code inside (no `00 00`) and no zero
/// byte at its end.
pub fn h264_nal(t: u8, s: &mut Script<'_>) -> Vec<u8> {
    let len = usize::from(s.u16()) % 3000;
    let mut nal = vec![0x60 & s.u8() | t];
    let mut zero = false;
    for b in s.fill(len) {
        let b = if zero && b == 0 { 1 } else { b };
        zero = b == 0;
        nal.push(b);
    }
    if nal.last() == Some(&0) {
        nal.push(0x80);
    }
    nal
}

/// The start of a VP9 frame's uncompressed header (profile 0): a key frame with its size,
/// or an inter frame.
pub fn vp9_header(key: bool, width: u16, height: u16) -> Vec<u8> {
    if !key {
        // frame_marker 10, profile 0 0, show_existing_frame 0, frame_type 1, show_frame 1,
        // error_resilient_mode 0.
        return vec![0b1000_0110];
    }
    // frame_marker 10, profile 0 0, show_existing_frame 0, frame_type 0, show_frame 1,
    // error_resilient_mode 0; frame_sync_code; color_space 0 and color_range 0 (4 bits),
    // frame_width_minus_1 and frame_height_minus_1 (16 bits each), then 4 bits of zeros.
    let bits = u64::from(width - 1) << 20 | u64::from(height - 1) << 4;
    let mut h = vec![0b1000_0010, 0x49, 0x83, 0x42];
    h.extend_from_slice(&bits.to_be_bytes()[3..]);
    h
}

pub fn leb128(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One RTP packet: sequence number, timestamp, marker, payload.
pub type Packet = (u16, u32, bool, Vec<u8>);

/// Packetizes `frame` with the given RTP fields, checking the size limit and the marker.
pub fn packetize(
    p: &mut Packetizer,
    frame: &[u8],
    max: usize,
    seq: &mut u16,
    ts: u32,
) -> Vec<Packet> {
    // Opus frames are never split: give them room.
    let max = if p.codec() == Codec::Opus {
        max.max(frame.len())
    } else {
        max
    };
    let mut out = Vec::new();
    let n = p
        .packetize(frame, max, &mut |payload: &[u8], marker: bool| {
            out.push((0, ts, marker, payload.to_vec()));
        })
        .expect("valid frame");
    assert_eq!(n, out.len());
    for (i, pkt) in out.iter_mut().enumerate() {
        assert!(
            pkt.3.len() <= max,
            "payload of {} bytes over {max}",
            pkt.3.len()
        );
        if p.codec() != Codec::Opus {
            assert_eq!(pkt.2, i + 1 == n, "marker only on the last payload");
        }
        pkt.0 = *seq;
        *seq = seq.wrapping_add(1);
    }
    out
}

/// Pushes the packets in order, popping after each; returns what came out.
pub fn deliver(d: &mut Depacketizer, packets: &[Packet]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (seq, ts, marker, payload) in packets {
        d.push(*seq, *ts, *marker, payload)
            .expect("own payloads are accepted");
        while let Some(f) = d.pop() {
            frames.push(f);
        }
    }
    frames
}

/// Reorders packets: two passes of swaps of neighbours, so none is more than two places
/// late; the first packet stays first (before any, the depacketizer knows no frame
/// boundary). Then duplicates some, one or two places after the original.
pub fn shuffle(packets: &mut Vec<Packet>, s: &mut Script<'_>) {
    for _ in 0..2 {
        let mut i = 1;
        while i + 1 < packets.len() {
            if s.u8() & 1 == 1 {
                packets.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    let mut i = 0;
    while i < packets.len() {
        let b = s.u8();
        if b & 0x0c == 0x0c {
            let copy = packets[i].clone();
            packets.insert((i + 1 + usize::from(b & 1)).min(packets.len()), copy);
            i += 1;
        }
        i += 1;
    }
}

/// A depacketizer that has already given out a one-packet frame ending at `seq - 1`, so
/// the next frame's start is known whatever its first packet (H.264 and AV1 cannot tell
/// the first packet of a frame otherwise).
pub fn primed(codec: Codec, max: usize, seq: u16, ts: u32) -> Depacketizer {
    let mut d = Depacketizer::new(codec, max);
    let primer: &[u8] = match codec {
        Codec::Opus => &[0xfc],
        Codec::Vp8 => &[0x10, 0x00],
        Codec::Vp9 => &[0x0c, 0x00],
        Codec::H264 => &[0x09, 0xf0],      // an access unit delimiter
        Codec::Av1 => &[0x18, 0x08, 0x00], // N=1, W=1: an empty sequence header
    };
    d.push(seq.wrapping_sub(1), ts.wrapping_sub(1), true, primer)
        .expect("primer");
    assert!(d.pop().is_some(), "primer frame");
    d
}

/// Packetizes one frame and depacketizes it again.
pub fn round_trip_one(codec: Codec, frame: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut p = Packetizer::new(codec);
    let mut packets = Vec::new();
    p.packetize(frame, max, &mut |payload: &[u8], marker: bool| {
        packets.push((payload.to_vec(), marker));
    })
    .ok()?;
    let mut d = primed(codec, BIG_FRAME, 100, 1000);
    for (i, (payload, marker)) in packets.iter().enumerate() {
        d.push(100 + i as u16, 1000, *marker, payload)
            .expect("own payload");
    }
    let f = d.pop().expect("own frame comes back");
    assert!(d.pop().is_none());
    Some(f.data)
}

fn round_trip(codec: Codec, s: &mut Script<'_>, lose: bool) {
    let max = codec.min_payload() + usize::from(s.u16()) % 1400;
    let count = 1 + usize::from(s.u8()) % 8;
    let mut seq = s.u16();
    let ts0 = s.u32();
    let first_seq = seq;
    let mut p = Packetizer::new(codec);
    p.set_picture_id(s.u16());
    let mut frames = Vec::new();
    let mut packets = Vec::new();
    for i in 0..count {
        let key = i == 0 || s.u8() & 3 == 0;
        let f = make_frame(codec, s, key);
        let ts = ts0.wrapping_add(3000 * i as u32);
        let start = seq;
        packets.extend(packetize(&mut p, &f.input, max, &mut seq, ts));
        frames.push((f, ts, start, seq.wrapping_sub(1)));
    }
    shuffle(&mut packets, s);
    if lose && packets.len() > 1 {
        let i = 1 + usize::from(s.u16()) % (packets.len() - 1);
        let lost = packets.remove(i).0;
        packets.retain(|pk| pk.0 != lost);
    }
    let mut d = Depacketizer::new(codec, BIG_FRAME);
    let out = deliver(&mut d, &packets);
    if !lose {
        assert_eq!(
            out.len(),
            frames.len(),
            "every frame comes out (first seq {first_seq})"
        );
        assert_eq!(d.dropped(), 0);
    }
    let mut next = 0;
    for f in &out {
        let i = (next..frames.len())
            .find(|&i| frames[i].1 == f.timestamp)
            .expect("frames come out once, in order");
        let (expect, _, start, end) = &frames[i];
        assert!(f.data == expect.expected, "frame {i} comes out intact");
        assert_eq!((f.first_seq, f.last_seq), (*start, *end));
        assert_eq!(f.keyframe, expect.keyframe, "keyframe flag of frame {i}");
        next = i + 1;
    }
    // Arbitrary bytes: if they packetize, what comes back is a normal form (4-byte start
    // codes, OBUs with sizes after a temporal delimiter) that comes back as itself.
    let len = usize::from(s.u16()) % 4000;
    let raw = s.fill(len);
    if let Some(normal) = round_trip_one(codec, &raw, max) {
        if matches!(codec, Codec::Opus | Codec::Vp8 | Codec::Vp9) {
            assert!(normal == raw);
        }
        let again = round_trip_one(codec, &normal, max).expect("normal form packetizes");
        assert!(again == normal, "normal form is stable");
    }
}

fn hostile(codec: Codec, s: &mut Script<'_>) {
    let max_frame = 16 + usize::from(s.u16()) % 8192;
    let mut d = Depacketizer::new(codec, max_frame).with_reorder_frames(usize::from(s.u8() % 4));
    let mut p = Packetizer::new(codec);
    let mut seq = s.u16();
    let mut ts = s.u32();
    let mut last: Vec<Packet> = Vec::new();
    for _ in 0..MAX_OPS {
        let Some(op) = s.byte() else { break };
        let mut batch: Vec<Packet> = Vec::new();
        match op & 7 {
            // A raw payload, a small step away, with the current or a new timestamp.
            0 | 1 => {
                seq = seq.wrapping_add(u16::from(s.u8() % 5)).wrapping_sub(1);
                if op & 0x10 != 0 {
                    ts = ts.wrapping_add(u32::from(s.u8()));
                }
                batch.push((seq, ts, op & 0x20 != 0, s.chunk().to_vec()));
            }
            // A real frame, some packets skipped.
            2 | 3 => {
                let key = op & 0x10 != 0;
                let f = make_frame(codec, s, key);
                let max = codec.min_payload() + usize::from(s.u8()) * 4;
                ts = ts.wrapping_add(3000);
                let skip = s.u8();
                last = packetize(&mut p, &f.input, max, &mut seq, ts);
                batch = last
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| skip == 0 || i % 8 != usize::from(skip % 8))
                    .map(|(_, pk)| pk.clone())
                    .collect();
            }
            // A real payload again, truncated or with a byte flipped.
            4 => {
                if !last.is_empty() {
                    let mut pk = last[usize::from(s.u8()) % last.len()].clone();
                    let at = usize::from(s.u16());
                    if op & 0x10 != 0 {
                        pk.3.truncate(at % (pk.3.len() + 1));
                    } else {
                        let i = at % pk.3.len();
                        pk.3[i] ^= 1 << (s.u8() % 8);
                    }
                    batch.push(pk);
                }
            }
            // Jump: a restart of the stream, or a packet from far away.
            5 => {
                seq = seq.wrapping_add(s.u16());
                ts = s.u32();
            }
            // Replay everything of the last frame.
            6 => batch = last.clone(),
            // A timestamp from long ago, current sequence numbers.
            _ => batch.push((
                seq,
                ts.wrapping_sub(u32::from(s.u16())),
                op & 0x20 != 0,
                s.chunk().to_vec(),
            )),
        }
        for (q, t, m, payload) in &batch {
            let _ = media::is_keyframe(codec, payload);
            let _ = d.push(*q, *t, *m, payload);
            while let Some(f) = d.pop() {
                assert!(f.data.len() <= max_frame, "frame over max_frame_size");
                let span = f.last_seq.wrapping_sub(f.first_seq);
                assert!(usize::from(span) < MAX_FRAME_PACKETS, "frame spans {span}");
            }
            assert!(d.pending_frames() <= MAX_PENDING_FRAMES);
            assert!(d.buffered_bytes() <= d.max_buffered_bytes());
        }
    }
}

/// One fuzz input.
pub fn run(data: &[u8]) {
    let mut s = Script(data);
    let mode = s.u8();
    let codec = Codec::ALL[usize::from(mode & 7) % Codec::ALL.len()];
    if mode & 0x80 != 0 {
        round_trip(codec, &mut s, mode & 0x40 != 0);
    } else {
        hostile(codec, &mut s);
    }
}
