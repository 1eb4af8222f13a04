//! The default rule set, rule by rule: colour, fired rules, reason, decisive
//! evidence, owners (赋码来源), 赋码时间 and the next change, along each timeline.

use mingma_core::{CaseClass, ClosureOutcome, Colour, Presence, Reason, RiskLevel};

use crate::records;
use crate::support::*;

use CaseClass::{Asymptomatic, Confirmed, Suspected};
use ClosureOutcome::{Discharged, Recovered, RuledOut};
use Colour::{Green, Red, Yellow};

// ---------------------------------------------------------------- cases

#[test]
fn a_confirmed_or_asymptomatic_case_is_red_until_its_closure_and_a_suspected_case_is_green() {
    for class in [Confirmed, Asymptomatic] {
        let evidence = records![
            [case("case-1", zhang(), class, None, t("06-10 10:00"))],
            [closure(
                "close-1",
                zhang(),
                "case-1",
                RuledOut,
                t("06-20 10:00")
            )],
        ];
        assert_timeline(
            &format!("{class} case, closed (ruled out) on 06-20"),
            &evidence,
            zhang(),
            &[
                at("06-10 09:59").next("06-10 10:00", Red),
                at("06-10 10:00")
                    .red("case", "confirmed_or_asymptomatic_case")
                    .evidence(&["case-1"])
                    .owners(&[ZZ_HEALTH])
                    .since("06-10 10:00")
                    .next("06-20 10:00", Green),
                at("06-19 23:59")
                    .red("case", "confirmed_or_asymptomatic_case")
                    .evidence(&["case-1"])
                    .owners(&[ZZ_HEALTH])
                    .since("06-10 10:00")
                    .next("06-20 10:00", Green),
                at("06-20 10:00").since("06-20 10:00"),
            ],
        );
        // Without a closure the red has no end of its own.
        assert_timeline(
            &format!("{class} case, not closed"),
            &evidence[..1],
            zhang(),
            &[at("09-01 00:00")
                .red("case", "confirmed_or_asymptomatic_case")
                .evidence(&["case-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-10 10:00")],
        );
    }
    // 疑似病例: the default set has no rule for it.
    let suspected = [case("case-1", zhang(), Suspected, None, t("06-10 10:00"))];
    assert_timeline(
        "suspected case",
        &suspected,
        zhang(),
        &[at("06-10 10:00"), at("06-15 00:00")],
    );
}

#[test]
fn a_case_closure_ends_only_the_case_it_closes() {
    let evidence = records![
        [case("case-1", zhang(), Confirmed, None, t("06-10 10:00"))],
        [case("case-2", zhang(), Confirmed, None, t("06-11 10:00"))],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            RuledOut,
            t("06-12 10:00")
        )],
    ];
    assert_timeline(
        "two cases, one closed",
        &evidence,
        zhang(),
        &[
            at("06-10 12:00")
                .red("case", "confirmed_or_asymptomatic_case")
                .evidence(&["case-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-10 10:00"),
            at("06-13 12:00")
                .red("case", "confirmed_or_asymptomatic_case")
                .evidence(&["case-2"])
                .owners(&[ZZ_HEALTH])
                .since("06-10 10:00"),
        ],
    );
}

#[test]
fn a_discharged_or_recovered_case_is_yellow_for_14_days_after_the_closure() {
    for (outcome, yellow) in [(Discharged, true), (Recovered, true), (RuledOut, false)] {
        let evidence = records![
            [case("case-1", zhang(), Confirmed, None, t("06-01 10:00"))],
            [closure(
                "close-1",
                zhang(),
                "case-1",
                outcome,
                t("06-20 10:00")
            )],
        ];
        let scenario = format!("case closed as {outcome}");
        let red = at("06-20 09:00")
            .red("case", "confirmed_or_asymptomatic_case")
            .evidence(&["case-1"])
            .owners(&[ZZ_HEALTH])
            .since("06-01 10:00");
        if yellow {
            assert_timeline(
                &scenario,
                &evidence,
                zhang(),
                &[
                    red.next("06-20 10:00", Yellow),
                    at("06-20 10:00")
                        .yellow("after-discharge", "after_discharge")
                        .evidence(&["close-1", "case-1"])
                        .owners(&[ZZ_HEALTH])
                        .since("06-20 10:00")
                        .next("07-04 10:00", Green),
                    at("07-04 09:59")
                        .yellow("after-discharge", "after_discharge")
                        .evidence(&["close-1", "case-1"])
                        .owners(&[ZZ_HEALTH])
                        .since("06-20 10:00")
                        .next("07-04 10:00", Green),
                    at("07-04 10:00").since("07-04 10:00"),
                ],
            );
        } else {
            assert_timeline(
                &scenario,
                &evidence,
                zhang(),
                &[
                    red.next("06-20 10:00", Green),
                    at("06-20 10:00").since("06-20 10:00"),
                ],
            );
        }
    }
}

