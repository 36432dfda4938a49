//! An HTML-only body as the text a reader sees (SPEC §4): block elements (`div`, `p`, `br`,
//! `hr`, `li`, `tr`, headings, `blockquote`, …) end lines, `blockquote` content is quoted with
//! `> ` as mail clients quote plain text, entities are decoded, and `script`, `style`, `title`
//! and comments are dropped. Outlook for iOS and the web send replies as HTML only, the reply
//! above `<hr><div id="divRplyFwdMsg"><b>差出人:</b> …<br><b>件名:</b> …`: the classifier can
//! tell that quote header block only when each field starts a line.
//!
//! A single pass over the text rather than a crate. html2text, the maintained converter, builds
//! a DOM with html5ever, which brings fifteen crates new to this tree (html5ever, markup5ever,
//! web_atoms and string_cache with tables generated at build time, tendril, the match_token
//! proc macro, …) to a 2-core CI, and wraps its output to a width, which would split the lines
//! the classifier reads. mail-parser's own `html_to_text` ends lines only at `<br>` and `</p>`,
//! which is the defect this replaces. Named entities go through mail-parser's table (its public
//! `add_html_token`: the full HTML5 list), so none is lost.
//!
//! It is a tokenizer, not a parser: no tree is built and misnested tags are taken as they come.
//! That is enough for reading a reply's first lines; it never panics on any input.

/// What an element does to the text, by its lower-case name. A `match` on the name compiles
/// to a switch on its length and a few comparisons: an Outlook message has hundreds of tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// `br`: a new line, even after an empty one.
    LineBreak,
    /// Start and end both end the current line (`div`, `p`, `hr`, `li`, `tr`, headings, …).
    Block,
    Blockquote,
    Pre,
    /// `td`, `th`: cells of a row stay on its line, apart.
    Cell,
    /// Content that is not text a reader sees: `script`, `style`, `title`, ….
    Hidden,
    Inline,
}

fn element(name: &str) -> Element {
    let mut buf = [0u8; 10];
    let Some(lower) = buf.get_mut(..name.len()) else {
        return Element::Inline;
    };
    for (d, s) in lower.iter_mut().zip(name.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    match &*lower {
        b"br" => Element::LineBreak,
        b"blockquote" => Element::Blockquote,
        b"pre" => Element::Pre,
        b"td" | b"th" => Element::Cell,
        b"script" | b"style" | b"title" | b"template" | b"noscript" | b"xml" => Element::Hidden,
        b"address" | b"article" | b"aside" | b"body" | b"caption" | b"center" | b"dd" | b"div"
        | b"dl" | b"dt" | b"fieldset" | b"figcaption" | b"figure" | b"footer" | b"form" | b"h1"
        | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"header" | b"hr" | b"html" | b"li" | b"main"
        | b"nav" | b"ol" | b"p" | b"section" | b"table" | b"tbody" | b"tfoot" | b"thead"
        | b"tr" | b"ul" => Element::Block,
        _ => Element::Inline,
    }
}

pub fn to_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = Out {
        text: String::with_capacity(html.len() / 2),
        line_open: false,
        space: false,
        quote: 0,
        pre: 0,
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' => match tag_at(html, i) {
                Markup::Tag { name, closing, end } => {
                    i = end;
                    match element(name) {
                        Element::Hidden if !closing => i = after_end_tag(html, i, name),
                        e => out.tag(e, closing),
                    }
                }
                Markup::Skip { end } => i = end,
                Markup::Text => {
                    out.text("<");
                    i += 1;
                }
            },
            b'&' => {
                let (decoded, end) = entity_at(html, i);
                i = end;
                if decoded.len() == 1 && decoded.as_bytes()[0].is_ascii_whitespace() {
                    out.whitespace(decoded.as_bytes()[0]);
                } else {
                    out.text(&decoded);
                }
            }
            c if c.is_ascii_whitespace() => {
                out.whitespace(c);
                i += 1;
            }
            _ => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'<' || c == b'&' || c.is_ascii_whitespace())
                    .map_or(b.len(), |n| i + n);
                // Every byte that ends a run is ASCII: `i..end` is on char boundaries.
                out.text(&html[i..end]);
                i = end;
            }
        }
    }
    out.text
}

/// The text written so far, and where in the document the writing is.
struct Out {
    text: String,
    /// The current line has text (or at least its quote prefix).
    line_open: bool,
    /// Whitespace came since the last text: one blank before the next text on this line.
    space: bool,
    /// `blockquote` depth: each line inside starts with that many `>`.
    quote: usize,
    /// Inside `pre`: line breaks and blanks are kept.
    pre: usize,
}

