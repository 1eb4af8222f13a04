//! The synthetic city: residents, households, venues and the registry.

use std::collections::HashSet;

use ed25519_dalek::SigningKey;
use mingma_authority::{Founding, FoundingError, Grant, SignedAct};
use mingma_core::{
    Authority, AuthorityId, DataSource, DataSourceId, Directory, Evidence, Jurisdiction,
    NationalId, Official, OfficialId, PersonKey, PseudonymKey, RuleSet, SourceKind, Timestamp,
    Venue, VenueId, VenueKind,
};

use crate::clock::{civil_from_days, local_day, DAY};
use crate::config::CityConfig;
use crate::geo::{street_stem, venue_suffixes, Geography, ORIGINS};
use crate::random::{Alias, Rand, Streams};
use crate::sim::Simulation;

/// "No such person or venue" in compact fields.
pub(crate) const NONE: u32 = u32::MAX;

/// Number of venue kinds (the core's [`VenueKind::ALL`]).
pub(crate) const KINDS: usize = 8;

/// The index of a venue kind in [`VenueKind::ALL`].
pub(crate) fn kind_index(kind: VenueKind) -> usize {
    match kind {
        VenueKind::TransportHub => 0,
        VenueKind::Market => 1,
        VenueKind::Office => 2,
        VenueKind::School => 3,
        VenueKind::Hospital => 4,
        VenueKind::Restaurant => 5,
        VenueKind::Residential => 6,
        VenueKind::Other => 7,
    }
}

/// What a resident does on a working day, which follows from their age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Aged 0-2: out with the family now and then (a household adult scans for them).
    Infant,
    /// Aged 3-5: kindergarten (a household adult scans for them).
    Kindergarten,
    /// Aged 6-11: primary school (a household adult scans for them).
    Pupil,
    /// Aged 12-17: secondary school.
    Secondary,
    /// A university student (a campus anywhere in the city).
    University,
    /// Goes to a workplace (mostly offices, concentrated in central districts).
    Worker,
    /// A working-age adult without a workplace.
    AtHome,
    /// Retired.
    Retired,
}

/// One resident, compactly.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// The ID number's 18 characters.
    pub id: [u8; 18],
    /// Home street (index into the geography's streets).
    pub home: u16,
    pub age: u8,
    pub role: Role,
    pub household_size: u8,
    /// Day of the week (Monday = 0) a service worker has off.
    pub off_day: u8,
    /// First member of the household.
    pub household: u32,
    /// Workplace or school venue, or [`NONE`].
    pub daytime: u32,
    /// The transport hub a commuter uses near home and near work, or [`NONE`].
    pub hub_home: u32,
    pub hub_work: u32,
    /// The household member who scans for this person, or [`NONE`].
    pub proxy: u32,
}

/// A venue, compactly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spot {
    pub street: u16,
    pub kind: VenueKind,
}

/// A resident coming back from abroad.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Traveller {
    pub person: u32,
    /// Entry time (unix seconds).
    pub entry: i64,
    pub origin: u8,
    pub infected: bool,
}

/// Weighted venue choices per (scope, kind): a street, a district, the whole city.
#[derive(Debug, Clone)]
pub(crate) struct Pools {
    tables: Vec<Alias>,
    index: Vec<u32>,
    streets: usize,
    districts: usize,
}

