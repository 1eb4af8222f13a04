//! The published rule set: a versioned data file, loaded and validated at start.
//!
//! Every parameter of the code policy is a value in the file (`rules/default.toml`);
//! the code only knows the *shapes* a rule may take, all of them conditioned on
//! evidence. Loading refuses, with file and line: unknown evidence types, a rule with
//! no evidence condition, a key that is not about evidence, and a reason attached to
//! weaker conditions than the reason's catalogue entry requires.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::evidence::{
    condition_fields, EvidenceKind, Presence, RiskLevel, SourceKind, TestMethod, VenueKind,
};
use crate::reason::Reason;
use crate::time::Span;

/// A code's colour, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// 绿码: move freely.
    Green,
    /// 黄码: limited movement.
    Yellow,
    /// 红码: quarantine or isolation.
    Red,
}

impl Colour {
    /// `green`, `yellow` or `red`.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }

    /// 绿码, 黄码 or 红码.
    pub fn zh(self) -> &'static str {
        match self {
            Colour::Green => "绿码",
            Colour::Yellow => "黄码",
            Colour::Red => "红码",
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// The rule set's name, e.g. `mingma-default`.
    pub id: String,
    /// Its version; every decision names it.
    pub version: String,
    /// How long a person is assumed to stay at a venue of each kind when no exit is
    /// recorded.
    pub dwell: Dwell,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// How long the owner of the decisive evidence has to answer an appeal before it
    /// escalates to the parent authority (`appeal_response_hours`, default 24).
    pub appeal_response: Span,
}

/// The appeal response time when a rule set does not state one.
pub const DEFAULT_APPEAL_RESPONSE_HOURS: u32 = 24;

/// Assumed stay per venue kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dwell {
    default: Span,
    by_kind: BTreeMap<VenueKind, Span>,
}

impl Dwell {
    /// The assumed stay at a venue of `kind`.
    pub fn of(&self, kind: VenueKind) -> Span {
        self.by_kind.get(&kind).copied().unwrap_or(self.default)
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique id within the rule set.
    pub id: String,
    /// Yellow or red (green is what holds when no rule fires).
    pub colour: Colour,
    /// The catalogue reason it gives.
    pub reason: Reason,
    /// What starts the rule's period.
    pub trigger: Trigger,
    /// How long the period lasts; `None` means until ended or cleared.
    pub duration: Option<Span>,
    /// Records that end the period when they reference the triggering record
    /// (directly, or through a record that does).
    pub ended_by: Vec<EvidenceKind>,
    /// Negative tests that clear the period early.
    pub cleared_by: Option<Clearance>,
    /// Line of the rule in its file.
    pub line: usize,
}

/// What starts a rule's period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A record matching the condition.
    Evidence(Condition),
    /// The end of a period of an earlier rule (by index), for follow-on periods such as
    /// the 3 yellow days after 7 red ones.
    After(usize),
}

/// Conditions on the triggering record. Each condition is about evidence only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The record's type.
    pub evidence: EvidenceKind,
    /// Accepted values of categorical fields.
    pub fields: Vec<(String, Vec<&'static str>)>,
    /// The kind of signed source the record must come from.
    pub source: Option<SourceKind>,
    /// For quarantine orders: what the ground must be.
    pub ground: Option<GroundCondition>,
    /// For venue scans: the risk levels of a declared area the scan must fall in.
    pub in_risk_area: Vec<RiskLevel>,
    /// For venue scans: the weakest presence assurance that counts.
    pub min_presence: Option<Presence>,
}

/// What a quarantine order's ground must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundCondition {
    /// The ground's type.
    pub evidence: EvidenceKind,
    /// The kind of signed source the ground must come from.
    pub source: Option<SourceKind>,
}

/// Negative tests that clear a period early: `count` negatives sampled at least
/// `apart` from each other, after the period began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearance {
    /// How many negative tests.
    pub count: u32,
    /// Least time between their samples.
    pub apart: Span,
    /// The test method required, if any.
    pub method: Option<TestMethod>,
}

