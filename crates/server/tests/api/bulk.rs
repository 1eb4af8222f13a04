//! `POST /api/v1/evidence/bulk`: a lab's and an official's sealed records in bulk,
//! as JSON Lines and as CSV; every bad line reported with its line and field and
//! nothing of it stored; the same body again stores nothing new; the codes of the
//! new positives turn red; malformed requests, oversize bodies and missing tokens.

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use mingma_core::{Colour, OfficialId, RecordId, Seal};
use mingma_server::bulk::lines::CSV_COLUMNS;
use mingma_server::officials::Principal;
use mingma_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::authority::{
    id_number, key, lab_test, person, province, province_with, sealed, Province,
};

const AT: &str = "2022-06-10T08:00:00+08:00";

/// Posts `body` to the bulk endpoint as `content_type`.
async fn post_bulk(
    p: &Province,
    body: impl Into<Body>,
    content_type: Option<&str>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/evidence/bulk");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(c) = content_type {
        req = req.header(header::CONTENT_TYPE, c);
    }
    let response = p
        .router
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn api_token(p: &Province, who: Principal) -> String {
    p.app
        .accounts
        .issue_official_token(&who, "api", None)
        .await
        .unwrap()
}

async fn lab_token(p: &Province) -> String {
    p.lab_token().await
}

async fn stored(p: &Province, id: &str) -> Option<mingma_core::Evidence> {
    p.app
        .store
        .record(&RecordId::parse(id).unwrap())
        .await
        .unwrap()
        .map(|r| r.evidence)
}

/// The refused lines of an answer as (line, field), in order.
fn refused(body: &Value) -> Vec<(u64, Option<String>)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

struct People {
    sick: String,
    well: String,
    also_sick: String,
    others: [String; 4],
}

fn people() -> People {
    People {
        sick: id_number("41010219800101011"),
        well: id_number("41010219800101022"),
        also_sick: id_number("41010219800101033"),
        others: [
            id_number("41010219800101044"),
            id_number("41010219800101055"),
            id_number("41010219800101066"),
            id_number("41010219800101077"),
        ],
    }
}

/// The lab's body, as records in line order (`None`: a blank line), with the line
/// numbers and fields of the lines that must be refused.
async fn lab_lines(p: &Province, who: &People) -> (Vec<Option<Value>>, Vec<(u64, Option<String>)>) {
    let lab = key(30);
    let [c, d, e, f] = &who.others;
    let bad_seal = {
        let mut line = sealed(p, lab_test("b-3", c, "positive", AT), &lab).await;
        line["seal"] = json!(Seal {
            key: [0; 8],
            signature: [0; 64]
        }
        .to_string());
        line
    };
    let mut malformed = lab_test("b-6", e, "positive", AT);
    malformed["outcome"] = json!("maybe");
    let customs = json!({
        "type": "border_entry", "id": "b-5", "subject": f,
        "recorded_by": "source:cgo-customs", "authority": "hn-wjw",
        "effective_at": AT, "recorded_at": AT, "port": "CGO", "origin": "KR",
    });
    let lines = vec![
        Some(sealed(p, lab_test("b-1", &who.sick, "positive", AT), &lab).await),
        Some(sealed(p, lab_test("b-2", &who.well, "negative", AT), &lab).await),
        Some(bad_seal),
        Some(lab_test("b-4", d, "positive", AT)),
        Some(sealed(p, customs, &key(31)).await),
        Some(malformed),
        None,
        Some(
            sealed(
                p,
                json!({
                    "type": "retraction", "id": "b-7", "target": "b-3",
                    "reason": "wrong sample", "recorded_by": "source:zz-lab",
                    "authority": "zz-wjw", "effective_at": AT, "recorded_at": AT,
                }),
                &lab,
            )
            .await,
        ),
        Some(sealed(p, lab_test("b-1", &who.sick, "negative", AT), &lab).await),
        Some(sealed(p, lab_test("b-9", &who.also_sick, "positive", AT), &lab).await),
    ];
    let field = |f: &str| Some(f.to_owned());
    let bad = vec![
        (3, field("seal")),
        (4, field("seal")),
        (5, field("recorded_by")),
        (6, field("outcome")),
        (8, field("target")),
        (9, field("id")),
    ];
    (lines, bad)
}

fn jsonl(lines: &[Option<Value>]) -> String {
    lines
        .iter()
        .map(|l| l.as_ref().map(Value::to_string).unwrap_or_default() + "\n")
        .collect()
}

