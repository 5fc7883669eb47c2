//! The simple repository API: PEP 503 HTML and PEP 691 JSON at API version 1.1 (PEP 700; 1.0
//! for a JSON page with a file of unknown size; 1.4 for a page with a PEP 792 project status),
//! with PEP 592 yanking, PEP 658/714 core metadata and PEP 691 content negotiation; 1.3 for a
//! page linking a file's PEP 740 provenance.

use serde::Serialize;

/// PEP 629 / PEP 691 `api-version` we implement: 1.1 adds `versions`, `size` and
/// `upload-time` (PEP 700).
pub const API_VERSION: &str = "1.1";

/// One distribution file on a project page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub filename: String,
    /// Relative or absolute, used as given.
    pub url: String,
    /// Hex SHA-256 of the file; empty when unknown (a proxied file whose upstream declared none).
    pub sha256: String,
    /// Unknown only for proxied files whose upstream did not say (PEP 503 HTML upstreams).
    pub size: Option<u64>,
    pub requires_python: Option<String>,
    /// `None`: not yanked; `Some("")`: yanked without a reason; `Some(reason)`.
    pub yanked: Option<String>,
    /// Hex SHA-256 of the PEP 658 `.metadata` file, if one is served.
    pub core_metadata_sha256: Option<String>,
    /// RFC 3339 UTC, `yyyy-mm-ddThh:mm:ss.ffffffZ`.
    pub upload_time: Option<String>,
    /// URL of the file's PEP 740 provenance object, when the index has one (used as given).
    pub provenance: Option<String>,
}

/// A project page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectPage {
    /// PEP 503 normalised.
    pub name: String,
    pub files: Vec<FileEntry>,
    /// All versions, including those without files (PEP 700).
    pub versions: Vec<String>,
    /// The PEP 792 status; `None` is `active`, which pages leave unsaid.
    pub status: Option<ProjectStatus>,
}

/// A PEP 792 project status marker other than `active` (API version 1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectStatus {
    pub status: Status,
    /// Free text for humans (`project-status-reason`).
    pub reason: Option<String>,
}

/// PEP 792 statuses (the specification's "Project Status Markers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// No uploads; existing files stay offered.
    Archived,
    /// No uploads, and no file offered (malware, a block of the whole project).
    Quarantined,
    Deprecated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
            Status::Quarantined => "quarantined",
            Status::Deprecated => "deprecated",
        }
    }
}

/// The API version of pages that carry a project status (PEP 792).
const API_VERSION_STATUS: &str = "1.4";

/// The API version of pages that link a file's provenance (PEP 740).
const API_VERSION_PROVENANCE: &str = "1.3";

/// The version a page declares once its files are known: 1.4 with a status, 1.3 with a
/// provenance link, else `base`.
fn page_version<'a>(page: &ProjectPage, base: &'a str) -> &'a str {
    if page.status.is_some() {
        API_VERSION_STATUS
    } else if page.files.iter().any(|f| f.provenance.is_some()) {
        API_VERSION_PROVENANCE
    } else {
        base
    }
}

/// The PEP 503 HTML project page.
pub fn project_html(page: &ProjectPage) -> String {
    let title = format!("Links for {}", escape(&page.name));
    let mut body = format!("    <h1>{title}</h1>\n");
    for file in &page.files {
        body += &format!(
            "    <a href=\"{}\"",
            escape(&match file.sha256.as_str() {
                "" => file.url.clone(),
                sha256 => format!("{}#sha256={sha256}", file.url),
            })
        );
        if let Some(requires_python) = &file.requires_python {
            body += &format!(" data-requires-python=\"{}\"", escape(requires_python));
        }
        if let Some(reason) = &file.yanked {
            body += &format!(" data-yanked=\"{}\"", escape(reason));
        }
        if let Some(sha256) = &file.core_metadata_sha256 {
            // PEP 714 name, plus the PEP 658 name older pips read.
            let value = escape(&format!("sha256={sha256}"));
            body += &format!(" data-core-metadata=\"{value}\" data-dist-info-metadata=\"{value}\"");
        }
        if let Some(url) = &file.provenance {
            body += &format!(" data-provenance=\"{}\"", escape(url));
        }
        body += &format!(">{}</a><br />\n", escape(&file.filename));
    }
    let Some(status) = &page.status else {
        return page_with(page_version(page, API_VERSION), "", &title, &body);
    };
    let mut head = format!(
        "<meta name=\"pypi:project-status\" content=\"{}\">\n    ",
        status.status.as_str()
    );
    if let Some(reason) = &status.reason {
        head += &format!(
            "<meta name=\"pypi:project-status-reason\" content=\"{}\">\n    ",
            escape(reason)
        );
    }
    page_with(API_VERSION_STATUS, &head, &title, &body)
}

