//! The least SQLite takes, on this machine, to write one batch of code changes
//! into the store's own schema: `CHANGES` changes (default 523,506, what the
//! district declaration at 1,000,000 people records) among `PERSONS` people who
//! each already have a code (default 1,000,000). The rows are generated inside
//! SQLite by one `INSERT … SELECT` per table: no Rust runs per row, nothing is
//! derived, no digest or commitment is computed, no ledger leaf is appended. What
//! the store's writer does for a batch is this and more, so this is a floor under
//! any declaration timing that records its changes row by row.
//!
//! `cargo run --release -p mingma-bench --example write_floor -- [PERSONS] [CHANGES] [DIR]`
//! (the database is made in `DIR`, by default a temporary directory, and removed).
//! With `PER_ROW=1` the same rows are written one statement per row from Rust, as
//! the writer writes them: what a row costs beyond SQLite's own work. With `PAGES=1`
//! the changes are written as pages of 1,024 (see `pages`): the floor of a store
//! that kept a batch's changes together instead of a row each.

use std::time::Instant;

use rusqlite::Connection;

/// Each changed person's current code pointed at the new batch (`WHERE true` lets
/// SQLite parse the upsert after a `SELECT`).
const SET_STATES: &str = "INSERT INTO code_states (pid, leaf, position, code, code_leaf, next_at)
       SELECT pid, 2, position, randomblob(32), 2, 1655568220 + (pid * 7919) % 259000
       FROM changed WHERE true
       ON CONFLICT (pid) DO UPDATE SET leaf = excluded.leaf,
         position = excluded.position, code = excluded.code,
         code_leaf = excluded.code_leaf, next_at = excluded.next_at";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let persons: i64 = args.get(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let changes: i64 = args.get(2).map_or(Ok(523_506), |a| a.parse())?;
    anyhow::ensure!(
        (1..=persons).contains(&changes),
        "CHANGES must be between 1 and PERSONS"
    );
    let dir = match args.get(3) {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let path = dir.path().join("floor.sqlite");
    // The store's schema, as its migrations make it.
    drop(mingma_store_sqlite::SqliteStore::open(&path)?);
    let conn = Connection::open(&path)?;
    // The writer's settings while it writes a large batch (see `writer.rs`).
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         PRAGMA cache_size=-1048576; PRAGMA wal_autocheckpoint=0;",
    )?;
    // Every person with a code already: one earlier batch at leaf 1.
    let started = Instant::now();
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM n WHERE p < {persons})
         INSERT INTO persons (pid, key) SELECT p, randomblob(32) FROM n;
         INSERT INTO code_changes (leaf, position, pid, colour, valid_at, known_at, since,
             next_at, next_colour, reason, owners, decisive, rule_set, rule_set_version,
             reflects, salt)
           SELECT 1, pid - 1, pid, 0, 1655049600, 1655049600, NULL, NULL, NULL, NULL, '', '',
             'mingma-default', '2026.2', 1, randomblob(32) FROM persons;
         INSERT INTO code_states (pid, leaf, position, code, code_leaf)
           SELECT pid, 1, pid - 1, randomblob(32), 1 FROM persons;
         COMMIT;
         PRAGMA wal_checkpoint(TRUNCATE);"
    ))?;
    println!(
        "{persons} persons with a code each: {:.1} s (not timed below)",
        started.elapsed().as_secs_f64()
    );
    // The people whose code changes: spread over all of them, as a district's
    // visitors are over a city.
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE changed AS
           SELECT pid, row_number() OVER (ORDER BY pid) - 1 AS position FROM persons
           WHERE (pid * 2654435761) % {persons} < {changes};"
    ))?;
    let count: i64 = conn.query_row("SELECT count(*) FROM changed", [], |r| r.get(0))?;
    let step = |sql: &str| -> anyhow::Result<f64> {
        let started = Instant::now();
        conn.execute_batch(sql)?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    };
    let begin = step("BEGIN")?;
    // A red code with its reason, owner, decisive records and next change, as the
    // declaration's changes have: next changes spread over three days (at 1M, the
    // declaration's 523,506 changes have 129,338 distinct ones), each change naming
    // the person's change before it.
    let (rows, states) = if std::env::var_os("PER_ROW").is_some() {
        per_row(&conn)?
    } else if std::env::var_os("PAGES").is_some() {
        pages(&conn)?
    } else {
        let rows = step(
            "INSERT INTO code_changes (leaf, position, pid, colour, valid_at, known_at, since,
                 next_at, next_colour, reason, owners, decisive, rule_set, rule_set_version,
                 reflects, salt, previous_leaf, previous_position)
               SELECT 2, position, pid, 2, 1655222400, 1655222400, 1655222400,
                 1655568220 + (pid * 7919) % 259000, 0,
                 'high_risk_area_stay', 'hc-4101',
                 'bench-declaration,s013-' || printf('%08d', pid), 'mingma-default', '2026.2',
                 2, randomblob(32), 1, pid - 1
               FROM changed",
        )?;
        let states = step(SET_STATES)?;
        (rows, states)
    };
    let commit = step("COMMIT")?;
    let total = begin + rows + states + commit;
    println!(
        "{count} code changes among {persons} persons: {total:.0} ms \
         (change rows {rows:.0} ms, code states {states:.0} ms, \
         commit {commit:.0} ms); {:.2} µs per change",
        total * 1e3 / count.max(1) as f64
    );
    Ok(())
}

