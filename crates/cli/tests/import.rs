//! `mingma import` as a lab, customs post or case-reporting unit uses it: sealed
//! records against the keys the store's authority acts registered, JSON Lines and
//! CSV, every bad line reported with its line and field while the good ones are
//! stored, and imports that can be repeated.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{register, seal_lines, DIRECTORY, PSEUDONYM_KEY};

const P1: &str = "410102198503121017";
const P2: &str = "410103199005202026";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mingma(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mingma"))
        .args(args)
        .current_dir(dir)
        .env_remove("MINGMA_PSEUDONYM_KEY")
        .output()
        .expect("the mingma binary runs");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{args:?} panicked:\n{}",
        text(&out.stderr)
    );
    out
}

fn import(dir: &Path, file: &Path, errors: &str) -> Output {
    mingma(
        dir,
        &[
            "import",
            "--db",
            "mingma.sqlite",
            file.to_str().expect("utf-8 path"),
            "--pseudonym-key",
            PSEUDONYM_KEY,
            "--errors",
            errors,
        ],
    )
}

fn line(json: &str) -> String {
    json.to_owned()
}

/// The good records: a negative and a positive test, a case report on the
/// positive, a border entry, a holder's scan, a quarantine order on the entry (an
/// official's record that needs approval) and its approval by a second official.
fn good_lines() -> Vec<String> {
    vec![
        line(&format!(
            r#"{{"type":"test_result","id":"tr-1","subject":"{P1}","recorded_by":"source:lab-kingmed","authority":"cdc-4101","effective_at":"2022-06-01T18:00:00+08:00","recorded_at":"2022-06-01T18:05:00+08:00","method":"nucleic_acid","outcome":"negative","sampled_at":"2022-06-01T08:00:00+08:00"}}"#
        )),
        line(&format!(
            r#"{{"type":"test_result","id":"tr-2","subject":"{P2}","recorded_by":"source:lab-kingmed","authority":"cdc-4101","effective_at":"2022-06-02T18:00:00+08:00","recorded_at":"2022-06-02T18:05:00+08:00","method":"nucleic_acid","outcome":"positive","sampled_at":"2022-06-02T08:00:00+08:00"}}"#
        )),
        line(&format!(
            r#"{{"type":"case_report","id":"cr-1","subject":"{P2}","recorded_by":"source:cdc-report","authority":"cdc-4101","effective_at":"2022-06-02T20:00:00+08:00","recorded_at":"2022-06-02T20:00:00+08:00","classification":"confirmed","test":"tr-2"}}"#
        )),
        line(&format!(
            r#"{{"type":"border_entry","id":"be-1","subject":"{P1}","recorded_by":"source:customs-cgo","authority":"customs-4101","effective_at":"2022-06-10T08:30:00+08:00","recorded_at":"2022-06-10T08:35:00+08:00","port":"郑州新郑国际机场","origin":"新加坡"}}"#
        )),
        line(
            r#"{"type":"venue","id":"v-zz-east","name":"郑州东站","street":"410105001","kind":"transport_hub"}"#,
        ),
        line(&format!(
            r#"{{"type":"venue_scan","id":"vs-1","subject":"{P1}","recorded_by":"holder","effective_at":"2022-06-12T08:00:00+08:00","recorded_at":"2022-06-12T08:00:01+08:00","venue":"v-zz-east","presence":"rotating"}}"#
        )),
        line(&format!(
            r#"{{"type":"quarantine_order","id":"qo-1","subject":"{P1}","recorded_by":"official:off-4101-zhao","authority":"hc-4101","legal_basis":"《中华人民共和国传染病防治法》第四十一条","effective_at":"2022-06-10T10:00:00+08:00","recorded_at":"2022-06-10T09:50:00+08:00","setting":"centralised","ground":"be-1","planned_end":"2022-06-17T10:00:00+08:00"}}"#
        )),
        line(
            r#"{"type":"approval","id":"ap-1","recorded_by":"official:off-4101-sun","authority":"hc-4101","effective_at":"2022-06-10T09:55:00+08:00","recorded_at":"2022-06-10T09:55:00+08:00","target":"qo-1"}"#,
        ),
    ]
}

