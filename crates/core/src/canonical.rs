//! The canonical encoding of evidence records: the bytes a record's commitment is
//! computed over (principle 4: transparency-log leaves hold salted commitments to
//! these bytes, never the record itself).
//!
//! The encoding is deterministic (one record, one byte string; [`decode_canonical`]
//! accepts exactly the strings [`canonical_bytes`] produces) and versioned from day
//! one, so that fields added later never change the bytes, and therefore the
//! commitments, of records written before.
//!
//! # Layout (format version 1)
//!
//! ```text
//! record := version fields          version = 0x01
//! fields := field*                  tags strictly ascending, each at most once
//! field  := tag:u8  length:u32 (big-endian)  value:[u8; length]
//! ```
//!
//! Nothing precedes the version byte and nothing follows the last field. An optional
//! field whose value is `None` is left out; an optional field that is present is
//! written even when its value is empty (`Some("")` is a zero-length value). Every
//! nested structure (marked *TLV* below) is itself a `fields` sequence with its own
//! tags, as the value of one field.
//!
//! Value encodings:
//!
//! | name | bytes |
//! |---|---|
//! | *id* | the identifier's text ([`RecordId`], [`AuthorityId`], ...): 1-64 ASCII characters from `A-Z a-z 0-9 - _ . :` |
//! | *text* | UTF-8, exactly as stored (no normalisation, no trimming) |
//! | *name* | an enum's name as used in files, ASCII, e.g. `test_result`, `nucleic_acid`, `static_poster` |
//! | *time* | a [`Timestamp`]: seconds since 1970-01-01T00:00:00Z as an `i64`, big-endian, 8 bytes; 2000-2099 only |
//! | *key* | a [`PersonKey`]: its 32 bytes |
//! | *code* | a [`Jurisdiction`]: its GB/T 2260 code as ASCII digits (2, 4, 6 or 9), e.g. `410102001` |
//! | *list(x)* | zero or more items, in order, each `length:u32 (big-endian) value:[u8; length]` holding one *x*; an empty list is a zero-length value |
//!
//! Record (after the version byte):
//!
//! | tag | field | value | presence |
//! |---|---|---|---|
//! | `0x01` | `id` | *id* | required |
//! | `0x02` | `kind` | *name* of the [`EvidenceKind`] | required |
//! | `0x03` | `subject` | *key* | when `Some` |
//! | `0x04` | `recorded_by` | *TLV* Recorder | required |
//! | `0x05` | `authority` | *id* | when `Some` |
//! | `0x06` | `legal_basis` | *text* | when `Some` |
//! | `0x07` | `effective_at` | *time* | required |
//! | `0x08` | `recorded_at` | *time* | required |
//! | `0x09` | `body` | *TLV* body of the `kind` (below) | required |
//!
//! Recorder (`0x01` names the variant; the other fields are present exactly when the
//! variant has them):
//!
//! | tag | field | value | variant |
//! |---|---|---|---|
//! | `0x01` | variant | *name*: `official`, `source`, `holder` or `proxy` | all |
//! | `0x02` | official | *id* ([`OfficialId`]) | `official` |
//! | `0x03` | source | *id* ([`DataSourceId`]) | `source` |
//! | `0x04` | source kind | *name* of the [`SourceKind`] | `source` |
//! | `0x05` | proxy | *key* | `proxy` |
//!
//! Bodies, by `kind` (all fields required unless marked optional):
//!
//! | kind | `0x01` | `0x02` | `0x03` | `0x04` | `0x05` |
//! |---|---|---|---|---|---|
//! | `test_result` | method *name* | outcome *name* | sampled_at *time* | | |
//! | `case_report` | classification *name* | test *id*, optional | | | |
//! | `case_closure` | case *id* | outcome *name* | | | |
//! | `close_contact` | case *id* | exposure *TLV* Exposure | | | |
//! | `border_entry` | port *text* | origin *text* | | | |
//! | `quarantine_order` | setting *name* | facility *text*, optional | ground *id* | planned_end *time* | |
//! | `quarantine_release` | order *id* | | | | |
//! | `risk_area` | level *name* | area *TLV* Scope | from *time* | until *time* | |
//! | `venue_scan` | venue *id* | street *code* | venue_kind *name* | left_at *time*, optional | presence *name* |
//! | `retraction` | target *id* | reason *text* | | | |
//! | `approval` | target *id* | | | | |
//! | `rejection` | target *id* | reason *text* | | | |
//!
//! Exposure (a close contact's):
//!
//! | tag | field | value | variant |
//! |---|---|---|---|
//! | `0x01` | variant | *name*: `household` or `venue` | all |
//! | `0x02` | venue | *id* ([`VenueId`]) | `venue` |
//! | `0x03` | from | *time* | `venue` |
//! | `0x04` | until | *time* | `venue` |
//! | `0x05` | scans | *list(id)* of [`RecordId`]s | `venue` (present even when empty) |
//!
//! Scope (a risk area's):
//!
//! | tag | field | value | variant |
//! |---|---|---|---|
//! | `0x01` | variant | *name*: `divisions` or `venues` | all |
//! | `0x02` | divisions | *list(code)* | `divisions` (present even when empty) |
//! | `0x03` | venues | *list(id)* of [`VenueId`]s | `venues` (present even when empty) |
//!
//! # Evolution
//!
//! A field added later gets a new tag (in the record, the recorder, a body, ...), and a
//! new type, variant or enum value gets a new name. The version byte stays `0x01`: a
//! record that does not use the addition encodes exactly as it did before, so its
//! commitment still opens. A version-1 decoder refuses what it does not know — an
//! unknown tag, name or version — rather than guess. The version byte changes only if
//! the framing or the meaning of an existing tag ever has to change, and then as a
//! second format beside this one: version-1 bytes stay valid forever.
//!
//! # Strictness
//!
//! [`decode_canonical`] rejects, with a [`CanonicalError`] naming the place: a missing
//! or unknown version, unknown tags, repeated or out-of-order tags, missing required
//! fields, fields that do not belong to the variant, lengths that run past their
//! enclosing bytes, bytes left over that do not form a field, fixed-width values of the
//! wrong width, invalid UTF-8, unknown names, and identifiers, times and division
//! codes that their types' own checked constructors refuse. It never panics, whatever
//! the input. As a last guard it re-encodes what it decoded and refuses the input if
//! the bytes differ, so two different byte strings never decode to the same record.
//!
//! Decoding depends on the shipped GB/T 2260 table: a division that a later table no
//! longer lists stops decoding, but the record's bytes and commitment are unaffected
//! (opening a commitment re-encodes the record; it does not decode it).

#![deny(
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use crate::division::{Jurisdiction, JurisdictionError};
use crate::evidence::{
    CaseClass, ClosureOutcome, Evidence, EvidenceBody, EvidenceKind, Exposure, Presence,
    QuarantineSetting, Recorder, RiskAreaScope, RiskLevel, SourceKind, TestMethod, TestOutcome,
    VenueKind,
};
use crate::identity::PersonKey;
use crate::ids::{AuthorityId, DataSourceId, IdError, OfficialId, RecordId, VenueId};
use crate::time::Timestamp;

/// The format version written as the first byte of every canonical encoding.
pub const FORMAT_VERSION: u8 = 1;

/// Why bytes are not the canonical encoding of a record (or of a leaf entry).
///
/// `context` names the structure being read (`record`, `recorded_by`, `body`,
/// `body.exposure`, `leaf`, a list field, ...); `field` names a field by its path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// No bytes at all: not even a version byte.
    #[error("no bytes: an encoding starts with its format version")]
    Empty,
    /// The first byte is not a version this decoder reads.
    #[error("format version {0} is not supported (this decoder reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    /// A tag this version does not define in this place.
    #[error("{context}: tag {tag:#04x} is not defined in format version {FORMAT_VERSION}")]
    UnknownTag {
        /// The structure being read.
        context: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A tag that appeared before in the same structure.
    #[error("{context}: tag {tag:#04x} appears twice")]
    DuplicateTag {
        /// The structure being read.
        context: &'static str,
        /// The repeated tag.
        tag: u8,
    },
    /// A tag lower than the one before it.
    #[error("{context}: tag {tag:#04x} follows tag {previous:#04x}, but tags must ascend")]
    OutOfOrder {
        /// The structure being read.
        context: &'static str,
        /// The tag found.
        tag: u8,
        /// The tag before it.
        previous: u8,
    },
    /// A declared length that runs past the end of the enclosing bytes.
    #[error("{context}: a value declares {declared} bytes but only {available} remain")]
    Truncated {
        /// The structure (or list) being read.
        context: &'static str,
        /// The length declared.
        declared: u32,
        /// The bytes that remain.
        available: usize,
    },
    /// Bytes after the last complete field (or list item) that are too few to form
    /// another one.
    #[error("{context}: {count} bytes after the last complete field do not form a field")]
    TrailingBytes {
        /// The structure (or list) being read.
        context: &'static str,
        /// How many bytes are left over.
        count: usize,
    },
    /// A required field is absent.
    #[error("{context}: the required field `{field}` is missing")]
    MissingField {
        /// The structure being read.
        context: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A known field that the variant being read does not have.
    #[error("{context}: field {tag:#04x} does not belong to a `{variant}`")]
    UnexpectedField {
        /// The structure being read.
        context: &'static str,
        /// The tag of the field.
        tag: u8,
        /// The variant (or record kind) being read.
        variant: &'static str,
    },
    /// A fixed-width value (a time, a key, a commitment) of the wrong width.
    #[error("`{field}` must be {expected} bytes, found {found}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// The width required.
        expected: usize,
        /// The width found.
        found: usize,
    },
    /// A text value that is not UTF-8.
    #[error("`{field}` is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// A name that is not one of the field's values.
    #[error("`{field}`: `{value}` is not a known value")]
    InvalidName {
        /// The field.
        field: &'static str,
        /// The name found (lossily decoded).
        value: String,
    },
    /// An identifier its type refuses.
    #[error("`{field}`: {source}")]
    InvalidId {
        /// The field.
        field: &'static str,
        /// Why the identifier was refused.
        source: IdError,
    },
    /// A time outside 2000-2099.
    #[error("`{field}`: {seconds} seconds since the epoch is outside the years 2000-2099")]
    InvalidTimestamp {
        /// The field.
        field: &'static str,
        /// The value found.
        seconds: i64,
    },
    /// A division code that is malformed or not in the shipped table.
    #[error("`{field}`: {source}")]
    InvalidJurisdiction {
        /// The field.
        field: &'static str,
        /// Why the code was refused.
        source: JurisdictionError,
    },
    /// The bytes decode, but are not the encoding of what they decode to.
    #[error("the bytes are not the canonical encoding of the value they decode to")]
    NonCanonical,
}

