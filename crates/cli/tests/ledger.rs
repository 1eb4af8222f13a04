//! The ledger commands as an operator and a holder run them: keygen, import,
//! checkpoint, verify, receipt, check-receipt, purge; and a store altered behind
//! Mingma's back, which `verify` and `checkpoint` must catch and name.
//!
//! Each store starts with the authority acts that register the example's
//! authorities, officials and sources (`support::register`, [`ACTS`] leaves), and
//! imports the example with its records sealed (`support::sealed_example`, without
//! the hand-made border entry an import refuses: [`RECORDS`] records).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use mingma_core::{derive, read_evidence_file, NationalId, PseudonymKey, RuleSet, Timestamp};
use mingma_store::{CodeChange, Store};
use mingma_store_sqlite::SqliteStore;
use serde_json::Value;

const ORIGIN: &str = "mingma.test/log";
use support::{ACTS, EXAMPLE_RECORDS as RECORDS, PSEUDONYM_KEY};
/// Leaves after the import: the acts, then the records.
const LEAVES: u64 = ACTS + RECORDS;
const TRAVELLER: &str = "410102198503121017";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary directory with a database and a log key in it.
struct Env {
    dir: tempfile::TempDir,
    vkey: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = Env {
            dir,
            vkey: String::new(),
        };
        let out = env.ok(&["keygen", "--name", ORIGIN, "--out", "log.key"]);
        env.vkey = out.trim().to_owned();
        support::sealed_example(&env.path("sealed.jsonl"));
        env
    }

    /// Registers the example's authorities, officials and sources in the store.
    fn register(&self) {
        support::register(&self.db());
    }

    fn sealed(&self) -> String {
        self.path("sealed.jsonl").display().to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> PathBuf {
        self.path("mingma.sqlite")
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_mingma"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("MINGMA_PSEUDONYM_KEY")
            .env_remove("MINGMA_LOG_KEY")
            .output()
            .expect("the mingma binary runs");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
        out
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs and expects exit code 1; returns stdout and stderr together.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?} should fail:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// Registers (if the store is new) and imports the sealed example.
    fn import(&self) -> String {
        if !self.db().exists() {
            self.register();
        }
        self.ok(&[
            "import",
            "--db",
            "mingma.sqlite",
            &self.sealed(),
            "--pseudonym-key",
            PSEUDONYM_KEY,
        ])
    }

    fn checkpoint(&self) -> String {
        self.ok(&[
            "ledger",
            "checkpoint",
            "--db",
            "mingma.sqlite",
            "--key",
            "log.key",
            "--origin",
            ORIGIN,
        ])
    }

    fn verify(&self) -> Output {
        self.run(&[
            "ledger",
            "verify",
            "--db",
            "mingma.sqlite",
            "--vkey",
            &self.vkey,
            "--origin",
            ORIGIN,
        ])
    }

    fn receipt(&self, args: &[&str]) -> Value {
        let mut all = vec!["ledger", "receipt", "--db", "mingma.sqlite"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("a receipt is JSON")
    }

    /// Writes `receipt` to a file and checks it with the log's key and origin.
    fn check(&self, receipt: &Value) -> Output {
        self.check_with(receipt, &self.vkey, ORIGIN)
    }

    fn check_with(&self, receipt: &Value, vkey: &str, origin: &str) -> Output {
        let path = self.path("receipt-under-test.json");
        std::fs::write(&path, receipt.to_string()).expect("write receipt");
        self.run(&[
            "ledger",
            "check-receipt",
            path.to_str().expect("utf-8 path"),
            "--vkey",
            vkey,
            "--origin",
            origin,
        ])
    }

    fn sql(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.db()).expect("open behind mingma's back");
        conn.execute_batch(sql).expect("tamper");
    }

    fn leaf_of(&self, id: &str) -> u64 {
        let conn = rusqlite::Connection::open(self.db()).expect("open");
        conn.query_row(
            "SELECT leaf FROM records WHERE id = ?1 UNION SELECT leaf FROM scans WHERE id = ?1",
            [id],
            |r| r.get::<_, i64>(0),
        )
        .expect("a stored record") as u64
    }
}

