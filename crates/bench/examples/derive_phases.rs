//! Times the phases of a re-derivation on a benchmark database: finding who is
//! affected, reading their evidence, deriving, recording. `cargo run --release -p
//! mingma-bench --example derive_phases -- DB PERSONS DAYS [all|declaration] [SEED]`
//! (the database of `mingma bench run`; `declaration` re-derives the people its
//! stored district declaration affects, `all` everyone), chunk by chunk on one
//! thread: each chunk's inputs are read, derived and dropped, reading and deriving
//! timed apart. Recording changes the database: run it on a copy.
//!
//! - `CHUNK=N`: people read at a time (8,192 unless given).
//! - `DERIVE_ONLY=N`: reads the first chunk's inputs and only times `derive` over
//!   them, N passes (for profiling).
//! - `READ_ONLY=N`: only reads every chunk's inputs, N rounds, and prints each
//!   round's time.
//! - `PER_CHUNK=1`: reads each chunk on its own (`Store::evidence_for_derivation`)
//!   instead of through one `Store::derivation_reading` for everyone (which may
//!   read ahead what the chunks share). `PER_CHUNK=alt` with `READ_ONLY`: the two
//!   ways in turn, round by round, compared in one process.
//! - `DECISIONS_DIGEST=1`: prints a digest of every decision, in order of person key,
//!   and records nothing (two builds printing the same digest decided the same for
//!   everyone, whatever order each found the people in).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mingma_core::{derive, derive_brief, RecordId, RuleSet, Span};
use mingma_engine::Engine;
use mingma_sim::{City, CityConfig};
use mingma_store::{CodeChange, Store};
use mingma_store_sqlite::SqliteStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = args.get(1).ok_or_else(|| {
        anyhow::anyhow!("usage: derive_phases DB PERSONS DAYS [all|declaration] [SEED]")
    })?;
    let persons: u32 = args.get(2).map_or(Ok(10_000), |a| a.parse())?;
    let days: u32 = args.get(3).map_or(Ok(14), |a| a.parse())?;
    let mode = args.get(4).map_or("all", String::as_str);
    let seed: u64 = args.get(5).map_or(Ok(2022), |a| a.parse())?;
    let config = CityConfig::new(seed, persons, days);
    let now = config.start.plus(Span::days(i64::from(days)));
    let store = SqliteStore::open(db)?;
    let rules = Arc::new(RuleSet::default_rules()?);
    let engine = Engine::new(store.clone(), (*rules).clone());
    let started = Instant::now();
    let everyone: Vec<_> = match mode {
        "declaration" => {
            let declaration = store
                .record(&RecordId::parse("bench-declaration")?)
                .await?
                .ok_or_else(|| anyhow::anyhow!("{db} holds no record bench-declaration"))?;
            engine.affected_by(&declaration.evidence).await?
        }
        _ => {
            let city = City::generate(&config);
            let keys = city.person_keys(&mingma_bench::bench_key());
            (0..city.person_count()).map(|p| keys.get(p)).collect()
        }
    };
    let affected = started.elapsed();
    let below = store.ledger_size().await?;
    let size: usize = std::env::var("CHUNK").map_or(Ok(8192), |c| c.parse())?;
    let size = size.max(1);
    let inputs = Inputs {
        store: store.clone(),
        everyone: everyone.clone().into(),
        rules: rules.clone(),
        below,
        size,
        per_chunk: std::env::var_os("PER_CHUNK").is_some(),
        alternate: std::env::var("PER_CHUNK").is_ok_and(|v| v == "alt"),
    };
    if let Ok(repeat) = std::env::var("DERIVE_ONLY").map(|r| r.parse::<usize>().unwrap_or(20)) {
        // Derivation alone, repeated over the first chunk's inputs (for profiling).
        let chunk: Vec<_> = everyone.iter().take(size).copied().collect();
        let input = store
            .evidence_for_derivation(chunk.clone(), rules.clone(), below)
            .await?;
        let mut times = Vec::new();
        for _ in 0..repeat {
            let started = Instant::now();
            for (i, person) in chunk.iter().enumerate() {
                std::hint::black_box(derive_brief(input.records_of(i), person, now, now, &rules));
            }
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "derive only: {} persons, median {:.1} µs per person over {repeat} passes",
            chunk.len(),
            times[times.len() / 2].as_secs_f64() * 1e6 / chunk.len().max(1) as f64
        );
        return Ok(());
    }
    if std::env::var_os("DECISIONS_DIGEST").is_some() {
        // Every decision, as JSON, hashed in order of person key (whatever order the
        // people were found in): two builds that print the same digest decided the
        // same for everyone (a check on a derivation change).
        use std::hash::{DefaultHasher, Hasher};
        let mut decisions = Vec::with_capacity(everyone.len());
        let reading = inputs.reading().await?;
        for (chunk, range) in everyone.chunks(size).zip(inputs.ranges()) {
            let input = inputs.read(&reading, range).await?;
            for (i, person) in chunk.iter().enumerate() {
                let decision = derive(input.records_of(i), person, now, now, &rules);
                decisions.push((*person, serde_json::to_vec(&decision)?));
            }
        }
        decisions.sort_unstable_by_key(|(person, _)| *person);
        let mut hasher = DefaultHasher::new();
        for (_, decision) in &decisions {
            hasher.write(decision);
        }
        println!(
            "decisions of {} persons: digest {:016x}",
            everyone.len(),
            hasher.finish()
        );
        return Ok(());
    }
    if let Ok(rounds) = std::env::var("READ_ONLY").map(|r| r.parse::<usize>().unwrap_or(3)) {
        // Reading alone, every chunk, `rounds` times over (builds compared in one
        // process's page cache).
        for round in 1..=rounds {
            let inputs = Inputs {
                per_chunk: inputs.per_chunk && (!inputs.alternate || round % 2 == 1),
                ..inputs.clone()
            };
            let started = Instant::now();
            let mut records = 0usize;
            let reading = inputs.reading().await?;
            for range in inputs.ranges() {
                let input = inputs.read(&reading, range).await?;
                records += (0..input.own.len())
                    .map(|p| input.records_of(p).count())
                    .sum::<usize>();
            }
            println!(
                "read only, round {round} ({}): {} persons, {records} records, {:.0} ms",
                if inputs.per_chunk {
                    "per chunk"
                } else {
                    "one reading"
                },
                everyone.len(),
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        return Ok(());
    }
    // Each chunk read, counted and derived, then dropped (at 1M the inputs of a
    // whole declaration would not fit beside the store): reading and deriving are
    // timed apart and summed.
    let (mut read, mut derived) = (Duration::ZERO, Duration::ZERO);
    let (mut records, mut own, mut shared) = (0usize, 0usize, 0usize);
    let mut kinds = std::collections::BTreeMap::new();
    let mut decisions = Vec::new();
    let started = Instant::now();
    let reading = inputs.reading().await?;
    read += started.elapsed();
    for (chunk, range) in everyone.chunks(size).zip(inputs.ranges()) {
        let started = Instant::now();
        let input = inputs.read(&reading, range).await?;
        read += started.elapsed();
        own += input.own.iter().map(Vec::len).sum::<usize>();
        shared = shared.max(input.shared.len());
        for p in 0..input.own.len() {
            for r in input.records_of(p) {
                records += 1;
                *kinds.entry(format!("{:?}", r.kind())).or_insert(0usize) += 1;
            }
        }
        let started = Instant::now();
        for (i, person) in chunk.iter().enumerate() {
            decisions.push(CodeChange::from_decision(
                derive_brief(input.records_of(i), person, now, now, &rules),
                below,
            ));
        }
        derived += started.elapsed();
    }
    eprintln!("own {own}, shared records {shared}, by kind {kinds:?}");
    let started = Instant::now();
    let batch = store.record_code_changes(decisions, below).await?;
    let recorded = started.elapsed();
    let changed = batch.map_or(0, |b| b.changed.iter().sum());
    println!(
        "{mode}: {} persons (found in {:.0} ms), {records} records read ({:.1} per person): read {:.0} ms, derive {:.0} ms, record {:.0} ms ({changed} changes)",
        everyone.len(),
        affected.as_secs_f64() * 1e3,
        records as f64 / everyone.len().max(1) as f64,
        read.as_secs_f64() * 1e3,
        derived.as_secs_f64() * 1e3,
        recorded.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Reads the inputs of everyone chunk by chunk: through one reading, or (`PER_CHUNK`)
/// each chunk on its own.
#[derive(Clone)]
struct Inputs {
    store: SqliteStore,
    everyone: Arc<[mingma_core::PersonKey]>,
    rules: Arc<RuleSet>,
    below: u64,
    size: usize,
    per_chunk: bool,
    /// `READ_ONLY` rounds alternate between the two ways.
    alternate: bool,
}

impl Inputs {
    /// The chunks' positions in `everyone`.
    fn ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let len = self.everyone.len();
        (0..len)
            .step_by(self.size)
            .map(move |start| start..(start + self.size).min(len))
    }

    /// One reading for everyone (none when each chunk is read on its own).
    async fn reading(&self) -> anyhow::Result<Option<Arc<<SqliteStore as Store>::Reading>>> {
        if self.per_chunk {
            return Ok(None);
        }
        let reading = self
            .store
            .derivation_reading(self.everyone.clone(), self.rules.clone(), self.below)
            .await?;
        Ok(Some(Arc::new(reading)))
    }

    async fn read(
        &self,
        reading: &Option<Arc<<SqliteStore as Store>::Reading>>,
        range: std::ops::Range<usize>,
    ) -> anyhow::Result<mingma_store::DerivationInputs> {
        Ok(match reading {
            Some(reading) => {
                self.store
                    .evidence_for_chunk(reading.clone(), range)
                    .await?
            }
            None => {
                self.store
                    .evidence_for_derivation(
                        self.everyone[range].to_vec(),
                        self.rules.clone(),
                        self.below,
                    )
                    .await?
            }
        })
    }
}
