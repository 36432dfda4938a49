//! What a hostile sender (or a broken client) sends, as proptest strategies shared by the
//! property tests of every intake: mail for files, standard input, Maildir and IMAP; message
//! bodies for chat; the fields and bodies of a slash-command request. And a runner that is
//! repeatable: a fixed seed unless `PROPTEST_RNG_SEED` asks for another.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// The seed the property tests use when `PROPTEST_RNG_SEED` is not set: a failure seen once is
/// seen again on the next run, and on CI.
pub const SEED: u64 = 14;

/// A runner for hand-driven cases (`strategy.new_tree(&mut runner)`): the fixed seed, no
/// persistence files in the source tree.
pub fn runner() -> TestRunner {
    let mut config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    TestRunner::new(config)
}

/// One value of `strategy`, drawn with `runner`.
pub fn draw<S: Strategy>(strategy: &S, runner: &mut TestRunner) -> S::Value {
    use proptest::strategy::ValueTree;
    strategy.new_tree(runner).unwrap().current()
}

/// Control characters: the C0 set (NUL, escape, CR and LF among them) and DEL.
fn c0() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![0u8..0x20, Just(0x7f_u8)], 0..4)
}

/// Hostile input for every mail source: arbitrary bytes; mail-shaped messages from a registered
/// teleworker or a stranger whose Message-ID, subject and body carry NULs, escapes and other
/// control characters, as raw bytes and as encoded words; and broken MIME (see `broken_mime`).
pub fn hostile() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        (
            "[ -~]{0,30}",
            ".{0,40}",
            ".{0,200}",
            c0(),
            any::<bool>(),
            "[a-z]{1,8}",
        )
            .prop_map(|(id, subject, body, ctl, encode, who)| {
                let ctl = String::from_utf8(ctl).unwrap();
                let subject = if encode {
                    use base64::Engine;
                    let text = format!("{subject}{ctl}業務開始");
                    format!(
                        "=?UTF-8?B?{}?=",
                        base64::engine::general_purpose::STANDARD.encode(text)
                    )
                } else {
                    format!("{subject}{ctl}")
                };
                let from = if who.len() % 2 == 0 {
                    "yamada@city.example.lg.jp".to_string()
                } else {
                    format!("{who}@example.jp")
                };
                format!(
                    "From: {from}\r\nMessage-ID: <{id}{ctl}@x>\r\nIn-Reply-To: <{ctl}{id}>\r\n\
                     Subject: {subject}\r\n\r\n{body}{ctl}終了\0\r\n"
                )
                .into_bytes()
            }),
        broken_mime(),
    ]
}

