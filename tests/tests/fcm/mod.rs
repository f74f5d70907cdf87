//! The FCM HTTP v1 client against a fake Google on 127.0.0.1 (wiremock,
//! `runcrew_fcm_fake`): the token endpoint checks each assertion with the service
//! account's public key, FCM answers with its real error bodies.

mod access_token;
mod errors;
mod message;
mod service_account;