#[test]
fn the_yellow_after_discharge_is_cleared_by_two_negative_tests_24_hours_apart() {
    let evidence = records![
        [case("case-1", zhang(), Confirmed, None, t("06-01 10:00"))],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            Discharged,
            t("06-20 10:00")
        )],
        [negative("neg-1", zhang(), t("06-21 18:00"))],
        [negative("neg-2", zhang(), t("06-22 18:00"))],
    ];
    assert_timeline(
        "discharged, then two negatives",
        &evidence,
        zhang(),
        &[
            at("06-21 00:00")
                .yellow("after-discharge", "after_discharge")
                .evidence(&["close-1", "case-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-20 10:00")
                .next("06-22 18:00", Green),
            at("06-22 18:00").since("06-22 18:00"),
        ],
    );
}

// ---------------------------------------------------------------- positive tests

#[test]
fn a_positive_test_is_red_until_a_later_negative_nucleic_acid_test() {
    let positive_then = |later: Vec<mingma_core::Evidence>| {
        let mut all = vec![positive("pos-1", zhang(), t("06-10 10:00"))];
        all.extend(later);
        all
    };
    let red = || {
        at("06-11 12:00")
            .red("positive-test", "positive_test")
            .evidence(&["pos-1"])
            .owners(&[ZZ_CDC])
            .since("06-10 10:00")
    };
    // A negative nucleic-acid retest, sampled after the positive result, clears it
    // when its result is known.
    assert_timeline(
        "positive, then a negative retest",
        &positive_then(vec![negative_sampled(
            "neg-1",
            zhang(),
            t("06-11 10:00"),
            t("06-11 18:00"),
        )]),
        zhang(),
        &[
            at("06-10 09:59").next("06-10 10:00", Red),
            red().next("06-11 18:00", Green),
            at("06-11 18:00").since("06-11 18:00"),
        ],
    );
    // An antigen negative does not clear it (the rule names nucleic acid).
    assert_timeline(
        "positive, then a negative antigen test",
        &positive_then(vec![negative("neg-1", zhang(), t("06-11 18:00")).antigen()]),
        zhang(),
        &[
            red(),
            at("06-30 00:00")
                .red("positive-test", "positive_test")
                .evidence(&["pos-1"])
                .owners(&[ZZ_CDC])
                .since("06-10 10:00"),
        ],
    );
    // A negative sampled before the positive result is no retest.
    assert_timeline(
        "positive, and a negative sampled before its result",
        &positive_then(vec![negative_sampled(
            "neg-1",
            zhang(),
            t("06-10 09:00"),
            t("06-11 18:00"),
        )]),
        zhang(),
        &[red()],
    );
    // Another person's negative clears nothing.
    assert_timeline(
        "positive, and a family member's negative",
        &positive_then(vec![negative("neg-1", wang(), t("06-11 18:00"))]),
        zhang(),
        &[red()],
    );
}

