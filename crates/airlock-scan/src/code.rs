//! What the Python and R analyses share: parsing under a deadline, node text, and the
//! findings of one file (one per rule, the first seen).

use std::ops::ControlFlow;
use std::sync::LazyLock;
use std::time::Instant;

use aho_corasick::AhoCorasick;
use tree_sitter::{Language, Node, ParseOptions, Parser, Tree};

use crate::finding::{Finding, Kind, Severity};
use crate::patterns::{self, Hit, ShellHit};

/// The scan ran out of its time budget.
#[derive(Debug)]
pub(crate) struct OutOfTime;

/// Parse `source`, giving up at `deadline`. `None` when the grammar could not be loaded or
/// the parse was cancelled, `Err` when the deadline passed.
pub(crate) fn parse(
    parser: &mut Parser,
    language: &Language,
    source: &[u8],
    deadline: Instant,
) -> Result<Option<Tree>, OutOfTime> {
    if parser.set_language(language).is_err() {
        return Ok(None);
    }
    let mut late = false;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            late = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let options = ParseOptions::new().progress_callback(&mut progress);
    let tree = parser.parse_with_options(
        &mut |offset, _| source.get(offset..).unwrap_or_default(),
        None,
        Some(options),
    );
    if late {
        return Err(OutOfTime);
    }
    Ok(tree)
}

pub(crate) fn text<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    std::str::from_utf8(source.get(node.byte_range()).unwrap_or_default()).unwrap_or("")
}

pub(crate) fn line(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX)
}

/// The findings of one file: at most one per rule (the first), as a reader needs one place
/// to look, not every repetition.
pub(crate) struct FileFindings<'a> {
    pub path: &'a str,
    pub findings: Vec<Finding>,
}

impl<'a> FileFindings<'a> {
    pub fn new(path: &'a str) -> Self {
        Self {
            path,
            findings: Vec::new(),
        }
    }

    pub fn add(
        &mut self,
        rule: &'static str,
        severity: Severity,
        kind: Kind,
        line: Option<u32>,
        excerpt: &str,
        message: &str,
    ) {
        if self.findings.iter().any(|f| f.rule == rule) {
            return;
        }
        self.findings.push(Finding::new(
            rule, severity, kind, self.path, line, excerpt, message,
        ));
    }
}

/// Preorder walk over every node; iterative, so
/// deeply nested code cannot overflow the stack.
pub(crate) fn walk<'t>(tree: &'t Tree, mut visit: impl FnMut(Node<'t>)) {
    let mut cursor = tree.walk();
    loop {
        visit(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// What an expression holds or does, as bits (a variable carries the bits of what was assigned
/// to it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u8);

impl Flags {
    /// Data decoded at run time (base64, hex, zlib, marshal; raw bytes, `unserialize`).
    pub const DECODE: Flags = Flags(1);
    /// Content fetched from the network.
    pub const NETWORK: Flags = Flags(2);
    /// A long encoded or escaped literal.
    pub const ENCODED: Flags = Flags(4);
    /// Content read from a file.
    pub const FILE: Flags = Flags(8);
    /// A path in the user's home directory.
    pub const HOME: Flags = Flags(16);
    /// A start-up file (`.Rprofile`, `.bashrc`, ...).
    pub const PROFILE: Flags = Flags(32);
    /// A URL literal.
    pub const URL: Flags = Flags(64);
    /// Credentials: a credential file or variable named, or the whole environment.
    pub const CRED: Flags = Flags(128);

    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, other: Flags) {
        self.0 |= other.0;
    }
}

/// The string literals under `node` (those of kind `string`, valued by `value`), joined by
/// spaces: a command's words, or its text (`["sh", "-c", "curl ... | sh"]` and
/// `"curl ... | sh"` alike).
pub(crate) fn strings_in(node: Node<'_>, value: impl Fn(Node<'_>) -> String) -> String {
    let mut words = Vec::new();
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "string" {
            words.push(value(n));
            continue;
        }
        stack.extend(n.named_children(&mut cursor));
    }
    words.reverse();
    words.join(" ")
}

/// Rule ids of one language for what a command or a script does.
pub(crate) struct CommandRules {
    pub download_exec: &'static str,
    pub reverse_shell: &'static str,
}

