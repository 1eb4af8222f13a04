//! The contract test suite every [`Store`] backend passes.
//!
//! A backend's tests call [`contract_tests!`](crate::contract_tests) with an async
//! expression that makes a fresh, empty store; the macro expands to one test per
//! clause of the contract, so a failure names the clause and the backend.

use std::collections::BTreeSet;
use std::sync::Arc;

use mingma_authority::{Founding, Registry};
use mingma_core::commitment::{commit, LeafEntry};
use mingma_core::{
    derive, Authority, AuthorityId, CaseClass, Colour, DataSource, DataSourceId, Directory,
    Evidence, EvidenceBody, EvidenceKind, Exposure, Jurisdiction, NationalId, Official, OfficialId,
    PersonKey, Presence, PseudonymKey, RecordId, Recorder, RiskAreaScope, RiskLevel, RuleSet,
    SourceKind, TestMethod, TestOutcome, Timestamp, VenueId, VenueKind,
};
use mingma_ledger::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree};

use crate::{may_matter, CodeChange, LedgerEntry, Store, StoreError, StoredCheckpoint};

/// Expands to one `#[tokio::test]` per contract clause, each on a fresh store made
/// by `$make`: an expression giving a guard that derefs to the store (and cleans up
/// when dropped).
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@each $make;
            appends_are_idempotent_and_conflicts_are_refused,
            records_read_back_exactly_and_their_leaves_commit_to_them,
            evidence_about_a_person_is_what_derivation_needs,
            evidence_for_derivation_leaves_out_only_scans_that_cannot_matter,
            each_persons_own_records_are_read_among_many,
            chunks_of_one_reading_read_what_each_person_reads_alone,
            records_about_nobody_are_seen_as_soon_as_they_are_appended,
            records_about_nobody_are_pending_until_their_re_derivation_is_done,
            a_derivation_is_known_changed_by_any_record_it_would_read,
            records_appended_are_followed_by_whom_they_concern,
            scans_are_found_by_venue_and_by_person_in_a_time_range,
            stays_overlapping_a_window_are_found_at_a_venue,
            persons_are_found_by_venues_and_by_division,
            the_ledger_has_one_leaf_per_write_and_its_proofs_verify,
            concurrent_writers_leave_a_sequence_without_gaps,
            a_refused_write_does_not_undo_another_in_the_same_group,
            code_changes_are_batched_and_idempotent,
            only_codes_in_force_fall_due,
            checkpoints_must_match_the_log,
            purges_remove_old_scans_but_keep_referenced_ones_and_are_logged,
            seals_and_authority_acts_are_kept_exactly,
        );
    };
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let guard = $make;
                $crate::contract::$name(::std::ops::Deref::deref(&guard)).await;
            }
        )+
    };
}

/// `06-01 10:00` (June 2022, China Standard Time).
pub fn t(text: &str) -> Timestamp {
    Timestamp::parse(&format!("2022-{text}:00+08:00")).expect("a test time")
}

/// A record id.
pub fn rid(id: &str) -> RecordId {
    RecordId::parse(id).expect("a test id")
}

fn key() -> PseudonymKey {
    PseudonymKey::from_bytes([9; 32])
}

/// A person with a valid ID number made from `n` (distinct for `n < 90,000`: born on
/// 1 January 1990, or a year earlier for every further thousand).
pub fn person(n: u32) -> PersonKey {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let first17 = format!("410102{}0101{:03}", 1990 - (n / 1000) % 90, n % 1000);
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let id = NationalId::parse(&format!("{first17}{}", CHECK[(sum % 11) as usize]))
        .expect("a valid test ID number");
    key().person_key(&id)
}

const HEALTH: &str = "hc-4101";
const CDC: &str = "cdc-4101";

fn official(id: &str) -> Recorder {
    Recorder::Official(OfficialId::parse(id).expect("official id"))
}

fn authority(id: &str) -> Option<AuthorityId> {
    Some(AuthorityId::parse(id).expect("authority id"))
}

fn street(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).expect("a real street")
}

/// A holder's scan of `venue` on `street_code`.
pub fn scan(id: &str, who: PersonKey, venue: &str, street_code: &str, at: Timestamp) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: Some(who),
        recorded_by: Recorder::Holder,
        authority: None,
        legal_basis: None,
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::VenueScan {
            venue: VenueId::parse(venue).expect("venue id"),
            street: street(street_code),
            venue_kind: VenueKind::Market,
            left_at: Some(at.plus_seconds(3600)),
            presence: Presence::StaticPoster,
        },
    }
}

/// A lab-signed positive nucleic-acid test.
pub fn positive(id: &str, who: PersonKey, at: Timestamp) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: Some(who),
        recorded_by: Recorder::Source {
            id: DataSourceId::parse("lab-1").expect("source id"),
            kind: SourceKind::Lab,
        },
        authority: authority(CDC),
        legal_basis: None,
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::TestResult {
            method: TestMethod::NucleicAcid,
            outcome: TestOutcome::Positive,
            sampled_at: at.plus_seconds(-6 * 3600),
        },
    }
}

/// A confirmed case reported by the CDC's reporting system.
pub fn case(id: &str, who: PersonKey, at: Timestamp) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: Some(who),
        recorded_by: Recorder::Source {
            id: DataSourceId::parse("cdc-report").expect("source id"),
            kind: SourceKind::CaseReporting,
        },
        authority: authority(CDC),
        legal_basis: None,
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::CaseReport {
            classification: CaseClass::Confirmed,
            test: None,
        },
    }
}

/// A close-contact designation at a venue, naming the scans that show it.
pub fn close_contact(
    id: &str,
    who: PersonKey,
    case: &str,
    scans: &[&str],
    at: Timestamp,
) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: Some(who),
        recorded_by: official("off-zhao"),
        authority: authority(HEALTH),
        legal_basis: Some("《新型冠状病毒肺炎防控方案（第九版）》".into()),
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::CloseContact {
            case: rid(case),
            exposure: Exposure::Venue {
                venue: VenueId::parse("v-market").expect("venue id"),
                from: at.plus_seconds(-7200),
                until: at.plus_seconds(-3600),
                scans: scans.iter().map(|s| rid(s)).collect(),
            },
        },
    }
}

/// A close contact designated and approved: `case_person`'s case report (at 06-01
/// 09:00), both people's scans at the same market ten minutes apart, and the
/// designation of `contact` (06-02 10:00) with its approval by a second official.
/// Ids start with `prefix`: the case is `{prefix}case`, the designation
/// `{prefix}cc`.
pub fn designated_contact(
    prefix: &str,
    contact: PersonKey,
    case_person: PersonKey,
) -> Vec<Evidence> {
    let id = |name: &str| format!("{prefix}{name}");
    vec![
        case(&id("case"), case_person, t("06-01 09:00")),
        scan(
            &id("s1"),
            contact,
            "v-market",
            "410102001",
            t("06-01 08:00"),
        ),
        scan(
            &id("s2"),
            case_person,
            "v-market",
            "410102001",
            t("06-01 08:10"),
        ),
        close_contact(
            &id("cc"),
            contact,
            &id("case"),
            &[&id("s1"), &id("s2")],
            t("06-02 10:00"),
        ),
        act(
            &id("cc.ok"),
            "off-sun",
            EvidenceBody::Approval {
                target: rid(&id("cc")),
            },
            t("06-02 10:05"),
        ),
    ]
}

/// An act (approval, rejection, retraction) by an official of the city commission.
pub fn act(id: &str, by: &str, body: EvidenceBody, at: Timestamp) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: None,
        recorded_by: official(by),
        authority: authority(HEALTH),
        legal_basis: None,
        effective_at: at,
        recorded_at: at,
        body,
    }
}

/// A high-risk declaration of `division` by the city commission, approved
/// separately.
pub fn risk_area(id: &str, division: &str, at: Timestamp) -> Evidence {
    Evidence {
        seal: None,
        id: rid(id),
        subject: None,
        recorded_by: official("off-zhao"),
        authority: authority(HEALTH),
        legal_basis: Some("郑州市疫情防控指挥部通告".into()),
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::RiskArea {
            level: RiskLevel::High,
            area: RiskAreaScope::Divisions(vec![Jurisdiction::parse(division).expect("division")]),
            from: at.plus_seconds(-3 * 86_400),
            until: at.plus_seconds(86_400),
        },
    }
}

/// The authorities, officials and data sources the fixtures above name: the city's
/// health commission (`hc-4101`, officials `off-zhao` and `off-sun`) and CDC
/// (`cdc-4101`, owning the sources `lab-1` and `cdc-report`).
pub fn directory() -> Directory {
    let mut directory = Directory::default();
    for (id, name) in [
        (HEALTH, "郑州市卫生健康委员会"),
        (CDC, "郑州市疾病预防控制中心"),
    ] {
        let id = AuthorityId::parse(id).expect("authority id");
        directory.authorities.insert(
            id.clone(),
            Authority {
                id,
                name: name.into(),
                name_en: None,
                jurisdiction: Jurisdiction::parse("4101").expect("郑州市"),
                contact: None,
            },
        );
    }
    for id in ["off-zhao", "off-sun"] {
        let id = OfficialId::parse(id).expect("official id");
        directory.officials.insert(
            id.clone(),
            Official {
                id,
                authority: AuthorityId::parse(HEALTH).expect("authority id"),
            },
        );
    }
    for (id, kind, name) in [
        ("lab-1", SourceKind::Lab, "郑州金域检测"),
        (
            "cdc-report",
            SourceKind::CaseReporting,
            "郑州市传染病网络直报",
        ),
    ] {
        let id = DataSourceId::parse(id).expect("source id");
        directory.sources.insert(
            id.clone(),
            DataSource {
                id,
                kind,
                authority: AuthorityId::parse(CDC).expect("authority id"),
                name: name.into(),
            },
        );
    }
    directory
}

/// Keys for everyone `directory` names, derived from `seed` (test keys: anyone can
/// derive them), and the acts that register them, made by two admins of the city's
/// health commission on 1 May 2022. Seal a fixture with [`Founding::seal`] and
/// append the acts with [`register`] first: the engine derives only from records
/// sealed by a registered key.
pub fn founding(directory: &Directory, seed: u64) -> Founding {
    Founding::derived(
        directory,
        &AuthorityId::parse(HEALTH).expect("authority id"),
        "mingma-test/key/v1",
        seed,
        t("05-01 00:00"),
    )
}

/// Appends `founding`'s acts at the end of `store`'s log; returns their leaves.
pub async fn register<S: Store>(store: &S, founding: &Founding) -> Vec<u64> {
    let first = store.ledger_size().await.expect("ledger size");
    let mut leaves = Vec::new();
    for act in founding
        .acts(first)
        .expect("the founding acts replay cleanly")
    {
        leaves.push(
            store
                .append_act(act.to_bytes())
                .await
                .expect("act appended"),
        );
    }
    let registry = Registry::replay(store.acts(0).await.expect("acts"));
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    leaves
}

