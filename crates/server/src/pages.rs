//! Server-rendered pages for phones: sign-in, the code page, the "why" view, history
//! with receipts, venue registration, poster and rotating screen, check-in. zh-CN by
//! default; English by the switch (a `lang` cookie) or `?lang=en`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use mingma_core::{Colour, PersonKey, Presence, RecordId, VenueKind};
use mingma_explain::Lang;
use mingma_store::Store;
use serde::Deserialize;

use crate::api::{cookie, leaf_position, session_cookie, session_token};
use crate::app::{App, CodeView, HistoryTarget, SignInStarted};
use crate::error::AppError;
use crate::qr::{poster_svg, qr_svg};

type St<S> = State<Arc<App<S>>>;

/// The pages' routes.
pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/", get(home::<S>))
        .route("/signin", get(sign_in_page).post(sign_in_submit::<S>))
        .route("/signin/confirm", post(confirm_submit::<S>))
        .route("/signout", post(sign_out::<S>))
        .route("/code", get(code_page::<S>))
        .route("/code/why", get(why_page::<S>))
        .route("/history", get(history_page::<S>))
        .route("/history/verify/record/{id}", get(verify_record::<S>))
        .route(
            "/history/verify/code-change/{leaf}/{position}",
            get(verify_code_change::<S>),
        )
        .route("/venues/new", get(venue_form::<S>))
        .route("/venues", post(venue_submit::<S>))
        .route("/venues/{id}", get(venue_page::<S>))
        .route("/venues/{id}/poster.svg", get(poster::<S>))
        .route("/venues/{id}/poster.png", get(poster_png::<S>))
        .route("/venues/{id}/screen", get(screen::<S>))
        .route("/v/{token}", get(check_in_page::<S>))
        .route("/v/{token}/for/{key}", post(check_in_dependant::<S>))
        .route("/checkins/{id}/leave", post(leave_submit::<S>))
        .route(
            "/dependants",
            get(dependants_page::<S>).post(dependant_submit::<S>),
        )
        .route("/dependants/confirm", post(dependant_confirm::<S>))
        .route("/dependants/in-person", post(in_person_submit::<S>))
        .route("/dependants/{key}", get(dependant_page::<S>))
        .route("/appeals", get(appeals_page::<S>).post(appeal_submit::<S>))
        .route("/lang/{lang}", get(set_lang))
}

