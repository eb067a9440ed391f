//! No allocation per message or packet in steady state (issue 8): a 16 KiB data channel
//! message A→B, and a video packet A→B forwarded back B→A (an SFU's path), with the
//! hosts recycling what they receive (`Rtc::recycle`). A counting allocator watches
//! this thread while 100 more go through after a warm-up. `benches/rtc.rs` measures the
//! same paths' speed.

#[path = "../benches/support/pair.rs"]
mod pair;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards to the system allocator; only counts (thread-locals, no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
}

fn note() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations (and reallocations) `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(|n| n.get())
}

#[test]
fn data_channel_messages_allocate_nothing() {
    let mut p = pair::Pair::connect(false);
    let msg = vec![0x5a; 16 * 1024];
    let mut got = Vec::with_capacity(pair::SPARE);
    for _ in 0..200 {
        assert_eq!(pair::one_message(&mut p, &msg, &mut got), msg.len());
    }
    let mut moved = 0;
    let n = allocations(|| {
        for _ in 0..100 {
            moved += pair::one_message(&mut p, &msg, &mut got);
        }
    });
    assert_eq!(moved, 100 * msg.len(), "every message arrived");
    assert_eq!(n, 0, "allocations for 100 messages of 16 KiB");
}

#[test]
fn forwarded_media_allocates_nothing() {
    let mut f = pair::Forward::new(1200);
    let mut round_trips = 0;
    let n = allocations(|| {
        for _ in 0..100 {
            round_trips += f.step();
        }
    });
    assert_eq!(round_trips, 100, "every packet went A→B→A");
    assert_eq!(n, 0, "allocations for 100 forwarded packets");
}
