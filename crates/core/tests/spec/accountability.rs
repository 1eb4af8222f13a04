//! Evidence is accountable: retractions take a record out (bitemporally), and a
//! manual record that can raise a colour counts only with a second official's
//! approval from the same authority.

use mingma_core::{
    record_statuses, CaseClass, Colour, Evidence, Presence, RecordStatus, RiskLevel, Timestamp,
};

use crate::records;
use crate::support::*;

use Colour::{Green, Red, Yellow};

// ---------------------------------------------------------------- retractions

fn inbound_with_retracted_entry() -> Vec<Evidence> {
    records![
        [border_entry("be-1", li(), t("06-13 08:00"))],
        approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
        [retraction_by_source(
            "ret-1",
            CUSTOMS,
            "be-1",
            t("06-15 10:00")
        )],
    ]
}

#[test]
fn a_retracted_border_entry_takes_the_inbound_reason_away_bitemporally() {
    let evidence = inbound_with_retracted_entry();
    let red = at("06-14 12:00")
        .red("inbound-traveller", "inbound_traveller_quarantine")
        .evidence(&["qo-1", "be-1"])
        .owners(&[ZZ_HEALTH, ZZ_CUSTOMS])
        .since("06-13 10:00")
        .next("06-20 10:00", Yellow);
    // What the platform showed on 06-14, and until the retraction was recorded.
    for known in ["06-14 12:00", "06-15 09:59"] {
        assert_timeline_known_at(
            &format!("inbound, as known at {known}"),
            &evidence,
            li(),
            t(known),
            std::slice::from_ref(&red),
        );
    }
    // What it should have shown on 06-14, knowing what is known from 06-15 10:00 on:
    // green, and green all along.
    for known in ["06-15 10:00", "12-31 23:59"] {
        assert_timeline_known_at(
            &format!("inbound, as known at {known}"),
            &evidence,
            li(),
            t(known),
            &[at("06-14 12:00"), at("06-21 00:00")],
        );
    }
    assert_eq!(
        record_statuses(&evidence, now()).get(&rid("be-1")),
        Some(&RecordStatus::Retracted { by: rid("ret-1") })
    );
    assert_eq!(
        record_statuses(&evidence, t("06-15 09:59")).get(&rid("ret-1")),
        Some(&RecordStatus::NotYetKnown)
    );
    // Retracted twice: the status names the first retraction by id, in any order.
    let mut twice = evidence.clone();
    twice.insert(
        0,
        retraction_by_source("ret-2", CUSTOMS, "be-1", t("06-15 09:00")),
    );
    for records in [twice.clone(), twice.into_iter().rev().collect()] {
        assert_eq!(
            record_statuses(&records, now()).get(&rid("be-1")),
            Some(&RecordStatus::Retracted { by: rid("ret-1") })
        );
    }
}

#[test]
fn retracting_the_decisive_record_turns_the_code_green() {
    // (what, evidence, person, valid at)
    let cases: Vec<(&str, Vec<Evidence>, _, Timestamp)> = vec![
        (
            "close-contact designation retracted",
            records![
                [case(
                    "case-w",
                    wang(),
                    CaseClass::Confirmed,
                    None,
                    t("06-12 08:00")
                )],
                approved(close_contact("cc-1", zhang(), "case-w", t("06-13 10:00"))),
                [retraction("ret-1", "cc-1", t("06-14 10:00"))],
            ],
            zhang(),
            t("06-15 00:00"),
        ),
        (
            "quarantine order retracted",
            records![
                [border_entry("be-1", li(), t("06-13 08:00"))],
                approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
                [retraction("ret-1", "qo-1", t("06-14 10:00"))],
            ],
            li(),
            t("06-15 00:00"),
        ),
        (
            "risk-area declaration retracted",
            records![
                approved(risk_area(
                    "ra-1",
                    RiskLevel::High,
                    &["410102"],
                    t("06-10 00:00"),
                    t("06-14 00:00"),
                    t("06-11 08:00")
                )),
                [scan(
                    "s-1",
                    zhang(),
                    &OFFICE,
                    Presence::Rotating,
                    t("06-10 10:00")
                )],
                [retraction("ret-1", "ra-1", t("06-12 10:00"))],
            ],
            zhang(),
            t("06-13 00:00"),
        ),
        (
            "lab positive retracted by the lab",
            records![
                [positive("pos-1", zhang(), t("06-10 10:00"))],
                [retraction_by_source(
                    "ret-1",
                    LAB,
                    "pos-1",
                    t("06-11 10:00")
                )],
            ],
            zhang(),
            t("06-12 00:00"),
        ),
        (
            "case report retracted",
            records![
                [case(
                    "case-1",
                    zhang(),
                    CaseClass::Confirmed,
                    None,
                    t("06-10 10:00")
                )],
                [retraction("ret-1", "case-1", t("06-11 10:00"))],
            ],
            zhang(),
            t("06-12 00:00"),
        ),
    ];
    for (what, evidence, who, valid) in cases {
        let after = code(&evidence, who, valid);
        assert_eq!(after.colour, Green, "{what}: {after:#?}");
        assert!(after.fired.is_empty(), "{what}");
        assert_eq!(after.since, None, "{what}: green all along");
        // Without the retraction the code is not green.
        let kept: Vec<Evidence> = evidence
            .iter()
            .filter(|e| !e.id.as_str().starts_with("ret-1"))
            .cloned()
            .collect();
        assert_ne!(
            code(&kept, who, valid).colour,
            Green,
            "{what}, not retracted"
        );
    }
}