/// The language of a request: `?lang=`, else the `lang` cookie, else Chinese.
pub fn lang_of(headers: &HeaderMap, query: Option<&str>) -> Lang {
    match query.or(cookie(headers, "lang").as_deref()) {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

/// `zh` or `en`, by `lang`.
pub(crate) fn t<'a>(lang: Lang, zh: &'a str, en: &'a str) -> &'a str {
    if lang == Lang::En {
        en
    } else {
        zh
    }
}

fn colour_name(lang: Lang, c: Colour) -> String {
    if lang == Lang::En {
        format!("{} code", c.name().to_uppercase())
    } else {
        c.zh().to_owned()
    }
}

fn colour_class(c: Colour) -> &'static str {
    match c {
        Colour::Green => "green",
        Colour::Yellow => "yellow",
        Colour::Red => "red",
    }
}

/// `?lang=` and `?next=`.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// The pages' style sheet (the console adds to it).
pub(crate) const STYLE: &str = r#"
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f4f5f7;color:#111}
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1rem;background:#fff;border-bottom:1px solid #ddd}
header a{margin-left:.6rem;color:#0a5}
main{max-width:32rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:.8rem;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 3px #0002}
.code{text-align:center}.code .qr{width:70vw;max-width:260px;height:auto}
.band{color:#fff;border-radius:.6rem;padding:.6rem;font-size:1.6rem;font-weight:bold;margin-bottom:.8rem}
.green .band,.band.green{background:#0a7d3b}.yellow .band,.band.yellow{background:#d9a400}.red .band,.band.red{background:#c62828}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:0}dt{color:#666}dd{margin:0}
label{display:block;margin:.6rem 0 .2rem}input,select{width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}
button,.button{display:inline-block;margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem;background:#0a7d3b;color:#fff;border:0;border-radius:.4rem;text-decoration:none}
.error{background:#fdecea;color:#8a1c1c}.notice{background:#fff8e1}
ul.plain{list-style:none;padding:0}ul.plain li{padding:.5rem 0;border-bottom:1px solid #eee}
small,.muted{color:#666}pre{white-space:pre-wrap;word-break:break-all;font-size:.8rem}
"#;

fn layout(lang: Lang, path: &str, title: &str, signed_in: bool, body: Markup) -> Markup {
    let other = if lang == Lang::En {
        ("zh", "中文")
    } else {
        ("en", "English")
    };
    html! {
        (DOCTYPE)
        html lang=(if lang == Lang::En { "en" } else { "zh-CN" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 明码 Mingma" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { a href="/code" style="color:#111;margin:0" { "明码" } }
                    nav {
                        @if signed_in {
                            a href="/code" id="nav-code" { (t(lang, "我的码", "My code")) }
                            a href="/history" id="nav-history" { (t(lang, "记录", "History")) }
                            a href="/dependants" id="nav-dependants" { (t(lang, "家人", "Dependants")) }
                            a href="/appeals" id="nav-appeals" { (t(lang, "申诉", "Appeals")) }
                        }
                        a id="lang-switch" href={ "/lang/" (other.0) "?next=" (encode(path)) } { (other.1) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// Percent-encodes `text` for a query parameter.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to return to (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/code".to_owned(),
    }
}

/// 303 to `to`.
pub(crate) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// An error as a page, with its message and stable code.
pub fn error_page(lang: Lang, e: &AppError) -> Response {
    let body = html! {
        div.card.error {
            h2 { (t(lang, "出错了", "Something is wrong")) }
            p #error-message { (e.message) }
            p { small { (t(lang, "错误代码", "Error code")) ": " code { (e.code) } } }
        }
        a.button href="/code" { (t(lang, "返回", "Back")) }
    };
    (
        e.status,
        Html(layout(lang, "/", "Error", false, body).into_string()),
    )
        .into_response()
}

fn page(lang: Lang, path: &str, title: &str, signed_in: bool, body: Markup) -> Response {
    Html(layout(lang, path, title, signed_in, body).into_string()).into_response()
}

async fn signed_in<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
) -> Result<Option<PersonKey>, AppError> {
    match session_token(headers) {
        Some(token) => app.session(&token).await,
        None => Ok(None),
    }
}

macro_rules! or_page {
    ($lang:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return error_page($lang, &e),
        }
    };
}

macro_rules! require_holder {
    ($app:expr, $headers:expr, $lang:expr, $path:expr) => {
        match signed_in(&$app, &$headers).await {
            Ok(Some(p)) => p,
            Ok(None) => return redirect(&format!("/signin?next={}", encode($path))),
            Err(e) => return error_page($lang, &e),
        }
    };
}

async fn home<S: Store>(State(app): St<S>, headers: HeaderMap) -> Response {
    match signed_in(&app, &headers).await {
        Ok(Some(_)) => redirect("/code"),
        _ => redirect("/signin"),
    }
}

async fn set_lang(Path(lang): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    let mut r = redirect(&safe_next(q.next.as_deref()));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={lang}; Path=/; SameSite=Lax; Max-Age=31536000"
    )) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

fn sign_in_form(lang: Lang, next: &str, error: Option<&AppError>) -> Markup {
    html! {
        div.card {
            h2 { (t(lang, "登录 / 注册", "Sign in / sign up")) }
            p.muted { (t(lang, "使用身份证号、姓名和手机号。一个身份证号只能有一个账户。", "With your ID number, name and phone. One account per ID number.")) }
            @if let Some(e) = error { p.error #error-message { (e.message) } }
            form method="post" action="/signin" {
                input type="hidden" name="next" value=(next);
                label for="id_number" { (t(lang, "身份证号", "ID number")) }
                input #id_number name="id_number" required maxlength="18" autocomplete="off";
                label for="name" { (t(lang, "姓名", "Name")) }
                input #name name="name" required maxlength="32";
                label for="phone" { (t(lang, "手机号", "Mobile phone")) }
                input #phone name="phone" required inputmode="numeric" maxlength="13";
                button #send-code type="submit" { (t(lang, "获取验证码", "Send one-time code")) }
            }
        }
    }
}

async fn sign_in_page(headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let next = safe_next(q.next.as_deref());
    page(
        lang,
        "/signin",
        t(lang, "登录", "Sign in"),
        false,
        sign_in_form(lang, &next, None),
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    id_number: String,
    name: String,
    phone: String,
    next: Option<String>,
}

fn otp_form(lang: Lang, started: &SignInStarted, next: &str, error: Option<&AppError>) -> Markup {
    otp_form_to(lang, "/signin/confirm", started, next, error)
}

fn otp_form_to(
    lang: Lang,
    action: &str,
    started: &SignInStarted,
    next: &str,
    error: Option<&AppError>,
) -> Markup {
    html! {
        div.card {
            h2 { (t(lang, "输入验证码", "Enter the one-time code")) }
            @if started.existing_account {
                p.notice #existing-account { (t(lang, "该身份证号已有账户：验证码已发送至账户登记的手机 ", "This ID number already has an account: the code went to the phone on file, ")) (started.sent_to) }
            } @else {
                p { (t(lang, "验证码已发送至 ", "The code was sent to ")) (started.sent_to) }
            }
            @if let Some(code) = &started.demo_code {
                p.notice { (t(lang, "演示通道（不发短信）：验证码 ", "Demo channel (no SMS sent): the code is ")) strong #demo-code { (code) } }
            }
            @if let Some(e) = error { p.error #error-message { (e.message) } }
            form method="post" action=(action) {
                input type="hidden" name="challenge" value=(started.challenge);
                input type="hidden" name="next" value=(next);
                input type="hidden" name="sent_to" value=(started.sent_to);
                label for="code" { (t(lang, "验证码", "One-time code")) }
                input #code name="code" required inputmode="numeric" maxlength="6" autocomplete="one-time-code";
                button #confirm type="submit" { (t(lang, "确认", "Confirm")) }
            }
        }
    }
}

async fn sign_in_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let next = safe_next(f.next.as_deref());
    match app.start_sign_in(&f.id_number, &f.name, &f.phone).await {
        Ok(started) => page(
            lang,
            "/signin",
            t(lang, "验证码", "One-time code"),
            false,
            otp_form(lang, &started, &next, None),
        ),
        Err(e) if e.status.is_client_error() => (
            e.status,
            Html(
                layout(
                    lang,
                    "/signin",
                    t(lang, "登录", "Sign in"),
                    false,
                    sign_in_form(lang, &next, Some(&e)),
                )
                .into_string(),
            ),
        )
            .into_response(),
        Err(e) => error_page(lang, &e),
    }
}

/// The one-time-code form.
#[derive(Deserialize)]
pub struct ConfirmForm {
    challenge: String,
    code: String,
    next: Option<String>,
    sent_to: Option<String>,
}

async fn confirm_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let next = safe_next(f.next.as_deref());
    match app.confirm_sign_in(&f.challenge, &f.code).await {
        Ok((token, _)) => {
            let mut r = redirect(&next);
            r.headers_mut().insert(
                SET_COOKIE,
                session_cookie(&token, app.config.secure_cookies()),
            );
            r
        }
        Err(e) if e.code == "otp_mismatch" => {
            let started = SignInStarted {
                challenge: f.challenge,
                sent_to: f.sent_to.unwrap_or_default(),
                existing_account: false,
                demo_code: None,
            };
            (
                e.status,
                Html(
                    layout(
                        lang,
                        "/signin",
                        "OTP",
                        false,
                        otp_form(lang, &started, &next, Some(&e)),
                    )
                    .into_string(),
                ),
            )
                .into_response()
        }
        Err(e) => error_page(lang, &e),
    }
}

async fn sign_out<S: Store>(State(app): St<S>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        let _ = app.sign_out(&token).await;
    }
    let mut r = redirect("/signin");
    r.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("mingma_session=; Path=/; Max-Age=0"),
    );
    r
}

fn code_summary(lang: Lang, v: &CodeView) -> Markup {
    let d = &v.decision;
    html! {
        div.card.code.(colour_class(d.colour)) #code-card data-colour=(d.colour.name()) {
            div.band #colour { (colour_name(lang, d.colour)) }
            (PreEscaped(v.qr_svg()))
            p { strong #masked-name { (v.masked_name) } " · " span.muted { "**************" (v.id_last_four) } }
            p.muted {
                (t(lang, "刷新时间 ", "Refreshed at ")) span #refreshed { (v.issued_at) }
                br;
                (t(lang, "当前时间 ", "Now ")) span #clock {}
            }
        }
        @if d.colour != Colour::Green {
            div.card #reason-card {
                dl {
                    dt { (t(lang, "赋码原因", "Reason")) } dd #reason { (v.explanation.reason.clone().unwrap_or_default()) }
                    dt { (t(lang, "赋码来源", "Assigned by")) } dd #assigned-by { (v.explanation.owners.join("；")) }
                    dt { (t(lang, "赋码时间", "Since")) } dd #since { (d.since.map(|s| s.to_string()).unwrap_or_else(|| "-".into())) }
                    dt { (t(lang, "下次自动变更", "Changes by itself")) } dd #next-change {
                        @match &d.next_change {
                            Some(n) => { (n.at) " → " (colour_name(lang, n.colour)) }
                            None => { (t(lang, "无（需新证据）", "no (new evidence needed)")) }
                        }
                    }
                }
                a.button #why-link href="/code/why" { (t(lang, "为什么？", "Why?")) }
                " "
                a.button #appeal-link href="/appeals" style="background:#8a1c1c" { (t(lang, "申诉", "Appeal")) }
            }
        }
    }
}

/// A ticking clock in UTC+8 (as every time on the page), so a screenshot or a photo
/// of an old page is visibly old.
const CLOCK_JS: &str = "function tick(){var e=document.getElementById('clock');if(e){e.textContent=new Date().toLocaleTimeString('zh-CN',{timeZone:'Asia/Shanghai',hour12:false})+' (UTC+8)';}}tick();setInterval(tick,1000);";

async fn code_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let person = require_holder!(app, headers, lang, "/code");
    let view = or_page!(lang, app.code_view(person, lang).await);
    // Reload well before the signed code expires.
    let refresh = (app.config.code_validity_seconds / 2).max(30);
    let body = html! {
        meta http-equiv="refresh" content=(refresh);
        (code_summary(lang, &view))
        div.card {
            a href="/history" { (t(lang, "我的记录与凭证", "My history and receipts")) }
            " · "
            a href="/appeals" id="appeals-link" { (t(lang, "申诉", "Appeal")) }
            " · "
            a href="/venues/new" { (t(lang, "登记场所", "Register a venue")) }
            form method="post" action="/signout" style="display:inline" { button style="margin-left:1rem;background:#666" { (t(lang, "退出", "Sign out")) } }
        }
        script { (PreEscaped(CLOCK_JS)) }
    };
    page(
        lang,
        "/code",
        t(lang, "我的健康码", "My health code"),
        true,
        body,
    )
}

async fn why_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let person = require_holder!(app, headers, lang, "/code/why");
    let view = or_page!(lang, app.code_view(person, lang).await);
    let e = &view.explanation;
    let d = &view.decision;
    let body = html! {
        div.card.(colour_class(d.colour)) {
            div.band { (colour_name(lang, d.colour)) }
            p.muted { (t(lang, "规则集 ", "Rule set ")) (d.rule_set.id) " " (d.rule_set.version) " · " (t(lang, "有效时刻 ", "valid at ")) (d.valid_at) }
            @if e.rules.is_empty() { p { (t(lang, "无任何规则生效。", "No rule applies.")) } }
        }
        @for rule in &e.rules {
            div.card.rule {
                h3 { span.band.(colour_class(rule.colour)) style="font-size:1rem;padding:.2rem .5rem" { (colour_name(lang, rule.colour)) } " " (rule.reason) }
                p.muted { (t(lang, "规则 ", "Rule ")) code { (rule.rule) } " v" (rule.version) " · " (t(lang, "期间 ", "period ")) (rule.from) " → " (rule.until) }
                ul.plain { @for line in &rule.evidence { li.evidence { (line) } } }
            }
        }
        @if !e.unused.is_empty() || e.unused_scans > 0 {
            div.card {
                h3 { (t(lang, "在案但未触发任何规则的记录", "Records on file that no rule relies on")) }
                ul.plain {
                    @for line in &e.unused { li { (line) } }
                    @if e.unused_scans > 0 { li { (t(lang, "场所扫码 × ", "venue scans × ")) (e.unused_scans) } }
                }
            }
        }
        @if !e.not_counted.is_empty() {
            div.card {
                h3 { (t(lang, "未计入的记录", "Records not counted")) }
                ul.plain { @for line in &e.not_counted { li { (line) } } }
            }
        }
    };
    page(
        lang,
        "/code/why",
        t(lang, "赋码依据", "Why this code"),
        true,
        body,
    )
}

async fn history_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let person = require_holder!(app, headers, lang, "/history");
    let items = or_page!(lang, app.history(person, lang).await);
    let body = html! {
        div.card {
            h2 { (t(lang, "我的记录", "My history")) }
            p.muted { (t(lang, "每一次赋码变更和每一条关于您的记录都在透明日志中；凭证可离线验证。", "Every change of your code and every record about you is in the transparency log; each receipt can be checked offline.")) }
            ul.plain #history {
                @for item in &items {
                    li.history-item {
                        small { (item.at) " · " (t(lang, "日志叶 ", "leaf ")) (item.leaf) } br;
                        @if let Some(c) = item.colour { span.band.(colour_class(c)) style="font-size:.8rem;padding:.1rem .4rem" { (colour_name(lang, c)) } " " }
                        (item.line) br;
                        @if item.covered {
                            @let (verify, download) = match &item.target {
                                HistoryTarget::Record(id) => (format!("/history/verify/record/{id}"), format!("/api/v1/me/receipts/records/{id}")),
                                HistoryTarget::CodeChange { leaf, position } => (format!("/history/verify/code-change/{leaf}/{position}"), format!("/api/v1/me/receipts/code-changes/{leaf}/{position}")),
                            };
                            a.verify-link href=(verify) { (t(lang, "验证凭证", "Verify receipt")) }
                            " · "
                            a href=(download) download { (t(lang, "下载凭证", "Download receipt")) }
                        } @else {
                            small.muted { (t(lang, "等待下一个签名检查点（几秒内）", "waiting for the next signed checkpoint (seconds)")) }
                        }
                    }
                }
            }
        }
    };
    page(
        lang,
        "/history",
        t(lang, "我的记录", "My history"),
        true,
        body,
    )
}

async fn verify_target<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    lang: Lang,
    path: &str,
    target: HistoryTarget,
) -> Response {
    let person = match signed_in(app, headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return redirect(&format!("/signin?next={}", encode(path))),
        Err(e) => return error_page(lang, &e),
    };
    let receipt = or_page!(lang, app.receipt(person, target).await);
    let result = app.check_receipt(&receipt);
    let vkey = app.log_verifier().to_vkey();
    let body = html! {
        div.card {
            h2 { (t(lang, "凭证验证", "Receipt check")) }
            @match &result {
                Ok(text) => { p.notice #receipt-valid { (t(lang, "有效：该条目在签名日志中。", "Valid: this entry is in the signed log.")) } pre { (text) } }
                Err(why) => { p.error #receipt-invalid { (why) } }
            }
            p.muted { (t(lang, "离线验证：下载凭证后运行", "Check it offline: download the receipt and run")) }
            pre { "mingma ledger check-receipt receipt.json --vkey '" (vkey) "' --origin '" (app.config.log_origin) "'" }
            details { summary { (t(lang, "凭证内容", "Receipt")) } pre { (receipt.to_json()) } }
        }
    };
    page(lang, path, t(lang, "凭证验证", "Receipt check"), true, body)
}

async fn verify_record<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let path = format!("/history/verify/record/{id}");
    let id = or_page!(
        lang,
        RecordId::parse(&id)
            .map_err(|e| AppError::bad_request("malformed_record_id", e.to_string()))
    );
    verify_target(&app, &headers, lang, &path, HistoryTarget::Record(id)).await
}

async fn verify_code_change<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path((leaf, position)): Path<(String, String)>,
) -> Response {
    let lang = lang_of(&headers, None);
    let (leaf, position) = or_page!(lang, leaf_position(&leaf, &position));
    let path = format!("/history/verify/code-change/{leaf}/{position}");
    verify_target(
        &app,
        &headers,
        lang,
        &path,
        HistoryTarget::CodeChange { leaf, position },
    )
    .await
}

fn kind_label(lang: Lang, k: VenueKind) -> &'static str {
    match (k, lang == Lang::En) {
        (VenueKind::TransportHub, false) => "交通枢纽",
        (VenueKind::Market, false) => "商场超市",
        (VenueKind::Office, false) => "办公场所",
        (VenueKind::School, false) => "学校",
        (VenueKind::Hospital, false) => "医院",
        (VenueKind::Restaurant, false) => "餐厅",
        (VenueKind::Residential, false) => "居民小区",
        (VenueKind::Other, false) => "其他",
        (VenueKind::TransportHub, true) => "Transport hub",
        (VenueKind::Market, true) => "Market",
        (VenueKind::Office, true) => "Office",
        (VenueKind::School, true) => "School",
        (VenueKind::Hospital, true) => "Hospital",
        (VenueKind::Restaurant, true) => "Restaurant",
        (VenueKind::Residential, true) => "Residential",
        (VenueKind::Other, true) => "Other",
    }
}

fn venue_form_markup(lang: Lang, error: Option<&AppError>) -> Markup {
    const KINDS: [VenueKind; 8] = [
        VenueKind::Restaurant,
        VenueKind::Market,
        VenueKind::Office,
        VenueKind::TransportHub,
        VenueKind::School,
        VenueKind::Hospital,
        VenueKind::Residential,
        VenueKind::Other,
    ];
    html! {
        div.card {
            h2 { (t(lang, "登记场所", "Register a venue")) }
            @if let Some(e) = error { p.error #error-message { (e.message) } }
            form method="post" action="/venues" {
                label for="vname" { (t(lang, "场所名称", "Venue name")) }
                input #vname name="name" required maxlength="64";
                label for="address" { (t(lang, "地址", "Address")) }
                input #address name="address" required maxlength="128";
                label for="street" { (t(lang, "街道代码（GB/T 2260，9 位）", "Street code (GB/T 2260, 9 digits)")) }
                input #street name="street" required inputmode="numeric" maxlength="9" placeholder="410102001";
                label for="kind" { (t(lang, "类型", "Kind")) }
                select #kind name="kind" { @for k in KINDS { option value=(k.to_string()) { (kind_label(lang, k)) } } }
                button #register type="submit" { (t(lang, "登记", "Register")) }
            }
        }
    }
}

async fn venue_form<S: Store>(State(app): St<S>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers, None);
    let _ = require_holder!(app, headers, lang, "/venues/new");
    page(
        lang,
        "/venues/new",
        t(lang, "登记场所", "Register a venue"),
        true,
        venue_form_markup(lang, None),
    )
}

/// The venue form.
#[derive(Deserialize)]
pub struct VenueForm {
    name: String,
    address: String,
    street: String,
    kind: String,
}

async fn venue_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<VenueForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let person = require_holder!(app, headers, lang, "/venues/new");
    match app
        .register_venue(person, &f.name, &f.address, &f.street, &f.kind)
        .await
    {
        Ok(v) => redirect(&format!("/venues/{}", v.venue.id)),
        Err(e) if e.status.is_client_error() => (
            e.status,
            Html(
                layout(
                    lang,
                    "/venues/new",
                    "Venue",
                    true,
                    venue_form_markup(lang, Some(&e)),
                )
                .into_string(),
            ),
        )
            .into_response(),
        Err(e) => error_page(lang, &e),
    }
}

fn venue_of<S: Store>(app: &App<S>, id: &str) -> Result<crate::accounts::VenueRecord, AppError> {
    mingma_core::VenueId::parse(id)
        .ok()
        .and_then(|id| app.venue(&id))
        .ok_or_else(|| AppError::not_found("venue_unknown", format!("no venue {id:?}")))
}

async fn venue_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let v = or_page!(lang, venue_of(&app, &id));
    let me = signed_in(&app, &headers).await.ok().flatten();
    let url = app.check_in_url(&app.poster_token(&v));
    let body = html! {
        div.card {
            h2 #venue-name { (v.venue.name) }
            p { (v.address) br; small.muted { (v.venue.street) " " (v.venue.street.full_name()) " · " (kind_label(lang, v.venue.kind)) } }
            (PreEscaped(qr_svg(&url, 220).unwrap_or_default()))
            p { small.muted { (t(lang, "海报二维码（静态码）：", "Poster QR (static code): ")) a #poster-url href=(url) { (url) } } }
            a.button #poster-svg href={ "/venues/" (v.venue.id) "/poster.svg" } { (t(lang, "打印海报 (SVG)", "Print poster (SVG)")) }
            " "
            a.button #poster-png href={ "/venues/" (v.venue.id) "/poster.png" } { (t(lang, "打印海报 (PNG)", "Print poster (PNG)")) }
            @if me.is_some() && v.operator == me {
                " "
                a.button #screen-link href={ "/venues/" (v.venue.id) "/screen" } { (t(lang, "场所屏幕动态码", "Rotating code for a screen")) }
            }
        }
    };
    page(
        lang,
        &format!("/venues/{id}"),
        &v.venue.name,
        me.is_some(),
        body,
    )
}

async fn poster<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let v = or_page!(lang, venue_of(&app, &id));
    let svg = or_page!(
        lang,
        poster_svg(&v, &app.check_in_url(&app.poster_token(&v))).map_err(AppError::internal)
    );
    let mut r = svg.into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    r
}

async fn poster_png<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let v = or_page!(lang, venue_of(&app, &id));
    let url = app.check_in_url(&app.poster_token(&v));
    // Rasterising and compressing takes some milliseconds: off the async workers.
    let png = tokio::task::spawn_blocking(move || crate::poster_png::poster_png(&v, &url)).await;
    let png = or_page!(
        lang,
        png.map_err(AppError::internal)
            .and_then(|png| png.map_err(AppError::internal))
    );
    let mut r = png.into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r
}

