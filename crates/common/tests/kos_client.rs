//! The KOS client against a scripted raw-TCP KOS on 127.0.0.1 that reproduces each fault mode of
//! docs/api.md §5.7 (timeout, `500 9999`, `503`, malformed body, connection reset) plus business codes:
//! each maps to the right `KosError`, outcome metric and breaker count, and only idempotent reads
//! are retried, once, on connection errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use phonebill_common::breaker::{BreakerConfig, BreakerState};
use phonebill_common::kos::client::{KosClient, KosClientConfig, KosError};
use phonebill_common::kos::{BillInquiryRequest, ProductChangeRequest};
use phonebill_common::metrics::Metrics;
use phonebill_common::request_id::{self, RequestId};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Business1001,
    Timeout,
    Error500,
    Unavailable503,
    Malformed,
    Reset,
    RateLimited,
}

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
}

struct FakeKos {
    url: String,
    modes: Arc<Mutex<Vec<Mode>>>,
    seen: Arc<Mutex<Seen>>,
}

impl FakeKos {
    /// Modes are consumed one per request; the last one repeats.
    async fn start(modes: &[Mode]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let modes = Arc::new(Mutex::new(modes.to_vec()));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (m, s) = (modes.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (m, s) = (m.clone(), s.clone());
                tokio::spawn(serve(sock, m, s));
            }
        });
        Self { url, modes, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("lock").requests.clone()
    }

    fn set(&self, modes: &[Mode]) {
        *self.modes.lock().expect("lock") = modes.to_vec();
    }
}

