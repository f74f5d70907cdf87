//! Reads template.yaml into what the local gateway needs: the HTTP routes and the binary
//! behind each, which authorizer guards them, the CORS configuration and the throttling.
//!
//! Only the intrinsics the template uses in those places are resolved (`Ref` to
//! parameters, `If`/`Equals` on conditions, `Sub` with parameters, `Join`, `Split`);
//! anything else there is an error rather than a silent guess.

use std::collections::HashMap;

use serde_norway::{Mapping, Value};

/// Why the template cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Not YAML at all; the parser's message says where.
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(String),
    /// YAML, but not a template we can serve.
    #[error("template.yaml: {0}")]
    Shape(String),
}

fn shape(message: impl Into<String>) -> TemplateError {
    TemplateError::Shape(message.into())
}

/// One HTTP route: `GET /v1/courses/{courseId}` served by a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// API Gateway path syntax (`{param}`, `{proxy+}`).
    pub path: String,
    /// The function's logical id in the template.
    pub function: String,
    /// The cargo-lambda `Binary` that serves it.
    pub binary: String,
    /// The authorizer's name, `None` for `Authorizer: NONE`.
    pub authorizer: Option<String>,
}

impl RouteSpec {
    /// API Gateway's route key, `METHOD /path`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A JWT authorizer as API Gateway configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizerSpec {
    /// The exact `iss` expected.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audience: Vec<String>,
    /// The header that carries the token (lower-case).
    pub header: String,
}

/// The API's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSpec {
    /// Exact origins (or `*`).
    pub allow_origins: Vec<String>,
    /// Methods answered in preflight.
    pub allow_methods: Vec<String>,
    /// Request headers allowed (lower-case).
    pub allow_headers: Vec<String>,
    /// Response headers scripts may read (`Access-Control-Expose-Headers`).
    pub expose_headers: Vec<String>,
    /// Whether browsers may send credentials cross-origin. Browsers refuse `*` with
    /// credentials, so then a `*` configuration answers with the request's own origin.
    pub allow_credentials: bool,
    /// Preflight cache seconds.
    pub max_age: Option<u64>,
}

/// Route throttling: steady rate and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleSpec {
    /// Requests per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: f64,
}

/// An S3 notification of a function: which bucket events under which key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3TriggerSpec {
    /// Logical id of the function.
    pub function: String,
    /// Its cargo-lambda binary.
    pub binary: String,
    /// Event patterns, e.g. `s3:ObjectCreated:*`.
    pub events: Vec<String>,
    /// The key prefix filter, if any.
    pub prefix: Option<String>,
}

impl S3TriggerSpec {
    /// Whether a new object at `key` raises this notification.
    pub fn matches_created(&self, key: &str) -> bool {
        let created = self
            .events
            .iter()
            .any(|e| e == "s3:ObjectCreated:*" || e == "s3:ObjectCreated:Put");
        created && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
    }
}

/// Everything the local gateway serves from template.yaml.
#[derive(Debug, Clone, Default)]
pub struct ApiSpec {
    /// HTTP routes, sorted by path, then method.
    pub routes: Vec<RouteSpec>,
    /// Binaries of every function in the template (HTTP or not).
    pub binaries: Vec<String>,
    /// CORS, when configured.
    pub cors: Option<CorsSpec>,
    /// JWT authorizers by name.
    pub authorizers: HashMap<String, JwtAuthorizerSpec>,
    /// The throttling of every route without its own entry in `route_throttles`.
    pub default_throttle: Option<ThrottleSpec>,
    /// Per-route throttling by route key (`POST /v1/auth/login`), over the default.
    pub route_throttles: HashMap<String, ThrottleSpec>,
    /// S3 notifications into functions; the filesystem blobs raise them on every stored file.
    pub s3_triggers: Vec<S3TriggerSpec>,
    /// Consumers of the table's stream (`Type: DynamoDB` events), in template order.
    pub stream_triggers: Vec<StreamTriggerSpec>,
    /// The SQS queues (`AWS::SQS::Queue`), in template order.
    pub queues: Vec<QueueSpec>,
    /// Consumers of queues (`Type: SQS` events), in template order.
    pub queue_triggers: Vec<QueueTriggerSpec>,
    /// Schedules of functions (`Type: ScheduleV2` events), in template order.
    pub schedules: Vec<ScheduleSpec>,
}

/// An SQS queue of the template, with the settings its consumers' delivery honours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue's logical id (`PushQueue`).
    pub logical_id: String,
    /// How long a received message stays hidden, seconds (`VisibilityTimeout`, 30 by
    /// default as on AWS).
    pub visibility_timeout_seconds: u64,
    /// Receives before SQS moves a message to the dead-letter queue
    /// (`RedrivePolicy.maxReceiveCount`); `None` without a redrive policy.
    pub max_receive_count: Option<u32>,
    /// The dead-letter queue's logical id (`RedrivePolicy.deadLetterTargetArn`).
    pub dead_letter_queue: Option<String>,
}

