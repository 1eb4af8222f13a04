//! Properties of derivation over random evidence: a small universe of three people,
//! four venues on real Zhengzhou streets, three authorities with their officials and
//! sources, every record type (retractions, approvals and rejections included, with
//! random targets), times within a month.

use std::collections::BTreeMap;

use mingma_core::evidence::ReferenceRole;
use mingma_core::{
    derive, derive_brief, record_statuses, scan_may_matter, CaseClass, ClosureOutcome, Colour,
    Decision, Evidence, EvidenceBody, EvidenceKind, Exposure, PersonKey, Presence,
    QuarantineSetting, RecordId, RecordStatus, Recorder, RiskAreaScope, RiskLevel, SourceKind,
    TestMethod, TestOutcome, Timestamp, VenueId,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::support::*;

// ---------------------------------------------------------------- the universe

fn people() -> [PersonKey; 3] {
    [zhang(), li(), wang()]
}

/// Half of the records are about 张伟, a quarter each about 李娜 and 王芳, so that
/// records about the same person meet often.
fn person_of(choice: u8) -> PersonKey {
    people()[[0, 0, 1, 2][usize::from(choice % 4)]]
}

const PLACES: [Place; 4] = [STATION, OFFICE, MARKET, RESTAURANT];
const OFFICIALS: [&str; 4] = [OFFICIAL_LI, OFFICIAL_WANG, OFFICIAL_ZHAO, OFFICIAL_SUN];

/// The other official of the same authority.
fn colleague(official: &str) -> &'static str {
    match official {
        OFFICIAL_LI => OFFICIAL_WANG,
        OFFICIAL_WANG => OFFICIAL_LI,
        OFFICIAL_ZHAO => OFFICIAL_SUN,
        _ => OFFICIAL_ZHAO,
    }
}

/// An official of the other authority.
fn stranger(official: &str) -> &'static str {
    if authority_of(official) == ZZ_HEALTH {
        OFFICIAL_ZHAO
    } else {
        OFFICIAL_LI
    }
}

fn base() -> Timestamp {
    t("06-01 00:00")
}

fn minutes(m: u32) -> i64 {
    i64::from(m) * 60
}

const MONTH: u32 = 30 * 24 * 60;

/// A record before its references are resolved.
#[derive(Debug, Clone)]
struct Spec {
    kind: EvidenceKind,
    person: u8,
    recorder: u8,
    /// Reference: mostly a fitting record, sometimes any id or a dangling one.
    target: u16,
    variant: u8,
    /// Minutes into the month, or (when `near_previous`) after the previous record.
    effective: u32,
    near_previous: bool,
    delay: u32,
    length: u32,
    /// 0-1: none; 2-5: approval by a second official of the same authority; 6: by
    /// the recorder; 7: by another authority; 8: rejection; 9: approval recorded
    /// ten days late.
    decision: u8,
}

fn kind() -> impl Strategy<Value = EvidenceKind> {
    use EvidenceKind as K;
    prop_oneof![
        2 => Just(K::TestResult),
        1 => Just(K::CaseReport),
        1 => Just(K::CaseClosure),
        2 => Just(K::CloseContact),
        2 => Just(K::BorderEntry),
        3 => Just(K::QuarantineOrder),
        1 => Just(K::QuarantineRelease),
        4 => Just(K::RiskArea),
        5 => Just(K::VenueScan),
        1 => Just(K::Retraction),
        1 => Just(K::Approval),
        1 => Just(K::Rejection),
    ]
}

prop_compose! {
    fn spec()(
        kind in kind(),
        person in any::<u8>(),
        recorder in any::<u8>(),
        target in any::<u16>(),
        variant in any::<u8>(),
        effective in 0..MONTH,
        near_previous in proptest::bool::weighted(0.75),
        delay in 0u32..3 * 24 * 60,
        length in any::<u32>(),
        decision in 0u8..10,
    ) -> Spec {
        Spec { kind, person, recorder, target, variant, effective, near_previous, delay, length, decision }
    }
}

