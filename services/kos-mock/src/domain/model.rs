//! The mock's data: products and lines (customers), as stored (docs/api.md §7.4).

use chrono::NaiveDate;

/// A product (rate plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Code, e.g. `5G-STANDARD-001`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Won per month.
    pub monthly_fee: i64,
    /// Display text: `100GB`, `무제한`.
    pub data_allowance: String,
    /// Display text: `500분`, `무제한`.
    pub voice_allowance: String,
    /// Display text: `100건`, `무제한`, `기본 제공`.
    pub sms_allowance: String,
    /// Operator code (`KT`, `LGU`).
    pub operator_code: String,
    /// `5G`, `LTE`, `3G`.
    pub network_type: String,
    /// `ACTIVE` or `DISCONTINUED`.
    pub status: String,
    /// Description.
    pub description: String,
}

impl Product {
    /// Whether the product is on sale.
    pub fn is_active(&self) -> bool {
        self.status == phonebill_common::kos::product_status::ACTIVE
    }
}

/// A line with its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 11 digits.
    pub line_number: String,
    /// Customer id.
    pub customer_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Operator code.
    pub operator_code: String,
    /// Current product.
    pub current_product_code: String,
    /// Product at creation (bills of earlier months use it, docs/api.md §5.5).
    pub initial_product_code: String,
    /// `ACTIVE`, `SUSPENDED`, `TERMINATED`.
    pub line_status: String,
    /// Contract date.
    pub contract_date: NaiveDate,
}

impl Line {
    /// Whether the line is in service.
    pub fn is_active(&self) -> bool {
        self.line_status == phonebill_common::kos::line_status::ACTIVE
    }
}

/// A line to create (demo seed, mock-data creation).
pub type NewLine = Line;

/// Allowance text → integer for the product list: `-1` unlimited (`무제한`, and `기본 제공`,
/// which for SMS means "included without limit"), else the leading number (`100GB` → 100).
pub fn allowance_number(text: &str) -> i64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_numbers() {
        assert_eq!(allowance_number("100GB"), 100);
        assert_eq!(allowance_number("500분"), 500);
        assert_eq!(allowance_number("100건"), 100);
        assert_eq!(allowance_number("무제한"), -1);
        assert_eq!(allowance_number("기본 제공"), -1);
    }
}
