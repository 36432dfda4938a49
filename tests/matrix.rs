//! Chat by Matrix against a real homeserver (Synapse on 127.0.0.1): a teleworker's `開始` becomes
//! a report (source `chat`) answered in its thread; strangers get no answer; the department's
//! room gets the supervisors' notices and escalation steps — each once, through a SIGKILL of
//! the bot in the middle of a burst and a restart of the homeserver.

mod helpers;

use std::collections::{BTreeSet, HashSet};
use std::process::Child;

use chrono::Utc;
use helpers::servers::eventually;
use helpers::synapse::{Matrix, Synapse, python};
use helpers::{Backend, Zt, backends, fixture};
use serde_json::Value;

struct World {
    zt: Zt,
    bot: Matrix,
    yamada: Matrix,
    stranger: Matrix,
    boss: Matrix,
    /// Yamada's direct room with the bot (the bot joins it on invitation).
    dm: String,
    stranger_dm: String,
    /// 情報管理課's room: the supervisors' notices go there.
    sup: String,
}

fn world(b: Backend, syn: &Synapse, tag: &str) -> World {
    let bot = syn.register(&format!("zaitaku{tag}"));
    let yamada = syn.register(&format!("yamada{tag}"));
    let stranger = syn.register(&format!("stranger{tag}"));
    let boss = syn.register(&format!("boss{tag}"));
    let dm = yamada.create_room(&[&bot.user_id]);
    let stranger_dm = stranger.create_room(&[&bot.user_id]);
    let sup = bot.create_room(&[&boss.user_id]);
    boss.join(&sup);
    let zt = Zt::new(b);
    let cfg = zt.path("config/zaitaku.toml");
    // A reply whose sending a SIGKILL cut off is tried again after the lease (2 s here).
    let mut toml = std::fs::read_to_string(&cfg).unwrap().replace(
        "[mail]\n",
        "[mail]\ndelivery_lease_seconds = 2\nretry_base_seconds = 1\n",
    );
    toml.push_str(&format!(
        "[chat.matrix]\nhomeserver = \"{}\"\nuser = \"{}\"\naccess_token = \"{}\"\nsync_timeout_seconds = 5\n\
         [chat.matrix.rooms]\n\"情報管理課\" = \"{sup}\"\n",
        syn.url(),
        bot.user_id,
        bot.token
    ));
    std::fs::write(&cfg, toml).unwrap();
    let staff = zt.staff_with_chat_ids(&[("E1001", &yamada.user_id), ("E2001", &boss.user_id)]);
    zt.with_staff_from(&staff);
    World {
        zt,
        bot,
        yamada,
        stranger,
        boss,
        dm,
        stranger_dm,
        sup,
    }
}

fn start(zt: &Zt) -> (Child, std::path::PathBuf) {
    zt.start_run(Some("info"))
}

fn log_of(run: &(Child, std::path::PathBuf)) -> String {
    std::fs::read_to_string(&run.1).unwrap_or_default()
}

fn stop(mut run: (Child, std::path::PathBuf)) -> String {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(run.0.id().to_string())
        .status();
    let status = run.0.wait().unwrap();
    let log = log_of(&run);
    assert!(
        status.success(),
        "zaitaku run should exit 0 after SIGTERM, got {status}\n{log}"
    );
    log
}

/// The bot's messages in a room.
fn from_bot(w: &World, room: &str, reader: &Matrix) -> Vec<Value> {
    reader
        .messages(room)
        .into_iter()
        .filter(|e| e["sender"] == w.bot.user_id.as_str())
        .collect()
}

