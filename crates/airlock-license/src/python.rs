//! Python core metadata: PEP 639 `License-Expression`, the free-text `License` field and
//! `License ::` trove classifiers.

use crate::class::{LicenseClass, PROPRIETARY_REF, PUBLIC_DOMAIN_REF};
use crate::expr::{Expr, parse_spdx};
use crate::names::recognise;
use crate::{LicenseInfo, SOURCE_CLASSIFIERS, SOURCE_EXPRESSION, SOURCE_LICENSE, SOURCE_NONE};

/// The licence of a Python distribution, from its core metadata.
///
/// Order (PEP 639): `License-Expression` when it parses as SPDX (or, failing that, names
/// a licence we recognise); else the `License` field when it is an SPDX expression, a
/// recognisable name, or a pasted licence text we recognise (title, operative sentence,
/// else its first line); else the `License ::` classifiers, OR'ed when there are several
/// (dual licensing is what several classifiers usually mean; the generic `OSI Approved`
/// and `DFSG approved` ones are skipped). `source` says which field decided.
pub fn from_python(
    license_expression: Option<&str>,
    license: Option<&str>,
    classifiers: &[String],
) -> LicenseInfo {
    if let Some(text) = license_expression.map(str::trim).filter(|t| !t.is_empty())
        && let Some(expr) = parse_spdx(text).ok().or_else(|| recognise(text))
    {
        return LicenseInfo::from_expr(&expr, SOURCE_EXPRESSION);
    }
    if let Some(text) = license.map(str::trim).filter(|t| !t.is_empty())
        && let Some(expr) = license_field(text).filter(|e| e.class() != LicenseClass::Unknown)
    {
        return LicenseInfo::from_expr(&expr, SOURCE_LICENSE);
    }
    let from_classifiers: Vec<Expr> = classifiers.iter().filter_map(|c| classifier(c)).collect();
    if !from_classifiers.is_empty() {
        return LicenseInfo::from_expr(&Expr::or(from_classifiers), SOURCE_CLASSIFIERS);
    }
    LicenseInfo::unknown(SOURCE_NONE)
}

fn license_field(text: &str) -> Option<Expr> {
    // People paste a classifier into License.
    if text
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case("license ::"))
    {
        return classifier(text);
    }
    let single_line = !text.contains('\n') && text.len() <= 200;
    if single_line && let Ok(expr) = parse_spdx(text) {
        return Some(expr);
    }
    recognise(text)
}

