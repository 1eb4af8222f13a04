//! Derivation: the colour valid at one moment, given what was recorded up to another.
//!
//! `derive` is pure and deterministic. It looks only at records recorded at or before
//! `known_at`; it drops retracted records and manual records that need and lack a
//! second official's approval; then every rule turns matching records into periods,
//! and the colour at `valid_at` is the most severe period in force. The same periods
//! give the time the colour took effect (赋码时间) and the next time it will change by
//! itself.

use std::collections::BTreeMap;

use serde::Serialize;
use smol_str::SmolStr;

use crate::division::Jurisdiction;
use crate::evidence::{Evidence, EvidenceBody, EvidenceKind, TestMethod, TestOutcome};
use crate::identity::PersonKey;
use crate::ids::{AuthorityId, RecordId, VenueId};
use crate::reason::ReasonText;
use crate::rules::{Clearance, Colour, Condition, Rule, RuleSet, Trigger};
use crate::time::{Span, Timestamp};

/// The derived code of one person at one moment, with everything needed to explain it.
///
/// Only [`derive`] makes one (`non_exhaustive` forbids building it elsewhere), so a
/// code state built from a `Decision` is always the output of the rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    /// Whose code.
    pub subject: PersonKey,
    /// The colour.
    pub colour: Colour,
    /// The moment the code is valid at.
    pub valid_at: Timestamp,
    /// Only records recorded at or before this moment were considered.
    pub known_at: Timestamp,
    /// The rule set applied.
    pub rule_set: RuleSetVersion,
    /// Every rule period in force at `valid_at`, most severe first ([`derive_brief`]
    /// lists only the first).
    pub fired: Vec<FiredRule>,
    /// The records behind the colour: those of the fired rules of the decisive colour.
    pub decisive_evidence: Vec<RecordId>,
    /// The authorities owning the decisive records (赋码来源), most decisive first.
    pub owners: Vec<AuthorityId>,
    /// When the current colour took effect (赋码时间); `None` if it always held.
    pub since: Option<Timestamp>,
    /// The next change that will happen by itself, on the evidence known now.
    pub next_change: Option<NextChange>,
}

impl Decision {
    /// A copy listing only the first rule period in force, as [`derive_brief`]
    /// makes it: what a code change keeps, without copying every period.
    pub fn brief(&self) -> Decision {
        Decision {
            subject: self.subject,
            colour: self.colour,
            valid_at: self.valid_at,
            known_at: self.known_at,
            rule_set: self.rule_set.clone(),
            fired: self.fired.iter().take(1).cloned().collect(),
            decisive_evidence: self.decisive_evidence.clone(),
            owners: self.owners.clone(),
            since: self.since,
            next_change: self.next_change,
        }
    }
}

/// The id and version of a rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSetVersion {
    /// Rule set id.
    pub id: SmolStr,
    /// Rule set version.
    pub version: SmolStr,
}

/// One period of one rule, in force at the decision's `valid_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FiredRule {
    /// Rule id.
    pub rule: SmolStr,
    /// The rule set version the rule belongs to.
    pub version: SmolStr,
    /// The rule's colour.
    pub colour: Colour,
    /// The rule's reason, in both languages.
    pub reason: ReasonText,
    /// The records the period rests on, the triggering record first.
    pub evidence: Vec<RecordId>,
    /// The authority owning the decisive record of this period.
    pub owner: Option<AuthorityId>,
    /// When the period began.
    pub from: Timestamp,
    /// When it ends on its own, as far as is known (`None`: until ended by evidence).
    pub until: Option<Timestamp>,
}

/// A change of colour that will happen without new evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NextChange {
    /// When.
    pub at: Timestamp,
    /// To which colour.
    pub colour: Colour,
}

/// Why a record does not count in a derivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RecordStatus {
    /// It counts.
    Counted,
    /// It was recorded after `known_at`.
    NotYetKnown,
    /// A retraction in force removed it.
    Retracted {
        /// The retraction.
        by: RecordId,
    },
    /// It needs a second official's approval and has none.
    AwaitingApproval,
    /// A second official rejected it.
    Rejected {
        /// The rejection.
        by: RecordId,
    },
    /// Another record with the same id was chosen.
    Duplicate,
    /// A venue scan recorded without an exit, completed by a later record of the same
    /// stay that carries the exit (the "leave" of a check-in): that one counts.
    Superseded {
        /// The record with the exit.
        by: RecordId,
    },
}

/// Which records count, as known at one moment.
///
/// One entry per record id given, sorted by id: a derivation sees a few dozen
/// records, and a sorted vector built once and searched by halves costs a fraction
/// of a map's allocations and comparisons. Each entry carries its id's [`IdKey`], so
/// sorting and searching compare integers and look at the text only when two ids
/// share their first 16 bytes.
struct Ledger<'a> {
    entries: Vec<Known<'a>>,
}

/// A record id given to a [`Ledger`]: the record kept for it (none if every copy was
/// recorded after `known_at`) and its status.
struct Known<'a> {
    key: IdKey,
    id: &'a RecordId,
    record: Option<&'a Evidence>,
    status: RecordStatus,
}

