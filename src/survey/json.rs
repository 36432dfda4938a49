//! The survey as JSON for scripts: `Survey` serialised as it is (SPEC §7 names the fields).

use super::Survey;

/// Pretty JSON (SPEC §7 names the fields).
pub fn render_json(s: &Survey) -> String {
    let mut j = serde_json::to_string_pretty(s).expect("a survey is plain data");
    j.push('\n');
    j
}
