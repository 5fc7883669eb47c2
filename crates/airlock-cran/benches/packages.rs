//! How long a CRAN lane's indexes take to render: PACKAGES, PACKAGES.gz, PACKAGES.rds and
//! Meta/archive.rds for a synthetic lane of 20,000 packages with 40,000 archived files.
//!
//! `cargo bench -p airlock-cran --bench packages` (release profile). A plain `main`: each output is
//! rendered once to warm up, then `REPS` more times; best and median wall time (`Instant`) and the
//! output size are printed. Every output is read back once (untimed) to check it is what it claims.
//!
//! Environment: `PACKAGES_BENCH_PACKAGES` (20000), `PACKAGES_BENCH_ARCHIVED` (40000),
//! `PACKAGES_BENCH_REPS` (7), `PACKAGES_BENCH_OUT` (a directory to write the four files to, for
//! example to read them with R).

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_cran::indexes::{IndexedPackage, Indexes};
use airlock_cran::packages::{PackagesEntry, packages_gz, write_packages};
use airlock_cran::rds::{
    ArchivedFile, RdsVersion, archive_from_object, archive_index, archive_index_object,
    packages_from_matrix, packages_matrix, packages_matrix_object, read_rds, serialize,
};

/// A small deterministic generator (xorshift64*), so every run renders the same lane.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn version(&mut self) -> String {
        let (major, minor, patch) = (self.below(4), self.below(20), self.below(30));
        if self.chance(20) {
            format!("{major}.{minor}-{patch}")
        } else {
            format!("{major}.{minor}.{patch}")
        }
    }
}

const SYLLABLES: &[&str] = &[
    "gg", "plot", "dat", "tidy", "stat", "geo", "spat", "bio", "cl", "ust", "er", "mod", "el",
    "lm", "reg", "net", "work", "shiny", "viz", "map", "time", "ser", "ies", "fore", "cast",
    "text", "mine", "str", "ing", "read", "xl", "json", "db", "sql", "rcpp", "arma", "boot",
    "surv", "mix", "bayes",
];
const BASE_PACKAGES: &[&str] = &[
    "methods",
    "stats",
    "utils",
    "graphics",
    "grDevices",
    "grid",
    "parallel",
    "tools",
];
const SUGGESTED: &[&str] = &[
    "testthat (>= 3.0.0)",
    "knitr",
    "rmarkdown",
    "covr",
    "spelling",
    "withr",
    "roxygen2",
    "microbenchmark",
    "vdiffr (>= 1.0.0)",
    "lintr",
];
const LICENSES: &[&str] = &[
    "GPL-2",
    "GPL-3",
    "GPL (>= 2)",
    "GPL-2 | GPL-3",
    "MIT + file LICENSE",
    "Apache License (== 2.0)",
    "BSD_3_clause + file LICENSE",
    "LGPL-3",
    "CC0",
    "AGPL-3",
];
const R_VERSIONS: &[&str] = &["3.5.0", "3.6.0", "4.0.0", "4.1.0", "2.10", "3.4.0"];

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// `count` distinct package names, sorted as `write_PACKAGES` lists them.
fn names(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut names = BTreeSet::new();
    while names.len() < count {
        let mut name = String::new();
        for _ in 0..2 + rng.below(2) {
            name.push_str(rng.pick(SYLLABLES));
        }
        if rng.chance(30) || names.contains(&name) {
            name.push_str(&rng.below(1000).to_string());
        }
        // Valid R names start with a letter; a few get a capital or a dot, as on CRAN.
        if rng.chance(10) {
            name[..1].make_ascii_uppercase();
        }
        if rng.chance(5) {
            name.insert(2, '.');
        }
        names.insert(name);
    }
    names.into_iter().collect()
}

/// Comma-separated dependency entries, some with a version requirement.
fn dependencies(rng: &mut Rng, names: &[String], count: usize) -> String {
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let name = &names[rng.below(names.len())];
        if rng.chance(35) {
            entries.push(format!("{name} (>= {})", rng.version()));
        } else {
            entries.push(name.clone());
        }
    }
    entries.join(", ")
}

fn entries(rng: &mut Rng, names: &[String]) -> Vec<PackagesEntry> {
    names
        .iter()
        .map(|name| {
            let compiled = rng.chance(30);
            let mut depends = vec![format!("R (>= {})", rng.pick(R_VERSIONS))];
            for _ in 0..rng.below(3) {
                depends.push(rng.pick(BASE_PACKAGES).to_owned());
            }
            let suggests: Vec<&str> = (0..rng.below(7)).map(|_| rng.pick(SUGGESTED)).collect();
            let imports_count = 2 + rng.below(11);
            PackagesEntry {
                package: name.clone(),
                version: rng.version(),
                priority: None,
                depends: Some(depends.join(", ")),
                imports: Some(dependencies(rng, names, imports_count)),
                linking_to: compiled.then(|| {
                    if rng.chance(50) {
                        "Rcpp".to_owned()
                    } else {
                        "Rcpp, RcppArmadillo".to_owned()
                    }
                }),
                suggests: (!suggests.is_empty()).then(|| suggests.join(", ")),
                enhances: rng.chance(2).then(|| {
                    let count = 1 + rng.below(2);
                    dependencies(rng, names, count)
                }),
                license: Some(rng.pick(LICENSES).to_owned()),
                license_is_foss: None,
                license_restricts_use: None,
                os_type: rng.chance(1).then(|| "unix".to_owned()),
                archs: None,
                md5sum: Some(format!("{:016x}{:016x}", rng.next(), rng.next())),
                needs_compilation: Some(if compiled { "yes" } else { "no" }.to_owned()),
                built: None,
                file: None,
                path: None,
            }
        })
        .collect()
}

