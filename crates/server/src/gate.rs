//! The gate in front of every service: API-key authentication and roles, then admission
//! (a bound on concurrent requests, shedding the excess with RESOURCE_EXHAUSTED rather than
//! queueing it). Health checks and reflection pass without a key and are never shed, so a
//! flooded server still answers its health checks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use cxm_auth::{KeyRing, Refusal, required_role};
use tokio::sync::Semaphore;
use tonic::Status;

/// Shared state of the gate.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) admission: Arc<Semaphore>,
    pub(crate) limit: usize,
    /// The deadline of a unary call that brings none shorter of its own.
    pub(crate) timeout: std::time::Duration,
}

/// Streaming calls may legitimately run long (a bulk load, a sync); they get no default deadline.
fn streaming(path: &str) -> bool {
    path.ends_with("/IngestStream") || path.ends_with("/SyncConnector")
}

/// Parses a `grpc-timeout` header value (`<digits><H|M|S|m|u|n>`).
fn grpc_timeout(value: &str) -> Option<std::time::Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => std::time::Duration::from_secs(n.saturating_mul(3600)),
        "M" => std::time::Duration::from_secs(n.saturating_mul(60)),
        "S" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_millis(n),
        "u" => std::time::Duration::from_micros(n),
        "n" => std::time::Duration::from_nanos(n),
        _ => return None,
    })
}

impl<S> tower::Layer<S> for Gate {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated { gate: self.clone(), inner }
    }
}

/// A service behind the gate.
#[derive(Clone)]
pub(crate) struct Gated<S> {
    gate: Gate,
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Gated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().to_owned();
        if required_role(&path).is_none() {
            return Box::pin(inner.call(request));
        }
        let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        if let Err(refusal) = self.gate.keys.authorize(&path, authorization) {
            let status = match refusal {
                Refusal::Unauthenticated(message) => Status::unauthenticated(message),
                Refusal::PermissionDenied(message) => Status::permission_denied(message),
            };
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let Ok(permit) = Arc::clone(&self.gate.admission).try_acquire_owned() else {
            let status = Status::resource_exhausted(format!(
                "cxmd is serving its limit of {} concurrent requests; retry with backoff",
                self.gate.limit
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let asked = request.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(grpc_timeout);
        let deadline = match (streaming(&path), asked) {
            (true, asked) => asked,
            (false, Some(asked)) => Some(asked.min(self.gate.timeout)),
            (false, None) => Some(self.gate.timeout),
        };
        Box::pin(async move {
            let call = inner.call(request);
            let answer = match deadline {
                Some(deadline) => match tokio::time::timeout(deadline, call).await {
                    Ok(answer) => answer,
                    Err(_) => Ok(Status::deadline_exceeded(format!(
                        "{path} did not finish within {} ms",
                        deadline.as_millis()
                    ))
                    .into_http()),
                },
                None => call.await,
            };
            drop(permit);
            answer
        })
    }
}
