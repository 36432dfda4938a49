//! The web register and board over HTTP, against the real `zaitaku web` on 127.0.0.1 and on
//! SQLite and PostgreSQL: logins, the session cookie, CSRF, each role's boundary (403 and a log
//! line whatever id is tampered with), the digital stamp, rule violations shown in Japanese,
//! `/api/status` against `status --json`, `/healthz` and `/metrics`.

mod helpers;

use helpers::http::{Client, Response, WebServer};
use helpers::{Backend, Zt, backends, fixture};

const PW: &str = "correct horse battery";

/// The register of `with_staff`, with web passwords for everyone who logs in below.
fn register(b: Backend) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff();
    for e in [
        "E1001", "E1002", "E1003", "E2001", "E2002", "E3001", "E9001",
    ] {
        let r = zt.run_stdin(
            &["users", "set-password", "--employee", e],
            format!("{PW}\n").as_bytes(),
        );
        r.expect_code(0);
    }
    zt
}

fn logged_in(web: &WebServer, who: &str) -> Client {
    let mut c = web.client();
    let r = c.login(who, PW);
    r.expect(303);
    assert_eq!(r.header("location"), Some("/"), "{r:?}");
    c
}

/// The number after `prefix` in the page (`draft-12` → 12).
fn id_after(body: &str, prefix: &str) -> String {
    let at = body
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} not in the page:\n{body}"));
    body[at + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

fn today_tokyo() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d")
        .to_string()
}

#[test]
fn users_set_password_refuses_short_passwords_and_unknown_employees() {
    let zt = Zt::new(Backend::Sqlite);
    zt.with_staff();
    zt.run_stdin(
        &["users", "set-password", "--employee", "E1001"],
        b"short\n",
    )
    .expect_bad_input(&["password", "at least 8"]);
    zt.run_stdin(&["users", "set-password", "--employee", "E1001"], b"")
        .expect_bad_input(&["password"]);
    zt.run_stdin(
        &["users", "set-password", "--employee", "E7777"],
        b"long enough pw\n",
    )
    .expect_bad_input(&["--employee", "E7777"]);
    let out = zt.run_stdin(
        &["users", "set-password", "--employee", "E1001"],
        b"long enough pw\n",
    );
    out.expect_code(0);
    assert!(
        out.stdout.contains("password set for E1001"),
        "{}",
        out.stdout
    );
    zt.run(&["tokens", "create", "--employee", "E7777"])
        .expect_bad_input(&["--employee"]);
    let token = zt.ok(&[
        "tokens",
        "create",
        "--employee",
        "E9001",
        "--label",
        "monitoring",
    ]);
    assert!(
        token.trim().starts_with("zt_") && token.trim().len() == 67,
        "{token}"
    );
}

#[test]
fn login_sets_an_http_only_strict_cookie_and_wrong_passwords_are_slowed_down() {
    for b in backends() {
        let zt = register(b);
        let web = WebServer::start(&zt);
        let mut c = web.client();
        // Not signed in: pages send the browser to the login page.
        let r = c.get("/board");
        r.expect(303);
        assert_eq!(r.header("location"), Some("/login"));
        let page = c.get("/login");
        page.expect(200);
        let login_cookie = page.set_cookie("zaitaku_login").unwrap();
        assert!(
            login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"),
            "{login_cookie}"
        );
        assert!(page.body.contains("ログイン"));
        // The login form carries a CSRF token too.
        c.post(
            "/login",
            &[("login", "E2001"), ("password", PW), ("csrf", "forged")],
        )
        .expect(403);

        // Three wrong passwords are answered at once; then the account waits before any attempt
        // is heard, even with the right password.
        for _ in 0..3 {
            let r = c.login("E2001", "wrong password");
            r.expect(401);
            assert!(r.body.contains("パスワードが違います"), "{}", r.body);
            assert!(r.set_cookie("zaitaku_session").is_none());
        }
        let r = c.login("E2001", PW);
        r.expect(429);
        assert!(r.header("retry-after").is_some(), "{r:?}");
        assert!(r.body.contains("秒後にもう一度"), "{}", r.body);
        // Its other name (the e-mail address) is the same account: slowed down too.
        c.login("suzuki@city.example.lg.jp", PW).expect(429);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let r = c.login("E2001", PW);
        r.expect(303);
        let session = r.set_cookie("zaitaku_session").unwrap();
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(session.contains(flag), "{flag} missing: {session}");
        }
        let board = c.get("/board");
        board.expect(200);
        assert!(
            board.body.contains("鈴木一郎"),
            "the page names who is signed in"
        );

        // Login by e-mail address works as well.
        logged_in(&web, "yamada@city.example.lg.jp");

        // Logout needs the CSRF token, and ends the session.
        c.post("/logout", &[]).expect(403);
        let csrf = c.session_csrf();
        c.post("/logout", &[("csrf", &csrf)]).expect(303);
        c.get("/board").expect(303);
        let log = web.log();
        assert!(log.contains("login failed"), "{log}");
        assert!(
            !log.contains(PW) && !log.contains("wrong password"),
            "passwords never reach the log:\n{log}"
        );
    }
}

