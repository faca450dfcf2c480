//! Log history on disk: per app, two files (`current.log`, `previous.log`) of
//! formatted lines. When `current` reaches half the retention it becomes
//! `previous` (the older one is deleted), so an app never holds more than its
//! retention and always keeps at least the newest half.
//!
//! Plain append-only text files rather than SQLite rows: writes are sequential
//! appends that need no index, the size bound is a rename, reads are "the last N
//! lines", and the log traffic stays out of the store's single write lock.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::line::{Filter, Line};

pub struct LogStore {
    dir: PathBuf,
    retention_bytes: u64,
    /// Open `current.log` handles and their sizes.
    open: HashMap<String, (File, u64)>,
}

/// Most open files kept; beyond it the handles are closed and reopened on demand.
const MAX_OPEN: usize = 256;

impl LogStore {
    pub fn new(dir: PathBuf, retention_bytes: u64) -> Self {
        Self { dir, retention_bytes: retention_bytes.max(1024), open: HashMap::new() }
    }

    fn app_dir(dir: &Path, app: &str) -> PathBuf {
        dir.join(app)
    }

    /// Appends formatted lines (each ending in `\n`) to an app's history.
    pub fn append(&mut self, app: &str, text: &str) -> io::Result<()> {
        if !self.open.contains_key(app) {
            if self.open.len() >= MAX_OPEN {
                self.open.clear();
            }
            let dir = Self::app_dir(&self.dir, app);
            fs::create_dir_all(&dir)?;
            let file = OpenOptions::new().create(true).append(true).open(dir.join("current.log"))?;
            let size = file.metadata()?.len();
            self.open.insert(app.to_string(), (file, size));
        }
        let half = self.retention_bytes / 2;
        let (file, size) = self.open.get_mut(app).expect("just opened");
        file.write_all(text.as_bytes())?;
        *size += text.len() as u64;
        if *size >= half {
            self.open.remove(app);
            let dir = Self::app_dir(&self.dir, app);
            fs::rename(dir.join("current.log"), dir.join("previous.log"))?;
        }
        Ok(())
    }

    /// Forgets an app's history (the app was destroyed).
    pub fn remove(&mut self, app: &str) -> io::Result<()> {
        self.open.remove(app);
        match fs::remove_dir_all(Self::app_dir(&self.dir, app)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The newest `n` lines of an app that pass `filter`, oldest first.
    pub fn recent(dir: &Path, app: &str, n: usize, filter: &Filter) -> Vec<Line> {
        let app_dir = Self::app_dir(dir, app);
        let mut lines = Vec::new();
        for name in ["previous.log", "current.log"] {
            let Ok(text) = fs::read_to_string(app_dir.join(name)) else { continue };
            // A line still being written has no newline yet: leave it for later.
            let complete = match text.rfind('\n') {
                Some(i) => &text[..=i],
                None => "",
            };
            lines.extend(complete.lines().filter_map(Line::parse).filter(|l| filter.matches(l)));
        }
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::Source;

    fn line(i: usize) -> String {
        format!("{}\n", Line::new(Source::App, "web.1", format!("line {i:04} {}", "x".repeat(50))))
    }

    #[test]
    fn keeps_history_within_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::new(dir.path().to_path_buf(), 10_000);
        for i in 0..1000 {
            store.append("web1", &line(i)).unwrap();
        }
        let on_disk: u64 =
            fs::read_dir(dir.path().join("web1")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert!(on_disk <= 10_000, "{on_disk} bytes kept");
        let all = LogStore::recent(dir.path(), "web1", usize::MAX, &Filter::default());
        assert!(all.len() > 50, "at least half the retention is kept: {}", all.len());
        assert!(all.last().unwrap().message.starts_with("line 0999"));
        let numbers: Vec<usize> = all.iter().map(|l| l.message[5..9].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "contiguous and ordered");

        let last3 = LogStore::recent(dir.path(), "web1", 3, &Filter::default());
        assert_eq!(last3.len(), 3);
        assert!(last3[2].message.starts_with("line 0999"));

        // A new store (a server restart) continues the same files.
        let mut store = LogStore::new(dir.path().to_path_buf(), 10_000);
        store.append("web1", &line(1000)).unwrap();
        let last = LogStore::recent(dir.path(), "web1", 1, &Filter::default());
        assert!(last[0].message.starts_with("line 1000"));

        store.remove("web1").unwrap();
        assert!(LogStore::recent(dir.path(), "web1", 10, &Filter::default()).is_empty());
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::new(dir.path().to_path_buf(), 10_000);
        store.append("a", &line(1)).unwrap();
        let partial = line(2);
        store.append("a", &partial[..20]).unwrap();
        assert_eq!(LogStore::recent(dir.path(), "a", 10, &Filter::default()).len(), 1);
    }
}
