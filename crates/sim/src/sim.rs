//! The day-by-day simulation: movement, routine tests, the outbreak and its tracing,
//! inbound travellers, and the authorities' records about them.

use std::collections::{BTreeMap, BTreeSet};

use mingma_core::{CaseClass, ClosureOutcome, QuarantineSetting, TestMethod, TestOutcome};

use crate::city::{City, CASE_SOURCE, CITY_CDC, CITY_HC, CUSTOMS_SOURCE, LABS, NONE, PROVINCE_HC};
use crate::clock::{local_day, local_midnight, weekday, DAY};
use crate::day::{pack, Actor, Body, Day, Rec, Scan, VenueContact, HANDLE, PRESENCE_STALE};
use crate::movement::{person_day, DayContext, RoutineTest};
use crate::random::Rand;
use crate::stats::CityStats;

const HOUR: i64 = 3600;
const MIN: i64 = 60;

/// Per-person flags for one day.
const FULL_BLOCK: u8 = 1;
const PARTIAL_BLOCK: u8 = 2;
const NO_ROUTINE_TEST: u8 = 4;
const INFECTIOUS: u8 = 8;

#[derive(Debug, Clone)]
struct Infection {
    infectious_from: i64,
    detectable_from: i64,
    /// When a positive result isolated them.
    isolated_at: Option<i64>,
    /// Whether their household was exposed (not for travellers in quarantine).
    household_exposed: bool,
    origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Index,
    Local,
    Imported,
}

/// A venue contact found in the scans, waiting for the case to be reported.
#[derive(Debug, Clone, Copy)]
struct Contact {
    contact: u32,
    exposure: VenueContact,
}

/// Something the authorities do on a later day.
#[derive(Debug, Clone)]
enum Action {
    /// A test in quarantine.
    QuarantineTest { person: u32, sample: i64 },
    /// The end of a quarantine order.
    Release {
        person: u32,
        order: u32,
        at: i64,
        authority: usize,
    },
    /// The end of a case.
    Closure {
        person: u32,
        case: u32,
        at: i64,
        outcome: ClosureOutcome,
    },
    /// Tracing the contacts of a reported case.
    Trace { person: u32, case: u32 },
}

/// A case scan found today, waiting for its contacts.
struct CaseScan {
    index: usize,
    person: u32,
    venue: u32,
    from: i64,
    until: i64,
    seen: u32,
    chosen: Vec<(usize, i64, i64)>,
}

/// The simulation of a city, day by day: an iterator of [`Day`]s. Only the day being
/// generated is held in memory (plus small outbreak state and records already
/// decided for later days, such as test results that arrive after midnight).
///
/// # The outbreak
/// Index cases are infected three days before the outbreak day and test positive at
/// a fever clinic on it. An infected person is infectious from two days after
/// infection and tests positive from three days after. While infectious and not
/// isolated they scan venues like anyone else; every person whose scan at the same
/// venue overlaps one of theirs by [`crate::CityConfig::min_overlap_minutes`] is a
/// candidate contact (at most `max_contacts_per_scan` per scan are designated; stale
/// scans do not count), and is infected with the venue attack rate. Cases' records
/// are only written once found: infections are the simulation's hidden truth. Household members are infected with the
/// household attack rate. A case report follows a positive test; the day after, the
/// CDC designates the contacts (household and venue, each approved by a second
/// official, citing the prevention plan), the city health commission orders their
/// quarantine (approved), they stop scanning, are tested on days 1, 3 and 6 and are
/// released when the order ends, unless a test finds them positive: then they become
/// cases, are traced in turn, and their case is closed 10-14 days later. When risk
/// areas are on, the city health commission also declares the venues a case visited
/// while infectious a medium-risk area (approved) for the time from the first such
/// visit to the case's isolation.
pub struct Simulation<'a> {
    city: &'a City,
    day: u32,
    stats: CityStats,
    creation: u64,
    handles: Vec<u64>,
    /// Records decided already, recorded on a later day.
    pending: Vec<Rec>,
    /// Records created today.
    new: Vec<Rec>,
    /// Periods a person is away or quarantined, `[from, until)` in unix seconds.
    blocks: BTreeMap<u32, Vec<(i64, i64)>>,
    infections: BTreeMap<u32, Infection>,
    /// Venue contacts by the infected person they met.
    contacts: BTreeMap<u32, Vec<Contact>>,
    met: BTreeSet<(u32, u32)>,
    /// Venues visited while infectious, and the first such visit.
    visits: BTreeMap<u32, (BTreeSet<u32>, i64)>,
    /// Persons under a quarantine order or designated, and cases.
    designated: BTreeSet<u32>,
    scheduled: BTreeMap<u32, Vec<Action>>,
    next_traveller: usize,
    flags: Vec<u8>,
    /// Scans and routine tests of each part of the population (one per thread).
    parts: Vec<Part>,
    buffer: Vec<Scan>,
    venue_today: Vec<u32>,
    threads: Option<u32>,
}

