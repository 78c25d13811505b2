//! Terminal styling: ANSI colors when the stream is a terminal (or `--color always`), never when `NO_COLOR` is set.

use std::io::IsTerminal;

use crate::cli::Color;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    fn decide(choice: Color, is_terminal: bool) -> Self {
        let enabled = match choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        Style { enabled }
    }

    pub fn for_stdout(choice: Color) -> Self {
        Self::decide(choice, std::io::stdout().is_terminal())
    }

    pub fn for_stderr(choice: Color) -> Self {
        Self::decide(choice, std::io::stderr().is_terminal())
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    pub fn red_bold(self, text: &str) -> String {
        self.paint("1;31", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
}
