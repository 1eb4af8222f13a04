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
use mingma_core::evidence_file::read_record_object;
use mingma_core::Seal;
use mingma_store::Store;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{cookie, json_body};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
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

/// An official signs in with a password; a 12-hour session (cookie and token).
#[utoipa::path(post, path = "/api/v1/official/signin", tag = "officials", description = "An official signs in with a password; a 12-hour session (cookie and token).", request_body = Object,
    responses((status = 200, body = Object, description = "{token}"), (status = 401, body = ErrorBody, description = "bad_credentials"), (status = 429, body = ErrorBody, description = "signin_locked")))]
pub async fn sign_in<S: Store>(State(app): St<S>, body: Bytes) -> AppResult<Response> {
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

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/official/signout", tag = "officials", description = "Ends the session.",
    responses((status = 200, body = Object)))]
pub async fn sign_out<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
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

/// The official: authority, grants, registered keys, pending enrolments.
#[utoipa::path(get, path = "/api/v1/official/me", tag = "officials", description = "The official: authority, grants, registered keys, pending enrolments.",
    responses((status = 200, body = Object), (status = 401, body = ErrorBody, description = "not_signed_in")))]
pub async fn me<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Json<Value>> {
    let who = principal(&app, &headers).await?;
    app.official_profile(&who).await.map(Json)
}

/// Drafts a hand-made record (an evidence-file object) for the official to seal: checked against the official's grants; returns the exact message to sign.
#[utoipa::path(post, path = "/api/v1/official/records/draft", tag = "officials", description = "Drafts a hand-made record (an evidence-file object) for the official to seal: checked against the official's grants; returns the exact message to sign.", request_body = Object,
    responses((status = 200, body = Object, description = "{draft, kind, record, summary, message, key}"), (status = 400, body = ErrorBody, description = "malformed_record, unknown_target"), (status = 403, body = ErrorBody, description = "not_permitted, outside_jurisdiction, self_approval, not_the_owner, no_legal_basis")))]
pub async fn draft_record<S: Store>(
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

/// Submits the seal of a draft: the record or act is appended, the affected codes re-derived (counts by colour); for a tracing query, its results.
#[utoipa::path(post, path = "/api/v1/official/drafts/{id}/seal", tag = "officials", description = "Submits the seal of a draft: the record or act is appended, the affected codes re-derived (counts by colour); for a tracing query, its results.", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody, description = "malformed_seal, bad_seal, act_refused"), (status = 404, body = ErrorBody, description = "unknown_draft")))]
pub async fn seal_draft<S: Store>(
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

/// Drafts a contact-tracing query for a case report (its purpose); sealing it logs it and returns the contacts.
#[utoipa::path(post, path = "/api/v1/official/trace", tag = "officials", description = "Drafts a contact-tracing query for a case report (its purpose); sealing it logs it and returns the contacts.", request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody, description = "not_permitted, outside_jurisdiction"), (status = 404, body = ErrorBody, description = "unknown_case")))]
pub async fn trace<S: Store>(
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
#[utoipa::path(post, path = "/api/v1/official/keys/enrol", tag = "officials", description = "Records a public key generated in the official's browser, for an admin to register.", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub async fn enrol<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let request: EnrolBody = json_body(&body)?;
    Ok(Json(app.enrol_key(&who, &request.public_key).await?).into_response())
}

/// The enrolled keys an admin may register.
#[utoipa::path(get, path = "/api/v1/official/keys/enrolments", tag = "officials", description = "Admins: keys waiting to be registered, within their jurisdiction.",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody, description = "not_permitted")))]
pub async fn enrolments<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    Ok(Json(app.pending_enrolments(&who).await?).into_response())
}

/// An admin's authority act (the `act` object of the ledger's act format, e.g.
/// `{"act": "register_key", "official": "...", "key": "..."}`), drafted for the
/// admin's browser to seal and submit to `/api/v1/official/drafts/{id}/seal`.
#[utoipa::path(post, path = "/api/v1/official/acts/draft", tag = "officials", description = "Admins: drafts an authority act (register a key, grant a role, ...) for the admin's browser to seal.", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody, description = "act_refused"), (status = 403, body = ErrorBody, description = "not_permitted, outside_jurisdiction")))]
pub async fn draft_act<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let act: mingma_authority::Act = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request("malformed_act", format!("request body: {e}")))?;
    Ok(Json(app.draft_admin_act(&who, act).await?).into_response())
}

/// Records of the official's authority waiting for a second official.
#[utoipa::path(get, path = "/api/v1/official/approvals", tag = "officials", description = "Records of the official's authority waiting for a second official.",
    responses((status = 200, body = Object)))]
pub async fn approvals<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Json<Value>> {
    let who = principal(&app, &headers).await?;
    Ok(Json(Value::Array(app.pending_approvals(&who).await?)))
}

/// People under approved, unreleased quarantine orders of authorities in the official's jurisdiction.
#[utoipa::path(get, path = "/api/v1/official/quarantine", tag = "officials", description = "People under approved, unreleased quarantine orders of authorities in the official's jurisdiction.",
    responses((status = 200, body = Object)))]
pub async fn quarantine<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    Ok(Json(app.quarantine_list(&who).await?).into_response())
}

/// A record sealed by its maker (a data source's system, an official's key file),
/// in the evidence-file format with its `seal`.
#[utoipa::path(post, path = "/api/v1/evidence", tag = "officials", description = "A record sealed by its maker (a data source's system, an official's key file), as an evidence-file object with its seal.", request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody, description = "malformed_record, malformed_seal, bad_seal, unknown_reference, recorded_in_the_future"), (status = 403, body = ErrorBody, description = "not_the_recorder"), (status = 409, body = ErrorBody, description = "id_taken")))]
pub async fn submit<S: Store>(
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
    let mut record = read_record_object(&directory, Value::Object(map), &app.keys.pseudonym)
        .map_err(|e| AppError::bad_request("malformed_record", e.to_string()))?;
    record.seal = seal;
    Ok(Json(app.submit_record(&who, record).await?).into_response())
}
