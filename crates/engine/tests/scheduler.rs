//! Time-driven changes: when a window ends, the code changes with nobody writing
//! evidence, and the scheduler records that change exactly once — also when it runs
//! twice, late, or after the store was closed and reopened.

use mingma_core::{Colour, RuleSet, Span};
use mingma_engine::Engine;
use mingma_store::contract::{
    designated_contact, directory, founding, person, register, rid, scan, t,
};
use mingma_store::{verify, Store};
use mingma_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_contacts_code_changes_by_itself_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("mingma.sqlite");
    let (contact, case_person) = (person(1), person(2));
    let rules = RuleSet::default_rules().expect("rules");
    {
        let store = SqliteStore::open(&db).expect("open");
        // The case report and the designation count only sealed by keys that the
        // ledger's authority acts registered.
        let founding = founding(&directory(), 1);
        register(&store, &founding).await;
        let records = designated_contact("", contact, case_person);
        store
            .append(records.into_iter().map(|r| founding.seal(r)).collect())
            .await
            .expect("append");
        let engine = Engine::new(store.clone(), rules.clone());
        let first = engine
            .rederive(&[contact, case_person], t("06-02 11:00"))
            .await
            .expect("derive");
        assert_eq!(first.changed, [0, 0, 2], "both red");
        let state = store
            .code_state(contact)
            .await
            .expect("read")
            .expect("state");
        assert_eq!(state.change.colour(), Colour::Red);
        assert_eq!(
            state.change.next_change(),
            Some((t("06-09 10:00"), Colour::Yellow))
        );

        // Nothing is due before the 7 days end.
        let size = store.ledger_size().await.expect("size");
        assert_eq!(
            engine.run_due(t("06-05 00:00")).await.expect("pass").batch,
            None
        );
        assert_eq!(store.ledger_size().await.expect("size"), size);

        // Late, at 06-09 10:30: the change to yellow, since 10:00, recorded once.
        let pass = engine.run_due(t("06-09 10:30")).await.expect("pass");
        assert_eq!(pass.changed, [0, 1, 0]);
        assert!(pass.batch.is_some());
        let state = store
            .code_state(contact)
            .await
            .expect("read")
            .expect("state");
        assert_eq!(state.change.colour(), Colour::Yellow);
        assert_eq!(state.change.since(), Some(t("06-09 10:00")));
        assert_eq!(
            state.change.next_change(),
            Some((t("06-12 10:00"), Colour::Green))
        );
        let size = store.ledger_size().await.expect("size");
        assert_eq!(
            engine.run_due(t("06-09 10:31")).await.expect("pass").batch,
            None
        );
        // The same decision again, explicitly: no second record.
        assert_eq!(
            engine
                .rederive(&[contact], t("06-09 11:00"))
                .await
                .expect("derive")
                .batch,
            None
        );
        assert_eq!(store.ledger_size().await.expect("size"), size);
    }
    // Closed and reopened (as after a crash): the change is not recorded again, and
    // the next one falls due as planned.
    let store = SqliteStore::open(&db).expect("reopen");
    let engine = Engine::new(store.clone(), rules.clone());
    let size = store.ledger_size().await.expect("size");
    assert_eq!(
        engine.run_due(t("06-09 12:00")).await.expect("pass").batch,
        None
    );
    assert_eq!(store.ledger_size().await.expect("size"), size);
    let pass = engine.run_due(t("06-12 10:00")).await.expect("pass");
    assert_eq!(pass.changed, [1, 0, 0]);
    let state = store
        .code_state(contact)
        .await
        .expect("read")
        .expect("state");
    assert_eq!(state.change.colour(), Colour::Green);
    assert_eq!(state.change.next_change(), None);
    // Everything the engine recorded re-derives.
    let report = verify(&store, None, &rules, None).await.expect("verify");
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.batches, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_purge_runs_from_the_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("mingma.sqlite")).expect("open");
    store
        .append(vec![
            scan(
                "s-old",
                person(3),
                "v-market",
                "410102001",
                t("06-01 08:00"),
            ),
            scan(
                "s-new",
                person(3),
                "v-market",
                "410102001",
                t("06-20 08:00"),
            ),
        ])
        .await
        .expect("append");
    let engine = Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
    let report = engine
        .purge(t("06-25 00:00"), Span::days(21))
        .await
        .expect("purge");
    assert_eq!(report.removed.len(), 1);
    assert!(store.record(&rid("s-old")).await.expect("read").is_none());
    assert!(store.record(&rid("s-new")).await.expect("read").is_some());
}
