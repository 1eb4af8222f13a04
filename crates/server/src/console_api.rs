//! The officials' and data sources' JSON API, under `/api/v1/official` and
//! `/api/v1/evidence`. Consoles and imports are not the door flow: under overload
//! they are shed first (`overload`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mingma_core::evidence_file::read_record;
use mingma_core::Seal;
use mingma_store::Store;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{cookie, json_body};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::officials::Principal;

/// The official session cookie's name.
pub const OFFICIAL_COOKIE: &str = "mingma_official";

type St<S> = State<Arc<App<S>>>;

/// The routes.
pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/api/v1/official/signin", post(sign_in::<S>))
        .route("/api/v1/official/signout", post(sign_out::<S>))
        .route("/api/v1/official/me", get(me::<S>))
        .route("/api/v1/official/records/draft", post(draft_record::<S>))
        .route("/api/v1/official/drafts/{id}/seal", post(seal_draft::<S>))
        .route("/api/v1/official/trace", post(trace::<S>))
        .route("/api/v1/official/keys/enrol", post(enrol::<S>))
        .route("/api/v1/official/keys/enrolments", get(enrolments::<S>))
        .route("/api/v1/official/acts/draft", post(draft_act::<S>))
        .route("/api/v1/official/approvals", get(approvals::<S>))
        .route("/api/v1/official/quarantine", get(quarantine::<S>))
        .route("/api/v1/evidence", post(submit::<S>))
}

/// The caller's token: `Authorization: Bearer`, or the console's cookie.
pub fn official_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = auth.strip_prefix("Bearer ") {
            return Some(token.trim().to_owned());
        }
    }
    cookie(headers, OFFICIAL_COOKIE)
}

/// The signed-in official or data source, or 401.
pub async fn principal<S: Store>(app: &App<S>, headers: &HeaderMap) -> AppResult<Principal> {
    let token = official_token(headers).ok_or_else(|| {
        AppError::unauthorized(
            "not_signed_in",
            "sign in as an official, or give an API token",
        )
    })?;
    app.principal(&token).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    official: String,
    password: String,
}

async fn sign_in<S: Store>(State(app): St<S>, body: Bytes) -> AppResult<Response> {
    let request: SignIn = json_body(&body)?;
    let token = app
        .official_sign_in(&request.official, &request.password)
        .await?;
    let cookie = official_cookie(&token, app.config.secure_cookies())?;
    let mut response = Json(serde_json::json!({ "token": token })).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

/// The console's session cookie for `token` (12 hours, HttpOnly, SameSite=Strict).
pub fn official_cookie(token: &str, secure: bool) -> AppResult<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{OFFICIAL_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
    ))
    .map_err(AppError::internal)
}

async fn sign_out<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = official_token(&headers) {
        app.official_sign_out(&token).await?;
    }
    let mut response = Json(serde_json::json!({ "signed_out": true })).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("mingma_official=; Path=/; HttpOnly; Max-Age=0"),
    );
    Ok(response)
}

async fn me<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Json<Value>> {
    let who = principal(&app, &headers).await?;
    app.official_profile(&who).await.map(Json)
}

async fn draft_record<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let object: Value = json_body(&body)?;
    Ok(Json(app.draft_record(&who, object).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SealBody {
    seal: String,
}

async fn seal_draft<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let request: SealBody = json_body(&body)?;
    Ok(Json(app.seal_draft(&who, &id, &request.seal).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceBody {
    case: String,
    #[serde(default = "default_margin")]
    margin_minutes: u32,
}

fn default_margin() -> u32 {
    30
}

async fn trace<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let request: TraceBody = json_body(&body)?;
    Ok(Json(
        app.draft_trace(&who, &request.case, request.margin_minutes)
            .await?,
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    public_key: String,
}

/// An official's browser-generated public key, enrolled for an admin to register.
async fn enrol<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let request: EnrolBody = json_body(&body)?;
    Ok(Json(app.enrol_key(&who, &request.public_key).await?).into_response())
}

/// The enrolled keys an admin may register.
async fn enrolments<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    Ok(Json(app.pending_enrolments(&who).await?).into_response())
}

/// An admin's authority act (the `act` object of the ledger's act format, e.g.
/// `{"act": "register_key", "official": "...", "key": "..."}`), drafted for the
/// admin's browser to seal and submit to `/api/v1/official/drafts/{id}/seal`.
async fn draft_act<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let act: mingma_authority::Act = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request("malformed_act", format!("request body: {e}")))?;
    Ok(Json(app.draft_admin_act(&who, act).await?).into_response())
}

async fn approvals<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Json<Value>> {
    let who = principal(&app, &headers).await?;
    Ok(Json(Value::Array(app.pending_approvals(&who).await?)))
}

async fn quarantine<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    Ok(Json(app.quarantine_list(&who).await?).into_response())
}

/// A record sealed by its maker (a data source's system, an official's key file),
/// in the evidence-file format with its `seal`.
async fn submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let object: Value = json_body(&body)?;
    let Value::Object(mut map) = object else {
        return Err(AppError::bad_request(
            "malformed_record",
            "a record is a JSON object",
        ));
    };
    let seal = match map.remove("seal") {
        Some(Value::String(text)) => Some(
            Seal::parse(&text)
                .map_err(|e| AppError::bad_request("malformed_seal", format!("`seal`: {e}")))?,
        ),
        Some(_) => {
            return Err(AppError::bad_request(
                "malformed_seal",
                "`seal` must be a string",
            ))
        }
        None => None,
    };
    let registry = app.engine.registry().await?;
    let mut directory = registry.directory.clone();
    directory.venues = app.registry().directory.venues.clone();
    let mut record = read_record(&directory, Value::Object(map), &app.keys.pseudonym)
        .map_err(|e| AppError::bad_request("malformed_record", e))?;
    record.seal = seal;
    Ok(Json(app.submit_record(&who, record).await?).into_response())
}