#[test]
fn a_positive_test_ends_with_the_closure_of_a_case_that_references_it() {
    // A suspected case resting on the positive, ruled out: the positive's red ends,
    // and no yellow follows.
    let evidence = records![
        [positive("pos-1", zhang(), t("06-10 10:00"))],
        [case(
            "case-1",
            zhang(),
            Suspected,
            Some("pos-1"),
            t("06-10 12:00")
        )],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            RuledOut,
            t("06-15 10:00")
        )],
    ];
    assert_timeline(
        "positive, suspected case on it, ruled out",
        &evidence,
        zhang(),
        &[
            at("06-12 00:00")
                .red("positive-test", "positive_test")
                .evidence(&["pos-1"])
                .owners(&[ZZ_CDC])
                .since("06-10 10:00")
                .next("06-15 10:00", Green),
            at("06-15 10:00").since("06-15 10:00"),
        ],
    );
    // The closure of a case that does not rest on the positive ends nothing.
    let unrelated = records![
        [positive("pos-1", zhang(), t("06-10 10:00"))],
        [case("case-1", zhang(), Suspected, None, t("06-10 12:00"))],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            RuledOut,
            t("06-15 10:00")
        )],
    ];
    assert_timeline(
        "positive, unrelated case closed",
        &unrelated,
        zhang(),
        &[at("06-16 00:00")
            .red("positive-test", "positive_test")
            .evidence(&["pos-1"])
            .owners(&[ZZ_CDC])
            .since("06-10 10:00")],
    );
}

#[test]
fn an_asymptomatic_case_on_a_positive_test_names_both_and_both_owners_until_discharge() {
    let evidence = records![
        [positive("pos-1", zhang(), t("06-10 10:00"))],
        [case(
            "case-1",
            zhang(),
            Asymptomatic,
            Some("pos-1"),
            t("06-10 12:00")
        )],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            Recovered,
            t("06-20 10:00")
        )],
    ];
    assert_timeline(
        "positive, asymptomatic case, recovered",
        &evidence,
        zhang(),
        &[
            at("06-10 11:00")
                .red("positive-test", "positive_test")
                .evidence(&["pos-1"])
                .owners(&[ZZ_CDC])
                .since("06-10 10:00")
                .next("06-20 10:00", Yellow),
            at("06-15 00:00")
                .fired(
                    Red,
                    &["case", "positive-test"],
                    "confirmed_or_asymptomatic_case",
                )
                .evidence(&["case-1", "pos-1"])
                .owners(&[ZZ_HEALTH, ZZ_CDC])
                .since("06-10 10:00")
                .next("06-20 10:00", Yellow),
            at("06-20 10:00")
                .yellow("after-discharge", "after_discharge")
                .evidence(&["close-1", "case-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-20 10:00")
                .next("07-04 10:00", Green),
        ],
    );
}

// ---------------------------------------------------------------- close contacts

/// 王芳 is a confirmed case; 张伟, her household contact, is designated on 06-13 10:00.
fn designated_contact() -> Vec<mingma_core::Evidence> {
    records![
        [case("case-w", wang(), Confirmed, None, t("06-12 08:00"))],
        approved(close_contact("cc-1", zhang(), "case-w", t("06-13 10:00"))),
    ]
}

fn contact_red() -> Expect {
    at("06-13 10:00")
        .red("close-contact", "close_contact_quarantine")
        .evidence(&["cc-1"])
        .owners(&[ZZ_HEALTH])
        .since("06-13 10:00")
}

fn contact_yellow(at_: &'static str, since: &'static str) -> Expect {
    at(at_)
        .yellow("close-contact-monitoring", "close_contact_monitoring")
        .evidence(&["cc-1"])
        .owners(&[ZZ_HEALTH])
        .since(since)
}

#[test]
fn a_close_contact_is_red_for_7_days_then_yellow_for_3_then_green() {
    assert_timeline(
        "close contact 7+3",
        &designated_contact(),
        zhang(),
        &[
            at("06-13 09:59").next("06-13 10:00", Red),
            contact_red().next("06-20 10:00", Yellow),
            Expect {
                at: "06-20 09:59",
                ..contact_red().next("06-20 10:00", Yellow)
            },
            contact_yellow("06-20 10:00", "06-20 10:00").next("06-23 10:00", Green),
            contact_yellow("06-23 09:59", "06-20 10:00").next("06-23 10:00", Green),
            at("06-23 10:00").since("06-23 10:00"),
        ],
    );
    // The case herself is red for her own reason, not the contact's.
    assert_timeline(
        "the case",
        &designated_contact(),
        wang(),
        &[at("06-14 00:00")
            .red("case", "confirmed_or_asymptomatic_case")
            .evidence(&["case-w"])
            .owners(&[ZZ_HEALTH])
            .since("06-12 08:00")],
    );
}

