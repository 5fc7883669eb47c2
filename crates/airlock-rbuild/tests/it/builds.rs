//! Builds that succeed, and the binaries they make; builds that fail for a reason an admin can act on.

use std::fs;
use std::path::Path;
use std::process::Command;

use airlock_rbuild::{FailureKind, Limits};

use crate::support::{build, expect_built, expect_failed, run, source_package, tools};

const C_SOURCE: &str = r#"#include <R.h>
#include <Rinternals.h>

SEXP airc_twice(SEXP x) { return ScalarInteger(2 * asInteger(x)); }
"#;

/// A Makevars that makes any compilation fail: installing a binary must not need one.
fn no_compiler(dir: &Path) -> std::path::PathBuf {
    let makevars = dir.join("Makevars-no-compiler");
    fs::write(
        &makevars,
        "CC=false\nCXX=false\nCXX11=false\nCXX14=false\nCXX17=false\nFC=false\nF77=false\n",
    )
    .unwrap();
    makevars
}

#[test]
fn a_package_with_c_code_builds_a_binary_that_installs_without_a_compiler() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = source_package(
        tools,
        dir.path(),
        "airC",
        "NeedsCompilation: yes\n",
        &[
            ("NAMESPACE", "useDynLib(airC, airc_twice)\nexport(twice)\n"),
            (
                "R/twice.R",
                "twice <- function(x) .Call(airc_twice, as.integer(x))\n",
            ),
            ("src/airc.c", C_SOURCE),
        ],
    );
    let built = expect_built(build(
        tools,
        dir.path(),
        "airC",
        &source,
        &[],
        &Limits::default(),
    ));

    let platform = &tools.target.platform;
    let expected_name = format!("airC_1.0_R_{platform}.tar.gz");
    assert_eq!(
        built.binary.file_name().unwrap().to_str().unwrap(),
        expected_name
    );
    assert!(
        built
            .built_field
            .starts_with(&format!("R {}; {platform}; ", tools.target.r_version)),
        "{}",
        built.built_field
    );
    assert!(
        built.built_field.ends_with("; unix"),
        "{}",
        built.built_field
    );
    assert!(built.log.contains("airlock: building"), "{}", built.log);
    assert!(built.seconds > 0.0);

    // Installing the binary compiles nothing; installing the source with the same settings fails.
    let makevars = no_compiler(dir.path());
    let library = dir.path().join("fresh-library");
    fs::create_dir(&library).unwrap();
    let install = |tarball: &Path| {
        Command::new(&tools.target.r)
            .args(["CMD", "INSTALL", "--library=fresh-library"])
            .arg(tarball)
            .env("R_MAKEVARS_USER", &makevars)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let from_source = install(&source);
    assert!(
        !from_source.status.success(),
        "the source installed without a compiler?"
    );
    let from_binary = install(&built.binary);
    assert!(
        from_binary.status.success(),
        "{}",
        String::from_utf8_lossy(&from_binary.stderr)
    );
    let answer = run(Command::new(&tools.target.rscript)
        .args([
            "--vanilla",
            "-e",
            "library(airC, lib.loc = 'fresh-library'); cat(twice(21L))",
        ])
        .current_dir(dir.path()));
    assert_eq!(answer, "42");
}

#[test]
fn a_dependency_is_installed_from_its_binary_and_a_missing_one_is_named() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = source_package(
        tools,
        dir.path(),
        "airDepA",
        "",
        &[
            ("NAMESPACE", "export(hello)\n"),
            ("R/hello.R", "hello <- function() \"hello from A\"\n"),
            ("inst/include/airDepA.h", "#define AIRDEPA_ANSWER 42\n"),
        ],
    );
    let b = source_package(
        tools,
        dir.path(),
        "airDepB",
        "Imports: airDepA\nLinkingTo: airDepA\nNeedsCompilation: yes\n",
        &[
            (
                "NAMESPACE",
                "importFrom(airDepA, hello)\nuseDynLib(airDepB, b_answer)\nexport(answer, greet)\n",
            ),
            (
                "R/b.R",
                "answer <- function() .Call(b_answer)\ngreet <- function() hello()\n",
            ),
            (
                "src/b.c",
                "#include <R.h>\n#include <Rinternals.h>\n#include <airDepA.h>\n\
                 SEXP b_answer(void) { return ScalarInteger(AIRDEPA_ANSWER); }\n",
            ),
        ],
    );
    let limits = Limits::default();
    let a_built = expect_built(build(tools, dir.path(), "airDepA", &a, &[], &limits));
    assert!(
        a_built
            .built_field
            .starts_with(&format!("R {}; ; ", tools.target.r_version)),
        "{}",
        a_built.built_field
    );
    let b_built = expect_built(build(
        tools,
        dir.path(),
        "airDepB",
        &b,
        std::slice::from_ref(&a_built.binary),
        &limits,
    ));
    assert!(
        b_built
            .log
            .contains("airlock: installing the dependency airDepA_1.0_R_"),
        "{}",
        b_built.log
    );

    let library = dir.path().join("fresh-library");
    fs::create_dir(&library).unwrap();
    run(Command::new(&tools.target.r)
        .args(["CMD", "INSTALL", "--library=fresh-library"])
        .arg(&a_built.binary)
        .arg(&b_built.binary)
        .current_dir(dir.path()));
    let answer = run(Command::new(&tools.target.rscript)
        .args([
            "--vanilla",
            "-e",
            "library(airDepB, lib.loc = 'fresh-library'); cat(answer(), greet())",
        ])
        .current_dir(dir.path()));
    assert_eq!(answer, "42 hello from A");

    let junk = dir.path().join("airJunk_1.0_R_x86_64-pc-linux-gnu.tar.gz");
    fs::write(&junk, "not a tarball").unwrap();
    let failed = expect_failed(build(tools, dir.path(), "airDepA", &a, &[junk], &limits));
    assert_eq!(
        failed.kind,
        FailureKind::Failed,
        "{}\n{}",
        failed.reason,
        failed.log
    );
    assert!(
        failed.reason.starts_with(
            "installing the dependency airJunk_1.0_R_x86_64-pc-linux-gnu.tar.gz failed: "
        ),
        "{}\n{}",
        failed.reason,
        failed.log
    );

    let failed = expect_failed(build(tools, dir.path(), "airDepB", &b, &[], &limits));
    assert_eq!(
        failed.kind,
        FailureKind::MissingDependency,
        "{}\n{}",
        failed.reason,
        failed.log
    );
    assert_eq!(
        failed.reason, "missing dependency: airDepA",
        "{}",
        failed.log
    );
}

#[test]
fn a_missing_header_is_named_with_the_system_requirements() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = source_package(
        tools,
        dir.path(),
        "airMissing",
        "SystemRequirements: libfoo\nNeedsCompilation: yes\n",
        &[(
            "src/m.c",
            "#include <nonexistent_lib/foo.h>\nint m(void) { return FOO; }\n",
        )],
    );
    let failed = expect_failed(build(
        tools,
        dir.path(),
        "airMissing",
        &source,
        &[],
        &Limits::default(),
    ));
    assert_eq!(
        failed.kind,
        FailureKind::MissingSystemLibrary,
        "{}\n{}",
        failed.reason,
        failed.log
    );
    assert_eq!(
        failed.reason,
        "the header nonexistent_lib/foo.h is missing (SystemRequirements: libfoo)"
    );
    assert!(
        failed
            .log
            .contains("nonexistent_lib/foo.h: No such file or directory"),
        "{}",
        failed.log
    );
}
