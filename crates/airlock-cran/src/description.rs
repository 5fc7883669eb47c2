//! The `DESCRIPTION` file of an R package ("Writing R Extensions" §1.1.1), read as
//! `tools:::.read_description` does: one DCF paragraph, whitespace kept in `Description`,
//! `Authors@R`, `Author`, `Built` and `Packaged`, decoded in its declared `Encoding`.
//!
//! Checked here (an upload that fails any is refused): a single paragraph, no repeated
//! field, `Package` a valid package name, `Version` a valid `package_version`, and every
//! dependency field parsing as `R CMD check` requires. Everything else (Title, License,
//! Authors@R, ...) is optional and kept verbatim.

use crate::dcf::{self, DcfError, Paragraph};
use crate::deps::{Dep, DepsError, parse_deps};
use crate::name::{NameError, PackageName};
use crate::version::{RVersion, VersionError};

/// Fields `tools:::.read_description` reads with whitespace kept.
pub const KEEP_WHITE_FIELDS: [&str; 5] =
    ["Description", "Authors@R", "Author", "Built", "Packaged"];

/// Why a DESCRIPTION was refused.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    #[error("DESCRIPTION is not in valid DCF format")]
    Dcf(#[source] DcfError),
    #[error("DESCRIPTION is empty")]
    Empty,
    #[error("DESCRIPTION contains a blank line: it must be a single paragraph")]
    MultipleParagraphs,
    #[error("DESCRIPTION has no {0} field")]
    MissingField(&'static str),
    #[error("DESCRIPTION field {0} appears more than once")]
    RepeatedField(String),
    #[error("DESCRIPTION has an invalid Package field")]
    Package(#[source] NameError),
    #[error("DESCRIPTION has an invalid Version field")]
    Version(#[source] VersionError),
    #[error("DESCRIPTION has an invalid {field} field")]
    Deps {
        field: &'static str,
        #[source]
        source: DepsError,
    },
    #[error(
        "DESCRIPTION has an invalid Built field {0:?} (expected 'R x.y.z; platform; date; OS type')"
    )]
    Built(String),
}

/// The `Built:` field of an installed (binary) package:
/// `R 4.3.2; x86_64-pc-linux-gnu; 2024-01-15 10:00:00 UTC; unix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    pub r_version: RVersion,
    /// Empty for packages without compiled code.
    pub platform: String,
    pub date: String,
    pub os_type: String,
}

impl Built {
    pub fn parse(value: &str) -> Result<Self, DescriptionError> {
        let invalid = || DescriptionError::Built(value.to_owned());
        let parts: Vec<&str> = value.split(';').map(str::trim).collect();
        let [r, platform, date, os_type] = parts.as_slice() else {
            return Err(invalid());
        };
        let r_version = r
            .strip_prefix("R ")
            .and_then(|v| RVersion::parse(v.trim()).ok())
            .ok_or_else(invalid)?;
        Ok(Self {
            r_version,
            platform: (*platform).to_owned(),
            date: (*date).to_owned(),
            os_type: (*os_type).to_owned(),
        })
    }
}

/// A parsed, validated DESCRIPTION.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    fields: Paragraph,
    package: PackageName,
    version: RVersion,
    depends: Vec<Dep>,
    imports: Vec<Dep>,
    linking_to: Vec<Dep>,
    suggests: Vec<Dep>,
    enhances: Vec<Dep>,
}

impl Description {
    /// Parse the bytes of a DESCRIPTION file (decoded as its `Encoding` field says).
    pub fn parse(bytes: &[u8]) -> Result<Self, DescriptionError> {
        let mut paragraphs = dcf::parse_bytes_keep_white(bytes, &KEEP_WHITE_FIELDS)
            .map_err(DescriptionError::Dcf)?;
        if paragraphs.len() > 1 {
            return Err(DescriptionError::MultipleParagraphs);
        }
        let paragraph = paragraphs.pop().ok_or(DescriptionError::Empty)?;
        Self::from_paragraph(paragraph)
    }

