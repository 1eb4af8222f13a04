//! The writer thread: every write of the store, with group commit.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{mpsc, Arc};

use mingma_core::canonical::canonical_bytes;
use mingma_core::commitment::{LeafEntry, Salt};
use mingma_core::{Evidence, EvidenceBody, EvidenceKind, PersonKey, Recorder, Timestamp};
use mingma_ledger::{leaf_hash, CompletedNode, Frontier, Hash};
use mingma_store::{
    batch_entry, colour_byte, in_parallel, new_salts, Appended, CodeChange, LedgerEntry, Purge,
    PurgeReport, RecordedBatch, Result, StoreError, StoredCheckpoint,
};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::scan_index::{Pending, ScanIndex};
use crate::{
    backend, join_ids, kind_code, ledger_size, pid_of, presence_code, read_record, run_cached,
    venue_kind_code, write_ids, SharedChanges, StoredTree, UpperNodes, UPPER,
};

/// A write waiting for the writer.
pub(crate) enum Job {
    Append(Vec<Prepared>, oneshot::Sender<Result<Vec<Appended>>>),
    CodeChanges(
        Vec<CodeChange>,
        u64,
        oneshot::Sender<Result<Option<RecordedBatch>>>,
    ),
    Checkpoint(StoredCheckpoint, oneshot::Sender<Result<()>>),
    Purge(Timestamp, oneshot::Sender<Result<PurgeReport>>),
    /// An authority act or an appeal step (both opaque leaves; only acts are listed
    /// in `acts`).
    Act(LedgerEntry, oneshot::Sender<Result<u64>>),
    /// Re-derivations done: the records at these leaves are no longer pending.
    Derived(Vec<u64>, oneshot::Sender<Result<()>>),
}

/// A record made ready for the writer by the caller's thread: its salt, canonical
/// bytes, ledger leaf and leaf hash do not depend on its place in the log, so the
/// single writer thread only writes rows.
pub(crate) struct Prepared {
    evidence: Evidence,
    salt: Salt,
    canonical: Vec<u8>,
    leaf: Vec<u8>,
    hash: Hash,
}

impl Prepared {
    /// Prepares `records`, each with a fresh salt.
    pub(crate) fn all(records: Vec<Evidence>) -> Result<Vec<Prepared>> {
        let salts = new_salts(records.len())?;
        Ok(records
            .into_iter()
            .zip(salts)
            .map(|(evidence, salt)| {
                let canonical = canonical_bytes(&evidence);
                let leaf = LedgerEntry::Record(LeafEntry::for_record(&evidence, &salt)).to_bytes();
                let hash = leaf_hash(&leaf);
                Prepared {
                    evidence,
                    salt,
                    canonical,
                    leaf,
                    hash,
                }
            })
            .collect())
    }
}

/// The result of applying a job, before it is sent back.
enum Outcome {
    Append(Result<Vec<Appended>>),
    CodeChanges(Result<Option<RecordedBatch>>),
    Checkpoint(Result<()>),
    Purge(Result<PurgeReport>),
    Act(Result<u64>),
    Derived(Result<()>),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        match self {
            Outcome::Append(r) => r.is_ok(),
            Outcome::CodeChanges(r) => r.is_ok(),
            Outcome::Checkpoint(r) => r.is_ok(),
            Outcome::Purge(r) => r.is_ok(),
            Outcome::Act(r) => r.is_ok(),
            Outcome::Derived(r) => r.is_ok(),
        }
    }

    /// The same job, failed with `message`.
    fn failed(job: &Job, message: &str) -> Self {
        let e = || StoreError::Backend(message.to_owned());
        match job {
            Job::Append(..) => Outcome::Append(Err(e())),
            Job::CodeChanges(..) => Outcome::CodeChanges(Err(e())),
            Job::Checkpoint(..) => Outcome::Checkpoint(Err(e())),
            Job::Purge(..) => Outcome::Purge(Err(e())),
            Job::Act(..) => Outcome::Act(Err(e())),
            Job::Derived(..) => Outcome::Derived(Err(e())),
        }
    }
}

impl Job {
    /// Sends `outcome` to whoever asked. A caller that stopped waiting is not an error
    /// of the store.
    fn reply(self, outcome: Outcome) {
        let mismatch = || StoreError::Backend("the writer mixed up two results".into());
        match self {
            Job::Append(_, tx) => drop(tx.send(match outcome {
                Outcome::Append(r) => r,
                _ => Err(mismatch()),
            })),
            Job::CodeChanges(_, _, tx) => drop(tx.send(match outcome {
                Outcome::CodeChanges(r) => r,
                _ => Err(mismatch()),
            })),
            Job::Checkpoint(_, tx) => drop(tx.send(match outcome {
                Outcome::Checkpoint(r) => r,
                _ => Err(mismatch()),
            })),
            Job::Purge(_, tx) => drop(tx.send(match outcome {
                Outcome::Purge(r) => r,
                _ => Err(mismatch()),
            })),
            Job::Act(_, tx) => drop(tx.send(match outcome {
                Outcome::Act(r) => r,
                _ => Err(mismatch()),
            })),
            Job::Derived(_, tx) => drop(tx.send(match outcome {
                Outcome::Derived(r) => r,
                _ => Err(mismatch()),
            })),
        }
    }
}

