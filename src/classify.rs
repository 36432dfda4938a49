//! Mail classification: decides from a report mail's Subject and body whether a
//! teleworker is starting work, ending it, taking leave or reporting an
//! incident.
//!
//! This module owns the word table, Subject prefix stripping (`Re:`, `転送:`, …),
//! the removal of quoted text and signatures, the out-of-office check, the
//! check for a supervisor's reply that resolves an escalation, and the text
//! kept as the day's work summary (日報). It is pure — no I/O — so every rule
//! the SPEC states can be pinned down by a unit test here.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// What a report mail says the teleworker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    Start,
    End,
    Leave,
    Incident,
    #[default]
    Unclassified,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Start,
        Kind::End,
        Kind::Leave,
        Kind::Incident,
        Kind::Unclassified,
    ];

    /// The stable name stored in the database and shown in templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::End => "end",
            Kind::Leave => "leave",
            Kind::Incident => "incident",
            Kind::Unclassified => "unclassified",
        }
    }

    /// Inverse of [`Kind::as_str`]; tolerant of case and surrounding blanks
    /// because the value may come from a hand-edited config or a CLI flag.
    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim();
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as its stored name (`"start"`), as the JSON contract has it.
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The outcome of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub kind: Kind,
    /// A leave word is in the deciding text. Always true for [`Kind::Leave`];
    /// beside [`Kind::Start`]/[`Kind::End`] it is the leave noted on the report.
    pub leave: bool,
    /// An incident word is anywhere in the unquoted text (the Subject or any
    /// unquoted body line, not only the first five): supervisors are told at
    /// once whatever the kind.
    pub incident: bool,
    /// The Subject carried a reply prefix (`Re:`, `返信:`, `AW:`).
    pub is_reply: bool,
}

/// Only the top of the body is read for the kind: what teleworkers type comes
/// first, and anything further down is more likely to be pasted or quoted.
const BODY_LINES_FOR_KIND: usize = 5;

/// One row of the SPEC's word table. Japanese has no spaces between words, so
/// its words match anywhere; English words must stand alone so that `end` is
/// not found in `weekend` or `send`.
struct WordSet {
    japanese: &'static [&'static str],
    /// Lower case: matched against an ASCII-lowercased line.
    english: &'static [&'static str],
}

// The longer Japanese words are implied by the shorter ones (業務開始 contains
// 開始) but are kept so the table reads exactly like the SPEC.
const START_WORDS: WordSet = WordSet {
    japanese: &["開始", "始業", "業務開始", "勤務開始", "在宅勤務開始"],
    english: &["start", "begin"],
};
const END_WORDS: WordSet = WordSet {
    japanese: &["終了", "終業", "業務終了", "勤務終了", "在宅勤務終了"],
    english: &["end", "finish", "done"],
};
const LEAVE_WORDS: WordSet = WordSet {
    japanese: &["休暇", "年休", "時間休", "有給"],
    english: &["leave"],
};
const INCIDENT_WORDS: WordSet = WordSet {
    japanese: &["事故", "災害", "怪我", "負傷", "地震"],
    english: &["accident", "injury"],
};

impl WordSet {
    /// `lower` must be an ASCII-lowercased, NFKC-normalised line; lowercasing
    /// leaves Japanese untouched, so one haystack serves both languages.
    fn found_in(&self, lower: &str, letters: Letters) -> bool {
        (letters.japanese && self.japanese.iter().any(|word| lower.contains(word)))
            || (letters.ascii
                && self
                    .english
                    .iter()
                    .any(|word| contains_ascii_word(lower, word)))
    }
}

/// Which of the word lists a line can hold at all: most lines are Japanese without an ASCII
/// letter, or ASCII only, and skip half the searches.
#[derive(Debug, Clone, Copy)]
struct Letters {
    ascii: bool,
    japanese: bool,
}

impl Letters {
    fn of(line: &str) -> Letters {
        Letters {
            ascii: line.bytes().any(|b| b.is_ascii_alphabetic()),
            japanese: !line.is_ascii(),
        }
    }
}

/// Which kinds of word one line (or the Subject) holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Hits {
    start: bool,
    end: bool,
    leave: bool,
    incident: bool,
}

impl Hits {
    fn of(normalised: &str) -> Hits {
        let lower = normalised.to_ascii_lowercase();
        let letters = Letters::of(&lower);
        Hits {
            start: START_WORDS.found_in(&lower, letters),
            end: END_WORDS.found_in(&lower, letters),
            leave: LEAVE_WORDS.found_in(&lower, letters),
            incident: INCIDENT_WORDS.found_in(&lower, letters),
        }
    }

    fn any(self) -> bool {
        self.start || self.end || self.leave || self.incident
    }
}

/// True when `word` occurs in `haystack` with an ASCII word boundary on both
/// sides (the neighbour is absent or not `[A-Za-z0-9_]`).
///
/// Works on bytes on purpose: every byte of a multi-byte UTF-8 character is
/// ≥ 0x80 and so never an ASCII word byte, which makes `業務startします` match
/// without any char-index arithmetic that could slice mid-character.
fn contains_ascii_word(haystack: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let bytes = haystack.as_bytes();
    haystack.match_indices(word).any(|(at, found)| {
        let before = at.checked_sub(1).and_then(|i| bytes.get(i));
        let after = bytes.get(at + found.len());
        !before.is_some_and(|&b| is_ascii_word_byte(b))
            && !after.is_some_and(|&b| is_ascii_word_byte(b))
    })
}