impl Pools {
    fn new(geo: &Geography, spots: &[Spot], weights: &[f64]) -> Self {
        let streets = geo.streets.len();
        let districts = geo.districts.len();
        let scopes = streets + districts + 1;
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); scopes * KINDS];
        for (v, spot) in spots.iter().enumerate() {
            let k = kind_index(spot.kind);
            let street = usize::from(spot.street);
            let district = streets + usize::from(geo.street_district[street]);
            for scope in [street, district, streets + districts] {
                members[scope * KINDS + k].push(v as u32);
            }
        }
        let mut tables = Vec::new();
        let mut index = vec![NONE; scopes * KINDS];
        // The city first, so that districts and streets can fall back on it.
        for scope in (0..scopes).rev() {
            for k in 0..KINDS {
                let slot = scope * KINDS + k;
                let items = std::mem::take(&mut members[slot]);
                if items.is_empty() {
                    let fallback = if scope < streets {
                        streets + usize::from(geo.street_district[scope])
                    } else {
                        streets + districts
                    };
                    index[slot] = index[fallback * KINDS + k];
                } else {
                    let w: Vec<f64> = items.iter().map(|&v| weights[v as usize]).collect();
                    index[slot] = tables.len() as u32;
                    tables.push(Alias::new(items, &w));
                }
            }
        }
        Self {
            tables,
            index,
            streets,
            districts,
        }
    }

    fn table(&self, scope: usize, kind: usize) -> &Alias {
        &self.tables[self.index[scope * KINDS + kind] as usize]
    }

    /// A venue of `kind` in `street` (or its district, if the street has none).
    #[inline]
    pub(crate) fn street(&self, street: u16, kind: usize) -> &Alias {
        self.table(usize::from(street), kind)
    }

    /// A venue of `kind` in district number `district`.
    #[inline]
    pub(crate) fn district(&self, district: u16, kind: usize) -> &Alias {
        self.table(self.streets + usize::from(district), kind)
    }

    /// A venue of `kind` anywhere in the city.
    #[inline]
    pub(crate) fn city(&self, kind: usize) -> &Alias {
        self.table(self.streets + self.districts, kind)
    }
}

/// Indices into the registry for the records the simulation writes.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    pub directory: Directory,
    /// `[province health commission, city health commission, city CDC, customs]`.
    pub authorities: Vec<AuthorityId>,
    /// Two per authority: official `2a` and `2a + 1` act for authority `a`.
    pub officials: Vec<(OfficialId, usize)>,
    /// Labs first, then the customs post, then the case-reporting unit.
    pub sources: Vec<(DataSourceId, usize)>,
    /// The port of entry the customs post serves.
    pub port: String,
    /// Centralised quarantine facilities.
    pub facilities: Vec<String>,
    /// The signing key of each official, in the order of `officials`.
    pub official_keys: Vec<SigningKey>,
    /// The signing key of each data source, in the order of `sources`.
    pub source_keys: Vec<SigningKey>,
    /// The acts that register all of them, with every key.
    pub founding: Founding,
}

/// Domain of the simulated keys ([`mingma_authority::derived_key`]).
const KEY_DOMAIN: &str = "mingma-sim/key/v1";

/// Authority numbers in [`Registry::authorities`].
pub(crate) const PROVINCE_HC: usize = 0;
pub(crate) const CITY_HC: usize = 1;
pub(crate) const CITY_CDC: usize = 2;
/// Number of labs; the customs post and the case-reporting unit follow them.
pub(crate) const LABS: usize = 3;
pub(crate) const CUSTOMS_SOURCE: usize = LABS;
pub(crate) const CASE_SOURCE: usize = LABS + 1;

/// A resident, as seen from outside the simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// The resident's ID number.
    pub id: NationalId,
    /// Age in whole years on the first simulated day.
    pub age: u8,
    /// What they do on a working day.
    pub role: Role,
    /// Home street.
    pub home: Jurisdiction,
    /// Street of their workplace or school, if they have one.
    pub work: Option<Jurisdiction>,
    /// The number of the first member of their household (members are numbered
    /// consecutively).
    pub household: u32,
    /// Number of members of their household.
    pub household_size: u8,
}

/// The pseudonymous keys of every resident under one [`PseudonymKey`], computed once
/// (an HMAC per resident) to turn the simulation's compact records into [`mingma_core::Evidence`].
#[derive(Debug, Clone)]
pub struct PersonKeys(pub(crate) Vec<PersonKey>);

impl PersonKeys {
    /// The key of resident number `person`.
    pub fn get(&self, person: u32) -> PersonKey {
        self.0[person as usize]
    }
}

