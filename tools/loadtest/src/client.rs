//! A minimal HTTP/1.1 client for load generation: one keep-alive connection per virtual user and
//! host, requests sent one after another on it (what a browser tab does), no pool and no
//! redirects. Built on hyper's connection API so that 10,000 virtual users are 10,000 sockets and
//! the client costs as little CPU as possible on the cores it shares with the servers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest time one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Connecting failed.
    Connect(String),
    /// The connection broke while sending or receiving.
    Io(String),
    /// No answer within [`REQUEST_TIMEOUT`].
    Timeout,
}

impl Failure {
    /// A short label for error tables.
    pub fn label(&self) -> String {
        match self {
            Self::Connect(e) => format!("connect: {e}"),
            Self::Io(e) => format!("io: {e}"),
            Self::Timeout => "timeout".to_owned(),
        }
    }
}

/// A response: status, body and how long it took (from sending to the last body byte).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
    /// Request latency.
    pub latency: Duration,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: &'a str,
    /// Bearer token.
    pub token: Option<&'a str>,
    /// `X-Service-Name`: with the KOS service key as bearer token, the credential of an
    /// in-cluster caller of the KOS mock (docs/api.md §5.8; the production shape requires it).
    pub service: Option<&'a str>,
    /// JSON body.
    pub body: Option<Bytes>,
}

impl<'a> Call<'a> {
    /// `GET path`.
    pub fn get(path: &'a str) -> Self {
        Self {
            method: Method::GET,
            path,
            token: None,
            service: None,
            body: None,
        }
    }

    /// `POST path` with a JSON body.
    pub fn post(path: &'a str, body: impl Into<Bytes>) -> Self {
        Self {
            method: Method::POST,
            path,
            token: None,
            service: None,
            body: Some(body.into()),
        }
    }

    /// With `Authorization: Bearer token`.
    #[must_use]
    pub fn bearer(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }

    /// As the in-cluster caller `service` with the KOS service `key`.
    #[must_use]
    pub fn service(mut self, service: &'a str, key: &'a str) -> Self {
        self.service = Some(service);
        self.token = Some(key);
        self
    }
}

/// Keep-alive connections of one virtual user, at most one per host.
#[derive(Default)]
pub struct Conns {
    open: Vec<(SocketAddr, SendRequest<Full<Bytes>>)>,
    /// Keep only one connection at a time (closing the previous one when the host changes),
    /// used when the file-descriptor limit does not allow one per host for every user.
    pub single: bool,
}

impl Conns {
    /// A connection set; `single` keeps at most one open connection.
    pub fn new(single: bool) -> Self {
        Self {
            open: Vec::new(),
            single,
        }
    }

    /// Sends `call` to `addr`, connecting first if needed. A broken connection is dropped, so
    /// the next call reconnects.
    pub async fn send(&mut self, addr: SocketAddr, call: Call<'_>) -> Result<Reply, Failure> {
        let started = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(addr, call)).await;
        match result {
            Ok(Ok((status, body))) => Ok(Reply {
                status,
                body,
                latency: started.elapsed(),
            }),
            Ok(Err(f)) => {
                self.open.retain(|(a, _)| *a != addr);
                Err(f)
            }
            Err(_) => {
                self.open.retain(|(a, _)| *a != addr);
                Err(Failure::Timeout)
            }
        }
    }

    async fn send_inner(
        &mut self,
        addr: SocketAddr,
        call: Call<'_>,
    ) -> Result<(StatusCode, Bytes), Failure> {
        let idx = match self.open.iter().position(|(a, _)| *a == addr) {
            Some(i) => i,
            None => {
                if self.single {
                    self.open.clear();
                }
                let sender = connect(addr).await?;
                self.open.push((addr, sender));
                self.open.len() - 1
            }
        };
        let sender = &mut self.open[idx].1;
        sender
            .ready()
            .await
            .map_err(|e| Failure::Io(e.to_string()))?;
        let mut req = Request::builder()
            .method(call.method)
            .uri(call.path)
            .header(header::HOST, addr.to_string());
        if let Some(t) = call.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(s) = call.service {
            req = req.header("x-service-name", s);
        }
        let body = match call.body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                b
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(body))
            .map_err(|e| Failure::Io(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Failure::Io(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Io(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::Connect(e.kind().to_string()))?;
    // Small request/response pairs: Nagle would add 40 ms delayed-ACK stalls.
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::Connect(e.to_string()))?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped or the peer closes; either is normal.
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request on a fresh connection set (setup steps, readiness probes).
pub async fn once(addr: SocketAddr, call: Call<'_>) -> Result<Reply, Failure> {
    Conns::new(true).send(addr, call).await
}
