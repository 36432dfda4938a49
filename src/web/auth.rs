//! Accounts and sessions: Argon2id password hashes, random session/CSRF/API tokens (only their
//! SHA-256 is stored), the session cookie (HttpOnly, SameSite=Strict), CSRF checks, login and
//! logout, and the slowing down of repeated failed logins. Never logs a password or a token.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::roles::User;
use super::{App, WebResult};
use crate::directory::Login;
use crate::error::{Error, Result};

pub const SESSION_COOKIE: &str = "zaitaku_session";
/// The login form's CSRF token, before there is a session (double-submit cookie).
pub const LOGIN_COOKIE: &str = "zaitaku_login";
pub const SESSION: TimeDelta = TimeDelta::hours(12);
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Failed logins of one account within this window count towards slowing it down.
pub const FAILURE_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// This many failures are free; each one after doubles the wait before the next attempt.
pub const FREE_FAILURES: i64 = 3;
pub const MAX_WAIT: TimeDelta = TimeDelta::minutes(1);

/// A login name is cut to this many bytes before anything else (the longest e-mail address
/// SMTP carries is 254): a name posted by the megabyte is stored, logged and shown by the byte.
pub const MAX_LOGIN_BYTES: usize = 254;
/// The largest login form body heard (`/login`); a bigger one is refused with 413 unread.
pub const LOGIN_BODY_BYTES: usize = 8 * 1024;

// ---- the command line: `users set-password`, `tokens create` ----

/// Sets (or replaces) an employee's password; their open sessions end.
pub async fn set_password(
    store: &crate::store::Store,
    employee: &str,
    pw: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(e) = store.employee(employee).await? else {
        return Err(Error::bad(
            "--employee",
            format!("unknown employee {employee:?}"),
        ));
    };
    check_new_password(pw).map_err(|m| Error::bad("password", m))?;
    let hash = hash_password(pw)?;
    let actor = crate::store::audit::Actor::cli();
    store
        .set_password_hash(&e.employee_id, &hash, now, &actor)
        .await
}

/// A new API token for an employee; only its hash is kept, so this is the one time it is seen.
pub async fn create_api_token(
    store: &crate::store::Store,
    employee: &str,
    label: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let Some(e) = store.employee(employee).await? else {
        return Err(Error::bad(
            "--employee",
            format!("unknown employee {employee:?}"),
        ));
    };
    let token = new_api_token();
    store
        .insert_api_token(
            &token_hash(&token),
            &e.employee_id,
            label,
            now,
            &crate::store::audit::Actor::cli(),
        )
        .await?;
    Ok(token)
}

// ---- passwords ----

/// The reason a password is refused, in words for `users set-password`.
pub fn check_new_password(pw: &str) -> std::result::Result<(), String> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "expected a password of at least {MIN_PASSWORD_CHARS} characters, got {n}"
        ));
    }
    if pw.len() > 1024 {
        return Err("expected a password of at most 1024 bytes".into());
    }
    Ok(())
}

/// An Argon2id hash in PHC form (`$argon2id$v=19$m=19456,t=2,p=1$…`), with a random salt.
pub fn hash_password(pw: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| Error::Mail(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Mail(e.to_string()))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Mail(format!("hashing the password: {e}")))
}

