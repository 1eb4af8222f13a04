//! The officials' console: every page needs an official's session (redirects to the
//! console's sign-in otherwise) and renders in Chinese and English; the approvals
//! page offers no decision on one's own records; keys enrolled from a browser are
//! registered by an admin's act drafted by the service and sealed by the admin.

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use mingma_authority::act::key_hex;
use mingma_core::OfficialId;
use mingma_server::officials::hash_password;
use mingma_store::Store as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::authority::{id_number, key, province, seal_text, Province, PASSWORD};

const PAGES: [(&str, &str, &str); 8] = [
    ("/console", "所属机构", "Authority"),
    ("/console/key", "导入密钥文件", "Import a key file"),
    (
        "/console/records",
        "密切接触者判定",
        "close-contact designation",
    ),
    (
        "/console/approvals",
        "待复核记录",
        "Records waiting for approval",
    ),
    ("/console/trace", "流调查询", "Contact tracing"),
    (
        "/console/quarantine",
        "在隔离人员",
        "People under quarantine",
    ),
    (
        "/console/admin",
        "登记工作人员公钥",
        "register officials' keys",
    ),
    (
        "/console/consents",
        "现场核验家人代办同意",
        "Witness a dependant's consent in person",
    ),
];

/// A request with the console's cookie (and optionally the `lang` cookie).
async fn page(
    p: &Province,
    method: Method,
    path: &str,
    session: Option<&str>,
    form: Option<String>,
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("mingma_official={s}"));
    }
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let req = req.body(form.map_or_else(Body::empty, Body::from)).unwrap();
    let response = p.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn console_sign_in(p: &Province, official: &str) -> String {
    let form = format!(
        "official={official}&password={}&next=%2Fconsole%2Fapprovals",
        PASSWORD.replace(' ', "+")
    );
    let (status, headers, body) = page(p, Method::POST, "/console/signin", None, Some(form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers["location"], "/console/approvals");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie
        .trim_start_matches("mingma_official=")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_need_an_official_and_render_in_both_languages() {
    let p = province().await;
    for (path, _, _) in PAGES {
        let (status, headers, _) = page(&p, Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            headers["location"].to_str().unwrap(),
            format!("/console/signin?next={path}"),
        );
        // A holder's session or a made-up token is no official's.
        let (status, _, _) = page(&p, Method::GET, path, Some("not-a-token"), None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
    }

    let (status, _, html) = page(&p, Method::GET, "/console/signin", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("工作人员登录") && html.contains("lang=\"zh-CN\""),
        "{html}"
    );
    let (_, _, html) = page(&p, Method::GET, "/console/signin?lang=en", None, None).await;
    assert!(
        html.contains("Official sign-in") && html.contains("lang=\"en\""),
        "{html}"
    );

    // A wrong password: the form again, with the refusal in the page's language.
    let (status, _, html) = page(
        &p,
        Method::POST,
        "/console/signin",
        None,
        Some("official=zz-a&password=wrong-password-1".into()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        html.contains("工作人员编号或密码错误") && html.contains("bad_credentials"),
        "{html}"
    );
    // `next` never leaves the console.
    let (_, headers, _) = page(
        &p,
        Method::POST,
        "/console/signin",
        None,
        Some(format!(
            "official=zz-a&password={}&next=%2F%2Fevil.example",
            PASSWORD.replace(' ', "+")
        )),
    )
    .await;
    assert_eq!(headers["location"], "/console");

    let admin = OfficialId::parse("hn-admin-1").unwrap();
    p.app
        .accounts
        .set_official_password(&admin, hash_password(PASSWORD).unwrap())
        .await
        .unwrap();
    let session = console_sign_in(&p, "hn-admin-1").await;
    for (path, zh, en) in PAGES {
        let (status, _, html) = page(&p, Method::GET, path, Some(&session), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(
            html.contains("lang=\"zh-CN\"") && html.contains(zh),
            "{path} in Chinese: {html}"
        );
        assert!(html.contains("/console/console.js") && html.contains("id=\"console-i18n\""));
        assert!(html.contains("hn-admin-1"), "{path} names who is signed in");
        let (status, _, html) = page(
            &p,
            Method::GET,
            &format!("{path}?lang=en"),
            Some(&session),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}?lang=en");
        assert!(
            html.contains("lang=\"en\"") && html.contains(en),
            "{path} in English: {html}"
        );
        assert!(
            html.contains("You cannot approve or reject your own record"),
            "refusals in English"
        );
    }
    // The home page: authority, grants, keys.
    let (_, _, html) = page(&p, Method::GET, "/console", Some(&session), None).await;
    assert!(
        html.contains("河南省卫生健康委员会")
            && html.contains("系统管理员")
            && html.contains("browser-key"),
        "{html}"
    );
    // The records page asks for the legal basis where the kind needs it.
    let (_, _, html) = page(&p, Method::GET, "/console/records", Some(&session), None).await;
    for kind in ["close_contact", "quarantine_order", "risk_area"] {
        assert!(
            html.contains(&format!(
                "id=\"{kind}-legal_basis\" name=\"legal_basis\" required"
            )),
            "{kind}: {html}"
        );
    }
    assert!(html.contains("id=\"test_result-legal_basis\" name=\"legal_basis\" placeholder"));
    for kind in [
        "test_result",
        "case_report",
        "quarantine_release",
        "retraction",
    ] {
        assert!(html.contains(&format!("data-kind=\"{kind}\"")), "{kind}");
    }

    // The script is served by the app, and signs in the page.
    let (status, headers, js) = page(&p, Method::GET, "/console/console.js", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("crypto.subtle.sign") && js.contains("'pkcs8'"));

    // A non-admin sees the admin page's notice, and no admin link.
    let a = console_sign_in(&p, "zz-a").await;
    let (status, _, html) = page(&p, Method::GET, "/console/admin", Some(&a), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("not-admin"), "{html}");
    let (_, _, html) = page(&p, Method::GET, "/console", Some(&a), None).await;
    assert!(!html.contains("href=\"/console/admin\""), "{html}");

    // Signing out ends the session.
    let (status, headers, _) = page(&p, Method::POST, "/console/signout", Some(&a), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _, _) = page(&p, Method::GET, "/console", Some(&a), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // A data source's token has no console.
    let lab = p.lab_token().await;
    let (status, _, html) = page(&p, Method::GET, "/console", Some(&lab), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("not_an_official"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approvals_page_offers_no_decision_on_ones_own_record() {
    let p = province().await;
    let a = p.sign_in("zz-a").await;
    let b = p.sign_in("zz-b").await;
    let case = id_number("41010219800101001");
    let (status, body) = p
        .record(
            &a,
            &key(11),
            json!({"type": "case_report", "id": "c-1", "subject": case,
                   "classification": "confirmed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = |html: &str| {
        let at = html.find("data-record=\"c-1\"").expect("c-1 is listed");
        let end = html[at..].find("</li>").unwrap();
        html[at..at + end].to_owned()
    };
    let (_, _, html) = page(&p, Method::GET, "/console/approvals", Some(&a), None).await;
    let own = item(&html);
    assert!(
        own.contains("data-own=\"true\"") && own.contains("own-note"),
        "{own}"
    );
    assert!(
        !own.contains("class=\"approve\""),
        "no approve button on one's own record"
    );
    assert!(own.contains("confirmed"), "the record's detail: {own}");
    let (_, _, html) = page(
        &p,
        Method::GET,
        "/console/approvals?lang=en",
        Some(&b),
        None,
    )
    .await;
    let theirs = item(&html);
    assert!(
        theirs.contains("class=\"approve\"") && theirs.contains("Approve"),
        "{theirs}"
    );
    assert!(theirs.contains("class=\"reject\""), "{theirs}");

    // Through the API, too, zz-a cannot approve it.
    let (status, body) = p
        .record(&a, &key(11), json!({"type": "approval", "target": "c-1"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("self_approval"))
    );

    let (status, body) = p
        .record(&b, &key(12), json!({"type": "approval", "target": "c-1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, html) = page(&p, Method::GET, "/console/approvals", Some(&b), None).await;
    assert!(html.contains("no-pending"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_key_is_enrolled_and_registered_by_an_admins_sealed_act() {
    let p = province().await;
    let a = p.sign_in("zz-a").await;
    let b = p.sign_in("zz-b").await;
    let admin_id = OfficialId::parse("hn-admin-1").unwrap();
    p.app
        .accounts
        .set_official_password(&admin_id, hash_password(PASSWORD).unwrap())
        .await
        .unwrap();
    let admin = p.sign_in("hn-admin-1").await;
    let new_key = SigningKey::from_bytes(&[21; 32]);
    let public = key_hex(&new_key.verifying_key());

    // Enrolment: checked, once per key.
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/keys/enrol",
            Some(json!({"public_key": "zz"})),
            Some(&a),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_key"))
    );
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/keys/enrol",
            Some(json!({"public_key": key_hex(&key(11).verifying_key())})),
            Some(&a),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("key_registered"))
    );
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/keys/enrol",
            Some(json!({"public_key": public})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key_id = body["key_id"].as_str().unwrap().to_owned();
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/keys/enrol",
            Some(json!({"public_key": public})),
            Some(&b),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("key_enrolled"))
    );
    let (_, me) = p
        .call(Method::GET, "/api/v1/official/me", None, Some(&a))
        .await;
    assert_eq!(me["enrolled"][0]["key_id"], key_id.as_str(), "{me}");
    let (_, _, html) = page(&p, Method::GET, "/console/key", Some(&a), None).await;
    assert!(
        html.contains(&key_id),
        "the key page lists the pending enrolment"
    );

    // Only an admin lists and registers enrolments.
    let (status, body) = p
        .call(
            Method::GET,
            "/api/v1/official/keys/enrolments",
            None,
            Some(&b),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_permitted"))
    );
    let register = json!({"act": "register_key", "official": "zz-a", "key": public});
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(register.clone()),
            Some(&b),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_permitted")),
        "{body}"
    );
    let (status, body) = p
        .call(
            Method::GET,
            "/api/v1/official/keys/enrolments",
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["public_key"], public.as_str());
    let admin_page_session = {
        let form = format!(
            "official=hn-admin-1&password={}",
            PASSWORD.replace(' ', "+")
        );
        let (_, headers, _) = page(&p, Method::POST, "/console/signin", None, Some(form)).await;
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .trim_start_matches("mingma_official=")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let (_, _, html) = page(
        &p,
        Method::GET,
        "/console/admin",
        Some(&admin_page_session),
        None,
    )
    .await;
    assert!(
        html.contains(&format!("data-key=\"{public}\"")) && html.contains("class=\"register\""),
        "{html}"
    );

    // What is not drafted here, or not an act.
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(json!({"act": "tracing_query", "case": "c-1", "margin_minutes": 30})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_drafted_here"))
    );
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(json!({"act": "set_colour"})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_act"))
    );
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(json!({"act": "register_key", "official": "nobody", "key": public})),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("act_refused")),
        "{body}"
    );

    // Sealed with the wrong key: refused, nothing appended.
    let size = p.app.store.ledger_size().await.unwrap();
    let (status, draft) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(register.clone()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["kind"], "act");
    let seal = seal_text(draft["message"].as_str().unwrap(), &key(2));
    let (status, body) = p
        .call(
            Method::POST,
            &format!(
                "/api/v1/official/drafts/{}/seal",
                draft["draft"].as_str().unwrap()
            ),
            Some(json!({ "seal": seal })),
            Some(&admin),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_seal")),
        "{body}"
    );
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // Sealed by the admin's own key: registered; the enrolment is no longer listed,
    // and records the new key signs count.
    let (_, draft) = p
        .call(
            Method::POST,
            "/api/v1/official/acts/draft",
            Some(register),
            Some(&admin),
        )
        .await;
    let seal = seal_text(draft["message"].as_str().unwrap(), &key(1));
    let (status, body) = p
        .call(
            Method::POST,
            &format!(
                "/api/v1/official/drafts/{}/seal",
                draft["draft"].as_str().unwrap()
            ),
            Some(json!({ "seal": seal })),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "act");
    let (_, body) = p
        .call(
            Method::GET,
            "/api/v1/official/keys/enrolments",
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(body, json!([]));
    let (_, me) = p
        .call(Method::GET, "/api/v1/official/me", None, Some(&a))
        .await;
    assert!(
        me["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == key_id.as_str()),
        "{me}"
    );
    assert_eq!(me["enrolled"], json!([]));
    p.set("2022-06-10T09:05:00+08:00");
    let (status, body) = p
        .record(
            &a,
            &new_key,
            json!({"type": "test_result", "subject": id_number("41010219900202002"),
                   "method": "nucleic_acid", "outcome": "negative",
                   "sampled_at": "2022-06-10T08:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _: Value = body;
}
