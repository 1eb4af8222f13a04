//! The store contract, on SQLite: each test gets a fresh database file.

use mingma_store_sqlite::SqliteStore;

struct TempStore {
    store: SqliteStore,
    dir: std::path::PathBuf,
}

impl std::ops::Deref for TempStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fresh() -> TempStore {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mingma-sqlite-contract-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("mingma.sqlite")).expect("open");
    TempStore { store, dir }
}

mingma_store::contract_tests!(fresh());

/// The contract's clause on chunks of one reading, with at most 40 scans read ahead
/// at once: the chunks read many segments, each reaching past its chunk while it
/// holds few enough scans, and a chunk asked again or out of order reads one anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_of_one_reading_read_ahead_in_small_segments() {
    let guard = fresh();
    guard.read_ahead_scans(40);
    mingma_store::contract::chunks_of_one_reading_read_what_each_person_reads_alone(&guard.store)
        .await;
}