async fn screen<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let path = format!("/venues/{id}/screen");
    let person = require_holder!(app, headers, lang, &path);
    let v = or_page!(lang, venue_of(&app, &id));
    let token = or_page!(lang, app.rotating_token(person, &v));
    let url = app.check_in_url(&token);
    let period = mingma_token::ROTATION_SECONDS;
    let refresh = period - app.now().unix_seconds().rem_euclid(period);
    let body = html! {
        meta http-equiv="refresh" content=(refresh.max(1));
        div.card.code {
            h2 { (v.venue.name) }
            (PreEscaped(qr_svg(&url, 320).unwrap_or_default()))
            p { (t(lang, "动态场所码，每 30 秒更新", "Rotating venue code, new every 30 s")) }
            p.muted { a #rotating-url href=(url) { (t(lang, "登记链接", "check-in link")) } }
        }
    };
    page(lang, &path, &v.venue.name, true, body)
}

async fn check_in_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let path = format!("/v/{token}");
    let person = require_holder!(app, headers, lang, &path);
    let done = or_page!(lang, app.check_in(person, &token).await);
    app.metrics.event("checkins", &done.presence.to_string());
    let view = or_page!(lang, app.code_view(person, lang).await);
    let dependants = or_page!(lang, app.dependants(person).await);
    let body = html! {
        div.card #checkin {
            h2 { (t(lang, "已登记 ", "Checked in at ")) span #checkin-venue { (done.venue.venue.name) } }
            p.muted { (done.at) " · " (done.venue.address) }
            @match done.presence {
                Presence::Stale => {
                    p.error #stale-notice { (t(lang, "此场所码已过期或为转发的截图：本次登记记为“过期码”，不能证明您在场。请扫描场所现场屏幕上的动态码。", "This venue code is out of date or a forwarded photo: the check-in is recorded as stale and does not show you were there. Scan the rotating code on the venue's screen.")) }
                }
                Presence::StaticPoster => { p #presence { (t(lang, "扫描的是场所海报（静态码）。", "You scanned the venue's poster (static code).")) } }
                Presence::Rotating => { p #presence { (t(lang, "扫描的是场所现场动态码。", "You scanned the venue's rotating code.")) } }
            }
            @if !done.new { p.muted { (t(lang, "（此前已登记，未重复记录）", "(already recorded; not recorded twice)")) } }
            form method="post" action={ "/checkins/" (done.record) "/leave" } {
                button #leave { (t(lang, "离开时点此登记离场", "Tap when you leave")) }
            }
        }
        (code_summary(lang, &view))
        @if !dependants.is_empty() {
            div.card {
                h3 { (t(lang, "同行家人", "Dependants with you")) }
                @for d in &dependants {
                    form method="post" action={ "/v/" (token) "/for/" (d.person) } {
                        button.dependant-checkin { (t(lang, "代 ", "Check in ")) (mingma_token::code::mask_name(&d.name)) (t(lang, " 登记", "")) }
                    }
                }
            }
        }
        script { (PreEscaped(CLOCK_JS)) }
    };
    page(lang, &path, t(lang, "场所登记", "Check-in"), true, body)
}

/// Which of the two consent forms an error belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ConsentWay {
    Otp,
    InPerson,
}

