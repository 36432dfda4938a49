//! The web register and board (SPEC §9): `zaitaku web`, or `zaitaku run` with `[web]`.
//! Server-rendered Japanese pages from minijinja templates (`templates/web/`, with built-in
//! copies), a little JavaScript to refresh the board, `/api/status`, `/healthz`, `/metrics`.
//!
//! Rules are not decided here: orders go through `register::check_order` (the same
//! `WorkOrder::new` as `orders import`), contacts through `register::record_contact`, who may
//! do what through `roles`. This module maps HTTP to those calls and back.

pub mod api;
pub mod approval;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod lineworks;
pub mod my_cache;
pub mod pages;
pub mod report;
pub mod roles;
pub mod sso;
pub mod teams;

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{Environment, HtmlEscape, Value};
use serde::Serialize;

use crate::board::Board;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::outbox::channel::Channels;
use crate::store::Store;
use crate::store::web::AuditRow;
use roles::User;

/// At most this many characters of one user-typed text go into a log line.
pub const LOG_TEXT_CHARS: usize = 254;

/// A text someone typed (a login name, a form field, a chat user name), made fit for a log line:
/// control characters (newlines, carriage returns, escape sequences) and the Unicode line and
/// direction marks are written escaped (`\n`, `\u{1b}`), and only the first `LOG_TEXT_CHARS`
/// characters are kept. So a typed name can neither forge a log line nor fill the log.
pub fn log_text(s: &str) -> String {
    crate::text::for_log(s, LOG_TEXT_CHARS)
}

/// How long a built board is shown to everyone before it is built again (see `board_at_clock`).
pub const BOARD_TTL: Duration = Duration::from_secs(2);

/// The shipped page templates and assets, compiled in: `templates/web/NAME` for each name.
macro_rules! built_in {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/web/", $name)))),*]
    };
}

const BUILT_IN: &[(&str, &str)] = built_in!(
    "layout.html",
    "login.html",
    "board.html",
    "board_table.html",
    "orders.html",
    "order_form.html",
    "order_edit.html",
    "my.html",
    "my_resubmit.html",
    "deputies.html",
    "escalations.html",
    "admin.html",
    "audit.html",
    "attendance.html",
    "my_month.html",
    "error.html",
    "app.js",
    "app.css",
);

/// A day's board as built, shared by every request within `BOARD_TTL`.
struct BoardEntry {
    built: Instant,
    /// `changes` when it was built.
    generation: u64,
    board: Arc<Board>,
    /// A request is building its successor: others take this one meanwhile.
    rebuilding: bool,
}

type Boards = HashMap<NaiveDate, BoardEntry>;

pub struct Inner {
    pub cfg: Config,
    pub store: Store,
    /// The chat channels, registered where the server starts: a slash report's notices go to
    /// the department's rooms through them.
    pub channels: Channels,
    pub env: Environment<'static>,
    pub secure_cookie: bool,
    /// Held while a login is checked (see `auth::login`).
    pub login_lock: tokio::sync::Mutex<()>,
    /// The day's board at the clock, built once for everyone who asks within `BOARD_TTL`.
    boards: tokio::sync::Mutex<Boards>,
    /// Held while a board is built (see `board_at_clock`).
    board_build: tokio::sync::Mutex<()>,
    /// Bumped by every change made through this server, so the next board is built afresh.
    changes: AtomicU64,
    /// `templates/web` of the municipality (under `--tenant`), then the shared one.
    template_dirs: Vec<PathBuf>,
    /// 自分の在宅勤務's rows and pages, kept while their person's change stamp stands still.
    pub my_cache: my_cache::MyCache,
    /// What a kept page has where the session's CSRF token goes (`my_cache::Page`): random
    /// for each process, so no text anyone types can be taken for it.
    pub csrf_marker: String,
    /// The process's one clock: `zaitaku web --now T` starts it at T (rehearsals, tests).
    clock: crate::clock::Clock,
    /// The city's mailbox and Matrix health, for `/metrics`.
    pub health: crate::health::SharedHealth,
}

/// The address a request came from (the TCP peer, never a header): the audit's client, and
/// what `sso` checks against the trusted proxies. Every request has one (set by `sso::layer`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<std::net::IpAddr>);

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

