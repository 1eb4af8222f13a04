//! The baseline against a real PostgreSQL server (a throwaway cluster, or the one
//! `MINGMA_TEST_POSTGRES_URL` names): its answers are compared with answers
//! computed here, in Rust, by brute force over the same rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mingma_baseline::{Area, Baseline, BaselineError, BaselineScan, BaselineVenue, Contact, Stays};
use mingma_pgtest::PgCluster;

fn fresh_url(hint: &str) -> String {
    PgCluster::shared()
        .expect("a PostgreSQL server for tests")
        .fresh_database(hint)
        .expect("a fresh database")
}

/// 2022-06-01 00:00:00 UTC.
const T0: i64 = 1_654_041_600;
const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DISTRICTS: [i64; 3] = [410_102, 410_103, 410_104];

fn stays() -> Stays {
    Stays {
        default_dwell_seconds: HOUR,
        kind_dwell_seconds: vec![(0, 30 * MINUTE), (1, 90 * MINUTE), (2, 8 * HOUR)],
        max_stay_seconds: 12 * HOUR,
    }
}

/// A repeatable xorshift sequence.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// 3 districts × 3 streets × 8 venues, kinds 0 to 3 (3 has no `venue_kinds` row).
fn venues() -> Vec<BaselineVenue> {
    let mut out = Vec::new();
    for district in DISTRICTS {
        for street in 0..3 {
            for v in 0..8 {
                let id = out.len() as i64 + 1;
                out.push(BaselineVenue {
                    id,
                    street_code: district * 1000 + street + 1,
                    district_code: district,
                    kind: (v % 4) as i16,
                });
            }
        }
    }
    out
}

/// `n` scans by 300 persons over two days, on a five-minute grid so that
/// boundaries coincide: 40 % without an exit, 10 % with an exit not after the entry
/// (counts as none), the rest with stays of 5 minutes up to exactly the longest.
fn scans(n: usize, venue_count: u64, seed: u64) -> Vec<BaselineScan> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let entered = T0 + rng.below(2 * 24 * 12) as i64 * 5 * MINUTE;
            let left = match rng.below(10) {
                0..=3 => None,
                4 => Some(entered - rng.below(2) as i64 * 5 * MINUTE),
                _ => Some(entered + (1 + rng.below(144)) as i64 * 5 * MINUTE),
            };
            BaselineScan {
                person: 1 + rng.below(300) as i64,
                venue: 1 + rng.below(venue_count) as i64,
                entered_unix: entered,
                left_unix: left,
            }
        })
        .collect()
}

/// The reference model: the end of a stay, computed from the rules directly.
struct Model {
    venues: HashMap<i64, BaselineVenue>,
    dwell: HashMap<i16, i64>,
    default_dwell: i64,
    scans: Vec<BaselineScan>,
}

impl Model {
    fn new(venues: &[BaselineVenue], stays: &Stays) -> Model {
        Model {
            venues: venues.iter().map(|v| (v.id, *v)).collect(),
            dwell: stays.kind_dwell_seconds.iter().copied().collect(),
            default_dwell: stays.default_dwell_seconds,
            scans: Vec::new(),
        }
    }

    fn end(&self, s: &BaselineScan) -> i64 {
        match s.left_unix {
            Some(left) if left > s.entered_unix => left,
            _ => {
                let kind = self.venues[&s.venue].kind;
                s.entered_unix + self.dwell.get(&kind).copied().unwrap_or(self.default_dwell)
            }
        }
    }

    fn in_area(&self, venue: i64, area: Area) -> bool {
        let v = &self.venues[&venue];
        match area {
            Area::District(code) => v.district_code == code,
            Area::Street(code) => v.street_code == code,
        }
    }

    fn affected(&self, area: Area, from: i64, until: i64) -> Vec<i64> {
        let set: BTreeSet<i64> = self
            .scans
            .iter()
            .filter(|s| self.in_area(s.venue, area))
            .filter(|s| s.entered_unix < until && from < self.end(s))
            .map(|s| s.person)
            .collect();
        set.into_iter().collect()
    }

    fn entered(&self, area: Area, from: i64, until: i64) -> Vec<i64> {
        let set: BTreeSet<i64> = self
            .scans
            .iter()
            .filter(|s| self.in_area(s.venue, area))
            .filter(|s| from <= s.entered_unix && s.entered_unix < until)
            .map(|s| s.person)
            .collect();
        set.into_iter().collect()
    }

