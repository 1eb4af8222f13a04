//! `mingma admin`: the acts that say who may do what, each sealed by the acting
//! admin's key file and appended to the ledger as an authority act; and the
//! server-side sign-in material (passwords, API tokens), which is not evidence and
//! stays in the server's database.
//!
//! An official's key file is 64 hex digits of an Ed25519 secret key (mode 0600);
//! `mingma admin keygen` makes one and prints its public key, which an admin then
//! registers (`add-official --public-key`, `register-key`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use mingma_authority::act::key_hex;
use mingma_authority::{Act, ActBody, Grant, Registry, Role, SignedAct};
use mingma_core::{AuthorityId, DataSourceId, Jurisdiction, OfficialId, SourceKind};
use mingma_server::accounts::Accounts;
use mingma_server::officials::{hash_password, Principal};
use mingma_store::Store;

use crate::db::DbArg;
use crate::input::{now, parse_time};
use crate::keys::write_secret;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Start a new log's directory: the first admin and their authority (the
    /// bootstrap act, self-signed). Writes the admin's key file.
    Init(InitArgs),
    /// Make an official's key file; prints the public key to register.
    Keygen {
        /// Where to write the secret key (mode 0600, never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add an authority.
    AddAuthority(AddAuthorityArgs),
    /// Add an official, optionally with their public key and roles.
    AddOfficial(AddOfficialArgs),
    /// Register an official's (new) public key.
    RegisterKey(RegisterKeyArgs),
    /// Grant a role in a jurisdiction.
    Grant(GrantArgs),
    /// Take a role back.
    RevokeRole(GrantArgs),
    /// Revoke a key from a time on.
    RevokeKey(RevokeKeyArgs),
    /// Propose a data source and its public key (a second admin must confirm).
    RegisterSource(RegisterSourceArgs),
    /// Propose a rule-set file for publication (a second admin must confirm).
    PublishRules(PublishRulesArgs),
    /// Confirm another admin's proposal (data source, rule set).
    Confirm(ConfirmArgs),
    /// Set an official's console password (read from standard input).
    Password(PasswordArgs),
    /// Issue an API token for an official or a data source's system.
    Token(TokenArgs),
    /// List the directory, grants, keys, pending proposals and ignored acts.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

/// Who acts: an admin and their key file.
#[derive(Args)]
pub struct Actor {
    #[command(flatten)]
    db: DbArg,
    /// The acting admin's official id.
    #[arg(long = "as")]
    actor: String,
    /// The acting admin's key file.
    #[arg(long)]
    key_file: PathBuf,
    /// The time of the act (RFC 3339); now if omitted. Keys count from their
    /// registration's time, so a replayed or simulated history registers them at
    /// its own start.
    #[arg(long)]
    at: Option<String>,
}

fn act_time(at: Option<&str>) -> Result<mingma_core::Timestamp> {
    match at {
        Some(text) => parse_time(text, "--at"),
        None => now(),
    }
}

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    db: DbArg,
    /// The admin's authority id.
    #[arg(long)]
    authority: String,
    /// Its name.
    #[arg(long)]
    authority_name: String,
    /// Its jurisdiction (GB/T 2260 code), the admin's too.
    #[arg(long)]
    jurisdiction: String,
    /// The admin's official id.
    #[arg(long)]
    official: String,
    /// The admin's name.
    #[arg(long)]
    name: String,
    /// Where to write the admin's key file.
    #[arg(long)]
    key_out: PathBuf,
    /// The time of the act (RFC 3339); now if omitted.
    #[arg(long)]
    at: Option<String>,
}

#[derive(Args)]
pub struct AddAuthorityArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    name_en: Option<String>,
    /// GB/T 2260 code.
    #[arg(long)]
    jurisdiction: String,
    /// Phone or address for appeals.
    #[arg(long)]
    contact: Option<String>,
}