#[test]
fn two_negative_tests_24_hours_apart_during_the_yellow_days_turn_a_close_contact_green_early() {
    let mut evidence = designated_contact();
    evidence.push(negative_sampled(
        "neg-1",
        zhang(),
        t("06-20 12:00"),
        t("06-20 20:00"),
    ));
    evidence.push(negative_sampled(
        "neg-2",
        zhang(),
        t("06-21 12:00"),
        t("06-21 20:00"),
    ));
    assert_timeline(
        "close contact, two negatives 24 h apart",
        &evidence,
        zhang(),
        &[
            contact_red().next("06-20 10:00", Yellow),
            contact_yellow("06-21 12:00", "06-20 10:00").next("06-21 20:00", Green),
            at("06-21 20:00").since("06-21 20:00"),
        ],
    );
}

#[test]
fn two_negative_tests_only_12_hours_apart_leave_a_close_contact_yellow() {
    let mut evidence = designated_contact();
    evidence.push(negative_sampled(
        "neg-1",
        zhang(),
        t("06-20 12:00"),
        t("06-20 20:00"),
    ));
    evidence.push(negative_sampled(
        "neg-2",
        zhang(),
        t("06-21 00:00"),
        t("06-21 08:00"),
    ));
    assert_timeline(
        "close contact, two negatives 12 h apart",
        &evidence,
        zhang(),
        &[
            contact_yellow("06-21 12:00", "06-20 10:00").next("06-23 10:00", Green),
            at("06-23 10:00").since("06-23 10:00"),
        ],
    );
}

#[test]
fn negative_tests_during_the_red_days_do_not_shorten_a_close_contacts_quarantine() {
    let mut evidence = designated_contact();
    evidence.push(negative("neg-1", zhang(), t("06-14 20:00")));
    evidence.push(negative("neg-2", zhang(), t("06-15 20:00")));
    evidence.push(negative("neg-3", zhang(), t("06-16 20:00")));
    assert_timeline(
        "close contact, negatives while in quarantine",
        &evidence,
        zhang(),
        &[
            Expect {
                at: "06-17 00:00",
                ..contact_red().next("06-20 10:00", Yellow)
            },
            contact_yellow("06-21 00:00", "06-20 10:00").next("06-23 10:00", Green),
        ],
    );
}

#[test]
fn the_release_of_a_close_contacts_quarantine_order_ends_the_red_and_starts_the_yellow() {
    let mut evidence = designated_contact();
    evidence.extend(approved(quarantine_order(
        "qo-1",
        zhang(),
        "cc-1",
        t("06-13 11:00"),
    )));
    evidence.push(release("rel-1", zhang(), "qo-1", t("06-16 10:00")));
    assert_timeline(
        "close contact released on 06-16",
        &evidence,
        zhang(),
        &[
            Expect {
                at: "06-14 00:00",
                ..contact_red().next("06-16 10:00", Yellow)
            },
            contact_yellow("06-16 10:00", "06-16 10:00").next("06-19 10:00", Green),
            at("06-19 10:00").since("06-19 10:00"),
        ],
    );
}

// ---------------------------------------------------------------- inbound travellers

/// 李娜 enters at the airport on 06-13 08:00 (customs-signed); the commission orders
/// her quarantine on that ground at 10:00, approved by a second official.
fn inbound() -> Vec<mingma_core::Evidence> {
    records![
        [border_entry("be-1", li(), t("06-13 08:00"))],
        approved(quarantine_order("qo-1", li(), "be-1", t("06-13 10:00"))),
    ]
}

fn inbound_red(at_: &'static str) -> Expect {
    at(at_)
        .red("inbound-traveller", "inbound_traveller_quarantine")
        .evidence(&["qo-1", "be-1"])
        .owners(&[ZZ_HEALTH, ZZ_CUSTOMS])
        .since("06-13 10:00")
}

fn inbound_yellow(at_: &'static str, since: &'static str) -> Expect {
    at(at_)
        .yellow(
            "inbound-traveller-monitoring",
            "inbound_traveller_monitoring",
        )
        .evidence(&["qo-1", "be-1"])
        .owners(&[ZZ_HEALTH, ZZ_CUSTOMS])
        .since(since)
}