/// A generated city: residents, venues and the registry, ready to be simulated
/// day by day with [`City::days`].
#[derive(Debug, Clone)]
pub struct City {
    pub(crate) config: CityConfig,
    pub(crate) streams: Streams,
    pub(crate) geo: Geography,
    pub(crate) persons: Vec<Person>,
    pub(crate) spots: Vec<Spot>,
    pub(crate) venue_ids: Vec<VenueId>,
    pub(crate) pools: Pools,
    /// Workplace choice per venue kind, city-wide, weighted by size and centrality.
    pub(crate) work_pools: Vec<Alias>,
    pub(crate) registry: Registry,
    pub(crate) travellers: Vec<Traveller>,
    /// Index cases with their infection time.
    pub(crate) index_cases: Vec<(u32, i64)>,
    /// The default rule set's assumed stay per venue kind, in seconds.
    pub(crate) dwell: [i64; KINDS],
}

impl City {
    /// Generates the city the configuration describes: the same configuration gives
    /// the same city.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`CityConfig::validate`]).
    pub fn generate(config: &CityConfig) -> City {
        if let Err(e) = config.validate() {
            panic!("invalid city configuration: {e}");
        }
        let streams = Streams::new(config.seed);
        let geo = Geography::new(config.city, &mut streams.city(0));
        let (spots, weights) = place_venues(config, &geo, &mut streams.city(1));
        let pools = Pools::new(&geo, &spots, &weights);
        let work_pools = work_pools(&geo, &spots, &weights);
        let registry = registry(config, &geo, &spots);
        let venue_ids = registry.directory.venues.keys().cloned().collect();
        let rules = RuleSet::default_rules()
            .unwrap_or_else(|e| panic!("the core's default rule set must parse: {e}"));
        let mut dwell = [0i64; KINDS];
        for kind in VenueKind::ALL {
            dwell[kind_index(*kind)] = rules.dwell.of(*kind).seconds();
        }
        let mut city = City {
            config: config.clone(),
            streams,
            geo,
            persons: Vec::new(),
            spots,
            venue_ids,
            pools,
            work_pools,
            registry,
            travellers: Vec::new(),
            index_cases: Vec::new(),
            dwell,
        };
        city.persons = populate(&city, &mut city.streams.city(2));
        city.plan_events(&mut city.streams.city(3));
        city
    }

    /// The configuration the city was generated from.
    pub fn config(&self) -> &CityConfig {
        &self.config
    }

    /// Who registers the city's authorities, officials and data sources, with every
    /// simulated key: each derived from the seed and the holder's id, so the same
    /// seed gives the same keys (and anyone who knows the seed holds them).
    pub fn founding(&self) -> &Founding {
        &self.registry.founding
    }

    /// The authority acts that register the city's authorities, officials (with
    /// their keys and roles) and data sources, in the order they must be appended,
    /// the first at leaf `first_leaf`: a simulated province admin's bootstrap, a
    /// second admin, every authority, every official (a health official in their
    /// authority's jurisdiction; the CDC's officials, who trace contacts, a tracing
    /// team), and every data source, proposed by the first admin and confirmed by the
    /// second. They are dated from a day before the simulated start, so every key
    /// is valid for every record the city makes. Append them before its records.
    pub fn authority_acts(&self, first_leaf: u64) -> Result<Vec<SignedAct>, FoundingError> {
        self.registry.founding.acts(first_leaf)
    }

    /// `record` sealed by its recorder's simulated key (unchanged if the recorder is
    /// a holder, a proxy or not of this city). Every official and source record the
    /// simulation makes is sealed already; this is for records made beside it.
    pub fn seal(&self, record: Evidence) -> Evidence {
        self.registry.founding.seal(record)
    }

    /// The registry: authorities, officials, data sources and venues.
    pub fn directory(&self) -> &Directory {
        &self.registry.directory
    }

    /// Number of residents.
    pub fn person_count(&self) -> u32 {
        self.persons.len() as u32
    }

    /// Number of venues.
    pub fn venue_count(&self) -> u32 {
        self.spots.len() as u32
    }

    /// Resident number `person` (0-based).
    ///
    /// # Panics
    /// If there is no such resident.
    pub fn resident(&self, person: u32) -> Resident {
        let p = &self.persons[person as usize];
        Resident {
            id: self.national_id(person),
            age: p.age,
            role: p.role,
            home: self.geo.streets[usize::from(p.home)],
            work: (p.daytime != NONE)
                .then(|| self.geo.streets[usize::from(self.spots[p.daytime as usize].street)]),
            household: p.household,
            household_size: p.household_size,
        }
    }

