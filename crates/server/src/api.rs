//! The JSON API under `/api/v1`, described by the OpenAPI document at
//! `/api/v1/openapi.json`. Errors are `{"code", "message"}` with a stable code.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mingma_core::{PersonKey, RecordId, VenueId};
use mingma_explain::Lang;
use mingma_store::Store;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::{App, CheckedIn, CodeView, HistoryItem, HistoryTarget, SignInStarted};
use crate::error::{AppError, AppResult, ErrorBody};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mingma_session";

type St<S> = State<Arc<App<S>>>;

/// The API's routes.
pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/api/v1/signin", post(sign_in::<S>))
        .route("/api/v1/signin/confirm", post(confirm::<S>))
        .route("/api/v1/signout", post(sign_out::<S>))
        .route("/api/v1/me/code", get(my_code::<S>))
        .route("/api/v1/me/history", get(my_history::<S>))
        .route("/api/v1/me/receipts/records/{id}", get(record_receipt::<S>))
        .route(
            "/api/v1/me/receipts/code-changes/{leaf}/{position}",
            get(code_change_receipt::<S>),
        )
        .route(
            "/api/v1/me/dependants",
            get(my_dependants::<S>).post(add_dependant::<S>),
        )
        .route(
            "/api/v1/me/dependants/confirm",
            post(confirm_dependant::<S>),
        )
        .route(
            "/api/v1/me/dependants/in-person",
            get(my_in_person_requests::<S>).post(request_in_person::<S>),
        )
        .route("/api/v1/me/dependants/{key}/code", get(dependant_code::<S>))
        .route("/api/v1/checkins", post(check_in::<S>))
        .route("/api/v1/checkins/{id}/leave", post(leave::<S>))
        .route("/api/v1/venues", post(register_venue::<S>))
        .route("/api/v1/venues/{id}", get(venue::<S>))
        .route("/api/v1/venues/{id}/rotating", get(rotating::<S>))
        .route("/api/v1/verify", post(verify::<S>))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/.well-known/mingma/trust-list.json", get(trust_list::<S>))
        .route("/healthz", get(healthz::<S>))
}

/// Reads a JSON body, answering a clear 400 naming what is wrong.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request("malformed_json", format!("request body: {e}")))
}

/// The session token from the cookie or an `Authorization: Bearer` header.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = auth.strip_prefix("Bearer ") {
            return Some(token.trim().to_owned());
        }
    }
    cookie(headers, SESSION_COOKIE)
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The signed-in holder, or 401.
pub async fn holder<S: Store>(app: &App<S>, headers: &HeaderMap) -> AppResult<PersonKey> {
    let token = session_token(headers)
        .ok_or_else(|| AppError::unauthorized("not_signed_in", "sign in first"))?;
    app.session(&token).await?.ok_or_else(|| {
        AppError::unauthorized("session_expired", "the session has expired; sign in again")
    })
}

/// The `Set-Cookie` value of a session.
pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `?lang=zh|en`.
#[derive(Deserialize)]
pub struct LangQuery {
    /// `en` for English; Chinese otherwise.
    pub lang: Option<String>,
}

fn lang_of(q: &LangQuery) -> Lang {
    match q.lang.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

// ---------------------------------------------------------------------------------
// Bodies.

/// Sign in (or sign up) with an ID number, name and phone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// 18-character GB 11643 ID number.
    pub id_number: String,
    /// Name.
    pub name: String,
    /// Mobile number, 11 digits.
    pub phone: String,
}

/// Confirm a sign-in with the one-time code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The challenge from `POST /api/v1/signin`.
    pub challenge: String,
    /// The six-digit code.
    pub code: String,
}

/// A new session (also set as the `mingma_session` cookie).
#[derive(Serialize, ToSchema)]
pub struct SessionJson {
    /// Bearer token.
    pub session: String,
}

