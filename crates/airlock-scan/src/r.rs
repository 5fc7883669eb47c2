//! R: code that runs at install time (`configure`, `configure.win`, `cleanup`,
//! `src/Makevars*`, and the top level of `R/*.R`, which `R CMD INSTALL` evaluates to build the
//! lazy-load database), at load time (`.onLoad`, `.onAttach`), and known malicious patterns
//! anywhere.
//!
//! R code is parsed with tree-sitter-r; calls are named by their function (`pkg::f` counts as
//! `f` of `pkg`), `do.call("f", ...)` as `f`, and assignments carry what their value holds
//! (`x <- rawToChar(base64decode(s)); eval(parse(text = x))` evaluates decoded code).
//! Shell and make files go through the line patterns of [`crate::patterns`].

use std::collections::HashMap;
use std::time::Instant;

use tree_sitter::{Node, Parser};

use crate::code::{self, CommandRules, Exfiltration, FileFindings, Flags, Hints, OutOfTime};
use crate::finding::{Finding, Kind, Severity};
use crate::patterns;

/// What a member of an R source package is, for scanning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    /// `configure`, `cleanup` (and `.win`/`.ucrt` variants), `src/Makevars*`: run at install.
    Install,
    /// `R/*.R`.
    Code,
    /// Other R scripts (`tools/`, `inst/`, `demo/`...): only threats are looked for.
    Script,
}

impl Member {
    /// `path` is relative to the package directory (`configure`, `R/zzz.R`).
    pub(crate) fn of(path: &str) -> Option<Member> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let top = !path.contains('/');
        let script = [
            "configure",
            "configure.win",
            "configure.ucrt",
            "cleanup",
            "cleanup.win",
            "cleanup.ucrt",
        ];
        let make = path.starts_with("src/") && (name.starts_with("Makevars") || name == "Makefile");
        if top && script.contains(&name) || make {
            Some(Member::Install)
        } else if path.starts_with("R/") && is_r(name) {
            Some(Member::Code)
        } else if is_r(name) {
            Some(Member::Script)
        } else {
            None
        }
    }
}

fn is_r(name: &str) -> bool {
    [".R", ".r", ".S", ".s", ".q"]
        .iter()
        .any(|ext| name.ends_with(ext) && name.len() > ext.len())
}

/// Scan a shell or make file run at install time.
pub(crate) fn scan_install(path: &str, source: &[u8]) -> Vec<Finding> {
    let mut out = FileFindings::new(path);
    let text = String::from_utf8_lossy(source);
    let rules = CommandRules {
        download_exec: "r-configure-remote",
        reverse_shell: "r-reverse-shell",
    };
    if let Some(hit) = code::command_threats(&mut out, &text, &rules, None).first() {
        out.add(
            "r-configure-download",
            Severity::Medium,
            Kind::Capability,
            Some(hit.line),
            hit.text,
            "an install-time script downloads files",
        );
    }
    for (index, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with('#') && writes_profile(line) && writes_with_shell(line) {
            out.add(
                "r-write-rprofile",
                Severity::High,
                Kind::Threat,
                Some(u32::try_from(index + 1).unwrap_or(u32::MAX)),
                line,
                "an install-time script writes to an R or shell start-up file",
            );
        }
    }
    out.findings
}

fn writes_with_shell(line: &str) -> bool {
    line.contains(">>") || line.contains("> ") || line.contains("tee ") || line.contains("cp ")
}

/// Start-up files whose code runs in every later session.
fn writes_profile(text: &str) -> bool {
    [
        ".Rprofile",
        "Rprofile.site",
        ".bashrc",
        ".bash_profile",
        ".zshrc",
        ".profile",
        "R_PROFILE_USER",
    ]
    .iter()
    .any(|p| text.contains(p))
}

