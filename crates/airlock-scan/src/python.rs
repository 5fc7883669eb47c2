//! Python: code that runs at install time (`setup.py`), at every interpreter start (`.pth`
//! lines beginning with `import`, as `site` executes them) and at import (`__init__.py`'s
//! top level), and known malicious patterns anywhere.
//!
//! The source is parsed with tree-sitter-python; calls are named through the file's imports
//! (`from subprocess import Popen as P; P(...)` is `subprocess.Popen`), and assignments carry
//! what their value holds (`x = b64decode(s); exec(x)` executes decoded data).

use std::collections::HashMap;
use std::time::Instant;

use tree_sitter::{Node, Parser};

use crate::code::{self, CommandRules, Exfiltration, FileFindings, Flags, Hints, OutOfTime};
use crate::finding::{Finding, Kind, Severity};
use crate::patterns;

/// When the interpreter runs a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    /// `setup.py`: runs at install from source.
    Setup,
    /// A `.pth` file's `import` lines: run at every interpreter start.
    Pth,
    /// `__init__.py`: its top level runs at import.
    Init,
    /// Any other module.
    Module,
}

impl Context {
    /// The context of a member of a wheel or sdist, by its path.
    pub(crate) fn of(path: &str) -> Option<Context> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.ends_with(".pth") {
            Some(Context::Pth)
        } else if name == "setup.py" && path.matches('/').count() <= 1 {
            Some(Context::Setup)
        } else if name == "__init__.py" {
            Some(Context::Init)
        } else if name.ends_with(".py") || name.ends_with(".pyw") {
            Some(Context::Module)
        } else {
            None
        }
    }
}

const NETWORK: &[&str] = &[
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "urllib.urlopen",
    "urllib.urlretrieve",
    "urllib2.urlopen",
    "requests.get",
    "requests.post",
    "requests.put",
    "requests.request",
    "httpx.get",
    "httpx.post",
    "httpx.put",
    "httpx.Client",
    "http.client.HTTPConnection",
    "http.client.HTTPSConnection",
    "httplib.HTTPConnection",
    "httplib.HTTPSConnection",
    "socket.socket",
    "socket.create_connection",
    "urllib3.PoolManager",
    "urllib3.request",
    "ftplib.FTP",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
    "aiohttp.ClientSession",
    "pycurl.Curl",
    "wget.download",
    "telnetlib.Telnet",
];

/// Calls that send data out (credentials passed to one are a threat), besides the network calls.
const SEND: &[&str] = &[
    "requests.post",
    "requests.put",
    "httpx.post",
    "httpx.put",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
    "ftplib.FTP",
];

const PROCESS: &[&str] = &[
    "os.system",
    "os.popen",
    "os.startfile",
    "os.posix_spawn",
    "os.posix_spawnp",
    "pty.spawn",
    "commands.getoutput",
    "commands.getstatusoutput",
    "platform.popen",
];

const EXEC: &[&str] = &[
    "exec",
    "eval",
    "compile",
    "execfile",
    "builtins.exec",
    "builtins.eval",
    "__builtins__.exec",
    "__builtins__.eval",
];

const DECODE_LAST: &[&str] = &[
    "b64decode",
    "b32decode",
    "b16decode",
    "b85decode",
    "a85decode",
    "urlsafe_b64decode",
    "decodebytes",
    "decodestring",
    "unhexlify",
    "a2b_hex",
    "a2b_base64",
    "fromhex",
    "decompress",
];

fn is_process(name: &str) -> bool {
    PROCESS.contains(&name)
        || name.starts_with("subprocess.")
        || name.starts_with("os.exec")
        || name.starts_with("os.spawn")
}

fn is_network(name: &str) -> bool {
    NETWORK.contains(&name) || name.ends_with(".urlopen") || name.ends_with(".urlretrieve")
}

fn is_decode(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    DECODE_LAST.contains(&last)
        || name == "marshal.loads"
        || name == "codecs.decode"
        || name == "pickle.loads"
}

