//! Signatures on records: who vouches for a record, checked against registered keys.
//!
//! A data source (lab, customs post, case-reporting unit) signs what it submits with
//! its registered key; an official signs every manual record, approval, rejection
//! and retraction with a personal key that the server never holds (kept in the
//! official's browser or a key file). The signature covers the record's canonical
//! bytes (`mingma_core::canonical_bytes`) after a domain-separation prefix, so a
//! signature on a record can be neither moved to another record nor mistaken for a
//! signature on anything else the same key signs.
//!
//! [`KeyRing::check`] decides whether a record carries the signature it needs: the
//! key named must be registered to the record's recorder and not revoked at the time
//! the record was made, and the signature must verify. Records the holder's own
//! phone makes (venue scans by the holder or a proxy) need none.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use mingma_core::{canonical_bytes, DataSourceId, Evidence, OfficialId, Recorder, Seal, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of every signed message: what is signed is a Mingma evidence record.
const DOMAIN: &[u8] = b"mingma/evidence-record/v1\n";

/// A key's id: the first 8 bytes of SHA-256 over its public key, in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &VerifyingKey) -> KeyId {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    /// The id a seal names.
    pub fn from_bytes(bytes: [u8; 8]) -> KeyId {
        KeyId(bytes)
    }

    /// The 8 bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }

    /// Parses 16 hex digits.
    pub fn parse(text: &str) -> Result<KeyId, SignatureError> {
        let bad = || SignatureError::Malformed(format!("key id {text:?} is not 16 hex digits"));
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut id = [0; 8];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(KeyId(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The message a signature on `record` covers.
pub fn signed_message(record: &Evidence) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&canonical_bytes(record));
    message
}

/// Signs `record` with `key` (done by the signer: a source's system, or the
/// official's browser or key file — never the server for an official).
pub fn sign(record: &Evidence, key: &SigningKey) -> Seal {
    Seal {
        key: KeyId::of(&key.verifying_key()).0,
        signature: key.sign(&signed_message(record)).to_bytes(),
    }
}

/// `record` with its seal by `key`.
pub fn sealed(mut record: Evidence, key: &SigningKey) -> Evidence {
    record.seal = Some(sign(&record, key));
    record
}

/// Whose key a key is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum KeyHolder {
    /// An official's personal key.
    Official(OfficialId),
    /// A registered data source's key.
    Source(DataSourceId),
}

impl fmt::Display for KeyHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyHolder::Official(id) => write!(f, "official {id}"),
            KeyHolder::Source(id) => write!(f, "source {id}"),
        }
    }
}

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredKey {
    /// Whose.
    pub holder: KeyHolder,
    /// The public key.
    pub key: VerifyingKey,
    /// From when records it signs count.
    pub valid_from: Timestamp,
    /// When it was revoked, if it was: records made from then on are refused.
    pub revoked_at: Option<Timestamp>,
}

/// Why a record's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The record needs a signature and has none.
    #[error(
        "record {record}: unsigned; a record by {recorder} must be signed with its registered key"
    )]
    Unsigned {
        /// The record.
        record: String,
        /// Who recorded it.
        recorder: String,
    },
    /// The key named is not registered.
    #[error("record {record}: signed by key {key}, which is not registered")]
    UnknownKey {
        /// The record.
        record: String,
        /// The key.
        key: KeyId,
    },
    /// The key is registered to someone other than the recorder.
    #[error("record {record}: recorded by {recorder} but signed by key {key} of {holder}")]
    WrongSigner {
        /// The record.
        record: String,
        /// Who recorded it.
        recorder: String,
        /// The key.
        key: KeyId,
        /// Whose key it is.
        holder: KeyHolder,
    },
    /// The key was not valid when the record was made.
    #[error("record {record}: made at {at}, when key {key} was {state}")]
    KeyNotValid {
        /// The record.
        record: String,
        /// The key.
        key: KeyId,
        /// When the record was made.
        at: Timestamp,
        /// "not yet registered" or "revoked".
        state: &'static str,
    },
    /// The signature does not verify over the record's canonical bytes.
    #[error("record {record}: the signature by key {key} does not match the record's content")]
    BadSignature {
        /// The record.
        record: String,
        /// The key.
        key: KeyId,
    },
    /// The key is already registered to someone else.
    #[error("key {key} is already registered to {holder}; it cannot also be {claimant}'s")]
    KeyTaken {
        /// The key.
        key: KeyId,
        /// Whose it is.
        holder: KeyHolder,
        /// Who asked to register it.
        claimant: KeyHolder,
    },
    /// A key id, key or signature could not be read.
    #[error("malformed signature data: {0}")]
    Malformed(String),
}

