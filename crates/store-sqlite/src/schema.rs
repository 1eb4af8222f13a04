//! Connection settings and embedded migrations.

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use mingma_store::{Result, StoreError};

use crate::backend;

/// Migrations, in order. A migration that shipped is never edited: its checksum is
/// recorded when applied and checked at every start.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../migrations/0001_initial.sql"),
    ),
    (
        "0002_retired_ids",
        include_str!("../migrations/0002_retired_ids.sql"),
    ),
    (
        "0003_scan_indexes_in_memory",
        include_str!("../migrations/0003_scan_indexes_in_memory.sql"),
    ),
    (
        "0004_seals_and_acts",
        include_str!("../migrations/0004_seals_and_acts.sql"),
    ),
    (
        "0005_code_changes_by_person",
        include_str!("../migrations/0005_code_changes_by_person.sql"),
    ),
    (
        "0006_code_digest",
        include_str!("../migrations/0006_code_digest.sql"),
    ),
    (
        "0007_code_history_chain",
        include_str!("../migrations/0007_code_history_chain.sql"),
    ),
    (
        "0008_records_clustered_by_person",
        include_str!("../migrations/0008_records_clustered_by_person.sql"),
    ),
    (
        "0009_pending_derivations",
        include_str!("../migrations/0009_pending_derivations.sql"),
    ),
];

/// The most of the store file each connection maps into memory (1 TiB): all of it,
/// at any size the store reaches. The bundled SQLite would clamp this to 2 GiB
/// without the workspace's `LIBSQLITE3_FLAGS` (`.cargo/config.toml`); past the map,
/// every page is read with a system call into the connection's small page cache.
pub(crate) const MMAP_SIZE: i64 = 1 << 40;

/// Settings of the write connection: WAL, and `synchronous=FULL` so that a commit
/// survives power loss before it is acknowledged.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    // A small page cache (4 MiB) with memory-mapped reads: pages not in the WAL are
    // read through the map, not the cache. A large cache costs at every commit: a
    // b-tree rebalance parks a page at the lock-byte page number, and the commit then
    // truncates the cache by walking its whole hash table (pcache1TruncateUnsafe,
    // 10% of the writer's time with 256 MiB; durable appends at 10 million scans:
    // 94,262/s with 256 MiB, 99,964/s with 16 MiB, 107,210/s with 4 MiB, one session).
    // WAL checkpoints every 40 MiB instead of 4 MiB keep bulk appends from stalling
    // on checkpoints. None of this weakens durability: the WAL is synced at every
    // commit.
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         PRAGMA busy_timeout=10000;
         PRAGMA temp_store=MEMORY;",
    )
    .map_err(backend)?;
    // A log grown by one large transaction (a declaration's batch: 460 MB at
    // 1,000,000 people; migration 0007's backfill: 1.7 GB) is cut back to
    // `WAL_KEPT_BYTES` when the next write starts it over, instead of keeping its
    // largest size on disk and in the page cache.
    conn.execute_batch(&format!(
        "PRAGMA cache_size={WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};
         PRAGMA journal_size_limit={WAL_KEPT_BYTES};"
    ))
    .map_err(backend)?;
    map_whole_file(conn)
}

/// Copies into the database file what a write-ahead log left by an earlier process
/// still holds, as the store opens. A clean close checkpoints the log; a process
/// that is killed, or exits without closing, leaves it, and the next one would read
/// every page through the log's index (`walFindFrame`: 15 % of a declaration's CPU
/// at 1,000,000 people over a 490 MB log) until its first commit copied the whole
/// log inside itself. PASSIVE: readers in other processes are not waited for; a
/// later checkpoint copies what they still hold. An empty log costs nothing.
pub(crate) fn checkpoint_left_over_wal(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        .map_err(backend)
}

/// The write connection's page cache, as `PRAGMA cache_size` takes it (negative:
/// KiB): 4 MiB.
pub(crate) const WRITER_CACHE_KIB: i64 = -4096;

/// WAL pages after which a commit checkpoints (40 MiB).
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// The most of a checkpointed log kept on disk when it starts over (64 MiB: more
/// than the automatic checkpoint lets it reach between two commits).
pub(crate) const WAL_KEPT_BYTES: i64 = 64 * 1024 * 1024;

/// The write connection's page cache while it writes a large batch of code changes
/// (`writer::widen_cache_for`): up to 128 MiB, allocated only as pages are used.
pub(crate) const WIDE_CACHE_KIB: i64 = -131_072;

/// Asks for [`MMAP_SIZE`] and refuses a connection that gets less: a clamped map
/// does not fail, it only makes every read past it a system call.
fn map_whole_file(conn: &Connection) -> Result<()> {
    let granted: i64 = conn
        .query_row(&format!("PRAGMA mmap_size={MMAP_SIZE}"), [], |r| r.get(0))
        .map_err(backend)?;
    if granted < MMAP_SIZE {
        return Err(StoreError::Backend(format!(
            "SQLite maps at most {granted} bytes of the store, not {MMAP_SIZE}: built \
             without the workspace's LIBSQLITE3_FLAGS (.cargo/config.toml)"
        )));
    }
    Ok(())
}

/// Settings of a read connection.
pub(crate) fn configure_reader(conn: &Connection) -> Result<()> {
    // Memory-mapped pages: a proof's dozen b-tree lookups without a system call each.
    conn.execute_batch("PRAGMA busy_timeout=10000; PRAGMA cache_size=-32768;")
        .map_err(backend)?;
    map_whole_file(conn)
}

