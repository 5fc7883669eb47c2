//! `POST /upload/{source}/`: the legacy upload API (twine, `uv publish`).

use airlock_service::{ServiceError, UploadForm};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};

use crate::metrics::UploadLabels;
use crate::{ApiError, AppState, auth};

/// Largest text field accepted (descriptions included), and all of them together.
const MAX_FIELD: usize = 4 * 1024 * 1024;
const MAX_FIELDS_TOTAL: usize = 16 * 1024 * 1024;

pub async fn upload(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<(StatusCode, &'static str), ApiError> {
    let result = receive(&state, &source, &headers, multipart).await;
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

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "upload exceeds the size limit".to_string()
    } else {
        format!("malformed multipart upload: {}", e.body_text())
    };
    ApiError::new(status, message)
}

async fn receive(
    state: &AppState,
    source: &str,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<(), ApiError> {
    let app = &state.app;
    // Refuse before storing anything: who, where, and an announced size over the limit.
    let who = match auth::require(app, headers).await {
        Ok(_) if app.config().source(source).is_none() => {
            Err(ServiceError::NotFound(format!("no source named {source:?}")).into())
        }
        Ok(who) => Ok(who),
        Err(e) => Err(ApiError::from(e)),
    };
    let who = match who {
        Ok(who) => who,
        Err(refusal) => {
            // Read the (bounded) body first: a client still sending when the connection closes
            // sees a broken pipe instead of the refusal and its reason.
            let drain = async {
                while let Ok(Some(mut field)) = multipart.next_field().await {
                    while let Ok(Some(_)) = field.chunk().await {}
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
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

    let mut form = UploadForm::default();
    let mut content = None;
    let mut fields_total = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "content" {
            let filename = field
                .file_name()
                .ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, "the content part has no file name")
                })?
                .to_string();
            if content.is_some() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "more than one content part",
                ));
            }
            let mut sink = app.upload_sink(&filename)?;
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                sink.write(&chunk).await?;
            }
            content = Some(sink.finish().await?);
        } else {
            let value = field.bytes().await.map_err(multipart_error)?;
            fields_total += value.len();
            if value.len() > MAX_FIELD || fields_total > MAX_FIELDS_TOTAL {
                return Err(
                    ServiceError::TooLarge(format!("form field {name:?} is too large")).into(),
                );
            }
            let value = String::from_utf8(value.to_vec()).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("form field {name:?} is not UTF-8"),
                )
            })?;
            form.fields.push((name, value));
        }
    }
    let content = content
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "the upload has no content part"))?;
    app.publish(&who, source, &form, content).await?;
    Ok(())
}