/// How a dependant consented, in words.
fn consent_label(lang: Lang, d: &crate::accounts::Dependant) -> String {
    match (d.consent.as_str(), d.consent_leaf) {
        ("in_person", Some(leaf)) => format!(
            "{}{leaf}{}",
            t(
                lang,
                "社区工作人员现场核验（账本第 ",
                "In-person check by a community official (ledger leaf "
            ),
            t(lang, " 条）", ")")
        ),
        ("in_person", None) => t(
            lang,
            "社区工作人员现场核验",
            "In-person check by a community official",
        )
        .to_owned(),
        _ => t(lang, "家人手机验证码", "One-time code to their phone").to_owned(),
    }
}

fn dependant_form(lang: Lang, error: Option<(ConsentWay, &AppError)>) -> Markup {
    let error_for = |way| error.filter(|(w, _)| *w == way).map(|(_, e)| e);
    html! {
        div.card #add-otp {
            h3 { (t(lang, "添加家人（代为出示）", "Add a dependant (show their code)")) }
            p.muted { (t(lang, "例如没有智能手机的老人。需要对方同意，两种方式任选其一。", "For example an elderly parent without a smartphone. They must consent, in one of two ways.")) }
            h4 { (t(lang, "方式一：验证码发送到家人手机", "Way 1: a one-time code to their phone")) }
            @if let Some(e) = error_for(ConsentWay::Otp) { p.error #error-message { (e.message) } }
            form method="post" action="/dependants" {
                label for="d_id" { (t(lang, "家人身份证号", "Their ID number")) }
                input #d_id name="id_number" required maxlength="18" autocomplete="off";
                label for="d_name" { (t(lang, "家人姓名", "Their name")) }
                input #d_name name="name" required maxlength="32";
                label for="d_phone" { (t(lang, "家人手机号", "Their mobile phone")) }
                input #d_phone name="phone" required inputmode="numeric" maxlength="13";
                button #add-dependant type="submit" { (t(lang, "发送验证码给家人", "Send them a one-time code")) }
            }
        }
        div.card #add-in-person {
            h4 { (t(lang, "方式二：社区工作人员现场核验", "Way 2: an in-person check by a community official")) }
            p.muted { (t(lang, "家人没有手机时：提交后会得到一个申请编号（3 天内有效）。请与家人一起携带其身份证，到家人居住地的社区（街道）卫生健康工作人员处出示编号；工作人员核验身份证并签名记录后，家人即添加成功。", "If they have no phone: you get a request reference (valid 3 days). Bring them and their ID card to a health official of the community (street) where they live and show the reference; once the official has checked the card and signed the record, they are added.")) }
            @if let Some(e) = error_for(ConsentWay::InPerson) { p.error #in-person-error { (e.message) } }
            form method="post" action="/dependants/in-person" {
                label for="p_id" { (t(lang, "家人身份证号", "Their ID number")) }
                input #p_id name="id_number" required maxlength="18" autocomplete="off";
                label for="p_name" { (t(lang, "家人姓名", "Their name")) }
                input #p_name name="name" required maxlength="32";
                button #ask-in-person type="submit" { (t(lang, "申请现场核验", "Ask for an in-person check")) }
            }
        }
    }
}

