//! One resident's day: where they scan, when, and for how long.
//!
//! A day is a sequence of stays that never overlap: commuters pass a transport hub,
//! workers and pupils spend most of the day at their workplace or school, and
//! everyone runs errands, eats out and goes out, mostly near home or work and now
//! and then across the city. Stays end before midnight.

use mingma_core::{TestMethod, VenueKind};

use crate::city::{kind_index, City, Person, Role, NONE};
use crate::day::{Scan, BY_PROXY, EXIT_RECORDED, PRESENCE_STALE, PRESENCE_STATIC};
use crate::random::Rand;

const MIN: u32 = 60;
const HOUR: u32 = 3600;
/// No stay starts after this second of the day.
const LATE: u32 = 22 * HOUR + 45 * MIN;
/// Every stay ends by this second (the record's `recorded_at` is one second later).
const END: u32 = 86_398;

const HUB: usize = 0;
const MARKET: usize = 1;
const OFFICE: usize = 2;
const HOSPITAL: usize = 4;
const RESTAURANT: usize = 5;
const RESIDENTIAL: usize = 6;
const OTHER: usize = 7;

/// Typical stay of a visit per venue kind: median and least/most minutes, with a
/// log-normal spread of `SPREAD`.
const VISIT: [(f64, u32, u32); 8] = [
    (12.0, 3, 60),   // transport hub (passing through)
    (30.0, 5, 180),  // market
    (60.0, 15, 240), // office (a visit)
    (60.0, 15, 240), // school (a visit)
    (90.0, 20, 300), // hospital
    (50.0, 15, 150), // restaurant
    (90.0, 20, 300), // residential (visiting)
    (70.0, 15, 240), // other (park, gym, cinema)
];
const SPREAD: f64 = 0.5;

fn visit_stay(kind: usize, rng: &mut Rand) -> u32 {
    let (median, least, most) = VISIT[kind];
    let minutes = median * (SPREAD * rng.normal()).exp();
    ((minutes * 60.0) as u32).clamp(least * MIN, most * MIN)
}

/// A stay around `mean` seconds, give or take `sd`, within bounds.
fn around(rng: &mut Rand, mean: u32, sd: u32, least: u32, most: u32) -> u32 {
    (f64::from(mean) + f64::from(sd) * rng.normal()).clamp(f64::from(least), f64::from(most)) as u32
}

/// A routine test taken during the day.
pub(crate) struct RoutineTest {
    pub sampled: u32,
    pub result: u32,
    pub method: TestMethod,
    pub lab: u8,
}

/// What is the same for everyone on a day.
pub(crate) struct DayContext<'a> {
    pub city: &'a City,
    pub weekday: u32,
    pub exit_threshold: u32,
    pub static_threshold: u32,
    pub stale_threshold: u32,
    pub test_rate: f64,
    pub antigen_share: f64,
}

impl DayContext<'_> {
    fn weekend(&self) -> bool {
        self.weekday >= 5
    }
}

/// The stays of a day being planned.
struct Plan<'a> {
    ctx: &'a DayContext<'a>,
    person: &'a Person,
    p: u32,
    rng: &'a mut Rand,
    t: u32,
    blocks: Option<&'a [(u32, u32)]>,
    out: &'a mut Vec<Scan>,
}

