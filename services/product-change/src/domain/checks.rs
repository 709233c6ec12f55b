//! The three pre-checks of docs/api.md §4.5, run in order and all reported.

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Catalog, LineSnapshot};

/// Which check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckType {
    /// Target exists, is on sale, differs from current.
    ProductAvailable,
    /// Current and target have the same operator.
    OperatorMatch,
    /// The line is active.
    LineStatus,
}

/// PASS or FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CheckResult {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
}

/// One reported check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationDetail {
    /// Which check.
    pub check_type: CheckType,
    /// PASS / FAIL.
    pub result: CheckResult,
    /// The docs/api.md text.
    pub message: String,
}

/// All three checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOutcome {
    /// In check order.
    pub details: Vec<ValidationDetail>,
}

impl ValidationOutcome {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.details.iter().all(|d| d.result == CheckResult::Pass)
    }

    /// docs/api.md §4.5 `failureReason`: the failing checks' sentences, in order, joined by a space.
    pub fn failure_reason(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .details
            .iter()
            .filter(|d| d.result == CheckResult::Fail)
            .map(|d| match d.check_type {
                CheckType::ProductAvailable => "변경 대상 상품이 판매중이 아닙니다.",
                CheckType::OperatorMatch => {
                    "현재 상품과 변경 대상 상품의 사업자가 일치하지 않습니다."
                }
                CheckType::LineStatus => "회선 상태가 상품변경이 불가능한 상태입니다.",
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

fn detail(check_type: CheckType, pass: bool, message: impl Into<String>) -> ValidationDetail {
    ValidationDetail {
        check_type,
        result: if pass {
            CheckResult::Pass
        } else {
            CheckResult::Fail
        },
        message: message.into(),
    }
}

/// Runs `PRODUCT_AVAILABLE`, `OPERATOR_MATCH` and `LINE_STATUS`. `line` is `None` when KOS does not
/// know the line.
pub fn run_checks(
    catalog: &Catalog,
    line: Option<&LineSnapshot>,
    current_code: &str,
    target_code: &str,
) -> ValidationOutcome {
    let current = catalog.get(current_code);
    let target = catalog.get(target_code);
    let available = match target {
        None => detail(
            CheckType::ProductAvailable,
            false,
            "존재하지 않는 상품코드입니다",
        ),
        Some(_) if target_code == current_code => detail(
            CheckType::ProductAvailable,
            false,
            "현재 상품과 동일한 상품입니다",
        ),
        Some(t) if !t.available => {
            detail(CheckType::ProductAvailable, false, "판매 중단된 상품입니다")
        }
        Some(_) => detail(CheckType::ProductAvailable, true, "판매중인 상품입니다"),
    };
    let operator = match (current, target) {
        (None, _) => detail(
            CheckType::OperatorMatch,
            false,
            "현재 상품 정보를 찾을 수 없습니다",
        ),
        (Some(_), None) => detail(
            CheckType::OperatorMatch,
            false,
            "변경 대상 상품 정보를 찾을 수 없습니다",
        ),
        (Some(c), Some(t)) if c.operator_code == t.operator_code => {
            detail(CheckType::OperatorMatch, true, "사업자가 일치합니다")
        }
        (Some(c), Some(t)) => detail(
            CheckType::OperatorMatch,
            false,
            format!(
                "사업자가 일치하지 않습니다 (현재: {}, 변경: {})",
                c.operator_code, t.operator_code
            ),
        ),
    };
    let status = match line.map(|l| l.line_status.as_str()) {
        Some("ACTIVE") => detail(CheckType::LineStatus, true, "회선이 정상 상태입니다"),
        Some("SUSPENDED") => detail(CheckType::LineStatus, false, "회선이 정지 상태입니다"),
        Some("TERMINATED") => detail(CheckType::LineStatus, false, "회선이 해지된 상태입니다"),
        _ => detail(CheckType::LineStatus, false, "회선 정보를 찾을 수 없습니다"),
    };
    ValidationOutcome {
        details: vec![available, operator, status],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Product;

    fn product(code: &str, op: &str, available: bool) -> Product {
        Product {
            product_code: code.into(),
            product_name: code.into(),
            monthly_fee: 1,
            data_allowance: String::new(),
            voice_allowance: String::new(),
            sms_allowance: String::new(),
            operator_code: op.into(),
            description: String::new(),
            available,
        }
    }

    fn catalog() -> Catalog {
        Catalog {
            products: vec![
                product("5G-STANDARD-001", "KT", true),
                product("5G-PREMIUM-001", "KT", true),
                product("3G-OLD-001", "KT", false),
                product("LGU-LTE-001", "LGU", true),
            ],
        }
    }

    fn line(status: &str) -> LineSnapshot {
        LineSnapshot {
            customer_id: "C".into(),
            customer_name: "N".into(),
            line_number: "01012345678".into(),
            operator_code: "KT".into(),
            line_status: status.into(),
            contract_date: "2024-01-15".into(),
            current_product_code: "5G-STANDARD-001".into(),
            current_product_name: String::new(),
            monthly_fee: 0,
            data_allowance: String::new(),
            voice_allowance: String::new(),
            sms_allowance: String::new(),
            product_status: "ACTIVE".into(),
        }
    }

    fn messages(o: &ValidationOutcome) -> Vec<(CheckResult, &str)> {
        o.details
            .iter()
            .map(|d| (d.result, d.message.as_str()))
            .collect()
    }

    #[test]
    fn all_pass() {
        let o = run_checks(
            &catalog(),
            Some(&line("ACTIVE")),
            "5G-STANDARD-001",
            "5G-PREMIUM-001",
        );
        assert!(o.passed());
        assert_eq!(o.failure_reason(), None);
        assert_eq!(
            messages(&o),
            vec![
                (CheckResult::Pass, "판매중인 상품입니다"),
                (CheckResult::Pass, "사업자가 일치합니다"),
                (CheckResult::Pass, "회선이 정상 상태입니다"),
            ]
        );
        assert_eq!(o.details[0].check_type, CheckType::ProductAvailable);
        assert_eq!(o.details[2].check_type, CheckType::LineStatus);
    }

    #[test]
    fn each_failure_has_its_message_and_reasons_join_in_order() {
        let c = catalog();
        let o = run_checks(&c, Some(&line("ACTIVE")), "5G-STANDARD-001", "3G-OLD-001");
        assert_eq!(o.details[0].message, "판매 중단된 상품입니다");
        assert_eq!(
            o.failure_reason().unwrap(),
            "변경 대상 상품이 판매중이 아닙니다."
        );
        let o = run_checks(
            &c,
            Some(&line("ACTIVE")),
            "5G-STANDARD-001",
            "5G-STANDARD-001",
        );
        assert_eq!(o.details[0].message, "현재 상품과 동일한 상품입니다");
        let o = run_checks(&c, Some(&line("ACTIVE")), "5G-STANDARD-001", "NOPE");
        assert_eq!(o.details[0].message, "존재하지 않는 상품코드입니다");
        let o = run_checks(
            &c,
            Some(&line("SUSPENDED")),
            "5G-STANDARD-001",
            "LGU-LTE-001",
        );
        assert_eq!(
            o.details[1].message,
            "사업자가 일치하지 않습니다 (현재: KT, 변경: LGU)"
        );
        assert_eq!(o.details[2].message, "회선이 정지 상태입니다");
        assert_eq!(
            o.failure_reason().unwrap(),
            "현재 상품과 변경 대상 상품의 사업자가 일치하지 않습니다. 회선 상태가 상품변경이 불가능한 상태입니다."
        );
        let o = run_checks(&c, None, "UNKNOWN", "5G-PREMIUM-001");
        assert_eq!(o.details[1].message, "현재 상품 정보를 찾을 수 없습니다");
        assert_eq!(o.details[2].message, "회선 정보를 찾을 수 없습니다");
        let o = run_checks(
            &c,
            Some(&line("TERMINATED")),
            "5G-STANDARD-001",
            "5G-PREMIUM-001",
        );
        assert_eq!(o.details[2].message, "회선이 해지된 상태입니다");
    }
}
