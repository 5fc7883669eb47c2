//! Binary R packages for Linux (`[[r_binary]]`): built by airlock in a sandbox from the sources a
//! lane serves, served at `/{lane}/cran/__linux__/{distro}/src/contrib/`, and installed by real R
//! with no compiler to be found. Dependencies (`Imports`, `LinkingTo`) are built first; a build
//! that fails leaves the source served and its log readable; a snapshot from before a binary was
//! built serves the source.
//!
//! Needs `Rscript` and bubblewrap (`bwrap`): each test is skipped without them, or fails when
//! `CI` is set.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cmd::run;
use crate::support::r::{R, RLib, RPackage, pkg_a, pkg_b, pkg_c, r_str};
use crate::support::{ServerConfig, TestServer, sha256_hex};

const DISTRO: &str = "bookworm";

/// bubblewrap, which the builds run in; `None` (skipped) without it, unless `CI` is set.
fn bwrap() -> Option<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("bwrap").is_file()));
    if found {
        return Some(());
    }
    let why = "bwrap is not on PATH: apt-get install bubblewrap (scripts/test does, as root)";
    assert!(
        std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false" || v == "0"),
        "{why}; CI is set, so the binary build tests fail instead of skipping"
    );
    eprintln!("SKIPPED: {why}");
    None
}

/// A server with one target, `bookworm`, building as `build` says, with `limits` (TOML lines of
/// `[r_builds]`).
fn server(build: &str, limits: &str) -> TestServer {
    let top = format!(
        "[[r_binary]]\ndistro = \"{DISTRO}\"\nbuild = \"{build}\"\n\n[r_builds]\n{limits}\n"
    );
    TestServer::builder()
        .config(ServerConfig::default().top(&top))
        .start()
}

fn publish(server: &TestServer, files: &[&Path]) {
    let url = server.url("");
    for file in files {
        let file = file.to_string_lossy();
        run(&mut server.airlock(&[
            "publish",
            &file,
            "--source",
            "internal-cran",
            "--server",
            &url,
            "--token",
            server.publisher_token(),
        ]))
        .success();
    }
}

fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let response = server
        .http()
        .get(server.url(path))
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.bytes().expect("body").to_vec())
}

fn linux(lane: &str, rest: &str) -> String {
    format!("/{lane}/cran/__linux__/{DISTRO}/src/contrib/{rest}")
}

/// The builds the API lists for `package`.
fn builds(server: &TestServer, token: &str, package: &str) -> Vec<Value> {
    let response = server
        .http()
        .get(server.url(&format!("/api/v1/builds?package={package}")))
        .bearer_auth(token)
        .send()
        .expect("GET /api/v1/builds");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().expect("JSON");
    answer["builds"].as_array().cloned().unwrap_or_default()
}

