//! Loading a rule file: what is refused — with the file, the line and a message that
//! says why — and what is accepted.

use mingma_core::rules::{Trigger, DEFAULT_RULES};
use mingma_core::{derive, CaseClass, Colour, EvidenceKind, Reason, RuleSet, Span};

use crate::support::*;

/// Lines 1-5 of every file below; rules start on line 6.
const HEADER: &str = "id = \"test\"\nversion = \"1\"\n[dwell]\ndefault = \"1h\"\n\n";

fn file(rules: &str) -> String {
    format!("{HEADER}{rules}")
}

/// (what is wrong, rules from line 6, line of the error, phrases of the message)
const REFUSED: &[(&str, &str, usize, &[&str])] = &[
    (
        "an unknown evidence type",
        r#"[[rule]]
id = "vaccine"
colour = "red"
reason = "positive_test"
evidence = "vaccination"
duration = "7d"
"#,
        10,
        &[
            "unknown evidence type `vaccination`",
            "(known: test_result, ",
        ],
    ),
    (
        "a catch-all category of 'other persons' (其他需要纳入红码管理的人员)",
        r#"[[rule]]
id = "others"
colour = "red"
reason = "positive_test"
evidence = "other_persons"
duration = "7d"
"#,
        10,
        &["unknown evidence type `other_persons`"],
    ),
    (
        "a rule with no evidence condition",
        r#"[[rule]]
id = "everyone"
colour = "red"
reason = "positive_test"
duration = "7d"
"#,
        7,
        &["rule `everyone`", "has no evidence condition"],
    ),
    (
        "a rule conditioned on a person's age",
        r#"[[rule]]
id = "elderly"
colour = "yellow"
reason = "positive_test"
evidence = "test_result"
where = { outcome = "positive" }
age = 60
duration = "7d"
"#,
        12,
        &["unknown field `age`", "conditioned only on evidence"],
    ),
    (
        "a rule conditioned on a person's occupation",
        r#"[[rule]]
id = "bankers"
colour = "red"
reason = "confirmed_or_asymptomatic_case"
evidence = "case_report"
where = { classification = "confirmed", occupation = "banker" }
ended_by = "case_closure"
"#,
        11,
        &[
            "rule `bankers`",
            "`where.occupation`",
            "has no field `occupation`",
            "conditioned only on evidence",
        ],
    ),
    (
        "a rule conditioned on where the depositors come from",
        r#"[[rule]]
id = "depositors"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
where = { hometown = "yuzhou" }
duration = "7d"
"#,
        11,
        &["has no field `hometown`", "(it offers: exposure)"],
    ),
    (
        "the inbound reason on an order whose ground need not be customs-signed",
        r#"[[rule]]
id = "inbound"
colour = "red"
reason = "inbound_traveller_quarantine"
evidence = "quarantine_order"
ground = { evidence = "border_entry" }
duration = "7d"
"#,
        9,
        &[
            "reason `inbound_traveller_quarantine` requires at least",
            "ground = { evidence = border_entry, source = customs }",
            "its ground need not come from the required signed source",
        ],
    ),
    (
        "the inbound reason on an order with no ground condition",
        r#"[[rule]]
id = "inbound"
colour = "red"
reason = "inbound_traveller_quarantine"
evidence = "quarantine_order"
duration = "7d"
"#,
        9,
        &[
            "reason `inbound_traveller_quarantine` requires at least",
            "no `ground` condition",
        ],
    ),
    (
        "the inbound reason on an order grounded on a close contact",
        r#"[[rule]]
id = "inbound"
colour = "red"
reason = "inbound_traveller_quarantine"
evidence = "quarantine_order"
ground = { evidence = "close_contact" }
duration = "7d"
"#,
        9,
        &["its ground is `close_contact`"],
    ),
    (
        "the inbound reason on a venue scan (the 2022 abuse)",
        r#"[[rule]]
id = "inbound"
colour = "red"
reason = "inbound_traveller_quarantine"
evidence = "venue_scan"
in_risk_area = "high"
duration = "7d"
"#,
        9,
        &["it fires on `venue_scan`"],
    ),
    (
        "the high-risk reason for a stale scan (a forwarded photo)",
        r#"[[rule]]
id = "photo"
colour = "red"
reason = "high_risk_area_stay"
evidence = "venue_scan"
in_risk_area = "high"
min_presence = "stale"
duration = "7d"
"#,
        9,
        &[
            "reason `high_risk_area_stay` requires at least",
            "`min_presence` is weaker than `static_poster`",
        ],
    ),
    (
        "the high-risk reason with no presence requirement",
        r#"[[rule]]
id = "scan"
colour = "red"
reason = "high_risk_area_stay"
evidence = "venue_scan"
in_risk_area = "high"
duration = "7d"
"#,
        9,
        &["`min_presence` is weaker than `static_poster`"],
    ),
    (
        "the high-risk reason for a medium-risk area",
        r#"[[rule]]
id = "scan"
colour = "red"
reason = "high_risk_area_stay"
evidence = "venue_scan"
in_risk_area = ["high", "medium"]
min_presence = "rotating"
duration = "7d"
"#,
        9,
        &["`in_risk_area` also accepts `medium`"],
    ),
    (
        "a green rule",
        r#"[[rule]]
id = "greenlight"
colour = "green"
reason = "positive_test"
evidence = "test_result"
where = { outcome = "negative" }
duration = "1d"
"#,
        8,
        &["colour `green` is what holds when no rule fires"],
    ),
    (
        "a reason outside the catalogue",
        r#"[[rule]]
id = "stability"
colour = "red"
reason = "maintaining_stability"
evidence = "test_result"
duration = "7d"
"#,
        9,
        &[
            "`maintaining_stability` is not in the reason catalogue",
            "inbound_traveller_quarantine",
        ],
    ),
    (
        "`after` naming a later rule",
        r#"[[rule]]
id = "monitoring"
colour = "yellow"
reason = "close_contact_monitoring"
after = "contact"
duration = "3d"

[[rule]]
id = "contact"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
duration = "7d"
"#,
        10,
        &[
            "rule `monitoring`",
            "`after = \"contact\"` names no earlier rule",
        ],
    ),
    (
        "`after` naming no rule",
        r#"[[rule]]
id = "contact"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
duration = "7d"

[[rule]]
id = "monitoring"
colour = "yellow"
reason = "close_contact_monitoring"
after = "quarantine"
duration = "3d"
"#,
        17,
        &["`after = \"quarantine\"` names no earlier rule"],
    ),
    (
        "a follow-on period after a rule with another reason",
        r#"[[rule]]
id = "positive"
colour = "red"
reason = "positive_test"
evidence = "test_result"
where = { outcome = "positive" }
duration = "7d"

[[rule]]
id = "monitoring"
colour = "yellow"
reason = "close_contact_monitoring"
after = "positive"
duration = "3d"
"#,
        17,
        &["it follows `positive`, whose reason is positive_test"],
    ),
    (
        "a rule that never ends",
        r#"[[rule]]
id = "forever"
colour = "red"
reason = "confirmed_or_asymptomatic_case"
evidence = "case_report"
where = { classification = ["confirmed", "asymptomatic"] }
"#,
        7,
        &["rule `forever`", "would never end"],
    ),
    (
        "a rule firing on a risk area rather than on a person's presence in it",
        r#"[[rule]]
id = "area"
colour = "red"
reason = "high_risk_area_stay"
evidence = "risk_area"
duration = "7d"
"#,
        10,
        &["is about an area, not a person"],
    ),
    (
        "a venue scan with no risk area",
        r#"[[rule]]
id = "anywhere"
colour = "yellow"
reason = "medium_risk_area_stay"
evidence = "venue_scan"
min_presence = "rotating"
duration = "7d"
"#,
        10,
        &["a venue scan alone says nothing about health"],
    ),
    (
        "a rule id used twice",
        r#"[[rule]]
id = "contact"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
duration = "7d"

[[rule]]
id = "contact"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
duration = "14d"
"#,
        14,
        &["rule id `contact` is used twice"],
    ),
];

