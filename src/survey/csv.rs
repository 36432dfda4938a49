//! The survey as CSV for Excel: titled sections, each with its own header row, a blank line
//! between sections, CRLF line ends, UTF-8 with a BOM or Shift_JIS.
//!
//! Written with the `csv` crate (quoting of `,`, `"`, CR and LF). It writes an empty record as
//! `""`, so the blank line between two sections is written here, between two writers.

use super::{Encoding, Survey, kind_label};

/// One section: its rows, each a list of cells.
#[derive(Default)]
struct Table(Vec<Vec<String>>);

impl Table {
    fn row(&mut self, cells: &[&dyn ToString]) -> &mut Table {
        self.0.push(cells.iter().map(|c| c.to_string()).collect());
        self
    }
}

/// CSV a spreadsheet user can read: titled sections, each with its own header row.
pub fn render_csv(s: &Survey, enc: Encoding) -> Vec<u8> {
    let sections = [
        heading(s),
        overview(s),
        by_division(s),
        by_department(s),
        by_month(s),
        id_use(s),
        reports(s),
        escalations(s),
    ];
    let mut out = Vec::new();
    if enc == Encoding::Utf8 {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    for (i, table) in sections.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        write_table(&mut out, table);
    }
    match enc {
        Encoding::Utf8 => out,
        // Every cell is a `&str`, so the CSV is UTF-8 until it is encoded here.
        Encoding::ShiftJis => enc.encode(&String::from_utf8_lossy(&out)),
    }
}

fn write_table(out: &mut Vec<u8>, table: &Table) {
    let mut w = ::csv::WriterBuilder::new()
        .flexible(true)
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out);
    for row in &table.0 {
        // Writing to memory: the only error the writer knows is an I/O one.
        w.write_record(row).expect("CSV into a Vec cannot fail");
    }
    w.flush().expect("CSV into a Vec cannot fail");
}

fn heading(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"自治体テレワーク推進実証実験 利用状況調査", &s.wave])
        .row(&[&"対象期間", &s.from, &s.to]);
    t
}

fn overview(s: &Survey) -> Table {
    let opt = |h: Option<f64>| h.map(|h| format!("{h:.2}")).unwrap_or_default();
    let mut t = Table::default();
    t.row(&[&"概要"])
        .row(&[&"項目", &"値"])
        .row(&[&"在宅勤務日数", &s.order_days])
        .row(&[&"在宅勤務をした職員数", &s.teleworkers])
        .row(&[&"在宅勤務をした課の数", &s.active_departments])
        .row(&[&"在宅勤務をした部の数", &s.active_divisions])
        .row(&[&"平均勤務時間（時間）", &opt(s.average_ordered_hours)])
        .row(&[
            &"平均勤務時間・時間休を除く（時間）",
            &opt(s.average_working_hours),
        ])
        .row(&[&"時間休の回数", &s.hourly_leave.spans])
        .row(&[&"時間休の時間", &format!("{:.2}", s.hourly_leave.hours)])
        .row(&[&"時間休のあった命令", &s.hourly_leave.orders]);
    t
}

fn by_division(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"部別"])
        .row(&[&"部", &"課数", &"在宅勤務日数", &"職員数"]);
    for d in &s.divisions {
        t.row(&[&d.division, &d.departments, &d.order_days, &d.teleworkers]);
    }
    t
}

fn by_department(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"課別"]).row(&[
        &"部",
        &"課",
        &"在宅勤務日数",
        &"職員数",
        &"在宅勤務のあった開庁日",
        &"開庁日に占める割合",
    ]);
    for d in &s.departments {
        let share = format!("{:.1}%", d.share_of_working_days * 100.0);
        t.row(&[
            &d.division,
            &d.department,
            &d.order_days,
            &d.teleworkers,
            &d.telework_days,
            &share,
        ]);
    }
    t
}

