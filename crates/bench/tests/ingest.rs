//! A simulated city streamed into a store comes with the authority acts that
//! register its officials' and sources' keys, ahead of its records: they replay
//! without a problem, every sealed record counts, and the codes the outbreak should
//! colour are coloured.

use std::sync::Arc;

use mingma_authority::Registry;
use mingma_bench::{bench_key, ingest, register_city};
use mingma_core::{Colour, RuleSet};
use mingma_engine::Engine;
use mingma_sim::{City, CityConfig};
use mingma_store::{verify, Store};
use mingma_store_sqlite::SqliteStore;

fn config(seed: u64) -> CityConfig {
    CityConfig {
        outbreak_day: 1,
        inbound_per_100k_per_day: 50.0,
        ..CityConfig::new(seed, 1_500, 4)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_city_registers_its_keys_first_and_its_records_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("city.sqlite")).expect("open");
    let city = Arc::new(City::generate(&config(5)));
    let keys = Arc::new(city.person_keys(&bench_key()));
    let done = ingest(&store, city.clone(), keys.clone(), 2, 500, &|_| {})
        .await
        .expect("ingest");

    // The acts are the first leaves, and replay cleanly.
    let acts = store.acts(0).await.expect("acts");
    let expected = city.authority_acts(0).expect("the city's acts");
    assert_eq!(acts.len(), expected.len());
    for (i, ((leaf, bytes), act)) in acts.iter().zip(&expected).enumerate() {
        assert_eq!(*leaf, i as u64);
        assert_eq!(*bytes, act.to_bytes());
    }
    let registry = Registry::replay(acts);
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    assert!(registry.pending.is_empty());
    assert_eq!(
        store.ledger_size().await.expect("size"),
        expected.len() as u64 + done.records
    );

    // Every code derived from what counts: the cases and their contacts are red.
    let rules = RuleSet::default_rules().expect("rules");
    let engine = Engine::new(store.clone(), rules.clone());
    let everyone: Vec<_> = (0..city.person_count()).map(|p| keys.get(p)).collect();
    let derived = engine.rederive(&everyone, done.end).await.expect("derive");
    assert!(derived.changed[2] > 0, "nobody is red: {derived:?}");
    for (case, _) in &done.cases {
        let state = store.code_state(*case).await.expect("read").expect("state");
        assert_ne!(state.change.colour(), Colour::Green);
    }
    // Verified with the seal checks: every official and source record counts.
    let seals = engine.seal_check();
    let report = verify(&store, None, &rules, Some(&seals))
        .await
        .expect("verify");
    assert!(report.is_clean(), "{:#?}", report.findings);

    // Registering the same city again appends nothing; another seed's keys are not
    // this store's, and its records would not count here: refused.
    assert_eq!(register_city(&store, &city).await.expect("again"), 0);
    let other = City::generate(&config(6));
    let refused = register_city(&store, &other)
        .await
        .expect_err("another seed");
    assert!(
        refused
            .to_string()
            .contains("do not register the simulated key"),
        "{refused}"
    );
    assert_eq!(store.acts(0).await.expect("acts").len(), expected.len());
}