/// `total` archived files spread over the packages (most have none, some have dozens).
fn archive(rng: &mut Rng, names: &[String], total: usize) -> BTreeMap<String, Vec<ArchivedFile>> {
    let mut archive: BTreeMap<String, Vec<ArchivedFile>> = BTreeMap::new();
    let mut left = total;
    while left > 0 {
        let name = &names[rng.below(names.len())];
        let files = archive.entry(name.clone()).or_default();
        let take = (1 + rng.below(6)).min(left);
        for _ in 0..take {
            let version = rng.version();
            files.push(ArchivedFile {
                path: format!("{name}/{name}_{version}.tar.gz"),
                size: 10_000 + rng.next() % 5_000_000,
                // 2008..2025
                mtime_unix_secs: 1_200_000_000 + (rng.next() % 540_000_000) as i64,
            });
        }
        left -= take;
    }
    archive
}

struct Timing {
    label: &'static str,
    times: Vec<Duration>,
    size: usize,
}

/// Runs `f` once to warm up, then `reps` times; keeps the size of what it returned.
fn time<T>(
    label: &'static str,
    reps: usize,
    size: impl Fn(&T) -> usize,
    mut f: impl FnMut() -> T,
) -> Timing {
    let out = black_box(f());
    let size = size(&out);
    drop(out);
    let times = (0..reps)
        .map(|_| {
            let started = Instant::now();
            let out = black_box(f());
            let elapsed = started.elapsed();
            drop(out);
            elapsed
        })
        .collect();
    Timing { label, times, size }
}

