//! The receiving half of an association: TSN tracking, out-of-order holding, message
//! reassembly, ordered delivery per stream, SACK contents and FORWARD TSN (RFC 9260 §6,
//! RFC 3758 §3.6).
//!
//! In-order chunks (the normal case) are copied once, straight into the message being
//! assembled. Out-of-order chunks wait in buffers recycled from a pool, so a steady
//! stream of packets allocates nothing per packet.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::tsn::{le, lt, lt16};
use super::wire::chunks::DataChunk;

/// Most duplicate TSNs reported in one SACK.
const MAX_DUPS: usize = 16;
/// Most recycled buffers kept.
const POOL_MAX: usize = 256;

#[derive(Debug)]
struct Held {
    stream: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    beginning: bool,
    ending: bool,
    /// An unordered message delivered ahead of the cumulative TSN; only a placeholder.
    delivered: bool,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Assembly {
    stream: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct StreamIn {
    next_ssn: u16,
    /// Complete ordered messages waiting for earlier ones: ssn → (ppid, data).
    waiting: BTreeMap<u16, (u32, Vec<u8>)>,
}

/// How many recent incoming stream resets are remembered (see `Receiver::resets`).
const MAX_RESETS_REMEMBERED: usize = 256;

/// A message ready for the application.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) stream: u16,
    pub(crate) ppid: u32,
    pub(crate) data: Vec<u8>,
}

/// What became of a DATA chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// New, in order.
    InOrder,
    /// New, beyond a gap.
    OutOfOrder,
    /// Seen before.
    Duplicate,
    /// No room (receive buffer or out-of-order bound): dropped.
    Dropped,
    /// A message grew beyond the limit: the association must abort.
    TooBig,
}

/// The receiver.
#[derive(Debug)]
pub(crate) struct Receiver {
    /// Highest TSN received in sequence.
    pub(crate) cum_tsn: u32,
    /// Chunks beyond a gap: slot `i` holds TSN `cum_tsn + 1 + i`.
    ooo: VecDeque<Option<Held>>,
    ooo_count: usize,
    current: Option<Assembly>,
    streams: HashMap<u16, StreamIn>,
    pool: Vec<Vec<u8>>,
    /// Spare buffers to assemble messages in: the host hands delivered messages back
    /// with `Association::recycle`.
    pub(crate) msg_pool: crate::buf::BufPool,
    dups: Vec<u32>,
    /// Bytes held: out-of-order, in assembly, waiting for order.
    pub(crate) held_bytes: usize,
    /// Recent incoming stream resets (RFC 6525), oldest first: the stream and our
    /// cumulative TSN then. A FORWARD TSN whose new cumulative TSN is not beyond it was
    /// sent before the reset and speaks of the old sequence numbers. Bounded; not
    /// counted as stream state.
    resets: VecDeque<(u16, u32)>,
    /// The part of `held_bytes` in complete ordered messages waiting for earlier ones.
    wait_bytes: usize,
    buffer: usize,
    max_message: usize,
    max_ooo: usize,
    max_streams: usize,
    pub(crate) inbound_streams: u16,
    /// Messages ready, in delivery order.
    ready: VecDeque<Delivery>,
    /// Bytes in `ready`: they count against the window until taken.
    ready_bytes: usize,
    pub(crate) duplicates: u64,
    pub(crate) dropped: u64,
    /// A message came on a stream beyond `max_streams`.
    pub(crate) out_of_streams: bool,
}

impl Receiver {
    pub(crate) fn new(
        buffer: usize,
        max_message: usize,
        max_streams: usize,
        pool_bytes: usize,
    ) -> Self {
        Receiver {
            cum_tsn: 0,
            ooo: VecDeque::new(),
            ooo_count: 0,
            current: None,
            streams: HashMap::new(),
            pool: Vec::new(),
            msg_pool: crate::buf::BufPool::new(pool_bytes),
            dups: Vec::new(),
            held_bytes: 0,
            resets: VecDeque::new(),
            wait_bytes: 0,
            buffer,
            max_message,
            // A chunk carries at least one byte; more slots than that cannot be filled
            // within the window, and a generous fixed bound keeps SACK building cheap.
            max_ooo: (buffer / 256).clamp(64, 8192),
            max_streams,
            inbound_streams: u16::MAX,
            ready: VecDeque::new(),
            ready_bytes: 0,
            duplicates: 0,
            dropped: 0,
            out_of_streams: false,
        }
    }

