//! Real PostgreSQL servers for Mingma's tests: a throwaway cluster made with the
//! machine's own `initdb` and `postgres` in a temporary directory, or the server that
//! `MINGMA_TEST_POSTGRES_URL` names. Never a mock.
//!
//! ```no_run
//! let cluster = mingma_pgtest::PgCluster::shared()?; // one cluster per test binary
//! let url = cluster.fresh_database("append_is_atomic")?; // one database per test
//! println!("{}", cluster.settings()); // PostgreSQL 15.18: fsync=on, synchronous_commit=on, …
//! // connect with tokio_postgres::connect(&url, NoTls)
//! # Ok::<(), mingma_pgtest::PgTestError>(())
//! ```
//!
//! # Which server
//!
//! * `MINGMA_TEST_POSTGRES_URL` set (a `postgresql://` URL): that server, as it is.
//!   [`PgCluster::fresh_database`] creates uniquely named databases in it (named
//!   `mingma_<hint>_…`; they are not dropped).
//! * Otherwise a new cluster: `initdb -U postgres --auth=trust -E UTF8 --locale=C`
//!   into `$TMPDIR/mingma-pgtest-<uid>/c-<pid>-<start>-<random>/data`, and the server
//!   started with [`SERVER_SETTINGS`] (`fsync`, `synchronous_commit` and
//!   `full_page_writes` on), listening on no TCP address, only on a Unix socket in
//!   that directory, so parallel test binaries never compete for a port.
//!
//! The programs are looked for in `MINGMA_PG_BIN` (only there, if it is set), then
//! `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin`, then
//! `PATH`. `apt-get install postgresql-15` provides them; `.ci/run` installs it when
//! they are missing.
//!
//! PostgreSQL refuses to run as root. When this process is root, `initdb`, `pg_ctl`
//! and the server run as the `postgres` system user, in a directory owned by it:
//! std's `CommandExt::uid`/`gid` do what `runuser -u postgres` does (set the group,
//! drop supplementary groups, set the user) between fork and exec, with no PAM
//! session and no extra process between this one and the server. Otherwise they run
//! as the current user.
//!
//! # Cleanup
//!
//! * [`PgCluster::stop`], or dropping a [`PgCluster`] made by [`PgCluster::start`]:
//!   `pg_ctl stop -m immediate`, the server's exit is awaited, the directory removed.
//! * The end of the process, in any way (the [`PgCluster::shared`] cluster lives in
//!   a `static`, which is never dropped; a panic with `panic=abort`; SIGKILL; Ctrl-C):
//!   the server is started not through `pg_ctl start`, which detaches it, but as a
//!   direct child of a thread of this process that exists only to wait for it,
//!   through util-linux's `setpriv --pdeathsig QUIT`. When that thread ends, which
//!   is only when the server has exited or the process is gone, the kernel sends the
//!   server SIGQUIT: PostgreSQL's immediate shutdown. No shell loop, no signal
//!   handler, no `atexit` (which safe Rust cannot register).
//! * What that leaves is the directory. Each directory's name holds its process's
//!   pid and start time (from /proc), and every start first sweeps the directories
//!   whose process no longer exists: a server still running there (its pid's working
//!   directory is that data directory) is stopped with `pg_ctl stop -m immediate`,
//!   and the directory removed. So at most the last run's directories (about 40 MB
//!   each) stay until the next start, and nothing stale can block one: there are no
//!   shared ports or sockets. Should a server outlive both (no `setpriv`), PostgreSQL
//!   itself shuts down within a minute of its data directory's removal.
//!
//! Readiness is waited for as `pg_ctl start -w` does: until `postmaster.pid` names
//! the server and says `ready`.
//!
//! # Environment
//!
//! * `MINGMA_TEST_POSTGRES_URL`: use this server instead of starting one.
//! * `MINGMA_PG_BIN`: the directory holding `initdb`, `pg_ctl` and `postgres`.
//! * `TMPDIR`: where cluster directories go (default `/tmp`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bins;
mod error;
mod local;
mod sys;
mod url;

