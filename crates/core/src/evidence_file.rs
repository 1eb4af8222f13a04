//! The evidence file: JSON Lines, one registry entry or evidence record per line.
//!
//! This is the exchange format of `mingma explain` and of bulk imports. Reading a
//! whole file ([`read_evidence_file`]) checks every line and every reference between
//! lines and reports each problem with its line number and the field at fault;
//! nothing from a file with errors is used. See the README for the format and an
//! example.
//!
//! A bulk import reads a file line by line instead, with the same checks in pieces:
//! [`RawLine::parse`] (JSON, `type`), [`read_entry`] (a registry line),
//! [`read_record`] (an evidence record against a [`Directory`], its `seal` parsed
//! but not checked: `mingma-authority` checks seals) and [`check_references`]
//! (what a record refers to, found through [`RecordLookup`]). Each gives a
//! [`Problem`]: the field at fault, when one is, and what is wrong.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::directory::{Authority, DataSource, Directory, Official, Venue};
use crate::division::Jurisdiction;
use crate::evidence::{
    CaseClass, ClosureOutcome, Evidence, EvidenceBody, EvidenceKind, Exposure, Presence,
    QuarantineSetting, Recorder, RiskAreaScope, RiskLevel, Seal, TestMethod, TestOutcome,
    VenueKind,
};
use crate::identity::{NationalId, PersonKey, PseudonymKey};
use crate::ids::{AuthorityId, DataSourceId, OfficialId, RecordId, VenueId};
use crate::time::Timestamp;
use crate::SourceKind;

/// One problem in an evidence file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// The field at fault (`recorded_by`, `exposure.venue`, ...), when one is.
    pub field: Option<String>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl LineError {
    /// `problem`, found on `line`.
    pub fn new(line: usize, problem: Problem) -> LineError {
        LineError {
            line,
            field: problem.field,
            message: problem.message,
        }
    }
}

/// What is wrong with one line: the field at fault, when one is, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong (it names the field too).
    pub message: String,
}