async fn serve(mut sock: TcpStream, modes: Arc<Mutex<Vec<Mode>>>, seen: Arc<Mutex<Seen>>) {
    loop {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read one request: headers, then content-length bytes of body.
        let head_end = loop {
            let Ok(n) = sock.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let Ok(n) = sock.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        seen.lock().expect("lock").requests.push(head.clone());
        let mode = {
            let mut m = modes.lock().expect("lock");
            if m.len() > 1 { m.remove(0) } else { m[0] }
        };
        let ok_body = r#"{"success":true,"resultCode":"0000","resultMessage":"ok","data":{"requestId":"R1","procStatus":"SUCCESS","resultCode":"0000","resultMessage":"정상 처리되었습니다","billInfo":{"lineNumber":"01012345678","billingMonth":"202509","productCode":"5G-STANDARD-001","productName":"5G 스탠다드 플랜","monthlyFee":69000,"usageFee":12340,"discountAmount":0,"totalFee":81340,"dataUsage":"37GB","voiceUsage":"212분","smsUsage":"41건","billStatus":"UNPAID","dueDate":"20251025"},"customerInfo":{"customerName":"홍길동","customerId":"CU202401001","operatorCode":"KT","lineStatus":"ACTIVE"}},"timestamp":"","traceId":""}"#;
        let (status, body, extra) = match mode {
            Mode::Ok => ("200 OK", ok_body.to_owned(), ""),
            Mode::Business1001 => (
                "200 OK",
                r#"{"success":true,"resultCode":"0000","resultMessage":"ok","data":{"requestId":"R1","procStatus":"FAILED","resultCode":"1001","resultMessage":"존재하지 않는 회선번호입니다"}}"#.to_owned(),
                "",
            ),
            Mode::Timeout => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            Mode::Error500 => (
                "500 Internal Server Error",
                r#"{"success":false,"resultCode":"9999","resultMessage":"시스템 오류가 발생했습니다"}"#.to_owned(),
                "",
            ),
            Mode::Unavailable503 => (
                "503 Service Unavailable",
                r#"{"success":false,"resultCode":"9999","resultMessage":"unavailable"}"#.to_owned(),
                "retry-after: 30\r\n",
            ),
            Mode::Malformed => ("200 OK", "{\"success\": tru".to_owned(), ""),
            Mode::Reset => return, // drop the socket without an answer
            Mode::RateLimited => (
                "429 Too Many Requests",
                r#"{"success":false,"resultCode":"9429","resultMessage":"limit"}"#.to_owned(),
                "retry-after: 7\r\n",
            ),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
            body.len()
        );
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn client(url: &str, m: &Metrics) -> KosClient {
    let mut cfg = KosClientConfig::new(url, "bill-inquiry-service");
    cfg.read_timeout = Duration::from_millis(300);
    cfg.change_timeout = Duration::from_millis(300);
    cfg.retry_delay = Duration::from_millis(20);
    cfg.api_key = Some(SecretString::from("test-key"));
    cfg.breaker = BreakerConfig::default();
    KosClient::new(cfg, m).expect("client")
}

fn bill_req() -> BillInquiryRequest {
    BillInquiryRequest {
        line_number: "01012345678".into(),
        billing_month: Some("202509".into()),
        request_id: "REQ_20250914_4F1A9C2B".into(),
    }
}

fn change_req() -> ProductChangeRequest {
    ProductChangeRequest {
        line_number: "01012345678".into(),
        current_product_code: "5G-STANDARD-001".into(),
        target_product_code: "5G-PREMIUM-001".into(),
        request_id: "PCR_20250914_7C2D11AF".into(),
    }
}

fn outcomes(m: &Metrics, endpoint: &str, outcome: &str) -> u64 {
    m.kos_duration
        .with_label_values(&[endpoint, outcome])
        .get_sample_count()
}

#[tokio::test]
async fn success_sends_the_service_credential_request_id_and_trace_headers() {
    let kos = FakeKos::start(&[Mode::Ok]).await;
    let m = Metrics::new();
    let c = client(&kos.url, &m);
    let data = request_id::scope(RequestId("rid-123".into()), c.bill_inquiry(&bill_req()))
        .await
        .expect("bill");
    assert_eq!(data.bill_info.expect("bill").total_fee, 81340);
    let head = kos.requests()[0].to_ascii_lowercase();
    assert!(head.starts_with("post /api/v1/kos/bill/inquiry "), "{head}");
    assert!(
        head.contains("x-service-name: bill-inquiry-service"),
        "{head}"
    );
    assert!(head.contains("authorization: bearer test-key"), "{head}");
    assert!(head.contains("x-request-id: rid-123"), "{head}");
    assert_eq!(outcomes(&m, "bill-inquiry", "success"), 1);
}

#[tokio::test]
async fn a_business_code_is_data_for_the_breaker() {
    let kos = FakeKos::start(&[Mode::Business1001]).await;
    let m = Metrics::new();
    let c = client(&kos.url, &m);
    for _ in 0..6 {
        let e = c.bill_inquiry(&bill_req()).await.expect_err("1001");
        assert_eq!(
            e,
            KosError::Business {
                code: "1001".into(),
                message: "존재하지 않는 회선번호입니다".into()
            }
        );
    }
    assert_eq!(c.breaker().state(), BreakerState::Closed);
    assert_eq!(c.breaker().consecutive_failures(), 0);
    assert_eq!(outcomes(&m, "bill-inquiry", "business_error"), 6);
}

/// Fault mode, expected error, breaker failures counted, metric outcome.
type Case = (Mode, fn(&KosError) -> bool, u32, &'static str);

#[tokio::test]
async fn each_fault_maps_to_its_error_and_breaker_count() {
    let cases: [Case; 6] = [
        (Mode::Timeout, |e| *e == KosError::Timeout, 1, "timeout"),
        (
            Mode::Error500,
            |e| {
                *e == KosError::Upstream5xx {
                    status: 500,
                    result_code: Some("9999".into()),
                }
            },
            1,
            "error",
        ),
        (
            Mode::Unavailable503,
            |e| matches!(e, KosError::Upstream5xx { status: 503, .. }),
            1,
            "error",
        ),
        (
            Mode::Malformed,
            |e| matches!(e, KosError::Malformed(_)),
            0,
            "error",
        ),
        // A read is retried once on a connection error: two failures counted.
        (
            Mode::Reset,
            |e| matches!(e, KosError::Connect(_)),
            2,
            "error",
        ),
        (
            Mode::RateLimited,
            |e| {
                *e == KosError::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                }
            },
            0,
            "error",
        ),
    ];
    for (mode, check, failures, outcome) in cases {
        let kos = FakeKos::start(&[mode]).await;
        let m = Metrics::new();
        let c = client(&kos.url, &m);
        let e = c.bill_inquiry(&bill_req()).await.expect_err("fault");
        assert!(check(&e), "{mode:?} gave {e:?}");
        assert_eq!(
            c.breaker().consecutive_failures(),
            failures,
            "{mode:?} breaker count"
        );
        assert!(
            outcomes(&m, "bill-inquiry", outcome) >= 1,
            "{mode:?} metric"
        );
    }
}

#[tokio::test]
async fn one_retry_recovers_a_read_after_a_reset_but_never_a_change() {
    let kos = FakeKos::start(&[Mode::Reset, Mode::Ok]).await;
    let m = Metrics::new();
    let c = client(&kos.url, &m);
    c.bill_inquiry(&bill_req()).await.expect("retried read");
    assert_eq!(kos.requests().len(), 2);
    assert_eq!(c.breaker().consecutive_failures(), 0);

    kos.set(&[Mode::Reset, Mode::Ok]);
    let before = kos.requests().len();
    let e = c.product_change(&change_req()).await.expect_err("no retry");
    assert!(matches!(e, KosError::Connect(_)), "{e:?}");
    assert_eq!(kos.requests().len(), before + 1, "a change is sent once");

    kos.set(&[Mode::Timeout, Mode::Ok]);
    let before = kos.requests().len();
    assert_eq!(
        c.bill_inquiry(&bill_req()).await.expect_err("timeout"),
        KosError::Timeout
    );
    assert_eq!(kos.requests().len(), before + 1, "timeouts are not retried");
}

#[tokio::test]
async fn five_failures_open_the_breaker_and_calls_are_rejected_without_sending() {
    let kos = FakeKos::start(&[Mode::Error500]).await;
    let m = Metrics::new();
    let c = client(&kos.url, &m);
    for _ in 0..5 {
        c.bill_inquiry(&bill_req()).await.expect_err("500");
    }
    assert_eq!(c.breaker().state(), BreakerState::Open);
    let sent = kos.requests().len();
    let e = c.bill_inquiry(&bill_req()).await.expect_err("open");
    let KosError::BreakerOpen { retry_after } = e else {
        panic!("expected BreakerOpen, got {e:?}");
    };
    assert!(retry_after > Duration::from_secs(59));
    assert_eq!(kos.requests().len(), sent, "nothing sent while open");
    assert_eq!(outcomes(&m, "bill-inquiry", "rejected"), 1);
    let api = phonebill_common::ApiError::from(KosError::BreakerOpen { retry_after });
    assert_eq!(api.code(), phonebill_common::ErrorCode::KosUnavailable);
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let m = Metrics::new();
    let c = client("http://127.0.0.1:1", &m);
    let e = c.product_list().await.expect_err("refused");
    assert!(matches!(e, KosError::Connect(_)), "{e:?}");
    assert_eq!(c.breaker().consecutive_failures(), 2, "read retried once");
}