/// Expects `receipt` to be refused with `reason` in the message.
fn refused(env: &Env, receipt: &Value, reason: &str) {
    let out = env.check(receipt);
    assert_eq!(out.status.code(), Some(1), "accepted, expected {reason:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(reason), "expected {reason:?} in:\n{stderr}");
    assert!(
        !text(&out.stdout).contains("valid:"),
        "{}",
        text(&out.stdout)
    );
}

fn b64_modified(value: &Value, edit: impl FnOnce(&mut Vec<u8>)) -> Value {
    let mut bytes = BASE64
        .decode(value.as_str().expect("a base64 string"))
        .expect("base64");
    edit(&mut bytes);
    Value::from(BASE64.encode(bytes))
}

#[test]
fn keygen_writes_a_private_key_file_and_prints_the_verifier_key() {
    let env = Env::new();
    assert!(env.vkey.starts_with("mingma.test/log+"), "{}", env.vkey);
    assert!(!env.vkey.contains(char::is_whitespace), "{}", env.vkey);
    let key = std::fs::read_to_string(env.path("log.key")).expect("key file");
    assert!(key.starts_with("PRIVATE+KEY+mingma.test/log+"), "{key}");
    assert!(!key.contains(&env.vkey), "the vkey is printed, not the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.path("log.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwrites a key, and refuses a bad name.
    let err = env.fails(&["keygen", "--name", ORIGIN, "--out", "log.key"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.path("log.key")).expect("key file"),
        key
    );
    let err = env.fails(&["keygen", "--name", "has space", "--out", "other.key"]);
    assert!(err.contains("--name"), "{err}");
    assert!(!env.path("other.key").exists());
    // The key from the environment signs as well as the key file.
    env.import();
    let out = Command::new(env!("CARGO_BIN_EXE_mingma"))
        .args(["ledger", "checkpoint", "--origin", ORIGIN])
        .current_dir(env.dir.path())
        .env("MINGMA_LOG_KEY", key.trim())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("mingma.test/log\n"));
    let err = env.fails(&["ledger", "checkpoint", "--origin", ORIGIN]);
    assert!(err.contains("MINGMA_LOG_KEY"), "{err}");
}

#[test]
fn import_checkpoint_verify_receipt_and_check_receipt() {
    let env = Env::new();

    // Nothing to use before an import: no database is made up.
    let err = env.fails(&["ledger", "verify", "--db", "mingma.sqlite"]);
    assert!(err.contains("no database at mingma.sqlite"), "{err}");
    assert!(!env.db().exists());

    let first = env.import();
    assert!(
        first.contains(&format!(
            ": {RECORDS} new, 0 already stored, 0 lines refused"
        )),
        "{first}"
    );
    let again = env.import();
    assert!(
        again.contains(&format!(": 0 new, {RECORDS} already stored")),
        "{again}"
    );

    // A receipt needs a checkpoint that covers the leaf.
    let err = env.fails(&["ledger", "receipt", "--db", "mingma.sqlite", "qo-0610-001"]);
    assert!(err.contains("sign a checkpoint first"), "{err}");

    let note = env.checkpoint();
    assert!(
        note.starts_with(&format!("mingma.test/log\n{LEAVES}\n")),
        "{note}"
    );
    assert!(note.contains("\n\n— mingma.test/log "), "{note}");
    // Signing again without growth changes nothing and says so.
    assert_eq!(env.checkpoint(), note);

    let out = env.verify();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for expected in [
        &format!("leaves:         {LEAVES}")[..],
        &format!("records:        {RECORDS}"),
        &format!("acts:           {ACTS} authority acts ({ACTS} applied"),
        "purged:         0",
        "batches:        0",
        "code states:    0",
        "checkpoints:    1 (signatures checked with key mingma.test/log+",
        "root:           ",
        "clean",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    // Without the key the signatures are not checked, and the output says so.
    let stdout = env.ok(&["ledger", "verify", "--db", "mingma.sqlite"]);
    assert!(stdout.contains("signatures NOT checked"), "{stdout}");

    // A receipt for the quarantine order, to a file and to stdout alike.
    env.ok(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "qo-0610-001",
        "--out",
        "qo.json",
    ]);
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("qo.json")).expect("receipt"))
            .expect("JSON");
    assert_eq!(receipt, env.receipt(&["qo-0610-001"]));
    assert_eq!(receipt["format"], "mingma-receipt/1");
    assert_eq!(receipt["type"], "record");
    assert_eq!(receipt["leaf_index"], env.leaf_of("qo-0610-001"));
    assert_eq!(receipt["tree_size"], LEAVES);
    assert_eq!(receipt["record"]["id"], "qo-0610-001");
    assert_eq!(receipt["checkpoint"].as_str(), Some(note.as_str()));

    let out = env.check(&receipt);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with(&format!(
            "valid: record qo-0610-001 at leaf {} of a log of size {LEAVES} signed by mingma.test/log\n",
            env.leaf_of("qo-0610-001")
        )),
        "{stdout}"
    );
    assert!(stdout.contains("quarantine_order"), "{stdout}");

    // Each way a receipt can be wrong is refused with its reason.
    let mut truncated = receipt.clone();
    truncated["inclusion_proof"]
        .as_array_mut()
        .expect("array")
        .pop();
    refused(&env, &truncated, "the inclusion proof is truncated");

    let other = Env::new();
    let out = env.check_with(&receipt, &other.vkey, ORIGIN);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the checkpoint has no signature by key mingma.test/log+"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("wrong key"));

    let out = env.check_with(&receipt, &env.vkey, "mingma.test/other-log");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("is for origin \"mingma.test/log\", not \"mingma.test/other-log\""),
        "{}",
        text(&out.stderr)
    );

    let mut modified = receipt.clone();
    modified["checkpoint"] =
        Value::from(note.replacen(&format!("\n{LEAVES}\n"), &format!("\n{}\n", LEAVES + 1), 1));
    refused(&env, &modified, "the checkpoint note was modified");

    let mut modified = receipt.clone();
    modified["leaf"] = b64_modified(&receipt["leaf"], |b| {
        if let Some(last) = b.last_mut() {
            *last ^= 1;
        }
    });
    refused(&env, &modified, "the leaf bytes or the proof were modified");

    let mut modified = receipt.clone();
    modified["record"]["salt"] = Value::from("00".repeat(32));
    refused(&env, &modified, "a wrong salt");

    let mut modified = receipt.clone();
    modified["record"]["canonical"] = b64_modified(&receipt["record"]["canonical"], |b| {
        if let Some(last) = b.last_mut() {
            *last ^= 1;
        }
    });
    refused(&env, &modified, "altered record bytes");

    let mut modified = receipt.clone();
    modified["tree_size"] = Value::from(LEAVES - 1);
    refused(
        &env,
        &modified,
        &format!("field `tree_size` says {}", LEAVES - 1),
    );

    let mut modified = receipt.clone();
    modified["record"]["id"] = Value::from("be-0610-001");
    refused(&env, &modified, "field `record.id`");

    // Malformed JSON: the field is named.
    let mut modified = receipt.clone();
    modified["record"]
        .as_object_mut()
        .expect("object")
        .remove("salt");
    refused(&env, &modified, "field `record.salt` is missing");
    let mut modified = receipt.clone();
    modified["leaf_index"] = Value::from("four");
    refused(&env, &modified, "field `leaf_index` is not a number");
    let mut modified = receipt.clone();
    modified["inclusion_proof"][1] = Value::from("not a hash");
    refused(&env, &modified, "field `inclusion_proof[1]`");
    let mut modified = receipt.clone();
    modified["type"] = Value::from("code_change");
    refused(&env, &modified, "field `code_change` is missing");

    // Cut anywhere, a receipt is refused, never with a panic (Env::run checks).
    let whole = receipt.to_string();
    let path = env.path("cut.json");
    for cut in (0..whole.len()).step_by(41) {
        let Some(part) = whole.get(..cut) else {
            continue;
        };
        std::fs::write(&path, part).expect("write");
        let err = env.fails(&[
            "ledger",
            "check-receipt",
            path.to_str().expect("utf-8"),
            "--vkey",
            &env.vkey,
            "--origin",
            ORIGIN,
        ]);
        assert!(err.contains("invalid receipt"), "{err}");
    }
    let err = env.fails(&[
        "ledger",
        "check-receipt",
        "qo.json",
        "--vkey",
        "not-a-key",
        "--origin",
        ORIGIN,
    ]);
    assert!(err.contains("--vkey"), "{err}");

    // Unknown records, and records newer than the latest checkpoint.
    let err = env.fails(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "no-such-record",
    ]);
    assert!(
        err.contains("no record `no-such-record` is stored"),
        "{err}"
    );
}

