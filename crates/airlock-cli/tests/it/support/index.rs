//! Reading a lane's simple index (PEP 503 HTML, PEP 691 JSON) and its files, as installers do.

use std::collections::BTreeMap;
use std::fs;

use reqwest::Url;
use reqwest::blocking::Response;
use serde_json::Value;

use super::fixtures::wheel_metadata;
use super::server::TestServer;
use super::sha256_hex;

pub const JSON: &str = "application/vnd.pypi.simple.v1+json";
pub const HTML: &str = "application/vnd.pypi.simple.v1+html";

/// One file of a project page, from the JSON form.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub filename: String,
    /// Absolute: resolved against the page URL.
    pub url: String,
    pub sha256: String,
    pub raw: Value,
}

impl FileEntry {
    pub fn is_wheel(&self) -> bool {
        self.filename.ends_with(".whl")
    }

    /// Version from the file name (`name-version-...whl`, `name-version.tar.gz`).
    pub fn version(&self) -> String {
        let stem = self
            .filename
            .strip_suffix(".tar.gz")
            .map(|s| s.rsplit_once('-').map_or(s, |(_, v)| v))
            .unwrap_or_else(|| self.filename.split('-').nth(1).unwrap_or_default());
        stem.to_string()
    }

    /// Whether the page lists the file as refused by its lane: yanked with the lane's verdict as
    /// the reason (`lane "prod": ...`), as lanes with `hidden = "yank"` show what they refuse.
    pub fn refused_by_lane(&self) -> bool {
        is_lane_refusal(&self.raw["yanked"])
    }
}