use std::fmt;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub use error::PgTestError;

use local::LocalCluster;
use url::PgUrl;

/// The settings a throwaway cluster's server is started with, as `-c name=value`:
/// durability is on, as in production, so that what tests and benchmarks measure is
/// what a durable commit costs.
pub const SERVER_SETTINGS: [(&str, &str); 3] = [
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
];

/// The superuser of a throwaway cluster (`initdb -U postgres`), with trust
/// authentication on its Unix socket.
pub const SUPERUSER: &str = "postgres";

/// The environment variable naming a running server to use instead of starting one.
pub const URL_VAR: &str = "MINGMA_TEST_POSTGRES_URL";

/// A PostgreSQL server for tests: a throwaway cluster this crate started, or the
/// server named by `MINGMA_TEST_POSTGRES_URL`.
pub struct PgCluster {
    local: Option<LocalCluster>,
    url: String,
    parsed: PgUrl,
    psql: PathBuf,
    settings: DurabilitySettings,
}

impl PgCluster {
    /// The server named by `MINGMA_TEST_POSTGRES_URL` if it is set and not empty,
    /// else a new throwaway cluster ([`PgCluster::start_local`]).
    pub fn start() -> Result<PgCluster, PgTestError> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => PgCluster::external(url.trim()),
            Err(std::env::VarError::NotUnicode(_)) => Err(PgTestError::BadUrl {
                url: URL_VAR.into(),
                reason: "its value is not UTF-8".into(),
            }),
            _ => PgCluster::start_local(),
        }
    }

    /// A new throwaway cluster, whatever `MINGMA_TEST_POSTGRES_URL` says. It is
    /// stopped and its directory removed by [`PgCluster::stop`] or on drop.
    pub fn start_local() -> Result<PgCluster, PgTestError> {
        let local = LocalCluster::start()?;
        let url = local.url();
        let parsed = PgUrl::parse(&url)?;
        let mut cluster = PgCluster {
            url,
            parsed,
            psql: local.psql().to_path_buf(),
            local: Some(local),
            settings: DurabilitySettings::default(),
        };
        cluster.settings = cluster.query_settings()?;
        Ok(cluster)
    }

    /// A running server at `url` (a `postgresql://` or `postgres://` URL), checked by
    /// connecting to it with `psql`. Nothing is started or stopped.
    pub fn external(url: &str) -> Result<PgCluster, PgTestError> {
        let parsed = PgUrl::parse(url)?;
        let psql = bins::Search::from_env().psql()?;
        let mut cluster = PgCluster {
            local: None,
            url: url.to_owned(),
            parsed,
            psql,
            settings: DurabilitySettings::default(),
        };
        cluster.settings = cluster.query_settings()?;
        Ok(cluster)
    }

    /// The one server of this process, started by the first call
    /// ([`PgCluster::start`]), shared by every test of the binary; each test makes
    /// its own database with [`PgCluster::fresh_database`]. If the start failed,
    /// every call returns that error. It is never dropped: its server stops when the
    /// process ends and its directory is removed by the next start (see the crate
    /// documentation).
    pub fn shared() -> Result<&'static PgCluster, PgTestError> {
        static SHARED: OnceLock<Result<PgCluster, PgTestError>> = OnceLock::new();
        SHARED
            .get_or_init(PgCluster::start)
            .as_ref()
            .map_err(PgTestError::clone)
    }

    /// The URL of the server's maintenance database (`postgres` for a throwaway
    /// cluster, whatever `MINGMA_TEST_POSTGRES_URL` names otherwise). A throwaway
    /// cluster's is `postgresql://postgres@/postgres?host=<socket dir>&port=5432`,
    /// which libpq, psql and tokio-postgres all accept.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of database `database` on this server.
    pub fn database_url(&self, database: &str) -> String {
        self.parsed.with_database(database)
    }

    /// Creates a new, empty database whose name starts with `mingma_`, then
    /// `name_hint` (lower-cased, other characters as `_`, at most 24), then numbers
    /// unique in this process and across processes; returns its URL.
    pub fn fresh_database(&self, name_hint: &str) -> Result<String, PgTestError> {
        let name = database_name(name_hint);
        self.psql(&self.url, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.database_url(&name))
    }

    /// The durability settings the server runs with, as it reports them; print them
    /// with every measurement (`Display`).
    pub fn settings(&self) -> &DurabilitySettings {
        &self.settings
    }

    /// Runs `sql` with `psql` on the database at `url` and returns what it printed:
    /// unaligned, tuples only, fields separated by `|`, rows by newlines, without the
    /// final newline. Stops at the first error, which is returned.
    pub fn psql(&self, url: &str, sql: &str) -> Result<String, PgTestError> {
        let mut cmd = Command::new(&self.psql);
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
        ])
        .arg(url)
        .arg("-c")
        .arg(sql)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if self.local.is_some() {
            // Nothing from the environment may redirect a throwaway cluster's client.
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("PG") {
                    cmd.env_remove(name);
                }
            }
            cmd.env("PGCONNECT_TIMEOUT", "10");
        } else if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
            cmd.env("PGCONNECT_TIMEOUT", "10");
        }
        let out = cmd.output().map_err(|e| PgTestError::Spawn {
            command: self.psql.display().to_string(),
            source: std::sync::Arc::new(e),
        })?;
        if !out.status.success() {
            return Err(PgTestError::Psql {
                url: url::redact(url),
                sql: sql.to_owned(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
            });
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// Whether this is the server named by `MINGMA_TEST_POSTGRES_URL` (or given to
    /// [`PgCluster::external`]) rather than a throwaway cluster.
    pub fn is_external(&self) -> bool {
        self.local.is_none()
    }

    /// A throwaway cluster's directory: the Unix socket's directory (the URL's
    /// `host`), holding `data/` and `postgres.log`; removed when the cluster stops.
    pub fn socket_dir(&self) -> Option<&Path> {
        self.local.as_ref().map(LocalCluster::root)
    }

    /// A throwaway cluster's port (the URL's `port`; it only names the socket file).
    pub fn port(&self) -> Option<u16> {
        self.local.as_ref().map(|_| local::PORT)
    }

    /// A throwaway cluster's data directory.
    pub fn data_dir(&self) -> Option<&Path> {
        self.local.as_ref().map(LocalCluster::data_dir)
    }

    /// The directory of the PostgreSQL programs a throwaway cluster runs (where
    /// `pgbench` and the other tools of the same version are, too).
    pub fn bin_dir(&self) -> Option<&Path> {
        self.local.as_ref().map(LocalCluster::bin_dir)
    }

    /// A throwaway cluster's server log (removed with the cluster).
    pub fn log_file(&self) -> Option<&Path> {
        self.local.as_ref().map(LocalCluster::log_file)
    }

    /// Stops a throwaway cluster (`pg_ctl stop -m immediate`), waits for the server to
    /// exit and removes its directory, reporting any failure (dropping does the same
    /// but can only print failures). Does nothing to an external server.
    pub fn stop(mut self) -> Result<(), PgTestError> {
        match self.local.as_mut() {
            Some(local) => local.stop(),
            None => Ok(()),
        }
    }

    fn query_settings(&self) -> Result<DurabilitySettings, PgTestError> {
        let sql = "SELECT current_setting('server_version'), current_setting('fsync'), \
                   current_setting('synchronous_commit'), current_setting('full_page_writes'), \
                   current_setting('wal_sync_method')";
        let out = self.psql(&self.url, sql)?;
        let unexpected = || PgTestError::UnexpectedOutput {
            what: "the durability settings query".into(),
            output: out.clone(),
        };
        let fields: Vec<&str> = out.trim().split('|').collect();
        let [version, fsync, synchronous_commit, full_page_writes, wal_sync_method] =
            fields.as_slice()
        else {
            return Err(unexpected());
        };
        Ok(DurabilitySettings {
            server_version: (*version).to_owned(),
            fsync: parse_bool(fsync).ok_or_else(unexpected)?,
            synchronous_commit: (*synchronous_commit).to_owned(),
            full_page_writes: parse_bool(full_page_writes).ok_or_else(unexpected)?,
            wal_sync_method: (*wal_sync_method).to_owned(),
        })
    }
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("url", &url::redact(&self.url))
            .field("external", &self.is_external())
            .field("settings", &self.settings)
            .finish()
    }
}

