//! Authority acts: the ledger entries that say who may do what, and the sensitive
//! reads that must leave a trace.
//!
//! Registering an authority, an official, a key or a data source, granting or
//! revoking a role, publishing a rule set and running a contact-tracing query are
//! each one [`SignedAct`]: the act, who made it, when, and the Ed25519 seal of the
//! actor's registered key over [`act_message`]. The store appends it as a ledger leaf
//! of type `0x04` whose payload is [`SignedAct::to_bytes`] and never reads it; the
//! [`Registry`] is rebuilt by replaying those leaves in order, so the directory, the
//! grants and the key ring are a function of the ledger alone, and anyone holding the
//! log can rebuild and check them.
//!
//! Replaying checks every act against the registry as it stood before it: the act
//! may not be dated before the act applied before it (so a revoked key cannot be
//! used by backdating), the actor must hold the admin role (for a tracing query: a
//! role that may trace) in a jurisdiction covering what the act concerns (for a
//! role granted or revoked: both the place of the role and the official's own
//! authority), the seal must verify under the actor's key, and data-source
//! registration and rule-set publication take effect only when a *second* admin
//! confirms them. An act failing
//! any check changes nothing and is reported with its leaf index; that is how `ledger
//! verify` finds an act written straight into the database.
//!
//! The first act of a log is a [`Act::Bootstrap`]: the first admin, self-signed. It
//! is valid only while no act precedes it.
//!
//! An official's in-person check of a dependant's consent to a proxy is an act too
//! ([`Act::WitnessConsent`]), checked at the dependant's street. It names no person:
//! the proxy and the dependant appear only as a salted commitment
//! ([`consent_link`]), whose salt the service keeps with the link it creates.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use mingma_core::{
    Authority, AuthorityId, DataSource, DataSourceId, Directory, Jurisdiction, Level, Official,
    OfficialId, PersonKey, RecordId, Seal, SourceKind, Timestamp,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signature::{KeyHolder, KeyId, KeyRing, RegisteredKey};
use crate::{authorize, Action, Grant, Role};

/// Prefix of every signed act: what is signed is a Mingma authority act.
const DOMAIN: &[u8] = b"mingma/authority-act/v1\n";
/// Payload version of [`SignedAct::to_bytes`].
const VERSION: u8 = 0x01;

/// What an act does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "act", rename_all = "snake_case", deny_unknown_fields)]
pub enum Act {
    /// The first admin of a new log, who signs this act with the key it registers.
    Bootstrap {
        /// The authority the admin acts for.
        authority: AuthorityId,
        /// Its name.
        authority_name: String,
        /// Its jurisdiction, which becomes the admin's.
        jurisdiction: Jurisdiction,
        /// The admin.
        official: OfficialId,
        /// The admin's display name.
        name: String,
        /// The admin's public key, 64 hex digits.
        key: String,
    },
    /// A new authority.
    AddAuthority {
        /// Id.
        authority: AuthorityId,
        /// Chinese name.
        name: String,
        /// English name.
        name_en: Option<String>,
        /// Where it acts.
        jurisdiction: Jurisdiction,
        /// How the public reaches it.
        contact: Option<String>,
    },
    /// A new official of an authority.
    AddOfficial {
        /// Id.
        official: OfficialId,
        /// Display name.
        name: String,
        /// The authority they act for.
        authority: AuthorityId,
    },
    /// An official's personal public key (the private key stays with them).
    RegisterKey {
        /// Whose.
        official: OfficialId,
        /// The public key, 64 hex digits.
        key: String,
    },
    /// A key revoked: records and acts made from `at` on under it are refused.
    RevokeKey {
        /// The key's id, 16 hex digits.
        key: String,
        /// From when.
        at: Timestamp,
    },
    /// A role granted in a jurisdiction.
    GrantRole {
        /// To whom.
        official: OfficialId,
        /// The role and where.
        grant: Grant,
    },
    /// A role taken back.
    RevokeRole {
        /// From whom.
        official: OfficialId,
        /// The role and where.
        grant: Grant,
    },
    /// A data source and its signing key (takes effect on a second admin's
    /// confirmation).
    RegisterSource {
        /// Id.
        source: DataSourceId,
        /// Lab, customs post or case-reporting unit.
        kind: SourceKind,
        /// The authority owning its records.
        authority: AuthorityId,
        /// Display name.
        name: String,
        /// Its public key, 64 hex digits.
        key: String,
    },
    /// A rule set published (takes effect on a second admin's confirmation).
    PublishRuleSet {
        /// Rule set id.
        id: String,
        /// Version.
        version: String,
        /// SHA-256 of the rule-set file, 64 hex digits.
        sha256: String,
    },
    /// A second admin's confirmation of the act at leaf `proposal`.
    Confirm {
        /// The leaf index of the proposed act.
        proposal: u64,
    },
    /// A contact-tracing query, logged with its purpose before its results are shown.
    TracingQuery {
        /// The case report the query is for (its purpose).
        case: RecordId,
        /// The margin around the case's stays, in minutes.
        margin_minutes: u32,
    },
    /// An official's in-person check, with the person's ID card, that they consent
    /// to a proxy showing their code and checking in for them.
    WitnessConsent {
        /// The proxy's request (its reference in the service's database).
        request: String,
        /// The dependant's street (9-digit GB/T 2260 code), as the official states
        /// it: the place the official's grants must cover.
        street: Jurisdiction,
        /// [`consent_link`] of the proxy and the dependant, 64 hex digits: the act
        /// names neither.
        link: String,
    },
}

/// Domain of [`consent_link`].
const CONSENT_LINK_DOMAIN: &[u8] = b"mingma/consent-link/v1\0";

/// The salted commitment an [`Act::WitnessConsent`] carries instead of the persons:
/// SHA-256 over a domain, the 32-byte `salt`, the request's reference (its length
/// first), the proxy's and the dependant's person keys; 64 hex digits. Whoever
/// holds the salt (the service, with the link) can show which link the act is for.
pub fn consent_link(
    salt: &[u8; 32],
    request: &str,
    proxy: &PersonKey,
    dependant: &PersonKey,
) -> String {
    let mut hash = Sha256::new();
    hash.update(CONSENT_LINK_DOMAIN);
    hash.update(salt);
    hash.update((request.len() as u64).to_be_bytes());
    hash.update(request.as_bytes());
    hash.update(proxy.as_bytes());
    hash.update(dependant.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Act {
    /// Whether the act always takes effect only when a second admin confirms it
    /// (see also [`Registry::needs_second_admin`], which adds the acts that make or
    /// arm an admin once the log has two).
    pub fn needs_second_admin(&self) -> bool {
        matches!(
            self,
            Act::RegisterSource { .. } | Act::PublishRuleSet { .. }
        )
    }

    /// The action the actor's grants must permit (`None` for the bootstrap).
    fn action(&self) -> Option<Action> {
        match self {
            Act::Bootstrap { .. } => None,
            Act::RegisterSource { .. } => Some(Action::RegisterSource),
            Act::PublishRuleSet { .. } => Some(Action::PublishRuleSet),
            Act::TracingQuery { .. } => Some(Action::Trace),
            Act::WitnessConsent { .. } => Some(Action::WitnessConsent),
            Act::Confirm { .. }
            | Act::AddAuthority { .. }
            | Act::AddOfficial { .. }
            | Act::RegisterKey { .. }
            | Act::RevokeKey { .. }
            | Act::GrantRole { .. }
            | Act::RevokeRole { .. } => Some(Action::ManageAccounts),
        }
    }

    /// A short English description, for listings and reports.
    pub fn describe(&self) -> String {
        match self {
            Act::Bootstrap { official, .. } => format!("bootstrap admin {official}"),
            Act::AddAuthority { authority, .. } => format!("add authority {authority}"),
            Act::AddOfficial { official, .. } => format!("add official {official}"),
            Act::RegisterKey { official, .. } => format!("register a key of {official}"),
            Act::RevokeKey { key, .. } => format!("revoke key {key}"),
            Act::GrantRole { official, grant } => format!(
                "grant {} in {} to {official}",
                grant.role.as_str(),
                grant.jurisdiction
            ),
            Act::RevokeRole { official, grant } => format!(
                "revoke {} in {} from {official}",
                grant.role.as_str(),
                grant.jurisdiction
            ),
            Act::RegisterSource { source, .. } => format!("register data source {source}"),
            Act::PublishRuleSet { id, version, .. } => format!("publish rule set {id} {version}"),
            Act::Confirm { proposal } => format!("confirm the act at leaf {proposal}"),
            Act::TracingQuery { case, .. } => format!("tracing query for case {case}"),
            Act::WitnessConsent {
                request, street, ..
            } => format!("witness in person the consent of request {request} at {street}"),
        }
    }
}

/// The signed part of an act: what, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    /// Who acts.
    pub by: OfficialId,
    /// When.
    pub at: Timestamp,
    /// What.
    pub act: Act,
}

/// An act with its seal, as a ledger leaf carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAct {
    /// The act.
    pub body: ActBody,
    /// The exact JSON bytes that were signed (kept, never re-encoded).
    pub json: Vec<u8>,
    /// The actor's seal over [`act_message`] of `json`.
    pub seal: Seal,
}

