//! The service load test (`mingma bench serve`): the HTTP service over a benchmark
//! city's store, driven over loopback by an in-process HTTP/1.1 client on many
//! keep-alive connections, bounded in requests and time.
//!
//! Phases, one after the other: sessions are prepared through the real sign-in
//! flow (`POST /api/v1/signin`, then `/confirm` with the demo channel's code); then
//! closed-loop phases (each connection sends its next request when the previous one
//! is answered) for the JSON code display (`GET /api/v1/me/code`, signed code
//! included; first each holder's first display, derived and signed, then displays
//! cycling over the holders), check-ins right after them (`POST /api/v1/checkins`
//! with a venue's poster token, each a new scan appended durably, holders' code views
//! kept) and the HTML code page (`GET /code`, with its QR);
//! then console work alone (`GET /api/v1/me/history`, closed loop on as many
//! connections as the service admits console requests at once), to measure its
//! capacity; then an open-loop overload phase at twice the service's capacity:
//! code displays at half the measured code-display rate (half the capacity) and
//! console work at one and a half times its measured rate (one and a half times the
//! capacity), each request on a fixed schedule and its latency counted from when it
//! was due, the code displays on enough connections that each may take 10 ms; then
//! a recovery phase (code displays closed-loop, then one console
//! request).
//!
//! The client is a few lines of HTTP/1.1 over `tokio::net::TcpStream` (Content-Length
//! and chunked bodies), so the generator adds no dependency and shares the machine
//! with the server, as the targets ask ("load generator included").

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mingma_core::{PersonKey, RuleSet};
use mingma_engine::{Engine, SystemClock};
use mingma_server::accounts::VenueRecord;
use mingma_server::{App, Config};
use mingma_sim::{City, CityConfig};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::{bench_key, ingest, machine, Machine, Progress, BENCH_KEY_BYTES};

/// The latency target of the door flow (the p99 target).
pub const TARGET: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The city the store holds (as `mingma bench run` made it).
    pub seed: u64,
    /// Residents.
    pub persons: u32,
    /// Simulated days.
    pub days: u32,
    /// The directory holding `bench.sqlite` (streamed in first if missing) and the
    /// load test's scratch files (`load/`: the accounts database and keys).
    pub dir: PathBuf,
    /// Holders signed in (sessions prepared), at most `persons`.
    pub holders: u32,
    /// Concurrent connections per phase.
    pub connections: usize,
    /// Time limit of each measured phase.
    pub phase: Duration,
    /// Request limit of each measured phase.
    pub max_requests: u64,
    /// Length of the overload phase.
    pub overload: Duration,
    /// Load offered in the overload phase, in multiples of the capacity (2.0 by
    /// default): `door_share` of the capacity in code displays (at that fraction
    /// of their measured rate), the rest in console work (history requests at
    /// `overload_factor - door_share` times their measured rate).
    pub overload_factor: f64,
    /// The capacity's fraction the door uses in the overload phase (0.5 by default).
    pub door_share: f64,
}

/// One measured phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseReport {
    /// Requests answered (any status).
    pub requests: u64,
    /// Answered with the expected status.
    pub ok: u64,
    /// Anything else (other status, connection error).
    pub errors: u64,
    /// Wall time.
    pub seconds: f64,
    /// `ok` per second.
    pub per_second: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// CPU time the whole process (server and load generator) used during the
    /// phase, per request answered, in microseconds: less sensitive than the rate
    /// to other work on a shared machine. `None` where `/proc/self/stat` is not
    /// readable.
    #[serde(default)]
    pub cpu_us_per_request: Option<f64>,
}

