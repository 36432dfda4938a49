//! Queries about reports: the day's reports for the board, and storing a processed message
//! together with the mail it causes (one transaction, so a crash never leaves one without the
//! other).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, Tx};
use crate::board::ReportRow;
use crate::error::Result;

/// A processed message, ready to store.
#[derive(Debug, Clone, Default)]
pub struct NewReport {
    pub message_key: String,
    pub message_id: Option<String>,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub date_header: Option<DateTime<Utc>>,
    pub day: String,
    pub sender: String,
    pub employee_id: Option<String>,
    pub kind: crate::classify::Kind,
    pub reason: crate::report::Reason,
    pub order_id: Option<i64>,
    pub leave_noted: bool,
    pub incident: bool,
    pub subject: String,
    pub summary: String,
    /// Kept only for mail we could not use, so that IT can look at it.
    pub raw: Option<Vec<u8>>,
    /// The supervisor who recorded a phone contact.
    pub recorded_by: Option<String>,
}

const BOARD_REPORTS: &str =
    "SELECT id, order_id, employee_id, sender, kind, reason, source, received_at, leave_noted,
    incident, summary, subject FROM reports";

fn board_report(r: &sqlx::any::AnyRow) -> ReportRow {
    ReportRow {
        // Stored by `as_str`; a name this version does not know reads as the defaults
        // (unclassified, unparseable): shown to IT, never taken as a report.
        id: r.get(0),
        order_id: r.get(1),
        employee_id: r.get(2),
        sender: r.get(3),
        kind: crate::classify::Kind::parse(&r.get::<String, _>(4)).unwrap_or_default(),
        reason: crate::report::Reason::parse(&r.get::<String, _>(5)).unwrap_or_default(),
        source: r.get(6),
        received_at: super::instant(r.get(7)),
        leave_noted: r.get::<i64, _>(8) != 0,
        incident: r.get::<i64, _>(9) != 0,
        summary: r.get(10),
        subject: r.get(11),
    }
}

impl Store {
    /// The day's reports (every city's tick reads them: `KEEP_POLLED`).
    pub async fn reports_on(&self, date: NaiveDate) -> Result<Vec<ReportRow>> {
        let rows = sqlx::query(&format!(
            "{BOARD_REPORTS} WHERE day = $1 ORDER BY received_at, id"
        ))
        .persistent(super::KEEP_POLLED)
        .bind(date.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.iter().map(board_report).collect())
    }

    /// The reports of some orders (a person's month: a few orders, not a city's days).
    pub async fn reports_of_orders(&self, orders: &[i64]) -> Result<Vec<ReportRow>> {
        let mut out = Vec::new();
        for chunk in orders.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{BOARD_REPORTS} WHERE order_id IN ({})", marks.join(", "));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(
                q.fetch_all(&mut *self.conn().await?)
                    .await?
                    .iter()
                    .map(board_report),
            );
        }
        out.sort_by_key(|r| (r.received_at, r.id));
        Ok(out)
    }

    pub async fn seen_message(&self, key: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE message_key = $1")
            .bind(key)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(n > 0)
    }
}

/// The automatic answers already sent to `address` on `day` (the loop breaker's count).
pub async fn answers_sent(conn: &mut sqlx::AnyConnection, address: &str, day: &str) -> Result<u32> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT answers FROM answer_counts WHERE address = $1 AND day = $2")
            .bind(address)
            .bind(day)
            .fetch_optional(conn)
            .await?;
    Ok(n.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32)
}

/// The loop breaker's counts of some addresses on one day, in one statement per 500
/// addresses; an address without answers is left out.
pub async fn answers_on(
    conn: &mut sqlx::AnyConnection,
    day: &str,
    addresses: &[&str],
) -> Result<Vec<(String, u32)>> {
    // One statement and one value each way, as `store::orders_for` says why.
    let sqlite = conn.backend_name() == "SQLite";
    let sql = if sqlite {
        "SELECT json_group_array(json_array(address, answers)) FROM answer_counts \
         WHERE day = $1 AND address IN (SELECT value FROM json_each($2))"
    } else {
        "SELECT COALESCE(json_agg(json_build_array(address, answers)), '[]')::text \
         FROM answer_counts \
         WHERE day = $1 AND address IN (SELECT json_array_elements_text($2::json))"
    };
    let list = serde_json::to_string(addresses).expect("a list of strings is JSON");
    let text: String = sqlx::query_scalar(sql)
        .persistent(sqlite)
        .bind(day)
        .bind(list)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<(String, i64)> = super::json_rows("the answer counts of a batch", &text)?;
    Ok(rows
        .into_iter()
        .map(|(a, n)| (a, n.clamp(0, i64::from(u32::MAX)) as u32))
        .collect())
}

