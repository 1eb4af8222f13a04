//! Mingma's derivation engine: the only writer of code states.
//!
//! It reads a person's evidence from the [`Store`], derives their code with
//! `mingma_core::derive` under the published rule set, and records the changes —
//! the code states and one ledger leaf per batch — in one transaction.
//!
//! It also runs what happens with nobody writing evidence:
//! - the **scheduler**: when a period ends (7 days of quarantine, say) a code changes
//!   by itself; the engine finds the codes whose stored next change has fallen due and
//!   re-derives them. Recording is idempotent on person and decision, so a pass that
//!   runs twice, late, or again after a crash records each change exactly once;
//! - the **retention purge**: scans older than the window (21 days by default) are
//!   deleted with a logged purge.
//!
//! Only records that count are derived from: a record whose recorder must sign (an
//! official, a data source) counts only with a valid seal by a key that the ledger's
//! authority acts registered to that recorder ([`mingma_authority::Vouching`]). The
//! engine follows those acts ([`Engine::registry`]) before every re-derivation.
//!
//! # What this crate must never do
//! Set a colour any other way than by recording what `derive` decided; derive from a
//! record whose seal it has not checked.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use std::collections::{BTreeMap, HashSet};

use mingma_authority::{Registry, Vouching};
use mingma_core::{
    derive, derive_brief, stay, Decision, Evidence, EvidenceBody, Jurisdiction, PersonKey,
    RecordId, RiskAreaScope, RuleSet, Span, Timestamp, VenueId,
};
use mingma_store::{CodeChange, DerivationInputs, PurgeReport, Result, Store, StoreError, Vouch};

/// Where "now" comes from: the system clock in service, a controlled one in tests.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        // Outside 2000-2099 the clock is wrong; derivation then runs at the bound.
        Timestamp::clamped_unix_seconds(seconds)
    }
}

/// People whose evidence is read (and derived) at a time, by default.
const DERIVATION_CHUNK: usize = 8_192;

/// How many chunks are read and derived at once by default: one per core and one
/// more, so that while one lane waits for its read another derives.
fn default_lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8)) + 1
}

fn joined(e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend(format!("a derivation task failed: {e}"))
}

/// What a re-derivation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rederived {
    /// People whose code was derived.
    pub derived: usize,
    /// The ledger leaf of the recorded batch, if any code changed.
    pub batch: Option<u64>,
    /// How many codes changed, by new colour: green, yellow, red.
    pub changed: [usize; 3],
}

/// One overlap of a contact's stay with a case's, at one venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// Where.
    pub venue: VenueId,
    /// The case's scan.
    pub case_scan: RecordId,
    /// The ledger leaf of the contact's scan (`Store::records_from(leaf, 1)` reads
    /// it).
    pub contact_leaf: u64,
    /// When the two stays (the case's widened by the margin) overlapped:
    /// `[from, until)`.
    pub from: Timestamp,
    /// End of the overlap.
    pub until: Timestamp,
}

/// A person whose stay overlapped a case's stay at the same venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Who.
    pub person: PersonKey,
    /// Every overlap, in the order of the case's stays.
    pub overlaps: Vec<Overlap>,
}

/// The registry the ledger's authority acts make, followed act by act.
#[derive(Default)]
struct Followed {
    registry: std::sync::RwLock<Arc<Registry>>,
    /// Serialises catching up, so acts are applied once and in order.
    catching_up: tokio::sync::Mutex<()>,
    vouching: Vouching,
}

/// The store's [`Vouch`]: the engine's seal checks, for `mingma_store::verify`.
pub struct SealCheck<'a>(&'a Vouching);

impl<'a> SealCheck<'a> {
    /// Seal checks by `vouching`.
    pub fn new(vouching: &'a Vouching) -> Self {
        SealCheck(vouching)
    }
}

impl Vouch for SealCheck<'_> {
    fn vouch(&self, record: &Evidence) -> std::result::Result<(), String> {
        self.0.check(record).map_err(|e| e.to_string())
    }
}

/// Whether only `record`'s subject's code can change by it: it is not a risk area
/// and acts on no other record (see [`Engine::affected_by_record`]).
pub fn changes_its_subject_only(record: &Evidence) -> bool {
    !matches!(
        record.body,
        EvidenceBody::RiskArea { .. }
            | EvidenceBody::Retraction { .. }
            | EvidenceBody::Approval { .. }
            | EvidenceBody::Rejection { .. }
    )
}