/// The `versions` of a PEP 691 project page that have a file the lane offers (not refused by
/// it, see [`is_lane_refusal`]), in the page's order.
pub fn offered_versions(page: &Value) -> Vec<String> {
    let offered: Vec<&str> = page["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| !is_lane_refusal(&f["yanked"]))
        .map(|f| f["filename"].as_str().expect("filename"))
        .collect();
    page["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v.as_str().expect("version").to_string())
        .filter(|v| {
            offered
                .iter()
                .any(|f| f.contains(&format!("-{v}-")) || f.ends_with(&format!("-{v}.tar.gz")))
        })
        .collect()
}

/// Whether a PEP 691 `yanked` value is a lane's refusal (`lane "prod": ...`).
pub fn is_lane_refusal(yanked: &Value) -> bool {
    yanked.as_str().is_some_and(|r| r.starts_with("lane \""))
}

/// Checks a PEP 691 JSON page (root or project) against the text of PEP 691 and PEP 700: the
/// keys each `api-version` requires and the type of every key it defines. Keys a PEP does not
/// define are allowed (clients ignore them).
pub fn check_pep691(page: &Value) -> Result<(), String> {
    let page = page.as_object().ok_or("the page is not an object")?;
    let version = page
        .get("meta")
        .and_then(|m| m.get("api-version"))
        .and_then(Value::as_str)
        .ok_or("meta.api-version: missing or not a string")?;
    let minor: u32 = version
        .strip_prefix("1.")
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("meta.api-version {version:?}: not 1.x"))?;
    let v1_1 = minor >= 1;
    if let Some(projects) = page.get("projects") {
        for p in projects.as_array().ok_or("projects: not an array")? {
            p.get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("projects: an entry without a string name: {p}"))?;
        }
        return Ok(());
    }
    page.get("name")
        .and_then(Value::as_str)
        .ok_or("name: missing or not a string")?;
    if v1_1 || page.contains_key("versions") {
        let versions = page
            .get("versions")
            .and_then(Value::as_array)
            .ok_or("versions: required by api-version 1.1, an array")?;
        let mut seen = std::collections::BTreeSet::new();
        for v in versions {
            let v = v
                .as_str()
                .ok_or_else(|| format!("versions: {v} is not a string"))?;
            if !seen.insert(v) {
                return Err(format!("versions: {v:?} twice"));
            }
        }
    }
    if let Some(status) = page.get("project-status") {
        // PEP 792 (api-version 1.4): `status` one of four words, `reason` a string if present.
        if minor < 4 {
            return Err(format!("project-status on an api-version {version} page"));
        }
        let word = status.get("status").and_then(Value::as_str);
        if !matches!(
            word,
            Some("active" | "archived" | "quarantined" | "deprecated")
        ) {
            return Err(format!("project-status: bad status: {status}"));
        }
        if status.get("reason").is_some_and(|r| !r.is_string()) {
            return Err(format!("project-status: reason not a string: {status}"));
        }
    }
    let files = page
        .get("files")
        .and_then(Value::as_array)
        .ok_or("files: missing or not an array")?;
    for f in files {
        let f = f
            .as_object()
            .ok_or_else(|| format!("files: {f} is not an object"))?;
        let name = f
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a file without a string filename: {f:?}"))?;
        let fail = |what: &str| format!("{name}: {what}");
        f.get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("url: missing or not a string"))?;
        let hashes = f
            .get("hashes")
            .and_then(Value::as_object)
            .ok_or_else(|| fail("hashes: missing or not an object"))?;
        for (algorithm, digest) in hashes {
            let digest = digest.as_str().unwrap_or_default();
            if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(&format!("hashes.{algorithm}: not a hex digest")));
            }
        }
        if let Some(rp) = f.get("requires-python")
            && !rp.is_string()
        {
            return Err(fail("requires-python: not a string"));
        }
        if let Some(yanked) = f.get("yanked")
            && !(yanked.is_boolean() || yanked.is_string())
        {
            return Err(fail("yanked: neither a boolean nor a string"));
        }
        for key in ["core-metadata", "dist-info-metadata", "gpg-sig"] {
            match f.get(key) {
                None | Some(Value::Bool(_)) => {}
                Some(Value::Object(h)) if key != "gpg-sig" && h.values().all(Value::is_string) => {}
                Some(other) => return Err(fail(&format!("{key}: {other} is not allowed"))),
            }
        }
        // PEP 740 (api-version 1.3): a URL or null.
        match f.get("provenance") {
            None | Some(Value::Null) => {}
            Some(Value::String(_)) if minor >= 3 => {}
            Some(Value::String(_)) => {
                return Err(fail(&format!(
                    "provenance on an api-version {version} page"
                )));
            }
            Some(other) => return Err(fail(&format!("provenance: {other} is not allowed"))),
        }
        match f.get("size") {
            Some(size) if !size.is_u64() => return Err(fail("size: not a non-negative integer")),
            None if v1_1 => return Err(fail("size: required by api-version 1.1")),
            _ => {}
        }
        if let Some(time) = f.get("upload-time") {
            let time = time
                .as_str()
                .ok_or_else(|| fail("upload-time: not a string"))?;
            if !is_pep700_time(time) {
                return Err(fail(&format!(
                    "upload-time {time:?}: not yyyy-mm-ddThh:mm:ss[.ffffff]Z"
                )));
            }
        }
    }
    Ok(())
}

/// PEP 700's `upload-time`: `yyyy-mm-ddThh:mm:ss.ffffffZ`, UTC, the fraction optional and of at
/// most six digits.
fn is_pep700_time(time: &str) -> bool {
    let Some(rest) = time.strip_suffix('Z') else {
        return false;
    };
    let (whole, fraction) = rest.split_once('.').unwrap_or((rest, "1"));
    let shape = "dddd-dd-ddTdd:dd:dd";
    whole.len() == shape.len()
        && whole.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            s => c == s,
        })
        && (1..=6).contains(&fraction.len())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok()
}

/// An `<a>` of an HTML page.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub text: String,
    /// Attributes as written in the page (entities not decoded); `None` for a bare attribute.
    pub attrs: BTreeMap<String, Option<String>>,
}

