//! Bulk intake of evidence: a JSON Lines or CSV stream checked line by line and
//! appended to the store. One pipeline serves `mingma import` (a file) and
//! `POST /api/v1/evidence/bulk` (a request body).
//!
//! The input is read once, in order, a chunk of lines at a time, so memory does
//! not grow with it. A reading task parses each chunk on `workers` threads, checks
//! each line as `read_evidence_file` would (fields, directory, venues) and each
//! seal against the keys the store's authority acts registered ([`Vouching`],
//! signatures verified in batches); the importing task then lets the caller admit
//! or refuse each record ([`Hooks::admit`]: the API takes only the caller's own),
//! follows references (to earlier lines and to stored records), applies the intake
//! checks to officials' records, and appends the good records of the chunk in one
//! call while the next chunk is being read. Bad lines are reported, each with its
//! line, field and reason, and nothing of a bad line is stored; the others are.
//!
//! What a line may be:
//! - An evidence record. One recorded by an official or a data source must carry a
//!   valid seal by a key the store's acts registered to that recorder, valid when
//!   it was recorded; an official's record must also pass
//!   [`mingma_authority::intake::check_official_act`] under the official's grants.
//!   Records that need a second official's approval are imported like any other
//!   (derivation ignores them until an approval is recorded).
//! - A registry line. Authorities, officials and data sources are registered by
//!   admins' acts, never by a file: an `authority`, `official` or `data_source` line
//!   must name one the acts registered, with the same jurisdiction, authority and
//!   kind (names are not compared), and registers nothing; records name the
//!   registered ones whether or not the input lists them. A `venue` line says where
//!   the input's scans were made (venues are not registered by acts) and must come
//!   before the lines naming the venue; the same venue given twice differently (or
//!   differently from a venue the caller's directory already has) is an error.
//! - A reference must point at a record stored before, or on an earlier line that
//!   was not refused: a line referring to a refused line is refused, saying so.
//! - The same record as one stored counts as already stored; a different record
//!   under a stored id is an error of its line.

pub mod lines;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use mingma_authority::intake::{check_official_act, ActRefusal};
use mingma_authority::{Registry, Vouching};
use mingma_core::{
    check_references, read_entry, read_record, venues_named, Directory, Entry, Evidence,
    EvidenceBody, LineError, Names, Problem, PseudonymKey, RawLine, RecordId, RecordLookup,
    Recorder, Venue, VenueId,
};
use mingma_store::{Store, StoreError};

pub use lines::{Format, Lines, Pending, CSV_TYPES};

/// Lines per chunk: each chunk's good records are one `append` call.
pub const CHUNK: usize = 10_000;

/// Threads that parse and check lines: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check seals. Always on for `mingma import` and the bulk API; only the import
    /// benchmark turns it off, to measure the cost of the checks beside the same
    /// import without.
    pub check_seals: bool,
    /// Threads that parse lines and verify signatures.
    pub workers: usize,
}

/// How an import went.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Records newly stored.
    pub fresh: u64,
    /// Records that were already stored (or given twice in the input).
    pub already: u64,
    /// Lines refused.
    pub refused: u64,
    /// Lines read that are not blank or comments.
    pub lines: u64,
    /// Lowest and highest leaf of the new records.
    pub new_leaves: Option<(u64, u64)>,
}

/// Where an import has got to, after each chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Lines of this chunk, blank ones included.
    pub read: u64,
    /// Lines read so far, blank ones included.
    pub lines_read: u64,
    /// Bytes of the input read so far.
    pub position: u64,
}

/// What an import tells its caller as it goes, and the one decision it leaves to
/// it (which records it takes at all).
pub trait Hooks {
    /// Whether the caller takes `record`, whose line, names and seal are good:
    /// `Err` refuses its line with that problem (asked in line order, before the
    /// record's references are followed).
    fn admit(&mut self, _record: &Evidence) -> Result<(), Problem> {
        Ok(())
    }

    /// A refused line, with the record id it gave, if any; given in line order
    /// within each chunk of lines.
    fn refused(&mut self, error: &LineError, id: Option<&RecordId>);

    /// A record newly stored, at ledger leaf `leaf` (not called for records that
    /// were already stored).
    fn stored(&mut self, _record: &Evidence, _leaf: u64) {}

