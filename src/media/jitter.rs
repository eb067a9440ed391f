//! The depacketizer: a bounded reorder buffer of frames, keyed by RTP timestamp and
//! ordered by sequence number.
//!
//! Sequence numbers are extended to 64 bits on arrival (RFC 3550 §A.1), so wrap-around
//! never reorders anything; timestamps are only compared for equality, so their
//! wrap-around does not matter either. Frames occupy disjoint runs of sequence numbers;
//! they come out in sequence order, which is decoding order (RFC 6184 §5.5: the
//! non-interleaved mode sends NAL units in decoding order; the other formats send frames
//! in order too), and the same as timestamp order when timestamps only grow.

use std::collections::VecDeque;

use super::{Codec, Frame, MediaError, PacketInfo, assemble, inspect};

/// The most frames a [`Depacketizer`] holds at once.
pub const MAX_PENDING_FRAMES: usize = 64;
/// The most sequence numbers one frame may span.
pub const MAX_FRAME_PACKETS: usize = 8192;
/// How many newer complete frames make a [`Depacketizer`] give up on an older incomplete
/// one, unless set with [`Depacketizer::with_reorder_frames`].
pub const DEFAULT_REORDER_FRAMES: usize = 3;

/// A packet this far (or more) behind the last one given out means the stream restarted,
/// not that the packet is late.
const RESET_DISTANCE: i64 = 2 * MAX_FRAME_PACKETS as i64;
/// The bookkeeping of one packet, charged against the byte budget with its payload.
const PACKET_OVERHEAD: usize = size_of::<Packet>();
/// The byte budget is this many maximal frames...
const BUDGET_FRAMES: usize = 8;
/// ...plus the bookkeeping of this many packets.
const BUDGET_PACKETS: usize = 4096;
/// How many timestamps of dropped frames are remembered, to ignore their late packets.
const RECENT_DROPS: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Packet {
    /// Extended sequence number.
    seq: i64,
    /// Where its payload is in the frame's `data`.
    start: usize,
    len: usize,
    marker: bool,
    info: PacketInfo,
}

/// One frame being gathered.
#[derive(Debug, Default)]
struct Slot {
    timestamp: u32,
    /// The lowest and highest extended sequence numbers received for it.
    min: i64,
    max: i64,
    /// Its packets, in sequence order, without duplicates.
    packets: Vec<Packet>,
    /// Their payloads, in arrival order.
    data: Vec<u8>,
}

impl Slot {
    fn charge(&self) -> usize {
        self.data.len() + self.packets.len() * PACKET_OVERHEAD
    }

    fn payload(&self, p: &Packet) -> &[u8] {
        self.data.get(p.start..p.start + p.len).unwrap_or_default()
    }
}

/// Reassembles frames from RTP payloads that may arrive out of order, duplicated or with
/// losses.
///
/// Feed every packet of one RTP stream (one SSRC) to [`push`](Self::push), then call
/// [`pop`](Self::pop) until it returns `None`. Frames come out in sequence order, each
/// complete: its packets run without a gap from one that starts a frame to one that ends
/// it. A frame starts at a packet whose payload header says so (VP8 S=1 with PID 0, VP9
/// B=1, every Opus packet, an H.264 access unit delimiter or SPS, the AV1 N bit), or at a
/// packet that can start a frame (an H.264 NAL unit or FU-A start, an AV1 packet with
/// Z=0) right after a packet of another frame. It ends at the marker bit, or right before
/// a packet of another frame.
///
/// A frame never comes out with a packet missing. When a gap does not fill (a packet is
/// lost, not late), the buffer waits until [`DEFAULT_REORDER_FRAMES`] newer frames are
/// complete, then drops the incomplete frame (counted in [`dropped`](Self::dropped)) and
/// moves on ([`flush`](Self::flush) gives up at once, for the end of a stream or a host
/// timer); late packets of frames already given out or dropped are ignored. After a
/// loss, H.264 and AV1 frames whose start cannot be proven are dropped until one starts
/// with an access unit delimiter or SPS (H.264) or the N bit (AV1), usually the next key
/// frame.
///
/// Memory is bounded: at most [`MAX_PENDING_FRAMES`] frames, each at most
/// `max_frame_size` bytes of payload spanning at most [`MAX_FRAME_PACKETS`] sequence
/// numbers, and about eight times `max_frame_size` bytes in all (see
/// [`max_buffered_bytes`](Self::max_buffered_bytes)). When a bound is hit the oldest
/// frames are dropped first.
#[derive(Debug)]
pub struct Depacketizer {
    codec: Codec,
    max_frame_size: usize,
    budget: usize,
    reorder_frames: usize,
    /// Pending frames, sorted by sequence number (their ranges are disjoint).
    frames: VecDeque<Slot>,
    /// Emptied slots kept for their buffers.
    spare: Vec<Slot>,
    /// Bytes charged by all pending frames.
    held: usize,
    /// The highest extended sequence number seen, the reference for extending others.
    highest: Option<i64>,
    /// The last packet of the last frame given out or dropped at the front: it was
    /// received, and every packet up to it is late.
    last_end: Option<i64>,
    recent_drops: [Option<u32>; RECENT_DROPS],
    next_drop: usize,
    dropped: u64,
    /// The AV1 fragment being reassembled.
    scratch: Vec<u8>,
}

