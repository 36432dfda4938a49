//! Reading the CSV files IT staff give us: UTF-8 with or without a BOM, or Shift_JIS as Excel
//! saves it in Japan. Columns are checked against the contract before any row is looked at, and
//! every error names the file, the line and the column.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

pub struct Table {
    pub file: String,
    columns: HashMap<String, usize>,
    pub rows: Vec<Row>,
}

pub struct Row {
    /// The line in the file, counting the header as line 1.
    pub line: usize,
    record: csv::StringRecord,
}

impl Table {
    pub fn read(path: &Path, required: &[&str], optional: &[&str]) -> Result<Table> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&path.display().to_string(), &bytes, required, optional)
    }

    pub fn parse(file: &str, bytes: &[u8], required: &[&str], optional: &[&str]) -> Result<Table> {
        let text = decode(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| csv_error(file, &e))?.clone();
        let mut columns = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim().to_string();
            if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
                let mut all: Vec<&str> = required.to_vec();
                all.extend(optional);
                return Err(Error::bad(
                    format!("{file}:1: {h}"),
                    format!("unknown column; expected the columns {}", all.join(",")),
                ));
            }
            if columns.insert(h.clone(), i).is_some() {
                return Err(Error::bad(format!("{file}:1: {h}"), "column given twice"));
            }
        }
        if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
            return Err(Error::bad(
                format!("{file}:1: {missing}"),
                format!(
                    "missing column; expected the columns {}",
                    required.join(",")
                ),
            ));
        }
        let mut rows = Vec::new();
        for rec in reader.records() {
            let record = rec.map_err(|e| csv_error(file, &e))?;
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            if record.iter().all(|f| f.is_empty()) {
                continue;
            }
            rows.push(Row { line, record });
        }
        Ok(Table {
            file: file.to_string(),
            columns,
            rows,
        })
    }

    /// The field's text, or "" when the optional column is absent.
    pub fn get<'r>(&self, row: &'r Row, column: &str) -> &'r str {
        self.columns
            .get(column)
            .and_then(|&i| row.record.get(i))
            .unwrap_or("")
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The error for a field: `file:line: column: msg`.
    pub fn err(&self, row: &Row, column: &str, msg: impl Into<String>) -> Error {
        Error::bad(format!("{}:{}: {column}", self.file, row.line), msg)
    }
}

/// UTF-8 (a BOM is dropped), else Shift_JIS: Excel in a Japanese office saves CSV that way.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned(),
    }
}

fn csv_error(file: &str, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields like the header, got {len}")
        }
        _ => e.to_string(),
    };
    Error::bad(format!("{file}:{line}"), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_column_is_named_on_line_one() {
        let err = Table::parse(
            "e.csv",
            b"employee_id,nmae\n",
            &["employee_id", "name"],
            &[],
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "e.csv:1: nmae: unknown column; expected the columns employee_id,name"
        );
    }

    #[test]
    fn a_short_row_names_its_line() {
        let err = Table::parse("e.csv", b"a,b\n1,2\n3\n", &["a", "b"], &[])
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("e.csv:3: expected 2 fields"),
            "{err}"
        );
    }

    #[test]
    fn shift_jis_and_bom_are_read() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("name\n財政課\n");
        let t = Table::parse("s.csv", &sjis, &["name"], &[]).unwrap();
        assert_eq!(t.get(&t.rows[0], "name"), "財政課");
        let t = Table::parse("b.csv", "\u{feff}name\n人事課\n".as_bytes(), &["name"], &[]).unwrap();
        assert_eq!(t.get(&t.rows[0], "name"), "人事課");
        assert_eq!(t.rows[0].line, 2);
    }
}