/// Applies the migrations not yet applied, each in its own transaction, and checks
/// that those applied before are unchanged and that none was applied by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name   TEXT PRIMARY KEY,
             sha256 BLOB NOT NULL
         )",
    )
    .map_err(backend)?;
    let applied: Vec<String> = conn
        .prepare("SELECT name FROM schema_migrations ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(backend)?;
    mingma_store::refuse_unknown_migrations(&applied, MIGRATIONS)?;
    for (name, sql) in MIGRATIONS {
        let digest = Sha256::digest(sql.as_bytes()).to_vec();
        let applied: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sha256 FROM schema_migrations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .map_err(backend)?;
        match applied {
            Some(recorded) if recorded == digest => {}
            Some(_) => {
                return Err(StoreError::Backend(format!(
                    "migration {name} differs from the one applied to this database: shipped migrations must never be edited"
                )))
            }
            None => {
                // On a large store a migration rewrites tables (0007 backfills every
                // code change: about a minute at a million people), and the store is
                // not served until it is done: the operator is told what it waits for.
                tracing::info!(migration = name, "applying a store migration");
                let started = std::time::Instant::now();
                let tx = conn.transaction().map_err(backend)?;
                tx.execute_batch(sql)
                    .map_err(|e| StoreError::Backend(format!("migration {name}: {e}")))?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, sha256) VALUES (?1, ?2)",
                    rusqlite::params![name, digest],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
                tracing::info!(
                    migration = name,
                    seconds = started.elapsed().as_secs_f64(),
                    "store migration applied"
                );
            }
        }
    }
    Ok(())
}

/// A store file of its own for a unit test, removed with its directory when dropped
/// (also when an assertion fails).
#[cfg(test)]
pub(crate) struct ScratchDb {
    dir: std::path::PathBuf,
    /// The connection, opened on the file but not configured.
    pub(crate) conn: Connection,
}

#[cfg(test)]
impl ScratchDb {
    /// A fresh directory named after `name` and this process, and a connection to a
    /// file in it.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mingma-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(dir.join("store.sqlite")).unwrap();
        Self { dir, conn }
    }
}

#[cfg(test)]
impl Drop for ScratchDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when the bundled SQLite was built without the workspace's
    /// `LIBSQLITE3_FLAGS`: it would then map 2 GiB of the store, not all of it.
    #[test]
    fn both_kinds_of_connection_map_the_whole_file() {
        let db = ScratchDb::new("mmap");
        configure(&db.conn).unwrap();
        configure_reader(&db.conn).unwrap();
        let granted: i64 = db
            .conn
            .query_row("PRAGMA mmap_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(granted, MMAP_SIZE);
    }

    /// A log left by a process that never closed its connection is copied into the
    /// file when the store opens, before anything is written.
    #[test]
    fn a_log_left_over_is_checkpointed_at_open() {
        let db = ScratchDb::new("leftover");
        let path = db.dir.join("store.sqlite");
        drop(crate::SqliteStore::open(&path).unwrap());
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let before = file_size();
        // An earlier process: 4 MiB written, no checkpoint, never closed.
        let earlier = Connection::open(&path).unwrap();
        earlier
            .execute_batch(
                "PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE filler (b BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1024)
                 INSERT INTO filler SELECT randomblob(4096) FROM n;",
            )
            .unwrap();
        std::mem::forget(earlier);
        assert_eq!(file_size(), before, "nothing copied yet");
        drop(crate::SqliteStore::open(&path).unwrap());
        assert!(
            file_size() >= before + 4 * 1024 * 1024,
            "the log was copied into the file at open: {} -> {}",
            before,
            file_size()
        );
    }

    /// A log grown past `WAL_KEPT_BYTES` by one transaction is cut back to it once
    /// checkpointed, when the next write starts it over.
    #[test]
    fn a_grown_log_is_cut_back_once_checkpointed() {
        let db = ScratchDb::new("grown");
        configure(&db.conn).unwrap();
        let log = db.dir.join("store.sqlite-wal");
        let log_size = || std::fs::metadata(&log).unwrap().len() as i64;
        db.conn
            .execute_batch(
                "CREATE TABLE filler (b BLOB);
                 BEGIN;
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO filler SELECT randomblob(3000) FROM n;
                 COMMIT;",
            )
            .unwrap();
        assert!(log_size() > WAL_KEPT_BYTES, "{}", log_size());
        db.conn
            .execute_batch("PRAGMA wal_checkpoint(PASSIVE); INSERT INTO filler VALUES (x'00');")
            .unwrap();
        assert!(log_size() <= WAL_KEPT_BYTES, "{}", log_size());
    }

    /// A database migrated by a newer build is refused, naming what it does not know;
    /// with that row gone it opens again.
    #[test]
    fn a_database_migrated_by_a_newer_build_is_refused() {
        let mut db = ScratchDb::new("newer");
        migrate(&mut db.conn).unwrap();
        migrate(&mut db.conn).unwrap();
        db.conn
            .execute_batch(
                "INSERT INTO schema_migrations (name, sha256) VALUES ('9999_from_the_future', X'00')",
            )
            .unwrap();
        let refused = migrate(&mut db.conn).unwrap_err().to_string();
        assert!(
            refused.contains("migrated by a newer build")
                && refused.contains("9999_from_the_future"),
            "{refused}"
        );
        db.conn
            .execute_batch("DELETE FROM schema_migrations WHERE name = '9999_from_the_future'")
            .unwrap();
        migrate(&mut db.conn).unwrap();
    }
}
