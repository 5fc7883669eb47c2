//! Python distributions made by the tests: real projects built with `python -m build` (hatchling), and
//! hand-made wheels (Python's zipfile) that break one rule at a time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cmd::run;
use super::env::venv_bin;
use super::python::tool;
use super::sha256_hex;

/// A wheel and an sdist of one project version.
#[derive(Debug, Clone)]
pub struct Dists {
    pub wheel: PathBuf,
    pub sdist: PathBuf,
}

impl Dists {
    pub fn both(&self) -> [&Path; 2] {
        [&self.wheel, &self.sdist]
    }
}

/// A small pure-Python project, built with hatchling.
#[derive(Debug, Clone)]
pub struct Project {
    name: String,
    version: String,
    dependencies: Vec<String>,
    requires_python: String,
    body: String,
    /// PEP 639 `license` (an SPDX expression, written to METADATA as `License-Expression`).
    license: Option<String>,
}

impl Project {
    /// A project whose module has `__version__` and a `greet()` naming the project and version.
    pub fn new(name: &str, version: &str) -> Self {
        Project {
            name: name.to_string(),
            version: version.to_string(),
            dependencies: Vec::new(),
            requires_python: ">=3.8".to_string(),
            body: format!("def greet():\n    return \"{name} {version}\"\n"),
            license: None,
        }
    }

    pub fn dependency(mut self, requirement: &str) -> Self {
        self.dependencies.push(requirement.to_string());
        self
    }

    /// Replaces the module body (after `__version__`), e.g. to get other bytes under the same filenames.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// The project's licence as an SPDX expression (`license = "MIT"`, PEP 639); the wheel's METADATA
    /// then says `License-Expression: MIT`.
    pub fn license(mut self, spdx: &str) -> Self {
        self.license = Some(spdx.to_string());
        self
    }

    pub fn module(&self) -> String {
        self.name.replace('-', "_")
    }

    fn pyproject(&self) -> String {
        let deps = self
            .dependencies
            .iter()
            .map(|d| format!("{d:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Only when set, so that the sources (and the cache keys) of other fixtures stay as they were.
        let license = self
            .license
            .as_ref()
            .map(|l| format!("license = {l:?}\n"))
            .unwrap_or_default();
        format!(
            r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "{version}"
description = "airlock end-to-end test fixture"
requires-python = "{requires_python}"
dependencies = [{deps}]
{license}
[tool.hatch.build.targets.wheel]
packages = ["{module}"]
"#,
            name = self.name,
            version = self.version,
            requires_python = self.requires_python,
            module = self.module(),
        )
    }

    fn init_py(&self) -> String {
        format!("__version__ = \"{}\"\n\n{}", self.version, self.body)
    }

    /// Builds the wheel and the sdist, or reuses an earlier build of identical sources. The cache lives in
    /// the target's temp dir and is shared by concurrent test processes (a finished build is renamed into
    /// place, so a reader never sees half of one).
    pub fn build(&self) -> Dists {
        let pyproject = self.pyproject();
        let init_py = self.init_py();
        let key = &sha256_hex(format!("{pyproject}\0{init_py}").as_bytes())[..16];
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-fixtures");
        let done = cache.join(format!("{}-{}-{key}", self.name, self.version));
        if let Some(dists) = find_dists(&done) {
            return dists;
        }
        fs::create_dir_all(&cache).expect("create fixture cache");
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&cache)
            .expect("temp dir");
        let src = work.path().join("src");
        fs::create_dir_all(src.join(self.module())).expect("create source tree");
        fs::write(src.join("pyproject.toml"), pyproject).expect("write pyproject");
        fs::write(src.join(self.module()).join("__init__.py"), init_py).expect("write module");
        let out = work.path().join("dist");
        run(tool("python", work.path())
            .args([
                "-m",
                "build",
                "--no-isolation",
                "--wheel",
                "--sdist",
                "--outdir",
            ])
            .arg(&out)
            .arg(&src)
            .env("SOURCE_DATE_EPOCH", "1700000000"))
        .success();
        find_dists(&out)
            .unwrap_or_else(|| panic!("build left no wheel and sdist in {}", out.display()));
        // Losing the race to another process is fine: its build is as good as ours.
        let _ = fs::rename(&out, &done);
        find_dists(&done).expect("built dists in the cache")
    }
}

fn find_dists(dir: &Path) -> Option<Dists> {
    let mut wheel = None;
    let mut sdist = None;
    for entry in fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        let name = path.file_name()?.to_string_lossy().into_owned();
        if name.ends_with(".whl") {
            wheel = Some(path);
        } else if name.ends_with(".tar.gz") {
            sdist = Some(path);
        }
    }
    Some(Dists {
        wheel: wheel?,
        sdist: sdist?,
    })
}

/// `airlock-demo-dep` at `version`.
pub fn demo_dep(version: &str) -> Project {
    Project::new("airlock-demo-dep", version)
}

/// `airlock-demo-app` 1.0, which needs `airlock-demo-dep>=1.0` and calls it.
pub fn demo_app() -> Project {
    Project::new("airlock-demo-app", "1.0")
        .dependency("airlock-demo-dep>=1.0")
        .body(
            "from airlock_demo_dep import greet as dep_greet\n\n\
             def greet():\n    return \"airlock-demo-app 1.0 with \" + dep_greet()\n",
        )
}

