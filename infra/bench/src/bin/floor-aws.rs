//! Floor 2: a hello-world that builds what most of our functions build at init (aws-config
//! and a DynamoDB client) and makes one GetItem per request. Functions with AWS clients are
//! measured against it.
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        config = config.endpoint_url(endpoint);
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
