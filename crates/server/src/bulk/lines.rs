//! Reading an import's input (a file, a request body: any [`BufRead`]) a chunk of
//! lines at a time: JSON Lines or CSV.
//!
//! Neither reader holds more than one chunk. JSON Lines are handed over as text
//! (parsed on the worker threads); CSV rows are split here and handed over as the
//! JSON object the same row would be in JSON Lines, so both formats go through the
//! same checks and give the same errors.
//!
//! # The CSV format
//!
//! One record per row; the first row is a header naming the columns. Column names
//! are the field names of the JSON Lines format (`type`, `id`, `subject`,
//! `recorded_by`, `authority`, `legal_basis`, `effective_at`, `recorded_at`, `seal`
//! and the fields of each type), in any order; an empty cell is an absent field,
//! and a row may leave empty the columns its type does not have (a cell filled in a
//! column its type does not have is an error of that row). CSV carries the records
//! whose fields are all single values: `test_result`, `border_entry`,
//! `case_report`, `case_closure`, `quarantine_order`, `quarantine_release`,
//! `venue_scan`, `retraction`, `approval`, `rejection`. Registry lines, close
//! contacts (an exposure) and risk areas (lists) are JSON Lines only. Quoting is
//! RFC 4180; the line number of a row is the file line it starts on (the header is
//! line 1).

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};
use mingma_core::{Problem, RawLine, RecordId};
use serde_json::{Map, Value};

/// The types a CSV row may have.
pub const CSV_TYPES: [&str; 10] = [
    "test_result",
    "border_entry",
    "case_report",
    "case_closure",
    "quarantine_order",
    "quarantine_release",
    "venue_scan",
    "retraction",
    "approval",
    "rejection",
];

/// Every column a CSV header may name.
pub const CSV_COLUMNS: [&str; 27] = [
    "type",
    "id",
    "subject",
    "recorded_by",
    "authority",
    "legal_basis",
    "effective_at",
    "recorded_at",
    "seal",
    "method",
    "outcome",
    "sampled_at",
    "classification",
    "test",
    "case",
    "port",
    "origin",
    "setting",
    "facility",
    "ground",
    "planned_end",
    "order",
    "venue",
    "left_at",
    "presence",
    "target",
    "reason",
];

/// One line as read: JSON text still to parse, or a CSV row already made an object.
pub enum Pending {
    /// A JSON Lines line.
    Text(String),
    /// A CSV row.
    Row(Result<RawLine, Problem>),
}

impl Pending {
    /// Parses the line (`None`: blank or a comment). A line that does not parse
    /// comes with the record id it seems to give, if any, so that the lines
    /// referring to it can say what they refer to.
    pub fn parse(self) -> Result<Option<RawLine>, (Problem, Option<RecordId>)> {
        match self {
            Pending::Text(text) => RawLine::parse(&text).map_err(|p| (p, id_in(&text))),
            Pending::Row(row) => row.map(Some).map_err(|p| (p, None)),
        }
    }
}

/// The record id a broken JSON line seems to give: the text after its first
/// `"id":"`, if it is a valid id.
fn id_in(text: &str) -> Option<RecordId> {
    let (_, rest) = text.split_once(r#""id":""#)?;
    let (id, _) = rest.split_once('"')?;
    RecordId::parse(id).ok()
}

/// The format of an import's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines (the evidence file of the README).
    Jsonl,
    /// CSV with a header row (see the module documentation and the README).
    Csv,
}

impl Format {
    /// The format of `path` by its extension: `.csv` is CSV, anything else JSON Lines.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Jsonl,
        }
    }
}

/// An input being read, a chunk at a time.
pub enum Lines<R> {
    /// JSON Lines.
    Jsonl {
        /// The input.
        reader: R,
        /// Lines read so far.
        line: usize,
        /// Bytes read so far.
        bytes: u64,
    },
    /// CSV.
    Csv {
        /// The CSV reader, past the header.
        reader: csv::Reader<R>,
        /// The header's columns.
        columns: Vec<String>,
    },
}

