//! Business time: Korea Standard Time (UTC+09:00, no daylight saving), the clock services read
//! "now" from, and the calendar month.
//!
//! "This month" and "today" are computed in KST (docs/api.md §1.9); instants on the wire carry the
//! `+09:00` offset; storage is UTC. A service that has time rules takes a [`DynClock`] so tests
//! move time instead of sleeping ([`ManualClock`]).

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, SecondsFormat, Utc};

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

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A shared clock.
pub type DynClock = Arc<dyn Clock>;

/// The system clock (production).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock shifted by an adjustable offset (tests move time forward with
/// [`ManualClock::advance`]).
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at the system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *o += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let o = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        Utc::now() + o
    }
}

/// A calendar month (month 1–12): a billing month (`YYYYMM` on the KOS wire, `YYYY-MM` in the
/// menu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// `year`-`month`, or `None` when `month` is not 1–12.
    pub const fn new(year: i32, month: u32) -> Option<Self> {
        if month >= 1 && month <= 12 {
            Some(Self { year, month })
        } else {
            None
        }
    }

    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month containing the instant `t` in Korea time.
    pub fn of_kst(t: DateTime<Utc>) -> Self {
        Self::of(t.with_timezone(&kst()).date_naive())
    }

    /// Exactly `YYYYMM` (six digits, month 01–12), the KOS wire form; `None` otherwise.
    pub fn parse_compact(s: &str) -> Option<Self> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i32 = s[..4].parse().ok()?;
        let month: u32 = s[4..].parse().ok()?;
        Self::new(year, month)
    }

    /// What a client may send: `YYYYMM` or `YYYY-MM` (surrounding blanks ignored), month 01–12,
    /// year from 0001; `None` otherwise.
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        let m = match s.len() {
            6 => Self::parse_compact(s)?,
            7 if s.as_bytes()[4] == b'-' => {
                Self::parse_compact(&format!("{}{}", &s[..4], &s[5..]))?
            }
            _ => return None,
        };
        (m.year >= 1).then_some(m)
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub const fn month(self) -> u32 {
        self.month
    }

    /// The month before.
    #[must_use]
    pub const fn prev(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    #[must_use]
    pub const fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// `YYYYMM`.
    pub fn compact(self) -> String {
        self.to_string()
    }

    /// `YYYY-MM` (the menu's display form).
    pub fn dashed(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Display for YearMonth {
    /// `YYYYMM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn months_parse_step_and_print() {
        let m = YearMonth::parse_compact("202509").expect("valid");
        assert_eq!((m.year(), m.month()), (2025, 9));
        assert_eq!(m.compact(), "202509");
        assert_eq!(m.dashed(), "2025-09");
        for bad in ["202513", "202500", "2025-09", "20250", " 202509", "2025a9"] {
            assert!(YearMonth::parse_compact(bad).is_none(), "{bad}");
        }
        // The KOS form takes year 0000 (KOS then has no bill for it); a client's input does not.
        assert!(YearMonth::parse_compact("000012").is_some());
        assert!(YearMonth::parse("000012").is_none());
        assert_eq!(YearMonth::parse(" 2025-09 "), Some(m));
        assert_eq!(YearMonth::parse("202509"), Some(m));
        for bad in ["2025/09", "2025-9", "2025-13", "", "2025090"] {
            assert!(YearMonth::parse(bad).is_none(), "{bad}");
        }
        let jan = YearMonth::new(2026, 1).expect("valid");
        assert_eq!(jan.prev().compact(), "202512");
        assert_eq!(jan.prev().next(), jan);
        assert!(YearMonth::new(2026, 13).is_none());
        assert!(YearMonth::new(2026, 0).is_none());
    }

    #[test]
    fn the_current_month_is_korean() {
        // 2025-09-30 16:00 UTC is 2025-10-01 01:00 in Korea.
        let t = Utc
            .with_ymd_and_hms(2025, 9, 30, 16, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(YearMonth::of_kst(t).compact(), "202510");
        assert_eq!(YearMonth::of(t.date_naive()).compact(), "202509");
    }

    #[test]
    fn a_manual_clock_moves_only_forward_when_told() {
        let c = ManualClock::new();
        let before = c.now();
        c.advance(Duration::minutes(31));
        assert!(c.now() - before >= Duration::minutes(31));
        assert!(SystemClock.now() <= Utc::now());
    }

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
