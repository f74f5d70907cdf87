//! Reading a request: the caller's identity, path and query parameters, and JSON bodies.
//!
//! Every helper answers with an [`ApiError`] that names the field at fault, so a handler
//! never has to phrase a parsing error itself.

use std::cell::Cell;
use std::collections::HashMap;
use std::str::FromStr;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::config::ClientIpSource;
use crate::error::ApiError;

/// The default cap on JSON bodies; routes with larger documents pass their own limit.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Who is calling, as the JWT authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Our user id: the `sub` of our tokens, or one derived from an external issuer's `sub`
    /// by [`crate::App::caller`].
    pub user_id: String,
    /// The login session the token belongs to (`sid`), when our own tokens are used.
    pub session_id: Option<String>,
    /// The token id (`jti`), for revocation and audit.
    pub token_id: Option<String>,
}

/// The API Gateway request id, or the Lambda one, for logs and the error envelope.
pub fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_else(|| "-".to_owned())
}

/// The route key API Gateway matched (`GET /v1/courses/{courseId}`), for logs and metrics.
pub fn route_key(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(key) = &ctx.route_key
    {
        return key.clone();
    }
    format!("{} {}", req.method(), req.uri().path())
}

/// The claims the authorizer verified; empty on unauthenticated routes.
pub fn claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => Some(&ctx.authorizer.as_ref()?.jwt.as_ref()?.claims),
        _ => None,
    }
}

/// The identity from `requestContext.authorizer.jwt.claims`, or 401.
///
/// Handlers trust these claims because API Gateway (or the local gateway) verified the
/// token before invoking the function; a route without the authorizer has no claims.
/// Handlers call [`crate::App::caller`], which also maps an external issuer's subjects to
/// our user ids; this is the raw reading underneath it.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let claims =
        claims(req).ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let user_id = claims
        .get("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("the token has no subject".into()))?;
    Ok(Caller {
        user_id: user_id.clone(),
        session_id: claims.get("sid").cloned(),
        token_id: claims.get("jti").cloned(),
    })
}

/// A path parameter the route template declares, or 400 naming it.
pub fn path_param<'r>(req: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                Some(name),
                format!("path parameter {name} is missing"),
            )
        })
}

/// A query parameter parsed as `T`, `None` when absent, 400 naming it when unreadable.
pub fn query_param<T: FromStr>(req: &Request, name: &str) -> Result<Option<T>, ApiError> {
    let Some(raw) = req
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
    else {
        return Ok(None);
    };
    raw.parse::<T>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            Some(name),
            format!("query parameter {name}={raw:?} cannot be read"),
        )
    })
}

/// The bytes of a request or response body (empty for none).
pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

/// The `limit` query parameter of a list: `default` when absent, 422 naming `limit` unless
/// it is 1 to `max`.
pub fn page_limit(req: &Request, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param::<usize>(req, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("must be 1 to {max}"))),
    }
}

/// The `cursor` query parameter of a list (opaque; the store checks it).
pub fn page_cursor(req: &Request) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first("cursor"))
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// A JSON body of at most [`DEFAULT_BODY_LIMIT`] bytes as `T`; see [`json_body_limited`].
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    json_body_limited(req, DEFAULT_BODY_LIMIT)
}

/// A JSON body as `T`.
///
/// 413 past `limit` bytes; 415 unless the content type is JSON; 400 when the text is not
/// JSON; 422 naming the field when it is JSON of the wrong shape (anything but an object at
/// the top, a missing field, a wrong type, or a field `T` does not know: types read here
/// use `deny_unknown_fields`). See [`parse_json`] for the wording.
pub fn json_body_limited<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = body_bytes(req.body());
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(
            "send the body as application/json".into(),
        ));
    }
    let Some(&first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::bad_request(
            "missing_body",
            Some("body"),
            "a JSON body is required",
        ));
    };
    // Every body of this API is an object; other JSON is refused whatever `T` would take.
    if first != b'{' && is_json(bytes) {
        return Err(ApiError::invalid(
            "body",
            format!("expected an object, got {}", json_kind(first)),
        ));
    }
    parse_json(bytes)
}

