//! The outbreak response reads of the engine: contact tracing by overlapping stays,
//! and re-deriving the people a risk-area declaration can affect.

use mingma_core::{Colour, Evidence, EvidenceBody, RuleSet, Span, Timestamp};
use mingma_engine::Engine;
use mingma_store::contract::{act, directory, founding, person, register, rid, risk_area, scan, t};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

/// A market scan from `entered` to `left` (no recorded exit: `None`).
fn stay(id: &str, who: u32, venue: &str, entered: &str, left: Option<&str>) -> Evidence {
    let mut record = scan(id, person(who), venue, "410102001", t(entered));
    if let EvidenceBody::VenueScan { left_at, .. } = &mut record.body {
        *left_at = left.map(t);
    }
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_finds_the_stays_that_overlap_the_cases_within_the_margin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("m.sqlite")).expect("open");
    store
        .append(vec![
            // The case: at the market 10:00-11:00 on 06-01, at the office on 06-02.
            stay("case-m", 1, "v-market", "06-01 10:00", Some("06-01 11:00")),
            stay("case-o", 1, "v-office", "06-02 09:00", Some("06-02 09:20")),
            // Overlapping at the market.
            stay("a", 2, "v-market", "06-01 10:30", Some("06-01 10:45")),
            // Within the 30 minutes after the case left.
            stay("b", 3, "v-market", "06-01 11:20", Some("06-01 11:40")),
            // After the margin.
            stay("c", 4, "v-market", "06-01 11:31", Some("06-01 12:30")),
            // Entered long before and still there (an office-length stay).
            stay("d", 5, "v-market", "06-01 02:00", Some("06-01 10:05")),
            // No recorded exit: the market's assumed hour, 09:15-10:15.
            stay("e", 6, "v-market", "06-01 09:15", None),
            // No recorded exit, 08:00-09:00: ended before the margin opened.
            stay("f", 7, "v-market", "06-01 08:00", None),
            // Same time, another venue.
            stay("g", 8, "v-office", "06-01 10:30", Some("06-01 10:45")),
            // At the office with the case the next day.
            stay("h", 9, "v-office", "06-02 09:10", Some("06-02 09:11")),
        ])
        .await
        .expect("append");
    let engine = Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
    let contacts = engine
        .trace(
            person(1),
            t("06-01 00:00"),
            t("06-03 00:00"),
            Span::minutes(30),
        )
        .await
        .expect("trace");
    let mut found: Vec<(u32, Vec<String>)> = Vec::new();
    for c in &contacts {
        let who = (2..10)
            .find(|n| person(*n) == c.person)
            .expect("a known person");
        let mut scans = Vec::new();
        for o in &c.overlaps {
            let record = store.records_from(o.contact_leaf, 1).await.expect("read");
            scans.push(record[0].evidence.id.to_string());
        }
        found.push((who, scans));
    }
    found.sort();
    let want: Vec<(u32, Vec<String>)> = vec![
        (2, vec!["a".into()]),
        (3, vec!["b".into()]),
        (5, vec!["d".into()]),
        (6, vec!["e".into()]),
        (9, vec!["h".into()]),
    ];
    assert_eq!(found, want);
    let b = &contacts
        .iter()
        .find(|c| c.person == person(3))
        .expect("b")
        .overlaps[0];
    assert_eq!((b.from, b.until), (t("06-01 11:20"), t("06-01 11:30")));
    assert_eq!(b.case_scan, rid("case-m"));
    // Only the office stay lies in a window of the second day.
    let later = engine
        .trace(
            person(1),
            t("06-02 00:00"),
            t("06-03 00:00"),
            Span::minutes(30),
        )
        .await
        .expect("trace");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].person, person(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_declaration_turns_exactly_the_people_with_a_stay_in_it_red() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("m.sqlite")).expect("open");
    let mut records = Vec::new();
    // 40 people; person n visits 中原区 (410102) on day n % 10 of June and 二七区
    // (410103) every day.
    for n in 0..40u32 {
        let day = Timestamp::parse("2022-06-01T12:00:00+08:00")
            .expect("time")
            .plus_seconds(i64::from(n % 10) * 86_400);
        records.push(scan(&format!("z-{n}"), person(n), "v-zy", "410102001", day));
        for d in 0..10 {
            let at = t("06-01 15:00").plus_seconds(d * 86_400);
            records.push(scan(
                &format!("e-{n}-{d}"),
                person(n),
                "v-eq",
                "410103001",
                at,
            ));
        }
    }
    store.append(records).await.expect("append");
    let engine = Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
    let everyone: Vec<_> = (0..40).map(person).collect();
    let first = engine
        .rederive(&everyone, t("06-11 00:00"))
        .await
        .expect("derive");
    assert_eq!(first.changed, [40, 0, 0], "everyone starts green");

    // 中原区 high risk from 06-05 10:00 to 06-09 10:00 (declared 06-08 10:00), by
    // officials whose keys the ledger's authority acts registered.
    let declaration = declare_zhongyuan(&store).await;
    let affected = engine.affected_by(&declaration).await.expect("affected");
    // Visits on June 5-8 at 12:00 (days 4-7) lie in the window; June 4 12:00 lies in
    // the day before it, where a long stay could still reach into it.
    let want: Vec<_> = (0..40)
        .filter(|n| (3..=7).contains(&(n % 10)))
        .map(person)
        .collect();
    assert_eq!(affected.len(), want.len(), "each person once");
    assert!(want.iter().all(|p| affected.contains(p)));
    let now = t("06-08 12:00");
    let done = engine.rederive(&affected, now).await.expect("rederive");
    // A one-hour market stay on June 4 ended before the window opened.
    assert_eq!(done.changed, [0, 0, 16], "{done:?}");
    for n in 0..40u32 {
        let state = store
            .code_state(person(n))
            .await
            .expect("state")
            .expect("a code");
        let red = (4..=7).contains(&(n % 10));
        assert_eq!(state.change.colour() == Colour::Red, red, "person {n}");
    }
    // Deriving again changes nothing.
    let again = engine.rederive(&affected, now).await.expect("rederive");
    assert_eq!(again.batch, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_with_a_missing_or_forged_seal_colour_no_code_and_verification_names_them() {
    use mingma_authority::sealed;
    use mingma_store::contract::{case, close_contact};
    use mingma_store::{verify, Finding};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("m.sqlite")).expect("open");
    let founding = founding(&directory(), 1);
    register(&store, &founding).await;
    let case_person = person(2);
    let designate =
        |id: &str, who: u32| close_contact(id, person(who), "case-1", &[], t("06-02 10:00"));
    let approve = |id: &str| {
        founding.seal(act(
            &format!("{id}.ok"),
            "off-sun",
            EvidenceBody::Approval { target: rid(id) },
            t("06-02 10:05"),
        ))
    };
    // Someone with database access, but without the officials' keys.
    let stranger = mingma_store::contract::founding(&directory(), 666);
    let off_sun = founding
        .signers
        .official(&mingma_core::OfficialId::parse("off-sun").expect("id"))
        .expect("a key")
        .clone();
    store
        .append(vec![
            founding.seal(case("case-1", case_person, t("06-01 09:00"))),
            // Sealed by off-zhao's registered key: counts.
            founding.seal(designate("cc-sealed", 5)),
            approve("cc-sealed"),
            // No seal at all.
            designate("cc-unsealed", 1),
            approve("cc-unsealed"),
            // Sealed by a key nobody registered, claiming off-zhao.
            stranger.seal(designate("cc-forged", 3)),
            approve("cc-forged"),
            // Sealed by a colleague's registered key: still not off-zhao's.
            sealed(designate("cc-borrowed", 4), &off_sun),
            approve("cc-borrowed"),
        ])
        .await
        .expect("append");
    let rules = RuleSet::default_rules().expect("rules");
    let engine = Engine::new(store.clone(), rules.clone());
    let now = t("06-02 12:00");
    engine
        .rederive(
            &[person(1), case_person, person(3), person(4), person(5)],
            now,
        )
        .await
        .expect("derive");
    let colour = |n: u32| {
        let store = store.clone();
        async move {
            store
                .code_state(person(n))
                .await
                .expect("read")
                .expect("a code")
                .change
                .colour()
        }
    };
    assert_eq!(
        colour(5).await,
        Colour::Red,
        "the sealed designation counts"
    );
    assert_eq!(colour(2).await, Colour::Red, "the sealed case counts");
    for n in [1, 3, 4] {
        assert_eq!(colour(n).await, Colour::Green, "person {n}");
    }

    // Verification with the engine's seal checks names exactly the three records.
    let seals = engine.seal_check();
    let report = verify(&store, None, &rules, Some(&seals))
        .await
        .expect("verify");
    let named: Vec<String> = report
        .findings
        .iter()
        .map(|f| match f {
            Finding::Leaf { problem, .. } => problem.clone(),
            other => format!("{other}"),
        })
        .collect();
    assert_eq!(named.len(), 3, "{named:#?}");
    assert!(
        named[0].contains("does not count and colours no code")
            && named[0].contains("record cc-unsealed: unsigned"),
        "{named:#?}"
    );
    assert!(
        named[1].contains("record cc-forged: signed by key")
            && named[1].contains("which is not registered"),
        "{named:#?}"
    );
    assert!(
        named[2].contains("record cc-borrowed: recorded by official off-zhao but signed by key")
            && named[2].contains("of official off-sun"),
        "{named:#?}"
    );
}

