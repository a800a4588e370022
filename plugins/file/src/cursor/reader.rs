//! Reads whole records from a cursor: a JSON Lines record is one line; a CSV record is one or
//! more lines, since a quoted field may hold line breaks.
//!
//! CSV record boundaries are found here, by a small scanner that follows the csv crate's
//! quoting rules (a quote opens a quoted field only at the start of a field; `""` inside one
//! is a quote; a line break inside one belongs to the field). Each whole record is then parsed
//! by the csv crate alone. This keeps byte offsets and line numbers exact, and lets a record
//! whose quote is still open at the end of the file wait for more data instead of being read
//! half-written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use super::Cursor;

/// A quoted CSV field still open after this many bytes is taken for an unclosed quote: its
/// first line is reported and skipped, and reading goes on at the next line.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// The longest line read by default (config key `max_line_bytes`), its line break not counted.
pub(crate) const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// One thing read from the file.
#[derive(Debug)]
pub(crate) enum Item {
    /// A whole record (its bytes include the final line break).
    Record {
        /// The line the record starts on.
        line: u64,
        /// The record's bytes.
        bytes: Vec<u8>,
    },
    /// A CSV record whose quote never closed within [`MAX_RECORD_BYTES`]; only its first
    /// line was consumed.
    Unclosed {
        /// The line the record starts on.
        line: u64,
    },
    /// A line longer than the reader's line limit. Reading stops there: at most the limit
    /// (plus one byte) of it was read, so memory stays bounded even on an endless line.
    TooLong {
        /// The long line.
        line: u64,
    },
}

/// What [`Reader::next`] found.
#[derive(Debug)]
pub(crate) enum Next {
    /// A record (blank lines are skipped).
    Item(Item),
    /// No whole record is left. `pending` is the line of an unfinished record, if any.
    End {
        /// Where an unfinished record starts.
        pending: Option<u64>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Walks records from a cursor. Its [`position`](Reader::position) only ever moves past whole
/// records.
pub(crate) struct Reader {
    inner: BufReader<File>,
    at: Cursor,
    csv_delimiter: Option<u8>,
    done: bool,
    max_line: usize,
}

impl Reader {
    /// A reader at `at`; `csv_delimiter` is `Some` for CSV, `None` for JSON Lines.
    pub(crate) fn new(mut file: File, at: Cursor, csv_delimiter: Option<u8>) -> io::Result<Self> {
        file.seek(SeekFrom::Start(at.offset))?;
        let inner = BufReader::with_capacity(64 * 1024, file);
        Ok(Self { inner, at, csv_delimiter, done: false, max_line: DEFAULT_MAX_LINE_BYTES })
    }

    /// Sets the longest line read (its line break not counted); a longer one is
    /// [`Item::TooLong`].
    pub(crate) fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// The cursor after the last whole record read.
    pub(crate) fn position(&self) -> Cursor {
        self.at
    }

    /// The next whole, non-blank record.
    pub(crate) fn next(&mut self) -> io::Result<Next> {
        loop {
            if self.done {
                return Ok(Next::End { pending: None });
            }
            let start = self.at;
            let mut bytes = Vec::new();
            let mut state = Scan::FieldStart;
            let mut lines = 0;
            let mut first_line_end = start.offset;
            loop {
                let before = bytes.len();
                // One byte over the limit, and the line break: anything longer is too long.
                let cap = self.max_line as u64 + 2;
                (&mut self.inner).take(cap).read_until(b'\n', &mut bytes)?;
                let line_len = bytes.len() - before;
                let too_long = match bytes[before..].last() {
                    Some(b'\n') => line_len - 1 > self.max_line,
                    _ => line_len > self.max_line,
                };
                if too_long {
                    self.done = true;
                    return Ok(Next::Item(Item::TooLong { line: start.line + lines }));
                }
                if bytes.len() == before || bytes.last() != Some(&b'\n') {
                    // The end of the file, inside a line or a record: leave it for later.
                    self.done = true;
                    let pending = (!bytes.is_empty()).then_some(start.line);
                    return Ok(Next::End { pending });
                }
                lines += 1;
                if lines == 1 {
                    first_line_end = start.offset + bytes.len() as u64;
                }
                let Some(delimiter) = self.csv_delimiter else {
                    break;
                };
                state = scan(state, &bytes[before..], delimiter);
                if state != Scan::Quoted {
                    break;
                }
                if bytes.len() > MAX_RECORD_BYTES {
                    self.inner.seek(SeekFrom::Start(first_line_end))?;
                    self.at = Cursor { offset: first_line_end, line: start.line + 1 };
                    return Ok(Next::Item(Item::Unclosed { line: start.line }));
                }
            }
            self.at = Cursor { offset: start.offset + bytes.len() as u64, line: start.line + lines };
            if !bytes.trim_ascii().is_empty() {
                return Ok(Next::Item(Item::Record { line: start.line, bytes }));
            }
        }
    }
}

/// Runs the quoting state machine over one line (ending in `\n`). After it, the record is
/// whole unless the state is `Quoted`.
fn scan(mut state: Scan, line: &[u8], delimiter: u8) -> Scan {
    for &b in line {
        state = match (state, b) {
            (Scan::FieldStart, b'"') => Scan::Quoted,
            (Scan::FieldStart | Scan::Unquoted | Scan::QuoteInQuoted, b'\n') => Scan::FieldStart,
            (Scan::FieldStart | Scan::Unquoted | Scan::QuoteInQuoted, d) if d == delimiter => Scan::FieldStart,
            (Scan::FieldStart | Scan::Unquoted, _) => Scan::Unquoted,
            (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
            (Scan::Quoted, _) => Scan::Quoted,
            (Scan::QuoteInQuoted, b'"') => Scan::Quoted,
            (Scan::QuoteInQuoted, _) => Scan::Unquoted,
        };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(lines: &[&str]) -> bool {
        let mut state = Scan::FieldStart;
        for line in lines {
            state = scan(state, line.as_bytes(), b',');
        }
        state != Scan::Quoted
    }

    #[test]
    fn scanner_follows_csv_quoting() {
        assert!(whole(&["a,b,c\n"]));
        assert!(whole(&["a,\"b,c\",d\n"]));
        assert!(!whole(&["a,\"b\n"]));
        assert!(whole(&["a,\"b\n", "c\"\n"]));
        assert!(whole(&["a,\"say \"\"hi\"\"\",d\n"]));
        assert!(!whole(&["a,\"say \"\"hi\n"]));
        // A quote inside an unquoted field is literal, as the csv crate reads it.
        assert!(whole(&["a,5\" screen,d\n"]));
        assert!(whole(&["\"a\"\r\n"]));
    }
}