impl Plan<'_> {
    /// Stays at `venue` for `stay` seconds from now, then moves on.
    fn stay(&mut self, venue: u32, stay: u32) {
        if self.t >= LATE || venue == NONE {
            return;
        }
        let enter = self.t;
        let mut left = (enter + stay.max(MIN)).min(END);
        self.t = left;
        if let Some(blocks) = self.blocks {
            // Not while quarantined or away; leave when a quarantine starts.
            if blocks
                .iter()
                .any(|&(from, until)| enter >= from && enter < until)
            {
                return;
            }
            if let Some(&(from, _)) = blocks
                .iter()
                .find(|&&(from, _)| from > enter && from < left)
            {
                left = from;
                if left - enter < 2 * MIN {
                    return;
                }
            }
        }
        let r = self.rng.u64();
        let (a, b) = (r as u32, (r >> 32) as u32);
        let mut flags = if a < self.ctx.stale_threshold {
            PRESENCE_STALE
        } else if a < self.ctx.static_threshold {
            PRESENCE_STATIC
        } else {
            0
        };
        if b < self.ctx.exit_threshold {
            flags |= EXIT_RECORDED;
        }
        if self.person.proxy != NONE && (self.person.age < 12 || b & 1 == 0) {
            flags |= BY_PROXY;
        }
        self.out.push(Scan {
            person: self.p,
            venue,
            enter,
            left,
            seq: 0,
            flags,
        });
    }

    /// A visit of the usual length.
    fn visit(&mut self, kind: usize, venue: u32) {
        let stay = visit_stay(kind, self.rng);
        self.stay(venue, stay);
    }

    /// Travel time between stays.
    fn travel(&mut self, least_min: u32, most_min: u32) {
        self.t += self.rng.between(least_min * MIN, most_min * MIN);
    }

    /// Waits until at least `second` of the day.
    fn until(&mut self, second: u32, jitter_min: u32) {
        let target = second + self.rng.below(jitter_min * MIN + 1);
        self.t = self.t.max(target);
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.chance(p)
    }

    /// A venue near home: in the home street mostly, the district sometimes, now and
    /// then anywhere.
    fn near_home(&mut self, kind: usize) -> u32 {
        self.near(self.person.home, kind, 0.55, 0.35)
    }

    fn near_work(&mut self, kind: usize) -> u32 {
        let street = if self.person.daytime == NONE {
            self.person.home
        } else {
            self.ctx.city.spots[self.person.daytime as usize].street
        };
        self.near(street, kind, 0.6, 0.3)
    }

    fn near(&mut self, street: u16, kind: usize, in_street: f64, in_district: f64) -> u32 {
        let pools = &self.ctx.city.pools;
        let x = self.rng.unit();
        let table = if x < in_street {
            pools.street(street, kind)
        } else if x < in_street + in_district {
            let district = self.ctx.city.geo.street_district[usize::from(street)];
            pools.district(district, kind)
        } else {
            pools.city(kind)
        };
        table.sample(self.rng)
    }

    fn anywhere(&mut self, kind: usize) -> u32 {
        self.ctx.city.pools.city(kind).sample(self.rng)
    }

    /// A working day at a workplace.
    fn work_day(&mut self) {
        let person = self.person;
        self.until(6 * HOUR + 45 * MIN, 90);
        if self.chance(0.35) {
            // Breakfast or a convenience store on the way.
            let v = self.near_home(MARKET);
            let stay = self.rng.between(3 * MIN, 12 * MIN);
            self.stay(v, stay);
            self.travel(2, 10);
        }
        if person.hub_home != NONE {
            self.visit(HUB, person.hub_home);
            self.travel(15, 45);
        } else {
            self.travel(10, 40);
        }
        let shift = around(self.rng, 9 * HOUR, 45 * MIN, 6 * HOUR, 11 * HOUR);
        let lunch_at = 11 * HOUR + 45 * MIN + self.rng.below(45 * MIN);
        if self.chance(0.55) && self.t + HOUR < lunch_at {
            let morning = lunch_at - self.t;
            self.stay(person.daytime, morning);
            self.travel(3, 10);
            let v = self.near_work(RESTAURANT);
            let lunch = self.rng.between(25 * MIN, 55 * MIN);
            self.stay(v, lunch);
            self.travel(3, 10);
            self.stay(
                person.daytime,
                shift.saturating_sub(morning + lunch).max(2 * HOUR),
            );
        } else {
            self.stay(person.daytime, shift);
        }
        if self.chance(0.15) {
            // A meeting at another office.
            self.travel(10, 30);
            let v = self.anywhere(OFFICE);
            self.visit(OFFICE, v);
        }
        if person.hub_work != NONE {
            self.travel(5, 15);
            self.visit(HUB, person.hub_work);
            self.travel(15, 45);
        } else {
            self.travel(10, 40);
        }
        self.evening(0.6, 0.35);
    }

    /// After work or school.
    fn evening(&mut self, market: f64, restaurant: f64) {
        if self.chance(market) {
            let v = self.near_home(MARKET);
            self.visit(MARKET, v);
            self.travel(5, 20);
        }
        if self.chance(restaurant) {
            let v = if self.chance(0.8) {
                self.near_home(RESTAURANT)
            } else {
                self.anywhere(RESTAURANT)
            };
            self.visit(RESTAURANT, v);
            self.travel(5, 30);
        }
        if self.chance(0.3) {
            let v = if self.chance(0.6) {
                self.near_home(OTHER)
            } else {
                self.anywhere(OTHER)
            };
            self.visit(OTHER, v);
            self.travel(5, 30);
        }
        if self.chance(0.04) {
            let v = self.near_home(RESIDENTIAL);
            self.visit(RESIDENTIAL, v);
        }
        if self.chance(0.015) {
            let v = self.near_home(HOSPITAL);
            self.visit(HOSPITAL, v);
        }
    }

    /// A school day.
    fn school_day(&mut self) {
        let person = self.person;
        let university = person.role == Role::University;
        self.until(7 * HOUR, if university { 90 } else { 40 });
        if university && person.hub_home != NONE {
            self.visit(HUB, person.hub_home);
            self.travel(15, 45);
        } else {
            self.travel(10, 30);
        }
        let stay = match person.role {
            Role::Kindergarten => around(self.rng, 8 * HOUR, 20 * MIN, 6 * HOUR, 10 * HOUR),
            Role::University => around(self.rng, 9 * HOUR, 90 * MIN, 4 * HOUR, 13 * HOUR),
            _ => around(self.rng, 8 * HOUR + 30 * MIN, 30 * MIN, 6 * HOUR, 11 * HOUR),
        };
        self.stay(person.daytime, stay);
        self.travel(5, 30);
        if university {
            if person.hub_work != NONE && self.chance(0.5) {
                self.visit(HUB, person.hub_work);
                self.travel(10, 40);
            }
            if self.chance(0.5) {
                let v = self.near_work(RESTAURANT);
                self.visit(RESTAURANT, v);
                self.travel(5, 20);
            }
            self.evening(0.35, 0.1);
        } else {
            self.evening(0.45, 0.2);
        }
    }

    /// A day without work or school.
    fn free_day(&mut self, scale: f64) {
        let weekend = self.ctx.weekend();
        let retired = self.person.role == Role::Retired;
        self.until(7 * HOUR + 30 * MIN, 120);
        if self.chance(0.85 * scale) {
            let v = self.near_home(MARKET);
            self.visit(MARKET, v);
            self.travel(5, 20);
        }
        if self.chance(0.55 * scale) {
            let v = if self.chance(0.75) {
                self.near_home(OTHER)
            } else {
                self.anywhere(OTHER)
            };
            self.visit(OTHER, v);
            self.travel(5, 30);
        }
        if self.chance(if retired { 0.06 } else { 0.02 } * scale) {
            let v = self.near_home(HOSPITAL);
            self.visit(HOSPITAL, v);
            self.travel(10, 30);
        }
        self.until(11 * HOUR + 15 * MIN, 60);
        if self.chance(if weekend { 0.55 } else { 0.45 } * scale) {
            let v = if self.chance(0.75) {
                self.near_home(RESTAURANT)
            } else {
                self.anywhere(RESTAURANT)
            };
            self.visit(RESTAURANT, v);
        }
        self.travel(30, 150);
        if self.chance(if weekend { 0.2 } else { 0.08 } * scale) {
            // A trip across the city.
            let v = self.anywhere(HUB);
            let stay = self.rng.between(15 * MIN, 70 * MIN);
            self.stay(v, stay);
            self.travel(20, 50);
            let kind = if self.chance(0.5) { OTHER } else { MARKET };
            let v = self.anywhere(kind);
            self.visit(kind, v);
            self.travel(20, 50);
        }
        if self.chance(0.6 * scale) {
            let v = self.near_home(MARKET);
            self.visit(MARKET, v);
            self.travel(5, 30);
        }
        if self.chance(0.4 * scale) {
            let v = if self.chance(0.5) {
                self.near_home(OTHER)
            } else {
                self.anywhere(OTHER)
            };
            self.visit(OTHER, v);
            self.travel(5, 30);
        }
        if self.chance(0.12 * scale) {
            let v = self.near_home(RESIDENTIAL);
            self.visit(RESIDENTIAL, v);
            self.travel(5, 30);
        }
        self.until(17 * HOUR + 30 * MIN, 90);
        if self.chance(if weekend { 0.4 } else { 0.25 } * scale) {
            let v = self.near_home(RESTAURANT);
            self.visit(RESTAURANT, v);
            self.travel(5, 20);
        }
        if self.chance(0.3 * scale) {
            let v = self.near_home(MARKET);
            self.visit(MARKET, v);
        }
    }
}