/// CPU time (user and system) this process has used, from `/proc/self/stat`
/// (clock ticks of 10 ms).
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The overload phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OverloadReport {
    /// Load offered, in multiples of the capacity (door part plus console part).
    pub factor: f64,
    /// Code displays offered per second (the door's share of the capacity times
    /// the measured code-display rate).
    pub door_per_second: f64,
    /// History requests offered per second (the rest, times their measured rate).
    pub other_per_second: f64,
    /// Requests per second offered in all.
    pub offered_per_second: f64,
    /// Connections the code displays were offered on.
    #[serde(default)]
    pub door_connections: usize,
    /// Length.
    pub seconds: f64,
    /// Code displays due.
    pub door_due: u64,
    /// Answered 200 within the target, counted from when due.
    pub door_within_target: u64,
    /// Answered 200 later than the target.
    pub door_late: u64,
    /// Not answered 200 (or never sent before the phase's hard stop).
    pub door_failed: u64,
    /// `door_within_target / door_due`.
    pub door_success_rate: f64,
    /// Door latency from when due.
    pub door_p50_ms: f64,
    /// Door latency from when due.
    pub door_p99_ms: f64,
    /// Console requests due.
    pub other_due: u64,
    /// Console requests served (200).
    pub other_served: u64,
    /// Console requests shed (503 `overloaded`).
    pub other_shed: u64,
    /// Console requests otherwise failed or never sent.
    pub other_failed: u64,
    /// Code displays not answered 200 within the target, by the second of the
    /// phase they were due in.
    #[serde(default)]
    pub door_missed_by_second: Vec<u64>,
    /// Code views derived from the evidence during the phase.
    #[serde(default)]
    pub code_views_derived: u64,
    /// Code views shown again from the last one's basis during the phase.
    #[serde(default)]
    pub code_views_again: u64,
    /// Of the views shown again or derived: how many the ledger's follower vouched
    /// for, and how many asked the store whether anything changed.
    #[serde(default)]
    pub code_view_checks: [u64; 2],
}

/// After the overload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// Code displays, closed loop, right after the overload.
    pub door: PhaseReport,
    /// The status of a console request after that.
    pub other_status: u16,
    /// Every code display answered 200 within the target at p99, and the console
    /// request served.
    pub recovered: bool,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    /// The machine.
    pub machine: Machine,
    /// Residents in the store's city.
    pub persons: u32,
    /// Simulated days.
    pub days: u32,
    /// Holders signed in.
    pub holders: u32,
    /// Connections per phase.
    pub connections: usize,
    /// The door's latency target.
    pub target_ms: f64,
    /// Preparing the sessions (two requests per holder).
    pub sign_in: PhaseReport,
    /// `GET /api/v1/me/code`, each holder's first display (derived and signed).
    pub json_code_first: PhaseReport,
    /// `GET /api/v1/me/code`, cycling over the holders (a view is reused for the
    /// service's `code_cache_seconds`, then derived and signed again).
    pub json_code: PhaseReport,
    /// `GET /code`.
    pub html_code: PhaseReport,
    /// `POST /api/v1/checkins`, each a new durable scan.
    pub check_ins: PhaseReport,
    /// Scans the store gained (ledger leaves, at least one per new check-in).
    pub ledger_growth: u64,
    /// `GET /api/v1/me/history` alone: console work's capacity.
    #[serde(default)]
    pub history: PhaseReport,
    /// Twice the capacity.
    pub overload: OverloadReport,
    /// After it.
    pub recovery: RecoveryReport,
}

// -------------------------------------------------------------------------------
// The client.

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(16 << 10),
        })
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 << 10];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Sends `request` (complete, with headers) and reads the answer: status, body.
    async fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > 64 << 10 {
                bail!("response headers over 64 KiB");
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| anyhow!("response headers are not UTF-8"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("no status in {:?}", head.lines().next()))?;
        let mut length = None;
        let mut chunked = false;
        for line in head.lines().skip(1) {
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = Some(value.trim().parse::<usize>()?);
                } else if name == "transfer-encoding"
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
            }
        }
        self.buf.drain(..head_end + 4);
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_text = std::str::from_utf8(&self.buf[..line_end])
                    .map_err(|_| anyhow!("bad chunk size"))?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| anyhow!("bad chunk size {size_text:?}"))?;
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                self.fill().await?;
            }
            self.buf.drain(..length).collect()
        };
        Ok((status, body))
    }
}

fn get(path: &str, auth: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: mingma.load\r\n{auth}\r\n").into_bytes()
}