fn ids<'a>(records: impl IntoIterator<Item = &'a Evidence>) -> Vec<String> {
    records.into_iter().map(|r| r.id.to_string()).collect()
}

/// Appending the same record twice stores it once; a different record under a used
/// id is refused, and nothing of that call is written.
pub async fn appends_are_idempotent_and_conflicts_are_refused<S: Store>(store: &S) {
    let a = person(1);
    let first = store
        .append(vec![positive("t-1", a, t("06-01 10:00"))])
        .await
        .expect("append");
    assert_eq!(first.len(), 1);
    assert!(first[0].fresh);
    let again = store
        .append(vec![positive("t-1", a, t("06-01 10:00"))])
        .await
        .expect("append again");
    assert_eq!(again[0].leaf, first[0].leaf);
    assert!(!again[0].fresh, "the same record is stored once");
    assert_eq!(store.ledger_size().await.expect("size"), 1);

    let conflict = store
        .append(vec![
            positive("t-2", a, t("06-02 10:00")),
            positive("t-1", a, t("06-03 10:00")),
        ])
        .await;
    match conflict {
        Err(StoreError::Conflict { id, leaf }) => {
            assert_eq!(id.as_str(), "t-1");
            assert_eq!(leaf, first[0].leaf);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        store.record(&rid("t-2")).await.expect("read").is_none(),
        "nothing of a refused call is written"
    );
    assert_eq!(store.ledger_size().await.expect("size"), 1);
    // A scan id is unique across scans and other records too.
    let clash = store
        .append(vec![scan(
            "t-1",
            a,
            "v-market",
            "410102001",
            t("06-01 12:00"),
        )])
        .await;
    assert!(
        matches!(clash, Err(StoreError::Conflict { .. })),
        "{clash:?}"
    );
}

/// What is read back is exactly what was appended, and its leaf commits to it.
pub async fn records_read_back_exactly_and_their_leaves_commit_to_them<S: Store>(store: &S) {
    let a = person(2);
    let records = vec![
        positive("t-1", a, t("06-01 10:00")),
        scan("s-1", a, "v-market", "410102001", t("06-01 12:00")),
        Evidence {
            recorded_by: Recorder::Proxy(person(3)),
            ..scan("s-2", a, "v-market", "410102001", t("06-01 13:00"))
        },
        risk_area("ra-1", "410102", t("06-02 10:00")),
        act(
            "ra-1.ok",
            "off-sun",
            EvidenceBody::Approval {
                target: rid("ra-1"),
            },
            t("06-02 10:05"),
        ),
    ];
    let appended = store.append(records.clone()).await.expect("append");
    for (record, appended) in records.iter().zip(&appended) {
        let stored = store
            .record(&record.id)
            .await
            .expect("read")
            .expect("the record is there");
        assert_eq!(&stored.evidence, record, "{} reads back exactly", record.id);
        assert_eq!(stored.leaf, appended.leaf);
        let leaf = store
            .leaves(stored.leaf, 1)
            .await
            .expect("leaf")
            .pop()
            .expect("its leaf exists");
        assert_eq!(leaf.hash, leaf_hash(&leaf.data));
        let Ok(LedgerEntry::Record(entry)) = LedgerEntry::from_bytes(&leaf.data) else {
            panic!("leaf {} is a record entry", leaf.index);
        };
        assert_eq!(entry, LeafEntry::for_record(record, &stored.salt));
        assert_eq!(entry.commitment, commit(&stored.salt, record));
        // No personal data in the leaf.
        let subject = record.subject.map(|s| s.as_bytes().to_vec());
        if let Some(subject) = subject {
            assert!(!leaf.data.windows(32).any(|w| w == subject.as_slice()));
        }
    }
    assert!(store.record(&rid("nope")).await.expect("read").is_none());
}

/// `evidence_about` gives a person's own records, every risk area, and the acts on
/// them — and nothing about anybody else.
pub async fn evidence_about_a_person_is_what_derivation_needs<S: Store>(store: &S) {
    let (a, b) = (person(4), person(5));
    store
        .append(vec![
            case("case-b", b, t("06-01 09:00")),
            positive("t-a", a, t("06-01 10:00")),
            scan("s-a", a, "v-market", "410102001", t("06-01 12:00")),
            scan("s-b", b, "v-market", "410102001", t("06-01 12:30")),
            close_contact("cc-a", a, "case-b", &["s-a", "s-b"], t("06-02 09:00")),
            act(
                "cc-a.ok",
                "off-sun",
                EvidenceBody::Approval {
                    target: rid("cc-a"),
                },
                t("06-02 09:10"),
            ),
            risk_area("ra-1", "410102", t("06-02 10:00")),
            act(
                "ra-1.ok",
                "off-sun",
                EvidenceBody::Approval {
                    target: rid("ra-1"),
                },
                t("06-02 10:05"),
            ),
            act(
                "ret-s-b",
                "off-zhao",
                EvidenceBody::Retraction {
                    target: rid("s-b"),
                    reason: "扫错".into(),
                },
                t("06-03 10:00"),
            ),
        ])
        .await
        .expect("append");
    let about_a: BTreeSet<String> = store
        .evidence_about(a)
        .await
        .expect("read")
        .iter()
        .map(|r| r.evidence.id.to_string())
        .collect();
    let want: BTreeSet<String> = ["t-a", "s-a", "cc-a", "cc-a.ok", "ra-1", "ra-1.ok"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(about_a, want);
    let about_b: Vec<String> = store
        .evidence_about(b)
        .await
        .expect("read")
        .iter()
        .map(|r| r.evidence.id.to_string())
        .collect();
    assert_eq!(about_b, ["case-b", "s-b", "ra-1", "ra-1.ok", "ret-s-b"]);
    // Enough for derivation: the approved designation makes a red.
    let rules = RuleSet::default_rules().expect("default rules");
    let d = change_derived(store, a, t("06-03 00:00"), 0, &rules).await;
    assert_eq!(d.colour(), Colour::Red);
}

/// `evidence_for_derivation` gives, per person and in order, every record of
/// `evidence_about` below the given leaf that may matter — scans in a declared risk
/// area (or a day before it opened) — and decides exactly as `evidence_about` does.
pub async fn evidence_for_derivation_leaves_out_only_scans_that_cannot_matter<S: Store>(store: &S) {
    let (a, b, nobody) = (person(40), person(41), person(42));
    let mut records = Vec::new();
    // Scans a day apart, in and outside 二七区 (4101 03), over ten days.
    for day in 0..10u32 {
        let at = t("06-01 12:00").plus_seconds(i64::from(day) * 86_400);
        records.push(scan(&format!("s-a-{day}"), a, "v-market", "410103001", at));
        records.push(scan(
            &format!("s-a-{day}-x"),
            a,
            "v-office",
            "410102001",
            at.plus_seconds(7200),
        ));
        records.push(scan(&format!("s-b-{day}"), b, "v-office", "410102001", at));
    }
    // 二七区 high risk from 06-05 10:00 to 06-09 10:00.
    records.push(risk_area("ra-27", "410103", t("06-08 10:00")));
    records.push(act(
        "ra-27.ok",
        "off-sun",
        EvidenceBody::Approval {
            target: rid("ra-27"),
        },
        t("06-08 10:05"),
    ));
    let appended = store.append(records).await.expect("append");
    let below = appended.last().expect("appended").leaf + 1;
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    let got = store
        .evidence_for_derivation(vec![a, b, nobody], rules.clone(), below)
        .await
        .expect("read");
    assert_eq!(got.own.len(), 3);
    let inputs = got;
    let got: Vec<Vec<Evidence>> = (0..3)
        .map(|i| inputs.records_of(i).cloned().collect())
        .collect();
    for (i, (person, got)) in [a, b, nobody].into_iter().zip(&got).enumerate() {
        let all = store.evidence_about(person).await.expect("read");
        let risk_areas: Vec<Evidence> = all
            .iter()
            .filter(|r| r.evidence.kind() == EvidenceKind::RiskArea)
            .map(|r| r.evidence.clone())
            .collect();
        let all: Vec<Evidence> = all.into_iter().map(|r| r.evidence).collect();
        // Every record of their own and every scan that may matter (and, decisions
        // being equal below, whatever shared records the decisions rest on).
        let needed: Vec<String> = ids(all
            .iter()
            .filter(|r| r.subject.is_some() && may_matter(&rules, &risk_areas, r)));
        let got_ids = ids(got);
        for id in &needed {
            assert!(got_ids.contains(id), "{id} may matter but was left out");
        }
        for id in &got_ids {
            assert!(
                ids(&all).contains(id),
                "{id} is not evidence about this person"
            );
        }
        // The shared records and the person's own, each in ledger order.
        let shared: Vec<Evidence> = inputs.shared_of[i]
            .iter()
            .map(|s| inputs.shared[*s].clone())
            .collect();
        for list in [&shared, &inputs.own[i]] {
            let listed = ids(list.iter());
            let mut in_order = listed.clone();
            in_order.sort_by_key(|id| ids(&all).iter().position(|x| x == id));
            assert_eq!(listed, in_order, "not in ledger order");
        }
        for at in ["06-06 12:00", "06-10 00:00", "06-20 00:00"] {
            assert_eq!(
                derive(got, &person, t(at), t(at), &rules),
                derive(&all, &person, t(at), t(at), &rules)
            );
        }
    }
    // 李's scans in 二七区 from the day before the area opened make a code.
    assert_eq!(
        derive(&got[0], &a, t("06-08 12:00"), t("06-08 12:00"), &rules).colour,
        Colour::Red
    );
    assert!(ids(&got[0]).contains(&"s-a-4".to_string()));
    assert!(
        got[2].iter().all(|r| r.subject.is_none()),
        "nobody has only shared records"
    );
    // The records about nobody are the shared ones, in ledger order.
    let about_nobody = store.records_about_nobody().await.expect("read");
    assert_eq!(ids(about_nobody.iter()), ["ra-27", "ra-27.ok"]);
    // A store may read a few persons' scans person by person and many persons' area
    // by area: asked among many, each person gets the same inputs.
    let mut many = vec![a, b, nobody];
    many.extend((100..700u32).map(person));
    let wide = store
        .evidence_for_derivation(many, rules.clone(), below)
        .await
        .expect("read");
    for (i, got) in got.iter().enumerate() {
        assert_eq!(ids(wide.records_of(i)), ids(got), "person {i} among many");
    }
    // Nothing at or after `below`: before the declaration no scan can matter.
    let declared = appended[appended.len() - 2].leaf;
    let early = store
        .evidence_for_derivation(vec![a], rules, declared)
        .await
        .expect("read");
    assert_eq!(ids(early.records_of(0)), Vec::<String>::new());
}

/// Asked for many people at once, in any order — some twice, some never seen, some
/// with nothing of their own, their records interleaved in the log with those of
/// people not asked for — each person gets exactly their own records below the given
/// leaf, in ledger order.
pub async fn each_persons_own_records_are_read_among_many<S: Store>(store: &S) {
    // Forty people seen in this order; every fourth has only a scan (which matters
    // nowhere: no risk area is declared). Three rounds of tests, so that each
    // person's records lie apart in the log, among everyone else's.
    let people: Vec<PersonKey> = (0..40).map(|n| person(200 + n)).collect();
    let mut rounds = Vec::new();
    for round in 0..3u32 {
        let at = t("06-01 09:00").plus_seconds(i64::from(round) * 86_400);
        let mut records = Vec::new();
        for (n, who) in people.iter().enumerate() {
            let at = at.plus_seconds(n as i64);
            records.push(match n % 4 {
                3 => scan(&format!("s-{n}-{round}"), *who, "v-market", "410103001", at),
                0 if round == 1 => case(&format!("c-{n}"), *who, at),
                _ => positive(&format!("t-{n}-{round}"), *who, at),
            });
        }
        rounds.push(store.append(records).await.expect("append"));
    }
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    let size = rounds[2].last().expect("appended").leaf + 1;
    let second = rounds[1][0].leaf;
    // Neighbours with people between them not asked for, one asked twice, the ends,
    // someone with a scan only, and someone the store has never seen.
    let asked: Vec<PersonKey> = [30u32, 1, 3, 5, 5, 7, 39, 0, 12, 400]
        .into_iter()
        .map(|n| person(200 + n))
        .collect();
    for below in [size, second] {
        let inputs = store
            .evidence_for_derivation(asked.clone(), rules.clone(), below)
            .await
            .expect("read");
        assert_eq!(inputs.own.len(), asked.len());
        for (i, who) in asked.iter().enumerate() {
            let expected: Vec<Evidence> = store
                .evidence_about(*who)
                .await
                .expect("read")
                .into_iter()
                .filter(|r| r.leaf < below && r.evidence.kind() != EvidenceKind::VenueScan)
                .map(|r| r.evidence)
                .collect();
            assert_eq!(
                ids(inputs.records_of(i)),
                ids(&expected),
                "person {i} asked for below leaf {below}"
            );
        }
    }
    // The counts the loop above rests on: three records for most; none for those
    // with only scans and for the stranger.
    let all = store
        .evidence_for_derivation(asked.clone(), rules, size)
        .await
        .expect("read");
    let counts: Vec<usize> = (0..asked.len())
        .map(|i| all.records_of(i).count())
        .collect();
    assert_eq!(counts, [3, 3, 0, 3, 3, 0, 0, 3, 3, 0]);
}

/// The chunks of one [`Store::derivation_reading`] of many people — asked in order,
/// out of order, again, or reaching past the end — give each person exactly what
/// `evidence_for_derivation` gives them asked alone: their own records, their scans
/// in the declared areas (found area by area among many, person by person alone),
/// and the declarations and acts those scans need. At two points of the log: with
/// all the declarations, and before the later ones.
pub async fn chunks_of_one_reading_read_what_each_person_reads_alone<S: Store>(store: &S) {
    // 300 people (more than a store reads person by person), over four days: two of
    // every three scan in 二七区 (4101 03), everyone scans in 中原区 (4101 02), every
    // fifth has a test, and one of every seven a scan by proxy.
    let people: Vec<PersonKey> = (0..300).map(|n| person(1000 + n)).collect();
    let mut records = Vec::new();
    for day in 0..4u32 {
        let at = t("06-05 08:00").plus_seconds(i64::from(day) * 86_400);
        for (n, who) in people.iter().enumerate() {
            let at = at.plus_seconds(n as i64 * 60);
            if n % 3 != 2 {
                let mut inside = scan(&format!("r-{n}-{day}"), *who, "v-market", "410103001", at);
                if n % 7 == 0 {
                    inside.recorded_by = Recorder::Proxy(person(5000));
                }
                records.push(inside);
            }
            records.push(scan(
                &format!("r-{n}-{day}-x"),
                *who,
                "v-office",
                "410102001",
                at.plus_seconds(3600),
            ));
            if n % 5 == 0 && day == 1 {
                records.push(positive(&format!("r-t-{n}"), *who, at));
            }
        }
    }
    // Someone with a test and no scan.
    records.push(positive("r-t-only", person(8000), t("06-06 09:00")));
    // 二七区 declared, then declared again for the same window by the same
    // commission (its scans found once, for both), then 中原区 for another window.
    records.push(risk_area("r-ra-1", "410103", t("06-08 10:00")));
    records.push(act(
        "r-ra-1.ok",
        "off-sun",
        EvidenceBody::Approval {
            target: rid("r-ra-1"),
        },
        t("06-08 10:05"),
    ));
    let first = store.append(records).await.expect("append");
    let mid = first.last().expect("appended").leaf + 1;
    let mut again = risk_area("r-ra-2", "410103", t("06-08 10:00"));
    again.recorded_at = t("06-08 11:00");
    let later = store
        .append(vec![
            again,
            act(
                "r-ra-2.ok",
                "off-sun",
                EvidenceBody::Approval {
                    target: rid("r-ra-2"),
                },
                t("06-08 11:05"),
            ),
            risk_area("r-ra-3", "410102", t("06-07 10:00")),
            act(
                "r-ra-3.ok",
                "off-sun",
                EvidenceBody::Approval {
                    target: rid("r-ra-3"),
                },
                t("06-07 10:05"),
            ),
        ])
        .await
        .expect("append");
    let size = later.last().expect("appended").leaf + 1;
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    // Everyone, one twice, someone without scans, and a stranger.
    let mut asked = people.clone();
    asked.insert(150, people[10]);
    asked.insert(200, person(8000));
    asked.push(person(9999));
    let everyone: Arc<[PersonKey]> = asked.clone().into();
    for below in [size, mid] {
        let mut alone = Vec::with_capacity(asked.len());
        for who in &asked {
            let inputs = store
                .evidence_for_derivation(vec![*who], rules.clone(), below)
                .await
                .expect("read");
            alone.push(ids(inputs.records_of(0)));
        }
        let reading = Arc::new(
            store
                .derivation_reading(everyone.clone(), rules.clone(), below)
                .await
                .expect("plan"),
        );
        let len = asked.len();
        let mut ranges: Vec<std::ops::Range<usize>> = (0..len)
            .step_by(37)
            .map(|start| start..(start + 37).min(len))
            .collect();
        ranges.extend([100..160, 0..37, 290..len + 5, 0..len]);
        for range in ranges {
            let inputs = store
                .evidence_for_chunk(reading.clone(), range.clone())
                .await
                .expect("read a chunk");
            let end = range.end.min(len);
            assert_eq!(inputs.own.len(), end - range.start, "chunk {range:?}");
            for (at, expected) in alone[range.start..end].iter().enumerate() {
                assert_eq!(
                    &ids(inputs.records_of(at)),
                    expected,
                    "person {} in chunk {range:?} below leaf {below}",
                    range.start + at
                );
            }
        }
    }
    // What the loop above rests on: a scan in 二七区 with both of its declarations,
    // a scan in 中原区 with its own, a test, and nothing for the stranger; before
    // the later declarations, only the first.
    let all = store
        .evidence_for_derivation(
            vec![people[0], people[2], person(9999)],
            rules.clone(),
            size,
        )
        .await
        .expect("read");
    let first_person = ids(all.records_of(0));
    for id in ["r-0-2", "r-ra-1", "r-ra-2", "r-ra-3", "r-0-2-x", "r-t-0"] {
        assert!(
            first_person.contains(&id.to_string()),
            "{id} in {first_person:?}"
        );
    }
    // (Declarations a person's scans do not lie in may be given or not.)
    let second = ids(all.records_of(1));
    for id in ["r-2-2-x", "r-ra-3"] {
        assert!(second.contains(&id.to_string()), "{id} in {second:?}");
    }
    assert!(
        all.records_of(2).all(|r| r.subject.is_none()),
        "the stranger has nothing of their own"
    );
    let tested = store
        .evidence_for_derivation(vec![person(8000)], rules.clone(), size)
        .await
        .expect("read");
    assert_eq!(
        ids(tested.records_of(0).filter(|r| r.subject.is_some())),
        ["r-t-only"]
    );
    let early = store
        .evidence_for_derivation(vec![people[0]], rules, mid)
        .await
        .expect("read");
    let early = ids(early.records_of(0));
    assert!(early.contains(&"r-ra-1".to_string()) && !early.contains(&"r-ra-3".to_string()));
}

/// A store may keep the records about nobody between reads; whatever it keeps, a
/// declaration and its approval are seen by the very next read after each append —
/// by `records_about_nobody` and by a derivation asked below the new ledger size —
/// also while other writers append scans and records about persons at the same time.
pub async fn records_about_nobody_are_seen_as_soon_as_they_are_appended<S: Store>(store: &S) {
    let who = person(60);
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    let at = t("06-08 12:00");
    store
        .append(vec![scan("s-60", who, "v-market", "410103001", at)])
        .await
        .expect("append");
    for round in 0..6u32 {
        // Warm whatever the store keeps, then write beside it.
        let before = store.records_about_nobody().await.expect("read");
        let noise = async {
            for n in 0..5u32 {
                store
                    .append(vec![scan(
                        &format!("s-noise-{round}-{n}"),
                        person(61 + n),
                        "v-office",
                        "410102001",
                        at,
                    )])
                    .await
                    .expect("append");
            }
        };
        let area = format!("ra-{round}");
        let declare = async {
            let appended = store
                .append(vec![risk_area(&area, "410103", at)])
                .await
                .expect("append");
            // Read at once: the declaration is there.
            let after = store.records_about_nobody().await.expect("read");
            assert_eq!(
                after.len(),
                before.len() + 1,
                "round {round}: one record about nobody more"
            );
            assert!(
                ids(after.iter()).contains(&area),
                "{area} not seen after its append"
            );
            let below = appended[0].leaf + 1;
            let inputs = store
                .evidence_for_derivation(vec![who], rules.clone(), below)
                .await
                .expect("read");
            assert!(
                ids(inputs.records_of(0)).contains(&area),
                "{area} not among the derivation's shared records"
            );
            let ok = store
                .append(vec![act(
                    &format!("{area}.ok"),
                    "off-sun",
                    EvidenceBody::Approval { target: rid(&area) },
                    at.plus_seconds(60),
                )])
                .await
                .expect("append");
            let after = store.records_about_nobody().await.expect("read");
            assert!(
                ids(after.iter()).contains(&format!("{area}.ok")),
                "approval of {area} not seen"
            );
            let inputs = store
                .evidence_for_derivation(vec![who], rules.clone(), ok[0].leaf + 1)
                .await
                .expect("read");
            let shared = ids(inputs.records_of(0));
            assert!(
                shared.contains(&area) && shared.contains(&format!("{area}.ok")),
                "{area} and its approval not both among {shared:?}"
            );
        };
        tokio::join!(noise, declare);
    }
}

/// A record about nobody (a risk area, an act on one) is pending re-derivation from
/// the transaction that appends it until it is marked done; a record about a person
/// (or an act on one), a scan, or the same record appended again is not.
pub async fn records_about_nobody_are_pending_until_their_re_derivation_is_done<S: Store>(
    store: &S,
) {
    let (who, at) = (person(70), t("06-08 12:00"));
    assert_eq!(
        store.pending_derivations().await.expect("read"),
        Vec::<u64>::new()
    );
    let appended = store
        .append(vec![
            scan("s-70", who, "v-market", "410103001", at),
            positive("t-70", who, at),
            risk_area("ra-70", "410103", at),
        ])
        .await
        .expect("append");
    let area = appended[2].leaf;
    let acts = store
        .append(vec![
            act(
                "ra-70.ok",
                "off-sun",
                EvidenceBody::Approval {
                    target: rid("ra-70"),
                },
                at.plus_seconds(60),
            ),
            act(
                "t-70.no",
                "off-sun",
                EvidenceBody::Retraction {
                    target: rid("t-70"),
                    reason: "sample mixed up".into(),
                },
                at.plus_seconds(60),
            ),
        ])
        .await
        .expect("append");
    let approval = acts[0].leaf;
    assert_eq!(
        store.pending_derivations().await.expect("read"),
        vec![area, approval],
        "the risk area and its approval, not the scan, the test or the act on the test"
    );
    let again = store
        .append(vec![risk_area("ra-70", "410103", at)])
        .await
        .expect("append");
    assert!(!again[0].fresh);
    store
        .derivations_done(vec![area, approval + 1_000])
        .await
        .expect("done");
    assert_eq!(
        store.pending_derivations().await.expect("read"),
        vec![approval],
        "the same record again is not pending again, and a leaf not pending is passed over"
    );
    store.derivations_done(vec![approval]).await.expect("done");
    store
        .derivations_done(Vec::new())
        .await
        .expect("nothing done");
    assert_eq!(
        store.pending_derivations().await.expect("read"),
        Vec::<u64>::new()
    );
}

/// `derivation_changed_since` tells a kept code view whether it is out of date: true
/// after a record about the person, a record about nobody (a declaration, its
/// approval) or a scan of theirs in a declared window; false after records about
/// others and after scans of theirs outside every window.
pub async fn a_derivation_is_known_changed_by_any_record_it_would_read<S: Store>(store: &S) {
    let (who, other) = (person(70), person(71));
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    let changed = |since: u64| store.derivation_changed_since(who, rules.clone(), since);
    let size = || async { store.ledger_size().await.expect("size") };
    let append = |records: Vec<Evidence>| async move {
        store.append(records).await.expect("append");
    };
    let at = t("06-08 12:00");
    // A scan that cannot matter (no risk area yet), and records about someone else.
    let since = size().await;
    append(vec![scan("s-70", who, "v-market", "410103001", at)]).await;
    assert!(
        !changed(size().await).await.expect("read"),
        "nothing appended since"
    );
    assert!(
        !changed(since).await.expect("read"),
        "a scan outside every risk area"
    );
    append(vec![positive("t-71", other, at)]).await;
    append(vec![scan("s-71", other, "v-market", "410103001", at)]).await;
    assert!(
        !changed(since).await.expect("read"),
        "records about someone else"
    );
    // A declaration, then its approval: records about nobody.
    let since = size().await;
    append(vec![risk_area("ra-70", "410103", at)]).await;
    assert!(changed(since).await.expect("read"), "a declaration since");
    let since = size().await;
    append(vec![act(
        "ra-70.ok",
        "off-sun",
        EvidenceBody::Approval {
            target: rid("ra-70"),
        },
        at,
    )])
    .await;
    assert!(changed(since).await.expect("read"), "an approval since");
    // Scans of theirs: outside the declared window, then inside it.
    let since = size().await;
    append(vec![scan(
        "s-70-late",
        who,
        "v-market",
        "410103001",
        t("06-20 12:00"),
    )])
    .await;
    assert!(
        !changed(since).await.expect("read"),
        "a scan after the window closed"
    );
    append(vec![scan(
        "s-70-in",
        who,
        "v-market",
        "410103001",
        t("06-08 15:00"),
    )])
    .await;
    assert!(
        changed(since).await.expect("read"),
        "a scan in the declared area and window"
    );
    // A record about them.
    let since = size().await;
    assert!(!changed(since).await.expect("read"));
    append(vec![positive("t-70", who, at)]).await;
    assert!(
        changed(since).await.expect("read"),
        "a test result about them"
    );
}

/// `appended_since` names the persons whose derivation a record appended since may
/// change — a record about them, a scan of theirs in a declared window — and says
/// `everyone` after a record about nobody or an authority act; the store's answer
/// and the one from the records themselves (`appended_since_from_records`) alike.
pub async fn records_appended_are_followed_by_whom_they_concern<S: Store>(store: &S) {
    let (who, other) = (person(72), person(73));
    let rules = Arc::new(RuleSet::default_rules().expect("default rules"));
    let size = || async { store.ledger_size().await.expect("size") };
    let append = |records: Vec<Evidence>| async move {
        store.append(records).await.expect("append");
    };
    // Both answers, checked alike: (persons, everyone), and the size covers `since`.
    let followed = |since: u64| {
        let rules = rules.clone();
        async move {
            let fast = store
                .appended_since(since, rules.clone())
                .await
                .expect("read");
            let slow = crate::appended_since_from_records(store, since, rules)
                .await
                .expect("read");
            for answer in [&fast, &slow] {
                assert!(answer.size >= since, "size {} below {since}", answer.size);
            }
            // The answer from the records may be coarser (an act on a record counts
            // as everyone's), never narrower.
            assert!(
                slow.everyone || (!fast.everyone && fast.persons.is_subset(&slow.persons)),
                "the records say less than the store: {slow:?} against {fast:?}"
            );
            assert!(
                fast.everyone
                    || !fast.persons.is_empty()
                    || (slow.persons.is_empty() && !slow.everyone),
                "the records say more than the store: {slow:?} against {fast:?}"
            );
            (fast.persons.into_iter().collect::<Vec<_>>(), fast.everyone)
        }
    };
    let at = t("06-08 12:00");
    let start = size().await;
    assert_eq!(followed(start).await, (vec![], false), "nothing appended");
    // Records about them and about someone else; a scan outside every window.
    append(vec![positive("t-72", who, at)]).await;
    append(vec![scan("s-73", other, "v-market", "410103001", at)]).await;
    let mut both = vec![who, other];
    both.sort();
    assert_eq!(
        followed(start).await,
        (vec![who], false),
        "a test about them; a scan of the other's that cannot matter"
    );
    let since = size().await;
    assert_eq!(followed(since).await, (vec![], false), "nothing since");
    // A declaration: everyone's; the other's scan in its window now names them.
    append(vec![risk_area("ra-72", "410103", at)]).await;
    assert_eq!(followed(since).await, (vec![], true), "a declaration");
    let since = size().await;
    append(vec![scan(
        "s-73-in",
        other,
        "v-market",
        "410103001",
        t("06-08 15:00"),
    )])
    .await;
    append(vec![scan(
        "s-72-late",
        who,
        "v-market",
        "410103001",
        t("06-20 12:00"),
    )])
    .await;
    assert_eq!(
        followed(since).await,
        (vec![other], false),
        "a scan in the window; one after it"
    );
    // An act on a record about them concerns them; an authority act, everyone.
    let since = size().await;
    append(vec![act(
        "t-72.retracted",
        "off-sun",
        EvidenceBody::Retraction {
            target: rid("t-72"),
            reason: "entered for the wrong person".into(),
        },
        at,
    )])
    .await;
    let (persons, _) = followed(since).await;
    assert!(
        persons.contains(&who),
        "a retraction of their test: {persons:?}"
    );
    let since = size().await;
    store.append_act(b"an act".to_vec()).await.expect("act");
    assert_eq!(followed(since).await, (vec![], true), "an authority act");
    assert_eq!(followed(start).await.0, both, "everything since the start");
}

/// `stays_at_venue` finds every scan at the venue whose stay overlaps the window —
/// long stays entered well before it, stays without a recorded exit — and none
/// elsewhere.
pub async fn stays_overlapping_a_window_are_found_at_a_venue<S: Store>(store: &S) {
    let rules = RuleSet::default_rules().expect("default rules");
    let who = person(50);
    let mut records = Vec::new();
    // Stays of 10 minutes to 30 hours, entered every 50 minutes over two days, at
    // the market, and the same at the office; some without a recorded exit.
    for n in 0..60i64 {
        for (venue, street) in [("v-market", "410102001"), ("v-office", "410103001")] {
            let mut record = scan(
                &format!("st-{venue}-{n}"),
                who,
                venue,
                street,
                t("06-01 00:00").plus_seconds(n * 3000),
            );
            if let EvidenceBody::VenueScan { left_at, .. } = &mut record.body {
                *left_at = (n % 7 != 3).then(|| {
                    record
                        .effective_at
                        .plus_seconds(600 + (n * n * 1777) % (30 * 3600))
                });
            }
            records.push(record);
        }
    }
    store.append(records.clone()).await.expect("append");
    let (from, until) = (t("06-01 20:00"), t("06-01 21:00"));
    let got = ids(store
        .stays_at_venue(
            &VenueId::parse("v-market").expect("venue"),
            from,
            until,
            rules.longest_stay(),
        )
        .await
        .expect("read")
        .iter()
        .map(|r| &r.evidence));
    let want = ids(records.iter().filter(|r| {
        let (entered, left) = mingma_core::stay(&rules, r).expect("a scan");
        r.id.as_str().starts_with("st-v-market") && entered < until && from < left
    }));
    assert!(want.len() > 5, "the test needs overlapping stays: {want:?}");
    for id in &want {
        assert!(
            got.contains(id),
            "{id} overlaps the window but was not found"
        );
    }
    assert!(
        got.iter().all(|id| id.starts_with("st-v-market")),
        "{got:?}"
    );

    // The same stays, as derivation counts them (stays of 9 hours or more may be
    // rounded up to the minute).
    let rules = Arc::new(rules);
    let stays = store
        .stays_overlapping(
            &VenueId::parse("v-market").expect("venue"),
            from,
            until,
            rules.clone(),
        )
        .await
        .expect("read");
    let stored = store.records_from(0, 1_000).await.expect("read");
    let mut found = Vec::new();
    for s in &stays {
        let record = &stored
            .iter()
            .find(|r| r.leaf == s.leaf)
            .expect("a stored scan")
            .evidence;
        let (entered, left) = mingma_core::stay(&rules, record).expect("a scan");
        assert_eq!(s.person, who);
        assert_eq!(s.entered, entered, "{}", record.id);
        let late = s.left.unix_seconds() - left.unix_seconds();
        let long = left.unix_seconds() - entered.unix_seconds() >= 9 * 3600;
        assert!(
            late == 0 || (long && (0..60).contains(&late)),
            "{}: {late} s late",
            record.id
        );
        found.push(record.id.to_string());
    }
    for id in &want {
        assert!(
            found.contains(id),
            "{id} overlaps but stays_overlapping missed it"
        );
    }
    assert!(found.len() <= want.len() + 1, "{found:?} vs {want:?}");
}

/// Scans are found by venue and by person, in a time range `[from, until)`.
pub async fn scans_are_found_by_venue_and_by_person_in_a_time_range<S: Store>(store: &S) {
    let (a, b) = (person(6), person(7));
    store
        .append(vec![
            scan("s-1", a, "v-market", "410102001", t("06-01 08:00")),
            scan("s-2", b, "v-market", "410102001", t("06-01 09:00")),
            scan("s-3", a, "v-office", "410102002", t("06-01 10:00")),
            scan("s-4", a, "v-market", "410102001", t("06-02 08:00")),
        ])
        .await
        .expect("append");
    let market = VenueId::parse("v-market").expect("venue");
    let at_market = store
        .scans_at_venue(&market, t("06-01 00:00"), t("06-02 00:00"))
        .await
        .expect("read");
    assert_eq!(ids(at_market.iter().map(|r| &r.evidence)), ["s-1", "s-2"]);
    let bounds = store
        .scans_at_venue(&market, t("06-01 09:00"), t("06-02 08:00"))
        .await
        .expect("read");
    assert_eq!(
        ids(bounds.iter().map(|r| &r.evidence)),
        ["s-2"],
        "[from, until)"
    );
    let of_a = store
        .scans_of_person(a, t("06-01 00:00"), t("06-03 00:00"))
        .await
        .expect("read");
    assert_eq!(ids(of_a.iter().map(|r| &r.evidence)), ["s-1", "s-3", "s-4"]);
    assert!(store
        .scans_of_person(person(99), t("06-01 00:00"), t("06-03 00:00"))
        .await
        .expect("read")
        .is_empty());
}

/// `found` names each of `expected` once and nobody else (in the store's order of
/// people, which the contract leaves to the store).
fn assert_people(found: &[PersonKey], expected: &[PersonKey]) {
    let set: BTreeSet<PersonKey> = found.iter().copied().collect();
    assert_eq!(set.len(), found.len(), "someone is named twice: {found:?}");
    assert_eq!(set, expected.iter().copied().collect::<BTreeSet<_>>());
}

/// People are found by the venues they scanned and by the division those venues lie
/// in, during a window.
pub async fn persons_are_found_by_venues_and_by_division<S: Store>(store: &S) {
    let (a, b, c) = (person(8), person(9), person(10));
    store
        .append(vec![
            scan("s-1", a, "v-market", "410102001", t("06-01 08:00")),
            scan("s-2", b, "v-office", "410102002", t("06-01 09:00")),
            scan("s-3", c, "v-erqi", "410103001", t("06-01 10:00")),
            scan("s-4", c, "v-market", "410102001", t("06-05 10:00")),
        ])
        .await
        .expect("append");
    let venues = [
        VenueId::parse("v-market").expect("venue"),
        VenueId::parse("v-erqi").expect("venue"),
    ];
    let found = store
        .persons_at_venues(&venues, t("06-01 00:00"), t("06-02 00:00"))
        .await
        .expect("read");
    assert_people(&found, &[a, c]);
    let district = Jurisdiction::parse("410102").expect("division");
    let found = store
        .persons_in_division(district, t("06-01 00:00"), t("06-02 00:00"))
        .await
        .expect("read");
    assert_people(&found, &[a, b]);
    let street = Jurisdiction::parse("410102002").expect("division");
    let found = store
        .persons_in_division(street, t("06-01 00:00"), t("06-06 00:00"))
        .await
        .expect("read");
    assert_people(&found, &[b]);
    let city = Jurisdiction::parse("4101").expect("division");
    let found = store
        .persons_in_division(city, t("06-01 00:00"), t("06-06 00:00"))
        .await
        .expect("read");
    assert_people(&found, &[a, b, c]);
}

/// Every write is one leaf; the stored tree is the RFC 6962 tree of the leaves, and
/// every inclusion and consistency proof verifies.
pub async fn the_ledger_has_one_leaf_per_write_and_its_proofs_verify<S: Store>(store: &S) {
    let a = person(11);
    let mut expected = MemoryTree::new();
    for batch in 0..5u32 {
        let records: Vec<Evidence> = (0..7u32)
            .map(|i| {
                scan(
                    &format!("s-{batch}-{i}"),
                    a,
                    "v-market",
                    "410102001",
                    t("06-01 08:00").plus_seconds(i64::from(batch * 100 + i)),
                )
            })
            .collect();
        store.append(records).await.expect("append");
    }
    let size = store.ledger_size().await.expect("size");
    assert_eq!(size, 35);
    let leaves = store.leaves(0, 1000).await.expect("leaves");
    assert_eq!(leaves.len(), 35);
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(leaf.index, i as u64);
        assert_eq!(leaf.hash, leaf_hash(&leaf.data));
        expected.push(leaf.hash);
    }
    for s in 1..=size {
        let root = store.root(s).await.expect("root");
        assert_eq!(root, expected.root_at(s).expect("root"), "root at {s}");
    }
    let root = store.root(size).await.expect("root");
    for i in 0..size {
        let proof = store.inclusion_proof(i, size).await.expect("proof");
        verify_inclusion(&leaves[i as usize].hash, i, size, &proof, &root)
            .expect("inclusion verifies");
    }
    for s1 in 1..size {
        let proof = store.consistency_proof(s1, size).await.expect("proof");
        let r1 = store.root(s1).await.expect("root");
        verify_consistency(s1, size, &proof, &r1, &root).expect("consistency verifies");
    }
    assert!(matches!(
        store.inclusion_proof(size, size).await,
        Err(StoreError::Range(_))
    ));
    assert!(matches!(
        store.inclusion_proof(0, size + 1).await,
        Err(StoreError::Range(_))
    ));
}

/// Many writers at once: the leaves form one sequence with no gap and every record
/// appears exactly once, so a reader following the log from a position never skips.
pub async fn concurrent_writers_leave_a_sequence_without_gaps<S: Store>(store: &S) {
    let mut tasks = Vec::new();
    for w in 0..8u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25u32 {
                let id = format!("s-{w}-{i}");
                store
                    .append(vec![scan(
                        &id,
                        person(100 + w),
                        "v-market",
                        "410102001",
                        t("06-01 08:00").plus_seconds(i64::from(i)),
                    )])
                    .await
                    .expect("append");
            }
        }));
    }
    // A follower reads while the writers write.
    let follower = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut next = 0u64;
            let mut seen = Vec::new();
            while next < 200 {
                let leaves = store.leaves(next, 64).await.expect("leaves");
                for leaf in leaves {
                    assert_eq!(leaf.index, next, "no leaf is skipped");
                    next += 1;
                    seen.push(leaf.hash);
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for task in tasks {
        task.await.expect("writer");
    }
    let seen = follower.await.expect("follower");
    assert_eq!(seen.len(), 200);
    assert_eq!(store.ledger_size().await.expect("size"), 200);
    let mut ids = BTreeSet::new();
    for leaf in store.leaves(0, 500).await.expect("leaves") {
        let Ok(LedgerEntry::Record(entry)) = LedgerEntry::from_bytes(&leaf.data) else {
            panic!("record leaf");
        };
        assert!(ids.insert(entry.record.to_string()), "each record once");
    }
    assert_eq!(ids.len(), 200);
}

/// A write refused inside a group commit does not undo the others of the group.
pub async fn a_refused_write_does_not_undo_another_in_the_same_group<S: Store>(store: &S) {
    let a = person(12);
    store
        .append(vec![positive("t-1", a, t("06-01 10:00"))])
        .await
        .expect("append");
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let new_scan = |id: String| {
                scan(
                    &id,
                    a,
                    "v-market",
                    "410102001",
                    t("06-01 12:00").plus_seconds(i64::from(i)),
                )
            };
            let records = if i % 2 == 0 {
                // Refused whole: a new scan (and a new person) before the conflict
                // must not stay behind.
                vec![
                    new_scan(format!("s-refused-{i}")),
                    scan(
                        &format!("s-refused-{i}-b"),
                        person(100 + i),
                        &format!("v-new-{i}"),
                        "410102001",
                        t("06-01 12:00"),
                    ),
                    positive("t-1", a, t("06-09 10:00")),
                ]
            } else {
                vec![new_scan(format!("s-{i}"))]
            };
            (i, store.append(records).await)
        }));
    }
    for task in tasks {
        let (i, result) = task.await.expect("task");
        if i % 2 == 0 {
            assert!(
                matches!(result, Err(StoreError::Conflict { .. })),
                "{i}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
        }
    }
    assert_eq!(store.ledger_size().await.expect("size"), 11);
    for i in (0..20u32).step_by(2) {
        for id in [format!("s-refused-{i}"), format!("s-refused-{i}-b")] {
            assert!(
                store.record(&rid(&id)).await.expect("read").is_none(),
                "{id} was part of a refused append"
            );
        }
        let nobody = store
            .scans_of_person(person(100 + i), t("06-01 00:00"), t("06-02 00:00"))
            .await
            .expect("read");
        assert!(
            nobody.is_empty(),
            "a refused scan of person {} is indexed",
            100 + i
        );
    }
    let seen = store
        .scans_of_person(a, t("06-01 00:00"), t("06-02 00:00"))
        .await
        .expect("read");
    assert_eq!(seen.len(), 10, "the ten accepted scans, indexed");
    let root = store.root(11).await.expect("root");
    let leaves = store.leaves(0, 100).await.expect("leaves");
    let tree = MemoryTree::from_leaf_hashes(leaves.iter().map(|l| l.hash));
    assert_eq!(tree.root(), root);
}

