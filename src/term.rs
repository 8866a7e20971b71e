//! What reaches the terminal: every text the command line prints goes through here, so no
//! control character from any input (a scenario name, a UPN, a policy display name, a
//! `--set` value) is sent raw to a terminal. Control characters are shown escaped
//! (`\u{1b}`); the output's own line breaks are kept.

use std::borrow::Cow;
use std::io::Write;

pub use crate::protocol::display::{escape_control, escape_control_lines};

/// `text` as the terminal may see it: control characters escaped, line breaks kept.
pub fn shown(text: &str) -> Cow<'_, str> {
    escape_control_lines(text)
}

/// Prints `text` on standard output, escaped.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(shown(text).as_bytes());
    let _ = out.flush();
}

/// Prints `text` and a line break on standard error, escaped.
pub fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(shown(text).as_bytes());
    let _ = err.write_all(b"\n");
}

/// Standard error for the log subscriber (`-v`, `RUST_LOG`): every write escaped, so a
/// logged field (a UPN, a URL) cannot carry a raw control character to the terminal.
pub struct SafeStderr;

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(shown(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_its_lines_and_loses_its_controls() {
        assert_eq!(
            shown("a\u{1b}[31mb\nc\u{7}\r\n"),
            "a\\u{1b}[31mb\nc\\u{7}\\u{d}\n"
        );
    }

    #[test]
    fn the_log_writer_escapes_what_it_writes() {
        // The writer reports the whole buffer written, whatever the escaping adds.
        let buf = b"upn=\x1b[2J\n";
        assert_eq!(SafeStderr.write(buf).unwrap(), buf.len());
    }
}
