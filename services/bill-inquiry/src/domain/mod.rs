//! Pure rules of bill inquiry (no I/O): billing months and the query window (docs/api.md §1.9, 3.1, 3.2),
//! request ids, history status and summaries (docs/api.md §3.6), history paging rules, and the clock
//! the rules read "now" from (injected so tests control time). [`outcome`]: what a KOS answer
//! becomes.

pub mod outcome;

use chrono::{DateTime, Datelike, Utc};
use phonebill_common::time::kst;

/// The clock and the month are the shared ones; the names are kept for this crate's callers.
pub use phonebill_common::time::{Clock, DynClock, SystemClock, YearMonth as Month};

/// The six months ending with `current`, newest first (docs/api.md §3.1 fallback, 5.5 window).
pub fn six_months(current: Month) -> Vec<Month> {
    let mut out = Vec::with_capacity(6);
    let mut m = current;
    for _ in 0..6 {
        out.push(m);
        m = m.prev();
    }
    out
}

/// Why an `inquiryMonth` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthError {
    /// Not `YYYYMM` / `YYYY-MM` with month 01–12.
    Format,
    /// After the current month (Korea time).
    Future,
}

/// The month to query: absent/empty → current month (Korea time); otherwise parsed and not in
/// the future. Months older than the window are left to KOS (`1003` → `BILL_NOT_FOUND`).
pub fn inquiry_month(input: Option<&str>, now: DateTime<Utc>) -> Result<Month, MonthError> {
    let current = Month::of_kst(now);
    match input.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(current),
        Some(s) => {
            let m = Month::parse(s).ok_or(MonthError::Format)?;
            if m > current {
                Err(MonthError::Future)
            } else {
                Ok(m)
            }
        }
    }
}

/// A new request id `REQ_<yyyyMMdd>_<8 upper-case hex>` (docs/api.md §3.2), dated in Korea time.
pub fn new_request_id(now: DateTime<Utc>, random: u32) -> String {
    // Numeric fields rather than a `%Y%m%d` pattern: chrono parses a pattern string on every
    // call, which showed up on the cache-hit path (callgrind, docs/benchmarks.md).
    let d = now.with_timezone(&kst());
    format!(
        "REQ_{:04}{:02}{:02}_{random:08X}",
        d.year(),
        d.month(),
        d.day()
    )
}

/// Whether `s` has the shape of a request id (cheap guard before touching the store).
pub fn is_request_id(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 21
        && s.starts_with("REQ_")
        && b[4..12].iter().all(u8::is_ascii_digit)
        && b[12] == b'_'
        && b[13..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
}

/// History status (docs/api.md §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HistoryStatus {
    /// SUCCESS.
    Completed,
    /// PROCESSING.
    Processing,
    /// Any failure.
    Failed,
}

impl HistoryStatus {
    /// The stored/wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "COMPLETED",
            Self::Processing => "PROCESSING",
            Self::Failed => "FAILED",
        }
    }

    /// Parses a code (exact, upper case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "COMPLETED" => Some(Self::Completed),
            "PROCESSING" => Some(Self::Processing),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }

    /// The `procStatus` of the polling endpoint.
    pub fn proc_status(self) -> &'static str {
        match self {
            Self::Completed => "SUCCESS",
            Self::Processing => "PROCESSING",
            Self::Failed => "FAILED",
        }
    }
}

/// `81340` → `81,340`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The history summary of a successful inquiry: `5G 스탠다드 플랜, 81,340원` (at most 200 chars).
pub fn success_summary(product_name: &str, total_fee: i64) -> String {
    truncate_chars(
        &format!("{product_name}, {}원", group_thousands(total_fee)),
        200,
    )
}

/// `s` cut to at most `max` characters.
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Result codes this service stores for failures that have no KOS code (`result_code` is
/// `varchar(10)`, so the docs/api.md error code names do not fit).
pub mod result_codes {
    /// KOS answered with a system error or an unreadable body (`KOS_ERROR`).
    pub const KOS_ERROR: &str = "9999";
    /// KOS unreachable, 5xx or breaker open (`KOS_UNAVAILABLE`).
    pub const KOS_UNAVAILABLE: &str = "9503";
    /// KOS did not answer in time.
    pub const KOS_TIMEOUT: &str = "9504";
    /// The background call was abandoned because the service shut down.
    pub const ABANDONED: &str = "9500";
    /// Processing (docs/api.md §3.3).
    pub const PROCESSING: &str = "0100";
}

/// The history page request after validation (docs/api.md §3.6, 1.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Lines to include (the requested line, or all caller lines).
    pub lines: Vec<String>,
    /// Inclusive lower bound on `requested_at`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `requested_at`.
    pub until: Option<DateTime<Utc>>,
    /// Status filter.
    pub status: Option<HistoryStatus>,
    /// 1-based page.
    pub page: u32,
    /// Page size (1–100).
    pub size: u32,
}