/// The message an act's seal covers.
pub fn act_message(json: &[u8]) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(json);
    message
}

/// Why act bytes are not a signed act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed authority act: {0}")]
pub struct MalformedAct(pub String);

impl SignedAct {
    /// Signs `body` with `key` (the actor's key file or browser does this).
    pub fn sign(body: ActBody, key: &SigningKey) -> SignedAct {
        // Serialising a derived struct of checked values cannot fail.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let seal = Seal {
            key: *KeyId::of(&key.verifying_key()).as_bytes(),
            signature: key.sign(&act_message(&json)).to_bytes(),
        };
        SignedAct { body, json, seal }
    }

    /// Joins an act's JSON and a seal made elsewhere (the official's browser).
    pub fn from_parts(json: Vec<u8>, seal: Seal) -> Result<SignedAct, MalformedAct> {
        let body = serde_json::from_slice(&json).map_err(|e| MalformedAct(e.to_string()))?;
        Ok(SignedAct { body, json, seal })
    }

    /// The leaf payload: version, the 72 seal bytes, the JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(73 + self.json.len());
        out.push(VERSION);
        out.extend_from_slice(&self.seal.to_bytes());
        out.extend_from_slice(&self.json);
        out
    }

    /// Reads [`SignedAct::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedAct, MalformedAct> {
        match bytes.split_first() {
            Some((&VERSION, rest)) if rest.len() > 72 => {
                let seal = rest
                    .get(..72)
                    .and_then(Seal::from_bytes)
                    .ok_or_else(|| MalformedAct("cut short".into()))?;
                SignedAct::from_parts(rest.get(72..).unwrap_or_default().to_vec(), seal)
            }
            Some((&VERSION, _)) => Err(MalformedAct("cut short".into())),
            Some((v, _)) => Err(MalformedAct(format!("unknown version {v}"))),
            None => Err(MalformedAct("empty".into())),
        }
    }
}

/// Why an act is refused (at intake) or ignored (on replay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActProblem {
    /// The bytes do not decode.
    #[error("{0}")]
    Malformed(#[from] MalformedAct),
    /// A bootstrap after the log already has acts.
    #[error("a bootstrap is valid only as the first act of a log")]
    LateBootstrap,
    /// No act may precede the bootstrap.
    #[error("the first act of a log must be a bootstrap")]
    NoBootstrap,
    /// The actor is not registered.
    #[error("official {0} is not registered")]
    UnknownActor(OfficialId),
    /// The seal does not verify under a valid key of the actor.
    #[error("the seal is not a valid signature by a key of {actor}: {why}")]
    BadSeal {
        /// Who the act says made it.
        actor: OfficialId,
        /// Why.
        why: String,
    },
    /// The actor's grants do not permit it.
    #[error("{0}")]
    Refused(#[from] crate::Refusal),
    /// What the act names is unknown, taken or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// A confirmation by the proposer, of nothing pending, or of a settled act.
    #[error("{0}")]
    Confirmation(String),
}

/// A rule set that two admins published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedRuleSet {
    /// Id.
    pub id: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Leaf of the proposal.
    pub leaf: u64,
}

/// A dependant's consent an official witnessed in person ([`Act::WitnessConsent`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessedConsent {
    /// The act's leaf.
    pub leaf: u64,
    /// The official.
    pub by: OfficialId,
    /// The request's reference.
    pub request: String,
    /// The dependant's street.
    pub street: Jurisdiction,
    /// The commitment to the proxy and the dependant ([`consent_link`]).
    pub link: String,
}

/// An act waiting for a second admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Who proposed it.
    pub by: OfficialId,
    /// When.
    pub at: Timestamp,
    /// What.
    pub act: Act,
}

/// Who may do what, as the ledger's acts made it.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Authorities, officials and data sources (venues are not kept here).
    pub directory: Directory,
    /// Each official's roles.
    pub grants: BTreeMap<OfficialId, Vec<Grant>>,
    /// The registered keys of officials and data sources.
    pub keys: KeyRing,
    /// Acts waiting for a second admin, by leaf.
    pub pending: BTreeMap<u64, Proposal>,
    /// Published rule sets, oldest first.
    pub rule_sets: Vec<PublishedRuleSet>,
    /// Tracing queries: leaf, official, case.
    pub tracing_queries: Vec<(u64, OfficialId, RecordId)>,
    /// Consents witnessed in person, oldest first.
    pub witnessed_consents: Vec<WitnessedConsent>,
    /// Acts that were ignored, with their leaf and why.
    pub problems: Vec<(u64, ActProblem)>,
    /// Acts applied so far (bootstrap included).
    pub applied: u64,
    /// The time of the last act applied: a later act may not be dated before it.
    pub last_at: Option<Timestamp>,
    /// Leaf of the last act seen.
    pub last_leaf: Option<u64>,
}