#[test]
fn a_rule_file_is_refused_with_the_line_and_the_reason() {
    for (what, rules, line, phrases) in REFUSED {
        let text = file(rules);
        let err = match RuleSet::parse(&text, "test.toml") {
            Ok(_) => panic!("{what}: accepted"),
            Err(err) => err,
        };
        let shown = text.lines().nth(err.line.saturating_sub(1)).unwrap_or("");
        assert_eq!(
            err.line, *line,
            "{what}: line {} ({shown:?}): {}",
            err.line, err.message
        );
        assert_eq!(err.file, "test.toml", "{what}");
        for phrase in *phrases {
            assert!(
                err.message.contains(phrase),
                "{what}: {:?} lacks {phrase:?}",
                err.message
            );
        }
        assert!(
            err.to_string().starts_with(&format!("test.toml:{line}: ")),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_rule_file_that_is_not_toml_or_lacks_its_parts_is_refused() {
    // (what, text, line, phrase)
    let cases: &[(&str, &str, usize, &str)] = &[
        ("broken TOML", "id = \"x\"\nversion = \n", 2, ""),
        ("no rules", HEADER, 1, "has no `[[rule]]`"),
        (
            "no default dwell",
            "id = \"t\"\nversion = \"1\"\n[dwell]\noffice = \"8h\"\n",
            3,
            "needs a `default` stay",
        ),
        (
            "an unknown venue kind",
            "id = \"t\"\nversion = \"1\"\n[dwell]\ndefault = \"1h\"\nbank = \"2h\"\n",
            5,
            "unknown venue kind",
        ),
        (
            "an empty version",
            "id = \"t\"\nversion = \" \"\n[dwell]\ndefault = \"1h\"\n",
            2,
            "`version` is empty",
        ),
    ];
    for (what, text, line, phrase) in cases {
        let err = RuleSet::parse(text, "test.toml")
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(err.line, *line, "{what}: {err}");
        assert!(err.message.contains(phrase), "{what}: {err}");
    }
}

#[test]
fn the_default_rule_set_loads_as_published() {
    let rules = RuleSet::parse(DEFAULT_RULES, "rules/default.toml").expect("loads");
    assert_eq!(rules, *default_rules());
    assert_eq!(rules.id, "mingma-default");
    assert_eq!(rules.version, "2026.2");
    let days = |d: i64| Some(Span::days(d));
    // (id, colour, reason, duration, ended by, negatives to clear, apart)
    let table: Vec<(
        &str,
        Colour,
        Reason,
        Option<Span>,
        Vec<EvidenceKind>,
        Option<(u32, Span)>,
    )> = vec![
        (
            "case",
            Colour::Red,
            Reason::ConfirmedOrAsymptomaticCase,
            None,
            vec![EvidenceKind::CaseClosure],
            None,
        ),
        (
            "positive-test",
            Colour::Red,
            Reason::PositiveTest,
            None,
            vec![EvidenceKind::CaseClosure],
            Some((1, Span::ZERO)),
        ),
        (
            "close-contact",
            Colour::Red,
            Reason::CloseContactQuarantine,
            days(7),
            vec![EvidenceKind::QuarantineRelease],
            None,
        ),
        (
            "close-contact-monitoring",
            Colour::Yellow,
            Reason::CloseContactMonitoring,
            days(3),
            vec![],
            Some((2, Span::hours(24))),
        ),
        (
            "inbound-traveller",
            Colour::Red,
            Reason::InboundTravellerQuarantine,
            days(7),
            vec![EvidenceKind::QuarantineRelease],
            None,
        ),
        (
            "inbound-traveller-monitoring",
            Colour::Yellow,
            Reason::InboundTravellerMonitoring,
            days(3),
            vec![],
            Some((2, Span::hours(24))),
        ),
        (
            "high-risk-area",
            Colour::Red,
            Reason::HighRiskAreaStay,
            days(7),
            vec![],
            None,
        ),
        (
            "medium-risk-area",
            Colour::Yellow,
            Reason::MediumRiskAreaStay,
            days(7),
            vec![],
            Some((2, Span::hours(24))),
        ),
        (
            "after-discharge",
            Colour::Yellow,
            Reason::AfterDischarge,
            days(14),
            vec![],
            Some((2, Span::hours(24))),
        ),
    ];
    let got: Vec<_> = rules
        .rules
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.colour,
                r.reason,
                r.duration,
                r.ended_by.clone(),
                r.cleared_by.as_ref().map(|c| (c.count, c.apart)),
            )
        })
        .collect();
    assert_eq!(got, table);
    // Follow-on periods follow the rule of their reason.
    for (follow_on, base) in [
        ("close-contact-monitoring", "close-contact"),
        ("inbound-traveller-monitoring", "inbound-traveller"),
    ] {
        let rule = &rules.rules[rules.position(follow_on).unwrap()];
        assert_eq!(
            rule.trigger,
            Trigger::After(rules.position(base).unwrap()),
            "{follow_on}"
        );
    }
    // No rule for suspected cases, and none firing on the absence of evidence.
    assert!(rules
        .rules
        .iter()
        .all(|r| r.reason != Reason::SuspectedCase));
}

