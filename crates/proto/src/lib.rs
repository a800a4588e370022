//! The `cx.v1` contracts of cxm: every message of `proto/cx/v1`, generated at build time.
//!
//! Plugins and other light users depend on this crate without features and get the message
//! types only (prost). The server and clients enable `grpc` for the tonic services.
//!
//! Maps are generated as `BTreeMap`, so equal messages always encode to equal bytes.

/// Package `cx.v1`.
pub mod v1 {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    include!(concat!(env!("OUT_DIR"), "/cx.v1.rs"));
}

pub mod clip;

/// The built-in dimensions of each event type: an attribute key may not take one of these names
/// (SPEC §8), so no dimension ever counts an event twice.
pub mod dimensions {
    /// Of survey responses.
    pub const SURVEY_RESPONSE: [&str; 5] = ["source", "touchpoint", "channel", "kind", "account_id"];
    /// Of tickets.
    pub const TICKET: [&str; 5] = ["source", "channel", "priority", "tag", "account_id"];
}

/// The encoded `FileDescriptorSet` of `proto/cx/v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cx_v1_descriptor.bin"));

pub use prost;
pub use prost_types;
