//! The paging and date-range query parameters of the history lists (bill-inquiry
//! docs/api.md §3.6, product-change §4.8): `page`, `size`, `startDate`, `endDate`, received as
//! text and validated here into numbers and a range of Korea-time days.
//!
//! Wire format only: each endpoint gives its own defaults, bounds and out-of-range message
//! ([`ListRules`]); what the list holds is the endpoint's. Every problem is collected per field
//! into the caller's map, so that one `400 VALIDATION_ERROR` names them all (docs/api.md §1.4).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::time::kst;

/// The message of a date that is not `YYYY-MM-DD`.
pub const MSG_DATE_FORMAT: &str = "날짜는 YYYY-MM-DD 형식이어야 합니다";
/// The message (on `startDate`) of a range that ends before it starts.
pub const MSG_DATE_ORDER: &str = "시작일은 종료일보다 늦을 수 없습니다";

/// The parameters as received (absent, or the raw text).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawListQuery<'a> {
    /// `page`.
    pub page: Option<&'a str>,
    /// `size`.
    pub size: Option<&'a str>,
    /// `startDate`.
    pub start_date: Option<&'a str>,
    /// `endDate`.
    pub end_date: Option<&'a str>,
}

/// One endpoint's paging rules.
#[derive(Debug, Clone, Copy)]
pub struct ListRules {
    /// `size` when absent.
    pub default_size: u32,
    /// Largest `page`.
    pub max_page: u32,
    /// Largest `size`.
    pub max_size: u32,
    /// The message of a `page` or `size` that is not a number in `1..=max`: `(field, max)`.
    pub out_of_range: fn(&str, u32) -> String,
    /// Which date texts are read as a date.
    pub dates: DateForm,
}

/// How strictly `startDate` / `endDate` are read. Both refuse what is not a calendar date; they
/// differ only on texts that are not ten characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateForm {
    /// Exactly `YYYY-MM-DD`, ten characters ([`parse_date`]): `2025-9-14` is refused.
    Exact,
    /// What chrono's `%Y-%m-%d` reads: also one-digit months and days (`2025-9-14`), short and
    /// signed years (`25-09-14`, `+2025-09-14`). Product-change has always read its dates this way,
    /// and the fold onto this module kept its behaviour.
    Loose,
}

/// The parameters after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// 1-based page (1 when absent).
    pub page: u32,
    /// Page size.
    pub size: u32,
    /// First day (Korea time, inclusive).
    pub start: Option<NaiveDate>,
    /// Last day (Korea time, inclusive).
    pub end: Option<NaiveDate>,
}

impl ListQuery {
    /// Inclusive lower bound on the instant: the start of `start` in Korea time.
    pub fn from(&self) -> Option<DateTime<Utc>> {
        self.start.and_then(kst_day_start)
    }

    /// Exclusive upper bound on the instant: the start of the day after `end` in Korea time.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.end.and_then(|d| d.succ_opt()).and_then(kst_day_start)
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.size)
    }
}