/// One rule that fired.
#[derive(Serialize, ToSchema)]
pub struct RuleJson {
    /// Rule id.
    pub rule: String,
    /// Rule version.
    pub version: String,
    /// Colour it gives.
    pub colour: String,
    /// Reason text.
    pub reason: String,
    /// Period start.
    pub from: String,
    /// Period end (or that evidence must end it).
    pub until: String,
    /// The records it rests on, one line each (type, authority, time, recorder,
    /// legal basis).
    pub evidence: Vec<String>,
}

/// A holder's code.
#[derive(Serialize, ToSchema)]
pub struct CodeJson {
    /// green, yellow or red.
    pub colour: String,
    /// Masked name.
    pub masked_name: String,
    /// Last four characters of the ID number.
    pub id_last_four: String,
    /// The signed checkpoint code (QR content).
    pub signed_code: String,
    /// When it was issued (the refresh time).
    pub issued_at: String,
    /// When it expires.
    pub expires_at: String,
    /// Reason, for a non-green code.
    pub reason: Option<String>,
    /// Owning authorities (赋码来源).
    pub assigned_by: Vec<String>,
    /// Since when the colour holds (赋码时间).
    pub since: Option<String>,
    /// When it will change by itself, and to what.
    pub next_change: Option<String>,
    /// Colour after that change.
    pub next_colour: Option<String>,
    /// Latest test's sample time.
    pub latest_test: Option<String>,
    /// Rule set and version.
    pub rule_set: String,
    /// The rules that fired.
    pub rules: Vec<RuleJson>,
    /// Records that do not count, with why.
    pub not_counted: Vec<String>,
    /// The code-change receipt: batch leaf.
    pub change_leaf: u64,
    /// Position in that batch.
    pub change_position: u64,
}

impl CodeJson {
    /// The view as JSON.
    pub fn of(v: &CodeView) -> Self {
        let d = &v.decision;
        Self {
            colour: d.colour.name().to_owned(),
            masked_name: v.masked_name.clone(),
            id_last_four: v.id_last_four.clone(),
            signed_code: v.token.clone(),
            issued_at: v.issued_at.to_string(),
            expires_at: v.expires_at.to_string(),
            reason: v.explanation.reason.clone(),
            assigned_by: v.explanation.owners.clone(),
            since: d.since.map(|t| t.to_string()),
            next_change: d.next_change.as_ref().map(|n| n.at.to_string()),
            next_colour: d.next_change.as_ref().map(|n| n.colour.name().to_owned()),
            latest_test: v.latest_test.map(|t| t.to_string()),
            rule_set: format!("{} {}", d.rule_set.id, d.rule_set.version),
            rules: v
                .explanation
                .rules
                .iter()
                .map(|r| RuleJson {
                    rule: r.rule.clone(),
                    version: r.version.clone(),
                    colour: r.colour.name().to_owned(),
                    reason: r.reason.clone(),
                    from: r.from.to_string(),
                    until: r.until.clone(),
                    evidence: r.evidence.clone(),
                })
                .collect(),
            not_counted: v.explanation.not_counted.clone(),
            change_leaf: v.change_leaf,
            change_position: v.change_position,
        }
    }
}

/// One history entry.
#[derive(Serialize, ToSchema)]
pub struct HistoryJson {
    /// When.
    pub at: String,
    /// What.
    pub line: String,
    /// `record` or `code_change`.
    pub kind: String,
    /// Ledger leaf.
    pub leaf: u64,
    /// Where its receipt is (once a signed checkpoint covers it).
    pub receipt: String,
    /// Whether a signed checkpoint covers it yet.
    pub covered: bool,
}

/// The API path of a history entry's receipt.
pub fn receipt_path(target: &HistoryTarget) -> String {
    match target {
        HistoryTarget::Record(id) => format!("/api/v1/me/receipts/records/{id}"),
        HistoryTarget::CodeChange { leaf, position } => {
            format!("/api/v1/me/receipts/code-changes/{leaf}/{position}")
        }
    }
}