type Result<T> = std::result::Result<T, CanonicalError>;

// ---------------------------------------------------------------------------------
// Tags. Numbers here are the format: never renumber, never reuse.

mod record_tag {
    pub const ID: u8 = 0x01;
    pub const KIND: u8 = 0x02;
    pub const SUBJECT: u8 = 0x03;
    pub const RECORDED_BY: u8 = 0x04;
    pub const AUTHORITY: u8 = 0x05;
    pub const LEGAL_BASIS: u8 = 0x06;
    pub const EFFECTIVE_AT: u8 = 0x07;
    pub const RECORDED_AT: u8 = 0x08;
    pub const BODY: u8 = 0x09;
    pub const ALL: &[u8] = &[
        ID,
        KIND,
        SUBJECT,
        RECORDED_BY,
        AUTHORITY,
        LEGAL_BASIS,
        EFFECTIVE_AT,
        RECORDED_AT,
        BODY,
    ];
}

mod recorder_tag {
    pub const VARIANT: u8 = 0x01;
    pub const OFFICIAL: u8 = 0x02;
    pub const SOURCE: u8 = 0x03;
    pub const SOURCE_KIND: u8 = 0x04;
    pub const PROXY: u8 = 0x05;
    pub const ALL: &[u8] = &[VARIANT, OFFICIAL, SOURCE, SOURCE_KIND, PROXY];
}

mod exposure_tag {
    pub const VARIANT: u8 = 0x01;
    pub const VENUE: u8 = 0x02;
    pub const FROM: u8 = 0x03;
    pub const UNTIL: u8 = 0x04;
    pub const SCANS: u8 = 0x05;
    pub const ALL: &[u8] = &[VARIANT, VENUE, FROM, UNTIL, SCANS];
}

mod scope_tag {
    pub const VARIANT: u8 = 0x01;
    pub const DIVISIONS: u8 = 0x02;
    pub const VENUES: u8 = 0x03;
    pub const ALL: &[u8] = &[VARIANT, DIVISIONS, VENUES];
}

/// The body tags each kind defines (see the table in the module documentation).
fn body_tags(kind: EvidenceKind) -> &'static [u8] {
    match kind {
        EvidenceKind::TestResult => &[0x01, 0x02, 0x03],
        EvidenceKind::CaseReport => &[0x01, 0x02],
        EvidenceKind::CaseClosure => &[0x01, 0x02],
        EvidenceKind::CloseContact => &[0x01, 0x02],
        EvidenceKind::BorderEntry => &[0x01, 0x02, 0x03, 0x04],
        EvidenceKind::QuarantineOrder => &[0x01, 0x02, 0x03, 0x04],
        EvidenceKind::QuarantineRelease => &[0x01],
        EvidenceKind::RiskArea => &[0x01, 0x02, 0x03, 0x04],
        EvidenceKind::VenueScan => &[0x01, 0x02, 0x03, 0x04, 0x05],
        EvidenceKind::Retraction => &[0x01, 0x02],
        EvidenceKind::Approval => &[0x01],
        EvidenceKind::Rejection => &[0x01, 0x02],
    }
}

// ---------------------------------------------------------------------------------
// Writing.

/// Appends `value` with a 4-byte big-endian length prefix.
///
/// Panics if `value` is 4 GiB or longer, which no record can reach through any
/// interface of the platform; see [`canonical_bytes`].
#[allow(clippy::panic)]
fn put_len_prefixed(out: &mut Vec<u8>, value: &[u8]) {
    let Ok(len) = u32::try_from(value.len()) else {
        panic!(
            "a canonical value is limited to 4 GiB, this one has {} bytes",
            value.len()
        );
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

/// Writes fields of one structure, in the order the caller gives them; the caller
/// must give them in ascending tag order (checked in debug builds).
pub(crate) struct FieldWriter {
    out: Vec<u8>,
    last: Option<u8>,
}

impl FieldWriter {
    /// A structure with no prefix.
    pub(crate) fn new() -> Self {
        Self::with_prefix(&[])
    }

    /// A structure after `prefix` (a version byte).
    pub(crate) fn with_prefix(prefix: &[u8]) -> Self {
        Self {
            out: prefix.to_vec(),
            last: None,
        }
    }

    /// Writes one field.
    pub(crate) fn field(&mut self, tag: u8, value: &[u8]) {
        debug_assert!(
            self.last.is_none_or(|last| last < tag),
            "tags must be written in ascending order"
        );
        self.last = Some(tag);
        self.out.push(tag);
        put_len_prefixed(&mut self.out, value);
    }

    /// Writes one field if `value` is `Some`.
    pub(crate) fn optional(&mut self, tag: u8, value: Option<&[u8]>) {
        if let Some(value) = value {
            self.field(tag, value);
        }
    }

    /// The bytes written.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A *time*: seconds as a big-endian `i64`.
pub(crate) fn time_bytes(time: Timestamp) -> [u8; 8] {
    time.unix_seconds().to_be_bytes()
}

/// A *list*: each item with its length prefix.
fn list_bytes<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        put_len_prefixed(&mut out, item);
    }
    out
}

/// The canonical bytes of `evidence` (format version 1; the layout is in the module
/// documentation). Equal records give equal bytes; different records give different
/// bytes.
///
/// Every value an [`Evidence`] can hold is encoded as it is, whether or not the
/// record would pass validation: this is a faithful image of the record, not a
/// check of it. One consequence: [`Timestamp`] arithmetic can produce instants
/// outside 2000-2099, which are encoded but which [`decode_canonical`] refuses.
///
/// # Panics
///
/// If a single text or list value is 4 GiB or longer (no interface accepts such a
/// record).
pub fn canonical_bytes(evidence: &Evidence) -> Vec<u8> {
    use record_tag as t;
    let mut w = FieldWriter::with_prefix(&[FORMAT_VERSION]);
    w.field(t::ID, evidence.id.as_str().as_bytes());
    w.field(t::KIND, evidence.kind().name().as_bytes());
    w.optional(
        t::SUBJECT,
        evidence.subject.as_ref().map(|k| &k.as_bytes()[..]),
    );
    w.field(t::RECORDED_BY, &recorder_bytes(&evidence.recorded_by));
    w.optional(
        t::AUTHORITY,
        evidence.authority.as_ref().map(|a| a.as_str().as_bytes()),
    );
    w.optional(
        t::LEGAL_BASIS,
        evidence.legal_basis.as_ref().map(|b| b.as_bytes()),
    );
    w.field(t::EFFECTIVE_AT, &time_bytes(evidence.effective_at));
    w.field(t::RECORDED_AT, &time_bytes(evidence.recorded_at));
    w.field(t::BODY, &body_bytes(&evidence.body));
    w.finish()
}

fn recorder_bytes(recorder: &Recorder) -> Vec<u8> {
    use recorder_tag as t;
    let mut w = FieldWriter::new();
    match recorder {
        Recorder::Official(id) => {
            w.field(t::VARIANT, b"official");
            w.field(t::OFFICIAL, id.as_str().as_bytes());
        }
        Recorder::Source { id, kind } => {
            w.field(t::VARIANT, b"source");
            w.field(t::SOURCE, id.as_str().as_bytes());
            w.field(t::SOURCE_KIND, kind.name().as_bytes());
        }
        Recorder::Holder => w.field(t::VARIANT, b"holder"),
        Recorder::Proxy(key) => {
            w.field(t::VARIANT, b"proxy");
            w.field(t::PROXY, key.as_bytes());
        }
    }
    w.finish()
}

fn body_bytes(body: &EvidenceBody) -> Vec<u8> {
    let mut w = FieldWriter::new();
    match body {
        EvidenceBody::TestResult {
            method,
            outcome,
            sampled_at,
        } => {
            w.field(0x01, method.name().as_bytes());
            w.field(0x02, outcome.name().as_bytes());
            w.field(0x03, &time_bytes(*sampled_at));
        }
        EvidenceBody::CaseReport {
            classification,
            test,
        } => {
            w.field(0x01, classification.name().as_bytes());
            w.optional(0x02, test.as_ref().map(|t| t.as_str().as_bytes()));
        }
        EvidenceBody::CaseClosure { case, outcome } => {
            w.field(0x01, case.as_str().as_bytes());
            w.field(0x02, outcome.name().as_bytes());
        }
        EvidenceBody::CloseContact { case, exposure } => {
            w.field(0x01, case.as_str().as_bytes());
            w.field(0x02, &exposure_bytes(exposure));
        }
        EvidenceBody::BorderEntry {
            port,
            origin,
            name,
            document,
        } => {
            w.field(0x01, port.as_bytes());
            w.field(0x02, origin.as_bytes());
            w.optional(0x03, name.as_ref().map(|n| n.as_bytes()));
            w.optional(0x04, document.as_ref().map(|d| d.as_bytes()));
        }
        EvidenceBody::QuarantineOrder {
            setting,
            facility,
            ground,
            planned_end,
        } => {
            w.field(0x01, setting.name().as_bytes());
            w.optional(0x02, facility.as_ref().map(|f| f.as_bytes()));
            w.field(0x03, ground.as_str().as_bytes());
            w.field(0x04, &time_bytes(*planned_end));
        }
        EvidenceBody::QuarantineRelease { order } => w.field(0x01, order.as_str().as_bytes()),
        EvidenceBody::RiskArea {
            level,
            area,
            from,
            until,
        } => {
            w.field(0x01, level.name().as_bytes());
            w.field(0x02, &scope_bytes(area));
            w.field(0x03, &time_bytes(*from));
            w.field(0x04, &time_bytes(*until));
        }
        EvidenceBody::VenueScan {
            venue,
            street,
            venue_kind,
            left_at,
            presence,
        } => {
            w.field(0x01, venue.as_str().as_bytes());
            w.field(0x02, street.to_string().as_bytes());
            w.field(0x03, venue_kind.name().as_bytes());
            w.optional(0x04, left_at.map(time_bytes).as_ref().map(|t| &t[..]));
            w.field(0x05, presence.name().as_bytes());
        }
        EvidenceBody::Retraction { target, reason }
        | EvidenceBody::Rejection { target, reason } => {
            w.field(0x01, target.as_str().as_bytes());
            w.field(0x02, reason.as_bytes());
        }
        EvidenceBody::Approval { target } => w.field(0x01, target.as_str().as_bytes()),
    }
    w.finish()
}

fn exposure_bytes(exposure: &Exposure) -> Vec<u8> {
    use exposure_tag as t;
    let mut w = FieldWriter::new();
    match exposure {
        Exposure::Household => w.field(t::VARIANT, b"household"),
        Exposure::Venue {
            venue,
            from,
            until,
            scans,
        } => {
            w.field(t::VARIANT, b"venue");
            w.field(t::VENUE, venue.as_str().as_bytes());
            w.field(t::FROM, &time_bytes(*from));
            w.field(t::UNTIL, &time_bytes(*until));
            w.field(
                t::SCANS,
                &list_bytes(scans.iter().map(|s| s.as_str().as_bytes())),
            );
        }
    }
    w.finish()
}

fn scope_bytes(scope: &RiskAreaScope) -> Vec<u8> {
    use scope_tag as t;
    let mut w = FieldWriter::new();
    match scope {
        RiskAreaScope::Divisions(divisions) => {
            w.field(t::VARIANT, b"divisions");
            let codes: Vec<String> = divisions.iter().map(ToString::to_string).collect();
            w.field(
                t::DIVISIONS,
                &list_bytes(codes.iter().map(|c| c.as_bytes())),
            );
        }
        RiskAreaScope::Venues(venues) => {
            w.field(t::VARIANT, b"venues");
            w.field(
                t::VENUES,
                &list_bytes(venues.iter().map(|v| v.as_str().as_bytes())),
            );
        }
    }
    w.finish()
}

// ---------------------------------------------------------------------------------
// Reading.

/// Splits off the version byte and checks it.
pub(crate) fn read_version(bytes: &[u8]) -> Result<&[u8]> {
    match bytes.split_first() {
        None => Err(CanonicalError::Empty),
        Some((&FORMAT_VERSION, rest)) => Ok(rest),
        Some((&other, _)) => Err(CanonicalError::UnsupportedVersion(other)),
    }
}

/// Splits one `length:u32 value` item off `bytes`.
fn split_item<'a>(bytes: &'a [u8], context: &'static str) -> Result<(&'a [u8], &'a [u8])> {
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
        return Err(CanonicalError::TrailingBytes {
            context,
            count: bytes.len(),
        });
    };
    let declared = u32::from_be_bytes(*len);
    let truncated = CanonicalError::Truncated {
        context,
        declared,
        available: rest.len(),
    };
    let len = usize::try_from(declared).map_err(|_| truncated.clone())?;
    rest.split_at_checked(len).ok_or(truncated)
}

