//! The thread that stores ingested batches, below the priority of the threads answering queries.
//!
//! Storing a batch (validation, the store write, compression, rollups) keeps a core busy for
//! several milliseconds; on two cores a query that wakes up meanwhile waited for a time slice
//! behind it. Batches are stored on one dedicated thread whose scheduling priority is lowered
//! (`nice`, `--ingest-nice`), so the kernel lets a waking query thread run first; the store
//! serialises writes anyway, so one thread loses no ingest parallelism. Queries keep tokio's
//! blocking pool at the normal priority.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tonic::Status;

use crate::error::INTERNAL;

type Job = Box<dyn FnOnce() + Send>;

/// The sending side of the ingest thread's queue; cloned into every ingest service.
#[derive(Clone)]
pub(crate) struct Intake {
    jobs: mpsc::Sender<Job>,
}

impl Intake {
    /// Starts the thread, lowering its priority by `nice` (0 keeps the process's priority).
    pub(crate) fn start(nice: i32) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("cxm-intake".to_owned()).spawn(move || {
            lower_priority(nice);
            // The thread ends when every sender is gone (the server stopped).
            for job in queue {
                job();
            }
        })?;
        Ok(Self { jobs })
    }

    /// Runs `work` on the ingest thread and waits for its result without blocking the runtime.
    /// A panic in `work` is logged and answered with INTERNAL; the thread goes on.
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
            // The caller may have left (its call was cancelled): nothing waits for the answer.
            let _ = answer.send(outcome);
        });
        self.jobs.send(job).map_err(|_| {
            tracing::error!("the ingest thread is gone");
            Status::internal(INTERNAL)
        })?;
        match answered.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_panic)) => {
                tracing::error!("storing a batch panicked");
                Err(Status::internal(INTERNAL))
            }
            Err(_) => {
                tracing::error!("the ingest thread dropped a batch without an answer");
                Err(Status::internal(INTERNAL))
            }
        }
    }
}

/// Lowers the calling thread's priority by `nice`. On Linux `setpriority` on a thread id sets
/// that thread's nice value alone; a refusal is logged and the thread keeps its priority.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    let thread = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
    match rustix::process::setpriority_process(Some(thread), current.saturating_add(nice)) {
        Ok(()) => tracing::debug!(nice, "ingest thread priority lowered"),
        Err(e) => tracing::warn!(error = %e, nice, "could not lower the ingest thread's priority"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_intake_thread_at_the_lowered_priority() {
        let intake = Intake::start(7).unwrap();
        let (name, nice) = intake
            .run(|| {
                let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
                (std::thread::current().name().map(str::to_owned), nice)
            })
            .await
            .unwrap();
        let own = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(name.as_deref(), Some("cxm-intake"));
        assert_eq!(nice, own + 7);
    }

    #[tokio::test]
    async fn a_panic_is_internal_and_the_thread_goes_on() {
        let intake = Intake::start(0).unwrap();
        let failed = intake.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert_eq!(failed.code(), tonic::Code::Internal);
        assert_eq!(intake.run(|| 41 + 1).await.unwrap(), 42);
    }
}