/// A store with 30 people who each visit 中原区 (410102) on day n % 10 of June, with
/// the district declared high-risk from 06-05 10:00 to 06-09 10:00.
async fn declared_district(path: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(path).expect("open");
    let mut records = Vec::new();
    for n in 0..30u32 {
        let day = t("06-01 12:00").plus_seconds(i64::from(n % 10) * 86_400);
        records.push(scan(&format!("z-{n}"), person(n), "v-zy", "410102001", day));
    }
    store.append(records).await.expect("append");
    declare_zhongyuan(&store).await;
    store
}

/// Declares 中原区 (410102) high-risk from 06-05 10:00 to 06-09 10:00 (declared 06-08
/// 10:00, approved 10:05) by officials whose keys the ledger's authority acts
/// registered; returns the declaration.
async fn declare_zhongyuan(store: &SqliteStore) -> Evidence {
    register(store, &founding(&directory(), 1)).await;
    declare_zhongyuan_as(store, "ra-zy").await
}

/// The declaration of [`declare_zhongyuan`] recorded (again) as `id`, the founding
/// officials' keys already registered.
async fn declare_zhongyuan_as(store: &SqliteStore, id: &str) -> Evidence {
    let founding = founding(&directory(), 1);
    let declaration = founding.seal(risk_area(id, "410102", t("06-08 10:00")));
    store
        .append(vec![
            declaration.clone(),
            founding.seal(act(
                &format!("{id}.ok"),
                "off-sun",
                EvidenceBody::Approval { target: rid(id) },
                t("06-08 10:05"),
            )),
        ])
        .await
        .expect("declare");
    declaration
}

