//! `mingma ledger receipt` writes a receipt, `mingma ledger check-receipt` checks one
//! offline, with nothing but the log's verifier key and origin. The receipt itself
//! lives in `mingma_store::receipt` (the server issues the same receipts).

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgGroup, Args};
use mingma_core::RecordId;
use mingma_store::receipt::{check, issue, Receipt, Target};

use crate::db::DbArg;
use crate::keys::{parse_vkey, write_secret};

#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).args(["record", "code_change"])))]
pub struct ReceiptArgs {
    #[command(flatten)]
    db: DbArg,
    /// The record id.
    record: Option<String>,
    /// A person's code change instead: the batch leaf and the position in the batch.
    #[arg(long, value_name = "LEAF:POSITION")]
    code_change: Option<String>,
    /// Write the receipt here (mode 0600: it holds the record) instead of to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn receipt_command(args: &ReceiptArgs) -> Result<()> {
    let target = match (&args.record, &args.code_change) {
        (Some(id), None) => {
            Target::Record(RecordId::parse(id).map_err(|e| anyhow!("record id {id:?}: {e}"))?)
        }
        (None, Some(at)) => {
            let parsed = at
                .split_once(':')
                .and_then(|(l, p)| Some((l.parse::<u64>().ok()?, p.parse::<u64>().ok()?)));
            let (leaf, position) = parsed.ok_or_else(|| {
                anyhow!("--code-change {at:?}: write <batch leaf>:<position>, e.g. 57:3")
            })?;
            Target::CodeChange { leaf, position }
        }
        _ => bail!("give a record id or --code-change LEAF:POSITION, not both"),
    };
    let receipt = crate::with_store!(args.db.open_existing().await?, |store| {
        issue(&store, &target).await?
    });
    let json = receipt.to_json();
    match &args.out {
        Some(path) => {
            write_secret(path, json.as_bytes(), true)?;
            eprintln!("wrote the receipt to {}", path.display());
        }
        None => print!("{json}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// check-receipt

#[derive(Args)]
pub struct CheckReceiptArgs {
    /// The receipt (JSON).
    file: PathBuf,
    /// The log's verifier key string.
    #[arg(long)]
    vkey: String,
    /// The log's origin line.
    #[arg(long)]
    origin: String,
}

pub fn check_receipt_command(args: &CheckReceiptArgs) -> Result<()> {
    let verifier = parse_vkey(&args.vkey, "--vkey")?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let receipt = Receipt::from_json(&text)
        .map_err(|problem| anyhow!("invalid receipt {}: {problem}", args.file.display()))?;
    let proved = check(&receipt, Some((&verifier, &args.origin)))
        .map_err(|problem| anyhow!("invalid receipt {}: {problem}", args.file.display()))?;
    print!("{proved}");
    Ok(())
}
