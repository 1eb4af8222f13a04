//! The one error type of this crate: every environment problem is one of these,
//! never a panic.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong while finding, starting, using or stopping a PostgreSQL server.
///
/// Every message says what was missing or failed and, where there is one, what
/// fixes it. The type is `Clone` so that [`crate::PgCluster::shared`] can hand the
/// same failure to every test of a binary.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PgTestError {
    /// No directory holding the needed PostgreSQL programs was found.
    #[error(
        "PostgreSQL programs not found (needed: {needed}); tried: {tried}. \
         `apt-get install postgresql-15` provides them (in /usr/lib/postgresql/15/bin; \
         the client psql alone is in postgresql-client-15). Or set MINGMA_PG_BIN to the \
         directory holding them, or MINGMA_TEST_POSTGRES_URL to a running server",
        tried = .tried.join("; ")
    )]
    BinariesNotFound {
        /// The programs that were looked for.
        needed: String,
        /// Each place that was looked at, and why it did not do.
        tried: Vec<String>,
    },

    /// The process runs as root, PostgreSQL refuses to, and there is no `postgres`
    /// system user to run it as.
    #[error(
        "this process runs as root and PostgreSQL refuses to run as root, so the cluster \
         must run as the `{user}` system user, but there is no such user (looked up with \
         `getent passwd {user}` and in /etc/passwd); `apt-get install postgresql-15` creates it"
    )]
    NoSystemUser {
        /// The user name looked for.
        user: String,
    },

    /// A program could not be started as the `postgres` user (the equivalent of a
    /// `runuser -u postgres` failure).
    #[error(
        "could not start `{command}` as user {user} (uid {uid}, gid {gid}): {source}; \
         switching user needs root with CAP_SETUID and CAP_SETGID"
    )]
    RunAs {
        /// The command line.
        command: String,
        /// The user it was to run as.
        user: String,
        /// That user's id.
        uid: u32,
        /// That user's group id.
        gid: u32,
        /// Why the start failed.
        #[source]
        source: Arc<io::Error>,
    },

    /// A program could not be started at all.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why the start failed.
        #[source]
        source: Arc<io::Error>,
    },

    /// A program ran and failed.
    #[error("`{command}` failed ({status}):\n{output}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// The end of what it printed.
        output: String,
    },

    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path.
        what: String,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },

    /// A directory cannot be used for a cluster.
    #[error("{path} cannot hold a test cluster: {reason}")]
    UnusableDirectory {
        /// The directory.
        path: PathBuf,
        /// Why not, and what to do.
        reason: String,
    },

    /// The server's Unix socket path would be longer than the system allows.
    #[error(
        "the server's socket path {path} is {len} bytes, more than the 107 a Unix socket \
         path may have; point TMPDIR at a shorter directory"
    )]
    SocketPathTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },

    /// The server exited while starting.
    #[error("the PostgreSQL server exited while starting ({status}); the end of its log {log}:\n{log_tail}")]
    ServerExited {
        /// How it ended.
        status: String,
        /// Its log file (removed with the cluster directory).
        log: PathBuf,
        /// The last lines of the log.
        log_tail: String,
    },

    /// The server did not report itself ready in time.
    #[error("the PostgreSQL server was not ready after {waited_secs} s; the end of its log {log}:\n{log_tail}")]
    StartTimeout {
        /// How long was waited.
        waited_secs: u64,
        /// Its log file (removed with the cluster directory).
        log: PathBuf,
        /// The last lines of the log.
        log_tail: String,
    },

    /// The server could not be stopped.
    #[error("could not stop the PostgreSQL server (pid {pid}) of {data_dir}: {reason}")]
    Stop {
        /// The postmaster's process id.
        pid: u32,
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// What failed.
        reason: String,
    },

    /// `psql` failed: the server could not be reached or the SQL failed.
    #[error("psql on {url} failed ({status}) running {sql:?}:\n{stderr}")]
    Psql {
        /// The connection URL, password removed.
        url: String,
        /// The SQL.
        sql: String,
        /// How psql ended.
        status: String,
        /// What psql printed on standard error.
        stderr: String,
    },

    /// A connection URL that this crate cannot use.
    #[error("{url} is not a usable PostgreSQL URL: {reason}")]
    BadUrl {
        /// The URL, password removed.
        url: String,
        /// Why not.
        reason: String,
    },

    /// The server answered something this crate did not expect.
    #[error("unexpected answer from the server to {what}: {output:?}")]
    UnexpectedOutput {
        /// What was asked.
        what: String,
        /// What came back.
        output: String,
    },
}

impl PgTestError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        PgTestError::Io {
            what: what.into(),
            source: Arc::new(source),
        }
    }
}
