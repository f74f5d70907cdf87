//! A person's devices: FCM registration tokens, one owner each, at most [`MAX_DEVICES`].
//!
//! A token is a secret of its device: keys hold its digest, logs hold neither. A token
//! that signs in to another account moves there (a shared tablet): the owner item names
//! whose it is, and moving it is one transaction conditioned on that item's version, so
//! two accounts registering one token at once leave it with exactly one.

use runcrew_shared::ApiError;
use runcrew_shared::clock::rfc3339_of_ms;
use runcrew_shared::digest::short_sha256_hex;
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, SortRange, Store, StoreError, Write, from_body, to_body,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::profile::{account_closed, open_account_check, user_partition};

/// The most devices one person keeps; registering another drops the least recently
/// registered.
pub const MAX_DEVICES: usize = 20;
/// The longest token accepted (FCM's are about 160 characters; web-push ones longer).
pub const MAX_TOKEN_LEN: usize = 4096;
const MAX_APP_VERSION_LEN: usize = 40;
const DEVICE_PREFIX: &str = "DEVICE#";
/// A device not registered again for this long is stale (FCM: a token unused for a month
/// is likely inactive; apps register on every start), and the sweep removes it.
pub const STALE_AFTER_DAYS: i64 = 60;
/// How many months before the stale line the sweep looks back: enough to catch up after
/// a sweep was off for most of a year (Android tokens expire after 270 days anyway).
const SWEEP_MONTHS: i64 = 12;
const DAY_MS: i64 = 24 * 3600 * 1000;
const OWNER_SK: &str = "OWNER";
const ATTEMPTS: usize = 3;

/// What kind of device: FCM sends to all three, the client says which it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// An Android phone.
    Android,
    /// An iPhone or iPad (through APNs).
    Ios,
    /// A browser (web push).
    Web,
}

/// A registration token as a client sent it: visible characters of FCM's alphabet, never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken(String);

impl DeviceToken {
    /// Reads a token; `None` unless it is 1 to [`MAX_TOKEN_LEN`] characters of
    /// `A-Z a-z 0-9 - _ : .`.
    pub fn parse(text: &str) -> Option<DeviceToken> {
        let shaped = !text.is_empty()
            && text.len() <= MAX_TOKEN_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
        shaped.then(|| DeviceToken(text.to_owned()))
    }

    /// The digest that keys the token's items.
    pub fn digest(&self) -> String {
        short_sha256_hex(&[self.0.as_bytes()])
    }
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken(***)")
    }
}

/// `POST /v1/notifications/token`'s body, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// The token.
    pub token: DeviceToken,
    /// Which platform.
    pub platform: Platform,
    /// The app's version, for support (`1.4.2`).
    pub app_version: Option<String>,
}

impl NewDevice {
    /// Reads a registration; a wrong field is a 422 naming it.
    pub fn parse(body: &Value) -> Result<NewDevice, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("body", "must be a JSON object"))?;
        if let Some(other) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "token" | "platform" | "app_version"))
        {
            return Err(ApiError::invalid(
                other.as_str(),
                "is not part of a device; use token, platform and app_version",
            ));
        }
        let token = parse_token(body)?;
        let platform = body
            .get("platform")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| ApiError::invalid("platform", "must be android, ios or web"))?;
        let app_version = match body.get("app_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(v))
                if !v.is_empty()
                    && v.len() <= MAX_APP_VERSION_LEN
                    && v.chars().all(|c| c.is_ascii_graphic()) =>
            {
                Some(v.clone())
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "app_version",
                    format!("must be up to {MAX_APP_VERSION_LEN} visible characters, e.g. 1.4.2"),
                ));
            }
        };
        Ok(NewDevice {
            token,
            platform,
            app_version,
        })
    }
}

/// Reads the `token` field of a body (registration and removal).
pub fn parse_token(body: &Value) -> Result<DeviceToken, ApiError> {
    body.get("token")
        .and_then(Value::as_str)
        .and_then(DeviceToken::parse)
        .ok_or_else(|| {
            ApiError::invalid(
                "token",
                format!("must be the FCM registration token (1 to {MAX_TOKEN_LEN} characters)"),
            )
        })
}

/// A registered device, as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// The registration token FCM sends to.
    pub token: String,
    /// Which platform.
    pub platform: Platform,
    /// The app's version when it last registered.
    #[serde(default)]
    pub app_version: Option<String>,
    /// When it first registered for this person.
    pub registered_at: String,
    /// When it last registered, epoch ms: the least recent goes beyond [`MAX_DEVICES`].
    pub updated_ms: i64,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("token", &"***")
            .field("platform", &self.platform)
            .field("app_version", &self.app_version)
            .field("updated_ms", &self.updated_ms)
            .finish()
    }
}

impl Device {
    /// The digest that keys it.
    pub fn digest(&self) -> String {
        short_sha256_hex(&[self.token.as_bytes()])
    }

