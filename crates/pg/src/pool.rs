//! Connections to PostgreSQL, used from synchronous code: the store owns a small tokio runtime
//! that drives `tokio-postgres`; each call runs one future there and waits for its result, so
//! it works from any thread (the server's blocking tasks, or its async workers).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use cxm_store::{Error, Result};
use tokio_postgres::{Client, NoTls};

use crate::error::unavailable;

/// One connection, used by one caller at a time (a transaction runs on one connection).
#[derive(Clone)]
pub(crate) struct Conn(pub(crate) Arc<Client>);

/// The runtime and the idle connections.
pub(crate) struct Pool {
    runtime: Option<tokio::runtime::Runtime>,
    url: String,
    idle: Mutex<Vec<Conn>>,
}

/// Most idle connections kept.
const IDLE: usize = 8;

impl Pool {
    /// A pool for `url` (a `postgres://` URL); connects lazily.
    pub(crate) fn new(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cxm-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot start the PostgreSQL client runtime: {e}")))?;
        Ok(Self { runtime: Some(runtime), url: url.to_owned(), idle: Mutex::new(Vec::new()) })
    }

    /// Runs `future` on the pool's runtime and waits for it.
    pub(crate) fn block<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> Result<T> {
        let runtime = self.runtime.as_ref().ok_or_else(|| Error::Unavailable("the store is closed".to_owned()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| Error::Unavailable("the PostgreSQL client task stopped".to_owned()))
    }

    /// Runs one statement-level job on `conn`.
    pub(crate) fn on<T: Send + 'static, F>(&self, conn: &Conn, job: impl FnOnce(Arc<Client>) -> F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        self.block(job(Arc::clone(&conn.0)))?.map_err(|e| unavailable(&e))
    }

    /// An idle connection, or a new one.
    pub(crate) fn take(&self) -> Result<Conn> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        if let Some(conn) = idle.filter(|c| !c.0.is_closed()) {
            return Ok(conn);
        }
        let url = self.url.clone();
        let client = self.block(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection ended");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        })?;
        Ok(Conn(Arc::new(client.map_err(|e| unavailable(&e))?)))
    }

    /// Returns a connection that is outside any transaction.
    pub(crate) fn give(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE && !conn.0.is_closed() {
            idle.push(conn);
        }
    }

    /// Runs a job on an idle connection outside a transaction (one statement, autocommit).
    pub(crate) fn run<T: Send + 'static, F>(&self, job: impl FnOnce(Arc<Client>) -> F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let conn = self.take()?;
        let out = self.on(&conn, job)?;
        self.give(conn);
        Ok(out)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Awaits `futures` together and returns their results in order, or the first error. They are
/// first polled in order: statements of one connection are then sent in that order, one after
/// the other without waiting for each answer (tokio-postgres pipelines them), and PostgreSQL
/// runs them in that order. Answers come back in order too, so each later poll goes on from
/// the first unfinished future and stops at the first one still waiting.
pub(crate) async fn in_order<T, E, F>(futures: impl IntoIterator<Item = F>) -> std::result::Result<Vec<T>, E>
where
    F: Future<Output = std::result::Result<T, E>>,
{
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    // The first unfinished future, and whether every future was polled (its statement sent).
    let (mut next, mut sent) = (0, false);
    std::future::poll_fn(|cx| {
        for (i, (future, result)) in futures.iter_mut().zip(results.iter_mut()).enumerate().skip(next) {
            if result.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(Ok(value)) => *result = Some(value),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending if sent => return Poll::Pending,
                    Poll::Pending => {}
                }
            }
            if result.is_some() && i == next {
                next += 1;
            }
        }
        sent = true;
        if next == futures.len() { Poll::Ready(Ok(())) } else { Poll::Pending }
    })
    .await?;
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::in_order;

    /// A future that notes when it is first polled (its statement would be sent then), then
    /// waits for its answer.
    async fn query(
        n: usize,
        sent: Arc<Mutex<Vec<usize>>>,
        answer: tokio::sync::oneshot::Receiver<Result<usize, String>>,
    ) -> Result<usize, String> {
        sent.lock().unwrap().push(n);
        answer.await.map_err(|e| e.to_string())?
    }

    type Answer = tokio::sync::oneshot::Sender<Result<usize, String>>;
    type All = tokio::task::JoinHandle<Result<Vec<usize>, String>>;

    /// `count` queries run through `in_order` on a task: the senders of their answers, the
    /// order they were first polled in, and the task.
    fn pipeline(count: usize) -> (Vec<Answer>, Arc<Mutex<Vec<usize>>>, All) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..count).map(|_| tokio::sync::oneshot::channel()).unzip();
        let futures: Vec<_> =
            receivers.into_iter().enumerate().map(|(n, rx)| query(n, Arc::clone(&sent), rx)).collect();
        (senders, sent, tokio::spawn(in_order(futures)))
    }

    #[tokio::test]
    async fn futures_are_first_polled_in_order_and_their_results_come_back_in_order() {
        let (senders, sent, all) = pipeline(40);
        // Every statement is sent before any answer comes back (pipelined, not one by one).
        for _ in 0..100 {
            if sent.lock().unwrap().len() == 40 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(*sent.lock().unwrap(), (0..40).collect::<Vec<_>>());
        // Answers arrive in another order than sent.
        for (n, tx) in senders.into_iter().enumerate().rev() {
            tx.send(Ok(n * 10)).unwrap();
            tokio::task::yield_now().await;
        }
        assert_eq!(all.await.unwrap(), Ok((0..40).map(|n| n * 10).collect::<Vec<_>>()));
        assert_eq!(*sent.lock().unwrap(), (0..40).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_first_error_is_returned() {
        let (senders, _sent, all) = pipeline(5);
        for (n, tx) in senders.into_iter().enumerate() {
            tx.send(if n == 2 { Err("refused".to_owned()) } else { Ok(n) }).unwrap();
        }
        assert_eq!(all.await.unwrap(), Err("refused".to_owned()));
    }
}
