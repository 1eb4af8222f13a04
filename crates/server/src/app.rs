//! The service: what the API and the pages do, over the evidence store (through the
//! derivation engine for every code) and the server's own database.
//!
//! Colours come only from `mingma_core::derive`; the cached code state is written
//! only by `Engine::rederive`, which this module calls when the cache does not say
//! what derivation says now. A check-in is evidence: appended to the store (record
//! and ledger leaf in one transaction), then re-derived.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use mingma_core::{
    Colour, Decision, Directory, Evidence, EvidenceBody, Jurisdiction, NationalId, PersonKey,
    Presence, PseudonymKey, RecordId, RecordStatus, Recorder, Timestamp, Venue, VenueId, VenueKind,
};
use mingma_engine::{Clock, Engine};
use mingma_explain::{Explainer, Explanation, Lang};
use mingma_ledger::{CheckpointSigner, NoteVerifier};
use mingma_store::receipt::{check, issue, Receipt, ReceiptError, Target};
use mingma_store::{CodeChange, Store};
use mingma_token::code::{holder_of, mask_name};
use mingma_token::{
    CheckpointCode, IssuerKey, Refusal, TrustList, VenueKey, VenueToken, VerifiedCode,
};

use crate::accounts::{Account, Accounts, Challenge, Consent, Dependant, VenueRecord};
use crate::auth::{
    digest, parse_id, random_otp, random_token, Delivery, HolderName, IdentityVerifier, OtpChannel,
    Phone,
};
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;

/// A one-time code judged against its pending request (a sign-in challenge or a
/// dependant's consent request).
pub(crate) enum Otp {
    /// The code matches.
    Accepted,
    /// The request has expired or used up its attempts.
    Expired,
    /// The code is wrong: the error says how many tries are left. The caller
    /// counts the failed attempt.
    Wrong(AppError),
}

/// Judges `code` for request `challenge`, stored with `code_hash`, valid until
/// `expires_at`, after `attempts` wrong codes.
pub(crate) fn judge_otp(
    challenge: &str,
    code: &str,
    code_hash: &[u8],
    expires_at: Timestamp,
    attempts: u32,
    now: Timestamp,
) -> Otp {
    if now >= expires_at || attempts >= OTP_ATTEMPTS {
        return Otp::Expired;
    }
    if digest(&[challenge.as_bytes(), code.trim().as_bytes()]) != code_hash {
        return Otp::Wrong(AppError::unauthorized(
            "otp_mismatch",
            format!(
                "the one-time code is wrong ({} tries left)",
                OTP_ATTEMPTS.saturating_sub(attempts + 1)
            ),
        ));
    }
    Otp::Accepted
}

/// How long a one-time code is valid.
pub(crate) const OTP_SECONDS: i64 = 300;
/// Wrong codes allowed per challenge.
const OTP_ATTEMPTS: u32 = 5;
/// One-time codes that may be pending for one person at a time (each is an SMS to
/// their phone, and each allows a few guesses).
const OTP_PENDING: u32 = 3;
/// How long a session lasts.
const SESSION_SECONDS: i64 = 7 * 24 * 3600;
/// Code views kept at most; a full cache is emptied (it refills as codes are shown).
const CODE_VIEWS: usize = 262_144;
/// A kept code view is derived again, off the request, once it has this many
/// seconds left.
const REFRESH_AHEAD_SECONDS: i64 = 10;

/// Code views checked anew off the request at once, at most.
const BACKGROUND_CHECKS: usize = 4;

/// How often the ledger is followed (see [`App::follow_ledger`]).
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// A kept view is taken as unchanged from what the follower saw only while its last
/// read began less than this long ago; otherwise the store is asked.
const FOLLOWED_FRESH: std::time::Duration = std::time::Duration::from_secs(3);

/// `seconds` less a part of its last quarter that depends on `person` (from three
/// quarters of it to all of it): how long a view is kept, so that views derived in
/// the same moment (a city's holders signing in at once) do not all end, and are
/// not all derived or signed again, in the same moment.
fn spread_by_person(person: PersonKey, seconds: i64) -> i64 {
    let spread = seconds / 4;
    if spread <= 0 {
        return seconds;
    }
    let [a, b, ..] = *person.as_bytes();
    seconds - i64::from(u16::from_le_bytes([a, b])) % (spread + 1)
}

/// A cached code view's key: the person, and whether in English.
type ViewKey = (PersonKey, bool);

/// A code view as kept: until when it is shown as it is, and what it was derived
/// from, so that once that time is up it can be shown again — decided anew at the
/// new time and signed anew — without reading the evidence again, when the store
/// says nothing it would read has been appended since.
struct KeptView {
    view: CodeView,
    until: Timestamp,
    basis: Arc<ViewBasis>,
}

/// What a code view was derived from.
struct ViewBasis {
    /// The ledger's size before the evidence was read: every record the derivation
    /// read lies below it.
    below: u64,
    /// The last authority act taken in (keys, officials, sources): a new one may
    /// change which records count.
    acts: Option<u64>,
    /// The records the decision was derived from (those that count).
    records: Arc<Vec<Evidence>>,
    /// The recorded code state the view showed.
    state: mingma_store::CodeState,
    /// How many appends concerning everyone (a risk area, an authority act) the
    /// ledger's follower had seen when the records were read.
    everyone_seen: u64,
}

/// The ledger as this server follows it ([`App::follow_ledger`]).
#[derive(Default)]
struct Followed {
    /// The ledger's size when following began: views derived from records read
    /// below it are not vouched for.
    from: u64,
    /// Everything appended below this was seen.
    upto: u64,
    /// When the last read that succeeded began (`None`: not following).
    read_at: Option<std::time::Instant>,
}

/// Verified venue tokens kept (the set is emptied when full).
const VERIFIED_TOKENS: usize = 65_536;
/// Scans of the same token by the same person within this bucket are one check-in.
const CHECK_IN_BUCKET_SECONDS: i64 = 600;

/// The keys the service signs with.
pub struct Keys {
    /// Signs checkpoint codes.
    pub issuer: IssuerKey,
    /// Signs venue tokens.
    pub venue: VenueKey,
    /// Signs the log's checkpoints.
    pub log: CheckpointSigner,
    /// Keys persons by their ID number.
    pub pseudonym: PseudonymKey,
}

/// The venue registry in memory, loaded from the server's database.
#[derive(Default)]
pub struct Registry {
    /// Authorities and venues, as the explanation names them.
    pub directory: Directory,
    /// Venues with their address and operator.
    pub venues: BTreeMap<VenueId, VenueRecord>,
}

