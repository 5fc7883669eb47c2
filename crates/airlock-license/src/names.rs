//! Recognising licences from the names people write (`Apache License, Version 2.0`,
//! `GPLv3+`, `BSD`, `CC BY-SA 4.0`) and from licence texts pasted where a name belongs.
//!
//! Rules, in brief: a family is found from keywords, then a version and "or later" are
//! read from the rest. We never invent a version or a variant, with three documented
//! exceptions: a bare GNU name is read as its own text says ("if the Program does not
//! specify a version number of this License, you may choose any version ever
//! published"), so `GPL` is `GPL-1.0-or-later`, `LGPL` `LGPL-2.0-or-later`, `AGPL`
//! `AGPL-3.0-or-later` (the only FSF version); and a bare `Apache` is `Apache-2.0`
//! (1.x has been superseded since 2004). Other bare families (`BSD`, `MPL`, `EPL`,
//! `Artistic`, `EUPL`, `CC BY`) keep their class but get no SPDX expression.

use crate::class::{LicenseClass, PROPRIETARY_REF, PUBLIC_DOMAIN_REF, UNLIMITED_REF};
use crate::expr::{Expr, gnu_id};

/// A name, a short list of names (`MIT or Apache 2.0`), or a pasted licence text.
pub(crate) fn recognise(text: &str) -> Option<Expr> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.contains('\n') || text.chars().count() > 200 {
        return recognise_text(text);
    }
    recognise_name(text)
}

/// One line: a licence name or a few joined by `or`, `and` or `/`.
pub(crate) fn recognise_name(text: &str) -> Option<Expr> {
    let lower = text.trim().to_lowercase().replace("licence", "license");
    let lower = lower.trim_end_matches('.').trim();
    if lower.is_empty() {
        return None;
    }
    for (separator, and) in [(" or ", false), (" and ", true), ("/", false)] {
        if lower.contains(separator) && !lower.contains("and/or") {
            let parts: Option<Vec<Expr>> = lower
                .split(separator)
                .map(|part| recognise_single(part.trim()))
                .collect();
            if let Some(parts) = parts.filter(|p| p.len() > 1) {
                return Some(if and {
                    Expr::and(parts)
                } else {
                    Expr::or(parts)
                });
            }
        }
    }
    recognise_single(lower)
}

/// One name. A trailing parenthesised abbreviation (`Mozilla Public License 2.0
/// (MPL 2.0)`) is tried after the rest.
fn recognise_single(lower: &str) -> Option<Expr> {
    if lower.is_empty() {
        return None;
    }
    // `(MPL 2.0)` is an abbreviation; `(>= 2)` (R's version constraint) is not.
    if let Some(open) = lower.rfind('(')
        && lower.ends_with(')')
        && open > 0
        && !lower[open + 1..]
            .trim_start()
            .starts_with(['<', '>', '=', '!'])
    {
        let (before, inner) = (&lower[..open], &lower[open + 1..lower.len() - 1]);
        return family(&Words::new(before)).or_else(|| family(&Words::new(inner)));
    }
    family(&Words::new(lower))
}

/// A lowercased name cut into words: separators are whitespace, `-`, `/` and
/// punctuation; `_` too (R writes `BSD_3_clause`).
struct Words {
    words: Vec<String>,
    /// The words joined by single spaces, with a space at each end, for phrase look-ups.
    spaced: String,
    /// "or later" was said (`+`, `or later`, `or any later`, `>=`, `or newer`).
    later: bool,
}

