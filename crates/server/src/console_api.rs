//! The officials' and data sources' JSON API, under `/api/v1/official` and
//! `/api/v1/evidence` (one record, or many in bulk). Consoles and imports are not the door flow: under overload
//! they are shed first (`overload`).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mingma_core::evidence_file::read_record_object;
use mingma_core::Seal;
use mingma_store::Store;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::{cookie, json_body};
use crate::app::App;
use crate::bulk::{Format, Lines};
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
        .route(
            "/api/v1/official/consents/{reference}",
            get(consent_request::<S>),
        )
        .route(
            "/api/v1/official/consents/{reference}/draft",
            post(draft_consent::<S>),
        )
        .route("/api/v1/evidence", post(submit::<S>))
        .route("/api/v1/evidence/bulk", post(submit_bulk::<S>))
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

/// A proxy's request for a dependant's consent by an in-person check, by its
/// reference: what the health official compares with the ID card.
#[utoipa::path(get, path = "/api/v1/official/consents/{reference}", tag = "officials", description = "Health officials: a proxy's open request for a dependant's consent by an in-person check, by its reference (masked names, the last four characters of the dependant's ID number).",
    params(("reference" = String, Path, description = "e.g. ABCDE-12345")),
    responses((status = 200, body = crate::consent::InPersonView), (status = 400, body = ErrorBody, description = "malformed_reference"), (status = 403, body = ErrorBody, description = "not_permitted"), (status = 404, body = ErrorBody, description = "consent_request_unknown"), (status = 409, body = ErrorBody, description = "consent_request_in_progress"), (status = 410, body = ErrorBody, description = "consent_request_expired")))]
pub async fn consent_request<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    Ok(Json(app.in_person_view(&who, &reference).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
/// What the official states after checking the dependant's ID card in person.
pub struct WitnessBody {
    /// The ID number on the card.
    pub id_number: String,
    /// The dependant's street (9-digit GB/T 2260 code): it must lie in the
    /// official's jurisdiction.
    pub street: String,
}

/// Drafts the act of an in-person consent check for the official to seal; sealing
/// it (`/api/v1/official/drafts/{id}/seal`) appends it and links the dependant.
#[utoipa::path(post, path = "/api/v1/official/consents/{reference}/draft", tag = "officials", description = "Health officials: having checked the dependant's ID card in person, drafts a witness_consent act (the request, the street, a salted commitment to the proxy and the dependant) for the official to seal; sealing it at /api/v1/official/drafts/{id}/seal appends it and links the dependant with consent in_person. Nothing is recorded before the seal.",
    params(("reference" = String, Path, description = "e.g. ABCDE-12345")), request_body = WitnessBody,
    responses((status = 200, body = Object, description = "{draft, kind, summary, message, key}"), (status = 400, body = ErrorBody, description = "malformed_reference, malformed_street, malformed_id_number"), (status = 403, body = ErrorBody, description = "not_permitted, outside_jurisdiction"), (status = 404, body = ErrorBody, description = "consent_request_unknown"), (status = 409, body = ErrorBody, description = "consent_request_in_progress, dependant_linked"), (status = 410, body = ErrorBody, description = "consent_request_expired"), (status = 422, body = ErrorBody, description = "id_card_mismatch")))]
pub async fn draft_consent<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(reference): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let request: WitnessBody = json_body(&body)?;
    Ok(Json(
        app.draft_witness_consent(&who, &reference, &request.id_number, &request.street)
            .await?,
    )
    .into_response())
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

/// Many records sealed by their makers, in bulk: the body is JSON Lines
/// (`application/x-ndjson` or `application/jsonl`) or CSV with a header row
/// (`text/csv`), at most `bulk_max_bytes`, checked line by line as `mingma import`
/// checks a file; only the caller's own records are taken. Answers 200 with every
/// refused line even when all were refused.
#[utoipa::path(post, path = "/api/v1/evidence/bulk", tag = "officials", description = "Many records sealed by their makers (a data source's system, an official's key file), as JSON Lines (application/x-ndjson or application/jsonl) or CSV with a header row (text/csv): each line checked as `mingma import` checks it (seal against the ledger's registered keys, an official's grants, references, idempotent on record ids), and only the caller's own records taken. Good lines are stored, a refused line stores nothing and is reported with its line, field and reason; the codes the new records can change are re-derived. 200 even when every line was refused.",
    request_body(description = "JSON Lines or CSV evidence, each record with its seal", content(("application/x-ndjson"), ("application/jsonl"), ("text/csv"))),
    responses((status = 200, body = Object, description = "{lines, fresh, already, refused, errors: [{line, field, reason, id}], derived, changed: {green, yellow, red}}"), (status = 400, body = ErrorBody, description = "unsupported_content_type, not_utf8, malformed_csv_header, unreadable_body"), (status = 401, body = ErrorBody, description = "not_signed_in"), (status = 413, body = ErrorBody, description = "too_large")))]
pub async fn submit_bulk<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let who = principal(&app, &headers).await?;
    let format = bulk_format(&headers)?;
    let limit = app.config.bulk_max_bytes;
    let too_large = || {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a bulk body is at most {limit} bytes; split it"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes =
        match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit)).await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(e) => {
                return Err(AppError::bad_request(
                    "unreadable_body",
                    format!("the request body could not be read: {e}"),
                ))
            }
        };
    if let Err(e) = std::str::from_utf8(&bytes) {
        let at = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = at.iter().filter(|b| **b == b'\n').count() + 1;
        return Err(AppError::bad_request(
            "not_utf8",
            format!("the body is not UTF-8 (line {line})"),
        ));
    }
    let lines = Lines::new(std::io::Cursor::new(bytes), format, "request body")
        .map_err(|e| AppError::bad_request("malformed_csv_header", format!("{e:#}")))?;
    Ok(Json(app.submit_bulk(&who, lines).await?).into_response())
}

/// The format of a bulk body by its `Content-Type` (UTF-8 only).
fn bulk_format(headers: &HeaderMap) -> AppResult<Format> {
    let unsupported = |given: &str| {
        AppError::bad_request(
            "unsupported_content_type",
            format!("a bulk body is application/x-ndjson, application/jsonl or text/csv in UTF-8, not {given:?}"),
        )
    };
    let given = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = given.split(';').map(str::trim);
    let format = match parts.next().map(str::to_ascii_lowercase).as_deref() {
        Some("application/x-ndjson" | "application/jsonl") => Format::Jsonl,
        Some("text/csv") => Format::Csv,
        _ => return Err(unsupported(given)),
    };
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=') {
            if name.trim().eq_ignore_ascii_case("charset")
                && !value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            {
                return Err(unsupported(given));
            }
        }
    }
    Ok(format)
}
