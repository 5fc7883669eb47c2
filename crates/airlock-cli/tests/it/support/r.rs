//! R for the CRAN tests: `Rscript` (a test is skipped without it, and fails when `CI` is set), R source
//! packages built by `R CMD build` (cached on disk, shared by every test process), fresh R libraries to
//! install into with `install.packages` and `remotes::install_version`, and hand-made tarballs (Python's
//! tarfile) that break one rule at a time.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::cmd::{Finished, run};
use super::env::venv_bin;
use super::sha256_hex;

/// Variables by which the machine's configuration could send R elsewhere than the test server.
const FOREIGN_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "R_PROFILE_USER",
    "R_ENVIRON_USER",
    "R_LIBS_SITE",
];

/// Whether this is CI, where a missing tool is a failure, never a skip.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// R as installed on this machine.
#[derive(Debug, Clone)]
pub struct R {
    rscript: PathBuf,
}

impl R {
    /// `Rscript` from `PATH`. Without it: `None` (the caller returns, skipping the test) and a note on
    /// stderr, or a panic when `CI` is set.
    pub fn find() -> Option<R> {
        match on_path("Rscript") {
            Some(rscript) => Some(R { rscript }),
            None => {
                let why = "Rscript is not on PATH: install R (apt-get install r-base-core \
                           r-cran-remotes, or run scripts/test as root)";
                assert!(
                    !in_ci(),
                    "{why}; CI is set, so the R tests fail instead of skipping"
                );
                eprintln!("SKIPPED: {why}");
                None
            }
        }
    }

    /// Like [`R::find`], and also requires the R package `pkg` (e.g. `remotes`).
    pub fn find_with(pkg: &str) -> Option<R> {
        let r = R::find()?;
        let has = r
            .command()
            .args([
                "-e",
                &format!("quit(status = !requireNamespace({pkg:?}, quietly = TRUE))"),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if has {
            return Some(r);
        }
        let why = format!("the R package {pkg} is not installed (apt-get install r-cran-{pkg})");
        assert!(
            !in_ci(),
            "{why}; CI is set, so the R tests fail instead of skipping"
        );
        eprintln!("SKIPPED: {why}");
        None
    }

    /// `Rscript --vanilla` with no proxy and no user configuration.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.rscript);
        for var in FOREIGN_ENV {
            cmd.env_remove(var);
        }
        cmd.arg("--vanilla")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            // Every test process reads indexes afresh (this is R's own per-session cache).
            .env("R_AVAILABLE_PACKAGES_CACHE_CONTROL_MAX_AGE", "0");
        cmd
    }

    /// Runs R code (written to a file in `scratch`), with R's temporary files in `scratch`.
    pub fn eval(&self, scratch: &Path, code: &str) -> Finished {
        let script = tempfile::Builder::new()
            .prefix("script-")
            .suffix(".R")
            .tempfile_in(scratch)
            .expect("temp script");
        fs::write(script.path(), code).expect("write R script");
        run(self
            .command()
            .arg(script.path())
            .current_dir(scratch)
            .env("TMPDIR", scratch))
    }
}

/// An R string literal.
pub fn r_str(s: &str) -> String {
    // Rust's Debug escapes are valid in R strings for what tests use (quotes, backslashes, \n).
    format!("{s:?}")
}

/// `c("a", "b")`.
pub fn r_vec(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| r_str(s)).collect();
    format!("c({})", items.join(", "))
}

/// R code that prints each warning as it happens (Rscript would print them at the end, truncated).
const SHOW_WARNINGS: &str = r#"
show_warnings <- function(expr) withCallingHandlers(expr, warning = function(w) {
  message("R WARNING: ", conditionMessage(w))
  invokeRestart("muffleWarning")
})
"#;

/// An empty R library to install packages into (R's own libraries stay read-only), with a scratch dir.
pub struct RLib {
    r: R,
    dir: TempDir,
}