    /// What an export shows of it: never the token itself.
    pub fn export(&self) -> Value {
        json!({
            "platform": self.platform,
            "app_version": self.app_version,
            "registered_at": self.registered_at,
            "last_registered_at": rfc3339_of_ms(self.updated_ms),
        })
    }
}

/// The key of a person's device.
pub fn device_key(user_id: &str, digest: &str) -> Key {
    Key::new(user_partition(user_id), format!("{DEVICE_PREFIX}{digest}"))
}

/// The key of the item naming a token's owner.
pub fn owner_key(digest: &str) -> Key {
    Key::new(format!("{DEVICE_PREFIX}{digest}"), OWNER_SK)
}

/// Registers `device` for `user_id` at `now_ms`: new, refreshed, or moved here from
/// another account; then drops the least recent beyond [`MAX_DEVICES`].
pub async fn register(
    store: &dyn Store,
    user_id: &str,
    device: &NewDevice,
    now_ms: i64,
) -> Result<(), ApiError> {
    let digest = device.token.digest();
    for _ in 0..ATTEMPTS {
        let (owner, mine) = futures::future::try_join(
            store.get(&owner_key(&digest)),
            store.get(&device_key(user_id, &digest)),
        )
        .await?;
        let registered_at = match &mine {
            Some(item) => from_body::<Device>(item)?.registered_at,
            None => rfc3339_of_ms(now_ms),
        };
        let stored = Device {
            token: device.token.0.clone(),
            platform: device.platform,
            app_version: device.app_version.clone(),
            registered_at,
            updated_ms: now_ms,
        };
        let (owner_condition, version) = match &owner {
            None => (Condition::NotExists, 1),
            Some(item) => (Condition::VersionIs(item.version), item.version + 1),
        };
        let mut writes = vec![
            Write::Put {
                item: owner_item(&digest, user_id).with_version(version),
                condition: owner_condition,
            },
            Write::Put {
                item: Item::new(device_key(user_id, &digest), to_body(&stored)?).with_index(
                    Index::Gsi1,
                    registered_partition(now_ms),
                    format!("{now_ms:013}#{user_id}#{digest}"),
                ),
                condition: Condition::None,
            },
            open_account_check(user_id),
        ];
        if let Some(previous) = owner
            .as_ref()
            .and_then(|item| item.str("user_id"))
            .filter(|owner| *owner != user_id)
        {
            writes.push(Write::Delete {
                key: device_key(previous, &digest),
                condition: Condition::None,
            });
        }
        match store.transact(writes).await {
            Ok(()) => return trim(store, user_id).await,
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
                return Err(account_closed());
            }
            // Another registration of this token came between: read it again.
            Err(StoreError::TransactionCanceled { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::Busy {
        code: "device_busy",
        message: "this device token is being registered elsewhere right now; try again".into(),
        retry_after: 1,
    })
}

/// The gsi1 partition listing the devices last registered in the month of `ms` (UTC), so
/// the stale-device sweep reads a few months, never the whole table.
fn registered_partition(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "DEVICES_REGISTERED#{:04}-{:02}",
        at.year(),
        at.month() as u8
    )
}

/// The registration partitions of the month of `ms` and the `back` calendar months before
/// it, oldest first.
fn months_back(ms: i64, back: i64) -> Vec<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let index = i64::from(at.year()) * 12 + i64::from(at.month() as u8) - 1;
    (0..=back)
        .rev()
        .map(|n| {
            let month = index - n;
            format!(
                "DEVICES_REGISTERED#{:04}-{:02}",
                month.div_euclid(12),
                month.rem_euclid(12) + 1
            )
        })
        .collect()
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    /// Stale devices removed.
    pub removed: usize,
    /// Whether stale devices are left for the next sweep (it stopped at its limit).
    pub more: bool,
}