/// Most writes committed together.
const GROUP: usize = 4096;

/// What the writer keeps between writes: the ledger's right edge, and the integer
/// ids of person keys and venues already interned (to save a lookup per scan).
/// After any rolled-back write the interned ids are forgotten, since they may name
/// rows that were rolled back.
pub(crate) struct WriteState {
    frontier: Frontier,
    persons: HashMap<PersonKey, i64>,
    venues: HashMap<(String, i64, i64), i64>,
    /// Upper-level nodes written in the open transaction, shown to readers once it
    /// commits.
    pending_upper: Vec<CompletedNode>,
    upper: Arc<UpperNodes>,
    /// Scans inserted or purged in the open transaction, shown to readers once it
    /// commits.
    pending_scans: Pending,
    scans: Arc<ScanIndex>,
    /// Whether the open transaction holds a record about nobody.
    pending_shared: bool,
    shared: Arc<SharedChanges>,
}

/// Where the write state stood before a job, to undo the job alone.
struct Mark {
    frontier: Frontier,
    upper: usize,
    scans: (usize, usize),
}

impl WriteState {
    /// Where the state stands now.
    fn mark(&self) -> Mark {
        Mark {
            frontier: self.frontier.clone(),
            upper: self.pending_upper.len(),
            scans: self.pending_scans.len(),
        }
    }

    /// After a job's savepoint was rolled back: back to `mark`. The interned ids are
    /// a cache, emptied (they may name rows the job inserted); an earlier job's rows
    /// are found again in the open transaction.
    fn undo_to(&mut self, mark: Mark) {
        self.frontier = mark.frontier;
        self.pending_upper.truncate(mark.upper);
        self.pending_scans.truncate(mark.scans);
        self.persons.clear();
        self.venues.clear();
    }

    /// After a rollback: forget what the rolled-back writes made.
    fn forget_interned(&mut self) {
        self.persons.clear();
        self.venues.clear();
        self.pending_upper.clear();
        self.pending_scans.clear();
        self.shared_settled();
    }

    /// After a commit: readers may use the new upper nodes and see the new scans.
    fn committed(&mut self) {
        self.upper.add(&self.pending_upper);
        self.pending_upper.clear();
        self.scans.apply(&mut self.pending_scans);
        self.shared_settled();
    }

    /// A record about nobody is being written: readers must look again. The count
    /// turns odd for the rest of the transaction ([`SharedChanges`]).
    fn shared_written(&mut self) {
        if !self.pending_shared {
            self.pending_shared = true;
            self.shared.bump();
        }
    }

    /// The transaction that wrote a record about nobody ended (committed or rolled
    /// back): the count turns even again, and differs from any a reader kept.
    fn shared_settled(&mut self) {
        if std::mem::take(&mut self.pending_shared) {
            self.shared.bump();
        }
    }
}

/// Starts the writer thread on `conn`; returns the queue it reads.
pub(crate) fn start(
    conn: Connection,
    upper: Arc<UpperNodes>,
    scans: Arc<ScanIndex>,
    shared: Arc<SharedChanges>,
) -> Result<mpsc::Sender<Job>> {
    let size = ledger_size(&conn)?;
    let tree = StoredTree {
        conn: &conn,
        size,
        upper: Some(&upper),
    };
    let frontier = Frontier::from_source(&tree, size)?;
    let (jobs, queue) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("mingma-sqlite-writer".into())
        .spawn(move || {
            let state = WriteState {
                frontier,
                persons: HashMap::new(),
                venues: HashMap::new(),
                pending_upper: Vec::new(),
                upper,
                pending_scans: Pending::default(),
                scans,
                pending_shared: false,
                shared,
            };
            run(conn, state, queue)
        })
        .map_err(backend)?;
    Ok(jobs)
}

fn run(mut conn: Connection, mut state: WriteState, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut state, group);
    }
}

/// Group commit. The common case: every write of the group in one transaction, one
/// fsync. Each write runs inside a savepoint of its own: a refused write (a
/// conflicting id, say) is rolled back to its savepoint and answered with its error,
/// and the others commit together, so one caller's refused write costs the others
/// nothing. If the transaction itself fails (it cannot begin, or the commit fails),
/// the whole group is rolled back and each write retried in a transaction of its
/// own.
fn commit_group(conn: &mut Connection, state: &mut WriteState, group: Vec<Job>) {
    let wide = widen_cache_for(conn, &group);
    commit_group_in(conn, state, group);
    if wide {
        narrow_cache(conn);
    }
}

