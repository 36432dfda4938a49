//! Microsoft Teams (issue 17), against the real `zaitaku` binary. The real Teams cannot be
//! reached from the test machines, so a local server on 127.0.0.1 plays the Workflows flow
//! "When a Teams webhook request is received" and refuses (400) what Workflows would refuse: a
//! body that is not a `message` with exactly one Adaptive Card attachment of a version Teams
//! renders, a retired MessageCard, a card without text blocks, an oversized message. The
//! outgoing webhook's signatures are made by Python's `hmac` (an implementation independent of
//! ours), as Teams makes them: HMAC-SHA256 of the raw body under the base64-decoded token.

mod helpers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use helpers::http::{Client, WebServer};
use helpers::servers::free_port;
use helpers::{Backend, Zt, backends, fixture, sql_i64};
use serde_json::{Value, json};

/// The outgoing webhook's security token, as Teams shows it (base64 of 32 bytes).
const TOKEN: &str = "q1Zl2cL6kq3lqK0l8m7Q9aYcS3wJzq0vXh2sQm1pR4U=";
/// The server's clock starts at 2021-01-12 08:27 JST.
const START: &str = "2021-01-12T08:27:00+09:00";
const YAMADA_AAD: &str = "6f1c2a3b-0000-4000-8000-00000000e101";

/// What the Workflows endpoint took (2xx) and refused (400, with why).
#[derive(Default)]
struct Seen {
    accepted: Vec<Value>,
    refused: Vec<String>,
}

/// Why Workflows would refuse this request; `None` when it would post the card.
fn workflows_refusal(content_type: &str, body: &[u8]) -> Option<String> {
    if !content_type.starts_with("application/json") {
        return Some(format!("content-type {content_type:?}"));
    }
    if body.len() > 28 * 1024 {
        return Some(format!("{} bytes: over Teams' 28 KB", body.len()));
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("@type").is_some() || v["type"] == "MessageCard" {
        return Some("a retired Office 365 connector MessageCard".into());
    }
    if v["type"] != "message" {
        return Some(format!("type {:?}, expected \"message\"", v["type"]));
    }
    let Some([a]) = v["attachments"].as_array().map(Vec::as_slice) else {
        return Some("expected exactly one attachment".into());
    };
    if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Some(format!("contentType {:?}", a["contentType"]));
    }
    let card = &a["content"];
    if card["type"] != "AdaptiveCard" {
        return Some(format!("content.type {:?}", card["type"]));
    }
    // Teams renders Adaptive Cards up to schema 1.5.
    if !matches!(
        card["version"].as_str(),
        Some("1.0" | "1.1" | "1.2" | "1.3" | "1.4" | "1.5")
    ) {
        return Some(format!("version {:?}", card["version"]));
    }
    let blocks = card["body"].as_array().cloned().unwrap_or_default();
    if blocks.is_empty()
        || blocks
            .iter()
            .any(|b| b["type"] != "TextBlock" || !b["text"].is_string())
    {
        return Some("expected a body of TextBlocks with text".into());
    }
    None
}

/// The local Workflows endpoint: checks each POST and answers 202 or 400.
struct Workflows {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Workflows {
    fn start() -> Workflows {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, st) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let (mut len, mut ctype, mut first) = (0, String::new(), String::new());
                reader.read_line(&mut first).unwrap_or(0);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        ctype = v.trim().to_string();
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let why = if !first.starts_with("POST /workflows/") {
                    Some(format!("request line {first:?}"))
                } else {
                    workflows_refusal(&ctype, &body)
                };
                let answer: &[u8] = match why {
                    None => {
                        st.lock()
                            .unwrap()
                            .accepted
                            .push(serde_json::from_slice(&body).unwrap());
                        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    }
                    Some(why) => {
                        st.lock().unwrap().refused.push(why);
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    }
                };
                let _ = conn.write_all(answer);
            }
        });
        Workflows {
            port,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn url(&self, flow: &str) -> String {
        format!("http://127.0.0.1:{}/workflows/{flow}", self.port)
    }
}

