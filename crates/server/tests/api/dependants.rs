use axum::http::{Method, StatusCode};
use mingma_core::{NationalId, Recorder};
use mingma_store::Store as _;
use serde_json::json;

use crate::support::{assert_error, TestApp, TRAVELLER};

const PROXY: &str = "110101199003071233";
const OTHER: &str = "410105200001010017";

#[tokio::test]
async fn a_proxy_adds_a_dependant_with_consent_shows_their_code_and_checks_in_for_them() {
    let t = TestApp::new().await;
    let proxy = t.sign_in(PROXY, "王五", "13800001234").await;
    // Consent: the code goes to the dependant's phone.
    let (status, started) = t
        .json(
            Method::POST,
            "/api/v1/me/dependants",
            Some(json!({"id_number": TRAVELLER, "name": "李四", "phone": "13700002222"})),
            Some(&proxy),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["sent_to"], "137****2222");
    let wrong = t
        .json(
            Method::POST,
            "/api/v1/me/dependants/confirm",
            Some(json!({"challenge": started["challenge"], "code": "x"})),
            Some(&proxy),
        )
        .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "otp_mismatch");
    let (_, none) = t
        .json(Method::GET, "/api/v1/me/dependants", None, Some(&proxy))
        .await;
    assert_eq!(none, json!([]), "nothing linked before consent");
    let (status, d) = t
        .json(
            Method::POST,
            "/api/v1/me/dependants/confirm",
            Some(json!({"challenge": started["challenge"], "code": started["demo_code"]})),
            Some(&proxy),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let key = d["key"].as_str().unwrap().to_owned();
    let (_, list) = t
        .json(Method::GET, "/api/v1/me/dependants", None, Some(&proxy))
        .await;
    assert_eq!(list[0]["colour"], "red");
    assert_eq!(list[0]["masked_name"], "李*");
    assert_eq!(list[0]["consent"], "otp");
    assert!(list[0].get("consent_leaf").is_none(), "{list}");
    let (_, _, html) = t
        .raw(Method::GET, "/dependants", None, Some(&proxy), "")
        .await;
    assert!(html.contains("同意方式：家人手机验证码"), "{html}");
    let (status, code) = t
        .json(
            Method::GET,
            &format!("/api/v1/me/dependants/{key}/code"),
            None,
            Some(&proxy),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (code["colour"].as_str(), code["id_last_four"].as_str()),
        (Some("red"), Some("1017"))
    );
    // Nobody else sees them.
    let other = t.sign_in(OTHER, "赵六", "13900001111").await;
    let got = t
        .json(
            Method::GET,
            &format!("/api/v1/me/dependants/{key}/code"),
            None,
            Some(&other),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "dependant_unknown");
    // A check-in for the dependant is a proxy scan about the dependant.
    let (_, venue) = t
        .json(Method::POST, "/api/v1/venues", Some(json!({"name": "社区卫生服务中心", "address": "建设路 1 号", "street": "410102001", "kind": "hospital"})), Some(&proxy))
        .await;
    let (status, done) = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": venue["poster_url"], "dependant": key})),
            Some(&proxy),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(
        done["code"]["colour"], "red",
        "the dependant's code is shown"
    );
    let scan = t
        .app
        .store
        .record(&mingma_core::RecordId::parse(done["record"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let traveller = t.app.person_key(&NationalId::parse(TRAVELLER).unwrap());
    let proxy_key = t.app.person_key(&NationalId::parse(PROXY).unwrap());
    assert_eq!(scan.evidence.subject, Some(traveller));
    assert_eq!(scan.evidence.recorded_by, Recorder::Proxy(proxy_key));
    // The pages: the list, and the check-in page offering the dependant.
    let (status, _, html) = t
        .raw(Method::GET, "/dependants", None, Some(&proxy), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("李*") && html.contains("红码"), "{html}");
    let poster_path = venue["poster_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://mingma.test")
        .to_owned();
    let (_, _, html) = t
        .raw(Method::GET, &poster_path, None, Some(&proxy), "")
        .await;
    assert!(
        html.contains("dependant-checkin") && html.contains(&format!("/for/{key}")),
        "{html}"
    );
    // Not for someone who is not their dependant: refused, nothing recorded.
    let size = t.ledger_size().await;
    let got = t
        .json(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": venue["poster_url"], "dependant": key})),
            Some(&other),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "dependant_unknown");
    assert_eq!(t.ledger_size().await, size);
}

#[tokio::test]
async fn consent_goes_to_the_phone_on_file_and_one_cannot_be_ones_own_dependant() {
    let t = TestApp::new().await;
    let proxy = t.sign_in(PROXY, "王五", "13800001234").await;
    t.sign_in(OTHER, "赵六", "13900001111").await;
    let (status, started) = t
        .json(
            Method::POST,
            "/api/v1/me/dependants",
            Some(json!({"id_number": OTHER, "name": "赵六", "phone": "13700002222"})),
            Some(&proxy),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            started["sent_to"].as_str(),
            started["existing_account"].as_bool()
        ),
        (Some("139****1111"), Some(true))
    );
    let got = t
        .json(
            Method::POST,
            "/api/v1/me/dependants",
            Some(json!({"id_number": PROXY, "name": "王五", "phone": "13800001234"})),
            Some(&proxy),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "dependant_is_self");
    let got = t
        .json(
            Method::POST,
            "/api/v1/me/dependants",
            Some(json!({"id_number": "123", "name": "x", "phone": "13800001234"})),
            Some(&proxy),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "malformed_id_number");
    // Another proxy cannot confirm this request.
    let other = t.sign_in(OTHER, "赵六", "13900001111").await;
    let got = t
        .json(
            Method::POST,
            "/api/v1/me/dependants/confirm",
            Some(json!({"challenge": started["challenge"], "code": started["demo_code"]})),
            Some(&other),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "otp_challenge_unknown");
}
