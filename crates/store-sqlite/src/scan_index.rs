//! The scans read model: who entered which venue when, in memory.
//!
//! The `scans` table is append-only by leaf (its primary key) and carries no
//! secondary index: an on-disk `(venue, entered)` or `(person, entered)` index costs
//! every appended scan about two random page writes, which capped durable appends
//! (see migration 0003). Instead this index answers "scans at these venues in
//! `[from, until)`" and "scans of this person in `[from, until)`" with leaves, in
//! entry order; rows are then read by leaf.
//!
//! - Built at open by one sequential pass over `persons` and one over `scans`.
//! - Kept current by the writer: scans inserted (and scans purged) in a transaction
//!   are [`Pending`] until it commits, then [`ScanIndex::apply`]ed before the writers
//!   are answered; a rolled-back transaction's pending changes are dropped. So a
//!   reader sees committed scans only, and a writer sees its own scans as soon as its
//!   `append` returns.
//! - Compact: per venue (the interned `vid`) a run of 16-byte entries (entered,
//!   person, leaf, length of stay in minutes — so tracing finds the stays that overlap
//!   a case's without reading rows) and per person (`pid`) a run of 14-byte entries
//!   (entered, leaf, venue — so a person's code is derived without reading the scans
//!   outside every risk area), each sorted by (entered, leaf): 30 bytes per scan.
//!   The scans held at open sit in one allocation per table (a slab, each run a range
//!   of it at its exact size), so the allocator adds nothing per run; per person the
//!   key and the run's slot take 57 bytes, per venue 24.
//! - Scans added after open grow each run's own vector (one pointer wide while
//!   empty; spare capacity under a quarter). A purge leaves holes in the slab; once holes and growth pass an eighth
//!   of the slab, the purge compacts the table into a new slab (for a moment both
//!   slabs are held).
//! - A late scan (entered before the last of its run) goes to a short unsorted
//!   tail, merged into its place once the tail outgrows an eighth of the vector: a
//!   late scan costs a few moves, not a shift of every scan entered after it.
//!
//! Entry times are seconds since 2000-01-01T00:00:00Z in a `u32`: a `Timestamp` is
//! limited to 2000–2099 (3.16e9 seconds < 2^32). Leaves take 48 bits: a leaf index is
//! below the number of rows of `ledger_leaves`, each of which holds a 32-byte hash,
//! and an SQLite database holds at most 2^32 pages of at most 64 KiB = 2^48 bytes, so
//! a leaf is below 2^43. Person and venue ids are dense `INTEGER PRIMARY KEY`s
//! (rows are never deleted), kept in a `u32`. Stored values outside these ranges are
//! corrupt data and reported as such, naming the leaf.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use mingma_core::{PersonKey, Span, Timestamp};
use mingma_store::{Result, StoreError};
use rusqlite::Connection;
use thin_vec::ThinVec;

use crate::backend;

/// Seconds from the Unix epoch to 2000-01-01T00:00:00Z.
const EPOCH_2000: i64 = 946_684_800;

/// Leaves must be below this (see the module documentation: they are below 2^43).
const LEAF_LIMIT: u64 = 1 << 48;

/// A person or venue id this far beyond the index's table is refused rather than
/// given a slot (ids are dense; a sparse one would cost memory for every id between).
const ID_REACH: u64 = 1 << 24;

/// Seconds since 2000 of a stored entry time, if it is in 2000–2099.
fn stored_entered(unix: i64) -> Option<u32> {
    Timestamp::from_unix_seconds(unix)?;
    u32::try_from(unix.checked_sub(EPOCH_2000)?).ok()
}

/// A query bound in seconds since 2000, clamped (order-preserving for every stored
/// entry time, which lies in 2000–2099).
fn bound(at: Timestamp) -> u32 {
    (at.unix_seconds().saturating_sub(EPOCH_2000)).clamp(0, i64::from(u32::MAX)) as u32
}

/// A set of person ids as a bitmap: ids are dense, and a district's window holds
/// millions of entries, each checked against the set.
pub(crate) struct PidSet(Vec<u64>);

impl PidSet {
    /// An empty set with room for ids below `len` without growing.
    pub(crate) fn with_capacity(len: usize) -> Self {
        Self(vec![0; len.div_ceil(64)])
    }

    /// Adds `pid`.
    pub(crate) fn insert(&mut self, pid: u32) {
        let word = pid as usize / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (pid % 64);
    }

    /// How many ids the set holds.
    pub(crate) fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The ids, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, word)| {
            (0..64u32)
                .filter(move |bit| word & (1 << bit) != 0)
                .map(move |bit| i as u32 * 64 + bit)
        })
    }

    /// Whether `pid` is in the set.
    pub(crate) fn contains(&self, pid: u32) -> bool {
        self.0
            .get(pid as usize / 64)
            .is_some_and(|word| word & (1 << (pid % 64)) != 0)
    }
}

impl FromIterator<u32> for PidSet {
    fn from_iter<I: IntoIterator<Item = u32>>(pids: I) -> Self {
        let mut set = PidSet(Vec::new());
        for pid in pids {
            set.insert(pid);
        }
        set
    }
}

/// The sort key of every vector: entry time, then leaf.
type Key = (u32, u64);

/// One scan in a venue's vector: 16 bytes.
#[derive(Clone, Copy)]
#[repr(C, packed(2))]
struct AtVenue {
    entered: u32,
    pid: u32,
    leaf_low: u32,
    leaf_high: u16,
    /// The stay to the recorded exit (see [`stay_field`]).
    stay: u16,
}

/// The stay of a scan without a recorded exit, or with one not after its entry
/// (derivation then assumes the venue kind's stay).
const NO_EXIT: u16 = 0;
/// Stays below this many seconds (9 hours) are kept to the second; longer ones in
/// minutes, rounded up, with this bit set.
const IN_MINUTES: u16 = 0x8000;
/// The longest stay kept, in minutes (about 22 days; any rule counts far less).
const MINUTES_LIMIT: i64 = 0x7fff;

/// The stay field of a scan entered at `entered` and left at `left` (seconds):
/// exact below 9 hours, rounded up to the minute above.
fn stay_field(entered: i64, left: Option<i64>) -> u16 {
    let seconds = left.map_or(0, |left| left.saturating_sub(entered).max(0));
    if seconds < i64::from(IN_MINUTES) {
        seconds as u16
    } else {
        let minutes = seconds.saturating_add(59) / 60;
        IN_MINUTES | minutes.min(MINUTES_LIMIT) as u16
    }
}

