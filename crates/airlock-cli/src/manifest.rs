//! The manifest a command names, read from disk (or stdin) with the files it includes, and the
//! forms a server takes it in: the text alone, or a bundle of the file and its includes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airlock_manifest::{Kind, Loader, Manifest};
use anyhow::{Context, Result};

/// Reads includes from disk and remembers every file read, keyed by absolute path.
struct Recording {
    files: RefCell<BTreeMap<PathBuf, String>>,
}

impl Loader for Recording {
    fn load(&self, from: &str, target: &str) -> Result<(String, String), String> {
        let (path, text) = airlock_manifest::FsLoader.load(from, target)?;
        let absolute = std::path::absolute(&path).map_err(|e| e.to_string())?;
        self.files.borrow_mut().insert(absolute, text.clone());
        Ok((path, text))
    }
}

/// The manifest read from disk (or stdin for `-`), with the files it included.
pub struct Read {
    pub name: String,
    pub text: String,
    pub manifest: Manifest,
    pub includes: BTreeMap<PathBuf, String>,
}

pub fn read(file: &str, kind: Option<&str>) -> Result<Read> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the manifest from stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let kind = match kind {
        Some(k) => k.parse::<Kind>()?,
        None => Kind::detect(Some(file).filter(|f| *f != "-"), &text)
            .with_context(|| format!("cannot tell what kind of manifest {file} is"))
            .context("give it with --kind (uv-lock, poetry-lock, requirements-txt, …)")?,
    };
    let loader = Recording {
        files: RefCell::new(BTreeMap::new()),
    };
    let manifest = airlock_manifest::parse(kind, file, &text, &loader)?;
    Ok(Read {
        name: file.to_string(),
        text,
        manifest,
        includes: loader.files.into_inner(),
    })
}

/// The last component of a path.
pub fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// The manifest as the requests API takes it: the text alone, or a bundle with its includes.
pub fn manifest_json(file: &str, kind: Option<&str>) -> Result<serde_json::Value> {
    let read = read(file, kind)?;
    if read.includes.is_empty() {
        Ok(serde_json::json!({
            "name": file_name(&read.name),
            "kind": read.manifest.kind,
            "text": read.text,
        }))
    } else {
        bundle(&read)
    }
}

/// The manifest and its includes, keyed by path relative to the directory they all share.
pub fn bundle(read: &Read) -> Result<serde_json::Value> {
    let main = std::path::absolute(&read.name)?;
    let mut all: Vec<&Path> = read.includes.keys().map(PathBuf::as_path).collect();
    all.push(&main);
    let mut root = main.parent().unwrap_or(Path::new("/")).to_path_buf();
    while !all.iter().all(|p| p.starts_with(&root)) {
        if !root.pop() {
            break;
        }
    }
    let key = |p: &Path| -> Result<String> {
        let rel = p.strip_prefix(&root).unwrap_or(p);
        airlock_manifest::normalize_relative(rel)
            .with_context(|| format!("cannot send {}", p.display()))
    };
    let mut files = serde_json::Map::new();
    files.insert(key(&main)?, read.text.clone().into());
    for (path, text) in &read.includes {
        files.insert(key(path)?, text.clone().into());
    }
    Ok(serde_json::json!({
        "kind": read.manifest.kind,
        "main": key(&main)?,
        "files": files,
    }))
}
