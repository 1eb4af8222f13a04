//! The officials' console under `/console`: sign-in, home (who, authority, grants,
//! keys), the signing key, record forms, approvals, contact tracing, the quarantine
//! list and the admin's key registrations. zh-CN by default; English by the same
//! switch as the holder pages (the `lang` cookie) or `?lang=en`.
//!
//! The pages are rendered here; every act is drafted by the API
//! (`console_api`), signed in the page by `console.js` with the official's own
//! Ed25519 key — a non-extractable WebCrypto key kept in the browser's IndexedDB —
//! and sealed through the API. The server never sees a private key. Refusals come
//! back with their stable codes and are shown in the page's language.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use mingma_authority::signature::KeyHolder;
use mingma_authority::{Action, Grant, Registry, Role};
use mingma_core::{Authority, EvidenceKind, OfficialId};
use mingma_explain::Lang;
use mingma_store::Store;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::accounts::KeyEnrolment;
use crate::app::App;
use crate::console_api::{official_cookie, official_token};
use crate::error::AppError;
use crate::officials::Principal;
use crate::pages::{encode, lang_of, redirect, t, STYLE};

type St<S> = State<Arc<App<S>>>;

/// The console's script: key generation and import, signing, the forms.
const SCRIPT: &str = include_str!("console.js");

/// The console's routes.
pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route("/console", get(home::<S>))
        .route(
            "/console/signin",
            get(sign_in_page).post(sign_in_submit::<S>),
        )
        .route("/console/signout", post(sign_out::<S>))
        .route("/console/key", get(key_page::<S>))
        .route("/console/records", get(records_page::<S>))
        .route("/console/approvals", get(approvals_page::<S>))
        .route("/console/trace", get(trace_page::<S>))
        .route("/console/quarantine", get(quarantine_page::<S>))
        .route("/console/consents", get(consents_page::<S>))
        .route("/console/admin", get(admin_page::<S>))
        .route("/console/appeals", get(appeals_page::<S>))
        .route("/console/appeals/{id}", get(appeal_page::<S>))
        .route("/console/hotline", get(hotline_page::<S>))
        .route("/console/console.js", get(script))
}

/// `?lang=` and `?next=`.
#[derive(Deserialize, Default)]
pub struct ConsoleQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// Refusal and error codes the console shows, with their zh-CN and English texts.
/// The API's message (English, with the details) is shown beneath.
const CODES: &[(&str, &str, &str)] = &[
    ("self_approval", "不能复核本人录入的记录：须由本机构另一名工作人员批准或驳回。", "You cannot approve or reject your own record: a second official of your authority must."),
    ("outside_jurisdiction", "超出辖区：您的授权不覆盖该地区。", "Outside your jurisdiction: none of your grants covers this place."),
    ("not_permitted", "您的角色无权进行此项操作。", "None of your roles permits this."),
    ("not_the_owner", "该记录属于其他机构：只有所属机构的工作人员可以复核或撤销。", "The record belongs to another authority: only its officials may decide on or retract it."),
    ("bad_seal", "签名无效：本浏览器中的密钥未登记、已吊销，或签名与内容不符。", "Bad seal: the key in this browser is not registered or was revoked, or the signature does not match."),
    ("malformed_seal", "签名格式有误。", "The seal is malformed."),
    ("malformed_record", "记录格式或内容有误，请检查各项。", "The record is malformed or incomplete; check the fields."),
    ("no_legal_basis", "此类记录必须填写法律依据。", "This kind of record must state its legal basis."),
    ("unknown_reference", "所引用的记录不存在。", "A record it names is not stored."),
    ("unknown_target", "要处理的记录不存在。", "The record it acts on is not stored."),
    ("unknown_draft", "草稿已过期或不存在，请重新提交。", "The draft expired or does not exist; submit again."),
    ("unknown_case", "病例报告不存在。", "No such case report."),
    ("not_a_case", "该编号不是病例报告。", "That id is not a case report."),
    ("malformed_case", "病例编号格式有误。", "The case id is malformed."),
    ("margin_too_wide", "时间余量最多 1440 分钟。", "The margin is at most 1440 minutes."),
    ("id_taken", "记录编号已被使用。", "The record id is already taken."),
    ("not_the_recorder", "只能提交本人录入的记录。", "You may submit only your own records."),
    ("not_the_actor", "只能提交本人的操作。", "You may submit only your own acts."),
    ("act_refused", "管理操作被拒绝。", "The act was refused."),
    ("malformed_act", "管理操作格式有误。", "The act is malformed."),
    ("not_drafted_here", "此类操作不能在此起草。", "This act is not drafted here."),
    ("not_registered", "您未在账本中登记为工作人员。", "You are not registered in the ledger as an official."),
    ("not_an_official", "此令牌属于数据源，不是工作人员。", "This token belongs to a data source, not an official."),
    ("not_signed_in", "登录已失效，请重新登录。", "Your session ended; sign in again."),
    ("bad_credentials", "工作人员编号或密码错误。", "The official id or the password is wrong."),
    ("malformed_key", "公钥格式有误（应为 64 位十六进制）。", "The public key is malformed (64 hex digits)."),
    ("key_registered", "该公钥已登记。", "This key is already registered."),
    ("key_enrolled", "该公钥已由其他工作人员申请登记。", "Another official enrolled this key."),
    ("too_many_enrolments", "您已有多个密钥在等待登记：请先请管理员登记。", "Several keys of yours are already waiting: ask an admin to register one first."),
    ("refused", "被拒绝。", "Refused."),
    ("malformed_json", "请求格式有误。", "The request is malformed."),
    ("overloaded", "系统繁忙，请稍后重试。", "The service is busy; try again shortly."),
    ("internal", "服务内部错误（已记录）。", "The service failed (logged)."),
    ("not_found", "页面不存在。", "No such page."),
    ("no_browser_key", "本浏览器中没有您的签名密钥：请先在“签名密钥”页面生成或导入。", "This browser holds no signing key of yours: generate or import one on the Signing key page first."),
    ("no_webcrypto", "此浏览器不支持 Ed25519 签名（WebCrypto）：请使用新版 Chromium/Chrome，并通过 HTTPS 访问。", "This browser cannot sign with Ed25519 (WebCrypto): use a recent Chromium or Chrome, over HTTPS."),
    ("no_indexeddb", "无法使用浏览器存储（IndexedDB）。", "The browser's storage (IndexedDB) is unavailable."),
    ("bad_key_file", "密钥文件应为 64 位十六进制数字（由 mingma admin keygen 生成）。", "A key file holds 64 hex digits (as mingma admin keygen writes it)."),
    ("key_not_yours", "该密钥文件与您已登记的任何公钥都不匹配：请管理员先登记其公钥。", "This key file matches none of your registered keys: an admin must register its public key first."),
    ("reason_required", "驳回须填写理由。", "A rejection needs a reason."),
    ("consent_request_unknown", "没有此编号的待核验申请（已完成的申请不再列出）。", "No open consent request has this reference (completed ones are closed)."),
    ("consent_request_expired", "该申请已过期（3 天）：请申请人重新申请。", "The request lapsed (3 days): the proxy must ask again."),
    ("consent_request_in_progress", "另一名工作人员正在记录此申请的核验。", "Another official's check of this request is being recorded."),
    ("malformed_reference", "申请编号应为 10 位字母和数字，例如 ABCDE-12345。", "A reference has 10 letters and digits, e.g. ABCDE-12345."),
    ("id_card_mismatch", "身份证号码与申请中的家人不符：请核对身份证原件。", "The ID number is not the requested dependant's: check the ID card."),
    ("malformed_id_number", "身份证号码格式有误。", "The ID number is malformed."),
    ("malformed_street", "街道（乡镇）代码应为 9 位 GB/T 2260 代码。", "The street code must be a 9-digit GB/T 2260 code."),
    ("dependant_linked", "该家人已通过现场核验添加。", "This dependant's in-person consent is recorded already."),
    ("card_not_checked", "请先当面核验身份证原件并勾选确认。", "Check the ID card in person first and tick the box."),
    ("network", "网络错误，请重试。", "Network error; try again."),
    ("not_the_handler", "该申诉不由您所在机构处理：只有所属机构（或逾期后上级机关）的工作人员可以答复。", "This appeal is not your authority's: only officials of the owner (or, once overdue, of its parent) may answer it."),
    ("no_consent", "须先取得来电人同意（来电人读出发送到其手机的验证码）。", "The caller's consent is needed first (they read out the code sent to their phone)."),
    ("consent_lapsed", "来电人的同意已过期，请重新取得。", "The caller's consent has lapsed; ask again."),
    ("consent_recorded", "该同意已记录。", "This consent is recorded already."),
    ("unknown_consent", "同意请求不存在或已过期（验证码 5 分钟有效）。", "No such consent request, or it expired (codes last 5 minutes)."),
    ("otp_mismatch", "验证码错误。", "The code is wrong."),
    ("no_account", "来电人没有账户（无可发送验证码的手机号）。", "The caller has no account (no phone to send a code to)."),
    ("unanswered", "尚未答复申诉人，不能结案。", "Not answered yet: a ticket cannot be closed without an answer."),
    ("ticket_answered", "该申诉已答复。", "This appeal is answered already."),
    ("unknown_ticket", "申诉工单不存在。", "No such appeal ticket."),
    ("missing_text", "请填写理由或内容。", "Write the reason or the text."),
    ("not_disputed", "该记录不在本申诉范围内。", "That record is not disputed by this ticket."),
    ("correction_of_another_type", "更正记录须与被更正记录类型相同。", "A correction is a record of the disputed record's type."),
    ("not_correctable", "此类记录不能更正，只能撤销。", "This kind of record is not corrected, only retracted."),
    ("not_a_correction_of_the_ticket", "更正记录与撤销不匹配，请重新提交。", "The correction does not match the retraction; submit again."),
    ("appeal_open", "已有处理中的申诉。", "An appeal is already open."),
    ("record_required", "绿码无决定性记录：请选择有误的记录。", "A green code rests on no record: name the wrong record."),
    ("unknown_claim", "请选择有误的部分。", "Choose which part is wrong."),
    ("_", "请求被拒绝。", "The request was refused."),
];