/// Facts of one file, gathered in one walk.
#[derive(Default)]
struct Facts {
    /// Network, process and dynamic exec calls made when the file runs (setup.py's code, a
    /// `.pth` line, `__init__.py`'s top level): (line, excerpt).
    run_network: Option<(u32, String)>,
    run_process: Option<(u32, String)>,
    run_exec: Option<(u32, String)>,
    run_decode: bool,
    exfil: Exfiltration,
    dup2: bool,
    socket: bool,
    spawn: Option<(u32, String)>,
    reverse_string: Option<(u32, String)>,
}

/// Scan one Python file.
pub(crate) fn scan(
    parser: &mut Parser,
    path: &str,
    source: &[u8],
    context: Context,
    deadline: Instant,
) -> Result<Vec<Finding>, OutOfTime> {
    let mut out = FileFindings::new(path);
    // A `.pth` file runs only its lines that begin with `import`; the others are paths.
    let pth_code;
    let source = if context == Context::Pth {
        pth_code = pth_lines(source);
        if pth_code.trim().is_empty() {
            return Ok(Vec::new());
        }
        pth_code.as_bytes()
    } else {
        source
    };
    let language = tree_sitter::Language::new(tree_sitter_python::LANGUAGE);
    let Some(tree) = code::parse(parser, &language, source, deadline)? else {
        return Ok(Vec::new());
    };
    let mut file = File {
        source,
        context,
        hints: Hints::of(source),
        aliases: HashMap::new(),
        vars: HashMap::new(),
    };
    let mut facts = Facts::default();
    code::walk(&tree, |node| file.visit(node, &mut facts, &mut out));
    file.conclude(&facts, &mut out);
    Ok(out.findings)
}

