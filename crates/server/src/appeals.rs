//! Appeals and the 12345 hotline (issue 7): every wrong code has an owner, a
//! deadline and a way back.
//!
//! **Addressing.** A holder (or a hotline operator on their behalf, with their
//! consent) appeals the current decision, stating which part is wrong (a [`Claim`])
//! and optionally attaching a small document. The disputed records are the
//! decision's decisive evidence (or, for a green holder, the one record they name).
//! Each disputed record is owned by a data source when a source signed it (customs'
//! border entry, a lab's result) and otherwise by the authority the record names
//! (a quarantine order, a risk area); one ticket is opened per owner
//! ([`Addressee`]), never to an authority that owns nothing decisive. Records with no
//! owner (the holder's own scans) ride along as context on every ticket.
//!
//! **Who reviews.** A ticket is decided by a health official (the policy's
//! [`Action::ReviewAppeal`]) of the *handling* authority: the owning authority, or
//! for a source-owned record the authority the source reports to (its
//! registration's `authority`, which also owns the source's records and is the only
//! one that may retract them). When the response deadline (the rule set's
//! `appeal_response_hours`) passes without an answer, the background task
//! escalates the ticket to the parent authority (district → city → province, the
//! nearest registered authority whose jurisdiction contains the handler's); the
//! officials of every authority on that chain may then decide it. A ticket at the
//! top with no answer stays listed for auditors. Accepting means retracting (or
//! correcting) the disputed record by the ordinary draft → seal → submit intake, so
//! the retraction is the reviewer's signed record, checked as any retraction, and
//! the codes it changes are re-derived at once; rejecting states a reason the
//! holder sees. A ticket is closed only once answered.
//!
//! **Ledger.** Every step — opened, note, accepted, rejected, escalated, closed, and
//! a caller's consent to a hotline lookup — is a leaf of type `0x05`
//! ([`StepEntry`]): the step, the ticket id, the time, the addressee and handling
//! authority (institutions, by id), the deadline, and a salted commitment
//! ([`step_commitment`]) to the holder's person key, the actor and a digest of the
//! step's content. No person is named: the salt, the text and the document live in
//! the server's database (`appeal_tickets`, `appeal_steps`, `hotline_consents`).
//!
//! **Hotline.** An operator (role `hotline_operator`, [`Action::HandleCall`]) asks
//! for the caller's consent: a one-time code goes to the phone on the caller's
//! account and the caller reads it out; the consent is a ledger step and lasts an
//! hour. With it, and only with it, the operator sees the caller's code provenance
//! (reason, the owning authorities with their contact, the decisive records), the
//! caller's tickets, and may open tickets for them and add notes. Nothing else: the
//! policy table gives the role no record, retraction or decision.

use std::collections::BTreeMap;

use base64::Engine as _;
use mingma_authority::signature::{KeyHolder, KeyRing};
use mingma_authority::{authorize, Action, Registry};
use mingma_core::canonical::decode_canonical;
use mingma_core::{
    AuthorityId, Colour, DataSourceId, Evidence, EvidenceBody, EvidenceKind, Jurisdiction,
    OfficialId, PersonKey, RecordId, Recorder, Seal, Timestamp,
};
use mingma_explain::{Explainer, Lang};
use mingma_store::Store;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::{judge_otp, App, Otp, OTP_SECONDS};
use crate::auth::{digest, parse_id, random_otp, random_token, Delivery, Phone};
use crate::error::{AppError, AppResult};
use crate::officials::{record_detail, Draft, Principal};

/// The largest attached document, in bytes (decoded).
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// The longest appeal text, note or reason, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// How long a caller's consent lets an operator look and act: one hour.
pub const HOTLINE_CONSENT_SECONDS: i64 = 3600;
/// Document types accepted.
const DOCUMENT_TYPES: [&str; 3] = ["application/pdf", "image/png", "image/jpeg"];
/// The `kind` of a drafted appeal step in the `drafts` table.
const APPEAL_STEP_DRAFT: &str = "appeal_step";
/// Domain of [`step_commitment`].
const STEP_DOMAIN: &[u8] = b"mingma/appeal-step/v1\0";
/// Payload version of [`StepEntry::to_bytes`] for a step nobody signs.
const STEP_VERSION: u8 = 0x01;
/// Payload version of a step signed by the official who took it.
const SIGNED_STEP_VERSION: u8 = 0x02;
/// Domain of [`StepEntry::signed_message`].
const SIGNED_STEP_DOMAIN: &[u8] = b"mingma/appeal-step/signed/v1\0";

/// Which part of the code the holder says is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// "I never left the country" (against a border entry or an inbound-traveller
    /// quarantine order).
    NeverLeftCountry,
    /// "I was not at that venue" (against a venue exposure).
    NotAtVenue,
    /// "My test was negative" (against a positive result or a case).
    TestWasNegative,
    /// "I was not a close contact".
    NotAContact,
    /// Something else, said in the text.
    Other,
}

impl Claim {
    /// Every claim, in the order the page lists them.
    pub const ALL: [Claim; 5] = [
        Claim::NeverLeftCountry,
        Claim::NotAtVenue,
        Claim::TestWasNegative,
        Claim::NotAContact,
        Claim::Other,
    ];

    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::NeverLeftCountry => "never_left_country",
            Claim::NotAtVenue => "not_at_venue",
            Claim::TestWasNegative => "test_was_negative",
            Claim::NotAContact => "not_a_contact",
            Claim::Other => "other",
        }
    }

    /// Parses [`Claim::as_str`].
    pub fn parse(text: &str) -> AppResult<Claim> {
        Claim::ALL
            .into_iter()
            .find(|c| c.as_str() == text.trim())
            .ok_or_else(|| {
                AppError::bad_request(
                    "unknown_claim",
                    format!(
                        "unknown claim {text:?}: one of {}",
                        Claim::ALL.map(Claim::as_str).join(", ")
                    ),
                )
            })
    }

    /// What the holder says, in the page's language.
    pub fn label(self, lang: Lang) -> &'static str {
        let en = lang == Lang::En;
        match self {
            Claim::NeverLeftCountry if en => "I never left the country",
            Claim::NeverLeftCountry => "我从未出境",
            Claim::NotAtVenue if en => "I was not at that venue",
            Claim::NotAtVenue => "我没有去过该场所",
            Claim::TestWasNegative if en => "My test was negative",
            Claim::TestWasNegative => "我的检测结果为阴性",
            Claim::NotAContact if en => "I was not a close contact",
            Claim::NotAContact => "我不是密切接触者",
            Claim::Other if en => "Something else (see my text)",
            Claim::Other => "其他（见说明）",
        }
    }
}

/// Who owns disputed evidence, and so receives a ticket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addressee {
    /// An authority (its officials' records: orders, risk areas, designations).
    Authority(AuthorityId),
    /// A data source (its signed records: border entries, test results).
    Source(DataSourceId),
}

impl Addressee {
    /// `authority:<id>` or `source:<id>`.
    pub fn to_text(&self) -> String {
        match self {
            Addressee::Authority(a) => format!("authority:{a}"),
            Addressee::Source(s) => format!("source:{s}"),
        }
    }

    fn parse(text: &str) -> Option<Addressee> {
        match text.split_once(':')? {
            ("authority", id) => AuthorityId::parse(id).ok().map(Addressee::Authority),
            ("source", id) => DataSourceId::parse(id).ok().map(Addressee::Source),
            _ => None,
        }
    }

    /// The owner of a record: the source that signed it, else its authority.
    pub fn of(record: &Evidence) -> Option<Addressee> {
        match &record.recorded_by {
            Recorder::Source { id, .. } => Some(Addressee::Source(id.clone())),
            _ => record.authority.clone().map(Addressee::Authority),
        }
    }
}

/// A step of a ticket, as its ledger entry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The ticket was opened.
    Opened,
    /// A note was added.
    Note,
    /// The owner accepted: the record was retracted.
    Accepted,
    /// The owner rejected, with a reason.
    Rejected,
    /// The deadline passed: the parent authority now handles it.
    Escalated,
    /// Closed after its answer.
    Closed,
    /// A caller's consent to a hotline lookup.
    HotlineConsent,
}

impl StepKind {
    const ALL: [StepKind; 7] = [
        StepKind::Opened,
        StepKind::Note,
        StepKind::Accepted,
        StepKind::Rejected,
        StepKind::Escalated,
        StepKind::Closed,
        StepKind::HotlineConsent,
    ];

    fn byte(self) -> u8 {
        match self {
            StepKind::Opened => 1,
            StepKind::Note => 2,
            StepKind::Accepted => 3,
            StepKind::Rejected => 4,
            StepKind::Escalated => 5,
            StepKind::Closed => 6,
            StepKind::HotlineConsent => 7,
        }
    }

    /// The step's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Opened => "opened",
            StepKind::Note => "note",
            StepKind::Accepted => "accepted",
            StepKind::Rejected => "rejected",
            StepKind::Escalated => "escalated",
            StepKind::Closed => "closed",
            StepKind::HotlineConsent => "hotline_consent",
        }
    }
}

/// The official who signed a step, and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSigner {
    /// The official.
    pub official: OfficialId,
    /// Their Ed25519 signature over [`StepEntry::signed_message`], by a key
    /// registered to them and valid at the step's time.
    pub seal: Seal,
}

/// The payload of a `0x05` ledger leaf: version `0x01`, step (1 byte), ticket id
/// (16 bytes), time (i64 BE seconds), addressee and handling authority (u32 BE
/// length + UTF-8 each), deadline (i64 BE seconds, 0 for none), commitment (32
/// bytes). Names institutions only. A step an official signs (a rejection) is
/// version `0x02`: the same fields, then the official's id (u32 BE length +
/// UTF-8), the signing key's id (8 bytes) and the signature (64 bytes) over
/// [`StepEntry::signed_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEntry {
    /// The step.
    pub kind: StepKind,
    /// The ticket (or consent) id.
    pub ticket: [u8; 16],
    /// When.
    pub at: Timestamp,
    /// `authority:<id>`, `source:<id>`, or for a consent `hotline:<authority>`.
    pub addressee: String,
    /// The authority handling it after this step.
    pub handler: String,
    /// The response deadline after this step (a consent: when it lapses).
    pub deadline: Option<Timestamp>,
    /// [`step_commitment`].
    pub commitment: [u8; 32],
    /// Who signed it, for a signed step.
    pub signer: Option<StepSigner>,
}

impl StepEntry {
    /// The leaf payload (the store adds the type byte).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.unsigned_bytes();
        if let Some(signer) = &self.signer {
            out[0] = SIGNED_STEP_VERSION;
            let official = signer.official.to_string();
            out.extend((official.len() as u32).to_be_bytes());
            out.extend(official.as_bytes());
            out.extend_from_slice(&signer.seal.key);
            out.extend_from_slice(&signer.seal.signature);
        }
        out
    }

    /// What `official` signs to take this step: a domain, the official's id
    /// (length first) and the step's version-`0x01` bytes, which commit to the
    /// ticket, the time, the handler and (through the commitment) the holder and
    /// the content, such as a rejection's reason.
    pub fn signed_message(&self, official: &OfficialId) -> Vec<u8> {
        let official = official.to_string();
        let mut out = SIGNED_STEP_DOMAIN.to_vec();
        out.extend((official.len() as u32).to_be_bytes());
        out.extend(official.as_bytes());
        out.extend(self.unsigned_bytes());
        out
    }

    /// Checks a signed step's signature against the registered keys (the key
    /// must be the signer's and valid at the step's time); a rejection must be
    /// signed. Intake checks this before appending, `mingma ledger verify` again.
    pub fn check_signature(&self, keys: &KeyRing) -> Result<(), String> {
        let what = format!(
            "appeal step {} of ticket {}",
            self.kind.as_str(),
            hex(&self.ticket)
        );
        match &self.signer {
            Some(signer) => keys
                .check_message(
                    &what,
                    KeyHolder::Official(signer.official.clone()),
                    self.at,
                    &self.signed_message(&signer.official),
                    Some(&signer.seal),
                )
                .map_err(|e| e.to_string()),
            None if self.kind == StepKind::Rejected => Err(format!(
                "{what}: unsigned; a rejection carries the reviewer's signature"
            )),
            None => Ok(()),
        }
    }

    fn unsigned_bytes(&self) -> Vec<u8> {
        let mut out = vec![STEP_VERSION, self.kind.byte()];
        out.extend_from_slice(&self.ticket);
        out.extend(self.at.unix_seconds().to_be_bytes());
        for text in [&self.addressee, &self.handler] {
            out.extend((text.len() as u32).to_be_bytes());
            out.extend(text.as_bytes());
        }
        out.extend(
            self.deadline
                .map_or(0, Timestamp::unix_seconds)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.commitment);
        out
    }

    /// Reads [`StepEntry::to_bytes`], strictly (`None` if malformed).
    pub fn from_bytes(bytes: &[u8]) -> Option<StepEntry> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (b.get(..n)?, b.get(n..)?);
            *b = rest;
            Some(head)
        }
        fn int(b: &mut &[u8]) -> Option<i64> {
            Some(i64::from_be_bytes(take(b, 8)?.try_into().ok()?))
        }
        fn text(b: &mut &[u8]) -> Option<String> {
            let len = u32::from_be_bytes(take(b, 4)?.try_into().ok()?) as usize;
            String::from_utf8(take(b, len)?.to_vec()).ok()
        }
        let mut b = bytes;
        let version = *take(&mut b, 1)?.first()?;
        if version != STEP_VERSION && version != SIGNED_STEP_VERSION {
            return None;
        }
        let kind_byte = *take(&mut b, 1)?.first()?;
        let kind = StepKind::ALL.into_iter().find(|k| k.byte() == kind_byte)?;
        let ticket = take(&mut b, 16)?.try_into().ok()?;
        let at = Timestamp::from_unix_seconds(int(&mut b)?)?;
        let addressee = text(&mut b)?;
        let handler = text(&mut b)?;
        let deadline = match int(&mut b)? {
            0 => None,
            s => Some(Timestamp::from_unix_seconds(s)?),
        };
        let commitment = take(&mut b, 32)?.try_into().ok()?;
        let signer = if version == SIGNED_STEP_VERSION {
            let official = OfficialId::parse(&text(&mut b)?).ok()?;
            let key = take(&mut b, 8)?.try_into().ok()?;
            let signature = take(&mut b, 64)?.try_into().ok()?;
            Some(StepSigner {
                official,
                seal: Seal { key, signature },
            })
        } else {
            None
        };
        b.is_empty().then_some(StepEntry {
            kind,
            ticket,
            at,
            addressee,
            handler,
            deadline,
            commitment,
            signer,
        })
    }
}