/// The console script's texts.
const UI: &[(&str, &str, &str)] = &[
    ("detail", "详情：", "details: "),
    (
        "answered",
        "已答复申诉人。",
        "The holder has been answered.",
    ),
    ("noted", "备注已记录。", "Note recorded."),
    ("closed", "已结案。", "Closed."),
    ("consent_sent", "验证码已发送至 ", "A code was sent to "),
    (
        "consent_ok",
        "来电人同意已记入账本，日志叶 ",
        "The caller's consent is in the ledger at leaf ",
    ),
    (
        "opened",
        "已为来电人提交申诉：工单 ",
        "Appeal opened for the caller: tickets ",
    ),
    ("status_open", "处理中", "open"),
    ("status_answered", "已答复", "answered"),
    ("status_closed", "已结案", "closed"),
    ("signing", "正在签名并提交……", "Signing and submitting…"),
    ("done", "已完成。", "Done."),
    ("recorded", "已记录 ", "Recorded "),
    ("leaf", "日志叶 ", "leaf "),
    (
        "awaiting",
        "待另一名工作人员复核后生效",
        "takes effect once a second official approves",
    ),
    ("in_effect", "已生效", "in effect"),
    ("rederived", "重新赋码人数 ", "codes re-derived: "),
    (
        "changed",
        "；变为红/黄/绿码 ",
        "; now red / yellow / green: ",
    ),
    (
        "act_done",
        "已记入账本，日志叶 ",
        "Appended to the ledger at leaf ",
    ),
    (
        "no_key",
        "本浏览器中没有您的签名密钥。",
        "This browser holds no signing key of yours.",
    ),
    ("holds_key", "本浏览器中的密钥 ", "Key in this browser: "),
    (
        "key_registered",
        "已登记，可以签名",
        "registered; ready to sign",
    ),
    (
        "key_enrolled",
        "已申请登记，等待管理员登记",
        "enrolled; waiting for an admin to register it",
    ),
    ("key_unregistered", "尚未登记", "not registered"),
    (
        "replace_key",
        "本浏览器中已有您的密钥。要替换它吗？旧密钥将无法恢复。",
        "This browser already holds a key of yours. Replace it? The old key cannot be recovered.",
    ),
    (
        "generated",
        "已生成新密钥并申请登记：",
        "Generated a new key and enrolled it: ",
    ),
    (
        "imported",
        "已导入密钥（不可导出）：",
        "Imported the key (not extractable): ",
    ),
    (
        "forget_confirm",
        "从本浏览器删除您的密钥？",
        "Delete your key from this browser?",
    ),
    (
        "forgotten",
        "已从本浏览器删除密钥。",
        "The key was deleted from this browser.",
    ),
    (
        "trace_logged",
        "查询已记入账本，日志叶 ",
        "Query logged at leaf ",
    ),
    ("found", "；找到接触者 ", "; contacts found: "),
    ("venue", "场所 ", "venue "),
    (
        "consent_linked",
        "；家人已添加：",
        "; the dependant is added: ",
    ),
    ("id_ending", "身份证尾号 ", "ID ending "),
    ("case_scan", "病例扫码 ", "case's scan "),
];

/// The text of an error code in `lang`.
pub fn code_text(lang: Lang, code: &str) -> &'static str {
    let row = CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .or_else(|| CODES.iter().find(|(c, _, _)| *c == "_"));
    match row {
        Some((_, zh, en)) => {
            if lang == Lang::En {
                en
            } else {
                zh
            }
        }
        None => "",
    }
}

fn table_json(lang: Lang, table: &[(&str, &str, &str)]) -> Value {
    let mut map = Map::new();
    for (code, zh, en) in table {
        map.insert(
            (*code).to_owned(),
            Value::String(t(lang, zh, en).to_owned()),
        );
    }
    Value::Object(map)
}