#[test]
fn a_small_custom_rule_set_loads_and_is_applied() {
    // A province that also turns suspected cases red and quarantines close contacts
    // for 14 days.
    let text = r#"
id = "henan-2020"
version = "2020.3"

[dwell]
default = "2h"

[[rule]]
id = "suspected"
colour = "red"
reason = "suspected_case"
evidence = "case_report"
where = { classification = "suspected" }
ended_by = "case_closure"

[[rule]]
id = "contact"
colour = "red"
reason = "close_contact_quarantine"
evidence = "close_contact"
where = { exposure = ["household", "venue"] }
duration = "14d"
ended_by = ["quarantine_release"]
"#;
    let rules = RuleSet::parse(text, "henan.toml").expect("loads");
    assert_eq!(
        (rules.id.as_str(), rules.version.as_str()),
        ("henan-2020", "2020.3")
    );
    assert_eq!(
        rules
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["suspected", "contact"]
    );
    assert_eq!(rules.rules[0].line, 8);
    assert_eq!(rules.rules[1].line, 16);

    let evidence = [case(
        "case-1",
        zhang(),
        CaseClass::Suspected,
        None,
        t("06-10 10:00"),
    )];
    let d = derive(&evidence, &zhang(), t("06-11 00:00"), now(), &rules);
    assert_eq!(d.colour, Colour::Red);
    assert_eq!(d.fired[0].reason.id, "suspected_case");
    assert_eq!(d.fired[0].version, "2020.3");
    assert_eq!(
        (d.rule_set.id.as_str(), d.rule_set.version.as_str()),
        ("henan-2020", "2020.3")
    );
    // Under the default set the same evidence gives green.
    assert_eq!(
        code(&evidence, zhang(), t("06-11 00:00")).colour,
        Colour::Green
    );
}

