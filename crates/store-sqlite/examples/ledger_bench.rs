//! Durable ledger appends per second on the SQLite store, and inclusion-proof time
//! at the resulting size. A measurement, not a test:
//!
//! ```text
//! cargo run --release -p mingma-store-sqlite --example ledger_bench -- [LEAVES] [BATCH] [WRITERS]
//! ```
//!
//! Defaults: 10,000,000 leaves, batches of 1,000 records per `append` call, 4
//! concurrent writers. Each record is a venue scan (the most frequent evidence);
//! each becomes one ledger leaf, written durably (WAL, synchronous=FULL) with its
//! row, in the same transaction.

use std::time::{Duration, Instant};

use mingma_store::contract::{person, scan, t};
use mingma_store::Store;
use mingma_store_sqlite::{SqliteStore, DURABILITY};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let leaves = args.first().copied().unwrap_or(10_000_000);
    let batch = args.get(1).copied().unwrap_or(1_000).max(1);
    let writers = args.get(2).copied().unwrap_or(4).max(1);
    let dir = std::env::temp_dir().join(format!("mingma-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("bench.sqlite")).expect("open");
    println!(
        "store: SQLite ({DURABILITY}), file {}",
        store.path().display()
    );
    println!("appending {leaves} scans: {writers} writers, {batch} records per append call");

    // People and venue ids are made once, so the clock measures the store.
    let people: std::sync::Arc<Vec<_>> = std::sync::Arc::new((0..997).map(person).collect());
    let venues: std::sync::Arc<Vec<String>> =
        std::sync::Arc::new((0..5_000).map(|v| format!("v-{v}")).collect());
    let calls = leaves / batch;
    let per_writer = calls / writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let (people, venues) = (people.clone(), venues.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer as usize);
            for c in 0..per_writer {
                let first = (w * per_writer + c) * batch;
                let records = (first..first + batch)
                    .map(|n| {
                        scan(
                            &format!("s-{n}"),
                            people[(n % 997) as usize],
                            &venues[(n % 5_000) as usize],
                            "410102001",
                            t("06-01 08:00").plus_seconds((n % 1_000_000) as i64),
                        )
                    })
                    .collect();
                let sent = Instant::now();
                store.append(records).await.expect("append");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    let mut progress = Instant::now();
    for task in tasks {
        latencies.extend(task.await.expect("writer"));
        if progress.elapsed() > Duration::from_secs(5) {
            progress = Instant::now();
        }
    }
    let elapsed = start.elapsed();
    let appended = per_writer * writers * batch;
    latencies.sort();
    println!(
        "durable appends: {appended} in {:.1} s = {:.0} appends/s; per call of {batch}: p50 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        appended as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );

    let size = store.ledger_size().await.expect("size");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::new();
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % size;
        let started = Instant::now();
        let proof = store.inclusion_proof(index, size).await.expect("proof");
        times.push(started.elapsed());
        assert!(!proof.is_empty() || size == 1);
    }
    times.sort();
    println!(
        "inclusion proofs at {size} leaves: median {:.1} µs, p99 {:.1} µs (10,000 random leaves, through the async API)",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
    );
    let bytes = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "database file: {:.1} MiB ({:.0} bytes per leaf)",
        bytes as f64 / 1048576.0,
        bytes as f64 / size as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
