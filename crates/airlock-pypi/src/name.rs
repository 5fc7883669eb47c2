//! Project names (packaging.python.org "Names and normalization", PEP 503).

/// PEP 503 normalisation: runs of `-`, `_` and `.` become one `-`, then lowercase.
///
/// Total on any input (like `re.sub(r"[-_.]+", "-", name).lower()`); validate with
/// [`is_valid`] first where the name must be a real project name.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.push(c);
            in_separator_run = false;
        }
    }
    out.to_lowercase()
}

/// Whether `name` is already in [`normalize`]'s form (no allocation, unlike comparing with it).
pub fn is_normalized(name: &str) -> bool {
    let mut previous_dash = false;
    for c in name.chars() {
        let lowercase = if c.is_ascii() {
            !c.is_ascii_uppercase()
        } else {
            c.to_lowercase().eq(std::iter::once(c))
        };
        if !lowercase || matches!(c, '_' | '.') || (c == '-' && previous_dash) {
            return false;
        }
        previous_dash = c == '-';
    }
    true
}

/// The longest project name accepted (in ASCII characters). The standard sets none; this one leaves
/// room in a 255-byte file name for a version and wheel tags.
pub const MAX_LEN: usize = 128;

/// `^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive, ASCII only, and at most
/// [`MAX_LEN`] characters.
pub fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.len() > MAX_LEN {
        return false;
    }
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Option<&str>) {
        let got = is_valid(input).then(|| normalize(input));
        assert_eq!(got.as_deref(), expected, "input {input:?}");
    }

    #[test]
    fn names() {
        check("Frob", Some("frob"));
        check("friendly-bard", Some("friendly-bard"));
        check("Friendly.Bard", Some("friendly-bard"));
        check("FRIENDLY__bard", Some("friendly-bard"));
        check("friendly-._.-bard", Some("friendly-bard"));
        check("a", Some("a"));
        check("0", Some("0"));
        check("zope.interface", Some("zope-interface"));
        check("", None);
        check("-foo", None);
        check("foo_", None);
        check("foo bar", None);
        check("foo/bar", None);
        check("\u{212a}elvin", None);
        check("caf\u{e9}", None);
    }

    #[test]
    fn normalize_is_total() {
        assert_eq!(normalize("-_Foo.."), "-foo-");
        assert_eq!(normalize(""), "");
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(name in "\\PC{0,40}") {
            let once = normalize(&name);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn is_normalized_agrees_with_normalize(name in "[A-Za-z0-9._\\-]{0,12}|\\PC{0,12}") {
            prop_assert_eq!(is_normalized(&name), normalize(&name) == name);
        }

        #[test]
        fn valid_names_stay_valid(name in "[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?") {
            prop_assert!(is_valid(&name));
            let normalized = normalize(&name);
            prop_assert!(is_valid(&normalized));
            prop_assert!(!normalized.contains("--"));
            prop_assert!(!normalized.contains(['_', '.']));
            prop_assert!(!normalized.chars().any(|c| c.is_ascii_uppercase()));
        }
    }
}
