//! The evidence file: JSON Lines, one registry entry or evidence record per line.
//!
//! This is the exchange format of `mingma explain` and of bulk imports. Reading it
//! checks every line and every reference between lines and reports each problem with
//! its line number; nothing from a file with errors is used. See the README for the
//! format and an example.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::directory::{Authority, DataSource, Directory, Official, Venue};
use crate::division::Jurisdiction;
use crate::evidence::{
    CaseClass, ClosureOutcome, Evidence, EvidenceBody, EvidenceKind, Exposure, Presence,
    QuarantineSetting, Recorder, RiskAreaScope, RiskLevel, TestMethod, TestOutcome, VenueKind,
};
use crate::identity::{NationalId, PersonKey, PseudonymKey};
use crate::ids::{AuthorityId, DataSourceId, OfficialId, RecordId, VenueId};
use crate::time::Timestamp;
use crate::{Seal, SourceKind};

/// One problem in an evidence file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, naming the field.
    pub message: String,
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

/// Fields every evidence record has.
const ENVELOPE: [&str; 9] = [
    "id",
    "type",
    "subject",
    "recorded_by",
    "authority",
    "legal_basis",
    "effective_at",
    "recorded_at",
    "seal",
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

fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
}

/// Reads an evidence file, computing person keys with `key`.
///
/// Returns every problem found, each with its line, if there is any.
pub fn read_evidence_file(text: &str, key: &PseudonymKey) -> Result<EvidenceFile, Vec<LineError>> {
    let mut errors = Vec::new();
    let mut objects: Vec<(usize, String, Map<String, Value>)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        let value: Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(e) => {
                errors.push(LineError {
                    line,
                    message: format!("not valid JSON: {e}"),
                });
                continue;
            }
        };
        let Value::Object(mut map) = value else {
            errors.push(LineError {
                line,
                message: "a line must be a JSON object".into(),
            });
            continue;
        };
        let kind = match map.remove("type") {
            Some(Value::String(t)) => t,
            Some(_) => {
                errors.push(LineError {
                    line,
                    message: "`type` must be a string".into(),
                });
                continue;
            }
            None => {
                errors.push(LineError {
                    line,
                    message: "missing `type`".into(),
                });
                continue;
            }
        };
        objects.push((line, kind, map));
    }

    let mut file = EvidenceFile::default();
    // Registry entries first, so records may name them whatever the order of lines.
    for (line, kind, map) in &objects {
        if let Err(message) = register(&mut file.directory, kind, map.clone()) {
            errors.push(LineError {
                line: *line,
                message,
            });
        }
    }
    let mut seen: BTreeMap<RecordId, (usize, Evidence)> = BTreeMap::new();
    for (line, kind, map) in objects {
        if REGISTRY_TYPES.contains(&kind.as_str()) {
            continue;
        }
        if let Some(Value::String(text)) = map.get("subject") {
            if let Ok(id) = NationalId::parse(text) {
                file.subjects.insert(
                    key.person_key(&id),
                    format!("**************{}", id.last_four()),
                );
            }
        }
        match record(&file.directory, &kind, map, key) {
            Ok(evidence) => match seen.get(&evidence.id) {
                Some((_, earlier)) if *earlier == evidence => {}
                Some((first, _)) => errors.push(LineError {
                    line,
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
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    for evidence in &file.records {
        let line = file.lines[&evidence.id];
        for message in check_references(evidence, &seen) {
            errors.push(LineError { line, message });
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn register(directory: &mut Directory, kind: &str, map: Map<String, Value>) -> Result<(), String> {
    match kind {
        "authority" => {
            let a: AuthorityLine = from_map(map).map_err(|e| format!("authority: {e}"))?;
            directory.authorities.insert(
                a.id.clone(),
                Authority {
                    id: a.id,
                    name: a.name,
                    name_en: a.name_en,
                    jurisdiction: a.jurisdiction,
                    contact: a.contact,
                },
            );
        }
        "official" => {
            let o: OfficialLine = from_map(map).map_err(|e| format!("official: {e}"))?;
            directory.officials.insert(
                o.id.clone(),
                Official {
                    id: o.id,
                    authority: o.authority,
                },
            );
        }
        "data_source" => {
            let s: SourceLine = from_map(map).map_err(|e| format!("data_source: {e}"))?;
            directory.sources.insert(
                s.id.clone(),
                DataSource {
                    id: s.id,
                    kind: s.kind,
                    authority: s.authority,
                    name: s.name,
                },
            );
        }
        "venue" => {
            let v: VenueLine = from_map(map).map_err(|e| format!("venue: {e}"))?;
            if v.street.level() != crate::division::Level::Street {
                return Err(format!(
                    "venue: `street` must be a 9-digit street code, not `{}`",
                    v.street
                ));
            }
            directory.venues.insert(
                v.id.clone(),
                Venue {
                    id: v.id,
                    name: v.name,
                    street: v.street,
                    kind: v.kind,
                },
            );
        }
        _ => {}
    }
    Ok(())
}

/// Checks the cross-references of registry entries (authorities named by officials,
/// sources) once all are read.
fn check_authority(directory: &Directory, id: &AuthorityId, field: &str) -> Result<(), String> {
    if directory.authorities.contains_key(id) {
        Ok(())
    } else {
        Err(format!(
            "{field}: unknown authority `{id}` (add an `authority` line)"
        ))
    }
}

fn record(
    directory: &Directory,
    kind_name: &str,
    mut map: Map<String, Value>,
    key: &PseudonymKey,
) -> Result<Evidence, String> {
    let kind = EvidenceKind::from_name(kind_name).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY_TYPES
            .iter()
            .copied()
            .chain(EvidenceKind::ALL.iter().map(|k| k.name()))
            .collect();
        format!("unknown type `{kind_name}` (known: {})", known.join(", "))
    })?;
    let mut envelope_map = Map::new();
    for field in ENVELOPE {
        if let Some(v) = map.remove(field) {
            envelope_map.insert(field.to_owned(), v);
        }
    }
    let envelope: Envelope = from_map(envelope_map)?;
    let context = |e: String| format!("{kind_name} `{}`: {e}", envelope.id);

    let subject = match (&envelope.subject, kind.has_subject()) {
        (Some(id), true) => Some(key.person_key(id)),
        (None, true) => return Err(context("missing `subject` (the person's ID number)".into())),
        (Some(_), false) => {
            return Err(context(
                "has no `subject`: it is about an area or another record".into(),
            ))
        }
        (None, false) => None,
    };
    let recorded_by = parse_recorder(directory, &envelope.recorded_by, key).map_err(context)?;
    match (&recorded_by, kind) {
        (Recorder::Holder | Recorder::Proxy(_), EvidenceKind::VenueScan) => {}
        (Recorder::Holder | Recorder::Proxy(_), _) => {
            return Err(context(format!(
                "`recorded_by`: a holder's phone records only venue scans, not {kind}"
            )))
        }
        (_, EvidenceKind::VenueScan) if !recorded_by.is_official() => {
            return Err(context(
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
            return Err(context(format!(
                "`recorded_by`: source `{id}` is a {} source and may not submit {kind} records",
                source_kind.name()
            )))
        }
        _ => {}
    }
    let authority = match (&envelope.authority, &recorded_by) {
        (None, Recorder::Holder | Recorder::Proxy(_)) => None,
        (Some(_), Recorder::Holder | Recorder::Proxy(_)) => {
            return Err(context("a holder's scan has no `authority`".into()))
        }
        (None, _) => return Err(context("missing `authority` (the owning authority)".into())),
        (Some(a), recorder) => {
            check_authority(directory, a, "authority").map_err(context)?;
            let acting_for = match recorder {
                Recorder::Official(o) => directory.officials.get(o).map(|o| &o.authority),
                Recorder::Source { id, .. } => directory.sources.get(id).map(|s| &s.authority),
                _ => None,
            };
            if acting_for != Some(a) {
                return Err(context(format!(
                    "`authority` is `{a}`, but `{}` acts for `{}`",
                    envelope.recorded_by,
                    acting_for.map_or("nobody".to_owned(), |x| x.to_string())
                )));
            }
            Some(a.clone())
        }
    };
    // A seal is carried, not checked: the keys it is checked against are the
    // ledger's (`mingma-authority`), and a file does not hold them.
    let seal = envelope
        .seal
        .as_deref()
        .map(Seal::parse)
        .transpose()
        .map_err(|e| context(format!("`seal`: {e}")))?;
    let legal_basis = envelope.legal_basis.filter(|b| !b.trim().is_empty());
    if kind.needs_legal_basis() && legal_basis.is_none() {
        return Err(context(
            "missing `legal_basis` (required for this type)".into(),
        ));
    }

    let venue = |id: &VenueId| {
        directory
            .venues
            .get(id)
            .ok_or_else(|| context(format!("unknown venue `{id}` (add a `venue` line)")))
    };
    let body = match kind {
        EvidenceKind::TestResult => {
            let b: TestResultBody = from_map(map).map_err(context)?;
            if b.sampled_at > envelope.effective_at {
                return Err(context(
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
                    return Err(context(format!(
                        "`exposure` is \"household\" or {{\"venue\", \"from\", \"until\"}}, not `{other}`"
                    )))
                }
                ExposureWire::Venue(v) => {
                    venue(&v.venue)?;
                    if v.from >= v.until {
                        return Err(context("`exposure.from` must be before `exposure.until`".into()));
                    }
                    Exposure::Venue { venue: v.venue, from: v.from, until: v.until, scans: v.scans }
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
            }
        }
        EvidenceKind::QuarantineOrder => {
            let b: QuarantineOrderBody = from_map(map).map_err(context)?;
            if b.planned_end <= envelope.effective_at {
                return Err(context(
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
                return Err(context("`from` must be before `until`".into()));
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
                        venue(id)?;
                    }
                    v.sort();
                    v.dedup();
                    RiskAreaScope::Venues(v)
                }
                _ => return Err(context(
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
                        .map(ToString::to_string),
                    RiskAreaScope::Venues(venues) => venues
                        .iter()
                        .find(|id| {
                            directory
                                .venues
                                .get(*id)
                                .is_some_and(|v| !owner.jurisdiction.contains(v.street))
                        })
                        .map(ToString::to_string),
                };
                if let Some(place) = outside {
                    return Err(context(format!(
                        "`{place}` lies outside the jurisdiction of `{}` ({} {}): an authority declares risk areas only inside it",
                        owner.id,
                        owner.jurisdiction,
                        owner.jurisdiction.full_name()
                    )));
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
            let v = venue(&b.venue)?;
            if b.left_at.is_some_and(|l| l < envelope.effective_at) {
                return Err(context(
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
        return Err(context(
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

fn parse_recorder(
    directory: &Directory,
    text: &str,
    key: &PseudonymKey,
) -> Result<Recorder, String> {
    let bad = || {
        format!("`recorded_by` is `official:<id>`, `source:<id>`, `holder` or `proxy:<ID number>`, not `{text}`")
    };
    if text == "holder" {
        return Ok(Recorder::Holder);
    }
    let (prefix, rest) = text.split_once(':').ok_or_else(bad)?;
    match prefix {
        "official" => {
            let id = OfficialId::parse(rest).map_err(|e| format!("`recorded_by`: {e}"))?;
            let official = directory.officials.get(&id).ok_or_else(|| {
                format!("`recorded_by`: unknown official `{id}` (add an `official` line)")
            })?;
            check_authority(directory, &official.authority, "`recorded_by`")?;
            Ok(Recorder::Official(id))
        }
        "source" => {
            let id = DataSourceId::parse(rest).map_err(|e| format!("`recorded_by`: {e}"))?;
            let source = directory.sources.get(&id).ok_or_else(|| {
                format!("`recorded_by`: unknown data source `{id}` (add a `data_source` line)")
            })?;
            check_authority(directory, &source.authority, "`recorded_by`")?;
            Ok(Recorder::Source {
                id,
                kind: source.kind,
            })
        }
        "proxy" => {
            let id = NationalId::parse(rest).map_err(|e| format!("`recorded_by` proxy: {e}"))?;
            Ok(Recorder::Proxy(key.person_key(&id)))
        }
        _ => Err(bad()),
    }
}

fn check_references(
    evidence: &Evidence,
    records: &BTreeMap<RecordId, (usize, Evidence)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (role, target_id) in evidence.references() {
        let field = role.field();
        let Some((target_line, target)) = records.get(target_id) else {
            problems.push(format!(
                "`{field}` refers to `{target_id}`, but no record with that id is in the file (dangling reference)"
            ));
            continue;
        };
        if target_id == &evidence.id {
            problems.push(format!("`{field}` refers to the record itself"));
            continue;
        }
        if !role.accepts(target.kind()) {
            problems.push(format!(
                "`{field}` refers to `{target_id}` (line {target_line}), of type {}, which cannot be the `{field}` of a {}",
                target.kind(),
                evidence.kind()
            ));
            continue;
        }
        if role.same_subject() && target.subject != evidence.subject {
            problems.push(format!(
                "`{field}` refers to `{target_id}` (line {target_line}), which is about another person"
            ));
        }
        if evidence.kind() == EvidenceKind::Retraction && evidence.authority != target.authority {
            problems.push(format!(
                "`{target_id}` (line {target_line}) is owned by another authority; only its owner may retract it"
            ));
        }
        if matches!(
            evidence.kind(),
            EvidenceKind::Approval | EvidenceKind::Rejection
        ) {
            let acted_on = match &target.body {
                EvidenceBody::Retraction { target: t, .. } => records.get(t).map(|(_, r)| r),
                _ => None,
            };
            if !target.needs_approval(acted_on) {
                problems.push(format!(
                    "`{target_id}` (line {target_line}) needs no second official's approval"
                ));
            } else if evidence.recorded_by == target.recorded_by {
                problems.push(format!(
                    "an official cannot approve or reject their own record `{target_id}` (line {target_line}): the two-person rule needs a second official"
                ));
            } else if evidence.authority != target.authority {
                problems.push(format!(
                    "`{target_id}` (line {target_line}) is owned by another authority; only its own officials may approve or reject it"
                ));
            } else if evidence.recorded_at < target.recorded_at {
                problems.push(format!(
                    "recorded before the record it decides on, `{target_id}` (line {target_line}), was recorded"
                ));
            }
        }
    }
    if let Some(subject) = evidence.subject {
        if let Recorder::Proxy(proxy) = &evidence.recorded_by {
            if *proxy == subject {
                problems
                    .push("a proxy scan names the holder as their own proxy: use `holder`".into());
            }
        }
    }
    problems
}