/// A function fed by an SQS queue (`Type: SQS` event), with the event source mapping's
/// settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTriggerSpec {
    /// Logical id of the function.
    pub function: String,
    /// Its cargo-lambda binary.
    pub binary: String,
    /// The queue's logical id (from `Queue: !GetAtt <Queue>.Arn`).
    pub queue: String,
    /// The most messages per invocation (`BatchSize`, 10 by default as on AWS).
    pub batch_size: usize,
    /// The most concurrent invocations (`ScalingConfig.MaximumConcurrency`); `None` leaves
    /// it to Lambda.
    pub max_concurrency: Option<u32>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: without it Lambda ignores the
    /// failures a function reports and deletes the whole batch.
    pub report_batch_item_failures: bool,
}

/// A schedule of a function (`Type: ScheduleV2` event, EventBridge Scheduler).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// Logical id of the function.
    pub function: String,
    /// Its cargo-lambda binary.
    pub binary: String,
    /// The event's name under the function's `Events`.
    pub event: String,
    /// `rate(...)`, `cron(...)` or `at(...)`, as written.
    pub expression: String,
    /// The JSON the scheduler invokes the function with (`Input`); `None` without one.
    pub input: Option<serde_json::Value>,
    /// Retries of a failed invocation (`RetryPolicy.MaximumRetryAttempts`, 185 by default).
    pub max_retries: u32,
    /// Whether the schedule fires (`State`, ENABLED by default).
    pub enabled: bool,
}

/// A function fed by the table's stream, with the event source's settings the local
/// gateway honours.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamTriggerSpec {
    /// Logical id of the function.
    pub function: String,
    /// Its cargo-lambda binary.
    pub binary: String,
    /// The most records per invocation (`BatchSize`, 100 by default as on AWS).
    pub batch_size: usize,
    /// Retries of a failing record before it is handed to the failure destination
    /// (`MaximumRetryAttempts`).
    pub max_retries: usize,
    /// `FilterCriteria` patterns: a record reaches the function when any matches
    /// ([`crate::streams::matches`]); none means every record.
    pub filters: Vec<serde_json::Value>,
}

/// What a template value evaluates to: conditions need booleans, and list parameters and
/// `!Split` give lists that `!Join` and list fields take.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
    Bool(bool),
}

impl Resolved {
    fn text(self, what: &str) -> Result<String, TemplateError> {
        match self {
            Resolved::Text(t) => Ok(t),
            Resolved::Bool(b) => Ok(b.to_string()),
            Resolved::List(_) => Err(shape(format!("{what} must be a single value"))),
        }
    }

    fn list(self) -> Vec<String> {
        match self {
            Resolved::Text(t) => vec![t],
            Resolved::Bool(b) => vec![b.to_string()],
            Resolved::List(l) => l,
        }
    }
}

/// How deep conditions may refer to other conditions before the template is refused.
const MAX_CONDITION_DEPTH: usize = 16;

struct Resolver<'a> {
    params: HashMap<String, Resolved>,
    conditions: Option<&'a Value>,
    /// Conditions being resolved right now, through `!Condition`.
    condition_depth: std::cell::Cell<usize>,
}

