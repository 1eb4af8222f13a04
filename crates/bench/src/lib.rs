//! Mingma's benchmark suite, end to end on one machine.
//!
//! One [`run`] generates a city with `mingma-sim` and measures, in order:
//! 1. **ingestion**: every simulated record streamed into the embedded store through
//!    `Store::append` (each a ledger leaf, durable before the call returns), from
//!    `writers` concurrent callers in calls of `batch` records — scans/s, leaves/s and
//!    the time to acknowledge a call (p50, p99). Each simulated day is generated
//!    (its official and source records sealed) before its appends start, and only
//!    the appends are timed; the city's authority acts, which register the keys
//!    those seals are checked with, are appended first ([`register_city`]);
//! 2. **memory**: the resident memory a fresh process gains by opening the store (the
//!    hot scan index is built at open), per scan and per person;
//! 3. **derivation from scratch** of every resident's code;
//! 4. **a district-wide high-risk declaration** covering the last 3 days: the clock
//!    runs from appending the declaration and its approval to the commit of the last
//!    resulting code change (ledger leaf included), after which `code_state` reads it;
//!    the affected-persons step is timed on its own;
//! 5. **contact tracing** of the simulation's cases (14 days, ±30 min);
//! 6. the **baseline**: the same city in the conventional PostgreSQL schema
//!    (`mingma-baseline`), its affected-persons query, tracing query and batched
//!    inserts with fsync on, in the same run, and the ratios.
//!
//! Nothing here asserts a time: the report says what was measured.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chart;
pub mod load;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mingma_authority::signature::KeyHolder;
use mingma_authority::Registry;
use mingma_baseline::{Area, Baseline, BaselineScan, BaselineVenue, Stays};
use mingma_core::{
    Evidence, EvidenceBody, EvidenceKind, Jurisdiction, Level, OfficialId, PersonKey, PseudonymKey,
    RecordId, Recorder, RiskAreaScope, RiskLevel, RuleSet, Span, Timestamp, VenueKind,
};
use mingma_engine::Engine;
use mingma_sim::{City, CityConfig, PersonKeys};
use mingma_store::Store;
use mingma_store_sqlite::{SqliteStore, DURABILITY};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Mutex};

pub use chart::chart;

/// Where the baseline runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineTarget {
    /// No baseline.
    Skip,
    /// A throwaway PostgreSQL 15 cluster started for the run (`mingma-pgtest`).
    Cluster,
    /// An existing server.
    Url(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The simulator's seed.
    pub seed: u64,
    /// Residents.
    pub persons: u32,
    /// Simulated days.
    pub days: u32,
    /// A directory for the store's file (created; the file is removed first).
    pub dir: PathBuf,
    /// Concurrent callers of `append`.
    pub writers: usize,
    /// Records per `append` call.
    pub batch: usize,
    /// The baseline.
    pub baseline: BaselineTarget,
    /// Rows of the baseline's batched-insert measurement (at most a million).
    pub baseline_inserts: u64,
    /// The `mingma` program, to measure the open's memory in a fresh process
    /// (`mingma bench memory --db FILE`); `None` measures in this process, where
    /// memory freed by earlier phases may be reused and hide growth.
    pub probe: Option<PathBuf>,
    /// Cases traced (at most).
    pub trace_cases: usize,
}

impl BenchConfig {
    /// The defaults for `persons` residents over `days` days in `dir`.
    pub fn new(persons: u32, days: u32, dir: PathBuf) -> Self {
        Self {
            seed: 2022,
            persons,
            days,
            dir,
            writers: 4,
            batch: 1_000,
            baseline: BaselineTarget::Cluster,
            baseline_inserts: 1_000_000,
            probe: None,
            trace_cases: 20,
        }
    }
}

/// One measured run. Times in milliseconds unless named otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The run's settings.
    pub config: ConfigReport,
    /// The machine.
    pub machine: Machine,
    /// The generated city.
    pub city: CityReport,
    /// Streaming the city into the store.
    pub ingestion: Ingestion,
    /// The hot indexes.
    pub memory: Memory,
    /// Every code derived from scratch.
    pub derive_all: Derivation,
    /// The district-wide declaration.
    pub declaration: Declaration,
    /// Contact tracing.
    pub tracing: Tracing,
    /// The conventional PostgreSQL design, if it ran.
    pub baseline: Option<BaselineReport>,
    /// Baseline time (or rate) over Mingma's, where both ran: above 1 means Mingma
    /// is faster.
    pub ratios: Option<Ratios>,
}

/// The run's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigReport {
    /// Seed.
    pub seed: u64,
    /// Residents.
    pub persons: u32,
    /// Days.
    pub days: u32,
    /// Concurrent `append` callers.
    pub writers: usize,
    /// Records per call.
    pub batch: usize,
}

/// The machine, as the kernel reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// CPU model.
    pub cpu_model: String,
    /// Memory in GiB.
    pub memory_gib: f64,
}