    /// Sizes for diagnostics: (out-of-order chunks held, their slots, streams with
    /// state, messages ready, bytes ready, the out-of-order bound).
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize, usize, usize) {
        (
            self.ooo_count,
            self.ooo.len(),
            self.streams.len(),
            self.ready.len(),
            self.ready_bytes,
            self.max_ooo,
        )
    }

    /// Starts at the peer's initial TSN.
    pub(crate) fn establish(&mut self, peer_initial_tsn: u32, inbound_streams: u16) {
        self.cum_tsn = peer_initial_tsn.wrapping_sub(1);
        self.inbound_streams = inbound_streams;
    }

    /// Our advertised window: the buffer minus what we hold, delivered-but-untaken
    /// messages included, and `extra` bytes the caller still holds.
    pub(crate) fn a_rwnd(&self, extra: usize) -> u32 {
        u32::try_from(
            self.buffer
                .saturating_sub(self.held_bytes + self.ready_bytes + extra),
        )
        .unwrap_or(u32::MAX)
    }

    /// Complete messages waiting to be taken.
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// The next complete message.
    pub(crate) fn take_message(&mut self) -> Option<Delivery> {
        let d = self.ready.pop_front()?;
        self.ready_bytes = self.ready_bytes.saturating_sub(d.data.len());
        Some(d)
    }

    fn push_ready(&mut self, d: Delivery) {
        self.ready_bytes += d.data.len();
        self.ready.push_back(d);
    }

    fn buf(&mut self, data: &[u8]) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(data);
        b
    }

    fn recycle(&mut self, mut b: Vec<u8>) {
        if self.pool.len() < POOL_MAX && b.capacity() <= 64 * 1024 {
            b.clear();
            self.pool.push(b);
        }
    }

    /// Takes a DATA chunk; `extra` bytes of delivered data are still held by the caller.
    pub(crate) fn on_data(&mut self, d: &DataChunk<'_>, extra: usize) -> DataOutcome {
        if le(d.tsn, self.cum_tsn) {
            self.note_dup(d.tsn);
            return DataOutcome::Duplicate;
        }
        let off = d.tsn.wrapping_sub(self.cum_tsn.wrapping_add(1)) as usize;
        if off >= self.max_ooo {
            self.dropped += 1;
            return DataOutcome::Dropped;
        }
        if self.ooo.get(off).is_some_and(Option::is_some) {
            self.note_dup(d.tsn);
            return DataOutcome::Duplicate;
        }
        // RFC 9260 §6.2: data beyond the window is dropped. A chunk beyond a gap needs
        // room for everything held. The next expected chunk may be what drains the
        // chunks held beyond a gap or completes the message being assembled, so those
        // do not count against it (it is always taken when nothing else is held); what
        // only the host can drain (messages delivered and not yet taken) and messages
        // waiting for an earlier one do: a host that stops polling closes the window
        // for good, whatever the peer sends.
        let held = if off == 0 {
            self.wait_bytes + self.ready_bytes + extra
        } else {
            self.held_bytes + self.ready_bytes + extra
        };
        if (off > 0 || held > 0) && held + d.payload.len() > self.buffer {
            self.dropped += 1;
            return DataOutcome::Dropped;
        }
        if off == 0 && self.ooo.is_empty() {
            // The fast path: straight into the message being assembled.
            self.cum_tsn = d.tsn;
            let held = HeldRef {
                stream: d.stream,
                ssn: d.ssn,
                ppid: d.ppid,
                unordered: d.unordered,
                beginning: d.beginning,
                ending: d.ending,
                data: d.payload,
            };
            return if self.assemble(&held) {
                DataOutcome::InOrder
            } else {
                DataOutcome::TooBig
            };
        }
        let data = self.buf(d.payload);
        self.held_bytes += data.len();
        if self.ooo.len() <= off {
            self.ooo.resize_with(off + 1, || None);
        }
        if let Some(slot) = self.ooo.get_mut(off) {
            *slot = Some(Held {
                stream: d.stream,
                ssn: d.ssn,
                ppid: d.ppid,
                unordered: d.unordered,
                beginning: d.beginning,
                ending: d.ending,
                delivered: false,
                data,
            });
            self.ooo_count += 1;
        }
        if d.unordered && off > 0 {
            self.deliver_unordered_early(off);
        }
        if off == 0 {
            if self.drain_in_order() {
                DataOutcome::InOrder
            } else {
                DataOutcome::TooBig
            }
        } else {
            DataOutcome::OutOfOrder
        }
    }

    /// An unordered message complete in the out-of-order area is delivered at once
    /// (RFC 9260 §6.6: unordered messages bypass the ordering queue), leaving
    /// placeholders so its TSNs still count as received.
    fn deliver_unordered_early(&mut self, off: usize) {
        let same = |h: &Held, stream: u16| h.unordered && !h.delivered && h.stream == stream;
        let Some(Some(at)) = self.ooo.get(off) else {
            return;
        };
        let stream = at.stream;
        let mut start = off;
        loop {
            match self.ooo.get(start) {
                Some(Some(h)) if same(h, stream) => {
                    if h.beginning {
                        break;
                    }
                    if start == 0 {
                        return;
                    }
                    start -= 1;
                }
                _ => return,
            }
        }
        let mut end = off;
        loop {
            match self.ooo.get(end) {
                Some(Some(h)) if same(h, stream) => {
                    if h.ending {
                        break;
                    }
                    end += 1;
                }
                _ => return,
            }
        }
        let mut data = Vec::new();
        let mut ppid = 0;
        for i in start..=end {
            if let Some(Some(h)) = self.ooo.get_mut(i) {
                ppid = h.ppid;
                h.delivered = true;
                let chunk = core::mem::take(&mut h.data);
                self.held_bytes = self.held_bytes.saturating_sub(chunk.len());
                if data.len() + chunk.len() <= self.max_message {
                    data.extend_from_slice(&chunk);
                }
                self.recycle(chunk);
            }
        }
        self.push_ready(Delivery { stream, ppid, data });
    }

    fn note_dup(&mut self, tsn: u32) {
        self.duplicates += 1;
        if self.dups.len() < MAX_DUPS {
            self.dups.push(tsn);
        }
    }

    /// Moves the cumulative TSN over held chunks; false if a message grew too big.
    fn drain_in_order(&mut self) -> bool {
        let mut ok = true;
        while let Some(Some(_)) = self.ooo.front() {
            let Some(Some(h)) = self.ooo.pop_front() else {
                break;
            };
            self.ooo_count -= 1;
            self.held_bytes = self.held_bytes.saturating_sub(h.data.len());
            self.cum_tsn = self.cum_tsn.wrapping_add(1);
            if h.delivered {
                continue;
            }
            let r = HeldRef {
                stream: h.stream,
                ssn: h.ssn,
                ppid: h.ppid,
                unordered: h.unordered,
                beginning: h.beginning,
                ending: h.ending,
                data: &h.data,
            };
            ok &= self.assemble(&r);
            self.recycle(h.data);
        }
        ok
    }

    /// Adds a chunk (in TSN order) to the message being assembled; a complete message is
    /// delivered. Returns false if the message exceeds the size limit.
    fn assemble(&mut self, c: &HeldRef<'_>) -> bool {
        if c.beginning {
            if let Some(old) = self.current.take() {
                // Its end was abandoned by the sender (RFC 3758): forget it.
                self.held_bytes = self.held_bytes.saturating_sub(old.data.len());
            }
            if c.ending {
                if c.data.len() > self.max_message {
                    return false;
                }
                let mut data = self.msg_pool.take(c.data.len());
                data.extend_from_slice(c.data);
                self.complete(c.stream, c.ssn, c.ppid, c.unordered, data);
                return true;
            }
            let mut data = self.msg_pool.take((c.data.len() * 4).min(self.max_message));
            data.extend_from_slice(c.data);
            self.held_bytes += data.len();
            self.current = Some(Assembly {
                stream: c.stream,
                ssn: c.ssn,
                ppid: c.ppid,
                unordered: c.unordered,
                data,
            });
            return true;
        }
        let Some(cur) = self.current.as_mut() else {
            // A middle or end whose beginning was abandoned: drop it.
            return true;
        };
        if cur.stream != c.stream
            || cur.unordered != c.unordered
            || (!c.unordered && cur.ssn != c.ssn)
        {
            let old = self.current.take();
            self.held_bytes = self
                .held_bytes
                .saturating_sub(old.map_or(0, |o| o.data.len()));
            return true;
        }
        if cur.data.len() + c.data.len() > self.max_message {
            return false;
        }
        cur.data.extend_from_slice(c.data);
        self.held_bytes += c.data.len();
        if c.ending
            && let Some(done) = self.current.take()
        {
            self.held_bytes = self.held_bytes.saturating_sub(done.data.len());
            self.complete(done.stream, done.ssn, done.ppid, done.unordered, done.data);
        }
        true
    }

    fn complete(&mut self, stream: u16, ssn: u16, ppid: u32, unordered: bool, data: Vec<u8>) {
        if unordered {
            self.push_ready(Delivery { stream, ppid, data });
            return;
        }
        if !self.streams.contains_key(&stream) && self.streams.len() >= self.max_streams {
            // More streams than we keep state for: the message cannot be ordered, and
            // dropping an acknowledged message is no option; the association ends.
            self.out_of_streams = true;
            return;
        }
        let s = self.streams.entry(stream).or_default();
        if ssn == s.next_ssn {
            s.next_ssn = ssn.wrapping_add(1);
            self.push_ready(Delivery { stream, ppid, data });
            self.release_waiting(stream);
        } else if lt16(s.next_ssn, ssn) {
            self.held_bytes += data.len();
            self.wait_bytes += data.len();
            s.waiting.insert(ssn, (ppid, data));
        }
        // An SSN behind the expected one is a stale duplicate: dropped.
    }

    fn release_waiting(&mut self, stream: u16) {
        loop {
            let Some(s) = self.streams.get_mut(&stream) else {
                return;
            };
            let Some((ppid, data)) = s.waiting.remove(&s.next_ssn) else {
                return;
            };
            s.next_ssn = s.next_ssn.wrapping_add(1);
            self.held_bytes = self.held_bytes.saturating_sub(data.len());
            self.wait_bytes = self.wait_bytes.saturating_sub(data.len());
            self.push_ready(Delivery { stream, ppid, data });
        }
    }

    /// Applies a FORWARD TSN (RFC 3758 §3.6): skips to `new_cum`, discarding what is held
    /// up to it, and moves ordered streams past their abandoned messages.
    pub(crate) fn on_forward_tsn(
        &mut self,
        new_cum: u32,
        streams: impl Iterator<Item = (u16, u16)>,
    ) {
        // The message being assembled ends at `cum_tsn`: if that is covered, its end was
        // abandoned. (Its fragments may all have arrived already, so the new point need
        // not be beyond `cum_tsn` for this; the stream skips below count regardless.)
        if le(self.cum_tsn, new_cum)
            && let Some(old) = self.current.take()
        {
            self.held_bytes = self.held_bytes.saturating_sub(old.data.len());
        }
        if lt(self.cum_tsn, new_cum) {
            let skip = new_cum.wrapping_sub(self.cum_tsn) as usize;
            for _ in 0..skip.min(self.ooo.len()) {
                if let Some(Some(h)) = self.ooo.pop_front() {
                    self.ooo_count -= 1;
                    self.held_bytes = self.held_bytes.saturating_sub(h.data.len());
                    self.recycle(h.data);
                }
            }
            self.cum_tsn = new_cum;
        }
        for (stream, ssn) in streams {
            if !self.streams.contains_key(&stream) && self.streams.len() >= self.max_streams {
                continue;
            }
            let before_reset = self
                .resets
                .iter()
                .any(|&(s, r)| s == stream && le(new_cum, r));
            if before_reset {
                continue;
            }
            let s = self.streams.entry(stream).or_default();
            if lt16(ssn, s.next_ssn) {
                continue;
            }
            // RFC 3758 §3.6: the sender gave up on this stream's messages up to `ssn`.
            // Those of them that did arrive whole (waiting for an earlier, abandoned
            // one) are delivered, in order: the sender counts them as acknowledged, so
            // dropping them would lose reliably sent data. Then the sequence moves past
            // `ssn` and what waits beyond follows. (SSNs compare in serial arithmetic.)
            let next = s.next_ssn;
            let mut done: Vec<u16> = s
                .waiting
                .keys()
                .copied()
                .filter(|&k| !lt16(ssn, k) && !lt16(k, next))
                .collect();
            done.sort_by_key(|&k| k.wrapping_sub(next));
            for k in done {
                let Some((ppid, data)) = self
                    .streams
                    .get_mut(&stream)
                    .and_then(|s| s.waiting.remove(&k))
                else {
                    continue;
                };
                self.held_bytes = self.held_bytes.saturating_sub(data.len());
                self.wait_bytes = self.wait_bytes.saturating_sub(data.len());
                self.push_ready(Delivery { stream, ppid, data });
            }
            if let Some(s) = self.streams.get_mut(&stream) {
                s.next_ssn = ssn.wrapping_add(1);
            }
            self.release_waiting(stream);
        }
        self.drain_in_order();
    }

    /// The peer reset its outgoing stream: our incoming sequence starts over.
    ///
    /// The reset is performed only once every TSN up to the request's last one has
    /// arrived or been skipped (RFC 6525 §5.2.2), so a whole message still waiting here
    /// waits for sequence numbers that were abandoned and will never come: it is
    /// delivered now, in order (the sender counts it as acknowledged). This is also why
    /// the sender need not name the old sequence in a FORWARD TSN once it asked for the
    /// reset (`Sender::reset_requested`).
    pub(crate) fn reset_stream(&mut self, stream: u16) {
        if let Some(s) = self.streams.remove(&stream) {
            let next = s.next_ssn;
            let mut waiting: Vec<(u16, (u32, Vec<u8>))> = s.waiting.into_iter().collect();
            waiting.sort_by_key(|&(k, _)| k.wrapping_sub(next));
            for (_, (ppid, data)) in waiting {
                self.held_bytes = self.held_bytes.saturating_sub(data.len());
                self.wait_bytes = self.wait_bytes.saturating_sub(data.len());
                self.push_ready(Delivery { stream, ppid, data });
            }
        }
        // The sequence starts over at 0; remember where, so that a late FORWARD TSN
        // from before the reset cannot move the new sequence (found by fuzzing: a
        // duplicated FORWARD TSN made every later message look stale). Such a FORWARD
        // TSN was made before the sender asked for the reset, so it reaches no further
        // than the request's last TSN, which `cum_tsn` has passed.
        self.resets.retain(|(s, _)| *s != stream);
        if self.resets.len() >= MAX_RESETS_REMEMBERED {
            self.resets.pop_front();
        }
        self.resets.push_back((stream, self.cum_tsn));
    }

    /// Gap Ack Blocks (offsets from `cum_tsn`), at most `max`.
    pub(crate) fn gap_blocks(&self, max: usize) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        if self.ooo_count == 0 {
            return out;
        }
        let mut start: Option<usize> = None;
        for (i, slot) in self.ooo.iter().enumerate() {
            match (slot.is_some(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push(((s + 1) as u16, i as u16));
                    start = None;
                    if out.len() >= max {
                        return out;
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = start
            && out.len() < max
        {
            out.push(((s + 1) as u16, self.ooo.len() as u16));
        }
        out
    }

    /// Duplicate TSNs since the last SACK (taken).
    pub(crate) fn take_dups(&mut self) -> Vec<u32> {
        core::mem::take(&mut self.dups)
    }

    /// Whether there is a gap (out-of-order data held).
    pub(crate) fn has_gaps(&self) -> bool {
        self.ooo_count > 0
    }

    /// Whether TSN `t` has been received (in sequence).
    pub(crate) fn received_through(&self, t: u32) -> bool {
        le(t, self.cum_tsn)
    }
}

struct HeldRef<'a> {
    stream: u16,
    ssn: u16,
    ppid: u32,
    unordered: bool,
    beginning: bool,
    ending: bool,
    data: &'a [u8],
}