/// Waits until the build of `package` has ended (built or failed); its record.
fn ended(server: &TestServer, token: &str, package: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(b) = builds(server, token, package)
            .into_iter()
            .find(|b| b["state"] == "built" || b["state"] == "failed")
        {
            return b;
        }
        assert!(
            Instant::now() < deadline,
            "the build of {package} did not end in 180 s: {:?}\n{}",
            builds(server, token, package),
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The instant `key` of a build record, in microseconds.
fn instant(build: &Value, key: &str) -> i64 {
    let text = build[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} of {build}"));
    airlock_service::parse_rfc3339(text)
        .unwrap_or_else(|| panic!("{key} {text:?} is not RFC 3339"))
        .as_micros()
}

/// The PACKAGES record of `package` in `text`, as field -> value.
fn record(text: &str, package: &str) -> Option<std::collections::BTreeMap<String, String>> {
    text.split("\n\n")
        .map(|para| {
            para.lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .find(|fields| fields.get("Package").map(String::as_str) == Some(package))
}

/// Installs `pkgs` with `install.packages` from `repos` into `lib` where no C compiler can be
/// found (`CC=false` in the Makevars R CMD INSTALL reads): only binaries install.
fn install_without_compiler(
    lib: &RLib,
    repos: &str,
    pkgs: &[&str],
) -> crate::support::cmd::Finished {
    install_without_compiler_after(lib, "", repos, pkgs)
}

/// [`install_without_compiler`], after the R code `setup`.
fn install_without_compiler_after(
    lib: &RLib,
    setup: &str,
    repos: &str,
    pkgs: &[&str],
) -> crate::support::cmd::Finished {
    let makevars = lib.path().with_file_name("Makevars");
    std::fs::write(
        &makevars,
        "CC=false\nCXX=false\nCXX11=false\nCXX14=false\nCXX17=false\n",
    )
    .expect("write Makevars");
    let pkgs: Vec<String> = pkgs.iter().map(|p| r_str(p)).collect();
    lib.eval(&format!(
        r#"Sys.setenv(R_MAKEVARS_USER = {makevars})
{setup}
pkgs <- c({pkgs})
show_warnings(install.packages(pkgs, repos = {repos}, lib = lib, type = "source"))
missing <- setdiff(pkgs, rownames(installed.packages(lib.loc = lib)))
if (length(missing)) {{
  message("NOT INSTALLED: ", paste(missing, collapse = ", "))
  quit(status = 1)
}}
"#,
        makevars = r_str(&makevars.to_string_lossy()),
        pkgs = pkgs.join(", "),
        repos = r_str(repos),
    ))
}

#[test]
fn r_binaries_are_built_on_demand_and_install_without_a_compiler() {
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let c = pkg_c().build(&r);
    let server = server("on-demand", "");
    publish(&server, &[&c]);
    let source = std::fs::read(&c).expect("read pkgC");
    let reader = server.token("reader", "reader");
    // An instant before any binary exists: a snapshot of it serves sources.
    std::thread::sleep(Duration::from_millis(20));
    let before = airlock_service::format_rfc3339(airlock_service::Timestamp::now());
    std::thread::sleep(Duration::from_millis(20));

    // The first request queues the build and is answered with the source.
    let (status, first) = get(&server, &linux("dev", "pkgC_1.0.0.tar.gz"));
    assert_eq!(status, 200);
    assert_eq!(
        sha256_hex(&first),
        sha256_hex(&source),
        "the source until built"
    );
    let build = ended(&server, &reader, "pkgC");
    assert_eq!(build["state"], "built", "{build}\n{}", server.log_text());
    assert_eq!(
        build["target"]
            .as_str()
            .map(|t| t.starts_with("bookworm-R")),
        Some(true)
    );
    let binary = &build["binary"];
    let built_field = binary["built"].as_str().expect("Built field").to_string();
    assert!(built_field.starts_with("R "), "{built_field}");

    // PACKAGES of the target: the binary's MD5sum and its Built field; the source index unchanged.
    let (_, packages) = get(&server, &linux("dev", "PACKAGES"));
    let entry = record(&String::from_utf8_lossy(&packages), "pkgC").expect("pkgC in PACKAGES");
    assert_eq!(entry.get("Built"), Some(&built_field));
    let (_, served) = get(&server, &linux("dev", "pkgC_1.0.0.tar.gz"));
    assert_eq!(
        Some(&sha256_hex(&served)),
        binary["sha256"].as_str().map(str::to_string).as_ref()
    );
    assert_eq!(
        entry.get("MD5sum"),
        Some(&hex::encode(<md5::Md5 as md5::Digest>::digest(&served)))
    );
    let (_, plain) = get(&server, "/dev/cran/src/contrib/PACKAGES");
    let plain = record(&String::from_utf8_lossy(&plain), "pkgC").expect("pkgC");
    assert_eq!(
        plain.get("Built"),
        None,
        "the source repository lists the source"
    );
    let (_, from_source_url) = get(&server, "/dev/cran/src/contrib/pkgC_1.0.0.tar.gz");
    assert_eq!(sha256_hex(&from_source_url), sha256_hex(&source));

    // R installs the binary with no compiler, and it loads and runs its C code.
    let lib = RLib::new(&r);
    let repos = server.url(&format!("/dev/cran/__linux__/{DISTRO}"));
    let done = install_without_compiler(&lib, &repos, &["pkgC"]).success();
    assert!(
        done.stderr.contains("installing *binary* package"),
        "{done}"
    );
    assert_eq!(lib.value("pkgC::add_c(2, 3)"), "5");
    assert_eq!(
        lib.value("packageDescription('pkgC', lib.loc = lib)$Built"),
        built_field
    );
    // From the source URL, the same install fails: there is nothing to compile with.
    let lib2 = RLib::new(&r);
    install_without_compiler(&lib2, &server.url("/dev/cran"), &["pkgC"]).failure();

    // The snapshot from before the build serves the source at the binary URL.
    let at = format!("/dev/{before}/cran/__linux__/{DISTRO}/src/contrib/");
    let (status, old) = get(&server, &format!("{at}pkgC_1.0.0.tar.gz"));
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&old), sha256_hex(&source));
    let (_, old_packages) = get(&server, &format!("{at}PACKAGES"));
    let old_entry = record(&String::from_utf8_lossy(&old_packages), "pkgC").expect("pkgC");
    assert_eq!(old_entry.get("Built"), None);

    // A build cannot read airlock's data (it could put it in the binary it makes): a package
    // that reads the database while it is installed gets nothing.
    let db = server.data_dir().join("airlock.db");
    assert!(db.is_file());
    let spy = RPackage::new("pkgSpy", "1.0.0")
        .file(
            "R/spy.R",
            &format!(
                "spied <- tryCatch(length(readBin({}, \"raw\", 1e6)), error = function(e) -1L)\n",
                r_str(&db.to_string_lossy())
            ),
        )
        .build(&r);
    publish(&server, &[&spy]);
    get(&server, &linux("dev", "pkgSpy_1.0.0.tar.gz"));
    assert_eq!(ended(&server, &reader, "pkgSpy")["state"], "built");
    install_without_compiler(&lib, &repos, &["pkgSpy"]).success();
    assert_eq!(
        lib.value("pkgSpy:::spied"),
        "-1",
        "the build read airlock's database"
    );

    // The build is audited; an unknown target is not found, with the known ones named.
    let audit = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    assert!(audit.stdout.contains("r-build.built"), "{audit}");
    let (status, body) = get(&server, "/dev/cran/__linux__/jammy/src/contrib/PACKAGES");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("bookworm"));
    // `airlock builds list` shows it.
    let listed = server.remote(&reader, &["builds", "list"]).success();
    assert!(
        listed.stdout.contains("pkgC") && listed.stdout.contains("built"),
        "{listed}"
    );
}

/// `pkgH` ships a C header other packages compile against (`LinkingTo: pkgH`).
fn pkg_h() -> RPackage {
    RPackage::new("pkgH", "1.0.0").file(
        "inst/include/pkgH.h",
        "#ifndef PKGH_H\n#define PKGH_H\nstatic inline double pkgH_twice(double x) { return 2 * x; }\n#endif\n",
    )
}

/// `pkgL` compiles against `pkgH`'s header and imports `pkgA`.
fn pkg_l() -> RPackage {
    let description = "Package: pkgL\nVersion: 1.0.0\nTitle: Test Package pkgL\n\
        Description: Links to pkgH.\n\
        Authors@R: person(\"Air\", \"Lock\", email = \"airlock@example.com\", role = c(\"aut\", \"cre\"))\n\
        License: GPL-3\nEncoding: UTF-8\nLinkingTo: pkgH\nImports: pkgA\n";
    RPackage::new("pkgL", "1.0.0")
        .license("GPL-3")
        .with_c_code()
        .imports("pkgA")
        .file(
            "src/twice.c",
            "#include <pkgH.h>\ndouble pkgL_twice(double x) { return pkgH_twice(x); }\n",
        )
        .file("DESCRIPTION", description)
}

#[test]
fn r_binary_dependencies_are_built_first_on_postgres() {
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let (a, h, l) = (
        pkg_a("0.1.0").build(&r),
        pkg_h().build(&r),
        pkg_l().build(&r),
    );
    let top = format!("[[r_binary]]\ndistro = \"{DISTRO}\"\n");
    let server = TestServer::builder()
        .postgres()
        .config(ServerConfig::default().top(&top))
        .start();
    publish(&server, &[&a, &h, &l]);
    let reader = server.token("reader", "reader");
    let (status, _) = get(&server, &linux("dev", "pkgL_1.0.0.tar.gz"));
    assert_eq!(status, 200);
    let built = ended(&server, &reader, "pkgL");
    assert_eq!(built["state"], "built", "{built}\n{}", server.log_text());
    let deps: Vec<&str> = built["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(deps.len(), 2, "{deps:?}");
    assert!(
        deps.contains(&"pkgH 1.0.0") && deps.contains(&"pkgA 0.1.0"),
        "{deps:?}"
    );
    // Each dependency was built before pkgL started.
    for dep in ["pkgH", "pkgA"] {
        let d = ended(&server, &reader, dep);
        assert_eq!(d["state"], "built", "{d}");
        assert!(
            instant(&d, "finished_at") <= instant(&built, "started_at"),
            "{dep} ended {} after pkgL last started {}",
            d["finished_at"],
            built["started_at"]
        );
    }
    let lib = RLib::new(&r);
    let repos = server.url(&format!("/dev/cran/__linux__/{DISTRO}"));
    let done = install_without_compiler(&lib, &repos, &["pkgL"]).success();
    assert!(
        done.stderr.contains("installing *binary* package ‘pkgL’")
            || done.stderr.contains("installing *binary* package 'pkgL'"),
        "{done}"
    );
    assert_eq!(lib.value("pkgL::add_c(1, 2)"), "3");
    assert_eq!(lib.version_of("pkgA").as_deref(), Some("0.1.0"));
}

/// A package whose C code includes a header no library on the host provides.
fn pkg_missing_header() -> RPackage {
    let description = "Package: pkgF\nVersion: 1.0.0\nTitle: Test Package pkgF\n\
        Description: Needs a library the host lacks.\n\
        Authors@R: person(\"Air\", \"Lock\", email = \"airlock@example.com\", role = c(\"aut\", \"cre\"))\n\
        License: GPL-3\nEncoding: UTF-8\nSystemRequirements: libairlockmissing (>= 1.2)\n";
    RPackage::new("pkgF", "1.0.0")
        .with_c_code()
        .file(
            "src/needs.c",
            "#include <airlockmissing/missing.h>\nint pkgF_needs(void) { return AIRLOCK_MISSING; }\n",
        )
        .file("DESCRIPTION", description)
}

/// A package whose installation never ends: top-level R code that loops, run when R CMD
/// INSTALL prepares it for lazy loading.
fn pkg_loops() -> RPackage {
    RPackage::new("pkgLoop", "1.0.0").file("R/zzz.R", "repeat {}\n")
}

#[test]
fn failed_r_builds_leave_the_source_served_and_say_why() {
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let (f, lp, g) = (
        pkg_missing_header().build(&r),
        pkg_loops().build(&r),
        RPackage::new("pkgG", "1.0.0").imports("pkgF").build(&r),
    );
    // Ahead: builds start at upload, without a request; a short wall time for the loop.
    let server = server("ahead", "wall_time = \"8s\"");
    publish(&server, &[&f, &lp]);
    let reader = server.token("reader", "reader");
    let failed = ended(&server, &reader, "pkgF");
    assert_eq!(failed["state"], "failed", "{failed}");
    let reason = failed["reason"].as_str().expect("reason");
    assert!(
        reason.contains("airlockmissing/missing.h") && reason.contains("libairlockmissing"),
        "the reason names the header and the SystemRequirements: {reason}"
    );
    let looped = ended(&server, &reader, "pkgLoop");
    assert_eq!(looped["state"], "failed", "{looped}");
    let why = looped["reason"].as_str().unwrap_or_default();
    assert!(why.contains("wall-time limit"), "{why}");
    let seconds = looped["seconds"].as_f64().expect("seconds");
    assert!(seconds < 60.0, "killed at its limit, not later: {seconds}");

    // The source keeps being served at the binary URL, and PACKAGES lists it as source.
    let source = std::fs::read(&f).expect("read pkgF");
    let (status, served) = get(&server, &linux("dev", "pkgF_1.0.0.tar.gz"));
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&served), sha256_hex(&source));
    let (_, packages) = get(&server, &linux("dev", "PACKAGES"));
    let entry = record(&String::from_utf8_lossy(&packages), "pkgF").expect("pkgF listed");
    assert_eq!(entry.get("Built"), None);

    // The package page of the web interface shows the build and why it failed (as text).
    let (status, page) = get(&server, "/ui/packages/cran/pkgF");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("binary for bookworm: failed"), "{page}");
    assert!(page.contains("airlockmissing/missing.h"), "{page}");

    // The log is readable, through the API and the command line.
    let log = server
        .remote(
            &reader,
            &["builds", "log", "pkgF", "1.0.0", "--distro", DISTRO],
        )
        .success();
    assert!(log.stdout.contains("airlockmissing/missing.h"), "{log}");
    let listed = server
        .remote(&reader, &["builds", "list", "--state", "failed"])
        .success();
    assert!(
        listed.stdout.contains("pkgF") && listed.stdout.contains("pkgLoop"),
        "{listed}"
    );

    // Not retried by asking again; an admin's retry runs it again (and it fails again).
    get(&server, &linux("dev", "pkgF_1.0.0.tar.gz"));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ended(&server, &reader, "pkgF")["attempts"], 1);
    let publisher = server.publisher_token().to_string();
    let refused = server
        .remote(
            &publisher,
            &["builds", "retry", "pkgF", "1.0.0", "--distro", DISTRO],
        )
        .failure();
    assert!(refused.stderr.contains("admin"), "{refused}");
    let admin = server.token("admin", "admin");
    server
        .remote(
            &admin,
            &["builds", "retry", "pkgF", "1.0.0", "--distro", DISTRO],
        )
        .success();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = builds(&server, &reader, "pkgF").remove(0);
        if now["attempts"] == 2 && now["state"] == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the retry did not end: {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let audit = run(&mut server.airlock(&["audit", "list", "--json"])).success();
    assert!(audit.stdout.contains("r-build.retry") && audit.stdout.contains("r-build.failed"));

    // A dependency that does not build fails its dependents, naming it.
    publish(&server, &[&g]);
    let dependent = ended(&server, &reader, "pkgG");
    assert_eq!(dependent["state"], "failed", "{dependent}");
    let why = dependent["reason"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("dependency pkgF 1.0.0 failed to build"),
        "{why}"
    );
}