/// The change `who`'s code makes when derived at `at` from what the store holds
/// about them, reflecting the first `size` leaves.
pub async fn change_derived<S: Store>(
    store: &S,
    who: PersonKey,
    at: Timestamp,
    size: u64,
    rules: &RuleSet,
) -> CodeChange {
    let evidence: Vec<Evidence> = store
        .evidence_about(who)
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.evidence)
        .collect();
    CodeChange::from_decision(derive(&evidence, &who, at, at, rules), size)
}

/// Asserts that `who`, and only they, fall due at `at` and nobody a second before.
pub async fn assert_due_from<S: Store>(store: &S, who: PersonKey, at: Timestamp) {
    assert!(store
        .codes_due(at.plus_seconds(-1))
        .await
        .expect("due")
        .is_empty());
    assert_eq!(store.codes_due(at).await.expect("due"), [who]);
}

/// The changes derived for each of `whom` at `at`, in that order.
async fn changes_derived<S: Store>(
    store: &S,
    whom: &[PersonKey],
    at: Timestamp,
    size: u64,
    rules: &RuleSet,
) -> Vec<CodeChange> {
    let mut changes = Vec::with_capacity(whom.len());
    for who in whom {
        changes.push(change_derived(store, *who, at, size, rules).await);
    }
    changes
}

