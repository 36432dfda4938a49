//! LINE WORKS (Bot API 2.0) against the real binary: the bot's callback on `POST /chat/lineworks`
//! (`zaitaku web`), the answers, escalation steps and digests through the API (`zaitaku tick`).
//!
//! The real service cannot be reached from the test machines, so a server of this file plays
//! it on 127.0.0.1: the token endpoint and the message API. It checks every request against
//! the documented shapes and answers as the service would, 4xx for what it would refuse: the
//! token request's form (grant type, client ID and secret, scope) and its JWT (header, claims,
//! and the RS256 signature, verified by `openssl dgst`, not by our code), the bearer token, the
//! message body (`content.type` = "text", a `text` of at most 2,000 characters). The key pair is
//! made by `openssl genpkey` when the test runs; the callbacks' signatures by Python's `hmac`.

mod helpers;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use helpers::http::{Client, WebServer};
use helpers::{Backend, Zt, backends, fixture};
use serde_json::{Value, json};

const BOT_ID: &str = "2000001";
const BOT_SECRET: &str = "aBcDeFgHiJkLmNoPqRsTuV0123456789";
const CLIENT_ID: &str = "ZbsOq6zjt0IhtZZnrc";
const CLIENT_SECRET: &str = "xYz12AbC34";
const SERVICE_ACCOUNT: &str = "1wagx.serviceaccount@city.example";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The LINE WORKS user IDs (`source.userId`) of 山田 (E1001), 佐藤 (E1002) and 鈴木 (E2001).
const YAMADA: &str = "c72af563-0f21-4736-11e4-045237113344";
const SATO: &str = "9d2e4f10-7a3b-4c5d-8e6f-0123456789ab";
const SUZUKI: &str = "5b8c1d2e-3f40-4a5b-9c6d-7e8f90a1b2c3";
/// 情報管理課's message room.
const JOHO_ROOM: &str = "12345a12-b12c-12d3-e123fghijkl";
/// The web server's clock starts at 2021-01-12 08:27 JST.
const MORNING: &str = "2021-01-12T08:27:00+09:00";

/// A message the fake API took.
#[derive(Debug, Clone)]
struct Posted {
    /// `users/{id}` or `channels/{id}`.
    to: String,
    text: String,
    token: String,
}

#[derive(Debug, Default)]
struct Works {
    /// Tokens issued, in order; `valid` those the API still takes.
    issued: Vec<String>,
    valid: HashSet<String>,
    /// What the token endpoint answers as `expires_in` (a string, as documented).
    expires_in: String,
    posted: Vec<Posted>,
    /// Requests answered 4xx, with why: a test that expects none fails with these.
    refused: Vec<String>,
}

/// The LINE WORKS API and token endpoint on 127.0.0.1, one request per connection.
struct FakeWorks {
    port: u16,
    state: Arc<Mutex<Works>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeWorks {
    fn start(public_key: PathBuf) -> FakeWorks {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(Works {
            expires_in: "86400".into(),
            ..Works::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, s) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    serve(conn, &st, &public_key);
                }
            }
        });
        FakeWorks {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn posted(&self) -> Vec<Posted> {
        self.state.lock().unwrap().posted.clone()
    }

    fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }

    fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    /// Waits (at most 20 s) until `n` messages were posted; the callback's answer is sent by a
    /// task after the HTTP answer.
    fn wait_for(&self, n: usize) -> Vec<Posted> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.posted().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let got = self.posted();
        assert!(
            got.len() >= n,
            "expected {n} message(s), got {got:#?}; refused: {:#?}",
            self.refused()
        );
        got
    }
}

