//! Mingma's production store: PostgreSQL 15, for many nodes on one database.
//!
//! - **Durable**: at connect every session is checked to run with `fsync`,
//!   `full_page_writes` and a `synchronous_commit` that waits for the WAL flush; a
//!   server set otherwise is refused with an error naming the setting.
//!   [`PostgresStore::durability`] gives the settings for benchmarks to print.
//! - **Migrations** are embedded and applied at connect under an advisory lock, with
//!   a checksum table: a database whose applied migration differs from the shipped
//!   one is refused.
//! - **Group commit**: one writer task per process owns a write connection. Callers
//!   queue their writes; the writer takes every write waiting, applies each inside
//!   its own savepoint (so one caller's refused write does not undo another's) and
//!   commits them in one transaction: one WAL flush for many appends. Each write is
//!   a handful of statements whatever its size (rows go in as arrays, `unnest`).
//! - **Ledger order is commit order, across nodes**: every group transaction first
//!   locks the one row of `ledger_head` (`SELECT size ... FOR UPDATE`). Writers of
//!   all processes are thus serialised; the next leaf index is the head's size,
//!   which the group raises before it commits and releases the lock. A writer whose
//!   in-memory [`Frontier`](mingma_ledger::Frontier) is behind the head (another
//!   node appended) reloads it from `ledger_nodes`: the peaks of the binary
//!   decomposition of the size, read in one query.
//! - **Reads** go through a few pooled connections (queries on one connection are
//!   pipelined); proofs and roots read every node they need in one query
//!   ([`mingma_store::nodes::with_fetched_nodes`]).
//! - **Scans** are partitioned by day of entry (`scans_YYYYMMDD`, made by the writer
//!   when a day's first scan arrives); person and venue ids are interned to
//!   integers; `(venue, entered)` and `(person, entered)` are indexed. A purge drops
//!   a whole day that no live designation refers to instead of deleting its rows.
//! - **Record ids** of records and scans alike are kept in `record_ids`, which makes
//!   them unique across both in the database. An id stays taken after its scan is
//!   purged: its leaf is still in the log, so appending it again is a conflict.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod days;
mod rows;
mod schema;
mod writer;

use std::sync::Arc;

use mingma_core::{Evidence, Jurisdiction, PersonKey, RecordId, RuleSet, Timestamp, VenueId};
use mingma_ledger::{Hash, HashSource};
use mingma_store::nodes::{generated, with_fetched_nodes};
use mingma_store::{
    may_matter, Appended, CodeChange, CodeState, DerivationInputs, PurgeReport, RecordedBatch,
    Result, StoreError, StoredCheckpoint, StoredLeaf, StoredRecord,
};
use tokio::sync::{mpsc, oneshot};

use crate::conn::{Conn, Pool};
use crate::rows::{
    code_state, fetch_nodes, get, hash, index, person_key, read_record, stored_record, stored_scan,
    street_range, unsigned, CODE_CHANGE_SELECT, RECORD_COLUMNS, SCAN_SELECT,
};
use crate::writer::Job;

/// Read connections per store.
const READERS: usize = 4;

/// The PostgreSQL store. Cloning is cheap; all clones share one writer task and one
/// pool of read connections.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: mpsc::UnboundedSender<Job>,
    readers: Pool,
    durability: String,
}

pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(schema::describe(&e))
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgresql://` URL or a libpq
    /// `key=value` string), refuses it unless commits are durable, applies pending
    /// migrations, and starts the writer task. Must be called inside a Tokio
    /// runtime, which runs the connections and the writer. Connections are made
    /// without TLS (a Unix socket or a trusted network).
    pub async fn connect(url: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("mingma");
        }
        let (mut conn, durability) = Conn::open(&config).await?;
        schema::migrate(conn.client_mut()).await?;
        let readers = Pool::open(config.clone(), READERS).await?;
        let jobs = writer::start(conn, config).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                readers,
                durability: durability.to_string(),
            }),
        })
    }

    /// The durability settings of the server as this store's sessions see them,
    /// such as `PostgreSQL 15.8: fsync=on, synchronous_commit=on,
    /// full_page_writes=on, wal_sync_method=fdatasync`, for benchmarks to print.
    pub fn durability(&self) -> &str {
        &self.inner.durability
    }

    async fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .send(make(reply))
            .map_err(|_| StoreError::Backend("the writer task has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the writer task dropped the request".into()))?
    }

    async fn reader(&self) -> Result<Arc<Conn>> {
        self.inner.readers.get().await
    }

    async fn scans(
        &self,
        clause: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<StoredRecord>> {
        let conn = self.reader().await?;
        let sql = format!("{SCAN_SELECT} WHERE {clause} ORDER BY s.entered, s.leaf");
        conn.query(&sql, params)
            .await?
            .iter()
            .map(stored_scan)
            .collect()
    }

    /// Computes a root or proof over the first `size` leaves, reading every node it
    /// needs (and the ledger's size) in one query.
    async fn prove<T>(
        &self,
        size: u64,
        compute: impl Fn(&dyn HashSource<Error = StoreError>) -> Result<T> + Send,
    ) -> Result<T> {
        let conn = self.reader().await?;
        with_fetched_nodes(size, compute, |asked| fetch_nodes(&conn, asked, size)).await
    }
}

impl mingma_store::Store for PostgresStore {
    type Reading = mingma_store::ChunkByChunk;

    async fn derivation_reading(
        &self,
        persons: Arc<[PersonKey]>,
        rules: Arc<RuleSet>,
        below: u64,
    ) -> Result<Self::Reading> {
        Ok(mingma_store::ChunkByChunk {
            persons,
            rules,
            below,
        })
    }

    async fn evidence_for_chunk(
        &self,
        reading: Arc<Self::Reading>,
        range: std::ops::Range<usize>,
    ) -> Result<DerivationInputs> {
        reading.read(self, range).await
    }