/// The settings that decide whether a commit survives a crash, as the server
/// reports them (`current_setting`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DurabilitySettings {
    /// `server_version`, such as `15.18 (Debian 15.18-0+deb12u1)`.
    pub server_version: String,
    /// `fsync`: whether the server forces its writes to disk.
    pub fsync: bool,
    /// `synchronous_commit`: `on` (also `remote_apply`, `remote_write`, `local`)
    /// waits for the commit's WAL flush; `off` does not.
    pub synchronous_commit: String,
    /// `full_page_writes`: whether torn pages can be repaired after a crash.
    pub full_page_writes: bool,
    /// `wal_sync_method`, such as `fdatasync`.
    pub wal_sync_method: String,
}

impl DurabilitySettings {
    /// Whether a committed transaction survives a crash of the server or the
    /// machine: `fsync` and `full_page_writes` on and `synchronous_commit` not `off`.
    pub fn is_durable(&self) -> bool {
        self.fsync && self.full_page_writes && self.synchronous_commit != "off"
    }
}

impl fmt::Display for DurabilitySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        write!(
            f,
            "PostgreSQL {}: fsync={}, synchronous_commit={}, full_page_writes={}, wal_sync_method={}",
            self.server_version,
            on(self.fsync),
            self.synchronous_commit,
            on(self.full_page_writes),
            self.wal_sync_method
        )
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A database name for `hint`: `mingma_<hint>_<n>_<pid>_<random>`, at most 53 bytes
/// (PostgreSQL's limit is 63), only `[a-z0-9_]`.
fn database_name(hint: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut clean = String::new();
    for c in hint.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if c == '_' && (clean.is_empty() || clean.ends_with('_')) {
            continue;
        }
        clean.push(c);
        if clean.len() == 24 {
            break;
        }
    }
    let clean = clean.trim_end_matches('_');
    let clean = if clean.is_empty() { "db" } else { clean };
    format!(
        "mingma_{clean}_{n}_{}_{:04x}",
        std::process::id(),
        random_u64() & 0xffff
    )
}

