//! The checkpoint code (数字哨兵): a signed, short-lived statement of a holder's code.
//!
//! # Canonical bytes (version 1)
//!
//! | field | bytes |
//! |---|---|
//! | holder | 16: the first 16 bytes of the person key (a pseudonym) |
//! | masked name | u8 length + UTF-8 (at most 64 bytes), e.g. `张*` |
//! | ID last four | 4 ASCII characters `0-9` or `X` |
//! | colour | 1: 0 green, 1 yellow, 2 red |
//! | latest test | 1 flag (0 none, 1 present) + i64 seconds |
//! | issuer province | 2 ASCII digits |
//! | key id | u32 |
//! | issued at, expires at | i64 seconds each |
//! | rule set id, version | u8 length + UTF-8 each (at most 64 bytes) |
//! | ledger index | u64: the ledger size the colour reflects |
//!
//! Integers are big-endian. The signature is Ed25519 over
//! `"mingma/checkpoint-code/v1" 0x00 || bytes`; the token is [`CODE_PREFIX`] followed
//! by unpadded base64url of the bytes and the 64-byte signature (about 230
//! characters: a version-10 QR code).

use ed25519_dalek::{Signature, Signer as _, Verifier as _};
use mingma_core::division::Level;
use mingma_core::{Colour, Jurisdiction, PersonKey, Timestamp};
use serde::Serialize;

use crate::keys::IssuerKey;
use crate::trust::TrustList;
use crate::wire::{join_signed, signed_message, split_signed, Reader, Writer};

/// What every checkpoint code starts with.
pub const CODE_PREFIX: &str = "MC1.";
const DOMAIN: &str = "mingma/checkpoint-code/v1";
/// The longest masked name, rule-set id or version, in bytes.
const MAX_TEXT: usize = 64;
/// The longest a code may be valid.
pub const MAX_VALIDITY_SECONDS: i64 = 24 * 3600;
/// How far a checkpoint's clock may lag behind the issuer's.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// The statement a checkpoint code makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointCode {
    /// Pseudonymous holder: the first 16 bytes of the person key, in hex when shown.
    #[serde(serialize_with = "hex16")]
    pub holder: [u8; 16],
    /// The holder's name, masked (`张*`, `欧阳**`).
    pub masked_name: String,
    /// The last four characters of the ID number, to match an ID card.
    pub id_last_four: String,
    /// The colour `derive` decided.
    pub colour: Colour,
    /// The sample time of the holder's latest test on record, if any.
    pub latest_test: Option<Timestamp>,
    /// The issuing province (two digits).
    pub issuer: Jurisdiction,
    /// The issuer key that signed it.
    #[serde(serialize_with = "hex_u32")]
    pub key_id: u32,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// The rule set the colour was derived under.
    pub rule_set: String,
    /// Its version.
    pub rule_set_version: String,
    /// The ledger size whose evidence the colour reflects.
    pub ledger_index: u64,
}

fn hex16<S: serde::Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn hex_u32<S: serde::Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:08x}"))
}

fn colour_byte(c: Colour) -> u8 {
    match c {
        Colour::Green => 0,
        Colour::Yellow => 1,
        Colour::Red => 2,
    }
}

fn colour_from(b: u8) -> Option<Colour> {
    match b {
        0 => Some(Colour::Green),
        1 => Some(Colour::Yellow),
        2 => Some(Colour::Red),
        _ => None,
    }
}

/// Masks a name for display and for codes: the first character, then `*` for each
/// other one (`张三` → `张*`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// The holder pseudonym a code carries for `person`.
pub fn holder_of(person: &PersonKey) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&person.as_bytes()[..16]);
    out
}

/// Why a checkpoint code is refused. [`Refusal::code`] is a stable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The text is not a checkpoint code.
    #[error("malformed code: {0}")]
    Malformed(String),
    /// No trusted key has this province and key id.
    #[error("unknown issuer: no trusted key of province {province} with id {key_id:08x}")]
    UnknownIssuer {
        /// The province the code names.
        province: String,
        /// The key id it names.
        key_id: u32,
    },
    /// The signature does not verify under the named issuer's key.
    #[error("bad signature: the code was not signed by issuer {province} key {key_id:08x}, or was altered")]
    BadSignature {
        /// The province the code names.
        province: String,
        /// The key id it names.
        key_id: u32,
    },
    /// The code has expired.
    #[error("expired at {expires_at} (now {now})")]
    Expired {
        /// When it expired.
        expires_at: Timestamp,
        /// The checking time.
        now: Timestamp,
    },
    /// The code says it was issued in the future (beyond the allowed clock skew).
    #[error("not yet valid: issued at {issued_at}, now {now}")]
    NotYetValid {
        /// When it says it was issued.
        issued_at: Timestamp,
        /// The checking time.
        now: Timestamp,
    },
}

impl Refusal {
    /// A stable identifier: `malformed`, `unknown_issuer`, `bad_signature`,
    /// `expired`, `not_yet_valid`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::UnknownIssuer { .. } => "unknown_issuer",
            Refusal::BadSignature { .. } => "bad_signature",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "not_yet_valid",
        }
    }
}

/// A code that verified: what it says, and the issuer's name from the trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedCode {
    /// The statement.
    pub code: CheckpointCode,
    /// The issuer's name in the trust list.
    pub issuer_name: String,
}

