use axum::http::{Method, StatusCode};
use mingma_core::{Colour, Jurisdiction};
use mingma_store::receipt::{check, Receipt};
use mingma_store::Store;
use mingma_token::code::{holder_of, mask_name};
use mingma_token::{CheckpointCode, IssuerKey, TrustList};
use serde_json::json;

use crate::support::{assert_error, issuer_key, pseudonym_key, TestApp, TRAVELLER};

#[tokio::test]
async fn a_holder_with_evidence_sees_reason_source_time_and_why() {
    let t = TestApp::new().await;
    let s = t.sign_in(TRAVELLER, "李四", "13800005678").await;
    let (status, code) = t.json(Method::GET, "/api/v1/me/code", None, Some(&s)).await;
    assert_eq!(status, StatusCode::OK, "{code}");
    assert_eq!(code["colour"], "red");
    assert_eq!(code["reason"], "正在实施集中或居家医学隔离观察的入境人员");
    let owners = code["assigned_by"].to_string();
    assert!(
        owners.contains("河南省卫生健康委员会") && owners.contains("郑州海关"),
        "{owners}"
    );
    assert_eq!(code["since"], "2022-06-10T10:00:00+08:00");
    assert_eq!(code["next_change"], "2022-06-17T10:00:00+08:00");
    assert_eq!(code["next_colour"], "yellow");
    let rules = code["rules"].as_array().unwrap();
    assert_eq!(rules[0]["rule"], "inbound-traveller");
    let evidence = rules[0]["evidence"].to_string();
    assert!(
        evidence.contains("qo-0610-001") && evidence.contains("第四十一条"),
        "{evidence}"
    );
    // English.
    let (_, en) = t
        .json(Method::GET, "/api/v1/me/code?lang=en", None, Some(&s))
        .await;
    assert!(
        en["reason"].as_str().unwrap().contains("quarantine"),
        "{en}"
    );
    // The signed code verifies: red, as of now.
    let (status, verified) = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"code": code["signed_code"]})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["colour"], "red");
    assert_eq!(verified["valid_as_of"], "2022-06-14T12:00:00+08:00");
    assert_eq!(verified["id_last_four"], "1017");
    assert_eq!(verified["masked_name"], "李*");
}

#[tokio::test]
async fn verify_refuses_expired_unknown_issuer_bad_signature_and_malformed() {
    let t = TestApp::new().await;
    let s = t.sign_in(TRAVELLER, "李四", "13800005678").await;
    let (_, code) = t.json(Method::GET, "/api/v1/me/code", None, Some(&s)).await;
    let token = code["signed_code"].as_str().unwrap().to_owned();
    // Another province's key the trust list does not hold.
    let other = IssuerKey::from_seed(Jurisdiction::parse("42").unwrap(), [42; 32]).unwrap();
    let id = mingma_core::NationalId::parse(TRAVELLER).unwrap();
    let statement = CheckpointCode {
        holder: holder_of(&t.app.person_key(&id)),
        masked_name: mask_name("李四"),
        id_last_four: "1017".into(),
        colour: Colour::Green,
        latest_test: None,
        issuer: other.province(),
        key_id: other.key_id(),
        issued_at: t.app.now(),
        expires_at: t.app.now().plus_seconds(300),
        rule_set: "mingma-default".into(),
        rule_set_version: "2026.1".into(),
        ledger_index: 1,
    };
    let foreign = statement.sign(&other).unwrap();
    let got = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"code": foreign})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "unknown_issuer");
    // A green statement under our key id, signed by another key: a forgery.
    let mut forged = statement.clone();
    forged.issuer = issuer_key().province();
    forged.key_id = issuer_key().key_id();
    let forged_key = IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [1; 32]).unwrap();
    let payload_sig = {
        // Our statement's bytes with the impostor's signature over them.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut relabelled = forged.clone();
        relabelled.key_id = forged_key.key_id();
        let theirs = b64
            .decode(&relabelled.sign(&forged_key).unwrap()[4..])
            .unwrap();
        let mut ours = b64
            .decode(&forged.sign(&issuer_key()).unwrap()[4..])
            .unwrap();
        let n = ours.len();
        ours[n - 64..].copy_from_slice(&theirs[theirs.len() - 64..]);
        format!("MC1.{}", b64.encode(ours))
    };
    let got = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"code": payload_sig})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_signature");
    let got = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"code": "MC1.garbage"})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "malformed");
    let got = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"token": token})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "malformed_json");
    // Expired: five minutes later.
    t.advance(301);
    let got = t
        .json(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"code": token})),
            None,
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "expired");
    // The trust list published is the one verification uses.
    let (status, _, text) = t
        .raw(
            Method::GET,
            "/.well-known/mingma/trust-list.json",
            None,
            None,
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = TrustList::from_json(&text).unwrap();
    assert!(list
        .find(issuer_key().province(), issuer_key().key_id())
        .is_some());
}