/// Adds the threats of a command (or script) `text`: download-then-execute and reverse shells,
/// at `at` (a call's line and text) or else at the line of the script they are on. Returns the
/// plain downloads.
pub(crate) fn command_threats<'t>(
    out: &mut FileFindings<'_>,
    text: &'t str,
    rules: &CommandRules,
    at: Option<(u32, &str)>,
) -> Vec<Hit<'t>> {
    let mut downloads = Vec::new();
    for hit in patterns::shell(text) {
        let (line, excerpt) = at.unwrap_or((hit.line, hit.text));
        match hit.what {
            ShellHit::DownloadExec => out.add(
                rules.download_exec,
                Severity::Critical,
                Kind::Threat,
                Some(line),
                excerpt,
                "downloads code and runs it",
            ),
            ShellHit::ReverseShell => out.add(
                rules.reverse_shell,
                Severity::Critical,
                Kind::Threat,
                Some(line),
                excerpt,
                "runs a shell connected to a remote host",
            ),
            ShellHit::Download => downloads.push(hit),
        }
    }
    downloads
}

/// What a file holds that exfiltration needs: a webhook with its secret, and credentials passed
/// to a call that sends data out; each with its line and text.
#[derive(Default)]
pub(crate) struct Exfiltration {
    pub webhook: Option<(u32, String)>,
    pub sent: Option<(u32, String)>,
}

impl Exfiltration {
    /// A string literal's value: a webhook with its secret.
    pub fn literal(&mut self, value: &str, line: u32) {
        if self.webhook.is_none() && patterns::webhook(value) {
            self.webhook = Some((line, value.to_owned()));
        }
    }

    /// A call that sends `flags` out.
    pub fn send(&mut self, flags: Flags, line: u32, excerpt: &str) {
        if flags.has(Flags::CRED) && self.sent.is_none() {
            self.sent = Some((line, excerpt.to_owned()));
        }
    }

    /// Adds `webhook` for a webhook with its secret, `credential` for credentials sent out.
    pub fn conclude(
        &self,
        out: &mut FileFindings<'_>,
        webhook: &'static str,
        credential: &'static str,
    ) {
        if let Some((line, text)) = &self.webhook {
            out.add(
                webhook,
                Severity::Critical,
                Kind::Threat,
                Some(*line),
                text,
                "holds a Discord or Telegram webhook with its secret: the usual exfiltration channel",
            );
        }
        if let Some((line, text)) = &self.sent {
            out.add(
                credential,
                Severity::Critical,
                Kind::Threat,
                Some(*line),
                text,
                "sends credentials (keys, cloud or browser stores, tokens, the environment) out",
            );
        }
    }
}

/// Which literal patterns a file can match at all, from its raw bytes: literals are only
/// matched against the patterns whose tokens the file holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hints {
    pub webhook: bool,
    pub credential: bool,
    pub reverse_shell: bool,
}

fn holds(source: &[u8], tokens: &[&str]) -> bool {
    tokens
        .iter()
        .any(|t| memchr::memmem::find(source, t.as_bytes()).is_some())
}

/// Tokens of credential locations and variables (those of `patterns::credential`).
pub(crate) const CREDENTIAL_TOKENS: &[&str] = &[
    ".ssh",
    ".aws/",
    ".docker/",
    ".kube/",
    ".pypirc",
    ".npmrc",
    ".netrc",
    ".git-credentials",
    "gcloud",
    "Login Data",
    "firefox",
    "Chrome/User Data",
    "wallet.dat",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "GITHUB_PAT",
    "GH_TOKEN",
    "NPM_TOKEN",
    "PYPI_TOKEN",
    "TWINE_PASSWORD",
    "OPENAI_API_KEY",
];

impl Hints {
    pub fn of(source: &[u8]) -> Hints {
        Hints {
            webhook: holds(source, &["webhooks", "api.telegram.org"]),
            credential: holds(source, CREDENTIAL_TOKENS),
            reverse_shell: holds(
                source,
                &[
                    "/dev/tcp", "/dev/udp", "nc -e", "ncat", "sh -i", "socat", "mkfifo",
                ],
            ),
        }
    }
}

/// What a plain module's bytes hold, token by token group (see [`python_worth_parsing`]).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Token {
    /// `exec(`, `eval(`.
    Exec,
    /// Where executed code comes from: decoders, decompressors, HTTP clients.
    DynamicSource,
    /// A process call.
    Process,
    /// `curl`, `wget`: a download only with a URL or a variable after it.
    Downloader,
    /// Commands that download or attack on their own (PowerShell cradles, reverse shells).
    ShellAttack,
    /// A socket joined to a process's input and output.
    Shell,
    Webhook,
    Credential,
    Send,
    Obfuscated,
}

