//! pip requirement and constraint files (`requirements.txt`, `*.in`, `constraints.txt`).
//!
//! The reading follows pip's own (`pip/_internal/req/req_file.py`): physical lines ending in
//! `\` are joined first (the joined line keeps the number of its first line; a comment line
//! ends a continuation), then comments are cut (`#` at the start or after whitespace), then
//! each line is split into its requirement part (words up to the first one starting with `-`)
//! and its options (split like a shell would). `${VAR}` is left as written. A line with a
//! requirement (or `-e`) yields an entry and keeps only its own `--hash` options; other lines
//! carry file-wide options: `-r`/`-c` are read in place through the [`Loader`], index URLs go
//! to [`Manifest::indexes`], `--find-links` to [`Manifest::not_covered`].
//!
//! pip looks at the file system to tell a local directory from a requirement; this crate is
//! pure, so anything that looks like a path (a `/` or `\`, a leading `.`, an archive name) is
//! taken as one.

use std::collections::HashSet;
use std::path::{Component, Path};
use std::str::FromStr;

use pep508_rs::pep440_rs::Operator;
use pep508_rs::{MarkerTree, Requirement, VerbatimUrl, VersionOrUrl};

use crate::limits::Budget;
use crate::{
    Ecosystem, Entry, Hash, Kind, Loader, Location, Manifest, ManifestError, NotCovered, Origin,
};

/// How deep `-r`/`-c` may nest below the top file.
const MAX_DEPTH: usize = 32;

/// What [`NotCovered::why`] says for `--find-links`.
const FIND_LINKS_WHY: &str =
    "pip also looks for packages at this location, which airlock does not check";

pub(crate) fn parse(
    name: &str,
    text: &str,
    loader: &dyn Loader,
    budget: &mut Budget<'_>,
) -> Result<Manifest, ManifestError> {
    let mut manifest = Manifest {
        kind: Kind::RequirementsTxt,
        entries: Vec::new(),
        not_covered: Vec::new(),
        indexes: Vec::new(),
        requires: None,
    };
    read_lines(name, &physical_lines(text), loader, &mut manifest, budget)?;
    Ok(manifest)
}

/// The lines of `text`, numbered from 1, split where Python's `str.splitlines` splits (pip
/// numbers lines that way).
pub(crate) fn physical_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        lines.push((lines.len() + 1, &text[start..i]));
        start = i + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            start += 1;
        }
    }
    if start < text.len() {
        lines.push((lines.len() + 1, &text[start..]));
    }
    lines
}

/// Reads pip requirement lines (numbered physical lines) as if they were the file `file`:
/// entries, indexes and find-links are added to `manifest`; `-r`/`-c` are resolved relative
/// to `file` through `loader`, within `budget`. conda's `pip:` section is read with it.
pub(crate) fn read_lines(
    file: &str,
    lines: &[(usize, &str)],
    loader: &dyn Loader,
    manifest: &mut Manifest,
    budget: &mut Budget<'_>,
) -> Result<(), ManifestError> {
    let mut reader = Reader {
        loader,
        indexes: manifest.indexes.iter().cloned().collect(),
        not_covered: manifest
            .not_covered
            .iter()
            .map(|n| n.spec.clone())
            .collect(),
        manifest,
        budget,
        stack: vec![(file_key(file), file.to_owned())],
    };
    reader.read(file, lines, false)
}

struct Reader<'a, 'b> {
    loader: &'a dyn Loader,
    manifest: &'a mut Manifest,
    budget: &'a mut Budget<'b>,
    /// The files being read, outermost first: (comparison key, name).
    stack: Vec<(String, String)>,
    /// What `manifest.indexes` and the specs of `manifest.not_covered` hold, for the one-time
    /// additions in constant time (a file of many `-i` lines stays linear).
    indexes: HashSet<String>,
    not_covered: HashSet<String>,
}

impl Reader<'_, '_> {
    fn read(
        &mut self,
        file: &str,
        lines: &[(usize, &str)],
        constraint: bool,
    ) -> Result<(), ManifestError> {
        for (number, line) in logical_lines(lines) {
            self.budget.in_time(file)?;
            self.line(file, number, &line, constraint)?;
        }
        Ok(())
    }

    fn line(
        &mut self,
        file: &str,
        number: usize,
        line: &str,
        constraint: bool,
    ) -> Result<(), ManifestError> {
        let at = |message: String| ManifestError::Line {
            file: file.to_owned(),
            line: number,
            message,
        };
        let (args, options) = split_args_options(line);
        let words = shell_words(&options).map_err(at)?;
        let opts = LineOptions::parse(&words).map_err(at)?;

        if !args.is_empty() || !opts.editables.is_empty() {
            let (text, editable) = match opts.editables.first() {
                Some(first) if args.is_empty() => (first.as_str(), true),
                first => (args.as_str(), first.is_some()),
            };
            let mut entry = requirement(text, editable).map_err(at)?;
            entry.hashes.extend(opts.hashes);
            entry.constraint = constraint;
            entry.location = Some(Location {
                file: file.to_owned(),
                line: number,
            });
            self.budget.entries(
                file,
                self.manifest.entries.len() + self.manifest.not_covered.len() + 1,
            )?;
            self.manifest.entries.push(entry);
            return Ok(());
        }

        for url in opts.indexes {
            if self.indexes.insert(url.clone()) {
                self.manifest.indexes.push(url);
            }
        }
        for link in opts.find_links {
            let spec = format!("--find-links {link}");
            if self.not_covered.insert(spec.clone()) {
                self.manifest.not_covered.push(NotCovered {
                    spec,
                    why: FIND_LINKS_WHY.to_owned(),
                });
            }
        }
        for (target, nested_constraint) in opts.includes {
            self.include(file, number, &target, nested_constraint)?;
        }
        Ok(())
    }

