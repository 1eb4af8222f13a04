//! Issue 7 end to end through the API: a holder turned red by a customs entry that
//! carried their ID number by mistake appeals; one ticket goes to each owner of
//! the decisive evidence (the province authority for the order, the customs source
//! for the entry), none to the city; a city hotline operator with the caller's
//! recorded consent sees owners and status; the reviewer sees the entry's name and
//! document next to the holder's and retracts; the code turns green at once, in the
//! history with a receipt. Then escalation on a controlled clock, refusals (another
//! authority's reviewer, an operator without consent or acting on evidence), bad
//! input recording nothing.

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use mingma_authority::act::key_hex;
use mingma_authority::{Act, ActBody, Grant, Role, SignedAct};
use mingma_core::{AuthorityId, DataSourceId, Jurisdiction, OfficialId};
use mingma_server::appeals::StepEntry;
use mingma_server::officials::{hash_password, Principal};
use mingma_store::{LedgerEntry, Store};
use serde_json::{json, Value};

use crate::authority::{
    id_number, key, lab_submits, lab_test, person, province, seal_text, source_submits, Province,
    PASSWORD,
};
use crate::support::ts;

/// Registers `id` (an official of `authority` with `role` at `place`, key `seed`)
/// by acts of the province's first admin, with the test password.
async fn add_official(p: &Province, id: &str, seed: u8, authority: &str, role: Role, place: &str) {
    let official = OfficialId::parse(id).unwrap();
    let at = ts("2022-06-01T00:00:00+08:00");
    for act in [
        Act::AddOfficial {
            official: official.clone(),
            name: id.into(),
            authority: AuthorityId::parse(authority).unwrap(),
        },
        Act::RegisterKey {
            official: official.clone(),
            key: key_hex(&key(seed).verifying_key()),
        },
        Act::GrantRole {
            official: official.clone(),
            grant: Grant {
                role,
                jurisdiction: Jurisdiction::parse(place).unwrap(),
            },
        },
    ] {
        let by = OfficialId::parse("hn-admin-1").unwrap();
        let signed = SignedAct::sign(ActBody { by, at, act }, &key(1));
        p.app.store.append_act(signed.to_bytes()).await.unwrap();
    }
    p.app
        .accounts
        .set_official_password(&official, hash_password(PASSWORD).unwrap())
        .await
        .unwrap();
}

/// Rejects `ticket` as `token`, whose key is `signer`: drafts the rejection and
/// gives its seal.
async fn reject(
    p: &Province,
    ticket: &str,
    token: &str,
    reason: &str,
    signer: &ed25519_dalek::SigningKey,
) -> (StatusCode, Value) {
    let (status, draft) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/reject/draft"),
            Some(json!({"reason": reason})),
            Some(token),
        )
        .await;
    if status != StatusCode::OK {
        return (status, draft);
    }
    let seal = seal_text(draft["message"].as_str().unwrap(), signer);
    p.call(
        Method::POST,
        &format!("/api/v1/official/appeals/{ticket}/reject"),
        Some(json!({"draft": draft["draft"], "seal": seal})),
        Some(token),
    )
    .await
}

fn code_of(answer: &(StatusCode, Value)) -> &str {
    answer.1["code"].as_str().unwrap_or("")
}

async fn customs_token(p: &Province) -> String {
    p.app
        .accounts
        .issue_official_token(
            &Principal::Source(DataSourceId::parse("cgo-customs").unwrap()),
            "api",
            None,
        )
        .await
        .unwrap()
}

