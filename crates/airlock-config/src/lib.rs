//! airlock's configuration: typed structs, and a layered loader that records where every value came from.
//!
//! Layers, lowest first: built-in defaults < `airlock.toml` < `AIRLOCK_*` environment < command-line flags.
//! Layers are merged as TOML tables (a key set in a higher layer replaces the whole value below it; the
//! `source` and `lane` arrays are replaced as a whole), then deserialised into [`Config`] and validated.
//! The loader is pure: callers hand it the file's text, the environment and the flags.

use std::collections::BTreeMap;
use std::fmt;

pub use airlock_policy::{GlobalRules, LanePolicy, Mode as LaneMode};
use serde::{Deserialize, Serialize};

mod auth;
mod duration;
mod managed;
mod rbinary;
mod scan;
mod size;
mod webhook;
pub use auth::{AuthConfig, GroupRole, OidcConfig};
pub use duration::{Span, SpanError};
pub use managed::{MANAGED_KEYS, managed_diff};
pub use rbinary::{BuildWhen, RBinaryConfig, RBuildsConfig};
pub use scan::{ScanConfig, Threshold};
pub use size::{ByteSize, SizeError};
pub use webhook::{WebhookConfig, WebhookEvent};

/// Route segments a lane may not be named after, since they are routes of their own (the edge
/// also relies on it: see `airlock-server`'s `hot.rs`).
pub const RESERVED_LANE_NAMES: &[&str] = &[
    "upload", "api", "healthz", "readyz", "metrics", "static", "ui",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database, blobs and temporary files live.
    pub data_dir: String,
    /// Address the server binds, `HOST:PORT`.
    pub listen: String,
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://{data_dir}/airlock.db`.
    #[serde(default)]
    pub database_url: String,
    /// Largest accepted upload (413 beyond it).
    pub max_upload_size: ByteSize,
    /// Largest total uncompressed size of an uploaded archive (zip bombs).
    pub max_uncompressed_size: ByteSize,
    /// Memory kept for recently served small files (up to 8 MiB each; each let go once unread for a
    /// few seconds, so that an idle server gives the memory back); 0 turns it off.
    pub blob_cache_size: ByteSize,
    /// How often a server checks the database for changes made by other processes, in milliseconds.
    pub revision_poll_ms: u64,
    /// Who may call `POST /api/v1/check` (see [`CheckAccess`]).
    pub check_access: CheckAccess,
    /// Largest manifest `POST /api/v1/check` and `POST /api/v1/requests` read: the file and its
    /// includes, each counted every time it is read (413 beyond).
    pub max_manifest_size: ByteSize,
    /// Most entries one manifest may have (413 beyond).
    pub max_manifest_entries: u64,
    /// Most `-r`/`-c` includes one manifest may read, each read counted (413 beyond).
    pub max_manifest_includes: u64,
    /// Longest one manifest may take to read, in milliseconds (413 beyond). Manifests are read
    /// off the async workers, as many at once as the machine has CPUs; a manifest that finds
    /// them all busy for as long answers 503 with `Retry-After`.
    pub manifest_time_limit_ms: u64,
    /// Blobs no row refers to (left by a crash between storing an upload's bytes and committing its
    /// row), and abandoned temporary files, are removed once this old: at start, then as often. Keep
    /// it longer than any upload or download can take, on every server sharing the blob store.
    #[serde(default = "default_blob_sweep_grace")]
    pub blob_sweep_grace: Span,
    /// Where blobs are kept: empty for `{data_dir}/blobs`, or `s3://BUCKET/PREFIX` for a bucket of an
    /// S3-compatible store (see [`Config::blob_location`]), which every server sharing the database uses.
    #[serde(default)]
    pub blob_store: String,
    /// The S3 endpoint, e.g. `http://127.0.0.1:3900` for a store of one's own; empty for AWS.
    #[serde(default)]
    pub s3_endpoint: String,
    #[serde(default = "default_s3_region")]
    pub s3_region: String,
    /// Bucket in the path (`ENDPOINT/BUCKET/KEY`) rather than in the host name: most stores other
    /// than AWS want it.
    #[serde(default)]
    pub s3_path_style: bool,
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    #[serde(rename = "lane")]
    pub lanes: Vec<LaneConfig>,
    /// OSV exports `airlock advisories sync` imports (zips, e.g. osv.dev's per-ecosystem all.zip).
    #[serde(default = "default_advisory_urls")]
    pub advisory_urls: Vec<String>,
    /// Whether an approver may approve a request they made themselves.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// Block rules for every lane: `block = [{ package = "pypi:evil", reason = "..." }]`.
    #[serde(default, skip_serializing_if = "airlock_policy::Rules::is_empty")]
    pub block: airlock_policy::Rules<airlock_policy::BlockRule>,
    /// Addresses of the reverse proxies in front of airlock (`"10.0.0.5"`, `"10.0.0.0/8"`,
    /// `"::1/128"`): only a request from one of them has its `X-Forwarded-Proto` believed, which
    /// makes the interface's cookies `Secure` when the browser used TLS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// Receivers of events: `[[webhook]]`.
    #[serde(default, rename = "webhook", skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    /// Logging in to the web interface besides API tokens: `[auth.oidc]`.
    #[serde(default, skip_serializing_if = "AuthConfig::is_empty")]
    pub auth: AuthConfig,
    /// Content scanning of uploads: `[scan]`.
    #[serde(default, skip_serializing_if = "ScanConfig::is_default")]
    pub scan: ScanConfig,
    /// Linux targets binary R packages are built for: `[[r_binary]]`.
    #[serde(default, rename = "r_binary", skip_serializing_if = "Vec::is_empty")]
    pub r_binaries: Vec<RBinaryConfig>,
    /// What every R build may use: `[r_builds]`.
    #[serde(default, skip_serializing_if = "RBuildsConfig::is_default")]
    pub r_builds: RBuildsConfig,
}