/// Every token of [`python_worth_parsing`], with its group.
const MODULE_TOKENS: &[(Token, &[&str])] = &[
    (Token::Exec, &["exec(", "eval("]),
    (
        Token::DynamicSource,
        &[
            "decode",
            "unhexlify",
            "a2b_",
            "fromhex",
            "decompress",
            "marshal",
            "urlopen",
            "requests",
            "httpx",
            "urllib",
        ],
    ),
    (
        Token::Process,
        &[
            "system(",
            "popen",
            "Popen",
            "subprocess",
            "spawn",
            "os.exec",
        ],
    ),
    (Token::Downloader, &["curl", "wget"]),
    (
        Token::ShellAttack,
        &[
            "powershell",
            "DownloadString",
            "DownloadFile",
            "Invoke-",
            "certutil",
            "/dev/tcp",
            "nc -e",
            "bash -i",
            "sh -i",
        ],
    ),
    (Token::Shell, &["/dev/tcp", "dup2"]),
    (Token::Webhook, &["webhooks", "api.telegram.org"]),
    // The whole environment: `dict(os.environ)`, `json.dumps(os.environ)`, `os.environ.copy()`.
    (
        Token::Credential,
        &["os.environ)", "environ.copy", "environ.items"],
    ),
    (
        Token::Send,
        &[
            "post(", "put(", "urlopen", "Request(", "send(", "sendall", "SMTP", "FTP(",
        ],
    ),
    (Token::Obfuscated, &["pyarmor", "pytransform"]),
];

/// One automaton for every token of [`MODULE_TOKENS`] and [`CREDENTIAL_TOKENS`], each with the
/// groups it belongs to: a module is read once, however many tokens there are. No token holds
/// another one of a group that matters without it, so leftmost matches (the fast search) miss
/// no group.
static MODULE_SCAN: LazyLock<(AhoCorasick, Vec<u16>)> = LazyLock::new(|| {
    let mut tokens: Vec<&str> = Vec::new();
    let mut groups: Vec<u16> = Vec::new();
    let credential = CREDENTIAL_TOKENS.iter().map(|t| (Token::Credential, *t));
    let all = MODULE_TOKENS
        .iter()
        .flat_map(|(group, list)| list.iter().map(|t| (*group, *t)))
        .chain(credential);
    for (group, token) in all {
        match tokens.iter().position(|t| *t == token) {
            Some(i) => groups[i] |= group.bit(),
            None => {
                tokens.push(token);
                groups.push(group.bit());
            }
        }
    }
    let automaton = AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(&tokens)
        .expect("valid tokens");
    (automaton, groups)
});

impl Token {
    fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// How far after `curl` or `wget` the URL (or variable) of a download may come: a command's
/// literal pieces joined are what the rules read, and in the source they may be apart.
const DOWNLOAD_REACH: usize = 4096;

/// Whether a plain Python module (not run at install or import) can match a threat rule at
/// all: modules that cannot are not parsed. One pass over the bytes for the tokens; a `curl` or
/// `wget` counts only with `://` or `$` within [`DOWNLOAD_REACH`] bytes after it (what the
/// download rule needs in the command's text).
pub(crate) fn python_worth_parsing(source: &[u8]) -> bool {
    let (automaton, groups) = &*MODULE_SCAN;
    let mut held = 0u16;
    let mut downloader_at = Vec::new();
    for m in automaton.find_iter(source) {
        let group = groups[m.pattern().as_usize()];
        held |= group;
        if group & Token::Downloader.bit() != 0 {
            downloader_at.push(m.end());
        }
    }
    let has = |t: Token| held & t.bit() != 0;
    let downloads = || {
        downloader_at.iter().any(|&at| {
            let window = &source[at..source.len().min(at + DOWNLOAD_REACH)];
            memchr::memmem::find(window, b"://").is_some() || memchr::memchr(b'$', window).is_some()
        })
    };
    let dynamic = has(Token::Exec) && has(Token::DynamicSource);
    let command =
        has(Token::Process) && (has(Token::ShellAttack) || has(Token::Downloader) && downloads());
    let exfiltration = has(Token::Credential) && has(Token::Send);
    dynamic
        || command
        || has(Token::Shell)
        || has(Token::Webhook)
        || exfiltration
        || has(Token::Obfuscated)
}