fn post(path: &str, auth: &str, json: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: mingma.load\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

fn bearer(session: &str) -> String {
    format!("Authorization: Bearer {session}\r\n")
}

// -------------------------------------------------------------------------------
// Phases.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn phase_report(
    mut latencies: Vec<Duration>,
    ok: u64,
    errors: u64,
    took: Duration,
    cpu: Option<Duration>,
) -> PhaseReport {
    latencies.sort();
    let seconds = took.as_secs_f64();
    let answered = latencies.len() as f64;
    PhaseReport {
        cpu_us_per_request: cpu
            .filter(|_| answered > 0.0)
            .map(|c| c.as_secs_f64() * 1e6 / answered),
        requests: latencies.len() as u64,
        ok,
        errors,
        seconds,
        per_second: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        p50_ms: ms(quantile(&latencies, 0.5)),
        p99_ms: ms(quantile(&latencies, 0.99)),
        max_ms: ms(latencies.last().copied().unwrap_or_default()),
    }
}

/// Closed loop: `connections` connections, each sending `request(n)` for the next
/// global number `n` until `limit` requests or `time` are used up.
async fn closed_loop(
    addr: std::net::SocketAddr,
    connections: usize,
    limit: u64,
    time: Duration,
    expect: u16,
    request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<PhaseReport> {
    let next = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let deadline = started + time;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, request) = (next.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut conn = Conn::open(addr).await?;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit || Instant::now() >= deadline {
                    break;
                }
                let bytes = request(n);
                let sent = Instant::now();
                match conn.send(&bytes).await {
                    Ok((status, _)) if status == expect => ok += 1,
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(addr).await?;
                    }
                }
                latencies.push(sent.elapsed());
            }
            anyhow::Ok((latencies, ok, errors))
        }));
    }
    let (mut all, mut ok, mut errors) = (Vec::new(), 0, 0);
    for task in tasks {
        let (l, o, e) = task.await.context("a load connection failed")??;
        all.extend(l);
        ok += o;
        errors += e;
    }
    let took = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(phase_report(all, ok, errors, took, cpu))
}

/// How an open loop's requests went.
#[derive(Default)]
struct OpenResult {
    /// Answered 200 within the target.
    within: u64,
    /// Answered 200 later.
    late: u64,
    /// Answered otherwise, or never sent.
    failed: u64,
    /// Latencies of the 200s, from when due.
    latencies: Vec<Duration>,
    /// Answered 503.
    shed: u64,
    /// By the second of the phase they were due in: requests not answered 200
    /// within the target.
    missed_by_second: Vec<u64>,
}

impl OpenResult {
    fn miss(&mut self, second: usize) {
        if let Some(n) = self.missed_by_second.get_mut(second) {
            *n += 1;
        }
    }

    fn add(&mut self, other: OpenResult) {
        self.within += other.within;
        self.late += other.late;
        self.failed += other.failed;
        self.latencies.extend(other.latencies);
        self.shed += other.shed;
        for (i, n) in other.missed_by_second.into_iter().enumerate() {
            if let Some(m) = self.missed_by_second.get_mut(i) {
                *m += n;
            }
        }
    }
}