/// A rule file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RuleSetError {
    /// The file name given to [`RuleSet::parse`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The default rule set shipped with the product.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/default.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    id: Spanned<String>,
    version: Spanned<String>,
    #[allow(dead_code)]
    description: Option<String>,
    dwell: Spanned<BTreeMap<String, Spanned<String>>>,
    appeal_response_hours: Option<Spanned<i64>>,
    #[serde(rename = "rule", default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    colour: Spanned<String>,
    reason: Spanned<String>,
    evidence: Option<Spanned<String>>,
    after: Option<Spanned<String>>,
    #[serde(rename = "where")]
    conditions: Option<BTreeMap<String, Spanned<OneOrMany>>>,
    source: Option<Spanned<String>>,
    ground: Option<Spanned<RawGround>>,
    in_risk_area: Option<Spanned<OneOrMany>>,
    min_presence: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    ended_by: Option<Spanned<OneOrMany>>,
    cleared_by: Option<Spanned<RawClearance>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGround {
    evidence: String,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClearance {
    negative_tests: u32,
    apart: Option<String>,
    method: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(v) => vec![v.as_str()],
            OneOrMany::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

/// Turns byte offsets into lines and builds errors.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> RuleSetError {
        RuleSetError {
            file: self.file.to_owned(),
            line: self.line(span),
            message: message.into(),
        }
    }
}

/// Kinds a rule may not fire on, with the reason.
fn untriggerable(kind: EvidenceKind) -> Option<&'static str> {
    match kind {
        EvidenceKind::Retraction | EvidenceKind::Approval | EvidenceKind::Rejection => {
            Some("acts on other records; a rule cannot fire on it")
        }
        EvidenceKind::RiskArea => Some(
            "is about an area, not a person: fire on `evidence = \"venue_scan\"` with `in_risk_area`",
        ),
        EvidenceKind::QuarantineRelease => Some("ends a period; use it in `ended_by`"),
        _ => None,
    }
}

fn known_kinds() -> String {
    EvidenceKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RuleSet {
    /// The default rule set shipped with the product.
    pub fn default_rules() -> Result<Self, RuleSetError> {
        Self::parse(DEFAULT_RULES, "rules/default.toml")
    }

    /// Parses and validates a rule file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, RuleSetError> {
        let at = Locator { file, text };
        let raw: RawRuleSet = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_owned();
            let message = if message.starts_with("unknown field") {
                format!(
                    "{message}. A rule may be conditioned only on evidence: anything else (a person's \
                     attributes, an unnamed category) cannot be expressed"
                )
            } else {
                message
            };
            at.error(span, message)
        })?;

        let id = raw.id.get_ref().trim().to_owned();
        if id.is_empty() {
            return Err(at.error(raw.id.span(), "the rule set's `id` is empty"));
        }
        let version = raw.version.get_ref().trim().to_owned();
        if version.is_empty() {
            return Err(at.error(raw.version.span(), "the rule set's `version` is empty"));
        }
        let dwell = parse_dwell(&at, &raw.dwell)?;
        let appeal_response = match &raw.appeal_response_hours {
            None => Span::hours(i64::from(DEFAULT_APPEAL_RESPONSE_HOURS)),
            Some(hours) if (1..=720).contains(hours.get_ref()) => Span::hours(*hours.get_ref()),
            Some(hours) => {
                return Err(at.error(
                    hours.span(),
                    "`appeal_response_hours` must be a whole number of hours from 1 to 720",
                ))
            }
        };

        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        for spanned in &raw.rules {
            let rule = parse_rule(&at, spanned, &rules)?;
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err(at.error(0..0, "the rule set has no `[[rule]]`"));
        }
        Ok(Self {
            id,
            version,
            dwell,
            rules,
            appeal_response,
        })
    }

    /// The longest a stay at a venue counts for: a day, or the longest assumed stay
    /// of the `[dwell]` table if that is longer. A scan whose recorded exit is later
    /// counts as a stay of this length, so a store can find every scan that may
    /// overlap a window by its entry time alone.
    pub fn longest_stay(&self) -> Span {
        self.dwell
            .by_kind
            .values()
            .copied()
            .chain([self.dwell.default, Span::days(1)])
            .max()
            .unwrap_or(Span::days(1))
    }

    /// Whether venue scans can matter to a derivation only inside a declared risk
    /// area. Rule files require `in_risk_area` on every scan rule, so this is false
    /// only when a rule is ended by a scan or grounds an order on one: then every scan
    /// of a person may matter.
    pub fn scans_matter_only_in_risk_areas(&self) -> bool {
        self.rules.iter().all(|rule| {
            let trigger_ok = match &rule.trigger {
                Trigger::Evidence(c) => {
                    (c.evidence != EvidenceKind::VenueScan || !c.in_risk_area.is_empty())
                        && c.ground
                            .as_ref()
                            .is_none_or(|g| g.evidence != EvidenceKind::VenueScan)
                }
                Trigger::After(_) => true,
            };
            trigger_ok && !rule.ended_by.contains(&EvidenceKind::VenueScan)
        })
    }

    /// The index of the rule with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }
}