/// Reads an Ed25519 public key written as 64 hex digits, as acts carry it.
pub fn public_key(hex: &str) -> Result<VerifyingKey, ActProblem> {
    let bad = || ActProblem::Invalid(format!("{hex:?} is not an Ed25519 public key in hex"));
    let mut bytes = [0u8; 32];
    // `from_str_radix` alone would also take a sign (`+f`): only hex digits are a key.
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = hex
            .get(2 * i..2 * i + 2)
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .ok_or_else(bad)?;
    }
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// The hex text of a public key, as acts carry it.
pub fn key_hex(key: &VerifyingKey) -> String {
    key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

impl Registry {
    /// Replays `acts` (leaf index, leaf payload) in order.
    pub fn replay<I: IntoIterator<Item = (u64, Vec<u8>)>>(acts: I) -> Registry {
        let mut registry = Registry::default();
        for (leaf, bytes) in acts {
            registry.apply_bytes(leaf, &bytes);
        }
        registry
    }

    /// Applies one leaf payload; a problem is kept in [`Registry::problems`].
    pub fn apply_bytes(&mut self, leaf: u64, bytes: &[u8]) {
        self.last_leaf = Some(leaf);
        let outcome = SignedAct::from_bytes(bytes)
            .map_err(ActProblem::from)
            .and_then(|act| self.apply(leaf, &act));
        if let Err(problem) = outcome {
            self.problems.push((leaf, problem));
        }
    }

    /// Whether `act` takes effect only when a second admin confirms it: data sources
    /// and rule sets always; and, once the log has two admins, granting the admin
    /// role and registering a key for an admin — otherwise one admin could make a
    /// second admin, or a new key for one, and confirm their own proposals with it.
    /// (While there is one admin, that admin makes the second.)
    pub fn needs_second_admin(&self, act: &Act) -> bool {
        let is_admin = |o: &OfficialId| self.grants_of(o).iter().any(|g| g.role == Role::Admin);
        let admins = self.grants.keys().filter(|o| is_admin(o)).count();
        act.needs_second_admin()
            || (admins >= 2
                && match act {
                    Act::GrantRole { grant, .. } => grant.role == Role::Admin,
                    Act::RegisterKey { official, .. } => is_admin(official),
                    _ => false,
                })
    }

    /// The authority `official` acts for, if they are registered.
    pub fn authority_of(&self, official: &OfficialId) -> Option<&AuthorityId> {
        self.directory.officials.get(official).map(|o| &o.authority)
    }

    /// The grants of `official` (empty if none).
    pub fn grants_of(&self, official: &OfficialId) -> &[Grant] {
        self.grants.get(official).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Checks `act` against the registry as it stands, without applying it: what
    /// intake asks before appending.
    pub fn check(&self, act: &SignedAct) -> Result<(), ActProblem> {
        self.clone().apply(u64::MAX, act)
    }

    /// Checks an act that is not sealed yet against the registry as it stands:
    /// every check but the seal's (the actor is registered, their grants permit it,
    /// what it names exists and is consistent). What the service asks before it
    /// drafts an act for its maker to seal; [`Registry::check`] runs again on the
    /// sealed act before it is appended.
    pub fn check_unsealed(&self, body: &ActBody) -> Result<(), ActProblem> {
        self.clone().apply_body(u64::MAX, body, None)
    }

    /// Checks and applies `act`, made at `leaf`.
    pub fn apply(&mut self, leaf: u64, act: &SignedAct) -> Result<(), ActProblem> {
        self.apply_body(leaf, &act.body, Some(act))
    }

    /// Checks and applies `body`; its seal is checked when `sealed` is given.
    fn apply_body(
        &mut self,
        leaf: u64,
        body: &ActBody,
        sealed: Option<&SignedAct>,
    ) -> Result<(), ActProblem> {
        if let Act::Bootstrap {
            authority,
            authority_name,
            jurisdiction,
            official,
            name,
            key,
        } = &body.act
        {
            if self.applied > 0 {
                return Err(ActProblem::LateBootstrap);
            }
            if official != &body.by {
                return Err(ActProblem::Invalid(
                    "a bootstrap is made by the admin it registers".into(),
                ));
            }
            let key = public_key(key)?;
            if let Some(act) = sealed {
                verify_seal(&key, act).map_err(|why| ActProblem::BadSeal {
                    actor: body.by.clone(),
                    why,
                })?;
            }
            self.add_authority(Authority {
                id: authority.clone(),
                name: authority_name.clone(),
                name_en: None,
                jurisdiction: *jurisdiction,
                contact: None,
            })?;
            self.add_official(official, name, authority)?;
            self.register_key(KeyHolder::Official(official.clone()), key, body.at)?;
            self.grants
                .entry(official.clone())
                .or_default()
                .push(Grant {
                    role: Role::Admin,
                    jurisdiction: *jurisdiction,
                });
            self.applied += 1;
            self.last_at = Some(body.at);
            return Ok(());
        }
        if self.applied == 0 {
            return Err(ActProblem::NoBootstrap);
        }
        if let Some(last) = self.last_at.filter(|last| body.at < *last) {
            // Otherwise the holder of a revoked key could backdate an act to before
            // the revocation and have it accepted.
            return Err(ActProblem::Invalid(format!(
                "the act is dated {}, before the act applied before it ({last})",
                body.at
            )));
        }
        match sealed {
            Some(act) => self.check_seal(act)?,
            None if !self.directory.officials.contains_key(&body.by) => {
                return Err(ActProblem::UnknownActor(body.by.clone()))
            }
            None => {}
        }
        let place = self.place_of(&body.by, &body.act)?;
        // A confirmation needs what the confirmed act needs.
        let action = match &body.act {
            Act::Confirm { proposal } => match self.pending.get(proposal) {
                Some(pending) => pending.act.action(),
                None => body.act.action(),
            },
            other => other.action(),
        };
        if let Some(action) = action {
            authorize(self.grants_of(&body.by), action, place)?;
        }
        if let Act::GrantRole { official, .. } | Act::RevokeRole { official, .. } = &body.act {
            // The official's own authority must lie inside the admin's jurisdiction
            // too, not only the place of the role.
            let home = self.home_of(official)?;
            authorize(self.grants_of(&body.by), Action::ManageAccounts, home)?;
        }
        self.check_rule_set_version(&body.act)?;
        if self.needs_second_admin(&body.act) {
            self.pending.insert(
                leaf,
                Proposal {
                    by: body.by.clone(),
                    at: body.at,
                    act: body.act.clone(),
                },
            );
            self.applied += 1;
            self.last_at = Some(body.at);
            return Ok(());
        }
        if let Act::Confirm { proposal } = &body.act {
            let pending = self.pending.get(proposal).ok_or_else(|| {
                ActProblem::Confirmation(format!(
                    "nothing at leaf {proposal} is waiting for a second admin"
                ))
            })?;
            if pending.by == body.by {
                return Err(ActProblem::Confirmation(format!(
                    "{} proposed the act at leaf {proposal}; a second admin must confirm it",
                    body.by
                )));
            }
            let (proposer, proposed) = (pending.by.clone(), pending.act.clone());
            self.take_effect(*proposal, &proposer, &proposed, body.at)?;
            self.pending.remove(proposal);
        } else {
            self.take_effect(leaf, &body.by, &body.act, body.at)?;
        }
        self.applied += 1;
        self.last_at = Some(body.at);
        Ok(())
    }

    /// The jurisdiction of the authority `official` acts for.
    fn home_of(&self, official: &OfficialId) -> Result<Jurisdiction, ActProblem> {
        let authority = &self
            .directory
            .officials
            .get(official)
            .ok_or_else(|| ActProblem::Invalid(format!("official {official} is not registered")))?
            .authority;
        self.jurisdiction_of(authority)
    }

    /// Where a registered authority acts; an error naming it if it is not registered.
    fn jurisdiction_of(&self, authority: &AuthorityId) -> Result<Jurisdiction, ActProblem> {
        self.directory
            .authorities
            .get(authority)
            .map(|a| a.jurisdiction)
            .ok_or_else(|| ActProblem::Invalid(format!("authority {authority} is not registered")))
    }

    /// The division an act concerns, for the jurisdiction check.
    fn place_of(&self, by: &OfficialId, act: &Act) -> Result<Jurisdiction, ActProblem> {
        let of_authority = |id: &AuthorityId| self.jurisdiction_of(id);
        let of_official = |id: &OfficialId| {
            self.directory
                .officials
                .get(id)
                .ok_or_else(|| ActProblem::Invalid(format!("official {id} is not registered")))
                .and_then(|o| of_authority(&o.authority))
        };
        match act {
            Act::Bootstrap { jurisdiction, .. } => Ok(*jurisdiction),
            Act::AddAuthority { jurisdiction, .. } => Ok(*jurisdiction),
            Act::AddOfficial { authority, .. } | Act::RegisterSource { authority, .. } => {
                of_authority(authority)
            }
            Act::RegisterKey { official, .. } => of_official(official),
            Act::GrantRole { official, grant } | Act::RevokeRole { official, grant } => {
                // Both the official's authority and the granted place must be inside
                // the admin's jurisdiction: this is the place; `apply` checks the
                // official's authority as well.
                of_official(official)?;
                Ok(grant.jurisdiction)
            }
            Act::RevokeKey { key, .. } => {
                let id = KeyId::parse(key).map_err(|e| ActProblem::Invalid(e.to_string()))?;
                match self.keys.get(id).map(|k| &k.holder) {
                    Some(KeyHolder::Official(o)) => of_official(o),
                    Some(KeyHolder::Source(s)) => self
                        .directory
                        .sources
                        .get(s)
                        .ok_or_else(|| ActProblem::Invalid(format!("source {s} is unknown")))
                        .and_then(|s| of_authority(&s.authority)),
                    None => Err(ActProblem::Invalid(format!("key {key} is not registered"))),
                }
            }
            // A rule set applies province-wide: the admin needs a grant covering the
            // province of their own authority.
            Act::PublishRuleSet { .. } => of_official(by).map(province_of),
            Act::Confirm { proposal } => match self.pending.get(proposal) {
                Some(p) => self.place_of(by, &p.act.clone()),
                None => of_official(by),
            },
            // The case's place is checked by the service before the query runs; the
            // ledger checks that the actor may trace in their own authority's area.
            Act::TracingQuery { .. } => of_official(by),
            // Where the dependant lives: a street, which the official's grants cover.
            Act::WitnessConsent { street, .. } => {
                if street.level() != Level::Street {
                    return Err(ActProblem::Invalid(format!(
                        "{street} ({}) is not a street (9 digits)",
                        street.full_name()
                    )));
                }
                Ok(*street)
            }
        }
    }

    fn check_seal(&self, act: &SignedAct) -> Result<(), ActProblem> {
        let actor = &act.body.by;
        if !self.directory.officials.contains_key(actor) {
            return Err(ActProblem::UnknownActor(actor.clone()));
        }
        let bad = |why: String| ActProblem::BadSeal {
            actor: actor.clone(),
            why,
        };
        let key = self
            .keys
            .get(KeyId::from_bytes(act.seal.key))
            .ok_or_else(|| {
                bad(format!(
                    "key {} is not registered",
                    KeyId::from_bytes(act.seal.key)
                ))
            })?;
        if key.holder != KeyHolder::Official(actor.clone()) {
            return Err(bad(format!("the key belongs to {}", key.holder)));
        }
        if act.body.at < key.valid_from || key.revoked_at.is_some_and(|r| act.body.at >= r) {
            return Err(bad("the key was not valid at the time of the act".into()));
        }
        verify_seal(&key.key, act).map_err(bad)
    }

    /// A rule set's content never changes under a published version: publishing
    /// `id` `version` again with another file (another SHA-256) is refused, and so
    /// is confirming such a proposal. The same file again is harmless.
    fn check_rule_set_version(&self, act: &Act) -> Result<(), ActProblem> {
        let Act::PublishRuleSet {
            id,
            version,
            sha256,
        } = act
        else {
            return Ok(());
        };
        match self
            .rule_sets
            .iter()
            .find(|r| &r.id == id && &r.version == version && &r.sha256 != sha256)
        {
            Some(published) => Err(ActProblem::Invalid(format!(
                "rule set {id} {version} was published at leaf {} with another content \
                 (SHA-256 {}): a changed rule set needs a new version",
                published.leaf, published.sha256
            ))),
            None => Ok(()),
        }
    }

    fn take_effect(
        &mut self,
        leaf: u64,
        by: &OfficialId,
        act: &Act,
        at: Timestamp,
    ) -> Result<(), ActProblem> {
        match act {
            Act::Bootstrap { .. } | Act::Confirm { .. } => Ok(()),
            Act::AddAuthority {
                authority,
                name,
                name_en,
                jurisdiction,
                contact,
            } => self.add_authority(Authority {
                id: authority.clone(),
                name: name.clone(),
                name_en: name_en.clone(),
                jurisdiction: *jurisdiction,
                contact: contact.clone(),
            }),
            Act::AddOfficial {
                official,
                name,
                authority,
            } => self.add_official(official, name, authority),
            Act::RegisterKey { official, key } => {
                if !self.directory.officials.contains_key(official) {
                    return Err(ActProblem::Invalid(format!(
                        "official {official} is not registered"
                    )));
                }
                let key = public_key(key)?;
                self.register_key(KeyHolder::Official(official.clone()), key, at)
            }
            Act::RevokeKey { key, at } => {
                let id = KeyId::parse(key).map_err(|e| ActProblem::Invalid(e.to_string()))?;
                self.keys
                    .revoke(id, *at)
                    .ok_or_else(|| ActProblem::Invalid(format!("key {key} is not registered")))
            }
            Act::GrantRole { official, grant } => {
                let grants = self.grants.entry(official.clone()).or_default();
                if !grants.contains(grant) {
                    grants.push(*grant);
                }
                Ok(())
            }
            Act::RevokeRole { official, grant } => {
                let grants = self.grants.entry(official.clone()).or_default();
                let before = grants.len();
                grants.retain(|g| g != grant);
                if grants.len() == before {
                    return Err(ActProblem::Invalid(format!(
                        "{official} does not hold {} in {}",
                        grant.role.as_str(),
                        grant.jurisdiction
                    )));
                }
                Ok(())
            }
            Act::RegisterSource {
                source,
                kind,
                authority,
                name,
                key,
            } => {
                if self.directory.sources.contains_key(source) {
                    return Err(ActProblem::Invalid(format!(
                        "data source {source} is already registered"
                    )));
                }
                self.jurisdiction_of(authority)?;
                let key = public_key(key)?;
                self.register_key(KeyHolder::Source(source.clone()), key, at)?;
                self.directory.sources.insert(
                    source.clone(),
                    DataSource {
                        id: source.clone(),
                        kind: *kind,
                        authority: authority.clone(),
                        name: name.clone(),
                    },
                );
                Ok(())
            }
            Act::PublishRuleSet {
                id,
                version,
                sha256,
            } => {
                self.check_rule_set_version(act)?;
                self.rule_sets.push(PublishedRuleSet {
                    id: id.clone(),
                    version: version.clone(),
                    sha256: sha256.clone(),
                    leaf,
                });
                Ok(())
            }
            Act::TracingQuery { case, .. } => {
                self.tracing_queries.push((leaf, by.clone(), case.clone()));
                Ok(())
            }
            Act::WitnessConsent {
                request,
                street,
                link,
            } => {
                if request.is_empty()
                    || request.len() > 64
                    || !request.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(ActProblem::Invalid(format!(
                        "{request:?} is not a consent request's reference"
                    )));
                }
                if link.len() != 64 || !link.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                {
                    return Err(ActProblem::Invalid(format!(
                        "{link:?} is not a consent link (64 lowercase hex digits)"
                    )));
                }
                if self
                    .witnessed_consents
                    .iter()
                    .any(|w| &w.request == request)
                {
                    return Err(ActProblem::Invalid(format!(
                        "consent request {request} was witnessed already"
                    )));
                }
                self.witnessed_consents.push(WitnessedConsent {
                    leaf,
                    by: by.clone(),
                    request: request.clone(),
                    street: *street,
                    link: link.clone(),
                });
                Ok(())
            }
        }
    }

    fn add_authority(&mut self, authority: Authority) -> Result<(), ActProblem> {
        if self.directory.authorities.contains_key(&authority.id) {
            return Err(ActProblem::Invalid(format!(
                "authority {} is already registered",
                authority.id
            )));
        }
        self.directory
            .authorities
            .insert(authority.id.clone(), authority);
        Ok(())
    }

    fn add_official(
        &mut self,
        official: &OfficialId,
        _name: &str,
        authority: &AuthorityId,
    ) -> Result<(), ActProblem> {
        if self.directory.officials.contains_key(official) {
            return Err(ActProblem::Invalid(format!(
                "official {official} is already registered"
            )));
        }
        self.jurisdiction_of(authority)?;
        self.directory.officials.insert(
            official.clone(),
            Official {
                id: official.clone(),
                authority: authority.clone(),
            },
        );
        Ok(())
    }

    fn register_key(
        &mut self,
        holder: KeyHolder,
        key: VerifyingKey,
        at: Timestamp,
    ) -> Result<(), ActProblem> {
        if self.keys.get(KeyId::of(&key)).is_some() {
            return Err(ActProblem::Invalid(format!(
                "key {} is already registered",
                KeyId::of(&key)
            )));
        }
        self.keys
            .register(RegisteredKey {
                holder,
                key,
                valid_from: at,
                revoked_at: None,
            })
            .map(|_| ())
            .map_err(|e| ActProblem::Invalid(e.to_string()))
    }
}

/// The province a division lies in.
fn province_of(place: Jurisdiction) -> Jurisdiction {
    place.chain().last().unwrap_or(place)
}

fn verify_seal(key: &VerifyingKey, act: &SignedAct) -> Result<(), String> {
    if act.seal.key != *KeyId::of(key).as_bytes() {
        return Err(format!(
            "sealed with key {}, not {}",
            KeyId::from_bytes(act.seal.key),
            KeyId::of(key)
        ));
    }
    key.verify(
        &act_message(&act.json),
        &Signature::from_bytes(&act.seal.signature),
    )
    .map_err(|_| "the signature does not match the act".to_owned())
}

impl fmt::Display for SignedAct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by {} at {}",
            self.body.act.describe(),
            self.body.by,
            self.body.at
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{sealed, Vouching};
    use mingma_core::{
        Evidence, EvidenceBody, PersonKey, Recorder, SourceKind, TestMethod, TestOutcome,
    };

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(&format!("2022-{text}:00+08:00")).expect("a time")
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn id(text: &str) -> OfficialId {
        OfficialId::parse(text).unwrap()
    }

    #[test]
    fn an_unsealed_act_is_checked_for_everything_but_its_seal() {
        let at = Timestamp::parse("2022-06-01T00:00:00+08:00").unwrap();
        let authority = AuthorityId::parse("hn-wjw").unwrap();
        let mut registry = Registry::default();
        let bootstrap = ActBody {
            by: id("hn-admin"),
            at,
            act: Act::Bootstrap {
                authority: authority.clone(),
                authority_name: "河南省卫生健康委员会".into(),
                jurisdiction: Jurisdiction::parse("41").unwrap(),
                official: id("hn-admin"),
                name: "管理员".into(),
                key: key_hex(&key(1).verifying_key()),
            },
        };
        registry
            .apply(0, &SignedAct::sign(bootstrap, &key(1)))
            .unwrap();
        let add = ActBody {
            by: id("hn-admin"),
            at,
            act: Act::AddOfficial {
                official: id("zz-a"),
                name: "a".into(),
                authority,
            },
        };
        registry.check_unsealed(&add).unwrap();
        // Sealed by a key that is not the admin's, the same act is refused.
        let forged = SignedAct::sign(add.clone(), &key(2));
        assert!(matches!(
            registry.check(&forged),
            Err(ActProblem::BadSeal { .. })
        ));
        registry
            .apply(1, &SignedAct::sign(add.clone(), &key(1)))
            .unwrap();
        assert!(matches!(
            registry.check_unsealed(&add),
            Err(ActProblem::Invalid(_))
        ));
        // An official without the admin role, and someone not registered.
        let by_a = ActBody {
            by: id("zz-a"),
            at,
            act: Act::RegisterKey {
                official: id("zz-a"),
                key: key_hex(&key(3).verifying_key()),
            },
        };
        assert!(matches!(
            registry.check_unsealed(&by_a),
            Err(ActProblem::Refused(_))
        ));
        let nobody = ActBody {
            by: id("nobody"),
            ..by_a
        };
        assert!(matches!(
            registry.check_unsealed(&nobody),
            Err(ActProblem::UnknownActor(_))
        ));
        // Checking applies nothing.
        assert_eq!(registry.applied, 2);
        assert!(registry.keys.iter().count() == 1);
    }

    fn official(id: &str) -> OfficialId {
        OfficialId::parse(id).expect("an official id")
    }

    fn authority(id: &str) -> AuthorityId {
        AuthorityId::parse(id).expect("an authority id")
    }

    fn place(code: &str) -> Jurisdiction {
        Jurisdiction::parse(code).expect("a division")
    }

    fn signed(by: &str, at: &str, act: Act, with: &SigningKey) -> SignedAct {
        SignedAct::sign(
            ActBody {
                by: official(by),
                at: t(at),
                act,
            },
            with,
        )
    }

    /// The province's first admin, `admin-1`, with key 1.
    fn bootstrap() -> SignedAct {
        signed(
            "admin-1",
            "05-01 09:00",
            Act::Bootstrap {
                authority: authority("hc-41"),
                authority_name: "河南省卫生健康委员会".into(),
                jurisdiction: place("41"),
                official: official("admin-1"),
                name: "管理员一".into(),
                key: key_hex(&key(1).verifying_key()),
            },
            &key(1),
        )
    }

    /// Bootstrap, then `admin-1` adds the city's health commission and CDC, a second
    /// admin `admin-2` (key 2) and a health official `off-zhao` (key 3) of the city.
    fn setup() -> Vec<SignedAct> {
        let by1 = |at: &str, act: Act| signed("admin-1", at, act, &key(1));
        vec![
            bootstrap(),
            by1(
                "05-01 09:01",
                Act::AddAuthority {
                    authority: authority("hc-4101"),
                    name: "郑州市卫生健康委员会".into(),
                    name_en: None,
                    jurisdiction: place("4101"),
                    contact: None,
                },
            ),
            by1(
                "05-01 09:02",
                Act::AddAuthority {
                    authority: authority("cdc-4101"),
                    name: "郑州市疾病预防控制中心".into(),
                    name_en: None,
                    jurisdiction: place("4101"),
                    contact: None,
                },
            ),
            by1(
                "05-01 09:03",
                Act::AddOfficial {
                    official: official("admin-2"),
                    name: "管理员二".into(),
                    authority: authority("hc-41"),
                },
            ),
            by1(
                "05-01 09:04",
                Act::RegisterKey {
                    official: official("admin-2"),
                    key: key_hex(&key(2).verifying_key()),
                },
            ),
            by1(
                "05-01 09:05",
                Act::GrantRole {
                    official: official("admin-2"),
                    grant: Grant {
                        role: Role::Admin,
                        jurisdiction: place("41"),
                    },
                },
            ),
            by1(
                "05-01 09:06",
                Act::AddOfficial {
                    official: official("off-zhao"),
                    name: "赵".into(),
                    authority: authority("hc-4101"),
                },
            ),
            by1(
                "05-01 09:07",
                Act::RegisterKey {
                    official: official("off-zhao"),
                    key: key_hex(&key(3).verifying_key()),
                },
            ),
            by1(
                "05-01 09:08",
                Act::GrantRole {
                    official: official("off-zhao"),
                    grant: Grant {
                        role: Role::HealthOfficial,
                        jurisdiction: place("4101"),
                    },
                },
            ),
        ]
    }

    fn replay(acts: &[SignedAct]) -> Registry {
        Registry::replay(
            acts.iter()
                .enumerate()
                .map(|(leaf, act)| (leaf as u64, act.to_bytes())),
        )
    }

    /// `lab-1`'s registration (key 4), proposed by `admin-1`.
    fn register_lab(at: &str) -> SignedAct {
        signed(
            "admin-1",
            at,
            Act::RegisterSource {
                source: DataSourceId::parse("lab-1").expect("id"),
                kind: SourceKind::Lab,
                authority: authority("cdc-4101"),
                name: "郑州金域检测".into(),
                key: key_hex(&key(4).verifying_key()),
            },
            &key(1),
        )
    }

    fn test_result(id: &str, at: &str) -> Evidence {
        Evidence {
            seal: None,
            id: RecordId::parse(id).expect("id"),
            subject: Some(PersonKey::from_bytes([5; 32])),
            recorded_by: Recorder::Source {
                id: DataSourceId::parse("lab-1").expect("id"),
                kind: SourceKind::Lab,
            },
            authority: Some(authority("cdc-4101")),
            legal_basis: None,
            effective_at: t(at),
            recorded_at: t(at),
            body: EvidenceBody::TestResult {
                method: TestMethod::NucleicAcid,
                outcome: TestOutcome::Positive,
                sampled_at: t(at),
            },
        }
    }

    #[test]
    fn the_setup_replays_without_a_problem() {
        let registry = replay(&setup());
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        assert_eq!(registry.applied, 9);
        assert_eq!(registry.last_leaf, Some(8));
        assert_eq!(registry.directory.authorities.len(), 3);
        assert_eq!(registry.directory.officials.len(), 3);
        assert_eq!(registry.keys.iter().count(), 3);
        assert_eq!(
            registry.grants_of(&official("admin-2"))[0].role,
            Role::Admin
        );
    }

    #[test]
    fn only_the_first_act_may_be_a_bootstrap() {
        // A second bootstrap, even by a new admin with a valid self-signature.
        let mut acts = setup();
        acts.push(signed(
            "mallory",
            "05-02 09:00",
            Act::Bootstrap {
                authority: authority("hc-42"),
                authority_name: "湖北省卫生健康委员会".into(),
                jurisdiction: place("42"),
                official: official("mallory"),
                name: "mallory".into(),
                key: key_hex(&key(9).verifying_key()),
            },
            &key(9),
        ));
        let registry = replay(&acts);
        assert_eq!(registry.problems, vec![(9, ActProblem::LateBootstrap)]);
        assert!(!registry
            .directory
            .officials
            .contains_key(&official("mallory")));
        assert_eq!(
            ActProblem::LateBootstrap.to_string(),
            "a bootstrap is valid only as the first act of a log"
        );

        // Anything before the bootstrap is ignored; the bootstrap still founds the log.
        let early = signed(
            "admin-1",
            "05-01 08:00",
            Act::AddOfficial {
                official: official("off-early"),
                name: "early".into(),
                authority: authority("hc-41"),
            },
            &key(1),
        );
        let registry = replay(&[early, bootstrap()]);
        assert_eq!(registry.problems, vec![(0, ActProblem::NoBootstrap)]);
        assert_eq!(registry.applied, 1);

        // A bootstrap must be made by the admin it registers, with the key it names.
        let mut forged = bootstrap();
        forged.body.by = official("someone-else");
        let forged = SignedAct::sign(forged.body, &key(1));
        let registry = replay(&[forged]);
        assert!(
            matches!(&registry.problems[..], [(0, ActProblem::Invalid(_))]),
            "{:?}",
            registry.problems
        );
        let wrong_key = SignedAct::sign(bootstrap().body, &key(2));
        let registry = replay(&[wrong_key]);
        assert!(
            matches!(&registry.problems[..], [(0, ActProblem::BadSeal { .. })]),
            "{:?}",
            registry.problems
        );
        assert_eq!(registry.applied, 0);
    }

    #[test]
    fn acts_by_unregistered_keys_or_non_admins_are_ignored_with_a_reason() {
        let add = |by: &str, with: &SigningKey, id: &str| {
            signed(
                by,
                "05-02 09:00",
                Act::AddOfficial {
                    official: official(id),
                    name: id.into(),
                    authority: authority("hc-4101"),
                },
                with,
            )
        };
        let mut acts = setup();
        // admin-1 named as the actor, sealed with a key nobody registered.
        acts.push(add("admin-1", &key(9), "off-a"));
        // admin-1 named, sealed with admin-2's (registered) key.
        acts.push(add("admin-1", &key(2), "off-b"));
        // An actor who does not exist.
        acts.push(add("ghost", &key(9), "off-c"));
        // A registered health official, with their own key, but no admin role.
        acts.push(add("off-zhao", &key(3), "off-d"));
        let registry = replay(&acts);
        let problems: Vec<String> = registry
            .problems
            .iter()
            .map(|(leaf, p)| format!("{leaf}: {p}"))
            .collect();
        let unregistered = KeyId::of(&key(9).verifying_key());
        assert_eq!(
            problems,
            vec![
                format!(
                    "9: the seal is not a valid signature by a key of admin-1: key {unregistered} is not registered"
                ),
                "10: the seal is not a valid signature by a key of admin-1: the key belongs to official admin-2".to_owned(),
                "11: official ghost is not registered".to_owned(),
                "12: not permitted: none of the official's roles (health_official) may manage accounts, roles and keys".to_owned(),
            ]
        );
        for id in ["off-a", "off-b", "off-c", "off-d"] {
            assert!(!registry.directory.officials.contains_key(&official(id)));
        }
        // `check` says the same before anything is appended, and changes nothing.
        let before = replay(&setup());
        assert!(matches!(
            before.check(&add("off-zhao", &key(3), "off-d")),
            Err(ActProblem::Refused(crate::Refusal::NotPermitted { .. }))
        ));
        assert_eq!(before.check(&add("admin-1", &key(1), "off-e")), Ok(()));
        assert!(!before.directory.officials.contains_key(&official("off-e")));
    }

    #[test]
    fn a_source_counts_only_after_a_second_admin_confirms_it() {
        let mut acts = setup();
        acts.push(register_lab("05-02 09:00")); // leaf 9
        let registry = replay(&acts);
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        assert!(registry.pending.contains_key(&9));
        assert!(registry.directory.sources.is_empty());
        let record = sealed(test_result("t-1", "06-01 10:00"), &key(4));
        let vouching = Vouching::new(registry.keys.clone());
        assert!(
            !vouching.counts(&record),
            "not registered before confirmation"
        );

        // The proposer cannot confirm their own proposal.
        acts.push(signed(
            "admin-1",
            "05-02 09:05",
            Act::Confirm { proposal: 9 },
            &key(1),
        ));
        let registry = replay(&acts);
        assert_eq!(registry.problems.len(), 1);
        assert_eq!(
            registry.problems[0].1.to_string(),
            "admin-1 proposed the act at leaf 9; a second admin must confirm it"
        );
        assert!(registry.directory.sources.is_empty());
        // A health official is not an admin and cannot either.
        acts.push(signed(
            "off-zhao",
            "05-02 09:06",
            Act::Confirm { proposal: 9 },
            &key(3),
        ));
        // Nothing waits at leaf 3.
        acts.push(signed(
            "admin-2",
            "05-02 09:07",
            Act::Confirm { proposal: 3 },
            &key(2),
        ));
        let registry = replay(&acts);
        assert_eq!(registry.problems.len(), 3, "{:?}", registry.problems);
        assert!(matches!(
            registry.problems[1],
            (11, ActProblem::Refused(crate::Refusal::NotPermitted { .. }))
        ));
        assert!(matches!(
            registry.problems[2],
            (12, ActProblem::Confirmation(_))
        ));
        assert!(registry.directory.sources.is_empty());

        // The second admin confirms: the source and its key count from then on.
        acts.push(signed(
            "admin-2",
            "05-02 10:00",
            Act::Confirm { proposal: 9 },
            &key(2),
        ));
        let registry = replay(&acts);
        assert_eq!(registry.problems.len(), 3, "{:?}", registry.problems);
        assert!(registry.pending.is_empty());
        assert!(registry
            .directory
            .sources
            .contains_key(&DataSourceId::parse("lab-1").expect("id")));
        let vouching = Vouching::new(registry.keys.clone());
        assert!(vouching.counts(&record));
        // Not for a record made before the confirmation.
        let early = sealed(test_result("t-0", "05-02 09:30"), &key(4));
        assert!(!vouching.counts(&early));
        // A second confirmation of the same proposal finds nothing waiting.
        acts.push(signed(
            "admin-2",
            "05-02 10:01",
            Act::Confirm { proposal: 9 },
            &key(2),
        ));
        let registry = replay(&acts);
        assert!(matches!(
            registry.problems.last(),
            Some((14, ActProblem::Confirmation(_)))
        ));
    }

    #[test]
    fn a_published_rule_set_version_never_changes_its_content() {
        let publish = |by: &str, at: &str, sha: char, key_seed: u8| {
            signed(
                by,
                at,
                Act::PublishRuleSet {
                    id: "mingma-default".into(),
                    version: "2026.2".into(),
                    sha256: sha.to_string().repeat(64),
                },
                &key(key_seed),
            )
        };
        let mut acts = setup();
        acts.push(publish("admin-1", "05-02 09:00", 'a', 1)); // leaf 9
        acts.push(signed(
            "admin-2",
            "05-02 09:01",
            Act::Confirm { proposal: 9 },
            &key(2),
        ));
        let registry = replay(&acts);
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        assert_eq!(registry.rule_sets.len(), 1);
        // The same version with another file: refused when proposed.
        acts.push(publish("admin-1", "05-03 09:00", 'b', 1)); // leaf 11
        let registry = replay(&acts);
        assert!(
            matches!(&registry.problems[..], [(11, ActProblem::Invalid(m))] if m.contains("needs a new version")),
            "{:?}",
            registry.problems
        );
        assert!(registry.pending.is_empty());
        assert_eq!(registry.rule_sets.len(), 1);
        // The same file again is harmless.
        acts.push(publish("admin-2", "05-03 09:01", 'a', 2)); // leaf 12
        let registry = replay(&acts);
        assert_eq!(registry.problems.len(), 1, "{:?}", registry.problems);
    }

    #[test]
    fn records_made_after_a_key_is_revoked_do_not_count() {
        let mut acts = setup();
        acts.push(register_lab("05-02 09:00"));
        acts.push(signed(
            "admin-2",
            "05-02 10:00",
            Act::Confirm { proposal: 9 },
            &key(2),
        ));
        let lab_key = KeyId::of(&key(4).verifying_key());
        acts.push(signed(
            "admin-1",
            "06-05 00:00",
            Act::RevokeKey {
                key: lab_key.to_string(),
                at: t("06-05 00:00"),
            },
            &key(1),
        ));
        let registry = replay(&acts);
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        let vouching = Vouching::new(registry.keys.clone());
        let before = sealed(test_result("t-1", "06-04 23:59"), &key(4));
        let after = sealed(test_result("t-2", "06-05 00:00"), &key(4));
        assert_eq!(vouching.check(&before), Ok(()));
        let refused = vouching.check(&after).expect_err("revoked");
        assert_eq!(
            refused.to_string(),
            format!(
                "record t-2: made at {}, when key {lab_key} was revoked",
                t("06-05 00:00")
            )
        );

        // An official's revoked key no longer seals acts either, even backdated.
        let zhao_key = KeyId::of(&key(3).verifying_key());
        let mut acts = setup();
        acts.push(signed(
            "admin-1",
            "05-03 00:00",
            Act::GrantRole {
                official: official("off-zhao"),
                grant: Grant {
                    role: Role::Admin,
                    jurisdiction: place("4101"),
                },
            },
            &key(1),
        ));
        acts.push(signed(
            "admin-1",
            "05-04 00:00",
            Act::RevokeKey {
                key: zhao_key.to_string(),
                at: t("05-04 00:00"),
            },
            &key(1),
        ));
        let add = |at: &str, id: &str| {
            signed(
                "off-zhao",
                at,
                Act::AddOfficial {
                    official: official(id),
                    name: id.into(),
                    authority: authority("hc-4101"),
                },
                &key(3),
            )
        };
        acts.push(add("05-05 00:00", "off-late"));
        acts.push(add("05-03 12:00", "off-backdated"));
        let registry = replay(&acts);
        let problems: Vec<String> = registry
            .problems
            .iter()
            .map(|(leaf, p)| format!("{leaf}: {p}"))
            .collect();
        assert_eq!(
            problems,
            vec![
                "11: the seal is not a valid signature by a key of off-zhao: the key was not valid at the time of the act".to_owned(),
                format!(
                    "12: the act is dated {}, before the act applied before it ({})",
                    t("05-03 12:00"),
                    t("05-04 00:00")
                ),
            ]
        );
    }

    #[test]
    fn a_role_is_granted_only_to_officials_of_the_admins_jurisdiction() {
        // A city admin of Zhengzhou.
        let mut acts = setup();
        acts.push(signed(
            "admin-1",
            "05-02 09:00",
            Act::GrantRole {
                official: official("admin-2"),
                grant: Grant {
                    role: Role::Admin,
                    jurisdiction: place("4101"),
                },
            },
            &key(1),
        ));
        // With two admins, a grant of the admin role takes the other admin's
        // confirmation.
        let proposal = acts.len() as u64 - 1;
        acts.push(signed(
            "admin-2",
            "05-02 09:00",
            Act::Confirm { proposal },
            &key(2),
        ));
        acts.push(signed(
            "admin-1",
            "05-02 09:01",
            Act::RevokeRole {
                official: official("admin-2"),
                grant: Grant {
                    role: Role::Admin,
                    jurisdiction: place("41"),
                },
            },
            &key(1),
        ));
        // Luoyang's health commission and an official of it.
        acts.push(signed(
            "admin-1",
            "05-02 09:02",
            Act::AddAuthority {
                authority: authority("hc-4103"),
                name: "洛阳市卫生健康委员会".into(),
                name_en: None,
                jurisdiction: place("4103"),
                contact: None,
            },
            &key(1),
        ));
        acts.push(signed(
            "admin-1",
            "05-02 09:03",
            Act::AddOfficial {
                official: official("off-ly"),
                name: "洛阳".into(),
                authority: authority("hc-4103"),
            },
            &key(1),
        ));
        // The Zhengzhou admin may grant roles in Zhengzhou, but not to Luoyang's
        // official, and not in Luoyang.
        let grant = |at: &str, who: &str, place_code: &str| {
            signed(
                "admin-2",
                at,
                Act::GrantRole {
                    official: official(who),
                    grant: Grant {
                        role: Role::HealthOfficial,
                        jurisdiction: place(place_code),
                    },
                },
                &key(2),
            )
        };
        acts.push(grant("05-02 09:04", "off-ly", "4101"));
        acts.push(grant("05-02 09:05", "off-ly", "4103"));
        acts.push(grant("05-02 09:06", "off-zhao", "410102"));
        let registry = replay(&acts);
        let leaves: Vec<u64> = registry.problems.iter().map(|(leaf, _)| *leaf).collect();
        assert_eq!(leaves, vec![14, 15], "{:?}", registry.problems);
        for (_, problem) in &registry.problems {
            assert!(
                matches!(
                    problem,
                    ActProblem::Refused(crate::Refusal::OutsideJurisdiction { .. })
                ),
                "{problem}"
            );
        }
        assert!(registry.grants_of(&official("off-ly")).is_empty());
        assert_eq!(registry.grants_of(&official("off-zhao")).len(), 2);
    }

    #[test]
    fn a_consent_is_witnessed_by_a_health_official_at_a_street_of_theirs() {
        let mut acts = setup();
        let (proxy, dependant) = (
            PersonKey::from_bytes([7; 32]),
            PersonKey::from_bytes([8; 32]),
        );
        let link = consent_link(&[9; 32], "ABCDE12345", &proxy, &dependant);
        let witness = |street: &str, link: &str, request: &str| Act::WitnessConsent {
            request: request.into(),
            street: place(street),
            link: link.into(),
        };
        let by_zhao = |at: &str, act: Act| signed("off-zhao", at, act, &key(3));
        // Refused, each changing nothing: a street in another city, a district, a
        // malformed link, an admin (no health official role), a forged seal.
        let refused = [
            by_zhao("05-03 09:00", witness("410302001", &link, "ABCDE12345")),
            by_zhao("05-03 09:00", witness("410105", &link, "ABCDE12345")),
            by_zhao("05-03 09:00", witness("410105001", "xyz", "ABCDE12345")),
            by_zhao("05-03 09:00", witness("410105001", &link, "a/b")),
            signed(
                "admin-1",
                "05-03 09:00",
                witness("410105001", &link, "ABCDE12345"),
                &key(1),
            ),
            signed(
                "off-zhao",
                "05-03 09:00",
                witness("410105001", &link, "ABCDE12345"),
                &key(2),
            ),
        ];
        let registry = replay(&acts);
        for act in &refused {
            assert!(registry.check(act).is_err(), "{act}");
        }
        let problems: Vec<String> = refused
            .iter()
            .map(|a| registry.check(a).unwrap_err().to_string())
            .collect();
        assert!(
            problems[0].contains("outside jurisdiction"),
            "{}",
            problems[0]
        );
        assert!(problems[1].contains("not a street"), "{}", problems[1]);
        assert!(problems[4].contains("not permitted"), "{}", problems[4]);
        assert!(problems[5].contains("seal"), "{}", problems[5]);
        acts.extend(refused);
        // The health official of Zhengzhou at a street of Zhengzhou: applied once.
        let good = by_zhao("05-03 09:01", witness("410105001", &link, "ABCDE12345"));
        acts.push(good.clone());
        acts.push(by_zhao(
            "05-03 09:02",
            witness("410105001", &link, "ABCDE12345"),
        ));
        let registry = replay(&acts);
        assert_eq!(registry.problems.len(), 7, "{:?}", registry.problems);
        assert_eq!(
            registry.witnessed_consents,
            vec![WitnessedConsent {
                leaf: 15,
                by: official("off-zhao"),
                request: "ABCDE12345".into(),
                street: place("410105001"),
                link: link.clone(),
            }]
        );
        // The link names nobody, and binds the request and both persons.
        assert_eq!(link.len(), 64);
        assert_ne!(
            link,
            consent_link(&[9; 32], "ABCDE12345", &dependant, &proxy)
        );
        assert_ne!(
            link,
            consent_link(&[9; 32], "ABCDE12346", &proxy, &dependant)
        );
        assert_ne!(
            link,
            consent_link(&[10; 32], "ABCDE12345", &proxy, &dependant)
        );
        let back = SignedAct::from_bytes(&good.to_bytes()).expect("reads back");
        assert_eq!(back, good);
    }

    #[test]
    fn acts_round_trip_through_their_bytes() {
        for act in setup().into_iter().chain([register_lab("05-02 09:00")]) {
            let bytes = act.to_bytes();
            assert_eq!(bytes[0], VERSION);
            let back = SignedAct::from_bytes(&bytes).expect("reads back");
            assert_eq!(back, act);
            assert_eq!(back.to_bytes(), bytes);
            let joined = SignedAct::from_parts(act.json.clone(), act.seal).expect("joins");
            assert_eq!(joined, act);
        }
        let bytes = bootstrap().to_bytes();
        assert_eq!(
            SignedAct::from_bytes(&[]),
            Err(MalformedAct("empty".into()))
        );
        assert_eq!(
            SignedAct::from_bytes(&bytes[..73]),
            Err(MalformedAct("cut short".into()))
        );
        assert_eq!(
            SignedAct::from_bytes(&[2, 0, 0]),
            Err(MalformedAct("unknown version 2".into()))
        );
        let mut bad_json = bytes.clone();
        bad_json.truncate(bytes.len() - 1);
        assert!(SignedAct::from_bytes(&bad_json).is_err());
        // Malformed bytes in a log are a problem of their leaf, not a panic.
        let mut registry = replay(&setup());
        registry.apply_bytes(9, &[1; 80]);
        assert!(matches!(
            registry.problems.last(),
            Some((9, ActProblem::Malformed(_)))
        ));
    }

    #[test]
    fn a_tampered_act_fails_its_seal() {
        let acts = setup();
        // The grant to off-zhao, widened from the city to the province in the JSON.
        let original = acts[8].clone();
        let json = String::from_utf8(original.json.clone()).expect("JSON");
        assert!(json.contains("\"4101\""), "{json}");
        let tampered_json = json.replace("\"4101\"", "\"41\"");
        let tampered =
            SignedAct::from_parts(tampered_json.into_bytes(), original.seal).expect("still JSON");
        assert_eq!(
            tampered.body.act,
            Act::GrantRole {
                official: official("off-zhao"),
                grant: Grant {
                    role: Role::HealthOfficial,
                    jurisdiction: place("41"),
                },
            }
        );
        let mut with_tampered = acts.clone();
        with_tampered[8] = tampered.clone();
        let registry = replay(&with_tampered);
        assert_eq!(
            registry.problems,
            vec![(
                8,
                ActProblem::BadSeal {
                    actor: official("admin-1"),
                    why: "the signature does not match the act".into(),
                }
            )]
        );
        assert!(registry.grants_of(&official("off-zhao")).is_empty());
        // The same through the leaf bytes.
        let mut bytes = original.to_bytes();
        let at = bytes
            .windows(6)
            .position(|w| w == b"\"4101\"")
            .expect("the place in the bytes");
        bytes[at + 4] = b'2';
        let mut registry = replay(&acts[..8]);
        registry.apply_bytes(8, &bytes);
        assert!(matches!(
            registry.problems.last(),
            Some((8, ActProblem::BadSeal { .. }))
        ));
    }

    #[test]
    fn public_keys_are_exactly_64_hex_digits() {
        let hex = key_hex(&key(1).verifying_key());
        assert!(public_key(&hex).is_ok());
        assert!(public_key(&hex[..62]).is_err());
        let signed_digit = format!("+{}", &hex[1..]);
        assert!(public_key(&signed_digit).is_err(), "a sign is not a digit");
        assert!(public_key(&format!("{}zz", &hex[..62])).is_err());
    }

    #[test]
    fn once_there_are_two_admins_a_third_or_an_admins_new_key_needs_the_other_admin() {
        let mut acts = setup();
        let by1 = |at: &str, act: Act| signed("admin-1", at, act, &key(1));
        let grant_admin = Act::GrantRole {
            official: official("off-zhao"),
            grant: Grant {
                role: Role::Admin,
                jurisdiction: place("41"),
            },
        };
        acts.push(by1("05-02 09:00", grant_admin.clone()));
        let proposal = acts.len() as u64 - 1;
        acts.push(by1(
            "05-02 09:01",
            Act::RegisterKey {
                official: official("admin-2"),
                key: key_hex(&key(9).verifying_key()),
            },
        ));
        let new_key = acts.len() as u64 - 1;
        let registry = replay(&acts);
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);
        let is_admin = |r: &Registry, o: &str| {
            r.grants_of(&official(o))
                .iter()
                .any(|g| g.role == Role::Admin)
        };
        assert!(!is_admin(&registry, "off-zhao"), "only proposed");
        assert!(registry.pending.contains_key(&proposal));
        assert!(registry.pending.contains_key(&new_key));
        assert!(registry
            .keys
            .get(KeyId::of(&key(9).verifying_key()))
            .is_none());

        // The proposer cannot confirm; the other admin can.
        acts.push(by1("05-02 09:02", Act::Confirm { proposal }));
        let registry = replay(&acts);
        assert!(matches!(
            registry.problems.last(),
            Some((_, ActProblem::Confirmation(_)))
        ));
        assert!(!is_admin(&registry, "off-zhao"));
        acts.push(signed(
            "admin-2",
            "05-02 09:03",
            Act::Confirm { proposal },
            &key(2),
        ));
        let registry = replay(&acts);
        assert!(is_admin(&registry, "off-zhao"));
    }
}