#[test]
fn every_form_needs_the_sessions_csrf_token() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        let web = WebServer::start(&zt);
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-12");
        let order = id_after(&page.body, "id=\"order-");
        let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                "/orders".into(),
                vec![
                    ("employee_id", "E1002"),
                    ("date", "2021-01-13"),
                    ("content", "x"),
                ],
            ),
            (format!("/orders/{order}"), vec![("content", "changed")]),
            (format!("/orders/{order}/cancel"), vec![]),
            (
                "/contact".into(),
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("kind", "start"),
                    ("at", "08:40"),
                ],
            ),
            (
                "/requests".into(),
                vec![("date", "2021-01-14"), ("content", "x")],
            ),
            ("/logout".into(), vec![]),
        ];
        for (path, fields) in &forms {
            sup.post(path, fields).expect(403);
            let mut wrong = fields.clone();
            wrong.push(("csrf", "0000"));
            sup.post(path, &wrong).expect(403);
        }
        // Nothing changed: the orders stand, no contact, no new order, still signed in.
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        assert_eq!(board["teleworkers"].as_array().unwrap().len(), 2, "{board}");
        assert_eq!(
            board["teleworkers"][0]["start"]["source"],
            serde_json::Value::Null
        );
        assert_eq!(board["teleworkers"][0]["content"], "手順書作成");
        assert!(
            zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00")["teleworkers"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        sup.get("/board").expect(200);
        assert!(web.log().contains("csrf token missing or wrong"));
    }
}

#[test]
fn a_teleworkers_request_is_stamped_by_the_departments_supervisor() {
    for b in backends() {
        let zt = register(b);
        let web = WebServer::start(&zt);
        let mut tw = logged_in(&web, "E1001");
        assert_eq!(tw.get("/").header("location"), Some("/my"));
        let csrf = tw.session_csrf();
        let r = tw.post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("date", "2021-01-13"),
                ("start", ""),
                ("end", ""),
                ("content", "議事録作成"),
                ("leave", ""),
            ],
        );
        r.expect(303);
        let my = tw.get("/my?date=2021-01-13");
        assert!(
            my.body.contains("議事録作成") && my.body.contains("申請中"),
            "{}",
            my.body
        );
        // A draft is not an order: not on the board, not chased.
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert!(
            board["teleworkers"].as_array().unwrap().is_empty(),
            "{board}"
        );

        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-13");
        page.expect(200);
        assert!(
            page.body.contains("承認待ちの申請（1 件）"),
            "{}",
            page.body
        );
        let id = id_after(&page.body, "id=\"draft-");
        let csrf = page.csrf();
        sup.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["employee_id"], "E1001", "{board}");
        assert_eq!(board["teleworkers"][0]["content"], "議事録作成");
        // The stamp: who approved and when, kept and shown.
        let page = sup.get("/orders?date=2021-01-13");
        assert!(page.body.contains("承認待ちの申請（0 件）"));
        let row = &page.body[page.body.find(&format!("id=\"order-{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("<span class=\"stamp\">承認</span> 鈴木一郎"),
            "{row}"
        );
        assert!(row.contains(&today_tokyo()), "approval time shown: {row}");
        let my = tw.get("/my?date=2021-01-13");
        assert!(
            my.body.contains("E2001"),
            "the teleworker sees the stamp: {}",
            my.body
        );

        // The supervisor edits it (stamped again) and cancels it; the board follows.
        let csrf = sup.session_csrf();
        sup.post(
            &format!("/orders/{id}"),
            &[
                ("csrf", &csrf),
                ("start", "09:00"),
                ("end", "12:00"),
                ("content", "議事録作成（午前）"),
                ("leave", ""),
            ],
        )
        .expect(303);
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["order"]["start"], "09:00");
        assert_eq!(board["teleworkers"][0]["order"]["end"], "12:00");
        sup.post(&format!("/orders/{id}/cancel"), &[("csrf", &csrf)])
            .expect(303);
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert!(board["teleworkers"].as_array().unwrap().is_empty());

        // A supervisor creates and stamps an order in one step.
        let r = sup.post(
            "/orders",
            &[
                ("csrf", &csrf),
                ("employee_id", "E1002"),
                ("date", "2021-01-14"),
                ("start", ""),
                ("end", ""),
                ("content", "仕様書作成"),
                ("leave", "13:00-14:00"),
            ],
        );
        r.expect(303);
        let board = zt.status_json("2021-01-14", "2021-01-14T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["employee_id"], "E1002");
        assert_eq!(board["teleworkers"][0]["leave"][0]["from"], "13:00");
        // A request for a day that already has an approved order is refused, next to the date;
        // a cancelled day may be asked for again.
        let csrf = tw.session_csrf();
        let mut sato = logged_in(&web, "E1002");
        let sato_csrf = sato.session_csrf();
        let r = sato.post(
            "/requests",
            &[
                ("csrf", &sato_csrf),
                ("date", "2021-01-14"),
                ("content", "x"),
            ],
        );
        r.expect(422);
        assert!(
            r.body
                .contains("id=\"error-date\">2021-01-14 の命令は既に承認されています"),
            "{}",
            r.body
        );
        tw.post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("date", "2021-01-13"),
                ("content", "再申請"),
            ],
        )
        .expect(303);
        assert!(tw.get("/my").body.contains("再申請"));
    }
}

