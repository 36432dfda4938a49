//! `zaitaku demo`, the README's first command: it must run on the built-in defaults alone, from
//! any folder, and tour the product.

mod helpers;

use helpers::{Backend, Zt};

#[test]
fn the_demo_tours_the_day_on_the_built_in_defaults() {
    let zt = Zt::new(Backend::Sqlite);
    // No --config: the demo brings its own configuration.
    let r = zt.run_bare(&["demo", "--dir", "tour"]);
    r.expect_code(0);
    for part in [
        "台帳の準備",
        "督促",
        "電話連絡を記録しました",
        "在宅勤務状況",
        "日報:",
        "利用状況調査",
    ] {
        assert!(
            r.stdout.contains(part),
            "the tour lacks {part:?}:\n{}",
            r.stdout
        );
    }
    let sent = std::fs::read_dir(zt.path("tour/outbox")).unwrap().count();
    assert!(
        sent >= 15,
        "acknowledgements, reminders and digests written: {sent}"
    );
    // Run again: a fresh tour, not a pile-up.
    let again = zt.run_bare(&["demo", "--dir", "tour"]);
    again.expect_code(0);
    assert_eq!(
        std::fs::read_dir(zt.path("tour/outbox")).unwrap().count(),
        sent
    );
    // A folder the demo did not make is left alone.
    std::fs::create_dir_all(zt.path("mine")).unwrap();
    std::fs::write(zt.path("mine/notes.txt"), "keep").unwrap();
    zt.run_bare(&["demo", "--dir", "mine"])
        .expect_bad_input(&["notes.txt"]);
    assert!(zt.path("mine/notes.txt").exists());
}

#[test]
fn the_demo_with_web_serves_its_day_to_the_logins_it_prints() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let zt = Zt::new(Backend::Sqlite);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zaitaku"))
        .current_dir(zt.dir.path())
        .args(["demo", "--dir", "tour", "--web", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the demo ended without a URL:\n{printed}"))
            .unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.trim().strip_prefix("http://") {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    // The logins are printed after the URL.
    for _ in 0..5 {
        printed.push_str(&lines.next().unwrap().unwrap());
        printed.push('\n');
    }
    assert!(
        printed.contains("zaitaku-demo") && printed.contains("E2001"),
        "{printed}"
    );
    let mut c = helpers::http::Client::new(&addr);
    c.login("E2001", "zaitaku-demo").expect(303);
    let board = c.get("/board");
    board.expect(200);
    // The demo's day, as its supervisor sees it: the teleworkers and the phone contact.
    assert!(board.body.contains("2021-01-12"), "{}", board.body);
    assert!(board.body.contains("山田太郎"), "{}", board.body);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().unwrap().success());
}