/// The Python half of [`HandWheel`]: writes a zip from a JSON list of members.
const MAKE_WHEEL: &str = r#"
import base64, hashlib, json, os, sys, zipfile

spec = json.loads(sys.argv[1])
CHUNK = 1 << 20

def chunks(member):
    if "text" in member:
        yield member["text"].encode()
    elif "spaces" in member:
        yield member["prefix"].encode()
        left = member["spaces"]
        block = b" " * CHUNK
        while left > 0:
            yield block[: min(left, CHUNK)]
            left -= CHUNK
    else:
        yield os.urandom(member["random"])

record = []
with zipfile.ZipFile(spec["path"], "w") as zf:
    for member in spec["members"]:
        info = zipfile.ZipInfo(member["name"], date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED if "random" in member else zipfile.ZIP_DEFLATED
        digest, size = hashlib.sha256(), 0
        with zf.open(info, "w") as f:
            for chunk in chunks(member):
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        record.append(f"{member['name']},sha256={b64},{size}\n")
    info = zipfile.ZipInfo(spec["record"], date_time=(2020, 1, 1, 0, 0, 0))
    zf.writestr(info, "".join(record) + spec["record"] + ",,\n", zipfile.ZIP_DEFLATED)
"#;

/// Contents of one member of a hand-made wheel.
#[derive(Debug, Clone)]
enum Content {
    Text(String),
    /// `prefix` followed by `count` spaces: compresses about a thousandfold.
    Spaces {
        prefix: String,
        count: u64,
    },
    /// Incompressible bytes, stored uncompressed.
    Random(u64),
}

/// A wheel written member by member, valid until a test breaks it: `{dist}-{version}-py3-none-any.whl`
/// with a module, METADATA, WHEEL and RECORD.
#[derive(Debug, Clone)]
pub struct HandWheel {
    name: String,
    version: String,
    members: Vec<(String, Content)>,
}

impl HandWheel {
    pub fn new(name: &str, version: &str) -> Self {
        let wheel = HandWheel {
            name: name.to_string(),
            version: version.to_string(),
            members: Vec::new(),
        };
        let dist_info = wheel.dist_info();
        let module = wheel.dist_name();
        wheel
            .member(&format!("{module}/__init__.py"), "VALUE = 1\n")
            .member(&format!("{dist_info}/METADATA"), &metadata(name, version))
            .member(
                &format!("{dist_info}/WHEEL"),
                "Wheel-Version: 1.0\nGenerator: airlock-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            )
    }

    /// The distribution part of file names: normalised name with `_`.
    fn dist_name(&self) -> String {
        self.name.to_lowercase().replace(['-', '.'], "_")
    }

    /// `{dist}-{version}.dist-info`.
    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.dist_name(), self.version)
    }

    /// The file name the wheel is written under.
    pub fn filename(&self) -> String {
        format!("{}-{}-py3-none-any.whl", self.dist_name(), self.version)
    }

    fn with(mut self, name: &str, content: Content) -> Self {
        self.members.retain(|(n, _)| n != name);
        self.members.push((name.to_string(), content));
        self
    }

    /// Adds (or replaces) a member with this text.
    pub fn member(self, name: &str, text: &str) -> Self {
        self.with(name, Content::Text(text.to_string()))
    }

    /// Removes a member.
    pub fn without(mut self, name: &str) -> Self {
        self.members.retain(|(n, _)| n != name);
        self
    }

    /// Replaces METADATA by valid headers followed by `spaces` spaces (a zip bomb when large).
    pub fn padded_metadata(self, spaces: u64) -> Self {
        let name = format!("{}/METADATA", self.dist_info());
        let prefix = metadata(&self.name, &self.version);
        self.with(
            &name,
            Content::Spaces {
                prefix,
                count: spaces,
            },
        )
    }

    /// Adds an incompressible member of `bytes` bytes (to make the file that large).
    pub fn random_member(self, name: &str, bytes: u64) -> Self {
        self.with(name, Content::Random(bytes))
    }

    /// Writes the wheel into `dir` under [`Self::filename`].
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        let members: Vec<serde_json::Value> = self
            .members
            .iter()
            .map(|(name, content)| match content {
                Content::Text(text) => serde_json::json!({"name": name, "text": text}),
                Content::Spaces { prefix, count } => {
                    serde_json::json!({"name": name, "prefix": prefix, "spaces": count})
                }
                Content::Random(bytes) => serde_json::json!({"name": name, "random": bytes}),
            })
            .collect();
        let spec = serde_json::json!({
            "path": path,
            "members": members,
            "record": format!("{}/RECORD", self.dist_info()),
        });
        run(Command::new(venv_bin("python"))
            .args(["-c", MAKE_WHEEL])
            .arg(spec.to_string()))
        .success();
        path
    }
}

/// Core metadata 2.1 naming `name` and `version`.
pub fn metadata(name: &str, version: &str) -> String {
    format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: hand-made test wheel\n\n"
    )
}

/// The METADATA member of a wheel on disk, read with Python's zipfile.
pub fn wheel_metadata(wheel: &Path) -> Vec<u8> {
    const READ_METADATA: &str = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf:
    names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    assert len(names) == 1, names
    sys.stdout.buffer.write(zf.read(names[0]))
"#;
    let out = Command::new(venv_bin("python"))
        .args(["-c", READ_METADATA])
        .arg(wheel)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "cannot read METADATA of {}: {}",
        wheel.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
