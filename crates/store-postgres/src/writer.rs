//! The writer task: every write of the store, with group commit, serialised with
//! the writers of other processes by the ledger head's row lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mingma_core::canonical::canonical_bytes;
use mingma_core::commitment::{LeafEntry, Salt};
use mingma_core::{Evidence, EvidenceBody, EvidenceKind, PersonKey, Recorder, Timestamp};
use mingma_ledger::{leaf_hash, Frontier};
use mingma_store::nodes::{generated, with_fetched_nodes};
use mingma_store::{
    batch_entry, colour_byte, new_salts, Appended, CodeChange, LedgerEntry, Purge, PurgeReport,
    RecordedBatch, Result, StoreError, StoredCheckpoint,
};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Config;

use crate::conn::Conn;
use crate::rows::{
    code_state, fetch_nodes, get, index, join_ids, kind_code, presence_code, read_record, unsigned,
    venue_kind_code, CODE_CHANGE_SELECT,
};
use crate::{corrupt, days};

/// A write waiting for the writer.
pub(crate) enum Job {
    Append(Vec<Evidence>, oneshot::Sender<Result<Vec<Appended>>>),
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

/// A job's result, held until the transaction commits.
enum Done {
    Append(
        oneshot::Sender<Result<Vec<Appended>>>,
        Result<Vec<Appended>>,
    ),
    CodeChanges(
        oneshot::Sender<Result<Option<RecordedBatch>>>,
        Result<Option<RecordedBatch>>,
    ),
    Checkpoint(oneshot::Sender<Result<()>>, Result<()>),
    Purge(oneshot::Sender<Result<PurgeReport>>, Result<PurgeReport>),
    Act(oneshot::Sender<Result<u64>>, Result<u64>),
    Derived(oneshot::Sender<Result<()>>, Result<()>),
}

impl Done {
    fn is_ok(&self) -> bool {
        match self {
            Done::Append(_, r) => r.is_ok(),
            Done::CodeChanges(_, r) => r.is_ok(),
            Done::Checkpoint(_, r) => r.is_ok(),
            Done::Purge(_, r) => r.is_ok(),
            Done::Act(_, r) => r.is_ok(),
            Done::Derived(_, r) => r.is_ok(),
        }
    }