/// The registered keys, as the ledger's key registrations and revocations made them.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, RegisteredKey>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a key; returns its id. Registering the same key again replaces its
    /// entry (a key belongs to one holder: the replacement must name the same one).
    pub fn register(&mut self, key: RegisteredKey) -> Result<KeyId, SignatureError> {
        let id = KeyId::of(&key.key);
        if let Some(existing) = self.keys.get(&id) {
            if existing.holder != key.holder {
                return Err(SignatureError::KeyTaken {
                    key: id,
                    holder: existing.holder.clone(),
                    claimant: key.holder,
                });
            }
        }
        self.keys.insert(id, key);
        Ok(id)
    }

    /// Revokes the key `id` from `at` on; `None` if it is not registered.
    pub fn revoke(&mut self, id: KeyId, at: Timestamp) -> Option<()> {
        let key = self.keys.get_mut(&id)?;
        key.revoked_at = Some(key.revoked_at.map_or(at, |r| r.min(at)));
        Some(())
    }

    /// Every registered key, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &RegisteredKey)> {
        self.keys.iter()
    }

    /// The key registered under `id`.
    pub fn get(&self, id: KeyId) -> Option<&RegisteredKey> {
        self.keys.get(&id)
    }

    /// Whether `record` carries the signature it needs: none for what a holder's
    /// phone records; otherwise a valid signature by a key registered to its
    /// recorder and valid when it was recorded.
    pub fn check(&self, record: &Evidence, signature: Option<&Seal>) -> Result<(), SignatureError> {
        let Some((registered, key, signature)) = self.signer_of(record, signature)? else {
            return Ok(());
        };
        registered
            .key
            .verify(
                &signed_message(record),
                &Signature::from_bytes(&signature.signature),
            )
            .map_err(|_| SignatureError::BadSignature {
                record: record.id.to_string(),
                key,
            })
    }

    /// Everything [`KeyRing::check`] asks but the signature itself: `None` if the
    /// record needs no signature, otherwise the key that must verify it.
    fn signer_of<'a>(
        &'a self,
        record: &Evidence,
        signature: Option<&'a Seal>,
    ) -> Result<Option<(&'a RegisteredKey, KeyId, &'a Seal)>, SignatureError> {
        let holder = match &record.recorded_by {
            Recorder::Holder | Recorder::Proxy(_) => return Ok(None),
            Recorder::Official(id) => KeyHolder::Official(id.clone()),
            Recorder::Source { id, .. } => KeyHolder::Source(id.clone()),
        };
        self.key_for(
            &record.id.to_string(),
            holder,
            record.recorded_at,
            signature,
        )
        .map(Some)
    }

    /// Whether `seal` is a valid signature over `message` by a key registered to
    /// `holder` and valid at `at`: what any signed statement other than a record
    /// (an official's decision on an appeal, say) is checked with. `what` names the
    /// statement in the refusal.
    pub fn check_message(
        &self,
        what: &str,
        holder: KeyHolder,
        at: Timestamp,
        message: &[u8],
        seal: Option<&Seal>,
    ) -> Result<(), SignatureError> {
        let (registered, key, seal) = self.key_for(what, holder, at, seal)?;
        registered
            .key
            .verify(message, &Signature::from_bytes(&seal.signature))
            .map_err(|_| SignatureError::BadSignature {
                record: what.to_owned(),
                key,
            })
    }

    /// The registered key `signature` names, if it is `holder`'s and valid at `at`.
    fn key_for<'a>(
        &'a self,
        what: &str,
        holder: KeyHolder,
        at: Timestamp,
        signature: Option<&'a Seal>,
    ) -> Result<(&'a RegisteredKey, KeyId, &'a Seal), SignatureError> {
        let name = || what.to_owned();
        let Some(signature) = signature else {
            return Err(SignatureError::Unsigned {
                record: name(),
                recorder: holder.to_string(),
            });
        };
        let key = KeyId(signature.key);
        let registered = self
            .keys
            .get(&key)
            .ok_or_else(|| SignatureError::UnknownKey {
                record: name(),
                key,
            })?;
        if registered.holder != holder {
            return Err(SignatureError::WrongSigner {
                record: name(),
                recorder: holder.to_string(),
                key,
                holder: registered.holder.clone(),
            });
        }
        let state = if at < registered.valid_from {
            Some("not yet registered")
        } else if registered.revoked_at.is_some_and(|r| at >= r) {
            Some("revoked")
        } else {
            None
        };
        if let Some(state) = state {
            return Err(SignatureError::KeyNotValid {
                record: name(),
                key,
                at,
                state,
            });
        }
        Ok((registered, key, signature))
    }

    /// [`KeyRing::check`] of each of `records` (each with its own `seal`), the
    /// signatures verified [`BATCH`] at a time with Ed25519 batch verification
    /// (about twice as fast as one by one); a batch that fails is verified one by
    /// one, so every refusal is exactly the one `check` gives.
    ///
    /// Batch verification is the cofactored equation, single verification the
    /// cofactorless one: they differ only on signatures with a small-order
    /// component, which only the key's own holder can make (nobody else can sign at
    /// all). Such a record would pass here and still not count in derivation, which
    /// checks one by one, and `mingma ledger verify` would name it.
    pub fn check_batch(&self, records: &[&Evidence]) -> Vec<Result<(), SignatureError>> {
        let mut outcomes: Vec<Result<(), SignatureError>> = Vec::with_capacity(records.len());
        // (index, message, signature, key) of the records whose signature must verify.
        let mut pending: Vec<(usize, Vec<u8>, Signature, VerifyingKey, KeyId)> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            match self.signer_of(record, record.seal.as_ref()) {
                Ok(None) => outcomes.push(Ok(())),
                Ok(Some((registered, key, seal))) => {
                    outcomes.push(Ok(()));
                    pending.push((
                        i,
                        signed_message(record),
                        Signature::from_bytes(&seal.signature),
                        registered.key,
                        key,
                    ));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        for group in pending.chunks(BATCH) {
            let messages: Vec<&[u8]> = group.iter().map(|p| p.1.as_slice()).collect();
            let signatures: Vec<Signature> = group.iter().map(|p| p.2).collect();
            let keys: Vec<VerifyingKey> = group.iter().map(|p| p.3).collect();
            if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
                continue;
            }
            for (i, message, signature, key, id) in group {
                if key.verify(message, signature).is_err() {
                    if let Some(outcome) = outcomes.get_mut(*i) {
                        *outcome = Err(SignatureError::BadSignature {
                            record: records
                                .get(*i)
                                .map(|r| r.id.to_string())
                                .unwrap_or_default(),
                            key: *id,
                        });
                    }
                }
            }
        }
        outcomes
    }
}