/// A JSON body that may be left out: `None` for an empty body, else as [`json_body`].
pub fn optional_json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    let empty = match req.body() {
        Body::Empty => true,
        Body::Text(t) => t.trim().is_empty(),
        Body::Binary(b) => b.iter().all(u8::is_ascii_whitespace),
        _ => true,
    };
    if empty {
        Ok(None)
    } else {
        json_body(req).map(Some)
    }
}

/// A request header as text: its first value, `None` when absent or not visible ASCII.
pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The client's address for per-client limits and the audit trail.
///
/// API Gateway's `sourceIp` is whoever connected to it; behind CloudFront (or another
/// trusted proxy) that is the proxy, and the viewer's address is in the header the proxy
/// sets, which [`ClientIpSource`] names. Headers are trusted only in that configuration,
/// since a client can send any header it likes to an API without a proxy.
pub fn client_ip(req: &Request, source: ClientIpSource) -> String {
    let forwarded = match source {
        ClientIpSource::SourceIp => None,
        ClientIpSource::CloudFront => header(req, "cloudfront-viewer-address").and_then(|v| {
            // `198.51.100.10:46532` or `2001:db8::1:46532`: the port follows the last colon.
            let (ip, _port) = v.trim().rsplit_once(':')?;
            Some(ip.trim_matches(['[', ']']).to_owned())
        }),
        ClientIpSource::ForwardedFor => header(req, "x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .map(|ip| ip.trim().to_owned()),
    };
    forwarded
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .or_else(|| match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            _ => None,
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Parses JSON text as `T`, naming the failing field. Shared with non-HTTP inputs (events).
///
/// Stricter than serde's defaults and worded for the API's users:
/// - a struct is read from a JSON object only, never from an array of its fields in
///   declaration order (serde's default, which would let `["Mallory","bio"]` change a
///   profile and make field order part of the API);
/// - messages say what was expected in JSON terms ("an object", "a whole number", "one of
///   `metric`, `imperial`"), never a Rust type (`struct NewRun`, `u64`);
/// - values and names echoed back are cut at [`ECHO_LIMIT`] characters.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let enums = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(strict::Strict::new(&mut de, &enums)).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Syntax if enums.get().is_some() && is_json(bytes) => {
                    // serde_json reports a number or a list where an enum's name belongs as
                    // a syntax error, though the text is JSON: name the values it takes.
                    let variants = enums.get().unwrap_or_default();
                    ApiError::invalid(
                        field_name(&path, None),
                        format!("expected {}", one_of(variants)),
                    )
                }
                serde_json::error::Category::Syntax
                | serde_json::error::Category::Eof
                | serde_json::error::Category::Io => ApiError::bad_request(
                    "malformed_json",
                    Some("body"),
                    format!(
                        "the body is not valid JSON (line {}, column {})",
                        inner.line(),
                        inner.column()
                    ),
                ),
                serde_json::error::Category::Data => {
                    let problem = Problem::read(&strip_position(&inner.to_string()));
                    let field = field_name(&path, problem.named_field());
                    ApiError::invalid(field, problem.message(enums.get()))
                }
            }
        })?;
    de.end().map_err(|_| {
        ApiError::bad_request(
            "malformed_json",
            Some("body"),
            "unexpected text after the JSON value",
        )
    })?;
    Ok(value)
}

/// The most characters of a client's value (or field name) an error message repeats.
pub const ECHO_LIMIT: usize = 100;

/// `text` cut at [`ECHO_LIMIT`] characters, with "…" when something was cut.
fn shorten(text: &str) -> String {
    shorten_to(text, ECHO_LIMIT)
}

/// `text` cut at `limit` characters, with "…" when something was cut.
fn shorten_to(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Whether `bytes` is one JSON value.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// "one of `a`, `b`" (or "`a`" alone).
fn one_of(variants: &[&str]) -> String {
    let quoted: Vec<String> = variants.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [] => "no value at all".to_owned(),
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}

/// What JSON value a body starts with, for "expected an object, got …".
fn json_kind(first: u8) -> &'static str {
    match first {
        b'[' => "a list",
        b'"' => "a string",
        b't' | b'f' => "true or false",
        b'n' => "null",
        _ => "a number",
    }
}