impl CheckpointCode {
    /// Checks the statement's own consistency (used when signing and reading).
    fn check(&self) -> Result<(), String> {
        if self.masked_name.is_empty() || self.masked_name.len() > MAX_TEXT {
            return Err(format!(
                "the masked name is empty or longer than {MAX_TEXT} bytes"
            ));
        }
        if self.id_last_four.len() != 4
            || !self
                .id_last_four
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'X')
        {
            return Err("the ID's last four are not four of 0-9 and X".into());
        }
        if self.issuer.level() != Level::Province {
            return Err(format!("issuer {} is not a province", self.issuer));
        }
        for (what, text) in [
            ("rule set id", &self.rule_set),
            ("rule set version", &self.rule_set_version),
        ] {
            if text.is_empty() || text.len() > MAX_TEXT {
                return Err(format!(
                    "the {what} is empty or longer than {MAX_TEXT} bytes"
                ));
            }
        }
        let validity = self.expires_at.unix_seconds() - self.issued_at.unix_seconds();
        if validity <= 0 || validity > MAX_VALIDITY_SECONDS {
            return Err(format!(
                "it is valid for {validity} s; a code is valid for 1 s to {MAX_VALIDITY_SECONDS} s"
            ));
        }
        Ok(())
    }

    /// The canonical bytes (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(&self.holder);
        w.str(&self.masked_name);
        w.bytes(self.id_last_four.as_bytes());
        w.u8(colour_byte(self.colour));
        match self.latest_test {
            Some(t) => {
                w.u8(1);
                w.time(t);
            }
            None => w.u8(0),
        }
        w.bytes(self.issuer.to_string().as_bytes());
        w.u32(self.key_id);
        w.time(self.issued_at);
        w.time(self.expires_at);
        w.str(&self.rule_set);
        w.str(&self.rule_set_version);
        w.u64(self.ledger_index);
        w.0
    }

    /// Reads canonical bytes; the error names the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let holder = r.array::<16>("holder")?;
        let masked_name = r.str("masked_name")?.to_owned();
        let last = r.take(4, "id_last_four")?;
        let id_last_four = std::str::from_utf8(last)
            .map_err(|_| "field `id_last_four` is not text".to_owned())?
            .to_owned();
        let colour = colour_from(r.u8("colour")?)
            .ok_or_else(|| "field `colour` is not 0, 1 or 2".to_owned())?;
        let latest_test = match r.u8("latest_test")? {
            0 => None,
            1 => Some(r.time("latest_test")?),
            _ => return Err("field `latest_test` has a flag other than 0 or 1".into()),
        };
        let province = r.take(2, "issuer")?;
        let issuer = std::str::from_utf8(province)
            .ok()
            .and_then(|p| Jurisdiction::parse(p).ok())
            .ok_or_else(|| "field `issuer` is not a province code".to_owned())?;
        let key_id = r.u32("key_id")?;
        let issued_at = r.time("issued_at")?;
        let expires_at = r.time("expires_at")?;
        let rule_set = r.str("rule_set")?.to_owned();
        let rule_set_version = r.str("rule_set_version")?.to_owned();
        let ledger_index = r.u64("ledger_index")?;
        r.finish()?;
        let code = Self {
            holder,
            masked_name,
            id_last_four,
            colour,
            latest_test,
            issuer,
            key_id,
            issued_at,
            expires_at,
            rule_set,
            rule_set_version,
            ledger_index,
        };
        code.check()?;
        Ok(code)
    }

    /// Signs the statement with `key` (whose province and id must be the ones it
    /// names) and returns the token text.
    pub fn sign(&self, key: &IssuerKey) -> Result<String, String> {
        self.check()?;
        if self.issuer != key.province() || self.key_id != key.key_id() {
            return Err(format!(
                "the code names issuer {} key {:08x} but the key is {} {:08x}",
                self.issuer,
                self.key_id,
                key.province(),
                key.key_id()
            ));
        }
        let payload = self.to_bytes();
        let signature = key.signing().sign(&signed_message(DOMAIN, &payload));
        Ok(join_signed(CODE_PREFIX, &payload, &signature.to_bytes()))
    }

    /// Verifies a token against `trust` at `now`: its form, its issuer, its
    /// signature, then its validity period, in that order.
    pub fn verify(token: &str, trust: &TrustList, now: Timestamp) -> Result<VerifiedCode, Refusal> {
        let (payload, signature) = split_signed(token, CODE_PREFIX).map_err(Refusal::Malformed)?;
        let code = Self::from_bytes(&payload).map_err(Refusal::Malformed)?;
        let issuer =
            trust
                .find(code.issuer, code.key_id)
                .ok_or_else(|| Refusal::UnknownIssuer {
                    province: code.issuer.to_string(),
                    key_id: code.key_id,
                })?;
        issuer
            .public_key
            .verify(
                &signed_message(DOMAIN, &payload),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| Refusal::BadSignature {
                province: code.issuer.to_string(),
                key_id: code.key_id,
            })?;
        if now >= code.expires_at {
            return Err(Refusal::Expired {
                expires_at: code.expires_at,
                now,
            });
        }
        if code.issued_at.unix_seconds() > now.unix_seconds() + CLOCK_SKEW_SECONDS {
            return Err(Refusal::NotYetValid {
                issued_at: code.issued_at,
                now,
            });
        }
        Ok(VerifiedCode {
            issuer_name: issuer.name.clone(),
            code,
        })
    }
}