    /// A chunk of lines is done.
    fn progress(&mut self, _progress: Progress) {}
}

/// One chunk, read and checked line by line, ready for references and appending.
struct Prepared {
    /// Records whose line, directory names and seal are good, in line order.
    records: Vec<(usize, Evidence)>,
    /// Refused lines, with the record id the line gave, if any.
    refused: Vec<(LineError, Option<RecordId>)>,
    /// Venues first given in this chunk.
    venues: Vec<Venue>,
    /// Lines that are not blank or comments.
    lines: u64,
    /// Lines read, blank ones included (for progress).
    read: u64,
    /// Bytes of the input read so far.
    position: u64,
}

/// Imports `lines` into `store`: see the module documentation. `registry` is the
/// store's authority acts replayed (keys, grants, the registered directory);
/// `directory` is what records are read against — the registry's directory, with
/// any venues the caller already knows. Every refused line goes to
/// [`Hooks::refused`]; the import goes on. Returns an error only when the input
/// cannot be read or the store fails (what was appended before stays: importing
/// again stores the rest).
pub async fn import<S: Store, R: BufRead + Send + 'static, H: Hooks + ?Sized>(
    store: &S,
    registry: Arc<Registry>,
    directory: Directory,
    lines: Lines<R>,
    key: PseudonymKey,
    options: &Options,
    hooks: &mut H,
) -> Result<Counts> {
    let vouching = Arc::new(Vouching::new(registry.keys.clone()));
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Prepared>>(2);
    let reading = {
        let registry = registry.clone();
        let options = options.clone();
        let directory = directory.clone();
        tokio::task::spawn_blocking(move || {
            read_chunks(
                lines, &registry, directory, &vouching, &key, &options, &sender,
            )
        })
    };

    let mut state = Importer {
        store,
        registry: &registry,
        directory,
        rejected: HashMap::new(),
        fetched: HashMap::new(),
        counts: Counts::default(),
    };
    let mut lines_read = 0u64;
    let mut outcome = Ok(());
    while let Some(prepared) = receiver.recv().await {
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        lines_read += prepared.read;
        let (read, position) = (prepared.read, prepared.position);
        if let Err(e) = state.chunk(prepared, hooks).await {
            outcome = Err(e.context(format!(
                "the import stopped; the records of the lines before were stored ({} new, {} already stored): importing the file again stores the rest",
                state.counts.fresh, state.counts.already
            )));
            break;
        }
        hooks.progress(Progress {
            read,
            lines_read,
            position,
        });
    }
    drop(receiver);
    let read_result = reading
        .await
        .map_err(|_| anyhow!("the reading thread failed"))?;
    outcome?;
    read_result?;
    Ok(state.counts)
}

/// The reading thread: chunks of lines, parsed and checked on `options.workers`
/// threads, sent in order.
fn read_chunks<R: BufRead>(
    mut lines: Lines<R>,
    registry: &Registry,
    mut directory: Directory,
    vouching: &Vouching,
    key: &PseudonymKey,
    options: &Options,
    sender: &tokio::sync::mpsc::Sender<Result<Prepared>>,
) -> Result<()> {
    // The line of each venue given, and whether a venue line was refused.
    let mut venue_lines: HashMap<VenueId, usize> = HashMap::new();
    loop {
        let chunk = match lines.next_chunk(CHUNK) {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return Ok(());
            }
        };
        if chunk.is_empty() {
            return Ok(());
        }
        let read = chunk.len() as u64;
        let position = lines.position();
        // 1. JSON (or the CSV row) and `type`, on every core.
        let parsed = match parallel_map(chunk, options.workers, |(line, pending)| {
            (line, pending.parse())
        }) {
            Ok(parsed) => parsed,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return Ok(());
            }
        };
        // 2. Registry lines, in order.
        let mut prepared = Prepared {
            records: Vec::new(),
            refused: Vec::new(),
            venues: Vec::new(),
            lines: 0,
            read,
            position,
        };
        let mut records: Vec<(usize, RawLine)> = Vec::with_capacity(parsed.len());
        for (line, outcome) in parsed {
            match outcome {
                Ok(None) => {}
                Ok(Some(raw)) if raw.is_entry() => {
                    prepared.lines += 1;
                    match registry_line(raw, registry, &directory, &venue_lines) {
                        Ok(Some(venue)) => {
                            venue_lines.insert(venue.id.clone(), line);
                            prepared.venues.push(venue.clone());
                            Entry::Venue(venue).add_to(&mut directory);
                        }
                        Ok(None) => {}
                        Err(problem) => {
                            prepared.refused.push((LineError::new(line, problem), None))
                        }
                    }
                }
                Ok(Some(raw)) => {
                    prepared.lines += 1;
                    records.push((line, raw));
                }
                Err((problem, id)) => {
                    prepared.lines += 1;
                    prepared.refused.push((LineError::new(line, problem), id));
                }
            }
        }
        // 3. Records and their seals, on every core.
        let checked = match check_records(records, &directory, &venue_lines, vouching, key, options)
        {
            Ok(checked) => checked,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return Ok(());
            }
        };
        for (line, outcome) in checked {
            match outcome {
                Ok(evidence) => prepared.records.push((line, evidence)),
                Err((problem, id)) => prepared.refused.push((LineError::new(line, problem), id)),
            }
        }
        if sender.blocking_send(Ok(prepared)).is_err() {
            // The importer stopped.
            return Ok(());
        }
    }
}