#[tokio::test]
async fn history_lists_records_and_code_changes_with_receipts_that_check() {
    let t = TestApp::new().await;
    let s = t.sign_in(TRAVELLER, "李四", "13800005678").await;
    t.json(Method::GET, "/api/v1/me/code", None, Some(&s)).await;
    // Before a checkpoint, receipts are not ready.
    let got = t
        .json(
            Method::GET,
            "/api/v1/me/receipts/records/be-0610-001",
            None,
            Some(&s),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "receipt_not_ready");
    t.app.sign_checkpoint().await.unwrap();
    let (status, history) = t
        .json(Method::GET, "/api/v1/me/history", None, Some(&s))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let items = history.as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"record") && kinds.contains(&"code_change"),
        "{history}"
    );
    assert!(items.iter().all(|i| i["covered"] == true), "{history}");
    let verifier = t.app.log_verifier();
    for item in items {
        let (status, _, text) = t
            .raw(
                Method::GET,
                item["receipt"].as_str().unwrap(),
                None,
                Some(&s),
                "",
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let receipt = Receipt::from_json(&text).unwrap();
        let proved = check(&receipt, Some((&verifier, "mingma.example/log"))).unwrap();
        assert!(proved.starts_with("valid:"), "{proved}");
    }
    // Another person's record is not in this holder's history.
    let got = t
        .json(
            Method::GET,
            "/api/v1/me/receipts/records/be-manual-0613",
            None,
            Some(&s),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "receipt_not_found");
    let got = t
        .json(
            Method::GET,
            "/api/v1/me/receipts/code-changes/x/1",
            None,
            Some(&s),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "malformed_position");
}