/// The recorded stay in seconds, if an exit after the entry was recorded.
fn stay_seconds(field: u16) -> Option<u32> {
    match field {
        NO_EXIT => None,
        f if f & IN_MINUTES != 0 => Some(u32::from(f & !IN_MINUTES) * 60),
        f => Some(u32::from(f)),
    }
}

/// One scan in a person's vector: 14 bytes. The venue is kept so that a
/// derivation can tell which of a person's scans lie in a risk area before reading
/// any of them.
#[derive(Clone, Copy)]
#[repr(C, packed(2))]
struct OfPerson {
    entered: u32,
    leaf_low: u32,
    leaf_high: u16,
    vid: u32,
}

const _: () = assert!(std::mem::size_of::<AtVenue>() == 16);
const _: () = assert!(std::mem::size_of::<OfPerson>() == 14);
// A run's slot: a million of them at 1,000,000 persons.
const _: () = assert!(std::mem::size_of::<Run<OfPerson>>() == 24);

fn leaf_of(low: u32, high: u16) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

/// `leaf` split into its low 32 and high 16 bits (the caller checked it is below
/// [`LEAF_LIMIT`]).
fn split(leaf: u64) -> (u32, u16) {
    ((leaf & 0xffff_ffff) as u32, ((leaf >> 32) & 0xffff) as u16)
}

/// An entry of a vector: sorted by [`Entry::key`].
trait Entry: Copy {
    fn leaf(self) -> u64;
    fn key(self) -> Key;
}

impl AtVenue {
    fn new(entered: u32, pid: u32, leaf: u64, stay: u16) -> Self {
        let (leaf_low, leaf_high) = split(leaf);
        Self {
            entered,
            pid,
            leaf_low,
            leaf_high,
            stay,
        }
    }

    /// Whether the stay may last past `from` (seconds since 2000): a stay without a
    /// recorded exit, or a longer one, counts as `longest` seconds.
    fn may_last_past(self, from: u32, longest: u32) -> bool {
        self.left(longest, longest) > from
    }

    /// When the stay ended as derivation counts it (`mingma_core::stay`): at the
    /// recorded exit (to the minute above 9 hours), else after `dwell`, and never
    /// after `longest`.
    fn left(self, dwell: u32, longest: u32) -> u32 {
        let stay = stay_seconds(self.stay).unwrap_or(dwell).min(longest);
        self.entered.saturating_add(stay)
    }
}

impl Entry for AtVenue {
    fn leaf(self) -> u64 {
        leaf_of(self.leaf_low, self.leaf_high)
    }
    fn key(self) -> Key {
        (self.entered, self.leaf())
    }
}

impl OfPerson {
    fn new(entered: u32, leaf: u64, vid: u32) -> Self {
        let (leaf_low, leaf_high) = split(leaf);
        Self {
            entered,
            leaf_low,
            leaf_high,
            vid,
        }
    }
}

impl Entry for OfPerson {
    fn leaf(self) -> u64 {
        leaf_of(self.leaf_low, self.leaf_high)
    }
    fn key(self) -> Key {
        (self.entered, self.leaf())
    }
}

/// A tail of late entries is merged once it is longer than this plus an eighth of
/// the sorted entries: a late scan costs a few moves on average, not a shift of
/// everything entered after it, and a query reads at most that many extra entries.
const TAIL: usize = 32;

/// A table is compacted (after a purge) once its slab's holes and the entries its
/// runs grew by since number more than its slab's length over this.
const COMPACT_AT: usize = 8;

/// The scans of one venue or one person. Those held at open (or at the last
/// compaction) are a range of their table's slab, sorted by (entered, leaf); scans
/// added since are in `growth`: sorted up to `sorted`, then a short tail of late
/// scans in arrival order. Scans arriving in entry order (nearly all) extend the
/// sorted part, and then the slab range and the growth's sorted part together stay
/// in order.
struct Run<T> {
    /// Where this run's entries begin in the table's slab.
    start: usize,
    /// How many entries of the slab, from `start`, are this run's.
    len: u32,
    /// How many of `growth` are sorted.
    sorted: u32,
    growth: ThinVec<T>,
}

impl<T> Default for Run<T> {
    fn default() -> Self {
        Self {
            start: 0,
            len: 0,
            sorted: 0,
            growth: ThinVec::new(),
        }
    }
}

impl<T: Entry> Run<T> {
    /// Sorts the growth's tail into its sorted part: moves only the sorted entries
    /// that come after the tail's first.
    fn merge(&mut self) {
        let sorted = self.sorted as usize;
        if sorted >= self.growth.len() {
            return;
        }
        let mut tail = self.growth.split_off(sorted);
        tail.sort_unstable_by_key(|e| e.key());
        let first = tail.first().map(|e| e.key()).unwrap_or_default();
        let at = self.growth.partition_point(|e| e.key() < first);
        let moved = self.growth.split_off(at);
        let (mut a, mut b) = (moved.into_iter().peekable(), tail.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.key() <= y.key() => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            self.growth.extend(next);
        }
        self.sorted = self.growth.len() as u32;
    }
}

/// One run as read: its slab range and its growth.
#[derive(Clone, Copy)]
struct View<'a, T> {
    base: &'a [T],
    sorted: &'a [T],
    tail: &'a [T],
}

/// The entries of a sorted slice entered in `[from, until)`.
fn sorted_window<T: Entry>(entries: &[T], from: u32, until: u32) -> &[T] {
    if from >= until {
        return &[];
    }
    let start = entries.partition_point(|e| e.key().0 < from);
    let end = entries.partition_point(|e| e.key().0 < until);
    entries.get(start..end.max(start)).unwrap_or(&[])
}