/// JSON inside a `<script type="application/json">`: `<`, `>` and `&` escaped so
/// that no text can close the element.
fn json_script(value: &Value) -> PreEscaped<String> {
    PreEscaped(
        value
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

const CONSOLE_STYLE: &str = r#"
main.console{max-width:64rem}
header nav{display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:center;justify-content:flex-end}
header nav a{margin-left:0}header nav a.here{font-weight:bold;color:#111}
header nav form{display:inline}header nav button{margin:0;padding:.3rem .6rem;font-size:.85rem;background:#666}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(28rem,1fr));gap:0 1rem}
@media (max-width:40rem){.grid{grid-template-columns:1fr}}
textarea{width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}
.result{margin-top:.6rem;padding:.5rem;border-radius:.4rem}.result:empty{display:none}
.pending,.enrolment{display:block}.decided{opacity:.7}
.own-note{color:#8a5a00}button.reject{background:#8a1c1c}
.inline{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}.inline input{flex:1;min-width:10rem}.inline button{margin-top:0}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #eee;font-size:.9rem;word-break:break-all}
code.key,code.person,code.record-id{font-size:.8rem;word-break:break-all}
input[type=checkbox]{width:auto;margin:0 .5rem 0 0;vertical-align:middle}
li.contact label{display:flex;align-items:center;margin:.2rem 0}ul.overlaps{margin:.2rem 0 .4rem 1.2rem;padding:0;font-size:.9rem}
"#;

/// Who is signed in, as the ledger says.
struct Who {
    official: OfficialId,
    authority: Option<Authority>,
    grants: Vec<Grant>,
    /// Registered, unrevoked keys: id, public key hex, valid from.
    keys: Vec<(String, String, String)>,
    enrolled: Vec<KeyEnrolment>,
    registry: Arc<Registry>,
}

impl Who {
    fn may(&self, action: Action) -> bool {
        self.grants.iter().any(|g| g.role.permits(action))
    }

    fn is_admin(&self) -> bool {
        self.may(Action::ManageAccounts)
    }

    /// What the script needs: the registered public keys and enrolled key ids.
    fn data(&self) -> Value {
        serde_json::json!({
            "official": self.official,
            "public_keys": self.keys.iter().map(|(id, key, _)| serde_json::json!({"id": id, "public_key": key})).collect::<Vec<_>>(),
            "enrolled": self.enrolled.iter().map(|e| e.key_id.clone()).collect::<Vec<_>>(),
        })
    }
}

fn role_name(lang: Lang, role: Role) -> &'static str {
    if lang == Lang::Zh {
        return role.name_zh();
    }
    match role {
        Role::HealthOfficial => "Health official",
        Role::TracingTeam => "Contact-tracing team",
        Role::HotlineOperator => "12345 hotline operator",
        Role::Auditor => "Auditor",
        Role::Admin => "Administrator",
    }
}

fn kind_label(lang: Lang, kind: EvidenceKind) -> &'static str {
    if lang == Lang::En {
        kind.label_en()
    } else {
        kind.label_zh()
    }
}

/// The console's pages, by path, with their zh and en titles.
const PAGES: [(&str, &str, &str); 10] = [
    ("/console", "首页", "Home"),
    ("/console/key", "签名密钥", "Signing key"),
    ("/console/records", "录入记录", "Records"),
    ("/console/approvals", "复核", "Approvals"),
    ("/console/trace", "流调", "Tracing"),
    ("/console/quarantine", "隔离名单", "Quarantine"),
    ("/console/consents", "代办核验", "Consent checks"),
    ("/console/appeals", "申诉", "Appeals"),
    ("/console/hotline", "12345", "12345 hotline"),
    ("/console/admin", "管理", "Admin"),
];

fn layout(lang: Lang, path: &str, title: &str, who: Option<&Who>, body: Markup) -> Markup {
    let other = if lang == Lang::En {
        ("zh", "中文")
    } else {
        ("en", "English")
    };
    let i18n = serde_json::json!({
        "lang": if lang == Lang::En { "en" } else { "zh" },
        "codes": table_json(lang, CODES),
        "ui": table_json(lang, UI),
    });
    html! {
        (DOCTYPE)
        html lang=(if lang == Lang::En { "en" } else { "zh-CN" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "明码工作台", "Mingma console")) }
                style { (PreEscaped(STYLE)) (PreEscaped(CONSOLE_STYLE)) }
            }
            body data-official=(who.map(|w| w.official.to_string()).unwrap_or_default()) {
                header {
                    strong { a href="/console" style="color:#111;margin:0" { (t(lang, "明码 · 工作台", "Mingma · console")) } }
                    nav {
                        @if let Some(who) = who {
                            @for (href, zh, en) in PAGES {
                                @if href != "/console/admin" || who.is_admin() {
                                    a href=(href) class=[(href == path).then_some("here")] { (t(lang, zh, en)) }
                                }
                            }
                            span.muted #signed-in-as { (who.official) }
                            form method="post" action="/console/signout" { button #signout type="submit" { (t(lang, "退出", "Sign out")) } }
                        }
                        a id="lang-switch" href={ "/lang/" (other.0) "?next=" (encode(path)) } { (other.1) }
                    }
                }
                main.console { (body) }
                script #console-i18n type="application/json" { (json_script(&i18n)) }
                @if let Some(who) = who {
                    script #console-data type="application/json" { (json_script(&who.data())) }
                    script src="/console/console.js" {}
                }
            }
        }
    }
}

fn page(lang: Lang, path: &str, title: &str, who: &Who, body: Markup) -> Response {
    Html(layout(lang, path, title, Some(who), body).into_string()).into_response()
}

/// An error as a console page, in the page's language, with the stable code and
/// the service's message.
fn console_error(lang: Lang, e: &AppError) -> Response {
    let body = html! {
        div.card.error {
            h2 { (t(lang, "出错了", "Something is wrong")) }
            p #error-text { strong { (code_text(lang, e.code)) } }
            p #error-message { (e.message) }
            p { small { (t(lang, "错误代码", "Error code")) ": " code #error-code { (e.code) } } }
        }
        a.button href="/console" { (t(lang, "返回", "Back")) }
    };
    (
        e.status,
        Html(layout(lang, "/console", "Error", None, body).into_string()),
    )
        .into_response()
}

/// A path under `/console` to return to after sign-in (never another site).
fn console_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

/// The signed-in official, or the response to send instead: a redirect to the
/// sign-in page without a valid session, an error page otherwise.
async fn signed_in<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    lang: Lang,
    path: &str,
) -> Result<Who, Response> {
    let to_sign_in = || redirect(&format!("/console/signin?next={}", encode(path)));
    let Some(token) = official_token(headers) else {
        return Err(to_sign_in());
    };
    let official = match app.principal(&token).await {
        Ok(Principal::Official(o)) => o,
        Ok(Principal::Source(s)) => {
            return Err(console_error(
                lang,
                &AppError::forbidden("not_an_official", format!("data source {s} has no console")),
            ))
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(to_sign_in()),
        Err(e) => return Err(console_error(lang, &e)),
    };
    let registry = app
        .engine
        .registry()
        .await
        .map_err(|e| console_error(lang, &AppError::from(e)))?;
    let authority = registry
        .directory
        .officials
        .get(&official)
        .and_then(|o| registry.directory.authorities.get(&o.authority))
        .cloned();
    let mut keys: Vec<(String, String, String)> = registry
        .keys
        .iter()
        .filter(|(_, k)| {
            k.holder == KeyHolder::Official(official.clone()) && k.revoked_at.is_none()
        })
        .map(|(id, k)| {
            (
                id.to_string(),
                mingma_authority::act::key_hex(&k.key),
                k.valid_from.to_string(),
            )
        })
        .collect();
    keys.sort();
    let enrolled = app
        .accounts
        .enrolments()
        .await
        .map_err(|e| console_error(lang, &e))?
        .into_iter()
        .filter(|e| e.official == official && !keys.iter().any(|(id, _, _)| *id == e.key_id))
        .collect();
    Ok(Who {
        grants: registry.grants_of(&official).to_vec(),
        official,
        authority,
        keys,
        enrolled,
        registry,
    })
}

macro_rules! require_official {
    ($app:expr, $headers:expr, $lang:expr, $path:expr) => {
        match signed_in(&$app, &$headers, $lang, $path).await {
            Ok(who) => who,
            Err(response) => return response,
        }
    };
}

macro_rules! or_error {
    ($lang:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return console_error($lang, &e),
        }
    };
}

async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

// ---- sign-in ----

fn sign_in_form(lang: Lang, next: &str, official: &str, error: Option<&AppError>) -> Markup {
    html! {
        div.card style="max-width:28rem;margin:2rem auto" {
            h2 { (t(lang, "工作人员登录", "Official sign-in")) }
            p.muted { (t(lang, "使用管理员为您设置的工作人员编号和密码。签名密钥始终留在您的浏览器中。", "With the official id and password an admin set for you. Your signing key always stays in your browser.")) }
            @if let Some(e) = error {
                p.error #error-message { strong { (code_text(lang, e.code)) } br; small { code { (e.code) } } }
            }
            form method="post" action="/console/signin" {
                input type="hidden" name="next" value=(next);
                label for="official" { (t(lang, "工作人员编号", "Official id")) }
                input #official name="official" required maxlength="64" autocomplete="username" value=(official);
                label for="password" { (t(lang, "密码", "Password")) }
                input #password name="password" type="password" required autocomplete="current-password";
                button #signin type="submit" { (t(lang, "登录", "Sign in")) }
            }
        }
    }
}

async fn sign_in_page(headers: HeaderMap, Query(q): Query<ConsoleQuery>) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let next = console_next(q.next.as_deref());
    let body = sign_in_form(lang, &next, "", None);
    Html(
        layout(
            lang,
            "/console/signin",
            t(lang, "工作人员登录", "Official sign-in"),
            None,
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// The console's sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    official: String,
    password: String,
    next: Option<String>,
}

async fn sign_in_submit<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let lang = lang_of(&headers, None);
    let next = console_next(f.next.as_deref());
    match app.official_sign_in(&f.official, &f.password).await {
        Ok(token) => {
            let cookie = or_error!(lang, official_cookie(&token, app.config.secure_cookies()));
            let mut r = redirect(&next);
            r.headers_mut().insert(SET_COOKIE, cookie);
            r
        }
        Err(e) if e.status.is_client_error() => (
            e.status,
            Html(
                layout(
                    lang,
                    "/console/signin",
                    t(lang, "工作人员登录", "Official sign-in"),
                    None,
                    sign_in_form(lang, &next, &f.official, Some(&e)),
                )
                .into_string(),
            ),
        )
            .into_response(),
        Err(e) => console_error(lang, &e),
    }
}

async fn sign_out<S: Store>(State(app): St<S>, headers: HeaderMap) -> Response {
    if let Some(token) = official_token(&headers) {
        let _ = app.official_sign_out(&token).await;
    }
    let mut r = redirect("/console/signin");
    r.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("mingma_official=; Path=/; HttpOnly; Max-Age=0"),
    );
    r
}

// ---- home ----

fn grants_list(lang: Lang, grants: &[Grant]) -> Markup {
    html! {
        ul.plain #grants {
            @for g in grants {
                li { (role_name(lang, g.role)) " · " code { (g.jurisdiction) } " " (g.jurisdiction.full_name()) }
            }
            @if grants.is_empty() { li.muted { (t(lang, "无", "none")) } }
        }
    }
}