impl HistoryJson {
    fn of(i: &HistoryItem) -> Self {
        Self {
            at: i.at.to_string(),
            line: i.line.clone(),
            kind: match i.target {
                HistoryTarget::Record(_) => "record",
                HistoryTarget::CodeChange { .. } => "code_change",
            }
            .into(),
            leaf: i.leaf,
            receipt: receipt_path(&i.target),
            covered: i.covered,
        }
    }
}

/// A check-in with a scanned venue token (the QR's URL or the token itself).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The token, or the check-in URL carrying it.
    pub token: String,
    /// Check in one of your dependants instead (their key, from
    /// `GET /api/v1/me/dependants`); the scan is recorded as made by a proxy.
    #[serde(default)]
    pub dependant: Option<String>,
}

/// Ask a dependant's consent (a one-time code goes to their phone).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DependantRequest {
    /// The dependant's ID number.
    pub id_number: String,
    /// Their name.
    pub name: String,
    /// Their phone (the one on file is used if they have an account).
    pub phone: String,
}

/// Ask a dependant's consent by an in-person check: the proxy then brings the
/// dependant and their ID card, with the request's reference, to a health official
/// of the dependant's community (street), who records the check.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InPersonRequestBody {
    /// The dependant's ID number.
    pub id_number: String,
    /// Their name.
    pub name: String,
}

/// A dependant.
#[derive(Serialize, ToSchema)]
pub struct DependantJson {
    /// Key to use in paths and check-ins.
    pub key: String,
    /// Masked name.
    pub masked_name: String,
    /// Last four characters of the ID number.
    pub id_last_four: String,
    /// How consent was given: `otp` (a one-time code to the dependant's phone) or
    /// `in_person` (a community official's check of their ID card, an authority act
    /// in the ledger).
    pub consent: String,
    /// For `in_person`, the ledger leaf of the official's act.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_leaf: Option<u64>,
    /// Current colour (in the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
}

fn dependant_json(d: &crate::accounts::Dependant, colour: Option<String>) -> DependantJson {
    DependantJson {
        key: d.person.to_string(),
        masked_name: mingma_token::code::mask_name(&d.name),
        id_last_four: d.id_last_four.clone(),
        consent: d.consent.clone(),
        consent_leaf: d.consent_leaf,
        colour,
    }
}

/// What a check-in recorded.
#[derive(Serialize, ToSchema)]
pub struct CheckInJson {
    /// The scan record's id.
    pub record: String,
    /// Venue id.
    pub venue: String,
    /// Venue name.
    pub venue_name: String,
    /// rotating, static_poster or stale.
    pub presence: String,
    /// True when the token was stale or replayed (a forwarded photo): recorded as such.
    pub stale: bool,
    /// When.
    pub at: String,
    /// False when this check-in was already recorded (a reload).
    pub new: bool,
    /// The holder's code after the check-in.
    pub code: CodeJson,
}

/// Register a venue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenueRequest {
    /// Name.
    pub name: String,
    /// Street address.
    pub address: String,
    /// GB/T 2260 street code (9 digits).
    pub street: String,
    /// transport_hub, market, office, school, hospital, restaurant, residential, other.
    pub kind: String,
}

/// A venue.
#[derive(Serialize, ToSchema)]
pub struct VenueJson {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Street code.
    pub street: String,
    /// Street's full name.
    pub street_name: String,
    /// Kind.
    pub kind: String,
    /// The poster's check-in URL (its QR content).
    pub poster_url: String,
    /// The printable poster (SVG).
    pub poster_svg: String,
    /// The printable poster (PNG, 1200 × 1700 pixels).
    pub poster_png: String,
}

/// A rotating token.
#[derive(Serialize, ToSchema)]
pub struct RotatingJson {
    /// The token.
    pub token: String,
    /// The check-in URL (QR content).
    pub url: String,
    /// Seconds until the next token.
    pub refresh_in: i64,
}

/// A checkpoint code to verify.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The code (`MC1.` ...).
    pub code: String,
}

