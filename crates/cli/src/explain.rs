//! `mingma explain` and `mingma rules`: a decision as a readable tree (worded by
//! `mingma_explain`, as the server words it), or as JSON.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::Args;
use mingma_core::rules::Trigger;
use mingma_core::{derive, NationalId, PersonKey};
use mingma_explain::Explainer;

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
    let explainer = Explainer::new(&file.directory, &file.records, known_at, args.lang.into());
    let mut out = String::new();
    for person in persons {
        let decision = derive(&file.records, &person, valid_at, known_at, &rules);
        if args.json {
            out.push_str(&serde_json::to_string(&decision)?);
            out.push('\n');
        } else {
            let who = file
                .subjects
                .get(&decision.subject)
                .cloned()
                .unwrap_or_default();
            explainer.tree(&mut out, &decision, &who);
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
    let hours = rules.appeal_response.seconds() / 3600;
    if en {
        println!("appeals: answered within {hours} h, else escalated to the parent authority");
    } else {
        println!("申诉：{hours} 小时内答复，逾期上报上级机关");
    }
    Ok(())
}