impl<'a> Simulation<'a> {
    pub(crate) fn new(city: &'a City) -> Self {
        let mut sim = Simulation {
            city,
            day: 0,
            stats: CityStats::new(city),
            creation: 0,
            handles: Vec::new(),
            pending: Vec::new(),
            new: Vec::new(),
            blocks: BTreeMap::new(),
            infections: BTreeMap::new(),
            contacts: BTreeMap::new(),
            met: BTreeSet::new(),
            visits: BTreeMap::new(),
            designated: BTreeSet::new(),
            scheduled: BTreeMap::new(),
            next_traveller: 0,
            flags: vec![0; city.persons.len()],
            parts: Vec::new(),
            buffer: Vec::new(),
            threads: None,
            venue_today: vec![0; city.spots.len()],
        };
        // Travellers are abroad until they enter.
        for t in &city.travellers {
            sim.block(t.person, i64::MIN / 2, t.entry);
        }
        let mut rng = city.streams.city(4);
        for &(person, infected) in &city.index_cases {
            sim.infect(person, infected, true, Origin::Index, &mut rng);
        }
        sim
    }

    /// Moves residents on `threads` threads (at least 1). By default a city of 50,000
    /// residents or more uses every available core (at most 8), a smaller one a single
    /// thread. The output is the same whatever the number.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.clamp(1, 64) as u32);
        self
    }

    /// What has been generated so far.
    pub fn stats(&self) -> &CityStats {
        &self.stats
    }

    fn block(&mut self, person: u32, from: i64, until: i64) {
        if from >= until {
            return;
        }
        let list = self.blocks.entry(person).or_default();
        list.push((from, until));
        list.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(list.len());
        for &(f, u) in list.iter() {
            match merged.last_mut() {
                Some(last) if f <= last.1 => last.1 = last.1.max(u),
                _ => merged.push((f, u)),
            }
        }
        *list = merged;
    }

    fn blocked_at(&self, person: u32, t: i64) -> bool {
        self.blocks
            .get(&person)
            .is_some_and(|l| l.iter().any(|&(f, u)| f <= t && t < u))
    }

    fn infect(&mut self, person: u32, at: i64, household: bool, origin: Origin, rng: &mut Rand) {
        if self.infections.contains_key(&person) {
            return;
        }
        let infectious_from = at + 2 * DAY;
        self.infections.insert(
            person,
            Infection {
                infectious_from,
                detectable_from: at + 3 * DAY,
                isolated_at: None,
                household_exposed: household,
                origin,
            },
        );
        self.stats.outbreak.infections += 1;
        if !household {
            return;
        }
        let p = &self.city.persons[person as usize];
        for m in p.household..p.household + u32::from(p.household_size) {
            let when = infectious_from + i64::from(rng.below(DAY as u32));
            if m != person
                && !self.blocked_at(m, when)
                && rng.chance(self.city.config.household_attack_rate)
            {
                self.infect(m, when, true, Origin::Local, rng);
            }
        }
    }

    fn handle(&mut self) -> u32 {
        self.handles.push(0);
        (self.handles.len() - 1) as u32
    }

    /// Creates a record; returns its handle if `referenced`.
    fn record(
        &mut self,
        recorded: i64,
        effective: i64,
        by: Actor,
        body: Body,
        referenced: bool,
    ) -> u32 {
        let handle = if referenced { self.handle() } else { NONE };
        self.creation += 1;
        self.new.push(Rec {
            recorded,
            effective,
            creation: self.creation,
            id: 0,
            handle,
            by,
            body,
        });
        handle
    }

    /// An approval by the other official of the same authority.
    fn approve(&mut self, official: usize, target: u32, after: i64, rng: &mut Rand) {
        let at = after + i64::from(rng.between(5 * 60, 20 * 60));
        self.record(
            at,
            at,
            Actor::Official(official ^ 1),
            Body::Approval {
                target: HANDLE | u64::from(target),
            },
            false,
        );
    }

    fn schedule(&mut self, at: i64, action: Action) {
        let day = (at - self.city.config.start.unix_seconds()).div_euclid(DAY);
        if (0..i64::from(self.city.config.days)).contains(&day) {
            self.scheduled.entry(day as u32).or_default().push(action);
        }
    }

    /// A test result; positive if the person is infected, not yet found, and
    /// detectable when sampled. Returns whether it was positive.
    fn test(&mut self, person: u32, sampled: i64, result: i64, lab: usize, rng: &mut Rand) -> bool {
        let positive = self
            .infections
            .get(&person)
            .is_some_and(|i| i.isolated_at.is_none() && sampled >= i.detectable_from);
        let outcome = if positive {
            TestOutcome::Positive
        } else {
            TestOutcome::Negative
        };
        let handle = self.record(
            result + MIN,
            result,
            Actor::Source(lab),
            Body::Test {
                person,
                method: TestMethod::NucleicAcid,
                outcome,
                sampled,
            },
            positive,
        );
        if positive {
            self.found(person, handle, result, rng);
        }
        positive
    }

    /// A positive result: case report, isolation, a closure later, tracing tomorrow.
    fn found(&mut self, person: u32, test: u32, result: i64, rng: &mut Rand) {
        let Some(infection) = self.infections.get_mut(&person) else {
            return;
        };
        infection.isolated_at = Some(result);
        let origin = infection.origin;
        match origin {
            Origin::Index => self.stats.outbreak.index_cases += 1,
            Origin::Local => self.stats.outbreak.secondary_cases += 1,
            Origin::Imported => self.stats.outbreak.imported_cases += 1,
        }
        let confirmed = rng.chance(0.4);
        let reported = result + i64::from(rng.between(3600, 3 * 3600));
        let case = self.record(
            reported + 5 * MIN,
            reported,
            Actor::Source(CASE_SOURCE),
            Body::CaseReport {
                person,
                class: if confirmed {
                    CaseClass::Confirmed
                } else {
                    CaseClass::Asymptomatic
                },
                test: HANDLE | u64::from(test),
            },
            true,
        );
        let closed = reported + 10 * DAY + i64::from(rng.below(4 * DAY as u32));
        self.block(person, result, closed);
        self.designated.insert(person);
        self.schedule(
            closed,
            Action::Closure {
                person,
                case,
                at: closed,
                outcome: if confirmed {
                    ClosureOutcome::Discharged
                } else {
                    ClosureOutcome::Recovered
                },
            },
        );
        let (day, _) = local_day(reported);
        self.schedule(
            local_midnight(day + 1) + 8 * HOUR,
            Action::Trace { person, case },
        );
    }

    /// Quarantine: an order grounded on `ground` (approved), the person away from
    /// `from` until the order ends, tests on days 1, 3 and 6, and the release.
    #[allow(clippy::too_many_arguments)]
    fn quarantine(
        &mut self,
        person: u32,
        ground: u32,
        authority: usize,
        after: i64,
        from: i64,
        setting: QuarantineSetting,
        rng: &mut Rand,
    ) {
        let official = 2 * authority + rng.below(2) as usize;
        let recorded = after + i64::from(rng.between(30 * 60, 80 * 60));
        let effective = recorded + 10 * MIN;
        let planned_end = effective + 7 * DAY;
        let facility = (setting == QuarantineSetting::Centralised)
            .then(|| rng.below(self.city.registry.facilities.len() as u32) as u8);
        let order = self.record(
            recorded,
            effective,
            Actor::Official(official),
            Body::QuarantineOrder {
                person,
                setting,
                facility,
                ground: HANDLE | u64::from(ground),
                planned_end,
            },
            true,
        );
        self.approve(official, order, recorded, rng);
        self.block(person, from, planned_end);
        self.designated.insert(person);
        self.stats.outbreak.quarantine_orders += 1;
        let (day, _) = local_day(effective);
        for offset in [1, 3, 6] {
            let sample = local_midnight(day + offset) + 8 * HOUR + i64::from(rng.below(2 * 3600));
            self.schedule(sample, Action::QuarantineTest { person, sample });
        }
        self.schedule(
            planned_end,
            Action::Release {
                person,
                order,
                at: planned_end,
                authority,
            },
        );
    }

    fn run_action(&mut self, action: Action, rng: &mut Rand) {
        match action {
            Action::QuarantineTest { person, sample } => {
                if self
                    .infections
                    .get(&person)
                    .is_some_and(|i| i.isolated_at.is_some())
                {
                    return;
                }
                let result = sample + i64::from(rng.between(4 * 3600, 8 * 3600));
                let lab = rng.below(LABS as u32) as usize;
                self.test(person, sample, result, lab, rng);
            }
            Action::Release {
                person,
                order,
                at,
                authority,
            } => {
                if self
                    .infections
                    .get(&person)
                    .is_some_and(|i| i.isolated_at.is_some())
                {
                    return;
                }
                let recorded = at + i64::from(rng.between(60, 30 * 60));
                self.record(
                    recorded,
                    at,
                    Actor::Official(2 * authority + rng.below(2) as usize),
                    Body::QuarantineRelease {
                        person,
                        order: HANDLE | u64::from(order),
                    },
                    false,
                );
                self.designated.remove(&person);
            }
            Action::Closure {
                person,
                case,
                at,
                outcome,
            } => {
                self.record(
                    at + 10 * MIN,
                    at,
                    Actor::Source(CASE_SOURCE),
                    Body::CaseClosure {
                        person,
                        case: HANDLE | u64::from(case),
                        outcome,
                    },
                    false,
                );
                self.designated.remove(&person);
            }
            Action::Trace { person, case } => self.trace(person, case, rng),
        }
    }

    /// Designates the contacts of a case, orders their quarantine, and declares the
    /// venues the case visited while infectious.
    fn trace(&mut self, case_person: u32, case: u32, rng: &mut Rand) {
        let day_start = self.day_start();
        let p = &self.city.persons[case_person as usize];
        let mut list: Vec<(u32, Option<VenueContact>)> = Vec::new();
        if self
            .infections
            .get(&case_person)
            .is_some_and(|i| i.household_exposed)
        {
            for m in p.household..p.household + u32::from(p.household_size) {
                if m != case_person {
                    list.push((m, None));
                }
            }
        }
        for c in self.contacts.remove(&case_person).unwrap_or_default() {
            list.push((c.contact, Some(c.exposure)));
        }
        let mut seen = BTreeSet::new();
        list.retain(|(person, _)| seen.insert(*person));
        let spacing = (12 * HOUR / (list.len() as i64).max(1)).clamp(30, 4 * MIN);
        let mut t = day_start + 8 * HOUR + 30 * MIN;
        for (contact, exposure) in list {
            t += spacing;
            if self.designated.contains(&contact) || self.blocked_at(contact, t) {
                continue;
            }
            let official = 2 * CITY_CDC + rng.below(2) as usize;
            let designation = self.record(
                t,
                t,
                Actor::Official(official),
                Body::CloseContact {
                    person: contact,
                    case: HANDLE | u64::from(case),
                    venue: exposure,
                },
                true,
            );
            self.approve(official, designation, t, rng);
            if exposure.is_some() {
                self.stats.outbreak.venue_contacts += 1;
            } else {
                self.stats.outbreak.household_contacts += 1;
            }
            let setting = if rng.chance(0.8) {
                QuarantineSetting::Centralised
            } else {
                QuarantineSetting::Home
            };
            self.quarantine(contact, designation, CITY_HC, t, t + 30 * MIN, setting, rng);
        }
        if !self.city.config.risk_areas {
            return;
        }
        let Some((venues, first)) = self.visits.remove(&case_person) else {
            return;
        };
        let isolated = self
            .infections
            .get(&case_person)
            .and_then(|i| i.isolated_at)
            .unwrap_or(day_start);
        let from = first - first.rem_euclid(HOUR);
        let until = isolated.max(from + HOUR);
        let at = day_start + 18 * HOUR + i64::from(rng.below(3600));
        let official = 2 * CITY_HC + rng.below(2) as usize;
        let declaration = self.record(
            at,
            at,
            Actor::Official(official),
            Body::RiskArea {
                venues: venues.into_iter().take(20).collect(),
                from,
                until,
            },
            true,
        );
        self.approve(official, declaration, at, rng);
        self.stats.outbreak.risk_areas += 1;
    }

    fn day_start(&self) -> i64 {
        self.city.config.start.unix_seconds() + i64::from(self.day) * DAY
    }

    /// Border entries of the day: entry (customs), order (province), approval.
    fn entries(&mut self, rng: &mut Rand) {
        let day_end = self.day_start() + DAY;
        while let Some(t) = self.city.travellers.get(self.next_traveller).copied() {
            if t.entry >= day_end {
                break;
            }
            self.next_traveller += 1;
            let entry = self.record(
                t.entry + i64::from(rng.between(2 * 60, 10 * 60)),
                t.entry,
                Actor::Source(CUSTOMS_SOURCE),
                Body::BorderEntry {
                    person: t.person,
                    origin: t.origin,
                },
                true,
            );
            self.stats.outbreak.border_entries += 1;
            if t.infected {
                self.infect(t.person, t.entry - 2 * DAY, false, Origin::Imported, rng);
            }
            let after = t.entry + HOUR;
            self.quarantine(
                t.person,
                entry,
                PROVINCE_HC,
                after,
                t.entry,
                QuarantineSetting::Centralised,
                rng,
            );
        }
    }

    /// Index cases test positive at a fever clinic on the outbreak day; others
    /// infected and still about may take a routine test.
    fn outbreak_tests(&mut self, rng: &mut Rand) {
        let day_start = self.day_start();
        let config = &self.city.config;
        let index_day = self.day == config.outbreak_day;
        let candidates: Vec<(u32, Origin)> = self
            .infections
            .iter()
            .filter(|(_, i)| i.isolated_at.is_none())
            .map(|(p, i)| (*p, i.origin))
            .collect();
        for (person, origin) in candidates {
            if self.designated.contains(&person) || self.blocked_at(person, day_start + 12 * HOUR) {
                continue;
            }
            let lab = rng.below(LABS as u32) as usize;
            if origin == Origin::Index && index_day {
                let sampled = day_start + 8 * HOUR + i64::from(rng.below(3 * 3600));
                let result = sampled + i64::from(rng.between(5 * 3600, 9 * 3600));
                self.test(person, sampled, result, lab, rng);
            } else if rng.chance(config.routine_test_rate) {
                let sampled = day_start + 7 * HOUR + i64::from(rng.below(14 * 3600));
                let result = sampled + i64::from(rng.between(4 * 3600, 14 * 3600));
                self.test(person, sampled, result, lab, rng);
            }
        }
    }

    /// Marks who is away, quarantined, infectious or tested already today.
    fn plan_persons(&mut self) -> BTreeMap<u32, Vec<(u32, u32)>> {
        let day_start = self.day_start();
        let day_end = day_start + DAY;
        self.flags.fill(0);
        // Forget periods that are over.
        self.blocks.retain(|_, list| {
            list.retain(|&(_, until)| until > day_start);
            !list.is_empty()
        });
        let mut partial = BTreeMap::new();
        for (&person, list) in &self.blocks {
            let mut today = Vec::new();
            for &(f, u) in list {
                if f < day_end && u > day_start {
                    today.push((
                        (f.max(day_start) - day_start) as u32,
                        (u.min(day_end) - day_start) as u32,
                    ));
                }
            }
            if today.is_empty() {
                continue;
            }
            if today.len() == 1 && today[0] == (0, DAY as u32) {
                self.flags[person as usize] |= FULL_BLOCK;
            } else {
                self.flags[person as usize] |= PARTIAL_BLOCK | NO_ROUTINE_TEST;
                partial.insert(person, today);
            }
        }
        for (&person, i) in &self.infections {
            self.flags[person as usize] |= NO_ROUTINE_TEST;
            if i.infectious_from < day_end && i.isolated_at.is_none_or(|t| t > day_start) {
                self.flags[person as usize] |= INFECTIOUS;
            }
        }
        partial
    }

    /// Finds who was at a venue together with an infectious person.
    fn find_contacts(
        &mut self,
        scans: &[Scan],
        rng: &mut Rand,
    ) -> Vec<(u32, usize, usize, VenueContact)> {
        let day_start = self.day_start();
        let min_overlap = i64::from(self.city.config.min_overlap_minutes) * MIN;
        let cap = self.city.config.max_contacts_per_scan as usize;
        let mut cases: Vec<CaseScan> = Vec::new();
        for (index, s) in scans.iter().enumerate() {
            if self.flags[s.person as usize] & INFECTIOUS == 0 || s.flags & 3 == PRESENCE_STALE {
                continue;
            }
            let infection = &self.infections[&s.person];
            let (from, until) = s.seen_interval(self.city);
            if day_start + i64::from(s.enter) < infection.infectious_from {
                continue;
            }
            let visit = self
                .visits
                .entry(s.person)
                .or_insert_with(|| (BTreeSet::new(), day_start + from));
            visit.0.insert(s.venue);
            visit.1 = visit.1.min(day_start + from);
            cases.push(CaseScan {
                index,
                person: s.person,
                venue: s.venue,
                from,
                until,
                seen: 0,
                chosen: Vec::new(),
            });
        }
        if cases.is_empty() || cap == 0 {
            return Vec::new();
        }
        // The case scans of each venue: `first[venue]` is one past the start of its
        // run in `cases` (0: none).
        cases.sort_by_key(|c| (c.venue, c.index));
        let mut first = vec![0u32; self.city.spots.len()];
        for (i, c) in cases.iter().enumerate().rev() {
            first[c.venue as usize] = i as u32 + 1;
        }
        for (index, s) in scans.iter().enumerate() {
            let start = first[s.venue as usize];
            if start == 0 || s.flags & 3 == PRESENCE_STALE {
                continue;
            }
            let household = self.city.persons[s.person as usize].household;
            let (from, until) = s.seen_interval(self.city);
            let run = cases[start as usize - 1..]
                .iter_mut()
                .take_while(|c| c.venue == s.venue);
            for c in run {
                if c.person == s.person
                    || self.city.persons[c.person as usize].household == household
                {
                    continue;
                }
                let (f, u) = (from.max(c.from), until.min(c.until));
                if u - f < min_overlap {
                    continue;
                }
                // Reservoir sampling keeps `cap` of the candidates, uniformly.
                c.seen += 1;
                if c.chosen.len() < cap {
                    c.chosen.push((index, f, u));
                } else {
                    let j = rng.below(c.seen) as usize;
                    if j < cap {
                        c.chosen[j] = (index, f, u);
                    }
                }
            }
        }
        let mut found = Vec::new();
        for c in cases {
            for (index, f, u) in c.chosen {
                let contact = scans[index].person;
                if !self.met.insert((c.person, contact)) {
                    continue;
                }
                found.push((
                    c.person,
                    index,
                    c.index,
                    VenueContact {
                        venue: c.venue,
                        from: day_start + f,
                        until: day_start + u,
                        scans: [0, 0],
                    },
                ));
                if rng.chance(self.city.config.venue_attack_rate) {
                    let when = day_start + (f + u) / 2;
                    self.infect(contact, when, true, Origin::Local, rng);
                }
            }
        }
        found
    }

    /// Every resident's day: scans and routine tests, split over threads by ranges of
    /// residents (each resident's day has its own random stream, so the split does
    /// not change the result).
    fn move_residents(
        &self,
        ctx: &DayContext<'_>,
        partial: &BTreeMap<u32, Vec<(u32, u32)>>,
        parts: &mut Vec<Part>,
    ) {
        let persons = self.city.persons.len() as u32;
        let threads = match self.threads {
            Some(n) => n.clamp(1, persons),
            None if persons >= 50_000 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().min(8)) as u32
            }
            None => 1,
        };
        parts.resize_with(threads as usize, Default::default);
        let chunk = persons.div_ceil(threads);
        let day = self.day;
        let flags = &self.flags;
        let work = move |index: u32, (scans, tests): &mut Part| {
            scans.clear();
            tests.clear();
            for p in index * chunk..((index + 1) * chunk).min(persons) {
                let flags = flags[p as usize];
                if flags & FULL_BLOCK != 0 {
                    continue;
                }
                let blocks = if flags & PARTIAL_BLOCK != 0 {
                    partial.get(&p).map(Vec::as_slice)
                } else {
                    None
                };
                let mut rng = ctx.city.streams.person_day(day, p);
                let may_test = flags & NO_ROUTINE_TEST == 0;
                if let Some(t) = person_day(ctx, p, &mut rng, blocks, may_test, scans) {
                    tests.push((p, t));
                }
            }
        };
        if threads == 1 {
            work(0, &mut parts[0]);
            return;
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = parts
                .iter_mut()
                .enumerate()
                .map(|(i, part)| scope.spawn(move || work(i as u32, part)))
                .collect();
            for thread in running {
                if let Err(panic) = thread.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }

    fn generate_day(&mut self) -> Day {
        let city = self.city;
        let config = &city.config;
        let day_start = self.day_start();
        let day_end = day_start + DAY;
        let mut rng = city.streams.outbreak(self.day);

        self.entries(&mut rng);
        self.outbreak_tests(&mut rng);
        for action in self.scheduled.remove(&self.day).unwrap_or_default() {
            self.run_action(action, &mut rng);
        }

        let partial = self.plan_persons();
        let threshold = |p: f64| (p * 4_294_967_296.0).min(4_294_967_295.0) as u32;
        let (local, _) = local_day(day_start);
        let ctx = DayContext {
            city,
            weekday: weekday(local),
            exit_threshold: if config.exit_recorded_rate >= 1.0 {
                u32::MAX
            } else {
                threshold(config.exit_recorded_rate)
            },
            static_threshold: threshold(config.stale_rate + config.static_poster_rate),
            stale_threshold: threshold(config.stale_rate),
            test_rate: config.routine_test_rate,
            antigen_share: config.antigen_share,
        };
        let mut parts = std::mem::take(&mut self.parts);
        self.move_residents(&ctx, &partial, &mut parts);
        for (_, tests) in &mut parts {
            for (person, t) in tests.drain(..) {
                let result = day_start + i64::from(t.result);
                self.creation += 1;
                self.new.push(Rec {
                    recorded: result + MIN,
                    effective: result,
                    creation: self.creation,
                    id: 0,
                    handle: NONE,
                    by: Actor::Source(usize::from(t.lab)),
                    body: Body::Test {
                        person,
                        method: t.method,
                        outcome: TestOutcome::Negative,
                        sampled: day_start + i64::from(t.sampled),
                    },
                });
            }
        }
        let mut scans = sort_by_recorded(&parts, &mut self.buffer);
        self.parts = parts;

        let found = self.find_contacts(&scans, &mut rng);

        // Today's other records, in time order.
        let mut records: Vec<Rec> = Vec::new();
        let mut later = Vec::new();
        for r in std::mem::take(&mut self.pending)
            .into_iter()
            .chain(self.new.drain(..))
        {
            if r.recorded < day_end {
                records.push(r);
            } else {
                later.push(r);
            }
        }
        self.pending = later;
        records.sort_by_key(|r| (r.recorded, r.creation));

        // Ids in time order; references resolve to earlier records.
        let mut seq = 0u32;
        let mut next_rec = 0;
        let today = self.day;
        let assign = |r: &mut Rec, seq: u32, handles: &mut Vec<u64>| {
            for reference in r.body.references_mut() {
                if *reference & HANDLE != 0 {
                    let id = handles[(*reference & 0xffff_ffff) as usize];
                    debug_assert!(id & HANDLE != 0, "a record refers to one not yet written");
                    *reference = id & !HANDLE;
                }
            }
            r.id = pack(today, seq);
            if r.handle != NONE {
                // Bit 63 marks "assigned" (a packed id never uses it).
                handles[r.handle as usize] = r.id | HANDLE;
            }
        };
        for s in scans.iter_mut() {
            let at = day_start + i64::from(s.recorded());
            while next_rec < records.len() && records[next_rec].recorded < at {
                assign(&mut records[next_rec], seq, &mut self.handles);
                seq += 1;
                next_rec += 1;
            }
            s.seq = seq;
            seq += 1;
        }
        while next_rec < records.len() {
            assign(&mut records[next_rec], seq, &mut self.handles);
            seq += 1;
            next_rec += 1;
        }
        for (case, contact_scan, case_scan, mut exposure) in found {
            exposure.scans = [
                pack(self.day, scans[contact_scan].seq),
                pack(self.day, scans[case_scan].seq),
            ];
            self.contacts.entry(case).or_default().push(Contact {
                contact: scans[contact_scan].person,
                exposure,
            });
        }

        self.venue_today.fill(0);
        self.stats
            .add_day(city, &scans, &records, &mut self.venue_today);
        Day {
            index: self.day,
            start: day_start,
            scans,
            records,
        }
    }
}