/// The events the bot's thread replies answer.
fn answered(replies: &[Value]) -> Vec<String> {
    replies
        .iter()
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.thread")
        .map(|e| {
            e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The text of the bot's answer, in its thread, to Yamada's message `event` in the direct
/// room (waited for).
fn answer_in_dm(w: &World, event: &str) -> String {
    eventually(60, "the answer in the message's thread", || {
        answered(&from_bot(w, &w.dm, &w.yamada))
            .iter()
            .any(|e| e == event)
    });
    from_bot(w, &w.dm, &w.yamada)
        .into_iter()
        .find(|e| e["content"]["m.relates_to"]["event_id"] == event)
        .and_then(|e| e["content"]["body"].as_str().map(str::to_string))
        .unwrap()
}

fn today() -> String {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive()
        .to_string()
}

fn unmatched(zt: &Zt) -> Vec<Value> {
    let now = Utc::now().to_rfc3339();
    let out = zt.ok(&["status", "--date", &today(), "--json", "--now", &now]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["unmatched"].as_array().unwrap().clone()
}

#[test]
fn a_teleworkers_message_is_a_report_answered_in_its_thread_and_strangers_get_nothing() {
    let Some(py) = python() else { return };
    let syn = Synapse::start(py);
    for b in backends() {
        let w = world(b, &syn, &format!("_{b:?}").to_lowercase());
        let run = start(&w.zt);
        let odd = w.stranger.say(&w.stranger_dm, "開始します");
        // Yamada's room: the bot joins it when it sees the invitation.
        eventually(60, "the bot joins the teleworker's room", || {
            log_of(&run).contains("joined a room on invitation")
        });
        let ev = w.yamada.say(&w.dm, "本日の業務を開始します");
        eventually(60, "the answer in the thread", || {
            answered(&from_bot(&w, &w.dm, &w.yamada)).contains(&ev)
        });
        let replies = from_bot(&w, &w.dm, &w.yamada);
        assert_eq!(replies.len(), 1, "{b:?}: {replies:#?}");
        let reply = &replies[0]["content"];
        assert_eq!(
            reply["m.relates_to"]["event_id"],
            ev.as_str(),
            "thread root"
        );
        let text = reply["body"].as_str().unwrap();
        // No order today: the teleworker is told, and so are the supervisors, in their room.
        assert!(text.contains("山田太郎 さん"), "{text}");
        assert!(
            text.contains("在宅勤務命令が見つかりませんでした"),
            "{text}"
        );
        assert!(text.contains("自動応答"), "{text}");
        eventually(30, "the notice in the supervisors' room", || {
            !from_bot(&w, &w.sup, &w.boss).is_empty()
        });
        let notices = from_bot(&w, &w.sup, &w.boss);
        assert_eq!(notices.len(), 1, "{notices:#?}");
        let notice = notices[0]["content"]["body"].as_str().unwrap();
        assert!(notice.contains("【要確認】山田太郎"), "{notice}");

        // The stranger's message is recorded, never answered.
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert!(from_bot(&w, &w.stranger_dm, &w.stranger).is_empty());
        let um = unmatched(&w.zt);
        let stranger = um
            .iter()
            .find(|u| u["from"] == w.stranger.user_id.as_str())
            .unwrap_or_else(|| panic!("{um:#?}"));
        assert_eq!(stranger["reason"], "unknown_sender");
        let mine = um
            .iter()
            .find(|u| u["from"] == "yamada@city.example.lg.jp")
            .unwrap_or_else(|| panic!("{um:#?}"));
        assert_eq!(
            (&mine["reason"], &mine["kind"]),
            (&"no_order".into(), &"start".into())
        );
        let _ = odd;

        // Something that is neither a start nor an end, on a day without an order: recorded,
        // and not answered (SPEC §4: only a report gets the no-order answer; the question
        // itself is tested by tests/slash.rs, where the day has an order).
        let unclear = w.yamada.say(&w.dm, "おはようございます");

        // An encrypted message cannot be read: it is kept (shown as unusable) and the sender
        // is told to write without encryption, in its thread.
        let sealed = w.yamada.say_encrypted(&w.dm);
        let text = answer_in_dm(&w, &sealed);
        assert!(text.contains("暗号化されているため"), "{text}");
        // Taken in order: by now the unclear message was decided, and it has no answer.
        assert!(
            !answered(&from_bot(&w, &w.dm, &w.yamada)).contains(&unclear),
            "{b:?}: a day-less message that is no report is not answered"
        );
        assert!(
            unmatched(&w.zt)
                .iter()
                .any(|u| u["reason"] == "unclassified" && u["from"] == "yamada@city.example.lg.jp"),
            "{b:?}: but it is recorded"
        );
        let um = unmatched(&w.zt);
        assert!(
            um.iter()
                .any(|u| u["reason"] == "unparseable" && u["from"] == w.yamada.user_id.as_str()),
            "{um:#?}"
        );

        // A restart reads on from where it was: nothing answered twice.
        stop(run);
        let run = start(&w.zt);
        eventually(30, "connected again", || {
            log_of(&run).contains("matrix connected")
        });
        std::thread::sleep(std::time::Duration::from_secs(3));
        assert_eq!(from_bot(&w, &w.dm, &w.yamada).len(), 2);
        assert_eq!(
            from_bot(&w, &w.sup, &w.boss).len(),
            1,
            "a notice for the day-less report, none for the greeting"
        );
        assert_eq!(unmatched(&w.zt).len(), 4);
        stop(run);
    }
}

#[test]
fn a_burst_survives_a_sigkill_of_the_bot_and_a_restart_of_the_homeserver() {
    let Some(py) = python() else { return };
    let mut syn = Synapse::start(py);
    let w = world(Backend::Sqlite, &syn, "_burst");
    let mut run = start(&w.zt);
    eventually(60, "the bot joins the teleworker's room", || {
        log_of(&run).contains("joined a room on invitation")
    });
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(w.yamada.say(&w.dm, &format!("開始 {i}")));
    }
    eventually(60, "some answers", || {
        !from_bot(&w, &w.dm, &w.yamada).is_empty()
    });
    let _ = run.0.kill();
    let _ = run.0.wait();
    for i in 20..40 {
        sent.push(w.yamada.say(&w.dm, &format!("開始 {i}")));
    }
    let run = start(&w.zt);
    eventually(120, "every message answered", || {
        answered(&from_bot(&w, &w.dm, &w.yamada)).len() >= sent.len()
    });
    // The homeserver goes away and comes back while the bot runs.
    syn.stop();
    std::thread::sleep(std::time::Duration::from_secs(2));
    syn.restart();
    let last = w.yamada.say(&w.dm, "本日の業務を終了します");
    sent.push(last.clone());
    eventually(
        120,
        "the message after the homeserver's restart answered",
        || answered(&from_bot(&w, &w.dm, &w.yamada)).contains(&last),
    );
    // The last report's notice to the supervisor may wait for a retry (the homeserver has just
    // come back); then time for a second copy of any, were one coming.
    eventually(60, "a notice per report at the supervisor", || {
        from_bot(&w, &w.sup, &w.boss).len() >= sent.len()
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = stop(run);
    assert!(log.contains("matrix disconnected"), "{log}");

    let got = answered(&from_bot(&w, &w.dm, &w.yamada));
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), sent.len(), "one answer each, none twice");
    assert_eq!(unique, sent.iter().collect::<HashSet<_>>());
    assert_eq!(
        from_bot(&w, &w.sup, &w.boss).len(),
        sent.len(),
        "a notice per report without an order, once each"
    );
    let um = unmatched(&w.zt);
    let kinds: BTreeSet<String> = um
        .iter()
        .map(|u| u["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(um.len(), 41, "every message recorded once");
    assert_eq!(kinds, ["end".to_string(), "start".to_string()].into());
}

#[test]
fn an_escalation_step_and_the_digest_reach_the_department_room_once() {
    let Some(py) = python() else { return };
    let syn = Synapse::start(py);
    let w = world(Backend::Sqlite, &syn, "_esc");
    let zt = &w.zt;
    zt.with_orders_0112();
    zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    for t in ["09:00:00", "09:00:30", "10:00:00", "10:01:00", "10:01:00"] {
        zt.ok(&["tick", "--now", &format!("2021-01-12T{t}+09:00")]);
    }
    let posts = from_bot(&w, &w.sup, &w.boss);
    let texts: Vec<&str> = posts
        .iter()
        .map(|p| p["content"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts[0].contains("【督促 第2段階】佐藤花子"),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("在宅勤務状況") && texts[1].contains("山田太郎"),
        "{}",
        texts[1]
    );
    let b = zt.status_json("2021-01-12", "2021-01-12T10:01:00+09:00");
    assert_eq!(b["outbox"]["failed"], 0, "{b}");

    // The supervisor answers the step in its thread: 確認済 resolves the chain, as by mail.
    let step = posts[0]["event_id"].as_str().unwrap();
    w.boss.say_in_thread(&w.sup, step, "確認済です");
    let run = start(zt);
    let resolved = || {
        let b = zt.status_json("2021-01-12", "2021-01-12T10:01:00+09:00");
        let sato = b["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .cloned()
            .unwrap();
        sato["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["step"] == 2 && e["status"] == "resolved_reply")
    };
    eventually(
        60,
        "the escalation resolved by the answer in chat",
        resolved,
    );
    let log = stop(run);
    assert!(log.contains("escalation resolved by reply"), "{log}");
    // The audit trail (issue 18): one entry, the bot's doing on the supervisor's chat message.
    let out = zt.ok(&["audit", "list", "--entity", "escalation", "--json"]);
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(entries.len(), 1, "{out}");
    assert_eq!(entries[0]["actor"], format!("chat:{}", w.boss.user_id));
    assert_eq!(entries[0]["via"], "daemon");
    assert_eq!(entries[0]["entity_id"], "E1002:2021-01-12:missing_start");
    assert_eq!(entries[0]["after"]["resolution"], "reply");
    assert_eq!(entries[0]["after"]["resolved_by"], "E2001");
    // Nothing is said back in the room: a resolution is not answered.
    assert_eq!(from_bot(&w, &w.sup, &w.boss).len(), 2);
}

/// Issue 15, item 5 for Matrix: the bot's messages carry an escaped HTML `formatted_body`
/// (`format: org.matrix.custom.html`) beside the plain `body`, so markup in staff text (here an
/// order's content) shows as written in clients that render HTML. Before, the content had no
/// `formatted_body` at all.
#[test]
fn the_department_rooms_messages_carry_an_escaped_html_body() {
    let Some(py) = python() else { return };
    let syn = Synapse::start(py);
    let w = world(Backend::Sqlite, &syn, "_html");
    let zt = &w.zt;
    let content = r#"<a href="https://evil.example">職員ポータル</a> & 'x'"#;
    let p = zt.write(
        "orders.csv",
        &format!(
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,\"{}\",E2001,\nE1002,2021-01-12,,,仕様書作成,E2001,\n",
            content.replace('"', "\"\"")
        ),
    );
    zt.ok(&["orders", "import", p.to_str().unwrap()]);
    zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    for t in ["09:00:00", "09:00:30", "10:00:00", "10:01:00"] {
        zt.ok(&["tick", "--now", &format!("2021-01-12T{t}+09:00")]);
    }
    let posts = from_bot(&w, &w.sup, &w.boss);
    assert!(!posts.is_empty());
    for p in &posts {
        let c = &p["content"];
        assert_eq!(c["format"], "org.matrix.custom.html", "{c}");
        let html = c["formatted_body"].as_str().unwrap();
        assert!(!html.contains("<a ") && !html.contains('\n'), "{html}");
    }
    let digest = posts
        .iter()
        .map(|p| &p["content"])
        .find(|c| c["body"].as_str().unwrap().contains("在宅勤務状況"))
        .expect("the digest");
    assert!(
        digest["body"].as_str().unwrap().contains(content),
        "{digest}"
    );
    let html = digest["formatted_body"].as_str().unwrap();
    assert!(
        html.contains("&lt;a href=&quot;https://evil.example&quot;&gt;職員ポータル&lt;/a&gt; &amp; &#39;x&#39;")
            && html.contains("<br>"),
        "{html}"
    );
}

#[test]
fn a_message_with_a_nul_is_kept_and_the_next_message_is_still_answered() {
    let Some(py) = python() else { return };
    let syn = Synapse::start(py);
    for b in backends() {
        let w = world(b, &syn, &format!("_nul{b:?}").to_lowercase());
        let run = start(&w.zt);
        eventually(60, "the bot joins the teleworker's room", || {
            log_of(&run).contains("joined a room on invitation")
        });
        // PostgreSQL refuses NUL in text: once, this held up every later message.
        let bad = w.yamada.say(&w.dm, "終了 x\u{0}");
        let good = w.yamada.say(&w.dm, "本日の業務を開始します");
        eventually(60, "both messages answered in their threads", || {
            let a = answered(&from_bot(&w, &w.dm, &w.yamada));
            a.contains(&bad) && a.contains(&good)
        });
        stop(run);
        let kinds: Vec<String> = {
            let now = Utc::now().to_rfc3339();
            let out =
                w.zt.ok(&["status", "--date", &today(), "--json", "--now", &now]);
            let v: Value = serde_json::from_str(&out).unwrap();
            v["unmatched"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["kind"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert!(kinds.contains(&"end".to_string()), "{b:?}: {kinds:?}");
        assert!(kinds.contains(&"start".to_string()), "{b:?}: {kinds:?}");
    }
}