/// The same records as CSV (a blank line is an empty row's place: CSV has none,
/// so it is left out and the line numbers move by the header instead).
fn csv(lines: &[Option<Value>]) -> String {
    let mut out = CSV_COLUMNS.join(",") + "\n";
    for line in lines.iter().flatten() {
        let cells: Vec<&str> = CSV_COLUMNS
            .iter()
            .map(|c| line.get(*c).and_then(Value::as_str).unwrap_or(""))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

async fn check_the_lab_body(
    p: &Province,
    who: &People,
    body: String,
    content_type: &str,
    bad: &[(u64, Option<String>)],
) {
    let lab = lab_token(p).await;
    let size = p.app.store.ledger_size().await.unwrap();
    let (status, answer) = post_bulk(p, body.clone(), Some(content_type), Some(&lab)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(refused(&answer), bad, "{answer}");
    assert_eq!(answer["lines"], 9, "{answer}");
    assert_eq!(answer["fresh"], 3, "{answer}");
    assert_eq!(answer["already"], 0, "{answer}");
    assert_eq!(answer["refused"], 6, "{answer}");
    assert_eq!(answer["changed"]["red"], 2, "{answer}");
    assert_eq!(answer["changed"]["yellow"], 0, "{answer}");
    assert_eq!(answer["derived"], 3, "{answer}");
    let errors = answer["errors"].as_array().unwrap();
    assert_eq!(errors[0]["id"], "b-3", "{answer}");
    assert!(
        errors[4]["reason"]
            .as_str()
            .unwrap()
            .contains("was refused"),
        "{answer}"
    );
    assert!(
        errors[5]["reason"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{answer}"
    );

    // Exactly the good lines are stored, the first b-1 as it was given.
    for id in ["b-1", "b-2", "b-9"] {
        assert!(stored(p, id).await.is_some(), "{id}");
    }
    for id in ["b-3", "b-4", "b-5", "b-6", "b-7"] {
        assert!(stored(p, id).await.is_none(), "{id}");
    }
    let first = stored(p, "b-1").await.unwrap();
    assert!(matches!(
        first.body,
        mingma_core::EvidenceBody::TestResult {
            outcome: mingma_core::TestOutcome::Positive,
            ..
        }
    ));
    // Three records and one batch of code changes.
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size + 4);
    assert_eq!(p.colour(person(&who.sick)).await.0, Colour::Red);
    assert_eq!(p.colour(person(&who.also_sick)).await.0, Colour::Red);
    assert_eq!(p.colour(person(&who.well)).await.0, Colour::Green);
    for other in &who.others {
        assert_eq!(p.colour(person(other)).await.0, Colour::Green);
    }

    // The same body again: the good lines are already stored, nothing is new.
    let size = p.app.store.ledger_size().await.unwrap();
    let (status, again) = post_bulk(p, body, Some(content_type), Some(&lab)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["fresh"], 0, "{again}");
    assert_eq!(again["already"], 3, "{again}");
    assert_eq!(again["refused"], 6, "{again}");
    assert_eq!(again["changed"]["red"], 0, "{again}");
    assert_eq!(refused(&again), bad, "{again}");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // A different record under a stored id is refused, the stored one kept.
    let changed = sealed(p, lab_test("b-2", &who.well, "positive", AT), &key(30)).await;
    let (status, answer) = post_bulk(
        p,
        jsonl(&[Some(changed)]),
        Some("application/x-ndjson"),
        Some(&lab),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        refused(&answer),
        vec![(1, Some("id".to_owned()))],
        "{answer}"
    );
    assert!(
        answer["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("different stored record"),
        "{answer}"
    );
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
    assert_eq!(p.colour(person(&who.well)).await.0, Colour::Green);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_posts_json_lines_and_only_its_good_lines_are_stored_once() {
    let p = province().await;
    let who = people();
    let (lines, bad) = lab_lines(&p, &who).await;
    check_the_lab_body(&p, &who, jsonl(&lines), "application/x-ndjson", &bad).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_posts_csv_and_it_is_checked_the_same_way() {
    let p = province().await;
    let who = people();
    let (lines, bad) = lab_lines(&p, &who).await;
    // CSV has a header on line 1 and no blank line: a record's row is its JSON
    // line's number plus one before the blank line, the same after it.
    let bad: Vec<(u64, Option<String>)> = bad
        .into_iter()
        .map(|(line, field)| (if line < 7 { line + 1 } else { line }, field))
        .collect();
    check_the_lab_body(&p, &who, csv(&lines), "text/csv; charset=utf-8", &bad).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_posts_own_sealed_records_and_not_another_officials() {
    let p = province().await;
    let sick = id_number("41010219800101011");
    let lab = lab_token(&p).await;
    let test = sealed(&p, lab_test("t-pos", &sick, "positive", AT), &key(30)).await;
    let (status, answer) = post_bulk(
        &p,
        jsonl(&[Some(test)]),
        Some("application/jsonl"),
        Some(&lab),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["fresh"], 1, "{answer}");

    let official = api_token(&p, Principal::Official(OfficialId::parse("zz-a").unwrap())).await;
    let case = |id: &str, by: &str| {
        json!({
            "type": "case_report", "id": id, "subject": sick,
            "recorded_by": format!("official:{by}"), "authority": "zz-wjw",
            "effective_at": "2022-06-10T08:30:00+08:00",
            "recorded_at": "2022-06-10T08:30:00+08:00",
            "classification": "confirmed", "test": "t-pos",
        })
    };
    let body = jsonl(&[
        Some(sealed(&p, case("c-own", "zz-a"), &key(11)).await),
        Some(sealed(&p, case("c-other", "zz-b"), &key(12)).await),
        // Approving one's own record: refused by the intake checks.
        Some(
            sealed(
                &p,
                json!({
                    "type": "approval", "id": "c-own-ok", "target": "c-own",
                    "recorded_by": "official:zz-a", "authority": "zz-wjw",
                    "effective_at": "2022-06-10T08:40:00+08:00",
                    "recorded_at": "2022-06-10T08:40:00+08:00",
                }),
                &key(11),
            )
            .await,
        ),
        Some(case("c-unsealed", "zz-a")),
    ]);
    let (status, answer) = post_bulk(&p, body, Some("application/x-ndjson"), Some(&official)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["fresh"], 1, "{answer}");
    let field = |f: &str| Some(f.to_owned());
    assert_eq!(
        refused(&answer),
        vec![
            (2, field("recorded_by")),
            (3, field("target")),
            (4, field("seal"))
        ],
        "{answer}"
    );
    assert!(stored(&p, "c-own").await.is_some());
    for id in ["c-other", "c-own-ok", "c-unsealed"] {
        assert!(stored(&p, id).await.is_none(), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversize_and_anonymous_requests_are_refused_whole() {
    let p = province_with(|c| c.bulk_max_bytes = 4096).await;
    let lab = lab_token(&p).await;
    let line = sealed(
        &p,
        lab_test("x-1", &id_number("41010219800101011"), "positive", AT),
        &key(30),
    )
    .await;
    let body = jsonl(&[Some(line)]);
    let size = p.app.store.ledger_size().await.unwrap();

    let (status, answer) = post_bulk(&p, body.clone(), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["code"], "not_signed_in", "{answer}");

    for wrong in [None, Some("application/json"), Some("text/plain")] {
        let (status, answer) = post_bulk(&p, body.clone(), wrong, Some(&lab)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong:?}: {answer}");
        assert_eq!(answer["code"], "unsupported_content_type", "{answer}");
    }
    let (status, answer) =
        post_bulk(&p, body.clone(), Some("text/csv; charset=gbk"), Some(&lab)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    let mut latin = body.clone().into_bytes();
    latin.extend_from_slice(b"\n{\"id\": \"caf\xe9\"}\n");
    let (status, answer) = post_bulk(&p, latin, Some("application/x-ndjson"), Some(&lab)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "not_utf8", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("line 3"),
        "{answer}"
    );

    let (status, answer) = post_bulk(&p, "id,colour\nx,red\n", Some("text/csv"), Some(&lab)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "malformed_csv_header", "{answer}");

    // Too large: refused by its declared length, and when streamed without one.
    let big = body.repeat(4096 / body.len() + 1);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/evidence/bulk")
        .header(header::AUTHORIZATION, format!("Bearer {lab}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let response = p.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(answer["code"], "too_large", "{answer}");
    let (status, answer) = post_bulk(&p, big, Some("application/x-ndjson"), Some(&lab)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["code"], "too_large", "{answer}");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // A body whose every line is refused is still answered with its report.
    let (status, answer) = post_bulk(
        &p,
        "{\"type\": \"test_result\"}\nnot json\n",
        Some("application/x-ndjson"),
        Some(&lab),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");
    assert_eq!(answer["fresh"], 0, "{answer}");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // The document lists the route.
    let (status, doc) = p
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["paths"]["/api/v1/evidence/bulk"]["post"].is_object(),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_lists_at_most_ten_thousand_refused_lines_and_counts_the_rest() {
    let p = province().await;
    let lab = lab_token(&p).await;
    let body = "{\"id\":\"x\"}\n".repeat(mingma_server::officials::BULK_ERRORS_SHOWN + 5);
    let (status, answer) = post_bulk(&p, body, Some("application/x-ndjson"), Some(&lab)).await;
    assert_eq!(status, StatusCode::OK, "{}", answer["code"]);
    assert_eq!(
        answer["refused"],
        mingma_server::officials::BULK_ERRORS_SHOWN + 5
    );
    assert_eq!(
        answer["errors"].as_array().map(Vec::len),
        Some(mingma_server::officials::BULK_ERRORS_SHOWN)
    );
    assert_eq!(answer["errors_not_listed"], 5);
    assert_eq!(
        answer["errors"][0]["field"], "type",
        "{}",
        answer["errors"][0]
    );
}
