//! Times a district-wide high-risk declaration on an existing benchmark database, as
//! `mingma bench run` times its own: from appending the declaration and its approval
//! to the commit of the last code change (finding the affected people and
//! re-deriving their codes in between).
//!
//! `cargo run --release -p mingma-bench --example declare_timing -- DB PERSONS DAYS
//! [ID] [DISTRICT] [SEED]`: `DB` is the database of `mingma bench run` for that city
//! (`PERSONS`, `DAYS`, `SEED`, default 2022); `ID` the new declaration's record id
//! (default `declare-timing`); `DISTRICT` defaults to the busiest one, which the
//! benchmark declared already for the same window — so its people are red, and the
//! new declaration changes every one of their codes again (each now cites both).
//! Before the clock it re-derives the people the declaration will reach, which
//! changes nothing (their codes are current) but leaves the process as the
//! benchmark's is when it declares: every seal checked once, the file in the page
//! cache. On a store used since (a load test's check-ins), whose codes are not all
//! current at the end of the simulated days, that first warm-up records the changes
//! and is repeated. It prints wall time and the process's CPU time, and on stderr
//! where the timed part lies in seconds after the start, so that `perf stat -I` can
//! count the instructions it took (the steadiest measure on a shared machine). It
//! appends to the database: run it on a copy, once per copy. `DECLARE_CHUNK=N[,L]`
//! sets the engine's chunk size and lanes (`Engine::with_chunks`).

use std::time::Instant;

use mingma_core::{Jurisdiction, RuleSet, Span};
use mingma_engine::Engine;
use mingma_sim::{City, CityConfig};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

/// The allocator of the `mingma` binary, whose `bench run` this mirrors.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let process = Instant::now();
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: declare_timing DB PERSONS DAYS [ID] [DISTRICT] [SEED]";
    let db = args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?;
    let persons: u32 = args.get(2).map_or(Ok(100_000), |a| a.parse())?;
    let days: u32 = args.get(3).map_or(Ok(14), |a| a.parse())?;
    let id = args.get(4).map_or("declare-timing", String::as_str);
    let seed: u64 = args.get(6).map_or(Ok(2022), |a| a.parse())?;
    let config = CityConfig::new(seed, persons, days);
    let city = City::generate(&config);
    let district = match args.get(5) {
        Some(d) => Jurisdiction::parse(d)?,
        None => mingma_bench::busiest_district(&city)?,
    };
    let end = config.start.plus(Span::days(i64::from(days)));
    let (declaration, approval) =
        mingma_bench::declaration_as(&city, id, district, end.minus(Span::days(3)), end, end)?;
    let opened = Instant::now();
    let store = SqliteStore::open(db)?;
    let mut engine = Engine::new(store.clone(), RuleSet::default_rules()?);
    // `DECLARE_CHUNK=N[,LANES]`: people per derivation chunk (and chunks at once),
    // to measure what the defaults trade.
    if let Ok(chunks) = std::env::var("DECLARE_CHUNK") {
        let mut parts = chunks.split(',');
        let people: usize = parts.next().unwrap_or_default().parse()?;
        let lanes: usize = parts.next().map_or(Ok(3), str::parse)?;
        eprintln!("derivation chunks of {people} people, {lanes} at once");
        engine = engine.with_chunks(people, lanes);
    }
    // The engine follows the authority acts before its first derivation: done here,
    // outside the clock, as the benchmark's engine had done before its declaration.
    engine.registry().await?;
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    // The benchmark derives every code before it declares, which checks every
    // record's seal once (then remembered) and reads the file into the page cache.
    // The same here for the people the declaration will reach: their codes are
    // current, so this records nothing.
    let warm = Instant::now();
    let reached: Vec<_> = engine.affected_by(&declaration).await?;
    let mut unchanged = engine.rederive(&reached, end).await?;
    if unchanged.batch.is_some() {
        // A store used since (a load test's check-ins at other times) may hold codes
        // not current at `end`: recorded now, once, and the warm-up repeated.
        eprintln!(
            "the warm-up recorded changes green/yellow/red {:?} (the store was not as the \
             benchmark left it); warming up again",
            unchanged.changed
        );
        unchanged = engine.rederive(&reached, end).await?;
    }
    anyhow::ensure!(
        unchanged.batch.is_none(),
        "the warm-up changed codes twice: the database is not as the benchmark left it"
    );
    let warm_ms = warm.elapsed().as_secs_f64() * 1e3;

    let cpu = cpu_seconds();
    let started = Instant::now();
    // For `perf stat -I` (instructions per interval): where the timed part lies.
    eprintln!(
        "timed from {:.3} s after start",
        process.elapsed().as_secs_f64()
    );
    store.append(vec![declaration.clone(), approval]).await?;
    let step = Instant::now();
    let affected: Vec<_> = engine.affected_by(&declaration).await?;
    let affected_ms = step.elapsed().as_secs_f64() * 1e3;
    let step = Instant::now();
    let done = engine.rederive(&affected, end).await?;
    let rederive_ms = step.elapsed().as_secs_f64() * 1e3;
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let cpu_ms = (cpu_seconds() - cpu) * 1e3;
    eprintln!(
        "timed until {:.3} s after start",
        process.elapsed().as_secs_f64()
    );
    println!(
        "declare {district} ({}) as {id}: {} affected, changes green/yellow/red {:?}; \
         total {total_ms:.0} ms (affected {affected_ms:.0} ms, re-derive {rederive_ms:.0} ms, \
         {:.1} µs per affected person; process CPU {cpu_ms:.0} ms); \
         open {open_ms:.0} ms, warm-up re-derivation without changes {warm_ms:.0} ms",
        district.name(),
        affected.len(),
        done.changed,
        total_ms * 1e3 / affected.len().max(1) as f64,
    );
    Ok(())
}

/// CPU time (user and system) of this process so far, in seconds: on a shared
/// machine a steadier measure than wall time (0 where it cannot be read).
fn cpu_seconds() -> f64 {
    mingma_bench::load::process_cpu().map_or(0.0, |c| c.as_secs_f64())
}