/// The first 16 bytes of a record id, zero-padded, read as a big-endian integer.
///
/// Comparing keys orders ids as comparing their text does whenever the keys differ:
/// the first byte where two keys differ is either a byte of both ids, or the end of
/// the shorter id (a padding zero) against a non-zero byte of the longer, which the
/// text also orders shorter first. Equal keys say nothing, and the ids are then
/// compared in full ([`IdKey::cmp_ids`]). Ids such as `s013-00328940` share long
/// prefixes, and sorting and searching them as text was a large part of a
/// derivation's time (a call to `memcmp` per comparison).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IdKey(u128);

impl IdKey {
    fn of(id: &RecordId) -> Self {
        let text = id.as_str().as_bytes();
        if let Some(first) = text.first_chunk::<16>() {
            return Self(u128::from_be_bytes(*first));
        }
        // Shorter ids are built from fixed-size reads: copying a variable length
        // into a buffer is a call to `memcpy`, which cost more than the rest.
        let n = text.len();
        if let (Some(first), Some(last)) = (text.first_chunk::<8>(), text.last_chunk::<8>()) {
            // `last` holds bytes n-8..n: shifting out the n-8 bytes that `first` also
            // holds leaves bytes 8..n at the top, zeros below.
            let high = u64::from_be_bytes(*first);
            let low = u64::from_be_bytes(*last).checked_shl(8 * (16 - n as u32));
            return Self(u128::from(high) << 64 | u128::from(low.unwrap_or(0)));
        }
        let mut key = 0u64;
        for (i, b) in text.iter().enumerate() {
            key |= u64::from(*b) << (8 * (7 - i));
        }
        Self(u128::from(key) << 64)
    }

    /// The order of two ids, given their keys: that of their text.
    fn cmp_ids(self, a: &RecordId, other: Self, b: &RecordId) -> std::cmp::Ordering {
        self.cmp(&other).then_with(|| a.cmp(b))
    }
}

impl<'a> Ledger<'a> {
    fn new(records: impl IntoIterator<Item = &'a Evidence>, known_at: Timestamp) -> Self {
        let mut given: Vec<(IdKey, &'a Evidence)> =
            records.into_iter().map(|r| (IdKey::of(&r.id), r)).collect();
        given.sort_unstable_by(|(ka, a), (kb, b)| ka.cmp_ids(&a.id, *kb, &b.id));
        let mut entries = Vec::with_capacity(given.len());
        for copies in given.chunk_by(|(ka, a), (kb, b)| ka == kb && a.id == b.id) {
            // One record per id, chosen without regard to input order.
            let mut kept: Option<&'a Evidence> = None;
            for (_, record) in copies.iter().copied() {
                if record.recorded_at > known_at {
                    continue;
                }
                match kept {
                    Some(k) if precedence(k) <= precedence(record) => {}
                    _ => kept = Some(record),
                }
            }
            let (key, first) = copies[0];
            entries.push(Known {
                key,
                id: &first.id,
                record: kept,
                status: match kept {
                    Some(_) => RecordStatus::Counted,
                    None => RecordStatus::NotYetKnown,
                },
            });
        }
        let mut ledger = Self { entries };
        ledger.apply_acts();
        ledger.apply_exits();
        ledger
    }

    /// The entry of `id`, if it was given.
    fn find(&self, id: &RecordId) -> Option<usize> {
        let key = IdKey::of(id);
        self.entries
            .binary_search_by(|e| e.key.cmp_ids(e.id, key, id))
            .ok()
    }

    /// The record kept for `id`, counted or not.
    fn record(&self, id: &RecordId) -> Option<&'a Evidence> {
        self.find(id).and_then(|i| self.entries[i].record)
    }