/// rules/published.txt: every published version of the default rule set with its
/// file's SHA-256.
const PUBLISHED: &str = include_str!("../../../../rules/published.txt");

#[test]
fn the_default_rule_set_is_the_file_published_under_its_version() {
    use sha2::Digest as _;
    let rules = RuleSet::parse(DEFAULT_RULES, "rules/default.toml").expect("loads");
    let sha256: String = sha2::Sha256::digest(DEFAULT_RULES.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut recorded = None;
    for line in PUBLISHED
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [id, version, hash] = fields[..] else {
            panic!("rules/published.txt: {line:?} is not `id version sha256`");
        };
        assert_eq!(hash.len(), 64, "{line}");
        assert!(
            seen.insert((id, version)),
            "rules/published.txt lists {id} {version} twice"
        );
        if (id, version) == (rules.id.as_str(), rules.version.as_str()) {
            recorded = Some(hash.to_owned());
        }
    }
    let recorded = recorded.unwrap_or_else(|| {
        panic!(
            "{} {} is not in rules/published.txt: add `{} {} {sha256}` once it is final",
            rules.id, rules.version, rules.id, rules.version
        )
    });
    assert_eq!(
        recorded, sha256,
        "rules/default.toml changed under the published version {}: give it a new version \
         (and a line in rules/published.txt)",
        rules.version
    );
}
