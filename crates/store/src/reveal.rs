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
pub struct Reveal<'a> {
    store: &'a Store,
    /// The handle to read from once revealed; `None` once done.
    handle: Option<Handle>,
}

impl Reveal<'_> {
    /// Makes the write visible to every read that starts from now on.
    pub fn now(mut self) {
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

impl Store {
    /// Hides the keys of `undo` (read as they were before) until the returned [`Reveal`].
    pub(crate) fn hide(&self, handle: &Handle, undo: &fault::Undo) -> Reveal<'_> {
        let view = View { handle: handle.clone(), hidden: Some(undo.hidden()) };
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(view));
        Reveal { store: self, handle: Some(handle.clone()) }
    }
}