impl Out {
    fn text(&mut self, s: &str) {
        if !self.line_open {
            if self.quote > 0 {
                for _ in 0..self.quote {
                    self.text.push('>');
                }
                self.text.push(' ');
            }
            self.line_open = true;
        } else if self.space {
            self.text.push(' ');
        }
        self.space = false;
        self.text.push_str(s);
    }

    fn whitespace(&mut self, c: u8) {
        if self.pre > 0 {
            match c {
                b'\n' => self.line_break(),
                // A CRLF's LF ends the line.
                b'\r' => {}
                _ => self.text(" "),
            }
        } else if self.line_open {
            self.space = true;
        }
    }

    /// `<br>`: always a new line, even after an empty one.
    fn line_break(&mut self) {
        self.text.push('\n');
        self.line_open = false;
        self.space = false;
    }

    /// A block's edge: a new line unless the line is empty already.
    fn block(&mut self) {
        if self.line_open {
            self.line_break();
        }
        self.space = false;
    }

    fn tag(&mut self, element: Element, closing: bool) {
        match element {
            Element::LineBreak => self.line_break(),
            Element::Blockquote => {
                self.block();
                self.quote = if closing {
                    self.quote.saturating_sub(1)
                } else {
                    self.quote + 1
                };
            }
            Element::Pre => {
                self.block();
                self.pre = if closing {
                    self.pre.saturating_sub(1)
                } else {
                    self.pre + 1
                };
            }
            Element::Cell => {
                if self.line_open {
                    self.space = true;
                }
            }
            Element::Block => self.block(),
            Element::Hidden | Element::Inline => {}
        }
    }
}

enum Markup<'a> {
    Tag {
        name: &'a str,
        closing: bool,
        /// Just after the tag's `>`.
        end: usize,
    },
    /// A comment, a doctype, a processing instruction: nothing to read.
    Skip { end: usize },
    /// A `<` that opens no tag (`a < b`).
    Text,
}

/// What starts at `html[i] == '<'`.
fn tag_at(html: &str, i: usize) -> Markup<'_> {
    let b = html.as_bytes();
    let mut j = i + 1;
    match b.get(j) {
        Some(b'!') => {
            if b[j..].starts_with(b"!--") {
                let end = find(b, j + 3, b"-->").map_or(b.len(), |k| k + 3);
                return Markup::Skip { end };
            }
            return Markup::Skip {
                end: find(b, j, b">").map_or(b.len(), |k| k + 1),
            };
        }
        Some(b'?') => {
            return Markup::Skip {
                end: find(b, j, b">").map_or(b.len(), |k| k + 1),
            };
        }
        _ => {}
    }
    let closing = b.get(j) == Some(&b'/');
    if closing {
        j += 1;
    }
    let start = j;
    while b
        .get(j)
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b':' | b'_'))
    {
        j += 1;
    }
    if j == start || !b[start].is_ascii_alphabetic() {
        return Markup::Text;
    }
    let name = &html[start..j];
    // Attributes, up to the `>` that is not inside a quoted value.
    let mut quote = None;
    while let Some(&c) = b.get(j) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => break,
            (None, _) => {}
        }
        j += 1;
    }
    Markup::Tag {
        name,
        closing,
        end: (j + 1).min(b.len()),
    }
}

/// Just after the end tag `</name>` that closes a hidden element opened before `from`; the
/// end of the text when it is never closed.
fn after_end_tag(html: &str, from: usize, name: &str) -> usize {
    let b = html.as_bytes();
    let mut k = from;
    while let Some(at) = find(b, k, b"</") {
        let after = at + 2 + name.len();
        if b.get(at + 2..after)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            && !b.get(after).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return find(b, after, b">").map_or(b.len(), |e| e + 1);
        }
        k = at + 2;
    }
    b.len()
}

