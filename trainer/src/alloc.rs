//! glibc allocator settings for training.
//!
//! Flex allocates and frees tensors of a few MB on every step. With glibc's defaults those go
//! through `mmap`/`munmap` (or get trimmed back to the OS), so every step pays fresh page faults:
//! measured on Resume stage 1, keeping them in the heap is ≈ 15 % faster (docs/BENCHMARKS.md).
//! The `MALLOC_*_` environment variables still win: when any is set, nothing is changed.

/// Applies the settings once at start-up (Linux with glibc; elsewhere a no-op).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::vars_os().any(|(k, _)| {
            let k = k.to_string_lossy();
            k.starts_with("MALLOC_") && k.ends_with('_')
        });
        if user_set {
            return;
        }
        // SAFETY: mallopt only adjusts allocator parameters; called before any threads start.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TOP_PAD, 256 << 20);
        }
    }
}
