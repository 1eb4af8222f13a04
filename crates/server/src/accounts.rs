//! The server's own database (SQLite, a file beside the store): holders' accounts,
//! one-time-code challenges, sessions, the venue and authority registry, and the
//! read model of each person's code changes.
//!
//! None of it is evidence and none of it goes into the ledger: a holder's name and
//! phone are personal data that the log must never hold (its leaves are salted
//! commitments). The ID number itself is not stored: an account is keyed by the
//! person key (the keyed hash of the ID number), with the last four characters kept
//! for the checkpoint code.

use std::path::Path;
use std::sync::{Arc, Mutex};

use mingma_core::{
    Authority, AuthorityId, Directory, Jurisdiction, PersonKey, Timestamp, Venue, VenueId,
    VenueKind,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{AppError, AppResult};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS official_logins (
    official TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS official_tokens (
    token_hash BLOB PRIMARY KEY,
    principal TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT,
    expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS official_signin_failures (
    official TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS official_signin_failures_by ON official_signin_failures (official, at);
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_enrolments (
    key_id TEXT PRIMARY KEY,
    official TEXT NOT NULL,
    public_key TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    person BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    id_last_four TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS challenges (
    id TEXT PRIMARY KEY,
    person BLOB NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    id_last_four TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    existing INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    person BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS authorities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT,
    jurisdiction TEXT NOT NULL,
    contact TEXT
);
CREATE TABLE IF NOT EXISTS venues (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    street TEXT NOT NULL,
    kind TEXT NOT NULL,
    operator BLOB,
    poster_issued_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dependants (
    proxy BLOB NOT NULL,
    person BLOB NOT NULL,
    name TEXT NOT NULL,
    id_last_four TEXT NOT NULL,
    consent TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (proxy, person)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consents (
    id TEXT PRIMARY KEY,
    proxy BLOB NOT NULL,
    person BLOB NOT NULL,
    name TEXT NOT NULL,
    id_last_four TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS in_person_consents (
    id TEXT PRIMARY KEY,
    proxy BLOB NOT NULL,
    person BLOB NOT NULL,
    name TEXT NOT NULL,
    id_last_four TEXT NOT NULL,
    salt BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS in_person_consents_by_proxy ON in_person_consents (proxy);
CREATE TABLE IF NOT EXISTS witnessed_consents (
    proxy BLOB NOT NULL,
    person BLOB NOT NULL,
    request TEXT NOT NULL,
    salt BLOB NOT NULL,
    leaf INTEGER NOT NULL,
    official TEXT NOT NULL,
    street TEXT NOT NULL,
    witnessed_at INTEGER NOT NULL,
    PRIMARY KEY (proxy, person)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appeal_tickets (
    id TEXT PRIMARY KEY,
    person BLOB NOT NULL,
    salt BLOB NOT NULL,
    addressee TEXT NOT NULL,
    owner TEXT NOT NULL,
    handler TEXT NOT NULL,
    claim TEXT NOT NULL,
    text TEXT NOT NULL,
    records TEXT NOT NULL,
    doc_name TEXT,
    doc_type TEXT,
    doc BLOB,
    doc_sha256 TEXT,
    opened_by TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    escalated_to TEXT NOT NULL DEFAULT '',
    at_top INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    outcome TEXT,
    reason TEXT,
    answered_by TEXT,
    answered_at INTEGER,
    retraction TEXT,
    code_colour TEXT,
    code_leaf INTEGER,
    code_position INTEGER,
    correction TEXT,
    correction_pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS appeal_tickets_by_person ON appeal_tickets (person);
CREATE INDEX IF NOT EXISTS appeal_tickets_open ON appeal_tickets (status, deadline);
CREATE TABLE IF NOT EXISTS appeal_steps (
    ticket TEXT NOT NULL,
    leaf INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (ticket, leaf)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appeal_intents (
    id INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    key TEXT NOT NULL,
    ticket_step INTEGER NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    effect TEXT NOT NULL,
    from_leaf INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS hotline_consents (
    id TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    person BLOB NOT NULL,
    salt BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leaf INTEGER,
    valid_until INTEGER
);
";

/// Columns added to tables of [`SCHEMA`] after they were first released:
/// (table, column, declaration).
const ADDED_COLUMNS: [(&str, &str, &str); 2] = [
    ("appeal_tickets", "correction", "TEXT"),
    (
        "appeal_tickets",
        "correction_pending",
        "INTEGER NOT NULL DEFAULT 0",
    ),
];

/// A holder's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The person key.
    pub person: PersonKey,
    /// Name as given at sign-up.
    pub name: String,
    /// Phone on file.
    pub phone: String,
    /// Last four characters of the ID number.
    pub id_last_four: String,
}

/// A pending one-time-code challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The account it would create or sign in to.
    pub account: Account,
    /// Hash of the expected code.
    pub code_hash: Vec<u8>,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Wrong codes tried.
    pub attempts: u32,
    /// Whether the account already existed when the challenge was made.
    pub existing: bool,
}

/// A person whose code a proxy may show and for whom the proxy may check in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependant {
    /// The dependant.
    pub person: PersonKey,
    /// Name as the proxy gave it.
    pub name: String,
    /// Last four characters of the dependant's ID number.
    pub id_last_four: String,
    /// How consent was given (`otp`: a one-time code sent to the dependant's phone;
    /// `in_person`: a community official's check, an authority act in the ledger).
    pub consent: String,
    /// For `in_person`, the ledger leaf of the official's act.
    pub consent_leaf: Option<u64>,
}

/// A proxy's pending request for a dependant's consent by an in-person check: the
/// proxy brings the dependant and their ID card to a community (health) official,
/// who looks the request up by its reference.
#[derive(Debug, Clone)]
pub struct InPersonRequest {
    /// Its reference (10 characters of Crockford's base 32): what the proxy shows
    /// the official.
    pub reference: String,
    /// Who asks.
    pub proxy: PersonKey,
    /// For whom (`consent` is `in_person`).
    pub dependant: Dependant,
    /// The salt of the act's commitment to the proxy and the dependant
    /// (`mingma_authority::act::consent_link`).
    pub salt: [u8; 32],
    /// When it was made.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Whether an official's sealed act for it is being appended.
    pub claimed: bool,
}

/// An official's in-person check that completed a request.
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The ledger leaf of the act.
    pub leaf: u64,
    /// The official.
    pub official: String,
    /// The dependant's street as the official stated it.
    pub street: String,
    /// When.
    pub at: Timestamp,
}

/// A proxy's pending request for a dependant's consent.
#[derive(Debug, Clone)]
pub struct Consent {
    /// Who asks.
    pub proxy: PersonKey,
    /// For whom.
    pub dependant: Dependant,
    /// Hash of the one-time code sent to the dependant's phone.
    pub code_hash: Vec<u8>,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Wrong codes tried.
    pub attempts: u32,
}

/// A public key an official generated in their browser, waiting for an admin to
/// register it in the ledger (a `register_key` act). Not evidence: the ledger act
/// is what makes the key count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyEnrolment {
    /// Whose key.
    pub official: mingma_core::OfficialId,
    /// Its id (16 hex digits).
    pub key_id: String,
    /// The public key, 64 hex digits.
    pub public_key: String,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
}

/// A registered venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRecord {
    /// The venue as the core knows it (id, name, street, kind).
    pub venue: Venue,
    /// Street address.
    pub address: String,
    /// The account that operates it.
    pub operator: Option<PersonKey>,
    /// When its poster token was issued.
    pub poster_issued_at: Timestamp,
}

/// The server's database.
#[derive(Clone)]
pub struct Accounts {
    conn: Arc<Mutex<Connection>>,
    hot: Arc<Mutex<Hot>>,
}

/// Entries kept in memory at most per map: a full account map is emptied (it
/// refills from the database); sessions beyond it are read from the database.
const HOT_ENTRIES: usize = 2_000_000;

/// What every code display asks for, kept in memory after the first read: live
/// sessions (removed when ended; checked for expiry on every use) and accounts (an
/// account is never replaced or deleted, so a cached one cannot go stale).
#[derive(Default)]
struct Hot {
    sessions: std::collections::HashMap<Vec<u8>, (PersonKey, i64)>,
    accounts: std::collections::HashMap<PersonKey, Account>,
}

fn key_of(bytes: Vec<u8>) -> rusqlite::Result<PersonKey> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "a person key is 32 bytes".into(),
        )
    })?;
    Ok(PersonKey::from_bytes(arr))
}

fn conversion(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

fn time_of(seconds: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_unix_seconds(seconds).ok_or_else(|| conversion(format!("time {seconds}")))
}

/// A row of `in_person_consents` (id, proxy, person, name, id_last_four, salt,
/// created_at, expires_at, claimed).
fn in_person_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<InPersonRequest> {
    let salt: Vec<u8> = r.get(5)?;
    Ok(InPersonRequest {
        reference: r.get(0)?,
        proxy: key_of(r.get(1)?)?,
        dependant: Dependant {
            person: key_of(r.get(2)?)?,
            name: r.get(3)?,
            id_last_four: r.get(4)?,
            consent: "in_person".into(),
            consent_leaf: None,
        },
        salt: salt
            .try_into()
            .map_err(|_| conversion("a consent salt is 32 bytes".into()))?,
        created_at: time_of(r.get(6)?)?,
        expires_at: time_of(r.get(7)?)?,
        claimed: r.get(8)?,
    })
}

impl Accounts {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        // Columns added since a table was first made (a database made before
        // gets them here; `CREATE TABLE IF NOT EXISTS` leaves its table as it is).
        for (table, column, declaration) in ADDED_COLUMNS {
            let present: bool = conn.query_row(
                &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
                [column],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            if !present {
                conn.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
                ))?;
            }
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            hot: Arc::default(),
        })
    }

    /// Runs `f` on the connection on a blocking thread.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> AppResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| AppError::internal("the accounts connection was poisoned"))?;
            f(&mut guard).map_err(AppError::from)
        })
        .await
        .map_err(AppError::internal)?
    }

    fn hot(&self) -> std::sync::MutexGuard<'_, Hot> {
        // A poisoned lock means a panic during a map insert; the map is still valid.
        self.hot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account of `person`.
    pub async fn account(&self, person: PersonKey) -> AppResult<Option<Account>> {
        if let Some(account) = self.hot().accounts.get(&person) {
            return Ok(Some(account.clone()));
        }
        let found = self
            .call(move |c| {
                c.prepare_cached(
                    "SELECT name, phone, id_last_four FROM accounts WHERE person = ?1",
                )?
                .query_row([person.as_bytes().as_slice()], |r| {
                    Ok(Account {
                        person,
                        name: r.get(0)?,
                        phone: r.get(1)?,
                        id_last_four: r.get(2)?,
                    })
                })
                .optional()
            })
            .await?;
        if let Some(account) = &found {
            let mut hot = self.hot();
            if hot.accounts.len() >= HOT_ENTRIES {
                hot.accounts.clear();
            }
            hot.accounts.insert(person, account.clone());
        }
        Ok(found)
    }

    /// Stores a challenge under `id`.
    pub async fn add_challenge(&self, id: String, ch: Challenge) -> AppResult<()> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO challenges (id, person, name, phone, id_last_four, code_hash, expires_at, attempts, existing) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                params![
                    id,
                    ch.account.person.as_bytes().as_slice(),
                    ch.account.name,
                    ch.account.phone,
                    ch.account.id_last_four,
                    ch.code_hash,
                    ch.expires_at.unix_seconds(),
                    ch.existing
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The challenge `id`, if any.
    pub async fn challenge(&self, id: String) -> AppResult<Option<Challenge>> {
        self.call(move |c| {
            c.query_row(
                "SELECT person, name, phone, id_last_four, code_hash, expires_at, attempts, existing FROM challenges WHERE id = ?1",
                [id],
                |r| {
                    Ok(Challenge {
                        account: Account {
                            person: key_of(r.get(0)?)?,
                            name: r.get(1)?,
                            phone: r.get(2)?,
                            id_last_four: r.get(3)?,
                        },
                        code_hash: r.get(4)?,
                        expires_at: time_of(r.get(5)?)?,
                        attempts: r.get(6)?,
                        existing: r.get(7)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// One-time codes for `person` still pending at `now` (sign-in challenges and
    /// consent requests), to limit how many can be asked for.
    pub async fn pending_codes(&self, person: PersonKey, now: Timestamp) -> AppResult<u32> {
        self.call(move |c| {
            let key = person.as_bytes().as_slice();
            let n: u32 = c.query_row(
                "SELECT (SELECT COUNT(*) FROM challenges WHERE person = ?1 AND expires_at > ?2) \
                      + (SELECT COUNT(*) FROM consents WHERE person = ?1 AND expires_at > ?2)",
                params![key, now.unix_seconds()],
                |r| r.get(0),
            )?;
            Ok(n)
        })
        .await
    }

    /// Counts a wrong code against challenge `id`.
    pub async fn fail_challenge(&self, id: String) -> AppResult<()> {
        self.call(move |c| {
            c.execute(
                "UPDATE challenges SET attempts = attempts + 1 WHERE id = ?1",
                [id],
            )?;
            Ok(())
        })
        .await
    }

    /// Completes challenge `id`: creates the account if new (one per person: an
    /// existing account is never replaced), opens a session, deletes the challenge;
    /// in one transaction.
    pub async fn complete_challenge(
        &self,
        id: String,
        account: Account,
        session_hash: Vec<u8>,
        now: Timestamp,
        session_expires: Timestamp,
    ) -> AppResult<()> {
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO accounts (person, name, phone, id_last_four, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (person) DO NOTHING",
                params![
                    account.person.as_bytes().as_slice(),
                    account.name,
                    account.phone,
                    account.id_last_four,
                    now.unix_seconds()
                ],
            )?;
            tx.execute(
                "INSERT INTO sessions (token_hash, person, expires_at) VALUES (?1, ?2, ?3)",
                params![session_hash, account.person.as_bytes().as_slice(), session_expires.unix_seconds()],
            )?;
            tx.execute("DELETE FROM challenges WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM challenges WHERE expires_at < ?1", [now.unix_seconds()])?;
            tx.commit()
        })
        .await
    }

    /// Creates an account directly (the demo's seeded holders).
    pub async fn add_account(&self, account: Account, now: Timestamp) -> AppResult<()> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO accounts (person, name, phone, id_last_four, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (person) DO NOTHING",
                params![
                    account.person.as_bytes().as_slice(),
                    account.name,
                    account.phone,
                    account.id_last_four,
                    now.unix_seconds()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The person of a live session.
    pub async fn session(
        &self,
        token_hash: Vec<u8>,
        now: Timestamp,
    ) -> AppResult<Option<PersonKey>> {
        if let Some((person, expires)) = self.hot().sessions.get(&token_hash) {
            return Ok((*expires > now.unix_seconds()).then_some(*person));
        }
        let key = token_hash.clone();
        let found = self
            .call(move |c| {
                let row: Option<(Vec<u8>, i64)> = c
                    .prepare_cached(
                        "SELECT person, expires_at FROM sessions WHERE token_hash = ?1",
                    )?
                    .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                row.map(|(k, e)| key_of(k).map(|k| (k, e))).transpose()
            })
            .await?;
        let Some((person, expires)) = found else {
            return Ok(None);
        };
        let mut hot = self.hot();
        if hot.sessions.len() >= HOT_ENTRIES && !hot.sessions.contains_key(&token_hash) {
            // Full: this one is read from the database each time.
            return Ok((expires > now.unix_seconds()).then_some(person));
        }
        // An ended session left a tombstone that this late read must not replace.
        let (person, expires) = *hot.sessions.entry(token_hash).or_insert((person, expires));
        Ok((expires > now.unix_seconds()).then_some(person))
    }

    /// Ends a session.
    pub async fn end_session(&self, token_hash: Vec<u8>) -> AppResult<()> {
        // A tombstone (expired at the beginning of time) before the delete, so that
        // a read racing with it cannot put the session back.
        self.hot().sessions.insert(
            token_hash.clone(),
            (PersonKey::from_bytes([0; 32]), i64::MIN),
        );
        self.call(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
        .await
    }

    /// Registers authorities (idempotent).
    pub async fn add_authorities(&self, list: Vec<Authority>) -> AppResult<()> {
        self.call(move |c| {
            let tx = c.transaction()?;
            for a in list {
                tx.execute(
                    "INSERT INTO authorities (id, name, name_en, jurisdiction, contact) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (id) DO NOTHING",
                    params![a.id.as_str(), a.name, a.name_en, a.jurisdiction.to_string(), a.contact],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Registers a venue; `false` if the id is taken.
    pub async fn add_venue(&self, v: VenueRecord) -> AppResult<bool> {
        self.call(move |c| {
            let n = c.execute(
                "INSERT INTO venues (id, name, address, street, kind, operator, poster_issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (id) DO NOTHING",
                params![
                    v.venue.id.as_str(),
                    v.venue.name,
                    v.address,
                    v.venue.street.to_string(),
                    v.venue.kind.to_string(),
                    v.operator.map(|p| p.as_bytes().to_vec()),
                    v.poster_issued_at.unix_seconds()
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Registers many venues (the demo), ignoring ids already taken.
    pub async fn add_venues(&self, list: Vec<VenueRecord>) -> AppResult<()> {
        self.call(move |c| {
            let tx = c.transaction()?;
            for v in list {
                tx.execute(
                    "INSERT INTO venues (id, name, address, street, kind, operator, poster_issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (id) DO NOTHING",
                    params![
                        v.venue.id.as_str(),
                        v.venue.name,
                        v.address,
                        v.venue.street.to_string(),
                        v.venue.kind.to_string(),
                        v.operator.map(|p| p.as_bytes().to_vec()),
                        v.poster_issued_at.unix_seconds()
                    ],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Every venue and authority, as a directory, with the venues' records.
    pub async fn registry(&self) -> AppResult<(Directory, Vec<VenueRecord>)> {
        self.call(|c| {
            let mut directory = Directory::default();
            let mut s = c.prepare("SELECT id, name, name_en, jurisdiction, contact FROM authorities")?;
            let rows = s.query_map([], |r| {
                let id: String = r.get(0)?;
                let jurisdiction: String = r.get(3)?;
                Ok(Authority {
                    id: AuthorityId::parse(&id).map_err(|e| conversion(e.to_string()))?,
                    name: r.get(1)?,
                    name_en: r.get(2)?,
                    jurisdiction: Jurisdiction::parse(&jurisdiction)
                        .map_err(|e| conversion(e.to_string()))?,
                    contact: r.get(4)?,
                })
            })?;
            for a in rows {
                let a = a?;
                directory.authorities.insert(a.id.clone(), a);
            }
            let mut venues = Vec::new();
            let mut s = c.prepare(
                "SELECT id, name, address, street, kind, operator, poster_issued_at FROM venues ORDER BY id",
            )?;
            let rows = s.query_map([], |r| {
                let id: String = r.get(0)?;
                let street: String = r.get(3)?;
                let kind: String = r.get(4)?;
                let operator: Option<Vec<u8>> = r.get(5)?;
                Ok(VenueRecord {
                    venue: Venue {
                        id: VenueId::parse(&id).map_err(|e| conversion(e.to_string()))?,
                        name: r.get(1)?,
                        street: Jurisdiction::parse(&street).map_err(|e| conversion(e.to_string()))?,
                        kind: VenueKind::from_name(&kind)
                            .ok_or_else(|| conversion(format!("venue kind {kind}")))?,
                    },
                    address: r.get(2)?,
                    operator: operator.map(key_of).transpose()?,
                    poster_issued_at: time_of(r.get(6)?)?,
                })
            })?;
            for v in rows {
                let v = v?;
                directory.venues.insert(v.venue.id.clone(), v.venue.clone());
                venues.push(v);
            }
            Ok((directory, venues))
        })
        .await
    }

    /// Stores a consent request under `id`.
    pub async fn add_consent(&self, id: String, c: Consent) -> AppResult<()> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO consents (id, proxy, person, name, id_last_four, code_hash, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    c.proxy.as_bytes().as_slice(),
                    c.dependant.person.as_bytes().as_slice(),
                    c.dependant.name,
                    c.dependant.id_last_four,
                    c.code_hash,
                    c.expires_at.unix_seconds()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The consent request `id`, if any.
    pub async fn consent(&self, id: String) -> AppResult<Option<Consent>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT proxy, person, name, id_last_four, code_hash, expires_at, attempts FROM consents WHERE id = ?1",
                [id],
                |r| {
                    Ok(Consent {
                        proxy: key_of(r.get(0)?)?,
                        dependant: Dependant {
                            person: key_of(r.get(1)?)?,
                            name: r.get(2)?,
                            id_last_four: r.get(3)?,
                            consent: "otp".into(),
                            consent_leaf: None,
                        },
                        code_hash: r.get(4)?,
                        expires_at: time_of(r.get(5)?)?,
                        attempts: r.get(6)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// Counts a wrong code against consent request `id`.
    pub async fn fail_consent(&self, id: String) -> AppResult<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE consents SET attempts = attempts + 1 WHERE id = ?1",
                [id],
            )?;
            Ok(())
        })
        .await
    }

    /// Completes consent request `id`: links the dependant and deletes the request, in
    /// one transaction.
    pub async fn complete_consent(&self, id: String, c: Consent, now: Timestamp) -> AppResult<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO dependants (proxy, person, name, id_last_four, consent, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (proxy, person) DO NOTHING",
                params![
                    c.proxy.as_bytes().as_slice(),
                    c.dependant.person.as_bytes().as_slice(),
                    c.dependant.name,
                    c.dependant.id_last_four,
                    c.dependant.consent,
                    now.unix_seconds()
                ],
            )?;
            tx.execute("DELETE FROM consents WHERE id = ?1", [id])?;
            tx.commit()
        })
        .await
    }

    /// The dependants of `proxy`, by name.
    pub async fn dependants(&self, proxy: PersonKey) -> AppResult<Vec<Dependant>> {
        self.call(move |conn| {
            let mut s = conn.prepare_cached(
                "SELECT d.person, d.name, d.id_last_four, d.consent, w.leaf FROM dependants d \
                 LEFT JOIN witnessed_consents w ON w.proxy = d.proxy AND w.person = d.person \
                 WHERE d.proxy = ?1 ORDER BY d.name",
            )?;
            let rows = s.query_map([proxy.as_bytes().as_slice()], |r| {
                Ok(Dependant {
                    person: key_of(r.get(0)?)?,
                    name: r.get(1)?,
                    id_last_four: r.get(2)?,
                    consent: r.get(3)?,
                    consent_leaf: r.get::<_, Option<i64>>(4)?.map(|l| l.max(0) as u64),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Stores an in-person consent request; `false` if its reference is taken.
    pub async fn add_in_person(&self, request: InPersonRequest) -> AppResult<bool> {
        self.call(move |conn| {
            let changed = conn.execute(
                "INSERT OR IGNORE INTO in_person_consents (id, proxy, person, name, id_last_four, salt, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    request.reference,
                    request.proxy.as_bytes().as_slice(),
                    request.dependant.person.as_bytes().as_slice(),
                    request.dependant.name,
                    request.dependant.id_last_four,
                    request.salt.as_slice(),
                    request.created_at.unix_seconds(),
                    request.expires_at.unix_seconds()
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// The in-person consent request `reference`, expired or not.
    pub async fn in_person(&self, reference: String) -> AppResult<Option<InPersonRequest>> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, proxy, person, name, id_last_four, salt, created_at, expires_at, claimed \
                 FROM in_person_consents WHERE id = ?1",
                [reference],
                in_person_of,
            )
            .optional()
        })
        .await
    }

    /// `proxy`'s in-person consent requests still open at `now`, oldest first.
    pub async fn in_person_of_proxy(
        &self,
        proxy: PersonKey,
        now: Timestamp,
    ) -> AppResult<Vec<InPersonRequest>> {
        self.call(move |conn| {
            let mut s = conn.prepare_cached(
                "SELECT id, proxy, person, name, id_last_four, salt, created_at, expires_at, claimed \
                 FROM in_person_consents WHERE proxy = ?1 AND expires_at > ?2 ORDER BY created_at, id",
            )?;
            let rows = s.query_map(
                params![proxy.as_bytes().as_slice(), now.unix_seconds()],
                in_person_of,
            )?;
            rows.collect()
        })
        .await
    }

    /// Marks request `reference` as being completed (an official's sealed act is
    /// being appended); `false` if it is missing, expired at `now` or claimed.
    pub async fn claim_in_person(&self, reference: String, now: Timestamp) -> AppResult<bool> {
        self.call(move |conn| {
            let changed = conn.execute(
                "UPDATE in_person_consents SET claimed = 1 WHERE id = ?1 AND claimed = 0 AND expires_at > ?2",
                params![reference, now.unix_seconds()],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Gives a claimed request back (its act could not be appended).
    pub async fn unclaim_in_person(&self, reference: String) -> AppResult<()> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE in_person_consents SET claimed = 0 WHERE id = ?1",
                [reference],
            )?;
            Ok(())
        })
        .await
    }

    /// Completes an in-person request whose act was appended: links the dependant
    /// (consent `in_person`), keeps the act's leaf, the official, the street and the
    /// commitment's salt, deletes the request and the expired ones; one transaction.
    pub async fn complete_in_person(
        &self,
        request: InPersonRequest,
        witnessed: Witnessed,
    ) -> AppResult<()> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let (proxy, person) = (
                request.proxy.as_bytes().to_vec(),
                request.dependant.person.as_bytes().to_vec(),
            );
            tx.execute(
                "INSERT INTO dependants (proxy, person, name, id_last_four, consent, created_at) VALUES (?1, ?2, ?3, ?4, 'in_person', ?5) \
                 ON CONFLICT (proxy, person) DO UPDATE SET consent = 'in_person'",
                params![
                    proxy,
                    person,
                    request.dependant.name,
                    request.dependant.id_last_four,
                    witnessed.at.unix_seconds()
                ],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO witnessed_consents (proxy, person, request, salt, leaf, official, street, witnessed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    proxy,
                    person,
                    request.reference,
                    request.salt.as_slice(),
                    witnessed.leaf as i64,
                    witnessed.official,
                    witnessed.street,
                    witnessed.at.unix_seconds()
                ],
            )?;
            tx.execute("DELETE FROM in_person_consents WHERE id = ?1", [&request.reference])?;
            tx.execute(
                "DELETE FROM in_person_consents WHERE expires_at <= ?1",
                [witnessed.at.unix_seconds()],
            )?;
            tx.commit()
        })
        .await
    }

    /// Sets (or replaces) an official's console password hash.
    pub async fn set_official_password(
        &self,
        official: &mingma_core::OfficialId,
        hash: String,
    ) -> AppResult<()> {
        let official = official.to_string();
        self.call(move |c| {
            c.execute(
                "INSERT INTO official_logins (official, password_hash) VALUES (?1, ?2) \
                 ON CONFLICT (official) DO UPDATE SET password_hash = excluded.password_hash",
                params![official, hash],
            )
        })
        .await?;
        Ok(())
    }

    /// Records a key enrolment; returns `false` if the key was enrolled already.
    pub async fn add_enrolment(&self, e: KeyEnrolment) -> AppResult<bool> {
        let changed = self
            .call(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO key_enrolments (key_id, official, public_key, enrolled_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        e.key_id,
                        e.official.to_string(),
                        e.public_key,
                        e.enrolled_at.unix_seconds()
                    ],
                )
            })
            .await?;
        Ok(changed == 1)
    }

    /// Every key enrolment, oldest first.
    pub async fn enrolments(&self) -> AppResult<Vec<KeyEnrolment>> {
        self.call(|c| {
            let mut statement = c.prepare(
                "SELECT key_id, official, public_key, enrolled_at FROM key_enrolments \
                 ORDER BY enrolled_at, key_id",
            )?;
            let rows = statement.query_map([], |r| {
                let official: String = r.get(1)?;
                Ok(KeyEnrolment {
                    key_id: r.get(0)?,
                    official: mingma_core::OfficialId::parse(&official)
                        .map_err(|e| conversion(format!("official {official:?}: {e}")))?,
                    public_key: r.get(2)?,
                    enrolled_at: time_of(r.get(3)?)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Issues a token for an official or a data source (`kind`: `session` or
    /// `api`); only its digest is stored.
    pub async fn issue_official_token(
        &self,
        principal: &crate::officials::Principal,
        kind: &'static str,
        expires_at: Option<i64>,
    ) -> AppResult<String> {
        let token = crate::auth::random_token()?;
        let hash = crate::auth::digest(&[b"official-token", token.as_bytes()]);
        let who = principal.to_text();
        self.call(move |c| {
            c.execute(
                "INSERT INTO official_tokens (token_hash, principal, kind, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, who, kind, expires_at],
            )
        })
        .await?;
        Ok(token)
    }
}
