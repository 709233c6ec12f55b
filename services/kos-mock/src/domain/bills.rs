//! Deterministic bills (docs/api.md §5.5): every line has a bill for each of the six months ending with
//! the current Korea-time month, computed from `FNV-1a-64(line11 + ":" + YYYYMM)`.

use chrono::NaiveDate;
use phonebill_common::kos::BillInfo;

use super::fnv1a64;
use super::model::{Line, Product};

/// Number of months with bills, current month included.
pub const WINDOW: usize = 6;

/// A calendar month (the shared type).
pub use phonebill_common::time::YearMonth;

/// The months with bills, newest first, for `today` (Korea time).
pub fn window(today: NaiveDate) -> Vec<YearMonth> {
    let mut m = YearMonth::of(today);
    let mut out = Vec::with_capacity(WINDOW);
    for _ in 0..WINDOW {
        out.push(m);
        m = m.prev();
    }
    out
}

/// The product code billed in `month`: the current product for the current month, the product
/// at creation for earlier months.
pub fn billed_product_code(line: &Line, month: YearMonth, current: YearMonth) -> &str {
    if month == current {
        &line.current_product_code
    } else {
        &line.initial_product_code
    }
}

/// Usage cap for the random figures: the allowance, or `unlimited` when the text has no number.
fn cap(text: &str, unlimited: u64) -> u64 {
    match super::model::allowance_number(text) {
        n if n > 0 => n.unsigned_abs(),
        _ => unlimited,
    }
}

/// The bill of `line` for `month`, billed with `product`; `current` is the current month.
pub fn compute(line: &Line, product: &Product, month: YearMonth, current: YearMonth) -> BillInfo {
    let ym = month.compact();
    let h = fnv1a64(format!("{}:{}", line.line_number, ym).as_bytes());
    let usage_fee = i64::try_from(h % 3000).unwrap_or(0) * 10;
    let data = (h >> 16) % cap(&product.data_allowance, 200);
    let voice = (h >> 32) % cap(&product.voice_allowance, 500);
    let sms = (h >> 48) % 100;
    let due = month.next();
    BillInfo {
        line_number: line.line_number.clone(),
        billing_month: ym,
        product_code: product.code.clone(),
        product_name: product.name.clone(),
        monthly_fee: product.monthly_fee,
        usage_fee,
        discount_amount: 0,
        total_fee: product.monthly_fee + usage_fee,
        data_usage: format!("{data}GB"),
        voice_usage: format!("{voice}분"),
        sms_usage: format!("{sms}건"),
        bill_status: if month == current {
            "UNPAID"
        } else {
            "CONFIRMED"
        }
        .to_owned(),
        due_date: format!("{}25", due.compact()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::seed;

    #[test]
    fn window_rolls_over_the_year() {
        let w = window(NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
        let names: Vec<String> = w.iter().map(|m| m.compact()).collect();
        assert_eq!(
            names,
            ["202503", "202502", "202501", "202412", "202411", "202410"]
        );
    }

    #[test]
    fn month_parsing() {
        assert_eq!(YearMonth::parse_compact("202509"), YearMonth::new(2025, 9));
        assert!(YearMonth::parse_compact("202513").is_none());
        assert!(YearMonth::parse_compact("202500").is_none());
        assert!(YearMonth::parse_compact("2025-09").is_none());
        assert!(YearMonth::parse_compact("20250").is_none());
    }

    #[test]
    fn bill_follows_the_formula() {
        let line = seed::lines().remove(0);
        let products = seed::products();
        let p = products
            .iter()
            .find(|p| p.code == line.current_product_code)
            .unwrap();
        let m = YearMonth::new(2025, 12).unwrap();
        let b = compute(&line, p, m, m);
        let h = fnv1a64(b"01012345678:202512");
        assert_eq!(b.usage_fee, ((h % 3000) * 10) as i64);
        assert_eq!(b.total_fee, 69000 + b.usage_fee);
        assert_eq!(b.data_usage, format!("{}GB", (h >> 16) % 100));
        assert_eq!(b.voice_usage, format!("{}분", (h >> 32) % 500));
        assert_eq!(b.due_date, "20260125");
        assert_eq!(b.bill_status, "UNPAID");
        let earlier = compute(&line, p, m.prev(), m);
        assert_eq!(earlier.bill_status, "CONFIRMED");
        assert_eq!(earlier.due_date, "20251225");
    }
}
