//! Colour, only for terminals: off when the stream is not a TTY or `NO_COLOR` is set.

use std::io::IsTerminal;

/// ANSI styling for one output stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    enabled: bool,
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Style {
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