fn parse_span(at: &Locator, value: &Spanned<String>, what: &str) -> Result<Span, RuleSetError> {
    Span::parse(value.get_ref()).map_err(|e| at.error(value.span(), format!("{what}: {e}")))
}

fn parse_dwell(
    at: &Locator,
    raw: &Spanned<BTreeMap<String, Spanned<String>>>,
) -> Result<Dwell, RuleSetError> {
    let mut default = None;
    let mut by_kind = BTreeMap::new();
    for (key, value) in raw.get_ref() {
        let span = parse_span(at, value, &format!("dwell.{key}"))?;
        if key == "default" {
            default = Some(span);
        } else if let Some(kind) = VenueKind::from_name(key) {
            by_kind.insert(kind, span);
        } else {
            let kinds: Vec<&str> = VenueKind::ALL.iter().map(|k| k.name()).collect();
            return Err(at.error(
                value.span(),
                format!(
                    "`dwell.{key}`: unknown venue kind (known: default, {})",
                    kinds.join(", ")
                ),
            ));
        }
    }
    let default =
        default.ok_or_else(|| at.error(raw.span(), "`[dwell]` needs a `default` stay"))?;
    Ok(Dwell { default, by_kind })
}

fn parse_kind(at: &Locator, value: &Spanned<String>) -> Result<EvidenceKind, RuleSetError> {
    EvidenceKind::from_name(value.get_ref()).ok_or_else(|| {
        at.error(
            value.span(),
            format!(
                "unknown evidence type `{}` (known: {})",
                value.get_ref(),
                known_kinds()
            ),
        )
    })
}

fn parse_source(at: &Locator, span: Range<usize>, name: &str) -> Result<SourceKind, RuleSetError> {
    SourceKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            at.error(
                span,
                format!("unknown source kind `{name}` (known: lab, customs, case_reporting)"),
            )
        })
}

