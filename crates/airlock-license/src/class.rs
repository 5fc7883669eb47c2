//! Policy classes and the table that puts SPDX identifiers into them.
//!
//! The table is ours (the SPDX list has no such notion). It is written as exact ids and
//! family prefixes; ids it does not name fall back on the SPDX list's flags: copyleft
//! (as the `spdx` crate marks them) → strong copyleft, OSI-approved or FSF-libre →
//! permissive, anything else → unknown.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a licence obliges its user to do, from least to most restrictive.
///
/// The order is what the expression rules use: for `A OR B` the lesser class decides
/// (the licensee may pick), for `A AND B` the greater. `Unknown` sorts last: nothing
/// known is the weakest guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LicenseClass {
    /// MIT, BSD, Apache, ISC, PSF, Zlib, Unlicense, CC0, CC-BY, ...
    #[serde(rename = "permissive")]
    Permissive,
    /// File- or library-level copyleft: LGPL, MPL, EPL, CDDL, ...; and strong copyleft
    /// with a linking exception (`GPL-2.0-only WITH Classpath-exception-2.0`).
    #[serde(rename = "weak-copyleft")]
    WeakCopyleft,
    /// GPL, CC-BY-SA, GFDL, CeCILL 2.x, Sleepycat, ...
    #[serde(rename = "strong-copyleft")]
    StrongCopyleft,
    /// Copyleft triggered by offering the software over a network: AGPL, SSPL, EUPL,
    /// OSL, RPL, CPAL, Parity. EUPL is here because its "Distribution or Communication"
    /// includes making the work available online, as the AGPL's section 13 does.
    #[serde(rename = "network-copyleft")]
    NetworkCopyleft,
    /// Not open source: proprietary, non-commercial (CC-BY-NC), no-derivatives
    /// (CC-BY-ND), source-available (BUSL, Elastic, PolyForm), freeware. The trove
    /// classifier `Other/Proprietary License` lands here, hence the serde name
    /// `proprietary` for what the design calls "proprietary/other".
    #[serde(rename = "proprietary")]
    ProprietaryOther,
    /// Nothing recognisable.
    #[serde(rename = "unknown")]
    Unknown,
}

impl LicenseClass {
    pub const ALL: [LicenseClass; 6] = [
        LicenseClass::Permissive,
        LicenseClass::WeakCopyleft,
        LicenseClass::StrongCopyleft,
        LicenseClass::NetworkCopyleft,
        LicenseClass::ProprietaryOther,
        LicenseClass::Unknown,
    ];

    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseClass::Permissive => "permissive",
            LicenseClass::WeakCopyleft => "weak-copyleft",
            LicenseClass::StrongCopyleft => "strong-copyleft",
            LicenseClass::NetworkCopyleft => "network-copyleft",
            LicenseClass::ProprietaryOther => "proprietary",
            LicenseClass::Unknown => "unknown",
        }
    }
}

impl fmt::Display for LicenseClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a licence class.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown licence class {0:?} (expected permissive, weak-copyleft, strong-copyleft, network-copyleft, proprietary or unknown)"
)]
pub struct ClassError(String);

impl FromStr for LicenseClass {
    type Err = ClassError;

    /// The configuration words, case-insensitive; `proprietary/other` is accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "permissive" => Ok(LicenseClass::Permissive),
            "weak-copyleft" => Ok(LicenseClass::WeakCopyleft),
            "strong-copyleft" => Ok(LicenseClass::StrongCopyleft),
            "network-copyleft" => Ok(LicenseClass::NetworkCopyleft),
            "proprietary" | "proprietary/other" => Ok(LicenseClass::ProprietaryOther),
            "unknown" => Ok(LicenseClass::Unknown),
            _ => Err(ClassError(s.to_owned())),
        }
    }
}

use LicenseClass::{
    NetworkCopyleft as Network, Permissive, ProprietaryOther as Proprietary,
    StrongCopyleft as Strong, Unknown, WeakCopyleft as Weak,
};