    /// `-r`/`-c target` on line `number` of `file`. As in pip, a `-r` inside a constraints
    /// file reads requirements again, not constraints.
    fn include(
        &mut self,
        file: &str,
        number: usize,
        target: &str,
        constraint: bool,
    ) -> Result<(), ManifestError> {
        let error = |message: String| ManifestError::Include {
            file: file.to_owned(),
            line: number,
            target: target.to_owned(),
            message,
        };
        if self.stack.len() > MAX_DEPTH {
            return Err(error(format!(
                "includes nest deeper than {MAX_DEPTH} files"
            )));
        }
        self.budget.include(file, number)?;
        let (name, text) = self.loader.load(file, target).map_err(error)?;
        self.budget.read(&name, text.len())?;
        let key = file_key(&name);
        if self.stack.iter().any(|(k, _)| *k == key) {
            let chain: Vec<&str> = self
                .stack
                .iter()
                .map(|(_, n)| n.as_str())
                .chain([name.as_str()])
                .collect();
            return Err(error(format!("include cycle: {}", chain.join(" -> "))));
        }
        self.stack.push((key, name.clone()));
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        self.read(&name, &physical_lines(text), constraint)?;
        self.stack.pop();
        Ok(())
    }
}

/// A file name compared lexically for cycles: `a/./b/../c.txt` and `a/c.txt` are one file.
fn file_key(name: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut absolute = false;
    for part in Path::new(name).components() {
        match part {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..".to_owned());
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => absolute = true,
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// pip's `preprocess`: joins continuations, cuts comments, drops blank lines. Lazily, so that
/// a reading stopped by a limit has not copied the rest of the file.
fn logical_lines<'a>(lines: &'a [(usize, &'a str)]) -> impl Iterator<Item = (usize, String)> + 'a {
    let finish = |number: usize, line: &str| {
        let line = strip_comment(line).trim();
        (!line.is_empty()).then(|| (number, line.to_owned()))
    };
    let mut pending: Option<(usize, String)> = None;
    let mut rest = lines.iter();
    std::iter::from_fn(move || {
        loop {
            let Some(&(number, line)) = rest.next() else {
                let (first, joined) = pending.take()?;
                return finish(first, &joined);
            };
            let comment = line.trim_start().starts_with('#');
            if !line.ends_with('\\') || comment {
                let done = match pending.take() {
                    Some((first, mut joined)) => {
                        // A comment line closes a continuation; pip puts a space before it so
                        // that the comment is still cut once joined.
                        if comment {
                            joined.push(' ');
                        }
                        joined.push_str(line);
                        finish(first, &joined)
                    }
                    None => finish(number, line),
                };
                if done.is_some() {
                    return done;
                }
            } else {
                let part = line.trim_matches('\\');
                match &mut pending {
                    Some((_, joined)) => joined.push_str(part),
                    None => pending = Some((number, part.to_owned())),
                }
            }
        }
    })
}

/// Cuts a `#` comment that starts the line or follows whitespace (`pkg#egg` is not one).
fn strip_comment(line: &str) -> &str {
    let mut previous: Option<char> = None;
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_none_or(char::is_whitespace) {
            return &line[..i];
        }
        previous = Some(c);
    }
    line
}

/// pip's `break_args_options`: the words (split on spaces) before the first one starting
/// with `-` are the requirement, the rest are options.
fn split_args_options(line: &str) -> (String, String) {
    let words: Vec<&str> = line.split(' ').collect();
    let split = words
        .iter()
        .position(|w| w.starts_with('-'))
        .unwrap_or(words.len());
    (
        words[..split].join(" ").trim().to_owned(),
        words[split..].join(" "),
    )
}

/// Splits options like a POSIX shell (Python's `shlex.split`): whitespace separates words,
/// quotes group, a backslash escapes the next character.
fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quotation in options {text}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("no closing quotation in options {text}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quotation in options {text}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("no escaped character after \\ in options {text}")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// What an option does here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Requirement,
    Constraint,
    Editable,
    IndexUrl,
    FindLinks,
    Hash,
    /// Accepted, nothing to record (`--pre`, `--trusted-host`, …).
    Ignore,
}

struct OptionSpec {
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    action: Action,
}

const fn opt(
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    action: Action,
) -> OptionSpec {
    OptionSpec {
        long,
        short,
        takes_value,
        action,
    }
}

/// The options pip accepts in requirement files (`SUPPORTED_OPTIONS` and
/// `SUPPORTED_OPTIONS_REQ`), with those of older pips still found in files
/// (`--install-option`, `--global-option`).
const OPTIONS: &[OptionSpec] = &[
    opt("index-url", Some('i'), true, Action::IndexUrl),
    opt("pypi-url", None, true, Action::IndexUrl),
    opt("extra-index-url", None, true, Action::IndexUrl),
    opt("no-index", None, false, Action::Ignore),
    opt("constraint", Some('c'), true, Action::Constraint),
    opt("requirement", Some('r'), true, Action::Requirement),
    opt("editable", Some('e'), true, Action::Editable),
    opt("find-links", Some('f'), true, Action::FindLinks),
    opt("no-binary", None, true, Action::Ignore),
    opt("only-binary", None, true, Action::Ignore),
    opt("prefer-binary", None, false, Action::Ignore),
    opt("require-hashes", None, false, Action::Ignore),
    opt("no-require-hashes", None, false, Action::Ignore),
    opt("pre", None, false, Action::Ignore),
    opt("all-releases", None, true, Action::Ignore),
    opt("only-final", None, true, Action::Ignore),
    opt("trusted-host", None, true, Action::Ignore),
    opt("use-feature", None, true, Action::Ignore),
    opt("hash", None, true, Action::Hash),
    opt("config-settings", Some('C'), true, Action::Ignore),
    opt("global-option", None, true, Action::Ignore),
    opt("install-option", None, true, Action::Ignore),
];

/// The options of one line, in the order written.
#[derive(Default)]
struct LineOptions {
    /// `-r` (false) and `-c` (true) targets.
    includes: Vec<(String, bool)>,
    editables: Vec<String>,
    indexes: Vec<String>,
    find_links: Vec<String>,
    hashes: Vec<Hash>,
}

impl LineOptions {
    /// Reads option words the way optparse does: `--long=value`, `--long value`, unambiguous
    /// prefixes of long names, `-xvalue` and `-x value`; words that are no option are ignored
    /// (as pip does), `--` ends the options.
    fn parse(words: &[String]) -> Result<LineOptions, String> {
        let mut opts = LineOptions::default();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            if word == "--" {
                break;
            }
            let (spec, attached, shown) = if let Some(long) = word.strip_prefix("--") {
                let (name, value) = match long.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_owned())),
                    None => (long, None),
                };
                (find_long(name)?, value, format!("--{name}"))
            } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
                let mut chars = short.chars();
                let letter = chars.next().unwrap_or('-');
                let rest = chars.as_str();
                let spec = OPTIONS
                    .iter()
                    .find(|o| o.short == Some(letter))
                    .ok_or_else(|| format!("unknown option -{letter}"))?;
                // Every short option pip knows here takes a value, which may be attached.
                (
                    spec,
                    (!rest.is_empty()).then(|| rest.to_owned()),
                    format!("-{letter}"),
                )
            } else {
                continue;
            };
            let value = if spec.takes_value {
                match attached {
                    Some(value) => value,
                    None => words
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("option {shown} needs a value"))?,
                }
            } else {
                if attached.is_some() {
                    return Err(format!("option {shown} takes no value"));
                }
                String::new()
            };
            match spec.action {
                Action::Requirement => opts.includes.push((value, false)),
                Action::Constraint => opts.includes.push((value, true)),
                Action::Editable => opts.editables.push(value),
                Action::IndexUrl => opts.indexes.push(value),
                Action::FindLinks => opts.find_links.push(value),
                Action::Hash => opts.hashes.push(parse_hash(&value)?),
                Action::Ignore => {}
            }
        }
        Ok(opts)
    }
}

