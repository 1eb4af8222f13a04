//! Durable ledger appends per second on the SQLite store, inclusion-proof time at the
//! resulting size, and the time to open the resulting database (which rebuilds the
//! in-memory scan indexes). A measurement, not a test:
//!
//! ```text
//! cargo run --release -p mingma-store-sqlite --example ledger_bench -- [LEAVES] [BATCH] [WRITERS]
//! ```
//!
//! Defaults: 10,000,000 leaves, batches of 1,000 records per `append` call, 4
//! concurrent writers. Each record is a venue scan (the most frequent evidence);
//! each becomes one ledger leaf, written durably (WAL, synchronous=FULL) with its
//! row, in the same transaction.
//!
//! After the appends the example runs itself again (`--open DB`) on the database it
//! wrote, so that the open time, the resident memory the open adds and the scan
//! queries are measured in a fresh process. With `MINGMA_BENCH_KEEP` set, the
//! database is kept, and `ledger_bench --open DB SCANS` measures it again.

use std::time::{Duration, Instant};

use mingma_core::{Jurisdiction, VenueId};
use mingma_store::contract::bench::{append_scans, percentile, time_proofs, Picks, PEOPLE, VENUES};
use mingma_store::contract::{person, t};
use mingma_store::Store;
use mingma_store_sqlite::{SqliteStore, DURABILITY};