/// The fields of one structure, read strictly; each can be taken once.
pub(crate) struct Fields<'a> {
    context: &'static str,
    entries: Vec<(u8, &'a [u8], bool)>,
}

impl<'a> Fields<'a> {
    /// Reads `bytes` as a `fields` sequence whose tags must be among `known`.
    pub(crate) fn read(bytes: &'a [u8], context: &'static str, known: &[u8]) -> Result<Self> {
        let mut entries: Vec<(u8, &'a [u8], bool)> = Vec::new();
        let mut rest = bytes;
        while let Some((&tag, after_tag)) = rest.split_first() {
            if after_tag.len() < 4 {
                return Err(CanonicalError::TrailingBytes {
                    context,
                    count: rest.len(),
                });
            }
            if !known.contains(&tag) {
                return Err(CanonicalError::UnknownTag { context, tag });
            }
            if let Some(&(previous, _, _)) = entries.last() {
                if tag == previous {
                    return Err(CanonicalError::DuplicateTag { context, tag });
                }
                if tag < previous {
                    return Err(CanonicalError::OutOfOrder {
                        context,
                        tag,
                        previous,
                    });
                }
            }
            let (value, next) = split_item(after_tag, context)?;
            entries.push((tag, value, false));
            rest = next;
        }
        Ok(Self { context, entries })
    }

    /// The value of `tag`, if present.
    pub(crate) fn optional(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.entries
            .iter_mut()
            .find(|(t, _, _)| *t == tag)
            .map(|(_, value, used)| {
                *used = true;
                *value
            })
    }

    /// The value of `tag`, which must be present.
    pub(crate) fn required(&mut self, tag: u8, field: &'static str) -> Result<&'a [u8]> {
        let context = self.context;
        self.optional(tag)
            .ok_or(CanonicalError::MissingField { context, field })
    }

    /// Checks that every field present was taken: a field the `variant` does not
    /// have is refused.
    pub(crate) fn finish(self, variant: &'static str) -> Result<()> {
        match self.entries.iter().find(|(_, _, used)| !used) {
            Some(&(tag, _, _)) => Err(CanonicalError::UnexpectedField {
                context: self.context,
                tag,
                variant,
            }),
            None => Ok(()),
        }
    }
}

/// The items of a *list* value.
fn read_list<'a>(bytes: &'a [u8], context: &'static str) -> Result<Vec<&'a [u8]>> {
    let mut items = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (item, next) = split_item(rest, context)?;
        items.push(item);
        rest = next;
    }
    Ok(items)
}

/// A *text* value.
fn read_text(bytes: &[u8], field: &'static str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| CanonicalError::InvalidUtf8 { field })
}

/// An *id* value, checked by the identifier type's own `parse`. Bytes that are not
/// UTF-8 decode lossily to text with U+FFFD, which every identifier type refuses.
pub(crate) fn read_id<T>(
    bytes: &[u8],
    field: &'static str,
    parse: fn(&str) -> std::result::Result<T, IdError>,
) -> Result<T> {
    parse(&String::from_utf8_lossy(bytes))
        .map_err(|source| CanonicalError::InvalidId { field, source })
}

/// A *name* value, looked up with the enum's own `from_name`.
pub(crate) fn read_name<T>(
    bytes: &[u8],
    field: &'static str,
    from_name: fn(&str) -> Option<T>,
) -> Result<T> {
    let text = String::from_utf8_lossy(bytes);
    from_name(&text).ok_or_else(|| CanonicalError::InvalidName {
        field,
        value: text.chars().take(80).collect(),
    })
}

/// A *time* value, checked by [`Timestamp::from_unix_seconds`].
pub(crate) fn read_time(bytes: &[u8], field: &'static str) -> Result<Timestamp> {
    let seconds = i64::from_be_bytes(read_fixed::<8>(bytes, field)?);
    Timestamp::from_unix_seconds(seconds).ok_or(CanonicalError::InvalidTimestamp { field, seconds })
}

/// A fixed-width value.
pub(crate) fn read_fixed<const N: usize>(bytes: &[u8], field: &'static str) -> Result<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| CanonicalError::BadLength {
        field,
        expected: N,
        found: bytes.len(),
    })
}

/// A *code* value: ASCII digits only (the table's parser would trim spaces), then
/// checked by [`Jurisdiction::parse`].
fn read_code(bytes: &[u8], field: &'static str) -> Result<Jurisdiction> {
    let text = String::from_utf8_lossy(bytes);
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(CanonicalError::InvalidJurisdiction {
            field,
            source: JurisdictionError::Format(text.chars().take(80).collect()),
        });
    }
    Jurisdiction::parse(&text)
        .map_err(|source| CanonicalError::InvalidJurisdiction { field, source })
}

