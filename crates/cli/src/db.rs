//! The `--db` option: which store a command uses.
//!
//! A file path opens the embedded SQLite store; a `postgres://` or `postgresql://`
//! URL connects to PostgreSQL. The commands are generic over [`mingma_store::Store`];
//! [`with_store!`](crate::with_store) runs a command body on whichever was opened.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;
use mingma_store_postgres::PostgresStore;
use mingma_store_sqlite::SqliteStore;

#[derive(Args)]
pub struct DbArg {
    /// The store: a SQLite database file, or a postgres:// URL.
    #[arg(long, default_value = "mingma.sqlite", env = "MINGMA_DB")]
    db: String,
}

/// An opened store.
pub enum Opened {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl DbArg {
    fn is_postgres(&self) -> bool {
        self.db.starts_with("postgres://") || self.db.starts_with("postgresql://")
    }

    /// Opens the store, creating a SQLite file if it does not exist (for `import`).
    pub async fn open_or_create(&self) -> Result<Opened> {
        if self.is_postgres() {
            let store = PostgresStore::connect(&self.db)
                .await
                .context("cannot connect to the PostgreSQL store")?;
            return Ok(Opened::Postgres(store));
        }
        let store =
            SqliteStore::open(&self.db).with_context(|| format!("cannot open {}", self.db))?;
        Ok(Opened::Sqlite(store))
    }

    /// Opens an existing store; a missing SQLite file is an error rather than a new,
    /// empty ledger that would verify as clean.
    pub async fn open_existing(&self) -> Result<Opened> {
        if !self.is_postgres() && !Path::new(&self.db).is_file() {
            bail!(
                "no database at {} (give --db PATH or a postgres:// URL, or create one with `mingma import`)",
                self.db
            );
        }
        self.open_or_create().await
    }
}

/// Runs `$body` with `$store` bound to the store `$opened` holds, whichever backend
/// it is (the body is compiled once per backend).
#[macro_export]
macro_rules! with_store {
    ($opened:expr, |$store:ident| $body:expr) => {
        match $opened {
            $crate::db::Opened::Sqlite($store) => $body,
            $crate::db::Opened::Postgres($store) => $body,
        }
    };
}