/// Who records a record of `kind`, and for which authority.
fn recorder_for(
    kind: EvidenceKind,
    choice: u8,
    subject: Option<PersonKey>,
) -> (Recorder, Option<&'static str>) {
    let official_pick = |c: u8| {
        let who = OFFICIALS[usize::from(c) % OFFICIALS.len()];
        (official(who), Some(authority_of(who)))
    };
    let manual = choice.is_multiple_of(4);
    match kind {
        EvidenceKind::TestResult if !manual => (source(LAB, SourceKind::Lab), Some(ZZ_CDC)),
        EvidenceKind::CaseReport | EvidenceKind::CaseClosure if !manual => {
            (source(HOSPITAL, SourceKind::CaseReporting), Some(ZZ_HEALTH))
        }
        EvidenceKind::BorderEntry if !manual => {
            (source(CUSTOMS, SourceKind::Customs), Some(ZZ_CUSTOMS))
        }
        EvidenceKind::VenueScan if !manual => {
            let proxy = people()
                .into_iter()
                .find(|p| Some(*p) != subject)
                .unwrap_or_else(wang);
            if choice % 4 == 1 {
                (Recorder::Proxy(proxy), None)
            } else {
                (Recorder::Holder, None)
            }
        }
        _ => official_pick(choice / 4),
    }
}