impl<'a, T: Entry> View<'a, T> {
    /// The entries entered in `[from, until)`, not in order.
    fn in_window(self, from: u32, until: u32) -> impl Iterator<Item = &'a T> {
        let (slices, tail) = self.parts(from, until);
        slices.into_iter().flatten().chain(tail)
    }

    /// Appends the entries entered in `[from, until)` to `out`, not in order: the
    /// sorted parts copied as slices.
    fn window(self, from: u32, until: u32, out: &mut Vec<T>) {
        let (slices, tail) = self.parts(from, until);
        for slice in slices {
            out.extend_from_slice(slice);
        }
        out.extend(tail);
    }

    /// The entries entered in `[from, until)`: those of the slab range and of the
    /// growth's sorted part as slices, and those of the tail.
    fn parts(self, from: u32, until: u32) -> ([&'a [T]; 2], impl Iterator<Item = &'a T>) {
        let tail = self
            .tail
            .iter()
            .filter(move |e| from < until && (from..until).contains(&e.key().0));
        (
            [
                sorted_window(self.base, from, until),
                sorted_window(self.sorted, from, until),
            ],
            tail,
        )
    }

    /// Every entry, not in order.
    fn entries(self) -> impl Iterator<Item = &'a T> {
        self.base.iter().chain(self.sorted).chain(self.tail)
    }
}

/// The runs of every venue or every person, by id. The entries held at open sit in
/// one allocation, the slab, run after run at their exact sizes: a vector per run
/// would cost the allocator's rounding and per-page overhead (4.4 bytes per scan
/// under mimalloc, measured at 1,000,000 persons). Scans added since grow each run's
/// own vector; a purge leaves holes in the slab, and once holes and growth together
/// pass an eighth of the slab the table is compacted into a new one.
struct Table<T> {
    slab: Vec<T>,
    runs: Vec<Run<T>>,
    /// Slab entries no run holds any more (purged).
    holes: usize,
    /// Entries in the runs' growth vectors.
    grown: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            slab: Vec::new(),
            runs: Vec::new(),
            holes: 0,
            grown: 0,
        }
    }
}

impl<T: Entry> Table<T> {
    /// A table of `counts.len()` runs filled by [`Table::fill`] from `entries`: each
    /// run gets a slab range of exactly its count, in id order.
    fn load(counts: &[u32], entries: impl Iterator<Item = (usize, T)>, filler: T) -> Self {
        let mut runs = Vec::with_capacity(counts.len());
        let mut start = 0usize;
        for count in counts {
            runs.push(Run {
                start,
                len: 0,
                sorted: 0,
                growth: ThinVec::new(),
            });
            start += *count as usize;
        }
        let mut slab = vec![filler; start];
        for (id, entry) in entries {
            // The caller counted every entry it gives.
            if let Some(run) = runs.get_mut(id) {
                if let Some(slot) = slab.get_mut(run.start + run.len as usize) {
                    *slot = entry;
                    run.len += 1;
                }
            }
        }
        for run in &runs {
            let range = &mut slab[run.start..run.start + run.len as usize];
            if !range.is_sorted_by_key(|e| e.key()) {
                range.sort_unstable_by_key(|e| e.key());
            }
        }
        Self {
            slab,
            runs,
            holes: 0,
            grown: 0,
        }
    }

    /// Run `id` as read, if the table has it.
    fn get(&self, id: usize) -> Option<View<'_, T>> {
        let run = self.runs.get(id)?;
        let base = self
            .slab
            .get(run.start..run.start + run.len as usize)
            .unwrap_or(&[]);
        let (sorted, tail) = run
            .growth
            .split_at((run.sorted as usize).min(run.growth.len()));
        Some(View { base, sorted, tail })
    }

    /// Adds `item` to run `id`, making room for the run if the table has none yet.
    fn push(&mut self, id: usize, item: T) {
        if self.runs.len() <= id {
            self.runs.resize_with(id + 1, Run::default);
        }
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        let last = match run.growth.last() {
            Some(last) => Some(last.key()),
            None if run.len > 0 => self
                .slab
                .get(run.start + run.len as usize - 1)
                .map(|e| e.key()),
            None => None,
        };
        if run.growth.len() == run.growth.capacity() {
            // Grow by a quarter, not the default doubling: the spare capacity of a
            // vector stays under a quarter of its length.
            run.growth.reserve_exact(run.growth.len() / 4 + 4);
        }
        let in_order =
            run.sorted as usize == run.growth.len() && last.is_none_or(|last| last <= item.key());
        run.growth.push(item);
        self.grown += 1;
        if in_order {
            run.sorted += 1;
        } else if run.growth.len() - run.sorted as usize > TAIL + run.sorted as usize / 8 {
            run.merge();
        }
    }

    /// Drops run `id`'s entries whose leaves are in `gone` (sorted): from its slab
    /// range in place, and from its growth, which gives back capacity once it is more
    /// than twice what is used. Returns how many were dropped.
    fn remove_leaves(&mut self, id: usize, gone: &[u64]) -> u64 {
        let Some(run) = self.runs.get_mut(id) else {
            return 0;
        };
        let kept = |e: &T| gone.binary_search(&e.leaf()).is_err();
        let base = self
            .slab
            .get_mut(run.start..run.start + run.len as usize)
            .unwrap_or(&mut []);
        let mut write = 0;
        for read in 0..base.len() {
            if kept(&base[read]) {
                base[write] = base[read];
                write += 1;
            }
        }
        let from_base = base.len() - write;
        run.len = write as u32;
        self.holes += from_base;

        run.merge();
        let before = run.growth.len();
        run.growth.retain(kept);
        run.sorted = run.growth.len() as u32;
        if run.growth.capacity() > 2 * run.growth.len() + 8 {
            run.growth.shrink_to_fit();
        }
        let from_growth = before - run.growth.len();
        self.grown -= from_growth;
        (from_base + from_growth) as u64
    }

    /// Whether holes and growth have passed an eighth of the slab.
    fn wants_compaction(&self) -> bool {
        self.holes + self.grown > self.slab.len() / COMPACT_AT
    }

    /// Moves every run, its slab range and its growth, into a new slab of exactly
    /// the entries held, sorted; frees the old slab and every growth vector.
    fn compact(&mut self) {
        let held = self.slab.len() - self.holes + self.grown;
        let mut slab = Vec::with_capacity(held);
        for run in &mut self.runs {
            let start = slab.len();
            slab.extend_from_slice(
                self.slab
                    .get(run.start..run.start + run.len as usize)
                    .unwrap_or(&[]),
            );
            slab.extend_from_slice(&run.growth);
            let range = &mut slab[start..];
            if !range.is_sorted_by_key(|e| e.key()) {
                range.sort_unstable_by_key(|e| e.key());
            }
            *run = Run {
                start,
                len: (slab.len() - start) as u32,
                sorted: 0,
                growth: ThinVec::new(),
            };
        }
        self.slab = slab;
        self.holes = 0;
        self.grown = 0;
    }

    /// Bytes allocated: the slab, the growth vectors' capacities, the run slots.
    fn bytes(&self) -> usize {
        let growth: usize = self.runs.iter().map(|r| r.growth.capacity()).sum();
        (self.slab.capacity() + growth) * std::mem::size_of::<T>()
            + self.runs.capacity() * std::mem::size_of::<Run<T>>()
    }
}

