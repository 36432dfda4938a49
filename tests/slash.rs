//! Slash commands from Slack, Mattermost or Rocket.Chat on `POST /chat/slash`, against the real
//! `zaitaku web`: a signed `/zaitaku 開始` becomes the teleworker's start report (source `chat`)
//! and is answered in the response; a forged, stale or replayed request gets 401 and changes
//! nothing.

mod helpers;

use helpers::http::{Client, WebServer, form};
use helpers::{Backend, Zt, backends};
use zaitaku::chat::slash::slack_signature;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const MM_TOKEN: &str = "mm-command-token-1234";
/// The server's clock starts at 2021-01-12 08:27 JST.
const START: &str = "2021-01-12T08:27:00+09:00";
const START_EPOCH: i64 = 1_610_407_620;

fn world(b: Backend) -> Zt {
    let zt = Zt::new(b);
    let cfg = zt.path("config/zaitaku.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str(&format!(
        "[chat.slash]\nsigning_secret = \"{SECRET}\"\ntoken = \"{MM_TOKEN}\"\n"
    ));
    std::fs::write(&cfg, toml).unwrap();
    let staff =
        zt.staff_with_chat_ids(&[("E1001", "U1001"), ("E1002", "mm-sato"), ("E2001", "U2001")]);
    zt.with_staff_from(&staff).with_orders_0112();
    zt
}

/// A request as Slack sends it: the form, signed with the timestamp given.
fn slack(c: &mut Client, user: &str, text: &str, ts: i64) -> (String, helpers::http::Response) {
    let body = form(&[
        ("token", "deprecated-verification-token"),
        ("team_id", "T0001"),
        ("user_id", user),
        ("command", "/zaitaku"),
        ("text", text),
        ("trigger_id", &format!("{ts}.{user}.{text}")),
    ]);
    let sig = slack_signature(SECRET, &ts.to_string(), body.as_bytes());
    (sig.clone(), signed(c, &body, &ts.to_string(), &sig))
}

fn signed(c: &mut Client, body: &str, ts: &str, sig: &str) -> helpers::http::Response {
    c.headers = vec![
        ("X-Slack-Request-Timestamp".into(), ts.into()),
        ("X-Slack-Signature".into(), sig.into()),
    ];
    let r = c.send(
        "POST",
        "/chat/slash",
        Some("application/x-www-form-urlencoded"),
        body.to_string(),
    );
    c.headers.clear();
    r
}

