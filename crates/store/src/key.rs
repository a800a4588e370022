//! Key layout of the sled tree.
//!
//! Events live in blocks (see [`crate::block`]), one key per block:
//! - block `b | type | hour start (i64 ns, order-preserving) | sequence (u64, big-endian)` → the
//!   events of that type and hour that one write stored, in time order.
//!
//! Events of one type are thus stored in time order by hour, so a time range is one sequential
//! scan over its hours. Which hour holds an identity is kept by the identity index (`index`, `tiers`).
//!
//! Metadata records (connectors, cursors) live under `m | key`.
//!
//! Stores written before blocks had two records per event, converted when the store opens:
//! - identity `i | type | len(source) u16 | source | id` → [`Identity`]: version and main time;
//! - event `e | type | main time (i64 ns, order-preserving) | len(source) u16 | source | id` →
//!   the event's payload message.

use cxm_proto::v1::event::Payload;

/// The four event types, with their one-byte tag in keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `SurveyResponse`.
    SurveyResponse = 1,
    /// `Ticket`.
    Ticket = 2,
    /// `Subscription`.
    Subscription = 3,
    /// `Account`.
    Account = 4,
}

impl EventType {
    /// The type of a payload.
    pub fn of(payload: &Payload) -> Self {
        match payload {
            Payload::SurveyResponse(_) => Self::SurveyResponse,
            Payload::Ticket(_) => Self::Ticket,
            Payload::Subscription(_) => Self::Subscription,
            Payload::Account(_) => Self::Account,
        }
    }

    /// The type of a one-byte key tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => Self::SurveyResponse,
            2 => Self::Ticket,
            3 => Self::Subscription,
            4 => Self::Account,
            _ => return None,
        })
    }

    /// The field name of this type in `Event.payload`, used in rejection paths.
    pub fn field(self) -> &'static str {
        match self {
            Self::SurveyResponse => "survey_response",
            Self::Ticket => "ticket",
            Self::Subscription => "subscription",
            Self::Account => "account",
        }
    }
}

const IDENTITY: u8 = b'i';
const META: u8 = b'm';
/// The first byte of the (legacy) per-event keys.
pub const EVENT: u8 = b'e';
const BLOCK: u8 = b'b';

/// Nanoseconds since the Unix epoch, as stored in keys.
pub type Nanos = i64;

/// Encodes a time so that byte order is time order (sign bit flipped, big-endian).
fn time_bytes(t: Nanos) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn push_name(key: &mut Vec<u8>, source: &str, id: &str) {
    // Validation caps sources at 256 bytes, so the length always fits.
    key.extend_from_slice(&(source.len() as u16).to_be_bytes());
    key.extend_from_slice(source.as_bytes());
    key.extend_from_slice(id.as_bytes());
}

/// The identity key of an event.
pub fn identity(kind: EventType, source: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + source.len() + id.len());
    key.extend_from_slice(&[IDENTITY, kind as u8]);
    push_name(&mut key, source, id);
    key
}

/// The event key of an event stored at `time`.
pub fn event(kind: EventType, time: Nanos, source: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(12 + source.len() + id.len());
    key.extend_from_slice(&[EVENT, kind as u8]);
    key.extend_from_slice(&time_bytes(time));
    push_name(&mut key, source, id);
    key
}

/// The first event key of `kind` at or after `time`.
pub fn event_bound(kind: EventType, time: Nanos) -> Vec<u8> {
    let mut key = vec![EVENT, kind as u8];
    key.extend_from_slice(&time_bytes(time));
    key
}

/// The key of a block of `kind` in the hour starting at `hour`.
pub fn block(kind: EventType, hour: Nanos, sequence: u64) -> [u8; 18] {
    let mut key = [0; 18];
    key[0] = BLOCK;
    key[1] = kind as u8;
    key[2..10].copy_from_slice(&time_bytes(hour));
    key[10..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// The first block key of `kind` in an hour at or after `time`.
pub fn block_bound(kind: EventType, time: Nanos) -> Vec<u8> {
    let mut key = vec![BLOCK, kind as u8];
    key.extend_from_slice(&time_bytes(time));
    key
}

/// The prefix of every block key of `kind`.
pub fn block_prefix(kind: EventType) -> [u8; 2] {
    [BLOCK, kind as u8]
}

/// The prefix of every block key.
pub const BLOCK_PREFIX: [u8; 1] = [BLOCK];

/// The type, hour and sequence of a block key.
pub fn parse_block(key: &[u8]) -> Option<(EventType, Nanos, u64)> {
    if key.len() != 18 || key[0] != BLOCK {
        return None;
    }
    let kind = EventType::from_tag(key[1])?;
    let hour = u64::from_be_bytes(key[2..10].try_into().ok()?) ^ (1 << 63);
    let sequence = u64::from_be_bytes(key[10..].try_into().ok()?);
    Some((kind, hour as i64, sequence))
}

/// The type and main time of a legacy event key.
pub fn parse_event(key: &[u8]) -> Option<(EventType, Nanos)> {
    if key.len() < 12 || key[0] != EVENT {
        return None;
    }
    let time = u64::from_be_bytes(key[2..10].try_into().ok()?) ^ (1 << 63);
    Some((EventType::from_tag(key[1])?, time as i64))
}

/// The legacy identity key that belongs to a legacy event key.
pub fn identity_of_event(key: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![IDENTITY, *key.get(1)?];
    out.extend_from_slice(key.get(10..)?);
    Some(out)
}

/// The key of a metadata record.
pub fn meta(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(META);
    out.extend_from_slice(key);
    out
}

/// The prefix of every event key of `kind`.
pub fn event_prefix(kind: EventType) -> [u8; 2] {
    [EVENT, kind as u8]
}

/// What the identity record holds: the stored version and where the event lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The stored version (ns since epoch).
    pub version: Nanos,
    /// The stored main time (ns since epoch), part of the event key.
    pub time: Nanos,
}

impl Identity {
    /// Encodes the record.
    pub fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.version.to_be_bytes());
        out[8..].copy_from_slice(&self.time.to_be_bytes());
        out
    }

    /// Decodes a record, or `None` if it is not 16 bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let version = bytes.get(..8)?.try_into().ok()?;
        let time = bytes.get(8..16)?.try_into().ok()?;
        Some(Self { version: i64::from_be_bytes(version), time: i64::from_be_bytes(time) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_in_time_order_across_the_epoch() {
        let times = [i64::MIN, -5_000, -1, 0, 1, 7_000, i64::MAX];
        let keys: Vec<_> = times.iter().map(|t| event(EventType::Ticket, *t, "s", "x")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn identity_round_trips() {
        let id = Identity { version: -3, time: 1_700_000_000_000_000_000 };
        assert_eq!(Identity::decode(&id.encode()), Some(id));
        assert_eq!(Identity::decode(&[1, 2]), None);
    }

    #[test]
    fn block_keys_parse_back_and_sort_by_hour() {
        let keys: Vec<_> = [-7_200, 0, 3_600].iter().map(|h| block(EventType::Ticket, h * 1_000_000_000, 3)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(parse_block(&keys[0]), Some((EventType::Ticket, -7_200_000_000_000, 3)));
        let legacy = event(EventType::Ticket, -5, "s", "x");
        assert_eq!(parse_event(&legacy), Some((EventType::Ticket, -5)));
        assert_eq!(identity_of_event(&legacy), Some(identity(EventType::Ticket, "s", "x")));
    }

    #[test]
    fn source_boundary_is_unambiguous() {
        assert_ne!(identity(EventType::Account, "ab", "c"), identity(EventType::Account, "a", "bc"));
    }
}
