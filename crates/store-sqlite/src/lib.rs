//! Mingma's embedded store: one SQLite file, no server.
//!
//! - WAL mode with `synchronous=FULL`: a commit is on disk before it is acknowledged,
//!   across power loss.
//! - One writer thread owns the write connection. Callers queue their writes; the
//!   writer takes every write waiting and commits them in one transaction: group
//!   commit, one fsync for many appends. If any write of the group is refused, the
//!   group is rolled back and each write retried in a transaction of its own, so one
//!   caller's refused write never undoes another's.
//! - The writer keeps the ledger's `Frontier` in memory, so appending a leaf costs
//!   its hash and the hashes it completes; proofs read the tree's levels of 256 leaves
//!   and more from memory and the rest from `ledger_nodes`.
//! - Readers use a small pool of read-only connections on blocking threads; WAL lets
//!   them read while the writer writes.
//! - Scans are found by venue and time and by person and time through an in-memory
//!   read model (`scan_index.rs`), built at open and updated by the writer after each
//!   commit; their rows are then read by leaf. The `scans` table has no secondary
//!   index on venue or person, so an append writes where the last one did.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod reading;
mod scan_index;
mod schema;
mod writer;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use mingma_core::commitment::Salt;
use mingma_core::{
    canonical, scan_in_area, Evidence, EvidenceBody, EvidenceKind, Jurisdiction, Level, PersonKey,
    Presence, RecordId, Recorder, RiskAreaScope, RuleSet, Span, Timestamp, VenueId, VenueKind,
};
use mingma_ledger::{Hash, HashSource};
use mingma_store::nodes::generated;
use mingma_store::{
    colour_from_byte, Appended, CodeChange, CodeState, DerivationInputs, PurgeReport,
    RecordedBatch, Result, Stay, StoreError, StoredCheckpoint, StoredLeaf, StoredRecord,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::oneshot;

pub use crate::reading::SqliteReading;
use crate::scan_index::ScanIndex;
pub use crate::scan_index::ScanIndexStats;
use crate::writer::Job;

/// The SQLite store. Cloning is cheap; all clones share one writer and one pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// Reads that run at once, each on its own connection.
const READERS: usize = 8;
/// Of those, reads made at low priority ([`mingma_store::at_low_priority`]).
const LOW_READERS: usize = 2;

struct Inner {
    path: PathBuf,
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Mutex<Vec<Connection>>,
    /// Reads running at once, at most [`READERS`]: one connection each, kept in
    /// `readers` between reads. A burst of reads (thousands of background code
    /// checks, a crowd of console requests) waits here instead of opening and
    /// closing a connection per read on hundreds of threads, whose maps and unmaps
    /// of the file stall every thread of the process.
    reading: Arc<tokio::sync::Semaphore>,
    /// The share of those reads that work at low priority may hold
    /// ([`mingma_store::at_low_priority`]): it never makes the others wait for a
    /// connection.
    reading_low: Arc<tokio::sync::Semaphore>,
    upper: Arc<UpperNodes>,
    scans: Arc<ScanIndex>,
    shared: Mutex<SharedRecords>,
    shared_changes: Arc<SharedChanges>,
    /// At most this many scans are read ahead at once for a derivation of many
    /// people ([`SqliteStore::read_ahead_scans`]).
    read_ahead_scans: std::sync::atomic::AtomicUsize,
}

/// Runs a statement without parameters through the connection's statement cache
/// (`execute_batch` would parse it at every call).
pub(crate) fn run_cached(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(backend)
}

/// The durability settings every connection runs with, for benchmarks to print.
pub const DURABILITY: &str = "journal_mode=WAL, synchronous=FULL";

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, runs pending migrations and
    /// starts the writer.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(backend)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        schema::checkpoint_left_over_wal(&conn)?;
        let upper = Arc::new(UpperNodes::load(&conn)?);
        // The scan index is built through a connection of its own, without
        // memory-mapping and with a small page cache: one pass over the whole table
        // through the write connection's mapping would leave the file's pages resident
        // in this process (reclaimable, but counted as its memory).
        let scans = {
            let build = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(backend)?;
            build
                .execute_batch("PRAGMA mmap_size=0; PRAGMA cache_size=-2048;")
                .map_err(backend)?;
            Arc::new(ScanIndex::load(&build)?)
        };
        let shared_changes = Arc::new(SharedChanges::default());
        let jobs = writer::start(conn, upper.clone(), scans.clone(), shared_changes.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                jobs: Mutex::new(jobs),
                readers: Mutex::new(Vec::new()),
                reading: Arc::new(tokio::sync::Semaphore::new(READERS - LOW_READERS)),
                reading_low: Arc::new(tokio::sync::Semaphore::new(LOW_READERS)),
                upper,
                scans,
                shared: Mutex::default(),
                shared_changes,
                read_ahead_scans: reading::READ_AHEAD_SCANS.into(),
            }),
        })
    }

    /// Sizes of the in-memory scan indexes (for benchmarks).
    pub fn scan_index_stats(&self) -> ScanIndexStats {
        self.inner.scans.stats()
    }

    /// Sets how many scans a derivation of many people may read ahead at once
    /// (`reading::READ_AHEAD_SCANS` unless set; about 100 bytes each while it runs).
    /// Fewer means more passes over the declared areas, each reading its rows further
    /// apart.
    pub fn read_ahead_scans(&self, scans: usize) {
        self.inner
            .read_ahead_scans
            .store(scans.max(1), Ordering::Relaxed);
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .lock()
            .map_err(|_| backend("writer queue poisoned"))?
            .send(make(reply))
            .map_err(|_| backend("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| backend("the writer thread dropped the request"))?
    }

    /// Runs `read` on a pooled read connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        let lane = if mingma_store::at_low_priority_now() {
            &inner.reading_low
        } else {
            &inner.reading
        };
        let permit = lane
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| backend("the read pool was closed"))?;
        tokio::task::spawn_blocking(move || {
            // Held until the read ends, even if the caller stopped waiting.
            let _permit = permit;
            let conn = match inner
                .readers
                .lock()
                .map_err(|_| backend("pool poisoned"))?
                .pop()
            {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open_with_flags(
                        &inner.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(backend)?;
                    schema::configure_reader(&conn)?;
                    conn
                }
            };
            let result = read(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                if pool.len() < READERS {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(backend)?
    }
}

// ------------------------------------------------------------------ row codecs

pub(crate) fn kind_code(kind: EvidenceKind) -> i64 {
    EvidenceKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0) as i64
}

pub(crate) fn presence_code(p: Presence) -> i64 {
    Presence::ALL.iter().position(|x| *x == p).unwrap_or(0) as i64
}

pub(crate) fn venue_kind_code(k: VenueKind) -> i64 {
    VenueKind::ALL.iter().position(|x| *x == k).unwrap_or(0) as i64
}

fn time(seconds: i64) -> Result<Timestamp> {
    Timestamp::from_unix_seconds(seconds)
        .ok_or_else(|| corrupt(format!("time {seconds} out of range")))
}

fn salt(bytes: Vec<u8>) -> Result<Salt> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("salt is not 32 bytes"))?;
    Ok(Salt::from_bytes(bytes))
}

fn hash(bytes: Vec<u8>) -> Result<Hash> {
    Hash::from_slice(&bytes).map_err(|_| corrupt("hash is not 32 bytes"))
}

fn person_key(bytes: Vec<u8>) -> Result<PersonKey> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("person key is not 32 bytes"))?;
    Ok(PersonKey::from_bytes(bytes))
}

pub(crate) fn pid_of(conn: &Connection, person: &PersonKey) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT pid FROM persons WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row([person.as_bytes().as_slice()], |r| r.get(0))
                .optional()
        })
        .map_err(backend)
}

/// The key of person `pid`: from the scan index if it holds the person, else read.
fn key_of(conn: &Connection, index: &ScanIndex, pid: i64) -> Result<PersonKey> {
    if let Some(key) = index.key(pid) {
        return Ok(key);
    }
    let bytes: Vec<u8> = conn
        .prepare_cached("SELECT key FROM persons WHERE pid = ?1")
        .and_then(|mut s| s.query_row([pid], |r| r.get(0)))
        .map_err(|e| corrupt(format!("person {pid}: {e}")))?;
    person_key(bytes)
}

/// Columns selected for a record row.
const RECORD_COLUMNS: &str = "leaf, canonical, salt, seal";

