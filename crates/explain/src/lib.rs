//! How a decision explains itself (principle 2), in zh-CN or English.
//!
//! [`Explainer::explain`] turns a [`Decision`] and the records it was derived from
//! into an [`Explanation`]: the reason, the owning authorities (赋码来源), each rule
//! that fired with its period and the records it rests on (type, authority, time,
//! recorder, legal basis), the records on file that no rule relies on, and the
//! records that do not count and why (retracted, awaiting approval, rejected,
//! recorded later). `mingma explain` prints it as a tree ([`Explainer::tree`]); the
//! server renders the same explanation as a page.
//!
//! # What this crate must never do
//! Decide anything: it only words what `mingma_core::derive` decided. Reason texts
//! come from the core's closed catalogue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mingma_core::{
    record_statuses, Colour, Decision, Directory, Evidence, EvidenceBody, RecordId, RecordStatus,
    Recorder, Timestamp,
};

/// Language of an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 中文 (the default).
    #[default]
    Zh,
    /// English.
    En,
}

/// One rule that fired, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLines {
    /// Rule id.
    pub rule: String,
    /// Rule version.
    pub version: String,
    /// The colour it gives.
    pub colour: Colour,
    /// Its reason text.
    pub reason: String,
    /// When its period began.
    pub from: Timestamp,
    /// When it ends, or that evidence must end it.
    pub until: String,
    /// One line per record it rests on.
    pub evidence: Vec<String>,
    /// The ids of those records.
    pub evidence_ids: Vec<RecordId>,
}

/// A decision, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The reason of the decisive rule, if any rule fired.
    pub reason: Option<String>,
    /// The owning authorities' names (赋码来源).
    pub owners: Vec<String>,
    /// Every rule that fired.
    pub rules: Vec<RuleLines>,
    /// Records about the person that count but no rule relies on (scans excepted).
    pub unused: Vec<String>,
    /// How many counted scans no rule relies on.
    pub unused_scans: usize,
    /// Records about the person that do not count, each with why.
    pub not_counted: Vec<String>,
}

/// Words decisions derived from `records`, naming authorities and venues from
/// `directory`.
pub struct Explainer<'a> {
    directory: &'a Directory,
    records: &'a [Evidence],
    statuses: BTreeMap<RecordId, RecordStatus>,
    lang: Lang,
}

impl<'a> Explainer<'a> {
    /// An explainer of decisions derived from `records` as known at `known_at`.
    pub fn new(
        directory: &'a Directory,
        records: &'a [Evidence],
        known_at: Timestamp,
        lang: Lang,
    ) -> Self {
        Self {
            directory,
            records,
            statuses: record_statuses(records, known_at),
            lang,
        }
    }

    fn en(&self) -> bool {
        self.lang == Lang::En
    }

