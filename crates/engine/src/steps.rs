//! Reading the rollups and the store one bounded step at a time.
//!
//! A query takes the rollups' read lock for one step — one bucket, or about
//! [`STEP_EVENTS`] events of a scan, in whole hours — and gives it back between steps, so an
//! ingest (which needs the write lock) or another query waits at most one step, never a whole
//! slow query. Before each step the query's [`Stop`] is checked.
//!
//! Between two steps an ingest may replace events. A new event is then either seen or not, as
//! if it came just before or after the query; but a replaced event that moved in time could be
//! seen twice or not at all. The rollups count such replacements (`Rollups::moves`): when
//! the count changed between two steps, the step answers [`Error::Moved`] and the engine runs
//! the query again, and after [`STEPPED_ATTEMPTS`] tries holds the lock for the whole query
//! (still bounded by its deadline), so an answer never counts an event twice.

use std::sync::RwLockReadGuard;

use cxm_proto::v1::event::Payload;
use cxm_store::block::HOUR;
use cxm_store::{Backend, EventType, Nanos, RawBlock};

use crate::bounds::{Stop, Ticker};
use crate::{Engine, Error, Result, Rollups};

/// Events one scan step reads (then to the end of that hour) before it gives the lock back.
pub(crate) const STEP_EVENTS: usize = 4_096;

/// Tries with the lock taken per step before a query holds it throughout.
pub(crate) const STEPPED_ATTEMPTS: u32 = 3;

/// One query's access to the rollups and the store.
pub(crate) struct Steps<'e> {
    engine: &'e Engine,
    stop: &'e Stop,
    /// Held for the whole query (the last attempt), or `None`: taken per step.
    held: Option<RwLockReadGuard<'e, Rollups>>,
    /// The rollups' move count at the first step.
    moves: Option<u64>,
}

/// What a thread needs to read part of an attempt in steps (see [`Steps::fork`]).
#[derive(Clone, Copy)]
pub(crate) struct Fork<'e> {
    engine: &'e Engine,
    stop: &'e Stop,
    moves: u64,
}

impl<'e> Fork<'e> {
    /// The thread's steps.
    pub(crate) fn steps(self) -> Steps<'e> {
        Steps { engine: self.engine, stop: self.stop, held: None, moves: Some(self.moves) }
    }
}

impl<'e> Steps<'e> {
    /// Steps for one attempt at a query; `hold` keeps the lock from the first step to the last.
    pub(crate) fn new(engine: &'e Engine, stop: &'e Stop, hold: bool) -> Result<Self> {
        let held = if hold { Some(engine.read()?) } else { None };
        Ok(Self { engine, stop, held, moves: None })
    }

    /// Steps for another thread reading part of the same attempt: it shares this one's
    /// baseline of moves (so a replacement after the first step is seen by every part), or
    /// `None` while this one holds the lock or has not stepped yet (then read in one thread).
    pub(crate) fn fork(&self) -> Option<Fork<'e>> {
        match (&self.held, self.moves) {
            (None, Some(moves)) => Some(Fork { engine: self.engine, stop: self.stop, moves }),
            _ => None,
        }
    }

    /// The query's stop.
    pub(crate) fn stop(&self) -> &'e Stop {
        self.stop
    }

    /// The event store.
    pub(crate) fn store(&self) -> &'e dyn Backend {
        self.engine.store.as_ref()
    }

    /// Runs `work` with the rollups read-locked.
    pub(crate) fn step<R>(&mut self, work: impl FnOnce(&Rollups) -> Result<R>) -> Result<R> {
        self.stop.check()?;
        if let Some(held) = &self.held {
            return work(held);
        }
        let rollups = self.engine.read()?;
        match self.moves {
            Some(moves) if moves != rollups.moves => return Err(Error::Moved),
            Some(_) => {}
            None => self.moves = Some(rollups.moves),
        }
        work(&rollups)
    }

    /// Every stored event of `kind` with its main time in `[from, to)`, in time order, handed to
    /// `each` with its main time, in steps of about [`STEP_EVENTS`] events (whole hours).
    pub(crate) fn scan(
        &mut self,
        kind: EventType,
        from: Nanos,
        to: Nanos,
        mut each: impl FnMut(Nanos, Payload) -> Result<()>,
    ) -> Result<()> {
        let (store, stop) = (self.store(), self.stop);
        let mut cursor = Some(from);
        while let Some(start) = cursor.filter(|start| *start < to) {
            cursor = self.step(|_| {
                let ticker = Ticker::new(stop);
                let mut read = 0_usize;
                let mut end: Option<Nanos> = None;
                for payload in store.scan(kind, start, to) {
                    let payload = payload?;
                    ticker.tick()?;
                    let t = cxm_store::main_time(&payload).unwrap_or(start);
                    if let Some(end) = end.filter(|end| t >= *end) {
                        // The next step starts here and reads this event again.
                        return Ok(Some(end));
                    }
                    each(t, payload)?;
                    read += 1;
                    if read == STEP_EVENTS {
                        // Finish this hour; the next step starts at the next one.
                        match cxm_store::block::hour(t).checked_add(HOUR) {
                            Some(next) => end = Some(next),
                            None => return Ok(None),
                        }
                    }
                }
                Ok(None)
            })?;
        }
        Ok(())
    }

    /// Like [`Steps::scan`], for readers that decode only what they need: every stored block of
    /// `kind` with events in `[from, to)`, undecoded, in hour order. `each` reads the block's
    /// entries in range and returns how many it read; a step ends at the end of the hour in which
    /// it passed [`STEP_EVENTS`] events. The stop is checked before each block.
    pub(crate) fn blocks(
        &mut self,
        kind: EventType,
        from: Nanos,
        to: Nanos,
        mut each: impl FnMut(&RawBlock) -> Result<usize>,
    ) -> Result<()> {
        let (store, stop) = (self.store(), self.stop);
        let mut cursor = Some(from);
        while let Some(start) = cursor.filter(|start| *start < to) {
            cursor = self.step(|_| {
                let mut read = 0_usize;
                let mut end: Option<Nanos> = None;
                for block in store.blocks(kind, start, to) {
                    let block = block?;
                    stop.check()?;
                    if let Some(end) = end.filter(|end| block.hour() >= *end) {
                        return Ok(Some(end));
                    }
                    read += each(&block)?;
                    if read >= STEP_EVENTS && end.is_none() {
                        match block.hour().checked_add(HOUR) {
                            Some(next) => end = Some(next),
                            None => return Ok(None),
                        }
                    }
                }
                Ok(None)
            })?;
        }
        Ok(())
    }
}
