//! Times `Store::persons_in_division` for a district over 4 days (what the
//! affected-persons step of a 3-day declaration asks), median of 7 warm runs:
//! `cargo run --release -p mingma-bench --example affected_timing -- DB DISTRICT END`
//! (END: RFC 3339, the end of the window).

use std::time::Instant;

use mingma_core::{Jurisdiction, Span, Timestamp};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = args.get(1).map_or("bench.sqlite", String::as_str);
    let district = Jurisdiction::parse(args.get(2).map_or("410105", String::as_str))?;
    let until = Timestamp::parse(
        args.get(3)
            .map_or("2022-06-15T00:00:00+08:00", String::as_str),
    )?;
    let from = until.minus(Span::days(4));
    let store = SqliteStore::open(db)?;
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..8 {
        let started = Instant::now();
        found = store
            .persons_in_division(district, from, until)
            .await?
            .len();
        times.push(started.elapsed());
    }
    times.remove(0);
    times.sort();
    println!(
        "persons_in_division({district}, 4 days): {found} persons, median {:.1} ms (min {:.1}, max {:.1})",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