/// A record row: leaf, canonical bytes, salt, seal.
type RecordRow = (i64, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

fn record_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn stored_record((leaf, bytes, salt_bytes, seal): RecordRow) -> Result<StoredRecord> {
    Ok(StoredRecord {
        evidence: record_evidence(leaf, &bytes, seal)?,
        leaf: leaf as u64,
        salt: salt(salt_bytes)?,
    })
}

/// The record a row at `leaf` holds: its canonical bytes decoded, with its seal.
fn record_evidence(leaf: i64, bytes: &[u8], seal: Option<Vec<u8>>) -> Result<Evidence> {
    let mut evidence = canonical::decode_canonical(bytes)
        .map_err(|e| corrupt(format!("record at leaf {leaf}: {e}")))?;
    evidence.seal =
        match seal {
            None => None,
            Some(bytes) => Some(mingma_core::Seal::from_bytes(&bytes).ok_or_else(|| {
                corrupt(format!("record at leaf {leaf}: the seal is not 72 bytes"))
            })?),
        };
    Ok(evidence)
}

/// Columns selected for a scan row, joined with its venue.
const SCAN_COLUMNS: &str =
    "leaf, id, pid, vid, entered, left_at, presence, recorded_at, proxy, official, authority, salt";

pub(crate) struct ScanRow {
    leaf: i64,
    id: String,
    pid: i64,
    vid: i64,
    entered: i64,
    left_at: Option<i64>,
    presence: i64,
    recorded_at: i64,
    proxy: Option<i64>,
    official: Option<String>,
    authority: Option<String>,
    salt: Vec<u8>,
}

fn scan_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScanRow> {
    let mut scan = scan_row_without_salt(row)?;
    scan.salt = row.get(11)?;
    Ok(scan)
}

/// Columns selected for a scan row when its salt is not wanted (derivation).
pub(crate) const SCAN_COLUMNS_WITHOUT_SALT: &str =
    "leaf, id, pid, vid, entered, left_at, presence, recorded_at, proxy, official, authority";

impl ScanRow {
    /// The row's fields, borrowed.
    fn fields(&self) -> ScanFields<'_> {
        ScanFields {
            leaf: self.leaf,
            id: &self.id,
            pid: self.pid,
            vid: self.vid,
            entered: self.entered,
            left_at: self.left_at,
            presence: self.presence,
            recorded_at: self.recorded_at,
            proxy: self.proxy,
            official: self.official.as_deref(),
            authority: self.authority.as_deref(),
        }
    }
}

/// The fields of a scan row that make its record (all but the salt), borrowed from
/// a row just read ([`ScanRow`]) or from a declaration's scans read ahead
/// (`reading::Segment`).
pub(crate) struct ScanFields<'a> {
    pub(crate) leaf: i64,
    pub(crate) id: &'a str,
    pub(crate) pid: i64,
    pub(crate) vid: i64,
    pub(crate) entered: i64,
    pub(crate) left_at: Option<i64>,
    pub(crate) presence: i64,
    pub(crate) recorded_at: i64,
    pub(crate) proxy: Option<i64>,
    pub(crate) official: Option<&'a str>,
    pub(crate) authority: Option<&'a str>,
}

/// A scan row selected with [`SCAN_COLUMNS_WITHOUT_SALT`] (its `salt` left empty).
pub(crate) fn scan_row_without_salt(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScanRow> {
    Ok(ScanRow {
        leaf: row.get(0)?,
        id: row.get(1)?,
        pid: row.get(2)?,
        vid: row.get(3)?,
        entered: row.get(4)?,
        left_at: row.get(5)?,
        presence: row.get(6)?,
        recorded_at: row.get(7)?,
        proxy: row.get(8)?,
        official: row.get(9)?,
        authority: row.get(10)?,
        salt: Vec::new(),
    })
}

/// A venue as a scan row refers to it (by its interned `vid`).
#[derive(Clone)]
pub(crate) struct Venue {
    id: VenueId,
    street: Jurisdiction,
    kind: VenueKind,
}

/// The venues scan rows refer to: each row read and parsed once, then kept by the
/// scan index (an interned venue's row never changes).
pub(crate) struct Venues<'c> {
    conn: &'c Connection,
    index: &'c ScanIndex,
}

impl<'c> Venues<'c> {
    pub(crate) fn new(conn: &'c Connection, index: &'c ScanIndex) -> Self {
        Self { conn, index }
    }

