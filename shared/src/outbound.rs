//! HTTPS clients for third parties (login providers, Mapbox, FCM): one set of rules, so
//! none of them is ever built without them.
//!
//! rustls, a connect and a whole-request timeout (a stalled provider answers 503 or a retry
//! well inside the function's own timeout, never holds it), no redirects to follow (none of
//! these APIs redirects, so one would only lead a token or an assertion off its host), and
//! our user agent. A client that cannot be built (no TLS roots, say) is an error, never a
//! default client without these settings.

use std::time::Duration;

/// A client with `connect` and `request` timeouts; the error is [`error_chain`]'s text.
pub fn https_client(connect: Duration, request: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("runcrew-api/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error_chain(&e))
}

/// An error and its sources on one line (reqwest's own message is often only "builder
/// error" or "error sending request").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