impl Resolver<'_> {
    fn resolve(&self, value: &Value) -> Result<Resolved, TemplateError> {
        match value {
            Value::String(s) => Ok(Resolved::Text(s.clone())),
            Value::Bool(b) => Ok(Resolved::Bool(*b)),
            Value::Number(n) => Ok(Resolved::Text(n.to_string())),
            Value::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.resolve(item)?.list());
                }
                Ok(Resolved::List(out))
            }
            Value::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &tagged.value)
            }
            Value::Mapping(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().expect("one entry");
                match k.as_str() {
                    Some("Ref") => self.intrinsic("Ref", v),
                    Some(name) if name.starts_with("Fn::") => self.intrinsic(&name[4..], v),
                    _ => Err(shape("a mapping where a value was expected")),
                }
            }
            _ => Err(shape("a value the local gateway cannot resolve")),
        }
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<Resolved, TemplateError> {
        match name {
            "Ref" => {
                let param = arg.as_str().ok_or_else(|| shape("!Ref needs a name"))?;
                self.params.get(param).cloned().ok_or_else(|| {
                    shape(format!(
                        "!Ref {param} is not a parameter the local gateway knows"
                    ))
                })
            }
            "Sub" => {
                let text = arg.as_str().ok_or_else(|| shape("!Sub needs a string"))?;
                let mut out = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| shape("unclosed ${ in !Sub"))?
                        + start;
                    let name = &rest[start + 2..end];
                    let value = self.params.get(name).cloned().ok_or_else(|| {
                        shape(format!(
                            "!Sub ${{{name}}} is not a parameter the local gateway knows"
                        ))
                    })?;
                    out.push_str(&value.text(name)?);
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                Ok(Resolved::Text(out))
            }
            "Join" => {
                let parts = arg
                    .as_sequence()
                    .filter(|s| s.len() == 2)
                    .ok_or_else(|| shape("!Join needs [sep, list]"))?;
                let sep = parts[0].as_str().unwrap_or("");
                Ok(Resolved::Text(self.resolve(&parts[1])?.list().join(sep)))
            }
            "Split" => {
                let parts = arg
                    .as_sequence()
                    .filter(|s| s.len() == 2)
                    .ok_or_else(|| shape("!Split needs [sep, text]"))?;
                let sep = parts[0].as_str().unwrap_or(",");
                let text = self.resolve(&parts[1])?.text("!Split")?;
                Ok(Resolved::List(text.split(sep).map(str::to_owned).collect()))
            }
            "If" => {
                let parts = arg
                    .as_sequence()
                    .filter(|s| s.len() == 3)
                    .ok_or_else(|| shape("!If needs [cond, a, b]"))?;
                let cond = parts[0]
                    .as_str()
                    .ok_or_else(|| shape("!If needs a condition name"))?;
                if self.condition(cond)? {
                    self.resolve(&parts[1])
                } else {
                    self.resolve(&parts[2])
                }
            }
            "Equals" => {
                let parts = arg
                    .as_sequence()
                    .filter(|s| s.len() == 2)
                    .ok_or_else(|| shape("!Equals needs two values"))?;
                Ok(Resolved::Bool(
                    self.resolve(&parts[0])? == self.resolve(&parts[1])?,
                ))
            }
            "Condition" => {
                let name = arg
                    .as_str()
                    .ok_or_else(|| shape("!Condition needs a condition name"))?;
                Ok(Resolved::Bool(self.condition(name)?))
            }
            "Not" => {
                let inner = arg
                    .as_sequence()
                    .filter(|s| s.len() == 1)
                    .ok_or_else(|| shape("!Not needs [condition]"))?;
                match self.resolve(&inner[0])? {
                    Resolved::Bool(b) => Ok(Resolved::Bool(!b)),
                    _ => Err(shape("!Not needs a boolean")),
                }
            }
            other => Err(shape(format!(
                "!{other} is not supported by the local gateway here"
            ))),
        }
    }

    fn condition(&self, name: &str) -> Result<bool, TemplateError> {
        let value = self
            .conditions
            .and_then(|c| c.get(name))
            .ok_or_else(|| shape(format!("condition {name} is not defined")))?;
        // A condition naming itself through others would recurse forever.
        let depth = self.condition_depth.get();
        if depth >= MAX_CONDITION_DEPTH {
            return Err(shape(format!(
                "condition {name} refers to conditions more than {MAX_CONDITION_DEPTH} deep (a cycle?)"
            )));
        }
        self.condition_depth.set(depth + 1);
        let resolved = self.resolve(value);
        self.condition_depth.set(depth);
        match resolved? {
            Resolved::Bool(b) => Ok(b),
            _ => Err(shape(format!("condition {name} is not a boolean"))),
        }
    }
}

/// Parses `text` with parameter `overrides` (name → value; a list parameter takes a
/// comma-separated value) over the template's defaults.
pub fn parse(text: &str, overrides: &HashMap<String, String>) -> Result<ApiSpec, TemplateError> {
    let doc: Value =
        serde_norway::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
    let resolver = Resolver {
        params: parameters(&doc, overrides),
        conditions: doc.get("Conditions"),
        condition_depth: std::cell::Cell::new(0),
    };
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| shape("no Resources"))?;
    let mut spec = ApiSpec::default();
    // Every HttpApi is read before any function, so a route can name an authorizer declared
    // further down the template.
    let default_authorizer = read_http_apis(&resolver, resources, &mut spec)?;
    read_functions(
        &resolver,
        resources,
        default_authorizer.as_deref(),
        &mut spec,
    )?;
    spec.routes
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.method.cmp(&b.method)));
    spec.queues = read_queues(resources)?;
    Ok(spec)
}

/// Stand-ins for the pseudo parameters AWS fills in, so a `!Sub` of an ARN or a domain
/// still resolves on a laptop.
const PSEUDO_PARAMETERS: [(&str, &str); 4] = [
    ("AWS::Region", "local"),
    ("AWS::AccountId", "000000000000"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "localhost"),
];

/// The values `!Ref` and `!Sub` see: each declared parameter's override or default, then the
/// pseudo parameters. A parameter with neither stays out, so a reference to it fails by
/// name instead of resolving to a guess.
fn parameters(doc: &Value, overrides: &HashMap<String, String>) -> HashMap<String, Resolved> {
    let mut params = HashMap::new();
    if let Some(Value::Mapping(declared)) = doc.get("Parameters") {
        for (name, decl) in declared {
            let Some(name) = name.as_str() else { continue };
            if let Some(value) = parameter_value(decl, overrides.get(name)) {
                params.insert(name.to_owned(), value);
            }
        }
    }
    for (pseudo, value) in PSEUDO_PARAMETERS {
        params
            .entry(pseudo.to_owned())
            .or_insert_with(|| Resolved::Text(value.to_owned()));
    }
    params
}