    /// The ID number of resident number `person`.
    ///
    /// # Panics
    /// If there is no such resident.
    pub fn national_id(&self, person: u32) -> NationalId {
        let text = std::str::from_utf8(&self.persons[person as usize].id)
            .unwrap_or_else(|_| unreachable!("ID numbers are ASCII"));
        NationalId::parse(text).unwrap_or_else(|e| unreachable!("generated IDs are valid: {e}"))
    }

    /// The id of venue number `venue`, as in the registry.
    pub fn venue_id(&self, venue: u32) -> &VenueId {
        &self.venue_ids[venue as usize]
    }

    /// The kind of venue number `venue`.
    pub fn venue_kind(&self, venue: u32) -> VenueKind {
        self.spots[venue as usize].kind
    }

    /// Every resident's pseudonymous key under `key` (one HMAC each; about a second
    /// per million residents).
    pub fn person_keys(&self, key: &PseudonymKey) -> PersonKeys {
        PersonKeys(
            (0..self.person_count())
                .map(|p| key.person_key(&self.national_id(p)))
                .collect(),
        )
    }

    /// The day-by-day simulation: an iterator of [`crate::Day`]s, each generated when
    /// asked for, in time order.
    pub fn days(&self) -> Simulation<'_> {
        Simulation::new(self)
    }

    /// Chooses the inbound travellers and the index cases.
    fn plan_events(&mut self, rng: &mut Rand) {
        let config = &self.config;
        let n = self.persons.len() as u32;
        let start = config.start.unix_seconds();
        let mut taken = vec![false; n as usize];
        let lambda = f64::from(n) * config.inbound_per_100k_per_day / 100_000.0;
        for day in 0..config.days {
            for _ in 0..rng.poisson(lambda) {
                // An adult, not yet chosen; give up after a few tries in tiny cities.
                for _ in 0..20 {
                    let p = rng.below(n);
                    let person = &self.persons[p as usize];
                    if taken[p as usize] || !(18..=75).contains(&person.age) {
                        continue;
                    }
                    taken[p as usize] = true;
                    self.travellers.push(Traveller {
                        person: p,
                        entry: start
                            + i64::from(day) * DAY
                            + i64::from(rng.between(6 * 3600, 23 * 3600)),
                        origin: rng.below(ORIGINS.len() as u32) as u8,
                        infected: rng.chance(config.imported_infection_rate),
                    });
                    break;
                }
            }
        }
        self.travellers.sort_by_key(|t| (t.entry, t.person));
        if config.outbreak_day < config.days {
            let outbreak = start + i64::from(config.outbreak_day) * DAY;
            let mut tries = 0;
            while (self.index_cases.len() as u32) < config.index_cases && tries < 100_000 {
                tries += 1;
                let p = rng.below(n);
                if taken[p as usize] || self.persons[p as usize].role != Role::Worker {
                    continue;
                }
                taken[p as usize] = true;
                // Infected three to three and a half days before the outbreak day, so
                // that the fever-clinic test that morning finds them.
                let infected = outbreak - 3 * DAY - i64::from(rng.below(12 * 3600));
                self.index_cases.push((p, infected));
            }
        }
    }
}

/// Share of venues of each kind (in [`VenueKind::ALL`] order) and the steepness of
/// their size distribution (Zipf exponent): a few hubs carry most hub traffic.
const VENUE_MIX: [(f64, f64); KINDS] = [
    (0.02, 1.1), // transport hub
    (0.12, 0.8), // market
    (0.24, 0.9), // office
    (0.07, 0.6), // school
    (0.03, 1.0), // hospital
    (0.30, 0.6), // restaurant
    (0.12, 0.5), // residential
    (0.10, 0.8), // other
];