    /// Validate an already parsed paragraph (for example one record of a PACKAGES file).
    pub fn from_paragraph(fields: Paragraph) -> Result<Self, DescriptionError> {
        if let Some(repeated) = fields.repeated_field() {
            return Err(DescriptionError::RepeatedField(repeated.to_owned()));
        }
        let package = fields
            .get("Package")
            .ok_or(DescriptionError::MissingField("Package"))?;
        let package = PackageName::new(package).map_err(DescriptionError::Package)?;
        let version = fields
            .get("Version")
            .ok_or(DescriptionError::MissingField("Version"))?;
        let version =
            RVersion::parse_package_version(version).map_err(DescriptionError::Version)?;
        let deps = |field: &'static str| -> Result<Vec<Dep>, DescriptionError> {
            fields
                .get(field)
                .map(parse_deps)
                .transpose()
                .map(Option::unwrap_or_default)
                .map_err(|source| DescriptionError::Deps { field, source })
        };
        Ok(Self {
            depends: deps("Depends")?,
            imports: deps("Imports")?,
            linking_to: deps("LinkingTo")?,
            suggests: deps("Suggests")?,
            enhances: deps("Enhances")?,
            package,
            version,
            fields,
        })
    }

    pub fn package(&self) -> &PackageName {
        &self.package
    }

    pub fn version(&self) -> &RVersion {
        &self.version
    }

    /// Any field, as read (folded, or verbatim for [`KEEP_WHITE_FIELDS`]).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field)
    }

    /// All fields in file order.
    pub fn fields(&self) -> &Paragraph {
        &self.fields
    }

    pub fn title(&self) -> Option<&str> {
        self.get("Title")
    }

    pub fn license(&self) -> Option<&str> {
        self.get("License")
    }

    pub fn encoding(&self) -> Option<&str> {
        self.get("Encoding")
    }

    pub fn priority(&self) -> Option<&str> {
        self.get("Priority")
    }

    /// `OS_type`: `unix` or `windows` when the package runs on one only.
    pub fn os_type(&self) -> Option<&str> {
        self.get("OS_type")
    }

    pub fn archs(&self) -> Option<&str> {
        self.get("Archs")
    }

    /// `NeedsCompilation: yes|no` (case-insensitive); `None` when absent or neither.
    pub fn needs_compilation(&self) -> Option<bool> {
        match self.get("NeedsCompilation")?.to_ascii_lowercase().as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        }
    }

    /// The `Built:` field of binary packages.
    pub fn built(&self) -> Result<Option<Built>, DescriptionError> {
        self.get("Built").map(Built::parse).transpose()
    }

    pub fn depends(&self) -> &[Dep] {
        &self.depends
    }

    pub fn imports(&self) -> &[Dep] {
        &self.imports
    }

    pub fn linking_to(&self) -> &[Dep] {
        &self.linking_to
    }

    pub fn suggests(&self) -> &[Dep] {
        &self.suggests
    }

    pub fn enhances(&self) -> &[Dep] {
        &self.enhances
    }

    /// The `R (op version)` entries of `Depends`.
    pub fn r_requirements(&self) -> impl Iterator<Item = &Dep> {
        self.depends.iter().filter(|d| d.is_r())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    const GLUE_LIKE: &str = r#"Package: glue
Title: Interpreted String Literals
Version: 1.7.0
Authors@R: c(
    person("Jim", "Hester", role = "aut",
           comment = c(ORCID = "0000-0002-2739-7082")),
    person("Jennifer", "Bryan", , "jenny@posit.co", role = c("aut", "cre"),
           comment = c(ORCID = "0000-0002-6983-2759")),
    person("Posit Software, PBC", role = c("cph", "fnd"))
  )
Description: An implementation of interpreted string literals, inspired by
    Python's Literal String Interpolation
    <https://www.python.org/dev/peps/pep-0498/> and Docstrings
    <https://www.python.org/dev/peps/pep-0257/> and Julia's Triple-Quoted
    String Literals
    <https://docs.julialang.org/en/v1.3/manual/strings/#Triple-Quoted-String-Literals-1>.
License: MIT + file LICENSE
URL: https://glue.tidyverse.org/, https://github.com/tidyverse/glue
BugReports: https://github.com/tidyverse/glue/issues
Depends:
    R (>= 3.6)
Imports:
    methods
Suggests:
    crayon,
    DBI (>= 1.2.0),
    dplyr,
    knitr,
    magrittr,
    rlang,
    rmarkdown,
    RSQLite,
    testthat (>= 3.2.0),
    vctrs (>= 0.3.0),
    waldo (>= 0.3.0),
    withr
VignetteBuilder: knitr
ByteCompile: true
Config/Needs/website: bench, forcats, ggbeeswarm, ggplot2, R.utils,
    rprintf, tidyr, tidyverse/tidytemplate
Config/testthat/edition: 3
Encoding: UTF-8
RoxygenNote: 7.2.3
NeedsCompilation: yes
Packaged: 2024-01-08 16:10:04 UTC; jhester
Author: Jim Hester [aut] (<https://orcid.org/0000-0002-2739-7082>),
  Jennifer Bryan [aut, cre] (<https://orcid.org/0000-0002-6983-2759>),
  Posit Software, PBC [cph, fnd]
Maintainer: Jennifer Bryan <jenny@posit.co>
Repository: CRAN
Date/Publication: 2024-01-08 19:30:02 UTC
"#;

    const RCPP_LIKE_BINARY: &str = "Package: Rcpp\nVersion: 1.0.12\nTitle: Seamless R and C++ Integration\n\
License: GPL (>= 2)\nImports: methods, utils\nLinkingTo: \nSuggests: tinytest, inline, rbenchmark, pkgKitten (>= 0.1.2)\n\
NeedsCompilation: yes\nBuilt: R 4.3.2; x86_64-pc-linux-gnu; 2024-01-15 10:00:00 UTC; unix\n";

    fn check(input: &[u8], expected: Result<(&str, &str), &str>) -> Option<Description> {
        match (Description::parse(input), expected) {
            (Ok(d), Ok((package, version))) => {
                assert_eq!(d.package().as_str(), package);
                assert_eq!(d.version().as_str(), version);
                Some(d)
            }
            (Err(e), Err(message)) => {
                assert_eq!(e.to_string(), message);
                None
            }
            (got, expected) => panic!("got {got:?}, expected {expected:?}"),
        }
    }

    fn names(deps: &[Dep]) -> Vec<String> {
        deps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn real_world_description() {
        let d = check(GLUE_LIKE.as_bytes(), Ok(("glue", "1.7.0"))).unwrap();
        assert_eq!(d.title(), Some("Interpreted String Literals"));
        assert_eq!(d.license(), Some("MIT + file LICENSE"));
        assert_eq!(names(d.depends()), ["R (>= 3.6)"]);
        assert_eq!(names(d.imports()), ["methods"]);
        assert_eq!(d.suggests().len(), 12);
        assert_eq!(d.suggests()[1].to_string(), "DBI (>= 1.2.0)");
        assert_eq!(d.needs_compilation(), Some(true));
        assert_eq!(d.encoding(), Some("UTF-8"));
        assert_eq!(d.r_requirements().count(), 1);
        // Folded fields keep their line breaks, as read.dcf ...
        assert_eq!(
            d.get("Config/Needs/website"),
            Some(
                "bench, forcats, ggbeeswarm, ggplot2, R.utils,\nrprintf, tidyr, tidyverse/tidytemplate"
            )
        );
        // ... and keep-white fields keep indentation.
        assert!(
            d.get("Authors@R")
                .unwrap()
                .starts_with("c(\n    person(\"Jim\"")
        );
        assert!(d.get("Description").unwrap().contains("\n    Python's"));
        assert_eq!(d.built().unwrap(), None);
    }

    #[test]
    fn binary_description() {
        let d = check(RCPP_LIKE_BINARY.as_bytes(), Ok(("Rcpp", "1.0.12"))).unwrap();
        let built = d.built().unwrap().unwrap();
        assert_eq!(built.r_version.major_minor(), Some((4, 3)));
        assert_eq!(built.platform, "x86_64-pc-linux-gnu");
        assert_eq!(built.os_type, "unix");
        assert_eq!(d.linking_to(), &[]);
        assert_eq!(d.get("LinkingTo"), Some(""));
        assert_eq!(names(d.imports()), ["methods", "utils"]);
        let arch_independent = Built::parse("R 4.3.2; ; 2024-01-15 10:00:00 UTC; unix").unwrap();
        assert_eq!(arch_independent.platform, "");
        assert!(Built::parse("R 4.3.2; x86_64").is_err());
        assert!(Built::parse("4.3.2; a; b; unix").is_err());
    }

    #[test]
    fn latin1_description() {
        let bytes = b"Package: frenchpkg\nVersion: 0.1-2\nTitle: Outils pour les donn\xe9es\n\
Author: Fran\xe7ois Dupr\xe9\nMaintainer: Fran\xe7ois Dupr\xe9 <f@example.org>\n\
Encoding: latin1\nLicense: GPL-2\n";
        let d = check(bytes, Ok(("frenchpkg", "0.1-2"))).unwrap();
        assert_eq!(d.title(), Some("Outils pour les données"));
        assert_eq!(d.get("Author"), Some("François Dupré"));
        assert_eq!(d.version(), &RVersion::parse("0.1.2").unwrap());
    }

    #[test]
    fn refusals() {
        check(b"", Err("DESCRIPTION is empty"));
        check(
            b"Package: a1\nVersion: 1.0\n\nTitle: x\n",
            Err("DESCRIPTION contains a blank line: it must be a single paragraph"),
        );
        check(b"Version: 1.0\n", Err("DESCRIPTION has no Package field"));
        check(b"Package: ab\n", Err("DESCRIPTION has no Version field"));
        check(
            b"Package: ab\nVersion: 1.0\nVersion: 2.0\n",
            Err("DESCRIPTION field Version appears more than once"),
        );
        check(
            b"Package: a_b\nVersion: 1.0\n",
            Err("DESCRIPTION has an invalid Package field"),
        );
        check(
            b"Package: ab\nVersion: 1\n",
            Err("DESCRIPTION has an invalid Version field"),
        );
        check(
            b"Package: ab\nVersion: 1.0\nImports: x (>=1)\n",
            Err("DESCRIPTION has an invalid Imports field"),
        );
        check(
            b"Package: ab\nVersion: 1.0\nAuthor: Fran\xe7ois\n",
            Err("DESCRIPTION is not in valid DCF format"),
        );
        check(
            b"  Package: ab\n",
            Err("DESCRIPTION is not in valid DCF format"),
        );

        // Causes are chained, not interpolated.
        let err =
            Description::parse(b"Package: ab\nVersion: 1.0\nAuthor: Fran\xe7ois\n").unwrap_err();
        assert_eq!(
            err.source().unwrap().to_string(),
            "field \"Author\" (line 3) is not valid UTF-8; a file in another encoding must declare it in an Encoding field"
        );
        let err =
            Description::parse(b"Package: ab\nVersion: 1.0\nDepends: R (>= 4)\n").unwrap_err();
        let chain: Vec<String> = std::iter::successors(Some(&err as &dyn Error), |e| (*e).source())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            chain,
            [
                "DESCRIPTION has an invalid Depends field",
                "invalid dependency \"R (>= 4)\"",
                "invalid version \"4\": a package version needs at least two components, such as 1.0",
            ]
        );
    }
}
