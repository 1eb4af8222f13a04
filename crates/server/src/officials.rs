//! What officials and data sources do through the service.
//!
//! - **Sign-in**: an official signs in with a password (argon2id hash in the
//!   server's database) and gets a session; a machine client (a lab's system, an
//!   official's script) uses an API token issued by `mingma admin token`. Both are
//!   stored as SHA-256 digests only.
//! - **Who may do what** comes from the ledger: the engine's [`mingma_authority::Registry`]
//!   (grants, keys, sources), never from this database, and is decided by
//!   `mingma_authority` ([`check_official_act`], [`authorize`]).
//! - **Every act is sealed by its maker**: the server never holds an official's
//!   key. A record or act is *drafted* here (checked, its recording time fixed, its
//!   exact bytes kept), the official's browser or key file signs the message the
//!   draft gives, and the seal is submitted; only then is it appended. A machine
//!   client may instead submit a record it sealed itself, or many at once as JSON
//!   Lines or CSV ([`App::submit_bulk`], through the pipeline of `mingma import`).
//! - After a record is appended, the codes it can change are re-derived at once
//!   (for a risk-area declaration: everyone with a qualifying scan in it), and the
//!   counts of changed codes by colour are returned.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use mingma_authority::act::act_message;
use mingma_authority::intake::check_official_act;
use mingma_authority::signature::signed_message;
use mingma_authority::{
    authorize, Act, ActBody, ActProblem, Action, Grant, KeyId, Registry, SignedAct,
};
use mingma_core::canonical::{canonical_bytes, decode_canonical};
use mingma_core::evidence_file::read_record_object;
use mingma_core::{
    AuthorityId, DataSourceId, Directory, Evidence, EvidenceBody, EvidenceKind, Jurisdiction,
    LineError, OfficialId, PersonKey, Problem, RecordId, Recorder, Seal, Span, Timestamp,
};
use mingma_store::Store;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use crate::accounts::KeyEnrolment;
use crate::app::App;
use crate::auth::{digest, random_token};
use crate::bulk;
use crate::error::{AppError, AppResult};

/// How long an official's session lasts.
const OFFICIAL_SESSION_SECONDS: i64 = 12 * 3600;
/// Wrong passwords allowed per official within [`SIGN_IN_LOCKOUT_SECONDS`].
const SIGN_IN_FAILURES: u32 = 10;
/// The window wrong passwords are counted over.
const SIGN_IN_LOCKOUT_SECONDS: i64 = 15 * 60;
/// An argon2id hash no password matches, checked for unknown officials.
const UNKNOWN_OFFICIAL_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm8tc3VjaC1vZmZpY2lhbA$2Q7pLr5Vf0ZQm0cQ3Qp1lHcW3d2l0Ek9pX8n1y0dY9A";
/// How far ahead of the server's clock a submitted record's `recorded_at` may be.
const RECORDED_AT_SKEW: Span = Span::minutes(5);
/// How long a draft waits for its seal.
pub(crate) const DRAFT_SECONDS: i64 = 600;
/// Keys an official may have waiting for registration at once.
const MAX_PENDING_ENROLMENTS: usize = 3;
/// How far before a case report a tracing query looks by default: the four days
/// before sampling or onset that the national protocol (9th edition) traces close
/// contacts over.
pub const INFECTIOUS_LOOKBACK: Span = Span::days(4);

/// Who is calling, as their token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An official (a console session or an official's API token).
    Official(OfficialId),
    /// A registered data source's system (an API token).
    Source(DataSourceId),
}

impl Principal {
    pub(crate) fn to_text(&self) -> String {
        match self {
            Principal::Official(id) => format!("official:{id}"),
            Principal::Source(id) => format!("source:{id}"),
        }
    }

    fn parse(text: &str) -> Option<Principal> {
        match text.split_once(':')? {
            ("official", id) => OfficialId::parse(id).ok().map(Principal::Official),
            ("source", id) => DataSourceId::parse(id).ok().map(Principal::Source),
            _ => None,
        }
    }
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> AppResult<String> {
    if password.chars().count() < 10 {
        return Err(AppError::bad_request(
            "weak_password",
            "a password must have at least 10 characters",
        ));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::internal(format!("randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// What a draft is waiting to be sealed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DraftKind {
    Record,
    Act,
}

impl DraftKind {
    fn as_str(self) -> &'static str {
        match self {
            DraftKind::Record => "record",
            DraftKind::Act => "act",
        }
    }
}

/// A record or act drafted for its maker to seal.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// The draft's id (submit the seal to it).
    pub draft: String,
    /// What it is: `record` or `act`.
    pub kind: &'static str,
    /// The record's id, for a record.
    pub record: Option<String>,
    /// A one-line description.
    pub summary: String,
    /// The exact message to sign, base64: the signature must be Ed25519 over these
    /// bytes by the official's registered key.
    pub message: String,
    /// The id of the key that must sign (16 hex digits), if the official has one.
    pub key: Option<String>,
}

/// What submitting a record did.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    /// The record.
    pub record: String,
    /// Its ledger leaf.
    pub leaf: u64,
    /// `false` if the identical record was already stored.
    pub fresh: bool,
    /// Whether it takes effect only after a second official approves it.
    pub awaiting_approval: bool,
    /// People whose code was re-derived.
    pub derived: usize,
    /// Codes that changed, by new colour.
    pub changed: ChangedCodes,
}

/// Counts of changed codes by colour.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ChangedCodes {
    /// Now green.
    pub green: usize,
    /// Now yellow.
    pub yellow: usize,
    /// Now red.
    pub red: usize,
}

/// Refused lines a bulk answer lists at most, so that a body of bad lines cannot
/// make an answer larger than itself.
pub const BULK_ERRORS_SHOWN: usize = 10_000;

/// What a bulk submission (`POST /api/v1/evidence/bulk`) did.
#[derive(Debug, Clone, Serialize)]
pub struct BulkSubmitted {
    /// Lines read that are not blank or comments.
    pub lines: u64,
    /// Records newly stored.
    pub fresh: u64,
    /// Records that were already stored (or given twice in the body).
    pub already: u64,
    /// Lines refused: nothing of them was stored.
    pub refused: u64,
    /// The refused lines, in line order: the first [`BULK_ERRORS_SHOWN`].
    pub errors: Vec<RefusedLine>,
    /// Refused lines beyond those listed (`refused` counts them all).
    pub errors_not_listed: u64,
    /// People whose code was re-derived (those the new records can change).
    pub derived: usize,
    /// Codes that changed, by new colour.
    pub changed: ChangedCodes,
}

