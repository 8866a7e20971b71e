//! The limits on what hmasim reads, in one place (documented in `docs/limits.md`).
//!
//! Every input has a byte cap per kind, checked while reading (a file is read through
//! `Read::take(cap + 1)`, so a file that grows or lies about its size is still cut), and
//! only regular files are read (a FIFO would block, a device such as `/dev/zero` never
//! ends). Nesting depth is capped before a parser sees the text, and every interval that
//! schedules something repeatedly has a minimum.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{ErrorOrigin, ScenarioError};
use crate::Span;

/// A kind of input, each with its own cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A scenario file (TOML or JSON).
    ScenarioFile,
    /// The `VALUE` of one `--set KEY=VALUE` (also a timeline `set` and a fix override).
    SetValue,
    /// One Microsoft Graph export file (`--ca-policies FILE`, `conditional_access_files`).
    GraphFile,
    /// A directory of Graph export files (`--ca-policies DIR`): every file together.
    GraphDirectory,
    /// The accepted exceptions of `hmasim verify --accept FILE` (TOML).
    AcceptFile,
}

/// The most `[`/`{` levels (and TOML dotted-key levels) a scenario or Graph document may
/// nest. The deepest real document nests about eight.
pub const MAX_NESTING: usize = 32;

/// The most entries a directory of Graph exports may hold (Entra ID allows 195 Conditional
/// Access policies a tenant).
pub const GRAPH_DIRECTORY_MAX_ENTRIES: usize = 1_000;

/// The shortest period of anything that repeats on a schedule (background syncs, Entra
/// Connect cycles, scheduled metadata refreshes): zero would fire forever at one instant.
pub const MIN_PERIOD: Span = Span(1_000);

impl Input {
    /// The cap in bytes.
    pub const fn max_bytes(self) -> u64 {
        match self {
            Input::ScenarioFile => 4 << 20,
            Input::SetValue => 64 << 10,
            Input::GraphFile => 16 << 20,
            Input::GraphDirectory => 64 << 20,
            Input::AcceptFile => 1 << 20,
        }
    }

    /// What the input is, for errors.
    pub const fn name(self) -> &'static str {
        match self {
            Input::ScenarioFile => "a scenario file",
            Input::SetValue => "a --set value",
            Input::GraphFile => "a Graph policy file",
            Input::GraphDirectory => "a directory of Graph policy files",
            Input::AcceptFile => "an accepted-exceptions file",
        }
    }

    /// What a readable input of this kind is, for errors.
    pub const fn expected(self) -> &'static str {
        match self {
            Input::ScenarioFile => "a readable UTF-8 TOML or JSON file",
            Input::SetValue => "a TOML value",
            Input::GraphFile | Input::GraphDirectory => {
                "a readable UTF-8 JSON file or a directory of them"
            }
            Input::AcceptFile => "a readable UTF-8 TOML file of [[accept]] entries",
        }
    }

    /// The cap written for people (`4 MiB`, `64 KiB`).
    pub fn max_text(self) -> String {
        human(self.max_bytes())
    }
}

/// `4 MiB`, `64 KiB`, `100 bytes`.
pub(crate) fn human(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The error for an input above its cap.
pub(crate) fn too_large(origin: ErrorOrigin, kind: Input) -> ScenarioError {
    ScenarioError::new(
        origin,
        format!("{} is limited to {}", kind.name(), kind.max_text()),
    )
    .expected(format!("at most {} (see docs/limits.md)", kind.max_text()))
}

/// Reads the regular file at `path` as UTF-8, refusing anything else (a directory, a
/// device, a FIFO, a socket) and anything above `kind`'s cap. `what` names the file in
/// messages ("the scenario file").
pub(crate) fn read_capped(
    path: &Path,
    kind: Input,
    origin: ErrorOrigin,
    what: &str,
) -> Result<String, ScenarioError> {
    read_capped_at(path, kind.max_bytes(), kind, origin, what)
}

/// [`read_capped`] with an explicit cap (what is left of a directory's budget).
pub(crate) fn read_capped_at(
    path: &Path,
    cap: u64,
    kind: Input,
    origin: ErrorOrigin,
    what: &str,
) -> Result<String, ScenarioError> {
    let fail = |msg: String| ScenarioError::new(origin.clone(), msg).expected(kind.expected());
    // Judged before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if let Some(e) = not_regular(&meta, what) {
        return Err(fail(e));
    }
    if meta.len() > cap {
        return Err(too_large(origin, kind));
    }
    let file = File::open(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    // The open file is judged again: the path may have changed since.
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if let Some(e) = not_regular(&meta, what) {
        return Err(fail(e));
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(origin, kind));
    }
    decode_text(bytes).map_err(|why| fail(format!("cannot read {what}: {why}")))
}

