//! Each ecosystem's rules as the policy needs them: how names compare (PEP 503 for Python, as
//! written for R) and how versions order (PEP 440, R's `package_version`), from the standards
//! crates.

use std::borrow::Cow;
use std::cmp::Ordering;

use airlock_osv::VersionOrder;
use airlock_types::Ecosystem;

/// What the policy knows of each ecosystem beyond its word: name normalisation and version
/// order, which need the standards crates.
pub trait EcosystemExt {
    /// The name under which two spellings are one package: PEP 503 for Python, the name
    /// as written for R (R names are case-sensitive). Borrows when already normalised.
    fn normalize_name(self, name: &str) -> Cow<'_, str>;

    /// The ecosystem's version ordering, for `airlock-osv`.
    fn version_order(self) -> &'static dyn airlock_osv::VersionOrder;
}

impl EcosystemExt for Ecosystem {
    fn normalize_name(self, name: &str) -> Cow<'_, str> {
        match self {
            Ecosystem::Pypi if !is_pep503_normal(name) => {
                Cow::Owned(airlock_pypi::name::normalize(name))
            }
            _ => Cow::Borrowed(name),
        }
    }

    fn version_order(self) -> &'static dyn airlock_osv::VersionOrder {
        match self {
            Ecosystem::Pypi => &Pep440Order,
            Ecosystem::Cran => &RVersionOrder,
        }
    }
}

/// Whether `name` is its own PEP 503 normal form (the cheap check that saves an
/// allocation on the hot path: callers pass normalised names).
fn is_pep503_normal(name: &str) -> bool {
    let mut previous_dash = false;
    for b in name.bytes() {
        match b {
            b'-' if previous_dash => return false,
            b'-' => previous_dash = true,
            b'_' | b'.' | b'A'..=b'Z' => return false,
            b if b.is_ascii() => previous_dash = false,
            // Non-ASCII: let the normaliser lowercase it.
            _ => return false,
        }
    }
    true
}

/// PEP 440 ordering and PEP 503 names (`airlock-pypi`), for `airlock-osv`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pep440Order;

impl VersionOrder for Pep440Order {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        airlock_pypi::version::compare(a, b).map_err(|e| e.to_string())
    }

    fn normalize_name(&self, name: &str) -> String {
        airlock_pypi::name::normalize(name)
    }
}

/// R's `package_version` ordering (`airlock-cran`); names as written (case-sensitive).
#[derive(Debug, Clone, Copy, Default)]
pub struct RVersionOrder;

impl VersionOrder for RVersionOrder {
    fn compare(&self, a: &str, b: &str) -> Result<Ordering, String> {
        let a = airlock_cran::RVersion::parse(a).map_err(|e| e.to_string())?;
        let b = airlock_cran::RVersion::parse(b).map_err(|e| e.to_string())?;
        Ok(a.cmp(&b))
    }

    fn normalize_name(&self, name: &str) -> String {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, normal: bool) {
        assert_eq!(is_pep503_normal(name), normal, "{name}");
        assert_eq!(
            airlock_pypi::name::normalize(name) == name,
            normal,
            "disagrees with airlock_pypi for {name}"
        );
    }

    #[test]
    fn normal_names() {
        check("urllib3", true);
        check("zope-interface", true);
        check("Zope.Interface", false);
        check("zope--interface", false);
        check("zope_interface", false);
        check("Ünicode", false);
        assert_eq!(Ecosystem::Pypi.normalize_name("Foo_Bar"), "foo-bar");
        assert_eq!(Ecosystem::Cran.normalize_name("RCurl"), "RCurl");
    }

    #[test]
    fn orders() {
        assert_eq!(Pep440Order.compare("1.0", "1.0.0"), Ok(Ordering::Equal));
        assert_eq!(Pep440Order.compare("1.0a1", "1.0"), Ok(Ordering::Less));
        assert!(Pep440Order.compare("x", "1").is_err());
        assert_eq!(Pep440Order.normalize_name("Foo_Bar"), "foo-bar");
        assert_eq!(RVersionOrder.compare("1.2-3", "1.2.3"), Ok(Ordering::Equal));
        assert_eq!(RVersionOrder.compare("1.10", "1.9"), Ok(Ordering::Greater));
        assert!(RVersionOrder.compare("1.0a", "1").is_err());
        assert_eq!(RVersionOrder.normalize_name("RCurl"), "RCurl");
    }
}