/// A line of a bulk submission that was refused.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedLine {
    /// Its line number (for CSV, the line its row starts on; the header is line 1).
    pub line: usize,
    /// The field at fault, if one is.
    pub field: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// The record id the line gave, if any.
    pub id: Option<String>,
}

/// What a bulk submission asks of the pipeline: only the caller's own records,
/// recorded by now; the refused lines and the new records kept for the answer and
/// the re-derivation.
struct BulkHooks<'a> {
    principal: &'a Principal,
    now: Timestamp,
    errors: Vec<RefusedLine>,
    /// Refused lines beyond the first [`BULK_ERRORS_SHOWN`].
    not_listed: u64,
    /// Subjects of new records that can change only their subject's code.
    subjects: std::collections::BTreeSet<PersonKey>,
    /// New records that can change other codes (risk areas, acts on records), with
    /// their leaves.
    wider: Vec<(Evidence, u64)>,
}

impl bulk::Hooks for BulkHooks<'_> {
    fn admit(&mut self, record: &Evidence) -> Result<(), Problem> {
        own_record(self.principal, record).map_err(|m| Problem::at("recorded_by", m))?;
        recorded_by_now(record, self.now).map_err(|m| Problem::at("recorded_at", m))
    }

    fn refused(&mut self, error: &LineError, id: Option<&RecordId>) {
        if self.errors.len() >= BULK_ERRORS_SHOWN {
            self.not_listed += 1;
            return;
        }
        self.errors.push(RefusedLine {
            line: error.line,
            field: error.field.clone(),
            reason: error.message.clone(),
            id: id.map(ToString::to_string),
        });
    }

    fn stored(&mut self, record: &Evidence, leaf: u64) {
        if mingma_engine::changes_its_subject_only(record) {
            self.subjects.extend(record.subject);
        } else {
            self.wider.push((record.clone(), leaf));
        }
    }
}

impl From<[usize; 3]> for ChangedCodes {
    /// From the engine's counts, green, yellow, red.
    fn from([green, yellow, red]: [usize; 3]) -> Self {
        Self { green, yellow, red }
    }
}

/// One person a tracing query found, with the overlaps.
#[derive(Debug, Clone, Serialize)]
pub struct TracedContact {
    /// The person's key (hex): what a designation names as `subject_key`.
    pub person: String,
    /// Each overlap: venue, the case's scan, the contact's scan leaf, from, until.
    pub overlaps: Vec<TracedOverlap>,
}

/// One overlap of stays.
#[derive(Debug, Clone, Serialize)]
pub struct TracedOverlap {
    /// Venue id.
    pub venue: String,
    /// The case's scan record.
    pub case_scan: String,
    /// The ledger leaf of the contact's scan.
    pub contact_leaf: u64,
    /// Overlap start.
    pub from: Timestamp,
    /// Overlap end.
    pub until: Timestamp,
}

/// The result of a tracing query.
#[derive(Debug, Clone, Serialize)]
pub struct TraceResult {
    /// The ledger leaf of the query's act (its purpose, logged before the results).
    pub act_leaf: u64,
    /// The case.
    pub case: String,
    /// The people found.
    pub contacts: Vec<TracedContact>,
}

/// What a sealed draft produced.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Sealed {
    /// A record was appended.
    Record(Submitted),
    /// An act was appended.
    Act {
        /// Its leaf.
        leaf: u64,
        /// For a tracing query, its results.
        trace: Option<TraceResult>,
        /// For a consent witnessed in person, the dependant it linked.
        #[serde(skip_serializing_if = "Option::is_none")]
        consent: Option<crate::consent::ConsentLinked>,
    },
}

/// A person under a quarantine order.
#[derive(Debug, Clone, Serialize)]
pub struct UnderQuarantine {
    /// The person's key (hex).
    pub person: String,
    /// The order.
    pub order: String,
    /// The owning authority.
    pub authority: String,
    /// Centralised or home.
    pub setting: String,
    /// Start.
    pub from: Timestamp,
    /// Planned end.
    pub planned_end: Timestamp,
}

/// The id of the key `official` signs with now (their latest unrevoked one).
pub(crate) fn signing_key_of(registry: &Registry, official: &OfficialId) -> Option<String> {
    let holder = mingma_authority::signature::KeyHolder::Official(official.clone());
    registry
        .keys
        .iter()
        .filter(|(_, k)| k.holder == holder && k.revoked_at.is_none())
        .max_by_key(|(_, k)| k.valid_from)
        .map(|(id, _)| id.to_string())
}

fn forbidden(refusal: impl std::fmt::Display, code: &'static str) -> AppError {
    AppError::forbidden(code, refusal.to_string())
}

/// An act the registry refuses, as an API error with a stable code.
pub(crate) fn act_refused(problem: ActProblem) -> AppError {
    match &problem {
        ActProblem::Refused(refusal) => forbidden(&problem, refusal.code()),
        ActProblem::UnknownActor(_) => forbidden(&problem, "not_registered"),
        ActProblem::BadSeal { .. } => AppError::bad_request("bad_seal", problem.to_string()),
        _ => AppError::bad_request("act_refused", problem.to_string()),
    }
}

