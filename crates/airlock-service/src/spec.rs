//! Package specs as people type them (`pypi:urllib3==1.26.20`, `cran:dplyr==1.1.4`) and as `why`
//! takes them (ecosystem, name, version), as manifest entries.

use airlock_manifest::{Ecosystem, Entry};

use crate::ServiceError;

/// `pypi:name==version`, `cran:name==version` (a bare `name==version` is Python) as an entry.
pub fn parse_package_spec(spec: &str) -> Result<Entry, ServiceError> {
    let (eco, rest) = spec
        .split_once(':')
        .unwrap_or((Ecosystem::Pypi.as_str(), spec));
    let (name, version) = rest.split_once("==").ok_or_else(|| {
        ServiceError::BadRequest(format!(
            "{spec:?} is not ecosystem:name==version (e.g. pypi:urllib3==1.26.20, cran:dplyr==1.1.4)"
        ))
    })?;
    pinned_entry(eco, name, version)
}

/// An entry pinning `name` at `version` in the ecosystem named `eco` (`pypi`, `cran`).
pub(crate) fn pinned_entry(eco: &str, name: &str, version: &str) -> Result<Entry, ServiceError> {
    let eco: Ecosystem = eco.parse().map_err(|_| {
        ServiceError::BadRequest(format!("unknown ecosystem {eco:?}: use pypi or cran"))
    })?;
    let (name, version) = (name.trim(), version.trim());
    if name.is_empty() || version.is_empty() {
        return Err(ServiceError::BadRequest(
            "a package needs a name and a version (name==version)".into(),
        ));
    }
    let mut entry = Entry::new(eco, name);
    entry.version = Some(version.to_string());
    Ok(entry)
}

/// A manifest of package specs (`pypi:name==version`, `cran:name==version`; a bare
/// `name==version` is Python), as a request or a check of a list of packages reads them.
pub fn packages_manifest(specs: &[String]) -> Result<airlock_manifest::Manifest, ServiceError> {
    let entries = specs
        .iter()
        .map(|s| parse_package_spec(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(airlock_manifest::Manifest {
        kind: airlock_manifest::Kind::RequirementsTxt,
        entries,
        not_covered: Vec::new(),
        indexes: Vec::new(),
        requires: None,
    })
}