/// Mail whose structure lies: CR-only or bare-LF line ends, charsets nobody knows, base64 and
/// quoted-printable that do not decode, a multipart whose boundary never comes or never ends, a
/// delivery report inside, raw 8-bit bytes in the headers, a header line of 20,000 characters.
pub fn broken_mime() -> impl Strategy<Value = Vec<u8>> {
    let eol = prop_oneof![Just("\r\n"), Just("\n"), Just("\r")];
    let charset = prop_oneof![
        Just("utf-8"),
        Just("iso-2022-jp"),
        Just("shift_jis"),
        Just("x-no-such-charset"),
        Just(""),
    ];
    let cte = prop_oneof![
        Just("base64"),
        Just("quoted-printable"),
        Just("8bit"),
        Just("x-uuencode"),
    ];
    let shape = 0u8..5;
    let from = prop_oneof![
        Just("yamada@city.example.lg.jp".to_string()),
        Just("sato@city.example.lg.jp".to_string()),
        "[a-z]{1,8}@example\\.jp",
        Just("<>".to_string()),
    ];
    (
        eol,
        charset,
        cte,
        shape,
        from,
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..300),
        prop_oneof![Just("開始"), Just("終了"), Just("事故"), Just("")],
        "[ -~]{0,12}",
    )
        .prop_map(
            |(eol, charset, cte, shape, from, header_bytes, body, word, id)| {
                let mut m = Vec::new();
                let line = |m: &mut Vec<u8>, parts: &[&[u8]]| {
                    for p in parts {
                        m.extend_from_slice(p);
                    }
                    m.extend_from_slice(eol.as_bytes());
                };
                line(&mut m, &[b"From: ", from.as_bytes()]);
                line(&mut m, &[b"Message-ID: <", id.as_bytes(), b"@broken>"]);
                line(&mut m, &[b"Subject: ", &header_bytes, word.as_bytes()]);
                line(&mut m, &[b"MIME-Version: 1.0"]);
                match shape {
                    // A single part that does not decode as it says.
                    0 => {
                        let ct = format!("Content-Type: text/plain; charset=\"{charset}\"");
                        line(&mut m, &[ct.as_bytes()]);
                        let te = format!("Content-Transfer-Encoding: {cte}");
                        line(&mut m, &[te.as_bytes()]);
                        line(&mut m, &[]);
                        line(&mut m, &[word.as_bytes(), b"=ZZ=", &body]);
                    }
                    // A multipart whose boundary never comes.
                    1 => {
                        line(
                            &mut m,
                            &[b"Content-Type: multipart/mixed; boundary=\"never\""],
                        );
                        line(&mut m, &[]);
                        line(&mut m, &[word.as_bytes(), &body]);
                    }
                    // A multipart that never ends, with a delivery report inside.
                    2 => {
                        line(&mut m, &[b"Content-Type: multipart/report; boundary=b"]);
                        line(&mut m, &[]);
                        line(&mut m, &[b"--b"]);
                        let ct = format!("Content-Type: text/plain; charset={charset}");
                        line(&mut m, &[ct.as_bytes()]);
                        line(&mut m, &[]);
                        line(&mut m, &[word.as_bytes(), &body]);
                        line(&mut m, &[b"--b"]);
                        line(&mut m, &[b"Content-Type: message/delivery-status"]);
                        line(&mut m, &[]);
                        line(&mut m, &[&header_bytes]);
                    }
                    // A header line of 20,000 characters, then the report word.
                    3 => {
                        let long = "x".repeat(20_000);
                        line(&mut m, &[b"X-Long: ", long.as_bytes()]);
                        line(&mut m, &[]);
                        line(&mut m, &[word.as_bytes(), &body]);
                    }
                    // HTML that never closes, in a charset that may not exist.
                    _ => {
                        let ct = format!("Content-Type: text/html; charset={charset}");
                        line(&mut m, &[ct.as_bytes()]);
                        line(&mut m, &[]);
                        line(
                            &mut m,
                            &[b"<div><blockquote><b>", word.as_bytes(), b"</b><hr", &body],
                        );
                    }
                }
                m
            },
        )
}

/// Pieces a chat message is made of when someone tries to break what reads it: the report
/// words, NUL and the other C0 controls, C1 controls, bidi overrides and isolates, zero-width
/// characters, line and paragraph separators, half-width kana, emoji, a byte-order mark.
fn chat_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop_oneof![
            Just("開始"),
            Just("終了"),
            Just("業務開始"),
            Just("本日の業務を終了します"),
            Just("事故"),
            Just("時間休 13:00-15:00"),
            Just("ｷﾞｮｳﾑｶｲｼ"),
            Just("確認済"),
            Just("ok"),
            Just("👩‍💻"),
            Just("\u{feff}"),
        ]
        .prop_map(str::to_string),
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        prop_oneof![
            Just('\u{200b}'),
            Just('\u{200e}'),
            Just('\u{200f}'),
            Just('\u{202a}'),
            Just('\u{202e}'),
            Just('\u{2066}'),
            Just('\u{2069}'),
            Just('\u{2028}'),
            Just('\u{2029}'),
        ]
        .prop_map(|c| c.to_string()),
        ".{1,8}",
    ]
}

/// Hostile chat text (a Matrix message's body, a slash command's text): arbitrary Unicode,
/// the pieces above in any order, very long text (about 30 KB, under a homeserver's 64 KiB
/// event limit), empty text, white space alone.
pub fn chat_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,200}",
        proptest::collection::vec(chat_piece(), 0..30).prop_map(|p| p.concat()),
        proptest::collection::vec(chat_piece(), 1..6).prop_map(|p| {
            let unit = p.concat();
            // Controls travel as `\u0000` in JSON: six bytes each.
            let cost: usize = unit
                .chars()
                .map(|c| if c.is_control() { 6 } else { c.len_utf8() })
                .sum::<usize>()
                .max(1);
            unit.repeat(30_000 / cost)
        }),
        Just(String::new()),
        Just(" \t\n\u{3000}".to_string()),
    ]
}

/// Text as a form field may carry it: the chat text above, or arbitrary bytes (invalid UTF-8
/// when percent-decoded).
pub fn field_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        chat_text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

/// `application/x-www-form-urlencoded`, byte by byte.
pub fn form_bytes(fields: &[(&str, &[u8])]) -> String {
    fn enc(b: &[u8]) -> String {
        b.iter()
            .map(|&b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k.as_bytes()), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
