//! `mingma sim`: a simulated city, as an evidence file or streamed into a store
//! (after the authority acts that register its officials' and sources' keys).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use mingma_sim::{City, CityConfig};

use crate::db::DbArg;
use crate::input::PseudonymKeyArg;
use crate::progress::Bar;

#[derive(Args)]
pub struct SimArgs {
    /// Residents.
    #[arg(long, default_value_t = 10_000)]
    persons: u32,
    /// Days simulated, from 2022-06-01.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Seed: the same seed gives the same city, byte for byte.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Write the evidence file (JSON Lines) here, `-` for standard output, instead
    /// of appending to the store.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    db: DbArg,
    /// Concurrent append calls when streaming into the store.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Records per append call.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    #[command(flatten)]
    pseudonym_key: PseudonymKeyArg,
}

pub async fn run(args: &SimArgs) -> Result<()> {
    let config = CityConfig::new(args.seed, args.persons, args.days);
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("the city: {e}"))?;
    let city = City::generate(&config);
    eprintln!(
        "city {} ({}): {} residents, {} venues, {} days from {}",
        config.city,
        config.city.name(),
        city.person_count(),
        city.venue_count(),
        config.days,
        config.start
    );
    let bar = Bar::new();
    // Official and source records are sealed over their person keys: the file's
    // seals hold under this pseudonym key, the one to import it with.
    let key = args.pseudonym_key.key()?;
    let keys = Arc::new(city.person_keys(&key));
    match &args.out {
        Some(path) => {
            bar.phase(
                "simulate",
                Some(u64::from(args.persons) * u64::from(args.days) * 4),
            );
            let mut days = city.days();
            let ticking = (&mut days).inspect(|day| bar.advance(day.len() as u64));
            if path.as_os_str() == "-" {
                let stdout = std::io::stdout();
                mingma_sim::write_jsonl(&city, ticking, &keys, stdout.lock())?;
            } else {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                mingma_sim::write_jsonl(&city, ticking, &keys, file)?;
            }
            bar.finish();
            eprintln!("{}", days.stats());
        }
        None => {
            let city = Arc::new(city);
            let progress = |p| bar.progress(p);
            let done = crate::with_store!(args.db.open_or_create().await?, |store| {
                mingma_bench::ingest(
                    &store,
                    city.clone(),
                    keys.clone(),
                    args.writers,
                    args.batch,
                    &progress,
                )
                .await?
            });
            bar.finish();
            let seconds = done.appending.as_secs_f64();
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "appended {} records ({} scans) in {:.1} s of appends ({:.1} s with generation): {:.0} scans/s; per call of {}: p50 {:.1} ms, p99 {:.1} ms; {} cases",
                done.records,
                done.scans,
                seconds,
                done.elapsed.as_secs_f64(),
                done.scans as f64 / seconds,
                args.batch,
                done.ack_p50.as_secs_f64() * 1e3,
                done.ack_p99.as_secs_f64() * 1e3,
                done.cases.len()
            )?;
        }
    }
    Ok(())
}