/// Sorts entries gathered by [`View::window`] into entry order (then leaf order).
fn in_entry_order<T: Entry>(mut found: Vec<T>) -> Vec<T> {
    if !found.is_sorted_by_key(|e| e.key()) {
        found.sort_unstable_by_key(|e| e.key());
    }
    found
}

#[derive(Default)]
struct Tables {
    /// Scans by venue (`vid`).
    venues: Table<AtVenue>,
    /// Scans by person (`pid`).
    persons: Table<OfPerson>,
    /// Person keys by `pid`: every person at open; since then, those who scanned.
    keys: Vec<Option<PersonKey>>,
    /// Scans held.
    scans: u64,
}

impl Tables {
    /// The scans of venue `vid`, if the index has a run for it.
    fn venue(&self, vid: i64) -> Option<View<'_, AtVenue>> {
        usize::try_from(vid).ok().and_then(|v| self.venues.get(v))
    }

    /// The scans of person `pid`, if the index has a run for it.
    fn person(&self, pid: i64) -> Option<View<'_, OfPerson>> {
        usize::try_from(pid).ok().and_then(|p| self.persons.get(p))
    }

    /// Appends the entries of these venues entered in `[from, until)` (seconds
    /// since 2000) to `out`.
    fn windows(&self, vids: &[i64], from: u32, until: u32, out: &mut Vec<AtVenue>) {
        for vid in vids {
            if let Some(venue) = self.venue(*vid) {
                venue.window(from, until, out);
            }
        }
    }
}

/// A scan the open transaction inserted, shown once it commits.
#[derive(Clone, Copy)]
pub(crate) struct Added {
    leaf: u64,
    entered: u32,
    pid: u32,
    vid: u32,
    stay: u16,
    key: PersonKey,
}

/// A scan the open transaction purged, forgotten once it commits.
#[derive(Clone, Copy)]
struct Purged {
    leaf: u64,
    pid: u32,
    vid: u32,
}

/// Changes of the open transaction, applied to the index after it commits.
#[derive(Default)]
pub(crate) struct Pending {
    added: Vec<Added>,
    purged: Vec<Purged>,
}

impl Pending {
    /// A scan inserted (checked by [`ScanIndex::admit`]).
    pub(crate) fn add(&mut self, scan: Added) {
        self.added.push(scan);
    }

    /// A scan deleted by a purge: its leaf, person and venue as stored.
    pub(crate) fn purge(&mut self, leaf: i64, pid: i64, vid: i64) {
        // A row the index cannot hold was never in it (the open would have failed).
        if let (Ok(leaf), Ok(pid), Ok(vid)) =
            (u64::try_from(leaf), u32::try_from(pid), u32::try_from(vid))
        {
            self.purged.push(Purged { leaf, pid, vid });
        }
    }

    /// How many scans were added and purged so far.
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.added.len(), self.purged.len())
    }

    /// Back to `len` (after a savepoint was rolled back).
    pub(crate) fn truncate(&mut self, (added, purged): (usize, usize)) {
        self.added.truncate(added);
        self.purged.truncate(purged);
    }

    /// After a rollback.
    pub(crate) fn clear(&mut self) {
        self.added.clear();
        self.purged.clear();
    }
}

/// Sizes of the index, for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanIndexStats {
    /// Scans held.
    pub scans: u64,
    /// Venue slots (interned `vid`s).
    pub venues: u64,
    /// Person slots (interned `pid`s).
    pub persons: u64,
    /// Bytes the index has allocated (capacities, not lengths; without the
    /// allocator's own overhead).
    pub bytes: u64,
}

/// The in-memory scan indexes (see the module documentation).
#[derive(Default)]
pub(crate) struct ScanIndex {
    tables: RwLock<Tables>,
    /// The venue rows read so far, by `vid`: interned venues never change.
    venue_rows: RwLock<HashMap<i64, crate::Venue>>,
}