#[tokio::test]
async fn openapi_health_and_metrics() {
    let t = TestApp::new().await;
    let (status, doc) = t
        .json(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/verify",
        "/api/v1/checkins",
        "/api/v1/me/code",
        "/api/v1/signin",
        "/api/v1/venues",
        "/api/v1/official/signin",
        "/api/v1/official/records/draft",
        "/api/v1/official/drafts/{id}/seal",
        "/api/v1/official/trace",
        "/api/v1/official/approvals",
        "/api/v1/official/quarantine",
        "/api/v1/official/acts/draft",
        "/api/v1/official/consents/{reference}",
        "/api/v1/official/consents/{reference}/draft",
        "/api/v1/me/dependants/in-person",
        "/api/v1/evidence",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    for schema in [
        "InPersonJson",
        "InPersonView",
        "WitnessBody",
        "InPersonRequestBody",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema} missing from the OpenAPI document"
        );
    }
    let venue = &doc["components"]["schemas"]["VenueJson"];
    for field in ["poster_url", "poster_svg", "poster_png"] {
        assert!(
            venue["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == field)),
            "{field} missing from VenueJson: {venue}"
        );
    }
    let (status, _, body) = t.raw(Method::GET, "/healthz", None, None, "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let got = t
        .json(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    let (status, _, html) = t.raw(Method::GET, "/nothing-here", None, None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not_found"), "{html}");
    let metrics = t.app.metrics.render();
    assert!(
        metrics.contains("route=\"/healthz\",status=\"200\""),
        "{metrics}"
    );
}

async fn shown_code(t: &TestApp, session: &str) -> serde_json::Value {
    let (status, code) = t
        .json(Method::GET, "/api/v1/me/code", None, Some(session))
        .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    code
}

/// The code shown until its signed code differs from `before`'s, asked every 20 ms
/// for at most 2 s (while the service checks it again off the request).
async fn shown_code_renewed(
    t: &TestApp,
    session: &str,
    before: &serde_json::Value,
) -> serde_json::Value {
    for _ in 0..100 {
        let code = shown_code(t, session).await;
        if code["signed_code"] != before["signed_code"] {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the shown code was not renewed: {before}");
}

/// A shown code is reused (the same signed code) for `code_cache_seconds`; then it
/// is shown while it is derived or signed anew off the request, and the new one
/// follows.
#[tokio::test]
async fn a_shown_code_is_reused_for_a_while_then_derived_again() {
    let t = TestApp::new().await;
    let session = t.sign_in(TRAVELLER, "李四", "13800000001").await;
    let first = shown_code(&t, &session).await;
    t.advance(5);
    let again = shown_code(&t, &session).await;
    assert_eq!(first["signed_code"], again["signed_code"]);
    assert_eq!(first["issued_at"], again["issued_at"]);
    t.advance(t.app.config.code_cache_seconds);
    let later = shown_code_renewed(&t, &session, &first).await;
    assert_ne!(first["issued_at"], later["issued_at"]);
    assert_eq!(later["colour"], "red");
}

/// A kept code view is derived again ahead of its end, off the request that notices:
/// that request is answered with the kept view, a later one with the new view,
/// before the kept one would have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_code_view_is_derived_again_ahead_of_its_end() {
    let t = TestApp::new().await;
    let s = t.sign_in("410105200001010017", "赵六", "13900001111").await;
    async fn code(t: &TestApp, s: &str) -> serde_json::Value {
        let (status, code) = t.json(Method::GET, "/api/v1/me/code", None, Some(s)).await;
        assert_eq!(status, StatusCode::OK, "{code}");
        code
    }
    let first = code(&t, &s).await;
    assert_eq!(first["colour"], "green");
    // 25 s on (of 30), the kept view is served, and derived again in the background.
    t.advance(25);
    let kept = code(&t, &s).await;
    assert_eq!(kept["signed_code"], first["signed_code"]);
    let mut renewed = kept.clone();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        renewed = code(&t, &s).await;
        if renewed["signed_code"] != first["signed_code"] {
            break;
        }
    }
    assert_ne!(
        renewed["signed_code"], first["signed_code"],
        "a new view before the kept one ended"
    );
    assert_eq!(renewed["issued_at"], "2022-06-14T12:00:25+08:00");
}

/// A code view whose time is up is shown again without reading the evidence when
/// nothing its derivation reads was appended since — signed anew, the same code —
/// and derived from the evidence when something was: here a lab's positive result
/// appended straight to the store, past this service, which shows within twice
/// `code_cache_seconds` even if nobody looked in between.
#[tokio::test]
async fn a_view_is_shown_again_until_evidence_appended_past_the_service_shows() {
    let t = TestApp::new().await;
    let id = "410105200001010017";
    let s = t.sign_in(id, "赵六", "13900001111").await;
    let cache = t.app.config.code_cache_seconds;
    let views = |how| t.app.metrics.event_count("code_views", how);
    let first = shown_code(&t, &s).await;
    assert_eq!(first["colour"], "green");
    assert_eq!((views("derived"), views("again")), (1, 0));
    // Nothing new: shown again, signed anew.
    t.advance(cache);
    let again = shown_code_renewed(&t, &s, &first).await;
    assert_eq!(again["colour"], "green");
    assert_eq!(again["issued_at"], "2022-06-14T12:00:30+08:00");
    assert_eq!((views("derived"), views("again")), (1, 1));
    // A lab's positive result about them, appended by someone else.
    append_positive_past_the_service(&t, id, "2022-06-14T12:00:40+08:00").await;
    // Kept while its time lasts; once it has ended more than `cache` ago, the first
    // display is derived from the evidence: red.
    t.advance(10);
    assert_eq!(shown_code(&t, &s).await["colour"], "green");
    t.advance(2 * cache);
    let red = shown_code(&t, &s).await;
    assert_eq!(red["colour"], "red", "{red}");
    assert_eq!((views("derived"), views("again")), (2, 1));
}

/// Appends a lab's sealed positive result about `id`, effective `at`, straight to
/// the store: past this service, as another process would.
async fn append_positive_past_the_service(t: &TestApp, id: &str, at: &str) {
    let file = mingma_core::read_evidence_file(crate::support::EXAMPLE, &pseudonym_key()).unwrap();
    let founding = crate::support::example_founding(&file.directory);
    let mut positive = file
        .records
        .iter()
        .find(|r| r.id.as_str() == "tr-0601-001")
        .expect("the example's positive test")
        .clone();
    positive.id = mingma_core::RecordId::parse(&format!("tr-{id}")).unwrap();
    positive.subject =
        Some(pseudonym_key().person_key(&mingma_core::NationalId::parse(id).unwrap()));
    positive.effective_at = crate::support::ts(at);
    positive.recorded_at = positive.effective_at;
    if let mingma_core::EvidenceBody::TestResult { sampled_at, .. } = &mut positive.body {
        *sampled_at = crate::support::ts("2022-06-14T08:00:00+08:00");
    }
    t.app
        .store
        .append(vec![founding.seal(positive)])
        .await
        .unwrap();
}

/// While the server follows the ledger, a kept view whose time is up is shown
/// again without asking the store about its holder, and evidence appended past the
/// service shows at the first display after the follower's next read — not a
/// view's time later. Something concerning everyone (a risk area declared) sends
/// kept views to the store again.
#[tokio::test]
async fn a_followed_ledger_vouches_for_kept_views_and_shows_new_evidence_at_once() {
    let t = TestApp::new().await;
    let (zhao, qian) = ("410105200001010017", "410105199001010011");
    let s_zhao = t.sign_in(zhao, "赵六", "13900001111").await;
    let s_qian = t.sign_in(qian, "钱七", "13900002222").await;
    let cache = t.app.config.code_cache_seconds;
    let checks = |how| t.app.metrics.event_count("code_view_checks", how);
    t.app.follow_ledger_once().await.expect("following begins");
    let first = shown_code(&t, &s_zhao).await;
    assert_eq!(first["colour"], "green");
    assert_eq!(shown_code(&t, &s_qian).await["colour"], "green");

    // Nothing new: while the follower vouches for it, the view is shown as it is
    // past its own time, until half its signed code's validity is used; then it is
    // decided and signed anew, without asking the store.
    t.app.follow_ledger_once().await.expect("a read");
    t.advance(cache);
    let kept = shown_code(&t, &s_zhao).await;
    assert_eq!(
        kept["signed_code"], first["signed_code"],
        "kept while vouched for"
    );
    // A positive result about 钱七 appended past the service: red at the first
    // display after the next read, with no time passing.
    append_positive_past_the_service(&t, qian, "2022-06-14T12:00:20+08:00").await;
    assert_eq!(
        shown_code(&t, &s_qian).await["colour"],
        "green",
        "not read yet"
    );
    t.app.follow_ledger_once().await.expect("a read");
    let red = shown_code(&t, &s_qian).await;
    assert_eq!(red["colour"], "red", "{red}");

    let half = t.app.config.code_validity_seconds / 2;
    t.advance(half - cache);
    t.app.follow_ledger_once().await.expect("a read");
    let again = shown_code_renewed(&t, &s_zhao, &first).await;
    assert_eq!(again["colour"], "green");
    assert_eq!((checks("followed"), checks("store")), (1, 0));

    // A declaration concerns everyone: 赵六's next view is checked with the store.
    let founding_file =
        mingma_core::read_evidence_file(crate::support::EXAMPLE, &pseudonym_key()).unwrap();
    let area = founding_file
        .records
        .iter()
        .find(|r| r.kind() == mingma_core::EvidenceKind::RiskArea)
        .expect("the example declares a risk area")
        .clone();
    let founding = crate::support::example_founding(&founding_file.directory);
    let mut area = area;
    area.id = mingma_core::RecordId::parse("ra-followed").unwrap();
    t.app.store.append(vec![founding.seal(area)]).await.unwrap();
    t.app.follow_ledger_once().await.expect("a read");
    t.advance(cache);
    let checked = shown_code_renewed(&t, &s_zhao, &again).await;
    assert_eq!(checked["colour"], "green");
    assert_eq!((checks("followed"), checks("store")), (1, 1));
}