#[derive(Args)]
pub struct AddOfficialArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    authority: String,
    /// Their public key (64 hex digits), from `mingma admin keygen` or the console.
    #[arg(long)]
    public_key: Option<String>,
    /// Roles to grant, as ROLE@JURISDICTION (e.g. health_official@410100).
    #[arg(long = "role")]
    roles: Vec<String>,
}

#[derive(Args)]
pub struct RegisterKeyArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    official: String,
    #[arg(long)]
    public_key: String,
}

#[derive(Args)]
pub struct GrantArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    official: String,
    /// ROLE@JURISDICTION.
    #[arg(long)]
    role: String,
}

#[derive(Args)]
pub struct RevokeKeyArgs {
    #[command(flatten)]
    actor: Actor,
    /// Key id (16 hex digits).
    #[arg(long)]
    key: String,
    /// From when (RFC 3339); now if omitted.
    #[arg(long = "from")]
    at: Option<String>,
}

#[derive(Args)]
pub struct RegisterSourceArgs {
    #[command(flatten)]
    actor: Actor,
    #[arg(long)]
    id: String,
    /// lab, customs or case_reporting.
    #[arg(long)]
    kind: String,
    #[arg(long)]
    authority: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    public_key: String,
}

#[derive(Args)]
pub struct PublishRulesArgs {
    #[command(flatten)]
    actor: Actor,
    /// The rule-set file.
    file: PathBuf,
}

#[derive(Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    actor: Actor,
    /// The leaf of the proposal.
    #[arg(long)]
    leaf: u64,
}

#[derive(Args)]
pub struct PasswordArgs {
    /// The server's database.
    #[arg(long)]
    accounts_db: PathBuf,
    #[arg(long)]
    official: String,
}

#[derive(Args)]
pub struct TokenArgs {
    /// The server's database.
    #[arg(long)]
    accounts_db: PathBuf,
    /// For an official...
    #[arg(long, conflicts_with = "source")]
    official: Option<String>,
    /// ...or for a data source's system.
    #[arg(long)]
    source: Option<String>,
}

/// Reads an official's key file.
pub fn read_key_file(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let text = text.trim();
    let mut seed = [0u8; 32];
    if text.len() != 64 {
        bail!("{}: a key file holds 64 hex digits", path.display());
    }
    for (i, b) in seed.iter_mut().enumerate() {
        *b = text
            .get(2 * i..2 * i + 2)
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| anyhow!("{}: a key file holds 64 hex digits", path.display()))?;
    }
    Ok(SigningKey::from_bytes(&seed))
}