impl ScanIndex {
    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        // Nothing panics while holding the lock; if something did, the tables are
        // still whole (every change is a push, insert or retain).
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds the index from the committed `persons` and `scans` tables: one
    /// sequential pass over each.
    pub(crate) fn load(conn: &Connection) -> Result<Self> {
        let corrupt = |what: String| StoreError::Corrupt(what);
        let dense = |table: &str| -> Result<usize> {
            let (max, count): (i64, i64) = conn
                .query_row(
                    &format!(
                        "SELECT COALESCE(MAX(rowid), 0), COUNT(*) FROM {table} WHERE rowid > 0"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            let reach = u64::try_from(max - count)
                .ok()
                .filter(|gap| *gap <= ID_REACH);
            match (reach, u32::try_from(max)) {
                (Some(_), Ok(max)) => Ok(max as usize + 1),
                _ => Err(corrupt(format!(
                    "{table}: id {max} with only {count} rows (ids are dense; the table was altered)"
                ))),
            }
        };
        let venue_slots = dense("venues")?;
        let mut keys: Vec<Option<PersonKey>> = vec![None; dense("persons")?];

        let mut stmt = conn
            .prepare("SELECT pid, key FROM persons")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let pid: i64 = row.get(0).map_err(backend)?;
            let key: Vec<u8> = row.get(1).map_err(backend)?;
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| corrupt(format!("person {pid}: the key is not 32 bytes")))?;
            let slot = usize::try_from(pid)
                .ok()
                .and_then(|p| keys.get_mut(p))
                .ok_or_else(|| corrupt(format!("person id {pid} out of range")))?;
            *slot = Some(PersonKey::from_bytes(key));
        }
        drop(rows);
        drop(stmt);

        // Every scan is first gathered in one vector (20 bytes each; freed at the
        // end), counted by venue and by person, then placed in each table's slab.
        let mut stmt = conn
            .prepare("SELECT leaf, pid, vid, entered, left_at FROM scans")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        let mut gathered: Vec<(u32, AtVenue)> = Vec::new();
        let mut at_venue = vec![0u32; venue_slots];
        let mut of_person = vec![0u32; keys.len()];
        while let Some(row) = rows.next().map_err(backend)? {
            let leaf: i64 = row.get(0).map_err(backend)?;
            let pid: i64 = row.get(1).map_err(backend)?;
            let vid: i64 = row.get(2).map_err(backend)?;
            let entered: i64 = row.get(3).map_err(backend)?;
            let stay = stay_field(entered, row.get(4).map_err(backend)?);
            let bad = |what: &str| corrupt(format!("scan at leaf {leaf}: {what}"));
            let leaf = u64::try_from(leaf)
                .ok()
                .filter(|l| *l < LEAF_LIMIT)
                .ok_or_else(|| bad("leaf out of range"))?;
            let entered = stored_entered(entered).ok_or_else(|| bad("entry time out of range"))?;
            let person = usize::try_from(pid)
                .ok()
                .filter(|p| keys.get(*p).is_some_and(Option::is_some))
                .ok_or_else(|| bad(&format!("person {pid} does not exist")))?;
            let venue = usize::try_from(vid)
                .ok()
                .filter(|v| *v < venue_slots)
                .ok_or_else(|| bad(&format!("venue {vid} does not exist")))?;
            let too_many = |count: &mut u32| {
                *count = count
                    .checked_add(1)
                    .ok_or_else(|| bad("more than 2^32 scans for one venue or person"))?;
                Ok::<(), StoreError>(())
            };
            too_many(&mut of_person[person])?;
            too_many(&mut at_venue[venue])?;
            // `pid` and `vid` index tables of at most u32::MAX + 1 slots.
            gathered.push((venue as u32, AtVenue::new(entered, pid as u32, leaf, stay)));
        }
        drop(rows);
        drop(stmt);
        let scans = gathered.len() as u64;
        let venues = Table::load(
            &at_venue,
            gathered.iter().map(|(vid, e)| (*vid as usize, *e)),
            AtVenue::new(0, 0, 0, NO_EXIT),
        );
        drop(at_venue);
        let persons = Table::load(
            &of_person,
            gathered
                .iter()
                .map(|(vid, e)| (e.pid as usize, OfPerson::new(e.entered, e.leaf(), *vid))),
            OfPerson::new(0, 0, 0),
        );
        drop(gathered);
        let tables = Tables {
            venues,
            persons,
            keys,
            scans,
        };
        Ok(Self {
            venue_rows: RwLock::default(),
            tables: RwLock::new(tables),
        })
    }

    /// Checks that a scan about to be inserted fits the index, and gives what to
    /// add once it commits. A refusal refuses the write: every committed scan must be
    /// in the index.
    pub(crate) fn admit(
        &self,
        leaf: u64,
        pid: i64,
        vid: i64,
        entered: Timestamp,
        left: Option<Timestamp>,
        key: PersonKey,
    ) -> std::result::Result<Added, String> {
        let stay = stay_field(entered.unix_seconds(), left.map(Timestamp::unix_seconds));
        if leaf >= LEAF_LIMIT {
            return Err(format!("leaf {leaf} is beyond what the scan index holds"));
        }
        let entered = stored_entered(entered.unix_seconds())
            .ok_or_else(|| "the entry time is outside 2000-2099".to_owned())?;
        let tables = self.read();
        let near = |id: i64, slots: usize| {
            u64::try_from(id)
                .ok()
                .filter(|id| *id <= u64::from(u32::MAX) && *id < slots as u64 + ID_REACH)
                .map(|id| id as u32)
        };
        let pid = near(pid, tables.keys.len()).ok_or_else(|| {
            format!("person id {pid} is far beyond the index (was the persons table altered?)")
        })?;
        let vid = near(vid, tables.venues.runs.len()).ok_or_else(|| {
            format!("venue id {vid} is far beyond the index (was the venues table altered?)")
        })?;
        Ok(Added {
            leaf,
            entered,
            pid,
            vid,
            stay,
            key,
        })
    }

    /// Applies the changes of a committed transaction, and empties `pending`.
    pub(crate) fn apply(&self, pending: &mut Pending) {
        if pending.added.is_empty() && pending.purged.is_empty() {
            return;
        }
        let mut tables = self.write();
        let t = &mut *tables;
        for scan in pending.added.drain(..) {
            let (pid, vid) = (scan.pid as usize, scan.vid as usize);
            t.venues.push(
                vid,
                AtVenue::new(scan.entered, scan.pid, scan.leaf, scan.stay),
            );
            if t.keys.len() <= pid {
                t.keys.resize(pid + 1, None);
            }
            if let Some(slot) = t.keys.get_mut(pid) {
                slot.get_or_insert(scan.key);
            }
            t.persons
                .push(pid, OfPerson::new(scan.entered, scan.leaf, scan.vid));
            t.scans += 1;
        }
        if !pending.purged.is_empty() {
            let mut by_venue: HashMap<u32, Vec<u64>> = HashMap::new();
            let mut by_person: HashMap<u32, Vec<u64>> = HashMap::new();
            for gone in pending.purged.drain(..) {
                by_venue.entry(gone.vid).or_default().push(gone.leaf);
                by_person.entry(gone.pid).or_default().push(gone.leaf);
            }
            let mut removed = 0;
            for (vid, mut leaves) in by_venue {
                leaves.sort_unstable();
                removed += t.venues.remove_leaves(vid as usize, &leaves);
            }
            for (pid, mut leaves) in by_person {
                leaves.sort_unstable();
                t.persons.remove_leaves(pid as usize, &leaves);
            }
            t.scans = t.scans.saturating_sub(removed);
            // A purge already touched most runs; compacting now keeps the slab's
            // holes and the growth vectors' overhead to a bounded share.
            if t.venues.wants_compaction() {
                t.venues.compact();
            }
            if t.persons.wants_compaction() {
                t.persons.compact();
            }
        }
    }