/// Past 4,096 changes in one batch the SQLite writer widens its page cache for the
/// batch and narrows it after; the same area declared twice for the same window is
/// looked up once for both. Every code must still cite both declarations, the batch
/// hold every change, and deriving again record nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_declared_twice_turns_thousands_red_citing_both_declarations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("m.sqlite")).expect("open");
    let people = 5_000u32;
    let records: Vec<Evidence> = (0..people)
        .map(|n| {
            let at = t("06-06 09:00").plus_seconds(i64::from(n % 600) * 60);
            scan(&format!("z-{n}"), person(n), "v-zy", "410102001", at)
        })
        .collect();
    store.append(records).await.expect("append");
    let first = declare_zhongyuan(&store).await;
    let second = declare_zhongyuan_as(&store, "ra-zy-again").await;
    // Chunks well above the by-person threshold (256), so found by area.
    let engine =
        Engine::new(store.clone(), RuleSet::default_rules().expect("rules")).with_chunks(1_000, 2);
    let affected = engine.affected_by(&second).await.expect("affected");
    assert_eq!(affected.len(), people as usize);
    let now = t("06-08 12:00");
    let done = engine.rederive(&affected, now).await.expect("rederive");
    assert_eq!(done.changed, [0, 0, people as usize], "{done:?}");
    let batch = store
        .code_change_batch(done.batch.expect("a batch"))
        .await
        .expect("batch");
    assert_eq!(batch.len(), people as usize);
    for state in &batch {
        let cited = state.change.decisive();
        assert!(
            cited.contains(&first.id) && cited.contains(&second.id),
            "{:?} cites {cited:?}",
            state.change.person()
        );
    }
    assert_eq!(
        engine.rederive(&affected, now).await.expect("again").batch,
        None
    );
    // The writer goes on writing after narrowing its cache again.
    store
        .append(vec![scan("z-late", person(0), "v-zy", "410102001", now)])
        .await
        .expect("append after the batch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rederivation_in_many_chunks_at_once_records_what_one_chunk_does() {
    let (one, many) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let rules = || RuleSet::default_rules().expect("rules");
    let one = Engine::new(
        declared_district(&one.path().join("m.sqlite")).await,
        rules(),
    )
    .with_chunks(1_000, 1);
    // Ten chunks of three people, four at once: they finish in any order.
    let many = Engine::new(
        declared_district(&many.path().join("m.sqlite")).await,
        rules(),
    )
    .with_chunks(3, 4);
    // The people in an order of their own, one of them twice.
    let mut people: Vec<_> = (0..30u32).rev().map(person).collect();
    people.insert(7, person(12));
    let now = t("06-08 12:00");
    let by_one = one.rederive(&people, now).await.expect("rederive");
    let by_many = many.rederive(&people, now).await.expect("rederive");
    assert_eq!(by_one.changed, [18, 0, 12], "{by_one:?}");
    assert_eq!(
        (by_many.derived, by_many.changed),
        (by_one.derived, by_one.changed)
    );
    let batch = |engine: &Engine<SqliteStore>, leaf: Option<u64>| {
        let store = engine.store().clone();
        async move {
            let leaf = leaf.expect("a batch");
            let states = store.code_change_batch(leaf).await.expect("batch");
            states
                .into_iter()
                .map(|s| (s.position, s.change))
                .collect::<Vec<_>>()
        }
    };
    let recorded = batch(&one, by_one.batch).await;
    // In the order asked for, each person once.
    let mut seen = std::collections::BTreeSet::new();
    let order: Vec<_> = people.iter().copied().filter(|p| seen.insert(*p)).collect();
    assert_eq!(
        recorded.iter().map(|(_, c)| c.person()).collect::<Vec<_>>(),
        order
    );
    assert_eq!(batch(&many, by_many.batch).await, recorded);
    // And the same again: nothing to record.
    assert_eq!(
        many.rederive(&people, now).await.expect("rederive").batch,
        None
    );
}