/// The derivation engine over a store.
#[derive(Clone)]
pub struct Engine<S> {
    store: S,
    rules: Arc<RuleSet>,
    followed: Arc<Followed>,
    /// People read and derived at a time.
    chunk: usize,
    /// Chunks read and derived at once.
    lanes: usize,
}

impl<S: Store> Engine<S> {
    /// An engine deriving under `rules`. It reads the store's authority acts before
    /// its first derivation.
    pub fn new(store: S, rules: RuleSet) -> Self {
        Self {
            store,
            rules: Arc::new(rules),
            followed: Arc::default(),
            chunk: DERIVATION_CHUNK,
            lanes: default_lanes(),
        }
    }

    /// The same engine reading and deriving `people` at a time (at least one;
    /// 8,192 by default) in up to `lanes` chunks at once (at least one; by default
    /// one more than the cores). A re-derivation records the same changes whatever
    /// these are; they trade memory and cores against time.
    pub fn with_chunks(mut self, people: usize, lanes: usize) -> Self {
        self.chunk = people.max(1);
        self.lanes = lanes.max(1);
        self
    }

    /// The registry as of the latest authority act in the store (catching up first).
    ///
    /// Looking needs no lock: every caller reads the acts after the registry it
    /// holds, and only one applying new ones takes the lock (so a caller at the
    /// lowest priority never holds up the others while it only looks).
    pub async fn registry(&self) -> Result<Arc<Registry>> {
        let seen = self.registry_now();
        let from = seen.last_leaf.map_or(0, |l| l + 1);
        let acts = self.store.acts(from).await?;
        if acts.is_empty() {
            return Ok(seen);
        }
        let _one = self.followed.catching_up.lock().await;
        // Another caller may have applied some or all of them meanwhile.
        let current = self.registry_now();
        let next_leaf = current.last_leaf.map_or(0, |l| l + 1);
        if next_leaf > from {
            let acts = self.store.acts(next_leaf).await?;
            if acts.is_empty() {
                return Ok(current);
            }
            return self.apply_acts(current, acts);
        }
        self.apply_acts(current, acts)
    }

    /// `current` with `acts` applied, made the engine's registry (under the
    /// catching-up lock).
    fn apply_acts(
        &self,
        current: Arc<Registry>,
        acts: Vec<(u64, Vec<u8>)>,
    ) -> Result<Arc<Registry>> {
        let mut next = (*current).clone();
        for (leaf, bytes) in acts {
            next.apply_bytes(leaf, &bytes);
        }
        self.followed.vouching.set_keys(next.keys.clone());
        let next = Arc::new(next);
        if let Ok(mut registry) = self.followed.registry.write() {
            *registry = next.clone();
        }
        Ok(next)
    }

    /// The registry as last caught up (without reading the store).
    pub fn registry_now(&self) -> Arc<Registry> {
        self.followed
            .registry
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The seal checks derivation applies.
    pub fn vouching(&self) -> &Vouching {
        &self.followed.vouching
    }

    /// The seal checks as the store's verification asks them.
    pub fn seal_check(&self) -> SealCheck<'_> {
        SealCheck(&self.followed.vouching)
    }