#[test]
fn a_rule_violation_is_shown_in_japanese_next_to_its_field_and_nothing_is_saved() {
    for b in backends() {
        let zt = register(b);
        let web = WebServer::start(&zt);
        let mut sup = logged_in(&web, "E2001");
        let csrf = sup.session_csrf();
        // (form fields, the field the error is shown next to, the Japanese message)
        let cases: Vec<Case> = vec![
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-02-11"),
                    ("content", "文書作成"),
                ],
                "date",
                "2021-02-11 は建国記念の日です",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2022-04-01"),
                    ("content", "文書作成"),
                ],
                "date",
                "利用可能期間",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("start", "07:30"),
                    ("end", "16:15"),
                    ("content", "文書作成"),
                ],
                "shifted",
                "割振り変更",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("start", "08:00"),
                    ("end", "18:00"),
                    ("shifted", "on"),
                    ("content", "文書作成"),
                ],
                "end",
                "時間外勤務は命じられません",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("content", "  "),
                ],
                "content",
                "勤務内容を記入してください",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("start", "8:3O"),
                    ("content", "文書作成"),
                ],
                "start",
                "HH:MM",
            ),
            (
                vec![
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("leave", "07:00-09:00"),
                    ("content", "文書作成"),
                ],
                "leave",
                "時間休 07:00〜09:00 が勤務時間の外です",
            ),
            // E9001 (IT, same department) holds no telework ID.
            (
                vec![
                    ("employee_id", "E9001"),
                    ("date", "2021-01-12"),
                    ("content", "文書作成"),
                ],
                "employee_id",
                "テレワーク用IDを保有していません",
            ),
        ];
        for (fields, field, message) in cases {
            let mut f = fields.clone();
            f.push(("csrf", &csrf));
            let r = sup.post("/orders", &f);
            r.expect(422);
            let at = r
                .body
                .find(&format!("id=\"error-{field}\""))
                .unwrap_or_else(|| panic!("no error next to {field}: {}", r.body));
            let span = &r.body[at..at + r.body[at..].find("</span>").unwrap()];
            assert!(
                span.contains(message),
                "{field}: expected {message:?}, got {span}"
            );
            // What was typed is kept in the form.
            assert!(
                r.body.contains("value=\"E1001\" selected") || field == "employee_id",
                "{}",
                r.body
            );
        }
        for day in ["2021-01-12", "2021-02-11"] {
            let board = zt.status_json(day, &format!("{day}T12:00:00+09:00"));
            assert!(
                board["teleworkers"].as_array().unwrap().is_empty(),
                "nothing saved: {board}"
            );
        }
        // The same rules for a teleworker's request.
        let mut tw = logged_in(&web, "E1001");
        let csrf = tw.session_csrf();
        let r = tw.post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("date", "2021-02-11"),
                ("content", "文書作成"),
            ],
        );
        r.expect(422);
        assert!(
            r.body
                .contains("id=\"error-date\">2021-02-11 は建国記念の日です"),
            "{}",
            r.body
        );
        let my = tw.get("/my");
        assert!(
            my.body.contains("命令も申請もまだありません"),
            "{}",
            my.body
        );
    }
}

