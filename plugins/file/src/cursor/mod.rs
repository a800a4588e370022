//! The cursor — where the next sync resumes — and the reader that walks a file from it.
//!
//! A cursor is `OFFSET:LINE`: the byte offset of the next unread line and its 1-based line
//! number, e.g. `1234:57`. Only whole lines (ending in `\n`) are ever consumed, so the cursor
//! always sits at the start of a line, and rows appended later are read from exactly there.

mod reader;

use std::fmt;

use cxm_plugin::error;
use cxm_proto::v1::{PluginError, PluginErrorCode};

pub(crate) use reader::{DEFAULT_MAX_LINE_BYTES, Item, Next, Reader};

/// Where reading resumes: a byte offset at the start of a line, and that line's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The byte offset of the next unread line.
    pub(crate) offset: u64,
    /// The 1-based number of that line.
    pub(crate) line: u64,
}

impl Cursor {
    /// The start of the file.
    pub(crate) const START: Self = Self { offset: 0, line: 1 };

    /// Reads a cursor as [`fmt::Display`] writes it; empty means [`Cursor::START`].
    pub(crate) fn parse(text: &str) -> Result<Self, PluginError> {
        if text.is_empty() {
            return Ok(Self::START);
        }
        let parsed = text.split_once(':').and_then(|(o, l)| Some((o.parse::<u64>().ok()?, l.parse::<u64>().ok()?)));
        match parsed {
            Some((offset, line)) if line >= 1 => Ok(Self { offset, line }),
            _ => Err(error(PluginErrorCode::Internal, format!("the cursor `{text}` is not `offset:line`"))),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.offset, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        assert_eq!(Cursor::parse("").unwrap(), Cursor::START);
        let c = Cursor::parse("1234:57").unwrap();
        assert_eq!((c.offset, c.line), (1234, 57));
        assert_eq!(c.to_string(), "1234:57");
        for bad in ["12", "a:b", "1:0", "-1:2", "1:2:3"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
