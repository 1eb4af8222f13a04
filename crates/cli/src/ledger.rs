//! `mingma ledger ...`: sign checkpoints, verify the ledger, purge expired scans,
//! and issue and check receipts (see `receipt.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use mingma_authority::{Registry, Vouching};
use mingma_core::{RuleSet, Span, Timestamp};
use mingma_ledger::NoteVerifier;
use mingma_store::receipt::{sign_checkpoint, Signed};
use mingma_store::{verify, LogIdentity, PurgeReport, Store, VerifyReport};

use crate::db::DbArg;
use crate::input::{load_rules, now, parse_time};
use crate::keys::{load_signer, parse_vkey};
use crate::receipt::{self, CheckReceiptArgs, ReceiptArgs};

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Sign a checkpoint of the log as it is now, after checking it extends the last one.
    Checkpoint(CheckpointArgs),
    /// Recompute everything the ledger claims from what the store holds.
    Verify(VerifyArgs),
    /// Write a receipt (inclusion proof) for a record or a person's code change.
    Receipt(ReceiptArgs),
    /// Check a receipt offline, with the log's verifier key.
    CheckReceipt(CheckReceiptArgs),
    /// Delete venue scans past the retention window, recording the purge in the log.
    Purge(PurgeArgs),
}

pub async fn run(command: &LedgerCommand) -> Result<()> {
    match command {
        LedgerCommand::Checkpoint(args) => checkpoint_command(args).await,
        LedgerCommand::Verify(args) => verify_command(args).await,
        LedgerCommand::Receipt(args) => receipt::receipt_command(args).await,
        LedgerCommand::CheckReceipt(args) => receipt::check_receipt_command(args),
        LedgerCommand::Purge(args) => purge_command(args).await,
    }
}

// ---------------------------------------------------------------------------------
// checkpoint

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    db: DbArg,
    /// File holding the log's signer key string (from `mingma keygen`); MINGMA_LOG_KEY
    /// (the key string itself) if omitted.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The log's origin line, e.g. `mingma.example/log`.
    #[arg(long)]
    origin: String,
}