/// Who may have a manifest checked against a lane by the server.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckAccess {
    /// Whoever may read the lane: anyone for a public lane, a token that applies in it for a
    /// private one.
    #[default]
    Readers,
    /// Only a valid token that applies in the lane, also for public lanes.
    Tokens,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Hosted,
    Proxy,
    /// The content of signed bundles (`airlock bundle import`): what another airlock's lane
    /// served, carried across an air gap. Like a hosted source without uploads.
    Bundle,
}

pub use airlock_types::Ecosystem;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub ecosystem: Ecosystem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Upstream credentials (HTTP Basic), for proxies. `password_env` names an environment variable
    /// holding the password, so that it need not sit in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// How long a fetched project page is fresh before the upstream is asked again.
    #[serde(default = "default_ttl")]
    pub ttl: Span,
    /// Longest wait for an upstream answer (pages) or between two chunks of a file.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
    /// Retries after a failed upstream request, waiting `backoff`, then twice as long each time.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    /// Bundle sources: the public keys (`ed25519:BASE64`, as `airlock bundle keygen` prints
    /// them) whose signed bundles may be imported into the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<String>,
}

/// Shortest `blob_sweep_grace` accepted: shorter ones would race uploads still being received.
const MIN_BLOB_SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

fn default_blob_sweep_grace() -> Span {
    Span(std::time::Duration::from_secs(3600))
}
fn default_s3_region() -> String {
    "us-east-1".into()
}

/// Where blobs are kept, as `blob_store` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// Files under this directory.
    Local(String),
    /// Objects of an S3-compatible bucket, under `prefix` (no leading or trailing '/').
    S3 { bucket: String, prefix: String },
}

fn default_ttl() -> Span {
    Span(std::time::Duration::from_secs(600))
}
fn default_timeout() -> Span {
    Span(std::time::Duration::from_secs(30))
}
fn default_connect_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}
fn default_retries() -> u32 {
    2
}
fn default_backoff() -> Span {
    Span(std::time::Duration::from_millis(250))
}

/// A lane: its sources in priority order (for one name the first source that has it wins) and
/// its policy (see `airlock-policy`). In TOML, one `[[lane]]` table holds both.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneConfig {
    pub name: String,
    pub sources: Vec<String>,
    pub policy: LanePolicy,
    /// Reading the lane (its indexes and files) needs a token that applies in it.
    pub private: bool,
    /// Python versions the lane's users run (`["3.11", "3.12"]`), for environment markers of
    /// dependencies; empty: 3.9 to 3.13.
    pub python: Vec<String>,
    /// Platforms the lane's users run (`linux`, `windows`, `macos`); empty: all three.
    pub platforms: Vec<String>,
}

impl LaneConfig {
    /// The Python versions markers are evaluated for.
    pub fn python_versions(&self) -> Vec<String> {
        if self.python.is_empty() {
            ["3.9", "3.10", "3.11", "3.12", "3.13"]
                .map(String::from)
                .to_vec()
        } else {
            self.python.clone()
        }
    }
}