    /// Leaves of the scans at these venues entered in `[from, until)`, in entry order
    /// (then leaf order).
    pub(crate) fn at_venues(&self, vids: &[i64], from: Timestamp, until: Timestamp) -> Vec<u64> {
        let (from, until) = (bound(from), bound(until));
        let mut found: Vec<AtVenue> = Vec::new();
        let tables = self.read();
        tables.windows(vids, from, until, &mut found);
        drop(tables);
        in_entry_order(found)
            .into_iter()
            .map(|e| e.leaf())
            .collect()
    }

    /// Hands `each` the `(pid, leaf)` of the scans at these venues entered in
    /// `[from, until)`, of the people in `pids` only, in no particular order (the
    /// index is locked for reading meanwhile: `each` must be quick).
    pub(crate) fn each_visit_at(
        &self,
        vids: &[i64],
        from: Timestamp,
        until: Timestamp,
        pids: &PidSet,
        mut each: impl FnMut(u32, u64),
    ) {
        let (from, until) = (bound(from), bound(until));
        let tables = self.read();
        for vid in vids {
            if let Some(venue) = tables.venue(*vid) {
                // In place: a district's window holds millions of entries, and most
                // are of people not asked for.
                for e in venue
                    .in_window(from, until)
                    .filter(|e| pids.contains(e.pid))
                {
                    each(e.pid, e.leaf());
                }
            }
        }
    }

    /// Leaves of the scans at these venues whose stay may overlap `[from, until)`:
    /// entered before `until`, and left after `from` — a stay without a recorded exit
    /// (or a longer one) counting as `longest`. In entry order (then leaf order).
    pub(crate) fn stays_at(
        &self,
        vids: &[i64],
        from: Timestamp,
        until: Timestamp,
        longest: Span,
    ) -> Vec<u64> {
        let lower = bound(from.minus(longest));
        let longest = u32::try_from(longest.seconds().max(0)).unwrap_or(u32::MAX);
        let (from, until) = (bound(from), bound(until));
        let mut found: Vec<AtVenue> = Vec::new();
        let tables = self.read();
        tables.windows(vids, lower, until, &mut found);
        drop(tables);
        found.retain(|e| e.may_last_past(from, longest));
        in_entry_order(found)
            .into_iter()
            .map(|e| e.leaf())
            .collect()
    }

    /// The stays at these venues (each with the stay assumed when no exit was
    /// recorded) that overlap `[from, until)` as derivation counts them: `(pid,
    /// leaf, entered, left)`, times in Unix seconds, in entry order.
    pub(crate) fn overlapping(
        &self,
        venues: &[(i64, Span)],
        from: Timestamp,
        until: Timestamp,
        longest: Span,
    ) -> Vec<(u32, u64, i64, i64)> {
        let lower = bound(from.minus(longest));
        let seconds = |s: Span| u32::try_from(s.seconds().max(0)).unwrap_or(u32::MAX);
        let longest = seconds(longest);
        let (from, until) = (bound(from), bound(until));
        let mut found: Vec<(AtVenue, u32)> = Vec::new();
        let mut window = Vec::new();
        let tables = self.read();
        for (vid, dwell) in venues {
            if let Some(venue) = tables.venue(*vid) {
                window.clear();
                venue.window(lower, until, &mut window);
                let dwell = seconds(*dwell);
                found.extend(
                    window
                        .iter()
                        .map(|e| (*e, e.left(dwell, longest)))
                        .filter(|(e, left)| e.entered < until && *left > from),
                );
            }
        }
        drop(tables);
        found.sort_unstable_by_key(|(e, _)| e.key());
        found
            .into_iter()
            .map(|(e, left)| {
                (
                    e.pid,
                    e.leaf(),
                    i64::from(e.entered) + EPOCH_2000,
                    i64::from(left) + EPOCH_2000,
                )
            })
            .collect()
    }