impl Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub type WebResult = std::result::Result<Response, WebError>;

/// An error no user can fix (the database is down, a template is broken): logged, and a plain
/// 500 page that shows nothing of it.
#[derive(Debug)]
pub struct WebError(Error);

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        internal(self.0)
    }
}

pub fn internal(e: Error) -> Response {
    tracing::error!(error = %log_text(&e.to_string()), "web request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        // Written out here, not from a template: a broken template is one cause of this page.
        Html(
            "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>エラー — 在宅勤務命令簿</title><main><h1>エラー</h1>\
             <p>サーバーでエラーが発生しました。時間をおいてもう一度お試しください。</p>\
             <p><a href=\"/\">トップへ戻る</a></p></main></html>",
        ),
    )
        .into_response()
}

impl App {
    pub fn new(cfg: Config, store: Store, channels: Channels) -> App {
        let template_dirs: Vec<PathBuf> =
            cfg.template_dirs().iter().map(|d| d.join("web")).collect();
        let secure_cookie = cfg.web.as_ref().is_some_and(|w| w.secure_cookie);
        let env = environment(template_dirs.clone(), cfg.timezone);
        App(Arc::new(Inner {
            cfg,
            store,
            channels,
            env,
            secure_cookie,
            login_lock: tokio::sync::Mutex::new(()),
            boards: tokio::sync::Mutex::new(HashMap::new()),
            board_build: tokio::sync::Mutex::new(()),
            changes: AtomicU64::new(0),
            template_dirs,
            my_cache: my_cache::MyCache::default(),
            csrf_marker: format!("csrf-{}", auth::random_hex(16)),
            clock: crate::clock::Clock::system(),
            health: crate::health::Health::unwatched(),
        }))
    }

    /// The same, on the process's clock (`zaitaku web --now`, `run --now`), showing the
    /// city's health (that of the daemon's tasks when `zaitaku run` serves it).
    pub fn with_clock(
        cfg: Config,
        store: Store,
        channels: Channels,
        (clock, health): (crate::clock::Clock, crate::health::SharedHealth),
    ) -> App {
        let mut app = App::new(cfg, store, channels);
        if let Some(inner) = Arc::get_mut(&mut app.0) {
            inner.clock = clock;
            inner.health = health;
        }
        app
    }

    /// The server's clock: the system's, unless started elsewhere with `--now`. The one clock
    /// of the web: the board, every stamp a handler writes (orders, approvals, contacts,
    /// drafts, the audit), sessions and the login throttle all read it, so `web --now T`
    /// writes what a server started at T would (issue 16).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The board of a day judged at the clock. Fifty supervisors polling the same day cost one
    /// build every `BOARD_TTL`, not fifty: the build is shared, and reused until it is older
    /// than that or this server changed something (a contact, an approval…). Changes made
    /// elsewhere (mail read by `zaitaku run`) show within `BOARD_TTL`; the page polls every
    /// 30 s anyway.
    ///
    /// When a board is only older than `BOARD_TTL`, one request rebuilds it and everyone else
    /// is answered from the one before meanwhile (at most one build older), so a city's board
    /// (a thousand rows, tens of milliseconds to build) never holds up the 08:30 rush every two
    /// seconds. After a change made through this server, everyone waits for the new one: a
    /// supervisor who just stamped an order sees the stamp.
    pub async fn board_at_clock(&self, date: NaiveDate) -> Result<Arc<Board>> {
        let generation = self.changes.load(Ordering::Acquire);
        {
            let mut boards = self.boards.lock().await;
            match boards.get_mut(&date) {
                Some(e) if e.generation == generation && e.built.elapsed() < BOARD_TTL => {
                    return Ok(e.board.clone());
                }
                // (A rebuild that has taken ten times the TTL was given up: its request went.)
                Some(e)
                    if e.generation == generation
                        && e.rebuilding
                        && e.built.elapsed() < BOARD_TTL * 10 =>
                {
                    return Ok(e.board.clone());
                }
                Some(e) if e.generation == generation => e.rebuilding = true,
                _ => {}
            }
        }
        // One build at a time per server: the first board of a day, a board after a change,
        // or the one request that renews a stale board.
        let _turn = self.board_build.lock().await;
        let generation = self.changes.load(Ordering::Acquire);
        if let Some(e) = self.boards.lock().await.get(&date)
            && e.generation == generation
            && e.built.elapsed() < BOARD_TTL
        {
            return Ok(e.board.clone());
        }
        let built = crate::usecase::board::load(&self.store, &self.cfg, date, self.now()).await;
        let mut boards = self.boards.lock().await;
        let b = match built {
            Ok(b) => Arc::new(b),
            Err(e) => {
                if let Some(entry) = boards.get_mut(&date) {
                    entry.rebuilding = false;
                }
                return Err(e);
            }
        };
        boards.retain(|_, e| e.built.elapsed() < BOARD_TTL * 30);
        boards.insert(
            date,
            BoardEntry {
                built: Instant::now(),
                generation,
                board: b.clone(),
                rebuilding: false,
            },
        );
        Ok(b)
    }