/// serde_json appends " at line L column C"; the field name already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The dotted path of the field at fault; for an unknown or missing field, that field.
fn field_name(path: &str, named: Option<&str>) -> String {
    let base = if path == "." { "" } else { path };
    let field = match (named, base.is_empty()) {
        (Some(name), true) => name.to_owned(),
        (Some(name), false) if !base.ends_with(name) => format!("{base}.{name}"),
        _ if base.is_empty() => "body".to_owned(),
        _ => base.to_owned(),
    };
    shorten(&field)
}

/// A data error of serde, read back from its message so it can be said in the API's words.
#[derive(Debug, PartialEq)]
enum Problem {
    /// `invalid type: <got>, expected <expected>` or `invalid value: …`.
    Mismatch { got: String, expected: String },
    /// `invalid length <n>, expected <expected>`.
    Length { got: String, expected: String },
    /// `unknown variant `<got>`, expected …`.
    UnknownVariant { got: String, expected: String },
    /// `unknown field `<name>`, expected …` or `…, there are no fields`.
    UnknownField { name: String, expected: String },
    /// `missing field `<name>``.
    MissingField { name: String },
    /// Anything else: a message of our own types' rules.
    Other(String),
}

impl Problem {
    fn read(message: &str) -> Problem {
        let backticked = |rest: &str| -> Option<String> {
            Some(rest.strip_prefix('`')?.strip_suffix('`')?.to_owned())
        };
        // The value comes before the last ", expected": a value may itself contain one,
        // an expectation never does.
        if let Some((head, expected)) = message.rsplit_once(", expected ") {
            let expected = expected.to_owned();
            if let Some(got) = head
                .strip_prefix("invalid type: ")
                .or_else(|| head.strip_prefix("invalid value: "))
            {
                return Problem::Mismatch {
                    got: got.to_owned(),
                    expected,
                };
            }
            if let Some(got) = head.strip_prefix("invalid length ") {
                return Problem::Length {
                    got: got.to_owned(),
                    expected,
                };
            }
            if let Some(got) = head.strip_prefix("unknown variant ").and_then(backticked) {
                return Problem::UnknownVariant { got, expected };
            }
            if let Some(name) = head.strip_prefix("unknown field ").and_then(backticked) {
                return Problem::UnknownField { name, expected };
            }
        }
        if let Some((head, _)) = message.rsplit_once(", there are no fields")
            && let Some(name) = head.strip_prefix("unknown field ").and_then(backticked)
        {
            return Problem::UnknownField {
                name,
                expected: String::new(),
            };
        }
        if let Some(name) = message.strip_prefix("missing field ").and_then(backticked) {
            return Problem::MissingField { name };
        }
        Problem::Other(message.to_owned())
    }

    /// The field the message itself names (unknown and missing fields).
    fn named_field(&self) -> Option<&str> {
        match self {
            Problem::UnknownField { name, .. } | Problem::MissingField { name } => Some(name),
            _ => None,
        }
    }

    /// The message for the API's users; `enum_variants` are those of the enum that failed,
    /// when one did.
    fn message(&self, enum_variants: Option<&[&str]>) -> String {
        match self {
            Problem::Mismatch { got, expected } => {
                let expected = match (expected.as_str(), enum_variants) {
                    // a unit variant sent as `{"metric": 1}`
                    ("unit", Some(variants)) => one_of(variants),
                    (other, _) => expectation(other),
                };
                format!("expected {expected}, got {}", unexpected(got))
            }
            Problem::Length { got, expected } => {
                format!("expected {}, got {got}", expectation(expected))
            }
            Problem::UnknownVariant { got, expected } => format!(
                "expected {}, got \"{}\"",
                variant_list(expected),
                shorten(got)
            ),
            Problem::UnknownField { expected, .. } if expected.is_empty() => {
                "unknown field: this object takes no fields".to_owned()
            }
            Problem::UnknownField { expected, .. } => {
                format!("unknown field; expected {}", variant_list(expected))
            }
            Problem::MissingField { .. } => "is required".to_owned(),
            // a rule of one of our types, whose words are ours; it may quote the value
            Problem::Other(message) => shorten_to(message, 2 * ECHO_LIMIT),
        }
    }
}