    fn get(&mut self, vid: i64) -> Result<Venue> {
        if let Some(venue) = self.index.venue(vid) {
            return Ok(venue);
        }
        let (id, street, kind): (String, i64, i64) = self
            .conn
            .prepare_cached("SELECT id, street, kind FROM venues WHERE vid = ?1")
            .and_then(|mut s| s.query_row([vid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
            .map_err(backend)?;
        let bad = |what: String| corrupt(format!("venue {vid}: {what}"));
        let venue = Venue {
            id: VenueId::parse(&id).map_err(|e| bad(e.to_string()))?,
            street: Jurisdiction::parse(&format!("{street:09}")).map_err(|e| bad(e.to_string()))?,
            kind: *VenueKind::ALL
                .get(usize::try_from(kind).unwrap_or(usize::MAX))
                .ok_or_else(|| bad(format!("kind {kind}")))?,
        };
        self.index.keep_venue(vid, venue.clone());
        Ok(venue)
    }
}

fn stored_scan(
    conn: &Connection,
    index: &ScanIndex,
    venues: &mut Venues<'_>,
    row: ScanRow,
) -> Result<StoredRecord> {
    Ok(StoredRecord {
        evidence: scan_evidence(conn, index, venues, &row.fields())?,
        leaf: row.leaf as u64,
        salt: salt(row.salt)?,
    })
}

/// The record a scan row stands for (its salt is not part of the record).
pub(crate) fn scan_evidence(
    conn: &Connection,
    index: &ScanIndex,
    venues: &mut Venues<'_>,
    row: &ScanFields<'_>,
) -> Result<Evidence> {
    let venue = venues.get(row.vid)?;
    let bad = |what: &str| corrupt(format!("scan at leaf {}: {what}", row.leaf));
    let recorded_by = match (row.official, row.proxy) {
        (Some(official), _) => Recorder::Official(
            mingma_core::OfficialId::parse(official).map_err(|e| bad(&e.to_string()))?,
        ),
        (None, Some(proxy)) => Recorder::Proxy(key_of(conn, index, proxy)?),
        (None, None) => Recorder::Holder,
    };
    let authority = row
        .authority
        .map(mingma_core::AuthorityId::parse)
        .transpose()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(Evidence {
        seal: None,
        id: RecordId::parse(row.id).map_err(|e| bad(&e.to_string()))?,
        subject: Some(key_of(conn, index, row.pid)?),
        recorded_by,
        authority,
        legal_basis: None,
        effective_at: time(row.entered)?,
        recorded_at: time(row.recorded_at)?,
        body: EvidenceBody::VenueScan {
            venue: venue.id.clone(),
            street: venue.street,
            venue_kind: venue.kind,
            left_at: row.left_at.map(time).transpose()?,
            presence: *Presence::ALL
                .get(row.presence as usize)
                .ok_or_else(|| bad("presence"))?,
        },
    })
}

/// The scan rows at `leaves` (found in the scan index) that `keep` accepts, in entry
/// order (then leaf order). Rows are read by primary key, 128 leaves per statement
/// (`leaf IN (...)`; measured faster than one lookup per statement for large
/// answers, and no slower for small ones).
///
/// A leaf without a row is skipped: a purge that committed after the index was read
/// removed it. `keep` re-checks the row against the query, so that what is returned
/// is what the rows say even if they were altered behind the store's back after the
/// index was built (`ledger verify` finds that alteration).
fn scans_at_leaves(
    conn: &Connection,
    index: &ScanIndex,
    leaves: &[u64],
    keep: impl Fn(&ScanRow) -> bool,
) -> Result<Vec<StoredRecord>> {
    let mut rows = Vec::with_capacity(leaves.len());
    each_scan_row_at(conn, leaves, SCAN_COLUMNS, scan_row, |row| {
        if keep(&row) {
            rows.push(row);
        }
        Ok(())
    })?;
    if !rows.is_sorted_by_key(|r| (r.entered, r.leaf)) {
        rows.sort_by_key(|r| (r.entered, r.leaf));
    }
    let mut venues = Venues::new(conn, index);
    rows.into_iter()
        .map(|r| stored_scan(conn, index, &mut venues, r))
        .collect()
}

/// Hands `each` the scan row (selected as `columns`, parsed by `parse`) at each of
/// `leaves` that has one. Rows are read by primary key, 128 leaves per statement
/// (`leaf IN (...)`; measured faster than one lookup per statement for large
/// answers, and no slower for small ones); within a statement in leaf order.
pub(crate) fn each_scan_row_at(
    conn: &Connection,
    leaves: &[u64],
    columns: &str,
    parse: fn(&rusqlite::Row<'_>) -> rusqlite::Result<ScanRow>,
    mut each: impl FnMut(ScanRow) -> Result<()>,
) -> Result<()> {
    const CHUNK: usize = 128;
    let placeholders = vec!["?"; CHUNK].join(",");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM scans WHERE leaf IN ({placeholders})"
        ))
        .map_err(backend)?;
    for chunk in leaves.chunks(CHUNK) {
        let mut args = [0i64; CHUNK];
        for (i, arg) in args.iter_mut().enumerate() {
            // The last chunk repeats its last leaf: IN is a set.
            let leaf = chunk.get(i).or(chunk.last()).copied().unwrap_or(0);
            *arg = i64::try_from(leaf).map_err(backend)?;
        }
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            each(parse(row).map_err(backend)?)?;
        }
    }
    Ok(())
}

/// The scans at `leaves` (found in the scan index) with a leaf below `below`, as
/// `(leaf, pid, record)` in leaf order: what derivation reads of them, without their
/// salts (which derivation never looks at) and without ordering them by entry. A
/// leaf without a row (purged since the index was read) is skipped.
fn scan_records_at_leaves(
    conn: &Connection,
    index: &ScanIndex,
    leaves: &[u64],
    below: u64,
) -> Result<Vec<(u64, i64, Evidence)>> {
    let mut venues = Venues::new(conn, index);
    let mut found = Vec::with_capacity(leaves.len());
    each_scan_row_at(
        conn,
        leaves,
        SCAN_COLUMNS_WITHOUT_SALT,
        scan_row_without_salt,
        |row| {
            let leaf = u64::try_from(row.leaf).map_err(backend)?;
            if leaf < below {
                found.push((
                    leaf,
                    row.pid,
                    scan_evidence(conn, index, &mut venues, &row.fields())?,
                ));
            }
            Ok(())
        },
    )?;
    if !found.is_sorted_by_key(|(leaf, _, _)| *leaf) {
        found.sort_unstable_by_key(|(leaf, _, _)| *leaf);
    }
    Ok(found)
}

/// The records about nobody in particular (risk areas and the acts on them),
/// decoded once and kept: every derivation needs them, they are few, and they are
/// only ever added (the retention purge removes scans only).
#[derive(Default)]
struct SharedRecords {
    /// The leaf of each record in `records`, ascending.
    leaves: Vec<u64>,
    records: Arc<Vec<Evidence>>,
    /// The writer's count of changes ([`SharedChanges`]) when the list was last
    /// caught up, and when that was.
    caught_up: Option<(u64, Instant)>,
}

/// How long records about nobody written by *another* process may go unseen: the
/// list is read again at least this often even when this process's writer wrote
/// none. (The store assumes one writing process — the scan index is this
/// process's — so this only bounds how late an outside write shows.)
const SHARED_RECHECK: Duration = Duration::from_secs(1);

/// The writer's count of changes to the records about nobody. It is bumped at the
/// first such record of a transaction (turning odd) and again when the transaction
/// ends (even). A reader keeps the count it saw before looking only if it was even:
/// then any record about nobody committed since was counted after that, and the
/// kept count no longer matches. An odd count (a transaction in flight) is never
/// kept, so the next reader looks again.
#[derive(Default)]
pub(crate) struct SharedChanges(AtomicU64);

impl SharedChanges {
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl SharedRecords {
    /// The kept list and how many of its records lie below leaf `below`, if nothing
    /// was written about nobody since it was caught up (and it is recent).
    fn current(&self, changes: &SharedChanges, below: u64) -> Option<(Arc<Vec<Evidence>>, usize)> {
        let (count, at) = self.caught_up?;
        (count == changes.count() && at.elapsed() < SHARED_RECHECK).then(|| {
            let below = self.leaves.partition_point(|l| *l < below);
            (self.records.clone(), below)
        })
    }
}

/// The kept records about nobody, caught up with the ledger as `conn` sees it (one
/// indexed read of the records added since the last call, skipped when the writer
/// wrote none since), and how many of them lie below leaf `below`.
fn shared_records(
    conn: &Connection,
    kept: &Mutex<SharedRecords>,
    changes: &SharedChanges,
    below: u64,
) -> Result<(Arc<Vec<Evidence>>, usize)> {
    let mut kept = kept
        .lock()
        .map_err(|_| backend("shared records poisoned"))?;
    if let Some(current) = kept.current(changes, below) {
        return Ok(current);
    }
    let seen = changes.count();
    let next = kept.leaves.last().map_or(0, |l| l + 1);
    let added: Vec<StoredRecord> = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE about IS NULL AND leaf >= ?1 ORDER BY leaf"
        ))
        .and_then(|mut s| {
            s.query_map([i64::try_from(next).unwrap_or(i64::MAX)], record_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?
        .into_iter()
        .map(stored_record)
        .collect::<Result<_>>()?;
    if !added.is_empty() {
        let SharedRecords {
            leaves, records, ..
        } = &mut *kept;
        // Copies the list only if a derivation still holds the previous one.
        let records = Arc::make_mut(records);
        for record in added {
            leaves.push(record.leaf);
            records.push(record.evidence);
        }
    }
    kept.caught_up = seen.is_multiple_of(2).then(|| (seen, Instant::now()));
    let below = kept.leaves.partition_point(|l| *l < below);
    Ok((kept.records.clone(), below))
}

/// Up to this many persons, derivation inputs are read person by person (each
/// person's scans in the risk areas' windows, from the person index); above it, area
/// by area (every scan in each area's window, from the venue index, kept for the
/// persons asked for). A district's window holds millions of scans; a person has
/// tens.
pub(crate) const BY_PERSON: usize = 256;

/// The windows in which a scan may lie in one of these risk areas
/// (`scan_may_matter`: entered before the area closed, and less than the longest
/// stay before it opened); records other than risk areas give none.
fn risk_windows<'a>(
    records: impl Iterator<Item = &'a Evidence>,
    longest: Span,
) -> Vec<(Timestamp, Timestamp)> {
    records
        .filter_map(|r| match &r.body {
            EvidenceBody::RiskArea { from, until, .. } => Some((from.minus(longest), *until)),
            _ => None,
        })
        .collect()
}

/// The evidence derivation needs for each of `persons` (see
/// `Store::evidence_for_derivation`). Records about nobody (risk areas and the acts on
/// them) come from the kept list ([`shared_records`]). When scans matter only in risk
/// areas, only scans that may lie in a declared area during its window are read:
/// for a few persons, each person's scans entered in the areas' windows, for many,
/// the scans in each area's window found through the scan index by venue.
///
/// With `ahead` (the scans of a declaration's people read ahead, see
/// [`reading`]), the ids come from it, and so do the scans found by area, unless the
/// records about nobody have changed below `below` since it was planned.
#[allow(clippy::too_many_arguments)]
fn derivation_inputs(
    conn: &Connection,
    index: &ScanIndex,
    kept: &Mutex<SharedRecords>,
    changes: &SharedChanges,
    persons: &[PersonKey],
    rules: &RuleSet,
    below: u64,
    ahead: Option<(&[Option<i64>], reading::ChunkAhead<'_>)>,
) -> Result<DerivationInputs> {
    let below_leaf = below;
    let (shared, count) = shared_records(conn, kept, changes, below)?;
    let below = i64::try_from(below).unwrap_or(i64::MAX);
    // Risk areas (by index in `shared`), and the acts on each shared record.
    let areas: Vec<usize> = (0..count)
        .filter(|i| shared[*i].kind() == EvidenceKind::RiskArea)
        .collect();
    let mut acts_on: HashMap<&RecordId, Vec<usize>> = HashMap::new();
    let mut acts = vec![false; count];
    for (i, record) in shared.iter().enumerate().take(count) {
        if let EvidenceBody::Approval { target }
        | EvidenceBody::Rejection { target, .. }
        | EvidenceBody::Retraction { target, .. } = &record.body
        {
            acts_on.entry(target).or_default().push(i);
            acts[i] = true;
        }
    }
    // Shared records everyone needs: all but risk areas and the acts on shared
    // records (a derivation needs those only with a scan in the area).
    let everyone: Vec<usize> = (0..count)
        .filter(|i| shared[*i].kind() != EvidenceKind::RiskArea && !acts[*i])
        .collect();
    let ahead = ahead.filter(|(_, a)| a.ahead.shared_count == count);
    let pids = match &ahead {
        Some((pids, _)) => pids.to_vec(),
        None => {
            let mut pids = Vec::with_capacity(persons.len());
            for person in persons {
                pids.push(pid_of(conn, person)?);
            }
            pids
        }
    };
    let ahead = ahead.map(|(_, a)| a);
    // Whether anyone is asked for twice: each of their answers must then be whole.
    let asked_once =
        pids.iter().flatten().collect::<BTreeSet<_>>().len() == pids.iter().flatten().count();
    let only_in_areas = rules.scans_matter_only_in_risk_areas();
    let longest = rules.longest_stay();
    // By area (the scans in risk areas, by person) unless few people are asked for;
    // a reading planned for many reads each of its chunks by area, whatever its
    // size (their scans were read ahead).
    let by_person = ahead.is_none() && persons.len() <= BY_PERSON;
    let mut exposed: HashMap<u32, Vec<(u64, usize)>> = HashMap::new();
    if let Some(ahead) = &ahead {
        for pid in pids.iter().flatten().filter_map(|p| u32::try_from(*p).ok()) {
            if exposed.contains_key(&pid) {
                continue;
            }
            let mut visits = Vec::new();
            for (leaf, window) in ahead.visits_of(pid) {
                let areas = ahead.ahead.windows.get(window).map(|w| w.areas.as_slice());
                visits.extend(areas.unwrap_or_default().iter().map(|area| (leaf, *area)));
            }
            if !visits.is_empty() {
                exposed.insert(pid, visits);
            }
        }
    } else if only_in_areas && !areas.is_empty() && !by_person {
        let wanted = reading::wanted(index, pids.iter().flatten());
        for window in reading::windows(conn, &shared, &areas, longest)? {
            index.each_visit_at(
                &window.vids,
                window.from,
                window.until,
                &wanted,
                |pid, leaf| {
                    let visits = exposed.entry(pid).or_default();
                    visits.extend(window.areas.iter().map(|area| (leaf, *area)));
                },
            );
        }
    }
    // By person: the windows in which a scan may lie in an area (`scan_may_matter`:
    // entered before the area closed, and less than the longest stay before it
    // opened).
    let windows = risk_windows(areas.iter().map(|a| &shared[*a]), longest);
    let mut shared_of = Vec::with_capacity(persons.len());
    let mut venues = Venues::new(conn, index);
    let mut own_of = own_records(conn, &pids, below)?.into_iter();
    // First each person's records about them and the leaves of their scans that
    // may matter; then all those scans in one pass in leaf order (neighbouring leaves
    // share pages), handed back to their persons.
    let mut own: Vec<Vec<(u64, Evidence)>> = Vec::with_capacity(persons.len());
    let mut scan_leaves: Vec<Vec<u64>> = Vec::with_capacity(persons.len());
    for pid in &pids {
        let records = own_of.next().unwrap_or_default();
        // Sorted and made unique once it is complete (a set per person cost an
        // allocation per element).
        let mut needs: Vec<usize> = everyone.clone();
        if !only_in_areas {
            needs.extend(0..count);
        }
        let mut leaves = Vec::new();
        if let Some(pid) = *pid {
            leaves = if !only_in_areas {
                index.of_person(pid, None)
            } else if by_person {
                // A scan may matter only in an area (as `scan_may_matter` decides):
                // known from the kept venue rows, before any scan is read.
                let mut kept = Vec::new();
                for (leaf, vid, entered) in index.of_person_in(pid, &windows) {
                    let venue = venues.get(vid)?;
                    let mut inside = false;
                    for &area in &areas {
                        if scan_in_area(&shared[area], longest, &venue.id, venue.street, entered) {
                            inside = true;
                            needs.push(area);
                            needs.extend(acts_on.get(&shared[area].id).into_iter().flatten());
                        }
                    }
                    if inside {
                        kept.push(leaf);
                    }
                }
                kept
            } else {
                // Moved out, unless the person is asked for again.
                let visits = u32::try_from(pid)
                    .ok()
                    .and_then(|p| match asked_once {
                        true => exposed.remove(&p),
                        false => exposed.get(&p).cloned(),
                    })
                    .unwrap_or_default();
                // The areas this person's scans lie in, and the acts on them.
                for (_, area) in &visits {
                    needs.push(*area);
                    let id = &shared[*area].id;
                    needs.extend(acts_on.get(id).into_iter().flatten());
                }
                visits.into_iter().map(|(leaf, _)| leaf).collect()
            };
            leaves.sort_unstable();
            leaves.dedup();
        }
        own.push(records);
        scan_leaves.push(leaves);
        needs.sort_unstable();
        needs.dedup();
        shared_of.push(needs);
    }
    let scans_of = match &ahead {
        Some(ahead) => {
            // Read ahead, by person.
            let mut scans_of = Vec::with_capacity(persons.len());
            for (pid, leaves) in pids.iter().zip(&scan_leaves) {
                scans_of.push(match pid {
                    Some(pid) => ahead.scans_of(conn, index, &mut venues, *pid, leaves)?,
                    None => Vec::new(),
                });
            }
            scans_of
        }
        _ => scans_at_leaves_of(conn, index, &pids, &scan_leaves, below_leaf)?,
    };
    // Found by venue and window (by area) or checked one by one (by person), these
    // are exactly the scans `scan_may_matter` keeps; merged with the person's own
    // records by leaf.
    let out = own
        .into_iter()
        .zip(scans_of)
        .map(|(records, scans)| by_leaf(records, scans))
        .collect();
    Ok(DerivationInputs {
        shared,
        shared_of,
        own: out,
    })
}

/// The scans at `scan_leaves[i]` (each ascending) of each person `pids[i]`, read
/// from their rows in one pass in leaf order (neighbouring leaves share pages), each
/// in leaf order.
fn scans_at_leaves_of(
    conn: &Connection,
    index: &ScanIndex,
    pids: &[Option<i64>],
    scan_leaves: &[Vec<u64>],
    below: u64,
) -> Result<Vec<Vec<(u64, Evidence)>>> {
    // Each wanted scan with the person who wants it (by position in `persons`), in
    // leaf order; a leaf appears more than once only if its person was asked for
    // more than once.
    let mut wanted: Vec<(u64, usize)> = scan_leaves
        .iter()
        .enumerate()
        .flat_map(|(i, leaves)| leaves.iter().map(move |leaf| (*leaf, i)))
        .collect();
    wanted.sort_unstable();
    let mut leaves: Vec<u64> = wanted.iter().map(|(leaf, _)| *leaf).collect();
    leaves.dedup();
    // Each scan is moved once, into the list of the person who wants it (copied
    // only for a person asked for twice), in leaf order.
    let mut scans_of: Vec<Vec<(u64, Evidence)>> = scan_leaves
        .iter()
        .map(|leaves| Vec::with_capacity(leaves.len()))
        .collect();
    let mut next = 0;
    for (leaf, pid, scan) in scan_records_at_leaves(conn, index, &leaves, below)? {
        while wanted.get(next).is_some_and(|(l, _)| *l < leaf) {
            next += 1;
        }
        let end = next
            + wanted[next..]
                .iter()
                .take_while(|(l, _)| *l == leaf)
                .count();
        // A scan read is about one person: only that person's derivation gets it,
        // the last asking moving it.
        let mut takers = wanted[next..end]
            .iter()
            .map(|(_, i)| *i)
            .filter(|i| pids.get(*i).copied().flatten() == Some(pid))
            .peekable();
        let mut scan = Some(scan);
        while let Some(i) = takers.next() {
            let record = match takers.peek() {
                Some(_) => scan.clone(),
                None => scan.take(),
            };
            scans_of[i].extend(record.map(|record| (leaf, record)));
        }
        next = end;
    }
    Ok(scans_of)
}

/// People whose ids lie at most this far apart are read by one statement (the
/// records of the people between, not asked for, are passed over undecoded).
const RUN_GAP: i64 = 16;

/// The records about each of `pids` (scans aside) with a leaf below `below`, each
/// person's in leaf order, without salts (derivation never looks at them).
///
/// They are read from `records_about`, which carries what is read (migration 0008):
/// a person's records lie together there, and people in order of their ids lie in
/// order, so the ids, sorted, are read in runs — one range per run of ids at most
/// [`RUN_GAP`] apart — instead of a statement per person and a descent per record.
fn own_records(
    conn: &Connection,
    pids: &[Option<i64>],
    below: i64,
) -> Result<Vec<Vec<(u64, Evidence)>>> {
    let mut order: Vec<(i64, usize)> = pids
        .iter()
        .enumerate()
        .filter_map(|(i, pid)| pid.map(|pid| (pid, i)))
        .collect();
    order.sort_unstable();
    let mut own: Vec<Vec<(u64, Evidence)>> = (0..pids.len()).map(|_| Vec::new()).collect();
    let mut range = conn
        .prepare_cached(
            "SELECT about, leaf, canonical, seal FROM records \
             WHERE about BETWEEN ?1 AND ?2 AND leaf < ?3 ORDER BY about, leaf",
        )
        .map_err(backend)?;
    let mut start = 0;
    while let Some(&(first, _)) = order.get(start) {
        let mut end = start + 1;
        while end < order.len() && order[end].0.saturating_sub(order[end - 1].0) <= RUN_GAP {
            end += 1;
        }
        let run = &order[start..end];
        let last = run[run.len() - 1].0;
        let mut rows = range.query(params![first, last, below]).map_err(backend)?;
        let mut next = 0;
        while let Some(row) = rows.next().map_err(backend)? {
            let about: i64 = row.get(0).map_err(backend)?;
            while run.get(next).is_some_and(|(pid, _)| *pid < about) {
                next += 1;
            }
            // Everyone asked for with this id (more than one if asked twice); none
            // for someone between them.
            let takers = run[next..]
                .iter()
                .take_while(|(pid, _)| *pid == about)
                .count();
            let Some(((_, last_taker), others)) = run[next..next + takers].split_last() else {
                continue;
            };
            let leaf: i64 = row.get(1).map_err(backend)?;
            let bytes = row.get_ref(2).map_err(backend)?;
            let bytes = bytes.as_blob().map_err(backend)?;
            let record = record_evidence(leaf, bytes, row.get(3).map_err(backend)?)?;
            let leaf = u64::try_from(leaf).map_err(backend)?;
            for (_, i) in others {
                own[*i].push((leaf, record.clone()));
            }
            own[*last_taker].push((leaf, record));
        }
        start = end;
    }
    Ok(own)
}

/// Two lists of records, each in leaf order, merged into one in leaf order.
fn by_leaf(a: Vec<(u64, Evidence)>, b: Vec<(u64, Evidence)>) -> Vec<Evidence> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let from_a = match (a.peek(), b.peek()) {
            (Some((x, _)), Some((y, _))) => x <= y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let next = if from_a { a.next() } else { b.next() };
        merged.extend(next.map(|(_, record)| record));
    }
}

/// The interned venues inside a risk area.
pub(crate) fn covered_vids(conn: &Connection, scope: &RiskAreaScope) -> Result<Vec<i64>> {
    let mut vids = Vec::new();
    match scope {
        RiskAreaScope::Venues(venues) => {
            for venue in venues {
                vids.extend(vids_of(conn, venue.as_str())?);
            }
        }
        RiskAreaScope::Divisions(divisions) => {
            for division in divisions {
                let (low, high) = street_range(*division);
                let found: Vec<i64> = conn
                    .prepare_cached("SELECT vid FROM venues WHERE street >= ?1 AND street < ?2")
                    .and_then(|mut s| s.query_map(params![low, high], |r| r.get(0))?.collect())
                    .map_err(backend)?;
                vids.extend(found);
            }
        }
    }
    vids.sort_unstable();
    vids.dedup();
    Ok(vids)
}

/// Whether a stored entry time (seconds) lies in `[from, until)`.
fn entered_in(entered: i64, from: Timestamp, until: Timestamp) -> bool {
    (from.unix_seconds()..until.unix_seconds()).contains(&entered)
}

/// The interned venues with this id (one per street and kind it was scanned with).
fn vids_of(conn: &Connection, venue: &str) -> Result<Vec<i64>> {
    conn.prepare_cached("SELECT vid FROM venues WHERE id = ?1")
        .and_then(|mut s| s.query_map([venue], |r| r.get(0))?.collect())
        .map_err(backend)
}

/// The street-code range of a division: streets are 9-digit codes whose prefix is
/// the division's code.
fn street_range(division: Jurisdiction) -> (i64, i64) {
    let digits = division.to_string();
    let shift = 9u32.saturating_sub(digits.len() as u32);
    let code: i64 = digits.parse().unwrap_or(0);
    let scale = 10i64.pow(shift);
    (code * scale, (code + 1) * scale)
}

pub(crate) fn read_record(
    conn: &Connection,
    index: &ScanIndex,
    id: &str,
) -> Result<Option<StoredRecord>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], record_row).optional())
        .map_err(backend)?;
    if let Some(row) = row {
        return stored_record(row).map(Some);
    }
    let scan = conn
        .prepare_cached(&format!("SELECT {SCAN_COLUMNS} FROM scans WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], scan_row).optional())
        .map_err(backend)?;
    scan.map(|row| stored_scan(conn, index, &mut Venues::new(conn, index), row))
        .transpose()
}

/// Where each of the person `pid`'s code changes lies (leaf and position), oldest
/// first: walked back from their current state, each change naming the one before
/// it (migration 0007). A chain that does not go strictly back in the ledger, or
/// that reaches another person's change, is reported as corrupt, not followed.
fn history_of(conn: &Connection, pid: i64) -> Result<Vec<(i64, i64)>> {
    let mut at: Option<(i64, i64)> = conn
        .prepare_cached("SELECT leaf, position FROM code_states WHERE pid = ?1")
        .and_then(|mut s| {
            s.query_row([pid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    let mut chain = Vec::new();
    while let Some((leaf, position)) = at {
        if chain
            .last()
            .is_some_and(|(later, _): &(i64, i64)| leaf >= *later)
        {
            return Err(corrupt(format!(
                "code history of person {pid}: change {leaf}/{position} does not precede the one naming it"
            )));
        }
        let (owner, previous_leaf, previous_position): (i64, Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT pid, previous_leaf, previous_position FROM code_changes \
                 WHERE leaf = ?1 AND position = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![leaf, position], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })
            .map_err(|e| corrupt(format!("code change {leaf}/{position}: {e}")))?;
        if owner != pid {
            return Err(corrupt(format!(
                "code history of person {pid}: change {leaf}/{position} is another person's"
            )));
        }
        chain.push((leaf, position));
        at = match (previous_leaf, previous_position) {
            (Some(leaf), Some(position)) => Some((leaf, position)),
            (None, None) => None,
            _ => {
                return Err(corrupt(format!(
                    "code change {leaf}/{position}: half a previous change"
                )))
            }
        };
    }
    chain.reverse();
    Ok(chain)
}

pub(crate) fn read_code_change(
    conn: &Connection,
    index: &ScanIndex,
    leaf: i64,
    position: i64,
) -> Result<CodeState> {
    type Row = (
        i64,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        String,
        String,
        String,
        i64,
        Vec<u8>,
    );
    let row: Row = conn
        .prepare_cached(
            "SELECT pid, colour, valid_at, known_at, since, next_at, next_colour, reason, owners, decisive, \
             rule_set, rule_set_version, reflects, salt FROM code_changes WHERE leaf = ?1 AND position = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![leaf, position], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                    r.get(13)?,
                ))
            })
        })
        .map_err(|e| corrupt(format!("code change {leaf}/{position}: {e}")))?;
    let (
        pid,
        colour,
        valid_at,
        known_at,
        since,
        next_at,
        next_colour,
        reason,
        owners,
        decisive,
        rule_set,
        version,
        reflects,
        salt_bytes,
    ) = row;
    let bad = |what: &str| corrupt(format!("code change {leaf}/{position}: {what}"));
    let colour_of = |c: i64| colour_from_byte(c as u8).ok_or_else(|| bad("colour"));
    let next_change = match (next_at, next_colour) {
        (Some(at), Some(c)) => Some((time(at)?, colour_of(c)?)),
        (None, None) => None,
        _ => return Err(bad("next change")),
    };
    let owners = split_ids(&owners, mingma_core::AuthorityId::parse).map_err(|e| bad(&e))?;
    let decisive = split_ids(&decisive, RecordId::parse).map_err(|e| bad(&e))?;
    let change = CodeChange::from_stored(
        key_of(conn, index, pid)?,
        colour_of(colour)?,
        time(valid_at)?,
        time(known_at)?,
        since.map(time).transpose()?,
        next_change,
        reason,
        owners,
        decisive,
        rule_set,
        version,
        reflects as u64,
    );
    Ok(CodeState {
        change,
        leaf: leaf as u64,
        position: position as u64,
        salt: salt(salt_bytes)?,
    })
}

