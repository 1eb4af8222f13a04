//! The reason abused in 2022 — 正在实施集中或居家医学隔离观察的入境人员 — can only be
//! produced by a counted, customs-signed border entry of the same person and a
//! counted quarantine order whose ground is that entry.

use mingma_core::{CaseClass, Colour, Evidence, Timestamp};

use crate::records;
use crate::support::*;

const INBOUND: [&str; 2] = [
    "inbound_traveller_quarantine",
    "inbound_traveller_monitoring",
];

/// Every 6 hours from the day before the order to well after its 7+3 days.
fn every_six_hours() -> impl Iterator<Item = Timestamp> {
    let start = t("06-12 00:00");
    (0..4 * 16).map(move |i| start.plus_seconds(i * 6 * 3600))
}

fn assert_never_inbound(what: &str, evidence: &[Evidence], known_at: Timestamp) {
    for valid_at in every_six_hours() {
        let d = code_at(evidence, li(), valid_at, known_at);
        for fired in &d.fired {
            assert!(
                !INBOUND.contains(&fired.reason.id),
                "{what}: inbound reason at {valid_at} known at {known_at}: {d:#?}"
            );
        }
    }
}

#[test]
fn a_quarantine_order_gives_the_inbound_reason_only_on_a_counted_customs_signed_entry_of_the_same_person(
) {
    // (ground of 李娜's approved order on 06-13 10:00, records behind it, expected
    //  colour and reason on 06-14)
    let cases: Vec<(&str, &str, Vec<Evidence>, Colour, Option<&str>)> = vec![
        (
            "a close-contact designation: the close-contact reason",
            "cc-1",
            records![
                [case(
                    "case-w",
                    wang(),
                    CaseClass::Confirmed,
                    None,
                    t("06-12 08:00")
                )],
                approved(close_contact("cc-1", li(), "case-w", t("06-13 09:00"))),
            ],
            Colour::Red,
            Some("close_contact_quarantine"),
        ),
        (
            "her own case report: the case reason",
            "case-1",
            vec![case(
                "case-1",
                li(),
                CaseClass::Asymptomatic,
                None,
                t("06-13 09:00"),
            )],
            Colour::Red,
            Some("confirmed_or_asymptomatic_case"),
        ),
        (
            "a record that does not exist",
            "be-404",
            vec![],
            Colour::Green,
            None,
        ),
        (
            "another person's border entry",
            "be-w",
            vec![border_entry("be-w", wang(), t("06-13 08:00"))],
            Colour::Green,
            None,
        ),
        (
            "a retracted border entry",
            "be-1",
            records![
                [border_entry("be-1", li(), t("06-13 08:00"))],
                [retraction_by_source(
                    "ret-1",
                    CUSTOMS,
                    "be-1",
                    t("06-13 09:00")
                )],
            ],
            Colour::Green,
            None,
        ),
        (
            "a border entry entered by hand by an official, approved",
            "be-m",
            approved(border_entry("be-m", li(), t("06-13 08:00")).by_official(OFFICIAL_LI))
                .to_vec(),
            Colour::Green,
            None,
        ),
        (
            "a border entry entered by hand by an official, unapproved",
            "be-m",
            vec![border_entry("be-m", li(), t("06-13 08:00")).by_official(OFFICIAL_LI)],
            Colour::Green,
            None,
        ),
        (
            "a venue scan (not a possible ground)",
            "s-1",
            vec![scan(
                "s-1",
                li(),
                &OFFICE,
                mingma_core::Presence::Rotating,
                t("06-13 08:00"),
            )],
            Colour::Green,
            None,
        ),
        (
            "a customs-signed border entry of hers: the inbound reason",
            "be-1",
            vec![border_entry("be-1", li(), t("06-13 08:00"))],
            Colour::Red,
            Some("inbound_traveller_quarantine"),
        ),
    ];
    for (what, ground, behind, colour, reason) in cases {
        let mut evidence = behind;
        evidence.extend(approved(quarantine_order(
            "qo-1",
            li(),
            ground,
            t("06-13 10:00"),
        )));
        let d = code(&evidence, li(), t("06-14 00:00"));
        assert_eq!(d.colour, colour, "{what}: {d:#?}");
        assert_eq!(d.fired.first().map(|f| f.reason.id), reason, "{what}");
        if reason != Some("inbound_traveller_quarantine") {
            assert_never_inbound(what, &evidence, now());
        }
    }
}

#[test]
fn a_border_entry_recorded_after_known_at_cannot_ground_the_inbound_reason_at_that_known_at() {
    let evidence = records![
        [border_entry("be-1", li(), t("06-13 08:00")).recorded(t("06-16 08:00"))],
        approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
    ];
    assert_never_inbound("entry not yet known", &evidence, t("06-16 07:59"));
    assert_eq!(
        code_at(&evidence, li(), t("06-14 00:00"), t("06-16 08:00")).fired[0]
            .reason
            .id,
        "inbound_traveller_quarantine"
    );
}

#[test]
fn a_border_entry_without_a_quarantine_order_gives_no_reason_at_all() {
    let evidence = [border_entry("be-1", li(), t("06-13 08:00"))];
    assert_never_inbound("entry only", &evidence, now());
    assert_eq!(
        code(&evidence, li(), t("06-14 00:00")).colour,
        Colour::Green
    );
}

#[test]
fn the_depositors_of_2022_cannot_be_given_the_inbound_reason() {
    // 张伟 scanned a forwarded photo of the station code; an official orders his home
    // quarantine "on" that scan or on nothing, and approves it himself or gets a
    // colleague to. Nothing of that yields a code, let alone the inbound reason.
    let evidence = records![
        [scan(
            "s-photo",
            zhang(),
            &STATION,
            mingma_core::Presence::Stale,
            t("06-13 08:00")
        )],
        approved(quarantine_order(
            "qo-1",
            zhang(),
            "s-photo",
            t("06-13 10:00")
        )),
        approved(quarantine_order(
            "qo-2",
            zhang(),
            "nothing",
            t("06-13 10:00")
        )),
        [quarantine_order(
            "qo-3",
            zhang(),
            "s-photo",
            t("06-13 10:00")
        )],
        [approval_by(
            "qo-3.ok",
            OFFICIAL_LI,
            "qo-3",
            t("06-13 10:00")
        )],
    ];
    for valid_at in every_six_hours() {
        let d = code(&evidence, zhang(), valid_at);
        assert_eq!(d.colour, Colour::Green, "{valid_at}: {d:#?}");
    }
}
