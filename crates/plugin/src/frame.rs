//! Length-delimited messages on a byte stream: each message is prefixed by its encoded length as
//! a protobuf varint (what `prost::Message::encode_length_delimited` writes). The plugin host
//! protocol (`HostRequest` / `HostReply` of `proto/cx/v1/plugin.proto`) travels this way.

use std::io::{Read, Write};

use prost::Message;

/// Writes one message with its length prefix and flushes.
pub fn write<M: Message>(out: &mut impl Write, message: &M) -> std::io::Result<()> {
    out.write_all(&message.encode_length_delimited_to_vec())?;
    out.flush()
}

/// Reads one message of at most `max_bytes`: `Ok(None)` at a clean end of the stream.
pub fn read<M: Message + Default>(input: &mut impl Read, max_bytes: usize) -> std::io::Result<Option<M>> {
    let mut length: u64 = 0;
    for (i, shift) in (0..64).step_by(7).enumerate() {
        let mut byte = [0u8; 1];
        if input.read(&mut byte)? == 0 {
            if i == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        length |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a message of {length} bytes is over the limit of {max_bytes}"),
        ));
    }
    let mut bytes = vec![0u8; length];
    input.read_exact(&mut bytes)?;
    M::decode(bytes.as_slice()).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use cxm_proto::v1::PullRequest;

    #[test]
    fn messages_round_trip_and_the_limit_holds() {
        let mut bytes = Vec::new();
        let long = PullRequest { cursor: "x".repeat(300), max_events: 7 };
        super::write(&mut bytes, &PullRequest::default()).unwrap();
        super::write(&mut bytes, &long).unwrap();
        let mut input = bytes.as_slice();
        assert_eq!(super::read::<PullRequest>(&mut input, 1000).unwrap(), Some(PullRequest::default()));
        assert_eq!(super::read::<PullRequest>(&mut input, 1000).unwrap(), Some(long.clone()));
        assert_eq!(super::read::<PullRequest>(&mut input, 1000).unwrap(), None);
        let mut again = Vec::new();
        super::write(&mut again, &long).unwrap();
        assert!(super::read::<PullRequest>(&mut again.as_slice(), 100).is_err());
    }
}