impl RLib {
    pub fn new(r: &R) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("airlock-rlib-")
            .tempdir()
            .expect("temp dir");
        fs::create_dir(dir.path().join("lib")).expect("mkdir lib");
        fs::create_dir(dir.path().join("tmp")).expect("mkdir tmp");
        RLib { r: r.clone(), dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    fn scratch(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Runs R code with this library first on `.libPaths()` and as `lib` (an R variable).
    pub fn eval(&self, code: &str) -> Finished {
        let lib = self.path();
        let lib = r_str(&lib.to_string_lossy());
        let code = format!("lib <- {lib}\n.libPaths(c(lib, .libPaths()))\n{SHOW_WARNINGS}\n{code}");
        self.r.eval(&self.scratch(), &code)
    }

    /// `install.packages(pkgs, repos = repos, lib = lib, type = "source")`; exits non-zero unless every
    /// package ended up in the library (R itself only warns).
    pub fn install_packages(&self, repos: &str, pkgs: &[&str]) -> Finished {
        self.eval(&format!(
            r#"pkgs <- {pkgs}
show_warnings(install.packages(pkgs, repos = {repos}, lib = lib, type = "source"))
missing <- setdiff(pkgs, rownames(installed.packages(lib.loc = lib)))
if (length(missing)) {{
  message("NOT INSTALLED: ", paste(missing, collapse = ", "))
  quit(status = 1)
}}
"#,
            pkgs = r_vec(pkgs),
            repos = r_str(repos),
        ))
    }

    /// `remotes::install_version(pkg, version, repos = repos, lib = lib, upgrade = "never")`; exits
    /// non-zero unless exactly that version ended up in the library.
    pub fn install_version(&self, repos: &str, pkg: &str, version: &str) -> Finished {
        self.eval(&format!(
            r#"show_warnings(remotes::install_version({pkg}, {version}, repos = {repos}, lib = lib,
  upgrade = "never", type = "source", quiet = FALSE))
got <- tryCatch(as.character(packageVersion({pkg}, lib.loc = lib)), error = function(e) "none")
if (got != {version}) {{
  message("INSTALLED VERSION: ", got)
  quit(status = 1)
}}
"#,
            pkg = r_str(pkg),
            version = r_str(version),
            repos = r_str(repos),
        ))
    }

    /// The version of `pkg` in this library, if installed.
    pub fn version_of(&self, pkg: &str) -> Option<String> {
        let done = self
            .eval(&format!(
                "v <- tryCatch(as.character(packageVersion({}, lib.loc = lib)), error = function(e) \"\")\n\
                 cat(v, \"\\n\", sep = \"\")",
                r_str(pkg)
            ))
            .success();
        let v = done.stdout.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    /// Prints the value of an R expression (as `cat`) with this library loaded first; panics on error.
    pub fn value(&self, expr: &str) -> String {
        self.eval(&format!("cat(format({expr}), sep = \"\\n\")"))
            .success()
            .stdout
            .trim()
            .to_string()
    }
}

/// A small R source package built with `R CMD build`.
#[derive(Debug, Clone)]
pub struct RPackage {
    name: String,
    version: String,
    license: String,
    /// DESCRIPTION `Imports`, e.g. `pkgA (>= 0.1)`.
    imports: Vec<String>,
    /// The body of `greet()`; default: returns `"{name} {version}"`.
    greet: String,
    /// `src/{name}.c` and the R wrapper `add_c(a, b)` calling it.
    c_code: bool,
    /// More files, by path relative to the package directory.
    extra: Vec<(String, String)>,
}

impl RPackage {
    pub fn new(name: &str, version: &str) -> Self {
        RPackage {
            name: name.to_string(),
            version: version.to_string(),
            license: "MIT + file LICENSE".to_string(),
            imports: Vec::new(),
            greet: format!("\"{name} {version}\""),
            c_code: false,
            extra: Vec::new(),
        }
    }

    /// Adds a file (e.g. `R/zzz.R`, `configure`) to the package.
    pub fn file(mut self, path: &str, text: &str) -> Self {
        self.extra.push((path.to_string(), text.to_string()));
        self
    }

    pub fn license(mut self, license: &str) -> Self {
        self.license = license.to_string();
        self
    }

    /// An `Imports` entry; the package imports the dependency's namespace.
    pub fn imports(mut self, dep: &str) -> Self {
        self.imports.push(dep.to_string());
        self
    }

    /// The R expression `greet()` returns.
    pub fn greet(mut self, expr: &str) -> Self {
        self.greet = expr.to_string();
        self
    }

    /// Adds compiled C code: `add_c(a, b)` returns `a + b` computed in C.
    pub fn with_c_code(mut self) -> Self {
        self.c_code = true;
        self
    }

    pub fn filename(&self) -> String {
        format!("{}_{}.tar.gz", self.name, self.version)
    }

