//! Logging and tracing for binaries.
//!
//! [`init`] is called once by a binary's `main` (never by a service library): `tracing` with the
//! level from `RUST_LOG` (default `info`), JSON lines when stdout is not a terminal or
//! `LOG_FORMAT=json`, and OTLP trace export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The W3C
//! trace-context propagator is always installed, so `traceparent` is read from requests and
//! written on calls to KOS. Every log line passes through a writer that masks line numbers, as a
//! last line of defence behind the masked `Display` of [`crate::line::LineNumber`].
//!
//! Variables: `RUST_LOG`, `LOG_FORMAT` (`json` | `pretty` | `auto`), `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_SERVICE_NAME`.

use std::io::{IsTerminal, Write};

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Telemetry settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of traces.
    pub service_name: String,
    /// Log format.
    pub format: LogFormat,
    /// Whether OTLP export is on.
    pub otlp: bool,
}

impl TelemetryConfig {
    /// Reads `LOG_FORMAT`, `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_SERVICE_NAME`.
    pub fn from_env(env: Env<'_>, default_service_name: &str) -> Result<Self, ConfigError> {
        let format = match env
            .string("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => {
                if std::io::stdout().is_terminal() {
                    LogFormat::Pretty
                } else {
                    LogFormat::Json
                }
            }
            Some("json") => LogFormat::Json,
            Some("pretty" | "text") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected json, pretty or auto, got {other:?}"),
                ));
            }
        };
        let otlp = match env.string("OTEL_EXPORTER_OTLP_ENDPOINT") {
            None => false,
            Some(e) if e.starts_with("http://") || e.starts_with("https://") => true,
            Some(e) => {
                return Err(ConfigError::new(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("expected an http(s) URL, got {e:?}"),
                ));
            }
        };
        Ok(Self {
            service_name: env
                .string("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| default_service_name.to_owned()),
            format,
            otlp,
        })
    }
}

/// Flushes and stops trace export when dropped (at the end of `main`).
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("trace export shutdown failed: {e}");
        }
    }
}

/// Telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Installs the global subscriber and propagator. Binaries only.
pub fn init(cfg: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));

    let provider = if cfg.otlp {
        // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_* variables) itself.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(cfg.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        Some(provider)
    } else {
        None
    };
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(cfg.service_name.clone())));

    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let result = match cfg.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(MaskingStdout),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_writer(MaskingStdout))
            .try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}

/// Makes `span` a child of the W3C trace context in `headers` (if any).
pub fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // A no-op when no OpenTelemetry layer is installed: then there is nothing to link.
    span.set_parent(cx);
}

/// Writes the current span's trace context as `traceparent` into outgoing `headers`.
pub fn inject_current_context(headers: &mut HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// Stdout writer that masks line numbers in every log line.
#[derive(Debug, Clone, Copy)]
pub struct MaskingStdout;

/// The writer behind [`MaskingStdout`] and [`Masked`]: masks line numbers, then writes to `W`.
#[derive(Debug)]
pub struct MaskingWriter<W = std::io::Stdout>(W);

impl<'a> MakeWriter<'a> for MaskingStdout {
    type Writer = MaskingWriter;
    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter(std::io::stdout())
    }
}

/// Any log destination behind the same masking as [`MaskingStdout`], so a test that captures
/// the logs sees exactly what production writes.
#[derive(Debug, Clone)]
pub struct Masked<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Masked<M> {
    type Writer = MaskingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter(self.0.make_writer())
    }
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing-subscriber hands over each formatted event in one buffer, so a line number is
        // never split across two calls.
        match std::str::from_utf8(buf) {
            Ok(s) => {
                self.0.write_all(crate::line::mask_in_text(s).as_bytes())?;
                Ok(buf.len())
            }
            Err(_) => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