/// A valid checkpoint code.
#[derive(Serialize, ToSchema)]
pub struct VerifyJson {
    /// Always true (refusals are errors).
    pub valid: bool,
    /// green, yellow or red.
    pub colour: String,
    /// When it was issued: the colour is valid as of then.
    pub valid_as_of: String,
    /// When it expires.
    pub expires_at: String,
    /// Masked name.
    pub masked_name: String,
    /// Last four of the ID number, to match the ID card.
    pub id_last_four: String,
    /// Latest test's sample time.
    pub latest_test: Option<String>,
    /// Issuer's name.
    pub issuer: String,
    /// Issuer province and key id.
    pub issuer_key: String,
    /// Rule set and version.
    pub rule_set: String,
    /// Ledger size the colour reflects.
    pub ledger_index: u64,
    /// Pseudonymous holder (hex).
    pub holder: String,
}

// ---------------------------------------------------------------------------------
// Handlers.

/// Start a sign-in: sends a one-time code.
#[utoipa::path(post, path = "/api/v1/signin", request_body = SignInRequest,
    responses((status = 202, body = SignInStarted), (status = 400, body = ErrorBody, description = "malformed_id_number, malformed_name, malformed_phone, malformed_json")))]
pub async fn sign_in<S: Store>(
    State(app): St<S>,
    body: Bytes,
) -> AppResult<(StatusCode, Json<SignInStarted>)> {
    let req: SignInRequest = json_body(&body)?;
    let started = app
        .start_sign_in(&req.id_number, &req.name, &req.phone)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Confirm a sign-in with the one-time code; opens a session.
#[utoipa::path(post, path = "/api/v1/signin/confirm", request_body = ConfirmRequest,
    responses((status = 200, body = SessionJson), (status = 401, body = ErrorBody, description = "otp_mismatch, otp_challenge_unknown")))]
pub async fn confirm<S: Store>(State(app): St<S>, body: Bytes) -> AppResult<Response> {
    let req: ConfirmRequest = json_body(&body)?;
    let (token, _) = app.confirm_sign_in(&req.challenge, &req.code).await?;
    let mut response = Json(SessionJson {
        session: token.clone(),
    })
    .into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        session_cookie(&token, app.config.secure_cookies()),
    );
    Ok(response)
}

/// End the session.
#[utoipa::path(post, path = "/api/v1/signout", responses((status = 204)))]
pub async fn sign_out<S: Store>(State(app): St<S>, headers: HeaderMap) -> AppResult<StatusCode> {
    if let Some(token) = session_token(&headers) {
        app.sign_out(&token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The holder's code now, signed, with its explanation.
#[utoipa::path(get, path = "/api/v1/me/code", params(("lang" = Option<String>, Query, description = "zh (default) or en")),
    responses((status = 200, body = CodeJson), (status = 401, body = ErrorBody)))]
pub async fn my_code<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> AppResult<Json<CodeJson>> {
    let person = holder(&app, &headers).await?;
    let view = app.code_view(person, lang_of(&q)).await?;
    Ok(Json(CodeJson::of(&view)))
}

/// Every code change and record about the holder, with receipt links.
#[utoipa::path(get, path = "/api/v1/me/history", params(("lang" = Option<String>, Query, description = "zh (default) or en")),
    responses((status = 200, body = [HistoryJson]), (status = 401, body = ErrorBody)))]
pub async fn my_history<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> AppResult<Json<Vec<HistoryJson>>> {
    let person = holder(&app, &headers).await?;
    let items = app.history(person, lang_of(&q)).await?;
    Ok(Json(items.iter().map(HistoryJson::of).collect()))
}

fn receipt_response(receipt: &mingma_store::receipt::Receipt) -> Response {
    let mut r = receipt.to_json().into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A receipt (`mingma-receipt/1`) for a record about the holder.
#[utoipa::path(get, path = "/api/v1/me/receipts/records/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "mingma-receipt/1 JSON"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "receipt_not_ready: no checkpoint covers it yet")))]
pub async fn record_receipt<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let person = holder(&app, &headers).await?;
    let id = RecordId::parse(&id)
        .map_err(|e| AppError::bad_request("malformed_record_id", e.to_string()))?;
    let receipt = app.receipt(person, HistoryTarget::Record(id)).await?;
    Ok(receipt_response(&receipt))
}