/// The PEP 503 HTML root page; `projects` are normalised names.
pub fn root_html<'a>(projects: impl IntoIterator<Item = &'a str>) -> String {
    let body: String = projects
        .into_iter()
        .map(|name| {
            let name = escape(name);
            format!("    <a href=\"{name}/\">{name}</a><br />\n")
        })
        .collect();
    html_page("Simple index", &body)
}

fn html_page(title: &str, body: &str) -> String {
    page_with(API_VERSION, "", title, body)
}

/// A page declaring repository version `version`, with `head` (whole lines, each followed by
/// the indentation of the next) before its title.
fn page_with(version: &str, head: &str, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    \
         <meta name=\"pypi:repository-version\" content=\"{version}\">\n    \
         {head}<title>{title}</title>\n  </head>\n  <body>\n{body}  </body>\n</html>\n"
    )
}

/// Escape for HTML text and double- or single-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Serialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: &'static str,
}

/// PEP 691's first version, for a project page with a file of unknown size.
const API_VERSION_1_0: &str = "1.0";

const META: Meta = Meta {
    api_version: API_VERSION,
};

#[derive(Serialize)]
struct Hashes<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    sha256: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Yanked<'a> {
    Flag(bool),
    Reason(&'a str),
}

#[derive(Serialize)]
#[serde(untagged)]
enum CoreMetadataJson<'a> {
    Absent(bool),
    Hashes(Hashes<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct FileJson<'a> {
    filename: &'a str,
    url: &'a str,
    hashes: Hashes<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires_python: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_time: Option<&'a str>,
    yanked: Yanked<'a>,
    core_metadata: CoreMetadataJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a str>,
}

#[derive(Serialize)]
struct ProjectJson<'a> {
    meta: Meta,
    name: &'a str,
    files: Vec<FileJson<'a>>,
    versions: &'a [String],
    #[serde(rename = "project-status", skip_serializing_if = "Option::is_none")]
    project_status: Option<StatusJson<'a>>,
}

#[derive(Serialize)]
struct StatusJson<'a> {
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct RootProject<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct RootJson<'a> {
    meta: Meta,
    projects: Vec<RootProject<'a>>,
}

