//! Decisions per second for 20,000 synthetic artifacts against the full PyPA advisory
//! database. Run with `cargo bench -p airlock-policy` (a plain `harness = false` main:
//! std::time only). Pass `--quick` (or set `AIRLOCK_BENCH_QUICK`) for one pass instead
//! of the best of five, and any other word to run only the runs whose name contains it
//! (`cargo bench -p airlock-policy -- AdvisoryDb`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use airlock_license::{LicenseInfo, from_python};
use airlock_osv::{Advisory, load_dir};
use airlock_policy::{
    Action, AdvisoryDb, AdvisorySource, ArtifactFacts, Ecosystem, GlobalRules, LanePolicy,
    MICROS_PER_SECOND, NoAdvisories, Timestamp, decide, new_index,
};

const ARTIFACTS: usize = 20_000;
const NOW: Timestamp = Timestamp::from_micros(1_795_478_400 * MICROS_PER_SECOND);
const DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// xorshift64*: a deterministic stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Half the artifacts are versions of packages the database knows (drawn from the
/// records' `versions` lists and fixed versions), half are packages it does not know.
fn artifacts(advisories: &[Advisory]) -> Vec<ArtifactFacts> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let known: Vec<(String, Vec<String>)> = advisories
        .iter()
        .filter_map(|a| {
            let entry = a.affected.first()?;
            let name = airlock_pypi::name::normalize(&entry.package.as_ref()?.name);
            let mut versions: Vec<String> = entry.versions.clone();
            versions.extend(entry.fixed_versions().map(str::to_owned));
            (!versions.is_empty()).then_some((name, versions))
        })
        .collect();
    let licenses: Vec<Option<LicenseInfo>> = vec![
        Some(from_python(Some("MIT"), None, &[])),
        Some(from_python(Some("Apache-2.0"), None, &[])),
        Some(from_python(Some("BSD-3-Clause"), None, &[])),
        Some(from_python(Some("GPL-3.0-only"), None, &[])),
        Some(from_python(None, Some("LGPLv3"), &[])),
        None,
    ];
    (0..ARTIFACTS)
        .map(|i| {
            let (name, version) = if i % 2 == 0 {
                let (name, versions) = &known[rng.below(known.len())];
                (name.clone(), versions[rng.below(versions.len())].clone())
            } else {
                (
                    format!("synthetic-pkg-{}", rng.below(5_000)),
                    format!("{}.{}.{}", rng.below(5), rng.below(30), rng.below(10)),
                )
            };
            let mut facts = ArtifactFacts::new(Ecosystem::Pypi, name, version);
            facts.license = licenses[rng.below(licenses.len())].clone();
            facts.upload_time = (rng.below(10) > 0).then(|| NOW - rng.below(60) as i64 * DAY);
            facts.first_seen = Some(NOW - rng.below(30) as i64 * DAY);
            facts
        })
        .collect()
}

fn policies(artifacts: &[ArtifactFacts]) -> Vec<(&'static str, LanePolicy, GlobalRules)> {
    let dev: LanePolicy = toml::from_str("name = \"dev\"").unwrap();
    // 2,000 allow rules (a quarter with versions), 200 lane block rules, 1,000 global.
    let mut allow = Vec::new();
    for (i, facts) in artifacts.iter().step_by(10).take(2_000).enumerate() {
        allow.push(if i % 4 == 0 {
            format!("\"pypi:{}>=1.0\"", facts.name)
        } else {
            format!("\"pypi:{}\"", facts.name)
        });
    }
    let block: Vec<String> = (0..200)
        .map(|i| format!("{{ package = \"pypi:synthetic-pkg-{i}<2\", reason = \"bench\" }}"))
        .collect();
    let prod: LanePolicy = toml::from_str(&format!(
        r#"
        name = "prod"
        mode = "allowlist"
        allow = [{}]
        block = [{}]
        vulnerabilities = {{ block_at = "high", unscored = "warn" }}
        licenses = {{ deny = ["strong-copyleft", "network-copyleft"], unknown = "warn" }}
        min_age = "7d"
        "#,
        allow.join(", "),
        block.join(", ")
    ))
    .unwrap();
    let global: GlobalRules = toml::from_str(&format!(
        "block = [{}]",
        (0..1_000)
            .map(|i| format!("\"pypi:malware-{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .unwrap();
    vec![
        ("dev (open, defaults)", dev, GlobalRules::default()),
        (
            "prod (allowlist 2k, blocks 1.2k, vulns, licences, min_age)",
            prod,
            global,
        ),
    ]
}

/// Best of `rounds` passes over all artifacts: (duration, actions seen).
fn run(
    artifacts: &[ArtifactFacts],
    lane: &LanePolicy,
    global: &GlobalRules,
    source: &dyn AdvisorySource,
    rounds: usize,
) -> (Duration, [usize; 4]) {
    let mut best = Duration::MAX;
    let mut counts = [0; 4];
    for _ in 0..rounds {
        counts = [0; 4];
        let start = Instant::now();
        for facts in artifacts {
            let verdict = decide(black_box(facts), lane, global, source, NOW);
            counts[verdict.action as usize] += 1;
            black_box(&verdict);
        }
        best = best.min(start.elapsed());
    }
    (best, counts)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("AIRLOCK_BENCH_QUICK").is_some();
    let rounds = if quick { 1 } else { 5 };
    // Other arguments filter the runs by name, as `cargo bench -- <filter>` does.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/advisories/pypa/vulns");
    let start = Instant::now();
    let report = load_dir(&dir).expect("the PyPA database in testdata/advisories");
    let loaded = start.elapsed();
    let advisories = report.advisories;
    let start = Instant::now();
    let db = AdvisoryDb::new(advisories.clone());
    let indexed = start.elapsed();
    let index = new_index(advisories.clone());
    println!(
        "PyPA database: {} advisories, loaded in {loaded:.2?}, AdvisoryDb built in {indexed:.2?}",
        advisories.len()
    );
    let artifacts = artifacts(&advisories);
    let sources: [(&str, &dyn AdvisorySource); 3] = [
        ("AdvisoryDb", &db),
        ("osv Index", &index),
        ("no advisories", &NoAdvisories),
    ];
    for (label, lane, global) in policies(&artifacts) {
        for (source_label, source) in sources {
            let run_name = format!("{label} {source_label}");
            if !filters.is_empty() && !filters.iter().any(|f| run_name.contains(f.as_str())) {
                continue;
            }
            let (elapsed, counts) = run(&artifacts, &lane, &global, source, rounds);
            let rate = artifacts.len() as f64 / elapsed.as_secs_f64();
            println!(
                "{label:<60} {source_label:<14} {:>9.0} decisions/s  ({:>6.2} µs each; allow {} warn {} hide {} deny {})",
                rate,
                elapsed.as_secs_f64() * 1e6 / artifacts.len() as f64,
                counts[Action::Allow as usize],
                counts[Action::Warn as usize],
                counts[Action::Hide as usize],
                counts[Action::Deny as usize],
            );
        }
    }
}
