//! The FCM HTTP v1 client against a fake Google on 127.0.0.1 (wiremock): the token
//! endpoint checks each assertion with the service account's public key, FCM answers with
//! its real error bodies.

mod access_token;
mod errors;
mod fake;
mod message;
mod service_account;