/// Parses a leaf and position from a path.
pub fn leaf_position(leaf: &str, position: &str) -> AppResult<(u64, u64)> {
    match (leaf.parse(), position.parse()) {
        (Ok(l), Ok(p)) => Ok((l, p)),
        _ => Err(AppError::bad_request(
            "malformed_position",
            "leaf and position are whole numbers",
        )),
    }
}

/// A receipt for one of the holder's code changes.
#[utoipa::path(get, path = "/api/v1/me/receipts/code-changes/{leaf}/{position}", params(("leaf" = u64, Path), ("position" = u64, Path)),
    responses((status = 200, description = "mingma-receipt/1 JSON"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn code_change_receipt<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path((leaf, position)): Path<(String, String)>,
) -> AppResult<Response> {
    let person = holder(&app, &headers).await?;
    let (leaf, position) = leaf_position(&leaf, &position)?;
    let receipt = app
        .receipt(person, HistoryTarget::CodeChange { leaf, position })
        .await?;
    Ok(receipt_response(&receipt))
}

/// The token inside a check-in URL, or the text itself.
pub fn token_of(text: &str) -> &str {
    let text = text.trim();
    match text.rfind("/v/") {
        Some(i) => &text[i + 3..],
        None => text,
    }
}

/// The JSON of a check-in.
pub fn check_in_json(c: &CheckedIn, code: &CodeView) -> CheckInJson {
    CheckInJson {
        record: c.record.to_string(),
        venue: c.venue.venue.id.to_string(),
        venue_name: c.venue.venue.name.clone(),
        presence: c.presence.to_string(),
        stale: c.presence == mingma_core::Presence::Stale,
        at: c.at.to_string(),
        new: c.new,
        code: CodeJson::of(code),
    }
}

/// Check in at a venue with its scanned token: records the scan with its presence
/// assurance (stale tokens as stale), answers the holder's code.
#[utoipa::path(post, path = "/api/v1/checkins", request_body = CheckInRequest,
    responses((status = 201, body = CheckInJson), (status = 400, body = ErrorBody, description = "venue_token_forged, venue_token_malformed: nothing recorded"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "venue_unknown")))]
pub async fn check_in<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<CheckInJson>)> {
    let person = holder(&app, &headers).await?;
    let req: CheckInRequest = json_body(&body)?;
    let done = app
        .check_in_as(person, req.dependant.as_deref(), token_of(&req.token))
        .await?;
    app.metrics.event("checkins", &done.presence.to_string());
    let code = match req.dependant.as_deref() {
        Some(d) => app.dependant_view(person, d, Lang::Zh).await?.1,
        None => app.code_view(person, Lang::Zh).await?,
    };
    Ok((StatusCode::CREATED, Json(check_in_json(&done, &code))))
}

/// Ask a dependant's consent to show their code and check in for them: a one-time
/// code goes to the dependant's phone.
#[utoipa::path(post, path = "/api/v1/me/dependants", request_body = DependantRequest,
    responses((status = 202, body = SignInStarted), (status = 400, body = ErrorBody, description = "malformed_id_number, dependant_is_self, ...")))]
pub async fn add_dependant<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<SignInStarted>)> {
    let proxy = holder(&app, &headers).await?;
    let req: DependantRequest = json_body(&body)?;
    let started = app
        .start_dependant(proxy, &req.id_number, &req.name, &req.phone)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Ask a dependant's consent by an in-person check recorded by a community (health)
/// official: a request with a reference (valid three days) that the proxy shows the
/// official, with the dependant and their ID card. The official's sealed act links
/// the dependant (`consent`: `in_person`).
#[utoipa::path(post, path = "/api/v1/me/dependants/in-person", request_body = InPersonRequestBody,
    responses((status = 202, body = crate::consent::InPersonJson), (status = 400, body = ErrorBody, description = "malformed_id_number, malformed_name, dependant_is_self"), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "dependant_linked"), (status = 422, body = ErrorBody, description = "identity_not_verified"), (status = 429, body = ErrorBody, description = "too_many_requests")))]
