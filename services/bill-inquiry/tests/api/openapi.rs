//! The OpenAPI document built from the routes follows the operation convention (summaries that
//! say what and for whom, examples); the snapshot under docs/openapi/ checks its exact content.

/// Every operation says what it does and for whom and shows an example answer (and request).
#[test]
fn every_operation_has_a_summary_and_examples() {
    let doc = serde_json::to_value(phonebill_bill_inquiry::openapi()).unwrap();
    let n = phonebill_test_support::openapi::assert_operations_documented(&doc);
    assert!(n > 0, "no operations in {doc}");
}
