//! Reading the derivation inputs of many persons chunk by chunk (a declaration's:
//! hundreds of thousands of people), with their scans in the declared areas read
//! ahead.
//!
//! Each chunk of a declaration wants the scans of its few thousand people in the
//! area's window: about one row in three hundred of the window, scattered over all
//! of it, so each costs a b-tree descent of its own (about 2.7 µs at 1,000,000
//! people). All the chunks together want about one row in sixteen: read in one
//! pass in leaf order, neighbouring rows share pages, and a row costs about half
//! (1.45 µs of CPU, BENCHMARKS.md session 16). So when a reading is planned, its
//! people are cut into *segments* holding at most [`SqliteStore::read_ahead_scans`]
//! scans (the whole declaration when it fits); the first chunk that needs a segment
//! reads its scans on four threads, each through a connection of its own without
//! memory-mapping (measured faster here than mapped pages, which SQLite initialises
//! again at every visit), and the segment's fields are kept compactly, by person,
//! until a chunk of another segment is asked for. The segments are fixed when
//! planned, so that whichever of the chunks in flight asks first, its neighbours
//! find the same one.
//!
//! The person ids of everyone are found once, in order of person key (neighbouring
//! keys share pages), instead of one lookup per person per chunk.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use mingma_core::{EvidenceBody, EvidenceKind, PersonKey, RuleSet, Span, Timestamp};
use mingma_store::Result;
use rusqlite::{Connection, OpenFlags};

use crate::scan_index::{PidSet, ScanIndex};
use crate::{
    backend, covered_vids, each_scan_row_at, pid_of, scan_evidence, scan_row_without_salt,
    Evidence, ScanFields, Venues, SCAN_COLUMNS_WITHOUT_SALT,
};

/// How many scans a segment read ahead may hold unless the store is told otherwise
/// ([`SqliteStore::read_ahead_scans`]): about 64 bytes each, and a record id of up
/// to 64 — at most about 500 MB while a declaration runs. A declaration of 金水区
/// in the 1,000,000-person city reads 3.5 million.
///
/// [`SqliteStore::read_ahead_scans`]: crate::SqliteStore::read_ahead_scans
pub(crate) const READ_AHEAD_SCANS: usize = 4_000_000;

/// Threads reading a segment's rows, each a part of its leaves through a connection
/// of its own: more than the cores, because a part of each row's time is spent
/// waiting for the disk.
const READ_AHEAD_THREADS: usize = 4;

/// The page cache of each connection reading ahead (KiB, as `cache_size` takes it):
/// the pages on the path to the current row, and the rows' pages while they are read.
const AHEAD_CACHE_KIB: i64 = -16_384;

/// The store's [`mingma_store::Store::Reading`]: the people of one re-derivation,
/// with — when their chunks read scans by area — everyone's ids and the segments
/// of their scans read ahead, one at a time.
pub struct SqliteReading {
    pub(crate) persons: Arc<[PersonKey]>,
    pub(crate) rules: Arc<RuleSet>,
    pub(crate) below: u64,
    /// Present when chunks read their scans by area (many people, scans that matter
    /// only in risk areas, and a risk area declared).
    pub(crate) ahead: Option<Ahead>,
}

/// What is planned once for everyone: their ids, the windows to look in, and the
/// segment read last.
pub(crate) struct Ahead {
    /// Each person's id (`None`: unknown to the store), by position.
    pub(crate) pids: Vec<Option<i64>>,
    /// How many records about nobody lie below `below` (the risk areas' indexes
    /// below refer to that list; a chunk that sees another count reads as if
    /// nothing had been read ahead).
    pub(crate) shared_count: usize,
    /// The distinct windows of the risk areas.
    pub(crate) windows: Vec<Window>,
    /// Where each segment starts (a position in the persons read) and how many
    /// scans it holds: each as many people as hold at most the limit of scans (at
    /// least one person). Fixed when planned, so that whichever chunk asks first,
    /// its neighbours find the same segment.
    segments: Vec<(usize, usize)>,
    /// The last segment read (a chunk reading it holds it meanwhile).
    segment: Mutex<Option<Arc<Segment>>>,
}

