//! Property tests for the intakes a stranger can reach without a file system: IMAP, Matrix and
//! the slash command (issue 14: per-message isolation on every source, on SQLite and
//! PostgreSQL). Each is the attack: batches of generated hostile messages (NULs, C0 and C1
//! controls, bidi marks, broken MIME, arbitrary bytes, very long and empty text), each batch
//! followed by one good report from a registered teleworker, through the real servers and the
//! real binary. What a user would notice is checked: the good report is answered exactly once,
//! nothing hostile is answered twice or stops the intake, and every message is on the board.
//!
//! The cases come from a fixed seed (`helpers::hostile::SEED`); `PROPTEST_RNG_SEED=N` draws
//! others.

mod helpers;

use std::collections::{BTreeMap, BTreeSet};

use helpers::hostile::{chat_text, draw, field_bytes, form_bytes, hostile, runner};
use helpers::{Zt, backends, fixture};
use serde_json::Value;

/// Every record of the day on the board: the teleworkers' reports and the unmatched mail.
fn records(board: &Value) -> usize {
    board["teleworkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reports"].as_array().unwrap().len())
        .sum::<usize>()
        + board["unmatched"].as_array().unwrap().len()
}

/// 佐藤's start report as her iPhone sent it (`03-start-utf8-base64.eml`), with its own
/// Message-ID.
fn good_start(id: &str) -> Vec<u8> {
    let raw = std::fs::read_to_string(fixture("mail/03-start-utf8-base64.eml")).unwrap();
    let old = "<B7E2C1A4-3F0D-4C8E-9A51-2D6F0E1B7C33@city.example.lg.jp>";
    assert!(raw.contains(old));
    raw.replace(old, &format!("<{id}>")).into_bytes()
}

/// The value of the header `name` (e.g. `In-Reply-To`) of a sent mail.
fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let head = mail.split("\r\n\r\n").next().unwrap_or(mail);
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn no_control_characters(what: &str, mails: &[String]) {
    for m in mails {
        assert!(
            !m.bytes()
                .any(|c| c < 0x20 && c != b'\r' && c != b'\n' && c != b'\t'),
            "{what}: a control character reached a mail: {m:?}"
        );
    }
}

