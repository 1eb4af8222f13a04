//! Migration 0007 replaced the index of code changes by person with a chain (each
//! change names the person's change before it) and the index of every change by
//! next change with one on current codes. A store written before it keeps its
//! holders' histories and its scheduler's due list.

use mingma_core::{PersonKey, RuleSet, Timestamp};
use mingma_store::contract::{
    assert_due_from, change_derived, designated_contact, person, positive, t,
};
use mingma_store::{verify, Finding, Store};
use mingma_store_sqlite::SqliteStore;
use rusqlite::Connection;

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records `who`'s code derived at `at` as a batch of its own.
async fn record(store: &SqliteStore, rules: &RuleSet, who: PersonKey, at: Timestamp) {
    let size = store.ledger_size().await.expect("size");
    let change = change_derived(store, who, at, size, rules).await;
    store
        .record_code_changes(vec![change], size)
        .await
        .expect("record")
        .expect("a batch");
}

/// A fresh store in `dir` with three batches: `tested`'s code changes in the first
/// and the third, `contact`'s only in the second.
async fn three_batches(
    dir: &Scratch,
    rules: &RuleSet,
    tested: PersonKey,
    contact: PersonKey,
) -> SqliteStore {
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let store = SqliteStore::open(dir.0.join("mingma.sqlite")).expect("open");
    let mut records = designated_contact("h-", contact, person(33));
    records.push(positive("h-t1", tested, t("06-01 10:00")));
    store.append(records).await.expect("append");
    record(&store, rules, tested, t("06-02 11:00")).await;
    record(&store, rules, contact, t("06-02 11:00")).await;
    store
        .append(vec![positive("h-t2", tested, t("06-03 10:00"))])
        .await
        .expect("append");
    record(&store, rules, tested, t("06-04 00:00")).await;
    store
}