/// A risk area's window as scans are looked for in it: the venues it covers, and
/// scans entered from the longest stay before it opened until it closed. Several
/// declarations of the same area and window share one.
pub(crate) struct Window {
    /// The risk areas (indexes in the records about nobody) declaring it.
    pub(crate) areas: Vec<usize>,
    pub(crate) vids: Vec<i64>,
    pub(crate) from: Timestamp,
    pub(crate) until: Timestamp,
}

/// The scans of the people at positions `persons` in their risk areas' windows.
pub(crate) struct Segment {
    persons: Range<usize>,
    /// `(pid, leaf, window)`, ascending.
    visits: Vec<(u32, u64, u32)>,
    /// The rows at those leaves below `below`, by person id and then leaf.
    facts: Vec<ScanFact>,
    /// The record ids of `facts`, one after another.
    ids: String,
    /// The rare fields of the scans that have any (recorded by proxy or by an
    /// official), by leaf.
    extras: HashMap<u64, ScanExtra>,
}

/// A scan row, compactly: 64 bytes besides its id.
struct ScanFact {
    leaf: u64,
    entered: i64,
    recorded_at: i64,
    vid: i64,
    left_at: Option<i64>,
    /// Where its id starts in [`Segment::ids`].
    id_at: u32,
    pid: u32,
    id_len: u16,
    /// The stored presence code (255 if out of range, which no presence is).
    presence: u8,
    extra: bool,
}

struct ScanExtra {
    proxy: Option<i64>,
    official: Option<String>,
    authority: Option<String>,
}

/// What one chunk reads from the read-ahead: everyone's ids and the segment
/// covering the chunk.
pub(crate) struct ChunkAhead<'a> {
    pub(crate) ahead: &'a Ahead,
    pub(crate) segment: &'a Segment,
}

impl ChunkAhead<'_> {
    /// The `(leaf, window)` of each of `pid`'s scans in the windows, in leaf order.
    pub(crate) fn visits_of(&self, pid: u32) -> impl Iterator<Item = (u64, usize)> + '_ {
        let visits = &self.segment.visits;
        let start = visits.partition_point(|v| v.0 < pid);
        visits[start..]
            .iter()
            .take_while(move |v| v.0 == pid)
            .map(|v| (v.1, v.2 as usize))
    }

    /// The records of `pid`'s scans read ahead at `leaves` (ascending), in leaf
    /// order: what `scan_records_at_leaves` reads of them. A leaf whose row is about
    /// someone else (altered behind the store's back) gives nothing.
    pub(crate) fn scans_of(
        &self,
        conn: &Connection,
        index: &ScanIndex,
        venues: &mut Venues<'_>,
        pid: i64,
        leaves: &[u64],
    ) -> Result<Vec<(u64, Evidence)>> {
        let segment = self.segment;
        let Ok(pid) = u32::try_from(pid) else {
            return Ok(Vec::new());
        };
        // A person's rows lie together, and a chunk's people are neighbours: the
        // search stays within a few cache lines of the last one.
        let first = segment.facts.partition_point(|f| f.pid < pid);
        let facts = segment.facts[first..].iter().take_while(|f| f.pid == pid);
        let mut found = Vec::with_capacity(leaves.len());
        let mut wanted = leaves.iter().peekable();
        for fact in facts {
            while wanted.next_if(|leaf| **leaf < fact.leaf).is_some() {}
            if wanted.next_if(|leaf| **leaf == fact.leaf).is_none() {
                continue;
            }
            let leaf = fact.leaf;
            let extra = fact.extra.then(|| segment.extras.get(&leaf)).flatten();
            let start = fact.id_at as usize;
            let id = segment
                .ids
                .get(start..start + usize::from(fact.id_len))
                .ok_or_else(|| backend(format!("scan at leaf {leaf}: its id was cut")))?;
            let fields = ScanFields {
                leaf: i64::try_from(leaf).map_err(backend)?,
                id,
                pid: i64::from(fact.pid),
                vid: fact.vid,
                entered: fact.entered,
                left_at: fact.left_at,
                presence: i64::from(fact.presence),
                recorded_at: fact.recorded_at,
                proxy: extra.and_then(|e| e.proxy),
                official: extra.and_then(|e| e.official.as_deref()),
                authority: extra.and_then(|e| e.authority.as_deref()),
            };
            found.push((leaf, scan_evidence(conn, index, venues, &fields)?));
        }
        Ok(found)
    }
}

