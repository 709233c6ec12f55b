//! What a KOS answer means for a change (docs/api.md §4.6 rules 6–9 and the reconciliation
//! give-up): the final state to write on the outbox record, or "outcome unknown, leave it
//! `PROCESSING`". Pure: the service writes the state, counts it and answers the caller.

use std::time::Duration;

use chrono::{DateTime, Utc};
use phonebill_common::error::ErrorCode;
use phonebill_common::kos::client::KosError;
use phonebill_common::kos::{ProductChangeData, codes};

use super::model::{E_KOS_TIMEOUT, E_KOS_UNAVAILABLE, Finish, ProcessStatus};

/// Why KOS refused a change before doing anything (the client may retry later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Our circuit breaker is open; nothing was sent.
    BreakerOpen {
        /// Remaining open time.
        retry_after: Duration,
    },
    /// KOS answered 429.
    RateLimited {
        /// Seconds the caller should wait (KOS's `Retry-After`, at least 1; 60 when absent).
        retry_after_secs: u64,
    },
}

/// The meaning of one answer to a change sent to KOS.
#[derive(Debug)]
pub enum ChangeOutcome {
    /// KOS applied or refused the change: write this state, answer from the record.
    Final(Finish),
    /// Nothing happened at KOS: write this `FAILED` state and answer the caller with the
    /// refusal (`503`/`Retry-After`), so a retry is a new change.
    Refused {
        /// The state to write.
        finish: Finish,
        /// What to tell the caller.
        refusal: Refusal,
    },
    /// Rule 9: timeout, connection error, 5xx or an unreadable answer after sending (or any
    /// refusal during reconciliation): the outcome is unknown and the record stays
    /// `PROCESSING` for the next reconciliation pass.
    Unknown(KosError),
}

/// A `FAILED` state with no KOS order.
fn failed(
    result_code: String,
    result_message: String,
    failure_reason: String,
    now: DateTime<Utc>,
) -> Finish {
    Finish {
        status: ProcessStatus::Failed,
        result_code,
        result_message,
        failure_reason: Some(failure_reason),
        kos_order_number: None,
        effective_date: None,
        processed_at: now,
    }
}

/// A `FAILED` state for a change KOS never received (breaker open, rate limit).
fn unavailable(reason: &str, now: DateTime<Utc>) -> Finish {
    failed(
        E_KOS_UNAVAILABLE.into(),
        ErrorCode::KosUnavailable.default_message().into(),
        reason.into(),
        now,
    )
}

/// The outcome of `answer`, KOS's answer to a change sent at `now`. `reconciling`: the answer
/// is to a reconciliation re-send, where nobody waits for a `503`, so a refusal only means
/// "try again next pass".
pub fn change_outcome(
    answer: Result<ProductChangeData, KosError>,
    reconciling: bool,
    now: DateTime<Utc>,
) -> ChangeOutcome {
    match answer {
        Ok(data) => {
            let info = data.change_info.as_ref();
            ChangeOutcome::Final(Finish {
                status: ProcessStatus::Completed,
                kos_order_number: info.map(|i| i.kos_order_number.clone()),
                effective_date: info.map(|i| i.effective_date.clone()),
                result_code: data.result_code,
                result_message: data.result_message,
                failure_reason: None,
                processed_at: now,
            })
        }
        Err(KosError::Business { code, message }) => {
            ChangeOutcome::Final(failed(code, message.clone(), message, now))
        }
        Err(KosError::BreakerOpen { retry_after }) if !reconciling => ChangeOutcome::Refused {
            finish: unavailable("KOS circuit breaker open", now),
            refusal: Refusal::BreakerOpen { retry_after },
        },
        Err(KosError::RateLimited { retry_after }) if !reconciling => ChangeOutcome::Refused {
            finish: unavailable("KOS rate limit", now),
            refusal: Refusal::RateLimited {
                retry_after_secs: retry_after.map_or(60, |d| d.as_secs().max(1)),
            },
        },
        Err(KosError::Rejected {
            status,
            result_code,
        }) => ChangeOutcome::Final(failed(
            result_code.unwrap_or_else(|| format!("HTTP_{status}")),
            "KOS가 요청을 거부했습니다".into(),
            format!("KOS rejected the request (HTTP {status})"),
            now,
        )),
        Err(e) => ChangeOutcome::Unknown(e),
    }
}

