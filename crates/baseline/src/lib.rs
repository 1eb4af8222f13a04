//! The benchmark baseline: the design a conventional vendor would ship on
//! PostgreSQL 15 for venue scans, against which Mingma is measured, in the same run,
//! for the same three operations:
//!
//! 1. **affected persons of a risk area**: everyone whose stay at a venue of a
//!    district (or street) overlaps a window ([`Baseline::affected_persons`]);
//! 2. **a tracing query**: everyone whose stay at a venue overlaps one of a case's
//!    stays there, within a margin ([`Baseline::trace`]);
//! 3. **scan insertion** in client-side batches, each batch one durably committed
//!    transaction with `fsync` and `synchronous_commit` on
//!    ([`Baseline::insert_batched`]).
//!
//! Nothing here is used by Mingma itself. The aim is a *fair, competent*
//! conventional design, not a straw man: plain typed rows, the indexes each query
//! needs and no others, a bulk load by `COPY` with the indexes built afterwards,
//! statistics gathered, set-based SQL the planner can run as bounded index range
//! scans.
//!
//! # Schema
//!
//! ```sql
//! venues(id bigint PRIMARY KEY, street_code bigint NOT NULL,
//!        district_code bigint NOT NULL, kind smallint)
//! venue_kinds(kind smallint PRIMARY KEY, dwell_seconds bigint NOT NULL)
//! scans(person_id bigint NOT NULL, venue_id bigint NOT NULL,
//!       entered timestamptz NOT NULL, left_at timestamptz,
//!       CHECK (left_at IS NULL OR left_at <= entered + <longest stay>))
//! ```
//!
//! (the full text is [`sql::schema`]). Why each index exists:
//!
//! * `scans (venue_id, entered)`: affected persons go from the area's venues to the
//!   scans at each venue in a time range; tracing goes from each of the case's stays
//!   to the other scans at that venue around that time. Both are range scans of
//!   this index.
//! * `scans (person_id, entered)`: tracing starts from the case's own scans in the
//!   window.
//! * `venues (district_code, street_code)`: an area of a district to its venues
//!   (and a street within a known district).
//! * `venues (street_code)`: an area of one street to its venues.
//! * `venues (id)` (primary key): a scan's venue, for its kind, in tracing.
//! * `venue_kinds (kind)` (primary key): the dwell assumed when no exit was
//!   recorded; a handful of rows.
//!
//! There is deliberately no surrogate key on `scans` (nothing refers to a scan, and
//! a `bigserial` primary key would be a third index to maintain on every insert) and
//! no foreign key to `venues` (its per-row check would slow inserts). Both omissions
//! favour the baseline.
//!
//! # Stays
//!
//! A stay is `[entered, end)`, where `end` is `left_at` if that is after `entered`,
//! else `entered` plus the dwell of the venue's kind (`venue_kinds`, or
//! [`Stays::default_dwell_seconds`]): Mingma's definition (`mingma_core::derive`).
//! A stay overlaps a window `[from, until)` when `entered < until` and
//! `from < end`. The schema bounds a recorded stay by
//! [`Stays::max_stay_seconds`], so that "overlaps" can be answered with a bounded
//! range on `entered` (`from - longest stay < entered < until`) and stays exact.
//!
//! # Durability
//!
//! [`Baseline::insert_batched`] refuses to run unless the server's `fsync` is on
//! and `synchronous_commit` is not `off` ([`Durability::allows_benchmarks`]);
//! [`Baseline::durability`] reports the settings, to be printed with every
//! measurement.
//!
//! # Session settings
//!
//! Each connection sets [`SESSION_SETTINGS`]; see there for why.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod sql;

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

