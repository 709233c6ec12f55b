//! Product-change checks (docs/api.md §5.3.3), in order, first failure wins:
//! 2001 line unknown, 2002 line not active, 2003 target unknown, 2006 current code mismatch,
//! 2004 target discontinued, 2005 target of another operator, 2099 nothing to change
//! (target equals the current product).

use phonebill_common::kos::codes;

use super::model::{Line, Product};

/// Checks a change of `line` from `current_code` to `target`; `Ok` when it may proceed.
pub fn check(
    line: Option<&Line>,
    current_code: &str,
    target: Option<&Product>,
) -> Result<(), &'static str> {
    let line = line.ok_or(codes::CHANGE_LINE_NOT_FOUND)?;
    if !line.is_active() {
        return Err(codes::CHANGE_LINE_NOT_ACTIVE);
    }
    let target = target.ok_or(codes::CHANGE_PRODUCT_NOT_FOUND)?;
    if line.current_product_code != current_code {
        return Err(codes::CHANGE_CURRENT_PRODUCT_MISMATCH);
    }
    if !target.is_active() {
        return Err(codes::CHANGE_PRODUCT_DISCONTINUED);
    }
    if target.operator_code != line.operator_code {
        return Err(codes::CHANGE_OPERATOR_MISMATCH);
    }
    if target.code == line.current_product_code {
        return Err(codes::CHANGE_FAILED);
    }
    Ok(())
}

/// The idempotency fingerprint of a change request: SHA-256 over the normalised fields.
pub fn request_hash(line11: &str, current: &str, target: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [line11, current, target] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::seed;

    fn product(code: &str) -> Product {
        seed::products()
            .into_iter()
            .find(|p| p.code == code)
            .unwrap()
    }

    fn line(n: &str) -> Line {
        seed::lines()
            .into_iter()
            .find(|l| l.line_number == n)
            .unwrap()
    }

    #[test]
    fn check_order() {
        let hong = line("01012345678");
        let premium = product("5G-PREMIUM-001");
        assert_eq!(check(None, "x", Some(&premium)), Err("2001"));
        assert_eq!(check(Some(&line("01055556666")), "x", None), Err("2002"));
        assert_eq!(check(Some(&hong), "WRONG", None), Err("2003"));
        assert_eq!(check(Some(&hong), "WRONG", Some(&premium)), Err("2006"));
        // 2006 wins over 2004
        assert_eq!(
            check(Some(&hong), "WRONG", Some(&product("3G-OLD-001"))),
            Err("2006")
        );
        assert_eq!(
            check(Some(&hong), "5G-STANDARD-001", Some(&product("3G-OLD-001"))),
            Err("2004")
        );
        assert_eq!(
            check(
                Some(&hong),
                "5G-STANDARD-001",
                Some(&product("LGU-LTE-001"))
            ),
            Err("2005")
        );
        assert_eq!(
            check(
                Some(&hong),
                "5G-STANDARD-001",
                Some(&product("5G-STANDARD-001"))
            ),
            Err("2099")
        );
        assert_eq!(
            check(Some(&hong), "5G-STANDARD-001", Some(&premium)),
            Ok(())
        );
    }

    #[test]
    fn hash_depends_on_every_field() {
        let a = request_hash("01012345678", "A", "B");
        assert_ne!(a, request_hash("01012345678", "A", "C"));
        assert_ne!(a, request_hash("01012345679", "A", "B"));
        assert_eq!(a, request_hash("01012345678", "A", "B"));
    }
}