/// serde's list of names (`` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``) as
/// "one of `a`, `b`".
fn variant_list(expected: &str) -> String {
    if expected.starts_with("one of ") {
        return expected.to_owned();
    }
    match expected.split_once(" or ") {
        Some((a, b)) => format!("one of {a}, {b}"),
        None => expected.to_owned(),
    }
}

/// What serde expected (a Rust type's `expecting` text), in JSON terms.
fn expectation(expected: &str) -> String {
    let unsigned = |max: &str| format!("a whole number from 0 to {max}");
    let signed = |min: &str, max: &str| format!("a whole number from {min} to {max}");
    match expected {
        "u8" => unsigned("255"),
        "u16" => unsigned("65535"),
        "u32" => unsigned("4294967295"),
        "u64" | "u128" | "usize" => "a whole number of 0 or more".to_owned(),
        "i8" => signed("-128", "127"),
        "i16" => signed("-32768", "32767"),
        "i32" => signed("-2147483648", "2147483647"),
        "i64" | "i128" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" | "a borrowed string" | "string" => "a string".to_owned(),
        "a character" | "char" => "a single character".to_owned(),
        "a boolean" | "bool" => "true or false".to_owned(),
        "unit" => "null".to_owned(),
        "a map" | "map" | "string or map" => "an object".to_owned(),
        "a sequence" | "sequence" => "a list".to_owned(),
        other => {
            if let Some(size) = other
                .strip_prefix("a tuple of size ")
                .or_else(|| other.strip_prefix("an array of length "))
            {
                format!("a list of {size} items")
            } else if other.starts_with("struct ") || other.starts_with("struct variant ") {
                "an object".to_owned()
            } else if other.starts_with("tuple struct ") || other.starts_with("tuple variant ") {
                "a list".to_owned()
            } else if other.starts_with("enum ")
                || other.starts_with("internally tagged enum ")
                || other.starts_with("adjacently tagged enum ")
            {
                "one of the documented values".to_owned()
            } else {
                shorten(other)
            }
        }
    }
}

/// What the client sent, as serde's `Unexpected` describes it, in JSON terms and short.
fn unexpected(got: &str) -> String {
    let ticked = |prefix: &str| {
        got.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`')?.strip_suffix('`'))
            .map(str::to_owned)
    };
    if let Some(text) = got.strip_prefix("string ") {
        // Debug-quoted: `"…"`
        let inner = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        return format!("\"{}\"", shorten(inner));
    }
    if let Some(value) = ticked("integer ")
        .or_else(|| ticked("floating point "))
        .or_else(|| ticked("boolean "))
    {
        return shorten(&value);
    }
    if let Some(c) = ticked("character ") {
        return format!("\"{c}\"");
    }
    match got {
        "sequence" => "a list".to_owned(),
        "map" => "an object".to_owned(),
        "null" | "unit value" | "unit" => "null".to_owned(),
        "byte array" => "bytes".to_owned(),
        _ => "another kind of value".to_owned(),
    }
}