impl Drop for Workflows {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The fixture's staff with a `teams_id` column (山田太郎 only).
fn staff_with_teams_id(zt: &Zt) -> std::path::PathBuf {
    let fixture = std::fs::read_to_string(fixture("register/employees.csv")).unwrap();
    let mut csv = String::new();
    for (i, line) in fixture.lines().enumerate() {
        let id = match (i, line.starts_with("E1001,")) {
            (0, _) => "teams_id",
            (_, true) => YAMADA_AAD,
            _ => "",
        };
        csv.push_str(&format!("{line},{id}\n"));
    }
    zt.write("staff-teams.csv", &csv)
}

fn world(b: Backend, teams: &str) -> Zt {
    let zt = Zt::new(b);
    let cfg = zt.path("config/zaitaku.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str(teams);
    std::fs::write(&cfg, toml).unwrap();
    let staff = staff_with_teams_id(&zt);
    zt.with_staff_from(&staff).with_orders_0112();
    zt
}

/// `Authorization: HMAC …` for `body`, computed by Python's hmac module.
fn python_hmac(body: &[u8]) -> String {
    let mut p = Command::new("python3")
        .args([
            "-c",
            "import base64,hashlib,hmac,sys; k=base64.b64decode(sys.argv[1]); \
             print(base64.b64encode(hmac.new(k, sys.stdin.buffer.read(), hashlib.sha256).digest()).decode())",
            TOKEN,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    p.stdin.take().unwrap().write_all(body).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success());
    format!("HMAC {}", String::from_utf8(out.stdout).unwrap().trim())
}

/// A message activity as Teams posts it to an outgoing webhook.
fn activity(id: &str, aad: &str, text: &str, at: &str) -> String {
    json!({
        "type": "message",
        "id": id,
        "timestamp": at,
        "localTimestamp": at,
        "serviceUrl": "https://smba.trafficmanager.net/jp/",
        "channelId": "msteams",
        "from": {"id": format!("29:{aad}"), "name": "山田太郎", "aadObjectId": aad},
        "conversation": {"isGroup": true, "id": format!("19:joho@thread.skype;messageid={id}"), "name": null},
        "recipient": null,
        "textFormat": "plain",
        "text": format!("<at>在宅勤務</at>&nbsp;{text}"),
        "attachments": [{"contentType": "text/html", "content": format!("<div><span itemtype=\"http://schema.skype.com/Mention\">在宅勤務</span> {text}</div>")}],
        "entities": [],
        "channelData": {"teamsChannelId": "19:joho@thread.skype", "teamsTeamId": "19:city@thread.skype", "tenant": {"id": "00000000-0000-0000-0000-000000000001"}},
    })
    .to_string()
}

fn post(c: &mut Client, body: &str, auth: Option<&str>) -> helpers::http::Response {
    c.headers = auth
        .map(|a| vec![("Authorization".to_string(), a.to_string())])
        .unwrap_or_default();
    let r = c.send(
        "POST",
        "/chat/teams",
        Some("application/json"),
        body.to_string(),
    );
    c.headers.clear();
    r
}

fn chat_reports(zt: &Zt) -> i64 {
    sql_i64(zt, "SELECT COUNT(*) FROM reports WHERE source = 'chat'")
}

#[test]
fn a_signed_teams_message_is_the_teleworkers_report_and_a_replay_or_forgery_is_refused() {
    for b in backends() {
        let zt = world(b, &format!("[chat.teams]\noutgoing_token = \"{TOKEN}\"\n"));
        let web = WebServer::start_with(&zt, &["--now", START]);
        let mut c = web.client();

        let body = activity(
            "1610407620001",
            YAMADA_AAD,
            "開始します",
            "2021-01-11T23:27:00.000Z",
        );
        let r = post(&mut c, &body, Some(&python_hmac(body.as_bytes())));
        r.expect(200);
        let answer = r.json();
        assert_eq!(answer["type"], "message", "{b:?}: {answer}");
        let text = answer["text"].as_str().unwrap();
        assert!(
            text.contains("山田太郎 さん") && text.contains("業務開始の連絡を受け付けました"),
            "{b:?}: {text}"
        );
        let board = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
        let yamada = &board["teleworkers"][0];
        assert_eq!(yamada["employee_id"], "E1001");
        assert_eq!(yamada["start"]["status"], "on_time", "{b:?}: {yamada}");
        assert_eq!(yamada["start"]["source"], "chat", "{b:?}: {yamada}");

        // The same signed request again, a body changed under its signature, no signature,
        // another token's signature: 401, nothing recorded.
        post(&mut c, &body, Some(&python_hmac(body.as_bytes()))).expect(401);
        let other = activity(
            "1610407620002",
            YAMADA_AAD,
            "終了",
            "2021-01-12T08:30:00.000Z",
        );
        post(&mut c, &other, Some(&python_hmac(body.as_bytes()))).expect(401);
        post(&mut c, &other, None).expect(401);
        post(&mut c, &other, Some("HMAC bm90IHRoZSBzaWduYXR1cmU=")).expect(401);
        assert_eq!(
            chat_reports(&zt),
            1,
            "{b:?}: refused requests change nothing"
        );

        // Someone whose Azure AD ID is not in the register: recorded, never answered.
        let stranger = activity(
            "1610407620003",
            "0badc0de-0000-4000-8000-000000000000",
            "開始",
            "2021-01-11T23:28:00.000Z",
        );
        let r = post(&mut c, &stranger, Some(&python_hmac(stranger.as_bytes())));
        r.expect(200);
        assert!(r.body.trim().is_empty(), "{b:?}: no answer: {:?}", r.body);
        assert_eq!(
            chat_reports(&zt),
            2,
            "{b:?}: the stranger's message is kept"
        );
        assert_eq!(
            sql_i64(
                &zt,
                "SELECT COUNT(*) FROM reports WHERE reason = 'unknown_sender'"
            ),
            1
        );
    }
}

#[test]
fn the_supervisors_step_and_the_digest_reach_the_teams_channel_as_one_adaptive_card_each() {
    for b in backends() {
        let flows = Workflows::start();
        let zt = world(
            b,
            &format!(
                "[chat.teams.workflows]\n\"情報管理課\" = \"{}\"\n",
                flows.url("joho")
            ),
        );
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        for t in ["09:00:00", "09:00:30", "10:00:00", "10:01:00"] {
            zt.ok(&["tick", "--now", &format!("2021-01-12T{t}+09:00")]);
        }
        let seen = flows.seen.lock().unwrap();
        assert!(seen.refused.is_empty(), "{b:?}: {:?}", seen.refused);
        assert_eq!(seen.accepted.len(), 2, "{b:?}: {:#?}", seen.accepted);
        let text = |v: &Value| {
            v["attachments"][0]["content"]["body"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["text"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let step = &seen.accepted[0];
        assert_eq!(
            step["attachments"][0]["content"]["body"][0]["weight"],
            "Bolder"
        );
        assert!(
            text(step).contains("【督促 第2段階】佐藤花子"),
            "{}",
            text(step)
        );
        assert!(text(&seen.accepted[1]).contains("在宅勤務状況"));
        assert!(text(&seen.accepted[1]).contains("山田太郎"));
    }
}

#[test]
fn teams_settings_that_cannot_work_are_refused_in_one_line() {
    let zt = Zt::new(Backend::Sqlite);
    let cfg = zt.path("config/zaitaku.toml");
    let base = std::fs::read_to_string(&cfg).unwrap();
    for (section, fragments) in [
        (
            "[chat.teams]\noutgoing_token = \"not base64!\"\n",
            vec!["chat.teams.outgoing_token", "expected the security token"],
        ),
        (
            "[chat.teams.workflows]\n\"宇宙課\" = \"https://prod.example/workflows/1\"\n",
            vec!["chat.teams.workflows", "宇宙課"],
        ),
        (
            "[chat.teams.workflows]\n\"情報管理課\" = \"ftp://x\"\n",
            vec!["chat.teams.workflows.情報管理課", "https://"],
        ),
        (
            "[chat.teams]\n",
            vec!["chat.teams.outgoing_token", "expected outgoing_token"],
        ),
    ] {
        std::fs::write(&cfg, format!("{base}{section}")).unwrap();
        zt.run(&["init"]).expect_bad_input(&fragments);
    }
}