/// After the replies to a widened group: the batch's WAL frames copied into the
/// file, then the usual settings back — each on its own, so a failed checkpoint
/// (the next commit checkpoints again) does not leave the automatic checkpoints off.
/// A setting that fails to go back leaves a larger cache, only slower.
fn narrow_cache(conn: &Connection) {
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    let _ = conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint={}",
        crate::schema::WAL_AUTOCHECKPOINT_PAGES
    ));
    let _ = conn.execute_batch(&format!(
        "PRAGMA cache_size={}",
        crate::schema::WRITER_CACHE_KIB
    ));
}

/// Code changes in one group above which the writer's page cache is widened.
const WIDE_CACHE_FROM: usize = 4_096;

/// Widens the writer's page cache for a group holding a large batch of code
/// changes, and holds back the WAL checkpoint its commit would start; whether it
/// did (`commit_group` checkpoints and narrows it again after the replies).
///
/// The cache is small on purpose (`schema::configure`): an append touches few pages.
/// A batch of code changes touches pages all over the b-trees of current codes
/// (`code_states`, keyed by person, and its index by next change); with the small
/// cache, and the batch written in the order it was given, SQLite wrote dirty pages
/// to the WAL in mid-transaction and read them back from it at the next row — more
/// than half of the writer's time for 523,506 changes at 1,000,000 persons. Written
/// in person-id order, a page of `code_states` is finished with once the writer has
/// passed its people, and change rows are appended: 128 MiB holds what is still being
/// written (interior pages, the due list's index) while SQLite spills finished pages
/// to the log during the transaction, so the disk takes them while the writer works
/// instead of all at the commit (at 1M: 0.91× the declaration's wall time and CPU
/// against a 1 GiB cache that held the whole batch until the commit). Pages are
/// allocated only as used. The checkpoint (copying the batch's hundreds of MiB of
/// WAL into the file) would otherwise run inside the commit, before the reply.
fn widen_cache_for(conn: &Connection, group: &[Job]) -> bool {
    let changes: usize = group
        .iter()
        .map(|job| match job {
            Job::CodeChanges(changes, _, _) => changes.len(),
            _ => 0,
        })
        .sum();
    changes >= WIDE_CACHE_FROM && widen_cache(conn)
}

/// The wide cache, and no automatic checkpoint; whether both were set.
fn widen_cache(conn: &Connection) -> bool {
    conn.execute_batch(&format!(
        "PRAGMA cache_size={}; PRAGMA wal_autocheckpoint=0;",
        crate::schema::WIDE_CACHE_KIB
    ))
    .is_ok()
}

/// The group commit itself (see [`commit_group`]), every job answered.
fn commit_group_in(conn: &mut Connection, state: &mut WriteState, group: Vec<Job>) {
    let before = state.frontier.clone();
    if let Some(outcomes) = all_in_one(conn, state, &group) {
        state.committed();
        for (job, outcome) in group.into_iter().zip(outcomes) {
            job.reply(outcome);
        }
        return;
    }
    state.frontier = before;
    state.forget_interned();
    for job in group {
        let snapshot = state.frontier.clone();
        let outcome = one_alone(conn, state, &job);
        if outcome.is_ok() {
            state.committed();
        } else {
            state.frontier = snapshot;
            state.forget_interned();
        }
        job.reply(outcome);
    }
}

/// Applies every job in one transaction, each in a savepoint (a refused job is
/// undone alone); `None` (rolled back) if the transaction fails.
fn all_in_one(
    conn: &mut Connection,
    state: &mut WriteState,
    group: &[Job],
) -> Option<Vec<Outcome>> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .ok()?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let mark = state.mark();
        run_cached(&tx, "SAVEPOINT job").ok()?;
        let outcome = apply(&tx, state, job);
        if outcome.is_ok() {
            run_cached(&tx, "RELEASE job").ok()?;
        } else {
            run_cached(&tx, "ROLLBACK TO job").ok()?;
            run_cached(&tx, "RELEASE job").ok()?;
            state.undo_to(mark);
        }
        outcomes.push(outcome);
    }
    tx.commit().ok()?;
    Some(outcomes)
}

/// Applies one job in a transaction of its own.
fn one_alone(conn: &mut Connection, state: &mut WriteState, job: &Job) -> Outcome {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Outcome::failed(job, &e.to_string()),
    };
    let outcome = apply(&tx, state, job);
    if !outcome.is_ok() {
        return outcome;
    }
    match tx.commit() {
        Ok(()) => outcome,
        Err(e) => Outcome::failed(job, &format!("commit failed: {e}")),
    }
}