/// Reads the canonical bytes of a record (format version 1), strictly: see the
/// module documentation for what is refused. Never panics.
///
/// `decode_canonical(&canonical_bytes(e)) == Ok(e)` for every record whose times lie
/// in 2000-2099 and whose divisions are in the shipped table, and any bytes this
/// accepts are exactly the canonical bytes of what it returns.
pub fn decode_canonical(bytes: &[u8]) -> Result<Evidence> {
    use record_tag as t;
    let rest = read_version(bytes)?;
    let mut f = Fields::read(rest, "record", t::ALL)?;
    let id = read_id(f.required(t::ID, "id")?, "id", RecordId::parse)?;
    let kind = read_name(
        f.required(t::KIND, "kind")?,
        "kind",
        EvidenceKind::from_name,
    )?;
    let subject = f
        .optional(t::SUBJECT)
        .map(|v| read_fixed::<32>(v, "subject").map(PersonKey::from_bytes))
        .transpose()?;
    let recorded_by = read_recorder(f.required(t::RECORDED_BY, "recorded_by")?)?;
    let authority = f
        .optional(t::AUTHORITY)
        .map(|v| read_id(v, "authority", AuthorityId::parse))
        .transpose()?;
    let legal_basis = f
        .optional(t::LEGAL_BASIS)
        .map(|v| read_text(v, "legal_basis"))
        .transpose()?;
    let effective_at = read_time(f.required(t::EFFECTIVE_AT, "effective_at")?, "effective_at")?;
    let recorded_at = read_time(f.required(t::RECORDED_AT, "recorded_at")?, "recorded_at")?;
    let body = read_body(kind, f.required(t::BODY, "body")?)?;
    f.finish(kind.name())?;
    let evidence = Evidence {
        seal: None,
        id,
        subject,
        recorded_by,
        authority,
        legal_basis,
        effective_at,
        recorded_at,
        body,
    };
    // Every check above should make this unreachable; it guarantees one encoding
    // per record even if a type's parser ever becomes more lenient.
    if canonical_bytes(&evidence) != bytes {
        return Err(CanonicalError::NonCanonical);
    }
    Ok(evidence)
}

fn read_recorder(bytes: &[u8]) -> Result<Recorder> {
    use recorder_tag as t;
    const CONTEXT: &str = "recorded_by";
    let mut f = Fields::read(bytes, CONTEXT, t::ALL)?;
    let variant = read_name(
        f.required(t::VARIANT, "recorded_by.variant")?,
        "recorded_by.variant",
        |name| {
            ["official", "source", "holder", "proxy"]
                .into_iter()
                .find(|v| *v == name)
        },
    )?;
    let recorder = match variant {
        "official" => Recorder::Official(read_id(
            f.required(t::OFFICIAL, "recorded_by.official")?,
            "recorded_by.official",
            OfficialId::parse,
        )?),
        "source" => Recorder::Source {
            id: read_id(
                f.required(t::SOURCE, "recorded_by.source")?,
                "recorded_by.source",
                DataSourceId::parse,
            )?,
            kind: read_name(
                f.required(t::SOURCE_KIND, "recorded_by.source_kind")?,
                "recorded_by.source_kind",
                |name| SourceKind::ALL.into_iter().find(|k| k.name() == name),
            )?,
        },
        "proxy" => Recorder::Proxy(PersonKey::from_bytes(read_fixed::<32>(
            f.required(t::PROXY, "recorded_by.proxy")?,
            "recorded_by.proxy",
        )?)),
        _ => Recorder::Holder,
    };
    f.finish(variant)?;
    Ok(recorder)
}

fn read_body(kind: EvidenceKind, bytes: &[u8]) -> Result<EvidenceBody> {
    let mut f = Fields::read(bytes, "body", body_tags(kind))?;
    let body = match kind {
        EvidenceKind::TestResult => EvidenceBody::TestResult {
            method: read_name(
                f.required(0x01, "method")?,
                "body.method",
                TestMethod::from_name,
            )?,
            outcome: read_name(
                f.required(0x02, "outcome")?,
                "body.outcome",
                TestOutcome::from_name,
            )?,
            sampled_at: read_time(f.required(0x03, "sampled_at")?, "body.sampled_at")?,
        },
        EvidenceKind::CaseReport => EvidenceBody::CaseReport {
            classification: read_name(
                f.required(0x01, "classification")?,
                "body.classification",
                CaseClass::from_name,
            )?,
            test: f
                .optional(0x02)
                .map(|v| read_id(v, "body.test", RecordId::parse))
                .transpose()?,
        },
        EvidenceKind::CaseClosure => EvidenceBody::CaseClosure {
            case: read_id(f.required(0x01, "case")?, "body.case", RecordId::parse)?,
            outcome: read_name(
                f.required(0x02, "outcome")?,
                "body.outcome",
                ClosureOutcome::from_name,
            )?,
        },
        EvidenceKind::CloseContact => EvidenceBody::CloseContact {
            case: read_id(f.required(0x01, "case")?, "body.case", RecordId::parse)?,
            exposure: read_exposure(f.required(0x02, "exposure")?)?,
        },
        EvidenceKind::BorderEntry => EvidenceBody::BorderEntry {
            port: read_text(f.required(0x01, "port")?, "body.port")?,
            origin: read_text(f.required(0x02, "origin")?, "body.origin")?,
            name: f
                .optional(0x03)
                .map(|v| read_text(v, "body.name"))
                .transpose()?,
            document: f
                .optional(0x04)
                .map(|v| read_text(v, "body.document"))
                .transpose()?,
        },
        EvidenceKind::QuarantineOrder => EvidenceBody::QuarantineOrder {
            setting: read_name(
                f.required(0x01, "setting")?,
                "body.setting",
                QuarantineSetting::from_name,
            )?,
            facility: f
                .optional(0x02)
                .map(|v| read_text(v, "body.facility"))
                .transpose()?,
            ground: read_id(f.required(0x03, "ground")?, "body.ground", RecordId::parse)?,
            planned_end: read_time(f.required(0x04, "planned_end")?, "body.planned_end")?,
        },
        EvidenceKind::QuarantineRelease => EvidenceBody::QuarantineRelease {
            order: read_id(f.required(0x01, "order")?, "body.order", RecordId::parse)?,
        },
        EvidenceKind::RiskArea => EvidenceBody::RiskArea {
            level: read_name(
                f.required(0x01, "level")?,
                "body.level",
                RiskLevel::from_name,
            )?,
            area: read_scope(f.required(0x02, "area")?)?,
            from: read_time(f.required(0x03, "from")?, "body.from")?,
            until: read_time(f.required(0x04, "until")?, "body.until")?,
        },
        EvidenceKind::VenueScan => EvidenceBody::VenueScan {
            venue: read_id(f.required(0x01, "venue")?, "body.venue", VenueId::parse)?,
            street: read_code(f.required(0x02, "street")?, "body.street")?,
            venue_kind: read_name(
                f.required(0x03, "venue_kind")?,
                "body.venue_kind",
                VenueKind::from_name,
            )?,
            left_at: f
                .optional(0x04)
                .map(|v| read_time(v, "body.left_at"))
                .transpose()?,
            presence: read_name(
                f.required(0x05, "presence")?,
                "body.presence",
                Presence::from_name,
            )?,
        },
        EvidenceKind::Retraction => EvidenceBody::Retraction {
            target: read_id(f.required(0x01, "target")?, "body.target", RecordId::parse)?,
            reason: read_text(f.required(0x02, "reason")?, "body.reason")?,
        },
        EvidenceKind::Approval => EvidenceBody::Approval {
            target: read_id(f.required(0x01, "target")?, "body.target", RecordId::parse)?,
        },
        EvidenceKind::Rejection => EvidenceBody::Rejection {
            target: read_id(f.required(0x01, "target")?, "body.target", RecordId::parse)?,
            reason: read_text(f.required(0x02, "reason")?, "body.reason")?,
        },
    };
    f.finish(kind.name())?;
    Ok(body)
}

fn read_exposure(bytes: &[u8]) -> Result<Exposure> {
    use exposure_tag as t;
    const CONTEXT: &str = "body.exposure";
    let mut f = Fields::read(bytes, CONTEXT, t::ALL)?;
    let variant = read_name(
        f.required(t::VARIANT, "variant")?,
        "body.exposure.variant",
        |name| ["household", "venue"].into_iter().find(|v| *v == name),
    )?;
    let exposure = if variant == "venue" {
        Exposure::Venue {
            venue: read_id(
                f.required(t::VENUE, "venue")?,
                "body.exposure.venue",
                VenueId::parse,
            )?,
            from: read_time(f.required(t::FROM, "from")?, "body.exposure.from")?,
            until: read_time(f.required(t::UNTIL, "until")?, "body.exposure.until")?,
            scans: read_list(f.required(t::SCANS, "scans")?, "body.exposure.scans")?
                .into_iter()
                .map(|item| read_id(item, "body.exposure.scans", RecordId::parse))
                .collect::<Result<_>>()?,
        }
    } else {
        Exposure::Household
    };
    f.finish(variant)?;
    Ok(exposure)
}

