//! A lean reading of a stored `SurveyResponse`: the few fields `Prioritize` needs (its score,
//! account and dimension values) borrowed from the encoded bytes, without decoding the rest
//! (ids, comment, timestamps) or allocating. Reading every response in range is what
//! `Prioritize` costs; decoding whole messages was most of it.

use cxm_proto::v1::{SurveyKind, SurveyResponse};
use cxm_store::block::varint;

/// The fields of one encoded response that drivers read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LeanResponse<'a> {
    source: &'a [u8],
    /// The encoded `attributes` entries (field 3), in order, each a map entry message.
    attributes: Attributes<'a>,
    account_id: &'a [u8],
    kind: i32,
    score: i32,
    scale_max: u32,
    touchpoint: &'a [u8],
    channel: &'a [u8],
}

/// The encoded attribute entries of a response (between them, other fields may sit).
#[derive(Debug, Default, Clone, Copy)]
struct Attributes<'a> {
    /// The bytes from the first entry's tag to the end of the last entry; only field 3 is read.
    span: &'a [u8],
}

/// Protobuf wire types.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// One field of an encoded message.
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    number: u64,
    wire: u64,
    /// The value of a varint field.
    varint: u64,
    /// The bytes of a length-delimited field.
    bytes: &'a [u8],
    /// Where the field (its tag) starts and ends in the message.
    span: (usize, usize),
}

/// Walks the fields of one message; `None` when it is malformed.
fn fields<'a>(message: &'a [u8], mut f: impl FnMut(Field<'a>)) -> Option<()> {
    let mut at = 0;
    while at < message.len() {
        let start = at;
        let tag = varint(message, &mut at)?;
        let mut field = Field { number: tag >> 3, wire: tag & 7, varint: 0, bytes: &[], span: (start, 0) };
        match field.wire {
            VARINT => field.varint = varint(message, &mut at)?,
            LEN => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                field.bytes = message.get(at..at.checked_add(len)?)?;
                at += len;
            }
            FIXED64 => at = at.checked_add(8).filter(|end| *end <= message.len())?,
            FIXED32 => at = at.checked_add(4).filter(|end| *end <= message.len())?,
            _ => return None,
        }
        if field.number == 0 {
            return None;
        }
        field.span.1 = at;
        f(field);
    }
    Some(())
}

