//! Single sign-on behind the city's reverse proxy (SPEC §12): the proxy (Apache
//! mod_auth_mellon, oauth2-proxy…) does SAML or OpenID Connect and names the signed-in person
//! in a header (`[web] trusted_header`, e.g. `X-Remote-User`). The header is believed only on a
//! connection from one of `[web] trusted_proxies`; from anywhere else a request carrying it is
//! refused (403) and logged, since anyone can type a header. A believed header gives the
//! browser a session of that employee (a new one when it had none or another person's), then
//! the same URL again; everything after is the ordinary session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::{cut_login, new_session, session_employee_id};
use super::{App, Peer};

/// Every request: notes its peer, and applies the trusted header when one is configured.
pub async fn layer(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    req.extensions_mut().insert(Peer(peer));
    let Some(web) = app.cfg.web.as_ref() else {
        return next.run(req).await;
    };
    let Some(name) = web.trusted_header.as_ref() else {
        return next.run(req).await;
    };
    let Some(value) = req.headers().get(name) else {
        return next.run(req).await;
    };
    let login = cut_login(&String::from_utf8_lossy(value.as_bytes()))
        .trim()
        .to_string();
    let shown = super::log_text(&login);
    if !peer.is_some_and(|p| web.trusted_proxies.contains(&p)) {
        tracing::warn!(header = %name, login = %shown, peer = ?peer,
            "the single sign-on header came from an address that is not a trusted proxy: refused");
        app.record_refused(
            &format!("sso:{login}"),
            "sso_untrusted",
            &format!("peer={peer:?}"),
        )
        .await;
        return super::forbidden(
            &app,
            None,
            "このアドレスからの認証ヘッダーは受け付けません。庁内のシングルサインオン（リバースプロキシ）を経由してアクセスしてください。",
        );
    }
    let employee = match app.store.login_employee(&login).await {
        Ok(e) => e,
        Err(e) => return super::internal(e),
    };
    let Some(employee) = employee else {
        tracing::warn!(header = %name, login = %shown, "single sign-on named nobody of the register: refused");
        app.record_refused(&format!("sso:{login}"), "sso_unknown", "")
            .await;
        return super::forbidden(
            &app,
            None,
            "シングルサインオンで確認された利用者は、在宅勤務命令簿に登録されていません。情報管理課に確認してください。",
        );
    };
    match session_employee_id(&app, req.headers()).await {
        Ok(Some(current)) if current == employee => return next.run(req).await,
        Ok(_) => {}
        Err(e) => return super::internal(e),
    }
    let cookie = match new_session(&app, &employee).await {
        Ok(c) => c,
        Err(e) => return super::internal(e),
    };
    tracing::info!(employee = %employee, "signed in by the reverse proxy's header");
    // Back to the same page with the session; a form sent without one goes home (its CSRF
    // token belonged to no session).
    let to = if matches!(*req.method(), Method::GET | Method::HEAD) {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into())
    } else {
        "/".into()
    };
    // (`Redirect::to` is a 303 See Other.)
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
