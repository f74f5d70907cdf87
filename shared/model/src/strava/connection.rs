//! A person's Strava connection: who they are at Strava, their tokens (sealed: the store
//! never holds a usable token), what has been imported and what a person should know.
//!
//! One Strava athlete links to one RunCrew user (`STRAVA_ATHLETE#<id>` / `LINK`, written
//! with the connection in one transaction). Connected users are listed in a sparse index
//! (`STRAVA_CONNECTED`) that the sweep reads instead of scanning the table.

use runcrew_shared::ApiError;
use runcrew_shared::store::versioned::{Change, Versioned, VersionedError};
use runcrew_shared::store::{
    Condition, Index, Item, Key, Query, Store, StoreError, Write, from_body, to_body,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::profile::{account_closed, open_account_check, user_partition};

const CONNECTION_SK: &str = "STRAVA";
/// The gsi1 partition of every connected user: the sweep's list.
pub const CONNECTED_PARTITION: &str = "STRAVA_CONNECTED";
/// The most activities one sync-all (and the first import) brings.
pub const MAX_SYNC_ACTIVITIES: u32 = 200;

/// What kind of import runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// Right after connecting: the most recent activities, up to 200.
    Initial,
    /// Asked for (`POST /v1/strava/sync-all`): the most recent, up to 200.
    SyncAll,
    /// The schedule's: whatever started after the last import.
    Sweep,
}

/// An import under way: where it is, so a retry resumes instead of starting over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// What kind.
    pub kind: SyncKind,
    /// The next page of `athlete/activities` to read (from 1).
    pub page: u32,
    /// How many activities may still be looked at (sync-all and initial: 200).
    pub remaining: u32,
    /// Runs imported so far by this sync (for the "N runs imported" notification).
    pub imported: u32,
    /// When it was asked for, epoch ms.
    pub started_ms: i64,
    /// A sweep's lower bound (epoch s): it asks for activities that started after it, and
    /// moves it past every activity it reads (runs or not), page after page.
    #[serde(default)]
    pub after_s: i64,
}

/// A sync older than this was lost (its message dead-lettered or parked): a new one may
/// take its place.
pub const SYNC_ABANDONED_AFTER_MS: i64 = 24 * 3600 * 1000;

impl SyncProgress {
    /// Whether this sync is still under way at `now_ms`, rather than lost.
    pub fn is_live(&self, now_ms: i64) -> bool {
        now_ms - self.started_ms < SYNC_ABANDONED_AFTER_MS
    }
}

/// What a person should see about their connection when something is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Machine-readable: `reconnect_needed`, `athlete_limit`, `rate_limited`, `unavailable`.
    pub code: String,
    /// For a person.
    pub message: String,
    /// When, RFC 3339.
    pub at: String,
}

/// The stored connection.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Whose.
    pub user_id: String,
    /// The Strava athlete.
    pub athlete_id: i64,
    /// The scopes the person granted (`read`, `activity:read_all`, ...).
    pub scopes: Vec<String>,
    /// The access token, sealed by the token cipher.
    pub access_token: String,
    /// The refresh token, sealed: Strava rotates it and kills the old one, so the newest
    /// is always saved.
    pub refresh_token: String,
    /// When the access token expires, epoch s (not `expires_at`: that name is the table's
    /// TTL, which would delete the connection when the token expires).
    pub token_expires_at: i64,
    /// When the person connected.
    pub connected_at: String,
    /// When an import last finished, if ever.
    #[serde(default)]
    pub last_sync_at: Option<String>,
    /// The start (epoch s) of the newest activity imported: the sweep asks for what came
    /// after it.
    #[serde(default)]
    pub newest_start_s: i64,
    /// Runs imported in all.
    #[serde(default)]
    pub runs_imported: i64,
    /// The import under way, if any.
    #[serde(default)]
    pub sync: Option<SyncProgress>,
    /// What went wrong last, until an import succeeds again.
    #[serde(default)]
    pub problem: Option<Problem>,
    /// Until when (epoch ms) one importer holds the right to refresh the tokens.
    #[serde(default)]
    pub refresh_lease_until_ms: i64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("user_id", &self.user_id)
            .field("athlete_id", &self.athlete_id)
            .field("tokens", &"***")
            .field("token_expires_at", &self.token_expires_at)
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

/// The key of `user_id`'s connection.
pub fn connection_key(user_id: &str) -> Key {
    Key::new(user_partition(user_id), CONNECTION_SK)
}

/// The key of the item linking a Strava athlete to its one RunCrew user.
pub fn athlete_key(athlete_id: i64) -> Key {
    Key::new(format!("STRAVA_ATHLETE#{athlete_id}"), "LINK")
}

impl Connection {
    /// The item, listed in the sweep's sparse index.
    pub fn to_item(&self) -> Result<Item, ApiError> {
        Ok(
            Item::new(connection_key(&self.user_id), to_body(self)?).with_index(
                Index::Gsi1,
                CONNECTED_PARTITION,
                &self.user_id,
            ),
        )
    }