fn is_ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// NFKC folds full-width Latin (`ＳＴＡＲＴ`), full-width `＞` and `：`, and
/// half-width katakana into the forms the rules below are written against.
///
/// Only the stretches that need it are rewritten. A mail with one full-width letter used to be
/// normalised whole, each of its characters decomposed and composed again: that was a tenth
/// of the intake's reading threads on the city bench (issue 22). The text is cut before each
/// character that starts a stretch of its own (`stands_alone`); a stretch holding only such
/// characters is copied as it is, any other is normalised by itself, which gives the same
/// text as normalising the whole (UAX #15, "Detecting Normalization Forms": no composition
/// or reordering crosses such a character).
fn nfkc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // `s[copied..]` is not in `out` yet; `from` is where the stretch in hand begins, and
    // `changes` whether it holds a character NFKC may change.
    let (mut copied, mut from, mut changes) = (0, 0, false);
    for (i, c) in s.char_indices() {
        if !stands_alone(c) {
            changes = true;
            continue;
        }
        if changes {
            out.push_str(&s[copied..from]);
            out.extend(s[from..i].nfkc());
            copied = i;
            changes = false;
        }
        from = i;
    }
    if changes {
        out.push_str(&s[copied..from]);
        out.extend(s[from..].nfkc());
    } else {
        out.push_str(&s[copied..]);
    }
    out
}

/// A character NFKC keeps as it is whatever surrounds it, and that nothing before it
/// combines with: quick check "yes" (never changed, never the second of a composition) and
/// canonical combining class 0 (never reordered).
fn stands_alone(c: char) -> bool {
    // ASCII, and the hiragana, katakana and kanji Japanese mail is mostly made of, are known
    // without the two table look-ups (`fast_ranges_stand_alone` checks them all).
    c.is_ascii() || is_common_japanese(c) || looked_up_alone(c)
}

/// 、。「」『』, hiragana ぁ..ゖ, katakana ァ..ヺ and ー, and the CJK unified ideographs: each
/// stands alone (`fast_ranges_stand_alone` checks every one).
fn is_common_japanese(c: char) -> bool {
    matches!(c,
        '\u{3001}'..='\u{3002}'
        | '\u{300c}'..='\u{300f}'
        | '\u{3041}'..='\u{3096}'
        | '\u{30a1}'..='\u{30fa}'
        | '\u{30fc}'
        | '\u{4e00}'..='\u{9fff}')
}

fn looked_up_alone(c: char) -> bool {
    unicode_normalization::char::canonical_combining_class(c) == 0
        && unicode_normalization::is_nfkc_quick(std::iter::once(c))
            == unicode_normalization::IsNormalized::Yes
}

/// Classify a report mail. See the module docs and the SPEC for the rules.
pub fn classify(subject: &str, body: &str) -> Classification {
    classify_lines(subject, &unquoted_lines(body))
}

/// `classify` and `work_summary` of one message at once: both read the body's unquoted
/// lines, which cost more than the rest of the rules together (NFKC of the whole body). The
/// intake does this on the thread that parses the mail, so the batch's own task does not
/// read the body again.
pub fn classify_with_summary(subject: &str, body: &str) -> (Classification, String) {
    let lines = unquoted_lines(body);
    (classify_lines(subject, &lines), lines.join("\n"))
}

fn classify_lines(subject: &str, lines: &[String]) -> Classification {
    let (subject, is_reply) = strip_subject_prefixes(subject);
    let subject_hits = [Hits::of(&subject)];
    let body_hits: Vec<Hits> = lines.iter().map(|l| Hits::of(l)).collect();
    let head = body_hits
        .get(..BODY_LINES_FOR_KIND)
        .unwrap_or(body_hits.as_slice());

    // A reply's Subject is usually the morning's 「業務開始」 echoed back, so
    // what the teleworker typed must win; a fresh mail's Subject is what they
    // chose to say.
    let (first, fallback): (&[Hits], &[Hits]) = if is_reply {
        (head, &subject_hits)
    } else {
        (&subject_hits, head)
    };
    let deciding = if first.iter().any(|h| h.any()) {
        first
    } else {
        fallback
    };

    let kind = match deciding.iter().find(|h| h.any()) {
        None => Kind::Unclassified,
        // The bot asks which one rather than guess.
        Some(h) if h.start && h.end => Kind::Unclassified,
        Some(h) if h.start => Kind::Start,
        Some(h) if h.end => Kind::End,
        // 「怪我のため休暇を取ります」 is a leave request; the incident still
        // reaches supervisors through `incident` below.
        Some(h) if h.leave => Kind::Leave,
        Some(_) => Kind::Incident,
    };

    Classification {
        kind,
        leave: deciding.iter().any(|h| h.leave),
        incident: subject_hits.iter().chain(&body_hits).any(|h| h.incident),
        is_reply,
    }
}

/// Subject prefixes mail clients add, and whether each marks a reply.
/// `AW:` is German Outlook's `Re:`, `WG:` its `Fwd:`.
const SUBJECT_PREFIXES: &[(&str, bool)] = &[
    ("re", true),
    ("返信", true),
    ("aw", true),
    ("fwd", false),
    ("fw", false),
    ("転送", false),
    ("wg", false),
];

/// Strip reply/forward prefixes, repeatedly and in any case, returning the
/// NFKC-normalised remainder and whether any stripped prefix marked a reply.
///
/// Accepts `Re:`, `RE：`, `Re[2]:`, `Re(2):`, `Re :` and stacks of them such as
/// `Re: Fwd: 転送: RE：`.
pub fn strip_subject_prefixes(subject: &str) -> (String, bool) {
    let normalised = nfkc(subject);
    let mut rest = normalised.trim();
    let mut is_reply = false;
    while let Some((after, reply)) = strip_one_prefix(rest) {
        rest = after.trim_start();
        is_reply |= reply;
    }
    (rest.trim_end().to_string(), is_reply)
}

