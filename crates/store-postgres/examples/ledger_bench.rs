//! Durable ledger appends per second on the PostgreSQL store, and inclusion-proof
//! time at the resulting size: the same measurement as the SQLite store's
//! `ledger_bench`, so the two can be read side by side. A measurement, not a test:
//!
//! ```text
//! cargo run --release -p mingma-store-postgres --example ledger_bench -- [LEAVES] [BATCH] [WRITERS] [NODES]
//! ```
//!
//! Defaults: 200,000 leaves, batches of 1,000 records per `append` call, 4
//! concurrent writers, 1 node. Each record is a venue scan (the most frequent
//! evidence); each becomes one ledger leaf, written durably (fsync and
//! synchronous_commit on) with its row, in the same transaction. With `NODES` > 1
//! that many stores (as separate nodes would) share the database and the writers
//! are spread over them, so their groups take turns at the ledger head's lock.
//!
//! The server is a throwaway cluster (`mingma-pgtest`), or the one
//! `MINGMA_TEST_POSTGRES_URL` names.

use std::time::{Duration, Instant};

use mingma_pgtest::PgCluster;
use mingma_store::contract::{person, scan, t};
use mingma_store::Store;
use mingma_store_postgres::PostgresStore;

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
    let leaves = args.first().copied().unwrap_or(200_000);
    let batch = args.get(1).copied().unwrap_or(1_000).max(1);
    let writers = args.get(2).copied().unwrap_or(4).max(1);
    let node_count = args.get(3).copied().unwrap_or(1).max(1);
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.fresh_database("ledger_bench").expect("a database");
    let mut nodes = Vec::new();
    for _ in 0..node_count {
        nodes.push(PostgresStore::connect(&url).await.expect("connect"));
    }
    let store = nodes[0].clone();
    println!("store: PostgreSQL ({})", store.durability());
    println!(
        "server: {}",
        if cluster.is_external() {
            "MINGMA_TEST_POSTGRES_URL"
        } else {
            "throwaway cluster on a Unix socket (mingma-pgtest)"
        }
    );
    println!(
        "appending {leaves} scans: {writers} writers on {node_count} node(s), {batch} records per append call"
    );

    // People and venue ids are made once, so the clock measures the store.
    let people: std::sync::Arc<Vec<_>> = std::sync::Arc::new((0..997).map(person).collect());
    let venues: std::sync::Arc<Vec<String>> =
        std::sync::Arc::new((0..5_000).map(|v| format!("v-{v}")).collect());
    let calls = leaves / batch;
    let per_writer = calls / writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = nodes[(w % node_count) as usize].clone();
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
    for task in tasks {
        latencies.extend(task.await.expect("writer"));
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
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let bytes: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .expect("database size")
        .get(0);
    println!(
        "database: {:.1} MiB ({:.0} bytes per leaf, indexes and catalog included)",
        bytes as f64 / 1048576.0,
        bytes as f64 / size as f64
    );
}