/// One parameter's value from its override, else its `Default`. A `List` type splits on
/// commas as CloudFormation does, so `AllowOrigins: !Ref Origins` becomes a list.
fn parameter_value(decl: &Value, overridden: Option<&String>) -> Option<Resolved> {
    let is_list = decl
        .get("Type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("List"));
    let raw = overridden.cloned().or_else(|| match decl.get("Default") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })?;
    Some(if is_list {
        Resolved::List(
            raw.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    } else {
        Resolved::Text(raw)
    })
}

/// The resources of one `Type`, with their logical ids, in template order (which decides
/// the order of `ApiSpec::binaries` and which of two HttpApis' settings win).
fn resources_of_type<'a>(
    resources: &'a Mapping,
    kind: &'a str,
) -> impl Iterator<Item = (&'a Value, &'a Value)> {
    resources
        .iter()
        .filter(move |(_, resource)| resource.get("Type").and_then(Value::as_str) == Some(kind))
}

/// Reads the CORS, authorizers and throttling of every HttpApi into `spec`, and returns the
/// default authorizer that routes without their own `Auth` fall back to. With several
/// HttpApis, the last one that sets a value wins, and authorizers of all of them are kept.
fn read_http_apis(
    resolver: &Resolver<'_>,
    resources: &Mapping,
    spec: &mut ApiSpec,
) -> Result<Option<String>, TemplateError> {
    let mut default_authorizer = None;
    for (_, resource) in resources_of_type(resources, "AWS::Serverless::HttpApi") {
        let Some(props) = resource.get("Properties") else {
            continue;
        };
        if let Some(cors) = props.get("CorsConfiguration") {
            spec.cors = Some(cors_spec(resolver, cors)?);
        }
        if let Some(auth) = props.get("Auth") {
            default_authorizer = auth
                .get("DefaultAuthorizer")
                .and_then(Value::as_str)
                .map(str::to_owned);
            read_authorizers(resolver, auth, &mut spec.authorizers)?;
        }
        if let Some(settings) = props.get("DefaultRouteSettings") {
            spec.default_throttle = throttle_spec(resolver, settings)?;
        }
        if let Some(Value::Mapping(routes)) = props.get("RouteSettings") {
            for (key, settings) in routes {
                if let (Some(key), Some(t)) = (key.as_str(), throttle_spec(resolver, settings)?) {
                    spec.route_throttles.insert(key.to_owned(), t);
                }
            }
        }
    }
    Ok(default_authorizer)
}