/// Everything a handler needs.
pub struct App<S> {
    /// The configuration.
    pub config: Config,
    /// The evidence store.
    pub store: S,
    /// The derivation engine (the only writer of code states).
    pub engine: Engine<S>,
    /// The server's database.
    pub accounts: Accounts,
    /// Signing keys.
    pub keys: Keys,
    /// The trust list published at the well-known URL.
    pub trust: TrustList,
    /// Venues and authorities.
    pub registry: RwLock<Registry>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Where one-time codes go.
    pub otp: Arc<dyn OtpChannel>,
    /// Who vouches for ID numbers.
    pub identity: Arc<dyn IdentityVerifier>,
    /// Request metrics.
    pub metrics: Metrics,
    /// Overload protection (other work shed before the door flow).
    pub admission: crate::overload::Admission,
    /// Code views as derived and signed, per person and language, each shown as it
    /// is until `code_cache_seconds` have passed or its decision's next change falls
    /// due, whichever is first, and then shown again from what it was derived from
    /// if the store says nothing derivation reads was appended since; a check-in,
    /// leave or official's act through this service drops the person's entries.
    views: std::sync::Mutex<std::collections::HashMap<ViewKey, KeptView>>,
    /// Venue tokens whose signature was checked, by their text: a poster's token is
    /// scanned all day, and its signature need not be checked at every scan.
    verified_tokens: std::sync::Mutex<std::collections::HashMap<String, VenueToken>>,
    /// The code views being derived, per person and language: one derivation at a
    /// time each.
    deriving: std::sync::Mutex<std::collections::HashMap<ViewKey, Arc<tokio::sync::Mutex<()>>>>,
    /// The code views being checked anew off the request, at low priority: one at
    /// a time each, and never waited for by a request (which derives on its own).
    checking: std::sync::Mutex<std::collections::HashSet<ViewKey>>,
    /// How many times a code view was forgotten (new evidence): a view derived
    /// across a forget is not kept.
    forgotten: std::sync::atomic::AtomicU64,
    /// How many authority acts the explanation directory has taken in.
    acts_merged: std::sync::atomic::AtomicU64,
    /// The ledger as followed: a kept view whose records were read within what was
    /// followed is unchanged unless its person was forgotten or something concerning
    /// everyone was appended (`everyone_seen`).
    followed: std::sync::Mutex<Followed>,
    /// How many appends concerning everyone the follower has seen.
    everyone_seen: std::sync::atomic::AtomicU64,
    /// The records officials made by hand (facts, approvals, rejections,
    /// retractions), followed from the store: the next leaf to read and the records.
    /// The officials' lists read these, not the millions of sources' records.
    pub(crate) by_officials: tokio::sync::Mutex<(u64, Vec<Evidence>)>,
}

/// A sign-in waiting for its one-time code.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SignInStarted {
    /// The challenge to confirm.
    pub challenge: String,
    /// Where the code went (masked).
    pub sent_to: String,
    /// Whether an account exists for this ID number: then the code went to the phone
    /// on file, not to the one given.
    pub existing_account: bool,
    /// The demo channel's code (absent with a real channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_code: Option<String>,
}

/// A holder's code as shown.
#[derive(Debug, Clone)]
pub struct CodeView {
    /// The derivation.
    pub decision: Decision,
    /// The explanation in the asked language.
    pub explanation: Explanation,
    /// The holder's masked name.
    pub masked_name: String,
    /// The last four characters of the ID number.
    pub id_last_four: String,
    /// The signed checkpoint code.
    pub token: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// The batch leaf and position of the recorded code change behind it.
    pub change_leaf: u64,
    /// Its position in the batch.
    pub change_position: u64,
    /// The latest test's sample time.
    pub latest_test: Option<Timestamp>,
    /// The signed code's QR (SVG), drawn once per view ([`CodeView::qr_svg`]).
    qr: Arc<std::sync::OnceLock<String>>,
}

impl CodeView {
    /// The signed code as a QR code (SVG, 260 px), drawn on first use and shared by
    /// every display of this view.
    pub fn qr_svg(&self) -> &str {
        self.qr
            .get_or_init(|| crate::qr::qr_svg(&self.token, 260).unwrap_or_default())
    }
}

/// One entry of a holder's history.
#[derive(Debug, Clone)]
pub struct HistoryItem {
    /// When (effective time of a record; valid-at of a code change).
    pub at: Timestamp,
    /// What it is, in one line.
    pub line: String,
    /// For a code change, its colour.
    pub colour: Option<Colour>,
    /// The ledger leaf.
    pub leaf: u64,
    /// What a receipt is asked for with.
    pub target: HistoryTarget,
    /// Whether a signed checkpoint covers it yet.
    pub covered: bool,
}

/// What a history entry's receipt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryTarget {
    /// A record, by id.
    Record(RecordId),
    /// A code change.
    CodeChange {
        /// The batch leaf.
        leaf: u64,
        /// The position.
        position: u64,
    },
}

/// What a leave recorded.
#[derive(Debug, Clone)]
pub struct Left {
    /// The record of the stay with its exit.
    pub exit: RecordId,
    /// The check-in it completes.
    pub entry: RecordId,
    /// The venue.
    pub venue: VenueRecord,
    /// Whose stay (the actor or their dependant).
    pub person: PersonKey,
    /// When they left.
    pub left_at: Timestamp,
    /// `false` if the leave was already recorded.
    pub new: bool,
}

