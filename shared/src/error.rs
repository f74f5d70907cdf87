//! The one error type of every handler, mapped once to the JSON envelope
//! `{"error":{"code","message","request_id","field"?}}`.
//!
//! Messages are written for the API's users; internal details (SDK errors, expressions,
//! stacks) go to the log, never into a response.

use http::StatusCode;
use serde::Serialize;

use crate::blobs::BlobError;
use crate::store::StoreError;

/// Seconds a client is told to wait when a dependency of ours is down.
pub const DEPENDENCY_RETRY_AFTER_SECONDS: u64 = 5;

/// Why a request failed, as the client should learn it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read at all (bad JSON, bad cursor, bad parameter syntax).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code, e.g. `malformed_json`.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
        /// The field or parameter at fault, when there is one.
        field: Option<String>,
    },
    /// 401: no or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but this is not the caller's to touch.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing here, or nothing the caller may see.
    #[error("{message}")]
    NotFound {
        /// e.g. `course_not_found`.
        code: &'static str,
        /// For a person; the same whether nothing is there or the caller may not see it.
        message: String,
    },
    /// 409: the write conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// e.g. `already_exists`.
        code: &'static str,
        /// For a person: what is in the way and what to do about it (reload, retry).
        message: String,
    },
    /// 409 that passes: another request holds what this one needs (an idempotency key
    /// still being answered, a busy counter); the same request may succeed after
    /// `retry_after` seconds, so the response carries `Retry-After`.
    #[error("{message}")]
    Busy {
        /// e.g. `idempotent_request_in_progress`.
        code: &'static str,
        /// For a person; a client acts on `retry_after`, not on this text.
        message: String,
        /// Seconds until the client may try again.
        retry_after: u64,
    },
    /// 413: the body is larger than this route accepts.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not in a media type this route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the body parsed, but a field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// Dotted path of the field, e.g. `route.coordinates[3]`.
        field: String,
        /// Why, for a person, without the field's name: the envelope shows only this as its
        /// `message` and carries the name in `field`.
        message: String,
    },
    /// 429: slow down.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until the client may try again.
        retry_after: u64,
    },
    /// 503: a dependency of ours is down; the client may retry.
    #[error("{dependency} is unavailable")]
    Unavailable {
        /// Which dependency, in words a client may see (`table`, `bucket`, `kakao`).
        dependency: String,
        /// Seconds until the client may try again.
        retry_after: u64,
    },
    /// 503 with no `Retry-After`: a feature this deployment has not set up (Strava without
    /// a client id). Trying again will not help until an operator configures it.
    #[error("{message}")]
    NotConfigured {
        /// e.g. `strava_not_configured`.
        code: &'static str,
        /// For a person.
        message: String,
    },
    /// 500: a bug of ours. The detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The field or parameter the error names, if any: what a client highlights, and what
    /// tests of a parser check.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid { field, .. } => Some(field),
            ApiError::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// A 422 naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 400 naming `field`.
    pub fn bad_request(
        code: &'static str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// A 404 with its code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// A 409 [`ApiError::Busy`] with `Retry-After: retry_after`.
    pub fn busy(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        ApiError::Busy {
            code,
            message: message.into(),
            retry_after,
        }
    }

    /// A 503 for `dependency`, with the standard Retry-After.
    pub fn unavailable(dependency: impl Into<String>) -> Self {
        ApiError::Unavailable {
            dependency: dependency.into(),
            retry_after: DEPENDENCY_RETRY_AFTER_SECONDS,
        }
    }

    /// The HTTP status of this error. `Busy` shares 409 with `Conflict`; clients tell them
    /// apart by the code and `Retry-After`.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::Busy { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } | ApiError::NotConfigured { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { code, .. } => code,
            ApiError::Conflict { code, .. } | ApiError::Busy { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid { .. } => "invalid_field",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable { .. } => "dependency_unavailable",
            ApiError::NotConfigured { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Seconds for the Retry-After header, where the client may retry.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { retry_after }
            | ApiError::Busy { retry_after, .. }
            | ApiError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The envelope body, with the request id the client can quote to support.
    pub fn envelope(&self, request_id: &str) -> ErrorEnvelope<'_> {
        let (field, dependency) = match self {
            ApiError::BadRequest { field, .. } => (field.as_deref(), None),
            ApiError::Invalid { field, .. } => (Some(field.as_str()), None),
            ApiError::Unavailable { dependency, .. } => (None, Some(dependency.as_str())),
            _ => (None, None),
        };
        let message = match self {
            ApiError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message,
                request_id: request_id.to_owned(),
                field,
                dependency,
            },
        }
    }
}