pub fn verify_password(pw: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(pw.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash nobody knows the password of: a login for an unknown account costs as much time as
/// one for a known account, so the answer's delay does not tell which employee IDs exist.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
}

// ---- tokens ----

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // The OS has no randomness only on a broken system; a fixed token there would be a hole.
    getrandom::getrandom(&mut b).expect("the operating system provides random bytes");
    hex(&b)
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new API token for `Authorization: Bearer …`; recognisable by its prefix in a leaked file.
pub fn new_api_token() -> String {
    format!("zt_{}", random_hex(32))
}

pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

// ---- slowing down failed logins ----

/// The first `MAX_LOGIN_BYTES` of a typed login name, cut at a character boundary.
pub fn cut_login(s: &str) -> &str {
    if s.len() <= MAX_LOGIN_BYTES {
        return s;
    }
    let mut cut = MAX_LOGIN_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// What the failures of a typed name are counted under: the SHA-256 of the name trimmed and
/// lower-cased, the same rule for every name whether an employee has it or not (a rule that
/// looked the name up would answer differently for names that exist). A fixed 64 characters
/// per row, and no typed text at rest.
pub fn throttle_key(login: &str) -> String {
    token_hash(&cut_login(login).trim().to_lowercase())
}

/// How long to wait before the next attempt on an account is heard, after `failures`
/// failures in the window, the last at `last`: nothing for the first three, then 1 s, 2 s,
/// 4 s … up to a minute. An attempt made too early is refused without looking at the password.
/// Failures are kept in milliseconds, not seconds: a wait of "1 s" counted in whole seconds
/// could be over at once.
pub fn login_wait(failures: i64, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> TimeDelta {
    if failures < FREE_FAILURES {
        return TimeDelta::zero();
    }
    let wait = (TimeDelta::seconds(1) * (1 << (failures - FREE_FAILURES).min(6))).min(MAX_WAIT);
    (last.unwrap_or(now) + wait - now).max(TimeDelta::zero())
}

// ---- cookies ----

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

// ---- who is asking ----

/// A signed-in person, from the session cookie. Pages take this; without a session the browser
/// is sent to the login page.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    /// The address the request came from (`Peer`), for the audit trail.
    pub client: Option<String>,
    /// The person's change stamp, read with the session before anything else the request
    /// reads (`web::my_cache`).
    pub changes: crate::store::web::Stamp,
}

impl Session {
    /// Who the audit trail names for what this request changes: the employee, on the web,
    /// from the request's address.
    pub fn actor(&self) -> crate::store::audit::Actor {
        crate::store::audit::Actor::web(&self.user.employee_id, self.client.clone())
    }

    pub fn csrf_ok(&self, sent: &str) -> bool {
        ct_eq(&self.csrf, sent)
    }
}

async fn session_from(app: &App, headers: &HeaderMap) -> Result<Option<Session>> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    // Sessions are made, checked and swept on the server's clock (`App::now`), like the login
    // throttle: all on one clock, a session lasts SESSION whatever `--now` says (the
    // wall clock here would end at once every session a `--now` in the past made). The
    // cookie's Max-Age is relative, so the browser agrees. `--now` is for rehearsals: a server
    // started in the future makes sessions that a wall-clock server on the same database would
    // honour until that future time plus SESSION, so never point one at production.
    let found = app
        .store
        .session_employee(&token_hash(token), app.now())
        .await?;
    Ok(found.map(|(s, e, changes)| Session {
        user: e.into(),
        csrf: s.csrf,
        client: None,
        changes,
    }))
}

impl FromRequestParts<App> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &App,
    ) -> std::result::Result<Self, Response> {
        match session_from(app, &parts.headers).await {
            Ok(Some(mut s)) => {
                s.client = parts
                    .extensions
                    .get::<super::Peer>()
                    .and_then(|p| p.0)
                    .map(|a| a.to_string());
                Ok(s)
            }
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(super::internal(e)),
        }
    }
}

/// The caller of `/api/…`: a bearer token from `zaitaku tokens create`, else a session.
#[derive(Debug, Clone)]
pub struct ApiUser(pub User);

impl FromRequestParts<App> for ApiUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &App,
    ) -> std::result::Result<Self, Response> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let user = match bearer {
            Some(token) => match app.store.api_token_employee(&token_hash(token)).await {
                Ok(Some(id)) => app
                    .store
                    .employee(&id)
                    .await
                    .map(|e| e.filter(|e| e.active).map(User::from)),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            },
            None => session_from(app, &parts.headers)
                .await
                .map(|s| s.map(|s| s.user)),
        };
        match user {
            Ok(Some(u)) => Ok(ApiUser(u)),
            Ok(None) => {
                let body = axum::Json(
                    serde_json::json!({"error": "unauthorized: a bearer token or a session is required"}),
                );
                Err((
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    body,
                )
                    .into_response())
            }
            Err(e) => Err(super::internal(e)),
        }
    }
}

// ---- login and logout ----

pub async fn login_page(State(app): State<App>, headers: HeaderMap) -> WebResult {
    if session_from(&app, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(login_form(&app, StatusCode::OK, "", None))
}

fn login_form(app: &App, status: StatusCode, login: &str, error: Option<&str>) -> Response {
    let csrf = random_hex(32);
    let mut resp = app.render(
        "login.html",
        minijinja::context! { title => "ログイン", csrf => &csrf, login => login, error => error },
    );
    *resp.status_mut() = status;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &csrf, "/login", 3600, app.secure_cookie),
    );
    resp
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub login: String,
    pub password: String,
    pub csrf: String,
}