const PROCESS: &[&str] = &[
    "system",
    "system2",
    "shell",
    "shell.exec",
    "pipe",
    "run",
    "exec_wait",
    "exec_background",
    "exec_internal",
];
const PROCESS_PACKAGES: &[&str] = &["", "base", "processx", "sys"];
const NETWORK: &[&str] = &[
    "download.file",
    "url",
    "curl",
    "curl_download",
    "curl_fetch_memory",
    "curl_fetch_disk",
    "GET",
    "POST",
    "PUT",
    "getURL",
    "postForm",
    "request",
    "req_perform",
    "socketConnection",
    "make.socket",
    "source_url",
];
const SEND: &[&str] = &[
    "POST",
    "PUT",
    "postForm",
    "req_body_raw",
    "req_body_json",
    "req_body_form",
    "handle_setform",
    "socketConnection",
    "make.socket",
    "write.socket",
];
const DECODE: &[&str] = &[
    "base64decode",
    "base64_dec",
    "base64_decode",
    "base64Decode",
    "rawToChar",
    "memDecompress",
    "unserialize",
    "intToUtf8",
    "hex2raw",
    "chartr",
];
const EVAL: &[&str] = &[
    "eval",
    "evalq",
    "source",
    "sys.source",
    "str2lang",
    "str2expression",
];
const WRITE: &[&str] = &[
    "cat",
    "writeLines",
    "write",
    "file.copy",
    "file.append",
    "sink",
    "writeBin",
    "writeChar",
    "file.create",
    "file",
];

/// A call's function as (package, name); `("", f)` without `::`.
fn callee<'s>(node: Node<'_>, source: &'s [u8]) -> (&'s str, &'s str) {
    match node.kind() {
        "identifier" => ("", code::text(node, source)),
        "string" => ("", string_value(node, source)),
        "namespace_operator" => (
            node.child_by_field_name("lhs")
                .map(|n| code::text(n, source))
                .unwrap_or(""),
            node.child_by_field_name("rhs")
                .map(|n| code::text(n, source))
                .unwrap_or(""),
        ),
        // `process$new(...)` (processx)
        "extract_operator" => {
            let lhs = node
                .child_by_field_name("lhs")
                .map(|n| code::text(n, source))
                .unwrap_or("");
            if lhs == "process" || lhs.ends_with("::process") {
                ("processx", "run")
            } else {
                ("?", "?")
            }
        }
        _ => ("?", "?"),
    }
}

fn string_value<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    node.child_by_field_name("content")
        .map(|c| code::text(c, source))
        .unwrap_or("")
}

/// Scan one R file.
pub(crate) fn scan(
    parser: &mut Parser,
    path: &str,
    source: &[u8],
    member: Member,
    deadline: Instant,
) -> Result<Vec<Finding>, OutOfTime> {
    let mut out = FileFindings::new(path);
    let language = tree_sitter::Language::new(tree_sitter_r::LANGUAGE);
    let Some(tree) = code::parse(parser, &language, source, deadline)? else {
        return Ok(Vec::new());
    };
    let mut file = File {
        source,
        member,
        hints: Hints::of(source),
        vars: HashMap::new(),
        exfil: Exfiltration::default(),
    };
    code::walk(&tree, |node| file.visit(node, &mut out));
    file.conclude(&mut out);
    Ok(out.findings)
}

/// When a call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// Top level of `R/`: at install.
    Install,
    /// Inside `.onLoad` or `.onAttach`.
    Load,
    /// Inside another function, or a script.
    Later,
}

struct File<'s> {
    source: &'s [u8],
    member: Member,
    hints: Hints,
    vars: HashMap<String, Flags>,
    exfil: Exfiltration,
}

