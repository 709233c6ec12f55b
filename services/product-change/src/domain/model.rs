//! Domain types: products and lines as KOS describes them, change records, and the small
//! computations around them (contract figures, request ids, body hashes, give-up rule).

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use phonebill_common::kos::{ProductInquiryData, ProductItem};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The product object of docs/api.md §4.1 (camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// e.g. `5G-STANDARD-001`.
    pub product_code: String,
    /// Display name.
    pub product_name: String,
    /// Won per month.
    pub monthly_fee: i64,
    /// e.g. `100GB`, `무제한`.
    pub data_allowance: String,
    /// e.g. `무제한`.
    pub voice_allowance: String,
    /// e.g. `기본 제공`.
    pub sms_allowance: String,
    /// `KT`, `LGU`, …
    pub operator_code: String,
    /// Description.
    pub description: String,
    /// KOS status is `ACTIVE` (as-built `isAvailable`).
    pub available: bool,
}

impl From<&ProductItem> for Product {
    fn from(p: &ProductItem) -> Self {
        Self {
            product_code: p.product_code.clone(),
            product_name: p.product_name.clone(),
            monthly_fee: p.monthly_fee,
            data_allowance: p.data_allowance_text.clone(),
            voice_allowance: p.voice_allowance_text.clone(),
            sms_allowance: p.sms_allowance_text.clone(),
            operator_code: p.operator_code.clone(),
            description: p.description.clone(),
            available: p.status == "ACTIVE",
        }
    }
}

/// The product catalogue (cached as `product:list`), ordered by monthly fee descending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Every product, any status.
    pub products: Vec<Product>,
}

impl Catalog {
    /// Builds the catalogue from KOS items, ordered by `monthlyFee` descending.
    pub fn from_items(items: &[ProductItem]) -> Self {
        let mut products: Vec<Product> = items.iter().map(Product::from).collect();
        products.sort_by(|a, b| {
            b.monthly_fee
                .cmp(&a.monthly_fee)
                .then_with(|| a.product_code.cmp(&b.product_code))
        });
        Self { products }
    }

    /// The product with `code`.
    pub fn get(&self, code: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product_code == code)
    }

    /// docs/api.md §4.4: active products, fee descending, without `exclude` when given.
    pub fn available(&self, exclude: Option<&str>) -> Vec<Product> {
        self.products
            .iter()
            .filter(|p| p.available && Some(p.product_code.as_str()) != exclude)
            .cloned()
            .collect()
    }
}

/// A line as KOS product inquiry describes it (cached as `product:customer:{line}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSnapshot {
    /// Customer id.
    pub customer_id: String,
    /// Customer name.
    pub customer_name: String,
    /// 11 digits.
    pub line_number: String,
    /// Operator of the line.
    pub operator_code: String,
    /// `ACTIVE` | `SUSPENDED` | `TERMINATED`.
    pub line_status: String,
    /// `YYYY-MM-DD`.
    pub contract_date: String,
    /// Current product code.
    pub current_product_code: String,
    /// Current product name.
    pub current_product_name: String,
    /// Current product fee.
    pub monthly_fee: i64,
    /// Allowance texts.
    pub data_allowance: String,
    /// Allowance texts.
    pub voice_allowance: String,
    /// Allowance texts.
    pub sms_allowance: String,
    /// KOS status of the current product.
    pub product_status: String,
}

/// KOS answered SUCCESS without the parts a line needs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("KOS product inquiry answer lacks productInfo/customerInfo")]
pub struct IncompleteInquiry;

impl LineSnapshot {
    /// From a successful KOS product inquiry.
    pub fn from_inquiry(d: &ProductInquiryData) -> Result<Self, IncompleteInquiry> {
        let (Some(p), Some(c)) = (&d.product_info, &d.customer_info) else {
            return Err(IncompleteInquiry);
        };
        Ok(Self {
            customer_id: c.customer_id.clone(),
            customer_name: c.customer_name.clone(),
            line_number: p.line_number.clone(),
            operator_code: if p.operator_code.is_empty() {
                c.operator_code.clone()
            } else {
                p.operator_code.clone()
            },
            line_status: c.line_status.clone(),
            contract_date: p.contract_date.chars().take(10).collect(),
            current_product_code: p.current_product_code.clone(),
            current_product_name: p.current_product_name.clone(),
            monthly_fee: p.monthly_fee,
            data_allowance: p.data_allowance.clone(),
            voice_allowance: p.voice_allowance.clone(),
            sms_allowance: p.sms_allowance.clone(),
            product_status: p.product_status.clone(),
        })
    }

