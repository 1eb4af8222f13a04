//! Mingma's core: the domain of a health-code platform and the derivation of codes.
//!
//! A person's code is never set: it is derived, by a published and versioned rule set,
//! from the evidence recorded about them (principle 1). This crate holds the types
//! that evidence is made of (checked on construction: ID numbers, GB/T 2260 codes,
//! identifiers, times), the rule set and its validation, and [`derive()`], which answers
//! "which colour held at `valid_at`, given what was recorded by `known_at`", and why.
//!
//! # What this crate must never do
//! - No IO, no async, no database, no clock: every time is an argument.
//! - No way to set a colour: the only producer of a [`Colour`] for a person is
//!   [`derive()`].
//! - No rule conditioned on anything but evidence, and no reason text outside the
//!   closed [`Reason`] catalogue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical;
pub mod commitment;
pub mod derive;
pub mod directory;
pub mod division;
pub mod evidence;
pub mod evidence_file;
mod hex;
pub mod identity;
pub mod ids;
pub mod reason;
pub mod rules;
pub mod time;

pub use canonical::{canonical_bytes, decode_canonical, CanonicalError};
pub use commitment::{commit, Commitment, LeafEntry, Salt};
pub use derive::{
    derive, derive_brief, record_statuses, scan_in_area, scan_may_matter, stay, Decision,
    FiredRule, NextChange, RecordStatus,
};
pub use directory::{Authority, DataSource, Directory, Official, Venue};
pub use division::{Jurisdiction, Level};
pub use evidence::{
    CaseClass, ClosureOutcome, Evidence, EvidenceBody, EvidenceKind, Exposure, Presence,
    QuarantineSetting, Recorder, RiskAreaScope, RiskLevel, Seal, SourceKind, TestMethod,
    TestOutcome, VenueKind,
};
pub use evidence_file::{
    check_references, read_entry, read_evidence_file, read_record, venues_named, Entry,
    EvidenceFile, LineError, Names, Problem, RawLine, RecordLookup,
};
pub use identity::{NationalId, PersonKey, PseudonymKey};
pub use ids::{AuthorityId, DataSourceId, OfficialId, RecordId, VenueId};
pub use reason::{Reason, ReasonText};
pub use rules::{Colour, RuleSet, RuleSetError};
pub use time::{Span, Timestamp};