pub async fn request_in_person<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<crate::consent::InPersonJson>)> {
    let proxy = holder(&app, &headers).await?;
    let req: InPersonRequestBody = json_body(&body)?;
    let started = app
        .request_in_person(proxy, &req.id_number, &req.name)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// The holder's open in-person consent requests (not checked yet, not lapsed).
#[utoipa::path(get, path = "/api/v1/me/dependants/in-person",
    responses((status = 200, body = [crate::consent::InPersonJson]), (status = 401, body = ErrorBody)))]
pub async fn my_in_person_requests<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<crate::consent::InPersonJson>>> {
    let proxy = holder(&app, &headers).await?;
    Ok(Json(app.in_person_requests(proxy).await?))
}

/// Confirm a dependant's consent with the code sent to their phone.
#[utoipa::path(post, path = "/api/v1/me/dependants/confirm", request_body = ConfirmRequest,
    responses((status = 201, body = DependantJson), (status = 401, body = ErrorBody, description = "otp_mismatch, otp_challenge_unknown")))]
pub async fn confirm_dependant<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<DependantJson>)> {
    let proxy = holder(&app, &headers).await?;
    let req: ConfirmRequest = json_body(&body)?;
    let d = app
        .confirm_dependant(proxy, &req.challenge, &req.code)
        .await?;
    Ok((StatusCode::CREATED, Json(dependant_json(&d, None))))
}

/// The holder's dependants with their current colours.
#[utoipa::path(get, path = "/api/v1/me/dependants", responses((status = 200, body = [DependantJson]), (status = 401, body = ErrorBody)))]
pub async fn my_dependants<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<DependantJson>>> {
    let proxy = holder(&app, &headers).await?;
    let mut out = Vec::new();
    for d in app.dependants(proxy).await? {
        let key = d.person.to_string();
        let (_, view) = app.dependant_view(proxy, &key, Lang::Zh).await?;
        out.push(dependant_json(
            &d,
            Some(view.decision.colour.name().to_owned()),
        ));
    }
    Ok(Json(out))
}

/// A dependant's code, signed, with its explanation.
#[utoipa::path(get, path = "/api/v1/me/dependants/{key}/code", params(("key" = String, Path), ("lang" = Option<String>, Query)),
    responses((status = 200, body = CodeJson), (status = 404, body = ErrorBody, description = "dependant_unknown")))]
pub async fn dependant_code<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(q): Query<LangQuery>,
) -> AppResult<Json<CodeJson>> {
    let proxy = holder(&app, &headers).await?;
    let (_, view) = app.dependant_view(proxy, &key, lang_of(&q)).await?;
    Ok(Json(CodeJson::of(&view)))
}

/// What a leave recorded.
#[derive(Serialize, ToSchema)]
pub struct LeaveJson {
    /// The record of the stay with its exit.
    pub exit: String,
    /// The check-in it completes.
    pub checkin: String,
    /// Venue name.
    pub venue_name: String,
    /// When.
    pub left_at: String,
    /// False when the leave was already recorded.
    pub new: bool,
}

/// Record leaving the venue of a check-in (the holder's own, or one made for a
/// dependant): the stay then ends now instead of after the venue kind's assumed stay.
#[utoipa::path(post, path = "/api/v1/checkins/{id}/leave", params(("id" = String, Path, description = "the check-in's record id")),
    responses((status = 201, body = LeaveJson), (status = 404, body = ErrorBody, description = "checkin_unknown"), (status = 409, body = ErrorBody, description = "already_left, leave_too_soon")))]