impl<'de> Deserialize<'de> for LaneConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let sources: Vec<String> = match table.remove("sources") {
            Some(v) => v.try_into().map_err(D::Error::custom)?,
            None => return Err(D::Error::missing_field("sources")),
        };
        let strings = |table: &mut toml::Table, key: &str| -> Result<Vec<String>, D::Error> {
            match table.remove(key) {
                Some(v) => v
                    .try_into()
                    .map_err(|_| D::Error::custom(format!("`{key}` is a list of strings"))),
                None => Ok(Vec::new()),
            }
        };
        let python = strings(&mut table, "python")?;
        let platforms = strings(&mut table, "platforms")?;
        if let Some(bad) = platforms
            .iter()
            .find(|p| !matches!(p.as_str(), "linux" | "windows" | "macos"))
        {
            return Err(D::Error::custom(format!(
                "platform {bad:?}: use linux, windows or macos"
            )));
        }
        let private = match table.remove("private") {
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => return Err(D::Error::custom("`private` is true or false")),
            None => false,
        };
        let name = table
            .get("name")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| D::Error::missing_field("name"))?
            .to_string();
        if name.is_empty() || name.contains(['@', '/']) {
            return Err(D::Error::custom(format!(
                "lane name {name:?}: not empty, and without '@' or '/'"
            )));
        }
        let policy: LanePolicy = toml::Value::Table(table)
            .try_into()
            .map_err(|e| D::Error::custom(format!("lane {name:?}: {e}")))?;
        Ok(LaneConfig {
            name,
            sources,
            policy,
            private,
            python,
            platforms,
        })
    }
}

impl Serialize for LaneConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut table = toml::Table::try_from(&self.policy).map_err(S::Error::custom)?;
        table.insert("name".into(), toml::Value::String(self.name.clone()));
        if self.private {
            table.insert("private".into(), toml::Value::Boolean(true));
        }
        for (key, list) in [("python", &self.python), ("platforms", &self.platforms)] {
            if !list.is_empty() {
                let values = list.iter().cloned().map(toml::Value::String).collect();
                table.insert(key.into(), toml::Value::Array(values));
            }
        }
        table.insert(
            "sources".into(),
            toml::Value::Array(
                self.sources
                    .iter()
                    .cloned()
                    .map(toml::Value::String)
                    .collect(),
            ),
        );
        table.serialize(s)
    }
}

