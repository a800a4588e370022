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

/// Writes one message given as its field `field`'s already-encoded bytes (an embedded message,
/// wire type 2) — the same bytes as encoding a message whose only set field is `field`, without
/// decoding and re-encoding `bytes`.
pub fn write_field(out: &mut impl Write, field: u32, bytes: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(20);
    let key = u64::from(field) << 3 | 2;
    let body = prost::encoding::encoded_len_varint(key)
        + prost::encoding::encoded_len_varint(bytes.len() as u64)
        + bytes.len();
    prost::encoding::encode_varint(body as u64, &mut head);
    prost::encoding::encode_varint(key, &mut head);
    prost::encoding::encode_varint(bytes.len() as u64, &mut head);
    out.write_all(&head)?;
    out.write_all(bytes)?;
    out.flush()
}

/// Reads one message of at most `max_bytes`: `Ok(None)` at a clean end of the stream.
pub fn read<M: Message + Default>(input: &mut impl Read, max_bytes: usize) -> std::io::Result<Option<M>> {
    match read_bytes(input, max_bytes)? {
        Some(bytes) => {
            M::decode(bytes.as_slice()).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }
        None => Ok(None),
    }
}

/// Reads one message's bytes (at most `max_bytes`) without decoding them: `Ok(None)` at a clean
/// end of the stream.
pub fn read_bytes(input: &mut impl Read, max_bytes: usize) -> std::io::Result<Option<Vec<u8>>> {
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
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use cxm_proto::v1::host_reply::Reply;
    use cxm_proto::v1::{HostReply, PullRequest, PullResponse};
    use prost::Message;

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

    #[test]
    fn a_field_written_from_its_bytes_reads_as_the_message() {
        let page = PullResponse { next_cursor: "7".into(), has_more: true, ..PullResponse::default() };
        let mut bytes = Vec::new();
        super::write_field(&mut bytes, 3, &page.encode_to_vec()).unwrap();
        let reply = super::read::<HostReply>(&mut bytes.as_slice(), 1000).unwrap().unwrap();
        assert_eq!(reply.reply, Some(Reply::Page(page)));
    }
}
