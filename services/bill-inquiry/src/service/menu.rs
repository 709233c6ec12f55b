//! The menu (docs/api.md §3.1): the caller's first line and the months that can be queried;
//! never fails because of KOS (stale copy, else the last six months and a notice).

use std::time::Instant;

use phonebill_common::auth::AuthUser;
use phonebill_common::cache::{Cached, Loaded, Lookup, Negative};
use phonebill_common::kos::client::KosError;
use phonebill_common::line::LineNumber;
use phonebill_common::request_id;
use serde::Serialize;

use super::{BillService, months_key};
use crate::domain::outcome::is_negative_months_code;
use crate::domain::{Month, six_months};

/// The menu's message when KOS could not give the months (docs/api.md §3.1).
pub const MSG_MENU_FALLBACK: &str = "조회 가능 월 정보를 임시로 제공합니다";
/// The menu's normal message.
pub const MSG_MENU: &str = "요금조회 메뉴를 성공적으로 조회했습니다";
/// `data.customerInfo` of the menu.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuCustomer {
    /// Customer id.
    pub customer_id: String,
    /// The caller's first line, dashed (`010-1234-5678`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<String>,
}

/// `data` of the menu (docs/api.md §3.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MenuData {
    /// Customer and first line.
    pub customer_info: MenuCustomer,
    /// `YYYY-MM`, newest first.
    pub available_months: Vec<String>,
    /// `YYYY-MM` (Korea time).
    pub current_month: String,
}

impl BillService {
    /// The menu (docs/api.md §3.1): never fails because of KOS.
    pub async fn menu(&self, user: &AuthUser) -> (MenuData, &'static str) {
        let now = self.d().clock.now();
        let current = Month::of_kst(now);
        let first = user.lines().into_iter().next();
        let customer_info = MenuCustomer {
            customer_id: user.customer_id().to_owned(),
            line_number: first.as_ref().map(LineNumber::dashed),
        };
        let mut message = MSG_MENU;
        let available_months = match &first {
            None => Vec::new(),
            Some(line) => {
                let key = months_key(line);
                let loaded = self
                    .d()
                    .cache
                    .get_or_load(&key, || self.load_months(line))
                    .await;
                match loaded {
                    Ok(Lookup {
                        entry: Cached::Value(v),
                        ..
                    }) => v.as_ref().clone(),
                    Ok(Lookup {
                        entry: Cached::Negative(_),
                        ..
                    }) => Vec::new(),
                    Err(_) => match self.d().cache.get_stale(&key).await {
                        Some(s) => s.value.as_ref().clone(),
                        None => {
                            message = MSG_MENU_FALLBACK;
                            six_months(current).into_iter().map(Month::dashed).collect()
                        }
                    },
                }
            }
        };
        (
            MenuData {
                customer_info,
                available_months,
                current_month: current.dashed(),
            },
            message,
        )
    }

    async fn load_months(&self, line: &LineNumber) -> Result<Loaded<Vec<String>>, KosError> {
        let called_at = self.d().clock.now();
        let started = Instant::now();
        let res = self.d().kos.available_months(line.as_str()).await;
        let rid = request_id::current().map_or_else(String::new, |r| r.as_str().to_owned());
        self.log_kos_call(&rid, "available-months", called_at, started, &res)
            .await;
        match res {
            Ok(d) => Ok(Loaded::Value(d.available_months)),
            Err(KosError::Business { code, message }) if is_negative_months_code(&code) => {
                Ok(Loaded::Negative(Negative { code, message }))
            }
            Err(e) => Err(e),
        }
    }
}
