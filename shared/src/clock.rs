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

/// `ms` (epoch milliseconds) in the shape of [`now_rfc3339`]: a time kept as a number in a
/// key (a notification's) shown as every other time is.
pub fn rfc3339_of_ms(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
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
    fn a_time_kept_in_milliseconds_reads_back_in_the_api_shape() {
        assert_eq!(rfc3339_of_ms(1_764_547_200_250), "2025-12-01T00:00:00.25Z");
        assert_eq!(rfc3339_of_ms(0), "1970-01-01T00:00:00Z");
    }

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