#[test]
fn purge_removes_old_scans_and_the_log_still_verifies() {
    let env = Env::new();
    env.import();
    env.checkpoint();
    let scan = env.leaf_of("vs-0612-001");
    let receipt = env.receipt(&["vs-0612-001"]);

    // Inside the retention window nothing goes.
    let out = env.ok(&[
        "ledger",
        "purge",
        "--db",
        "mingma.sqlite",
        "--now",
        "2022-06-20T00:00:00+08:00",
    ]);
    assert!(out.contains("no scan entered before"), "{out}");

    let out = env.ok(&[
        "ledger",
        "purge",
        "--db",
        "mingma.sqlite",
        "--retention",
        "21d",
        "--now",
        "2023-06-01T00:00:00+08:00",
    ]);
    assert!(
        out.contains("removed 2 scans entered before 2023-05-11T00:00:00+08:00"),
        "{out}"
    );
    assert!(
        out.contains(&format!("leaves {scan}-{}", scan + 1)),
        "{out}"
    );
    assert!(
        out.contains(&format!("the purge is recorded at leaf {LEAVES}")),
        "{out}"
    );

    // The scan is gone from the store; its earlier receipt still proves it was logged.
    let err = env.fails(&["ledger", "receipt", "--db", "mingma.sqlite", "vs-0612-001"]);
    assert!(err.contains("purged"), "{err}");
    let out = env.check(&receipt);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = env.verify();
    assert!(out.status.success(), "{}", text(&out.stdout));
    env.checkpoint();
    let out = env.verify();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("leaves:         {}", LEAVES + 1)),
        "{stdout}"
    );
    assert!(stdout.contains("purged:         2"), "{stdout}");
    assert!(stdout.contains("checkpoints:    2"), "{stdout}");

    let err = env.fails(&[
        "ledger",
        "purge",
        "--db",
        "mingma.sqlite",
        "--retention",
        "0d",
    ]);
    assert!(err.contains("--retention"), "{err}");
    let err = env.fails(&[
        "ledger",
        "purge",
        "--db",
        "mingma.sqlite",
        "--now",
        "yesterday",
    ]);
    assert!(err.contains("--now"), "{err}");
}