/// The generated city.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CityReport {
    /// Residents.
    pub persons: u64,
    /// Venues.
    pub venues: u64,
    /// Venue scans.
    pub scans: u64,
    /// Other records.
    pub other_records: u64,
    /// Scans per person per day.
    pub scans_per_person_day: f64,
    /// Cases reported.
    pub cases: u64,
}

/// Streaming the city into the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ingestion {
    /// The store's durability settings.
    pub settings: String,
    /// Records appended (each one ledger leaf).
    pub records: u64,
    /// Of which venue scans.
    pub scans: u64,
    /// Seconds the appends ran (each simulated day is generated before its appends
    /// start: generation is not counted).
    pub seconds: f64,
    /// Scans per second.
    pub scans_per_second: f64,
    /// Ledger leaves per second.
    pub leaves_per_second: f64,
    /// Median time from a call to its durable acknowledgement.
    pub ack_p50_ms: f64,
    /// 99th percentile of the same.
    pub ack_p99_ms: f64,
    /// Bytes of the database file per record.
    pub file_bytes_per_record: f64,
}

/// Resident memory a fresh process gains by opening the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    /// How it was measured.
    pub method: String,
    /// Seconds the open took (the scan index is built then).
    pub open_seconds: f64,
    /// Scans held.
    pub scans: u64,
    /// Persons held.
    pub persons: u64,
    /// Growth of resident anonymous memory (`RssAnon`) over the open.
    pub anon_growth_bytes: u64,
    /// That growth per scan.
    pub bytes_per_scan: f64,
    /// That growth per person.
    pub bytes_per_person: f64,
    /// What the index itself counts as allocated, per scan.
    pub index_bytes_per_scan: f64,
}

/// A derivation pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Derivation {
    /// Persons derived.
    pub persons: u64,
    /// Wall time, commit included.
    pub ms: f64,
    /// Codes that changed, by new colour: green, yellow, red.
    pub changed: [usize; 3],
}

/// The district-wide declaration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Declaration {
    /// The district's code.
    pub district: String,
    /// Its name.
    pub district_name: String,
    /// Window start (RFC 3339).
    pub from: String,
    /// Window end.
    pub until: String,
    /// Persons with a stay there that may overlap the window.
    pub affected_persons: u64,
    /// Time of the affected-persons step alone: the median of 5 runs after the
    /// declaration (warm, as the baseline's query is timed).
    pub affected_ms: f64,
    /// The same step's first run, inside the timed declaration.
    #[serde(default)]
    pub affected_first_ms: f64,
    /// From the append of the declaration to the commit of the last code change.
    pub total_ms: f64,
    /// Codes that changed, by new colour: green, yellow, red.
    pub changed: [usize; 3],
}

/// Contact tracing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tracing {
    /// Cases traced.
    pub cases: usize,
    /// Median over the cases of each case's median of three warm runs.
    pub median_ms: f64,
    /// Slowest case (its warm median).
    pub max_ms: f64,
    /// Median over the cases of each case's first run.
    #[serde(default)]
    pub first_median_ms: f64,
    /// Median number of contacts found.
    pub median_contacts: usize,
}

/// The conventional design, same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineReport {
    /// The server's durability settings.
    pub settings: String,
    /// Seconds to load the city (COPY, then the indexes and ANALYZE).
    pub load_seconds: f64,
    /// Table and index bytes per scan.
    pub bytes_per_scan: f64,
    /// Persons its affected-persons query found.
    pub affected_persons: u64,
    /// Median time of that query (5 runs, warm).
    pub affected_ms: f64,
    /// Median tracing query time over the same cases.
    pub trace_median_ms: f64,
    /// Batched inserts: rows per second.
    pub insert_rows_per_second: f64,
    /// Batched inserts: rows.
    pub insert_rows: u64,
    /// Batched inserts: p99 time of a batch.
    pub insert_p99_ms: f64,
}

/// Baseline over Mingma.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratios {
    /// Affected-persons step: baseline time / Mingma time.
    pub affected: f64,
    /// Tracing: baseline median / Mingma median.
    pub tracing: f64,
    /// Ingestion: Mingma scans/s / baseline rows/s.
    pub insertion: f64,
}

/// What the run is doing, for a progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A phase begins; `total` units if known.
    Phase(&'static str, Option<u64>),
    /// Units done in the current phase.
    Advance(u64),
}

/// The pseudonym key of benchmark cities (a fixed, public one: nothing here is
/// personal data).
pub fn bench_key() -> PseudonymKey {
    PseudonymKey::from_bytes(BENCH_KEY_BYTES)
}

/// The bytes of [`bench_key`] (the load test writes them as the server's
/// `pseudonym.key`).
pub const BENCH_KEY_BYTES: [u8; 32] = [0x6d; 32];

