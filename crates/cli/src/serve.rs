//! `mingma serve`, `mingma demo` and `mingma verify-code`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mingma_core::{Colour, Timestamp};
use mingma_engine::{Clock, SystemClock};
use mingma_server::accounts::{Account, VenueRecord};
use mingma_server::{App, Config};
use mingma_sim::{City, CityConfig};
use mingma_store::Store;
use mingma_token::{CheckpointCode, TrustList};

use crate::db::Opened;
use crate::progress::Bar;

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); `MINGMA_*` variables override it (see the README).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create missing key files in the key directory instead of refusing to start.
    #[arg(long)]
    create_keys: bool,
}

async fn open_store(db: &str) -> Result<Opened> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let store = mingma_store_postgres::PostgresStore::connect(db)
            .await
            .context("cannot connect to the PostgreSQL store")?;
        Ok(Opened::Postgres(store))
    } else {
        let store = mingma_store_sqlite::SqliteStore::open(db)
            .with_context(|| format!("cannot open {db}"))?;
        crate::memory::release_freed_pages();
        Ok(Opened::Sqlite(store))
    }
}

fn announce(addr: SocketAddr, metrics: SocketAddr) {
    eprintln!("mingma: serving on http://{addr}/  (metrics: http://{metrics}/metrics)");
}

pub async fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if args.create_keys || std::env::var("MINGMA_CREATE_MISSING_KEYS").is_ok_and(|v| v == "1") {
        config.create_missing_keys = true;
    }
    mingma_server::init_logs(&config.log_format);
    let keys = mingma_server::load_keys(&config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    crate::with_store!(open_store(&config.db).await?, |store| {
        let app = mingma_server::build(config, store, keys, clock).await?;
        mingma_server::serve(app, announce).await
    })
}

