//! An event as an RFC 5545 calendar file, so a runner adds it to any calendar app.
//!
//! The UID is the event id, so importing the file again after a change updates the entry
//! (with a higher `SEQUENCE`, the event's revision) instead of adding a second one; a
//! cancelled event says `STATUS:CANCELLED`, which removes it. A start in a named zone is
//! written in that zone (`DTSTART;TZID=`) with a `VTIMEZONE` giving the zone's offset at
//! that instant, and the length as a `DURATION`, so the entry is right even where a client
//! does not know the zone; without a zone the start is UTC.

use runcrew_shared::ApiError;

use super::{Event, EventStatus};

/// The calendar file of `event`, lines ending in CRLF and folded at 75 octets.
/// `stamp_ms` is when the file was made (`DTSTAMP`).
pub fn calendar(event: &Event, stamp_ms: i64) -> Result<String, ApiError> {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//RunCrew//Group runs//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
    ];
    let start = match &event.time_zone {
        Some(zone) => {
            let (local, offset) = local_time(zone, event.starts_ms)?;
            lines.extend([
                "BEGIN:VTIMEZONE".into(),
                format!("TZID:{zone}"),
                "BEGIN:STANDARD".into(),
                "DTSTART:19700101T000000".into(),
                format!("TZOFFSETFROM:{offset}"),
                format!("TZOFFSETTO:{offset}"),
                "END:STANDARD".into(),
                "END:VTIMEZONE".into(),
            ]);
            format!("DTSTART;TZID={zone}:{local}")
        }
        None => format!("DTSTART:{}", utc_time(event.starts_ms)?),
    };
    let status = match event.status {
        EventStatus::Scheduled => "CONFIRMED",
        EventStatus::Cancelled => "CANCELLED",
    };
    let location = event
        .meeting_point_name
        .clone()
        .unwrap_or_else(|| format!("{}, {}", event.meeting_point.lat, event.meeting_point.lng));
    lines.extend([
        "BEGIN:VEVENT".into(),
        format!("UID:{}@runcrew", event.event_id),
        format!("DTSTAMP:{}", utc_time(stamp_ms)?),
        start,
        format!("DURATION:PT{}M", event.duration_min),
        format!("SUMMARY:{}", escape(&event.title)),
    ]);
    if !event.description.is_empty() {
        lines.push(format!("DESCRIPTION:{}", escape(&event.description)));
    }
    lines.extend([
        format!("LOCATION:{}", escape(&location)),
        format!(
            "GEO:{};{}",
            event.meeting_point.lat, event.meeting_point.lng
        ),
        format!("STATUS:{status}"),
        format!("SEQUENCE:{}", event.revision),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ]);
    let mut text = String::new();
    for line in &lines {
        fold_into(&mut text, line);
    }
    Ok(text)
}

/// `ms` as a UTC date-time, `20261204T220000Z`.
fn utc_time(ms: i64) -> Result<String, ApiError> {
    let at = jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| ApiError::Internal(format!("calendar time {ms}: {e}")))?;
    Ok(at.strftime("%Y%m%dT%H%M%SZ").to_string())
}

/// `ms` as a local date-time in `zone` and the zone's offset then (`+0900`).
fn local_time(zone: &str, ms: i64) -> Result<(String, String), ApiError> {
    let tz = jiff::tz::db()
        .get(zone)
        .map_err(|e| ApiError::Internal(format!("calendar zone {zone}: {e}")))?;
    let at = jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| ApiError::Internal(format!("calendar time {ms}: {e}")))?
        .to_zoned(tz);
    let seconds = at.offset().seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    Ok((
        at.strftime("%Y%m%dT%H%M%S").to_string(),
        format!("{sign}{:02}{:02}", minutes / 60, minutes % 60),
    ))
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (never inside a character), each piece after the
/// first starting with a space, each ending in CRLF (RFC 5545 3.1).
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventVisibility;

    #[test]
    fn a_zoned_event_starts_at_its_local_time_with_the_zones_offset() {
        let mut event = crate::event::tests::event(EventVisibility::Public);
        // 2026-12-04T22:00Z is 07:00 on the 5th in Seoul.
        event.starts_ms = 1_796_421_600_000;
        let text = calendar(&event, 1_796_000_000_000).expect("calendar");
        assert!(text.contains("DTSTART;TZID=Asia/Seoul:20261205T070000\r\n"));
        assert!(text.contains("TZOFFSETTO:+0900\r\n"));
        assert!(text.contains("DURATION:PT90M\r\n"));
        assert!(text.contains(&format!("UID:{}@runcrew\r\n", event.event_id)));
        assert!(text.contains("STATUS:CONFIRMED\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));

        event.time_zone = None;
        event.status = crate::event::EventStatus::Cancelled;
        let text = calendar(&event, 1_796_000_000_000).expect("calendar");
        assert!(text.contains("DTSTART:20261204T220000Z\r\n"));
        assert!(text.contains("STATUS:CANCELLED\r\n"));
        assert!(!text.contains("VTIMEZONE"));
    }

    #[test]
    fn text_is_escaped_and_long_lines_fold_between_characters() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "한강".repeat(30));
        fold_into(&mut out, &line);
        for piece in out.split("\r\n").filter(|p| !p.is_empty()) {
            assert!(piece.len() <= 75, "{} octets", piece.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{line}\r\n"));
    }
}
