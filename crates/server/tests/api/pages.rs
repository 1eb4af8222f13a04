use axum::http::{Method, StatusCode};

use crate::support::{TestApp, TRAVELLER};

#[tokio::test]
async fn pages_redirect_to_sign_in_and_show_the_code_in_both_languages() {
    let t = TestApp::new().await;
    let (status, headers, _) = t.raw(Method::GET, "/code", None, None, "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/signin?next=/code");
    let (status, _, html) = t.raw(Method::GET, "/signin", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("身份证号") && html.contains("lang=\"zh-CN\""),
        "{html}"
    );
    // Sign in through the forms.
    let form =
        format!("id_number={TRAVELLER}&name=%E6%9D%8E%E5%9B%9B&phone=13800005678&next=%2Fcode");
    let (status, _, html) = t
        .raw(
            Method::POST,
            "/signin",
            Some(form),
            None,
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let grab = |html: &str, marker: &str| {
        let at = html.find(marker).unwrap() + marker.len();
        html[at..].split('"').next().unwrap().to_owned()
    };
    let challenge = grab(&html, "name=\"challenge\" value=\"");
    let code = {
        let at = html.find("id=\"demo-code\">").unwrap() + "id=\"demo-code\">".len();
        html[at..at + 6].to_owned()
    };
    let (status, headers, _) = t
        .raw(
            Method::POST,
            "/signin/confirm",
            Some(format!("challenge={challenge}&code={code}&next=%2Fcode")),
            None,
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap();
    let session = cookie
        .trim_start_matches("mingma_session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, html) = t.raw(Method::GET, "/code", None, Some(&session), "").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "红码",
        "赋码来源",
        "河南省卫生健康委员会",
        "2022-06-10T10:00:00+08:00",
        "<svg",
        "李*",
    ] {
        assert!(html.contains(text), "{text} missing from the code page");
    }
    let (_, _, html) = t
        .raw(Method::GET, "/code?lang=en", None, Some(&session), "")
        .await;
    assert!(
        html.contains("RED code") && html.contains("Assigned by"),
        "{html}"
    );
    let (_, _, why) = t
        .raw(Method::GET, "/code/why", None, Some(&session), "")
        .await;
    assert!(
        why.contains("inbound-traveller") && why.contains("qo-0610-001"),
        "{why}"
    );
    let (status, headers, _) = t
        .raw(Method::GET, "/lang/en?next=/history", None, None, "")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("lang=en"));
    assert_eq!(headers["location"], "/history");
    let (_, headers, _) = t
        .raw(Method::GET, "/lang/en?next=//evil.example", None, None, "")
        .await;
    assert_eq!(headers["location"], "/code");
    t.app.sign_checkpoint().await.unwrap();
    let (_, _, history) = t
        .raw(Method::GET, "/history", None, Some(&session), "")
        .await;
    let verify = grab(&history, "class=\"verify-link\" href=\"");
    let (status, _, checked) = t.raw(Method::GET, &verify, None, Some(&session), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(checked.contains("receipt-valid"), "{checked}");
}

#[tokio::test]
async fn venue_pages_register_print_and_rotate_for_the_operator_only() {
    let t = TestApp::new().await;
    let op = t.sign_in("110101199003071233", "王五", "13800001234").await;
    let guest = t.sign_in("410105200001010017", "赵六", "13900001111").await;
    let form = "application/x-www-form-urlencoded";
    let bad = "name=x&address=y&street=4101&kind=restaurant".to_owned();
    let (status, _, html) = t
        .raw(Method::POST, "/venues", Some(bad), Some(&op), form)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("error-message") && html.contains("4101"),
        "{html}"
    );
    let good = "name=%E7%83%A9%E9%9D%A2%E9%A6%86&address=%E5%BB%BA%E8%AE%BE%E8%B7%AF&street=410102001&kind=restaurant".to_owned();
    let (status, headers, _) = t
        .raw(Method::POST, "/venues", Some(good), Some(&op), form)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = headers["location"].to_str().unwrap().to_owned();
    let (_, _, html) = t.raw(Method::GET, &page, None, Some(&op), "").await;
    assert!(
        html.contains("烩面馆") && html.contains("poster-url") && html.contains("screen-link"),
        "{html}"
    );
    let (_, _, html) = t.raw(Method::GET, &page, None, Some(&guest), "").await;
    assert!(
        !html.contains("screen-link"),
        "only the operator is offered the screen"
    );
    let (status, _, html) = t
        .raw(Method::GET, &format!("{page}/screen"), None, Some(&op), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("rotating-url") && html.contains("/v/MV1."),
        "{html}"
    );
    let (status, _, html) = t
        .raw(
            Method::GET,
            &format!("{page}/screen"),
            None,
            Some(&guest),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("not_venue_operator"), "{html}");
}