impl Drop for FakeWorks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(conn: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn serve(mut conn: TcpStream, state: &Mutex<Works>, public_key: &Path) {
    let Some(req) = read_request(&conn) else {
        return;
    };
    let (status, body) = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/oauth2/v2.0/token") => token(&req, state, public_key),
        ("POST", p) if p.starts_with("/v1.0/bots/") => message(&req, state),
        _ => (404, json!({"code": "NOT_FOUND"})),
    };
    if status >= 400 {
        let why = format!("{} {} → {status} {body}", req.method, req.path);
        state.lock().unwrap().refused.push(why);
    }
    let body = if status == 201 {
        String::new()
    } else {
        body.to_string()
    };
    let _ = conn.write_all(
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// `POST /oauth2/v2.0/token` ("Authentication with a Service Account (JWT)").
fn token(req: &Request, state: &Mutex<Works>, public_key: &Path) -> (u16, Value) {
    if let Err(why) = check_token_request(req, public_key) {
        return (
            400,
            json!({"error": "invalid_request", "error_description": why}),
        );
    }
    let mut s = state.lock().unwrap();
    let t = format!("jp1AAAA-token-{}", s.issued.len() + 1);
    s.issued.push(t.clone());
    s.valid.insert(t.clone());
    (
        200,
        json!({
            "access_token": t,
            "refresh_token": "jp1AAAA-refresh",
            "scope": "bot",
            "token_type": "Bearer",
            "expires_in": s.expires_in,
        }),
    )
}

fn check_token_request(req: &Request, public_key: &Path) -> Result<(), String> {
    let ct = req.header("content-type").unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(format!("Content-Type {ct:?}"));
    }
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&req.body).map_err(|e| e.to_string())?;
    let field = |k: &str| {
        let mut all = form.iter().filter(|(n, _)| n == k);
        match (all.next(), all.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            _ => Err(format!("{k}: expected once")),
        }
    };
    if field("grant_type")? != GRANT {
        return Err("grant_type".into());
    }
    if field("client_id")? != CLIENT_ID || field("client_secret")? != CLIENT_SECRET {
        return Err("invalid_client".into());
    }
    if !field("scope")?.split(' ').any(|s| s == "bot") {
        return Err("scope: bot".into());
    }
    check_jwt(field("assertion")?, public_key)
}

/// The JWT: header, claims, times against the wall clock, and the signature by `openssl`.
fn check_jwt(jwt: &str, public_key: &Path) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return Err("assertion: not a JWS compact serialisation".into());
    };
    let decode = |p: &str| {
        URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|e| format!("base64url: {e}"))
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|e| e.to_string())?;
    if header != json!({"alg": "RS256", "typ": "JWT"}) {
        return Err(format!("JWT header {header}"));
    }
    let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|e| e.to_string())?;
    if claims["iss"] != CLIENT_ID || claims["sub"] != SERVICE_ACCOUNT {
        return Err(format!("JWT iss/sub {claims}"));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(format!("JWT iat/exp {claims}"));
    };
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if exp <= iat || exp - iat > 3600 || (iat - wall).abs() > 300 || exp <= wall {
        return Err(format!("JWT times iat={iat} exp={exp} now={wall}"));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input"), format!("{h}.{c}")).unwrap();
    std::fs::write(dir.path().join("sig"), decode(sig)?).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_key)
        .arg("-signature")
        .arg(dir.path().join("sig"))
        .arg(dir.path().join("input"))
        .output()
        .unwrap();
    if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK") {
        Ok(())
    } else {
        Err(format!("JWT signature: {out:?}"))
    }
}

/// `POST /v1.0/bots/{botId}/users/{userId}/messages` and `…/channels/{channelId}/messages`.
fn message(req: &Request, state: &Mutex<Works>) -> (u16, Value) {
    let rest = req.path.strip_prefix("/v1.0/bots/").unwrap_or("");
    let segs: Vec<&str> = rest.split('/').collect();
    let [bot, kind @ ("users" | "channels"), id, "messages"] = segs.as_slice() else {
        return (
            404,
            json!({"code": "NOT_FOUND", "description": "no such API"}),
        );
    };
    if *bot != BOT_ID {
        return (404, json!({"code": "NOT_FOUND", "description": "bot"}));
    }
    let auth = req.header("authorization").unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or("").to_string();
    if !state.lock().unwrap().valid.contains(&token) {
        return (
            401,
            json!({"code": "UNAUTHORIZED", "description": "Authentication failed"}),
        );
    }
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return (415, json!({"code": "UNSUPPORTED_MEDIA_TYPE"}));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
        return (
            400,
            json!({"code": "INVALID_PARAMETER", "description": "not JSON"}),
        );
    };
    let text = v["content"]["text"].as_str().unwrap_or("");
    if v["content"]["type"] != "text" || text.is_empty() || text.chars().count() > 2000 {
        return (
            400,
            json!({"code": "INVALID_PARAMETER", "description": "content"}),
        );
    }
    state.lock().unwrap().posted.push(Posted {
        to: format!("{kind}/{id}"),
        text: text.to_string(),
        token,
    });
    (201, Value::Null)
}

/// A key pair made now (never committed): the private key for zaitaku, the public for the
/// fake token endpoint.
fn key_pair(zt: &Zt) -> (PathBuf, PathBuf) {
    let key = zt.path("lineworks-private.key");
    let public = zt.path("lineworks-public.pem");
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let ok = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    (key, public)
}