/// Open loop: `connections` connections sharing `rate` requests per second, each
/// request due at a fixed time; latency counts from when it was due. Requests not
/// sent by `time` plus a grace second count as failed.
async fn open_loop(
    addr: std::net::SocketAddr,
    connections: usize,
    rate: f64,
    time: Duration,
    request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<(u64, OpenResult)> {
    let interval = Duration::from_secs_f64(connections as f64 / rate.max(1.0));
    let per_connection = (time.as_secs_f64() / interval.as_secs_f64()).floor() as u64;
    let started = Instant::now() + Duration::from_millis(20);
    let hard_stop = started + time + Duration::from_secs(1);
    let seconds = time.as_secs_f64().ceil() as usize + 1;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        // Spread the connections' schedules over one interval.
        let offset = interval.mul_f64(c as f64 / connections as f64);
        let c_index = c as u64;
        tasks.push(tokio::spawn(async move {
            let mut r = OpenResult {
                missed_by_second: vec![0; seconds],
                ..OpenResult::default()
            };
            let mut conn = Conn::open(addr).await.ok();
            for k in 0..per_connection {
                let due = started + offset + interval.mul_f64(k as f64);
                let second = due.saturating_duration_since(started).as_secs() as usize;
                let now = Instant::now();
                if now >= hard_stop {
                    for k in k..per_connection {
                        let due = offset + interval.mul_f64(k as f64);
                        r.miss(due.as_secs() as usize);
                    }
                    r.failed += per_connection - k;
                    break;
                }
                if due > now {
                    tokio::time::sleep_until(due.into()).await;
                }
                let Some(open) = conn.as_mut() else {
                    r.failed += 1;
                    r.miss(second);
                    conn = Conn::open(addr).await.ok();
                    continue;
                };
                let bytes = request(c_index * per_connection + k);
                match open.send(&bytes).await {
                    Ok((200, _)) => {
                        let took = due.elapsed();
                        r.latencies.push(took);
                        if took <= TARGET {
                            r.within += 1;
                        } else {
                            r.late += 1;
                            r.miss(second);
                        }
                    }
                    Ok((503, _)) => {
                        r.shed += 1;
                        r.miss(second);
                    }
                    Ok(_) => {
                        r.failed += 1;
                        r.miss(second);
                    }
                    Err(_) => {
                        r.failed += 1;
                        r.miss(second);
                        conn = Conn::open(addr).await.ok();
                    }
                }
            }
            r
        }));
    }
    let mut total = OpenResult {
        missed_by_second: vec![0; seconds],
        ..OpenResult::default()
    };
    for task in tasks {
        total.add(task.await.context("a load connection failed")?);
    }
    Ok((per_connection * connections as u64, total))
}

// -------------------------------------------------------------------------------
// The run.