    async fn records_except_scans_from(&self, from: u64, limit: u64) -> Result<Vec<StoredRecord>> {
        let (from, limit) = (index(from), index(limit.min(1 << 20)));
        let conn = self.reader().await?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE leaf >= $1 AND kind <> $3 ORDER BY leaf LIMIT $2"
        );
        let scan = rows::kind_code(mingma_core::EvidenceKind::VenueScan);
        conn.query(&sql, &[&from, &limit, &scan])
            .await?
            .iter()
            .map(stored_record)
            .collect()
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
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT l.idx, l.data FROM acts a JOIN ledger_leaves l ON l.idx = a.leaf \
                 WHERE a.leaf >= $1 ORDER BY a.leaf",
                &[&index(from)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let leaf: i64 = rows::get(row, 0)?;
                let data: &[u8] = rows::get(row, 1)?;
                match mingma_store::LedgerEntry::from_bytes(data) {
                    Ok(mingma_store::LedgerEntry::Act(act)) => Ok((leaf as u64, act)),
                    _ => Err(StoreError::Corrupt(format!(
                        "leaf {leaf} is listed as an act but is not one"
                    ))),
                }
            })
            .collect()
    }

    async fn append(&self, records: Vec<Evidence>) -> Result<Vec<Appended>> {
        self.write(|reply| Job::Append(records, reply)).await
    }

    async fn record(&self, id: &RecordId) -> Result<Option<StoredRecord>> {
        let conn = self.reader().await?;
        read_record(&conn, id.as_str()).await
    }

    async fn records_from(&self, from: u64, limit: u64) -> Result<Vec<StoredRecord>> {
        let (from, limit) = (index(from), index(limit.min(1 << 20)));
        let conn = self.reader().await?;
        let record_sql =
            format!("SELECT {RECORD_COLUMNS} FROM records WHERE leaf >= $1 ORDER BY leaf LIMIT $2");
        let scan_sql = format!("{SCAN_SELECT} WHERE s.leaf >= $1 ORDER BY s.leaf LIMIT $2");
        let (records, scans) = tokio::try_join!(
            async { conn.query(&record_sql, &[&from, &limit]).await },
            async { conn.query(&scan_sql, &[&from, &limit]).await },
        )?;
        let mut out: Vec<StoredRecord> =
            records.iter().map(stored_record).collect::<Result<_>>()?;
        for row in &scans {
            out.push(stored_scan(row)?);
        }
        out.sort_by_key(|r| r.leaf);
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn records_about_nobody(&self) -> Result<Arc<Vec<Evidence>>> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM records WHERE about IS NULL ORDER BY leaf"),
                &[],
            )
            .await?;
        let records = rows
            .iter()
            .map(|row| stored_record(row).map(|r| r.evidence))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(records))
    }

    async fn evidence_about(&self, person: PersonKey) -> Result<Vec<StoredRecord>> {
        let conn = self.reader().await?;
        let key = person.as_bytes().as_slice();
        let record_sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE about = (SELECT pid FROM persons WHERE key = $1) \
             UNION ALL SELECT {RECORD_COLUMNS} FROM records WHERE about IS NULL"
        );
        let scan_sql =
            format!("{SCAN_SELECT} WHERE s.pid = (SELECT pid FROM persons WHERE key = $1)");
        let (records, scans) =
            tokio::try_join!(async { conn.query(&record_sql, &[&key]).await }, async {
                conn.query(&scan_sql, &[&key]).await
            },)?;
        let mut out: Vec<StoredRecord> =
            records.iter().map(stored_record).collect::<Result<_>>()?;
        for row in &scans {
            out.push(stored_scan(row)?);
        }
        out.sort_by_key(|r| r.leaf);
        Ok(out)
    }

    async fn derivation_changed_since(
        &self,
        person: PersonKey,
        rules: Arc<RuleSet>,
        since: u64,
    ) -> Result<bool> {
        let conn = self.reader().await?;
        let key = person.as_bytes().as_slice();
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        // Two index range reads: records about nobody (partial index) and about the
        // person at or above `since`, and the person's scans.
        let record_sql = "SELECT EXISTS (SELECT 1 FROM records WHERE about IS NULL AND leaf >= $2) \
             OR EXISTS (SELECT 1 FROM records WHERE about = (SELECT pid FROM persons WHERE key = $1) AND leaf >= $2)";
        let scan_sql = format!(
            "{SCAN_SELECT} WHERE s.pid = (SELECT pid FROM persons WHERE key = $1) AND s.leaf >= $2"
        );
        let (records, scans) = tokio::try_join!(
            async { conn.query_one(record_sql, &[&key, &since]).await },
            async { conn.query(&scan_sql, &[&key, &since]).await },
        )?;
        if records.try_get::<_, bool>(0).map_err(backend)? {
            return Ok(true);
        }
        if scans.is_empty() {
            return Ok(false);
        }
        let risk_areas = mingma_store::risk_areas(self).await?;
        for row in &scans {
            if may_matter(&rules, &risk_areas, &stored_scan(row)?.evidence) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn appended_since(
        &self,
        since: u64,
        rules: Arc<RuleSet>,
    ) -> Result<mingma_store::AppendedSince> {
        let conn = self.reader().await?;
        // The size first: each read after it sees every record below it.
        let size_row = conn.query_one("SELECT size FROM ledger_head", &[]).await?;
        let size = unsigned(get(&size_row, 0)?, "ledger size")?;
        let from = i64::try_from(since).unwrap_or(i64::MAX);
        let everyone_sql =
            "SELECT EXISTS (SELECT 1 FROM records WHERE about IS NULL AND leaf >= $1) \
             OR EXISTS (SELECT 1 FROM acts WHERE leaf >= $1)";
        let about_sql =
            "SELECT DISTINCT p.key FROM records r JOIN persons p ON p.pid = r.about WHERE r.leaf >= $1";
        let scan_sql = format!("{SCAN_SELECT} WHERE s.leaf >= $1");
        let (everyone, about, scans) = tokio::try_join!(
            async { conn.query_one(everyone_sql, &[&from]).await },
            async { conn.query(about_sql, &[&from]).await },
            async { conn.query(&scan_sql, &[&from]).await },
        )?;
        let mut persons = std::collections::BTreeSet::new();
        for row in &about {
            persons.insert(person_key(get(row, 0)?)?);
        }
        if !scans.is_empty() {
            let risk_areas = mingma_store::risk_areas(self).await?;
            for row in &scans {
                let scan = stored_scan(row)?.evidence;
                if let Some(person) = scan.subject {
                    if may_matter(&rules, &risk_areas, &scan) {
                        persons.insert(person);
                    }
                }
            }
        }
        Ok(mingma_store::AppendedSince {
            size,
            persons,
            everyone: everyone.try_get::<_, bool>(0).map_err(backend)?,
        })
    }

    async fn scans_at_venue(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredRecord>> {
        self.scans(
            "s.vid IN (SELECT vid FROM venues WHERE id = $1) AND s.entered >= $2 AND s.entered < $3",
            &[&venue.as_str(), &from.unix_seconds(), &until.unix_seconds()],
        )
        .await
    }

    async fn scans_of_person(
        &self,
        person: PersonKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredRecord>> {
        self.scans(
            "s.pid = (SELECT pid FROM persons WHERE key = $1) AND s.entered >= $2 AND s.entered < $3",
            &[
                &person.as_bytes().as_slice(),
                &from.unix_seconds(),
                &until.unix_seconds(),
            ],
        )
        .await
    }

    async fn persons_at_venues(
        &self,
        venues: &[VenueId],
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<PersonKey>> {
        let venues: Vec<&str> = venues.iter().map(VenueId::as_str).collect();
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT p.key FROM persons p WHERE p.pid IN (SELECT s.pid FROM scans s \
                 WHERE s.vid IN (SELECT vid FROM venues WHERE id = ANY($1)) \
                 AND s.entered >= $2 AND s.entered < $3) ORDER BY p.pid",
                &[&venues, &from.unix_seconds(), &until.unix_seconds()],
            )
            .await?;
        rows.iter().map(|r| person_key(get(r, 0)?)).collect()
    }

    async fn persons_in_division(
        &self,
        division: Jurisdiction,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<PersonKey>> {
        let (low, high) = street_range(division);
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT p.key FROM persons p WHERE p.pid IN (SELECT s.pid FROM scans s \
                 WHERE s.vid IN (SELECT vid FROM venues WHERE street >= $1 AND street < $2) \
                 AND s.entered >= $3 AND s.entered < $4) ORDER BY p.pid",
                &[&low, &high, &from.unix_seconds(), &until.unix_seconds()],
            )
            .await?;
        rows.iter().map(|r| person_key(get(r, 0)?)).collect()
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
        let conn = self.reader().await?;
        let sql = format!(
            "{CODE_CHANGE_SELECT} JOIN code_states st ON st.leaf = cc.leaf AND st.position = cc.position \
             WHERE st.pid = (SELECT pid FROM persons WHERE key = $1)"
        );
        conn.query_opt(&sql, &[&person.as_bytes().as_slice()])
            .await?
            .map(|row| code_state(&row)?.held_by(person))
            .transpose()
    }

    async fn codes_due(&self, now: Timestamp) -> Result<Vec<PersonKey>> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT p.key FROM code_states s \
                 JOIN code_changes c ON c.leaf = s.leaf AND c.position = s.position \
                 JOIN persons p ON p.pid = s.pid \
                 WHERE c.next_at IS NOT NULL AND c.next_at <= $1 ORDER BY c.next_at, p.key",
                &[&now.unix_seconds()],
            )
            .await?;
        rows.iter().map(|r| person_key(get(r, 0)?)).collect()
    }

    async fn code_states(&self) -> Result<Vec<CodeState>> {
        let conn = self.reader().await?;
        let sql = format!(
            "{CODE_CHANGE_SELECT} JOIN code_states st ON st.leaf = cc.leaf AND st.position = cc.position"
        );
        let mut states: Vec<CodeState> = conn
            .query(&sql, &[])
            .await?
            .iter()
            .map(code_state)
            .collect::<Result<_>>()?;
        states.sort_by_key(|s| s.change.person());
        Ok(states)
    }

    async fn code_change_batch(&self, leaf: u64) -> Result<Vec<CodeState>> {
        let conn = self.reader().await?;
        let sql = format!("{CODE_CHANGE_SELECT} WHERE cc.leaf = $1 ORDER BY cc.position");
        conn.query(&sql, &[&index(leaf)])
            .await?
            .iter()
            .map(code_state)
            .collect()
    }

    async fn code_changes_of(&self, person: PersonKey) -> Result<Vec<CodeState>> {
        let conn = self.reader().await?;
        let sql = format!(
            "{CODE_CHANGE_SELECT} WHERE cc.pid = (SELECT pid FROM persons WHERE key = $1) \
             ORDER BY cc.leaf, cc.position"
        );
        conn.query(&sql, &[&person.as_bytes().as_slice()])
            .await?
            .iter()
            .map(code_state)
            .collect()
    }

    async fn ledger_size(&self) -> Result<u64> {
        let conn = self.reader().await?;
        let row = conn.query_one("SELECT size FROM ledger_head", &[]).await?;
        unsigned(get(&row, 0)?, "ledger size")
    }

    async fn leaves(&self, from: u64, limit: u64) -> Result<Vec<StoredLeaf>> {
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT idx, data, hash FROM ledger_leaves WHERE idx >= $1 ORDER BY idx LIMIT $2",
                &[&index(from), &index(limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let at: i64 = get(row, 0)?;
                Ok(StoredLeaf {
                    index: unsigned(at, "leaf index")?,
                    data: get(row, 1)?,
                    hash: hash(get(row, 2)?).map_err(|e| corrupt(format!("leaf {at}: {e}")))?,
                })
            })
            .collect()
    }

    async fn nodes(&self, level: u32, from: u64, limit: u64) -> Result<Vec<(u64, Hash)>> {
        let conn = self.reader().await?;
        let level = i32::try_from(level).unwrap_or(i32::MAX);
        let rows = conn
            .query(
                "SELECT idx, hash FROM ledger_nodes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
                &[&level, &index(from), &index(limit.min(1 << 20))],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let at: i64 = get(row, 0)?;
                Ok((
                    unsigned(at, "node index")?,
                    hash(get(row, 1)?)
                        .map_err(|e| corrupt(format!("node ({level}, {at}): {e}")))?,
                ))
            })
            .collect()
    }

    async fn root(&self, size: u64) -> Result<Hash> {
        self.prove(size, move |src| {
            generated(mingma_ledger::root_at(src, size))
        })
        .await
    }

    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.prove(size, move |src| {
            generated(mingma_ledger::inclusion_proof(src, index, size))
        })
        .await
    }

    async fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>> {
        self.prove(size1.max(size2), move |src| {
            generated(mingma_ledger::consistency_proof(src, size1, size2))
        })
        .await
    }

    async fn pending_derivations(&self) -> Result<Vec<u64>> {
        let conn = self.reader().await?;
        let rows = conn
            .query("SELECT leaf FROM pending_derivations ORDER BY leaf", &[])
            .await?;
        rows.iter()
            .map(|row| {
                let leaf: i64 = get(row, 0)?;
                unsigned(leaf, "pending leaf")
            })
            .collect()
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
        let conn = self.reader().await?;
        let rows = conn
            .query(
                "SELECT size, root, note FROM checkpoints ORDER BY size",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let size: i64 = get(row, 0)?;
                Ok(StoredCheckpoint {
                    size: unsigned(size, "checkpoint size")?,
                    root: hash(get(row, 1)?)
                        .map_err(|e| corrupt(format!("checkpoint at {size}: {e}")))?,
                    note: get(row, 2)?,
                })
            })
            .collect()
    }

    async fn purge_scans(&self, before: Timestamp) -> Result<PurgeReport> {
        self.write(|reply| Job::Purge(before, reply)).await
    }
}
