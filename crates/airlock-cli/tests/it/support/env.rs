//! What `scripts/test` prepares and exports. A missing variable fails the test: never a silent pass.

use std::path::PathBuf;

pub(crate) fn required(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{var} is not set: run scripts/test (sets {var})"),
    }
}

/// The Python venv with pip, uv, twine, build and hatchling.
pub fn venv() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_VENV"))
}

/// An executable of the test venv, e.g. `python`, `pip`, `twine`, `uv`.
pub fn venv_bin(tool: &str) -> PathBuf {
    let path = venv().join("bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (sets AIRLOCK_TEST_VENV)",
        path.display()
    );
    path
}

/// A directory of real wheels and sdists downloaded from PyPI.
pub fn real_dists() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_REAL_DISTS"))
}

/// `postgres://` URL of a database whose role may create databases.
pub fn postgres_url() -> String {
    required("AIRLOCK_TEST_POSTGRES_URL")
}

/// The PyPA advisory database (a directory of OSV YAML files): `AIRLOCK_TEST_PYPA_ADVISORIES`, else the
/// copy in `testdata/advisories/pypa/vulns`. Missing: the test fails.
pub fn pypa_advisories() -> PathBuf {
    let path = match std::env::var("AIRLOCK_TEST_PYPA_ADVISORIES") {
        Ok(value) if !value.is_empty() => PathBuf::from(value),
        _ => testdata().join("advisories/pypa/vulns"),
    };
    assert!(
        path.is_dir(),
        "the PyPA advisory database is missing at {} (set AIRLOCK_TEST_PYPA_ADVISORIES)",
        path.display()
    );
    path
}

/// The repository's `testdata/` (real advisories, manifests and licence data; see its README.md).
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A publishing or locking client from its own pinned venv (`poetry`, `pdm`, `pipenv`, `hatch`,
/// `flit`): `AIRLOCK_TEST_CLIENTS_BIN/<tool>`, which `scripts/test` fills.
pub fn client_bin(tool: &str) -> PathBuf {
    let path = PathBuf::from(required("AIRLOCK_TEST_CLIENTS_BIN")).join(tool);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (sets AIRLOCK_TEST_CLIENTS_BIN)",
        path.display()
    );
    path
}

/// A Python with Playwright (`AIRLOCK_TEST_BROWSER_PYTHON`, from `scripts/test`).
pub fn browser_python() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_BROWSER_PYTHON"))
}

/// The Chromium the browser tests drive (`AIRLOCK_TEST_CHROMIUM`).
pub fn chromium() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_CHROMIUM"))
}

/// Where browser tests leave their screenshots (`AIRLOCK_TEST_SCREENSHOTS`).
pub fn screenshots() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_SCREENSHOTS"))
}

/// `node_modules` with the npm packages the tests run under node (`AIRLOCK_TEST_NODE_MODULES`).
pub fn node_modules() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_NODE_MODULES"))
}

/// Where test servers keep their blobs: `AIRLOCK_TEST_BLOBS=s3` puts them in the S3 server
/// `scripts/test` runs, else they stay in the data directory.
pub fn blobs_in_s3() -> bool {
    match std::env::var("AIRLOCK_TEST_BLOBS").as_deref() {
        Ok("s3") => true,
        Ok("") | Ok("local") | Err(_) => false,
        Ok(other) => panic!("AIRLOCK_TEST_BLOBS={other:?}: use s3 or local"),
    }
}

/// The S3 server `scripts/test` runs: its endpoint, access key, secret key, and the directory it
/// keeps buckets in (one directory each, objects as files under their keys).
#[derive(Debug, Clone)]
pub struct S3Server {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub root: PathBuf,
}

/// The S3 server binary (s3s-fs), for tests that run one of their own.
pub fn s3s_fs() -> PathBuf {
    PathBuf::from(required("AIRLOCK_TEST_S3S_FS"))
}

pub fn s3_server() -> S3Server {
    S3Server {
        endpoint: required("AIRLOCK_TEST_S3_ENDPOINT"),
        access_key: required("AIRLOCK_TEST_S3_ACCESS_KEY"),
        secret_key: required("AIRLOCK_TEST_S3_SECRET_KEY"),
        root: PathBuf::from(required("AIRLOCK_TEST_S3_ROOT")),
    }
}