    /// Derives `person`'s code from `records` as the engine does: without the records
    /// that do not count (see [`Vouching`]).
    pub fn derive<'a, I>(
        &self,
        records: I,
        person: &PersonKey,
        valid_at: Timestamp,
        known_at: Timestamp,
    ) -> Decision
    where
        I: IntoIterator<Item = &'a Evidence>,
        I::IntoIter: Clone,
    {
        let vouching = &self.followed.vouching;
        derive(
            records.into_iter().filter(|r| vouching.counts(r)),
            person,
            valid_at,
            known_at,
            &self.rules,
        )
    }

    /// The records `person`'s code is derived from now, as [`Engine::rederive`]
    /// derives it: what `Store::evidence_for_derivation` reads for them (without the
    /// scans that cannot matter), less the records that do not count. In ledger
    /// order within the shared records and within the person's own.
    pub async fn records_for(&self, person: PersonKey) -> Result<Vec<Evidence>> {
        self.registry().await?;
        let inputs = self
            .store
            .evidence_for_derivation(vec![person], self.rules.clone(), u64::MAX)
            .await?;
        let vouching = &self.followed.vouching;
        Ok(inputs
            .records_of(0)
            .filter(|r| vouching.counts(r))
            .cloned()
            .collect())
    }

    /// Whether anything `person`'s derivation reads under this engine's rules was
    /// appended at or above leaf `since` ([`Store::derivation_changed_since`]): if
    /// not, a decision derived from the records read below `since` is still theirs
    /// (at any time, given no new authority act).
    pub async fn changed_since(&self, person: PersonKey, since: u64) -> Result<bool> {
        self.store
            .derivation_changed_since(person, self.rules.clone(), since)
            .await
    }

    /// Who the records appended at or above leaf `since` concern under this
    /// engine's rules ([`Store::appended_since`]).
    pub async fn appended_since(&self, since: u64) -> Result<mingma_store::AppendedSince> {
        self.store.appended_since(since, self.rules.clone()).await
    }

    /// Whether a scan at `venue` in `street` entered at `entered` may change any
    /// derivation: `mingma_core::scan_may_matter` against every risk area the store
    /// holds (counting or not, approved or not: it may say yes needlessly, never no
    /// wrongly). A scan for which this is false leaves its holder's code as it was.
    pub async fn scan_may_matter(
        &self,
        venue: &VenueId,
        street: Jurisdiction,
        entered: Timestamp,
    ) -> Result<bool> {
        if !self.rules.scans_matter_only_in_risk_areas() {
            return Ok(true);
        }
        let shared = self.store.records_about_nobody().await?;
        Ok(mingma_core::scan_may_matter(
            &self.rules,
            shared.iter(),
            venue,
            street,
            entered,
        ))
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The rule set.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Re-derives the codes of `persons` as valid and known at `now`, and records
    /// those that changed as one batch.
    ///
    /// Evidence is read in chunks of one `Store::derivation_reading` (without the
    /// scans that cannot matter, see `Store::evidence_for_derivation`; a store may
    /// read ahead, once, what the chunks would each read), each chunk derived on a blocking thread
    /// once read, and several chunks are in flight at once (see
    /// [`Engine::with_chunks`]), so reading and deriving use every core. Each
    /// decision is turned into its code change ([`CodeChange::from_decision`]) and
    /// dropped on the thread that derived it, so the writer, which runs after the
    /// last chunk, only compares and writes. The changes are recorded in the order
    /// of `persons`, whatever order the chunks finish in; the store counts them by
    /// colour as it records them.
    pub async fn rederive(&self, persons: &[PersonKey], now: Timestamp) -> Result<Rederived> {
        // Evidence appended after this point is not reflected; the batch says so.
        let reflects = self.store.ledger_size().await?;
        self.registry().await?;
        let everyone: Arc<[PersonKey]> = persons.into();
        let reading = Arc::new(
            self.store
                .derivation_reading(everyone.clone(), self.rules.clone(), reflects)
                .await?,
        );
        let chunks: Vec<std::ops::Range<usize>> = (0..persons.len())
            .step_by(self.chunk)
            .map(|start| start..(start + self.chunk).min(persons.len()))
            .collect();
        let mut derived: Vec<Option<Vec<CodeChange>>> = (0..chunks.len()).map(|_| None).collect();
        // Dropped on an early return: the chunks still in flight are aborted.
        let mut running = tokio::task::JoinSet::new();
        let finished = |done: Option<std::result::Result<Result<_>, tokio::task::JoinError>>,
                        derived: &mut Vec<Option<Vec<CodeChange>>>|
         -> Result<()> {
            if let Some(done) = done {
                let (i, decisions) = done.map_err(joined)??;
                if let Some(slot) = derived.get_mut(i) {
                    *slot = Some(decisions);
                }
            }
            Ok(())
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            if running.len() >= self.lanes {
                finished(running.join_next().await, &mut derived)?;
            }
            let engine = self.clone();
            let (everyone, reading) = (everyone.clone(), reading.clone());
            running.spawn(async move {
                let evidence = engine
                    .store
                    .evidence_for_chunk(reading, chunk.clone())
                    .await?;
                let changes = tokio::task::spawn_blocking(move || {
                    engine
                        .derive_chunk(&everyone[chunk], &evidence, now)
                        .into_iter()
                        .map(|decision| CodeChange::from_decision(decision, reflects))
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(joined)?;
                Ok((i, changes))
            });
        }
        while !running.is_empty() {
            finished(running.join_next().await, &mut derived)?;
        }
        let mut changes = Vec::with_capacity(persons.len());
        for chunk in derived {
            let chunk = chunk
                .ok_or_else(|| StoreError::Backend("a derivation chunk was not derived".into()))?;
            changes.extend(chunk);
        }
        if changes.is_empty() {
            return Ok(Rederived::default());
        }
        let batch = self.store.record_code_changes(changes, reflects).await?;
        Ok(Rederived {
            derived: persons.len(),
            batch: batch.map(|b| b.leaf),
            changed: batch.map_or([0; 3], |b| b.changed),
        })
    }

    /// The decisions for `people` from the evidence read for them, valid and known
    /// at `now`, each derived from the records that count.
    fn derive_chunk(
        &self,
        people: &[PersonKey],
        evidence: &DerivationInputs,
        now: Timestamp,
    ) -> Vec<Decision> {
        let vouching = self.vouching();
        // The shared records a person needs (risk areas and acts on them) are
        // checked once per chunk, not once per person.
        let mut counts = vec![false; evidence.shared.len()];
        let mut needed = vec![false; evidence.shared.len()];
        for s in evidence.shared_of.iter().flatten() {
            if let Some(n) = needed.get_mut(*s) {
                *n = true;
            }
        }
        for (i, record) in evidence.shared.iter().enumerate() {
            if needed[i] {
                counts[i] = vouching.counts(record);
            }
        }
        people
            .iter()
            .enumerate()
            .map(|(i, person)| {
                let shared = evidence
                    .shared_of
                    .get(i)
                    .into_iter()
                    .flatten()
                    .filter(|s| counts.get(**s).copied().unwrap_or(false))
                    .filter_map(|s| evidence.shared.get(*s));
                let own = evidence
                    .own
                    .get(i)
                    .into_iter()
                    .flatten()
                    .filter(|r| vouching.counts(r));
                derive_brief(shared.chain(own), person, now, now, &self.rules)
            })
            .collect()
    }

    /// The people whose code a risk-area declaration — or lifting or shortening it —
    /// can change: everyone with a scan entered in the area during its window, or up
    /// to the longest counted stay before it opened. Anything else is not a risk area
    /// and affects nobody here. Each person once, in the store's order of people
    /// (`Store::persons_in_division`), which [`Engine::rederive`] reads fastest; for
    /// several divisions, division by division.
    pub async fn affected_by(&self, declaration: &Evidence) -> Result<Vec<PersonKey>> {
        let EvidenceBody::RiskArea {
            area, from, until, ..
        } = &declaration.body
        else {
            return Ok(Vec::new());
        };
        let from = from.minus(self.rules.longest_stay());
        match area {
            RiskAreaScope::Venues(venues) => {
                self.store.persons_at_venues(venues, from, *until).await
            }
            RiskAreaScope::Divisions(divisions) => {
                // One division (the usual case) is answered as the store gives it;
                // several are merged, each person kept where first found.
                if let [division] = divisions.as_slice() {
                    return self
                        .store
                        .persons_in_division(*division, from, *until)
                        .await;
                }
                let mut persons = Vec::new();
                let mut seen = HashSet::new();
                for division in divisions {
                    let found = self
                        .store
                        .persons_in_division(*division, from, *until)
                        .await?;
                    persons.extend(found.into_iter().filter(|p| seen.insert(*p)));
                }
                Ok(persons)
            }
        }
    }

    /// Whose code `record` can change: its subject; for an act on a record (a
    /// retraction, an approval, a rejection), that record's; for a risk area or an
    /// act on one, everyone [`Engine::affected_by`] it.
    pub async fn affected_by_record(&self, record: &Evidence) -> Result<Vec<PersonKey>> {
        if changes_its_subject_only(record) {
            return Ok(record.subject.into_iter().collect());
        }
        let target = match &record.body {
            EvidenceBody::Retraction { target, .. }
            | EvidenceBody::Approval { target }
            | EvidenceBody::Rejection { target, .. } => {
                self.store.record(target).await?.map(|r| r.evidence)
            }
            _ => return self.affected_by(record).await,
        };
        match target {
            Some(area) if matches!(area.body, EvidenceBody::RiskArea { .. }) => {
                self.affected_by(&area).await
            }
            target => Ok(record
                .subject
                .or_else(|| target.and_then(|t| t.subject))
                .into_iter()
                .collect()),
        }
    }

    /// Re-derives the codes the records about nobody still pending can change
    /// ([`Store::pending_derivations`]: risk areas and the acts on them whose
    /// re-derivation was cut off, by a crash or a restart, or never run, as after
    /// an import), valid and known at `now`, then marks them done. The server runs
    /// it at start.
    pub async fn catch_up(&self, now: Timestamp) -> Result<Rederived> {
        let pending = self.store.pending_derivations().await?;
        if pending.is_empty() {
            return Ok(Rederived::default());
        }
        let mut persons = Vec::new();
        let mut seen = HashSet::new();
        for leaf in &pending {
            let stored = self.store.records_from(*leaf, 1).await?;
            for stored in stored.into_iter().filter(|s| s.leaf == *leaf) {
                let found = self.affected_by_record(&stored.evidence).await?;
                persons.extend(found.into_iter().filter(|p| seen.insert(*p)));
            }
        }
        let derived = self.rederive(&persons, now).await?;
        self.store.derivations_done(pending).await?;
        Ok(derived)
    }

    /// [`Engine::rederive`] of `everyone` — every person the store knows, as a
    /// demo or a benchmark derives every code after seeding — which also marks every
    /// pending re-derivation ([`Engine::catch_up`]) done: deriving every code covers
    /// them all.
    pub async fn rederive_everyone(
        &self,
        everyone: &[PersonKey],
        now: Timestamp,
    ) -> Result<Rederived> {
        let pending = self.store.pending_derivations().await?;
        let derived = self.rederive(everyone, now).await?;
        self.store.derivations_done(pending).await?;
        Ok(derived)
    }

    /// Contact tracing: the people whose stay at a venue overlapped one of `case`'s
    /// stays there, the case's stay widened by `margin` on both sides, for the case's
    /// stays overlapping `[from, until)` (the infectious window). Stays are as
    /// derivation counts them (`mingma_core::stay`). Ordered by person key.
    pub async fn trace(
        &self,
        case: PersonKey,
        from: Timestamp,
        until: Timestamp,
        margin: Span,
    ) -> Result<Vec<Contact>> {
        let longest = self.rules.longest_stay();
        let mut contacts: BTreeMap<PersonKey, Vec<Overlap>> = BTreeMap::new();
        for case_scan in self
            .store
            .scans_of_person(case, from.minus(longest), until)
            .await?
        {
            let Some((entered, left)) = stay(&self.rules, &case_scan.evidence) else {
                continue;
            };
            let EvidenceBody::VenueScan { venue, .. } = &case_scan.evidence.body else {
                continue;
            };
            if !(entered < until && from < left) {
                continue;
            }
            let (near_from, near_until) = (entered.minus(margin), left.plus(margin));
            for other in self
                .store
                .stays_overlapping(venue, near_from, near_until, self.rules.clone())
                .await?
            {
                if other.person == case {
                    continue;
                }
                let (overlap_from, overlap_until) =
                    (other.entered.max(near_from), other.left.min(near_until));
                if overlap_from < overlap_until {
                    contacts.entry(other.person).or_default().push(Overlap {
                        venue: venue.clone(),
                        case_scan: case_scan.evidence.id.clone(),
                        contact_leaf: other.leaf,
                        from: overlap_from,
                        until: overlap_until,
                    });
                }
            }
        }
        Ok(contacts
            .into_iter()
            .map(|(person, overlaps)| Contact { person, overlaps })
            .collect())
    }

    /// One scheduler pass: re-derives every code whose next change is due at `now`.
    pub async fn run_due(&self, now: Timestamp) -> Result<Rederived> {
        let due = self.store.codes_due(now).await?;
        if due.is_empty() {
            return Ok(Rederived::default());
        }
        self.rederive(&due, now).await
    }

    /// Purges scans entered more than `retention` before `now`.
    pub async fn purge(&self, now: Timestamp, retention: Span) -> Result<PurgeReport> {
        self.store.purge_scans(now.minus(retention)).await
    }

    /// Runs the scheduler and the retention purge every `every`, until the task is
    /// dropped or aborted. Failures are logged and retried on the next tick.
    pub async fn run_background(self, clock: impl Clock, every: Duration, retention: Span) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = clock.now();
            match self.run_due(now).await {
                Ok(done) if done.batch.is_some() => tracing::info!(
                    changed = ?done.changed,
                    batch = ?done.batch,
                    "scheduled code changes recorded"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler pass failed"),
            }
            match self.purge(now, retention).await {
                Ok(report) if report.leaf.is_some() => tracing::info!(
                    removed = report.removed.len(),
                    kept = report.kept_referenced,
                    "retention purge recorded"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention purge failed"),
            }
        }
    }
}