/// The register of `with_staff` with LINE WORKS IDs for 山田, 佐藤 and 鈴木, `[chat.lineworks]`
/// pointed at a fake server, 情報管理課's room, and the orders of 2021-01-12.
fn world(b: Backend) -> (Zt, FakeWorks) {
    let zt = Zt::new(b);
    let (key, public) = key_pair(&zt);
    let works = FakeWorks::start(public);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{db}\"\n[mail]\ntransport = \"file:{sent}\"\nretry_base_seconds = 1\n\
             [chat.lineworks]\nbot_id = {BOT_ID}\nbot_secret = \"{BOT_SECRET}\"\n\
             client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             service_account = \"{SERVICE_ACCOUNT}\"\nprivate_key_file = \"{key}\"\n\
             api_base = \"{base}\"\nauth_base = \"{base}/\"\n\
             [chat.lineworks.channels]\n\"情報管理課\" = \"{JOHO_ROOM}\"\n",
            db = zt.db,
            sent = zt.path("sent").display(),
            key = key.display(),
            base = works.base(),
        ),
    )
    .unwrap();
    let fixture_csv = std::fs::read_to_string(fixture("register/employees.csv")).unwrap();
    let mut csv = String::new();
    for (i, line) in fixture_csv.lines().enumerate() {
        let id = match (i, line.split(',').next().unwrap_or("")) {
            (0, _) => "lineworks_id",
            (_, "E1001") => YAMADA,
            (_, "E1002") => SATO,
            (_, "E2001") => SUZUKI,
            _ => "",
        };
        csv.push_str(&format!("{line},{id}\n"));
    }
    let staff = zt.write("staff-lineworks.csv", &csv);
    zt.with_staff_from(&staff).with_orders_0112();
    (zt, works)
}

/// The callback's signature, by Python's `hmac` (an implementation independent of ours).
fn python_signature(body: &str) -> String {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, hmac, hashlib, base64\n\
             mac = hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256)\n\
             print(base64.b64encode(mac.digest()).decode())",
            BOT_SECRET,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A message event as the documentation shows it (`source.channelId` only from a room).
fn event(user: &str, channel: Option<&str>, issued: &str, text: &str) -> String {
    let mut v = json!({
        "type": "message",
        "source": {"userId": user, "domainId": 40029600},
        "issuedTime": issued,
        "content": {"type": "text", "text": text},
    });
    if let Some(c) = channel {
        v["source"]["channelId"] = c.into();
    }
    v.to_string()
}

/// POSTs a callback with the given headers (`None`: left out).
fn callback(c: &mut Client, body: &str, bot: Option<&str>, sig: Option<&str>) -> u16 {
    c.headers.clear();
    if let Some(b) = bot {
        c.headers.push(("X-WORKS-BotId".into(), b.into()));
    }
    if let Some(s) = sig {
        c.headers.push(("X-WORKS-Signature".into(), s.into()));
    }
    let r = c.send(
        "POST",
        "/chat/lineworks",
        Some("application/json; charset=UTF-8"),
        body.to_string(),
    );
    c.headers.clear();
    r.status
}

/// A callback signed as LINE WORKS signs it.
fn signed(c: &mut Client, body: &str) -> u16 {
    callback(c, body, Some(BOT_ID), Some(&python_signature(body)))
}

/// The board of 2021-01-12 and how many reports it shows (matched and not).
fn reports(zt: &Zt) -> (Value, usize) {
    let b = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
    let n = b["teleworkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reports"].as_array().unwrap().len())
        .sum::<usize>()
        + b["unmatched"].as_array().unwrap().len();
    (b, n)
}

