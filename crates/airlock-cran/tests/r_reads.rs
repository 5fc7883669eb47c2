//! Real R reads what we write.
//!
//! Two tiny packages are built with `R CMD build` (airB imports airA); R's own
//! `tools::write_PACKAGES` indexes them in one directory, we index the same tarballs in
//! another, and R checks that both agree field by field (`identical()` on the PACKAGES.rds
//! matrices, PACKAGES byte for byte), that `available.packages()` reads our index through
//! PACKAGES.rds and through PACKAGES alone, that `install.packages()` installs airB and
//! its dependency airA from our repository, and that our `Meta/archive.rds` has the shape
//! of CRAN's (`file.info()` data frames, as pkgcache and remotes read them). R also
//! writes RDS files for our reader (xz-compressed PACKAGES.rds, ALTREP `1:5`, NAs).
//!
//! Without `Rscript` the test fails when `CI` is set and is skipped with a notice otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use airlock_cran::rds::{self, ArchivedFile, RObject, RdsVersion};
use airlock_cran::{Limits, PackagesEntry, SourceFilename, inspect_source_tarball};

fn rscript_available() -> bool {
    Command::new("Rscript")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

const AIR_A: &str = "Package: airA
Version: 0.1-2
Title: Airlock Test Package A
Description: A tiny package for airlock's tests. It says hello
    and does nothing else.
Authors@R: person(\"Ada\", \"Lovelace\", email = \"ada@example.org\",
    role = c(\"aut\", \"cre\"))
License: MIT + file LICENSE
Depends: R (>= 3.5.0)
Encoding: UTF-8
";

const AIR_B: &str = "Package: airB
Version: 0.2.0
Title: Airlock Test Package B
Description: Uses airA. Its Suggests field is long enough that
    write.dcf folds it.
Authors@R: person(\"Grace\", \"Hopper\", email = \"grace@example.org\",
    role = c(\"aut\", \"cre\"))
License: GPL (>= 2)
Imports:
    airA (>= 0.1-2),
    methods,
    utils
LinkingTo: airA
Suggests: testthat (>= 3.0.0), knitr, rmarkdown, covr, withr, jsonlite, curl, httr2, ggplot2, dplyr
Encoding: UTF-8
";

fn build_packages(src: &Path) -> Vec<PathBuf> {
    write(&src.join("airA/DESCRIPTION"), AIR_A);
    write(
        &src.join("airA/LICENSE"),
        "YEAR: 2024\nCOPYRIGHT HOLDER: Ada Lovelace\n",
    );
    write(&src.join("airA/NAMESPACE"), "export(hello_a)\n");
    write(
        &src.join("airA/R/a.R"),
        "hello_a <- function() \"hello from airA\"\n",
    );
    write(&src.join("airB/DESCRIPTION"), AIR_B);
    write(
        &src.join("airB/NAMESPACE"),
        "importFrom(airA, hello_a)\nexport(hello_b)\n",
    );
    write(
        &src.join("airB/R/b.R"),
        "hello_b <- function() paste(hello_a(), \"via airB\")\n",
    );
    ["airA", "airB"]
        .iter()
        .map(|pkg| {
            run(Command::new("R")
                .args(["CMD", "build", "--no-build-vignettes", "--no-manual", pkg])
                .current_dir(src));
            let name = if *pkg == "airA" {
                "airA_0.1-2.tar.gz"
            } else {
                "airB_0.2.0.tar.gz"
            };
            src.join(name)
        })
        .collect()
}

const CHECK_SCRIPT: &str = r#"
args <- commandArgs(TRUE)
ours <- args[1]; theirs <- args[2]; dcf_only <- args[3]; v2_rds <- args[4]
lib <- args[5]; r_out <- args[6]; archive_file <- args[7]
ok <- function(cond, what) {
  if (!isTRUE(cond)) { cat("FAIL:", what, "\n"); quit(status = 1) }
  cat("ok:", what, "\n")
}
contrib <- function(root) file.path(root, "src", "contrib")

## PACKAGES.rds: the same object write_PACKAGES saves.
a <- readRDS(file.path(contrib(ours), "PACKAGES.rds"))
b <- readRDS(file.path(contrib(theirs), "PACKAGES.rds"))
if (!identical(a, b)) { print(all.equal(a, b)); str(a); str(b) }
ok(identical(a, b), "our PACKAGES.rds is identical() to write_PACKAGES' matrix")
ok(identical(readRDS(v2_rds), b), "our version-2 PACKAGES.rds is identical() too")
ok(identical(rownames(a), c("airA", "airB")), "rows are named by package")

## PACKAGES.gz and PACKAGES read back the same.
ok(identical(read.dcf(file.path(contrib(ours), "PACKAGES.gz")),
             read.dcf(file.path(contrib(theirs), "PACKAGES.gz"))),
   "PACKAGES.gz reads the same as R's")

## available.packages() through PACKAGES.rds, and through PACKAGES alone.
ap <- function(root) {
  x <- available.packages(repos = NULL, contriburl = paste0("file://", contrib(root)))
  x[, colnames(x) != "Repository", drop = FALSE]
}
ours_ap <- ap(ours)
ok(identical(rownames(ours_ap), c("airA", "airB")), "available.packages() lists both")
ok(identical(ours_ap, ap(theirs)), "available.packages() agrees with R's index")
their_dcf <- tempfile(); dir.create(file.path(their_dcf, "src", "contrib"), recursive = TRUE)
invisible(file.copy(file.path(contrib(theirs), "PACKAGES"), contrib(their_dcf)))
ok(identical(ap(dcf_only), ap(their_dcf)), "available.packages() via PACKAGES agrees too")
## R CMD build re-folds DESCRIPTION; Imports arrive as one line.
ok(identical(ours_ap["airB", "Imports"], "airA (>= 0.1-2), methods, utils"), "Imports read back")

## install.packages() resolves airB -> airA from our repository and installs both.
dir.create(lib)
.libPaths(c(lib, .libPaths()))
install.packages("airB", lib = lib, repos = paste0("file://", ours), type = "source",
                 quiet = TRUE)
ok(all(c("airA", "airB") %in% rownames(installed.packages(lib))), "install.packages() installed airB and airA")
ok(identical(airB::hello_b(), "hello from airA via airB"), "installed packages work")

## Meta/archive.rds has CRAN's shape.
arch <- readRDS(file.path(contrib(ours), "Meta", "archive.rds"))
fi <- file.info(archive_file)
ok(identical(names(arch), "airA"), "archive is a list named by package")
x <- arch$airA
ok(is.data.frame(x), "archive entries are data frames")
ok(identical(names(x), names(fi)), "archive columns are file.info()'s")
ok(identical(lapply(x, class), lapply(fi, class)), "archive column classes are file.info()'s")
ok(identical(rownames(x), "airA/airA_0.1-1.tar.gz"), "archive row names are pkg/file")
ok(identical(x$size, fi$size), "archive size")
ok(identical(as.numeric(x$mtime), floor(as.numeric(fi$mtime))), "archive mtime")
## ... as pkgcache's cran_archive_list() converts it:
raw <- unlist(lapply(arch, rownames), use.names = FALSE)
vers <- sub("[.]tar[.]gz$", "", sub("^.*_", "", raw))
mtime <- unlist(lapply(arch, function(x) x$mtime), use.names = FALSE)
class(mtime) <- class(arch[[1]]$mtime)
ok(identical(vers, "0.1-1") && inherits(mtime, "POSIXct"), "pkgcache's reading of archive.rds")
## ... and as remotes' download_version_url() does:
info <- arch[["airA"]]
info$path <- rownames(info)
info <- info[order(info$mtime), , drop = FALSE]
ok(identical(info$path, "airA/airA_0.1-1.tar.gz"), "remotes' reading of archive.rds")

## Files for our reader.
fi_rel <- fi; rownames(fi_rel) <- "airA/airA_0.1-1.tar.gz"
saveRDS(list(airA = fi_rel), file.path(r_out, "archive.rds"))
misc <- list(a = 1:5, b = c(1.5, NA), c = c(TRUE, NA), d = c("x", NA, "\u00e9"), e = NULL)
saveRDS(misc, file.path(r_out, "misc3.rds"))
saveRDS(misc, file.path(r_out, "misc2.rds"), version = 2)
cat("ALL OK\n")
"#;

#[test]
fn r_reads_our_indexes() {
    if !rscript_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Rscript not found but CI is set: install R (apt-get install r-base-core)"
        );
        eprintln!(
            "notice: Rscript not found; skipping the R cross-check (set CI to make this fail)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let tarballs = build_packages(&root.join("build"));

    // R's own index.
    let theirs = root.join("theirs");
    let theirs_contrib = theirs.join("src/contrib");
    fs::create_dir_all(&theirs_contrib).unwrap();
    for tarball in &tarballs {
        fs::copy(tarball, theirs_contrib.join(tarball.file_name().unwrap())).unwrap();
    }
    run(Command::new("Rscript").args([
        "--vanilla",
        "-e",
        &format!(
            "tools::write_PACKAGES({:?}, type = 'source')",
            theirs_contrib.to_str().unwrap()
        ),
    ]));

    // Ours, from the same tarballs.
    let ours = root.join("ours");
    let ours_contrib = ours.join("src/contrib");
    fs::create_dir_all(&ours_contrib).unwrap();
    let mut entries = Vec::new();
    for tarball in &tarballs {
        let name = tarball.file_name().unwrap().to_str().unwrap();
        let expected = SourceFilename::parse(name).unwrap();
        let bytes = fs::read(tarball).unwrap();
        let inspected =
            inspect_source_tarball(bytes.as_slice(), &expected, &Limits::default()).unwrap();
        entries.push(PackagesEntry::from_inspected(&inspected));
        fs::write(ours_contrib.join(name), &bytes).unwrap();
    }
    let text = airlock_cran::write_packages(&entries);
    fs::write(ours_contrib.join("PACKAGES"), &text).unwrap();
    fs::write(
        ours_contrib.join("PACKAGES.gz"),
        airlock_cran::packages_gz(&text),
    )
    .unwrap();
    fs::write(
        ours_contrib.join("PACKAGES.rds"),
        rds::packages_matrix(&entries),
    )
    .unwrap();
    let v2_rds = root.join("PACKAGES-v2.rds");
    fs::write(
        &v2_rds,
        rds::write_rds(&rds::packages_matrix_object(&entries), RdsVersion::V2),
    )
    .unwrap();

    // PACKAGES, byte for byte.
    let their_text = fs::read_to_string(theirs_contrib.join("PACKAGES")).unwrap();
    assert_eq!(text, their_text);

    // A PACKAGES-only repository.
    let dcf_only = root.join("dcf-only");
    fs::create_dir_all(dcf_only.join("src/contrib")).unwrap();
    fs::write(dcf_only.join("src/contrib/PACKAGES"), &text).unwrap();

    // An archived version and its index.
    let archived = ours_contrib.join("Archive/airA/airA_0.1-1.tar.gz");
    fs::create_dir_all(archived.parent().unwrap()).unwrap();
    fs::copy(&tarballs[0], &archived).unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options()
        .write(true)
        .open(&archived)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let archive = BTreeMap::from([(
        "airA".to_owned(),
        vec![ArchivedFile {
            path: "airA/airA_0.1-1.tar.gz".into(),
            size: fs::metadata(&archived).unwrap().len(),
            mtime_unix_secs: 1_700_000_000,
        }],
    )]);
    fs::create_dir_all(ours_contrib.join("Meta")).unwrap();
    fs::write(
        ours_contrib.join("Meta/archive.rds"),
        rds::archive_index(&archive),
    )
    .unwrap();

    // R checks.
    let script = root.join("check.R");
    fs::write(&script, CHECK_SCRIPT).unwrap();
    let r_out = root.join("r-out");
    fs::create_dir_all(&r_out).unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let stdout = run(Command::new("Rscript").arg("--vanilla").arg(&script).args([
        path(&ours),
        path(&theirs),
        path(&dcf_only),
        path(&v2_rds),
        path(&root.join("lib")),
        path(&r_out),
        path(&archived),
    ]));
    eprintln!("{stdout}");
    assert!(stdout.contains("ALL OK"), "{stdout}");

    // Our reader on R's files: write_PACKAGES' xz-compressed matrix ...
    let theirs_matrix =
        rds::read_rds(&fs::read(theirs_contrib.join("PACKAGES.rds")).unwrap()).unwrap();
    let ours_matrix = rds::packages_matrix_object(&entries);
    let RObject::Character(theirs_values) = &theirs_matrix else {
        panic!("not a character matrix: {theirs_matrix:?}")
    };
    assert_eq!(theirs_matrix.as_character(), ours_matrix.as_character());
    assert_eq!(theirs_matrix.attr("dim"), ours_matrix.attr("dim"));
    assert_eq!(theirs_matrix.attr("dimnames"), ours_matrix.attr("dimnames"));
    assert_eq!(theirs_values.attributes.0.len(), 2);
    // ... a file.info() archive index ...
    let their_archive = rds::archive_from_object(
        &rds::read_rds(&fs::read(r_out.join("archive.rds")).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(their_archive, archive);
    // ... and vectors with NAs, ALTREP 1:5 (version 3) and a UTF-8 string.
    let expected = RObject::list(vec![
        RObject::integer((1..=5).map(Some).collect()),
        RObject::double(vec![Some(1.5), None]),
        RObject::logical(vec![Some(true), None]),
        RObject::character([Some("x"), None, Some("é")]),
        RObject::Null,
    ])
    .with_attr("names", RObject::strings(["a", "b", "c", "d", "e"]));
    for file in ["misc3.rds", "misc2.rds"] {
        let got = rds::read_rds(&fs::read(r_out.join(file)).unwrap()).unwrap();
        assert_eq!(got, expected, "{file}");
    }
}