    /// Sends the result, or `failure` instead if the commit failed.
    fn send(self, failure: Option<&str>) {
        let fail = |m: &str| StoreError::Backend(format!("commit failed: {m}"));
        // A caller that stopped waiting is not an error of the store.
        match self {
            Done::Append(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Done::CodeChanges(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Done::Checkpoint(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Done::Purge(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Done::Act(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Done::Derived(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
        }
    }

    /// The same reply, failed with `error`.
    fn failed(self, error: StoreError) -> Done {
        match self {
            Done::Append(tx, _) => Done::Append(tx, Err(error)),
            Done::CodeChanges(tx, _) => Done::CodeChanges(tx, Err(error)),
            Done::Checkpoint(tx, _) => Done::Checkpoint(tx, Err(error)),
            Done::Purge(tx, _) => Done::Purge(tx, Err(error)),
            Done::Act(tx, _) => Done::Act(tx, Err(error)),
            Done::Derived(tx, _) => Done::Derived(tx, Err(error)),
        }
    }
}

fn failed(job: Job, message: &str) -> Done {
    let e = || StoreError::Backend(message.to_owned());
    match job {
        Job::Append(_, tx) => Done::Append(tx, Err(e())),
        Job::CodeChanges(_, _, tx) => Done::CodeChanges(tx, Err(e())),
        Job::Checkpoint(_, tx) => Done::Checkpoint(tx, Err(e())),
        Job::Purge(_, tx) => Done::Purge(tx, Err(e())),
        Job::Act(_, tx) => Done::Act(tx, Err(e())),
        Job::Derived(_, tx) => Done::Derived(tx, Err(e())),
    }
}

/// Most writes committed together.
const GROUP: usize = 4096;

/// What the writer keeps between writes: the ledger's right edge, and the integer
/// ids of person keys and venues already interned (to save a lookup per scan).
/// After any rolled-back write the interned ids are forgotten, since they may name
/// rows that were rolled back.
struct WriteState {
    frontier: Frontier,
    persons: HashMap<PersonKey, i32>,
    venues: HashMap<(String, i32, i16), i32>,
}

impl WriteState {
    fn forget_interned(&mut self) {
        self.persons.clear();
        self.venues.clear();
    }
}

struct Writer {
    conn: Conn,
    config: Config,
    state: WriteState,
}

/// Starts the writer task on `conn` (reconnecting with `config` if the connection
/// is lost); returns the queue it reads.
pub(crate) async fn start(conn: Conn, config: Config) -> Result<mpsc::UnboundedSender<Job>> {
    let row = conn.query_one("SELECT size FROM ledger_head", &[]).await?;
    let size = unsigned(get(&row, 0)?, "ledger size")?;
    let frontier = load_frontier(&conn, size).await?;
    let (jobs, queue) = mpsc::unbounded_channel();
    let writer = Writer {
        conn,
        config,
        state: WriteState {
            frontier,
            persons: HashMap::new(),
            venues: HashMap::new(),
        },
    };
    tokio::spawn(writer.run(queue));
    Ok(jobs)
}

/// The frontier of the first `size` leaves: the peaks of the binary decomposition
/// of `size`, read in one query.
async fn load_frontier(conn: &Conn, size: u64) -> Result<Frontier> {
    with_fetched_nodes(
        size,
        |src| Frontier::from_source(src, size),
        |asked| fetch_nodes(conn, asked, size),
    )
    .await
}

type GroupFailure = (Vec<Done>, String);

impl Writer {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = queue.recv().await {
            let mut group = vec![first];
            while group.len() < GROUP {
                match queue.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if self.conn.is_closed() {
                match Conn::open(&self.config).await {
                    Ok((conn, _)) => {
                        self.conn = conn;
                        self.state.forget_interned();
                    }
                    Err(e) => {
                        let message = format!("the write connection was lost: {e}");
                        for job in group {
                            failed(job, &message).send(None);
                        }
                        continue;
                    }
                }
            }
            let before = self.state.frontier.clone();
            match self.commit_group(group).await {
                Ok(done) => done.into_iter().for_each(|d| d.send(None)),
                Err((done, message)) => {
                    // Leave no transaction open behind a failure (a no-op warning if
                    // there is none; nothing to do if the connection is gone).
                    let _ = self.conn.batch("ROLLBACK").await;
                    self.state.frontier = before;
                    self.state.forget_interned();
                    done.into_iter().for_each(|d| d.send(Some(&message)));
                }
            }
        }
    }

    async fn commit_group(
        &mut self,
        group: Vec<Job>,
    ) -> std::result::Result<Vec<Done>, GroupFailure> {
        if let Err(e) = self.begin().await {
            let message = e.to_string();
            let done = group.into_iter().map(|job| failed(job, &message)).collect();
            return Err((done, message));
        }
        let mut done = Vec::with_capacity(group.len());
        for job in group {
            let snapshot = self.state.frontier.clone();
            let outcome = match self.conn.batch("SAVEPOINT job").await {
                Ok(()) => {
                    let outcome = apply(&self.conn, &mut self.state, job).await;
                    let close = if outcome.is_ok() {
                        "RELEASE SAVEPOINT job"
                    } else {
                        "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job"
                    };
                    match self.conn.batch(close).await {
                        Ok(()) => outcome,
                        Err(e) => outcome.failed(e),
                    }
                }
                Err(e) => failed(job, &e.to_string()),
            };
            if !outcome.is_ok() {
                self.state.frontier = snapshot;
                self.state.forget_interned();
            }
            done.push(outcome);
        }
        // The head is written by every group, then the group commits: in a
        // transaction left aborted by a failed statement the UPDATE fails (where
        // PostgreSQL would answer a COMMIT with a silent rollback), so a group is
        // never reported committed unless it was. (Not pipelined: the COMMIT must
        // not overtake an UPDATE still being prepared.)
        let size = index(self.state.frontier.size());
        let end = async {
            self.conn
                .execute("UPDATE ledger_head SET size = $1", &[&size])
                .await?;
            self.conn.batch("COMMIT").await
        };
        match end.await {
            Ok(()) => Ok(done),
            Err(e) => Err((done, e.to_string())),
        }
    }

    /// Opens the group's transaction and takes the ledger head's row lock; brings
    /// the frontier up to the head if other nodes appended meanwhile.
    async fn begin(&mut self) -> Result<()> {
        self.conn.batch("BEGIN").await?;
        let row = self
            .conn
            .query_one("SELECT size FROM ledger_head FOR UPDATE", &[])
            .await?;
        let size = unsigned(get(&row, 0)?, "ledger size")?;
        if size != self.state.frontier.size() {
            self.state.frontier = load_frontier(&self.conn, size).await?;
        }
        Ok(())
    }
}

async fn apply(conn: &Conn, state: &mut WriteState, job: Job) -> Done {
    match job {
        Job::Append(records, tx) => Done::Append(tx, append(conn, state, records).await),
        Job::CodeChanges(changes, reflects, tx) => {
            Done::CodeChanges(tx, code_changes(conn, state, changes, reflects).await)
        }
        Job::Checkpoint(checkpoint, tx) => {
            Done::Checkpoint(tx, add_checkpoint(conn, &state.frontier, checkpoint).await)
        }
        Job::Purge(before, tx) => Done::Purge(tx, purge(conn, &mut state.frontier, before).await),
        Job::Act(act, tx) => Done::Act(tx, append_act(conn, &mut state.frontier, act).await),
        Job::Derived(leaves, tx) => Done::Derived(tx, derivations_done(conn, leaves).await),
    }
}

/// Leaves and the perfect subtrees they complete, to be inserted together.
#[derive(Default)]
struct NewLeaves {
    indexes: Vec<i64>,
    data: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
    node_levels: Vec<i32>,
    node_indexes: Vec<i64>,
    node_hashes: Vec<Vec<u8>>,
}

impl NewLeaves {
    /// Appends a leaf to the frontier; returns its index.
    fn push(&mut self, frontier: &mut Frontier, data: Vec<u8>) -> u64 {
        let at = frontier.size();
        let hash = leaf_hash(&data);
        for node in frontier.push(hash).iter().filter(|n| n.level > 0) {
            self.node_levels
                .push(i32::try_from(node.level).unwrap_or(i32::MAX));
            self.node_indexes.push(index(node.index));
            self.node_hashes.push(node.hash.as_bytes().to_vec());
        }
        self.indexes.push(index(at));
        self.data.push(data);
        self.hashes.push(hash.as_bytes().to_vec());
        at
    }

    async fn insert(&self, conn: &Conn) -> Result<()> {
        if self.indexes.is_empty() {
            return Ok(());
        }
        let leaves = async {
            conn.execute(
                "INSERT INTO ledger_leaves (idx, data, hash) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
                &[&self.indexes, &self.data, &self.hashes],
            )
            .await
        };
        let nodes = async {
            if self.node_levels.is_empty() {
                return Ok(0);
            }
            conn.execute(
                "INSERT INTO ledger_nodes (level, idx, hash) \
                 SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[])",
                &[&self.node_levels, &self.node_indexes, &self.node_hashes],
            )
            .await
        };
        tokio::try_join!(leaves, nodes).map(|_| ())
    }
}

/// Interns person keys: their integer ids, inserting those never seen.
async fn intern_persons(
    conn: &Conn,
    state: &mut WriteState,
    keys: impl IntoIterator<Item = PersonKey>,
) -> Result<()> {
    let wanted: BTreeSet<PersonKey> = keys
        .into_iter()
        .filter(|k| !state.persons.contains_key(k))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let bytes: Vec<&[u8]> = wanted.iter().map(|k| k.as_bytes().as_slice()).collect();
    let rows = conn
        .query(
            "WITH new AS (INSERT INTO persons (key) SELECT unnest($1::bytea[]) \
                          ON CONFLICT (key) DO NOTHING RETURNING pid, key) \
             SELECT pid, key FROM new UNION ALL SELECT pid, key FROM persons WHERE key = ANY($1)",
            &[&bytes],
        )
        .await?;
    for row in &rows {
        let key = crate::rows::person_key(get(row, 1)?)?;
        state.persons.insert(key, get(row, 0)?);
    }
    Ok(())
}

fn pid(state: &WriteState, key: &PersonKey) -> Result<i32> {
    state
        .persons
        .get(key)
        .copied()
        .ok_or_else(|| StoreError::Backend(format!("person {} was not interned", key.short())))
}

/// Interns venues (id, street, kind).
async fn intern_venues(
    conn: &Conn,
    state: &mut WriteState,
    venues: impl IntoIterator<Item = (String, i32, i16)>,
) -> Result<()> {
    let wanted: BTreeSet<(String, i32, i16)> = venues
        .into_iter()
        .filter(|v| !state.venues.contains_key(v))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = wanted.iter().map(|v| v.0.as_str()).collect();
    let streets: Vec<i32> = wanted.iter().map(|v| v.1).collect();
    let kinds: Vec<i16> = wanted.iter().map(|v| v.2).collect();
    let rows = conn
        .query(
            "WITH wanted AS (SELECT * FROM unnest($1::text[], $2::int[], $3::smallint[]) AS w(id, street, kind)), \
             new AS (INSERT INTO venues (id, street, kind) SELECT id, street, kind FROM wanted \
                     ON CONFLICT (id, street, kind) DO NOTHING RETURNING vid, id, street, kind) \
             SELECT vid, id, street, kind FROM new UNION ALL \
             SELECT v.vid, v.id, v.street, v.kind FROM venues v \
               JOIN wanted w ON v.id = w.id AND v.street = w.street AND v.kind = w.kind",
            &[&ids, &streets, &kinds],
        )
        .await?;
    for row in &rows {
        state
            .venues
            .insert((get(row, 1)?, get(row, 2)?, get(row, 3)?), get(row, 0)?);
    }
    Ok(())
}

/// A scan's typed columns, checked.
struct ScanFields {
    venue: (String, i32, i16),
    entered: i64,
    left_at: Option<i64>,
    presence: i16,
    proxy: Option<PersonKey>,
    official: Option<String>,
}

fn scan_fields(evidence: &Evidence) -> Result<Option<ScanFields>> {
    let invalid = |reason: &str| StoreError::Invalid {
        id: evidence.id.clone(),
        reason: reason.to_owned(),
    };
    let EvidenceBody::VenueScan {
        venue,
        street,
        venue_kind,
        left_at,
        presence,
    } = &evidence.body
    else {
        return Ok(None);
    };
    if evidence.subject.is_none() {
        return Err(invalid("a scan has no subject"));
    }
    let street: i32 = street
        .to_string()
        .parse()
        .map_err(|_| invalid("street code"))?;
    let (proxy, official) = match &evidence.recorded_by {
        Recorder::Holder => (None, None),
        Recorder::Proxy(key) => (Some(*key), None),
        Recorder::Official(id) => (None, Some(id.to_string())),
        Recorder::Source { .. } => return Err(invalid("a data source cannot record a venue scan")),
    };
    if evidence.legal_basis.is_some() {
        return Err(invalid("a scan has no legal basis"));
    }
    if evidence.authority.is_some() != official.is_some() {
        return Err(invalid(
            "only a scan entered by an official has an authority",
        ));
    }
    Ok(Some(ScanFields {
        venue: (venue.to_string(), street, venue_kind_code(*venue_kind)),
        entered: evidence.effective_at.unix_seconds(),
        left_at: left_at.map(|t| t.unix_seconds()),
        presence: presence_code(*presence),
        proxy,
        official,
    }))
}

/// A record of this append that gets a leaf.
struct Fresh {
    evidence: Evidence,
    scan: Option<ScanFields>,
    salt: Salt,
    leaf: u64,
}

async fn append(
    conn: &Conn,
    state: &mut WriteState,
    records: Vec<Evidence>,
) -> Result<Vec<Appended>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut checked = Vec::with_capacity(records.len());
    for evidence in records {
        let scan = scan_fields(&evidence)?;
        checked.push((evidence, scan));
    }
    // Which ids are taken already (by any record or scan, purged ones included).
    let ids: Vec<&str> = checked.iter().map(|(e, _)| e.id.as_str()).collect();
    let taken: HashMap<String, i64> = conn
        .query(
            "SELECT id, leaf FROM record_ids WHERE id = ANY($1)",
            &[&ids],
        )
        .await?
        .iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect::<Result<_>>()?;
    let salts = new_salts(checked.len())?;
    let mut out = Vec::with_capacity(checked.len());
    let mut fresh: Vec<Fresh> = Vec::new();
    // Ids given a leaf in this call: the record's position in `fresh`.
    let mut here: HashMap<String, usize> = HashMap::new();
    for ((evidence, scan), salt) in checked.into_iter().zip(salts) {
        let existing = if let Some(&i) = here.get(evidence.id.as_str()) {
            fresh.get(i).map(|f| (canonical_bytes(&f.evidence), f.leaf))
        } else if let Some(&leaf) = taken.get(evidence.id.as_str()) {
            match read_record(conn, evidence.id.as_str()).await? {
                Some(stored) => Some((canonical_bytes(&stored.evidence), stored.leaf)),
                // Purged: the id stays taken by its leaf.
                None => {
                    return Err(StoreError::Conflict {
                        id: evidence.id,
                        leaf: unsigned(leaf, "leaf")?,
                    })
                }
            }
        } else {
            None
        };
        if let Some((bytes, leaf)) = existing {
            // The same record again is no change, another is refused.
            if bytes != canonical_bytes(&evidence) {
                return Err(StoreError::Conflict {
                    id: evidence.id,
                    leaf,
                });
            }
            out.push(Appended {
                id: evidence.id,
                leaf,
                fresh: false,
            });
            continue;
        }
        let leaf = state.frontier.size() + fresh.len() as u64;
        here.insert(evidence.id.to_string(), fresh.len());
        out.push(Appended {
            id: evidence.id.clone(),
            leaf,
            fresh: true,
        });
        fresh.push(Fresh {
            evidence,
            scan,
            salt,
            leaf,
        });
    }
    if fresh.is_empty() {
        return Ok(out);
    }

    // Interned ids, acted-on targets and partitions, before the rows go in.
    intern_persons(
        conn,
        state,
        fresh.iter().flat_map(|f| {
            f.evidence
                .subject
                .into_iter()
                .chain(f.scan.as_ref().and_then(|s| s.proxy))
        }),
    )
    .await?;
    intern_venues(
        conn,
        state,
        fresh
            .iter()
            .filter_map(|f| f.scan.as_ref().map(|s| s.venue.clone())),
    )
    .await?;
    let targets = targets_about(conn, &fresh, &here).await?;
    let days: BTreeSet<i64> = fresh
        .iter()
        .filter_map(|f| f.scan.as_ref().map(|s| days::day_of(s.entered)))
        .collect();
    ensure_partitions(conn, &days).await?;

    // The rows, as arrays.
    let mut id_rows = (Vec::new(), Vec::new(), Vec::new());
    let mut record_rows = RecordRows::default();
    let mut scan_rows = ScanRows::default();
    let mut leaves = NewLeaves::default();
    // The person each record of this call concerns, for acts on it later in the call.
    let mut about_here: Vec<Option<i32>> = Vec::with_capacity(fresh.len());
    for f in &fresh {
        let entry = LedgerEntry::Record(LeafEntry::for_record(&f.evidence, &f.salt));
        let at = leaves.push(&mut state.frontier, entry.to_bytes());
        if at != f.leaf {
            return Err(StoreError::Backend(format!(
                "record `{}` was given leaf {} but the ledger is at {at}",
                f.evidence.id, f.leaf
            )));
        }
        let leaf = index(f.leaf);
        id_rows.0.push(f.evidence.id.as_str());
        id_rows.1.push(leaf);
        id_rows.2.push(f.scan.as_ref().map(|s| s.entered));
        let salt = f.salt.as_bytes().to_vec();
        if let Some(scan) = &f.scan {
            let subject = f
                .evidence
                .subject
                .as_ref()
                .ok_or_else(|| StoreError::Invalid {
                    id: f.evidence.id.clone(),
                    reason: "a scan has no subject".into(),
                })?;
            let subject_pid = pid(state, subject)?;
            about_here.push(Some(subject_pid));
            scan_rows.leaf.push(leaf);
            scan_rows.entered.push(scan.entered);
            scan_rows.pid.push(subject_pid);
            scan_rows
                .vid
                .push(state.venues.get(&scan.venue).copied().ok_or_else(|| {
                    StoreError::Backend(format!("venue `{}` was not interned", scan.venue.0))
                })?);
            scan_rows.left_at.push(scan.left_at);
            scan_rows
                .recorded_at
                .push(f.evidence.recorded_at.unix_seconds());
            scan_rows.presence.push(scan.presence);
            scan_rows
                .proxy
                .push(scan.proxy.as_ref().map(|k| pid(state, k)).transpose()?);
            scan_rows.id.push(f.evidence.id.as_str());
            scan_rows.official.push(scan.official.clone());
            scan_rows
                .authority
                .push(f.evidence.authority.as_ref().map(|a| a.to_string()));
            scan_rows.salt.push(salt);
            continue;
        }
        let about = match (&f.evidence.subject, target_of(&f.evidence.body)) {
            (Some(subject), _) => Some(pid(state, subject)?),
            (None, Some(target)) => match here.get(target) {
                Some(&i) => about_here.get(i).copied().flatten(),
                None => targets.get(target).copied().flatten(),
            },
            (None, None) => None,
        };
        about_here.push(about);
        record_rows.leaf.push(leaf);
        record_rows.id.push(f.evidence.id.as_str());
        record_rows.kind.push(kind_code(f.evidence.kind()));
        record_rows.about.push(about);
        record_rows.canonical.push(canonical_bytes(&f.evidence));
        record_rows.salt.push(salt);
        record_rows
            .seal
            .push(f.evidence.seal.map(|seal| seal.to_bytes().to_vec()));
    }
    let ids = async {
        conn.execute(
            "INSERT INTO record_ids (id, leaf, entered) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])",
            &[&id_rows.0, &id_rows.1, &id_rows.2],
        )
        .await
    };
    tokio::try_join!(
        ids,
        record_rows.insert(conn),
        scan_rows.insert(conn),
        leaves.insert(conn)
    )?;
    Ok(out)
}

/// The record an act (retraction, approval, rejection) acts on.
fn target_of(body: &EvidenceBody) -> Option<&str> {
    match body {
        EvidenceBody::Retraction { target, .. }
        | EvidenceBody::Approval { target }
        | EvidenceBody::Rejection { target, .. } => Some(target.as_str()),
        _ => None,
    }
}

/// The person each stored record that an act of `fresh` targets concerns (the
/// subject of a scan, the `about` of a record), for targets not in this call.
async fn targets_about(
    conn: &Conn,
    fresh: &[Fresh],
    here: &HashMap<String, usize>,
) -> Result<HashMap<String, Option<i32>>> {
    let targets: Vec<&str> = fresh
        .iter()
        .filter(|f| f.evidence.subject.is_none())
        .filter_map(|f| target_of(&f.evidence.body))
        .filter(|t| !here.contains_key(*t))
        .collect();
    if targets.is_empty() {
        return Ok(HashMap::new());
    }
    conn.query(
        "SELECT i.id, CASE WHEN i.entered IS NULL \
             THEN (SELECT r.about FROM records r WHERE r.id = i.id) \
             ELSE (SELECT s.pid FROM scans s WHERE s.leaf = i.leaf AND s.entered = i.entered) END \
         FROM record_ids i WHERE i.id = ANY($1)",
        &[&targets],
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
    .collect()
}

/// Makes the day partitions of `scans` that `days` need and that do not exist yet.
/// Run under the ledger head's lock, so writers of other nodes cannot race.
async fn ensure_partitions(conn: &Conn, days: &BTreeSet<i64>) -> Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = days.iter().map(|d| days::partition_name(*d)).collect();
    let missing = conn
        .query(
            "SELECT n FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NULL",
            &[&names],
        )
        .await?;
    if missing.is_empty() {
        return Ok(());
    }
    let missing: HashSet<String> = missing
        .iter()
        .map(|row| get(row, 0))
        .collect::<Result<_>>()?;
    for day in days {
        if missing.contains(&days::partition_name(*day)) {
            conn.batch(&days::create_partition(*day)).await?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct RecordRows<'a> {
    leaf: Vec<i64>,
    id: Vec<&'a str>,
    kind: Vec<i16>,
    about: Vec<Option<i32>>,
    canonical: Vec<Vec<u8>>,
    salt: Vec<Vec<u8>>,
    seal: Vec<Option<Vec<u8>>>,
}

impl RecordRows<'_> {
    async fn insert(&self, conn: &Conn) -> Result<()> {
        if self.leaf.is_empty() {
            return Ok(());
        }
        conn.execute(
            "INSERT INTO records (leaf, id, kind, about, canonical, salt, seal) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::int[], $5::bytea[], $6::bytea[], $7::bytea[])",
            &[
                &self.leaf,
                &self.id,
                &self.kind,
                &self.about,
                &self.canonical,
                &self.salt,
                &self.seal,
            ],
        )
        .await?;
        // About nobody (a risk area, an act on one): whom it concerns is found by a
        // re-derivation of its own, pending until it is marked done.
        let pending: Vec<i64> = self
            .leaf
            .iter()
            .zip(&self.about)
            .filter(|(_, about)| about.is_none())
            .map(|(leaf, _)| *leaf)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        conn.execute(
            "INSERT INTO pending_derivations (leaf) SELECT * FROM unnest($1::bigint[])",
            &[&pending],
        )
        .await
        .map(|_| ())
    }
}

/// Removes `leaves` from the pending re-derivations (a leaf not pending is passed
/// over).
async fn derivations_done(conn: &Conn, leaves: Vec<u64>) -> Result<()> {
    let leaves: Vec<i64> = leaves
        .into_iter()
        .map(|leaf| i64::try_from(leaf).map_err(|e| StoreError::Backend(e.to_string())))
        .collect::<Result<_>>()?;
    conn.execute(
        "DELETE FROM pending_derivations WHERE leaf = ANY($1)",
        &[&leaves],
    )
    .await?;
    Ok(())
}

#[derive(Default)]
struct ScanRows<'a> {
    leaf: Vec<i64>,
    entered: Vec<i64>,
    pid: Vec<i32>,
    vid: Vec<i32>,
    left_at: Vec<Option<i64>>,
    recorded_at: Vec<i64>,
    presence: Vec<i16>,
    proxy: Vec<Option<i32>>,
    id: Vec<&'a str>,
    official: Vec<Option<String>>,
    authority: Vec<Option<String>>,
    salt: Vec<Vec<u8>>,
}

impl ScanRows<'_> {
    async fn insert(&self, conn: &Conn) -> Result<()> {
        if self.leaf.is_empty() {
            return Ok(());
        }
        conn.execute(
            "INSERT INTO scans (leaf, entered, pid, vid, left_at, recorded_at, presence, proxy, id, official, authority, salt) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::bigint[], $6::bigint[], \
                                  $7::smallint[], $8::int[], $9::text[], $10::text[], $11::text[], $12::bytea[])",
            &[
                &self.leaf,
                &self.entered,
                &self.pid,
                &self.vid,
                &self.left_at,
                &self.recorded_at,
                &self.presence,
                &self.proxy,
                &self.id,
                &self.official,
                &self.authority,
                &self.salt,
            ],
        )
        .await
        .map(|_| ())
    }
}

async fn code_changes(
    conn: &Conn,
    state: &mut WriteState,
    changes: Vec<CodeChange>,
    reflects: u64,
) -> Result<Option<RecordedBatch>> {
    if let Some(other) = changes.iter().find(|c| c.reflects() != reflects) {
        return Err(StoreError::Backend(format!(
            "a code change reflects {} ledger leaves, its batch {reflects}",
            other.reflects()
        )));
    }
    let mut seen = BTreeSet::new();
    let decisions: Vec<CodeChange> = changes
        .into_iter()
        .filter(|c| seen.insert(c.person()))
        .collect();
    intern_persons(conn, state, decisions.iter().map(|c| c.person())).await?;
    let pids: Vec<i32> = decisions
        .iter()
        .map(|c| pid(state, &c.person()))
        .collect::<Result<_>>()?;
    let sql = format!(
        "{CODE_CHANGE_SELECT} JOIN code_states st ON st.leaf = cc.leaf AND st.position = cc.position \
         WHERE st.pid = ANY($1)"
    );
    let mut current: HashMap<PersonKey, CodeChange> = HashMap::new();
    for row in conn.query(&sql, &[&pids]).await? {
        let state = code_state(&row)?;
        current.insert(state.change.person(), state.change);
    }
    let mut changes: Vec<(i32, CodeChange)> = Vec::new();
    for (change, pid) in decisions.into_iter().zip(&pids) {
        if current
            .get(&change.person())
            .is_some_and(|c| c.same_code(&change))
        {
            continue;
        }
        changes.push((*pid, change));
    }
    let salts = new_salts(changes.len())?;
    let Some(entry) = batch_entry(changes.iter().map(|(_, c)| c).zip(&salts), reflects)? else {
        return Ok(None);
    };
    let mut leaves = NewLeaves::default();
    let leaf = leaves.push(&mut state.frontier, entry.to_bytes());
    let n = changes.len();
    let leaf_column = vec![index(leaf); n];
    let positions: Vec<i64> = (0..n).map(|p| index(p as u64)).collect();
    let pid_column: Vec<i32> = changes.iter().map(|(pid, _)| *pid).collect();
    let colours: Vec<i16> = changes
        .iter()
        .map(|(_, c)| i16::from(colour_byte(c.colour())))
        .collect();
    let valid_at: Vec<i64> = changes
        .iter()
        .map(|(_, c)| c.valid_at().unix_seconds())
        .collect();
    let known_at: Vec<i64> = changes
        .iter()
        .map(|(_, c)| c.known_at().unix_seconds())
        .collect();
    let since: Vec<Option<i64>> = changes
        .iter()
        .map(|(_, c)| c.since().map(|t| t.unix_seconds()))
        .collect();
    let next_at: Vec<Option<i64>> = changes
        .iter()
        .map(|(_, c)| c.next_change().map(|(t, _)| t.unix_seconds()))
        .collect();
    let next_colour: Vec<Option<i16>> = changes
        .iter()
        .map(|(_, c)| c.next_change().map(|(_, k)| i16::from(colour_byte(k))))
        .collect();
    let reasons: Vec<Option<&str>> = changes.iter().map(|(_, c)| c.reason()).collect();
    let owners: Vec<String> = changes.iter().map(|(_, c)| join_ids(c.owners())).collect();
    let decisive: Vec<String> = changes
        .iter()
        .map(|(_, c)| join_ids(c.decisive()))
        .collect();
    let rule_sets: Vec<&str> = changes.iter().map(|(_, c)| c.rule_set().0).collect();
    let versions: Vec<&str> = changes.iter().map(|(_, c)| c.rule_set().1).collect();
    let reflects_column = vec![index(reflects); n];
    let salt_column: Vec<Vec<u8>> = salts.iter().map(|s| s.as_bytes().to_vec()).collect();
    let insert_changes = async {
        conn.execute(
        "INSERT INTO code_changes (leaf, position, pid, colour, valid_at, known_at, since, next_at, next_colour, \
         reason, owners, decisive, rule_set, rule_set_version, reflects, salt) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::smallint[], $5::bigint[], $6::bigint[], \
              $7::bigint[], $8::bigint[], $9::smallint[], $10::text[], $11::text[], $12::text[], $13::text[], \
              $14::text[], $15::bigint[], $16::bytea[])",
        &[
            &leaf_column,
            &positions,
            &pid_column,
            &colours,
            &valid_at,
            &known_at,
            &since,
            &next_at,
            &next_colour,
            &reasons,
            &owners,
            &decisive,
            &rule_sets,
            &versions,
            &reflects_column,
            &salt_column,
        ],
    ).await
    };
    let upsert_states = async {
        conn.execute(
            "INSERT INTO code_states (pid, leaf, position) \
         SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[]) \
         ON CONFLICT (pid) DO UPDATE SET leaf = excluded.leaf, position = excluded.position",
            &[&pid_column, &leaf_column, &positions],
        )
        .await
    };
    tokio::try_join!(insert_changes, upsert_states, leaves.insert(conn))?;
    Ok(Some(RecordedBatch::of(
        leaf,
        changes.iter().map(|(_, c)| c),
    )))
}

async fn add_checkpoint(
    conn: &Conn,
    frontier: &Frontier,
    checkpoint: StoredCheckpoint,
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
    let root = if checkpoint.size == size {
        frontier.root()
    } else {
        with_fetched_nodes(
            size,
            |src| generated(mingma_ledger::root_at(src, checkpoint.size)),
            |asked| fetch_nodes(conn, asked, size),
        )
        .await
        .map_err(|e| StoreError::Checkpoint(e.to_string()))?
    };
    if root != checkpoint.root {
        return Err(StoreError::Checkpoint(format!(
            "root {} is not the log's root {root} at size {}",
            checkpoint.root, checkpoint.size
        )));
    }
    // One checkpoint per size is kept; the root was just checked to be the log's.
    conn.execute(
        "INSERT INTO checkpoints (size, root, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING",
        &[
            &index(checkpoint.size),
            &checkpoint.root.as_bytes().as_slice(),
            &checkpoint.note,
        ],
    )
    .await?;
    Ok(())
}

/// Scans that live designations refer to (the exposure behind a close contact):
/// kept until the designation itself is past the retention window.
async fn referenced_scans(conn: &Conn, before: Timestamp) -> Result<BTreeSet<String>> {
    let rows = conn
        .query(
            "SELECT leaf, canonical FROM records WHERE kind = $1",
            &[&kind_code(EvidenceKind::CloseContact)],
        )
        .await?;
    let mut kept = BTreeSet::new();
    for row in &rows {
        let leaf: i64 = get(row, 0)?;
        let record = mingma_core::canonical::decode_canonical(get(row, 1)?)
            .map_err(|e| corrupt(format!("close contact at leaf {leaf}: {e}")))?;
        kept.extend(
            mingma_store::scans_kept_by(&record, before)
                .iter()
                .map(|s| s.to_string()),
        );
    }
    Ok(kept)
}

/// Deletes the old scans that no live designation refers to. A whole day before the
/// cut-off with no such reference is dropped as a table (no dead rows to vacuum),
/// if its lock can be had within a moment; other scans are deleted by row. The ids
/// of purged scans stay in `record_ids`: their leaves are still in the log.
async fn purge(conn: &Conn, frontier: &mut Frontier, before: Timestamp) -> Result<PurgeReport> {
    let cutoff = before.unix_seconds();
    let referenced = referenced_scans(conn, before).await?;
    let old = conn
        .query(
            "SELECT leaf, id, entered FROM scans WHERE entered < $1",
            &[&cutoff],
        )
        .await?;
    // Old scans by day: (leaf, referenced).
    let mut by_day: BTreeMap<i64, Vec<(i64, bool)>> = BTreeMap::new();
    for row in &old {
        let id: &str = get(row, 1)?;
        by_day
            .entry(days::day_of(get(row, 2)?))
            .or_default()
            .push((get(row, 0)?, referenced.contains(id)));
    }
    // Every partition of ours wholly before the cut-off, with or without old scans.
    for row in conn
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'scans'::regclass",
            &[],
        )
        .await?
    {
        let name: String = get(&row, 0)?;
        if let Some(day) = days::day_of_partition(&name) {
            if days::bounds(day).1 <= cutoff {
                by_day.entry(day).or_default();
            }
        }
    }
    let mut removed = Vec::new();
    let mut by_row = Vec::new();
    let mut kept_referenced = 0u64;
    for (day, scans) in by_day {
        let kept = scans.iter().filter(|(_, r)| *r).count() as u64;
        kept_referenced += kept;
        let whole_day = days::bounds(day).1 <= cutoff && kept == 0;
        if whole_day && drop_partition(conn, day).await? {
            removed.extend(scans.iter().map(|(leaf, _)| *leaf));
            continue;
        }
        for (leaf, referenced) in scans {
            if !referenced {
                by_row.push(leaf);
            }
        }
    }
    if !by_row.is_empty() {
        conn.execute(
            "DELETE FROM scans WHERE leaf = ANY($1) AND entered < $2",
            &[&by_row, &cutoff],
        )
        .await?;
        removed.extend(by_row);
    }
    removed.sort_unstable();
    let removed: Vec<u64> = removed
        .into_iter()
        .map(|l| unsigned(l, "leaf"))
        .collect::<Result<_>>()?;
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
    let mut leaves = NewLeaves::default();
    let leaf = leaves.push(frontier, entry.to_bytes());
    leaves.insert(conn).await?;
    Ok(PurgeReport {
        leaf: Some(leaf),
        removed,
        kept_referenced,
    })
}

/// Appends an authority act (listed in `acts`) or an appeal step as one leaf.
async fn append_act(conn: &Conn, frontier: &mut Frontier, entry: LedgerEntry) -> Result<u64> {
    let mut leaves = NewLeaves::default();
    let is_act = matches!(entry, LedgerEntry::Act(_));
    let leaf = leaves.push(frontier, entry.to_bytes());
    leaves.insert(conn).await?;
    if is_act {
        conn.execute("INSERT INTO acts (leaf) VALUES ($1)", &[&index(leaf)])
            .await?;
    }
    Ok(leaf)
}

/// Drops a day's partition, waiting at most two seconds for its lock (readers of
/// `scans` hold it); `false` if it could not be had, and nothing is changed.
async fn drop_partition(conn: &Conn, day: i64) -> Result<bool> {
    let name = days::partition_name(day);
    let dropped = conn
        .batch(&format!(
            "SAVEPOINT drop_day; SET LOCAL lock_timeout = '2s'; DROP TABLE IF EXISTS {name}; \
             SET LOCAL lock_timeout TO DEFAULT; RELEASE SAVEPOINT drop_day"
        ))
        .await;
    match dropped {
        Ok(()) => Ok(true),
        Err(_) => {
            conn.batch("ROLLBACK TO SAVEPOINT drop_day; RELEASE SAVEPOINT drop_day")
                .await?;
            Ok(false)
        }
    }
}
