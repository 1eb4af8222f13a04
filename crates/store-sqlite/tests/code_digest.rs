//! A person's current code is compared by its digest (`code_states.code`, migration
//! 0006), and — for rows stored before that migration, without one — column by
//! column: either way, recording the same code again records nothing, and a
//! different code is recorded.

use mingma_core::{derive, Evidence, RuleSet};
use mingma_store::contract::{person, positive, t};
use mingma_store::{CodeChange, RecordedBatch, Store};
use mingma_store_sqlite::SqliteStore;
use rusqlite::Connection;

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Records one change as a batch of its own.
async fn record(store: &SqliteStore, change: &CodeChange, size: u64) -> Option<RecordedBatch> {
    store
        .record_code_changes(vec![change.clone()], size)
        .await
        .expect("record")
}

#[tokio::test]
async fn codes_are_compared_by_digest_or_column_by_column_without_one() {
    let dir =
        Scratch(std::env::temp_dir().join(format!("mingma-code-digest-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let store = SqliteStore::open(dir.0.join("mingma.sqlite")).expect("open");
    let rules = RuleSet::default_rules().expect("rules");
    let a = person(21);
    let test = positive("t-digest", a, t("06-01 10:00"));
    store.append(vec![test.clone()]).await.expect("append");
    let size = store.ledger_size().await.expect("size");
    let at = t("06-02 00:00");
    let change =
        |records: &[Evidence]| CodeChange::from_decision(derive(records, &a, at, at, &rules), size);
    let red = change(std::slice::from_ref(&test));
    let green = change(&[]);
    assert_ne!(red.code_digest(), green.code_digest());
    let digests = |sql: &str| {
        let conn = Connection::open(store.path()).expect("open behind the store");
        conn.execute_batch(sql).expect("sql");
        conn.query_row("SELECT count(code) FROM code_states", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("count")
    };

    let first = record(&store, &red, size).await;
    assert_eq!(first.map(|b| b.changed), Some([0, 0, 1]));
    assert_eq!(digests(""), 1, "the state is stored with its digest");
    let again = record(&store, &red, size).await;
    assert_eq!(
        again, None,
        "the same code, compared by digest, is not recorded again"
    );

    // As stored before migration 0006: no digest.
    assert_eq!(digests("UPDATE code_states SET code = NULL"), 0);
    let again = record(&store, &red, size).await;
    assert_eq!(
        again, None,
        "the same code, compared column by column, is not recorded again"
    );
    let other = record(&store, &green, size).await;
    assert_eq!(
        other.map(|b| b.changed),
        Some([1, 0, 0]),
        "a different code is recorded"
    );
    assert_eq!(digests(""), 1, "the new state carries its digest");
    let back = record(&store, &red, size).await;
    assert_eq!(
        back.map(|b| b.changed),
        Some([0, 0, 1]),
        "compared by digest, a change"
    );
    let state = store.code_state(a).await.expect("read").expect("a state");
    assert_eq!(state.change.colour(), mingma_core::Colour::Red);

    // A build that does not know the digest moves the row to another change and
    // leaves the digest behind: here, the row points at the green change again while
    // the digest is still the red one's. The digest no longer counts, and recording
    // red is compared with the green change the row points at: a change.
    let green_leaf = other.expect("a batch").leaf;
    assert_eq!(
        digests(&format!(
            "UPDATE code_states SET leaf = {green_leaf}, position = 0"
        )),
        1
    );
    let state = store.code_state(a).await.expect("read").expect("a state");
    assert_eq!(state.change.colour(), mingma_core::Colour::Green);
    let red_leaf = back.expect("a batch").leaf;
    let red = change(std::slice::from_ref(&test));
    let moved = record(&store, &red, size).await;
    assert!(moved.is_some_and(|b| b.changed == [0, 0, 1] && b.leaf > red_leaf));
}