/// Our `LicenseRef-` names (see `names.rs`) and what they mean.
pub(crate) const PROPRIETARY_REF: &str = "LicenseRef-Proprietary";
pub(crate) const PUBLIC_DOMAIN_REF: &str = "LicenseRef-Public-Domain";
pub(crate) const UNLIMITED_REF: &str = "LicenseRef-R-Unlimited";

/// Exact ids, checked before the prefixes.
const EXACT: &[(&str, LicenseClass)] = &[
    ("0BSD", Permissive),
    ("AAL", Permissive),
    ("ADSL", Permissive),
    ("AML", Permissive),
    ("Beerware", Permissive),
    ("BSD-Protection", Strong),
    ("blessing", Permissive),
    ("Boehm-GC", Permissive),
    ("BSL-1.0", Permissive),
    ("CC0-1.0", Permissive),
    ("CC-PDDC", Permissive),
    ("CNRI-Python", Permissive),
    ("curl", Permissive),
    ("ECL-1.0", Permissive),
    ("ECL-2.0", Permissive),
    ("EFL-1.0", Permissive),
    ("EFL-2.0", Permissive),
    ("Fair", Permissive),
    ("FTL", Permissive),
    ("ICU", Permissive),
    ("IJG", Permissive),
    ("ImageMagick", Permissive),
    ("Info-ZIP", Permissive),
    ("Intel", Permissive),
    ("ISC", Permissive),
    ("JasPer-2.0", Permissive),
    ("Libpng", Permissive),
    ("libpng-2.0", Permissive),
    ("libtiff", Permissive),
    ("MirOS", Permissive),
    ("MS-PL", Weak),
    ("MS-RL", Weak),
    ("Naumen", Permissive),
    ("NCSA", Permissive),
    ("NTP", Permissive),
    ("OGTSL", Permissive),
    ("OpenSSL", Permissive),
    ("PostgreSQL", Permissive),
    ("PSF-2.0", Permissive),
    ("Ruby", Permissive),
    ("SMLNJ", Permissive),
    ("TCL", Permissive),
    ("Unlicense", Permissive),
    ("UPL-1.0", Permissive),
    ("Vim", Permissive),
    ("VSL-1.0", Permissive),
    ("W3C", Permissive),
    ("WTFPL", Permissive),
    ("X11", Permissive),
    ("Xnet", Permissive),
    ("Zlib", Permissive),
    ("zlib-acknowledgement", Permissive),
    ("Zed", Permissive),
    ("Zend-2.0", Permissive),
    ("CECILL-B", Permissive),
    ("CECILL-C", Weak),
    ("CPL-1.0", Weak),
    ("IPL-1.0", Weak),
    ("LGPLLR", Weak),
    ("LPL-1.0", Weak),
    ("LPL-1.02", Weak),
    ("Motosoto", Weak),
    ("Nokia", Weak),
    ("NPL-1.0", Weak),
    ("NPL-1.1", Weak),
    ("RSCPL", Weak),
    ("SISSL", Weak),
    ("SPL-1.0", Weak),
    ("YPL-1.1", Weak),
    ("NGPL", Strong),
    ("QPL-1.0", Strong),
    ("Sleepycat", Strong),
    ("CPAL-1.0", Network),
    ("Aladdin", Proprietary),
    ("JSON", Proprietary),
    ("SSPL-1.0", Network),
];

