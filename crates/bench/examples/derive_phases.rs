//! Times the phases of deriving every code of a benchmark database: reading the
//! evidence, deriving, recording. `cargo run --release -p mingma-bench --example
//! derive_phases -- DB PERSONS DAYS [SEED]` (the database of `mingma bench run`).

use std::sync::Arc;
use std::time::Instant;

use mingma_core::{derive, RuleSet, Span};
use mingma_sim::{City, CityConfig};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = args.get(1).expect("DB");
    let persons: u32 = args.get(2).map_or(Ok(10_000), |a| a.parse())?;
    let days: u32 = args.get(3).map_or(Ok(14), |a| a.parse())?;
    let seed: u64 = args.get(4).map_or(Ok(2022), |a| a.parse())?;
    let config = CityConfig::new(seed, persons, days);
    let city = City::generate(&config);
    let keys = city.person_keys(&mingma_bench::bench_key());
    let everyone: Vec<_> = (0..city.person_count()).map(|p| keys.get(p)).collect();
    let store = SqliteStore::open(db)?;
    let rules = Arc::new(RuleSet::default_rules()?);
    let below = store.ledger_size().await?;
    let now = config.start.plus(Span::days(i64::from(days)));
    let started = Instant::now();
    let mut inputs = Vec::new();
    for chunk in everyone.chunks(8192) {
        inputs.push(
            store
                .evidence_for_derivation(chunk.to_vec(), rules.clone(), below)
                .await?,
        );
    }
    let read = started.elapsed();
    let records: usize = inputs
        .iter()
        .map(|i| {
            (0..i.own.len())
                .map(|p| i.records_of(p).count())
                .sum::<usize>()
        })
        .sum();
    let started = Instant::now();
    let mut decisions = Vec::new();
    for (chunk, input) in everyone.chunks(8192).zip(&inputs) {
        for (i, person) in chunk.iter().enumerate() {
            decisions.push(derive(input.records_of(i), person, now, now, &rules));
        }
    }
    let derived = started.elapsed();
    let started = Instant::now();
    store.record_code_changes(decisions, below).await?;
    let recorded = started.elapsed();
    println!(
        "{} persons, {records} records read ({:.1} per person): read {:.0} ms, derive {:.0} ms, record {:.0} ms",
        everyone.len(),
        records as f64 / everyone.len() as f64,
        read.as_secs_f64() * 1e3,
        derived.as_secs_f64() * 1e3,
        recorded.as_secs_f64() * 1e3
    );
    Ok(())
}