/// A read-only connection of its own, without memory-mapping and with a page cache
/// of [`AHEAD_CACHE_KIB`].
fn unmapped(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    conn.execute_batch(&format!(
        "PRAGMA mmap_size=0; PRAGMA cache_size={AHEAD_CACHE_KIB}; PRAGMA busy_timeout=10000;"
    ))
    .map_err(backend)?;
    Ok(conn)
}

/// The ids of `persons`, by position: from the scan index for those it holds (one
/// pass over it), and for the others (people without scans) looked up in order of
/// person key (neighbouring keys share pages).
fn pids_of(path: &Path, index: &ScanIndex, persons: &[PersonKey]) -> Result<Vec<Option<i64>>> {
    let mut pids = index.pids_of(persons);
    let mut order: Vec<usize> = (0..persons.len()).filter(|i| pids[*i].is_none()).collect();
    if order.is_empty() {
        return Ok(pids);
    }
    order.sort_unstable_by_key(|i| persons[*i]);
    let conn = unmapped(path)?;
    for i in order {
        pids[i] = pid_of(&conn, &persons[i])?;
    }
    Ok(pids)
}

/// Plans reading `persons`' inputs with their scans read ahead, if chunks read them
/// by area (see `derivation_inputs`): everyone's ids, the risk areas' windows, and
/// the segments (cut by how many scans each person has in the windows). `shared` is the list of records about
/// nobody, `count` of them below `below`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    path: &Path,
    conn: &Connection,
    index: &ScanIndex,
    persons: &[PersonKey],
    rules: &RuleSet,
    shared: &[Evidence],
    count: usize,
    limit: usize,
) -> Result<Option<Ahead>> {
    let limit = limit.max(1);
    let areas: Vec<usize> = (0..count)
        .filter(|i| shared[*i].kind() == EvidenceKind::RiskArea)
        .collect();
    if persons.len() <= crate::BY_PERSON
        || areas.is_empty()
        || !rules.scans_matter_only_in_risk_areas()
    {
        return Ok(None);
    }
    let windows = windows(conn, shared, &areas, rules.longest_stay())?;
    let pids = pids_of(path, index, persons)?;
    let wanted = wanted(index, pids.iter().flatten());
    let mut per_pid: HashMap<u32, u32> = HashMap::new();
    for window in &windows {
        index.each_visit_at(
            &window.vids,
            window.from,
            window.until,
            &wanted,
            |pid, _| {
                *per_pid.entry(pid).or_default() += 1;
            },
        );
    }
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for (at, pid) in pids.iter().enumerate() {
        let scans = pid
            .and_then(|p| u32::try_from(p).ok())
            .and_then(|p| per_pid.get(&p).copied())
            .unwrap_or(0) as usize;
        match segments.last_mut() {
            Some((_, held)) if *held + scans <= limit => *held += scans,
            _ => segments.push((at, scans)),
        }
    }
    Ok(Some(Ahead {
        pids,
        shared_count: count,
        windows,
        segments,
        segment: Mutex::new(None),
    }))
}