fn strip_one_prefix(s: &str) -> Option<(&str, bool)> {
    // ASCII lowercasing keeps every byte offset, so a prefix length measured on
    // `lower` is a valid char boundary in `s`.
    let lower = s.to_ascii_lowercase();
    SUBJECT_PREFIXES.iter().find_map(|&(prefix, reply)| {
        if !lower.starts_with(prefix) {
            return None;
        }
        let after = skip_reply_counter(s.get(prefix.len()..)?);
        after
            .trim_start()
            .strip_prefix(':')
            .map(|rest| (rest, reply))
    })
}

/// Skips the `[2]` / `(2)` some clients put after `Re` to count replies.
fn skip_reply_counter(s: &str) -> &str {
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = s.strip_prefix(open)
            && let Some(end) = inner.find(close)
            && end > 0
            && inner[..end].chars().all(|c| c.is_ascii_digit())
        {
            return &inner[end + close.len_utf8()..];
        }
    }
    s
}

/// The body lines the sender wrote: NFKC-normalised, trimmed, non-empty, in
/// order, with quoted text and the signature removed.
///
/// Removed are `>` lines; everything from `-----Original Message-----` /
/// `-----元のメッセージ-----` (and Gmail's `Forwarded message` rule), from a
/// `From:`/`差出人:` line that opens a quoted message's header block (Outlook's,
/// also bold `*From:*` / `**差出人:**` and indented), from a quote header
/// (`… wrote:`, `…のメッセージ:`, `…のメール:`, `…書きました:`, or any line ending
/// in `:` whose next non-empty line is quoted), and from a `--` signature line.
/// Lines break at LF, CRLF and a lone CR (classic Mac OS) alike.
pub fn unquoted_lines(body: &str) -> Vec<String> {
    let text = nfkc(body).replace("\r\n", "\n");
    let lines: Vec<&str> = text.split(is_line_break).map(trim_line).collect();

    let mut kept: Vec<String> = Vec::new();
    // Raw index of the last kept line, to spot a quote header wrapped onto two
    // lines by the sender's client.
    let mut last_kept_at: Option<usize> = None;

    for (i, &line) in lines.iter().enumerate() {
        if line.is_empty() || line.starts_with('>') {
            continue;
        }
        if is_signature_separator(line) || is_original_message_rule(line) {
            break;
        }
        let next = next_non_empty(&lines, i);
        if opens_header_block(&lines, i) {
            // Outlook draws a line of underscores above the header block.
            while kept.last().is_some_and(|l| is_underscore_rule(l)) {
                kept.pop();
            }
            break;
        }
        if is_quote_header(line, next) {
            // Gmail wraps a long header as 「… Taro <」 / 「taro@example.jp> wrote:」.
            if last_kept_at.is_some_and(|k| k + 1 == i)
                && kept.last().is_some_and(|l| l.ends_with('<'))
            {
                kept.pop();
            }
            break;
        }
        kept.push(line.to_string());
        last_kept_at = Some(i);
    }
    kept
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Besides whitespace, drops the BOM and zero-width space that some clients
/// leave at a line start, where they would hide a leading `>`.
fn trim_line(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}')
}

fn next_non_empty<'a>(lines: &[&'a str], i: usize) -> Option<&'a str> {
    lines.iter().skip(i + 1).copied().find(|l| !l.is_empty())
}

/// The usenet signature separator is `-- ` (with the space), but many
/// clients strip trailing blanks, so `--` alone counts too.
fn is_signature_separator(line: &str) -> bool {
    line == "--"
}

fn is_original_message_rule(line: &str) -> bool {
    if !line.starts_with("--") {
        return false;
    }
    let inner = line
        .trim_matches(|c: char| c == '-' || c.is_whitespace())
        .to_ascii_lowercase();
    matches!(
        inner.as_str(),
        "original message" | "元のメッセージ" | "forwarded message" | "転送メッセージ"
    )
}

/// A quoted message's header block: a `From:`/`差出人:` field line followed,
/// within the next two non-empty lines (the first may be a wrapped address),
/// by another field (`Sent:`, `送信日時:`, `件名:` …). A lone `From:` line may
/// be the sender's own words (「From: 自宅」), so it alone opens nothing.
fn opens_header_block(lines: &[&str], i: usize) -> bool {
    if header_field(lines[i]) != Some(Field::From) {
        return false;
    }
    lines[i + 1..]
        .iter()
        .filter(|l| !l.is_empty())
        .take(2)
        .any(|l| header_field(l).is_some())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    From,
    Other,
}

/// The field a line of a quoted header block starts with, if any: `From: …`,
/// Outlook Live's bold `*From:* …`, markdown's `**差出人:** …`.
fn header_field(line: &str) -> Option<Field> {
    const FROM: &[&str] = &["from", "差出人", "送信者"];
    const OTHER: &[&str] = &[
        "sent",
        "date",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "送信日時",
        "送信日",
        "日付",
        "宛先",
        "件名",
    ];
    let (name, _) = line.split_once(':')?;
    let name = name.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    // The longest name is 送信日時, 12 bytes: a long line is not a field.
    if name.len() > 12 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if FROM.contains(&lower.as_str()) {
        Some(Field::From)
    } else if OTHER.contains(&lower.as_str()) {
        Some(Field::Other)
    } else {
        None
    }
}

fn is_underscore_rule(line: &str) -> bool {
    !line.is_empty() && line.chars().all(|c| c == '_')
}

