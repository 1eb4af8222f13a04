//! The `mingma` command.
// One call into the allocator (`memory::release_freed_pages`) is the only unsafe code.
#![deny(unsafe_code)]

mod admin;
mod bench;
mod db;
mod explain;
mod import;
mod input;
mod keys;
mod ledger;
mod memory;
mod progress;
mod receipt;
mod serve;
mod sim;

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
    /// Make an Ed25519 key to sign the log's checkpoints; prints its verifier key.
    Keygen(keys::KeygenArgs),
    /// Check an evidence file and append its records to the ledger (idempotent).
    Import(import::ImportArgs),
    /// The transparency ledger: checkpoints, verification, receipts, purges.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
    /// Simulate a city (residents, venues, scans, tests, an outbreak, inbound
    /// travellers): an evidence file, or streamed into the store.
    Sim(sim::SimArgs),
    /// Run the HTTP service (configuration by file and MINGMA_* variables).
    Serve(serve::ServeArgs),
    /// Seed a demo Zhengzhou (simulated residents, venues and evidence), print the
    /// sign-ins and serve it.
    Demo(serve::DemoArgs),
    /// Verify a signed checkpoint code offline against a trust list.
    VerifyCode(serve::VerifyCodeArgs),
    /// Officials, roles, keys, data sources and rule sets (authority acts, each
    /// sealed by the acting admin's key), console passwords and API tokens.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// The benchmark suite, beside a conventional PostgreSQL design.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
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

impl From<Lang> for mingma_explain::Lang {
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::Zh => mingma_explain::Lang::Zh,
            Lang::En => mingma_explain::Lang::En,
        }
    }
}

/// mimalloc, not the system allocator: glibc's arenas are shared behind a lock once
/// threads outnumber them, and a console thread at nice 19 that is preempted while
/// holding one stalls the door's threads that allocate from it (seen under overload
/// as door requests waiting in `__lll_lock_wait_private`; BENCHMARKS.md, session 8).
/// mimalloc's heaps are per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => explain::run(&args),
        Command::Rules { file, lang } => explain::list_rules(file.as_deref(), lang),
        Command::Keygen(args) => keys::keygen(&args),
        Command::Import(args) => import::run(&args).await,
        Command::Admin { command } => admin::run(&command).await,
        Command::Ledger { command } => ledger::run(&command).await,
        Command::Sim(args) => sim::run(&args).await,
        Command::Bench { command } => bench::run(&command).await,
        Command::Serve(args) => serve::serve(&args).await,
        Command::Demo(args) => serve::demo(&args).await,
        Command::VerifyCode(args) => serve::verify_code(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mingma: {error:#}");
            ExitCode::FAILURE
        }
    }
}
