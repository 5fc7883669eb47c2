//! Pure crates know nothing of async runtimes, SQL or HTTP: they hold the standards and decisions
//! that must stay testable without I/O. A crate declares itself pure in its `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.airlock]
//! pure = true
//! ```
//!
//! and then none of its normal dependencies, however indirect, may be one of [`FORBIDDEN`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use cargo_metadata::{DependencyKind, Metadata, PackageId};

/// Crates a pure crate must not reach: async runtimes, SQL drivers, HTTP stacks, object storage.
pub const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "sqlx",
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "hyper",
    "http-body",
    "axum",
    "reqwest",
    "ureq",
    "curl",
    "object_store",
];

/// A pure crate that reaches a forbidden one, with the chain of dependencies that leads there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub krate: String,
    pub forbidden: String,
    /// Package names from the pure crate to the forbidden one, both included.
    pub chain: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is declared pure but depends on {}: {}",
            self.krate,
            self.forbidden,
            self.chain.join(" -> ")
        )
    }
}

/// What a purity check looked at and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The workspace members that declare themselves pure, by name.
    pub checked: Vec<String>,
    pub violations: Vec<Violation>,
}

/// Whether a package's metadata declares it pure; a malformed declaration is an error, not a "no".
fn declared_pure(package: &cargo_metadata::Package) -> Result<bool, String> {
    let Some(airlock) = package.metadata.get("airlock") else {
        return Ok(false);
    };
    match airlock.get("pure") {
        None => Ok(false),
        Some(serde_value) => serde_value.as_bool().ok_or_else(|| {
            format!(
                "{}: [package.metadata.airlock] pure must be true or false, not {serde_value}",
                package.name
            )
        }),
    }
}

/// Checks every workspace member that declares itself pure. A workspace in which no member
/// declares itself pure is an error: the check would pass without checking anything.
pub fn check(metadata: &Metadata) -> Result<Report, String> {
    let resolve = metadata
        .resolve
        .as_ref()
        .ok_or("cargo metadata gave no dependency resolution")?;
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let names: HashMap<&PackageId, &str> = metadata
        .packages
        .iter()
        .map(|p| (&p.id, p.name.as_str()))
        .collect();
    let mut report = Report::default();
    for package in metadata.workspace_packages() {
        if !declared_pure(package)? {
            continue;
        }
        report.checked.push(package.name.to_string());
        // Breadth first over normal dependencies, remembering who reached whom for the chain.
        let mut parent: BTreeMap<&PackageId, &PackageId> = BTreeMap::new();
        let mut queue = VecDeque::from([&package.id]);
        let mut seen = std::collections::HashSet::from([&package.id]);
        while let Some(id) = queue.pop_front() {
            let node = nodes
                .get(id)
                .ok_or_else(|| format!("{id} is missing from the dependency resolution"))?;
            for dep in &node.deps {
                let normal = dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal);
                if !normal || !seen.insert(&dep.pkg) {
                    continue;
                }
                parent.insert(&dep.pkg, id);
                let name = names.get(&dep.pkg).copied().unwrap_or_default();
                if FORBIDDEN.contains(&name) {
                    let mut chain = vec![name.to_string()];
                    let mut at = &dep.pkg;
                    while let Some(up) = parent.get(at) {
                        chain.push(names.get(up).copied().unwrap_or_default().to_string());
                        at = up;
                    }
                    chain.reverse();
                    report.violations.push(Violation {
                        krate: package.name.to_string(),
                        forbidden: name.to_string(),
                        chain,
                    });
                    // What lies behind a forbidden crate is its business.
                    continue;
                }
                queue.push_back(&dep.pkg);
            }
        }
    }
    if report.checked.is_empty() {
        return Err(
            "no workspace member declares [package.metadata.airlock] pure = true: nothing was checked"
                .into(),
        );
    }
    report.checked.sort();
    Ok(report)
}