impl Words {
    fn new(lower: &str) -> Words {
        let later = lower.contains("or later")
            || lower.contains("or-later")
            || lower.contains("any later")
            || lower.contains("or newer")
            || lower.contains(">=")
            || lower.contains('+');
        let words: Vec<String> = lower
            .split(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '-' | '/' | '_' | ',' | ';' | ':' | '"' | '\'' | '(' | ')' | '[' | ']'
                    )
            })
            .map(|w| w.trim_end_matches('.').to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        let spaced = format!(" {} ", words.join(" "));
        Words {
            words,
            spaced,
            later,
        }
    }

    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }

    fn phrase(&self, phrase: &str) -> bool {
        self.spaced.contains(&format!(" {phrase} "))
    }

    /// The index of a word that is `prefix` followed by nothing or by a version
    /// (`gpl`, `gplv3`, `gpl3+`, `apache2`), and that rest.
    fn prefixed(&self, prefix: &str) -> Option<(usize, &str)> {
        self.words.iter().enumerate().find_map(|(i, w)| {
            let rest = w.strip_prefix(prefix)?;
            let bare = rest.trim_start_matches('v').trim_end_matches('+');
            (rest.is_empty() || bare.is_empty() || is_number(bare)).then_some((i, rest))
        })
    }

    /// The first version number: glued to the family word, or in a later word
    /// (`v2.1`, `2`, `version 3`).
    fn version(&self, family: Option<(usize, &str)>) -> Option<String> {
        let start = match family {
            Some((index, rest)) => {
                if let Some(v) = number_in(rest) {
                    return Some(v);
                }
                index + 1
            }
            None => 0,
        };
        self.words.iter().skip(start).find_map(|w| number_in(w))
    }
}