impl Depacketizer {
    /// A depacketizer for `codec` that gives out frames of at most `max_frame_size`
    /// bytes (this also bounds the RTP payload bytes held for one frame).
    pub fn new(codec: Codec, max_frame_size: usize) -> Self {
        Depacketizer {
            codec,
            max_frame_size,
            budget: max_frame_size
                .saturating_mul(BUDGET_FRAMES)
                .saturating_add(BUDGET_PACKETS * PACKET_OVERHEAD),
            reorder_frames: DEFAULT_REORDER_FRAMES,
            frames: VecDeque::new(),
            spare: Vec::new(),
            held: 0,
            highest: None,
            last_end: None,
            recent_drops: [None; RECENT_DROPS],
            next_drop: 0,
            dropped: 0,
            scratch: Vec::new(),
        }
    }

    /// Sets how many newer complete frames make the buffer give up on an older
    /// incomplete one (at least 1): more tolerates more reordering, fewer adds less delay
    /// after a loss. With 1, a frame comes out as soon as it is complete and everything
    /// before it that is still missing is given up (late packets are then ignored), which
    /// suits audio with loss concealment.
    pub fn with_reorder_frames(mut self, frames: usize) -> Self {
        self.reorder_frames = frames.max(1);
        self
    }

    /// The codec this depacketizer was made for.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Frames that could not be completed and were dropped: a gap that did not fill in
    /// time, a frame over `max_frame_size`, payloads that did not fit together, or frames
    /// pushed out by the buffer's bounds.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many frames are pending (incomplete, or complete and not popped yet).
    pub fn pending_frames(&self) -> usize {
        self.frames.len()
    }

    /// The bytes held: payloads plus per-packet bookkeeping.
    pub fn buffered_bytes(&self) -> usize {
        self.held
    }

    /// The most [`buffered_bytes`](Self::buffered_bytes) can reach.
    pub fn max_buffered_bytes(&self) -> usize {
        self.budget
    }