/// Removes devices not registered again since [`STALE_AFTER_DAYS`] before `now_ms`, at
/// most `limit` of them (the rest go next time). Reads the registration index month by
/// month, oldest first; a device registered again meanwhile is kept.
pub async fn sweep_stale(store: &dyn Store, now_ms: i64, limit: usize) -> Result<Swept, ApiError> {
    let stale_before = now_ms - STALE_AFTER_DAYS * DAY_MS;
    let mut swept = Swept::default();
    let months = months_back(stale_before, SWEEP_MONTHS);
    for month in months {
        let mut cursor = None;
        loop {
            let page = store
                .query(
                    &Query::index(Index::Gsi1, month.clone())
                        .range(SortRange::AtMost(format!("{stale_before:013}")))
                        .limit(100)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                if swept.removed >= limit {
                    swept.more = true;
                    return Ok(swept);
                }
                let device: Device = from_body(item)?;
                let Some(user_id) = item.key.pk.strip_prefix("USER#") else {
                    continue;
                };
                if device.updated_ms <= stale_before {
                    remove(store, user_id, &device.digest()).await?;
                    swept.removed += 1;
                }
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(swept)
}

fn owner_item(digest: &str, user_id: &str) -> Item {
    let mut body = serde_json::Map::new();
    body.insert("user_id".into(), json!(user_id));
    Item::new(owner_key(digest), body)
}

/// Drops the least recently registered devices beyond [`MAX_DEVICES`].
async fn trim(store: &dyn Store, user_id: &str) -> Result<(), ApiError> {
    let mut devices = list(store, user_id).await?;
    if devices.len() <= MAX_DEVICES {
        return Ok(());
    }
    devices.sort_by_key(|d| d.updated_ms);
    let excess = devices.len() - MAX_DEVICES;
    for device in &devices[..excess] {
        remove(store, user_id, &device.digest()).await?;
    }
    Ok(())
}

/// `user_id`'s devices (at most a few more than [`MAX_DEVICES`]: one query).
pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<Device>, ApiError> {
    let page = store
        .query(
            &Query::partition(user_partition(user_id))
                .range(SortRange::BeginsWith(DEVICE_PREFIX.into()))
                .limit(MAX_DEVICES * 2),
        )
        .await?;
    page.items.iter().map(from_body).collect()
}

/// Removes `user_id`'s device with token digest `digest`, and the token's owner item if it
/// still names them. Removing what is not there is fine.
pub async fn remove(store: &dyn Store, user_id: &str, digest: &str) -> Result<(), ApiError> {
    let owner = store.get(&owner_key(digest)).await?;
    let mut writes = vec![Write::Delete {
        key: device_key(user_id, digest),
        condition: Condition::None,
    }];
    if let Some(owner) = owner.filter(|item| item.str("user_id") == Some(user_id)) {
        writes.push(Write::Delete {
            key: owner.key,
            condition: Condition::VersionIs(owner.version),
        });
    }
    match store.transact(writes).await {
        // The token moved to someone else meanwhile: their owner item stays; ours goes.
        Err(StoreError::TransactionCanceled { .. }) => {
            store
                .delete(&device_key(user_id, digest), Condition::None)
                .await?;
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Deletes the owner items of `user_id`'s devices (the devices themselves go with the
/// user's partition): an erased account leaves no token naming it.
pub async fn erase_owners(store: &dyn Store, user_id: &str) -> Result<usize, ApiError> {
    let mut erased = 0;
    for device in list(store, user_id).await? {
        remove(store, user_id, &device.digest()).await?;
        erased += 1;
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_reads_its_token_platform_and_version() {
        let device = NewDevice::parse(&json!({
            "token": "fGx1:APA91bH-abc_def.ghi",
            "platform": "android",
            "app_version": "1.4.2"
        }))
        .expect("valid");
        assert_eq!(device.platform, Platform::Android);
        assert_eq!(device.app_version.as_deref(), Some("1.4.2"));
        assert_eq!(device.token.digest().len(), 32);
    }

    #[test]
    fn a_wrong_registration_is_refused_naming_its_field() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        let cases = [
            (json!({"platform": "ios"}), "token"),
            (json!({"token": "", "platform": "ios"}), "token"),
            (json!({"token": "has space", "platform": "ios"}), "token"),
            (json!({"token": long, "platform": "ios"}), "token"),
            (json!({"token": 42, "platform": "ios"}), "token"),
            (json!({"token": "abc"}), "platform"),
            (json!({"token": "abc", "platform": "symbian"}), "platform"),
            (
                json!({"token": "abc", "platform": "web", "app_version": ""}),
                "app_version",
            ),
            (
                json!({"token": "abc", "platform": "web", "app_version": 3}),
                "app_version",
            ),
            (
                json!({"token": "abc", "platform": "web", "topic": "x"}),
                "topic",
            ),
            (json!("abc"), "body"),
        ];
        for (body, field) in cases {
            let err = NewDevice::parse(&body).expect_err("refused");
            assert_eq!(err.field(), Some(field), "{body}");
        }
    }

    #[test]
    fn devices_are_listed_by_the_utc_month_they_last_registered_in() {
        assert_eq!(
            registered_partition(1_764_547_200_000),
            "DEVICES_REGISTERED#2025-12"
        );
        assert_eq!(
            registered_partition(1_764_547_199_999),
            "DEVICES_REGISTERED#2025-11"
        );
    }

    #[test]
    fn the_sweep_reads_every_calendar_month_back_even_from_the_31st() {
        // 31 March 2026: March, February (which a 30-day step would miss), January.
        let months = months_back(1_774_915_200_000, 2);
        assert_eq!(
            months,
            [
                "DEVICES_REGISTERED#2026-01",
                "DEVICES_REGISTERED#2026-02",
                "DEVICES_REGISTERED#2026-03"
            ]
        );
    }

    #[test]
    fn a_token_never_prints() {
        let token = DeviceToken::parse("secret-token").expect("valid");
        assert!(!format!("{token:?}").contains("secret"));
        let device = Device {
            token: "secret-token".into(),
            platform: Platform::Ios,
            app_version: None,
            registered_at: "2026-12-01T00:00:00Z".into(),
            updated_ms: 0,
        };
        assert!(!format!("{device:?}").contains("secret"));
        assert!(!device.export().to_string().contains("secret"));
    }
}