    /// The records kept, with their ids, in id order.
    fn kept(&self) -> impl Iterator<Item = (&'a RecordId, &'a Evidence)> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.record.map(|r| (e.id, r)))
    }

    /// The counted records, with their ids, in id order.
    fn counted(&self) -> impl Iterator<Item = (&'a RecordId, &'a Evidence)> + '_ {
        self.entries
            .iter()
            .filter(|e| matches!(e.status, RecordStatus::Counted))
            .filter_map(|e| e.record.map(|r| (e.id, r)))
    }

    /// Sets the status of `id`, which must have a record kept.
    fn set_status(&mut self, id: &RecordId, status: RecordStatus) {
        if let Some(i) = self.find(id) {
            self.entries[i].status = status;
        }
    }

    /// A venue scan without an exit is completed by a counted record of the same
    /// stay with its exit: same subject, recorder, venue (street and kind),
    /// presence and entry time, and an exit after the entry. The open scan is then
    /// `Superseded` by the first such record by id, whatever the input order. An
    /// exit is recorded when the person leaves, so it can only shorten the assumed
    /// stay of a scan that is still running, never move an entry or upgrade its
    /// presence.
    fn apply_exits(&mut self) {
        // Most people have no scan without an exit (or no scan at all): nothing to do.
        let open = |(_, r): &(&RecordId, &Evidence)| {
            matches!(&r.body, EvidenceBody::VenueScan { left_at: None, .. })
        };
        if !self.kept().any(|k| open(&k)) {
            return;
        }
        // The entry time first: two different stays mostly differ there, so most
        // comparisons end on an integer.
        type Stay<'r> = (
            Timestamp,
            Option<PersonKey>,
            &'r crate::evidence::Recorder,
            &'r VenueId,
            Jurisdiction,
            crate::evidence::VenueKind,
            crate::evidence::Presence,
        );
        let stay_of = |r: &'a Evidence| -> Option<(Stay<'a>, Option<Timestamp>)> {
            match &r.body {
                EvidenceBody::VenueScan {
                    venue,
                    street,
                    venue_kind,
                    left_at,
                    presence,
                } => Some((
                    (
                        r.effective_at,
                        r.subject,
                        &r.recorded_by,
                        venue,
                        *street,
                        *venue_kind,
                        *presence,
                    ),
                    *left_at,
                )),
                _ => None,
            }
        };
        // The stays completed by a record with an exit, each with the first such
        // record by id: collected in id order, then sorted by stay with a stable sort,
        // so the first of a run of equal stays is the first by id. (A sorted vector
        // searched by halves: a map cost an allocation per node and comparisons of
        // recorders and venues on every step.)
        let mut completed: Vec<(Stay<'a>, &'a RecordId)> = Vec::new();
        for (id, record) in self.counted() {
            if let Some((stay, Some(left))) = stay_of(record) {
                if left > record.effective_at {
                    completed.push((stay, id));
                }
            }
        }
        if completed.is_empty() {
            return;
        }
        completed.sort_by_key(|(stay, _)| *stay);
        let mut superseded = Vec::new();
        for (id, record) in self.counted() {
            if let Some((stay, None)) = stay_of(record) {
                let first = completed.partition_point(|(s, _)| *s < stay);
                if let Some((s, by)) = completed.get(first) {
                    if *s == stay {
                        superseded.push((id, (*by).clone()));
                    }
                }
            }
        }
        for (id, by) in superseded {
            self.set_status(id, RecordStatus::Superseded { by });
        }
    }

    /// Resolves approvals, rejections and retractions.
    ///
    /// Approvals and rejections are final: nothing retracts them (a wrongly approved
    /// record is itself retracted, which is again subject to the two-person rule when
    /// it could raise a colour), and retractions are not retracted (a wrongly retracted
    /// record is recorded again). So there are no cycles: first each record needing
    /// approval takes the first valid decision on it; then every retraction that
    /// counts removes its target, if it came from the target's owning authority.
    fn apply_acts(&mut self) {
        // The first valid decision on each record, by the record's entry (a map keyed
        // by id cost allocations and comparisons of ids).
        let mut first_decision: Vec<Option<&'a Evidence>> = Vec::new();
        for act in self.entries.iter().filter_map(|e| e.record) {
            let target = match &act.body {
                EvidenceBody::Approval { target } | EvidenceBody::Rejection { target, .. } => {
                    target
                }
                _ => continue,
            };
            let Some(t) = self.find(target) else {
                continue;
            };
            let Some(subject) = self.entries[t].record else {
                continue;
            };
            if !is_valid_second_official(act, subject) {
                continue;
            }
            if first_decision.is_empty() {
                first_decision.resize(self.entries.len(), None);
            }
            match first_decision[t] {
                Some(kept) if (kept.recorded_at, &kept.id) <= (act.recorded_at, &act.id) => {}
                _ => first_decision[t] = Some(act),
            }
        }
        for i in 0..self.entries.len() {
            let Some(record) = self.entries[i].record else {
                continue;
            };
            let target = match &record.body {
                EvidenceBody::Retraction { target, .. } => self.record(target),
                _ => None,
            };
            if !record.needs_approval(target) {
                continue;
            }
            let new_status = match first_decision.get(i).copied().flatten() {
                Some(d) if matches!(d.body, EvidenceBody::Approval { .. }) => continue,
                Some(d) => RecordStatus::Rejected { by: d.id.clone() },
                None => RecordStatus::AwaitingApproval,
            };
            self.entries[i].status = new_status;
        }
        for i in 0..self.entries.len() {
            let Some(act) = self.entries[i].record else {
                continue;
            };
            let EvidenceBody::Retraction { target, .. } = &act.body else {
                continue;
            };
            let Some(subject) = self.record(target) else {
                continue;
            };
            let retractable = !matches!(
                subject.kind(),
                EvidenceKind::Retraction | EvidenceKind::Approval | EvidenceKind::Rejection
            );
            if retractable
                && matches!(self.entries[i].status, RecordStatus::Counted)
                && act.authority.is_some()
                && act.authority == subject.authority
            {
                self.retract(target, &act.id);
            }
        }
    }

    fn retract(&mut self, target: &RecordId, by: &RecordId) {
        let Some(i) = self
            .find(target)
            .filter(|i| self.entries[*i].record.is_some())
        else {
            return;
        };
        // The earliest retraction by id is named, whatever the input order.
        let status = &mut self.entries[i].status;
        if !matches!(status, RecordStatus::Retracted { by: earlier } if &*earlier <= by) {
            *status = RecordStatus::Retracted { by: by.clone() };
        }
    }

    /// The counted record of `id`.
    fn get(&self, id: &RecordId) -> Option<&'a Evidence> {
        self.get_entry(id).map(|(_, r)| r)
    }

    /// The counted record of `id`, with its entry.
    fn get_entry(&self, id: &RecordId) -> Option<(Entry, &'a Evidence)> {
        let i = self.find(id)?;
        self.counted_at(Entry(i)).map(|r| (Entry(i), r))
    }

    /// The record of an entry, if it counts.
    fn counted_at(&self, entry: Entry) -> Option<&'a Evidence> {
        let known = &self.entries[entry.0];
        match known.status {
            RecordStatus::Counted => known.record,
            _ => None,
        }
    }

    /// The id of an entry.
    fn id_at(&self, entry: Entry) -> &'a RecordId {
        self.entries[entry.0].id
    }

    /// Counted records about `person`, plus counted records about no one (risk
    /// areas), with their entries, in id order.
    fn about(&self, person: &PersonKey) -> impl Iterator<Item = (Entry, &'a Evidence)> + '_ {
        let person = *person;
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.status, RecordStatus::Counted))
            .filter_map(|(i, e)| e.record.map(|r| (Entry(i), r)))
            .filter(move |(_, r)| r.subject.is_none_or(|s| s == person))
    }
}

