//! Starting the service: keys, the router, listeners, background work, shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use mingma_core::{Jurisdiction, PseudonymKey, Span};
use mingma_engine::{Clock, Engine, SystemClock};
use mingma_ledger::CheckpointSigner;
use mingma_store::Store;
use mingma_token::{IssuerKey, VenueKey};
use tokio::net::TcpListener;

use crate::accounts::Accounts;
use crate::app::{App, Keys, Registry};
use crate::auth::{DemoIdentityVerifier, DemoOtpChannel};
use crate::config::Config;

/// The whole HTTP application for `app`: API, pages, health, OpenAPI, trust list;
/// other work shed before the door flow under overload (`overload`); every request
/// counted in the metrics.
pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    crate::api::router::<S>()
        .merge(crate::console_api::router::<S>())
        .merge(crate::appeals::api::router::<S>())
        .merge(crate::console::router::<S>())
        .merge(crate::pages::router::<S>())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::overload::admit::<S>,
        ))
        .layer(middleware::from_fn_with_state(app.clone(), track::<S>))
        .with_state(app)
}

/// Unknown paths: a JSON error under `/api/`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> Response {
    let e = crate::error::AppError::not_found("not_found", format!("nothing at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        e.into_response()
    } else {
        crate::pages::error_page(
            crate::pages::lang_of(&axum::http::HeaderMap::new(), None),
            &e,
        )
    }
}

async fn track<S: Store>(State(app): State<Arc<App<S>>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    app.metrics.request(&route, status, elapsed);
    tracing::info!(%method, route, status, micros = elapsed.as_micros() as u64, "request");
    response
}

fn read_or_create(
    path: &Path,
    create: bool,
    make: impl FnOnce() -> Result<String>,
) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let text = make()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            write_secret(path, text.as_bytes())?;
            tracing::warn!(file = %path.display(), "created a new key file");
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow!(
            "key file {} is missing: provision it, or run with create_missing_keys = true (MINGMA_CREATE_MISSING_KEYS=1) to create new keys",
            path.display()
        )),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Loads the four keys from `config.key_dir` (`issuer.key`, `venue.key`, `log.key`,
/// `pseudonym.key`), creating missing ones only if the configuration says so.
pub fn load_keys(config: &Config) -> Result<Keys> {
    let dir = &config.key_dir;
    let create = config.create_missing_keys;
    let province = Jurisdiction::parse(&config.province).map_err(|e| anyhow!("province: {e}"))?;
    let issuer = read_or_create(&dir.join("issuer.key"), create, || {
        Ok(IssuerKey::generate(province)?.to_file_text())
    })?;
    let issuer = IssuerKey::from_file_text(&issuer).map_err(|e| anyhow!("issuer.key: {e}"))?;
    if issuer.province() != province {
        return Err(anyhow!(
            "issuer.key is for province {} but the configuration says {province}",
            issuer.province()
        ));
    }
    let venue = read_or_create(&dir.join("venue.key"), create, || {
        Ok(VenueKey::generate()?.to_file_text())
    })?;
    let venue = VenueKey::from_file_text(&venue).map_err(|e| anyhow!("venue.key: {e}"))?;
    let log_name = config.log_origin.clone();
    let log = read_or_create(&dir.join("log.key"), create, || {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow!("randomness: {e}"))?;
        let signer = CheckpointSigner::new(log_name, mingma_ledger::SigningKey::from_bytes(&seed))
            .map_err(|e| anyhow!("log key: {e}"))?;
        Ok(signer.to_signer_key())
    })?;
    let log = CheckpointSigner::from_signer_key(log.trim()).map_err(|e| anyhow!("log.key: {e}"))?;
    let pseudonym = read_or_create(&dir.join("pseudonym.key"), create, || {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow!("randomness: {e}"))?;
        Ok(seed.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
    })?;
    let pseudonym =
        PseudonymKey::parse_hex(pseudonym.trim()).map_err(|e| anyhow!("pseudonym.key: {e}"))?;
    Ok(Keys {
        issuer,
        venue,
        log,
        pseudonym,
    })
}

/// Builds the service over an opened store.
pub async fn build<S: Store>(
    config: Config,
    store: S,
    keys: Keys,
    clock: Arc<dyn Clock>,
) -> Result<Arc<App<S>>> {
    if !config.demo_channels {
        return Err(anyhow!(
            "no SMS gateway or real-name provider is configured, and the demo ones show one-time codes on the page: set demo_channels = true (MINGMA_DEMO_CHANNELS=1) to run with them, never on a public address"
        ));
    }
    let accounts = Accounts::open(&config.accounts_db).with_context(|| {
        format!(
            "cannot open the accounts database {}",
            config.accounts_db.display()
        )
    })?;
    let (directory, venues) = accounts.registry().await.map_err(|e| anyhow!("{e}"))?;
    let registry = Registry {
        directory,
        venues: venues
            .into_iter()
            .map(|v| (v.venue.id.clone(), v))
            .collect(),
    };
    let rules =
        mingma_core::RuleSet::default_rules().map_err(|e| anyhow!("the default rule set: {e}"))?;
    let engine = Engine::new(store.clone(), rules);
    let ledger = engine
        .registry()
        .await
        .map_err(|e| anyhow!("cannot read the ledger's authority acts: {e}"))?;
    for (leaf, problem) in &ledger.problems {
        tracing::warn!(leaf, %problem, "an authority act in the ledger is ignored");
    }
    let rules = engine.rules();
    if !ledger
        .rule_sets
        .iter()
        .any(|r| r.id == rules.id && r.version == rules.version)
    {
        tracing::warn!(
            rule_set = %rules.id,
            version = %rules.version,
            "the rule set derivation uses is not published in the ledger (two admins: mingma admin publish-rules, then confirm)"
        );
    }
    Ok(Arc::new(App::new(
        config,
        store,
        engine,
        accounts,
        keys,
        registry,
        clock,
        Arc::new(DemoOtpChannel),
        Arc::new(DemoIdentityVerifier),
    )))
}