#[test]
fn purge_keeps_scans_that_live_evidence_refers_to() {
    let env = Env::new();
    env.register();
    // The example, with the office scan behind the unapproved close contact.
    let mut lines = Vec::new();
    for line in support::example_lines() {
        if line.contains("\"id\":\"cc-0614-002\"") {
            lines.push(
                r#"{"type":"venue_scan","id":"vs-0601-009","subject":"410104198802287079","recorded_by":"holder","effective_at":"2022-06-01T10:00:00+08:00","recorded_at":"2022-06-01T10:00:01+08:00","venue":"v-linshan-office","presence":"rotating"}"#.to_owned(),
            );
            lines.push(line.replace(
                r#""until":"2022-06-01T17:00:00+08:00"}"#,
                r#""until":"2022-06-01T17:00:00+08:00","scans":["vs-0601-009"]}"#,
            ));
        } else {
            lines.push(line);
        }
    }
    let file = env.path("with-scan.jsonl");
    std::fs::write(&file, support::seal_lines(&lines).join("\n")).expect("write");
    let out = env.ok(&[
        "import",
        "--db",
        "mingma.sqlite",
        file.to_str().expect("utf-8"),
        "--pseudonym-key",
        PSEUDONYM_KEY,
    ]);
    assert!(out.contains(&format!(": {} new", RECORDS + 1)), "{out}");
    // The designation (14 June) is still inside the window; the scans of 1 and 12
    // June are not.
    let out = env.ok(&[
        "ledger",
        "purge",
        "--db",
        "mingma.sqlite",
        "--now",
        "2022-07-04T12:00:00+08:00",
    ]);
    assert!(out.contains("removed 2 scans"), "{out}");
    assert!(
        out.contains("kept 1 scan entered before 2022-06-13T12:00:00+08:00 because live evidence"),
        "{out}"
    );
    env.checkpoint();
    assert!(env.verify().status.success());
}