#[test]
fn property_hostile_mail_over_imap_never_keeps_the_next_report_from_its_one_answer() {
    use helpers::servers::{Dovecot, SmtpSink, eventually};
    for b in backends() {
        let imap = Dovecot::start();
        let out = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start(out.path());
        let zt = Zt::new(b);
        std::fs::write(
            zt.path("config/zaitaku.toml"),
            format!(
                "database = \"{}\"\n[mail]\nsource = \"{}\"\ntransport = \"{}\"\npoll_seconds = 1\n\
                 retry_base_seconds = 1\n",
                zt.db,
                imap.url(),
                smtp.url()
            ),
        )
        .unwrap();
        // The property is one answer per message; tests/isolation.rs tests the loop breaker.
        zt.without_loop_breaker();
        zt.with_staff().with_orders_0112();
        let mut run = zt.start_run(Some("info"));
        let mut runner = runner();
        let batch = proptest::collection::vec(hostile(), 1..6);
        let mut refused_by_dovecot = 0;
        for case in 0..6 {
            let msgs = draw(&batch, &mut runner);
            let good_id = format!("good-imap-{case}@pc02");
            let mut all = msgs.clone();
            all.push(good_start(&good_id));
            let taken = imap.append_each(&all, "12-Jan-2021 08:25:00 +0900");
            assert_eq!(taken.len(), all.len(), "{b:?} case {case}");
            assert!(
                *taken.last().unwrap(),
                "Dovecot takes the good report: {b:?} case {case}"
            );
            refused_by_dovecot += taken.iter().filter(|t| !**t).count();
            let answered_good = || {
                smtp.received()
                    .iter()
                    .filter(|m| header(m, "In-Reply-To") == Some(&format!("<{good_id}>")))
                    .count()
            };
            eventually(
                60,
                &format!("{b:?} case {case}: the report after {msgs:?} answered"),
                || answered_good() >= 1,
            );
            // Everything queued so far has gone out (hostile answers come before the good
            // one's in the outbox, but a retry could reorder them).
            eventually(30, "the outbox empty", || {
                zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00")["outbox"]["queued"] == 0
            });
            assert!(
                run.0.try_wait().unwrap().is_none(),
                "{b:?} case {case}: the daemon died:\n{}",
                std::fs::read_to_string(&run.1).unwrap_or_default()
            );
            let (total, seen) = imap.counts();
            assert_eq!(
                seen, total,
                "{b:?} case {case}: every message in the mailbox was taken (flagged \\Seen)"
            );

            // What the mailbox holds, read as the daemon reads it: each distinct message (by
            // Message-ID, or by its bytes when it has none) is one record on the board.
            let held = imap.fetch_all();
            let mut keys: BTreeMap<String, String> = BTreeMap::new();
            for raw in &held {
                let (key, from) = match zaitaku::mail::parse::parse(raw) {
                    Ok(m) => (m.key, m.from),
                    Err(bad) => (bad.key, bad.from),
                };
                keys.insert(key, from);
            }
            let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
            assert_eq!(
                records(&board),
                keys.len(),
                "{b:?} case {case}: every message kept once, none dropped: {keys:#?}\n{board:#}"
            );
            assert_eq!(board["outbox"]["failed"], 0, "{b:?} case {case}: {board:#}");

            let sent = smtp.received();
            assert_eq!(
                answered_good(),
                1,
                "{b:?} case {case}: the good report is answered exactly once"
            );
            // Nothing is answered twice: one answer per Message-ID at most, and no more
            // answers to an address than it sent messages.
            let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
            for m in &sent {
                if let Some(id) = header(m, "In-Reply-To") {
                    *per_id.entry(id).or_default() += 1;
                }
            }
            assert!(
                per_id.values().all(|n| *n == 1),
                "{b:?} case {case}: an answer twice: {per_id:#?}"
            );
            let mut per_address: BTreeMap<&str, usize> = BTreeMap::new();
            for from in keys.values() {
                *per_address.entry(from.as_str()).or_default() += 1;
            }
            for m in &sent {
                let to = header(m, "To").unwrap_or("");
                let to = to
                    .rsplit_once('<')
                    .map_or(to, |(_, a)| a.trim_end_matches('>'));
                assert!(
                    to.ends_with("@city.example.lg.jp"),
                    "{b:?} case {case}: a stranger was answered: {m}"
                );
                let sent_to = sent.iter().filter(|s| header(s, "To") == header(m, "To"));
                // Supervisors get notices about others' mail; a sender gets its answers.
                if let Some(n) = per_address.get(to) {
                    assert!(
                        sent_to.count() <= *n,
                        "{b:?} case {case}: {to} sent {n} messages and got more answers"
                    );
                }
            }
            no_control_characters(&format!("{b:?} case {case}"), &sent);
        }
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(run.0.id().to_string())
            .status();
        let status = run.0.wait().unwrap();
        let log = std::fs::read_to_string(&run.1).unwrap_or_default();
        assert!(status.success(), "{b:?}: exit {status}\n{log}");
        eprintln!("{b:?}: {refused_by_dovecot} generated message(s) refused by Dovecot itself");
    }
}

mod matrix {
    use super::*;
    use helpers::servers::eventually;
    use helpers::synapse::{Matrix, Synapse, python};