/// How many signatures [`KeyRing::check_batch`] verifies in one batch: large enough
/// for most of the gain, small enough that a bad signature costs little re-checking.
pub const BATCH: usize = 128;

/// Whether stored records count, by their seals, remembering the ones that did.
///
/// Derivation asks this of every record it is given: a record whose recorder must
/// sign (an official, a data source) counts only with a valid seal by a key
/// registered to that recorder. A record written into the database past the
/// service — with a forged seal, someone else's, or none — therefore never colours a
/// code. A verified record is remembered by a digest of its canonical bytes and
/// seal, so a record is checked once per process, not once per derivation; changing
/// the key ring forgets everything.
#[derive(Debug, Default)]
pub struct Vouching {
    keys: std::sync::RwLock<KeyRing>,
    /// Read by every derivation lane at every record, written once per record:
    /// a read-write lock, so the lanes do not queue behind each other.
    vouched: std::sync::RwLock<std::collections::HashSet<[u8; 16]>>,
}

impl Vouching {
    /// Vouching under `keys`.
    pub fn new(keys: KeyRing) -> Self {
        Vouching {
            keys: std::sync::RwLock::new(keys),
            vouched: Default::default(),
        }
    }

    /// Replaces the key ring (after a key was registered or revoked).
    pub fn set_keys(&self, keys: KeyRing) {
        if let Ok(mut ring) = self.keys.write() {
            *ring = keys;
        }
        if let Ok(mut vouched) = self.vouched.write() {
            vouched.clear();
        }
    }