#[test]
fn import_stores_the_good_lines_of_a_bad_file_and_reports_every_bad_one() {
    let env = Env::new();
    env.register();
    let sealed = std::fs::read_to_string(env.sealed()).expect("sealed example");
    let bad = sealed
        .replace("\"presence\":\"stale\"", "\"presence\":\"photo\"")
        .replacen("\"origin\":\"新加坡\",", "\"origin\":\"新加坡\"", 1)
        + "not json\n";
    let file = env.path("bad.jsonl");
    std::fs::write(&file, bad).expect("write");
    let err = env.fails(&[
        "import",
        "--db",
        "mingma.sqlite",
        file.to_str().expect("utf-8"),
        "--pseudonym-key",
        PSEUDONYM_KEY,
    ]);
    assert!(err.contains("field `presence`"), "{err}");
    assert!(err.contains("unknown variant `photo`"), "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
    // The order and its approval rest on the broken border entry.
    assert!(
        err.contains("field `ground`: `ground` refers to `be-0610-001`, which line 21 of this file gave and was refused"),
        "{err}"
    );
    assert!(
        err.contains("field `target`: `target` refers to `qo-0610-001`"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            ": {} new, 0 already stored, 5 lines refused",
            RECORDS - 4
        )),
        "{err}"
    );
    // The fixed file stores the rest.
    let out = env.import();
    assert!(
        out.contains(&format!(": 4 new, {} already stored", RECORDS - 4)),
        "{out}"
    );
    let out = env.ok(&["ledger", "verify", "--db", "mingma.sqlite"]);
    assert!(out.contains(&format!("leaves:         {LEAVES}")), "{out}");

    // A different record under a used id (properly sealed) is refused, and so is
    // what refers to it; nothing of them is stored.
    let changed: Vec<String> = support::example_lines()
        .into_iter()
        .map(|l| l.replace("\"origin\":\"新加坡\"", "\"origin\":\"马来西亚\""))
        .collect();
    let file = env.path("changed.jsonl");
    std::fs::write(&file, support::seal_lines(&changed).join("\n")).expect("write");
    let err = env.fails(&[
        "import",
        "--db",
        "mingma.sqlite",
        file.to_str().expect("utf-8"),
        "--pseudonym-key",
        PSEUDONYM_KEY,
    ]);
    assert!(
        err.contains("record id `be-0610-001` is already used by a different stored record"),
        "{err}"
    );
    let out = env.ok(&["ledger", "verify", "--db", "mingma.sqlite"]);
    assert!(out.contains(&format!("leaves:         {LEAVES}")), "{out}");
}

#[test]
fn a_tampered_store_fails_verification_naming_the_leaf() {
    let env = Env::new();
    env.import();
    env.checkpoint();
    assert!(env.verify().status.success());
    let scan = env.leaf_of("vs-0612-001");
    env.sql("UPDATE scans SET recorded_at = recorded_at - 86400");
    let out = env.verify();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "first problem: leaf {scan}: record `vs-0612-001` no longer matches its commitment"
        )),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("findings:       2"), "{stdout}");
    assert!(stdout.contains(&format!("leaf {}: ", scan + 1)), "{stdout}");
}