/// Records that are valid and sealed but will be spoiled on their way into the file.
fn to_spoil() -> Vec<String> {
    vec![
        // Sealed, then its outcome changed: the seal no longer matches.
        line(&format!(
            r#"{{"type":"test_result","id":"tr-tampered","subject":"{P1}","recorded_by":"source:lab-kingmed","authority":"cdc-4101","effective_at":"2022-06-03T18:00:00+08:00","recorded_at":"2022-06-03T18:05:00+08:00","method":"nucleic_acid","outcome":"negative","sampled_at":"2022-06-03T08:00:00+08:00"}}"#
        )),
        // Sealed, then the seal removed.
        line(&format!(
            r#"{{"type":"test_result","id":"tr-unsigned","subject":"{P1}","recorded_by":"source:lab-kingmed","authority":"cdc-4101","effective_at":"2022-06-04T18:00:00+08:00","recorded_at":"2022-06-04T18:05:00+08:00","method":"nucleic_acid","outcome":"negative","sampled_at":"2022-06-04T08:00:00+08:00"}}"#
        )),
        // Properly sealed, but refers to the tampered test, which is refused.
        line(&format!(
            r#"{{"type":"case_report","id":"cr-2","subject":"{P1}","recorded_by":"source:cdc-report","authority":"cdc-4101","effective_at":"2022-06-04T20:00:00+08:00","recorded_at":"2022-06-04T20:00:00+08:00","classification":"confirmed","test":"tr-tampered"}}"#
        )),
        // The same id as tr-1, different content (properly sealed).
        line(&format!(
            r#"{{"type":"test_result","id":"tr-1","subject":"{P1}","recorded_by":"source:lab-kingmed","authority":"cdc-4101","effective_at":"2022-06-01T18:00:00+08:00","recorded_at":"2022-06-01T18:05:00+08:00","method":"nucleic_acid","outcome":"positive","sampled_at":"2022-06-01T08:00:00+08:00"}}"#
        )),
    ]
}