#[test]
fn retracting_a_release_or_a_negative_test_by_hand_needs_a_second_official() {
    let released = records![
        [border_entry("be-1", li(), t("06-13 08:00"))],
        approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
        [release("rel-1", li(), "qo-1", t("06-15 10:00"))],
        [retraction("ret-1", "rel-1", t("06-16 10:00"))],
    ];
    // Unapproved: the release still counts, the code is yellow on 06-17.
    let d = code(&released, li(), t("06-17 00:00"));
    assert_eq!(d.colour, Yellow, "{d:#?}");
    assert_eq!(
        record_statuses(&released, now()).get(&rid("ret-1")),
        Some(&RecordStatus::AwaitingApproval)
    );
    // Approved by a second official: the release is gone, the order runs its 7 days.
    let mut with_approval = released.clone();
    with_approval.push(approval_by(
        "ret-1.ok",
        OFFICIAL_LI,
        "ret-1",
        t("06-16 11:00"),
    ));
    let d = code(&with_approval, li(), t("06-17 00:00"));
    assert_eq!(d.colour, Red, "{d:#?}");
    assert_eq!(d.next_change.map(|n| n.at), Some(t("06-20 10:00")));

    // A negative test entered by hand (and approved) for the commission, then
    // retracted by hand by the commission: the retraction needs a second official.
    let cleared = records![
        [positive("pos-1", zhang(), t("06-10 10:00"))],
        approved(negative("neg-1", zhang(), t("06-11 18:00")).by_official(OFFICIAL_LI)),
        [retraction("ret-1", "neg-1", t("06-12 10:00"))],
    ];
    assert_eq!(code(&cleared, zhang(), t("06-13 00:00")).colour, Green);
    let mut with_approval = cleared.clone();
    with_approval.push(approval_by(
        "ret-1.ok",
        OFFICIAL_LI,
        "ret-1",
        t("06-12 11:00"),
    ));
    assert_eq!(code(&with_approval, zhang(), t("06-13 00:00")).colour, Red);
}

// ---------------------------------------------------------------- two-person rule

/// A manual record that can raise a colour, awaiting its approval.
struct Manual {
    what: &'static str,
    /// Everything but the manual record.
    context: Vec<Evidence>,
    record: Evidence,
    who: mingma_core::PersonKey,
    valid_at: Timestamp,
    reason: &'static str,
}

fn manual_records() -> Vec<Manual> {
    vec![
        Manual {
            what: "quarantine order on a border entry",
            context: vec![border_entry("be-1", li(), t("06-13 08:00"))],
            record: quarantine_order("target", li(), "be-1", t("06-13 10:00")),
            who: li(),
            valid_at: t("06-15 00:00"),
            reason: "inbound_traveller_quarantine",
        },
        Manual {
            what: "close-contact designation",
            context: vec![case(
                "case-w",
                wang(),
                CaseClass::Confirmed,
                None,
                t("06-12 08:00"),
            )],
            record: close_contact("target", zhang(), "case-w", t("06-13 10:00")),
            who: zhang(),
            valid_at: t("06-15 00:00"),
            reason: "close_contact_quarantine",
        },
        Manual {
            what: "risk-area declaration",
            context: vec![scan(
                "s-1",
                zhang(),
                &OFFICE,
                Presence::StaticPoster,
                t("06-10 10:00"),
            )],
            record: risk_area(
                "target",
                RiskLevel::High,
                &["410102"],
                t("06-10 00:00"),
                t("06-14 00:00"),
                t("06-11 08:00"),
            ),
            who: zhang(),
            valid_at: t("06-12 00:00"),
            reason: "high_risk_area_stay",
        },
        Manual {
            what: "positive test entered by an official",
            context: vec![],
            record: positive("target", zhang(), t("06-13 10:00")).by_official(OFFICIAL_LI),
            who: zhang(),
            valid_at: t("06-15 00:00"),
            reason: "positive_test",
        },
        Manual {
            what: "case report entered by an official",
            context: vec![],
            record: case(
                "target",
                zhang(),
                CaseClass::Confirmed,
                None,
                t("06-13 10:00"),
            )
            .by_official(OFFICIAL_LI),
            who: zhang(),
            valid_at: t("06-15 00:00"),
            reason: "confirmed_or_asymptomatic_case",
        },
        Manual {
            what: "venue scan entered by an official",
            context: approved(risk_area(
                "ra-1",
                RiskLevel::High,
                &["410102"],
                t("06-10 00:00"),
                t("06-14 00:00"),
                t("06-11 08:00"),
            ))
            .to_vec(),
            record: scan(
                "target",
                zhang(),
                &OFFICE,
                Presence::Rotating,
                t("06-10 10:00"),
            )
            .by_official(OFFICIAL_LI),
            who: zhang(),
            valid_at: t("06-12 00:00"),
            reason: "high_risk_area_stay",
        },
    ]
}

