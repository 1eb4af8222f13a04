//! Salted commitments to evidence records, and the transparency-log leaf entry that
//! holds one (principle 4: leaves hold salted commitments, never personal data).
//!
//! A [`Commitment`] is
//!
//! ```text
//! SHA-256( "mingma/record-commitment/v1" 0x00  ||  salt (32 bytes)  ||  canonical_bytes(record) )
//! ```
//!
//! where `canonical_bytes` is the versioned encoding of [`crate::canonical`]. The
//! salt is chosen per record by the caller (the core has no randomness) from a
//! cryptographic random source, kept with the record, and given to the holder in a
//! receipt: with it the holder can open the commitment to their own record; without
//! it nobody can confirm a guess at a record's contents (a person's test result, a
//! venue visit), however few the possibilities.
//!
//! A [`LeafEntry`] is what one log leaf says about a record: its id, type, owning
//! authority, times and commitment. It names no person, ID number, venue, port,
//! origin, facility, legal basis or reason text: those are only inside the
//! commitment, so purging a record for retention leaves the log intact.
//!
//! # Leaf entry layout (entry format version 1)
//!
//! Same framing as the record encoding (version byte, then `tag:u8 length:u32-BE
//! value` fields in strictly ascending tag order, optional fields absent when `None`,
//! value encodings as in [`crate::canonical`]):
//!
//! | tag | field | value | presence |
//! |---|---|---|---|
//! | `0x01` | `record` | *id* of the record | required |
//! | `0x02` | `kind` | *name* of the [`EvidenceKind`] | required |
//! | `0x03` | `authority` | *id* of the owning authority | when `Some` |
//! | `0x04` | `effective_at` | *time* | required |
//! | `0x05` | `recorded_at` | *time* | required |
//! | `0x06` | `commitment` | 32 bytes | required |

#![deny(
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::canonical::{
    canonical_bytes, read_fixed, read_id, read_name, read_time, read_version, time_bytes,
    CanonicalError, FieldWriter, Fields, FORMAT_VERSION,
};
use crate::evidence::{Evidence, EvidenceKind};
pub use crate::hex::HexError;
use crate::hex::{from_hex, to_hex};
use crate::ids::{AuthorityId, RecordId};
use crate::time::Timestamp;

/// The domain-separation prefix hashed before the salt and the record's bytes.
pub const COMMITMENT_DOMAIN: &[u8] = b"mingma/record-commitment/v1\0";

/// The per-record secret that blinds a [`Commitment`]: 32 bytes the caller draws
/// from a cryptographic random source for each record (never reused, never derived
/// from the record), keeps with the record and hands to the holder in a receipt.
///
/// `Display` and [`Salt::parse_hex`] use 64 lower-case hexadecimal digits, for
/// receipts; `Debug` does not show the salt, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Salt([u8; 32]);

impl Salt {
    /// A salt from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The salt's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal digits.
    pub fn parse_hex(text: &str) -> Result<Self, HexError> {
        from_hex(text).map(Self)
    }
}

impl fmt::Display for Salt {
    /// 64 lower-case hexadecimal digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        to_hex(&self.0, f)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(..)")
    }
}

impl FromStr for Salt {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_hex(s)
    }
}

/// A salted commitment to one record: SHA-256 over [`COMMITMENT_DOMAIN`], the
/// [`Salt`] and the record's canonical bytes. Shown as 64 lower-case hexadecimal
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Commitment([u8; 32]);

impl Commitment {
    /// A commitment from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The commitment's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal digits.
    pub fn parse_hex(text: &str) -> Result<Self, HexError> {
        from_hex(text).map(Self)
    }

    /// Whether this commits to `evidence` under `salt`.
    pub fn opens(&self, salt: &Salt, evidence: &Evidence) -> bool {
        *self == commit(salt, evidence)
    }

    /// Whether this commits to the canonical bytes `canonical` under `salt` (for a
    /// holder or auditor who has the bytes, e.g. from a receipt, but not the record).
    pub fn opens_bytes(&self, salt: &Salt, canonical: &[u8]) -> bool {
        *self == commit_canonical(salt, canonical)
    }
}

impl fmt::Display for Commitment {
    /// 64 lower-case hexadecimal digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        to_hex(&self.0, f)
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Commitment(")?;
        to_hex(&self.0, f)?;
        f.write_str(")")
    }
}

impl FromStr for Commitment {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_hex(s)
    }
}

/// The commitment to `evidence` under `salt`.
pub fn commit(salt: &Salt, evidence: &Evidence) -> Commitment {
    commit_canonical(salt, &canonical_bytes(evidence))
}

