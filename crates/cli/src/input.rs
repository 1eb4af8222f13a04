//! What several commands read the same way: times, rule sets, the pseudonym key and
//! evidence files.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mingma_core::evidence_file::EvidenceFile;
use mingma_core::{read_evidence_file, PseudonymKey, RuleSet, Timestamp};

/// A fixed key for examples and the demo. A real deployment sets its own secret in
/// MINGMA_PSEUDONYM_KEY; with this one, anybody can link ID numbers to person keys.
const DEMO_PSEUDONYM_KEY: [u8; 32] = *b"mingma-demo-pseudonym-key-000001";

/// The pseudonym key option, shared by every command that reads ID numbers.
#[derive(Args)]
pub struct PseudonymKeyArg {
    /// Pseudonym key, 64 hex digits (or MINGMA_PSEUDONYM_KEY); a public demo key if unset.
    #[arg(long, env = "MINGMA_PSEUDONYM_KEY", hide_env_values = true)]
    pseudonym_key: Option<String>,
}

impl PseudonymKeyArg {
    /// The key given, or the public demo key.
    pub fn key(&self) -> Result<PseudonymKey> {
        match &self.pseudonym_key {
            Some(hex) => PseudonymKey::parse_hex(hex)
                .map_err(|_| anyhow!("the pseudonym key must be 64 hexadecimal digits")),
            None => Ok(PseudonymKey::from_bytes(DEMO_PSEUDONYM_KEY)),
        }
    }
}

pub fn parse_time(text: &str, flag: &str) -> Result<Timestamp> {
    Timestamp::parse(text).map_err(|e| anyhow!("{flag}: {e}"))
}

pub fn now() -> Result<Timestamp> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    i64::try_from(seconds)
        .ok()
        .and_then(Timestamp::from_unix_seconds)
        .ok_or_else(|| anyhow!("the system clock is outside 2000-2099"))
}

pub fn load_rules(path: Option<&Path>) -> Result<RuleSet> {
    match path {
        None => Ok(RuleSet::default_rules()?),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read rule set {}", path.display()))?;
            Ok(RuleSet::parse(&text, &path.display().to_string())?)
        }
    }
}

/// Reads and checks an evidence file; a file with any problem is refused with every
/// problem, each as `file:line N: what is wrong`.
pub fn read_evidence(path: &Path, key: &PseudonymKey) -> Result<EvidenceFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    read_evidence_file(&text, key).map_err(|errors| {
        let mut message = format!("{} is not a valid evidence file:", path.display());
        for error in &errors {
            let _ = write!(message, "\n  {}:{error}", path.display());
        }
        anyhow!(message)
    })
}