/// An HttpApi's `CorsConfiguration`, normalised the way the gateway compares it: methods
/// upper-case, headers lower-case (request header names arrive in any case).
fn cors_spec(resolver: &Resolver<'_>, cors: &Value) -> Result<CorsSpec, TemplateError> {
    let list = |name: &str| -> Result<Vec<String>, TemplateError> {
        cors.get(name)
            .map(|v| resolver.resolve(v).map(Resolved::list))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(CorsSpec {
        allow_origins: list("AllowOrigins")?,
        allow_methods: list("AllowMethods")?
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        allow_headers: list("AllowHeaders")?
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: list("ExposeHeaders")?,
        allow_credentials: match cors.get("AllowCredentials") {
            None => false,
            Some(v) => resolver.resolve(v)?.text("AllowCredentials")? == "true",
        },
        max_age: cors
            .get("MaxAge")
            .map(|v| resolver.resolve(v).and_then(|r| r.text("MaxAge")))
            .transpose()?
            .and_then(|t| t.parse().ok()),
    })
}

/// Adds the JWT authorizers of an HttpApi's `Auth` to `authorizers`, by name. Authorizers of
/// other kinds are skipped: the local gateway emulates only the JWT one.
fn read_authorizers(
    resolver: &Resolver<'_>,
    auth: &Value,
    authorizers: &mut HashMap<String, JwtAuthorizerSpec>,
) -> Result<(), TemplateError> {
    let Some(Value::Mapping(declared)) = auth.get("Authorizers") else {
        return Ok(());
    };
    for (name, def) in declared {
        let Some(name) = name.as_str() else { continue };
        if let Some(jwt) = jwt_authorizer(resolver, def)? {
            authorizers.insert(name.to_owned(), jwt);
        }
    }
    Ok(())
}

/// One authorizer definition, `None` when it has no `JwtConfiguration`. Issuer and audience
/// are required, as API Gateway requires them; the token header defaults to Authorization.
fn jwt_authorizer(
    resolver: &Resolver<'_>,
    def: &Value,
) -> Result<Option<JwtAuthorizerSpec>, TemplateError> {
    let Some(jwt) = def.get("JwtConfiguration") else {
        return Ok(None);
    };
    let issuer = resolver
        .resolve(
            jwt.get("issuer")
                .ok_or_else(|| shape("JWT authorizer without issuer"))?,
        )?
        .text("issuer")?;
    let audience = resolver
        .resolve(
            jwt.get("audience")
                .ok_or_else(|| shape("JWT authorizer without audience"))?,
        )?
        .list();
    let source = def
        .get("IdentitySource")
        .and_then(Value::as_str)
        .unwrap_or("$request.header.Authorization");
    let header = source
        .strip_prefix("$request.header.")
        .unwrap_or("Authorization")
        .to_ascii_lowercase();
    Ok(Some(JwtAuthorizerSpec {
        issuer,
        audience,
        header,
    }))
}

/// The throttling of a route-settings block. A rate without a burst gets a burst of the
/// rate; a burst alone, or neither, is no throttling.
fn throttle_spec(
    resolver: &Resolver<'_>,
    settings: &Value,
) -> Result<Option<ThrottleSpec>, TemplateError> {
    let number = |name: &str| -> Result<Option<f64>, TemplateError> {
        settings
            .get(name)
            .map(|v| resolver.resolve(v).and_then(|r| r.text(name)))
            .transpose()
            .map(|t| t.and_then(|t| t.parse().ok()))
    };
    Ok(
        match (
            number("ThrottlingRateLimit")?,
            number("ThrottlingBurstLimit")?,
        ) {
            (Some(rate), Some(burst)) => Some(ThrottleSpec { rate, burst }),
            (Some(rate), None) => Some(ThrottleSpec { rate, burst: rate }),
            _ => None,
        },
    )
}

/// Reads every function's binary into `spec.binaries` (HTTP or not: the registry check
/// compares them all) and its `HttpApi`, `S3`, `DynamoDB`, `SQS` and `ScheduleV2` events
/// into routes, triggers and schedules. Other event types are not the gateway's to serve.
fn read_functions(
    resolver: &Resolver<'_>,
    resources: &Mapping,
    default_authorizer: Option<&str>,
    spec: &mut ApiSpec,
) -> Result<(), TemplateError> {
    for (logical_id, resource) in resources_of_type(resources, "AWS::Serverless::Function") {
        let logical_id = logical_id.as_str().unwrap_or_default();
        let binary = function_binary(logical_id, resource)?;
        spec.binaries.push(binary.clone());
        // A function whose `Condition` is false is not deployed: its binary still exists
        // (the registry check stays the same in every stage), its events do not.
        match resource.get("Condition") {
            None => {}
            Some(Value::String(condition)) if !resolver.condition(condition)? => continue,
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(shape(format!(
                    "{logical_id}: Condition must name a condition"
                )));
            }
        }
        let Some(Value::Mapping(events)) = resource.get("Properties").and_then(|p| p.get("Events"))
        else {
            continue;
        };
        for (event_name, event) in events {
            match event.get("Type").and_then(Value::as_str) {
                Some("S3") => {
                    spec.s3_triggers
                        .push(s3_trigger(logical_id, &binary, event.get("Properties"))?)
                }
                Some("DynamoDB") => spec.stream_triggers.push(stream_trigger(
                    logical_id,
                    &binary,
                    event.get("Properties"),
                )?),
                Some("SQS") => spec.queue_triggers.push(queue_trigger(
                    logical_id,
                    &binary,
                    event.get("Properties"),
                )?),
                Some("ScheduleV2") => spec.schedules.push(schedule(
                    logical_id,
                    &binary,
                    event_name.as_str().unwrap_or_default(),
                    event.get("Properties"),
                )?),
                Some("HttpApi") => {
                    let route = http_route(
                        logical_id,
                        &binary,
                        event,
                        default_authorizer,
                        &spec.authorizers,
                    )?;
                    spec.routes.push(route);
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The cargo-lambda `Binary` a function is built as: the name the handler registry knows
/// it by, so a function without one cannot be served.
fn function_binary(logical_id: &str, resource: &Value) -> Result<String, TemplateError> {
    resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            shape(format!(
                "{logical_id} has no Metadata.BuildProperties.Binary"
            ))
        })
}

/// The route of one `HttpApi` event. Its authorizer is its own `Auth.Authorizer`, none for
/// `NONE`, else the API's default; naming one the HttpApi does not define is an error, so
/// a typo cannot leave a route open.
fn http_route(
    logical_id: &str,
    binary: &str,
    event: &Value,
    default_authorizer: Option<&str>,
    authorizers: &HashMap<String, JwtAuthorizerSpec>,
) -> Result<RouteSpec, TemplateError> {
    let props = event
        .get("Properties")
        .ok_or_else(|| shape(format!("{logical_id}: HttpApi event without Properties")))?;
    let path = props
        .get("Path")
        .and_then(Value::as_str)
        .ok_or_else(|| shape(format!("{logical_id}: HttpApi event without Path")))?;
    let method = props
        .get("Method")
        .and_then(Value::as_str)
        .unwrap_or("ANY")
        .to_ascii_uppercase();
    let authorizer = match props
        .get("Auth")
        .and_then(|a| a.get("Authorizer"))
        .and_then(Value::as_str)
    {
        Some("NONE") => None,
        Some(name) => Some(name.to_owned()),
        None => default_authorizer.map(str::to_owned),
    };
    if let Some(name) = &authorizer
        && !authorizers.contains_key(name)
    {
        return Err(shape(format!(
            "{logical_id}: authorizer {name} is not defined on the HttpApi"
        )));
    }
    Ok(RouteSpec {
        // API Gateway's OpenAPI extension for ANY, which a template may use as the Method.
        method: if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
            "ANY".into()
        } else {
            method
        },
        path: path.to_owned(),
        function: logical_id.to_owned(),
        binary: binary.to_owned(),
        authorizer,
    })
}

/// The notification of one `S3` event. Only the prefix rule of the key filter is kept: it is
/// the one the template uses, and the gateway matches new keys against it.
fn s3_trigger(
    logical_id: &str,
    binary: &str,
    props: Option<&Value>,
) -> Result<S3TriggerSpec, TemplateError> {
    let props = props.ok_or_else(|| shape(format!("{logical_id}: S3 event without Properties")))?;
    let events = match props.get("Events") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Sequence(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return Err(shape(format!("{logical_id}: S3 event without Events"))),
    };
    let prefix = props
        .get("Filter")
        .and_then(|f| f.get("S3Key"))
        .and_then(|k| k.get("Rules"))
        .and_then(Value::as_sequence)
        .and_then(|rules| {
            rules.iter().find_map(|rule| {
                (rule.get("Name").and_then(Value::as_str) == Some("prefix"))
                    .then(|| rule.get("Value").and_then(Value::as_str).map(str::to_owned))
                    .flatten()
            })
        });
    Ok(S3TriggerSpec {
        function: logical_id.to_owned(),
        binary: binary.to_owned(),
        events,
        prefix,
    })
}

/// A `Type: DynamoDB` event: batch size, retries and filter patterns (each pattern is JSON
/// text, as in the template).
fn stream_trigger(
    logical_id: &str,
    binary: &str,
    props: Option<&Value>,
) -> Result<StreamTriggerSpec, TemplateError> {
    let props =
        props.ok_or_else(|| shape(format!("{logical_id}: DynamoDB event without Properties")))?;
    let number = |name: &str, default: usize| -> Result<usize, TemplateError> {
        match props.get(name) {
            None => Ok(default),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| shape(format!("{logical_id}: {name} must be a whole number"))),
            Some(_) => Err(shape(format!("{logical_id}: {name} must be a number"))),
        }
    };
    let mut filters = Vec::new();
    if let Some(list) = props
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(Value::as_sequence)
    {
        for filter in list {
            let text = filter
                .get("Pattern")
                .and_then(Value::as_str)
                .ok_or_else(|| shape(format!("{logical_id}: a filter without a Pattern")))?;
            let pattern: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| shape(format!("{logical_id}: filter pattern: {e}")))?;
            crate::streams::check_pattern(&pattern)
                .map_err(|e| shape(format!("{logical_id}: filter pattern: {e}")))?;
            filters.push(pattern);
        }
    }
    Ok(StreamTriggerSpec {
        function: logical_id.to_owned(),
        binary: binary.to_owned(),
        batch_size: number("BatchSize", 100)?.max(1),
        max_retries: number("MaximumRetryAttempts", 3)?,
        filters,
    })
}

