//! Issue 6 end to end through the API: a lab's signed positive result, a case
//! report approved by a second official, a tracing query logged before its results,
//! close-contact designations that change no code until a second official approves
//! them, refusals (self-approval, outside the jurisdiction, a bad seal), codes that
//! turn red with reason, source and time, and return to green after the windows and
//! negative tests.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use mingma_authority::act::key_hex;
use mingma_authority::{Act, ActBody, Grant, KeyId, Role, SignedAct};
use mingma_core::{
    AuthorityId, Colour, DataSourceId, Evidence, EvidenceBody, Jurisdiction, NationalId,
    OfficialId, PersonKey, Presence, RecordId, Recorder, Seal, SourceKind, Timestamp, Venue,
    VenueId, VenueKind,
};
use mingma_ledger::{CheckpointSigner, SigningKey as LogKey};
use mingma_server::accounts::VenueRecord;
use mingma_server::app::Keys;
use mingma_server::officials::{hash_password, Principal};
use mingma_server::{App, Config};
use mingma_store::Store;
use mingma_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::support::{issuer_key, pseudonym_key, ts, venue_key, TestClock};

pub const PASSWORD: &str = "correct horse battery";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A valid GB 11643 ID number from 17 digits.
pub fn id_number(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

pub fn seal_text(message_b64: &str, signer: &SigningKey) -> String {
    let message = base64::engine::general_purpose::STANDARD
        .decode(message_b64)
        .unwrap();
    Seal {
        key: *KeyId::of(&signer.verifying_key()).as_bytes(),
        signature: signer.sign(&message).to_bytes(),
    }
    .to_string()
}

pub struct Province {
    pub app: Arc<App<SqliteStore>>,
    pub router: Router,
    pub clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

/// Henan's health commission (province admins), Zhengzhou's (city officials and a
/// tracing team), Kaifeng's (another city), and a Zhengzhou lab.
pub async fn province() -> Province {
    province_with(|_| {}).await
}

/// [`province`] with its configuration changed by `configure`.
pub async fn province_with(configure: impl FnOnce(&mut Config)) -> Province {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        db: dir.path().join("store.sqlite").display().to_string(),
        accounts_db: dir.path().join("accounts.sqlite"),
        public_url: "http://mingma.test".into(),
        demo_channels: true,
        ..Config::default()
    };
    configure(&mut config);
    let store = SqliteStore::open(&config.db).unwrap();
    let keys = Keys {
        issuer: issuer_key(),
        venue: venue_key(),
        log: CheckpointSigner::new("mingma.example/log", LogKey::from_bytes(&[9; 32])).unwrap(),
        pseudonym: pseudonym_key(),
    };
    let clock = Arc::new(TestClock(AtomicI64::new(
        ts("2022-06-10T09:00:00+08:00").unix_seconds(),
    )));
    let app = mingma_server::build(config, store, keys, clock.clone())
        .await
        .unwrap();
    let at = ts("2022-06-01T00:00:00+08:00");
    let official = |s: &str| OfficialId::parse(s).unwrap();
    let authority = |s: &str| AuthorityId::parse(s).unwrap();
    let place = |s: &str| Jurisdiction::parse(s).unwrap();
    let mut acts: Vec<(OfficialId, u8, Act)> = vec![(
        official("hn-admin-1"),
        1,
        Act::Bootstrap {
            authority: authority("hn-wjw"),
            authority_name: "河南省卫生健康委员会".into(),
            jurisdiction: place("41"),
            official: official("hn-admin-1"),
            name: "省管理员一".into(),
            key: key_hex(&key(1).verifying_key()),
        },
    )];
    let admin = |act| (official("hn-admin-1"), 1u8, act);
    acts.push(admin(Act::AddOfficial {
        official: official("hn-admin-2"),
        name: "省管理员二".into(),
        authority: authority("hn-wjw"),
    }));
    acts.push(admin(Act::RegisterKey {
        official: official("hn-admin-2"),
        key: key_hex(&key(2).verifying_key()),
    }));
    acts.push(admin(Act::GrantRole {
        official: official("hn-admin-2"),
        grant: Grant {
            role: Role::Admin,
            jurisdiction: place("41"),
        },
    }));
    for (id, name, code) in [
        ("zz-wjw", "郑州市卫生健康委员会", "4101"),
        ("kf-wjw", "开封市卫生健康委员会", "4102"),
    ] {
        acts.push(admin(Act::AddAuthority {
            authority: authority(id),
            name: name.into(),
            name_en: None,
            jurisdiction: place(code),
            contact: Some("12345".into()),
        }));
    }
    for (id, seed, auth, role, code) in [
        ("hn-q", 15, "hn-wjw", Role::HealthOfficial, "41"),
        ("hn-r", 16, "hn-wjw", Role::HealthOfficial, "41"),
        ("zz-a", 11, "zz-wjw", Role::HealthOfficial, "4101"),
        ("zz-b", 12, "zz-wjw", Role::HealthOfficial, "4101"),
        ("zz-t", 13, "zz-wjw", Role::TracingTeam, "4101"),
        ("kf-x", 14, "kf-wjw", Role::HealthOfficial, "4102"),
    ] {
        acts.push(admin(Act::AddOfficial {
            official: official(id),
            name: id.into(),
            authority: authority(auth),
        }));
        acts.push(admin(Act::RegisterKey {
            official: official(id),
            key: key_hex(&key(seed).verifying_key()),
        }));
        acts.push(admin(Act::GrantRole {
            official: official(id),
            grant: Grant {
                role,
                jurisdiction: place(code),
            },
        }));
    }
    acts.push(admin(Act::RegisterSource {
        source: DataSourceId::parse("zz-lab").unwrap(),
        kind: SourceKind::Lab,
        authority: authority("zz-wjw"),
        name: "郑州金域检验".into(),
        key: key_hex(&key(30).verifying_key()),
    }));
    acts.push(admin(Act::RegisterSource {
        source: DataSourceId::parse("cgo-customs").unwrap(),
        kind: SourceKind::Customs,
        authority: authority("hn-wjw"),
        name: "郑州新郑国际机场海关".into(),
        key: key_hex(&key(31).verifying_key()),
    }));
    let mut proposals = Vec::new();
    for (by, seed, act) in acts {
        let is_source = matches!(act, Act::RegisterSource { .. });
        let signed = SignedAct::sign(ActBody { by, at, act }, &key(seed));
        let leaf = app.store.append_act(signed.to_bytes()).await.unwrap();
        if is_source {
            proposals.push(leaf);
        }
    }
    for proposal in proposals {
        let confirm = SignedAct::sign(
            ActBody {
                by: official("hn-admin-2"),
                at,
                act: Act::Confirm { proposal },
            },
            &key(2),
        );
        app.store.append_act(confirm.to_bytes()).await.unwrap();
    }
    let registry = app.engine.registry().await.unwrap();
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    assert!(registry
        .directory
        .sources
        .contains_key(&DataSourceId::parse("zz-lab").unwrap()));

    for id in ["hn-q", "hn-r", "zz-a", "zz-b", "zz-t", "kf-x"] {
        app.accounts
            .set_official_password(&official(id), hash_password(PASSWORD).unwrap())
            .await
            .unwrap();
    }
    app.add_registry(
        Vec::new(),
        vec![VenueRecord {
            venue: Venue {
                id: VenueId::parse("zz-hotpot-1").unwrap(),
                name: "二七火锅".into(),
                street: place("410103001"),
                kind: VenueKind::Restaurant,
            },
            address: "郑州市二七区解放路1号".into(),
            operator: None,
            poster_issued_at: at,
        }],
    )
    .await
    .unwrap();
    let router = mingma_server::router(app.clone());
    Province {
        app,
        router,
        clock,
        _dir: dir,
    }
}

impl Province {
    pub fn set(&self, when: &str) {
        self.clock
            .0
            .store(ts(when).unix_seconds(), std::sync::atomic::Ordering::SeqCst);
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 10 << 20).await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        (status, value)
    }

    /// 二七区 (410103) proposed as a high-risk area from 7 to 12 June 2022, as `id`,
    /// by zz-a (signed in as `a`): it takes effect once a second official approves.
    pub async fn propose_erqi_high_risk(&self, a: &str, id: &str) -> (StatusCode, Value) {
        self.record(
            a,
            &key(11),
            json!({"type": "risk_area", "id": id, "level": "high", "divisions": ["410103"],
                   "from": "2022-06-07T00:00:00+08:00", "until": "2022-06-12T00:00:00+08:00",
                   "legal_basis": "郑州市疫情防控指挥部通告2022年第50号"}),
        )
        .await
    }

    /// 二七区 (410103) declared high risk from 7 to 12 June 2022 as `ra-2` by zz-a,
    /// approved by zz-b.
    pub async fn declare_erqi_high_risk(&self) {
        let a = self.sign_in("zz-a").await;
        let b = self.sign_in("zz-b").await;
        let (status, body) = self.propose_erqi_high_risk(&a, "ra-2").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .record(
                &b,
                &key(12),
                json!({"type": "approval", "id": "ra-2-ok", "target": "ra-2"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Signs a holder up through the API with the demo channel; their session
    /// (sent as Bearer).
    /// An API token of Zhengzhou's lab (`zz-lab`), a registered data source.
    pub async fn lab_token(&self) -> String {
        self.app
            .accounts
            .issue_official_token(
                &Principal::Source(DataSourceId::parse("zz-lab").unwrap()),
                "api",
                None,
            )
            .await
            .unwrap()
    }

    pub async fn holder(&self, id: &str, name: &str, phone: &str) -> String {
        let (status, started) = self
            .call(
                Method::POST,
                "/api/v1/signin",
                Some(json!({"id_number": id, "name": name, "phone": phone})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let (status, session) = self
            .call(
                Method::POST,
                "/api/v1/signin/confirm",
                Some(json!({"challenge": started["challenge"], "code": started["demo_code"]})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["session"].as_str().unwrap().to_owned()
    }

    pub async fn sign_in(&self, official: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/official/signin",
                Some(json!({"official": official, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Drafts a record as `token`, seals it with `signer`, submits the seal.
    pub async fn record(
        &self,
        token: &str,
        signer: &SigningKey,
        record: Value,
    ) -> (StatusCode, Value) {
        let (status, draft) = self
            .call(
                Method::POST,
                "/api/v1/official/records/draft",
                Some(record),
                Some(token),
            )
            .await;
        if status != StatusCode::OK {
            return (status, draft);
        }
        let seal = seal_text(draft["message"].as_str().unwrap(), signer);
        self.call(
            Method::POST,
            &format!(
                "/api/v1/official/drafts/{}/seal",
                draft["draft"].as_str().unwrap()
            ),
            Some(json!({ "seal": seal })),
            Some(token),
        )
        .await
    }

    pub async fn colour(&self, person: PersonKey) -> (Colour, Option<String>, Option<Timestamp>) {
        let now = self.app.now();
        self.app.engine.rederive(&[person], now).await.unwrap();
        let state = self.app.store.code_state(person).await.unwrap().unwrap();
        (
            state.change.colour(),
            state.change.reason().map(str::to_owned),
            state.change.since(),
        )
    }
}

pub fn person(id: &str) -> PersonKey {
    pseudonym_key().person_key(&NationalId::parse(id).unwrap())
}

fn scan(id: &str, who: &str, at: &str, left: &str) -> Evidence {
    Evidence {
        id: RecordId::parse(id).unwrap(),
        subject: Some(person(who)),
        recorded_by: Recorder::Holder,
        authority: None,
        legal_basis: None,
        effective_at: ts(at),
        recorded_at: ts(at),
        body: EvidenceBody::VenueScan {
            venue: VenueId::parse("zz-hotpot-1").unwrap(),
            street: Jurisdiction::parse("410103001").unwrap(),
            venue_kind: VenueKind::Restaurant,
            left_at: Some(ts(left)),
            presence: Presence::Rotating,
        },
        seal: None,
    }
}

/// A scan of each of `visitors` (ID numbers) at a hotpot restaurant in 二七区 on
/// 8 June 2022, noon to one, as `s-v0`, `s-v1`, ...
fn erqi_visits(visitors: &[String]) -> Vec<Evidence> {
    visitors
        .iter()
        .enumerate()
        .map(|(n, who)| {
            scan(
                &format!("s-v{n}"),
                who,
                "2022-06-08T12:00:00+08:00",
                "2022-06-08T13:00:00+08:00",
            )
        })
        .collect()
}

pub fn lab_test(id: &str, who: &str, outcome: &str, at: &str) -> Value {
    json!({
        "type": "test_result", "id": id, "subject": who,
        "recorded_by": "source:zz-lab", "authority": "zz-wjw",
        "effective_at": at, "recorded_at": at,
        "method": "nucleic_acid", "outcome": outcome, "sampled_at": at,
    })
}

/// Seals a lab line (the lab's own system signs) and submits it with its token.
pub async fn lab_submits(p: &Province, token: &str, line: Value) -> (StatusCode, Value) {
    source_submits(p, token, line, &key(30)).await
}

/// Seals a source's line with `signer` and submits it with the source's token.
pub async fn source_submits(
    p: &Province,
    token: &str,
    line: Value,
    signer: &SigningKey,
) -> (StatusCode, Value) {
    let line = sealed(p, line, signer).await;
    p.call(Method::POST, "/api/v1/evidence", Some(line), Some(token))
        .await
}

/// `line` (an evidence-file object) with the seal `signer` makes over the record
/// it reads as.
pub async fn sealed(p: &Province, line: Value, signer: &SigningKey) -> Value {
    let mut map = line.as_object().unwrap().clone();
    let record = mingma_core::evidence_file::read_record_object(
        &p.app.engine.registry().await.unwrap().directory,
        Value::Object(map.clone()),
        &pseudonym_key(),
    )
    .unwrap();
    let seal = mingma_authority::sign(&record, signer);
    map.insert("seal".into(), Value::String(seal.to_string()));
    Value::Object(map)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbreak_is_handled_under_the_two_person_rule_and_codes_return_to_green() {
    let p = province().await;
    let case_id = id_number("41010219800101001");
    let near = id_number("41010219900202002");
    let also = id_number("41010219910303003");
    let later = id_number("41010219920404004");
    p.app
        .store
        .append(vec![
            scan(
                "s-case",
                &case_id,
                "2022-06-08T12:00:00+08:00",
                "2022-06-08T13:00:00+08:00",
            ),
            scan(
                "s-near",
                &near,
                "2022-06-08T12:30:00+08:00",
                "2022-06-08T13:30:00+08:00",
            ),
            scan(
                "s-also",
                &also,
                "2022-06-08T13:10:00+08:00",
                "2022-06-08T14:00:00+08:00",
            ),
            scan(
                "s-later",
                &later,
                "2022-06-08T18:00:00+08:00",
                "2022-06-08T19:00:00+08:00",
            ),
        ])
        .await
        .unwrap();

    // The lab's system submits a signed positive result: the case is red at once.
    let lab = p.lab_token().await;
    let (status, body) = lab_submits(
        &p,
        &lab,
        lab_test("t-pos", &case_id, "positive", "2022-06-10T08:00:00+08:00"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"]["red"], 1, "{body}");
    assert_eq!(p.colour(person(&case_id)).await.0, Colour::Red);

    // A badly signed lab record is refused and nothing is recorded.
    let size = p.app.store.ledger_size().await.unwrap();
    let mut forged = lab_test("t-forged", &near, "positive", "2022-06-10T08:00:00+08:00");
    forged["seal"] = json!(Seal {
        key: [0; 8],
        signature: [0; 64]
    }
    .to_string());
    let (status, body) = p
        .call(Method::POST, "/api/v1/evidence", Some(forged), Some(&lab))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "bad_seal", "{body}");
    assert_eq!(p.app.store.ledger_size().await.unwrap(), size);

    // The case report: entered by hand by one official, approved by a second.
    let a = p.sign_in("zz-a").await;
    let b = p.sign_in("zz-b").await;
    let (status, body) = p
        .record(
            &a,
            &key(11),
            json!({"type": "case_report", "id": "c-1", "subject": case_id,
                   "classification": "confirmed", "test": "t-pos",
                   "effective_at": "2022-06-10T09:00:00+08:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["awaiting_approval"], true, "{body}");
    let (status, body) = p
        .record(
            &b,
            &key(12),
            json!({"type": "approval", "id": "c-1-ok", "target": "c-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The tracing team traces the case; the query is a ledger act before results.
    let t = p.sign_in("zz-t").await;
    let (status, draft) = p
        .call(
            Method::POST,
            "/api/v1/official/trace",
            Some(json!({"case": "c-1", "margin_minutes": 30})),
            Some(&t),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    let seal = seal_text(draft["message"].as_str().unwrap(), &key(13));
    let (status, traced) = p
        .call(
            Method::POST,
            &format!(
                "/api/v1/official/drafts/{}/seal",
                draft["draft"].as_str().unwrap()
            ),
            Some(json!({ "seal": seal })),
            Some(&t),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{traced}");
    let found: Vec<String> = traced["trace"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec![person(&near).to_string(), person(&also).to_string()];
    expected.sort();
    assert_eq!(found, expected, "the co-located holders, not the later one");
    let registry = p.app.engine.registry().await.unwrap();
    assert_eq!(registry.tracing_queries.len(), 1);

    // Designations for both, proposed by the tracing team: no code changes yet.
    p.set("2022-06-10T10:30:00+08:00");
    for (n, contact) in traced["trace"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let overlap = &contact["overlaps"][0];
        let (status, body) = p
            .record(
                &t,
                &key(13),
                json!({"type": "close_contact", "id": format!("cc-{n}"), "subject_key": contact["person"],
                       "case": "c-1",
                       "exposure": {"venue": overlap["venue"], "from": overlap["from"], "until": overlap["until"]},
                       "legal_basis": "《传染病防治法》第四十二条",
                       "effective_at": "2022-06-10T10:00:00+08:00"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["awaiting_approval"], true);
        assert_eq!(
            body["changed"]["red"], 0,
            "an unapproved designation changes no code"
        );
    }
    assert_eq!(p.colour(person(&near)).await.0, Colour::Green);
    let (status, waiting) = p
        .call(Method::GET, "/api/v1/official/approvals", None, Some(&b))
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["record"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cc-0", "cc-1"], "{waiting}");
    assert_eq!(waiting[0]["own"], false);
    let (_, mine) = p
        .call(Method::GET, "/api/v1/official/approvals", None, Some(&t))
        .await;
    assert_eq!(mine[0]["own"], true, "{mine}");

    // Self-approval is refused, and so is an official of another city.
    let (status, body) = p
        .record(
            &t,
            &key(13),
            json!({"type": "approval", "id": "cc-0-self", "target": "cc-0"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("self_approval")),
        "{body}"
    );
    let x = p.sign_in("kf-x").await;
    let (status, body) = p
        .record(
            &x,
            &key(14),
            json!({"type": "approval", "id": "cc-0-kf", "target": "cc-0"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("zz-wjw"),
        "{body}"
    );

    // The second Zhengzhou official approves: both turn red, as close contacts, since
    // the designation, owned by Zhengzhou's commission.
    for n in 0..2 {
        let (status, body) = p
            .record(&b, &key(12), json!({"type": "approval", "id": format!("cc-{n}-ok"), "target": format!("cc-{n}")}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["changed"]["red"], 1, "{body}");
    }
    let (colour, reason, since) = p.colour(person(&near)).await;
    assert_eq!(colour, Colour::Red);
    assert_eq!(reason.as_deref(), Some("close_contact_quarantine"));
    assert_eq!(since, Some(ts("2022-06-10T10:00:00+08:00")));
    assert_eq!(p.colour(person(&later)).await.0, Colour::Green);

    // After the 7 days: yellow; two negative tests 24 h apart: green. The other
    // contact turns green when the monitoring window ends.
    p.set("2022-06-17T11:00:00+08:00");
    assert_eq!(p.colour(person(&near)).await.0, Colour::Yellow);
    for (id, at) in [
        ("t-n1", "2022-06-17T12:00:00+08:00"),
        ("t-n2", "2022-06-18T13:00:00+08:00"),
    ] {
        p.set(at);
        let (status, body) = lab_submits(&p, &lab, lab_test(id, &near, "negative", at)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(p.colour(person(&near)).await.0, Colour::Green);
    assert_eq!(p.colour(person(&also)).await.0, Colour::Yellow);
    p.set("2022-06-20T11:00:00+08:00");
    assert_eq!(p.colour(person(&also)).await.0, Colour::Green);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_declared_high_risk_turns_its_visitors_red_once_approved_and_lifting_it_turns_them_back(
) {
    let p = province().await;
    let visitors: Vec<String> = (1..=3)
        .map(|n| id_number(&format!("4101021985050{n}00{n}")))
        .collect();
    let elsewhere = id_number("41020219870707007");
    let mut scans = erqi_visits(&visitors);
    // Before the window: not affected.
    scans.push(scan(
        "s-away",
        &elsewhere,
        "2022-06-05T12:00:00+08:00",
        "2022-06-05T13:00:00+08:00",
    ));
    p.app.store.append(scans).await.unwrap();
    let a = p.sign_in("zz-a").await;
    let b = p.sign_in("zz-b").await;

    let (status, body) = p.propose_erqi_high_risk(&a, "ra-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["awaiting_approval"], true);
    assert_eq!(
        body["changed"]["red"], 0,
        "a declaration without approval changes no code"
    );
    for who in &visitors {
        assert_eq!(p.colour(person(who)).await.0, Colour::Green);
    }

    let (status, body) = p
        .record(
            &b,
            &key(12),
            json!({"type": "approval", "id": "ra-1-ok", "target": "ra-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"]["red"], 3, "{body}");
    assert_eq!(
        p.app.store.pending_derivations().await.unwrap(),
        Vec::<u64>::new(),
        "the declaration's and the approval's re-derivations are marked done"
    );
    for who in &visitors {
        let (colour, reason, _) = p.colour(person(who)).await;
        assert_eq!(
            (colour, reason.as_deref()),
            (Colour::Red, Some("high_risk_area_stay"))
        );
    }
    assert_eq!(p.colour(person(&elsewhere)).await.0, Colour::Green);

    // Lifting it: a retraction by its owner. Taking away what raised codes needs no
    // second official (only an act that could raise a code does).
    let (status, body) = p
        .record(
            &a,
            &key(11),
            json!({"type": "retraction", "id": "ra-1-lift", "target": "ra-1",
                   "reason": "流调排除，解除风险区"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["awaiting_approval"], false, "{body}");
    assert_eq!(body["changed"]["green"], 3, "{body}");
    for who in &visitors {
        assert_eq!(p.colour(person(who)).await.0, Colour::Green);
    }
}

/// Polls `future` once, in the calling task; whether it finished.
async fn poll_once<F: std::future::Future>(mut future: std::pin::Pin<&mut F>) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx).is_ready())).await
}

/// The official who approves a district's declaration may close the page, or a
/// proxy give up, while hundreds of thousands of codes are re-derived; the HTTP
/// server then drops the request's future. The approval is recorded by then, and so
/// must be the codes it changes: console work runs on a task of its own
/// (`overload::admit`), which a dropped request does not cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_request_is_dropped_still_re_derives_the_area_s_codes() {
    let p = province().await;
    // Enough visitors that their re-derivation outlasts a poll of the request.
    let visitors: Vec<String> = (0..2_000)
        .map(|n| id_number(&format!("4101021985050{}{:03}", 1 + n / 1_000, n % 1_000)))
        .collect();
    let scans = erqi_visits(&visitors);
    p.app.store.append(scans).await.unwrap();
    let everyone: Vec<PersonKey> = visitors.iter().map(|who| person(who)).collect();
    p.app.engine.rederive(&everyone, p.app.now()).await.unwrap();
    let a = p.sign_in("zz-a").await;
    let b = p.sign_in("zz-b").await;
    let (status, body) = p.propose_erqi_high_risk(&a, "ra-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The approval's request, driven by hand: polled until the approval is in the
    // ledger, then once more after its append has answered, then dropped unfinished.
    let (status, draft) = p
        .call(
            Method::POST,
            "/api/v1/official/records/draft",
            Some(json!({"type": "approval", "id": "ra-1-ok", "target": "ra-1"})),
            Some(&b),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    let seal = seal_text(draft["message"].as_str().unwrap(), &key(12));
    let path = format!(
        "/api/v1/official/drafts/{}/seal",
        draft["draft"].as_str().unwrap()
    );
    let before = p.app.store.ledger_size().await.unwrap();
    {
        let request = p.call(Method::POST, &path, Some(json!({ "seal": seal })), Some(&b));
        let mut request = std::pin::pin!(request);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while p.app.store.ledger_size().await.unwrap() == before {
            assert!(
                !poll_once(request.as_mut()).await,
                "the request ended before its append"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the approval was never appended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !poll_once(request.as_mut()).await,
            "the request ended before it was dropped"
        );
    }

    // Nobody re-derives here (`Province::colour` would): the stored codes turn red
    // by the approval's own re-derivation, or never.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for who in &visitors {
        loop {
            let state = p.app.store.code_state(person(who)).await.unwrap();
            if state.as_ref().map(|s| s.change.colour()) == Some(Colour::Red) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{who}'s stored code never turned red: {:?}",
                state.map(|s| s.change.colour())
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_province_quarantine_order_on_a_customs_entry_is_listed_until_released() {
    let p = province().await;
    let traveller = id_number("41010219750808008");
    let customs = p
        .app
        .accounts
        .issue_official_token(
            &Principal::Source(DataSourceId::parse("cgo-customs").unwrap()),
            "api",
            None,
        )
        .await
        .unwrap();
    let entry = json!({
        "type": "border_entry", "id": "be-1", "subject": traveller,
        "recorded_by": "source:cgo-customs", "authority": "hn-wjw",
        "effective_at": "2022-06-10T07:00:00+08:00", "recorded_at": "2022-06-10T07:30:00+08:00",
        "port": "郑州新郑国际机场", "origin": "首尔",
    });
    // A record claiming to be recorded in the future is refused.
    let mut ahead = entry.clone();
    ahead["recorded_at"] = json!("2022-06-10T10:00:00+08:00");
    let (status, body) = source_submits(&p, &customs, ahead, &key(31)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("recorded_in_the_future")),
        "{body}"
    );
    // Customs signs with its own key; a lab's key is refused for it.
    let (status, body) = source_submits(&p, &customs, entry.clone(), &key(30)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_seal")),
        "{body}"
    );
    let (status, body) = source_submits(&p, &customs, entry, &key(31)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let q = p.sign_in("hn-q").await;
    let r = p.sign_in("hn-r").await;
    let order = json!({"type": "quarantine_order", "id": "qo-1", "subject": traveller,
        "setting": "centralised", "facility": "郑州市集中隔离点A", "ground": "be-1",
        "planned_end": "2022-06-17T07:00:00+08:00",
        "legal_basis": "《传染病防治法》第三十九条", "effective_at": "2022-06-10T08:00:00+08:00"});
    let (status, body) = p.record(&q, &key(15), order).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, list) = p
        .call(Method::GET, "/api/v1/official/quarantine", None, Some(&q))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([]),
        "an unapproved order puts nobody under quarantine"
    );

    let (status, body) = p
        .record(
            &r,
            &key(16),
            json!({"type": "approval", "id": "qo-1-ok", "target": "qo-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (colour, reason, _) = p.colour(person(&traveller)).await;
    assert_eq!(
        (colour, reason.as_deref()),
        (Colour::Red, Some("inbound_traveller_quarantine"))
    );
    let (_, list) = p
        .call(Method::GET, "/api/v1/official/quarantine", None, Some(&q))
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["order"], "qo-1");
    assert_eq!(list[0]["person"], person(&traveller).to_string());
    // A city official's list covers only the city's authorities' orders.
    let a = p.sign_in("zz-a").await;
    let (_, list) = p
        .call(Method::GET, "/api/v1/official/quarantine", None, Some(&a))
        .await;
    assert_eq!(list, json!([]));

    // Released after 7 days: off the list, and the monitoring period follows.
    // (The sessions of a week ago have expired.)
    p.set("2022-06-17T09:00:00+08:00");
    let (status, _) = p
        .call(Method::GET, "/api/v1/official/me", None, Some(&q))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let q = p.sign_in("hn-q").await;
    let (status, body) = p
        .record(&q, &key(15), json!({"type": "quarantine_release", "id": "qr-1", "subject": traveller, "order": "qo-1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = p
        .call(Method::GET, "/api/v1/official/quarantine", None, Some(&q))
        .await;
    assert_eq!(list, json!([]));
    assert_eq!(p.colour(person(&traveller)).await.0, Colour::Yellow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_an_official_out_for_a_while() {
    let p = province().await;
    for _ in 0..10 {
        let (status, body) = p
            .call(
                Method::POST,
                "/api/v1/official/signin",
                Some(json!({"official": "zz-a", "password": "wrong password!"})),
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
        );
    }
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/signin",
            Some(json!({"official": "zz-a", "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("signin_locked")),
        "{body}"
    );
    // Unknown officials get the same answer as a wrong password.
    let (status, body) = p
        .call(
            Method::POST,
            "/api/v1/official/signin",
            Some(json!({"official": "nobody", "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );
    p.set("2022-06-10T09:16:00+08:00");
    p.sign_in("zz-a").await;
}

/// A holder checking in: a scan at a venue outside every risk area leaves the code
/// shown as it was (the same signed code); a scan inside a declared high-risk
/// district during its window turns it red in the check-in's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_inside_a_declared_area_turns_the_code_red_one_outside_leaves_it() {
    let p = province().await;
    p.declare_erqi_high_risk().await;

    let holder = p
        .holder(&id_number("41010219900909009"), "孙七", "13700002222")
        .await;
    let mut posters = Vec::new();
    for (name, street) in [("管城烩面馆", "410104001"), ("二七商场", "410103001")] {
        let (status, v) = p
            .call(
                Method::POST,
                "/api/v1/venues",
                Some(json!({"name": name, "address": "郑州市", "street": street, "kind": "restaurant"})),
                Some(&holder),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        posters.push(v["poster_url"].as_str().unwrap().to_owned());
    }
    let (status, code) = p
        .call(Method::GET, "/api/v1/me/code", None, Some(&holder))
        .await;
    assert_eq!(
        (status, code["colour"].as_str()),
        (StatusCode::OK, Some("green"))
    );

    // Seconds later: a code derived again would be signed anew.
    p.set("2022-06-10T09:00:05+08:00");
    let (status, outside) = p
        .call(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": posters[0]})),
            Some(&holder),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{outside}");
    assert_eq!(
        outside["code"]["signed_code"], code["signed_code"],
        "a scan outside every area leaves the code shown as it was"
    );

    let (status, inside) = p
        .call(
            Method::POST,
            "/api/v1/checkins",
            Some(json!({"token": posters[1]})),
            Some(&holder),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inside}");
    assert_eq!(inside["code"]["colour"], "red", "{inside}");
    assert_eq!(
        inside["code"]["rules"][0]["rule"], "high-risk-area",
        "{inside}"
    );
}
