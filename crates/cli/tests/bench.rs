//! `mingma sim` and `mingma bench` end to end at a small scale, so neither can rot:
//! a city as an evidence file (the same seed twice gives the same bytes) and
//! streamed into a store; the benchmark suite with the PostgreSQL baseline on a
//! throwaway cluster, its result file and its chart.

use std::process::{Command, Output};

use serde_json::Value;

fn mingma(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mingma"))
        .args(args)
        .output()
        .expect("run mingma");
    assert!(
        out.status.success(),
        "mingma {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_simulated_city_is_the_same_for_the_same_seed_and_imports_into_a_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| dir.path().join(name).display().to_string();
    let city = ["sim", "--persons", "800", "--days", "2", "--seed", "7"];
    mingma(&[&city[..], &["--out", &file("a.jsonl")]].concat());
    mingma(&[&city[..], &["--out", &file("b.jsonl")]].concat());
    let (a, b) = (
        std::fs::read(file("a.jsonl")).expect("a"),
        std::fs::read(file("b.jsonl")).expect("b"),
    );
    assert!(
        a.len() > 100_000,
        "a city of 800 for 2 days is more than {} bytes",
        a.len()
    );
    assert_eq!(a, b, "the same seed gave different output");
    let other = ["sim", "--persons", "800", "--days", "2", "--seed", "8"];
    mingma(&[&other[..], &["--out", &file("c.jsonl")]].concat());
    assert_ne!(a, std::fs::read(file("c.jsonl")).expect("c"));

    // Streamed into a store, then imported again from the file: nothing new.
    let db = file("city.sqlite");
    let out = mingma(&[&city[..], &["--db", &db]].concat());
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("appended"), "{said}");
    let out = mingma(&["import", "--db", &db, &file("a.jsonl")]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(" 0 new"),
        "the simulation and its file differ: {said}"
    );
    mingma(&["ledger", "verify", "--db", &db]);
}

#[test]
fn the_benchmark_suite_runs_end_to_end_beside_the_baseline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("results.json").display().to_string();
    let out = mingma(&[
        "bench",
        "run",
        "--persons",
        "2000",
        "--days",
        "4",
        "--dir",
        &dir.path().join("work").display().to_string(),
        "--out",
        &results,
        "--baseline-inserts",
        "5000",
        "--trace-cases",
        "5",
    ]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("| durable scan ingestion |"), "{table}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&results).expect("results")).expect("json");
    let number = |path: &str| {
        report
            .pointer(path)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{path} missing in {report:#}"))
    };
    // 2,000 people, about 4 scans a day each, for 4 days.
    assert!((20_000.0..=45_000.0).contains(&number("/city/scans")));
    assert_eq!(number("/ingestion/scans"), number("/city/scans"));
    assert!(number("/ingestion/scans_per_second") > 0.0);
    assert!(number("/memory/scans") >= number("/city/scans"));
    assert!(number("/memory/bytes_per_scan") > 0.0);
    assert_eq!(number("/derive_all/persons"), 2000.0);
    // The declaration reaches people, and both designs find the same people.
    let affected = number("/declaration/affected_persons");
    assert!(affected > 0.0);
    assert_eq!(affected, number("/baseline/affected_persons"));
    assert!(number("/declaration/changed/2") > 0.0, "nobody turned red");
    assert!(number("/baseline/insert_rows") == 5000.0);
    assert!(number("/ratios/affected") > 0.0);
    assert!(report["baseline"]["settings"]
        .as_str()
        .is_some_and(|s| s.contains("fsync=on")));

    let svg = dir.path().join("chart.svg").display().to_string();
    mingma(&["bench", "chart", &results, "--out", &svg]);
    let svg = std::fs::read_to_string(&svg).expect("svg");
    assert!(svg.starts_with("<svg"));
    assert_eq!(
        svg.matches("<polyline").count(),
        10,
        "6 panels, 4 with a baseline"
    );
}