/// A one-line, language-neutral account of what a record says (ids, codes, times),
/// for the approvals list.
pub fn record_detail(r: &Evidence) -> String {
    use mingma_core::{Exposure, RiskAreaScope};
    let list = |items: Vec<String>| items.join(", ");
    match &r.body {
        EvidenceBody::TestResult {
            method,
            outcome,
            sampled_at,
        } => format!("{method} {outcome}, sampled {sampled_at}"),
        EvidenceBody::CaseReport {
            classification,
            test,
        } => match test {
            Some(t) => format!("{classification}, test {t}"),
            None => classification.to_string(),
        },
        EvidenceBody::CaseClosure { case, outcome } => format!("case {case}: {outcome}"),
        EvidenceBody::CloseContact { case, exposure } => match exposure {
            Exposure::Household => format!("case {case}; household"),
            Exposure::Venue {
                venue, from, until, ..
            } => format!("case {case}; venue {venue} {from} – {until}"),
        },
        EvidenceBody::BorderEntry { port, origin, .. } => format!("{origin} → {port}"),
        EvidenceBody::QuarantineOrder {
            setting,
            facility,
            ground,
            planned_end,
        } => format!(
            "{setting}{} until {planned_end}; ground {ground}",
            facility
                .as_ref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ),
        EvidenceBody::QuarantineRelease { order } => format!("order {order}"),
        EvidenceBody::RiskArea {
            level,
            area,
            from,
            until,
        } => {
            let places = match area {
                RiskAreaScope::Divisions(d) => list(d.iter().map(ToString::to_string).collect()),
                RiskAreaScope::Venues(v) => list(v.iter().map(ToString::to_string).collect()),
            };
            format!("{level}: {places}; {from} – {until}")
        }
        EvidenceBody::VenueScan { venue, .. } => format!("venue {venue}"),
        EvidenceBody::Retraction { target, reason } => format!("{target}: {reason}"),
        EvidenceBody::Approval { target } => target.to_string(),
        EvidenceBody::Rejection { target, reason } => format!("{target}: {reason}"),
    }
}