fn scratch(name: &str) -> Scratch {
    Scratch(std::env::temp_dir().join(format!("mingma-code-history-{name}-{}", std::process::id())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_chain_keeps_its_histories_and_due_list() {
    let dir = scratch("0006");
    let db = dir.0.join("mingma.sqlite");
    let rules = RuleSet::default_rules().expect("rules");
    let (tested, contact) = (person(31), person(32));
    let (history, due_at) = {
        let store = three_batches(&dir, &rules, tested, contact).await;
        let history = store.code_changes_of(tested).await.expect("history");
        assert_eq!(history.len(), 2);
        let state = store
            .code_state(contact)
            .await
            .expect("read")
            .expect("state");
        let (due_at, _) = state.change.next_change().expect("a next change");
        assert_eq!(store.codes_due(due_at).await.expect("due"), [contact]);
        (history, due_at)
    };
    // The store as migration 0006 left it.
    let conn = Connection::open(&db).expect("open behind the store");
    conn.execute_batch(
        "PRAGMA busy_timeout=10000;
         DROP INDEX code_states_next;
         ALTER TABLE code_states DROP COLUMN next_at;
         ALTER TABLE code_changes DROP COLUMN previous_leaf;
         ALTER TABLE code_changes DROP COLUMN previous_position;
         CREATE INDEX code_changes_person ON code_changes (pid, leaf, position);
         CREATE INDEX code_changes_next ON code_changes (next_at) WHERE next_at IS NOT NULL;
         DELETE FROM schema_migrations WHERE name = '0007_code_history_chain';",
    )
    .expect("back to 0006");
    drop(conn);

    let store = SqliteStore::open(&db).expect("migrated");
    assert_eq!(
        store.code_changes_of(tested).await.expect("history"),
        history
    );
    assert_eq!(
        store.code_changes_of(contact).await.expect("history").len(),
        1
    );
    assert_due_from(&store, contact, due_at).await;
    let conn = Connection::open(&db).expect("open behind the store");
    let (chained, indexes): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(previous_leaf) FROM code_changes),
                    (SELECT count(*) FROM sqlite_master
                     WHERE name IN ('code_changes_person', 'code_changes_next'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("counts");
    assert_eq!((chained, indexes), (1, 0));
}

/// A history rewritten behind the store's back — a change skipped by its pointer,
/// or the current code pointed back at an earlier change — is served as rewritten,
/// and `ledger verify` names the person: the chain is checked against the batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_history_is_found_by_verification() {
    let rules = RuleSet::default_rules().expect("rules");
    let (tested, contact) = (person(31), person(32));
    let found = |report: &mingma_store::VerifyReport, history: bool| {
        report.findings.iter().any(|f| match f {
            Finding::History { person, .. } => history && *person == tested,
            Finding::CodeState { person, .. } => !history && *person == tested,
            _ => false,
        })
    };

    let dir = scratch("skip");
    let store = three_batches(&dir, &rules, tested, contact).await;
    let report = verify(&store, None, &rules, None).await.expect("verify");
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.histories, 2);
    let conn = Connection::open(store.path()).expect("open behind the store");
    conn.execute_batch(
        "UPDATE code_changes SET previous_leaf = NULL, previous_position = NULL \
         WHERE previous_leaf IS NOT NULL",
    )
    .expect("skip a change");
    assert_eq!(
        store.code_changes_of(tested).await.expect("history").len(),
        1
    );
    let report = verify(&store, None, &rules, None).await.expect("verify");
    assert!(found(&report, true), "{:#?}", report.findings);

    let dir = scratch("back");
    let store = three_batches(&dir, &rules, tested, contact).await;
    let history = store.code_changes_of(tested).await.expect("history");
    let (first, last) = (&history[0], &history[1]);
    let conn = Connection::open(store.path()).expect("open behind the store");
    conn.execute_batch(&format!(
        "UPDATE code_states SET leaf = {}, position = {} WHERE leaf = {} AND position = {}",
        first.leaf, first.position, last.leaf, last.position
    ))
    .expect("point back");
    let report = verify(&store, None, &rules, None).await.expect("verify");
    assert!(found(&report, true), "{:#?}", report.findings);
    assert!(found(&report, false), "{:#?}", report.findings);
}

/// A batch reaching more people than the writer looks up one by one (16,384) finds
/// their ids in the scan index: each change lands on its holder, and the people the
/// index does not hold (no scan) are interned as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_many_people_lands_each_change_on_its_holder() {
    use mingma_store::contract::scan;
    use mingma_store::CodeChange;
    let dir =
        Scratch(std::env::temp_dir().join(format!("mingma-many-changes-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    let store = SqliteStore::open(dir.0.join("s.sqlite")).expect("open");
    let rules = RuleSet::default_rules().expect("rules");
    let at = t("06-01 09:00");
    // 20,000 people with a scan; every seventh tested positive; 100 more with only
    // a test, unknown to the scan index.
    let scanned: Vec<PersonKey> = (0..20_000).map(|n| person(40_000 + n)).collect();
    let unscanned: Vec<PersonKey> = (0..100).map(|n| person(70_000 + n)).collect();
    let mut own: Vec<Vec<mingma_core::Evidence>> = Vec::new();
    let mut records = Vec::new();
    for (n, who) in scanned.iter().enumerate() {
        let mut mine = vec![scan(&format!("m-s-{n}"), *who, "v-market", "410103001", at)];
        if n % 7 == 0 {
            mine.push(positive(&format!("m-t-{n}"), *who, at));
        }
        records.extend(mine.iter().cloned());
        own.push(mine);
    }
    for (n, who) in unscanned.iter().enumerate() {
        let mine = vec![positive(&format!("m-u-{n}"), *who, at)];
        records.extend(mine.iter().cloned());
        own.push(mine);
    }
    for part in records.chunks(5_000) {
        store.append(part.to_vec()).await.expect("append");
    }
    // Opened again, as a server after a restart: the writer has interned nobody yet.
    drop(store);
    let store = SqliteStore::open(dir.0.join("s.sqlite")).expect("open again");
    let size = store.ledger_size().await.expect("size");
    let everyone: Vec<PersonKey> = scanned.iter().chain(&unscanned).copied().collect();
    let valid = t("06-02 09:00");
    let changes: Vec<CodeChange> = everyone
        .iter()
        .zip(&own)
        .map(|(who, mine)| {
            CodeChange::from_decision(mingma_core::derive(mine, who, valid, valid, &rules), size)
        })
        .collect();
    let expected: Vec<_> = changes.iter().map(|c| c.colour()).collect();
    let batch = store
        .record_code_changes(changes, size)
        .await
        .expect("record")
        .expect("a batch");
    assert_eq!(batch.changed.iter().sum::<usize>(), everyone.len());
    for (i, who) in everyone
        .iter()
        .enumerate()
        .step_by(97)
        .chain([(20_099, &unscanned[99])])
    {
        let state = store.code_state(*who).await.expect("read").expect("a code");
        assert_eq!(state.change.person(), *who, "person {i}");
        assert_eq!(state.change.colour(), expected[i], "person {i}");
    }
    let report = verify(&store, None, &rules, None).await.expect("verify");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}