    /// The package's files, by path relative to its directory.
    fn files(&self) -> Vec<(String, String)> {
        let name = &self.name;
        let mut description = format!(
            "Package: {name}\nVersion: {}\nTitle: Test Package {name}\n\
             Description: A small package the airlock end-to-end tests build.\n\
             Authors@R: person(\"Air\", \"Lock\", email = \"airlock@example.com\", role = c(\"aut\", \"cre\"))\n\
             License: {}\nEncoding: UTF-8\n",
            self.version, self.license
        );
        if !self.imports.is_empty() {
            let _ = writeln!(description, "Imports: {}", self.imports.join(", "));
        }
        let mut namespace = String::from("export(greet)\n");
        for dep in &self.imports {
            let dep_name = dep.split([' ', '(']).next().expect("dependency name");
            let _ = writeln!(namespace, "import({dep_name})");
        }
        let mut files = vec![
            (
                "R/greet.R".to_string(),
                format!("greet <- function() {}\n", self.greet),
            ),
            ("DESCRIPTION".to_string(), description),
        ];
        if self.license.contains("file LICENSE") {
            files.push((
                "LICENSE".to_string(),
                "YEAR: 2024\nCOPYRIGHT HOLDER: airlock tests\n".to_string(),
            ));
        }
        if self.c_code {
            let _ = writeln!(namespace, "export(add_c)");
            let _ = writeln!(
                namespace,
                "useDynLib({name}, .registration = TRUE, .fixes = \"C_\")"
            );
            files.push((
                "R/add.R".to_string(),
                "add_c <- function(a, b) .Call(C_add, as.numeric(a), as.numeric(b))\n".to_string(),
            ));
            files.push((
                format!("src/{name}.c"),
                format!(
                    "#include <R.h>\n#include <Rinternals.h>\n#include <R_ext/Rdynload.h>\n\n\
                     SEXP add(SEXP a, SEXP b) {{ return ScalarReal(asReal(a) + asReal(b)); }}\n\n\
                     static const R_CallMethodDef calls[] = {{{{\"add\", (DL_FUNC) &add, 2}}, {{NULL, NULL, 0}}}};\n\n\
                     void R_init_{name}(DllInfo *dll) {{\n    R_registerRoutines(dll, NULL, calls, NULL, NULL);\n    \
                     R_useDynamicSymbols(dll, FALSE);\n}}\n"
                ),
            ));
        }
        files.push(("NAMESPACE".to_string(), namespace));
        files.extend(self.extra.iter().cloned());
        files
    }

    /// The `.tar.gz` built by `R CMD build`, from the cache when this exact package was built before
    /// (by any test process).
    pub fn build(&self, r: &R) -> PathBuf {
        let files = self.files();
        let mut fingerprint = String::new();
        for (path, text) in &files {
            let _ = write!(fingerprint, "{path}\0{text}\0");
        }
        let key = &sha256_hex(fingerprint.as_bytes())[..16];
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("r-fixtures");
        let done = cache.join(format!("{}_{}-{key}", self.name, self.version));
        let built = done.join(self.filename());
        if built.is_file() {
            return built;
        }
        fs::create_dir_all(&cache).expect("create fixture cache");
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&cache)
            .expect("temp dir");
        let src = work.path().join(&self.name);
        for (path, text) in &files {
            let path = src.join(path);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, text).expect("write package file");
        }
        let out = work.path().join("out");
        fs::create_dir(&out).expect("mkdir out");
        let mut cmd = Command::new(
            r.rscript
                .parent()
                .map_or_else(|| PathBuf::from("R"), |bin| bin.join("R")),
        );
        for var in FOREIGN_ENV {
            cmd.env_remove(var);
        }
        run(cmd
            .args([
                "CMD",
                "build",
                "--no-manual",
                "--no-build-vignettes",
                "--no-resave-data",
            ])
            .arg(&src)
            .current_dir(&out)
            .env("TMPDIR", work.path()))
        .success();
        assert!(
            out.join(self.filename()).is_file(),
            "R CMD build left no {} in {}",
            self.filename(),
            out.display()
        );
        // Losing the race to another process is fine: its build is as good as ours.
        let _ = fs::rename(&out, &done);
        assert!(built.is_file(), "built package in the cache: {built:?}");
        built
    }
}

/// `pkgA` at `version`: pure R; `greet()` returns `"pkgA {version}"`.
pub fn pkg_a(version: &str) -> RPackage {
    RPackage::new("pkgA", version)
}

/// `pkgB` 1.0.0: imports `pkgA (>= 0.1)`; `greet()` says `"pkgB 1.0.0 with pkgA ..."`.
pub fn pkg_b() -> RPackage {
    RPackage::new("pkgB", "1.0.0")
        .license("GPL (>= 2)")
        .imports("pkgA (>= 0.1)")
        .greet("paste(\"pkgB 1.0.0 with\", pkgA::greet())")
}

/// `pkgC` 1.0.0: compiled C code (`add_c()`), `NeedsCompilation: yes`.
pub fn pkg_c() -> RPackage {
    RPackage::new("pkgC", "1.0.0")
        .license("GPL-3")
        .with_c_code()
}

/// The Python half of [`HandTarball`]: writes a `.tar.gz` from a JSON list of members.
const MAKE_TARBALL: &str = r#"
import gzip, io, json, sys, tarfile

