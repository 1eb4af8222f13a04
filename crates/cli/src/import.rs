//! `mingma import`: an evidence file (JSON Lines or CSV) into the store, streamed.
//!
//! The pipeline is [`mingma_server::bulk`] (which the service's bulk API,
//! `POST /api/v1/evidence/bulk`, runs too; its documentation says what a line may
//! be and how each is checked): the file is read once, in order, a chunk of lines
//! at a time, on a reading thread that parses and seal-checks each chunk on every
//! core, while the importing task follows references, applies the intake checks
//! and appends each chunk's good records in one call. This command opens the file
//! against the registry the store's authority acts give, shows a progress bar,
//! prints every refused line (line, field, reason; also to `--errors FILE`) and
//! the counts; nothing of a refused line is stored, the other lines' records are.

pub mod bench;

use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use mingma_authority::Registry;
use mingma_core::{LineError, PseudonymKey, RecordId};
use mingma_server::bulk::{self, Hooks, Lines, Progress};
use mingma_store::Store;

use crate::db::DbArg;
use crate::input::PseudonymKeyArg;
use crate::progress::Bar;
pub use mingma_server::bulk::{parallel_map, workers, Counts, Format, Options, CHUNK};

/// The format of an import file, as `--format` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// JSON Lines (the evidence file of the README).
    Jsonl,
    /// CSV with a header row (see `mingma import --help` and the README).
    Csv,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Format {
        match arg {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: DbArg,
    /// Evidence file: JSON Lines, or CSV with a header row (see the README).
    file: PathBuf,
    /// The file's format; by its extension if omitted (`.csv` is CSV, anything else
    /// JSON Lines).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Also write every refused line to this file, one JSON object per line:
    /// `{"line", "field", "reason", "id"}`.
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    #[command(flatten)]
    pseudonym_key: PseudonymKeyArg,
}

pub async fn run(args: &ImportArgs) -> Result<()> {
    let key = args.pseudonym_key.key()?;
    let format = args
        .format
        .map_or_else(|| Format::of(&args.file), Format::from);
    let mut errors_file = match &args.errors {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let name = args.file.display().to_string();
    let bar = Bar::new();
    let started = Instant::now();
    let mut write_failed = None;
    let counts = {
        let mut report = |error: &LineError, id: Option<&RecordId>| {
            let text = match &error.field {
                Some(field) => format!(
                    "{name}: line {}: field `{field}`: {}",
                    error.line, error.message
                ),
                None => format!("{name}: line {}: {}", error.line, error.message),
            };
            bar.println(&text);
            if let Some(out) = errors_file.as_mut() {
                let line = serde_json::json!({
                    "line": error.line,
                    "field": error.field,
                    "reason": error.message,
                    "id": id.map(ToString::to_string),
                });
                if let Err(e) = writeln!(out, "{line}") {
                    write_failed.get_or_insert(e);
                }
            }
        };
        let options = Options {
            check_seals: true,
            workers: workers(),
        };
        let outcome = crate::with_store!(args.db.open_or_create().await?, |store| {
            import(
                &store,
                &args.file,
                format,
                key,
                &options,
                &mut report,
                Some(&bar),
            )
            .await
        });
        bar.finish();
        outcome?
    };
    if let Some(out) = errors_file.as_mut() {
        if let Err(e) = out.flush() {
            write_failed.get_or_insert(e);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "imported {name}: {} new, {} already stored, {} lines refused ({} lines read in {seconds:.1} s, {:.0} lines/s)",
        counts.fresh,
        counts.already,
        counts.refused,
        counts.lines,
        counts.lines as f64 / seconds.max(1e-9),
    );
    if let Some((first, last)) = counts.new_leaves {
        println!("new records are at leaves {first}-{last}; sign a checkpoint to cover them");
    }
    if let (Some(e), Some(path)) = (write_failed, &args.errors) {
        bail!(
            "could not write the refused lines to {}: {e}",
            path.display()
        );
    }
    if counts.refused > 0 {
        bail!(
            "{} of the {} lines of {name} were refused (each is listed above{}); nothing of them was stored, the other records were",
            counts.refused,
            counts.lines,
            args.errors
                .as_ref()
                .map(|p| format!(" and in {}", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Imports `path` into `store` through [`bulk::import`], against the registry the
/// store's authority acts give. Every refused line is given to `report` (with the
/// record id it had, if any) in line order within each chunk of lines; the import
/// goes on. Returns an error only when the file cannot be read or the store fails
/// (what was appended before stays: importing again stores the rest).
pub async fn import<S: Store>(
    store: &S,
    path: &Path,
    format: Format,
    key: PseudonymKey,
    options: &Options,
    report: &mut dyn FnMut(&LineError, Option<&RecordId>),
    bar: Option<&Bar>,
) -> Result<Counts> {
    let registry = Arc::new(Registry::replay(
        store
            .acts(0)
            .await
            .context("cannot read the store's authority acts")?,
    ));
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines = Lines::new(
        BufReader::with_capacity(1 << 20, file),
        format,
        &path.display().to_string(),
    )?;
    if let Some(bar) = bar {
        bar.phase("importing", Some(0));
    }
    let directory = registry.directory.clone();
    let mut hooks = FileHooks { report, bar, size };
    bulk::import(store, registry, directory, lines, key, options, &mut hooks).await
}

/// What an import of a file reports: refused lines to `report`, progress to the
/// bar (its total estimated from the bytes read so far).
struct FileHooks<'a, 'b> {
    report: &'a mut dyn FnMut(&LineError, Option<&RecordId>),
    bar: Option<&'b Bar>,
    size: u64,
}

impl Hooks for FileHooks<'_, '_> {
    fn refused(&mut self, error: &LineError, id: Option<&RecordId>) {
        (self.report)(error, id);
    }

    fn progress(&mut self, progress: Progress) {
        if let Some(bar) = self.bar {
            if let Some(total) = progress
                .lines_read
                .saturating_mul(self.size)
                .checked_div(progress.position)
            {
                bar.set_total(total);
            }
            bar.advance(progress.read);
        }
    }
}
