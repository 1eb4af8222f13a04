//! The `mingma` command.
#![forbid(unsafe_code)]

mod explain;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Mingma (明码): a health-code platform whose codes are derived from evidence by
/// published rules, and explain themselves.
#[derive(Parser)]
#[command(name = "mingma", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Derive and explain a person's code from an evidence file (JSON Lines).
    Explain(explain::ExplainArgs),
    /// Check a rule-set file and print its rules.
    Rules {
        /// The rule-set file (TOML); the default rule set if omitted.
        file: Option<PathBuf>,
        /// Language of the listing.
        #[arg(long, value_enum, default_value_t = Lang::Zh)]
        lang: Lang,
    },
}

/// Language of human-readable output.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// 中文 (default).
    Zh,
    /// English.
    En,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => explain::run(&args),
        Command::Rules { file, lang } => explain::list_rules(file.as_deref(), lang),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mingma: {error:#}");
            ExitCode::FAILURE
        }
    }
}
