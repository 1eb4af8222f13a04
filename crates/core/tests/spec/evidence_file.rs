//! Reading an evidence file (JSON Lines): a well-formed file gives the records and
//! the registry; a malformed one gives every problem with its line, never a panic.

use mingma_core::{read_evidence_file, Colour, EvidenceKind, LineError, Recorder, SourceKind};
use proptest::prelude::*;

use crate::support::*;

/// A well-formed file: registry lines 1-13, a comment on 14, records from 15 on.
fn sample_lines() -> Vec<String> {
    let (zhang, li) = (zhang_id(), li_id());
    vec![
        r#"{"type":"authority","id":"zz-health","name":"郑州市卫生健康委员会","name_en":"Zhengzhou Health Commission","jurisdiction":"4101","contact":"12345"}"#.into(),
        r#"{"type":"authority","id":"zz-customs","name":"郑州海关","jurisdiction":"4101"}"#.into(),
        r#"{"type":"authority","id":"zz-cdc","name":"郑州市疾病预防控制中心","jurisdiction":"4101"}"#.into(),
        r#"{"type":"authority","id":"kf-health","name":"开封市卫生健康委员会","jurisdiction":"4102"}"#.into(),
        r#"{"type":"official","id":"zz-li","authority":"zz-health"}"#.into(),
        r#"{"type":"official","id":"zz-wang","authority":"zz-health"}"#.into(),
        r#"{"type":"official","id":"kf-zhao","authority":"kf-health"}"#.into(),
        r#"{"type":"data_source","id":"lab-kingmed","kind":"lab","authority":"zz-cdc","name":"金域医学郑州实验室"}"#.into(),
        r#"{"type":"data_source","id":"customs-cgo","kind":"customs","authority":"zz-customs","name":"新郑机场海关"}"#.into(),
        r#"{"type":"data_source","id":"hosp-zz6","kind":"case_reporting","authority":"zz-health","name":"郑州市第六人民医院"}"#.into(),
        r#"{"type":"venue","id":"v-jianshe-office","name":"建设路写字楼","street":"410102002","kind":"office"}"#.into(),
        r#"{"type":"venue","id":"v-zz-station","name":"林山寨汽车站","street":"410102001","kind":"transport_hub"}"#.into(),
        r#"{"type":"venue","id":"v-huaihe-restaurant","name":"淮河路饭店","street":"410103001","kind":"restaurant"}"#.into(),
        "// records".into(),
        format!(r#"{{"type":"border_entry","id":"be-1","subject":"{li}","recorded_by":"source:customs-cgo","authority":"zz-customs","effective_at":"2022-06-13T08:00:00+08:00","recorded_at":"2022-06-13T08:05:00+08:00","port":"郑州新郑国际机场","origin":"KR"}}"#),
        format!(r#"{{"type":"quarantine_order","id":"qo-1","subject":"{li}","recorded_by":"official:zz-li","authority":"zz-health","legal_basis":"传染病防治法第三十九条","effective_at":"2022-06-13T10:00:00+08:00","recorded_at":"2022-06-13T10:00:00+08:00","setting":"centralised","facility":"郑州市集中隔离点一号","ground":"be-1","planned_end":"2022-06-20T10:00:00+08:00"}}"#),
        r#"{"type":"approval","id":"qo-1.ok","recorded_by":"official:zz-wang","authority":"zz-health","effective_at":"2022-06-13T10:30:00+08:00","recorded_at":"2022-06-13T10:30:00+08:00","target":"qo-1"}"#.into(),
        format!(r#"{{"type":"test_result","id":"t-1","subject":"{zhang}","recorded_by":"source:lab-kingmed","authority":"zz-cdc","effective_at":"2022-06-12T18:00:00+08:00","recorded_at":"2022-06-12T18:00:00+08:00","method":"nucleic_acid","outcome":"negative","sampled_at":"2022-06-12T09:00:00+08:00"}}"#),
        format!(r#"{{"type":"venue_scan","id":"s-1","subject":"{zhang}","recorded_by":"holder","effective_at":"2022-06-12T10:00:00+08:00","recorded_at":"2022-06-12T10:00:00+08:00","venue":"v-zz-station","presence":"stale"}}"#),
        format!(r#"{{"type":"venue_scan","id":"s-2","subject":"{zhang}","recorded_by":"proxy:{li}","effective_at":"2022-06-12T11:00:00+08:00","recorded_at":"2022-06-12T11:00:00+08:00","venue":"v-jianshe-office","left_at":"2022-06-12T12:00:00+08:00","presence":"rotating"}}"#),
        r#"{"type":"risk_area","id":"ra-1","recorded_by":"official:zz-li","authority":"zz-health","legal_basis":"传染病防治法第四十二条","effective_at":"2022-06-12T20:00:00+08:00","recorded_at":"2022-06-12T20:00:00+08:00","level":"high","divisions":["410102"],"from":"2022-06-12T00:00:00+08:00","until":"2022-06-15T00:00:00+08:00"}"#.into(),
        r#"{"type":"approval","id":"ra-1.ok","recorded_by":"official:zz-wang","authority":"zz-health","effective_at":"2022-06-12T20:10:00+08:00","recorded_at":"2022-06-12T20:10:00+08:00","target":"ra-1"}"#.into(),
        "".into(),
    ]
}

fn sample() -> String {
    sample_lines().join("\n")
}

#[test]
fn the_id_numbers_of_the_cast_carry_the_gb_11643_check_character() {
    // The worked example of GB 11643-1999.
    assert_eq!(id_number("11010519491231002"), "11010519491231002X");
    for id in [zhang_id(), li_id(), wang_id()] {
        assert!(mingma_core::NationalId::parse(&id).is_ok(), "{id}");
    }
}

#[test]
fn a_well_formed_file_gives_its_records_and_registry() {
    let file = read_evidence_file(&sample(), &key()).expect("reads");
    assert_eq!(file.directory.authorities.len(), 4);
    assert_eq!(file.directory.officials.len(), 3);
    assert_eq!(file.directory.sources.len(), 3);
    assert_eq!(file.directory.venues.len(), 3);
    let ids: Vec<&str> = file.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["be-1", "qo-1", "qo-1.ok", "t-1", "s-1", "s-2", "ra-1", "ra-1.ok"]
    );
    assert_eq!(file.lines[&rid("be-1")], 15);
    assert_eq!(file.lines[&rid("ra-1.ok")], 22);
    let scan = &file.records[5];
    assert_eq!(scan.subject, Some(zhang()));
    assert_eq!(scan.recorded_by, Recorder::Proxy(li()));
    assert_eq!(scan.kind(), EvidenceKind::VenueScan);
    assert_eq!(
        file.records[0].recorded_by.source_kind(),
        Some(SourceKind::Customs)
    );

    // Derived from the file: 李娜 is an inbound traveller; 张伟's stale scan at the
    // station counts for nothing, his rotating scan at the office makes him red.
    let d = code(&file.records, li(), t("06-14 00:00"));
    assert_eq!(d.fired[0].reason.id, "inbound_traveller_quarantine");
    assert_eq!(
        d.owners.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        [ZZ_HEALTH, ZZ_CUSTOMS]
    );
    let d = code(&file.records, zhang(), t("06-14 00:00"));
    assert_eq!(d.colour, Colour::Red);
    assert_eq!(d.decisive_evidence, rids(&["ra-1", "s-2"]));
}

/// Replaces line `n` (1-based) of the sample, or appends when `n` is past the end.
fn with_line(n: usize, line: &str) -> String {
    let mut lines = sample_lines();
    if n <= lines.len() {
        lines[n - 1] = line.to_owned();
    } else {
        lines.push(line.to_owned());
    }
    lines.join("\n")
}

fn errors(text: &str) -> Vec<LineError> {
    match read_evidence_file(text, &key()) {
        Ok(file) => panic!("accepted, with {} records", file.records.len()),
        Err(errors) => errors,
    }
}

#[test]
fn a_malformed_line_is_reported_with_its_line_and_what_is_wrong() {
    let (zhang, li) = (zhang_id(), li_id());
    let bad_check = format!(
        "{}{}",
        &zhang[..17],
        if zhang.ends_with('1') { '2' } else { '1' }
    );
    let env = |kind: &str, id: &str, subject: &str, by: &str, authority: &str| {
        format!(
            r#""type":"{kind}","id":"{id}","subject":"{subject}","recorded_by":"{by}","authority":"{authority}","effective_at":"2022-06-13T10:00:00+08:00","recorded_at":"2022-06-13T10:00:00+08:00""#
        )
    };
    let test_body =
        r#""method":"nucleic_acid","outcome":"positive","sampled_at":"2022-06-13T08:00:00+08:00""#;
    // (what, line replaced or appended, its text, phrases of the message)
    let cases: Vec<(&str, usize, String, Vec<&str>)> = vec![
        ("bad JSON", 24, r#"{"type":"test_result","id":"#.into(), vec!["not valid JSON"]),
        ("a JSON array", 24, "[1, 2]".into(), vec!["must be a JSON object"]),
        ("no type", 24, r#"{"id":"x"}"#.into(), vec!["missing `type`"]),
        (
            "an unknown type",
            24,
            format!("{{{}}}", env("vaccination", "vx-1", &zhang, "official:zz-li", "zz-health")),
            vec!["unknown type `vaccination`", "test_result"],
        ),
        (
            "an ID number with a bad check character",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-9", &bad_check, "source:lab-kingmed", "zz-cdc")),
            vec!["check character"],
        ),
        (
            "an ID number with an impossible birth date",
            24,
            format!(
                "{{{},{test_body}}}",
                env("test_result", "t-9", &id_number("41010219900230123"), "source:lab-kingmed", "zz-cdc")
            ),
            vec!["birth date 19900230"],
        ),
        (
            "a venue on a street that does not exist",
            13,
            r#"{"type":"venue","id":"v-nowhere","name":"不存在","street":"419999001","kind":"market"}"#.into(),
            vec!["venue", "`419999001` is not a known GB/T 2260 division"],
        ),
        (
            "a venue whose street is a district",
            13,
            r#"{"type":"venue","id":"v-district","name":"区","street":"410102","kind":"market"}"#.into(),
            vec!["must be a 9-digit street code"],
        ),
        (
            "an authority in no known jurisdiction",
            4,
            r#"{"type":"authority","id":"kf-health","name":"开封","jurisdiction":"4199"}"#.into(),
            vec!["authority", "`4199` is not a known GB/T 2260 division"],
        ),
        (
            "a dangling reference",
            24,
            format!(
                r#"{{{},"legal_basis":"传染病防治法","setting":"home","ground":"be-404","planned_end":"2022-06-20T10:00:00+08:00"}}"#,
                env("quarantine_order", "qo-9", &li, "official:zz-li", "zz-health")
            ),
            vec!["`ground` refers to `be-404`", "dangling reference"],
        ),
        (
            "a ground about another person",
            24,
            format!(
                r#"{{{},"legal_basis":"传染病防治法","setting":"home","ground":"be-1","planned_end":"2022-06-20T10:00:00+08:00"}}"#,
                env("quarantine_order", "qo-9", &zhang, "official:zz-li", "zz-health")
            ),
            vec!["`ground` refers to `be-1` (line 15), which is about another person"],
        ),
        (
            "a ground that cannot be one",
            24,
            format!(
                r#"{{{},"legal_basis":"传染病防治法","setting":"home","ground":"t-1","planned_end":"2022-06-20T10:00:00+08:00"}}"#,
                env("quarantine_order", "qo-9", &zhang, "official:zz-li", "zz-health")
            ),
            vec!["of type test_result, which cannot be the `ground` of a quarantine_order"],
        ),
        (
            "an official approving their own record",
            17,
            r#"{"type":"approval","id":"qo-1.ok","recorded_by":"official:zz-li","authority":"zz-health","effective_at":"2022-06-13T10:30:00+08:00","recorded_at":"2022-06-13T10:30:00+08:00","target":"qo-1"}"#.into(),
            vec!["cannot approve or reject their own record `qo-1` (line 16)", "two-person rule"],
        ),
        (
            "an official of another authority approving",
            17,
            r#"{"type":"approval","id":"qo-1.ok","recorded_by":"official:kf-zhao","authority":"kf-health","effective_at":"2022-06-13T10:30:00+08:00","recorded_at":"2022-06-13T10:30:00+08:00","target":"qo-1"}"#.into(),
            vec!["owned by another authority"],
        ),
        (
            "an approval of a record that needs none",
            24,
            r#"{"type":"approval","id":"be-1.ok","recorded_by":"official:zz-wang","authority":"zz-health","effective_at":"2022-06-13T10:30:00+08:00","recorded_at":"2022-06-13T10:30:00+08:00","target":"be-1"}"#.into(),
            vec!["needs no second official's approval"],
        ),
        (
            "an approval recorded before the record it approves",
            17,
            r#"{"type":"approval","id":"qo-1.ok","recorded_by":"official:zz-wang","authority":"zz-health","effective_at":"2022-06-13T09:30:00+08:00","recorded_at":"2022-06-13T09:30:00+08:00","target":"qo-1"}"#.into(),
            vec!["recorded before the record it decides on, `qo-1` (line 16)"],
        ),
        (
            "a retraction by an authority that does not own the record",
            24,
            r#"{"type":"retraction","id":"ret-9","recorded_by":"official:zz-li","authority":"zz-health","effective_at":"2022-06-14T10:00:00+08:00","recorded_at":"2022-06-14T10:00:00+08:00","target":"be-1","reason":"录入错误"}"#.into(),
            vec!["`be-1` (line 15) is owned by another authority; only its owner may retract it"],
        ),
        (
            "a retraction of an approval (decisions are final)",
            24,
            r#"{"type":"retraction","id":"ret-9","recorded_by":"official:zz-li","authority":"zz-health","effective_at":"2022-06-14T10:00:00+08:00","recorded_at":"2022-06-14T10:00:00+08:00","target":"qo-1.ok","reason":"撤回批准"}"#.into(),
            vec!["`target` refers to `qo-1.ok` (line 17), of type approval, which cannot be the `target` of a retraction"],
        ),
        (
            "a risk area outside the declaring authority's jurisdiction",
            24,
            r#"{"type":"risk_area","id":"ra-9","recorded_by":"official:kf-zhao","authority":"kf-health","legal_basis":"传染病防治法第四十二条","effective_at":"2022-06-12T20:00:00+08:00","recorded_at":"2022-06-12T20:00:00+08:00","level":"high","divisions":["410102"],"from":"2022-06-12T00:00:00+08:00","until":"2022-06-15T00:00:00+08:00"}"#.into(),
            vec!["`410102` lies outside the jurisdiction of `kf-health` (4102"],
        ),
        (
            "an official acting for another authority",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-9", &zhang, "official:zz-li", "zz-cdc")),
            vec!["`authority` is `zz-cdc`, but `official:zz-li` acts for `zz-health`"],
        ),
        (
            "a lab submitting a border entry",
            24,
            format!(
                r#"{{{},"port":"郑州新郑国际机场","origin":"KR"}}"#,
                env("border_entry", "be-9", &zhang, "source:lab-kingmed", "zz-cdc")
            ),
            vec!["is a lab source and may not submit border_entry records"],
        ),
        (
            "a holder recording a test result",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-9", &zhang, "holder", "zz-cdc")),
            vec!["a holder's phone records only venue scans"],
        ),
        (
            "an order without legal basis",
            24,
            format!(
                r#"{{{},"setting":"home","ground":"be-1","planned_end":"2022-06-20T10:00:00+08:00"}}"#,
                env("quarantine_order", "qo-9", &li, "official:zz-li", "zz-health")
            ),
            vec!["missing `legal_basis`"],
        ),
        (
            "an unknown official",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-9", &zhang, "official:nobody", "zz-health")),
            vec!["unknown official `nobody`"],
        ),
        (
            "a record id used for two different records",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-1", &zhang, "source:lab-kingmed", "zz-cdc")),
            vec!["record id `t-1` is already used by line 18"],
        ),
        (
            "a time without an offset",
            24,
            format!("{{{},{test_body}}}", env("test_result", "t-9", &zhang, "source:lab-kingmed", "zz-cdc"))
                .replace("2022-06-13T10:00:00+08:00", "2022-06-13 10:00"),
            vec!["not an RFC 3339 time"],
        ),
        (
            "a field rules cannot know about",
            24,
            format!(
                r#"{{{},{test_body},"depositor":true}}"#,
                env("test_result", "t-9", &zhang, "source:lab-kingmed", "zz-cdc")
            ),
            vec!["unknown field `depositor`"],
        ),
    ];
    for (what, n, line, phrases) in cases {
        let errs = errors(&with_line(n, &line));
        assert_eq!(errs.len(), 1, "{what}: {errs:#?}");
        assert_eq!(errs[0].line, n, "{what}: {}", errs[0]);
        for phrase in phrases {
            assert!(
                errs[0].message.contains(phrase),
                "{what}: {:?} lacks {phrase:?}",
                errs[0].message
            );
        }
        assert!(
            errs[0].to_string().starts_with(&format!("line {n}: ")),
            "{what}"
        );
    }
}

#[test]
fn every_problem_of_a_file_is_reported_in_line_order() {
    let mut lines = sample_lines();
    lines[17] = "{not json".into(); // line 18
    lines[10] = r#"{"type":"venue","id":"v-jianshe-office","name":"x","street":"419999001","kind":"office"}"#.into(); // line 11
    lines.push(r#"{"type":"retraction","id":"ret-1","recorded_by":"official:zz-wang","authority":"zz-health","effective_at":"2022-06-14T10:00:00+08:00","recorded_at":"2022-06-14T10:00:00+08:00","target":"nothing","reason":"录入错误"}"#.into()); // line 24
    let errs = errors(&lines.join("\n"));
    let at: Vec<usize> = errs.iter().map(|e| e.line).collect();
    // Line 20 scans at the venue of line 11, which is refused.
    assert_eq!(at, [11, 18, 20, 24], "{errs:#?}");
    assert!(
        errs[2].message.contains("unknown venue `v-jianshe-office`"),
        "{}",
        errs[2]
    );
    assert!(
        errs[3].message.contains("dangling reference"),
        "{}",
        errs[3]
    );
}

#[test]
fn blank_lines_and_comments_are_skipped_but_counted() {
    let mut lines = sample_lines();
    lines.insert(0, "".into());
    lines.insert(0, "// 郑州 2022-06".into());
    let file = read_evidence_file(&lines.join("\r\n"), &key()).expect("reads");
    assert_eq!(file.lines[&rid("be-1")], 17);
}

#[test]
fn an_identical_line_repeated_is_read_once() {
    let mut lines = sample_lines();
    lines.push(lines[14].clone());
    let file = read_evidence_file(&lines.join("\n"), &key()).expect("reads");
    assert_eq!(file.records.len(), 8);
}

#[test]
fn a_seal_is_carried_as_written_and_a_malformed_one_is_refused() {
    let seal = format!("{}.{}", "0a".repeat(8), "b1".repeat(64));
    // Line 18 is the lab's test result, whose last character closes the object.
    let sealed_line = |seal: &str| {
        let line = &sample_lines()[17];
        format!("{},\"seal\":\"{seal}\"}}", &line[..line.len() - 1])
    };
    let file = read_evidence_file(&with_line(18, &sealed_line(&seal)), &key()).expect("reads");
    let record = &file.records[3];
    assert_eq!(record.id, rid("t-1"));
    let read = record.seal.expect("the seal is kept");
    assert_eq!(read.to_string(), seal);
    assert_eq!(read.key, [0x0a; 8]);
    // Other records have none.
    assert!(file.records.iter().filter(|r| r.seal.is_some()).count() == 1);

    for bad in ["0a0a", &format!("{}.{}", "0a".repeat(8), "zz".repeat(64))] {
        let errors = errors(&with_line(18, &sealed_line(bad)));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 18);
        assert!(
            errors[0]
                .message
                .contains("`seal`: a seal is `<16 hex digits>.<128 hex digits>`"),
            "{}",
            errors[0].message
        );
    }
}

// ---------------------------------------------------------------- never panics

/// Every error names a line of the file and says something.
fn check_errors(text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    match read_evidence_file(text, &key()) {
        Ok(file) => {
            // What was read can be derived from.
            for record in &file.records {
                if let Some(who) = record.subject {
                    let _ = code(&file.records, who, record.effective_at);
                }
            }
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(
                    (1..=lines).contains(&e.line),
                    "line {} of {}: {}",
                    e.line,
                    lines,
                    e.message
                );
                prop_assert!(!e.message.trim().is_empty());
            }
            prop_assert!(errors.windows(2).all(|w| w[0].line <= w[1].line));
        }
    }
    Ok(())
}

/// Pieces a hostile or broken file is made of.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("\n".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("null".to_owned()),
        Just("\"type\":\"venue_scan\"".to_owned()),
        Just("\"target\":\"qo-1\"".to_owned()),
        Just("\"subject\":\"11010519491231002X\"".to_owned()),
        Just("\"street\":\"419999001\"".to_owned()),
        Just("\"effective_at\":\"2099-12-31T23:59:59+08:00\"".to_owned()),
        Just("\"effective_at\":\"1999-12-31T23:59:59+08:00\"".to_owned()),
        "\\PC{0,12}",
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reading_arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,5}") {
        check_errors(&text)?;
    }

    #[test]
    fn reading_arbitrary_json_fragments_never_panics(parts in proptest::collection::vec(fragment(), 0..40)) {
        check_errors(&parts.concat())?;
    }

    #[test]
    fn reading_a_damaged_file_never_panics(
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), fragment(), 0u8..4), 1..6),
    ) {
        let mut lines = sample_lines();
        for (line, at, piece, how) in damage {
            let i = line.index(lines.len());
            let chars: Vec<char> = lines[i].chars().collect();
            let cut = at.index(chars.len() + 1);
            let (head, tail): (String, String) = (chars[..cut].iter().collect(), chars[cut..].iter().collect());
            lines[i] = match how {
                0 => format!("{head}{piece}{tail}"),       // insert
                1 => head,                                  // truncate
                2 => format!("{head}{piece}"),              // replace the rest
                _ => { let l = lines[i].clone(); lines.insert(i, l); continue } // repeat a line
            };
        }
        check_errors(&lines.join("\n"))?;
    }
}
