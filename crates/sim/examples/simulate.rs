//! Generates a city and measures the generator.
//!
//! ```sh
//! cargo run --release -p mingma-sim --example simulate -- [PERSONS [DAYS [SEED]]] [--threads N] [--out FILE | --evidence]
//! ```
//!
//! Defaults: 100,000 residents, 7 days, seed 1. Without `--out` it only generates
//! (pure generation speed); with it, it also writes the evidence file (`-` for
//! standard output); with `--evidence` it turns every record into a
//! `mingma_core::Evidence` (what an import into a store does). The summary goes to
//! standard error.

use std::time::Instant;

use mingma_sim::{City, CityConfig};

fn main() -> std::io::Result<()> {
    let mut numbers = Vec::new();
    let mut threads = None;
    let mut out = None;
    let mut evidence = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--out" => out = args.next(),
            "--evidence" => evidence = true,
            n => numbers.push(n.parse::<u64>().expect("PERSONS DAYS SEED are numbers")),
        }
    }
    let number = |i: usize, default: u64| numbers.get(i).copied().unwrap_or(default);
    let config = CityConfig::new(number(2, 1), number(0, 100_000) as u32, number(1, 7) as u32);
    let started = Instant::now();
    let city = City::generate(&config);
    eprintln!(
        "city: {} residents, {} venues generated in {:.2} s",
        city.person_count(),
        city.venue_count(),
        started.elapsed().as_secs_f64()
    );
    let mut days = city.days();
    if let Some(n) = threads {
        days = days.threads(n);
    }
    let keys = (evidence || out.is_some()).then(|| {
        let started = Instant::now();
        let keys = city.person_keys(&mingma_core::PseudonymKey::from_bytes([0; 32]));
        eprintln!("person keys in {:.2} s", started.elapsed().as_secs_f64());
        keys
    });
    let started = Instant::now();
    match out.as_deref() {
        None if evidence => {
            let keys = keys.as_ref().expect("computed above");
            let mut records = 0usize;
            for day in &mut days {
                records += day.evidence(&city, keys).count();
            }
            eprintln!("{records} evidence records built");
        }
        None => {
            let mut records = 0usize;
            for day in &mut days {
                records += day.len();
            }
            eprintln!("{records} records generated");
        }
        Some("-") => {
            let keys = keys.as_ref().expect("computed above");
            mingma_sim::write_jsonl(&city, &mut days, keys, std::io::stdout().lock())?;
        }
        Some(path) => {
            let keys = keys.as_ref().expect("computed above");
            mingma_sim::write_jsonl(&city, &mut days, keys, std::fs::File::create(path)?)?;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = days.stats();
    eprintln!("{stats}");
    eprintln!(
        "simulated {} days in {:.2} s: {:.2} million scans/s, {:.2} million records/s",
        stats.days,
        elapsed,
        stats.scans as f64 / elapsed / 1e6,
        stats.records() as f64 / elapsed / 1e6
    );
    Ok(())
}