#[test]
fn a_teleworkers_message_is_answered_once_through_the_api_with_one_token() {
    for b in backends() {
        let (zt, works) = world(b);
        let web = WebServer::start_with(&zt, &["--now", MORNING]);
        let mut c = web.client();

        let start = event(YAMADA, None, "2021-01-11T23:27:00.000Z", "開始します");
        assert_eq!(signed(&mut c, &start), 200, "{b:?}: {}", web.log());
        let got = works.wait_for(1);
        assert_eq!(got[0].to, format!("users/{YAMADA}"), "{b:?}");
        assert!(
            got[0].text.contains("山田太郎 さん"),
            "{b:?}: {}",
            got[0].text
        );
        assert!(
            got[0].text.contains("業務開始の連絡を受け付けました"),
            "{b:?}: {}",
            got[0].text
        );
        assert!(
            got[0].text.contains("自動応答"),
            "worded for chat: {}",
            got[0].text
        );
        let (board, n) = reports(&zt);
        assert_eq!(n, 1, "{b:?}: {board}");
        assert_eq!(
            board["teleworkers"][0]["start"]["status"], "on_time",
            "{board}"
        );
        assert_eq!(
            board["teleworkers"][0]["start"]["source"], "chat",
            "{board}"
        );

        // LINE WORKS (or someone who caught it) sends the same callback again.
        assert_eq!(signed(&mut c, &start), 401, "{b:?}");
        // 佐藤 starts too: the answer goes with the token already fetched.
        let sato = event(SATO, None, "2021-01-11T23:28:30.123Z", "業務開始");
        assert_eq!(signed(&mut c, &sato), 200);
        let got = works.wait_for(2);
        assert_eq!(got[1].to, format!("users/{SATO}"));
        assert_eq!(works.issued().len(), 1, "{b:?}: one token for both");
        assert!(got.iter().all(|p| p.token == works.issued()[0]));
        // Whatever is delivered later, 山田 was answered once.
        zt.ok(&["tick", "--now", "2021-01-12T08:29:00+09:00"]);
        let got = works.posted();
        assert_eq!(got.len(), 2, "{b:?}: {got:#?}");
        assert_eq!(reports(&zt).1, 2, "{b:?}");
        assert!(works.refused().is_empty(), "{b:?}: {:#?}", works.refused());
        assert!(
            web.log().contains("lineworks callback replayed"),
            "{}",
            web.log()
        );
    }
}

#[test]
fn a_token_the_api_no_longer_takes_is_replaced_and_the_answer_still_goes_once() {
    let (zt, works) = world(Backend::Sqlite);
    let web = WebServer::start_with(&zt, &["--now", MORNING]);
    let mut c = web.client();
    assert_eq!(
        signed(
            &mut c,
            &event(YAMADA, None, "2021-01-11T23:27:00.000Z", "開始")
        ),
        200
    );
    works.wait_for(1);
    // The service revokes every token (an administrator reissued the app's secret, say).
    works.state.lock().unwrap().valid.clear();
    assert_eq!(
        signed(
            &mut c,
            &event(SATO, None, "2021-01-11T23:28:00.000Z", "開始")
        ),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while works.refused().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(works.refused()[0].contains("401"), "{:#?}", works.refused());
    // The next delivery (a second later on the outbox's clock) fetches a new token first.
    zt.ok(&["tick", "--now", "2021-01-12T08:30:00+09:00"]);
    let got = works.posted();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1].to, format!("users/{SATO}"));
    assert_eq!(works.issued().len(), 2);
    assert_eq!(got[1].token, works.issued()[1]);
}

#[test]
fn forged_unsigned_and_other_bots_callbacks_get_401_and_are_recorded_nowhere() {
    for b in backends() {
        let (zt, works) = world(b);
        let web = WebServer::start_with(&zt, &["--now", MORNING]);
        let mut c = web.client();
        let body = event(YAMADA, None, "2021-01-11T23:27:00.000Z", "開始");
        let good = python_signature(&body);
        // No signature; a signature of another body; another bot's ID; no bot ID; garbage.
        assert_eq!(callback(&mut c, &body, Some(BOT_ID), None), 401);
        let other = python_signature(&body.replace("開始", "終了"));
        assert_eq!(callback(&mut c, &body, Some(BOT_ID), Some(&other)), 401);
        assert_eq!(callback(&mut c, &body, Some("2000002"), Some(&good)), 401);
        assert_eq!(callback(&mut c, &body, None, Some(&good)), 401);
        assert_eq!(
            callback(&mut c, &body, Some(BOT_ID), Some("bm90IGEgc2lnbmF0dXJl")),
            401
        );
        // Signed right, then changed on the way.
        let tampered = body.replace(YAMADA, SUZUKI);
        assert_eq!(callback(&mut c, &tampered, Some(BOT_ID), Some(&good)), 401);
        zt.ok(&["tick", "--now", "2021-01-12T08:29:00+09:00"]);
        let (board, n) = reports(&zt);
        assert_eq!(n, 0, "{b:?}: {board}");
        assert!(works.posted().is_empty() && works.issued().is_empty());
        assert!(
            web.log().contains("lineworks callback refused"),
            "{}",
            web.log()
        );
    }
}