/// Runs the whole suite.
pub async fn run(
    config: &BenchConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<Report> {
    if config.writers == 0 || config.batch == 0 {
        bail!("writers and batch must be at least 1");
    }
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("creating {}", config.dir.display()))?;
    let db = config.dir.join("bench.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let sim = CityConfig::new(config.seed, config.persons, config.days);
    sim.validate().map_err(|e| anyhow!("city: {e}"))?;
    let city = Arc::new(City::generate(&sim));
    let keys = Arc::new(city.person_keys(&bench_key()));
    let rules = RuleSet::default_rules()?;

    // 1. Ingestion.
    let store = SqliteStore::open(&db)?;
    let fed = ingest(
        &store,
        city.clone(),
        keys.clone(),
        config.writers,
        config.batch,
        progress,
    )
    .await?;
    let end = fed.end;
    let seconds = fed.appending.as_secs_f64();
    let file = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    let ingestion = Ingestion {
        settings: DURABILITY.to_owned(),
        records: fed.records,
        scans: fed.scans,
        seconds,
        scans_per_second: fed.scans as f64 / seconds,
        leaves_per_second: fed.records as f64 / seconds,
        ack_p50_ms: ms(fed.ack_p50),
        ack_p99_ms: ms(fed.ack_p99),
        file_bytes_per_record: file as f64 / fed.records.max(1) as f64,
    };

    // 2. Memory, in a fresh process if we can.
    drop(store);
    let memory = match &config.probe {
        Some(program) => probe_memory(program, &db)?,
        None => measure_open(&db, || {})?,
    };
    let store = SqliteStore::open(&db)?;
    let engine = Engine::new(store.clone(), rules.clone());

    // 3. Every code from scratch.
    let everyone: Vec<PersonKey> = (0..city.person_count()).map(|p| keys.get(p)).collect();
    progress(Progress::Phase("derive every code", None));
    let started = Instant::now();
    let all = engine.rederive_everyone(&everyone, end).await?;
    let derive_all = Derivation {
        persons: everyone.len() as u64,
        ms: ms(started.elapsed()),
        changed: all.changed,
    };
    drop(everyone);

    // 4. A district-wide high-risk declaration over the last three days.
    progress(Progress::Phase("declare a district high-risk", None));
    let district = busiest_district(&city)?;
    let (from, until) = (end.minus(Span::days(3)), end);
    let (declaration, approval) = declaration(&city, district, from, until, end)?;
    let started = Instant::now();
    let appended = store.append(vec![declaration.clone(), approval]).await?;
    let step = Instant::now();
    let affected: Vec<PersonKey> = engine.affected_by(&declaration).await?;
    let affected_ms = ms(step.elapsed());
    let done = engine.rederive(&affected, end).await?;
    let total_ms = ms(started.elapsed());
    store
        .derivations_done(appended.iter().map(|a| a.leaf).collect())
        .await?;
    if let (Some(first), Some(_)) = (affected.first(), done.batch) {
        store
            .code_state(*first)
            .await?
            .context("a re-derived code is not readable")?;
    }
    // The step again, warm, as the baseline's query is timed: median of 5.
    let mut again = Vec::new();
    for _ in 0..5 {
        let step = Instant::now();
        engine.affected_by(&declaration).await?;
        again.push(step.elapsed());
    }
    again.sort();
    let affected_first_ms = affected_ms;
    let affected_ms = ms(again[again.len() / 2]);
    let declared = Declaration {
        district: district.to_string(),
        district_name: district.name().to_owned(),
        from: from.to_string(),
        until: until.to_string(),
        affected_persons: affected.len() as u64,
        affected_ms,
        affected_first_ms,
        total_ms,
        changed: done.changed,
    };

    // 5. Tracing.
    progress(Progress::Phase(
        "trace cases",
        Some(fed.cases.len().min(config.trace_cases) as u64),
    ));
    let cases: Vec<(PersonKey, Timestamp)> =
        fed.cases.iter().take(config.trace_cases).copied().collect();
    // Per case: a first run (the pages it needs may not be in memory yet), then the
    // median of three warm runs — as the baseline's query is timed.
    let (mut times, mut firsts, mut contacts) = (Vec::new(), Vec::new(), Vec::new());
    for (case, at) in &cases {
        let trace = || engine.trace(*case, at.minus(Span::days(14)), *at, Span::minutes(30));
        let started = Instant::now();
        let found = trace().await?;
        firsts.push(started.elapsed());
        contacts.push(found.len());
        let (warm, _) = mingma_baseline::median_time(3, trace).await?;
        times.push(warm);
        progress(Progress::Advance(1));
    }
    times.sort();
    firsts.sort();
    contacts.sort_unstable();
    let tracing = Tracing {
        cases: cases.len(),
        median_ms: times.get(times.len() / 2).map_or(0.0, |t| ms(*t)),
        max_ms: times.last().map_or(0.0, |t| ms(*t)),
        first_median_ms: firsts.get(firsts.len() / 2).map_or(0.0, |t| ms(*t)),
        median_contacts: contacts.get(contacts.len() / 2).copied().unwrap_or(0),
    };
    drop(engine);
    drop(store);

    // 6. The baseline.
    // The cluster, if one is started, lives until the baseline is measured.
    let mut cluster = None;
    let url = match &config.baseline {
        BaselineTarget::Skip => None,
        BaselineTarget::Cluster => {
            let started = mingma_pgtest::PgCluster::start()
                .map_err(|e| anyhow!("starting PostgreSQL: {e}"))?;
            let url = started
                .fresh_database("bench")
                .map_err(|e| anyhow!("a database for the baseline: {e}"))?;
            cluster = Some(started);
            Some(url)
        }
        BaselineTarget::Url(url) => Some(url.clone()),
    };
    let baseline = match url {
        Some(url) => Some(
            baseline(
                config,
                &url,
                &city,
                &keys,
                district,
                (from, until),
                &cases,
                &rules,
                progress,
            )
            .await?,
        ),
        None => None,
    };
    drop(cluster);
    let ratios = baseline.as_ref().map(|b| Ratios {
        affected: b.affected_ms / declared.affected_ms.max(1e-3),
        tracing: b.trace_median_ms / tracing.median_ms.max(1e-3),
        insertion: ingestion.scans_per_second / b.insert_rows_per_second.max(1e-9),
    });
    Ok(Report {
        config: ConfigReport {
            seed: config.seed,
            persons: config.persons,
            days: config.days,
            writers: config.writers,
            batch: config.batch,
        },
        machine: machine(),
        city: CityReport {
            persons: u64::from(city.person_count()),
            venues: u64::from(city.venue_count()),
            scans: fed.scans,
            other_records: fed.records - fed.scans,
            scans_per_person_day: fed.scans as f64
                / f64::from(config.persons.max(1))
                / f64::from(config.days.max(1)),
            cases: fed.cases.len() as u64,
        },
        ingestion,
        memory,
        derive_all,
        declaration: declared,
        tracing,
        baseline,
        ratios,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What streaming a city into a store did.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// Records appended (each one ledger leaf).
    pub records: u64,
    /// Of which venue scans.
    pub scans: u64,
    /// Wall time, generation included.
    pub elapsed: Duration,
    /// The time appends ran: each simulated day is generated first, then appended
    /// with this clock running.
    pub appending: Duration,
    /// Median time from an `append` call to its durable acknowledgement.
    pub ack_p50: Duration,
    /// 99th percentile of the same.
    pub ack_p99: Duration,
    /// Cases: the subject and time of every case report, in order.
    pub cases: Vec<(PersonKey, Timestamp)>,
    /// The end of the simulated time.
    pub end: Timestamp,
}

/// What the producer of [`ingest`] returns: acknowledgement times, records, scans,
/// cases, the end of simulated time and the time appends ran.
type Produced = (
    Vec<Duration>,
    u64,
    u64,
    Vec<(PersonKey, Timestamp)>,
    Timestamp,
    Duration,
);

/// A batch for a writer task, and where to say it is durable.
type Work = (Vec<Evidence>, oneshot::Sender<anyhow::Result<Duration>>);

/// Appends the city's authority acts ([`City::authority_acts`]: its admins,
/// authorities, officials with their keys and roles, data sources) so that its
/// sealed records count, unless the store's acts already register every one of the
/// city's keys. Returns the number of acts appended.
///
/// A store whose acts register something else (another seed's keys, another
/// province's admins) is refused: its records would not count there.
pub async fn register_city<S: Store>(store: &S, city: &City) -> anyhow::Result<usize> {
    let existing = Registry::replay(store.acts(0).await?);
    if existing.applied > 0 {
        let founding = city.founding();
        let registered = |holder: KeyHolder, key: &mingma_authority::KeyId| {
            existing.keys.get(*key).is_some_and(|k| k.holder == holder)
        };
        let missing = founding.directory.officials.keys().find(|id| {
            founding.signers.official(id).is_none_or(|k| {
                !registered(
                    KeyHolder::Official((*id).clone()),
                    &mingma_authority::KeyId::of(&k.verifying_key()),
                )
            })
        });
        let missing_source = founding.directory.sources.keys().find(|id| {
            founding.signers.source(id).is_none_or(|k| {
                !registered(
                    KeyHolder::Source((*id).clone()),
                    &mingma_authority::KeyId::of(&k.verifying_key()),
                )
            })
        });
        return match (missing, missing_source) {
            (None, None) => Ok(0),
            (Some(id), _) => bail!(
                "the store's authority acts do not register the simulated key of official {id} (they register another city, seed or province); stream the city into a new store"
            ),
            (None, Some(id)) => bail!(
                "the store's authority acts do not register the simulated key of data source {id} (they register another city, seed or province); stream the city into a new store"
            ),
        };
    }
    let first = store.ledger_size().await?;
    let acts = city
        .authority_acts(first)
        .map_err(|e| anyhow!("the city's authority acts: {e}"))?;
    for (i, act) in acts.iter().enumerate() {
        let leaf = store.append_act(act.to_bytes()).await?;
        if leaf != first + i as u64 {
            // A confirmation names its proposal's leaf: a write in between moves it.
            bail!(
                "another writer appended to the store while the city's authority acts were appended (act {} at leaf {leaf}, not {})",
                i + 1,
                first + i as u64
            );
        }
    }
    let replayed = Registry::replay(store.acts(0).await?);
    if let Some((leaf, problem)) = replayed.problems.first() {
        bail!("the city's authority act at leaf {leaf} was not applied: {problem}");
    }
    Ok(acts.len())
}

/// Streams the city into the store, a day at a time, after its authority acts
/// ([`register_city`]): the day is generated, then its scans and unreferencing
/// records go to the concurrent writers; records that refer to others
/// (approvals, designations, orders) are held to the end of their day and appended
/// after every earlier call is durable, so a reference never precedes its target in
/// the log.
pub async fn ingest<S: Store>(
    store: &S,
    city: Arc<City>,
    keys: Arc<PersonKeys>,
    writers: usize,
    batch: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<Ingested> {
    if writers == 0 || batch == 0 {
        bail!("writers and batch must be at least 1");
    }
    register_city(store, &city).await?;
    progress(Progress::Phase(
        "simulate and append",
        Some(u64::from(city.person_count()) * u64::from(city.config().days) * 4),
    ));
    let (tx, rx) = mpsc::channel::<Work>(writers * 2);
    let rx = Arc::new(Mutex::new(rx));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (rx, store) = (rx.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some((batch, done)) = next else { break };
                let sent = Instant::now();
                let result = store.append(batch).await.map(|_| sent.elapsed());
                let _ = done.send(result.map_err(anyhow::Error::from));
            }
        }));
    }
    let handle = tokio::runtime::Handle::current();
    let producer_store = store.clone();
    let started = Instant::now();
    let (sender_progress_tx, mut sender_progress_rx) = mpsc::unbounded_channel::<u64>();
    let producer = tokio::task::spawn_blocking(move || -> anyhow::Result<Produced> {
        let mut latencies = Vec::new();
        let (mut records, mut scans) = (0u64, 0u64);
        let mut cases = Vec::new();
        let mut end = city.config().start;
        let mut in_flight: Vec<oneshot::Receiver<anyhow::Result<Duration>>> = Vec::new();
        let settle = |in_flight: &mut Vec<oneshot::Receiver<anyhow::Result<Duration>>>,
                      latencies: &mut Vec<Duration>|
         -> anyhow::Result<()> {
            for done in in_flight.drain(..) {
                latencies.push(handle.block_on(done).context("a writer stopped")??);
            }
            Ok(())
        };
        // Each day is generated first, then appended with the clock running: the
        // simulator does not share the machine with the appends it feeds.
        let mut appending = Duration::ZERO;
        for day in city.days().threads(1) {
            end = day.start().plus(Span::days(1));
            let mut held = Vec::new();
            let mut batches = Vec::new();
            let mut current = Vec::with_capacity(batch);
            for record in day.evidence(&city, &keys) {
                records += 1;
                match record.kind() {
                    EvidenceKind::VenueScan => scans += 1,
                    EvidenceKind::CaseReport => {
                        if let Some(subject) = record.subject {
                            cases.push((subject, record.effective_at));
                        }
                    }
                    _ => {}
                }
                if !record.references().is_empty() {
                    held.push(record);
                    continue;
                }
                current.push(record);
                if current.len() == batch {
                    batches.push(std::mem::replace(&mut current, Vec::with_capacity(batch)));
                }
            }
            if !current.is_empty() {
                batches.push(current);
            }
            let started = Instant::now();
            for full in batches {
                let (done, wait) = oneshot::channel();
                let _ = sender_progress_tx.send(full.len() as u64);
                tx.blocking_send((full, done))
                    .map_err(|_| anyhow!("the writers stopped"))?;
                in_flight.push(wait);
                if in_flight.len() > 64 {
                    let mut early: Vec<_> = in_flight.drain(..32).collect();
                    settle(&mut early, &mut latencies)?;
                }
            }
            settle(&mut in_flight, &mut latencies)?;
            for chunk in held.chunks(batch) {
                let sent = Instant::now();
                handle.block_on(producer_store.append(chunk.to_vec()))?;
                latencies.push(sent.elapsed());
                let _ = sender_progress_tx.send(chunk.len() as u64);
            }
            appending += started.elapsed();
        }
        drop(tx);
        Ok((latencies, records, scans, cases, end, appending))
    });
    let mut producer = producer;
    let result = loop {
        tokio::select! {
            done = &mut producer => break done,
            Some(n) = sender_progress_rx.recv() => progress(Progress::Advance(n)),
        }
    };
    let (mut latencies, records, scans, cases, end, appending) =
        result.context("the simulation failed")??;
    for task in tasks {
        task.await.context("a writer failed")?;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Ingested {
        records,
        scans,
        elapsed,
        appending,
        ack_p50: pick(0.5),
        ack_p99: pick(0.99),
        cases,
        end,
    })
}

