//! Logins and staff from the city's directory (issue 19, SPEC §12), against a real OpenLDAP
//! server (`helpers::slapd`: Active Directory's layout, TLS by a CA of the test's own) and the
//! real `zaitaku`, on SQLite and PostgreSQL: a login checked by the directory (ldaps:// and
//! StartTLS), a wrong or empty password and a filter typed into the login answered as a wrong
//! local password is, a group change counting at the next login, a sync with a transfer, a
//! leaver and a newcomer, the directory stopped or frozen mid-login (local passwords still
//! work), and the reverse proxy's single sign-on header, believed only from its address.

mod helpers;

use helpers::http::WebServer;
use helpers::slapd::{IT, Person, SUPERVISORS, Slapd};
use helpers::{Backend, Zt, backends, sql_i64};

const YAMADA: Person = Person {
    login: "yamada",
    employee_id: "E1001",
    name: "山田太郎",
    mail: "yamada@city.example.lg.jp",
    department: "情報管理課",
    password: "yamada-directory-pw",
};

const SATO: Person = Person {
    login: "sato",
    employee_id: "E1002",
    name: "佐藤花子",
    mail: "sato@city.example.lg.jp",
    department: "情報管理課",
    password: "sato-directory-pw",
};

const TANAKA: Person = Person {
    login: "tanaka",
    employee_id: "E1003",
    name: "田中次郎",
    mail: "tanaka@city.example.lg.jp",
    department: "財政課",
    password: "tanaka-directory-pw",
};

/// Someone of a department outside the programme: in the directory, never staff here.
const OUTSIDE: Person = Person {
    login: "kimura",
    employee_id: "E5001",
    name: "木村修",
    mail: "kimura@city.example.lg.jp",
    department: "議会事務局庶務課",
    password: "kimura-directory-pw",
};

const LOCAL_PW: &str = "break-glass password";