fn parse_rule(
    at: &Locator,
    spanned: &Spanned<RawRule>,
    earlier: &[Rule],
) -> Result<Rule, RuleSetError> {
    let raw = spanned.get_ref();
    let id = raw.id.get_ref().clone();
    let rule_span = raw.id.span();
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(at.error(rule_span, format!("rule id `{id}`: use 1-64 of a-z 0-9 -")));
    }
    if earlier.iter().any(|r| r.id == id) {
        return Err(at.error(rule_span, format!("rule id `{id}` is used twice")));
    }
    let fail =
        |span: Range<usize>, message: String| at.error(span, format!("rule `{id}`: {message}"));

    let colour = match raw.colour.get_ref().as_str() {
        "red" => Colour::Red,
        "yellow" => Colour::Yellow,
        "green" => {
            return Err(fail(
                raw.colour.span(),
                "colour `green` is what holds when no rule fires; a rule is red or yellow".into(),
            ))
        }
        other => {
            return Err(fail(
                raw.colour.span(),
                format!("unknown colour `{other}` (red or yellow)"),
            ))
        }
    };
    let reason = Reason::from_id(raw.reason.get_ref()).ok_or_else(|| {
        let ids: Vec<&str> = Reason::ALL.iter().map(|r| r.id()).collect();
        fail(
            raw.reason.span(),
            format!(
                "`{}` is not in the reason catalogue (known: {})",
                raw.reason.get_ref(),
                ids.join(", ")
            ),
        )
    })?;

    let trigger = match (&raw.evidence, &raw.after) {
        (Some(_), Some(after)) => {
            return Err(fail(
                after.span(),
                "give either `evidence` or `after`, not both".into(),
            ))
        }
        (None, None) => return Err(fail(
            rule_span,
            "has no evidence condition: name `evidence = \"<type>\"`, or `after = \"<rule id>\"` \
                 for a period that follows another rule's"
                .into(),
        )),
        (None, Some(after)) => {
            let index = earlier
                .iter()
                .position(|r| &r.id == after.get_ref())
                .ok_or_else(|| {
                    fail(
                        after.span(),
                        format!("`after = \"{}\"` names no earlier rule", after.get_ref()),
                    )
                })?;
            for (present, key) in [
                (raw.conditions.is_some(), "where"),
                (raw.source.is_some(), "source"),
                (raw.ground.is_some(), "ground"),
                (raw.in_risk_area.is_some(), "in_risk_area"),
                (raw.min_presence.is_some(), "min_presence"),
            ] {
                if present {
                    return Err(fail(
                        rule_span,
                        format!("`{key}` does not apply to a follow-on rule: it inherits the evidence of `{}`", after.get_ref()),
                    ));
                }
            }
            Trigger::After(index)
        }
        (Some(evidence), None) => Trigger::Evidence(parse_condition(at, raw, evidence, &fail)?),
    };

    let duration = raw
        .duration
        .as_ref()
        .map(|d| parse_span(at, d, &format!("rule `{id}`: duration")))
        .transpose()?;
    let mut ended_by = Vec::new();
    if let Some(list) = &raw.ended_by {
        for name in list.get_ref().values() {
            let kind = EvidenceKind::from_name(name).ok_or_else(|| {
                fail(
                    list.span(),
                    format!(
                        "unknown evidence type `{name}` in `ended_by` (known: {})",
                        known_kinds()
                    ),
                )
            })?;
            if !matches!(
                kind,
                EvidenceKind::CaseClosure | EvidenceKind::QuarantineRelease
            ) {
                return Err(fail(
                    list.span(),
                    format!("`{name}` cannot end a period: use case_closure or quarantine_release (negative tests go in `cleared_by`)"),
                ));
            }
            ended_by.push(kind);
        }
    }
    let cleared_by = raw
        .cleared_by
        .as_ref()
        .map(|c| {
            let raw_c = c.get_ref();
            if !(1..=10).contains(&raw_c.negative_tests) {
                return Err(fail(
                    c.span(),
                    "`cleared_by.negative_tests` must be 1 to 10".into(),
                ));
            }
            let apart = match &raw_c.apart {
                Some(text) => Span::parse(text)
                    .map_err(|e| fail(c.span(), format!("cleared_by.apart: {e}")))?,
                None => Span::ZERO,
            };
            let method = match &raw_c.method {
                Some(name) => Some(TestMethod::from_name(name).ok_or_else(|| {
                    fail(
                        c.span(),
                        format!("unknown test method `{name}` (nucleic_acid or antigen)"),
                    )
                })?),
                None => None,
            };
            Ok(Clearance {
                count: raw_c.negative_tests,
                apart,
                method,
            })
        })
        .transpose()?;

    let is_scan = matches!(&trigger, Trigger::Evidence(c) if c.evidence == EvidenceKind::VenueScan);
    let is_after = matches!(trigger, Trigger::After(_));
    if (is_scan || is_after) && duration.is_none() {
        return Err(fail(rule_span, "needs a `duration`".into()));
    }
    if duration.is_none() && ended_by.is_empty() && cleared_by.is_none() {
        return Err(fail(
            rule_span,
            "would never end: give a `duration`, `ended_by` or `cleared_by`".into(),
        ));
    }

    let rule = Rule {
        id: id.clone(),
        colour,
        reason,
        trigger,
        duration,
        ended_by,
        cleared_by,
        line: at.line(spanned.span()),
    };
    check_requirement(&rule, earlier).map_err(|missing| {
        fail(
            raw.reason.span(),
            format!(
                "reason `{}` requires at least: {}; this rule asks for less ({missing})",
                reason.id(),
                reason.requirement()
            ),
        )
    })?;
    Ok(rule)
}