/// Settings each connection makes before its first statement: the tuning a
/// competent deployment on SSDs with a warm cache applies, none of which weakens
/// durability.
///
/// * `random_page_cost = 1.1` (the usual SSD setting, instead of 4, which models
///   spinning disks): with 4, PostgreSQL 15 answers affected persons with a
///   parallel sequential scan of the whole table, about twice as slow, warm, as the
///   `(venue_id, entered)` range scans it picks with 1.1.
/// * `jit = off`: at scale the affected-persons query is estimated expensive
///   enough to be compiled with LLVM on every execution, which costs more than it
///   saves for index range scans; OLTP deployments turn it off.
/// * `work_mem = '64MB'`: the `DISTINCT` over tens of thousands of persons is
///   hashed in memory rather than spilled to disk.
pub const SESSION_SETTINGS: &str =
    "SET random_page_cost = 1.1; SET jit = off; SET work_mem = '64MB'";

/// Errors of the baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The server or the connection reported an error.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Commits would not be durable, so a measurement would be meaningless.
    #[error("refusing to benchmark: commits are not durable ({0})")]
    NotDurable(Durability),
    /// The stay rules are inconsistent.
    #[error("invalid stay rules: {0}")]
    InvalidStays(String),
    /// A batch size of zero was asked for.
    #[error("the batch size must be at least 1")]
    ZeroBatch,
}

/// The result type of the baseline.
pub type Result<T, E = BaselineError> = std::result::Result<T, E>;

/// A venue scan as the baseline stores it: one row of `scans`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaselineScan {
    /// The person (an opaque number).
    pub person: i64,
    /// The venue ([`BaselineVenue::id`]).
    pub venue: i64,
    /// Entry, in seconds since the Unix epoch.
    pub entered_unix: i64,
    /// Exit, if recorded, in seconds since the Unix epoch; an exit not after the
    /// entry counts as not recorded.
    pub left_unix: Option<i64>,
}

/// A venue: one row of `venues`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaselineVenue {
    /// Id.
    pub id: i64,
    /// The street (township-level division) it is in.
    pub street_code: i64,
    /// The district (county-level division) it is in.
    pub district_code: i64,
    /// Its kind, which decides the dwell assumed when no exit is recorded
    /// ([`Stays`]).
    pub kind: i16,
}

/// A risk area: the venues of a district or of a street.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Every venue whose `district_code` is this.
    District(i64),
    /// Every venue whose `street_code` is this.
    Street(i64),
}

/// How long a stay without a recorded exit lasts, and the longest stay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stays {
    /// The dwell for a venue kind not listed in `kind_dwell_seconds`.
    pub default_dwell_seconds: i64,
    /// The dwell per venue kind (rows of `venue_kinds`).
    pub kind_dwell_seconds: Vec<(i16, i64)>,
    /// The longest stay: the schema refuses a scan whose exit is later than this
    /// after its entry, and every dwell must be at most this.
    pub max_stay_seconds: i64,
}

impl Default for Stays {
    /// One hour for every kind (the `default` dwell of Mingma's default rule set),
    /// stays of at most one day.
    fn default() -> Stays {
        Stays {
            default_dwell_seconds: 3_600,
            kind_dwell_seconds: Vec::new(),
            max_stay_seconds: 86_400,
        }
    }
}

impl Stays {
    fn check(&self) -> Result<()> {
        let bad = |what: String| Err(BaselineError::InvalidStays(what));
        if self.max_stay_seconds <= 0 {
            return bad(format!(
                "the longest stay must be positive, not {}",
                self.max_stay_seconds
            ));
        }
        let dwells = std::iter::once((None, self.default_dwell_seconds)).chain(
            self.kind_dwell_seconds
                .iter()
                .map(|(kind, dwell)| (Some(*kind), *dwell)),
        );
        for (kind, dwell) in dwells {
            if dwell <= 0 || dwell > self.max_stay_seconds {
                let which = kind.map_or("the default dwell".to_owned(), |k| {
                    format!("the dwell of kind {k}")
                });
                return bad(format!(
                    "{which} is {dwell} s; it must be in 1..={} s",
                    self.max_stay_seconds
                ));
            }
        }
        let mut kinds: Vec<i16> = self.kind_dwell_seconds.iter().map(|(k, _)| *k).collect();
        kinds.sort_unstable();
        if kinds.windows(2).any(|w| w[0] == w[1]) {
            return bad("a venue kind is listed twice".into());
        }
        Ok(())
    }
}