/// The salted commitment a step carries instead of the persons: SHA-256 over a
/// domain, the ticket's 32-byte salt, the ticket id, the step, the holder's person
/// key, the actor (`holder`, `official:<id>`, `service`; length first) and the
/// SHA-256 of the step's content (the appeal text and document digest, the note,
/// the reason). Whoever holds the salt (the service) can show what a step was.
pub fn step_commitment(
    salt: &[u8; 32],
    ticket: &[u8; 16],
    kind: StepKind,
    person: &PersonKey,
    actor: &str,
    content: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(STEP_DOMAIN);
    h.update(salt);
    h.update(ticket);
    h.update([kind.byte()]);
    h.update(person.as_bytes());
    h.update((actor.len() as u64).to_be_bytes());
    h.update(actor.as_bytes());
    h.update(Sha256::digest(content));
    h.finalize().into()
}

/// An appeal as asked for (the holder's API body; the hotline's too).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    /// `never_left_country`, `not_at_venue`, `test_was_negative`, `not_a_contact`
    /// or `other`.
    pub claim: String,
    /// What the holder says (required for `other`; at most 2,000 characters).
    #[serde(default)]
    pub text: String,
    /// The one record disputed, by id (needed when the code is green: no record
    /// is decisive); by default, the decision's decisive evidence.
    #[serde(default)]
    pub record: Option<String>,
    /// An attached document (PDF, PNG or JPEG, at most 512 KiB decoded).
    #[serde(default)]
    pub document: Option<DocumentIn>,
}

