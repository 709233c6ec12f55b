//! Business time: Korea Standard Time (UTC+09:00, no daylight saving).
//!
//! "This month" and "today" are computed in KST (docs/api.md §1.9); instants on the wire carry the
//! `+09:00` offset; storage is UTC.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// The Korea Standard Time offset.
pub fn kst() -> FixedOffset {
    // 9 hours is always a valid offset; `east_opt` only fails outside ±24 h.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC offset"))
}

/// Now, in Korea time.
pub fn now_kst() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&kst())
}

/// An instant formatted as RFC 3339 with milliseconds in Korea time, e.g. `2025-09-14T10:32:11.482+09:00`.
pub fn format_kst_millis(t: DateTime<Utc>) -> String {
    t.with_timezone(&kst())
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// An instant formatted as RFC 3339 with seconds in Korea time, e.g. `2025-09-14T10:32:11+09:00`.
pub fn format_kst(t: DateTime<Utc>) -> String {
    t.with_timezone(&kst())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_in_korea_time() {
        let t = Utc
            .with_ymd_and_hms(2025, 9, 14, 1, 32, 11)
            .single()
            .expect("valid");
        assert_eq!(format_kst(t), "2025-09-14T10:32:11+09:00");
        assert_eq!(format_kst_millis(t), "2025-09-14T10:32:11.000+09:00");
    }
}
