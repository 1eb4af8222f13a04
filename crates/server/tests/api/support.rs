//! A service on a temporary SQLite store with a controlled clock, driven through
//! its router without a socket.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use mingma_core::{read_evidence_file, Jurisdiction, PseudonymKey, Timestamp};
use mingma_engine::Clock;
use mingma_ledger::{CheckpointSigner, SigningKey};
use mingma_server::app::Keys;
use mingma_server::{App, Config};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;
use mingma_token::{IssuerKey, VenueKey};
use serde_json::Value;
use tower::ServiceExt as _;

/// A clock the test moves.
pub struct TestClock(pub AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

pub struct TestApp {
    pub app: Arc<App<SqliteStore>>,
    pub router: Router,
    pub clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub const EXAMPLE: &str = include_str!("../../../../examples/zhengzhou-2022.jsonl");
/// The inbound traveller of the example file: red on 14 June 2022.
pub const TRAVELLER: &str = "410102198503121017";

/// Test keys for everyone the example file names, and the acts of two province
/// admins (`hc-41`) that register them, on 1 May 2022.
pub fn example_founding(directory: &mingma_core::Directory) -> mingma_authority::Founding {
    mingma_authority::Founding::derived(
        directory,
        &mingma_core::AuthorityId::parse("hc-41").unwrap(),
        "mingma-test/key/v1",
        0,
        ts("2022-05-01T00:00:00+08:00"),
    )
}

pub fn pseudonym_key() -> PseudonymKey {
    PseudonymKey::from_bytes([3; 32])
}

pub fn issuer_key() -> IssuerKey {
    IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [41; 32]).unwrap()
}

pub fn venue_key() -> VenueKey {
    VenueKey::from_seed([7; 32])
}

impl TestApp {
    /// A service at noon on 14 June 2022 (UTC+8), with the example evidence stored.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            db: dir.path().join("store.sqlite").display().to_string(),
            accounts_db: dir.path().join("accounts.sqlite"),
            public_url: "http://mingma.test".into(),
            demo_channels: true,
            ..Config::default()
        };
        let store = SqliteStore::open(&config.db).unwrap();
        let keys = Keys {
            issuer: issuer_key(),
            venue: venue_key(),
            log: CheckpointSigner::new("mingma.example/log", SigningKey::from_bytes(&[9; 32]))
                .unwrap(),
            pseudonym: pseudonym_key(),
        };
        let clock = Arc::new(TestClock(AtomicI64::new(
            ts("2022-06-14T12:00:00+08:00").unix_seconds(),
        )));
        let app = mingma_server::build(config, store, keys, clock.clone())
            .await
            .unwrap();
        let file = read_evidence_file(EXAMPLE, &pseudonym_key()).unwrap();
        // The example's officials and sources, registered by authority acts with
        // test keys, seal what they recorded: only then does it count.
        let founding = example_founding(&file.directory);
        mingma_store::contract::register(&app.store, &founding).await;
        let records = file.records.iter().map(|r| founding.seal(r.clone()));
        app.store.append(records.collect()).await.unwrap();
        app.add_registry(
            file.directory.authorities.values().cloned().collect(),
            Vec::new(),
        )
        .await
        .unwrap();
        let router = mingma_server::router(app.clone());
        Self {
            app,
            router,
            clock,
            _dir: dir,
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn ledger_size(&self) -> u64 {
        self.app.store.ledger_size().await.unwrap()
    }

    /// A request; returns the status, the headers and the body as text.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        session: Option<&str>,
        content_type: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let (status, headers, bytes) = self.bytes(method, path, body, session, content_type).await;
        (status, headers, String::from_utf8(bytes).unwrap())
    }

    /// A request; returns the status, the headers and the body's bytes.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        session: Option<&str>,
        content_type: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(s) = session {
            req = req.header(header::COOKIE, format!("mingma_session={s}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, content_type);
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
        (status, headers, bytes.to_vec())
    }

    /// A JSON request; the body parsed as JSON (`Null` if empty).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        session: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, _, text) = self
            .raw(
                method,
                path,
                body.map(|b| b.to_string()),
                session,
                "application/json",
            )
            .await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Signs up (or in) through the API with the demo channel; returns the session.
    pub async fn sign_in(&self, id: &str, name: &str, phone: &str) -> String {
        let (status, started) = self
            .json(
                Method::POST,
                "/api/v1/signin",
                Some(serde_json::json!({"id_number": id, "name": name, "phone": phone})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let (status, session) = self
            .json(
                Method::POST,
                "/api/v1/signin/confirm",
                Some(serde_json::json!({"challenge": started["challenge"], "code": started["demo_code"]})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["session"].as_str().unwrap().to_owned()
    }
}

/// Asserts an error answer: status and stable code, and a non-empty message.
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}
