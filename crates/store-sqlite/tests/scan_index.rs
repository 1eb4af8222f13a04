//! The in-memory scan indexes: rebuilt on reopen to answer as before, blind to scans
//! of rolled-back writes, forgetting purged scans, and returning late scans in entry
//! order.

use std::collections::BTreeSet;

use mingma_core::{Evidence, Jurisdiction, PersonKey, Recorder, Timestamp, VenueId};
use mingma_store::contract::{act, person, positive, rid, risk_area, scan, t};
use mingma_store::{Store, StoreError, StoredRecord};
use mingma_store_sqlite::SqliteStore;

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mingma-sqlite-scan-index-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn db(&self) -> std::path::PathBuf {
        self.0.join("mingma.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn venue(id: &str) -> VenueId {
    VenueId::parse(id).expect("venue")
}

fn ids(records: &[StoredRecord]) -> Vec<String> {
    records.iter().map(|r| r.evidence.id.to_string()).collect()
}

/// Everything the scan queries answer about a few people and venues, to compare a
/// store before and after reopening.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    at_venue: Vec<Vec<StoredRecord>>,
    of_person: Vec<Vec<StoredRecord>>,
    about: Vec<Vec<StoredRecord>>,
    at_venues: Vec<PersonKey>,
    in_division: Vec<Vec<PersonKey>>,
}

async fn answers(store: &SqliteStore, people: &[PersonKey], venues: &[&str]) -> Answers {
    let (from, until) = (t("05-01 00:00"), t("07-01 00:00"));
    let mut at_venue = Vec::new();
    for v in venues {
        at_venue.push(
            store
                .scans_at_venue(&venue(v), from, until)
                .await
                .expect("read"),
        );
    }
    let mut of_person = Vec::new();
    let mut about = Vec::new();
    for p in people {
        of_person.push(store.scans_of_person(*p, from, until).await.expect("read"));
        about.push(store.evidence_about(*p).await.expect("read"));
    }
    let venue_ids: Vec<VenueId> = venues.iter().map(|v| venue(v)).collect();
    let at_venues = store
        .persons_at_venues(&venue_ids, from, until)
        .await
        .expect("read");
    let mut in_division = Vec::new();
    for division in ["41", "4101", "410102", "410102001", "410103001"] {
        in_division.push(
            store
                .persons_in_division(
                    Jurisdiction::parse(division).expect("division"),
                    from,
                    until,
                )
                .await
                .expect("read"),
        );
    }
    Answers {
        at_venue,
        of_person,
        about,
        at_venues,
        in_division,
    }
}

