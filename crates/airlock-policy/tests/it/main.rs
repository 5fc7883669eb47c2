//! Known answers against the real advisory databases in `testdata/advisories`.

mod known_answers;

use std::path::PathBuf;
use std::sync::OnceLock;

use airlock_osv::{Advisory, load_dir};
use airlock_policy::AdvisoryDb;

/// `testdata/advisories/<db>/vulns` of the repository.
pub fn vulns_dir(db: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/advisories")
        .join(db)
        .join("vulns");
    assert!(
        dir.is_dir(),
        "{} is missing: the advisory databases live in testdata/advisories",
        dir.display()
    );
    dir
}

fn load(db: &str) -> Vec<Advisory> {
    let report = load_dir(&vulns_dir(db)).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.advisories
}

/// The whole PyPA database, loaded once for all tests.
pub fn pypa() -> &'static AdvisoryDb {
    static DB: OnceLock<AdvisoryDb> = OnceLock::new();
    DB.get_or_init(|| AdvisoryDb::new(load("pypa")))
}

/// The R Consortium database.
pub fn r_db() -> &'static AdvisoryDb {
    static DB: OnceLock<AdvisoryDb> = OnceLock::new();
    DB.get_or_init(|| AdvisoryDb::new(load("r")))
}
