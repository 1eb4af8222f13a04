//! The engine follows the ledger's authority acts while many callers ask for the
//! registry at once: each act is applied once and in order, whoever applies it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mingma_authority::Registry;
use mingma_core::RuleSet;
use mingma_engine::Engine;
use mingma_store::contract::{directory, founding};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acts_appended_while_many_ask_are_applied_once_and_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("mingma.sqlite")).expect("open");
    let engine = Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
    let acts = founding(&directory(), 3).acts(0).expect("founding acts");
    assert!(acts.len() > 5, "a founding of several acts");
    let done = Arc::new(AtomicBool::new(false));
    let mut askers = Vec::new();
    for _ in 0..8 {
        let (engine, done) = (engine.clone(), done.clone());
        askers.push(tokio::spawn(async move {
            let mut last = None;
            loop {
                let finished = done.load(Ordering::Acquire);
                let registry = engine.registry().await.expect("registry");
                assert!(registry.problems.is_empty(), "{:?}", registry.problems);
                assert!(registry.last_leaf >= last, "the registry went back");
                assert_eq!(
                    registry.applied,
                    registry.last_leaf.map_or(0, |l| l + 1),
                    "every act up to the last applied once"
                );
                last = registry.last_leaf;
                if finished {
                    return last;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for act in acts {
        store.append_act(act.to_bytes()).await.expect("append act");
    }
    done.store(true, Ordering::Release);
    let size = store.ledger_size().await.expect("size");
    for asker in askers {
        assert_eq!(asker.await.expect("asker"), Some(size - 1));
    }
    let replayed = Registry::replay(store.acts(0).await.expect("acts"));
    let followed = engine.registry_now();
    assert_eq!(followed.applied, replayed.applied);
    assert_eq!(followed.last_leaf, replayed.last_leaf);
    assert_eq!(
        followed.directory.officials.len(),
        replayed.directory.officials.len()
    );
    assert_eq!(
        followed.directory.sources.len(),
        replayed.directory.sources.len()
    );
}