#[test]
fn checkpoint_refuses_to_sign_a_rewritten_tree() {
    let env = Env::new();
    env.import();
    env.checkpoint();
    // Rewrite the tree the store serves.
    env.sql("UPDATE ledger_nodes SET hash = zeroblob(32); UPDATE ledger_leaves SET hash = zeroblob(32);");
    let err = env.fails(&[
        "ledger",
        "checkpoint",
        "--db",
        "mingma.sqlite",
        "--key",
        "log.key",
        "--origin",
        ORIGIN,
    ]);
    assert!(err.contains("refusing to sign"), "{err}");
    assert!(
        err.contains(&format!(
            "not consistent with the latest checkpoint (size {LEAVES}"
        )),
        "{err}"
    );
    assert!(err.contains("mingma ledger verify"), "{err}");
    // The refused checkpoint was not stored.
    let conn = rusqlite::Connection::open(env.db()).expect("open");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);

    // A checkpoint for another origin than the log's is refused too.
    let env = Env::new();
    env.import();
    env.checkpoint();
    let err = env.fails(&[
        "ledger",
        "checkpoint",
        "--db",
        "mingma.sqlite",
        "--key",
        "log.key",
        "--origin",
        "mingma.test/another",
    ]);
    assert!(err.contains("a log keeps one origin"), "{err}");
}

/// Records the code changes that derivation gives at noon on 14 June, as the
/// derivation engine would; returns the batch leaf and the inbound traveller's
/// position in it and short pseudonym.
fn record_code_changes(db: &Path) -> (u64, u64, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let key = PseudonymKey::parse_hex(PSEUDONYM_KEY).expect("key");
        let mut text = String::from(support::DIRECTORY);
        text.push_str(&support::seal_lines(&support::example_lines()).join("\n"));
        let file = read_evidence_file(&text, &key).expect("valid");
        let rules = RuleSet::default_rules().expect("rules");
        let at = Timestamp::parse("2022-06-14T12:00:00+08:00").expect("time");
        let store = SqliteStore::open(db).expect("open");
        let size = store.ledger_size().await.expect("size");
        let decisions = file
            .subjects
            .keys()
            .map(|person| {
                CodeChange::from_decision(derive(&file.records, person, at, at, &rules), size)
            })
            .collect();
        let leaf = store
            .record_code_changes(decisions, size)
            .await
            .expect("recorded")
            .expect("a batch")
            .leaf;
        let traveller = key.person_key(&NationalId::parse(TRAVELLER).expect("id"));
        let state = store
            .code_state(traveller)
            .await
            .expect("read")
            .expect("a state");
        assert_eq!(state.leaf, leaf);
        (leaf, state.position, traveller.short())
    })
}

#[test]
fn code_change_receipts_prove_both_levels() {
    let env = Env::new();
    env.import();
    let (leaf, position, person) = record_code_changes(&env.db());
    let at = format!("{leaf}:{position}");
    let err = env.fails(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "--code-change",
        &at,
    ]);
    assert!(err.contains("sign a checkpoint first"), "{err}");
    env.checkpoint();

    let out = env.verify();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("batches:        1"), "{stdout}");
    assert!(!stdout.contains("code states:    0"), "{stdout}");

    let receipt = env.receipt(&["--code-change", &at]);
    assert_eq!(receipt["type"], "code_change");
    assert_eq!(receipt["leaf_index"], leaf);
    assert_eq!(receipt["code_change"]["position"], position);
    let out = env.check(&receipt);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with(&format!(
            "valid: code change of person {person} to red at position {position} of the batch at leaf {leaf} of a log of size {} signed by mingma.test/log\n",
            leaf + 1
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("evidence:      qo-0610-001, be-0610-001"),
        "{stdout}"
    );

    // The second level is checked as strictly as the first.
    let mut modified = receipt.clone();
    modified["code_change"]["salt"] = Value::from("00".repeat(32));
    refused(&env, &modified, "do not open a change at position");
    let mut modified = receipt.clone();
    modified["code_change"]["canonical"] =
        b64_modified(&receipt["code_change"]["canonical"], |b| b[33] = 0);
    refused(&env, &modified, "altered change bytes");
    let mut modified = receipt.clone();
    if modified["code_change"]["inclusion_proof"]
        .as_array_mut()
        .expect("array")
        .pop()
        .is_some()
    {
        refused(&env, &modified, "the batch inclusion proof is truncated");
    }
    let mut modified = receipt.clone();
    modified["code_change"]["batch_size"] = Value::from(99);
    refused(&env, &modified, "field `code_change.batch_size` says 99");
    let mut modified = receipt.clone();
    modified["leaf"] = b64_modified(&receipt["leaf"], |b| b[2] ^= 1);
    refused(&env, &modified, "the leaf bytes or the proof were modified");
    // A record receipt is not a code-change receipt.
    let mut modified = receipt.clone();
    let change = modified
        .as_object_mut()
        .expect("object")
        .remove("code_change")
        .expect("code_change");
    modified["type"] = Value::from("record");
    modified["record"] = serde_json::json!({
        "id": "qo-0610-001",
        "canonical": change["canonical"],
        "salt": change["salt"],
    });
    refused(
        &env,
        &modified,
        "is a code-change batch, not a record entry",
    );

    // Asking for what is not there.
    let err = env.fails(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "--code-change",
        &format!("{leaf}:999"),
    ]);
    assert!(err.contains("there is no position 999"), "{err}");
    let err = env.fails(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "--code-change",
        "0:0",
    ]);
    assert!(err.contains("leaf 0 is not a code-change batch"), "{err}");
    let err = env.fails(&[
        "ledger",
        "receipt",
        "--db",
        "mingma.sqlite",
        "--code-change",
        "x",
    ]);
    assert!(err.contains("<batch leaf>:<position>"), "{err}");
}