#[derive(Args)]
pub struct DemoArgs {
    /// Directory of the demo's store, accounts and keys (reused if it exists).
    #[arg(long, default_value = "mingma-demo")]
    dir: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the metrics listener.
    #[arg(long, default_value = "127.0.0.1:9090")]
    metrics_listen: SocketAddr,
    /// Residents of the demo city.
    #[arg(long, default_value_t = 3000)]
    persons: u32,
    /// Days of simulated history, ending at today's midnight.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Seed and print the sign-ins, then exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

const SURNAMES: [&str; 12] = [
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟",
];

pub async fn demo(args: &DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let config = Config {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        db: args.dir.join("store.sqlite").display().to_string(),
        accounts_db: args.dir.join("accounts.sqlite"),
        public_url: format!("http://{}", args.listen),
        key_dir: args.dir.join("keys"),
        create_missing_keys: true,
        demo_channels: true,
        ..Config::default()
    };
    config.check()?;
    mingma_server::init_logs("text");
    let keys = mingma_server::load_keys(&config)?;
    let store = mingma_store_sqlite::SqliteStore::open(&config.db)
        .with_context(|| format!("cannot open {}", config.db))?;
    crate::memory::release_freed_pages();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    // The simulated days end at today's midnight in UTC+8, so every record is past.
    let midnight = Timestamp::clamped_unix_seconds(
        (now.unix_seconds() + 8 * 3600).div_euclid(86_400) * 86_400 - 8 * 3600,
    );
    let mut city_config = CityConfig::new(args.seed, args.persons, args.days);
    city_config.start = midnight.plus_seconds(-i64::from(args.days) * 86_400);
    city_config.persons_per_venue = 10;
    city_config.inbound_per_100k_per_day = 60.0;
    city_config.id_prefix = "demo-".into();
    city_config
        .validate()
        .map_err(|e| anyhow!("the demo city: {e}"))?;
    let pseudonym = keys.pseudonym.clone();
    let app = mingma_server::build(config, store, keys, clock).await?;
    let city = Arc::new(City::generate(&city_config));
    let person_keys = Arc::new(city.person_keys(&pseudonym));
    let seeded = app.store.ledger_size().await? > 0;
    if !seeded {
        eprintln!(
            "seeding the demo city {} ({}): {} residents, {} venues, {} days from {}",
            city_config.city,
            city_config.city.name(),
            city.person_count(),
            city.venue_count(),
            city_config.days,
            city_config.start
        );
        let bar = Bar::new();
        let progress = |p| bar.progress(p);
        let done = mingma_bench::ingest(
            &app.store,
            city.clone(),
            person_keys.clone(),
            2,
            2_000,
            &progress,
        )
        .await?;
        bar.finish();
        eprintln!("appended {} records ({} scans)", done.records, done.scans);
    }
    let all: Vec<_> = (0..city.person_count())
        .map(|i| person_keys.get(i))
        .collect();
    let derived = app.engine.rederive_everyone(&all, app.now()).await?;
    if !seeded {
        eprintln!("derived {} codes", derived.derived);
    }
    // The venues' operator is the first resident, whatever their colour; then two
    // demo holders of each colour.
    let mut chosen: Vec<(u32, Colour)> = vec![(0, Colour::Green)];
    for colour in [Colour::Red, Colour::Yellow, Colour::Green] {
        let mut n = 0;
        for i in 1..city.person_count() {
            if n == 2 {
                break;
            }
            if let Some(state) = app.store.code_state(person_keys.get(i)).await? {
                if state.change.colour() == colour {
                    chosen.push((i, colour));
                    n += 1;
                }
            }
        }
    }
    let mut sign_ins = Vec::new();
    for (n, (i, colour)) in chosen.iter().enumerate() {
        let id = city.national_id(*i);
        let person = person_keys.get(*i);
        let (name, phone) = if n == 0 {
            ("周强".to_owned(), "13900000000".to_owned())
        } else {
            (
                format!(
                    "{}{}",
                    SURNAMES[n % SURNAMES.len()],
                    GIVEN[(n * 5 + 3) % GIVEN.len()]
                ),
                format!("1380000{n:04}"),
            )
        };
        app.accounts
            .add_account(
                Account {
                    person,
                    name,
                    phone,
                    id_last_four: id.last_four().to_owned(),
                },
                app.now(),
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        // An earlier run may have registered this person under other details.
        let account = app
            .accounts
            .account(person)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .ok_or_else(|| anyhow!("the demo account was not stored"))?;
        let colour = match app.store.code_state(person).await? {
            Some(state) => state.change.colour(),
            None => *colour,
        };
        sign_ins.push((id, account.name, account.phone, colour));
    }
    let operator = Some(person_keys.get(0));
    let directory = city.directory();
    let venues: Vec<VenueRecord> = directory
        .venues
        .values()
        .map(|v| VenueRecord {
            venue: v.clone(),
            address: format!("{}{}", v.street.full_name().replace(' ', ""), v.name),
            operator,
            poster_issued_at: city_config.start,
        })
        .collect();
    app.add_registry(directory.authorities.values().cloned().collect(), venues)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    app.sign_checkpoint().await.map_err(|e| anyhow!("{e}"))?;
    let officials = demo_officials(&app, &city, &args.dir).await?;
    print_guide(&app, &sign_ins);
    print_officials(&app, &officials);
    if args.no_serve {
        return Ok(());
    }
    mingma_server::serve(app, announce).await
}

/// The console password of the demo's officials.
const DEMO_OFFICIAL_PASSWORD: &str = "mingma-demo-2022";

/// An official the demo prints: id, authority name, role, key file.
struct DemoOfficial {
    id: mingma_core::OfficialId,
    authority: String,
    role: &'static str,
    key_file: PathBuf,
}

/// Two health officials of the city's first authority with officials (one proposes,
/// the other approves) and the first admin: console passwords set, and their key
/// files (the simulation's derived keys, which the ledger's acts registered)
/// written under `<dir>/officials/` for the console's "import key file".
async fn demo_officials<S: Store>(
    app: &App<S>,
    city: &City,
    dir: &std::path::Path,
) -> Result<Vec<DemoOfficial>> {
    let founding = city.founding();
    let registry = app.engine.registry().await?;
    let out = dir.join("officials");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut chosen: Vec<(
        mingma_core::OfficialId,
        &'static str,
        ed25519_dalek::SigningKey,
    )> = Vec::new();
    let health = registry.directory.officials.values().find_map(|o| {
        let pair: Vec<_> = registry
            .directory
            .officials
            .values()
            .filter(|p| {
                p.authority == o.authority
                    && registry
                        .grants_of(&p.id)
                        .iter()
                        .any(|g| g.role == mingma_authority::Role::HealthOfficial)
            })
            .take(2)
            .collect();
        (pair.len() == 2).then_some(pair)
    });
    for official in health.into_iter().flatten() {
        if let Some(key) = founding.signers.official(&official.id) {
            chosen.push((official.id.clone(), "health_official", key.clone()));
        }
    }
    let admin = &founding.admins[0];
    chosen.push((admin.official.clone(), "admin", admin.key.clone()));
    let hash = mingma_server::officials::hash_password(DEMO_OFFICIAL_PASSWORD)
        .map_err(|e| anyhow!("{}", e.message))?;
    let mut officials = Vec::new();
    for (id, role, key) in chosen {
        let key_file = out.join(format!("{id}.key"));
        let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        crate::keys::write_secret(&key_file, format!("{hex}\n").as_bytes(), true)?;
        app.accounts
            .set_official_password(&id, hash.clone())
            .await
            .map_err(|e| anyhow!("{}", e.message))?;
        let authority = registry
            .directory
            .officials
            .get(&id)
            .map(|o| registry.directory.authority_name(&o.authority, false))
            .unwrap_or_default();
        officials.push(DemoOfficial {
            id,
            authority,
            role,
            key_file,
        });
    }
    Ok(officials)
}

fn print_officials<S: Store>(app: &App<S>, officials: &[DemoOfficial]) {
    let base = app.config.base_url();
    println!("  officials' console {base}/console   (password {DEMO_OFFICIAL_PASSWORD}; import the key file on the key page)");
    for o in officials {
        println!(
            "    {:<16} {:<16} {}  key file {}",
            o.id.to_string(),
            o.role,
            o.authority,
            o.key_file.display()
        );
    }
    println!();
}

fn print_guide<S: Store>(
    app: &App<S>,
    sign_ins: &[(mingma_core::NationalId, String, String, Colour)],
) {
    let base = app.config.base_url();
    println!();
    println!("Mingma demo (明码演示): Zhengzhou 郑州, every code derived from simulated evidence");
    println!();
    println!(
        "  open           {base}/            (sign in; the one-time code is shown on the page)"
    );
    println!("  API            {base}/api/v1/openapi.json");
    println!("  trust list     {base}/.well-known/mingma/trust-list.json");
    println!(
        "  metrics        http://{}/metrics",
        app.config.metrics_listen
    );
    println!();
    println!("  demo sign-ins (ID number, name, phone — any name works for a new ID number too):");
    for (id, name, phone, colour) in sign_ins.iter().skip(1) {
        println!("    {:<6} {}  {name}  {phone}", colour.zh(), id.as_str());
    }
    if let Some((id, name, phone, _)) = sign_ins.first() {
        println!("  venue operator (registers venues, shows their rotating codes):");
        println!("    {}  {name}  {phone}", id.as_str());
    }
    let venue = app
        .registry
        .read()
        .ok()
        .and_then(|r| r.venues.values().next().cloned());
    if let Some(v) = venue {
        let id = &v.venue.id;
        println!();
        println!("  a venue        {base}/venues/{id}   ({})", v.venue.name);
        println!("  its poster     {base}/venues/{id}/poster.svg   {base}/venues/{id}/poster.png");
        println!(
            "  check in       {}",
            app.check_in_url(&app.poster_token(&v))
        );
        println!("  rotating code  {base}/venues/{id}/screen   (signed in as the venue operator)");
    }
    println!();
}

#[derive(Args)]
pub struct VerifyCodeArgs {
    /// The signed code (the QR's text, `MC1.` ...).
    code: String,
    /// The trust list (`mingma-trust-list/1` JSON, as served at
    /// /.well-known/mingma/trust-list.json).
    #[arg(long)]
    trust_list: PathBuf,
    /// Check as of this time (RFC 3339); now if omitted.
    #[arg(long)]
    at: Option<String>,
}

pub fn verify_code(args: &VerifyCodeArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.trust_list)
        .with_context(|| format!("cannot read {}", args.trust_list.display()))?;
    let trust =
        TrustList::from_json(&text).map_err(|e| anyhow!("{}: {e}", args.trust_list.display()))?;
    let now = match &args.at {
        Some(t) => crate::input::parse_time(t, "--at")?,
        None => SystemClock.now(),
    };
    let verified = CheckpointCode::verify(&args.code, &trust, now)
        .map_err(|refusal| anyhow!("refused ({}): {refusal}", refusal.code()))?;
    let c = &verified.code;
    println!("valid: {} ({})", c.colour.name(), c.colour.zh());
    println!("  valid as of:   {}", c.issued_at);
    println!("  expires at:    {}", c.expires_at);
    println!("  holder:        {} ****{}", c.masked_name, c.id_last_four);
    if let Some(t) = c.latest_test {
        println!("  latest test:   {t}");
    }
    println!(
        "  issuer:        {} ({} key {:08x})",
        verified.issuer_name, c.issuer, c.key_id
    );
    println!("  rule set:      {} {}", c.rule_set, c.rule_set_version);
    println!("  ledger index:  {}", c.ledger_index);
    Ok(())
}