/// Text as editors and Windows PowerShell write it: UTF-8 with or without a byte-order
/// mark, or UTF-16 little- or big-endian with its byte-order mark (what Windows
/// PowerShell 5.1's `Out-File` and `>` write). Line endings are left to the parsers, which
/// take CRLF and LF alike.
pub fn decode_text(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = |body: &[u8], le: bool| -> Result<String, String> {
        if body.len() % 2 != 0 {
            return Err("UTF-16 text with an odd number of bytes".to_string());
        }
        let units = body.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        let mut out = String::with_capacity(body.len() / 2);
        for (i, r) in char::decode_utf16(units).enumerate() {
            match r {
                Ok(c) => out.push(c),
                Err(_) => {
                    return Err(format!(
                        "not UTF-16: an unpaired surrogate at byte offset {}",
                        2 + 2 * i
                    ))
                }
            }
        }
        Ok(out)
    };
    match bytes.as_slice() {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(|e| {
            format!(
                "not UTF-8 (invalid byte at offset {})",
                3 + e.utf8_error().valid_up_to()
            )
        }),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        b if b.contains(&0) => {
            // UTF-16 without a byte-order mark: every other byte of ASCII text is zero.
            let head = &b[..b.len().min(64)];
            let zeros = head.iter().filter(|x| **x == 0).count();
            Err(if zeros * 3 >= head.len() {
                "it looks like UTF-16 without a byte-order mark: save it as UTF-8, or as \
                 UTF-16 with a BOM"
                    .to_string()
            } else {
                let at = b.iter().position(|x| *x == 0).unwrap_or(0);
                format!("not text: a NUL byte at offset {at}")
            })
        }
        _ => String::from_utf8(bytes).map_err(|e| {
            format!(
                "not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )
        }),
    }
}

/// Why a file of this metadata is not read, if it is not a regular file.
fn not_regular(meta: &std::fs::Metadata, what: &str) -> Option<String> {
    let ft = meta.file_type();
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some(format!("cannot read {what}: it is a directory"))
    } else {
        Some(format!(
            "cannot read {what}: not a regular file (a device, FIFO or socket)"
        ))
    }
}