impl Anchor {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(|v| v.as_deref())
    }
}

/// The `<a ...>text</a>` elements of a page; enough HTML for the pages the index renders.
pub fn anchors(html: &str) -> Vec<Anchor> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        let tag = &rest[start + 3..];
        let Some(tag_end) = tag.find('>') else { break };
        let Some(close) = tag[tag_end..].find("</a>") else {
            break;
        };
        let text = tag[tag_end + 1..tag_end + close].trim().to_string();
        found.push(Anchor {
            text,
            attrs: attributes(&tag[..tag_end]),
        });
        rest = &tag[tag_end + close..];
    }
    found
}

fn attributes(mut s: &str) -> BTreeMap<String, Option<String>> {
    let mut attrs = BTreeMap::new();
    loop {
        s = s.trim_start().trim_start_matches('/');
        let name_end = s
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(s.len());
        if name_end == 0 {
            return attrs;
        }
        let name = s[..name_end].to_lowercase();
        s = s[name_end..].trim_start();
        let value = if let Some(after) = s.strip_prefix('=') {
            let after = after.trim_start();
            let (value, rest) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let end = after[1..].find(q).map_or(after.len(), |i| i + 1);
                    (&after[1..end], after.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            s = rest;
            Some(value.to_string())
        } else {
            None
        };
        attrs.insert(name, value);
    }
}

/// One lane's view of the Python index on a server.
pub struct Index<'a> {
    pub server: &'a TestServer,
    pub lane: &'a str,
}

impl<'a> Index<'a> {
    pub fn new(server: &'a TestServer, lane: &'a str) -> Self {
        Index { server, lane }
    }

    /// The `--index-url` of this lane.
    pub fn simple_url(&self) -> String {
        self.server.url(&format!("/{}/pypi/simple/", self.lane))
    }

    /// URL of a project page; `project` is used as given (not normalised).
    pub fn project_url(&self, project: &str) -> String {
        format!("{}{project}/", self.simple_url())
    }

    /// GET with an `Accept` header (none if `accept` is empty). A PEP 691 JSON page must pass
    /// [`check_pep691`].
    pub fn get(&self, url: &str, accept: &str) -> Response {
        let mut request = self.server.http().get(url);
        if !accept.is_empty() {
            request = request.header("Accept", accept);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
        let is_json_page = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(JSON.as_bytes()));
        if !(response.status().is_success() && is_json_page) {
            return response;
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().expect("body");
        let page: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("GET {url}: a JSON page that is not JSON ({e})"));
        if let Err(broken) = check_pep691(&page) {
            panic!("GET {url}: the page breaks PEP 691/700: {broken}\n{page:#}");
        }
        let mut rebuilt = axum::http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.headers_mut() = headers;
        Response::from(rebuilt)
    }