    /// The people with a scan at one of these venues entered in `[from, until)`,
    /// each once, in order of their ids.
    pub(crate) fn persons_at(
        &self,
        vids: &[i64],
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<PersonKey>> {
        let (from, until) = (bound(from), bound(until));
        let tables = self.read();
        // Each entry in the windows marks its person in a bitmap: no copy, no sort.
        let mut seen = PidSet::with_capacity(tables.keys.len());
        for vid in vids {
            if let Some(venue) = tables.venue(*vid) {
                for entry in venue.in_window(from, until) {
                    seen.insert(entry.pid);
                }
            }
        }
        let mut keys = Vec::with_capacity(seen.len());
        for pid in seen.iter() {
            match tables.keys.get(pid as usize) {
                Some(Some(key)) => keys.push(*key),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "person {pid} has scans in the index but no key"
                    )))
                }
            }
        }
        Ok(keys)
    }

    /// Leaves of the person's scans entered in `[from, until)` (every scan without
    /// bounds), in entry order (then leaf order).
    pub(crate) fn of_person(&self, pid: i64, range: Option<(Timestamp, Timestamp)>) -> Vec<u64> {
        let mut found: Vec<OfPerson> = Vec::new();
        let tables = self.read();
        if let Some(person) = tables.person(pid) {
            match range {
                Some((from, until)) => person.window(bound(from), bound(until), &mut found),
                None => found.extend(person.entries()),
            }
        }
        drop(tables);
        in_entry_order(found)
            .into_iter()
            .map(|e| e.leaf())
            .collect()
    }

    /// The person's scans entered in any of `windows` (each `[from, until)`), each
    /// once, as `(leaf, vid, entered)`, in entry order (then leaf order).
    pub(crate) fn of_person_in(
        &self,
        pid: i64,
        windows: &[(Timestamp, Timestamp)],
    ) -> Vec<(u64, i64, Timestamp)> {
        let windows: Vec<(u32, u32)> = windows
            .iter()
            .map(|(from, until)| (bound(*from), bound(*until)))
            .filter(|(from, until)| from < until)
            .collect();
        let mut found: Vec<OfPerson> = Vec::new();
        let tables = self.read();
        if let Some(person) = tables.person(pid) {
            found.extend(person.entries().filter(|e| {
                let entered = e.entered;
                windows.iter().any(|(f, u)| (*f..*u).contains(&entered))
            }));
        }
        drop(tables);
        in_entry_order(found)
            .into_iter()
            .map(|e| {
                let entered = Timestamp::clamped_unix_seconds(i64::from(e.entered) + EPOCH_2000);
                (e.leaf(), i64::from(e.vid), entered)
            })
            .collect()
    }

    /// The venue row `vid` refers to, as kept (see [`ScanIndex::keep_venue`]).
    pub(crate) fn venue(&self, vid: i64) -> Option<crate::Venue> {
        self.venue_rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vid)
            .cloned()
    }

    /// Keeps venue row `vid` (rows never change once a venue is interned).
    pub(crate) fn keep_venue(&self, vid: i64, venue: crate::Venue) {
        let mut rows = self
            .venue_rows
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        rows.insert(vid, venue);
    }

    /// The key of person `pid`, if the index holds it.
    pub(crate) fn key(&self, pid: i64) -> Option<PersonKey> {
        let tables = self.read();
        *tables.keys.get(usize::try_from(pid).ok()?)?
    }

    /// The id of each of `persons` the index holds (by position; `None` for the
    /// others): one pass over the index's keys against a map of those asked for,
    /// instead of a lookup in the database per person.
    pub(crate) fn pids_of(&self, persons: &[PersonKey]) -> Vec<Option<i64>> {
        let mut at: HashMap<PersonKey, usize> = HashMap::with_capacity(persons.len());
        // A person asked for twice: the later position, then copied to the earlier.
        for (i, person) in persons.iter().enumerate() {
            at.insert(*person, i);
        }
        let mut pids = vec![None; persons.len()];
        let tables = self.read();
        for (pid, key) in tables.keys.iter().enumerate() {
            if let Some(i) = key.as_ref().and_then(|k| at.get(k)) {
                pids[*i] = i64::try_from(pid).ok();
            }
        }
        drop(tables);
        for (i, person) in persons.iter().enumerate() {
            if let Some(last) = at.get(person).filter(|last| **last != i) {
                pids[i] = pids[*last];
            }
        }
        pids
    }

    /// Sizes, for benchmarks.
    pub(crate) fn stats(&self) -> ScanIndexStats {
        let tables = self.read();
        let keys = tables.keys.capacity() * std::mem::size_of::<Option<PersonKey>>();
        ScanIndexStats {
            scans: tables.scans,
            venues: tables.venues.runs.len() as u64,
            persons: tables.persons.runs.len().max(tables.keys.len()) as u64,
            bytes: (tables.venues.bytes() + tables.persons.bytes() + keys) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_set_holds_exactly_its_members() {
        let members = [0u32, 1, 63, 64, 65, 1000, 4095];
        let set: PidSet = members.iter().copied().collect();
        for pid in 0..5000 {
            assert_eq!(set.contains(pid), members.contains(&pid), "pid {pid}");
        }
        assert!(!set.contains(u32::MAX));
        assert_eq!(set.len(), members.len());
        assert_eq!(set.iter().collect::<Vec<_>>(), members);
        let empty: PidSet = std::iter::empty().collect();
        assert!(!empty.contains(0));
        assert_eq!(empty.iter().count(), 0);
    }

    fn at(unix: i64) -> Timestamp {
        Timestamp::from_unix_seconds(unix).expect("in range")
    }

    fn add(index: &ScanIndex, leaf: u64, pid: i64, vid: i64, entered: i64) {
        let mut pending = Pending::default();
        pending.add(
            index
                .admit(
                    leaf,
                    pid,
                    vid,
                    at(entered),
                    None,
                    PersonKey::from_bytes([pid as u8; 32]),
                )
                .expect("admitted"),
        );
        index.apply(&mut pending);
    }

    const T: i64 = 1_654_041_600; // 2022-06-01T00:00:00Z

    #[test]
    fn late_scans_take_their_place_and_windows_are_half_open() {
        let index = ScanIndex::default();
        add(&index, 0, 1, 1, T + 100);
        add(&index, 1, 2, 1, T + 300);
        add(&index, 2, 1, 1, T + 200); // late
        add(&index, 3, 1, 2, T + 100);
        add(&index, 4, 1, 1, T + 200); // late, same time: by leaf
        let all = (at(T), at(T + 1000));
        assert_eq!(index.at_venues(&[1], all.0, all.1), [0, 2, 4, 1]);
        assert_eq!(index.at_venues(&[1, 2], all.0, all.1), [0, 3, 2, 4, 1]);
        assert_eq!(index.at_venues(&[1], at(T + 200), at(T + 300)), [2, 4]);
        assert_eq!(index.at_venues(&[1], at(T + 300), at(T + 200)), [0u64; 0]);
        assert_eq!(index.of_person(1, Some(all)), [0, 3, 2, 4]);
        assert_eq!(index.of_person(1, None), [0, 3, 2, 4]);
        assert_eq!(index.of_person(9, None), [0u64; 0]);
        let people = index
            .persons_at(&[1], at(T + 250), at(T + 301))
            .expect("keys");
        assert_eq!(people, [PersonKey::from_bytes([2; 32])]);
        assert_eq!(index.stats().scans, 5);
    }

    #[test]
    fn purged_leaves_are_forgotten_and_pending_changes_can_be_dropped() {
        let index = ScanIndex::default();
        for leaf in 0..10 {
            add(&index, leaf, 1, 1, T + leaf as i64);
        }
        let mut pending = Pending::default();
        pending.purge(3, 1, 1);
        pending.purge(5, 1, 1);
        index.apply(&mut pending);
        let all = (at(T), at(T + 1000));
        assert_eq!(index.of_person(1, Some(all)), [0, 1, 2, 4, 6, 7, 8, 9]);
        assert_eq!(
            index.at_venues(&[1], all.0, all.1),
            [0, 1, 2, 4, 6, 7, 8, 9]
        );
        let mut pending = Pending::default();
        pending.add(
            index
                .admit(10, 1, 1, at(T), None, PersonKey::from_bytes([1; 32]))
                .expect("admitted"),
        );
        pending.clear();
        index.apply(&mut pending);
        assert_eq!(index.stats().scans, 8);
    }

    /// The keys of run `id` entered in `[from, until)`, in entry order.
    fn windowed(table: &Table<OfPerson>, id: usize, from: u32, until: u32) -> Vec<Key> {
        let mut found = Vec::new();
        if let Some(run) = table.get(id) {
            run.window(from, until, &mut found);
            let other: Vec<Key> = run.in_window(from, until).map(|e| e.key()).collect();
            assert_eq!(
                other.len(),
                found.len(),
                "both ways of reading a window agree"
            );
        }
        in_entry_order(found).iter().map(|e| e.key()).collect()
    }

    #[test]
    fn runs_keep_entry_order_through_late_scans_purges_and_compaction() {
        // Three runs: 0 and 2 loaded at open (in shuffled order), 1 empty at open.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut model: Vec<Vec<Key>> = vec![Vec::new(); 3];
        let mut loaded = Vec::new();
        for leaf in 0..600u64 {
            let id = [0, 2][(next() % 2) as usize];
            let entered = (next() % 2_000) as u32;
            loaded.push((id, OfPerson::new(entered, leaf, 0)));
            model[id].push((entered, leaf));
        }
        let counts: Vec<u32> = model.iter().map(|m| m.len() as u32).collect();
        let mut table = Table::load(&counts, loaded.into_iter(), OfPerson::new(0, 0, 0));
        let check = |table: &Table<OfPerson>, model: &[Vec<Key>]| {
            for (id, keys) in model.iter().enumerate() {
                for (from, until) in [(0, u32::MAX), (500, 1_500), (1_900, 4_000), (7, 7)] {
                    let mut want: Vec<Key> = keys
                        .iter()
                        .copied()
                        .filter(|(e, _)| (from..until).contains(e))
                        .collect();
                    want.sort_unstable();
                    assert_eq!(
                        windowed(table, id, from, until),
                        want,
                        "run {id} [{from}, {until})"
                    );
                }
            }
        };
        check(&table, &model);
        for leaf in 600..5_600u64 {
            let id = (next() % 3) as usize;
            // Mostly in order, often late, sometimes very late.
            let entered = match next() % 4 {
                0 => (next() % 10_000) as u32,
                _ => 2_000 + leaf as u32 * 2,
            };
            table.push(id, OfPerson::new(entered, leaf, 0));
            model[id].push((entered, leaf));
            if leaf % 997 == 0 {
                check(&table, &model);
            }
            for run in &table.runs {
                assert!(run.growth.len() - run.sorted as usize <= TAIL + run.sorted as usize / 8);
            }
        }
        check(&table, &model);
        assert_eq!(table.grown, 5_000);
        // Purge every third leaf: from the slab in place and from the growth.
        let gone: Vec<u64> = (0..5_600).step_by(3).collect();
        let removed: u64 = (0..3).map(|id| table.remove_leaves(id, &gone)).sum();
        assert_eq!(removed, gone.len() as u64);
        for keys in &mut model {
            keys.retain(|(_, leaf)| leaf % 3 != 0);
        }
        check(&table, &model);
        assert_eq!(table.holes, 200);
        assert!(table.wants_compaction());
        table.compact();
        check(&table, &model);
        let held: usize = model.iter().map(Vec::len).sum();
        assert_eq!(table.slab.len(), held);
        assert_eq!((table.holes, table.grown), (0, 0));
        assert!(!table.wants_compaction());
        // After compaction, a scan in order and a late one.
        table.push(1, OfPerson::new(20_000, 9_000, 0));
        table.push(1, OfPerson::new(1, 9_001, 0));
        model[1].extend([(20_000, 9_000), (1, 9_001)]);
        check(&table, &model);
    }

    #[test]
    fn ids_and_leaves_the_index_cannot_hold_are_refused() {
        let index = ScanIndex::default();
        let key = PersonKey::from_bytes([0; 32]);
        assert!(index.admit(LEAF_LIMIT, 1, 1, at(T), None, key).is_err());
        assert!(index.admit(0, -1, 1, at(T), None, key).is_err());
        assert!(index.admit(0, 1, 1 << 40, at(T), None, key).is_err());
        assert!(index.admit(0, 1 << 30, 1, at(T), None, key).is_err());
        assert!(index.admit((1 << 43) + 7, 5, 6, at(T), None, key).is_ok());
        let t = Timestamp::clamped_unix_seconds(i64::MAX);
        assert_eq!(bound(t), stored_entered(t.unix_seconds()).expect("fits"));
        assert_eq!(bound(Timestamp::clamped_unix_seconds(0)), 0);
    }

    #[test]
    fn stays_are_kept_in_minutes_and_count_at_most_the_longest() {
        assert_eq!(stay_field(0, None), NO_EXIT);
        assert_eq!(stay_field(100, Some(50)), NO_EXIT);
        assert_eq!(stay_field(0, Some(1)), 1);
        assert_eq!(stay_field(0, Some(3600)), 3600);
        assert_eq!(stay_seconds(stay_field(0, Some(32_767))), Some(32_767));
        // From 9 hours, minutes rounded up.
        assert_eq!(stay_seconds(stay_field(0, Some(32_768))), Some(32_820));
        assert_eq!(stay_seconds(stay_field(0, Some(36_000))), Some(36_000));
        assert_eq!(
            stay_seconds(stay_field(0, Some(i64::MAX))),
            Some(MINUTES_LIMIT as u32 * 60)
        );
        let entry = |stay| AtVenue::new(1000, 1, 1, stay);
        // Entered at 1000 s; stays of 10 minutes end at 1600 s.
        assert!(entry(600).may_last_past(1599, 86_400));
        assert!(!entry(600).may_last_past(1600, 86_400));
        assert_eq!(entry(600).left(3600, 86_400), 1600);
        // Without an exit: the dwell; never beyond the longest.
        assert_eq!(entry(NO_EXIT).left(3600, 86_400), 4600);
        assert!(entry(NO_EXIT).may_last_past(1000 + 86_399, 86_400));
        assert!(!entry(NO_EXIT).may_last_past(1000 + 86_400, 86_400));
        let long = stay_field(0, Some(30 * 86_400));
        assert_eq!(entry(long).left(3600, 86_400), 1000 + 86_400);
    }

    #[test]
    fn leaves_keep_their_48_bits() {
        for leaf in [
            0,
            1,
            u64::from(u32::MAX),
            1 << 32,
            (1 << 43) + 12_345,
            LEAF_LIMIT - 1,
        ] {
            assert_eq!(AtVenue::new(7, 8, leaf, NO_EXIT).leaf(), leaf);
            assert_eq!(OfPerson::new(7, leaf, 9).leaf(), leaf);
        }
    }
}