    /// What `GET /v1/strava/status` shows.
    pub fn status(&self) -> Value {
        json!({
            "connected": true,
            "athlete_id": self.athlete_id,
            "scopes": self.scopes,
            "connected_at": self.connected_at,
            "last_sync_at": self.last_sync_at,
            "runs_imported": self.runs_imported,
            "import_in_progress": self.sync.is_some(),
            "problem": self.problem,
        })
    }

    /// What the account export shows: never a token.
    pub fn exported(&self) -> Value {
        let mut status = self.status();
        status["newest_start_s"] = json!(self.newest_start_s);
        status
    }
}

/// `user_id`'s connection and its version, if connected.
pub async fn load(store: &dyn Store, user_id: &str) -> Result<Option<(Connection, u64)>, ApiError> {
    match store.get(&connection_key(user_id)).await? {
        None => Ok(None),
        Some(item) => Ok(Some((from_body(&item)?, item.version))),
    }
}

/// Why a connection could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The Strava athlete is linked to another RunCrew account.
    #[error("this Strava account is connected to another RunCrew account")]
    AthleteTaken,
}

/// Stores a new connection (or replaces the caller's own, after a reconnect) and its
/// athlete link, in one transaction; the account must still be open.
pub async fn connect(
    store: &dyn Store,
    connection: &Connection,
) -> Result<Result<(), ConnectError>, ApiError> {
    let link = athlete_key(connection.athlete_id);
    let current_link = store.get(&link).await?;
    if let Some(item) = &current_link
        && item.str("user_id") != Some(connection.user_id.as_str())
    {
        return Ok(Err(ConnectError::AthleteTaken));
    }
    // Conditioned on what was read: two accounts connecting one athlete at once cannot
    // both link it.
    let (link_condition, link_version) = match &current_link {
        None => (Condition::NotExists, 1),
        Some(item) => (Condition::VersionIs(item.version), item.version + 1),
    };
    // Reconnecting with another athlete leaves the old link behind: remove it.
    let previous = load(store, &connection.user_id).await?;
    let mut body = serde_json::Map::new();
    body.insert("user_id".into(), json!(connection.user_id));
    let mut writes = vec![
        Write::Put {
            item: connection.to_item()?,
            condition: Condition::None,
        },
        Write::Put {
            item: Item::new(link, body).with_version(link_version),
            condition: link_condition,
        },
        open_account_check(&connection.user_id),
    ];
    if let Some((old, _)) = previous.filter(|(old, _)| old.athlete_id != connection.athlete_id) {
        writes.push(Write::Delete {
            key: athlete_key(old.athlete_id),
            condition: Condition::None,
        });
    }
    match store.transact(writes).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
            Err(account_closed())
        }
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Ok(Err(ConnectError::AthleteTaken))
        }
        Err(other) => Err(other.into()),
    }
}

/// Changes `user_id`'s connection under the version read; `None` when not connected.
/// `change` may refuse with an error, which is returned as is.
pub async fn update<F>(
    store: &dyn Store,
    user_id: &str,
    change: F,
) -> Result<Option<Connection>, ApiError>
where
    F: Fn(&mut Connection) -> Result<(), ApiError> + Send + Sync,
{
    let change = &change;
    Versioned::new(connection_key(user_id))
        .attempts(5)
        .apply(store, |current| async move {
            let Some(item) = current else {
                return Ok::<_, ApiError>(Change::keep(None));
            };
            let mut connection: Connection = from_body(&item)?;
            change(&mut connection)?;
            Ok(Change::put(connection.to_item()?, Some(connection)))
        })
        .await
        .map_err(|err| match err {
            VersionedError::Aborted(e) => e,
            other => other.or_conflict(|| ApiError::Busy {
                code: "strava_busy",
                message: "the Strava connection changed meanwhile; try again".into(),
                retry_after: 1,
            }),
        })
}

/// Removes `user_id`'s connection and its athlete link. Removing none is fine.
pub async fn remove(store: &dyn Store, user_id: &str) -> Result<Option<Connection>, ApiError> {
    let Some((connection, _)) = load(store, user_id).await? else {
        return Ok(None);
    };
    store
        .transact(vec![
            Write::Delete {
                key: connection_key(user_id),
                condition: Condition::None,
            },
            Write::Delete {
                key: athlete_key(connection.athlete_id),
                condition: Condition::None,
            },
        ])
        .await?;
    Ok(Some(connection))
}

/// The user linked to Strava athlete `athlete_id`, if any (webhook events name athletes).
pub async fn user_of_athlete(
    store: &dyn Store,
    athlete_id: i64,
) -> Result<Option<String>, ApiError> {
    Ok(store
        .get(&athlete_key(athlete_id))
        .await?
        .and_then(|item| item.str("user_id").map(str::to_owned)))
}

/// One page of connected users, for the sweep (a sparse index: no scan).
pub fn connected_users() -> Query {
    Query::index(Index::Gsi1, CONNECTED_PARTITION)
}
