//! Approval routes (issue 18, SPEC §11) through the real `zaitaku web` and CLI on SQLite and
//! PostgreSQL: a draft sent back (差戻し) with a reason, mailed to the teleworker, edited and
//! resubmitted from 自分の在宅勤務; each step one audit entry.

mod helpers;

use helpers::http::{Client, WebServer};
use helpers::{Backend, Zt, backends, sql_i64};
use serde_json::Value;

const PW: &str = "correct horse battery";

/// The register of `with_staff`, with web passwords for everyone who logs in below.
fn register(b: Backend) -> Zt {
    let zt = Zt::new(b);
    zt.with_staff();
    zt.set_passwords(
        &[
            "E1001", "E1002", "E1003", "E1004", "E2001", "E2002", "E9001",
        ],
        PW,
    );
    zt
}

fn logged_in(web: &WebServer, who: &str) -> Client {
    let mut c = web.client();
    c.login(who, PW).expect(303);
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

fn audit(zt: &Zt, action: &str) -> Vec<Value> {
    let out = zt.ok(&["audit", "list", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

/// The digital stamp on order `id`, with the session's CSRF token.
fn approve(c: &mut Client, id: &str) -> helpers::http::Response {
    let csrf = c.session_csrf();
    c.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
}

/// 差戻し of order `id` with `reason`, with the session's CSRF token.
fn send_back(c: &mut Client, id: &str, reason: &str) -> helpers::http::Response {
    let csrf = c.session_csrf();
    c.post(
        &format!("/orders/{id}/send-back"),
        &[("csrf", &csrf), ("reason", reason)],
    )
}

/// The order's status as stored.
fn sql_status(zt: &Zt, id: &str) -> String {
    let q = format!("SELECT status FROM orders WHERE id = {id}");
    helpers::sql(zt, async move |pool| {
        sqlx::query_scalar::<_, String>(&q)
            .fetch_one(&pool)
            .await
            .unwrap()
    })
}

fn status_of(zt: &Zt, id: &str) -> String {
    let n = sql_i64(
        zt,
        &format!("SELECT COUNT(*) FROM orders WHERE id = {id} AND status = 'sent_back'"),
    );
    if n == 1 {
        return "sent_back".into();
    }
    let n = sql_i64(
        zt,
        &format!("SELECT COUNT(*) FROM orders WHERE id = {id} AND status = 'draft'"),
    );
    if n == 1 {
        "draft".into()
    } else {
        "other".into()
    }
}

fn body_text(mail: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned()
}

fn request(c: &mut Client, date: &str, content: &str) {
    let csrf = c.session_csrf();
    c.post(
        "/requests",
        &[
            ("csrf", &csrf),
            ("date", date),
            ("start", ""),
            ("end", ""),
            ("content", content),
            ("leave", ""),
        ],
    )
    .expect(303);
}

#[test]
fn a_draft_sent_back_is_mailed_with_its_reason_and_the_teleworker_resubmits_it() {
    for b in backends() {
        let zt = register(b);
        // The web's clock the evening before, so the tick below finds the mail due.
        let web = WebServer::start_with(&zt, &["--now", "2021-01-12T17:00:00+09:00"]);
        let mut tw = logged_in(&web, "E1001");
        request(&mut tw, "2021-01-13", "議事録作成");
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-13");
        let id = id_after(&page.body, "id=\"draft-");
        assert!(
            page.body
                .contains(&format!("action=\"/orders/{id}/send-back\"")),
            "the register offers 差戻し: {}",
            page.body
        );
        let csrf = page.csrf();

        // Without a reason, or without the session's token, nothing changes.
        let r = sup.post(
            &format!("/orders/{id}/send-back"),
            &[("csrf", &csrf), ("reason", "  ")],
        );
        r.expect(422);
        assert!(
            r.body.contains("差戻しの理由を入力してください"),
            "{}",
            r.body
        );
        sup.post(
            &format!("/orders/{id}/send-back"),
            &[("csrf", "forged"), ("reason", "x")],
        )
        .expect(403);
        // Another department's supervisor may not send it back.
        let mut other = logged_in(&web, "E2002");
        let other_csrf = other.session_csrf();
        other
            .post(
                &format!("/orders/{id}/send-back"),
                &[("csrf", &other_csrf), ("reason", "x")],
            )
            .expect(403);
        assert_eq!(status_of(&zt, &id), "draft");
        assert!(audit(&zt, "send_back").is_empty());

        sup.post(
            &format!("/orders/{id}/send-back"),
            &[("csrf", &csrf), ("reason", "午前のみにしてください")],
        )
        .expect(303);
        assert_eq!(status_of(&zt, &id), "sent_back");
        let page = sup.get("/orders?date=2021-01-13");
        assert!(
            page.body.contains("承認待ちの申請（0 件）"),
            "{}",
            page.body
        );
        let row = &page.body[page.body.find(&format!("id=\"order-{id}\"")).unwrap()..];
        assert!(
            row[..row.find("</tr>").unwrap()].contains("差戻し"),
            "{row}"
        );
        // Not an order: nobody is chased for it.
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert!(
            board["teleworkers"].as_array().unwrap().is_empty(),
            "{board}"
        );
        // Sending it back twice (a second tab) changes nothing more.
        sup.post(
            &format!("/orders/{id}/send-back"),
            &[("csrf", &csrf), ("reason", "二度目")],
        )
        .expect(303);
        let entries = audit(&zt, "send_back");
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(entries[0]["actor"], "E2001");
        assert_eq!(entries[0]["via"], "web");
        assert_eq!(entries[0]["entity_id"], "E1001:2021-01-13");
        assert_eq!(entries[0]["before"]["status"], "draft");
        assert_eq!(entries[0]["after"]["status"], "sent_back");
        assert_eq!(entries[0]["after"]["reason"], "午前のみにしてください");

        // The teleworker is mailed the reason (through the outbox: the tick delivers it).
        zt.ok(&["tick", "--now", "2021-01-12T18:00:00+09:00"]);
        let sent = zt.sent();
        let mails: Vec<_> = sent
            .iter()
            .filter(|m| m.contains("To: yamada@city.example.lg.jp"))
            .collect();
        assert_eq!(mails.len(), 1, "{sent:#?}");
        let text = body_text(mails[0]);
        assert!(
            text.contains("午前のみにしてください") && text.contains("鈴木一郎"),
            "{text}"
        );

        // On 自分の在宅勤務 they see the reason and edit the request.
        let my = tw.get("/my?date=2021-01-13");
        assert!(
            my.body.contains("差戻し") && my.body.contains("理由: 午前のみにしてください"),
            "{}",
            my.body
        );
        assert!(my.body.contains(&format!("href=\"/my/orders/{id}\"")));
        let edit = tw.get(&format!("/my/orders/{id}"));
        edit.expect(200);
        assert!(edit.body.contains("議事録作成"), "the form is filled in");
        // Somebody else's order, or a draft that was not sent back, is not theirs to resubmit.
        let mut sato = logged_in(&web, "E1002");
        sato.get(&format!("/my/orders/{id}")).expect(403);
        let csrf = tw.session_csrf();
        // A rule still holds: the answer is next to the field and nothing changes.
        let r = tw.post(
            &format!("/my/orders/{id}"),
            &[
                ("csrf", &csrf),
                ("start", "12:00"),
                ("end", "09:00"),
                ("content", "議事録作成（午前）"),
            ],
        );
        r.expect(422);
        assert!(r.body.contains("id=\"error-end\""), "{}", r.body);
        assert_eq!(status_of(&zt, &id), "sent_back");
        tw.post(
            &format!("/my/orders/{id}"),
            &[
                ("csrf", &csrf),
                ("start", "08:30"),
                ("end", "12:00"),
                ("content", "議事録作成（午前）"),
                ("leave", ""),
            ],
        )
        .expect(303);
        assert_eq!(status_of(&zt, &id), "draft");
        let entries = audit(&zt, "resubmit");
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(entries[0]["actor"], "E1001");
        assert_eq!(entries[0]["before"]["status"], "sent_back");
        assert_eq!(entries[0]["after"]["status"], "draft");
        assert_eq!(entries[0]["after"]["end"], "12:00");
        // Once resubmitted it cannot be resubmitted again through the old form.
        tw.post(
            &format!("/my/orders/{id}"),
            &[("csrf", &csrf), ("content", "x")],
        )
        .expect(403);

        // The supervisor sees it waiting again, and approves it as any draft.
        let page = sup.get("/orders?date=2021-01-13");
        assert!(
            page.body.contains("承認待ちの申請（1 件）"),
            "{}",
            page.body
        );
        let csrf = page.csrf();
        sup.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let board = zt.status_json("2021-01-13", "2021-01-13T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["order"]["end"], "12:00", "{board}");
        zt.ok(&["audit", "verify"]);
    }
}

fn deputies_json(zt: &Zt) -> Vec<Value> {
    let out = zt.ok(&["deputies", "list", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_deputy_approves_for_the_supervisor_in_range_and_the_stamp_names_both() {
    for b in backends() {
        let zt = register(b);
        // Bad input: one line, exit 2, nothing named.
        for (args, what) in [
            (
                ["E1001", "E1004", "2021-01-12", "2021-01-15"],
                "--supervisor",
            ),
            (["E2001", "E9999", "2021-01-12", "2021-01-15"], "--deputy"),
            (["E2001", "E2001", "2021-01-12", "2021-01-15"], "--deputy"),
            (["E2001", "E1004", "2021-01-15", "2021-01-12"], "--to"),
            (["E2001", "E1004", "2021-01-32", "2021-01-12"], "--from"),
        ] {
            zt.run(&[
                "deputies",
                "add",
                "--supervisor",
                args[0],
                "--deputy",
                args[1],
                "--from",
                args[2],
                "--to",
                args[3],
            ])
            .expect_bad_input(&[what]);
        }
        assert!(deputies_json(&zt).is_empty());
        let out = zt.ok(&[
            "deputies",
            "add",
            "--supervisor",
            "E2001",
            "--deputy",
            "E1004",
            "--from",
            "2021-01-12",
            "--to",
            "2021-01-15",
        ]);
        assert!(out.contains("E1004 deputises for E2001"), "{out}");
        let list = deputies_json(&zt);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["deputy"], "E1004");
        assert_eq!(list[0]["department"], "情報管理課");
        assert_eq!(list[0]["from"], "2021-01-12");
        let created = audit(&zt, "create");
        assert!(
            created
                .iter()
                .any(|e| e["entity"] == "deputy" && e["after"]["deputy"] == "E1004"),
            "{created:#?}"
        );

        // In range: 小林 (a teleworker) sees the department's drafts and stamps one as 代決.
        let web = WebServer::start_with(&zt, &["--now", "2021-01-13T09:00:00+09:00"]);
        let mut tw = logged_in(&web, "E1001");
        request(&mut tw, "2021-01-14", "議事録作成");
        // The request is on the record as the teleworker's own, via the web.
        let requested = audit(&zt, "request");
        assert_eq!(requested.len(), 1, "{b:?}: {requested:#?}");
        assert_eq!(requested[0]["actor"], "E1001");
        assert_eq!(requested[0]["via"], "web");
        assert_eq!(requested[0]["entity_id"], "E1001:2021-01-14");
        assert!(requested[0]["before"].is_null());
        assert_eq!(requested[0]["after"]["status"], "draft");
        assert_eq!(requested[0]["after"]["content"], "議事録作成");
        let mut dep = logged_in(&web, "E1004");
        let my = dep.get("/my");
        assert!(
            my.body
                .contains("鈴木一郎 さんの代決者です（2021-01-12〜2021-01-15）"),
            "{}",
            my.body
        );
        let page = dep.get("/orders?date=2021-01-14");
        page.expect(200);
        let id = id_after(&page.body, "id=\"draft-");
        assert!(page.body.contains("代決"), "{}", page.body);
        let csrf = page.csrf();
        dep.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let board = zt.status_json("2021-01-14", "2021-01-14T12:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["employee_id"], "E1001", "{board}");
        assert_eq!(
            board["teleworkers"][0]["approval"]["approved_by"], "E2001",
            "{board}"
        );
        assert_eq!(
            board["teleworkers"][0]["approval"]["deputy"], "E1004",
            "{board}"
        );
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-14");
        let row = &page.body[page.body.find(&format!("id=\"order-{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("<span class=\"stamp\">代決</span> 小林直子")
                && row.contains("決裁者 鈴木一郎"),
            "{row}"
        );
        let approved = audit(&zt, "approve");
        assert_eq!(approved.len(), 1, "{approved:#?}");
        assert_eq!(approved[0]["actor"], "E1004");
        assert_eq!(approved[0]["after"]["approved_by"], "E2001");
        assert_eq!(approved[0]["after"]["deputy"], "E1004");
        // Another department's drafts are not the deputy's.
        let mut ito = logged_in(&web, "E1003");
        request(&mut ito, "2021-01-14", "予算資料");
        let mut fin = logged_in(&web, "E2002");
        let fin_page = fin.get("/orders?date=2021-01-14");
        let other = id_after(&fin_page.body, "id=\"draft-");
        approve(&mut dep, &other).expect(403);

        // The supervisor names a deputy on the web too; a bad range is refused next to it.
        let csrf = fin.session_csrf();
        let r = fin.post(
            "/deputies",
            &[
                ("csrf", &csrf),
                ("deputy", "E1005"),
                ("from", "2021-01-20"),
                ("to", "2021-01-19"),
            ],
        );
        r.expect(422);
        assert!(r.body.contains("id=\"error-to\""), "{}", r.body);
        fin.post(
            "/deputies",
            &[
                ("csrf", &csrf),
                ("deputy", "E1005"),
                ("from", "2021-01-18"),
                ("to", "2021-01-22"),
            ],
        )
        .expect(303);
        let page = fin.get("/deputies");
        assert!(page.body.contains("加藤裕子") && page.body.contains("2021-01-18〜2021-01-22"));
        assert_eq!(deputies_json(&zt).len(), 2);
        // A teleworker cannot name deputies.
        let csrf = tw.session_csrf();
        tw.post(
            "/deputies",
            &[
                ("csrf", &csrf),
                ("deputy", "E1002"),
                ("from", "2021-01-18"),
                ("to", "2021-01-22"),
            ],
        )
        .expect(403);
        drop(web);

        // Out of range (the 18th): the same deputy may not approve, and has no register.
        let web = WebServer::start_with(&zt, &["--now", "2021-01-18T09:00:00+09:00"]);
        let mut sato = logged_in(&web, "E1002");
        request(&mut sato, "2021-01-19", "仕様書作成");
        let mut dep = logged_in(&web, "E1004");
        assert_eq!(dep.get("/orders").header("location"), Some("/my"));
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-19");
        let id = id_after(&page.body, "id=\"draft-");
        approve(&mut dep, &id).expect(403);
        assert_eq!(audit(&zt, "approve").len(), 1);
        zt.ok(&["audit", "verify"]);
    }
}

/// The fixture's staff and two division heads (部長): 総務部 (情報管理課's) and 総合政策部 (財政課's).
fn with_division_heads(zt: &Zt) {
    let fixture = std::fs::read_to_string(helpers::fixture("register/employees.csv")).unwrap();
    let csv = zt.write(
        "staff.csv",
        &format!(
            "{fixture}E4001,高橋部長,takahashi@city.example.lg.jp,人事課,division_head\n\
             E4002,山本部長,yamamoto@city.example.lg.jp,財政課,division_head\n"
        ),
    );
    zt.with_staff_from(&csv);
    zt.set_passwords(&["E1001", "E2001", "E2002", "E4001", "E4002"], PW);
}

fn set_config(zt: &Zt, extra: &str) {
    let cfg = zt.path("config/zaitaku.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}{extra}")).unwrap();
}

#[test]
fn with_a_second_step_an_order_is_chased_only_once_the_division_head_approves() {
    for b in backends() {
        let zt = Zt::new(b);
        with_division_heads(&zt);
        // A route the config does not know: one line, exit 2.
        set_config(&zt, "[approval]\nsteps = [\"supervisor\", \"mayor\"]\n");
        zt.run(&["deputies", "list"])
            .expect_bad_input(&["zaitaku.toml", "approval.steps"]);
        let cfg = zt.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, text.replace("\"mayor\"", "\"division_head\"")).unwrap();

        let web = WebServer::start_with(&zt, &["--now", "2021-01-11T17:00:00+09:00"]);
        let mut tw = logged_in(&web, "E1001");
        request(&mut tw, "2021-01-12", "手順書作成");
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-12");
        let id = id_after(&page.body, "id=\"draft-");
        let csrf = page.csrf();
        sup.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let step = audit(&zt, "approve_step");
        assert_eq!(step.len(), 1, "{step:#?}");
        assert_eq!(step[0]["after"]["status"], "reviewed");
        let page = sup.get("/orders?date=2021-01-12");
        assert!(page.body.contains("部長決裁待ち"), "{}", page.body);
        // Not yet an order: not on the board, not chased.
        let board = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
        assert!(
            board["teleworkers"].as_array().unwrap().is_empty(),
            "{board}"
        );
        let out = zt.ok(&["tick", "--now", "2021-01-12T08:46:00+09:00"]);
        assert!(out.contains("escalations: 0 sent"), "{out}");
        // The supervisor cannot give the second stamp, nor another division's head.
        approve(&mut sup, &id).expect(403);
        let mut other = logged_in(&web, "E4002");
        let page = other.get("/orders?date=2021-01-12");
        page.expect(200);
        assert!(
            !page.body.contains(&format!("id=\"draft-{id}\"")),
            "{}",
            page.body
        );
        approve(&mut other, &id).expect(403);

        // The division head of 総務部 sees it waiting and approves it.
        let mut head = logged_in(&web, "E4001");
        assert_eq!(head.get("/").header("location"), Some("/orders"));
        let page = head.get("/orders?date=2021-01-12");
        assert!(
            page.body.contains(&format!("id=\"draft-{id}\"")),
            "{}",
            page.body
        );
        let csrf = page.csrf();
        head.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let approved = audit(&zt, "approve");
        assert_eq!(approved.len(), 1, "{approved:#?}");
        assert_eq!(approved[0]["actor"], "E4001");
        assert_eq!(approved[0]["before"]["status"], "reviewed");
        assert_eq!(approved[0]["after"]["status"], "approved");
        assert_eq!(approved[0]["after"]["division_by"], "E4001");
        let board = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
        assert_eq!(board["teleworkers"][0]["employee_id"], "E1001", "{board}");
        assert_eq!(board["teleworkers"][0]["approval"]["approved_by"], "E2001");
        assert_eq!(board["teleworkers"][0]["approval"]["division_by"], "E4001");
        assert_eq!(board["teleworkers"][0]["approval"]["deputy"], Value::Null);
        let out = zt.ok(&["tick", "--now", "2021-01-12T08:47:00+09:00"]);
        assert!(out.contains("escalations: 1 sent"), "{out}");
        let page = sup.get("/orders?date=2021-01-12");
        let row = &page.body[page.body.find(&format!("id=\"order-{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("鈴木一郎") && row.contains("高橋部長"),
            "{row}"
        );

        // The division head's deputy (財政課's supervisor, of another 部) gives the second
        // stamp for them, as 代決; a request waiting for it cannot be asked over.
        zt.ok(&[
            "deputies",
            "add",
            "--supervisor",
            "E4001",
            "--deputy",
            "E2002",
            "--from",
            "2021-01-11",
            "--to",
            "2021-01-11",
        ]);
        request(&mut tw, "2021-01-13", "議事録作成");
        let page = sup.get("/orders?date=2021-01-13");
        let second = id_after(&page.body, "id=\"draft-");
        let csrf = page.csrf();
        sup.post(&format!("/orders/{second}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let csrf = tw.session_csrf();
        tw.post(
            "/requests",
            &[
                ("csrf", &csrf),
                ("date", "2021-01-13"),
                ("content", "上書き"),
            ],
        )
        .expect(422);
        let mut ito = logged_in(&web, "E2002");
        let page = ito.get("/orders?date=2021-01-13");
        assert!(
            page.body.contains(&format!("id=\"draft-{second}\"")),
            "{}",
            page.body
        );
        let csrf = page.csrf();
        ito.post(&format!("/orders/{second}/approve"), &[("csrf", &csrf)])
            .expect(303);
        let approved = audit(&zt, "approve");
        assert_eq!(approved.len(), 2, "{approved:#?}");
        assert_eq!(approved[1]["actor"], "E2002");
        assert_eq!(approved[1]["after"]["division_by"], "E4001");
        assert_eq!(approved[1]["after"]["deputy"], "E2002");
        let page = sup.get("/orders?date=2021-01-13");
        let row = &page.body[page.body.find(&format!("id=\"order-{second}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("伊藤美咲（決裁者 高橋部長）"), "{row}");
        zt.ok(&["audit", "verify"]);
    }
}

/// With a second step, the division head sends back an order their supervisor stamped: the
/// stamp is void, the teleworker resubmits, and the order needs both stamps again. The
/// supervisor cannot send back what waits for the division head, nor another division's head.
#[test]
fn the_division_head_sends_back_a_stamped_order_and_it_needs_both_stamps_again() {
    for b in backends() {
        let zt = Zt::new(b);
        with_division_heads(&zt);
        set_config(
            &zt,
            "[approval]\nsteps = [\"supervisor\", \"division_head\"]\n",
        );
        let web = WebServer::start_with(&zt, &["--now", "2021-01-11T17:00:00+09:00"]);
        let mut tw = logged_in(&web, "E1001");
        request(&mut tw, "2021-01-12", "手順書作成");
        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-12");
        let id = id_after(&page.body, "id=\"draft-");
        let csrf = page.csrf();
        sup.post(&format!("/orders/{id}/approve"), &[("csrf", &csrf)])
            .expect(303);
        assert_eq!(sql_status(&zt, &id), "reviewed");

        // Waiting for the division head: not the supervisor's to send back any more, nor
        // another division's head's.
        send_back(&mut sup, &id, "取り消したい").expect(403);
        let mut other = logged_in(&web, "E4002");
        send_back(&mut other, &id, "x").expect(403);
        assert_eq!(sql_status(&zt, &id), "reviewed");

        let mut head = logged_in(&web, "E4001");
        let page = head.get("/orders?date=2021-01-12");
        assert!(
            page.body
                .contains(&format!("action=\"/orders/{id}/send-back\"")),
            "the division head is offered 差戻し: {}",
            page.body
        );
        let csrf = page.csrf();
        head.post(
            &format!("/orders/{id}/send-back"),
            &[("csrf", &csrf), ("reason", "業務内容を具体的に")],
        )
        .expect(303);
        assert_eq!(sql_status(&zt, &id), "sent_back");
        let back = audit(&zt, "send_back");
        assert_eq!(back.len(), 1, "{back:#?}");
        assert_eq!(back[0]["actor"], "E4001");
        assert_eq!(back[0]["before"]["status"], "reviewed");
        assert_eq!(back[0]["before"]["approved_by"], "E2001");
        assert_eq!(
            back[0]["after"]["approved_by"],
            Value::Null,
            "the stamp is void"
        );
        assert_eq!(back[0]["after"]["reason"], "業務内容を具体的に");
        let my = tw.get("/my?date=2021-01-12");
        assert!(my.body.contains("理由: 業務内容を具体的に"), "{}", my.body);

        // Resubmitted, it is a draft: the supervisor stamps it, then the division head.
        let csrf = tw.session_csrf();
        tw.post(
            &format!("/my/orders/{id}"),
            &[
                ("csrf", &csrf),
                ("start", ""),
                ("end", ""),
                ("content", "手順書作成（第2章）"),
                ("leave", ""),
            ],
        )
        .expect(303);
        assert_eq!(sql_status(&zt, &id), "draft");
        let board = zt.status_json("2021-01-12", "2021-01-12T09:00:00+09:00");
        assert!(
            board["teleworkers"].as_array().unwrap().is_empty(),
            "not an order yet: {board}"
        );
        approve(&mut sup, &id).expect(303);
        assert_eq!(sql_status(&zt, &id), "reviewed");
        approve(&mut head, &id).expect(303);
        assert_eq!(sql_status(&zt, &id), "approved");
        zt.ok(&["audit", "verify"]);
    }
}

#[test]
fn a_supervisor_approves_a_week_of_drafts_in_one_action_each_stamped_alone() {
    for b in backends() {
        let zt = register(b);
        let web = WebServer::start_with(&zt, &["--now", "2021-01-08T17:00:00+09:00"]);
        let mut yamada = logged_in(&web, "E1001");
        request(&mut yamada, "2021-01-12", "手順書作成");
        request(&mut yamada, "2021-01-13", "手順書の改訂");
        request(&mut yamada, "2021-01-19", "翌週の作業");
        let mut sato = logged_in(&web, "E1002");
        request(&mut sato, "2021-01-15", "仕様書作成");
        let mut tanaka = logged_in(&web, "E1003");
        request(&mut tanaka, "2021-01-13", "予算資料");

        let mut sup = logged_in(&web, "E2001");
        let page = sup.get("/orders?date=2021-01-13");
        assert!(
            page.body
                .contains("2021-01-11〜2021-01-17 の申請をまとめて承認"),
            "{}",
            page.body
        );
        let csrf = page.csrf();
        sup.post(
            "/orders/approve-week",
            &[("csrf", "forged"), ("week", "2021-01-13")],
        )
        .expect(403);
        assert!(audit(&zt, "approve").is_empty());
        let r = sup.post(
            "/orders/approve-week",
            &[("csrf", &csrf), ("week", "2021-01-13")],
        );
        r.expect(200);
        assert!(r.body.contains("3 件承認しました"), "{}", r.body);
        let approved = audit(&zt, "approve");
        let mut ids: Vec<&str> = approved
            .iter()
            .map(|e| e["entity_id"].as_str().unwrap())
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            ["E1001:2021-01-12", "E1001:2021-01-13", "E1002:2021-01-15"],
            "one entry each, and only this department's week"
        );
        assert!(approved.iter().all(|e| e["actor"] == "E2001"));
        // Next week's and another department's drafts wait.
        let drafts = sql_i64(&zt, "SELECT COUNT(*) FROM orders WHERE status = 'draft'");
        assert_eq!(drafts, 2);
        for (date, n) in [("2021-01-12", 1), ("2021-01-13", 1), ("2021-01-15", 1)] {
            let board = zt.status_json(date, &format!("{date}T12:00:00+09:00"));
            assert_eq!(
                board["teleworkers"].as_array().unwrap().len(),
                n,
                "{date}: {board}"
            );
        }
        // A teleworker has no such action.
        let csrf = yamada.session_csrf();
        yamada
            .post(
                "/orders/approve-week",
                &[("csrf", &csrf), ("week", "2021-01-18")],
            )
            .expect(403);
        assert_eq!(
            sql_i64(&zt, "SELECT COUNT(*) FROM orders WHERE status = 'draft'"),
            2
        );
        zt.ok(&["audit", "verify"]);
    }
}

fn tick(zt: &Zt, now: &str) -> String {
    zt.ok(&["tick", "--now", now])
}

fn reminders_to(zt: &Zt, addr: &str) -> Vec<String> {
    zt.sent()
        .into_iter()
        .filter(|m| m.contains(&format!("To: {addr}")))
        .collect()
}

#[test]
fn a_repeating_step_is_sent_once_per_repeat_until_acknowledged_or_its_maximum() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        // Repeats without a maximum: one line, exit 2.
        set_config(
            &zt,
            "[escalation]\nmissing_start = [{ after_minutes = 0, to = \"teleworker\", repeat_minutes = 10 }]\n",
        );
        zt.run(&["tick", "--now", "2021-01-12T08:45:00+09:00"])
            .expect_bad_input(&["escalation.missing_start[0]", "max_repeats"]);
        let cfg = zt.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(
            &cfg,
            text.replace(
                "repeat_minutes = 10 }",
                "repeat_minutes = 10, max_repeats = 2 }",
            ),
        )
        .unwrap();

        // Neither 山田 nor 佐藤 reports. 08:45 the first reminder; every 10 minutes again, twice.
        tick(&zt, "2021-01-12T08:45:00+09:00");
        assert_eq!(reminders_to(&zt, "sato@city.example.lg.jp").len(), 1);
        tick(&zt, "2021-01-12T08:54:59+09:00");
        assert_eq!(reminders_to(&zt, "sato@city.example.lg.jp").len(), 1);
        // The same instant twice, and two ticks at once: one repeat.
        let out = tick(&zt, "2021-01-12T08:55:00+09:00");
        assert!(out.contains("escalations: 2 sent"), "{out}");
        tick(&zt, "2021-01-12T08:55:00+09:00");
        assert_eq!(reminders_to(&zt, "sato@city.example.lg.jp").len(), 2);
        // 山田 reports by phone (acknowledged): no more for him.
        zt.ok(&[
            "contact",
            "--employee",
            "E1001",
            "--date",
            "2021-01-12",
            "--kind",
            "start",
            "--at",
            "08:58",
            "--by",
            "E2001",
        ]);
        let children: Vec<_> = (0..2)
            .map(|_| {
                zt.cmd(&["tick", "--now", "2021-01-12T09:05:00+09:00"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let sato = reminders_to(&zt, "sato@city.example.lg.jp");
        assert_eq!(sato.len(), 3, "{sato:#?}");
        let yamada = reminders_to(&zt, "yamada@city.example.lg.jp");
        assert_eq!(
            yamada.len(),
            2,
            "the phone contact stopped 山田's: {yamada:#?}"
        );
        // The maximum reached: nothing more, however late.
        tick(&zt, "2021-01-12T09:15:00+09:00");
        tick(&zt, "2021-01-12T11:00:00+09:00");
        assert_eq!(reminders_to(&zt, "sato@city.example.lg.jp").len(), 3);
        let repeats = sql_i64(
            &zt,
            "SELECT COUNT(*) FROM escalations WHERE repeat_no > 0 AND key LIKE '%:r%'",
        );
        assert_eq!(repeats, 3, "佐藤's two repeats and 山田's one");
        let board = zt.status_json("2021-01-12", "2021-01-12T11:00:00+09:00");
        let sato_steps: Vec<(i64, i64)> = board["teleworkers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["employee_id"] == "E1002")
            .unwrap()["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "missing_start")
            .map(|e| (e["step"].as_i64().unwrap(), e["repeat"].as_i64().unwrap()))
            .collect();
        assert_eq!(sato_steps, [(1, 0), (1, 1), (1, 2)], "{board}");
        let subjects: Vec<String> = sato
            .iter()
            .map(|m| {
                mail_parser::MessageParser::default()
                    .parse(m.as_bytes())
                    .unwrap()
                    .subject()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert!(
            subjects.iter().any(|s| s.contains("再通知 2")),
            "{subjects:?}"
        );
        assert_eq!(subjects.iter().filter(|s| s.contains("再通知")).count(), 2);
    }
}

#[test]
fn a_supervisors_reply_to_a_repeat_stops_the_repeats() {
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        // 山田 reports; 佐藤 does not.
        zt.ok(&[
            "ingest",
            helpers::fixture("mail/01-start-iso2022jp.eml")
                .to_str()
                .unwrap(),
        ]);
        set_config(
            &zt,
            "[escalation]\nmissing_start = [\n  { after_minutes = 0, to = \"teleworker\" },\n  \
             { after_minutes = 15, to = \"supervisors\", repeat_minutes = 15, max_repeats = 3 },\n]\n",
        );
        tick(&zt, "2021-01-12T09:00:00+09:00");
        let out = tick(&zt, "2021-01-12T09:15:00+09:00");
        assert!(out.contains("escalations: 1 sent"), "{out}");
        let to_suzuki = reminders_to(&zt, "suzuki@city.example.lg.jp");
        let subjects: Vec<String> = to_suzuki
            .iter()
            .map(|m| {
                mail_parser::MessageParser::default()
                    .parse(m.as_bytes())
                    .unwrap()
                    .subject()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(to_suzuki.len(), 2, "{subjects:#?}");
        // The supervisor answers the repeat (確認済), naming its Message-ID.
        let repeat = to_suzuki
            .iter()
            .find(|m| {
                mail_parser::MessageParser::default()
                    .parse(m.as_bytes())
                    .unwrap()
                    .subject()
                    .unwrap_or_default()
                    .contains("再通知 1")
            })
            .expect("the repeat's subject says so");
        let id = repeat
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <"))
            .and_then(|l| l.strip_suffix('>'))
            .unwrap();
        let text = std::fs::read_to_string(helpers::fixture("escalation/reply-kakuninzumi.eml"))
            .unwrap()
            .replace(
                "zaitaku.escalation.order-2-missing-start-2@city.example.lg.jp",
                id,
            );
        let reply = zt.write("reply.eml", &text);
        let v: Value =
            serde_json::from_str(&zt.ok(&["ingest", "--json", reply.to_str().unwrap()])).unwrap();
        assert_eq!(v["messages"][0]["reason"], "resolution", "{v}");
        let out = tick(&zt, "2021-01-12T09:30:00+09:00");
        assert!(out.contains("escalations: 0 sent"), "{out}");
        // (10:00 brings the day's digest, not another 督促.)
        tick(&zt, "2021-01-12T10:30:00+09:00");
        let chased = reminders_to(&zt, "suzuki@city.example.lg.jp")
            .iter()
            .filter(|m| {
                mail_parser::MessageParser::default()
                    .parse(m.as_bytes())
                    .unwrap()
                    .subject()
                    .unwrap_or_default()
                    .contains("督促")
            })
            .count();
        assert_eq!(chased, 2);
        let repeats = sql_i64(&zt, "SELECT COUNT(*) FROM escalations WHERE repeat_no > 0");
        assert_eq!(repeats, 1);
    }
}