/// The PEP 691 JSON project page.
pub fn project_json(page: &ProjectPage) -> String {
    let files = page
        .files
        .iter()
        .map(|file| FileJson {
            filename: &file.filename,
            url: &file.url,
            hashes: Hashes {
                sha256: &file.sha256,
            },
            requires_python: file.requires_python.as_deref(),
            size: file.size,
            upload_time: file.upload_time.as_deref(),
            yanked: match file.yanked.as_deref() {
                None => Yanked::Flag(false),
                Some("") => Yanked::Flag(true),
                Some(reason) => Yanked::Reason(reason),
            },
            core_metadata: match &file.core_metadata_sha256 {
                None => CoreMetadataJson::Absent(false),
                Some(sha256) => CoreMetadataJson::Hashes(Hashes { sha256 }),
            },
            provenance: file.provenance.as_deref(),
        })
        .collect();
    // API version 1.1 (PEP 700) requires `size` for every file. A file proxied from an HTML-only
    // upstream (PEP 503) has none until airlock downloads it; such a page claims 1.0 rather
    // than break 1.1, keeping `upload-time` and `versions` (a 1.0 client ignores keys it does
    // not know; uv reads `upload-time` for `--exclude-newer`). Asking the upstream instead (a
    // HEAD request per file on each refresh) would cost a request per file of every release,
    // thousands for large projects, while the client waits for the page, and a bound on them
    // would still leave files without a size; an index that says what it knows is what a
    // careful client can rely on. The size is known, and the page 1.1, once the file is fetched.
    // A status is API version 1.4 (PEP 792); such a page is of a hosted project (every size
    // known) or offers no file.
    // A provenance link is API version 1.3 (PEP 740) on the same terms.
    let meta = if page.files.iter().all(|f| f.size.is_some()) {
        Meta {
            api_version: page_version(page, API_VERSION),
        }
    } else {
        Meta {
            api_version: API_VERSION_1_0,
        }
    };
    to_json(&ProjectJson {
        meta,
        name: &page.name,
        files,
        versions: &page.versions,
        project_status: page.status.as_ref().map(|s| StatusJson {
            status: s.status,
            reason: s.reason.as_deref(),
        }),
    })
}

/// The PEP 691 JSON root page.
pub fn root_json<'a>(projects: impl IntoIterator<Item = &'a str>) -> String {
    to_json(&RootJson {
        meta: META,
        projects: projects
            .into_iter()
            .map(|name| RootProject { name })
            .collect(),
    })
}

/// serde_json fails only on I/O, non-string map keys or failing `Serialize` impls; these
/// documents have none, so the empty fallback is unreachable.
fn to_json(document: &impl Serialize) -> String {
    serde_json::to_string(document).unwrap_or_default()
}

/// A representation of the simple API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/vnd.pypi.simple.v1+json`
    Json,
    /// `application/vnd.pypi.simple.v1+html`
    Html,
    /// `text/html`, the PEP 503 original
    TextHtml,
}

impl Format {
    /// Server preference when the client's q-values tie.
    /// Ties go to plain HTML, as on pypi.org: a client that sends no `Accept`, or `*/*` (pipenv's
    /// hash lookup), parses the answer as HTML. Clients that read JSON ask for it.
    const PREFERENCE: [Self; 3] = [Self::TextHtml, Self::Json, Self::Html];

    /// The `Content-Type` to answer with.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::Json => "application/vnd.pypi.simple.v1+json",
            Self::Html => "application/vnd.pypi.simple.v1+html",
            Self::TextHtml => "text/html",
        }
    }

    /// Whether to render with [`project_html`] / [`root_html`].
    pub fn is_html(&self) -> bool {
        !matches!(self, Self::Json)
    }

    /// The exact media type, including PEP 691's `latest` alias (case-insensitive).
    fn from_media_type(media_type: &str) -> Option<Self> {
        const TYPES: [(&str, Format); 5] = [
            ("application/vnd.pypi.simple.v1+json", Format::Json),
            ("application/vnd.pypi.simple.latest+json", Format::Json),
            ("application/vnd.pypi.simple.v1+html", Format::Html),
            ("application/vnd.pypi.simple.latest+html", Format::Html),
            ("text/html", Format::TextHtml),
        ];
        let media_type = media_type.trim();
        TYPES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(media_type))
            .map(|&(_, format)| format)
    }

    fn type_and_subtype(&self) -> (&'static str, &'static str) {
        self.content_type().split_once('/').unwrap_or_default()
    }
}

/// None of the requested media types is one we serve (answer 406).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "none of the accepted media types is available; this index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html"
)]
pub struct NotAcceptable;

