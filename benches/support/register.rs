//! The register a city-sized bench builds (`benches/city.rs`, `benches/phone.rs`): each
//! department's application for its teleworkers, a telework ID each from the first day, and
//! the orders file, through the same register functions as the CLI.

use std::path::Path;

use zaitaku::config::Config;
use zaitaku::register;
use zaitaku::store::Store;

/// `teleworkers` as (employee ID, department), already imported as employees; `orders` is the
/// orders CSV, imported a thousand rows a file so that each transaction stays short.
pub async fn apply_assign_and_order(
    store: &Store,
    cfg: &Config,
    teleworkers: &[(String, String)],
    fiscal_year: i32,
    first_day: &str,
    orders: &Path,
) {
    for (i, d) in cfg.departments.iter().enumerate() {
        let users: Vec<String> = teleworkers
            .iter()
            .filter(|(_, department)| *department == d.name)
            .map(|(id, _)| id.clone())
            .collect();
        let app = register::ApplicationArgs {
            department: d.name.clone(),
            fiscal_year,
            pc: format!("PC-{:02}", i + 1),
            users,
            emergency: false,
        };
        register::add_application(store, cfg, app, chrono::DateTime::UNIX_EPOCH)
            .await
            .expect("application");
    }
    let from = zaitaku::calendar::parse_date(first_day).expect("date");
    for (id, _) in teleworkers {
        register::assign_id(store, cfg, id, from, None, chrono::Utc::now())
            .await
            .expect("telework ID");
    }
    let text = std::fs::read_to_string(orders).expect("orders.csv");
    let mut lines = text.lines();
    let header = lines.next().expect("orders.csv header");
    let rows: Vec<&str> = lines.collect();
    let slices = tempfile::tempdir().expect("order slices");
    for (i, slice) in rows.chunks(1000).enumerate() {
        let f = slices.path().join(format!("orders-{i}.csv"));
        std::fs::write(&f, format!("{header}\n{}\n", slice.join("\n"))).expect("slice");
        register::import_orders(store, cfg, &f, chrono::DateTime::UNIX_EPOCH)
            .await
            .expect("orders");
    }
}
