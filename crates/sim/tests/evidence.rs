//! The output is evidence the core accepts: the file reads back without a single
//! line error, as the same records the simulation yields, and the records that need
//! a second official's approval have it.

use std::collections::BTreeMap;

use mingma_core::{
    derive, read_evidence_file, record_statuses, Colour, Evidence, EvidenceBody, EvidenceKind,
    PseudonymKey, RecordStatus, RuleSet, Timestamp,
};
use mingma_sim::{City, CityConfig};

fn small_city() -> CityConfig {
    CityConfig {
        // An early outbreak and plenty of travellers, so that tracing, quarantine,
        // tests in quarantine and releases all happen within the few days.
        outbreak_day: 1,
        inbound_per_100k_per_day: 50.0,
        ..CityConfig::new(2022, 2_000, 5)
    }
}

#[test]
fn the_file_reads_back_without_errors_as_the_same_records() {
    let city = City::generate(&small_city());
    let key = PseudonymKey::from_bytes([7; 32]);
    let keys = city.person_keys(&key);
    let mut text = Vec::new();
    let mut expected: Vec<Evidence> = Vec::new();
    let mut days = city.days();
    let mut all_days = Vec::new();
    for day in &mut days {
        expected.extend(day.evidence(&city, &keys));
        all_days.push(day);
    }
    mingma_sim::write_jsonl(&city, all_days, &keys, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();

    let file = match read_evidence_file(&text, &key) {
        Ok(file) => file,
        Err(errors) => {
            let shown: Vec<String> = errors.iter().take(10).map(ToString::to_string).collect();
            panic!("{} line errors, first: {}", errors.len(), shown.join("\n"));
        }
    };
    assert_eq!(file.directory, *city.directory());
    assert_eq!(file.records.len(), expected.len());
    assert!(
        file.records == expected,
        "the file and the Evidence values differ"
    );

    // Ids ascend in file order, and records come in the order they were recorded.
    for pair in file.records.windows(2) {
        assert!(
            pair[0].id < pair[1].id,
            "{:?} then {:?}",
            pair[0].id,
            pair[1].id
        );
        assert!(
            pair[0].recorded_at <= pair[1].recorded_at,
            "{:?}",
            pair[1].id
        );
    }

    let stats = days.stats();
    let counted = |kind: EvidenceKind| stats.records_by_kind.get(&kind).copied().unwrap_or(0);
    for kind in [
        EvidenceKind::VenueScan,
        EvidenceKind::TestResult,
        EvidenceKind::CaseReport,
        EvidenceKind::CloseContact,
        EvidenceKind::QuarantineOrder,
        EvidenceKind::BorderEntry,
        EvidenceKind::Approval,
        EvidenceKind::RiskArea,
    ] {
        assert!(counted(kind) > 0, "no {kind} records:\n{stats}");
        let in_file = file.records.iter().filter(|r| r.kind() == kind).count() as u64;
        assert_eq!(in_file, counted(kind), "{kind}");
    }
}

#[test]
fn designations_orders_and_declarations_are_approved_and_raise_codes() {
    let city = City::generate(&small_city());
    let key = PseudonymKey::from_bytes([9; 32]);
    let keys = city.person_keys(&key);
    let records: Vec<Evidence> = city
        .days()
        .flat_map(|d| d.evidence(&city, &keys).collect::<Vec<_>>())
        .collect();
    let end = Timestamp::parse("2030-01-01T00:00:00+08:00").unwrap();
    let statuses = record_statuses(&records, end);
    let mut needing = 0;
    for r in &records {
        if r.kind().always_needs_approval() {
            needing += 1;
            assert_eq!(
                statuses[&r.id],
                RecordStatus::Counted,
                "{:?} is not counted",
                r.id
            );
        }
    }
    assert!(needing > 0);

    // A close contact is red the hour after designation; an inbound traveller too.
    let rules = RuleSet::default_rules().unwrap();
    let by_id: BTreeMap<_, _> = records.iter().map(|r| (r.id.clone(), r)).collect();
    let mut checked = BTreeMap::new();
    for r in &records {
        let rule = match &r.body {
            EvidenceBody::CloseContact { .. } => "close-contact",
            EvidenceBody::QuarantineOrder { ground, .. }
                if by_id[ground].kind() == EvidenceKind::BorderEntry =>
            {
                "inbound-traveller"
            }
            _ => continue,
        };
        if checked.get(rule).copied().unwrap_or(0) >= 3 {
            continue;
        }
        let person = r.subject.unwrap();
        let about: Vec<Evidence> = records
            .iter()
            .filter(|e| {
                e.subject == Some(person)
                    || matches!(&e.body, EvidenceBody::Approval { target } if by_id[target].subject == Some(person))
            })
            .cloned()
            .collect();
        let at = r.effective_at.plus_seconds(3600);
        let decision = derive(&about, &person, at, at, &rules);
        assert_eq!(
            decision.colour,
            Colour::Red,
            "{:?}: {:?}",
            r.id,
            decision.fired
        );
        assert!(
            decision.fired.iter().any(|f| f.rule == rule),
            "{:?}: {:?}",
            r.id,
            decision.fired
        );
        *checked.entry(rule).or_insert(0) += 1;
    }
    assert_eq!(checked.len(), 2, "{checked:?}");
}

#[test]
fn every_official_and_source_record_is_sealed_by_a_key_the_acts_register() {
    let city = City::generate(&small_city());
    let acts = city.authority_acts(0).expect("the city's acts");
    let registry = mingma_authority::Registry::replay(
        acts.iter()
            .enumerate()
            .map(|(leaf, act)| (leaf as u64, act.to_bytes())),
    );
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    assert!(registry.pending.is_empty(), "every source is confirmed");
    // Every authority, official and source of the city, and the two admins.
    let directory = city.directory();
    assert_eq!(
        registry.directory.authorities.len(),
        directory.authorities.len()
    );
    assert_eq!(
        registry.directory.officials.len(),
        directory.officials.len() + 2
    );
    assert_eq!(registry.directory.sources.len(), directory.sources.len());
    // Acts come before the city's first day.
    assert!(acts.iter().all(|a| a.body.at < city.config().start));
    // The CDC's officials trace; the others are health officials.
    for official in directory.officials.values() {
        let roles: Vec<_> = registry
            .grants_of(&official.id)
            .iter()
            .map(|g| g.role)
            .collect();
        let want = if official.authority.as_str().starts_with("cdc-") {
            mingma_authority::Role::TracingTeam
        } else {
            mingma_authority::Role::HealthOfficial
        };
        assert_eq!(roles, [want], "{}", official.id);
    }

    let vouching = mingma_authority::Vouching::new(registry.keys.clone());
    let keys = city.person_keys(&PseudonymKey::from_bytes([4; 32]));
    let (mut sealed, mut scans) = (0, 0);
    for day in city.days() {
        for record in day.evidence(&city, &keys) {
            if record.kind() == EvidenceKind::VenueScan {
                assert_eq!(record.seal, None, "{}", record.id);
                scans += 1;
            } else {
                assert_eq!(vouching.check(&record), Ok(()), "{}", record.id);
                sealed += 1;
            }
        }
    }
    assert!(
        sealed > 1_000 && scans > 10_000,
        "{sealed} sealed, {scans} scans"
    );
    // Another seed gives other keys: its acts do not vouch for this city's records.
    let other = City::generate(&CityConfig {
        seed: 1,
        ..small_city()
    });
    let others = mingma_authority::Registry::replay(
        other
            .authority_acts(0)
            .expect("acts")
            .iter()
            .enumerate()
            .map(|(leaf, act)| (leaf as u64, act.to_bytes())),
    );
    let vouching = mingma_authority::Vouching::new(others.keys);
    let record = city
        .days()
        .flat_map(|d| d.evidence(&city, &keys).collect::<Vec<_>>())
        .find(|r| r.kind() == EvidenceKind::TestResult)
        .expect("a test result");
    assert!(!vouching.counts(&record));
}
