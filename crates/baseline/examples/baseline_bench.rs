//! The baseline's three operations at a chosen scale, on uniformly spread
//! synthetic data. A measurement, not a test:
//!
//! ```text
//! cargo run --release -p mingma-baseline --example baseline_bench -- [PERSONS] [SCANS] [INSERT_ROWS] [BATCH]
//! ```
//!
//! Defaults: 100,000 persons, 56 scans per person, 100,000 rows inserted in
//! batches of 1,000. The data: one venue per 10 persons in 16 districts of 16
//! streets, venue kinds with Mingma's default dwells, entries uniform over 14
//! days in entry order (as they arrive), 80 % with a recorded exit 5 minutes to 4 hours later. After the bulk load
//! (binary COPY, index builds, VACUUM ANALYZE), every query runs once untimed to
//! warm the cache, then:
//!
//! * affected persons of one district (1/16 of the venues) over 3 days: median of 5;
//! * tracing: 21 different cases, 7-day window, 30-minute margin: median;
//! * durable inserts into the indexed table in client-side batches (the scans of
//!   the following hours, at the same rate): rows/s, p50/p99 per batch, WAL;
//! * bytes per scan after the load and after the inserts.
//!
//! The server is a throwaway cluster (`mingma-pgtest`, server defaults besides
//! fsync, synchronous_commit and full_page_writes on), or the one
//! `MINGMA_TEST_POSTGRES_URL` names.

use std::time::{Duration, Instant};

use mingma_baseline::{median_time, Area, Baseline, BaselineScan, BaselineVenue, Stays};
use mingma_pgtest::PgCluster;

/// 2022-06-01 00:00:00 UTC+8.
const T0: i64 = 1_654_012_800;
const DAY: i64 = 86_400;
const SPAN_DAYS: i64 = 14;
const DISTRICTS: i64 = 16;
const STREETS_PER_DISTRICT: i64 = 16;

/// SplitMix64: a seeded, repeatable sequence.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is negligible at these sizes).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Mingma's default dwells (rules/default.toml) for kinds 0 to 7: default,
/// transport hub, market, office, school, hospital, restaurant, residential.
fn stays() -> Stays {
    Stays {
        default_dwell_seconds: 3_600,
        kind_dwell_seconds: vec![
            (1, 1_800),
            (2, 3_600),
            (3, 8 * 3_600),
            (4, 8 * 3_600),
            (5, 2 * 3_600),
            (6, 5_400),
            (7, 12 * 3_600),
        ],
        max_stay_seconds: DAY,
    }
}

fn district_code(d: i64) -> i64 {
    410_101 + d
}

fn venues(count: i64) -> Vec<BaselineVenue> {
    (1..=count)
        .map(|id| {
            let street = id % (DISTRICTS * STREETS_PER_DISTRICT);
            let district = district_code(street / STREETS_PER_DISTRICT);
            BaselineVenue {
                id,
                street_code: district * 1_000 + street % STREETS_PER_DISTRICT + 1,
                district_code: district,
                kind: ((id / (DISTRICTS * STREETS_PER_DISTRICT)) % 8) as i16,
            }
        })
        .collect()
}

/// `count` scans entered from `start` over `span` seconds, in entry order (as
/// scans arrive), evenly spread; person, venue and stay drawn at random. Generated
/// as they are consumed, never materialised.
fn scans(
    count: u64,
    persons: u64,
    venues: u64,
    (start, span): (i64, i64),
    seed: u64,
) -> impl Iterator<Item = BaselineScan> {
    let mut rng = SplitMix(seed);
    (0..count).map(move |i| {
        let entered = start + (i128::from(i) * i128::from(span) / i128::from(count)) as i64;
        let left = (rng.below(5) != 0).then(|| entered + 300 + rng.below(4 * 3_600 - 300) as i64);
        BaselineScan {
            person: 1 + rng.below(persons) as i64,
            venue: 1 + rng.below(venues) as i64,
            entered_unix: entered,
            left_unix: left,
        }
    })
}

