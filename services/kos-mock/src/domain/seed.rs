//! The demo data of docs/api.md §5.4, identical on every run, and the mock-data defaults of docs/api.md §5.6.

use chrono::{Datelike, NaiveDate};

use super::model::{Line, Product};

/// The six demo products.
pub fn products() -> Vec<Product> {
    let p = |code: &str,
             name: &str,
             fee: i64,
             data: &str,
             voice: &str,
             sms: &str,
             op: &str,
             net: &str,
             status: &str,
             desc: &str| Product {
        code: code.into(),
        name: name.into(),
        monthly_fee: fee,
        data_allowance: data.into(),
        voice_allowance: voice.into(),
        sms_allowance: sms.into(),
        operator_code: op.into(),
        network_type: net.into(),
        status: status.into(),
        description: desc.into(),
    };
    vec![
        p(
            "5G-PREMIUM-001",
            "5G 프리미엄 플랜",
            89000,
            "무제한",
            "무제한",
            "무제한",
            "KT",
            "5G",
            "ACTIVE",
            "5G 네트워크 무제한 프리미엄 요금제",
        ),
        p(
            "5G-STANDARD-001",
            "5G 스탠다드 플랜",
            69000,
            "100GB",
            "무제한",
            "무제한",
            "KT",
            "5G",
            "ACTIVE",
            "5G 네트워크 스탠다드 요금제",
        ),
        p(
            "LTE-PREMIUM-001",
            "LTE 프리미엄 플랜",
            59000,
            "50GB",
            "무제한",
            "무제한",
            "KT",
            "LTE",
            "ACTIVE",
            "LTE 네트워크 프리미엄 요금제",
        ),
        p(
            "LTE-BASIC-001",
            "LTE 베이직 플랜",
            39000,
            "20GB",
            "무제한",
            "기본 제공",
            "KT",
            "LTE",
            "ACTIVE",
            "LTE 네트워크 베이직 요금제",
        ),
        p(
            "3G-OLD-001",
            "3G 레거시 플랜",
            29000,
            "5GB",
            "500분",
            "100건",
            "KT",
            "3G",
            "DISCONTINUED",
            "3G 네트워크 레거시 요금제 (신규 가입 불가)",
        ),
        p(
            "LGU-LTE-001",
            "U+ LTE 제휴 플랜",
            45000,
            "30GB",
            "무제한",
            "무제한",
            "LGU",
            "LTE",
            "ACTIVE",
            "타 사업자 제휴 요금제 (사업자 불일치 검증용)",
        ),
    ]
}

/// The five demo lines.
pub fn lines() -> Vec<Line> {
    let l = |cid: &str,
             line: &str,
             name: &str,
             product: &str,
             status: &str,
             (y, m, d): (i32, u32, u32)| Line {
        line_number: line.into(),
        customer_id: cid.into(),
        customer_name: name.into(),
        operator_code: "KT".into(),
        current_product_code: product.into(),
        initial_product_code: product.into(),
        line_status: status.into(),
        contract_date: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
    };
    vec![
        l(
            "CU202401001",
            "01012345678",
            "홍길동",
            "5G-STANDARD-001",
            "ACTIVE",
            (2024, 1, 15),
        ),
        l(
            "CU202401002",
            "01012347777",
            "김민준",
            "5G-PREMIUM-001",
            "ACTIVE",
            (2024, 3, 2),
        ),
        l(
            "CU202401003",
            "01098765432",
            "이서연",
            "LTE-BASIC-001",
            "ACTIVE",
            (2023, 11, 20),
        ),
        l(
            "CU202401004",
            "01055556666",
            "박지훈",
            "LTE-PREMIUM-001",
            "SUSPENDED",
            (2023, 6, 10),
        ),
        l(
            "CU202401005",
            "01077778888",
            "최유나",
            "3G-OLD-001",
            "ACTIVE",
            (2022, 8, 1),
        ),
    ]
}

/// The products a created line gets by default, indexed by `FNV-1a-64(line11) mod 4` (docs/api.md §5.6).
pub const DEFAULT_PRODUCTS: [&str; 4] = [
    "5G-STANDARD-001",
    "LTE-BASIC-001",
    "5G-PREMIUM-001",
    "LTE-PREMIUM-001",
];

/// The default product of a created line.
pub fn default_product(line11: &str) -> &'static str {
    let idx = (super::fnv1a64(line11.as_bytes()) % 4) as usize;
    DEFAULT_PRODUCTS[idx]
}

/// `customerName` of a created line: `고객<last 4 digits>`.
pub fn default_customer_name(line11: &str) -> String {
    format!("고객{}", &line11[line11.len().saturating_sub(4)..])
}

/// Contract date of a created line: the first day of `today`'s month minus 12 months.
pub fn created_contract_date(today: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(today.year() - 1, today.month(), 1).unwrap_or(today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_consistent() {
        let ps = products();
        for l in lines() {
            assert!(ps.iter().any(|p| p.code == l.current_product_code));
        }
        assert_eq!(default_customer_name("01012349999"), "고객9999");
        let d = NaiveDate::from_ymd_opt(2025, 9, 14).unwrap();
        assert_eq!(
            created_contract_date(d),
            NaiveDate::from_ymd_opt(2024, 9, 1).unwrap()
        );
        assert!(DEFAULT_PRODUCTS.contains(&default_product("01012349999")));
    }
}