/// 「2021年1月12日(火) 8:27 山田太郎 <…>:」 has no fixed wording, so a line
/// ending in `:` counts only when quoted lines follow it; the known client
/// phrasings count on their own.
///
/// Known phrasings: 「… wrote:」 (Thunderbird, also 「2021/01/12 8:27, 山田太郎
/// wrote:」 in Japanese), 「…のメッセージ:」 and 「…のメール:」 (Apple Mail),
/// 「… さんは書きました:」 (Thunderbird ja). Bold or italic decoration around
/// the line (`*…wrote:*`) is not part of it.
fn is_quote_header(line: &str, next: Option<&str>) -> bool {
    let line = line.trim_end_matches(['*', '_']);
    let lower = line.to_ascii_lowercase();
    lower.ends_with("wrote:")
        || line.ends_with("のメッセージ:")
        || line.ends_with("のメール:")
        || line.ends_with("書きました:")
        || (line.ends_with(':') && next.is_some_and(|n| n.starts_with('>')))
}

/// Whether a Subject is an autoresponder's or a mail server's (SPEC §4): an
/// out-of-office reply or a bounce, also forwarded (`Fwd: Returned mail`).
/// Automatic mail must not be filed as a report nor answered, or two bots
/// could mail each other forever. Returns which of the two it is.
pub fn automatic_subject(subject: &str) -> Option<&'static str> {
    const OUT_OF_OFFICE: &[&str] = &[
        "不在:",
        "自動応答",
        "自動返信",
        "out of office",
        "out-of-office",
        "automatic reply",
        "auto reply",
        "auto-reply",
        "autoreply",
    ];
    const BOUNCE: &[&str] = &[
        "undeliverable",
        "undelivered mail returned to sender",
        "returned mail",
        "delivery status notification",
        "mail delivery failed",
        "メールエラー通知",
        "配信できません",
        "配送エラー",
        // Beyond the SPEC's list, the fixed subjects of common servers: qmail's and Yahoo's
        // bounces, Exchange and others' "Delivery Failure", Hotmail's complaint (JMRP).
        "failure notice",
        "delivery failure",
        "complaint about message from",
    ];
    let lower = nfkc(subject).to_ascii_lowercase();
    // Collapsing blanks lets "Out of  Office" match.
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    if OUT_OF_OFFICE.iter().any(|m| collapsed.contains(m)) {
        Some("out-of-office subject")
    } else if BOUNCE.iter().any(|m| collapsed.contains(m)) {
        Some("bounce subject")
    } else {
        None
    }
}

/// Whether a supervisor's reply resolves an escalation: one of the first
/// unquoted lines says 確認済(み), 電話連絡あり, or the whole word OK.
///
/// Only unquoted lines count because the escalation being answered is itself
/// quoted below and must not resolve itself.
pub fn is_resolution(text: &str) -> bool {
    unquoted_lines(text)
        .iter()
        .take(BODY_LINES_FOR_KIND)
        .any(|line| {
            line.contains("確認済")
                || line.contains("電話連絡あり")
                || contains_ascii_word(&line.to_ascii_lowercase(), "ok")
        })
}

