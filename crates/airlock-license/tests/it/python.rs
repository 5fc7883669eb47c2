use airlock_license::LicenseClass::{
    self, NetworkCopyleft as Network, Permissive, ProprietaryOther as Proprietary,
    StrongCopyleft as Strong, Unknown, WeakCopyleft as Weak,
};
use airlock_license::from_python;

use crate::check_info;

/// The `License` field alone (no expression, no classifiers).
fn check(input: &str, expression: Option<&str>, class: LicenseClass) {
    let info = from_python(None, Some(input), &[]);
    let source = if class == Unknown { "none" } else { "license" };
    assert_eq!(info.source, source, "source of {input:?}");
    check_info(info, input, expression, class);
}

/// PEP 639 `License-Expression` alone.
fn check_expression(input: &str, expression: Option<&str>, class: LicenseClass) {
    let info = from_python(Some(input), None, &[]);
    assert_eq!(info.source, "license-expression", "source of {input:?}");
    check_info(info, input, expression, class);
}

fn check_classifiers(classifiers: &[&str], expression: Option<&str>, class: LicenseClass) {
    let owned: Vec<String> = classifiers.iter().map(|c| c.to_string()).collect();
    let info = from_python(None, None, &owned);
    let source = if class == Unknown && expression.is_none() {
        "none"
    } else {
        "classifiers"
    };
    assert_eq!(info.source, source, "source of {classifiers:?}");
    check_info(info, &classifiers.join(", "), expression, class);
}

#[test]
fn license_field_names() {
    check("MIT", Some("MIT"), Permissive);
    check("MIT License", Some("MIT"), Permissive);
    check("The MIT License (MIT)", Some("MIT"), Permissive);
    check("mit", Some("MIT"), Permissive);
    check("MIT-0", Some("MIT-0"), Permissive);
    check("BSD", None, Permissive);
    check("BSD License", None, Permissive);
    check("BSD-3-Clause", Some("BSD-3-Clause"), Permissive);
    check("3-Clause BSD License", Some("BSD-3-Clause"), Permissive);
    check("New BSD License", Some("BSD-3-Clause"), Permissive);
    check("Modified BSD", Some("BSD-3-Clause"), Permissive);
    check("Simplified BSD", Some("BSD-2-Clause"), Permissive);
    check("BSD 2-Clause License", Some("BSD-2-Clause"), Permissive);
    check("Apache 2.0", Some("Apache-2.0"), Permissive);
    check(
        "Apache License, Version 2.0",
        Some("Apache-2.0"),
        Permissive,
    );
    check("Apache License 2.0", Some("Apache-2.0"), Permissive);
    check("Apache Software License", Some("Apache-2.0"), Permissive);
    check("Apache-2.0", Some("Apache-2.0"), Permissive);
    check("Apache 2", Some("Apache-2.0"), Permissive);
    check("ASL 2", Some("Apache-2.0"), Permissive);
    check("Apache License Version 1.1", Some("Apache-1.1"), Permissive);
    check("GPLv3", Some("GPL-3.0-only"), Strong);
    check("GPLv3+", Some("GPL-3.0-or-later"), Strong);
    check("GPLv2", Some("GPL-2.0-only"), Strong);
    check("GPL-2.0-or-later", Some("GPL-2.0-or-later"), Strong);
    check("GPL-3.0", Some("GPL-3.0-only"), Strong);
    check("GNU GPL v3", Some("GPL-3.0-only"), Strong);
    check("GNU GPLv2 or later", Some("GPL-2.0-or-later"), Strong);
    check(
        "GNU General Public License v3 (GPLv3)",
        Some("GPL-3.0-only"),
        Strong,
    );
    check(
        "GNU General Public License version 2 or any later version",
        Some("GPL-2.0-or-later"),
        Strong,
    );
    check("GPL", Some("GPL-1.0-or-later"), Strong);
    check("LGPL", Some("LGPL-2.0-or-later"), Weak);
    check("LGPLv3", Some("LGPL-3.0-only"), Weak);
    check("LGPL-2.1", Some("LGPL-2.1-only"), Weak);
    check("LGPLv2.1+", Some("LGPL-2.1-or-later"), Weak);
    check(
        "GNU Lesser General Public License v2.1 or later",
        Some("LGPL-2.1-or-later"),
        Weak,
    );
    check("GNU LGPL", Some("LGPL-2.0-or-later"), Weak);
    check("MPL-2.0", Some("MPL-2.0"), Weak);
    check("MPL 2.0", Some("MPL-2.0"), Weak);
    check(
        "Mozilla Public License 2.0 (MPL 2.0)",
        Some("MPL-2.0"),
        Weak,
    );
    check("Eclipse Public License 2.0", Some("EPL-2.0"), Weak);
    check("CDDL", None, Weak);
    check("AGPLv3", Some("AGPL-3.0-only"), Network);
    check("AGPL-3.0-or-later", Some("AGPL-3.0-or-later"), Network);
    check(
        "GNU Affero General Public License v3 or later",
        Some("AGPL-3.0-or-later"),
        Network,
    );
    check("EUPL 1.2", Some("EUPL-1.2"), Network);
    check("SSPL-1.0", Some("SSPL-1.0"), Network);
    check("PSF", Some("PSF-2.0"), Permissive);
    check(
        "Python Software Foundation License",
        Some("PSF-2.0"),
        Permissive,
    );
    check("ISC", Some("ISC"), Permissive);
    check("ISC License (ISCL)", Some("ISC"), Permissive);
    check("Zlib", Some("Zlib"), Permissive);
    check("zlib/libpng", Some("Zlib"), Permissive);
    check("Unlicense", Some("Unlicense"), Permissive);
    check(
        "Public Domain",
        Some("LicenseRef-Public-Domain"),
        Permissive,
    );
    check("CC0", Some("CC0-1.0"), Permissive);
    check("CC0 1.0 Universal", Some("CC0-1.0"), Permissive);
    check("CC BY-SA 4.0", Some("CC-BY-SA-4.0"), Strong);
    check(
        "Creative Commons Attribution-NonCommercial 4.0 International",
        Some("CC-BY-NC-4.0"),
        Proprietary,
    );
    check("Artistic License 2.0", Some("Artistic-2.0"), Permissive);
    check("WTFPL", Some("WTFPL"), Permissive);
    check("Boost Software License 1.0", Some("BSL-1.0"), Permissive);
    check("HPND", Some("HPND"), Permissive);
    check("MIT OR Apache-2.0", Some("MIT OR Apache-2.0"), Permissive);
    check("MIT/Apache-2.0", Some("MIT OR Apache-2.0"), Permissive);
    check("Apache 2.0 or MIT", Some("Apache-2.0 OR MIT"), Permissive);
    check(
        "GPLv2 or commercial",
        Some("GPL-2.0-only OR LicenseRef-Proprietary"),
        Strong,
    );
    check("Proprietary", Some("LicenseRef-Proprietary"), Proprietary);
    check("Commercial", Some("LicenseRef-Proprietary"), Proprietary);
    check(
        "Other/Proprietary License",
        Some("LicenseRef-Proprietary"),
        Proprietary,
    );
    check(
        "Copyright (c) 2020 ACME Inc. All rights reserved.",
        Some("LicenseRef-Proprietary"),
        Proprietary,
    );
    check("Dual License", None, Unknown);
    check("UNKNOWN", None, Unknown);
    check("see LICENSE.txt", None, Unknown);
    check("Free software", None, Unknown);
    check(
        "License :: OSI Approved :: MIT License",
        Some("MIT"),
        Permissive,
    );
}