impl<'a> LeanResponse<'a> {
    /// Reads the fields drivers need from an encoded `SurveyResponse`; `None` when the bytes are
    /// not a well-formed message (a field of the wrong wire type included).
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut r = Self::default();
        let (mut ok, mut attributes): (bool, Option<(usize, usize)>) = (true, None);
        fields(bytes, |field| {
            let expected = match field.number {
                7..=9 => VARINT,
                1..=6 | 10..=13 => LEN,
                _ => field.wire,
            };
            ok &= field.wire == expected;
            let value = field.bytes;
            match field.number {
                2 => r.source = value,
                3 => attributes = Some((attributes.map_or(field.span.0, |(first, _)| first), field.span.1)),
                5 => r.account_id = value,
                // Enums and int32 are sign-extended varints: truncated, as prost reads them.
                7 => r.kind = field.varint as i32,
                8 => r.score = field.varint as i32,
                9 => r.scale_max = field.varint as u32,
                11 => r.touchpoint = value,
                12 => r.channel = value,
                _ => {}
            }
        })?;
        if let Some((first, end)) = attributes {
            r.attributes.span = bytes.get(first..end)?;
        }
        ok.then_some(r)
    }

    /// The response with only what its score counts as (kind, score, scale): what
    /// `SurveyCell::of` reads.
    pub(crate) fn scored(&self) -> SurveyResponse {
        SurveyResponse { kind: self.kind, score: self.score, scale_max: self.scale_max, ..SurveyResponse::default() }
    }

    /// The account id.
    pub(crate) fn account_id(&self) -> &'a [u8] {
        self.account_id
    }

    /// The value of `dimension`, as `survey::dimension` reads it from the decoded response ("" when
    /// absent); `None` when an attribute entry is malformed.
    pub(crate) fn dimension(&self, dimension: &str) -> Option<&'a [u8]> {
        Some(match dimension {
            "source" => self.source,
            "touchpoint" => self.touchpoint,
            "channel" => self.channel,
            "account_id" => self.account_id,
            "kind" => match SurveyKind::try_from(self.kind) {
                Ok(SurveyKind::Nps) => b"nps",
                Ok(SurveyKind::Csat) => b"csat",
                Ok(SurveyKind::Ces) => b"ces",
                _ => b"",
            },
            key => return self.attribute(key.as_bytes()),
        })
    }

    /// The value of attribute `key` ("" when absent); of repeated entries the last wins, as when
    /// decoding into a map.
    fn attribute(&self, key: &[u8]) -> Option<&'a [u8]> {
        let mut found: &[u8] = b"";
        let mut ok = true;
        fields(self.attributes.span, |field| {
            if field.number != 3 || field.wire != LEN {
                return;
            }
            let (mut k, mut v): (&[u8], &[u8]) = (b"", b"");
            ok &= fields(field.bytes, |inner| match (inner.number, inner.wire) {
                (1, LEN) => k = inner.bytes,
                (2, LEN) => v = inner.bytes,
                _ => {}
            })
            .is_some();
            if k == key {
                found = v;
            }
        })?;
        ok.then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cxm_proto::prost::Message as _;
    use cxm_proto::prost_types::Timestamp;
    use proptest::prelude::*;

    use super::*;
    use crate::survey;

    fn response(
        kind: i32,
        score: i32,
        scale_max: u32,
        strings: [String; 6],
        attributes: BTreeMap<String, String>,
    ) -> SurveyResponse {
        let [id, source, account_id, comment, touchpoint, channel] = strings;
        SurveyResponse {
            id,
            source,
            attributes,
            updated_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 5 }),
            account_id,
            respondent_id: "someone".into(),
            kind,
            score,
            scale_max,
            comment,
            touchpoint,
            channel,
            responded_at: Some(Timestamp { seconds: -5, nanos: 999 }),
        }
    }

    proptest! {
        #[test]
        fn lean_reads_what_decoding_reads(
            kind in -1..5_i32,
            score in any::<i32>(),
            scale_max in any::<u32>(),
            strings in proptest::array::uniform6("[a-z_\u{e9}]{0,12}"),
            attributes in proptest::collection::btree_map("[a-z]{0,4}", "[a-z0-9]{0,6}", 0..6),
            asked in "[a-z]{0,4}",
        ) {
            let full = response(kind, score, scale_max, strings, attributes);
            let bytes = full.encode_to_vec();
            let lean = LeanResponse::parse(&bytes).expect("well-formed");
            prop_assert_eq!(lean.account_id(), full.account_id.as_bytes());
            let scored = lean.scored();
            prop_assert_eq!((scored.kind, scored.score, scored.scale_max), (full.kind, full.score, full.scale_max));
            for dimension in ["source", "touchpoint", "channel", "account_id", "kind", asked.as_str()] {
                prop_assert_eq!(lean.dimension(dimension), Some(survey::dimension(&full, dimension).as_bytes()));
            }
        }
    }

    #[test]
    fn the_last_of_repeated_attribute_entries_wins_and_malformed_bytes_are_refused() {
        let entry = |k: &str, v: &str| {
            let mut out = vec![0x1a, (k.len() + v.len() + 4) as u8, 0x0a, k.len() as u8];
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&[0x12, v.len() as u8]);
            out.extend_from_slice(v.as_bytes());
            out
        };
        let mut bytes = entry("region", "emea");
        bytes.extend(entry("plan", "pro"));
        bytes.extend(entry("region", "apac"));
        let decoded = SurveyResponse::decode(bytes.as_slice()).expect("decodes");
        let lean = LeanResponse::parse(&bytes).expect("parses");
        assert_eq!(lean.dimension("region"), Some(decoded.attributes["region"].as_bytes()));
        assert_eq!(lean.dimension("region"), Some(b"apac".as_slice()));
        assert_eq!(lean.dimension("plan"), Some(b"pro".as_slice()));
        assert_eq!(lean.dimension("other"), Some(b"".as_slice()));
        // A truncated message, and a score sent length-delimited, are refused like decoding does.
        assert!(LeanResponse::parse(&bytes[..bytes.len() - 1]).is_none());
        assert!(SurveyResponse::decode(&[0x42, 0x01, 0x00][..]).is_err());
        assert!(LeanResponse::parse(&[0x42, 0x01, 0x00]).is_none());
    }
}
