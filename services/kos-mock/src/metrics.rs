//! The KOS mock's own metric family (docs/api.md §6), registered on the process registry through
//! [`Metrics::counter_vec`]: `kos_mock_requests_total{endpoint,result_code,fault}`, one count per
//! request the gate saw. The name and labels are read by the dashboards: they do not change.

use phonebill_common::metrics::{IntCounterVec, Metrics};

/// `kos_mock_requests_total{endpoint,result_code,fault}`.
pub fn requests(metrics: &Metrics) -> IntCounterVec {
    metrics.counter_vec(
        "kos_mock_requests_total",
        "KOS mock requests",
        &["endpoint", "result_code", "fault"],
    )
}
