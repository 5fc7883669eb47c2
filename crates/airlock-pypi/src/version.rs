//! PEP 440 versions, wrapping `uv-pep440` so its unstable API stays private.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The longest version string accepted in a file name or metadata. PEP 440 sets none; real
/// versions, local labels included, stay far below it.
pub const MAX_LEN: usize = 64;

/// A parsed PEP 440 version.
///
/// Equality and ordering are PEP 440's (`1.0 == 1.0.0`, `1.0.dev0 < 1.0a1 < 1.0 <
/// 1.0.post1`); [`Display`](fmt::Display) prints the canonical form (`1.0.0-Alpha.1` ->
/// `1.0.0a1`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(uv_pep440::Version);

/// A string that is not a PEP 440 version.
#[derive(Debug, thiserror::Error)]
#[error("invalid PEP 440 version {value:?}")]
pub struct VersionError {
    value: String,
    #[source]
    source: uv_pep440::VersionParseError,
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uv_pep440::Version::from_str(s)
            .map(Self)
            .map_err(|source| VersionError {
                value: s.to_owned(),
                source,
            })
    }
}

impl Version {
    /// A pre-release or development release (`1.0a1`, `1.0.dev0`), which installers skip unless
    /// asked or nothing else satisfies.
    pub fn is_prerelease(&self) -> bool {
        self.0.any_prerelease()
    }

    /// The release segment (`1.26.20` of `1!1.26.20rc1`): major, minor, micro, ...
    pub fn release(&self) -> Vec<u64> {
        self.0.release().to_vec()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parse `v` and return its canonical string form (as `packaging` and uv print it).
pub fn normalize(v: &str) -> Result<String, VersionError> {
    Ok(v.parse::<Version>()?.to_string())
}

/// Compare two version strings under PEP 440.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(a.parse::<Version>()?.cmp(&b.parse::<Version>()?))
}

/// A PEP 440 specifier set (`>=1.0,<2`, `~=1.4`, `==1.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Specifiers(uv_pep440::VersionSpecifiers);

/// A string that is not a PEP 440 specifier set.
#[derive(Debug, thiserror::Error)]
#[error("invalid PEP 440 specifier {value:?}")]
pub struct SpecifiersError {
    value: String,
    #[source]
    source: uv_pep440::VersionSpecifiersParseError,
}

impl FromStr for Specifiers {
    type Err = SpecifiersError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uv_pep440::VersionSpecifiers::from_str(s)
            .map(Self)
            .map_err(|source| SpecifiersError {
                value: s.to_owned(),
                source,
            })
    }
}

impl Specifiers {
    /// Whether `version` satisfies every clause (pre-releases included: the caller decides
    /// whether to consider them).
    pub fn contains(&self, version: &Version) -> bool {
        self.0.contains(&version.0)
    }

