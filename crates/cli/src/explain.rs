//! `mingma explain` and `mingma rules`: a decision as a readable tree, or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::Args;
use mingma_core::evidence_file::EvidenceFile;
use mingma_core::rules::Trigger;
use mingma_core::{
    derive, record_statuses, Colour, Decision, Directory, Evidence, EvidenceBody, NationalId,
    PersonKey, RecordId, RecordStatus, Recorder,
};

use crate::input::{load_rules, now, parse_time, read_evidence, PseudonymKeyArg};
use crate::Lang;

#[derive(Args)]
pub struct ExplainArgs {
    /// Evidence file, JSON Lines (see the README for the format).
    file: PathBuf,
    /// The person's ID number; every person in the file if omitted.
    #[arg(long)]
    person: Option<String>,
    /// The moment the code is valid at (RFC 3339, e.g. 2022-06-13T10:00:00+08:00); now if omitted.
    #[arg(long)]
    at: Option<String>,
    /// Consider only records recorded up to this moment; the same as --at if omitted
    /// (what the platform showed then). A later time answers "what should it have shown,
    /// knowing what we know now".
    #[arg(long)]
    known_at: Option<String>,
    /// Rule-set file (TOML); the default rule set if omitted.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Language of the tree.
    #[arg(long, value_enum, default_value_t = Lang::Zh)]
    lang: Lang,
    /// Print the decisions as JSON (one object per line) instead of a tree.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pseudonym_key: PseudonymKeyArg,
}

pub fn run(args: &ExplainArgs) -> Result<()> {
    let key = args.pseudonym_key.key()?;
    let rules = load_rules(args.rules.as_deref())?;
    let valid_at = match &args.at {
        Some(text) => parse_time(text, "--at")?,
        None => now()?,
    };
    let known_at = match &args.known_at {
        Some(text) => parse_time(text, "--known-at")?,
        None => valid_at,
    };
    let file = read_evidence(&args.file, &key)?;
    let persons: Vec<PersonKey> = match &args.person {
        Some(id) => {
            let id = NationalId::parse(id).map_err(|e| anyhow!("--person: {e}"))?;
            vec![key.person_key(&id)]
        }
        None => file.subjects.keys().copied().collect(),
    };
    let statuses = record_statuses(&file.records, known_at);
    let mut out = String::new();
    for person in persons {
        let decision = derive(&file.records, &person, valid_at, known_at, &rules);
        if args.json {
            out.push_str(&serde_json::to_string(&decision)?);
            out.push('\n');
        } else {
            let view = View {
                file: &file,
                statuses: &statuses,
                lang: args.lang,
            };
            view.decision(&mut out, &decision);
        }
    }
    print!("{out}");
    Ok(())
}

pub fn list_rules(path: Option<&Path>, lang: Lang) -> Result<()> {
    let rules = load_rules(path)?;
    let en = lang == Lang::En;
    println!("{} {}", rules.id, rules.version);
    for rule in &rules.rules {
        let colour = if en {
            rule.colour.name()
        } else {
            rule.colour.zh()
        };
        let reason = if en {
            rule.reason.en()
        } else {
            rule.reason.zh()
        };
        let trigger = match &rule.trigger {
            Trigger::Evidence(c) => c.evidence.to_string(),
            Trigger::After(i) => format!("after {}", rules.rules[*i].id),
        };
        let duration = rule.duration.map_or("-".to_owned(), |d| d.to_string());
        println!(
            "  {:<28} {colour:<6} {trigger:<22} {duration:<5} {reason}",
            rule.id
        );
    }
    Ok(())
}

struct View<'a> {
    file: &'a EvidenceFile,
    statuses: &'a BTreeMap<RecordId, RecordStatus>,
    lang: Lang,
}