spec = json.loads(sys.argv[1])

class Spaces(io.RawIOBase):
    """`count` bytes of spaces, read in chunks (never held in memory at once)."""
    def __init__(self, count):
        self.left = count
    def readable(self):
        return True
    def readinto(self, buf):
        n = min(len(buf), self.left)
        buf[:n] = b" " * n
        self.left -= n
        return n

raw = open(spec["path"], "wb")
gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0)
with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tf:
    for m in spec["members"]:
        info = tarfile.TarInfo(m["name"])
        info.mtime = 1700000000
        if m["type"] == "dir":
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        elif m["type"] == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = m["target"]
            tf.addfile(info)
        elif m["type"] == "chardev":
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tf.addfile(info)
        elif m["type"] == "spaces":
            info.size = m["count"]
            info.mode = 0o644
            tf.addfile(info, io.BufferedReader(Spaces(m["count"]), 1 << 20))
        else:
            data = m["text"].encode()
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
gz.close()
raw.close()
"#;

#[derive(Debug, Clone)]
enum Member {
    Dir,
    Text(String),
    Symlink(String),
    CharDevice,
    /// This many spaces: compresses about a thousandfold.
    Spaces(u64),
}

/// A source package written member by member (Python's tarfile), valid until a test breaks it:
/// `{name}/DESCRIPTION`, `{name}/NAMESPACE`, `{name}/R/code.R`.
#[derive(Debug, Clone)]
pub struct HandTarball {
    name: String,
    version: String,
    members: Vec<(String, Member)>,
}

/// A minimal valid DESCRIPTION.
pub fn description(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nVersion: {version}\nTitle: Hand-Made Package\n\
         Description: Written member by member by the airlock tests.\n\
         Author: Air Lock\nMaintainer: Air Lock <airlock@example.com>\nLicense: MIT\n"
    )
}

impl HandTarball {
    pub fn new(name: &str, version: &str) -> Self {
        HandTarball {
            name: name.to_string(),
            version: version.to_string(),
            members: Vec::new(),
        }
        .dir(name)
        .member(&format!("{name}/DESCRIPTION"), &description(name, version))
        .member(&format!("{name}/NAMESPACE"), "export(f)\n")
        .dir(&format!("{name}/R"))
        .member(&format!("{name}/R/code.R"), "f <- function() 1\n")
    }

    pub fn filename(&self) -> String {
        format!("{}_{}.tar.gz", self.name, self.version)
    }

    fn with(mut self, name: &str, member: Member) -> Self {
        self.members.retain(|(n, _)| n != name);
        self.members.push((name.to_string(), member));
        self
    }

    /// Adds (or replaces) a file with this text.
    pub fn member(self, name: &str, text: &str) -> Self {
        self.with(name, Member::Text(text.to_string()))
    }

    pub fn dir(self, name: &str) -> Self {
        self.with(name, Member::Dir)
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.with(name, Member::Symlink(target.to_string()))
    }

    pub fn char_device(self, name: &str) -> Self {
        self.with(name, Member::CharDevice)
    }

    /// A file of `count` spaces (a gzip bomb when large).
    pub fn spaces(self, name: &str, count: u64) -> Self {
        self.with(name, Member::Spaces(count))
    }

    /// Removes a member.
    pub fn without(mut self, name: &str) -> Self {
        self.members.retain(|(n, _)| n != name);
        self
    }

    /// Writes the tarball into `dir` under [`Self::filename`].
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.write_as(dir, &self.filename())
    }

    /// Writes the tarball into `dir` under another file name.
    pub fn write_as(&self, dir: &Path, filename: &str) -> PathBuf {
        let path = dir.join(filename);
        let members: Vec<serde_json::Value> = self
            .members
            .iter()
            .map(|(name, m)| match m {
                Member::Dir => serde_json::json!({"name": name, "type": "dir"}),
                Member::Text(text) => {
                    serde_json::json!({"name": name, "type": "file", "text": text})
                }
                Member::Symlink(target) => {
                    serde_json::json!({"name": name, "type": "symlink", "target": target})
                }
                Member::CharDevice => serde_json::json!({"name": name, "type": "chardev"}),
                Member::Spaces(count) => {
                    serde_json::json!({"name": name, "type": "spaces", "count": count})
                }
            })
            .collect();
        let spec = serde_json::json!({ "path": path, "members": members });
        run(Command::new(venv_bin("python"))
            .args(["-c", MAKE_TARBALL])
            .arg(spec.to_string()))
        .success();
        path
    }
}

#[test]
fn r_literals_are_quoted() {
    assert_eq!(r_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(r_vec(&["x", "y"]), "c(\"x\", \"y\")");
}
