//! Mingma's store contract.
//!
//! One trait, [`Store`], that every backend implements (SQLite, embedded and the
//! default; PostgreSQL for production), and one contract test suite
//! ([`contract`], behind the `contract` feature) that every backend passes.
//!
//! # What a store guarantees
//! - **Evidence and its ledger leaf are written in one transaction.** An appended
//!   record, a batch of code changes, a purge: each is a leaf of the RFC 6962 log, and
//!   the leaf, the tree nodes it completes and the rows it describes commit together
//!   or not at all.
//! - **Appends are idempotent on the record id**: the same record twice is stored
//!   once; a different record under a used id is refused, and nothing of that append
//!   is written.
//! - **The ledger is the event sequence.** Leaf indexes are assigned in commit order,
//!   so a reader that follows the log from a position never skips an event; that is
//!   how read models and other nodes catch up.
//! - **Durable means durable across power loss**: backends run with full
//!   synchronisation (SQLite `synchronous=FULL`, PostgreSQL `fsync` and
//!   `synchronous_commit` on) and get throughput from group commit.
//! - **Only the derivation engine writes code states**: the write path takes
//!   [`CodeChange`]s, which only a [`mingma_core::Decision`] makes, which only
//!   `mingma_core::derive` makes.
//!
//! # What a store must never do
//! Decide a colour, alter or delete a leaf, or put personal data in a leaf.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod code;
mod entry;
pub mod nodes;
pub mod receipt;
pub mod verify;

#[cfg(feature = "contract")]
pub mod contract;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

pub use code::{
    batch_entry, code_change_commitment, colour_byte, colour_from_byte, in_parallel, new_salts,
    CodeChange, CodeState, RecordedBatch,
};
pub use entry::{CodeChangeBatch, EntryError, LedgerEntry, Purge};
use mingma_core::commitment::Salt;
use mingma_core::{
    scan_may_matter, Evidence, EvidenceBody, EvidenceKind, Jurisdiction, PersonKey, RecordId,
    RuleSet, Span, Timestamp, VenueId,
};
use mingma_ledger::Hash;
pub use verify::{verify, Finding, LogIdentity, VerifyReport, Vouch};

/// The scans a record keeps from a retention purge cutting at `before`: those a
/// close-contact designation names as its exposure, while the designation itself is
/// not older than the cut.
pub fn scans_kept_by(record: &Evidence, before: Timestamp) -> &[RecordId] {
    match &record.body {
        mingma_core::EvidenceBody::CloseContact {
            exposure: mingma_core::Exposure::Venue { scans, .. },
            ..
        } if record.effective_at >= before => scans,
        _ => &[],
    }
}

/// The outcome of appending one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record.
    pub id: RecordId,
    /// Its leaf in the ledger.
    pub leaf: u64,
    /// `false` if the same record was already stored (nothing was written).
    pub fresh: bool,
}

/// A stored evidence record with what is needed to prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record.
    pub evidence: Evidence,
    /// Its leaf in the ledger.
    pub leaf: u64,
    /// The salt of its commitment (given to the holder in a receipt).
    pub salt: Salt,
}

/// One leaf as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeaf {
    /// Index in the log.
    pub index: u64,
    /// The leaf bytes (see [`LedgerEntry`]).
    pub data: Vec<u8>,
    /// RFC 6962 leaf hash of `data`.
    pub hash: Hash,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The signed note (C2SP tlog-checkpoint in a signed-note envelope).
    pub note: String,
}