/// Adds answers queued in this transaction to the loop breaker's counts, 500 (address, day)
/// a statement; each appears once in `counts`.
pub async fn add_answers(tx: &mut Tx<'_>, counts: &[((String, String), u32)]) -> Result<()> {
    for chunk in counts.chunks(500) {
        let sql = super::multi_row_insert(
            tx,
            "INSERT INTO answer_counts (address, day, answers)",
            3,
            chunk.len(),
            "ON CONFLICT (tenant, address, day) DO UPDATE SET answers = answer_counts.answers + excluded.answers",
        );
        let mut q = sqlx::query(&sql).persistent(super::keep_prepared(chunk.len(), 500));
        for ((address, day), n) in chunk {
            q = q.bind(address).bind(day).bind(i64::from(*n));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Inserts the report unless its message was processed before; `None` for a duplicate.
pub async fn insert_report(tx: &mut Tx<'_>, r: &NewReport) -> Result<Option<i64>> {
    Ok(insert_reports(tx, &[r]).await?.get(&r.message_key).copied())
}

/// Inserts a batch of reports, several rows per statement. Returns the id of each report that
/// was new, by message key; a message processed before is left out (a duplicate).
pub async fn insert_reports(
    tx: &mut Tx<'_>,
    reports: &[&NewReport],
) -> Result<std::collections::HashMap<String, i64>> {
    let mut ids = std::collections::HashMap::with_capacity(reports.len());
    let sqlite = tx.backend_name() == "SQLite";
    // 17 values a row: well inside SQLite's 32,766 variables a statement.
    for chunk in reports.chunks(500) {
        let sql = super::multi_row_insert(
            tx,
            "INSERT INTO reports (message_key, message_id, source, received_at, date_header, day, sender, employee_id,
                                  kind, reason, order_id, leave_noted, incident, subject, summary, raw, recorded_by)",
            17,
            chunk.len(),
            if sqlite {
                "ON CONFLICT DO NOTHING"
            } else {
                "ON CONFLICT DO NOTHING RETURNING id, message_key"
            },
        );
        let mut q = sqlx::query(&sql).persistent(super::keep_prepared(chunk.len(), 500));
        for r in chunk {
            q = q
                .bind(&r.message_key)
                .bind(r.message_id.clone())
                .bind(&r.source)
                .bind(super::epoch(r.received_at))
                .bind(r.date_header.map(super::epoch))
                .bind(&r.day)
                .bind(&r.sender)
                .bind(r.employee_id.clone())
                .bind(r.kind.as_str())
                .bind(r.reason.as_str())
                .bind(r.order_id)
                .bind(r.leave_noted as i64)
                .bind(r.incident as i64)
                .bind(&r.subject)
                .bind(&r.summary)
                .bind(r.raw.clone())
                .bind(r.recorded_by.clone());
        }
        if !sqlite {
            for row in q.fetch_all(&mut **tx).await? {
                ids.insert(row.get::<String, _>(1), row.get::<i64, _>(0));
            }
            continue;
        }
        // SQLite gives each new row the largest id so far plus one, in the order of VALUES,
        // and no other writer runs inside the statement: the new ids are the `added` up to the
        // last one. Without duplicates (nearly always) they follow the chunk's order, and no
        // row comes back through sqlx's channel, which cost more than the insert's bindings.
        let done = q.execute(&mut **tx).await?;
        let added = done.rows_affected() as i64;
        if added == 0 {
            continue;
        }
        // sqlx's `Any` driver does not pass SQLite's last rowid on: asked on the same connection.
        let last: i64 = sqlx::query_scalar("SELECT last_insert_rowid()")
            .fetch_one(&mut **tx)
            .await?;
        if added == chunk.len() as i64 {
            for (i, r) in chunk.iter().enumerate() {
                ids.insert(r.message_key.clone(), last - added + 1 + i as i64);
            }
        } else {
            // Some were seen before (a re-delivery in most chunks of a real backlog): the new
            // rows' keys come back as one JSON text, not row by row through sqlx's channel,
            // each copied into an `AnyRow` (0.6 s of the city bench's SQLite thread, issue 22).
            let rows: String = sqlx::query_scalar(
                "SELECT json_group_array(json_array(id, message_key)) FROM \
                 (SELECT id, message_key FROM reports WHERE id > $1 AND id <= $2 ORDER BY id)",
            )
            .bind(last - added)
            .bind(last)
            .fetch_one(&mut **tx)
            .await?;
            let rows: Vec<(i64, String)> = super::json_rows("the new reports' keys", &rows)?;
            ids.extend(rows.into_iter().map(|(id, key)| (key, id)));
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(key: &str) -> NewReport {
        NewReport {
            message_key: key.into(),
            source: "file".into(),
            day: "2021-01-12".into(),
            sender: "a@example.jp".into(),
            kind: crate::classify::Kind::Start,
            reason: crate::report::Reason::UnknownSender,
            ..NewReport::default()
        }
    }

    /// The id each key was stored under, as the database has it.
    async fn stored(store: &Store) -> std::collections::HashMap<String, i64> {
        sqlx::query("SELECT message_key, id FROM reports")
            .fetch_all(&mut *store.conn().await.unwrap())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect()
    }

    /// The ingest's look-ups send their keys as one JSON array and read the rows back as one
    /// (`store::orders_for`, `answers_on`): quotes, backslashes and other scripts in an
    /// employee ID, a name or an address must come back as they went in, and NULLs as `None`.
    #[tokio::test]
    async fn a_batch_looks_up_orders_and_counts_whatever_characters_the_keys_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let mut conn = store.conn().await.unwrap();
        let odd = r#"E"\1'ü"#;
        for sql in [
            r#"INSERT INTO departments (name, division, note, target, no) VALUES ('課"\', '', '', 1, 1)"#,
            r#"INSERT INTO employees (employee_id, name, department, role, active)
               VALUES ('E"\1''ü', '名"前\', '課"\', 'teleworker', 1)"#,
            r#"INSERT INTO employees (employee_id, name, department, role, active)
               VALUES ('E2', '二', '課"\', 'teleworker', 1)"#,
            r#"INSERT INTO orders (employee_id, date, start_min, end_min, content, leave_spans)
               VALUES ('E"\1''ü', '2021-01-12', 510, 1035, '資料"作成"\', '10:00-11:00')"#,
        ] {
            sqlx::query(sql).execute(&mut *conn).await.unwrap();
        }
        let day = chrono::NaiveDate::from_ymd_opt(2021, 1, 12).unwrap();
        let found = crate::store::orders_for(&mut conn, day, &[odd, "E2", "E3"])
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let o = &found[0];
        assert_eq!(o.employee_id, odd);
        assert_eq!(o.employee_name, r#"名"前\"#);
        assert_eq!(o.department, r#"課"\"#);
        assert_eq!(o.content, r#"資料"作成"\"#);
        assert_eq!(o.date, day);
        assert_eq!((o.start.0, o.end.0), (510, 1035));
        assert_eq!(o.leave.len(), 1);
        assert_eq!((o.approved_by.clone(), o.deputy_by.clone()), (None, None));
        assert!(
            crate::store::orders_for(&mut conn, day, &[])
                .await
                .unwrap()
                .is_empty()
        );
        drop(conn);

        let address = r#""o\"brien"@city.example.lg.jp"#.to_string();
        let mut tx = store.begin().await.unwrap();
        add_answers(&mut tx, &[((address.clone(), "2021-01-12".into()), 3)])
            .await
            .unwrap();
        add_answers(&mut tx, &[((address.clone(), "2021-01-12".into()), 2)])
            .await
            .unwrap();
        let counts = answers_on(&mut tx, "2021-01-12", &[&address, "x@y.jp"])
            .await
            .unwrap();
        assert_eq!(counts, vec![(address.clone(), 5)]);
        assert!(
            answers_on(&mut tx, "2021-01-13", &[&address])
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn each_new_report_gets_its_own_id_and_a_duplicate_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let batches: [&[&str]; 4] = [
            &["a", "b", "c"],
            // Seen before, new, the same message twice in one batch, new again.
            &["b", "d", "e", "e", "a", "f"],
            &["a", "b"],
            &["g"],
        ];
        for keys in batches {
            let reports: Vec<NewReport> = keys.iter().map(|k| report(k)).collect();
            let before = stored(&store).await;
            let mut tx = store.begin().await.unwrap();
            let ids = insert_reports(&mut tx, &reports.iter().collect::<Vec<_>>())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let after = stored(&store).await;
            let new: std::collections::HashMap<String, i64> = after
                .into_iter()
                .filter(|(k, _)| !before.contains_key(k))
                .collect();
            assert_eq!(ids, new, "batch {keys:?}");
        }
        assert_eq!(stored(&store).await.len(), 7);
    }
}
