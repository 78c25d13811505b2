//! JSON request bodies whose rejections are this API's errors.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::object::ObjectOnly;

/// The error for a body that could not be read: too large, or the connection failed.
pub(super) fn bytes_rejection(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::BadRequest(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        )
    } else {
        ApiError::BadRequest(
            StatusCode::BAD_REQUEST,
            "the request body could not be read",
        )
    }
}

/// A JSON body whose rejections are this API's errors: 415 for another content type, 413 for a body over
/// [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES), 400 for bad JSON, a body that is not a JSON object, or fields that do
/// not fit (unknown or repeated ones included).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<ObjectOnly<T>>::from_request(req, state).await {
            Ok(Json(ObjectOnly(value))) => Ok(JsonBody(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body is not valid JSON",
            )),
            Err(JsonRejection::JsonDataError(_)) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body does not have the expected fields",
            )),
            Err(JsonRejection::BytesRejection(rejection)) => Err(bytes_rejection(&rejection)),
            Err(_) => Err(ApiError::BadRequest(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )),
        }
    }
}
