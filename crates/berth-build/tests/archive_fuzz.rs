//! The source-archive checker against generated hostile archives: it never
//! panics, and no accepted entry leaves the source tree.

use std::path::{Component, Path};

use berth_build::SourceArchive;
use proptest::prelude::*;

/// A tar with one regular file at a raw (unchecked) path.
fn tar_with_path(path: &[u8], kind: tar::EntryType, link: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    header.as_old_mut().name[..path.len()].copy_from_slice(path);
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    header.set_cksum();
    builder.append(&header, &b"x"[..]).unwrap();
    builder.into_inner().unwrap()
}

/// Whether a relative path stays inside its root when resolved lexically.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![Just("..".to_string()), Just(".".to_string()), Just("".to_string()), "[a-z]{1,6}"]
}

fn hostile_path() -> impl Strategy<Value = String> {
    (any::<bool>(), proptest::collection::vec(segment(), 1..6)).prop_map(|(absolute, parts)| {
        let joined = parts.join("/");
        if absolute {
            format!("/{joined}")
        } else {
            joined
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = SourceArchive::from_tar(bytes, 1 << 20);
    }

    #[test]
    fn corrupted_archives_never_panic(path in hostile_path(), flips in proptest::collection::vec((0usize..1536, any::<u8>()), 0..16)) {
        let mut tar = tar_with_path(path.as_bytes(), tar::EntryType::Regular, b"");
        for (at, byte) in flips {
            if at < tar.len() {
                tar[at] = byte;
            }
        }
        let _ = SourceArchive::from_tar(tar, 1 << 20);
    }

    #[test]
    fn files_outside_the_tree_are_rejected(path in hostile_path()) {
        let result = SourceArchive::from_tar(tar_with_path(path.as_bytes(), tar::EntryType::Regular, b""), 1 << 20);
        if !stays_inside(Path::new(&path)) {
            prop_assert!(result.is_err(), "accepted {path:?}");
        }
    }

    #[test]
    fn links_leaving_the_tree_are_rejected(name in "[a-z]{1,4}(/[a-z]{1,4}){0,2}", target in hostile_path(), hard in any::<bool>()) {
        let kind = if hard { tar::EntryType::Link } else { tar::EntryType::Symlink };
        let result = SourceArchive::from_tar(tar_with_path(name.as_bytes(), kind, target.as_bytes()), 1 << 20);
        // Symlinks resolve from their directory, hard links from the root.
        let base = if hard { Path::new("") } else { Path::new(&name).parent().unwrap_or(Path::new("")) };
        if target.is_empty() {
            return Ok(());
        }
        if !stays_inside(&base.join(&target)) {
            prop_assert!(result.is_err(), "accepted link {name:?} -> {target:?}");
        }
    }
}