    /// Why `record` does not count, if it does not.
    pub fn check(&self, record: &Evidence) -> Result<(), SignatureError> {
        if matches!(record.recorded_by, Recorder::Holder | Recorder::Proxy(_)) {
            return Ok(());
        }
        let digest = {
            let mut hash = Sha256::new();
            hash.update(canonical_bytes(record));
            if let Some(seal) = &record.seal {
                hash.update(seal.to_bytes());
            }
            let full = hash.finalize();
            let mut digest = [0u8; 16];
            digest.copy_from_slice(&full[..16]);
            digest
        };
        if self.vouched.read().is_ok_and(|v| v.contains(&digest)) {
            return Ok(());
        }
        let checked = match self.keys.read() {
            Ok(ring) => ring.check(record, record.seal.as_ref()),
            Err(_) => Err(SignatureError::Malformed(
                "the key ring is unavailable".into(),
            )),
        };
        if checked.is_ok() {
            if let Ok(mut vouched) = self.vouched.write() {
                vouched.insert(digest);
            }
        }
        checked
    }

    /// Whether `record` counts.
    pub fn counts(&self, record: &Evidence) -> bool {
        self.check(record).is_ok()
    }

    /// Why each of `records` does not count, if it does not, the signatures checked
    /// in batches ([`KeyRing::check_batch`]): what an import asks of every line.
    /// Nothing is remembered (an import sees each record once).
    pub fn check_batch(&self, records: &[&Evidence]) -> Vec<Result<(), SignatureError>> {
        match self.keys.read() {
            Ok(ring) => ring.check_batch(records),
            Err(_) => records
                .iter()
                .map(|_| {
                    Err(SignatureError::Malformed(
                        "the key ring is unavailable".into(),
                    ))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_core::{
        AuthorityId, EvidenceBody, Jurisdiction, RecordId, RiskAreaScope, RiskLevel, SourceKind,
        TestMethod, TestOutcome,
    };

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("a time")
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn declaration(by: &str) -> Evidence {
        Evidence {
            seal: None,
            id: RecordId::parse("ra-1").expect("id"),
            subject: None,
            recorded_by: Recorder::Official(OfficialId::parse(by).expect("id")),
            authority: Some(AuthorityId::parse("hc-4101").expect("id")),
            legal_basis: Some("《传染病防治法》第四十二条".into()),
            effective_at: t("2022-06-10T00:00:00+08:00"),
            recorded_at: t("2022-06-10T09:00:00+08:00"),
            body: EvidenceBody::RiskArea {
                area: RiskAreaScope::Divisions(vec![
                    Jurisdiction::parse("410105").expect("a district")
                ]),
                level: RiskLevel::High,
                from: t("2022-06-10T00:00:00+08:00"),
                until: t("2022-06-13T00:00:00+08:00"),
            },
        }
    }

    fn ring() -> KeyRing {
        let mut ring = KeyRing::new();
        for (seed, holder) in [
            (1, KeyHolder::Official(OfficialId::parse("li").expect("id"))),
            (
                2,
                KeyHolder::Official(OfficialId::parse("zhao").expect("id")),
            ),
            (
                3,
                KeyHolder::Source(DataSourceId::parse("lab-1").expect("id")),
            ),
        ] {
            ring.register(RegisteredKey {
                holder,
                key: key(seed).verifying_key(),
                valid_from: t("2022-01-01T00:00:00+08:00"),
                revoked_at: (seed == 2).then(|| t("2022-06-01T00:00:00+08:00")),
            })
            .expect("registered");
        }
        ring
    }

    #[test]
    fn an_officials_signed_record_is_accepted_and_any_change_to_it_is_not() {
        let ring = ring();
        let record = declaration("li");
        let signature = sign(&record, &key(1));
        assert_eq!(ring.check(&record, Some(&signature)), Ok(()));

        let mut widened = record.clone();
        let EvidenceBody::RiskArea { until, .. } = &mut widened.body else {
            unreachable!("a declaration")
        };
        *until = t("2022-06-20T00:00:00+08:00");
        assert!(matches!(
            ring.check(&widened, Some(&signature)),
            Err(SignatureError::BadSignature { .. })
        ));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let ring = ring();
        let record = declaration("li");
        let unsigned = ring.check(&record, None).expect_err("unsigned");
        assert_eq!(
            unsigned.to_string(),
            "record ra-1: unsigned; a record by official li must be signed with its registered key"
        );
        // Signed by a colleague's key: someone with database access cannot act as li.
        let by_zhao = sign(&record, &key(2));
        assert!(matches!(
            ring.check(&record, Some(&by_zhao)),
            Err(SignatureError::WrongSigner { .. })
        ));
        // zhao's key was revoked before the record was made.
        let record = declaration("zhao");
        let revoked = ring.check(&record, Some(&sign(&record, &key(2))));
        assert!(
            matches!(
                revoked,
                Err(SignatureError::KeyNotValid {
                    state: "revoked",
                    ..
                })
            ),
            "{revoked:?}"
        );
        // An unregistered key.
        let stranger = ring.check(&record, Some(&sign(&record, &key(9))));
        assert!(matches!(stranger, Err(SignatureError::UnknownKey { .. })));
    }

    #[test]
    fn sources_sign_with_their_key_and_holders_need_none() {
        let ring = ring();
        let test = Evidence {
            seal: None,
            id: RecordId::parse("t-1").expect("id"),
            subject: Some(mingma_core::PersonKey::from_bytes([5; 32])),
            recorded_by: Recorder::Source {
                id: DataSourceId::parse("lab-1").expect("id"),
                kind: SourceKind::Lab,
            },
            authority: Some(AuthorityId::parse("cdc-4101").expect("id")),
            legal_basis: None,
            effective_at: t("2022-06-10T08:00:00+08:00"),
            recorded_at: t("2022-06-10T20:00:00+08:00"),
            body: EvidenceBody::TestResult {
                method: TestMethod::NucleicAcid,
                outcome: TestOutcome::Negative,
                sampled_at: t("2022-06-10T08:00:00+08:00"),
            },
        };
        assert_eq!(ring.check(&test, Some(&sign(&test, &key(3)))), Ok(()));
        assert!(matches!(
            ring.check(&test, Some(&sign(&test, &key(1)))),
            Err(SignatureError::WrongSigner { .. })
        ));
        let mut scan = test.clone();
        scan.recorded_by = Recorder::Holder;
        assert_eq!(ring.check(&scan, None), Ok(()));
    }

    #[test]
    fn batch_checks_give_the_same_answers_as_single_checks() {
        let ring = ring();
        let mut records = Vec::new();
        for i in 0..150 {
            let mut record = declaration("li");
            record.id = RecordId::parse(&format!("ra-{i}")).expect("id");
            let mut record = sealed(record, &key(1));
            match i % 10 {
                // Tampered after signing.
                3 => record.legal_basis = Some("另一个依据".into()),
                // Unsigned.
                5 => record.seal = None,
                // Someone else's key.
                7 => record = sealed(record, &key(3)),
                _ => {}
            }
            records.push(record);
        }
        let refs: Vec<&Evidence> = records.iter().collect();
        let batch = ring.check_batch(&refs);
        assert_eq!(batch.len(), records.len());
        for (record, outcome) in records.iter().zip(&batch) {
            assert_eq!(
                outcome,
                &ring.check(record, record.seal.as_ref()),
                "{}",
                record.id
            );
        }
        assert_eq!(batch.iter().filter(|o| o.is_ok()).count(), 105);
        let vouching = Vouching::new(ring.clone());
        assert_eq!(vouching.check_batch(&refs), batch);
    }

    #[test]
    fn key_ids_print_and_parse() {
        let id = KeyId::of(&key(1).verifying_key());
        assert_eq!(KeyId::parse(&id.to_string()), Ok(id));
        assert!(KeyId::parse("xyz").is_err());
        assert!(KeyId::parse("00112233445566zz").is_err());
    }

    #[test]
    fn a_key_belongs_to_one_holder() {
        let mut ring = ring();
        let taken = ring.register(RegisteredKey {
            holder: KeyHolder::Official(OfficialId::parse("mallory").expect("id")),
            key: key(1).verifying_key(),
            valid_from: t("2022-01-01T00:00:00+08:00"),
            revoked_at: None,
        });
        assert!(
            matches!(taken, Err(SignatureError::KeyTaken { .. })),
            "{taken:?}"
        );
    }
}
