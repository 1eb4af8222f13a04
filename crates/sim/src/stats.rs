//! What a simulation produced, counted while it runs.

use std::collections::BTreeMap;
use std::fmt;

use mingma_core::{EvidenceKind, Presence, TestOutcome, VenueKind};

use crate::city::{kind_index, City, KINDS};
use crate::day::{Body, Rec, Scan, BY_PROXY, EXIT_RECORDED};

/// Minutes in a day: stays are counted per minute, up to a day.
const MINUTES: usize = 24 * 60 + 1;

/// The outbreak and the border, in numbers. Counted when decided: a decision whose
/// record falls after the last simulated day (a case report the night of the last
/// day) is counted here but not in [`CityStats::records_by_kind`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutbreakStats {
    /// People infected (found or not), index cases included.
    pub infections: u64,
    /// Index cases found.
    pub index_cases: u64,
    /// Cases infected in the city (household or venue), found.
    pub secondary_cases: u64,
    /// Inbound travellers found infected in quarantine.
    pub imported_cases: u64,
    /// Close contacts designated for sharing a household with a case.
    pub household_contacts: u64,
    /// Close contacts designated for overlapping with a case at a venue.
    pub venue_contacts: u64,
    /// Quarantine orders (contacts and inbound travellers).
    pub quarantine_orders: u64,
    /// Border entries.
    pub border_entries: u64,
    /// Risk-area declarations.
    pub risk_areas: u64,
}

impl OutbreakStats {
    /// Cases found: index, secondary and imported.
    pub fn cases(&self) -> u64 {
        self.index_cases + self.secondary_cases + self.imported_cases
    }
}

/// Counts of a city and of what has been simulated so far.
#[derive(Debug, Clone, PartialEq)]
pub struct CityStats {
    /// Residents.
    pub persons: u64,
    /// Households.
    pub households: u64,
    /// Venues of each kind.
    pub venues_by_kind: BTreeMap<VenueKind, u64>,
    /// Days simulated.
    pub days: u32,
    /// Venue scans.
    pub scans: u64,
    /// Venue scans per venue kind.
    pub scans_by_kind: BTreeMap<VenueKind, u64>,
    /// Venue scans per presence assurance.
    pub scans_by_presence: BTreeMap<Presence, u64>,
    /// Venue scans with a recorded exit.
    pub scans_with_exit: u64,
    /// Venue scans made by a proxy.
    pub proxy_scans: u64,
    /// Records of each kind, scans included.
    pub records_by_kind: BTreeMap<EvidenceKind, u64>,
    /// Positive test results.
    pub positive_tests: u64,
    /// The most scans one venue had in one day, and its kind.
    pub busiest_venue_day: (u64, Option<VenueKind>),
    /// The most scans one venue of each kind had in one day.
    pub busiest_by_kind: BTreeMap<VenueKind, u64>,
    /// Share of all scans made at the busiest 1% of venues.
    pub top_venue_share: f64,
    /// The outbreak and the border.
    pub outbreak: OutbreakStats,
    stays: Vec<Vec<u64>>,
    venue_totals: Vec<u64>,
}

impl CityStats {
    pub(crate) fn new(city: &City) -> Self {
        let mut venues_by_kind = BTreeMap::new();
        for spot in &city.spots {
            *venues_by_kind.entry(spot.kind).or_insert(0) += 1;
        }
        Self {
            persons: city.persons.len() as u64,
            households: city
                .persons
                .iter()
                .enumerate()
                .filter(|(i, p)| p.household as usize == *i)
                .count() as u64,
            venues_by_kind,
            days: 0,
            scans: 0,
            scans_by_kind: BTreeMap::new(),
            scans_by_presence: BTreeMap::new(),
            scans_with_exit: 0,
            proxy_scans: 0,
            records_by_kind: BTreeMap::new(),
            positive_tests: 0,
            busiest_venue_day: (0, None),
            busiest_by_kind: BTreeMap::new(),
            top_venue_share: 0.0,
            outbreak: OutbreakStats::default(),
            stays: vec![vec![0; MINUTES]; KINDS],
            venue_totals: vec![0; city.spots.len()],
        }
    }

    pub(crate) fn add_day(
        &mut self,
        city: &City,
        scans: &[Scan],
        records: &[Rec],
        venue_today: &mut [u32],
    ) {
        self.days += 1;
        let mut by_kind = [0u64; KINDS];
        let mut presence = [0u64; 3];
        for s in scans {
            let kind = kind_index(city.spots[s.venue as usize].kind);
            by_kind[kind] += 1;
            self.stays[kind][((s.left - s.enter) / 60) as usize] += 1;
            presence[usize::from(s.flags & 3)] += 1;
            self.scans_with_exit += u64::from(s.flags & EXIT_RECORDED != 0);
            self.proxy_scans += u64::from(s.flags & BY_PROXY != 0);
            venue_today[s.venue as usize] += 1;
        }
        self.scans += scans.len() as u64;
        for (k, kind) in VenueKind::ALL.iter().enumerate() {
            if by_kind[k] > 0 {
                *self.scans_by_kind.entry(*kind).or_insert(0) += by_kind[k];
            }
        }
        for (count, p) in
            presence
                .into_iter()
                .zip([Presence::Rotating, Presence::StaticPoster, Presence::Stale])
        {
            if count > 0 {
                *self.scans_by_presence.entry(p).or_insert(0) += count;
            }
        }
        if !scans.is_empty() {
            *self
                .records_by_kind
                .entry(EvidenceKind::VenueScan)
                .or_insert(0) += scans.len() as u64;
        }
        for r in records {
            *self.records_by_kind.entry(r.body.kind()).or_insert(0) += 1;
            if let Body::Test {
                outcome: TestOutcome::Positive,
                ..
            } = r.body
            {
                self.positive_tests += 1;
            }
        }
        for (v, count) in venue_today.iter().enumerate() {
            let count = u64::from(*count);
            self.venue_totals[v] += count;
            let kind = city.spots[v].kind;
            if count > self.busiest_venue_day.0 {
                self.busiest_venue_day = (count, Some(kind));
            }
            let busiest = self.busiest_by_kind.entry(kind).or_insert(0);
            *busiest = (*busiest).max(count);
        }
        let mut totals = self.venue_totals.clone();
        totals.sort_unstable_by(|a, b| b.cmp(a));
        let top: u64 = totals.iter().take((totals.len() / 100).max(1)).sum();
        self.top_venue_share = if self.scans == 0 {
            0.0
        } else {
            top as f64 / self.scans as f64
        };
    }