fn keys_list(lang: Lang, who: &Who) -> Markup {
    html! {
        ul.plain #registered-keys {
            @for (id, _, from) in &who.keys {
                li { code.key { (id) } " " small.muted { (t(lang, "生效于 ", "valid from ")) (from) } }
            }
            @if who.keys.is_empty() { li.muted #no-registered-key { (t(lang, "尚无已登记的公钥", "no registered key yet")) } }
        }
    }
}

async fn home<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console");
    let body = html! {
        div.card {
            h2 { (t(lang, "工作人员 ", "Official ")) span #official-id { (who.official) } }
            dl {
                dt { (t(lang, "所属机构", "Authority")) }
                dd #authority {
                    @match &who.authority {
                        Some(a) => { (if lang == Lang::En { a.name_en.as_deref().unwrap_or(&a.name) } else { &a.name }) " " small.muted { "(" (a.id) " · " (a.jurisdiction) " " (a.jurisdiction.full_name()) ")" } }
                        None => { (t(lang, "未登记", "not registered")) }
                    }
                }
                dt { (t(lang, "授权", "Grants")) }
                dd { (grants_list(lang, &who.grants)) }
                dt { (t(lang, "已登记公钥", "Registered keys")) }
                dd { (keys_list(lang, &who)) }
                dt { (t(lang, "本浏览器", "This browser")) }
                dd { span #browser-key { (t(lang, "正在检查……", "checking…")) } " " a href="/console/key" { (t(lang, "管理密钥", "Manage the key")) } }
            }
        }
        div.card {
            h3 { (t(lang, "工作", "Work")) }
            ul.plain {
                li { a href="/console/records" { (t(lang, "录入记录", "Enter a record")) } " — " span.muted { (t(lang, "检测结果、病例、密接判定、隔离、风险区域、撤销", "test results, cases, close contacts, quarantine, risk areas, retractions")) } }
                li { a href="/console/approvals" { (t(lang, "复核", "Approvals")) } " — " span.muted { (t(lang, "本机构待第二名工作人员复核的记录", "records of your authority waiting for a second official")) } }
                li { a href="/console/trace" { (t(lang, "流调", "Contact tracing")) } " — " span.muted { (t(lang, "每次查询先记入账本", "every query is logged first")) } }
                li { a href="/console/quarantine" { (t(lang, "隔离名单", "Quarantine list")) } }
            }
        }
    };
    page(lang, "/console", t(lang, "工作台", "Console"), &who, body)
}

// ---- the signing key ----