/// The day's work summary (日報) kept with an end report: every unquoted line,
/// not only the five read for the kind, joined by `\n`.
pub fn work_summary(body: &str) -> String {
    unquoted_lines(body).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The stretch-by-stretch NFKC gives what normalising the whole text gives, on text
    /// made of what mail holds: ASCII, kana and kanji, full-width and half-width forms,
    /// combining marks (dakuten, accents), Hangul jamo, compatibility ideographs.
    #[test]
    fn nfkc_by_stretches_is_nfkc() {
        let pieces = [
            "a", "Z", " ", "\n", ">", "業", "務", "開", "始", "が", "か", "\u{3099}", "\u{309b}",
            "ｶ", "ﾞ", "ｽ", "ﾀ", "Ｓ", "ｔ", "＞", "：", "①", "㍻", "e", "\u{301}", "\u{327}",
            "\u{1100}", "\u{1161}", "\u{11a8}", "한", "\u{f900}", "ﬁ", "Å", "\u{212b}", "ｰ",
            "\u{3000}", "\u{fe0f}", "😀", "\u{0345}", "\u{0f73}",
        ];
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = (rng % 12) as usize;
            let mut text = String::new();
            let mut r = rng;
            for _ in 0..len {
                r = r.rotate_left(11).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                text.push_str(pieces[(r >> 33) as usize % pieces.len()]);
            }
            assert_eq!(nfkc(&text), text.nfkc().collect::<String>(), "{text:?}");
        }
    }

    #[test]
    fn fast_ranges_stand_alone() {
        let fast: Vec<char> = ('\u{3000}'..='\u{a000}')
            .filter(|&c| is_common_japanese(c))
            .collect();
        assert_eq!(fast.len(), 2 + 4 + 86 + 90 + 1 + 20_992);
        for c in fast {
            assert!(looked_up_alone(c), "U+{:04X}", c as u32);
        }
    }

    fn kind_of(subject: &str, body: &str) -> Kind {
        classify(subject, body).kind
    }

    #[test]
    fn every_word_of_the_table_is_recognised_in_the_subject_and_in_the_body() {
        let cases = [
            ("開始", Kind::Start),
            ("始業", Kind::Start),
            ("業務開始", Kind::Start),
            ("勤務開始", Kind::Start),
            ("在宅勤務開始", Kind::Start),
            ("start", Kind::Start),
            ("begin", Kind::Start),
            ("終了", Kind::End),
            ("終業", Kind::End),
            ("業務終了", Kind::End),
            ("勤務終了", Kind::End),
            ("在宅勤務終了", Kind::End),
            ("end", Kind::End),
            ("finish", Kind::End),
            ("done", Kind::End),
            ("休暇", Kind::Leave),
            ("年休", Kind::Leave),
            ("時間休", Kind::Leave),
            ("有給", Kind::Leave),
            ("leave", Kind::Leave),
            ("事故", Kind::Incident),
            ("災害", Kind::Incident),
            ("怪我", Kind::Incident),
            ("負傷", Kind::Incident),
            ("地震", Kind::Incident),
            ("accident", Kind::Incident),
            ("injury", Kind::Incident),
        ];
        for (word, kind) in cases {
            let subject = format!("本日{word}します");
            assert_eq!(kind_of(&subject, ""), kind, "subject {subject:?}");
            let body = format!("おはようございます。\n{word}\nよろしくお願いします。");
            assert_eq!(kind_of("", &body), kind, "body {body:?}");
            let incident = kind == Kind::Incident;
            assert_eq!(classify(&subject, "").incident, incident, "{word}");
        }
    }

    #[test]
    fn english_words_match_in_any_case() {
        for subject in ["START", "Start", "Begin work", "END", "Finish", "DONE"] {
            assert_ne!(kind_of(subject, ""), Kind::Unclassified, "{subject}");
        }
    }

    #[test]
    fn fullwidth_start_in_a_reply_counts_as_start() {
        let c = classify("Re: 連絡", "ＳＴＡＲＴ");
        assert_eq!(c.kind, Kind::Start);
        assert!(c.is_reply);
        assert_eq!(kind_of("ＥＮＤ", ""), Kind::End);
        assert_eq!(kind_of("ｆｉｎｉｓｈ", ""), Kind::End);
    }

    #[test]
    fn english_words_count_only_as_whole_words() {
        let cases = [
            ("Have a nice weekend", Kind::Unclassified),
            ("I will send it", Kind::Unclassified),
            ("pending review", Kind::Unclassified),
            ("Ending soon", Kind::Unclassified),
            ("started already", Kind::Unclassified),
            ("beginner course", Kind::Unclassified),
            ("start_time", Kind::Unclassified),
            ("restart", Kind::Unclassified),
            ("Done.", Kind::End),
            ("END!", Kind::End),
            ("finish, thanks", Kind::End),
            ("(start)", Kind::Start),
            ("業務startします", Kind::Start),
            ("9:00 start", Kind::Start),
        ];
        for (subject, kind) in cases {
            assert_eq!(kind_of(subject, ""), kind, "{subject:?}");
        }
    }

    #[test]
    fn stacked_reply_and_forward_prefixes_are_stripped() {
        let cases = [
            ("Re: Fwd: 転送: RE：業務開始", "業務開始", true),
            ("Fwd: 業務開始", "業務開始", false),
            ("FW:FW: 業務開始", "業務開始", false),
            ("転送：業務開始", "業務開始", false),
            ("返信: 業務開始", "業務開始", true),
            ("re: re: 業務開始", "業務開始", true),
            ("Re[2]: 業務開始", "業務開始", true),
            ("RE(3): 業務開始", "業務開始", true),
            ("Re : 業務開始", "業務開始", true),
            ("AW: WG: Beginn", "Beginn", true),
            ("WG: Beginn", "Beginn", false),
            ("Fwd: Re: 業務終了", "業務終了", true),
            ("Ｒｅ：業務開始", "業務開始", true),
            ("  業務開始  ", "業務開始", false),
            ("Return: 業務開始", "Return: 業務開始", false),
            ("Re 業務開始", "Re 業務開始", false),
            ("Re[x]: 業務開始", "Re[x]: 業務開始", false),
            ("Re:", "", true),
            ("", "", false),
        ];
        for (subject, stripped, reply) in cases {
            assert_eq!(
                strip_subject_prefixes(subject),
                (stripped.to_string(), reply),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn a_reply_is_decided_by_its_body() {
        let c = classify("Re: 業務開始", "本日の業務を終了します");
        assert_eq!(c.kind, Kind::End);
        assert!(c.is_reply);
        assert_eq!(
            kind_of("返信: 業務開始", "本日の業務を終了します"),
            Kind::End
        );
    }

    #[test]
    fn a_reply_whose_body_has_no_word_falls_back_to_the_subject() {
        assert_eq!(kind_of("Re: 業務開始", "よろしくお願いします"), Kind::Start);
        assert_eq!(kind_of("Re: 業務開始", ""), Kind::Start);
    }

    #[test]
    fn a_fresh_mail_is_decided_by_its_subject_before_its_body() {
        assert_eq!(kind_of("業務開始", "本日の業務を終了します"), Kind::Start);
        assert_eq!(
            kind_of("おはようございます", "業務を開始します"),
            Kind::Start
        );
        assert_eq!(kind_of("", "本日の業務を終了します"), Kind::End);
    }

    #[test]
    fn a_forward_is_not_a_reply_so_its_subject_decides() {
        let c = classify("Fwd: 業務開始", "業務終了");
        assert_eq!(c.kind, Kind::Start);
        assert!(!c.is_reply);
    }

    #[test]
    fn the_first_line_holding_a_word_decides() {
        let body = "おはようございます\n本日の業務を開始します\n17時に終了予定です";
        assert_eq!(kind_of("", body), Kind::Start);
        let body = "お疲れ様です\n本日は終了します\n明日は9時に開始します";
        assert_eq!(kind_of("Re: 業務開始", body), Kind::End);
    }

    #[test]
    fn start_and_end_in_the_deciding_line_leave_it_unclassified() {
        assert_eq!(
            kind_of("9時に開始、18時に終了します", ""),
            Kind::Unclassified
        );
        assert_eq!(kind_of("start and end", ""), Kind::Unclassified);
        assert_eq!(
            kind_of("Re: 連絡", "業務開始・終了の連絡です"),
            Kind::Unclassified
        );
    }

    #[test]
    fn start_beside_a_leave_word_is_a_start_with_the_leave_noted() {
        let c = classify("業務開始（午後は時間休）", "");
        assert_eq!((c.kind, c.leave, c.incident), (Kind::Start, true, false));
        let c = classify(
            "Re: 業務開始",
            "本日の業務を終了します\n明日は年休をいただきます",
        );
        assert_eq!((c.kind, c.leave), (Kind::End, true));
        let c = classify("業務開始", "");
        assert!(!c.leave);
    }

    #[test]
    fn leave_alone_is_a_leave() {
        let c = classify("明日は休暇をいただきます", "");
        assert_eq!((c.kind, c.leave, c.incident), (Kind::Leave, true, false));
        assert_eq!(kind_of("", "有給休暇の申請です"), Kind::Leave);
    }

    #[test]
    fn incident_alone_is_an_incident_and_tells_supervisors() {
        let c = classify("通勤中に事故に遭いました", "");
        assert_eq!((c.kind, c.incident), (Kind::Incident, true));
    }

    #[test]
    fn leave_because_of_an_injury_is_a_leave_with_the_incident_flagged() {
        let c = classify("怪我のため休暇を取ります", "");
        assert_eq!((c.kind, c.leave, c.incident), (Kind::Leave, true, true));
    }

    #[test]
    fn an_incident_in_the_body_of_a_start_mail_still_tells_supervisors() {
        let c = classify("業務開始", "業務を開始します。\n昨夜の地震で棚が倒れました");
        assert_eq!((c.kind, c.incident), (Kind::Start, true));
        let body = "開始します\n一\n二\n三\n四\n五\n六\n自宅で転倒し負傷しました";
        let c = classify("", body);
        assert_eq!((c.kind, c.incident), (Kind::Start, true));
        let c = classify("Re: 事故の件", "業務を開始します");
        assert_eq!((c.kind, c.incident), (Kind::Start, true));
    }

    #[test]
    fn an_incident_word_only_in_quoted_text_does_not_alert() {
        let c = classify("Re: 連絡", "業務を開始します\n> 地震がありました");
        assert_eq!((c.kind, c.incident), (Kind::Start, false));
    }

    #[test]
    fn a_quoted_start_is_ignored() {
        assert_eq!(
            kind_of("Re: 連絡", "承知しました\n> 業務開始します"),
            Kind::Unclassified
        );
        assert_eq!(
            kind_of("Re: 連絡", "承知しました\n＞業務開始します"),
            Kind::Unclassified
        );
        assert_eq!(kind_of("", ">> start\n  > start"), Kind::Unclassified);
    }

    #[test]
    fn a_gmail_japanese_quote_header_and_everything_under_it_are_ignored() {
        let body = "本日の業務を終了します\n\n\
                    2021年1月12日(火) 8:27 山田太郎 <yamada@example.jp>:\n\n\
                    > 業務開始します\n> 地震がありました\n\n業務開始";
        assert_eq!(unquoted_lines(body), vec!["本日の業務を終了します"]);
        let c = classify("Re: 業務開始", body);
        assert_eq!((c.kind, c.incident), (Kind::End, false));
    }

    #[test]
    fn a_line_ending_in_a_colon_without_quoted_lines_below_is_kept() {
        let body = "本日の作業：\n資料作成\n業務を終了します";
        assert_eq!(
            unquoted_lines(body),
            vec!["本日の作業:", "資料作成", "業務を終了します"]
        );
    }

    #[test]
    fn an_original_message_block_is_ignored() {
        let body = "終了します\n\n-----Original Message-----\nFrom: 課長\n\
                    Sent: Tuesday, January 12, 2021 8:27 AM\nSubject: 業務開始\n\n業務開始します";
        assert_eq!(unquoted_lines(body), vec!["終了します"]);
        let body = "終了します\n-----元のメッセージ-----\n業務開始します";
        assert_eq!(unquoted_lines(body), vec!["終了します"]);
        assert_eq!(kind_of("Re: 連絡", body), Kind::End);
    }

    #[test]
    fn an_outlook_header_block_without_a_rule_is_ignored() {
        let body = "終了します\n\n________________________________\n差出人: 山田太郎\n\
                    送信日時: 2021年1月12日 8:27\n宛先: 課長\n件名: 業務開始\n\n業務開始します";
        assert_eq!(unquoted_lines(body), vec!["終了します"]);
        let body = "Done.\nFrom: Taro\nSent: Tuesday\nTo: Boss\n\nstart";
        assert_eq!(unquoted_lines(body), vec!["Done."]);
    }

    #[test]
    fn a_from_line_that_is_not_a_header_block_is_kept() {
        let body = "From: 自宅\n業務を開始します";
        assert_eq!(unquoted_lines(body), vec!["From: 自宅", "業務を開始します"]);
    }

    #[test]
    fn a_wrote_block_is_ignored() {
        let body = "Finished for today. Done.\n\n\
                    On Tue, Jan 12, 2021 at 8:27 AM Taro <taro@example.jp> wrote:\n\
                    > start\nstart";
        assert_eq!(unquoted_lines(body), vec!["Finished for today. Done."]);
        assert_eq!(kind_of("Re: start", body), Kind::End);

        let wrapped =
            "Done.\nOn Tue, Jan 12, 2021 at 8:27 AM Taro <\ntaro@example.jp> wrote:\n> start";
        assert_eq!(unquoted_lines(wrapped), vec!["Done."]);

        let apple = "終了します\n\n2021/01/12 8:27、山田太郎 のメッセージ：\n業務開始します";
        assert_eq!(unquoted_lines(apple), vec!["終了します"]);

        let thunderbird = "終了します\n山田 さんは書きました:\n業務開始します";
        assert_eq!(unquoted_lines(thunderbird), vec!["終了します"]);
    }

    #[test]
    fn an_outlook_live_bold_header_block_is_a_quote() {
        let body = "本日の業務を終了します\n\n\
                    *From:* Yamada Taro <yamada@example.jp>\n\
                    *Sent:* Tuesday, January 12, 2021 8:27 AM\n\
                    *To:* telework@example.jp\n\
                    *Subject:* 業務開始の連絡\n\n業務開始します\n地震がありました";
        assert_eq!(unquoted_lines(body), vec!["本日の業務を終了します"]);
        let c = classify("RE: 業務開始の連絡", body);
        assert_eq!((c.kind, c.incident), (Kind::End, false));
    }

    #[test]
    fn a_markdown_bold_japanese_header_block_is_a_quote() {
        let body = "本日の業務を終了します\n\n**差出人:** 山田太郎 <yamada@example.jp>\n\
                    **送信日時:** 2021年1月12日 8:27\n**宛先:** 課長\n**件名:** 業務開始\n\n地震";
        assert_eq!(unquoted_lines(body), vec!["本日の業務を終了します"]);
        let c = classify("Re: 業務開始", body);
        assert_eq!((c.kind, c.incident), (Kind::End, false));
    }

    #[test]
    fn an_indented_outlook_japanese_header_block_is_a_quote() {
        let body = "終了します\n\n    差出人: 山田太郎\n    送信日時: 2021年1月12日 8:27\n\
                    \t宛先: 課長\n    件名: 業務開始\n    業務開始します";
        assert_eq!(unquoted_lines(body), vec!["終了します"]);
        let body =
            "終了します\n\n差出人： 山田太郎\n日付： 2021年1月12日 火曜日 8:27\n件名： 業務開始";
        assert_eq!(unquoted_lines(body), vec!["終了します"]);
    }

    #[test]
    fn a_header_block_whose_from_line_wraps_is_still_a_quote() {
        let body = "Done.\nFrom: Yamada Taro\n<yamada@example.jp>\nSent: Tuesday\n\nstart";
        assert_eq!(unquoted_lines(body), vec!["Done."]);
    }

    #[test]
    fn header_like_lines_of_the_senders_own_are_kept() {
        let body = "宛先: 課長\n業務を開始します";
        assert_eq!(unquoted_lines(body), vec!["宛先: 課長", "業務を開始します"]);
        let body = "From: 自宅\n本日の作業:\n資料作成";
        assert_eq!(
            unquoted_lines(body),
            vec!["From: 自宅", "本日の作業:", "資料作成"]
        );
    }

    #[test]
    fn apple_mail_and_thunderbird_japanese_quote_headers_are_quotes() {
        let apple = "本日の業務を終了します\n\n\
                     2021/01/12 8:27、山田太郎 <yamada@example.jp>のメール:\n\n\
                     業務開始します\n地震がありました";
        assert_eq!(unquoted_lines(apple), vec!["本日の業務を終了します"]);
        let c = classify("Re: 業務開始", apple);
        assert_eq!((c.kind, c.incident), (Kind::End, false));

        let thunderbird =
            "本日の業務を終了します\n\n2021/01/12 8:27, 山田太郎 wrote:\n業務開始します";
        assert_eq!(unquoted_lines(thunderbird), vec!["本日の業務を終了します"]);
        let thunderbird = "本日の業務を終了します\n山田太郎 さんは書きました:\n業務開始します";
        assert_eq!(unquoted_lines(thunderbird), vec!["本日の業務を終了します"]);
        let bold = "Done.\n*On Tue, Jan 12, 2021 at 8:27 AM Taro wrote:*\nstart";
        assert_eq!(unquoted_lines(bold), vec!["Done."]);
    }

    #[test]
    fn a_lone_cr_ends_a_line_as_lf_and_crlf_do() {
        assert_eq!(
            unquoted_lines("一\r二\r\n三\n四\r\r五"),
            vec!["一", "二", "三", "四", "五"]
        );
        let body = "おはようございます\r本日の業務を終了します\r\r\
                    2021年1月12日(火) 8:27 山田太郎 <yamada@example.jp>:\r> 業務開始\r> 地震";
        let c = classify("Re: 業務開始", body);
        assert_eq!((c.kind, c.incident), (Kind::End, false));
    }

    #[test]
    fn half_width_katakana_is_read_as_full_width() {
        assert_eq!(unquoted_lines("ｷﾞｮｳﾑｶｲｼ"), vec!["ギョウムカイシ"]);
        // Readings are not words of the table: only what the table holds counts.
        assert_eq!(kind_of("", "ｷﾞｮｳﾑｶｲｼ"), Kind::Unclassified);
        assert_eq!(kind_of("", "ｷｮｳﾊ業務開始ｼﾏｽ"), Kind::Start);
        assert_eq!(
            unquoted_lines("ｷｮｳﾊ業務開始ｼﾏｽ"),
            vec!["キョウハ業務開始シマス"]
        );
    }

    #[test]
    fn full_width_forms_of_table_words_match() {
        for (text, kind) in [
            ("ＳＴＡＲＴ", Kind::Start),
            ("ｓｔａｒｔ", Kind::Start),
            ("Ｂｅｇｉｎ", Kind::Start),
            ("ＥＮＤ", Kind::End),
            ("Ｄｏｎｅ", Kind::End),
            ("ＬＥＡＶＥ", Kind::Leave),
            ("ＡＣＣＩＤＥＮＴ", Kind::Incident),
        ] {
            assert_eq!(kind_of(text, ""), kind, "subject {text}");
            assert_eq!(kind_of("", text), kind, "body {text}");
        }
    }

    #[test]
    fn a_signature_and_everything_under_it_are_ignored() {
        let body = "業務を終了します\n-- \n山田太郎\n在宅勤務開始プロジェクト担当";
        assert_eq!(unquoted_lines(body), vec!["業務を終了します"]);
        assert_eq!(kind_of("Re: 連絡", body), Kind::End);
        let body = "よろしくお願いします\n--\n開始";
        assert_eq!(kind_of("", body), Kind::Unclassified);
        let body = "---\n開始";
        assert_eq!(kind_of("", body), Kind::Start);
    }

    #[test]
    fn only_the_first_five_unquoted_lines_decide_the_kind() {
        let body = "一\n二\n\n> 三\n三\n四\n五\n業務開始";
        assert_eq!(kind_of("", body), Kind::Unclassified);
        let body = "一\n\n\n> quoted\n二\n三\n四\n業務開始";
        assert_eq!(kind_of("", body), Kind::Start);
    }

    #[test]
    fn empty_input_is_unclassified() {
        let expected = Classification {
            kind: Kind::Unclassified,
            leave: false,
            incident: false,
            is_reply: false,
        };
        assert_eq!(classify("", ""), expected);
        assert_eq!(classify("  ", "\n\r\n  \n"), expected);
        assert_eq!(classify("こんにちは", "よろしくお願いします"), expected);
    }

    #[test]
    fn out_of_office_and_bounce_subjects_are_recognised() {
        const OOO: Option<&str> = Some("out-of-office subject");
        const BOUNCE: Option<&str> = Some("bounce subject");
        let cases = [
            ("不在: 業務開始", OOO),
            ("不在：業務開始", OOO),
            ("自動応答: 業務開始", OOO),
            ("【自動返信】業務開始", OOO),
            ("Out of Office: start", OOO),
            ("OUT OF  OFFICE", OOO),
            ("Automatic reply: 業務開始", OOO),
            ("Auto reply: 業務開始", OOO),
            ("Auto-Reply: start", OOO),
            ("Autoreply: start", OOO),
            ("ＡＵＴＯＲＥＰＬＹ", OOO),
            ("Undeliverable: 業務開始", BOUNCE),
            ("Undelivered Mail Returned to Sender", BOUNCE),
            ("Returned mail: see transcript for details", BOUNCE),
            ("Fwd: Returned mail: User unknown", BOUNCE),
            ("FW: Delivery Status Notification (Failure)", BOUNCE),
            (
                "転送: Mail delivery failed: returning message to sender",
                BOUNCE,
            ),
            ("メールエラー通知", BOUNCE),
            ("メッセージを配信できません。", BOUNCE),
            ("配送エラー: 業務開始", BOUNCE),
            ("業務開始", None),
            ("Re: 不在の件", None),
            ("Delivery of the report", None),
            ("", None),
        ];
        for (subject, expected) in cases {
            assert_eq!(automatic_subject(subject), expected, "{subject:?}");
        }
    }

    #[test]
    fn a_supervisors_confirmation_resolves_an_escalation() {
        let cases = [
            ("確認済", true),
            ("確認済みです。", true),
            ("本人から電話連絡ありました", true),
            ("OK", true),
            ("ok, thanks", true),
            ("ＯＫです", true),
            ("Ok.", true),
            ("book", false),
            ("okay", false),
            ("未確認です", false),
            ("確認します\n> 確認済", false),
            (
                "確認します\n\n2021年1月12日(火) 8:27 課長 <boss@example.jp>:\n> OK",
                false,
            ),
            ("", false),
            ("一\n二\n三\n四\n五\nOK", false),
        ];
        for (text, expected) in cases {
            assert_eq!(is_resolution(text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_work_summary_keeps_every_unquoted_line_but_no_quote() {
        let body = "本日の業務を終了します\r\n\r\n資料作成\n会議\n電話対応\n メール処理 \n研修\n\
                    -- \n山田太郎";
        assert_eq!(
            work_summary(body),
            "本日の業務を終了します\n資料作成\n会議\n電話対応\nメール処理\n研修"
        );
        assert_eq!(work_summary(""), "");
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(Kind::parse(" START "), Some(Kind::Start));
        assert_eq!(Kind::parse("begin"), None);
        assert_eq!(Kind::parse(""), None);
    }

    /// Fragments that steer random input through every quoting and matching
    /// branch, plus characters that are multi-byte or change under NFKC.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just(">".to_string()),
            Just("＞".to_string()),
            Just("-- ".to_string()),
            Just("--".to_string()),
            Just("-----Original Message-----".to_string()),
            Just("From:".to_string()),
            Just("Sent:".to_string()),
            Just("wrote:".to_string()),
            Just(":".to_string()),
            Just("：".to_string()),
            Just("<".to_string()),
            Just("Re".to_string()),
            Just("[2]".to_string()),
            Just("[".to_string()),
            Just("end".to_string()),
            Just("ＳＴＡＲＴ".to_string()),
            Just("業務開始".to_string()),
            Just("地震".to_string()),
            Just("\u{301}".to_string()),
            Just("\u{feff}".to_string()),
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn classify_never_panics_on_arbitrary_text(subject in any::<String>(), body in any::<String>()) {
            let _ = classify(&subject, &body);
            let _ = automatic_subject(&subject);
            let _ = is_resolution(&body);
            let _ = work_summary(&body);
        }

        #[test]
        fn classify_never_panics_on_mail_like_text(
            subject in prop::collection::vec(fragment(), 0..8),
            body in prop::collection::vec(fragment(), 0..40),
        ) {
            let subject = subject.concat();
            let body = body.concat();
            let _ = classify(&subject, &body);
            for line in unquoted_lines(&body) {
                prop_assert!(!line.is_empty());
                prop_assert!(!line.starts_with('>'));
                prop_assert_eq!(line.trim(), line.as_str());
            }
        }
    }
}
