use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;

use crate::{ApiError, AppState};

/// Liveness: the process answers HTTP. Whether it can serve is `/readyz`.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 when the database and the blob store answer, else 503 naming the one that does not.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.app.ready().await?;
    Ok("ready\n")
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {}", uri.path()),
    )
}

/// `GET /`: until there is a web interface, where things are: the public lanes' index URLs,
/// the upload URLs, the API. Private lanes are not named.
pub async fn home(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    // A browser goes to the web interface; curl and scripts get the text below.
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return axum::response::Redirect::to("/ui/").into_response();
    }
    use airlock_config::{Ecosystem, SourceKind};
    let config = state.app.config();
    let mut text = format!(
        "airlock {}\n\nIndexes of the public lanes (pip and uv: --index-url; R: repos =):\n",
        env!("CARGO_PKG_VERSION")
    );
    for lane in config.lanes.iter().filter(|l| !l.private) {
        text.push_str(&format!(
            "  {name:<12} /{name}/pypi/simple/    /{name}/cran\n",
            name = lane.name
        ));
    }
    text.push_str("\nUploads to hosted sources (twine, uv publish, poetry, pdm, hatch, flit; R: airlock publish):\n");
    for source in config
        .sources
        .iter()
        .filter(|s| s.kind == SourceKind::Hosted)
    {
        let what = match source.ecosystem {
            Ecosystem::Pypi => "Python",
            Ecosystem::Cran => "R",
        };
        text.push_str(&format!(
            "  {name:<12} /upload/{name}/    ({what})\n",
            name = source.name
        ));
    }
    text.push_str(
        "\nA lane at an instant: /{lane}/{YYYY-MM-DD or RFC 3339 or snapshot name}/pypi/simple/\n\
         Web interface: /ui/ (packages, set-up)\n\
         JSON API: /api/v1/ (lanes/{lane}/why, check, requests, exposure, audit, config)\n\
         Operations: /healthz, /readyz, /metrics\n",
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// A POST to a lane's index (twine or `uv publish` pointed at the install URL): the index is
/// read-only; say where uploads go.
pub async fn not_an_upload_url(State(state): State<AppState>) -> ApiError {
    use airlock_config::{Ecosystem, SourceKind};
    let hosted: Vec<String> = state
        .app
        .config()
        .sources
        .iter()
        .filter(|s| s.kind == SourceKind::Hosted && s.ecosystem == Ecosystem::Pypi)
        .map(|s| format!("/upload/{}/", s.name))
        .collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "this is a lane's index, for installing; upload to /upload/<source>/ ({})",
            if hosted.is_empty() {
                "no hosted Python source is configured".to_string()
            } else {
                hosted.join(", ")
            }
        ),
    )
}