pub async fn login(
    State(app): State<App>,
    Extension(peer): Extension<super::Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> WebResult {
    let client = peer.0.map(|a| a.to_string());
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !ct_eq(expected, &f.csrf) {
        tracing::warn!(action = "login", "csrf token missing or wrong: refused");
        return Ok(super::forbidden(
            &app,
            None,
            "フォームの有効期限が切れたか、不正な送信です。もう一度ログインしてください。",
        ));
    }
    // Cut before anything else: the lookup, the throttle, the log and the page all see at most
    // MAX_LOGIN_BYTES (the longest e-mail address), whatever was posted.
    let login = cut_login(&f.login).trim().to_string();
    let employee = app.store.login_employee(&login).await?;
    // The throttle counts per name typed, known or not, by the same rule: an answer (401 or 429,
    // its wait) never depends on whether the name is an employee's.
    let key = throttle_key(&login);
    let shown = super::log_text(&login);
    // One login at a time: the failure count read below cannot be raced by parallel guesses,
    // and Argon2's memory (19 MiB per hash) is spent once at a time.
    let _turn = app.login_lock.lock().await;
    // Whole milliseconds, as the failures are kept.
    let now = app.now().trunc_subsecs(3);
    let (failures, last) = app.store.login_failures(&key, now - FAILURE_WINDOW).await?;
    let wait = login_wait(failures, last, now);
    if wait > TimeDelta::zero() {
        let wait = (wait.num_milliseconds() + 999) / 1000;
        tracing::warn!(login = %shown, failures, wait, "login attempt too soon after failures: refused");
        let msg = format!(
            "ログインの失敗が続いたため受け付けませんでした。{wait} 秒後にもう一度お試しください。"
        );
        let mut r = login_form(&app, StatusCode::TOO_MANY_REQUESTS, &login, Some(&msg));
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(r);
    }
    // Looked up for an unknown name too (it finds nothing): the same queries, then the same
    // Argon2 work, whether the name exists or not.
    let hash = app
        .store
        .password_hash(employee.as_deref().unwrap_or(""))
        .await?;
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
    // Kept for the directory, should the local hash not match.
    let typed = f.password;
    let password = typed.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
        && known;
    let employee = match (employee, ok) {
        (Some(id), true) => Some(id),
        // Not a local password: the city's directory, when there is one. Local passwords
        // (IT's break-glass account) still work when the directory is away.
        _ => match &app.cfg.ldap {
            None => None,
            Some(ldap) => match directory_login(&app, ldap, &login, &typed, client).await? {
                Ok(found) => found,
                Err(answer) => return Ok(answer),
            },
        },
    };
    let Some(employee_id) = employee else {
        let at = app.now();
        app.store
            .record_login_failure(&key, at, at - FAILURE_WINDOW)
            .await?;
        tracing::warn!(login = %shown, failures = failures + 1, "login failed");
        return Ok(login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            &login,
            Some("職員番号（またはメールアドレス）かパスワードが違います。"),
        ));
    };
    app.store
        .clear_login_failures(&key, now - FAILURE_WINDOW)
        .await?;
    drop(_turn);
    start_session(&app, &employee_id).await
}

