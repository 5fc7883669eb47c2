//! `POST /upload/{source}/`: the legacy upload API (twine, `uv publish`).

use airlock_service::ServiceError;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};

use crate::auth::{Auth, Publisher};
use crate::metrics::UploadLabels;
use crate::{ApiError, AppState};

/// `GET /upload/{source}/+simple/{project}/`: what the hosted source holds of the project, for
/// publishing tools that skip files already uploaded (`hatch publish`, which sends the `+` as
/// `%2B`: the segment is matched once decoded).
pub async fn uploaded(
    State(state): State<AppState>,
    Path((source, marker, project)): Path<(String, String, String)>,
    who: Result<Auth<Publisher>, ApiError>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // Any other path under /upload/ is not a route: 404 before asking who calls.
    if marker != "+simple" {
        return Err(ServiceError::NotFound("not found".into()).into());
    }
    let Auth { who, .. } = who?;
    let page = state
        .app
        .publishing()
        .uploaded_files(&who, &source, &project)
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

/// The caller is taken as a result, so that a refused upload's body is still read (see [`drain`]).
pub async fn upload(
    State(state): State<AppState>,
    who: Result<Auth<Publisher>, ApiError>,
    Path(source): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, &'static str), ApiError> {
    let result = receive(&state, who, &source, &headers, multipart).await;
    let outcome = match &result {
        Ok(_) => "stored".to_string(),
        Err(e) => e.status.as_u16().to_string(),
    };
    // Label values come from the configuration only: any name in a request path would
    // add a series of its own.
    let source = if state.app.config().source(&source).is_some() {
        source
    } else {
        "unknown".to_string()
    };
    state
        .metrics
        .uploads
        .get_or_create(&UploadLabels { source, outcome })
        .inc();
    result.map(|_| (StatusCode::OK, "OK\n"))
}

async fn receive(
    state: &AppState,
    who: Result<Auth<Publisher>, ApiError>,
    source: &str,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<(), ApiError> {
    let app = &state.app;
    // Refuse before storing anything: who, where, and an announced size over the limit.
    let who = match who {
        Ok(_) if app.config().source(source).is_none() => {
            Err(ServiceError::NotFound(format!("no source named {source:?}")).into())
        }
        Ok(Auth { who, .. }) => Ok(who),
        Err(refusal) => Err(refusal),
    };
    let who = match who {
        Ok(who) => who,
        Err(refusal) => {
            drain(&mut multipart).await;
            return Err(refusal);
        }
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = app.config().max_upload_size.0;
    if announced.is_some_and(|n| n > limit + crate::FORM_FIELDS_ALLOWANCE) {
        return Err(
            ServiceError::TooLarge(format!("upload exceeds the limit of {limit} bytes")).into(),
        );
    }

    let received = match crate::form::read(&mut multipart, |filename| {
        Ok(app.publishing().upload_sink(filename)?)
    })
    .await
    {
        Ok(received) => received,
        Err(refusal) => {
            drain(&mut multipart).await;
            return Err(refusal);
        }
    };
    let (form, content) = (received.form, received.content);
    let content = content
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "the upload has no content part"))?;
    app.publishing()
        .publish(&who, source, &form, content)
        .await?;
    Ok(())
}

/// Reads what is left of a refused upload's body (bounded by the route's body limit and 30 s)
/// before answering: a client still sending when the connection closes sees a broken pipe
/// instead of the refusal and its reason.
async fn drain(multipart: &mut Multipart) {
    let drain = async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
}