/// Opens (or first builds) the store of the city, starts the service on loopback,
/// prepares the sessions and runs every phase.
pub async fn run(
    config: &LoadConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<LoadReport> {
    if config.holders == 0 || config.holders > config.persons {
        bail!(
            "holders must be 1 to persons ({}), not {}",
            config.persons,
            config.holders
        );
    }
    if config.connections == 0 || config.max_requests == 0 {
        bail!("connections and max_requests must be at least 1");
    }
    let (sim, city, store) = open_or_build(config, progress).await?;
    let app = start_app(&config.dir.join("load"), store).await?;
    let directory = city.directory();
    let venues: Vec<VenueRecord> = directory
        .venues
        .values()
        .map(|v| VenueRecord {
            venue: v.clone(),
            address: v.street.full_name().replace(' ', ""),
            operator: None,
            poster_issued_at: sim.start,
        })
        .collect();
    app.add_registry(
        directory.authorities.values().cloned().collect(),
        venues.clone(),
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let tokens: Arc<Vec<String>> = Arc::new(venues.iter().map(|v| app.poster_token(v)).collect());
    if tokens.is_empty() {
        bail!("the city has no venues");
    }

    let listener = mingma_server::listen(([127, 0, 0, 1], 0).into())?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mingma_server::serve_on(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let result = phases(config, &city, addr, &app, tokens, progress).await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    result
}

/// Opens the city's store, `DIR/bench.sqlite`, first streaming the city into it and
/// deriving every code if the file is missing (as `mingma bench run` leaves it,
/// without its declaration).
async fn open_or_build(
    config: &LoadConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<(CityConfig, Arc<City>, SqliteStore)> {
    let sim = CityConfig::new(config.seed, config.persons, config.days);
    sim.validate().map_err(|e| anyhow!("city: {e}"))?;
    let city = Arc::new(City::generate(&sim));
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("creating {}", config.dir.display()))?;
    let db = config.dir.join("bench.sqlite");
    if db.exists() {
        return Ok((sim, city, SqliteStore::open(&db)?));
    }
    let keys = Arc::new(city.person_keys(&bench_key()));
    let store = SqliteStore::open(&db)?;
    ingest(&store, city.clone(), keys.clone(), 4, 1_000, progress).await?;
    progress(Progress::Phase("derive every code", None));
    let everyone: Vec<PersonKey> = (0..city.person_count()).map(|p| keys.get(p)).collect();
    Engine::new(store.clone(), RuleSet::default_rules()?)
        .rederive(&everyone, mingma_engine::Clock::now(&SystemClock))
        .await?;
    Ok((sim, city, store))
}

/// Only builds the store (`DIR/bench.sqlite`) if it is missing; returns its path.
pub async fn prepare(
    config: &LoadConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<PathBuf> {
    let (_, _, store) = open_or_build(config, progress).await?;
    Ok(store.path().to_path_buf())
}

async fn start_app(scratch: &Path, store: SqliteStore) -> anyhow::Result<Arc<App<SqliteStore>>> {
    // A fresh accounts database and keys for each run; the pseudonym key is the
    // benchmark cities' one, so sessions name the store's persons.
    let _ = std::fs::remove_dir_all(scratch);
    let key_dir = scratch.join("keys");
    std::fs::create_dir_all(&key_dir).with_context(|| format!("creating {}", key_dir.display()))?;
    let hex: String = BENCH_KEY_BYTES.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(key_dir.join("pseudonym.key"), hex + "\n")?;
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        metrics_listen: "127.0.0.1:0".parse()?,
        db: store.path().display().to_string(),
        accounts_db: scratch.join("accounts.sqlite"),
        public_url: "http://127.0.0.1".into(),
        key_dir,
        create_missing_keys: true,
        demo_channels: true,
        ..Config::default()
    };
    config.check()?;
    let keys = mingma_server::load_keys(&config)?;
    mingma_server::build(config, store, keys, Arc::new(SystemClock)).await
}

async fn phases(
    config: &LoadConfig,
    city: &City,
    addr: std::net::SocketAddr,
    app: &App<SqliteStore>,
    tokens: Arc<Vec<String>>,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<LoadReport> {
    // Sessions through the sign-in flow, on as many connections as other work may
    // use at once.
    progress(Progress::Phase(
        "sign in holders",
        Some(u64::from(config.holders)),
    ));
    let holders = config.holders;
    let ids: Arc<Vec<String>> = Arc::new(
        (0..holders)
            .map(|i| city.national_id(i).as_str().to_owned())
            .collect(),
    );
    let sessions = Arc::new(std::sync::Mutex::new(vec![String::new(); holders as usize]));
    let sign_in = {
        let cpu_before = process_cpu();
        let started = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let lanes = config
            .connections
            .min(usize::try_from(app.admission.limits().other_in_flight).unwrap_or(1))
            .max(1);
        for _ in 0..lanes {
            let (next, ids, sessions) = (next.clone(), ids.clone(), sessions.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(addr).await?;
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i as usize) else { break };
                    let sent = Instant::now();
                    let started = serde_json::json!({
                        "id_number": id, "name": "测试居民", "phone": format!("139{:08}", i % 100_000_000)
                    });
                    let (status, body) = conn
                        .send(&post("/api/v1/signin", "", &started.to_string()))
                        .await?;
                    if status != 202 {
                        bail!("sign-in of holder {i}: {status} {}", String::from_utf8_lossy(&body));
                    }
                    let started: serde_json::Value = serde_json::from_slice(&body)?;
                    let confirm = serde_json::json!({
                        "challenge": started["challenge"], "code": started["demo_code"]
                    });
                    let (status, body) = conn
                        .send(&post("/api/v1/signin/confirm", "", &confirm.to_string()))
                        .await?;
                    if status != 200 {
                        bail!("confirming holder {i}: {status} {}", String::from_utf8_lossy(&body));
                    }
                    let session: serde_json::Value = serde_json::from_slice(&body)?;
                    let session = session["session"]
                        .as_str()
                        .ok_or_else(|| anyhow!("no session for holder {i}"))?
                        .to_owned();
                    latencies.push(sent.elapsed());
                    if let Ok(mut s) = sessions.lock() {
                        s[i as usize] = session;
                    }
                }
                anyhow::Ok(latencies)
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.context("a sign-in connection failed")??);
        }
        progress(Progress::Advance(all.len() as u64));
        let n = all.len() as u64;
        let took = started.elapsed();
        let cpu = process_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before));
        phase_report(all, n, 0, took, cpu)
    };
    let sessions: Arc<Vec<String>> = Arc::new(
        sessions
            .lock()
            .map_err(|_| anyhow!("a sign-in task panicked"))?
            .clone(),
    );
    let h = u64::from(holders);
    let limit = config.max_requests;

    progress(Progress::Phase("JSON code display, first per holder", None));
    let s = sessions.clone();
    let json_request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> =
        Arc::new(move |n| get("/api/v1/me/code", &bearer(&s[(n % h) as usize])));
    let json_code_first = closed_loop(
        addr,
        config.connections,
        limit.min(h),
        config.phase,
        200,
        json_request.clone(),
    )
    .await?;

    progress(Progress::Phase("JSON code display", None));
    let json_code = closed_loop(
        addr,
        config.connections,
        limit,
        config.phase,
        200,
        json_request.clone(),
    )
    .await?;

    // Check-ins right after the code displays: every holder's code view is kept (as
    // when a holder has just shown their code), so a check-in derives again only when
    // its scan may matter. A check-in by a holder whose view is not kept costs a
    // derivation besides: the first display per holder measures that.
    progress(Progress::Phase("check-ins", None));
    let before = app.store.ledger_size().await?;
    let s = sessions.clone();
    let v = tokens.len() as u64;
    let check_ins = closed_loop(
        addr,
        config.connections,
        limit,
        config.phase,
        201,
        Arc::new(move |n| {
            // Holder n mod h at venue n mod v: a new scan (every pair differs within
            // a run), spread over the venues.
            let token = &tokens[(n % v) as usize];
            post(
                "/api/v1/checkins",
                &bearer(&s[(n % h) as usize]),
                &format!("{{\"token\":\"{token}\"}}"),
            )
        }),
    )
    .await?;
    let ledger_growth = app.store.ledger_size().await?.saturating_sub(before);
    progress(Progress::Phase("HTML code page", None));
    let s = sessions.clone();
    let html_code = closed_loop(
        addr,
        config.connections,
        limit,
        config.phase,
        200,
        Arc::new(move |n| {
            get(
                "/code",
                &format!("Cookie: mingma_session={}\r\n", s[(n % h) as usize]),
            )
        }),
    )
    .await?;

    progress(Progress::Phase("console work alone", None));
    let s = sessions.clone();
    let other_request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> =
        Arc::new(move |n| get("/api/v1/me/history", &bearer(&s[(n % h) as usize])));
    let history = closed_loop(
        addr,
        config
            .connections
            .min(usize::try_from(app.admission.limits().other_in_flight).unwrap_or(1))
            .max(1),
        limit,
        config.phase,
        200,
        other_request.clone(),
    )
    .await?;

    progress(Progress::Phase("overload", None));
    // In capacity units: the door's share in code displays at their measured
    // rate, the rest in console requests at theirs.
    let door_rate = (config.door_share * json_code.per_second).max(1.0);
    let other_rate =
        ((config.overload_factor - config.door_share).max(0.0) * history.per_second).max(1.0);
    // Enough connections that each may take 10 ms per request before its schedule
    // slips (Little's law: rate × 10 ms), as many independent phones would: on
    // `connections` alone a connection at 20,000/s must answer every 3.2 ms, and
    // one slow answer delays every request due after it on that connection.
    let door_connections = ((door_rate * 0.010).ceil() as usize).clamp(config.connections, 512);
    let door = open_loop(
        addr,
        door_connections,
        door_rate,
        config.overload,
        json_request.clone(),
    );
    let other = open_loop(
        addr,
        config.connections,
        other_rate,
        config.overload,
        other_request.clone(),
    );
    let views = |how| app.metrics.event_count("code_views", how);
    let (derived_before, again_before) = (views("derived"), views("again"));
    let checks = |how| app.metrics.event_count("code_view_checks", how);
    let checks_before = [checks("followed"), checks("store")];
    let ((door_due, door), (other_due, other)) = tokio::try_join!(door, other)?;
    let mut door_latencies = door.latencies;
    door_latencies.sort();
    let overload = OverloadReport {
        factor: config.overload_factor,
        door_per_second: door_rate,
        door_connections,
        other_per_second: other_rate,
        offered_per_second: door_rate + other_rate,
        seconds: config.overload.as_secs_f64(),
        door_due,
        door_within_target: door.within,
        door_late: door.late,
        door_failed: door.failed + door.shed,
        door_success_rate: door.within as f64 / door_due.max(1) as f64,
        door_p50_ms: ms(quantile(&door_latencies, 0.5)),
        door_p99_ms: ms(quantile(&door_latencies, 0.99)),
        other_due,
        other_served: other.within + other.late,
        other_shed: other.shed,
        other_failed: other.failed,
        door_missed_by_second: door.missed_by_second,
        code_views_derived: views("derived") - derived_before,
        code_views_again: views("again") - again_before,
        code_view_checks: [
            checks("followed") - checks_before[0],
            checks("store") - checks_before[1],
        ],
    };

    progress(Progress::Phase("recovery", None));
    let door = closed_loop(
        addr,
        config.connections,
        limit,
        config.phase,
        200,
        json_request,
    )
    .await?;
    let mut conn = Conn::open(addr).await?;
    let (other_status, _) = conn.send(&other_request(0)).await?;
    let recovered = door.errors == 0 && door.p99_ms <= ms(TARGET) && other_status == 200;
    Ok(LoadReport {
        machine: machine(),
        persons: config.persons,
        days: config.days,
        holders,
        connections: config.connections,
        target_ms: ms(TARGET),
        sign_in,
        json_code_first,
        json_code,
        html_code,
        check_ins,
        ledger_growth,
        history,
        overload,
        recovery: RecoveryReport {
            door,
            other_status,
            recovered,
        },
    })
}

