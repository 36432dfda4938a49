//! How a survey is handed over: the format (`--format`) and, for the text formats, the encoding
//! (`--encoding`). Each is parsed once, where the request is read; the renderers take the types.

use super::{Survey, csv, json, markdown, svg};

/// The four renderings of a survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `md`: headings and tables to paste into the survey.
    Markdown,
    /// `json`: for scripts.
    Json,
    /// `csv`: for Excel.
    Csv,
    /// `svg`: a chart of the months by division.
    Svg,
}

impl Format {
    /// Every format, in the order the help lists them.
    pub const ALL: [Format; 4] = [Format::Markdown, Format::Json, Format::Csv, Format::Svg];

    /// `md`, `json`, `csv` or `svg`, as written on the command line.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The name on the command line, which is also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Svg => "svg",
        }
    }

    /// Whether the format can be written in `enc`: JSON and SVG are always UTF-8.
    pub fn takes(self, enc: Encoding) -> bool {
        enc == Encoding::Utf8 || matches!(self, Format::Markdown | Format::Csv)
    }

    /// The file's bytes: Markdown and CSV in `enc`, JSON and SVG in UTF-8 whatever `enc` says.
    pub fn render(self, s: &Survey, enc: Encoding) -> Vec<u8> {
        match self {
            Format::Markdown => enc.encode(&markdown::render_markdown(s)),
            Format::Json => json::render_json(s).into_bytes(),
            Format::Csv => csv::render_csv(s, enc),
            Format::Svg => svg::render_svg(s).into_bytes(),
        }
    }
}

/// Text encodings for CSV (and Markdown): Excel opens UTF-8 only with a BOM, and older Excel
/// and the J-LIS forms expect Shift_JIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    ShiftJis,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "utf_8" | "utf8" => Some(Encoding::Utf8),
            "shift_jis" | "sjis" | "cp932" | "windows_31j" => Some(Encoding::ShiftJis),
            _ => None,
        }
    }

    /// The bytes of `text`; a character Shift_JIS lacks becomes `&#NNNN;` rather than a loss.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::ShiftJis => encoding_rs::SHIFT_JIS.encode(text).0.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_parse_as_people_write_them() {
        assert_eq!(Encoding::parse("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::parse("shift_jis"), Some(Encoding::ShiftJis));
        assert_eq!(Encoding::parse("Shift-JIS"), Some(Encoding::ShiftJis));
        assert_eq!(Encoding::parse("latin1"), None);
    }

    #[test]
    fn formats_parse_from_their_names_and_only_text_takes_shift_jis() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
        }
        assert_eq!(Format::parse("pdf"), None);
        assert_eq!(Format::parse("markdown"), None);
        let sjis: Vec<&str> = Format::ALL
            .into_iter()
            .filter(|f| f.takes(Encoding::ShiftJis))
            .map(Format::name)
            .collect();
        assert_eq!(sjis, ["md", "csv"]);
        assert!(Format::ALL.iter().all(|f| f.takes(Encoding::Utf8)));
    }
}