/// Places venues in streets: offices and hubs where the jobs are, the rest where
/// people live. Returns each venue's place and size weight.
fn place_venues(config: &CityConfig, geo: &Geography, rng: &mut Rand) -> (Vec<Spot>, Vec<f64>) {
    let total = (config.persons / config.persons_per_venue).max(40) as f64;
    let home = Alias::new((0..geo.streets.len() as u32).collect(), &geo.street_home);
    let work = Alias::new((0..geo.streets.len() as u32).collect(), &geo.street_work);
    let mixed: Vec<f64> = geo
        .street_home
        .iter()
        .zip(&geo.street_work)
        .map(|(h, w)| h + w)
        .collect();
    let mixed = Alias::new((0..geo.streets.len() as u32).collect(), &mixed);
    let mut spots = Vec::new();
    let mut weights = Vec::new();
    for (k, kind) in VenueKind::ALL.iter().enumerate() {
        let (share, exponent) = VENUE_MIX[k];
        let least = if *kind == VenueKind::TransportHub {
            3
        } else {
            2
        };
        let count = ((total * share).round() as usize).max(least);
        // Ranks in random order: size = 1 / rank^exponent.
        let mut ranks: Vec<usize> = (1..=count).collect();
        for i in (1..count).rev() {
            ranks.swap(i, rng.below(i as u32 + 1) as usize);
        }
        for rank in ranks {
            let table = match kind {
                VenueKind::Office | VenueKind::TransportHub => &work,
                VenueKind::Hospital | VenueKind::Restaurant => &mixed,
                _ => &home,
            };
            spots.push(Spot {
                street: table.sample(rng) as u16,
                kind: *kind,
            });
            weights.push((rank as f64).powf(-exponent) * (0.8 + 0.4 * rng.unit()));
        }
    }
    (spots, weights)
}

/// Workplace kinds and their shares of jobs.
const JOBS: [(VenueKind, f64); 7] = [
    (VenueKind::Office, 0.55),
    (VenueKind::Market, 0.12),
    (VenueKind::Restaurant, 0.12),
    (VenueKind::Other, 0.08),
    (VenueKind::Hospital, 0.05),
    (VenueKind::School, 0.05),
    (VenueKind::TransportHub, 0.03),
];

fn work_pools(geo: &Geography, spots: &[Spot], weights: &[f64]) -> Vec<Alias> {
    // Per street: jobs relative to residents, so that central districts draw workers.
    (0..KINDS)
        .map(|k| {
            let items: Vec<u32> = (0..spots.len() as u32)
                .filter(|&v| kind_index(spots[v as usize].kind) == k)
                .collect();
            let w: Vec<f64> = items
                .iter()
                .map(|&v| {
                    let s = usize::from(spots[v as usize].street);
                    weights[v as usize] * (0.5 + geo.street_work[s] / geo.street_home[s].max(1e-9))
                })
                .collect();
            Alias::new(items, &w)
        })
        .collect()
}

/// Household sizes and their shares.
const HOUSEHOLDS: [f64; 5] = [0.25, 0.30, 0.25, 0.13, 0.07];

/// The ages of a household's members.
fn household_ages(size: usize, rng: &mut Rand) -> Vec<u8> {
    let adult = |rng: &mut Rand, lo: u32, hi: u32| rng.between(lo, hi) as u8;
    let near = |rng: &mut Rand, age: u8| {
        (i32::from(age) + rng.between(0, 8) as i32 - 4).clamp(20, 95) as u8
    };
    let mut ages = Vec::with_capacity(size);
    match size {
        1 => ages.push(adult(rng, 19, 88)),
        2 => {
            let head = adult(rng, 22, 85);
            ages.push(head);
            if head < 50 || rng.chance(0.8) {
                ages.push(near(rng, head));
            } else {
                ages.push((head - rng.between(22, 32) as u8).max(18));
            }
        }
        _ => {
            let head = adult(rng, 26, 52);
            ages.push(head);
            ages.push(near(rng, head));
            let mut children = size - 2;
            if size >= 4 && rng.chance(0.5) {
                // A grandparent (or two) lives with them.
                let grandparents = if size >= 5 { 2 } else { 1 };
                for _ in 0..grandparents {
                    ages.push((head + rng.between(24, 32) as u8).min(99));
                }
                children -= grandparents;
            }
            for _ in 0..children {
                let age = i32::from(head) - rng.between(22, 36) as i32;
                ages.push(age.clamp(0, 30) as u8);
            }
        }
    }
    ages
}