/// The position of a record id in a [`Ledger`]. Entries are sorted by id and each
/// id has one, so entries order records exactly as their ids do: periods name the
/// records they rest on by entry, and sorting or comparing them compares integers
/// instead of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry(usize);

/// The counted records about one person (and about no one), grouped by kind, in id
/// order within a kind.
///
/// Every rule fires on one kind of record and is ended by a few kinds: each finds its
/// records as one slice, instead of every rule filtering every record (and collecting
/// a vector of them).
struct ByKind<'a> {
    records: Vec<(Entry, &'a Evidence)>,
    /// Where each kind's records start in `records` (by `EvidenceKind::index`);
    /// the last element is `records.len()`.
    starts: [usize; EvidenceKind::ALL.len() + 1],
}

impl<'a> ByKind<'a> {
    fn new(ledger: &Ledger<'a>, person: &PersonKey) -> Self {
        // A counting sort: count each kind, then put each record at its kind's next
        // place, so ids stay in order within a kind, without comparing anything.
        let mut starts = [0; EvidenceKind::ALL.len() + 1];
        for (_, r) in ledger.about(person) {
            starts[r.kind().index() + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let Some(first) = ledger.about(person).next() else {
            return Self {
                records: Vec::new(),
                starts,
            };
        };
        let mut records = vec![first; starts[EvidenceKind::ALL.len()]];
        let mut next = starts;
        for (entry, r) in ledger.about(person) {
            let place = &mut next[r.kind().index()];
            records[*place] = (entry, r);
            *place += 1;
        }
        Self { records, starts }
    }

    /// The records of `kind`, in id order.
    fn of(&self, kind: EvidenceKind) -> &[(Entry, &'a Evidence)] {
        let k = kind.index();
        &self.records[self.starts[k]..self.starts[k + 1]]
    }
}

/// Which of two records with the same id is kept: the earlier recorded, then a fixed
/// order over the contents, so the choice never depends on input order.
fn precedence(record: &Evidence) -> (Timestamp, String) {
    (record.recorded_at, format!("{record:?}"))
}

fn is_valid_second_official(act: &Evidence, target: &Evidence) -> bool {
    act.recorded_by.is_official()
        && act.recorded_by != target.recorded_by
        && act.recorded_at >= target.recorded_at
        && act.authority.is_some()
        && act.authority == target.authority
}

/// The status of every record given, as known at `known_at` (for explanations).
pub fn record_statuses(
    records: &[Evidence],
    known_at: Timestamp,
) -> BTreeMap<RecordId, RecordStatus> {
    let ledger = Ledger::new(records, known_at);
    ledger
        .entries
        .iter()
        .map(|e| (e.id.clone(), e.status.clone()))
        .collect()
}

/// How a period ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Open,
    Expired,
    EndedByRecord,
    Cleared,
}

/// One period of one rule. It names the records it rests on by their ledger entries
/// and borrows the rest from the records given to the derivation: a person's
/// derivation opens a period per scan and declaration, and only the periods in force
/// at the end become [`FiredRule`]s with owned ids.
#[derive(Debug, Clone)]
struct Period<'a> {
    rule: usize,
    from: Timestamp,
    until: Option<Timestamp>,
    ending: Ending,
    evidence: Rests,
    owner: Option<&'a AuthorityId>,
    /// The triggering record, for `ended_by` of follow-on rules.
    anchor: &'a RecordId,
    /// The moment the rule's duration counts from: the start, or for a stay in a risk
    /// area the moment the person left.
    origin: Timestamp,
}

/// The records a period rests on, the triggering record first: at most three (the
/// trigger, the case a closure closes or the ground of a quarantine order; or a
/// declaration and the scan in its area). Unused slots are at the end, and entries
/// are in id order, so the order of two `Rests` is that of the lists of ids they
/// hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rests([Option<Entry>; 3]);

impl Rests {
    /// The entries given, in order, without the missing ones.
    fn new(entries: [Option<Entry>; 3]) -> Self {
        let mut slots = [None; 3];
        for (slot, entry) in slots.iter_mut().zip(entries.into_iter().flatten()) {
            *slot = Some(entry);
        }
        Self(slots)
    }

    fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.0.iter().flatten().copied()
    }
}

impl Period<'_> {
    fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && self.until.is_none_or(|u| t < u)
    }
}

/// Derives `person`'s code valid at `valid_at` from the `records` recorded up to
/// `known_at`, under `rules`.
///
/// `records` (a slice, or any references: records shared by many derivations need
/// not be copied) may hold anything: records about other people are ignored, and so are
/// records recorded after `known_at`, retracted records, and records that need a
/// second official's approval and lack it. The result does not depend on the order
/// of `records`.
pub fn derive<'a>(
    records: impl IntoIterator<Item = &'a Evidence>,
    person: &PersonKey,
    valid_at: Timestamp,
    known_at: Timestamp,
    rules: &RuleSet,
) -> Decision {
    decide(records, person, valid_at, known_at, rules, Fired::All)
}

/// [`derive`], except that `fired` holds only the first rule period in force (the
/// most severe, whose reason a code change keeps), or none: everything else is the
/// same. What the engine derives for the codes it records; an explanation derives
/// in full. A person who scanned in a risk area declared again and again has a
/// period in force per scan and declaration, and listing them all was much of a
/// re-derivation's time.
pub fn derive_brief<'a>(
    records: impl IntoIterator<Item = &'a Evidence>,
    person: &PersonKey,
    valid_at: Timestamp,
    known_at: Timestamp,
    rules: &RuleSet,
) -> Decision {
    decide(records, person, valid_at, known_at, rules, Fired::First)
}

/// Which rule periods in force a decision lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fired {
    All,
    First,
}

