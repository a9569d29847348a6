//! Memory per variant: bytes allocated (a counting global allocator, installed by the
//! `harness` binary) and peak resident memory (Linux `VmHWM`, reset before each variant).
//!
//! The allocator counts what goes through Rust's allocator on every thread; memory that a
//! C library maps itself (a Vulkan driver, say) shows only in the resident-memory figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The system allocator, counting. `main.rs` installs it with `#[global_allocator]`.
pub struct Counting;

/// Bytes ever allocated (reallocations count their growth).
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// Bytes live now, and the most live at once since the last [`reset_heap_peak`].
static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

fn grew(bytes: u64) {
    ALLOCATED.fetch_add(bytes, Relaxed);
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(bytes: u64) {
    LIVE.fetch_sub(bytes, Relaxed);
}

// Safety: every method forwards to `System` with the caller's layout unchanged, so the
// allocator contract is System's; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Safety: same contract as the caller's (non-zero size layout).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Safety: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: `ptr` was allocated by `System` with `layout` (through this allocator).
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size() as u64);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Safety: `ptr`/`layout` come from this allocator; `new_size` is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let (old, new) = (layout.size() as u64, new_size as u64);
            if new > old {
                grew(new - old);
            } else {
                shrank(old - new);
            }
        }
        p
    }
}

/// Whether the counting allocator is the global one (it is in the `harness` binary; a test
/// binary that links the library without installing it reads no counts).
pub fn counting() -> bool {
    // Any program has allocated by the time it asks (arguments, formatting).
    ALLOCATED.load(Relaxed) > 0
}

/// A snapshot of the allocation counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heap {
    pub allocated: u64,
    pub live: u64,
}

pub fn heap() -> Heap {
    Heap {
        allocated: ALLOCATED.load(Relaxed),
        live: LIVE.load(Relaxed),
    }
}

/// Starts a new peak: from now, [`heap_peak`] is the most live at once.
pub fn reset_heap_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

pub fn heap_peak() -> u64 {
    PEAK.load(Relaxed)
}

/// `VmRSS` and `VmHWM` of this process in bytes (Linux), or None elsewhere.
pub fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the process's peak resident memory (`VmHWM`) to its current resident memory, by
/// writing 5 to `/proc/self/clear_refs` (Linux ≥ 4.0). Returns whether it worked, so that a
/// peak that could not be reset is reported as such rather than as this variant's.
pub fn reset_rss_peak() -> bool {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        return false;
    }
    // Check: right after a reset the peak equals the current resident size (within the
    // pages touched in between).
    matches!(rss(), Some((now, peak)) if peak <= now + (1 << 20))
}
