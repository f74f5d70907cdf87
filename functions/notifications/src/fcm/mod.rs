//! FCM HTTP v1 (placeholder: being written).