/// A deserializer that reads a struct from a JSON object only and remembers which enum
/// failed, around serde_json's own.
///
/// serde's derived `Deserialize` of a struct also accepts a sequence of its fields; the
/// wrapper refuses one at every depth (inside lists, options and enums too), so the check
/// holds for every type read through [`parse_json`], not only the top. (Values read through
/// serde's internal buffering — untagged or internally tagged enums — are outside it; no
/// request type uses those.)
mod strict {
    use std::cell::Cell;
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected,
        VariantAccess, Visitor,
    };

    /// The variants of the enum whose reading failed, if one did.
    pub(super) type FailedEnum = Cell<Option<&'static [&'static str]>>;

    pub(super) struct Strict<'s, D> {
        de: D,
        enums: &'s FailedEnum,
    }

    impl<'s, D> Strict<'s, D> {
        pub(super) fn new(de: D, enums: &'s FailedEnum) -> Self {
            Strict { de, enums }
        }
    }

    /// A visitor that passes everything on, wrapping what it hands out.
    struct Wrap<'s, V> {
        inner: V,
        enums: &'s FailedEnum,
        /// A struct's visitor: a sequence is refused.
        object_only: bool,
        /// An integer's visitor: a JSON number with nothing after the point (`1755.0`) is
        /// the whole number it equals. JSON has one number type, and JSON Schema's
        /// `integer` (what the API description promises) includes `1755.0`.
        whole: bool,
    }

    impl<'s, V> Wrap<'s, V> {
        fn new(inner: V, enums: &'s FailedEnum, object_only: bool) -> Self {
            Wrap {
                inner,
                enums,
                object_only,
                whole: false,
            }
        }

        fn whole(inner: V, enums: &'s FailedEnum) -> Self {
            Wrap {
                whole: true,
                ..Wrap::new(inner, enums, false)
            }
        }
    }

    /// A whole number read from a JSON number written with a point.
    enum Whole {
        Unsigned(u64),
        Signed(i64),
    }

    /// `v` as the whole number it equals, below 2^53 in size, where every whole number is
    /// exact as an f64: from 2^53 on, `9007199254740993.0` would silently read as `…992`. (Within
    /// it, a number is what JSON's double precision makes of its text, RFC 8259 §6:
    /// `4.9999999999999999` is 5.)
    fn as_whole(v: f64) -> Option<Whole> {
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if !v.is_finite() || v.fract() != 0.0 || v.abs() >= EXACT {
            None
        } else if v >= 0.0 {
            Some(Whole::Unsigned(v as u64))
        } else {
            Some(Whole::Signed(v as i64))
        }
    }

    macro_rules! forward_deserialize {
        ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
            fn $method<V: Visitor<'de>>(
                self,
                $($arg: $ty,)*
                visitor: V,
            ) -> Result<V::Value, Self::Error> {
                self.de.$method($($arg,)* Wrap::new(visitor, self.enums, false))
            }
        )*};
    }

    macro_rules! forward_deserialize_integer {
        ($($method:ident;)*) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.de.$method(Wrap::whole(visitor, self.enums))
            }
        )*};
    }

    impl<'de, 's, D: Deserializer<'de>> Deserializer<'de> for Strict<'s, D> {
        type Error = D::Error;

        forward_deserialize_integer! {
            deserialize_i8;
            deserialize_i16;
            deserialize_i32;
            deserialize_i64;
            deserialize_i128;
            deserialize_u8;
            deserialize_u16;
            deserialize_u32;
            deserialize_u64;
            deserialize_u128;
        }

        forward_deserialize! {
            deserialize_any();
            deserialize_bool();
            deserialize_f32();
            deserialize_f64();
            deserialize_char();
            deserialize_str();
            deserialize_string();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_option();
            deserialize_unit();
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_identifier();
            deserialize_ignored_any();
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.de
                .deserialize_struct(name, fields, Wrap::new(visitor, self.enums, true))
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let enums = self.enums;
            self.de
                .deserialize_enum(name, variants, Wrap::new(visitor, enums, false))
                .inspect_err(|_| {
                    if enums.get().is_none() {
                        enums.set(Some(variants));
                    }
                })
        }

        fn is_human_readable(&self) -> bool {
            self.de.is_human_readable()
        }
    }

    macro_rules! forward_visit {
        ($($method:ident($ty:ty);)*) => {$(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*};
    }

    impl<'de, 's, V: Visitor<'de>> Visitor<'de> for Wrap<'s, V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.expecting(f)
        }

        forward_visit! {
            visit_bool(bool);
            visit_i8(i8);
            visit_i16(i16);
            visit_i32(i32);
            visit_i64(i64);
            visit_i128(i128);
            visit_u8(u8);
            visit_u16(u16);
            visit_u32(u32);
            visit_u64(u64);
            visit_u128(u128);
            visit_f32(f32);
            visit_char(char);
            visit_str(&str);
            visit_borrowed_str(&'de str);
            visit_string(String);
            visit_bytes(&[u8]);
            visit_borrowed_bytes(&'de [u8]);
            visit_byte_buf(Vec<u8>);
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            match as_whole(v).filter(|_| self.whole) {
                Some(Whole::Unsigned(n)) => self.inner.visit_u64(n),
                Some(Whole::Signed(n)) => self.inner.visit_i64(n),
                None => self.inner.visit_f64(v),
            }
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_none()
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_unit()
        }

        fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
            self.inner.visit_some(Strict::new(de, self.enums))
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(
            self,
            de: D,
        ) -> Result<Self::Value, D::Error> {
            self.inner.visit_newtype_struct(Strict::new(de, self.enums))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            if self.object_only {
                return Err(de::Error::invalid_type(Unexpected::Seq, &self));
            }
            let enums = self.enums;
            self.inner.visit_seq(Access { inner: seq, enums })
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let enums = self.enums;
            self.inner.visit_map(Access { inner: map, enums })
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            let enums = self.enums;
            self.inner.visit_enum(Access { inner: data, enums })
        }
    }

    /// A seed that reads its value through [`Strict`].
    struct Seed<'s, S> {
        inner: S,
        enums: &'s FailedEnum,
    }

    impl<'de, 's, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'s, S> {
        type Value = S::Value;

        fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
            self.inner.deserialize(Strict::new(de, self.enums))
        }
    }

    /// A list, object, enum or variant whose values are read through [`Strict`].
    struct Access<'s, A> {
        inner: A,
        enums: &'s FailedEnum,
    }

    impl<'s, A> Access<'s, A> {
        fn seed<S>(&self, inner: S) -> Seed<'s, S> {
            Seed {
                inner,
                enums: self.enums,
            }
        }
    }

    impl<'de, 's, A: SeqAccess<'de>> SeqAccess<'de> for Access<'s, A> {
        type Error = A::Error;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Self::Error> {
            let seed = self.seed(seed);
            self.inner.next_element_seed(seed)
        }

        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, 's, A: MapAccess<'de>> MapAccess<'de> for Access<'s, A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Self::Error> {
            let seed = self.seed(seed);
            self.inner.next_key_seed(seed)
        }

        fn next_value_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<T::Value, Self::Error> {
            let seed = self.seed(seed);
            self.inner.next_value_seed(seed)
        }

        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, 's, A: EnumAccess<'de>> EnumAccess<'de> for Access<'s, A> {
        type Error = A::Error;
        type Variant = Access<'s, A::Variant>;

        fn variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<(T::Value, Self::Variant), Self::Error> {
            let enums = self.enums;
            let (value, variant) = self.inner.variant_seed(Seed { inner: seed, enums })?;
            Ok((
                value,
                Access {
                    inner: variant,
                    enums,
                },
            ))
        }
    }

    impl<'de, 's, A: VariantAccess<'de>> VariantAccess<'de> for Access<'s, A> {
        type Error = A::Error;

        fn unit_variant(self) -> Result<(), Self::Error> {
            self.inner.unit_variant()
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, Self::Error> {
            let seed = self.seed(seed);
            self.inner.newtype_variant_seed(seed)
        }

        fn tuple_variant<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.inner
                .tuple_variant(len, Wrap::new(visitor, self.enums, false))
        }

        fn struct_variant<V: Visitor<'de>>(
            self,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.inner
                .struct_variant(fields, Wrap::new(visitor, self.enums, true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Profile {
        display_name: String,
        home: Home,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Home {
        lat: f64,
    }

    fn err_of(body: &str) -> ApiError {
        parse_json::<Profile>(body.as_bytes()).expect_err("should fail")
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        match err_of(r#"{"display_name":"a","home":{"lat":"north"}}"#) {
            ApiError::Invalid { field, .. } => assert_eq!(field, "home.lat"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        match err_of(r#"{"display_name":"a","home":{"lat":1},"admin":true}"#) {
            ApiError::Invalid { field, message } => {
                assert_eq!(field, "admin", "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_field_is_named() {
        match err_of(r#"{"home":{"lat":1}}"#) {
            ApiError::Invalid { field, .. } => assert_eq!(field, "display_name"),
            other => panic!("{other:?}"),
        }
    }

    fn post(body: &str, content_type: &str, query: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /v1/things",
            "rawPath": "/v1/things",
            "rawQueryString": query,
            "headers": {"content-type": content_type},
            "requestContext": {"http": {"method": "POST", "path": "/v1/things"}, "requestId": "r-1"},
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("event")
    }

    #[test]
    fn a_body_over_the_limit_is_413_before_it_is_parsed() {
        let req = post(
            &format!(r#"{{"display_name":"{}"}}"#, "a".repeat(200)),
            "application/json",
            "",
        );
        assert!(matches!(
            json_body_limited::<Profile>(&req, 100),
            Err(ApiError::PayloadTooLarge { limit: 100 })
        ));
    }

    #[test]
    fn a_body_in_another_media_type_is_415_and_an_empty_one_400() {
        assert!(matches!(
            json_body::<Profile>(&post("{}", "text/plain", "")),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            json_body::<Profile>(&post("", "application/json; charset=utf-8", "")),
            Err(ApiError::BadRequest {
                code: "missing_body",
                ..
            })
        ));
    }

    #[test]
    fn query_parameters_parse_or_name_themselves() {
        let req = post("", "application/json", "limit=20&radius_km=north");
        assert_eq!(query_param::<u32>(&req, "limit").expect("reads"), Some(20));
        assert_eq!(query_param::<u32>(&req, "cursor").expect("absent"), None);
        match query_param::<f64>(&req, "radius_km") {
            Err(ApiError::BadRequest { field, .. }) => {
                assert_eq!(field.as_deref(), Some("radius_km"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_caller_comes_from_the_authorizer_claims_or_is_401() {
        assert!(matches!(
            caller(&post("", "application/json", "")),
            Err(ApiError::Unauthorized(_))
        ));
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "GET /v1/users/me", "rawPath": "/v1/users/me", "rawQueryString": "",
            "headers": {},
            "requestContext": {"http": {"method": "GET", "path": "/v1/users/me"}, "requestId": "r-2",
                "authorizer": {"jwt": {"claims": {"sub": "user-7", "sid": "s-1", "jti": "t-1"}, "scopes": null}}},
            "isBase64Encoded": false
        });
        let req = lambda_http::request::from_str(&event.to_string()).expect("event");
        assert_eq!(
            caller(&req).expect("caller"),
            Caller {
                user_id: "user-7".into(),
                session_id: Some("s-1".into()),
                token_id: Some("t-1".into())
            }
        );
        assert_eq!(request_id(&req), "r-2");
        assert_eq!(route_key(&req), "GET /v1/users/me");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        #[serde(default)]
        units: Option<Units>,
        #[serde(default)]
        limit: Option<u64>,
        #[serde(default)]
        stops: Vec<Home>,
        #[serde(default)]
        pair: Option<(f64, f64)>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Units {
        Metric,
        Imperial,
    }

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (String, String) {
        match parse_json::<T>(body.as_bytes()) {
            Err(ApiError::Invalid { field, message }) => (field, message),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_json_array_is_never_read_as_a_struct() {
        assert_eq!(
            refusal::<Profile>(r#"["Mallory",{"lat":1}]"#),
            ("body".into(), "expected an object, got a list".into())
        );
        assert_eq!(
            refusal::<Profile>(r#"{"display_name":"a","home":[1]}"#),
            ("home".into(), "expected an object, got a list".into())
        );
        // inside a list and an option too
        assert_eq!(
            refusal::<Settings>(r#"{"stops":[{"lat":1},[2]]}"#).0,
            "stops[1]"
        );
        // while real lists still read
        let settings: Settings =
            parse_json(br#"{"stops":[{"lat":1}],"pair":[1,2],"units":"metric"}"#).expect("reads");
        assert_eq!(settings.stops.len(), 1);
    }

    #[test]
    fn a_whole_number_written_with_a_point_is_that_number() {
        let settings: Settings = parse_json(br#"{"limit":1755.0}"#).expect("reads");
        assert_eq!(settings.limit, Some(1755));
        let settings: Settings = parse_json(br#"{"limit":1.755e3}"#).expect("reads");
        assert_eq!(settings.limit, Some(1755));
        // a float field keeps its fraction, and a fraction is still no whole number
        let settings: Settings = parse_json(br#"{"pair":[1.0,2.5]}"#).expect("reads");
        assert_eq!(settings.pair, Some((1.0, 2.5)));
        assert_eq!(
            refusal::<Settings>(r#"{"limit":1755.5}"#),
            (
                "limit".into(),
                "expected a whole number of 0 or more, got 1755.5".into()
            )
        );
        assert_eq!(refusal::<Settings>(r#"{"limit":-3.0}"#).0, "limit");
        assert_eq!(refusal::<Settings>(r#"{"limit":1e20}"#).0, "limit");
        // past 2^53 a number with a point is not exact, so it is no whole number either
        assert_eq!(
            refusal::<Settings>(r#"{"limit":9007199254740993.0}"#).0,
            "limit"
        );
    }

    #[test]
    fn messages_speak_json_not_rust() {
        let cases: [(&str, &str, &str); 8] = [
            (
                r#"{"limit":"x"}"#,
                "limit",
                r#"expected a whole number of 0 or more, got "x""#,
            ),
            (
                r#"{"limit":-1}"#,
                "limit",
                "expected a whole number of 0 or more, got -1",
            ),
            (
                r#"{"limit":1.5}"#,
                "limit",
                "expected a whole number of 0 or more, got 1.5",
            ),
            (
                r#"{"stops":[{"lat":"north"}]}"#,
                "stops[0].lat",
                r#"expected a number, got "north""#,
            ),
            (r#"{"stops":{}}"#, "stops", "expected a list, got an object"),
            (
                r#"{"pair":[1]}"#,
                "pair",
                "expected a list of 2 items, got 1",
            ),
            (
                r#"{"units":"parsecs"}"#,
                "units",
                r#"expected one of `metric`, `imperial`, got "parsecs""#,
            ),
            (
                r#"{"units":{"metric":1}}"#,
                "units.metric",
                "expected one of `metric`, `imperial`, got 1",
            ),
        ];
        for (body, field, message) in cases {
            assert_eq!(
                refusal::<Settings>(body),
                (field.into(), message.into()),
                "{body}"
            );
        }
        for body in [
            r#"{"limit":"x"}"#,
            r#"[1]"#,
            r#"{"units":true}"#,
            r#"{"stops":[1]}"#,
        ] {
            let (_, message) = refusal::<Settings>(body);
            for rust in [
                "struct", "u64", "f64", "enum", "Settings", "Units", "Home", "sequence",
            ] {
                assert!(!message.contains(rust), "{body}: {message}");
            }
        }
    }

    #[test]
    fn a_number_where_a_name_belongs_is_a_422_naming_the_field() {
        for body in [r#"{"units":1}"#, r#"{"units":["metric"]}"#] {
            assert_eq!(
                refusal::<Settings>(body),
                (
                    "units".into(),
                    "expected one of `metric`, `imperial`".into()
                ),
                "{body}"
            );
        }
        // while text that is not JSON stays a 400
        assert!(matches!(
            parse_json::<Settings>(br#"{"units": }"#),
            Err(ApiError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
    }

    #[test]
    fn a_long_bad_value_is_echoed_short() {
        let long = "x".repeat(60 * 1024);
        let (_, message) = refusal::<Settings>(&format!(r#"{{"limit":"{long}"}}"#));
        assert!(message.chars().count() < 200, "{} chars", message.len());
        assert!(message.ends_with("…\""), "{message}");
        let (field, message) = refusal::<Settings>(&format!(r#"{{"{long}":1}}"#));
        assert!(
            field.chars().count() <= ECHO_LIMIT + 1,
            "{} chars",
            field.len()
        );
        assert!(message.len() < 200);
        let (_, message) = refusal::<Settings>(&format!(r#"{{"units":"{long}"}}"#));
        assert!(message.chars().count() < 200, "{} chars", message.len());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_at_the_top() {
        for (body, got) in [
            (r#"["Mallory","bio"]"#, "a list"),
            ("42", "a number"),
            (r#""Mallory""#, "a string"),
            ("null", "null"),
        ] {
            match json_body::<serde_json::Value>(&post(body, "application/json", "")) {
                Err(ApiError::Invalid { field, message }) => {
                    assert_eq!(field, "body");
                    assert_eq!(message, format!("expected an object, got {got}"));
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        assert!(
            json_body::<serde_json::Value>(&post(r#" {"a":1}"#, "application/json", "")).is_ok()
        );
    }

    #[test]
    fn broken_json_is_a_400() {
        assert!(matches!(
            err_of(r#"{"display_name": "#),
            ApiError::BadRequest {
                code: "malformed_json",
                ..
            }
        ));
    }
}