fn apply(conn: &Connection, state: &mut WriteState, job: &Job) -> Outcome {
    match job {
        Job::Append(records, _) => Outcome::Append(append(conn, state, records)),
        Job::CodeChanges(changes, reflects, _) => {
            Outcome::CodeChanges(code_changes(conn, state, changes, *reflects))
        }
        Job::Checkpoint(checkpoint, _) => {
            Outcome::Checkpoint(add_checkpoint(conn, &state.frontier, checkpoint))
        }
        Job::Purge(before, _) => Outcome::Purge(purge(conn, state, *before)),
        Job::Act(act, _) => Outcome::Act(append_act(conn, state, act)),
        Job::Derived(leaves, _) => Outcome::Derived(derivations_done(conn, leaves)),
    }
}

/// Removes `leaves` from the pending re-derivations (a leaf not pending is passed
/// over).
fn derivations_done(conn: &Connection, leaves: &[u64]) -> Result<()> {
    let mut done = conn
        .prepare_cached("DELETE FROM pending_derivations WHERE leaf = ?1")
        .map_err(backend)?;
    for leaf in leaves {
        let leaf = i64::try_from(*leaf).map_err(backend)?;
        done.execute([leaf]).map_err(backend)?;
    }
    Ok(())
}

/// Appends one leaf and the perfect subtrees it completes.
fn append_leaf(conn: &Connection, state: &mut WriteState, data: &[u8]) -> Result<u64> {
    append_hashed_leaf(conn, state, data, leaf_hash(data))
}

