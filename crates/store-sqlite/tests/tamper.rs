//! `ledger verify` against a store altered behind Mingma's back: every change to a
//! stored row, a deleted or swapped row, a back-dated record, a forged row, a forged
//! tree node, a forged checkpoint or code state is found and named.

use mingma_core::{derive, EvidenceBody, RuleSet};
use mingma_ledger::{Checkpoint, CheckpointSigner, NoteVerifier, SigningKey};
use mingma_store::contract::{act, person, positive, rid, risk_area, scan, t};
use mingma_store::{verify, Finding, LogIdentity, Store, StoredCheckpoint, VerifyReport};
use mingma_store_sqlite::SqliteStore;
use rusqlite::Connection;

const ORIGIN: &str = "mingma.test/log";

struct Fixture {
    store: SqliteStore,
    dir: std::path::PathBuf,
    verifier: NoteVerifier,
    rules: RuleSet,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    async fn verify(&self) -> VerifyReport {
        verify(
            &self.store,
            Some(LogIdentity {
                verifier: &self.verifier,
                origin: ORIGIN,
            }),
            &self.rules,
        )
        .await
        .expect("verification runs")
    }

    fn tamper(&self, sql: &str) {
        let conn = Connection::open(self.store.path()).expect("open behind the store's back");
        let changed = conn.execute_batch(sql);
        changed.expect("tamper");
    }

    fn leaf_of(&self, id: &str) -> u64 {
        let conn = Connection::open(self.store.path()).expect("open");
        conn.query_row(
            "SELECT leaf FROM records WHERE id = ?1 UNION SELECT leaf FROM scans WHERE id = ?1",
            [id],
            |r| r.get::<_, i64>(0),
        )
        .expect("a stored record") as u64
    }
}

/// A store with records, scans, a risk area, a code-change batch and a signed
/// checkpoint.
async fn fixture() -> Fixture {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mingma-sqlite-tamper-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = SqliteStore::open(dir.join("mingma.sqlite")).expect("open");
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
        let evidence: Vec<_> = store
            .evidence_about(who)
            .await
            .expect("read")
            .into_iter()
            .map(|r| r.evidence)
            .collect();
        decisions.push(derive(
            &evidence,
            &who,
            t("06-03 00:00"),
            t("06-03 00:00"),
            &rules,
        ));
    }
    store
        .record_code_changes(decisions, size)
        .await
        .expect("record")
        .expect("changes");
    let signer =
        CheckpointSigner::new("mingma.test", SigningKey::from_bytes(&[42; 32])).expect("signer");
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
        store,
        dir,
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

#[tokio::test]
async fn an_untouched_store_verifies() {
    let f = fixture().await;
    let report = f.verify().await;
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.leaves, 7);
    assert_eq!(report.records, 6);
    assert_eq!(report.batches, 1);
    assert_eq!(report.code_states, 2);
    assert_eq!(report.checkpoints, 1);
}

#[tokio::test]
async fn each_tampering_is_found_and_names_the_leaf() {
    // (what, SQL, the record whose leaf must be named)
    let cases: &[(&str, &str, &str)] = &[
        (
            "one byte of a stored record changed",
            "UPDATE records SET canonical = CAST(REPLACE(CAST(canonical AS TEXT), 'lab-1', 'lab-2') AS BLOB) WHERE id = 't-a'",
            "t-a",
        ),
        ("a scan deleted", "DELETE FROM scans WHERE id = 's-b'", "s-b"),
        (
            "a record back-dated",
            "UPDATE scans SET recorded_at = recorded_at - 86400 WHERE id = 's-a'",
            "s-a",
        ),
        (
            "a scan moved to another time",
            "UPDATE scans SET entered = entered - 3600 WHERE id = 's-a'",
            "s-a",
        ),
        (
            "a record moved to another leaf",
            "UPDATE records SET leaf = leaf + 1000 WHERE id = 't-a'",
            "t-a",
        ),
        (
            "a salt replaced",
            "UPDATE records SET salt = zeroblob(32) WHERE id = 't-c'",
            "t-c",
        ),
    ];
    for (what, sql, victim) in cases {
        let f = fixture().await;
        let leaf = f.leaf_of(victim);
        f.tamper(sql);
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

#[tokio::test]
async fn swapped_rows_are_found_at_both_leaves() {
    let f = fixture().await;
    let (a, c) = (f.leaf_of("t-a"), f.leaf_of("t-c"));
    f.tamper(&format!(
        "UPDATE records SET leaf = -1 WHERE leaf = {a};
         UPDATE records SET leaf = {a} WHERE leaf = {c};
         UPDATE records SET leaf = {c} WHERE leaf = -1;"
    ));
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

#[tokio::test]
async fn a_row_inserted_outside_the_ledger_is_found() {
    let f = fixture().await;
    f.tamper(
        "INSERT INTO records (leaf, id, kind, about, canonical, salt)
         SELECT 999, 'forged', kind, about, canonical, salt FROM records WHERE id = 't-a'",
    );
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

#[tokio::test]
async fn a_forged_tree_node_or_leaf_is_found() {
    let f = fixture().await;
    f.tamper("UPDATE ledger_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 0");
    let report = f.verify().await;
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Tree { .. })),
        "{:#?}",
        report.findings
    );

    let f = fixture().await;
    f.tamper("UPDATE ledger_leaves SET hash = zeroblob(32) WHERE idx = 2");
    assert_eq!(first_leaf_finding(&f.verify().await), Some(2));

    // Rewriting a leaf and its hash consistently still breaks the signed checkpoint.
    let f = fixture().await;
    let conn = Connection::open(f.store.path()).expect("open");
    let data: Vec<u8> = conn
        .query_row("SELECT data FROM ledger_leaves WHERE idx = 1", [], |r| {
            r.get(0)
        })
        .expect("leaf");
    let mut forged = data.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let hash = mingma_ledger::leaf_hash(&forged);
    conn.execute(
        "UPDATE ledger_leaves SET data = ?1, hash = ?2 WHERE idx = 1",
        rusqlite::params![forged, hash.as_bytes().as_slice()],
    )
    .expect("forge");
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

#[tokio::test]
async fn a_forged_code_state_or_checkpoint_is_found() {
    let f = fixture().await;
    // Turn person 2's stored red (a stay in the high-risk area) into green.
    f.tamper("UPDATE code_changes SET colour = 0, reason = NULL WHERE position = 1");
    let report = f.verify().await;
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CodeState { person, .. } if *person == mingma_store::contract::person(2))),
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

    let f = fixture().await;
    f.tamper("UPDATE checkpoints SET note = REPLACE(note, 'mingma.test/log', 'mingma.test/other')");
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
