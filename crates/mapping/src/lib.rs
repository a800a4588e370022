//! The one mapping engine of cxm: how rows of a CSV or JSON Lines export become events, used by
//! `cxm ingest` and by the `file` connector plugin alike.
//!
//! A mapping is a set of [`Options`] — column → field, constants, time formats and a zone for
//! times without an offset, label → score maps, unit scaling, durations after another time,
//! row filters, header rows, lower-casing — read from `key=value` pairs. A [`presets`] entry is a
//! named set of those options for a vendor's documented export layout; options given with it
//! replace the preset's one by one. docs/mapping.md documents every option and preset.
//!
//! ```
//! use cxm_mapping::{Mapping, Options, Outcome};
//!
//! let options = Options::from_pairs([("preset", "hubspot-deals"), ("time_zone", "America/New_York")])?;
//! let mapping = Mapping::new(options)?;
//! let header = vec![["Record ID", "Deal Name", "Deal Stage", "Close Date", "Amount"].map(String::from).to_vec()];
//! let plan = mapping.plan(&header, "deals.csv")?;
//! let Outcome::Event(event) = plan.row(&["42", "Acme", "Closed won", "2026-11-01 07:55", "1500.50"]).unwrap() else {
//!     panic!("a won deal is imported")
//! };
//! let Some(cxm_mapping::Payload::Subscription(deal)) = event.payload else { panic!() };
//! assert_eq!((deal.mrr_minor, deal.currency.as_str()), (150_050, "USD"));
//! assert!(matches!(plan.row(&["43", "Initech", "Closed lost", "2026-11-01 08:00", "900"]), Ok(Outcome::Skipped(_))));
//! # Ok::<(), cxm_mapping::MappingError>(())
//! ```
#![forbid(unsafe_code)]

mod columns;
mod error;
mod fields;
mod json;
mod keys;
mod mapping;
mod numbers;
mod options;
mod plan;
pub mod presets;
mod show;
mod time;

pub use cxm_proto::v1::event::Payload;
pub use error::{MappingError, Result};
pub use fields::{EventType, Field, Target};
pub use keys::{KEYS, OptionKey};
pub use mapping::{Mapping, Outcome};
pub use options::Options;
pub use plan::{Plan, misfit};
pub use show::{Shown, fields_of};
pub use time::{TimeReader, parse_zone};

#[cfg(test)]
mod tests;
