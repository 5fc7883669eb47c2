use super::*;

/// The start of every build log: what R prints before the interesting part.
const HEAD: &str =
    "airlock: building pkg 1.0 for bookworm-R4.2-x86_64 with /usr/lib/R/bin/R (R 4.2.2)
airlock: building pkg_1.0.tar.gz
* installing *source* package ‘pkg’ ...
** using staged installation
";

#[track_caller]
fn check(tail: &str, system_requirements: Option<&str>, kind: FailureKind, reason: &str) {
    let log = format!("{HEAD}{tail}");
    assert_eq!(
        explain_failure(&log, system_requirements),
        (kind, reason.to_owned()),
        "{log}"
    );
}

#[test]
fn a_missing_header_names_it_and_the_system_requirements() {
    let gcc = r#"** libs
gcc -I"/usr/share/R/include" -DNDEBUG      -fpic  -g -O2 -c m.c -o m.o
m.c:1:10: fatal error: libxml/parser.h: No such file or directory
    1 | #include <libxml/parser.h>
      |          ^~~~~~~~~~~~~~~~~
compilation terminated.
make: *** [/usr/lib/R/etc/Makeconf:169: m.o] Error 1
ERROR: compilation failed for package ‘pkg’
* removing ‘/tmp/build/lib/pkg’
"#;
    check(
        gcc,
        Some("libxml2:\n    libxml2-dev (deb)"),
        FailureKind::MissingSystemLibrary,
        "the header libxml/parser.h is missing (SystemRequirements: libxml2: libxml2-dev (deb))",
    );
    check(
        gcc,
        None,
        FailureKind::MissingSystemLibrary,
        "the header libxml/parser.h is missing",
    );
    check(
        "m.c:1:10: fatal error: 'gdal.h' file not found\n#include <gdal.h>\n1 error generated.\n",
        Some("GDAL (>= 2.2.3)"),
        FailureKind::MissingSystemLibrary,
        "the header gdal.h is missing (SystemRequirements: GDAL (>= 2.2.3))",
    );
}

#[test]
fn a_missing_library_names_it() {
    let ld = r#"** libs
gcc -shared -L/usr/lib/R/lib -Wl,-z,relro -o pl.so a.o -lnonexistentfoo -L/usr/lib/R/lib -lR
/usr/bin/ld: cannot find -lnonexistentfoo: No such file or directory
collect2: error: ld returned 1 exit status
make: *** [/usr/share/R/share/make/shlib.mk:10: pl.so] Error 1
ERROR: compilation failed for package ‘pkg’
* removing ‘/tmp/build/lib/pkg’
"#;
    check(
        ld,
        Some("libfoo"),
        FailureKind::MissingSystemLibrary,
        "the library libnonexistentfoo is missing (SystemRequirements: libfoo)",
    );
    // binutils before 2.40 ends the line there.
    check(
        "/usr/bin/ld: cannot find -lgsl\ncollect2: error: ld returned 1 exit status\n",
        None,
        FailureKind::MissingSystemLibrary,
        "the library libgsl is missing",
    );
}

#[test]
fn configure_errors_are_quoted() {
    check(
        "checking for gsl-config... no\nconfigure: error: gsl-config not found, is GSL installed?\n\
         ERROR: configuration failed for package ‘pkg’\n",
        Some("GNU GSL"),
        FailureKind::MissingSystemLibrary,
        "configure: error: gsl-config not found, is GSL installed? (SystemRequirements: GNU GSL)",
    );
    check(
        "configure: error: C compiler cannot create executables\nSee `config.log' for more details\n\
         ERROR: configuration failed for package ‘pkg’\n",
        None,
        FailureKind::Failed,
        "configure: error: C compiler cannot create executables",
    );
    check(
        "Package libxml-2.0 was not found in the pkg-config search path.\n\
         Perhaps you should add the directory containing `libxml-2.0.pc'\n\
         configure: error: libxml-2.0 not found\n",
        Some("libxml2"),
        FailureKind::MissingSystemLibrary,
        "the pkg-config module libxml-2.0 is missing (SystemRequirements: libxml2)",
    );
    check(
        "--------------------------- [ANTICONF] --------------------------------\n\
         Configuration failed because libcurl was not found. Try installing:\n \
         * deb: libcurl4-openssl-dev (Debian, Ubuntu, etc)\n",
        Some("libcurl: libcurl-devel (rpm) or libcurl4-openssl-dev (deb)."),
        FailureKind::MissingSystemLibrary,
        "configuration failed because libcurl was not found \
         (SystemRequirements: libcurl: libcurl-devel (rpm) or libcurl4-openssl-dev (deb).)",
    );
}