    /// `zh` or `en`, by the explainer's language.
    pub fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        if self.en() {
            en
        } else {
            zh
        }
    }

    /// A colour's name (红码 / RED).
    pub fn colour(&self, colour: Colour) -> String {
        if self.en() {
            colour.name().to_uppercase()
        } else {
            colour.zh().to_owned()
        }
    }

    /// The status of a record (counted, retracted, ...), if it was given.
    pub fn status(&self, id: &RecordId) -> Option<&RecordStatus> {
        self.statuses.get(id)
    }

    fn record(&self, id: &RecordId) -> Option<&Evidence> {
        self.records.iter().find(|r| &r.id == id)
    }

    /// The decision worded.
    pub fn explain(&self, d: &Decision) -> Explanation {
        let reason = d.fired.first().map(|top| {
            if self.en() {
                top.reason.en.to_owned()
            } else {
                top.reason.zh.to_owned()
            }
        });
        let owners = d
            .owners
            .iter()
            .map(|a| self.directory.authority_name(a, self.en()))
            .collect();
        let rules = d
            .fired
            .iter()
            .map(|fired| RuleLines {
                rule: fired.rule.to_string(),
                version: fired.version.to_string(),
                colour: fired.colour,
                reason: if self.en() {
                    fired.reason.en
                } else {
                    fired.reason.zh
                }
                .to_owned(),
                from: fired.from,
                until: fired.until.map_or_else(
                    || self.t("待证据终止", "until ended by evidence").to_owned(),
                    |u| u.to_string(),
                ),
                evidence: fired
                    .evidence
                    .iter()
                    .map(|id| self.evidence_line(id))
                    .collect(),
                evidence_ids: fired.evidence.clone(),
            })
            .collect();
        let mut not_counted = Vec::new();
        let mut unused = Vec::new();
        let mut unused_scans = 0;
        for record in self.records {
            if record.subject != Some(d.subject) {
                continue;
            }
            let why = match self.statuses.get(&record.id) {
                Some(RecordStatus::Counted) => {
                    if !d.fired.iter().any(|f| f.evidence.contains(&record.id)) {
                        if matches!(record.body, EvidenceBody::VenueScan { .. }) {
                            unused_scans += 1;
                        } else {
                            unused.push(self.evidence_line(&record.id));
                        }
                    }
                    continue;
                }
                _ => match self.not_counted_because(&record.id) {
                    Some(why) => why,
                    None => continue,
                },
            };
            let kind = record.kind();
            not_counted.push(format!(
                "{} {} — {why}",
                if self.en() {
                    kind.label_en()
                } else {
                    kind.label_zh()
                },
                record.id
            ));
        }
        Explanation {
            reason,
            owners,
            rules,
            unused,
            unused_scans,
            not_counted,
        }
    }

    /// Why a record does not count, in a few words (retracted, awaiting approval,
    /// completed by an exit record, ...); `None` for a record that counts or that
    /// this explainer was not given.
    pub fn not_counted_because(&self, id: &RecordId) -> Option<String> {
        Some(match self.statuses.get(id)? {
            RecordStatus::Counted => return None,
            RecordStatus::NotYetKnown => self
                .t("在依据时刻之后录入", "recorded after the known-at time")
                .to_owned(),
            RecordStatus::Retracted { by } => {
                let mut line = format!("{} {by}", self.t("已被撤销:", "retracted by"));
                if let Some(EvidenceBody::Retraction { reason, .. }) =
                    self.record(by).map(|r| &r.body)
                {
                    line.push_str(&format!(" ({}: {reason})", self.t("理由", "reason")));
                }
                line
            }
            RecordStatus::AwaitingApproval => self
                .t(
                    "待第二名工作人员复核，尚未生效",
                    "awaiting a second official's approval; no effect yet",
                )
                .to_owned(),
            RecordStatus::Rejected { by } => {
                format!("{} {by}", self.t("复核驳回:", "rejected by"))
            }
            RecordStatus::Duplicate => self.t("重复记录", "duplicate").to_owned(),
            RecordStatus::Superseded { by } => format!(
                "{} {by}",
                self.t("已由离场记录补全:", "completed by the exit record")
            ),
        })
    }

    /// One record in a line: type and id, owning authority, effective time, who
    /// recorded it, legal basis, and what it says where that matters.
    pub fn evidence_line(&self, id: &RecordId) -> String {
        let Some(record) = self.record(id) else {
            return id.to_string();
        };
        let kind = record.kind();
        let mut line = format!(
            "{} {id}",
            if self.en() {
                kind.label_en()
            } else {
                kind.label_zh()
            }
        );
        if let Some(authority) = &record.authority {
            let _ = write!(
                line,
                " · {}",
                self.directory.authority_name(authority, self.en())
            );
        }
        let _ = write!(
            line,
            " · {} {}",
            self.t("生效", "effective"),
            record.effective_at
        );
        match &record.recorded_by {
            Recorder::Source { id, .. } => {
                let _ = write!(line, " · {} {id}", self.t("签名来源", "signed by source"));
            }
            Recorder::Official(id) => {
                let _ = write!(line, " · {} {id}", self.t("录入人", "recorded by"));
            }
            Recorder::Holder => {
                let _ = write!(line, " · {}", self.t("本人扫码", "scanned by the holder"));
            }
            Recorder::Proxy(_) => {
                let _ = write!(line, " · {}", self.t("代扫码", "scanned by a proxy"));
            }
        }
        if let Some(basis) = &record.legal_basis {
            let _ = write!(line, " · {} {basis}", self.t("依据", "legal basis"));
        }
        match &record.body {
            EvidenceBody::VenueScan {
                venue, presence, ..
            } => {
                let name = self
                    .directory
                    .venues
                    .get(venue)
                    .map_or(venue.as_str(), |v| v.name.as_str());
                let _ = write!(line, " · {name} · {presence}");
            }
            EvidenceBody::BorderEntry { port, origin, .. } => {
                let _ = write!(line, " · {port} ← {origin}");
            }
            EvidenceBody::RiskArea {
                level, from, until, ..
            } => {
                let _ = write!(line, " · {level} · {from} → {until}");
            }
            _ => {}
        }
        line
    }

    /// The decision as the tree `mingma explain` prints; `who` names the holder
    /// (a masked ID number).
    pub fn tree(&self, out: &mut String, d: &Decision, who: &str) {
        let e = self.explain(d);
        let _ = writeln!(
            out,
            "{} {who} ({} {})  {}",
            self.t("持码人", "Holder"),
            self.t("假名", "pseudonym"),
            d.subject.short(),
            self.colour(d.colour)
        );
        let _ = writeln!(
            out,
            "  {}: {}    {}: {}",
            self.t("有效时刻", "Valid at"),
            d.valid_at,
            self.t("依据截至", "Records known up to"),
            d.known_at
        );
        let _ = writeln!(
            out,
            "  {}: {} {}",
            self.t("规则集", "Rule set"),
            d.rule_set.id,
            d.rule_set.version
        );
        match &e.reason {
            Some(reason) => {
                let _ = writeln!(out, "  {}: {reason}", self.t("赋码原因", "Reason"));
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    self.t("赋码来源", "Assigned by"),
                    e.owners.join("; ")
                );
            }
            None => {
                let _ = writeln!(out, "  {}", self.t("无任何规则生效。", "No rule applies."));
            }
        }
        match d.since {
            Some(since) => {
                let _ = writeln!(out, "  {}: {since}", self.t("赋码时间", "Since"));
            }
            None => {
                let _ = writeln!(out, "  {}: -", self.t("赋码时间", "Since"));
            }
        }
        match &d.next_change {
            Some(next) => {
                let _ = writeln!(
                    out,
                    "  {}: {} → {}",
                    self.t("下次自动变更", "Next change by itself"),
                    next.at,
                    self.colour(next.colour)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  {}: -",
                    self.t("下次自动变更", "Next change by itself")
                );
            }
        }
        let count = e.rules.len();
        for (i, rule) in e.rules.iter().enumerate() {
            let last = i + 1 == count;
            let _ = writeln!(
                out,
                "  {} {} {} v{} [{}] {}",
                if last { "└─" } else { "├─" },
                self.t("规则", "rule"),
                rule.rule,
                rule.version,
                self.colour(rule.colour),
                rule.reason
            );
            let indent = if last { "     " } else { "  │  " };
            let _ = writeln!(
                out,
                "{indent}{}: {} → {}",
                self.t("期间", "period"),
                rule.from,
                rule.until
            );
            let n = rule.evidence.len();
            for (j, line) in rule.evidence.iter().enumerate() {
                let branch = if j + 1 == n { "└─" } else { "├─" };
                let _ = writeln!(out, "{indent}{branch} {line}");
            }
        }
        if !e.unused.is_empty() || e.unused_scans > 0 {
            let _ = writeln!(
                out,
                "  {}:",
                self.t(
                    "在案但未触发任何规则的记录",
                    "Records on file that no rule relies on"
                )
            );
            for line in &e.unused {
                let _ = writeln!(out, "     · {line}");
            }
            if e.unused_scans > 0 {
                let _ = writeln!(
                    out,
                    "     · {} × {}",
                    self.t("场所扫码", "venue scans"),
                    e.unused_scans
                );
            }
        }
        if !e.not_counted.is_empty() {
            let _ = writeln!(out, "  {}:", self.t("未计入的记录", "Records not counted"));
            for line in &e.not_counted {
                let _ = writeln!(out, "     · {line}");
            }
        }
        out.push('\n');
    }
}
