//! The specification of Mingma's core, as tests: the default rule set rule by rule,
//! the accountability of evidence (retractions, two-person rule), the inbound-
//! traveller reason, properties of derivation over random evidence, and the loading
//! of rule files and evidence files.

// Tables of cases are slices of tuples, one row per case: that is the point.
#![allow(clippy::type_complexity)]

mod support;

mod accountability;
mod evidence_file;
mod inbound_reason;
mod properties;
mod rule_file;
mod rules_default;