/// Checks a registry line against the store's registry; a venue line gives the
/// venue to add.
fn registry_line(
    raw: RawLine,
    registry: &Registry,
    directory: &Directory,
    venue_lines: &HashMap<VenueId, usize>,
) -> Result<Option<Venue>, Problem> {
    let unregistered = |what: &str, id: &dyn std::fmt::Display| {
        Problem::at(
            "id",
            format!("{what} `{id}` is not registered in this store's authority acts; an import registers nothing (registration is an admin's act)"),
        )
    };
    let differs = |what: &str, id: &dyn std::fmt::Display, field: &str, registered: &str| {
        Problem::at(
            field,
            format!("{what} `{id}` is registered with `{field}` = `{registered}`; the line says otherwise"),
        )
    };
    let known = &registry.directory;
    match read_entry(raw)? {
        Entry::Authority(a) => {
            let r = known
                .authorities
                .get(&a.id)
                .ok_or_else(|| unregistered("authority", &a.id))?;
            if r.jurisdiction != a.jurisdiction {
                return Err(differs(
                    "authority",
                    &a.id,
                    "jurisdiction",
                    &r.jurisdiction.to_string(),
                ));
            }
            Ok(None)
        }
        Entry::Official(o) => {
            let r = known
                .officials
                .get(&o.id)
                .ok_or_else(|| unregistered("official", &o.id))?;
            if r.authority != o.authority {
                return Err(differs(
                    "official",
                    &o.id,
                    "authority",
                    &r.authority.to_string(),
                ));
            }
            Ok(None)
        }
        Entry::Source(s) => {
            let r = known
                .sources
                .get(&s.id)
                .ok_or_else(|| unregistered("data source", &s.id))?;
            if r.kind != s.kind {
                return Err(differs("data source", &s.id, "kind", r.kind.name()));
            }
            if r.authority != s.authority {
                return Err(differs(
                    "data source",
                    &s.id,
                    "authority",
                    &r.authority.to_string(),
                ));
            }
            Ok(None)
        }
        Entry::Venue(v) => match directory.venues.get(&v.id) {
            Some(earlier) if *earlier == v => Ok(None),
            Some(_) => Err(Problem::at(
                "id",
                format!(
                    "venue `{}` is already given differently{}",
                    v.id,
                    venue_lines
                        .get(&v.id)
                        .map(|l| format!(" by line {l}"))
                        .unwrap_or_default()
                ),
            )),
            None => Ok(Some(v)),
        },
    }
}