/// Sets up logging (text or JSON lines on stderr).
pub fn init_logs(format: &str) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Connections waiting to be accepted, at most (the kernel caps it at
/// `net.core.somaxconn`).
const ACCEPT_BACKLOG: u32 = 4096;

/// A listener on `addr` whose queue of connections waiting to be accepted holds
/// [`ACCEPT_BACKLOG`]: tokio's `TcpListener::bind` asks for 128, and a morning's
/// phones connecting at once overflow that — each dropped handshake costs its
/// phone a one-second retransmission before its first request is even read.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves `app`'s HTTP routes on `listener` until `shutdown` completes, following
/// the ledger for its code views ([`App::follow_ledger`]), without the metrics
/// listener or other background work (the load test, `mingma bench serve`).
pub async fn serve_on<S: Store>(
    app: Arc<App<S>>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let following = tokio::spawn(app.clone().follow_ledger());
    let served = axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed");
    following.abort();
    served
}

/// Serves `app` until SIGTERM or Ctrl-C: the HTTP service, the metrics listener, the
/// scheduler and retention purge, checkpoint signing, and the ledger's follower; at
/// start, beside the routes, the re-derivations left pending (`Engine::catch_up`).
/// `ready` gets the bound addresses (service, metrics).
pub async fn serve<S: Store>(
    app: Arc<App<S>>,
    ready: impl FnOnce(std::net::SocketAddr, std::net::SocketAddr),
) -> Result<()> {
    // Appeal steps a crash left between the ledger and the server's database are
    // resolved from the ledger before anything is served.
    let reconciled = app
        .reconcile_appeal_steps(0)
        .await
        .map_err(|e| anyhow!("reconciling appeal steps with the ledger: {}", e.message))?;
    if reconciled != Default::default() {
        tracing::warn!(
            finished = reconciled.finished,
            dropped = reconciled.dropped,
            "appeal steps reconciled with the ledger"
        );
    }
    let listener = listen(app.config.listen)
        .with_context(|| format!("cannot listen on {}", app.config.listen))?;
    let metrics_listener = listen(app.config.metrics_listen)
        .with_context(|| format!("cannot listen on {} (metrics)", app.config.metrics_listen))?;
    let addr = listener.local_addr()?;
    let metrics_addr = metrics_listener.local_addr()?;
    let metrics_app = {
        let app = app.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let app = app.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        app.metrics.render(),
                    )
                        .into_response()
                }
            }),
        )
    };
    let following = tokio::spawn(app.clone().follow_ledger());
    // A risk area (or an act on one) whose re-derivation a crash or a restart cut
    // off, or that an import stored with no server running, is re-derived now,
    // beside the routes: the door does not wait for it.
    let catching_up = {
        let (engine, now) = (app.engine.clone(), app.now());
        tokio::spawn(async move {
            match engine.catch_up(now).await {
                Ok(done) if done.derived > 0 => tracing::warn!(
                    derived = done.derived,
                    changed = ?done.changed,
                    "pending re-derivations caught up"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "catching up pending re-derivations failed"),
            }
        })
    };
    let background = {
        let engine = app.engine.clone();
        let every = Duration::from_secs(app.config.scheduler_every_seconds);
        tokio::spawn(engine.run_background(SystemClock, every, Span::days(21)))
    };
    let checkpoints = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs(app.config.checkpoint_every_seconds));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = app.sign_checkpoint().await {
                    tracing::error!(error = %e, "checkpoint signing failed");
                }
                // Steps a failed request left half-taken (see `commit_step`).
                match app.reconcile_appeal_steps(300).await {
                    Ok(r) if r == Default::default() => {}
                    Ok(r) => tracing::warn!(
                        finished = r.finished,
                        dropped = r.dropped,
                        "appeal steps reconciled with the ledger"
                    ),
                    Err(e) => tracing::error!(error = %e, "appeal step reconciliation failed"),
                }
                match app.escalate_overdue().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(tickets = n, "overdue appeal tickets escalated"),
                    Err(e) => tracing::error!(error = %e, "appeal escalation failed"),
                }
            }
        })
    };
    tracing::info!(%addr, %metrics_addr, "serving");
    ready(addr, metrics_addr);
    let metrics_server = tokio::spawn(async move {
        let _ = axum::serve(metrics_listener, metrics_app).await;
    });
    let result = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    following.abort();
    catching_up.abort();
    background.abort();
    checkpoints.abort();
    metrics_server.abort();
    // A last checkpoint, so that every record of this run gets its receipt.
    if let Err(e) = app.sign_checkpoint().await {
        tracing::error!(error = %e, "final checkpoint failed");
    }
    tracing::info!("stopped");
    result.context("the HTTP server failed")
}