impl Problem {
    /// A problem with `field`.
    pub fn at(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// A problem with the line as a whole.
    pub fn line(message: impl Into<String>) -> Problem {
        Problem {
            field: None,
            message: message.into(),
        }
    }

    /// The same problem, its message prefixed with `context`.
    fn within(self, context: &str) -> Problem {
        Problem {
            field: self.field,
            message: format!("{context}: {}", self.message),
        }
    }
}

/// A checked evidence file.
#[derive(Debug, Clone, Default)]
pub struct EvidenceFile {
    /// Registry entries.
    pub directory: Directory,
    /// Evidence records, in file order, each once.
    pub records: Vec<Evidence>,
    /// Line of each record.
    pub lines: BTreeMap<RecordId, usize>,
    /// Every person the file is about, with their ID number masked to its last four
    /// characters (for listings; the full number is not kept).
    pub subjects: BTreeMap<PersonKey, String>,
}

/// Line types that register something rather than record evidence.
const REGISTRY_TYPES: [&str; 4] = ["authority", "official", "data_source", "venue"];

/// Fields every evidence record has (`seal` is optional: holders' scans have none).
const ENVELOPE: [&str; 10] = [
    "id",
    "seal",
    "type",
    "subject",
    "subject_key",
    "recorded_by",
    "authority",
    "legal_basis",
    "effective_at",
    "recorded_at",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorityLine {
    id: AuthorityId,
    name: String,
    name_en: Option<String>,
    jurisdiction: Jurisdiction,
    contact: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficialLine {
    id: OfficialId,
    authority: AuthorityId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceLine {
    id: DataSourceId,
    kind: SourceKind,
    authority: AuthorityId,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueLine {
    id: VenueId,
    name: String,
    street: Jurisdiction,
    kind: VenueKind,
}

#[derive(Deserialize)]
struct Envelope {
    id: RecordId,
    subject: Option<NationalId>,
    /// The person's key instead of their ID number (what a tracing query returns).
    subject_key: Option<PersonKey>,
    recorded_by: String,
    authority: Option<AuthorityId>,
    legal_basis: Option<String>,
    effective_at: Timestamp,
    recorded_at: Timestamp,
    /// `<16 hex digits>.<128 hex digits>` ([`Seal`]).
    seal: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestResultBody {
    method: TestMethod,
    outcome: TestOutcome,
    sampled_at: Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseReportBody {
    classification: CaseClass,
    test: Option<RecordId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseClosureBody {
    case: RecordId,
    outcome: ClosureOutcome,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseContactBody {
    case: RecordId,
    exposure: ExposureWire,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExposureWire {
    Named(String),
    Venue(VenueExposure),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueExposure {
    venue: VenueId,
    from: Timestamp,
    until: Timestamp,
    #[serde(default)]
    scans: Vec<RecordId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BorderEntryBody {
    port: String,
    origin: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    document: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantineOrderBody {
    setting: QuarantineSetting,
    facility: Option<String>,
    ground: RecordId,
    planned_end: Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantineReleaseBody {
    order: RecordId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskAreaBody {
    level: RiskLevel,
    divisions: Option<Vec<Jurisdiction>>,
    venues: Option<Vec<VenueId>>,
    from: Timestamp,
    until: Timestamp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueScanBody {
    venue: VenueId,
    left_at: Option<Timestamp>,
    presence: Presence,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    target: RecordId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetReasonBody {
    target: RecordId,
    reason: String,
}

/// Deserialises one line's fields, naming the field at fault.
fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, Problem> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if path.is_empty() || path == "." {
            // Missing and unknown fields are reported at the object: the field is
            // the first one the message quotes.
            let field = message
                .split('`')
                .nth(1)
                .filter(|f| !f.is_empty())
                .map(str::to_owned);
            Problem { field, message }
        } else {
            Problem {
                message: format!("`{path}`: {message}"),
                field: Some(path),
            }
        }
    })
}

/// One line of an evidence file, read as JSON with its `type`, not yet checked.
#[derive(Debug, Clone)]
pub struct RawLine {
    kind: String,
    map: Map<String, Value>,
}

impl RawLine {
    /// Reads one line: `None` for a blank line or a `//` comment.
    pub fn parse(text: &str) -> Result<Option<RawLine>, Problem> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|e| Problem::line(format!("not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Problem::line("a line must be a JSON object"));
        };
        RawLine::from_object(map).map(Some)
    }

    /// A line given as a JSON object (how the CSV reader hands over a row).
    pub fn from_object(mut map: Map<String, Value>) -> Result<RawLine, Problem> {
        let kind = match map.remove("type") {
            Some(Value::String(t)) => t,
            Some(_) => return Err(Problem::at("type", "`type` must be a string")),
            None => return Err(Problem::at("type", "missing `type`")),
        };
        Ok(RawLine { kind, map })
    }

    /// The line's `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Whether the line registers something (authority, official, data source,
    /// venue) rather than recording evidence.
    pub fn is_entry(&self) -> bool {
        REGISTRY_TYPES.contains(&self.kind.as_str())
    }

    /// The line's `id`, if it has a valid one (to name a refused record).
    pub fn record_id(&self) -> Option<RecordId> {
        match self.map.get("id") {
            Some(Value::String(id)) => RecordId::parse(id).ok(),
            _ => None,
        }
    }

    /// The person the line is about, if it names a valid ID number.
    fn subject(&self) -> Option<NationalId> {
        match self.map.get("subject") {
            Some(Value::String(text)) => NationalId::parse(text).ok(),
            _ => None,
        }
    }
}

/// A registry line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An `authority` line.
    Authority(Authority),
    /// An `official` line.
    Official(Official),
    /// A `data_source` line.
    Source(DataSource),
    /// A `venue` line.
    Venue(Venue),
}

impl Entry {
    /// Adds the entry to `directory` (replacing an entry with the same id).
    pub fn add_to(self, directory: &mut Directory) {
        match self {
            Entry::Authority(a) => {
                directory.authorities.insert(a.id.clone(), a);
            }
            Entry::Official(o) => {
                directory.officials.insert(o.id.clone(), o);
            }
            Entry::Source(s) => {
                directory.sources.insert(s.id.clone(), s);
            }
            Entry::Venue(v) => {
                directory.venues.insert(v.id.clone(), v);
            }
        }
    }
}

/// Where the authorities, officials and data sources that records name come from,
/// which decides the hint an unknown one gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// From the file's own registry lines (`mingma explain`).
    File,
    /// From the store's authority acts (an import: file lines register nothing).
    Registered,
}

/// Finds the records that others refer to: with their line in the file, if they
/// are in it.
pub trait RecordLookup {
    /// The record with `id`, and its line if it is in the file being read.
    fn find(&self, id: &RecordId) -> Option<(Option<usize>, &Evidence)>;
}

impl RecordLookup for BTreeMap<RecordId, (usize, Evidence)> {
    fn find(&self, id: &RecordId) -> Option<(Option<usize>, &Evidence)> {
        self.get(id).map(|(line, record)| (Some(*line), record))
    }
}

/// Reads an evidence file, computing person keys with `key`.
///
/// Returns every problem found, each with its line, if there is any.
pub fn read_evidence_file(text: &str, key: &PseudonymKey) -> Result<EvidenceFile, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut lines: Vec<(usize, RawLine)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        match RawLine::parse(raw) {
            Ok(Some(parsed)) => lines.push((line, parsed)),
            Ok(None) => {}
            Err(problem) => errors.push(LineError::new(line, problem)),
        }
    }

    let mut file = EvidenceFile::default();
    // Registry entries first, so records may name them whatever the order of lines.
    for (line, raw) in &lines {
        if raw.is_entry() {
            match read_entry(raw.clone()) {
                Ok(entry) => entry.add_to(&mut file.directory),
                Err(problem) => errors.push(LineError::new(*line, problem)),
            }
        }
    }
    let mut seen: BTreeMap<RecordId, (usize, Evidence)> = BTreeMap::new();
    for (line, raw) in lines {
        if raw.is_entry() {
            continue;
        }
        if let Some(id) = raw.subject() {
            file.subjects.insert(
                key.person_key(&id),
                format!("**************{}", id.last_four()),
            );
        }
        match read_record(&file.directory, raw, key, Names::File) {
            Ok(evidence) => match seen.get(&evidence.id) {
                Some((_, earlier)) if *earlier == evidence => {}
                Some((first, _)) => errors.push(LineError {
                    line,
                    field: Some("id".into()),
                    message: format!(
                        "record id `{}` is already used by line {first} for a different record",
                        evidence.id
                    ),
                }),
                None => {
                    seen.insert(evidence.id.clone(), (line, evidence.clone()));
                    file.lines.insert(evidence.id.clone(), line);
                    file.records.push(evidence);
                }
            },
            Err(problem) => errors.push(LineError::new(line, problem)),
        }
    }
    for evidence in &file.records {
        let line = file.lines.get(&evidence.id).copied().unwrap_or_default();
        for problem in check_references(evidence, &seen) {
            errors.push(LineError::new(line, problem));
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Reads a registry line (`authority`, `official`, `data_source`, `venue`).
pub fn read_entry(raw: RawLine) -> Result<Entry, Problem> {
    let RawLine { kind, map } = raw;
    match kind.as_str() {
        "authority" => {
            let a: AuthorityLine = from_map(map).map_err(|p| p.within("authority"))?;
            Ok(Entry::Authority(Authority {
                id: a.id,
                name: a.name,
                name_en: a.name_en,
                jurisdiction: a.jurisdiction,
                contact: a.contact,
            }))
        }
        "official" => {
            let o: OfficialLine = from_map(map).map_err(|p| p.within("official"))?;
            Ok(Entry::Official(Official {
                id: o.id,
                authority: o.authority,
            }))
        }
        "data_source" => {
            let s: SourceLine = from_map(map).map_err(|p| p.within("data_source"))?;
            Ok(Entry::Source(DataSource {
                id: s.id,
                kind: s.kind,
                authority: s.authority,
                name: s.name,
            }))
        }
        "venue" => {
            let v: VenueLine = from_map(map).map_err(|p| p.within("venue"))?;
            if v.street.level() != crate::division::Level::Street {
                return Err(Problem::at(
                    "street",
                    format!(
                        "venue: `street` must be a 9-digit street code, not `{}`",
                        v.street
                    ),
                ));
            }
            Ok(Entry::Venue(Venue {
                id: v.id,
                name: v.name,
                street: v.street,
                kind: v.kind,
            }))
        }
        other => Err(Problem::at(
            "type",
            format!("`{other}` is not a registry line"),
        )),
    }
}

/// Checks that an authority a line names is in the directory.
fn check_authority(
    directory: &Directory,
    id: &AuthorityId,
    field: &str,
    names: Names,
) -> Result<(), Problem> {
    if directory.authorities.contains_key(id) {
        Ok(())
    } else {
        Err(Problem::at(
            field.trim_matches('`'),
            format!(
                "{field}: unknown authority `{id}`{}",
                names.hint("an `authority`")
            ),
        ))
    }
}

impl Names {
    fn hint(self, line: &str) -> String {
        match self {
            Names::File => format!(" (add {line} line)"),
            Names::Registered => {
                " (not registered in this store's authority acts; an import registers nothing)"
                    .to_owned()
            }
        }
    }
}

/// Reads an evidence record: its envelope, its body, its seal (parsed, not
/// checked), against the authorities, officials, sources and venues of
/// `directory`, computing the subject's person key with `key`. References to other
/// records are not followed here (see [`check_references`]).
pub fn read_record(
    directory: &Directory,
    raw: RawLine,
    key: &PseudonymKey,
    names: Names,
) -> Result<Evidence, Problem> {
    let RawLine {
        kind: kind_name,
        mut map,
    } = raw;
    let kind_name = kind_name.as_str();
    let kind = EvidenceKind::from_name(kind_name).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY_TYPES
            .iter()
            .copied()
            .chain(EvidenceKind::ALL.iter().map(|k| k.name()))
            .collect();
        Problem::at(
            "type",
            format!("unknown type `{kind_name}` (known: {})", known.join(", ")),
        )
    })?;
    let mut envelope_map = Map::new();
    for field in ENVELOPE {
        if let Some(v) = map.remove(field) {
            envelope_map.insert(field.to_owned(), v);
        }
    }
    let envelope: Envelope = from_map(envelope_map)?;
    let prefix = format!("{kind_name} `{}`", envelope.id);
    let context = |p: Problem| p.within(&prefix);
    let at = |field: &str, message: String| context(Problem::at(field, message));

    let seal = envelope
        .seal
        .as_deref()
        .map(|text| Seal::parse(text).map_err(|e| at("seal", format!("`seal`: {e}"))))
        .transpose()?;
    let subject = match (&envelope.subject, &envelope.subject_key, kind.has_subject()) {
        (Some(_), Some(_), _) => {
            return Err(at(
                "subject_key",
                "give either `subject` (an ID number) or `subject_key`, not both".into(),
            ))
        }
        (Some(id), None, true) => Some(key.person_key(id)),
        (None, Some(person), true) => Some(*person),
        (None, None, true) => {
            return Err(at(
                "subject",
                "missing `subject` (the person's ID number)".into(),
            ))
        }
        (Some(_), None, false) | (None, Some(_), false) => {
            return Err(at(
                "subject",
                "has no `subject`: it is about an area or another record".into(),
            ))
        }
        (None, None, false) => None,
    };
    let recorded_by =
        parse_recorder(directory, &envelope.recorded_by, key, names).map_err(context)?;
    match (&recorded_by, kind) {
        (Recorder::Holder | Recorder::Proxy(_), EvidenceKind::VenueScan) => {}
        (Recorder::Holder | Recorder::Proxy(_), _) => {
            return Err(at(
                "recorded_by",
                format!("`recorded_by`: a holder's phone records only venue scans, not {kind}"),
            ))
        }
        (_, EvidenceKind::VenueScan) if !recorded_by.is_official() => {
            return Err(at(
                "recorded_by",
                "`recorded_by`: venue scans come from a holder, a proxy or an official".into(),
            ))
        }
        (
            Recorder::Source {
                id,
                kind: source_kind,
            },
            _,
        ) if !source_kind.may_submit(kind) => {
            return Err(at(
                "recorded_by",
                format!(
                    "`recorded_by`: source `{id}` is a {} source and may not submit {kind} records",
                    source_kind.name()
                ),
            ))
        }
        _ => {}
    }
    let authority = match (&envelope.authority, &recorded_by) {
        (None, Recorder::Holder | Recorder::Proxy(_)) => None,
        (Some(_), Recorder::Holder | Recorder::Proxy(_)) => {
            return Err(at("authority", "a holder's scan has no `authority`".into()))
        }
        (None, _) => {
            return Err(at(
                "authority",
                "missing `authority` (the owning authority)".into(),
            ))
        }
        (Some(a), recorder) => {
            check_authority(directory, a, "authority", names).map_err(context)?;
            let acting_for = match recorder {
                Recorder::Official(o) => directory.officials.get(o).map(|o| &o.authority),
                Recorder::Source { id, .. } => directory.sources.get(id).map(|s| &s.authority),
                _ => None,
            };
            if acting_for != Some(a) {
                return Err(at(
                    "authority",
                    format!(
                        "`authority` is `{a}`, but `{}` acts for `{}`",
                        envelope.recorded_by,
                        acting_for.map_or("nobody".to_owned(), |x| x.to_string())
                    ),
                ));
            }
            Some(a.clone())
        }
    };
    let legal_basis = envelope.legal_basis.filter(|b| !b.trim().is_empty());
    if kind.needs_legal_basis() && legal_basis.is_none() {
        return Err(at(
            "legal_basis",
            "missing `legal_basis` (required for this type)".into(),
        ));
    }

    let venue = |id: &VenueId, field: &str| {
        directory.venues.get(id).ok_or_else(|| {
            at(
                field,
                format!("unknown venue `{id}`{}", Names::File.hint("a `venue`")),
            )
        })
    };
    let body = match kind {
        EvidenceKind::TestResult => {
            let b: TestResultBody = from_map(map).map_err(context)?;
            if b.sampled_at > envelope.effective_at {
                return Err(at(
                    "sampled_at",
                    "`sampled_at` is after `effective_at` (the result time)".into(),
                ));
            }
            EvidenceBody::TestResult {
                method: b.method,
                outcome: b.outcome,
                sampled_at: b.sampled_at,
            }
        }
        EvidenceKind::CaseReport => {
            let b: CaseReportBody = from_map(map).map_err(context)?;
            EvidenceBody::CaseReport {
                classification: b.classification,
                test: b.test,
            }
        }
        EvidenceKind::CaseClosure => {
            let b: CaseClosureBody = from_map(map).map_err(context)?;
            EvidenceBody::CaseClosure {
                case: b.case,
                outcome: b.outcome,
            }
        }
        EvidenceKind::CloseContact => {
            let b: CloseContactBody = from_map(map).map_err(context)?;
            let exposure = match b.exposure {
                ExposureWire::Named(name) if name == "household" => Exposure::Household,
                ExposureWire::Named(other) => {
                    return Err(at(
                        "exposure",
                        format!(
                            "`exposure` is \"household\" or {{\"venue\", \"from\", \"until\"}}, not `{other}`"
                        ),
                    ))
                }
                ExposureWire::Venue(v) => {
                    venue(&v.venue, "exposure.venue")?;
                    if v.from >= v.until {
                        return Err(at(
                            "exposure.from",
                            "`exposure.from` must be before `exposure.until`".into(),
                        ));
                    }
                    Exposure::Venue {
                        venue: v.venue,
                        from: v.from,
                        until: v.until,
                        scans: v.scans,
                    }
                }
            };
            EvidenceBody::CloseContact {
                case: b.case,
                exposure,
            }
        }
        EvidenceKind::BorderEntry => {
            let b: BorderEntryBody = from_map(map).map_err(context)?;
            EvidenceBody::BorderEntry {
                port: b.port,
                origin: b.origin,
                name: b.name,
                document: b.document,
            }
        }
        EvidenceKind::QuarantineOrder => {
            let b: QuarantineOrderBody = from_map(map).map_err(context)?;
            if b.planned_end <= envelope.effective_at {
                return Err(at(
                    "planned_end",
                    "`planned_end` must be after the start (`effective_at`)".into(),
                ));
            }
            EvidenceBody::QuarantineOrder {
                setting: b.setting,
                facility: b.facility,
                ground: b.ground,
                planned_end: b.planned_end,
            }
        }
        EvidenceKind::QuarantineRelease => {
            let b: QuarantineReleaseBody = from_map(map).map_err(context)?;
            EvidenceBody::QuarantineRelease { order: b.order }
        }
        EvidenceKind::RiskArea => {
            let b: RiskAreaBody = from_map(map).map_err(context)?;
            if b.from >= b.until {
                return Err(at("from", "`from` must be before `until`".into()));
            }
            // Lists are sets: kept sorted and without repeats, so the same declaration
            // always has the same canonical bytes.
            let area = match (b.divisions, b.venues) {
                (Some(mut d), None) if !d.is_empty() => {
                    d.sort();
                    d.dedup();
                    RiskAreaScope::Divisions(d)
                }
                (None, Some(mut v)) if !v.is_empty() => {
                    for id in &v {
                        venue(id, "venues")?;
                    }
                    v.sort();
                    v.dedup();
                    RiskAreaScope::Venues(v)
                }
                _ => return Err(at(
                    "divisions",
                    "give exactly one non-empty list: `divisions` (GB/T 2260 codes) or `venues`"
                        .into(),
                )),
            };
            if let Some(owner) = authority
                .as_ref()
                .and_then(|a| directory.authorities.get(a))
            {
                let outside = match &area {
                    RiskAreaScope::Divisions(divisions) => divisions
                        .iter()
                        .find(|d| !owner.jurisdiction.contains(**d))
                        .map(|d| (d.to_string(), "divisions")),
                    RiskAreaScope::Venues(venues) => venues
                        .iter()
                        .find(|id| {
                            directory
                                .venues
                                .get(*id)
                                .is_some_and(|v| !owner.jurisdiction.contains(v.street))
                        })
                        .map(|v| (v.to_string(), "venues")),
                };
                if let Some((place, field)) = outside {
                    return Err(at(
                        field,
                        format!(
                            "`{place}` lies outside the jurisdiction of `{}` ({} {}): an authority declares risk areas only inside it",
                            owner.id,
                            owner.jurisdiction,
                            owner.jurisdiction.full_name()
                        ),
                    ));
                }
            }
            EvidenceBody::RiskArea {
                level: b.level,
                area,
                from: b.from,
                until: b.until,
            }
        }
        EvidenceKind::VenueScan => {
            let b: VenueScanBody = from_map(map).map_err(context)?;
            let v = venue(&b.venue, "venue")?;
            if b.left_at.is_some_and(|l| l < envelope.effective_at) {
                return Err(at(
                    "left_at",
                    "`left_at` is before the entry (`effective_at`)".into(),
                ));
            }
            EvidenceBody::VenueScan {
                venue: b.venue,
                street: v.street,
                venue_kind: v.kind,
                left_at: b.left_at,
                presence: b.presence,
            }
        }
        EvidenceKind::Retraction => {
            let b: TargetReasonBody = from_map(map).map_err(context)?;
            EvidenceBody::Retraction {
                target: b.target,
                reason: b.reason,
            }
        }
        EvidenceKind::Approval => {
            let b: TargetBody = from_map(map).map_err(context)?;
            EvidenceBody::Approval { target: b.target }
        }
        EvidenceKind::Rejection => {
            let b: TargetReasonBody = from_map(map).map_err(context)?;
            EvidenceBody::Rejection {
                target: b.target,
                reason: b.reason,
            }
        }
    };
    if matches!(kind, EvidenceKind::Approval | EvidenceKind::Rejection)
        && !recorded_by.is_official()
    {
        return Err(at(
            "recorded_by",
            "approvals and rejections are made by officials".into(),
        ));
    }
    Ok(Evidence {
        seal,
        id: envelope.id,
        subject,
        recorded_by,
        authority,
        legal_basis,
        effective_at: envelope.effective_at,
        recorded_at: envelope.recorded_at,
        body,
    })
}

/// The venues a record names (a scan's venue, a venue exposure's, a risk area's).
pub fn venues_named(evidence: &Evidence) -> Vec<&VenueId> {
    match &evidence.body {
        EvidenceBody::VenueScan { venue, .. } => vec![venue],
        EvidenceBody::CloseContact {
            exposure: Exposure::Venue { venue, .. },
            ..
        } => vec![venue],
        EvidenceBody::RiskArea {
            area: RiskAreaScope::Venues(venues),
            ..
        } => venues.iter().collect(),
        _ => Vec::new(),
    }
}

fn parse_recorder(
    directory: &Directory,
    text: &str,
    key: &PseudonymKey,
    names: Names,
) -> Result<Recorder, Problem> {
    let field = "recorded_by";
    let bad = || {
        Problem::at(field, format!("`recorded_by` is `official:<id>`, `source:<id>`, `holder` or `proxy:<ID number>`, not `{text}`"))
    };
    if text == "holder" {
        return Ok(Recorder::Holder);
    }
    let (prefix, rest) = text.split_once(':').ok_or_else(bad)?;
    match prefix {
        "official" => {
            let id = OfficialId::parse(rest)
                .map_err(|e| Problem::at(field, format!("`recorded_by`: {e}")))?;
            let official = directory.officials.get(&id).ok_or_else(|| {
                Problem::at(
                    field,
                    format!(
                        "`recorded_by`: unknown official `{id}`{}",
                        names.hint("an `official`")
                    ),
                )
            })?;
            check_authority(directory, &official.authority, "`recorded_by`", names)?;
            Ok(Recorder::Official(id))
        }
        "source" => {
            let id = DataSourceId::parse(rest)
                .map_err(|e| Problem::at(field, format!("`recorded_by`: {e}")))?;
            let source = directory.sources.get(&id).ok_or_else(|| {
                Problem::at(
                    field,
                    format!(
                        "`recorded_by`: unknown data source `{id}`{}",
                        names.hint("a `data_source`")
                    ),
                )
            })?;
            check_authority(directory, &source.authority, "`recorded_by`", names)?;
            Ok(Recorder::Source {
                id,
                kind: source.kind,
            })
        }
        "proxy" => {
            let id = NationalId::parse(rest)
                .map_err(|e| Problem::at(field, format!("`recorded_by` proxy: {e}")))?;
            Ok(Recorder::Proxy(key.person_key(&id)))
        }
        _ => Err(bad()),
    }
}

/// Checks what `evidence` refers to, each target found through `records`: that it
/// exists, is not the record itself, is of a type the reference accepts, is about
/// the same person where it must be, and — for retractions, approvals and
/// rejections — the ownership and two-person rules. Every problem is returned,
/// naming the field.
pub fn check_references(evidence: &Evidence, records: &impl RecordLookup) -> Vec<Problem> {
    let mut problems = Vec::new();
    let line_of = |line: Option<usize>| match line {
        Some(n) => format!(" (line {n})"),
        None => " (stored)".to_owned(),
    };
    for (role, target_id) in evidence.references() {
        let field = role.field();
        let Some((target_line, target)) = records.find(target_id) else {
            problems.push(Problem::at(field, format!(
                "`{field}` refers to `{target_id}`, but no record with that id is in the file (dangling reference)"
            )));
            continue;
        };
        let at_line = line_of(target_line);
        if target_id == &evidence.id {
            problems.push(Problem::at(
                field,
                format!("`{field}` refers to the record itself"),
            ));
            continue;
        }
        if !role.accepts(target.kind()) {
            problems.push(Problem::at(field, format!(
                "`{field}` refers to `{target_id}`{at_line}, of type {}, which cannot be the `{field}` of a {}",
                target.kind(),
                evidence.kind()
            )));
            continue;
        }
        if role.same_subject() && target.subject != evidence.subject {
            problems.push(Problem::at(
                field,
                format!(
                    "`{field}` refers to `{target_id}`{at_line}, which is about another person"
                ),
            ));
        }
        if evidence.kind() == EvidenceKind::Retraction && evidence.authority != target.authority {
            problems.push(Problem::at(field, format!(
                "`{target_id}`{at_line} is owned by another authority; only its owner may retract it"
            )));
        }
        if matches!(
            evidence.kind(),
            EvidenceKind::Approval | EvidenceKind::Rejection
        ) {
            let acted_on = match &target.body {
                EvidenceBody::Retraction { target: t, .. } => records.find(t).map(|(_, r)| r),
                _ => None,
            };
            if !target.needs_approval(acted_on) {
                problems.push(Problem::at(
                    field,
                    format!("`{target_id}`{at_line} needs no second official's approval"),
                ));
            } else if evidence.recorded_by == target.recorded_by {
                problems.push(Problem::at(field, format!(
                    "an official cannot approve or reject their own record `{target_id}`{at_line}: the two-person rule needs a second official"
                )));
            } else if evidence.authority != target.authority {
                problems.push(Problem::at(field, format!(
                    "`{target_id}`{at_line} is owned by another authority; only its own officials may approve or reject it"
                )));
            } else if evidence.recorded_at < target.recorded_at {
                problems.push(Problem::at(
                    field,
                    format!(
                    "recorded before the record it decides on, `{target_id}`{at_line}, was recorded"
                ),
                ));
            }
        }
    }
    if let Some(subject) = evidence.subject {
        if let Recorder::Proxy(proxy) = &evidence.recorded_by {
            if *proxy == subject {
                problems.push(Problem::at(
                    "recorded_by",
                    "a proxy scan names the holder as their own proxy: use `holder`",
                ));
            }
        }
    }
    problems
}

/// Reads one record given as a JSON object in this file format (its `type` naming
/// the kind), against the registered `directory`: what the API takes for a single
/// record. Its references are not checked here (the caller has the store).
pub fn read_record_object(
    directory: &Directory,
    object: Value,
    key: &PseudonymKey,
) -> Result<Evidence, Problem> {
    let Value::Object(map) = object else {
        return Err(Problem::line("a record must be a JSON object"));
    };
    let raw = RawLine::from_object(map)?;
    if raw.is_entry() {
        return Err(Problem::at(
            "type",
            format!("`{}` is a directory entry, not a record", raw.kind()),
        ));
    }
    read_record(directory, raw, key, Names::Registered)
}