/// What a purge removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// The purge's own leaf, if anything was purged.
    pub leaf: Option<u64>,
    /// Leaves of the scans removed.
    pub removed: Vec<u64>,
    /// Scans old enough but kept because live evidence still refers to them.
    pub kept_referenced: u64,
}

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A different record is stored under this id.
    #[error("record id `{id}` is already used by a different record (leaf {leaf})")]
    Conflict {
        /// The id.
        id: RecordId,
        /// The leaf of the stored record.
        leaf: u64,
    },
    /// A record was refused for what it is (names the record and the problem).
    #[error("record `{id}`: {reason}")]
    Invalid {
        /// The record.
        id: RecordId,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint does not match the log.
    #[error("checkpoint refused: {0}")]
    Checkpoint(String),
    /// A leaf or proof was asked beyond the log.
    #[error("{0}")]
    Range(String),
    /// Stored data does not decode: the store was altered outside Mingma.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(String),
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A person's stay at a venue: the scan's leaf and the stay as derivation counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    /// Who.
    pub person: PersonKey,
    /// The leaf of their scan.
    pub leaf: u64,
    /// Entry.
    pub entered: Timestamp,
    /// Exit, recorded or assumed.
    pub left: Timestamp,
}

/// Whose derivations the records appended from one leaf on may change (see
/// [`Store::appended_since`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendedSince {
    /// The ledger's size, read before the records: every record below it is
    /// accounted for here (later ones may be too).
    pub size: u64,
    /// Persons a record appended since is about, or whose scan appended since may
    /// matter.
    pub persons: BTreeSet<PersonKey>,
    /// Whether a record about nobody (a risk area, an act on one) or an authority
    /// act was appended since: any derivation may read it.
    pub everyone: bool,
}

/// The evidence derivation needs for a list of persons: the records about nobody in
/// particular (risk areas and the acts on them), read once, with the ones each
/// person's derivation needs, and each person's own, in the order the persons were
/// given. Each list is in ledger order.
#[derive(Debug, Clone, Default)]
pub struct DerivationInputs {
    /// Records about nobody in particular, in ledger order. A store may hand out the
    /// list it keeps in memory, which can hold records no derivation here needs
    /// (later ones included): only those indexed in `shared_of` are inputs.
    pub shared: Arc<Vec<Evidence>>,
    /// For each person, the indexes in `shared` of the records their derivation
    /// needs (a risk area none of their scans lies in is not needed), ascending.
    pub shared_of: Vec<Vec<usize>>,
    /// Each person's records.
    pub own: Vec<Vec<Evidence>>,
}

impl DerivationInputs {
    /// The records for the `i`-th person: the shared ones they need, then their own.
    pub fn records_of(&self, i: usize) -> impl Iterator<Item = &Evidence> + Clone {
        self.shared_of
            .get(i)
            .into_iter()
            .flatten()
            .filter_map(|s| self.shared.get(*s))
            .chain(self.own.get(i).into_iter().flatten())
    }
}

/// A [`Store::Reading`] that prepares nothing: each chunk is read on its own with
/// [`Store::evidence_for_derivation`] ([`ChunkByChunk::read`]).
#[derive(Debug, Clone)]
pub struct ChunkByChunk {
    /// Everyone to be read.
    pub persons: Arc<[PersonKey]>,
    /// The rule set, which decides which scans may matter.
    pub rules: Arc<RuleSet>,
    /// Only records with a leaf below this are read.
    pub below: u64,
}

impl ChunkByChunk {
    /// The inputs of `persons[range]` (a range past the end reads nobody past it).
    pub async fn read<S: Store>(
        &self,
        store: &S,
        range: std::ops::Range<usize>,
    ) -> Result<DerivationInputs> {
        let end = range.end.min(self.persons.len());
        let persons = self.persons[range.start.min(end)..end].to_vec();
        store
            .evidence_for_derivation(persons, self.rules.clone(), self.below)
            .await
    }
}