fn find_long(name: &str) -> Result<&'static OptionSpec, String> {
    if let Some(spec) = OPTIONS.iter().find(|o| o.long == name) {
        return Ok(spec);
    }
    let candidates: Vec<&OptionSpec> = if name.is_empty() {
        Vec::new()
    } else {
        OPTIONS
            .iter()
            .filter(|o| o.long.starts_with(name))
            .collect()
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown option --{name}")),
        many => {
            let names: Vec<String> = many.iter().map(|o| format!("--{}", o.long)).collect();
            Err(format!("ambiguous option --{name} ({})", names.join(", ")))
        }
    }
}

/// `--hash=sha256:…`: pip only takes the strong algorithms.
fn parse_hash(value: &str) -> Result<Hash, String> {
    let (algorithm, digest) = value
        .split_once(':')
        .filter(|(a, d)| !a.is_empty() && !d.is_empty())
        .ok_or_else(|| {
            format!("--hash needs an algorithm and a value, like sha256:0123…, not {value:?}")
        })?;
    let algorithm = algorithm.to_ascii_lowercase();
    if !matches!(algorithm.as_str(), "sha256" | "sha384" | "sha512") {
        return Err(format!(
            "--hash algorithm {algorithm} is not one pip accepts (sha256, sha384, sha512)"
        ));
    }
    Ok(Hash {
        algorithm,
        value: digest.to_ascii_lowercase(),
    })
}

/// One requirement (the words before the options, or the value of `-e`) as an entry with
/// name, version or specifier, extras, marker and origin.
fn requirement(text: &str, editable: bool) -> Result<Entry, String> {
    let text = text.trim();
    let url = is_url(text);
    // pip splits the marker off first; a URL needs `; ` since `;` may be part of it.
    let (body, marker) = match text.split_once(if url { "; " } else { ";" }) {
        Some((body, marker)) => (body.trim(), Some(marker.trim())),
        None => (text, None),
    };
    let marker = marker.filter(|m| !m.is_empty());
    if let Some(marker) = marker {
        // pep508_rs 0.9 slices a marker by a count of characters as if it were bytes (a panic
        // on multi-byte text after an expression): markers are ASCII in practice.
        if !marker.is_ascii() {
            return Err(format!(
                "invalid marker {marker:?}: only ASCII characters are supported in markers"
            ));
        }
        // pep508_rs parses parentheses recursively: bound the depth before it overflows.
        if paren_depth(marker) > MAX_MARKER_DEPTH {
            return Err(format!(
                "invalid marker {marker:?}: parentheses nest deeper than {MAX_MARKER_DEPTH}"
            ));
        }
        MarkerTree::from_str(marker).map_err(|e| {
            format!(
                "invalid marker {marker:?}: {}",
                lower_first(&e.message.to_string())
            )
        })?;
    }
    let mut entry = Entry::new(Ecosystem::Pypi, "");
    entry.editable = editable;
    entry.marker = marker.map(str::to_owned);

    if url {
        from_location(&mut entry, body);
    } else if let Some(at) = direct_reference(body) {
        let (name, extras) =
            name_and_extras(&body[..at]).ok_or_else(|| format!("invalid requirement {body:?}"))?;
        validate(&body[..at])?;
        let location = body[at + 1..].trim();
        if location.is_empty() {
            return Err(format!("invalid requirement {body:?}: no url after @"));
        }
        if location.contains(char::is_whitespace) {
            return Err(format!(
                "invalid requirement {body:?}: the url after @ cannot contain spaces"
            ));
        }
        from_location(&mut entry, location);
        if normalize(&entry.name) != normalize(name) {
            // The archive's file name is of another project: no version from it.
            entry.version = None;
        }
        entry.name = name.to_owned();
        entry.extras = extras;
    } else if looks_like_path(body) || is_archive(body) {
        let (path, extras) = strip_extras(body);
        from_location(&mut entry, path);
        if entry.extras.is_empty() {
            entry.extras = extras;
        }
    } else {
        from_specifier(&mut entry, body)?;
    }
    if editable && entry.from_registry() {
        return Err(format!(
            "{text} is not a valid editable requirement (it should be a path to a local project or a VCS URL)"
        ));
    }
    Ok(entry)
}

/// The version specifiers of one PEP 508 requirement (a `Requires-Dist` value) as written
/// (`>=2.5,<4`; `==1.2` for a pin), empty when any version will do; `None` for a URL or path
/// requirement or one that does not parse.
pub fn requirement_specifiers(text: &str) -> Option<String> {
    let entry = requirement(text, false).ok()?;
    if !entry.from_registry() {
        return None;
    }
    Some(match (entry.version, entry.specifier) {
        (Some(v), _) => format!("=={v}"),
        (None, Some(s)) => s,
        (None, None) => String::new(),
    })
}

/// How deep parentheses may nest in a marker (real ones nest two or three).
pub(crate) const MAX_MARKER_DEPTH: usize = 64;