type Case = (
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

fn forbidden(r: Response, what: &str) {
    assert_eq!(
        r.status, 403,
        "{what}: expected 403, got {}\n{}",
        r.status, r.body
    );
}

#[test]
fn another_departments_supervisor_gets_403_whatever_is_tampered_and_it_is_logged() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/19-start-no-order.eml").to_str().unwrap(),
        ]);
        let web = WebServer::start(&zt);
        // A draft of E1001 (情報管理課) waiting for approval.
        let mut tw = logged_in(&web, "E1001");
        let csrf = tw.session_csrf();
        tw.post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("date", "2021-01-13"),
                ("content", "文書作成"),
            ],
        )
        .expect(303);
        let mut own = logged_in(&web, "E2001");
        let page = own.get("/orders?date=2021-01-13");
        let draft = id_after(&page.body, "id=\"draft-");
        let page = own.get("/orders?date=2021-01-12");
        let order = id_after(&page.body, "id=\"order-");

        // 伊藤 supervises 財政課.
        let mut other = logged_in(&web, "E2002");
        let csrf = other.session_csrf();
        forbidden(
            other.get("/board?date=2021-01-12&department=情報管理課"),
            "board",
        );
        forbidden(
            other.get("/board/table?date=2021-01-12&department=情報管理課"),
            "board table",
        );
        forbidden(
            other.get("/orders?date=2021-01-12&department=情報管理課"),
            "register",
        );
        forbidden(
            other.get("/escalations?date=2021-01-12&department=情報管理課"),
            "escalations",
        );
        forbidden(
            other.get("/api/status?date=2021-01-12&department=情報管理課"),
            "api",
        );
        forbidden(other.get(&format!("/orders/{order}/edit")), "edit page");
        forbidden(
            other.post(&format!("/orders/{draft}/approve"), &[("csrf", &csrf)]),
            "approve",
        );
        forbidden(
            other.post(&format!("/orders/{order}/cancel"), &[("csrf", &csrf)]),
            "cancel",
        );
        forbidden(
            other.post(
                &format!("/orders/{order}"),
                &[
                    ("csrf", &csrf),
                    ("content", "改ざん"),
                    ("employee_id", "E1003"),
                ],
            ),
            "edit",
        );
        forbidden(
            other.post(
                "/orders",
                &[
                    ("csrf", &csrf),
                    ("employee_id", "E1001"),
                    ("date", "2021-01-15"),
                    ("content", "x"),
                ],
            ),
            "create",
        );
        forbidden(
            other.post(
                "/contact",
                &[
                    ("csrf", &csrf),
                    ("employee_id", "E1001"),
                    ("date", "2021-01-12"),
                    ("kind", "start"),
                    ("at", "08:40"),
                ],
            ),
            "contact",
        );
        forbidden(
            other.post(
                "/escalations/resolve",
                &[
                    ("csrf", &csrf),
                    ("order_id", &order),
                    ("kind", "missing_start"),
                ],
            ),
            "resolve",
        );
        forbidden(other.get("/admin"), "admin");
        forbidden(other.get("/survey/2021-02?format=csv"), "survey");

        // Its own board shows its own department only, with its own staff's stray mail.
        let board = other.get("/board?date=2021-01-12");
        board.expect(200);
        assert!(
            !board.body.contains("山田太郎") && !board.body.contains("佐藤花子"),
            "{}",
            board.body
        );
        assert!(
            board.body.contains("tanaka@city.example.lg.jp"),
            "{}",
            board.body
        );
        let api = other.get("/api/status?date=2021-01-12").json();
        assert!(api["teleworkers"].as_array().unwrap().is_empty(), "{api}");
        assert_eq!(api["unmatched"][0]["from"], "tanaka@city.example.lg.jp");
        // …and the other department's supervisor does not see 財政課's stray mail.
        let api = own.get("/api/status?date=2021-01-12").json();
        assert_eq!(api["teleworkers"].as_array().unwrap().len(), 2);
        assert!(api["unmatched"].as_array().unwrap().is_empty(), "{api}");

        // A teleworker: only their own, and only for themselves.
        let csrf = tw.session_csrf();
        forbidden(
            tw.post(
                "/requests",
                &[
                    ("csrf", &csrf),
                    ("employee_id", "E1002"),
                    ("date", "2021-01-13"),
                    ("content", "x"),
                ],
            ),
            "request for another",
        );
        forbidden(tw.get(&format!("/orders/{order}/edit")), "teleworker edit");
        forbidden(
            tw.post(&format!("/orders/{order}/cancel"), &[("csrf", &csrf)]),
            "teleworker cancels an approved order",
        );
        forbidden(tw.get("/board?department=情報管理課"), "teleworker board");
        forbidden(
            tw.post(
                "/contact",
                &[
                    ("csrf", &csrf),
                    ("employee_id", "E9999"),
                    ("date", "2021-01-12"),
                    ("kind", "start"),
                    ("at", "08:40"),
                ],
            ),
            "teleworker records a contact",
        );
        let mine = tw.get("/api/status?date=2021-01-12").json();
        let ids: Vec<&str> = mine["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["employee_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["E1001"], "{mine}");
        // HR reads every board but orders nothing.
        let mut hr = logged_in(&web, "E3001");
        hr.get("/board?date=2021-01-12&department=情報管理課")
            .expect(200);
        let csrf = hr.session_csrf();
        forbidden(
            hr.post(&format!("/orders/{draft}/approve"), &[("csrf", &csrf)]),
            "hr approves",
        );

        // Nothing changed.
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["content"], "手順書作成");
        assert_eq!(
            board["teleworkers"][0]["start"]["source"],
            serde_json::Value::Null
        );
        assert!(
            zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00")["teleworkers"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // Every attempt is logged, and IT sees them on the admin page.
        let log = web.log();
        for action in [
            "approve_order",
            "cancel_order",
            "update_order",
            "create_order",
            "contact",
            "api_status",
            "request_order",
        ] {
            assert!(
                log.contains(&format!("action=\"{action}\""))
                    || log.contains(&format!("action={action}")),
                "{action} not logged:\n{log}"
            );
        }
        assert!(
            log.contains("access denied") && log.contains("E2002"),
            "{log}"
        );
        let mut it = logged_in(&web, "E9001");
        let admin = it.get("/admin");
        admin.expect(200);
        assert!(
            admin.body.contains("approve_order") && admin.body.contains(&format!("order={draft}")),
            "{}",
            admin.body
        );
    }
}

