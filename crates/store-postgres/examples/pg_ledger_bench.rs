//! Durable ledger appends per second on the PostgreSQL store, and inclusion-proof
//! time at the resulting size: the same measurement as the SQLite store's
//! `ledger_bench`, so the two can be read side by side. A measurement, not a test:
//!
//! ```text
//! cargo run --release -p mingma-store-postgres --example pg_ledger_bench -- [LEAVES] [BATCH] [WRITERS] [NODES]
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

use mingma_pgtest::PgCluster;
use mingma_store::contract::bench::{append_scans, time_proofs};
use mingma_store_postgres::PostgresStore;

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

    append_scans(&nodes, leaves, batch, writers).await;
    let size = time_proofs(&store).await;
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