/// The scenario's start: customs' entry carrying `holder_id` by mistake (the
/// traveller was 李明, passport E12345678), the province's order on it, approved.
async fn wrongly_red(p: &Province, holder_id: &str) {
    let customs = customs_token(p).await;
    let entry = json!({
        "type": "border_entry", "id": "be-1", "subject": holder_id,
        "recorded_by": "source:cgo-customs", "authority": "hn-wjw",
        "effective_at": "2022-06-10T07:00:00+08:00", "recorded_at": "2022-06-10T07:30:00+08:00",
        "port": "郑州新郑国际机场", "origin": "首尔",
        "name": "李明", "document": "护照 E12345678",
    });
    let (status, body) = source_submits(p, &customs, entry, &key(31)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let q = p.sign_in("hn-q").await;
    let r = p.sign_in("hn-r").await;
    let order = json!({"type": "quarantine_order", "id": "qo-1", "subject": holder_id,
        "setting": "centralised", "facility": "郑州市集中隔离点A", "ground": "be-1",
        "planned_end": "2022-06-17T07:00:00+08:00",
        "legal_basis": "《传染病防治法》第三十九条", "effective_at": "2022-06-10T08:00:00+08:00"});
    let (status, body) = p.record(&q, &key(15), order).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = p
        .record(
            &r,
            &key(16),
            json!({"type": "approval", "id": "qo-1-ok", "target": "qo-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_inbound_traveller_code_is_appealed_to_its_two_owners_and_retracted() {
    let p = province().await;
    add_official(&p, "zz-h", 17, "zz-wjw", Role::HotlineOperator, "4101").await;
    let id = id_number("41010219900307002");
    let me = p.holder(&id, "王芳", "13800000001").await;
    wrongly_red(&p, &id).await;
    p.set("2022-06-10T10:00:00+08:00");

    let (status, code) = p
        .call(Method::GET, "/api/v1/me/code", None, Some(&me))
        .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    assert_eq!(code["colour"], "red", "{code}");

    // Bad input is refused and records nothing.
    let size = p.app.store.ledger_size().await.unwrap();
    for (body, status, code) in [
        (
            json!({"claim": "no_risk"}),
            StatusCode::BAD_REQUEST,
            "unknown_claim",
        ),
        (
            json!({"claim": "other", "text": " "}),
            StatusCode::BAD_REQUEST,
            "missing_text",
        ),
        (
            json!({"claim": "other", "text": "x", "colour": "green"}),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            json!({"claim": "never_left_country", "document": {"name": "a.exe", "content_type": "application/x-msdownload", "data": "AAAA"}}),
            StatusCode::BAD_REQUEST,
            "malformed_document",
        ),
        (
            json!({"claim": "never_left_country", "record": "nope-1"}),
            StatusCode::NOT_FOUND,
            "unknown_record",
        ),
    ] {
        let answer = p
            .call(Method::POST, "/api/v1/me/appeals", Some(body), Some(&me))
            .await;
        assert_eq!((answer.0, code_of(&answer)), (status, code), "{}", answer.1);
    }
    let big = "A".repeat(800 * 1024);
    let answer = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "never_left_country", "document": {"name": "a.png", "content_type": "image/png", "data": big}})),
            Some(&me),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "document_too_large")
    );
    assert_eq!(
        p.app.store.ledger_size().await.unwrap(),
        size,
        "nothing recorded"
    );
    let (_, none) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    assert_eq!(none, json!([]));

    // The appeal: one ticket per owner, none to the city.
    let (status, tickets) = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "never_left_country", "text": "我从未出境，6月10日在郑州上班。",
                "document": {"name": "证明.pdf", "content_type": "application/pdf", "data": "JVBERi0xLjQK"}})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tickets}");
    let tickets = tickets.as_array().unwrap().clone();
    let mut addressees: Vec<String> = tickets
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["addressee"]["kind"].as_str().unwrap(),
                t["addressee"]["id"].as_str().unwrap()
            )
        })
        .collect();
    addressees.sort();
    assert_eq!(addressees, ["authority:hn-wjw", "source:cgo-customs"]);
    for t in &tickets {
        assert_eq!(t["handler"]["id"], "hn-wjw", "{t}");
        assert_eq!(t["status"], "open");
        assert_eq!(t["deadline"], json!(ts("2022-06-11T10:00:00+08:00")));
        assert_eq!(t["document"]["size"], 9);
        assert_eq!(t["steps"][0]["kind"], "opened");
        assert!(
            !t.to_string().contains("zz-wjw"),
            "nothing to the city: {t}"
        );
    }
    let of = |kind: &str| {
        tickets
            .iter()
            .find(|t| t["addressee"]["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (entry_ticket, order_ticket) = (of("source"), of("authority"));
    assert_eq!(
        tickets
            .iter()
            .find(|t| t["id"] == entry_ticket.as_str())
            .unwrap()["records"],
        json!(["be-1"])
    );
    // Appealing again while they are open is refused.
    let again = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "never_left_country"})),
            Some(&me),
        )
        .await;
    assert_eq!(
        (again.0, code_of(&again)),
        (StatusCode::CONFLICT, "appeal_open")
    );

    // Every step is a ledger leaf of its own type that names no person.
    let leaf = tickets[0]["steps"][0]["leaf"].as_u64().unwrap();
    let leaves = p.app.store.leaves(leaf, 1).await.unwrap();
    let Ok(LedgerEntry::Appeal(bytes)) = LedgerEntry::from_bytes(&leaves[0].data) else {
        panic!("not an appeal step");
    };
    let step = StepEntry::from_bytes(&bytes).expect("a step entry");
    assert!(step.addressee.starts_with("authority:") || step.addressee.starts_with("source:"));
    let text = String::from_utf8_lossy(&leaves[0].data);
    for secret in [id.as_str(), "王芳", "13800000001", "我从未出境"] {
        assert!(!text.contains(secret), "{secret} in a leaf");
    }

    // The city's hotline operator: nothing without the caller's recorded consent.
    let h = p.sign_in("zz-h").await;
    let answer = p
        .call(
            Method::GET,
            &format!("/api/v1/official/appeals/{entry_ticket}"),
            None,
            Some(&h),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::FORBIDDEN, "no_consent"),
        "{}",
        answer.1
    );
    let (status, started) = p
        .call(
            Method::POST,
            "/api/v1/official/hotline/consents",
            Some(json!({"id_number": id})),
            Some(&h),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let consent = started["consent"].as_str().unwrap().to_owned();
    let answer = p
        .call(
            Method::GET,
            &format!("/api/v1/official/hotline/consents/{consent}/provenance"),
            None,
            Some(&h),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::FORBIDDEN, "no_consent"),
        "{}",
        answer.1
    );
    let wrong = if started["demo_code"] == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/hotline/consents/{consent}/confirm"),
            Some(json!({"code": wrong})),
            Some(&h),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::UNAUTHORIZED, "otp_mismatch")
    );
    let (status, confirmed) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/hotline/consents/{consent}/confirm"),
            Some(json!({"code": started["demo_code"]})),
            Some(&h),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let (status, prov) = p
        .call(
            Method::GET,
            &format!("/api/v1/official/hotline/consents/{consent}/provenance"),
            None,
            Some(&h),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{prov}");
    assert_eq!(prov["colour"], "red");
    let owners: Vec<&str> = prov["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["hn-wjw", "cgo-customs"], "{prov}");
    assert_eq!(prov["tickets"].as_array().unwrap().len(), 2);
    assert!(prov["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "open"));
    // Each consent request is a text to the caller: three may wait at a time.
    for n in 0..4 {
        let answer = p
            .call(
                Method::POST,
                "/api/v1/official/hotline/consents",
                Some(json!({"id_number": id})),
                Some(&h),
            )
            .await;
        if n < 3 {
            assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
        } else {
            assert_eq!(
                (answer.0, code_of(&answer)),
                (StatusCode::TOO_MANY_REQUESTS, "otp_rate_limited")
            );
        }
    }
    // The operator notes, and can act on nothing else.
    let (status, noted) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{entry_ticket}/notes"),
            Some(json!({"text": "来电人称6月10日全天在郑州，请核对入境记录。"})),
            Some(&h),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{noted}");
    assert_eq!(noted["steps"][1]["by"], "hotline");
    for (path, body) in [
        (
            format!("/api/v1/official/appeals/{entry_ticket}/reject/draft"),
            json!({"reason": "x"}),
        ),
        (
            format!("/api/v1/official/appeals/{entry_ticket}/correction/draft"),
            json!({"target": "be-1", "reason": "x", "record": {"type": "border_entry"}}),
        ),
        (
            format!("/api/v1/official/appeals/{entry_ticket}/retraction/draft"),
            json!({"target": "be-1", "reason": "x"}),
        ),
        (
            "/api/v1/official/records/draft".to_owned(),
            json!({"type": "retraction", "id": "h-1", "target": "be-1", "reason": "x"}),
        ),
    ] {
        let size = p.app.store.ledger_size().await.unwrap();
        let answer = p.call(Method::POST, &path, Some(body), Some(&h)).await;
        assert_eq!(answer.0, StatusCode::FORBIDDEN, "{path}: {}", answer.1);
        assert!(
            ["not_permitted", "not_the_owner"].contains(&code_of(&answer)),
            "{}",
            answer.1
        );
        assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
    }

    // A reviewer of another authority cannot decide (the city's official: outside
    // their jurisdiction; a province official of another authority: not the
    // handler, in the escalation test).
    let a = p.sign_in("zz-a").await;
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{entry_ticket}/reject/draft"),
            Some(json!({"reason": "不是我们的"})),
            Some(&a),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::FORBIDDEN, "outside_jurisdiction"),
        "{}",
        answer.1
    );
    assert!(answer.1["message"]
        .as_str()
        .unwrap()
        .contains("review an appeal"));
    let answer = p
        .call(
            Method::GET,
            &format!("/api/v1/official/appeals/{entry_ticket}"),
            None,
            Some(&a),
        )
        .await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN);
    let (_, listed) = p
        .call(Method::GET, "/api/v1/official/appeals", None, Some(&a))
        .await;
    assert_eq!(listed, json!([]));

    // The province's reviewer sees the entry's details next to the holder's.
    let q = p.sign_in("hn-q").await;
    let (_, listed) = p
        .call(Method::GET, "/api/v1/official/appeals", None, Some(&q))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (status, view) = p
        .call(
            Method::GET,
            &format!("/api/v1/official/appeals/{entry_ticket}"),
            None,
            Some(&q),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["may_decide"], true);
    let checks = &view["checks"];
    assert_eq!(checks["holder"]["name"], "王芳");
    assert_eq!(checks["border_entry_exists"], true);
    let entry = &checks["border_entries"][0];
    assert_eq!(
        (entry["name"].as_str(), entry["document"].as_str()),
        (Some("李明"), Some("护照 E12345678"))
    );
    assert_eq!(entry["name_matches"], false);
    assert_eq!(view["evidence"][0]["kind"], "border_entry");
    // The attached document, as uploaded, for the reviewer; not for another city.
    let (status, _, pdf) = page(
        &p,
        Method::GET,
        &format!("/api/v1/official/appeals/{entry_ticket}/document"),
        &q,
        None,
    )
    .await;
    assert_eq!((status, pdf.as_str()), (StatusCode::OK, "%PDF-1.4\n"));
    let (status, _, _) = page(
        &p,
        Method::GET,
        &format!("/api/v1/official/appeals/{entry_ticket}/document"),
        &a,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The order's ticket shows the same entry (its ground).
    let (_, view) = p
        .call(
            Method::GET,
            &format!("/api/v1/official/appeals/{order_ticket}"),
            None,
            Some(&q),
        )
        .await;
    assert_eq!(view["checks"]["border_entries"][0]["record"], "be-1");

    // Not closed without an answer.
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{entry_ticket}/close"),
            None,
            Some(&q),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::CONFLICT, "unanswered")
    );

    // Accept: retract the entry (and the order on it), each sealed by the reviewer.
    let accept = |ticket: String, target: &'static str, reason: &'static str| {
        let (p, q) = (&p, q.clone());
        async move {
            let (status, draft) = p
                .call(
                    Method::POST,
                    &format!("/api/v1/official/appeals/{ticket}/retraction/draft"),
                    Some(json!({"target": target, "reason": reason})),
                    Some(&q),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{draft}");
            let seal = seal_text(draft["message"].as_str().unwrap(), &key(15));
            p.call(
                Method::POST,
                &format!("/api/v1/official/appeals/{ticket}/accept"),
                Some(json!({"draft": draft["draft"], "seal": seal})),
                Some(&q),
            )
            .await
        }
    };
    let reason = "入境记录属他人（李明，护照E12345678），海关误录身份证号，予以撤销";
    let (status, answered) = accept(entry_ticket.clone(), "be-1", reason).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["answer"]["outcome"], "accepted");
    assert_eq!(answered["answer"]["reason"], reason);
    assert_eq!(
        answered["answer"]["code"]["colour"], "green",
        "re-derived at once: {answered}"
    );
    let (status, answered_order) = accept(
        order_ticket.clone(),
        "qo-1",
        "隔离依据的入境记录已撤销，隔离令一并撤销",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered_order}");

    // The holder: green, both answers, the change in the history with a receipt.
    let (_, code) = p
        .call(Method::GET, "/api/v1/me/code", None, Some(&me))
        .await;
    assert_eq!(code["colour"], "green", "{code}");
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals?lang=en", None, Some(&me))
        .await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine
        .iter()
        .all(|t| t["status"] == "answered" && t["answer"]["outcome"] == "accepted"));
    assert_eq!(mine[0]["claim_text"], "I never left the country");
    let change = &answered["answer"]["code"];
    let (status, history) = p
        .call(Method::GET, "/api/v1/me/history", None, Some(&me))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let receipt = format!(
        "/api/v1/me/receipts/code-changes/{}/{}",
        change["leaf"], change["position"]
    );
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["receipt"] == receipt.as_str()
                && h["line"].as_str().unwrap().contains("绿码")),
        "{receipt} in {history}"
    );
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["line"].as_str().unwrap().contains("海关误录")),
        "the retraction and its reason are in the history: {history}"
    );
    p.app.sign_checkpoint().await.unwrap();
    let (status, receipt) = p.call(Method::GET, &receipt, None, Some(&me)).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");

    // Answered twice: refused; closed once answered.
    let answer = reject(&p, &entry_ticket, &q, "x", &key(15)).await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::CONFLICT, "ticket_answered")
    );
    let (status, closed) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{entry_ticket}/close"),
            None,
            Some(&q),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let kinds: Vec<&str> = closed["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "note", "accepted", "closed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_ticket_escalates_to_the_parent_authority_on_time_and_is_listed_for_auditors() {
    let p = province().await;
    add_official(&p, "hn-aud", 18, "hn-wjw", Role::Auditor, "41").await;
    let id = id_number("41010219880512003");
    let me = p.holder(&id, "赵强", "13800000002").await;
    let lab = p.lab_token().await;
    let (status, body) = lab_submits(
        &p,
        &lab,
        lab_test("t-1", &id, "positive", "2022-06-10T08:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(p.colour(person(&id)).await.0, mingma_core::Colour::Red);

    let (status, tickets) = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "test_was_negative", "text": "复检阴性"})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tickets}");
    assert_eq!(tickets.as_array().unwrap().len(), 1);
    let t = tickets[0].clone();
    assert_eq!(
        (t["addressee"]["id"].as_str(), t["handler"]["id"].as_str()),
        (Some("zz-lab"), Some("zz-wjw"))
    );
    let ticket = t["id"].as_str().unwrap().to_owned();
    let q = p.sign_in("hn-q").await;
    let aud = p.sign_in("hn-aud").await;
    let answer = reject(&p, &ticket, &q, "x", &key(15)).await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::FORBIDDEN, "not_the_handler"),
        "the province is not its handler yet"
    );
    let (_, listed) = p
        .call(Method::GET, "/api/v1/official/appeals", None, Some(&aud))
        .await;
    assert_eq!(listed, json!([]), "not overdue yet");

    // One second before the deadline nothing happens; at it, the city's parent
    // (the province) handles it.
    p.set("2022-06-11T08:59:59+08:00");
    assert_eq!(p.app.escalate_overdue().await.unwrap(), 0);
    p.set("2022-06-11T09:00:00+08:00");
    assert_eq!(p.app.escalate_overdue().await.unwrap(), 1);
    assert_eq!(p.app.escalate_overdue().await.unwrap(), 0, "once");
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    let t = &mine[0];
    assert_eq!(t["handler"]["id"], "hn-wjw", "{t}");
    assert_eq!(t["escalated_to"], json!(["hn-wjw"]));
    assert_eq!(t["deadline"], json!(ts("2022-06-12T09:00:00+08:00")));
    assert_eq!(t["steps"][1]["kind"], "escalated");
    assert_eq!(t["steps"][1]["by"], "service");
    // (Sessions last 12 hours.)
    let aud = p.sign_in("hn-aud").await;
    let (_, listed) = p
        .call(Method::GET, "/api/v1/official/appeals", None, Some(&aud))
        .await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "listed for auditors: {listed}"
    );
    // An auditor reads; it does not decide or write.
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/notes"),
            Some(json!({"text": "x"})),
            Some(&aud),
        )
        .await;
    assert_eq!(answer.0, StatusCode::FORBIDDEN);

    // Still unanswered at the top: flagged for the auditors, once.
    p.set("2022-06-12T09:00:00+08:00");
    assert_eq!(p.app.escalate_overdue().await.unwrap(), 1);
    p.set("2022-06-14T09:00:00+08:00");
    assert_eq!(p.app.escalate_overdue().await.unwrap(), 0);
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    assert_eq!(mine[0]["at_top"], true);

    // The province answers; the holder reads the reason.
    let q = p.sign_in("hn-q").await;
    let (status, answered) = reject(
        &p,
        &ticket,
        &q,
        "经核实，6月10日样本复核仍为阳性，维持原结果。",
        &key(15),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    assert_eq!(mine[0]["answer"]["outcome"], "rejected");
    assert!(mine[0]["answer"]["reason"]
        .as_str()
        .unwrap()
        .contains("维持原结果"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_green_holder_names_the_record_and_is_never_told_no_appeal_is_needed() {
    let p = province().await;
    let id = id_number("41010219700101004");
    let me = p.holder(&id, "钱伟", "13800000003").await;
    let answer = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "other", "text": "记录有误"})),
            Some(&me),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "record_required")
    );
    let message = answer.1["message"].as_str().unwrap();
    assert!(
        !message.contains("no risk") && !message.contains("无风险"),
        "{message}"
    );
    // A green holder appeals a record that no longer decides anything.
    let lab = p.lab_token().await;
    let (status, body) = lab_submits(
        &p,
        &lab,
        lab_test("t-9", &id, "negative", "2022-06-10T08:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, tickets) = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "other", "text": "那天我没有采样", "record": "t-9"})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tickets}");
    assert_eq!(tickets[0]["addressee"]["id"], "zz-lab");
    // Nobody signed in: 401; an unknown ticket: 404.
    let answer = p.call(Method::GET, "/api/v1/me/appeals", None, None).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
    let q = p.sign_in("hn-q").await;
    for bad in ["nope", "00000000000000000000000000000000", "zz%2F..%2Fx"] {
        let answer = p
            .call(
                Method::GET,
                &format!("/api/v1/official/appeals/{bad}"),
                None,
                Some(&q),
            )
            .await;
        assert_eq!(
            (answer.0, code_of(&answer)),
            (StatusCode::NOT_FOUND, "unknown_ticket"),
            "{bad}"
        );
    }
}

