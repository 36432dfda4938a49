//! The web register in a real browser: headless Debian Chromium driven through chromedriver
//! (the W3C WebDriver protocol, spoken with the tests' small HTTP client: no new dependency).
//! What only a browser shows: the login form and the cookie working together, the board
//! refreshing itself without a reload (the page's script under its Content-Security-Policy)
//! and saying so to a screen reader, a stamp given with a click, a rule violation shown next to
//! the field.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without chromedriver on
//! the PATH, or with ZAITAKU_TEST_BROWSER=skip, the test says so and passes.

mod helpers;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helpers::http::{Client, WebServer};
use helpers::{Backend, Zt};
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn chromedriver() -> Option<String> {
    if std::env::var("ZAITAKU_TEST_BROWSER").is_ok_and(|v| v == "skip") {
        return None;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromedriver"))
            .find(|p| p.is_file())
    });
    found.map(|p| p.display().to_string())
}

/// chromedriver on a free port, and one headless Chromium session.
struct Browser {
    _driver: Driver,
    wd: Client,
    session: String,
}

/// chromedriver, stopped when dropped (even when the session never started).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Browser {
    fn start(bin: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver(driver);
        let mut wd = Client::new(&format!("127.0.0.1:{port}"));
        let t = Instant::now();
        while std::net::TcpStream::connect(&wd.addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("chromium");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--lang=ja", "--window-size=1280,1000"]
            }
        }}});
        let r = wd.json("POST", "/session", &caps);
        r.expect(200);
        let session = r.json()["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Browser {
            _driver: driver,
            wd,
            session,
        }
    }

    fn cmd(&mut self, method: &str, what: &str, body: Value) -> Value {
        let path = format!("/session/{}{what}", self.session);
        let r = self.wd.json(method, &path, &body);
        assert_eq!(r.status, 200, "WebDriver {method} {what}: {}", r.body);
        r.json()["value"].clone()
    }

    fn go(&mut self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url }));
    }

    fn url(&mut self) -> String {
        self.cmd("GET", "/url", json!({}))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn run(&mut self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    fn find(&mut self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            json!({ "using": "css selector", "value": css }),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&mut self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        );
    }

    fn click(&mut self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), json!({}));
    }

    fn text(&mut self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), json!({}))
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The element's text, or None while the page has no such element (still loading).
    fn try_text(&mut self, css: &str) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let r = self.wd.json(
            "POST",
            &path,
            &json!({ "using": "css selector", "value": css }),
        );
        let e = r.json()["value"][ELEMENT].as_str()?.to_string();
        let path = format!("/session/{}/element/{e}/text", self.session);
        let r = self.wd.json("GET", &path, &json!({}));
        r.json()["value"].as_str().map(str::to_string)
    }

    /// Waits until the page's URL ends with `suffix` (a click that submits a form returns
    /// before the next page is there).
    fn wait_url(&mut self, suffix: &str) {
        let t = Instant::now();
        loop {
            let url = self.url();
            if url.ends_with(suffix) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "never reached …{suffix}; at {url}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element's text contains `want`, or fails after `limit`.
    fn wait_text(&mut self, css: &str, want: &str, limit: Duration) -> String {
        let t = Instant::now();
        loop {
            let text = self.try_text(css).unwrap_or_default();
            if text.contains(want) {
                return text;
            }
            assert!(
                t.elapsed() < limit,
                "{css} never showed {want:?}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        // Closes Chromium; chromedriver itself stops when `driver` is dropped after this.
        let _ = self.wd.send("DELETE", &path, None, String::new());
    }
}

#[test]
fn a_supervisor_logs_in_watches_the_board_refresh_and_stamps_a_request() {
    let Some(driver) = chromedriver() else {
        eprintln!("chromedriver not found (or ZAITAKU_TEST_BROWSER=skip): browser test not run");
        return;
    };
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff().with_orders_0112();
    for e in ["E1001", "E2001"] {
        zt.run_stdin(
            &["users", "set-password", "--employee", e],
            format!("{PW}\n").as_bytes(),
        )
        .expect_code(0);
    }
    // The board template, edited the way a city would edit it: refresh every second, not 30.
    let templates = zt.path("templates/web");
    std::fs::create_dir_all(&templates).unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/web/board.html"
    ))
    .unwrap();
    assert!(shipped.contains("data-interval=\"30\""));
    std::fs::write(
        templates.join("board.html"),
        shipped.replace("data-interval=\"30\"", "data-interval=\"1\""),
    )
    .unwrap();
    let cfg = zt.path("config/zaitaku.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("templates = \"{}\"\n{text}", zt.path("templates").display()),
    )
    .unwrap();
    let web = WebServer::start(&zt);
    let base = format!("http://{}", web.addr);

    let mut b = Browser::start(&driver);
    // Not signed in: the board sends the browser to the login form.
    b.go(&format!("{base}/board?date=2021-01-12"));
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.type_into("input[name=login]", "E2001");
    b.type_into("input[name=password]", "wrong password");
    b.click("form.card button");
    b.wait_text(
        "#login-error",
        "パスワードが違います",
        Duration::from_secs(10),
    );
    b.type_into("input[name=password]", PW);
    b.click("form.card button");
    b.wait_url("/board");
    // The session cookie is HttpOnly: the page's scripts cannot read it.
    assert_eq!(b.run("return document.cookie;"), json!(""));

    b.go(&format!("{base}/board?date=2021-01-12"));
    let board = b.text("#board");
    assert!(
        board.contains("山田太郎") && board.contains("佐藤花子"),
        "{board}"
    );
    // A phone contact recorded elsewhere (the command line) appears without a reload, is
    // announced to a screen reader through the live region, and the focus stays where it was
    // (here: in the date field someone is about to change).
    b.run(
        "window.zaitakuMarker = 'same page';
         document.querySelector('form.filters input[name=date]').focus();
         return null;",
    );
    assert_eq!(
        b.text("#board-live"),
        "",
        "nothing announced before a change"
    );
    zt.ok(&[
        "contact",
        "--employee",
        "E1001",
        "--date",
        "2021-01-12",
        "--kind",
        "start",
        "--at",
        "08:40",
        "--by",
        "E2001",
    ]);
    let board = b.wait_text("#tw-E1001", "08:40", Duration::from_secs(15));
    assert!(board.contains("（電話）"), "{board}");
    assert_eq!(
        b.run("return window.zaitakuMarker;"),
        json!("same page"),
        "refreshed in place, not reloaded"
    );
    let said = b.wait_text("#board-live", "更新しました", Duration::from_secs(5));
    assert_eq!(said, "更新しました: 2 名中 未着 2 名・遅れ 0 名");
    assert_eq!(
        b.run("return document.activeElement.name;"),
        json!("date"),
        "the refresh must not move the focus"
    );
    assert_eq!(
        b.run("return document.getElementById('board-live').getAttribute('aria-live');"),
        json!("polite")
    );

    // A teleworker's request, stamped with a click.
    let mut tw = web.client();
    tw.login("E1001", PW).expect(303);
    let csrf = tw.session_csrf();
    tw.post(
        "/requests",
        &[
            ("csrf", &csrf),
            ("date", "2021-01-13"),
            ("content", "議事録作成"),
        ],
    )
    .expect(303);
    b.go(&format!("{base}/orders?date=2021-01-13"));
    assert!(b.text("#drafts").contains("議事録作成"));
    assert!(b.text("#orders").is_empty() || !b.text("#orders").contains("承認"));
    b.click("#drafts button.stamp");
    let orders = b.wait_text("#orders", "承認", Duration::from_secs(5));
    assert!(orders.contains("鈴木一郎"), "{orders}");

    // A rule violation: shown next to the date, in Japanese; nothing saved.
    b.run(
        "const f = document.getElementById('create');
         f.querySelector('[name=employee_id]').value = 'E1002';
         f.querySelector('[name=date]').value = '2021-02-11';
         f.querySelector('[name=content]').value = '文書作成';
         return null;",
    );
    b.click("#create button.stamp");
    let error = b.wait_text("#error-date", "は", Duration::from_secs(10));
    assert_eq!(error, "2021-02-11 は建国記念の日です");
    let board = zt.status_json("2021-02-11", "2021-02-11T12:00:00+09:00");
    assert!(board["teleworkers"].as_array().unwrap().is_empty());

    // Logout.
    b.click("header form button");
    b.wait_url("/login");
    b.go(&format!("{base}/orders"));
    assert!(b.url().ends_with("/login"), "{}", b.url());
}
