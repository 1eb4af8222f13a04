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