/// Scans of three people at three venues on two streets, some entered late, one
/// by a proxy, and a test result.
fn scans() -> Vec<Evidence> {
    let (a, b, c) = (person(21), person(22), person(23));
    vec![
        scan("s-1", a, "v-market", "410102001", t("06-01 08:00")),
        scan("s-2", b, "v-market", "410102001", t("06-01 09:00")),
        scan("s-3", a, "v-office", "410102002", t("06-01 10:00")),
        // Late: entered before scans already stored.
        scan("s-4", c, "v-market", "410102001", t("06-01 07:00")),
        Evidence {
            recorded_by: Recorder::Proxy(person(24)),
            ..scan("s-5", a, "v-erqi", "410103001", t("06-01 06:00"))
        },
        positive("t-a", a, t("06-02 10:00")),
        scan("s-6", b, "v-market", "410102001", t("06-01 09:00")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_rebuilt_on_reopen_and_answers_as_before() {
    let dir = TempDir::new("reopen");
    let people = [person(21), person(22), person(23), person(24)];
    let venues = ["v-market", "v-office", "v-erqi", "v-nowhere"];
    let before = {
        let store = SqliteStore::open(dir.db()).expect("open");
        store.append(scans()).await.expect("append");
        let answers = answers(&store, &people, &venues).await;
        assert_eq!(
            ids(&answers.at_venue[0]),
            ["s-4", "s-1", "s-2", "s-6"],
            "entry order, then leaf order"
        );
        assert_eq!(ids(&answers.of_person[0]), ["s-5", "s-1", "s-3"]);
        assert_eq!(
            ids(&answers.about[0]),
            ["s-1", "s-3", "s-5", "t-a"],
            "evidence about a person is in ledger order"
        );
        assert_eq!(
            BTreeSet::from_iter(answers.at_venues.clone()),
            BTreeSet::from([people[0], people[1], people[2]])
        );
        assert_eq!(answers.in_division[1], answers.at_venues);
        assert_eq!(
            BTreeSet::from_iter(answers.in_division[3].clone()),
            BTreeSet::from([people[0], people[1], people[2]])
        );
        assert_eq!(answers.in_division[4], [people[0]]);
        assert_eq!(store.scan_index_stats().scans, 6);
        answers
    };
    let store = SqliteStore::open(dir.db()).expect("reopen");
    assert_eq!(store.scan_index_stats().scans, 6);
    let after = answers(&store, &people, &venues).await;
    assert_eq!(after, before);
    // And it keeps up after reopening.
    store
        .append(vec![scan(
            "s-7",
            person(24),
            "v-market",
            "410102001",
            t("06-01 08:30"),
        )])
        .await
        .expect("append");
    let at_market = store
        .scans_at_venue(&venue("v-market"), t("06-01 00:00"), t("06-02 00:00"))
        .await
        .expect("read");
    assert_eq!(ids(&at_market), ["s-4", "s-1", "s-7", "s-2", "s-6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_scans_are_not_shown_and_purged_scans_are_forgotten() {
    let dir = TempDir::new("rollback");
    let (a, b, ghost) = (person(31), person(32), person(33));
    let day = (t("05-01 00:00"), t("07-01 00:00"));
    {
        let store = SqliteStore::open(dir.db()).expect("open");
        store
            .append(vec![
                positive("t-1", a, t("06-01 10:00")),
                scan("s-old", a, "v-market", "410102001", t("05-01 10:00")),
                scan("s-a", a, "v-market", "410102001", t("06-01 10:00")),
            ])
            .await
            .expect("append");
        // Refused in the same call as a conflict: its scan was inserted, then rolled
        // back (the group, then the write retried alone).
        let refused = store
            .append(vec![
                scan("s-ghost", ghost, "v-ghost", "410102002", t("06-01 11:00")),
                positive("t-1", a, t("06-09 10:00")),
            ])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "{refused:?}"
        );
        // Refused writes among accepted ones committed in the same groups.
        let mut tasks = Vec::new();
        for i in 0..40u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let records = if i % 2 == 0 {
                    vec![
                        scan(
                            &format!("s-ghost-{i}"),
                            person(33),
                            "v-market",
                            "410102001",
                            t("06-01 12:00"),
                        ),
                        positive("t-1", person(31), t("06-09 10:00")),
                    ]
                } else {
                    vec![scan(
                        &format!("s-b-{i}"),
                        person(32),
                        "v-market",
                        "410102001",
                        t("06-01 12:00").plus_seconds(i64::from(i)),
                    )]
                };
                (i, store.append(records).await)
            }));
        }
        for task in tasks {
            let (i, result) = task.await.expect("task");
            assert_eq!(result.is_ok(), i % 2 == 1, "{i}: {result:?}");
        }
        check_ghosts(&store, ghost, b).await;
        assert_eq!(store.scan_index_stats().scans, 22);

        let report = store.purge_scans(t("05-20 00:00")).await.expect("purge");
        assert_eq!(report.removed.len(), 1);
        check_purged(&store, a, day).await;
    }
    let store = SqliteStore::open(dir.db()).expect("reopen");
    check_ghosts(&store, ghost, b).await;
    check_purged(&store, a, day).await;
    assert_eq!(store.scan_index_stats().scans, 21);
}

async fn check_ghosts(store: &SqliteStore, ghost: PersonKey, b: PersonKey) {
    let day = (t("06-01 00:00"), t("06-02 00:00"));
    assert!(store
        .scans_of_person(ghost, day.0, day.1)
        .await
        .expect("read")
        .is_empty());
    assert!(store
        .scans_at_venue(&venue("v-ghost"), day.0, day.1)
        .await
        .expect("read")
        .is_empty());
    assert!(store.record(&rid("s-ghost")).await.expect("read").is_none());
    let at_market = store
        .scans_at_venue(&venue("v-market"), day.0, day.1)
        .await
        .expect("read");
    assert_eq!(
        at_market.len(),
        21,
        "s-a and the 20 accepted: {:?}",
        ids(&at_market)
    );
    assert!(ids(&at_market).iter().all(|id| !id.starts_with("s-ghost")));
    let market = [venue("v-market"), venue("v-ghost")];
    let seen = store
        .persons_at_venues(&market, day.0, day.1)
        .await
        .expect("read");
    assert_eq!(BTreeSet::from_iter(seen), BTreeSet::from([person(31), b]));
    let district = Jurisdiction::parse("410102").expect("division");
    let seen = store
        .persons_in_division(district, day.0, day.1)
        .await
        .expect("read");
    assert_eq!(BTreeSet::from_iter(seen), BTreeSet::from([person(31), b]));
    assert!(store
        .evidence_about(ghost)
        .await
        .expect("read")
        .iter()
        .all(|r| r.evidence.subject != Some(ghost)));
}