impl<S: Store> App<S> {
    /// Signs an official in with their password; returns a session token.
    pub async fn official_sign_in(&self, official: &str, password: &str) -> AppResult<String> {
        let refused = || {
            AppError::unauthorized(
                "bad_credentials",
                "the official id or the password is wrong",
            )
        };
        let official = OfficialId::parse(official.trim()).map_err(|_| refused())?;
        let (id, since) = (
            official.to_string(),
            self.now().unix_seconds() - SIGN_IN_LOCKOUT_SECONDS,
        );
        let (hash, failures): (Option<String>, u32) = self
            .accounts
            .call(move |c| {
                let hash = c
                    .query_row(
                        "SELECT password_hash FROM official_logins WHERE official = ?1",
                        [&id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let failures = c.query_row(
                    "SELECT count(*) FROM official_signin_failures WHERE official = ?1 AND at > ?2",
                    params![id, since],
                    |r| r.get(0),
                )?;
                Ok((hash, failures))
            })
            .await?;
        if failures >= SIGN_IN_FAILURES {
            return Err(AppError::too_many(
                "signin_locked",
                format!(
                    "{failures} wrong passwords for {official} in the last {} minutes; try again later",
                    SIGN_IN_LOCKOUT_SECONDS / 60
                ),
            ));
        }
        let password = password.to_owned();
        // An unknown official costs the same argon2 work as a known one.
        let ok = tokio::task::spawn_blocking(move || {
            let hash = hash.unwrap_or_else(|| UNKNOWN_OFFICIAL_HASH.to_owned());
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(AppError::internal)?;
        if !ok {
            let (id, at) = (official.to_string(), self.now().unix_seconds());
            self.accounts
                .call(move |c| {
                    c.execute(
                        "INSERT INTO official_signin_failures (official, at) VALUES (?1, ?2)",
                        params![id, at],
                    )
                })
                .await?;
            return Err(refused());
        }
        let registry = self.engine.registry().await?;
        if !registry.directory.officials.contains_key(&official) {
            return Err(AppError::forbidden(
                "not_registered",
                format!("official {official} is not registered in the ledger"),
            ));
        }
        self.issue_token(
            &Principal::Official(official),
            "session",
            Some(self.now().unix_seconds() + OFFICIAL_SESSION_SECONDS),
        )
        .await
    }

    /// Issues a token for `principal` (`kind` is `session` or `api`).
    pub async fn issue_token(
        &self,
        principal: &Principal,
        kind: &'static str,
        expires_at: Option<i64>,
    ) -> AppResult<String> {
        self.accounts
            .issue_official_token(principal, kind, expires_at)
            .await
    }

    /// Ends an official's session.
    pub async fn official_sign_out(&self, token: &str) -> AppResult<()> {
        let hash = digest(&[b"official-token", token.as_bytes()]);
        self.accounts
            .call(move |c| {
                c.execute(
                    "DELETE FROM official_tokens WHERE token_hash = ?1 AND kind = 'session'",
                    [hash],
                )
            })
            .await?;
        Ok(())
    }

    /// Who `token` belongs to.
    pub async fn principal(&self, token: &str) -> AppResult<Principal> {
        let hash = digest(&[b"official-token", token.trim().as_bytes()]);
        let now = self.now().unix_seconds();
        let found: Option<String> = self
            .accounts
            .call(move |c| {
                c.query_row(
                    "SELECT principal FROM official_tokens WHERE token_hash = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2)",
                    params![hash, now],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        found.as_deref().and_then(Principal::parse).ok_or_else(|| {
            AppError::unauthorized(
                "not_signed_in",
                "sign in as an official, or give a valid API token",
            )
        })
    }

    pub(crate) fn official_of(principal: &Principal) -> AppResult<&OfficialId> {
        match principal {
            Principal::Official(id) => Ok(id),
            Principal::Source(id) => Err(AppError::forbidden(
                "not_an_official",
                format!("data source {id} may only submit its own sealed records"),
            )),
        }
    }

    /// The directory records are read against: the ledger's authorities, officials
    /// and sources, with the venues this server registered.
    async fn intake_directory(&self) -> AppResult<(std::sync::Arc<Registry>, Directory)> {
        let registry = self.engine.registry().await?;
        let mut directory = registry.directory.clone();
        directory.venues = self.registry().directory.venues.clone();
        Ok((registry, directory))
    }

    /// An official's view of themself: authority, grants, keys.
    pub async fn official_profile(&self, principal: &Principal) -> AppResult<Value> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let authority = registry.authority_of(official).cloned();
        let holder = mingma_authority::signature::KeyHolder::Official(official.clone());
        let own: Vec<_> = registry
            .keys
            .iter()
            .filter(|(_, k)| k.holder == holder && k.revoked_at.is_none())
            .collect();
        let keys: Vec<String> = own.iter().map(|(id, _)| id.to_string()).collect();
        let public_keys: Vec<Value> = own
            .iter()
            .map(|(id, k)| {
                serde_json::json!({
                    "id": id.to_string(),
                    "public_key": mingma_authority::act::key_hex(&k.key),
                    "valid_from": k.valid_from,
                })
            })
            .collect();
        let enrolled = self.own_enrolments(official, &registry).await?;
        Ok(serde_json::json!({
            "official": official,
            "authority": authority,
            "authority_name": authority.as_ref().map(|a| registry.directory.authority_name(a, false)),
            "grants": registry.grants_of(official),
            "keys": keys,
            "public_keys": public_keys,
            "enrolled": enrolled,
        }))
    }

    /// Records the public key an official generated in their browser (64 hex
    /// digits), for an admin to register with a `register_key` act. The private
    /// key never leaves the browser.
    pub async fn enrol_key(
        &self,
        principal: &Principal,
        public_key: &str,
    ) -> AppResult<KeyEnrolment> {
        let official = Self::official_of(principal)?.clone();
        let registry = self.engine.registry().await?;
        if !registry.directory.officials.contains_key(&official) {
            return Err(AppError::forbidden(
                "not_registered",
                format!("official {official} is not registered in the ledger"),
            ));
        }
        let text = public_key.trim().to_ascii_lowercase();
        let key = mingma_authority::act::public_key(&text)
            .map_err(|e| AppError::bad_request("malformed_key", e.to_string()))?;
        let id = KeyId::of(&key);
        if let Some(existing) = registry.keys.get(id) {
            return Err(AppError::new(
                axum::http::StatusCode::CONFLICT,
                "key_registered",
                format!("key {id} is already registered to {}", existing.holder),
            ));
        }
        let known = self.accounts.enrolments().await?;
        if let Some(other) = known.iter().find(|e| e.key_id == id.to_string()) {
            if other.official != official {
                return Err(AppError::new(
                    axum::http::StatusCode::CONFLICT,
                    "key_enrolled",
                    format!("key {id} was enrolled by another official"),
                ));
            }
            return Ok(other.clone());
        }
        let waiting = known
            .iter()
            .filter(|e| e.official == official && !key_registered(&registry, &e.key_id))
            .count();
        if waiting >= MAX_PENDING_ENROLMENTS {
            return Err(AppError::too_many(
                "too_many_enrolments",
                format!("{waiting} keys of yours are already waiting for an admin to register one"),
            ));
        }
        let enrolment = KeyEnrolment {
            official,
            key_id: id.to_string(),
            public_key: text,
            enrolled_at: self.now(),
        };
        self.accounts.add_enrolment(enrolment.clone()).await?;
        Ok(enrolment)
    }

    async fn own_enrolments(
        &self,
        official: &OfficialId,
        registry: &Registry,
    ) -> AppResult<Vec<KeyEnrolment>> {
        Ok(self
            .accounts
            .enrolments()
            .await?
            .into_iter()
            .filter(|e| &e.official == official && !key_registered(registry, &e.key_id))
            .collect())
    }

    /// Key enrolments not registered yet that `principal`, an admin, may register:
    /// those of officials whose authority lies inside the admin's grants.
    pub async fn pending_enrolments(&self, principal: &Principal) -> AppResult<Vec<KeyEnrolment>> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let grants = registry.grants_of(official);
        let place_of = |o: &OfficialId| {
            registry
                .authority_of(o)
                .and_then(|a| registry.directory.authorities.get(a))
                .map(|a| a.jurisdiction)
        };
        if !grants
            .iter()
            .any(|g| g.role.permits(Action::ManageAccounts))
        {
            let home = place_of(official).ok_or_else(|| {
                AppError::forbidden(
                    "not_registered",
                    format!("official {official} is not registered"),
                )
            })?;
            let refusal = authorize(grants, Action::ManageAccounts, home)
                .err()
                .map(|r| forbidden(&r, r.code()));
            return Err(refusal.unwrap_or_else(|| {
                AppError::forbidden("not_permitted", "you may not manage accounts")
            }));
        }
        Ok(self
            .accounts
            .enrolments()
            .await?
            .into_iter()
            .filter(|e| !key_registered(&registry, &e.key_id))
            .filter(|e| {
                place_of(&e.official)
                    .is_some_and(|p| authorize(grants, Action::ManageAccounts, p).is_ok())
            })
            .collect())
    }

    /// Drafts an admin's authority act (register a key, add an official, grant a
    /// role, ...) for the admin's browser to seal: the service fixes who and when,
    /// checks it against the registry as it stands (everything but the seal) and
    /// keeps its exact bytes; `seal_draft` appends it once sealed. A bootstrap and
    /// a tracing query are not drafted here.
    pub async fn draft_admin_act(&self, principal: &Principal, act: Act) -> AppResult<Draft> {
        let official = Self::official_of(principal)?.clone();
        match act {
            Act::Bootstrap { .. } => {
                return Err(AppError::bad_request(
                    "not_drafted_here",
                    "a bootstrap starts a new log: use `mingma admin init`",
                ))
            }
            Act::TracingQuery { .. } => {
                return Err(AppError::bad_request(
                    "not_drafted_here",
                    "a tracing query is drafted by POST /api/v1/official/trace",
                ))
            }
            Act::WitnessConsent { .. } => {
                return Err(AppError::bad_request(
                    "not_drafted_here",
                    "an in-person consent check is drafted by POST /api/v1/official/consents/{reference}/draft",
                ))
            }
            _ => {}
        }
        let registry = self.engine.registry().await?;
        let body = ActBody {
            by: official,
            at: self.now(),
            act,
        };
        registry.check_unsealed(&body).map_err(act_refused)?;
        self.draft_act(principal, body, &registry).await
    }

    /// Drafts a record an official makes by hand, from a JSON object in the
    /// evidence-file format: the service fills in `recorded_by`, `recorded_at`
    /// (now), the official's `authority` if none is given, `effective_at` (now) and
    /// an `id` if none is given; then checks it as intake will.
    pub async fn draft_record(&self, principal: &Principal, object: Value) -> AppResult<Draft> {
        let official = Self::official_of(principal)?.clone();
        let Value::Object(mut map) = object else {
            return Err(AppError::bad_request(
                "malformed_record",
                "a record is a JSON object",
            ));
        };
        let (registry, directory) = self.intake_directory().await?;
        let acting = registry.authority_of(&official).cloned().ok_or_else(|| {
            AppError::forbidden(
                "not_registered",
                format!("official {official} is not registered"),
            )
        })?;
        let now = self.now();
        map.insert(
            "recorded_by".into(),
            Value::String(format!("official:{official}")),
        );
        map.insert(
            "recorded_at".into(),
            serde_json::to_value(now).map_err(AppError::internal)?,
        );
        map.entry("authority")
            .or_insert_with(|| Value::String(acting.to_string()));
        if !map.contains_key("effective_at") {
            map.insert(
                "effective_at".into(),
                serde_json::to_value(now).map_err(AppError::internal)?,
            );
        }
        if !map.contains_key("id") {
            let suffix = random_token()?;
            map.insert(
                "id".into(),
                Value::String(format!("m-{}", suffix.get(..20).unwrap_or(&suffix))),
            );
        }
        let record = read_record_object(&directory, Value::Object(map), &self.keys.pseudonym)
            .map_err(|e| AppError::bad_request("malformed_record", e.to_string()))?;
        self.check_intake(&official, &registry, &directory, &record)
            .await?;
        let key = signing_key_of(&registry, &official);
        let message = signed_message(&record);
        let draft = self
            .save_draft(principal, DraftKind::Record, canonical_bytes(&record))
            .await?;
        Ok(Draft {
            draft,
            kind: DraftKind::Record.as_str(),
            record: Some(record.id.to_string()),
            summary: format!("{} {}", record.kind().label_en(), record.id),
            message: base64::engine::general_purpose::STANDARD.encode(message),
            key,
        })
    }

    /// The checks intake applies to an official's record: their grants (from the
    /// ledger) permit it in the place it concerns, it names them and their
    /// authority, states a legal basis where one is needed, is not an approval of
    /// their own record, and acts only on records of their authority.
    async fn check_intake(
        &self,
        official: &OfficialId,
        registry: &Registry,
        directory: &Directory,
        record: &Evidence,
    ) -> AppResult<Grant> {
        let target = match &record.body {
            EvidenceBody::Retraction { target, .. }
            | EvidenceBody::Approval { target }
            | EvidenceBody::Rejection { target, .. } => Some(
                self.store
                    .record(target)
                    .await?
                    .ok_or_else(|| {
                        AppError::bad_request(
                            "unknown_target",
                            format!("record {target} is not stored"),
                        )
                    })?
                    .evidence,
            ),
            _ => None,
        };
        check_official_act(
            official,
            registry.grants_of(official),
            record,
            target.as_ref(),
            directory,
        )
        .map_err(|e| {
            let code = match &e {
                mingma_authority::intake::ActRefusal::OwnRecord { .. } => "self_approval",
                mingma_authority::intake::ActRefusal::Authorisation { refusal, .. } => {
                    refusal.code()
                }
                mingma_authority::intake::ActRefusal::NoLegalBasis { .. } => "no_legal_basis",
                mingma_authority::intake::ActRefusal::NotTheOwner { .. } => "not_the_owner",
                _ => "refused",
            };
            forbidden(e, code)
        })
    }

    async fn save_draft(
        &self,
        principal: &Principal,
        kind: DraftKind,
        payload: Vec<u8>,
    ) -> AppResult<String> {
        let id = random_token()?;
        let id = id.get(..24).unwrap_or(&id).to_owned();
        let (who, saved) = (principal.to_text(), id.clone());
        let now = self.now().unix_seconds();
        let expires = now + DRAFT_SECONDS;
        self.accounts
            .call(move |c| {
                c.execute("DELETE FROM drafts WHERE expires_at <= ?1", [now])?;
                c.execute(
                    "INSERT INTO drafts (id, principal, kind, payload, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![saved, who, kind.as_str(), payload, expires],
                )
            })
            .await?;
        Ok(id)
    }

    /// `principal`'s waiting draft `draft` if it is of one of `kinds` and has not
    /// expired: its kind and payload. With `take` it is used up (deleted), so a
    /// draft is sealed once.
    pub(crate) async fn waiting_draft(
        &self,
        principal: &Principal,
        draft: &str,
        kinds: &'static [&'static str],
        take: bool,
    ) -> AppResult<Option<(String, Vec<u8>)>> {
        let (id, who, now) = (
            draft.to_owned(),
            principal.to_text(),
            self.now().unix_seconds(),
        );
        self.accounts
            .call(move |c| {
                let row: Option<(String, Vec<u8>)> = c
                    .prepare_cached(
                        "SELECT kind, payload FROM drafts WHERE id = ?1 AND principal = ?2 AND expires_at > ?3",
                    )?
                    .query_row(params![id, who, now], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let row = row.filter(|(kind, _)| kinds.contains(&kind.as_str()));
                if take && row.is_some() {
                    c.execute("DELETE FROM drafts WHERE id = ?1", [id])?;
                }
                Ok(row)
            })
            .await
    }

    /// Submits the seal of a draft: the record or act is appended if the seal is a
    /// valid signature by the official's registered key, and the checks still pass.
    pub async fn seal_draft(
        &self,
        principal: &Principal,
        draft: &str,
        seal: &str,
    ) -> AppResult<Sealed> {
        let seal =
            Seal::parse(seal.trim()).map_err(|e| AppError::bad_request("malformed_seal", e))?;
        let found = self
            .waiting_draft(principal, draft, &["record", "act"], true)
            .await?;
        let (kind, payload) = found.ok_or_else(|| {
            AppError::not_found(
                "unknown_draft",
                format!(
                    "no draft {draft} of yours is waiting (drafts expire after {DRAFT_SECONDS} s)"
                ),
            )
        })?;
        if kind == DraftKind::Act.as_str() {
            let act = SignedAct::from_parts(payload, seal)
                .map_err(|e| AppError::bad_request("malformed_act", e.to_string()))?;
            return self.submit_act(principal, act).await;
        }
        if kind != DraftKind::Record.as_str() {
            return Err(AppError::bad_request(
                "not_sealed_here",
                format!(
                    "draft {draft} is an appeal's step: give its seal to the ticket's decision"
                ),
            ));
        }
        let mut record = decode_canonical(&payload).map_err(AppError::internal)?;
        record.seal = Some(seal);
        self.submit_record(principal, record)
            .await
            .map(Sealed::Record)
    }

    /// Appends a sealed record from an official or a data source, after checking
    /// the seal and (for an official) the intake checks again, and re-derives the
    /// codes it can change.
    pub async fn submit_record(
        &self,
        principal: &Principal,
        record: Evidence,
    ) -> AppResult<Submitted> {
        self.submit_records(principal, vec![record])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::internal("append returned nothing"))
    }

    /// Appends sealed records together, each checked as [`App::submit_record`]
    /// checks one, in one store transaction with their ledger leaves (all or
    /// nothing: a correction's retraction and the corrected record), then
    /// re-derives the codes they can change. `derived` and `changed` of each answer
    /// count the whole call.
    pub async fn submit_records(
        &self,
        principal: &Principal,
        records: Vec<Evidence>,
    ) -> AppResult<Vec<Submitted>> {
        let (registry, directory) = self.intake_directory().await?;
        let mut awaiting = Vec::with_capacity(records.len());
        for record in &records {
            if let Err(refusal) = own_record(principal, record) {
                return Err(AppError::forbidden("not_the_recorder", refusal));
            }
            if let Recorder::Official(me) = &record.recorded_by {
                self.check_intake(me, &registry, &directory, record).await?;
            }
            if let Err(refusal) = recorded_by_now(record, self.now()) {
                return Err(AppError::bad_request("recorded_in_the_future", refusal));
            }
            self.engine
                .vouching()
                .check(record)
                .map_err(|e| AppError::bad_request("bad_seal", e.to_string()))?;
            self.check_references(record).await?;
            let target = match &record.body {
                EvidenceBody::Retraction { target, .. } => {
                    self.store.record(target).await?.map(|r| r.evidence)
                }
                _ => None,
            };
            awaiting.push(record.needs_approval(target.as_ref()));
        }
        let appended = self
            .store
            .append(records.clone())
            .await
            .map_err(|e| match e {
                mingma_store::StoreError::Conflict { .. } => {
                    AppError::new(axum::http::StatusCode::CONFLICT, "id_taken", e.to_string())
                }
                other => AppError::from(other),
            })?;
        if appended.len() != records.len() {
            return Err(AppError::internal(
                "append returned another number of records",
            ));
        }
        let mut persons = std::collections::BTreeSet::new();
        for record in &records {
            persons.extend(self.engine.affected_by_record(record).await?);
        }
        let persons: Vec<PersonKey> = persons.into_iter().collect();
        let derived = self.engine.rederive(&persons, self.now()).await?;
        // The records about nobody among them are no longer pending (a record about
        // someone never was: no write for it).
        let about_nobody = records
            .iter()
            .zip(&appended)
            .filter(|(r, _)| r.subject.is_none());
        self.store
            .derivations_done(about_nobody.map(|(_, a)| a.leaf).collect())
            .await?;
        for person in &persons {
            self.forget_code(*person);
        }
        Ok(records
            .iter()
            .zip(appended)
            .zip(awaiting)
            .map(|((record, appended), awaiting_approval)| Submitted {
                record: record.id.to_string(),
                leaf: appended.leaf,
                fresh: appended.fresh,
                awaiting_approval,
                derived: derived.derived,
                changed: ChangedCodes::from(derived.changed),
            })
            .collect())
    }

    /// Takes `principal`'s waiting record draft `draft` (used once) and returns its
    /// record with `seal` on it, unchecked: for a caller that submits several
    /// records together ([`App::submit_records`] checks them).
    pub(crate) async fn take_record_draft(
        &self,
        principal: &Principal,
        draft: &str,
        seal: &str,
    ) -> AppResult<Evidence> {
        let seal =
            Seal::parse(seal.trim()).map_err(|e| AppError::bad_request("malformed_seal", e))?;
        let payload = self
            .waiting_draft(principal, draft, &["record"], true)
            .await?
            .map(|(_, payload)| payload);
        let payload = payload.ok_or_else(|| {
            AppError::not_found(
                "unknown_draft",
                format!(
                    "no record draft {draft} of yours is waiting (drafts expire after {DRAFT_SECONDS} s)"
                ),
            )
        })?;
        let mut record = decode_canonical(&payload).map_err(AppError::internal)?;
        record.seal = Some(seal);
        Ok(record)
    }

    /// Appends the sealed records of a bulk submission (JSON Lines or CSV) by the
    /// pipeline `mingma import` runs ([`bulk::import`]: every seal checked against
    /// the ledger's keys, officials' records against their grants, references,
    /// idempotent on ids), taking only `principal`'s own records recorded by now;
    /// every other line is refused with its line, field and reason, and nothing of
    /// it is stored. Then re-derives the codes the new records can change (as
    /// [`App::submit_record`] does) and drops their cached views.
    pub async fn submit_bulk<R: std::io::BufRead + Send + 'static>(
        &self,
        principal: &Principal,
        lines: bulk::Lines<R>,
    ) -> AppResult<BulkSubmitted> {
        let (registry, directory) = self.intake_directory().await?;
        let options = bulk::Options {
            check_seals: true,
            // Leave cores to the door flow.
            workers: (bulk::workers() / 2).max(1),
        };
        let mut hooks = BulkHooks {
            principal,
            now: self.now(),
            errors: Vec::new(),
            not_listed: 0,
            subjects: std::collections::BTreeSet::new(),
            wider: Vec::new(),
        };
        let counts = bulk::import(
            &self.store,
            registry,
            directory,
            lines,
            self.keys.pseudonym.clone(),
            &options,
            &mut hooks,
        )
        .await
        .map_err(|e| AppError::internal(format!("bulk import: {e:#}")))?;
        let mut persons = hooks.subjects;
        for (record, _) in &hooks.wider {
            persons.extend(self.engine.affected_by_record(record).await?);
        }
        let persons: Vec<PersonKey> = persons.into_iter().collect();
        let derived = self.engine.rederive(&persons, self.now()).await?;
        // The records about nobody among them are no longer pending.
        self.store
            .derivations_done(hooks.wider.iter().map(|(_, leaf)| *leaf).collect())
            .await?;
        for person in &persons {
            self.forget_code(*person);
        }
        Ok(BulkSubmitted {
            lines: counts.lines,
            fresh: counts.fresh,
            already: counts.already,
            refused: counts.refused,
            errors: hooks.errors,
            errors_not_listed: hooks.not_listed,
            derived: derived.derived,
            changed: ChangedCodes::from(derived.changed),
        })
    }

    /// Every record a record names must be stored already.
    async fn check_references(&self, record: &Evidence) -> AppResult<()> {
        let mut named: Vec<&RecordId> = Vec::new();
        match &record.body {
            EvidenceBody::CaseReport { test: Some(t), .. } => named.push(t),
            EvidenceBody::CaseClosure { case, .. } | EvidenceBody::CloseContact { case, .. } => {
                named.push(case)
            }
            EvidenceBody::QuarantineOrder { ground, .. } => named.push(ground),
            EvidenceBody::QuarantineRelease { order } => named.push(order),
            EvidenceBody::Retraction { target, .. }
            | EvidenceBody::Approval { target }
            | EvidenceBody::Rejection { target, .. } => named.push(target),
            _ => {}
        }
        for id in named {
            if self.store.record(id).await?.is_none() {
                return Err(AppError::bad_request(
                    "unknown_reference",
                    format!("record {} names {id}, which is not stored", record.id),
                ));
            }
        }
        Ok(())
    }

    /// Drafts a contact-tracing query for `case` (a case report's id): the query is
    /// logged as a sealed act, with its purpose, before any result is shown.
    pub async fn draft_trace(
        &self,
        principal: &Principal,
        case: &str,
        margin_minutes: u32,
    ) -> AppResult<Draft> {
        let official = Self::official_of(principal)?.clone();
        let case = RecordId::parse(case.trim())
            .map_err(|e| AppError::bad_request("malformed_case", format!("case: {e}")))?;
        let stored = self.store.record(&case).await?.ok_or_else(|| {
            AppError::not_found("unknown_case", format!("case report {case} is not stored"))
        })?;
        if stored.evidence.kind() != EvidenceKind::CaseReport {
            return Err(AppError::bad_request(
                "not_a_case",
                format!("{case} is a {}, not a case report", stored.evidence.kind()),
            ));
        }
        if margin_minutes > 24 * 60 {
            return Err(AppError::bad_request(
                "margin_too_wide",
                "the margin is at most 1440 minutes",
            ));
        }
        let registry = self.engine.registry().await?;
        let place = self.place_of_record(&registry, &stored.evidence)?;
        authorize(registry.grants_of(&official), Action::Trace, place)
            .map_err(|r| forbidden(&r, r.code()))?;
        let body = ActBody {
            by: official.clone(),
            at: self.now(),
            act: Act::TracingQuery {
                case: case.clone(),
                margin_minutes,
            },
        };
        self.draft_act(principal, body, &registry).await
    }

    pub(crate) async fn draft_act(
        &self,
        principal: &Principal,
        body: ActBody,
        registry: &Registry,
    ) -> AppResult<Draft> {
        let json = serde_json::to_vec(&body).map_err(AppError::internal)?;
        let summary = body.act.describe();
        let key = signing_key_of(registry, &body.by);
        let message = act_message(&json);
        let draft = self.save_draft(principal, DraftKind::Act, json).await?;
        Ok(Draft {
            draft,
            kind: DraftKind::Act.as_str(),
            record: None,
            summary,
            message: base64::engine::general_purpose::STANDARD.encode(message),
            key,
        })
    }

    /// Appends a sealed act after the registry accepts it; a tracing query then runs.
    async fn submit_act(&self, principal: &Principal, act: SignedAct) -> AppResult<Sealed> {
        let official = Self::official_of(principal)?;
        if &act.body.by != official {
            return Err(AppError::forbidden(
                "not_the_actor",
                "an act may be submitted only by its maker",
            ));
        }
        let registry = self.engine.registry().await?;
        registry.check(&act).map_err(act_refused)?;
        let (leaf, consent) = match &act.body.act {
            // Linked only if the request is still open when the act is appended.
            Act::WitnessConsent { .. } => {
                let (leaf, linked) = self.append_witnessed(&act).await?;
                (leaf, Some(linked))
            }
            _ => (self.store.append_act(act.to_bytes()).await?, None),
        };
        let trace = match &act.body.act {
            Act::TracingQuery {
                case,
                margin_minutes,
            } => Some(self.run_trace(leaf, case, *margin_minutes).await?),
            _ => None,
        };
        Ok(Sealed::Act {
            leaf,
            trace,
            consent,
        })
    }

    async fn run_trace(&self, leaf: u64, case: &RecordId, margin: u32) -> AppResult<TraceResult> {
        let stored = self.store.record(case).await?.ok_or_else(|| {
            AppError::not_found("unknown_case", format!("case report {case} is not stored"))
        })?;
        let person = stored.evidence.subject.ok_or_else(|| {
            AppError::bad_request("not_a_case", format!("{case} is about nobody"))
        })?;
        // The infectious window the rule set publishes: from the case's incubation
        // look-back before the report to the report.
        let until = stored.evidence.effective_at;
        let from = until.minus(INFECTIOUS_LOOKBACK);
        let margin = Span::minutes(i64::from(margin));
        let contacts = self.engine.trace(person, from, until, margin).await?;
        Ok(TraceResult {
            act_leaf: leaf,
            case: case.to_string(),
            contacts: contacts
                .into_iter()
                .map(|c| TracedContact {
                    person: c.person.to_string(),
                    overlaps: c
                        .overlaps
                        .into_iter()
                        .map(|o| TracedOverlap {
                            venue: o.venue.to_string(),
                            case_scan: o.case_scan.to_string(),
                            contact_leaf: o.contact_leaf,
                            from: o.from,
                            until: o.until,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// The division a record concerns for authorisation: its owning authority's.
    fn place_of_record(&self, registry: &Registry, record: &Evidence) -> AppResult<Jurisdiction> {
        record
            .authority
            .as_ref()
            .and_then(|a: &AuthorityId| registry.directory.authorities.get(a))
            .map(|a| a.jurisdiction)
            .ok_or_else(|| {
                AppError::unprocessable(
                    "unknown_authority",
                    format!("record {} names no registered authority", record.id),
                )
            })
    }

    /// Every stored record an official made that counts (see `Vouching`), in ledger
    /// order: read from the store once, then followed (each call reads only what was
    /// appended since).
    async fn counted_records_by_officials(&self) -> AppResult<Vec<Evidence>> {
        self.engine.registry().await?;
        let mut followed = self.by_officials.lock().await;
        loop {
            let page = self
                .store
                .records_except_scans_from(followed.0, 4096)
                .await?;
            let Some(last) = page.last().map(|r| r.leaf) else {
                break;
            };
            followed.1.extend(
                page.into_iter()
                    .map(|r| r.evidence)
                    .filter(|r| r.recorded_by.is_official()),
            );
            followed.0 = last + 1;
        }
        let vouching = self.engine.vouching();
        Ok(followed
            .1
            .iter()
            .filter(|r| vouching.counts(r))
            .cloned()
            .collect())
    }

    /// Records waiting for a second official of `principal`'s authority: manual
    /// records that need approval and have no approval, rejection or retraction.
    pub async fn pending_approvals(&self, principal: &Principal) -> AppResult<Vec<Value>> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let authority = registry.authority_of(official).cloned();
        let mut decided = std::collections::BTreeSet::new();
        let mut waiting = Vec::new();
        for r in self.counted_records_by_officials().await? {
            match &r.body {
                EvidenceBody::Approval { target }
                | EvidenceBody::Rejection { target, .. }
                | EvidenceBody::Retraction { target, .. } => {
                    decided.insert(target.clone());
                }
                _ if r.needs_approval(None) && r.authority == authority => waiting.push(r),
                _ => {}
            }
        }
        Ok(waiting
            .into_iter()
            .filter(|r| !decided.contains(&r.id))
            .map(|r| {
                serde_json::json!({
                    "record": r.id,
                    "kind": r.kind(),
                    "label_zh": r.kind().label_zh(),
                    "label_en": r.kind().label_en(),
                    "recorded_by": r.recorded_by.to_string(),
                    "recorded_at": r.recorded_at,
                    "effective_at": r.effective_at,
                    "legal_basis": r.legal_basis,
                    "subject": r.subject.map(|s| s.to_string()),
                    "detail": record_detail(&r),
                    "own": r.recorded_by == Recorder::Official(official.clone()),
                })
            })
            .collect())
    }

    /// People currently under quarantine orders of `principal`'s authority (or, for
    /// an official whose grants cover it, of every authority inside their
    /// jurisdiction): orders that count, are approved, not released or retracted.
    pub async fn quarantine_list(&self, principal: &Principal) -> AppResult<Vec<UnderQuarantine>> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let grants = registry.grants_of(official).to_vec();
        let visible = |authority: &Option<AuthorityId>| {
            authority
                .as_ref()
                .and_then(|a| registry.directory.authorities.get(a))
                .is_some_and(|a| authorize(&grants, Action::ListQuarantine, a.jurisdiction).is_ok())
        };
        let mut orders = Vec::new();
        let mut ended = std::collections::BTreeSet::new();
        let mut approved = std::collections::BTreeSet::new();
        for r in self.counted_records_by_officials().await? {
            match &r.body {
                EvidenceBody::QuarantineOrder { .. } if visible(&r.authority) => orders.push(r),
                EvidenceBody::QuarantineRelease { order } => {
                    ended.insert(order.clone());
                }
                EvidenceBody::Retraction { target, .. }
                | EvidenceBody::Rejection { target, .. } => {
                    ended.insert(target.clone());
                }
                EvidenceBody::Approval { target } => {
                    approved.insert(target.clone());
                }
                _ => {}
            }
        }
        let now = self.now();
        Ok(orders
            .into_iter()
            .filter(|o| !ended.contains(&o.id) && approved.contains(&o.id) && o.effective_at <= now)
            .filter_map(|o| match &o.body {
                EvidenceBody::QuarantineOrder {
                    setting,
                    planned_end,
                    ..
                } => Some(UnderQuarantine {
                    person: o.subject.map(|s| s.to_string()).unwrap_or_default(),
                    order: o.id.to_string(),
                    authority: o
                        .authority
                        .as_ref()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    setting: setting.name().to_owned(),
                    from: o.effective_at,
                    planned_end: *planned_end,
                }),
                _ => None,
            })
            .collect())
    }
}

/// `Ok` if `record` was recorded by `principal` (an official's record by that
/// official, a source's by that source); otherwise why not.
fn own_record(principal: &Principal, record: &Evidence) -> Result<(), String> {
    match (principal, &record.recorded_by) {
        (Principal::Official(me), Recorder::Official(by)) if me == by => Ok(()),
        (Principal::Source(me), Recorder::Source { id, .. }) if me == id => Ok(()),
        (_, by) => Err(format!(
            "record {} says it was recorded by {by}; you may submit only your own",
            record.id
        )),
    }
}

/// `Ok` unless `record` says it was recorded later than `now` by more than
/// [`RECORDED_AT_SKEW`]; otherwise why it is refused.
fn recorded_by_now(record: &Evidence, now: Timestamp) -> Result<(), String> {
    if record.recorded_at > now.plus(RECORDED_AT_SKEW) {
        return Err(format!(
            "record {} says it was recorded at {}, later than now ({now}) by more than {}",
            record.id, record.recorded_at, RECORDED_AT_SKEW
        ));
    }
    Ok(())
}

/// Whether the key with id `key_id` (16 hex digits) is in the ledger's key ring.
fn key_registered(registry: &Registry, key_id: &str) -> bool {
    KeyId::parse(key_id).is_ok_and(|id| registry.keys.get(id).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_for_unknown_officials_parses_so_it_costs_the_same_work() {
        let parsed = PasswordHash::new(UNKNOWN_OFFICIAL_HASH).expect("a PHC string");
        assert!(Argon2::default()
            .verify_password(b"anything", &parsed)
            .is_err());
    }

    #[test]
    fn passwords_are_hashed_with_a_fresh_salt_and_short_ones_refused() {
        let a = hash_password("correct horse battery").expect("hash");
        let b = hash_password("correct horse battery").expect("hash");
        assert_ne!(a, b);
        let parsed = PasswordHash::new(&a).expect("parses");
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert_eq!(hash_password("short").unwrap_err().code, "weak_password");
    }
}