/// Reads and seal-checks records on `options.workers` threads, in line order.
#[allow(clippy::type_complexity)]
fn check_records(
    records: Vec<(usize, RawLine)>,
    directory: &Directory,
    venue_lines: &HashMap<VenueId, usize>,
    vouching: &Vouching,
    key: &PseudonymKey,
    options: &Options,
) -> Result<Vec<(usize, Result<Evidence, (Problem, Option<RecordId>)>)>> {
    let per = records.len().div_ceil(options.workers.max(1)).max(1);
    let mut parts: Vec<Vec<(usize, RawLine)>> = Vec::new();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        parts.push(records.by_ref().take(per).collect());
    }
    let work = |part: Vec<(usize, RawLine)>| {
        let mut out: Vec<(usize, Result<Evidence, (Problem, Option<RecordId>)>)> =
            Vec::with_capacity(part.len());
        for (line, raw) in part {
            let id = raw.record_id();
            let outcome = read_record(directory, raw, key, Names::Registered)
                .and_then(|evidence| {
                    // A venue is known from its line on.
                    for venue in venues_named(&evidence) {
                        if venue_lines.get(venue).is_some_and(|l| *l > line) {
                            return Err(Problem::at(
                                "venue",
                                format!("unknown venue `{venue}` here: its `venue` line comes later, and an import reads the file in order"),
                            ));
                        }
                    }
                    Ok(evidence)
                })
                .map_err(|p| (p, id));
            out.push((line, outcome));
        }
        if options.check_seals {
            let good: Vec<&Evidence> = out.iter().filter_map(|(_, o)| o.as_ref().ok()).collect();
            let seals = vouching.check_batch(&good);
            let mut seals = seals.into_iter();
            for (_, outcome) in out.iter_mut() {
                if let Ok(evidence) = outcome {
                    if let Some(Err(refusal)) = seals.next() {
                        let id = evidence.id.clone();
                        *outcome = Err((Problem::at("seal", refusal.to_string()), Some(id)));
                    }
                }
            }
        }
        out
    };
    if parts.len() <= 1 {
        return Ok(parts.into_iter().flat_map(work).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        join_all(handles)
    })
}

/// `f` over `items` on up to `workers` threads, keeping the order.
pub fn parallel_map<T: Send, U: Send>(
    items: Vec<T>,
    workers: usize,
    f: impl Fn(T) -> U + Sync,
) -> Result<Vec<U>> {
    let per = items.len().div_ceil(workers.max(1)).max(1);
    if workers <= 1 || items.len() <= per {
        return Ok(items.into_iter().map(f).collect());
    }
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(items.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        join_all(handles)
    })
}

/// The results of scoped threads, in order; an error if one of them panicked.
fn join_all<U>(handles: Vec<std::thread::ScopedJoinHandle<'_, Vec<U>>>) -> Result<Vec<U>> {
    let mut out = Vec::new();
    for handle in handles {
        out.extend(
            handle
                .join()
                .map_err(|_| anyhow!("a worker thread of the import failed"))?,
        );
    }
    Ok(out)
}

/// The importing side: references, intake checks, appends.
struct Importer<'a, S> {
    store: &'a S,
    registry: &'a Registry,
    /// The registry's directory with the file's venues (for the intake checks).
    directory: Directory,
    /// Ids of refused lines, with their line.
    rejected: HashMap<RecordId, usize>,
    /// Stored records read for references (bounded).
    fetched: HashMap<RecordId, Evidence>,
    counts: Counts,
}

/// Where references are looked up: the chunk's good records, then stored ones.
struct Lookup<'b> {
    batch: &'b [(usize, Evidence)],
    index: &'b HashMap<RecordId, usize>,
    fetched: &'b HashMap<RecordId, Evidence>,
}

impl RecordLookup for Lookup<'_> {
    fn find(&self, id: &RecordId) -> Option<(Option<usize>, &Evidence)> {
        if let Some((line, evidence)) = self.index.get(id).and_then(|i| self.batch.get(*i)) {
            return Some((Some(*line), evidence));
        }
        self.fetched.get(id).map(|e| (None, e))
    }
}

