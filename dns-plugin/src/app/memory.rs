//! Gives freed memory back to the system after the clusterset shrinks.
//!
//! glibc's allocator keeps what a program frees for its next allocations, in arenas per thread;
//! after a reload from 20,000 services to 7 the process stayed at 1 GB of RSS. `malloc_trim`
//! returns the free pages. It walks the heap, so it runs only when the clusterset shrank, not
//! every tick.

/// Returns free heap pages to the system (glibc only; elsewhere the allocator decides).
#[allow(unsafe_code)]
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's free memory; it takes no
    // pointers and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