/// WAL written and checkpoints so far (`pg_stat_wal`, `pg_stat_bgwriter`).
async fn wal_stats(b: &Baseline) -> (i64, i64, f64, i64) {
    let row = b
        .client()
        .query_one(
            "SELECT w.wal_records, w.wal_fpi, w.wal_bytes::float8, \
                    g.checkpoints_timed + g.checkpoints_req \
             FROM pg_stat_wal w, pg_stat_bgwriter g",
            &[],
        )
        .await
        .expect("WAL statistics");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn explain(b: &Baseline, sql: &str) {
    let text = format!("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}");
    match b.client().simple_query(&text).await {
        Ok(messages) => {
            for m in messages {
                if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
                    println!("    {}", row.get(0).unwrap_or(""));
                }
            }
        }
        Err(e) => println!("    (EXPLAIN failed: {e})"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let persons = args.first().copied().unwrap_or(100_000).max(1);
    let scan_count = args.get(1).copied().unwrap_or(56 * persons);
    let insert_rows = args.get(2).copied().unwrap_or(100_000);
    let batch = args.get(3).copied().unwrap_or(1_000).max(1) as usize;
    let venue_count = (persons / 10).max((DISTRICTS * STREETS_PER_DISTRICT) as u64);

    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster
        .fresh_database("baseline_bench")
        .expect("a database");
    let b = Baseline::connect_with(&url, stays())
        .await
        .expect("connect");
    let durability = b.create_schema().await.expect("schema");
    println!("server: {durability}");
    if let Err(e) = b.require_durable().await {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let server_settings: String = b
        .client()
        .query_one(
            "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) \
             FROM unnest(array['shared_buffers', 'max_wal_size', 'checkpoint_timeout', \
                               'wal_compression', 'effective_cache_size', \
                               'max_parallel_workers_per_gather']) AS name",
            &[],
        )
        .await
        .expect("settings")
        .get(0);
    println!(
        "server: {}, {server_settings}; session: {}",
        if cluster.is_external() {
            "MINGMA_TEST_POSTGRES_URL"
        } else {
            "throwaway cluster on a Unix socket (mingma-pgtest)"
        },
        mingma_baseline::SESSION_SETTINGS
    );
    println!(
        "data: {persons} persons, {venue_count} venues in {DISTRICTS} districts x {STREETS_PER_DISTRICT} streets, {scan_count} scans uniform over {SPAN_DAYS} days"
    );

    let started = Instant::now();
    b.load_venues(&venues(venue_count as i64))
        .await
        .expect("venues");
    let loaded = b
        .bulk_load(scans(
            scan_count,
            persons,
            venue_count,
            (T0, SPAN_DAYS * DAY),
            1,
        ))
        .await
        .expect("bulk load");
    let load_time = started.elapsed();
    println!(
        "bulk load: {loaded} scans in {:.1} s = {:.0} rows/s (binary COPY, then both indexes built, VACUUM ANALYZE)",
        load_time.as_secs_f64(),
        loaded as f64 / load_time.as_secs_f64()
    );
    let bytes_loaded = b.bytes_per_scan().await.expect("bytes");
    println!("bytes per scan after the bulk load: {bytes_loaded:.1} (heap + both indexes)");

    // Affected persons of one district over 3 days.
    let area = Area::District(district_code(3));
    let (from, until) = (T0 + 5 * DAY, T0 + 8 * DAY);
    b.affected_persons(area, from, until).await.expect("warm");
    let (time, affected) = median_time(5, || b.affected_persons(area, from, until))
        .await
        .expect("affected");
    println!(
        "affected persons, one district (1/{DISTRICTS} of venues), 3 days, stays overlapping: median {:.1} ms ({} persons; 5 runs)",
        ms(time),
        affected.len()
    );
    let (time, entered) = median_time(5, || b.persons_entered(area, from, until))
        .await
        .expect("entered");
    println!(
        "persons entered in the district in the 3 days (store's narrower definition): median {:.1} ms ({} persons)",
        ms(time),
        entered.len()
    );

    // Tracing: 21 cases, 7 days, 30 minutes' margin.
    let (from, until, margin) = (T0 + 3 * DAY, T0 + 10 * DAY, 1_800);
    let cases: Vec<i64> = {
        let mut rng = SplitMix(42);
        (0..21).map(|_| 1 + rng.below(persons) as i64).collect()
    };
    for case in &cases {
        b.trace(*case, from, until, margin).await.expect("warm");
    }
    let mut next = cases.iter().cycle();
    let mut contacts = Vec::new();
    let (time, _) = median_time(cases.len(), || {
        let case = *next.next().unwrap_or(&1);
        let b = &b;
        async move { b.trace(case, from, until, margin).await }
    })
    .await
    .expect("trace");
    for case in &cases {
        contacts.push(
            b.trace(*case, from, until, margin)
                .await
                .expect("trace")
                .len(),
        );
    }
    contacts.sort_unstable();
    println!(
        "tracing query, 7-day window, 30 min margin: median {:.2} ms over {} cases (contacts per case: median {})",
        ms(time),
        cases.len(),
        contacts[contacts.len() / 2]
    );

    println!("  plan of the affected-persons query:");
    let area_sql = mingma_baseline::sql::AFFECTED_IN_DISTRICT
        .replace("$1", &district_code(3).to_string())
        .replace(
            "$2::timestamptz",
            &format!("to_timestamp({})", T0 + 5 * DAY),
        )
        .replace(
            "$3::timestamptz",
            &format!("to_timestamp({})", T0 + 8 * DAY),
        )
        .replace("$4", &DAY.to_string())
        .replace("$5", "3600");
    explain(&b, &area_sql).await;
    println!("  plan of the tracing query:");
    let trace_sql = mingma_baseline::sql::TRACE
        .replace("$1", &cases[0].to_string())
        .replace("$2::timestamptz", &format!("to_timestamp({from})"))
        .replace("$3::timestamptz", &format!("to_timestamp({until})"))
        .replace("$4", &DAY.to_string())
        .replace("$5", "3600")
        .replace("$6", &margin.to_string());
    explain(&b, &trace_sql).await;

    // Durable inserts into the indexed table.
    // Durable inserts into the indexed table: the scans that arrive next, at the
    // same rate per unit of time as the loaded ones.
    let next_span = (SPAN_DAYS * DAY * insert_rows as i64 / scan_count.max(1) as i64).max(1);
    let wal_before = wal_stats(&b).await;
    let report = b
        .insert_batched(
            scans(
                insert_rows,
                persons,
                venue_count,
                (T0 + SPAN_DAYS * DAY, next_span),
                2,
            ),
            batch,
        )
        .await
        .expect("insert");
    let wal_after = wal_stats(&b).await;
    println!("durable batched inserts ({batch} rows per transaction): {report}");
    println!(
        "  WAL: {:.0} bytes per row, {:.2} records per row, {} full-page images ({:.3} per row), {} checkpoints during the inserts",
        (wal_after.2 - wal_before.2) / report.rows.max(1) as f64,
        (wal_after.0 - wal_before.0) as f64 / report.rows.max(1) as f64,
        wal_after.1 - wal_before.1,
        (wal_after.1 - wal_before.1) as f64 / report.rows.max(1) as f64,
        wal_after.3 - wal_before.3
    );
    let bytes = b.bytes_per_scan().await.expect("bytes");
    println!(
        "bytes per scan after the inserts: {bytes:.1} ({} scans)",
        b.scan_count().await.expect("count")
    );
}