    /// Something was written: boards built before are stale.
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// A page; a template error is a 500 (logged), never a half page.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Response {
        match self.render_html(name, ctx) {
            Ok(html) => Html(html).into_response(),
            Err(e) => internal(e),
        }
    }

    /// A page's HTML (`render`, for a page kept to be sent again).
    pub fn render_html(&self, name: &str, ctx: impl Serialize) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Template {
                name: format!("web/{name}"),
                msg: format!("{e:#}"),
            })
    }

    /// A refused attempt on another department's data (or anything the role does not allow):
    /// logged, kept in the audit table for IT, and answered 403.
    pub async fn deny(&self, u: &User, action: &str, target: &str) -> Response {
        self.record_denial(u, action, target).await;
        forbidden(self, Some(u), "この操作を行う権限がありません。")
    }

    /// The target is what the request named (IDs, form fields): the log gets it escaped and cut
    /// (`log_text`), the audit table a bounded summary (`store::web::bounded`), however much
    /// was typed.
    pub async fn record_denial(&self, u: &User, action: &str, target: &str) {
        tracing::warn!(employee = %log_text(&u.employee_id), role = u.role.as_str(),
            department = %log_text(&u.department), action, target = %log_text(target), "access denied");
        self.record_refused(&u.employee_id, action, target).await;
    }

    /// A refused attempt in the table of refused web actions IT reads, by `who` (an employee
    /// ID, or what a sign-on header named: `sso:…`). A failure to record it is logged.
    pub async fn record_refused(&self, who: &str, action: &str, target: &str) {
        let row = AuditRow {
            at: self.now(),
            employee_id: who.to_string(),
            action: action.into(),
            target: target.into(),
            outcome: "denied".into(),
        };
        if let Err(e) = self.store.audit(&row).await {
            tracing::error!(error = %log_text(&e.to_string()), "cannot record the refused attempt");
        }
    }

    /// A form without the session's CSRF token: refused, logged like any refused attempt.
    pub async fn csrf_refused(&self, u: &User, action: &str) -> Response {
        tracing::warn!(employee = %log_text(&u.employee_id), action, "csrf token missing or wrong: refused");
        let row = AuditRow {
            at: self.now(),
            employee_id: u.employee_id.clone(),
            action: action.into(),
            target: String::new(),
            outcome: "csrf".into(),
        };
        if let Err(e) = self.store.audit(&row).await {
            tracing::error!(error = %log_text(&e.to_string()), "cannot record the refused attempt");
        }
        forbidden(
            self,
            Some(u),
            "フォームの有効期限が切れたか、不正な送信です。ページを読み込み直してください。",
        )
    }
}