/// PEP 691 content negotiation.
///
/// A `?format=` naming a type we serve wins; otherwise each format gets the q-value of the
/// most specific `Accept` range matching it (RFC 9110 §12.5.1: exact type, then `type/*`,
/// then `*/*`), the highest q wins and ties go to text/html, then JSON, then v1+html (pypi.org's
/// order).
/// A missing or empty `Accept` means `*/*`; malformed ranges are ignored.
pub fn negotiate(accept: Option<&str>, format: Option<&str>) -> Result<Format, NotAcceptable> {
    if let Some(format) = format.and_then(Format::from_media_type) {
        return Ok(format);
    }
    let accept = accept.filter(|a| !a.trim().is_empty()).unwrap_or("*/*");
    // Parsed once per format rather than collected: an answer costs no allocation.
    let ranges = || accept.split(',').filter_map(MediaRange::parse);
    let mut best: Option<(u16, Format)> = None;
    for format in Format::PREFERENCE {
        let q = ranges()
            .filter_map(|range| range.specificity(format).map(|s| (s, range.q)))
            .max()
            .map_or(0, |(_, q)| q);
        if q > 0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, format));
        }
    }
    best.map(|(_, format)| format).ok_or(NotAcceptable)
}

/// One `Accept` element; parameters other than `q` are ignored.
struct MediaRange<'a> {
    /// As sent: compared without regard to case.
    media_type: &'a str,
    /// q-value in thousandths.
    q: u16,
}

impl<'a> MediaRange<'a> {
    fn parse(element: &'a str) -> Option<Self> {
        let mut parts = element.split(';');
        let media_type = parts.next()?.trim();
        let (kind, subtype) = media_type.split_once('/')?;
        if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut q = 1000;
        for param in parts {
            if let Some((key, value)) = param.split_once('=')
                && key.trim().eq_ignore_ascii_case("q")
            {
                q = parse_qvalue(value.trim())?;
            }
        }
        Some(Self { media_type, q })
    }

    /// How specifically this range names `format` (3 exact, 2 `type/*`, 1 `*/*`), if at all.
    fn specificity(&self, format: Format) -> Option<u8> {
        if Format::from_media_type(self.media_type) == Some(format) {
            return Some(3);
        }
        let (kind, subtype) = self.media_type.split_once('/')?;
        let (format_kind, _) = format.type_and_subtype();
        match (kind, subtype) {
            ("*", "*") => Some(1),
            (kind, "*") if kind.eq_ignore_ascii_case(format_kind) => Some(2),
            _ => None,
        }
    }
}