fn parse_condition(
    at: &Locator,
    raw: &RawRule,
    evidence: &Spanned<String>,
    fail: &dyn Fn(Range<usize>, String) -> RuleSetError,
) -> Result<Condition, RuleSetError> {
    let kind = parse_kind(at, evidence)?;
    if let Some(why) = untriggerable(kind) {
        return Err(fail(
            evidence.span(),
            format!("evidence type `{kind}` {why}"),
        ));
    }
    let mut fields = Vec::new();
    for (field, values) in raw.conditions.iter().flatten() {
        let Some((_, allowed)) = condition_fields(kind).iter().find(|(f, _)| f == field) else {
            let offered: Vec<&str> = condition_fields(kind).iter().map(|(f, _)| *f).collect();
            return Err(fail(
                values.span(),
                format!(
                    "`where.{field}`: evidence type `{kind}` has no field `{field}` a rule may test \
                     (it offers: {}). Rules may be conditioned only on evidence",
                    if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
                ),
            ));
        };
        let mut accepted = Vec::new();
        for value in values.get_ref().values() {
            let known = allowed.iter().find(|a| **a == value).ok_or_else(|| {
                fail(
                    values.span(),
                    format!(
                        "`where.{field}`: unknown value `{value}` (known: {})",
                        allowed.join(", ")
                    ),
                )
            })?;
            accepted.push(*known);
        }
        if accepted.is_empty() {
            return Err(fail(
                values.span(),
                format!("`where.{field}` accepts no value"),
            ));
        }
        fields.push((field.clone(), accepted));
    }
    let source = match &raw.source {
        Some(s) => {
            let source = parse_source(at, s.span(), s.get_ref())?;
            if !source.may_submit(kind) {
                return Err(fail(
                    s.span(),
                    format!("a {} source never submits `{kind}` records", source.name()),
                ));
            }
            Some(source)
        }
        None => None,
    };
    let ground = match &raw.ground {
        Some(g) => {
            if kind != EvidenceKind::QuarantineOrder {
                return Err(fail(
                    g.span(),
                    "`ground` applies only to quarantine_order".into(),
                ));
            }
            let raw_g = g.get_ref();
            let ground_kind = EvidenceKind::from_name(&raw_g.evidence).ok_or_else(|| {
                fail(
                    g.span(),
                    format!(
                        "unknown evidence type `{}` (known: {})",
                        raw_g.evidence,
                        known_kinds()
                    ),
                )
            })?;
            if !crate::evidence::ReferenceRole::Ground.accepts(ground_kind) {
                return Err(fail(
                    g.span(),
                    format!("a quarantine order's ground is a border_entry, close_contact or case_report, not `{ground_kind}`"),
                ));
            }
            let ground_source = match &raw_g.source {
                Some(name) => {
                    let s = parse_source(at, g.span(), name)?;
                    if !s.may_submit(ground_kind) {
                        return Err(fail(
                            g.span(),
                            format!(
                                "a {} source never submits `{ground_kind}` records",
                                s.name()
                            ),
                        ));
                    }
                    Some(s)
                }
                None => None,
            };
            Some(GroundCondition {
                evidence: ground_kind,
                source: ground_source,
            })
        }
        None => None,
    };
    let mut in_risk_area = Vec::new();
    if let Some(levels) = &raw.in_risk_area {
        if kind != EvidenceKind::VenueScan {
            return Err(fail(
                levels.span(),
                "`in_risk_area` applies only to venue_scan".into(),
            ));
        }
        for name in levels.get_ref().values() {
            in_risk_area.push(RiskLevel::from_name(name).ok_or_else(|| {
                fail(
                    levels.span(),
                    format!("unknown risk level `{name}` (high or medium)"),
                )
            })?);
        }
    }
    let min_presence = match &raw.min_presence {
        Some(p) => {
            if kind != EvidenceKind::VenueScan {
                return Err(fail(
                    p.span(),
                    "`min_presence` applies only to venue_scan".into(),
                ));
            }
            Some(Presence::from_name(p.get_ref()).ok_or_else(|| {
                fail(
                    p.span(),
                    format!(
                        "unknown presence `{}` (stale, static_poster, rotating)",
                        p.get_ref()
                    ),
                )
            })?)
        }
        None => None,
    };
    if kind == EvidenceKind::VenueScan && in_risk_area.is_empty() {
        return Err(fail(
            evidence.span(),
            "a venue scan alone says nothing about health: name `in_risk_area`".into(),
        ));
    }
    Ok(Condition {
        evidence: kind,
        fields,
        source,
        ground,
        in_risk_area,
        min_presence,
    })
}