/// A file with good and bad lines; returns its lines and, for each bad line, its
/// number and what its report must say.
fn mixed_file() -> (Vec<String>, Vec<(usize, &'static str, String)>) {
    let good = seal_lines(&good_lines());
    // Sealing the duplicate needs a file without the original.
    let spoil = {
        let mut base = good_lines();
        base.remove(0);
        let mut lines = base.clone();
        lines.extend(to_spoil());
        seal_lines(&lines).split_off(base.len())
    };
    let tampered = spoil[0].replace(r#""outcome":"negative""#, r#""outcome":"positive""#);
    let unsigned = {
        let mut object: serde_json::Map<String, Value> =
            serde_json::from_str(&spoil[1]).expect("JSON");
        object.remove("seal");
        Value::Object(object).to_string()
    };
    let refers_to_refused = spoil[2].clone();
    let duplicate = spoil[3].clone();
    let unknown_source = good[0]
        .replace("\"tr-1\"", "\"tr-unknown\"")
        .replace("source:lab-kingmed", "source:lab-nobody");
    let malformed = good[0]
        .replace("\"tr-1\"", "\"tr-malformed\"")
        .replace("nucleic_acid", "pcr");
    let mut lines =
        vec!["// A lab's, customs' and a reporting unit's records, and two officials'.".to_owned()];
    lines.extend(DIRECTORY.lines().map(str::to_owned));
    // An unregistered source named by a directory line: an error of that line.
    lines.push(r#"{"type":"data_source","id":"lab-nobody","kind":"lab","authority":"cdc-4101","name":"无名检测"}"#.to_owned());
    let directory_end = lines.len();
    lines.extend(good);
    let first_bad = lines.len() + 1;
    lines.extend([
        tampered,
        unsigned,
        unknown_source,
        malformed,
        duplicate,
        refers_to_refused,
    ]);
    let expected = vec![
        (
            directory_end,
            "id",
            "`lab-nobody` is not registered".to_owned(),
        ),
        (
            first_bad,
            "seal",
            "does not match the record's content".to_owned(),
        ),
        (first_bad + 1, "seal", "unsigned".to_owned()),
        (
            first_bad + 2,
            "recorded_by",
            "unknown data source `lab-nobody`".to_owned(),
        ),
        (first_bad + 3, "method", "unknown variant `pcr`".to_owned()),
        (
            first_bad + 4,
            "id",
            "record id `tr-1` is already used by line".to_owned(),
        ),
        (
            first_bad + 5,
            "test",
            format!(
                "refers to `tr-tampered`, which line {first_bad} of this file gave and was refused"
            ),
        ),
    ];
    (lines, expected)
}

fn errors_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("errors file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn check_report(out: &Output, errors: &[Value], expected: &[(usize, &str, String)], name: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for ((line, field, phrase), error) in expected.iter().zip(errors) {
        assert_eq!(error["line"], *line as u64, "{error}");
        assert_eq!(error["field"], *field, "{error}");
        let reason = error["reason"].as_str().expect("a reason");
        assert!(
            reason.contains(phrase.as_str()),
            "line {line}: {reason:?} lacks {phrase:?}"
        );
        let shown = format!("{name}: line {line}: field `{field}`: {reason}");
        assert!(stderr.contains(&shown), "{shown:?} not in:\n{stderr}");
    }
    assert!(
        stderr.contains(&format!("{} of the ", expected.len())),
        "{stderr}"
    );
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        register(&dir.path().join("mingma.sqlite"));
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        path
    }
}

#[test]
fn a_file_with_bad_lines_imports_the_good_ones_and_reports_every_bad_one() {
    let env = Env::new();
    let (lines, expected) = mixed_file();
    let file = env.write("mixed.jsonl", &lines);
    let name = file.display().to_string();

    let out = import(env.dir.path(), &file, "errors.jsonl");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(": 7 new, 0 already stored, 7 lines refused"),
        "{stdout}{}",
        text(&out.stderr)
    );
    check_report(
        &out,
        &errors_of(&env.path("errors.jsonl")),
        &expected,
        &name,
    );

    // Again: nothing new, the same lines refused.
    let out = import(env.dir.path(), &file, "again.jsonl");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(": 0 new, 7 already stored, 7 lines refused"),
        "{stdout}"
    );
    check_report(&out, &errors_of(&env.path("again.jsonl")), &expected, &name);

    // What was stored is exactly the good records, and each counts: the ledger
    // verifies clean with every seal checked.
    let out = mingma(
        env.dir.path(),
        &["ledger", "verify", "--db", "mingma.sqlite"],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records:        7"), "{stdout}");
    let conn = rusqlite::Connection::open(env.path("mingma.sqlite")).expect("open");
    let mut ids: Vec<String> = conn
        .prepare("SELECT id FROM records UNION ALL SELECT id FROM scans")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    ids.sort();
    assert_eq!(
        ids,
        ["ap-1", "be-1", "cr-1", "qo-1", "tr-1", "tr-2", "vs-1"]
            .map(str::to_owned)
            .to_vec()
    );
}