/// The final state of a change reconciliation gives up on at `now`, from the last look at KOS:
/// `on_target` when KOS shows the line on the target product (the change happened), else it is
/// `FAILED` with `E_KOS_TIMEOUT`.
pub fn given_up(on_target: bool, now: DateTime<Utc>) -> Finish {
    if on_target {
        Finish {
            status: ProcessStatus::Completed,
            result_code: codes::SUCCESS.into(),
            result_message: "정상 처리되었습니다".into(),
            failure_reason: None,
            kos_order_number: None,
            effective_date: None,
            processed_at: now,
        }
    } else {
        failed(
            E_KOS_TIMEOUT.into(),
            ErrorCode::KosTimeout.default_message().into(),
            "KOS did not confirm the change in time".into(),
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use phonebill_common::kos::ChangeInfo;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, 14, 1, 32, 11)
            .single()
            .expect("instant")
    }

    fn success() -> ProductChangeData {
        ProductChangeData {
            request_id: "PCR_20250914_0000000A".into(),
            result_code: "0000".into(),
            result_message: "정상 처리되었습니다".into(),
            change_info: Some(ChangeInfo {
                line_number: "01012345678".into(),
                previous_product_code: "5G-STANDARD-001".into(),
                previous_product_name: "5G 스탠다드".into(),
                new_product_code: "5G-PREMIUM-001".into(),
                new_product_name: "5G 프리미엄".into(),
                effective_date: "20250914".into(),
                change_status: "SUCCESS".into(),
                kos_order_number: "KOS202509141032001".into(),
                estimated_completion_time: "2025-09-14T10:32:11+09:00".into(),
            }),
        }
    }

    fn final_of(o: ChangeOutcome) -> Finish {
        match o {
            ChangeOutcome::Final(f) => f,
            other => panic!("expected a final state, got {other:?}"),
        }
    }

    #[test]
    fn success_completes_with_the_kos_order() {
        for reconciling in [false, true] {
            let f = final_of(change_outcome(Ok(success()), reconciling, now()));
            assert_eq!(f.status, ProcessStatus::Completed);
            assert_eq!(f.result_code, "0000");
            assert_eq!(f.result_message, "정상 처리되었습니다");
            assert_eq!(f.failure_reason, None);
            assert_eq!(f.kos_order_number.as_deref(), Some("KOS202509141032001"));
            assert_eq!(f.effective_date.as_deref(), Some("20250914"));
            assert_eq!(f.processed_at, now());
        }
        let mut bare = success();
        bare.change_info = None;
        let f = final_of(change_outcome(Ok(bare), false, now()));
        assert_eq!(f.status, ProcessStatus::Completed);
        assert_eq!(f.kos_order_number, None);
        assert_eq!(f.effective_date, None);
    }

    #[test]
    fn business_answer_fails_with_the_kos_code_and_message() {
        for reconciling in [false, true] {
            let f = final_of(change_outcome(
                Err(KosError::Business {
                    code: "2003".into(),
                    message: "사업자가 일치하지 않습니다".into(),
                }),
                reconciling,
                now(),
            ));
            assert_eq!(f.status, ProcessStatus::Failed);
            assert_eq!(f.result_code, "2003");
            assert_eq!(f.result_message, "사업자가 일치하지 않습니다");
            assert_eq!(
                f.failure_reason.as_deref(),
                Some("사업자가 일치하지 않습니다")
            );
            assert_eq!(f.kos_order_number, None);
        }
    }

    #[test]
    fn rejection_fails_with_its_code_or_the_http_status() {
        let f = final_of(change_outcome(
            Err(KosError::Rejected {
                status: 400,
                result_code: Some("9001".into()),
            }),
            false,
            now(),
        ));
        assert_eq!(f.status, ProcessStatus::Failed);
        assert_eq!(f.result_code, "9001");
        assert_eq!(f.result_message, "KOS가 요청을 거부했습니다");
        assert_eq!(
            f.failure_reason.as_deref(),
            Some("KOS rejected the request (HTTP 400)")
        );
        let f = final_of(change_outcome(
            Err(KosError::Rejected {
                status: 401,
                result_code: None,
            }),
            true,
            now(),
        ));
        assert_eq!(f.result_code, "HTTP_401");
    }

    #[test]
    fn breaker_and_rate_limit_refuse_a_waiting_caller() {
        match change_outcome(
            Err(KosError::BreakerOpen {
                retry_after: Duration::from_secs(7),
            }),
            false,
            now(),
        ) {
            ChangeOutcome::Refused { finish, refusal } => {
                assert_eq!(finish.status, ProcessStatus::Failed);
                assert_eq!(finish.result_code, E_KOS_UNAVAILABLE);
                assert_eq!(
                    finish.result_message,
                    ErrorCode::KosUnavailable.default_message()
                );
                assert_eq!(
                    finish.failure_reason.as_deref(),
                    Some("KOS circuit breaker open")
                );
                assert_eq!(
                    refusal,
                    Refusal::BreakerOpen {
                        retry_after: Duration::from_secs(7)
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        for (sent, secs) in [
            (Some(Duration::from_secs(5)), 5),
            (Some(Duration::from_millis(200)), 1),
            (None, 60),
        ] {
            match change_outcome(
                Err(KosError::RateLimited { retry_after: sent }),
                false,
                now(),
            ) {
                ChangeOutcome::Refused { finish, refusal } => {
                    assert_eq!(finish.result_code, E_KOS_UNAVAILABLE);
                    assert_eq!(finish.failure_reason.as_deref(), Some("KOS rate limit"));
                    assert_eq!(
                        refusal,
                        Refusal::RateLimited {
                            retry_after_secs: secs
                        }
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn refusals_while_reconciling_and_transport_failures_are_unknown() {
        let reconciling_refusals = [
            KosError::BreakerOpen {
                retry_after: Duration::from_secs(1),
            },
            KosError::RateLimited { retry_after: None },
        ];
        for e in reconciling_refusals {
            assert!(matches!(
                change_outcome(Err(e), true, now()),
                ChangeOutcome::Unknown(_)
            ));
        }
        for reconciling in [false, true] {
            let unknown = [
                KosError::Timeout,
                KosError::Connect("reset".into()),
                KosError::Upstream5xx {
                    status: 503,
                    result_code: Some("9999".into()),
                },
                KosError::Malformed("not json".into()),
            ];
            for e in unknown {
                let shown = e.to_string();
                match change_outcome(Err(e), reconciling, now()) {
                    ChangeOutcome::Unknown(kept) => assert_eq!(kept.to_string(), shown),
                    other => panic!("{shown}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn giving_up_follows_the_last_look() {
        let f = given_up(true, now());
        assert_eq!(f.status, ProcessStatus::Completed);
        assert_eq!(f.result_code, codes::SUCCESS);
        assert_eq!(f.result_message, "정상 처리되었습니다");
        assert_eq!(f.failure_reason, None);
        assert_eq!(f.processed_at, now());
        let f = given_up(false, now());
        assert_eq!(f.status, ProcessStatus::Failed);
        assert_eq!(f.result_code, E_KOS_TIMEOUT);
        assert_eq!(f.result_message, ErrorCode::KosTimeout.default_message());
        assert_eq!(
            f.failure_reason.as_deref(),
            Some("KOS did not confirm the change in time")
        );
    }
}
