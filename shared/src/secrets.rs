//! Secrets Manager: the one read every secret-holding port makes at start-up (the token
//! keys, the FCM service account), so a secret never sits in a function's environment.

/// The string value of the secret `secret_id`; the error names the secret and the cause,
/// never the value.
pub async fn secret_string(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<String, String> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading the secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| format!("the secret {secret_id} has no string value"))
}