/// Appends one leaf whose hash is known and the perfect subtrees it completes.
fn append_hashed_leaf(
    conn: &Connection,
    state: &mut WriteState,
    data: &[u8],
    hash: Hash,
) -> Result<u64> {
    let index = state.frontier.size();
    let completed = state.frontier.push(hash);
    conn.prepare_cached("INSERT INTO ledger_leaves (idx, data, hash) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![index as i64, data, hash.as_bytes().as_slice()]))
        .map_err(backend)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    for node in completed.iter().filter(|n| n.level > 0) {
        insert
            .execute(params![
                node.level,
                node.index as i64,
                node.hash.as_bytes().as_slice()
            ])
            .map_err(backend)?;
    }
    state
        .pending_upper
        .extend(completed.into_iter().filter(|n| n.level >= UPPER));
    Ok(index)
}

fn intern_person(conn: &Connection, state: &mut WriteState, person: &PersonKey) -> Result<i64> {
    if let Some(pid) = state.persons.get(person) {
        return Ok(*pid);
    }
    let pid = match pid_of(conn, person)? {
        Some(pid) => pid,
        None => {
            conn.prepare_cached("INSERT INTO persons (key) VALUES (?1)")
                .and_then(|mut s| s.execute([person.as_bytes().as_slice()]))
                .map_err(backend)?;
            conn.last_insert_rowid()
        }
    };
    state.persons.insert(*person, pid);
    Ok(pid)
}

fn intern_venue(
    conn: &Connection,
    state: &mut WriteState,
    id: &str,
    street: i64,
    kind: i64,
) -> Result<i64> {
    let key = (id.to_owned(), street, kind);
    if let Some(vid) = state.venues.get(&key) {
        return Ok(*vid);
    }
    let found: Option<i64> = conn
        .prepare_cached("SELECT vid FROM venues WHERE id = ?1 AND street = ?2 AND kind = ?3")
        .and_then(|mut s| {
            s.query_row(params![id, street, kind], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    let vid = match found {
        Some(vid) => vid,
        None => {
            conn.prepare_cached("INSERT INTO venues (id, street, kind) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![id, street, kind]))
                .map_err(backend)?;
            conn.last_insert_rowid()
        }
    };
    state.venues.insert(key, vid);
    Ok(vid)
}

/// The person an act's target concerns, as stored.
fn about_of_target(conn: &Connection, target: &str) -> Result<Option<i64>> {
    let from_records: Option<Option<i64>> = conn
        .prepare_cached("SELECT about FROM records WHERE id = ?1")
        .and_then(|mut s| s.query_row([target], |r| r.get(0)).optional())
        .map_err(backend)?;
    if let Some(about) = from_records {
        return Ok(about);
    }
    conn.prepare_cached("SELECT pid FROM scans WHERE id = ?1")
        .and_then(|mut s| s.query_row([target], |r| r.get(0)).optional())
        .map_err(backend)
}

fn append(
    conn: &Connection,
    state: &mut WriteState,
    records: &[Prepared],
) -> Result<Vec<Appended>> {
    let mut out = Vec::with_capacity(records.len());
    for prepared in records {
        let evidence = &prepared.evidence;
        let leaf = state.frontier.size();
        if insert_row(conn, state, leaf, prepared)? {
            append_hashed_leaf(conn, state, &prepared.leaf, prepared.hash)?;
            out.push(Appended {
                id: evidence.id.clone(),
                leaf,
                fresh: true,
            });
            continue;
        }
        // The id is taken: the same record again is no change, another is refused.
        let Some(existing) = read_record(conn, &state.scans, evidence.id.as_str())? else {
            // Purged for retention: the id stays taken and its data stays gone.
            let retired: Option<i64> = conn
                .prepare_cached("SELECT leaf FROM retired_ids WHERE id = ?1")
                .and_then(|mut s| s.query_row([evidence.id.as_str()], |r| r.get(0)).optional())
                .map_err(backend)?;
            return match retired {
                Some(leaf) => Err(StoreError::Conflict {
                    id: evidence.id.clone(),
                    leaf: leaf as u64,
                }),
                None => Err(StoreError::Corrupt(format!(
                    "record id `{}` is taken but its row cannot be read",
                    evidence.id
                ))),
            };
        };
        if canonical_bytes(&existing.evidence) != prepared.canonical {
            return Err(StoreError::Conflict {
                id: evidence.id.clone(),
                leaf: existing.leaf,
            });
        }
        out.push(Appended {
            id: evidence.id.clone(),
            leaf: existing.leaf,
            fresh: false,
        });
    }
    Ok(out)
}

/// Whether `id` is taken in `table` (ids are unique across records and scans).
fn id_taken(conn: &Connection, table: &str, id: &str) -> Result<bool> {
    let sql = match table {
        "records" => {
            "SELECT 1 FROM records WHERE id = ?1 UNION ALL SELECT 1 FROM retired_ids WHERE id = ?1"
        }
        _ => "SELECT 1 FROM scans WHERE id = ?1",
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.exists([id]))
        .map_err(backend)
}

/// Inserts the row of a record at `leaf`; `false` if its id is already taken.
fn insert_row(
    conn: &Connection,
    state: &mut WriteState,
    leaf: u64,
    prepared: &Prepared,
) -> Result<bool> {
    let (evidence, salt) = (&prepared.evidence, prepared.salt.as_bytes());
    let invalid = |reason: &str| StoreError::Invalid {
        id: evidence.id.clone(),
        reason: reason.to_owned(),
    };
    if let EvidenceBody::VenueScan {
        venue,
        street,
        venue_kind,
        left_at,
        presence,
    } = &evidence.body
    {
        let subject = evidence
            .subject
            .as_ref()
            .ok_or_else(|| invalid("a scan has no subject"))?;
        let pid = intern_person(conn, state, subject)?;
        let street: i64 = street
            .to_string()
            .parse()
            .map_err(|_| invalid("street code"))?;
        let vid = intern_venue(
            conn,
            state,
            venue.as_str(),
            street,
            venue_kind_code(*venue_kind),
        )?;
        let (proxy, official) = match &evidence.recorded_by {
            Recorder::Holder => (None, None),
            Recorder::Proxy(key) => (Some(intern_person(conn, state, key)?), None),
            Recorder::Official(id) => (None, Some(id.to_string())),
            Recorder::Source { .. } => {
                return Err(invalid("a data source cannot record a venue scan"))
            }
        };
        if evidence.legal_basis.is_some() {
            return Err(invalid("a scan has no legal basis"));
        }
        if evidence.authority.is_some() != official.is_some() {
            return Err(invalid(
                "only a scan entered by an official has an authority",
            ));
        }
        if id_taken(conn, "records", evidence.id.as_str())? {
            return Ok(false);
        }
        // Every committed scan is in the scan index: a scan it cannot hold is refused.
        let indexed = state
            .scans
            .admit(leaf, pid, vid, evidence.effective_at, *left_at, *subject)
            .map_err(|reason| StoreError::Backend(format!("record `{}`: {reason}", evidence.id)))?;
        let inserted = conn.prepare_cached(
            "INSERT INTO scans (leaf, id, pid, vid, entered, left_at, presence, recorded_at, proxy, official, authority, salt) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                leaf as i64,
                evidence.id.as_str(),
                pid,
                vid,
                evidence.effective_at.unix_seconds(),
                left_at.map(|t| t.unix_seconds()),
                presence_code(*presence),
                evidence.recorded_at.unix_seconds(),
                proxy,
                official,
                evidence.authority.as_ref().map(|a| a.to_string()),
                salt.as_slice(),
            ])
        })
        .map_err(backend)?;
        if inserted == 1 {
            state.pending_scans.add(indexed);
        }
        return Ok(inserted == 1);
    }
    if id_taken(conn, "scans", evidence.id.as_str())? {
        return Ok(false);
    }
    let about = match (&evidence.subject, &evidence.body) {
        (Some(subject), _) => Some(intern_person(conn, state, subject)?),
        (
            None,
            EvidenceBody::Retraction { target, .. }
            | EvidenceBody::Approval { target }
            | EvidenceBody::Rejection { target, .. },
        ) => about_of_target(conn, target.as_str())?,
        (None, _) => None,
    };
    let inserted = conn
        .prepare_cached(
            "INSERT INTO records (leaf, id, kind, about, canonical, salt, seal) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                leaf as i64,
                evidence.id.as_str(),
                kind_code(evidence.kind()),
                about,
                prepared.canonical.as_slice(),
                salt.as_slice(),
                evidence.seal.map(|seal| seal.to_bytes().to_vec()),
            ])
        })
        .map_err(backend)?;
    if inserted == 1 && about.is_none() {
        state.shared_written();
        // About nobody (a risk area, an act on one): whom it concerns is found by a
        // re-derivation of its own, pending until it is marked done.
        conn.prepare_cached("INSERT INTO pending_derivations (leaf) VALUES (?1)")
            .and_then(|mut s| s.execute([leaf as i64]))
            .map_err(backend)?;
    }
    Ok(inserted == 1)
}