/// Ids are joined with `,`, which no id may contain.
pub(crate) fn join_ids<T: std::fmt::Display>(ids: &[T]) -> String {
    let mut text = String::new();
    write_ids(&mut text, ids);
    text
}

/// `ids` as stored (separated by commas) into `text`, which is cleared first: a
/// buffer reused for row after row.
pub(crate) fn write_ids<T: std::fmt::Display>(text: &mut String, ids: &[T]) {
    use std::fmt::Write;
    text.clear();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(text, "{id}");
    }
}

fn split_ids<T, E: std::fmt::Display>(
    text: &str,
    parse: impl Fn(&str) -> std::result::Result<T, E>,
) -> std::result::Result<Vec<T>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| parse(s).map_err(|e| e.to_string()))
        .collect()
}

/// Perfect subtrees of at least `2^UPPER` leaves are kept in memory (about 1 in 128
/// of all nodes: 2.5 MB at 10 million leaves), so a proof reads at most `UPPER`
/// nodes from the database.
pub(crate) const UPPER: u32 = 8;

/// The in-memory upper levels of the tree: committed nodes only (the writer adds a
/// group's nodes after its commit). A node missing here is read from the database.
#[derive(Default)]
pub(crate) struct UpperNodes {
    levels: std::sync::RwLock<Vec<Vec<Hash>>>,
}