async fn checkpoint_command(args: &CheckpointArgs) -> Result<()> {
    let signer = load_signer(args.key.as_deref())?;
    let signed = crate::with_store!(args.db.open_existing().await?, |store| {
        sign_checkpoint(&store, &signer, &args.origin).await?
    });
    match signed {
        Signed::New(note) => {
            print!("{note}");
        }
        Signed::Unchanged(note) => {
            eprintln!("the log has not grown since its latest checkpoint, which stands:");
            print!("{note}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// verify

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DbArg,
    /// The log's verifier key string; without it checkpoint signatures are not checked.
    #[arg(long, requires = "origin")]
    vkey: Option<String>,
    /// The log's origin line (with --vkey).
    #[arg(long, requires = "vkey")]
    origin: Option<String>,
    /// Rule set to re-derive cached code states with (TOML); the default rule set if omitted.
    #[arg(long)]
    rules: Option<PathBuf>,
}

async fn verify_command(args: &VerifyArgs) -> Result<()> {
    let verifier = args
        .vkey
        .as_deref()
        .map(|v| parse_vkey(v, "--vkey"))
        .transpose()?;
    let rules = load_rules(args.rules.as_deref())?;
    let log = verifier.as_ref().zip(args.origin.as_deref());
    let (text, first) = crate::with_store!(args.db.open_existing().await?, |store| {
        verify_ledger(&store, log, &rules).await?
    });
    print!("{text}");
    match first {
        None => Ok(()),
        Some(problem) => Err(anyhow!("first problem: {problem}")),
    }
}

/// Runs the verification and renders it; returns the text and the first finding.
pub async fn verify_ledger<S: Store>(
    store: &S,
    log: Option<(&NoteVerifier, &str)>,
    rules: &RuleSet,
) -> Result<(String, Option<String>)> {
    let identity = log.map(|(verifier, origin)| LogIdentity { verifier, origin });
    // The authority acts, replayed: they give the keys every seal is checked with,
    // and an act that does not check (forged, unauthorised) is a finding too.
    let registry = Registry::replay(
        store
            .acts(0)
            .await
            .context("verification could not read the authority acts")?,
    );
    let vouching = Vouching::new(registry.keys.clone());
    let seals = mingma_engine::SealCheck::new(&vouching);
    let mut report = verify(store, identity, rules, Some(&seals))
        .await
        .context("verification could not read the store")?;
    for (leaf, problem) in &registry.problems {
        report.findings.push(mingma_store::Finding::Leaf {
            index: *leaf,
            problem: format!("authority act ignored: {problem}"),
        });
    }
    // Appeal steps: each decodes, and a signed one (a rejection must be) carries a
    // valid signature by its official's registered key.
    let mut signed_steps = 0usize;
    for (leaf, bytes) in &report.appeal_steps {
        let problem = match mingma_server::appeals::StepEntry::from_bytes(bytes) {
            None => Some("appeal step does not decode".to_owned()),
            Some(step) => {
                signed_steps += usize::from(step.signer.is_some());
                step.check_signature(&registry.keys).err()
            }
        };
        if let Some(problem) = problem {
            report.findings.push(mingma_store::Finding::Leaf {
                index: *leaf,
                problem,
            });
        }
    }
    report.findings.sort_by_key(|f| match f {
        mingma_store::Finding::Leaf { index, .. } => *index,
        _ => u64::MAX,
    });
    let (mut text, first) = render_report(&report, log, rules);
    text = text.replacen(
        "code states:",
        &format!(
            "acts:           {} authority acts ({} applied; seals checked against their keys)\n\
             appeal steps:   {} ({} signed by their officials; signatures checked)\ncode states:",
            registry.applied as usize + registry.problems.len(),
            registry.applied,
            report.appeal_steps.len(),
            signed_steps
        ),
        1,
    );
    Ok((text, first))
}

fn render_report(
    report: &VerifyReport,
    log: Option<(&NoteVerifier, &str)>,
    rules: &RuleSet,
) -> (String, Option<String>) {
    let mut out = String::new();
    let _ = writeln!(out, "leaves:         {}", report.leaves);
    let _ = writeln!(
        out,
        "records:        {} (each checked against its leaf)",
        report.records
    );
    let _ = writeln!(
        out,
        "purged:         {} (record leaves whose rows a logged purge removed)",
        report.purged
    );
    let _ = writeln!(
        out,
        "batches:        {} code-change batches",
        report.batches
    );
    let _ = writeln!(
        out,
        "code states:    {} (re-derived with {} {})",
        report.code_states, rules.id, rules.version
    );
    let _ = writeln!(
        out,
        "histories:      {} (each holder's changes as served, against the batches)",
        report.histories
    );
    match log {
        Some((verifier, origin)) => {
            let _ = writeln!(
                out,
                "checkpoints:    {} (signatures checked with key {}+{:08x}, origin {origin})",
                report.checkpoints,
                verifier.name(),
                verifier.key_id()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "checkpoints:    {} (signatures NOT checked: no --vkey given; roots and consistency are checked)",
                report.checkpoints
            );
        }
    }
    match report.root {
        Some(root) => {
            let _ = writeln!(out, "root:           {root} ({})", root.to_base64());
        }
        None => {
            let _ = writeln!(out, "root:           -");
        }
    }
    if report.is_clean() {
        let _ = writeln!(out, "clean: nothing found wrong");
        return (out, None);
    }
    let _ = writeln!(out, "findings:       {}", report.findings.len());
    for finding in &report.findings {
        let _ = writeln!(out, "  {finding}");
    }
    (out, report.findings.first().map(ToString::to_string))
}

// ---------------------------------------------------------------------------------
// purge

#[derive(Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    db: DbArg,
    /// How long scans are kept (e.g. 21d, 14d12h).
    #[arg(long, default_value = "21d")]
    retention: String,
    /// The present moment (RFC 3339); the system clock if omitted.
    #[arg(long)]
    now: Option<String>,
}

async fn purge_command(args: &PurgeArgs) -> Result<()> {
    let retention = Span::parse(&args.retention).map_err(|e| anyhow!("--retention: {e}"))?;
    let now = match &args.now {
        Some(text) => parse_time(text, "--now")?,
        None => now()?,
    };
    let before = now.minus(retention);
    let report = crate::with_store!(args.db.open_existing().await?, |store| {
        store
            .purge_scans(before)
            .await
            .context("the purge failed; nothing was removed")?
    });
    print!("{}", render_purge(&report, before, retention));
    Ok(())
}

fn render_purge(report: &PurgeReport, before: Timestamp, retention: Span) -> String {
    let mut out = String::new();
    let n = report.removed.len();
    if n == 0 {
        let _ = writeln!(
            out,
            "no scan entered before {before} (retention {retention}) to remove"
        );
    } else {
        let _ = writeln!(
            out,
            "removed {n} scan{} entered before {before} (retention {retention}): leaves {}",
            if n == 1 { "" } else { "s" },
            ranges(&report.removed)
        );
    }
    if report.kept_referenced > 0 {
        let _ = writeln!(
            out,
            "kept {} scan{} entered before {before} because live evidence (a close-contact designation) refers to {}",
            report.kept_referenced,
            if report.kept_referenced == 1 { "" } else { "s" },
            if report.kept_referenced == 1 { "it" } else { "them" }
        );
    }
    if let Some(leaf) = report.leaf {
        let _ = writeln!(
            out,
            "the purge is recorded at leaf {leaf}; sign a checkpoint to cover it (`mingma ledger checkpoint`)"
        );
    }
    out
}

/// `1-3, 7, 9-12`, at most 50 ranges.
fn ranges(leaves: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = leaves.iter().copied().peekable();
    let mut total = 0;
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        total += 1;
        if parts.len() < 50 {
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
    }
    if total > parts.len() {
        parts.push(format!("… ({} more ranges)", total - parts.len()));
    }
    parts.join(", ")
}
