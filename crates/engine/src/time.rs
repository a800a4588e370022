//! Instants: the engine counts time in nanoseconds since the Unix epoch ([`Nanos`]); the API
//! carries protobuf timestamps. These are the conversions between the two.

use cxm_proto::prost_types::Timestamp;
pub(crate) use cxm_store::Nanos;

use crate::{Error, Result};

/// A protobuf timestamp from nanoseconds since the epoch.
pub fn timestamp(nanos: Nanos) -> Timestamp {
    Timestamp { seconds: nanos.div_euclid(1_000_000_000), nanos: nanos.rem_euclid(1_000_000_000) as i32 }
}

/// The instant of a required request field, or INVALID_ARGUMENT naming `field`.
pub(crate) fn required(field: &str, ts: Option<&Timestamp>) -> Result<Nanos> {
    let ts = ts.ok_or_else(|| Error::invalid(field, "is required"))?;
    cxm_store::nanos(ts).ok_or_else(|| Error::invalid(field, "is not a valid time between the years 1678 and 2261"))
}