#[test]
fn an_inbound_traveller_under_a_quarantine_order_on_a_customs_entry_is_red_7_days_then_yellow_3() {
    assert_timeline(
        "inbound traveller 7+3",
        &inbound(),
        li(),
        &[
            // The border entry alone says nothing about health.
            at("06-13 09:00").next("06-13 10:00", Red),
            inbound_red("06-13 10:00").next("06-20 10:00", Yellow),
            inbound_red("06-19 12:00").next("06-20 10:00", Yellow),
            // Days 8-10.
            inbound_yellow("06-20 10:00", "06-20 10:00").next("06-23 10:00", Green),
            inbound_yellow("06-22 12:00", "06-20 10:00").next("06-23 10:00", Green),
            at("06-23 10:00").since("06-23 10:00"),
        ],
    );
}

#[test]
fn the_inbound_reason_text_is_the_catalogue_text_of_2022() {
    let d = code(&inbound(), li(), t("06-14 00:00"));
    let reason = d.fired[0].reason;
    assert_eq!(reason.id, "inbound_traveller_quarantine");
    assert_eq!(reason.zh, "正在实施集中或居家医学隔离观察的入境人员");
    assert_eq!(reason.en, Reason::InboundTravellerQuarantine.en());
    assert_eq!(
        d.fired[0].owner.as_ref().map(|a| a.as_str()),
        Some(ZZ_HEALTH)
    );
    assert_eq!(d.fired[0].from, t("06-13 10:00"));
    assert_eq!(d.fired[0].until, Some(t("06-20 10:00")));
    assert_eq!(d.rule_set.id, "mingma-default");
}

#[test]
fn the_release_of_an_inbound_travellers_order_ends_the_red_early_and_starts_3_yellow_days() {
    let mut evidence = inbound();
    evidence.push(release("rel-1", li(), "qo-1", t("06-17 10:00")));
    assert_timeline(
        "inbound traveller released on 06-17",
        &evidence,
        li(),
        &[
            inbound_red("06-15 00:00").next("06-17 10:00", Yellow),
            inbound_yellow("06-17 10:00", "06-17 10:00").next("06-20 10:00", Green),
            at("06-20 10:00").since("06-20 10:00"),
        ],
    );
    // Before the release was recorded, the platform expected the full 7 days.
    let known_before = t("06-17 09:00");
    assert_timeline_known_at(
        "inbound traveller, release not yet recorded",
        &evidence,
        li(),
        known_before,
        &[inbound_red("06-15 00:00").next("06-20 10:00", Yellow)],
    );
}

#[test]
fn two_negative_tests_24_hours_apart_end_an_inbound_travellers_yellow_days() {
    let mut evidence = inbound();
    evidence.push(negative_sampled(
        "neg-1",
        li(),
        t("06-20 12:00"),
        t("06-20 18:00"),
    ));
    evidence.push(negative_sampled(
        "neg-2",
        li(),
        t("06-21 12:00"),
        t("06-21 18:00"),
    ));
    assert_timeline(
        "inbound traveller, two negatives",
        &evidence,
        li(),
        &[
            inbound_yellow("06-21 00:00", "06-20 10:00").next("06-21 18:00", Green),
            at("06-21 18:00").since("06-21 18:00"),
        ],
    );
}

// ---------------------------------------------------------------- risk areas

/// 中原区 (410102) declared high-risk on 06-11 08:00 for the window 06-10 00:00 to
/// 06-14 00:00, approved.
fn high_risk_zhongyuan() -> Vec<mingma_core::Evidence> {
    approved(risk_area(
        "ra-1",
        RiskLevel::High,
        &["410102"],
        t("06-10 00:00"),
        t("06-14 00:00"),
        t("06-11 08:00"),
    ))
    .to_vec()
}