/// The stored code of the person `pid`, as the columns `same_code` compares:
/// colour, since, reason, owners, decisive evidence, rule set and version (ids
/// joined as they are stored), or `None` if there is none.
type StoredCode = (
    i64,
    Option<i64>,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// A change a batch keeps: its ids joined as stored, its code digest, the
/// person's change it follows (leaf and position, if any), and its position in the
/// batch.
#[derive(Clone)]
struct Kept {
    digest: [u8; 32],
    previous: Option<(i64, i64)>,
    position: usize,
}

impl Kept {
    /// Kept, after `previous`, at a position not yet known.
    fn new(digest: [u8; 32], previous: Option<(i64, i64)>) -> Self {
        Self {
            digest,
            previous,
            position: 0,
        }
    }
}

/// From this many people not yet interned, a batch of code changes finds their ids
/// in the scan index (one pass over its million keys, a few milliseconds) rather
/// than looking each up (a couple of microseconds each).
const FROM_INDEX: usize = 16_384;

fn code_changes(
    conn: &Connection,
    state: &mut WriteState,
    changes: &[CodeChange],
    reflects: u64,
) -> Result<Option<RecordedBatch>> {
    if let Some(other) = changes.iter().find(|c| c.reflects() != reflects) {
        return Err(StoreError::Backend(format!(
            "a code change reflects {} ledger leaves, its batch {reflects}",
            other.reflects()
        )));
    }
    // The ids of many people not yet interned here, from the scan index in one pass
    // over it (a declaration reaches most of a city): not a lookup each.
    let unknown: Vec<PersonKey> = changes
        .iter()
        .map(|c| c.person())
        .filter(|p| !state.persons.contains_key(p))
        .collect();
    if unknown.len() >= FROM_INDEX {
        for (person, pid) in unknown.iter().zip(state.scans.pids_of(&unknown)) {
            if let Some(pid) = pid {
                state.persons.insert(*person, pid);
            }
        }
    }
    // Each person's first change, with their id.
    let mut seen = HashSet::with_capacity(changes.len());
    let mut firsts: Vec<(i64, &CodeChange)> = Vec::with_capacity(changes.len());
    for change in changes {
        if seen.insert(change.person()) {
            firsts.push((intern_person(conn, state, &change.person())?, change));
        }
    }
    // Stored codes are looked up, and written, in the order of person ids: the pages
    // of `code_states` and of its index by next change are then visited once each,
    // in order, not at random (a declaration reaches most of a city). Positions in
    // the batch stay in the order the changes were given.
    let mut by_pid: Vec<usize> = (0..firsts.len()).collect();
    by_pid.sort_unstable_by_key(|i| firsts[*i].0);
    // For each first change: whether it is kept, and how it is written.
    let mut kept: Vec<Option<Kept>> = vec![None; firsts.len()];
    // The digests are hashed on every core first: the writer runs alone here.
    let digests = in_parallel(&firsts, |(_, change)| change.code_digest());
    // Each statement taken from the cache once, not once a row: taking it hashes
    // its text, and giving it back resets it (a tenth of the writer's time at 1M).
    let mut stored_state = conn
        .prepare_cached("SELECT leaf, position, code, code_leaf FROM code_states WHERE pid = ?1")
        .map_err(backend)?;
    for &i in &by_pid {
        let (pid, change) = firsts[i];
        // The stored code compared by its digest, or — stored before migration 0006,
        // without one — column by column as stored (the same test as
        // `CodeChange::same_code`, which also compares the person: the row is theirs),
        // without parsing its ids back.
        let digest = digests[i];
        type At = (i64, i64, Option<Vec<u8>>, Option<i64>);
        let at: Option<At> = stored_state
            .query_row([pid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()
            .map_err(backend)?;
        // The digest counts only if it is of the change the row points at (see
        // migration 0006).
        let (at, stored_digest) = match at {
            Some((leaf, position, code, code_leaf)) => (
                Some((leaf, position)),
                code.filter(|_| code_leaf == Some(leaf)),
            ),
            None => (None, None),
        };
        if let Some(stored) = stored_digest {
            if stored.as_slice() != digest.as_slice() {
                kept[i] = Some(Kept::new(digest, at));
            }
            continue;
        }
        let (owners, decisive) = (join_ids(change.owners()), join_ids(change.decisive()));
        // Two lookups by key, not one join: the join was prepared again at every
        // execution (SQLite's `sqlite3Reprepare`, 7 G instructions at 60,573 people).
        let current: Option<StoredCode> = match at {
            None => None,
            Some((leaf, position)) => conn
                .prepare_cached(
                    "SELECT colour, since, reason, owners, decisive, rule_set, rule_set_version \
                     FROM code_changes WHERE leaf = ?1 AND position = ?2",
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
                        ))
                    })
                    .optional()
                })
                .map_err(backend)?,
        };
        if let Some((colour, since, reason, stored_owners, stored_decisive, rule_set, version)) =
            current
        {
            let (new_rule_set, new_version) = change.rule_set();
            if colour == i64::from(colour_byte(change.colour()))
                && since == change.since().map(|t| t.unix_seconds())
                && reason.as_deref() == change.reason()
                && stored_owners == owners
                && stored_decisive == decisive
                && rule_set == new_rule_set
                && version == new_version
            {
                continue;
            }
        }
        kept[i] = Some(Kept::new(digest, at));
    }
    drop(stored_state);
    // The batch: the kept changes in the order of `changes`.
    for (position, k) in kept.iter_mut().flatten().enumerate() {
        k.position = position;
    }
    let in_batch: Vec<&CodeChange> = firsts
        .iter()
        .zip(&kept)
        .filter(|(_, k)| k.is_some())
        .map(|((_, change), _)| *change)
        .collect();
    let salts = new_salts(in_batch.len())?;
    let Some(entry) = batch_entry(in_batch.iter().copied().zip(&salts), reflects)? else {
        return Ok(None);
    };
    let leaf = append_leaf(conn, state, &entry.to_bytes())? as i64;
    // The change rows in the order of their positions (each appended after the
    // last: a batch's rows fill their pages in order, none is split), then the
    // code states in the order of person ids (see above).
    // The lists of ids as stored, written into two buffers reused row after row.
    let (mut owners, mut decisive) = (String::new(), String::new());
    let mut insert_change = conn
        .prepare_cached(
            "INSERT INTO code_changes (leaf, position, pid, colour, valid_at, known_at, since, next_at, next_colour, \
             reason, owners, decisive, rule_set, rule_set_version, reflects, salt, previous_leaf, previous_position) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )
        .map_err(backend)?;
    for (i, k) in kept.iter().enumerate() {
        let Some(Kept {
            previous, position, ..
        }) = k
        else {
            continue;
        };
        let (pid, change) = firsts[i];
        let position = *position;
        let salt = &salts[position];
        write_ids(&mut owners, change.owners());
        write_ids(&mut decisive, change.decisive());
        let (rule_set, version) = change.rule_set();
        let next_at = change.next_change().map(|(t, _)| t.unix_seconds());
        insert_change
            .execute(params![
                leaf,
                position as i64,
                pid,
                colour_byte(change.colour()),
                change.valid_at().unix_seconds(),
                change.known_at().unix_seconds(),
                change.since().map(|t| t.unix_seconds()),
                next_at,
                change.next_change().map(|(_, c)| colour_byte(c)),
                change.reason(),
                owners.as_str(),
                decisive.as_str(),
                rule_set,
                version,
                change.reflects() as i64,
                salt.as_bytes().as_slice(),
                previous.map(|(leaf, _)| leaf),
                previous.map(|(_, position)| position),
            ])
            .map_err(backend)?;
    }
    drop(insert_change);
    let mut set_state = conn
        .prepare_cached(
            "INSERT INTO code_states (pid, leaf, position, code, code_leaf, next_at) \
             VALUES (?1, ?2, ?3, ?4, ?2, ?5) \
             ON CONFLICT (pid) DO UPDATE SET leaf = excluded.leaf, position = excluded.position, \
             code = excluded.code, code_leaf = excluded.code_leaf, next_at = excluded.next_at",
        )
        .map_err(backend)?;
    for &i in &by_pid {
        let Some(Kept {
            digest, position, ..
        }) = &kept[i]
        else {
            continue;
        };
        let (pid, change) = firsts[i];
        let position = *position;
        let next_at = change.next_change().map(|(t, _)| t.unix_seconds());
        set_state
            .execute(params![
                pid,
                leaf,
                position as i64,
                digest.as_slice(),
                next_at
            ])
            .map_err(backend)?;
    }
    Ok(Some(RecordedBatch::of(leaf as u64, in_batch)))
}

