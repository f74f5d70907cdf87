//! One push message and the FCM HTTP v1 body that carries it to one device.
//!
//! The body has both an `android` and an `apns` block, so one message shape serves both
//! platforms: high priority, one hour to live, and the collapse key as Android's collapse
//! key and channel and as APNs' collapse id, so a newer notification of a kind replaces the
//! older one on the lock screen. FCM refuses a payload over 4096 bytes; the body text is
//! what gives way.

use serde_json::{Value, json};

use runcrew_shared::push::{PushMessage, SendError};

/// The largest message FCM accepts, in bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// How long FCM keeps a message for a device that is offline: a notification an hour old
/// is no longer worth showing.
pub const ANDROID_TTL: &str = "3600s";
/// What a shortened body ends with.
const ELLIPSIS: &str = "…";

/// The FCM HTTP v1 request body for `message`, its body text shortened (on a character
/// boundary, ending with "…") until the whole fits [`MAX_PAYLOAD_BYTES`]. A message that
/// cannot fit even with an empty body (a huge title or data) is `SendError::Rejected`.
pub fn message_body(message: &PushMessage) -> Result<Value, SendError> {
    let full = body_with(message, &message.body);
    if encoded_len(&full) <= MAX_PAYLOAD_BYTES {
        return Ok(full);
    }
    let text = message.body.as_str();
    // starts[k]: where the (k+1)th character begins, so text[..starts[k]] keeps k characters.
    let starts: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
    let shortened = |kept: usize| {
        let cut = starts.get(kept).copied().unwrap_or(text.len());
        format!("{}{ELLIPSIS}", text[..cut].trim_end())
    };
    let fits =
        |kept: usize| encoded_len(&body_with(message, &shortened(kept))) <= MAX_PAYLOAD_BYTES;
    if !fits(0) {
        return Err(SendError::Rejected {
            reason: format!(
                "the message is over {MAX_PAYLOAD_BYTES} bytes even without its body text"
            ),
        });
    }
    // The size grows with the characters kept: find the most that fit. `kept` fits,
    // `too_many` does not (keeping them all did not fit even without the ellipsis).
    let (mut kept, mut too_many) = (0, starts.len());
    while too_many - kept > 1 {
        let middle = kept + (too_many - kept) / 2;
        if fits(middle) {
            kept = middle;
        } else {
            too_many = middle;
        }
    }
    Ok(body_with(message, &shortened(kept)))
}

/// The request body for `message` with `text` as its body text.
fn body_with(message: &PushMessage, text: &str) -> Value {
    json!({
        "message": {
            "token": message.device_token,
            "notification": { "title": message.title, "body": text },
            "data": message.data,
            "android": {
                "priority": "high",
                "ttl": ANDROID_TTL,
                "collapse_key": message.collapse_key,
                "notification": { "channel_id": message.collapse_key },
            },
            "apns": {
                "headers": {
                    "apns-priority": "10",
                    "apns-push-type": "alert",
                    "apns-collapse-id": message.collapse_key,
                },
                "payload": {
                    "aps": {
                        "alert": { "title": message.title, "body": text },
                        "sound": "default",
                    },
                },
            },
        }
    })
}

/// The size of `value` as sent (compact JSON).
fn encoded_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}
