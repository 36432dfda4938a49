//! What intake makes of real mail, through the real binary, on SQLite and PostgreSQL (SPEC §4):
//!
//! - the public bounce corpus `../shared/corpora/sisimai/` (629 real DSNs, vacation replies and
//!   feedback reports; read in place, never copied into the project) is recorded and never
//!   answered: as it is, with every From address registered as a teleworker, and with every From
//!   rewritten to a teleworker who has an order that day;
//! - replies as mail clients quote them (`tests/fixtures/quotes/`) are decided by what the
//!   teleworker wrote, not by the quote;
//! - automatic mail that carries only one or a few of the SPEC's marks (`tests/fixtures/auto/`),
//!   from a registered teleworker with an order, is `auto_reply` and unanswered.
//!
//! The fixtures are written by `tests/fixtures/quotes/make_fixtures.py`.

mod helpers;

use std::path::{Path, PathBuf};

use helpers::{Zt, backends, fixture};
use serde_json::Value;

/// The corpus lies beside the project (CI has `shared/` next to its clone).
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/sisimai/maildir/bsd");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the bounce corpus is read from {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 629, "the corpus's README counts 629 messages");
    files
}

fn ingest_json(zt: &Zt, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--json"];
    all.extend(args);
    let out = zt.ok(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ingest --json is not JSON ({e}):\n{out}"))
}

/// One `ingest --json` call for all of `files` (629 processes would take minutes).
fn ingest_files(zt: &Zt, pre: &[&str], files: &[PathBuf]) -> Value {
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut args: Vec<&str> = pre.to_vec();
    args.extend(paths.iter().map(String::as_str));
    ingest_json(zt, &args)
}

/// Every message recorded, none answered: each is `auto_reply` (or a duplicate of one recorded
/// in the same run, or, where `unparseable_ok`, kept as unparseable), nothing was queued, and
/// the outbox wrote nothing.
fn assert_recorded_and_unanswered(
    zt: &Zt,
    v: &Value,
    files: &[PathBuf],
    way: &str,
    unparseable_ok: bool,
) {
    let msgs = v["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), files.len(), "{way}: one entry per message");
    let mut wrong = Vec::new();
    for m in msgs {
        let reason = m["reason"].as_str().unwrap_or("");
        let ok = reason == "auto_reply"
            || reason == "duplicate"
            || (unparseable_ok && reason == "unparseable");
        if !ok {
            wrong.push(format!(
                "{}: {reason} (kind {}, from {})",
                m["file"]
                    .as_str()
                    .unwrap_or("?")
                    .rsplit('/')
                    .next()
                    .unwrap_or(""),
                m["kind"],
                m["from"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{way}, {:?}: {} of {} messages are not recorded as automatic mail:\n{}",
        zt.backend,
        wrong.len(),
        files.len(),
        wrong.join("\n")
    );
    let processed = v["processed"].as_u64().unwrap();
    let duplicates = v["duplicates"].as_u64().unwrap();
    assert_eq!(
        processed + duplicates,
        files.len() as u64,
        "{way}: every message recorded"
    );
    assert_eq!(v["mails_queued"], 0, "{way}: nothing queued");
    assert!(
        zt.sent().is_empty(),
        "{way}: nothing sent: {:#?}",
        zt.sent()
    );
}

#[test]
fn the_bounce_corpus_as_it_is_is_recorded_and_never_answered() {
    let files = corpus();
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let v = ingest_files(&zt, &[], &files);
        assert_recorded_and_unanswered(&zt, &v, &files, "as it is", true);
    }
}

#[test]
fn the_bounce_corpus_from_registered_teleworkers_is_never_answered() {
    let files = corpus();
    // Every From address as zaitaku reads it, each made a teleworker of 情報管理課.
    let mut addresses: Vec<String> = files
        .iter()
        .filter_map(|f| zaitaku::mail::parse::parse(&std::fs::read(f).unwrap()).ok())
        .map(|m| m.from)
        .filter(|a| a.contains('@'))
        .collect();
    addresses.sort();
    addresses.dedup();
    assert!(addresses.len() > 100, "{} addresses", addresses.len());
    for b in backends() {
        let zt = Zt::new(b);
        zt.ok(&["init"]);
        let mut rows: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let mut skipped = Vec::new();
        loop {
            let mut csv = String::from("employee_id,name,email,department,role\n");
            for (i, a) in rows.iter().enumerate() {
                csv.push_str(&format!("C{i:04},送信者{i},{a},情報管理課,teleworker\n"));
            }
            let p = zt.write("corpus-staff.csv", &csv);
            let r = zt.run(&["employees", "import", p.to_str().unwrap()]);
            if r.code == 0 {
                break;
            }
            // An address the importer rejects: `corpus-staff.csv:LINE: email: …`. Skip it.
            r.expect_code(2);
            let line: usize = r
                .stderr
                .split("corpus-staff.csv:")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no line in {:?}", r.stderr));
            skipped.push(rows.remove(line - 2).to_string());
        }
        assert!(
            skipped.len() <= 5,
            "the importer rejected {} addresses: {skipped:?}",
            skipped.len()
        );
        let v = ingest_files(&zt, &[], &files);
        assert_recorded_and_unanswered(&zt, &v, &files, "registered senders", true);
        // The register took: the senders are known, and still not answered.
        let known = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["employee_id"].is_string())
            .count();
        assert!(
            known > files.len() / 2,
            "{known} messages from registered senders"
        );
    }
}

/// `raw` with its From: header (folded lines included) replaced by `from`; one is added when
/// there is none. The body and every other header stay byte for byte.
fn with_from(raw: &[u8], from: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut rest = raw;
    let mut in_from = false;
    let mut done = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        let blank = line.iter().all(|b| matches!(b, b'\r' | b'\n'));
        if blank {
            if !done {
                out.extend_from_slice(format!("From: {from}\n").as_bytes());
            }
            out.extend_from_slice(line);
            out.extend_from_slice(rest);
            return out;
        }
        if in_from && matches!(line[0], b' ' | b'\t') {
            continue;
        }
        in_from = line.len() > 5 && line[..5].eq_ignore_ascii_case(b"from:");
        if in_from {
            if !done {
                out.extend_from_slice(format!("From: {from}\n").as_bytes());
                done = true;
            }
            continue;
        }
        out.extend_from_slice(line);
    }
    // Headers only, no blank line.
    if !done {
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(format!("From: {from}\n").as_bytes());
    }
    out
}

#[test]
fn the_bounce_corpus_from_a_teleworker_with_an_order_is_never_answered() {
    let files = corpus();
    let copies = tempfile::tempdir().unwrap();
    let rewritten: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let to = copies.path().join(f.file_name().unwrap());
            let raw = std::fs::read(f).unwrap();
            std::fs::write(
                &to,
                with_from(&raw, "Yamada Taro <yamada@city.example.lg.jp>"),
            )
            .unwrap();
            to
        })
        .collect();
    for b in backends() {
        let zt = Zt::new(b);
        zt.with_staff().with_orders_0112();
        let v = ingest_files(
            &zt,
            &["--received-at", "2021-01-12T10:00:00+09:00"],
            &rewritten,
        );
        assert_recorded_and_unanswered(
            &zt,
            &v,
            &rewritten,
            "From a teleworker with an order",
            false,
        );
        assert!(
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["from"] == "yamada@city.example.lg.jp"),
            "every From rewritten"
        );
    }
}

