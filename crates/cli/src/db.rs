//! The `--db` option: which store the ledger commands use.
//!
//! Only SQLite today (one file); the commands themselves are generic over
//! [`mingma_store::Store`], so another backend plugs in here.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use mingma_store_sqlite::SqliteStore;

#[derive(Args)]
pub struct DbArg {
    /// The SQLite database file.
    #[arg(long, default_value = "mingma.sqlite")]
    db: PathBuf,
}

impl DbArg {
    /// Opens the store, creating the file if it does not exist (for `import`).
    pub fn open_or_create(&self) -> Result<SqliteStore> {
        SqliteStore::open(&self.db).with_context(|| format!("cannot open {}", self.db.display()))
    }

    /// Opens an existing store; a missing file is an error rather than a new, empty
    /// ledger that would verify as clean.
    pub fn open_existing(&self) -> Result<SqliteStore> {
        if !self.db.is_file() {
            bail!(
                "no database at {} (give --db PATH, or create one with `mingma import`)",
                self.db.display()
            );
        }
        self.open_or_create()
    }
}