/// A declaration and its approval appended with no re-derivation after them — the
/// process crashed, or restarted, between the two, or an import stored them — stay
/// pending, and catching up re-derives exactly the codes they change and marks them
/// done; catching up again does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_whose_re_derivation_was_cut_off_is_caught_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = declared_district(&dir.path().join("m.sqlite")).await;
    let engine = Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
    let pending = store.pending_derivations().await.expect("pending");
    assert_eq!(pending.len(), 2, "the declaration and its approval");
    for n in 0..30u32 {
        assert!(
            store.code_state(person(n)).await.expect("state").is_none(),
            "nothing was derived yet"
        );
    }

    let now = t("06-08 12:00");
    let done = engine.catch_up(now).await.expect("catch up");
    // Visits on June 4-8 lie in the window or just before it (see
    // `a_district_declaration_turns_exactly_the_people_with_a_stay_in_it_red`): 15
    // people affected, of whom the 12 who visited on June 5-8 turn red.
    assert_eq!(done.derived, 15, "{done:?}");
    assert_eq!(done.changed, [3, 0, 12], "{done:?}");
    for n in 0..30u32 {
        let state = store.code_state(person(n)).await.expect("state");
        let red = (4..=7).contains(&(n % 10));
        assert_eq!(
            state.map(|s| s.change.colour() == Colour::Red),
            (3..=7).contains(&(n % 10)).then_some(red),
            "person {n}"
        );
    }
    assert_eq!(
        store.pending_derivations().await.expect("pending"),
        Vec::<u64>::new()
    );
    assert_eq!(
        engine.catch_up(now).await.expect("again"),
        Default::default(),
        "nothing is pending any more"
    );
}