/// A random number from std's hasher keys (no dependency needed for names).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one((
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::process::id(),
        std::time::SystemTime::now(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_clean_unique_and_short() {
        let a = database_name("Append is Atomic!");
        let b = database_name("Append is Atomic!");
        assert_ne!(a, b);
        assert!(a.starts_with("mingma_append_is_atomic_"), "{a}");
        let long = database_name(&"x-".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert!(database_name("").starts_with("mingma_db_"));
        assert!(database_name("例子").starts_with("mingma_db_"));
        for name in [a, b, long] {
            assert!(name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
        }
    }

    #[test]
    fn durability_is_all_three() {
        let mut s = DurabilitySettings {
            server_version: "15.18".into(),
            fsync: true,
            synchronous_commit: "on".into(),
            full_page_writes: true,
            wal_sync_method: "fdatasync".into(),
        };
        assert!(s.is_durable());
        assert_eq!(
            s.to_string(),
            "PostgreSQL 15.18: fsync=on, synchronous_commit=on, full_page_writes=on, wal_sync_method=fdatasync"
        );
        s.synchronous_commit = "off".into();
        assert!(!s.is_durable());
        s.synchronous_commit = "local".into();
        assert!(s.is_durable());
        s.fsync = false;
        assert!(!s.is_durable());
    }
}