/// What a check-in did.
#[derive(Debug, Clone)]
pub struct CheckedIn {
    /// The scan record.
    pub record: RecordId,
    /// The venue.
    pub venue: VenueRecord,
    /// How strongly presence is assured.
    pub presence: Presence,
    /// When.
    pub at: Timestamp,
    /// `false` if the same check-in was already recorded (a reload).
    pub new: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S: Store> App<S> {
    /// Assembles the service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: S,
        engine: Engine<S>,
        accounts: Accounts,
        keys: Keys,
        registry: Registry,
        clock: Arc<dyn Clock>,
        otp: Arc<dyn OtpChannel>,
        identity: Arc<dyn IdentityVerifier>,
    ) -> Self {
        let trust = TrustList::of(&keys.issuer, &config.issuer_name);
        let admission = crate::overload::Admission::new(config.overload_limits());
        Self {
            admission,
            views: std::sync::Mutex::default(),
            verified_tokens: std::sync::Mutex::default(),
            deriving: std::sync::Mutex::default(),
            checking: std::sync::Mutex::default(),
            forgotten: std::sync::atomic::AtomicU64::new(0),
            followed: std::sync::Mutex::new(Followed::default()),
            everyone_seen: std::sync::atomic::AtomicU64::new(0),
            config,
            store,
            engine,
            accounts,
            keys,
            trust,
            registry: RwLock::new(registry),
            clock,
            otp,
            identity,
            metrics: Metrics::default(),
            acts_merged: std::sync::atomic::AtomicU64::new(0),
            by_officials: tokio::sync::Mutex::new((0, Vec::new())),
        }
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The log's verifier.
    pub fn log_verifier(&self) -> NoteVerifier {
        self.keys.log.verifier()
    }

    pub(crate) fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A poisoned lock only means a panic elsewhere while writing a map insert;
        // the data is still a valid map.
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    // ---------------------------------------------------------------------------
    // Sign-in.

    /// Starts a sign-in (or sign-up) with an ID number, name and phone: sends a
    /// one-time code to the phone on file if the ID number has an account, else to
    /// the phone given.
    pub async fn start_sign_in(
        &self,
        id: &str,
        name: &str,
        phone: &str,
    ) -> AppResult<SignInStarted> {
        let id = parse_id(id)?;
        let name = HolderName::parse(name)?;
        let phone = Phone::parse(phone)?;
        self.identity.verify(&id, &name).await.map_err(|why| {
            AppError::unprocessable(
                "identity_not_verified",
                format!("identity not verified: {why}"),
            )
        })?;
        let person = self.keys.pseudonym.person_key(&id);
        self.limit_codes(person).await?;
        let existing = self.accounts.account(person).await?;
        let (account, to, is_existing) = match existing {
            Some(account) => {
                let on_file = Phone::parse(&account.phone)?;
                (account, on_file, true)
            }
            None => (
                Account {
                    person,
                    name: name.as_str().to_owned(),
                    phone: phone.as_str().to_owned(),
                    id_last_four: id.last_four().to_owned(),
                },
                phone,
                false,
            ),
        };
        let code = random_otp()?;
        let challenge = random_token()?;
        let delivery = self.otp.send(&to, &code).await.map_err(|why| {
            AppError::unavailable(
                "otp_not_sent",
                format!("the one-time code could not be sent: {why}"),
            )
        })?;
        self.accounts
            .add_challenge(
                challenge.clone(),
                Challenge {
                    account,
                    code_hash: digest(&[challenge.as_bytes(), code.as_bytes()]),
                    expires_at: self.now().plus_seconds(OTP_SECONDS),
                    attempts: 0,
                    existing: is_existing,
                },
            )
            .await?;
        Ok(SignInStarted {
            challenge,
            sent_to: to.masked(),
            existing_account: is_existing,
            demo_code: match delivery {
                Delivery::Shown(code) => Some(code),
                Delivery::Sent => None,
            },
        })
    }

    /// Confirms a challenge with its one-time code; returns a session token.
    pub async fn confirm_sign_in(
        &self,
        challenge: &str,
        code: &str,
    ) -> AppResult<(String, PersonKey)> {
        let unknown = || {
            AppError::unauthorized(
                "otp_challenge_unknown",
                "this sign-in has expired or was never started; start again",
            )
        };
        if challenge.len() != 64 {
            return Err(unknown());
        }
        let ch = self
            .accounts
            .challenge(challenge.to_owned())
            .await?
            .ok_or_else(unknown)?;
        let now = self.now();
        match judge_otp(
            challenge,
            code,
            &ch.code_hash,
            ch.expires_at,
            ch.attempts,
            now,
        ) {
            Otp::Accepted => {}
            Otp::Expired => return Err(unknown()),
            Otp::Wrong(error) => {
                self.accounts.fail_challenge(challenge.to_owned()).await?;
                return Err(error);
            }
        }
        let token = random_token()?;
        let person = ch.account.person;
        self.accounts
            .complete_challenge(
                challenge.to_owned(),
                ch.account,
                digest(&[token.as_bytes()]),
                now,
                now.plus_seconds(SESSION_SECONDS),
            )
            .await?;
        Ok((token, person))
    }

    async fn limit_codes(&self, person: PersonKey) -> AppResult<()> {
        if self.accounts.pending_codes(person, self.now()).await? >= OTP_PENDING {
            return Err(AppError::too_many(
                "otp_rate_limited",
                format!(
                    "{OTP_PENDING} one-time codes are already pending for this ID number; use one, or wait {} minutes",
                    OTP_SECONDS / 60
                ),
            ));
        }
        Ok(())
    }

    /// The person a session token belongs to.
    pub async fn session(&self, token: &str) -> AppResult<Option<PersonKey>> {
        self.accounts
            .session(digest(&[token.as_bytes()]), self.now())
            .await
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> AppResult<()> {
        self.accounts.end_session(digest(&[token.as_bytes()])).await
    }

    // ---------------------------------------------------------------------------
    // The code.

    pub(crate) async fn account(&self, person: PersonKey) -> AppResult<Account> {
        self.accounts.account(person).await?.ok_or_else(|| {
            AppError::unauthorized("no_account", "no account for this session; sign in again")
        })
    }

    /// The holder's code now: derived from the evidence; the cached code state is
    /// brought up to date by the engine if it says anything else; signed. The view
    /// is then reused for up to `code_cache_seconds` (never past the decision's next
    /// change, and dropped by the holder's next check-in or leave here), so evidence
    /// appended elsewhere shows within that time; after it, the view is decided and
    /// signed anew from the same records when nothing new was appended that its
    /// derivation reads (`Store::derivation_changed_since`), and derived from the
    /// evidence otherwise.
    pub async fn code_view(self: &Arc<Self>, person: PersonKey, lang: Lang) -> AppResult<CodeView> {
        let account = self.account(person).await?;
        self.code_view_of(person, &account.name, &account.id_last_four, lang)
            .await
    }

    /// The code of one of `proxy`'s dependants (404 for anyone else).
    pub async fn dependant_view(
        self: &Arc<Self>,
        proxy: PersonKey,
        dependant: &str,
        lang: Lang,
    ) -> AppResult<(Dependant, CodeView)> {
        let d = self.dependant(proxy, dependant).await?;
        let view = self
            .code_view_of(d.person, &d.name, &d.id_last_four, lang)
            .await?;
        Ok((d, view))
    }

    fn views(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<ViewKey, KeptView>> {
        // A poisoned lock means a panic during a map insert; the map is still valid.
        self.views.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the ledger for as long as it runs, every [`FOLLOW_EVERY`]
    /// ([`App::follow_ledger_once`]); the server runs it beside its routes.
    pub async fn follow_ledger(self: Arc<Self>) {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.follow_ledger_once().await {
                tracing::warn!(error = %e.message, "following the ledger failed");
            }
        }
    }

    /// Reads who the records appended since the last read concern
    /// (`Store::appended_since`, one read for every kept view) and forgets their
    /// code views; something concerning everyone (a risk area, an authority act)
    /// sends every kept view to the store to be checked at its end. While this
    /// runs, a kept view whose time is up and whose person was not forgotten is
    /// shown again without a read — and evidence appended past this service shows
    /// at the next display after the next read, not only after the view's time.
    pub async fn follow_ledger_once(&self) -> AppResult<()> {
        use std::sync::atomic::Ordering;
        let started = std::time::Instant::now();
        let (reading, upto) = {
            let followed = self.followed();
            (followed.read_at.is_some(), followed.upto)
        };
        if !reading {
            let size = self.store.ledger_size().await?;
            *self.followed() = Followed {
                from: size,
                upto: size,
                read_at: Some(started),
            };
            return Ok(());
        }
        let appended = self.engine.appended_since(upto).await?;
        if appended.everyone {
            self.everyone_seen.fetch_add(1, Ordering::AcqRel);
        }
        for person in &appended.persons {
            self.forget_code(*person);
        }
        let mut followed = self.followed();
        followed.upto = followed.upto.max(appended.size);
        followed.read_at = Some(started);
        Ok(())
    }

    fn followed(&self) -> std::sync::MutexGuard<'_, Followed> {
        self.followed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the follower vouches that nothing `basis` was derived from has
    /// changed: it has read recently, from before the records were read, and saw
    /// nothing concerning everyone since (anything about the person forgot the
    /// view, and a view derived across that is not kept).
    fn followed_unchanged(&self, basis: &ViewBasis) -> bool {
        let followed = self.followed();
        followed
            .read_at
            .is_some_and(|at| at.elapsed() < FOLLOWED_FRESH)
            && followed.from <= basis.below
            && basis.everyone_seen
                == self
                    .everyone_seen
                    .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Drops the cached code views of `person` (new evidence about them).
    pub fn forget_code(&self, person: PersonKey) {
        self.forgotten
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut views = self.views();
        views.remove(&(person, false));
        views.remove(&(person, true));
    }

    async fn code_view_of(
        self: &Arc<Self>,
        person: PersonKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
    ) -> AppResult<CodeView> {
        let key = (person, lang == Lang::En);
        let now = self.now();
        if let Some((view, until)) = self.kept_view(&key, name, id_last_four, now) {
            // Derived again ahead of its end, off this request, while it is still
            // served: a holder who keeps showing their code never waits for it.
            // (Not ahead of a change the decision itself brings: that view would end
            // at the same time.)
            let by_itself = view
                .decision
                .next_change
                .as_ref()
                .is_some_and(|n| n.at <= until);
            if !by_itself
                && until.unix_seconds() - now.unix_seconds() <= REFRESH_AHEAD_SECONDS
                && self.config.code_cache_seconds > 2 * REFRESH_AHEAD_SECONDS
            {
                self.view_again_later(key, name, id_last_four, lang);
            }
            return Ok(view);
        }
        // A view whose time is up shows while it is checked again off the request,
        // at low priority: holders coming back after a pause (all at once, as at a
        // morning's first checkpoints) do not wait for it, nor make the door wait.
        if let Some(view) = self.ended_view(&key, name, id_last_four, now) {
            self.view_again_later(key, name, id_last_four, lang);
            return Ok(view);
        }
        self.derive_kept(key, name, id_last_four, lang, 0).await
    }

    /// Shows `key`'s view again (or derives it) off the request, on the door's
    /// runtime, at most [`BACKGROUND_CHECKS`] at once, unless that is under way.
    fn view_again_later(
        self: &Arc<Self>,
        key: ViewKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
    ) {
        if self.deriving().contains_key(&key) {
            return;
        }
        {
            // A few at a time: the rest show as they are a little longer, and a
            // later display asks again.
            let mut checking = self.checking();
            if checking.len() >= BACKGROUND_CHECKS || !checking.insert(key) {
                return;
            }
        }
        let (app, name, last_four) = (self.clone(), name.to_owned(), id_last_four.to_owned());
        // On the door's runtime and read lane, at the door's priority: this is door
        // work done ahead (the view a holder shows next), and under overload the
        // lowest priority starves it until views run out and the door derives them
        // on requests. Not under the requests' lock: a request never waits for it.
        tokio::spawn(async move {
            let ahead = REFRESH_AHEAD_SECONDS;
            let done = app
                .derive_and_keep(key, &name, &last_four, lang, ahead)
                .await;
            app.checking().remove(&key);
            if let Err(e) = done {
                tracing::warn!(error = %e.message, "deriving a code view again failed");
            }
        });
    }

    /// The kept view of `key` for this name and ID number if its time ended less
    /// than `code_cache_seconds` ago and not because the decision changes by itself,
    /// and its signed code is still valid: what may be shown while it is checked.
    fn ended_view(
        &self,
        key: &ViewKey,
        name: &str,
        id_last_four: &str,
        now: Timestamp,
    ) -> Option<CodeView> {
        let views = self.views();
        let kept = views.get(key)?;
        let view = &kept.view;
        let until = self.vouched_until(kept).unwrap_or(kept.until);
        (view.issued_at <= now
            && until <= now
            && now < until.plus_seconds(self.config.code_cache_seconds)
            && now < view.expires_at
            && view
                .decision
                .next_change
                .as_ref()
                .is_none_or(|n| now < n.at)
            && view.id_last_four == id_last_four
            && view.masked_name == mask_name(name))
        .then(|| view.clone())
    }

    /// The kept view of `key` if it is still valid at `now` for this name and ID
    /// number, with when it ends.
    fn kept_view(
        &self,
        key: &ViewKey,
        name: &str,
        id_last_four: &str,
        now: Timestamp,
    ) -> Option<(CodeView, Timestamp)> {
        self.views().get(key).and_then(|kept| {
            let until = self.vouched_until(kept).unwrap_or(kept.until);
            (kept.view.issued_at <= now
                && now < until
                && kept.view.id_last_four == id_last_four
                && kept.view.masked_name == mask_name(name))
            .then(|| (kept.view.clone(), until))
        })
    }

    /// Until when `kept` is shown as it is while the ledger's follower vouches that
    /// nothing it was derived from changed: until at most half its signed code's
    /// validity is used (a shown code keeps at least half, as without the follower;
    /// spread by person), never past the decision's next change, and never sooner
    /// than its own end. `None` when the follower does not vouch for it.
    fn vouched_until(&self, kept: &KeptView) -> Option<Timestamp> {
        self.followed_unchanged(&kept.basis).then(|| {
            let half = kept.view.issued_at.plus_seconds(spread_by_person(
                kept.view.decision.subject,
                self.config.code_validity_seconds / 2,
            ));
            let until = half.max(kept.until);
            match &kept.view.decision.next_change {
                Some(next) => until.min(next.at),
                None => until,
            }
        })
    }

    /// The basis of `key`'s kept view, ended or not, if shown for this name and ID
    /// number.
    fn kept_basis(&self, key: &ViewKey, name: &str, id_last_four: &str) -> Option<Arc<ViewBasis>> {
        self.views().get(key).and_then(|kept| {
            (kept.view.id_last_four == id_last_four && kept.view.masked_name == mask_name(name))
                .then(|| kept.basis.clone())
        })
    }

    fn deriving(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<ViewKey, Arc<tokio::sync::Mutex<()>>>>
    {
        self.deriving.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checking(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<ViewKey>> {
        self.checking.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Derives the view of `key` and keeps it, unless a kept one has more than
    /// `ahead` seconds left. One derivation per person and language at a time:
    /// requests arriving while it runs wait for it and take its view.
    async fn derive_kept(
        &self,
        key: ViewKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
        ahead: i64,
    ) -> AppResult<CodeView> {
        let flight = self.deriving().entry(key).or_default().clone();
        let one = flight.lock().await;
        let done = self
            .derive_and_keep(key, name, id_last_four, lang, ahead)
            .await;
        drop(one);
        let mut flights = self.deriving();
        if Arc::strong_count(&flight) <= 2 {
            flights.remove(&key);
        }
        done
    }

    /// [`App::derive_kept`] without the one-at-a-time lock.
    async fn derive_and_keep(
        &self,
        key: ViewKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
        ahead: i64,
    ) -> AppResult<CodeView> {
        let now = self.now();
        if let Some((view, until)) = self.kept_view(&key, name, id_last_four, now) {
            if until.unix_seconds() - now.unix_seconds() > ahead {
                return Ok(view);
            }
        }
        let forgotten = self.forgotten.load(std::sync::atomic::Ordering::Acquire);
        let derived = match self.kept_basis(&key, name, id_last_four) {
            Some(basis) => match self
                .view_again(key.0, name, id_last_four, lang, now, &basis)
                .await
            {
                Ok(Some(again)) => {
                    self.metrics.event("code_views", "again");
                    Ok(again)
                }
                Ok(None) => self.derive_view(key.0, name, id_last_four, lang, now).await,
                Err(e) => Err(e),
            },
            None => self.derive_view(key.0, name, id_last_four, lang, now).await,
        };
        let (view, basis) = derived?;
        // Not kept if a code was forgotten meanwhile: the evidence it was derived
        // from may already be out of date.
        let unchanged = self.forgotten.load(std::sync::atomic::Ordering::Acquire) == forgotten;
        if self.config.code_cache_seconds > 0 && unchanged {
            let mut until =
                now.plus_seconds(spread_by_person(key.0, self.config.code_cache_seconds));
            if let Some(next) = &view.decision.next_change {
                until = until.min(next.at);
            }
            let mut views = self.views();
            if views.len() >= CODE_VIEWS {
                views.clear();
            }
            views.insert(
                key,
                KeptView {
                    view: view.clone(),
                    until,
                    basis,
                },
            );
        }
        Ok(view)
    }

    /// Catches the engine up on the ledger's authority acts and takes their
    /// authorities, officials and sources into the directory explanations name.
    /// Returns the leaf of the last act taken in.
    pub(crate) async fn merge_ledger_directory(&self) -> AppResult<Option<u64>> {
        use std::sync::atomic::Ordering;
        let ledger = self.engine.registry().await?;
        let seen = ledger.applied + ledger.problems.len() as u64;
        if self.acts_merged.swap(seen, Ordering::AcqRel) == seen {
            return Ok(ledger.last_leaf);
        }
        let mut registry = self
            .registry
            .write()
            .map_err(|_| AppError::internal("the registry lock was poisoned"))?;
        let directory = &mut registry.directory;
        for (id, a) in &ledger.directory.authorities {
            directory.authorities.insert(id.clone(), a.clone());
        }
        for (id, o) in &ledger.directory.officials {
            directory.officials.insert(id.clone(), o.clone());
        }
        for (id, s) in &ledger.directory.sources {
            directory.sources.insert(id.clone(), s.clone());
        }
        Ok(ledger.last_leaf)
    }

    /// The view of `person`'s code derived from the evidence, with what it rests on.
    async fn derive_view(
        &self,
        person: PersonKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
        now: Timestamp,
    ) -> AppResult<(CodeView, Arc<ViewBasis>)> {
        // Only records that count: an official's or a source's record needs a seal
        // by a key the ledger's authority acts registered (caught up first, with the
        // authorities they name taken into the explanations' directory), as the
        // engine derives. The colour signed below is the engine's, never one from a
        // record written past the service.
        let everyone_seen = self
            .everyone_seen
            .load(std::sync::atomic::Ordering::Acquire);
        let acts = self.merge_ledger_directory().await?;
        let below = self.store.ledger_size().await?;
        let records = self.engine.records_for(person).await?;
        let decision = self.engine.derive(&records, &person, now, now);
        let mut state = self.store.code_state(person).await?;
        let current = CodeChange::from_decision(decision.brief(), 0);
        if !state.as_ref().is_some_and(|s| s.change.same_code(&current)) {
            self.engine.rederive(&[person], now).await?;
            state = self.store.code_state(person).await?;
        }
        let state = state.ok_or_else(|| AppError::internal("no code state after re-derivation"))?;
        self.metrics.event("code_views", "derived");
        let view = self.signed_view(
            person,
            name,
            id_last_four,
            lang,
            now,
            &records,
            decision,
            &state,
        )?;
        let basis = ViewBasis {
            below,
            acts,
            records: Arc::new(records),
            state,
            everyone_seen,
        };
        Ok((view, Arc::new(basis)))
    }

    /// `person`'s view shown again at `now` from the basis of the last one, if
    /// nothing that derivation reads was appended since (and no authority act): the
    /// decision is made anew from the same records at `now` — the same as a
    /// derivation from the evidence would make — and signed anew. `None` when the
    /// evidence must be read again: something new, or a code that changed by itself.
    async fn view_again(
        &self,
        person: PersonKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
        now: Timestamp,
        basis: &Arc<ViewBasis>,
    ) -> AppResult<Option<(CodeView, Arc<ViewBasis>)>> {
        let (below, everyone_seen) = if self.followed_unchanged(basis) {
            self.metrics.event("code_view_checks", "followed");
            (basis.below, basis.everyone_seen)
        } else {
            self.metrics.event("code_view_checks", "store");
            let everyone_seen = self
                .everyone_seen
                .load(std::sync::atomic::Ordering::Acquire);
            if self.merge_ledger_directory().await? != basis.acts {
                return Ok(None);
            }
            let below = self.store.ledger_size().await?;
            if self.engine.changed_since(person, basis.below).await? {
                return Ok(None);
            }
            (below, everyone_seen)
        };
        let decision = self.engine.derive(basis.records.iter(), &person, now, now);
        if !basis
            .state
            .change
            .same_code(&CodeChange::from_decision(decision.brief(), 0))
        {
            return Ok(None);
        }
        let view = self.signed_view(
            person,
            name,
            id_last_four,
            lang,
            now,
            &basis.records,
            decision,
            &basis.state,
        )?;
        let basis = ViewBasis {
            below,
            acts: basis.acts,
            records: basis.records.clone(),
            state: basis.state.clone(),
            everyone_seen,
        };
        Ok(Some((view, Arc::new(basis))))
    }

    /// The view of a decision derived from `records` at `now`, with the recorded
    /// code state behind it: explained in `lang`, and signed.
    #[allow(clippy::too_many_arguments)]
    fn signed_view(
        &self,
        person: PersonKey,
        name: &str,
        id_last_four: &str,
        lang: Lang,
        now: Timestamp,
        records: &[Evidence],
        decision: Decision,
        state: &mingma_store::CodeState,
    ) -> AppResult<CodeView> {
        let explanation = {
            let registry = self.registry();
            let explainer = Explainer::new(&registry.directory, records, now, lang);
            explainer.explain(&decision)
        };
        let statuses = mingma_core::record_statuses(records, now);
        let latest_test = records
            .iter()
            .filter(|r| r.subject == Some(person))
            .filter(|r| matches!(statuses.get(&r.id), Some(RecordStatus::Counted)))
            .filter_map(|r| match r.body {
                EvidenceBody::TestResult { sampled_at, .. } => Some(sampled_at),
                _ => None,
            })
            .max();
        let expires_at = now.plus_seconds(self.config.code_validity_seconds);
        let statement = CheckpointCode {
            holder: holder_of(&person),
            masked_name: mask_name(name),
            id_last_four: id_last_four.to_owned(),
            colour: decision.colour,
            latest_test,
            issuer: self.keys.issuer.province(),
            key_id: self.keys.issuer.key_id(),
            issued_at: now,
            expires_at,
            rule_set: decision.rule_set.id.to_string(),
            rule_set_version: decision.rule_set.version.to_string(),
            ledger_index: state.change.reflects(),
        };
        let token = statement
            .sign(&self.keys.issuer)
            .map_err(AppError::internal)?;
        Ok(CodeView {
            explanation,
            masked_name: statement.masked_name,
            id_last_four: id_last_four.to_owned(),
            token,
            issued_at: now,
            expires_at,
            change_leaf: state.leaf,
            change_position: state.position,
            latest_test,
            decision,
            qr: Arc::default(),
        })
    }

    /// Verifies a checkpoint code against the service's own trust list.
    pub fn verify_code(&self, token: &str) -> Result<VerifiedCode, Refusal> {
        CheckpointCode::verify(token, &self.trust, self.now())
    }

    // ---------------------------------------------------------------------------
    // History and receipts.

    /// Every code change of the holder and every record about them, newest first.
    pub async fn history(&self, person: PersonKey, lang: Lang) -> AppResult<Vec<HistoryItem>> {
        let covered_size = self.store.checkpoints().await?.last().map_or(0, |c| c.size);
        let stored = self.store.evidence_about(person).await?;
        let records: Vec<Evidence> = stored.iter().map(|r| r.evidence.clone()).collect();
        let mut items = Vec::new();
        {
            let registry = self.registry();
            let explainer = Explainer::new(&registry.directory, &records, self.now(), lang);
            for r in stored.iter().filter(|r| r.evidence.subject == Some(person)) {
                let mut line = explainer.evidence_line(&r.evidence.id);
                if let Some(why) = explainer.not_counted_because(&r.evidence.id) {
                    line.push_str(" — ");
                    line.push_str(&why);
                }
                items.push(HistoryItem {
                    at: r.evidence.effective_at,
                    line,
                    colour: None,
                    leaf: r.leaf,
                    target: HistoryTarget::Record(r.evidence.id.clone()),
                    covered: r.leaf < covered_size,
                });
            }
        }
        let en = lang == Lang::En;
        for state in self.store.code_changes_of(person).await? {
            let (leaf, position) = (state.leaf, state.position);
            let c = &state.change;
            let colour = if en {
                c.colour().name().to_uppercase()
            } else {
                c.colour().zh().to_owned()
            };
            let mut line = format!("{} → {colour}", if en { "Code change" } else { "赋码变更" });
            if let Some(reason) = c.reason() {
                line.push_str(&format!(" · {reason}"));
            }
            items.push(HistoryItem {
                at: c.valid_at(),
                line,
                colour: Some(c.colour()),
                leaf,
                target: HistoryTarget::CodeChange { leaf, position },
                covered: leaf < covered_size,
            });
        }
        items.sort_by_key(|i| std::cmp::Reverse((i.at, i.leaf)));
        Ok(items)
    }

    /// A receipt for one of the holder's own history entries.
    pub async fn receipt(&self, person: PersonKey, target: HistoryTarget) -> AppResult<Receipt> {
        let not_yours =
            || AppError::not_found("receipt_not_found", "no such entry in your history");
        let target = match target {
            HistoryTarget::Record(id) => {
                let record = self.store.record(&id).await?.ok_or_else(not_yours)?;
                if record.evidence.subject != Some(person) {
                    return Err(not_yours());
                }
                Target::Record(id)
            }
            HistoryTarget::CodeChange { leaf, position } => {
                let batch = self.store.code_change_batch(leaf).await?;
                let mine = usize::try_from(position)
                    .ok()
                    .and_then(|p| batch.get(p))
                    .is_some_and(|s| s.change.person() == person);
                if !mine {
                    return Err(not_yours());
                }
                Target::CodeChange { leaf, position }
            }
        };
        issue(&self.store, &target).await.map_err(|e| match e {
            ReceiptError::Store(e) => AppError::from(e),
            ReceiptError::Refused(why) => {
                AppError::new(StatusCode::CONFLICT, "receipt_not_ready", why)
            }
        })
    }

    /// Checks a receipt with the log's public key and origin, as anyone can offline.
    pub fn check_receipt(&self, receipt: &Receipt) -> Result<String, String> {
        let verifier = self.log_verifier();
        check(receipt, Some((&verifier, &self.config.log_origin)))
    }

    /// Signs a checkpoint of the log if it has grown.
    pub async fn sign_checkpoint(&self) -> AppResult<()> {
        if self.store.ledger_size().await? == 0 {
            return Ok(());
        }
        mingma_store::receipt::sign_checkpoint(&self.store, &self.keys.log, &self.config.log_origin)
            .await
            .map(|_| ())
            .map_err(AppError::internal)
    }

    // ---------------------------------------------------------------------------
    // Venues and check-in.

    /// A venue by id.
    pub fn venue(&self, id: &VenueId) -> Option<VenueRecord> {
        self.registry().venues.get(id).cloned()
    }

    /// Registers a venue operated by `operator`.
    pub async fn register_venue(
        &self,
        operator: PersonKey,
        name: &str,
        address: &str,
        street: &str,
        kind: &str,
    ) -> AppResult<VenueRecord> {
        let name = name.trim();
        if !(1..=64).contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                "malformed_venue_name",
                "the venue name must be 1 to 64 characters",
            ));
        }
        let address = address.trim();
        if !(1..=128).contains(&address.chars().count()) || address.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                "malformed_address",
                "the address must be 1 to 128 characters",
            ));
        }
        let street = Jurisdiction::parse(street.trim())
            .map_err(|e| AppError::bad_request("malformed_street", format!("street code: {e}")))?;
        if street.level() != mingma_core::Level::Street {
            return Err(AppError::bad_request(
                "malformed_street",
                format!(
                    "{street} ({}) is not a street-level GB/T 2260 code (9 digits)",
                    street.full_name()
                ),
            ));
        }
        let kind = VenueKind::from_name(kind.trim()).ok_or_else(|| {
            AppError::bad_request(
                "malformed_venue_kind",
                format!("venue kind {kind:?} is not one of transport_hub, market, office, school, hospital, restaurant, residential, other"),
            )
        })?;
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).map_err(AppError::internal)?;
        let id = VenueId::parse(&format!("v-{}", hex(&bytes))).map_err(AppError::internal)?;
        let record = VenueRecord {
            venue: Venue {
                id: id.clone(),
                name: name.to_owned(),
                street,
                kind,
            },
            address: address.to_owned(),
            operator: Some(operator),
            poster_issued_at: self.now(),
        };
        if !self.accounts.add_venue(record.clone()).await? {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "venue_id_taken",
                "a venue id collided; try again",
            ));
        }
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        registry
            .directory
            .venues
            .insert(id.clone(), record.venue.clone());
        registry.venues.insert(id, record.clone());
        Ok(record)
    }

    /// The URL a venue token's QR code carries.
    pub fn check_in_url(&self, token: &str) -> String {
        format!("{}/v/{token}", self.config.base_url())
    }

    /// The poster's static token.
    pub fn poster_token(&self, venue: &VenueRecord) -> String {
        self.keys
            .venue
            .static_token(&venue.venue.id, venue.poster_issued_at)
    }

    /// The rotating token of now, for the venue's operator only.
    pub fn rotating_token(&self, person: PersonKey, venue: &VenueRecord) -> AppResult<String> {
        if venue.operator != Some(person) {
            return Err(AppError::forbidden(
                "not_venue_operator",
                "only the venue's operator can show its rotating code",
            ));
        }
        Ok(self.keys.venue.rotating_token(&venue.venue.id, self.now()))
    }

    /// Checks in at the venue a token names: records the scan with its presence
    /// assurance (stale tokens as stale) and drops the holder's cached code view. The
    /// caller then shows the holder's code ([`App::code_view`] or
    /// [`App::dependant_view`]), which derives it and has the engine record any
    /// change. A forged or malformed token records nothing.
    pub async fn check_in(&self, person: PersonKey, token: &str) -> AppResult<CheckedIn> {
        self.check_in_as(person, None, token).await
    }

    /// Checks in `actor`, or with `dependant` (a person key in hex) one of the actor's
    /// dependants, in which case the scan is recorded as made by a proxy.
    pub async fn check_in_as(
        &self,
        actor: PersonKey,
        dependant: Option<&str>,
        token: &str,
    ) -> AppResult<CheckedIn> {
        let now = self.now();
        let reading = self.verified_token(token)?.classify(now);
        let venue = self.venue(&reading.venue).ok_or_else(|| {
            AppError::not_found(
                "venue_unknown",
                format!("venue {} is not registered", reading.venue),
            )
        })?;
        self.account(actor).await?;
        let (person, recorded_by) = match dependant {
            Some(d) => (
                self.dependant(actor, d).await?.person,
                Recorder::Proxy(actor),
            ),
            None => (actor, Recorder::Holder),
        };
        let bucket = now.unix_seconds() / CHECK_IN_BUCKET_SECONDS;
        // One check-in per person, token, presence and ten minutes: a reload is not a
        // second scan, but the same rotating token replayed once stale is.
        let presence = reading.presence.to_string();
        let id_hash = digest(&[
            person.as_bytes(),
            token.trim().as_bytes(),
            presence.as_bytes(),
            &bucket.to_be_bytes(),
        ]);
        let id = RecordId::parse(&format!("scan:{}", hex(&id_hash[..12])))
            .map_err(AppError::internal)?;
        let scan = Evidence {
            seal: None,
            id: id.clone(),
            subject: Some(person),
            recorded_by,
            authority: None,
            legal_basis: None,
            effective_at: now,
            recorded_at: now,
            body: EvidenceBody::VenueScan {
                venue: venue.venue.id.clone(),
                street: venue.venue.street,
                venue_kind: venue.venue.kind,
                left_at: None,
                presence: reading.presence,
            },
        };
        // Appended straight away: a reload within the ten minutes finds its id taken
        // by the first scan (a conflict, the times differing), which the store
        // refuses alone, and is answered with that scan.
        let appended = match self.store.append(vec![scan]).await {
            Ok(appended) => appended,
            Err(mingma_store::StoreError::Conflict { .. }) => {
                let existing = self.store.record(&id).await?.ok_or_else(|| {
                    AppError::internal(format!("check-in {id} conflicts but cannot be read"))
                })?;
                let presence = match existing.evidence.body {
                    EvidenceBody::VenueScan { presence, .. } => presence,
                    _ => reading.presence,
                };
                return Ok(CheckedIn {
                    record: id,
                    venue,
                    presence,
                    at: existing.evidence.effective_at,
                    new: false,
                });
            }
            Err(mingma_store::StoreError::Invalid { reason, .. }) => {
                return Err(AppError::bad_request(
                    "scan_refused",
                    format!("the scan was refused: {reason}"),
                ))
            }
            Err(other) => return Err(AppError::from(other)),
        };
        // Re-derivation is left to the code display that follows every check-in
        // (the API's answer and both pages show the code): it derives once, and has
        // the engine record the change if the stored state differs. A scan outside
        // every risk area cannot change the code: the view shown before stands.
        let street = venue.venue.street;
        if self
            .engine
            .scan_may_matter(&venue.venue.id, street, now)
            .await?
        {
            self.forget_code(person);
        }
        Ok(CheckedIn {
            record: id,
            venue,
            presence: reading.presence,
            at: now,
            new: appended.first().is_some_and(|a| a.fresh),
        })
    }

    /// The venue token `text`, its signature checked (once per token text while
    /// it is kept); a forged or malformed token is refused.
    fn verified_token(&self, text: &str) -> AppResult<VenueToken> {
        let kept = || {
            self.verified_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        };
        if let Some(token) = kept().get(text) {
            return Ok(token.clone());
        }
        let token = VenueToken::verify(text, &self.keys.venue.public_key())
            .map_err(|e| AppError::bad_request(e.code(), e.to_string()))?;
        let mut tokens = kept();
        if tokens.len() >= VERIFIED_TOKENS {
            tokens.clear();
        }
        tokens.insert(text.to_owned(), token.clone());
        Ok(token)
    }

    /// Checks a would-be dependant of `proxy` as both ways of consent need: the ID
    /// number well-formed and not the proxy's own, the name verified with the
    /// identity provider. Gives the ID number, the name and the person key.
    pub(crate) async fn check_dependant(
        &self,
        proxy: PersonKey,
        id: &str,
        name: &str,
    ) -> AppResult<(NationalId, HolderName, PersonKey)> {
        let id = parse_id(id)?;
        let name = HolderName::parse(name)?;
        self.account(proxy).await?;
        let person = self.keys.pseudonym.person_key(&id);
        if person == proxy {
            return Err(AppError::bad_request(
                "dependant_is_self",
                "this ID number is your own; your code is on your code page",
            ));
        }
        self.identity.verify(&id, &name).await.map_err(|why| {
            AppError::unprocessable(
                "identity_not_verified",
                format!("identity not verified: {why}"),
            )
        })?;
        Ok((id, name, person))
    }

    /// One of `proxy`'s dependants, by person key (hex); 404 for anyone else.
    pub async fn dependant(&self, proxy: PersonKey, key: &str) -> AppResult<Dependant> {
        let not_found = || AppError::not_found("dependant_unknown", "no such dependant of yours");
        let person = PersonKey::parse_hex(key).map_err(|_| not_found())?;
        self.accounts
            .dependants(proxy)
            .await?
            .into_iter()
            .find(|d| d.person == person)
            .ok_or_else(not_found)
    }

    /// `proxy`'s dependants.
    pub async fn dependants(&self, proxy: PersonKey) -> AppResult<Vec<Dependant>> {
        self.accounts.dependants(proxy).await
    }

    /// Asks a dependant's consent: a one-time code to the dependant's phone (the one
    /// on file if the dependant has an account, else the one given).
    pub async fn start_dependant(
        &self,
        proxy: PersonKey,
        id: &str,
        name: &str,
        phone: &str,
    ) -> AppResult<SignInStarted> {
        let phone = Phone::parse(phone)?;
        let (id, name, person) = self.check_dependant(proxy, id, name).await?;
        self.limit_codes(person).await?;
        let (to, existing) = match self.accounts.account(person).await? {
            Some(account) => (Phone::parse(&account.phone)?, true),
            None => (phone, false),
        };
        let code = random_otp()?;
        let challenge = random_token()?;
        let delivery = self.otp.send(&to, &code).await.map_err(|why| {
            AppError::unavailable(
                "otp_not_sent",
                format!("the one-time code could not be sent: {why}"),
            )
        })?;
        self.accounts
            .add_consent(
                challenge.clone(),
                Consent {
                    proxy,
                    dependant: Dependant {
                        person,
                        name: name.as_str().to_owned(),
                        id_last_four: id.last_four().to_owned(),
                        consent: "otp".into(),
                        consent_leaf: None,
                    },
                    code_hash: digest(&[challenge.as_bytes(), code.as_bytes()]),
                    expires_at: self.now().plus_seconds(OTP_SECONDS),
                    attempts: 0,
                },
            )
            .await?;
        Ok(SignInStarted {
            challenge,
            sent_to: to.masked(),
            existing_account: existing,
            demo_code: match delivery {
                Delivery::Shown(code) => Some(code),
                Delivery::Sent => None,
            },
        })
    }

    /// Confirms a dependant's consent with the code sent to their phone.
    pub async fn confirm_dependant(
        &self,
        proxy: PersonKey,
        challenge: &str,
        code: &str,
    ) -> AppResult<Dependant> {
        let unknown = || {
            AppError::unauthorized(
                "otp_challenge_unknown",
                "this consent request has expired or was never made; start again",
            )
        };
        if challenge.len() != 64 {
            return Err(unknown());
        }
        let c = self
            .accounts
            .consent(challenge.to_owned())
            .await?
            .filter(|c| c.proxy == proxy)
            .ok_or_else(unknown)?;
        let now = self.now();
        match judge_otp(challenge, code, &c.code_hash, c.expires_at, c.attempts, now) {
            Otp::Accepted => {}
            Otp::Expired => return Err(unknown()),
            Otp::Wrong(error) => {
                self.accounts.fail_consent(challenge.to_owned()).await?;
                return Err(error);
            }
        }
        let dependant = c.dependant.clone();
        self.accounts
            .complete_consent(challenge.to_owned(), c, now)
            .await?;
        Ok(dependant)
    }

    /// Registers authorities (names shown as 赋码来源) and venues in bulk (the demo
    /// and deployments loading a registry); ids already registered are kept as they
    /// are.
    pub async fn add_registry(
        &self,
        authorities: Vec<mingma_core::Authority>,
        venues: Vec<VenueRecord>,
    ) -> AppResult<()> {
        self.accounts.add_authorities(authorities).await?;
        self.accounts.add_venues(venues).await?;
        let (directory, venues) = self.accounts.registry().await?;
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        registry.directory = directory;
        // The ledger's part of the directory is merged in again on next use.
        self.acts_merged
            .store(0, std::sync::atomic::Ordering::Release);
        registry.venues = venues
            .into_iter()
            .map(|v| (v.venue.id.clone(), v))
            .collect();
        Ok(())
    }

    /// Records that the person of check-in `entry` left now: a record of the same
    /// stay with its exit, which completes the open scan (derivation then counts the
    /// real stay instead of the venue kind's assumed one). Only whoever recorded the
    /// check-in (the holder, or the proxy for a dependant) can record the leave.
    pub async fn leave(&self, actor: PersonKey, entry: &str) -> AppResult<Left> {
        let unknown = || AppError::not_found("checkin_unknown", "no such check-in of yours");
        let entry = RecordId::parse(entry).map_err(|_| unknown())?;
        let stored = self.store.record(&entry).await?.ok_or_else(unknown)?;
        let scan = stored.evidence;
        let person = scan.subject.ok_or_else(unknown)?;
        let mine = match &scan.recorded_by {
            Recorder::Holder => person == actor,
            Recorder::Proxy(proxy) => *proxy == actor,
            _ => false,
        };
        let EvidenceBody::VenueScan { venue, left_at, .. } = &scan.body else {
            return Err(unknown());
        };
        if !mine {
            return Err(unknown());
        }
        let venue = self.venue(venue).ok_or_else(unknown)?;
        if left_at.is_some() {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "already_left",
                "this check-in already has its exit",
            ));
        }
        let exit_id = RecordId::parse(&format!("{entry}:exit")).map_err(|_| unknown())?;
        if let Some(done) = self.store.record(&exit_id).await? {
            let left_at = match done.evidence.body {
                EvidenceBody::VenueScan {
                    left_at: Some(l), ..
                } => l,
                _ => done.evidence.recorded_at,
            };
            return Ok(Left {
                exit: exit_id,
                entry,
                venue,
                person,
                left_at,
                new: false,
            });
        }
        let now = self.now();
        if now <= scan.effective_at {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "leave_too_soon",
                "a stay ends after it began; try again in a second",
            ));
        }
        let mut exit = scan.clone();
        exit.id = exit_id.clone();
        exit.recorded_at = now;
        if let EvidenceBody::VenueScan { left_at, .. } = &mut exit.body {
            *left_at = Some(now);
        }
        let appended = self.store.append(vec![exit]).await?;
        self.forget_code(person);
        self.engine.rederive(&[person], now).await?;
        Ok(Left {
            exit: exit_id,
            entry,
            venue,
            person,
            left_at: now,
            new: appended.first().is_some_and(|a| a.fresh),
        })
    }

    /// The person key of an ID number (the demo prints sign-ins with it).
    pub fn person_key(&self, id: &NationalId) -> PersonKey {
        self.keys.pseudonym.person_key(id)
    }
}
