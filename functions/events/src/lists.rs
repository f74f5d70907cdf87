//! Lists of events: upcoming public ones by date or near a point, and my own.

use std::collections::HashMap;

use futures::future::try_join_all;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use runcrew_model::author::Author;
use runcrew_model::course::NearSearch;
use runcrew_model::event::roster::Member;
use runcrew_model::event::search::{
    MineCursor, RangeCursor, Window, near_queries, nearest, range_page,
};
use runcrew_model::event::{Event, MEMBER_PREFIX, META_SK, Role, event_key, my_events_partition};
use runcrew_shared::store::{Index, Item, Key, MAX_BATCH_GET, Query, SortRange, Store, read_pages};
use runcrew_shared::{ApiError, App, HttpFunction, Needs, request, response};

use crate::now_ms;

/// `GET /v1/events`.
pub static LIST: HttpFunction = HttpFunction {
    binary: "events-list",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(list(app, req)),
};

/// `GET /v1/users/me/events`.
pub static MINE: HttpFunction = HttpFunction {
    binary: "users-me-events",
    needs: Needs::NOTHING.store(),
    handler: |app, req| Box::pin(mine(app, req)),
};

/// Page size unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 20;
/// The largest page: its events and their hosts fit one BatchGetItem each.
pub const MAX_LIST_PAGE: usize = 50;
/// Index pages (of 1,000) read per geohash cell of a near search, as the course search
/// does: a denser cell (more than 3,000 group runs not yet over) is read only in part.
const NEAR_PAGES_PER_CELL: usize = 3;

/// `GET /v1/events`: upcoming public events by start time (`from`, `to`, `cursor`), or
/// with `near=lat,lng&radius_km=` those meeting within the radius, nearest first, each
/// with `distance_away_m`. Both read indexes only: month partitions, or geohash cells that
/// hold nothing past.
pub async fn list(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let from: Option<String> = request::query_param(&req, "from")?;
    let to: Option<String> = request::query_param(&req, "to")?;
    let window = Window::parse(from.as_deref(), to.as_deref(), now_ms())?;
    let near: Option<String> = request::query_param(&req, "near")?;
    let radius_km: Option<String> = request::query_param(&req, "radius_km")?;
    let cursor = request::page_cursor(&req);
    let store = app.store()?;
    let Some(near) = near else {
        if radius_km.is_some() {
            return Err(ApiError::invalid("radius_km", "is read only with near"));
        }
        let cursor = cursor
            .map(|raw| RangeCursor::parse(&raw, &window))
            .transpose()?;
        let (items, next) = range_page(&window, cursor, limit, |query| async move {
            Ok(store.query(&query).await?)
        })
        .await?;
        let events = items
            .iter()
            .map(|item| Event::from_item(item).map(|(event, _)| event))
            .collect::<Result<Vec<_>, _>>()?;
        let views = with_hosts(store, &events, |event, host| event.view(host, None)).await?;
        return response::page(&views, next.map(|c| c.encode()).as_deref());
    };
    let search = NearSearch::parse(&near, radius_km.as_deref(), cursor.as_deref())?;
    let reads = near_queries(search.centre, search.radius_m())?
        .into_iter()
        .map(|query| read_pages(store, query, NEAR_PAGES_PER_CELL));
    let places: Vec<Item> = try_join_all(reads).await?.into_iter().flatten().collect();
    let found = nearest(&places, search.centre, search.radius_m(), &window, limit);
    let keys: Vec<Key> = found.iter().map(|f| event_key(&f.event_id)).collect();
    let mut by_id: HashMap<String, Event> = HashMap::new();
    if !keys.is_empty() {
        for item in store.get_many(&keys).await? {
            let (event, _) = Event::from_item(&item)?;
            by_id.insert(event.event_id.clone(), event);
        }
    }
    // Nearest first; an event cancelled since its place item was read is left out.
    let events: Vec<Event> = found
        .iter()
        .filter_map(|f| by_id.remove(&f.event_id))
        .filter(Event::is_listed)
        .collect();
    let away: HashMap<&str, f64> = found
        .iter()
        .map(|f| (f.event_id.as_str(), (f.away_m * 10.0).round() / 10.0))
        .collect();
    let views = with_hosts(store, &events, |event, host| {
        let mut view = event.view(host, None);
        view["distance_away_m"] = Value::from(away.get(event.event_id.as_str()).copied());
        view
    })
    .await?;
    response::page(&views, None)
}