fn decide<'a>(
    records: impl IntoIterator<Item = &'a Evidence>,
    person: &PersonKey,
    valid_at: Timestamp,
    known_at: Timestamp,
    rules: &RuleSet,
    listed: Fired,
) -> Decision {
    let ledger = Ledger::new(records, known_at);
    let periods = periods(&ledger, person, rules);
    let colour_at = |t: Timestamp| {
        periods
            .iter()
            .filter(|p| p.contains(t))
            .map(|p| rules.rules[p.rule].colour)
            .max()
            .unwrap_or(Colour::Green)
    };
    let colour = colour_at(valid_at);

    let mut active: Vec<&Period> = periods.iter().filter(|p| p.contains(valid_at)).collect();
    active.sort_by(|a, b| {
        let (ra, rb) = (&rules.rules[a.rule], &rules.rules[b.rule]);
        rb.colour
            .cmp(&ra.colour)
            .then(a.rule.cmp(&b.rule))
            .then(a.from.cmp(&b.from))
            .then(a.evidence.cmp(&b.evidence))
    });
    let listed = match listed {
        Fired::All => active.len(),
        Fired::First => active.len().min(1),
    };
    let fired: Vec<FiredRule> = active[..listed]
        .iter()
        .map(|p| {
            let rule = &rules.rules[p.rule];
            FiredRule {
                rule: SmolStr::new(&rule.id),
                version: SmolStr::new(&rules.version),
                colour: rule.colour,
                reason: rule.reason.into(),
                evidence: p.evidence.iter().map(|e| ledger.id_at(e).clone()).collect(),
                owner: p.owner.cloned(),
                from: p.from,
                until: p.until,
            }
        })
        .collect();
    // The records and owners behind the colour, gathered by entry and by reference
    // (entries are distinct per id), and copied out once.
    let mut decisive: Vec<Entry> = Vec::new();
    let mut owners: Vec<&AuthorityId> = Vec::new();
    for p in active
        .iter()
        .filter(|p| rules.rules[p.rule].colour == colour)
    {
        for entry in p.evidence.iter() {
            if !decisive.contains(&entry) {
                decisive.push(entry);
            }
        }
        if let Some(owner) = p.owner {
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
        // Every authority owning a record the period rests on shares ownership
        // (e.g. customs for the border entry behind a quarantine order).
        for entry in p.evidence.iter() {
            if let Some(owner) = ledger.counted_at(entry).and_then(|r| r.authority.as_ref()) {
                if !owners.contains(&owner) {
                    owners.push(owner);
                }
            }
        }
    }
    let decisive_evidence: Vec<RecordId> =
        decisive.iter().map(|e| ledger.id_at(*e).clone()).collect();
    let owners: Vec<AuthorityId> = owners.into_iter().cloned().collect();

    // Every moment a period begins or ends, in order, once each.
    let mut boundaries: Vec<Timestamp> = periods
        .iter()
        .flat_map(|p| std::iter::once(p.from).chain(p.until))
        .collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    let split = boundaries.partition_point(|b| *b <= valid_at);
    let since = boundaries[..split]
        .iter()
        .rev()
        .find(|&&b| colour_at(b.plus_seconds(-1)) != colour)
        .copied();
    let after = valid_at.plus_seconds(1);
    let next_change = boundaries[boundaries.partition_point(|b| *b < after)..]
        .iter()
        .map(|&b| (b, colour_at(b)))
        .find(|(_, c)| *c != colour)
        .map(|(at, colour)| NextChange { at, colour });

    Decision {
        subject: *person,
        colour,
        valid_at,
        known_at,
        rule_set: RuleSetVersion {
            id: SmolStr::new(&rules.id),
            version: SmolStr::new(&rules.version),
        },
        fired,
        decisive_evidence,
        owners,
        since,
        next_change,
    }
}

/// What every rule of one derivation looks at.
struct Scope<'l, 'a> {
    ledger: &'l Ledger<'a>,
    about: ByKind<'a>,
    rules: &'l RuleSet,
    /// [`RuleSet::longest_stay`], computed once rather than per scan.
    longest_stay: Span,
}

/// Every period of every rule for `person`.
fn periods<'a>(ledger: &Ledger<'a>, person: &PersonKey, rules: &RuleSet) -> Vec<Period<'a>> {
    let scope = Scope {
        ledger,
        about: ByKind::new(ledger, person),
        rules,
        longest_stay: rules.longest_stay(),
    };
    let negatives = negatives(scope.about.of(EvidenceKind::TestResult));
    let mut out: Vec<Period<'a>> = Vec::new();
    // The periods one rule opens, before they are closed: one vector reused by every
    // rule (and every trigger) rather than one per rule and per triggering record.
    let mut starts: Vec<Period<'a>> = Vec::new();
    for (index, rule) in rules.rules.iter().enumerate() {
        starts.clear();
        match &rule.trigger {
            // Only records of the condition's kind can trigger the rule.
            Trigger::Evidence(condition) => {
                for &(entry, anchor) in scope.about.of(condition.evidence) {
                    if anchor.subject.is_some() {
                        starts_for(&scope, index, condition, entry, anchor, &mut starts);
                    }
                }
            }
            Trigger::After(base) => starts.extend(
                out.iter()
                    .filter(|p| p.rule == *base)
                    .filter(|p| matches!(p.ending, Ending::Expired | Ending::EndedByRecord))
                    .filter_map(|p| {
                        p.until.map(|end| Period {
                            rule: index,
                            from: end,
                            until: None,
                            ending: Ending::Open,
                            evidence: p.evidence,
                            owner: p.owner,
                            anchor: p.anchor,
                            origin: end,
                        })
                    }),
            ),
        }
        for mut period in starts.drain(..) {
            close(&scope, &negatives, rule, &mut period);
            if period.until.is_none_or(|u| u > period.from) {
                out.push(period);
            }
        }
    }
    out
}

/// The periods a triggering record (of the condition's kind) opens under one rule,
/// not yet closed, added to `out`.
fn starts_for<'a>(
    scope: &Scope<'_, 'a>,
    rule: usize,
    condition: &Condition,
    anchor_entry: Entry,
    anchor: &'a Evidence,
    out: &mut Vec<Period<'a>>,
) {
    if anchor.kind() != condition.evidence {
        return;
    }
    let fields_match = condition.fields.iter().all(|(field, accepted)| {
        anchor
            .body
            .field(field)
            .is_some_and(|v| accepted.contains(&v))
    });
    if !fields_match {
        return;
    }
    if let Some(source) = condition.source {
        if anchor.recorded_by.source_kind() != Some(source) {
            return;
        }
    }
    let mut case_entry = None;
    let mut ground_entry = None;
    // A closure needs no approval even when entered by hand, so the period it opens
    // (monitoring after discharge) rests on the case it closes, and only the case's
    // first closure opens one: otherwise one official could raise a colour alone,
    // closing an unapproved or retracted case, or closing a closed case again.
    if let EvidenceBody::CaseClosure { case, .. } = &anchor.body {
        let Some((entry, case_record)) = scope.ledger.get_entry(case) else {
            return;
        };
        if case_record.kind() != EvidenceKind::CaseReport || case_record.subject != anchor.subject {
            return;
        }
        let closed_before = scope
            .about
            .of(EvidenceKind::CaseClosure)
            .iter()
            .any(|(_, r)| {
                matches!(&r.body, EvidenceBody::CaseClosure { case: c, .. } if c == case)
                    && (r.effective_at, &r.id) < (anchor.effective_at, &anchor.id)
            });
        if closed_before {
            return;
        }
        case_entry = Some(entry);
    }
    if let Some(ground_condition) = &condition.ground {
        let EvidenceBody::QuarantineOrder { ground, .. } = &anchor.body else {
            return;
        };
        let Some((entry, ground_record)) = scope.ledger.get_entry(ground) else {
            return;
        };
        let ground_ok = ground_record.kind() == ground_condition.evidence
            && ground_record.subject == anchor.subject
            && ground_condition
                .source
                .is_none_or(|s| ground_record.recorded_by.source_kind() == Some(s));
        if !ground_ok {
            return;
        }
        ground_entry = Some(entry);
    }
    let base = Period {
        rule,
        from: anchor.effective_at,
        until: None,
        ending: Ending::Open,
        evidence: Rests::new([Some(anchor_entry), case_entry, ground_entry]),
        owner: anchor.authority.as_ref(),
        anchor: &anchor.id,
        origin: anchor.effective_at,
    };
    if condition.in_risk_area.is_empty() {
        out.push(base);
        return;
    }
    scan_periods(scope, condition, anchor_entry, anchor, base, out);
}

