//! `ledger verify` against a SQLite store altered behind Mingma's back, through raw
//! SQL on its file (the shared suite, `mingma_store::contract::tamper`).

use mingma_store::contract::tamper::{hex, Tamper};
use mingma_store_sqlite::SqliteStore;
use rusqlite::Connection;

struct Target {
    store: SqliteStore,
    dir: std::path::PathBuf,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Tamper for Target {
    type Store = SqliteStore;

    fn store(&self) -> &SqliteStore {
        &self.store
    }

    async fn tamper(&self, sql: &str) {
        let conn = Connection::open(self.store.path()).expect("open behind the store's back");
        conn.execute_batch(sql).expect("tamper");
    }

    fn blob(&self, bytes: &[u8]) -> String {
        format!("X'{}'", hex(bytes))
    }
}

fn fresh() -> Target {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mingma-sqlite-tamper-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("mingma.sqlite")).expect("open");
    Target { store, dir }
}

mingma_store::tamper_tests!(fresh());
