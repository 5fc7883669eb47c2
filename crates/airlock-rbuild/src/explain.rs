//! The most likely cause of a failed build, read from its log: the first thing that went wrong
//! that an admin can act on (install a system library, build a dependency first), else R's own
//! last `ERROR:` line.
//!
//! R writes its quotes as `‘x’` in a UTF-8 locale (builds run in `C.UTF-8`) and `'x'` otherwise;
//! both are read.

use std::fmt;

/// What kind of failure a build met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Killed at the wall-time limit.
    TimedOut,
    /// A process was killed by the CPU-time limit (SIGXCPU, RLIMIT_CPU).
    CpuLimit,
    /// A header, library or pkg-config module of the system is missing (`SystemRequirements`).
    MissingSystemLibrary,
    /// An R package it needs was not installed (not built first, or not passed as a dependency).
    MissingDependency,
    /// The sandbox could not start, or the build directory could not be prepared or read.
    Sandbox,
    /// Anything else: compilation errors, failing R code, a package that is not what was asked.
    Failed,
}

impl FailureKind {
    /// A stable lowercase name: "timed-out", "cpu-limit", "missing-system-library",
    /// "missing-dependency", "sandbox", "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::TimedOut => "timed-out",
            FailureKind::CpuLimit => "cpu-limit",
            FailureKind::MissingSystemLibrary => "missing-system-library",
            FailureKind::MissingDependency => "missing-dependency",
            FailureKind::Sandbox => "sandbox",
            FailureKind::Failed => "failed",
        }
    }

    /// The kind named by [`FailureKind::as_str`].
    pub fn from_name(name: &str) -> Option<FailureKind> {
        [
            FailureKind::TimedOut,
            FailureKind::CpuLimit,
            FailureKind::MissingSystemLibrary,
            FailureKind::MissingDependency,
            FailureKind::Sandbox,
            FailureKind::Failed,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest reason returned, in characters (a line of a log can be very long).
const REASON_CHARS: usize = 300;

/// Pure: names the most likely cause of a failed build from its log and the package's
/// `SystemRequirements` field.
pub fn explain_failure(log: &str, system_requirements: Option<&str>) -> (FailureKind, String) {
    let lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    let (kind, reason) = explain_lines(&lines, system_requirements);
    (kind, shorten(&reason))
}

fn explain_lines(lines: &[&str], system_requirements: Option<&str>) -> (FailureKind, String) {
    let requirements = requirements_note(system_requirements);
    if let Some(line) = lines.iter().find_map(|l| l.strip_prefix("bwrap: ")) {
        return (
            FailureKind::Sandbox,
            format!("the sandbox could not start: {}", line.trim()),
        );
    }
    if lines.iter().any(|l| l.contains("CPU time limit exceeded")) {
        return (
            FailureKind::CpuLimit,
            "a build process was killed by the CPU-time limit".to_owned(),
        );
    }
    if let Some(reason) = missing_dependencies(lines) {
        return (FailureKind::MissingDependency, reason);
    }
    if let Some(header) = lines.iter().find_map(|l| missing_header(l)) {
        return (
            FailureKind::MissingSystemLibrary,
            format!("the header {header} is missing{requirements}"),
        );
    }
    if let Some(library) = lines.iter().find_map(|l| missing_library(l)) {
        return (
            FailureKind::MissingSystemLibrary,
            format!("the library lib{library} is missing{requirements}"),
        );
    }
    if let Some(module) = lines.iter().find_map(|l| missing_pkg_config_module(l)) {
        return (
            FailureKind::MissingSystemLibrary,
            format!("the pkg-config module {module} is missing{requirements}"),
        );
    }
    if let Some(message) = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("Configuration failed because "))
    {
        return (
            FailureKind::MissingSystemLibrary,
            format!(
                "configuration failed because {}{requirements}",
                // Its first sentence; "Try installing: ..." follows.
                message
                    .split(". ")
                    .next()
                    .unwrap_or(message)
                    .trim()
                    .trim_end_matches('.')
            ),
        );
    }
    if let Some(message) = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("configure: error: "))
    {
        let message = message.trim();
        return if looks_missing(message) {
            (
                FailureKind::MissingSystemLibrary,
                format!("configure: error: {message}{requirements}"),
            )
        } else {
            (FailureKind::Failed, format!("configure: error: {message}"))
        };
    }
    if let Some(line) = lines.iter().find(|l| out_of_memory(l)) {
        return (
            FailureKind::Failed,
            format!(
                "out of memory (the limit on virtual memory, RLIMIT_AS, may be too low): {}",
                line.trim()
            ),
        );
    }
    if let Some(line) = lines.iter().find(|l| compiler_error(l)) {
        return (
            FailureKind::Failed,
            format!("compilation failed: {}", line.trim()),
        );
    }
    if let Some(at) = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("ERROR:"))
    {
        let error = lines[at].trim();
        // R's own error ("Error in f() : boom", "Error: ...") says why; ERROR: says what failed.
        // The first of them in the lines before it is the cause; later ones are consequences.
        let cause = lines[at.saturating_sub(30)..at]
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with("Error in ") || l.starts_with("Error: "));
        return match cause {
            Some(cause) => (FailureKind::Failed, format!("{error} ({cause})")),
            None => (FailureKind::Failed, error.to_owned()),
        };
    }
    match lines.iter().map(|l| l.trim()).rfind(|l| !l.is_empty()) {
        Some(line) => (FailureKind::Failed, line.to_owned()),
        None => (
            FailureKind::Failed,
            "the build failed without output".into(),
        ),
    }
}