    /// Scans per resident per simulated day.
    pub fn scans_per_person_day(&self) -> f64 {
        if self.persons == 0 || self.days == 0 {
            return 0.0;
        }
        self.scans as f64 / (self.persons as f64 * f64::from(self.days))
    }

    /// Share of scans at venues of `kind`.
    pub fn kind_share(&self, kind: VenueKind) -> f64 {
        if self.scans == 0 {
            return 0.0;
        }
        self.scans_by_kind.get(&kind).copied().unwrap_or(0) as f64 / self.scans as f64
    }

    /// The stay (entry to exit) below which a share `q` of the stays at venues of
    /// `kind` lie, in whole minutes; `None` without scans of that kind.
    pub fn stay_quantile_minutes(&self, kind: VenueKind, q: f64) -> Option<u32> {
        let histogram = &self.stays[kind_index(kind)];
        let total: u64 = histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let target = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (minute, count) in histogram.iter().enumerate() {
            seen += count;
            if seen >= target {
                return Some(minute as u32);
            }
        }
        Some((MINUTES - 1) as u32)
    }

    /// Median stay at venues of `kind`, in minutes.
    pub fn stay_median_minutes(&self, kind: VenueKind) -> Option<u32> {
        self.stay_quantile_minutes(kind, 0.5)
    }

    /// 90th percentile of the stays at venues of `kind`, in minutes.
    pub fn stay_p90_minutes(&self, kind: VenueKind) -> Option<u32> {
        self.stay_quantile_minutes(kind, 0.9)
    }

    /// The longest stay at venues of `kind`, in minutes.
    pub fn stay_max_minutes(&self, kind: VenueKind) -> Option<u32> {
        self.stays[kind_index(kind)]
            .iter()
            .rposition(|c| *c > 0)
            .map(|m| m as u32)
    }

    /// Records of all kinds.
    pub fn records(&self) -> u64 {
        self.records_by_kind.values().sum()
    }
}

impl fmt::Display for CityStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let venues: u64 = self.venues_by_kind.values().sum();
        writeln!(
            f,
            "city: {} residents in {} households, {} venues",
            self.persons, self.households, venues
        )?;
        writeln!(
            f,
            "days: {}, records: {}, scans: {} ({:.2} per resident per day; {:.1}% with exit, {:.1}% by proxy)",
            self.days,
            self.records(),
            self.scans,
            self.scans_per_person_day(),
            pct(self.scans_with_exit, self.scans),
            pct(self.proxy_scans, self.scans),
        )?;
        writeln!(
            f,
            "  {:<14} {:>7} {:>12} {:>7} {:>10} {:>8} {:>10}",
            "venue kind", "venues", "scans", "share", "median", "p90", "top/day"
        )?;
        for kind in VenueKind::ALL {
            let minutes = |m: Option<u32>| m.map_or("-".to_owned(), |m| format!("{m} min"));
            writeln!(
                f,
                "  {:<14} {:>7} {:>12} {:>6.1}% {:>10} {:>8} {:>10}",
                kind.name(),
                self.venues_by_kind.get(kind).copied().unwrap_or(0),
                self.scans_by_kind.get(kind).copied().unwrap_or(0),
                100.0 * self.kind_share(*kind),
                minutes(self.stay_median_minutes(*kind)),
                minutes(self.stay_p90_minutes(*kind)),
                self.busiest_by_kind.get(kind).copied().unwrap_or(0),
            )?;
        }
        writeln!(
            f,
            "busiest venue: {} scans in a day ({}); top 1% of venues: {:.1}% of scans",
            self.busiest_venue_day.0,
            self.busiest_venue_day.1.map_or("-", |k| k.name()),
            100.0 * self.top_venue_share,
        )?;
        let presence: Vec<String> = self
            .scans_by_presence
            .iter()
            .map(|(p, n)| format!("{p} {:.1}%", pct(*n, self.scans)))
            .collect();
        writeln!(f, "presence: {}", presence.join(", "))?;
        let kinds: Vec<String> = self
            .records_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(f, "records by kind: {}", kinds.join(", "))?;
        let o = &self.outbreak;
        writeln!(
            f,
            "outbreak: {} infected, {} cases found ({} index, {} secondary, {} imported), {} positive tests",
            o.infections,
            o.cases(),
            o.index_cases,
            o.secondary_cases,
            o.imported_cases,
            self.positive_tests
        )?;
        write!(
            f,
            "tracing: {} close contacts ({} household, {} venue), {} quarantine orders, {} risk areas; border: {} entries",
            o.household_contacts + o.venue_contacts,
            o.household_contacts,
            o.venue_contacts,
            o.quarantine_orders,
            o.risk_areas,
            o.border_entries
        )
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}
