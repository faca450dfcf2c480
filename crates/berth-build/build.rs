//! Embeds the built-in buildpacks (`/buildpacks`) into the binary as a tar, so
//! one `berth` binary carries everything it needs.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let source = manifest.join("../../buildpacks");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("buildpacks.tar");
    let file = std::fs::File::create(&out).unwrap();
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    if source.is_dir() {
        for entry in std::fs::read_dir(&source).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_owned();
            // Only buildpack directories (those with bin/detect) ship.
            if path.join("bin/detect").is_file() {
                builder.append_dir_all(&name, &path).unwrap();
            }
        }
    }
    builder.finish().unwrap();
}