fn requirements_note(system_requirements: Option<&str>) -> String {
    let text = system_requirements
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    if text.is_empty() {
        String::new()
    } else {
        format!(" (SystemRequirements: {text})")
    }
}

/// `ERROR: dependencies ‘x’, ‘y’ are not available for package ‘z’`, `ERROR: dependency ‘x’ is
/// not available ...`, `there is no package called ‘x’`, `package ‘x’ required by ‘y’ could not
/// be found`, `namespace ‘x’ 1.0 is being loaded, but >= 2.0 is required`.
fn missing_dependencies(lines: &[&str]) -> Option<String> {
    let mut missing: Vec<String> = Vec::new();
    let mut too_old: Option<String> = None;
    for line in lines {
        let line = line.trim();
        if let Some(rest) = line
            .strip_prefix("ERROR: dependencies ")
            .or_else(|| line.strip_prefix("ERROR: dependency "))
        {
            let names = rest
                .split(" are not available")
                .next()
                .and_then(|s| s.split(" is not available").next())
                .unwrap_or(rest);
            missing.extend(quoted(names));
        } else if let Some((_, rest)) = line.split_once("there is no package called ") {
            missing.extend(quoted(rest).into_iter().take(1));
        } else if let Some(rest) = line
            .split_once("package ")
            .map(|(_, rest)| rest)
            .filter(|rest| rest.contains(" required by ") && rest.contains("could not be found"))
        {
            missing.extend(quoted(rest).into_iter().take(1));
        } else if too_old.is_none()
            && let Some((namespace, required)) = line.split_once(" is being loaded, but ")
            && let Some((_, namespace)) = namespace.split_once("namespace ")
        {
            let mut words = namespace.split_whitespace();
            let name = words.next().map(unquote).unwrap_or_default();
            let version = words.next().unwrap_or_default();
            too_old = Some(format!(
                "the dependency {name} {version} is too old: {}",
                required.trim()
            ));
        }
    }
    let mut seen = Vec::new();
    for name in missing {
        if !name.is_empty() && !seen.contains(&name) {
            seen.push(name);
        }
    }
    match seen.len() {
        0 => too_old,
        1 => Some(format!("missing dependency: {}", seen[0])),
        _ => Some(format!("missing dependencies: {}", seen.join(", "))),
    }
}

/// The texts between quotes, R's curly ones (`‘x’`) or plain ones (`'x'`).
fn quoted(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['‘', '\'']) {
        let open = rest[start..].chars().next().map_or(1, char::len_utf8);
        let after = &rest[start + open..];
        let Some(end) = after.find(['’', '\'']) else {
            break;
        };
        found.push(after[..end].to_owned());
        let close = after[end..].chars().next().map_or(1, char::len_utf8);
        rest = &after[end + close..];
    }
    found
}

fn unquote(word: &str) -> String {
    word.trim_matches(['‘', '’', '\'', '"']).to_owned()
}

/// gcc's `fatal error: foo/bar.h: No such file or directory`, clang's `fatal error: 'foo/bar.h'
/// file not found`.
fn missing_header(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("fatal error: ")?;
    let header = rest
        .strip_suffix(": No such file or directory")
        .or_else(|| rest.strip_suffix(" file not found"))?;
    let header = unquote(header.trim());
    (!header.is_empty()).then_some(header)
}

/// ld's `cannot find -lfoo` (with `: No such file or directory` since binutils 2.40).
fn missing_library(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("cannot find -l")?;
    let name: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ':')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// pkg-config's `Package foo was not found in the pkg-config search path.`
fn missing_pkg_config_module(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Package ")?;
    let (module, _) = rest.split_once(" was not found in the pkg-config search path")?;
    Some(unquote(module.trim()))
}

fn looks_missing(message: &str) -> bool {
    let message = message.to_lowercase();
    [
        "not found",
        "not installed",
        "missing",
        "cannot find",
        "can't find",
        "could not find",
        "unable to find",
        "no such file",
        "please install",
        "is required",
        "are required",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

fn out_of_memory(line: &str) -> bool {
    [
        "cannot allocate memory",
        "Cannot allocate memory",
        "cannot allocate vector of size",
        "virtual memory exhausted",
        "out of memory",
        "std::bad_alloc",
    ]
    .iter()
    .any(|needle| line.contains(needle))
}

/// A compiler diagnostic, `file.c:3:5: error: ...`.
fn compiler_error(line: &str) -> bool {
    let Some((location, _)) = line.split_once(": error: ") else {
        return false;
    };
    // `file.c:3:5` or `file.c:3`.
    location
        .rsplit(':')
        .next()
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn shorten(reason: &str) -> String {
    let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= REASON_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
