//! The service's configuration: a TOML file, then `MINGMA_*` environment variables
//! over it, then defaults.
//!
//! ```toml
//! listen = "127.0.0.1:8080"          # MINGMA_LISTEN
//! metrics_listen = "127.0.0.1:9090"  # MINGMA_METRICS_LISTEN (Prometheus, /metrics)
//! db = "mingma.sqlite"               # MINGMA_DB: a SQLite file or a postgres:// URL
//! accounts_db = "mingma-accounts.sqlite"  # MINGMA_ACCOUNTS_DB
//! public_url = "http://127.0.0.1:8080"    # MINGMA_PUBLIC_URL: what QR codes point at
//! key_dir = "keys"                   # MINGMA_KEY_DIR: issuer.key, venue.key, log.key, pseudonym.key
//! log_origin = "mingma.example/log"  # MINGMA_LOG_ORIGIN
//! issuer_name = "河南省卫生健康委员会"   # MINGMA_ISSUER_NAME
//! province = "41"                    # MINGMA_PROVINCE
//! code_validity_seconds = 300        # MINGMA_CODE_VALIDITY_SECONDS
//! checkpoint_every_seconds = 5       # MINGMA_CHECKPOINT_EVERY_SECONDS
//! log_format = "text"                # MINGMA_LOG_FORMAT: text | json
//! demo_channels = false              # MINGMA_DEMO_CHANNELS=1: demo one-time codes shown on the page
//! create_missing_keys = false        # MINGMA_CREATE_MISSING_KEYS=1
//! code_cache_seconds = 30           # MINGMA_CODE_CACHE_SECONDS: how long a derived, signed code view is reused (0: never) unless the ledger's follower vouches for it longer; as long again it shows while checked anew
//! overload_door_in_flight = 64       # MINGMA_OVERLOAD_DOOR_IN_FLIGHT: door requests in flight that shed other work
//! overload_door_latency_ms = 10      # MINGMA_OVERLOAD_DOOR_LATENCY_MS: recent door latency that sheds other work
//! overload_other_in_flight = 16      # MINGMA_OVERLOAD_OTHER_IN_FLIGHT: other requests in flight at most
//! overload_queue_delay_ms = 5        # MINGMA_OVERLOAD_QUEUE_DELAY_MS: runtime queue delay that sheds other work
//! bulk_max_bytes = 67108864          # MINGMA_BULK_MAX_BYTES: largest body of POST /api/v1/evidence/bulk (64 MiB)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// The service's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the HTTP service.
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics listener (`/metrics`).
    pub metrics_listen: SocketAddr,
    /// The evidence store: a SQLite file path or a `postgres://` URL.
    pub db: String,
    /// The SQLite file of holders' accounts, sessions and the venue registry.
    pub accounts_db: PathBuf,
    /// The base URL that venue QR codes point at.
    pub public_url: String,
    /// Directory of the key files.
    pub key_dir: PathBuf,
    /// The transparency log's origin line.
    pub log_origin: String,
    /// The name of the issuer of checkpoint codes, shown by verifiers.
    pub issuer_name: String,
    /// The issuing province (two digits).
    pub province: String,
    /// How long a checkpoint code is valid.
    pub code_validity_seconds: i64,
    /// How often the log's checkpoint is signed when it has grown.
    pub checkpoint_every_seconds: u64,
    /// How often the scheduler and the retention purge run.
    pub scheduler_every_seconds: u64,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Create missing key files (the demo does; a deployment provisions its keys).
    pub create_missing_keys: bool,
    /// Use the demo one-time-code channel (codes shown on the page, no SMS) and the
    /// demo identity verifier (every valid ID number). No other channel exists yet,
    /// so the service refuses to start without this set: codes shown on a public
    /// page would let anyone sign in as anyone.
    pub demo_channels: bool,
    /// How long a holder's derived and signed code view is reused (three quarters
    /// of this to all of it, by person; never past its next change; a check-in or
    /// leave here drops it); 0 derives on every display. While the server follows
    /// the ledger (`mingma serve`), a view nothing new concerns is reused longer,
    /// until half its signed code's validity is used, and evidence appended past
    /// this service shows at the first display after the follower's next read
    /// (every second). Otherwise, for as long again the view is shown while it is
    /// checked anew off the request; after that a display checks it first, and
    /// evidence appended past this service shows within twice this time.
    pub code_cache_seconds: i64,
    /// Door requests (code display, check-in; see `overload`) in flight at or above
    /// which other work gets `503 overloaded`.
    pub overload_door_in_flight: u64,
    /// Recent door latency (milliseconds, weighted mean) above which other work gets
    /// `503 overloaded` while door work is in flight.
    pub overload_door_latency_ms: u64,
    /// Other requests in flight at most; more get `503 overloaded`.
    pub overload_other_in_flight: u64,
    /// Recent queue delay of the runtime (milliseconds, weighted mean; see
    /// `overload`) above which other work gets `503 overloaded` while door work is
    /// in flight.
    pub overload_queue_delay_ms: u64,
    /// The largest body `POST /api/v1/evidence/bulk` takes, in bytes (it is held
    /// in memory while it is imported); a larger one gets `413 too_large`.
    pub bulk_max_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            db: "mingma.sqlite".into(),
            accounts_db: PathBuf::from("mingma-accounts.sqlite"),
            public_url: "http://127.0.0.1:8080".into(),
            key_dir: PathBuf::from("keys"),
            log_origin: "mingma.example/log".into(),
            issuer_name: "河南省卫生健康委员会".into(),
            province: "41".into(),
            code_validity_seconds: 300,
            checkpoint_every_seconds: 5,
            scheduler_every_seconds: 60,
            log_format: "text".into(),
            create_missing_keys: false,
            demo_channels: false,
            code_cache_seconds: 30,
            overload_door_in_flight: 64,
            overload_door_latency_ms: 10,
            overload_other_in_flight: 16,
            overload_queue_delay_ms: 5,
            bulk_max_bytes: 64 << 20,
        }
    }
}