async fn key_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/key");
    let body = html! {
        div.card {
            h2 { (t(lang, "签名密钥", "Signing key")) }
            p { (t(lang, "您录入的每条记录、每次复核和每个管理操作都由您本人的 Ed25519 密钥签名。密钥保存在本浏览器中（IndexedDB），不可导出；服务器从不持有您的私钥。", "Every record, approval and admin act you make is signed with your own Ed25519 key. The key is kept in this browser (IndexedDB) and cannot be exported; the server never holds your private key.")) }
            p { strong { span #browser-key { (t(lang, "正在检查……", "checking…")) } } }
            p hidden { (t(lang, "请管理员登记此公钥：", "Ask an admin to register this public key: ")) br; code.key #public-key {} }
            h3 { (t(lang, "账本中已登记的公钥", "Keys registered in the ledger")) }
            (keys_list(lang, &who))
            @if !who.enrolled.is_empty() {
                h3 { (t(lang, "等待管理员登记", "Waiting for an admin")) }
                ul.plain #enrolled { @for e in &who.enrolled { li { code.key { (e.key_id) } " " small.muted { (e.enrolled_at) } } } }
            }
            div.result #key-result role="status" {}
        }
        div.grid {
            div.card {
                h3 { (t(lang, "导入密钥文件", "Import a key file")) }
                p.muted { (t(lang, "由 mingma admin keygen 生成的密钥文件（64 位十六进制）。导入一次，之后只保存在本浏览器中且不可导出；其公钥须已由管理员登记。", "A key file from mingma admin keygen (64 hex digits). Imported once, then kept only in this browser, not extractable; its public key must already be registered by an admin.")) }
                label for="key-file" { (t(lang, "密钥文件", "Key file")) }
                input #key-file type="file";
                label for="key-hex" { (t(lang, "或粘贴文件内容", "or paste its contents")) }
                input #key-hex autocomplete="off" spellcheck="false";
                button #import-key type="button" { (t(lang, "导入", "Import")) }
            }
            div.card {
                h3 { (t(lang, "在本浏览器中生成新密钥", "Generate a new key in this browser")) }
                p.muted { (t(lang, "生成后，公钥会显示在上方并提交登记申请；管理员在“管理”页面登记后即可签名。", "Its public key is shown above and enrolled; once an admin registers it on the Admin page, you can sign.")) }
                button #generate-key type="button" { (t(lang, "生成密钥", "Generate key")) }
                p { button #forget-key type="button" style="background:#666" { (t(lang, "从本浏览器删除密钥", "Delete the key from this browser")) } }
            }
        }
    };
    page(
        lang,
        "/console/key",
        t(lang, "签名密钥", "Signing key"),
        &who,
        body,
    )
}

// ---- record forms ----

/// How a form field is entered.
#[derive(Clone, Copy)]
enum Input {
    Text,
    /// A time in UTC+8 (`2022-06-10 09:00`) or RFC 3339.
    Time,
    /// Several ids or codes.
    List,
    Select(&'static [(&'static str, &'static str, &'static str)]),
}

/// One field: JSON name (names starting with `_` are assembled by the script),
/// zh and en labels, how it is entered, whether required, a placeholder.
type Field = (
    &'static str,
    &'static str,
    &'static str,
    Input,
    bool,
    &'static str,
);

const SUBJECT: Field = (
    "subject",
    "当事人（身份证号，或流调结果中的人员密钥）",
    "Person (ID number, or the person key from a tracing result)",
    Input::Text,
    true,
    "",
);

fn record_fields(kind: EvidenceKind) -> Vec<Field> {
    use Input::*;
    match kind {
        EvidenceKind::TestResult => vec![
            SUBJECT,
            (
                "method",
                "检测方法",
                "Method",
                Select(&[
                    ("nucleic_acid", "核酸", "Nucleic acid (PCR)"),
                    ("antigen", "抗原", "Antigen"),
                ]),
                true,
                "",
            ),
            (
                "outcome",
                "结果",
                "Outcome",
                Select(&[
                    ("positive", "阳性", "Positive"),
                    ("negative", "阴性", "Negative"),
                ]),
                true,
                "",
            ),
            (
                "sampled_at",
                "采样时间",
                "Sampled at",
                Time,
                true,
                "2022-06-10 08:00",
            ),
        ],
        EvidenceKind::CaseReport => vec![
            SUBJECT,
            (
                "classification",
                "分类",
                "Classification",
                Select(&[
                    ("confirmed", "确诊病例", "Confirmed"),
                    ("asymptomatic", "无症状感染者", "Asymptomatic"),
                    ("suspected", "疑似病例", "Suspected"),
                ]),
                true,
                "",
            ),
            (
                "test",
                "依据的检测结果编号",
                "Test result id",
                Text,
                false,
                "",
            ),
        ],
        EvidenceKind::CaseClosure => vec![
            SUBJECT,
            ("case", "病例报告编号", "Case report id", Text, true, ""),
            (
                "outcome",
                "结案方式",
                "Outcome",
                Select(&[
                    ("discharged", "出院", "Discharged"),
                    ("recovered", "解除隔离（康复）", "Recovered"),
                    ("ruled_out", "排除", "Ruled out"),
                ]),
                true,
                "",
            ),
        ],
        EvidenceKind::CloseContact => vec![
            SUBJECT,
            ("case", "病例报告编号", "Case report id", Text, true, ""),
            (
                "_exposure",
                "接触方式",
                "Exposure",
                Select(&[
                    ("household", "共同居住", "Household"),
                    ("venue", "同一场所", "Same venue"),
                ]),
                true,
                "",
            ),
            (
                "_venue",
                "场所编号（同一场所时）",
                "Venue id (same venue)",
                Text,
                false,
                "",
            ),
            (
                "_from",
                "接触开始",
                "Exposure from",
                Time,
                false,
                "2022-06-08 12:00",
            ),
            (
                "_until",
                "接触结束",
                "Exposure until",
                Time,
                false,
                "2022-06-08 13:00",
            ),
        ],
        EvidenceKind::QuarantineOrder => vec![
            SUBJECT,
            (
                "setting",
                "隔离方式",
                "Setting",
                Select(&[
                    ("centralised", "集中隔离", "Centralised"),
                    ("home", "居家隔离", "At home"),
                ]),
                true,
                "",
            ),
            ("facility", "隔离场所", "Facility", Text, false, ""),
            (
                "ground",
                "依据记录编号（入境、密接判定或病例）",
                "Ground record id (border entry, designation or case)",
                Text,
                true,
                "",
            ),
            (
                "planned_end",
                "计划解除时间",
                "Planned end",
                Time,
                true,
                "2022-06-17 10:00",
            ),
        ],
        EvidenceKind::QuarantineRelease => vec![
            SUBJECT,
            (
                "order",
                "隔离决定编号",
                "Quarantine order id",
                Text,
                true,
                "",
            ),
        ],
        EvidenceKind::RiskArea => vec![
            (
                "level",
                "风险等级",
                "Level",
                Select(&[("high", "高风险", "High"), ("medium", "中风险", "Medium")]),
                true,
                "",
            ),
            (
                "_scope",
                "范围",
                "Scope",
                Select(&[
                    (
                        "divisions",
                        "区县/街道（GB/T 2260 代码）",
                        "Districts or streets (GB/T 2260 codes)",
                    ),
                    ("venues", "场所", "Venues"),
                ]),
                true,
                "",
            ),
            (
                "_places",
                "代码或场所编号（逗号或换行分隔）",
                "Codes or venue ids (comma or newline separated)",
                List,
                true,
                "410102001, 410103",
            ),
            ("from", "开始时间", "From", Time, true, "2022-06-10 00:00"),
            ("until", "结束时间", "Until", Time, true, "2022-06-13 00:00"),
        ],
        EvidenceKind::Retraction => vec![
            (
                "target",
                "要撤销的记录编号",
                "Record to retract",
                Text,
                true,
                "",
            ),
            ("reason", "撤销理由", "Reason", Text, true, ""),
        ],
        _ => Vec::new(),
    }
}

/// The kinds the records page has a form for.
const FORM_KINDS: [EvidenceKind; 8] = [
    EvidenceKind::TestResult,
    EvidenceKind::CaseReport,
    EvidenceKind::CloseContact,
    EvidenceKind::QuarantineOrder,
    EvidenceKind::QuarantineRelease,
    EvidenceKind::RiskArea,
    EvidenceKind::CaseClosure,
    EvidenceKind::Retraction,
];

fn field_markup(lang: Lang, kind: EvidenceKind, field: Field) -> Markup {
    let (name, zh, en, input, required, hint) = field;
    let id = format!("{}-{}", kind.name(), name.trim_start_matches('_'));
    html! {
        label for=(id) {
            (t(lang, zh, en))
            @if !required { " " small.muted { (t(lang, "（可选）", "(optional)")) } }
        }
        @match input {
            Input::Select(options) => {
                select id=(id) name=(name) {
                    @for (value, zh, en) in options { option value=(value) { (t(lang, zh, en)) } }
                }
            }
            Input::List => { textarea id=(id) name=(name) data-type="list" rows="3" required[required] placeholder=(hint) {} }
            Input::Time => { input id=(id) name=(name) data-type="time" required[required] placeholder=(if hint.is_empty() { "2022-06-10 09:00" } else { hint }) autocomplete="off"; }
            Input::Text => { input id=(id) name=(name) required[required] placeholder=(hint) autocomplete="off"; }
        }
    }
}

fn record_form(lang: Lang, kind: EvidenceKind, permitted: bool) -> Markup {
    let basis_id = format!("{}-legal_basis", kind.name());
    let needs_basis = kind.needs_legal_basis();
    html! {
        div.card id={ "card-" (kind.name()) } {
            h3 { (kind_label(lang, kind)) }
            @if !permitted { p.notice { (t(lang, "您的授权不包括此类记录；提交将被拒绝。", "Your grants do not include this kind of record; it would be refused.")) } }
            p.muted { small {
                @if kind.always_needs_approval() {
                    (t(lang, "须经本机构另一名工作人员复核后生效。", "Takes effect once a second official of your authority approves it."))
                } @else if kind.can_raise_colour() {
                    (t(lang, "人工录入且可能提高赋码颜色的记录须经第二名工作人员复核。", "A manual record that can raise a colour needs a second official's approval."))
                } @else if kind == EvidenceKind::Retraction {
                    (t(lang, "撤销检测阴性、结案或解除隔离等记录，同样须经第二名工作人员复核。", "Retracting a record that ended a red or yellow period also needs a second official's approval."))
                } @else {
                    (t(lang, "提交后立即生效。", "Takes effect when submitted."))
                }
            } }
            form.record-form id={ "form-" (kind.name()) } data-kind=(kind.name()) {
                @for field in record_fields(kind) { (field_markup(lang, kind, field)) }
                label for=(basis_id) {
                    (t(lang, "法律依据", "Legal basis"))
                    @if !needs_basis { " " small.muted { (t(lang, "（可选）", "(optional)")) } }
                }
                input id=(basis_id) name="legal_basis" required[needs_basis] placeholder=(t(lang, "例如：《中华人民共和国传染病防治法》第四十二条", "e.g. Law on the Prevention and Control of Infectious Diseases, art. 42"));
                details {
                    summary { small { (t(lang, "更多：记录编号、生效时间", "More: record id, effective time")) } }
                    label for={ (kind.name()) "-id" } { (t(lang, "记录编号", "Record id")) " " small.muted { (t(lang, "（可选，默认自动生成）", "(optional, generated if empty)")) } }
                    input id={ (kind.name()) "-id" } name="id" autocomplete="off";
                    label for={ (kind.name()) "-effective_at" } { (t(lang, "生效时间", "Effective at")) " " small.muted { (t(lang, "（可选，默认现在）", "(optional, now if empty)")) } }
                    input id={ (kind.name()) "-effective_at" } name="effective_at" data-type="time" placeholder="2022-06-10 09:00" autocomplete="off";
                }
                button type="submit" { (t(lang, "签名并提交", "Sign and submit")) }
                div.result role="status" {}
            }
        }
    }
}

async fn records_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/records");
    let body = html! {
        div.card {
            h2 { (t(lang, "录入记录", "Enter a record")) }
            p.muted { (t(lang, "每条记录由服务器起草并检查，在本浏览器中用您的密钥签名后提交。时间按北京时间（UTC+8）填写。", "Each record is drafted and checked by the server, signed in this browser with your key, then submitted. Times are China Standard Time (UTC+8).")) }
            p { @for kind in FORM_KINDS { a href={ "#card-" (kind.name()) } { (kind_label(lang, kind)) } " · " } }
        }
        div.grid {
            @for kind in FORM_KINDS {
                @let permitted = kind == EvidenceKind::Retraction || who.may(Action::Record(kind));
                (record_form(lang, kind, permitted))
            }
        }
    };
    page(
        lang,
        "/console/records",
        t(lang, "录入记录", "Records"),
        &who,
        body,
    )
}

// ---- approvals ----