impl<R: BufRead> Lines<R> {
    /// Reads `reader` as `format` (for CSV, reads and checks the header); `name`
    /// (a file's path, `request body`) starts the messages about the header.
    pub fn new(reader: R, format: Format, name: &str) -> Result<Lines<R>> {
        match format {
            Format::Jsonl => Ok(Lines::Jsonl {
                reader,
                line: 0,
                bytes: 0,
            }),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .from_reader(reader);
                let header = reader
                    .byte_headers()
                    .with_context(|| format!("{name}: line 1: cannot read the CSV header"))?;
                let mut columns = Vec::with_capacity(header.len());
                for (i, cell) in header.iter().enumerate() {
                    let Ok(column) = std::str::from_utf8(cell) else {
                        bail!(
                            "{name}: line 1: column {} of the header is not UTF-8",
                            i + 1
                        );
                    };
                    // A byte-order mark before the first column is not part of it.
                    let column = column.trim_start_matches('\u{feff}').trim();
                    if column.is_empty() || !CSV_COLUMNS.contains(&column) {
                        bail!(
                            "{name}: line 1: field `{column}`: the header names an unknown column (columns are the fields of the JSON Lines format: {})",
                            CSV_COLUMNS.join(", ")
                        );
                    }
                    if columns.iter().any(|c| c == column) {
                        bail!(
                            "{name}: line 1: field `{column}`: the header names the column twice"
                        );
                    }
                    columns.push(column.to_owned());
                }
                if !columns.iter().any(|c| c == "type") {
                    bail!("{name}: line 1: field `type`: the header has no `type` column");
                }
                Ok(Lines::Csv { reader, columns })
            }
        }
    }

    /// Bytes of the input read so far.
    pub fn position(&self) -> u64 {
        match self {
            Lines::Jsonl { bytes, .. } => *bytes,
            Lines::Csv { reader, .. } => reader.position().byte(),
        }
    }

    /// Up to `n` more lines, each with its line number; empty at the end.
    pub fn next_chunk(&mut self, n: usize) -> Result<Vec<(usize, Pending)>> {
        let mut out = Vec::with_capacity(n);
        match self {
            Lines::Jsonl {
                reader,
                line,
                bytes,
            } => {
                let mut buffer = Vec::new();
                while out.len() < n {
                    buffer.clear();
                    let read = reader
                        .read_until(b'\n', &mut buffer)
                        .context("cannot read the input")?;
                    if read == 0 {
                        break;
                    }
                    *line += 1;
                    *bytes += read as u64;
                    let pending = match String::from_utf8(std::mem::take(&mut buffer)) {
                        Ok(text) => Pending::Text(text),
                        Err(_) => Pending::Row(Err(Problem::line("the line is not UTF-8"))),
                    };
                    out.push((*line, pending));
                }
            }
            Lines::Csv { reader, columns } => {
                let mut record = csv::ByteRecord::new();
                while out.len() < n {
                    let more = match reader.read_byte_record(&mut record) {
                        Ok(more) => more,
                        Err(e) => {
                            // A malformed row (bad quoting): report it and go on.
                            let line = e
                                .position()
                                .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                            out.push((
                                line,
                                Pending::Row(Err(Problem::line(format!("not valid CSV: {e}")))),
                            ));
                            continue;
                        }
                    };
                    if !more {
                        break;
                    }
                    let line = record
                        .position()
                        .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                    out.push((line, Pending::Row(row_object(columns, &record))));
                }
            }
        }
        Ok(out)
    }
}

/// A CSV row as the JSON object of the same record.
fn row_object(columns: &[String], record: &csv::ByteRecord) -> Result<RawLine, Problem> {
    if record.len() != columns.len() {
        return Err(Problem::line(format!(
            "the row has {} cells, the header {} columns",
            record.len(),
            columns.len()
        )));
    }
    let mut map = Map::new();
    for (column, cell) in columns.iter().zip(record.iter()) {
        let text = std::str::from_utf8(cell)
            .map_err(|_| Problem::at(column, format!("`{column}` is not UTF-8")))?;
        if !text.is_empty() {
            map.insert(column.clone(), Value::String(text.to_owned()));
        }
    }
    let raw = RawLine::from_object(map)?;
    if !CSV_TYPES.contains(&raw.kind()) {
        return Err(Problem::at(
            "type",
            format!(
                "`{}` records are not carried in CSV (CSV types: {}); use JSON Lines",
                raw.kind(),
                CSV_TYPES.join(", ")
            ),
        ));
    }
    Ok(raw)
}