#[test]
fn a_stranger_is_recorded_and_never_answered_and_other_events_are_not_recorded() {
    let (zt, works) = world(Backend::Sqlite);
    let web = WebServer::start_with(&zt, &["--now", MORNING]);
    let mut c = web.client();
    let stranger = "0f0f0f0f-dead-beef-0000-111122223333";
    assert_eq!(
        signed(
            &mut c,
            &event(stranger, None, "2021-01-11T23:27:00.000Z", "開始")
        ),
        200
    );
    // A join, a postback and a sticker: answered 200, recorded nowhere.
    let join = json!({"type": "join", "source": {"channelId": JOHO_ROOM, "domainId": 1},
                      "issuedTime": "2021-01-11T23:27:01.000Z"});
    let postback = json!({"type": "postback", "source": {"userId": YAMADA}, "data": "開始",
                          "issuedTime": "2021-01-11T23:27:02.000Z"});
    let sticker = json!({"type": "message", "source": {"userId": YAMADA},
                         "issuedTime": "2021-01-11T23:27:03.000Z",
                         "content": {"type": "sticker", "packageId": "1", "stickerId": "2"}});
    for e in [join, postback, sticker] {
        assert_eq!(signed(&mut c, &e.to_string()), 200, "{e}");
    }
    // The supervisors talking in their department's room is not a report.
    let chatter = event(
        SUZUKI,
        Some(JOHO_ROOM),
        "2021-01-11T23:27:04.000Z",
        "了解です",
    );
    assert_eq!(signed(&mut c, &chatter), 200);
    zt.ok(&["tick", "--now", "2021-01-12T08:29:00+09:00"]);
    let (board, n) = reports(&zt);
    assert_eq!(n, 1, "{board}");
    let unknown = &board["unmatched"][0];
    assert_eq!(unknown["reason"], "unknown_sender", "{board}");
    assert_eq!(unknown["from"], stranger, "{board}");
    assert!(works.posted().is_empty(), "{:#?}", works.posted());
}

#[test]
fn the_departments_room_gets_steps_and_digests_and_the_token_is_renewed_when_it_runs_out() {
    for b in backends() {
        let (zt, works) = world(b);
        // Tokens that live an hour: the 10:00 digest needs a new one.
        works.state.lock().unwrap().expires_in = "3600".into();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:30+09:00"]);
        let got = works.posted();
        assert_eq!(got.len(), 1, "{b:?}: {got:#?} {:#?}", works.refused());
        assert_eq!(got[0].to, format!("channels/{JOHO_ROOM}"));
        assert!(
            got[0].text.contains("【督促 第2段階】佐藤花子"),
            "{}",
            got[0].text
        );
        assert_eq!(works.issued().len(), 1);
        zt.ok(&["tick", "--now", "2021-01-12T10:00:00+09:00"]);
        let got = works.posted();
        assert_eq!(got.len(), 2, "{b:?}: {got:#?}");
        assert!(got[1].text.contains("在宅勤務状況"), "{}", got[1].text);
        assert!(got[1].text.contains("山田太郎"), "{}", got[1].text);
        assert_eq!(
            works.issued().len(),
            2,
            "{b:?}: the 09:00 token ran out at 10:00"
        );
        assert_eq!(got[1].token, works.issued()[1]);

        // 山田 ends the day in LINE WORKS with a long work summary (日報): the 17:45 digest is
        // more than one message may hold, so it comes in parts the API takes.
        let web = WebServer::start_with(&zt, &["--now", "2021-01-12T17:20:00+09:00"]);
        let mut c = web.client();
        let summary: Vec<String> = (1..=40)
            .map(|i| format!("{i:02}. 庁内ネットワーク更新手順書の第{i}節を作成し、課内レビューの指摘を反映した"))
            .collect();
        let end = format!("終了\n本日の作業:\n{}", summary.join("\n"));
        let end_event = event(YAMADA, None, "2021-01-12T08:20:00.000Z", &end);
        assert_eq!(signed(&mut c, &end_event), 200);
        let got = works.wait_for(3);
        assert_eq!(got[2].to, format!("users/{YAMADA}"));
        assert!(
            got[2].text.contains("業務終了の連絡を受け付けました"),
            "{}",
            got[2].text
        );
        assert_eq!(
            works.issued().len(),
            3,
            "{b:?}: 10:00's token ran out at 11:00"
        );
        drop(web);
        zt.ok(&["tick", "--now", "2021-01-12T17:45:00+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T17:46:00+09:00"]);
        let got = works.posted();
        let room: Vec<&Posted> = got[3..]
            .iter()
            .filter(|p| p.to == format!("channels/{JOHO_ROOM}"))
            .collect();
        let digest: Vec<&str> = room
            .iter()
            .map(|p| p.text.as_str())
            .skip_while(|t| !t.contains("在宅勤務状況"))
            .collect();
        assert!(digest.len() >= 2, "{b:?}: {room:#?}");
        eprintln!(
            "{b:?}: digest in {} parts of {:?} characters",
            digest.len(),
            digest.iter().map(|t| t.chars().count()).collect::<Vec<_>>()
        );
        let whole = digest.join("\n");
        for line in &summary {
            assert!(
                whole.contains(line.as_str()),
                "{b:?}: {line} missing in {whole}"
            );
        }
        assert!(
            room.iter()
                .any(|p| p.text.contains("【督促 第2段階】佐藤花子")),
            "{room:#?}"
        );
        assert_eq!(
            works.issued().len(),
            3,
            "{b:?}: 17:20's token still good at 17:45"
        );
        assert!(works.refused().is_empty(), "{b:?}: {:#?}", works.refused());
    }
}