/// The report as a Markdown table.
pub fn markdown(r: &LoadReport) -> String {
    let mut out = format!(
        "{} persons, {} holders signed in, {} connections, {} × {} ({} CPUs)\n\n| phase | requests/s | ok | errors | p50 ms | p99 ms | max ms | CPU µs/request |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        r.persons, r.holders, r.connections, r.machine.cpu_model, r.machine.cpus, r.machine.cpus
    );
    for (name, p) in [
        ("sign-in (2 requests each)", &r.sign_in),
        ("JSON code display, first per holder", &r.json_code_first),
        ("JSON code display", &r.json_code),
        ("HTML code page", &r.html_code),
        ("check-in", &r.check_ins),
        ("history alone (console work)", &r.history),
        ("recovery: JSON code display", &r.recovery.door),
    ] {
        out.push_str(&format!(
            "| {name} | {:.0} | {} | {} | {:.1} | {:.1} | {:.1} | {} |\n",
            p.per_second,
            p.ok,
            p.errors,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.cpu_us_per_request
                .map_or("–".into(), |c| format!("{c:.0}"))
        ));
    }
    let o = &r.overload;
    out.push_str(&format!(
        "\nOverload at {:.1}× the capacity for {:.0} s: {:.0} code displays/s (on {} connections) and {:.0} history requests/s offered: {} of {} code displays within {:.0} ms ({:.2} %), {} late, {} failed, p50 {:.1} ms, p99 {:.1} ms; history: {} due, {} served, {} shed (503), {} failed.\nRecovered: {} (console request after it: {}).\n",
        o.factor, o.seconds, o.door_per_second, o.door_connections, o.other_per_second, o.door_within_target, o.door_due, r.target_ms,
        100.0 * o.door_success_rate, o.door_late, o.door_failed, o.door_p50_ms, o.door_p99_ms,
        o.other_due, o.other_served, o.other_shed, o.other_failed,
        r.recovery.recovered, r.recovery.other_status
    ));
    out.push_str(&format!(
        "Code views during the overload: {} derived from the evidence, {} shown again ({} vouched for by the ledger's follower, {} checked with the store). Code displays missed by second: {:?}.\n",
        o.code_views_derived, o.code_views_again, o.code_view_checks[0], o.code_view_checks[1], o.door_missed_by_second
    ));
    out
}