    /// Whether a clause names a pre-release (`>=2.0b1`), which lets installers pick them.
    pub fn allows_prereleases(&self) -> bool {
        self.0.iter().any(|s| s.version().any_prerelease())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            normalize(input).ok().as_deref(),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn specifiers() {
        let s: Specifiers = ">=1.0, <2".parse().unwrap();
        assert!(s.contains(&"1.5".parse().unwrap()));
        assert!(!s.contains(&"2.0".parse().unwrap()));
        assert!(!s.allows_prereleases());
        assert!(
            "~=2.0b1"
                .parse::<Specifiers>()
                .unwrap()
                .allows_prereleases()
        );
        assert!(
            "==1.*"
                .parse::<Specifiers>()
                .unwrap()
                .contains(&"1.9.1".parse().unwrap())
        );
        assert!("=>1".parse::<Specifiers>().is_err());
    }

    #[test]
    fn normalisation() {
        check("1.0", Some("1.0"));
        check("1.0.0", Some("1.0.0"));
        check("v1.0", Some("1.0"));
        check(" 1.0 ", Some("1.0"));
        check("1.0.0-Alpha.1", Some("1.0.0a1"));
        check("1.0c1", Some("1.0rc1"));
        check("1.0-1", Some("1.0.post1"));
        check("1.0.post", Some("1.0.post0"));
        check("1.0-dev", Some("1.0.dev0"));
        check("0!1.0", Some("1.0"));
        check("2!1.0", Some("2!1.0"));
        check("1.0+Ubuntu-1", Some("1.0+ubuntu.1"));
        check("1.0+007", Some("1.0+7"));
        check("", None);
        check("abc", None);
        check("1.0.*", None);
        check("1.0+", None);
        check("1..0", None);
    }

    #[test]
    fn ordering() {
        let sorted = [
            "1.0.dev0",
            "1.0a1.dev1",
            "1.0a1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "1!0.1",
        ];
        for pair in sorted.windows(2) {
            assert_eq!(
                compare(pair[0], pair[1]).ok(),
                Some(Ordering::Less),
                "{pair:?}"
            );
        }
        assert_eq!(compare("1.0", "1.0.0").ok(), Some(Ordering::Equal));
        assert!(compare("1.0", "nope").is_err());
        assert_eq!(
            compare("1", "1.0.0").ok(),
            Some(Ordering::Equal),
            "trailing zeros are insignificant"
        );
    }

    /// A version built from parts, spelled canonically or in one of PEP 440's other spellings.
    #[derive(Debug, Clone)]
    struct Parts {
        epoch: u64,
        release: Vec<u64>,
        pre: Option<(usize, u64)>,
        post: Option<u64>,
        dev: Option<u64>,
        local: Vec<Result<u64, String>>,
    }

    /// (epoch, release without trailing zeros, pre, post, dev, local segments)
    type Key = (
        u64,
        Vec<u64>,
        (i64, u64),
        i64,
        i64,
        Option<Vec<(u8, u64, String)>>,
    );

    const PRE: [&str; 3] = ["a", "b", "rc"];
    const PRE_SPELLINGS: [&[&str]; 3] = [
        &["a", "alpha"],
        &["b", "beta"],
        &["rc", "c", "pre", "preview"],
    ];

    impl Parts {
        fn canonical(&self) -> String {
            let mut s = String::new();
            if self.epoch != 0 {
                s += &format!("{}!", self.epoch);
            }
            s += &self
                .release
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".");
            if let Some((kind, n)) = self.pre {
                s += &format!("{}{n}", PRE[kind]);
            }
            if let Some(n) = self.post {
                s += &format!(".post{n}");
            }
            if let Some(n) = self.dev {
                s += &format!(".dev{n}");
            }
            if !self.local.is_empty() {
                let segments: Vec<String> = self
                    .local
                    .iter()
                    .map(|seg| match seg {
                        Ok(n) => n.to_string(),
                        Err(s) => s.clone(),
                    })
                    .collect();
                s += &format!("+{}", segments.join("."));
            }
            s
        }

        /// Another spelling chosen by `style` bits.
        fn spelled(&self, style: u32) -> String {
            let bit = |i: u32| style & (1 << i) != 0;
            let sep = |i: u32| ["", ".", "-", "_"][((style >> i) & 3) as usize];
            let mut s = if bit(0) {
                "v".to_owned()
            } else {
                String::new()
            };
            if self.epoch != 0 || bit(1) {
                s += &format!("{}!", self.epoch);
            }
            s += &self
                .release
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".");
            // `1.0a-1` reads as `1.0a1`, so the implicit post form needs a written pre number.
            let mut implicit_post_ok = true;
            if let Some((kind, n)) = self.pre {
                let spellings = PRE_SPELLINGS[kind];
                let word = spellings[(style as usize >> 4) % spellings.len()];
                s += sep(6);
                s += word;
                implicit_post_ok = n != 0 || bit(8);
                if implicit_post_ok {
                    s += &format!("{}{n}", sep(9));
                }
            }
            if let Some(n) = self.post {
                if bit(11) && implicit_post_ok {
                    s += &format!("-{n}");
                } else {
                    s += sep(12);
                    s += ["post", "rev", "r", "POST"][(style as usize >> 14) % 4];
                    if n != 0 || bit(16) {
                        s += &format!("{}{n}", sep(17));
                    }
                }
            }
            if let Some(n) = self.dev {
                s += sep(19);
                s += "dev";
                if n != 0 || bit(21) {
                    s += &n.to_string();
                }
            }
            for (i, seg) in self.local.iter().enumerate() {
                s += if i == 0 {
                    "+"
                } else {
                    [".", "-", "_"][(style as usize >> 22) % 3]
                };
                match seg {
                    Ok(n) if bit(24) => s += &format!("0{n}"),
                    Ok(n) => s += &n.to_string(),
                    Err(text) if bit(25) => s += &text.to_uppercase(),
                    Err(text) => s += text,
                }
            }
            s
        }

        /// packaging's `_cmpkey`, written independently of uv.
        fn key(&self) -> Key {
            let mut release = self.release.clone();
            while release.last() == Some(&0) {
                release.pop();
            }
            let pre = match (self.pre, self.post, self.dev) {
                (None, None, Some(_)) => (-1, 0),
                (Some((kind, n)), _, _) => (kind as i64, n),
                _ => (3, 0),
            };
            let post = self.post.map_or(-1, |n| n as i64);
            let dev = self.dev.map_or(i64::MAX, |n| n as i64);
            let local = (!self.local.is_empty()).then(|| {
                self.local
                    .iter()
                    .map(|seg| match seg {
                        Ok(n) => (1, *n, String::new()),
                        Err(s) => (0, 0, s.clone()),
                    })
                    .collect()
            });
            (self.epoch, release, pre, post, dev, local)
        }
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            prop_oneof![3 => Just(0u64), 1 => 1u64..3],
            prop::collection::vec(0u64..12, 1..4),
            prop::option::of((0usize..3, 0u64..3)),
            prop::option::of(0u64..3),
            prop::option::of(0u64..3),
            prop::collection::vec(
                prop_oneof![(0u64..20).prop_map(Ok), "[a-z][a-z0-9]{0,3}".prop_map(Err)],
                0..3,
            ),
        )
            .prop_map(|(epoch, release, pre, post, dev, local)| Parts {
                epoch,
                release,
                pre,
                post,
                dev,
                local,
            })
    }

    proptest! {
        #[test]
        fn every_spelling_normalises_to_the_canonical_form(parts in parts(), style in any::<u32>()) {
            let spelled = parts.spelled(style);
            let canonical = parts.canonical();
            prop_assert_eq!(normalize(&spelled).ok(), Some(canonical.clone()), "spelled {}", spelled);
            prop_assert_eq!(normalize(&canonical).ok(), Some(canonical));
        }

        #[test]
        fn ordering_matches_packaging(a in parts(), b in parts(), sa in any::<u32>(), sb in any::<u32>()) {
            let got = compare(&a.spelled(sa), &b.spelled(sb)).ok();
            prop_assert_eq!(got, Some(a.key().cmp(&b.key())), "{} vs {}", a.spelled(sa), b.spelled(sb));
        }
    }
}