fn is_number(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `v2.1+` → `2.1`; `3` → `3.0`.
fn number_in(word: &str) -> Option<String> {
    let bare = word
        .trim_start_matches('v')
        .trim_end_matches('+')
        .trim_end_matches('.');
    if !is_number(bare) {
        return None;
    }
    Some(if bare.contains('.') {
        bare.to_owned()
    } else {
        format!("{bare}.0")
    })
}

/// `GPL` + version → `GPL-3.0-only` / `-or-later`; an unknown version → the family.
fn gnu(base: &str, version: Option<String>, later: bool, bare: &str, class: LicenseClass) -> Expr {
    match version {
        Some(v) => {
            let id = gnu_id(&format!("{base}-{v}"), later);
            if spdx::license_id(&id).is_some() {
                Expr::id(&id)
            } else {
                Expr::Family(class)
            }
        }
        None => Expr::id(bare),
    }
}

/// `MPL` + version → `MPL-2.0` (`MPL-2.0+` when "or later" was said) if that id exists;
/// else the family.
fn versioned(base: &str, version: Option<String>, later: bool, class: LicenseClass) -> Expr {
    version
        .map(|v| format!("{base}-{v}"))
        .filter(|id| spdx::license_id(id).is_some())
        .map_or(Expr::Family(class), |id| {
            Expr::id(&if later { format!("{id}+") } else { id })
        })
}

fn family(w: &Words) -> Option<Expr> {
    use LicenseClass::*;
    if w.words.is_empty() {
        return None;
    }
    if (w.has("cc") || w.phrase("creative commons")) && (w.has("by") || w.has("attribution")) {
        return Some(creative_commons(w));
    }
    if w.has("proprietary")
        || w.phrase("all rights reserved")
        || w.has("commercial")
        || w.has("noncommercial")
        || w.has("confidential")
    {
        return Some(Expr::id(PROPRIETARY_REF));
    }
    if w.has("gfdl") || w.has("fdl") || w.phrase("free documentation") {
        return Some(gnu(
            "GFDL",
            w.version(w.prefixed("gfdl")),
            w.later,
            "GFDL-1.1-or-later",
            StrongCopyleft,
        ));
    }
    if w.has("affero") || w.prefixed("agpl").is_some() {
        let v = w.version(w.prefixed("agpl"));
        return Some(gnu(
            "AGPL",
            v,
            w.later,
            "AGPL-3.0-or-later",
            NetworkCopyleft,
        ));
    }
    if w.has("lesser") || w.phrase("library general") || w.prefixed("lgpl").is_some() {
        let v = w.version(w.prefixed("lgpl"));
        return Some(gnu("LGPL", v, w.later, "LGPL-2.0-or-later", WeakCopyleft));
    }
    if w.phrase("general public") || w.prefixed("gpl").is_some() || w.phrase("gnu gpl") {
        let v = w.version(w.prefixed("gpl"));
        return Some(gnu("GPL", v, w.later, "GPL-1.0-or-later", StrongCopyleft));
    }
    if w.has("mozilla") || w.prefixed("mpl").is_some() {
        return Some(versioned(
            "MPL",
            w.version(w.prefixed("mpl")),
            w.later,
            WeakCopyleft,
        ));
    }
    if w.has("eclipse") || w.prefixed("epl").is_some() {
        return Some(versioned(
            "EPL",
            w.version(w.prefixed("epl")),
            w.later,
            WeakCopyleft,
        ));
    }
    if (w.has("european") && w.has("union")) || w.prefixed("eupl").is_some() {
        return Some(versioned(
            "EUPL",
            w.version(w.prefixed("eupl")),
            w.later,
            NetworkCopyleft,
        ));
    }
    if w.prefixed("cddl").is_some() || w.phrase("common development and distribution") {
        return Some(versioned(
            "CDDL",
            w.version(w.prefixed("cddl")),
            w.later,
            WeakCopyleft,
        ));
    }
    if w.prefixed("cecill").is_some() {
        if w.has("b") {
            return Some(Expr::id("CECILL-B"));
        }
        if w.has("c") {
            return Some(Expr::id("CECILL-C"));
        }
        return Some(versioned(
            "CECILL",
            w.version(w.prefixed("cecill")),
            w.later,
            StrongCopyleft,
        ));
    }
    if w.has("apache") || w.prefixed("apache").is_some() || w.prefixed("asl").is_some() {
        let family = w.prefixed("apache").or(w.prefixed("asl"));
        return Some(match w.version(family) {
            None => Expr::id("Apache-2.0"),
            Some(v) => versioned("Apache", Some(v), w.later, Permissive),
        });
    }
    if w.has("artistic") {
        return Some(versioned("Artistic", w.version(None), w.later, Permissive));
    }
    if w.has("cc0")
        || w.phrase("creative commons zero")
        || (w.has("cc") && w.has("0") && !w.has("by"))
    {
        return Some(Expr::id("CC0-1.0"));
    }
    if w.prefixed("bsd").is_some() || w.has("freebsd") || w.has("0bsd") {
        return Some(bsd(w));
    }
    if w.has("mit") || w.has("expat") {
        return Some(Expr::id(if w.has("0") || w.phrase("no attribution") {
            "MIT-0"
        } else {
            "MIT"
        }));
    }
    let simple: &[(&[&str], &str)] = &[
        (&["isc", "iscl"], "ISC"),
        (&["psf", "psfl"], "PSF-2.0"),
        (&["zlib"], "Zlib"),
        (&["unlicense"], "Unlicense"),
        (&["wtfpl"], "WTFPL"),
        (&["boost", "bsl"], "BSL-1.0"),
        (&["postgresql"], "PostgreSQL"),
        (&["hpnd"], "HPND"),
        (&["lucent"], "LPL-1.02"),
        (&["unlimited"], UNLIMITED_REF),
        (&["upl"], "UPL-1.0"),
        (&["ncsa"], "NCSA"),
    ];
    for (keys, id) in simple {
        if keys.iter().any(|k| w.has(k)) {
            return Some(Expr::id(id));
        }
    }
    if w.phrase("python software foundation") {
        return Some(Expr::id("PSF-2.0"));
    }
    if w.phrase("public domain") {
        return Some(Expr::id(PUBLIC_DOMAIN_REF));
    }
    if w.phrase("historical permission") {
        return Some(Expr::id("HPND"));
    }
    if w.phrase("common public") {
        return Some(Expr::id("CPL-1.0"));
    }
    if w.phrase("python license") || (w.words.len() == 1 && w.has("python")) {
        return Some(Expr::id("Python-2.0"));
    }
    None
}

fn creative_commons(w: &Words) -> Expr {
    let nc = w.has("nc") || w.has("noncommercial") || (w.has("non") && w.has("commercial"));
    let nd =
        w.has("nd") || w.has("noderivatives") || w.has("noderivs") || w.phrase("no derivatives");
    let sa = w.has("sa") || w.has("sharealike") || w.phrase("share alike");
    let mut id = String::from("CC-BY");
    if nc {
        id.push_str("-NC");
    }
    if nd {
        id.push_str("-ND");
    } else if sa {
        id.push_str("-SA");
    }
    let class = if nc || nd {
        LicenseClass::ProprietaryOther
    } else if sa {
        LicenseClass::StrongCopyleft
    } else {
        LicenseClass::Permissive
    };
    versioned(&id, w.version(None), w.later, class)
}

fn bsd(w: &Words) -> Expr {
    let variant = w.version(w.prefixed("bsd")).or_else(|| w.version(None));
    let variant = variant.as_deref().map(|v| v.trim_end_matches(".0"));
    let id = if w.has("0bsd") || variant == Some("0") || w.has("zero") {
        "0BSD"
    } else if variant == Some("2") || w.has("simplified") || w.has("freebsd") {
        "BSD-2-Clause"
    } else if variant == Some("3") || w.has("new") || w.has("modified") || w.has("revised") {
        "BSD-3-Clause"
    } else if variant == Some("4") || w.has("original") {
        "BSD-4-Clause"
    } else {
        return Expr::Family(LicenseClass::Permissive);
    };
    Expr::id(id)
}

/// A licence text pasted into a name field: look for the title or the operative
/// sentence of the common licences, then fall back on the first line.
fn recognise_text(text: &str) -> Option<Expr> {
    let flat = |limit: usize| -> String {
        let cut: String = text.chars().take(limit).collect();
        cut.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let head = flat(600);
    let body = flat(6000);

    let gnu_titles = [
        ("gnu affero general public license", "AGPL"),
        ("gnu lesser general public license", "LGPL"),
        ("gnu library general public license", "LGPL"),
        ("gnu general public license", "GPL"),
    ];
    let first_title = gnu_titles
        .iter()
        .filter_map(|(title, base)| head.find(title).map(|at| (at, *title, *base)))
        .min_by_key(|(at, ..)| *at);
    if let Some((at, title, base)) = first_title {
        let after = &head[at + title.len()..];
        let version = after
            .find("version ")
            .and_then(|i| after[i + 8..].split([' ', ',']).next())
            .and_then(number_in)
            .or_else(|| (base == "LGPL" && title.contains("library")).then(|| "2.0".to_owned()));
        let later = body.contains("any later version");
        let class = match base {
            "AGPL" => LicenseClass::NetworkCopyleft,
            "LGPL" => LicenseClass::WeakCopyleft,
            _ => LicenseClass::StrongCopyleft,
        };
        return Some(match version {
            Some(v) => gnu(base, Some(v), later, "", class),
            None => Expr::Family(class),
        });
    }
    let phrases: &[(&str, &str)] = &[
        ("apache license version 2.0", "Apache-2.0"),
        ("apache license, version 2.0", "Apache-2.0"),
        ("mozilla public license version 2.0", "MPL-2.0"),
        ("mozilla public license, v. 2.0", "MPL-2.0"),
        ("mozilla public license version 1.1", "MPL-1.1"),
        ("eclipse public license - v 2.0", "EPL-2.0"),
        ("eclipse public license - v 1.0", "EPL-1.0"),
        (
            "free and unencumbered software released into the public domain",
            "Unlicense",
        ),
        ("permission is hereby granted, free of charge", "MIT"),
        ("python software foundation license", "PSF-2.0"),
        ("boost software license", "BSL-1.0"),
        (
            "provided 'as-is', without any express or implied warranty",
            "Zlib",
        ),
    ];
    for (phrase, id) in phrases {
        let in_head = phrase.starts_with("apache")
            || phrase.starts_with("mozilla")
            || phrase.starts_with("eclipse");
        if (in_head && head.contains(phrase)) || (!in_head && body.contains(phrase)) {
            return Some(Expr::id(id));
        }
    }
    if body.contains("redistribution and use in source and binary forms") {
        let id = if body.contains("all advertising materials") {
            "BSD-4-Clause"
        } else if body.contains("neither the name") || body.contains("may not be used to endorse") {
            "BSD-3-Clause"
        } else {
            "BSD-2-Clause"
        };
        return Some(Expr::id(id));
    }
    if body.contains(
        "permission to use, copy, modify, and/or distribute this software for any purpose",
    ) || body
        .contains("permission to use, copy, modify, and distribute this software for any purpose")
    {
        return Some(Expr::id(
            if body.contains("provided that the above copyright notice") {
                "ISC"
            } else {
                "0BSD"
            },
        ));
    }
    let first_line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if first_line.chars().count() <= 100 {
        return recognise_name(first_line);
    }
    None
}