/// Refuses a database on which a migration this build does not ship was applied
/// (`applied`: the names recorded in the database; `shipped`: this build's
/// migrations, by name). A newer build's schema may hold columns this build would
/// write without (a code state's digest, say) and so leave stale: the database is
/// for that build or a newer one.
pub fn refuse_unknown_migrations(applied: &[String], shipped: &[(&str, &str)]) -> Result<()> {
    let unknown: Vec<&str> = applied
        .iter()
        .map(String::as_str)
        .filter(|name| !shipped.iter().any(|(known, _)| known == name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(StoreError::Backend(format!(
        "this database was migrated by a newer build of Mingma (migration{} {}, which this \
         build does not know): run that build or a newer one",
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join(", ")
    )))
}

/// Whether `record` may matter to a derivation given these risk areas: every record
/// but a venue scan for which [`mingma_core::scan_may_matter`] is false.
pub fn may_matter(rules: &RuleSet, risk_areas: &[Evidence], record: &Evidence) -> bool {
    match &record.body {
        EvidenceBody::VenueScan { venue, street, .. } => {
            scan_may_matter(rules, risk_areas, venue, *street, record.effective_at)
        }
        _ => true,
    }
}

/// The risk-area declarations among the store's records about nobody, in ledger
/// order (counting or not, approved or not): what tells a scan that may matter.
pub async fn risk_areas<S: Store>(store: &S) -> Result<Vec<Evidence>> {
    Ok(store
        .records_about_nobody()
        .await?
        .iter()
        .filter(|r| r.kind() == EvidenceKind::RiskArea)
        .cloned()
        .collect())
}

/// [`Store::appended_since`] from the records themselves ([`Store::records_from`],
/// [`Store::acts`]): what a store without a faster way answers. A record with no
/// subject counts as everyone's (an act on a record may concern anyone).
pub async fn appended_since_from_records<S: Store>(
    store: &S,
    since: u64,
    rules: Arc<RuleSet>,
) -> Result<AppendedSince> {
    let size = store.ledger_size().await?;
    let risk_areas = risk_areas(store).await?;
    let mut out = AppendedSince {
        size,
        persons: BTreeSet::new(),
        everyone: !store.acts(since).await?.is_empty(),
    };
    let mut from = since;
    loop {
        let page = store.records_from(from, 4096).await?;
        let Some(last) = page.last() else {
            break;
        };
        from = last.leaf + 1;
        for r in &page {
            match r.evidence.subject {
                None => out.everyone = true,
                Some(p) if may_matter(rules.as_ref(), &risk_areas, &r.evidence) => {
                    out.persons.insert(p);
                }
                Some(_) => {}
            }
        }
    }
    Ok(out)
}

tokio::task_local! {
    static LOW_PRIORITY: bool;
}

/// Runs `work` with its store reads at low priority: a backend may give them a
/// small share of its connections of their own (the SQLite store does), so that
/// work the caller runs at the lowest CPU priority — a server's console requests,
/// its background code checks — never holds a connection a door request waits for.
pub async fn at_low_priority<F: Future>(work: F) -> F::Output {
    LOW_PRIORITY.scope(true, work).await
}

/// Whether the calling task runs inside [`at_low_priority`].
pub fn at_low_priority_now() -> bool {
    LOW_PRIORITY.try_with(|low| *low).unwrap_or(false)
}

/// The store contract. Backends are chosen at start and used monomorphised.
pub trait Store: Clone + Send + Sync + 'static {
    /// Appends records, each with its ledger leaf, in one transaction. Salts are drawn
    /// by the store. Idempotent on record ids; a conflict refuses the whole call.
    fn append(&self, records: Vec<Evidence>) -> impl Future<Output = Result<Vec<Appended>>> + Send;

    /// One record by id.
    fn record(&self, id: &RecordId) -> impl Future<Output = Result<Option<StoredRecord>>> + Send;

    /// Stored records (scans included) with leaf `>= from`, in leaf order, at most
    /// `limit` of them: for verification, which checks every row against its leaf.
    fn records_from(
        &self,
        from: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;

    /// Stored records other than venue scans with leaf `>= from`, in leaf order, at
    /// most `limit`: what the officials' lists (approvals, quarantine) read, without
    /// the scans that are almost all of the log.
    fn records_except_scans_from(
        &self,
        from: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;

    /// Every record about nobody in particular (risk areas, and the approvals,
    /// rejections and retractions acting on them), in ledger order: few, and only
    /// ever added. What a check-in asks to know whether its scan can matter.
    fn records_about_nobody(&self) -> impl Future<Output = Result<Arc<Vec<Evidence>>>> + Send;

    /// Everything derivation needs for `person`: the records about them (scans
    /// included), every risk-area declaration, and the approvals, rejections and
    /// retractions acting on any of these; in ledger order.
    fn evidence_about(
        &self,
        person: PersonKey,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;

    /// What `derive` needs for each of `persons` (see [`DerivationInputs`]): the
    /// records of [`Store::evidence_about`] with a leaf below `below`, except the
    /// venue scans that cannot change any derivation under `rules` (see
    /// [`mingma_core::scan_may_matter`]) — which a store may leave out, and a fast
    /// store does not read at all.
    fn evidence_for_derivation(
        &self,
        persons: Vec<PersonKey>,
        rules: Arc<RuleSet>,
        below: u64,
    ) -> impl Future<Output = Result<DerivationInputs>> + Send {
        async move {
            let mut own = Vec::with_capacity(persons.len());
            for person in persons {
                let records = self.evidence_about(person).await?;
                let risk_areas: Vec<Evidence> = records
                    .iter()
                    .filter(|r| r.leaf < below && r.evidence.kind() == EvidenceKind::RiskArea)
                    .map(|r| r.evidence.clone())
                    .collect();
                own.push(
                    records
                        .into_iter()
                        .filter(|r| r.leaf < below && may_matter(&rules, &risk_areas, &r.evidence))
                        .map(|r| r.evidence)
                        .collect(),
                );
            }
            Ok(DerivationInputs {
                shared: Arc::default(),
                shared_of: vec![Vec::new(); own.len()],
                own,
            })
        }
    }

    /// What a store prepares for reading the derivation inputs of many persons chunk
    /// by chunk ([`Store::derivation_reading`]).
    type Reading: Send + Sync + 'static;

    /// Prepares to read, chunk by chunk with [`Store::evidence_for_chunk`], the
    /// derivation inputs of all of `persons` (a declaration's, or everyone due) with
    /// a leaf below `below`. A store may read here, or at the first chunk that needs
    /// it, what every chunk would otherwise read again — the scans in declared risk
    /// areas, in one pass in leaf order — and keep it until the reading is dropped.
    fn derivation_reading(
        &self,
        persons: Arc<[PersonKey]>,
        rules: Arc<RuleSet>,
        below: u64,
    ) -> impl Future<Output = Result<Self::Reading>> + Send;

    /// What [`Store::evidence_for_derivation`] gives for `persons[range]` of
    /// `reading`: the same records, in the same order. Chunks may be asked in any
    /// order and more than once; a store reads fastest when they are asked in order.
    fn evidence_for_chunk(
        &self,
        reading: Arc<Self::Reading>,
        range: std::ops::Range<usize>,
    ) -> impl Future<Output = Result<DerivationInputs>> + Send;

    /// Whether a record that [`Store::evidence_for_derivation`] reads for `person`
    /// under `rules` — about them, about nobody, or a scan of theirs that may matter —
    /// has a leaf at or above `since`. What a kept code view asks before it is
    /// reused: no such record, no other derivation.
    ///
    /// It is true whenever such a record was committed before the call. It is false
    /// when every record at or above `since` is about someone else, or a scan of
    /// `person`'s entered outside every risk area's window (see
    /// [`mingma_core::scan_may_matter`]); in between (a scan in a window but outside
    /// the area) it may say true needlessly.
    fn derivation_changed_since(
        &self,
        person: PersonKey,
        rules: Arc<RuleSet>,
        since: u64,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let records = self.evidence_about(person).await?;
            let risk_areas: Vec<Evidence> = records
                .iter()
                .filter(|r| r.evidence.kind() == EvidenceKind::RiskArea)
                .map(|r| r.evidence.clone())
                .collect();
            Ok(records
                .iter()
                .any(|r| r.leaf >= since && may_matter(&rules, &risk_areas, &r.evidence)))
        }
    }

    /// Who the records appended at or above leaf `since` concern, read in one go: the
    /// persons whose [`Store::derivation_changed_since`] would now say true for
    /// `since` because of a record about them or a scan of theirs, and whether one
    /// is about nobody or is an authority act (every derivation's inputs). What a
    /// server follows the ledger with, instead of asking for each kept code view.
    ///
    /// Never misses: every such record committed before the call is accounted for
    /// below the returned `size`. It may name a person needlessly (a scan in a risk
    /// area's window but outside the area), and a store may report a record about
    /// nobody for any act it cannot place.
    fn appended_since(
        &self,
        since: u64,
        rules: Arc<RuleSet>,
    ) -> impl Future<Output = Result<AppendedSince>> + Send {
        appended_since_from_records(self, since, rules)
    }

    /// Scans at `venue` entered in `[from, until)`, in entry order.
    fn scans_at_venue(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;

    /// Scans at `venue` whose stay may overlap `[from, until)`: entered before
    /// `until` and left after `from`, a stay without a recorded exit (or a longer one)
    /// counting as `longest`; in entry order. A store may return more (the default
    /// returns every scan entered in `[from - longest, until)`): the caller checks
    /// each stay with `mingma_core::stay`.
    fn stays_at_venue(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
        longest: Span,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send {
        self.scans_at_venue(venue, from.minus(longest), until)
    }

    /// The stays at `venue` that overlap `[from, until)`, each as derivation counts
    /// it under `rules` ([`mingma_core::stay`]), in entry order: who, the scan's
    /// leaf, and when they entered and left. A store that keeps stays in memory
    /// answers without reading rows (and may round stays of 9 hours or more up to
    /// the minute); the default reads them with [`Store::stays_at_venue`].
    fn stays_overlapping(
        &self,
        venue: &VenueId,
        from: Timestamp,
        until: Timestamp,
        rules: Arc<RuleSet>,
    ) -> impl Future<Output = Result<Vec<Stay>>> + Send {
        let venue = venue.clone();
        async move {
            let rows = self
                .stays_at_venue(&venue, from, until, rules.longest_stay())
                .await?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let person = r.evidence.subject?;
                    let (entered, left) = mingma_core::stay(&rules, &r.evidence)?;
                    (entered < until && from < left).then_some(Stay {
                        person,
                        leaf: r.leaf,
                        entered,
                        left,
                    })
                })
                .collect())
        }
    }

    /// Scans by `person` entered in `[from, until)`, in entry order.
    fn scans_of_person(
        &self,
        person: PersonKey,
        from: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;

    /// People with a scan at one of `venues` entered in `[from, until)`, each once,
    /// in the store's own order of people (both stores: of the id each person was
    /// given when first recorded). Their evidence is read fastest in that order, so
    /// a caller re-deriving them keeps it.
    fn persons_at_venues(
        &self,
        venues: &[VenueId],
        from: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Vec<PersonKey>>> + Send;

    /// People with a scan at a venue inside `division` entered in `[from, until)`,
    /// each once, in the order of [`Store::persons_at_venues`].
    fn persons_in_division(
        &self,
        division: Jurisdiction,
        from: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Vec<PersonKey>>> + Send;

    /// Records these code changes (each made from a `Decision` by
    /// [`CodeChange::from_decision`], so that no colour is set: a caller derives,
    /// converts and drops its decisions where it derived them) as one ledger leaf
    /// committing to the batch, and updates the code states, in one transaction.
    /// Only a person's first change counts; a change that says the same as the
    /// stored state ([`CodeChange::same_code`]) is skipped (so re-deriving is
    /// idempotent). Returns the batch leaf and how many codes changed, by colour, or
    /// `None` if nothing changed. `reflects` is the ledger size whose evidence the
    /// decisions considered; a change reflecting another size is refused (nothing
    /// is recorded).
    fn record_code_changes(
        &self,
        changes: Vec<CodeChange>,
        reflects: u64,
    ) -> impl Future<Output = Result<Option<RecordedBatch>>> + Send;

    /// The leaves of the records about nobody (risk areas, the acts on them) whose
    /// re-derivation is pending, ascending. Appending such a record marks it pending
    /// in the same transaction; [`Store::derivations_done`] unmarks it once the codes
    /// it can change are re-derived. So a re-derivation cut off by a crash or a
    /// restart is found again here (`Engine::catch_up`).
    fn pending_derivations(&self) -> impl Future<Output = Result<Vec<u64>>> + Send;

    /// Marks the re-derivations of the records at `leaves` done (a leaf that is
    /// not pending is passed over).
    fn derivations_done(&self, leaves: Vec<u64>) -> impl Future<Output = Result<()>> + Send;

    /// The stored code state of `person`.
    fn code_state(
        &self,
        person: PersonKey,
    ) -> impl Future<Output = Result<Option<CodeState>>> + Send;

    /// People whose stored code says it will change by itself at or before `now`:
    /// the work of the scheduler.
    fn codes_due(&self, now: Timestamp) -> impl Future<Output = Result<Vec<PersonKey>>> + Send;

    /// Every stored code state, in person-key order (for verification).
    fn code_states(&self) -> impl Future<Output = Result<Vec<CodeState>>> + Send;

    /// The changes recorded in the batch at `leaf`, in batch order.
    fn code_change_batch(&self, leaf: u64) -> impl Future<Output = Result<Vec<CodeState>>> + Send;

    /// Every code change recorded for `person`, oldest first (by batch leaf, then
    /// position): a holder's code history, found by person.
    fn code_changes_of(
        &self,
        person: PersonKey,
    ) -> impl Future<Output = Result<Vec<CodeState>>> + Send;

    /// Number of leaves in the ledger.
    fn ledger_size(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Leaves `[from, from + limit)`, as far as they exist: the event sequence.
    fn leaves(&self, from: u64, limit: u64)
        -> impl Future<Output = Result<Vec<StoredLeaf>>> + Send;

    /// Stored hashes of perfect subtrees of `2^level` leaves (`level >= 1`), by index
    /// from `from`, at most `limit`: for verification of the served tree.
    fn nodes(
        &self,
        level: u32,
        from: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<(u64, Hash)>>> + Send;

    /// Root of the first `size` leaves.
    fn root(&self, size: u64) -> impl Future<Output = Result<Hash>> + Send;

    /// RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
    fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> impl Future<Output = Result<Vec<Hash>>> + Send;

    /// RFC 9162 consistency proof between trees of `size1` and `size2` leaves.
    fn consistency_proof(
        &self,
        size1: u64,
        size2: u64,
    ) -> impl Future<Output = Result<Vec<Hash>>> + Send;

    /// Stores a signed checkpoint, after checking that its size (at least 1) and root
    /// are the log's. One checkpoint per size is kept: a second one for a size already
    /// checkpointed is accepted and not stored (read `checkpoints` to see which is).
    fn add_checkpoint(
        &self,
        checkpoint: StoredCheckpoint,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Every stored checkpoint, by size.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<StoredCheckpoint>>> + Send;

    /// Deletes scans entered before `before`, except those that live evidence refers
    /// to, and records a purge leaf listing their leaves, in one transaction.
    fn purge_scans(&self, before: Timestamp) -> impl Future<Output = Result<PurgeReport>> + Send;

    /// Appends an authority act (see [`LedgerEntry::Act`]) as one leaf and returns
    /// its index. The store does not read the act; `mingma-authority` checks it
    /// before and replays it after.
    fn append_act(&self, act: Vec<u8>) -> impl Future<Output = Result<u64>> + Send;

    /// Appends an appeal step (see [`LedgerEntry::Appeal`]) as one leaf and returns
    /// its index. The store does not read it.
    fn append_appeal(&self, step: Vec<u8>) -> impl Future<Output = Result<u64>> + Send;

    /// The authority acts with a leaf `>= from`, in leaf order: (leaf, act bytes).
    fn acts(&self, from: u64) -> impl Future<Output = Result<Vec<(u64, Vec<u8>)>>> + Send;
}