/// A field of this process's `/proc/self/status`, in bytes (0 if unknown).
fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Opens the store in this process and measures the resident anonymous memory the
/// open adds: what `mingma bench memory` prints. `settle` runs after the open and
/// before the measurement, as a server does after opening (the `mingma` binary gives
/// back the pages its allocator holds free).
pub fn measure_open(db: &Path, settle: impl FnOnce()) -> anyhow::Result<Memory> {
    let before = status("RssAnon");
    let started = Instant::now();
    let store = SqliteStore::open(db)?;
    let open_seconds = started.elapsed().as_secs_f64();
    settle();
    let growth = status("RssAnon").saturating_sub(before);
    let stats = store.scan_index_stats();
    let scans = stats.scans.max(1) as f64;
    Ok(Memory {
        method: "growth of RssAnon (/proc/self/status) over SqliteStore::open, which builds the scan index, and the allocator giving back the pages it holds free".into(),
        open_seconds,
        scans: stats.scans,
        persons: stats.persons,
        anon_growth_bytes: growth,
        bytes_per_scan: growth as f64 / scans,
        bytes_per_person: growth as f64 / stats.persons.max(1) as f64,
        index_bytes_per_scan: stats.bytes as f64 / scans,
    })
}

/// Runs `program bench memory --db FILE` and reads its report.
fn probe_memory(program: &Path, db: &Path) -> anyhow::Result<Memory> {
    let out = std::process::Command::new(program)
        .args(["bench", "memory", "--db"])
        .arg(db)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "the memory probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut memory: Memory =
        serde_json::from_slice(&out.stdout).context("the memory probe's report")?;
    memory.method = format!("{} (a fresh process)", memory.method);
    Ok(memory)
}