/// The in-person form's fields.
#[derive(Deserialize)]
pub struct InPersonForm {
    id_number: String,
    name: String,
}

async fn dependants_page<S: Store>(State(app): St<S>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers, None);
    let proxy = require_holder!(app, headers, lang, "/dependants");
    dependants_markup(&app, proxy, lang, None).await
}

/// The dependants page: the dependants with their colours and how they consented,
/// the open in-person requests, and the two ways to add one (`error` under its form).
async fn dependants_markup<S: Store>(
    app: &Arc<App<S>>,
    proxy: PersonKey,
    lang: Lang,
    error: Option<(ConsentWay, &AppError)>,
) -> Response {
    let list = or_page!(lang, app.dependants(proxy).await);
    let open = or_page!(lang, app.in_person_requests(proxy).await);
    let mut rows = Vec::new();
    for d in &list {
        let key = d.person.to_string();
        let (_, view) = or_page!(lang, app.dependant_view(proxy, &key, lang).await);
        rows.push((
            key,
            mingma_token::code::mask_name(&d.name),
            view.decision.colour,
            consent_label(lang, d),
        ));
    }
    let body = html! {
        div.card {
            h2 { (t(lang, "我的家人", "My dependants")) }
            @if rows.is_empty() { p.muted { (t(lang, "尚未添加。", "None yet.")) } }
            ul.plain #dependants {
                @for (key, name, colour, consent) in &rows {
                    li data-key=(key) {
                        a href={ "/dependants/" (key) } { (name) } " " span.band.(colour_class(*colour)) style="font-size:.8rem;padding:.1rem .4rem" { (colour_name(lang, *colour)) }
                        br; small.muted.consent { (t(lang, "同意方式：", "Consent: ")) (consent) }
                    }
                }
            }
        }
        @if !open.is_empty() {
            div.card.notice #in-person-requests {
                h3 { (t(lang, "等待现场核验", "Waiting for an in-person check")) }
                p.muted { (t(lang, "请与家人一起携带其身份证，到其居住地社区（街道）卫生健康工作人员处出示申请编号。", "Bring them and their ID card to a health official of the community (street) where they live, and show the reference.")) }
                ul.plain {
                    @for r in &open {
                        li.in-person-request {
                            (t(lang, "申请编号 ", "Reference ")) strong.reference style="font-family:monospace;font-size:1.3rem" { (r.reference) }
                            br; small.muted { (r.masked_name) " · " (t(lang, "身份证尾号 ", "ID ending ")) (r.id_last_four) " · " (t(lang, "有效至 ", "valid until ")) (r.expires_at) }
                        }
                    }
                }
            }
        }
        (dependant_form(lang, error))
    };
    let status = error.map_or(StatusCode::OK, |(_, e)| e.status);
    (
        status,
        Html(
            layout(
                lang,
                "/dependants",
                t(lang, "我的家人", "My dependants"),
                true,
                body,
            )
            .into_string(),
        ),
    )
        .into_response()
}