/// The test register (CSV staff), a directory with three of them and an outsider, and
/// `[ldap]` pointing at it with `url`.
fn setup(b: Backend, url_of: impl Fn(&Slapd) -> String) -> (Zt, Slapd) {
    let zt = Zt::new(b);
    zt.with_staff();
    let slapd = Slapd::start();
    for p in [&YAMADA, &SATO, &TANAKA, &OUTSIDE] {
        slapd.add_person(p);
    }
    let cfg = zt.path("config/zaitaku.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&slapd.config(&url_of(&slapd)));
    std::fs::write(&cfg, text).unwrap();
    (zt, slapd)
}

fn role_of(zt: &Zt, id: &str) -> String {
    let out = zt.ok(&["employees", "list"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{id}\t")))
        .unwrap_or_else(|| panic!("{id} not listed:\n{out}"));
    line.split('\t').nth(3).unwrap().to_string()
}

#[test]
fn a_login_is_checked_by_the_directory_over_ldaps_and_starttls() {
    for b in backends() {
        for url in [Slapd::ldaps_url as fn(&Slapd) -> String, Slapd::ldap_url] {
            let (zt, slapd) = setup(b, url);
            let web = WebServer::start(&zt);
            let mut c = web.client();
            let r = c.login("yamada", YAMADA.password);
            r.expect(303);
            assert_eq!(r.header("location"), Some("/"), "{b:?} {}", url(&slapd));
            let my = c.get("/my");
            my.expect(200);
            assert!(my.body.contains("山田太郎"), "{}", my.body);
            // The login brought the entry's DN into the register: a later sync knows them.
            assert_eq!(
                sql_i64(
                    &zt,
                    "SELECT COUNT(*) FROM employees WHERE employee_id = 'E1001' AND directory_dn IS NOT NULL"
                ),
                1
            );
        }
    }
}

#[test]
fn a_wrong_or_empty_password_or_a_typed_filter_is_a_wrong_password() {
    for b in backends() {
        let (zt, _slapd) = setup(b, Slapd::ldaps_url);
        let web = WebServer::start(&zt);
        let wrong = {
            let mut c = web.client();
            let r = c.login("sato", "not the password");
            r.expect(401);
            r.body.clone()
        };
        assert!(wrong.contains("パスワードが違います"), "{wrong}");
        // An empty password would be an unauthenticated bind, which LDAP servers answer
        // with success: it must never log anyone in.
        let mut c = web.client();
        c.login("sato", "").expect(401);
        assert!(!c.cookies.contains_key("zaitaku_session"));
        // Filter syntax typed as a login is literal: `*` matches nobody, and an injected
        // OR cannot find yamada for sato's password.
        for login in [
            "*",
            "sa*",
            "x)(|(sAMAccountName=sato",
            "sato)(objectClass=*",
        ] {
            let mut c = web.client();
            c.login(login, SATO.password).expect(401);
            assert!(!c.cookies.contains_key("zaitaku_session"), "{login}");
        }
        // The throttle counts directory failures as it counts local ones: the fourth
        // failure in a row for a name is made to wait.
        let mut last = 0;
        for _ in 0..5 {
            let mut c = web.client();
            last = c.login("tanaka", "guess").status;
        }
        assert_eq!(last, 429, "repeated failures must be slowed down ({b:?})");
        // The right password still works for someone else meanwhile.
        web.client().login("sato", SATO.password).expect(303);
    }
}

#[test]
fn a_group_change_in_the_directory_counts_at_the_next_login() {
    for b in backends() {
        let (zt, slapd) = setup(b, Slapd::ldaps_url);
        let web = WebServer::start(&zt);
        // E2001 is the department's supervisor by the CSV; in the directory, sato is in no
        // group: a teleworker.
        web.client().login("sato", SATO.password).expect(303);
        assert_eq!(role_of(&zt, "E1002"), "teleworker");
        slapd.add_to_group(SUPERVISORS, "sato");
        let mut c = web.client();
        c.login("sato", SATO.password).expect(303);
        assert_eq!(role_of(&zt, "E1002"), "supervisor", "{b:?}");
        // As supervisor she sees her department's register.
        c.get("/orders").expect(200);
        // The highest of several groups counts.
        slapd.add_to_group(IT, "sato");
        web.client().login("sato", SATO.password).expect(303);
        assert_eq!(role_of(&zt, "E1002"), "it");
        // Each change is in the audit trail, as done by sato on the web.
        let audit = zt.ok(&["audit", "list", "--entity", "employee", "--json"]);
        let entries: serde_json::Value = serde_json::from_str(&audit).unwrap();
        let roles: Vec<&str> = entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entity_id"] == "E1002" && e["actor"] == "E1002")
            .filter_map(|e| e["after"]["role"].as_str())
            .collect();
        assert_eq!(roles, ["supervisor", "it"], "{audit}");
        // From where: the browser's address, as the server saw the connection.
        assert!(
            entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["actor"] == "E1002")
                .all(|e| e["via"] == "web" && e["client"] == "127.0.0.1"),
            "{audit}"
        );
    }
}

#[test]
fn sync_shows_then_applies_a_transfer_a_leaver_and_a_newcomer() {
    for b in backends() {
        let (zt, slapd) = setup(b, Slapd::ldaps_url);
        // First sync: the three known staff come under the directory; the outsider's
        // department is not the register's, so they are skipped and said to be.
        let dry = zt.ok(&["employees", "sync", "--ldap", "--dry-run"]);
        assert!(dry.contains("skipped\tcn=kimura"), "{dry}");
        assert!(dry.contains("議会事務局庶務課"), "{dry}");
        zt.ok(&["employees", "sync", "--ldap"]);
        assert_eq!(
            sql_i64(
                &zt,
                "SELECT COUNT(*) FROM employees WHERE directory_dn IS NOT NULL"
            ),
            3
        );
        let before = zt.ok(&["employees", "list"]);
        // A transfer, a leaver, a newcomer.
        slapd.set_department("yamada", "財政課");
        slapd.delete_person("sato");
        slapd.add_person(&Person {
            login: "mori",
            employee_id: "E1010",
            name: "森一花",
            mail: "mori@city.example.lg.jp",
            department: "財政課",
            password: "mori-directory-pw",
        });
        let audit_before = sql_i64(&zt, "SELECT COUNT(*) FROM audit_log");
        let dry = zt.ok(&["employees", "sync", "--ldap", "--dry-run"]);
        assert!(
            dry.contains("new\tE1010\t森一花\t財政課\tteleworker"),
            "{dry}"
        );
        assert!(
            dry.contains("changed\tE1001\tdepartment 情報管理課 → 財政課"),
            "{dry}"
        );
        assert!(dry.contains("gone\tE1002"), "{dry}");
        assert!(
            dry.contains("1 new, 1 changed, 1 gone, 1 skipped: would change 3"),
            "{dry}"
        );
        // A dry run changes nothing, the audit trail included.
        assert_eq!(zt.ok(&["employees", "list"]), before);
        assert_eq!(sql_i64(&zt, "SELECT COUNT(*) FROM audit_log"), audit_before);

        let done = zt.ok(&["employees", "sync", "--ldap"]);
        assert!(done.contains("changed 3"), "{done}");
        let list = zt.ok(&["employees", "list"]);
        assert!(list.contains("E1010\t森一花\t財政課\tteleworker"), "{list}");
        assert!(list.contains("E1001\t山田太郎\t財政課"), "{list}");
        let sato = list.lines().find(|l| l.starts_with("E1002\t")).unwrap();
        assert!(
            sato.ends_with("\tinactive"),
            "a leaver is kept, marked: {sato}"
        );
        // Those who never came from the directory are left alone (E9001, IT's account).
        assert!(
            !list
                .lines()
                .any(|l| l.starts_with("E9001") && l.ends_with("inactive"))
        );
        // Three audit entries, one per change, by the CLI's user.
        assert_eq!(
            sql_i64(&zt, "SELECT COUNT(*) FROM audit_log"),
            audit_before + 3
        );
        let audit = zt.ok(&["audit", "list", "--entity", "employee", "--json"]);
        let entries: serde_json::Value = serde_json::from_str(&audit).unwrap();
        let actions: Vec<(String, String)> = entries.as_array().unwrap()
            [entries.as_array().unwrap().len() - 3..]
            .iter()
            .map(|e| {
                (
                    e["entity_id"].as_str().unwrap().to_string(),
                    e["action"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for want in [
            ("E1010", "create"),
            ("E1001", "update"),
            ("E1002", "deactivate"),
        ] {
            assert!(
                actions.contains(&(want.0.to_string(), want.1.to_string())),
                "{want:?} in {actions:?}"
            );
        }
        // A new order for the leaver is refused, naming the file, line and field.
        let orders = zt.write(
            "orders-leaver.csv",
            "employee_id,date,start,end,content,approved_by,shifted\nE1002,2021-01-13,08:30,17:15,資料作成,E2001,false\n",
        );
        zt.run(&["orders", "import", orders.to_str().unwrap()])
            .expect_bad_input(&["orders-leaver.csv:2", "employee_id", "E1002 has left"]);
        // Nothing changes on a second sync.
        let again = zt.ok(&["employees", "sync", "--ldap"]);
        assert!(again.contains("0 new, 0 changed, 0 gone"), "{again}");
    }
}

#[test]
fn the_directory_away_mid_login_is_a_clear_page_and_local_passwords_still_work() {
    for b in backends() {
        let (zt, mut slapd) = setup(b, Slapd::ldaps_url);
        zt.run_stdin(
            &["users", "set-password", "--employee", "E9001"],
            format!("{LOCAL_PW}\n").as_bytes(),
        )
        .expect_code(0);
        let web = WebServer::start(&zt);
        // Frozen: the TCP connection opens, nothing answers; the login gives up after the
        // configured 3 s instead of hanging.
        slapd.freeze();
        let t = std::time::Instant::now();
        let r = web.client().login("yamada", YAMADA.password);
        r.expect(503);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(15),
            "{:?}",
            t.elapsed()
        );
        assert!(r.body.contains("ディレクトリ"), "{}", r.body);
        slapd.thaw();
        // Stopped: connections refused.
        slapd.stop();
        let r = web.client().login("yamada", YAMADA.password);
        r.expect(503);
        assert!(r.header("retry-after").is_some());
        assert!(
            web.log().contains("directory unreachable at login"),
            "{}",
            web.log()
        );
        // IT's local (break-glass) password works without the directory.
        let mut it = web.client();
        it.login("E9001", LOCAL_PW).expect(303);
        it.get("/admin").expect(200);
        // A sync with the directory away fails with exit 1, naming it, and changes nothing.
        let r = zt.run(&["employees", "sync", "--ldap"]);
        r.expect_code(1);
        assert!(r.stderr.contains("directory"), "{}", r.stderr);
        // Back, and the directory's logins work again.
        slapd.resume();
        web.client().login("yamada", YAMADA.password).expect(303);
    }
}

#[test]
fn a_bad_ldap_section_is_one_line_and_exit_2() {
    let zt = Zt::new(Backend::Sqlite);
    let cfg = zt.path("config/zaitaku.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{text}[ldap]\nurl = \"http://ad.city.example\"\nbind_dn = \"cn=x\"\nbind_password = \"p\"\nbase_dn = \"dc=x\"\n"),
    )
    .unwrap();
    zt.run(&["employees", "list"])
        .expect_bad_input(&["zaitaku.toml", "ldap.url", "ldaps://"]);
    std::fs::write(
        &cfg,
        format!("{text}[web]\ntrusted_header = \"X-Remote-User\"\n"),
    )
    .unwrap();
    zt.run(&["employees", "list"])
        .expect_bad_input(&["zaitaku.toml", "web.trusted_proxies"]);
}

/// `[web] trusted_header` for `trusted_proxies`.
fn with_sso(zt: &Zt, proxies: &str) {
    let cfg = zt.path("config/zaitaku.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[web]\ntrusted_header = \"X-Remote-User\"\ntrusted_proxies = [{proxies}]\n"
    ));
    std::fs::write(&cfg, text).unwrap();
}

#[test]
fn the_sso_header_is_believed_only_from_a_trusted_proxy() {
    for b in backends() {
        // From an address that is not the proxy's: refused and logged, whoever it names.
        let zt = Zt::new(b);
        zt.with_staff();
        with_sso(&zt, "\"192.0.2.10\"");
        let web = WebServer::start(&zt);
        let mut c = web.client();
        c.headers.push(("X-Remote-User".into(), "E9001".into()));
        let r = c.get("/admin");
        r.expect(403);
        assert!(!c.cookies.contains_key("zaitaku_session"));
        assert!(web.log().contains("not a trusted proxy"), "{}", web.log());
        // Without the header, the login form as ever.
        let r = web.client().get("/admin");
        assert_eq!(r.status, 303, "{r:?}");
        drop(web);

        // From the proxy's address: a session of the named employee, then the same page.
        let zt = Zt::new(b);
        zt.with_staff();
        with_sso(&zt, "\"127.0.0.1\"");
        let web = WebServer::start(&zt);
        let mut c = web.client();
        c.headers
            .push(("X-Remote-User".into(), "nakamura@city.example.lg.jp".into()));
        let r = c.get("/admin");
        r.expect(303);
        assert_eq!(r.header("location"), Some("/admin"));
        assert!(c.cookies.contains_key("zaitaku_session"));
        let page = c.get("/admin");
        page.expect(200);
        assert!(page.body.contains("中村誠"), "{}", page.body);
        // Someone the register does not have is refused.
        let mut stranger = web.client();
        stranger
            .headers
            .push(("X-Remote-User".into(), "nobody".into()));
        stranger.get("/").expect(403);
        // The proxy names another person: the session follows the header.
        c.headers = vec![("X-Remote-User".into(), "E1001".into())];
        c.get("/my").expect(303);
        let my = c.get("/my");
        my.expect(200);
        assert!(my.body.contains("山田太郎"), "{}", my.body);
    }
}

#[test]
fn the_daemon_syncs_staff_on_the_ldap_schedule() {
    for b in backends() {
        let (zt, slapd) = setup(b, Slapd::ldaps_url);
        let cfg = zt.path("config/zaitaku.toml");
        let text = std::fs::read_to_string(&cfg).unwrap().replace(
            "timeout_seconds = 3\n",
            "timeout_seconds = 3\nsync = \"* * * * * *\"\n",
        );
        std::fs::write(&cfg, text).unwrap();
        slapd.set_department("tanaka", "情報管理課");
        let (mut child, log) = zt.start_run(Some("info"));
        let t = std::time::Instant::now();
        let moved = loop {
            let list = zt.ok(&["employees", "list"]);
            if list.contains("E1003\t田中次郎\t情報管理課") {
                break true;
            }
            if t.elapsed() > std::time::Duration::from_secs(20) {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            moved,
            "the daemon never synced the transfer ({b:?}):\n{log}"
        );
        assert!(status.success(), "{log}");
        assert!(log.contains("staff synced from the directory"), "{log}");
        // The daemon's changes are its own in the audit trail.
        let audit = zt.ok(&["audit", "list", "--entity", "employee", "--json"]);
        assert!(
            audit.contains("\"actor\": \"directory\"") || audit.contains("\"actor\":\"directory\""),
            "{audit}"
        );
    }
}
