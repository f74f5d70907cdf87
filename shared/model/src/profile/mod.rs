//! Users and their provider links: the items every area that knows a person reads.
//!
//! - `USER#<userId>` / `PROFILE`: the profile (private fields included; views filter).
//! - `IDENTITY#<provider>#<subject>` / `IDENTITY`: the unique link from a provider account to
//!   its user, so "user by (provider, provider user id)" is one GetItem and two parallel
//!   first logins cannot make two users: the link and the profile are written in one
//!   transaction, both on condition that they do not exist yet.
//!
//! Everything else a user owns lives in the `USER#<userId>` partition where it can (sessions
//! today), so erasure is one partition plus the items the profile points to.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runcrew_shared::ApiError;
use runcrew_shared::clock::now_rfc3339;
use runcrew_shared::identity::{Identity, Provider};
use runcrew_shared::ids::has_id_shape;
use runcrew_shared::store::{Condition, Item, Key, Store, StoreError, Write, from_body, to_body};

mod fields;

pub use fields::{AvatarUrl, Bio, DisplayName, MAX_AVATAR_URL, MAX_BIO, MAX_DISPLAY_NAME};

/// The sort key of the profile in the user's partition.
pub const PROFILE_SK: &str = "PROFILE";

/// The partition of everything a user owns.
pub fn user_partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The key of a user's profile, `USER#<userId>` / `PROFILE`: while it exists the account
/// is open ([`require_open_account`]).
pub fn profile_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), PROFILE_SK)
}

/// The key of the link from a provider account to its user.
pub fn identity_key(provider: Provider, subject: &str) -> Key {
    Key::new(
        format!("IDENTITY#{}#{subject}", provider.as_str()),
        "IDENTITY",
    )
}

/// Whether `id` has the shape of our user ids (32 lowercase hex digits), so a path
/// parameter of any other shape is a 404 without a read.
pub fn is_user_id(id: &str) -> bool {
    has_id_shape(id)
}

/// A new random user id: a v4 UUID as 32 lowercase hex digits, the shape [`is_user_id`]
/// checks.
pub fn new_user_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Metric or imperial display units: only the app converts; the API stores and answers
/// metric values either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Kilometres (the default).
    #[default]
    Metric,
    /// Miles.
    Imperial,
}

/// A provider account linked to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    /// The login provider; with `subject`, it names the link item ([`identity_key`]) that
    /// erasure deletes.
    pub provider: Provider,
    /// The provider's id of the person (private: never in a public view).
    pub subject: String,
    /// When it was linked (RFC 3339).
    pub linked_at: String,
}

fn utc() -> String {
    "UTC".into()
}

