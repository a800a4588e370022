//! The gate in front of every service: API-key authentication and roles, then admission
//! (a bound on concurrent requests, shedding the excess with RESOURCE_EXHAUSTED rather than
//! queueing it). Health checks and reflection pass without a key and are never shed, so a
//! flooded server still answers its health checks.
//!
//! Unary calls and streams (`IngestStream`, `SyncConnector`, `Watch`) have separate budgets, so idle
//! streams cannot starve unary calls. The admission slot travels with the request
//! ([`Admission`]): the handler moves it into the work it starts, so a call keeps its slot
//! until its work has stopped, not merely until its client stopped waiting. The call's
//! [`Stop`] is cancelled when the gate stops waiting (deadline passed, client gone).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use cxm_auth::{KeyRing, Refusal, required_role};
use cxm_engine::Stop;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

/// One admission budget: concurrent calls of a kind, and its limit (for the message).
#[derive(Clone)]
pub(crate) struct Budget {
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) limit: usize,
}

impl Budget {
    /// A budget of `limit` concurrent calls.
    pub(crate) fn new(limit: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(limit)), limit }
    }
}

/// Shared state of the gate.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) keys: Arc<KeyRing>,
    /// Unary calls.
    pub(crate) unary: Budget,
    /// Streaming calls.
    pub(crate) streams: Budget,
    /// The deadline of a unary call that brings none shorter of its own.
    pub(crate) timeout: std::time::Duration,
    /// How long a stream may wait for its client's next message.
    pub(crate) stream_idle: std::time::Duration,
}

/// What the gate hands a call it admitted (in the request's extensions).
#[derive(Clone)]
pub(crate) struct Admission {
    /// The admission slot: released when the last clone is dropped (held, never read).
    #[allow(dead_code)]
    pub(crate) slot: Option<Arc<OwnedSemaphorePermit>>,
    /// Cancelled when the deadline passes or the client leaves.
    pub(crate) stop: Stop,
    /// How long a stream may wait for its client's next message.
    pub(crate) stream_idle: std::time::Duration,
}

impl Admission {
    /// The admission of `request` (none when the call did not pass the gate: no slot, no
    /// deadline).
    pub(crate) fn of<T>(request: &tonic::Request<T>) -> Self {
        request.extensions().get::<Admission>().cloned().unwrap_or_else(|| Self {
            slot: None,
            stop: Stop::default(),
            stream_idle: std::time::Duration::from_secs(60),
        })
    }
}

/// Longest method path served (`/cx.v1.ConnectorService/SyncConnector` is 37 bytes).
const MAX_PATH_BYTES: usize = 128;

/// Streaming calls may legitimately run long (a bulk load, a sync, a watcher waiting for
/// alerts); they get no default deadline.
fn streaming(path: &str) -> bool {
    path.ends_with("/IngestStream") || path.ends_with("/SyncConnector") || path == "/cx.v1.AlertService/Watch"
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
        if path.len() > MAX_PATH_BYTES {
            // No method is named like this; messages below echo the path, so stop here.
            let status = Status::unimplemented(format!("no such method: {}", cxm_proto::clip::quote(&path)));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        if let Err(refusal) = self.gate.keys.authorize(&path, authorization) {
            let status = match refusal {
                Refusal::Unauthenticated(message) => Status::unauthenticated(message),
                Refusal::PermissionDenied(message) => Status::permission_denied(message),
            };
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let stream = streaming(&path);
        let budget = if stream { &self.gate.streams } else { &self.gate.unary };
        let Ok(permit) = Arc::clone(&budget.slots).try_acquire_owned() else {
            let what = if stream { "streams" } else { "requests" };
            let status = Status::resource_exhausted(format!(
                "cxmd is serving its limit of {} concurrent {what}; retry with backoff",
                budget.limit
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let asked = request.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(grpc_timeout);
        let deadline = match (stream, asked) {
            (true, asked) => asked,
            (false, Some(asked)) => Some(asked.min(self.gate.timeout)),
            (false, None) => Some(self.gate.timeout),
        };
        let stop = Stop::at(deadline.and_then(|d| std::time::Instant::now().checked_add(d)));
        let admission =
            Admission { slot: Some(Arc::new(permit)), stop: stop.clone(), stream_idle: self.gate.stream_idle };
        let mut request = request;
        request.extensions_mut().insert(admission.clone());
        Box::pin(async move {
            // Cancels the call's work when this future ends or is dropped (client gone).
            let _cancel = stop.on_drop();
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
            drop(admission);
            answer
        })
    }
}