#[test]
fn a_manual_record_that_raises_a_colour_counts_only_with_a_second_officials_approval() {
    let late = t("06-20 12:00");
    // (variant, acts on "target" recorded after it, known at (None: everything), counts)
    let variants: Vec<(&str, Vec<Evidence>, Option<Timestamp>, bool)> = vec![
        ("no approval", vec![], None, false),
        (
            "approved by a second official of the same authority",
            vec![approval_by(
                "a-1",
                OFFICIAL_WANG,
                "target",
                t("06-13 12:00"),
            )],
            None,
            true,
        ),
        (
            "approved by the official who recorded it",
            vec![approval_by("a-1", OFFICIAL_LI, "target", t("06-13 12:00"))],
            None,
            false,
        ),
        (
            "approved by an official of another authority",
            vec![approval_by(
                "a-1",
                OFFICIAL_ZHAO,
                "target",
                t("06-13 12:00"),
            )],
            None,
            false,
        ),
        (
            "rejected by a second official",
            vec![rejection_by(
                "r-1",
                OFFICIAL_WANG,
                "target",
                t("06-13 12:00"),
            )],
            None,
            false,
        ),
        (
            "rejected, then approved: the first decision stands",
            vec![
                rejection_by("r-1", OFFICIAL_WANG, "target", t("06-13 12:00")),
                approval_by("a-1", OFFICIAL_WANG, "target", t("06-13 13:00")),
            ],
            None,
            false,
        ),
        (
            "approved, then rejected: the first decision stands",
            vec![
                approval_by("a-1", OFFICIAL_WANG, "target", t("06-13 12:00")),
                rejection_by("r-1", OFFICIAL_WANG, "target", t("06-13 13:00")),
            ],
            None,
            true,
        ),
        (
            // Decisions are final: a retraction of a rejection is ignored.
            "rejected, rejection retracted, then approved: the rejection stands",
            vec![
                rejection_by("r-1", OFFICIAL_WANG, "target", t("06-13 12:00")),
                retraction("ret-r", "r-1", t("06-13 13:00")),
                approval_by("a-1", OFFICIAL_WANG, "target", t("06-13 14:00")),
            ],
            None,
            false,
        ),
        (
            // Decisions are final: to take an approved record back, retract the record.
            "approved, approval retracted: the approval stands",
            vec![
                approval_by("a-1", OFFICIAL_WANG, "target", t("06-13 12:00")),
                retraction("ret-a", "a-1", t("06-13 13:00")),
            ],
            None,
            true,
        ),
        (
            "approval recorded after known_at",
            vec![approval_by("a-1", OFFICIAL_WANG, "target", late)],
            Some(late.plus_seconds(-1)),
            false,
        ),
        (
            "approval recorded at known_at",
            vec![approval_by("a-1", OFFICIAL_WANG, "target", late)],
            Some(late),
            true,
        ),
    ];
    for manual in manual_records() {
        for (variant, acts, known_at, counts) in &variants {
            let mut evidence = manual.context.clone();
            evidence.push(manual.record.clone());
            evidence.extend(acts.iter().cloned());
            let d = code_at(
                &evidence,
                manual.who,
                manual.valid_at,
                known_at.unwrap_or_else(now),
            );
            let ctx = format!("{}: {variant}", manual.what);
            if *counts {
                assert_ne!(d.colour, Green, "{ctx}: {d:#?}");
                assert_eq!(d.fired[0].reason.id, manual.reason, "{ctx}");
                assert!(d.decisive_evidence.contains(&rid("target")), "{ctx}");
            } else {
                assert_eq!(d.colour, Green, "{ctx}: {d:#?}");
                assert!(d.fired.is_empty(), "{ctx}");
                let status =
                    &record_statuses(&evidence, known_at.unwrap_or_else(now))[&rid("target")];
                assert!(
                    matches!(
                        status,
                        RecordStatus::AwaitingApproval | RecordStatus::Rejected { .. }
                    ),
                    "{ctx}: status {status:?}"
                );
            }
        }
    }
}