/// The settings that decide whether a commit survives a crash, as the server
/// reports them (`current_setting`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    /// `server_version`.
    pub server_version: String,
    /// `fsync`.
    pub fsync: bool,
    /// `synchronous_commit` (`on`, `remote_apply`, `remote_write`, `local` or `off`).
    pub synchronous_commit: String,
    /// `full_page_writes`.
    pub full_page_writes: bool,
}

impl Durability {
    /// Whether measurements of this server mean anything: `fsync` on and
    /// `synchronous_commit` not `off`.
    pub fn allows_benchmarks(&self) -> bool {
        self.fsync && self.synchronous_commit != "off"
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "PostgreSQL {}: fsync={}, synchronous_commit={}, full_page_writes={}",
            self.server_version,
            on(self.fsync),
            self.synchronous_commit,
            on(self.full_page_writes)
        )
    }
}

/// A person found by [`Baseline::trace`]: they were at `venue` while the case was
/// (give or take the margin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Contact {
    /// The person.
    pub person: i64,
    /// The venue.
    pub venue: i64,
    /// The earliest start of their stays' overlaps with the case's stays widened
    /// by the margin, in seconds since the Unix epoch.
    pub from_unix: i64,
    /// The latest end of those overlaps.
    pub until_unix: i64,
}

/// What [`Baseline::insert_batched`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertReport {
    /// Rows inserted.
    pub rows: u64,
    /// Batches (transactions) committed.
    pub batches: u64,
    /// Wall time from the first batch's assembly to the last batch's commit.
    pub elapsed: Duration,
    /// `rows / elapsed`.
    pub rows_per_second: f64,
    /// The median time of one batch, from sending it to its commit's
    /// acknowledgement.
    pub p50: Duration,
    /// The 99th percentile of the same.
    pub p99: Duration,
}

impl fmt::Display for InsertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows in {} transactions in {:.2} s = {:.0} rows/s; per batch p50 {:.1} ms, p99 {:.1} ms",
            self.rows,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.rows_per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

/// A connection to a database holding (or about to hold) the baseline schema.
pub struct Baseline {
    client: Client,
    stays: Stays,
    durability: Durability,
}

