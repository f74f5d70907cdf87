//! Wall-clock time as the API and the table write it.

/// Now as RFC 3339 UTC, to the millisecond: every `created_at`, `updated_at` and `at`
/// field has this one shape, so clients parse one format. Trailing zeros of the fraction
/// are dropped (`.79Z`), so order by time, not by string; index keys use [`now_epoch_ms`].
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Milliseconds since the Unix epoch: index sort keys zero-pad it (`{ms:013}`) so that
/// "newest first" is a descending string order.
pub fn now_epoch_ms() -> i128 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339_to_the_millisecond() {
        let stamp = now_rfc3339();
        assert!(stamp.ends_with('Z'), "{stamp}");
        let parsed =
            time::OffsetDateTime::parse(&stamp, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339");
        assert_eq!(parsed.nanosecond() % 1_000_000, 0, "{stamp}");
    }
}