/// The deepest nesting of parentheses in `text` (quotes not considered: a bound, not a parse).
pub(crate) fn paren_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `name[extras] specifier` (no marker, no URL).
fn from_specifier(entry: &mut Entry, body: &str) -> Result<(), String> {
    let hint = |message: String| {
        let operators = ["~=", "==", "!=", "<=", ">=", "<", ">"];
        if body.contains('=') && !operators.iter().any(|op| body.contains(op)) {
            format!("{message} (= is not an operator; did you mean ==?)")
        } else {
            message
        }
    };
    let (name, extras) =
        name_and_extras(body).ok_or_else(|| hint(format!("invalid requirement {body:?}")))?;
    let written = written_specifier(body);
    entry.name = name.to_owned();
    entry.extras = extras;

    // packaging allows `===` with any string, pep440 parsers only with versions.
    if let Some(arbitrary) = written.as_deref().and_then(|s| s.strip_prefix("==="))
        && !arbitrary.is_empty()
        && !arbitrary.contains(',')
    {
        validate(&body[..body.len() - after_extras(body).len()])?;
        entry.version = Some(arbitrary.to_owned());
        return Ok(());
    }

    let parsed = validate(body).map_err(hint)?;
    let pinned = match &parsed.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
            let clauses: Vec<_> = specifiers.iter().collect();
            matches!(clauses.as_slice(), [one] if matches!(one.operator(), Operator::Equal | Operator::ExactEqual))
        }
        _ => false,
    };
    match written {
        Some(spec) if pinned => {
            let version = spec.trim_start_matches('=');
            entry.version = Some(version.to_owned());
        }
        spec => entry.specifier = spec,
    }
    Ok(())
}

/// Parses with pep508_rs, only to check the requirement is valid.
fn validate(text: &str) -> Result<Requirement<VerbatimUrl>, String> {
    // pep508_rs 0.9 panics (an `expect`) on a name or extra ending in `.`, `-` or `_` that is
    // followed by more text: refuse those first.
    let bad_end = |word: &str| word.ends_with(['.', '-', '_']);
    let trimmed = text.trim_start();
    let end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(trimmed.len());
    if bad_end(&trimmed[..end]) {
        return Err(format!(
            "invalid requirement {text:?}: a name must end with a letter or digit"
        ));
    }
    if let Some(inside) = trimmed[end..].trim_start().strip_prefix('[') {
        let inside = inside.split(']').next().unwrap_or(inside);
        let words = inside.split(|c: char| c == ',' || c.is_whitespace());
        if let Some(word) = words.into_iter().find(|w| bad_end(w)) {
            return Err(format!(
                "invalid requirement {text:?}: extra {word:?} must end with a letter or digit"
            ));
        }
    }
    Requirement::<VerbatimUrl>::from_str(text).map_err(|e| {
        format!(
            "invalid requirement {text:?}: {}",
            lower_first(&e.message.to_string())
        )
    })
}

fn lower_first(message: &str) -> String {
    let message = message.lines().next().unwrap_or("").trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The name as written and the extras as written of `name [extras] …`; `None` when the text
/// does not start with a name.
fn name_and_extras(text: &str) -> Option<(&str, Vec<String>)> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(text.len());
    if end == 0 {
        return None;
    }
    let rest = text[end..].trim_start();
    let extras = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((inside, _)) => inside
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    Some((&text[..end], extras))
}

/// What follows the name and extras.
fn after_extras(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(text.len());
    let rest = text[end..].trim_start();
    match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((_, after)) => after,
        None => rest,
    }
}

/// The version specifier as written, whitespace (and PEP 508's optional parentheses) removed.
fn written_specifier(text: &str) -> Option<String> {
    let mut spec: String = after_extras(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if spec.starts_with('(') && spec.ends_with(')') {
        spec = spec[1..spec.len() - 1].to_owned();
    }
    (!spec.is_empty()).then_some(spec)
}

/// The byte offset of `@` in `name [extras] @ url`.
fn direct_reference(text: &str) -> Option<usize> {
    let (name, _) = name_and_extras(text)?;
    if name.starts_with('.') {
        return None;
    }
    let rest = after_extras(text);
    rest.trim_start()
        .starts_with('@')
        .then(|| text.len() - rest.trim_start().len())
}

/// `path[extra,…]` -> (`path`, extras), as pip strips extras from paths.
fn strip_extras(text: &str) -> (&str, Vec<String>) {
    if text.ends_with(']')
        && let Some(open) = text.rfind('[')
    {
        let inside = &text[open + 1..text.len() - 1];
        if open > 0 && !inside.is_empty() && !inside.contains(']') {
            let extras = inside
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
            return (text[..open].trim_end(), extras);
        }
    }
    (text, Vec::new())
}

/// The scheme of `scheme:…`, when the text starts with a valid one of two letters or more
/// (one letter is a Windows drive).
fn scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.len() > 1;
    valid.then_some(scheme)
}

fn is_vcs_scheme(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    let kind = scheme.split('+').next().unwrap_or("");
    matches!(kind, "git" | "hg" | "svn" | "bzr") && (scheme.contains('+') || kind == scheme)
}

/// pip's `is_url`, widened to any `scheme://` and to `git+user@host:path`.
fn is_url(text: &str) -> bool {
    if text
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("git+"))
    {
        return true;
    }
    match scheme(text) {
        Some(s) => {
            is_vcs_scheme(s)
                || matches!(
                    s.to_ascii_lowercase().as_str(),
                    "http" | "https" | "file" | "ftp"
                )
                || text[s.len()..].starts_with("://")
        }
        None => false,
    }
}

/// pip's `_looks_like_path`.
fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.contains('\\') || text.starts_with('.')
}

const ARCHIVE_SUFFIXES: &[&str] = &[
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".zip",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tlz",
    ".tar.lzma",
];

fn is_archive(text: &str) -> bool {
    archive_suffix(text).is_some()
}

fn archive_suffix(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    ARCHIVE_SUFFIXES
        .iter()
        .copied()
        .filter(|s| lower.ends_with(s))
        .max_by_key(|s| s.len())
}

