//! The survey as Markdown, the way IT pastes it into the J-LIS form: headings and tables,
//! names not codes.

use std::fmt::Write as _;

use super::{Survey, ja_date, ja_month, kind_label};

/// The summary as IT pastes it into the survey: headings and tables, names not codes.
pub fn render_markdown(s: &Survey) -> String {
    let mut o = String::new();
    heading_and_overview(&mut o, s);
    by_division(&mut o, s);
    by_department(&mut o, s);
    by_month(&mut o, s);
    id_use(&mut o, s);
    reports(&mut o, s);
    escalations(&mut o, s);
    footnote(&mut o, s);
    o
}

/// The title, the period and the totals.
fn heading_and_overview(o: &mut String, s: &Survey) {
    let _ = writeln!(
        o,
        "# 自治体テレワーク推進実証実験 利用状況調査（{}）\n",
        cell(&s.wave)
    );
    let _ = writeln!(o, "対象期間: {} ～ {}\n", ja_date(&s.from), ja_date(&s.to));

    let _ = writeln!(o, "## 概要\n");
    let _ = writeln!(o, "| 項目 | 値 |\n|---|---:|");
    let _ = writeln!(
        o,
        "| 在宅勤務日数（承認済みの在宅勤務命令） | {} 日 |",
        s.order_days
    );
    let _ = writeln!(o, "| 期間中の開庁日 | {} 日 |", s.working_days);
    let _ = writeln!(o, "| 在宅勤務をした職員 | {} 人 |", s.teleworkers);
    let _ = writeln!(
        o,
        "| 在宅勤務をした課 | {} 課（{} 部） |",
        s.active_departments, s.active_divisions
    );
    let _ = writeln!(
        o,
        "| 命令1件あたりの平均勤務時間 | {} 時間 |",
        hours(s.average_ordered_hours)
    );
    let _ = writeln!(
        o,
        "| 同（時間休を除く） | {} 時間 |",
        hours(s.average_working_hours)
    );
    let _ = writeln!(
        o,
        "| 時間単位の年次有給休暇 | {} 回・{:.2} 時間（命令 {} 件） |",
        s.hourly_leave.spans, s.hourly_leave.hours, s.hourly_leave.orders
    );
}

/// One row per active division, and the total.
fn by_division(o: &mut String, s: &Survey) {
    let _ = writeln!(o, "\n## 部別\n");
    if s.divisions.is_empty() {
        let _ = writeln!(o, "対象期間に在宅勤務はありません。");
    } else {
        let _ = writeln!(
            o,
            "| 部 | 課数 | 在宅勤務日数 | 職員数 |\n|---|---:|---:|---:|"
        );
        for d in &s.divisions {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell(&d.division),
                d.departments,
                d.order_days,
                d.teleworkers
            );
        }
        let _ = writeln!(
            o,
            "| **合計** | **{}** | **{}** | **{}** |",
            s.active_departments, s.order_days, s.teleworkers
        );
    }
}

/// One row per active department, with its share of the working days.
fn by_department(o: &mut String, s: &Survey) {
    let _ = writeln!(o, "\n## 課別\n");
    if s.departments.is_empty() {
        let _ = writeln!(o, "対象期間に在宅勤務はありません。");
    } else {
        let _ = writeln!(
            o,
            "| 部 | 課 | 在宅勤務日数 | 職員数 | 在宅勤務のあった開庁日（割合） |\n|---|---|---:|---:|---:|"
        );
        for d in &s.departments {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} 日（{:.1}%） |",
                cell(&d.division),
                cell(&d.department),
                d.order_days,
                d.teleworkers,
                d.telework_days,
                d.share_of_working_days * 100.0
            );
        }
    }
}

/// One row per month of the wave.
fn by_month(o: &mut String, s: &Survey) {
    let _ = writeln!(o, "\n## 月別\n");
    let _ = writeln!(
        o,
        "| 月 | 在宅勤務日数 | 職員数 | 課数 |\n|---|---:|---:|---:|"
    );
    for m in &s.months {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            ja_month(&m.month),
            m.order_days,
            m.teleworkers,
            m.departments
        );
    }
}