/// For a venue scan: one period per declared risk area (of an accepted level) that
/// covers the venue during the stay, starting when both the stay and the declaration
/// have happened, and lasting the rule's duration from the end of the exposure.
fn scan_periods<'a>(
    scope: &Scope<'_, 'a>,
    condition: &Condition,
    scan_entry: Entry,
    scan: &'a Evidence,
    base: Period<'a>,
    out: &mut Vec<Period<'a>>,
) {
    let EvidenceBody::VenueScan {
        venue,
        street,
        presence,
        ..
    } = &scan.body
    else {
        return;
    };
    if condition
        .min_presence
        .is_some_and(|least| *presence < least)
    {
        return;
    }
    let Some((entered, left)) = stay_within(scope.rules, scan, scope.longest_stay) else {
        return;
    };
    for &(declaration_entry, declaration) in scope.about.of(EvidenceKind::RiskArea) {
        let EvidenceBody::RiskArea {
            level,
            area,
            from,
            until,
        } = &declaration.body
        else {
            continue;
        };
        let accepted = condition.in_risk_area.contains(level);
        let overlaps = entered < *until && *from < left;
        // The exposure ends when the person left or the window closed; the
        // rule's duration counts from then.
        if accepted && overlaps && area.covers(venue, *street) {
            out.push(Period {
                rule: base.rule,
                from: entered.max(declaration.effective_at),
                until: base.until,
                ending: base.ending,
                evidence: Rests::new([Some(declaration_entry), Some(scan_entry), None]),
                owner: declaration.authority.as_ref(),
                anchor: base.anchor,
                origin: left.min(*until),
            });
        }
    }
}

/// The stay a venue scan stands for, `[entered, left)`: until the recorded exit, or
/// for the rule set's assumed stay at that kind of venue when none was recorded (or
/// it is not after the entry), and never longer than [`RuleSet::longest_stay`].
/// `None` for anything but a scan.
pub fn stay(rules: &RuleSet, scan: &Evidence) -> Option<(Timestamp, Timestamp)> {
    stay_within(rules, scan, rules.longest_stay())
}

/// [`stay`], given `longest` = [`RuleSet::longest_stay`] (which walks the dwell
/// table: a derivation computes it once, not once per scan and rule).
fn stay_within(rules: &RuleSet, scan: &Evidence, longest: Span) -> Option<(Timestamp, Timestamp)> {
    let EvidenceBody::VenueScan {
        venue_kind,
        left_at,
        ..
    } = &scan.body
    else {
        return None;
    };
    let entered = scan.effective_at;
    let left = left_at
        .filter(|l| *l > entered)
        .unwrap_or_else(|| entered.plus(rules.dwell.of(*venue_kind)))
        .min(entered.plus(longest));
    Some((entered, left))
}

/// Whether a venue scan at `venue` in `street`, entered at `entered`, can change
/// any derivation under `rules`, given every risk-area declaration there is
/// (`risk_areas`; other records are ignored).
///
/// Derivation uses a scan only through a rule on scans in a declared risk area, and
/// a stay counts for at most [`RuleSet::longest_stay`]: a scan entered before a
/// window opened by more than that, or after it closed, or outside the declared
/// area, fires nothing. So `derive` over a person's records without the scans for
/// which this is false decides exactly as over all of them. It looks at neither
/// levels, presence nor approvals: it may keep a scan that turns out not to count,
/// never drop one that does.
pub fn scan_may_matter<'a>(
    rules: &RuleSet,
    risk_areas: impl IntoIterator<Item = &'a Evidence>,
    venue: &VenueId,
    street: Jurisdiction,
    entered: Timestamp,
) -> bool {
    if !rules.scans_matter_only_in_risk_areas() {
        return true;
    }
    let longest = rules.longest_stay();
    risk_areas
        .into_iter()
        .any(|declaration| scan_in_area(declaration, longest, venue, street, entered))
}

