//! Issue 20's yardstick, measured beside our floors in every `infra/scripts/bench` run: a
//! lean function on the 2022 SDK, as AWS's Rust serverless samples built it then. It loads
//! the SDK's configuration through the default provider chains of that release (region and
//! credentials from the environment first, the platform roots through `SSL_CERT_FILE`),
//! builds a DynamoDB client, and makes one GetItem per request, as `floor-aws` does with
//! today's SDK. `DYNAMODB_ENDPOINT` points it at DynamoDB Local.
use aws_sdk_dynamodb::model::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_from_env().await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        config = config.endpoint_resolver(aws_sdk_dynamodb::Endpoint::immutable(endpoint.parse()?));
    }
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "runcrew-bench".into());
    lambda_http::run(service_fn(move |_req: Request| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let found = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S("BENCH".into()))
                .key("sk", AttributeValue::S("FLOOR".into()))
                .send()
                .await?;
            Ok::<_, Error>(Response::new(Body::from(format!(
                "{{\"found\":{}}}",
                found.item.is_some()
            ))))
        }
    }))
    .await
}