#[test]
fn a_target_the_host_cannot_build_stops_the_server_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("airlock.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n\n[[r_binary]]\ndistro = \"bookworm\"\nrscript = \"/nonexistent/Rscript\"\n",
            dir.path().join("data")
        ),
    )
    .expect("write config");
    let done = run(std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["--config", &config.to_string_lossy(), "serve"])
        .current_dir(dir.path()))
    .failure();
    assert!(
        done.stderr.contains("r_binary") && done.stderr.contains("/nonexistent/Rscript"),
        "{done}"
    );
    assert!(!done.stdout.contains("listening on"), "{done}");
}

#[test]
fn proxied_r_packages_are_built_once_downloaded() {
    use crate::support::cran_upstream::{FakeCran, current_path};
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let (a, b, c) = (
        pkg_a("0.2.0").build(&r),
        pkg_b().build(&r),
        pkg_c().build(&r),
    );
    let upstream = FakeCran::start(&r, &[&a, &b, &c], &[]);
    let toml = format!(
        "[[r_binary]]\ndistro = \"{DISTRO}\"\n\n\
         [[source]]\nname = \"public-cran\"\nkind = \"proxy\"\necosystem = \"cran\"\nurl = {:?}\n\n\
         [[lane]]\nname = \"dev\"\nmode = \"open\"\nsources = [\"public-cran\"]\n",
        upstream.url()
    );
    let server = TestServer::builder()
        .config(ServerConfig::from_toml(toml))
        .start();
    let reader = server.token("reader", "reader");
    let repos = server.url(&format!("/dev/cran/__linux__/{DISTRO}"));
    // The first install gets sources (downloaded from the upstream as it asks); each download
    // asks for the binary.
    let first = RLib::new(&r);
    first.install_packages(&repos, &["pkgB", "pkgC"]).success();
    for package in ["pkgA", "pkgB", "pkgC"] {
        let build = ended(&server, &reader, package);
        assert_eq!(build["state"], "built", "{build}\n{}", server.log_text());
        assert_eq!(build["source"], "public-cran");
    }
    // Every file was downloaded from the upstream once: the builds used the stored bytes.
    let fetched = upstream.tarball_requests();
    for file in [
        "pkgA_0.2.0.tar.gz",
        "pkgB_1.0.0.tar.gz",
        "pkgC_1.0.0.tar.gz",
    ] {
        assert_eq!(fetched.get(&current_path(file)), Some(&1), "{fetched:?}");
    }
    // The next install gets binaries, with no compiler.
    let second = RLib::new(&r);
    let done = install_without_compiler(&second, &repos, &["pkgB", "pkgC"]).success();
    assert!(
        done.stderr.contains("installing *binary* package"),
        "{done}"
    );
    assert_eq!(second.value("pkgB::greet()"), "pkgB 1.0.0 with pkgA 0.2.0");
    assert_eq!(second.value("pkgC::add_c(2, 3)"), "5");
}