fn add_checkpoint(
    conn: &Connection,
    frontier: &Frontier,
    checkpoint: &StoredCheckpoint,
) -> Result<()> {
    let size = frontier.size();
    if checkpoint.size == 0 {
        return Err(StoreError::Checkpoint(
            "the empty log has nothing to sign".into(),
        ));
    }
    if checkpoint.size > size {
        return Err(StoreError::Checkpoint(format!(
            "size {} is beyond the log's {size} leaves",
            checkpoint.size
        )));
    }
    let tree = StoredTree {
        conn,
        size,
        upper: None,
    };
    let root = mingma_store::nodes::generated(mingma_ledger::root_at(&tree, checkpoint.size))
        .map_err(|e| StoreError::Checkpoint(e.to_string()))?;
    if root != checkpoint.root {
        return Err(StoreError::Checkpoint(format!(
            "root {} is not the log's root {root} at size {}",
            checkpoint.root, checkpoint.size
        )));
    }
    let stored: Option<Vec<u8>> = conn
        .prepare_cached("SELECT root FROM checkpoints WHERE size = ?1")
        .and_then(|mut s| {
            s.query_row([checkpoint.size as i64], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    if stored.is_some() {
        // One checkpoint per size is kept; the root was just checked to be the log's.
        return Ok(());
    }
    conn.prepare_cached("INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| {
            s.execute(params![
                checkpoint.size as i64,
                checkpoint.root.as_bytes().as_slice(),
                checkpoint.note
            ])
        })
        .map_err(backend)?;
    Ok(())
}

/// Scans that live designations refer to (the exposure behind a close contact):
/// kept until the designation itself is past the retention window.
fn referenced_scans(conn: &Connection, before: Timestamp) -> Result<BTreeSet<String>> {
    let rows: Vec<Vec<u8>> = conn
        .prepare_cached("SELECT canonical FROM records WHERE kind = ?1")
        .and_then(|mut s| {
            s.query_map([kind_code(EvidenceKind::CloseContact)], |r| r.get(0))?
                .collect()
        })
        .map_err(backend)?;
    let mut kept = BTreeSet::new();
    for bytes in rows {
        let record = mingma_core::canonical::decode_canonical(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("close contact: {e}")))?;
        kept.extend(
            mingma_store::scans_kept_by(&record, before)
                .iter()
                .map(|s| s.to_string()),
        );
    }
    Ok(kept)
}

/// Appends an authority act (listed in `acts`) or an appeal step as one leaf.
fn append_act(conn: &Connection, state: &mut WriteState, entry: &LedgerEntry) -> Result<u64> {
    let leaf = append_leaf(conn, state, &entry.to_bytes())?;
    if matches!(entry, LedgerEntry::Act(_)) {
        conn.prepare_cached("INSERT INTO acts (leaf) VALUES (?1)")
            .and_then(|mut s| s.execute([leaf as i64]))
            .map_err(backend)?;
    }
    Ok(leaf)
}

fn purge(conn: &Connection, state: &mut WriteState, before: Timestamp) -> Result<PurgeReport> {
    let referenced = referenced_scans(conn, before)?;
    type Old = (i64, String, i64, i64);
    let old: Vec<Old> = conn
        .prepare_cached("SELECT leaf, id, pid, vid FROM scans WHERE entered < ?1 ORDER BY leaf")
        .and_then(|mut s| {
            s.query_map([before.unix_seconds()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .map_err(backend)?;
    let mut removed = Vec::new();
    let mut kept_referenced = 0;
    let mut delete = conn
        .prepare_cached("DELETE FROM scans WHERE leaf = ?1")
        .map_err(backend)?;
    for (leaf, id, pid, vid) in old {
        if referenced.contains(&id) {
            kept_referenced += 1;
            continue;
        }
        delete.execute([leaf]).map_err(backend)?;
        conn.prepare_cached("INSERT INTO retired_ids (id, leaf) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id, leaf]))
            .map_err(backend)?;
        removed.push(leaf as u64);
        state.pending_scans.purge(leaf, pid, vid);
    }
    if removed.is_empty() {
        return Ok(PurgeReport {
            leaf: None,
            removed,
            kept_referenced,
        });
    }
    let entry = LedgerEntry::Purge(Purge {
        leaves: removed.clone(),
    });
    let leaf = append_leaf(conn, state, &entry.to_bytes())?;
    Ok(PurgeReport {
        leaf: Some(leaf),
        removed,
        kept_referenced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(conn: &Connection, pragma: &str) -> i64 {
        conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
            .unwrap()
    }

    /// A widened writer goes back to its usual cache and automatic checkpoints.
    #[test]
    fn a_widened_cache_is_narrowed_with_checkpoints_back_on() {
        let db = crate::schema::ScratchDb::new("wide");
        let conn = &db.conn;
        crate::schema::configure(conn).unwrap();
        let usual = (
            setting(conn, "cache_size"),
            setting(conn, "wal_autocheckpoint"),
        );
        assert_eq!(
            usual,
            (
                crate::schema::WRITER_CACHE_KIB,
                crate::schema::WAL_AUTOCHECKPOINT_PAGES
            )
        );
        assert!(widen_cache(conn));
        assert_eq!(
            (
                setting(conn, "cache_size"),
                setting(conn, "wal_autocheckpoint")
            ),
            (crate::schema::WIDE_CACHE_KIB, 0)
        );
        narrow_cache(conn);
        assert_eq!(
            (
                setting(conn, "cache_size"),
                setting(conn, "wal_autocheckpoint")
            ),
            usual
        );
    }
}
