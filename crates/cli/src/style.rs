//! Output for people: colour only for terminals (off when the stream is not a TTY or `NO_COLOR`
//! is set), the terminal's width, words wrapped to it, and stdout that ends quietly when the
//! reader goes away (`cxm … | head`).

use std::io::{IsTerminal, Write};

/// ANSI styling for one output stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    enabled: bool,
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Style {
    /// No styling at all.
    #[cfg(test)]
    pub(crate) fn plain() -> Self {
        Self { enabled: false }
    }

    /// Styling for stdout.
    pub(crate) fn stdout() -> Self {
        Self { enabled: std::io::stdout().is_terminal() && !no_color() }
    }

    /// Styling for stderr.
    pub(crate) fn stderr() -> Self {
        Self { enabled: std::io::stderr().is_terminal() && !no_color() }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// Bold text (headings).
    pub(crate) fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Dimmed text (secondary details).
    pub(crate) fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Red text (errors, rejections).
    pub(crate) fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Green text (success).
    pub(crate) fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow text (warnings).
    pub(crate) fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
}

/// Whether progress bars may be drawn (stderr is a terminal).
pub(crate) fn progress_allowed() -> bool {
    std::io::stderr().is_terminal()
}

/// Writes `text` to stdout and flushes it. A reader that closed the pipe (`cxm … | head -1`) is
/// not an error: the rest is dropped quietly, without a panic or a message.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    // Any other write error (a full disk behind a redirect) has nowhere better to be reported.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The width to wrap text at: `COLUMNS` when set, else the terminal's, else 80.
pub(crate) fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok())
        && columns > 0
    {
        return columns;
    }
    console::Term::stdout().size_checked().map_or(80, |(_, columns)| usize::from(columns))
}

/// Splits `text` into lines of at most `width` columns, breaking only between words; a word
/// longer than `width` gets a line of its own, whole.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() { 0 } else { line.chars().count() + 1 };
        if !line.is_empty() && needed + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words_only() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(wrap("a supercalifragilistic word", 10), ["a", "supercalifragilistic", "word"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
