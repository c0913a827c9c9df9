//! Giving freed memory back to the system.
//!
//! Live visits, their strings and the window's cells are freed when visits close
//! and the window drains, but glibc's `malloc` keeps freed pages in its arenas for
//! reuse: after a flood of unique values the process's RSS stayed at its peak
//! (128 MB for a 2-minute flood, from an 11 MB baseline) although every visit and
//! string was gone. An operator reads that as a leak, and a second tenant on the
//! machine cannot use the memory. So after a sweep that closed many visits,
//! `malloc_trim` returns the free pages at the top of each arena and `madvise`s
//! the free pages inside them.

/// Closed visits in one sweep from which freed memory is given back: below it the
/// freed memory is small and soon reused, and `malloc_trim` (which walks every
/// arena, about a millisecond on a large heap) is not worth it.
pub const GIVE_BACK_AFTER_VISITS: usize = 1_024;

/// Returns freed heap pages to the system (glibc only; elsewhere a no-op).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