#[test]
fn a_scan_inside_a_high_risk_area_during_its_window_is_red_from_the_declaration_until_7_days_after_the_stay(
) {
    let mut evidence = high_risk_zhongyuan();
    evidence.push(scan(
        "s-1",
        zhang(),
        &OFFICE,
        Presence::StaticPoster,
        t("06-10 10:00"),
    ));
    let red = |at_: &'static str| {
        at(at_)
            .red("high-risk-area", "high_risk_area_stay")
            .evidence(&["ra-1", "s-1"])
            .owners(&[ZZ_HEALTH])
            .since("06-11 08:00")
            .next("06-17 18:00", Green)
    };
    assert_timeline(
        "office scan in 中原区, declared high-risk the next day",
        &evidence,
        zhang(),
        &[
            at("06-10 12:00").next("06-11 08:00", Red),
            red("06-11 08:00"),
            red("06-17 17:59"),
            at("06-17 18:00").since("06-17 18:00"),
        ],
    );
    // On 06-10 the declaration did not exist yet: the platform then showed green.
    assert_timeline_known_at(
        "the same, as known on 06-10",
        &evidence,
        zhang(),
        t("06-10 12:00"),
        &[at("06-10 12:00"), at("06-12 00:00")],
    );
    // 王芳 scanned nothing there: green.
    assert_timeline(
        "someone who did not scan",
        &evidence,
        wang(),
        &[at("06-12 00:00")],
    );
}

#[test]
fn only_real_presence_in_the_area_during_its_window_within_the_last_7_days_counts() {
    use Presence::{Rotating, Stale, StaticPoster};
    // (what, venue, presence, entered, left, colour at 06-12 12:00)
    let cases: &[(&str, &Place, Presence, &str, Option<&str>, Colour)] = &[
        (
            "static poster",
            &OFFICE,
            StaticPoster,
            "06-10 10:00",
            None,
            Red,
        ),
        ("rotating code", &OFFICE, Rotating, "06-10 10:00", None, Red),
        (
            "forwarded photo (stale token)",
            &OFFICE,
            Stale,
            "06-10 10:00",
            None,
            Green,
        ),
        (
            "another district (二七区)",
            &RESTAURANT,
            Rotating,
            "06-10 10:00",
            None,
            Green,
        ),
        (
            "another street of the district",
            &STATION,
            Rotating,
            "06-10 10:00",
            None,
            Red,
        ),
        (
            "before the window, with exit",
            &OFFICE,
            Rotating,
            "06-09 20:00",
            Some("06-09 21:00"),
            Green,
        ),
        (
            "before the window, office dwell 8h reaches into it",
            &OFFICE,
            Rotating,
            "06-09 20:00",
            None,
            Red,
        ),
        (
            "before the window, station dwell 30m does not",
            &STATION,
            Rotating,
            "06-09 23:00",
            None,
            Green,
        ),
        (
            "before the window, station dwell 30m reaches into it",
            &STATION,
            Rotating,
            "06-09 23:45",
            None,
            Red,
        ),
        (
            "after the window",
            &OFFICE,
            Rotating,
            "06-14 00:00",
            None,
            Green,
        ),
    ];
    for (what, place, presence, entered, left, colour) in cases {
        let mut s = scan("s-1", zhang(), place, *presence, t(entered));
        if let Some(left) = left {
            s = s.left_at(t(left));
        }
        let mut evidence = high_risk_zhongyuan();
        evidence.push(s);
        let d = code(&evidence, zhang(), t("06-12 12:00"));
        assert_eq!(d.colour, *colour, "{what}: {d:#?}");
        if *colour == Red {
            assert_eq!(d.fired[0].reason.id, "high_risk_area_stay", "{what}");
            assert_eq!(d.decisive_evidence, rids(&["ra-1", "s-1"]), "{what}");
        }
    }
}

#[test]
fn a_scan_more_than_7_days_before_the_declaration_is_no_longer_a_recent_stay() {
    let mut evidence = approved(risk_area(
        "ra-1",
        RiskLevel::High,
        &["410102"],
        t("06-01 00:00"),
        t("06-14 00:00"),
        t("06-11 08:00"),
    ))
    .to_vec();
    evidence.push(scan(
        "s-old",
        zhang(),
        &OFFICE,
        Presence::Rotating,
        t("06-02 10:00"),
    ));
    evidence.push(scan(
        "s-new",
        wang(),
        &OFFICE,
        Presence::Rotating,
        t("06-05 10:00"),
    ));
    assert_timeline(
        "scan 9 days before",
        &evidence,
        zhang(),
        &[at("06-11 08:00"), at("06-12 00:00")],
    );
    assert_timeline(
        "scan 6 days before",
        &evidence,
        wang(),
        &[at("06-11 08:00")
            .red("high-risk-area", "high_risk_area_stay")
            .evidence(&["ra-1", "s-new"])
            .owners(&[ZZ_HEALTH])
            .since("06-11 08:00")
            .next("06-12 18:00", Green)],
    );
}

