//! The service load test at a small scale, so that it cannot rot: a 2,000-person
//! city streamed into a fresh store, the service started on loopback, every phase
//! run briefly. Nothing here asserts a time; the counts must add up, every request
//! outside the overload must succeed, check-ins must be durable scans, and console
//! work must be served again after the overload.

use std::time::Duration;

use mingma_bench::load::{run, LoadConfig, LoadReport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_load_test_runs_every_phase_and_the_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = LoadConfig {
        seed: 7,
        persons: 2_000,
        days: 2,
        dir: dir.path().to_path_buf(),
        holders: 50,
        connections: 4,
        phase: Duration::from_secs(2),
        max_requests: 120,
        overload: Duration::from_millis(500),
        overload_factor: 2.0,
        door_share: 0.5,
    };
    let report = run(&config, &|_| {}).await.unwrap();
    assert!(dir.path().join("bench.sqlite").exists());
    assert_eq!(report.sign_in.ok, 50);
    for (name, phase) in [
        ("json", &report.json_code),
        ("html", &report.html_code),
        ("check-in", &report.check_ins),
        ("history", &report.history),
        ("recovery", &report.recovery.door),
    ] {
        assert!(phase.ok > 0, "{name}: {phase:?}");
        assert_eq!(phase.errors, 0, "{name}: {phase:?}");
        assert_eq!(phase.ok, phase.requests, "{name}: {phase:?}");
        assert!(phase.requests <= 120, "{name}: bounded by max_requests");
    }
    // Each check-in was a new scan: a leaf each (code changes may add more).
    assert!(report.ledger_growth >= report.check_ins.ok, "{report:?}");
    let o = &report.overload;
    assert!(o.door_due > 0 && o.other_due > 0, "{o:?}");
    // Twice the capacity: half of it in code displays, the rest in console work.
    assert_eq!(
        o.door_per_second,
        (0.5 * report.json_code.per_second).max(1.0)
    );
    assert_eq!(
        o.other_per_second,
        (1.5 * report.history.per_second).max(1.0)
    );
    assert_eq!(
        o.door_within_target + o.door_late + o.door_failed,
        o.door_due
    );
    assert_eq!(o.other_served + o.other_shed + o.other_failed, o.other_due);
    assert_eq!(report.recovery.other_status, 200);
    let text = serde_json::to_string(&report).unwrap();
    let back: LoadReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back.check_ins.ok, report.check_ins.ok);
    assert!(mingma_bench::load::markdown(&report).contains("check-in"));

    // A second run reuses the store and starts afresh on its scratch files.
    let again = run(
        &LoadConfig {
            holders: 10,
            max_requests: 20,
            overload: Duration::from_millis(200),
            overload_factor: 1.0,
            door_share: 0.25,
            ..config
        },
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(again.sign_in.ok, 10);
    assert_eq!(again.json_code.errors, 0);
}
