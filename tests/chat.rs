//! Chat rooms by incoming webhook (Slack, Mattermost, Rocket.Chat): the supervisors' escalation
//! steps, digests and at-once notices are posted to the department's webhook through the outbox
//! — once, and still once after the receiver was down for a while.

mod helpers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use helpers::servers::free_port;
use helpers::{Backend, Zt, backends, fixture};

/// A real HTTP server on 127.0.0.1 that records each POSTed body and answers 200.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, bodies: Arc<Mutex<Vec<String>>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies, stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                b.lock().unwrap().push(String::from_utf8(body).unwrap());
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Receiver {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn world(b: Backend, port: u16) -> Zt {
    let zt = bare_world(b, port);
    zt.with_orders_0112();
    zt
}

/// The staff of `with_staff`, the webhook of 情報管理課 on `port`, no orders yet.
fn bare_world(b: Backend, port: u16) -> Zt {
    let zt = Zt::new(b);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        format!(
            "database = \"{}\"\n[mail]\ntransport = \"file:{}\"\nretry_base_seconds = 1\n\
             [chat.webhook]\n\"情報管理課\" = \"http://127.0.0.1:{port}/hooks/joho\"\n",
            zt.db,
            zt.path("sent").display()
        ),
    )
    .unwrap();
    zt.with_staff();
    zt
}

#[test]
fn the_supervisors_step_and_the_digest_reach_the_department_room_once() {
    for b in backends() {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let port = free_port();
        let _rx = Receiver::start(port, bodies.clone());
        let zt = world(b, port);
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T09:00:30+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T10:00:00+09:00"]);
        zt.ok(&["tick", "--now", "2021-01-12T10:01:00+09:00"]);
        let got = bodies.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "{b:?}: {got:#?}");
        let step: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
        assert!(
            step["text"]
                .as_str()
                .unwrap()
                .contains("【督促 第2段階】佐藤花子"),
            "{step}"
        );
        let digest: serde_json::Value = serde_json::from_str(&got[1]).unwrap();
        assert!(
            digest["text"].as_str().unwrap().contains("在宅勤務状況"),
            "{digest}"
        );
        assert!(
            digest["text"].as_str().unwrap().contains("山田太郎"),
            "{digest}"
        );
    }
}

/// Issue 15, item 5: order content (and subjects, work summaries) went into the payload raw, so
/// `<!channel>` pinged the whole room and `<https://evil.example|職員ポータル>` showed supervisors
/// a link under the portal's name. Slack's escaping (`&amp;`, `&lt;`, `&gt;`) makes them text.
#[test]
fn mentions_and_disguised_links_in_staff_text_reach_the_room_as_text() {
    for b in backends() {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let port = free_port();
        let _rx = Receiver::start(port, bodies.clone());
        let zt = bare_world(b, port);
        let p = zt.write(
            "orders.csv",
            "employee_id,date,start,end,content,approved_by,shifted\n\
             E1001,2021-01-12,,,<!channel> <https://evil.example|職員ポータル> & 手順書,E2001,\n\
             E1002,2021-01-12,,,仕様書作成 <!here>,E2001,\n",
        );
        zt.ok(&["orders", "import", p.to_str().unwrap()]);
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        for now in [
            "2021-01-12T09:00:00+09:00",
            "2021-01-12T09:00:30+09:00",
            "2021-01-12T10:00:00+09:00",
            "2021-01-12T10:01:00+09:00",
        ] {
            zt.ok(&["tick", "--now", now]);
        }
        let got = bodies.lock().unwrap().clone();
        assert!(!got.is_empty(), "{b:?}");
        for body in &got {
            for raw in ["<!channel>", "<!here>", "<https://", "& "] {
                assert!(!body.contains(raw), "{b:?}: {raw} posted raw in {body}");
            }
        }
        let texts: Vec<String> = got
            .iter()
            .map(|x| {
                let v: serde_json::Value = serde_json::from_str(x).unwrap();
                v["text"].as_str().unwrap().to_string()
            })
            .collect();
        let digest = texts
            .iter()
            .find(|t| t.contains("在宅勤務状況"))
            .unwrap_or_else(|| panic!("{b:?}: no digest in {texts:#?}"));
        assert!(
            digest.contains(
                "&lt;!channel&gt; &lt;https://evil.example|職員ポータル&gt; &amp; 手順書"
            ) && digest.contains("仕様書作成 &lt;!here&gt;"),
            "{b:?}: {digest}"
        );
        // The board shows what staff wrote, unescaped: escaping belongs to the payload alone.
        let board = zt.status_json("2021-01-12", "2021-01-12T10:01:00+09:00");
        assert!(
            board
                .to_string()
                .contains("<!channel> <https://evil.example|職員ポータル> & 手順書"),
            "{board}"
        );
    }
}

#[test]
fn a_receiver_that_was_down_gets_the_message_once_when_it_returns() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let port = free_port();
    let zt = world(Backend::Sqlite, port);
    zt.ok(&[
        "ingest",
        fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
    ]);
    let out = zt.ok(&["tick", "--now", "2021-01-12T09:00:00+09:00"]);
    assert!(out.contains("1 to retry"), "nobody listening: {out}");
    let b = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
    assert_eq!(b["outbox"]["queued"], 1, "{b}");
    let _rx = Receiver::start(port, bodies.clone());
    zt.ok(&["tick", "--now", "2021-01-12T09:05:00+09:00"]);
    zt.ok(&["tick", "--now", "2021-01-12T09:10:00+09:00"]);
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[test]
fn a_webhook_for_an_unknown_department_is_refused_in_one_line() {
    let zt = Zt::new(Backend::Sqlite);
    std::fs::write(
        zt.path("config/zaitaku.toml"),
        "[chat.webhook]\n\"宇宙課\" = \"https://hooks.example/x\"\n",
    )
    .unwrap();
    zt.run(&["init"])
        .expect_bad_input(&["chat.webhook", "宇宙課"]);
}

#[test]
fn matrix_settings_that_cannot_work_are_refused_in_one_line() {
    for (toml, fragments) in [
        (
            "[chat.matrix]\nhomeserver = \"matrix.city.example\"\nuser = \"@bot:city.example\"\naccess_token = \"t\"\n",
            &["chat.matrix.homeserver", "https://"][..],
        ),
        (
            "[chat.matrix]\nhomeserver = \"https://m.city.example\"\nuser = \"bot\"\naccess_token = \"t\"\n",
            &["chat.matrix.user", "@zaitaku:"][..],
        ),
        (
            "[chat.matrix]\nhomeserver = \"https://m.city.example\"\nuser = \"@bot:city.example\"\n",
            &["chat.matrix.access_token", "password"][..],
        ),
        (
            "[chat.matrix]\nhomeserver = \"https://m.city.example\"\nuser = \"@bot:city.example\"\naccess_token = \"t\"\n\
             [chat.matrix.rooms]\n\"情報管理課\" = \"#joho:city.example\"\n",
            &["chat.matrix.rooms.情報管理課", "room ID"][..],
        ),
        (
            "[chat.matrix]\nhomeserver = \"https://m.city.example\"\nuser = \"@bot:city.example\"\naccess_token = \"t\"\nsync_timeout = 5\n",
            &["sync_timeout"][..],
        ),
    ] {
        let zt = Zt::new(Backend::Sqlite);
        std::fs::write(zt.path("config/zaitaku.toml"), toml).unwrap();
        zt.run(&["init"]).expect_bad_input(fragments);
    }
}
