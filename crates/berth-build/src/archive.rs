//! Checked source archives: uncompressed tar, bounded size, no path traversal,
//! no links leaving the tree, no device files.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Default upper bound of an uncompressed source archive.
pub const MAX_SOURCE_BYTES: usize = 200 * 1024 * 1024;

/// Files read out of the archive (Procfile, app.json) are small.
const MAX_META_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("source archive is larger than {limit} bytes; remove build artefacts or list them in .slugignore")]
    TooLarge { limit: usize },
    #[error("source archive is not a valid tar file: {0}")]
    Malformed(String),
    #[error("source archive entry {0:?} escapes the source tree (absolute path or `..`)")]
    PathTraversal(String),
    #[error("source archive entry {0:?} is a link pointing outside the source tree")]
    LinkEscape(String),
    #[error("source archive entry {0:?} is a device, fifo or other special file; only files, directories and links are allowed")]
    SpecialFile(String),
}

#[derive(Debug, Clone)]
pub struct SourceArchive {
    tar: Vec<u8>,
    files: Vec<PathBuf>,
}

impl SourceArchive {
    /// Checks every entry of an uncompressed tar.
    pub fn from_tar(tar: Vec<u8>, limit: usize) -> Result<Self, ArchiveError> {
        if tar.len() > limit {
            return Err(ArchiveError::TooLarge { limit });
        }
        let mut files = Vec::new();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries = archive.entries().map_err(|e| ArchiveError::Malformed(e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| ArchiveError::Malformed(e.to_string()))?;
            let path = entry.path().map_err(|e| ArchiveError::Malformed(e.to_string()))?.into_owned();
            let shown = path.display().to_string();
            let clean = normalize(&path).ok_or_else(|| ArchiveError::PathTraversal(shown.clone()))?;
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| ArchiveError::Malformed(e.to_string()))?
                    .ok_or_else(|| ArchiveError::Malformed(format!("link {shown} has no target")))?;
                // Symlinks resolve relative to their directory, hard links to the root.
                let base = if kind.is_symlink() { clean.parent().unwrap_or(Path::new("")) } else { Path::new("") };
                if target.is_absolute() || normalize(&base.join(&target)).is_none() {
                    return Err(ArchiveError::LinkEscape(shown));
                }
            } else if kind.is_file() || kind.is_contiguous() {
                files.push(clean);
            } else if !(kind.is_dir()
                || kind.is_pax_global_extensions()
                || kind.is_pax_local_extensions()
                || kind.is_gnu_longname()
                || kind.is_gnu_longlink())
            {
                return Err(ArchiveError::SpecialFile(shown));
            }
        }
        Ok(Self { tar, files })
    }

    pub fn contains_file(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == Path::new(path))
    }

    /// Reads a small regular file at `path` (relative to the root), if present.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        let mut archive = tar::Archive::new(self.tar.as_slice());
        for entry in archive.entries().map_err(|e| ArchiveError::Malformed(e.to_string()))? {
            let entry = entry.map_err(|e| ArchiveError::Malformed(e.to_string()))?;
            let entry_path = entry.path().map_err(|e| ArchiveError::Malformed(e.to_string()))?.into_owned();
            if entry.header().entry_type().is_file() && normalize(&entry_path).as_deref() == Some(Path::new(path)) {
                let mut content = Vec::new();
                entry
                    .take(MAX_META_FILE_BYTES)
                    .read_to_end(&mut content)
                    .map_err(|e| ArchiveError::Malformed(e.to_string()))?;
                return Ok(Some(content));
            }
        }
        Ok(None)
    }

    pub fn into_tar(self) -> Vec<u8> {
        self.tar
    }
}

/// `a/./b` → `a/b`; `None` for absolute paths or paths climbing above the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, content: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`; write the raw name to build hostile archives.
        let name = path.as_bytes();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        builder.append(&header, content).unwrap();
    }

    fn link(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(kind);
        header.set_path(path).unwrap();
        let target = target.as_bytes();
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target);
        header.set_cksum();
        builder.append(&header, &[][..]).unwrap();
    }

    #[test]
    fn reads_files_of_a_normal_tree() {
        let tar = tar_with(|b| {
            file(b, "Dockerfile", b"FROM berth/stack:trixie\n");
            file(b, "./Procfile", b"web: python3 app.py\n");
            file(b, "src/app.py", b"print(1)\n");
            link(b, tar::EntryType::Symlink, "src/current", "app.py");
            link(b, tar::EntryType::Symlink, "src/up", "../Procfile");
        });
        let source = SourceArchive::from_tar(tar, MAX_SOURCE_BYTES).unwrap();
        assert!(source.contains_file("Dockerfile"));
        assert!(source.contains_file("src/app.py"));
        assert_eq!(source.read_file("Procfile").unwrap().unwrap(), b"web: python3 app.py\n");
        assert_eq!(source.read_file("missing").unwrap(), None);
    }

    #[test]
    fn rejects_traversal_links_out_and_special_files() {
        let traversal = tar_with(|b| file(b, "../../etc/passwd", b"x"));
        assert!(matches!(SourceArchive::from_tar(traversal, MAX_SOURCE_BYTES), Err(ArchiveError::PathTraversal(_))));
        let absolute = tar_with(|b| file(b, "/etc/passwd", b"x"));
        assert!(matches!(SourceArchive::from_tar(absolute, MAX_SOURCE_BYTES), Err(ArchiveError::PathTraversal(_))));
        for target in ["/etc/shadow", "../../outside", "a/../../x"] {
            let escape = tar_with(|b| link(b, tar::EntryType::Symlink, "evil", target));
            assert!(
                matches!(SourceArchive::from_tar(escape, MAX_SOURCE_BYTES), Err(ArchiveError::LinkEscape(_))),
                "{target}"
            );
        }
        let hard = tar_with(|b| link(b, tar::EntryType::Link, "dir/evil", "../x"));
        assert!(matches!(SourceArchive::from_tar(hard, MAX_SOURCE_BYTES), Err(ArchiveError::LinkEscape(_))));
        let device = tar_with(|b| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Char);
            header.set_path("dev-null").unwrap();
            header.set_size(0);
            header.set_cksum();
            b.append(&header, &[][..]).unwrap();
        });
        assert!(matches!(SourceArchive::from_tar(device, MAX_SOURCE_BYTES), Err(ArchiveError::SpecialFile(_))));
    }

    #[test]
    fn rejects_oversized_and_garbage_archives() {
        let tar = tar_with(|b| file(b, "big", &vec![0u8; 4096]));
        assert!(matches!(SourceArchive::from_tar(tar, 1024), Err(ArchiveError::TooLarge { .. })));
        let garbage = vec![0xffu8; 1024];
        assert!(SourceArchive::from_tar(garbage, MAX_SOURCE_BYTES).is_err());
    }
}