#[test]
fn replicas_share_the_build_queue_and_its_concurrency_limit() {
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let packages: Vec<_> = ["pkgC", "pkgD", "pkgE", "pkgF"]
        .iter()
        .map(|name| RPackage::new(name, "1.0.0").with_c_code().build(&r))
        .collect();
    let top = format!(
        "[[r_binary]]\ndistro = \"{DISTRO}\"\nbuild = \"ahead\"\n\n[r_builds]\nconcurrency = 1\n"
    );
    let server = TestServer::builder()
        .postgres()
        .config(ServerConfig::default().top(&top))
        .start();
    let replica = server.start_replica("b");
    let files: Vec<&Path> = packages.iter().map(|p| p.as_path()).collect();
    publish(&server, &files);
    let reader = server.token("reader", "reader");
    let mut spans = Vec::new();
    for name in ["pkgC", "pkgD", "pkgE", "pkgF"] {
        let build = ended(&server, &reader, name);
        assert_eq!(build["state"], "built", "{build}");
        spans.push((
            instant(&build, "started_at"),
            instant(&build, "finished_at"),
            name,
        ));
    }
    // One build at a time across both servers: no two ran at once.
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "{} ran until {} but {} started at {}",
            pair[0].2,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
    // Both servers serve the binaries.
    for base in [server.url(""), replica.url("")] {
        let text = server
            .http()
            .get(format!("{base}{}", linux("dev", "PACKAGES")))
            .send()
            .and_then(|r| r.text())
            .expect("PACKAGES");
        for name in ["pkgC", "pkgD", "pkgE", "pkgF"] {
            let entry = record(&text, name).expect("listed");
            assert!(entry.contains_key("Built"), "{name} at {base}: {entry:?}");
        }
    }
}