pub(crate) fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or_else(|| "unknown".to_owned(), |m| m.trim().to_owned());
    let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0.0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_gib: memory_kib / 1048576.0,
    }
}

/// The district holding the most venues: the one the benchmark declares.
pub fn busiest_district(city: &City) -> anyhow::Result<Jurisdiction> {
    let mut counts: BTreeMap<Jurisdiction, usize> = BTreeMap::new();
    for venue in city.directory().venues.values() {
        if let Some(district) = venue.street.chain().find(|d| d.level() == Level::District) {
            *counts.entry(district).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(d, n)| (*n, std::cmp::Reverse(*d)))
        .map(|(d, _)| d)
        .context("the city has no venues")
}

/// A high-risk declaration of `district` for `[from, until)` by the city's health
/// commission, recorded at `at`, and its approval by a second official, both sealed.
fn declaration(
    city: &City,
    district: Jurisdiction,
    from: Timestamp,
    until: Timestamp,
    at: Timestamp,
) -> anyhow::Result<(Evidence, Evidence)> {
    declaration_as(city, "bench-declaration", district, from, until, at)
}

/// The declaration of [`declaration`] with record id `id` (its approval is
/// `{id}.approval`): the benchmark's own, or another one declared on its database
/// (the `declare_timing` example).
pub fn declaration_as(
    city: &City,
    id: &str,
    district: Jurisdiction,
    from: Timestamp,
    until: Timestamp,
    at: Timestamp,
) -> anyhow::Result<(Evidence, Evidence)> {
    let directory = city.directory();
    let (authority, _) = directory
        .authorities
        .iter()
        .find(|(id, a)| a.jurisdiction == city.config().city && id.as_str().starts_with("hc-"))
        .context("the city has no health commission")?;
    let officials: Vec<&OfficialId> = directory
        .officials
        .values()
        .filter(|o| &o.authority == authority)
        .map(|o| &o.id)
        .collect();
    let [first, second, ..] = officials.as_slice() else {
        bail!("the health commission needs two officials");
    };
    let approval_id = RecordId::parse(&format!("{id}.approval"))?;
    let id = RecordId::parse(id)?;
    let declaration = Evidence {
        seal: None,
        id: id.clone(),
        subject: None,
        recorded_by: Recorder::Official((*first).clone()),
        authority: Some(authority.clone()),
        legal_basis: Some("郑州市新冠肺炎疫情防控指挥部通告（基准测试）".into()),
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::RiskArea {
            level: RiskLevel::High,
            area: RiskAreaScope::Divisions(vec![district]),
            from,
            until,
        },
    };
    let approval = Evidence {
        seal: None,
        id: approval_id,
        subject: None,
        recorded_by: Recorder::Official((*second).clone()),
        authority: Some(authority.clone()),
        legal_basis: None,
        effective_at: at,
        recorded_at: at,
        body: EvidenceBody::Approval { target: id },
    };
    // Sealed by the officials' simulated keys, or neither would count.
    Ok((city.seal(declaration), city.seal(approval)))
}

/// Kind numbers of the baseline's venues.
fn kind_number(kind: VenueKind) -> i16 {
    VenueKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i16
}

/// The same city in the conventional PostgreSQL design, and the same operations.
#[allow(clippy::too_many_arguments)]
async fn baseline(
    config: &BenchConfig,
    url: &str,
    city: &City,
    keys: &PersonKeys,
    district: Jurisdiction,
    (from, until): (Timestamp, Timestamp),
    cases: &[(PersonKey, Timestamp)],
    rules: &RuleSet,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<BaselineReport> {
    let stays = Stays {
        default_dwell_seconds: rules
            .dwell
            .of(VenueKind::ALL[0])
            .seconds()
            .min(rules.longest_stay().seconds()),
        kind_dwell_seconds: VenueKind::ALL
            .iter()
            .map(|k| (kind_number(*k), rules.dwell.of(*k).seconds()))
            .collect(),
        max_stay_seconds: rules.longest_stay().seconds(),
    };
    let pg = Baseline::connect_with(url, stays).await?;
    let durability = pg.create_schema().await?;
    if !durability.allows_benchmarks() {
        bail!("the baseline server is not durable: {durability}");
    }
    let code = |j: Jurisdiction| j.to_string().parse::<i64>().unwrap_or(0);
    let mut venue_numbers = HashMap::new();
    let mut venues = Vec::new();
    for (n, venue) in city.directory().venues.values().enumerate() {
        let district = venue
            .street
            .chain()
            .find(|d| d.level() == Level::District)
            .unwrap_or(venue.street);
        venue_numbers.insert(venue.id.clone(), n as i64);
        venues.push(BaselineVenue {
            id: n as i64,
            street_code: code(venue.street),
            district_code: code(district),
            kind: kind_number(venue.kind),
        });
    }
    pg.load_venues(&venues).await?;
    let person_numbers: HashMap<PersonKey, i64> = (0..city.person_count())
        .map(|p| (keys.get(p), i64::from(p)))
        .collect();
    let longest_stay = rules.longest_stay().seconds();
    let as_row = |record: &Evidence| -> Option<BaselineScan> {
        let EvidenceBody::VenueScan { venue, left_at, .. } = &record.body else {
            return None;
        };
        // Stays count at most the rule set's longest, as in derivation.
        let entered = record.effective_at.unix_seconds();
        Some(BaselineScan {
            person: *person_numbers.get(record.subject.as_ref()?)?,
            venue: *venue_numbers.get(venue)?,
            entered_unix: entered,
            left_unix: left_at.map(|l| l.unix_seconds().min(entered + longest_stay)),
        })
    };
    // The same simulation again (it is deterministic), straight into COPY.
    progress(Progress::Phase("baseline: load PostgreSQL", None));
    let started = Instant::now();
    let rows = city.days().threads(1).flat_map(|day| {
        day.evidence(city, keys)
            .filter_map(|r| as_row(&r))
            .collect::<Vec<_>>()
    });
    pg.bulk_load(rows).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let bytes_per_scan = pg.bytes_per_scan().await?;

    progress(Progress::Phase("baseline: queries", None));
    let longest = rules.longest_stay().seconds();
    let area = Area::District(code(district));
    let (from_s, until_s) = (from.unix_seconds(), until.unix_seconds());
    // The same question Mingma's affected-persons step answers: everyone with a
    // scan entered in the area from the longest stay before the window to its end.
    // Warm once, then the median of five.
    let affected = pg.persons_entered(area, from_s - longest, until_s).await?;
    let (affected_time, _) =
        mingma_baseline::median_time(5, || pg.persons_entered(area, from_s - longest, until_s))
            .await?;
    let mut trace_times = Vec::new();
    for (case, at) in cases {
        let Some(person) = person_numbers.get(case) else {
            continue;
        };
        let trace = || {
            pg.trace(
                *person,
                at.minus(Span::days(14)).unix_seconds(),
                at.unix_seconds(),
                1800,
            )
        };
        trace().await?;
        let (warm, _) = mingma_baseline::median_time(3, trace).await?;
        trace_times.push(warm);
    }
    trace_times.sort();

    progress(Progress::Phase("baseline: batched inserts", None));
    let n = config.baseline_inserts.min(1_000_000);
    let base = until.unix_seconds() + 86_400;
    let inserts = (0..n).map(|i| BaselineScan {
        person: (i % u64::from(config.persons.max(1))) as i64,
        venue: (i % venues.len().max(1) as u64) as i64,
        entered_unix: base + (i % 86_400) as i64,
        left_unix: Some(base + (i % 86_400) as i64 + 1800),
    });
    let inserted = pg.insert_batched(inserts, config.batch).await?;
    Ok(BaselineReport {
        settings: durability.to_string(),
        load_seconds,
        bytes_per_scan,
        affected_persons: affected.len() as u64,
        affected_ms: ms(affected_time),
        trace_median_ms: trace_times
            .get(trace_times.len() / 2)
            .map_or(0.0, |t| ms(*t)),
        insert_rows_per_second: inserted.rows_per_second,
        insert_rows: inserted.rows,
        insert_p99_ms: ms(inserted.p99),
    })
}

/// The report as a Markdown table for BENCHMARKS.md.
pub fn markdown(report: &Report) -> String {
    let r = report;
    let ratio = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.1}×"));
    let b = r.baseline.as_ref();
    let mut out = String::new();
    out.push_str(&format!(
        "{} persons × {} days, seed {}: {} venues, {} scans ({:.2} per person per day), {} other records, {} cases. Machine: {} CPUs ({}), {:.0} GiB.\n\n",
        r.config.persons, r.config.days, r.config.seed, r.city.venues, r.city.scans,
        r.city.scans_per_person_day, r.city.other_records, r.city.cases,
        r.machine.cpus, r.machine.cpu_model, r.machine.memory_gib
    ));
    out.push_str("| measure | Mingma (SQLite, embedded) | conventional PostgreSQL | baseline ÷ Mingma |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| durable scan ingestion | {:.0} scans/s ({:.0} leaves/s; ack p50 {:.1} ms, p99 {:.1} ms, {} records per call, {} callers) | {} | {} |\n",
        r.ingestion.scans_per_second, r.ingestion.leaves_per_second, r.ingestion.ack_p50_ms,
        r.ingestion.ack_p99_ms, r.config.batch, r.config.writers,
        b.map_or("–".into(), |b| format!("{:.0} rows/s ({} rows, batch p99 {:.1} ms)", b.insert_rows_per_second, b.insert_rows, b.insert_p99_ms)),
        r.ratios.as_ref().map_or("–".into(), |x| format!("Mingma {:.2}× faster", x.insertion)),
    ));
    out.push_str(&format!(
        "| affected persons of {} ({}) for 3 days (median of 5 warm runs; the first, inside the declaration: {:.1} ms) | {:.1} ms ({} persons) | {} | {} |\n",
        r.declaration.district_name,
        r.declaration.district,
        r.declaration.affected_first_ms,
        r.declaration.affected_ms,
        r.declaration.affected_persons,
        b.map_or("–".into(), |b| format!(
            "{:.1} ms ({} persons)",
            b.affected_ms, b.affected_persons
        )),
        ratio(r.ratios.as_ref().map(|x| x.affected)),
    ));
    out.push_str(&format!(
        "| re-derivation after the declaration, to the last commit | {:.1} ms ({} green, {} yellow, {} red changes) | – | – |\n",
        r.declaration.total_ms, r.declaration.changed[0], r.declaration.changed[1], r.declaration.changed[2],
    ));
    out.push_str(&format!(
        "| contact tracing, one case, 14 days ±30 min (median over {} cases of 3 warm runs each; first runs' median {:.1} ms) | {:.1} ms (max {:.1}; median {} contacts) | {} | {} |\n",
        r.tracing.cases, r.tracing.first_median_ms, r.tracing.median_ms, r.tracing.max_ms, r.tracing.median_contacts,
        b.map_or("–".into(), |b| format!("{:.1} ms", b.trace_median_ms)),
        ratio(r.ratios.as_ref().map(|x| x.tracing)),
    ));
    out.push_str(&format!(
        "| every code derived from scratch | {:.0} ms for {} persons ({} green, {} yellow, {} red) | – | – |\n",
        r.derive_all.ms, r.derive_all.persons, r.derive_all.changed[0], r.derive_all.changed[1], r.derive_all.changed[2],
    ));
    out.push_str(&format!(
        "| hot-index memory | {:.1} bytes per scan ({:.0} per person; index's own count {:.1} per scan; open {:.1} s) | {} (table + indexes, on disk) | – |\n",
        r.memory.bytes_per_scan, r.memory.bytes_per_person, r.memory.index_bytes_per_scan, r.memory.open_seconds,
        b.map_or("–".into(), |b| format!("{:.0} bytes per scan", b.bytes_per_scan)),
    ));
    out.push_str(&format!(
        "\nDurability: Mingma `{}`; {}. Database file {:.0} bytes per record.\n",
        r.ingestion.settings,
        b.map_or("no baseline".into(), |b| b.settings.clone()),
        r.ingestion.file_bytes_per_record,
    ));
    out
}