/// A whole number property of `props`, if present.
fn whole_number(owner: &str, props: &Value, name: &str) -> Result<Option<u64>, TemplateError> {
    match props.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| shape(format!("{owner}: {name} must be a whole number"))),
        Some(_) => Err(shape(format!("{owner}: {name} must be a number"))),
    }
}

/// The logical id a `!GetAtt <Id>.Arn` (or `Fn::GetAtt: [Id, Arn]`) names: how a template
/// points an event source or a redrive policy at a queue.
fn arn_of(value: &Value) -> Option<String> {
    let target = match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => &tagged.value,
        Value::Mapping(map) if map.len() == 1 => map.get("Fn::GetAtt")?,
        _ => return None,
    };
    let (id, attribute) = match target {
        Value::String(dotted) => dotted.split_once('.')?,
        Value::Sequence(parts) if parts.len() == 2 => (parts[0].as_str()?, parts[1].as_str()?),
        _ => return None,
    };
    (attribute == "Arn").then(|| id.to_owned())
}

/// Every `AWS::SQS::Queue`: visibility timeout and redrive policy.
fn read_queues(resources: &Mapping) -> Result<Vec<QueueSpec>, TemplateError> {
    let mut queues = Vec::new();
    for (logical_id, resource) in resources_of_type(resources, "AWS::SQS::Queue") {
        let logical_id = logical_id.as_str().unwrap_or_default().to_owned();
        let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
        let visibility = whole_number(&logical_id, &props, "VisibilityTimeout")?.unwrap_or(30);
        let (mut max_receive_count, mut dead_letter_queue) = (None, None);
        if let Some(redrive) = props.get("RedrivePolicy") {
            let count =
                whole_number(&logical_id, redrive, "maxReceiveCount")?.ok_or_else(|| {
                    shape(format!(
                        "{logical_id}: RedrivePolicy without maxReceiveCount"
                    ))
                })?;
            max_receive_count = Some(
                u32::try_from(count)
                    .map_err(|_| shape(format!("{logical_id}: maxReceiveCount is too large")))?,
            );
            dead_letter_queue = Some(
                redrive
                    .get("deadLetterTargetArn")
                    .and_then(arn_of)
                    .ok_or_else(|| {
                        shape(format!(
                            "{logical_id}: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn"
                        ))
                    })?,
            );
        }
        queues.push(QueueSpec {
            logical_id,
            visibility_timeout_seconds: visibility,
            max_receive_count,
            dead_letter_queue,
        });
    }
    Ok(queues)
}