/// Origin, name (unless one is set later), extras and version of a URL or path.
fn from_location(entry: &mut Entry, location: &str) {
    let (without_fragment, fragment) = match location.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (location, None),
    };
    let mut egg = None;
    for (key, value) in fragment
        .into_iter()
        .flat_map(|f| f.split('&'))
        .filter_map(|p| p.split_once('='))
    {
        match key {
            "egg" if !value.is_empty() => egg = Some(value),
            "sha1" | "sha224" | "sha256" | "sha384" | "sha512" | "md5" if !value.is_empty() => {
                entry.hashes.push(Hash {
                    algorithm: key.to_owned(),
                    value: value.to_ascii_lowercase(),
                });
            }
            _ => {}
        }
    }
    let file_name = without_fragment
        .split('?')
        .next()
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .map(percent_decode)
        .unwrap_or_default();
    let from_file = file_name_parts(&file_name);

    let lower = without_fragment.to_ascii_lowercase();
    let url_scheme = scheme(location);
    entry.origin = if url_scheme.is_some_and(is_vcs_scheme) || lower.starts_with("git+") {
        let (url, reference) = split_vcs_rev(without_fragment);
        Origin::Vcs {
            url: url.to_owned(),
            reference: reference.map(str::to_owned),
        }
    } else if lower.starts_with("file:") && from_file.is_none() {
        let path = ["file://localhost", "file://", "file:"]
            .iter()
            .find_map(|p| {
                without_fragment
                    .get(p.len()..)
                    .filter(|_| lower.starts_with(p))
            })
            .unwrap_or(without_fragment);
        Origin::Path {
            path: path.to_owned(),
        }
    } else if url_scheme.is_some() {
        Origin::Url {
            url: without_fragment.to_owned(),
        }
    } else {
        Origin::Path {
            path: without_fragment.to_owned(),
        }
    };

    let is_wheel = file_name.to_ascii_lowercase().ends_with(".whl");
    let (egg_name, egg_extras) = match egg {
        Some(egg) => {
            let (name, extras) = strip_extras(egg);
            (Some(name), extras)
        }
        None => (None, Vec::new()),
    };
    entry.extras = egg_extras;
    let vcs = matches!(entry.origin, Origin::Vcs { .. });
    match (from_file.filter(|_| !vcs), egg_name) {
        (Some((name, version)), egg) if is_wheel || egg.is_none() => {
            entry.name = name;
            entry.version = Some(version);
        }
        (Some((name, version)), Some(egg)) => {
            if normalize(&name) == normalize(egg) {
                entry.version = Some(version);
            }
            entry.name = egg.to_owned();
        }
        (None, Some(egg)) => entry.name = egg.to_owned(),
        (_, None) => entry.name = location.to_owned(),
    }
}

/// `git+https://host/repo.git@v1` -> (`git+https://host/repo.git`, `v1`): the revision is
/// after the last `@` of the path (not of `user@host`).
fn split_vcs_rev(url: &str) -> (&str, Option<&str>) {
    let path_start = match url.find("://") {
        Some(i) => {
            let after = i + 3;
            url[after..].find('/').map_or(url.len(), |p| after + p)
        }
        // `git+git@github.com:org/repo.git@v1`: the path starts after the host's `:`.
        None => {
            let host_start = url.find('+').map_or(0, |p| p + 1);
            url[host_start..]
                .find(':')
                .map_or(url.len(), |p| host_start + p + 1)
        }
    };
    match url[path_start..].rfind('@') {
        Some(at) => {
            let at = path_start + at;
            let reference = &url[at + 1..];
            (&url[..at], (!reference.is_empty()).then_some(reference))
        }
        None => (url, None),
    }
}

/// Name and version from a wheel or sdist file name.
fn file_name_parts(file_name: &str) -> Option<(String, String)> {
    let suffix = archive_suffix(file_name)?;
    let stem = &file_name[..file_name.len() - suffix.len()];
    if suffix == ".whl" {
        let parts: Vec<&str> = stem.split('-').collect();
        if (5..=6).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty()) {
            return Some((parts[0].to_owned(), parts[1].to_owned()));
        }
        return None;
    }
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| (name.to_owned(), version.to_owned()))
}

pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '_' | '.') {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// `%2B` -> `+` (file names in URLs); the text as is when it does not decode to UTF-8.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{MapLoader, NoIncludes};

    /// This module's reading through the crate's entry point (limits included).
    fn parse(name: &str, text: &str, loader: &dyn Loader) -> Result<Manifest, ManifestError> {
        crate::parse(Kind::RequirementsTxt, name, text, loader)
    }

    /// One entry on one line: `name ==version spec [extras] ; marker origin hashes flags (file:line)`.
    fn show(e: &Entry) -> String {
        let mut out = e.name.clone();
        if let Some(v) = &e.version {
            out += &format!(" =={v}");
        }
        if let Some(s) = &e.specifier {
            out += &format!(" {s}");
        }
        if !e.extras.is_empty() {
            out += &format!(" [{}]", e.extras.join(","));
        }
        if let Some(m) = &e.marker {
            out += &format!(" ; {m}");
        }
        match &e.origin {
            Origin::Registry { index: None } => {}
            Origin::Registry { index: Some(i) } => out += &format!(" index={i}"),
            Origin::Vcs { url, reference } => {
                out += &format!(" vcs={url}");
                if let Some(r) = reference {
                    out += &format!("@{r}");
                }
            }
            Origin::Url { url } => out += &format!(" url={url}"),
            Origin::Path { path } => out += &format!(" path={path}"),
        }
        for h in &e.hashes {
            out += &format!(" {}:{}", h.algorithm, h.value);
        }
        if e.editable {
            out += " editable";
        }
        if e.constraint {
            out += " constraint";
        }
        if let Some(l) = &e.location {
            out += &format!(" ({}:{})", l.file, l.line);
        }
        out
    }

    fn entries(m: &Manifest) -> Vec<String> {
        m.entries.iter().map(show).collect()
    }

    /// Parses `input` as `requirements.txt` with the `files` beside it and compares its
    /// entries.
    fn check_files(input: &str, files: &[(&str, &str)], expected: &[&str]) -> Manifest {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let m = parse("requirements.txt", input, &MapLoader { files: &files }).unwrap();
        assert_eq!(entries(&m), expected, "input:\n{input}");
        m
    }

    fn check(input: &str, expected: &[&str]) -> Manifest {
        check_files(input, &[], expected)
    }

    fn error(input: &str) -> ManifestError {
        parse("requirements.txt", input, &NoIncludes).unwrap_err()
    }

    fn line_error(input: &str) -> (usize, String) {
        match error(input) {
            ManifestError::Line {
                file,
                line,
                message,
            } => {
                assert_eq!(file, "requirements.txt");
                (line, message)
            }
            other => panic!("not a line error: {other:?}"),
        }
    }

    #[test]
    fn pins_specifiers_and_names_as_written() {
        check(
            "Django==4.2.1\nrequests>=2.0, <3\nflask\nnumpy == 1.26.*\nfoo===1.0\nbar===local-thing\n\
             baz~=1.4\nqux (==2.0)\nquux==1.0,==1.0\nzope.interface!=5.0\n",
            &[
                "Django ==4.2.1 (requirements.txt:1)",
                "requests >=2.0,<3 (requirements.txt:2)",
                "flask (requirements.txt:3)",
                "numpy ==1.26.* (requirements.txt:4)",
                "foo ==1.0 (requirements.txt:5)",
                "bar ==local-thing (requirements.txt:6)",
                "baz ~=1.4 (requirements.txt:7)",
                "qux ==2.0 (requirements.txt:8)",
                "quux ==1.0,==1.0 (requirements.txt:9)",
                "zope.interface !=5.0 (requirements.txt:10)",
            ],
        );
    }

    #[test]
    fn extras_and_markers() {
        check(
            "requests[security, socks]>=2.8 ; python_version < \"3.8\"\n\
             pywin32==306; sys_platform == 'win32'\n\
             sphinx[test]\n\
             foo[]\n",
            &[
                "requests >=2.8 [security,socks] ; python_version < \"3.8\" (requirements.txt:1)",
                "pywin32 ==306 ; sys_platform == 'win32' (requirements.txt:2)",
                "sphinx [test] (requirements.txt:3)",
                "foo (requirements.txt:4)",
            ],
        );
        let (line, message) = line_error("\nfoo ; python_version <<< '3'\n");
        assert_eq!(line, 2);
        assert!(message.starts_with("invalid marker"), "{message}");
        // Text pep508_rs would slice inside a character.
        assert!(
            line_error("foo ; os_name == \"x\" \u{356}\u{356}x\n")
                .1
                .contains("only ASCII")
        );
        // Nesting deep enough to overflow pep508_rs's recursive parser is refused first.
        let deep = format!(
            "foo ; {}python_version > '3'{}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(
            line_error(&deep)
                .1
                .ends_with("parentheses nest deeper than 64")
        );
        let fine = format!(
            "foo ; {}python_version > '3'{}\n",
            "(".repeat(64),
            ")".repeat(64)
        );
        assert_eq!(parse("r.txt", &fine, &NoIncludes).unwrap().entries.len(), 1);
    }

    #[test]
    fn comments_blank_lines_and_pip_compile_via_blocks() {
        check(
            "#\n# This file is autogenerated by pip-compile\n#\n\n\
             amqp==5.3.1\n    # via kombu\nasgiref==3.12.1\n    # via\n    #   django\n    #   -r requirements/pip.in\n\
             psutil  # system resources\nsetuptools>=70.0.0 # fix\n\t# indented comment\n",
            &[
                "amqp ==5.3.1 (requirements.txt:5)",
                "asgiref ==3.12.1 (requirements.txt:7)",
                "psutil (requirements.txt:11)",
                "setuptools >=70.0.0 (requirements.txt:12)",
            ],
        );
        // `foo#not-a-comment` is no comment: pip reads it as a (bad) requirement.
        assert_eq!(line_error("foo#x\n").0, 1);
    }

    #[test]
    fn continuations_take_the_first_line_number() {
        check(
            "first==1\nrequests==2.31.0 \\\n    --hash=sha256:AAAA \\\n    --hash=sha256:bbbb\n\
             flask\\\n>=2\n# a comment \\\nlast==3 \\\n# ends the continuation\nafter==4\n",
            &[
                "first ==1 (requirements.txt:1)",
                "requests ==2.31.0 sha256:aaaa sha256:bbbb (requirements.txt:2)",
                "flask >=2 (requirements.txt:5)",
                "last ==3 (requirements.txt:8)",
                "after ==4 (requirements.txt:10)",
            ],
        );
        // A continuation at the end of the file, and CRLF line ends.
        check(
            "a==1\r\nb==2 \\\r\n",
            &["a ==1 (requirements.txt:1)", "b ==2 (requirements.txt:2)"],
        );
    }

    #[test]
    fn hashes_attach_to_their_line() {
        check(
            "six==1.16.0 --hash=sha256:1e61 --hash sha512:ABCD\nattrs==23.1.0 --hash=SHA384:ff\n",
            &[
                "six ==1.16.0 sha256:1e61 sha512:abcd (requirements.txt:1)",
                "attrs ==23.1.0 sha384:ff (requirements.txt:2)",
            ],
        );
        assert!(
            line_error("six==1 --hash=md5:00\n")
                .1
                .contains("sha256, sha384, sha512")
        );
        assert!(
            line_error("six==1 --hash=sha256\n")
                .1
                .contains("--hash needs")
        );
        assert!(line_error("six==1 --hash\n").1.contains("needs a value"));
        // A hash on an option line has no entry to go to; pip ignores it.
        check("--hash=sha256:00\n", &[]);
    }

    #[test]
    fn index_options_and_ignored_options() {
        let m = check(
            "-i https://pypi.example/simple\n--index-url=https://mirror.example/simple\n\
             --extra-index-url https://extra.example/simple\n--extra-index https://abbrev.example/simple\n\
             --pypi-url https://old.example/simple\n-ihttps://attached.example/simple\n\
             --extra-index-url https://extra.example/simple\n\
             -f https://download.pytorch.org/whl/torch_stable.html\n--find-links=./wheels\n\
             --no-index\n--pre\n--trusted-host pypi.example\n--prefer-binary\n--only-binary :all:\n\
             --no-binary=pkg\n--require-hashes\n--no-require-hashes\n--use-feature=truststore\n\
             --all-releases :all:\n--only-final pkg\n\
             -C key=value\n--config-settings=\"--build-option=--x\"\n--global-option=--no-user-cfg\n--install-option '--prefix=/x'\n\
             pkg==1 --config-settings key=value --global-option=-q -i https://ignored.example\n",
            &["pkg ==1 (requirements.txt:25)"],
        );
        assert_eq!(
            m.indexes,
            [
                "https://pypi.example/simple",
                "https://mirror.example/simple",
                "https://extra.example/simple",
                "https://abbrev.example/simple",
                "https://old.example/simple",
                "https://attached.example/simple",
            ]
        );
        assert_eq!(
            m.not_covered,
            [
                NotCovered {
                    spec: "--find-links https://download.pytorch.org/whl/torch_stable.html".into(),
                    why: FIND_LINKS_WHY.into()
                },
                NotCovered {
                    spec: "--find-links ./wheels".into(),
                    why: FIND_LINKS_WHY.into()
                },
            ]
        );
    }

    #[test]
    fn unknown_and_malformed_options_are_errors() {
        assert_eq!(
            line_error("ok==1\n--frobnicate\n"),
            (2, "unknown option --frobnicate".to_owned())
        );
        assert_eq!(line_error("-x foo\n"), (1, "unknown option -x".to_owned()));
        assert_eq!(line_error("pkg==1 --bogus=1\n").1, "unknown option --bogus");
        assert!(
            line_error("--in x\n")
                .1
                .starts_with("ambiguous option --in")
        );
        assert_eq!(line_error("--pre=yes\n").1, "option --pre takes no value");
        assert_eq!(line_error("-r\n").1, "option -r needs a value");
        assert!(
            line_error("-i 'https://unclosed\n")
                .1
                .starts_with("no closing quotation")
        );
        assert!(line_error("foo bar\n").1.starts_with("invalid requirement"));
        assert!(line_error("foo=1\n").1.contains("did you mean =="));
        // Names and extras pep508_rs would panic on.
        for bad in ["a.>=1", "a. ", "a-[x]", "foo[a.]", "foo[a. ,b]", "foo[a."] {
            let (_, message) = line_error(&format!("{bad}\n"));
            assert!(
                message.contains("must end with a letter or digit"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn env_vars_stay_as_written() {
        let m = check(
            "-i https://${USER}:${TOKEN}@pypi.example/simple\nfoo @ https://${HOST}/foo-1.0.tar.gz\n",
            &["foo ==1.0 url=https://${HOST}/foo-1.0.tar.gz (requirements.txt:2)"],
        );
        assert_eq!(m.indexes, ["https://${USER}:${TOKEN}@pypi.example/simple"]);
    }

    #[test]
    fn urls_vcs_and_paths() {
        check(
            "git+https://github.com/org/repo.git@v1.2#egg=Repo[cli]&subdirectory=pkg\n\
             git+ssh://git@github.com/org/private.git@abc123#egg=private\n\
             git+https://github.com/org/noname\n\
             hg+https://hg.example/repo@tip#egg=hgpkg\n\
             svn+svn://svn.example/trunk#egg=svnpkg\n\
             bzr+lp:project#egg=bzrpkg\n\
             git+git@github.com:org/scp.git@main#egg=scp\n\
             https://files.example/pkgs/numpy-1.26.0-cp311-cp311-manylinux_2_17_x86_64.whl\n\
             https://files.example/torch-2.0.0%2Bcu118-cp310-cp310-linux_x86_64.whl#sha256=ABCD\n\
             https://files.example/archive/main.zip\n\
             https://files.example/archive/main.zip#egg=mainpkg\n\
             ./local\n\
             .\n\
             ../sibling[extra1, extra2]\n\
             ./dist/pkg_name-2.0.tar.gz\n\
             dist/pkg-2.0-py3-none-any.whl ; python_version >= '3'\n\
             file:///abs/project\n\
             file:../relative\n\
             file:///abs/wheels/mypkg-3.1-py3-none-any.whl\n\
             https://example.com/x.whl; sys_platform == 'linux'\n",
            &[
                "Repo [cli] vcs=git+https://github.com/org/repo.git@v1.2 (requirements.txt:1)",
                "private vcs=git+ssh://git@github.com/org/private.git@abc123 (requirements.txt:2)",
                "git+https://github.com/org/noname vcs=git+https://github.com/org/noname (requirements.txt:3)",
                "hgpkg vcs=hg+https://hg.example/repo@tip (requirements.txt:4)",
                "svnpkg vcs=svn+svn://svn.example/trunk (requirements.txt:5)",
                "bzrpkg vcs=bzr+lp:project (requirements.txt:6)",
                "scp vcs=git+git@github.com:org/scp.git@main (requirements.txt:7)",
                "numpy ==1.26.0 url=https://files.example/pkgs/numpy-1.26.0-cp311-cp311-manylinux_2_17_x86_64.whl (requirements.txt:8)",
                "torch ==2.0.0+cu118 url=https://files.example/torch-2.0.0%2Bcu118-cp310-cp310-linux_x86_64.whl sha256:abcd (requirements.txt:9)",
                "https://files.example/archive/main.zip url=https://files.example/archive/main.zip (requirements.txt:10)",
                "mainpkg url=https://files.example/archive/main.zip (requirements.txt:11)",
                "./local path=./local (requirements.txt:12)",
                ". path=. (requirements.txt:13)",
                "../sibling [extra1,extra2] path=../sibling (requirements.txt:14)",
                "pkg_name ==2.0 path=./dist/pkg_name-2.0.tar.gz (requirements.txt:15)",
                "pkg ==2.0 ; python_version >= '3' path=dist/pkg-2.0-py3-none-any.whl (requirements.txt:16)",
                "file:///abs/project path=/abs/project (requirements.txt:17)",
                "file:../relative path=../relative (requirements.txt:18)",
                "mypkg ==3.1 url=file:///abs/wheels/mypkg-3.1-py3-none-any.whl (requirements.txt:19)",
                "https://example.com/x.whl ; sys_platform == 'linux' url=https://example.com/x.whl (requirements.txt:20)",
            ],
        );
    }

    #[test]
    fn direct_references() {
        check(
            "foo @ https://files.example/foo-1.0-py3-none-any.whl\n\
             bar[extra] @ git+https://github.com/org/bar.git@v2 ; python_version >= \"3.9\"\n\
             baz@file:///abs/baz\n\
             qux @ https://files.example/other-1.0.tar.gz\n",
            &[
                "foo ==1.0 url=https://files.example/foo-1.0-py3-none-any.whl (requirements.txt:1)",
                "bar [extra] ; python_version >= \"3.9\" vcs=git+https://github.com/org/bar.git@v2 (requirements.txt:2)",
                "baz path=/abs/baz (requirements.txt:3)",
                "qux url=https://files.example/other-1.0.tar.gz (requirements.txt:4)",
            ],
        );
        assert!(line_error("foo @\n").1.contains("no url after @"));
        assert!(
            line_error("x @ a_ @ b\n")
                .1
                .contains("cannot contain spaces")
        );
    }

    #[test]
    fn editables() {
        check(
            "-e .\n--editable=./sub[dev]\n-e git+https://github.com/org/repo.git@main#egg=repo\n\
             -e \"repo2 @ git+https://github.com/org/repo2.git\"\n-e./attached\n\
             -e . --config-settings editable_mode=compat\n",
            &[
                ". path=. editable (requirements.txt:1)",
                "./sub [dev] path=./sub editable (requirements.txt:2)",
                "repo vcs=git+https://github.com/org/repo.git@main editable (requirements.txt:3)",
                "repo2 vcs=git+https://github.com/org/repo2.git editable (requirements.txt:4)",
                "./attached path=./attached editable (requirements.txt:5)",
                ". path=. editable (requirements.txt:6)",
            ],
        );
    }

    #[test]
    fn includes_are_read_in_place_relative_to_the_including_file() {
        let m = check_files(
            "first==1\n-r requirements/pip.txt\n-c constraints.txt\nlast==9\n",
            &[
                (
                    "requirements/pip.txt",
                    "# pinned\nboto3==1.0\n--requirement base.txt\n-i https://idx.example/simple\n",
                ),
                ("requirements/base.txt", "six==1.16\n"),
                ("constraints.txt", "urllib3<2\n-r more.txt\n"),
                ("more.txt", "idna==3.4\n"),
            ],
            &[
                "first ==1 (requirements.txt:1)",
                "boto3 ==1.0 (requirements/pip.txt:2)",
                "six ==1.16 (requirements/base.txt:1)",
                "urllib3 <2 constraint (constraints.txt:1)",
                // pip reads `-r` inside a constraints file as requirements again.
                "idna ==3.4 (more.txt:1)",
                "last ==9 (requirements.txt:4)",
            ],
        );
        assert_eq!(m.indexes, ["https://idx.example/simple"]);
        // The readthedocs layout: testing.in includes `-r pip.txt` beside it.
        let files = BTreeMap::from([
            (
                "requirements/pip.txt".to_owned(),
                "amqp==5.3.1\n".to_owned(),
            ),
            (
                "requirements/testing.in".to_owned(),
                "-r pip.txt\npytest\n".to_owned(),
            ),
        ]);
        let loader = MapLoader { files: &files };
        let m = parse(
            "requirements/testing.in",
            &files["requirements/testing.in"],
            &loader,
        )
        .unwrap();
        assert_eq!(
            entries(&m),
            [
                "amqp ==5.3.1 (requirements/pip.txt:1)",
                "pytest (requirements/testing.in:2)"
            ]
        );
    }

    #[test]
    fn include_errors() {
        // Missing file.
        match error("ok==1\n-r missing.txt\n") {
            ManifestError::Include {
                file,
                line,
                target,
                message,
            } => {
                assert_eq!(
                    (file.as_str(), line, target.as_str()),
                    ("requirements.txt", 2, "missing.txt")
                );
                assert!(message.contains("not available"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let files = BTreeMap::from([
            ("a.txt".to_owned(), "-r sub/b.txt\n".to_owned()),
            ("sub/b.txt".to_owned(), "x==1\n-c ../a.txt\n".to_owned()),
            ("self.txt".to_owned(), "-r ./self.txt\n".to_owned()),
        ]);
        let loader = MapLoader { files: &files };
        match parse("a.txt", &files["a.txt"], &loader).unwrap_err() {
            ManifestError::Include {
                file,
                line,
                target,
                message,
            } => {
                assert_eq!(
                    (file.as_str(), line, target.as_str()),
                    ("sub/b.txt", 2, "../a.txt")
                );
                assert_eq!(message, "include cycle: a.txt -> sub/b.txt -> a.txt");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("self.txt", &files["self.txt"], &loader).unwrap_err(),
            ManifestError::Include { message, .. } if message.starts_with("include cycle")
        ));
        let missing = parse("a.txt", "-r nope.txt\n", &loader).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "a.txt:1: cannot read included file nope.txt: nope.txt was not sent"
        );
    }

    /// A loader that always hands out a new file, so only the depth limit stops it.
    struct Endless;

    impl Loader for Endless {
        fn load(&self, from: &str, _target: &str) -> Result<(String, String), String> {
            Ok((format!("{from}+"), "-r next.txt\n".to_owned()))
        }
    }

    #[test]
    fn include_depth_is_limited() {
        match parse("r", "-r next.txt\n", &Endless).unwrap_err() {
            ManifestError::Include { file, message, .. } => {
                assert_eq!(file, format!("r{}", "+".repeat(MAX_DEPTH)));
                assert_eq!(message, "includes nest deeper than 32 files");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            split_vcs_rev("git+https://u@h/r.git@v1"),
            ("git+https://u@h/r.git", Some("v1"))
        );
        assert_eq!(
            split_vcs_rev("git+https://u@h/r.git"),
            ("git+https://u@h/r.git", None)
        );
        assert_eq!(split_vcs_rev("git+https://h/r@"), ("git+https://h/r", None));
        assert_eq!(file_key("a/./b/../c.txt"), "a/c.txt");
        assert_eq!(file_key("/x/../y"), "/y");
        assert_eq!(file_key("../x"), "../x");
        assert_eq!(
            shell_words(r#"-a 'b c' "d \"e\"" f\ g"#).unwrap(),
            ["-a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(physical_lines("a\r\nb\rc\n\nd").len(), 5);
        assert_eq!(percent_decode("a%2Bb%zz%"), "a+b%zz%");
    }
}