impl View<'_> {
    fn en(&self) -> bool {
        self.lang == Lang::En
    }

    fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        if self.en() {
            en
        } else {
            zh
        }
    }

    fn colour(&self, colour: Colour) -> String {
        if self.en() {
            colour.name().to_uppercase()
        } else {
            colour.zh().to_owned()
        }
    }

    fn directory(&self) -> &Directory {
        &self.file.directory
    }

    fn record(&self, id: &RecordId) -> Option<&Evidence> {
        self.file.records.iter().find(|r| &r.id == id)
    }

    fn decision(&self, out: &mut String, d: &Decision) {
        let who = self
            .file
            .subjects
            .get(&d.subject)
            .cloned()
            .unwrap_or_default();
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
        if let Some(top) = d.fired.first() {
            let reason = if self.en() {
                top.reason.en
            } else {
                top.reason.zh
            };
            let _ = writeln!(out, "  {}: {reason}", self.t("赋码原因", "Reason"));
            let owners: Vec<String> = d
                .owners
                .iter()
                .map(|a| self.directory().authority_name(a, self.en()))
                .collect();
            let _ = writeln!(
                out,
                "  {}: {}",
                self.t("赋码来源", "Assigned by"),
                owners.join("; ")
            );
        } else {
            let _ = writeln!(out, "  {}", self.t("无任何规则生效。", "No rule applies."));
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
        let count = d.fired.len();
        for (i, fired) in d.fired.iter().enumerate() {
            let last = i + 1 == count;
            let reason = if self.en() {
                fired.reason.en
            } else {
                fired.reason.zh
            };
            let until = fired.until.map_or_else(
                || self.t("待证据终止", "until ended by evidence").to_owned(),
                |u| u.to_string(),
            );
            let _ = writeln!(
                out,
                "  {} {} {} v{} [{}] {reason}",
                if last { "└─" } else { "├─" },
                self.t("规则", "rule"),
                fired.rule,
                fired.version,
                self.colour(fired.colour)
            );
            let indent = if last { "     " } else { "  │  " };
            let _ = writeln!(
                out,
                "{indent}{}: {} → {until}",
                self.t("期间", "period"),
                fired.from
            );
            let n = fired.evidence.len();
            for (j, id) in fired.evidence.iter().enumerate() {
                let branch = if j + 1 == n { "└─" } else { "├─" };
                let _ = writeln!(out, "{indent}{branch} {}", self.evidence_line(id));
            }
        }
        self.not_counted(out, d);
        out.push('\n');
    }

    fn evidence_line(&self, id: &RecordId) -> String {
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
                self.directory().authority_name(authority, self.en())
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
                    .directory()
                    .venues
                    .get(venue)
                    .map_or(venue.as_str(), |v| v.name.as_str());
                let _ = write!(line, " · {name} · {presence}");
            }
            EvidenceBody::BorderEntry { port, origin } => {
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

    /// Records about this person that no rule relies on, and those that do not count
    /// and why: so that a pending proposal, a retraction or an order that no published
    /// rule accepts is visible, never silent.
    fn not_counted(&self, out: &mut String, d: &Decision) {
        let mut lines = Vec::new();
        let mut unused = Vec::new();
        let mut unused_scans = 0;
        for record in &self.file.records {
            if record.subject != Some(d.subject) {
                continue;
            }
            let why = match self.statuses.get(&record.id) {
                Some(RecordStatus::Counted) => {
                    if !d.fired.iter().any(|f| f.evidence.contains(&record.id)) {
                        if matches!(record.body, EvidenceBody::VenueScan { .. }) {
                            unused_scans += 1;
                        } else {
                            unused.push(format!("     · {}", self.evidence_line(&record.id)));
                        }
                    }
                    continue;
                }
                None => continue,
                Some(RecordStatus::NotYetKnown) => self
                    .t("在依据时刻之后录入", "recorded after the known-at time")
                    .to_owned(),
                Some(RecordStatus::Retracted { by }) => {
                    format!("{} {by}", self.t("已被撤销:", "retracted by"))
                }
                Some(RecordStatus::AwaitingApproval) => self
                    .t(
                        "待第二名工作人员复核，尚未生效",
                        "awaiting a second official's approval; no effect yet",
                    )
                    .to_owned(),
                Some(RecordStatus::Rejected { by }) => {
                    format!("{} {by}", self.t("复核驳回:", "rejected by"))
                }
                Some(RecordStatus::Duplicate) => self.t("重复记录", "duplicate").to_owned(),
            };
            let kind = record.kind();
            lines.push(format!(
                "     · {} {} — {why}",
                if self.en() {
                    kind.label_en()
                } else {
                    kind.label_zh()
                },
                record.id
            ));
        }
        if !unused.is_empty() || unused_scans > 0 {
            let _ = writeln!(
                out,
                "  {}:",
                self.t(
                    "在案但未触发任何规则的记录",
                    "Records on file that no rule relies on"
                )
            );
            for line in unused {
                let _ = writeln!(out, "{line}");
            }
            if unused_scans > 0 {
                let _ = writeln!(
                    out,
                    "     · {} × {unused_scans}",
                    self.t("场所扫码", "venue scans")
                );
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(out, "  {}:", self.t("未计入的记录", "Records not counted"));
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}