/// The commitment to a record given its canonical bytes (as [`canonical_bytes`]
/// returns them; they are hashed as given, not checked).
pub fn commit_canonical(salt: &Salt, canonical: &[u8]) -> Commitment {
    let mut hash = Sha256::new();
    hash.update(COMMITMENT_DOMAIN);
    hash.update(salt.as_bytes());
    hash.update(canonical);
    Commitment(hash.finalize().into())
}

mod leaf_tag {
    pub const RECORD: u8 = 0x01;
    pub const KIND: u8 = 0x02;
    pub const AUTHORITY: u8 = 0x03;
    pub const EFFECTIVE_AT: u8 = 0x04;
    pub const RECORDED_AT: u8 = 0x05;
    pub const COMMITMENT: u8 = 0x06;
    pub const ALL: &[u8] = &[
        RECORD,
        KIND,
        AUTHORITY,
        EFFECTIVE_AT,
        RECORDED_AT,
        COMMITMENT,
    ];
}

/// What one transparency-log leaf says about an evidence record — and nothing
/// personal: the record's id, type, owning authority and times, and the salted
/// [`Commitment`] to everything else.
///
/// Record ids are chosen by authorities and sources, not derived from people; they
/// should stay opaque (a sample or declaration number is fine, an ID number is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafEntry {
    /// The record's id.
    pub record: RecordId,
    /// The record's type.
    pub kind: EvidenceKind,
    /// The authority that owns the record (`None` for venue scans).
    pub authority: Option<AuthorityId>,
    /// When the record takes effect.
    pub effective_at: Timestamp,
    /// When the record was recorded.
    pub recorded_at: Timestamp,
    /// The salted commitment to the record's canonical bytes.
    pub commitment: Commitment,
}

impl LeafEntry {
    /// The entry format version, the first byte of [`LeafEntry::to_bytes`].
    pub const FORMAT_VERSION: u8 = FORMAT_VERSION;

    /// The leaf entry of `evidence`, committed under `salt`.
    pub fn for_record(evidence: &Evidence, salt: &Salt) -> Self {
        Self {
            record: evidence.id.clone(),
            kind: evidence.kind(),
            authority: evidence.authority.clone(),
            effective_at: evidence.effective_at,
            recorded_at: evidence.recorded_at,
            commitment: commit(salt, evidence),
        }
    }

    /// The entry's bytes (entry format version 1; layout in the module
    /// documentation): what the log stores as the leaf.
    pub fn to_bytes(&self) -> Vec<u8> {
        use leaf_tag as t;
        let mut w = FieldWriter::with_prefix(&[Self::FORMAT_VERSION]);
        w.field(t::RECORD, self.record.as_str().as_bytes());
        w.field(t::KIND, self.kind.name().as_bytes());
        w.optional(
            t::AUTHORITY,
            self.authority.as_ref().map(|a| a.as_str().as_bytes()),
        );
        w.field(t::EFFECTIVE_AT, &time_bytes(self.effective_at));
        w.field(t::RECORDED_AT, &time_bytes(self.recorded_at));
        w.field(t::COMMITMENT, self.commitment.as_bytes());
        w.finish()
    }