impl fmt::Debug for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Baseline")
            .field("stays", &self.stays)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Baseline {
    /// Connects to the database at `url` (a `postgresql://` URL or a libpq
    /// key=value string) with the default [`Stays`]. Must be called within a tokio
    /// runtime (the connection runs as a spawned task).
    pub async fn connect(url: &str) -> Result<Baseline> {
        Baseline::connect_with(url, Stays::default()).await
    }

    /// Connects with these stay rules, which must be the ones the schema was (or
    /// will be) created with.
    pub async fn connect_with(url: &str, stays: Stays) -> Result<Baseline> {
        stays.check()?;
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        // The task ends when the client is dropped or the server goes away.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client.batch_execute(SESSION_SETTINGS).await?;
        let durability = read_durability(&client).await?;
        Ok(Baseline {
            client,
            stays,
            durability,
        })
    }

    /// The durability settings read at connection.
    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    /// The stay rules.
    pub fn stays(&self) -> &Stays {
        &self.stays
    }

    /// The underlying client, for anything else a caller wants to ask (such as
    /// `EXPLAIN`). Statements through it share this connection.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Reads the durability settings again and refuses if measurements would be
    /// meaningless ([`Durability::allows_benchmarks`]); returns them otherwise.
    pub async fn require_durable(&self) -> Result<Durability> {
        let durability = read_durability(&self.client).await?;
        if durability.allows_benchmarks() {
            Ok(durability)
        } else {
            Err(BaselineError::NotDurable(durability))
        }
    }

    /// Creates the tables and indexes ([`sql::schema`]) and the `venue_kinds` rows
    /// of the stay rules, in one transaction; returns the durability settings.
    pub async fn create_schema(&self) -> Result<Durability> {
        let kinds: Vec<i16> = self.stays.kind_dwell_seconds.iter().map(|k| k.0).collect();
        let dwells: Vec<i64> = self.stays.kind_dwell_seconds.iter().map(|k| k.1).collect();
        self.client.batch_execute("BEGIN").await?;
        let created = async {
            self.client
                .batch_execute(&sql::schema(self.stays.max_stay_seconds))
                .await?;
            self.client
                .execute(
                    "INSERT INTO venue_kinds (kind, dwell_seconds) \
                     SELECT * FROM unnest($1::int2[], $2::int8[])",
                    &[&kinds, &dwells],
                )
                .await?;
            self.client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = created {
            let _ = self.client.batch_execute("ROLLBACK").await;
            return Err(e.into());
        }
        self.client.batch_execute("ANALYZE venue_kinds").await?;
        read_durability(&self.client).await
    }

    /// Inserts venues (one statement) and gathers the table's statistics; returns
    /// how many were inserted.
    pub async fn load_venues(&self, venues: &[BaselineVenue]) -> Result<u64> {
        let ids: Vec<i64> = venues.iter().map(|v| v.id).collect();
        let streets: Vec<i64> = venues.iter().map(|v| v.street_code).collect();
        let districts: Vec<i64> = venues.iter().map(|v| v.district_code).collect();
        let kinds: Vec<i16> = venues.iter().map(|v| v.kind).collect();
        let rows = self
            .client
            .execute(sql::INSERT_VENUES, &[&ids, &streets, &districts, &kinds])
            .await?;
        self.client.batch_execute("ANALYZE venues").await?;
        Ok(rows)
    }

    /// The warm-up load: streams `scans` into the table with a binary `COPY`
    /// (nothing is held in memory but a few kilobytes of buffer), the way a vendor
    /// loads history: the two scan indexes are dropped first and built again after
    /// the copy, all in one transaction (a failed load leaves the table as it
    /// was); then `VACUUM (ANALYZE)` sets hint bits and the visibility map and
    /// gathers statistics. Returns the rows copied.
    ///
    /// Not for use while other sessions query `scans`: dropping the indexes locks
    /// the table until the load commits.
    pub async fn bulk_load<I>(&self, scans: I) -> Result<u64>
    where
        I: IntoIterator<Item = BaselineScan>,
    {
        self.client.batch_execute("BEGIN").await?;
        let loaded = async {
            self.client.batch_execute(sql::DROP_SCAN_INDEXES).await?;
            let sink = self.client.copy_in(sql::COPY_SCANS).await?;
            let writer = BinaryCopyInWriter::new(
                sink,
                &[Type::INT8, Type::INT8, Type::TIMESTAMPTZ, Type::TIMESTAMPTZ],
            );
            let mut writer = std::pin::pin!(writer);
            for scan in scans {
                let entered = to_time(scan.entered_unix);
                let left = scan.left_unix.map(to_time);
                writer
                    .as_mut()
                    .write(&[&scan.person, &scan.venue, &entered, &left])
                    .await?;
            }
            let rows = writer.as_mut().finish().await?;
            self.client
                .batch_execute("SET LOCAL maintenance_work_mem = '1GB'")
                .await?;
            self.client.batch_execute(sql::SCAN_INDEXES).await?;
            self.client.batch_execute("COMMIT").await?;
            Ok::<u64, tokio_postgres::Error>(rows)
        }
        .await;
        let rows = match loaded {
            Ok(rows) => rows,
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(e.into());
            }
        };
        self.client.batch_execute("VACUUM (ANALYZE) scans").await?;
        Ok(rows)
    }

    /// The measured insert path: `scans` in client-side batches of `batch_size`,
    /// each batch one `INSERT … SELECT FROM unnest(…)` statement ([`sql::INSERT_BATCH`])
    /// and so one committed transaction, waited for before the next is sent, into
    /// the indexed table. Refuses unless commits are durable
    /// ([`Baseline::require_durable`]).
    pub async fn insert_batched<I>(&self, scans: I, batch_size: usize) -> Result<InsertReport>
    where
        I: IntoIterator<Item = BaselineScan>,
    {
        if batch_size == 0 {
            return Err(BaselineError::ZeroBatch);
        }
        self.require_durable().await?;
        let statement = self
            .client
            .prepare_typed(
                sql::INSERT_BATCH,
                &[
                    Type::INT8_ARRAY,
                    Type::INT8_ARRAY,
                    Type::TIMESTAMPTZ_ARRAY,
                    Type::TIMESTAMPTZ_ARRAY,
                ],
            )
            .await?;
        let mut scans = scans.into_iter();
        let mut persons = Vec::with_capacity(batch_size);
        let mut venues = Vec::with_capacity(batch_size);
        let mut entered = Vec::with_capacity(batch_size);
        let mut left = Vec::with_capacity(batch_size);
        let mut latencies = Vec::new();
        let mut rows = 0;
        let start = Instant::now();
        loop {
            persons.clear();
            venues.clear();
            entered.clear();
            left.clear();
            for scan in scans.by_ref().take(batch_size) {
                persons.push(scan.person);
                venues.push(scan.venue);
                entered.push(to_time(scan.entered_unix));
                left.push(scan.left_unix.map(to_time));
            }
            if persons.is_empty() {
                break;
            }
            let sent = Instant::now();
            rows += self
                .client
                .execute(&statement, &[&persons, &venues, &entered, &left])
                .await?;
            latencies.push(sent.elapsed());
        }
        let elapsed = start.elapsed();
        latencies.sort_unstable();
        Ok(InsertReport {
            rows,
            batches: latencies.len() as u64,
            elapsed,
            rows_per_second: rows as f64 / elapsed.as_secs_f64().max(1e-9),
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
        })
    }

    /// Affected persons of a risk area: the distinct persons with a stay at a venue
    /// of `area` that overlaps `[from_unix, until_unix)` (see the crate
    /// documentation for "stay" and "overlaps"), in ascending order. The SQL is
    /// [`sql::AFFECTED_IN_DISTRICT`] or [`sql::AFFECTED_IN_STREET`].
    pub async fn affected_persons(
        &self,
        area: Area,
        from_unix: i64,
        until_unix: i64,
    ) -> Result<Vec<i64>> {
        let (text, code) = match area {
            Area::District(code) => (sql::AFFECTED_IN_DISTRICT, code),
            Area::Street(code) => (sql::AFFECTED_IN_STREET, code),
        };
        let rows = self
            .client
            .query(
                text,
                &[
                    &code,
                    &to_time(from_unix),
                    &to_time(until_unix),
                    &self.stays.max_stay_seconds,
                    &self.stays.default_dwell_seconds,
                ],
            )
            .await?;
        let mut persons: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        persons.sort_unstable();
        Ok(persons)
    }

    /// The distinct persons with a scan *entered* in `[from_unix, until_unix)` at a
    /// venue of `area`, in ascending order: the narrower definition that
    /// `mingma_store::Store::persons_in_division` answers. The SQL is
    /// [`sql::ENTERED_IN_DISTRICT`] or [`sql::ENTERED_IN_STREET`].
    pub async fn persons_entered(
        &self,
        area: Area,
        from_unix: i64,
        until_unix: i64,
    ) -> Result<Vec<i64>> {
        let (text, code) = match area {
            Area::District(code) => (sql::ENTERED_IN_DISTRICT, code),
            Area::Street(code) => (sql::ENTERED_IN_STREET, code),
        };
        let rows = self
            .client
            .query(text, &[&code, &to_time(from_unix), &to_time(until_unix)])
            .await?;
        let mut persons: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        persons.sort_unstable();
        Ok(persons)
    }

    /// The tracing query ([`sql::TRACE`]): the case's stays that overlap
    /// `[from_unix, until_unix)`, each widened by `margin_seconds` on both sides;
    /// every other person with a stay at the same venue overlapping a widened stay,
    /// one [`Contact`] per (person, venue), ordered by person then venue.
    pub async fn trace(
        &self,
        case_person: i64,
        from_unix: i64,
        until_unix: i64,
        margin_seconds: i64,
    ) -> Result<Vec<Contact>> {
        let rows = self
            .client
            .query(
                sql::TRACE,
                &[
                    &case_person,
                    &to_time(from_unix),
                    &to_time(until_unix),
                    &self.stays.max_stay_seconds,
                    &self.stays.default_dwell_seconds,
                    &margin_seconds,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Contact {
                person: r.get(0),
                venue: r.get(1),
                from_unix: from_time(r.get(2)),
                until_unix: from_time(r.get(3)),
            })
            .collect())
    }

    /// The rows of `scans` (`count(*)`, a full scan).
    pub async fn scan_count(&self) -> Result<u64> {
        let n: i64 = self
            .client
            .query_one("SELECT count(*) FROM scans", &[])
            .await?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// `pg_total_relation_size('scans')` (heap, both indexes, free-space and
    /// visibility maps) over the row count ([`sql::BYTES_PER_SCAN`]).
    pub async fn bytes_per_scan(&self) -> Result<f64> {
        Ok(self
            .client
            .query_one(sql::BYTES_PER_SCAN, &[])
            .await?
            .get(0))
    }
}

async fn read_durability(client: &Client) -> Result<Durability> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('fsync'), \
             current_setting('synchronous_commit'), current_setting('full_page_writes')",
            &[],
        )
        .await?;
    let on = |s: String| matches!(s.as_str(), "on" | "true" | "yes" | "1");
    Ok(Durability {
        server_version: row.get(0),
        fsync: on(row.get(1)),
        synchronous_commit: row.get(2),
        full_page_writes: on(row.get(3)),
    })
}

