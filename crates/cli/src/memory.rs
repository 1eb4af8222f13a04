//! Giving back to the kernel the memory the allocator holds but no longer uses.
//!
//! Opening an SQLite store builds the scan index: every scan is gathered into
//! temporary vectors, then each venue's and person's vector is allocated at its
//! exact size and the temporaries freed. The thread that built the index then ends,
//! and mimalloc (the binary's allocator) keeps the pages it freed resident until
//! some heap collects them, which an idle server may never do: at 1,000,000 persons
//! an opened store held about 1 GiB of freed pages (`RssAnon` 2.9 GiB for a 1.6 GiB
//! index; BENCHMARKS.md, session 10).

/// Asks the allocator to give back the pages it holds free — this thread's, and
/// those left by threads that ended: called once after a store is opened, before
/// serving.
#[allow(unsafe_code)]
pub fn release_freed_pages() {
    // SAFETY: `mi_collect` has no preconditions; it may be called from any thread at
    // any time, and only returns memory mimalloc holds unused.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's resident anonymous memory, in bytes.
    fn resident() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon");
        kib * 1024
    }

    const MIB: u64 = 1 << 20;

    /// As the scan index's open does: a thread fills many small vectors and frees
    /// them before it ends. Their pages stay resident until they are given back.
    #[test]
    fn pages_freed_by_a_finished_thread_are_given_back() {
        let before = resident();
        std::thread::spawn(|| {
            let blocks: Vec<Vec<u8>> = (0..65_536).map(|i| vec![i as u8; 4096]).collect();
            assert_eq!(blocks.len(), 65_536);
        })
        .join()
        .expect("the thread ran");
        let freed = resident();
        assert!(
            freed >= before + 192 * MIB,
            "the 256 MiB freed were given back before the call ({} MiB resident, {} before)",
            freed / MIB,
            before / MIB
        );
        release_freed_pages();
        let after = resident();
        assert!(
            after + 192 * MIB <= freed,
            "{} MiB resident after the call, {} before it",
            after / MIB,
            freed / MIB
        );
    }
}