impl UpperNodes {
    fn load(conn: &Connection) -> Result<Self> {
        let rows: Vec<(u32, i64, Vec<u8>)> = conn
            .prepare(
                "SELECT level, idx, hash FROM ledger_nodes WHERE level >= ?1 ORDER BY level, idx",
            )
            .and_then(|mut s| {
                s.query_map([UPPER], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(backend)?;
        let upper = Self::default();
        let nodes: Vec<mingma_ledger::CompletedNode> = rows
            .into_iter()
            .map(|(level, index, h)| {
                Ok(mingma_ledger::CompletedNode {
                    level,
                    index: index as u64,
                    hash: hash(h)?,
                })
            })
            .collect::<Result<_>>()?;
        upper.add(&nodes);
        Ok(upper)
    }

    /// Adds committed nodes; only those that extend a level in order are kept, so a
    /// gap can never make the cache answer for the wrong node.
    pub(crate) fn add(&self, nodes: &[mingma_ledger::CompletedNode]) {
        let Ok(mut levels) = self.levels.write() else {
            return;
        };
        for node in nodes.iter().filter(|n| n.level >= UPPER) {
            let at = (node.level - UPPER) as usize;
            while levels.len() <= at {
                levels.push(Vec::new());
            }
            if levels[at].len() as u64 == node.index {
                levels[at].push(node.hash);
            }
        }
    }

    fn get(&self, level: u32, index: u64) -> Option<Hash> {
        let levels = self.levels.read().ok()?;
        levels
            .get(level.checked_sub(UPPER)? as usize)?
            .get(usize::try_from(index).ok()?)
            .copied()
    }
}

/// The ledger's perfect-subtree hashes, read from one connection (and the in-memory
/// upper levels, when given).
pub(crate) struct StoredTree<'a> {
    pub conn: &'a Connection,
    pub size: u64,
    pub upper: Option<&'a UpperNodes>,
}

impl HashSource for StoredTree<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn perfect_subtree(&self, level: u32, index: u64) -> Result<Hash> {
        if let Some(hash) = self.upper.and_then(|u| u.get(level, index)) {
            return Ok(hash);
        }
        let bytes: Option<Vec<u8>> = if level == 0 {
            self.conn
                .prepare_cached("SELECT hash FROM ledger_leaves WHERE idx = ?1")
                .and_then(|mut s| s.query_row([index as i64], |r| r.get(0)).optional())
        } else {
            self.conn
                .prepare_cached("SELECT hash FROM ledger_nodes WHERE level = ?1 AND idx = ?2")
                .and_then(|mut s| {
                    s.query_row(params![level, index as i64], |r| r.get(0))
                        .optional()
                })
        }
        .map_err(backend)?;
        hash(bytes.ok_or_else(|| corrupt(format!("ledger node ({level}, {index}) is missing")))?)
    }
}

pub(crate) fn ledger_size(conn: &Connection) -> Result<u64> {
    conn.query_row(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_leaves",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(backend)
}

impl mingma_store::Store for SqliteStore {
    async fn append(&self, records: Vec<Evidence>) -> Result<Vec<Appended>> {
        // Salts, canonical bytes and leaf hashes on the caller's thread.
        let prepared = writer::Prepared::all(records)?;
        self.write(|reply| Job::Append(prepared, reply)).await
    }

    async fn record(&self, id: &RecordId) -> Result<Option<StoredRecord>> {
        let id = id.to_string();
        let index = self.inner.scans.clone();
        self.read(move |conn| read_record(conn, &index, &id)).await
    }

    async fn records_from(&self, from: u64, limit: u64) -> Result<Vec<StoredRecord>> {
        let limit = limit.min(1 << 20) as i64;
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let rows: Vec<RecordRow> = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE leaf >= ?1 ORDER BY leaf LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![from as i64, limit], record_row)?
                        .collect()
                })
                .map_err(backend)?;
            let mut out: Vec<StoredRecord> =
                rows.into_iter().map(stored_record).collect::<Result<_>>()?;
            let scans: Vec<ScanRow> = conn
                .prepare_cached(&format!(
                    "SELECT {SCAN_COLUMNS} FROM scans WHERE leaf >= ?1 ORDER BY leaf LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![from as i64, limit], scan_row)?
                        .collect()
                })
                .map_err(backend)?;
            let mut venues = Venues::new(conn, &index);
            for row in scans {
                out.push(stored_scan(conn, &index, &mut venues, row)?);
            }
            out.sort_by_key(|r| r.leaf);
            out.truncate(limit as usize);
            Ok(out)
        })
        .await
    }

    async fn records_about_nobody(&self) -> Result<Arc<Vec<Evidence>>> {
        // Without a look at the database when the writer wrote nothing about nobody
        // since the last one (the common case: a check-in asks at every scan).
        let fresh = self
            .inner
            .shared
            .lock()
            .map_err(|_| backend("shared records poisoned"))?
            .current(&self.inner.shared_changes, u64::MAX);
        if let Some((records, _)) = fresh {
            return Ok(records);
        }
        let inner = self.inner.clone();
        self.read(move |conn| {
            Ok(shared_records(conn, &inner.shared, &inner.shared_changes, u64::MAX)?.0)
        })
        .await
    }

    async fn evidence_about(&self, person: PersonKey) -> Result<Vec<StoredRecord>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let pid = pid_of(conn, &person)?;
            let rows: Vec<RecordRow> = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE about = ?1 OR about IS NULL ORDER BY leaf"
                ))
                .and_then(|mut s| s.query_map([pid], record_row)?.collect())
                .map_err(backend)?;
            let mut out: Vec<StoredRecord> = rows.into_iter().map(stored_record).collect::<Result<_>>()?;
            if let Some(pid) = pid {
                let leaves = index.of_person(pid, None);
                out.extend(scans_at_leaves(conn, &index, &leaves, |row| row.pid == pid)?);
            }
            out.sort_by_key(|r| r.leaf);
            Ok(out)
        })
        .await
    }

    async fn evidence_for_derivation(
        &self,
        persons: Vec<PersonKey>,
        rules: Arc<RuleSet>,
        below: u64,
    ) -> Result<DerivationInputs> {
        let index = self.inner.scans.clone();
        let inner = self.inner.clone();
        self.read(move |conn| {
            // One read transaction: one snapshot, and pages stay cached between the
            // many small reads.
            run_cached(conn, "BEGIN")?;
            let result = derivation_inputs(
                conn,
                &index,
                &inner.shared,
                &inner.shared_changes,
                &persons,
                &rules,
                below,
                None,
            );
            run_cached(conn, "COMMIT")?;
            result
        })
        .await
    }

    type Reading = reading::SqliteReading;

    async fn derivation_reading(
        &self,
        persons: Arc<[PersonKey]>,
        rules: Arc<RuleSet>,
        below: u64,
    ) -> Result<Self::Reading> {
        let inner = self.inner.clone();
        let limit = self.inner.read_ahead_scans.load(Ordering::Relaxed);
        self.read(move |conn| {
            let (shared, count) =
                shared_records(conn, &inner.shared, &inner.shared_changes, below)?;
            let ahead = reading::plan(
                &inner.path,
                conn,
                &inner.scans,
                &persons,
                &rules,
                &shared,
                count,
                limit,
            )?;
            Ok(reading::SqliteReading {
                persons,
                rules,
                below,
                ahead,
            })
        })
        .await
    }

    async fn evidence_for_chunk(
        &self,
        reading: Arc<Self::Reading>,
        range: std::ops::Range<usize>,
    ) -> Result<DerivationInputs> {
        let inner = self.inner.clone();
        self.read(move |conn| {
            let end = range.end.min(reading.persons.len());
            let range = range.start.min(end)..end;
            let segment = match &reading.ahead {
                Some(ahead) => {
                    Some(ahead.segment(&inner.path, &inner.scans, &range, reading.below)?)
                }
                None => None,
            };
            let ahead = reading
                .ahead
                .as_ref()
                .zip(segment.as_deref())
                .map(|(ahead, segment)| {
                    (
                        &ahead.pids[range.clone()],
                        reading::ChunkAhead { ahead, segment },
                    )
                });
            run_cached(conn, "BEGIN")?;
            let result = derivation_inputs(
                conn,
                &inner.scans,
                &inner.shared,
                &inner.shared_changes,
                &reading.persons[range.clone()],
                &reading.rules,
                reading.below,
                ahead,
            );
            run_cached(conn, "COMMIT")?;
            result
        })
        .await
    }

    async fn derivation_changed_since(
        &self,
        person: PersonKey,
        rules: Arc<RuleSet>,
        since: u64,
    ) -> Result<bool> {
        let index = self.inner.scans.clone();
        let inner = self.inner.clone();
        self.read(move |conn| {
            // Records about nobody: from the kept list, caught up as derivation's.
            let (shared, below) =
                shared_records(conn, &inner.shared, &inner.shared_changes, since)?;
            if below < shared.len() {
                return Ok(true);
            }
            let Some(pid) = pid_of(conn, &person)? else {
                return Ok(false);
            };
            let about: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM records WHERE about = ?1 AND leaf >= ?2)",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![pid, i64::try_from(since).unwrap_or(i64::MAX)],
                        |r| r.get(0),
                    )
                })
                .map_err(backend)?;
            if about {
                return Ok(true);
            }
            // Their scans from the index: with scans mattering only in risk areas,
            // those entered in some area's window (by time; the venue unchecked).
            let leaves: Vec<u64> = if rules.scans_matter_only_in_risk_areas() {
                let windows = risk_windows(shared.iter(), rules.longest_stay());
                index
                    .of_person_in(pid, &windows)
                    .into_iter()
                    .map(|(leaf, _, _)| leaf)
                    .collect()
            } else {
                index.of_person(pid, None)
            };
            Ok(leaves.iter().any(|leaf| *leaf >= since))
        })
        .await
    }

    async fn appended_since(
        &self,
        since: u64,
        rules: Arc<RuleSet>,
    ) -> Result<mingma_store::AppendedSince> {
        let index = self.inner.scans.clone();
        let inner = self.inner.clone();
        self.read(move |conn| {
            // One read transaction: everything below `size` is seen.
            let tx = conn.unchecked_transaction().map_err(backend)?;
            let size = ledger_size(&tx)?;
            let from = i64::try_from(since).unwrap_or(i64::MAX);
            let (shared, below) = shared_records(&tx, &inner.shared, &inner.shared_changes, since)?;
            let acts: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM acts WHERE leaf >= ?1)")
                .and_then(|mut s| s.query_row([from], |r| r.get(0)))
                .map_err(backend)?;
            let mut pids: BTreeSet<i64> = tx
                .prepare_cached("SELECT about FROM records WHERE leaf >= ?1 AND about IS NOT NULL")
                .and_then(|mut s| {
                    s.query_map([from], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(backend)?;
            // Scans matter only in a risk area's window (by time, as
            // `derivation_changed_since` asks; the venue unchecked).
            let windows = rules
                .scans_matter_only_in_risk_areas()
                .then(|| risk_windows(shared.iter(), rules.longest_stay()));
            let scans: Vec<(i64, i64)> = tx
                .prepare_cached("SELECT pid, entered FROM scans WHERE leaf >= ?1")
                .and_then(|mut s| {
                    s.query_map([from], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(backend)?;
            for (pid, entered) in scans {
                let entered = time(entered)?;
                let in_window = windows.as_ref().is_none_or(|windows| {
                    windows
                        .iter()
                        .any(|(from, until)| *from <= entered && entered < *until)
                });
                if in_window {
                    pids.insert(pid);
                }
            }
            let persons = pids
                .into_iter()
                .map(|pid| key_of(&tx, &index, pid))
                .collect::<Result<_>>()?;
            Ok(mingma_store::AppendedSince {
                size,
                persons,
                everyone: acts || below < shared.len(),
            })
        })
        .await
    }

    async fn scans_at_venue(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredRecord>> {
        let venue = venue.to_string();
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let vids = vids_of(conn, &venue)?;
            let leaves = index.at_venues(&vids, from, until);
            scans_at_leaves(conn, &index, &leaves, |row| {
                vids.contains(&row.vid) && entered_in(row.entered, from, until)
            })
        })
        .await
    }

    async fn stays_at_venue(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
        longest: Span,
    ) -> Result<Vec<StoredRecord>> {
        let venue = venue.to_string();
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let vids = vids_of(conn, &venue)?;
            let leaves = index.stays_at(&vids, from, until, longest);
            scans_at_leaves(conn, &index, &leaves, |row| vids.contains(&row.vid))
        })
        .await
    }

    async fn stays_overlapping(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
        rules: Arc<RuleSet>,
    ) -> Result<Vec<Stay>> {
        let venue = venue.to_string();
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let kinds: Vec<(i64, i64)> = conn
                .prepare_cached("SELECT vid, kind FROM venues WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_map([&venue], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(backend)?;
            let venues: Vec<(i64, Span)> = kinds
                .into_iter()
                .map(|(vid, kind)| {
                    let kind = VenueKind::ALL
                        .get(usize::try_from(kind).unwrap_or(usize::MAX))
                        .copied()
                        .ok_or_else(|| corrupt(format!("venue {vid}: kind {kind}")))?;
                    Ok((vid, rules.dwell.of(kind)))
                })
                .collect::<Result<_>>()?;
            index
                .overlapping(&venues, from, until, rules.longest_stay())
                .into_iter()
                .map(|(pid, leaf, entered, left)| {
                    Ok(Stay {
                        person: key_of(conn, &index, i64::from(pid))?,
                        leaf,
                        entered: time(entered)?,
                        left: time(left)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn scans_of_person(
        &self,
        person: PersonKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredRecord>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let Some(pid) = pid_of(conn, &person)? else {
                return Ok(Vec::new());
            };
            let leaves = index.of_person(pid, Some((from, until)));
            scans_at_leaves(conn, &index, &leaves, |row| {
                row.pid == pid && entered_in(row.entered, from, until)
            })
        })
        .await
    }

    async fn persons_at_venues(
        &self,
        venues: &[VenueId],
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<PersonKey>> {
        let venues: Vec<String> = venues.iter().map(ToString::to_string).collect();
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let mut vids = Vec::new();
            for venue in &venues {
                vids.extend(vids_of(conn, venue)?);
            }
            vids.sort_unstable();
            vids.dedup();
            index.persons_at(&vids, from, until)
        })
        .await
    }

    async fn persons_in_division(
        &self,
        division: Jurisdiction,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<PersonKey>> {
        let (low, high) = match division.level() {
            Level::Street => {
                let code: i64 = division.to_string().parse().unwrap_or(0);
                (code, code + 1)
            }
            _ => street_range(division),
        };
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let vids: Vec<i64> = conn
                .prepare_cached("SELECT vid FROM venues WHERE street >= ?1 AND street < ?2")
                .and_then(|mut s| s.query_map(params![low, high], |r| r.get(0))?.collect())
                .map_err(backend)?;
            index.persons_at(&vids, from, until)
        })
        .await
    }

    async fn record_code_changes(
        &self,
        changes: Vec<CodeChange>,
        reflects: u64,
    ) -> Result<Option<RecordedBatch>> {
        self.write(|reply| Job::CodeChanges(changes, reflects, reply))
            .await
    }

    async fn code_state(&self, person: PersonKey) -> Result<Option<CodeState>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let Some(pid) = pid_of(conn, &person)? else {
                return Ok(None);
            };
            let at: Option<(i64, i64)> = conn
                .prepare_cached("SELECT leaf, position FROM code_states WHERE pid = ?1")
                .and_then(|mut s| {
                    s.query_row([pid], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(backend)?;
            at.map(|(leaf, position)| {
                read_code_change(conn, &index, leaf, position)?.held_by(person)
            })
            .transpose()
        })
        .await
    }

    async fn codes_due(&self, now: Timestamp) -> Result<Vec<PersonKey>> {
        self.read(move |conn| {
            let keys: Vec<Vec<u8>> = conn
                .prepare_cached(
                    "SELECT p.key FROM code_states s JOIN persons p ON p.pid = s.pid \
                     WHERE s.next_at IS NOT NULL AND s.next_at <= ?1 ORDER BY s.next_at",
                )
                .and_then(|mut s| s.query_map([now.unix_seconds()], |r| r.get(0))?.collect())
                .map_err(backend)?;
            keys.into_iter().map(person_key).collect()
        })
        .await
    }

    async fn code_states(&self) -> Result<Vec<CodeState>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let at: Vec<(i64, i64)> = conn
                .prepare("SELECT leaf, position FROM code_states")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
                .map_err(backend)?;
            let mut states: Vec<CodeState> = at
                .into_iter()
                .map(|(leaf, position)| read_code_change(conn, &index, leaf, position))
                .collect::<Result<_>>()?;
            states.sort_by_key(|s| s.change.person());
            Ok(states)
        })
        .await
    }

    async fn code_change_batch(&self, leaf: u64) -> Result<Vec<CodeState>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let positions: Vec<i64> = conn
                .prepare_cached(
                    "SELECT position FROM code_changes WHERE leaf = ?1 ORDER BY position",
                )
                .and_then(|mut s| s.query_map([leaf as i64], |r| r.get(0))?.collect())
                .map_err(backend)?;
            positions
                .into_iter()
                .map(|p| read_code_change(conn, &index, leaf as i64, p))
                .collect()
        })
        .await
    }

    async fn code_changes_of(&self, person: PersonKey) -> Result<Vec<CodeState>> {
        let index = self.inner.scans.clone();
        self.read(move |conn| {
            let Some(pid) = pid_of(conn, &person)? else {
                return Ok(Vec::new());
            };
            let mut history = Vec::new();
            for (leaf, position) in history_of(conn, pid)? {
                history.push(read_code_change(conn, &index, leaf, position)?);
            }
            Ok(history)
        })
        .await
    }

    async fn ledger_size(&self) -> Result<u64> {
        self.read(ledger_size).await
    }

    async fn leaves(&self, from: u64, limit: u64) -> Result<Vec<StoredLeaf>> {
        self.read(move |conn| {
            let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
                .prepare_cached("SELECT idx, data, hash FROM ledger_leaves WHERE idx >= ?1 ORDER BY idx LIMIT ?2")
                .and_then(|mut s| {
                    s.query_map(params![from as i64, limit.min(i64::MAX as u64) as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect()
                })
                .map_err(backend)?;
            rows.into_iter()
                .map(|(index, data, h)| {
                    Ok(StoredLeaf {
                        index: index as u64,
                        data,
                        hash: hash(h)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn nodes(&self, level: u32, from: u64, limit: u64) -> Result<Vec<(u64, Hash)>> {
        self.read(move |conn| {
            let rows: Vec<(i64, Vec<u8>)> = conn
                .prepare_cached("SELECT idx, hash FROM ledger_nodes WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3")
                .and_then(|mut s| {
                    s.query_map(params![level, from as i64, limit.min(1 << 20) as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .map_err(backend)?;
            rows.into_iter().map(|(i, h)| Ok((i as u64, hash(h)?))).collect()
        })
        .await
    }

    async fn root(&self, size: u64) -> Result<Hash> {
        let inner = self.inner.clone();
        self.read(move |conn| {
            let tree = StoredTree {
                conn,
                size: ledger_size(conn)?,
                upper: Some(&inner.upper),
            };
            generated(mingma_ledger::root_at(&tree, size))
        })
        .await
    }

    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let inner = self.inner.clone();
        self.read(move |conn| {
            let tree = StoredTree {
                conn,
                size: ledger_size(conn)?,
                upper: Some(&inner.upper),
            };
            generated(mingma_ledger::inclusion_proof(&tree, index, size))
        })
        .await
    }

    async fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>> {
        let inner = self.inner.clone();
        self.read(move |conn| {
            let tree = StoredTree {
                conn,
                size: ledger_size(conn)?,
                upper: Some(&inner.upper),
            };
            generated(mingma_ledger::consistency_proof(&tree, size1, size2))
        })
        .await
    }

    async fn pending_derivations(&self) -> Result<Vec<u64>> {
        self.read(|conn| {
            let leaves: Vec<i64> = conn
                .prepare_cached("SELECT leaf FROM pending_derivations ORDER BY leaf")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(backend)?;
            leaves
                .into_iter()
                .map(|leaf| {
                    u64::try_from(leaf).map_err(|_| corrupt(format!("pending leaf {leaf}")))
                })
                .collect()
        })
        .await
    }

    async fn derivations_done(&self, leaves: Vec<u64>) -> Result<()> {
        if leaves.is_empty() {
            return Ok(());
        }
        self.write(|reply| Job::Derived(leaves, reply)).await
    }

    async fn add_checkpoint(&self, checkpoint: StoredCheckpoint) -> Result<()> {
        self.write(|reply| Job::Checkpoint(checkpoint, reply)).await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.read(|conn| {
            let rows: Vec<(i64, Vec<u8>, String)> = conn
                .prepare_cached("SELECT size, root, note FROM checkpoints ORDER BY size")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(backend)?;
            rows.into_iter()
                .map(|(size, root, note)| {
                    Ok(StoredCheckpoint {
                        size: size as u64,
                        root: hash(root)?,
                        note,
                    })
                })
                .collect()
        })
        .await
    }

    async fn purge_scans(&self, before: Timestamp) -> Result<PurgeReport> {
        self.write(|reply| Job::Purge(before, reply)).await
    }

    async fn records_except_scans_from(&self, from: u64, limit: u64) -> Result<Vec<StoredRecord>> {
        let limit = limit.min(1 << 20) as i64;
        self.read(move |conn| {
            let rows: Vec<RecordRow> = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE leaf >= ?1 AND kind <> ?3 \
                     ORDER BY leaf LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            from.min(i64::MAX as u64) as i64,
                            limit,
                            kind_code(EvidenceKind::VenueScan)
                        ],
                        record_row,
                    )?
                    .collect()
                })
                .map_err(backend)?;
            rows.into_iter().map(stored_record).collect()
        })
        .await
    }

    async fn append_act(&self, act: Vec<u8>) -> Result<u64> {
        if act.is_empty() {
            return Err(StoreError::Range("an authority act cannot be empty".into()));
        }
        self.write(|reply| Job::Act(mingma_store::LedgerEntry::Act(act), reply))
            .await
    }

    async fn append_appeal(&self, step: Vec<u8>) -> Result<u64> {
        if step.is_empty() {
            return Err(StoreError::Range("an appeal step cannot be empty".into()));
        }
        self.write(|reply| Job::Act(mingma_store::LedgerEntry::Appeal(step), reply))
            .await
    }

    async fn acts(&self, from: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.read(move |conn| {
            let rows: Vec<(i64, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT l.idx, l.data FROM acts a JOIN ledger_leaves l ON l.idx = a.leaf \
                     WHERE a.leaf >= ?1 ORDER BY a.leaf",
                )
                .and_then(|mut s| {
                    s.query_map([from.min(i64::MAX as u64) as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .map_err(backend)?;
            rows.into_iter()
                .map(
                    |(leaf, data)| match mingma_store::LedgerEntry::from_bytes(&data) {
                        Ok(mingma_store::LedgerEntry::Act(act)) => Ok((leaf as u64, act)),
                        _ => Err(corrupt(format!(
                            "leaf {leaf} is listed as an act but is not one"
                        ))),
                    },
                )
                .collect()
        })
        .await
    }
}