impl Config {
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn lane(&self, name: &str) -> Option<&LaneConfig> {
        self.lanes.iter().find(|l| l.name == name)
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}/airlock.db",
                self.data_dir.trim_end_matches('/')
            )
        } else {
            self.database_url.clone()
        }
    }

    /// Where blobs are kept: `blob_store` parsed (checked when the configuration is loaded).
    pub fn blob_location(&self) -> Result<BlobLocation, ConfigError> {
        let spec = self.blob_store.trim();
        if spec.is_empty() {
            return Ok(BlobLocation::Local(format!(
                "{}/blobs",
                self.data_dir.trim_end_matches('/')
            )));
        }
        let Some(rest) = spec.strip_prefix("s3://") else {
            return Err(ConfigError::Invalid(format!(
                "blob_store {spec:?}: leave it empty for files in the data directory, or give s3://BUCKET/PREFIX"
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(ConfigError::Invalid(format!(
                "blob_store {spec:?}: {bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '-' and '.')"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
        {
            return Err(ConfigError::Invalid(format!(
                "blob_store {spec:?}: the prefix has an empty, '.' or '..' part"
            )));
        }
        let endpoint = &self.s3_endpoint;
        if !(endpoint.is_empty()
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "s3_endpoint {:?}: an http:// or https:// URL",
                self.s3_endpoint
            )));
        }
        Ok(BlobLocation::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Whether `ip` is one of `trusted_proxies`.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .filter_map(|net| parse_network(net))
            .any(|(net, prefix)| in_network(ip, net, prefix))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        self.blob_location()?;
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|n| parse_network(n).is_none())
        {
            return invalid(format!(
                "trusted_proxies entry {bad:?} is not an address or a network (\"10.0.0.0/8\")"
            ));
        }
        if let Some(problem) = self.webhooks.iter().find_map(WebhookConfig::problem) {
            return invalid(problem);
        }
        if let Some(problem) = rbinary::problem(&self.r_binaries, &self.r_builds) {
            return invalid(problem);
        }
        if self.blob_sweep_grace.0 < MIN_BLOB_SWEEP_GRACE {
            return invalid(format!(
                "blob_sweep_grace {} is too short: an upload in flight would lose its bytes (at least 1m)",
                self.blob_sweep_grace
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.sources {
            if !is_identifier(&s.name) {
                return invalid(format!(
                    "source name {:?} must be lowercase letters, digits and '-'",
                    s.name
                ));
            }
            if !seen.insert(&s.name) {
                return invalid(format!("source {:?} is declared twice", s.name));
            }
            match (s.kind, &s.url) {
                (SourceKind::Proxy, None) => {
                    return invalid(format!("proxy source {:?} needs a url", s.name));
                }
                (SourceKind::Hosted | SourceKind::Bundle, Some(_)) => {
                    let kind = if s.kind == SourceKind::Hosted {
                        "hosted"
                    } else {
                        "bundle"
                    };
                    return invalid(format!("{kind} source {:?} takes no url", s.name));
                }
                _ => {}
            }
            match (s.kind, s.trusted_keys.is_empty()) {
                (SourceKind::Bundle, true) => {
                    return invalid(format!(
                        "bundle source {:?} needs trusted_keys = [\"ed25519:...\"] (the exporting side's `airlock bundle keygen` prints its key)",
                        s.name
                    ));
                }
                (SourceKind::Hosted | SourceKind::Proxy, false) => {
                    return invalid(format!(
                        "source {:?} takes no trusted_keys (only bundle sources do)",
                        s.name
                    ));
                }
                _ => {}
            }
            for key in &s.trusted_keys {
                if let Err(e) = key.parse::<airlock_bundle::PublicKey>() {
                    return invalid(format!("source {:?}: {e}", s.name));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for l in &self.lanes {
            if !is_identifier(&l.name) || RESERVED_LANE_NAMES.contains(&l.name.as_str()) {
                return invalid(format!(
                    "lane name {:?} must be lowercase letters, digits and '-', and not one of {}",
                    l.name,
                    RESERVED_LANE_NAMES.join(", ")
                ));
            }
            if !seen.insert(&l.name) {
                return invalid(format!("lane {:?} is declared twice", l.name));
            }
            for s in &l.sources {
                if self.source(s).is_none() {
                    return invalid(format!("lane {:?} names unknown source {s:?}", l.name));
                }
            }
            l.policy
                .validate()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if let Some(oidc) = &self.auth.oidc
            && let Some(problem) = oidc.problem(|l| self.lane(l).is_some())
        {
            return invalid(problem);
        }
        if self.max_upload_size.0 == 0 {
            return invalid("max_upload_size must be above zero".into());
        }
        for (key, value) in [
            ("max_manifest_size", self.max_manifest_size.0),
            ("max_manifest_entries", self.max_manifest_entries),
            ("manifest_time_limit_ms", self.manifest_time_limit_ms),
        ] {
            if value == 0 {
                return invalid(format!("{key} must be above zero"));
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

fn default_advisory_urls() -> Vec<String> {
    ["PyPI", "CRAN"]
        .iter()
        .map(|e| format!("https://osv-vulnerabilities.storage.googleapis.com/{e}/all.zip"))
        .collect()
}

impl Config {
    /// The global rules, as the policy takes them.
    pub fn global_rules(&self) -> GlobalRules {
        GlobalRules {
            block: self.block.clone(),
        }
    }
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(String),
    Env(String),
    Flag(String),
    /// A version stored by `airlock apply` (sources, lanes and blocks), which replaces the file's.
    Applied(i64),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file {p}"),
            Origin::Env(v) => write!(f, "environment {v}"),
            Origin::Flag(v) => write!(f, "flag {v}"),
            Origin::Applied(n) => write!(f, "applied version {n} (airlock apply)"),
        }
    }
}

/// `addr` or `addr/prefix` as an address and a prefix length (the whole address without one).
fn parse_network(text: &str) -> Option<(std::net::IpAddr, u32)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.trim().parse().ok()?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.trim().parse::<u32>().ok().filter(|p| *p <= bits)?,
        None => bits,
    };
    Some((addr, prefix))
}

/// Whether `ip` is in `net/prefix`; an IPv4-mapped IPv6 address counts as its IPv4 address.
fn in_network(ip: std::net::IpAddr, net: std::net::IpAddr, prefix: u32) -> bool {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let masked = |bits: u128, width: u32| {
        if prefix == 0 {
            0
        } else {
            bits >> (width - prefix)
        }
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            masked(u32::from(a).into(), 32) == masked(u32::from(n).into(), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => masked(u128::from(a), 128) == masked(u128::from(n), 128),
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot parse {origin}")]
    Parse {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub data_dir: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

/// The effective configuration and the origin of each top-level key.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub origins: BTreeMap<String, Origin>,
}

/// Environment variables read, and the key each sets.
const ENV_KEYS: &[(&str, &str)] = &[
    ("AIRLOCK_DATA_DIR", "data_dir"),
    ("AIRLOCK_LISTEN", "listen"),
    ("AIRLOCK_DATABASE_URL", "database_url"),
    ("AIRLOCK_MAX_UPLOAD_SIZE", "max_upload_size"),
    ("AIRLOCK_MAX_UNCOMPRESSED_SIZE", "max_uncompressed_size"),
    ("AIRLOCK_REVISION_POLL_MS", "revision_poll_ms"),
    ("AIRLOCK_BLOB_CACHE_SIZE", "blob_cache_size"),
    ("AIRLOCK_CHECK_ACCESS", "check_access"),
    ("AIRLOCK_MAX_MANIFEST_SIZE", "max_manifest_size"),
    ("AIRLOCK_MAX_MANIFEST_ENTRIES", "max_manifest_entries"),
    ("AIRLOCK_MAX_MANIFEST_INCLUDES", "max_manifest_includes"),
    ("AIRLOCK_MANIFEST_TIME_LIMIT_MS", "manifest_time_limit_ms"),
    ("AIRLOCK_BLOB_SWEEP_GRACE", "blob_sweep_grace"),
    ("AIRLOCK_BLOB_STORE", "blob_store"),
    ("AIRLOCK_S3_ENDPOINT", "s3_endpoint"),
    ("AIRLOCK_S3_REGION", "s3_region"),
    ("AIRLOCK_S3_PATH_STYLE", "s3_path_style"),
];

const DEFAULTS: &str = r#"
data_dir = "airlock-data"
listen = "127.0.0.1:8080"
database_url = ""
max_upload_size = "1GiB"
max_uncompressed_size = "4GiB"
blob_cache_size = "256MiB"
revision_poll_ms = 1000
check_access = "readers"
max_manifest_size = "16MiB"
max_manifest_entries = 20000
max_manifest_includes = 100
manifest_time_limit_ms = 10000
blob_sweep_grace = "1h"
blob_store = ""
s3_endpoint = ""
s3_region = "us-east-1"
s3_path_style = false

[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi", "internal-cran"]

[[lane]]
name = "prod"
mode = "allowlist"
sources = ["internal-pypi", "internal-cran"]
"#;

/// TOML text as a table; `origin` names the text in the error.
fn parse(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    toml::from_str(text).map_err(|source| ConfigError::Parse {
        origin: origin.to_string(),
        source,
    })
}

/// Builds the effective configuration from its layers.
///
/// `file` is `(path, contents)` of the config file if one is used; `env` is the process environment.
pub fn load(
    file: Option<(&str, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &Flags,
) -> Result<Loaded, ConfigError> {
    load_layers(file, env.into_iter().collect(), flags)
}

/// [`load`], compiled once here rather than in each caller.
fn load_layers(
    file: Option<(&str, &str)>,
    env: BTreeMap<String, String>,
    flags: &Flags,
) -> Result<Loaded, ConfigError> {
    let mut table = parse(DEFAULTS, "built-in defaults")?;
    let mut origins: BTreeMap<String, Origin> =
        table.keys().map(|k| (k.clone(), Origin::Default)).collect();

    if let Some((path, text)) = file {
        for (k, v) in parse(text, &format!("config file {path}"))? {
            origins.insert(k.clone(), Origin::File(path.to_string()));
            table.insert(k, v);
        }
    }
    for (var, key) in ENV_KEYS {
        if let Some(value) = env.get(*var) {
            table.insert(key.to_string(), scalar(key, value));
            origins.insert(key.to_string(), Origin::Env(var.to_string()));
        }
    }
    let flag_values = [
        ("data_dir", "--data-dir", &flags.data_dir),
        ("listen", "--listen", &flags.listen),
        ("database_url", "--database-url", &flags.database_url),
    ];
    for (key, flag, value) in flag_values {
        if let Some(value) = value {
            table.insert(key.to_string(), toml::Value::String(value.clone()));
            origins.insert(key.to_string(), Origin::Flag(flag.to_string()));
        }
    }
    let config: Config =
        toml::Value::Table(table)
            .try_into()
            .map_err(|source| ConfigError::Parse {
                origin: "the merged configuration".into(),
                source,
            })?;
    config.validate()?;
    Ok(Loaded { config, origins })
}

/// Environment values are strings; numeric keys take integers.
fn scalar(key: &str, value: &str) -> toml::Value {
    match (key, value.parse::<i64>()) {
        (
            "revision_poll_ms"
            | "max_manifest_entries"
            | "max_manifest_includes"
            | "manifest_time_limit_ms",
            Ok(n),
        ) => toml::Value::Integer(n),
        ("s3_path_style", _) if value == "true" || value == "false" => {
            toml::Value::Boolean(value == "true")
        }
        _ => toml::Value::String(value.to_string()),
    }
}

impl Loaded {
    /// The effective configuration as TOML, each top-level key preceded by a comment naming its origin.
    pub fn render(&self) -> Result<String, toml::ser::Error> {
        let value = toml::Table::try_from(&self.config)?;
        let mut out = String::new();
        let origin = |k: &str| {
            self.origins
                .get(k)
                .map(ToString::to_string)
                .unwrap_or_else(|| "default".into())
        };
        // Scalars first, then the arrays of tables, as TOML requires.
        let (scalars, tables): (Vec<_>, Vec<_>) = value.iter().partition(|(_, v)| {
            !matches!(v, toml::Value::Table(_))
                && !matches!(v, toml::Value::Array(a) if a.iter().all(toml::Value::is_table))
        });
        for (k, v) in scalars {
            let mut one = toml::Table::new();
            one.insert(k.clone(), v.clone());
            out.push_str(&format!("# {}\n{}", origin(k), toml::to_string(&one)?));
        }
        for (k, v) in tables {
            let mut one = toml::Table::new();
            one.insert(k.clone(), v.clone());
            out.push_str(&format!("\n# {}\n{}", origin(k), toml::to_string(&one)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_oidc_section_loads_and_renders_back_as_the_same_configuration() {
        let file = r#"
[auth.oidc]
issuer = "https://idp.example/realms/x"
client_id = "airlock"
client_secret_env = "AIRLOCK_OIDC_SECRET"

[[auth.oidc.role]]
group = "it"
role = "approver"
lanes = ["prod"]
"#;
        let loaded = load(Some(("airlock.toml", file)), env(&[]), &Flags::default()).unwrap();
        let oidc = loaded.config.auth.oidc.clone().unwrap();
        assert_eq!(oidc.groups_claim, "groups");
        assert_eq!(oidc.roles[0].role, airlock_types::Role::Approver);
        let shown = loaded.render().unwrap();
        let again = load(Some(("shown", &shown)), env(&[]), &Flags::default()).unwrap();
        assert_eq!(again.config, loaded.config, "{shown}");
        let unknown_lane = file.replace("[\"prod\"]", "[\"staging\"]");
        let refused = load(
            Some(("airlock.toml", &unknown_lane)),
            env(&[]),
            &Flags::default(),
        );
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("unknown lane \"staging\"")
        );
    }

    #[test]
    fn webhooks_load_with_defaults_render_back_and_bad_ones_are_refused() {
        let file = "[[webhook]]\nurl = \"https://hooks.example/airlock\"\nevents = [\"request.created\", \"advisory.blocked\"]\nsecret_env = \"HOOK_SECRET\"\n";
        let loaded = load(Some(("a.toml", file)), env(&[]), &Flags::default()).unwrap();
        let hook = &loaded.config.webhooks[0];
        assert_eq!(
            hook.events,
            [WebhookEvent::RequestCreated, WebhookEvent::AdvisoryBlocked]
        );
        assert_eq!((hook.attempts, hook.backoff.to_string()), (5, "2s".into()));
        let shown = loaded.render().unwrap();
        let again = load(Some(("shown", &shown)), env(&[]), &Flags::default()).unwrap();
        assert_eq!(again.config, loaded.config, "{shown}");
        for (bad, needle) in [
            (
                file.replace("https://hooks.example", "ftp://x"),
                "http(s) URL",
            ),
            (
                file.replace("\"request.created\", \"advisory.blocked\"", ""),
                "needs events",
            ),
            (
                file.replace("request.created", "request.eaten"),
                "request.eaten",
            ),
            (file.replace("HOOK_SECRET", ""), "secret_env"),
            (format!("{file}attempts = 0\n"), "attempts"),
        ] {
            let err = load(Some(("a.toml", &bad)), env(&[]), &Flags::default()).unwrap_err();
            let mut msg = err.to_string();
            if let Some(source) = std::error::Error::source(&err) {
                msg.push_str(&source.to_string());
            }
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_and_nothing_else() {
        let file = "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\n";
        let loaded = load(Some(("a.toml", file)), env(&[]), &Flags::default()).unwrap();
        let c = &loaded.config;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(c.is_trusted_proxy(ip("127.0.0.1")));
        assert!(!c.is_trusted_proxy(ip("127.0.0.2")));
        assert!(c.is_trusted_proxy(ip("10.200.3.4")));
        assert!(c.is_trusted_proxy(ip("::ffff:10.1.1.1")));
        assert!(!c.is_trusted_proxy(ip("11.0.0.1")));
        assert!(c.is_trusted_proxy(ip("fd12::1")));
        assert!(!c.is_trusted_proxy(ip("fe80::1")));
        let none = load(None, env(&[]), &Flags::default()).unwrap();
        assert!(
            !none.config.is_trusted_proxy(ip("127.0.0.1")),
            "none by default"
        );
        let all = load(
            Some(("a.toml", "trusted_proxies = [\"0.0.0.0/0\"]\n")),
            env(&[]),
            &Flags::default(),
        )
        .unwrap();
        assert!(all.config.is_trusted_proxy(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.0/x"] {
            let err = load(
                Some(("a.toml", &format!("trusted_proxies = [{bad:?}]\n"))),
                env(&[]),
                &Flags::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("trusted_proxies"), "{err}");
        }
    }

    #[test]
    fn defaults_give_hosted_sources_and_two_lanes() {
        let loaded = load(None, env(&[]), &Flags::default()).unwrap();
        let c = &loaded.config;
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.lane("dev").unwrap().policy.mode, LaneMode::Open);
        assert_eq!(c.lane("prod").unwrap().policy.mode, LaneMode::Allowlist);
        assert_eq!(c.lane("prod").unwrap().policy.name, "prod");
        assert_eq!(
            c.effective_database_url(),
            "sqlite://airlock-data/airlock.db"
        );
        assert_eq!(loaded.origins["listen"], Origin::Default);
    }

    #[test]
    fn blob_sweep_grace_defaults_to_an_hour_and_refuses_racing_uploads() {
        let loaded = load(None, env(&[]), &Flags::default()).unwrap();
        assert_eq!(loaded.config.blob_sweep_grace.to_string(), "1h");
        let loaded = load(
            None,
            env(&[("AIRLOCK_BLOB_SWEEP_GRACE", "2d")]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(loaded.config.blob_sweep_grace.to_string(), "2d");
        let err = load(
            Some(("a.toml", "blob_sweep_grace = \"5s\"\n")),
            env(&[]),
            &Flags::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("blob_sweep_grace"), "{err}");
    }

    #[test]
    fn blob_store_is_the_data_directory_or_an_s3_bucket_and_nothing_else() {
        let loaded = load(None, env(&[]), &Flags::default()).unwrap();
        assert_eq!(
            loaded.config.blob_location().unwrap(),
            BlobLocation::Local("airlock-data/blobs".into())
        );
        let loaded = load(
            Some(("a.toml", "blob_store = \"s3://airlock-blobs/prod/\"\n")),
            env(&[
                ("AIRLOCK_S3_ENDPOINT", "http://127.0.0.1:3900"),
                ("AIRLOCK_S3_PATH_STYLE", "true"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(
            loaded.config.blob_location().unwrap(),
            BlobLocation::S3 {
                bucket: "airlock-blobs".into(),
                prefix: "prod".into()
            }
        );
        assert!(loaded.config.s3_path_style);
        assert_eq!(loaded.config.s3_endpoint, "http://127.0.0.1:3900");
        for (bad, says) in [
            ("/srv/blobs", "s3://BUCKET/PREFIX"),
            ("s3://UPPER/x", "not a bucket name"),
            ("s3://ab", "not a bucket name"),
            ("s3://bucket/a/../b", "'..'"),
            ("s3://bucket/a//b", "empty"),
        ] {
            let err =
                load(None, env(&[("AIRLOCK_BLOB_STORE", bad)]), &Flags::default()).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
        let err = load(
            None,
            env(&[
                ("AIRLOCK_BLOB_STORE", "s3://bucket"),
                ("AIRLOCK_S3_ENDPOINT", "127.0.0.1:3900"),
            ]),
            &Flags::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("s3_endpoint"), "{err}");
    }

    #[test]
    fn layers_override_in_order_and_record_origin() {
        let file = "listen = \"0.0.0.0:1\"\ndata_dir = \"/f\"\nmax_upload_size = \"2MiB\"\n";
        let loaded = load(
            Some(("a.toml", file)),
            env(&[("AIRLOCK_LISTEN", "0.0.0.0:2"), ("AIRLOCK_DATA_DIR", "/e")]),
            &Flags {
                data_dir: Some("/flag".into()),
                ..Flags::default()
            },
        )
        .unwrap();
        assert_eq!(loaded.config.listen, "0.0.0.0:2");
        assert_eq!(loaded.config.data_dir, "/flag");
        assert_eq!(loaded.config.max_upload_size.0, 2 * 1024 * 1024);
        assert_eq!(
            loaded.origins["listen"],
            Origin::Env("AIRLOCK_LISTEN".into())
        );
        assert_eq!(
            loaded.origins["data_dir"],
            Origin::Flag("--data-dir".into())
        );
        assert_eq!(
            loaded.origins["max_upload_size"],
            Origin::File("a.toml".into())
        );
        let shown = loaded.render().unwrap();
        assert!(shown.contains("# environment AIRLOCK_LISTEN\nlisten = \"0.0.0.0:2\""));
        assert!(shown.contains("[[lane]]"));
        // What `config show` prints is itself a valid config file.
        load(Some(("shown", &shown)), env(&[]), &Flags::default()).unwrap();
    }

    #[test]
    fn bundle_sources_need_trusted_keys_and_nothing_else_takes_them() {
        let key = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let ok = format!(
            "[[source]]\nname=\"from-prod\"\nkind=\"bundle\"\necosystem=\"pypi\"\ntrusted_keys=[\"{key}\"]\n[[lane]]\nname=\"dev\"\nsources=[\"from-prod\"]"
        );
        let loaded = load(Some(("a.toml", ok.as_str())), env(&[]), &Flags::default()).unwrap();
        let source = loaded.config.source("from-prod").unwrap();
        assert_eq!(source.kind, SourceKind::Bundle);
        assert_eq!(source.trusted_keys, vec![key.to_string()]);
        assert!(loaded.render().unwrap().contains(key));
        for (text, needle) in [
            (
                ok.replace(&format!("trusted_keys=[\"{key}\"]"), ""),
                "needs trusted_keys",
            ),
            (ok.replace(key, "ed25519:AAAA"), "not a public key"),
            (
                ok.replace("\"bundle\"", "\"hosted\""),
                "takes no trusted_keys",
            ),
            (
                ok.replace("kind=\"bundle\"", "kind=\"bundle\"\nurl=\"https://x\""),
                "takes no url",
            ),
        ] {
            let err =
                load(Some(("a.toml", text.as_str())), env(&[]), &Flags::default()).unwrap_err();
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn invalid_configs_are_refused_with_a_reason() {
        let check = |file: &str, needle: &str| {
            let err = load(Some(("x", file)), env(&[]), &Flags::default()).unwrap_err();
            let mut msg = format!("{err}");
            let mut cur = std::error::Error::source(&err);
            while let Some(c) = cur {
                msg.push_str(&format!(": {c}"));
                cur = c.source();
            }
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        };
        check(
            "[[source]]\nname=\"p\"\nkind=\"proxy\"\necosystem=\"pypi\"\n[[lane]]\nname=\"dev\"\nsources=[\"p\"]",
            "needs a url",
        );
        check(
            "[[source]]\nname=\"p\"\nkind=\"hosted\"\necosystem=\"pypi\"\n[[lane]]\nname=\"dev\"\nsources=[\"q\"]",
            "unknown source",
        );
        check(
            "[[source]]\nname=\"p\"\nkind=\"hosted\"\necosystem=\"pypi\"\n[[lane]]\nname=\"upload\"\nsources=[\"p\"]",
            "lane name",
        );
        check(
            "[[source]]\nname=\"p\"\nkind=\"hosted\"\necosystem=\"pypi\"\n[[lane]]\nname=\"prod\"\nsources=[\"p\"]\nallow=[\"npm:x\"]",
            "allow",
        );
        check(
            "[[source]]\nname=\"p\"\nkind=\"hosted\"\necosystem=\"pypi\"\n[[lane]]\nname=\"prod\"\nsources=[\"p\"]\nvulnerabilities={block_at=\"hgih\"}",
            "lane \"prod\"",
        );
        check("max_upload_size = \"ten\"", "cannot parse");
    }

    #[test]
    fn lane_policies_parse_and_show_again() {
        let file = r#"
block = [{ package = "pypi:evil-pkg", reason = "malware" }]
[[source]]
name = "p"
kind = "hosted"
ecosystem = "pypi"
[[lane]]
name = "prod"
mode = "allowlist"
sources = ["p"]
allow = ["pypi:urllib3", "pypi:numpy>=1.26,<3", "cran:dplyr"]
vulnerabilities = { block_at = "high", unscored = "warn" }
licenses = { deny = ["strong-copyleft"], unknown = "warn" }
min_age = "7d"
"#;
        let loaded = load(Some(("f", file)), env(&[]), &Flags::default()).unwrap();
        let prod = loaded.config.lane("prod").unwrap();
        assert_eq!(prod.sources, vec!["p".to_string()]);
        assert_eq!(prod.policy.allow.len(), 3);
        assert_eq!(loaded.config.block.len(), 1);
        let shown = loaded.render().unwrap();
        let again = load(Some(("shown", &shown)), env(&[]), &Flags::default()).unwrap();
        assert_eq!(again.config, loaded.config);
    }

    #[test]
    fn manifest_settings_default_and_come_from_the_environment() {
        let loaded = load(None, env(&[]), &Flags::default()).unwrap();
        assert_eq!(loaded.config.check_access, CheckAccess::Readers);
        assert_eq!(loaded.config.max_manifest_size.0, 16 * 1024 * 1024);
        assert_eq!(loaded.config.max_manifest_entries, 20_000);
        assert_eq!(loaded.config.max_manifest_includes, 100);
        assert_eq!(loaded.config.manifest_time_limit_ms, 10_000);
        let loaded = load(
            None,
            env(&[
                ("AIRLOCK_CHECK_ACCESS", "tokens"),
                ("AIRLOCK_MAX_MANIFEST_SIZE", "1MiB"),
                ("AIRLOCK_MAX_MANIFEST_ENTRIES", "50"),
                ("AIRLOCK_MANIFEST_TIME_LIMIT_MS", "500"),
            ]),
            &Flags::default(),
        )
        .unwrap();
        assert_eq!(loaded.config.check_access, CheckAccess::Tokens);
        assert_eq!(loaded.config.max_manifest_size.0, 1024 * 1024);
        assert_eq!(loaded.config.max_manifest_entries, 50);
        assert_eq!(loaded.config.manifest_time_limit_ms, 500);
        let shown = loaded.render().unwrap();
        assert!(
            shown.contains("# environment AIRLOCK_CHECK_ACCESS\ncheck_access = \"tokens\""),
            "{shown}"
        );
        assert!(
            shown.contains("# default\nmax_manifest_includes = 100"),
            "{shown}"
        );
        let err = load(
            Some(("f", "check_access = \"anyone\"")),
            env(&[]),
            &Flags::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let err = load(
            Some(("f", "max_manifest_entries = 0")),
            env(&[]),
            &Flags::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("max_manifest_entries must be above zero"),
            "{err}"
        );
    }
}