async fn approvals_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/approvals");
    let pending = or_error!(
        lang,
        app.pending_approvals(&Principal::Official(who.official.clone()))
            .await
    );
    let text = |v: &Value, field: &str| v[field].as_str().unwrap_or_default().to_owned();
    let body = html! {
        div.card {
            h2 { (t(lang, "待复核记录", "Records waiting for approval")) }
            p.muted { (t(lang, "两人规则：人工录入的判定、决定、公告及可能提高赋码颜色的记录，须由同一机构的另一名工作人员批准后才生效。您本人录入的记录只能由他人复核。", "Two-person rule: designations, orders, declarations and manual records that can raise a colour take effect only once a second official of the same authority approves them. Your own records are approved by someone else.")) }
            @if pending.is_empty() { p.muted #no-pending { (t(lang, "没有待复核的记录。", "Nothing is waiting.")) } }
            ul.plain #pending {
                @for item in &pending {
                    @let record = text(item, "record");
                    @let own = item["own"].as_bool().unwrap_or(false);
                    li.pending data-record=(record) data-own=(own) {
                        strong { (text(item, if lang == Lang::En { "label_en" } else { "label_zh" })) } " "
                        code.record-id { (record) }
                        br;
                        span { (text(item, "detail")) }
                        br;
                        small.muted {
                            (t(lang, "录入人 ", "by ")) (text(item, "recorded_by"))
                            " · " (t(lang, "录入于 ", "recorded ")) (text(item, "recorded_at"))
                            " · " (t(lang, "生效 ", "effective ")) (text(item, "effective_at"))
                            @if let Some(basis) = item["legal_basis"].as_str() { " · " (t(lang, "依据 ", "basis ")) (basis) }
                            @if let Some(subject) = item["subject"].as_str() { " · " (t(lang, "当事人 ", "person ")) code { (subject.get(..16).unwrap_or(subject)) "…" } }
                        }
                        @if own {
                            p.own-note { (t(lang, "本人录入：须由本机构另一名工作人员复核，您不能批准或驳回。", "Your own record: a second official of your authority must decide; you cannot approve or reject it.")) }
                        } @else {
                            div.inline {
                                button.approve type="button" { (t(lang, "批准", "Approve")) }
                                input.reason placeholder=(t(lang, "驳回理由", "Reason for rejecting")) aria-label=(t(lang, "驳回理由", "Reason for rejecting"));
                                button.reject type="button" { (t(lang, "驳回", "Reject")) }
                            }
                        }
                        div.result role="status" {}
                    }
                }
            }
        }
    };
    page(
        lang,
        "/console/approvals",
        t(lang, "复核", "Approvals"),
        &who,
        body,
    )
}

// ---- tracing ----

async fn trace_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/trace");
    let body = html! {
        div.card {
            h2 { (t(lang, "流调查询", "Contact tracing")) }
            p.muted { (t(lang, "每次查询都以您签名的操作先记入账本（目的：所查病例），然后才显示结果。查找病例报告前 4 天内与其停留时间重叠的人员。", "Each query is first logged in the ledger as an act you sign (its purpose: the case), and only then are results shown. It finds people whose stays overlapped the case's in the 4 days before the report.")) }
            @if !who.may(Action::Trace) { p.notice { (t(lang, "您的授权不包括流调查询。", "Your grants do not include tracing.")) } }
            form #trace-form {
                label for="trace-case" { (t(lang, "病例报告编号", "Case report id")) }
                input #trace-case name="case" required autocomplete="off";
                label for="trace-margin" { (t(lang, "时间余量（分钟）", "Margin (minutes)")) }
                input #trace-margin name="margin_minutes" type="number" min="0" max="1440" value="30";
                button type="submit" { (t(lang, "签名并查询", "Sign and query")) }
            }
            div.result #trace-result role="status" {}
            ul.plain #contacts {}
        }
        div.card #propose-card hidden {
            h3 { (t(lang, "提出密切接触者判定", "Propose close-contact designations")) }
            p.muted { (t(lang, "为选中的人员各起草一条密接判定（以人员密钥为当事人，接触方式为重叠的场所与时段），须经本机构另一名工作人员复核后生效。", "Drafts one designation per selected person (the person key as subject, the overlapping venue and time as exposure); each takes effect once a second official of your authority approves it.")) }
            label for="propose-basis" { (t(lang, "法律依据", "Legal basis")) }
            input #propose-basis required placeholder=(t(lang, "例如：《中华人民共和国传染病防治法》第四十二条", "e.g. Law on the Prevention and Control of Infectious Diseases, art. 42"));
            button #propose type="button" { (t(lang, "签名并提出判定", "Sign and propose")) }
            ul.plain #propose-results {}
        }
    };
    page(
        lang,
        "/console/trace",
        t(lang, "流调", "Tracing"),
        &who,
        body,
    )
}

// ---- quarantine ----

