//! A dependant's consent by an in-person check recorded by a community official:
//! the proxy's request, the health official's lookup and sealed act (checked at the
//! dependant's street), the link with consent `in_person` and the act's leaf; and
//! every refusal (wrong role, outside the jurisdiction, unknown or lapsed request,
//! an ID card that is not the dependant's, a bad seal) records nothing.

use axum::http::{Method, StatusCode};
use mingma_authority::Act;
use mingma_store::Store as _;
use serde_json::{json, Value};

use crate::authority::{id_number, key, person, province, seal_text, Province};

const PROXY: &str = "410105200001010017";

/// The dependant: an elderly woman of Zhengzhou without a phone.
fn dependant() -> String {
    id_number("41010519450715002")
}

/// The proxy asks; the request's reference.
async fn ask(p: &Province, proxy: &str) -> String {
    let (status, request) = p
        .call(
            Method::POST,
            "/api/v1/me/dependants/in-person",
            Some(json!({"id_number": dependant(), "name": "王秀英"})),
            Some(proxy),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["masked_name"], "王**");
    assert_eq!(request["id_last_four"], &dependant()[14..]);
    request["reference"].as_str().unwrap().to_owned()
}

async fn draft(
    p: &Province,
    official: &str,
    reference: &str,
    id: &str,
    street: &str,
) -> (StatusCode, Value) {
    p.call(
        Method::POST,
        &format!("/api/v1/official/consents/{reference}/draft"),
        Some(json!({"id_number": id, "street": street})),
        Some(official),
    )
    .await
}

async fn seal(p: &Province, official: &str, draft: &Value, seed: u8) -> (StatusCode, Value) {
    let seal = seal_text(draft["message"].as_str().unwrap(), &key(seed));
    p.call(
        Method::POST,
        &format!(
            "/api/v1/official/drafts/{}/seal",
            draft["draft"].as_str().unwrap()
        ),
        Some(json!({ "seal": seal })),
        Some(official),
    )
    .await
}

