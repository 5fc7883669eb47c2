use airlock_license::LicenseClass::{
    self, NetworkCopyleft as Network, Permissive, ProprietaryOther as Proprietary,
    StrongCopyleft as Strong, Unknown, WeakCopyleft as Weak,
};
use airlock_license::from_r;

use crate::check_info;

fn check(input: &str, expression: Option<&str>, class: LicenseClass) {
    let info = from_r(input);
    assert_eq!(
        info.source,
        if input.trim().is_empty() {
            "none"
        } else {
            "license"
        }
    );
    check_info(info, input, expression, class);
}

/// License fields as CRAN packages write them.
#[test]
fn cran_license_fields() {
    check(
        "GPL-2 | GPL-3",
        Some("GPL-2.0-only OR GPL-3.0-only"),
        Strong,
    );
    check("MIT + file LICENSE", Some("MIT"), Permissive);
    check("MIT + file LICENCE", Some("MIT"), Permissive);
    check("GPL (>= 2)", Some("GPL-2.0-or-later"), Strong);
    check("GPL (>= 3)", Some("GPL-3.0-or-later"), Strong);
    check("GPL (>= 2.0)", Some("GPL-2.0-or-later"), Strong);
    check("GPL-2", Some("GPL-2.0-only"), Strong);
    check("GPL-3", Some("GPL-3.0-only"), Strong);
    check("GPL", Some("GPL-1.0-or-later"), Strong);
    check("GPL-3 + file LICENSE", Some("GPL-3.0-only"), Strong);
    check(
        "GPL-2 | file LICENCE",
        Some("GPL-2.0-only OR LicenseRef-R-file-LICENSE"),
        Strong,
    );
    check(
        "GPL-2 | GPL-3 | file LICENSE",
        Some("GPL-2.0-only OR GPL-3.0-only OR LicenseRef-R-file-LICENSE"),
        Strong,
    );
    check("LGPL-2", Some("LGPL-2.0-only"), Weak);
    check("LGPL-2.1", Some("LGPL-2.1-only"), Weak);
    check("LGPL-3", Some("LGPL-3.0-only"), Weak);
    check("LGPL (>= 2.1)", Some("LGPL-2.1-or-later"), Weak);
    check("AGPL-3", Some("AGPL-3.0-only"), Network);
    check("AGPL (>= 3)", Some("AGPL-3.0-or-later"), Network);
    check("Apache License 2.0", Some("Apache-2.0"), Permissive);
    check("Apache License (== 2.0)", Some("Apache-2.0"), Permissive);
    check("Apache License", Some("Apache-2.0"), Permissive);
    check(
        "BSD_3_clause + file LICENSE",
        Some("BSD-3-Clause"),
        Permissive,
    );
    check(
        "BSD_2_clause + file LICENSE",
        Some("BSD-2-Clause"),
        Permissive,
    );
    check("FreeBSD", Some("BSD-2-Clause"), Permissive);
    check("CC BY 4.0", Some("CC-BY-4.0"), Permissive);
    check("CC BY-SA 4.0", Some("CC-BY-SA-4.0"), Strong);
    check("CC BY-NC-SA 4.0", Some("CC-BY-NC-SA-4.0"), Proprietary);
    check("CC BY-NC-ND 4.0", Some("CC-BY-NC-ND-4.0"), Proprietary);
    check("CC0", Some("CC0-1.0"), Permissive);
    check("Artistic-2.0", Some("Artistic-2.0"), Permissive);
    check("file LICENSE", Some("LicenseRef-R-file-LICENSE"), Unknown);
    check("file LICENCE", Some("LicenseRef-R-file-LICENSE"), Unknown);
    check("Unlimited", Some("LicenseRef-R-Unlimited"), Permissive);
    check("Mozilla Public License 2.0", Some("MPL-2.0"), Weak);
    check(
        "MPL-2.0 | file LICENSE",
        Some("MPL-2.0 OR LicenseRef-R-file-LICENSE"),
        Weak,
    );
    check("EUPL", None, Network);
    check("EUPL-1.2", Some("EUPL-1.2"), Network);
    check("EUPL (>= 1.1)", Some("EUPL-1.1+"), Network);
    check("Lucent Public License", Some("LPL-1.02"), Weak);
    check("Common Public License Version 1.0", Some("CPL-1.0"), Weak);
    check("CeCILL", None, Strong);
    check("CeCILL-2", Some("CECILL-2.0"), Strong);
    check("BSL-1.0", Some("BSL-1.0"), Permissive);
    check(
        "MIT + file LICENSE | Unlimited",
        Some("MIT OR LicenseRef-R-Unlimited"),
        Permissive,
    );
    check("Something Odd", None, Unknown);
    check("", None, Unknown);
}
