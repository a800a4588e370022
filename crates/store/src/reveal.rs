//! Writes that become visible to reads at a moment the caller chooses.
//!
//! A write's keys are hidden from reads (read as they were before it, like a failed write's,
//! see `fault`) from just before its sled batch until the caller reveals it, after the flush.
//! So derived state kept outside the store (the engine's rollups) can take a write while the
//! write lock of that state is held only for that, not across the block reads, compression and
//! fsync of the store write: readers that hold the state's read lock see the store and the
//! state change together.

use std::sync::{Arc, PoisonError};

use crate::open::Handle;
use crate::{Store, View, fault};

/// A durable write whose keys reads do not see yet: [`Reveal::now`] (or dropping it) shows them.
#[must_use = "a write stays hidden from reads until revealed; dropping the Reveal reveals it"]
pub(crate) struct Reveal<'a> {
    store: &'a Store,
    /// The handle to read from once revealed; `None` once done.
    handle: Option<Handle>,
}

impl Reveal<'_> {
    /// Makes the write visible to every read that starts from now on.
    pub(crate) fn now(mut self) {
        self.show();
    }

    /// Leaves the view as it is (a failed write has set its own).
    pub(crate) fn cancel(mut self) {
        self.handle = None;
    }

    fn show(&mut self) {
        if let Some(handle) = self.handle.take() {
            *self.store.view.write().unwrap_or_else(PoisonError::into_inner) =
                Some(Arc::new(View { handle, hidden: None }));
        }
    }
}

impl Drop for Reveal<'_> {
    fn drop(&mut self) {
        self.show();
    }
}

/// A write being applied and flushed on a thread of its own, and its [`Reveal`].
pub(crate) struct Pending<'scope, 'a> {
    writer: Option<std::thread::ScopedJoinHandle<'scope, sled::Result<()>>>,
    written: Option<sled::Result<()>>,
    reveal: Option<Reveal<'a>>,
}

impl<'scope, 'a> Pending<'scope, 'a> {
    pub(crate) fn new(writer: std::thread::ScopedJoinHandle<'scope, sled::Result<()>>, reveal: Reveal<'a>) -> Self {
        Self { writer: Some(writer), written: None, reveal: Some(reveal) }
    }

    /// Waits for the write; whether it is durable.
    pub(crate) fn durable(&mut self) -> bool {
        if let Some(writer) = self.writer.take() {
            let written = writer.join().unwrap_or_else(|_| {
                Err(sled::Error::ReportableBug("the thread writing a batch to sled panicked".to_owned()))
            });
            self.written = Some(written);
        }
        matches!(self.written, Some(Ok(())))
    }

    /// Reveals the write once it is durable; a failed write is not revealed (its failure sets
    /// what reads see).
    pub(crate) fn show(&mut self) {
        if self.durable()
            && let Some(reveal) = self.reveal.take()
        {
            reveal.now();
        }
    }

    /// How the write ended (after [`Pending::durable`]) and its [`Reveal`] if not shown yet.
    pub(crate) fn into_parts(mut self) -> (sled::Result<()>, Option<Reveal<'a>>) {
        let written = self
            .written
            .take()
            .unwrap_or_else(|| Err(sled::Error::ReportableBug("a batch was never written".to_owned())));
        (written, self.reveal.take())
    }
}

impl Drop for Pending<'_, '_> {
    /// Dropped before it was taken apart (`publish` panicked): a write not known to be durable
    /// stays hidden rather than revealed.
    fn drop(&mut self) {
        if !matches!(self.written, Some(Ok(())))
            && let Some(reveal) = self.reveal.take()
        {
            reveal.cancel();
        }
    }
}

impl Store {
    /// Hides the keys of `undo` (read as they were before) until the returned [`Reveal`].
    pub(crate) fn hide(&self, handle: &Handle, undo: &fault::Undo) -> Reveal<'_> {
        let view = View { handle: handle.clone(), hidden: Some(undo.hidden()) };
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(view));
        Reveal { store: self, handle: Some(handle.clone()) }
    }
}
