//! CRAN-like repositories, driven by real R: packages built by `R CMD build`, uploaded with HTTP and
//! `airlock publish`, installed with `install.packages` and `remotes::install_version`; the indexes
//! compared with what `tools::write_PACKAGES` writes; allow-list lanes; every kind of bad tarball
//! refused with a reason and nothing stored. `mod proxy`: the CRAN pull-through proxy against a fake
//! CRAN (support/cran_upstream.rs).
//!
//! Without `Rscript` each test is skipped (with a note on stderr), or fails when `CI` is set.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use tempfile::TempDir;

use crate::support::cmd::{Finished, run};
use crate::support::r::{HandTarball, R, RLib, description, pkg_a, pkg_b, pkg_c, r_str};
use crate::support::upload::{Auth, Reply};
use crate::support::{ServerConfig, TestServer, sha256_hex};

/// Lowercase hex MD5 (the PACKAGES `MD5sum` field).
fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// `POST /upload/{source}/` with the file as the multipart field `content`. The body is sent whole with
/// its Content-Length, as curl and Python's requests send it (the server may answer a refusal before
/// reading it).
fn upload_to(
    server: &TestServer,
    source: &str,
    filename: &str,
    bytes: Vec<u8>,
    auth: Auth<'_>,
) -> Reply {
    const BOUNDARY: &str = "airlock-test-boundary-7c1f9e";
    let body = [
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; \
             filename=\"{filename}\"\r\nContent-Type: application/gzip\r\n\r\n"
        )
        .into_bytes(),
        bytes,
        format!("\r\n--{BOUNDARY}--\r\n").into_bytes(),
    ]
    .concat();
    let mut request = server
        .http()
        .post(server.url(&format!("/upload/{source}/")))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    request = match auth {
        Auth::None => request,
        Auth::Basic(token) => request.basic_auth("__token__", Some(token)),
        Auth::Bearer(token) => request.bearer_auth(token),
    };
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("upload of {filename} failed: {e:?}"));
    Reply {
        status: response.status().as_u16(),
        body: response.text().unwrap_or_default(),
    }
}

/// Uploads the file at `path` to `internal-cran`.
fn upload(server: &TestServer, path: &Path, auth: Auth<'_>) -> Reply {
    upload_to(server, "internal-cran", &file_name(path), read(path), auth)
}

/// Uploads `files` to `internal-cran` with the publisher token; panics unless each is accepted.
fn publish(server: &TestServer, files: &[&Path]) {
    for file in files {
        upload(server, file, Auth::Basic(server.publisher_token())).assert_ok();
    }
}

/// `airlock publish FILES --source SOURCE --server URL --token TOKEN`.
fn airlock_publish(server: &TestServer, source: &str, token: &str, files: &[&Path]) -> Finished {
    let url = server.url("");
    let mut args = vec!["publish"];
    let files: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    args.extend(files.iter().map(String::as_str));
    args.extend(["--source", source, "--server", &url, "--token", token]);
    run(&mut server.airlock(&args))
}