/// What a classifier maps to.
enum Trove {
    Id(&'static str),
    Class(LicenseClass),
    /// Says nothing about which licence (`License :: OSI Approved`).
    Generic,
}

use LicenseClass::{
    Permissive, ProprietaryOther as Proprietary, StrongCopyleft as Strong, Unknown,
    WeakCopyleft as Weak,
};

/// Every `License ::` classifier of pypa/trove-classifiers, lowercased, without the
/// `license :: ` prefix. Unversioned families follow the same rules as free-text names
/// (see `names.rs`).
const TROVE: &[(&str, Trove)] = &[
    ("aladdin free public license (afpl)", Trove::Id("Aladdin")),
    (
        "cc0 1.0 universal (cc0 1.0) public domain dedication",
        Trove::Id("CC0-1.0"),
    ),
    (
        "cecill-b free software license agreement (cecill-b)",
        Trove::Id("CECILL-B"),
    ),
    (
        "cecill-c free software license agreement (cecill-c)",
        Trove::Id("CECILL-C"),
    ),
    ("dfsg approved", Trove::Generic),
    ("eiffel forum license (efl)", Trove::Class(Permissive)),
    ("free for educational use", Trove::Class(Proprietary)),
    ("free for home use", Trove::Class(Proprietary)),
    ("free for non-commercial use", Trove::Class(Proprietary)),
    ("free to use but restricted", Trove::Class(Proprietary)),
    ("freely distributable", Trove::Class(Unknown)),
    ("freeware", Trove::Class(Proprietary)),
    ("gust font license 1.0", Trove::Class(Unknown)),
    ("gust font license 2006-09-30", Trove::Class(Unknown)),
    ("netscape public license (npl)", Trove::Class(Weak)),
    ("nokia open source license (nokos)", Trove::Id("Nokia")),
    ("osi approved", Trove::Generic),
    (
        "osi approved :: academic free license (afl)",
        Trove::Class(Permissive),
    ),
    (
        "osi approved :: apache software license",
        Trove::Id("Apache-2.0"),
    ),
    (
        "osi approved :: apple public source license",
        Trove::Class(Weak),
    ),
    ("osi approved :: artistic license", Trove::Class(Permissive)),
    (
        "osi approved :: attribution assurance license",
        Trove::Id("AAL"),
    ),
    (
        "osi approved :: blue oak model license (blueoak-1.0.0)",
        Trove::Id("BlueOak-1.0.0"),
    ),
    (
        "osi approved :: boost software license 1.0 (bsl-1.0)",
        Trove::Id("BSL-1.0"),
    ),
    ("osi approved :: bsd license", Trove::Class(Permissive)),
    (
        "osi approved :: cea cnrs inria logiciel libre license, version 2.1 (cecill-2.1)",
        Trove::Id("CECILL-2.1"),
    ),
    (
        "osi approved :: cmu license (mit-cmu)",
        Trove::Id("MIT-CMU"),
    ),
    (
        "osi approved :: common development and distribution license 1.0 (cddl-1.0)",
        Trove::Id("CDDL-1.0"),
    ),
    (
        "osi approved :: common public license",
        Trove::Id("CPL-1.0"),
    ),
    (
        "osi approved :: eclipse public license 1.0 (epl-1.0)",
        Trove::Id("EPL-1.0"),
    ),
    (
        "osi approved :: eclipse public license 2.0 (epl-2.0)",
        Trove::Id("EPL-2.0"),
    ),
    (
        "osi approved :: educational community license, version 2.0 (ecl-2.0)",
        Trove::Id("ECL-2.0"),
    ),
    (
        "osi approved :: eiffel forum license",
        Trove::Class(Permissive),
    ),
    (
        "osi approved :: european union public licence 1.0 (eupl 1.0)",
        Trove::Id("EUPL-1.0"),
    ),
    (
        "osi approved :: european union public licence 1.1 (eupl 1.1)",
        Trove::Id("EUPL-1.1"),
    ),
    (
        "osi approved :: european union public licence 1.2 (eupl 1.2)",
        Trove::Id("EUPL-1.2"),
    ),
    (
        "osi approved :: gnu affero general public license v3",
        Trove::Id("AGPL-3.0-only"),
    ),
    (
        "osi approved :: gnu affero general public license v3 or later (agplv3+)",
        Trove::Id("AGPL-3.0-or-later"),
    ),
    (
        "osi approved :: gnu free documentation license (fdl)",
        Trove::Class(Strong),
    ),
    (
        "osi approved :: gnu general public license (gpl)",
        Trove::Id("GPL-1.0-or-later"),
    ),
    (
        "osi approved :: gnu general public license v2 (gplv2)",
        Trove::Id("GPL-2.0-only"),
    ),
    (
        "osi approved :: gnu general public license v2 or later (gplv2+)",
        Trove::Id("GPL-2.0-or-later"),
    ),
    (
        "osi approved :: gnu general public license v3 (gplv3)",
        Trove::Id("GPL-3.0-only"),
    ),
    (
        "osi approved :: gnu general public license v3 or later (gplv3+)",
        Trove::Id("GPL-3.0-or-later"),
    ),
    (
        "osi approved :: gnu lesser general public license v2 (lgplv2)",
        Trove::Id("LGPL-2.0-only"),
    ),
    (
        "osi approved :: gnu lesser general public license v2 or later (lgplv2+)",
        Trove::Id("LGPL-2.0-or-later"),
    ),
    (
        "osi approved :: gnu lesser general public license v3 (lgplv3)",
        Trove::Id("LGPL-3.0-only"),
    ),
    (
        "osi approved :: gnu lesser general public license v3 or later (lgplv3+)",
        Trove::Id("LGPL-3.0-or-later"),
    ),
    (
        "osi approved :: gnu library or lesser general public license (lgpl)",
        Trove::Id("LGPL-2.0-or-later"),
    ),
    (
        "osi approved :: historical permission notice and disclaimer (hpnd)",
        Trove::Id("HPND"),
    ),
    ("osi approved :: ibm public license", Trove::Id("IPL-1.0")),
    (
        "osi approved :: intel open source license",
        Trove::Id("Intel"),
    ),
    ("osi approved :: isc license (iscl)", Trove::Id("ISC")),
    (
        "osi approved :: jabber open source license",
        Trove::Class(Weak),
    ),
    ("osi approved :: mit license", Trove::Id("MIT")),
    (
        "osi approved :: mit no attribution license (mit-0)",
        Trove::Id("MIT-0"),
    ),
    (
        "osi approved :: mitre collaborative virtual workspace license (cvw)",
        Trove::Class(Weak),
    ),
    ("osi approved :: miros license (miros)", Trove::Id("MirOS")),
    ("osi approved :: motosoto license", Trove::Id("Motosoto")),
    (
        "osi approved :: mozilla public license 1.0 (mpl)",
        Trove::Id("MPL-1.0"),
    ),
    (
        "osi approved :: mozilla public license 1.1 (mpl 1.1)",
        Trove::Id("MPL-1.1"),
    ),
    (
        "osi approved :: mozilla public license 2.0 (mpl 2.0)",
        Trove::Id("MPL-2.0"),
    ),
    (
        "osi approved :: mulan permissive software license v2 (mulanpsl-2.0)",
        Trove::Id("MulanPSL-2.0"),
    ),
    (
        "osi approved :: nethack general public license",
        Trove::Id("NGPL"),
    ),
    (
        "osi approved :: nokia open source license",
        Trove::Id("Nokia"),
    ),
    (
        "osi approved :: open group test suite license",
        Trove::Id("OGTSL"),
    ),
    (
        "osi approved :: open software license 3.0 (osl-3.0)",
        Trove::Id("OSL-3.0"),
    ),
    (
        "osi approved :: postgresql license",
        Trove::Id("PostgreSQL"),
    ),
    (
        "osi approved :: python license (cnri python license)",
        Trove::Id("CNRI-Python"),
    ),
    (
        "osi approved :: python software foundation license",
        Trove::Id("PSF-2.0"),
    ),
    (
        "osi approved :: qt public license (qpl)",
        Trove::Id("QPL-1.0"),
    ),
    (
        "osi approved :: ricoh source code public license",
        Trove::Id("RSCPL"),
    ),
    (
        "osi approved :: sil open font license 1.1 (ofl-1.1)",
        Trove::Id("OFL-1.1"),
    ),
    ("osi approved :: sleepycat license", Trove::Id("Sleepycat")),
    (
        "osi approved :: sun industry standards source license (sissl)",
        Trove::Id("SISSL"),
    ),
    ("osi approved :: sun public license", Trove::Id("SPL-1.0")),
    (
        "osi approved :: the unlicense (unlicense)",
        Trove::Id("Unlicense"),
    ),
    (
        "osi approved :: universal permissive license (upl)",
        Trove::Id("UPL-1.0"),
    ),
    (
        "osi approved :: university of illinois/ncsa open source license",
        Trove::Id("NCSA"),
    ),
    (
        "osi approved :: vovida software license 1.0",
        Trove::Id("VSL-1.0"),
    ),
    ("osi approved :: w3c license", Trove::Id("W3C")),
    ("osi approved :: x.net license", Trove::Id("Xnet")),
    ("osi approved :: zero-clause bsd (0bsd)", Trove::Id("0BSD")),
    (
        "osi approved :: zope public license",
        Trove::Class(Permissive),
    ),
    ("osi approved :: zlib/libpng license", Trove::Id("Zlib")),
    ("other/proprietary license", Trove::Id(PROPRIETARY_REF)),
    ("public domain", Trove::Id(PUBLIC_DOMAIN_REF)),
    ("repoze public license", Trove::Class(Permissive)),
];

/// A `License :: ...` classifier → expression; `None` for other classifiers and the
/// generic ones. An unlisted `License ::` classifier counts as an unknown licence.
fn classifier(text: &str) -> Option<Expr> {
    let parts: Vec<String> = text.split("::").map(|p| p.trim().to_lowercase()).collect();
    if parts.first().map(String::as_str) != Some("license") || parts.len() < 2 {
        return None;
    }
    let key = parts[1..].join(" :: ");
    match TROVE.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
        Some((_, Trove::Id(id))) => Some(Expr::id(id)),
        Some((_, Trove::Class(class))) => Some(Expr::Family(*class)),
        Some((_, Trove::Generic)) => None,
        None => Some(Expr::Family(Unknown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trove_ids_are_spdx() {
        for (key, trove) in TROVE {
            if let Trove::Id(id) = trove
                && !id.starts_with("LicenseRef-")
            {
                let license = spdx::license_id(id).unwrap_or_else(|| panic!("{key}: {id}"));
                assert!(!license.is_deprecated(), "{key}: {id} is deprecated");
            }
        }
    }

    #[test]
    fn unlisted_and_generic_classifiers() {
        let c = |s: &str| classifier(s).map(|e| e.class());
        assert_eq!(c("License :: OSI Approved"), None);
        assert_eq!(c("Programming Language :: Python"), None);
        assert_eq!(c("License :: Something New"), Some(Unknown));
        assert_eq!(c("License::OSI Approved::MIT License"), Some(Permissive));
        assert_eq!(
            c("License :: OSI Approved :: GNU Affero General Public License v3"),
            Some(LicenseClass::NetworkCopyleft)
        );
    }
}
