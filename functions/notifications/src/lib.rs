//! Notifications: device tokens, the inbox and its settings (routes), the notifier that
//! turns committed writes into inbox items and push jobs (table stream), and the `push`
//! consumer that sends them through FCM HTTP v1 (queue).

pub mod fcm;