/// The entity at `html[i] == '&'` decoded, and where the text goes on. A `&` that starts no
/// entity (`&` alone, an unknown name, no `;` within reach) is itself.
fn entity_at(html: &str, i: usize) -> (String, usize) {
    let b = html.as_bytes();
    // The longest HTML5 entity name is 31 characters (`&CounterClockwiseContourIntegral;`).
    let end = b[i + 1..]
        .iter()
        .take(33)
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'#'))
        .map(|n| i + 1 + n);
    match end {
        Some(semi) if b[semi] == b';' && semi > i + 1 => {
            let mut out = String::new();
            // `&…;` is ASCII: a valid token for mail-parser's decoder.
            mail_parser::decoders::html::add_html_token(&mut out, &b[i..=semi], false);
            (out, semi + 1)
        }
        _ => ("&".to_string(), i + 1),
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|k| from + k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(html: &str) -> Vec<String> {
        to_text(html)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn an_outlook_web_reply_keeps_its_header_block_on_lines_of_its_own() {
        let html = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\
            <style type=\"text/css\" style=\"display:none;\"> P {margin-top:0;margin-bottom:0;} </style></head>\
            <body dir=\"ltr\"><div style=\"font-family: Calibri\">本日の業務を終了します</div>\
            <hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
            <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\" style=\"font-size:11pt\">\
            <b>差出人:</b> 山田 太郎 &lt;yamada@city.example.lg.jp&gt;<br>\
            <b>送信日時:</b> 2021年1月12日 8:27<br><b>宛先:</b> telework@city.example.lg.jp<br>\
            <b>件名:</b> 業務開始</font><div>&nbsp;</div></div><div>業務開始します</div></body></html>";
        assert_eq!(
            lines(html),
            [
                "本日の業務を終了します",
                "差出人: 山田 太郎 <yamada@city.example.lg.jp>",
                "送信日時: 2021年1月12日 8:27",
                "宛先: telework@city.example.lg.jp",
                "件名: 業務開始",
                "業務開始します",
            ]
        );
    }

    #[test]
    fn blockquote_content_is_quoted_line_by_line() {
        let html = "<div>終了します</div><div class=\"gmail_quote\"><div>2021年1月12日(火) 8:27 山田太郎 &lt;<a href=\"mailto:y@example.jp\">y@example.jp</a>&gt;:<br></div>\
            <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\"><div>業務開始します<br>地震がありました</div>\
            <blockquote>内側</blockquote></blockquote></div>";
        assert_eq!(
            lines(html),
            [
                "終了します",
                "2021年1月12日(火) 8:27 山田太郎 <y@example.jp>:",
                "> 業務開始します",
                "> 地震がありました",
                ">> 内側",
            ]
        );
    }

    #[test]
    fn block_elements_end_lines_and_inline_ones_do_not() {
        assert_eq!(
            lines("<p>本日の<b>業務を開始</b>します</p><p>山田&nbsp;太郎</p>"),
            ["本日の業務を開始します", "山田\u{a0}太郎"]
        );
        assert_eq!(
            lines(
                "<ul><li>一</li><li>二</li></ul><h1>三</h1><table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"
            ),
            ["一", "二", "三", "a b", "c"]
        );
        assert_eq!(lines("a<br>b<br/>c<BR >d"), ["a", "b", "c", "d"]);
        assert_eq!(lines("a<hr>b"), ["a", "b"]);
    }

    #[test]
    fn whitespace_collapses_outside_pre_and_is_kept_inside() {
        assert_eq!(
            to_text("<div>  業務を\n   開始  します </div>"),
            "業務を 開始 します\n"
        );
        assert_eq!(lines("<pre>一\n二  三\r\n四</pre>"), ["一", "二  三", "四"]);
    }

    #[test]
    fn scripts_styles_titles_and_comments_are_not_text() {
        let html = "<html><head><title>業務開始</title><style>p{x:1}</style>\
            <script>var a = '</div>';</script></head><body><!-- 開始 -->\
            <!--[if mso]>x<![endif]--><p>本文</p><SCRIPT type=x>開始</SCRIPT>終わり</body></html>";
        assert_eq!(lines(html), ["本文", "終わり"]);
    }

    #[test]
    fn entities_decode_and_a_bare_ampersand_or_angle_is_text() {
        assert_eq!(
            lines("&lt;b&gt; &amp; &#x958B;&#22987; &copy; &bogus; AT&T a < b &"),
            ["<b> & 開始 © &bogus; AT&T a < b &"]
        );
    }

    #[test]
    fn a_quoted_gt_in_an_attribute_does_not_end_the_tag() {
        assert_eq!(lines("<div title=\"a > b\">本文</div>"), ["本文"]);
        assert_eq!(lines("<div title='x>y'>本文"), ["本文"]);
    }

    #[test]
    fn truncated_markup_ends_quietly() {
        assert_eq!(lines("本文<div"), ["本文"]);
        assert_eq!(lines("本文<!-- never closed"), ["本文"]);
        assert_eq!(lines("本文<script>never closed"), ["本文"]);
        assert_eq!(lines("本文&amp"), ["本文&amp"]);
        assert_eq!(to_text(""), "");
    }

    proptest! {
        #[test]
        fn any_text_converts_without_panicking(s in any::<String>()) {
            let _ = to_text(&s);
        }

        #[test]
        fn markup_like_text_converts_without_panicking(parts in prop::collection::vec(prop_oneof![
            Just("<".to_string()), Just(">".to_string()), Just("</".to_string()),
            Just("<!--".to_string()), Just("-->".to_string()), Just("&".to_string()),
            Just(";".to_string()), Just("&#x".to_string()), Just("\"".to_string()),
            Just("<blockquote>".to_string()), Just("</blockquote>".to_string()),
            Just("<script>".to_string()), Just("<pre>".to_string()), Just("div".to_string()),
            Just("開始".to_string()), any::<String>(),
        ], 0..30)) {
            let _ = to_text(&parts.concat());
        }
    }
}