#[test]
fn a_phone_contact_recorded_on_the_board_shows_in_status() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        let web = WebServer::start(&zt);
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/board?date=2021-01-12");
        let csrf = page.csrf();
        assert!(
            page.body.contains("data-src=") && page.body.contains("/static/app.js"),
            "the board refreshes itself"
        );
        let r = sup.post(
            "/contact",
            &[
                ("csrf", &csrf),
                ("employee_id", "E1002"),
                ("date", "2021-01-12"),
                ("kind", "start"),
                ("at", "8:6O"),
            ],
        );
        r.expect(422);
        assert!(r.body.contains("id=\"error-at\""), "{}", r.body);
        sup.post(
            "/contact",
            &[
                ("csrf", &csrf),
                ("employee_id", "E1002"),
                ("date", "2021-01-12"),
                ("kind", "start"),
                ("at", "08:40"),
                ("note", "電話あり"),
            ],
        )
        .expect(303);
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let sato = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .unwrap();
        assert_eq!(sato["start"]["source"], "phone");
        assert_eq!(sato["start"]["at"], "2021-01-12T08:40:00+09:00");
        // The refreshed table (what the script fetches) shows it.
        let table = sup.get("/board/table?date=2021-01-12");
        table.expect(200);
        assert!(
            table.body.contains("08:40")
                && table.body.contains("（電話）")
                && !table.body.contains("<html"),
            "{}",
            table.body
        );
    }
}

