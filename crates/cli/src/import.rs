//! `mingma import`: an evidence file into the store, in file order.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;
use mingma_core::Evidence;
use mingma_store::{Store, StoreError};

use crate::db::DbArg;
use crate::input::{read_evidence, PseudonymKeyArg};

/// Records per `append` call (one transaction each).
const BATCH: usize = 10_000;

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArg,
    /// Evidence file, JSON Lines (see the README for the format).
    file: PathBuf,
    #[command(flatten)]
    pseudonym_key: PseudonymKeyArg,
}

pub async fn run(args: &ImportArgs) -> Result<()> {
    let key = args.pseudonym_key.key()?;
    // The whole file is checked before anything is stored.
    let file = read_evidence(&args.file, &key)?;
    let counts = crate::with_store!(args.db.open_or_create().await?, |store| {
        import(&store, file.records).await?
    });
    println!(
        "imported {}: {} new, {} already stored",
        args.file.display(),
        counts.fresh,
        counts.already
    );
    if let Some((first, last)) = counts.new_leaves {
        println!("new records are at leaves {first}-{last}; sign a checkpoint to cover them");
    }
    Ok(())
}

/// How an import went.
#[derive(Debug, Default)]
pub struct Counts {
    pub fresh: u64,
    pub already: u64,
    /// Lowest and highest leaf of the new records.
    pub new_leaves: Option<(u64, u64)>,
}

/// Appends `records` in order, `BATCH` per transaction.
pub async fn import<S: Store>(store: &S, records: Vec<Evidence>) -> Result<Counts> {
    let mut counts = Counts::default();
    let total = records.len();
    let mut done = 0usize;
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let batch: Vec<Evidence> = records.by_ref().take(BATCH).collect();
        let size = batch.len();
        let appended = store.append(batch).await.map_err(|e| {
            let stored = if done == 0 {
                "nothing of this file was stored".to_owned()
            } else {
                format!(
                    "the first {done} of its {total} records were stored ({} new, {} already stored); importing the file again after fixing it stores the rest",
                    counts.fresh, counts.already
                )
            };
            match e {
                StoreError::Conflict { .. } | StoreError::Invalid { .. } => {
                    anyhow!("refused: {e}; {stored}")
                }
                other => anyhow!("the store failed: {other}; {stored}"),
            }
        })?;
        for a in &appended {
            if a.fresh {
                counts.fresh += 1;
                counts.new_leaves = Some(match counts.new_leaves {
                    None => (a.leaf, a.leaf),
                    Some((lo, hi)) => (lo.min(a.leaf), hi.max(a.leaf)),
                });
            } else {
                counts.already += 1;
            }
        }
        done += size;
    }
    Ok(counts)
}