    /// The events the bot's thread replies in `room` answer, one entry per reply.
    fn answered(bot: &Matrix, reader: &Matrix, room: &str) -> Vec<String> {
        reader
            .messages(room)
            .into_iter()
            .filter(|e| e["sender"] == bot.user_id.as_str())
            .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.thread")
            .filter_map(|e| {
                e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }

    fn today() -> String {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive()
            .to_string()
    }

    #[test]
    fn property_hostile_matrix_messages_never_keep_the_next_report_from_its_one_answer() {
        let Some(py) = python() else { return };
        let syn = Synapse::start(py);
        for b in backends() {
            let tag = format!("_props{b:?}").to_lowercase();
            let bot = syn.register(&format!("zaitaku{tag}"));
            let yamada = syn.register(&format!("yamada{tag}"));
            let dm = yamada.create_room(&[&bot.user_id]);
            let zt = Zt::new(b);
            let cfg = zt.path("config/zaitaku.toml");
            let mut toml = std::fs::read_to_string(&cfg)
                .unwrap()
                .replace("[mail]\n", "[mail]\nretry_base_seconds = 1\n");
            toml.push_str(&format!(
                "[chat.matrix]\nhomeserver = \"{}\"\nuser = \"{}\"\naccess_token = \"{}\"\n\
                 sync_timeout_seconds = 5\n",
                syn.url(),
                bot.user_id,
                bot.token
            ));
            std::fs::write(&cfg, toml).unwrap();
            // The property is one answer per message; tests/isolation.rs tests the loop breaker.
            zt.without_loop_breaker();
            let staff = zt.staff_with_chat_ids(&[("E1001", &yamada.user_id)]);
            zt.with_staff_from(&staff);
            let mut run = zt.start_run(Some("info"));
            let log = || std::fs::read_to_string(&run.1).unwrap_or_default();
            eventually(60, "the bot joins the teleworker's room", || {
                log().contains("joined a room on invitation")
            });
            let mut runner = runner();
            let batch = proptest::collection::vec(chat_text(), 1..6);
            let mut sent = 0;
            for case in 0..6 {
                let texts = draw(&batch, &mut runner);
                let hostile: Vec<String> = texts.iter().map(|t| yamada.say(&dm, t)).collect();
                // Yamada has no order today: a start report is answered (with the no-order
                // answer) once, in its thread.
                let good = yamada.say(&dm, "本日の業務を開始します");
                sent += hostile.len() + 1;
                eventually(
                    60,
                    &format!("{b:?} case {case}: the report after {texts:?} answered"),
                    || answered(&bot, &yamada, &dm).contains(&good),
                );
                let got = answered(&bot, &yamada, &dm);
                let once = |ev: &String| got.iter().filter(|a| *a == ev).count();
                assert_eq!(
                    once(&good),
                    1,
                    "{b:?} case {case}: the good report is answered exactly once"
                );
                for (ev, text) in hostile.iter().zip(&texts) {
                    assert!(
                        once(ev) <= 1,
                        "{b:?} case {case}: {text:?} answered {} times",
                        once(ev)
                    );
                }
                let unique: BTreeSet<&String> = got.iter().collect();
                assert_eq!(unique.len(), got.len(), "{b:?} case {case}: {got:#?}");
                for e in yamada.messages(&dm) {
                    let body = e["content"]["body"].as_str().unwrap_or_default();
                    if e["sender"] == bot.user_id.as_str() {
                        assert!(
                            !body
                                .chars()
                                .any(|c| c.is_control() && !matches!(c, '\n' | '\t')),
                            "{b:?} case {case}: a control character in the bot's answer: {body:?}"
                        );
                    }
                }
                assert!(
                    run.0.try_wait().unwrap().is_none(),
                    "{b:?} case {case}: the daemon died:\n{}",
                    log()
                );
                // Each message is on the board once (Yamada has no order today: all of them
                // are unmatched), none dropped.
                let now = chrono::Utc::now().to_rfc3339();
                let out = zt.ok(&["status", "--date", &today(), "--json", "--now", &now]);
                let board: Value = serde_json::from_str(&out).unwrap();
                assert_eq!(
                    board["unmatched"].as_array().unwrap().len(),
                    sent,
                    "{b:?} case {case}: every message recorded once: {board:#}"
                );
            }
            assert!(
                !log().contains("storing messages failed"),
                "{b:?}: the intake never failed a batch:\n{}",
                log()
            );
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(run.0.id().to_string())
                .status();
            let status = run.0.wait().unwrap();
            assert!(status.success(), "{b:?}: exit {status}\n{}", log());
            no_control_characters(&format!("{b:?}"), &zt.sent());
        }
    }
}

mod slash {
    use super::*;
    use helpers::http::{Client, Response, WebServer};
    use proptest::prelude::*;
    use zaitaku::chat::slash::slack_signature;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const MM_TOKEN: &str = "mm-command-token-1234";
    /// The server's clock: 2021-01-12 17:20 JST.
    const NOW: &str = "2021-01-12T17:20:00+09:00";
    const NOW_EPOCH: i64 = 1_610_439_600;

    /// How a generated request proves where it comes from.
    #[derive(Debug, Clone)]
    enum Proof {
        /// Mattermost's token in the form (or JSON): the text reaches the intake.
        Token,
        /// Slack's signature, made with the right secret: the text reaches the intake.
        Signed,
        /// Headers a forger writes: a timestamp and a signature of any shape.
        Forged(String, String),
        None,
    }

    /// A generated request: its proof, its content type and its fields, or a body of any
    /// bytes.
    #[derive(Debug, Clone)]
    struct Request {
        proof: Proof,
        json: bool,
        user: Vec<u8>,
        text: Vec<u8>,
        trigger: Vec<u8>,
        extra: Vec<(String, Vec<u8>)>,
        /// Instead of fields: a body of these bytes (as text), with this content type.
        raw: Option<(String, String)>,
    }

    fn request() -> impl Strategy<Value = Request> {
        let proof = prop_oneof![
            4 => Just(Proof::Token),
            2 => Just(Proof::Signed),
            1 => ("[ -~]{0,20}", "[ -~]{0,70}").prop_map(|(t, s)| Proof::Forged(t, s)),
            1 => Just(Proof::None),
        ];
        let user = prop_oneof![
            Just(b"mm-yamada".to_vec()),
            Just(b"mm-sato".to_vec()),
            field_bytes(),
        ];
        (
            proof,
            any::<bool>(),
            user,
            field_bytes(),
            field_bytes(),
            proptest::collection::vec(("[a-z_]{1,12}", field_bytes()), 0..3),
            proptest::option::weighted(
                0.15,
                (
                    prop_oneof![
                        Just("application/json".to_string()),
                        Just("application/x-www-form-urlencoded".to_string()),
                        "[ -~]{0,30}",
                    ],
                    prop_oneof![
                        "(?s).{0,300}",
                        Just(format!(
                            "{{\"token\":\"{MM_TOKEN}\",\"user_id\":[1],\"text\":{{}}}}"
                        )),
                        Just(format!(
                            "{{\"token\":\"{MM_TOKEN}\",\"user_id\":null,\"text\":\"開始\"}}"
                        )),
                        Just(format!(
                            "token={MM_TOKEN}&user_id=mm-sato&text=%E9%96%8B%E5%A7%8B&text=%00"
                        )),
                    ],
                ),
            ),
        )
            .prop_map(|(proof, json, user, text, trigger, extra, raw)| Request {
                proof,
                json,
                user,
                text,
                trigger,
                extra,
                raw,
            })
    }

    fn send(c: &mut Client, r: &Request) -> Response {
        let (content_type, body) = match &r.raw {
            Some((ct, body)) => (ct.clone(), body.clone()),
            None if r.json => {
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let mut v = serde_json::json!({
                    "user_id": s(&r.user), "text": s(&r.text), "message_id": s(&r.trigger),
                });
                for (k, val) in &r.extra {
                    v[k] = s(val).into();
                }
                if matches!(r.proof, Proof::Token) {
                    v["token"] = MM_TOKEN.into();
                }
                ("application/json".to_string(), v.to_string())
            }
            None => {
                let mut fields: Vec<(&str, &[u8])> = vec![
                    ("user_id", &r.user),
                    ("command", b"/zaitaku"),
                    ("text", &r.text),
                    ("trigger_id", &r.trigger),
                ];
                if matches!(r.proof, Proof::Token) {
                    fields.insert(0, ("token", MM_TOKEN.as_bytes()));
                }
                for (k, v) in &r.extra {
                    fields.push((k, v));
                }
                (
                    "application/x-www-form-urlencoded".to_string(),
                    form_bytes(&fields),
                )
            }
        };
        c.headers = match &r.proof {
            Proof::Signed => {
                let ts = NOW_EPOCH.to_string();
                let sig = slack_signature(SECRET, &ts, body.as_bytes());
                vec![
                    ("X-Slack-Request-Timestamp".into(), ts),
                    ("X-Slack-Signature".into(), sig),
                ]
            }
            Proof::Forged(ts, sig) => vec![
                ("X-Slack-Request-Timestamp".into(), ts.clone()),
                ("X-Slack-Signature".into(), sig.clone()),
            ],
            _ => vec![],
        };
        let resp = c.send("POST", "/chat/slash", Some(&content_type), body);
        c.headers.clear();
        resp
    }

    #[test]
    fn property_hostile_slash_commands_get_a_well_formed_answer_and_the_next_one_is_answered() {
        for b in backends() {
            let zt = Zt::new(b);
            let cfg = zt.path("config/zaitaku.toml");
            let mut toml = std::fs::read_to_string(&cfg).unwrap();
            toml.push_str(&format!(
                "[chat.slash]\nsigning_secret = \"{SECRET}\"\ntoken = \"{MM_TOKEN}\"\n"
            ));
            std::fs::write(&cfg, toml).unwrap();
            // The property is one answer per message; tests/isolation.rs tests the loop breaker.
            zt.without_loop_breaker();
            let staff = zt.staff_with_chat_ids(&[("E1001", "mm-yamada"), ("E1002", "mm-sato")]);
            zt.with_staff_from(&staff).with_orders_0112();
            let web = WebServer::start_with(&zt, &["--now", NOW]);
            let mut c = web.client();
            let mut runner = runner();
            let batch = proptest::collection::vec(request(), 1..8);
            let mut taken = 0;
            for case in 0..12 {
                let requests = draw(&batch, &mut runner);
                for r in &requests {
                    let resp = send(&mut c, r);
                    assert!(
                        matches!(resp.status, 200 | 400 | 401),
                        "{b:?} case {case}: {r:?} got HTTP {}:\n{}\n{}",
                        resp.status,
                        resp.body,
                        web.log()
                    );
                    let v: Value = serde_json::from_str(&resp.body).unwrap_or_else(|e| {
                        panic!("{b:?} case {case}: {r:?}: not JSON ({e}): {}", resp.body)
                    });
                    if resp.status == 200 {
                        let text = v["text"].as_str().unwrap_or_else(|| panic!("{v}"));
                        assert!(!text.is_empty(), "{b:?} case {case}: {r:?}");
                        // What the request brought is never said back with its controls: the
                        // answer is shown in the teleworker's chat as it is.
                        assert!(
                            !text
                                .chars()
                                .any(|c| c.is_control() && !matches!(c, '\n' | '\t')),
                            "{b:?} case {case}: a control character in the answer to {r:?}: {text:?}"
                        );
                        if !text.starts_with("使い方") {
                            taken += 1;
                        }
                    }
                }
                let good = form_bytes(&[
                    ("token", MM_TOKEN.as_bytes()),
                    ("user_id", b"mm-sato"),
                    ("command", b"/zaitaku"),
                    ("text", "終了 本日の作業: 仕様書".as_bytes()),
                    ("trigger_id", format!("good-{case}").as_bytes()),
                ]);
                let r = c.send(
                    "POST",
                    "/chat/slash",
                    Some("application/x-www-form-urlencoded"),
                    good,
                );
                r.expect(200);
                taken += 1;
                let text = r.json()["text"].as_str().unwrap().to_string();
                assert!(
                    text.contains("佐藤花子 さん")
                        && text.contains("業務終了の連絡を受け付けました"),
                    "{b:?} case {case}: after {requests:?}: {text}"
                );
                // Each request taken is on the board once; the refused ones nowhere.
                let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
                assert_eq!(
                    records(&board),
                    taken,
                    "{b:?} case {case}: {requests:?}\n{board:#}"
                );
                assert!(!board.to_string().contains("\\u0000"), "{b:?}: {board}");
            }
            assert!(
                !web.log().contains("web request failed"),
                "{b:?}: {}",
                web.log()
            );
        }
    }
}
