//! The city looks like a city: scan rates, stays, venue kinds and skew, and an
//! outbreak whose contacts were really at a venue with a case.

use std::collections::BTreeMap;

use mingma_core::{
    Evidence, EvidenceBody, Exposure, PseudonymKey, RecordId, RuleSet, Timestamp, VenueKind,
};
use mingma_sim::{City, CityConfig, Role};

#[test]
fn residents_have_valid_ids_homes_and_workplaces_in_the_city() {
    let city = City::generate(&CityConfig::new(5, 4_000, 1));
    let zhengzhou = city.config().city;
    let mut roles = BTreeMap::new();
    let mut central_jobs = 0;
    let mut jobs = 0;
    for p in 0..city.person_count() {
        let r = city.resident(p);
        assert_eq!(r.id.as_str().len(), 18);
        // Born in Henan (41) in a real county; 4101 most often.
        assert!(r.id.as_str().starts_with("41"));
        assert!(zhengzhou.contains(r.home));
        *roles.entry(r.role).or_insert(0) += 1;
        if r.role == Role::Worker {
            jobs += 1;
            // 中原, 二七, 管城, 金水 and the development zones.
            let district = &r.work.unwrap().to_string()[..6];
            if ["410102", "410103", "410104", "410105", "410171", "410172"].contains(&district) {
                central_jobs += 1;
            }
        }
    }
    assert!(roles.len() >= 7, "{roles:?}");
    let workers = roles[&Role::Worker] as f64 / f64::from(city.person_count());
    assert!((0.35..0.65).contains(&workers), "{workers}");
    assert!(
        central_jobs as f64 / jobs as f64 > 0.5,
        "{central_jobs} of {jobs}"
    );
    let venues = f64::from(city.venue_count());
    assert!(
        (4_000.0 / 60.0..=4_000.0 / 15.0).contains(&venues),
        "{venues}"
    );
}

#[test]
fn scans_stays_and_venues_are_plausible() {
    let city = City::generate(&CityConfig::new(8, 3_000, 7));
    let mut days = city.days();
    let mut per_day = Vec::new();
    for day in &mut days {
        per_day.push(day.scan_count());
    }
    let stats = days.stats();
    let rate = stats.scans_per_person_day();
    assert!(
        (3.0..=5.0).contains(&rate),
        "{rate} scans per person per day\n{stats}"
    );
    // Weekends (4 and 5 June 2022) differ from working days, but not wildly.
    for n in &per_day {
        let r = *n as f64 / 3_000.0;
        assert!((2.5..=5.5).contains(&r), "{per_day:?}");
    }
    for kind in VenueKind::ALL {
        assert!(stats.venues_by_kind[kind] > 0, "{kind}");
        assert!(
            stats.scans_by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no scans at {kind}"
        );
        assert!(stats.stay_max_minutes(*kind).unwrap() <= 24 * 60);
    }
    let median = |k| stats.stay_median_minutes(k).unwrap();
    assert!(median(VenueKind::TransportHub) <= 30, "{stats}");
    assert!((10..=60).contains(&median(VenueKind::Market)), "{stats}");
    assert!(median(VenueKind::Office) >= 180, "{stats}");
    assert!(median(VenueKind::School) >= 360, "{stats}");
    assert!(
        stats.stay_p90_minutes(VenueKind::Restaurant).unwrap() >= median(VenueKind::Restaurant)
    );
    // Hubs: a modest share of all scans, concentrated on a few hubs.
    let hubs = stats.kind_share(VenueKind::TransportHub);
    assert!((0.03..=0.30).contains(&hubs), "{hubs}");
    assert!(stats.top_venue_share > 0.05, "{stats}");
    let hub_days = (stats.venues_by_kind[&VenueKind::TransportHub] * u64::from(stats.days)) as f64;
    let mean_hub_day = stats.scans_by_kind[&VenueKind::TransportHub] as f64 / hub_days;
    let busiest_hub_day = stats.busiest_by_kind[&VenueKind::TransportHub] as f64;
    assert!(busiest_hub_day > 1.5 * mean_hub_day, "{stats}");
    let venue_days: u64 = stats.venues_by_kind.values().sum::<u64>() * u64::from(stats.days);
    let mean_venue_day = stats.scans as f64 / venue_days as f64;
    assert!(
        stats.busiest_venue_day.0 as f64 > 5.0 * mean_venue_day,
        "{stats}"
    );
    // Mostly the rotating code, some posters.
    let rotating =
        stats.scans_by_presence[&mingma_core::Presence::Rotating] as f64 / stats.scans as f64;
    assert!((0.8..0.99).contains(&rotating), "{rotating}");
    let shown = stats.to_string();
    assert!(
        shown.contains("transport_hub") && shown.contains("close contacts"),
        "{shown}"
    );
}

#[test]
fn every_scan_stays_within_its_day_and_venue_contacts_were_really_co_present() {
    let config = CityConfig {
        outbreak_day: 1,
        index_cases: 4,
        ..CityConfig::new(31, 3_000, 5)
    };
    let city = City::generate(&config);
    let keys = city.person_keys(&PseudonymKey::from_bytes([1; 32]));
    let rules = RuleSet::default_rules().unwrap();
    let start = config.start;
    let end = start.plus_seconds(i64::from(config.days) * 86_400);
    let records: Vec<Evidence> = city
        .days()
        .flat_map(|d| d.evidence(&city, &keys).collect::<Vec<_>>())
        .collect();
    let by_id: BTreeMap<&RecordId, &Evidence> = records.iter().map(|r| (&r.id, r)).collect();
    let seen = |scan: &Evidence| -> (Timestamp, Timestamp) {
        let EvidenceBody::VenueScan {
            left_at,
            venue_kind,
            ..
        } = &scan.body
        else {
            panic!("{:?} is not a scan", scan.id)
        };
        (
            scan.effective_at,
            left_at.unwrap_or_else(|| scan.effective_at.plus(rules.dwell.of(*venue_kind))),
        )
    };
    let mut venue_contacts = 0;
    for r in &records {
        match &r.body {
            EvidenceBody::VenueScan { left_at, .. } => {
                assert!(r.effective_at >= start && r.effective_at < end);
                if let Some(left) = left_at {
                    assert!(*left >= r.effective_at && *left < end);
                    assert!(r.recorded_at > *left);
                }
            }
            EvidenceBody::CloseContact { case, exposure } => {
                let Exposure::Venue {
                    venue,
                    from,
                    until,
                    scans,
                } = exposure
                else {
                    continue;
                };
                venue_contacts += 1;
                let case_person = by_id[case].subject;
                assert_eq!(scans.len(), 2);
                let (mine, theirs) = (by_id[&scans[0]], by_id[&scans[1]]);
                assert_eq!(mine.subject, r.subject, "{:?}", r.id);
                assert_eq!(theirs.subject, case_person, "{:?}", r.id);
                for scan in [mine, theirs] {
                    let EvidenceBody::VenueScan { venue: v, .. } = &scan.body else {
                        panic!()
                    };
                    assert_eq!(v, venue);
                    let (enter, left) = seen(scan);
                    assert!(
                        enter <= *from && *until <= left,
                        "{:?} outside {:?}",
                        r.id,
                        scan.id
                    );
                }
                assert!(until.unix_seconds() - from.unix_seconds() >= 15 * 60);
                assert!(r.recorded_at > mine.recorded_at && r.recorded_at > theirs.recorded_at);
            }
            _ => {}
        }
    }
    assert!(venue_contacts > 10, "{venue_contacts} venue contacts");
}