pub async fn leave<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<LeaveJson>)> {
    let actor = holder(&app, &headers).await?;
    let left = app.leave(actor, &id).await?;
    Ok((
        if left.new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(LeaveJson {
            exit: left.exit.to_string(),
            checkin: left.entry.to_string(),
            venue_name: left.venue.venue.name.clone(),
            left_at: left.left_at.to_string(),
            new: left.new,
        }),
    ))
}

/// The JSON of a venue.
pub fn venue_json<S: Store>(app: &App<S>, v: &crate::accounts::VenueRecord) -> VenueJson {
    VenueJson {
        id: v.venue.id.to_string(),
        name: v.venue.name.clone(),
        address: v.address.clone(),
        street: v.venue.street.to_string(),
        street_name: v.venue.street.full_name(),
        kind: v.venue.kind.to_string(),
        poster_url: app.check_in_url(&app.poster_token(v)),
        poster_svg: format!("{}/venues/{}/poster.svg", app.config.base_url(), v.venue.id),
        poster_png: format!("{}/venues/{}/poster.png", app.config.base_url(), v.venue.id),
    }
}

/// Register a venue, operated by the signed-in account.
#[utoipa::path(post, path = "/api/v1/venues", request_body = VenueRequest,
    responses((status = 201, body = VenueJson), (status = 400, body = ErrorBody, description = "malformed_street, malformed_venue_kind, ...")))]
pub async fn register_venue<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<VenueJson>)> {
    let person = holder(&app, &headers).await?;
    let req: VenueRequest = json_body(&body)?;
    let v = app
        .register_venue(person, &req.name, &req.address, &req.street, &req.kind)
        .await?;
    Ok((StatusCode::CREATED, Json(venue_json(&app, &v))))
}

fn venue_by_id<S: Store>(app: &App<S>, id: &str) -> AppResult<crate::accounts::VenueRecord> {
    VenueId::parse(id)
        .ok()
        .and_then(|id| app.venue(&id))
        .ok_or_else(|| AppError::not_found("venue_unknown", format!("no venue {id:?}")))
}

/// A venue's public details and poster URL.
#[utoipa::path(get, path = "/api/v1/venues/{id}", params(("id" = String, Path)),
    responses((status = 200, body = VenueJson), (status = 404, body = ErrorBody)))]
pub async fn venue<S: Store>(
    State(app): St<S>,
    Path(id): Path<String>,
) -> AppResult<Json<VenueJson>> {
    let v = venue_by_id(&app, &id)?;
    Ok(Json(venue_json(&app, &v)))
}

/// The rotating token of now (the venue's operator only).
#[utoipa::path(get, path = "/api/v1/venues/{id}/rotating", params(("id" = String, Path)),
    responses((status = 200, body = RotatingJson), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotating<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<RotatingJson>> {
    let person = holder(&app, &headers).await?;
    let v = venue_by_id(&app, &id)?;
    let token = app.rotating_token(person, &v)?;
    let now = app.now().unix_seconds();
    let period = mingma_token::ROTATION_SECONDS;
    Ok(Json(RotatingJson {
        url: app.check_in_url(&token),
        token,
        refresh_in: period - now.rem_euclid(period),
    }))
}

/// The JSON of a verified code.
pub fn verify_json(v: &mingma_token::VerifiedCode) -> VerifyJson {
    let c = &v.code;
    VerifyJson {
        valid: true,
        colour: c.colour.name().to_owned(),
        valid_as_of: c.issued_at.to_string(),
        expires_at: c.expires_at.to_string(),
        masked_name: c.masked_name.clone(),
        id_last_four: c.id_last_four.clone(),
        latest_test: c.latest_test.map(|t| t.to_string()),
        issuer: v.issuer_name.clone(),
        issuer_key: format!("{} {:08x}", c.issuer, c.key_id),
        rule_set: format!("{} {}", c.rule_set, c.rule_set_version),
        ledger_index: c.ledger_index,
        holder: c.holder.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Verify a checkpoint code offline against the trust list: its colour and "valid
/// as of", or the precise reason for refusal.
#[utoipa::path(post, path = "/api/v1/verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyJson), (status = 422, body = ErrorBody, description = "malformed, unknown_issuer, bad_signature, expired, not_yet_valid")))]
pub async fn verify<S: Store>(State(app): St<S>, body: Bytes) -> AppResult<Json<VerifyJson>> {
    let req: VerifyRequest = json_body(&body)?;
    match app.verify_code(&req.code) {
        Ok(v) => {
            app.metrics.event("code_verifications", "valid");
            Ok(Json(verify_json(&v)))
        }
        Err(refusal) => {
            app.metrics.event("code_verifications", refusal.code());
            Err(AppError::unprocessable(refusal.code(), refusal.to_string()))
        }
    }
}

/// The trust list of issuer keys (`mingma-trust-list/1`).
#[utoipa::path(get, path = "/.well-known/mingma/trust-list.json", responses((status = 200, description = "mingma-trust-list/1 JSON")))]
pub async fn trust_list<S: Store>(State(app): St<S>) -> Response {
    let mut r = app.trust.to_json().into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Health: the store answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "ok"), (status = 503, body = ErrorBody)))]