/// A field of this process's `/proc/self/status` in bytes (Linux), or 0:
/// `VmRSS` (resident), `RssAnon` (resident and anonymous: heap, the scan index,
/// SQLite's page caches) or `RssFile` (resident pages of mapped files: the
/// memory-mapped database).
fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn resident() -> u64 {
    status("VmRSS")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--open") {
        let db = args.get(1).expect("--open DB");
        let scans: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
        open_and_query(db, scans).await;
        return;
    }
    let args: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let leaves = args.first().copied().unwrap_or(10_000_000);
    let batch = args.get(1).copied().unwrap_or(1_000).max(1);
    let writers = args.get(2).copied().unwrap_or(4).max(1);
    let dir = std::env::temp_dir().join(format!("mingma-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("bench.sqlite");
    let store = SqliteStore::open(&db).expect("open");
    println!(
        "store: SQLite ({DURABILITY}), file {}",
        store.path().display()
    );
    println!("appending {leaves} scans: {writers} writers, {batch} records per append call");

    let appended = append_scans(std::slice::from_ref(&store), leaves, batch, writers).await;
    let size = time_proofs(&store).await;
    let bytes = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "database file: {:.1} MiB ({:.0} bytes per leaf)",
        mib(bytes),
        bytes as f64 / size as f64
    );
    let index = store.scan_index_stats();
    println!(
        "resident memory of this process after the appends: {:.0} MiB (the scan index: {:.1} MiB allocated, {:.1} bytes per scan)",
        mib(resident()),
        mib(index.bytes),
        index.bytes as f64 / index.scans.max(1) as f64,
    );
    drop(store);

    // Open the database again in a fresh process: the time to open (and rebuild the
    // scan indexes), and the scan queries.
    match std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--open")
        .arg(&db)
        .arg(appended.to_string())
        .status()
    {
        Ok(status) if status.success() => {}
        other => eprintln!("the reopening run failed: {other:?}"),
    }
    if std::env::var_os("MINGMA_BENCH_KEEP").is_some() {
        println!("kept {}", db.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Opens `db` (holding `scans` scans written by the run above), reports the open
/// time and the resident memory it added, then times the scan queries.
async fn open_and_query(db: &str, scans: u64) {
    let (before, anon_before) = (resident(), status("RssAnon"));
    let started = Instant::now();
    let store = SqliteStore::open(db).expect("reopen");
    let opened = started.elapsed();
    let (after, anon_after) = (resident(), status("RssAnon"));
    let grew = |a: u64, b: u64| b.saturating_sub(a);
    println!(
        "open of a {scans}-scan database: {:.2} s; resident memory {:.0} MiB before, {:.0} MiB after: +{:.0} MiB, of which anonymous +{:.0} MiB ({:.1} bytes per scan)",
        opened.as_secs_f64(),
        mib(before),
        mib(after),
        mib(grew(before, after)),
        mib(grew(anon_before, anon_after)),
        grew(anon_before, anon_after) as f64 / scans.max(1) as f64,
    );
    let index = store.scan_index_stats();
    println!(
        "scan index: {} scans, {} venues, {} persons, {:.1} MiB allocated ({:.1} bytes per scan)",
        index.scans,
        index.venues,
        index.persons,
        mib(index.bytes),
        index.bytes as f64 / index.scans.max(1) as f64,
    );

    // Queries over the written data: scans were entered one per second from 06-01
    // 08:00, person `n % 997` at venue `n % 5000`.
    let span = scans.min(1_000_000) as i64;
    let mut picks = Picks(0x2545_f491_4f6c_dd1d);
    let timed = |name: &str, times: &mut Vec<Duration>, rows: u64, calls: usize| {
        times.sort();
        println!(
            "{name}: median {:.2} ms, p99 {:.2} ms ({calls} calls, {:.0} rows per call)",
            percentile(times, 0.5).as_secs_f64() * 1e3,
            percentile(times, 0.99).as_secs_f64() * 1e3,
            rows as f64 / calls as f64
        );
    };
    let origin = t("06-01 08:00");
    let calls = 200;
    let (mut times, mut rows) = (Vec::new(), 0u64);
    for _ in 0..calls {
        let venue = VenueId::parse(&format!("v-{}", picks.next(VENUES))).expect("venue");
        let from = origin.plus_seconds(picks.next(span as u64) as i64);
        let started = Instant::now();
        let found = store
            .scans_at_venue(&venue, from, from.plus_seconds(86_400))
            .await
            .expect("scans at venue");
        times.push(started.elapsed());
        rows += found.len() as u64;
    }
    timed("scans_at_venue, one day", &mut times, rows, calls);
    let (mut times, mut rows) = (Vec::new(), 0u64);
    for _ in 0..calls {
        let who = person(picks.next(u64::from(PEOPLE)) as u32);
        let from = origin.plus_seconds(picks.next(span as u64) as i64);
        let started = Instant::now();
        let found = store
            .scans_of_person(who, from, from.plus_seconds(3_600))
            .await
            .expect("scans of person");
        times.push(started.elapsed());
        rows += found.len() as u64;
    }
    timed("scans_of_person, one hour", &mut times, rows, calls);
    let (mut times, mut rows) = (Vec::new(), 0u64);
    for _ in 0..calls {
        let venues: Vec<VenueId> = (0..10)
            .map(|_| VenueId::parse(&format!("v-{}", picks.next(VENUES))).expect("venue"))
            .collect();
        let from = origin.plus_seconds(picks.next(span as u64) as i64);
        let started = Instant::now();
        let found = store
            .persons_at_venues(&venues, from, from.plus_seconds(3_600))
            .await
            .expect("persons at venues");
        times.push(started.elapsed());
        rows += found.len() as u64;
    }
    timed(
        "persons_at_venues, 10 venues, one hour",
        &mut times,
        rows,
        calls,
    );
    let street = Jurisdiction::parse("410102001").expect("street");
    let calls = 20;
    let (mut times, mut rows) = (Vec::new(), 0u64);
    for _ in 0..calls {
        let from = origin.plus_seconds(picks.next(span as u64) as i64);
        let started = Instant::now();
        let found = store
            .persons_in_division(street, from, from.plus_seconds(600))
            .await
            .expect("persons in division");
        times.push(started.elapsed());
        rows += found.len() as u64;
    }
    timed(
        "persons_in_division, a street of 5,000 venues, ten minutes",
        &mut times,
        rows,
        calls,
    );
    let calls = 20;
    let (mut times, mut rows) = (Vec::new(), 0u64);
    for _ in 0..calls {
        let who = person(picks.next(u64::from(PEOPLE)) as u32);
        let started = Instant::now();
        let found = store.evidence_about(who).await.expect("evidence about");
        times.push(started.elapsed());
        rows += found.len() as u64;
    }
    timed(
        "evidence_about (every scan of a person)",
        &mut times,
        rows,
        calls,
    );
}
