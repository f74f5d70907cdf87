//! What erasing an account removes of notifications: the owner items of the user's device
//! tokens (outside the user's partition), and every notification in other people's inboxes
//! that tells of the user (found through the `NOTIFIED_BY#` index). The user's own inbox,
//! settings and devices go with their partition.

use runcrew_model::notification::{device, inbox};
use runcrew_shared::ApiError;
use runcrew_shared::store::Store;

/// The key patterns [`erase_user`] and the partition's deletion remove.
pub const ERASED_KEY_PATTERNS: &[&str] = &[
    "DEVICE#<digest> / OWNER",
    "USER#<userId> / DEVICE#<digest>",
    "USER#<userId> / NOTIF#<notificationId>",
    "USER#<userId> / NOTIFSETTINGS",
    "USER#<userId> / NOTIFSTATE",
];

/// Removes the user's token owner items and the notifications telling of the user.
/// Returns how many items went.
pub async fn erase_user(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    Ok(device::erase_owners(store, user_id).await? + inbox::erase_about(store, user_id).await?)
}