#[test]
fn a_declaration_by_venue_list_covers_only_the_listed_venues() {
    let mut evidence = approved(risk_venues(
        "ra-v",
        RiskLevel::High,
        &[&MARKET],
        t("06-10 00:00"),
        t("06-14 00:00"),
        t("06-11 08:00"),
    ))
    .to_vec();
    evidence.push(scan(
        "s-market",
        zhang(),
        &MARKET,
        Presence::StaticPoster,
        t("06-10 10:00"),
    ));
    // Same street, another venue.
    evidence.push(scan(
        "s-office",
        wang(),
        &OFFICE,
        Presence::StaticPoster,
        t("06-10 10:00"),
    ));
    assert_timeline(
        "listed market",
        &evidence,
        zhang(),
        &[at("06-12 00:00")
            .red("high-risk-area", "high_risk_area_stay")
            .evidence(&["ra-v", "s-market"])
            .owners(&[ZZ_HEALTH])
            .since("06-11 08:00")
            .next("06-17 11:00", Green)],
    );
    assert_timeline("office next door", &evidence, wang(), &[at("06-12 00:00")]);
}

#[test]
fn a_scan_in_a_medium_risk_area_is_yellow_and_two_negatives_24_hours_apart_clear_it() {
    let mut evidence = approved(risk_area(
        "ra-m",
        RiskLevel::Medium,
        &["410102002"],
        t("06-10 00:00"),
        t("06-14 00:00"),
        t("06-10 08:00"),
    ))
    .to_vec();
    evidence.push(scan(
        "s-1",
        zhang(),
        &MARKET,
        Presence::Rotating,
        t("06-10 10:00"),
    ));
    evidence.push(scan(
        "s-2",
        wang(),
        &MARKET,
        Presence::Rotating,
        t("06-10 10:00"),
    ));
    evidence.push(negative("neg-1", wang(), t("06-11 12:00")));
    evidence.push(negative("neg-2", wang(), t("06-12 12:00")));
    let yellow = |at_: &'static str, scan_id: &'static str| {
        at(at_)
            .yellow("medium-risk-area", "medium_risk_area_stay")
            .evidence(&["ra-m", scan_id])
            .owners(&[ZZ_HEALTH])
            .since("06-10 10:00")
    };
    assert_timeline(
        "medium-risk stay",
        &evidence,
        zhang(),
        &[
            at("06-10 09:00").next("06-10 10:00", Yellow),
            yellow("06-10 10:00", "s-1").next("06-17 11:00", Green),
            at("06-17 11:00").since("06-17 11:00"),
        ],
    );
    assert_timeline(
        "medium-risk stay, two negatives",
        &evidence,
        wang(),
        &[
            yellow("06-11 00:00", "s-2").next("06-12 12:00", Green),
            at("06-12 12:00").since("06-12 12:00"),
        ],
    );
}