#[test]
fn a_good_file_imports_whole_and_exits_zero() {
    let env = Env::new();
    let file = env.write("good.jsonl", &seal_lines(&good_lines()));
    let out = import(env.dir.path(), &file, "errors.jsonl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": 7 new, 0 already stored, 0 lines refused"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(env.path("errors.jsonl")).expect("file"),
        ""
    );

    // A venue is known from its line on; a registry line must agree with the acts.
    let late = vec![
        format!(r#"{{"type":"venue_scan","id":"vs-late","subject":"{P2}","recorded_by":"holder","effective_at":"2022-06-12T09:00:00+08:00","recorded_at":"2022-06-12T09:00:01+08:00","venue":"v-late","presence":"rotating"}}"#),
        r#"{"type":"venue","id":"v-late","name":"后来的场所","street":"410105001","kind":"market"}"#.to_owned(),
        r#"{"type":"official","id":"off-4101-zhao","authority":"hc-41"}"#.to_owned(),
    ];
    let late = env.write("late.jsonl", &late);
    let out = import(env.dir.path(), &late, "late-errors.jsonl");
    assert_eq!(out.status.code(), Some(1));
    let errors = errors_of(&env.path("late-errors.jsonl"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["line"], 1, "{errors:?}");
    assert_eq!(errors[0]["field"], "venue", "{errors:?}");
    assert_eq!(errors[0]["id"], "vs-late", "{errors:?}");
    assert!(
        errors[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("comes later")),
        "{errors:?}"
    );
    assert_eq!(errors[1]["line"], 3, "{errors:?}");
    assert_eq!(errors[1]["field"], "authority", "{errors:?}");
    // In an empty store nothing is registered: every sealed record is refused,
    // only the holder's scan (which needs no seal) is stored.
    let empty = tempfile::tempdir().expect("temp dir");
    let out = import(empty.path(), &file, "errors.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains(": 1 new, 0 already stored, 6 lines refused"),
        "{}",
        text(&out.stdout)
    );
}

/// The same records as CSV rows (the columns of the JSON objects).
fn csv_of(lines: &[String], columns: &[&str]) -> Vec<String> {
    let mut rows = vec![columns.join(",")];
    for line in lines {
        let object: serde_json::Map<String, Value> = serde_json::from_str(line).expect("JSON");
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match object.get(*c) {
                Some(Value::String(s)) if s.contains([',', '"']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            })
            .collect();
        rows.push(cells.join(","));
    }
    rows
}

#[test]
fn csv_imports_the_same_way() {
    let env = Env::new();
    let (lines, _) = mixed_file();
    // CSV carries records only: the directory, the venue and the scan stay out.
    let records: Vec<String> = lines
        .iter()
        .filter(|l| {
            l.starts_with('{')
                && !l.contains(r#""type":"authority""#)
                && !l.contains(r#""type":"official""#)
                && !l.contains(r#""type":"data_source""#)
                && !l.contains(r#""type":"venue""#)
                && !l.contains(r#""type":"venue_scan""#)
        })
        .cloned()
        .collect();
    let columns = [
        "type",
        "id",
        "subject",
        "recorded_by",
        "authority",
        "legal_basis",
        "effective_at",
        "recorded_at",
        "method",
        "outcome",
        "sampled_at",
        "classification",
        "test",
        "port",
        "origin",
        "setting",
        "ground",
        "planned_end",
        "target",
        "seal",
    ];
    let rows = csv_of(&records, &columns);
    let file = env.write("records.csv", &rows);
    let name = file.display().to_string();
    // Rows 2-7 are the good records; 8-13 the bad ones, in the order of the JSON file.
    let expected: Vec<(usize, &str, String)> = vec![
        (8, "seal", "does not match the record's content".into()),
        (9, "seal", "unsigned".into()),
        (10, "recorded_by", "unknown data source `lab-nobody`".into()),
        (11, "method", "unknown variant `pcr`".into()),
        (
            12,
            "id",
            "record id `tr-1` is already used by line 2".into(),
        ),
        (
            13,
            "test",
            "which line 8 of this file gave and was refused".into(),
        ),
    ];
    let out = import(env.dir.path(), &file, "errors.jsonl");
    assert!(
        text(&out.stdout).contains(": 6 new, 0 already stored, 6 lines refused"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    check_report(
        &out,
        &errors_of(&env.path("errors.jsonl")),
        &expected,
        &name,
    );
    let out = import(env.dir.path(), &file, "errors.jsonl");
    assert!(
        text(&out.stdout).contains(": 0 new, 6 already stored, 6 lines refused"),
        "{}",
        text(&out.stdout)
    );

    // A cell in a column its type does not have is an error of that row; an
    // unknown column refuses the file before anything is read.
    let mut odd = rows.clone();
    odd.truncate(2);
    odd[1] = odd[1].replacen(",,,,", ",,,郑州,", 1);
    let file = env.write("odd.csv", &odd);
    let out = import(env.dir.path(), &file, "odd-errors.jsonl");
    assert_eq!(out.status.code(), Some(1));
    let errors = errors_of(&env.path("odd-errors.jsonl"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 2);
    assert!(errors[0]["field"].is_string(), "{errors:?}");
    let bad_header = vec!["type,id,colour".to_owned(), "test_result,x,red".to_owned()];
    let file = env.write("header.csv", &bad_header);
    let out = import(env.dir.path(), &file, "header-errors.jsonl");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 1: field `colour`: the header names an unknown column"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn explain_reads_sealed_files_and_names_a_malformed_seal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lines: Vec<String> = DIRECTORY.lines().map(str::to_owned).collect();
    lines.extend(seal_lines(&good_lines()));
    let file = dir.path().join("sealed.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let out = mingma(
        dir.path(),
        &[
            "explain",
            file.to_str().expect("utf-8"),
            "--at",
            "2022-06-14T12:00:00+08:00",
            "--lang",
            "en",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bad = lines.join("\n").replacen("\"seal\":\"", "\"seal\":\"zz", 1);
    std::fs::write(&file, bad).expect("write");
    let out = mingma(
        dir.path(),
        &[
            "explain",
            file.to_str().expect("utf-8"),
            "--at",
            "2022-06-14T12:00:00+08:00",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`seal`: a seal is `<16 hex digits>.<128 hex digits>`"),
        "{}",
        text(&out.stderr)
    );
}

/// An import stores a risk area and its approval with no server to re-derive the
/// codes they change; `mingma serve` catches them up at start (and would after a
/// crash cut a declaration's re-derivation off), leaving nothing pending.
#[test]
fn an_imported_declaration_is_re_derived_when_the_server_starts() {
    use std::io::BufRead as _;

    let env = Env::new();
    let file = env.path("example.jsonl");
    support::sealed_example(&file);
    let out = import(env.dir.path(), &file, "errors.jsonl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pending = || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let store =
                mingma_store_sqlite::SqliteStore::open(env.path("mingma.sqlite")).expect("open");
            mingma_store::Store::pending_derivations(&store)
                .await
                .expect("pending")
        })
    };
    assert_eq!(pending().len(), 2, "the declaration and its approval");

    let mut child = Command::new(env!("CARGO_BIN_EXE_mingma"))
        .arg("serve")
        .current_dir(env.dir.path())
        .env("MINGMA_DB", env.path("mingma.sqlite"))
        .env("MINGMA_ACCOUNTS_DB", env.path("accounts.sqlite"))
        .env("MINGMA_KEY_DIR", env.path("keys"))
        .env("MINGMA_LISTEN", "127.0.0.1:0")
        .env("MINGMA_METRICS_LISTEN", "127.0.0.1:0")
        .env("MINGMA_PUBLIC_URL", "http://127.0.0.1")
        .env("MINGMA_DEMO_CHANNELS", "1")
        .env("MINGMA_CREATE_MISSING_KEYS", "1")
        .env_remove("MINGMA_PSEUDONYM_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mingma serve starts");
    let stderr = child.stderr.take().expect("its log");
    let (lines, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let caught_up = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match log.recv_timeout(left) {
            Ok(line) if line.contains("pending re-derivations caught up") => break line,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("no catch-up logged: {e}");
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let derived: u64 = caught_up
        .split("derived=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {caught_up:?}"));
    assert!(derived > 0, "{caught_up}");
    assert_eq!(pending(), Vec::<u64>::new(), "nothing is left pending");
}