pub fn forbidden(app: &App, u: Option<&User>, msg: &str) -> Response {
    let mut r = app.render(
        "error.html",
        minijinja::context! { title => "権限がありません", message => msg, user => u },
    );
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// The template environment: files from `templates/web/` of the configured templates folder,
/// else the built-in copy; HTML is escaped (minijinja does so for `.html`).
fn environment(dirs: Vec<PathBuf>, tz: chrono_tz::Tz) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(move |name| load(&dirs, name));
    env.add_filter("status_ja", |s: String| {
        crate::board::status_ja(&s).to_string()
    });
    env.add_filter("reason_ja", |s: String| {
        crate::board::reason_ja(&s).to_string()
    });
    env.add_filter("escalation_ja", |s: String| {
        crate::board::escalation_ja(&s).to_string()
    });
    env.add_filter("role_ja", |s: String| {
        crate::store::Role::parse(&s)
            .map(roles::role_ja)
            .unwrap_or("")
            .to_string()
    });
    // order_form.html's `error`, `alert` and `invalid` as functions, the same HTML: a field's
    // message tied to it. The macros stay there for a city's own templates; the built-in
    // ones call these, since a macro call costs minijinja a frame and a closure of its own
    // (a dozen on every 自分の在宅勤務, about 5 % of a cold first load; issue 20).
    env.add_function("field_error", |errors: Value, name: String| {
        field_message(&errors, &name, "")
    });
    env.add_function("field_alert", |errors: Value, name: String| {
        field_message(&errors, &name, " role=\"alert\"")
    });
    env.add_function(
        "field_invalid",
        |errors: Value, name: String, hint: Option<String>| {
            let hint = hint.filter(|h| !h.is_empty());
            Value::from_safe_string(match (field_error_text(&errors, &name), hint) {
                (Some(_), Some(h)) => format!(
                    " aria-invalid=\"true\" aria-describedby=\"error-{} {}\"",
                    HtmlEscape(&name),
                    HtmlEscape(&h)
                ),
                (Some(_), None) => format!(
                    " aria-invalid=\"true\" aria-describedby=\"error-{}\"",
                    HtmlEscape(&name)
                ),
                (None, Some(h)) => format!(" aria-describedby=\"{}\"", HtmlEscape(&h)),
                (None, None) => String::new(),
            })
        },
    );
    // "2021-01-12T08:27:00+09:00" → "08:27"
    env.add_filter("hm", |s: Option<String>| {
        s.as_deref()
            .and_then(crate::board::clock_time)
            .unwrap_or_else(|| "--:--".into())
    });
    // a moment → "2021-01-12 08:27" in the configured time zone. The pages pass moments
    // (`DateTime<Utc>`, which reaches a template as RFC 3339 text); epoch seconds, which a
    // city's own template may still hand it, are read too.
    env.add_filter("local", move |t: minijinja::Value| {
        let at = match t.as_str() {
            Some(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            None => i64::try_from(t)
                .ok()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
        };
        at.map(|t| crate::board::minute_text(&t.with_timezone(&tz)))
            .unwrap_or_default()
    });
    env
}

/// A form's message for the field `name`, when it has one (as `{% if errors[name] %}`).
fn field_error_text(errors: &Value, name: &str) -> Option<String> {
    let m = errors.get_item(&Value::from(name)).ok()?;
    m.is_true().then(|| m.to_string())
}

/// `<span class="error"{attrs} id="error-NAME">MESSAGE</span>`, or nothing.
fn field_message(errors: &Value, name: &str, attrs: &str) -> Value {
    Value::from_safe_string(match field_error_text(errors, name) {
        Some(m) => format!(
            "<span class=\"error\"{attrs} id=\"error-{}\">{}</span>",
            HtmlEscape(name),
            HtmlEscape(&m)
        ),
        None => String::new(),
    })
}

/// The first of `dirs` that has the file wins, else the built-in one.
fn load(dirs: &[PathBuf], name: &str) -> std::result::Result<Option<String>, minijinja::Error> {
    if name.contains("..") {
        return Ok(None);
    }
    crate::mail::template::layered_load(dirs, BUILT_IN, name)
}

/// `/static/app.js`, `/static/app.css`: from the templates folder, else built in.
async fn asset(
    axum::extract::State(app): axum::extract::State<App>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let kind = match name.as_str() {
        "app.js" => "text/javascript; charset=utf-8",
        "app.css" => "text/css; charset=utf-8",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match load(&app.template_dirs, &name) {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, kind)], body).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Headers every answer carries: no framing, no sniffing, scripts and styles only from here,
/// pages not cached (they show personal data).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(pages::home))
        // A login form is three short fields: a body over a few KiB is not one.
        .route(
            "/login",
            get(auth::login_page)
                .post(auth::login)
                .layer(axum::extract::DefaultBodyLimit::max(auth::LOGIN_BODY_BYTES)),
        )
        .route("/logout", post(auth::logout))
        .route("/board", get(pages::board))
        .route("/board/table", get(pages::board_table))
        .route("/contact", post(pages::contact))
        .route("/orders", get(pages::orders).post(pages::create_order))
        .route("/orders/{id}", post(pages::update_order))
        .route("/orders/{id}/edit", get(pages::edit_order))
        .route("/orders/{id}/approve", post(pages::approve_order))
        .route("/orders/{id}/cancel", post(pages::cancel_order))
        .route("/orders/{id}/send-back", post(approval::send_back))
        .route("/orders/approve-week", post(approval::approve_week))
        .route(
            "/deputies",
            get(approval::deputies).post(approval::add_deputy),
        )
        .route(
            "/my/orders/{id}",
            get(approval::edit_sent_back).post(approval::resubmit),
        )
        .route("/my", get(pages::my))
        .route("/my/report", post(report::my_report))
        .route("/requests", post(pages::request_order))
        .route("/escalations", get(pages::escalations))
        .route("/escalations/resolve", post(pages::resolve_escalation))
        .route("/audit", get(audit::audit))
        .route("/attendance", get(attendance::page))
        .route("/attendance/export", get(attendance::export))
        .route("/admin", get(pages::admin))
        .route("/admin/applications", post(pages::add_application))
        .route("/admin/employees", post(pages::import_employees))
        .route("/admin/ids/assign", post(pages::assign_id))
        .route("/admin/ids/release", post(pages::release_id))
        .route("/survey/{wave}", get(pages::survey))
        .route("/api/status", get(api::status))
        .route("/api/reports", post(report::api_report))
        .route("/healthz", get(api::healthz))
        .route("/chat/lineworks", post(lineworks::callback))
        .route("/chat/slash", post(chat::slash))
        .route("/chat/teams", post(teams::outgoing))
        .route("/metrics", get(api::metrics))
        .route("/static/{name}", get(asset))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            sso::layer,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Serves until `shutdown` completes; requests in flight are answered first.
pub async fn serve(
    cfg: Config,
    store: Store,
    channels: Channels,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    clock: (crate::clock::Clock, crate::health::SharedHealth),
) -> Result<()> {
    let addr = listener.local_addr().ok();
    let app = App::with_clock(cfg, store, channels, clock);
    tracing::info!(addr = ?addr, "web register listening");
    let sweeper = tokio::spawn(sweep(app.clone(), true));
    // The peer's address (`ConnectInfo`): the audit's client, and the trusted proxies' test.
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Io {
            path: format!("web {addr:?}"),
            source: e,
        });
    sweeper.abort();
    served
}

