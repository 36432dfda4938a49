//! Property tests for the intakes a stranger can reach without a file system, starting with
//! IMAP (issue 14: per-message isolation on every source, on SQLite and PostgreSQL). Each is
//! the attack: batches of generated hostile messages (NULs, C0 controls, broken MIME, arbitrary
//! bytes), each batch followed by one good report from a registered teleworker, through the
//! real servers and the real binary. What a user would notice is checked: the good report is
//! answered exactly once, nothing hostile is answered twice or stops the intake, and every
//! message is on the board.
//!
//! The cases come from a fixed seed (`helpers::hostile::SEED`); `PROPTEST_RNG_SEED=N` draws
//! others.

mod helpers;

use std::collections::BTreeMap;

use helpers::hostile::{draw, hostile, runner};
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