async fn in_person_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<InPersonForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let proxy = require_holder!(app, headers, lang, "/dependants");
    match app.request_in_person(proxy, &f.id_number, &f.name).await {
        Ok(_) => redirect("/dependants"),
        Err(e) if e.status.is_client_error() => {
            dependants_markup(&app, proxy, lang, Some((ConsentWay::InPerson, &e))).await
        }
        Err(e) => error_page(lang, &e),
    }
}

async fn dependant_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let proxy = require_holder!(app, headers, lang, "/dependants");
    match app
        .start_dependant(proxy, &f.id_number, &f.name, &f.phone)
        .await
    {
        Ok(started) => page(
            lang,
            "/dependants",
            t(lang, "家人同意", "Consent"),
            true,
            otp_form_to(lang, "/dependants/confirm", &started, "/dependants", None),
        ),
        Err(e) if e.status.is_client_error() => {
            dependants_markup(&app, proxy, lang, Some((ConsentWay::Otp, &e))).await
        }
        Err(e) => error_page(lang, &e),
    }
}

async fn dependant_confirm<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let proxy = require_holder!(app, headers, lang, "/dependants");
    match app.confirm_dependant(proxy, &f.challenge, &f.code).await {
        Ok(_) => redirect("/dependants"),
        Err(e) => error_page(lang, &e),
    }
}

async fn dependant_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let path = format!("/dependants/{key}");
    let proxy = require_holder!(app, headers, lang, &path);
    let (dependant, view) = or_page!(lang, app.dependant_view(proxy, &key, lang).await);
    let body = html! {
        p.notice { (t(lang, "代为出示的家人健康码", "A dependant's code, shown by their proxy")) br; small.muted.consent { (t(lang, "同意方式：", "Consent: ")) (consent_label(lang, &dependant)) } }
        (code_summary(lang, &view))
        script { (PreEscaped(CLOCK_JS)) }
    };
    page(
        lang,
        &path,
        t(lang, "家人健康码", "Dependant's code"),
        true,
        body,
    )
}