/// RFC 9110 `qvalue`: `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(accept: Option<&str>, format: Option<&str>, expected: Result<Format, NotAcceptable>) {
        assert_eq!(
            negotiate(accept, format),
            expected,
            "accept {accept:?}, format {format:?}"
        );
    }

    use Format::{Html, Json, TextHtml};

    const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    const BROWSER: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

    #[test]
    fn negotiation() {
        check(Some(PIP), None, Ok(Json));
        check(
            Some(
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            ),
            None,
            Ok(Json),
        );
        check(Some(BROWSER), None, Ok(TextHtml));
        check(None, None, Ok(TextHtml));
        check(Some(""), None, Ok(TextHtml));
        check(Some("*/*"), None, Ok(TextHtml));
        check(Some("text/*"), None, Ok(TextHtml));
        check(Some("application/*"), None, Ok(Json));
        check(Some("Application/*"), None, Ok(Json));
        check(Some("TEXT/*;Q=0.5"), None, Ok(TextHtml));
        check(Some("text/html"), None, Ok(TextHtml));
        check(Some("application/vnd.pypi.simple.v1+html"), None, Ok(Html));
        check(
            Some("application/vnd.pypi.simple.latest+json"),
            None,
            Ok(Json),
        );
        check(
            Some("Application/Vnd.PyPI.Simple.Latest+HTML"),
            None,
            Ok(Html),
        );
        // Order is irrelevant; q decides, then server preference.
        check(
            Some("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.4"),
            None,
            Ok(TextHtml),
        );
        check(
            Some("text/html, application/vnd.pypi.simple.v1+json"),
            None,
            Ok(TextHtml),
        );
        check(
            Some("application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json"),
            None,
            Ok(Json),
        );
        check(
            Some("text/html, application/vnd.pypi.simple.v1+html"),
            None,
            Ok(TextHtml),
        );
        // q=0 excludes, and the most specific range wins over a wildcard.
        check(
            Some("application/vnd.pypi.simple.v1+json;q=0, */*"),
            None,
            Ok(TextHtml),
        );
        check(
            Some("*/*;q=0.1, text/html;q=0, application/vnd.pypi.simple.v1+json;q=0"),
            None,
            Ok(Html),
        );
        check(Some("text/html;q=0"), None, Err(NotAcceptable));
        check(
            Some("application/vnd.pypi.simple.v2+json"),
            None,
            Err(NotAcceptable),
        );
        check(Some("image/png"), None, Err(NotAcceptable));
        // Malformed ranges and q-values are ignored.
        check(
            Some("garbage, text/html;q=2, text/html;q=0.0001"),
            None,
            Err(NotAcceptable),
        );
        check(Some("*/html, text/html;q=0.3"), None, Ok(TextHtml));
        check(
            Some("text/html; charset=utf-8; q=1.000"),
            None,
            Ok(TextHtml),
        );
    }

    #[test]
    fn format_parameter() {
        check(Some(PIP), Some("text/html"), Ok(TextHtml));
        check(
            Some("image/png"),
            Some("application/vnd.pypi.simple.v1+json"),
            Ok(Json),
        );
        check(
            Some(BROWSER),
            Some("application/vnd.pypi.simple.latest+json"),
            Ok(Json),
        );
        // An unsupported format falls back to Accept.
        check(
            Some("text/html"),
            Some("application/vnd.pypi.simple.v2+json"),
            Ok(TextHtml),
        );
        check(Some("image/png"), Some("nonsense"), Err(NotAcceptable));
    }

    #[test]
    fn content_types() {
        assert_eq!(Json.content_type(), "application/vnd.pypi.simple.v1+json");
        assert_eq!(Html.content_type(), "application/vnd.pypi.simple.v1+html");
        assert_eq!(TextHtml.content_type(), "text/html");
        assert!(Html.is_html() && TextHtml.is_html() && !Json.is_html());
    }

    fn page() -> ProjectPage {
        let file = |filename: &str| FileEntry {
            filename: filename.into(),
            url: format!("../../files/{filename}"),
            sha256: "ab".repeat(32),
            size: Some(1234),
            requires_python: None,
            yanked: None,
            core_metadata_sha256: None,
            upload_time: None,
            provenance: None,
        };
        ProjectPage {
            name: "frob".into(),
            files: vec![
                FileEntry {
                    requires_python: Some(">=3.8, <4".into()),
                    core_metadata_sha256: Some("cd".repeat(32)),
                    upload_time: Some("2024-05-01T12:30:00.123456Z".into()),
                    ..file("frob-1.0-py3-none-any.whl")
                },
                FileEntry {
                    yanked: Some(String::new()),
                    ..file("frob-1.0.tar.gz")
                },
                FileEntry {
                    yanked: Some("broken <b>\"build\"</b> & more".into()),
                    ..file("frob-0.9.tar.gz")
                },
            ],
            versions: vec!["0.9".into(), "1.0".into(), "1.1".into()],
            status: None,
        }
    }

    #[test]
    fn project_status_markers() {
        // Archived: files stay; the status and its reason in both forms, API version 1.4.
        let archived = ProjectPage {
            status: Some(ProjectStatus {
                status: Status::Archived,
                reason: Some("moved to \"frob2\" <soon>".into()),
            }),
            ..page()
        };
        let html = project_html(&archived);
        assert!(
            html.contains("<meta name=\"pypi:repository-version\" content=\"1.4\">"),
            "{html}"
        );
        assert!(
            html.contains("<meta name=\"pypi:project-status\" content=\"archived\">"),
            "{html}"
        );
        assert!(
            html.contains("<meta name=\"pypi:project-status-reason\" content=\"moved to &quot;frob2&quot; &lt;soon&gt;\">"),
            "{html}"
        );
        assert_eq!(html.matches("<a href").count(), 3);
        let json: serde_json::Value = serde_json::from_str(&project_json(&archived)).unwrap();
        assert_eq!(json["meta"]["api-version"], "1.4");
        assert_eq!(json["project-status"]["status"], "archived");
        assert_eq!(
            json["project-status"]["reason"],
            "moved to \"frob2\" <soon>"
        );
        assert_eq!(json["files"].as_array().map(Vec::len), Some(3));
        // Quarantined without a reason; no status: no key, no tag, version 1.1.
        let quarantined = ProjectPage {
            files: Vec::new(),
            versions: Vec::new(),
            status: Some(ProjectStatus {
                status: Status::Quarantined,
                reason: None,
            }),
            ..page()
        };
        let json: serde_json::Value = serde_json::from_str(&project_json(&quarantined)).unwrap();
        assert_eq!(
            json["project-status"],
            serde_json::json!({"status": "quarantined"})
        );
        assert!(!project_html(&quarantined).contains("project-status-reason"));
        assert!(!project_html(&page()).contains("project-status"));
        assert!(!project_json(&page()).contains("project-status"));
    }

    #[test]
    fn provenance_links() {
        // PEP 740: `data-provenance` and `provenance` name the file's provenance, API version 1.3;
        // files without one carry neither.
        let mut linked = page();
        linked.files[0].provenance = Some("../../integrity/frob/1.0/f.whl/provenance?a&b".into());
        let html = project_html(&linked);
        assert!(
            html.contains("<meta name=\"pypi:repository-version\" content=\"1.3\">"),
            "{html}"
        );
        assert!(
            html.contains(
                " data-provenance=\"../../integrity/frob/1.0/f.whl/provenance?a&amp;b\">"
            ),
            "{html}"
        );
        assert_eq!(html.matches("data-provenance").count(), 1);
        let json: serde_json::Value = serde_json::from_str(&project_json(&linked)).unwrap();
        assert_eq!(json["meta"]["api-version"], "1.3");
        assert_eq!(
            json["files"][0]["provenance"],
            "../../integrity/frob/1.0/f.whl/provenance?a&b"
        );
        assert!(json["files"][1].get("provenance").is_none());
        // A status wins (1.4 includes 1.3).
        linked.status = Some(ProjectStatus {
            status: Status::Archived,
            reason: None,
        });
        assert!(project_html(&linked).contains("content=\"1.4\""));
        assert!(project_json(&linked).contains("\"api-version\":\"1.4\""));
        assert!(!project_html(&page()).contains("provenance"));
    }

    #[test]
    fn project_pages() {
        insta::assert_snapshot!("project_html", project_html(&page()));
        insta::assert_snapshot!("project_json", project_json(&page()));
    }

    #[test]
    fn root_pages() {
        let projects = ["frob".to_owned(), "a<b".to_owned()];
        insta::assert_snapshot!("root_html", root_html(projects.iter().map(String::as_str)));
        insta::assert_snapshot!("root_json", root_json(projects.iter().map(String::as_str)));
    }

    #[test]
    fn json_is_valid_and_complete() {
        let value: serde_json::Value = serde_json::from_str(&project_json(&page())).unwrap();
        assert_eq!(value["meta"]["api-version"], "1.1");
        assert_eq!(
            value["files"][0]["core-metadata"]["sha256"],
            "cd".repeat(32)
        );
        assert_eq!(value["files"][1]["core-metadata"], false);
        assert_eq!(value["files"][1]["yanked"], true);
        assert_eq!(value["files"][0]["yanked"], false);
        assert!(value["files"][1].get("requires-python").is_none());
        assert!(value["files"][0].get("dist-info-metadata").is_none());
    }

    #[test]
    fn a_file_of_unknown_size_makes_the_page_api_version_1_0() {
        let mut page = page();
        page.files[2].size = None;
        let value: serde_json::Value = serde_json::from_str(&project_json(&page)).unwrap();
        assert_eq!(value["meta"]["api-version"], "1.0");
        assert!(value["files"][2].get("size").is_none());
        assert_eq!(value["files"][0]["size"], 1234);
        assert_eq!(value["versions"][0], "0.9");
    }
}