#[test]
fn a_rejection_is_named_in_the_record_status() {
    let evidence = records![
        [close_contact("cc-1", zhang(), "case-w", t("06-13 10:00"))],
        [rejection_by("r-1", OFFICIAL_WANG, "cc-1", t("06-13 12:00"))],
    ];
    assert_eq!(
        record_statuses(&evidence, now()).get(&rid("cc-1")),
        Some(&RecordStatus::Rejected { by: rid("r-1") })
    );
}

#[test]
fn lab_and_customs_signed_records_need_no_approval() {
    let evidence = [positive("pos-1", zhang(), t("06-13 10:00"))];
    assert_eq!(code(&evidence, zhang(), t("06-14 00:00")).colour, Red);
    assert_eq!(
        record_statuses(&evidence, now())[&rid("pos-1")],
        RecordStatus::Counted
    );
    let entry = [border_entry("be-1", li(), t("06-13 08:00"))];
    assert_eq!(
        record_statuses(&entry, now())[&rid("be-1")],
        RecordStatus::Counted
    );
}

#[test]
fn an_approval_recorded_before_the_record_it_approves_never_counts() {
    // The order is recorded on 06-14 (back-dated to 06-13); an "approval" entered at
    // 06-13 12:00 cannot have reviewed it. One entered after the order counts from
    // the moment it is recorded.
    let evidence = records![
        [border_entry("be-1", li(), t("06-13 08:00"))],
        [quarantine_order("qo-1", li(), "be-1", t("06-13 10:00")).recorded(t("06-14 10:00"))],
        [approval_by(
            "qo-1.early",
            OFFICIAL_WANG,
            "qo-1",
            t("06-13 12:00")
        )],
    ];
    for known in ["06-13 12:00", "06-14 10:00", "12-31 23:59"] {
        assert_eq!(
            code_at(&evidence, li(), t("06-14 12:00"), t(known)).colour,
            Green,
            "known at {known}"
        );
    }
    let mut reviewed = evidence.clone();
    reviewed.push(approval_by(
        "qo-1.ok",
        OFFICIAL_WANG,
        "qo-1",
        t("06-14 11:00"),
    ));
    assert_eq!(
        code_at(&reviewed, li(), t("06-14 12:00"), t("06-14 10:59")).colour,
        Green
    );
    assert_eq!(
        code_at(&reviewed, li(), t("06-14 12:00"), t("06-14 11:00")).colour,
        Red
    );
}

/// Approvals are final: if retracting an approval counted, one official could undo
/// the approval of a record that lowers a colour (here a manual negative test that
/// clears a lab positive) and so raise a colour alone.
#[test]
fn one_official_cannot_raise_a_colour_by_retracting_an_approval() {
    let evidence = records![
        [positive("pos-1", zhang(), t("06-10 10:00"))],
        approved(negative("neg-1", zhang(), t("06-11 18:00")).by_official(OFFICIAL_LI)),
    ];
    assert_eq!(code(&evidence, zhang(), t("06-13 00:00")).colour, Green);
    for by in [OFFICIAL_WANG, OFFICIAL_LI, OFFICIAL_ZHAO] {
        let mut undone = evidence.clone();
        undone.push(retraction("ret-ok", "neg-1.ok", t("06-12 10:00")).by_official(by));
        assert_eq!(
            code(&undone, zhang(), t("06-13 00:00")).colour,
            Green,
            "retraction of the approval by {by} alone"
        );
    }
}

#[test]
fn only_the_owning_authority_can_retract_a_record() {
    let evidence = records![
        [border_entry("be-1", li(), t("06-13 08:00"))],
        approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
    ];
    // The city commission cannot retract customs' entry, nor Kaifeng Zhengzhou's order.
    for retraction in [
        retraction("ret-1", "be-1", t("06-14 10:00")),
        retraction("ret-1", "qo-1", t("06-14 10:00")).by_official(OFFICIAL_ZHAO),
    ] {
        let mut with = evidence.clone();
        with.push(retraction);
        assert_eq!(code(&with, li(), t("06-15 00:00")).colour, Red);
        assert_eq!(
            record_statuses(&with, now()).get(&rid("be-1")),
            Some(&RecordStatus::Counted)
        );
    }
    // Customs can; so can the commission for its own order.
    for retraction in [
        retraction_by_source("ret-1", CUSTOMS, "be-1", t("06-14 10:00")),
        retraction("ret-1", "qo-1", t("06-14 10:00")),
    ] {
        let mut with = evidence.clone();
        with.push(retraction);
        assert_eq!(code(&with, li(), t("06-15 00:00")).colour, Green);
    }
}