fn reports(zt: &Zt) -> (serde_json::Value, usize) {
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
fn a_signed_slack_command_is_the_teleworkers_report_and_a_replay_is_refused() {
    for b in backends() {
        let zt = world(b);
        let web = WebServer::start_with(&zt, &["--now", START]);
        let mut c = web.client();

        let (_, r) = slack(&mut c, "U1001", "開始", START_EPOCH);
        r.expect(200);
        let answer = r.json();
        assert_eq!(answer["response_type"], "ephemeral", "{b:?}: {answer}");
        let text = answer["text"].as_str().unwrap();
        assert!(text.contains("山田太郎 さん"), "{b:?}: {text}");
        assert!(
            text.contains("業務開始の連絡を受け付けました"),
            "{b:?}: {text}"
        );
        assert!(
            text.contains("自動応答"),
            "worded for chat, not mail: {text}"
        );
        let (board, n) = reports(&zt);
        assert_eq!(n, 1, "{b:?}: {board}");
        let yamada = &board["teleworkers"][0];
        assert_eq!(yamada["employee_id"], "E1001");
        assert_eq!(yamada["start"]["status"], "on_time", "{b:?}: {yamada}");
        assert_eq!(yamada["start"]["source"], "chat", "{b:?}: {yamada}");

        // The very same request again (a replay, by an attacker or a retrying proxy).
        let body = form(&[
            ("token", "deprecated-verification-token"),
            ("team_id", "T0001"),
            ("user_id", "U1001"),
            ("command", "/zaitaku"),
            ("text", "開始"),
            ("trigger_id", &format!("{START_EPOCH}.U1001.開始")),
        ]);
        let sig = slack_signature(SECRET, &START_EPOCH.to_string(), body.as_bytes());
        signed(&mut c, &body, &START_EPOCH.to_string(), &sig).expect(401);
        assert_eq!(reports(&zt).1, 1, "{b:?}: a replay changes nothing");

        // The end of the day, by Mattermost (its token, no signature), with the day's summary.
        let mm = form(&[
            ("token", MM_TOKEN),
            ("user_id", "mm-sato"),
            ("command", "/zaitaku"),
            ("text", "終了 本日の作業: 仕様書の第3章を作成"),
            ("trigger_id", "mm-trigger-1"),
        ]);
        let r = c.send(
            "POST",
            "/chat/slash",
            Some("application/x-www-form-urlencoded"),
            mm.clone(),
        );
        r.expect(200);
        assert!(
            r.json()["text"]
                .as_str()
                .unwrap()
                .contains("業務終了の連絡を受け付けました"),
            "{}",
            r.json()
        );
        let (board, n) = reports(&zt);
        assert_eq!(n, 2, "{b:?}: {board}");
        let sato = &board["teleworkers"][1];
        assert_eq!(sato["employee_id"], "E1002");
        assert_eq!(sato["reports"][0]["kind"], "end", "{sato}");
        assert_eq!(sato["reports"][0]["source"], "chat", "{sato}");
        c.send(
            "POST",
            "/chat/slash",
            Some("application/x-www-form-urlencoded"),
            mm,
        )
        .expect(401);
        assert_eq!(reports(&zt).1, 2);
    }
}

#[test]
fn forged_stale_and_unsigned_requests_get_401_and_are_recorded_nowhere() {
    let zt = world(Backend::Sqlite);
    let web = WebServer::start_with(&zt, &["--now", START]);
    let mut c = web.client();
    // Signed with another secret.
    let body = form(&[("user_id", "U1001"), ("text", "開始")]);
    let forged = slack_signature("not-the-secret", &START_EPOCH.to_string(), body.as_bytes());
    signed(&mut c, &body, &START_EPOCH.to_string(), &forged).expect(401);
    // The right secret, but the body changed on the way.
    let sig = slack_signature(SECRET, &START_EPOCH.to_string(), body.as_bytes());
    let tampered = form(&[("user_id", "U2001"), ("text", "開始")]);
    signed(&mut c, &tampered, &START_EPOCH.to_string(), &sig).expect(401);
    // Signed properly six minutes ago (or ahead).
    slack(&mut c, "U1001", "開始", START_EPOCH - 360)
        .1
        .expect(401);
    slack(&mut c, "U1001", "開始", START_EPOCH + 360)
        .1
        .expect(401);
    // No signature at all; a wrong Mattermost token.
    c.post("/chat/slash", &[("user_id", "U1001"), ("text", "開始")])
        .expect(401);
    c.post(
        "/chat/slash",
        &[
            ("token", "mm-command-token-123X"),
            ("user_id", "mm-sato"),
            ("text", "開始"),
        ],
    )
    .expect(401);
    let (board, n) = reports(&zt);
    assert_eq!(n, 0, "{board}");
    assert!(board["teleworkers"][0]["start"]["at"].is_null(), "{board}");
    assert!(web.log().contains("slash command refused"), "{}", web.log());
}

#[test]
fn a_stranger_is_told_to_register_and_recorded_as_unknown() {
    let zt = world(Backend::Sqlite);
    let web = WebServer::start_with(&zt, &["--now", START]);
    let mut c = web.client();
    let r = slack(&mut c, "U7777", "開始", START_EPOCH + 5).1;
    r.expect(200);
    assert!(
        r.json()["text"]
            .as_str()
            .unwrap()
            .contains("登録されていません"),
        "{}",
        r.json()
    );
    // Neither a start nor an end: the teleworker is asked which, in chat's words.
    let unclear = slack(&mut c, "U1001", "おはようございます", START_EPOCH + 5).1;
    unclear.expect(200);
    let text = unclear.json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("判別できませんでした"), "{text}");
    assert!(text.contains("「開始」または「終了」"), "{text}");
    let help = slack(&mut c, "U1001", "", START_EPOCH + 6).1;
    help.expect(200);
    assert!(
        help.json()["text"]
            .as_str()
            .unwrap()
            .contains("/zaitaku 開始")
    );
    let (board, n) = reports(&zt);
    assert_eq!(n, 2, "{board}");
    let stranger = board["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["reason"] == "unknown_sender")
        .unwrap_or_else(|| panic!("{board}"));
    assert_eq!(stranger["from"], "U7777", "{board}");
}

#[test]
fn a_slash_section_without_a_secret_or_token_is_refused_in_one_line() {
    let zt = Zt::new(Backend::Sqlite);
    let cfg = zt.path("config/zaitaku.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str("[chat.slash]\nsigning_secret = \"\"\n");
    std::fs::write(&cfg, toml).unwrap();
    zt.run(&["init"])
        .expect_bad_input(&["chat.slash", "signing_secret"]);
}

#[test]
fn a_rocket_chat_outgoing_webhook_in_json_is_taken_with_its_token() {
    let zt = world(Backend::Sqlite);
    let web = WebServer::start_with(&zt, &["--now", START]);
    let mut c = web.client();
    let body = serde_json::json!({
        "token": MM_TOKEN,
        "bot": false,
        "channel_id": "GENERAL",
        "message_id": "rc-msg-1",
        "user_id": "U1001",
        "user_name": "yamada",
        "text": "zaitaku 開始します",
        "timestamp": "2021-01-11T23:27:00.000Z",
    });
    let r = c.json("POST", "/chat/slash", &body);
    r.expect(200);
    assert!(
        r.json()["text"]
            .as_str()
            .unwrap()
            .contains("業務開始の連絡を受け付けました"),
        "{}",
        r.json()
    );
    let (board, n) = reports(&zt);
    assert_eq!(n, 1, "{board}");
    assert_eq!(board["teleworkers"][0]["start"]["source"], "chat");
    // The same delivery again is a replay; a wrong token is refused.
    c.json("POST", "/chat/slash", &body).expect(401);
    let mut forged = body.clone();
    forged["token"] = "guess".into();
    forged["message_id"] = "rc-msg-2".into();
    c.json("POST", "/chat/slash", &forged).expect(401);
    assert_eq!(reports(&zt).1, 1);
}
