//! `zaitaku audit list | export | verify` (SPEC §11): the audit trail as lines, JSON and CSV.
//! The entries are written by the store, in the transaction of each change
//! (`store::audit::append`); this module only reads and prints them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::store::audit::{Entry, Filter};
use crate::survey::Encoding;

/// The first second of `day` in the city's time zone.
fn day_start(day: NaiveDate, tz: Tz) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map(|t| t.timestamp())
        .unwrap_or_default()
}

/// The filter of `--from`, `--to` (both days included), `--employee`, `--department` and
/// `--entity`.
pub fn filter(
    tz: Tz,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    employee: Option<String>,
    department: Option<String>,
    entity: Option<String>,
) -> Filter {
    Filter {
        from: from.map(|d| day_start(d, tz)),
        to: to.map(|d| day_start(d + Duration::days(1), tz)),
        employee,
        department,
        entity,
    }
}

fn at(e: &Entry, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp(e.at_epoch, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .to_rfc3339()
}

/// An entry as `audit list --json` prints it (SPEC §11).
pub fn to_json(e: &Entry, tz: Tz) -> Value {
    json!({
        "id": e.id, "at": at(e, tz), "actor": e.actor, "via": e.via, "client": e.client,
        "entity": e.entity, "entity_id": e.entity_id, "department": e.department,
        "action": e.action, "before": e.before, "after": e.after, "hash": e.hash,
    })
}

fn json_or_dash(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "-".into(), Value::to_string)
}

/// One line of `audit list`: id, when, who, via, entity and ID, action, before → after.
pub fn to_line(e: &Entry, tz: Tz) -> String {
    crate::text::clean_line(&format!(
        "{}\t{}\t{}\t{}\t{} {}\t{}\t{} → {}",
        e.id,
        at(e, tz),
        e.actor,
        e.via,
        e.entity,
        e.entity_id,
        e.action,
        json_or_dash(&e.before),
        json_or_dash(&e.after)
    ))
    .into_owned()
}

/// `audit export`: CSV with a header, UTF-8 with a BOM (Excel reads it as UTF-8) or Shift_JIS.
pub fn to_csv(entries: &[Entry], tz: Tz, encoding: &str) -> Result<Vec<u8>> {
    let enc = Encoding::parse(encoding).ok_or_else(|| {
        Error::bad(
            "--encoding",
            format!("expected utf-8 or shift_jis, got {encoding:?}"),
        )
    })?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "at",
        "actor",
        "via",
        "client",
        "entity",
        "entity_id",
        "department",
        "action",
        "before",
        "after",
        "hash",
    ];
    let io = |e: csv::Error| Error::bad("audit export", e.to_string());
    w.write_record(header).map_err(io)?;
    for e in entries {
        w.write_record([
            e.id.to_string(),
            at(e, tz),
            e.actor.clone(),
            e.via.clone(),
            e.client.clone().unwrap_or_default(),
            e.entity.clone(),
            e.entity_id.clone(),
            e.department.clone().unwrap_or_default(),
            e.action.clone(),
            e.before.as_ref().map(Value::to_string).unwrap_or_default(),
            e.after.as_ref().map(Value::to_string).unwrap_or_default(),
            e.hash.clone(),
        ])
        .map_err(io)?;
    }
    let text = String::from_utf8(
        w.into_inner()
            .map_err(|e| Error::bad("audit export", e.to_string()))?,
    )
    .map_err(|e| Error::bad("audit export", e.to_string()))?;
    Ok(match enc {
        Encoding::Utf8 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Encoding::ShiftJis => enc.encode(&text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_the_citys_days() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        let f = filter(
            tz,
            NaiveDate::from_ymd_opt(2021, 1, 12),
            NaiveDate::from_ymd_opt(2021, 1, 12),
            None,
            None,
            None,
        );
        // 2021-01-12 00:00 JST is 2021-01-11 15:00 UTC; the 13th's start is a day later.
        assert_eq!(f.from, Some(1_610_377_200));
        assert_eq!(f.to, Some(1_610_377_200 + 86_400));
    }
}
