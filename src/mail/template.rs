//! Mail text from editable minijinja templates in the configured `templates/` folder; a
//! template missing there falls back to the built-in copy, so a partial override works.
//! A template's first line is `Subject: …`, the rest is the body.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde::Serialize;

use crate::error::{Error, Result};

/// The shipped templates, compiled in: `templates/NAME` for each name.
macro_rules! built_in {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const BUILT_IN: &[(&str, &str)] = built_in!(
    "ack.txt",
    "unclassified.txt",
    "no_order.txt",
    "notify_no_order.txt",
    "notify_incident.txt",
    "escalation_teleworker.txt",
    "escalation_supervisors.txt",
    "digest.txt",
    "it_summary.txt",
    "sent_back.txt",
);

/// A template's text from the first of `dirs` that has the file (a municipality's own folder
/// before the shared one), else from `built_in`; `None` when neither has it. Shared by the
/// mail templates and the web's pages.
pub fn layered_load(
    dirs: &[PathBuf],
    built_in: &[(&str, &str)],
    name: &str,
) -> std::result::Result<Option<String>, minijinja::Error> {
    for dir in dirs {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(s) => return Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("{}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(built_in
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s.to_string()))
}

pub struct Templates {
    env: Environment<'static>,
}

pub struct Rendered {
    pub subject: String,
    pub body: String,
}

impl Templates {
    pub fn new(dir: &Path) -> Templates {
        Self::layered(vec![dir.to_path_buf()])
    }

    /// Templates looked up in `dirs` in turn (a municipality's own folder before the shared
    /// one, `Config::template_dirs`), then among the built-in ones.
    pub fn layered(dirs: Vec<PathBuf>) -> Templates {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        env.set_loader(move |name| layered_load(&dirs, BUILT_IN, name));
        Templates { env }
    }

    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<Rendered> {
        let err = |e: minijinja::Error| Error::Template {
            name: name.to_string(),
            msg: e.to_string(),
        };
        let text = self
            .env
            .get_template(name)
            .map_err(err)?
            .render(ctx)
            .map_err(err)?;
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let Some(subject) = first.strip_prefix("Subject:") else {
            return Err(Error::Template {
                name: name.into(),
                msg: "the first line must be `Subject: …`".into(),
            });
        };
        Ok(Rendered {
            subject: subject.trim().to_string(),
            body: rest.trim_start_matches('\n').to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_render_in_japanese() {
        let t = Templates::new(Path::new("/nonexistent"));
        let r = t
            .render(
                "ack.txt",
                minijinja::context! { subject => "業務開始", name => "山田太郎", kind_label => "業務開始",
                    at => "08:27", date => "2021-01-12", order_start => "08:30", order_end => "17:15",
                    status_label => "定時", leave => false, incident => false },
            )
            .unwrap();
        assert_eq!(r.subject, "受付: 業務開始");
        assert!(r.body.starts_with("山田太郎 さん"));
        assert!(r.body.contains("判定:     定時"));
    }

    #[test]
    fn every_shipped_template_is_built_in_and_starts_with_a_subject() {
        let on_disk: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".txt"))
                .collect();
        for name in &on_disk {
            let (_, text) = BUILT_IN
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{name} is not built in"));
            assert!(text.starts_with("Subject:"), "{name}");
        }
    }

    #[test]
    fn a_template_in_the_folder_overrides_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ack.txt"),
            "Subject: OK {{ name }}\nhello\n",
        )
        .unwrap();
        let t = Templates::new(dir.path());
        let r = t
            .render("ack.txt", minijinja::context! { name => "Yamada" })
            .unwrap();
        assert_eq!(
            (r.subject.as_str(), r.body.as_str()),
            ("OK Yamada", "hello\n")
        );
    }
}