impl HistoryFilter {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.size)
    }
}

/// Pagination totals (docs/api.md §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// Current page.
    pub current_page: u32,
    /// Pages in total (0 when there are no items).
    pub total_pages: u64,
    /// Items in total.
    pub total_items: u64,
    /// Page size.
    pub page_size: u32,
    /// Whether a later page exists.
    pub has_next: bool,
    /// Whether an earlier page exists.
    pub has_previous: bool,
}

impl Pagination {
    /// Totals for `total` items at `page`/`size`.
    pub fn new(page: u32, size: u32, total: u64) -> Self {
        let size64 = u64::from(size.max(1));
        let total_pages = total.div_ceil(size64);
        Self {
            current_page: page,
            total_pages,
            total_items: total,
            page_size: size,
            has_next: u64::from(page) < total_pages,
            has_previous: page > 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn months_parse_both_forms_and_reject_bad_ones() {
        assert_eq!(Month::parse("202509").unwrap().compact(), "202509");
        assert_eq!(Month::parse("2025-09").unwrap().compact(), "202509");
        for bad in [
            "202513", "202500", "2025-9", "20250", "2025/09", "abcdef", "2025-1a", "",
        ] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn current_month_is_korea_time() {
        // 2025-08-31 16:00 UTC is 2025-09-01 01:00 KST.
        let now = at("2025-08-31T16:00:00Z");
        assert_eq!(inquiry_month(None, now).unwrap().compact(), "202509");
        assert_eq!(inquiry_month(Some(""), now).unwrap().compact(), "202509");
        assert_eq!(
            inquiry_month(Some("2025-09"), now).unwrap().compact(),
            "202509"
        );
        assert_eq!(inquiry_month(Some("202510"), now), Err(MonthError::Future));
        assert_eq!(inquiry_month(Some("2025-13"), now), Err(MonthError::Format));
        // One second earlier in KST it is still August.
        let before = at("2025-08-31T14:59:59Z");
        assert_eq!(
            inquiry_month(Some("202509"), before),
            Err(MonthError::Future)
        );
    }

    #[test]
    fn six_months_roll_over_the_year() {
        let m = Month::parse("202602").unwrap();
        let list: Vec<String> = six_months(m).into_iter().map(Month::dashed).collect();
        assert_eq!(
            list,
            [
                "2026-02", "2026-01", "2025-12", "2025-11", "2025-10", "2025-09"
            ]
        );
    }

    #[test]
    fn request_ids_have_the_spec_shape() {
        let id = new_request_id(at("2025-09-13T15:30:00Z"), 0x4F1A_9C2B);
        assert_eq!(id, "REQ_20250914_4F1A9C2B");
        assert!(is_request_id(&id));
        assert!(is_request_id(&new_request_id(Utc::now(), 0)));
        for bad in [
            "REQ_20250914_4f1a9c2b",
            "REQ_2025091_4F1A9C2B",
            "PCR_20250914_4F1A9C2B",
            "x",
        ] {
            assert!(!is_request_id(bad), "{bad}");
        }
    }

    #[test]
    fn summaries_group_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(81_340), "81,340");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(
            success_summary("5G 스탠다드 플랜", 81_340),
            "5G 스탠다드 플랜, 81,340원"
        );
    }

    #[test]
    fn pagination_totals() {
        let p = Pagination::new(1, 20, 0);
        assert_eq!(
            (p.total_pages, p.has_next, p.has_previous),
            (0, false, false)
        );
        let p = Pagination::new(2, 2, 5);
        assert_eq!((p.total_pages, p.has_next, p.has_previous), (3, true, true));
        let p = Pagination::new(4, 2, 5);
        assert_eq!(
            (p.total_pages, p.has_next, p.has_previous),
            (3, false, true)
        );
    }
}