/// An HTTP answer, whole.
#[derive(Debug)]
struct Got {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// GET `url` (following no redirect); a body that breaks off is an error.
fn try_get(
    http: &reqwest::blocking::Client,
    url: &str,
    if_none_match: Option<&str>,
) -> Result<Got, String> {
    let mut request = http.get(url);
    if let Some(tag) = if_none_match {
        request = request.header(IF_NONE_MATCH, tag);
    }
    let response = request.send().map_err(|e| format!("GET {url}: {e:?}"))?;
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .bytes()
        .map_err(|e| format!("GET {url}: {status}, body broke off: {e:?}"))?
        .to_vec();
    Ok(Got { status, etag, body })
}

fn get(server: &TestServer, url: &str) -> Got {
    try_get(server.http(), url, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses DCF (PACKAGES): paragraphs of `Field: value`, continuation lines indented.
fn parse_dcf(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut paragraphs = Vec::new();
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            let key = last.clone().expect("continuation line after a field");
            let value = current.get_mut(&key).expect("field");
            value.push(' ');
            value.push_str(line.trim());
        } else {
            let (key, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a DCF line: {line:?}"));
            current.insert(key.to_string(), value.trim().to_string());
            last = Some(key.to_string());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// A lane's CRAN-like repository, read as R clients read it.
struct Repo<'a> {
    server: &'a TestServer,
    lane: &'a str,
}

impl<'a> Repo<'a> {
    fn new(server: &'a TestServer, lane: &'a str) -> Self {
        Repo { server, lane }
    }

    /// What R is given as `repos`.
    fn url(&self) -> String {
        self.server.url(&format!("/{}/cran", self.lane))
    }

    /// `{repos}/src/contrib/{rest}`.
    fn contrib(&self, rest: &str) -> String {
        format!("{}/src/contrib/{rest}", self.url())
    }

    fn archived(&self, filename: &str) -> String {
        let pkg = filename.split('_').next().expect("pkg_ver.tar.gz");
        self.contrib(&format!("Archive/{pkg}/{filename}"))
    }

    fn get(&self, rest: &str) -> Got {
        get(self.server, &self.contrib(rest))
    }

    /// The PACKAGES paragraphs (asserting 200).
    #[track_caller]
    fn packages(&self) -> Vec<BTreeMap<String, String>> {
        let got = self.get("PACKAGES");
        assert_eq!(got.status, 200, "PACKAGES of {}: {}", self.lane, got.text());
        parse_dcf(&got.text())
    }

    /// Package -> Version, from PACKAGES.
    #[track_caller]
    fn versions(&self) -> BTreeMap<String, String> {
        let mut versions = BTreeMap::new();
        for p in self.packages() {
            let previous = versions.insert(p["Package"].clone(), p["Version"].clone());
            assert!(
                previous.is_none(),
                "PACKAGES of {} lists {} twice",
                self.lane,
                p["Package"]
            );
        }
        versions
    }

    /// `Meta/archive.rds` as R reads it: package -> row names (`pkg/pkg_ver.tar.gz`).
    fn archive(&self, r: &R) -> BTreeMap<String, Vec<String>> {
        let scratch = TempDir::new().expect("temp dir");
        let done = r
            .eval(
                scratch.path(),
                &format!(
                    r#"f <- tempfile()
download.file({}, f, mode = "wb", quiet = TRUE)
a <- readRDS(f)
stopifnot(is.list(a), length(a) == 0 || !is.null(names(a)))
for (p in names(a)) for (row in rownames(a[[p]])) cat(p, "\t", row, "\n", sep = "")
"#,
                    r_str(&self.contrib("Meta/archive.rds"))
                ),
            )
            .success();
        let mut archive: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in done.stdout.lines().filter(|l| !l.is_empty()) {
            let (pkg, row) = line.split_once('\t').expect("pkg\\trow");
            archive
                .entry(pkg.to_string())
                .or_default()
                .push(row.to_string());
        }
        archive
    }

    /// The tarball at `url` is served with exactly the bytes of `expected`.
    #[track_caller]
    fn assert_serves(&self, url: &str, expected: &Path) {
        let got = get(self.server, url);
        assert_eq!(got.status, 200, "GET {url}: {}", got.text());
        assert!(
            got.body == read(expected),
            "GET {url} did not serve the bytes of {}",
            expected.display()
        );
    }

    /// `url` answers 403 with a reason naming the lane.
    #[track_caller]
    fn assert_refused(&self, url: &str) {
        let got = get(self.server, url);
        assert_eq!(got.status, 403, "GET {url}: {}", got.text());
        assert!(
            got.text().contains(self.lane),
            "the reason should name the lane {}: {}",
            self.lane,
            got.text()
        );
    }

    #[track_caller]
    fn assert_not_found(&self, url: &str) {
        let got = get(self.server, url);
        assert_eq!(got.status, 404, "GET {url}: {}", got.text());
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn cran_install_packages_installs_hosted_packages_with_dependencies_and_compiled_code() {
    let Some(r) = R::find() else { return };
    let a = pkg_a("0.1.0").build(&r);
    let b = pkg_b().build(&r);
    let c = pkg_c().build(&r);
    let server = TestServer::start();
    // As curl or any HTTP client would upload, and with `airlock publish`.
    publish(&server, &[&a]);
    let done = airlock_publish(
        &server,
        "internal-cran",
        server.publisher_token(),
        &[&b, &c],
    )
    .success();
    for file in [&b, &c] {
        assert!(
            done.stdout
                .contains(&format!("published {}", file.display())),
            "airlock publish should say what it published\n{done}"
        );
    }

    let dev = Repo::new(&server, "dev");
    let packages: BTreeMap<String, BTreeMap<String, String>> = dev
        .packages()
        .into_iter()
        .map(|p| (p["Package"].clone(), p))
        .collect();
    let expected = [
        (
            "pkgA",
            map(&[
                ("Package", "pkgA"),
                ("Version", "0.1.0"),
                ("License", "MIT + file LICENSE"),
                ("MD5sum", &md5_hex(&read(&a))),
                ("NeedsCompilation", "no"),
            ]),
        ),
        (
            "pkgB",
            map(&[
                ("Package", "pkgB"),
                ("Version", "1.0.0"),
                ("Imports", "pkgA (>= 0.1)"),
                ("License", "GPL (>= 2)"),
                ("MD5sum", &md5_hex(&read(&b))),
                ("NeedsCompilation", "no"),
            ]),
        ),
        (
            "pkgC",
            map(&[
                ("Package", "pkgC"),
                ("Version", "1.0.0"),
                ("License", "GPL-3"),
                ("MD5sum", &md5_hex(&read(&c))),
                ("NeedsCompilation", "yes"),
            ]),
        ),
    ];
    assert_eq!(
        packages.keys().collect::<Vec<_>>(),
        ["pkgA", "pkgB", "pkgC"]
    );
    for (pkg, fields) in expected {
        assert_eq!(packages[pkg], fields, "PACKAGES entry of {pkg}");
        dev.assert_serves(
            &dev.contrib(&format!("{pkg}_{}.tar.gz", fields["Version"])),
            match pkg {
                "pkgA" => &a,
                "pkgB" => &b,
                _ => &c,
            },
        );
    }

    let lib = RLib::new(&r);
    lib.install_packages(&dev.url(), &["pkgB", "pkgC"])
        .success();
    assert_eq!(
        lib.version_of("pkgA").as_deref(),
        Some("0.1.0"),
        "the dependency"
    );
    assert_eq!(lib.value("pkgB::greet()"), "pkgB 1.0.0 with pkgA 0.1.0");
    assert_eq!(lib.value("pkgC::add_c(2, 3)"), "5", "pkgC's C code");
}

#[test]
fn cran_new_versions_move_older_ones_to_the_archive() {
    let Some(r) = R::find_with("remotes") else {
        return;
    };
    let v1 = pkg_a("0.1.0").build(&r);
    let v9 = pkg_a("0.9.0").build(&r);
    let v10 = pkg_a("0.10.0").build(&r);
    let server = TestServer::start();
    let dev = Repo::new(&server, "dev");

    publish(&server, &[&v1]);
    assert_eq!(dev.versions(), map(&[("pkgA", "0.1.0")]));
    assert!(dev.archive(&r).is_empty(), "nothing archived yet");

    // 0.10.0 is newer than 0.9.0 (R compares numbers, not strings), whatever the upload order.
    publish(&server, &[&v10, &v9]);
    assert_eq!(
        dev.versions(),
        map(&[("pkgA", "0.10.0")]),
        "PACKAGES lists the newest version only"
    );
    assert_eq!(
        dev.archive(&r),
        BTreeMap::from([(
            "pkgA".to_string(),
            vec![
                "pkgA/pkgA_0.1.0.tar.gz".to_string(),
                "pkgA/pkgA_0.9.0.tar.gz".to_string()
            ]
        )]),
        "Meta/archive.rds lists the older versions"
    );
    dev.assert_serves(&dev.contrib("pkgA_0.10.0.tar.gz"), &v10);
    for (old, path) in [("pkgA_0.1.0.tar.gz", &v1), ("pkgA_0.9.0.tar.gz", &v9)] {
        dev.assert_serves(&dev.archived(old), path);
        dev.assert_not_found(&dev.contrib(old));
    }
    // The current version is in Archive/ too (pak falls back there when its metadata is stale).
    dev.assert_serves(&dev.archived("pkgA_0.10.0.tar.gz"), &v10);

    let latest = RLib::new(&r);
    let old = RLib::new(&r);
    let repos = dev.url();
    std::thread::scope(|s| {
        let latest_done = s.spawn(|| latest.install_packages(&repos, &["pkgA"]));
        let old_done = s.spawn(|| old.install_version(&repos, "pkgA", "0.1.0"));
        latest_done.join().expect("install thread").success();
        old_done.join().expect("install thread").success();
    });
    assert_eq!(latest.value("pkgA::greet()"), "pkgA 0.10.0");
    assert_eq!(old.value("pkgA::greet()"), "pkgA 0.1.0");
}

/// R code comparing the lane's index files (in `OURS`) with `tools::write_PACKAGES` and CRAN's
/// `Meta/archive.rds` for the same tarballs (in `REF`); prints every difference and exits 1 if any.
///
/// Allowed differences: compression of the .rds files (R reads any); the archive's `mtime` is the upload
/// time, not the file's, and columns of `file.info()` that mean nothing on a server (mode, uid, ...) may
/// be missing; `size` and `mtime` (what pkgcache and remotes read) must be there.
const COMPARE_INDEXES: &str = r#"
problems <- character()
check <- function(ok, ...) if (!isTRUE(ok)) problems <<- c(problems, paste0(...))
show <- function(x) paste(deparse(x), collapse = " ")
by_pkg <- function(m) m[order(m[, "Package"]), , drop = FALSE]

ref <- by_pkg(readRDS(file.path(REF, "PACKAGES.rds")))
ours <- readRDS(file.path(OURS, "PACKAGES.rds"))
check(is.matrix(ours) && is.character(ours), "PACKAGES.rds is not a character matrix: ", show(class(ours)))
if (is.matrix(ours)) {
  ours <- by_pkg(ours)
  check(identical(colnames(ours), colnames(ref)),
        "PACKAGES.rds columns: ", show(colnames(ours)), "; write_PACKAGES: ", show(colnames(ref)))
  check(identical(rownames(ours), rownames(ref)),
        "PACKAGES.rds row names: ", show(rownames(ours)), "; write_PACKAGES: ", show(rownames(ref)))
  for (col in colnames(ref)) {
    mine <- if (col %in% colnames(ours)) unname(ours[, col]) else "<missing>"
    check(identical(mine, unname(ref[, col])),
          "PACKAGES.rds column ", col, ": ", show(mine), "; write_PACKAGES: ", show(unname(ref[, col])))
  }
}

dcf <- function(con) by_pkg(read.dcf(con))
ref_dcf <- dcf(file.path(REF, "PACKAGES"))
ours_dcf <- dcf(file.path(OURS, "PACKAGES"))
check(identical(sort(colnames(ours_dcf)), sort(colnames(ref_dcf))),
      "PACKAGES fields: ", show(colnames(ours_dcf)), "; write_PACKAGES: ", show(colnames(ref_dcf)))
for (col in colnames(ref_dcf)) {
  mine <- if (col %in% colnames(ours_dcf)) unname(ours_dcf[, col]) else "<missing>"
  check(identical(mine, unname(ref_dcf[, col])),
        "PACKAGES field ", col, ": ", show(mine), "; write_PACKAGES: ", show(unname(ref_dcf[, col])))
}
gz <- gzfile(file.path(OURS, "PACKAGES.gz"))
check(identical(dcf(gz), ours_dcf), "PACKAGES.gz differs from PACKAGES")

ref_a <- readRDS(file.path(REF, "Meta", "archive.rds"))
ours_a <- readRDS(file.path(OURS, "archive.rds"))
check(is.list(ours_a) && !is.data.frame(ours_a), "archive.rds is not a list: ", show(class(ours_a)))
check(identical(sort(names(ours_a)), sort(names(ref_a))),
      "archive.rds packages: ", show(names(ours_a)), "; CRAN-style: ", show(names(ref_a)))
for (p in intersect(names(ours_a), names(ref_a))) {
  o <- ours_a[[p]]
  r <- ref_a[[p]]
  check(is.data.frame(o), "archive.rds[[", p, "]] is not a data.frame: ", show(class(o)))
  if (!is.data.frame(o)) next
  o <- o[order(rownames(o)), , drop = FALSE]
  r <- r[order(rownames(r)), , drop = FALSE]
  check(identical(rownames(o), rownames(r)),
        "archive.rds[[", p, "]] row names: ", show(rownames(o)), "; CRAN-style: ", show(rownames(r)))
  check(all(c("size", "mtime") %in% names(o)), "archive.rds[[", p, "]] columns: ", show(names(o)))
  if (!all(c("size", "mtime") %in% names(o))) next
  check(is.numeric(o$size) && isTRUE(all.equal(as.numeric(o$size), as.numeric(r$size))),
        "archive.rds[[", p, "]]$size: ", show(o$size), "; files: ", show(r$size))
  check(inherits(o$mtime, "POSIXct"), "archive.rds[[", p, "]]$mtime is not POSIXct: ", show(class(o$mtime)))
  age <- as.numeric(difftime(Sys.time(), o$mtime, units = "secs"))
  check(all(!is.na(age) & age > -60 & age < 3600),
        "archive.rds[[", p, "]]$mtime is not the upload time: ", show(o$mtime))
  if ("isdir" %in% names(o)) check(identical(o$isdir, rep(FALSE, nrow(o))), "isdir: ", show(o$isdir))
  missing <- setdiff(names(r), names(o))
  if (length(missing)) message("note: archive.rds lacks file.info columns ", show(missing))
}

ap <- available.packages(repos = URL, type = "source")
ap <- ap[order(ap[, "Package"]), , drop = FALSE]
cat(paste(ap[, "Package"], ap[, "Version"], ap[, "MD5sum"], ap[, "NeedsCompilation"],
          ap[, "Repository"]), sep = "\n")

if (length(problems)) {
  message(paste("DIFFERENCE:", problems, collapse = "\n"))
  quit(status = 1)
}
"#;

#[test]
fn cran_indexes_match_what_write_packages_writes() {
    let Some(r) = R::find() else { return };
    let a1 = pkg_a("0.1.0").build(&r);
    let a2 = pkg_a("0.2.0").build(&r);
    let b = pkg_b().build(&r);
    let c = pkg_c().build(&r);
    let server = TestServer::start();
    publish(&server, &[&a1, &a2, &b, &c]);
    let dev = Repo::new(&server, "dev");

    let scratch = TempDir::new().expect("temp dir");
    let ours = scratch.path().join("ours");
    fs::create_dir(&ours).expect("mkdir");
    for (remote, local) in [
        ("PACKAGES", "PACKAGES"),
        ("PACKAGES.gz", "PACKAGES.gz"),
        ("PACKAGES.rds", "PACKAGES.rds"),
        ("Meta/archive.rds", "archive.rds"),
    ] {
        let got = dev.get(remote);
        assert_eq!(got.status, 200, "{remote}: {}", got.text());
        fs::write(ours.join(local), &got.body).expect("write index");
    }
    let reference = crate::support::cran_upstream::CranTree::write(&r, &[&a2, &b, &c], &[&a1]);
    let done = r
        .eval(
            scratch.path(),
            &format!(
                "REF <- {}\nOURS <- {}\nURL <- {}\n{COMPARE_INDEXES}",
                r_str(&reference.contrib().to_string_lossy()),
                r_str(&ours.to_string_lossy()),
                r_str(&dev.url()),
            ),
        )
        .success();
    let contrib = dev.contrib("");
    let contrib = contrib.trim_end_matches('/');
    let expected: Vec<String> = [
        ("pkgA", "0.2.0", &a2, "no"),
        ("pkgB", "1.0.0", &b, "no"),
        ("pkgC", "1.0.0", &c, "yes"),
    ]
    .iter()
    .map(|(pkg, version, file, compiled)| {
        format!(
            "{pkg} {version} {} {compiled} {contrib}",
            md5_hex(&read(file))
        )
    })
    .collect();
    let listed: Vec<&str> = done.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(listed, expected, "available.packages() on the lane\n{done}");
}

#[test]
fn cran_index_files_have_etags_and_answer_304() {
    let Some(r) = R::find() else { return };
    let a1 = pkg_a("0.1.0").build(&r);
    let a2 = pkg_a("0.2.0").build(&r);
    let server = TestServer::start();
    publish(&server, &[&a1]);
    let dev = Repo::new(&server, "dev");
    let files = [
        "PACKAGES",
        "PACKAGES.gz",
        "PACKAGES.rds",
        "Meta/archive.rds",
    ];
    let mut tags = BTreeMap::new();
    for file in files {
        let url = dev.contrib(file);
        let first = get(&server, &url);
        assert_eq!(first.status, 200, "{file}");
        let tag = first.etag.unwrap_or_else(|| panic!("{file} has no ETag"));
        let again = try_get(server.http(), &url, Some(&tag)).expect("GET");
        assert_eq!(again.status, 304, "{file} with If-None-Match: {tag}");
        assert!(again.body.is_empty(), "a 304 has no body");
        tags.insert(file, tag);
    }
    publish(&server, &[&a2]);
    for file in files {
        let url = dev.contrib(file);
        let after = try_get(server.http(), &url, Some(&tags[file])).expect("GET");
        assert_eq!(
            after.status, 200,
            "{file} changed with the upload: the old ETag must not match"
        );
        assert_ne!(after.etag.as_ref(), Some(&tags[file]), "{file}");
    }
    assert_eq!(dev.versions(), map(&[("pkgA", "0.2.0")]));
}

/// A small source package made in memory, laid out as `R CMD build` lays it out.
fn small_package(name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in [
        (format!("{name}/DESCRIPTION"), description(name, version)),
        (format!("{name}/NAMESPACE"), "export(f)\n".to_string()),
        (
            format!("{name}/R/code.R"),
            "f <- function() 1\n".to_string(),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_600_000_000);
        tar.append_data(&mut header, &path, text.as_bytes())
            .expect("tar member");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// The value of a counter in `/metrics`.
fn counter(server: &TestServer, name: &str) -> u64 {
    let text = get(server, &server.url("/metrics")).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in /metrics:\n{text}"))
}

/// A lane's indexes are kept up to date in place, package by package (a busy repository would
/// otherwise rebuild all of them at every upload): after uploads of new packages and new
/// versions, each read between them, the four index files are the very bytes a server that
/// builds them from scratch serves.
#[test]
fn cran_indexes_updated_in_place_are_those_built_from_scratch() {
    let mut server = TestServer::start();
    let token = server.publisher_token().to_string();
    let send = |server: &TestServer, name: &str, version: &str| {
        upload_to(
            server,
            "internal-cran",
            &format!("{name}_{version}.tar.gz"),
            small_package(name, version),
            Auth::Basic(&token),
        )
        .assert_ok();
    };
    // Enough packages for the indexes to be kept in several chunks.
    for n in 0..400 {
        send(&server, &format!("pkg{n:03}"), "1.0.0");
    }
    let dev = Repo::new(&server, "dev");
    let files = [
        "PACKAGES",
        "PACKAGES.gz",
        "PACKAGES.rds",
        "Meta/archive.rds",
    ];
    let read_all = |server: &TestServer| -> Vec<(Vec<u8>, Option<String>)> {
        let dev = Repo::new(server, "dev");
        files
            .iter()
            .map(|f| {
                let got = dev.get(f);
                assert_eq!(got.status, 200, "{f}: {}", got.text());
                (got.body, got.etag)
            })
            .collect()
    };
    read_all(&server);
    let builds = counter(&server, "airlock_cran_view_builds_total");

    // New versions (the old ones move to the archive), new names first, in the middle and
    // last; the indexes read after each.
    for (name, version) in [
        ("pkg200", "1.1.0"),
        ("Apkg", "0.1.0"),
        ("pkg200a", "2.0"),
        ("zpkg", "3.0.0"),
        ("pkg000", "1.0.1"),
        ("pkg399", "9.9"),
        ("pkg200", "1.2.0"),
    ] {
        send(&server, name, version);
        let packages = dev.get("PACKAGES").text();
        assert!(
            packages.contains(&format!("Package: {name}\nVersion: {version}\n")),
            "{name} {version} listed at once"
        );
    }
    assert_eq!(
        counter(&server, "airlock_cran_view_builds_total"),
        builds,
        "brought up to date in place, not rebuilt"
    );
    assert!(counter(&server, "airlock_cran_view_updates_total") >= 7);
    let updated = read_all(&server);
    let versions = dev.versions();
    assert_eq!(versions.len(), 403);
    assert_eq!(versions["pkg200"], "1.2.0");

    server.restart();
    let rebuilt = read_all(&server);
    assert_eq!(counter(&server, "airlock_cran_view_builds_total"), 1);
    for ((file, (a, a_tag)), (b, b_tag)) in files.iter().zip(&updated).zip(&rebuilt) {
        assert!(
            a == b,
            "{file}: updated in place ({} bytes) differs from built anew ({} bytes)",
            a.len(),
            b.len()
        );
        assert_eq!(a_tag, b_tag, "{file}: the same bytes have the same ETag");
    }
}

#[test]
fn cran_prod_admits_exactly_its_allow_rules() {
    let Some(r) = R::find() else { return };
    let a1 = pkg_a("0.1.0").build(&r);
    let a2 = pkg_a("0.2.0").build(&r);
    let b = pkg_b().build(&r);
    let c = pkg_c().build(&r);
    let server = TestServer::builder()
        .config(
            ServerConfig::default()
                .prod_allow("cran:pkgA==0.1.0")
                .prod_allow("cran:pkgB"),
        )
        .start();
    publish(&server, &[&a1, &a2, &b, &c]);
    let dev = Repo::new(&server, "dev");
    let prod = Repo::new(&server, "prod");
    assert_eq!(
        dev.versions(),
        map(&[("pkgA", "0.2.0"), ("pkgB", "1.0.0"), ("pkgC", "1.0.0")])
    );
    assert_eq!(
        prod.versions(),
        map(&[("pkgA", "0.1.0"), ("pkgB", "1.0.0")]),
        "prod lists what its rules admit, and the newest admitted version of each"
    );
    assert!(
        prod.archive(&r).is_empty(),
        "prod archives nothing: pkgA 0.2.0 is not admitted"
    );
    prod.assert_serves(&prod.contrib("pkgA_0.1.0.tar.gz"), &a1);
    prod.assert_serves(&prod.contrib("pkgB_1.0.0.tar.gz"), &b);

    let admitted = RLib::new(&r);
    let refused = RLib::new(&r);
    let repos = prod.url();
    let (admitted_done, refused_done) = std::thread::scope(|s| {
        let a = s.spawn(|| admitted.install_packages(&repos, &["pkgB"]));
        let b = s.spawn(|| refused.install_packages(&repos, &["pkgC"]));
        (a.join().expect("thread"), b.join().expect("thread"))
    });
    admitted_done.success();
    assert_eq!(
        admitted.value("pkgB::greet()"),
        "pkgB 1.0.0 with pkgA 0.1.0",
        "the dependency comes from prod too, in its admitted version"
    );
    let refused_done = refused_done.failure();
    assert!(
        refused_done.output().contains("not available"),
        "R should say pkgC is not available\n{refused_done}"
    );
    assert_eq!(refused.version_of("pkgC"), None);

    // What prod does not admit answers 403 with the reason, at whichever URL a client tries (the
    // file name R would build from dev's PACKAGES, or the Archive/ path remotes and pak use).
    for url in [
        prod.archived("pkgA_0.2.0.tar.gz"),
        prod.archived("pkgC_1.0.0.tar.gz"),
        prod.contrib("pkgC_1.0.0.tar.gz"),
        prod.contrib("pkgA_0.2.0.tar.gz"),
    ] {
        prod.assert_refused(&url);
    }
}

#[test]
fn cran_lane_serves_each_package_from_its_first_r_source() {
    let Some(r) = R::find() else { return };
    let a1 = pkg_a("0.1.0").build(&r);
    let a2 = pkg_a("0.2.0").build(&r);
    let b = pkg_b().build(&r);
    let server = TestServer::builder()
        .config(ServerConfig::from_toml(
            r#"
[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[source]]
name = "team-cran"
kind = "hosted"
ecosystem = "cran"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-cran", "team-cran"]
"#
            .to_string(),
        ))
        .start();
    let token = server.publisher_token();
    upload_to(
        &server,
        "team-cran",
        &file_name(&a2),
        read(&a2),
        Auth::Basic(token),
    )
    .assert_ok();
    upload_to(
        &server,
        "team-cran",
        &file_name(&b),
        read(&b),
        Auth::Basic(token),
    )
    .assert_ok();
    airlock_publish(&server, "internal-cran", token, &[&a1]).success();

    let dev = Repo::new(&server, "dev");
    // internal-cran comes first and has pkgA: team-cran's newer pkgA is not mixed in.
    assert_eq!(dev.versions(), map(&[("pkgA", "0.1.0"), ("pkgB", "1.0.0")]));
    assert!(
        dev.archive(&r).is_empty(),
        "no pkgA version of team-cran is archived under internal-cran's pkgA"
    );
    dev.assert_serves(&dev.contrib("pkgA_0.1.0.tar.gz"), &a1);
    dev.assert_serves(&dev.contrib("pkgB_1.0.0.tar.gz"), &b);
    for url in [
        dev.contrib("pkgA_0.2.0.tar.gz"),
        dev.archived("pkgA_0.2.0.tar.gz"),
    ] {
        let got = get(&server, &url);
        assert!(
            got.status == 404 || got.status == 403,
            "team-cran's pkgA must not be served in dev: GET {url}: {} {}",
            got.status,
            got.text()
        );
    }
}

#[test]
fn cran_reupload_is_already_exists_and_other_bytes_conflict() {
    let Some(r) = R::find() else { return };
    let a = pkg_a("0.1.0").build(&r);
    let impostor = pkg_a("0.1.0").greet("\"impostor\"").build(&r);
    assert_eq!(a.file_name(), impostor.file_name());
    assert_ne!(read(&a), read(&impostor));
    let server = TestServer::start();
    let token = server.publisher_token();
    publish(&server, &[&a]);

    let before = server.store_state();
    upload(&server, &a, Auth::Basic(token)).assert_refused(&[400], &["already exists"]);
    server.assert_nothing_stored_since(&before, "identical re-upload");
    let reply = upload(&server, &impostor, Auth::Basic(token));
    reply.assert_refused(&[409], &["exist", "differ"]);
    server.assert_nothing_stored_since(&before, "other bytes under the same name");
    let done = airlock_publish(&server, "internal-cran", token, &[&impostor]).failure();
    assert!(
        done.stderr.contains("409")
            && done.stderr.contains(reply.body.trim())
            && done.stderr.contains("pkgA_0.1.0.tar.gz"),
        "airlock publish should show the server's refusal ({reply:?})\n{done}"
    );
    server.assert_nothing_stored_since(&before, "airlock publish of other bytes");

    let dev = Repo::new(&server, "dev");
    let packages = dev.packages();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0]["MD5sum"], md5_hex(&read(&a)));
    dev.assert_serves(&dev.contrib("pkgA_0.1.0.tar.gz"), &a);
}

#[test]
fn cran_uploads_need_a_publisher_token() {
    let Some(r) = R::find() else { return };
    let a = pkg_a("0.1.0").build(&r);
    let server = TestServer::start();
    let reader = server.token("reader", "reader");
    let before = server.store_state();
    for (auth, status) in [
        (Auth::None, &[401][..]),
        (Auth::Basic("not-a-token"), &[401, 403][..]),
        (Auth::Basic(&reader), &[403][..]),
        (Auth::Bearer(&reader), &[403][..]),
    ] {
        let reply = upload(&server, &a, auth);
        reply.assert_refused(status, &[]);
        assert!(
            !reply.body.trim().is_empty(),
            "the refusal should say why: {reply:?}"
        );
        server.assert_nothing_stored_since(&before, &format!("upload with {auth:?}"));
    }
    let reply = upload(&server, &a, Auth::Basic(&reader));
    let done = airlock_publish(&server, "internal-cran", &reader, &[&a]).failure();
    assert!(
        done.stderr.contains("403") && done.stderr.contains(reply.body.trim()),
        "airlock publish should show the server's refusal ({reply:?})\n{done}"
    );
    server.assert_nothing_stored_since(&before, "airlock publish with a reader token");
    let dev = Repo::new(&server, "dev");
    assert!(dev.packages().is_empty());
    dev.assert_not_found(&dev.contrib("pkgA_0.1.0.tar.gz"));
}

/// Bad tarballs (hand-made with Python's tarfile; no R needed): a server whose archives may decompress
/// to 4 MiB at most, and that accepted one valid hand-made tarball (so that the refusals below are
/// about the defect, not about hand-made tarballs).
mod bad_tarballs {
    use super::*;

    const NAME: &str = "handmade";
    const VERSION: &str = "1.0";

    struct Bench {
        server: TestServer,
        scratch: TempDir,
        count: std::cell::Cell<u32>,
    }

    impl Bench {
        fn start() -> Bench {
            let server = TestServer::builder()
                .config(ServerConfig::default().max_uncompressed_size("4MiB"))
                .start();
            let scratch = TempDir::new().expect("temp dir");
            let control = HandTarball::new("control", "1.0").write(scratch.path());
            publish(&server, &[&control]);
            let stored = server.store_state();
            assert!(
                stored.artifacts() == 1 && stored.blob_count() >= 1,
                "{stored:?}"
            );
            Bench {
                server,
                scratch,
                count: std::cell::Cell::new(0),
            }
        }

        /// A fresh directory for one tarball.
        fn dir(&self) -> PathBuf {
            self.count.set(self.count.get() + 1);
            let dir = self.scratch.path().join(self.count.get().to_string());
            fs::create_dir(&dir).expect("mkdir");
            dir
        }

        /// Writes `tarball` as `handmade_1.0.tar.gz` and expects it refused, saying one of `words`.
        #[track_caller]
        fn refuse(&self, what: &str, tarball: &HandTarball, words: &[&str]) {
            let path = tarball.write_as(&self.dir(), &format!("{NAME}_{VERSION}.tar.gz"));
            self.refuse_file(what, &file_name(&path), read(&path), words);
        }

        #[track_caller]
        fn refuse_file(&self, what: &str, filename: &str, bytes: Vec<u8>, words: &[&str]) {
            let before = self.server.store_state();
            let reply = upload_to(
                &self.server,
                "internal-cran",
                filename,
                bytes,
                Auth::Basic(self.server.publisher_token()),
            );
            assert!(reply.status == 400, "{what}: expected 400, got {reply:?}");
            let body = reply.body.to_lowercase();
            assert!(
                words.iter().any(|w| body.contains(&w.to_lowercase())),
                "{what}: the refusal should say why (one of {words:?}): {reply:?}"
            );
            self.server
                .assert_nothing_stored_since(&before, &format!("{what}: after {reply:?}"));
        }
    }

    fn valid() -> HandTarball {
        HandTarball::new(NAME, VERSION)
    }

    #[test]
    fn cran_unsafe_member_paths_are_refused() {
        let bench = Bench::start();
        for member in [
            "../evil",
            "handmade/../../evil",
            "handmade/R/../../../evil",
            "/tmp/evil",
        ] {
            bench.refuse(
                member,
                &valid().member(member, "escaped <- TRUE\n"),
                &["path", "outside", ".."],
            );
        }
    }

    #[test]
    fn cran_the_top_directory_must_be_the_package() {
        let bench = Bench::start();
        // Everything under another directory than the file name's package.
        bench.refuse(
            "wrong top directory",
            &HandTarball::new("otherpkg", VERSION)
                .member("otherpkg/DESCRIPTION", &description(NAME, VERSION)),
            &["top-level", "directory"],
        );
        bench.refuse(
            "a second top-level directory",
            &valid().member("extra/R/more.R", "g <- 2\n"),
            &["top-level", "directory"],
        );
        bench.refuse(
            "a file at the top level",
            &valid().member("README", "hello\n"),
            &["top-level", "directory"],
        );
    }

    #[test]
    fn cran_description_must_exist_and_match_the_file_name() {
        let bench = Bench::start();
        bench.refuse(
            "no DESCRIPTION",
            &valid().without("handmade/DESCRIPTION"),
            &["DESCRIPTION"],
        );
        bench.refuse(
            "DESCRIPTION with another Version",
            &valid().member("handmade/DESCRIPTION", &description(NAME, "2.0")),
            &["version"],
        );
        bench.refuse(
            "DESCRIPTION with another Package",
            &valid().member("handmade/DESCRIPTION", &description("otherpkg", VERSION)),
            &["package"],
        );
        bench.refuse(
            "DESCRIPTION without Version",
            &valid().member(
                "handmade/DESCRIPTION",
                "Package: handmade\nTitle: No Version\nLicense: MIT\n",
            ),
            &["version"],
        );
        bench.refuse(
            "DESCRIPTION that is a directory",
            &valid().dir("handmade/DESCRIPTION"),
            &["DESCRIPTION"],
        );
    }

    #[test]
    fn cran_gzip_bombs_are_refused() {
        let bench = Bench::start();
        // 64 MiB of spaces in a file of about 64 KiB, sixteen times the server's limit.
        let bomb = valid().spaces("handmade/R/big.R", 64 << 20);
        let path = bomb.write_as(&bench.dir(), "handmade_1.0.tar.gz");
        let size = fs::metadata(&path).expect("stat").len();
        assert!(size < 1 << 20, "the bomb should be small: {size} bytes");
        bench.refuse_file(
            "gzip bomb",
            "handmade_1.0.tar.gz",
            read(&path),
            &["uncompress", "large", "limit", "size"],
        );
        // Under the limit is fine: 2 MiB of spaces.
        let fine = valid().spaces("handmade/R/big.R", 2 << 20);
        let path = fine.write_as(&bench.dir(), "handmade_1.0.tar.gz");
        publish(&bench.server, &[&path]);
    }

    #[test]
    fn cran_links_leaving_the_package_and_devices_are_refused() {
        let bench = Bench::start();
        for (link, target) in [
            ("handmade/R/passwd", "../../../etc/passwd"),
            ("handmade/R/abs", "/etc/passwd"),
            ("handmade/up", ".."),
        ] {
            bench.refuse(
                &format!("symlink {link} -> {target}"),
                &valid().symlink(link, target),
                &["link", "outside"],
            );
        }
        bench.refuse(
            "character device",
            &valid().char_device("handmade/R/null"),
            &["device", "not allowed"],
        );
        // A link that stays inside is fine.
        let inside = valid().symlink("handmade/R/again.R", "code.R");
        let path = inside.write_as(&bench.dir(), "handmade_1.0.tar.gz");
        publish(&bench.server, &[&path]);
    }

    #[test]
    fn cran_non_gzip_and_corrupt_uploads_are_refused() {
        let bench = Bench::start();
        let filename = "handmade_1.0.tar.gz";
        bench.refuse_file(
            "not gzip at all",
            filename,
            b"Package: handmade\nVersion: 1.0\n".to_vec(),
            &["gzip"],
        );
        let good = valid().write_as(&bench.dir(), filename);
        let bytes = read(&good);
        bench.refuse_file(
            "truncated gzip",
            filename,
            bytes[..bytes.len() * 2 / 3].to_vec(),
            &["truncated", "gzip", "corrupt", "archive"],
        );
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        bench.refuse_file(
            "corrupted gzip",
            filename,
            flipped,
            &["gzip", "corrupt", "archive", "checksum", "invalid"],
        );
        // A tar that is not compressed: R CMD build always gzips.
        let tar = {
            let mut decoder = flate2::read::GzDecoder::new(bytes.as_slice());
            let mut tar = Vec::new();
            std::io::Read::read_to_end(&mut decoder, &mut tar).expect("gunzip");
            tar
        };
        bench.refuse_file("uncompressed tar", filename, tar, &["gzip"]);
    }

    #[test]
    fn cran_bad_file_names_are_refused() {
        let bench = Bench::start();
        let good = valid().write_as(&bench.dir(), "handmade_1.0.tar.gz");
        for filename in [
            "handmade-1.0.tar.gz",
            "handmade_1.0.zip",
            "handmade.tar.gz",
            "../handmade_1.0.tar.gz",
            "handmade_1.0.tar.gz.exe",
        ] {
            bench.refuse_file(
                filename,
                filename,
                read(&good),
                &["file name", "filename", "PKG_VERSION", "name"],
            );
        }
    }
}

/// The CRAN pull-through proxy (`kind = "proxy"`, `ecosystem = "cran"`) against a fake CRAN.
mod proxy {
    use std::sync::Barrier;
    use std::time::Duration;

    use axum::body::Bytes;

    use super::*;
    use crate::support::cran_upstream::{
        FakeCran, PROXY_SOURCE, archive_path, cran_proxy_config, current_path, dev_over_proxy,
    };
    use crate::support::wait_until;

    /// The upstream: pkgA 0.1.0 (archived), pkgA 0.2.0, pkgB (imports pkgA), pkgC (C code).
    struct Upstream {
        a1: PathBuf,
        a2: PathBuf,
        b: PathBuf,
        c: PathBuf,
        cran: FakeCran,
    }

    fn upstream(r: &R) -> Upstream {
        let a1 = pkg_a("0.1.0").build(r);
        let a2 = pkg_a("0.2.0").build(r);
        let b = pkg_b().build(r);
        let c = pkg_c().build(r);
        let cran = FakeCran::start(r, &[&a2, &b, &c], &[&a1]);
        Upstream { a1, a2, b, c, cran }
    }

    fn all_three() -> BTreeMap<String, String> {
        map(&[("pkgA", "0.2.0"), ("pkgB", "1.0.0"), ("pkgC", "1.0.0")])
    }

    /// A 502 or 504 whose message names the proxy source.
    #[track_caller]
    fn assert_upstream_error(server: &TestServer, url: &str) {
        let got = get(server, url);
        assert!(
            got.status == 502 || got.status == 504,
            "GET {url}: expected 502 or 504, got {} {}",
            got.status,
            got.text()
        );
        assert!(
            got.text().contains(PROXY_SOURCE),
            "GET {url}: the error should name the source {PROXY_SOURCE}: {}",
            got.text()
        );
    }

    #[test]
    fn cran_proxy_installs_with_dependencies_and_fetches_each_tarball_once() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, ""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        for p in dev.packages() {
            let file = match p["Package"].as_str() {
                "pkgA" => &up.a2,
                "pkgB" => &up.b,
                _ => &up.c,
            };
            assert_eq!(p["MD5sum"], md5_hex(&read(file)), "MD5sum of {p:?}");
        }

        let lib = RLib::new(&r);
        lib.install_packages(&dev.url(), &["pkgB", "pkgC"])
            .success();
        assert_eq!(lib.value("pkgB::greet()"), "pkgB 1.0.0 with pkgA 0.2.0");
        assert_eq!(lib.value("pkgC::add_c(2, 3)"), "5");
        let fetched = up.cran.tarball_requests();
        assert_eq!(
            fetched,
            BTreeMap::from([
                (current_path("pkgA_0.2.0.tar.gz"), 1),
                (current_path("pkgB_1.0.0.tar.gz"), 1),
                (current_path("pkgC_1.0.0.tar.gz"), 1),
            ]),
            "each tarball fetched from the upstream once"
        );
        for file in [&up.a2, &up.b, &up.c] {
            assert!(
                server.has_blob(&sha256_hex(&read(file))),
                "{} is kept",
                file.display()
            );
        }

        // Other clients get them from the cache, and the index is not fetched again within its TTL.
        for (filename, file) in [
            ("pkgA_0.2.0.tar.gz", &up.a2),
            ("pkgB_1.0.0.tar.gz", &up.b),
            ("pkgC_1.0.0.tar.gz", &up.c),
        ] {
            dev.assert_serves(&dev.contrib(filename), file);
        }
        assert_eq!(up.cran.tarball_requests(), fetched);
        assert_eq!(
            up.cran.requests("/src/contrib/PACKAGES.gz"),
            1,
            "PACKAGES.gz is fetched once per TTL: {:?}",
            up.cran.seen()
        );
    }

    #[test]
    fn cran_proxy_install_version_finds_archived_versions() {
        let Some(r) = R::find_with("remotes") else {
            return;
        };
        let up = upstream(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, ""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(
            dev.archive(&r),
            BTreeMap::from([(
                "pkgA".to_string(),
                vec!["pkgA/pkgA_0.1.0.tar.gz".to_string()]
            )]),
            "the lane's Meta/archive.rds lists the upstream's archived versions"
        );
        let lib = RLib::new(&r);
        lib.install_version(&dev.url(), "pkgA", "0.1.0").success();
        assert_eq!(lib.value("pkgA::greet()"), "pkgA 0.1.0");
        assert_eq!(
            up.cran.requests(&archive_path("pkgA_0.1.0.tar.gz")),
            1,
            "fetched from the upstream's Archive/: {:?}",
            up.cran.seen()
        );
        dev.assert_serves(&dev.archived("pkgA_0.1.0.tar.gz"), &up.a1);
        assert_eq!(up.cran.requests(&archive_path("pkgA_0.1.0.tar.gz")), 1);
        dev.assert_not_found(&dev.contrib("pkgA_0.1.0.tar.gz"));
    }

    #[test]
    fn cran_proxy_serves_what_it_cached_when_the_upstream_is_down() {
        let Some(r) = R::find() else { return };
        let mut up = upstream(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, "ttl = \"1s\"\nbackoff = \"50ms\""))
            .start();
        let dev = Repo::new(&server, "dev");
        let first = RLib::new(&r);
        first.install_packages(&dev.url(), &["pkgB"]).success();

        up.cran.stop();
        // The index is past its TTL: what was fetched before is served.
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(dev.versions(), all_three(), "the stale index is served");

        let cached = RLib::new(&r);
        let uncached = RLib::new(&r);
        let repos = dev.url();
        let (cached_done, uncached_done) = std::thread::scope(|s| {
            let a = s.spawn(|| cached.install_packages(&repos, &["pkgB"]));
            let b = s.spawn(|| uncached.install_packages(&repos, &["pkgC"]));
            (a.join().expect("thread"), b.join().expect("thread"))
        });
        cached_done.success();
        assert_eq!(cached.value("pkgB::greet()"), "pkgB 1.0.0 with pkgA 0.2.0");
        let uncached_done = uncached_done.failure();
        assert!(
            uncached_done.output().contains("pkgC"),
            "R should say pkgC failed\n{uncached_done}"
        );
        assert_upstream_error(&server, &dev.contrib("pkgC_1.0.0.tar.gz"));
    }

    #[test]
    fn cran_proxy_with_nothing_cached_answers_502_or_504_naming_the_source() {
        let Some(r) = R::find() else { return };
        let mut up = upstream(&r);
        let lanes: &[(&str, &[&str])] = &[("dev", &[PROXY_SOURCE])];
        let paths = [
            "PACKAGES",
            "PACKAGES.gz",
            "PACKAGES.rds",
            "pkgA_0.2.0.tar.gz",
        ];

        // An upstream slower than the timeout.
        up.cran.set(|s| s.delay = Duration::from_secs(4));
        let slow = TestServer::builder()
            .config(cran_proxy_config(
                &up.cran,
                "timeout = \"1s\"\nretries = 0",
                lanes,
            ))
            .start();
        for path in paths {
            assert_upstream_error(&slow, &Repo::new(&slow, "dev").contrib(path));
        }

        // An upstream that is gone.
        up.cran.stop();
        let server = TestServer::builder()
            .config(cran_proxy_config(&up.cran, "backoff = \"50ms\"", lanes))
            .start();
        for path in paths {
            assert_upstream_error(&server, &Repo::new(&server, "dev").contrib(path));
        }
    }

    #[test]
    fn cran_hosted_packages_shadow_upstream_ones_of_the_same_name() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        // Older than the upstream's pkgA 0.2.0: a mix would pick the upstream's.
        let hosted = pkg_a("0.1.5").greet("\"hosted pkgA\"").build(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, ""))
            .start();
        publish(&server, &[&hosted]);
        let dev = Repo::new(&server, "dev");
        assert_eq!(
            dev.versions(),
            map(&[("pkgA", "0.1.5"), ("pkgB", "1.0.0"), ("pkgC", "1.0.0")])
        );
        assert_eq!(
            dev.archive(&r).get("pkgA"),
            None,
            "the upstream's pkgA versions are not archived under the hosted pkgA"
        );
        for url in [
            dev.contrib("pkgA_0.2.0.tar.gz"),
            dev.archived("pkgA_0.2.0.tar.gz"),
            dev.archived("pkgA_0.1.0.tar.gz"),
        ] {
            let got = get(&server, &url);
            assert!(
                got.status == 404 || got.status == 403,
                "the upstream's pkgA must not be served: GET {url}: {} {}",
                got.status,
                got.text()
            );
        }
        let lib = RLib::new(&r);
        lib.install_packages(&dev.url(), &["pkgB"]).success();
        assert_eq!(lib.value("pkgB::greet()"), "pkgB 1.0.0 with hosted pkgA");
        let fetched = up.cran.tarball_requests();
        assert!(
            fetched.keys().all(|path| !path.contains("pkgA")),
            "no pkgA tarball is fetched from the upstream: {fetched:?}"
        );
    }

    #[test]
    fn cran_proxy_refuses_bytes_that_do_not_match_the_md5sum() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        // A valid package under the same name: R would install it if the proxy passed it on.
        let impostor = pkg_a("0.2.0").greet("\"impostor\"").build(&r);
        up.cran.set(|s| {
            s.substitute.insert(
                current_path("pkgA_0.2.0.tar.gz"),
                Bytes::from(read(&impostor)),
            );
        });
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, "backoff = \"50ms\""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        let blobs = server.store_state().blob_count();

        let lib = RLib::new(&r);
        lib.install_packages(&dev.url(), &["pkgA"]).failure();
        assert_eq!(lib.version_of("pkgA"), None);
        let upstream_path = current_path("pkgA_0.2.0.tar.gz");
        assert!(
            up.cran.requests(&upstream_path) >= 1,
            "the proxy fetched the impostor: {:?}",
            up.cran.seen()
        );
        let url = dev.contrib("pkgA_0.2.0.tar.gz");
        if let Ok(got) = try_get(server.http(), &url, None) {
            assert!(
                got.status != 200,
                "GET {url} served {} bytes that do not match the upstream's MD5sum",
                got.body.len()
            );
        }
        assert!(
            !server.has_blob(&sha256_hex(&read(&impostor))),
            "the impostor is not kept"
        );
        wait_until(Duration::from_secs(5), "tmp/ is empty", || {
            server.tmp_files().is_empty()
        });
        assert_eq!(server.store_state().blob_count(), blobs, "no blob kept");

        // Once the upstream serves the right bytes, they are fetched anew.
        let refused_fetches = up.cran.requests(&upstream_path);
        up.cran.set(|s| s.substitute.clear());
        lib.install_packages(&dev.url(), &["pkgA"]).success();
        assert_eq!(lib.value("pkgA::greet()"), "pkgA 0.2.0");
        assert_eq!(up.cran.requests(&upstream_path), refused_fetches + 1);
        assert!(server.has_blob(&sha256_hex(&read(&up.a2))));
    }

    #[test]
    fn cran_proxy_truncated_transfers_keep_nothing() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, "backoff = \"50ms\""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        let blobs = server.store_state().blob_count();
        up.cran.set(|s| s.truncate = true);
        let url = dev.contrib("pkgB_1.0.0.tar.gz");
        if let Ok(got) = try_get(server.http(), &url, None) {
            assert!(
                got.status != 200,
                "GET {url} answered 200 with {} bytes of a broken transfer",
                got.body.len()
            );
        }
        assert!(
            up.cran.requests(&current_path("pkgB_1.0.0.tar.gz")) >= 1,
            "the proxy fetched the tarball: {:?}",
            up.cran.seen()
        );
        wait_until(Duration::from_secs(5), "tmp/ is empty", || {
            server.tmp_files().is_empty()
        });
        assert_eq!(server.store_state().blob_count(), blobs, "no blob kept");
        up.cran.set(|s| s.truncate = false);
        dev.assert_serves(&url, &up.b);
    }

    #[test]
    fn cran_proxy_concurrent_downloads_of_one_tarball_make_one_upstream_fetch() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, ""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        up.cran.set(|s| s.delay = Duration::from_millis(1500));
        let url = dev.contrib("pkgC_1.0.0.tar.gz");
        let expected = read(&up.c);
        let barrier = Barrier::new(20);
        let http = server.http();
        let results: Vec<Result<Got, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..20)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        try_get(http, &url, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for result in results {
            let got = result.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.status, 200, "{}", got.text());
            assert!(
                got.body == expected,
                "every client gets the tarball's bytes"
            );
        }
        assert_eq!(
            up.cran.requests(&current_path("pkgC_1.0.0.tar.gz")),
            1,
            "one upstream fetch: {:?}",
            up.cran.seen()
        );
    }

    #[test]
    fn cran_proxy_falls_back_to_plain_packages_and_refreshes_after_its_ttl() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        up.cran.set(|s| {
            s.no_packages_gz = true;
            s.no_archive_rds = true;
        });
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, "ttl = \"3s\""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        for file in ["PACKAGES.gz", "PACKAGES.rds", "PACKAGES"] {
            assert_eq!(dev.get(file).status, 200, "{file}");
        }
        assert_eq!(
            up.cran.requests("/src/contrib/PACKAGES"),
            1,
            "fetched once within the TTL: {:?}",
            up.cran.seen()
        );
        assert!(
            dev.archive(&r).is_empty(),
            "no Meta/archive.rds upstream: nothing archived"
        );
        std::thread::sleep(Duration::from_millis(3500));
        assert_eq!(dev.versions(), all_three());
        wait_until(
            Duration::from_secs(10),
            "PACKAGES is fetched again after the TTL",
            || up.cran.requests("/src/contrib/PACKAGES") >= 2,
        );
    }

    #[test]
    fn cran_proxy_retries_a_failing_upstream() {
        let Some(r) = R::find() else { return };
        let up = upstream(&r);
        up.cran.set(|s| s.fail_next = 2);
        let server = TestServer::builder()
            .config(dev_over_proxy(&up.cran, "retries = 2\nbackoff = \"50ms\""))
            .start();
        let dev = Repo::new(&server, "dev");
        assert_eq!(dev.versions(), all_three());
        let failures = up.cran.seen().iter().filter(|s| s.status == 500).count();
        assert_eq!(failures, 2, "{:?}", up.cran.seen());
        dev.assert_serves(&dev.contrib("pkgB_1.0.0.tar.gz"), &up.b);
    }
}

#[test]
fn parse_dcf_reads_continuation_lines() {
    let parsed = parse_dcf("Package: a\nImports: x,\n    y\n\nPackage: b\nVersion: 1\n");
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0]["Imports"], "x, y");
    assert_eq!(parsed[1]["Version"], "1");
}