/// A `Type: SQS` event: the queue, batch size, concurrency and response types.
fn queue_trigger(
    logical_id: &str,
    binary: &str,
    props: Option<&Value>,
) -> Result<QueueTriggerSpec, TemplateError> {
    let props =
        props.ok_or_else(|| shape(format!("{logical_id}: SQS event without Properties")))?;
    let queue = props.get("Queue").and_then(arn_of).ok_or_else(|| {
        shape(format!(
            "{logical_id}: an SQS event's Queue must be !GetAtt <Queue>.Arn of a queue of this template"
        ))
    })?;
    let max_concurrency = match props.get("ScalingConfig") {
        Some(scaling) => whole_number(logical_id, scaling, "MaximumConcurrency")?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        None => None,
    };
    let report_batch_item_failures = props
        .get("FunctionResponseTypes")
        .and_then(Value::as_sequence)
        .is_some_and(|types| {
            types
                .iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        });
    Ok(QueueTriggerSpec {
        function: logical_id.to_owned(),
        binary: binary.to_owned(),
        queue,
        batch_size: whole_number(logical_id, props, "BatchSize")?
            .unwrap_or(10)
            .max(1) as usize,
        max_concurrency,
        report_batch_item_failures,
    })
}

/// A `Type: ScheduleV2` event: its expression, input, retry policy and state.
fn schedule(
    logical_id: &str,
    binary: &str,
    event: &str,
    props: Option<&Value>,
) -> Result<ScheduleSpec, TemplateError> {
    let owner = format!("{logical_id}.{event}");
    let props =
        props.ok_or_else(|| shape(format!("{owner}: ScheduleV2 event without Properties")))?;
    let expression = props
        .get("ScheduleExpression")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            shape(format!(
                "{owner}: ScheduleV2 event without ScheduleExpression"
            ))
        })?
        .to_owned();
    let input = match props.get("Input") {
        None => None,
        Some(Value::String(text)) => Some(
            serde_json::from_str(text)
                .map_err(|e| shape(format!("{owner}: Input is not JSON: {e}")))?,
        ),
        Some(_) => return Err(shape(format!("{owner}: Input must be JSON text"))),
    };
    let max_retries = match props.get("RetryPolicy") {
        Some(policy) => whole_number(&owner, policy, "MaximumRetryAttempts")?.unwrap_or(185),
        None => 185,
    };
    let enabled = match props.get("State").and_then(Value::as_str) {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(other) => {
            return Err(shape(format!(
                "{owner}: State {other} is not ENABLED or DISABLED"
            )));
        }
    };
    Ok(ScheduleSpec {
        function: logical_id.to_owned(),
        binary: binary.to_owned(),
        event: event.to_owned(),
        expression,
        input,
        max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Origins: { Type: CommaDelimitedList, Default: "https://a.example" }
  Issuer: { Type: String }
  Rate: { Type: Number, Default: 5 }
  Stage: { Type: String, Default: dev }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsNotProd: !Not [!Condition IsProd]
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowMethods: [get, post]
        AllowHeaders: [Authorization]
        AllowCredentials: !If [IsProd, false, true]
        MaxAge: 60
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: { issuer: !Sub "${Issuer}", audience: [api] }
      DefaultRouteSettings: { ThrottlingRateLimit: !Ref Rate, ThrottlingBurstLimit: 10 }
      RouteSettings:
        "POST /v1/auth/login": { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2 }
  Open:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: open } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Path: /open, Method: get, Auth: { Authorizer: NONE } } }
  Closed:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: closed } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Path: "/things/{id}", Method: GET } }
  Worker:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: worker } }
  DevOnly:
    Type: AWS::Serverless::Function
    Condition: IsNotProd
    Metadata: { BuildProperties: { Binary: dev-only } }
    Properties:
      Events:
        Get: { Type: HttpApi, Properties: { Path: /dev-only, Method: GET, Auth: { Authorizer: NONE } } }