async fn check_purged(store: &SqliteStore, a: PersonKey, (from, until): (Timestamp, Timestamp)) {
    assert_eq!(
        ids(&store.scans_of_person(a, from, until).await.expect("read")),
        ["s-a"]
    );
    let at_market = store
        .scans_at_venue(&venue("v-market"), from, t("06-01 11:00"))
        .await
        .expect("read");
    assert_eq!(ids(&at_market), ["s-a"]);
    let about: Vec<String> = ids(&store.evidence_about(a).await.expect("read"));
    assert_eq!(about, ["t-1", "s-a"]);
    let early = store
        .persons_at_venues(&[venue("v-market")], from, t("05-02 00:00"))
        .await
        .expect("read");
    assert!(early.is_empty(), "the purged scan no longer places anybody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_scans_are_returned_in_entry_order() {
    let dir = TempDir::new("late");
    let a = person(41);
    let store = SqliteStore::open(dir.db()).expect("open");
    // Entry times out of order across calls and within one; two at the same time.
    let times = [
        ("s-1", "06-01 12:00"),
        ("s-2", "06-01 08:00"),
        ("s-3", "06-01 15:00"),
        ("s-4", "06-01 09:00"),
        ("s-5", "06-01 09:00"),
        ("s-6", "05-31 23:00"),
    ];
    for chunk in times.chunks(2) {
        let records = chunk
            .iter()
            .map(|(id, at)| scan(id, a, "v-market", "410102001", t(at)))
            .collect();
        store.append(records).await.expect("append");
    }
    let want = ["s-6", "s-2", "s-4", "s-5", "s-1", "s-3"];
    let (from, until) = (t("05-01 00:00"), t("07-01 00:00"));
    let check = |store: SqliteStore| async move {
        let at = store
            .scans_at_venue(&venue("v-market"), from, until)
            .await
            .expect("read");
        assert_eq!(ids(&at), want);
        let of = store.scans_of_person(a, from, until).await.expect("read");
        assert_eq!(ids(&of), want);
        let entered: Vec<_> = of.iter().map(|r| r.evidence.effective_at).collect();
        assert!(entered.is_sorted());
        // [from, until) on entry times.
        let window = store
            .scans_of_person(a, t("06-01 09:00"), t("06-01 12:00"))
            .await
            .expect("read");
        assert_eq!(ids(&window), ["s-4", "s-5"]);
    };
    check(store.clone()).await;
    drop(store);
    check(SqliteStore::open(dir.db()).expect("reopen")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_disk_scan_indexes_are_gone_and_a_corrupt_scan_is_named_at_open() {
    let dir = TempDir::new("corrupt");
    {
        let store = SqliteStore::open(dir.db()).expect("open");
        store
            .append(vec![
                positive("t-1", person(51), t("06-01 10:00")),
                scan("s-1", person(51), "v-market", "410102001", t("06-01 10:00")),
            ])
            .await
            .expect("append");
    }
    let conn = rusqlite::Connection::open(dir.db()).expect("open behind the store's back");
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'scans' AND sql IS NOT NULL")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("read schema");
    assert!(indexes.is_empty(), "{indexes:?}");
    conn.execute("UPDATE scans SET entered = 12 WHERE id = 's-1'", [])
        .expect("tamper");
    drop(conn);
    match SqliteStore::open(dir.db()) {
        Err(StoreError::Corrupt(what)) => assert!(what.contains("leaf 1"), "{what}"),
        Err(other) => panic!("expected a corrupt scan, got {other}"),
        Ok(_) => panic!("expected a corrupt scan, the store opened"),
    }
}

/// Derivation inputs give a person their scans in a risk area however many times
/// they are asked for in one read, found person by person (a few people) or through
/// the venue index (many): the scan rows are read once and handed to each asking.
#[tokio::test]
async fn a_person_asked_for_twice_in_one_read_gets_their_scans_both_times() {
    let dir = TempDir::new("asked-twice");
    let store = SqliteStore::open(dir.db()).expect("open");
    let (a, b) = (person(1), person(2));
    let records = vec![
        scan("s-a", a, "v-market", "410103001", t("06-07 12:00")),
        scan("s-a-2", a, "v-market", "410103001", t("06-08 09:00")),
        scan("s-a-out", a, "v-office", "410102001", t("06-07 13:00")),
        scan("s-b", b, "v-market", "410103001", t("06-07 15:00")),
        risk_area("ra-27", "410103", t("06-08 10:00")),
        act(
            "ra-27.ok",
            "off-sun",
            mingma_core::EvidenceBody::Approval {
                target: rid("ra-27"),
            },
            t("06-08 10:05"),
        ),
    ];
    store.append(records).await.expect("append");
    let rules = std::sync::Arc::new(mingma_core::RuleSet::default_rules().expect("rules"));
    let scans_of = |own: &[Evidence]| -> Vec<String> {
        own.iter()
            .filter(|r| r.kind() == mingma_core::EvidenceKind::VenueScan)
            .map(|r| r.id.to_string())
            .collect()
    };
    // Unknown people make the read large enough to go through the venue index.
    for extra in [0u32, 300] {
        let mut asked = vec![a, b, a];
        asked.extend((1000..1000 + extra).map(person));
        let got = store
            .evidence_for_derivation(asked, rules.clone(), u64::MAX)
            .await
            .expect("read");
        assert_eq!(scans_of(&got.own[0]), ["s-a", "s-a-2"], "{extra} extra");
        assert_eq!(scans_of(&got.own[1]), ["s-b"], "{extra} extra");
        assert_eq!(got.own[2], got.own[0], "{extra} extra");
        assert_eq!(got.shared_of[2], got.shared_of[0], "{extra} extra");
    }
}