const MIT_TEXT: &str = "MIT License\n\nCopyright (c) 2018 Jane Doe\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction...";

const BSD3_TEXT: &str = "Copyright (c) 2005-2023, NumPy Developers.\nAll rights reserved.\n\nRedistribution and use in source and binary forms, with or without\nmodification, are permitted provided that the following conditions are\nmet:\n\n    * Redistributions of source code must retain the above copyright\n       notice, this list of conditions and the following disclaimer.\n\n    * Neither the name of the NumPy Developers nor the names of any\n       contributors may be used to endorse or promote products derived\n       from this software without specific prior written permission.";

const GPL3_HEAD: &str = "                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>\n Everyone is permitted to copy and distribute verbatim copies\n of this license document, but changing it is not allowed.";

const LGPL21_NOTICE: &str = "This library is free software; you can redistribute it and/or\nmodify it under the terms of the GNU Lesser General Public\nLicense as published by the Free Software Foundation; either\nversion 2.1 of the License, or (at your option) any later version.";

const APACHE_TEXT: &str = "\n                                 Apache License\n                           Version 2.0, January 2004\n                        http://www.apache.org/licenses/\n\n   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION";

#[test]
fn license_field_texts() {
    check(MIT_TEXT, Some("MIT"), Permissive);
    check(BSD3_TEXT, Some("BSD-3-Clause"), Permissive);
    check(GPL3_HEAD, Some("GPL-3.0-only"), Strong);
    check(LGPL21_NOTICE, Some("LGPL-2.1-or-later"), Weak);
    check(APACHE_TEXT, Some("Apache-2.0"), Permissive);
    check(
        "Licensed under the MIT license.\nSee the file COPYING for the full text, which is long enough that we do not read it all here.",
        Some("MIT"),
        Permissive,
    );
    check(
        "This is our own licence.\nYou may do three things with this software and nothing else.",
        None,
        Unknown,
    );
}