#[test]
fn the_same_commands_run_on_postgresql() {
    let cluster = mingma_pgtest::PgCluster::shared().expect("a PostgreSQL cluster for the tests");
    let url = cluster.fresh_database("cli").expect("a fresh database");
    let env = Env::new();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = mingma_store_postgres::PostgresStore::connect(&url)
                .await
                .expect("connect");
            support::register_in(&store).await;
        });
    let import = env.ok(&[
        "import",
        "--db",
        &url,
        &env.sealed(),
        "--pseudonym-key",
        PSEUDONYM_KEY,
    ]);
    assert!(
        import.contains(&format!("{RECORDS} new, 0 already stored")),
        "{import}"
    );
    let again = env.ok(&[
        "import",
        "--db",
        &url,
        &env.sealed(),
        "--pseudonym-key",
        PSEUDONYM_KEY,
    ]);
    assert!(
        again.contains(&format!("0 new, {RECORDS} already stored")),
        "{again}"
    );
    env.ok(&[
        "ledger",
        "checkpoint",
        "--db",
        &url,
        "--key",
        "log.key",
        "--origin",
        ORIGIN,
    ]);
    let verified = env.ok(&[
        "ledger", "verify", "--db", &url, "--vkey", &env.vkey, "--origin", ORIGIN,
    ]);
    assert!(!verified.contains("first problem"), "{verified}");
    env.ok(&[
        "ledger",
        "receipt",
        "--db",
        &url,
        "qo-0610-001",
        "--out",
        "pg-receipt.json",
    ]);
    let checked = env.ok(&[
        "ledger",
        "check-receipt",
        "pg-receipt.json",
        "--vkey",
        &env.vkey,
        "--origin",
        ORIGIN,
    ]);
    assert!(
        checked.starts_with("valid: record qo-0610-001"),
        "{checked}"
    );
    let purged = env.ok(&[
        "ledger",
        "purge",
        "--db",
        &url,
        "--now",
        "2023-01-01T00:00:00+08:00",
    ]);
    assert!(purged.contains("removed"), "{purged}");
    env.ok(&[
        "ledger",
        "checkpoint",
        "--db",
        &url,
        "--key",
        "log.key",
        "--origin",
        ORIGIN,
    ]);
    let verified = env.ok(&[
        "ledger", "verify", "--db", &url, "--vkey", &env.vkey, "--origin", ORIGIN,
    ]);
    assert!(!verified.contains("first problem"), "{verified}");
}