impl<S: Store> Importer<'_, S> {
    /// References, intake, append of one chunk; reports its refused lines in order.
    async fn chunk<H: Hooks + ?Sized>(&mut self, prepared: Prepared, hooks: &mut H) -> Result<()> {
        self.counts.lines += prepared.lines;
        for venue in prepared.venues {
            self.directory.venues.insert(venue.id.clone(), venue);
        }
        let mut refused = prepared.refused;
        for (error, id) in &refused {
            if let Some(id) = id {
                self.rejected.entry(id.clone()).or_insert(error.line);
            }
        }
        if self.fetched.len() > 100_000 {
            self.fetched.clear();
        }
        let mut batch: Vec<(usize, Evidence)> = Vec::with_capacity(prepared.records.len());
        let mut index: HashMap<RecordId, usize> = HashMap::new();
        for (line, evidence) in prepared.records {
            if let Some((first, earlier)) = index.get(&evidence.id).and_then(|i| batch.get(*i)) {
                if *earlier == evidence {
                    self.counts.already += 1;
                } else {
                    let problem = Problem::at(
                        "id",
                        format!(
                            "record id `{}` is already used by line {first} for a different record",
                            evidence.id
                        ),
                    );
                    self.refuse(&mut refused, line, problem, &evidence.id);
                }
                continue;
            }
            if let Err(problem) = hooks.admit(&evidence) {
                self.refuse(&mut refused, line, problem, &evidence.id);
                continue;
            }
            match self.check_line(&evidence, &batch, &index).await? {
                Ok(()) => {
                    index.insert(evidence.id.clone(), batch.len());
                    batch.push((line, evidence));
                }
                Err(problem) => self.refuse(&mut refused, line, problem, &evidence.id),
            }
        }
        self.append(batch, &mut refused, hooks).await?;
        refused.sort_by_key(|(e, _)| e.line);
        self.counts.refused += refused.len() as u64;
        for (error, id) in &refused {
            hooks.refused(error, id.as_ref());
        }
        Ok(())
    }

    fn refuse(
        &mut self,
        refused: &mut Vec<(LineError, Option<RecordId>)>,
        line: usize,
        problem: Problem,
        id: &RecordId,
    ) {
        self.rejected.entry(id.clone()).or_insert(line);
        refused.push((LineError::new(line, problem), Some(id.clone())));
    }

    /// The checks of one record against what it refers to: `Err` from the store,
    /// `Ok(Err(problem))` if the line is refused.
    async fn check_line(
        &mut self,
        evidence: &Evidence,
        batch: &[(usize, Evidence)],
        index: &HashMap<RecordId, usize>,
    ) -> Result<Result<(), Problem>> {
        // What it refers to (refused lines first, then this chunk, then the store),
        // and for an approval or rejection of a retraction, what that retracts.
        for (role, target) in evidence.references() {
            let field = role.field();
            if let Some(line) = self.rejected.get(target) {
                return Ok(Err(Problem::at(
                    field,
                    format!("`{field}` refers to `{target}`, which line {line} of this file gave and was refused"),
                )));
            }
            let Some(found) = self.resolve(target, batch, index).await? else {
                return Ok(Err(Problem::at(
                    field,
                    format!("`{field}` refers to `{target}`, which is neither stored nor on an earlier line of this file"),
                )));
            };
            if let (
                EvidenceBody::Approval { .. } | EvidenceBody::Rejection { .. },
                EvidenceBody::Retraction {
                    target: retracted, ..
                },
            ) = (&evidence.body, &found.body)
            {
                self.resolve(retracted, batch, index).await?;
            }
        }
        let lookup = Lookup {
            batch,
            index,
            fetched: &self.fetched,
        };
        if let Some(problem) = check_references(evidence, &lookup).into_iter().next() {
            return Ok(Err(problem));
        }
        if let Recorder::Official(official) = &evidence.recorded_by {
            let target = evidence
                .references()
                .into_iter()
                .find(|(role, _)| role.field() == "target")
                .and_then(|(_, id)| lookup.find(id).map(|(_, e)| e));
            if let Err(refusal) = check_official_act(
                official,
                self.registry.grants_of(official),
                evidence,
                target,
                &self.directory,
            ) {
                return Ok(Err(intake_problem(&refusal)));
            }
        }
        Ok(Ok(()))
    }

    /// The record `id` from this chunk or the store (kept in `fetched`).
    async fn resolve(
        &mut self,
        id: &RecordId,
        batch: &[(usize, Evidence)],
        index: &HashMap<RecordId, usize>,
    ) -> Result<Option<Evidence>> {
        if let Some((_, record)) = index.get(id).and_then(|j| batch.get(*j)) {
            return Ok(Some(record.clone()));
        }
        if let Some(record) = self.fetched.get(id) {
            return Ok(Some(record.clone()));
        }
        let stored = self
            .store
            .record(id)
            .await
            .with_context(|| format!("cannot read record `{id}`"))?;
        Ok(stored.map(|s| {
            self.fetched.insert(id.clone(), s.evidence.clone());
            s.evidence
        }))
    }

    /// Appends `batch`; a record the store refuses (a different record under its
    /// id) is refused with the lines that refer to it, and the rest appended.
    async fn append<H: Hooks + ?Sized>(
        &mut self,
        mut batch: Vec<(usize, Evidence)>,
        refused: &mut Vec<(LineError, Option<RecordId>)>,
        hooks: &mut H,
    ) -> Result<()> {
        loop {
            if batch.is_empty() {
                return Ok(());
            }
            let records: Vec<Evidence> = batch.iter().map(|(_, e)| e.clone()).collect();
            let error = match self.store.append(records).await {
                Ok(appended) => {
                    let by_id: HashMap<&RecordId, &Evidence> =
                        batch.iter().map(|(_, e)| (&e.id, e)).collect();
                    for a in &appended {
                        if a.fresh {
                            if let Some(evidence) = by_id.get(&a.id) {
                                hooks.stored(evidence, a.leaf);
                            }
                            self.counts.fresh += 1;
                            self.counts.new_leaves = Some(match self.counts.new_leaves {
                                None => (a.leaf, a.leaf),
                                Some((lo, hi)) => (lo.min(a.leaf), hi.max(a.leaf)),
                            });
                        } else {
                            self.counts.already += 1;
                        }
                    }
                    return Ok(());
                }
                Err(e @ (StoreError::Conflict { .. } | StoreError::Invalid { .. })) => e,
                Err(other) => return Err(anyhow!("the store failed: {other}")),
            };
            // Find every record the store will refuse, not only the first.
            let mut out: BTreeMap<usize, Problem> = BTreeMap::new();
            if let StoreError::Invalid { id, reason } = &error {
                if let Some(i) = batch.iter().position(|(_, e)| &e.id == id) {
                    out.insert(i, Problem::line(format!("refused by the store: {reason}")));
                }
            }
            for (i, (_, evidence)) in batch.iter().enumerate() {
                if let Some(stored) = self
                    .store
                    .record(&evidence.id)
                    .await
                    .with_context(|| format!("cannot read record `{}`", evidence.id))?
                {
                    if stored.evidence != *evidence {
                        out.insert(
                            i,
                            Problem::at(
                                "id",
                                format!(
                            "record id `{}` is already used by a different stored record (leaf {})",
                            evidence.id, stored.leaf
                        ),
                            ),
                        );
                    }
                }
            }
            if out.is_empty() {
                return Err(anyhow!("the store refused the records: {error}"));
            }
            // Lines referring to a refused one are refused too (references point
            // back, so one pass in line order finds them all).
            let mut gone: HashSet<RecordId> = HashSet::new();
            let mut kept = Vec::with_capacity(batch.len());
            for (i, (line, evidence)) in batch.into_iter().enumerate() {
                let problem = out.remove(&i).or_else(|| {
                    evidence.references().into_iter().find_map(|(role, id)| {
                        gone.contains(id).then(|| {
                            let field = role.field();
                            let at = self.rejected.get(id).copied().unwrap_or_default();
                            Problem::at(field, format!("`{field}` refers to `{id}`, which line {at} of this file gave and was refused"))
                        })
                    })
                });
                match problem {
                    Some(problem) => {
                        gone.insert(evidence.id.clone());
                        self.refuse(refused, line, problem, &evidence.id);
                    }
                    None => kept.push((line, evidence)),
                }
            }
            batch = kept;
        }
    }
}

/// An intake refusal as a line problem, naming the field at fault.
fn intake_problem(refusal: &ActRefusal) -> Problem {
    let field = match refusal {
        ActRefusal::NotTheRecorder { .. }
        | ActRefusal::UnknownOfficial(_)
        | ActRefusal::Authorisation { .. } => Some("recorded_by"),
        ActRefusal::NotTheirAuthority { .. } => Some("authority"),
        ActRefusal::NoLegalBasis { .. } => Some("legal_basis"),
        ActRefusal::NoTarget { .. }
        | ActRefusal::NothingToDecide { .. }
        | ActRefusal::OwnRecord { .. }
        | ActRefusal::NotTheOwner { .. } => Some("target"),
        ActRefusal::Unknown { .. } => None,
    };
    Problem {
        field: field.map(str::to_owned),
        message: refusal.to_string(),
    }
}
