//! `mingma bench`: the benchmark suite (see the mingma-bench crate).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mingma_bench::{BaselineTarget, BenchConfig, Report};

use crate::progress::Bar;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Simulate a city, run every measurement beside the PostgreSQL baseline, and
    /// write the results (JSON) and a Markdown table.
    Run(RunArgs),
    /// Open a store and print (JSON) the resident memory the open added: the probe
    /// `bench run` starts in a fresh process.
    Memory {
        /// The SQLite database file.
        #[arg(long)]
        db: PathBuf,
    },
    /// The service load test: the HTTP service over a benchmark city's store
    /// (`DIR/bench.sqlite`, streamed in first if missing), driven over loopback by an
    /// in-process client (bounded in requests and time): JSON code display, HTML
    /// code page, check-ins, an overload phase at twice the measured capacity, and
    /// recovery. Writes the results (JSON) and prints a Markdown table.
    Serve(ServeArgs),
    /// How fast `mingma import` stores signed evidence: a registered lab's sealed
    /// test results imported into fresh SQLite stores, every seal checked, beside
    /// the same import without seal checks and the store's appends alone (median
    /// of the runs; prints a Markdown table).
    Import(crate::import::bench::ImportBenchArgs),
    /// Draw an SVG chart of how each figure grows, from result files.
    Chart {
        /// Result files written by `bench run`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Where to write the SVG.
        #[arg(long, short)]
        out: PathBuf,
    },
}

/// The simulated city and where its store lives (shared by `bench run` and `bench
/// serve`).
#[derive(Args)]
pub struct CityArgs {
    /// Residents.
    #[arg(long, default_value_t = 10_000)]
    persons: u32,
    /// Days simulated.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// The simulator's seed.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Working directory of the store's file (`bench.sqlite`).
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    city: CityArgs,
    /// Where to write the results (JSON).
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
    /// Concurrent append calls.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Records per append call (and rows per baseline insert batch).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// The baseline: `cluster` (a throwaway PostgreSQL 15 cluster), `skip`, or a
    /// postgres:// URL.
    #[arg(long, default_value = "cluster")]
    baseline: String,
    /// Rows of the baseline's batched-insert measurement.
    #[arg(long, default_value_t = 1_000_000)]
    baseline_inserts: u64,
    /// Cases traced.
    #[arg(long, default_value_t = 20)]
    trace_cases: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The city of the store (as given to `bench run`).
    #[command(flatten)]
    city: CityArgs,
    /// Holders signed in; requests cycle over them.
    #[arg(long, default_value_t = 10_000)]
    holders: u32,
    /// Concurrent connections per phase.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Time limit of each measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Request limit of each measured phase.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Length of the overload phase, in seconds.
    #[arg(long, default_value_t = 60.0)]
    overload_seconds: f64,
    /// Where to write the results (JSON).
    #[arg(long, default_value = "target/bench/load.json")]
    out: PathBuf,
    /// Load offered in the overload phase, in multiples of the measured capacity.
    #[arg(long, default_value_t = 2.0)]
    overload_factor: f64,
    /// The capacity's fraction the door uses in the overload phase (code displays at
    /// that fraction of their measured rate); console work makes up the rest of the
    /// overload factor.
    #[arg(long, default_value_t = 0.5)]
    door_share: f64,
    /// Only build the store if it is missing; run no load.
    #[arg(long)]
    prepare_only: bool,
}

fn seconds(name: &str, value: f64) -> Result<std::time::Duration> {
    if !(0.1..=3600.0).contains(&value) {
        anyhow::bail!("--{name} must be 0.1 to 3600 seconds, not {value}");
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

pub async fn run(command: &BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Serve(args) => {
            let config = mingma_bench::load::LoadConfig {
                seed: args.city.seed,
                persons: args.city.persons,
                days: args.city.days,
                dir: args.city.dir.clone(),
                holders: args.holders.min(args.city.persons),
                connections: args.connections,
                phase: seconds("seconds", args.seconds)?,
                max_requests: args.max_requests,
                overload: seconds("overload-seconds", args.overload_seconds)?,
                overload_factor: match args.overload_factor {
                    f if (0.1..=100.0).contains(&f) => f,
                    f => anyhow::bail!("--overload-factor must be 0.1 to 100, not {f}"),
                },
                door_share: match args.door_share {
                    d if (0.0..=1.0).contains(&d) && d <= args.overload_factor => d,
                    d => anyhow::bail!(
                        "--door-share must be 0 to 1 and at most --overload-factor, not {d}"
                    ),
                },
            };
            let bar = Bar::new();
            if args.prepare_only {
                let path = mingma_bench::load::prepare(&config, &|p| bar.progress(p)).await?;
                bar.finish();
                println!("store: {}", path.display());
                return Ok(());
            }
            let report = mingma_bench::load::run(&config, &|p| bar.progress(p)).await?;
            bar.finish();
            if let Some(parent) = args.out.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!("{}", mingma_bench::load::markdown(&report));
            println!("results: {}", args.out.display());
        }
        BenchCommand::Run(args) => {
            let mut config =
                BenchConfig::new(args.city.persons, args.city.days, args.city.dir.clone());
            config.seed = args.city.seed;
            config.writers = args.writers;
            config.batch = args.batch;
            config.baseline_inserts = args.baseline_inserts;
            config.trace_cases = args.trace_cases;
            config.baseline = match args.baseline.as_str() {
                "cluster" => BaselineTarget::Cluster,
                "skip" => BaselineTarget::Skip,
                url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    BaselineTarget::Url(url.to_owned())
                }
                other => anyhow::bail!(
                    "--baseline must be `cluster`, `skip` or a postgres:// URL, not `{other}`"
                ),
            };
            config.probe = std::env::current_exe().ok();
            let bar = Bar::new();
            let report = mingma_bench::run(&config, &|p| bar.progress(p)).await?;
            bar.finish();
            if let Some(parent) = args.out.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!("{}", mingma_bench::markdown(&report));
            println!("results: {}", args.out.display());
        }
        BenchCommand::Import(args) => crate::import::bench::run(args).await?,
        BenchCommand::Memory { db } => {
            let memory = mingma_bench::measure_open(db, crate::memory::release_freed_pages)?;
            println!("{}", serde_json::to_string(&memory)?);
        }
        BenchCommand::Chart { results, out } => {
            let mut reports: Vec<Report> = Vec::new();
            for path in results {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                reports.push(
                    serde_json::from_str(&text).with_context(|| {
                        format!("{} is not a bench result file", path.display())
                    })?,
                );
            }
            std::fs::write(out, mingma_bench::chart(&reports))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("chart of {} runs: {}", reports.len(), out.display());
        }
    }
    Ok(())
}
