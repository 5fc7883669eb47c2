//! Reading another index's project page: PEP 691 JSON or PEP 503 HTML, into one model.
//! File URLs are resolved against the page URL (and an HTML `<base href>`, as pip does).
//! Unknown keys and attributes are ignored; a file without a usable URL or filename is skipped
//! rather than failing the page, as installers do.

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

/// What an upstream says of a file's PEP 658 metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreMetadataRef {
    Absent,
    /// Offered without a hash.
    Present,
    /// Offered with these hashes (lowercase algorithm -> lowercase hex).
    Hashes(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    pub filename: String,
    /// Absolute URL, without its fragment.
    pub url: String,
    /// Lowercase algorithm -> lowercase hex (from `hashes` or the URL fragment).
    pub hashes: BTreeMap<String, String>,
    pub requires_python: Option<String>,
    /// `None`: not yanked; `Some("")`: yanked without a reason.
    pub yanked: Option<String>,
    pub core_metadata: CoreMetadataRef,
    pub size: Option<u64>,
    pub upload_time: Option<String>,
    /// Absolute http(s) URL of the file's PEP 740 provenance object, if the upstream links one.
    pub provenance: Option<String>,
}

impl ListedFile {
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedProject {
    pub files: Vec<ListedFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("invalid PEP 691 JSON page")]
    Json(#[source] serde_json::Error),
    #[error("unsupported simple API version {0} (this reader knows 1.x)")]
    UnsupportedVersion(String),
    #[error("page is not UTF-8")]
    NotUtf8,
}

/// Parses a project page given its `Content-Type` and the URL it was fetched from.
pub fn parse_project(
    body: &[u8],
    content_type: &str,
    page_url: &Url,
) -> Result<ListedProject, ListingError> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.ends_with("+json") || mime == "application/json" {
        parse_json(body, page_url)
    } else {
        let text = std::str::from_utf8(body).map_err(|_| ListingError::NotUtf8)?;
        Ok(parse_html(text, page_url))
    }
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    meta: JsonMeta,
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize, Default)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: Option<String>,
    url: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    yanked: Option<serde_json::Value>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
    size: Option<u64>,
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
    /// PEP 740: a URL or null; anything else is ignored.
    #[serde(default)]
    provenance: Option<serde_json::Value>,
}

fn lower_map(m: BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
        .collect()
}

fn metadata_from_json(v: Option<serde_json::Value>) -> CoreMetadataRef {
    match v {
        Some(serde_json::Value::Bool(true)) => CoreMetadataRef::Present,
        Some(serde_json::Value::Object(map)) => CoreMetadataRef::Hashes(lower_map(
            map.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
        )),
        _ => CoreMetadataRef::Absent,
    }
}

fn parse_json(body: &[u8], page_url: &Url) -> Result<ListedProject, ListingError> {
    let page: JsonPage = serde_json::from_slice(body).map_err(ListingError::Json)?;
    if let Some(v) = &page.meta.api_version
        && !v.starts_with("1.")
        && v != "1"
    {
        return Err(ListingError::UnsupportedVersion(v.clone()));
    }
    let files = page
        .files
        .into_iter()
        .filter_map(|f| {
            let (url, fragment_hash) = resolve(page_url, f.url.as_deref()?)?;
            let filename = f.filename.unwrap_or_else(|| last_segment(&url));
            let mut hashes = lower_map(f.hashes);
            if let Some((algo, hex)) = fragment_hash {
                hashes.entry(algo).or_insert(hex);
            }
            let yanked = match f.yanked {
                Some(serde_json::Value::Bool(true)) => Some(String::new()),
                Some(serde_json::Value::String(reason)) => Some(reason),
                _ => None,
            };
            let core_metadata = match metadata_from_json(f.core_metadata) {
                CoreMetadataRef::Absent => metadata_from_json(f.dist_info_metadata),
                other => other,
            };
            Some(ListedFile {
                filename,
                url,
                hashes,
                requires_python: f.requires_python.filter(|s| !s.is_empty()),
                yanked,
                core_metadata,
                size: f.size,
                upload_time: f.upload_time,
                provenance: f
                    .provenance
                    .as_ref()
                    .and_then(serde_json::Value::as_str)
                    .and_then(|href| provenance_url(page_url, href)),
            })
        })
        .collect();
    Ok(ListedProject { files })
}

/// Resolves `href` against `base`; returns the URL without fragment and a `#algo=hex` hash if present.
fn resolve(base: &Url, href: &str) -> Option<(String, Option<(String, String)>)> {
    let mut url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return None;
    }
    let hash = url.fragment().and_then(|f| {
        let (algo, hex) = f.split_once('=')?;
        Some((algo.to_ascii_lowercase(), hex.to_ascii_lowercase()))
    });
    url.set_fragment(None);
    Some((url.to_string(), hash))
}

