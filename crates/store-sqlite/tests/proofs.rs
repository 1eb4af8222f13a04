//! Proofs from a tree large enough that its upper levels come from memory, before
//! and after reopening the database, and after writes that were rolled back.

use mingma_ledger::{verify_consistency, verify_inclusion, MemoryTree};
use mingma_store::contract::{person, positive, scan, t};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

async fn check_every_proof(store: &SqliteStore) {
    let size = store.ledger_size().await.expect("size");
    let leaves = store.leaves(0, size).await.expect("leaves");
    let tree = MemoryTree::from_leaf_hashes(leaves.iter().map(|l| l.hash));
    let root = store.root(size).await.expect("root");
    assert_eq!(root, tree.root());
    for index in (0..size).step_by(37).chain([size - 1]) {
        let proof = store.inclusion_proof(index, size).await.expect("proof");
        verify_inclusion(&leaves[index as usize].hash, index, size, &proof, &root)
            .expect("inclusion");
    }
    for size1 in (1..size).step_by(251) {
        let proof = store.consistency_proof(size1, size).await.expect("proof");
        let root1 = tree.root_at(size1).expect("root");
        assert_eq!(store.root(size1).await.expect("root"), root1);
        verify_consistency(size1, size, &proof, &root1, &root).expect("consistency");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_hold_across_the_in_memory_upper_levels() {
    let dir = std::env::temp_dir().join(format!("mingma-sqlite-proofs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("mingma.sqlite");
    {
        let store = SqliteStore::open(&db).expect("open");
        let mut n = 0u32;
        for batch in [1u32, 255, 1, 300, 1024, 7, 900] {
            let records = (0..batch)
                .map(|i| {
                    scan(
                        &format!("s-{}", n + i),
                        person(i % 50),
                        "v-market",
                        "410102001",
                        t("06-01 08:00"),
                    )
                })
                .collect();
            n += batch;
            store.append(records).await.expect("append");
            // A refused write in between: rolled back, it must leave no trace.
            let refused = store
                .append(vec![
                    positive(&format!("t-{n}"), person(1), t("06-02 08:00")),
                    scan("s-0", person(9), "v-other", "410102002", t("06-03 08:00")),
                ])
                .await;
            assert!(refused.is_err());
        }
        assert_eq!(store.ledger_size().await.expect("size"), u64::from(n));
        check_every_proof(&store).await;
    }
    let store = SqliteStore::open(&db).expect("reopen");
    check_every_proof(&store).await;
    store
        .append(vec![scan(
            "after",
            person(2),
            "v-market",
            "410102001",
            t("06-09 08:00"),
        )])
        .await
        .expect("append");
    check_every_proof(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
