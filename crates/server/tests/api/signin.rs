use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{assert_error, TestApp};

const NEW_ID: &str = "110101199003071233";

#[tokio::test]
async fn a_new_id_number_signs_up_with_the_code_sent_to_its_phone() {
    let t = TestApp::new().await;
    let (status, started) = t
        .json(
            Method::POST,
            "/api/v1/signin",
            Some(json!({"id_number": NEW_ID, "name": "王五", "phone": "13800001234"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["existing_account"], false);
    assert_eq!(started["sent_to"], "138****1234");
    // A wrong code is refused and opens nothing.
    let wrong = t
        .json(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(json!({"challenge": started["challenge"], "code": "000000x"})),
            None,
        )
        .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "otp_mismatch");
    let (status, headers, body) = t
        .raw(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(
                json!({"challenge": started["challenge"], "code": started["demo_code"]})
                    .to_string(),
            ),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("mingma_session="));
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    let session = session["session"].as_str().unwrap();
    let (status, code) = t
        .json(Method::GET, "/api/v1/me/code", None, Some(session))
        .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    assert_eq!(code["colour"], "green");
    assert_eq!(code["masked_name"], "王*");
    assert_eq!(code["id_last_four"], "1233");
    // A challenge is used once.
    let again = t
        .json(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(json!({"challenge": started["challenge"], "code": started["demo_code"]})),
            None,
        )
        .await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "otp_challenge_unknown");
}

#[tokio::test]
async fn malformed_input_is_refused_with_the_field_named_and_nothing_stored() {
    let t = TestApp::new().await;
    let cases = [
        (
            json!({"id_number": "410102198503121018", "name": "张三", "phone": "13800001234"}),
            "malformed_id_number",
        ),
        (
            json!({"id_number": "4101021985", "name": "张三", "phone": "13800001234"}),
            "malformed_id_number",
        ),
        (
            json!({"id_number": NEW_ID, "name": "", "phone": "13800001234"}),
            "malformed_name",
        ),
        (
            json!({"id_number": NEW_ID, "name": "张三", "phone": "2380000"}),
            "malformed_phone",
        ),
        (
            json!({"id_number": NEW_ID, "name": "张三"}),
            "malformed_json",
        ),
        (
            json!({"id_number": NEW_ID, "name": "张三", "phone": "13800001234", "x": 1}),
            "malformed_json",
        ),
    ];
    for (body, code) in cases {
        let got = t
            .json(Method::POST, "/api/v1/signin", Some(body), None)
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
    }
    let id = mingma_core::NationalId::parse(NEW_ID).unwrap();
    assert!(t
        .app
        .accounts
        .account(t.app.person_key(&id))
        .await
        .unwrap()
        .is_none());
    let not_json = t
        .raw(
            Method::POST,
            "/api/v1/signin",
            Some("{".into()),
            None,
            "application/json",
        )
        .await;
    assert_eq!(not_json.0, StatusCode::BAD_REQUEST);
    assert!(not_json.2.contains("malformed_json"));
}

#[tokio::test]
async fn a_second_sign_up_for_a_known_id_needs_the_code_of_the_phone_on_file() {
    let t = TestApp::new().await;
    t.sign_in(NEW_ID, "王五", "13800001234").await;
    let (status, started) = t
        .json(
            Method::POST,
            "/api/v1/signin",
            Some(json!({"id_number": NEW_ID, "name": "王五", "phone": "13999998888"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(started["existing_account"], true);
    // The code goes to the phone on file, not to the new one.
    assert_eq!(started["sent_to"], "138****1234");
    let wrong = t
        .json(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(json!({"challenge": started["challenge"], "code": "123456"})),
            None,
        )
        .await;
    if started["demo_code"] != "123456" {
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "otp_mismatch");
    }
    let id = mingma_core::NationalId::parse(NEW_ID).unwrap();
    let account = t
        .app
        .accounts
        .account(t.app.person_key(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.phone, "13800001234");
    // Five wrong codes end the challenge.
    for _ in 0..5 {
        t.json(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(json!({"challenge": started["challenge"], "code": "x"})),
            None,
        )
        .await;
    }
    let late = t
        .json(
            Method::POST,
            "/api/v1/signin/confirm",
            Some(json!({"challenge": started["challenge"], "code": started["demo_code"]})),
            None,
        )
        .await;
    assert_error(&late, StatusCode::UNAUTHORIZED, "otp_challenge_unknown");
}

#[tokio::test]
async fn holder_endpoints_need_a_session() {
    let t = TestApp::new().await;
    for path in [
        "/api/v1/me/code",
        "/api/v1/me/history",
        "/api/v1/me/receipts/records/be-0610-001",
    ] {
        let got = t.json(Method::GET, path, None, None).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "not_signed_in");
        let got = t.json(Method::GET, path, None, Some("nonsense")).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "session_expired");
    }
    let got = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": "x"})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "not_signed_in");
    // Signing out ends the session.
    let s = t.sign_in(NEW_ID, "王五", "13800001234").await;
    let (status, _) = t
        .json(Method::POST, "/api/v1/signout", None, Some(&s))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = t.json(Method::GET, "/api/v1/me/code", None, Some(&s)).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "session_expired");
}

#[tokio::test]
async fn one_time_codes_are_limited_per_id_number() {
    let t = TestApp::new().await;
    let body = json!({"id_number": NEW_ID, "name": "王五", "phone": "13800001234"});
    for _ in 0..3 {
        let (status, _) = t
            .json(Method::POST, "/api/v1/signin", Some(body.clone()), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let got = t
        .json(Method::POST, "/api/v1/signin", Some(body.clone()), None)
        .await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "otp_rate_limited");
    // Once they expire, codes can be asked for again.
    t.advance(301);
    let (status, _) = t
        .json(Method::POST, "/api/v1/signin", Some(body), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_service_refuses_to_start_without_demo_channels_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = mingma_server::Config {
        db: dir.path().join("s.sqlite").display().to_string(),
        accounts_db: dir.path().join("a.sqlite"),
        ..mingma_server::Config::default()
    };
    let store = mingma_store_sqlite::SqliteStore::open(&config.db).unwrap();
    let keys = mingma_server::app::Keys {
        issuer: crate::support::issuer_key(),
        venue: crate::support::venue_key(),
        log: mingma_ledger::CheckpointSigner::new(
            "o",
            mingma_ledger::SigningKey::from_bytes(&[1; 32]),
        )
        .unwrap(),
        pseudonym: crate::support::pseudonym_key(),
    };
    let clock = std::sync::Arc::new(mingma_engine::SystemClock);
    let err = mingma_server::build(config, store, keys, clock)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("demo_channels"), "{err}");
}
