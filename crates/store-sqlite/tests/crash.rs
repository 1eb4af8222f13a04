//! Crash test: a bulk append killed with SIGKILL part-way; after restart the ledger
//! verifies and every record whose append was acknowledged is present.
//!
//! The test runs itself twice: as the parent (no arguments) it starts a child copy
//! of this binary with `--child <db>`, which appends scans in batches and prints the
//! last id of each acknowledged batch; the parent kills it without warning, reopens
//! the database and checks it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use mingma_core::RuleSet;
use mingma_store::contract::{person, rid, scan, t};
use mingma_store::{verify, Store};
use mingma_store_sqlite::SqliteStore;

const BATCH: u32 = 200;

fn child(db: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(db).expect("open");
        let mut stdout = std::io::stdout();
        for batch in 0u32.. {
            let records = (0..BATCH)
                .map(|i| {
                    let n = batch * BATCH + i;
                    scan(
                        &format!("s-{n}"),
                        person(n % 500),
                        "v-market",
                        "410102001",
                        t("06-01 08:00").plus_seconds(i64::from(n)),
                    )
                })
                .collect();
            store.append(records).await.expect("append");
            // Acknowledged: durable before this line is printed.
            writeln!(stdout, "acked {}", batch * BATCH + BATCH - 1).expect("stdout");
            stdout.flush().expect("flush");
        }
    });
}

fn parent() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("mingma-sqlite-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let db = dir.join("mingma.sqlite");
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .arg("--child")
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Option<u32> = None;
    // Let it acknowledge some batches, then kill it in the middle of the next ones.
    while acked.is_none_or(|a| a < 40 * BATCH) {
        let line = lines
            .next()
            .ok_or("the child stopped before being killed")?
            .map_err(|e| e.to_string())?;
        acked = line.strip_prefix("acked ").and_then(|n| n.parse().ok());
    }
    child.kill().map_err(|e| format!("SIGKILL failed: {e}"))?;
    // Acknowledgements already written before the kill count too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ").and_then(|n| n.parse().ok()) {
            acked = Some(n);
        }
    }
    child.wait().map_err(|e| e.to_string())?;
    let acked = acked.ok_or("nothing acknowledged")?;

    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let outcome = runtime.block_on(async {
        let store = SqliteStore::open(&db).map_err(|e| format!("reopen: {e}"))?;
        let rules = RuleSet::default_rules().map_err(|e| e.to_string())?;
        let report = verify(&store, None, &rules, None)
            .await
            .map_err(|e| e.to_string())?;
        if !report.is_clean() {
            return Err(format!(
                "after the crash the ledger does not verify: {:?}",
                report.findings
            ));
        }
        for n in 0..=acked {
            if store
                .record(&rid(&format!("s-{n}")))
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!(
                    "acknowledged record s-{n} is missing after the crash"
                ));
            }
        }
        // The log goes on from where it stopped.
        let size = store.ledger_size().await.map_err(|e| e.to_string())?;
        store
            .append(vec![scan(
                "after",
                person(1),
                "v-market",
                "410102001",
                t("06-09 08:00"),
            )])
            .await
            .map_err(|e| format!("append after restart: {e}"))?;
        let report = verify(&store, None, &rules, None)
            .await
            .map_err(|e| e.to_string())?;
        if !report.is_clean() || report.leaves != size + 1 {
            return Err(format!(
                "after restart and one more append: {:?}",
                report.findings
            ));
        }
        println!(
            "crash test: killed after {} acknowledged appends; {} leaves survived and verify",
            acked + 1,
            size
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(args.get(2).map(String::as_str).unwrap_or("crash.sqlite"));
        return;
    }
    // `cargo test` passes harness flags (e.g. --quiet); they do not apply here.
    match parent() {
        Ok(()) => println!("test result: ok. 1 passed; 0 failed"),
        Err(problem) => {
            eprintln!("crash test failed: {problem}");
            println!("test result: FAILED. 0 passed; 1 failed");
            std::process::exit(1);
        }
    }
}