    /// Takes one RTP packet's payload (after the RTP header, extensions and padding) with
    /// its header fields. Complete frames are then ready for [`pop`](Self::pop).
    ///
    /// An error says why the packet was not used (malformed, or over a bound); the
    /// depacketizer stays usable. Duplicates and late packets are ignored without error.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), MediaError> {
        let info = inspect(self.codec, payload)?;
        let seq = self.extend(seq);
        if let Some(end) = self.last_end
            && seq <= end
        {
            if end - seq < RESET_DISTANCE {
                return Ok(()); // late, or a duplicate of a packet given out
            }
            self.reset(seq);
        }
        if self.recent_drops.contains(&Some(timestamp)) {
            // A late packet of a frame already dropped.
            self.absorb(seq);
            return Ok(());
        }
        let charge = payload.len() + PACKET_OVERHEAD;
        let index = match self.frames.iter().rposition(|f| f.timestamp == timestamp) {
            Some(i) => {
                let Some(f) = self.frames.get(i) else {
                    return Err(MediaError::BufferFull);
                };
                if f.packets.binary_search_by_key(&seq, |p| p.seq).is_ok() {
                    return Ok(()); // duplicate
                }
                if info.starts_frame && info.ends_frame {
                    // Opus: a frame is one packet; a second one with its timestamp is bogus.
                    return Err(MediaError::InvalidPayload(
                        "two packets of a one-packet frame",
                    ));
                }
                self.check_range(i, f.min.min(seq), f.max.max(seq), false)?;
                let size = f.data.len() + payload.len();
                if size > self.max_frame_size {
                    self.drop_at(i);
                    self.absorb(seq);
                    return Err(MediaError::FrameTooLarge {
                        size,
                        max: self.max_frame_size,
                    });
                }
                self.make_room(charge, Some(timestamp))?;
                self.frames
                    .iter()
                    .rposition(|f| f.timestamp == timestamp)
                    .ok_or(MediaError::BufferFull)?
            }
            None => {
                let at = self.frames.partition_point(|f| f.min < seq);
                self.check_range(at, seq, seq, true)?;
                if payload.len() > self.max_frame_size {
                    self.dropped += 1;
                    self.remember_drop(timestamp);
                    self.absorb(seq);
                    return Err(MediaError::FrameTooLarge {
                        size: payload.len(),
                        max: self.max_frame_size,
                    });
                }
                if self.frames.len() >= MAX_PENDING_FRAMES {
                    self.drop_at(0);
                }
                self.make_room(charge, None)?;
                if self.last_end.is_some_and(|end| seq <= end) {
                    return Err(MediaError::BufferFull); // older than what had to go
                }
                let at = self.frames.partition_point(|f| f.min < seq);
                let mut slot = self.spare.pop().unwrap_or_default();
                slot.timestamp = timestamp;
                slot.min = seq;
                slot.max = seq;
                self.frames.insert(at, slot);
                at
            }
        };
        let Some(f) = self.frames.get_mut(index) else {
            return Err(MediaError::BufferFull);
        };
        let start = f.data.len();
        f.data.extend_from_slice(payload);
        let at = f.packets.partition_point(|p| p.seq < seq);
        f.packets.insert(
            at,
            Packet {
                seq,
                start,
                len: payload.len(),
                marker,
                info,
            },
        );
        f.min = f.min.min(seq);
        f.max = f.max.max(seq);
        self.held += charge;
        Ok(())
    }

    /// The next complete frame, in sequence order, if it is ready.
    pub fn pop(&mut self) -> Option<Frame> {
        self.next(false)
    }

    /// Like [`pop`](Self::pop), without waiting for gaps to fill: incomplete frames ahead
    /// of a complete one are dropped, and a complete frame after packets never seen comes
    /// out at once. Incomplete frames with no complete one behind them stay. Call it until
    /// it returns `None` at the end of a stream, or when the host decides (say, on a
    /// timer) that a gap will not fill.
    pub fn flush(&mut self) -> Option<Frame> {
        self.next(true)
    }

    fn next(&mut self, now: bool) -> Option<Frame> {
        let wait = if now { 1 } else { self.reorder_frames };
        loop {
            let front = self.frames.front()?;
            let (min, max) = (front.min, front.max);
            if self.complete(0) {
                // A complete frame after packets never seen waits for them a while.
                let gap = self.last_end.is_some_and(|end| end + 1 != min);
                if gap && !now && self.count_complete(0, wait) < wait {
                    return None;
                }
                let slot = self.frames.pop_front()?;
                self.last_end = Some(max);
                let frame = self.build(&slot);
                let timestamp = slot.timestamp;
                self.recycle(slot);
                match frame {
                    Ok(frame) => return Some(frame),
                    Err(_) => {
                        self.dropped += 1;
                        self.remember_drop(timestamp);
                    }
                }
            } else {
                if self.count_complete(1, wait) < wait {
                    return None;
                }
                self.drop_at(0);
            }
        }
    }

    /// Extends a sequence number to 64 bits, nearest to the highest seen (RFC 3550 §A.1).
    fn extend(&mut self, seq: u16) -> i64 {
        let ext = match self.highest {
            None => i64::from(seq),
            Some(h) => h + i64::from(seq.wrapping_sub(h as u16) as i16),
        };
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        ext
    }

    /// The stream restarted (a big jump back): forget everything pending.
    fn reset(&mut self, seq: i64) {
        while let Some(slot) = self.frames.pop_front() {
            self.dropped += 1;
            self.recycle(slot);
        }
        self.last_end = None;
        self.highest = Some(seq);
        self.recent_drops = [None; RECENT_DROPS];
    }

    /// Whether the frame at `index` (for a new frame: one that would be inserted there)
    /// may take the range `min..=max`: not too long, and not overlapping its neighbours
    /// (frames are disjoint runs of sequence numbers).
    fn check_range(&self, index: usize, min: i64, max: i64, new: bool) -> Result<(), MediaError> {
        if max - min >= MAX_FRAME_PACKETS as i64 {
            return Err(MediaError::InvalidPayload("frame spans too many packets"));
        }
        let before = index.checked_sub(1).and_then(|i| self.frames.get(i));
        let after = self.frames.get(if new { index } else { index + 1 });
        if before.is_some_and(|b| b.max >= min) || after.is_some_and(|a| a.min <= max) {
            return Err(MediaError::InvalidPayload(
                "sequence number inside another frame",
            ));
        }
        Ok(())
    }

    /// Drops the oldest frames (other than the one with `keep`) until `need` more bytes
    /// fit the budget.
    fn make_room(&mut self, need: usize, keep: Option<u32>) -> Result<(), MediaError> {
        while self.held.saturating_add(need) > self.budget {
            let victim = self
                .frames
                .iter()
                .position(|f| Some(f.timestamp) != keep)
                .ok_or(MediaError::BufferFull)?;
            self.drop_at(victim);
        }
        Ok(())
    }

    /// Drops the frame at `index`, counting it.
    fn drop_at(&mut self, index: usize) {
        let Some(slot) = self.frames.remove(index) else {
            return;
        };
        if index == 0 {
            self.last_end = Some(self.last_end.map_or(slot.max, |end| end.max(slot.max)));
        }
        self.dropped += 1;
        self.remember_drop(slot.timestamp);
        self.recycle(slot);
    }

    /// A packet of a dropped frame right after the last one given out or dropped moves
    /// that end on: it is known not to belong to the next frame.
    fn absorb(&mut self, seq: i64) {
        if self.last_end.is_some_and(|end| end + 1 == seq) {
            self.last_end = Some(seq);
        }
    }

    fn remember_drop(&mut self, timestamp: u32) {
        if let Some(entry) = self.recent_drops.get_mut(self.next_drop) {
            *entry = Some(timestamp);
        }
        self.next_drop = (self.next_drop + 1) % RECENT_DROPS;
    }

    /// Returns a slot's bytes to the budget and keeps its buffers (trimmed, so idle slots
    /// hold no more than their share of the budget).
    fn recycle(&mut self, mut slot: Slot) {
        self.held = self.held.saturating_sub(slot.charge());
        slot.data.clear();
        slot.packets.clear();
        slot.data.shrink_to(self.budget / MAX_PENDING_FRAMES);
        slot.packets.shrink_to(256);
        if self.spare.len() < MAX_PENDING_FRAMES {
            self.spare.push(slot);
        }
    }

    /// Whether the frame at `index` is complete: its packets run without a gap from a
    /// proven start to a proven end.
    fn complete(&self, index: usize) -> bool {
        let Some(f) = self.frames.get(index) else {
            return false;
        };
        let (Some(first), Some(last)) = (f.packets.first(), f.packets.last()) else {
            return false;
        };
        if f.packets.len() as i64 != f.max - f.min + 1 || !first.info.may_start {
            return false;
        }
        // The packet before it belongs to another frame: the frame before it, or (at the
        // front) the last one given out or dropped.
        let after_other = match index.checked_sub(1) {
            Some(i) => self.frames.get(i).is_some_and(|b| b.max + 1 == f.min),
            None => self.last_end.is_some_and(|end| end + 1 == f.min),
        };
        let before_other = self
            .frames
            .get(index + 1)
            .is_some_and(|a| a.min == f.max + 1);
        (first.info.starts_frame || after_other)
            && (last.marker || last.info.ends_frame || before_other)
    }

    /// How many frames from `index` on are complete (counting stops at `bound`).
    fn count_complete(&self, index: usize, bound: usize) -> usize {
        let mut n = 0;
        for i in index..self.frames.len() {
            if n >= bound {
                break;
            }
            if self.complete(i) {
                n += 1;
            }
        }
        n
    }

    fn build(&mut self, slot: &Slot) -> Result<Frame, MediaError> {
        // Room for what the formats add back: start codes, OBU sizes, a delimiter.
        let estimate = slot.data.len() + 6 * slot.packets.len() + 2;
        let mut data = Vec::with_capacity(estimate.min(self.max_frame_size));
        let keyframe = assemble(
            self.codec,
            slot.packets.iter().map(|p| slot.payload(p)),
            &mut data,
            self.max_frame_size,
            &mut self.scratch,
        )?;
        Ok(Frame {
            data,
            timestamp: slot.timestamp,
            keyframe,
            first_seq: slot.min as u16,
            last_seq: slot.max as u16,
        })
    }
}