pub async fn healthz<S: Store>(State(app): St<S>) -> AppResult<&'static str> {
    app.store.ledger_size().await.map_err(|e| {
        AppError::unavailable(
            "store_unavailable",
            format!("the store does not answer: {e}"),
        )
    })?;
    Ok("ok\n")
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mingma (明码) API",
        description = "Holder codes, venue check-in and signed checkpoint codes; officials' and data sources' evidence intake, approvals, tracing and quarantine lists."
    ),
    paths(
        sign_in,
        confirm,
        sign_out,
        my_code,
        my_history,
        record_receipt,
        code_change_receipt,
        leave,
        add_dependant,
        confirm_dependant,
        request_in_person,
        my_in_person_requests,
        my_dependants,
        dependant_code,
        check_in,
        register_venue,
        venue,
        rotating,
        verify,
        trust_list,
        healthz,
        crate::console_api::sign_in,
        crate::console_api::sign_out,
        crate::console_api::me,
        crate::console_api::draft_record,
        crate::console_api::seal_draft,
        crate::console_api::trace,
        crate::console_api::enrol,
        crate::console_api::enrolments,
        crate::console_api::draft_act,
        crate::console_api::approvals,
        crate::console_api::consent_request,
        crate::console_api::draft_consent,
        crate::console_api::quarantine,
        crate::console_api::submit,
        crate::console_api::submit_bulk,
        crate::appeals::api::my_appeals,
        crate::appeals::api::open_appeal,
        crate::appeals::api::list,
        crate::appeals::api::show,
        crate::appeals::api::note,
        crate::appeals::api::document,
        crate::appeals::api::draft_rejection,
        crate::appeals::api::reject,
        crate::appeals::api::draft_correction,
        crate::appeals::api::draft_retraction,
        crate::appeals::api::accept,
        crate::appeals::api::close,
        crate::appeals::api::consent,
        crate::appeals::api::confirm,
        crate::appeals::api::provenance,
        crate::appeals::api::hotline_appeal
    ),
    components(schemas(
        ErrorBody,
        SignInRequest,
        SignInStarted,
        ConfirmRequest,
        SessionJson,
        CodeJson,
        RuleJson,
        HistoryJson,
        CheckInRequest,
        CheckInJson,
        DependantRequest,
        InPersonRequestBody,
        crate::consent::InPersonJson,
        crate::consent::InPersonView,
        crate::console_api::WitnessBody,
        DependantJson,
        LeaveJson,
        VenueRequest,
        VenueJson,
        RotatingJson,
        VerifyRequest,
        VerifyJson,
        crate::appeals::AppealRequest,
        crate::appeals::DocumentIn
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    let mut r = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_default()
        .into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
