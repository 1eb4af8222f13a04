//! `mingma explain` as a user runs it: the shipped example, and malformed files that
//! must be refused with the line and the problem, never with a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mingma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mingma"))
        .args(args)
        .env_remove("MINGMA_PSEUDONYM_KEY")
        .output()
        .expect("the mingma binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const EXAMPLE: &str = "examples/zhengzhou-2022.jsonl";
const AT: &str = "2022-06-14T12:00:00+08:00";

fn example() -> String {
    repo().join(EXAMPLE).display().to_string()
}

#[test]
fn explains_the_inbound_traveller_in_chinese_by_default() {
    let out = mingma(&[
        "explain",
        &example(),
        "--person",
        "410102198503121017",
        "--at",
        AT,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "红码",
        "赋码原因: 正在实施集中或居家医学隔离观察的入境人员",
        "赋码来源: 河南省卫生健康委员会; 郑州海关",
        "赋码时间: 2022-06-10T10:00:00+08:00",
        "下次自动变更: 2022-06-17T10:00:00+08:00 → 黄码",
        "隔离决定 qo-0610-001",
        "入境记录 be-0610-001",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn explains_in_english_and_as_json() {
    let out = mingma(&[
        "explain",
        &example(),
        "--person",
        "410105197801013035",
        "--at",
        AT,
        "--lang",
        "en",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("YELLOW"), "{stdout}");
    assert!(
        stdout.contains("Close contact in health monitoring after quarantine"),
        "{stdout}"
    );

    let out = mingma(&[
        "explain",
        &example(),
        "--person",
        "410105197801013035",
        "--at",
        AT,
        "--json",
    ]);
    assert!(out.status.success());
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(decision["colour"], "yellow");
    assert_eq!(decision["fired"][0]["rule"], "close-contact-monitoring");
    assert_eq!(decision["owners"][0], "hc-4101");
    assert_eq!(decision["next_change"]["colour"], "green");
}

#[test]
fn the_forged_border_entry_of_2022_gives_no_inbound_reason() {
    let out = mingma(&[
        "explain",
        &example(),
        "--person",
        "410103199005202026",
        "--at",
        AT,
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("绿码"), "{stdout}");
    assert!(!stdout.contains("入境人员"), "{stdout}");
    assert!(stdout.contains("在案但未触发任何规则的记录"), "{stdout}");
}

#[test]
fn known_at_answers_what_the_platform_showed_then() {
    // Before the declaration was recorded the visitor was green; after, red.
    let person = "410102199211114047";
    let before = mingma(&[
        "explain",
        &example(),
        "--person",
        person,
        "--at",
        "2022-06-13T12:00:00+08:00",
        "--json",
    ]);
    let after = mingma(&[
        "explain",
        &example(),
        "--person",
        person,
        "--at",
        "2022-06-13T12:00:00+08:00",
        "--known-at",
        "2022-06-14T00:00:00+08:00",
        "--json",
    ]);
    let before: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(before["colour"], "green");
    // Valid at noon on the 13th, the declaration (effective 18:00) had not yet taken effect.
    assert_eq!(after["colour"], "green");
    assert_eq!(after["next_change"]["colour"], "red");
}

/// Writes `lines` after the example's registry lines into a temporary file.
/// Returns the directory (removed on drop), the file's path and the line number of
/// the first of `lines`.
fn file_with(lines: &[&str]) -> (tempdir::Dir, String, usize) {
    let dir = tempdir::Dir::new();
    let registry: String = std::fs::read_to_string(repo().join(EXAMPLE))
        .unwrap()
        .lines()
        .filter(|l| {
            [
                "\"authority\"",
                "\"official\"",
                "\"data_source\"",
                "\"venue\"",
            ]
            .iter()
            .any(|t| l.contains(&format!("\"type\":{t}")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.path.join("evidence.jsonl");
    std::fs::write(&path, format!("{registry}{}\n", lines.join("\n"))).unwrap();
    let first_added = registry.lines().count() + 1;
    (dir, path.display().to_string(), first_added)
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "mingma-explain-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

const SCAN: &str = r#"{"type":"venue_scan","id":"s1","subject":"410102199211114047","recorded_by":"holder","effective_at":"2022-06-12T15:00:00+08:00","recorded_at":"2022-06-12T15:00:01+08:00","venue":"v-erqi-market","presence":"static_poster"}"#;

#[test]
fn malformed_files_are_refused_with_line_and_reason() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"type":"venue_scan","id":"s1", "subject": }"#,
            "not valid JSON",
        ),
        (
            r#"{"type":"vaccination","id":"x1"}"#,
            "unknown type `vaccination`",
        ),
        (
            &SCAN.replace("410102199211114047", "410102199211114048"),
            "check character",
        ),
        (
            r#"{"type":"venue","id":"v-nowhere","name":"无","street":"419999001","kind":"market"}"#,
            "not a known GB/T 2260 division",
        ),
        (
            r#"{"type":"quarantine_release","id":"rel-1","subject":"410102199211114047","recorded_by":"official:off-4101-zhao","authority":"hc-4101","effective_at":"2022-06-12T15:00:00+08:00","recorded_at":"2022-06-12T15:00:00+08:00","order":"no-such-order"}"#,
            "dangling reference",
        ),
        (
            r#"{"type":"risk_area","id":"ra-x","recorded_by":"official:off-4101-zhao","authority":"hc-4101","effective_at":"2022-06-13T18:00:00+08:00","recorded_at":"2022-06-13T18:00:00+08:00","level":"high","venues":["v-erqi-market"],"from":"2022-06-12T00:00:00+08:00","until":"2022-06-14T00:00:00+08:00"}"#,
            "missing `legal_basis`",
        ),
        (
            r#"{"type":"test_result","id":"t-x","subject":"410102199211114047","recorded_by":"source:customs-cgo","authority":"customs-4101","effective_at":"2022-06-13T18:00:00+08:00","recorded_at":"2022-06-13T18:00:00+08:00","method":"antigen","outcome":"positive","sampled_at":"2022-06-13T08:00:00+08:00"}"#,
            "may not submit test_result",
        ),
        (r#"[1, 2, 3]"#, "must be a JSON object"),
        (
            r#"{"type":"venue_scan","id":"s1","subject":"410102199211114047","recorded_by":"holder","effective_at":"2022-13-12T15:00:00+08:00","recorded_at":"2022-06-12T15:00:01+08:00","venue":"v-erqi-market","presence":"static_poster"}"#,
            "not an RFC 3339 time",
        ),
    ];
    for (line, expected) in cases {
        let (_dir, path, first) = file_with(&[SCAN.replace("\"s1\"", "\"s0\"").as_str(), line]);
        let out = mingma(&["explain", &path, "--at", AT]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let bad_line = first + 1;
        assert!(
            stderr.contains(&format!(":line {bad_line}: ")) && stderr.contains(expected),
            "expected line {bad_line} and {expected:?} for {line}\n{stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "nothing is explained from a bad file"
        );
    }
}

#[test]
fn self_approval_is_refused() {
    let order = r#"{"type":"close_contact","id":"cc-1","subject":"410102199211114047","recorded_by":"official:off-4101-zhao","authority":"hc-4101","legal_basis":"方案","effective_at":"2022-06-14T09:00:00+08:00","recorded_at":"2022-06-14T09:00:00+08:00","case":"cr-1","exposure":"household"}"#;
    let case = r#"{"type":"case_report","id":"cr-1","subject":"410102196008086067","recorded_by":"source:cdc-report","authority":"cdc-4101","effective_at":"2022-06-02T12:00:00+08:00","recorded_at":"2022-06-02T12:05:00+08:00","classification":"confirmed"}"#;
    let approval = r#"{"type":"approval","id":"ap-1","recorded_by":"official:off-4101-zhao","authority":"hc-4101","effective_at":"2022-06-14T09:01:00+08:00","recorded_at":"2022-06-14T09:01:00+08:00","target":"cc-1"}"#;
    let (_dir, path, first) = file_with(&[case, order, approval]);
    let out = mingma(&["explain", &path, "--at", AT]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(":line {}: ", first + 2))
            && stderr.contains("cannot approve or reject their own record"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_named() {
    let out = mingma(&["explain", &example(), "--person", "12345", "--at", AT]);
    assert!(text(&out.stderr).contains("--person: an ID number has 18 characters"));
    let out = mingma(&["explain", &example(), "--at", "yesterday"]);
    assert!(text(&out.stderr).contains("--at: `yesterday` is not an RFC 3339 time"));
    let out = mingma(&["explain", "/nonexistent/evidence.jsonl", "--at", AT]);
    assert!(text(&out.stderr).contains("cannot read /nonexistent/evidence.jsonl"));
}

#[test]
fn the_rule_listing_shows_every_default_rule() {
    let out = mingma(&["rules"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("mingma-default 2026.2"));
    assert!(stdout.contains("inbound-traveller"));
    assert!(stdout.contains("申诉：24 小时内答复"), "{stdout}");
    let bad = tempdir::Dir::new();
    let path = bad.path.join("rules.toml");
    std::fs::write(
        &path,
        "id = \"x\"\nversion = \"1\"\n[dwell]\ndefault = \"1h\"\n[[rule]]\nid = \"r\"\ncolour = \"red\"\nreason = \"positive_test\"\nevidence = \"horoscope\"\n",
    )
    .unwrap();
    let out = mingma(&["rules", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("rules.toml:9: unknown evidence type `horoscope`"),
        "{}",
        text(&out.stderr)
    );
}