/// The lines of a `.pth` file that `site` executes, each on its own line (others blank, so
/// line numbers stay).
fn pth_lines(source: &[u8]) -> String {
    String::from_utf8_lossy(source)
        .lines()
        .map(|line| {
            if line.starts_with("import ") || line.starts_with("import\t") {
                line
            } else {
                ""
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct File<'s> {
    source: &'s [u8],
    context: Context,
    hints: Hints,
    /// Local name -> dotted name it stands for, from import statements.
    aliases: HashMap<String, String>,
    /// Variable -> what the values assigned to it hold.
    vars: HashMap<String, Flags>,
}

impl<'s> File<'s> {
    fn text(&self, node: Node<'_>) -> &'s str {
        code::text(node, self.source)
    }

    fn visit(&mut self, node: Node<'_>, facts: &mut Facts, out: &mut FileFindings<'_>) {
        match node.kind() {
            "import_statement" => self.import(node, None, out),
            "import_from_statement" => {
                let module = node
                    .child_by_field_name("module_name")
                    .map(|m| self.text(m).to_owned());
                self.import(node, module, out);
            }
            "assignment" | "augmented_assignment" => {
                if let (Some(left), Some(right)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) && left.kind() == "identifier"
                {
                    let flags = self.flags(right);
                    // Document order stands for execution order: the last assignment wins.
                    self.vars.insert(self.text(left).to_owned(), flags);
                }
            }
            "string" => self.string(node, facts, out),
            "call" => self.call(node, facts, out),
            _ => {}
        }
    }

    fn import(&mut self, node: Node<'_>, module: Option<String>, out: &mut FileFindings<'_>) {
        let mut cursor = node.walk();
        for child in node.children_by_field_name("name", &mut cursor) {
            let (name, alias) = match child.kind() {
                "aliased_import" => (
                    child.child_by_field_name("name").map(|n| self.text(n)),
                    child.child_by_field_name("alias").map(|n| self.text(n)),
                ),
                _ => (Some(self.text(child)), None),
            };
            let Some(name) = name else { continue };
            let full = match &module {
                Some(module) => format!("{module}.{name}"),
                None => name.to_owned(),
            };
            let local = match (alias, &module) {
                (Some(alias), _) => alias.to_owned(),
                (None, Some(_)) => name.to_owned(),
                // `import a.b` binds `a`.
                (None, None) => name.split('.').next().unwrap_or(name).to_owned(),
            };
            let bound = if alias.is_none() && module.is_none() {
                local.clone()
            } else {
                full.clone()
            };
            if full.contains("pyarmor") || full.contains("pytransform") {
                out.add(
                    "py-pyarmor",
                    Severity::High,
                    Kind::Threat,
                    Some(code::line(node)),
                    self.text(node),
                    "imports the PyArmor runtime: the code is obfuscated and cannot be reviewed",
                );
            }
            self.aliases.insert(local, bound);
        }
    }

    /// The dotted name a call's function stands for, through the file's imports.
    fn callee(&self, node: Node<'_>) -> String {
        match node.kind() {
            "identifier" => {
                let name = self.text(node);
                self.aliases
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.to_owned())
            }
            "attribute" => {
                let attribute = node
                    .child_by_field_name("attribute")
                    .map(|a| self.text(a))
                    .unwrap_or("");
                let object = node
                    .child_by_field_name("object")
                    .map(|o| self.callee(o))
                    .unwrap_or_default();
                format!("{object}.{attribute}")
            }
            // `__import__("os").system`
            "call" => {
                let function = node.child_by_field_name("function");
                if function.is_some_and(|f| self.text(f) == "__import__")
                    && let Some(module) = node
                        .child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0))
                        .filter(|a| a.kind() == "string")
                {
                    return string_value(module, self.source);
                }
                "?".to_owned()
            }
            _ => "?".to_owned(),
        }
    }

    /// What the expression at `node` holds: decoded data, network content, encoded blobs.
    fn flags(&self, node: Node<'_>) -> Flags {
        let mut flags = Flags::default();
        let mut cursor = node.walk();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            match n.kind() {
                "call" => {
                    if let Some(function) = n.child_by_field_name("function") {
                        let name = self.callee(function);
                        if is_decode(&name) || self.decodes_with_codec(n, &name) {
                            flags |= Flags::DECODE;
                        }
                        if is_network(&name) {
                            flags |= Flags::NETWORK;
                        }
                        if name == "open" || name.ends_with(".read_text") {
                            flags |= Flags::FILE;
                        }
                        if name == "os.environ.copy" || name == "os.environ.items" {
                            flags |= Flags::CRED;
                        }
                    }
                }
                "identifier" => {
                    if let Some(var) = self.vars.get(self.text(n)) {
                        flags |= *var;
                    }
                }
                // The whole environment, not one variable of it (`os.environ["X"]`,
                // `os.environ.get("X")`).
                "attribute"
                    if self.text(n) == "os.environ"
                        && n.parent()
                            .is_some_and(|p| !matches!(p.kind(), "subscript" | "attribute")) =>
                {
                    flags |= Flags::CRED;
                }
                "string" => {
                    let written = self.text(n);
                    if written.len() >= 64
                        && (patterns::is_escaped_blob(written)
                            || patterns::is_encoded_blob(&string_value(n, self.source)))
                    {
                        flags |= Flags::ENCODED;
                    }
                    if self.hints.credential && patterns::credential(&string_value(n, self.source))
                    {
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

    /// `s.decode("base64")`, `codecs.decode(s, "rot13")`, `s.decode("hex")`.
    fn decodes_with_codec(&self, call: Node<'_>, name: &str) -> bool {
        if !name.ends_with(".decode") {
            return false;
        }
        let args = call
            .child_by_field_name("arguments")
            .map(|a| self.text(a))
            .unwrap_or("");
        ["base64", "hex", "rot13", "rot_13", "zlib", "bz2"]
            .iter()
            .any(|codec| args.contains(codec))
    }

    /// Whether the call at `node` runs when the file runs (not inside a function).
    fn runs_on_load(&self, node: Node<'_>) -> bool {
        match self.context {
            Context::Module => false,
            Context::Setup | Context::Pth => true,
            Context::Init => {
                let mut at = node.parent();
                while let Some(n) = at {
                    if matches!(n.kind(), "function_definition" | "lambda") {
                        return false;
                    }
                    at = n.parent();
                }
                true
            }
        }
    }

    fn string(&self, node: Node<'_>, facts: &mut Facts, out: &mut FileFindings<'_>) {
        // Parts of a concatenation are seen on their own. Most literals are short and match
        // nothing: the value is only built when a pattern's token is in the file.
        let written = self.text(node);
        let blob = written.len() >= 1024;
        if !(blob || self.hints.webhook || self.hints.reverse_shell) {
            return;
        }
        let value = string_value(node, self.source);
        let line = code::line(node);
        if self.hints.webhook {
            facts.exfil.literal(&value, line);
        }
        if self.hints.reverse_shell
            && facts.reverse_string.is_none()
            && patterns::reverse_shell(&value)
        {
            facts.reverse_string = Some((line, value.clone()));
        }
        if blob && (patterns::is_encoded_blob(&value) || patterns::is_escaped_blob(written)) {
            out.add(
                "py-encoded-blob",
                Severity::Medium,
                Kind::Threat,
                Some(line),
                &value,
                "a long encoded string literal: a common way to hide a payload",
            );
        }
    }

    fn call(&self, node: Node<'_>, facts: &mut Facts, out: &mut FileFindings<'_>) {
        let Some(function) = node.child_by_field_name("function") else {
            return;
        };
        let name = self.callee(function);
        let args = node.child_by_field_name("arguments");
        let line = Some(code::line(node));
        let excerpt = self.text(node);
        let on_load = self.runs_on_load(node);

        if name.ends_with("__pyarmor__") || name.starts_with("pyarmor") {
            out.add(
                "py-pyarmor",
                Severity::High,
                Kind::Threat,
                line,
                excerpt,
                "calls the PyArmor runtime: the code is obfuscated and cannot be reviewed",
            );
        }
        if name == "os.dup2" {
            facts.dup2 = true;
        }
        if name == "socket.socket" || name == "socket.create_connection" {
            facts.socket = true;
        }
        // Calls that send (a client constructed with credentials, to authenticate, is not one).
        let sends = SEND.contains(&name.as_str())
            || [".urlopen", ".post", ".put", ".send", ".sendall"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
        if sends && let Some(args) = args {
            facts
                .exfil
                .send(self.flags(args), code::line(node), excerpt);
        }

        if EXEC.contains(&name.as_str()) {
            let flags = args.map(|a| self.flags(a)).unwrap_or_default();
            if flags.has(Flags::DECODE) || flags.has(Flags::ENCODED) {
                out.add(
                    "py-exec-decoded",
                    Severity::Critical,
                    Kind::Threat,
                    line,
                    excerpt,
                    "executes code decoded at run time (base64, hex, zlib or marshal)",
                );
            }
            if flags.has(Flags::NETWORK) {
                out.add(
                    "py-download-exec",
                    Severity::Critical,
                    Kind::Threat,
                    line,
                    excerpt,
                    "executes code downloaded at run time",
                );
            }
            let literal = args.is_some_and(|a| {
                let mut cursor = a.walk();
                a.named_children(&mut cursor).all(|c| c.kind() == "string")
            });
            if on_load && !literal && !flags.has(Flags::FILE) && name != "compile" {
                facts
                    .run_exec
                    .get_or_insert((code::line(node), excerpt.to_owned()));
            }
            if flags.has(Flags::DECODE) && on_load {
                facts.run_decode = true;
            }
        }
        if is_process(&name) {
            let command = args
                .map(|a| code::strings_in(a, |n| string_value(n, self.source)))
                .unwrap_or_default();
            let rules = CommandRules {
                download_exec: "py-download-exec",
                reverse_shell: "py-reverse-shell",
            };
            let downloads =
                code::command_threats(out, &command, &rules, Some((code::line(node), excerpt)));
            if on_load && !downloads.is_empty() {
                facts
                    .run_network
                    .get_or_insert((code::line(node), excerpt.to_owned()));
            }
            if command.contains("/bin/sh") || command.contains("/bin/bash") || name == "pty.spawn" {
                facts
                    .spawn
                    .get_or_insert((code::line(node), excerpt.to_owned()));
            }
            if on_load {
                facts
                    .run_process
                    .get_or_insert((code::line(node), excerpt.to_owned()));
            }
        }
        if is_network(&name) && on_load {
            facts
                .run_network
                .get_or_insert((code::line(node), excerpt.to_owned()));
        }
        if is_decode(&name) && on_load && self.context == Context::Pth {
            facts.run_decode = true;
        }
    }

    fn conclude(&self, facts: &Facts, out: &mut FileFindings<'_>) {
        let excerpt = |at: &Option<(u32, String)>| at.as_ref().map(|(l, e)| (Some(*l), e.clone()));
        match self.context {
            Context::Pth => {
                let active = [&facts.run_network, &facts.run_process, &facts.run_exec]
                    .into_iter()
                    .find_map(excerpt);
                if let Some((line, text)) = active {
                    out.add(
                        "py-pth-exec",
                        Severity::Critical,
                        Kind::Threat,
                        line,
                        &text,
                        "a .pth file runs network, process or dynamic code at every Python start",
                    );
                } else if facts.run_decode {
                    out.add(
                        "py-pth-exec",
                        Severity::Critical,
                        Kind::Threat,
                        None,
                        &pth_lines(self.source),
                        "a .pth file decodes data at every Python start",
                    );
                } else {
                    let code = pth_lines(self.source);
                    out.add(
                        "py-pth-import",
                        Severity::Low,
                        Kind::Capability,
                        None,
                        code.trim(),
                        "a .pth file imports a module at every Python start",
                    );
                }
            }
            Context::Setup => {
                if let Some((line, text)) = excerpt(&facts.run_network) {
                    out.add(
                        "py-setup-network",
                        Severity::High,
                        Kind::Capability,
                        line,
                        &text,
                        "setup.py reaches the network at install time",
                    );
                }
                if let Some((line, text)) = excerpt(&facts.run_process) {
                    out.add(
                        "py-setup-process",
                        Severity::Medium,
                        Kind::Capability,
                        line,
                        &text,
                        "setup.py runs a process at install time",
                    );
                }
                if let Some((line, text)) = excerpt(&facts.run_exec) {
                    out.add(
                        "py-setup-exec",
                        Severity::Medium,
                        Kind::Capability,
                        line,
                        &text,
                        "setup.py executes dynamic code at install time",
                    );
                }
            }
            Context::Init => {
                if let Some((line, text)) = excerpt(&facts.run_network) {
                    out.add(
                        "py-import-network",
                        Severity::High,
                        Kind::Capability,
                        line,
                        &text,
                        "__init__.py reaches the network when the package is imported",
                    );
                }
                if let Some((line, text)) = excerpt(&facts.run_process) {
                    out.add(
                        "py-import-process",
                        Severity::Medium,
                        Kind::Capability,
                        line,
                        &text,
                        "__init__.py runs a process when the package is imported",
                    );
                }
            }
            Context::Module => {}
        }
        // Download-then-execute when the file runs: fetched, then run as a process or code.
        if let (Some((line, text)), true) = (
            &facts.run_network,
            facts.run_process.is_some() || facts.run_exec.is_some(),
        ) && self.context != Context::Module
        {
            out.add(
                "py-download-exec",
                Severity::Critical,
                Kind::Threat,
                Some(*line),
                text,
                "downloads, then runs a process or dynamic code, when the file runs",
            );
        }
        facts
            .exfil
            .conclude(out, "py-webhook-exfil", "py-credential-exfil");
        if facts.dup2 && facts.socket && facts.spawn.is_some() {
            let (line, text) = facts.spawn.clone().unwrap_or_default();
            out.add(
                "py-reverse-shell",
                Severity::Critical,
                Kind::Threat,
                Some(line),
                &text,
                "connects a socket to a shell's input and output",
            );
        } else if let Some((line, text)) = &facts.reverse_string {
            out.add(
                "py-reverse-shell",
                Severity::High,
                Kind::Threat,
                Some(*line),
                text,
                "holds a reverse shell command",
            );
        }
    }
}

/// The value of a string literal: its contents without quotes or prefix (escapes as written).
pub(crate) fn string_value(node: Node<'_>, source: &[u8]) -> String {
    let mut value = String::new();
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "string_content" {
            value.push_str(code::text(child, source));
        }
    }
    value
}

#[cfg(test)]
mod tests;