    /// The current product as a product object: the catalogue's entry when known (it has the
    /// description), else what the inquiry said.
    pub fn current_product(&self, catalog: Option<&Catalog>) -> Product {
        if let Some(p) = catalog.and_then(|c| c.get(&self.current_product_code)) {
            return p.clone();
        }
        Product {
            product_code: self.current_product_code.clone(),
            product_name: self.current_product_name.clone(),
            monthly_fee: self.monthly_fee,
            data_allowance: self.data_allowance.clone(),
            voice_allowance: self.voice_allowance.clone(),
            sms_allowance: self.sms_allowance.clone(),
            operator_code: self.operator_code.clone(),
            description: String::new(),
            available: self.product_status == "ACTIVE",
        }
    }
}

/// `contractInfo` of docs/api.md §4.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractInfo {
    /// `YYYY-MM-DD`.
    pub contract_date: String,
    /// Contract date + 24 months.
    pub term_end_date: String,
    /// 5,000 won × whole months left until `termEndDate` (0 after it).
    pub early_termination_fee: i64,
}

/// Won per remaining month of the 24-month term.
pub const FEE_PER_MONTH: i64 = 5_000;

/// Contract figures for a contract signed on `contract` (`YYYY-MM-DD`) as of `today` (KST);
/// `None` when the date is unreadable.
pub fn contract_info(contract: &str, today: NaiveDate) -> Option<ContractInfo> {
    let start = NaiveDate::parse_from_str(contract, "%Y-%m-%d").ok()?;
    let end = start.checked_add_months(Months::new(24))?;
    let mut months = (end.year() - today.year()) * 12 + (end.month() as i32 - today.month() as i32);
    if end.day() < today.day() {
        months -= 1;
    }
    Some(ContractInfo {
        contract_date: start.format("%Y-%m-%d").to_string(),
        term_end_date: end.format("%Y-%m-%d").to_string(),
        early_termination_fee: i64::from(months.max(0)) * FEE_PER_MONTH,
    })
}

/// `processStatus` of a change (docs/api.md §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessStatus {
    /// Accepted, not yet sent.
    Pending,
    /// Sent to KOS, outcome not known yet.
    Processing,
    /// KOS applied it.
    Completed,
    /// KOS refused it, or it was given up.
    Failed,
}

impl ProcessStatus {
    /// Wire/storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => Self::Pending,
            "PROCESSING" => Self::Processing,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            _ => return None,
        })
    }
}

/// One row of `product_change_history` (the outbox record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// `PCR_…` or the client's id.
    pub request_id: String,
    /// Caller.
    pub user_id: String,
    /// Caller's customer id.
    pub customer_id: String,
    /// 11 digits.
    pub line_number: String,
    /// Product before.
    pub current_product_code: String,
    /// Its name.
    pub current_product_name: String,
    /// Product asked for.
    pub target_product_code: String,
    /// Its name.
    pub target_product_name: String,
    /// State.
    pub process_status: ProcessStatus,
    /// KOS or our result code.
    pub result_code: Option<String>,
    /// Its message.
    pub result_message: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// KOS order number on success.
    pub kos_order_number: Option<String>,
    /// `YYYYMMDD` on success.
    pub effective_date: Option<String>,
    /// Reconciliation attempts so far.
    pub attempts: i32,
    /// Earliest next reconciliation.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When it finished.
    pub processed_at: Option<DateTime<Utc>>,
    /// Last change of the row.
    pub updated_at: DateTime<Utc>,
}

/// The final state written onto a `PROCESSING` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// `COMPLETED` or `FAILED`.
    pub status: ProcessStatus,
    /// Result code.
    pub result_code: String,
    /// Result message.
    pub result_message: String,
    /// Failure reason (FAILED only).
    pub failure_reason: Option<String>,
    /// KOS order number (COMPLETED only).
    pub kos_order_number: Option<String>,
    /// Effective date (COMPLETED only).
    pub effective_date: Option<String>,
    /// When.
    pub processed_at: DateTime<Utc>,
}