/// The windows of the risk areas `areas` (indexes in `shared`), scans looked for in
/// each from `longest` (the longest stay counted) before it opened. Declarations of
/// the same area for the same window (declared again, or by two authorities) find
/// the same scans: they share one window.
pub(crate) fn windows(
    conn: &Connection,
    shared: &[Evidence],
    areas: &[usize],
    longest: Span,
) -> Result<Vec<Window>> {
    let mut windows: Vec<Window> = Vec::new();
    let mut scopes = Vec::new();
    for &area in areas {
        let Some(EvidenceBody::RiskArea {
            area: scope,
            from,
            until,
            ..
        }) = shared.get(area).map(|r| &r.body)
        else {
            continue;
        };
        let key = (scope, *from, *until);
        match scopes.iter().position(|k| *k == key) {
            Some(at) => windows[at].areas.push(area),
            None => {
                scopes.push(key);
                windows.push(Window {
                    areas: vec![area],
                    vids: covered_vids(conn, scope)?,
                    from: from.minus(longest),
                    until: *until,
                });
            }
        }
    }
    Ok(windows)
}

/// The ids the index holds among `pids` (only they can have scans in it, and a
/// corrupt, huge id cannot size the bitmap).
pub(crate) fn wanted<'p>(index: &ScanIndex, pids: impl Iterator<Item = &'p i64>) -> PidSet {
    pids.filter(|p| index.key(**p).is_some())
        .filter_map(|p| u32::try_from(*p).ok())
        .collect()
}

impl Ahead {
    /// The segment covering `range`: the last one read, or the planned one holding
    /// `range.start` read now (with the next ones too, if `range` reaches into them).
    pub(crate) fn segment(
        &self,
        path: &Path,
        index: &ScanIndex,
        range: &Range<usize>,
        below: u64,
    ) -> Result<Arc<Segment>> {
        let mut kept = self
            .segment
            .lock()
            .map_err(|_| backend("read-ahead poisoned"))?;
        if let Some(segment) = kept.as_ref() {
            if segment.persons.start <= range.start && range.end <= segment.persons.end {
                return Ok(segment.clone());
            }
        }
        // Drop the old one first: two would not fit where one was sized to.
        *kept = None;
        let len = self.pids.len();
        let first = self
            .segments
            .partition_point(|(start, _)| *start <= range.start)
            .saturating_sub(1);
        let start = self.segments.get(first).map_or(len, |(start, _)| *start);
        let (mut end, mut scans) = (start, 0);
        for (next, (_, held)) in self.segments.iter().enumerate().skip(first) {
            scans += held;
            end = self.segments.get(next + 1).map_or(len, |(start, _)| *start);
            if end >= range.end {
                break;
            }
        }
        let started = std::time::Instant::now();
        let segment = Arc::new(self.read_segment(path, index, start..end, scans, below)?);
        tracing::debug!(
            persons = end - start,
            scans = segment.facts.len(),
            ms = started.elapsed().as_millis() as u64,
            "scans read ahead for a derivation"
        );
        *kept = Some(segment.clone());
        Ok(segment)
    }