impl<'s> File<'s> {
    fn text(&self, node: Node<'_>) -> &'s str {
        code::text(node, self.source)
    }

    fn visit(&mut self, node: Node<'_>, out: &mut FileFindings<'_>) {
        match node.kind() {
            "binary_operator" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| self.text(o))
                    .unwrap_or("");
                let (target, value) = match op {
                    "<-" | "<<-" | "=" => (
                        node.child_by_field_name("lhs"),
                        node.child_by_field_name("rhs"),
                    ),
                    "->" | "->>" => (
                        node.child_by_field_name("rhs"),
                        node.child_by_field_name("lhs"),
                    ),
                    _ => (None, None),
                };
                if let (Some(target), Some(value)) = (target, value)
                    && matches!(target.kind(), "identifier" | "string")
                {
                    let flags = self.flags(value);
                    // Document order stands for execution order: the last assignment wins.
                    self.vars.insert(self.text(target).to_owned(), flags);
                }
            }
            "string" => {
                let value = string_value(node, self.source);
                let line = code::line(node);
                if self.hints.webhook {
                    self.exfil.literal(value, line);
                }
                if patterns::is_encoded_blob(value) {
                    out.add(
                        "r-encoded-blob",
                        Severity::Medium,
                        Kind::Threat,
                        Some(line),
                        value,
                        "a long encoded string literal: a common way to hide a payload",
                    );
                }
            }
            "call" => self.call(node, out),
            _ => {}
        }
    }

    /// What the expression at `node` holds.
    fn flags(&self, node: Node<'_>) -> Flags {
        let mut flags = Flags::default();
        let mut cursor = node.walk();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            match n.kind() {
                "call" => {
                    if let Some(function) = n.child_by_field_name("function") {
                        let (package, name) = callee(function, self.source);
                        if DECODE.contains(&name) {
                            flags |= Flags::DECODE;
                        }
                        if name == "Sys.getenv"
                            && n.child_by_field_name("arguments")
                                .is_some_and(|a| a.named_child_count() == 0)
                        {
                            // Every environment variable at once: tokens and keys included.
                            flags |= Flags::CRED;
                        }
                        if NETWORK.contains(&name)
                            || name == "readLines" && self.text(n).contains("http")
                        {
                            flags |= Flags::NETWORK;
                        }
                        if name == "path.expand"
                            || name == "normalizePath"
                            || package.is_empty()
                                && name == "Sys.getenv"
                                && self.text(n).contains("HOME")
                        {
                            flags |= Flags::HOME;
                        }
                    }
                }
                "identifier" => {
                    if let Some(var) = self.vars.get(self.text(n)) {
                        flags |= *var;
                    }
                }
                // `f(name = value)`: the name is no variable.
                "argument" => {
                    if let Some(value) = n.child_by_field_name("value") {
                        stack.push(value);
                    }
                    continue;
                }
                "string" => {
                    let value = string_value(n, self.source);
                    if value.starts_with("http://")
                        || value.starts_with("https://")
                        || value.starts_with("ftp://")
                    {
                        flags |= Flags::URL;
                    }
                    if value.starts_with('~')
                        || value.contains("HOME")
                        || value.starts_with("/home/")
                        || value.starts_with("/Users/")
                    {
                        flags |= Flags::HOME;
                    }
                    if writes_profile(value) {
                        flags |= Flags::PROFILE;
                    }
                    if self.hints.credential && patterns::credential(value) {
                        flags |= Flags::CRED;
                    }
                    continue;
                }
                _ => {}
            }
            stack.extend(n.named_children(&mut cursor));
        }
        flags
    }

    fn when(&self, node: Node<'_>) -> When {
        if self.member != Member::Code {
            return When::Later;
        }
        let mut at = node.parent();
        let mut inside: Option<Node<'_>> = None;
        while let Some(n) = at {
            if n.kind() == "function_definition" {
                inside = Some(n);
            }
            at = n.parent();
        }
        let Some(function) = inside else {
            return When::Install;
        };
        // The outermost function: `.onLoad <- function(libname, pkgname) { ... }`.
        let assigned = function
            .parent()
            .filter(|p| p.kind() == "binary_operator")
            .and_then(|p| {
                let lhs = p.child_by_field_name("lhs")?;
                let rhs = p.child_by_field_name("rhs")?;
                Some(if rhs.id() == function.id() { lhs } else { rhs })
            })
            .map(|n| self.text(n).trim_matches(['"', '\'', '`']))
            .unwrap_or("");
        if matches!(assigned, ".onLoad" | ".onAttach") {
            When::Load
        } else {
            When::Later
        }
    }

    fn call(&mut self, node: Node<'_>, out: &mut FileFindings<'_>) {
        let Some(function) = node.child_by_field_name("function") else {
            return;
        };
        let (mut package, mut name) = callee(function, self.source);
        let args = node.child_by_field_name("arguments");
        // `do.call("system", list(...))`, `do.call(system, ...)`
        if name == "do.call"
            && let Some(first) = args
                .and_then(|a| a.named_child(0))
                .and_then(|a| a.child_by_field_name("value"))
        {
            (package, name) = callee(first, self.source);
        }
        let excerpt = self.text(node);
        let line = Some(code::line(node));
        let when = self.when(node);
        let flags = args.map(|a| self.flags(a)).unwrap_or_default();

        // Calls that send (a GET authenticated with a token is not one).
        if SEND.contains(&name) {
            self.exfil.send(flags, code::line(node), excerpt);
        }

        let evaluates = EVAL.contains(&name) || name == "parse" && self.text(node).contains("text");
        // A decoded serialized object is code too when restored at install or load time.
        let restores = name == "unserialize" && when != When::Later;
        if (evaluates || restores) && flags.has(Flags::DECODE) {
            out.add(
                "r-eval-decoded",
                Severity::Critical,
                Kind::Threat,
                line,
                excerpt,
                "evaluates code decoded at run time (base64, raw bytes, serialized objects)",
            );
        }
        if evaluates {
            if flags.has(Flags::NETWORK)
                || (flags.has(Flags::URL) && matches!(name, "source" | "sys.source"))
            {
                out.add(
                    "r-source-url",
                    Severity::Critical,
                    Kind::Threat,
                    line,
                    excerpt,
                    "evaluates code fetched from a URL",
                );
            }
            let from_text = name == "eval" && args.is_some_and(|a| self.text(a).contains("parse"));
            if from_text && when != When::Later {
                out.add(
                    if when == When::Load {
                        "r-onload-eval"
                    } else {
                        "r-install-eval"
                    },
                    Severity::High,
                    Kind::Threat,
                    line,
                    excerpt,
                    "evaluates code built from text when the package is installed or loaded",
                );
            }
        }

        let process = PROCESS.contains(&name)
            && PROCESS_PACKAGES.contains(&package)
            && (package == "processx"
                || package == "sys"
                || !matches!(
                    name,
                    "run" | "exec_wait" | "exec_background" | "exec_internal"
                ));
        if process {
            let command = args
                .map(|a| code::strings_in(a, |n| string_value(n, self.source).to_owned()))
                .unwrap_or_default();
            let rules = CommandRules {
                download_exec: "r-download-exec",
                reverse_shell: "r-reverse-shell",
            };
            code::command_threats(out, &command, &rules, Some((code::line(node), excerpt)));
            if command.contains("curl") {
                self.exfil.send(flags, code::line(node), excerpt);
            }
            match when {
                When::Load => out.add(
                    "r-onload-system",
                    Severity::High,
                    Kind::Capability,
                    line,
                    excerpt,
                    ".onLoad or .onAttach runs a process when the package is loaded",
                ),
                When::Install => out.add(
                    "r-install-system",
                    Severity::High,
                    Kind::Capability,
                    line,
                    excerpt,
                    "top-level code in R/ runs a process when the package is installed",
                ),
                When::Later => {}
            }
        }
        let network =
            NETWORK.contains(&name) && name != "url" || name == "url" && flags.has(Flags::URL);
        if network {
            match when {
                When::Load => out.add(
                    "r-onload-download",
                    Severity::High,
                    Kind::Capability,
                    line,
                    excerpt,
                    ".onLoad or .onAttach reaches the network when the package is loaded",
                ),
                When::Install => out.add(
                    "r-install-download",
                    Severity::High,
                    Kind::Capability,
                    line,
                    excerpt,
                    "top-level code in R/ reaches the network when the package is installed",
                ),
                When::Later => {}
            }
        }
        if WRITE.contains(&name) && flags.has(Flags::PROFILE) {
            let (severity, message) = if when == When::Later {
                (Severity::Medium, "writes to an R or shell start-up file")
            } else {
                (
                    Severity::High,
                    "writes to an R or shell start-up file when installed or loaded",
                )
            };
            out.add(
                "r-write-rprofile",
                severity,
                Kind::Threat,
                line,
                excerpt,
                message,
            );
        } else if WRITE.contains(&name)
            && name != "file"
            && flags.has(Flags::HOME)
            && when != When::Later
        {
            out.add(
                "r-write-home",
                Severity::High,
                Kind::Threat,
                line,
                excerpt,
                "writes to the user's home directory when installed or loaded",
            );
        }
    }

    fn conclude(&self, out: &mut FileFindings<'_>) {
        self.exfil
            .conclude(out, "r-webhook-exfil", "r-credential-exfil");
    }
}

#[cfg(test)]
mod tests;