async fn quarantine_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/quarantine");
    let list = or_error!(
        lang,
        app.quarantine_list(&Principal::Official(who.official.clone()))
            .await
    );
    let setting = |s: &str| match (s, lang) {
        ("centralised", Lang::Zh) => "集中隔离",
        ("home", Lang::Zh) => "居家隔离",
        ("centralised", _) => "centralised",
        ("home", _) => "at home",
        _ => "",
    };
    let body = html! {
        div.card {
            h2 { (t(lang, "在隔离人员", "People under quarantine")) }
            p.muted { (t(lang, "您的授权范围内已复核生效、尚未解除或撤销的隔离决定。", "Approved quarantine orders inside your grants that are neither released nor retracted.")) }
            @if list.is_empty() { p.muted #no-quarantine { (t(lang, "目前没有。", "None at present.")) } }
            @else {
                table #quarantine {
                    thead { tr {
                        th { (t(lang, "人员密钥", "Person key")) }
                        th { (t(lang, "隔离决定", "Order")) }
                        th { (t(lang, "机构", "Authority")) }
                        th { (t(lang, "方式", "Setting")) }
                        th { (t(lang, "开始", "From")) }
                        th { (t(lang, "计划解除", "Planned end")) }
                    } }
                    tbody {
                        @for q in &list {
                            tr {
                                td { code { (q.person.get(..16).unwrap_or(&q.person)) "…" } }
                                td { code { (q.order) } }
                                td { (q.authority) }
                                td { (setting(&q.setting)) }
                                td { (q.from) }
                                td { (q.planned_end) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(
        lang,
        "/console/quarantine",
        t(lang, "隔离名单", "Quarantine"),
        &who,
        body,
    )
}

// ---- in-person consent ----

async fn consents_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/consents");
    let home = who
        .grants
        .iter()
        .filter(|g| g.role.permits(Action::WitnessConsent))
        .map(|g| format!("{} {}", g.jurisdiction, g.jurisdiction.full_name()))
        .collect::<Vec<_>>()
        .join("；");
    let body = html! {
        div.card {
            h2 { (t(lang, "现场核验家人代办同意", "Witness a dependant's consent in person")) }
            p.muted { (t(lang, "家人（例如没有手机的老人）同意由申请人代为出示健康码、代为扫码登记。申请人与家人携带家人的身份证前来，出示申请编号。核验身份证原件后输入其号码和家人居住的街道（乡镇）代码：您的签名操作记入账本（账本中不含姓名和身份证号），家人随即添加成功。", "A dependant (e.g. an elderly person without a phone) consents to a proxy showing their code and checking in for them. The proxy and the dependant come with the dependant's ID card and the request's reference. Having checked the card, enter its number and the dependant's street code: the act you sign goes into the ledger (which holds no name or ID number), and the dependant is added.")) }
            @if who.may(Action::WitnessConsent) {
                p.muted #consent-jurisdiction { (t(lang, "您可核验的辖区：", "Your jurisdiction for these checks: ")) (home) }
            } @else {
                p.notice #consent-not-permitted { (t(lang, "您的授权不包括现场核验（须为卫生健康工作人员）。", "Your grants do not include in-person checks (a health official's).")) }
            }
            form #consent-lookup-form {
                label for="consent-reference" { (t(lang, "申请编号", "Request reference")) }
                div.inline {
                    input #consent-reference name="reference" required autocomplete="off" placeholder="ABCDE-12345" maxlength="16";
                    button #consent-lookup type="submit" { (t(lang, "查找", "Look up")) }
                }
            }
            div.result #consent-lookup-result role="status" {}
            div #consent-request hidden {
                dl {
                    dt { (t(lang, "家人", "Dependant")) } dd #consent-dependant {}
                    dt { (t(lang, "身份证尾号", "ID ending")) } dd #consent-last-four {}
                    dt { (t(lang, "申请人", "Proxy")) } dd #consent-proxy {}
                    dt { (t(lang, "有效至", "Valid until")) } dd #consent-expires {}
                }
                form #consent-form {
                    label for="consent-id" { (t(lang, "身份证号码（核对原件后输入）", "ID number (from the card, checked in person)")) }
                    input #consent-id name="id_number" required maxlength="18" autocomplete="off";
                    label for="consent-street" { (t(lang, "家人居住的街道（乡镇）代码（9 位）", "The dependant's street code (9 digits)")) }
                    input #consent-street name="street" required inputmode="numeric" maxlength="9" placeholder="410105001";
                    label { input #consent-checked type="checkbox"; (t(lang, "我已当面核验本人身份证原件，本人同意由申请人代为出示健康码、代为扫码登记。", "I have checked the ID card in person, and the person consents to the proxy showing their code and checking in for them.")) }
                    button #consent-sign type="submit" { (t(lang, "签名并记录", "Sign and record")) }
                }
                div.result #consent-result role="status" {}
            }
        }
    };
    page(
        lang,
        "/console/consents",
        t(lang, "代办核验", "Consent checks"),
        &who,
        body,
    )
}

// ---- admin ----

async fn admin_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/admin");
    let enrolments = if who.is_admin() {
        or_error!(
            lang,
            app.pending_enrolments(&Principal::Official(who.official.clone()))
                .await
        )
    } else {
        Vec::new()
    };
    let pending_acts = who.registry.pending.len();
    let body = html! {
        div.card {
            h2 { (t(lang, "管理：登记工作人员公钥", "Admin: register officials' keys")) }
            @if !who.is_admin() {
                p.notice #not-admin { (t(lang, "此页面仅供系统管理员使用。", "This page is for administrators.")) }
            } @else {
                p.muted { (t(lang, "工作人员在浏览器中生成密钥后提交的登记申请。登记即签署一个 register_key 操作并记入账本；此后该密钥签名的记录才有效。", "Keys officials generated in their browsers and enrolled. Registering one signs a register_key act that goes into the ledger; only then do records it signs count.")) }
                @if enrolments.is_empty() { p.muted #no-enrolments { (t(lang, "没有待登记的公钥。", "No key is waiting.")) } }
                ul.plain #enrolments {
                    @for e in &enrolments {
                        li.enrolment data-official=(e.official) data-key=(e.public_key) {
                            strong { (e.official) } " · " (t(lang, "密钥 ", "key ")) code { (e.key_id) } " · " small.muted { (e.enrolled_at) }
                            br; code.key { (e.public_key) }
                            br; button.register type="button" { (t(lang, "签名并登记", "Sign and register")) }
                            div.result role="status" {}
                        }
                    }
                }
                p.muted { small {
                    (t(lang, "其他管理操作（添加机构、工作人员、授权、吊销密钥、数据源、规则集）请使用 mingma admin 命令行。等待第二名管理员确认的操作：", "Other admin acts (authorities, officials, grants, key revocation, data sources, rule sets) are made with the mingma admin command. Acts waiting for a second admin: "))
                    (pending_acts)
                } }
            }
        }
    };
    page(lang, "/console/admin", t(lang, "管理", "Admin"), &who, body)
}

// ---- appeals ----

fn ticket_status(lang: Lang, status: &str) -> &'static str {
    match status {
        "open" => t(lang, "处理中", "open"),
        "answered" => t(lang, "已答复", "answered"),
        "closed" => t(lang, "已结案", "closed"),
        _ => "?",
    }
}

async fn appeals_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/appeals");
    let list = or_error!(
        lang,
        app.official_appeals(&Principal::Official(who.official.clone()), lang)
            .await
    );
    let body = html! {
        div.card {
            h2 { (t(lang, "申诉工单", "Appeal tickets")) }
            p.muted { (t(lang, "由您所在机构处理的申诉（逾期后上报的也在内）；审计人员看到逾期、已上报的工单；12345 话务员看到已取得同意的来电人的工单。", "Appeals your authority handles (also those escalated to it); auditors see overdue and escalated tickets; 12345 operators see the tickets of callers whose consent they hold.")) }
            @if list.is_empty() { p.muted #no-appeals { (t(lang, "目前没有。", "None at present.")) } }
            @else {
                table #appeals {
                    thead { tr {
                        th { (t(lang, "工单", "Ticket")) }
                        th { (t(lang, "申诉内容", "Claim")) }
                        th { (t(lang, "受理单位", "Addressed to")) }
                        th { (t(lang, "状态", "Status")) }
                        th { (t(lang, "答复期限", "Due by")) }
                    } }
                    tbody {
                        @for ticket in &list {
                            tr.ticket data-ticket=(ticket.id) data-status=(ticket.status) {
                                td { a href={ "/console/appeals/" (ticket.id) } { code { (ticket.id.get(..8).unwrap_or("")) } } }
                                td { (ticket.claim_text) }
                                td { (ticket.addressee.name) }
                                td { (ticket_status(lang, &ticket.status)) @if ticket.overdue { " · " strong { (t(lang, "逾期", "overdue")) } } }
                                td { (ticket.deadline) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(
        lang,
        "/console/appeals",
        t(lang, "申诉", "Appeals"),
        &who,
        body,
    )
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

async fn appeal_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let path = format!("/console/appeals/{}", encode(&id));
    let who = require_official!(app, headers, lang, &path);
    let view = or_error!(
        lang,
        app.official_appeal(&Principal::Official(who.official.clone()), &id, lang)
            .await
    );
    let ticket = &view["ticket"];
    let checks = &view["checks"];
    let holder = &checks["holder"];
    let may_decide = view["may_decide"] == Value::Bool(true);
    let open = ticket["status"] == "open";
    let empty = Vec::new();
    let records = ticket["records"].as_array().unwrap_or(&empty);
    let body = html! {
        div.card #appeal data-ticket=(text_of(&ticket["id"])) data-status=(text_of(&ticket["status"])) {
            h2 { (t(lang, "申诉工单 ", "Appeal ticket ")) code { (text_of(&ticket["id"]).get(..8).unwrap_or("")) } }
            dl {
                dt { (t(lang, "申诉内容", "Claim")) } dd #claim { (text_of(&ticket["claim_text"])) }
                dt { (t(lang, "申诉人说明", "Holder's text")) } dd #holder-text { (text_of(&ticket["text"])) }
                @if !ticket["document"].is_null() {
                    dt { (t(lang, "附件", "Document")) } dd { a #document-link href={ "/api/v1/official/appeals/" (text_of(&ticket["id"])) "/document" } { (text_of(&ticket["document"]["name"])) } " · SHA-256 " code { (text_of(&ticket["document"]["sha256"])) } }
                }
                dt { (t(lang, "受理单位", "Addressed to")) } dd #addressee { (text_of(&ticket["addressee"]["name"])) }
                dt { (t(lang, "处理机关", "Handled by")) } dd #handler { (text_of(&ticket["handler"]["name"])) }
                dt { (t(lang, "状态", "Status")) } dd #status { (ticket_status(lang, ticket["status"].as_str().unwrap_or(""))) }
                dt { (t(lang, "答复期限", "Due by")) } dd #deadline { (text_of(&ticket["deadline"])) @if ticket["overdue"] == Value::Bool(true) { " · " strong { (t(lang, "逾期", "overdue")) } } }
                @if !ticket["answer"].is_null() {
                    dt { (t(lang, "答复", "Answer")) } dd #answer { (text_of(&ticket["answer"]["outcome"])) " · " (text_of(&ticket["answer"]["reason"])) }
                }
            }
        }
        div.card {
            h3 { (t(lang, "被申诉的记录", "Disputed records")) }
            ul.plain #evidence { @for e in view["evidence"].as_array().unwrap_or(&empty) { li data-record=(text_of(&e["id"])) { (text_of(&e["line"])) @if !e["not_counted"].is_null() { " — " (text_of(&e["not_counted"])) } } } }
        }
        div.card #checks {
            h3 { (t(lang, "核查", "Checks")) }
            @let entries = checks["border_entries"].as_array().unwrap_or(&empty);
            @if ticket["claim"] == "never_left_country" || !entries.is_empty() {
                p #border-entry-exists { @if entries.is_empty() { (t(lang, "此人没有任何入境记录。", "No border-entry record exists for this person.")) } @else { (t(lang, "入境记录与申诉人信息对照：", "Border-entry record next to the holder's details:")) } }
                @if !entries.is_empty() {
                    table #border-entries {
                        thead { tr { th {} th { (t(lang, "申诉人（账户）", "Holder (account)")) } @for e in entries { th { (t(lang, "入境记录 ", "Entry ")) (text_of(&e["record"])) } } } }
                        tbody {
                            tr { th { (t(lang, "姓名", "Name")) } td #holder-name { (text_of(&holder["name"])) } @for e in entries { td.entry-name data-matches=(text_of(&e["name_matches"])) { (text_of(&e["name"])) @if e["name_matches"] == Value::Bool(false) { " ≠" } } } }
                            tr { th { (t(lang, "证件", "Document")) } td #holder-document { (text_of(&holder["document"])) } @for e in entries { td.entry-document { (text_of(&e["document"])) } } }
                            tr { th { (t(lang, "口岸 / 出发地", "Port / origin")) } td { "—" } @for e in entries { td { (text_of(&e["port"])) " ← " (text_of(&e["origin"])) } } }
                            tr { th { (t(lang, "入境时间", "Entered")) } td { "—" } @for e in entries { td { (text_of(&e["entered_at"])) } } }
                        }
                    }
                }
            }
            @let scans = checks["scans"].as_array().unwrap_or(&empty);
            @if !scans.is_empty() {
                table #scans {
                    thead { tr { th { (t(lang, "场所", "Venue")) } th { (t(lang, "进入", "Entered")) } th { (t(lang, "离开", "Left")) } th { (t(lang, "在场核验", "Presence assurance")) } } }
                    tbody { @for s in scans { tr { td { (text_of(&s["venue_name"])) } td { (text_of(&s["entered_at"])) } td { (text_of(&s["left_at"])) } td.presence { (text_of(&s["presence"])) } } } }
                }
            }
        }
        @if may_decide && open {
            div.card #decide {
                h3 { (t(lang, "答复", "Answer")) }
                form #accept-form {
                    label for="accept-target" { (t(lang, "申诉成立：撤销记录", "Accept: retract the record")) }
                    select #accept-target name="target" { @for r in records { option value=(text_of(r)) { (text_of(r)) } } }
                    label for="accept-reason" { (t(lang, "理由（申诉人可见）", "Reason (the holder sees it)")) }
                    textarea #accept-reason name="reason" rows="2" required {}
                    button #accept type="submit" { (t(lang, "签名并撤销", "Sign and retract")) }
                }
                details #correct {
                    summary { (t(lang, "申诉成立：更正记录（撤销原记录并以更正记录取代）", "Accept: correct the record (retract it, replaced by a corrected record)")) }
                    form #correct-form {
                        label for="correct-target" { (t(lang, "被更正的记录", "The record corrected")) }
                        select #correct-target name="target" { @for r in records { option value=(text_of(r)) { (text_of(r)) } } }
                        label for="correct-record" { (t(lang, "更正后的记录（JSON，与原记录同类型；当事人由系统填写）", "The corrected record (JSON, of the same type; the service fills in the person)")) }
                        textarea #correct-record name="record" rows="4" required placeholder=r#"{"type": "test_result", "method": "nucleic_acid", "outcome": "negative", "sampled_at": "2022-06-10T08:00:00+08:00"}"# {}
                        label for="correct-reason" { (t(lang, "理由（申诉人可见）", "Reason (the holder sees it)")) }
                        textarea #correct-reason name="reason" rows="2" required {}
                        p.muted { (t(lang, "可使健康码变红或变黄的更正记录须经本机构另一名工作人员复核后生效。", "A corrected record that can turn a code red or yellow takes effect once a second official of your authority approves it.")) }
                        button #correct-submit type="submit" { (t(lang, "签名并更正", "Sign and correct")) }
                    }
                }
                form #reject-form {
                    label for="reject-reason" { (t(lang, "申诉不成立：理由（申诉人可见）", "Reject: reason (the holder sees it)")) }
                    textarea #reject-reason name="reason" rows="2" required {}
                    button #reject type="submit" style="background:#8a1c1c" { (t(lang, "签名并驳回", "Sign and reject")) }
                }
                div.result #decide-result role="status" {}
            }
        }
        @if may_decide && ticket["status"] == "answered" {
            div.card { button #close-ticket type="button" { (t(lang, "结案", "Close the ticket")) } div.result #close-result role="status" {} }
        }
        @if !who.may(Action::ReadAudit) || may_decide {
            div.card {
                form #note-form {
                    label for="note-text" { (t(lang, "备注", "Note")) }
                    textarea #note-text name="text" rows="2" required {}
                    button #note type="submit" { (t(lang, "添加备注", "Add the note")) }
                }
                div.result #note-result role="status" {}
            }
        }
        div.card {
            h3 { (t(lang, "处理记录", "Steps")) }
            ul.plain #steps { @for s in ticket["steps"].as_array().unwrap_or(&empty) { li { (text_of(&s["at"])) " · " (text_of(&s["kind"])) " · " (text_of(&s["by"])) @if !s["note"].is_null() { " · " (text_of(&s["note"])) } " · " small.muted { (t(lang, "日志叶 ", "leaf ")) (text_of(&s["leaf"])) } } } }
        }
    };
    page(
        lang,
        "/console/appeals",
        t(lang, "申诉工单", "Appeal ticket"),
        &who,
        body,
    )
}

async fn hotline_page<S: Store>(
    State(app): St<S>,
    headers: HeaderMap,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let lang = lang_of(&headers, q.lang.as_deref());
    let who = require_official!(app, headers, lang, "/console/hotline");
    let body = html! {
        div.card {
            h2 { (t(lang, "12345 热线：查询来电人的赋码来源", "12345 hotline: a caller's code provenance")) }
            p.muted { (t(lang, "须先取得来电人同意：系统向来电人账户的手机发送验证码，来电人读出后输入。同意记入账本，1 小时内有效。您只能查看、代为申诉和添加备注，不能更改任何记录。", "The caller's consent comes first: a code goes to the phone on their account, and they read it out to you. The consent goes into the ledger and lasts an hour. You can look, appeal on their behalf and add notes; you cannot change any record.")) }
            @if !who.may(Action::HandleCall) {
                p.notice #hotline-not-permitted { (t(lang, "您的授权不包括 12345 热线。", "Your grants do not include the 12345 hotline.")) }
            }
            form #hotline-start {
                label for="hotline-id" { (t(lang, "来电人身份证号码", "The caller's ID number")) }
                input #hotline-id name="id_number" required maxlength="18" autocomplete="off";
                button type="submit" { (t(lang, "发送验证码", "Send the code")) }
            }
            form #hotline-confirm hidden {
                label for="hotline-code" { (t(lang, "来电人读出的验证码", "The code the caller reads out")) }
                input #hotline-code name="code" required inputmode="numeric" maxlength="6" autocomplete="off";
                button type="submit" { (t(lang, "确认同意", "Confirm consent")) }
            }
            div.result #hotline-result role="status" {}
        }
        div.card #hotline-provenance hidden {
            h3 { (t(lang, "赋码来源", "Provenance")) }
            dl {
                dt { (t(lang, "颜色", "Colour")) } dd #hotline-colour {}
                dt { (t(lang, "原因", "Reason")) } dd #hotline-reason {}
            }
            h4 { (t(lang, "所属单位及联系方式", "Owners and their contact")) }
            ul.plain #hotline-owners {}
            h4 { (t(lang, "申诉工单", "Tickets")) }
            ul.plain #hotline-tickets {}
            form #hotline-appeal {
                label for="hotline-claim" { (t(lang, "代为申诉：哪一部分有误", "Appeal for the caller: which part is wrong")) }
                select #hotline-claim name="claim" { @for c in crate::appeals::Claim::ALL { option value=(c.as_str()) { (c.label(lang)) } } }
                label for="hotline-text" { (t(lang, "来电人陈述", "What the caller says")) }
                textarea #hotline-text name="text" rows="2" {}
                button type="submit" { (t(lang, "提交申诉", "Open the appeal")) }
            }
            div.result #hotline-appeal-result role="status" {}
        }
    };
    page(
        lang,
        "/console/hotline",
        t(lang, "12345 热线", "12345 hotline"),
        &who,
        body,
    )
}