#[test]
fn api_status_with_a_bearer_token_is_status_json() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        let token = zt
            .ok(&[
                "tokens",
                "create",
                "--employee",
                "E9001",
                "--label",
                "dashboard",
            ])
            .trim()
            .to_string();
        let web = WebServer::start(&zt);
        let now = "2021-01-12T12:00:00+09:00";
        let mut c = web.client();
        let path = format!(
            "/api/status?date=2021-01-12&now={}",
            helpers::http::encode(now)
        );
        let r = c.get(&path);
        r.expect(401);
        c.bearer = Some("zt_0000".into());
        c.get(&path).expect(401);
        c.bearer = Some(token);
        let r = c.get(&path);
        r.expect(200);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert_eq!(r.json(), zt.status_json("2021-01-12", now));
        c.get("/api/status?date=12-01-2021").expect(400);
        // IT sees which tokens exist (never the token) and withdraws them.
        let list = zt.ok(&["tokens", "list"]);
        assert!(list.starts_with("E9001\tdashboard\t"), "{list}");
        assert!(!list.contains("zt_"), "{list}");
        assert!(
            zt.ok(&["tokens", "revoke", "--employee", "E9001"])
                .contains("1 token(s)")
        );
        c.get(&path).expect(401);
    }
}

#[test]
fn healthz_and_metrics_answer_without_a_login() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        zt.ok(&[
            "ingest",
            fixture("mail/19-start-no-order.eml").to_str().unwrap(),
        ]);
        let web = WebServer::start(&zt);
        let mut c = web.client();
        let h = c.get("/healthz");
        h.expect(200);
        assert_eq!(h.body.trim(), "ok");
        let m = c.get("/metrics");
        m.expect(200);
        assert!(m.header("content-type").unwrap().starts_with("text/plain"));
        for line in [
            "zaitaku_reports_total{kind=\"start\",outcome=\"matched\"} 1",
            "zaitaku_reports_total{kind=\"start\",outcome=\"no_order\"} 1",
            "# TYPE zaitaku_escalations_sent_total counter",
            "zaitaku_outbox_messages{state=\"sent\"} 3",
            "zaitaku_outbox_messages{state=\"queued\"} 0",
            "zaitaku_outbox_messages{state=\"failed\"} 0",
            "zaitaku_mailbox_connected 0",
            "zaitaku_mailbox_watched 0",
        ] {
            assert!(
                m.body.lines().any(|l| l == line),
                "{line:?} missing:\n{}",
                m.body
            );
        }
        // Security headers on every answer.
        assert_eq!(m.header("x-frame-options"), Some("DENY"));
        assert!(
            m.header("content-security-policy")
                .unwrap()
                .contains("default-src 'self'")
        );
    }
}

#[test]
fn it_manages_applications_and_the_id_pool_and_downloads_the_survey() {
    let zt = register(Backend::Sqlite);
    zt.with_orders_0112();
    let web = WebServer::start(&zt);
    let mut it = logged_in(&web, "E9001");
    let admin = it.get("/admin");
    admin.expect(200);
    let csrf = admin.csrf();
    // One PC per department per fiscal year: refused, with the register's reason.
    let r = it.post(
        "/admin/applications",
        &[
            ("csrf", &csrf),
            ("department", "情報管理課"),
            ("fiscal_year", "2020"),
            ("pc", "JOHO-PC02"),
            ("users", "E9001"),
        ],
    );
    r.expect(422);
    assert!(
        r.body.contains("id=\"error-department\"") && r.body.contains("one PC per department"),
        "{}",
        r.body
    );
    let r = it.post(
        "/admin/applications",
        &[
            ("csrf", &csrf),
            ("department", "情報管理課"),
            ("fiscal_year", "2021"),
            ("pc", "JOHO-PC01"),
            ("users", "E1001, E9001"),
        ],
    );
    r.expect(200);
    assert!(
        r.body.contains("2021 年度の申請を登録しました"),
        "{}",
        r.body
    );
    assert!(
        zt.ok(&["applications", "list"])
            .contains("2021\t情報管理課\tJOHO-PC01\tE1001,E9001")
    );
    let r = it.post(
        "/admin/ids/assign",
        &[
            ("csrf", &csrf),
            ("employee_id", "E9001"),
            ("from", "2021-04-01"),
            ("to", ""),
        ],
    );
    r.expect(200);
    assert!(r.body.contains("E9001 に割り当てました"), "{}", r.body);
    assert!(
        zt.ok(&["ids", "list"])
            .contains("E9001\t2021-04-01\t2022-03-31")
    );
    let r = it.post(
        "/admin/ids/release",
        &[
            ("csrf", &csrf),
            ("employee_id", "E1001"),
            ("on", "2021-01-12"),
        ],
    );
    r.expect(422);
    assert!(
        r.body.contains("cancel them before releasing"),
        "{}",
        r.body
    );
    // Staff pasted as CSV, checked as `employees import` checks a file: all or nothing.
    let r = it.post("/admin/employees", &[("csrf", &csrf), ("csv", "employee_id,name,email,department,role\nE5001,森,mori@city.example.lg.jp,こども課,teleworker\nE5002,林,hayashi@city.example.lg.jp,宇宙課,teleworker\n")]);
    r.expect(422);
    assert!(
        r.body.contains("CSV:3: department") && r.body.contains("宇宙課"),
        "{}",
        r.body
    );
    assert!(!zt.ok(&["employees", "list"]).contains("E5001"));
    let r = it.post("/admin/employees", &[("csrf", &csrf), ("csv", "employee_id,name,email,department,role\nE5001,森,mori@city.example.lg.jp,こども課,teleworker\n")]);
    r.expect(200);
    assert!(r.body.contains("職員 1 名を登録しました"), "{}", r.body);
    assert!(
        zt.ok(&["employees", "list"])
            .contains("E5001\t森\tこども課")
    );
    let csv = it.get("/survey/2021-02?format=csv");
    csv.expect(200);
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("survey-2021-02.csv")
    );
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let svg = it.get("/survey/2021-02?format=svg");
    assert!(svg.body.contains("<svg"), "{}", svg.body);
    it.get("/survey/1999-01?format=md").expect(404);
}

