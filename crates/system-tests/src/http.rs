//! A small JSON client that times every call, and Prometheus text parsing.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// One answer: status, headers, body (JSON, or the text as a JSON string), wall time.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body as JSON (`Value::String` when it is not JSON).
    pub body: Value,
    /// Time from sending to the whole body read.
    pub elapsed: Duration,
}

impl Resp {
    /// A header as text (empty when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// `error.code` of a failure envelope (empty when absent).
    pub fn code(&self) -> String {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A client with a per-call timeout.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client whose calls give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("reqwest client"),
        }
    }

    /// The underlying client.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request; `Err` only for transport failures (no HTTP answer).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let start = Instant::now();
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let elapsed = start.elapsed();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Resp {
            status,
            headers,
            body,
            elapsed,
        })
    }

    /// `GET`, panicking on a transport failure.
    pub async fn get(&self, url: &str, token: Option<&str>) -> Resp {
        self.send(Method::GET, url, token, None)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// `POST` JSON, panicking on a transport failure.
    pub async fn post(&self, url: &str, token: Option<&str>, body: &Value) -> Resp {
        self.send(Method::POST, url, token, Some(body))
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    /// `PUT` JSON, panicking on a transport failure.
    pub async fn put(&self, url: &str, body: &Value) -> Resp {
        self.send(Method::PUT, url, None, Some(body))
            .await
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
    }

    /// `DELETE`, panicking on a transport failure.
    pub async fn delete(&self, url: &str) -> Resp {
        self.send(Method::DELETE, url, None, None)
            .await
            .unwrap_or_else(|e| panic!("DELETE {url}: {e}"))
    }
}

/// Sum of the samples of `name` whose label set contains every `labels` pair, from Prometheus
/// text. Histogram series are addressed by their full name (`…_count`).
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, label_part) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let ok = labels
                .iter()
                .all(|(k, v)| label_part.contains(&format!("{k}=\"{v}\"")));
            ok.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_matching_series() {
        let text = "# HELP x\nkos_request_duration_seconds_count{endpoint=\"bill-inquiry\",outcome=\"timeout\"} 5\n\
                    kos_request_duration_seconds_count{endpoint=\"bill-inquiry\",outcome=\"rejected\"} 20\n\
                    circuit_breaker_state{breaker=\"kos\"} 1\n";
        assert_eq!(
            metric_sum(
                text,
                "kos_request_duration_seconds_count",
                &[("outcome", "timeout")]
            ),
            5.0
        );
        assert_eq!(
            metric_sum(text, "kos_request_duration_seconds_count", &[]),
            25.0
        );
        assert_eq!(metric_sum(text, "circuit_breaker_state", &[]), 1.0);
        assert_eq!(metric_sum(text, "missing", &[]), 0.0);
    }
}