    /// Reads an entry's bytes, as strictly as [`crate::decode_canonical`] reads a
    /// record. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CanonicalError> {
        use leaf_tag as t;
        let rest = read_version(bytes)?;
        let mut f = Fields::read(rest, "leaf", t::ALL)?;
        let entry = Self {
            record: read_id(f.required(t::RECORD, "record")?, "record", RecordId::parse)?,
            kind: read_name(
                f.required(t::KIND, "kind")?,
                "kind",
                EvidenceKind::from_name,
            )?,
            authority: f
                .optional(t::AUTHORITY)
                .map(|v| read_id(v, "authority", AuthorityId::parse))
                .transpose()?,
            effective_at: read_time(f.required(t::EFFECTIVE_AT, "effective_at")?, "effective_at")?,
            recorded_at: read_time(f.required(t::RECORDED_AT, "recorded_at")?, "recorded_at")?,
            commitment: Commitment(read_fixed::<32>(
                f.required(t::COMMITMENT, "commitment")?,
                "commitment",
            )?),
        };
        f.finish("leaf")?;
        if entry.to_bytes() != bytes {
            return Err(CanonicalError::NonCanonical);
        }
        Ok(entry)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::arithmetic_side_effects
)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::canonical::tests::{arb_evidence, person, proxy, samples, FREE_TEXTS};
    use crate::canonical::FORMAT_VERSION;
    use crate::evidence::{EvidenceBody, Exposure, Recorder, RiskAreaScope};

    fn salt(byte: u8) -> Salt {
        Salt::from_bytes([byte; 32])
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    fn entry(fields: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![1u8];
        for f in fields {
            out.extend_from_slice(f);
        }
        out
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn test_result() -> Evidence {
        samples().into_iter().next().unwrap()
    }

    #[test]
    fn commitments_open_only_with_their_salt_and_record() {
        let records = samples();
        for (i, e) in records.iter().enumerate() {
            let c = commit(&salt(1), e);
            assert!(c.opens(&salt(1), e), "{}", e.id);
            assert!(c.opens_bytes(&salt(1), &crate::canonical_bytes(e)));
            assert!(!c.opens(&salt(2), e), "{}", e.id);
            assert_ne!(c, commit(&salt(2), e));
            for (j, other) in records.iter().enumerate() {
                if i != j {
                    assert!(!c.opens(&salt(1), other), "{} vs {}", e.id, other.id);
                }
            }
        }
        // A change to any field, even one the leaf does not show, breaks the opening.
        let e = test_result();
        let c = commit(&salt(1), &e);
        let mut changed = e.clone();
        changed.body = EvidenceBody::TestResult {
            method: crate::TestMethod::NucleicAcid,
            outcome: crate::TestOutcome::Negative,
            sampled_at: e.effective_at,
        };
        assert!(!c.opens(&salt(1), &changed));
        let mut changed = e.clone();
        changed.subject = Some(proxy());
        assert!(!c.opens(&salt(1), &changed));
    }

    /// Pins one commitment, computed independently as
    /// `sha256(b"mingma/record-commitment/v1\0" + bytes([0x11]*32) + canonical)`.
    #[test]
    fn golden_commitment_never_drifts() {
        let c = commit(&salt(0x11), &test_result());
        assert_eq!(c.to_string(), GOLDEN_COMMITMENT);
        assert_eq!(COMMITMENT_DOMAIN, b"mingma/record-commitment/v1\0");
    }

    const GOLDEN_COMMITMENT: &str =
        "5c7f39dffeb755efc458fdaa4f17ed7d4c52279233e16323b630f9c66de970c5";

    #[test]
    fn hex_is_exactly_64_digits() {
        let c = commit(&salt(3), &test_result());
        assert_eq!(Commitment::parse_hex(&c.to_string()), Ok(c));
        assert_eq!(c.to_string().parse::<Commitment>(), Ok(c));
        assert_eq!(Commitment::parse_hex(&c.to_string().to_uppercase()), Ok(c));
        let s = Salt::parse_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(s, Salt::from_bytes([0xab; 32]));
        assert_eq!(s.to_string(), "ab".repeat(32));
        assert_eq!(format!("{s:?}"), "Salt(..)");
        assert!(format!("{c:?}").contains(&c.to_string()));
        let good = "0".repeat(64);
        for bad in [
            String::new(),
            "0".repeat(63),
            "0".repeat(65),
            format!("+f{}", &good[2..]),
            format!("0x{}", &good[2..]),
            format!(" {}", &good[1..]),
            format!("g{}", &good[1..]),
            format!("é{}", &good[2..]),
        ] {
            assert_eq!(Commitment::parse_hex(&bad), Err(HexError), "{bad:?}");
            assert_eq!(Salt::parse_hex(&bad), Err(HexError), "{bad:?}");
        }
    }

    #[test]
    fn leaf_entries_say_what_the_record_is_and_round_trip() {
        for e in samples() {
            let leaf = LeafEntry::for_record(&e, &salt(9));
            assert_eq!(leaf.record, e.id);
            assert_eq!(leaf.kind, e.kind());
            assert_eq!(leaf.authority, e.authority);
            assert_eq!(leaf.effective_at, e.effective_at);
            assert_eq!(leaf.recorded_at, e.recorded_at);
            assert!(leaf.commitment.opens(&salt(9), &e));
            let bytes = leaf.to_bytes();
            assert_eq!(bytes.first(), Some(&LeafEntry::FORMAT_VERSION));
            assert_eq!(LeafEntry::from_bytes(&bytes), Ok(leaf));
        }
    }

    /// A leaf names no person and carries no free text: subject and proxy keys, ID
    /// numbers, venues, ports, origins, facilities, legal bases, reasons, recorders
    /// and streets are only inside the commitment.
    #[test]
    fn leaf_bytes_hold_no_personal_data_or_free_text() {
        let id_number = b"11010519491231002X";
        for e in samples() {
            let bytes = LeafEntry::for_record(&e, &salt(9)).to_bytes();
            let mut secrets: Vec<Vec<u8>> = vec![
                person().as_bytes().to_vec(),
                person().to_string().into_bytes(),
                proxy().as_bytes().to_vec(),
                id_number.to_vec(),
            ];
            secrets.extend(FREE_TEXTS.iter().map(|t| t.as_bytes().to_vec()));
            if let Some(basis) = &e.legal_basis {
                secrets.push(basis.clone().into_bytes());
            }
            match &e.recorded_by {
                Recorder::Official(id) => secrets.push(id.as_str().as_bytes().to_vec()),
                Recorder::Source { id, .. } => secrets.push(id.as_str().as_bytes().to_vec()),
                Recorder::Holder | Recorder::Proxy(_) => {}
            }
            match &e.body {
                EvidenceBody::BorderEntry {
                    port,
                    origin,
                    name,
                    document,
                } => {
                    secrets.push(port.clone().into_bytes());
                    secrets.push(origin.clone().into_bytes());
                    secrets.extend(name.clone().map(String::into_bytes));
                    secrets.extend(document.clone().map(String::into_bytes));
                }
                EvidenceBody::QuarantineOrder { facility, .. } => {
                    secrets.extend(facility.clone().map(String::into_bytes));
                }
                EvidenceBody::Retraction { reason, .. }
                | EvidenceBody::Rejection { reason, .. } => {
                    secrets.push(reason.clone().into_bytes());
                }
                EvidenceBody::VenueScan { venue, street, .. } => {
                    secrets.push(venue.as_str().as_bytes().to_vec());
                    secrets.push(street.to_string().into_bytes());
                }
                EvidenceBody::CloseContact {
                    exposure: Exposure::Venue { venue, .. },
                    ..
                } => secrets.push(venue.as_str().as_bytes().to_vec()),
                EvidenceBody::RiskArea {
                    area: RiskAreaScope::Venues(venues),
                    ..
                } => secrets.extend(venues.iter().map(|v| v.as_str().as_bytes().to_vec())),
                _ => {}
            }
            for secret in &secrets {
                assert!(
                    !contains(&bytes, secret),
                    "leaf of {} contains {:?}",
                    e.id,
                    String::from_utf8_lossy(secret)
                );
            }
            // And the canonical bytes, by contrast, do hold them (the test is real).
            let canonical = crate::canonical_bytes(&e);
            if e.subject.is_some() {
                assert!(contains(&canonical, person().as_bytes()));
            }
            if let Some(basis) = &e.legal_basis {
                assert!(basis.is_empty() || contains(&canonical, basis.as_bytes()));
            }
        }
    }

    #[test]
    fn hand_built_leaf_bytes_from_the_table_are_the_encoding() {
        let e = test_result();
        let leaf = LeafEntry::for_record(&e, &salt(0x11));
        let fields = vec![
            tlv(0x01, b"lab-01:2022-06-13.0001"),
            tlv(0x02, b"test_result"),
            tlv(0x03, b"zz-cdc"),
            tlv(0x04, &e.effective_at.unix_seconds().to_be_bytes()),
            tlv(0x05, &e.recorded_at.unix_seconds().to_be_bytes()),
            tlv(0x06, leaf.commitment.as_bytes()),
        ];
        assert_eq!(leaf.to_bytes(), entry(&fields));
        assert_eq!(hex(&leaf.to_bytes()), GOLDEN_LEAF);
    }

    const GOLDEN_LEAF: &str = "0101000000166c61622d30313a323032322d30362d31332e30303031020000000b746573745f726573756c7403000000067a7a2d63646304000000080000000062a70aa005000000080000000062a70adc06000000205c7f39dffeb755efc458fdaa4f17ed7d4c52279233e16323b630f9c66de970c5";

    #[test]
    fn leaf_decoding_is_strict() {
        let e = test_result();
        let leaf = LeafEntry::for_record(&e, &salt(0x11));
        let fields = || {
            vec![
                tlv(0x01, b"lab-01:2022-06-13.0001"),
                tlv(0x02, b"test_result"),
                tlv(0x03, b"zz-cdc"),
                tlv(0x04, &e.effective_at.unix_seconds().to_be_bytes()),
                tlv(0x05, &e.recorded_at.unix_seconds().to_be_bytes()),
                tlv(0x06, leaf.commitment.as_bytes()),
            ]
        };
        let err = |bytes: Vec<u8>| LeafEntry::from_bytes(&bytes).expect_err("must be refused");
        assert_eq!(LeafEntry::from_bytes(&[]), Err(CanonicalError::Empty));
        let mut bytes = entry(&fields());
        bytes[0] = 2;
        assert_eq!(err(bytes), CanonicalError::UnsupportedVersion(2));
        let mut f = fields();
        f.push(tlv(0x07, b"subject"));
        assert_eq!(
            err(entry(&f)),
            CanonicalError::UnknownTag {
                context: "leaf",
                tag: 0x07
            }
        );
        let mut f = fields();
        f.insert(1, tlv(0x01, b"x"));
        assert_eq!(
            err(entry(&f)),
            CanonicalError::DuplicateTag {
                context: "leaf",
                tag: 0x01
            }
        );
        let mut f = fields();
        f.swap(3, 4);
        assert!(matches!(
            err(entry(&f)),
            CanonicalError::OutOfOrder {
                context: "leaf",
                ..
            }
        ));
        let mut bytes = entry(&fields());
        bytes.push(0);
        assert_eq!(
            err(bytes),
            CanonicalError::TrailingBytes {
                context: "leaf",
                count: 1
            }
        );
        let mut f = fields();
        f.remove(5);
        assert_eq!(
            err(entry(&f)),
            CanonicalError::MissingField {
                context: "leaf",
                field: "commitment"
            }
        );
        let mut f = fields();
        f[5] = tlv(0x06, &[0; 31]);
        assert_eq!(
            err(entry(&f)),
            CanonicalError::BadLength {
                field: "commitment",
                expected: 32,
                found: 31
            }
        );
        let mut f = fields();
        f[1] = tlv(0x02, b"TestResult");
        assert!(matches!(
            err(entry(&f)),
            CanonicalError::InvalidName { field: "kind", .. }
        ));
        let mut f = fields();
        f[0] = tlv(0x01, b"id with space");
        assert!(matches!(
            err(entry(&f)),
            CanonicalError::InvalidId {
                field: "record",
                ..
            }
        ));
        let mut f = fields();
        f[3] = tlv(0x04, &0i64.to_be_bytes());
        assert!(matches!(
            err(entry(&f)),
            CanonicalError::InvalidTimestamp {
                field: "effective_at",
                seconds: 0
            }
        ));
        // A record's canonical bytes are not a leaf entry.
        assert!(LeafEntry::from_bytes(&crate::canonical_bytes(&e)).is_err());
        // Every truncation is refused.
        let good = entry(&fields());
        for cut in 0..good.len() {
            assert!(LeafEntry::from_bytes(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(FORMAT_VERSION, LeafEntry::FORMAT_VERSION);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_leaves_round_trip_and_hide_the_subject(
            e in arb_evidence(),
            bytes in any::<[u8; 32]>(),
        ) {
            let salt = Salt::from_bytes(bytes);
            let leaf = LeafEntry::for_record(&e, &salt);
            let encoded = leaf.to_bytes();
            prop_assert_eq!(LeafEntry::from_bytes(&encoded), Ok(leaf.clone()));
            prop_assert!(leaf.commitment.opens(&salt, &e));
            if let Some(subject) = e.subject {
                prop_assert!(!contains(&encoded, subject.as_bytes()));
            }
            if let Recorder::Proxy(key) = e.recorded_by {
                prop_assert!(!contains(&encoded, key.as_bytes()));
            }
        }

        #[test]
        fn different_salts_give_different_commitments(
            e in arb_evidence(),
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
        ) {
            prop_assume!(a != b);
            let (a, b) = (Salt::from_bytes(a), Salt::from_bytes(b));
            prop_assert_ne!(commit(&a, &e), commit(&b, &e));
            prop_assert!(!commit(&a, &e).opens(&b, &e));
        }

        #[test]
        fn arbitrary_leaf_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = LeafEntry::from_bytes(&bytes);
            let mut versioned = vec![LeafEntry::FORMAT_VERSION];
            versioned.extend_from_slice(&bytes);
            if let Ok(leaf) = LeafEntry::from_bytes(&versioned) {
                prop_assert_eq!(leaf.to_bytes(), versioned);
            }
        }

        #[test]
        fn damaged_leaves_never_panic_and_stay_canonical(
            e in arb_evidence(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let mut bytes = LeafEntry::for_record(&e, &Salt::from_bytes([5; 32])).to_bytes();
            for (at, byte, op) in edits {
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => { bytes.remove(i); }
                }
                if bytes.is_empty() { break; }
            }
            if let Ok(leaf) = LeafEntry::from_bytes(&bytes) {
                prop_assert_eq!(leaf.to_bytes(), bytes);
            }
        }
    }
}
