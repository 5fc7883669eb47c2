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

    /// GET with an `Accept` header (none if `accept` is empty).
    pub fn get(&self, url: &str, accept: &str) -> Response {
        let mut request = self.server.http().get(url);
        if !accept.is_empty() {
            request = request.header("Accept", accept);
        }
        request
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e:?}"))
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
