//! Test data: accounts registered through auth (docs/api.md §2.8) with a line created for each through
//! the KOS mock's data creation (docs/api.md §5.6), exactly as the registration page does, plus the
//! active demo users (docs/api.md §8) and, optionally, a bulk of extra KOS lines so the mock's store has a
//! realistic size. Then one login per account (docs/api.md §2.3) at the full Argon2 cost.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::client::{self, Call};
use crate::sut::Sut;

/// Product every created line starts on (validation towards `5G-PREMIUM-001` passes).
pub const START_PRODUCT: &str = "5G-STANDARD-001";

/// A user the virtual users act as.
pub struct Account {
    /// `userId`.
    pub user: String,
    /// Password.
    pub password: String,
    /// Line, 11 digits.
    pub line: String,
    /// Current product (updated after a completed change).
    pub product: Mutex<String>,
    /// A change of this line is in flight (the journey changes one line at a time).
    pub changing: AtomicBool,
    /// Until when (ms on the journey's clock) product look-ups of this line may include a KOS
    /// reload: from the start of a change until 2 s after it finished (invalidation and reload).
    pub dirty_until_ms: AtomicU64,
    /// Access token from the setup login.
    pub token: String,
}

impl Account {
    /// The product a change would go to.
    pub fn target(current: &str) -> &'static str {
        if current == "5G-PREMIUM-001" {
            "5G-STANDARD-001"
        } else {
            "5G-PREMIUM-001"
        }
    }
}

/// A login's tokens and its latency.
pub struct Login {
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// Latency.
    pub latency: Duration,
}

/// `POST /api/v1/auth/login`.
pub async fn login(auth: SocketAddr, user: &str, password: &str) -> anyhow::Result<Login> {
    let body = json!({ "userId": user, "password": password }).to_string();
    let r = client::once(auth, Call::post("/api/v1/auth/login", body))
        .await
        .map_err(|f| anyhow::anyhow!("login {user}: {}", f.label()))?;
    if !r.status.is_success() {
        bail!("login {user}: HTTP {}", r.status);
    }
    let v: Value = serde_json::from_slice(&r.body)?;
    let s = |k: &str| v[k].as_str().map(str::to_owned).context("token missing");
    Ok(Login {
        access: s("access_token")?,
        refresh: s("refresh_token")?,
        latency: r.latency,
    })
}

/// POSTs setup data (as the in-cluster caller `cred` = (service name, KOS key) when given); a
/// transport error or a 5xx is retried twice (setup is not measured, and a server-side failure
/// here is reported on stderr rather than aborting the run).
async fn post_ok(
    addr: SocketAddr,
    cred: Option<(&str, &str)>,
    path: &str,
    body: Value,
    what: &str,
) -> anyhow::Result<()> {
    let body = body.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut call = Call::post(path, body.clone());
        if let Some((service, key)) = cred {
            call = call.service(service, key);
        }
        let failure = match client::once(addr, call).await {
            Ok(r) if r.status.is_success() => return Ok(()),
            Ok(r) if r.status.is_server_error() => {
                format!("HTTP {} {}", r.status, String::from_utf8_lossy(&r.body))
            }
            Ok(r) => bail!(
                "{what}: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(f) => f.label(),
        };
        if attempt >= 3 {
            bail!("{what}: {failure}");
        }
        eprintln!("warning: setup {what} failed ({failure}); retrying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers `n` accounts with their lines, bulk-creates `extra` unowned lines, logs every
/// account in once. Returns the accounts and the login latencies.
pub async fn accounts(
    sut: &Sut,
    n: usize,
    extra: u32,
) -> anyhow::Result<(Vec<Account>, Vec<Duration>)> {
    let cred = sut.kos_credential();
    if extra > 0 {
        post_ok(
            sut.kos,
            cred,
            "/api/v1/kos/mock-datas/bulk",
            json!({ "count": extra, "startLineNumber": "01070000000" }),
            "bulk mock data",
        )
        .await?;
    }
    let (auth, kos) = (sut.auth, sut.kos);
    // Registration hashes a password (Argon2id, about 25 ms of one core); 8 in flight keeps
    // auth's hashing permit busy without piling up.
    let created: Vec<anyhow::Result<(String, String, String)>> = futures::stream::iter(0..n)
        .map(|i| async move {
            let line = format!("0106{i:07}");
            let dashed = format!("010-{}-{}", &line[3..7], &line[7..]);
            let user = format!("lt{i:05}");
            let customer = format!("LT{i:08}");
            let password = "Loadtest1!".to_owned();
            post_ok(
                auth,
                None,
                "/api/v1/auth/register",
                json!({ "userId": user, "customerId": customer, "lineNumber": dashed,
                            "userName": format!("부하{i}"), "password": password,
                            "permissions": ["BILL_INQUIRY", "PRODUCT_CHANGE"] }),
                "register",
            )
            .await?;
            post_ok(
                kos,
                cred,
                "/api/v1/kos/mock-datas",
                json!({ "customerId": customer, "lineNumber": line, "productCode": START_PRODUCT }),
                "mock data",
            )
            .await?;
            Ok((user, password, line))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut users: Vec<(String, String, String, String)> = vec![
        (
            "mvno001".into(),
            "Phonebill1!".into(),
            "01012345678".into(),
            "5G-STANDARD-001".into(),
        ),
        (
            "mvno002".into(),
            "Phonebill2!".into(),
            "01012347777".into(),
            "5G-PREMIUM-001".into(),
        ),
        (
            "mvno003".into(),
            "Phonebill3!".into(),
            "01098765432".into(),
            "LTE-BASIC-001".into(),
        ),
    ];
    for c in created {
        let (u, p, l) = c?;
        users.push((u, p, l, START_PRODUCT.to_owned()));
    }
    let logins: Vec<anyhow::Result<(Account, Duration)>> = futures::stream::iter(users)
        .map(|(user, password, line, product)| async move {
            let l = login(auth, &user, &password).await?;
            Ok((
                Account {
                    user,
                    password,
                    line,
                    product: Mutex::new(product),
                    changing: AtomicBool::new(false),
                    dirty_until_ms: AtomicU64::new(0),
                    token: l.access,
                },
                l.latency,
            ))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut accounts = Vec::new();
    let mut latencies = Vec::new();
    for l in logins {
        let (a, d) = l?;
        accounts.push(a);
        latencies.push(d);
    }
    Ok((accounts, latencies))
}