/// The records the specs describe, with ids `r0`, `r1`, ... and the approvals and
/// rejections their `decision` asks for (ids `r3.ok`, ...).
fn build(specs: &[Spec]) -> Vec<Evidence> {
    let subjects: Vec<Option<PersonKey>> = specs
        .iter()
        .map(|s| s.kind.has_subject().then(|| person_of(s.person)))
        .collect();
    let resolve = |i: usize, role: ReferenceRole| -> RecordId {
        let s = &specs[i];
        let n = specs.len();
        if s.target.is_multiple_of(4) {
            // Anything, or nothing at all.
            let j = usize::from(s.target / 4) % (n + 1);
            return if j == n {
                rid("r-none")
            } else {
                rid(&format!("r{j}"))
            };
        }
        let fitting: Vec<usize> = (0..n)
            .filter(|&j| j != i && role.accepts(specs[j].kind))
            .filter(|&j| !role.same_subject() || subjects[j] == subjects[i])
            .collect();
        if fitting.is_empty() {
            rid(&format!("r{}", usize::from(s.target) % n))
        } else {
            rid(&format!(
                "r{}",
                fitting[usize::from(s.target / 4) % fitting.len()]
            ))
        }
    };
    let mut out = Vec::new();
    let mut previous = base();
    for (i, s) in specs.iter().enumerate() {
        let subject = subjects[i];
        let (recorded_by, authority_id) = recorder_for(s.kind, s.recorder, subject);
        let effective = if s.near_previous {
            previous.plus_seconds(minutes(s.effective % (2 * 24 * 60)))
        } else {
            base().plus_seconds(minutes(s.effective))
        };
        previous = effective;
        let recorded = effective.plus_seconds(minutes(s.delay));
        let v = s.variant;
        let hours = |h: u32| minutes(s.length % (h * 60) + 1);
        let body = match s.kind {
            EvidenceKind::TestResult => EvidenceBody::TestResult {
                method: if v & 1 == 0 {
                    TestMethod::NucleicAcid
                } else {
                    TestMethod::Antigen
                },
                outcome: if v & 2 == 0 {
                    TestOutcome::Negative
                } else {
                    TestOutcome::Positive
                },
                sampled_at: effective.plus_seconds(-hours(48)),
            },
            EvidenceKind::CaseReport => EvidenceBody::CaseReport {
                classification: CaseClass::ALL[usize::from(v) % 3],
                test: (v & 4 != 0).then(|| resolve(i, ReferenceRole::CaseTest)),
            },
            EvidenceKind::CaseClosure => EvidenceBody::CaseClosure {
                case: resolve(i, ReferenceRole::ClosedCase),
                outcome: ClosureOutcome::ALL[usize::from(v) % 3],
            },
            EvidenceKind::CloseContact => EvidenceBody::CloseContact {
                case: resolve(i, ReferenceRole::ContactCase),
                exposure: Exposure::Household,
            },
            EvidenceKind::BorderEntry => EvidenceBody::BorderEntry {
                port: "郑州新郑国际机场".into(),
                origin: "KR".into(),
                name: None,
                document: None,
            },
            EvidenceKind::QuarantineOrder => EvidenceBody::QuarantineOrder {
                setting: if v & 1 == 0 {
                    QuarantineSetting::Centralised
                } else {
                    QuarantineSetting::Home
                },
                facility: None,
                ground: resolve(i, ReferenceRole::Ground),
                planned_end: effective.plus_seconds(14 * 86_400),
            },
            EvidenceKind::QuarantineRelease => EvidenceBody::QuarantineRelease {
                order: resolve(i, ReferenceRole::ReleasedOrder),
            },
            EvidenceKind::RiskArea => {
                let from = effective.plus_seconds(-hours(5 * 24));
                let area = match (v >> 1) % 4 {
                    0 => RiskAreaScope::Divisions(vec![division("410102")]),
                    1 => RiskAreaScope::Divisions(vec![division("410102002")]),
                    2 => RiskAreaScope::Divisions(vec![division("410103"), division("410102001")]),
                    _ => RiskAreaScope::Venues(vec![VenueId::parse(MARKET.id).unwrap()]),
                };
                EvidenceBody::RiskArea {
                    level: if v & 1 == 0 {
                        RiskLevel::High
                    } else {
                        RiskLevel::Medium
                    },
                    area,
                    from,
                    until: from.plus_seconds(hours(10 * 24)),
                }
            }
            EvidenceKind::VenueScan => {
                let place = &PLACES[usize::from(v) % PLACES.len()];
                EvidenceBody::VenueScan {
                    venue: VenueId::parse(place.id).unwrap(),
                    street: division(place.street),
                    venue_kind: place.kind,
                    left_at: (s.length % 3 != 0).then(|| effective.plus_seconds(hours(10))),
                    presence: Presence::ALL[usize::from(v >> 2) % 3],
                }
            }
            EvidenceKind::Retraction => EvidenceBody::Retraction {
                target: resolve(i, ReferenceRole::Retracted),
                reason: "录入错误".into(),
            },
            EvidenceKind::Approval => EvidenceBody::Approval {
                target: resolve(i, ReferenceRole::Decided),
            },
            EvidenceKind::Rejection => EvidenceBody::Rejection {
                target: resolve(i, ReferenceRole::Decided),
                reason: "证据不足".into(),
            },
        };
        let id = format!("r{i}");
        let record = Evidence {
            seal: None,
            id: rid(&id),
            subject,
            recorded_by: recorded_by.clone(),
            authority: authority_id.map(authority),
            legal_basis: s
                .kind
                .needs_legal_basis()
                .then(|| "传染病防治法".to_owned()),
            effective_at: effective,
            recorded_at: recorded,
            body,
        };
        out.push(record);
        // The second official's decision on a manual record.
        if let Recorder::Official(by) = &recorded_by {
            let by = by.as_str();
            let soon = recorded.plus_seconds(3600);
            let ok = format!("{id}.ok");
            let act = match s.decision {
                2..=5 => Some(approval_by(&ok, colleague(by), &id, soon)),
                6 => Some(approval_by(&ok, by, &id, soon)),
                7 => Some(approval_by(&ok, stranger(by), &id, soon)),
                8 => Some(rejection_by(&format!("{id}.no"), colleague(by), &id, soon)),
                9 => Some(approval_by(
                    &ok,
                    colleague(by),
                    &id,
                    recorded.plus_seconds(10 * 86_400),
                )),
                _ => None,
            };
            out.extend(act);
        }
    }
    out
}

/// Random moments to look at: whose code, valid when, known when. To meet the
/// evidence, each record gives one moment: the code of its subject (or of a random
/// person), a little after it took effect.
#[derive(Debug, Clone)]
struct View {
    person: u8,
    /// Minutes after each record's effective time, from a day before.
    offset: u32,
    /// Minutes between valid_at and known_at, from 3 days before; `None`: knowing
    /// everything.
    known: Option<u32>,
}

prop_compose! {
    fn view()(
        person in any::<u8>(),
        offset in 0u32..11 * 24 * 60,
        known in proptest::option::of(0u32..6 * 24 * 60),
    ) -> View {
        View { person, offset, known }
    }
}