"#;

    #[test]
    fn routes_authorizers_cors_and_throttles_are_read_with_parameters_resolved() {
        let overrides = HashMap::from([("Issuer".to_owned(), "http://127.0.0.1:3000".to_owned())]);
        let spec = parse(TEMPLATE, &overrides).expect("parses");
        assert_eq!(spec.routes.len(), 3);
        let closed = spec
            .routes
            .iter()
            .find(|r| r.binary == "closed")
            .expect("closed route");
        assert_eq!(closed.route_key(), "GET /things/{id}");
        assert_eq!(
            closed.authorizer.as_deref(),
            Some("Jwt"),
            "the default authorizer applies"
        );
        let open = spec
            .routes
            .iter()
            .find(|r| r.binary == "open")
            .expect("open route");
        assert_eq!(open.authorizer, None);
        assert_eq!(spec.authorizers["Jwt"].issuer, "http://127.0.0.1:3000");
        assert_eq!(spec.authorizers["Jwt"].header, "authorization");
        let cors = spec.cors.expect("cors");
        assert_eq!(cors.allow_origins, ["https://a.example"]);
        assert_eq!(cors.allow_methods, ["GET", "POST"]);
        assert!(cors.allow_credentials, "IsProd is false for dev");
        assert_eq!(
            spec.default_throttle,
            Some(ThrottleSpec {
                rate: 5.0,
                burst: 10.0
            })
        );
        assert_eq!(spec.route_throttles["POST /v1/auth/login"].burst, 2.0);
        assert_eq!(spec.binaries, ["open", "closed", "worker", "dev-only"]);
    }

    #[test]
    fn a_function_whose_condition_is_false_serves_no_route() {
        let overrides = HashMap::from([
            ("Issuer".to_owned(), "i".to_owned()),
            ("Stage".to_owned(), "prod".to_owned()),
        ]);
        let spec = parse(TEMPLATE, &overrides).expect("parses");
        assert!(
            spec.routes.iter().all(|r| r.path != "/dev-only"),
            "{:?}",
            spec.routes
        );
        assert!(spec.binaries.iter().any(|b| b == "dev-only"));
    }

    #[test]
    fn a_condition_cycle_is_an_error_not_a_stack_overflow() {
        let cyclic = TEMPLATE.replace(
            "IsNotProd: !Not [!Condition IsProd]",
            "IsNotProd: !Not [!Condition Loop]\n  Loop: !Not [!Condition IsNotProd]",
        );
        let overrides = HashMap::from([("Issuer".to_owned(), "i".to_owned())]);
        let err = parse(&cyclic, &overrides).expect_err("a cycle");
        assert!(err.to_string().contains("deep"), "{err}");
    }

    #[test]
    fn a_list_parameter_override_is_split_on_commas() {
        let overrides = HashMap::from([
            ("Issuer".to_owned(), "i".to_owned()),
            (
                "Origins".to_owned(),
                "https://x.example, https://y.example".to_owned(),
            ),
        ]);
        let spec = parse(TEMPLATE, &overrides).expect("parses");
        assert_eq!(
            spec.cors.expect("cors").allow_origins,
            ["https://x.example", "https://y.example"]
        );
    }

    const QUEUES: &str = r#"
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy: { deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn, maxReceiveCount: 5 }
  WorkDeadLetters:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: worker } }
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 25
            ScalingConfig: { MaximumConcurrency: 2 }
            FunctionResponseTypes: [ReportBatchItemFailures]
  Sweeper:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: sweeper } }
    Properties:
      Events:
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"schedule": "hourly"}'
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 }
        Nightly:
          Type: ScheduleV2
          Properties: { ScheduleExpression: "cron(0 3 * * ? *)", State: DISABLED }
"#;

    #[test]
    fn queues_their_consumers_and_schedules_are_read() {
        let spec = parse(QUEUES, &HashMap::new()).expect("parses");
        assert_eq!(
            spec.queues,
            [
                QueueSpec {
                    logical_id: "Work".into(),
                    visibility_timeout_seconds: 60,
                    max_receive_count: Some(5),
                    dead_letter_queue: Some("WorkDeadLetters".into()),
                },
                QueueSpec {
                    logical_id: "WorkDeadLetters".into(),
                    visibility_timeout_seconds: 30,
                    max_receive_count: None,
                    dead_letter_queue: None,
                },
            ]
        );
        assert_eq!(
            spec.queue_triggers,
            [QueueTriggerSpec {
                function: "Worker".into(),
                binary: "worker".into(),
                queue: "Work".into(),
                batch_size: 25,
                max_concurrency: Some(2),
                report_batch_item_failures: true,
            }]
        );
        assert_eq!(spec.schedules.len(), 2);
        let hourly = &spec.schedules[0];
        assert_eq!(
            (hourly.function.as_str(), hourly.event.as_str()),
            ("Sweeper", "Hourly")
        );
        assert_eq!(hourly.expression, "rate(1 hour)");
        assert_eq!(
            hourly.input,
            Some(serde_json::json!({"schedule": "hourly"}))
        );
        assert_eq!(hourly.max_retries, 2);
        assert!(hourly.enabled);
        let nightly = &spec.schedules[1];
        assert_eq!(nightly.max_retries, 185, "AWS's default");
        assert!(!nightly.enabled);
    }

    #[test]
    fn a_queue_event_must_point_at_a_queue_of_the_template() {
        let elsewhere = QUEUES.replace(
            "Queue: !GetAtt Work.Arn",
            "Queue: arn:aws:sqs:us-east-1:1:other",
        );
        let err = parse(&elsewhere, &HashMap::new()).expect_err("not a GetAtt");
        assert!(err.to_string().contains("Worker"), "{err}");
    }

    #[test]
    fn an_unknown_parameter_is_an_error_not_a_guess() {
        let err = parse(TEMPLATE, &HashMap::new()).expect_err("Issuer has no default");
        assert!(err.to_string().contains("Issuer"), "{err}");
    }
}