#[test]
fn license_expression_field() {
    check_expression("MIT", Some("MIT"), Permissive);
    check_expression("mit", Some("MIT"), Permissive);
    check_expression(
        "MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)",
        Some("MIT AND (LGPL-2.1-or-later OR BSD-3-Clause)"),
        Permissive,
    );
    check_expression(
        "GPL-3.0-or-later AND MIT",
        Some("GPL-3.0-or-later AND MIT"),
        Strong,
    );
    check_expression(
        "Apache-2.0 OR GPL-2.0-only",
        Some("Apache-2.0 OR GPL-2.0-only"),
        Permissive,
    );
    check_expression(
        "GPL-2.0-only WITH Classpath-exception-2.0",
        Some("GPL-2.0-only WITH Classpath-exception-2.0"),
        Weak,
    );
    check_expression(
        "Apache-2.0 WITH LLVM-exception",
        Some("Apache-2.0 WITH LLVM-exception"),
        Permissive,
    );
    check_expression(
        "LicenseRef-Proprietary",
        Some("LicenseRef-Proprietary"),
        Proprietary,
    );
    check_expression(
        "LicenseRef-Acme-EULA",
        Some("LicenseRef-Acme-EULA"),
        Unknown,
    );
    check_expression("CC-BY-NC-4.0", Some("CC-BY-NC-4.0"), Proprietary);
    check_expression(
        "AGPL-3.0-only OR MIT",
        Some("AGPL-3.0-only OR MIT"),
        Permissive,
    );
    check_expression(
        "AGPL-3.0-only AND MPL-2.0",
        Some("AGPL-3.0-only AND MPL-2.0"),
        Network,
    );
    check_expression("BUSL-1.1", Some("BUSL-1.1"), Proprietary);
    check_expression("GPL-2.0+", Some("GPL-2.0-or-later"), Strong);
    // Not SPDX, but a recognisable name: still classified.
    check_expression("MIT and Apache", Some("MIT AND Apache-2.0"), Permissive);
}

#[test]
fn precedence_and_classifiers() {
    let classifiers = vec!["License :: OSI Approved :: MIT License".to_owned()];
    let info = from_python(Some("Apache-2.0"), Some("GPL"), &classifiers);
    assert_eq!(
        (info.expression.as_deref(), info.source),
        (Some("Apache-2.0"), "license-expression")
    );
    let info = from_python(None, Some("GPL"), &classifiers);
    assert_eq!(
        (info.expression.as_deref(), info.source),
        (Some("GPL-1.0-or-later"), "license")
    );
    let info = from_python(Some("  "), Some("UNKNOWN"), &classifiers);
    assert_eq!(
        (info.expression.as_deref(), info.source),
        (Some("MIT"), "classifiers")
    );
    let info = from_python(None, Some("Dual License"), &classifiers);
    assert_eq!(info.source, "classifiers");

    check_classifiers(
        &["License :: OSI Approved :: MIT License"],
        Some("MIT"),
        Permissive,
    );
    check_classifiers(
        &[
            "License :: OSI Approved :: MIT License",
            "License :: OSI Approved :: Apache Software License",
            "Programming Language :: Python :: 3",
        ],
        Some("MIT OR Apache-2.0"),
        Permissive,
    );
    check_classifiers(
        &[
            "License :: OSI Approved :: BSD License",
            "License :: OSI Approved :: GNU General Public License (GPL)",
        ],
        None,
        Permissive,
    );
    check_classifiers(
        &["License :: Other/Proprietary License"],
        Some("LicenseRef-Proprietary"),
        Proprietary,
    );
    check_classifiers(&["License :: OSI Approved"], None, Unknown);
    check_classifiers(
        &["License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)"],
        Some("LGPL-3.0-only"),
        Weak,
    );
    check_classifiers(
        &["License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)"],
        Some("AGPL-3.0-or-later"),
        Network,
    );
    check_classifiers(
        &["License :: Public Domain"],
        Some("LicenseRef-Public-Domain"),
        Permissive,
    );
    check_classifiers(&["License :: Freeware"], None, Proprietary);
    check_classifiers(
        &["License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)"],
        Some("MPL-2.0"),
        Weak,
    );
    let nothing = from_python(None, None, &[]);
    assert_eq!((nothing.class, nothing.source), (Unknown, "none"));
}