/// One municipality's register for a listener that serves several by host name (`run
/// --all-tenants`): its routes, and the sweep of its old logins and sessions, a future that
/// never ends (run it beside the server).
pub fn hosted(
    cfg: Config,
    store: Store,
    channels: Channels,
    clock: (crate::clock::Clock, crate::health::SharedHealth),
) -> (Router, impl Future<Output = ()> + Send + 'static) {
    let app = App::with_clock(cfg, store, channels, clock);
    (router(app.clone()), sweep(app, false))
}

/// The registers of a server for several municipalities, by their `[web] host` (lower case,
/// without a port). Tenants added while it runs join it.
#[derive(Clone, Default)]
pub struct Hosts(Arc<std::sync::RwLock<HashMap<String, Router>>>);

impl Hosts {
    pub fn insert(&self, host: &str, router: Router) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_ascii_lowercase(), router);
    }

    fn get(&self, host: &str) -> Option<Router> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
    }
}

/// The host a request asks for: its `Host` header (or the URI's authority), without the port
/// or a final dot, in lower case.
fn requested_host(req: &axum::extract::Request) -> Option<String> {
    let raw = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    let authority: axum::http::uri::Authority = raw.parse().ok()?;
    Some(authority.host().trim_end_matches('.').to_ascii_lowercase())
}

