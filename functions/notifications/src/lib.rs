//! Notifications: device tokens, the inbox and its settings (routes), the notifier that
//! turns committed writes into inbox items and push jobs (table stream), and the `push`
//! consumer that sends them through FCM HTTP v1 (queue).
//!
//! ```text
//!  follow / like / review / faster run ──commit──▶ table ──stream──▶ notifier
//!                                                                      │ inbox item (USER#<id> / NOTIF#…)
//!                                                                      ▼
//!                                                  push queue ──▶ push ──▶ FCM HTTP v1 ──▶ devices
//! ```
//!
//! Once a day `devices-sweep` (a schedule) removes devices not registered for 60 days.

pub mod devices;
pub mod devices_sweep;
pub mod fcm;
pub mod fcm_port;
pub mod inbox;
pub mod notifier;
pub mod push;
pub mod settings;

use runcrew_shared::HttpFunction;
use runcrew_shared::tasks::queue::QueueFunction;
use runcrew_shared::tasks::schedule::ScheduleFunction;
use runcrew_shared::tasks::stream::StreamFunction;

/// Every HTTP function of this crate, for the local gateway's registry.
pub static FUNCTIONS: &[&HttpFunction] = &[
    &devices::REGISTER,
    &devices::UNREGISTER,
    &inbox::LIST,
    &inbox::MARK_READ,
    &settings::GET,
    &settings::UPDATE,
];

/// Every stream consumer of this crate.
pub static STREAM_TASKS: &[&StreamFunction] = &[&notifier::NOTIFIER];

/// Every queue consumer of this crate.
pub static QUEUE_TASKS: &[&QueueFunction] = &[&push::PUSH];

/// Every scheduled task of this crate.
pub static SCHEDULE_TASKS: &[&ScheduleFunction] = &[&devices_sweep::DEVICES_SWEEP];