#[test]
fn an_r_of_the_target_gets_binaries_at_the_plain_url_when_asked_to() {
    let (Some(r), Some(())) = (R::find(), bwrap()) else {
        return;
    };
    let c = pkg_c().build(&r);
    let top =
        format!("[[r_binary]]\ndistro = \"{DISTRO}\"\nbuild = \"ahead\"\nuser_agent = true\n");
    let server = TestServer::builder()
        .config(ServerConfig::default().top(&top))
        .start();
    publish(&server, &[&c]);
    let reader = server.token("reader", "reader");
    assert_eq!(ended(&server, &reader, "pkgC")["state"], "built");
    // The User-Agent R sends once set as for Posit Package Manager (R's default, `R (…)`
    // alone, its libcurl downloads replace by libcurl's own).
    const SET_AGENT: &str = "options(HTTPUserAgent = sprintf('R/%s R (%s)', getRversion(), \
        paste(getRversion(), R.version['platform'], R.version['arch'], R.version['os'])))";
    let agent = r
        .eval(
            &std::env::temp_dir(),
            &format!("{SET_AGENT}\ncat(getOption('HTTPUserAgent'))"),
        )
        .success()
        .stdout;
    assert!(agent.starts_with("R/"), "{agent}");
    let packages = |agent: &str| {
        let response = server
            .http()
            .get(server.url("/dev/cran/src/contrib/PACKAGES"))
            .header("User-Agent", agent)
            .send()
            .expect("PACKAGES");
        let vary = response
            .headers()
            .get("vary")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (vary, response.text().expect("text"))
    };
    let (vary, for_r) = packages(&agent);
    assert!(vary.contains("User-Agent"), "{vary}");
    assert!(record(&for_r, "pkgC").expect("pkgC").contains_key("Built"));
    let (_, for_curl) = packages("curl/8.5.0");
    assert!(
        !record(&for_curl, "pkgC")
            .expect("pkgC")
            .contains_key("Built")
    );
    let (_, other_r) = packages("R (3.6.3 x86_64-pc-linux-gnu x86_64 linux-gnu)");
    assert!(
        !record(&other_r, "pkgC")
            .expect("pkgC")
            .contains_key("Built")
    );
    // install.packages at the plain URL installs the binary, with no compiler.
    let lib = RLib::new(&r);
    let done = install_without_compiler_after(&lib, SET_AGENT, &server.url("/dev/cran"), &["pkgC"])
        .success();
    assert!(
        done.stderr.contains("installing *binary* package"),
        "{done}"
    );
    assert_eq!(lib.value("pkgC::add_c(2, 3)"), "5");
}
