//! `ledger verify` against a PostgreSQL store altered behind Mingma's back, through
//! raw SQL on its database (the shared suite, `mingma_store::contract::tamper`).

use mingma_pgtest::PgCluster;
use mingma_store::contract::tamper::{hex, Tamper};
use mingma_store_postgres::PostgresStore;
use tokio_postgres::NoTls;

struct Target {
    store: PostgresStore,
    url: String,
}

impl Tamper for Target {
    type Store = PostgresStore;

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    async fn tamper(&self, sql: &str) {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("connect behind the store's back");
        let connection = tokio::spawn(connection);
        if let Err(e) = client.batch_execute(sql).await {
            panic!(
                "tamper: {:?}: {sql}",
                e.as_db_error().map(|d| d.message()).unwrap_or("?")
            );
        }
        drop(client);
        let _ = connection.await;
    }

    fn blob(&self, bytes: &[u8]) -> String {
        format!("'\\x{}'::bytea", hex(bytes))
    }
}

async fn fresh() -> Target {
    let cluster = PgCluster::shared().expect("a PostgreSQL server for tests");
    let url = cluster.fresh_database("tamper").expect("a fresh database");
    let store = PostgresStore::connect(&url).await.expect("connect");
    Target { store, url }
}

mingma_store::tamper_tests!(fresh().await);

/// The tables only this backend has: an id's row pointer removed, the ledger head
/// moved back (the writer then refuses to overwrite a leaf) or forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_id_index_or_the_ledger_head_is_found() {
    use mingma_store::contract::{person, positive, scan, t};
    use mingma_store::{verify, Finding, Store, StoreError};

    let rules = mingma_core::RuleSet::default_rules().expect("rules");
    let records = || {
        vec![
            positive("t-a", person(1), t("06-01 10:00")),
            scan("s-a", person(1), "v-market", "410102001", t("06-01 12:00")),
            positive("t-b", person(2), t("06-01 11:00")),
        ]
    };

    let target = fresh().await;
    target.store.append(records()).await.expect("append");
    target
        .tamper("DELETE FROM record_ids WHERE id = 's-a'")
        .await;
    let report = verify(&target.store, None, &rules, None)
        .await
        .expect("verify");
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Leaf { index: 1, .. })),
        "{:#?}",
        report.findings
    );

    let target = fresh().await;
    target.store.append(records()).await.expect("append");
    target.tamper("UPDATE ledger_head SET size = 1").await;
    let report = verify(&target.store, None, &rules, None)
        .await
        .expect("verify");
    assert!(!report.is_clean(), "rows beyond the head have no leaf");
    let next = target
        .store
        .append(vec![positive("t-c", person(3), t("06-02 10:00"))])
        .await;
    assert!(
        matches!(next, Err(StoreError::Backend(_))),
        "the writer does not overwrite leaf 1: {next:?}"
    );
    assert_eq!(target.store.leaves(0, 10).await.expect("leaves").len(), 3);

    let target = fresh().await;
    target.store.append(records()).await.expect("append");
    target.tamper("UPDATE ledger_head SET size = 100").await;
    assert!(
        verify(&target.store, None, &rules, None).await.is_err()
            || !verify(&target.store, None, &rules, None)
                .await
                .expect("verify")
                .is_clean(),
        "a head beyond the leaves does not verify"
    );
    let next = target
        .store
        .append(vec![positive("t-c", person(3), t("06-02 10:00"))])
        .await;
    assert!(
        matches!(next, Err(StoreError::Backend(_))),
        "no leaf is written at a made-up size: {next:?}"
    );
}