/// gzip at flate2's fastest level (reference rows only).
fn gzip_fast(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn median(t: &Timing) -> Duration {
    let mut sorted = t.times.clone();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn print_row(t: &Timing) {
    let best = t.times.iter().min().copied().unwrap_or_default();
    let size = if t.size == 0 {
        "-".to_owned()
    } else {
        t.size.to_string()
    };
    println!(
        "{:<42} {:>10.2} {:>10.2} {:>12}",
        t.label,
        ms(best),
        ms(median(t)),
        size
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let packages = env_usize("PACKAGES_BENCH_PACKAGES", 20_000);
    let archived = env_usize("PACKAGES_BENCH_ARCHIVED", 40_000);
    let reps = env_usize("PACKAGES_BENCH_REPS", 7).max(1);
    assert!(packages > 0, "PACKAGES_BENCH_PACKAGES must be at least 1");

    let started = Instant::now();
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let names = names(&mut rng, packages);
    let entries = entries(&mut rng, &names);
    let archive = archive(&mut rng, &names, archived);
    println!(
        "lane: {} packages, {} archived files of {} packages (generated in {:.0} ms); {reps} runs after a warm-up",
        entries.len(),
        archive.values().map(Vec::len).sum::<usize>(),
        archive.len(),
        ms(started.elapsed())
    );

    let text = write_packages(&entries);
    let packages_object = packages_matrix_object(&entries);
    let archive_object = archive_index_object(&archive);
    let len = |v: &Vec<u8>| v.len();
    let timings = [
        time("PACKAGES (text)", reps, String::len, || {
            write_packages(black_box(&entries))
        }),
        time("PACKAGES.gz (gzip of the text)", reps, len, || {
            packages_gz(black_box(&text))
        }),
        time(
            "PACKAGES.rds: matrix object",
            reps,
            |_| 0,
            || packages_matrix_object(black_box(&entries)),
        ),
        time("PACKAGES.rds: serialize (XDR)", reps, len, || {
            serialize(black_box(&packages_object), RdsVersion::V3)
        }),
        time("PACKAGES.rds (object+serialize+gzip)", reps, len, || {
            packages_matrix(black_box(&entries))
        }),
        time(
            "archive.rds: object",
            reps,
            |_| 0,
            || archive_index_object(black_box(&archive)),
        ),
        time("archive.rds: serialize (XDR)", reps, len, || {
            serialize(black_box(&archive_object), RdsVersion::V3)
        }),
        time(
            "Meta/archive.rds (object+serialize+gzip)",
            reps,
            len,
            || archive_index(black_box(&archive)),
        ),
    ];

    // The chunked indexes (what a server keeps): built at once, then brought up to date after one
    // package changed (a new version of one package, the others the same `Arc`s).
    let indexed: Vec<Arc<IndexedPackage>> = names
        .iter()
        .zip(&entries)
        .map(|(name, entry)| {
            let archived = archive.get(name).cloned().unwrap_or_default();
            Arc::new(IndexedPackage::new(name, Some(entry.clone()), archived))
        })
        .collect();
    let built = Indexes::new(&indexed);
    let mut changed = indexed.clone();
    let middle = changed.len() / 2;
    let mut entry = entries[middle].clone();
    entry.version = "99.0.0".to_owned();
    changed[middle] = Arc::new(IndexedPackage::new(
        &names[middle],
        Some(entry),
        archive.get(&names[middle]).cloned().unwrap_or_default(),
    ));
    let chunked = [
        time(
            "all four, chunked: built at once",
            reps,
            |_| 0,
            || Indexes::new(black_box(&indexed)).files(),
        ),
        time(
            "all four, chunked: one package changed",
            reps,
            |_| 0,
            || Indexes::update(Some(black_box(&built)), black_box(&changed)).files(),
        ),
        time(
            "  of which: the four files assembled",
            reps,
            |_| 0,
            || built.files(),
        ),
    ];
    let chunked_files = built.files();

    // Not the crate's API: what the fastest gzip level would cost on the same bytes, to judge how
    // much of the above is compression (the crate uses flate2's default level, 6).
    let packages_xdr = serialize(&packages_object, RdsVersion::V3);
    let archive_xdr = serialize(&archive_object, RdsVersion::V3);
    let references = [
        time("PACKAGES", reps, len, || {
            gzip_fast(black_box(text.as_bytes()))
        }),
        time("PACKAGES.rds XDR", reps, len, || {
            gzip_fast(black_box(&packages_xdr))
        }),
        time("archive.rds XDR", reps, len, || {
            gzip_fast(black_box(&archive_xdr))
        }),
    ];

    println!(
        "\n{:<42} {:>10} {:>10} {:>12}",
        "output", "best ms", "median ms", "bytes"
    );
    timings.iter().for_each(print_row);
    let all = ["PACKAGES (text)", "PACKAGES.gz (gzip of the text)"]
        .into_iter()
        .chain(["PACKAGES.rds (object+serialize+gzip)"])
        .chain(["Meta/archive.rds (object+serialize+gzip)"])
        .map(|label| median(timings.iter().find(|t| t.label == label).expect("timing")))
        .sum::<Duration>();
    println!(
        "{:<42} {:>10} {:>10.2}",
        "all four (sum of medians)",
        "",
        ms(all)
    );
    println!(
        "\nchunked indexes ({} chunks of {} packages on average)",
        built.chunks(),
        indexed.len() / built.chunks().max(1)
    );
    chunked.iter().for_each(print_row);
    println!(
        "{:<42} {:>10} {:>10} {:>12}",
        "  PACKAGES.gz / .rds / archive.rds bytes",
        "",
        "",
        format!(
            "{} / {} / {}",
            chunked_files.packages_gz.len(),
            chunked_files.packages_rds.len(),
            chunked_files.archive_rds.len()
        )
    );
    println!("\nreference, not the crate's code: gzip level 1 (flate2 fast) of");
    references.iter().for_each(print_row);

    // Untimed: read every output back.
    let gz = packages_gz(&text);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_string(&mut unzipped)
        .expect("PACKAGES.gz decompresses");
    assert_eq!(unzipped, text, "PACKAGES.gz holds PACKAGES");
    assert_eq!(
        text.matches("\nPackage: ").count() + 1,
        entries.len(),
        "one PACKAGES record per entry"
    );
    let rds = packages_matrix(&entries);
    let records = packages_from_matrix(&read_rds(&rds).expect("PACKAGES.rds reads back"))
        .expect("PACKAGES.rds is a matrix");
    assert_eq!(
        records.len(),
        entries.len(),
        "one PACKAGES.rds row per entry"
    );
    let archive_rds = archive_index(&archive);
    let back = archive_from_object(&read_rds(&archive_rds).expect("archive.rds reads back"))
        .expect("archive.rds is an archive index");
    assert_eq!(back, archive, "archive.rds round-trips");
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(chunked_files.packages_gz.as_slice())
        .read_to_string(&mut unzipped)
        .expect("the chunked PACKAGES.gz decompresses");
    assert_eq!(unzipped, text, "the chunked PACKAGES.gz holds PACKAGES");
    assert_eq!(chunked_files.packages, text.as_bytes());
    println!(
        "\nchecked: PACKAGES.gz = PACKAGES, PACKAGES.rds and archive.rds read back whole; so does the chunked PACKAGES.gz"
    );

    if let Ok(dir) = std::env::var("PACKAGES_BENCH_OUT") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir.join("Meta")).expect("create the output directory");
        std::fs::write(dir.join("PACKAGES"), &text).expect("write PACKAGES");
        std::fs::write(dir.join("PACKAGES.gz"), &gz).expect("write PACKAGES.gz");
        std::fs::write(dir.join("PACKAGES.rds"), &rds).expect("write PACKAGES.rds");
        std::fs::write(dir.join("Meta/archive.rds"), &archive_rds).expect("write archive.rds");
        println!("wrote the four files under {}", dir.display());
    }
}