fn role_of(age: u8, rng: &mut Rand) -> Role {
    match age {
        0..=2 => Role::Infant,
        3..=5 => Role::Kindergarten,
        6..=11 => Role::Pupil,
        12..=17 => Role::Secondary,
        18..=22 => match rng.weighted(&[0.55, 0.35, 0.10]) {
            0 => Role::University,
            1 => Role::Worker,
            _ => Role::AtHome,
        },
        23..=59 => {
            if rng.chance(0.82) {
                Role::Worker
            } else {
                Role::AtHome
            }
        }
        60..=64 => {
            if rng.chance(0.3) {
                Role::Worker
            } else {
                Role::Retired
            }
        }
        _ => Role::Retired,
    }
}

const CHECK_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// An ID number from its address code, birth date and sequence (GB 11643, with the
/// ISO 7064 MOD 11-2 check character).
fn id_number(address: u32, (year, month, day): (i64, u32, u32), sequence: u32) -> [u8; 18] {
    let text = format!("{address:06}{year:04}{month:02}{day:02}{sequence:03}");
    let mut id = [0u8; 18];
    id[..17].copy_from_slice(text.as_bytes());
    let sum: u32 = id[..17]
        .iter()
        .zip(CHECK_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    id[17] = CHECK_CHARS[(sum % 11) as usize];
    id
}

/// Generates the residents, household by household.
fn populate(city: &City, rng: &mut Rand) -> Vec<Person> {
    let config = &city.config;
    let geo = &city.geo;
    let n = config.persons as usize;
    let homes = Alias::new((0..geo.streets.len() as u32).collect(), &geo.street_home);
    let birth_city = Alias::new(
        geo.birth_city.iter().map(|(c, _)| *c).collect(),
        &geo.birth_city.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
    );
    let job_weights: Vec<f64> = JOBS.iter().map(|(_, w)| *w).collect();
    let (today, _) = local_day(config.start.unix_seconds());
    let mut used: HashSet<u64> = HashSet::with_capacity(n);
    let mut persons: Vec<Person> = Vec::with_capacity(n);
    while persons.len() < n {
        let size = (rng.weighted(&HOUSEHOLDS) + 1).min(n - persons.len());
        let ages = household_ages(size, rng);
        let household = persons.len() as u32;
        let home = homes.sample(rng) as u16;
        let district = geo.street_district[usize::from(home)];
        for (member, &age) in ages.iter().enumerate() {
            let role = role_of(age, rng);
            // Born in the city mostly, elsewhere in the province otherwise.
            let address = if geo.birth_province.is_empty() || rng.chance(0.7) {
                birth_city.sample(rng)
            } else {
                geo.birth_province[rng.below(geo.birth_province.len() as u32) as usize]
            };
            let birth_day =
                today - (f64::from(age) * 365.2425) as i64 - i64::from(rng.below(365)) - 1;
            let date = civil_from_days(birth_day);
            // The 17th digit is odd for men, even for women; couples differ.
            let male = if member == 1 {
                persons
                    .last()
                    .is_some_and(|p: &Person| (p.id[16] - b'0').is_multiple_of(2))
            } else {
                rng.chance(0.5)
            };
            let id = loop {
                let mut sequence = rng.below(1000);
                if (sequence % 2 == 1) != male {
                    sequence ^= 1;
                }
                let id = id_number(address, date, sequence);
                let number = std::str::from_utf8(&id[..17])
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or(0);
                if used.insert(number) {
                    break id;
                }
            };
            let daytime = match role {
                Role::Kindergarten | Role::Pupil | Role::Secondary => {
                    let k = kind_index(VenueKind::School);
                    if rng.chance(0.7) {
                        city.pools.street(home, k).sample(rng)
                    } else {
                        city.pools.district(district, k).sample(rng)
                    }
                }
                Role::University => city.pools.city(kind_index(VenueKind::School)).sample(rng),
                Role::Worker => {
                    let k = kind_index(JOBS[rng.weighted(&job_weights)].0);
                    if rng.chance(0.35) {
                        city.pools.district(district, k).sample(rng)
                    } else {
                        city.work_pools[k].sample(rng)
                    }
                }
                _ => NONE,
            };
            let (mut hub_home, mut hub_work) = (NONE, NONE);
            if matches!(role, Role::Worker | Role::University) {
                let work_street = city.spots[daytime as usize].street;
                let p = if work_street == home { 0.1 } else { 0.45 };
                if rng.chance(p) {
                    // The station in the street, or in the district, or one of the
                    // big interchanges (the city-wide choice favours the largest).
                    let hub = kind_index(VenueKind::TransportHub);
                    let near = |street: u16, rng: &mut Rand| {
                        let x = rng.unit();
                        let district = geo.street_district[usize::from(street)];
                        if x < 0.5 {
                            city.pools.street(street, hub).sample(rng)
                        } else if x < 0.8 {
                            city.pools.district(district, hub).sample(rng)
                        } else {
                            city.pools.city(hub).sample(rng)
                        }
                    };
                    hub_home = near(home, rng);
                    hub_work = near(work_street, rng);
                }
            }
            persons.push(Person {
                id,
                home,
                age,
                role,
                household_size: size as u8,
                off_day: rng.below(7) as u8,
                household,
                daytime,
                hub_home,
                hub_work,
                proxy: NONE,
            });
        }
        // Children and the very old are scanned for by a working-age member.
        let members = household as usize..persons.len();
        let carer = members
            .clone()
            .find(|&m| (20..=60).contains(&persons[m].age))
            .map_or(NONE, |m| m as u32);
        for m in members {
            let age = persons[m].age;
            if !(12..75).contains(&age) && carer != NONE {
                persons[m].proxy = carer;
            }
        }
    }
    persons
}

/// The registry: the province's and the city's authorities with two officials each,
/// labs, a customs post, a case-reporting unit, and the venues.
fn registry(config: &CityConfig, geo: &Geography, spots: &[Spot]) -> Registry {
    let city = config.city;
    let province = city.parent().unwrap_or(city);
    let zhengzhou = city.to_string() == "4101";
    let city_name = city.name();
    let id = |text: String| AuthorityId::parse(&text).unwrap_or_else(|e| unreachable!("{e}"));
    let authorities = vec![
        id(format!("hc-{province}")),
        id(format!("hc-{city}")),
        id(format!("cdc-{city}")),
        id(format!("customs-{city}")),
    ];
    let mut directory = Directory::default();
    let entries: [(String, Option<&str>, Jurisdiction); 4] = [
        (
            format!("{}卫生健康委员会", province.name()),
            (province.to_string() == "41").then_some("Henan Provincial Health Commission"),
            province,
        ),
        (
            format!("{city_name}卫生健康委员会"),
            zhengzhou.then_some("Zhengzhou Municipal Health Commission"),
            city,
        ),
        (
            format!("{city_name}疾病预防控制中心"),
            zhengzhou.then_some("Zhengzhou CDC"),
            city,
        ),
        (
            format!("{}海关", city_name.trim_end_matches('市')),
            zhengzhou.then_some("Zhengzhou Customs"),
            city,
        ),
    ];
    for (a, (name, name_en, jurisdiction)) in authorities.iter().zip(entries) {
        directory.authorities.insert(
            a.clone(),
            Authority {
                id: a.clone(),
                name,
                name_en: name_en.map(str::to_owned),
                jurisdiction,
                contact: Some("12345".to_owned()),
            },
        );
    }
    let mut officials = Vec::new();
    for (a, authority) in authorities.iter().enumerate() {
        for n in 1..=2 {
            let id = OfficialId::parse(&format!("off-{authority}-{n}"))
                .unwrap_or_else(|e| unreachable!("{e}"));
            directory.officials.insert(
                id.clone(),
                Official {
                    id: id.clone(),
                    authority: authority.clone(),
                },
            );
            officials.push((id, a));
        }
    }
    let short = city_name.trim_end_matches('市');
    let port = if zhengzhou {
        "郑州新郑国际机场".to_owned()
    } else {
        format!("{short}国际机场")
    };
    let mut source_entries: Vec<(String, SourceKind, usize, String)> = ["一", "二", "三"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("lab-{city}-{}", i + 1),
                SourceKind::Lab,
                CITY_CDC,
                format!("{city_name}第{n}核酸检测基地"),
            )
        })
        .collect();
    source_entries.push((
        format!("customs-port-{city}"),
        SourceKind::Customs,
        3,
        format!("{port}海关"),
    ));
    source_entries.push((
        format!("cdc-report-{city}"),
        SourceKind::CaseReporting,
        CITY_CDC,
        format!("{city_name}传染病网络直报"),
    ));
    let mut sources = Vec::new();
    for (id, kind, authority, name) in source_entries {
        let id = DataSourceId::parse(&id).unwrap_or_else(|e| unreachable!("{e}"));
        directory.sources.insert(
            id.clone(),
            DataSource {
                id: id.clone(),
                kind,
                authority: authorities[authority].clone(),
                name,
            },
        );
        sources.push((id, authority));
    }
    let width = spots.len().to_string().len().max(6);
    let mut names: HashSet<String> = HashSet::new();
    for (v, spot) in spots.iter().enumerate() {
        let street = geo.streets[usize::from(spot.street)];
        let stem = street_stem(street.name());
        let suffixes = venue_suffixes(spot.kind);
        let suffix = suffixes[v % suffixes.len()];
        let mut name = format!("{stem}{suffix}");
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{stem}第{n}{suffix}");
            n += 1;
        }
        let id = VenueId::parse(&format!("v-{v:0width$}")).unwrap_or_else(|e| unreachable!("{e}"));
        directory.venues.insert(
            id.clone(),
            Venue {
                id,
                name,
                street,
                kind: spot.kind,
            },
        );
    }
    // Acts a day before the first simulated day: keys count from the act that
    // registers them.
    let acts_at = Timestamp::clamped_unix_seconds(config.start.unix_seconds() - DAY);
    let mut founding = Founding::derived(
        &directory,
        &authorities[PROVINCE_HC],
        KEY_DOMAIN,
        config.seed,
        acts_at,
    );
    for (id, a) in &officials {
        if *a == CITY_CDC {
            // The CDC's officials designate close contacts and approve each other's
            // designations: a tracing team.
            founding.grants.insert(
                id.clone(),
                vec![Grant {
                    role: mingma_authority::Role::TracingTeam,
                    jurisdiction: city,
                }],
            );
        }
    }
    let key = |official: &OfficialId| {
        founding
            .signers
            .official(official)
            .cloned()
            .unwrap_or_else(|| unreachable!("every official has a derived key"))
    };
    let official_keys = officials.iter().map(|(id, _)| key(id)).collect();
    let source_keys = sources
        .iter()
        .map(|(id, _)| {
            founding
                .signers
                .source(id)
                .cloned()
                .unwrap_or_else(|| unreachable!("every source has a derived key"))
        })
        .collect();
    Registry {
        directory,
        authorities,
        officials,
        sources,
        port,
        facilities: (1..=5)
            .map(|n| format!("{short}市第{n}集中隔离点"))
            .collect(),
        official_keys,
        source_keys,
        founding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_carry_a_valid_check_character() {
        // GB 11643-1999, annex A: 11010519491231002X.
        let id = id_number(110105, (1949, 12, 31), 2);
        assert_eq!(&id, b"11010519491231002X");
    }

    #[test]
    fn a_small_city_is_complete_and_unique() {
        let city = City::generate(&CityConfig::new(5, 3_000, 3));
        assert_eq!(city.person_count(), 3_000);
        let ids: HashSet<String> = (0..3_000)
            .map(|p| city.national_id(p).as_str().to_owned())
            .collect();
        assert_eq!(ids.len(), 3_000);
        for p in 0..3_000 {
            let r = city.resident(p);
            assert!(city.config.city.contains(r.home));
            if matches!(r.role, Role::Worker | Role::Pupil | Role::University) {
                assert!(r.work.is_some());
            }
        }
        for kind in VenueKind::ALL {
            assert!(city.spots.iter().any(|s| s.kind == *kind), "{kind}");
        }
        assert_eq!(city.directory().venues.len(), city.spots.len());
        assert_eq!(city.directory().officials.len(), 8);
    }
}