/// Scans and routine tests of a range of residents.
type Part = (Vec<Scan>, Vec<(u32, RoutineTest)>);

/// Radix base: two digits cover every second of a day (294² ≥ 86,401).
const BASE: usize = 294;

/// Sorts the scans of all parts, in order, by the second each is recorded: a stable
/// two-pass radix sort, so ties keep the order of residents.
fn sort_by_recorded(parts: &[Part], tmp: &mut Vec<Scan>) -> Vec<Scan> {
    fn pass<'s>(
        from: impl Iterator<Item = &'s Scan> + Clone,
        to: &mut [Scan],
        digit: impl Fn(u32) -> usize,
    ) {
        let mut counts = [0usize; BASE + 1];
        for s in from.clone() {
            counts[digit(s.recorded()) + 1] += 1;
        }
        for i in 1..=BASE {
            counts[i] += counts[i - 1];
        }
        for s in from {
            let slot = &mut counts[digit(s.recorded())];
            to[*slot] = *s;
            *slot += 1;
        }
    }
    let total: usize = parts.iter().map(|(scans, _)| scans.len()).sum();
    tmp.clear();
    tmp.resize(total, Scan::default());
    pass(parts.iter().flat_map(|(scans, _)| scans.iter()), tmp, |r| {
        r as usize % BASE
    });
    let mut sorted = vec![Scan::default(); total];
    pass(tmp.iter(), &mut sorted, |r| r as usize / BASE);
    sorted
}

impl Iterator for Simulation<'_> {
    type Item = Day;

    fn next(&mut self) -> Option<Day> {
        if self.day >= self.city.config.days {
            return None;
        }
        let day = self.generate_day();
        self.day += 1;
        Some(day)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.city.config.days - self.day) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Simulation<'_> {}
