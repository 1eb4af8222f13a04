//! Durability checks and embedded migrations.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use mingma_store::{Result, StoreError};

use crate::backend;

/// Migrations, in order. A migration that shipped is never edited: its checksum is
/// recorded when applied and checked at every start.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../migrations/0001_initial.sql"),
    ),
    (
        "0002_seals_and_acts",
        include_str!("../migrations/0002_seals_and_acts.sql"),
    ),
    (
        "0003_code_changes_by_person",
        include_str!("../migrations/0003_code_changes_by_person.sql"),
    ),
    (
        "0004_pending_derivations",
        include_str!("../migrations/0004_pending_derivations.sql"),
    ),
];

/// The advisory lock that serialises migrations of nodes starting at once.
const MIGRATION_LOCK: i64 = 0x6d69_6e67_6d61_0001;

/// The settings that decide whether a commit survives a crash, as the server
/// reports them to this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Durability {
    pub server_version: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub full_page_writes: String,
    pub wal_sync_method: String,
}

impl Durability {
    /// Reads the settings of `client`'s session.
    pub async fn read(client: &Client) -> Result<Self> {
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('fsync'), \
                 current_setting('synchronous_commit'), current_setting('full_page_writes'), \
                 current_setting('wal_sync_method')",
                &[],
            )
            .await
            .map_err(backend)?;
        Ok(Self {
            server_version: row.try_get(0).map_err(backend)?,
            fsync: row.try_get(1).map_err(backend)?,
            synchronous_commit: row.try_get(2).map_err(backend)?,
            full_page_writes: row.try_get(3).map_err(backend)?,
            wal_sync_method: row.try_get(4).map_err(backend)?,
        })
    }

    /// Refuses settings under which an acknowledged commit could be lost: `fsync`
    /// and `full_page_writes` must be on, and `synchronous_commit` must wait for the
    /// local WAL flush (`on`, or the stricter `remote_write` / `remote_apply`, or
    /// `local`; not `off`).
    pub fn check(&self) -> Result<()> {
        let refuse = |setting: &str, value: &str, want: &str| {
            Err(StoreError::Backend(format!(
                "PostgreSQL runs with {setting}={value}: a commit could be lost on a crash; \
                 Mingma requires {setting}={want}"
            )))
        };
        if !is_on(&self.fsync) {
            return refuse("fsync", &self.fsync, "on");
        }
        if !matches!(
            self.synchronous_commit.as_str(),
            "on" | "local" | "remote_write" | "remote_apply"
        ) {
            return refuse("synchronous_commit", &self.synchronous_commit, "on");
        }
        if !is_on(&self.full_page_writes) {
            return refuse("full_page_writes", &self.full_page_writes, "on");
        }
        Ok(())
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PostgreSQL {}: fsync={}, synchronous_commit={}, full_page_writes={}, wal_sync_method={}",
            self.server_version,
            self.fsync,
            self.synchronous_commit,
            self.full_page_writes,
            self.wal_sync_method
        )
    }
}

fn is_on(value: &str) -> bool {
    matches!(value, "on" | "true" | "yes" | "1")
}

/// Applies the migrations not yet applied and checks that those applied before are
/// unchanged, in one transaction under an advisory lock (so nodes starting together
/// do not race).
pub(crate) async fn migrate(client: &mut Client) -> Result<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name   text PRIMARY KEY,
             sha256 bytea NOT NULL
         )",
    )
    .await
    .map_err(backend)?;
    let applied: Vec<String> = tx
        .query("SELECT name FROM schema_migrations ORDER BY name", &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(backend)?;
    mingma_store::refuse_unknown_migrations(&applied, MIGRATIONS)?;
    for (name, sql) in MIGRATIONS {
        let digest = Sha256::digest(sql.as_bytes()).to_vec();
        let applied: Option<Vec<u8>> = tx
            .query_opt(
                "SELECT sha256 FROM schema_migrations WHERE name = $1",
                &[name],
            )
            .await
            .map_err(backend)?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(backend)?;
        match applied {
            Some(recorded) if recorded == digest => {}
            Some(_) => {
                return Err(StoreError::Backend(format!(
                    "migration {name} differs from the one applied to this database: shipped migrations must never be edited"
                )))
            }
            None => {
                tx.batch_execute(sql)
                    .await
                    .map_err(|e| StoreError::Backend(format!("migration {name}: {}", describe(&e))))?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
                    &[name, &digest],
                )
                .await
                .map_err(backend)?;
            }
        }
    }
    tx.commit().await.map_err(backend)
}

/// A database error with its message, detail and code (tokio-postgres's own
/// `Display` says only "db error").
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            text.push_str(&format!(" [SQLSTATE {}]", db.code().code()));
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}