#[test]
fn records_written_past_the_service_with_a_forged_or_missing_seal_colour_no_code_and_verify_names_them(
) {
    use mingma_core::{
        AuthorityId, Evidence, EvidenceBody, Exposure, OfficialId, RecordId, Recorder,
    };
    let env = Env::new();
    env.import();
    env.checkpoint();
    assert!(env.verify().status.success());

    // Close-contact designations typed into the store past every intake check, each
    // approved with a genuine seal of a second official: one sealed by a key nobody
    // registered (someone with database access making up off-4101-zhao's seal), one
    // with no seal at all.
    let key = PseudonymKey::parse_hex(PSEUDONYM_KEY).expect("key");
    let at = Timestamp::parse("2022-06-14T10:00:00+08:00").expect("time");
    let designation = |id: &str, subject: &str| Evidence {
        id: RecordId::parse(id).expect("id"),
        subject: Some(key.person_key(&NationalId::parse(subject).expect("id"))),
        recorded_by: Recorder::Official(OfficialId::parse("off-4101-zhao").expect("id")),
        authority: Some(AuthorityId::parse("hc-4101").expect("id")),
        legal_basis: Some("《新型冠状病毒肺炎防控方案（第九版）》".into()),
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::CloseContact {
            case: RecordId::parse("cr-0602-001").expect("id"),
            exposure: Exposure::Household,
        },
        seal: None,
    };
    let approval = |target: &str| {
        mingma_authority::sealed(
            Evidence {
                id: RecordId::parse(&format!("{target}.ok")).expect("id"),
                subject: None,
                recorded_by: Recorder::Official(OfficialId::parse("off-4101-sun").expect("id")),
                authority: Some(AuthorityId::parse("hc-4101").expect("id")),
                legal_basis: None,
                effective_at: at,
                recorded_at: at,
                body: EvidenceBody::Approval {
                    target: RecordId::parse(target).expect("id"),
                },
                seal: None,
            },
            &support::key_of("official:off-4101-sun"),
        )
    };
    const DEPOSITOR: &str = "410103199005202026";
    const NEIGHBOUR: &str = "410105197801013035";
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[66; 32]);
    let forged = mingma_authority::sealed(designation("cc-forged", DEPOSITOR), &stranger);
    let unsealed = designation("cc-unsealed", NEIGHBOUR);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let colours = runtime.block_on(async {
        let store = SqliteStore::open(env.db()).expect("open");
        store
            .append(vec![
                forged,
                approval("cc-forged"),
                unsealed,
                approval("cc-unsealed"),
            ])
            .await
            .expect("appended past the service");
        let engine =
            mingma_engine::Engine::new(store.clone(), RuleSet::default_rules().expect("rules"));
        let now = Timestamp::parse("2022-06-14T12:00:00+08:00").expect("time");
        let people: Vec<_> = [DEPOSITOR, NEIGHBOUR, TRAVELLER]
            .iter()
            .map(|id| key.person_key(&NationalId::parse(id).expect("id")))
            .collect();
        engine.rederive(&people, now).await.expect("derive");
        let mut colours = Vec::new();
        for person in people {
            let state = store
                .code_state(person)
                .await
                .expect("read")
                .expect("a code");
            colours.push(state.change.colour().name().to_owned());
        }
        colours
    });
    // Neither designation colours its subject (the neighbour's genuine, approved
    // designation of 5 June has run its course by the 14th), the genuine records
    // still colour theirs.
    assert_eq!(
        colours[0], "green",
        "the forged designation colours nothing"
    );
    assert_ne!(
        colours[1], "red",
        "the unsealed designation colours nothing"
    );
    assert_eq!(colours[2], "red", "the genuine records still count");

    env.checkpoint();
    let out = env.verify();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let forged_leaf = env.leaf_of("cc-forged");
    let unsealed_leaf = env.leaf_of("cc-unsealed");
    let stranger_key = mingma_authority::KeyId::of(&stranger.verifying_key());
    assert!(
        stdout.contains(&format!(
            "leaf {forged_leaf}: does not count and colours no code: record cc-forged: signed by key {stranger_key}, which is not registered"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "leaf {unsealed_leaf}: does not count and colours no code: record cc-unsealed: unsigned"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("findings:       2"), "{stdout}");
}
