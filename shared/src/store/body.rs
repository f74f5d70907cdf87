//! Item bodies to and from domain types: every area stores a serde type as the body of
//! its item, and reads it back the same way.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Item;
use crate::error::ApiError;

/// `value` as an item body. Only a type that serializes to a JSON object can be one: any
/// other is a bug of ours, hence an internal error.
pub fn to_body<T: Serialize>(value: &T) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Internal("item body is not an object".into())),
        Err(e) => Err(ApiError::Internal(format!("item body: {e}"))),
    }
}

/// The domain value stored in `item`. An unreadable body is an internal error naming the
/// partition (never the body, which may hold private fields).
pub fn from_body<T: DeserializeOwned>(item: &Item) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(item.body.clone()))
        .map_err(|e| ApiError::Internal(format!("unreadable item {}: {e}", item.key.pk)))
}