    /// The JSON form of `url`; panics unless 200.
    fn json(&self, url: &str) -> Value {
        let response = self.get(url, JSON);
        let status = response.status();
        let body = response.text().expect("body");
        assert_eq!(status, 200, "GET {url} (JSON): {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
    }

    /// The root page, JSON.
    pub fn root_json(&self) -> Value {
        self.json(&self.simple_url())
    }

    /// Normalised names of the projects the root page lists.
    pub fn project_names(&self) -> Vec<String> {
        let root = self.root_json();
        let projects = root["projects"]
            .as_array()
            .unwrap_or_else(|| panic!("root page without projects: {root}"));
        projects
            .iter()
            .map(|p| normalize(p["name"].as_str().expect("project name")))
            .collect()
    }

    /// A project page, JSON.
    pub fn project_json(&self, project: &str) -> Value {
        self.json(&self.project_url(project))
    }

    /// A project page, HTML; panics unless 200.
    pub fn project_html(&self, project: &str) -> String {
        let url = self.project_url(project);
        let response = self.get(&url, "text/html");
        let status = response.status();
        let body = response.text().expect("body");
        assert_eq!(status, 200, "GET {url} (HTML): {body}");
        body
    }

    /// The files of a project page, with URLs made absolute.
    pub fn files(&self, project: &str) -> Vec<FileEntry> {
        let page_url = self.project_url(project);
        let page = self.project_json(project);
        let base = Url::parse(&page_url).expect("page url");
        page["files"]
            .as_array()
            .unwrap_or_else(|| panic!("project page without files: {page}"))
            .iter()
            .map(|f| FileEntry {
                filename: f["filename"].as_str().expect("filename").to_string(),
                url: base
                    .join(f["url"].as_str().expect("url"))
                    .expect("file url")
                    .to_string(),
                sha256: f["hashes"]["sha256"]
                    .as_str()
                    .unwrap_or_else(|| panic!("file without sha256: {f}"))
                    .to_string(),
                raw: f.clone(),
            })
            .collect()
    }

    /// The files of a project page that its lane offers: those not refused by it
    /// ([`FileEntry::refused_by_lane`]).
    pub fn offered_files(&self, project: &str) -> Vec<FileEntry> {
        let mut files = self.files(project);
        files.retain(|f| !f.refused_by_lane());
        files
    }

    /// Downloads a file; panics unless 200.
    pub fn download(&self, url: &str) -> Vec<u8> {
        let response = self.get(url, "");
        let status = response.status();
        let bytes = response.bytes().expect("body").to_vec();
        assert_eq!(
            status,
            200,
            "GET {url}: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes
    }

    /// For every wheel of `project`: the file matches its advertised sha256, `<url>.metadata` exists, its
    /// sha256 is the advertised `core-metadata` hash, and it is byte for byte the wheel's METADATA.
    pub fn assert_core_metadata_consistent(&self, project: &str) {
        let files = self.files(project);
        let wheels: Vec<_> = files.iter().filter(|f| f.is_wheel()).collect();
        assert!(!wheels.is_empty(), "{project} has no wheel: {files:?}");
        let scratch = tempfile::tempdir().expect("temp dir");
        for wheel in wheels {
            let bytes = self.download(&wheel.url);
            assert_eq!(
                sha256_hex(&bytes),
                wheel.sha256,
                "{}: bytes vs hashes.sha256",
                wheel.filename
            );
            let advertised = wheel.raw["core-metadata"]["sha256"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{}: no core-metadata sha256: {}", wheel.filename, wheel.raw)
                });
            let metadata = self.download(&format!("{}.metadata", wheel.url));
            assert_eq!(
                sha256_hex(&metadata),
                advertised,
                "{}: .metadata vs core-metadata",
                wheel.filename
            );
            let local = scratch.path().join(&wheel.filename);
            fs::write(&local, &bytes).expect("write wheel");
            assert_eq!(
                metadata,
                wheel_metadata(&local),
                "{}: .metadata is not the wheel's METADATA",
                wheel.filename
            );
        }
    }
}

/// PEP 503 normalisation.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator {
                out.push('-');
                in_separator = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[test]
fn anchors_reads_attributes_and_text() {
    let html = r#"<html><body><a href="../x-1.0.whl#sha256=ab" data-requires-python="&gt;=3.8" data-yanked>x-1.0.whl</a>
<a href='y.tar.gz' data-yanked="bad build">y.tar.gz</a></body></html>"#;
    let found = anchors(html);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].text, "x-1.0.whl");
    assert_eq!(found[0].attr("href"), Some("../x-1.0.whl#sha256=ab"));
    assert_eq!(found[0].attr("data-requires-python"), Some("&gt;=3.8"));
    assert_eq!(found[0].attrs.get("data-yanked"), Some(&None));
    assert_eq!(found[1].attr("data-yanked"), Some("bad build"));
}

#[test]
fn normalize_follows_pep_503() {
    assert_eq!(normalize("Foo__Bar.baz-Qux"), "foo-bar-baz-qux");
}
