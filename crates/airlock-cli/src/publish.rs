//! `airlock publish`: uploads files to a hosted source over HTTP, the way twine does for Python
//! (legacy upload API fields) and as a plain `content` part for R source packages.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

pub async fn publish(files: &[String], source: &str, server: &str, token: &str) -> Result<()> {
    let client = airlock_upstream::http_client()
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let url = format!("{}/upload/{source}/", server.trim_end_matches('/'));
    let mut failed = 0;
    for file in files {
        match upload_one(&client, &url, Path::new(file), token).await {
            Ok(()) => println!("published {file}"),
            Err(e) => {
                failed += 1;
                eprintln!("error: {file}: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} file(s) were not published", files.len());
    }
    Ok(())
}

async fn upload_one(client: &reqwest::Client, url: &str, path: &Path, token: &str) -> Result<()> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let filename = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the file name is not UTF-8")?
        .to_string();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let mut form = reqwest::multipart::Form::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("sha256_digest", sha256);
    // Python distributions carry what twine sends; the server checks it against the file.
    if let Ok(dist) = airlock_pypi::filename::DistFilename::parse(&filename) {
        form = form
            .text("name", dist.name().to_string())
            .text("version", dist.version().to_string())
            .text("filetype", dist.kind().filetype());
    }
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(filename)
        .mime_str("application/octet-stream")?;
    let resp = client
        .post(url)
        .basic_auth("__token__", Some(token))
        .multipart(form.part("content", part))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        bail!("{status}: {}", body.trim());
    }
    Ok(())
}