/// A person falls due when the next change of the code in force is reached, and
/// only then: a change a later one replaced is never due, whatever its next change
/// said.
pub async fn only_codes_in_force_fall_due<S: Store>(store: &S) {
    let rules = RuleSet::default_rules().expect("default rules");
    let (contact, case_person, bystander) = (person(21), person(22), person(23));
    store
        .append(designated_contact("due-", contact, case_person))
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let changes = changes_derived(
        store,
        &[contact, case_person, bystander],
        t("06-02 11:00"),
        size,
        &rules,
    )
    .await;
    store
        .record_code_changes(changes, size)
        .await
        .expect("record")
        .expect("a batch");
    let red = store
        .code_state(contact)
        .await
        .expect("read")
        .expect("a state");
    let (next_at, _) = red
        .change
        .next_change()
        .expect("a close contact's red code ends by itself");
    assert_due_from(store, contact, next_at).await;
    // The designation retracted: the contact's code in force is green, with no
    // next change; the red change's next change no longer makes anyone due.
    store
        .append(vec![act(
            "due-cc.x",
            "off-sun",
            EvidenceBody::Retraction {
                target: rid("due-cc"),
                reason: "designated by mistake".into(),
            },
            t("06-03 09:00"),
        )])
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let green = change_derived(store, contact, t("06-03 10:00"), size, &rules).await;
    assert_eq!(green.colour(), Colour::Green);
    assert_eq!(green.next_change(), None);
    store
        .record_code_changes(vec![green], size)
        .await
        .expect("record")
        .expect("a change");
    assert!(store
        .codes_due(next_at.plus_seconds(86_400))
        .await
        .expect("due")
        .is_empty());
    assert_eq!(
        store.code_changes_of(contact).await.expect("history").len(),
        2
    );
}