/// Whether a venue scan at `venue` in `street`, entered at `entered`, lies in the
/// area `declaration` declares during its window or less than `longest` (the rule
/// set's [`RuleSet::longest_stay`]) before it opened: the test
/// [`scan_may_matter`] makes of each declaration, for callers that make it of many
/// scans. False for anything but a risk-area declaration.
pub fn scan_in_area(
    declaration: &Evidence,
    longest: Span,
    venue: &VenueId,
    street: Jurisdiction,
    entered: Timestamp,
) -> bool {
    matches!(&declaration.body, EvidenceBody::RiskArea { area, from, until, .. }
        if entered < *until && *from < entered.plus(longest) && area.covers(venue, street))
}

/// Decides when a period ends: its duration, a record that ends it (a record of
/// the person of a kind in the rule's `ended_by`), or clearing tests (among
/// `negatives`), whichever comes first.
fn close(scope: &Scope, negatives: &[Negative], rule: &Rule, period: &mut Period) {
    let mut end: Option<(Timestamp, Ending)> = None;
    // The earliest, and of two at once the ending listed first in `Ending`.
    let mut offer = |at: Timestamp, ending: Ending| {
        if end.is_none_or(|(t, e)| (at, ending as u8) < (t, e as u8)) {
            end = Some((at, ending));
        }
    };
    if let Some(duration) = rule.duration {
        offer(period.origin.plus(duration), Ending::Expired);
    }
    // (A kind listed twice offers the same endings twice, which changes nothing.)
    for kind in &rule.ended_by {
        for (_, record) in scope.about.of(*kind) {
            if is_linked(scope.ledger, record, period.anchor) {
                offer(record.effective_at.max(period.from), Ending::EndedByRecord);
            }
        }
    }
    if let Some(clearance) = &rule.cleared_by {
        if let Some(at) = cleared_at(negatives, clearance, period.from) {
            offer(at, Ending::Cleared);
        }
    }
    if let Some((at, ending)) = end {
        period.until = Some(at);
        period.ending = ending;
    }
}

/// Whether `record` refers to `anchor`, directly or through a counted record that does.
fn is_linked(ledger: &Ledger, record: &Evidence, anchor: &RecordId) -> bool {
    record.references().into_iter().any(|(_, id)| {
        id == anchor
            || ledger
                .get(id)
                .is_some_and(|middle| middle.references().into_iter().any(|(_, id)| id == anchor))
    })
}

/// A negative test about the person: when it was sampled, when its result was known
/// (never before the sample) and by which method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Negative {
    sampled: Timestamp,
    known: Timestamp,
    method: TestMethod,
}

/// The negative tests among `tests`, by sample time, then result time.
fn negatives(tests: &[(Entry, &Evidence)]) -> Vec<Negative> {
    let mut negatives: Vec<Negative> = tests
        .iter()
        .filter_map(|(_, r)| match &r.body {
            EvidenceBody::TestResult {
                method,
                outcome: TestOutcome::Negative,
                sampled_at,
            } => Some(Negative {
                sampled: *sampled_at,
                known: r.effective_at.max(*sampled_at),
                method: *method,
            }),
            _ => None,
        })
        .collect();
    negatives.sort_unstable();
    negatives
}

/// When enough negative tests (of `negatives`, sorted), sampled after `from` and far
/// enough apart, are known.
fn cleared_at(negatives: &[Negative], clearance: &Clearance, from: Timestamp) -> Option<Timestamp> {
    let mut taken = 0;
    let mut last_sample: Option<Timestamp> = None;
    let mut known_at = from;
    let counted = negatives
        .iter()
        .filter(|n| n.sampled >= from && clearance.method.is_none_or(|m| m == n.method));
    for n in counted {
        if last_sample.is_some_and(|last| n.sampled < last.plus(clearance.apart)) {
            continue;
        }
        taken += 1;
        last_sample = Some(n.sampled);
        known_at = known_at.max(n.known);
        if taken == clearance.count {
            return Some(known_at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of every length (up to and past 16 bytes) is the zero-padded first 16
    /// bytes, and comparing ids by key orders them as their text.
    #[test]
    fn id_keys_order_ids_as_their_text() {
        let mut ids = Vec::new();
        for len in 1..=20 {
            for last in ["0", "9", "A", "z", ":"] {
                let text = format!("{}{last}", "s013-0032894017"[..len.min(15)].to_owned())
                    + &"x".repeat(len.saturating_sub(15));
                ids.push(RecordId::parse(&text).unwrap());
            }
        }
        ids.push(RecordId::parse("bench-declaration").unwrap());
        ids.push(RecordId::parse("bench-declaration.approval").unwrap());
        for id in &ids {
            let mut padded = [0u8; 16];
            let text = id.as_str().as_bytes();
            let n = text.len().min(16);
            padded[..n].copy_from_slice(&text[..n]);
            assert_eq!(IdKey::of(id).0, u128::from_be_bytes(padded), "{id}");
            for other in &ids {
                assert_eq!(
                    IdKey::of(id).cmp_ids(id, IdKey::of(other), other),
                    id.as_str().cmp(other.as_str()),
                    "{id} {other}"
                );
            }
        }
    }
}