    /// Reads the scans of the people at `persons` in the windows (about `scans` of
    /// them): found in the index, then their rows in leaf order, each half of them on
    /// a thread of its own.
    fn read_segment(
        &self,
        path: &Path,
        index: &ScanIndex,
        persons: Range<usize>,
        scans: usize,
        below: u64,
    ) -> Result<Segment> {
        let wanted = wanted(index, self.pids[persons.clone()].iter().flatten());
        let mut visits: Vec<(u32, u64, u32)> = Vec::with_capacity(scans);
        for (w, window) in self.windows.iter().enumerate() {
            let w = u32::try_from(w).map_err(backend)?;
            index.each_visit_at(
                &window.vids,
                window.from,
                window.until,
                &wanted,
                |pid, leaf| visits.push((pid, leaf, w)),
            );
        }
        let mut leaves: Vec<u64> = visits.iter().map(|v| v.1).collect();
        leaves.sort_unstable();
        leaves.dedup();
        visits.sort_unstable();
        visits.dedup();
        let part = leaves.len().div_ceil(READ_AHEAD_THREADS).max(1);
        let parts: Vec<&[u64]> = leaves.chunks(part).collect();
        let read: Vec<Result<Rows>> = std::thread::scope(|s| {
            let running: Vec<_> = parts
                .iter()
                .map(|part| s.spawn(|| read_rows(path, part, below)))
                .collect();
            running
                .into_iter()
                .map(|t| {
                    t.join()
                        .map_err(|_| backend("a read-ahead thread panicked"))?
                })
                .collect()
        });
        let mut a = Rows {
            facts: Vec::with_capacity(leaves.len()),
            ids: String::new(),
            extras: HashMap::new(),
        };
        for rows in read {
            a.append(rows?)?;
        }
        a.facts.sort_unstable_by_key(|f| (f.pid, f.leaf));
        Ok(Segment {
            persons,
            visits,
            facts: a.facts,
            ids: a.ids,
            extras: a.extras,
        })
    }
}

/// Rows read ahead by one thread.
struct Rows {
    facts: Vec<ScanFact>,
    ids: String,
    extras: HashMap<u64, ScanExtra>,
}

impl Rows {
    /// `other`'s rows after these.
    fn append(&mut self, other: Rows) -> Result<()> {
        let shift = u32::try_from(self.ids.len()).map_err(backend)?;
        self.ids.push_str(&other.ids);
        u32::try_from(self.ids.len()).map_err(|_| backend("read-ahead ids past 4 GiB"))?;
        self.facts.extend(other.facts.into_iter().map(|mut f| {
            f.id_at += shift;
            f
        }));
        self.extras.extend(other.extras);
        Ok(())
    }
}

/// The scan rows at `leaves` (ascending) below `below`, compactly, through a
/// connection of this thread's own.
fn read_rows(path: &Path, leaves: &[u64], below: u64) -> Result<Rows> {
    let mut rows = Rows {
        facts: Vec::with_capacity(leaves.len()),
        ids: String::new(),
        extras: HashMap::new(),
    };
    if leaves.is_empty() {
        return Ok(rows);
    }
    let conn = unmapped(path)?;
    // One snapshot for all the statements.
    conn.execute_batch("BEGIN").map_err(backend)?;
    let read = each_scan_row_at(
        &conn,
        leaves,
        SCAN_COLUMNS_WITHOUT_SALT,
        scan_row_without_salt,
        |row| {
            let fields = row.fields();
            let Ok(leaf) = u64::try_from(fields.leaf) else {
                return Ok(());
            };
            // A pid past the index's ids is nobody's the index holds: never taken.
            let Ok(pid) = u32::try_from(fields.pid) else {
                return Ok(());
            };
            if leaf >= below {
                return Ok(());
            }
            let id_at =
                u32::try_from(rows.ids.len()).map_err(|_| backend("read-ahead ids past 4 GiB"))?;
            rows.ids.push_str(fields.id);
            let extra =
                fields.proxy.is_some() || fields.official.is_some() || fields.authority.is_some();
            if extra {
                rows.extras.insert(
                    leaf,
                    ScanExtra {
                        proxy: fields.proxy,
                        official: fields.official.map(str::to_owned),
                        authority: fields.authority.map(str::to_owned),
                    },
                );
            }
            rows.facts.push(ScanFact {
                leaf,
                entered: fields.entered,
                recorded_at: fields.recorded_at,
                vid: fields.vid,
                left_at: fields.left_at,
                id_at,
                pid,
                id_len: u16::try_from(fields.id.len()).unwrap_or(u16::MAX),
                presence: u8::try_from(fields.presence).unwrap_or(u8::MAX),
                extra,
            });
            Ok(())
        },
    );
    conn.execute_batch("COMMIT").map_err(backend)?;
    read?;
    Ok(rows)
}