/// Code changes from decisions are one leaf per batch, committing to the batch's
/// changes; re-recording the same decisions changes nothing.
pub async fn code_changes_are_batched_and_idempotent<S: Store>(store: &S) {
    let rules = RuleSet::default_rules().expect("default rules");
    let (a, b) = (person(13), person(14));
    store
        .append(vec![positive("t-a", a, t("06-01 10:00"))])
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let decisions = changes_derived(store, &[a, b], t("06-02 00:00"), size, &rules).await;
    // A change reflecting another ledger size than its batch is refused, and
    // nothing is recorded.
    let mut stale = decisions.clone();
    stale.push(CodeChange::from_decision(
        derive(&[], &person(77), t("06-02 00:00"), t("06-02 00:00"), &rules),
        size - 1,
    ));
    assert!(store.record_code_changes(stale, size).await.is_err());
    assert_eq!(store.ledger_size().await.expect("size"), size);
    assert!(store.code_state(a).await.expect("read").is_none());
    let recorded = store
        .record_code_changes(decisions.clone(), size)
        .await
        .expect("record")
        .expect("a batch leaf");
    // Counted by new colour: b green, a red.
    assert_eq!(recorded.changed, [1, 0, 1]);
    let leaf = recorded.leaf;
    let state_a = store
        .code_state(a)
        .await
        .expect("read")
        .expect("a has a state");
    assert_eq!(state_a.change.colour(), Colour::Red);
    assert_eq!(state_a.change.reason(), Some("positive_test"));
    assert_eq!(state_a.leaf, leaf);
    let state_b = store
        .code_state(b)
        .await
        .expect("read")
        .expect("b has a state");
    assert_eq!(state_b.change.colour(), Colour::Green);
    // The leaf commits to the batch.
    let data = store.leaves(leaf, 1).await.expect("leaf").remove(0).data;
    let Ok(LedgerEntry::CodeChanges(batch)) = LedgerEntry::from_bytes(&data) else {
        panic!("a code-change leaf");
    };
    assert_eq!(batch.count, 2);
    assert_eq!(batch.reflects, size);
    let changes = store.code_change_batch(leaf).await.expect("batch");
    let tree = MemoryTree::from_leaf_hashes(
        changes
            .iter()
            .map(|c| leaf_hash(&c.change.commitment(&c.salt))),
    );
    assert_eq!(tree.root(), batch.root);
    // Again: nothing changes, nothing is logged.
    let before = store.ledger_size().await.expect("size");
    assert_eq!(
        store
            .record_code_changes(decisions, size)
            .await
            .expect("record"),
        None
    );
    assert_eq!(store.ledger_size().await.expect("size"), before);
    assert_eq!(store.code_states().await.expect("states").len(), 2);
    // Derived again later from the same records: another `valid_at`, the same
    // code, nothing recorded.
    let again = changes_derived(store, &[a, b], t("06-02 12:00"), size, &rules).await;
    assert_eq!(
        store
            .record_code_changes(again, size)
            .await
            .expect("record"),
        None
    );
    // b tests positive: a second change, in b's history after the first; a's
    // history holds its one change, a stranger's none.
    store
        .append(vec![positive("t-b", b, t("06-03 10:00"))])
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let later = change_derived(store, b, t("06-04 00:00"), size, &rules).await;
    assert_eq!(later.colour(), Colour::Red);
    let second = store
        .record_code_changes(vec![later], size)
        .await
        .expect("record")
        .expect("a second batch");
    assert_eq!(second.changed, [0, 0, 1]);
    let second = second.leaf;
    let history = store.code_changes_of(b).await.expect("history");
    let at: Vec<(u64, u64)> = history.iter().map(|c| (c.leaf, c.position)).collect();
    assert_eq!(at, [(leaf, state_b.position), (second, 0)]);
    assert_eq!(history[0].change, state_b.change);
    assert_eq!(history[1].change.colour(), Colour::Red);
    let of_a = store.code_changes_of(a).await.expect("history");
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].change, state_a.change);
    assert!(store
        .code_changes_of(person(99))
        .await
        .expect("history")
        .is_empty());
    // a tests positive again: the same colour, since, reason, owners and rule set,
    // one more decisive record — a change all the same.
    store
        .append(vec![positive("t-a2", a, t("06-04 10:00"))])
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let third = store
        .record_code_changes(
            vec![change_derived(store, a, t("06-05 00:00"), size, &rules).await],
            size,
        )
        .await
        .expect("record")
        .expect("more decisive evidence is a change");
    assert_eq!(third.changed, [0, 0, 1]);
    let now_a = store
        .code_state(a)
        .await
        .expect("read")
        .expect("a has a state");
    assert_eq!(now_a.leaf, third.leaf);
    assert_eq!(now_a.change.decisive().len(), 2);
    assert_eq!(now_a.change.since(), state_a.change.since());
    assert_eq!(now_a.change.reason(), state_a.change.reason());
    assert_eq!(now_a.change.owners(), state_a.change.owners());
    // A batch keeps the order it was given in, whatever order the store keeps
    // persons in: f is seen first, e given first.
    let (e, f) = (person(16), person(17));
    store
        .append(vec![positive("t-f", f, t("06-05 10:00"))])
        .await
        .expect("append");
    store
        .append(vec![positive("t-e", e, t("06-05 11:00"))])
        .await
        .expect("append");
    let size = store.ledger_size().await.expect("size");
    let given = changes_derived(store, &[e, f], t("06-06 00:00"), size, &rules).await;
    let fourth = store
        .record_code_changes(given.clone(), size)
        .await
        .expect("record")
        .expect("a fourth batch")
        .leaf;
    let batch = store.code_change_batch(fourth).await.expect("batch");
    let order: Vec<(PersonKey, u64)> = batch
        .iter()
        .map(|c| (c.change.person(), c.position))
        .collect();
    assert_eq!(order, [(e, 0), (f, 1)]);
    for (who, change, position) in [(e, &given[0], 0), (f, &given[1], 1)] {
        let state = store.code_state(who).await.expect("read").expect("a state");
        assert_eq!((state.leaf, state.position), (fourth, position));
        assert_eq!(&state.change, change);
    }
}