/// Serves every register of `hosts` on one listener until `shutdown`: a request goes to the
/// municipality whose `[web] host` it names, and a host no municipality has gets 404 (never
/// another city's page).
pub async fn serve_hosts(
    listener: tokio::net::TcpListener,
    hosts: Hosts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    use tower_service::Service;
    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "web registers listening, one per host name");
    let by_host = move |req: axum::extract::Request| {
        let router = requested_host(&req).and_then(|h| hosts.get(&h));
        async move {
            match router {
                // A Router is always ready (its `poll_ready` is `Ready(Ok)`), and cannot fail.
                Some(mut r) => match r.call(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                },
                None => (
                    StatusCode::NOT_FOUND,
                    Html(
                        "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\">\
                         <title>見つかりません — 在宅勤務命令簿</title><main><h1>見つかりません</h1>\
                         <p>このホスト名の自治体はありません。</p></main></html>",
                    ),
                )
                    .into_response(),
            }
        }
    };
    let service = Router::new()
        .fallback(by_host)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Io {
            path: format!("web {addr:?}"),
            source: e,
        })
}

/// How often old failed logins and expired sessions are deleted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The server's own rounds. Failed logins older than the throttle window, and expired
/// sessions, are deleted when the server starts and every `SWEEP_EVERY` after, whether or not
/// anyone logs in: they count for nothing any more, and a flood of failed logins must not stay
/// on the disk. With `keep_ready` the day's teleworkers' pages are rendered ahead. A server
/// for several municipalities (`run --all-tenants`) renders on demand: kept ready, every
/// city's pages would be rendered at once when it starts and kept in one process's memory (a
/// few hundred cities, tens of thousands of pages of 40 KiB), where a city's own server keeps
/// its own.
async fn sweep(app: App, keep_ready: bool) {
    if keep_ready {
        tokio::join!(sweep_logins(app.clone()), keep_pages_ready(app));
    } else {
        sweep_logins(app).await
    }
}

/// How often the day's teleworkers' pages are brought up to date (`pages::keep_ready`): a
/// report that arrived shows on its sender's page kept ready within this.
const KEEP_READY_EVERY: Duration = Duration::from_secs(2);

/// Renders the day's teleworkers' 自分の在宅勤務 ahead, and again when theirs changed.
async fn keep_pages_ready(app: App) {
    let mut every = tokio::time::interval(KEEP_READY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ready = pages::Ready::default();
    loop {
        every.tick().await;
        match pages::keep_ready(&app, &mut ready).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pages = n, "teleworkers' pages rendered ahead"),
            // A database that is away now may be back at the next round.
            Err(e) => {
                tracing::warn!(error = %log_text(&e.to_string()), "rendering the day's pages ahead failed")
            }
        }
    }
}

/// Deletes old failed logins and sessions.
async fn sweep_logins(app: App) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = app.now();
        let r = app
            .store
            .purge_login_failures(now - auth::FAILURE_WINDOW)
            .await;
        let r = match r {
            Ok(n) => app.store.purge_sessions(now).await.map(|s| (n, s)),
            Err(e) => Err(e),
        };
        match r {
            Ok((0, 0)) => {}
            Ok((failures, sessions)) => {
                tracing::debug!(failures, sessions, "old failed logins and sessions deleted")
            }
            // A database that is away now may be back at the next sweep.
            Err(e) => {
                tracing::warn!(error = %log_text(&e.to_string()), "sweeping old logins failed")
            }
        }
    }
}

/// Binds the configured (or given) address; a clear error when the port is taken.
pub async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io {
            path: format!("web listen {addr}"),
            source: e,
        })
}

#[cfg(test)]
mod tests {
    use super::log_text;

    #[test]
    fn typed_text_in_a_log_line_cannot_break_the_line() {
        assert_eq!(log_text("E2001"), "E2001");
        assert_eq!(log_text("山田太郎"), "山田太郎");
        assert_eq!(log_text("a\nb\r\u{1b}[2K"), "a\\nb\\r\\u{1b}[2K");
        assert_eq!(log_text("a\u{2028}b\u{202e}c"), "a\\u{2028}b\\u{202e}c");
        let flood = log_text(&"x".repeat(1_000_000));
        assert_eq!(flood.chars().count(), super::LOG_TEXT_CHARS + 1);
        assert!(flood.ends_with('…'));
    }
}