/// Runs `op` `repetitions` times (at least once), one after another, and returns
/// the median time of one run with the last run's result. Callers warm the cache
/// first if they want warm-cache numbers.
pub async fn median_time<T, E, F, Fut>(repetitions: usize, mut op: F) -> Result<(Duration, T), E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut times = Vec::with_capacity(repetitions.max(1));
    let started = Instant::now();
    let mut last = op().await?;
    times.push(started.elapsed());
    for _ in 1..repetitions {
        let started = Instant::now();
        last = op().await?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok((percentile(&times, 0.5), last))
}

/// The value at fraction `p` (0 to 1) of `sorted`, by nearest rank; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Seconds since the epoch as a `SystemTime` (before the epoch too).
fn to_time(unix: i64) -> SystemTime {
    let magnitude = Duration::from_secs(unix.unsigned_abs());
    if unix >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// A `SystemTime` as whole seconds since the epoch, rounded down.
fn from_time(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_both_sides_of_the_epoch() {
        for t in [0, 1, -1, 1_654_041_600, -86_400] {
            assert_eq!(from_time(to_time(t)), t);
        }
        assert_eq!(from_time(UNIX_EPOCH - Duration::from_millis(500)), -1);
    }

    #[test]
    fn stay_rules_are_checked() {
        assert!(Stays::default().check().is_ok());
        let mut s = Stays {
            kind_dwell_seconds: vec![(1, 600), (2, 90_000)],
            ..Stays::default()
        };
        assert!(s.check().is_err());
        s.kind_dwell_seconds = vec![(1, 600), (1, 700)];
        assert!(s.check().is_err());
        s.kind_dwell_seconds = vec![(1, 600)];
        s.default_dwell_seconds = 0;
        assert!(s.check().is_err());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn every_parameter_of_the_queries_is_used() {
        for (text, n) in [
            (sql::AFFECTED_IN_DISTRICT, 5),
            (sql::AFFECTED_IN_STREET, 5),
            (sql::ENTERED_IN_DISTRICT, 3),
            (sql::TRACE, 6),
        ] {
            for p in 1..=n {
                assert!(text.contains(&format!("${p}")), "${p} in {text}");
            }
            assert!(!text.contains(&format!("${}", n + 1)), "{text}");
        }
    }
}