/// A checkpoint is stored only for the log's own root at its size.
pub async fn checkpoints_must_match_the_log<S: Store>(store: &S) {
    let a = person(15);
    store
        .append(vec![
            positive("t-1", a, t("06-01 10:00")),
            positive("t-2", a, t("06-02 10:00")),
        ])
        .await
        .expect("append");
    let root = store.root(2).await.expect("root");
    store
        .add_checkpoint(StoredCheckpoint {
            size: 2,
            root,
            note: "note at 2".into(),
        })
        .await
        .expect("a true checkpoint is stored");
    let wrong = store
        .add_checkpoint(StoredCheckpoint {
            size: 1,
            root,
            note: "wrong root".into(),
        })
        .await;
    assert!(matches!(wrong, Err(StoreError::Checkpoint(_))), "{wrong:?}");
    let beyond = store
        .add_checkpoint(StoredCheckpoint {
            size: 3,
            root,
            note: "beyond".into(),
        })
        .await;
    assert!(
        matches!(beyond, Err(StoreError::Checkpoint(_))),
        "{beyond:?}"
    );
    let stored = store.checkpoints().await.expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].note, "note at 2");
}

/// A purge deletes old scans, keeps those a live designation refers to, records one
/// leaf listing what it removed, and leaves every leaf in place.
pub async fn purges_remove_old_scans_but_keep_referenced_ones_and_are_logged<S: Store>(store: &S) {
    let (a, b) = (person(16), person(17));
    store
        .append(vec![
            scan("s-old", a, "v-market", "410102001", t("05-01 10:00")),
            scan("s-kept", a, "v-market", "410102001", t("05-02 10:00")),
            scan("s-case", b, "v-market", "410102001", t("05-02 10:30")),
            case("case-b", b, t("05-25 10:00")),
            close_contact("cc-a", a, "case-b", &["s-kept", "s-case"], t("05-26 09:00")),
            scan("s-new", a, "v-market", "410102001", t("05-30 10:00")),
        ])
        .await
        .expect("append");
    let size_before = store.ledger_size().await.expect("size");
    let root_before = store.root(size_before).await.expect("root");
    let report = store.purge_scans(t("05-20 00:00")).await.expect("purge");
    assert_eq!(report.removed, vec![0]);
    assert_eq!(report.kept_referenced, 2);
    let leaf = report.leaf.expect("a purge leaf");
    assert_eq!(leaf, size_before);
    assert!(store.record(&rid("s-old")).await.expect("read").is_none());
    assert!(store.record(&rid("s-kept")).await.expect("read").is_some());
    assert!(store.record(&rid("s-new")).await.expect("read").is_some());
    let data = store.leaves(leaf, 1).await.expect("leaf").remove(0).data;
    assert_eq!(
        LedgerEntry::from_bytes(&data),
        Ok(LedgerEntry::Purge(crate::Purge { leaves: vec![0] }))
    );
    // The log still holds every leaf and extends the old tree.
    let size = store.ledger_size().await.expect("size");
    let proof = store
        .consistency_proof(size_before, size)
        .await
        .expect("proof");
    let root = store.root(size).await.expect("root");
    verify_consistency(size_before, size, &proof, &root_before, &root).expect("append-only");
    // Nothing more to purge: no leaf.
    let again = store.purge_scans(t("05-20 00:00")).await.expect("purge");
    assert_eq!(again.leaf, None);
    // A purged record's id stays taken: its data does not come back under it.
    let back = store
        .append(vec![scan(
            "s-old",
            a,
            "v-market",
            "410102001",
            t("05-01 10:00"),
        )])
        .await;
    assert!(
        matches!(back, Err(StoreError::Conflict { leaf: 0, .. })),
        "{back:?}"
    );
}