/// An attached document.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// File name (at most 100 characters).
    pub name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`.
    pub content_type: String,
    /// The bytes, base64.
    pub data: String,
}

/// A checked document.
struct Document {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_text(text: &str, what: &str, required: bool) -> AppResult<String> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(AppError::bad_request(
            "missing_text",
            format!("{what} is required"),
        ));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::bad_request(
            "text_too_long",
            format!("{what} has more than {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::bad_request(
            "malformed_text",
            format!("{what} contains control characters"),
        ));
    }
    Ok(text.to_owned())
}

fn check_document(doc: &DocumentIn) -> AppResult<Document> {
    let name = doc.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "malformed_document",
            "the document's name must be 1 to 100 characters without control characters",
        ));
    }
    if !DOCUMENT_TYPES.contains(&doc.content_type.as_str()) {
        return Err(AppError::bad_request(
            "malformed_document",
            format!(
                "the document must be one of {} (not {:?})",
                DOCUMENT_TYPES.join(", "),
                doc.content_type
            ),
        ));
    }
    // Base64 of the largest document, with slack for padding and line breaks.
    if doc.data.len() > MAX_DOCUMENT_BYTES / 3 * 4 + 1024 {
        return Err(document_too_large());
    }
    let cleaned: String = doc.data.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|e| {
            AppError::bad_request(
                "malformed_document",
                format!("the document's data is not base64: {e}"),
            )
        })?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(document_too_large());
    }
    if bytes.is_empty() {
        return Err(AppError::bad_request(
            "malformed_document",
            "the document is empty",
        ));
    }
    let magic: &[u8] = match doc.content_type.as_str() {
        "application/pdf" => b"%PDF-",
        "image/png" => b"\x89PNG\r\n\x1a\n",
        _ => b"\xff\xd8\xff",
    };
    if !bytes.starts_with(magic) {
        return Err(AppError::bad_request(
            "malformed_document",
            format!("the document is not a {} file", doc.content_type),
        ));
    }
    Ok(Document {
        name: name.to_owned(),
        content_type: doc.content_type.clone(),
        sha256: hex(&Sha256::digest(&bytes)),
        bytes,
    })
}

fn document_too_large() -> AppError {
    AppError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "document_too_large",
        format!(
            "the document is larger than {} KiB",
            MAX_DOCUMENT_BYTES / 1024
        ),
    )
}

/// What [`App::reconcile_appeal_steps`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Steps whose leaf was in the ledger: their rows were written.
    pub finished: usize,
    /// Steps whose leaf never came: dropped (they did not happen).
    pub dropped: usize,
}

/// An `appeal_intents` row as read: entry, key, ticket step, actor, note, effect.
type IntentRow = (Vec<u8>, String, i64, String, Option<String>, String);

/// A step about to be taken, stored before its leaf is appended.
struct Intent {
    /// The ticket's id, or for a consent the consent's.
    key: String,
    /// Whether it is a ticket's step (with a row in `appeal_steps`).
    ticket_step: bool,
    /// `holder`, `hotline:<official>`, `official:<official>` or `service`.
    actor: String,
    /// A note's text, an answer's reason, an escalation's new handler.
    note: Option<String>,
    /// What the step does to the ticket (or consent) once its leaf is in.
    effect: Effect,
}

/// What a step does to the server's rows once its leaf is in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
enum Effect {
    /// The ticket's row (written `pending` with the intent) becomes `open`.
    Open,
    /// Nothing beyond the step's row (a note).
    Note,
    /// The answer.
    Answer {
        outcome: String,
        reason: String,
        by: String,
        at: i64,
        retraction: Option<String>,
        correction: Option<String>,
        correction_pending: bool,
        code: Option<(String, i64, i64)>,
    },
    /// A new handler and deadline.
    Escalate {
        handler: String,
        deadline: i64,
        chain: String,
        top: bool,
    },
    /// Closed.
    Close,
    /// A hotline consent recorded, valid until then.
    Consent { valid_until: i64 },
}

impl Effect {
    fn apply(&self, tx: &rusqlite::Transaction<'_>, key: &str, leaf: u64) -> rusqlite::Result<()> {
        match self {
            Effect::Open => {
                tx.execute(
                    "UPDATE appeal_tickets SET status = 'open' WHERE id = ?1 AND status = 'pending'",
                    [key],
                )?;
            }
            Effect::Note => {}
            Effect::Answer {
                outcome,
                reason,
                by,
                at,
                retraction,
                correction,
                correction_pending,
                code,
            } => {
                tx.execute(
                    "UPDATE appeal_tickets SET status = 'answered', outcome = ?2, reason = ?3, answered_by = ?4, \
                     answered_at = ?5, retraction = ?6, correction = ?7, correction_pending = ?8, code_colour = ?9, \
                     code_leaf = ?10, code_position = ?11 WHERE id = ?1",
                    params![
                        key,
                        outcome,
                        reason,
                        by,
                        at,
                        retraction,
                        correction,
                        *correction_pending as i64,
                        code.as_ref().map(|c| c.0.clone()),
                        code.as_ref().map(|c| c.1),
                        code.as_ref().map(|c| c.2)
                    ],
                )?;
            }
            Effect::Escalate {
                handler,
                deadline,
                chain,
                top,
            } => {
                tx.execute(
                    "UPDATE appeal_tickets SET handler = ?2, deadline = ?3, escalated_to = ?4, at_top = ?5 WHERE id = ?1",
                    params![key, handler, deadline, chain, *top as i64],
                )?;
            }
            Effect::Close => {
                tx.execute(
                    "UPDATE appeal_tickets SET status = 'closed' WHERE id = ?1",
                    [key],
                )?;
            }
            Effect::Consent { valid_until } => {
                tx.execute(
                    "UPDATE hotline_consents SET leaf = ?2, valid_until = ?3 WHERE id = ?1",
                    params![key, leaf as i64, valid_until],
                )?;
            }
        }
        Ok(())
    }
}

/// A ticket's row, written with its opening intent.
struct NewTicket {
    id: String,
    person: PersonKey,
    salt: [u8; 32],
    addressee: String,
    handler: String,
    claim: &'static str,
    text: String,
    records: String,
    /// Name, type, bytes, SHA-256.
    document: Option<(String, String, Vec<u8>, String)>,
    opener: String,
    at: i64,
    deadline: i64,
}

impl NewTicket {
    fn insert(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
        let d = self.document.as_ref();
        tx.execute(
            "INSERT INTO appeal_tickets (id, person, salt, addressee, owner, handler, claim, text, \
             records, doc_name, doc_type, doc, doc_sha256, opened_by, opened_at, deadline, status) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending')",
            params![
                self.id,
                self.person.as_bytes().as_slice(),
                self.salt.as_slice(),
                self.addressee,
                self.handler,
                self.claim,
                self.text,
                self.records,
                d.map(|d| d.0.clone()),
                d.map(|d| d.1.clone()),
                d.map(|d| d.2.clone()),
                d.map(|d| d.3.clone()),
                self.opener,
                self.at,
                self.deadline
            ],
        )?;
        Ok(())
    }
}

/// A ticket as stored.
#[derive(Debug, Clone)]
struct Ticket {
    id: String,
    person: PersonKey,
    salt: [u8; 32],
    addressee: String,
    owner: AuthorityId,
    handler: AuthorityId,
    claim: Claim,
    text: String,
    records: Vec<RecordId>,
    doc: Option<(String, String, usize, String)>,
    opened_by: String,
    opened_at: Timestamp,
    deadline: Timestamp,
    escalated_to: Vec<AuthorityId>,
    at_top: bool,
    status: String,
    outcome: Option<String>,
    reason: Option<String>,
    answered_at: Option<Timestamp>,
    retraction: Option<String>,
    code: Option<(String, u64, u64)>,
    correction: Option<String>,
    correction_pending: bool,
}

const TICKET_COLUMNS: &str = "id, person, salt, addressee, owner, handler, claim, text, records, \
     doc_name, doc_type, length(doc), doc_sha256, opened_by, opened_at, deadline, escalated_to, \
     at_top, status, outcome, reason, answered_at, retraction, code_colour, code_leaf, code_position, \
     correction, correction_pending";

fn conversion(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("appeal ticket: {what}").into(),
    )
}

fn time_of(seconds: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_unix_seconds(seconds).ok_or_else(|| conversion("time"))
}

fn ticket_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ticket> {
    let person: Vec<u8> = r.get(1)?;
    let salt: Vec<u8> = r.get(2)?;
    let authority = |text: String| AuthorityId::parse(&text).map_err(|_| conversion("authority"));
    let records: String = r.get(8)?;
    let escalated: String = r.get(16)?;
    let doc_name: Option<String> = r.get(9)?;
    let code_colour: Option<String> = r.get(23)?;
    Ok(Ticket {
        id: r.get(0)?,
        person: PersonKey::from_bytes(person.try_into().map_err(|_| conversion("person"))?),
        salt: salt.try_into().map_err(|_| conversion("salt"))?,
        addressee: r.get(3)?,
        owner: authority(r.get(4)?)?,
        handler: authority(r.get(5)?)?,
        claim: Claim::parse(&r.get::<_, String>(6)?).map_err(|_| conversion("claim"))?,
        text: r.get(7)?,
        records: records
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| RecordId::parse(s).map_err(|_| conversion("record")))
            .collect::<rusqlite::Result<_>>()?,
        doc: match doc_name {
            Some(name) => Some((
                name,
                r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                r.get::<_, Option<i64>>(11)?.unwrap_or(0) as usize,
                r.get::<_, Option<String>>(12)?.unwrap_or_default(),
            )),
            None => None,
        },
        opened_by: r.get(13)?,
        opened_at: time_of(r.get(14)?)?,
        deadline: time_of(r.get(15)?)?,
        escalated_to: escalated
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| authority(s.to_owned()))
            .collect::<rusqlite::Result<_>>()?,
        at_top: r.get::<_, i64>(17)? != 0,
        status: r.get(18)?,
        outcome: r.get(19)?,
        reason: r.get(20)?,
        answered_at: r.get::<_, Option<i64>>(21)?.map(time_of).transpose()?,
        retraction: r.get(22)?,
        code: match code_colour {
            Some(colour) => Some((
                colour,
                r.get::<_, Option<i64>>(24)?.unwrap_or(0) as u64,
                r.get::<_, Option<i64>>(25)?.unwrap_or(0) as u64,
            )),
            None => None,
        },
        correction: r.get(26)?,
        correction_pending: r.get::<_, i64>(27)? != 0,
    })
}

fn ticket_bytes(id: &str) -> AppResult<[u8; 16]> {
    let unknown = || AppError::not_found("unknown_ticket", format!("no appeal ticket {id:?}"));
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = id
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(unknown)?;
    }
    Ok(out)
}

/// A party on a ticket, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct PartyJson {
    /// `authority` or `source`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How the public reaches it (the authority's contact; a source's is its
    /// authority's).
    pub contact: Option<String>,
}

/// A step as shown.
#[derive(Debug, Clone, Serialize)]
pub struct StepJson {
    /// `opened`, `note`, `accepted`, `rejected`, `escalated`, `closed`.
    pub kind: String,
    /// When.
    pub at: Timestamp,
    /// Its ledger leaf.
    pub leaf: u64,
    /// Who: `holder`, `hotline`, `reviewer`, `service`.
    pub by: &'static str,
    /// A note's text, an answer's reason, an escalation's new handler.
    pub note: Option<String>,
}

/// The code after an accepted appeal.
#[derive(Debug, Clone, Serialize)]
pub struct CodeAfterJson {
    /// The colour.
    pub colour: String,
    /// The code change's batch leaf (its receipt: `/api/v1/me/receipts/code-changes/{leaf}/{position}`).
    pub leaf: u64,
    /// Its position in the batch.
    pub position: u64,
}

/// The answer to a ticket.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerJson {
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// Why, as the reviewer said it.
    pub reason: String,
    /// When.
    pub at: Option<Timestamp>,
    /// The retraction record, when accepted.
    pub retraction: Option<String>,
    /// The corrected record that replaces the retracted one, when accepted by
    /// correction.
    pub correction: Option<String>,
    /// Whether a record of the answer (a corrected record that can turn a code red
    /// or yellow) takes effect only once a second official approves it.
    pub awaiting_approval: bool,
    /// The holder's code right after, when accepted.
    pub code: Option<CodeAfterJson>,
}

/// The two drafts accepting a ticket by correction: both sealed by the reviewer
/// and given to `/accept` together.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionDrafts {
    /// The retraction of the disputed record, whose reason names the correction.
    pub retraction: Draft,
    /// The corrected record.
    pub correction: Draft,
}

/// An attached document, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentJson {
    /// File name.
    pub name: String,
    /// Type.
    pub content_type: String,
    /// Size in bytes.
    pub size: usize,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A ticket as its holder, the hotline and reviewers see it.
#[derive(Debug, Clone, Serialize)]
pub struct TicketJson {
    /// The ticket's id (32 hex digits).
    pub id: String,
    /// Who owns the disputed evidence.
    pub addressee: PartyJson,
    /// Who must answer now (the owner's authority, or after escalation its parent).
    pub handler: PartyJson,
    /// The claim.
    pub claim: String,
    /// The claim in the asked language.
    pub claim_text: String,
    /// What the holder said.
    pub text: String,
    /// The attached document, if any.
    pub document: Option<DocumentJson>,
    /// The disputed records.
    pub records: Vec<String>,
    /// `open`, `answered` or `closed`.
    pub status: String,
    /// `holder` or `hotline`.
    pub opened_by: &'static str,
    /// When.
    pub opened_at: Timestamp,
    /// The response deadline.
    pub deadline: Timestamp,
    /// Open past its deadline.
    pub overdue: bool,
    /// The authorities it escalated to, in order.
    pub escalated_to: Vec<String>,
    /// Open, unanswered, at the top of the chain: for the auditors.
    pub at_top: bool,
    /// The answer.
    pub answer: Option<AnswerJson>,
    /// Every step with its ledger leaf.
    pub steps: Vec<StepJson>,
}

/// What an operator's consent request answers.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentStarted {
    /// The consent's id.
    pub consent: String,
    /// Where the code went (masked).
    pub sent_to: String,
    /// The code, with the demo channel only.
    pub demo_code: Option<String>,
}

/// Which step's actor text reads as whom on the holder's view.
fn actor_label(actor: &str) -> &'static str {
    match actor {
        "holder" => "holder",
        "service" => "service",
        a if a.starts_with("hotline:") => "hotline",
        _ => "reviewer",
    }
}

fn party(registry: &Registry, addressee: &str) -> PartyJson {
    let directory = &registry.directory;
    match Addressee::parse(addressee) {
        Some(Addressee::Source(id)) => {
            let source = directory.sources.get(&id);
            PartyJson {
                kind: "source",
                id: id.to_string(),
                name: source.map_or_else(|| id.to_string(), |s| s.name.clone()),
                contact: source
                    .and_then(|s| directory.authorities.get(&s.authority))
                    .and_then(|a| a.contact.clone()),
            }
        }
        Some(Addressee::Authority(id)) => authority_party(registry, &id),
        None => PartyJson {
            kind: "unknown",
            id: addressee.to_owned(),
            name: addressee.to_owned(),
            contact: None,
        },
    }
}

fn authority_party(registry: &Registry, id: &AuthorityId) -> PartyJson {
    let a = registry.directory.authorities.get(id);
    PartyJson {
        kind: "authority",
        id: id.to_string(),
        name: a.map_or_else(|| id.to_string(), |a| a.name.clone()),
        contact: a.and_then(|a| a.contact.clone()),
    }
}

/// The nearest registered authority whose jurisdiction strictly contains
/// `of`'s (district → city → province).
pub fn parent_authority(registry: &Registry, of: &AuthorityId) -> Option<AuthorityId> {
    let authorities = &registry.directory.authorities;
    let j = authorities.get(of)?.jurisdiction;
    authorities
        .values()
        .filter(|a| a.jurisdiction != j && a.jurisdiction.contains(j))
        .max_by_key(|a| (a.jurisdiction.level(), std::cmp::Reverse(a.id.clone())))
        .map(|a| a.id.clone())
}

fn bad_claim_for_green() -> AppError {
    AppError::unprocessable(
        "record_required",
        "your code is green, so no record decides it: name the record you dispute (`record`, \
         from your history) and it will be addressed to its owner",
    )
}

impl<S: Store> App<S> {
    /// Opens tickets for `person`'s appeal, one per owner of the disputed records;
    /// `opener` is `holder` or `hotline:<official>`.
    pub async fn open_appeal(
        &self,
        person: PersonKey,
        opener: &str,
        request: AppealRequest,
        lang: Lang,
    ) -> AppResult<Vec<TicketJson>> {
        let claim = Claim::parse(&request.claim)?;
        let text = check_text(&request.text, "the appeal's text", claim == Claim::Other)?;
        let document = request.document.as_ref().map(check_document).transpose()?;
        let named = request
            .record
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                RecordId::parse(r.trim()).map_err(|e| {
                    AppError::bad_request("malformed_record_id", format!("record: {e}"))
                })
            })
            .transpose()?;
        self.merge_ledger_directory().await?;
        let now = self.now();
        let records = self.engine.records_for(person).await?;
        let by_id: BTreeMap<&RecordId, &Evidence> = records.iter().map(|r| (&r.id, r)).collect();
        let disputed: Vec<RecordId> = match named {
            Some(id) => {
                let about_them = by_id.get(&id).is_some_and(|r| r.subject == Some(person));
                if !about_them {
                    return Err(AppError::not_found(
                        "unknown_record",
                        format!("no record {id} about you is stored"),
                    ));
                }
                vec![id]
            }
            None => {
                let decision = self.engine.derive(&records, &person, now, now);
                if decision.decisive_evidence.is_empty() {
                    return Err(bad_claim_for_green());
                }
                decision.decisive_evidence
            }
        };
        let registry = self.engine.registry().await?;
        let mut owners: BTreeMap<Addressee, Vec<RecordId>> = BTreeMap::new();
        let mut unowned = Vec::new();
        for id in &disputed {
            match by_id.get(id).and_then(|r| Addressee::of(r)) {
                Some(a) => owners.entry(a).or_default().push(id.clone()),
                None => unowned.push(id.clone()),
            }
        }
        if owners.is_empty() {
            return Err(AppError::unprocessable(
                "no_owner",
                "no authority or data source owns the disputed records (they are your own \
                 check-ins); dispute the record that made them count, e.g. a risk area",
            ));
        }
        let open = self.person_tickets(person).await?;
        let deadline = now.plus_seconds(self.engine.rules().appeal_response.seconds());
        let mut planned = Vec::new();
        for (addressee, mut ids) in owners {
            if open
                .iter()
                .any(|t| t.status == "open" && t.addressee == addressee.to_text())
            {
                return Err(AppError::new(
                    axum::http::StatusCode::CONFLICT,
                    "appeal_open",
                    format!(
                        "an appeal to {} is already open; follow it, or add to it through the hotline",
                        addressee.to_text()
                    ),
                ));
            }
            let handler = match &addressee {
                Addressee::Authority(a) => a.clone(),
                Addressee::Source(s) => registry
                    .directory
                    .sources
                    .get(s)
                    .map(|s| s.authority.clone())
                    .ok_or_else(|| AppError::internal(format!("source {s} is not registered")))?,
            };
            ids.extend(unowned.iter().cloned());
            planned.push((addressee, handler, ids));
        }
        let mut ids = Vec::new();
        for (addressee, handler, records) in planned {
            let id = random_token()?;
            let id = id.get(..32).unwrap_or(&id).to_owned();
            let ticket = ticket_bytes(&id)?;
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt)
                .map_err(|e| AppError::internal(format!("randomness: {e}")))?;
            let mut content = format!("{}\n{}\n", claim.as_str(), text).into_bytes();
            if let Some(d) = &document {
                content.extend(d.sha256.as_bytes());
            }
            let addressee_text = addressee.to_text();
            let entry = StepEntry {
                kind: StepKind::Opened,
                ticket,
                at: now,
                addressee: addressee_text.clone(),
                handler: handler.to_string(),
                deadline: Some(deadline),
                commitment: step_commitment(
                    &salt,
                    &ticket,
                    StepKind::Opened,
                    &person,
                    opener,
                    &content,
                ),
                signer: None,
            };
            let row = NewTicket {
                id: id.clone(),
                person,
                salt,
                addressee: addressee_text,
                handler: handler.to_string(),
                claim: claim.as_str(),
                text: text.clone(),
                records: records
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                document: document.as_ref().map(|d| {
                    (
                        d.name.clone(),
                        d.content_type.clone(),
                        d.bytes.clone(),
                        d.sha256.clone(),
                    )
                }),
                opener: opener.to_owned(),
                at: now.unix_seconds(),
                deadline: deadline.unix_seconds(),
            };
            self.commit_step(
                entry,
                Intent {
                    key: id.clone(),
                    ticket_step: true,
                    actor: opener.to_owned(),
                    note: None,
                    effect: Effect::Open,
                },
                Some(row),
            )
            .await?;
            ids.push(id);
        }
        let mut out = Vec::new();
        for t in self.person_tickets(person).await? {
            if ids.contains(&t.id) {
                out.push(self.ticket_json(&t, lang).await?);
            }
        }
        Ok(out)
    }

    /// Takes a step: the intent first (with a new ticket's row, in status
    /// `pending`), then the step's leaf, then, in one transaction of the server's
    /// database, the step's row and its effect on the ticket (or consent), the
    /// intent removed. The ledger and the server's database are two databases: a
    /// crash between the writes leaves an intent, which
    /// [`App::reconcile_appeal_steps`] resolves from the ledger (the leaf is there:
    /// the step is finished; it is not: the step never happened and is dropped).
    /// A leaf is never appended without its intent stored first.
    async fn commit_step(
        &self,
        entry: StepEntry,
        intent: Intent,
        new_ticket: Option<NewTicket>,
    ) -> AppResult<u64> {
        let bytes = entry.to_bytes();
        let from = self.store.ledger_size().await?;
        let effect = serde_json::to_string(&intent.effect).map_err(AppError::internal)?;
        let created = self.now().unix_seconds();
        let stored = bytes.clone();
        let answers = matches!(intent.effect, Effect::Answer { .. });
        let id: Option<i64> = self
            .accounts
            .call(move |c| {
                let tx = c.transaction()?;
                if let Some(t) = new_ticket {
                    t.insert(&tx)?;
                }
                if answers {
                    // One answer per ticket, even when two reviewers answer at once
                    // (this connection serialises the check and the intent).
                    let open: bool = tx.query_row(
                        "SELECT count(*) FROM appeal_tickets t WHERE t.id = ?1 AND t.status = 'open' \
                         AND NOT EXISTS (SELECT 1 FROM appeal_intents i WHERE i.key = t.id \
                         AND i.effect LIKE '{\"effect\":\"answer\"%')",
                        [&intent.key],
                        |r| r.get::<_, i64>(0).map(|n| n > 0),
                    )?;
                    if !open {
                        return Ok(None);
                    }
                }
                tx.execute(
                    "INSERT INTO appeal_intents (entry, key, ticket_step, actor, note, effect, from_leaf, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        stored,
                        intent.key,
                        intent.ticket_step as i64,
                        intent.actor,
                        intent.note,
                        effect,
                        from as i64,
                        created
                    ],
                )?;
                let id = tx.last_insert_rowid();
                tx.commit()?;
                Ok(Some(id))
            })
            .await?;
        let id = id.ok_or_else(|| {
            AppError::new(
                axum::http::StatusCode::CONFLICT,
                "ticket_answered",
                "the ticket has been answered meanwhile",
            )
        })?;
        let leaf = match self.store.append_appeal(bytes).await {
            Ok(leaf) => leaf,
            Err(e) => {
                // Whether the leaf was written is not known: look now (the intent
                // stays for the reconciliation at start if even that fails).
                if let Err(again) = self.resolve_intent(id).await {
                    tracing::error!(error = %again, intent = id, "an appeal step's intent is left for reconciliation");
                }
                return Err(e.into());
            }
        };
        self.finish_intent(id, leaf).await?;
        Ok(leaf)
    }

    /// Records the step of intent `id` as at `leaf`: its row, its effect, the intent
    /// removed; in one transaction.
    async fn finish_intent(&self, id: i64, leaf: u64) -> AppResult<()> {
        self.accounts
            .call(move |c| {
                let tx = c.transaction()?;
                let row: Option<IntentRow> = tx
                    .query_row(
                        "SELECT entry, key, ticket_step, actor, note, effect FROM appeal_intents WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                    )
                    .optional()?;
                let Some((entry, key, ticket_step, actor, note, effect)) = row else {
                    // Finished already (by a reconciliation).
                    return Ok(());
                };
                let entry = StepEntry::from_bytes(&entry).ok_or_else(|| conversion("intent entry"))?;
                let effect: Effect =
                    serde_json::from_str(&effect).map_err(|_| conversion("intent effect"))?;
                if ticket_step != 0 {
                    tx.execute(
                        "INSERT OR IGNORE INTO appeal_steps (ticket, leaf, kind, at, actor, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![key, leaf as i64, entry.kind.as_str(), entry.at.unix_seconds(), actor, note],
                    )?;
                }
                effect.apply(&tx, &key, leaf)?;
                tx.execute("DELETE FROM appeal_intents WHERE id = ?1", [id])?;
                tx.commit()
            })
            .await
    }

    /// Resolves intent `id` from the ledger: finished if its leaf is there (at or
    /// after the ledger size noted with it), otherwise dropped with the pending
    /// ticket it opened. Returns whether the step was finished.
    async fn resolve_intent(&self, id: i64) -> AppResult<bool> {
        let row: Option<(Vec<u8>, i64)> = self
            .accounts
            .call(move |c| {
                c.query_row(
                    "SELECT entry, from_leaf FROM appeal_intents WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        let Some((entry, from)) = row else {
            return Ok(true);
        };
        let size = self.store.ledger_size().await?;
        let mut next = u64::try_from(from).unwrap_or(0);
        while next < size {
            let page = self.store.leaves(next, 1024).await?;
            if page.is_empty() {
                break;
            }
            for leaf in &page {
                if let Ok(mingma_store::LedgerEntry::Appeal(step)) =
                    mingma_store::LedgerEntry::from_bytes(&leaf.data)
                {
                    if step == entry {
                        self.finish_intent(id, leaf.index).await?;
                        return Ok(true);
                    }
                }
                next = leaf.index + 1;
            }
        }
        self.accounts
            .call(move |c| {
                let tx = c.transaction()?;
                let key: Option<(String, String)> = tx
                    .query_row(
                        "SELECT key, effect FROM appeal_intents WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((key, effect)) = key {
                    if matches!(serde_json::from_str::<Effect>(&effect), Ok(Effect::Open)) {
                        tx.execute(
                            "DELETE FROM appeal_tickets WHERE id = ?1 AND status = 'pending'",
                            [key],
                        )?;
                    }
                    tx.execute("DELETE FROM appeal_intents WHERE id = ?1", [id])?;
                }
                tx.commit()
            })
            .await?;
        Ok(false)
    }

    /// Resolves every appeal-step intent at least `min_age_seconds` old (see
    /// [`App::commit_step`]): run at start with 0, before anything is served, and
    /// by the background task for intents a failed request left behind.
    pub async fn reconcile_appeal_steps(&self, min_age_seconds: i64) -> AppResult<Reconciled> {
        let before = self.now().unix_seconds() - min_age_seconds;
        let ids: Vec<i64> = self
            .accounts
            .call(move |c| {
                c.prepare("SELECT id FROM appeal_intents WHERE created_at <= ?1 ORDER BY id")?
                    .query_map([before], |r| r.get(0))?
                    .collect()
            })
            .await?;
        let mut done = Reconciled::default();
        for id in ids {
            if self.resolve_intent(id).await? {
                done.finished += 1;
            } else {
                done.dropped += 1;
            }
        }
        Ok(done)
    }

    async fn person_tickets(&self, person: PersonKey) -> AppResult<Vec<Ticket>> {
        self.accounts
            .call(move |c| {
                c.prepare(&format!(
                    "SELECT {TICKET_COLUMNS} FROM appeal_tickets WHERE person = ?1 AND status != 'pending' ORDER BY opened_at DESC, id"
                ))?
                .query_map([person.as_bytes().as_slice()], ticket_of)?
                .collect()
            })
            .await
    }

    async fn ticket(&self, id: &str) -> AppResult<Ticket> {
        ticket_bytes(id)?;
        let key = id.to_owned();
        self.accounts
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {TICKET_COLUMNS} FROM appeal_tickets WHERE id = ?1 AND status != 'pending'"),
                    [key],
                    ticket_of,
                )
                .optional()
            })
            .await?
            .ok_or_else(|| AppError::not_found("unknown_ticket", format!("no appeal ticket {id}")))
    }

    async fn all_tickets(&self) -> AppResult<Vec<Ticket>> {
        self.accounts
            .call(move |c| {
                c.prepare(&format!(
                    "SELECT {TICKET_COLUMNS} FROM appeal_tickets WHERE status != 'pending' ORDER BY opened_at DESC, id"
                ))?
                .query_map([], ticket_of)?
                .collect()
            })
            .await
    }

    async fn ticket_json(&self, t: &Ticket, lang: Lang) -> AppResult<TicketJson> {
        let registry = self.engine.registry().await?;
        let tid = t.id.clone();
        let steps: Vec<(i64, String, i64, String, Option<String>)> = self
            .accounts
            .call(move |c| {
                c.prepare("SELECT leaf, kind, at, actor, note FROM appeal_steps WHERE ticket = ?1 ORDER BY leaf")?
                    .query_map([tid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            })
            .await?;
        let mut out = Vec::new();
        for (leaf, kind, at, actor, note) in steps {
            out.push(StepJson {
                kind,
                at: Timestamp::from_unix_seconds(at)
                    .ok_or_else(|| AppError::internal("a step's time is out of range"))?,
                leaf: leaf as u64,
                by: actor_label(&actor),
                note,
            });
        }
        let now = self.now();
        Ok(TicketJson {
            id: t.id.clone(),
            addressee: party(&registry, &t.addressee),
            handler: authority_party(&registry, &t.handler),
            claim: t.claim.as_str().to_owned(),
            claim_text: t.claim.label(lang).to_owned(),
            text: t.text.clone(),
            document: t.doc.as_ref().map(|(name, ty, size, sha)| DocumentJson {
                name: name.clone(),
                content_type: ty.clone(),
                size: *size,
                sha256: sha.clone(),
            }),
            records: t.records.iter().map(ToString::to_string).collect(),
            status: t.status.clone(),
            opened_by: if t.opened_by.starts_with("hotline:") {
                "hotline"
            } else {
                "holder"
            },
            opened_at: t.opened_at,
            deadline: t.deadline,
            overdue: t.status == "open" && now >= t.deadline,
            escalated_to: t.escalated_to.iter().map(ToString::to_string).collect(),
            at_top: t.at_top,
            answer: t.outcome.as_ref().map(|outcome| AnswerJson {
                outcome: outcome.clone(),
                reason: t.reason.clone().unwrap_or_default(),
                at: t.answered_at,
                retraction: t.retraction.clone(),
                correction: t.correction.clone(),
                awaiting_approval: t.correction_pending,
                code: t
                    .code
                    .as_ref()
                    .map(|(colour, leaf, position)| CodeAfterJson {
                        colour: colour.clone(),
                        leaf: *leaf,
                        position: *position,
                    }),
            }),
            steps: out,
        })
    }

    /// The holder's own tickets, newest first.
    pub async fn my_appeals(&self, person: PersonKey, lang: Lang) -> AppResult<Vec<TicketJson>> {
        let mut out = Vec::new();
        for t in self.person_tickets(person).await? {
            out.push(self.ticket_json(&t, lang).await?);
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------
    // Officials.

    /// Whether `official` may decide `t`: a role permitting [`Action::ReviewAppeal`]
    /// at the handler's jurisdiction, acting for an authority on the ticket's chain
    /// (the owner's authority or one it escalated to).
    fn may_decide(registry: &Registry, official: &OfficialId, t: &Ticket) -> AppResult<()> {
        let place = registry
            .directory
            .authorities
            .get(&t.handler)
            .map(|a| a.jurisdiction)
            .ok_or_else(|| AppError::internal(format!("authority {} unknown", t.handler)))?;
        authorize(registry.grants_of(official), Action::ReviewAppeal, place)
            .map_err(|r| AppError::forbidden(r.code(), r.to_string()))?;
        let acting = registry.authority_of(official);
        let chain: Vec<&AuthorityId> = std::iter::once(&t.owner).chain(&t.escalated_to).collect();
        if acting.is_some_and(|a| chain.contains(&a)) {
            return Ok(());
        }
        Err(AppError::forbidden(
            "not_the_handler",
            format!(
                "ticket {} is for {} (handled by {}); an official of {} cannot decide it",
                t.id,
                t.addressee,
                chain
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" → "),
                acting.map_or("no authority".to_owned(), ToString::to_string)
            ),
        ))
    }

    /// Whether an auditor's grants cover `t`'s handler.
    fn audits(registry: &Registry, official: &OfficialId, t: &Ticket) -> bool {
        registry
            .directory
            .authorities
            .get(&t.handler)
            .is_some_and(|a| {
                authorize(
                    registry.grants_of(official),
                    Action::ReadAudit,
                    a.jurisdiction,
                )
                .is_ok()
            })
    }

    /// The operator's live consent for `person`, if any.
    async fn live_consent(&self, operator: &OfficialId, person: PersonKey) -> AppResult<bool> {
        let (op, now) = (operator.to_string(), self.now().unix_seconds());
        self.accounts
            .call(move |c| {
                c.query_row(
                    "SELECT count(*) FROM hotline_consents WHERE operator = ?1 AND person = ?2 \
                     AND leaf IS NOT NULL AND valid_until > ?3",
                    params![op, person.as_bytes().as_slice(), now],
                    |r| r.get::<_, i64>(0),
                )
            })
            .await
            .map(|n| n > 0)
    }

    /// The document attached to a ticket (type, name, bytes), for an official who
    /// may see the ticket.
    pub async fn appeal_document(
        &self,
        principal: &Principal,
        id: &str,
    ) -> AppResult<(String, String, Vec<u8>)> {
        let official = Self::official_of(principal)?;
        let t = self.ticket(id).await?;
        let registry = self.engine.registry().await?;
        self.may_see(&registry, official, &t).await?;
        let key = t.id.clone();
        type Row = (Option<String>, Option<String>, Option<Vec<u8>>);
        let doc: Option<Row> = self
            .accounts
            .call(move |c| {
                c.query_row(
                    "SELECT doc_type, doc_name, doc FROM appeal_tickets WHERE id = ?1",
                    [key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })
            .await?;
        match doc {
            Some((Some(ty), Some(name), Some(bytes))) => Ok((ty, name, bytes)),
            _ => Err(AppError::not_found(
                "no_document",
                format!("ticket {id} has no document"),
            )),
        }
    }

    /// Whether `official` may see `t`: a deciding reviewer, an auditor covering it,
    /// or a hotline operator holding the holder's live consent.
    async fn may_see(
        &self,
        registry: &Registry,
        official: &OfficialId,
        t: &Ticket,
    ) -> AppResult<()> {
        if Self::may_decide(registry, official, t).is_ok() || Self::audits(registry, official, t) {
            return Ok(());
        }
        let operator = registry
            .grants_of(official)
            .iter()
            .any(|g| g.role.permits(Action::HandleCall));
        if operator {
            if self.live_consent(official, t.person).await? {
                return Ok(());
            }
            return Err(AppError::forbidden(
                "no_consent",
                "the caller's consent is needed first: ask for it (a one-time code to their phone, read out to you)",
            ));
        }
        Self::may_decide(registry, official, t)
    }

    /// The tickets an official has to see: those they may decide (open first), for
    /// an auditor those overdue, escalated or unanswered at the top, for an operator
    /// those of callers whose consent they hold.
    pub async fn official_appeals(
        &self,
        principal: &Principal,
        lang: Lang,
    ) -> AppResult<Vec<TicketJson>> {
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let now = self.now();
        let mut out = Vec::new();
        let mut tickets = self.all_tickets().await?;
        tickets.sort_by_key(|t| (t.status != "open", t.deadline));
        let operator = registry
            .grants_of(official)
            .iter()
            .any(|g| g.role.permits(Action::HandleCall));
        let consented: std::collections::BTreeSet<PersonKey> = if operator {
            let (op, at) = (official.to_string(), now.unix_seconds());
            let rows: Vec<Vec<u8>> = self
                .accounts
                .call(move |c| {
                    c.prepare(
                        "SELECT person FROM hotline_consents WHERE operator = ?1 \
                         AND leaf IS NOT NULL AND valid_until > ?2",
                    )?
                    .query_map(params![op, at], |r| r.get(0))?
                    .collect()
                })
                .await?;
            rows.into_iter()
                .filter_map(|p| <[u8; 32]>::try_from(p).ok().map(PersonKey::from_bytes))
                .collect()
        } else {
            Default::default()
        };
        for t in tickets {
            let decides = Self::may_decide(&registry, official, &t).is_ok();
            let audited = Self::audits(&registry, official, &t)
                && (!t.escalated_to.is_empty()
                    || t.at_top
                    || (t.status == "open" && now >= t.deadline));
            let called = consented.contains(&t.person);
            if decides || audited || called {
                out.push(self.ticket_json(&t, lang).await?);
            }
        }
        Ok(out)
    }

    /// One ticket for an official: the ticket, the disputed evidence, and the checks
    /// its claim allows (border entries next to the holder's name and document; the
    /// scans behind a venue exposure with their presence assurance).
    pub async fn official_appeal(
        &self,
        principal: &Principal,
        id: &str,
        lang: Lang,
    ) -> AppResult<Value> {
        let official = Self::official_of(principal)?;
        let t = self.ticket(id).await?;
        let registry = self.engine.registry().await?;
        self.may_see(&registry, official, &t).await?;
        self.merge_ledger_directory().await?;
        let records = self.engine.records_for(t.person).await?;
        let by_id: BTreeMap<&RecordId, &Evidence> = records.iter().map(|r| (&r.id, r)).collect();
        let now = self.now();
        let evidence_lines: Vec<Value> = {
            let reg = self.registry();
            let explainer = Explainer::new(&reg.directory, &records, now, lang);
            let mut lines = Vec::new();
            for id in &t.records {
                let r = by_id.get(id);
                lines.push(json!({
                    "id": id.to_string(),
                    "kind": r.map(|r| r.kind().name()),
                    "owner": r.and_then(|r| Addressee::of(r)).map(|a| a.to_text()),
                    "recorded_by": r.map(|r| r.recorded_by.to_string()),
                    "effective_at": r.map(|r| r.effective_at),
                    "detail": r.map(|r| record_detail(r)),
                    "line": explainer.evidence_line(id),
                    "not_counted": explainer.not_counted_because(id),
                }));
            }
            lines
        };
        let account = self.accounts.account(t.person).await?;
        let holder = json!({
            "name": account.as_ref().map(|a| a.name.clone()),
            "id_last_four": account.as_ref().map(|a| a.id_last_four.clone()),
            "document": account.as_ref().map(|a| format!("居民身份证 / resident ID card ****{}", a.id_last_four)),
        });
        // Border entries: those disputed, the grounds of disputed orders, and for a
        // claim of never having left, every entry recorded about the person.
        let mut entries: Vec<&Evidence> = Vec::new();
        fn add<'a>(r: &'a Evidence, entries: &mut Vec<&'a Evidence>) {
            if !entries.iter().any(|e| e.id == r.id) {
                entries.push(r);
            }
        }
        for id in &t.records {
            let Some(r) = by_id.get(id).copied() else {
                continue;
            };
            match &r.body {
                EvidenceBody::BorderEntry { .. } => add(r, &mut entries),
                EvidenceBody::QuarantineOrder { ground, .. } => {
                    if let Some(g) = by_id
                        .get(ground)
                        .copied()
                        .filter(|g| g.kind() == EvidenceKind::BorderEntry)
                    {
                        add(g, &mut entries);
                    }
                }
                _ => {}
            }
        }
        if t.claim == Claim::NeverLeftCountry {
            for r in records
                .iter()
                .filter(|r| r.subject == Some(t.person) && r.kind() == EvidenceKind::BorderEntry)
            {
                add(r, &mut entries);
            }
        }
        let holder_name = account.as_ref().map(|a| a.name.trim().to_owned());
        let border_entries: Vec<Value> = entries
            .iter()
            .filter_map(|r| match &r.body {
                EvidenceBody::BorderEntry {
                    port,
                    origin,
                    name,
                    document,
                } => Some(json!({
                    "record": r.id.to_string(),
                    "recorded_by": r.recorded_by.to_string(),
                    "entered_at": r.effective_at,
                    "port": port,
                    "origin": origin,
                    "name": name,
                    "document": document,
                    "name_matches": match (name, &holder_name) {
                        (Some(n), Some(h)) => Some(n.trim() == h),
                        _ => None,
                    },
                })),
                _ => None,
            })
            .collect();
        let scans: Vec<Value> = t
            .records
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .filter_map(|r| match &r.body {
                EvidenceBody::VenueScan {
                    venue,
                    left_at,
                    presence,
                    ..
                } => Some(json!({
                    "record": r.id.to_string(),
                    "venue": venue.to_string(),
                    "venue_name": self.venue(venue).map(|v| v.venue.name),
                    "entered_at": r.effective_at,
                    "left_at": left_at,
                    "presence": presence.to_string(),
                    "recorded_by": r.recorded_by.to_string(),
                })),
                _ => None,
            })
            .collect();
        let ticket = self.ticket_json(&t, lang).await?;
        Ok(json!({
            "ticket": ticket,
            "evidence": evidence_lines,
            "may_decide": Self::may_decide(&registry, official, &t).is_ok(),
            "checks": {
                "holder": holder,
                "border_entry_exists": !border_entries.is_empty(),
                "border_entries": border_entries,
                "scans": scans,
            },
        }))
    }

    async fn decidable(&self, principal: &Principal, id: &str) -> AppResult<(OfficialId, Ticket)> {
        let official = Self::official_of(principal)?.clone();
        let t = self.ticket(id).await?;
        let registry = self.engine.registry().await?;
        Self::may_decide(&registry, &official, &t)?;
        Ok((official, t))
    }

    fn not_open(t: &Ticket) -> AppError {
        AppError::new(
            axum::http::StatusCode::CONFLICT,
            "ticket_answered",
            format!("ticket {} is {} already", t.id, t.status),
        )
    }

    /// A note on a ticket, by a reviewer who may decide it or an operator holding
    /// the holder's live consent.
    pub async fn note_appeal(
        &self,
        principal: &Principal,
        id: &str,
        text: &str,
        lang: Lang,
    ) -> AppResult<TicketJson> {
        let official = Self::official_of(principal)?.clone();
        let t = self.ticket(id).await?;
        let registry = self.engine.registry().await?;
        self.may_see(&registry, &official, &t).await?;
        let decides = Self::may_decide(&registry, &official, &t).is_ok();
        let operator = registry
            .grants_of(&official)
            .iter()
            .any(|g| g.role.permits(Action::HandleCall));
        if !decides && !operator {
            // An auditor reads; it does not write.
            return Err(AppError::forbidden(
                "not_permitted",
                "only the ticket's reviewers and a hotline operator with the caller's consent add notes",
            ));
        }
        let text = check_text(text, "the note", true)?;
        let actor = if decides {
            format!("official:{official}")
        } else {
            format!("hotline:{official}")
        };
        self.step(
            &t,
            StepKind::Note,
            &actor,
            text.as_bytes(),
            Some(text.clone()),
            None,
            Effect::Note,
        )
        .await?;
        self.ticket_json(&self.ticket(id).await?, lang).await
    }

    /// A ticket's next step as its leaf will read (unsigned).
    fn step_entry(
        &self,
        t: &Ticket,
        kind: StepKind,
        actor: &str,
        content: &[u8],
        handler: Option<(&AuthorityId, Timestamp)>,
    ) -> AppResult<StepEntry> {
        let ticket = ticket_bytes(&t.id)?;
        let (handler, deadline) = handler.unwrap_or((&t.handler, t.deadline));
        Ok(StepEntry {
            kind,
            ticket,
            at: self.now(),
            addressee: t.addressee.clone(),
            handler: handler.to_string(),
            deadline: Some(deadline),
            commitment: step_commitment(&t.salt, &ticket, kind, &t.person, actor, content),
            signer: None,
        })
    }

    /// Takes a ticket's step (see [`App::commit_step`]).
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        t: &Ticket,
        kind: StepKind,
        actor: &str,
        content: &[u8],
        note: Option<String>,
        handler: Option<(&AuthorityId, Timestamp)>,
        effect: Effect,
    ) -> AppResult<u64> {
        let entry = self.step_entry(t, kind, actor, content, handler)?;
        self.commit_step(
            entry,
            Intent {
                key: t.id.clone(),
                ticket_step: true,
                actor: actor.to_owned(),
                note,
                effect,
            },
            None,
        )
        .await
    }

    /// Drafts a rejection for the reviewer to sign: the rejection step as its leaf
    /// will read, with the reason committed to; the reviewer's key signs
    /// [`StepEntry::signed_message`] (the draft's `message`) and
    /// [`App::reject_appeal`] takes the seal. Drafts last 10 minutes.
    pub async fn draft_rejection(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> AppResult<Draft> {
        let (official, t) = self.decidable(principal, id).await?;
        if t.status != "open" {
            return Err(Self::not_open(&t));
        }
        let reason = check_text(reason, "the reason", true)?;
        let actor = format!("official:{official}");
        let entry = self.step_entry(&t, StepKind::Rejected, &actor, reason.as_bytes(), None)?;
        let registry = self.engine.registry().await?;
        let message = entry.signed_message(&official);
        let payload = serde_json::to_vec(&json!({
            "ticket": t.id,
            "entry": base64::engine::general_purpose::STANDARD.encode(entry.to_bytes()),
            "reason": reason,
        }))
        .map_err(AppError::internal)?;
        let draft = random_token()?;
        let draft = draft.get(..24).unwrap_or(&draft).to_owned();
        let (saved, who) = (draft.clone(), principal.to_text());
        let now = self.now().unix_seconds();
        self.accounts
            .call(move |c| {
                c.execute("DELETE FROM drafts WHERE expires_at <= ?1", [now])?;
                c.execute(
                    "INSERT INTO drafts (id, principal, kind, payload, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![saved, who, APPEAL_STEP_DRAFT, payload, now + crate::officials::DRAFT_SECONDS],
                )
            })
            .await?;
        Ok(Draft {
            draft,
            kind: APPEAL_STEP_DRAFT,
            record: None,
            summary: format!("rejection of appeal ticket {}", t.id),
            message: base64::engine::general_purpose::STANDARD.encode(message),
            key: crate::officials::signing_key_of(&registry, &official),
        })
    }

    /// Rejects a ticket with a reason the holder sees: the rejection drafted by
    /// [`App::draft_rejection`], with the reviewer's seal over it, checked against
    /// their registered key before the step is appended (a missing, malformed or
    /// forged seal is refused and nothing is recorded).
    pub async fn reject_appeal(
        &self,
        principal: &Principal,
        id: &str,
        draft: &str,
        seal: &str,
        lang: Lang,
    ) -> AppResult<TicketJson> {
        let (official, t) = self.decidable(principal, id).await?;
        if t.status != "open" {
            return Err(Self::not_open(&t));
        }
        let seal =
            Seal::parse(seal.trim()).map_err(|e| AppError::bad_request("malformed_seal", e))?;
        let payload = self
            .waiting_draft(principal, draft, &[APPEAL_STEP_DRAFT], false)
            .await?
            .map(|(_, payload)| payload);
        let unknown = || {
            AppError::not_found(
                "unknown_draft",
                format!("no rejection draft {draft} of yours is waiting (drafts last 10 minutes)"),
            )
        };
        let payload = payload.ok_or_else(unknown)?;
        #[derive(Deserialize)]
        struct Drafted {
            ticket: String,
            entry: String,
            reason: String,
        }
        let drafted: Drafted = serde_json::from_slice(&payload).map_err(AppError::internal)?;
        if drafted.ticket != t.id {
            return Err(AppError::bad_request(
                "draft_of_another_ticket",
                format!(
                    "draft {draft} rejects ticket {}, not {}",
                    drafted.ticket, t.id
                ),
            ));
        }
        let mut entry = base64::engine::general_purpose::STANDARD
            .decode(&drafted.entry)
            .ok()
            .and_then(|b| StepEntry::from_bytes(&b))
            .filter(|e| e.kind == StepKind::Rejected)
            .ok_or_else(|| AppError::internal("a rejection draft is malformed"))?;
        entry.signer = Some(StepSigner {
            official: official.clone(),
            seal,
        });
        let registry = self.engine.registry().await?;
        entry
            .check_signature(&registry.keys)
            .map_err(|why| AppError::bad_request("bad_seal", why))?;
        // The draft is used once.
        let used = draft.to_owned();
        self.accounts
            .call(move |c| c.execute("DELETE FROM drafts WHERE id = ?1", [used]))
            .await?;
        let actor = format!("official:{official}");
        let reason = drafted.reason;
        self.commit_step(
            entry,
            Intent {
                key: t.id.clone(),
                ticket_step: true,
                actor: actor.clone(),
                note: Some(reason.clone()),
                effect: Effect::Answer {
                    outcome: "rejected".into(),
                    reason,
                    by: actor,
                    at: self.now().unix_seconds(),
                    retraction: None,
                    correction: None,
                    correction_pending: false,
                    code: None,
                },
            },
            None,
        )
        .await?;
        self.ticket_json(&self.ticket(id).await?, lang).await
    }

    /// Drafts the retraction that accepting a ticket means: of one of its disputed
    /// records, with the reviewer's reason (sealed like any record, then given to
    /// [`App::accept_appeal`]).
    pub async fn draft_appeal_retraction(
        &self,
        principal: &Principal,
        id: &str,
        target: &str,
        reason: &str,
    ) -> AppResult<Draft> {
        let (_, t) = self.decidable(principal, id).await?;
        if t.status != "open" {
            return Err(Self::not_open(&t));
        }
        let target = self.disputed_target(&t, target)?;
        let reason = check_text(reason, "the reason", true)?;
        let suffix = random_token()?;
        self.draft_record(
            principal,
            json!({
                "type": "retraction",
                "id": format!("appeal-{}-{}", t.id.get(..8).unwrap_or(""), suffix.get(..8).unwrap_or("")),
                "target": target.to_string(),
                "reason": reason,
            }),
        )
        .await
    }

    /// Drafts the two records accepting a ticket by correction means: the
    /// corrected record (`record`, an object in the evidence-file format, about the
    /// ticket's holder — the service fills in the subject — and of the disputed
    /// record's type) and the retraction of the disputed record `target`, whose
    /// reason names the correction. Both are the reviewer's records, drafted and
    /// checked as intake checks any; both are sealed by the reviewer and given to
    /// [`App::accept_appeal`], which appends them in one transaction. A corrected
    /// record that can turn a code red or yellow is held for a second official's
    /// approval like any such manual record (the two-person rule); the retraction
    /// takes effect at once.
    pub async fn draft_appeal_correction(
        &self,
        principal: &Principal,
        id: &str,
        target: &str,
        reason: &str,
        record: Value,
    ) -> AppResult<CorrectionDrafts> {
        let (_, t) = self.decidable(principal, id).await?;
        if t.status != "open" {
            return Err(Self::not_open(&t));
        }
        let target = self.disputed_target(&t, target)?;
        let reason = check_text(reason, "the reason", true)?;
        let stored = self
            .store
            .record(&target)
            .await?
            .ok_or_else(|| AppError::internal(format!("disputed record {target} is not stored")))?
            .evidence;
        if !stored.kind().has_subject() || stored.kind() == EvidenceKind::VenueScan {
            return Err(AppError::unprocessable(
                "not_correctable",
                format!(
                    "a {} is not corrected through an appeal: retract it",
                    stored.kind().label_en()
                ),
            ));
        }
        let Value::Object(mut map) = record else {
            return Err(AppError::bad_request(
                "malformed_record",
                "the corrected record is a JSON object",
            ));
        };
        let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != stored.kind().name() {
            return Err(AppError::unprocessable(
                "correction_of_another_type",
                format!(
                    "record {target} is a {}: its correction is one too (not {kind:?})",
                    stored.kind().name()
                ),
            ));
        }
        // About the ticket's holder, whatever the body said.
        map.remove("subject");
        map.insert(
            "subject_key".into(),
            Value::String(hex(t.person.as_bytes())),
        );
        if !map.contains_key("id") {
            let suffix = random_token()?;
            map.insert(
                "id".into(),
                Value::String(format!(
                    "corr-{}-{}",
                    t.id.get(..8).unwrap_or(""),
                    suffix.get(..8).unwrap_or("")
                )),
            );
        }
        let corrected = self.draft_record(principal, Value::Object(map)).await?;
        let corrected_id = corrected.record.clone().unwrap_or_default();
        let suffix = random_token()?;
        let retraction = self
            .draft_record(
                principal,
                json!({
                    "type": "retraction",
                    "id": format!("appeal-{}-{}", t.id.get(..8).unwrap_or(""), suffix.get(..8).unwrap_or("")),
                    "target": target.to_string(),
                    "reason": format!("{reason}（更正为 / corrected by {corrected_id}）"),
                }),
            )
            .await?;
        Ok(CorrectionDrafts {
            retraction,
            correction: corrected,
        })
    }

    /// `target` parsed, if the ticket disputes it.
    fn disputed_target(&self, t: &Ticket, target: &str) -> AppResult<RecordId> {
        let target = RecordId::parse(target.trim())
            .map_err(|e| AppError::bad_request("malformed_record_id", format!("target: {e}")))?;
        if !t.records.contains(&target) {
            return Err(AppError::bad_request(
                "not_disputed",
                format!("record {target} is not disputed by ticket {}", t.id),
            ));
        }
        Ok(target)
    }

    /// Accepts a ticket: submits the sealed retraction drafted for it — with, for a
    /// correction, the sealed corrected record, in one transaction — checked again
    /// as any record, re-derives the holder's code at once, and records the answer
    /// with the code that followed.
    pub async fn accept_appeal(
        &self,
        principal: &Principal,
        id: &str,
        draft: &str,
        seal: &str,
        correction: Option<(&str, &str)>,
        lang: Lang,
    ) -> AppResult<TicketJson> {
        let (official, t) = self.decidable(principal, id).await?;
        if t.status != "open" {
            return Err(Self::not_open(&t));
        }
        // Read the drafts before taking them: a draft that is not this ticket's
        // answer is refused and stays.
        let retraction = self.peek_record_draft(principal, draft).await?;
        let (target, reason) = match &retraction.body {
            EvidenceBody::Retraction { target, reason } if t.records.contains(target) => {
                (target.clone(), reason.clone())
            }
            _ => {
                return Err(AppError::bad_request(
                    "not_a_retraction_of_the_ticket",
                    format!("draft {draft} does not retract a record of ticket {}", t.id),
                ))
            }
        };
        let corrected = match correction {
            Some((cdraft, _)) => {
                let corrected = self.peek_record_draft(principal, cdraft).await?;
                let stored = self
                    .store
                    .record(&target)
                    .await?
                    .map(|r| r.evidence)
                    .ok_or_else(|| AppError::internal(format!("record {target} is not stored")))?;
                let named = reason.contains(&format!("corrected by {}", corrected.id));
                if corrected.kind() != stored.kind()
                    || corrected.subject != Some(t.person)
                    || !named
                {
                    return Err(AppError::bad_request(
                        "not_a_correction_of_the_ticket",
                        format!(
                            "draft {cdraft} is not the correction of {target} that draft {draft} names \
                             (same type, the ticket's holder)"
                        ),
                    ));
                }
                Some(corrected.id.clone())
            }
            None => None,
        };
        // The holder reads the reviewer's reason; the retraction's names the
        // correction as well.
        let reason = match &corrected {
            Some(c) => reason
                .strip_suffix(&format!("（更正为 / corrected by {c}）"))
                .unwrap_or(&reason)
                .to_owned(),
            None => reason,
        };
        let mut records = vec![self.take_record_draft(principal, draft, seal).await?];
        if let Some((cdraft, cseal)) = correction {
            records.push(self.take_record_draft(principal, cdraft, cseal).await?);
        }
        let submitted = self.submit_records(principal, records).await?;
        let awaiting = submitted.iter().any(|s| s.awaiting_approval);
        self.forget_code(t.person);
        let state = self.store.code_state(t.person).await?;
        let actor = format!("official:{official}");
        let retraction_id = submitted
            .first()
            .map(|s| s.record.clone())
            .unwrap_or_default();
        let content = format!(
            "{target}\n{retraction_id}\n{}\n{reason}",
            corrected
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        let effect = Effect::Answer {
            outcome: "accepted".into(),
            reason: reason.clone(),
            by: actor.clone(),
            at: self.now().unix_seconds(),
            retraction: Some(retraction_id),
            correction: corrected.map(|c| c.to_string()),
            correction_pending: awaiting,
            code: state.map(|s| {
                (
                    s.change.colour().name().to_owned(),
                    s.leaf as i64,
                    s.position as i64,
                )
            }),
        };
        self.step(
            &t,
            StepKind::Accepted,
            &actor,
            content.as_bytes(),
            Some(reason),
            None,
            effect,
        )
        .await?;
        self.ticket_json(&self.ticket(id).await?, lang).await
    }

    /// `principal`'s waiting record draft, decoded, without taking it.
    async fn peek_record_draft(&self, principal: &Principal, draft: &str) -> AppResult<Evidence> {
        let payload = self
            .waiting_draft(principal, draft, &["record"], false)
            .await?
            .map(|(_, payload)| payload);
        let payload = payload.ok_or_else(|| {
            AppError::not_found(
                "unknown_draft",
                format!("no record draft {draft} of yours is waiting"),
            )
        })?;
        decode_canonical(&payload).map_err(AppError::internal)
    }

    /// Closes an answered ticket (refused while it has no answer).
    pub async fn close_appeal(
        &self,
        principal: &Principal,
        id: &str,
        lang: Lang,
    ) -> AppResult<TicketJson> {
        let (official, t) = self.decidable(principal, id).await?;
        match t.status.as_str() {
            "answered" => {}
            "open" => {
                return Err(AppError::new(
                    axum::http::StatusCode::CONFLICT,
                    "unanswered",
                    format!(
                        "ticket {} has no answer to the holder yet: accept or reject it first",
                        t.id
                    ),
                ))
            }
            _ => return Err(Self::not_open(&t)),
        }
        self.step(
            &t,
            StepKind::Closed,
            &format!("official:{official}"),
            b"",
            None,
            None,
            Effect::Close,
        )
        .await?;
        self.ticket_json(&self.ticket(id).await?, lang).await
    }

    /// Escalates every open ticket past its deadline to the parent authority of its
    /// handler, with a new deadline; a ticket at the top is flagged for auditors
    /// once. Run by the server's background task; returns the tickets escalated.
    pub async fn escalate_overdue(&self) -> AppResult<usize> {
        let now = self.now();
        let due: Vec<Ticket> = {
            let at = now.unix_seconds();
            self.accounts
                .call(move |c| {
                    c.prepare(&format!(
                        "SELECT {TICKET_COLUMNS} FROM appeal_tickets WHERE status = 'open' AND deadline <= ?1 AND at_top = 0"
                    ))?
                    .query_map([at], ticket_of)?
                    .collect()
                })
                .await?
        };
        if due.is_empty() {
            return Ok(0);
        }
        let registry = self.engine.registry().await?;
        let response = self.engine.rules().appeal_response;
        let mut escalated = 0;
        for t in due {
            let parent = parent_authority(&registry, &t.handler);
            let deadline = now.plus_seconds(response.seconds());
            let (handler, note) = match &parent {
                Some(p) => (p.clone(), Some(format!("{} → {p}", t.handler))),
                None => (t.handler.clone(), Some(format!("{} → auditors", t.handler))),
            };
            let content = note.clone().unwrap_or_default();
            let top = parent.is_none();
            let mut chain = t.escalated_to.clone();
            if let Some(p) = parent {
                chain.push(p);
            }
            let chain = chain
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let effect = Effect::Escalate {
                handler: handler.to_string(),
                deadline: deadline.unix_seconds(),
                chain,
                top,
            };
            self.step(
                &t,
                StepKind::Escalated,
                "service",
                content.as_bytes(),
                note,
                Some((&handler, deadline)),
                effect,
            )
            .await?;
            escalated += 1;
        }
        Ok(escalated)
    }

    // -----------------------------------------------------------------------------
    // The 12345 hotline.

    fn operator(registry: &Registry, official: &OfficialId) -> AppResult<AuthorityId> {
        let authority = registry.authority_of(official).cloned().ok_or_else(|| {
            AppError::forbidden(
                "not_registered",
                format!("official {official} is not registered"),
            )
        })?;
        let place: Jurisdiction = registry
            .directory
            .authorities
            .get(&authority)
            .map(|a| a.jurisdiction)
            .ok_or_else(|| AppError::internal(format!("authority {authority} unknown")))?;
        authorize(registry.grants_of(official), Action::HandleCall, place)
            .map_err(|r| AppError::forbidden(r.code(), r.to_string()))?;
        Ok(authority)
    }

    /// An operator asks for a caller's consent: a one-time code goes to the phone
    /// on the caller's account, which the caller reads out.
    pub async fn start_hotline_consent(
        &self,
        principal: &Principal,
        id_number: &str,
    ) -> AppResult<ConsentStarted> {
        let official = Self::official_of(principal)?.clone();
        let registry = self.engine.registry().await?;
        Self::operator(&registry, &official)?;
        let id = parse_id(id_number)?;
        let person = self.keys.pseudonym.person_key(&id);
        let account = self.accounts.account(person).await?.ok_or_else(|| {
            AppError::not_found(
                "no_account",
                "the caller has no account (no phone on file to send a code to)",
            )
        })?;
        let phone = Phone::parse(&account.phone)?;
        // Each request is a text message to the caller's phone: at most three may
        // wait for one person at a time.
        let now = self.now().unix_seconds();
        let pending: i64 = self
            .accounts
            .call(move |c| {
                c.query_row(
                    "SELECT count(*) FROM hotline_consents WHERE person = ?1 AND valid_until IS NULL AND expires_at > ?2",
                    params![person.as_bytes().as_slice(), now],
                    |r| r.get(0),
                )
            })
            .await?;
        if pending >= 3 {
            return Err(AppError::too_many(
                "otp_rate_limited",
                "three one-time codes are already waiting for this caller; use one, or wait 5 minutes",
            ));
        }
        let code = random_otp()?;
        let consent = random_token()?;
        let consent = consent.get(..32).unwrap_or(&consent).to_owned();
        let delivery = self.otp.send(&phone, &code).await.map_err(|why| {
            AppError::unavailable(
                "otp_not_sent",
                format!("the one-time code could not be sent: {why}"),
            )
        })?;
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|e| AppError::internal(format!("randomness: {e}")))?;
        let (cid, op, hash, expires) = (
            consent.clone(),
            official.to_string(),
            digest(&[consent.as_bytes(), code.as_bytes()]),
            self.now().plus_seconds(OTP_SECONDS).unix_seconds(),
        );
        self.accounts
            .call(move |c| {
                c.execute(
                    "INSERT INTO hotline_consents (id, operator, person, salt, code_hash, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![cid, op, person.as_bytes().as_slice(), salt.as_slice(), hash, expires],
                )
            })
            .await?;
        Ok(ConsentStarted {
            consent,
            sent_to: phone.masked(),
            demo_code: match delivery {
                Delivery::Shown(code) => Some(code),
                Delivery::Sent => None,
            },
        })
    }

    async fn consent_row(&self, official: &OfficialId, consent: &str) -> AppResult<ConsentRow> {
        ticket_bytes(consent).map_err(|_| unknown_consent())?;
        let (cid, op) = (consent.to_owned(), official.to_string());
        let row: Option<RawConsent> = self
            .accounts
            .call(move |c| {
                c.query_row(
                    "SELECT person, salt, code_hash, expires_at, attempts, valid_until FROM hotline_consents \
                     WHERE id = ?1 AND operator = ?2",
                    params![cid, op],
                    |r| {
                        Ok(RawConsent {
                            person: r.get(0)?,
                            salt: r.get(1)?,
                            hash: r.get(2)?,
                            expires: r.get(3)?,
                            attempts: r.get(4)?,
                            valid: r.get(5)?,
                        })
                    },
                )
                .optional()
            })
            .await?;
        let raw = row.ok_or_else(unknown_consent)?;
        let bad = || AppError::internal("a hotline consent row is malformed");
        Ok(ConsentRow {
            person: PersonKey::from_bytes(raw.person.try_into().map_err(|_| bad())?),
            salt: raw.salt.try_into().map_err(|_| bad())?,
            hash: raw.hash,
            expires: Timestamp::from_unix_seconds(raw.expires).ok_or_else(bad)?,
            attempts: u32::try_from(raw.attempts).unwrap_or(u32::MAX),
            valid: raw.valid.and_then(Timestamp::from_unix_seconds),
        })
    }

    /// The operator types the code the caller read out: the consent is recorded as
    /// a ledger step and lasts [`HOTLINE_CONSENT_SECONDS`].
    pub async fn confirm_hotline_consent(
        &self,
        principal: &Principal,
        consent: &str,
        code: &str,
    ) -> AppResult<Value> {
        let official = Self::official_of(principal)?.clone();
        let registry = self.engine.registry().await?;
        let authority = Self::operator(&registry, &official)?;
        let ConsentRow {
            person,
            salt,
            hash,
            expires,
            attempts,
            valid,
        } = self.consent_row(&official, consent).await?;
        if valid.is_some() {
            return Err(AppError::new(
                axum::http::StatusCode::CONFLICT,
                "consent_recorded",
                "this consent is recorded already",
            ));
        }
        let now = self.now();
        match judge_otp(consent, code, &hash, expires, attempts, now) {
            Otp::Accepted => {}
            Otp::Expired => return Err(unknown_consent()),
            Otp::Wrong(error) => {
                let cid = consent.to_owned();
                self.accounts
                    .call(move |c| {
                        c.execute(
                            "UPDATE hotline_consents SET attempts = attempts + 1 WHERE id = ?1",
                            [cid],
                        )
                    })
                    .await?;
                return Err(error);
            }
        }
        let until = now.plus_seconds(HOTLINE_CONSENT_SECONDS);
        let ticket = ticket_bytes(consent)?;
        let actor = format!("hotline:{official}");
        let leaf = self
            .commit_step(
                StepEntry {
                    kind: StepKind::HotlineConsent,
                    ticket,
                    at: now,
                    addressee: format!("hotline:{authority}"),
                    handler: authority.to_string(),
                    deadline: Some(until),
                    commitment: step_commitment(
                        &salt,
                        &ticket,
                        StepKind::HotlineConsent,
                        &person,
                        &actor,
                        b"consent to a hotline lookup",
                    ),
                    signer: None,
                },
                Intent {
                    key: consent.to_owned(),
                    ticket_step: false,
                    actor,
                    note: None,
                    effect: Effect::Consent {
                        valid_until: until.unix_seconds(),
                    },
                },
                None,
            )
            .await?;
        Ok(json!({"consent": consent, "leaf": leaf, "valid_until": until}))
    }

    async fn consented_person(&self, principal: &Principal, consent: &str) -> AppResult<PersonKey> {
        let official = Self::official_of(principal)?.clone();
        let registry = self.engine.registry().await?;
        Self::operator(&registry, &official)?;
        let row = self.consent_row(&official, consent).await?;
        let person = row.person;
        match row.valid {
            Some(until) if self.now() < until => Ok(person),
            Some(_) => Err(AppError::forbidden(
                "consent_lapsed",
                "the caller's consent has lapsed; ask for it again",
            )),
            None => Err(AppError::forbidden(
                "no_consent",
                "the caller has not consented yet: type the one-time code they read out",
            )),
        }
    }

    /// The caller's code provenance, for the operator holding their consent: the
    /// colour and reason, the owners with their contact, the decisive records, and
    /// the caller's tickets.
    pub async fn hotline_provenance(
        &self,
        principal: &Principal,
        consent: &str,
        lang: Lang,
    ) -> AppResult<Value> {
        let person = self.consented_person(principal, consent).await?;
        let official = Self::official_of(principal)?;
        let registry = self.engine.registry().await?;
        let place = registry
            .authority_of(official)
            .and_then(|a| registry.directory.authorities.get(a))
            .map(|a| a.jurisdiction)
            .ok_or_else(|| AppError::internal("the operator's authority is unknown"))?;
        authorize(registry.grants_of(official), Action::ReadProvenance, place)
            .map_err(|r| AppError::forbidden(r.code(), r.to_string()))?;
        self.merge_ledger_directory().await?;
        let records = self.engine.records_for(person).await?;
        let now = self.now();
        let decision = self.engine.derive(&records, &person, now, now);
        let by_id: BTreeMap<&RecordId, &Evidence> = records.iter().map(|r| (&r.id, r)).collect();
        let mut owners: Vec<Addressee> = decision
            .decisive_evidence
            .iter()
            .filter_map(|id| by_id.get(id).and_then(|r| Addressee::of(r)))
            .collect();
        owners.sort();
        owners.dedup();
        let explanation = {
            let reg = self.registry();
            Explainer::new(&reg.directory, &records, now, lang).explain(&decision)
        };
        let tickets = self.my_appeals(person, lang).await?;
        Ok(json!({
            "colour": decision.colour.name(),
            "reason": explanation.reason,
            "since": decision.since,
            "owners": owners.iter().map(|a| party(&registry, &a.to_text())).map(|p| json!({
                "kind": p.kind, "id": p.id, "name": p.name, "contact": p.contact,
            })).collect::<Vec<_>>(),
            "owning_authorities": explanation.owners,
            "evidence": explanation.rules.iter().flat_map(|r| r.evidence.clone()).collect::<Vec<_>>(),
            "tickets": tickets,
        }))
    }

    /// Opens tickets for the caller holding a live consent.
    pub async fn hotline_open_appeal(
        &self,
        principal: &Principal,
        consent: &str,
        request: AppealRequest,
        lang: Lang,
    ) -> AppResult<Vec<TicketJson>> {
        let person = self.consented_person(principal, consent).await?;
        let official = Self::official_of(principal)?;
        self.open_appeal(person, &format!("hotline:{official}"), request, lang)
            .await
    }
}

/// A `hotline_consents` row as read.
struct RawConsent {
    person: Vec<u8>,
    salt: Vec<u8>,
    hash: Vec<u8>,
    expires: i64,
    attempts: i64,
    valid: Option<i64>,
}

/// A caller's consent request, checked.
struct ConsentRow {
    person: PersonKey,
    salt: [u8; 32],
    hash: Vec<u8>,
    expires: Timestamp,
    attempts: u32,
    valid: Option<Timestamp>,
}

/// The colour a ticket's answer left (`green`, ...), in the page's language.
pub fn colour_label(colour: &str, lang: Lang) -> String {
    let found = [Colour::Green, Colour::Yellow, Colour::Red]
        .into_iter()
        .find(|c| c.name() == colour);
    match found {
        Some(c) if lang == Lang::En => format!("{} code", c.name().to_uppercase()),
        Some(c) => c.zh().to_owned(),
        None => colour.to_owned(),
    }
}

fn unknown_consent() -> AppError {
    AppError::not_found(
        "unknown_consent",
        "no such consent request of yours is waiting (codes last 5 minutes); ask again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_entry_reads_back_and_refuses_leftovers() {
        let entry = StepEntry {
            kind: StepKind::Escalated,
            ticket: [7; 16],
            at: Timestamp::from_unix_seconds(1_655_000_000).unwrap(),
            addressee: "source:cgo-customs".into(),
            handler: "hn-wjw".into(),
            deadline: None,
            commitment: [9; 32],
            signer: None,
        };
        let bytes = entry.to_bytes();
        assert_eq!(StepEntry::from_bytes(&bytes), Some(entry));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(StepEntry::from_bytes(&longer), None);
        assert_eq!(StepEntry::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(StepEntry::from_bytes(&[]), None);
    }

    #[test]
    fn the_commitment_depends_on_every_input() {
        let person = PersonKey::from_bytes([1; 32]);
        let base = step_commitment(&[2; 32], &[3; 16], StepKind::Note, &person, "holder", b"x");
        assert_ne!(
            base,
            step_commitment(&[4; 32], &[3; 16], StepKind::Note, &person, "holder", b"x")
        );
        assert_ne!(
            base,
            step_commitment(
                &[2; 32],
                &[3; 16],
                StepKind::Closed,
                &person,
                "holder",
                b"x"
            )
        );
        assert_ne!(
            base,
            step_commitment(&[2; 32], &[3; 16], StepKind::Note, &person, "service", b"x")
        );
        assert_ne!(
            base,
            step_commitment(&[2; 32], &[3; 16], StepKind::Note, &person, "holder", b"y")
        );
    }

    #[test]
    fn documents_are_checked_for_type_size_and_encoding() {
        let doc = |ty: &str, data: String| DocumentIn {
            name: "certificate.pdf".into(),
            content_type: ty.into(),
            data,
        };
        let ok = check_document(&doc("application/pdf", "JVBERi0xLjQK".into())).unwrap();
        assert_eq!(ok.bytes, b"%PDF-1.4\n");
        assert_eq!(ok.sha256.len(), 64);
        let code = |r: AppResult<Document>| r.err().map(|e| e.code);
        assert_eq!(
            code(check_document(&doc("text/html", "AAAA".into()))),
            Some("malformed_document")
        );
        assert_eq!(
            code(check_document(&doc("image/png", "not base64!".into()))),
            Some("malformed_document")
        );
        // A PDF declared as a PNG.
        assert_eq!(
            code(check_document(&doc("image/png", "JVBERi0xLjQK".into()))),
            Some("malformed_document")
        );
        let big =
            base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_DOCUMENT_BYTES + 1]);
        assert_eq!(
            code(check_document(&doc("image/png", big))),
            Some("document_too_large")
        );
    }

    #[test]
    fn claims_parse_from_their_names() {
        for c in Claim::ALL {
            assert_eq!(Claim::parse(c.as_str()).ok(), Some(c));
        }
        assert!(Claim::parse("no_risk").is_err());
    }
}

// ---------------------------------------------------------------------------------
// Routes.

/// The JSON API of appeals and the hotline.
pub mod api {
    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::http::HeaderMap;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use mingma_explain::Lang;
    use mingma_store::Store;
    use serde::Deserialize;
    use serde_json::Value;

    use super::{AppealRequest, ConsentStarted, CorrectionDrafts, TicketJson};
    use crate::api::{holder, json_body, LangQuery};
    use crate::app::App;
    use crate::console_api::principal;
    use crate::error::{AppResult, ErrorBody};

    type St<S> = State<Arc<App<S>>>;

    /// The routes.
    pub fn router<S: Store>() -> Router<Arc<App<S>>> {
        Router::new()
            .route(
                "/api/v1/me/appeals",
                get(my_appeals::<S>).post(open_appeal::<S>),
            )
            .route("/api/v1/official/appeals", get(list::<S>))
            .route("/api/v1/official/appeals/{id}", get(show::<S>))
            .route("/api/v1/official/appeals/{id}/notes", post(note::<S>))
            .route("/api/v1/official/appeals/{id}/document", get(document::<S>))
            .route("/api/v1/official/appeals/{id}/reject", post(reject::<S>))
            .route(
                "/api/v1/official/appeals/{id}/reject/draft",
                post(draft_rejection::<S>),
            )
            .route(
                "/api/v1/official/appeals/{id}/correction/draft",
                post(draft_correction::<S>),
            )
            .route(
                "/api/v1/official/appeals/{id}/retraction/draft",
                post(draft_retraction::<S>),
            )
            .route("/api/v1/official/appeals/{id}/accept", post(accept::<S>))
            .route("/api/v1/official/appeals/{id}/close", post(close::<S>))
            .route("/api/v1/official/hotline/consents", post(consent::<S>))
            .route(
                "/api/v1/official/hotline/consents/{id}/confirm",
                post(confirm::<S>),
            )
            .route(
                "/api/v1/official/hotline/consents/{id}/provenance",
                get(provenance::<S>),
            )
            .route(
                "/api/v1/official/hotline/consents/{id}/appeals",
                post(hotline_appeal::<S>),
            )
    }

    fn lang(q: &LangQuery) -> Lang {
        match q.lang.as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The holder's appeal tickets.
    #[utoipa::path(get, path = "/api/v1/me/appeals", tag = "appeals",
        description = "The holder's appeal tickets, newest first: status, deadline, who handles it, the answer, every step with its ledger leaf.",
        responses((status = 200, body = Object), (status = 401, body = ErrorBody, description = "not_signed_in")))]
    pub async fn my_appeals<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Query(q): Query<LangQuery>,
    ) -> AppResult<Json<Vec<TicketJson>>> {
        let person = holder(&app, &headers).await?;
        Ok(Json(app.my_appeals(person, lang(&q)).await?))
    }

    /// The holder appeals their current code (or, when green, a named record).
    #[utoipa::path(post, path = "/api/v1/me/appeals", tag = "appeals",
        description = "Appeal: which part is wrong (claim), text, optionally one record and a document (PDF/PNG/JPEG, 512 KiB). One ticket per owner of the disputed evidence (a data source that signed it, else its authority), each a ledger step.",
        request_body = AppealRequest,
        responses((status = 201, body = Object), (status = 400, body = ErrorBody, description = "unknown_claim, missing_text, malformed_document, ..."),
            (status = 409, body = ErrorBody, description = "appeal_open"), (status = 413, body = ErrorBody, description = "document_too_large"),
            (status = 422, body = ErrorBody, description = "record_required (a green code: name the record)")))]
    pub async fn open_appeal<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Query(q): Query<LangQuery>,
        body: Bytes,
    ) -> AppResult<(axum::http::StatusCode, Json<Vec<TicketJson>>)> {
        let person = holder(&app, &headers).await?;
        let request: AppealRequest = json_body(&body)?;
        let tickets = app.open_appeal(person, "holder", request, lang(&q)).await?;
        Ok((axum::http::StatusCode::CREATED, Json(tickets)))
    }

    /// The tickets an official has to see.
    #[utoipa::path(get, path = "/api/v1/official/appeals", tag = "appeals",
        description = "Tickets the official may decide (open first); for an auditor, those overdue, escalated or unanswered at the top; for a hotline operator, those of callers whose consent they hold.",
        responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
    pub async fn list<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Query(q): Query<LangQuery>,
    ) -> AppResult<Json<Vec<TicketJson>>> {
        let p = principal(&app, &headers).await?;
        Ok(Json(app.official_appeals(&p, lang(&q)).await?))
    }

    /// One ticket with its evidence and checks.
    #[utoipa::path(get, path = "/api/v1/official/appeals/{id}", tag = "appeals",
        description = "A ticket with the disputed evidence and the checks its claim allows: border entries (name, document) next to the holder's; scans with their presence assurance.",
        params(("id" = String, Path, description = "ticket id")),
        responses((status = 200, body = Object), (status = 403, body = ErrorBody, description = "not_the_handler, no_consent"), (status = 404, body = ErrorBody, description = "unknown_ticket")))]
    pub async fn show<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
    ) -> AppResult<Json<Value>> {
        let p = principal(&app, &headers).await?;
        Ok(Json(app.official_appeal(&p, &id, lang(&q)).await?))
    }

    /// The attached document.
    #[utoipa::path(get, path = "/api/v1/official/appeals/{id}/document", tag = "appeals",
        description = "The document attached to a ticket, as uploaded (a download; its SHA-256 is on the ticket), for whoever may see the ticket.",
        params(("id" = String, Path, description = "ticket id")),
        responses((status = 200, description = "the document"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "unknown_ticket, no_document")))]
    pub async fn document<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
    ) -> AppResult<axum::response::Response> {
        use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
        use axum::http::HeaderValue;
        use axum::response::IntoResponse as _;
        let p = principal(&app, &headers).await?;
        let (ty, _name, bytes) = app.appeal_document(&p, &id).await?;
        let mut r = bytes.into_response();
        let h = r.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&ty)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        // Always a download, never rendered in the console's origin.
        h.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"appeal-document\""),
        );
        h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        Ok(r)
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        text: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Reason {
        reason: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Retraction {
        target: String,
        reason: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Correction {
        target: String,
        reason: String,
        record: Value,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SealedDraft {
        draft: String,
        seal: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Accept {
        draft: String,
        seal: String,
        #[serde(default)]
        correction: Option<SealedDraft>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct IdNumber {
        id_number: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Code {
        code: String,
    }

    /// A note on a ticket.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/notes", tag = "appeals",
        description = "A note by a reviewer of the ticket or a hotline operator holding the caller's consent: {text}.",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
    pub async fn note<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
        body: Bytes,
    ) -> AppResult<Json<TicketJson>> {
        let p = principal(&app, &headers).await?;
        let Text { text } = json_body(&body)?;
        Ok(Json(app.note_appeal(&p, &id, &text, lang(&q)).await?))
    }

    /// Drafts a rejection for the reviewer to sign.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/reject/draft", tag = "appeals",
        description = "Draft the rejection, {reason}: the step as its ledger leaf will read; the reviewer's key signs `message` and the seal goes to /reject. Only a health official of the handling authority (or one it escalated to).",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object, description = "a draft: {draft, message, key, ...}"), (status = 403, body = ErrorBody, description = "not_the_handler, not_permitted"), (status = 409, body = ErrorBody, description = "ticket_answered")))]
    pub async fn draft_rejection<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        body: Bytes,
    ) -> AppResult<Json<crate::officials::Draft>> {
        let p = principal(&app, &headers).await?;
        let Reason { reason } = json_body(&body)?;
        Ok(Json(app.draft_rejection(&p, &id, &reason).await?))
    }

    /// Rejects a ticket with the reviewer's signed reason.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/reject", tag = "appeals",
        description = "Reject with a reason the holder sees: {draft, seal} of the drafted rejection, the seal checked against the reviewer's registered key before the step is appended.",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object), (status = 400, body = ErrorBody, description = "malformed_seal, bad_seal"), (status = 403, body = ErrorBody, description = "not_the_handler, not_permitted"), (status = 404, body = ErrorBody, description = "unknown_draft"), (status = 409, body = ErrorBody, description = "ticket_answered")))]
    pub async fn reject<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
        body: Bytes,
    ) -> AppResult<Json<TicketJson>> {
        let p = principal(&app, &headers).await?;
        let SealedDraft { draft, seal } = json_body(&body)?;
        Ok(Json(
            app.reject_appeal(&p, &id, &draft, &seal, lang(&q)).await?,
        ))
    }

    /// Drafts the correction accepting a ticket.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/correction/draft", tag = "appeals",
        description = "Draft a correction, {target, reason, record}: the corrected record (evidence-file object of the disputed record's type; the subject is the ticket's holder) and the retraction of `target` naming it; both sealed by the reviewer and given to /accept together ({draft, seal, correction: {draft, seal}}). A corrected record that can turn a code red or yellow waits for a second official's approval.",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object, description = "{retraction: draft, correction: draft}"), (status = 400, body = ErrorBody, description = "not_disputed, malformed_record"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "correction_of_another_type, not_correctable")))]
    pub async fn draft_correction<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        body: Bytes,
    ) -> AppResult<Json<CorrectionDrafts>> {
        let p = principal(&app, &headers).await?;
        let Correction {
            target,
            reason,
            record,
        } = json_body(&body)?;
        Ok(Json(
            app.draft_appeal_correction(&p, &id, &target, &reason, record)
                .await?,
        ))
    }

    /// Drafts the retraction accepting a ticket means.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/retraction/draft", tag = "appeals",
        description = "Draft the retraction of a disputed record, {target, reason}, to be sealed by the reviewer's key and given to /accept.",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object, description = "a draft: {draft, message, key, ...}"), (status = 403, body = ErrorBody)))]
    pub async fn draft_retraction<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        body: Bytes,
    ) -> AppResult<Json<crate::officials::Draft>> {
        let p = principal(&app, &headers).await?;
        let Retraction { target, reason } = json_body(&body)?;
        Ok(Json(
            app.draft_appeal_retraction(&p, &id, &target, &reason)
                .await?,
        ))
    }

    /// Accepts a ticket with its sealed retraction.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/accept", tag = "appeals",
        description = "Accept: {draft, seal} of the drafted retraction, and for a correction {correction: {draft, seal}} of the corrected record (both appended in one transaction); the record is retracted through intake, the holder's code re-derived at once, and the answer recorded with the code that followed.",
        params(("id" = String, Path, description = "ticket id")), request_body = Object,
        responses((status = 200, body = Object), (status = 400, body = ErrorBody, description = "bad_seal, not_a_retraction_of_the_ticket"), (status = 403, body = ErrorBody)))]
    pub async fn accept<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
        body: Bytes,
    ) -> AppResult<Json<TicketJson>> {
        let p = principal(&app, &headers).await?;
        let Accept {
            draft,
            seal,
            correction,
        } = json_body(&body)?;
        let correction = correction
            .as_ref()
            .map(|c| (c.draft.as_str(), c.seal.as_str()));
        Ok(Json(
            app.accept_appeal(&p, &id, &draft, &seal, correction, lang(&q))
                .await?,
        ))
    }

    /// Closes an answered ticket.
    #[utoipa::path(post, path = "/api/v1/official/appeals/{id}/close", tag = "appeals",
        description = "Close a ticket; refused (409 unanswered) until it has an answer to the holder.",
        params(("id" = String, Path, description = "ticket id")),
        responses((status = 200, body = Object), (status = 409, body = ErrorBody, description = "unanswered")))]
    pub async fn close<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
    ) -> AppResult<Json<TicketJson>> {
        let p = principal(&app, &headers).await?;
        Ok(Json(app.close_appeal(&p, &id, lang(&q)).await?))
    }

    /// A hotline operator asks for a caller's consent.
    #[utoipa::path(post, path = "/api/v1/official/hotline/consents", tag = "hotline",
        description = "{id_number}: a one-time code is sent to the phone on the caller's account; the caller reads it out.",
        request_body = Object,
        responses((status = 200, body = Object), (status = 403, body = ErrorBody, description = "not_permitted"), (status = 404, body = ErrorBody, description = "no_account")))]
    pub async fn consent<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        body: Bytes,
    ) -> AppResult<Json<ConsentStarted>> {
        let p = principal(&app, &headers).await?;
        let IdNumber { id_number } = json_body(&body)?;
        Ok(Json(app.start_hotline_consent(&p, &id_number).await?))
    }

    /// The operator types the code the caller read out.
    #[utoipa::path(post, path = "/api/v1/official/hotline/consents/{id}/confirm", tag = "hotline",
        description = "{code}: the consent is recorded as a ledger step and lasts an hour.",
        params(("id" = String, Path, description = "consent id")), request_body = Object,
        responses((status = 200, body = Object), (status = 401, body = ErrorBody, description = "otp_mismatch"), (status = 404, body = ErrorBody, description = "unknown_consent")))]
    pub async fn confirm<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        body: Bytes,
    ) -> AppResult<Json<Value>> {
        let p = principal(&app, &headers).await?;
        let Code { code } = json_body(&body)?;
        Ok(Json(app.confirm_hotline_consent(&p, &id, &code).await?))
    }

    /// The caller's provenance, with their consent.
    #[utoipa::path(get, path = "/api/v1/official/hotline/consents/{id}/provenance", tag = "hotline",
        description = "The caller's colour, reason, owning authorities and sources with their contact, and tickets; only with a recorded, live consent.",
        params(("id" = String, Path, description = "consent id")),
        responses((status = 200, body = Object), (status = 403, body = ErrorBody, description = "no_consent, consent_lapsed")))]
    pub async fn provenance<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
    ) -> AppResult<Json<Value>> {
        let p = principal(&app, &headers).await?;
        Ok(Json(app.hotline_provenance(&p, &id, lang(&q)).await?))
    }

    /// Opens tickets on the caller's behalf.
    #[utoipa::path(post, path = "/api/v1/official/hotline/consents/{id}/appeals", tag = "hotline",
        description = "Open the caller's appeal (same body as /api/v1/me/appeals), with their live consent.",
        params(("id" = String, Path, description = "consent id")), request_body = AppealRequest,
        responses((status = 201, body = Object), (status = 403, body = ErrorBody, description = "no_consent")))]
    pub async fn hotline_appeal<S: Store>(
        State(app): St<S>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(q): Query<LangQuery>,
        body: Bytes,
    ) -> AppResult<(axum::http::StatusCode, Json<Vec<TicketJson>>)> {
        let p = principal(&app, &headers).await?;
        let request: AppealRequest = json_body(&body)?;
        let tickets = app.hotline_open_appeal(&p, &id, request, lang(&q)).await?;
        Ok((axum::http::StatusCode::CREATED, Json(tickets)))
    }
}