/// The login checked against the city's directory (the local password did not match): the
/// employee when the directory knows them as staff, `None` when it refuses the password, or
/// the page to answer with (not staff of the register; the directory unreachable).
async fn directory_login(
    app: &App,
    ldap: &crate::config::LdapConfig,
    login: &str,
    typed: &str,
    client: Option<String>,
) -> Result<std::result::Result<Option<String>, Response>> {
    let shown = super::log_text(login);
    let now = app.now();
    match crate::directory::login(&app.store, ldap, login, typed, now, client).await {
        Ok(Login::Staff(e)) => Ok(Ok(Some(e.employee_id))),
        Ok(Login::Refused) => Ok(Ok(None)),
        Ok(Login::NotStaff(why)) => {
            tracing::warn!(login = %shown, why = %super::log_text(&why), "directory login of someone who is not staff of the register: refused");
            Ok(Err(login_form(
                app,
                StatusCode::FORBIDDEN,
                login,
                Some(
                    "ディレクトリのアカウントは確認できましたが、在宅勤務命令簿の対象者として登録できません（所属・職員番号・メールアドレスを情報管理課に確認してください）。",
                ),
            )))
        }
        Err(e) => {
            tracing::error!(login = %shown, error = %super::log_text(&e.to_string()), "directory unreachable at login");
            let mut r = login_form(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                login,
                Some(
                    "庁内ディレクトリ（Active Directory）に接続できないため、ログインできませんでした。しばらくしてからもう一度お試しください。解決しない場合は情報管理課へ連絡してください。",
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(30));
            Ok(Err(r))
        }
    }
}

/// A new session for `employee_id`: stored, and the `Set-Cookie` that hands it over.
pub(super) async fn new_session(app: &App, employee_id: &str) -> Result<HeaderValue> {
    let now = app.now();
    let token = random_hex(32);
    let csrf = random_hex(32);
    app.store
        .insert_session(&token_hash(&token), employee_id, &csrf, now, now + SESSION)
        .await?;
    tracing::info!(employee = %employee_id, "logged in");
    Ok(set_cookie(
        SESSION_COOKIE,
        &token,
        "/",
        SESSION.num_seconds(),
        app.secure_cookie,
    ))
}

/// The employee of the request's session, if it has a live one.
pub(super) async fn session_employee_id(app: &App, headers: &HeaderMap) -> Result<Option<String>> {
    Ok(session_from(app, headers)
        .await?
        .map(|s| s.user.employee_id))
}

/// A new session for someone whose password was right: its cookie, and the login form's
/// cookie cleared; on to the home page.
async fn start_session(app: &App, employee_id: &str) -> WebResult {
    let cookie = new_session(app, employee_id).await?;
    let mut resp = Redirect::to("/").into_response();
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, cookie);
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/login", 0, app.secure_cookie),
    );
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn logout(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> WebResult {
    if !s.csrf_ok(&f.csrf) {
        return Ok(app.csrf_refused(&s.user, "logout").await);
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        app.store.delete_session(&token_hash(token)).await?;
    }
    tracing::info!(employee = %s.user.employee_id, "logged out");
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", 0, app.secure_cookie),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("").is_err());
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(
            check_new_password("在宅勤務の合言葉").is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn failed_logins_wait_longer_and_longer_up_to_a_minute() {
        let now = DateTime::from_timestamp_millis(1_000_000_000).unwrap();
        let ms = TimeDelta::milliseconds;
        assert_eq!(login_wait(0, None, now), ms(0));
        assert_eq!(login_wait(2, Some(now), now), ms(0));
        assert_eq!(login_wait(3, Some(now), now), ms(1000));
        assert_eq!(login_wait(3, Some(now - ms(999)), now), ms(1));
        assert_eq!(login_wait(3, Some(now - ms(1000)), now), ms(0));
        assert_eq!(login_wait(4, Some(now), now), ms(2000));
        assert_eq!(login_wait(5, Some(now - ms(1000)), now), ms(3000));
        assert_eq!(login_wait(5, Some(now - ms(10_000)), now), ms(0));
        assert_eq!(login_wait(40, Some(now), now), MAX_WAIT);
    }

    #[test]
    fn login_names_are_cut_to_254_bytes_on_a_character_boundary() {
        assert_eq!(cut_login("E2001"), "E2001");
        let long = "あ".repeat(200);
        let cut = cut_login(&long);
        assert!(cut.len() <= MAX_LOGIN_BYTES && cut.len() > MAX_LOGIN_BYTES - 3);
        assert!(long.starts_with(cut));
        assert_eq!(cut_login(&"x".repeat(10_000)).len(), MAX_LOGIN_BYTES);
    }

    #[test]
    fn every_name_is_throttled_under_the_same_kind_of_key() {
        assert_eq!(throttle_key("E2001"), throttle_key(" e2001 "));
        assert_ne!(throttle_key("E2001"), throttle_key("E2002"));
        assert_eq!(throttle_key(&"y".repeat(3_000_000)).len(), 64);
        assert_eq!(
            throttle_key(&"y".repeat(3_000_000)),
            throttle_key(&"y".repeat(MAX_LOGIN_BYTES))
        );
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let a = new_api_token();
        assert!(a.starts_with("zt_") && a.len() == 67);
        assert_ne!(a, new_api_token());
        assert_eq!(token_hash("abc").len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; zaitaku_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60, false);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
    }
}
