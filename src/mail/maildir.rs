//! A Maildir as mail source: messages in `new/` are processed and then moved to `cur/` with the
//! seen flag, only after their report is committed. A crash in between leaves the file in
//! `new/`; the next run finds its Message-ID already stored and just moves it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub name: String,
}

pub fn ensure(dir: &Path) -> Result<()> {
    for sub in ["new", "cur", "tmp"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

/// The messages waiting in `new/`, oldest name first (names start with the delivery time).
pub fn new_messages(dir: &Path) -> Result<Vec<Entry>> {
    check(dir)?;
    list_after(dir, None, usize::MAX)
}

/// Whether `dir` is a Maildir: bad input otherwise.
pub fn check(dir: &Path) -> Result<()> {
    if !dir.join("cur").is_dir() || !dir.join("new").is_dir() {
        return Err(Error::bad(
            dir.display().to_string(),
            "expected a Maildir (folders new/, cur/, tmp/)",
        ));
    }
    Ok(())
}

/// The first `max` messages of `new/` by name whose name sorts after `after`, oldest first.
/// A backlog is taken a slice at a time this way: one pass over the folder keeps at most
/// `max` names (the largest kept is dropped for a smaller one), so memory does not grow with
/// the number of files waiting.
pub fn list_after(dir: &Path, after: Option<&str>, max: usize) -> Result<Vec<Entry>> {
    let new = dir.join("new");
    let mut kept: std::collections::BinaryHeap<String> = std::collections::BinaryHeap::new();
    for e in std::fs::read_dir(&new).map_err(|e| Error::io(&new, e))? {
        let e = e.map_err(|e| Error::io(&new, e))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || after.is_some_and(|a| *name <= *a) {
            continue;
        }
        if kept.len() >= max && kept.peek().is_some_and(|top| **top <= *name) {
            continue;
        }
        // Files, and links (to a file, else they are set aside as unreadable); never a
        // folder, a pipe or a socket, whose reading would fail or block.
        let listed = e
            .file_type()
            .map(|t| t.is_file() || t.is_symlink())
            .unwrap_or(false);
        if !listed {
            continue;
        }
        kept.push(name.into_owned());
        if kept.len() > max {
            kept.pop();
        }
    }
    Ok(kept
        .into_sorted_vec()
        .into_iter()
        .map(|name| Entry {
            path: new.join(&name),
            name,
        })
        .collect())
}

/// The delivery time in a Maildir unique name (`1610407661.M…P….host`), else the file's mtime.
pub fn delivery_time(e: &Entry) -> Option<DateTime<Utc>> {
    let secs = e.name.split('.').next().and_then(|s| s.parse::<i64>().ok());
    if let Some(t) = secs.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)) {
        return Some(t);
    }
    let mtime = std::fs::metadata(&e.path).and_then(|m| m.modified()).ok()?;
    Some(DateTime::<Utc>::from(mtime))
}

/// A Maildir's `new/` and `cur/`, opened once for a batch: each file is then read and moved
/// by its name alone, relative to the open folder, instead of by a path the kernel walks
/// from the root for each file. The city bench's moves and reads spent a third of their
/// system time walking `/…/inbox/new/` again (issue 22).
pub struct Folders {
    new: rustix::fd::OwnedFd,
    cur: rustix::fd::OwnedFd,
}

impl Folders {
    pub fn open(dir: &Path) -> Result<Folders> {
        let open = |sub: &str| {
            let p = dir.join(sub);
            rustix::fs::open(
                &p,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::io(&p, e.into()))
        };
        Ok(Folders {
            new: open("new")?,
            cur: open("cur")?,
        })
    }

    /// Moves a processed message to `cur/` and marks it seen (`:2,S`).
    pub fn mark_done(&self, e: &Entry) -> Result<()> {
        let base = e.name.split(':').next().unwrap_or(&e.name);
        rustix::fs::renameat(&self.new, e.name.as_str(), &self.cur, format!("{base}:2,S"))
            .map_err(|err| Error::io(&e.path, err.into()))
    }

    /// The whole file of a message in `new/`, by name; the error as `std::fs::read` gives it.
    pub fn read(&self, e: &Entry) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let fd = rustix::fs::openat(
            &self.new,
            e.name.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        // Sized from the open file, as `std::fs::read` does: a batch keeps its bytes.
        let size = rustix::fs::fstat(&fd).map_or(0, |st| st.st_size.max(0) as usize);
        let mut bytes = Vec::with_capacity(size + 1);
        std::fs::File::from(fd).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Moves a message that cannot be read to `quarantine/` beside `cur/`, for IT to look at: it
/// is kept, and never read again.
pub fn quarantine(dir: &Path, e: &Entry) -> Result<()> {
    let q = dir.join("quarantine");
    std::fs::create_dir_all(&q).map_err(|err| Error::io(&q, err))?;
    std::fs::rename(&e.path, q.join(&e.name)).map_err(|err| Error::io(&e.path, err))
}

/// Writes a message into `new/` the way a delivery agent does (tmp/ then rename).
pub fn deliver(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    ensure(dir)?;
    let tmp = dir.join("tmp").join(name);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    let new = dir.join("new").join(name);
    std::fs::rename(&tmp, &new).map_err(|e| Error::io(&new, e))?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_time_comes_from_the_unique_name() {
        let e = Entry {
            path: PathBuf::from("/nonexistent"),
            name: "1610407661.M1P2.mail".into(),
        };
        assert_eq!(delivery_time(&e).unwrap().timestamp(), 1610407661);
    }

    #[test]
    fn processed_mail_moves_to_cur_with_the_seen_flag() {
        let dir = tempfile::tempdir().unwrap();
        deliver(dir.path(), "1610407661.M1P2.mail", b"x").unwrap();
        let list = new_messages(dir.path()).unwrap();
        assert_eq!(list.len(), 1);
        Folders::open(dir.path())
            .unwrap()
            .mark_done(&list[0])
            .unwrap();
        assert!(new_messages(dir.path()).unwrap().is_empty());
        assert!(dir.path().join("cur/1610407661.M1P2.mail:2,S").exists());
    }

    #[test]
    fn a_backlog_is_listed_a_slice_at_a_time_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        // Written out of order: the directory's order is not the names'.
        for i in [7, 3, 9, 1, 5, 8, 2, 6, 4, 0] {
            deliver(dir.path(), &format!("16104076{i:02}.M1P2.mail"), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("new/1610407600.a-folder")).unwrap();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let slice = list_after(dir.path(), after.as_deref(), 3).unwrap();
            assert!(slice.len() <= 3);
            let Some(last) = slice.last() else { break };
            after = Some(last.name.clone());
            seen.extend(slice.into_iter().map(|e| e.name));
        }
        let all: Vec<String> = new_messages(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(seen, all);
        assert_eq!(all.len(), 10);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }
}