/// Checks that `rule` asks for at least what its reason requires; on failure says
/// what is missing.
fn check_requirement(rule: &Rule, earlier: &[Rule]) -> Result<(), String> {
    let req = rule.reason.requirement();
    if let Some(base_reason) = req.after {
        return match rule.trigger {
            Trigger::After(i) if earlier[i].reason == base_reason => Ok(()),
            Trigger::After(i) => Err(format!(
                "it follows `{}`, whose reason is {}",
                earlier[i].id,
                earlier[i].reason.id()
            )),
            Trigger::Evidence(_) => Err("it is not a follow-on rule".into()),
        };
    }
    let condition = match &rule.trigger {
        Trigger::Evidence(c) => c,
        Trigger::After(_) => return Err("a follow-on rule cannot give this reason".into()),
    };
    if Some(condition.evidence) != req.evidence {
        return Err(format!("it fires on `{}`", condition.evidence));
    }
    for (field, allowed) in req.fields {
        match condition.fields.iter().find(|(f, _)| f == field) {
            None => return Err(format!("no `where.{field}`")),
            Some((_, values)) => {
                if let Some(extra) = values.iter().find(|v| !allowed.contains(v)) {
                    return Err(format!("`where.{field}` also accepts `{extra}`"));
                }
            }
        }
    }
    if let Some((kind, source)) = req.ground {
        match &condition.ground {
            None => return Err("no `ground` condition".into()),
            Some(g) if g.evidence != kind => return Err(format!("its ground is `{}`", g.evidence)),
            Some(g) if source.is_some() && g.source != source => {
                return Err("its ground need not come from the required signed source".into())
            }
            Some(_) => {}
        }
    }
    if !req.risk_levels.is_empty() {
        if let Some(extra) = condition
            .in_risk_area
            .iter()
            .find(|l| !req.risk_levels.contains(l))
        {
            return Err(format!("`in_risk_area` also accepts `{extra}`"));
        }
    }
    if let Some(least) = req.min_presence {
        match condition.min_presence {
            Some(p) if p >= least => {}
            _ => return Err(format!("`min_presence` is weaker than `{least}`")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_set_loads() {
        let rules = RuleSet::default_rules().unwrap();
        assert_eq!(rules.id, "mingma-default");
        assert!(rules.rules.len() >= 9);
        assert_eq!(rules.appeal_response, Span::hours(24));
    }

    #[test]
    fn the_appeal_response_time_defaults_to_24_hours_and_is_checked() {
        let without = DEFAULT_RULES.replace("appeal_response_hours = 24\n", "");
        assert_ne!(without, DEFAULT_RULES);
        let rules = RuleSet::parse(&without, "r.toml").unwrap();
        assert_eq!(rules.appeal_response, Span::hours(24));
        let six = DEFAULT_RULES.replace("appeal_response_hours = 24", "appeal_response_hours = 6");
        assert_eq!(
            RuleSet::parse(&six, "r.toml").unwrap().appeal_response,
            Span::hours(6)
        );
        for bad in ["0", "721", "-3"] {
            let text = DEFAULT_RULES.replace(
                "appeal_response_hours = 24",
                &format!("appeal_response_hours = {bad}"),
            );
            let err = RuleSet::parse(&text, "r.toml").unwrap_err();
            assert!(err.message.contains("appeal_response_hours"), "{err}");
        }
    }
}
