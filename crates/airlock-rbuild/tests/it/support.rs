//! Packages written on the fly, and the target and sandbox of this machine.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use airlock_rbuild::{BuildInput, Built, Failed, Limits, Sandbox, Target};

pub struct Tools {
    pub target: Target,
    pub sandbox: Sandbox,
}

/// This machine's R and bwrap, or `None` (with a notice) when either is missing; with `CI` set a
/// missing one fails the test instead.
pub fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    let tools = TOOLS.get_or_init(|| {
        let target = Target::probe("bookworm", None).map_err(|e| format!("no usable R: {e}"))?;
        let sandbox = Sandbox::detect().map_err(|e| format!("no usable sandbox: {e}"))?;
        Ok(Tools { target, sandbox })
    });
    match tools {
        Ok(tools) => Some(tools),
        Err(why) if std::env::var_os("CI").is_some() => panic!("{why} (CI is set)"),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A unique word, to find a test's processes or files.
pub fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("airlock-{what}-{}-{nanos}", std::process::id())
}

/// Writes package `name` 1.0 under `dir` (DESCRIPTION with `extra` fields, the `files`; a file
/// named `configure` is made executable) and returns the source tarball `R CMD build` makes of it.
pub fn source_package(
    tools: &Tools,
    dir: &Path,
    name: &str,
    extra: &str,
    files: &[(&str, &str)],
) -> PathBuf {
    let root = dir.join("sources").join(name);
    fs::create_dir_all(&root).unwrap();
    let description = format!(
        "Package: {name}\nVersion: 1.0\nTitle: Airlock Test Package\n\
         Description: A tiny package for airlock's build tests.\n\
         Authors@R: person(\"Ada\", \"Lovelace\", email = \"ada@example.org\", role = c(\"aut\", \"cre\"))\n\
         License: MIT\n{extra}"
    );
    fs::write(root.join("DESCRIPTION"), description).unwrap();
    if !files.iter().any(|(path, _)| *path == "NAMESPACE") {
        fs::write(root.join("NAMESPACE"), "").unwrap();
    }
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        if path.file_name().is_some_and(|n| n == "configure") {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let built = dir.join("sources");
    run(Command::new(&tools.target.r)
        .args(["CMD", "build", "--no-build-vignettes", "--no-manual", name])
        .current_dir(&built));
    let tarball = built.join(format!("{name}_1.0.tar.gz"));
    assert!(
        tarball.is_file(),
        "R CMD build made no {}",
        tarball.display()
    );
    tarball
}

/// Builds `source` (package `name` 1.0) in a fresh `work` under `dir`.
pub fn build(
    tools: &Tools,
    dir: &Path,
    name: &str,
    source: &Path,
    deps: &[PathBuf],
    limits: &Limits,
) -> Result<Built, Failed> {
    let work = dir.join(marker("work"));
    fs::create_dir(&work).unwrap();
    airlock_rbuild::build(
        &tools.target,
        &tools.sandbox,
        limits,
        &BuildInput {
            package: name,
            version: "1.0",
            source,
            deps,
            work: &work,
        },
    )
}

/// Runs `command`, failing the test with its output unless it succeeds; returns its stdout.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The build's result, or a test failure showing why it failed and its log.
pub fn expect_built(result: Result<Built, Failed>) -> Built {
    result.unwrap_or_else(|f| {
        panic!(
            "build failed: {} ({:?})\n--- log\n{}",
            f.reason, f.kind, f.log
        )
    })
}

/// The build's failure, or a test failure showing its log.
pub fn expect_failed(result: Result<Built, Failed>) -> Failed {
    match result {
        Ok(built) => panic!("the build succeeded\n--- log\n{}", built.log),
        Err(failed) => failed,
    }
}