/// Makes a key, writes its secret to `out`, returns it.
pub fn new_key_file(out: &Path) -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no random source: {e}"))?;
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    write_secret(out, format!("{hex}\n").as_bytes(), false)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn parse<T, E: std::fmt::Display>(
    text: &str,
    what: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T> {
    f(text).map_err(|e| anyhow!("{what} {text:?}: {e}"))
}

/// `ROLE@JURISDICTION`.
pub fn parse_grant(text: &str) -> Result<Grant> {
    let (role, place) = text.split_once('@').ok_or_else(|| {
        anyhow!("--role {text:?}: write ROLE@JURISDICTION, e.g. health_official@410100")
    })?;
    Ok(Grant {
        role: Role::parse(role).map_err(|e| anyhow!("--role {text:?}: {e}"))?,
        jurisdiction: parse(place, "jurisdiction", Jurisdiction::parse)?,
    })
}

/// Seals and appends `act` by `actor`, after the registry accepts it.
async fn append<S: Store>(
    store: &S,
    actor: &OfficialId,
    key: &SigningKey,
    at: mingma_core::Timestamp,
    act: Act,
) -> Result<u64> {
    let registry = Registry::replay(store.acts(0).await?);
    let signed = SignedAct::sign(
        ActBody {
            by: actor.clone(),
            at,
            act,
        },
        key,
    );
    registry
        .check(&signed)
        .map_err(|e| anyhow!("refused: {e}"))?;
    let leaf = store.append_act(signed.to_bytes()).await?;
    println!("leaf {leaf}: {signed}");
    Ok(leaf)
}

async fn act_as(actor: &Actor, acts: Vec<Act>) -> Result<()> {
    let id = parse(&actor.actor, "--as", OfficialId::parse)?;
    let key = read_key_file(&actor.key_file)?;
    let at = act_time(actor.at.as_deref())?;
    crate::with_store!(actor.db.open_existing().await?, |store| {
        for act in acts {
            append(&store, &id, &key, at, act).await?;
        }
    });
    Ok(())
}

pub async fn run(command: &AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Init(a) => {
            let official = parse(&a.official, "--official", OfficialId::parse)?;
            let authority = parse(&a.authority, "--authority", AuthorityId::parse)?;
            let jurisdiction = parse(&a.jurisdiction, "--jurisdiction", Jurisdiction::parse)?;
            let key = new_key_file(&a.key_out)?;
            let act = Act::Bootstrap {
                authority,
                authority_name: a.authority_name.clone(),
                jurisdiction,
                official: official.clone(),
                name: a.name.clone(),
                key: key_hex(&key.verifying_key()),
            };
            crate::with_store!(a.db.open_or_create().await?, |store| {
                append(&store, &official, &key, act_time(a.at.as_deref())?, act).await?;
            });
            eprintln!(
                "wrote the admin's key to {} (keep it secret)",
                a.key_out.display()
            );
            Ok(())
        }
        AdminCommand::Keygen { out } => {
            let key = new_key_file(out)?;
            println!("{}", key_hex(&key.verifying_key()));
            eprintln!(
                "wrote the secret key to {}; register the public key above",
                out.display()
            );
            Ok(())
        }
        AdminCommand::AddAuthority(a) => {
            act_as(
                &a.actor,
                vec![Act::AddAuthority {
                    authority: parse(&a.id, "--id", AuthorityId::parse)?,
                    name: a.name.clone(),
                    name_en: a.name_en.clone(),
                    jurisdiction: parse(&a.jurisdiction, "--jurisdiction", Jurisdiction::parse)?,
                    contact: a.contact.clone(),
                }],
            )
            .await
        }
        AdminCommand::AddOfficial(a) => {
            let official = parse(&a.id, "--id", OfficialId::parse)?;
            let mut acts = vec![Act::AddOfficial {
                official: official.clone(),
                name: a.name.clone(),
                authority: parse(&a.authority, "--authority", AuthorityId::parse)?,
            }];
            if let Some(key) = &a.public_key {
                acts.push(Act::RegisterKey {
                    official: official.clone(),
                    key: key.trim().to_owned(),
                });
            }
            for role in &a.roles {
                acts.push(Act::GrantRole {
                    official: official.clone(),
                    grant: parse_grant(role)?,
                });
            }
            act_as(&a.actor, acts).await
        }
        AdminCommand::RegisterKey(a) => {
            act_as(
                &a.actor,
                vec![Act::RegisterKey {
                    official: parse(&a.official, "--official", OfficialId::parse)?,
                    key: a.public_key.trim().to_owned(),
                }],
            )
            .await
        }
        AdminCommand::Grant(a) | AdminCommand::RevokeRole(a) => {
            let official = parse(&a.official, "--official", OfficialId::parse)?;
            let grant = parse_grant(&a.role)?;
            let act = if matches!(command, AdminCommand::Grant(_)) {
                Act::GrantRole { official, grant }
            } else {
                Act::RevokeRole { official, grant }
            };
            act_as(&a.actor, vec![act]).await
        }
        AdminCommand::RevokeKey(a) => {
            act_as(
                &a.actor,
                vec![Act::RevokeKey {
                    key: a.key.clone(),
                    at: act_time(a.at.as_deref())?,
                }],
            )
            .await
        }
        AdminCommand::RegisterSource(a) => {
            let kind = SourceKind::ALL
                .into_iter()
                .find(|k| k.name() == a.kind)
                .ok_or_else(|| anyhow!("--kind {:?}: lab, customs or case_reporting", a.kind))?;
            act_as(
                &a.actor,
                vec![Act::RegisterSource {
                    source: parse(&a.id, "--id", DataSourceId::parse)?,
                    kind,
                    authority: parse(&a.authority, "--authority", AuthorityId::parse)?,
                    name: a.name.clone(),
                    key: a.public_key.trim().to_owned(),
                }],
            )
            .await?;
            eprintln!("proposed; a second admin confirms it with `mingma admin confirm --leaf <leaf above>`");
            Ok(())
        }
        AdminCommand::PublishRules(a) => {
            let text = std::fs::read_to_string(&a.file)
                .with_context(|| format!("cannot read {}", a.file.display()))?;
            let rules = mingma_core::RuleSet::parse(&text, &a.file.display().to_string())
                .map_err(|e| anyhow!("{e}"))?;
            use sha2::Digest as _;
            let sha256: String = sha2::Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            act_as(
                &a.actor,
                vec![Act::PublishRuleSet {
                    id: rules.id.clone(),
                    version: rules.version.clone(),
                    sha256,
                }],
            )
            .await
        }
        AdminCommand::Confirm(a) => act_as(&a.actor, vec![Act::Confirm { proposal: a.leaf }]).await,
        AdminCommand::Password(a) => {
            let official = parse(&a.official, "--official", OfficialId::parse)?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let hash = hash_password(password.trim_end_matches(['\r', '\n']))
                .map_err(|e| anyhow!("{}", e.message))?;
            let accounts = Accounts::open(&a.accounts_db)?;
            accounts
                .set_official_password(&official, hash)
                .await
                .map_err(|e| anyhow!("{}", e.message))?;
            eprintln!("password set for {official}");
            Ok(())
        }
        AdminCommand::Token(a) => {
            let principal = match (&a.official, &a.source) {
                (Some(o), None) => Principal::Official(parse(o, "--official", OfficialId::parse)?),
                (None, Some(s)) => Principal::Source(parse(s, "--source", DataSourceId::parse)?),
                _ => bail!("give --official or --source"),
            };
            let accounts = Accounts::open(&a.accounts_db)?;
            let token = accounts
                .issue_official_token(&principal, "api", None)
                .await
                .map_err(|e| anyhow!("{}", e.message))?;
            println!("{token}");
            Ok(())
        }
        AdminCommand::List { db } => {
            crate::with_store!(db.open_existing().await?, |store| {
                let registry = Registry::replay(store.acts(0).await?);
                print!("{}", render(&registry));
            });
            Ok(())
        }
    }
}