/// A parameter's text, trimmed; `None` when absent or blank (blank means "not given").
pub fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// A `YYYY-MM-DD` date (exactly ten characters: `2025-9-14` is refused).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The start of a Korea-time day as a UTC instant.
pub fn kst_day_start(d: NaiveDate) -> Option<DateTime<Utc>> {
    let naive = d.and_hms_opt(0, 0, 0)?;
    kst()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A date in `form`, surrounding blanks ignored.
pub fn parse_date_in(s: &str, form: DateForm) -> Option<NaiveDate> {
    match form {
        DateForm::Exact => parse_date(s),
        DateForm::Loose => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
    }
}

/// Validates `raw` under `rules`. Problems go into `errors` (field → message) and the field
/// takes its default, so the caller answers `400` when `errors` is not empty.
pub fn parse(
    raw: &RawListQuery<'_>,
    rules: &ListRules,
    errors: &mut BTreeMap<String, String>,
) -> ListQuery {
    let mut date = |field: &str, v: Option<&str>| {
        let s = present(v)?;
        let d = parse_date_in(s, rules.dates);
        if d.is_none() {
            errors.insert(field.to_owned(), MSG_DATE_FORMAT.to_owned());
        }
        d
    };
    let start = date("startDate", raw.start_date);
    let end = date("endDate", raw.end_date);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        errors.insert("startDate".to_owned(), MSG_DATE_ORDER.to_owned());
    }
    let mut number = |field: &str, v: Option<&str>, default: u32, max: u32| match present(v) {
        None => default,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.insert(field.to_owned(), (rules.out_of_range)(field, max));
                default
            }
        },
    };
    let page = number("page", raw.page, 1, rules.max_page);
    let size = number("size", raw.size, rules.default_size, rules.max_size);
    ListQuery {
        page,
        size,
        start,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: ListRules = ListRules {
        default_size: 20,
        max_page: 1000,
        max_size: 100,
        out_of_range: |field, max| format!("{field} 1..{max}"),
        dates: DateForm::Exact,
    };

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    /// Moved with the parser from bill-inquiry's domain.
    #[test]
    fn kst_dates_start_at_midnight_korea_time() {
        let d = parse_date("2025-09-14").expect("date");
        assert_eq!(
            kst_day_start(d).expect("instant"),
            at("2025-09-13T15:00:00Z")
        );
        assert!(parse_date("2025-9-14").is_none());
        assert!(parse_date("2025-02-30").is_none());
    }

    #[test]
    fn absent_and_blank_take_the_defaults() {
        let mut errors = BTreeMap::new();
        let raw = RawListQuery {
            page: Some("  "),
            ..RawListQuery::default()
        };
        let q = parse(&raw, &RULES, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((q.page, q.size, q.start, q.end), (1, 20, None, None));
        assert_eq!((q.from(), q.until(), q.offset()), (None, None, 0));
    }

    #[test]
    fn dates_are_a_korea_time_day_range() {
        let mut errors = BTreeMap::new();
        let raw = RawListQuery {
            page: Some("3"),
            size: Some(" 10 "),
            start_date: Some("2025-09-01"),
            end_date: Some("2025-09-14"),
        };
        let q = parse(&raw, &RULES, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((q.page, q.size, q.offset()), (3, 10, 20));
        assert_eq!(q.from(), Some(at("2025-08-31T15:00:00Z")));
        assert_eq!(q.until(), Some(at("2025-09-14T15:00:00Z")));
    }

    #[test]
    fn every_bad_field_is_named_with_the_endpoint_message() {
        let mut errors = BTreeMap::new();
        let raw = RawListQuery {
            page: Some("0"),
            size: Some("101"),
            start_date: Some("2025-9-1"),
            end_date: Some("2025-02-30"),
        };
        let q = parse(&raw, &RULES, &mut errors);
        assert_eq!(errors["page"], "page 1..1000");
        assert_eq!(errors["size"], "size 1..100");
        assert_eq!(errors["startDate"], MSG_DATE_FORMAT);
        assert_eq!(errors["endDate"], MSG_DATE_FORMAT);
        assert_eq!(
            (q.page, q.size),
            (1, 20),
            "bad values fall back to the defaults"
        );
        let mut errors = BTreeMap::new();
        parse(
            &RawListQuery {
                page: Some("x"),
                size: Some("-1"),
                ..RawListQuery::default()
            },
            &RULES,
            &mut errors,
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused_on_start_date() {
        let mut errors = BTreeMap::new();
        let raw = RawListQuery {
            start_date: Some("2025-09-14"),
            end_date: Some("2025-09-13"),
            ..RawListQuery::default()
        };
        parse(&raw, &RULES, &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors["startDate"], MSG_DATE_ORDER);
    }
    #[test]
    fn loose_dates_read_what_chrono_reads_and_exact_ones_do_not() {
        let loose = ListRules {
            dates: DateForm::Loose,
            ..RULES
        };
        for (text, day) in [
            ("2025-9-14", NaiveDate::from_ymd_opt(2025, 9, 14)),
            ("2025-09-4", NaiveDate::from_ymd_opt(2025, 9, 4)),
            (" 2025-09-14 ", NaiveDate::from_ymd_opt(2025, 9, 14)),
        ] {
            let raw = RawListQuery {
                start_date: Some(text),
                ..RawListQuery::default()
            };
            let mut errors = BTreeMap::new();
            let q = parse(&raw, &loose, &mut errors);
            assert!(errors.is_empty(), "{text:?}: {errors:?}");
            assert_eq!(q.start, day, "{text:?}");
            let mut errors = BTreeMap::new();
            let q = parse(&raw, &RULES, &mut errors);
            let exact_ok = text.trim().len() == 10;
            assert_eq!(errors.is_empty(), exact_ok, "{text:?}: {errors:?}");
            assert_eq!(q.start.is_some(), exact_ok, "{text:?}");
        }
        for bad in ["2025-02-30", "2025-09-14x", "2025/09/14"] {
            assert_eq!(parse_date_in(bad, DateForm::Loose), None, "{bad:?}");
            assert_eq!(parse_date_in(bad, DateForm::Exact), None, "{bad:?}");
        }
    }
}