/// A user's profile as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// 32 lowercase hex digits ([`is_user_id`]), never changed: the profile's partition.
    pub user_id: String,
    /// 1–40 characters.
    pub display_name: String,
    /// Up to 280 characters.
    #[serde(default)]
    pub bio: String,
    /// One of the user's own uploads or its thumbnails on our CDN, as [`AvatarUrl`] checks.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// IANA time zone, for local-time statistics.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Display units, shown back only to the user (not in the public view).
    #[serde(default)]
    pub units: Units,
    /// Private; from the provider when it shared a verified one.
    #[serde(default)]
    pub email: Option<String>,
    /// The provider accounts that log in as this user.
    #[serde(default)]
    pub identities: Vec<LinkedIdentity>,
    /// People following this user (kept by the follow transaction).
    #[serde(default)]
    pub follower_count: i64,
    /// People this user follows (kept by the same transaction).
    #[serde(default)]
    pub following_count: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl Profile {
    /// A new profile for `identity`; a provider without a name gives "Runner xxxx".
    pub fn new(user_id: &str, identity: &Identity) -> Self {
        let now = now_rfc3339();
        Profile {
            user_id: user_id.to_owned(),
            display_name: identity
                .display_name
                .clone()
                .unwrap_or_else(|| format!("Runner {}", &user_id[..4.min(user_id.len())])),
            bio: String::new(),
            avatar_url: None,
            time_zone: utc(),
            units: Units::Metric,
            email: identity.email.clone(),
            identities: vec![LinkedIdentity {
                provider: identity.provider,
                subject: identity.subject.clone(),
                linked_at: now.clone(),
            }],
            follower_count: 0,
            following_count: 0,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// The profile as an item written with `version`: 1 when created, the loaded version
    /// plus one on a change conditioned on [`Condition::VersionIs`].
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        Ok(Item::new(profile_key(&self.user_id), to_body(self)?).with_version(version))
    }

    /// What anyone may see: no e-mail, no provider ids, no settings.
    pub fn public_view(&self) -> Value {
        serde_json::json!({
            "user_id": self.user_id,
            "display_name": self.display_name,
            "bio": self.bio,
            "avatar_url": self.avatar_url,
            "follower_count": self.follower_count,
            "following_count": self.following_count,
            "created_at": self.created_at,
        })
    }

    /// What the user sees of themselves.
    pub fn private_view(&self) -> Value {
        let providers: Vec<&str> = self
            .identities
            .iter()
            .map(|i| i.provider.as_str())
            .collect();
        serde_json::json!({
            "user_id": self.user_id,
            "display_name": self.display_name,
            "bio": self.bio,
            "avatar_url": self.avatar_url,
            "time_zone": self.time_zone,
            "units": self.units,
            "email": self.email,
            "providers": providers,
            "follower_count": self.follower_count,
            "following_count": self.following_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// The stored profile and its version, if the user exists.
pub async fn load_profile(
    store: &dyn Store,
    user_id: &str,
) -> Result<Option<(Profile, u64)>, ApiError> {
    match store.get(&profile_key(user_id)).await? {
        None => Ok(None),
        Some(item) => Ok(Some((from_body(&item)?, item.version))),
    }
}

/// The refusal of a write by a token whose account was erased (its access token lives up
/// to 15 minutes after the erasure): 401, so the client's refresh fails and it signs out.
pub fn account_closed() -> ApiError {
    ApiError::Unauthorized("this account is closed".into())
}

/// A write for a transaction that creates something for `user_id`: it writes nothing, but
/// the whole transaction fails unless the account still exists, so a closed account's
/// token cannot leave items behind that no erasure will ever find. Map a cancellation at
/// its position to [`account_closed`].
pub fn open_account_check(user_id: &str) -> Write {
    Write::Check {
        key: profile_key(user_id),
        condition: Condition::Exists,
    }
}

/// 401 [`account_closed`] unless `user_id`'s profile exists: one GetItem, for writes that
/// are not a transaction (a presigned upload). In external OIDC mode the profile exists
/// once `GET /v1/users/me` has been called.
pub async fn require_open_account(store: &dyn Store, user_id: &str) -> Result<(), ApiError> {
    match store.get(&profile_key(user_id)).await? {
        Some(_) => Ok(()),
        None => Err(account_closed()),
    }
}

/// Who logged in: the user id and whether this login created the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user the provider account is linked to; a new one when `created`.
    pub user_id: String,
    /// True on the first login of this provider account.
    pub created: bool,
}

/// The user linked to `identity`, created with its link on the first login.
///
/// One GetItem for a returning user. A first login writes the link and the profile in one
/// transaction, each only if absent; when a parallel first login of the same account wins
/// that race, the loser reads the winner's link, so exactly one user exists.
pub async fn find_or_create(
    store: &dyn Store,
    identity: &Identity,
    new_id: impl FnOnce() -> String,
) -> Result<Account, ApiError> {
    let link = identity_key(identity.provider, &identity.subject);
    if let Some(user_id) = linked_user(store, &link).await? {
        return Ok(Account {
            user_id,
            created: false,
        });
    }
    let user_id = new_id();
    let profile = Profile::new(&user_id, identity);
    let mut link_body = Map::new();
    link_body.insert("user_id".into(), Value::String(user_id.clone()));
    link_body.insert(
        "provider".into(),
        Value::String(identity.provider.as_str().into()),
    );
    let writes = vec![
        Write::Put {
            item: Item::new(link.clone(), link_body),
            condition: Condition::NotExists,
        },
        Write::Put {
            item: profile.to_item(1)?,
            condition: Condition::NotExists,
        },
        not_being_erased(&user_id),
    ];
    match store.transact(writes).await {
        Ok(()) => Ok(Account {
            user_id,
            created: true,
        }),
        // An id derived from the login (the dev provider) whose erasure still runs.
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
            Err(account_closed())
        }
        Err(StoreError::TransactionCanceled { .. }) => {
            let user_id = linked_user(store, &link).await?.ok_or_else(|| {
                ApiError::Internal("first login lost a race but found no link".into())
            })?;
            Ok(Account {
                user_id,
                created: false,
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn linked_user(store: &dyn Store, link: &Key) -> Result<Option<String>, ApiError> {
    Ok(store
        .get(link)
        .await?
        .and_then(|item| item.str("user_id").map(str::to_owned)))
}

/// The profile of a user known only by an external issuer's token (external OIDC mode),
/// created on first use; 401 [`account_closed`] while the account's erasure runs (the same
/// token, or a new one of the same person, would otherwise open it again under the
/// erasure's feet).
pub async fn ensure_profile(
    store: &dyn Store,
    user_id: &str,
    identity: &Identity,
) -> Result<(Profile, u64), ApiError> {
    if let Some(found) = load_profile(store, user_id).await? {
        return Ok(found);
    }
    let profile = Profile::new(user_id, identity);
    let writes = vec![
        Write::Put {
            item: profile.to_item(1)?,
            condition: Condition::NotExists,
        },
        not_being_erased(user_id),
    ];
    match store.transact(writes).await {
        Ok(()) => Ok((profile, 1)),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(account_closed())
        }
        Err(StoreError::TransactionCanceled { .. }) => load_profile(store, user_id)
            .await?
            .ok_or_else(|| ApiError::Internal("profile vanished after a create race".into())),
        Err(e) => Err(e.into()),
    }
}

/// The marker of an account whose erasure runs: written when the account is closed,
/// deleted as the erasure's very last write. Outside the user's partition, so the
/// erasure's sweep of the partition leaves it to the end.
pub fn being_erased_key(user_id: &str) -> Key {
    Key::new(format!("CLOSED#{user_id}"), "CLOSED")
}

/// A check, for the transaction that creates a profile under a known id (external OIDC,
/// the dev provider), that the id's account is not being erased.
pub fn not_being_erased(user_id: &str) -> Write {
    Write::Check {
        key: being_erased_key(user_id),
        condition: Condition::NotExists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_have_one_shape() {
        assert!(is_user_id(&new_user_id()));
        assert!(!is_user_id("alice"));
        assert!(!is_user_id("0123456789ABCDEF0123456789ABCDEF"));
    }

    #[test]
    fn the_public_view_hides_email_and_provider_ids() {
        let identity = Identity {
            provider: Provider::Kakao,
            subject: "4242".into(),
            email: Some("runner@example.com".into()),
            display_name: Some("Runner".into()),
        };
        let profile = Profile::new(&new_user_id(), &identity);
        let text = profile.public_view().to_string();
        assert!(!text.contains("runner@example.com"), "{text}");
        assert!(!text.contains("4242"), "{text}");
        assert!(!text.contains("kakao"), "{text}");
    }
}