/// Family prefixes, first match wins (so `CC-BY-NC` comes before `CC-BY-`).
const PREFIXES: &[(&str, LicenseClass)] = &[
    ("CC-BY-NC", Proprietary),
    ("CC-BY-ND", Proprietary),
    ("PolyForm-", Proprietary),
    ("BUSL-", Proprietary),
    ("Elastic-", Proprietary),
    ("Hippocratic-", Proprietary),
    ("CC-BY-SA-", Strong),
    ("CC-BY-", Permissive),
    ("AGPL-", Network),
    ("EUPL-", Network),
    ("OSL-", Network),
    ("RPL-", Network),
    ("Parity-", Network),
    ("LGPL-", Weak),
    ("MPL-", Weak),
    ("EPL-", Weak),
    ("CDDL-", Weak),
    ("APSL-", Weak),
    ("ErlPL-", Weak),
    ("OFL-", Weak),
    ("GPL-", Strong),
    ("GFDL-", Strong),
    ("CECILL-", Strong),
    ("ODbL-", Strong),
    ("copyleft-next-", Strong),
    ("MIT", Permissive),
    ("BSD-", Permissive),
    ("Apache-", Permissive),
    ("Artistic-", Permissive),
    ("AFL-", Permissive),
    ("Python-", Permissive),
    ("ZPL-", Permissive),
    ("OLDAP-", Permissive),
    ("PHP-", Permissive),
    ("Unicode-", Permissive),
    ("HPND", Permissive),
    ("BlueOak-", Permissive),
    ("MulanPSL-", Permissive),
    ("bzip2-", Permissive),
    ("SSLeay", Permissive),
    ("XFree86-", Permissive),
];

/// The class of one licence id (`MIT`, `GPL-2.0-or-later`, `MPL-1.1+`, `LicenseRef-x`).
pub fn classify_id(id: &str) -> LicenseClass {
    let id = id.strip_suffix('+').unwrap_or(id);
    if id
        .get(..11)
        .is_some_and(|p| p.eq_ignore_ascii_case("LicenseRef-"))
    {
        return if id.eq_ignore_ascii_case(PROPRIETARY_REF) {
            Proprietary
        } else if id.eq_ignore_ascii_case(PUBLIC_DOMAIN_REF)
            || id.eq_ignore_ascii_case(UNLIMITED_REF)
        {
            Permissive
        } else {
            Unknown
        };
    }
    if let Some((_, class)) = EXACT.iter().find(|(name, _)| *name == id) {
        return *class;
    }
    if let Some((_, class)) = PREFIXES.iter().find(|(prefix, _)| id.starts_with(prefix)) {
        return *class;
    }
    match spdx::license_id(id) {
        Some(license) if license.is_copyleft() => Strong,
        Some(license) if license.is_osi_approved() || license.is_fsf_free_libre() => Permissive,
        _ => Unknown,
    }
}

/// Exceptions that let other code link with or use the covered code without that code
/// taking the licence: they turn a strong copyleft into a weak one.
const LINKING_EXCEPTIONS: &[&str] = &[
    "Classpath-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-2.0-note",
    "GCC-exception-3.1",
    "GNU-compiler-exception",
    "LLVM-exception",
    "Font-exception-2.0",
    "WxWindows-exception-3.1",
    "eCos-exception-2.0",
    "FLTK-exception",
    "freertos-exception-2.0",
    "Universal-FOSS-exception-1.0",
    "mif-exception",
    "Qt-LGPL-exception-1.1",
    "u-boot-exception-2.0",
    "Libtool-exception",
    "SWI-exception",
    "Bootloader-exception",
    "gnu-javamail-exception",
    "GStreamer-exception-2005",
    "GStreamer-exception-2008",
    "openvpn-openssl-exception",
    "i2p-gpl-java-exception",
    "x11vnc-openssl-exception",
];