#[test]
fn when_high_and_medium_areas_both_apply_the_red_decides_and_the_yellow_is_still_listed() {
    let evidence = records![
        high_risk_zhongyuan(),
        approved(risk_area(
            "ra-m",
            RiskLevel::Medium,
            &["4101"],
            t("06-10 00:00"),
            t("06-14 00:00"),
            t("06-10 08:00"),
        )),
        [scan(
            "s-1",
            zhang(),
            &OFFICE,
            Presence::Rotating,
            t("06-10 10:00")
        )],
    ];
    assert_timeline(
        "high and medium",
        &evidence,
        zhang(),
        &[
            at("06-10 12:00")
                .yellow("medium-risk-area", "medium_risk_area_stay")
                .evidence(&["ra-m", "s-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-10 10:00")
                .next("06-11 08:00", Red),
            at("06-12 00:00")
                .fired(
                    Red,
                    &["high-risk-area", "medium-risk-area"],
                    "high_risk_area_stay",
                )
                .evidence(&["ra-1", "s-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-11 08:00")
                .next("06-17 18:00", Green),
        ],
    );
}

#[test]
fn a_closure_of_a_case_that_does_not_count_gives_no_yellow() {
    // (what, the case behind the closure)
    let cases: Vec<(&str, Vec<mingma_core::Evidence>)> = vec![
        (
            "case retracted",
            records![
                [case("case-1", zhang(), Confirmed, None, t("06-01 10:00"))],
                [retraction("ret-1", "case-1", t("06-02 10:00"))],
            ],
        ),
        (
            "case entered by hand, never approved",
            vec![
                case("case-1", zhang(), Confirmed, None, t("06-01 10:00")).by_official(OFFICIAL_LI)
            ],
        ),
        ("no such case", vec![]),
    ];
    for (what, behind) in cases {
        for closure_by_hand in [false, true] {
            let mut evidence = behind.clone();
            let mut c = closure("close-1", zhang(), "case-1", Discharged, t("06-20 10:00"));
            if closure_by_hand {
                c = c.by_official(OFFICIAL_LI);
            }
            evidence.push(c);
            let d = code(&evidence, zhang(), t("06-21 00:00"));
            assert_eq!(
                d.colour, Green,
                "{what}, closure by hand: {closure_by_hand}: {d:#?}"
            );
        }
    }
}

#[test]
fn only_the_first_closure_of_a_case_opens_the_yellow_after_discharge() {
    // The hospital discharged 张伟 on 06-20; his yellow days ended on 07-04. On
    // 08-01 an official alone enters another "discharged" closure of the same case.
    let evidence = records![
        [case("case-1", zhang(), Confirmed, None, t("06-01 10:00"))],
        [closure(
            "close-1",
            zhang(),
            "case-1",
            Discharged,
            t("06-20 10:00")
        )],
        [
            closure("close-2", zhang(), "case-1", Discharged, t("08-01 10:00"))
                .by_official(OFFICIAL_LI)
        ],
    ];
    assert_timeline(
        "a second closure of a closed case",
        &evidence,
        zhang(),
        &[
            at("06-21 00:00")
                .yellow("after-discharge", "after_discharge")
                .evidence(&["close-1", "case-1"])
                .owners(&[ZZ_HEALTH])
                .since("06-20 10:00")
                .next("07-04 10:00", Green),
            at("08-02 00:00").since("07-04 10:00"),
        ],
    );
}

#[test]
fn a_recorded_exit_completes_an_open_scan_and_ends_the_assumed_stay() {
    use Presence::{Rotating, StaticPoster};
    // Office dwell is 8 h: an open scan at 20:00 reaches into the window opening at
    // midnight. The exit, recorded when the person left at 21:00, ends the stay there.
    let entry = || scan("s-1", zhang(), &OFFICE, Rotating, t("06-09 20:00"));
    let exit = |presence| {
        scan("s-1-exit", zhang(), &OFFICE, presence, t("06-09 20:00"))
            .left_at(t("06-09 21:00"))
            .recorded(t("06-09 21:00"))
    };
    let colour = |evidence: &[mingma_core::Evidence], known_at: &str| {
        mingma_core::derive(
            evidence,
            &zhang(),
            t("06-12 12:00"),
            t(known_at),
            default_rules(),
        )
        .colour
    };
    let mut open = high_risk_zhongyuan();
    open.push(entry());
    assert_eq!(colour(&open, "06-12 12:00"), Red, "open scan, dwell time");
    let mut completed = open.clone();
    completed.push(exit(Rotating));
    assert_eq!(
        colour(&completed, "06-12 12:00"),
        Green,
        "the exit ends the stay"
    );
    let statuses = mingma_core::record_statuses(&completed, t("06-12 12:00"));
    assert_eq!(
        statuses.get(&rid("s-1")),
        Some(&mingma_core::RecordStatus::Superseded {
            by: rid("s-1-exit")
        })
    );
    // In any order.
    let mut reversed = completed.clone();
    reversed.reverse();
    assert_eq!(colour(&reversed, "06-12 12:00"), Green);
    // A record of another stay does not complete it: another presence (an exit cannot
    // upgrade a poster scan to a rotating one, or the reverse), another person.
    let mut other = open.clone();
    other.push(exit(StaticPoster));
    assert_eq!(colour(&other, "06-12 12:00"), Red, "another presence");
    let mut other = open.clone();
    let mut li_exit = exit(Rotating);
    li_exit.subject = Some(li());
    other.push(li_exit);
    assert_eq!(colour(&other, "06-12 12:00"), Red, "another person");
}
