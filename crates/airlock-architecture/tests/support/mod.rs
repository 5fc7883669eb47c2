//! Small throw-away crates and workspaces that keep or break the rules (each test binary uses
//! part of it).
#![allow(dead_code)]

use std::path::PathBuf;

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` at `rel`, making directories as needed.
    pub fn file(&self, rel: &str, text: &str) -> &Fixture {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// A library crate in `rel` named `name`, with the given `[dependencies]` lines and extra
    /// manifest text.
    pub fn krate(&self, rel: &str, name: &str, deps: &[&str], extra: &str) -> &Fixture {
        let deps = deps.join("\n");
        self.file(
            &format!("{rel}/Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n{deps}\n{extra}"
            ),
        )
        .file(&format!("{rel}/src/lib.rs"), "")
    }
}