/// The views of `events`, each with its host's name and picture (one BatchGetItem).
async fn with_hosts(
    store: &dyn Store,
    events: &[Event],
    view: impl Fn(&Event, Option<&Author>) -> Value,
) -> Result<Vec<Value>, ApiError> {
    let authors = Author::load(store, events.iter().map(|e| e.host_id.as_str())).await?;
    Ok(events
        .iter()
        .map(|event| view(event, authors.get(&event.host_id)))
        .collect())
}

/// `GET /v1/users/me/events`: the events I host or joined, upcoming first (soonest
/// first), then past ones (latest first), each with `my_status`.
pub async fn mine(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = app.caller(&req)?;
    let limit = request::page_limit(&req, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let cursor = request::page_cursor(&req)
        .map(|raw| MineCursor::parse(&raw))
        .transpose()?
        .unwrap_or_else(|| MineCursor::first(now_ms()));
    let store = app.store()?;
    let partition = my_events_partition(&caller.user_id);
    let split = format!("{:013}", cursor.split_ms.max(0));
    let upcoming =
        Query::index(Index::Gsi2, partition.clone()).range(SortRange::AtLeast(split.clone()));
    let past = Query::index(Index::Gsi2, partition)
        .range(SortRange::AtMost(split))
        .descending();
    let at = |upcoming: bool, inner: Option<String>| MineCursor {
        upcoming,
        split_ms: cursor.split_ms,
        inner,
    };
    let mut entries = Vec::new();
    let next = if cursor.upcoming {
        let page = store
            .query(&upcoming.limit(limit).after(cursor.inner.clone()))
            .await?;
        entries.extend(page.items);
        match page.cursor {
            Some(more) => Some(at(true, Some(more))),
            None if entries.len() >= limit => Some(at(false, None)),
            None => {
                let page = store.query(&past.limit(limit - entries.len())).await?;
                entries.extend(page.items);
                page.cursor.map(|more| at(false, Some(more)))
            }
        }
    } else {
        let page = store
            .query(&past.limit(limit).after(cursor.inner.clone()))
            .await?;
        entries.extend(page.items);
        page.cursor.map(|more| at(false, Some(more)))
    };
    let (events, roles) = entries_to_events(store, &entries, &caller.user_id).await?;
    let views = with_hosts(store, &events, |event, host| {
        event.view(host, roles.get(&event.event_id).copied())
    })
    .await?;
    response::page(&views, next.map(|c| c.encode()).as_deref())
}

/// The events behind my list's entries (an event item where I host, a member item where
/// I joined: those are read in one BatchGetItem), in the list's order, with my role.
async fn entries_to_events(
    store: &dyn Store,
    entries: &[Item],
    user_id: &str,
) -> Result<(Vec<Event>, HashMap<String, Role>), ApiError> {
    let mut roles = HashMap::new();
    let mut order = Vec::new();
    let mut hosted: HashMap<String, Event> = HashMap::new();
    let mut wanted = Vec::new();
    for item in entries {
        if item.key.sk == META_SK {
            let (event, _) = Event::from_item(item)?;
            roles.insert(event.event_id.clone(), Role::Host);
            order.push(event.event_id.clone());
            hosted.insert(event.event_id.clone(), event);
        } else if item.key.sk.starts_with(MEMBER_PREFIX) {
            let (member, _) = Member::from_item(item)?;
            if member.user_id != user_id {
                continue;
            }
            roles.insert(member.event_id.clone(), member.role());
            order.push(member.event_id.clone());
            wanted.push(event_key(&member.event_id));
        }
    }
    for chunk in wanted.chunks(MAX_BATCH_GET) {
        for item in store.get_many(chunk).await? {
            let (event, _) = Event::from_item(&item)?;
            hosted.insert(event.event_id.clone(), event);
        }
    }
    // An event gone meanwhile (cancelled and over) is left out.
    let events = order.iter().filter_map(|id| hosted.remove(id)).collect();
    Ok((events, roles))
}