/// `{"error": {...}}`, the body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorEnvelope<'a> {
    /// Everything about the failure; the envelope has no other member.
    pub error: ErrorBody<'a>,
}

/// What `error` holds: always `code`, `message` and `request_id`; `field` and `dependency`
/// only where they apply.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// What clients switch on ([`ApiError::code`]); `message` may change its wording.
    pub code: &'static str,
    /// For a person, never an internal detail: a 500 says only "internal error".
    pub message: String,
    /// The request id to quote to support.
    pub request_id: String,
    /// The field at fault (400/422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// The dependency that is down (503).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependency: Option<&'a str>,
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::BadCursor => ApiError::bad_request(
                "invalid_cursor",
                Some("cursor"),
                "the cursor is not valid for this list",
            ),
            StoreError::Unavailable(detail) => {
                tracing::warn!(dependency = "table", detail = %detail, "store unavailable");
                ApiError::unavailable("table")
            }
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. } => {
                ApiError::Conflict {
                    code: "conflict",
                    message: "the resource changed or already exists; reload and try again".into(),
                }
            }
            StoreError::Invalid(detail) => {
                ApiError::Internal(format!("store rejected the request: {detail}"))
            }
        }
    }
}

impl From<crate::secrets::SecretError> for ApiError {
    fn from(err: crate::secrets::SecretError) -> Self {
        match err {
            crate::secrets::SecretError::Unavailable { .. } => {
                tracing::warn!(dependency = "secrets", detail = %err, "a secret cannot be read");
                ApiError::unavailable("secrets")
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::Unavailable(detail) => {
                tracing::warn!(dependency = "bucket", detail = %detail, "blobs unavailable");
                ApiError::unavailable("bucket")
            }
            BlobError::InvalidKey(key) => {
                ApiError::invalid("key", format!("{key:?} is not a valid file key"))
            }
            BlobError::Signature(why) => ApiError::Forbidden(why),
            BlobError::Io(detail) => ApiError::Internal(format!("blob i/o: {detail}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_field_is_named_in_the_envelope() {
        let err = ApiError::invalid(
            "route.coordinates[0]",
            "latitude must be between -90 and 90",
        );
        let json = serde_json::to_value(err.envelope("req-1")).expect("serializes");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json["error"]["code"], "invalid_field");
        assert_eq!(json["error"]["field"], "route.coordinates[0]");
        assert_eq!(json["error"]["request_id"], "req-1");
        assert_eq!(
            json["error"]["message"],
            "latitude must be between -90 and 90"
        );
    }

    #[test]
    fn a_store_outage_becomes_503_without_internal_detail() {
        let err: ApiError =
            StoreError::Unavailable("dispatch failure: connection refused (os error 111)".into())
                .into();
        let json = serde_json::to_string(&err.envelope("r")).expect("serializes");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after(), Some(DEPENDENCY_RETRY_AFTER_SECONDS));
        assert!(!json.contains("os error"), "{json}");
        assert!(json.contains("\"dependency\":\"table\""), "{json}");
    }

    #[test]
    fn a_busy_conflict_is_409_with_retry_after() {
        let err = ApiError::busy("idempotent_request_in_progress", "still running", 1);
        let json = serde_json::to_value(err.envelope("r")).expect("serializes");
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert_eq!(err.retry_after(), Some(1));
        assert_eq!(json["error"]["code"], "idempotent_request_in_progress");
    }

    #[test]
    fn an_internal_error_hides_its_detail() {
        let err = ApiError::Internal("ValidationException: ExpressionAttributeValues".into());
        let json = serde_json::to_string(&err.envelope("r")).expect("serializes");
        assert!(!json.contains("Expression"), "{json}");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