fn refused(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn dependants(p: &Province, proxy: &str) -> Value {
    let (status, list) = p
        .call(Method::GET, "/api/v1/me/dependants", None, Some(proxy))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_official_witnesses_a_dependants_consent_in_person() {
    let p = province().await;
    let proxy = p.holder(PROXY, "赵六", "13900001111").await;
    let reference = ask(&p, &proxy).await;
    assert!(
        reference.len() == 11 && reference.as_bytes()[5] == b'-',
        "{reference}"
    );
    let (_, open) = p
        .call(
            Method::GET,
            "/api/v1/me/dependants/in-person",
            None,
            Some(&proxy),
        )
        .await;
    assert_eq!(open[0]["reference"], reference.as_str());
    assert_eq!(dependants(&p, &proxy).await, json!([]), "not linked yet");

    // The official of Zhengzhou looks it up (typed in lower case, without the dash).
    let official = p.sign_in("zz-a").await;
    let typed = reference.replace('-', "").to_lowercase();
    let (status, view) = p
        .call(
            Method::GET,
            &format!("/api/v1/official/consents/{typed}"),
            None,
            Some(&official),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["reference"], reference.as_str());
    assert_eq!(view["masked_name"], "王**");
    assert_eq!(view["proxy_masked_name"], "赵*");
    assert_eq!(view["id_last_four"], &dependant()[14..]);

    // Having checked the ID card: the act is drafted, sealed in the official's
    // browser (here: with their key), appended, and the dependant linked.
    let before = p.app.store.ledger_size().await.unwrap();
    let (status, drafted) = draft(&p, &official, &typed, &dependant(), "410105001").await;
    assert_eq!(status, StatusCode::OK, "{drafted}");
    assert_eq!(drafted["kind"], "act");
    assert_eq!(
        p.app.store.ledger_size().await.unwrap(),
        before,
        "a draft records nothing"
    );
    let (status, sealed) = seal(&p, &official, &drafted, 11).await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    assert_eq!(sealed["outcome"], "act");
    assert_eq!(sealed["consent"]["masked_name"], "王**");
    let leaf = sealed["leaf"].as_u64().unwrap();
    assert_eq!(leaf, before);

    // The leaf is the official's act at the street; it names no person.
    let acts = p.app.store.acts(leaf).await.unwrap();
    let (at, bytes) = acts.into_iter().next().expect("the act's leaf");
    assert_eq!(at, leaf);
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        dependant(),
        person(&dependant()).to_string(),
        person(PROXY).to_string(),
        "王秀英".to_owned(),
    ] {
        assert!(!text.contains(&secret), "{text}");
    }
    let registry = p.app.engine.registry().await.unwrap();
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    let witnessed = &registry.witnessed_consents[0];
    assert_eq!(
        (
            witnessed.leaf,
            witnessed.by.as_str(),
            witnessed.street.to_string()
        ),
        (leaf, "zz-a", "410105001".to_owned())
    );
    let act = mingma_authority::SignedAct::from_bytes(&bytes).unwrap();
    assert!(matches!(act.body.act, Act::WitnessConsent { .. }));

    // The proxy sees the dependant, how they consented, and their code.
    let list = dependants(&p, &proxy).await;
    assert_eq!(list[0]["consent"], "in_person", "{list}");
    assert_eq!(list[0]["consent_leaf"], leaf);
    assert_eq!(list[0]["masked_name"], "王**");
    let key = list[0]["key"].as_str().unwrap();
    assert_eq!(key, person(&dependant()).to_string());
    let (status, code) = p
        .call(
            Method::GET,
            &format!("/api/v1/me/dependants/{key}/code"),
            None,
            Some(&proxy),
        )
        .await;
    assert_eq!(
        (status, &code["colour"]),
        (StatusCode::OK, &json!("green")),
        "{code}"
    );
    // The request is closed; asking again for a linked dependant is refused.
    let got = p
        .call(
            Method::GET,
            &format!("/api/v1/official/consents/{reference}"),
            None,
            Some(&official),
        )
        .await;
    refused(&got, StatusCode::NOT_FOUND, "consent_request_unknown");
    let got = p
        .call(
            Method::POST,
            "/api/v1/me/dependants/in-person",
            Some(json!({"id_number": dependant(), "name": "王秀英"})),
            Some(&proxy),
        )
        .await;
    refused(&got, StatusCode::CONFLICT, "dependant_linked");
    let (_, open) = p
        .call(
            Method::GET,
            "/api/v1/me/dependants/in-person",
            None,
            Some(&proxy),
        )
        .await;
    assert_eq!(open, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_checks_record_nothing() {
    let p = province().await;
    let proxy = p.holder(PROXY, "赵六", "13900001111").await;
    let reference = ask(&p, &proxy).await;
    let size = p.app.store.ledger_size().await.unwrap();
    let (zz_a, zz_t, kf_x) = (
        p.sign_in("zz-a").await,
        p.sign_in("zz-t").await,
        p.sign_in("kf-x").await,
    );
    let id = dependant();

    // A tracing team member is no health official: refused before anything else.
    let got = draft(&p, &zz_t, &reference, &id, "410105001").await;
    refused(&got, StatusCode::FORBIDDEN, "not_permitted");
    let got = p
        .call(
            Method::GET,
            &format!("/api/v1/official/consents/{reference}"),
            None,
            Some(&zz_t),
        )
        .await;
    refused(&got, StatusCode::FORBIDDEN, "not_permitted");
    // Kaifeng's official at a Zhengzhou street; Zhengzhou's at a Kaifeng street.
    let got = draft(&p, &kf_x, &reference, &id, "410105001").await;
    refused(&got, StatusCode::FORBIDDEN, "outside_jurisdiction");
    let got = draft(&p, &zz_a, &reference, &id, "410202001").await;
    refused(&got, StatusCode::FORBIDDEN, "outside_jurisdiction");
    // Not a street.
    for street in ["410105", "4101", "street"] {
        let got = draft(&p, &zz_a, &reference, &id, street).await;
        refused(&got, StatusCode::BAD_REQUEST, "malformed_street");
    }
    // Unknown and malformed references.
    let got = draft(&p, &zz_a, "ZZZZZ-ZZZZZ", &id, "410105001").await;
    refused(&got, StatusCode::NOT_FOUND, "consent_request_unknown");
    let got = draft(&p, &zz_a, "nope", &id, "410105001").await;
    refused(&got, StatusCode::BAD_REQUEST, "malformed_reference");
    // An ID card that is not the dependant's, and a malformed number.
    let got = draft(
        &p,
        &zz_a,
        &reference,
        &id_number("41010519450715003"),
        "410105001",
    )
    .await;
    refused(&got, StatusCode::UNPROCESSABLE_ENTITY, "id_card_mismatch");
    let got = draft(&p, &zz_a, &reference, "41010519450715002", "410105001").await;
    refused(&got, StatusCode::BAD_REQUEST, "malformed_id_number");
    // A witness act is not an admin's act to draft.
    let got = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(json!({"act": "witness_consent", "request": reference.replace('-', ""), "street": "410105001", "link": "00".repeat(32)})),
            Some(&zz_a),
        )
        .await;
    refused(&got, StatusCode::BAD_REQUEST, "not_drafted_here");
    // A bad seal: another official's key. Nothing appended, nothing linked, the
    // request still open.
    let (status, drafted) = draft(&p, &zz_a, &reference, &id, "410105001").await;
    assert_eq!(status, StatusCode::OK, "{drafted}");
    let got = seal(&p, &zz_a, &drafted, 12).await;
    refused(&got, StatusCode::BAD_REQUEST, "bad_seal");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
    assert_eq!(dependants(&p, &proxy).await, json!([]));
    assert!(p
        .app
        .engine
        .registry()
        .await
        .unwrap()
        .witnessed_consents
        .is_empty());

    // A lapsed request (three days): refused, and no longer the proxy's to show.
    p.set("2022-06-13T09:00:01+08:00");
    let zz_a = p.sign_in("zz-a").await;
    let got = draft(&p, &zz_a, &reference, &id, "410105001").await;
    refused(&got, StatusCode::GONE, "consent_request_expired");
    let got = p
        .call(
            Method::GET,
            &format!("/api/v1/official/consents/{reference}"),
            None,
            Some(&zz_a),
        )
        .await;
    refused(&got, StatusCode::GONE, "consent_request_expired");
    let (_, open) = p
        .call(
            Method::GET,
            "/api/v1/me/dependants/in-person",
            None,
            Some(&proxy),
        )
        .await;
    assert_eq!(open, json!([]));
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
    assert_eq!(dependants(&p, &proxy).await, json!([]));

    // A new request, a fresh draft sealed with the right key: recorded.
    let reference = ask(&p, &proxy).await;
    let (status, drafted) = draft(&p, &zz_a, &reference, &id, "410105001").await;
    assert_eq!(status, StatusCode::OK, "{drafted}");
    let (status, sealed) = seal(&p, &zz_a, &drafted, 11).await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size + 1);
    assert_eq!(dependants(&p, &proxy).await[0]["consent"], "in_person");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_ask_with_checked_input_and_a_limit() {
    let p = province().await;
    let proxy = p.holder(PROXY, "赵六", "13900001111").await;
    let ask_for = |id: String, name: &'static str| {
        let p = &p;
        let proxy = proxy.clone();
        async move {
            p.call(
                Method::POST,
                "/api/v1/me/dependants/in-person",
                Some(json!({"id_number": id, "name": name})),
                Some(&proxy),
            )
            .await
        }
    };
    refused(
        &ask_for(PROXY.into(), "赵六").await,
        StatusCode::BAD_REQUEST,
        "dependant_is_self",
    );
    refused(
        &ask_for("4101051945071500".into(), "王秀英").await,
        StatusCode::BAD_REQUEST,
        "malformed_id_number",
    );
    refused(
        &ask_for(dependant(), "").await,
        StatusCode::BAD_REQUEST,
        "malformed_name",
    );
    let got = p
        .call(
            Method::POST,
            "/api/v1/me/dependants/in-person",
            Some(json!({"id_number": dependant(), "name": "王秀英"})),
            None,
        )
        .await;
    assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{}", got.1);
    // At most three open requests at once.
    for tail in ["02", "03", "04"] {
        let (status, body) = ask_for(id_number(&format!("410105194507150{tail}")), "王秀英").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    refused(
        &ask_for(dependant(), "王秀英").await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    );
}

/// A page request as a holder (bearer session), optionally posting a form.
async fn holder_page(
    p: &Province,
    method: Method,
    path: &str,
    session: &str,
    form: Option<String>,
) -> (StatusCode, String) {
    use axum::body::{to_bytes, Body};
    use axum::http::{header, Request};
    use tower::ServiceExt as _;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {session}"));
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let req = req.body(form.map_or_else(Body::empty, Body::from)).unwrap();
    let response = p.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dependants_page_offers_both_ways_and_shows_which_one_was_used() {
    let p = province().await;
    let proxy = p.holder(PROXY, "赵六", "13900001111").await;
    let (status, html) = holder_page(&p, Method::GET, "/dependants", &proxy, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("方式一：验证码发送到家人手机")
            && html.contains("方式二：社区工作人员现场核验"),
        "{html}"
    );
    // The in-person form: a request whose reference the page shows.
    let form = format!("id_number={}&name=%E7%8E%8B%E7%A7%80%E8%8B%B1", dependant());
    let (status, _) = holder_page(
        &p,
        Method::POST,
        "/dependants/in-person",
        &proxy,
        Some(form),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, open) = p
        .call(
            Method::GET,
            "/api/v1/me/dependants/in-person",
            None,
            Some(&proxy),
        )
        .await;
    let reference = open[0]["reference"].as_str().unwrap().to_owned();
    let (_, html) = holder_page(&p, Method::GET, "/dependants", &proxy, None).await;
    assert!(
        html.contains("等待现场核验") && html.contains(&reference),
        "{html}"
    );
    // Bad input: the page again, with the refusal under the in-person form.
    let (status, html) = holder_page(
        &p,
        Method::POST,
        "/dependants/in-person",
        &proxy,
        Some(format!("id_number={PROXY}&name=x")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("id=\"in-person-error\""), "{html}");
    // Witnessed: the list says how, with the act's leaf.
    let official = p.sign_in("zz-a").await;
    let (_, drafted) = draft(&p, &official, &reference, &dependant(), "410105001").await;
    let (status, sealed) = seal(&p, &official, &drafted, 11).await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let (_, html) = holder_page(&p, Method::GET, "/dependants", &proxy, None).await;
    let leaf = sealed["leaf"].as_u64().unwrap();
    assert!(
        html.contains(&format!("社区工作人员现场核验（账本第 {leaf} 条）")),
        "{html}"
    );
    assert!(!html.contains("等待现场核验"), "{html}");
}