/// The class of `id WITH exception`: a linking exception (any exception whose id says
/// "linking", or one of a list) turns strong copyleft into weak; others change nothing.
pub fn classify_with(id: &str, exception: Option<&str>) -> LicenseClass {
    let class = classify_id(id);
    match exception {
        Some(exception)
            if class == Strong
                && (exception.to_ascii_lowercase().contains("linking")
                    || LINKING_EXCEPTIONS
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(exception))) =>
        {
            Weak
        }
        _ => class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for class in LicenseClass::ALL {
            assert_eq!(class.as_str().parse::<LicenseClass>().unwrap(), class);
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(serde_json::from_str::<LicenseClass>(&json).unwrap(), class);
        }
        assert_eq!(
            "proprietary/other".parse::<LicenseClass>().unwrap(),
            LicenseClass::ProprietaryOther
        );
        assert!("copyleft".parse::<LicenseClass>().is_err());
    }

    /// Our table against the SPDX License List 3.29.0 in testdata/spdx: every exact id
    /// exists and is current, every prefix names at least one current id, and the
    /// `spdx` crate bundles the same list.
    #[test]
    fn table_agrees_with_the_spdx_list() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/spdx/licenses.json"
        );
        let list: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("testdata/spdx/licenses.json"))
                .unwrap();
        assert_eq!(list["licenseListVersion"], spdx::identifiers::VERSION);
        let licenses = list["licenses"].as_array().unwrap();
        let current: Vec<&str> = licenses
            .iter()
            .filter(|l| l["isDeprecatedLicenseId"] == false)
            .map(|l| l["licenseId"].as_str().unwrap())
            .collect();
        for l in licenses {
            let id = l["licenseId"].as_str().unwrap();
            let known = spdx::license_id(id).unwrap_or_else(|| panic!("{id} unknown to spdx"));
            assert_eq!(
                known.is_deprecated(),
                l["isDeprecatedLicenseId"] == true,
                "{id}"
            );
        }
        for (id, _) in EXACT {
            assert!(current.contains(id), "{id} is not a current SPDX id");
        }
        for (prefix, _) in PREFIXES {
            assert!(
                current.iter().any(|id| id.starts_with(prefix)),
                "{prefix} matches nothing"
            );
        }
        let mut counts = std::collections::BTreeMap::new();
        for id in &current {
            *counts.entry(classify_id(id)).or_insert(0) += 1;
        }
        eprintln!("current SPDX ids by class: {counts:?}");
        // Obscure ids the table does not name and the list does not mark as free stay
        // unknown; every OSI-approved one gets a class.
        for l in licenses.iter().filter(|l| l["isOsiApproved"] == true) {
            let id = l["licenseId"].as_str().unwrap();
            assert_ne!(classify_id(id), Unknown, "{id}");
        }
    }

    #[test]
    fn table() {
        for (id, class) in [
            ("MIT", Permissive),
            ("MIT-0", Permissive),
            ("BSD-3-Clause", Permissive),
            ("Apache-2.0", Permissive),
            ("CC-BY-4.0", Permissive),
            ("CC-BY-SA-4.0", Strong),
            ("CC-BY-NC-SA-4.0", Proprietary),
            ("CC-BY-ND-4.0", Proprietary),
            ("LGPL-2.1-only", Weak),
            ("MPL-2.0", Weak),
            ("MPL-1.1+", Weak),
            ("GPL-3.0-or-later", Strong),
            ("AGPL-3.0-only", Network),
            ("EUPL-1.2", Network),
            ("SSPL-1.0", Network),
            ("BUSL-1.1", Proprietary),
            ("LicenseRef-Proprietary", Proprietary),
            ("LicenseRef-whatever", Unknown),
            ("NOT-A-LICENSE", Unknown),
            ("BSD-Protection", Strong),
            ("NCSA", Permissive),
        ] {
            assert_eq!(classify_id(id), class, "{id}");
        }
        assert_eq!(
            classify_with("GPL-2.0-only", Some("Classpath-exception-2.0")),
            Weak
        );
        assert_eq!(
            classify_with("GPL-3.0-or-later", Some("GPL-3.0-linking-exception")),
            Weak
        );
        assert_eq!(
            classify_with("GPL-3.0-only", Some("Autoconf-exception-3.0")),
            Strong
        );
        assert_eq!(
            classify_with("Apache-2.0", Some("LLVM-exception")),
            Permissive
        );
    }
}
