use axum::http::header::RETRY_AFTER;
use axum::http::{Method, StatusCode};
use mingma_server::overload::Class;

use crate::support::{assert_error, TestApp, TRAVELLER};

/// With the door's in-flight limit reached (tickets held as door requests in flight
/// hold them), other work gets 503 `overloaded` with Retry-After while the door flow
/// and the health probe are served; once the door work ends, other work is served
/// again.
#[tokio::test]
async fn other_work_is_shed_while_the_door_is_busy_and_the_door_is_served() {
    let t = TestApp::new().await;
    let session = t.sign_in(TRAVELLER, "李四", "13800000001").await;
    let limit = t.app.admission.limits().door_in_flight;
    let held: Vec<_> = (0..limit)
        .map(|_| t.app.admission.admit(Class::Door).unwrap())
        .collect();

    for path in ["/api/v1/openapi.json", "/api/v1/me/history"] {
        let (status, headers, body) = t.raw(Method::GET, path, None, Some(&session), "").await;
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_error(
            &(status, value),
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
        );
        assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1", "{path}");
    }
    let (status, _, _) = t
        .raw(Method::GET, "/history", None, Some(&session), "")
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // The door flow is served: the code as JSON and as the page.
    let (status, code) = t
        .json(Method::GET, "/api/v1/me/code", None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    assert!(code["signed_code"].as_str().is_some(), "{code}");
    let (status, _, _) = t.raw(Method::GET, "/code", None, Some(&session), "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = t.raw(Method::GET, "/healthz", None, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(t.app.admission.shed_count() >= 3);
    assert!(t
        .app
        .metrics
        .render()
        .contains("mingma_shed_total{kind=\"door_busy\"}"));

    drop(held);
    let (status, _) = t
        .json(Method::GET, "/api/v1/me/history", None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK);
}