/// A provenance link resolved against `base`: http(s) only (never `file:`, which a page may not
/// make the proxy read).
fn provenance_url(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

fn last_segment(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next().unwrap_or(path);
    percent_decode(name)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn parse_html(text: &str, page_url: &Url) -> ListedProject {
    use html5gum::{Token, Tokenizer};
    let mut base = page_url.clone();
    let mut files = Vec::new();
    // The anchor being read: its attributes, and its text so far.
    let mut open: Option<(BTreeMap<String, String>, String)> = None;
    let attr_map = |tag: &html5gum::StartTag<()>| -> BTreeMap<String, String> {
        tag.attributes
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).to_ascii_lowercase(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    };
    for token in Tokenizer::new(text).flatten() {
        match token {
            Token::StartTag(tag) if tag.name.as_slice() == b"base" => {
                if let Some(href) = attr_map(&tag).get("href")
                    && let Ok(u) = page_url.join(href)
                {
                    base = u;
                }
            }
            Token::StartTag(tag) if tag.name.as_slice() == b"a" => {
                if let Some((attrs, text)) = open.take() {
                    files.extend(html_file(&base, attrs, &text));
                }
                open = Some((attr_map(&tag), String::new()));
            }
            Token::String(s) => {
                if let Some((_, text)) = open.as_mut() {
                    text.push_str(&String::from_utf8_lossy(&s));
                }
            }
            Token::EndTag(tag) if tag.name.as_slice() == b"a" => {
                if let Some((attrs, text)) = open.take() {
                    files.extend(html_file(&base, attrs, &text));
                }
            }
            _ => {}
        }
    }
    if let Some((attrs, text)) = open.take() {
        files.extend(html_file(&base, attrs, &text));
    }
    ListedProject { files }
}

fn html_file(base: &Url, attrs: BTreeMap<String, String>, text: &str) -> Option<ListedFile> {
    let (url, fragment_hash) = resolve(base, attrs.get("href")?)?;
    let filename = match text.trim() {
        "" => last_segment(&url),
        t => t.to_string(),
    };
    let mut hashes = BTreeMap::new();
    if let Some((algo, hex)) = fragment_hash {
        hashes.insert(algo, hex);
    }
    let metadata_attr = attrs
        .get("data-core-metadata")
        .or_else(|| attrs.get("data-dist-info-metadata"));
    let core_metadata = match metadata_attr.map(String::as_str) {
        None | Some("false") => CoreMetadataRef::Absent,
        Some("true") | Some("") => CoreMetadataRef::Present,
        Some(v) => match v.split_once('=') {
            Some((algo, hex)) => CoreMetadataRef::Hashes(BTreeMap::from([(
                algo.to_ascii_lowercase(),
                hex.to_ascii_lowercase(),
            )])),
            None => CoreMetadataRef::Present,
        },
    };
    Some(ListedFile {
        filename,
        url,
        hashes,
        requires_python: attrs
            .get("data-requires-python")
            .filter(|s| !s.is_empty())
            .cloned(),
        yanked: attrs.get("data-yanked").cloned(),
        core_metadata,
        size: None,
        upload_time: None,
        provenance: attrs
            .get("data-provenance")
            .and_then(|href| provenance_url(base, href)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://idx.example/simple/demo/").unwrap()
    }

    #[test]
    fn html_with_relative_and_absolute_urls_fragments_and_attributes() {
        let html = r#"<!DOCTYPE html><html><body>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=ABCD" data-requires-python="&gt;=3.8" data-core-metadata="sha256=EF01">demo-1.0-py3-none-any.whl</a>
<a href="https://cdn.example/x/demo-1.1.tar.gz#md5=99" data-yanked="broken build">demo-1.1.tar.gz</a>
<A HREF="demo-1.2.tar.gz" data-yanked data-dist-info-metadata="true">demo-1.2.tar.gz</A>
<a>no href</a>
<a href="javascript:alert(1)">evil</a>
</body></html>"#;
        let p = parse_html(html, &page());
        assert_eq!(p.files.len(), 3);
        let f = &p.files[0];
        assert_eq!(f.url, "https://idx.example/files/demo-1.0-py3-none-any.whl");
        assert_eq!(f.sha256(), Some("abcd"));
        assert_eq!(f.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            f.core_metadata,
            CoreMetadataRef::Hashes(BTreeMap::from([("sha256".into(), "ef01".into())]))
        );
        assert_eq!(p.files[1].yanked.as_deref(), Some("broken build"));
        assert_eq!(p.files[1].hashes.get("md5").map(String::as_str), Some("99"));
        assert_eq!(p.files[1].sha256(), None);
        assert_eq!(
            p.files[2].url,
            "https://idx.example/simple/demo/demo-1.2.tar.gz"
        );
        assert_eq!(p.files[2].yanked.as_deref(), Some(""));
        assert_eq!(p.files[2].core_metadata, CoreMetadataRef::Present);
    }

    #[test]
    fn html_base_href_is_honoured() {
        let html = r#"<html><head><base href="https://mirror.example/pkgs/"></head><body><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a></body></html>"#;
        let p = parse_html(html, &page());
        assert_eq!(
            p.files[0].url,
            "https://mirror.example/pkgs/demo-1.0.tar.gz"
        );
    }

    #[test]
    fn json_page_carries_every_field() {
        let json = br#"{"meta":{"api-version":"1.4","_last-serial":3},"name":"demo","files":[
            {"filename":"demo-1.0-py3-none-any.whl","url":"../../f/demo-1.0-py3-none-any.whl","hashes":{"sha256":"AA"},
             "requires-python":">=3.9","size":123,"upload-time":"2024-01-01T00:00:00.000000Z","yanked":"bad",
             "core-metadata":{"sha256":"BB"},"provenance":null},
            {"filename":"demo-1.0.tar.gz","url":"https://cdn.example/demo-1.0.tar.gz#sha256=cc","hashes":{},"yanked":false,
             "dist-info-metadata":true,"provenance":"/integrity/demo/1.0/demo-1.0.tar.gz/provenance"},
            {"filename":"x","hashes":{}}
        ],"versions":["1.0"]}"#;
        let p = parse_project(json, "application/vnd.pypi.simple.v1+json", &page()).unwrap();
        assert_eq!(p.files.len(), 2, "a file without url is skipped");
        let f = &p.files[0];
        assert_eq!(f.url, "https://idx.example/f/demo-1.0-py3-none-any.whl");
        assert_eq!(f.sha256(), Some("aa"));
        assert_eq!((f.size, f.yanked.as_deref()), (Some(123), Some("bad")));
        assert_eq!(
            f.upload_time.as_deref(),
            Some("2024-01-01T00:00:00.000000Z")
        );
        assert_eq!(
            f.core_metadata,
            CoreMetadataRef::Hashes(BTreeMap::from([("sha256".into(), "bb".into())]))
        );
        assert_eq!(p.files[1].sha256(), Some("cc"));
        assert_eq!(p.files[1].yanked, None);
        assert_eq!(p.files[1].core_metadata, CoreMetadataRef::Present);
        assert_eq!(f.provenance, None);
        assert_eq!(
            p.files[1].provenance.as_deref(),
            Some("https://idx.example/integrity/demo/1.0/demo-1.0.tar.gz/provenance")
        );
    }

    #[test]
    fn provenance_links_resolve_to_http_urls_only() {
        let html = r#"<a href="demo-1.0.tar.gz" data-provenance="../../integrity/demo/1.0/demo-1.0.tar.gz/provenance">demo-1.0.tar.gz</a>
<a href="demo-1.1.tar.gz" data-provenance="file:///etc/passwd">demo-1.1.tar.gz</a>"#;
        let p = parse_html(html, &page());
        assert_eq!(
            p.files[0].provenance.as_deref(),
            Some("https://idx.example/integrity/demo/1.0/demo-1.0.tar.gz/provenance")
        );
        assert_eq!(p.files[1].provenance, None);
        let json =
            br#"{"files":[{"filename":"demo-1.0.tar.gz","url":"demo-1.0.tar.gz","provenance":7}]}"#;
        let p = parse_project(json, "application/json", &page()).unwrap();
        assert_eq!(p.files[0].provenance, None);
    }

    #[test]
    fn unknown_major_versions_and_garbage_are_errors_not_panics() {
        let v2 = br#"{"meta":{"api-version":"2.0"},"files":[]}"#;
        assert!(matches!(
            parse_project(v2, "application/vnd.pypi.simple.v1+json", &page()),
            Err(ListingError::UnsupportedVersion(_))
        ));
        assert!(parse_project(b"{", "application/json", &page()).is_err());
        assert!(parse_project(b"\xff\xfe", "text/html", &page()).is_err());
        assert_eq!(
            parse_project(b"<a href=", "text/html", &page())
                .unwrap()
                .files
                .len(),
            0
        );
    }
}