/// A column per active division, after the totals.
fn by_month(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"月別"]);
    let mut head: Vec<String> = vec![
        "月".into(),
        "在宅勤務日数".into(),
        "職員数".into(),
        "課数".into(),
    ];
    head.extend(
        s.divisions
            .iter()
            .map(|d| format!("{}（日数）", d.division)),
    );
    t.0.push(head);
    for m in &s.months {
        let mut r = vec![
            m.month.clone(),
            m.order_days.to_string(),
            m.teleworkers.to_string(),
            m.departments.to_string(),
        ];
        r.extend(m.by_division.iter().map(|d| d.order_days.to_string()));
        t.0.push(r);
    }
    t
}

fn id_use(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"テレワーク用ID"])
        .row(&[&"項目", &"値", &"日付"])
        .row(&[&"契約ID数", &s.ids.licensed])
        .row(&[&"期間中に割り当てたID", &s.ids.assigned])
        .row(&[&"IDを保有した職員数", &s.ids.holders])
        .row(&[
            &"同時に割り当てたIDの最大",
            &s.ids.peak_concurrent,
            &s.ids.peak_date.clone().unwrap_or_default(),
        ])
        .row(&[
            &"1日の在宅勤務者の最大",
            &s.ids.peak_teleworkers,
            &s.ids.peak_teleworkers_date.clone().unwrap_or_default(),
        ]);
    t
}

fn reports(s: &Survey) -> Table {
    let r = &s.reports;
    let mut t = Table::default();
    t.row(&[&"開始・終了の報告"])
        .row(&[&"項目", &"開始報告", &"終了報告"])
        .row(&[&"受信", &r.start_received, &r.end_received])
        .row(&[&"うち定刻", &r.start_on_time, &r.end_on_time])
        .row(&[&"うち早い", &r.start_early, &r.end_early])
        .row(&[&"うち遅れ", &r.start_late, &r.end_late])
        .row(&[&"未着", &r.missing_start, &r.missing_end]);
    t
}

fn escalations(s: &Survey) -> Table {
    let mut t = Table::default();
    t.row(&[&"エスカレーション"])
        .row(&[&"種類", &"件数", &"送信した通知", &"解決済み"]);
    for (k, c) in &s.escalations {
        t.row(&[&kind_label(k), &c.cases, &c.steps_sent, &c.resolved]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::testdata::sample;

    #[test]
    fn csv_has_a_bom_by_default_and_decodes_from_shift_jis() {
        let s = sample();
        let utf8 = render_csv(&s, Encoding::Utf8);
        assert!(utf8.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(utf8).unwrap();
        assert!(text.contains("総務部,情報管理課,3,2,0,0.0%\r\n"), "{text}");
        assert!(text.contains("2021-01,3,2,1,0,3\r\n"), "{text}");
        let sjis = render_csv(&s, Encoding::ShiftJis);
        assert!(!sjis.starts_with(b"\xEF\xBB\xBF"));
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad);
        assert_eq!(back, text.trim_start_matches('\u{feff}'));
    }

    #[test]
    fn names_with_commas_and_quotes_are_quoted_and_sections_are_parted_by_a_blank_line() {
        let mut s = sample();
        s.divisions[1].division = "総務部, \"本庁\"".into();
        let text = String::from_utf8(render_csv(&s, Encoding::Utf8)).unwrap();
        assert!(
            text.contains("\r\n\"総務部, \"\"本庁\"\"\",1,3,2\r\n"),
            "{text}"
        );
        // The csv crate writes an empty record as `""`: a blank line must stay blank.
        assert!(text.contains(",2021-02-28\r\n\r\n概要\r\n"), "{text}");
        assert!(!text.contains("\"\"\r\n"), "{text}");
        assert_eq!(text.matches("\r\n\r\n").count(), 7, "{text}");
        assert!(text.ends_with("事故・災害の報告,0,0,0\r\n"), "{text}");
    }
}