fn read_scope(bytes: &[u8]) -> Result<RiskAreaScope> {
    use scope_tag as t;
    const CONTEXT: &str = "body.area";
    let mut f = Fields::read(bytes, CONTEXT, t::ALL)?;
    let variant = read_name(
        f.required(t::VARIANT, "variant")?,
        "body.area.variant",
        |name| ["divisions", "venues"].into_iter().find(|v| *v == name),
    )?;
    let scope = if variant == "divisions" {
        RiskAreaScope::Divisions(
            read_list(
                f.required(t::DIVISIONS, "divisions")?,
                "body.area.divisions",
            )?
            .into_iter()
            .map(|item| read_code(item, "body.area.divisions"))
            .collect::<Result<_>>()?,
        )
    } else {
        RiskAreaScope::Venues(
            read_list(f.required(t::VENUES, "venues")?, "body.area.venues")?
                .into_iter()
                .map(|item| read_id(item, "body.area.venues", VenueId::parse))
                .collect::<Result<_>>()?,
        )
    };
    f.finish(variant)?;
    Ok(scope)
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
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::division::Level;
    use crate::identity::{NationalId, PseudonymKey};

    // ---- fixtures (also used by the commitment tests) ----------------------------

    pub(crate) fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    pub(crate) fn rid(text: &str) -> RecordId {
        RecordId::parse(text).unwrap()
    }

    /// The key of the GB 11643 example number under a fixed secret.
    pub(crate) fn person() -> PersonKey {
        PseudonymKey::from_bytes([7; 32])
            .person_key(&NationalId::parse("11010519491231002X").unwrap())
    }

    /// A proxy's key, distinct from [`person`].
    pub(crate) fn proxy() -> PersonKey {
        PseudonymKey::from_bytes([7; 32])
            .person_key(&NationalId::parse("410102199003071230").unwrap())
    }

    /// Free-text values used in [`samples`]: none may ever appear in a leaf.
    pub(crate) const FREE_TEXTS: &[&str] = &[
        "《中华人民共和国传染病防治法》第三十九条",
        "郑州新郑国际机场",
        "首尔仁川",
        "郑州市某集中隔离酒店",
        "误录：非本人样本",
        "依据不足，驳回",
    ];

    pub(crate) fn official(
        id: &str,
        subject: Option<PersonKey>,
        legal_basis: Option<&str>,
        body: EvidenceBody,
    ) -> Evidence {
        Evidence {
            seal: None,
            id: rid(id),
            subject,
            recorded_by: Recorder::Official(OfficialId::parse("official-zz-0417").unwrap()),
            authority: Some(AuthorityId::parse("zz-health").unwrap()),
            legal_basis: legal_basis.map(str::to_owned),
            effective_at: ts("2022-06-13T10:00:00+08:00"),
            recorded_at: ts("2022-06-13T10:05:00+08:00"),
            body,
        }
    }

    /// One handmade record of every body variant (and every recorder variant,
    /// exposure and scope), every optional field both present and absent somewhere.
    pub(crate) fn samples() -> Vec<Evidence> {
        let p = Some(person());
        let basis = Some(FREE_TEXTS[0]);
        let street = Jurisdiction::parse("410102001").unwrap();
        vec![
            Evidence {
                seal: None,
                id: rid("lab-01:2022-06-13.0001"),
                subject: p,
                recorded_by: Recorder::Source {
                    id: DataSourceId::parse("lab-kingmed-zz").unwrap(),
                    kind: SourceKind::Lab,
                },
                authority: Some(AuthorityId::parse("zz-cdc").unwrap()),
                legal_basis: None,
                effective_at: ts("2022-06-13T18:00:00+08:00"),
                recorded_at: ts("2022-06-13T18:01:00+08:00"),
                body: EvidenceBody::TestResult {
                    method: TestMethod::NucleicAcid,
                    outcome: TestOutcome::Positive,
                    sampled_at: ts("2022-06-13T08:00:00+08:00"),
                },
            },
            Evidence {
                seal: None,
                id: rid("case-2"),
                subject: p,
                recorded_by: Recorder::Source {
                    id: DataSourceId::parse("zz-cdc-reporting").unwrap(),
                    kind: SourceKind::CaseReporting,
                },
                authority: Some(AuthorityId::parse("zz-cdc").unwrap()),
                legal_basis: None,
                effective_at: ts("2022-06-14T09:00:00+08:00"),
                recorded_at: ts("2022-06-14T09:00:00+08:00"),
                body: EvidenceBody::CaseReport {
                    classification: CaseClass::Asymptomatic,
                    test: Some(rid("lab-01:2022-06-13.0001")),
                },
            },
            official(
                "case-3",
                p,
                None,
                EvidenceBody::CaseReport {
                    classification: CaseClass::Suspected,
                    test: None,
                },
            ),
            official(
                "closure-1",
                p,
                None,
                EvidenceBody::CaseClosure {
                    case: rid("case-2"),
                    outcome: ClosureOutcome::RuledOut,
                },
            ),
            official(
                "contact-1",
                p,
                basis,
                EvidenceBody::CloseContact {
                    case: rid("case-9"),
                    exposure: Exposure::Household,
                },
            ),
            official(
                "contact-2",
                p,
                basis,
                EvidenceBody::CloseContact {
                    case: rid("case-9"),
                    exposure: Exposure::Venue {
                        venue: VenueId::parse("venue-zz-station").unwrap(),
                        from: ts("2022-06-10T10:00:00+08:00"),
                        until: ts("2022-06-10T11:00:00+08:00"),
                        scans: vec![rid("scan-1"), rid("scan-2")],
                    },
                },
            ),
            official(
                "contact-3",
                p,
                basis,
                EvidenceBody::CloseContact {
                    case: rid("case-9"),
                    exposure: Exposure::Venue {
                        venue: VenueId::parse("venue-zz-market").unwrap(),
                        from: ts("2022-06-10T10:00:00+08:00"),
                        until: ts("2022-06-10T11:00:00+08:00"),
                        scans: vec![],
                    },
                },
            ),
            Evidence {
                seal: None,
                id: rid("E2022061300042"),
                subject: p,
                recorded_by: Recorder::Source {
                    id: DataSourceId::parse("customs-cgo").unwrap(),
                    kind: SourceKind::Customs,
                },
                authority: Some(AuthorityId::parse("zz-customs").unwrap()),
                legal_basis: None,
                effective_at: ts("2022-06-01T06:30:00+08:00"),
                recorded_at: ts("2022-06-01T07:00:00+08:00"),
                body: EvidenceBody::BorderEntry {
                    port: FREE_TEXTS[1].into(),
                    origin: FREE_TEXTS[2].into(),
                    name: None,
                    document: None,
                },
            },
            official(
                "order-1",
                p,
                basis,
                EvidenceBody::QuarantineOrder {
                    setting: QuarantineSetting::Centralised,
                    facility: Some(FREE_TEXTS[3].into()),
                    ground: rid("E2022061300042"),
                    planned_end: ts("2022-06-08T06:30:00+08:00"),
                },
            ),
            official(
                "order-2",
                p,
                basis,
                EvidenceBody::QuarantineOrder {
                    setting: QuarantineSetting::Home,
                    facility: None,
                    ground: rid("contact-1"),
                    planned_end: ts("2022-06-20T10:00:00+08:00"),
                },
            ),
            official(
                "release-1",
                p,
                None,
                EvidenceBody::QuarantineRelease {
                    order: rid("order-1"),
                },
            ),
            official(
                "risk-1",
                None,
                basis,
                EvidenceBody::RiskArea {
                    level: RiskLevel::High,
                    area: RiskAreaScope::Divisions(vec![
                        street,
                        Jurisdiction::parse("410103").unwrap(),
                        Jurisdiction::parse("11").unwrap(),
                    ]),
                    from: ts("2022-06-10T00:00:00+08:00"),
                    until: ts("2022-06-17T00:00:00+08:00"),
                },
            ),
            official(
                "risk-2",
                None,
                basis,
                EvidenceBody::RiskArea {
                    level: RiskLevel::Medium,
                    area: RiskAreaScope::Venues(vec![
                        VenueId::parse("venue-zz-station").unwrap(),
                        VenueId::parse("venue-zz-market").unwrap(),
                    ]),
                    from: ts("2022-06-10T00:00:00+08:00"),
                    until: ts("2022-06-17T00:00:00+08:00"),
                },
            ),
            official(
                "risk-3",
                None,
                Some(""),
                EvidenceBody::RiskArea {
                    level: RiskLevel::Medium,
                    area: RiskAreaScope::Divisions(vec![]),
                    from: ts("2022-06-10T00:00:00+08:00"),
                    until: ts("2022-06-17T00:00:00+08:00"),
                },
            ),
            Evidence {
                seal: None,
                id: rid("scan-1"),
                subject: p,
                recorded_by: Recorder::Holder,
                authority: None,
                legal_basis: None,
                effective_at: ts("2022-06-10T10:15:00+08:00"),
                recorded_at: ts("2022-06-10T10:15:00+08:00"),
                body: EvidenceBody::VenueScan {
                    venue: VenueId::parse("venue-zz-station").unwrap(),
                    street,
                    venue_kind: VenueKind::TransportHub,
                    left_at: Some(ts("2022-06-10T10:45:00+08:00")),
                    presence: Presence::Rotating,
                },
            },
            Evidence {
                seal: None,
                id: rid("scan-2"),
                subject: p,
                recorded_by: Recorder::Proxy(proxy()),
                authority: None,
                legal_basis: None,
                effective_at: ts("2022-06-10T10:20:00+08:00"),
                recorded_at: ts("2022-06-10T10:20:00+08:00"),
                body: EvidenceBody::VenueScan {
                    venue: VenueId::parse("venue-zz-station").unwrap(),
                    street,
                    venue_kind: VenueKind::Other,
                    left_at: None,
                    presence: Presence::Stale,
                },
            },
            official(
                "retract-1",
                None,
                None,
                EvidenceBody::Retraction {
                    target: rid("lab-01:2022-06-13.0001"),
                    reason: FREE_TEXTS[4].into(),
                },
            ),
            official(
                "approve-1",
                None,
                None,
                EvidenceBody::Approval {
                    target: rid("order-1"),
                },
            ),
            official(
                "reject-1",
                None,
                None,
                EvidenceBody::Rejection {
                    target: rid("order-2"),
                    reason: FREE_TEXTS[5].into(),
                },
            ),
        ]
    }

    // ---- generators ---------------------------------------------------------------

    fn arb_time() -> impl Strategy<Value = Timestamp> {
        (946_684_800i64..4_102_444_800).prop_map(|s| Timestamp::from_unix_seconds(s).unwrap())
    }

    fn arb_id_text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._:-]{1,64}"
    }

    fn arb_record_id() -> impl Strategy<Value = RecordId> {
        arb_id_text().prop_map(|t| RecordId::parse(&t).unwrap())
    }

    fn arb_venue_id() -> impl Strategy<Value = VenueId> {
        arb_id_text().prop_map(|t| VenueId::parse(&t).unwrap())
    }

    fn arb_key() -> impl Strategy<Value = PersonKey> {
        any::<[u8; 32]>().prop_map(PersonKey::from_bytes)
    }

    fn arb_jurisdiction() -> impl Strategy<Value = Jurisdiction> {
        let mut all = Vec::new();
        for province in ["11", "41", "44", "65"] {
            let p = Jurisdiction::parse(province).unwrap();
            all.push(p);
            for level in [Level::City, Level::District, Level::Street] {
                all.extend(p.descendants(level));
            }
        }
        prop::sample::select(all)
    }

    fn arb_enum<T: Copy + std::fmt::Debug + 'static>(
        all: &'static [T],
    ) -> impl Strategy<Value = T> {
        prop::sample::select(all)
    }

    fn arb_recorder() -> impl Strategy<Value = Recorder> {
        prop_oneof![
            arb_id_text().prop_map(|t| Recorder::Official(OfficialId::parse(&t).unwrap())),
            (
                arb_id_text(),
                prop::sample::select(SourceKind::ALL.to_vec())
            )
                .prop_map(|(t, kind)| Recorder::Source {
                    id: DataSourceId::parse(&t).unwrap(),
                    kind,
                }),
            Just(Recorder::Holder),
            arb_key().prop_map(Recorder::Proxy),
        ]
    }

    fn arb_body() -> impl Strategy<Value = EvidenceBody> {
        use proptest::strategy::Union;
        let text = any::<String>;
        Union::new(vec![
            (
                arb_enum(TestMethod::ALL),
                arb_enum(TestOutcome::ALL),
                arb_time(),
            )
                .prop_map(|(method, outcome, sampled_at)| EvidenceBody::TestResult {
                    method,
                    outcome,
                    sampled_at,
                })
                .boxed(),
            (arb_enum(CaseClass::ALL), prop::option::of(arb_record_id()))
                .prop_map(|(classification, test)| EvidenceBody::CaseReport {
                    classification,
                    test,
                })
                .boxed(),
            (arb_record_id(), arb_enum(ClosureOutcome::ALL))
                .prop_map(|(case, outcome)| EvidenceBody::CaseClosure { case, outcome })
                .boxed(),
            (
                arb_record_id(),
                prop_oneof![
                    Just(Exposure::Household),
                    (
                        arb_venue_id(),
                        arb_time(),
                        arb_time(),
                        prop::collection::vec(arb_record_id(), 0..4)
                    )
                        .prop_map(|(venue, from, until, scans)| {
                            Exposure::Venue {
                                venue,
                                from,
                                until,
                                scans,
                            }
                        }),
                ],
            )
                .prop_map(|(case, exposure)| EvidenceBody::CloseContact { case, exposure })
                .boxed(),
            (
                text(),
                text(),
                proptest::option::of(text()),
                proptest::option::of(text()),
            )
                .prop_map(|(port, origin, name, document)| EvidenceBody::BorderEntry {
                    port,
                    origin,
                    name,
                    document,
                })
                .boxed(),
            (
                arb_enum(QuarantineSetting::ALL),
                prop::option::of(text()),
                arb_record_id(),
                arb_time(),
            )
                .prop_map(|(setting, facility, ground, planned_end)| {
                    EvidenceBody::QuarantineOrder {
                        setting,
                        facility,
                        ground,
                        planned_end,
                    }
                })
                .boxed(),
            arb_record_id()
                .prop_map(|order| EvidenceBody::QuarantineRelease { order })
                .boxed(),
            (
                arb_enum(RiskLevel::ALL),
                prop_oneof![
                    prop::collection::vec(arb_jurisdiction(), 0..5)
                        .prop_map(RiskAreaScope::Divisions),
                    prop::collection::vec(arb_venue_id(), 0..5).prop_map(RiskAreaScope::Venues),
                ],
                arb_time(),
                arb_time(),
            )
                .prop_map(|(level, area, from, until)| EvidenceBody::RiskArea {
                    level,
                    area,
                    from,
                    until,
                })
                .boxed(),
            (
                arb_venue_id(),
                arb_jurisdiction(),
                arb_enum(VenueKind::ALL),
                prop::option::of(arb_time()),
                arb_enum(Presence::ALL),
            )
                .prop_map(|(venue, street, venue_kind, left_at, presence)| {
                    EvidenceBody::VenueScan {
                        venue,
                        street,
                        venue_kind,
                        left_at,
                        presence,
                    }
                })
                .boxed(),
            (arb_record_id(), text())
                .prop_map(|(target, reason)| EvidenceBody::Retraction { target, reason })
                .boxed(),
            arb_record_id()
                .prop_map(|target| EvidenceBody::Approval { target })
                .boxed(),
            (arb_record_id(), text())
                .prop_map(|(target, reason)| EvidenceBody::Rejection { target, reason })
                .boxed(),
        ])
    }

    /// Arbitrary records made of valid values (not necessarily records that would
    /// pass the evidence file's checks: the encoding must carry any value).
    pub(crate) fn arb_evidence() -> impl Strategy<Value = Evidence> {
        (
            arb_record_id(),
            prop::option::of(arb_key()),
            arb_recorder(),
            prop::option::of(arb_id_text().prop_map(|t| AuthorityId::parse(&t).unwrap())),
            prop::option::of(any::<String>()),
            arb_time(),
            arb_time(),
            arb_body(),
        )
            .prop_map(
                |(
                    id,
                    subject,
                    recorded_by,
                    authority,
                    legal_basis,
                    effective_at,
                    recorded_at,
                    body,
                )| {
                    Evidence {
                        seal: None,
                        id,
                        subject,
                        recorded_by,
                        authority,
                        legal_basis,
                        effective_at,
                        recorded_at,
                        body,
                    }
                },
            )
    }

    // ---- hand-built bytes, straight from the layout table ---------------------------

    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    fn item(value: &[u8]) -> Vec<u8> {
        tlv(0, value)[1..].to_vec()
    }

    fn record(fields: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![1u8];
        for f in fields {
            out.extend_from_slice(f);
        }
        out
    }

    fn secs(text: &str) -> [u8; 8] {
        ts(text).unix_seconds().to_be_bytes()
    }

    /// The fields of an approval by an official, built by hand from the table.
    fn approval_fields() -> Vec<Vec<u8>> {
        vec![
            tlv(0x01, b"approve-1"),
            tlv(0x02, b"approval"),
            tlv(
                0x04,
                &[tlv(0x01, b"official"), tlv(0x02, b"official-zz-0417")].concat(),
            ),
            tlv(0x05, b"zz-health"),
            tlv(0x07, &secs("2022-06-13T10:00:00+08:00")),
            tlv(0x08, &secs("2022-06-13T10:05:00+08:00")),
            tlv(0x09, &tlv(0x01, b"order-1")),
        ]
    }

    fn approval() -> Evidence {
        official(
            "approve-1",
            None,
            None,
            EvidenceBody::Approval {
                target: rid("order-1"),
            },
        )
    }

    /// A hand-built venue close contact, for nested-structure rejection cases.
    fn contact_fields(exposure: Vec<u8>) -> Vec<Vec<u8>> {
        vec![
            tlv(0x01, b"contact-2"),
            tlv(0x02, b"close_contact"),
            tlv(0x03, person().as_bytes()),
            tlv(
                0x04,
                &[tlv(0x01, b"official"), tlv(0x02, b"official-zz-0417")].concat(),
            ),
            tlv(0x05, b"zz-health"),
            tlv(0x06, FREE_TEXTS[0].as_bytes()),
            tlv(0x07, &secs("2022-06-13T10:00:00+08:00")),
            tlv(0x08, &secs("2022-06-13T10:05:00+08:00")),
            tlv(0x09, &[tlv(0x01, b"case-9"), tlv(0x02, &exposure)].concat()),
        ]
    }

    fn venue_exposure(scans: &[u8]) -> Vec<u8> {
        [
            tlv(0x01, b"venue"),
            tlv(0x02, b"venue-zz-station"),
            tlv(0x03, &secs("2022-06-10T10:00:00+08:00")),
            tlv(0x04, &secs("2022-06-10T11:00:00+08:00")),
            tlv(0x05, scans),
        ]
        .concat()
    }

    fn scan_fields(street: &[u8]) -> Vec<Vec<u8>> {
        vec![
            tlv(0x01, b"scan-1"),
            tlv(0x02, b"venue_scan"),
            tlv(0x03, person().as_bytes()),
            tlv(0x04, &tlv(0x01, b"holder")),
            tlv(0x07, &secs("2022-06-10T10:15:00+08:00")),
            tlv(0x08, &secs("2022-06-10T10:15:00+08:00")),
            tlv(
                0x09,
                &[
                    tlv(0x01, b"venue-zz-station"),
                    tlv(0x02, street),
                    tlv(0x03, b"transport_hub"),
                    tlv(0x04, &secs("2022-06-10T10:45:00+08:00")),
                    tlv(0x05, b"rotating"),
                ]
                .concat(),
            ),
        ]
    }

    fn decode_err(bytes: &[u8]) -> CanonicalError {
        decode_canonical(bytes).expect_err("must be refused")
    }

    // ---- round trips and determinism -----------------------------------------------

    #[test]
    fn samples_cover_every_kind_and_recorder() {
        let samples = samples();
        for kind in EvidenceKind::ALL {
            assert!(samples.iter().any(|e| e.kind() == kind), "{kind}");
        }
        for pred in [
            |r: &Recorder| matches!(r, Recorder::Official(_)),
            |r: &Recorder| matches!(r, Recorder::Source { .. }),
            |r: &Recorder| matches!(r, Recorder::Holder),
            |r: &Recorder| matches!(r, Recorder::Proxy(_)),
        ] {
            assert!(samples.iter().any(|e| pred(&e.recorded_by)));
        }
    }

    #[test]
    fn every_sample_round_trips() {
        for e in samples() {
            let bytes = canonical_bytes(&e);
            assert_eq!(bytes.first(), Some(&FORMAT_VERSION));
            assert_eq!(decode_canonical(&bytes).as_ref(), Ok(&e), "{}", e.id);
        }
    }

    #[test]
    fn encoding_is_deterministic_and_distinguishes_records() {
        let samples = samples();
        for e in &samples {
            assert_eq!(canonical_bytes(e), canonical_bytes(&e.clone()));
        }
        let all: std::collections::BTreeSet<Vec<u8>> =
            samples.iter().map(canonical_bytes).collect();
        assert_eq!(all.len(), samples.len());
        // None and Some("") are different records with different bytes.
        let mut a = approval();
        let mut b = approval();
        a.legal_basis = None;
        b.legal_basis = Some(String::new());
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));
    }

    #[test]
    fn hand_built_bytes_from_the_table_are_the_encoding() {
        // An independent reading of the layout table produces the same bytes.
        assert_eq!(canonical_bytes(&approval()), record(&approval_fields()));
        assert_eq!(
            decode_canonical(&record(&approval_fields())),
            Ok(approval())
        );
        let contact = samples()
            .into_iter()
            .find(|e| e.id.as_str() == "contact-2")
            .unwrap();
        let scans = [item(b"scan-1"), item(b"scan-2")].concat();
        assert_eq!(
            canonical_bytes(&contact),
            record(&contact_fields(venue_exposure(&scans)))
        );
        let scan = samples()
            .into_iter()
            .find(|e| e.id.as_str() == "scan-1")
            .unwrap();
        assert_eq!(canonical_bytes(&scan), record(&scan_fields(b"410102001")));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pins the exact bytes of three records. If this fails, the format changed and
    /// every commitment made so far would stop opening: add a tag instead.
    #[test]
    fn golden_bytes_never_drift() {
        let find = |id: &str| samples().into_iter().find(|e| e.id.as_str() == id).unwrap();
        let golden = [
            ("lab-01:2022-06-13.0001", GOLDEN_TEST_RESULT),
            ("scan-1", GOLDEN_VENUE_SCAN),
            ("risk-1", GOLDEN_RISK_AREA),
        ];
        for (id, expected) in golden {
            let e = find(id);
            let bytes = canonical_bytes(&e);
            assert_eq!(hex(&bytes), expected, "{id}");
            assert_eq!(decode_canonical(&bytes), Ok(e));
        }
    }

    const GOLDEN_TEST_RESULT: &str = "0101000000166c61622d30313a323032322d30362d31332e30303031020000000b746573745f726573756c7403000000200af552b4ad31faaf454cc89e316b550ab0f3fa53c660b24f7392aed7a5bc11c404000000260100000006736f75726365030000000e6c61622d6b696e676d65642d7a7a04000000036c616205000000067a7a2d63646307000000080000000062a70aa008000000080000000062a70adc090000002b010000000c6e75636c6569635f616369640200000008706f73697469766503000000080000000062a67e00";
    const GOLDEN_VENUE_SCAN: &str = "0101000000067363616e2d31020000000a76656e75655f7363616e03000000200af552b4ad31faaf454cc89e316b550ab0f3fa53c660b24f7392aed7a5bc11c4040000000b0100000006686f6c64657207000000080000000062a2a92408000000080000000062a2a924090000004f010000001076656e75652d7a7a2d73746174696f6e0200000009343130313032303031030000000d7472616e73706f72745f68756204000000080000000062a2b02c0500000008726f746174696e67";
    const GOLDEN_RISK_AREA: &str = "0101000000067269736b2d3102000000097269736b5f61726561040000002201000000086f6666696369616c02000000106f6666696369616c2d7a7a2d3034313705000000097a7a2d6865616c7468060000003ce3808ae4b8ade58d8ee4babae6b091e585b1e5928ce59bbde4bca0e69f93e79785e998b2e6b2bbe6b395e3808be7acace4b889e58d81e4b99de69da107000000080000000062a69a2008000000080000000062a69b4c0900000058010000000468696768020000003001000000096469766973696f6e73020000001d000000093431303130323030310000000634313031303300000002313103000000080000000062a2190004000000080000000062ab5380";

    // ---- rejections ---------------------------------------------------------------

    #[test]
    fn refuses_missing_or_unknown_versions() {
        assert_eq!(decode_err(&[]), CanonicalError::Empty);
        for version in [0u8, 2, 0xff] {
            let mut bytes = record(&approval_fields());
            bytes[0] = version;
            assert_eq!(
                decode_err(&bytes),
                CanonicalError::UnsupportedVersion(version)
            );
        }
        // Even a lone version byte is refused: required fields are missing.
        assert!(matches!(
            decode_err(&[1]),
            CanonicalError::MissingField { field: "id", .. }
        ));
    }

    #[test]
    fn refuses_unknown_tags() {
        for tag in [0x00u8, 0x0a, 0xff] {
            let mut fields = approval_fields();
            fields.push(tlv(tag, b"x"));
            fields.sort_by_key(|f| f[0]);
            assert_eq!(
                decode_err(&record(&fields)),
                CanonicalError::UnknownTag {
                    context: "record",
                    tag
                },
                "{tag:#x}"
            );
        }
        // A body tag the kind does not define (an approval has no reason).
        let mut fields = approval_fields();
        fields[6] = tlv(0x09, &[tlv(0x01, b"order-1"), tlv(0x02, b"why")].concat());
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::UnknownTag {
                context: "body",
                tag: 0x02
            }
        );
        // A recorder tag beyond the table.
        let mut fields = approval_fields();
        fields[2] = tlv(0x04, &[tlv(0x01, b"holder"), tlv(0x06, b"x")].concat());
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::UnknownTag {
                context: "recorded_by",
                tag: 0x06
            }
        );
    }

    #[test]
    fn refuses_duplicate_and_out_of_order_tags() {
        let mut fields = approval_fields();
        fields.insert(1, tlv(0x01, b"approve-1"));
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::DuplicateTag {
                context: "record",
                tag: 0x01
            }
        );
        let mut fields = approval_fields();
        fields.swap(0, 1);
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::OutOfOrder {
                context: "record",
                tag: 0x01,
                previous: 0x02
            }
        );
        let mut fields = approval_fields();
        fields.swap(4, 5);
        assert!(matches!(
            decode_err(&record(&fields)),
            CanonicalError::OutOfOrder { .. }
        ));
        // Also inside nested structures.
        let mut fields = approval_fields();
        fields[2] = tlv(
            0x04,
            &[tlv(0x02, b"official-zz-0417"), tlv(0x01, b"official")].concat(),
        );
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::OutOfOrder {
                context: "recorded_by",
                tag: 0x01,
                previous: 0x02
            }
        );
    }

    #[test]
    fn refuses_trailing_bytes_and_bad_lengths() {
        let good = record(&approval_fields());
        for extra in [&[0x0a][..], &[0x09, 0, 0, 0], &[0, 0]] {
            let mut bytes = good.clone();
            bytes.extend_from_slice(extra);
            assert_eq!(
                decode_err(&bytes),
                CanonicalError::TrailingBytes {
                    context: "record",
                    count: extra.len()
                },
                "{extra:?}"
            );
        }
        // A complete, well-formed field after the last one is an unknown or
        // repeated tag, never silently ignored.
        let mut bytes = good.clone();
        bytes.extend_from_slice(&tlv(0x09, &tlv(0x01, b"order-1")));
        assert_eq!(
            decode_err(&bytes),
            CanonicalError::DuplicateTag {
                context: "record",
                tag: 0x09
            }
        );
        // Every truncation is refused.
        for cut in 0..good.len() {
            assert!(decode_canonical(&good[..cut]).is_err(), "cut at {cut}");
        }
        // A length that runs past the end.
        let mut bytes = good.clone();
        let body_len_at = bytes.len() - tlv(0x09, &tlv(0x01, b"order-1")).len() + 1;
        bytes[body_len_at..body_len_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_err(&bytes),
            CanonicalError::Truncated {
                context: "record",
                declared: u32::MAX,
                ..
            }
        ));
        // Fixed-width values of the wrong width.
        let mut fields = approval_fields();
        fields[4] = tlv(0x07, &[0; 7]);
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::BadLength {
                field: "effective_at",
                expected: 8,
                found: 7
            }
        );
        let mut fields = approval_fields();
        fields.insert(2, tlv(0x03, &[0xa5; 31]));
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::BadLength {
                field: "subject",
                expected: 32,
                found: 31
            }
        );
        let mut fields = approval_fields();
        fields[2] = tlv(0x04, &[tlv(0x01, b"proxy"), tlv(0x05, &[1; 33])].concat());
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::BadLength {
                field: "recorded_by.proxy",
                expected: 32,
                found: 33
            }
        );
        // Leftovers inside a list.
        let scans = [item(b"scan-1"), vec![0, 0, 0]].concat();
        assert_eq!(
            decode_err(&record(&contact_fields(venue_exposure(&scans)))),
            CanonicalError::TrailingBytes {
                context: "body.exposure.scans",
                count: 3
            }
        );
        let scans = [item(b"scan-1"), vec![0, 0, 0, 9, b'x']].concat();
        assert!(matches!(
            decode_err(&record(&contact_fields(venue_exposure(&scans)))),
            CanonicalError::Truncated {
                context: "body.exposure.scans",
                declared: 9,
                available: 1
            }
        ));
    }

    #[test]
    fn refuses_missing_and_foreign_fields() {
        for (i, field) in [
            (0, "id"),
            (1, "kind"),
            (2, "recorded_by"),
            (4, "effective_at"),
            (6, "body"),
        ] {
            let mut fields = approval_fields();
            fields.remove(i);
            assert!(
                matches!(
                    decode_err(&record(&fields)),
                    CanonicalError::MissingField { context: "record", field: f } if f == field
                ),
                "{field}"
            );
        }
        // A body without its required field.
        let mut fields = approval_fields();
        fields[6] = tlv(0x09, &[]);
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::MissingField {
                context: "body",
                field: "target"
            }
        );
        // A holder has no official id; an official has no proxy key.
        let mut fields = approval_fields();
        fields[2] = tlv(
            0x04,
            &[tlv(0x01, b"holder"), tlv(0x02, b"official-zz-0417")].concat(),
        );
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::UnexpectedField {
                context: "recorded_by",
                tag: 0x02,
                variant: "holder"
            }
        );
        let mut fields = approval_fields();
        fields[2] = tlv(
            0x04,
            &[
                tlv(0x01, b"official"),
                tlv(0x02, b"o-1"),
                tlv(0x05, &[0; 32]),
            ]
            .concat(),
        );
        assert!(matches!(
            decode_err(&record(&fields)),
            CanonicalError::UnexpectedField {
                tag: 0x05,
                variant: "official",
                ..
            }
        ));
        // A source without its kind.
        let mut fields = approval_fields();
        fields[2] = tlv(0x04, &[tlv(0x01, b"source"), tlv(0x03, b"lab-1")].concat());
        assert!(matches!(
            decode_err(&record(&fields)),
            CanonicalError::MissingField {
                context: "recorded_by",
                ..
            }
        ));
        // A household exposure has no scans; a venue exposure needs its scans list.
        let household = [tlv(0x01, b"household"), tlv(0x05, &[])].concat();
        assert_eq!(
            decode_err(&record(&contact_fields(household))),
            CanonicalError::UnexpectedField {
                context: "body.exposure",
                tag: 0x05,
                variant: "household"
            }
        );
        let no_scans = venue_exposure(&[]);
        let no_scans = no_scans[..no_scans.len() - 5].to_vec();
        assert_eq!(
            decode_err(&record(&contact_fields(no_scans))),
            CanonicalError::MissingField {
                context: "body.exposure",
                field: "scans"
            }
        );
    }

    #[test]
    fn refuses_invalid_names() {
        let cases: [(usize, Vec<u8>, &str); 4] = [
            (1, tlv(0x02, b"Approval"), "kind"),
            (1, tlv(0x02, b"other"), "kind"),
            (2, tlv(0x04, &tlv(0x01, b"robot")), "recorded_by.variant"),
            (
                2,
                tlv(
                    0x04,
                    &[
                        tlv(0x01, b"source"),
                        tlv(0x03, b"lab-1"),
                        tlv(0x04, b"hospital"),
                    ]
                    .concat(),
                ),
                "recorded_by.source_kind",
            ),
        ];
        for (i, replacement, field) in cases {
            let mut fields = approval_fields();
            fields[i] = replacement;
            assert!(
                matches!(decode_err(&record(&fields)), CanonicalError::InvalidName { field: f, .. } if f == field),
                "{field}"
            );
        }
        let mut fields = scan_fields(b"410102001");
        fields[6] = tlv(
            0x09,
            &[
                tlv(0x01, b"venue-zz-station"),
                tlv(0x02, b"410102001"),
                tlv(0x03, b"transport_hub"),
                tlv(0x05, b"rotating "),
            ]
            .concat(),
        );
        assert!(matches!(
            decode_err(&record(&fields)),
            CanonicalError::InvalidName {
                field: "body.presence",
                ..
            }
        ));
    }

    #[test]
    fn refuses_invalid_ids_texts_times_and_codes() {
        for bad in [
            &b""[..],
            b"has space",
            b"a/b",
            "斜杠".as_bytes(),
            &[0xff, 0xfe],
            &[b'x'; 65],
        ] {
            let mut fields = approval_fields();
            fields[0] = tlv(0x01, bad);
            assert!(
                matches!(
                    decode_err(&record(&fields)),
                    CanonicalError::InvalidId { field: "id", .. }
                ),
                "{bad:?}"
            );
        }
        let mut fields = approval_fields();
        fields[3] = tlv(0x05, b"zz health");
        assert!(matches!(
            decode_err(&record(&fields)),
            CanonicalError::InvalidId {
                field: "authority",
                ..
            }
        ));
        let mut fields = approval_fields();
        fields.insert(4, tlv(0x06, &[0xe9, 0x83]));
        assert_eq!(
            decode_err(&record(&fields)),
            CanonicalError::InvalidUtf8 {
                field: "legal_basis"
            }
        );
        for seconds in [i64::MIN, -1, 0, 946_684_799, 4_102_444_800, i64::MAX] {
            let mut fields = approval_fields();
            fields[5] = tlv(0x08, &seconds.to_be_bytes());
            assert_eq!(
                decode_err(&record(&fields)),
                CanonicalError::InvalidTimestamp {
                    field: "recorded_at",
                    seconds
                }
            );
        }
        for bad in [
            &b"419999"[..],
            b" 41",
            b"41 ",
            b"+41",
            b"4101x",
            b"",
            b"410102001\n",
            b"4101020011",
        ] {
            assert!(
                matches!(
                    decode_err(&record(&scan_fields(bad))),
                    CanonicalError::InvalidJurisdiction {
                        field: "body.street",
                        ..
                    }
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn out_of_range_times_encode_but_do_not_decode() {
        // `Timestamp::plus` saturates rather than refusing, so a record can hold an
        // instant past 2099; its bytes (and commitment) exist, but decoding refuses.
        let mut e = approval();
        e.recorded_at = ts("2099-12-31T00:00:00Z").plus(crate::time::Span::days(2));
        assert!(matches!(
            decode_canonical(&canonical_bytes(&e)),
            Err(CanonicalError::InvalidTimestamp {
                field: "recorded_at",
                ..
            })
        ));
    }

    // ---- properties ---------------------------------------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_records_round_trip(e in arb_evidence()) {
            let bytes = canonical_bytes(&e);
            prop_assert_eq!(canonical_bytes(&e.clone()), bytes.clone());
            prop_assert_eq!(decode_canonical(&bytes), Ok(e));
        }

        #[test]
        fn different_records_have_different_bytes(a in arb_evidence(), b in arb_evidence()) {
            prop_assert_eq!(a == b, canonical_bytes(&a) == canonical_bytes(&b));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_canonical(&bytes);
            let mut versioned = vec![FORMAT_VERSION];
            versioned.extend_from_slice(&bytes);
            if let Ok(e) = decode_canonical(&versioned) {
                prop_assert_eq!(canonical_bytes(&e), versioned);
            }
        }

        /// Damaged encodings (a byte changed, inserted or removed anywhere) never
        /// panic, and whatever still decodes re-encodes to exactly the same bytes.
        #[test]
        fn damaged_encodings_never_panic_and_stay_canonical(
            e in arb_evidence(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let mut bytes = canonical_bytes(&e);
            for (at, byte, op) in edits {
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => { bytes.remove(i); }
                }
                if bytes.is_empty() { break; }
            }
            if let Ok(decoded) = decode_canonical(&bytes) {
                prop_assert_eq!(canonical_bytes(&decoded), bytes);
            }
        }
    }
}