/// The byte offset of the first place in `src` that nests deeper than [`MAX_NESTING`], if
/// any: `[` and `{` outside strings and comments, and in TOML the parts of dotted keys and
/// table headers. Runs before the parser, so no parser recursion depends on the input.
pub(crate) fn too_deep(src: &str, toml: bool) -> Option<usize> {
    let b = src.as_bytes();
    // Open brackets, each with the dotted parts of the TOML key whose value it opens.
    let mut stack: Vec<(u8, usize)> = Vec::new();
    // The containers around the current place: in TOML the document's own table counts,
    // as a JSON document's outer object does, and so does every table a header or a
    // dotted key opens.
    let mut depth = usize::from(toml);
    // TOML: at a key (line start outside any bracket, or just inside `{` or after `,` in
    // one); `dots` counts the dotted parts of the key so far, `pending` those of the key
    // whose value comes next.
    let mut at_key = toml;
    let mut dots = 0usize;
    let mut pending = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' if toml || c == b'"' => {
                let n = if toml && b[i..].starts_with(&[c, c, c]) {
                    3
                } else {
                    1
                };
                let close = &b[i..i + n];
                i += n;
                while i < b.len() && !b[i..].starts_with(close) {
                    if b[i] == b'\\' && c == b'"' {
                        i += 1;
                    } else if b[i] == b'\n' && n == 1 {
                        break;
                    }
                    i += 1;
                }
                if i < b.len() && b[i] != b'\n' {
                    i += n;
                }
                continue;
            }
            b'#' if toml => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' if toml && stack.is_empty() => {
                at_key = true;
                dots = 0;
                pending = 0;
            }
            b'[' if toml && at_key && stack.is_empty() => {
                // A table header, `[a.b]` or `[[a.b]]`: the document, each part, and the
                // element of an array of tables are the depth of what follows.
                let mut parts = 1 + usize::from(b[i..].starts_with(b"[["));
                while i < b.len() && b[i] != b'\n' && b[i] != b'#' {
                    match b[i] {
                        b'.' => parts += 1,
                        b'"' | b'\'' => {
                            let q = b[i];
                            i += 1;
                            while i < b.len() && b[i] != q && b[i] != b'\n' {
                                i += 1;
                            }
                        }
                        _ => {}
                    }
                    if 1 + parts > MAX_NESTING {
                        return Some(i);
                    }
                    i += 1;
                }
                depth = 1 + parts;
                at_key = false;
                continue;
            }
            b'.' if at_key => {
                dots += 1;
                if depth + dots > MAX_NESTING {
                    return Some(i);
                }
            }
            b'=' if at_key => {
                at_key = false;
                pending = dots;
                dots = 0;
            }
            b'[' | b'{' => {
                stack.push((c, pending));
                depth += 1 + pending;
                pending = 0;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                at_key = toml && c == b'{';
            }
            b']' | b'}' => {
                if let Some((_, parts)) = stack.pop() {
                    depth -= 1 + parts;
                }
                pending = 0;
            }
            b',' if toml => {
                at_key = stack.last().is_some_and(|(c, _)| *c == b'{');
                dots = 0;
                pending = 0;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod decode_tests {
    use super::decode_text;

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        let mut out = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in s.encode_utf16() {
            out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    #[test]
    fn every_encoding_windows_writes_reads_the_same() {
        let text = "{\r\n    \"displayName\":  \"Politique é\"\r\n}\r\n";
        assert_eq!(decode_text(text.as_bytes().to_vec()).unwrap(), text);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(text.as_bytes());
        assert_eq!(decode_text(bom).unwrap(), text);
        assert_eq!(decode_text(utf16(text, true)).unwrap(), text);
        assert_eq!(decode_text(utf16(text, false)).unwrap(), text);
    }

    #[test]
    fn broken_text_says_what_it_is() {
        let mut odd = utf16("{}", true);
        odd.push(0);
        assert!(decode_text(odd).unwrap_err().contains("odd number"));
        let lone = vec![0xFF, 0xFE, 0x00, 0xD8, b'a', 0];
        assert!(decode_text(lone)
            .unwrap_err()
            .contains("unpaired surrogate"));
        let no_bom: Vec<u8> = "{\"a\": 1}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let e = decode_text(no_bom).unwrap_err();
        assert!(e.contains("UTF-16 without a byte-order mark"), "{e}");
        assert!(decode_text(vec![b'a', 0xC3])
            .unwrap_err()
            .contains("offset 1"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_keys_and_headers_but_not_strings() {
        let deep = |open: &str, close: &str, n: usize| {
            format!("a = {}{}\n", open.repeat(n), close.repeat(n))
        };
        // The document's table is one level, as a JSON document's object is.
        assert_eq!(too_deep(&deep("[", "]", MAX_NESTING - 1), true), None);
        assert!(too_deep(&deep("[", "]", MAX_NESTING), true).is_some());
        assert!(too_deep(&deep("{b = ", "}", MAX_NESTING), true).is_some());
        assert_eq!(too_deep(&deep("{b = ", "}", MAX_NESTING - 1), true), None);
        let json = |n: usize| format!("{{\"a\": {}{}}}", "[".repeat(n), "]".repeat(n));
        assert_eq!(too_deep(&json(MAX_NESTING - 1), false), None);
        assert!(too_deep(&json(MAX_NESTING), false).is_some());
        // `a.b.c = 1` opens the tables a and b in the document's.
        let dotted = |n: usize| vec!["a"; n].join(".");
        assert_eq!(
            too_deep(&format!("{} = 1\n", dotted(MAX_NESTING)), true),
            None
        );
        assert!(too_deep(&format!("{} = 1\n", dotted(MAX_NESTING + 1)), true).is_some());
        assert_eq!(
            too_deep(&format!("[{}]\nx = 1\n", dotted(MAX_NESTING - 1)), true),
            None
        );
        assert!(too_deep(&format!("[{}]\n", dotted(MAX_NESTING)), true).is_some());
        // A header's tables are the base of the keys under it.
        let under = format!("[{}]\nx = [1]\n", dotted(MAX_NESTING - 1));
        assert!(too_deep(&under, true).is_some());
        let next = format!("[{}]\n[b]\nx = [1]\n", dotted(MAX_NESTING - 1));
        assert_eq!(too_deep(&next, true), None);
        assert_eq!(too_deep("a.b.c = 1.5\n[x.y]\nz = \"[[[[\"\n", true), None);
        // Brackets in strings and comments do not count.
        let s = format!("a = \"{}\" # {}\n", "[".repeat(99), "{".repeat(99));
        assert_eq!(too_deep(&s, true), None);
        let j = format!("{{\"a\": \"{}\"}}", "[".repeat(99));
        assert_eq!(too_deep(&j, false), None);
        assert!(too_deep(&"[".repeat(MAX_NESTING + 1), false).is_some());
        // Siblings do not add up.
        let siblings = format!("a = [{}]\n", "[1],".repeat(99));
        assert_eq!(too_deep(&siblings, true), None);
        let lines = "x.y = 1\n".repeat(99);
        assert_eq!(too_deep(&lines, true), None);
    }

    #[test]
    fn caps_are_written_for_people() {
        assert_eq!(Input::ScenarioFile.max_text(), "4 MiB");
        assert_eq!(Input::SetValue.max_text(), "64 KiB");
        assert_eq!(human(100), "100 bytes");
    }
}