#[test]
fn the_from_rewrite_replaces_folded_from_headers_and_adds_a_missing_one() {
    let raw = b"From MAILER-DAEMON Sun Sep  7 21:40:07 2008\nReceived: x\nFrom: a\n  <a@b.jp>\nSubject: s\n\nFrom: body\n";
    assert_eq!(
        String::from_utf8(with_from(raw, "y@c.jp")).unwrap(),
        "From MAILER-DAEMON Sun Sep  7 21:40:07 2008\nReceived: x\nFrom: y@c.jp\nSubject: s\n\nFrom: body\n"
    );
    assert_eq!(
        String::from_utf8(with_from(b"Subject: s\r\n\r\nbody", "y@c.jp")).unwrap(),
        "Subject: s\r\nFrom: y@c.jp\n\r\nbody"
    );
}

/// The register's staff, with more addresses for E1001 and E1002: their phones' and the
/// automatic senders' of the fixtures (a register may hold any address).
fn staff_with_addresses(zt: &Zt, more: &[(&str, &str)]) -> PathBuf {
    let csv = std::fs::read_to_string(fixture("register/employees.csv")).unwrap();
    let mut out = String::new();
    for line in csv.lines() {
        let mut cols: Vec<String> = line.split(',').map(str::to_string).collect();
        for (id, addr) in more {
            if cols[0] == *id {
                cols[2] = format!("{};{addr}", cols[2]);
            }
        }
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    zt.write("staff-more.csv", &out)
}

#[test]
fn replies_are_decided_by_what_the_teleworker_wrote_not_by_the_quote() {
    // file, employee, kind, incident noted
    let cases = [
        ("outlook365-ja.eml", "E1001", "end", false),
        ("outlook365-en.eml", "E1002", "end", false),
        ("outlook-live-bold.eml", "E1001", "end", false),
        ("outlook-ios-html-only.eml", "E1001", "end", false),
        ("gmail-ja.eml", "E1001", "end", false),
        ("apple-mail-ja.eml", "E1001", "end", false),
        ("thunderbird-ja-wrote.eml", "E1001", "end", false),
        ("thunderbird-ja-kakimashita.eml", "E1002", "end", false),
        ("carrier-docomo-emoji.eml", "E1002", "start", false),
        ("carrier-softbank-sjis.eml", "E1001", "end", false),
        ("classic-mac-cr-only.eml", "E1002", "start", false),
    ];
    let files: Vec<PathBuf> = cases
        .iter()
        .map(|(f, ..)| fixture(&format!("quotes/{f}")))
        .collect();
    for b in backends() {
        let zt = Zt::new(b);
        let staff = staff_with_addresses(
            &zt,
            &[
                ("E1001", "yamada-t@i.softbank.jp"),
                ("E1002", "sato.hanako.0312@docomo.ne.jp"),
            ],
        );
        zt.with_staff_from(&staff).with_orders_0112();
        let v = ingest_files(&zt, &["--no-send"], &files);
        let msgs = v["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), cases.len());
        let mut wrong = Vec::new();
        for (m, (file, employee, kind, incident)) in msgs.iter().zip(cases) {
            let got = (
                m["employee_id"].as_str().unwrap_or(""),
                m["kind"].as_str().unwrap_or(""),
                m["reason"].as_str().unwrap_or(""),
                m["incident"].as_bool().unwrap_or(true),
            );
            if got != (employee, kind, "matched", incident) {
                wrong.push(format!(
                    "{file}: got {got:?}, expected ({employee}, {kind}, matched, {incident})"
                ));
            }
        }
        assert!(wrong.is_empty(), "{b:?}:\n{}", wrong.join("\n"));
        // Classic Mac OS mail is read whole: its arrival comes from its Received: header.
        let mac = &msgs[cases.len() - 1];
        assert_eq!(mac["at"], "2021-01-12T08:28:15+09:00");
        // No incident was noted, so no supervisor was alerted.
        let board = zt.status_json("2021-01-12", "2021-01-12T18:00:00+09:00");
        for t in board["teleworkers"].as_array().unwrap() {
            let incidents = t["escalations"]
                .as_array()
                .map_or(0, |e| e.iter().filter(|e| e["kind"] == "incident").count());
            assert_eq!(incidents, 0, "{t}");
        }
    }
}

#[test]
fn automatic_mail_from_a_teleworker_with_an_order_is_never_answered() {
    let files = [
        "icloud-vacation.eml",
        "au-kddi-error.eml",
        "amazon-ses-sns-notification.eml",
        "bounce-post-master.eml",
        "hotmail-complaint.eml",
        "list-loop-alert.eml",
        "fwd-returned-mail.eml",
    ];
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|f| fixture(&format!("auto/{f}")))
        .collect();
    for b in backends() {
        let zt = Zt::new(b);
        // Each automatic sender is one of E1001's addresses: the marks alone must decide.
        let staff = staff_with_addresses(
            &zt,
            &[
                ("E1001", "no-reply@ezweb.ne.jp"),
                ("E1001", "no-reply@sns.amazonaws.com"),
                ("E1001", "post_master@mail.example.co.jp"),
                ("E1001", "staff@hotmail.com"),
            ],
        );
        zt.with_staff_from(&staff).with_orders_0112();
        let v = ingest_files(&zt, &[], &paths);
        assert_recorded_and_unanswered(&zt, &v, &paths, "automatic mail", false);
        for (m, f) in v["messages"].as_array().unwrap().iter().zip(files) {
            assert_eq!(
                m["employee_id"], "E1001",
                "{f}: from a registered teleworker"
            );
            assert_eq!(m["kind"], "unclassified", "{f}");
        }
        let board = zt.status_json("2021-01-12", "2021-01-12T12:00:00+09:00");
        let reasons: Vec<&str> = board["unmatched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, vec!["auto_reply"; files.len()], "{board}");
    }
}