/// What a batch would cost stored as pages of changes rather than a row each
/// (`PAGES=1`; not the store's schema, a table made for the measurement): each run
/// of 1,024 changes one row holding them encoded (60 bytes a change, about what a
/// compact encoding of the declaration's changes takes, here random bytes), and the
/// code states written as above. Times the pages as "change rows".
fn pages(conn: &Connection) -> anyhow::Result<(f64, f64)> {
    conn.execute_batch(
        "CREATE TABLE change_pages (leaf INTEGER NOT NULL, page INTEGER NOT NULL,
             changes BLOB NOT NULL, PRIMARY KEY (leaf, page))",
    )?;
    let started = Instant::now();
    conn.execute_batch(
        "INSERT INTO change_pages (leaf, page, changes)
           SELECT 2, position / 1024, randomblob(60 * count(*)) FROM changed
           GROUP BY position / 1024",
    )?;
    let rows = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    conn.execute_batch(SET_STATES)?;
    Ok((rows, started.elapsed().as_secs_f64() * 1e3))
}

/// The same rows written one statement per row from Rust, as the store's writer
/// writes them (`PER_ROW=1`): the stored state looked up, the change inserted, the
/// state updated. Times the lookups and change rows as "change rows" and the state
/// updates as "code states".
fn per_row(conn: &Connection) -> anyhow::Result<(f64, f64)> {
    let changed: Vec<(i64, i64)> = conn
        .prepare("SELECT pid, position FROM changed ORDER BY pid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut rows = 0.0;
    let mut states = 0.0;
    let salt = [7u8; 32];
    let digest = [9u8; 32];
    for (pid, position) in changed {
        let started = Instant::now();
        let (leaf, at): (i64, i64) = conn
            .prepare_cached("SELECT leaf, position FROM code_states WHERE pid = ?1")?
            .query_row([pid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let next_at = 1655568220 + (pid * 7919) % 259000;
        conn.prepare_cached(
            "INSERT INTO code_changes (leaf, position, pid, colour, valid_at, known_at, since,
                 next_at, next_colour, reason, owners, decisive, rule_set, rule_set_version,
                 reflects, salt, previous_leaf, previous_position)
               VALUES (2, ?1, ?2, 2, 1655222400, 1655222400, 1655222400, ?3, 0,
                 'high_risk_area_stay', 'hc-4101', ?4, 'mingma-default', '2026.2', 2, ?5, ?6, ?7)",
        )?
        .execute(rusqlite::params![
            position,
            pid,
            next_at,
            format!("bench-declaration,s013-{pid:08}"),
            salt.as_slice(),
            leaf,
            at
        ])?;
        let middle = Instant::now();
        conn.prepare_cached(
            "INSERT INTO code_states (pid, leaf, position, code, code_leaf, next_at)
               VALUES (?1, 2, ?2, ?3, 2, ?4)
               ON CONFLICT (pid) DO UPDATE SET leaf = excluded.leaf,
                 position = excluded.position, code = excluded.code,
                 code_leaf = excluded.code_leaf, next_at = excluded.next_at",
        )?
        .execute(rusqlite::params![pid, position, digest.as_slice(), next_at])?;
        rows += (middle - started).as_secs_f64() * 1e3;
        states += middle.elapsed().as_secs_f64() * 1e3;
    }
    Ok((rows, states))
}