/// A department without a LINE WORKS room: its supervisors who have a `lineworks_id` get the
/// escalation step as the bot's message to them, once each.
#[test]
fn without_a_room_the_supervisors_get_the_step_one_by_one() {
    for b in backends() {
        let (zt, works) = world(b);
        // The same settings without [chat.lineworks.channels].
        let cfg = zt.path("config/zaitaku.toml");
        let toml = std::fs::read_to_string(&cfg).unwrap();
        let without = toml
            .split("[chat.lineworks.channels]")
            .next()
            .unwrap()
            .to_string();
        std::fs::write(&cfg, without).unwrap();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:30+09:00"]);
        let got = works.posted();
        assert_eq!(got.len(), 1, "{b:?}: {got:#?} {:#?}", works.refused());
        assert_eq!(got[0].to, format!("users/{SUZUKI}"), "{b:?}");
        assert!(
            got[0].text.contains("【督促 第2段階】佐藤花子"),
            "{}",
            got[0].text
        );
        assert!(works.refused().is_empty(), "{b:?}: {:#?}", works.refused());
    }
}

#[test]
fn lineworks_settings_that_cannot_work_are_refused_in_one_line() {
    let zt = Zt::new(Backend::Sqlite);
    let (key, _) = key_pair(&zt);
    let ec = zt.path("ec.key");
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&ec)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let not_pem = zt.write("notes.txt", "not a key\n");
    let section = |extra: &str, key: &Path| {
        format!(
            "[chat.lineworks]\nbot_id = \"{BOT_ID}\"\nbot_secret = \"s\"\nclient_id = \"c\"\n\
             client_secret = \"cs\"\nservice_account = \"sa.serviceaccount@x\"\n\
             private_key_file = \"{}\"\n{extra}",
            key.display()
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            section("", &key).replace("bot_secret = \"s\"\n", ""),
            vec!["chat.lineworks.bot_secret", "expected"],
        ),
        (
            section("", &key).replace("client_id = \"c\"\n", ""),
            vec!["chat.lineworks.client_id", "expected"],
        ),
        (
            section("", &key).replace(&format!("bot_id = \"{BOT_ID}\""), "bot_id = \"zaitaku\""),
            vec!["chat.lineworks.bot_id", "digits"],
        ),
        (
            section("", &zt.path("missing.key")),
            vec!["chat.lineworks.private_key_file", "missing.key"],
        ),
        (
            section("", &not_pem),
            vec!["chat.lineworks.private_key_file", "PKCS#8"],
        ),
        (
            section("", &ec),
            vec!["chat.lineworks.private_key_file", "RSA"],
        ),
        (
            section("api_base = \"www.worksapis.com\"\n", &key),
            vec!["chat.lineworks.api_base", "http"],
        ),
        (
            section("auth_base = \"ftp://auth.example\"\n", &key),
            vec!["chat.lineworks.auth_base", "http"],
        ),
        (
            section("[chat.lineworks.channels]\n\"宇宙課\" = \"room\"\n", &key),
            vec!["chat.lineworks.channels", "宇宙課"],
        ),
        (section("botsecret = \"x\"\n", &key), vec!["botsecret"]),
    ];
    for (toml, fragments) in cases {
        std::fs::write(zt.path("config/zaitaku.toml"), &toml).unwrap();
        zt.run(&["init"]).expect_bad_input(&fragments);
    }
}
