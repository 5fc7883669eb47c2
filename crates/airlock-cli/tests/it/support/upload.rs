//! Hand-made legacy-API uploads (what twine sends), for requests no well-behaved client would make.

use std::fs;
use std::path::Path;

use reqwest::blocking::multipart::{Form, Part};

use super::server::TestServer;
use super::sha256_hex;

/// How an upload authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// HTTP Basic with user `__token__`, as twine and uv send a token.
    Basic(&'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
}

/// The server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// Asserts a success status (2xx).
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(
            (200..300).contains(&self.status),
            "upload refused: {self:?}"
        );
    }

    /// Asserts one of `status`, and that the body mentions one of `words` (case-insensitive; no check if
    /// `words` is empty).
    #[track_caller]
    pub fn assert_refused(&self, status: &[u16], words: &[&str]) {
        assert!(
            status.contains(&self.status),
            "expected status {status:?}, got {self:?}"
        );
        let body = self.body.to_lowercase();
        assert!(
            words.is_empty() || words.iter().any(|w| body.contains(&w.to_lowercase())),
            "the refusal should say why (one of {words:?}): {self:?}"
        );
    }
}

/// One `multipart/form-data` upload: the file and the form fields twine would send for it.
#[derive(Debug, Clone)]
pub struct Upload {
    filename: String,
    content: Vec<u8>,
    fields: Vec<(String, String)>,
}

/// `(name, version)` as twine derives them from a file name (before any normalisation).
fn name_and_version(filename: &str) -> (String, String) {
    let split = match filename.strip_suffix(".tar.gz") {
        Some(stem) => stem.rsplit_once('-'),
        None => filename.split_once('-').map(|(name, rest)| {
            (
                name,
                rest.split_once('-').map_or(rest, |(version, _)| version),
            )
        }),
    };
    let (name, version) = split.unwrap_or((filename, ""));
    (name.to_string(), version.to_string())
}

impl Upload {
    /// The fields twine sends for this wheel or sdist, with the right sha256.
    pub fn file(path: &Path) -> Self {
        let filename = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let content = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let (name, version) = name_and_version(&filename);
        let (filetype, pyversion) = if filename.ends_with(".whl") {
            ("bdist_wheel", "py3")
        } else {
            ("sdist", "source")
        };
        let fields = [
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("metadata_version", "2.1"),
            ("name", &name),
            ("version", &version),
            ("filetype", filetype),
            ("pyversion", pyversion),
            ("sha256_digest", &sha256_hex(&content)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Upload {
            filename,
            content,
            fields,
        }
    }

    /// Sets (or replaces) a form field.
    pub fn field(mut self, key: &str, value: &str) -> Self {
        self.fields.retain(|(k, _)| k != key);
        self.fields.push((key.to_string(), value.to_string()));
        self
    }

    /// Sends the file part under another file name (the fields stay as they are).
    pub fn filename(mut self, filename: &str) -> Self {
        self.filename = filename.to_string();
        self
    }

    /// POSTs to the hosted source's upload URL.
    pub fn send(&self, server: &TestServer, auth: Auth<'_>) -> Reply {
        self.send_to(server.http(), &server.upload_url(), auth)
    }

    /// POSTs to `upload_url` (e.g. of another server of the same data).
    pub fn send_to(
        &self,
        http: &reqwest::blocking::Client,
        upload_url: &str,
        auth: Auth<'_>,
    ) -> Reply {
        self.try_send_to(http, upload_url, auth)
            .unwrap_or_else(|e| panic!("upload of {} failed: {e}", self.filename))
    }

    /// As [`Upload::send_to`], with a connection that breaks (a server killed) as an error.
    pub fn try_send_to(
        &self,
        http: &reqwest::blocking::Client,
        upload_url: &str,
        auth: Auth<'_>,
    ) -> Result<Reply, String> {
        // Like Python's requests (twine), send the file name as it is.
        let mut form = Form::new().percent_encode_noop();
        for (key, value) in &self.fields {
            form = form.text(key.clone(), value.clone());
        }
        let part = Part::bytes(self.content.clone())
            .file_name(self.filename.clone())
            .mime_str("application/octet-stream")
            .expect("mime");
        form = form.part("content", part);
        let mut request = http.post(upload_url).multipart(form);
        request = match auth {
            Auth::None => request,
            Auth::Basic(token) => request.basic_auth("__token__", Some(token)),
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        let response = request.send().map_err(|e| format!("{e:?}"))?;
        Ok(Reply {
            status: response.status().as_u16(),
            body: response.text().unwrap_or_default(),
        })
    }
}

impl TestServer {
    /// Uploads `files` with the publisher token; panics unless each is accepted.
    pub fn publish(&self, files: &[&Path]) {
        for file in files {
            Upload::file(file)
                .send(self, Auth::Basic(self.publisher_token()))
                .assert_ok();
        }
    }

    /// Uploads `files` to the hosted source `source` (e.g. `internal-cran`) as a bare multipart
    /// `content` part, as curl or `airlock publish` would, with the publisher token; panics unless each
    /// is accepted.
    pub fn publish_to(&self, source: &str, files: &[&Path]) {
        for file in files {
            let filename = file
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let content = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            let part = Part::bytes(content)
                .file_name(filename.clone())
                .mime_str("application/octet-stream")
                .expect("mime");
            let response = self
                .http()
                .post(self.url(&format!("/upload/{source}/")))
                .basic_auth("__token__", Some(self.publisher_token()))
                .multipart(Form::new().part("content", part))
                .send()
                .unwrap_or_else(|e| panic!("upload of {filename} failed: {e:?}"));
            Reply {
                status: response.status().as_u16(),
                body: response.text().unwrap_or_default(),
            }
            .assert_ok();
        }
    }
}

#[test]
fn name_and_version_follow_the_filename() {
    assert_eq!(
        name_and_version("six-1.16.0-py2.py3-none-any.whl"),
        ("six".into(), "1.16.0".into())
    );
    assert_eq!(
        name_and_version("airlock_demo_dep-1.0.tar.gz"),
        ("airlock_demo_dep".into(), "1.0".into())
    );
}
