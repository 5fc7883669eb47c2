//! The legacy upload form (`multipart/form-data`, as twine and `uv publish` send it): text
//! fields, and one `content` part streamed into a [`ContentSink`].
//!
//! Public so that it can be fuzzed on arbitrary bodies ([`read_body`]), with the limits the
//! upload route uses.

use std::future::Future;

use airlock_service::{ServiceError, UploadForm};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, StatusCode, header};

use crate::ApiError;

/// Largest text field accepted (descriptions included), and all of them together.
pub const MAX_FIELD: usize = 4 * 1024 * 1024;
pub const MAX_FIELDS_TOTAL: usize = 16 * 1024 * 1024;

/// Where the `content` part goes as it arrives.
pub trait ContentSink: Send {
    type Content: Send;
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn finish(self) -> impl Future<Output = Result<Self::Content, ApiError>> + Send;
}

impl ContentSink for airlock_service::UploadSink {
    type Content = airlock_service::UploadedContent;

    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        Ok(airlock_service::UploadSink::write(self, chunk).await?)
    }

    async fn finish(self) -> Result<Self::Content, ApiError> {
        Ok(airlock_service::UploadSink::finish(self).await?)
    }
}

/// The form's text fields, and the `content` part if there was one.
pub struct Received<C> {
    pub form: UploadForm,
    pub content: Option<C>,
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

/// Reads the whole form; `open` makes the sink of the `content` part from its file name.
pub async fn read<S: ContentSink>(
    multipart: &mut Multipart,
    mut open: impl FnMut(&str) -> Result<S, ApiError> + Send,
) -> Result<Received<S::Content>, ApiError> {
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
            let mut sink = open(&filename)?;
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
    Ok(Received { form, content })
}

/// Reads `body` as a form with this boundary (the route's body limit does not apply here: a
/// caller bounds `body` itself).
pub async fn read_body<S: ContentSink>(
    body: Body,
    boundary: &str,
    open: impl FnMut(&str) -> Result<S, ApiError> + Send,
) -> Result<Received<S::Content>, ApiError> {
    let request = Request::builder()
        .method("POST")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid multipart boundary"))?;
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    read(&mut multipart, open).await
}