/// Generates one resident's scans for the day, and their routine test if they take
/// one. `blocks` are the parts of the day they are away or quarantined.
pub(crate) fn person_day(
    ctx: &DayContext<'_>,
    p: u32,
    rng: &mut Rand,
    blocks: Option<&[(u32, u32)]>,
    may_test: bool,
    out: &mut Vec<Scan>,
) -> Option<RoutineTest> {
    let person = &ctx.city.persons[p as usize];
    let school_day = !ctx.weekend();
    let workplace_kind =
        (person.daytime != NONE).then(|| kind_index(ctx.city.spots[person.daytime as usize].kind));
    let mut plan = Plan {
        ctx,
        person,
        p,
        rng,
        t: 0,
        blocks,
        out,
    };
    match person.role {
        Role::Worker => {
            let office_hours = matches!(workplace_kind, Some(k) if k == OFFICE || k == kind_index(VenueKind::School));
            let works = if office_hours {
                school_day
            } else {
                u32::from(person.off_day) != ctx.weekday
            };
            if works {
                plan.work_day();
            } else {
                plan.free_day(1.0);
            }
        }
        Role::Kindergarten | Role::Pupil | Role::Secondary | Role::University => {
            if school_day {
                plan.school_day();
            } else {
                plan.free_day(1.0);
            }
        }
        Role::Infant => plan.free_day(0.45),
        Role::AtHome | Role::Retired => plan.free_day(1.0),
    }
    let rng = plan.rng;
    if may_test && rng.chance(ctx.test_rate) {
        let sampled = rng.between(7 * HOUR, 21 * HOUR);
        let (method, delay) = if rng.chance(ctx.antigen_share) {
            (TestMethod::Antigen, rng.between(15 * MIN, 30 * MIN))
        } else {
            (TestMethod::NucleicAcid, rng.between(4 * HOUR, 14 * HOUR))
        };
        return Some(RoutineTest {
            sampled,
            result: sampled + delay,
            method,
            lab: rng.below(crate::city::LABS as u32) as u8,
        });
    }
    None
}