async fn check_in_dependant<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path((token, key)): Path<(String, String)>,
) -> Response {
    let lang = lang_of(&headers, None);
    let path = format!("/v/{token}");
    let proxy = require_holder!(app, headers, lang, &path);
    let done = or_page!(lang, app.check_in_as(proxy, Some(&key), &token).await);
    app.metrics.event("checkins", &done.presence.to_string());
    let (_, view) = or_page!(lang, app.dependant_view(proxy, &key, lang).await);
    let body = html! {
        div.card #checkin {
            h2 { (t(lang, "已代家人登记 ", "Checked in your dependant at ")) span #checkin-venue { (done.venue.venue.name) } }
            p.muted { (done.at) " · " (t(lang, "代扫码", "scanned by a proxy")) }
            @if done.presence == Presence::Stale {
                p.error #stale-notice { (t(lang, "此场所码已过期或为转发的截图：本次登记记为“过期码”。", "This venue code is out of date or a forwarded photo: the check-in is recorded as stale.")) }
            }
            form method="post" action={ "/checkins/" (done.record) "/leave" } {
                button.leave { (t(lang, "家人离开时点此登记离场", "Tap when they leave")) }
            }
        }
        (code_summary(lang, &view))
    };
    page(lang, &path, t(lang, "场所登记", "Check-in"), true, body)
}

async fn leave_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang_of(&headers, None);
    let actor = require_holder!(app, headers, lang, "/code");
    let left = or_page!(lang, app.leave(actor, &id).await);
    let view = if left.person == actor {
        or_page!(lang, app.code_view(actor, lang).await)
    } else {
        or_page!(
            lang,
            app.dependant_view(actor, &left.person.to_string(), lang)
                .await
        )
        .1
    };
    let body = html! {
        div.card #left {
            h2 { (t(lang, "已离开 ", "Left ")) (left.venue.venue.name) }
            p #left-at { (t(lang, "离场时间 ", "Left at ")) (left.left_at) }
        }
        (code_summary(lang, &view))
        script { (PreEscaped(CLOCK_JS)) }
    };
    page(lang, "/code", t(lang, "离场", "Left"), true, body)
}

// ---------------------------------------------------------------------------------
// Appeals.

/// The appeal form's fields (the document is read in the page into base64).
#[derive(Deserialize)]
pub struct AppealForm {
    claim: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    doc_name: Option<String>,
    #[serde(default)]
    doc_type: Option<String>,
    #[serde(default)]
    doc_data: Option<String>,
}

/// Reads the chosen file into the hidden fields as base64 before the form is sent.
const APPEAL_JS: &str = "(function(){var f=document.getElementById('appeal-file');if(!f)return;f.addEventListener('change',function(){var file=f.files&&f.files[0];var n=document.getElementById('doc-name'),t=document.getElementById('doc-type'),d=document.getElementById('doc-data');if(!file){n.value='';t.value='';d.value='';return;}var r=new FileReader();r.onload=function(){var s=String(r.result);d.value=s.slice(s.indexOf(',')+1);n.value=file.name;t.value=file.type;};r.readAsDataURL(file);});})();";

fn ticket_status(lang: Lang, status: &str) -> &'static str {
    match status {
        "open" => t(lang, "处理中", "open"),
        "answered" => t(lang, "已答复", "answered"),
        "closed" => t(lang, "已结案", "closed"),
        _ => t(lang, "未知", "unknown"),
    }
}

fn step_label(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "opened" => t(lang, "提交申诉", "opened"),
        "note" => t(lang, "备注", "note"),
        "accepted" => t(
            lang,
            "申诉成立，记录已撤销或更正",
            "accepted: record retracted or corrected",
        ),
        "rejected" => t(lang, "申诉不成立", "rejected"),
        "escalated" => t(lang, "逾期，已上报上级机关", "overdue: escalated"),
        "closed" => t(lang, "结案", "closed"),
        _ => t(lang, "其他", "other"),
    }
}

fn ticket_card(lang: Lang, ticket: &crate::appeals::TicketJson) -> Markup {
    html! {
        div.card.ticket data-ticket=(ticket.id) data-status=(ticket.status) {
            h3 { (ticket.claim_text) " · " span.status { (ticket_status(lang, &ticket.status)) } }
            dl {
                dt { (t(lang, "受理单位", "Addressed to")) } dd.addressee { (ticket.addressee.name) }
                dt { (t(lang, "处理机关", "Handled by")) } dd.handler {
                    (ticket.handler.name)
                    @if let Some(c) = &ticket.handler.contact { " · " (t(lang, "联系电话 ", "contact ")) (c) }
                }
                dt { (t(lang, "答复期限", "Answer due by")) } dd.deadline {
                    (ticket.deadline)
                    @if ticket.overdue { " · " strong { (t(lang, "已逾期", "overdue")) } }
                }
                @if !ticket.escalated_to.is_empty() || ticket.at_top {
                    dt { (t(lang, "已上报", "Escalated")) } dd.escalated {
                        (ticket.escalated_to.join(" → "))
                        @if ticket.at_top { " · " (t(lang, "已提交监督机关", "listed for the oversight bodies")) }
                    }
                }
                dt { (t(lang, "涉及记录", "Records")) } dd.records { (ticket.records.join(", ")) }
                @if !ticket.text.is_empty() { dt { (t(lang, "说明", "Your text")) } dd { (ticket.text) } }
                @if let Some(d) = &ticket.document { dt { (t(lang, "附件", "Document")) } dd { (d.name) " · " (d.size) " B · SHA-256 " code { (d.sha256.get(..16).unwrap_or("")) "…" } } }
            }
            @if let Some(answer) = &ticket.answer {
                div.answer.notice style="padding:.6rem;margin-top:.6rem" data-outcome=(answer.outcome) {
                    strong { @if answer.outcome == "accepted" { (t(lang, "申诉成立", "Appeal accepted")) } @else { (t(lang, "申诉不成立", "Appeal rejected")) } }
                    p.reason { (answer.reason) }
                    @if let Some(c) = &answer.correction {
                        p.correction {
                            (t(lang, "有误的记录已撤销，并由更正记录 ", "The wrong record was retracted and replaced by the corrected record "))
                            code { (c) }
                            (t(lang, " 取代。", "."))
                            @if answer.awaiting_approval { " " (t(lang, "更正记录须经另一名工作人员复核后生效；生效前不计入您的健康码。", "The corrected record takes effect once a second official approves it; until then it does not count towards your code.")) }
                        }
                    } @else if answer.awaiting_approval {
                        p.correction { (t(lang, "撤销须经另一名工作人员复核后生效。", "The retraction takes effect once a second official approves it.")) }
                    }
                    @if let Some(code) = &answer.code {
                        p.code-after {
                            (t(lang, "您的健康码已重新计算：", "Your code was re-derived: "))
                            strong { (crate::appeals::colour_label(&code.colour, lang)) }
                            " · "
                            a href={ "/history/verify/code-change/" (code.leaf) "/" (code.position) } { (t(lang, "变更凭证", "receipt of the change")) }
                        }
                    }
                }
            }
            details {
                summary { (t(lang, "处理记录（每一步均记入透明日志）", "Steps (each one in the transparency log)")) }
                ul.plain.steps {
                    @for s in &ticket.steps {
                        li { (s.at) " · " (step_label(lang, &s.kind)) @if let Some(n) = &s.note { " · " (n) } " · " small.muted { (t(lang, "日志序号 ", "leaf ")) (s.leaf) } }
                    }
                }
            }
        }
    }
}

