//! What is measured and how: thread CPU time, wall time, a counting global allocator
//! (Rust heap), glibc's `mallinfo2` (every malloc, Rust and C alike: aws-lc allocates
//! with plain `malloc`) and the resident set from `/proc/self/statm`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting live bytes and allocations of this thread. Every
/// workload runs on the main thread; a thread-local counter costs a few cycles per
/// allocation where an atomic would cost a locked instruction, so the stack that
/// allocates more is not penalised more than the allocations themselves cost.
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note(delta: isize, allocs: u64) {
    // `try_with`: a thread being torn down has no counters left; nothing to count.
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
    if allocs > 0 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + allocs));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize, 1);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize, 1);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize), 0);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize, 1);
        }
        p
    }
}

/// Live Rust heap bytes of this thread.
pub fn rust_heap() -> isize {
    LIVE.with(|l| l.get())
}

/// Rust allocations (and reallocations) made by this thread so far.
pub fn rust_allocs() -> u64 {
    ALLOCS.with(|a| a.get())
}

/// Bytes in use in malloc (all arenas, plus mmapped chunks): Rust and C allocations,
/// with malloc's own per-chunk overhead.
pub fn malloc_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
}

/// Gives free heap pages back to the system, so a resident-set delta measures what
/// is allocated after this point rather than pages freed by an earlier workload.
pub fn trim() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
}

/// Resident set size in bytes (`/proc/self/statm`), or 0 where unavailable.
pub fn rss() -> usize {
    let page = {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 { p as usize } else { 4096 }
    };
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * page)
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall time, CPU time and Rust allocations over a region.
pub struct Span {
    wall: std::time::Instant,
    cpu: u64,
    allocs: u64,
}

/// What a [`Span`] measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub allocs: u64,
}

impl Span {
    // The harness measures wall time; the library never reads the clock.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> Span {
        Span {
            allocs: rust_allocs(),
            cpu: thread_cpu_ns(),
            wall: std::time::Instant::now(),
        }
    }
    pub fn stop(&self) -> Spent {
        let wall_s = self.wall.elapsed().as_secs_f64();
        let cpu_s = (thread_cpu_ns() - self.cpu) as f64 / 1e9;
        Spent {
            wall_s,
            cpu_s,
            allocs: rust_allocs() - self.allocs,
        }
    }
}

/// Memory in use now, by the three measures.
#[derive(Debug, Clone, Copy)]
pub struct Mem {
    pub rust: isize,
    pub malloc: usize,
    pub rss: usize,
}

impl Mem {
    pub fn now() -> Mem {
        Mem {
            rust: rust_heap(),
            malloc: malloc_in_use(),
            rss: rss(),
        }
    }
}