impl Config {
    /// Reads `file` (if given), then the environment over it; checks the result.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.check()?;
        Ok(config)
    }

    /// Applies `MINGMA_*` variables given by `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn parsed<T: std::str::FromStr>(name: &str, text: &str) -> Result<T>
        where
            T::Err: std::fmt::Display,
        {
            text.parse().map_err(|e| anyhow!("{name}={text:?}: {e}"))
        }
        if let Some(v) = var("MINGMA_LISTEN") {
            self.listen = parsed("MINGMA_LISTEN", &v)?;
        }
        if let Some(v) = var("MINGMA_METRICS_LISTEN") {
            self.metrics_listen = parsed("MINGMA_METRICS_LISTEN", &v)?;
        }
        if let Some(v) = var("MINGMA_DB") {
            self.db = v;
        }
        if let Some(v) = var("MINGMA_ACCOUNTS_DB") {
            self.accounts_db = v.into();
        }
        if let Some(v) = var("MINGMA_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = var("MINGMA_KEY_DIR") {
            self.key_dir = v.into();
        }
        if let Some(v) = var("MINGMA_LOG_ORIGIN") {
            self.log_origin = v;
        }
        if let Some(v) = var("MINGMA_ISSUER_NAME") {
            self.issuer_name = v;
        }
        if let Some(v) = var("MINGMA_PROVINCE") {
            self.province = v;
        }
        if let Some(v) = var("MINGMA_CODE_VALIDITY_SECONDS") {
            self.code_validity_seconds = parsed("MINGMA_CODE_VALIDITY_SECONDS", &v)?;
        }
        if let Some(v) = var("MINGMA_CHECKPOINT_EVERY_SECONDS") {
            self.checkpoint_every_seconds = parsed("MINGMA_CHECKPOINT_EVERY_SECONDS", &v)?;
        }
        if let Some(v) = var("MINGMA_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = var("MINGMA_DEMO_CHANNELS") {
            self.demo_channels = v == "1" || v == "true";
        }
        if let Some(v) = var("MINGMA_CREATE_MISSING_KEYS") {
            self.create_missing_keys = v == "1" || v == "true";
        }
        if let Some(v) = var("MINGMA_CODE_CACHE_SECONDS") {
            self.code_cache_seconds = parsed("MINGMA_CODE_CACHE_SECONDS", &v)?;
        }
        if let Some(v) = var("MINGMA_OVERLOAD_DOOR_IN_FLIGHT") {
            self.overload_door_in_flight = parsed("MINGMA_OVERLOAD_DOOR_IN_FLIGHT", &v)?;
        }
        if let Some(v) = var("MINGMA_OVERLOAD_DOOR_LATENCY_MS") {
            self.overload_door_latency_ms = parsed("MINGMA_OVERLOAD_DOOR_LATENCY_MS", &v)?;
        }
        if let Some(v) = var("MINGMA_OVERLOAD_OTHER_IN_FLIGHT") {
            self.overload_other_in_flight = parsed("MINGMA_OVERLOAD_OTHER_IN_FLIGHT", &v)?;
        }
        if let Some(v) = var("MINGMA_OVERLOAD_QUEUE_DELAY_MS") {
            self.overload_queue_delay_ms = parsed("MINGMA_OVERLOAD_QUEUE_DELAY_MS", &v)?;
        }
        if let Some(v) = var("MINGMA_BULK_MAX_BYTES") {
            self.bulk_max_bytes = parsed("MINGMA_BULK_MAX_BYTES", &v)?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn check(&self) -> Result<()> {
        if !(60..=3600).contains(&self.code_validity_seconds) {
            bail!(
                "code_validity_seconds is {}; a checkpoint code is valid for 60 to 3600 seconds",
                self.code_validity_seconds
            );
        }
        if self.checkpoint_every_seconds == 0 || self.scheduler_every_seconds == 0 {
            bail!("checkpoint_every_seconds and scheduler_every_seconds must be at least 1");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format is {:?}; it is \"text\" or \"json\"",
                self.log_format
            );
        }
        if !(0..=self.code_validity_seconds / 2).contains(&self.code_cache_seconds) {
            bail!(
                "code_cache_seconds is {}; it is 0 to half of code_validity_seconds ({}), so a shown code stays valid long enough",
                self.code_cache_seconds,
                self.code_validity_seconds / 2
            );
        }
        if self.overload_door_in_flight == 0 || self.overload_other_in_flight == 0 {
            bail!("overload_door_in_flight and overload_other_in_flight must be at least 1");
        }
        if self.bulk_max_bytes == 0 {
            bail!("bulk_max_bytes must be at least 1");
        }
        if self.overload_door_latency_ms == 0 {
            bail!("overload_door_latency_ms must be at least 1");
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!("public_url {:?} is not an http(s) URL", self.public_url);
        }
        Ok(())
    }

    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The overload limits.
    pub fn overload_limits(&self) -> crate::overload::Limits {
        crate::overload::Limits {
            door_in_flight: self.overload_door_in_flight,
            door_latency: std::time::Duration::from_millis(self.overload_door_latency_ms),
            other_in_flight: self.overload_other_in_flight,
            queue_delay: std::time::Duration::from_millis(self.overload_queue_delay_ms),
        }
    }

    /// The public URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_bad_values_are_named() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:1\"\nprovince = \"42\"").unwrap();
        c.apply_env(|n| (n == "MINGMA_LISTEN").then(|| "127.0.0.1:2".to_owned()))
            .unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.province, "42");
        let err = c
            .apply_env(|n| (n == "MINGMA_CODE_VALIDITY_SECONDS").then(|| "x".to_owned()))
            .unwrap_err();
        assert!(
            err.to_string().contains("MINGMA_CODE_VALIDITY_SECONDS"),
            "{err}"
        );
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let c = Config {
            code_validity_seconds: 5,
            ..Config::default()
        };
        assert!(c.check().is_err());
    }
}
