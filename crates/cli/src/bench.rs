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

#[derive(Args)]
pub struct RunArgs {
    /// Residents.
    #[arg(long, default_value_t = 10_000)]
    persons: u32,
    /// Days simulated.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// The simulator's seed.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Working directory for the store's file.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
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

pub async fn run(command: &BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Run(args) => {
            let mut config = BenchConfig::new(args.persons, args.days, args.dir.clone());
            config.seed = args.seed;
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
        BenchCommand::Memory { db } => {
            let memory = mingma_bench::measure_open(db)?;
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