/// The holder's appeals: the form (which part is wrong, text, a document; a green
/// holder names the record) and every ticket with its status, deadline, handler and
/// answer.
async fn appeals_markup<S: Store>(
    app: &Arc<App<S>>,
    person: PersonKey,
    lang: Lang,
    error: Option<&AppError>,
) -> Response {
    let view = or_page!(lang, app.code_view(person, lang).await);
    let tickets = or_page!(lang, app.my_appeals(person, lang).await);
    let green = view.decision.colour == Colour::Green;
    let records: Vec<(String, String)> = if green {
        or_page!(lang, app.history(person, lang).await)
            .into_iter()
            .filter_map(|h| match h.target {
                HistoryTarget::Record(id) => Some((id.to_string(), h.line)),
                HistoryTarget::CodeChange { .. } => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let body = html! {
        div.card.(colour_class(view.decision.colour)) #appeal-card data-colour=(view.decision.colour.name()) {
            div.band { (colour_name(lang, view.decision.colour)) }
            @if green {
                p #appeal-intro { (t(lang, "您的健康码为绿码。如果某条关于您的记录有误，仍可对该记录提出申诉，申诉将送达记录所属单位。", "Your code is green. If a record about you is wrong you can still appeal it; the appeal goes to the record's owner.")) }
            } @else {
                dl {
                    dt { (t(lang, "赋码原因", "Reason")) } dd #appeal-reason { (view.explanation.reason.clone().unwrap_or_default()) }
                    dt { (t(lang, "赋码来源", "Assigned by")) } dd #appeal-owners { (view.explanation.owners.join("；")) }
                }
                p #appeal-intro { (t(lang, "请说明哪一部分有误。申诉将自动送达决定性记录的每一个所属单位（每个单位一张工单），并在规定期限内答复；逾期将自动上报上级机关。", "Say which part is wrong. The appeal goes automatically to every owner of the decisive records (one ticket each), to be answered by a deadline; an overdue ticket escalates to the parent authority.")) }
            }
        }
        @if let Some(e) = error {
            div.card.error #appeal-error { p { (e.message) } small { code { (e.code) } } }
        }
        div.card {
            h2 { (t(lang, "提出申诉", "Appeal")) }
            form #appeal-form method="post" action="/appeals" {
                fieldset style="border:0;padding:0" {
                    legend { (t(lang, "哪一部分有误？", "Which part is wrong?")) }
                    @for (n, claim) in crate::appeals::Claim::ALL.iter().enumerate() {
                        label { input type="radio" name="claim" value=(claim.as_str()) id={ "claim-" (claim.as_str()) } required checked[n == 0 && !green] style="width:auto"; " " (claim.label(lang)) }
                    }
                }
                @if green {
                    label for="appeal-record" { (t(lang, "有误的记录", "The record that is wrong")) }
                    select #appeal-record name="record" required {
                        @for (id, line) in &records { option value=(id) { (line) } }
                    }
                }
                label for="appeal-text" { (t(lang, "说明（选“其他”时必填，最多 2000 字）", "Your text (required for “something else”; at most 2,000 characters)")) }
                textarea #appeal-text name="text" rows="4" maxlength="2000" style="width:100%;box-sizing:border-box" {}
                label for="appeal-file" { (t(lang, "附件（可选：PDF、PNG 或 JPEG，不超过 512 KB）", "Document (optional: PDF, PNG or JPEG, at most 512 KB)")) }
                input #appeal-file type="file" accept="application/pdf,image/png,image/jpeg";
                input #doc-name type="hidden" name="doc_name";
                input #doc-type type="hidden" name="doc_type";
                input #doc-data type="hidden" name="doc_data";
                button #appeal-submit type="submit" { (t(lang, "提交申诉", "Submit the appeal")) }
            }
        }
        h2 { (t(lang, "我的申诉", "My appeals")) }
        @if tickets.is_empty() { p.muted #no-tickets { (t(lang, "暂无申诉。", "No appeals yet.")) } }
        div #tickets { @for ticket in &tickets { (ticket_card(lang, ticket)) } }
        script { (PreEscaped(APPEAL_JS)) }
    };
    let status = if error.is_some() {
        error.map_or(StatusCode::OK, |e| e.status)
    } else {
        StatusCode::OK
    };
    (
        status,
        Html(layout(lang, "/appeals", t(lang, "申诉", "Appeals"), true, body).into_string()),
    )
        .into_response()
}

async fn appeals_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let person = require_holder!(app, headers, lang, "/appeals");
    appeals_markup(&app, person, lang, None).await
}

async fn appeal_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<AppealForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let person = require_holder!(app, headers, lang, "/appeals");
    let document = match (f.doc_name, f.doc_type, f.doc_data) {
        (Some(name), Some(content_type), Some(data)) if !data.is_empty() => {
            Some(crate::appeals::DocumentIn {
                name,
                content_type,
                data,
            })
        }
        _ => None,
    };
    let request = crate::appeals::AppealRequest {
        claim: f.claim,
        text: f.text,
        record: f.record,
        document,
    };
    match app.open_appeal(person, "holder", request, lang).await {
        Ok(_) => redirect("/appeals"),
        Err(e) if e.status.is_client_error() => appeals_markup(&app, person, lang, Some(&e)).await,
        Err(e) => error_page(lang, &e),
    }
}
