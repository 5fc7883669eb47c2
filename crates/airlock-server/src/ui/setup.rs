//! The set-up page: for a lane, a tool and optionally a date, the exact configuration that points
//! the tool at the lane (or at the lane as it was at the end of that day).

use airlock_service::parse_instant;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, base_url, html, readable_lanes, session::Viewer};
use crate::AppState;

/// The tools, as the form offers them: value, label.
const CLIENTS: &[(&str, &str)] = &[
    ("pip", "pip"),
    ("uv", "uv"),
    ("poetry", "Poetry"),
    ("pdm", "PDM"),
    ("pipenv", "Pipenv"),
    ("r", "R (options(repos))"),
    ("renv", "renv"),
    ("pak", "pak"),
];

#[derive(Deserialize, Default)]
pub(super) struct Params {
    #[serde(default)]
    lane: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    date: String,
}

#[derive(Template)]
#[template(path = "ui/setup.html")]
struct SetupPage {
    chrome: Chrome,
    lanes: Vec<String>,
    clients: &'static [(&'static str, &'static str)],
    lane: String,
    client: String,
    client_label: &'static str,
    date: String,
    error: Option<String>,
    explanation: String,
    snippet: String,
    private: bool,
}

/// The configuration of `client` for the index at `root` (the lane, or the lane at a date, with
/// no trailing slash); `private` adds how to pass a token.
fn snippet(client: &str, root: &str, private: bool) -> (String, String) {
    let simple = format!("{root}/pypi/simple/");
    let cran = format!("{root}/cran");
    let with_token = |url: &str| match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://__token__:${{AIRLOCK_TOKEN}}@{rest}"),
        None => url.to_string(),
    };
    match client {
        "uv" => {
            let mut text = format!(
                "# pyproject.toml (or uv.toml without the tool.uv prefix)\n[[tool.uv.index]]\nname = \"airlock\"\nurl = \"{simple}\"\ndefault = true\n"
            );
            if private {
                text.push_str(
                    "\n# the token, from the environment:\nexport UV_INDEX_AIRLOCK_USERNAME=__token__\nexport UV_INDEX_AIRLOCK_PASSWORD=\"$AIRLOCK_TOKEN\"\n",
                );
            }
            ("uv reads the index from pyproject.toml; uv add, uv lock and uv sync then resolve against the lane only.".into(), text)
        }
        "poetry" => {
            let mut text = format!("poetry source add --priority=primary airlock {simple}\n");
            if private {
                text.push_str("poetry config http-basic.airlock __token__ \"$AIRLOCK_TOKEN\"\n");
            }
            (
                "Run in the project; Poetry records the source in pyproject.toml.".into(),
                text,
            )
        }
        "pdm" => {
            let mut text = format!(
                "# pyproject.toml: a source named pypi replaces PyPI\n[[tool.pdm.source]]\nname = \"pypi\"\nurl = \"{simple}\"\n"
            );
            if private {
                text.push_str("\n# the token, from the environment:\nexport PDM_PYPI_USERNAME=__token__\nexport PDM_PYPI_PASSWORD=\"$AIRLOCK_TOKEN\"\n");
            }
            (
                "PDM resolves and locks against the source named pypi.".into(),
                text,
            )
        }
        "pipenv" => {
            let url = if private { with_token(&simple) } else { simple };
            (
                "In the Pipfile, in place of the PyPI source (Pipenv expands ${AIRLOCK_TOKEN} from the environment).".into(),
                format!("[[source]]\nname = \"airlock\"\nurl = \"{url}\"\nverify_ssl = true\n"),
            )
        }
        "r" | "renv" | "pak" => {
            // R prints repository URLs in its messages and its libcurl reads no ~/.netrc: a
            // private lane's token goes in a header, never in the URL.
            let bearer = "c(Authorization = paste(\"Bearer\", Sys.getenv(\"AIRLOCK_TOKEN\")))";
            let mut text = format!("options(repos = c(CRAN = \"{cran}\"))\n");
            let explanation = match client {
                "renv" => {
                    if private {
                        text.push_str(&format!(
                            "options(renv.download.headers = function(url) {bearer})\n"
                        ));
                    }
                    text.push_str("renv::init()\n");
                    "In the project's .Rprofile before renv activates; renv records the repository in renv.lock."
                }
                "pak" => {
                    text.push_str("pak::pkg_install(\"dplyr\")\n");
                    if private {
                        text.push_str("# pak sends no custom headers: for a private lane use install.packages or renv\n");
                    }
                    "pak reads the same repos option."
                }
                _ => {
                    if private {
                        text.push_str(&format!(
                            "install.packages(\"dplyr\", headers = {bearer})\n"
                        ));
                    } else {
                        text.push_str("install.packages(\"dplyr\")\n");
                    }
                    "In ~/.Rprofile or the project's .Rprofile; install.packages() then installs from the lane."
                }
            };
            (explanation.into(), text)
        }
        _ => {
            let url = if private { with_token(&simple) } else { simple };
            (
                "Once per machine (pip config) or per command (--index-url); PIP_INDEX_URL works too.".into(),
                format!("pip config set global.index-url \"{url}\"\n# or per command:\npip install --index-url \"{url}\" requests\n"),
            )
        }
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let chrome = Chrome::new(&viewer, "setup", &uri);
    let readable = readable_lanes(&state, viewer.principal());
    let lanes: Vec<String> = readable.iter().map(|(l, _)| l.clone()).collect();
    let (lane, private) = readable
        .iter()
        .find(|(l, _)| *l == params.lane)
        .or(readable.first())
        .cloned()
        .unwrap_or_default();
    let (client, client_label) = CLIENTS
        .iter()
        .find(|(c, _)| *c == params.client)
        .copied()
        .unwrap_or(CLIENTS[0]);
    let mut error = None;
    let date = params.date.trim().to_string();
    let root = if date.is_empty() {
        format!("{}/{lane}", base_url(&headers))
    } else if date.len() == 10 && parse_instant(&date).is_some() {
        format!("{}/{lane}/{date}", base_url(&headers))
    } else {
        error = Some(format!(
            "{date:?} is not a date (YYYY-MM-DD); showing the live lane"
        ));
        format!("{}/{lane}", base_url(&headers))
    };
    let (explanation, snippet) = if lanes.is_empty() {
        (
            "There is no lane you may read; log in with a token that applies in one.".to_string(),
            String::new(),
        )
    } else {
        snippet(client, &root, private)
    };
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        SetupPage {
            chrome,
            lanes,
            clients: CLIENTS,
            lane,
            client: client.to_string(),
            client_label,
            date: if error.is_some() { String::new() } else { date },
            error,
            explanation,
            snippet,
            private,
        },
    )
}