/// The telework IDs: licensed, assigned, held, and the busiest days.
fn id_use(o: &mut String, s: &Survey) {
    let _ = writeln!(o, "\n## テレワーク用IDの利用\n");
    let _ = writeln!(o, "| 項目 | 値 |\n|---|---:|");
    let _ = writeln!(o, "| 契約ID数 | {} |", s.ids.licensed);
    let _ = writeln!(o, "| 期間中に割り当てたID | {} |", s.ids.assigned);
    let _ = writeln!(o, "| IDを保有した職員 | {} 人 |", s.ids.holders);
    let on = |d: &Option<String>| {
        d.as_deref()
            .map(|d| format!("（{}）", ja_date(d)))
            .unwrap_or_default()
    };
    let _ = writeln!(
        o,
        "| 同時に割り当てたIDの最大 | {}{} |",
        s.ids.peak_concurrent,
        on(&s.ids.peak_date)
    );
    let _ = writeln!(
        o,
        "| 1日の在宅勤務者の最大 | {} 人{} |",
        s.ids.peak_teleworkers,
        on(&s.ids.peak_teleworkers_date)
    );
}

/// Start and end reports: received, on time, early, late, missing.
fn reports(o: &mut String, s: &Survey) {
    let r = &s.reports;
    let _ = writeln!(o, "\n## 開始・終了の報告\n");
    let _ = writeln!(o, "| | 開始報告 | 終了報告 |\n|---|---:|---:|");
    let _ = writeln!(
        o,
        "| 受信 | {} （{}） | {} （{}） |",
        r.start_received,
        percent(r.start_received, s.order_days),
        r.end_received,
        percent(r.end_received, s.order_days)
    );
    let _ = writeln!(o, "| うち定刻 | {} | {} |", r.start_on_time, r.end_on_time);
    let _ = writeln!(o, "| うち早い | {} | {} |", r.start_early, r.end_early);
    let _ = writeln!(o, "| うち遅れ | {} | {} |", r.start_late, r.end_late);
    let _ = writeln!(o, "| 未着 | {} | {} |", r.missing_start, r.missing_end);
}

/// The chains by kind, named in words.
fn escalations(o: &mut String, s: &Survey) {
    let _ = writeln!(o, "\n## エスカレーション\n");
    let _ = writeln!(
        o,
        "| 種類 | 件数 | 送信した通知 | 解決済み |\n|---|---:|---:|---:|"
    );
    for (k, c) in &s.escalations {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell(kind_label(k)),
            c.cases,
            c.steps_sent,
            c.resolved
        );
    }
}

/// How the figures were counted, with the windows they were judged by.
fn footnote(o: &mut String, s: &Survey) {
    let _ = writeln!(
        o,
        "\n---\n在宅勤務日数は承認済みの在宅勤務命令の件数（職員1人1日1件）、職員数はその実人数です。\
         課・部は職員の現在の所属によります。開始報告は最初の開始報告、終了報告は最後の終了報告で判定し、\
         「定刻」は開始の{early}分前から{grace}分後まで、終了の{early}分前から{grace}分後までに届いたもの、\
         「早い」「遅れ」はその前後に届いたもの（いずれも受信に含む）、「未着」は報告がなかったものです。\
         電話連絡として記録したものも報告に含みます。",
        early = s.windows.early_minutes,
        grace = s.windows.grace_minutes
    );
}

fn hours(h: Option<f64>) -> String {
    h.map(|h| format!("{h:.2}")).unwrap_or_else(|| "－".into())
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "－".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Markdown table cell: a `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::testdata::sample;

    #[test]
    fn markdown_names_departments_and_kinds_not_codes() {
        let md = render_markdown(&sample());
        assert!(
            md.starts_with("# 自治体テレワーク推進実証実験 利用状況調査（2021-02）"),
            "{md}"
        );
        assert!(md.contains("対象期間: 2021年1月1日 ～ 2021年2月28日"));
        assert!(md.contains("| 総務部 | 情報管理課 | 3 | 2 |"), "{md}");
        assert!(md.contains("| 2021年1月 | 3 | 2 | 1 |"), "{md}");
        assert!(md.contains("| 開始報告なし | 1 | 3 | 1 |"), "{md}");
        assert!(
            md.contains("| 同時に割り当てたIDの最大 | 3（2021年1月12日） |"),
            "{md}"
        );
        assert!(!md.contains("missing_start") && !md.contains("E1"), "{md}");
    }
}
