//! Package URLs (purl, ECMA-427) of our ecosystems: `pkg:pypi/<name>@<version>` and
//! `pkg:cran/<Name>@<version>`.
//!
//! - PyPI names are case-insensitive and normalised as PEP 503 does (runs of `-`, `_` and `.`
//!   become one `-`, lowercased), as the purl type definition of `pypi` asks; the `file_name`
//!   qualifier names one distribution file of the release.
//! - CRAN names are case-sensitive and kept as written; the type defines no qualifier.
//! - Every character outside `A-Z a-z 0-9 . - _ ~` (and `:`, which is never encoded) is
//!   percent-encoded as UTF-8 (a local version's `+` as `%2B`, an epoch's `!` as `%21`);
//!   qualifiers are sorted by key and those without a value left out.

use airlock_policy::EcosystemExt;
use airlock_types::Ecosystem;

/// The purl of `name` `version` with `qualifiers` (`file_name`, `vcs_url`, `download_url`, ...).
pub fn purl(
    ecosystem: Ecosystem,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, &str)],
) -> String {
    let (kind, name) = match ecosystem {
        Ecosystem::Pypi => ("pypi", ecosystem.normalize_name(name).into_owned()),
        Ecosystem::Cran => ("cran", name.to_string()),
    };
    let mut out = format!("pkg:{kind}/{}", encode(&name));
    if let Some(version) = version.filter(|v| !v.is_empty()) {
        out.push('@');
        out.push_str(&encode(version));
    }
    let mut pairs: Vec<(String, &str)> = qualifiers
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    pairs.sort();
    for (i, (key, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

/// Percent-encodes everything but the characters a purl component keeps as they are.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        ecosystem: Ecosystem,
        name: &str,
        version: Option<&str>,
        q: &[(&str, &str)],
        want: &str,
    ) {
        assert_eq!(purl(ecosystem, name, version, q), want);
    }

    #[test]
    fn pypi_names_are_normalised() {
        check(
            Ecosystem::Pypi,
            "Django",
            Some("1.11.1"),
            &[],
            "pkg:pypi/django@1.11.1",
        );
        check(
            Ecosystem::Pypi,
            "django_allauth",
            Some("12.23"),
            &[],
            "pkg:pypi/django-allauth@12.23",
        );
        check(
            Ecosystem::Pypi,
            "zope.interface",
            Some("6.0"),
            &[],
            "pkg:pypi/zope-interface@6.0",
        );
    }

    #[test]
    fn file_name_qualifier() {
        check(
            Ecosystem::Pypi,
            "urllib3",
            Some("1.26.4"),
            &[("file_name", "urllib3-1.26.4-py2.py3-none-any.whl")],
            "pkg:pypi/urllib3@1.26.4?file_name=urllib3-1.26.4-py2.py3-none-any.whl",
        );
    }

    #[test]
    fn cran_names_keep_their_case() {
        check(
            Ecosystem::Cran,
            "rJava",
            Some("1.0-4"),
            &[],
            "pkg:cran/rJava@1.0-4",
        );
        check(Ecosystem::Cran, "A3", None, &[], "pkg:cran/A3");
    }

    #[test]
    fn reserved_characters_are_encoded_and_qualifiers_sorted() {
        check(
            Ecosystem::Pypi,
            "demo",
            Some("1!2.0+local.1"),
            &[("vcs_url", "git+https://example.com/x.git@v1"), ("b", "")],
            "pkg:pypi/demo@1%212.0%2Blocal.1?vcs_url=git%2Bhttps:%2F%2Fexample.com%2Fx.git%40v1",
        );
        check(
            Ecosystem::Pypi,
            "demo",
            Some("1.0"),
            &[("file_name", "a b.whl"), ("download_url", "https://x/é")],
            "pkg:pypi/demo@1.0?download_url=https:%2F%2Fx%2F%C3%A9&file_name=a%20b.whl",
        );
    }
}
