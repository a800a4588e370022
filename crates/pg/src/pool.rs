//! Connections to PostgreSQL, used from synchronous code: the store owns a small tokio runtime
//! that drives `tokio-postgres`; each call runs one future there and waits for its result, so
//! it works from any thread (the server's blocking tasks, or its async workers).

use std::future::Future;
use std::sync::{Arc, Mutex};

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
