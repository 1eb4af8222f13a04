//! What to simulate: the size of the city, how long, and the rates of what happens.

use mingma_core::{Jurisdiction, Level, Timestamp};

/// The parameters of a simulated city. [`CityConfig::new`] fills in the defaults
/// described on each field; change any field before [`crate::City::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CityConfig {
    /// Seed of every random choice: the same configuration gives the same city and
    /// byte-identical output (for a given `Cargo.lock`).
    pub seed: u64,
    /// Number of residents (at most 20,000,000).
    pub persons: u32,
    /// Number of simulated days (1 to 999).
    pub days: u32,
    /// Local midnight of the first day. Default 2022-06-01T00:00:00+08:00.
    pub start: Timestamp,
    /// The city (a 4-digit GB/T 2260 code with street-level divisions). Default 4101
    /// (郑州市).
    pub city: Jurisdiction,
    /// Residents per venue: the registry has `persons / persons_per_venue` venues (at
    /// least 40). Default 30: a venue code at most shops, offices, entrances and
    /// stops, so that a venue is a place where people actually meet.
    pub persons_per_venue: u32,
    /// Share of scans whose exit is recorded (`left_at`); the others get the rule
    /// set's dwell time per venue kind. Default 0.9.
    pub exit_recorded_rate: f64,
    /// Share of scans of the venue's static poster code rather than its rotating
    /// code. Default 0.08.
    pub static_poster_rate: f64,
    /// Share of scans with a stale (replayed, forwarded) token. Default 0.005.
    pub stale_rate: f64,
    /// Probability that a resident has a routine test on a given day. Default 0.2.
    pub routine_test_rate: f64,
    /// Share of routine tests that are antigen tests (the rest nucleic acid).
    /// Default 0.1.
    pub antigen_share: f64,
    /// Day (0-based) on which the index cases test positive; a day at or after
    /// `days` means no outbreak. Default 2.
    pub outbreak_day: u32,
    /// Number of index cases. Default 3 (0: no outbreak).
    pub index_cases: u32,
    /// At most this many close contacts are designated from one scan of a case (a
    /// tracing team's capacity at a crowded venue). Default 20.
    pub max_contacts_per_scan: u32,
    /// Least overlap at a venue, in minutes, for a close contact. Default 15.
    pub min_overlap_minutes: u32,
    /// Probability that a venue contact is infected. Default 0.05.
    pub venue_attack_rate: f64,
    /// Probability that a household member of an infected person is infected.
    /// Default 0.25.
    pub household_attack_rate: f64,
    /// Residents returning from abroad per 100,000 residents per day (each with a
    /// customs-signed border entry and a centralised quarantine order). Default 2.
    pub inbound_per_100k_per_day: f64,
    /// Probability that an inbound traveller is infected (found by a test in
    /// quarantine). Default 0.03.
    pub imported_infection_rate: f64,
    /// Whether the city's health commission declares the venues a case visited while
    /// infectious as medium-risk areas. Default true.
    pub risk_areas: bool,
    /// Prefix of every record id (ids are `<prefix><day:03>-<seq:08>`), so that two
    /// simulations can share a store. Default `s`.
    pub id_prefix: String,
}

impl CityConfig {
    /// A configuration with the default rates.
    pub fn new(seed: u64, persons: u32, days: u32) -> Self {
        Self {
            seed,
            persons,
            days,
            start: Timestamp::parse("2022-06-01T00:00:00+08:00")
                .unwrap_or_else(|_| unreachable!("a valid constant time")),
            city: Jurisdiction::parse("4101").unwrap_or_else(|_| unreachable!("郑州市 exists")),
            persons_per_venue: 30,
            exit_recorded_rate: 0.9,
            static_poster_rate: 0.08,
            stale_rate: 0.005,
            routine_test_rate: 0.2,
            antigen_share: 0.1,
            outbreak_day: 2,
            index_cases: 3,
            max_contacts_per_scan: 20,
            min_overlap_minutes: 15,
            venue_attack_rate: 0.05,
            household_attack_rate: 0.25,
            inbound_per_100k_per_day: 2.0,
            imported_infection_rate: 0.03,
            risk_areas: true,
            id_prefix: "s".to_owned(),
        }
    }

    /// Checks the configuration; [`crate::City::generate`] panics on what this refuses.
    pub fn validate(&self) -> Result<(), String> {
        let rate = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!("{name} must be between 0 and 1, not {value}"))
            }
        };
        if self.persons == 0 || self.persons > 20_000_000 {
            return Err(format!(
                "persons must be 1 to 20,000,000, not {}",
                self.persons
            ));
        }
        if self.days == 0 || self.days > 999 {
            return Err(format!("days must be 1 to 999, not {}", self.days));
        }
        if self.city.level() != Level::City {
            return Err(format!(
                "city must be a 4-digit city code, not {}",
                self.city
            ));
        }
        if self.city.descendants(Level::Street).next().is_none() {
            return Err(format!(
                "city {} ({}) has no street-level divisions in the table",
                self.city,
                self.city.name()
            ));
        }
        if self.persons_per_venue == 0 {
            return Err("persons_per_venue must be positive".into());
        }
        rate("exit_recorded_rate", self.exit_recorded_rate)?;
        rate("static_poster_rate", self.static_poster_rate)?;
        rate("stale_rate", self.stale_rate)?;
        rate(
            "static_poster_rate + stale_rate",
            self.static_poster_rate + self.stale_rate,
        )?;
        rate("routine_test_rate", self.routine_test_rate)?;
        rate("antigen_share", self.antigen_share)?;
        rate("venue_attack_rate", self.venue_attack_rate)?;
        rate("household_attack_rate", self.household_attack_rate)?;
        rate("imported_infection_rate", self.imported_infection_rate)?;
        if !(0.0..=10_000.0).contains(&self.inbound_per_100k_per_day) {
            return Err("inbound_per_100k_per_day must be between 0 and 10,000".into());
        }
        if self.index_cases > self.persons / 10 {
            return Err("index_cases must be at most a tenth of persons".into());
        }
        let prefix_ok = self.id_prefix.len() <= 40
            && self
                .id_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !prefix_ok {
            return Err(format!(
                "id_prefix must be at most 40 characters from A-Z a-z 0-9 - _ . :, not `{}`",
                self.id_prefix
            ));
        }
        Ok(())
    }
}

impl Default for CityConfig {
    /// Seed 1, 10,000 residents, 7 days.
    fn default() -> Self {
        Self::new(1, 10_000, 7)
    }
}
