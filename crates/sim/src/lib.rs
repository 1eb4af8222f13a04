//! A deterministic, seeded generator of a synthetic city, producing evidence in
//! Mingma's own types and file format.
//!
//! [`City::generate`] builds residents (with valid GB 11643 ID numbers, born in the
//! province's real counties), households, homes and workplaces in the city's real
//! GB/T 2260 streets, venues of every kind with a skewed size distribution, and the
//! registry (authorities, two officials each, labs, a customs post, a case-reporting
//! unit, venues). [`City::days`] then simulates day by day, yielding each [`Day`]'s
//! records in time order: venue scans (about four per resident per day), routine
//! tests, an outbreak with its tracing (close contacts really co-present with a case,
//! designations and quarantine orders approved by a second official), and inbound
//! travellers in quarantine. Only one day of scans is held in memory.
//!
//! A day's records come out as the core's [`mingma_core::Evidence`]
//! ([`Day::evidence`]) or as evidence-file lines ([`write_jsonl`]), which
//! [`mingma_core::read_evidence_file`], `mingma explain` and `mingma import` accept.
//!
//! Every official and data source has an Ed25519 key derived from the seed and its
//! id, and seals every record it makes (`mingma_authority::sealed`; in the file, a
//! `seal` field). [`City::authority_acts`] gives the authority acts that register
//! the city's authorities, officials and sources with those keys; a store must hold
//! them before the records, or the records do not count (see `mingma_engine`).
//!
//! ```
//! use mingma_sim::{City, CityConfig};
//!
//! let city = City::generate(&CityConfig::new(42, 500, 2));
//! let keys = city.person_keys(&mingma_core::PseudonymKey::from_bytes([1; 32]));
//! let mut days = city.days();
//! let mut out = Vec::new();
//! mingma_sim::write_jsonl(&city, &mut days, &keys, &mut out).unwrap();
//! assert!(days.stats().scans_per_person_day() > 2.0);
//! ```
//!
//! # What is modelled (defaults in [`CityConfig::new`])
//! - **Residents** in households of 1-5 (ages, sexes and roles: infants, pupils,
//!   students, workers, adults at home, retired), each with an 18-character ID number
//!   (a real Henan county as birthplace, 70% the city's own districts; a birth date
//!   matching the age; odd 17th digit for men; the ISO 7064 check character), a home
//!   street weighted by rough district populations, and a workplace or school.
//!   Workplaces are mostly offices and sit where the jobs are (金水区, the development
//!   zones, the old centre).
//! - **Venues**: one per 200 residents (at least 40) of all eight kinds, in real
//!   streets, with Zipf-distributed sizes: at a million residents the busiest
//!   transport hub has some 50,000 scans a day and most venues a few hundred.
//! - **Movement**: about four scans per resident per day (weekdays differ from
//!   weekends): commuters pass a hub, workers and pupils spend the day at work or
//!   school, everyone shops, eats out and goes out, mostly near home or work. Stays
//!   depend on the kind (median ~14 min at a hub, ~30 at a market, ~50 at a
//!   restaurant, hours at an office or school) and end before midnight; 90% of scans
//!   record the exit; 91.5% scan the rotating code, 8% the static poster, 0.5% a stale
//!   token; children and the very old are scanned for by a household member (proxy).
//! - **Tests**: one resident in five has a routine test each day (10% antigen), from
//!   one of three labs; negative unless the person is infected and detectable.
//! - **Outbreak**: three index cases test positive on day 2 (see [`Simulation`] for
//!   the course of infection, tracing and quarantine). Close contacts come from the
//!   scans: they overlapped a case's scan at the same venue by at least 15 minutes
//!   (at most 20 designated per case scan), or share the case's household.
//! - **Border**: two residents per 100,000 per day return from abroad: a customs-signed
//!   entry, a centralised quarantine order by the provincial health commission
//!   (approved), tests on days 1, 3 and 6, and a release after 7 days; 3% are infected.
//!
//! Record ids are `<prefix><day:03>-<seq:08>` (e.g. `s003-00012345`): unique, and
//! ascending in the order records are written, which is the order they were recorded.
//!
//! # Determinism
//! Every random choice comes from ChaCha8 (`rand::rngs::ChaCha8Rng`) streams keyed by
//! [`CityConfig::seed`], each person-day on its own stream: the same configuration
//! gives byte-identical output, for a given `Cargo.lock` (the versions of `rand` and
//! `chacha20` it pins) and a given divisions table in `mingma-core`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod city;
mod clock;
mod config;
mod day;
mod geo;
mod movement;
mod random;
mod sim;
mod stats;

use std::io::{self, Write};

pub use city::{City, PersonKeys, Resident, Role};
pub use config::CityConfig;
pub use day::{write_registry, Day};
pub use sim::Simulation;
pub use stats::{CityStats, OutbreakStats};

/// Writes a whole evidence file: a comment naming the configuration, the registry
/// lines, then every day's records in order, official and source records with their
/// seals. The seals cover the records with their subjects' person keys: `keys` must
/// be [`City::person_keys`] under the pseudonym key the file will be read with. Pass
/// `&mut city.days()` to read the simulation's [`CityStats`] afterwards. Returns the
/// number of days written.
pub fn write_jsonl<W: Write>(
    city: &City,
    days: impl IntoIterator<Item = Day>,
    keys: &PersonKeys,
    out: W,
) -> io::Result<u32> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let c = city.config();
    writeln!(
        out,
        "// mingma-sim: seed {}, {} residents, {} days from {}, city {} {}",
        c.seed,
        c.persons,
        c.days,
        c.start,
        c.city,
        c.city.name()
    )?;
    write_registry(city, &mut out)?;
    let mut written = 0;
    for day in days {
        day.write_jsonl(city, keys, &mut out)?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}