/// Who and when.
#[derive(Debug, Clone, Copy)]
struct Moment {
    person: PersonKey,
    valid_at: Timestamp,
    known_at: Timestamp,
}

impl Moment {
    fn derive(&self, records: &[Evidence]) -> Decision {
        derive(
            records,
            &self.person,
            self.valid_at,
            self.known_at,
            default_rules(),
        )
    }
}

impl View {
    /// One moment per record, and one for the start of the month.
    fn moments(&self, records: &[Evidence]) -> Vec<Moment> {
        let moment = |person: PersonKey, at: Timestamp| {
            let valid_at = at.plus_seconds(minutes(self.offset) - 86_400);
            let known_at = self
                .known
                .map_or_else(now, |k| valid_at.plus_seconds(minutes(k) - 3 * 86_400));
            Moment {
                person,
                valid_at,
                known_at,
            }
        };
        let anyone = person_of(self.person);
        std::iter::once(moment(anyone, base()))
            .chain(
                records
                    .iter()
                    .map(|r| moment(r.subject.unwrap_or(anyone), r.effective_at)),
            )
            .collect()
    }
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    proptest::collection::vec(spec(), 1..14)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

// ---------------------------------------------------------------- properties

/// Checks that a decision explains itself with counted evidence of the input.
fn check_explained(records: &[Evidence], d: &Decision) -> Result<(), TestCaseError> {
    let statuses = record_statuses(records, d.known_at);
    let ids: Vec<&RecordId> = records.iter().map(|r| &r.id).collect();
    prop_assert_eq!(d.colour == Colour::Green, d.fired.is_empty(), "{:#?}", d);
    if d.colour != Colour::Green {
        prop_assert!(!d.decisive_evidence.is_empty());
        prop_assert!(!d.owners.is_empty(), "nobody owns {:#?}", d);
        prop_assert!(d.fired.iter().any(|f| f.colour == d.colour));
        prop_assert!(d.since.is_some_and(|s| s <= d.valid_at), "{:#?}", d);
    }
    for f in &d.fired {
        prop_assert!(f.colour <= d.colour);
        prop_assert!(
            f.from <= d.valid_at && f.until.is_none_or(|u| d.valid_at < u),
            "{:#?}",
            f
        );
        prop_assert!(!f.evidence.is_empty());
        for id in &f.evidence {
            prop_assert!(ids.contains(&id), "{} is not in the input", id);
            prop_assert_eq!(
                statuses.get(id),
                Some(&RecordStatus::Counted),
                "{} does not count",
                id
            );
        }
    }
    for id in &d.decisive_evidence {
        prop_assert!(
            d.fired
                .iter()
                .filter(|f| f.colour == d.colour)
                .any(|f| f.evidence.contains(id)),
            "{} is decisive but no fired rule of the decisive colour rests on it",
            id
        );
    }
    if let Some(next) = d.next_change {
        prop_assert!(next.at > d.valid_at);
        prop_assert_ne!(next.colour, d.colour);
    }
    Ok(())
}

/// Checks that an inbound reason rests on a counted, customs-signed border entry of
/// the same person and a counted quarantine order of that person grounded on it.
fn check_inbound_grounded(records: &[Evidence], d: &Decision) -> Result<(), TestCaseError> {
    let statuses = record_statuses(records, d.known_at);
    let counted = |id: &RecordId| statuses.get(id) == Some(&RecordStatus::Counted);
    let by_id: BTreeMap<&RecordId, &Evidence> = records.iter().map(|r| (&r.id, r)).collect();
    for f in d
        .fired
        .iter()
        .filter(|f| f.reason.id.starts_with("inbound_traveller"))
    {
        let grounded = f.evidence.iter().filter(|id| counted(id)).any(|order_id| {
            let order = by_id[order_id];
            let EvidenceBody::QuarantineOrder { ground, .. } = &order.body else {
                return false;
            };
            let Some(entry) = by_id.get(ground) else {
                return false;
            };
            f.evidence.contains(ground)
                && counted(ground)
                && entry.kind() == EvidenceKind::BorderEntry
                && entry.recorded_by.source_kind() == Some(SourceKind::Customs)
                && entry.subject == Some(d.subject)
                && order.subject == Some(d.subject)
        });
        prop_assert!(
            grounded,
            "{} without a customs entry and an order on it: {:#?}",
            f.reason.id,
            f
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn without_evidence_every_code_is_green(view in view()) {
        let d = view.moments(&[])[0].derive(&[]);
        prop_assert_eq!(d.colour, Colour::Green);
        prop_assert!(d.fired.is_empty());
        prop_assert!(d.decisive_evidence.is_empty());
        prop_assert!(d.owners.is_empty());
        prop_assert_eq!(d.since, None);
        prop_assert_eq!(d.next_change, None);
    }

    #[test]
    fn every_non_green_code_explains_itself_with_counted_evidence_and_an_owner(
        specs in specs(), view in view()
    ) {
        let records = build(&specs);
        for m in view.moments(&records) {
            check_explained(&records, &m.derive(&records))?;
        }
    }

    #[test]
    fn the_inbound_reasons_rest_on_a_customs_signed_entry_and_an_order_grounded_on_it(
        specs in specs(), view in view()
    ) {
        let records = build(&specs);
        for m in view.moments(&records) {
            check_inbound_grounded(&records, &m.derive(&records))?;
        }
    }

    #[test]
    fn scans_that_cannot_matter_can_be_left_out(specs in specs(), view in view()) {
        // What a store may leave out when it reads a person's evidence for derivation.
        let records = build(&specs);
        let risk_areas: Vec<&Evidence> = records
            .iter()
            .filter(|r| r.kind() == EvidenceKind::RiskArea)
            .collect();
        let kept: Vec<Evidence> = records
            .iter()
            .filter(|r| match &r.body {
                EvidenceBody::VenueScan { venue, street, .. } => scan_may_matter(
                    default_rules(),
                    risk_areas.iter().copied(),
                    venue,
                    *street,
                    r.effective_at,
                ),
                _ => true,
            })
            .cloned()
            .collect();
        for m in view.moments(&records) {
            prop_assert_eq!(m.derive(&records), m.derive(&kept));
        }
    }

    #[test]
    fn risk_areas_none_of_a_persons_scans_lie_in_can_be_left_out(
        specs in specs(), view in view()
    ) {
        // What a store may leave out of one person's shared records.
        let records = build(&specs);
        for m in view.moments(&records) {
            let lies_in = |area: &Evidence| {
                records.iter().any(|r| match &r.body {
                    EvidenceBody::VenueScan { venue, street, .. } => {
                        r.subject == Some(m.person)
                            && scan_may_matter(default_rules(), [area], venue, *street, r.effective_at)
                    }
                    _ => false,
                })
            };
            let dropped: Vec<&RecordId> = records
                .iter()
                .filter(|r| r.kind() == EvidenceKind::RiskArea && !lies_in(r))
                .map(|r| &r.id)
                .collect();
            let kept: Vec<&Evidence> = records
                .iter()
                .filter(|r| !dropped.contains(&&r.id))
                .filter(|r| match &r.body {
                    EvidenceBody::Approval { target }
                    | EvidenceBody::Rejection { target, .. }
                    | EvidenceBody::Retraction { target, .. } => !dropped.contains(&target),
                    _ => true,
                })
                .collect();
            prop_assert_eq!(
                m.derive(&records),
                derive(kept, &m.person, m.valid_at, m.known_at, default_rules())
            );
        }
    }

    #[test]
    fn the_order_of_the_evidence_does_not_matter(
        (records, shuffled) in (specs(), proptest::collection::vec((any::<prop::sample::Index>(), 0i64..3 * 86_400), 0..4))
            .prop_flat_map(|(s, duplicates)| {
                let mut records = build(&s);
                // Conflicting records under the same id: one of them must be chosen,
                // whatever the order.
                for (which, shift) in duplicates {
                    let mut twin = which.get(&records).clone();
                    twin.effective_at = twin.effective_at.plus_seconds(shift);
                    twin.recorded_at = twin.recorded_at.plus_seconds(shift / 2);
                    records.push(twin);
                }
                (Just(records.clone()), Just(records).prop_shuffle())
            }),
        view in view(),
    ) {
        for m in view.moments(&records) {
            prop_assert_eq!(m.derive(&records), m.derive(&shuffled));
            prop_assert_eq!(
                record_statuses(&records, m.known_at),
                record_statuses(&shuffled, m.known_at)
            );
        }
    }

    #[test]
    fn a_brief_derivation_is_the_full_one_with_only_its_first_fired_rule(
        specs in specs(), view in view(),
    ) {
        let records = build(&specs);
        for m in view.moments(&records) {
            let mut full = m.derive(&records);
            let brief = derive_brief(&records, &m.person, m.valid_at, m.known_at, default_rules());
            prop_assert_eq!(&brief, &full.brief());
            full.fired.truncate(1);
            prop_assert_eq!(brief, full);
        }
    }

    #[test]
    fn records_recorded_after_known_at_never_change_the_code(
        specs in specs(), late in specs(), view in view(), reuse_ids in any::<bool>()
    ) {
        let records = build(&specs);
        for m in view.moments(&records) {
            let mut more = records.clone();
            for (i, mut record) in build(&late).into_iter().enumerate() {
                // Late records may reuse the ids of known ones, or act on them.
                if !reuse_ids {
                    record.id = rid(&format!("late{i}"));
                }
                record.recorded_at = m.known_at.plus_seconds(1 + minutes(late[i % late.len()].delay));
                more.push(record);
            }
            prop_assert_eq!(m.derive(&records), m.derive(&more));
        }
    }

    #[test]
    fn an_unapproved_manual_record_never_changes_the_code(
        specs in specs(), extra in spec(), view in view()
    ) {
        let records = build(&specs);
        // A record entered by hand that could raise a colour, never approved, with
        // references to the records above.
        let kinds = [
            EvidenceKind::QuarantineOrder,
            EvidenceKind::CloseContact,
            EvidenceKind::RiskArea,
            EvidenceKind::TestResult,
            EvidenceKind::CaseReport,
            EvidenceKind::BorderEntry,
            EvidenceKind::VenueScan,
        ];
        let mut with_manual = specs.clone();
        with_manual.push(Spec {
            kind: kinds[usize::from(extra.variant) % kinds.len()],
            recorder: 0, // an official
            decision: 0, // no approval
            ..extra
        });
        let mut manual = build(&with_manual).pop().unwrap();
        prop_assert!(manual.recorded_by.is_official());
        manual.id = rid("fresh-manual");
        let mut more = records.clone();
        more.push(manual);
        for m in view.moments(&records) {
            prop_assert_eq!(m.derive(&records), m.derive(&more));
        }
    }

    #[test]
    fn records_about_other_people_never_change_a_persons_code(
        specs in specs(), others in specs(), view in view()
    ) {
        let records = build(&specs);
        for m in view.moments(&records) {
            let mut more = records.clone();
            for (i, mut record) in build(&others).into_iter().enumerate() {
                if record.subject.is_none_or(|s| s == m.person) {
                    continue;
                }
                record.id = rid(&format!("other{i}"));
                more.push(record);
            }
            prop_assert_eq!(m.derive(&records), m.derive(&more));
        }
    }
}

/// The properties above mean something only if random evidence often gives red
/// and yellow codes, and every reason of the default set.
#[test]
fn the_random_evidence_reaches_every_colour_and_every_reason() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = (specs(), view());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut moments = 0;
    for _ in 0..256 {
        let (specs, view) = strategy.new_tree(&mut runner).unwrap().current();
        let records = build(&specs);
        for m in view.moments(&records) {
            moments += 1;
            let d = m.derive(&records);
            *seen.entry(d.colour.name()).or_default() += 1;
            for f in &d.fired {
                *seen.entry(f.reason.id).or_default() += 1;
            }
        }
    }
    let at_least = |what: &str, n: usize| {
        let got = seen.get(what).copied().unwrap_or(0);
        assert!(
            got >= n,
            "{what}: {got} of {moments} moments, expected {n}: {seen:#?}"
        );
    };
    at_least("red", moments / 10);
    at_least("yellow", moments / 50);
    for rule in &default_rules().rules {
        at_least(rule.reason.id(), 3);
    }
}