/// Result code of a change given up by reconciliation.
pub const E_KOS_TIMEOUT: &str = "E_KOS_TIMEOUT";
/// Result code of a change refused because the breaker was open.
pub const E_KOS_UNAVAILABLE: &str = "E_KOS_UNAVAILABLE";
/// Result code/message of a change still in flight.
pub const PROCESSING_CODE: &str = "0100";
/// Message of a change still in flight.
pub const PROCESSING_MESSAGE: &str = "상품 변경 요청이 처리 중입니다";

/// A new `requestId`: `PCR_<yyyyMMdd KST>_<8 upper-case hex>`.
pub fn new_request_id(now: DateTime<Utc>) -> String {
    let day = now
        .with_timezone(&phonebill_common::time::kst())
        .format("%Y%m%d");
    format!("PCR_{day}_{:08X}", rand::random::<u32>())
}

/// Whether `key` is a usable idempotency key / client request id (1–64 of `[A-Za-z0-9_-]`).
pub fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// SHA-256 (hex) of the normalised change request: what "identical body" means for a key.
pub fn request_hash(
    line: &str,
    current: &str,
    target: &str,
    client_request_id: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for part in [line, current, target, client_request_id.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Whether reconciliation should give a `PROCESSING` record up (docs/api.md §4.6: after 10 attempts or
/// 30 minutes).
pub fn should_give_up(
    attempts: i32,
    requested_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_attempts: i32,
    max_age: std::time::Duration,
) -> bool {
    let age = now.signed_duration_since(requested_at);
    attempts >= max_attempts || age.to_std().is_ok_and(|a| a >= max_age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn contract_figures() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let c = contract_info("2024-01-15", d("2025-09-14")).unwrap();
        assert_eq!(c.term_end_date, "2026-01-15");
        // 2025-09-14 → 2026-01-15: 4 whole months (and a day).
        assert_eq!(c.early_termination_fee, 20_000);
        let c = contract_info("2024-01-15", d("2025-09-16")).unwrap();
        assert_eq!(c.early_termination_fee, 15_000);
        let c = contract_info("2022-08-01", d("2025-09-14")).unwrap();
        assert_eq!(c.term_end_date, "2024-08-01");
        assert_eq!(c.early_termination_fee, 0);
        assert!(contract_info("nope", d("2025-09-14")).is_none());
    }

    #[test]
    fn request_ids_have_the_spec_shape() {
        let t = Utc.with_ymd_and_hms(2025, 9, 13, 16, 0, 0).unwrap(); // 01:00 KST on the 14th
        let id = new_request_id(t);
        assert!(id.starts_with("PCR_20250914_"), "{id}");
        let hex = &id["PCR_20250914_".len()..];
        assert_eq!(hex.len(), 8);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert!(valid_key(&id));
    }

    #[test]
    fn keys_and_hashes() {
        assert!(valid_key("abc-DEF_123"));
        assert!(!valid_key(""));
        assert!(!valid_key("a b"));
        assert!(!valid_key(&"a".repeat(65)));
        let a = request_hash("01012345678", "A", "B", None);
        assert_eq!(a, request_hash("01012345678", "A", "B", None));
        assert_ne!(a, request_hash("01012345678", "A", "C", None));
        assert_ne!(a, request_hash("01012345678", "AB", "", None));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn give_up_after_attempts_or_age() {
        let t0 = Utc.with_ymd_and_hms(2025, 9, 14, 1, 0, 0).unwrap();
        let max_age = std::time::Duration::from_secs(1800);
        assert!(!should_give_up(0, t0, t0, 10, max_age));
        assert!(should_give_up(10, t0, t0, 10, max_age));
        assert!(!should_give_up(
            9,
            t0,
            t0 + chrono::Duration::minutes(29),
            10,
            max_age
        ));
        assert!(should_give_up(
            1,
            t0,
            t0 + chrono::Duration::minutes(30),
            10,
            max_age
        ));
    }
}