/// Expands to one `#[tokio::test]` per case of the tamper suite ([`tamper`]), each
/// making its stores with `$make`: an expression (it may `.await`) giving a fresh,
/// empty [`tamper::Tamper`] of the backend.
#[macro_export]
macro_rules! tamper_tests {
    ($make:expr) => {
        $crate::tamper_tests!(@each $make;
            an_untouched_store_verifies,
            each_tampering_is_found_and_names_the_leaf,
            swapped_rows_are_found_at_both_leaves,
            a_row_inserted_outside_the_ledger_is_found,
            a_forged_tree_node_or_leaf_is_found,
            a_forged_code_state_or_checkpoint_is_found,
            code_states_pointed_at_each_other_are_found,
        );
    };
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::contract::tamper::$name(|| async { $make }).await;
            }
        )+
    };
}

/// `ledger verify` against a store altered behind Mingma's back: every change to a
/// stored row, a deleted or swapped row, a back-dated record, a forged row, a forged
/// tree node, a forged checkpoint or code state is found and named.
///
/// The suite is the same for every backend; a backend gives a fresh store and a way
/// to run SQL on its database directly ([`Tamper`]). The tampering statements use
/// only the tables and columns both schemas share (`records`, `scans`,
/// `ledger_leaves`, `ledger_nodes`, `code_changes`, `checkpoints`), with byte
/// strings written by [`Tamper::blob`].
pub mod tamper {
    use std::future::Future;

    use mingma_core::canonical::canonical_bytes;
    use mingma_core::{EvidenceBody, RuleSet};
    use mingma_ledger::{Checkpoint, CheckpointSigner, NoteVerifier, SigningKey};

    use super::{act, change_derived, person, positive, rid, risk_area, scan, t};
    use crate::{verify, Finding, LogIdentity, Store, StoreError, StoredCheckpoint, VerifyReport};

    const ORIGIN: &str = "mingma.test/log";

    /// A fresh store of a backend, and a way behind its back.
    pub trait Tamper: Send + Sync {
        /// The backend.
        type Store: Store;
        /// The store.
        fn store(&self) -> &Self::Store;
        /// Runs `sql` (one or more statements) on the store's database directly, as
        /// someone with database access would; panics if it fails.
        fn tamper(&self, sql: &str) -> impl Future<Output = ()> + Send;
        /// `bytes` as a literal of the backend's SQL.
        fn blob(&self, bytes: &[u8]) -> String;
    }

    /// Lower-case hexadecimal, for [`Tamper::blob`].
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    struct Fixture<T> {
        target: T,
        verifier: NoteVerifier,
        rules: RuleSet,
    }

    impl<T: Tamper> Fixture<T> {
        async fn verify(&self) -> VerifyReport {
            verify(
                self.target.store(),
                Some(LogIdentity {
                    verifier: &self.verifier,
                    origin: ORIGIN,
                }),
                &self.rules,
                None,
            )
            .await
            .expect("verification runs")
        }

        async fn tamper(&self, sql: &str) {
            self.target.tamper(sql).await;
        }

        async fn leaf_of(&self, id: &str) -> u64 {
            self.target
                .store()
                .record(&rid(id))
                .await
                .expect("read")
                .expect("a stored record")
                .leaf
        }
    }

    /// A store with records, scans, a risk area, a code-change batch and a signed
    /// checkpoint.
    async fn fixture<T: Tamper, F: Future<Output = T>>(make: impl Fn() -> F) -> Fixture<T> {
        let target = make().await;
        let store = target.store();
        let rules = RuleSet::default_rules().expect("rules");
        let (a, b) = (person(1), person(2));
        store
            .append(vec![
                positive("t-a", a, t("06-01 10:00")),
                scan("s-a", a, "v-market", "410102001", t("06-01 12:00")),
                scan("s-b", b, "v-market", "410102001", t("06-01 12:30")),
                risk_area("ra-1", "410102", t("06-02 10:00")),
                act(
                    "ra-1.ok",
                    "off-sun",
                    EvidenceBody::Approval {
                        target: rid("ra-1"),
                    },
                    t("06-02 10:05"),
                ),
                positive("t-c", person(3), t("06-01 11:00")),
            ])
            .await
            .expect("append");
        let size = store.ledger_size().await.expect("size");
        let mut decisions = Vec::new();
        for who in [a, b] {
            decisions.push(change_derived(store, who, t("06-03 00:00"), size, &rules).await);
        }
        store
            .record_code_changes(decisions, size)
            .await
            .expect("record")
            .expect("changes");
        let signer = CheckpointSigner::new("mingma.test", SigningKey::from_bytes(&[42; 32]))
            .expect("signer");
        let size = store.ledger_size().await.expect("size");
        let root = store.root(size).await.expect("root");
        let note = signer
            .sign_checkpoint(&Checkpoint::new(ORIGIN, size, root))
            .expect("sign");
        store
            .add_checkpoint(StoredCheckpoint { size, root, note })
            .await
            .expect("checkpoint");
        Fixture {
            target,
            verifier: signer.verifier(),
            rules,
        }
    }

    fn first_leaf_finding(report: &VerifyReport) -> Option<u64> {
        report.findings.iter().find_map(|f| match f {
            Finding::Leaf { index, .. } => Some(*index),
            _ => None,
        })
    }