/// A page: status, `Location` and body text; `form` is sent url-encoded.
async fn page(
    p: &Province,
    method: Method,
    path: &str,
    token: &str,
    form: Option<&str>,
) -> (StatusCode, String, String) {
    use axum::body::{to_bytes, Body};
    use axum::http::{header, Request};
    use tower::ServiceExt as _;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let req = req
        .body(form.map_or_else(Body::empty, |f| Body::from(f.to_owned())))
        .unwrap();
    let response = p.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
    (status, location, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_appeal_pages_and_the_console_pages_in_chinese_and_english() {
    let p = province().await;
    add_official(&p, "zz-h", 17, "zz-wjw", Role::HotlineOperator, "4101").await;
    let id = id_number("41010219900307002");
    let me = p.holder(&id, "王芳", "13800000001").await;
    wrongly_red(&p, &id).await;

    let (status, _, html) = page(&p, Method::GET, "/code", &me, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"appeal-link\"") && html.contains("申诉"),
        "the code page offers the appeal"
    );
    let (status, _, html) = page(&p, Method::GET, "/appeals", &me, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("正在实施集中或居家医学隔离观察的入境人员"),
        "the reason is shown"
    );
    assert!(html.contains("我从未出境") && html.contains("appeal-form"));
    for phrase in ["无风险", "no risk", "无需转码"] {
        assert!(!html.contains(phrase), "{phrase}");
    }
    // A bad form re-renders with the error, in the page's language.
    let (status, _, html) =
        page(&p, Method::POST, "/appeals", &me, Some("claim=other&text=")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("missing_text"), "{html}");
    let (status, location, _) = page(
        &p,
        Method::POST,
        "/appeals",
        &me,
        Some("claim=never_left_country&text=%E6%88%91%E4%BB%8E%E6%9C%AA%E5%87%BA%E5%A2%83&doc_name=&doc_type=&doc_data="),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/appeals")
    );
    let (_, _, html) = page(&p, Method::GET, "/appeals?lang=en", &me, None).await;
    assert_eq!(html.matches("class=\"card ticket\"").count(), 2, "{html}");
    assert!(html.contains("I never left the country") && html.contains("Answer due by"));
    assert!(html.contains("河南省卫生健康委员会") && html.contains("郑州新郑国际机场海关"));

    // The reviewer's list and ticket page, with the entry next to the holder's.
    let q = p.sign_in("hn-q").await;
    let (status, _, html) = page(&p, Method::GET, "/console/appeals", &q, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<tr class=\"ticket\"").count(), 2, "{html}");
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    let entry_ticket = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["addressee"]["kind"] == "source")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, html) = page(
        &p,
        Method::GET,
        &format!("/console/appeals/{entry_ticket}"),
        &q,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"border-entries\""), "{html}");
    assert!(html.contains("李明") && html.contains("王芳") && html.contains("护照 E12345678"));
    assert!(html.contains("id=\"accept-form\"") && html.contains("id=\"reject-form\""));
    let (_, _, html) = page(
        &p,
        Method::GET,
        &format!("/console/appeals/{entry_ticket}?lang=en"),
        &q,
        None,
    )
    .await;
    assert!(html.contains("Border-entry record next to the holder's details"));
    // Another authority's official: a refusal page in the page's language.
    let a = p.sign_in("zz-a").await;
    let (status, _, html) = page(
        &p,
        Method::GET,
        &format!("/console/appeals/{entry_ticket}"),
        &a,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("outside_jurisdiction"), "{html}");
    // The hotline page, and the operator's ticket page without consent.
    let h = p.sign_in("zz-h").await;
    let (status, _, html) = page(&p, Method::GET, "/console/hotline", &h, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("hotline-start") && !html.contains("hotline-not-permitted"));
    let (status, _, html) = page(
        &p,
        Method::GET,
        &format!("/console/appeals/{entry_ticket}"),
        &h,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("no_consent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appeal_against_a_venue_exposure_shows_the_scan_and_its_presence_assurance() {
    let p = province().await;
    p.declare_erqi_high_risk().await;
    let id = id_number("41010219900909009");
    let me = p.holder(&id, "孙七", "13700002222").await;
    let (status, venue) = p
        .call(
            Method::POST,
            "/api/v1/venues",
            Some(json!({"name": "二七商场", "address": "郑州市", "street": "410103001", "kind": "restaurant"})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{venue}");
    // A scan of the static poster.
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": venue["poster_url"]})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, code) = p
        .call(Method::GET, "/api/v1/me/code", None, Some(&me))
        .await;
    assert_eq!(code["colour"], "red", "{code}");

    let (status, tickets) = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "not_at_venue", "text": "我没有去过二七商场"})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tickets}");
    // One ticket, to the area's owner; the scan (the holder's own record) rides along.
    assert_eq!(tickets.as_array().unwrap().len(), 1, "{tickets}");
    assert_eq!(tickets[0]["addressee"]["id"], "zz-wjw");
    let ticket = tickets[0]["id"].as_str().unwrap();
    let a = p.sign_in("zz-a").await;
    let (status, view) = p
        .call(
            Method::GET,
            &format!("/api/v1/official/appeals/{ticket}"),
            None,
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let scans = view["checks"]["scans"].as_array().unwrap();
    assert_eq!(scans.len(), 1, "{view}");
    assert_eq!(scans[0]["venue_name"], "二七商场");
    assert_eq!(scans[0]["presence"], "static_poster");
    assert_eq!(view["checks"]["border_entries"], json!([]));
}

/// A holder red by zz-lab's positive result `t-1`, with their appeal against it
/// open (one ticket, to the lab, handled by Zhengzhou's commission): the holder's
/// session and the ticket.
async fn red_by_a_positive_test(p: &Province, id: &str, phone: &str) -> (String, String) {
    let me = p.holder(id, "孙丽", phone).await;
    let lab = p.lab_token().await;
    let (status, body) = lab_submits(
        p,
        &lab,
        lab_test("t-1", id, "positive", "2022-06-10T08:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, tickets) = p
        .call(
            Method::POST,
            "/api/v1/me/appeals",
            Some(json!({"claim": "test_was_negative", "text": "样本被调换，复检阴性"})),
            Some(&me),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tickets}");
    assert_eq!(tickets[0]["handler"]["id"], "zz-wjw");
    (me, tickets[0]["id"].as_str().unwrap().to_owned())
}

async fn ticket_status(p: &Province, me: &str) -> Value {
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(me))
        .await;
    mine[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_carries_the_reviewers_signature_and_a_missing_or_forged_one_is_refused() {
    let p = province().await;
    let id = id_number("41010219920202005");
    let (me, ticket) = red_by_a_positive_test(&p, &id, "13800000005").await;
    let a = p.sign_in("zz-a").await;
    let reason = "经复核，原样本阳性无误，维持原结果。";
    let (status, draft) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/reject/draft"),
            Some(json!({"reason": reason})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["kind"], "appeal_step");
    let message = draft["message"].as_str().unwrap();
    let size = p.app.store.ledger_size().await.unwrap();
    // Missing, malformed, another official's key, an unregistered key, a signature
    // over other bytes: refused, nothing recorded, the ticket still open.
    let other_bytes = base64::engine::general_purpose::STANDARD.encode(b"something else");
    for (seal, status, code) in [
        (String::new(), StatusCode::BAD_REQUEST, "malformed_seal"),
        ("00".to_owned(), StatusCode::BAD_REQUEST, "malformed_seal"),
        (
            seal_text(message, &key(12)),
            StatusCode::BAD_REQUEST,
            "bad_seal",
        ),
        (
            seal_text(message, &key(99)),
            StatusCode::BAD_REQUEST,
            "bad_seal",
        ),
        (
            seal_text(&other_bytes, &key(11)),
            StatusCode::BAD_REQUEST,
            "bad_seal",
        ),
    ] {
        let answer = p
            .call(
                Method::POST,
                &format!("/api/v1/official/appeals/{ticket}/reject"),
                Some(json!({"draft": draft["draft"], "seal": seal})),
                Some(&a),
            )
            .await;
        assert_eq!((answer.0, code_of(&answer)), (status, code), "{}", answer.1);
        assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
        assert_eq!(ticket_status(&p, &me).await["status"], "open");
    }
    // No seal at all is not a request.
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/reject"),
            Some(json!({"draft": draft["draft"]})),
            Some(&a),
        )
        .await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    // Another official cannot use the draft, even with their own valid seal; and
    // the generic seal endpoint does not take it.
    let b = p.sign_in("zz-b").await;
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/reject"),
            Some(json!({"draft": draft["draft"], "seal": seal_text(message, &key(12))})),
            Some(&b),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::NOT_FOUND, "unknown_draft")
    );
    let answer = p
        .call(
            Method::POST,
            &format!(
                "/api/v1/official/drafts/{}/seal",
                draft["draft"].as_str().unwrap()
            ),
            Some(json!({"seal": seal_text(message, &key(11))})),
            Some(&a),
        )
        .await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // The reviewer's own seal: the rejection is the signed step.
    let (status, answered) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/reject"),
            Some(json!({"draft": draft["draft"], "seal": seal_text(message, &key(11))})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["answer"]["outcome"], "rejected");
    assert_eq!(answered["answer"]["reason"], reason);
    let leaf = answered["steps"][1]["leaf"].as_u64().unwrap();
    let leaves = p.app.store.leaves(leaf, 1).await.unwrap();
    let Ok(LedgerEntry::Appeal(bytes)) = LedgerEntry::from_bytes(&leaves[0].data) else {
        panic!("not an appeal step");
    };
    let step = StepEntry::from_bytes(&bytes).expect("a step entry");
    let signer = step.signer.clone().expect("signed");
    assert_eq!(signer.official.to_string(), "zz-a");
    assert!(
        !String::from_utf8_lossy(&bytes).contains("维持原结果"),
        "the reason is committed to, not written"
    );
    // What `mingma ledger verify` checks: the signature against the registered
    // keys; an altered signature, or a rejection without one, is found.
    let keys = p.app.engine.registry().await.unwrap().keys.clone();
    step.check_signature(&keys).expect("verifies");
    let mut forged = step.clone();
    forged.signer.as_mut().unwrap().seal.signature[0] ^= 1;
    assert!(forged.check_signature(&keys).is_err());
    let mut moved = step.clone();
    moved.handler = "kf-wjw".into();
    assert!(
        moved.check_signature(&keys).is_err(),
        "the signature covers the step"
    );
    let mut unsigned = step.clone();
    unsigned.signer = None;
    let why = unsigned.check_signature(&keys).unwrap_err();
    assert!(why.contains("unsigned"), "{why}");
    assert_eq!(StepEntry::from_bytes(&step.to_bytes()), Some(step));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disputed_test_result_is_corrected_by_the_reviewers_signed_record_in_one_transaction() {
    let p = province().await;
    let id = id_number("41010219930303006");
    let (me, ticket) = red_by_a_positive_test(&p, &id, "13800000006").await;
    assert_eq!(p.colour(person(&id)).await.0, mingma_core::Colour::Red);
    let negative = json!({"type": "test_result", "method": "nucleic_acid", "outcome": "negative",
        "sampled_at": "2022-06-10T08:00:00+08:00", "effective_at": "2022-06-10T09:00:00+08:00"});
    let draft = |token: String, body: Value| {
        let p = &p;
        let ticket = ticket.clone();
        async move {
            p.call(
                Method::POST,
                &format!("/api/v1/official/appeals/{ticket}/correction/draft"),
                Some(body),
                Some(&token),
            )
            .await
        }
    };
    let a = p.sign_in("zz-a").await;
    let size = p.app.store.ledger_size().await.unwrap();
    // Refused, recording nothing: another authority's reviewer (outside the
    // jurisdiction, or the province that is not its handler), a record the ticket
    // does not dispute, a correction of another type, a malformed record, no
    // reason.
    let kf = p.sign_in("kf-x").await;
    let q = p.sign_in("hn-q").await;
    for (token, body, status, code) in [
        (
            kf.clone(),
            json!({"target": "t-1", "reason": "x", "record": negative}),
            StatusCode::FORBIDDEN,
            "outside_jurisdiction",
        ),
        (
            q.clone(),
            json!({"target": "t-1", "reason": "x", "record": negative}),
            StatusCode::FORBIDDEN,
            "not_the_handler",
        ),
        (
            a.clone(),
            json!({"target": "t-9", "reason": "x", "record": negative}),
            StatusCode::BAD_REQUEST,
            "not_disputed",
        ),
        (
            a.clone(),
            json!({"target": "t-1", "reason": "x", "record": {"type": "case_report", "classification": "confirmed"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "correction_of_another_type",
        ),
        (
            a.clone(),
            json!({"target": "t-1", "reason": "x", "record": {"type": "test_result", "outcome": "maybe"}}),
            StatusCode::BAD_REQUEST,
            "malformed_record",
        ),
        (
            a.clone(),
            json!({"target": "t-1", "reason": "x", "record": "negative"}),
            StatusCode::BAD_REQUEST,
            "malformed_record",
        ),
        (
            a.clone(),
            json!({"target": "t-1", "reason": " ", "record": negative}),
            StatusCode::BAD_REQUEST,
            "missing_text",
        ),
    ] {
        let answer = draft(token, body).await;
        assert_eq!((answer.0, code_of(&answer)), (status, code), "{}", answer.1);
    }
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // The correction: the corrected (negative) result and the retraction naming
    // it, both the reviewer's records, both sealed by the reviewer's key.
    let reason = "样本编号录入错误：该阳性结果属另一名受检者，更正为阴性";
    let (status, drafts) = draft(
        a.clone(),
        json!({"target": "t-1", "reason": reason, "record": negative}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{drafts}");
    let correction = drafts["correction"]["record"].as_str().unwrap().to_owned();
    let seal = |d: &Value, k: u8| seal_text(d["message"].as_str().unwrap(), &key(k));
    // A correction sealed by another key: refused, nothing recorded.
    let accept = |retraction_seal: String, correction_seal: String| {
        let (p, a, ticket, drafts) = (&p, a.clone(), ticket.clone(), drafts.clone());
        async move {
            p.call(
                Method::POST,
                &format!("/api/v1/official/appeals/{ticket}/accept"),
                Some(json!({"draft": drafts["retraction"]["draft"], "seal": retraction_seal,
                    "correction": {"draft": drafts["correction"]["draft"], "seal": correction_seal}})),
                Some(&a),
            )
            .await
        }
    };
    // Without the correction's draft, a retraction naming a correction is still
    // only a retraction; with another draft as the correction, refused.
    let (status, other) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/retraction/draft"),
            Some(json!({"target": "t-1", "reason": "x"})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{other}");
    let answer = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/accept"),
            Some(json!({"draft": drafts["retraction"]["draft"], "seal": seal(&drafts["retraction"], 11),
                "correction": {"draft": other["draft"], "seal": seal(&other, 11)}})),
            Some(&a),
        )
        .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::BAD_REQUEST, "not_a_correction_of_the_ticket"),
        "{}",
        answer.1
    );
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);
    let answer = accept(
        seal(&drafts["retraction"], 11),
        seal(&drafts["correction"], 12),
    )
    .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::BAD_REQUEST, "bad_seal"),
        "{}",
        answer.1
    );
    assert_eq!(
        p.app.store.ledger_size().await.unwrap(),
        size,
        "neither record was appended"
    );
    assert!(p
        .app
        .store
        .record(&mingma_core::RecordId::parse(&correction).unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(ticket_status(&p, &me).await["status"], "open");

    // Drafted again and sealed by the reviewer: both appended together.
    let (status, drafts) = draft(
        a.clone(),
        json!({"target": "t-1", "reason": reason, "record": negative}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{drafts}");
    let correction = drafts["correction"]["record"].as_str().unwrap().to_owned();
    let retraction = drafts["retraction"]["record"].as_str().unwrap().to_owned();
    let (status, answered) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/accept"),
            Some(json!({"draft": drafts["retraction"]["draft"], "seal": seal(&drafts["retraction"], 11),
                "correction": {"draft": drafts["correction"]["draft"], "seal": seal(&drafts["correction"], 11)}})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let answer = &answered["answer"];
    assert_eq!(answer["outcome"], "accepted");
    assert_eq!(answer["retraction"], retraction.as_str());
    assert_eq!(answer["correction"], correction.as_str());
    // The positive is gone at once; the corrected result is a manual record an
    // official made, so it counts once a second official approves it.
    assert_eq!(answer["awaiting_approval"], true, "{answer}");
    assert_eq!(answer["code"]["colour"], "green", "re-derived at once");
    assert_eq!(p.colour(person(&id)).await.0, mingma_core::Colour::Green);
    let stored = |id: String| {
        let p = &p;
        async move {
            p.app
                .store
                .record(&mingma_core::RecordId::parse(&id).unwrap())
                .await
                .unwrap()
                .expect("stored")
        }
    };
    let (r, c) = (
        stored(retraction.clone()).await,
        stored(correction.clone()).await,
    );
    assert_eq!(c.leaf, r.leaf + 1, "appended together, retraction first");
    assert_eq!(c.evidence.subject, Some(person(&id)), "about the holder");
    assert!(c.evidence.seal.is_some() && r.evidence.seal.is_some());
    match &r.evidence.body {
        mingma_core::EvidenceBody::Retraction { reason: why, .. } => {
            assert!(
                why.starts_with(reason) && why.contains(&correction),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The holder is told why: the reason, the correction, the code after.
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    assert_eq!(mine[0]["answer"]["reason"], reason);
    assert_eq!(mine[0]["answer"]["correction"], correction.as_str());
    let kinds: Vec<&str> = mine[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opened", "accepted"]);
    let (_, history) = p
        .call(Method::GET, "/api/v1/me/history", None, Some(&me))
        .await;
    assert!(
        history.to_string().contains("样本编号录入错误"),
        "the retraction's reason is in the history: {history}"
    );
    // The second official approves the corrected result (the ordinary two-person
    // rule); the reviewer cannot approve their own.
    let (status, body) = p
        .record(
            &a,
            &key(11),
            json!({"type": "approval", "target": correction}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let b = p.sign_in("zz-b").await;
    let (status, body) = p
        .record(
            &b,
            &key(12),
            json!({"type": "approval", "target": correction}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(p.colour(person(&id)).await.0, mingma_core::Colour::Green);
    // Answered: no second answer.
    let answer = draft(
        a.clone(),
        json!({"target": "t-1", "reason": reason, "record": negative}),
    )
    .await;
    assert_eq!(
        (answer.0, code_of(&answer)),
        (StatusCode::CONFLICT, "ticket_answered")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_off_between_the_ledger_and_the_servers_database_is_reconciled_from_the_ledger()
{
    let p = province().await;
    let id = id_number("41010219940404007");
    let (me, ticket) = red_by_a_positive_test(&p, &id, "13800000007").await;
    let a = p.sign_in("zz-a").await;
    // The server's database fails right after the leaf is appended (as a crash
    // between the two writes would leave it).
    let fail = |on: bool| {
        let p = &p;
        async move {
            p.app
                .accounts
                .call(move |c| {
                    c.execute_batch(if on {
                        "CREATE TRIGGER cut BEFORE INSERT ON appeal_steps \
                         BEGIN SELECT RAISE(ABORT, 'simulated crash'); END;"
                    } else {
                        "DROP TRIGGER cut;"
                    })
                })
                .await
                .unwrap();
        }
    };
    fail(true).await;
    let size = p.app.store.ledger_size().await.unwrap();
    let answer = reject(&p, &ticket, &a, "维持原结果", &key(11)).await;
    assert_eq!(answer.0, StatusCode::INTERNAL_SERVER_ERROR, "{}", answer.1);
    assert_eq!(
        p.app.store.ledger_size().await.unwrap(),
        size + 1,
        "the leaf is in"
    );
    let t = ticket_status(&p, &me).await;
    assert_eq!(t["status"], "open", "but no row says so: {t}");
    assert_eq!(t["steps"].as_array().unwrap().len(), 1);
    // A note taken while it is cut off: the same.
    let (status, _) = p
        .call(
            Method::POST,
            &format!("/api/v1/official/appeals/{ticket}/notes"),
            Some(json!({"text": "已电话联系检测机构"})),
            Some(&a),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size + 2);

    // At start (or from the background task), the intents are resolved from the
    // ledger: both steps' leaves are there, so both are finished.
    fail(false).await;
    let done = p.app.reconcile_appeal_steps(0).await.unwrap();
    assert_eq!((done.finished, done.dropped), (2, 0));
    let (_, mine) = p
        .call(Method::GET, "/api/v1/me/appeals", None, Some(&me))
        .await;
    let answered = &mine[0];
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["answer"]["reason"], "维持原结果");
    let steps: Vec<(&str, u64)> = answered["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap(), s["leaf"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        &steps[1..],
        [("rejected", size), ("note", size + 1)],
        "{answered}"
    );
    assert_eq!(
        p.app.reconcile_appeal_steps(0).await.unwrap(),
        Default::default()
    );

    // The other way: an intent whose leaf never came (the crash before the
    // append) is dropped, with the pending ticket it opened.
    let entry = StepEntry {
        kind: mingma_server::appeals::StepKind::Opened,
        ticket: [0xab; 16],
        at: ts("2022-06-10T09:00:00+08:00"),
        addressee: "source:zz-lab".into(),
        handler: "zz-wjw".into(),
        deadline: None,
        commitment: [1; 32],
        signer: None,
    };
    let (bytes, from, key_person) = (
        entry.to_bytes(),
        p.app.store.ledger_size().await.unwrap() as i64,
        person(&id),
    );
    p.app
        .accounts
        .call(move |c| {
            c.execute(
                "INSERT INTO appeal_tickets (id, person, salt, addressee, owner, handler, claim, text, records, \
                 opened_by, opened_at, deadline, status) VALUES ('abababababababababababababababab', ?1, ?2, \
                 'source:zz-lab', 'zz-wjw', 'zz-wjw', 'other', 'x', 't-1', 'holder', 0, 0, 'pending')",
                rusqlite::params![key_person.as_bytes().as_slice(), [0u8; 32].as_slice()],
            )?;
            c.execute(
                "INSERT INTO appeal_intents (entry, key, ticket_step, actor, note, effect, from_leaf, created_at) \
                 VALUES (?1, 'abababababababababababababababab', 1, 'holder', NULL, '{\"effect\":\"open\"}', ?2, 0)",
                rusqlite::params![bytes, from],
            )
        })
        .await
        .unwrap();
    let done = p.app.reconcile_appeal_steps(0).await.unwrap();
    assert_eq!((done.finished, done.dropped), (0, 1));
    let left: i64 = p
        .app
        .accounts
        .call(|c| {
            c.query_row(
                "SELECT count(*) FROM appeal_tickets WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(left, 0);
}