#[test]
fn missing_dependencies_are_named_in_either_quotes() {
    check(
        "ERROR: dependency ‘airDepA’ is not available for package ‘pkg’\n* removing ‘/tmp/build/lib/pkg’\n",
        None,
        FailureKind::MissingDependency,
        "missing dependency: airDepA",
    );
    check(
        "ERROR: dependencies ‘foo1’, ‘bar2’ are not available for package ‘pkg’\n",
        Some("libfoo"),
        FailureKind::MissingDependency,
        "missing dependencies: foo1, bar2",
    );
    check(
        "ERROR: dependencies 'foo1', 'bar2' are not available for package 'pkg'\n* removing '/tmp/build/lib/pkg'\n",
        None,
        FailureKind::MissingDependency,
        "missing dependencies: foo1, bar2",
    );
    check(
        "** byte-compile and prepare package for lazy loading\n\
         Error in loadNamespace(x) : there is no package called ‘Rcpp’\n\
         Error: unable to load R code in package ‘pkg’\nExecution halted\n\
         ERROR: lazy loading failed for package ‘pkg’\n",
        None,
        FailureKind::MissingDependency,
        "missing dependency: Rcpp",
    );
    check(
        "Error in loadNamespace(x) : there is no package called 'Rcpp'\n",
        None,
        FailureKind::MissingDependency,
        "missing dependency: Rcpp",
    );
    check(
        "Error: package ‘sp’ required by ‘raster’ could not be found\nExecution halted\n",
        None,
        FailureKind::MissingDependency,
        "missing dependency: sp",
    );
    check(
        "Error: package or namespace load failed for ‘pkg’ in loadNamespace(j <- i[[1L]], c(lib.loc, .libPaths()), versionCheck = vI[[j]]):\n \
         namespace ‘rlang’ 0.4.0 is being loaded, but >= 1.0.0 is required\n",
        None,
        FailureKind::MissingDependency,
        "the dependency rlang 0.4.0 is too old: >= 1.0.0 is required",
    );
}

#[test]
fn limits_and_the_sandbox() {
    check(
        "configure: spinning\nCPU time limit exceeded\nERROR: configuration failed for package ‘pkg’\n",
        None,
        FailureKind::CpuLimit,
        "a build process was killed by the CPU-time limit",
    );
    check(
        "gcc: internal compiler error: CPU time limit exceeded signal terminated program cc1plus\n",
        None,
        FailureKind::CpuLimit,
        "a build process was killed by the CPU-time limit",
    );
    assert_eq!(
        explain_failure("bwrap: Can't find source path /nonexistent: No such file or directory\n", None),
        (
            FailureKind::Sandbox,
            "the sandbox could not start: Can't find source path /nonexistent: No such file or directory"
                .to_owned()
        )
    );
    check(
        "Error: cannot allocate vector of size 3.7 Gb\nExecution halted\nERROR: lazy loading failed for package ‘pkg’\n",
        None,
        FailureKind::Failed,
        "out of memory (the limit on virtual memory, RLIMIT_AS, may be too low): \
         Error: cannot allocate vector of size 3.7 Gb",
    );
}

#[test]
fn otherwise_the_error_itself() {
    check(
        "a.c: In function ‘f’:\n\
         a.c:1:22: error: ‘undefined_thing’ undeclared (first use in this function)\n\
         a.c:1:22: note: each undeclared identifier is reported only once\n\
         make: *** [/usr/lib/R/etc/Makeconf:169: a.o] Error 1\n\
         ERROR: compilation failed for package ‘pkg’\n* removing ‘/tmp/build/lib/pkg’\n",
        Some("libfoo"),
        FailureKind::Failed,
        "compilation failed: a.c:1:22: error: ‘undefined_thing’ undeclared (first use in this function)",
    );
    check(
        "** byte-compile and prepare package for lazy loading\n\
         Error in eval(exprs[i], envir) : boom\n\
         Error: unable to load R code in package ‘pkg’\nExecution halted\n\
         ERROR: lazy loading failed for package ‘pkg’\n* removing ‘/tmp/build/lib/pkg’\n",
        None,
        FailureKind::Failed,
        "ERROR: lazy loading failed for package ‘pkg’ (Error in eval(exprs[i], envir) : boom)",
    );
    check(
        "ERROR: a 'NAMESPACE' file is required\n",
        None,
        FailureKind::Failed,
        "ERROR: a 'NAMESPACE' file is required",
    );
    check(
        "something odd\n\n  and then this  \n\n",
        None,
        FailureKind::Failed,
        "and then this",
    );
    assert_eq!(
        explain_failure("", None),
        (
            FailureKind::Failed,
            "the build failed without output".to_owned()
        )
    );
}

#[test]
fn reasons_are_one_short_line() {
    let long = format!("ERROR: {}\n", "é".repeat(1000));
    let (_, reason) = explain_failure(&long, None);
    assert_eq!(reason.chars().count(), REASON_CHARS);
    assert!(reason.ends_with('…'));
    let (_, reason) = explain_failure("configure: error: a\r\n", Some("x\n  y"));
    assert_eq!(reason, "configure: error: a");
}

#[test]
fn kinds_have_stable_names() {
    for kind in [
        FailureKind::TimedOut,
        FailureKind::CpuLimit,
        FailureKind::MissingSystemLibrary,
        FailureKind::MissingDependency,
        FailureKind::Sandbox,
        FailureKind::Failed,
    ] {
        assert_eq!(FailureKind::from_name(kind.as_str()), Some(kind));
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!(FailureKind::from_name("other"), None);
}