fn render(registry: &Registry) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "authorities:");
    for a in registry.directory.authorities.values() {
        let _ = writeln!(out, "  {} {} ({})", a.id, a.name, a.jurisdiction);
    }
    let _ = writeln!(out, "officials:");
    for o in registry.directory.officials.values() {
        let grants: Vec<String> = registry
            .grants_of(&o.id)
            .iter()
            .map(|g| format!("{}@{}", g.role.as_str(), g.jurisdiction))
            .collect();
        let _ = writeln!(out, "  {} of {}: {}", o.id, o.authority, grants.join(", "));
    }
    let _ = writeln!(out, "data sources:");
    for s in registry.directory.sources.values() {
        let _ = writeln!(
            out,
            "  {} {} ({}) of {}",
            s.id,
            s.name,
            s.kind.name(),
            s.authority
        );
    }
    let _ = writeln!(out, "keys:");
    for (id, k) in registry.keys.iter() {
        let revoked = k
            .revoked_at
            .map(|r| format!(", revoked {r}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {id} of {} from {}{revoked}", k.holder, k.valid_from);
    }
    let _ = writeln!(out, "waiting for a second admin:");
    for (leaf, p) in &registry.pending {
        let _ = writeln!(
            out,
            "  leaf {leaf}: {} by {} at {}",
            p.act.describe(),
            p.by,
            p.at
        );
    }
    if !registry.problems.is_empty() {
        let _ = writeln!(out, "ignored acts:");
        for (leaf, problem) in &registry.problems {
            let _ = writeln!(out, "  leaf {leaf}: {problem}");
        }
    }
    out
}