    fn trace(&self, case: i64, from: i64, until: i64, margin: i64) -> Vec<Contact> {
        let mut found: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
        for c in self.scans.iter().filter(|s| s.person == case) {
            let c_end = self.end(c);
            if !(c.entered_unix < until && from < c_end) {
                continue;
            }
            let (lo, hi) = (c.entered_unix - margin, c_end + margin);
            for o in &self.scans {
                if o.person == case || o.venue != c.venue {
                    continue;
                }
                let o_end = self.end(o);
                if o.entered_unix < hi && lo < o_end {
                    let overlap = (o.entered_unix.max(lo), o_end.min(hi));
                    found
                        .entry((o.person, o.venue))
                        .and_modify(|(a, b)| {
                            *a = (*a).min(overlap.0);
                            *b = (*b).max(overlap.1);
                        })
                        .or_insert(overlap);
                }
            }
        }
        found
            .into_iter()
            .map(|((person, venue), (from_unix, until_unix))| Contact {
                person,
                venue,
                from_unix,
                until_unix,
            })
            .collect()
    }
}

async fn baseline(hint: &str) -> Baseline {
    let url = fresh_url(hint);
    let baseline = Baseline::connect_with(&url, stays())
        .await
        .expect("connect");
    let durability = baseline.create_schema().await.expect("schema");
    assert!(durability.fsync, "{durability}");
    assert!(durability.allows_benchmarks(), "{durability}");
    baseline
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_agree_with_a_brute_force_model() {
    let b = baseline("brute_force").await;
    let venues = venues();
    assert_eq!(b.load_venues(&venues).await.expect("venues"), 72);
    let mut model = Model::new(&venues, &stays());
    let all = scans(4_000, venues.len() as u64, 0x5eed_1234_abcd_0001);
    let (bulk, batched) = all.split_at(3_000);

    assert_eq!(
        b.bulk_load(bulk.iter().copied()).await.expect("bulk"),
        3_000
    );
    let report = b
        .insert_batched(batched.iter().copied(), 64)
        .await
        .expect("insert");
    assert_eq!(report.rows, 1_000);
    assert_eq!(report.batches, 16, "15 full batches of 64 and one of 40");
    assert!(report.rows_per_second > 0.0 && report.p50 <= report.p99);
    assert_eq!(b.scan_count().await.expect("count"), 4_000);
    model.scans = all;

    // Windows on the grid (boundaries coincide with entries and exits), off it,
    // an empty one, and one before all data that only long stays could reach.
    let windows = [
        (T0, T0 + 3 * HOUR),
        (T0 + 10 * HOUR, T0 + 34 * HOUR),
        (T0 + 7 * HOUR + 17, T0 + 7 * HOUR + 18),
        (T0 + 5 * HOUR, T0 + 5 * HOUR),
        (T0 + 47 * HOUR, T0 + 60 * HOUR),
        (T0 - 13 * HOUR, T0 + 1),
    ];
    let mut areas: Vec<Area> = DISTRICTS.iter().map(|d| Area::District(*d)).collect();
    areas.extend([410_102_001, 410_103_003, 410_104_002].map(Area::Street));
    areas.push(Area::District(999_999));
    let mut non_trivial = 0;
    for area in areas {
        for (from, until) in windows {
            let expected = model.affected(area, from, until);
            let got = b
                .affected_persons(area, from, until)
                .await
                .expect("affected");
            assert_eq!(got, expected, "{area:?} [{from}, {until})");
            let expected = model.entered(area, from, until);
            let got = b.persons_entered(area, from, until).await.expect("entered");
            assert_eq!(got, expected, "entered, {area:?} [{from}, {until})");
            if expected.len() > 10 {
                non_trivial += 1;
            }
        }
    }
    assert!(non_trivial > 10, "the data exercise the queries");

    let mut contacts = 0;
    for case in [1, 2, 17, 150, 299, 300, 301] {
        for margin in [0, 15 * MINUTE, 2 * HOUR + 1] {
            for (from, until) in [(T0, T0 + 48 * HOUR), (T0 + 20 * HOUR, T0 + 26 * HOUR)] {
                let expected = model.trace(case, from, until, margin);
                let got = b.trace(case, from, until, margin).await.expect("trace");
                assert_eq!(
                    got, expected,
                    "case {case}, margin {margin}, [{from}, {until})"
                );
                contacts += got.len();
            }
        }
    }
    assert!(
        contacts > 100,
        "the data exercise tracing ({contacts} contacts)"
    );

    let bytes = b.bytes_per_scan().await.expect("bytes");
    assert!(bytes > 40.0, "{bytes} bytes per scan");
}

/// Boundaries written out: which stays count, by the definition in the crate
/// documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_boundaries_by_hand() {
    let b = baseline("boundaries").await;
    let venues = venues();
    b.load_venues(&venues).await.expect("venues");
    // Venue 1 is kind 0 (30 min), venue 4 kind 3 (default, 1 h), both in street
    // 410102001.
    let scan = |person, venue, entered, left: Option<i64>| BaselineScan {
        person,
        venue,
        entered_unix: T0 + entered,
        left_unix: left.map(|l| T0 + l),
    };
    let rows = [
        scan(10, 1, 0, Some(HOUR)),                  // [0, 1h)
        scan(11, 1, HOUR, None),                     // [1h, 1h30): kind 0
        scan(12, 4, 0, None),                        // [0, 1h): default dwell
        scan(13, 4, 2 * HOUR, Some(2 * HOUR)),       // exit = entry: [2h, 3h)
        scan(14, 1, -11 * HOUR + 1, Some(HOUR + 1)), // the longest stay: [-11h+1s, 1h+1s)
        scan(15, 1, 90 * MINUTE, Some(2 * HOUR)),    // [1h30, 2h)
        scan(16, 9, 0, Some(3 * HOUR)),              // another street
    ];
    b.bulk_load(rows).await.expect("load");
    let street = Area::Street(410_102_001);
    let at = |from: i64, until: i64| (T0 + from, T0 + until);

    let (f, u) = at(HOUR, HOUR + 1);
    assert_eq!(b.affected_persons(street, f, u).await.unwrap(), [11, 14]);
    let (f, u) = at(0, HOUR);
    assert_eq!(
        b.affected_persons(street, f, u).await.unwrap(),
        [10, 12, 14]
    );
    let (f, u) = at(150 * MINUTE, 3 * HOUR);
    assert_eq!(b.affected_persons(street, f, u).await.unwrap(), [13]);
    let (f, u) = at(-12 * HOUR, -11 * HOUR + 1);
    assert_eq!(
        b.affected_persons(street, f, u).await.unwrap(),
        Vec::<i64>::new()
    );
    let (f, u) = at(-12 * HOUR, -11 * HOUR + 2);
    assert_eq!(b.affected_persons(street, f, u).await.unwrap(), [14]);
    let (f, u) = at(0, 3 * HOUR);
    assert_eq!(
        b.persons_entered(street, f, u).await.unwrap(),
        [10, 11, 12, 13, 15]
    );
    assert_eq!(
        b.affected_persons(Area::District(410_102), f, u)
            .await
            .unwrap(),
        [10, 11, 12, 13, 14, 15, 16]
    );

    // Person 11 at venue 1, [1h, 1h30). Person 10 overlaps on [1h - 0, 1h):
    // touching only, so not without a margin; person 14 on [1h, 1h+1s); person 15
    // starts at 1h30 (touching).
    let (f, u) = at(0, 48 * HOUR);
    let contact = |person, from, until| Contact {
        person,
        venue: 1,
        from_unix: T0 + from,
        until_unix: T0 + until,
    };
    assert_eq!(
        b.trace(11, f, u, 0).await.unwrap(),
        [contact(14, HOUR, HOUR + 1)]
    );
    assert_eq!(
        b.trace(11, f, u, 1).await.unwrap(),
        [
            contact(10, HOUR - 1, HOUR),
            contact(14, HOUR - 1, HOUR + 1),
            contact(15, 90 * MINUTE, 90 * MINUTE + 1),
        ]
    );
    // The case's stays are chosen by the window: none of 11's overlaps [2h, 3h).
    let (f, u) = at(2 * HOUR, 3 * HOUR);
    assert_eq!(
        b.trace(11, f, u, HOUR).await.unwrap(),
        Vec::<Contact>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_loads_rebuild_the_indexes_and_a_failed_one_changes_nothing() {
    let b = baseline("bulk_load").await;
    let venues = venues();
    b.load_venues(&venues).await.expect("venues");
    let first = scans(2_000, 72, 7);
    assert_eq!(b.bulk_load(first.iter().copied()).await.unwrap(), 2_000);
    let second = scans(1_500, 72, 8);
    assert_eq!(b.bulk_load(second.iter().copied()).await.unwrap(), 1_500);
    assert_eq!(b.scan_count().await.unwrap(), 3_500);

    let indexes = || async {
        let rows = b
            .client()
            .query(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'scans' ORDER BY 1",
                &[],
            )
            .await
            .expect("indexes");
        rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()
    };
    let expected = ["scans_person_entered", "scans_venue_entered"];
    assert_eq!(indexes().await, expected);

    // A stay longer than the schema accepts fails the whole load, streamed rows
    // and dropped indexes included.
    let mut bad = scans(1_000, 72, 9);
    bad.push(BaselineScan {
        person: 1,
        venue: 1,
        entered_unix: T0,
        left_unix: Some(T0 + 12 * HOUR + 1),
    });
    let err = b.bulk_load(bad).await.expect_err("too long a stay");
    assert!(matches!(err, BaselineError::Postgres(_)), "{err}");
    assert_eq!(b.scan_count().await.unwrap(), 3_500);
    assert_eq!(indexes().await, expected);

    // The connection is still usable, and batches of one work.
    let report = b.insert_batched(scans(5, 72, 10), 1).await.unwrap();
    assert_eq!((report.rows, report.batches), (5, 5));
    assert!(matches!(
        b.insert_batched(scans(5, 72, 10), 0).await,
        Err(BaselineError::ZeroBatch)
    ));
    assert_eq!(b.scan_count().await.unwrap(), 3_505);
    assert!(b.require_durable().await.is_ok());
}