#[test]
fn run_serves_the_web_only_when_the_config_has_a_web_section() {
    let zt = Zt::new(Backend::Sqlite);
    zt.ok(&["init"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = zt.path("config/zaitaku.toml");
    let base = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{base}[web]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let log = zt.path("run.log");
    let mut child = zt
        .cmd(&["run"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut up = None;
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            up = Some(Client::new(&addr).get("/metrics"));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    let m = up.unwrap_or_else(|| panic!("zaitaku run did not serve {addr}:\n{log}"));
    m.expect(200);
    assert!(m.body.contains("zaitaku_mailbox_watched 1"), "{}", m.body);
    assert!(
        status.success(),
        "run exits 0 after SIGTERM: {status}\n{log}"
    );
    assert!(log.contains("web register listening"), "{log}");
    // Without [web], run opens no port.
    std::fs::write(&cfg, &base).unwrap();
    let child = zt
        .cmd(&["run"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "run without [web] must not listen"
    );
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("web register listening"), "{log}");
}

#[test]
fn a_supervisor_resolves_an_escalation_on_the_web() {
    for b in backends() {
        let zt = register(b);
        zt.with_orders_0112();
        zt.ok(&[
            "ingest",
            fixture("mail/01-start-iso2022jp.eml").to_str().unwrap(),
        ]);
        // 佐藤 (E1002) never reported: the chain reaches the supervisors at 09:00.
        zt.ok(&["tick", "--now", "2021-01-12T09:01:00+09:00"]);
        let web = WebServer::start(&zt);
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/escalations?date=2021-01-12");
        page.expect(200);
        assert!(
            page.body.contains("開始連絡なし") && page.body.contains("確認済にする"),
            "{}",
            page.body
        );
        let order = id_after(&page.body, "name=\"order_id\" value=\"");
        // Another department's supervisor may not.
        let mut other = logged_in(&web, "E2002");
        let csrf = other.session_csrf();
        forbidden(
            other.post(
                "/escalations/resolve",
                &[
                    ("csrf", &csrf),
                    ("order_id", &order),
                    ("kind", "missing_start"),
                ],
            ),
            "resolve",
        );
        let csrf = page.csrf();
        sup.post(
            "/escalations/resolve",
            &[
                ("csrf", &csrf),
                ("order_id", &order),
                ("kind", "missing_start"),
            ],
        )
        .expect(303);
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let sato = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .unwrap();
        let statuses: Vec<&str> = sato["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert!(
            !statuses.is_empty() && statuses.iter().all(|s| *s == "resolved_web"),
            "{board}"
        );
        // A resolved chain fires no more steps.
        zt.ok(&["tick", "--now", "2021-01-12T11:00:00+09:00"]);
        let again = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let sato2 = again["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .unwrap();
        assert_eq!(
            sato2["escalations"].as_array().unwrap().len(),
            statuses.len(),
            "{again}"
        );
    }
}
