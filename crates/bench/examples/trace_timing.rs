//! Times `Engine::trace` for the simulation's first cases on a benchmark database
//! (as `mingma bench run` does: 14 days before the report, ±30 min), each case
//! traced 5 times, median of the warm runs: `cargo run --release -p mingma-bench
//! --example trace_timing -- DB PERSONS DAYS [CASES] [SEED]`.

use std::time::Instant;

use mingma_core::{EvidenceKind, RuleSet, Span};
use mingma_engine::Engine;
use mingma_sim::{City, CityConfig};
use mingma_store_sqlite::SqliteStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: trace_timing DB PERSONS DAYS [CASES] [SEED]"))?;
    let persons: u32 = args.get(2).map_or(Ok(10_000), |a| a.parse())?;
    let days: u32 = args.get(3).map_or(Ok(14), |a| a.parse())?;
    let wanted: usize = args.get(4).map_or(Ok(20), |a| a.parse())?;
    let seed: u64 = args.get(5).map_or(Ok(2022), |a| a.parse())?;
    let city = City::generate(&CityConfig::new(seed, persons, days));
    let keys = city.person_keys(&mingma_bench::bench_key());
    let mut cases = Vec::new();
    for day in city.days() {
        for record in day.evidence(&city, &keys) {
            if record.kind() == EvidenceKind::CaseReport && cases.len() < wanted {
                if let Some(subject) = record.subject {
                    cases.push((subject, record.effective_at));
                }
            }
        }
    }
    let engine = Engine::new(SqliteStore::open(db)?, RuleSet::default_rules()?);
    let (mut times, mut contacts, mut overlaps) = (Vec::new(), Vec::new(), 0);
    for (case, at) in &cases {
        let mut runs = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let found = engine
                .trace(*case, at.minus(Span::days(14)), *at, Span::minutes(30))
                .await?;
            runs.push(started.elapsed());
            if runs.len() == 1 {
                contacts.push(found.len());
                overlaps += found.iter().map(|c| c.overlaps.len()).sum::<usize>();
            }
        }
        runs.remove(0);
        runs.sort();
        times.push(runs[runs.len() / 2]);
    }
    times.sort();
    contacts.sort_unstable();
    println!(
        "{} cases: median {:.1} ms (max {:.1}), median {} contacts, {overlaps} overlaps in all",
        cases.len(),
        times
            .get(times.len() / 2)
            .map_or(0.0, |t| t.as_secs_f64() * 1e3),
        times.last().map_or(0.0, |t| t.as_secs_f64() * 1e3),
        contacts.get(contacts.len() / 2).copied().unwrap_or(0),
    );
    Ok(())
}