    /// The untouched fixture verifies clean.
    pub async fn an_untouched_store_verifies<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(make).await;
        let report = f.verify().await;
        assert!(report.is_clean(), "{:#?}", report.findings);
        assert_eq!(report.leaves, 7);
        assert_eq!(report.records, 6);
        assert_eq!(report.batches, 1);
        assert_eq!(report.code_states, 2);
        assert_eq!(report.histories, 2);
        assert_eq!(report.checkpoints, 1);
    }

    /// One byte changed, a scan deleted, a record back-dated, a scan moved in time, a
    /// record moved to another leaf, a salt replaced: each is found, and the first
    /// leaf named is the victim's.
    pub async fn each_tampering_is_found_and_names_the_leaf<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        // (what, the record whose leaf must be named)
        let cases = [
            ("one byte of a stored record changed", "t-a"),
            ("a scan deleted", "s-b"),
            ("a record back-dated", "s-a"),
            ("a scan moved to another time", "s-a"),
            ("a record moved to another leaf", "t-a"),
            ("a salt replaced", "t-c"),
        ];
        for (what, victim) in cases {
            let f = fixture(&make).await;
            let leaf = f.leaf_of(victim).await;
            let sql = match what {
                "one byte of a stored record changed" => {
                    let stored = f
                        .target
                        .store()
                        .record(&rid(victim))
                        .await
                        .expect("read")
                        .expect("stored");
                    let mut bytes = canonical_bytes(&stored.evidence);
                    let at = bytes
                        .windows(5)
                        .position(|w| w == b"lab-1")
                        .expect("the lab's id is in the record");
                    bytes[at + 4] = b'2';
                    format!(
                        "UPDATE records SET canonical = {} WHERE id = '{victim}'",
                        f.target.blob(&bytes)
                    )
                }
                "a scan deleted" => format!("DELETE FROM scans WHERE id = '{victim}'"),
                "a record back-dated" => format!(
                    "UPDATE scans SET recorded_at = recorded_at - 86400 WHERE id = '{victim}'"
                ),
                "a scan moved to another time" => {
                    format!("UPDATE scans SET entered = entered - 3600 WHERE id = '{victim}'")
                }
                "a record moved to another leaf" => {
                    format!("UPDATE records SET leaf = leaf + 1000 WHERE id = '{victim}'")
                }
                _ => format!(
                    "UPDATE records SET salt = {} WHERE id = '{victim}'",
                    f.target.blob(&[0; 32])
                ),
            };
            f.tamper(&sql).await;
            let report = f.verify().await;
            assert!(!report.is_clean(), "{what}: not found");
            assert_eq!(
                first_leaf_finding(&report),
                Some(leaf),
                "{what}: first finding names leaf {leaf}: {:#?}",
                report.findings
            );
        }
    }

    /// Two record rows swapping leaves are found at both.
    pub async fn swapped_rows_are_found_at_both_leaves<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(make).await;
        let (a, c) = (f.leaf_of("t-a").await, f.leaf_of("t-c").await);
        f.tamper(&format!(
            "UPDATE records SET leaf = -1 WHERE leaf = {a};
             UPDATE records SET leaf = {a} WHERE leaf = {c};
             UPDATE records SET leaf = {c} WHERE leaf = -1;"
        ))
        .await;
        let report = f.verify().await;
        let named: Vec<u64> = report
            .findings
            .iter()
            .filter_map(|f| match f {
                Finding::Leaf { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert!(
            named.contains(&a) && named.contains(&c),
            "{:#?}",
            report.findings
        );
    }

    /// A row with no leaf of its own is found at the leaf it claims.
    pub async fn a_row_inserted_outside_the_ledger_is_found<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(make).await;
        f.tamper(
            "INSERT INTO records (leaf, id, kind, about, canonical, salt)
             SELECT 999, 'forged', kind, about, canonical, salt FROM records WHERE id = 't-a'",
        )
        .await;
        let report = f.verify().await;
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Leaf { index: 999, .. })),
            "{:#?}",
            report.findings
        );
    }

    /// A forged node breaks the tree, a forged leaf hash names the leaf, and a leaf
    /// rewritten with a matching hash breaks the signed checkpoint.
    pub async fn a_forged_tree_node_or_leaf_is_found<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(&make).await;
        f.tamper(&format!(
            "UPDATE ledger_nodes SET hash = {} WHERE level = 1 AND idx = 0",
            f.target.blob(&[0; 32])
        ))
        .await;
        let report = f.verify().await;
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Tree { .. })),
            "{:#?}",
            report.findings
        );

        let f = fixture(&make).await;
        f.tamper(&format!(
            "UPDATE ledger_leaves SET hash = {} WHERE idx = 2",
            f.target.blob(&[0; 32])
        ))
        .await;
        assert_eq!(first_leaf_finding(&f.verify().await), Some(2));

        // Rewriting a leaf and its hash consistently still breaks the signed checkpoint.
        let f = fixture(&make).await;
        let data = f
            .target
            .store()
            .leaves(1, 1)
            .await
            .expect("leaf")
            .pop()
            .expect("leaf 1")
            .data;
        let mut forged = data.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let hash = mingma_ledger::leaf_hash(&forged);
        f.tamper(&format!(
            "UPDATE ledger_leaves SET data = {}, hash = {} WHERE idx = 1",
            f.target.blob(&forged),
            f.target.blob(hash.as_bytes())
        ))
        .await;
        let report = f.verify().await;
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Checkpoint { .. })),
            "{:#?}",
            report.findings
        );
        assert_eq!(first_leaf_finding(&report), Some(1));
    }

    /// A stored code state turned green is found by re-derivation (and its batch no
    /// longer matches its leaf); a checkpoint note altered is found.
    pub async fn a_forged_code_state_or_checkpoint_is_found<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(&make).await;
        // Turn person 2's stored red (a stay in the high-risk area) into green.
        f.tamper("UPDATE code_changes SET colour = 0, reason = NULL WHERE position = 1")
            .await;
        let report = f.verify().await;
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::CodeState { person: p, .. } if *p == person(2))),
            "{:#?}",
            report.findings
        );
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Leaf { .. })),
            "the batch no longer matches its leaf"
        );

        let f = fixture(&make).await;
        f.tamper(
            "UPDATE checkpoints SET note = REPLACE(note, 'mingma.test/log', 'mingma.test/other')",
        )
        .await;
        let report = f.verify().await;
        assert!(
            report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Checkpoint { .. })),
            "{:#?}",
            report.findings
        );
    }

    /// Two people's code states pointed at each other's changes (each change
    /// untouched, so every batch still matches its leaf and each change re-derives):
    /// neither store shows either person the other's code, and verification names
    /// both.
    pub async fn code_states_pointed_at_each_other_are_found<T: Tamper, F: Future<Output = T>>(
        make: impl Fn() -> F,
    ) {
        let f = fixture(&make).await;
        f.tamper("UPDATE code_states SET position = 1 - position")
            .await;
        for who in [person(1), person(2)] {
            let read = f.target.store().code_state(who).await;
            assert!(
                matches!(read, Err(StoreError::Corrupt(_))),
                "{who:?} is shown {read:?}"
            );
        }
        let report = f.verify().await;
        for who in [person(1), person(2)] {
            assert!(
                report
                    .findings
                    .iter()
                    .any(|f| matches!(f, Finding::CodeState { person: p, .. } if *p == who)),
                "{who:?}: {:#?}",
                report.findings
            );
        }
        assert!(
            !report
                .findings
                .iter()
                .any(|f| matches!(f, Finding::Leaf { .. })),
            "{:#?}",
            report.findings
        );
    }
}

/// The load both backends' ledger benchmarks run, so their figures compare.
pub mod bench {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{person, scan, t};
    use crate::Store;

    /// People the generated scans belong to.
    pub const PEOPLE: u32 = 997;
    /// Venues the generated scans are at.
    pub const VENUES: u64 = 5_000;

    /// The value at fraction `p` of `sorted` (zero when empty).
    pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    /// A repeatable xorshift sequence of leaf indexes.
    pub struct Picks(pub u64);

    impl Picks {
        /// The next index below `size` (which must not be 0).
        pub fn next(&mut self, size: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % size
        }
    }

    /// Appends `leaves` scans durably from `writers` concurrent tasks in calls of
    /// `batch`, spread over `stores` (one per node); prints appends/s and the p50/p99
    /// time per call; returns how many were appended.
    pub async fn append_scans<S: Store>(
        stores: &[S],
        leaves: u64,
        batch: u64,
        writers: u64,
    ) -> u64 {
        // People and venue ids are made once, so the clock measures the store.
        let people: Arc<Vec<_>> = Arc::new((0..PEOPLE).map(person).collect());
        let venues: Arc<Vec<String>> = Arc::new((0..VENUES).map(|v| format!("v-{v}")).collect());
        let per_writer = leaves / batch / writers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = stores[(w % stores.len() as u64) as usize].clone();
            let (people, venues) = (people.clone(), venues.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_writer as usize);
                for c in 0..per_writer {
                    let first = (w * per_writer + c) * batch;
                    let records = (first..first + batch)
                        .map(|n| {
                            scan(
                                &format!("s-{n}"),
                                people[(n % u64::from(PEOPLE)) as usize],
                                &venues[(n % VENUES) as usize],
                                "410102001",
                                t("06-01 08:00").plus_seconds((n % 1_000_000) as i64),
                            )
                        })
                        .collect();
                    let sent = Instant::now();
                    store.append(records).await.expect("append");
                    latencies.push(sent.elapsed());
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("writer"));
        }
        let elapsed = start.elapsed();
        let appended = per_writer * writers * batch;
        latencies.sort();
        println!(
            "durable appends: {appended} in {:.1} s = {:.0} appends/s; per call of {batch}: p50 {:.1} ms, p99 {:.1} ms",
            elapsed.as_secs_f64(),
            appended as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
        appended
    }

    /// Times 10,000 inclusion proofs of random leaves through the async API and
    /// prints the median and p99; returns the log's size.
    pub async fn time_proofs<S: Store>(store: &S) -> u64 {
        let size = store.ledger_size().await.expect("size");
        let mut picks = Picks(0x9e37_79b9_7f4a_7c15);
        let mut times = Vec::new();
        for _ in 0..10_000 {
            let index = picks.next(size);
            let started = Instant::now();
            let proof = store.inclusion_proof(index, size).await.expect("proof");
            times.push(started.elapsed());
            assert!(!proof.is_empty() || size == 1);
        }
        times.sort();
        println!(
            "inclusion proofs at {size} leaves: median {:.1} µs, p99 {:.1} µs (10,000 random leaves, through the async API)",
            percentile(&times, 0.5).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6,
        );
        size
    }
}

/// A record's seal is stored and read back with it (and is not part of what its
/// leaf commits to); authority acts are leaves of their own, read back in order.
pub async fn seals_and_authority_acts_are_kept_exactly<S: Store>(store: &S) {
    let mut sealed = positive("sealed-1", person(1), t("06-01 10:00"));
    sealed.seal = Some(mingma_core::Seal {
        key: [7; 8],
        signature: [8; 64],
    });
    let plain = positive("plain-1", person(2), t("06-01 10:00"));
    store
        .append(vec![sealed.clone(), plain.clone()])
        .await
        .expect("append");
    let first = store.append_act(b"first act".to_vec()).await.expect("act");
    store
        .append(vec![positive("plain-2", person(3), t("06-01 11:00"))])
        .await
        .expect("append");
    let step = store
        .append_appeal(b"an appeal step".to_vec())
        .await
        .expect("appeal step");
    assert!(store.append_appeal(Vec::new()).await.is_err());
    let second = store.append_act(b"second act".to_vec()).await.expect("act");
    assert!(first < step && step < second);
    assert_eq!(store.ledger_size().await.expect("size"), second + 1);

    let back = store
        .record(&sealed.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(back.evidence, sealed, "the seal reads back exactly");
    let back = store
        .record(&plain.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(back.evidence.seal, None);
    let about = store.evidence_about(person(1)).await.expect("read");
    assert_eq!(about.first().map(|r| r.evidence.seal), Some(sealed.seal));
    let inputs = store
        .evidence_for_derivation(
            vec![person(1)],
            Arc::new(RuleSet::default_rules().expect("default rules")),
            u64::MAX,
        )
        .await
        .expect("inputs");
    assert_eq!(
        inputs.records_of(0).map(|r| r.seal).collect::<Vec<_>>(),
        vec![sealed.seal]
    );

    store
        .append(vec![scan(
            "scan-1",
            person(1),
            "sc-1",
            "410102001",
            t("06-01 12:00"),
        )])
        .await
        .expect("append");
    let listed: Vec<String> = store
        .records_except_scans_from(0, 100)
        .await
        .expect("records")
        .into_iter()
        .map(|r| r.evidence.id.to_string())
        .collect();
    assert_eq!(
        listed,
        ["sealed-1", "plain-1", "plain-2"],
        "no scans, in leaf order"
    );
    assert_eq!(
        store.acts(0).await.expect("acts"),
        vec![
            (first, b"first act".to_vec()),
            (second, b"second act".to_vec())
        ]
    );
    assert_eq!(
        store.acts(first + 1).await.expect("acts"),
        vec![(second, b"second act".to_vec())]
    );
    let leaf = store.leaves(first, 1).await.expect("leaf");
    assert_eq!(
        leaf.first().map(|l| LedgerEntry::from_bytes(&l.data)),
        Some(Ok(LedgerEntry::Act(b"first act".to_vec())))
    );
    let leaf = store.leaves(step, 1).await.expect("leaf");
    assert_eq!(
        leaf.first().map(|l| LedgerEntry::from_bytes(&l.data)),
        Some(Ok(LedgerEntry::Appeal(b"an appeal step".to_vec()))),
        "an appeal step is a leaf of its own type, not an act"
    );
    let rules = RuleSet::default_rules().expect("default rules");
    let report = crate::verify(store, None, &rules, None)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{:?}", report.findings);
}
