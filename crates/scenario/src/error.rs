//! Scenario errors, located and explained.

use std::fmt;

/// Where the bad input came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorOrigin {
    /// A scenario file (its path as given) or a bundled scenario (its name).
    File(String),
    /// A `--set KEY=VALUE` override (the whole argument).
    Set(String),
    /// The scenario argument itself (unknown name, unreadable file).
    Argument(String),
    /// A place in a JSON document (Microsoft Graph policies): the file and the JSON path
    /// (`$.value[2].conditions.clientAppTypes[0]`).
    JsonPath {
        /// The file (its path as given).
        file: String,
        /// The JSON path of the offending value.
        path: String,
    },
}

/// A scenario that cannot be used, and why. Always fatal for the run that met it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Where.
    pub origin: ErrorOrigin,
    /// 1-based line and column in the file, when the error has a place in it.
    pub position: Option<(usize, usize)>,
    /// Width of the offending text (for the caret line).
    pub width: usize,
    /// The source line, for the excerpt.
    pub excerpt: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// A suggestion ("did you mean ...").
    pub hint: Option<String>,
}

impl ScenarioError {
    /// An error with no position.
    pub fn new(origin: ErrorOrigin, message: impl Into<String>) -> Self {
        ScenarioError {
            origin,
            position: None,
            width: 1,
            excerpt: None,
            message: message.into(),
            expected: None,
            hint: None,
        }
    }

    /// Places the error at byte offset `offset` of `src`, `width` bytes wide.
    pub fn at_offset(mut self, src: &str, offset: usize, width: usize) -> Self {
        let offset = offset.min(src.len());
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = src[line_start..offset].chars().count() + 1;
        let line_text = src[line_start..].lines().next().unwrap_or("");
        self.position = Some((line, col));
        self.excerpt = Some(line_text.to_string());
        self.width = width.max(1);
        self
    }

    /// Places the error at 1-based `line` and `col` of `src`.
    pub fn at_line_col(mut self, src: &str, line: usize, col: usize) -> Self {
        self.position = Some((line.max(1), col.max(1)));
        self.excerpt = src.lines().nth(line.saturating_sub(1)).map(str::to_string);
        self
    }

    /// Sets what was expected (builder style).
    pub fn expected(mut self, e: impl Into<String>) -> Self {
        self.expected = Some(e.into());
        self
    }

    /// Sets a hint (builder style).
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}

impl ScenarioError {
    /// The secret values this error could echo: the value of a `--set` of a secret field,
    /// the values the excerpt's line assigns to secret keys.
    fn secrets(&self) -> Vec<String> {
        let mut out = match &self.origin {
            ErrorOrigin::Set(kv) => crate::secret::set_secret_values(kv),
            _ => Vec::new(),
        };
        if let Some(line) = &self.excerpt {
            out.extend(crate::secret::source_line_secrets(line));
        }
        out
    }
}

/// The message, with every secret it could echo masked (see [`crate::secret`]).
impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = String::new();
        self.render(&mut raw)?;
        f.write_str(&crate::secret::redact(&raw, &self.secrets()))
    }
}

impl ScenarioError {
    fn render(&self, f: &mut String) -> fmt::Result {
        use fmt::Write as _;
        match (&self.origin, self.position) {
            (ErrorOrigin::File(p), Some((l, c))) => write!(f, "{p}:{l}:{c}: {}", self.message)?,
            (ErrorOrigin::File(p), None) => write!(f, "{p}: {}", self.message)?,
            // Masked before it is cut: a cut could leave part of a secret unmatched.
            (ErrorOrigin::Set(k), _) => write!(
                f,
                "--set {}: {}",
                cut(&crate::secret::mask_set(k)),
                self.message
            )?,
            (ErrorOrigin::Argument(a), _) => write!(f, "{}: {}", cut(a), self.message)?,
            (ErrorOrigin::JsonPath { file, path }, _) => {
                write!(f, "{file}: {path}: {}", self.message)?
            }
        }
        if let (Some(text), Some((line, col))) = (&self.excerpt, self.position) {
            let num = line.to_string();
            let pad = " ".repeat(num.len());
            // Secrets are masked before the window cuts the line, with as many `*` as
            // they have characters, so the caret stays under its column.
            let mut text = text.clone();
            for secret in crate::secret::source_line_secrets(&text.clone()) {
                if !secret.is_empty() {
                    text = text.replace(&secret, &"*".repeat(secret.chars().count()));
                }
            }
            let (text, caret, width) = window(&text, col - 1, self.width);
            write!(
                f,
                "\n{pad} |\n{num} | {text}\n{pad} | {}{}",
                " ".repeat(caret),
                "^".repeat(width)
            )?;
        }
        if let Some(e) = &self.expected {
            write!(f, "\n  = expected: {e}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  = hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The most columns of a source line an excerpt shows: one screen line.
pub const EXCERPT_COLUMNS: usize = 100;

/// `arg` as an error names it: cut to [`EXCERPT_COLUMNS`] characters with `…`.
fn cut(arg: &str) -> String {
    if arg.chars().count() <= EXCERPT_COLUMNS {
        arg.to_string()
    } else {
        let mut s: String = arg.chars().take(EXCERPT_COLUMNS - 1).collect();
        s.push('…');
        s
    }
}

/// The part of `line` an excerpt shows: at most [`EXCERPT_COLUMNS`] characters around
/// the 0-based character column `col`, with `…` where the line is cut; and the caret's
/// column and width in what is shown.
fn window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    // The caret never runs past the line (a span may reach into the next lines).
    let width = width.min(chars.len().saturating_sub(col)).max(1);
    if chars.len() <= EXCERPT_COLUMNS {
        return (line.to_string(), col, width);
    }
    // Room for an ellipsis on each side; the column sits a third of the way in.
    let room = EXCERPT_COLUMNS - 2;
    let col = col.min(chars.len());
    let start = col
        .saturating_sub(room / 3)
        .min(chars.len().saturating_sub(room));
    let end = (start + room).min(chars.len());
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    let caret = col - start + usize::from(start > 0);
    let width = width.min(end.saturating_sub(col)).max(1);
    (shown, caret, width)
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(word, c);
        if d <= word.len().max(c.len()).div_ceil(3) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"),
/// the offending word and the candidates.
pub(crate) fn unknown_and_candidates(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))?;
    let (word, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected")?.1;
    let cands = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((word.to_string(), cands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("modle", ["model", "users"]), Some("model"));
        assert_eq!(closest("zzzzzz", ["model", "users"]), None);
        let (w, c) = unknown_and_candidates("unknown field `modle`, expected `model`").unwrap();
        assert_eq!((w.as_str(), c), ("modle", vec!["model".to_string()]));
    }

    #[test]
    fn cuts_a_long_line_around_the_column() {
        let mut line = "x".repeat(500_000);
        line.replace_range(249_999..250_000, "!");
        let src = format!("{line}\n");
        let e = ScenarioError::new(ErrorOrigin::File("s.json".into()), "bad")
            .at_offset(&src, 249_999, 3);
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines[2].strip_prefix("1 | ").unwrap();
        let carets = lines[3].strip_prefix("  | ").unwrap();
        assert!(shown.chars().count() <= EXCERPT_COLUMNS, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        let at = carets.find('^').unwrap();
        assert_eq!(shown.chars().nth(at), Some('!'), "{text}");
        assert_eq!(carets.trim(), "^^^");
        assert!(text.starts_with("s.json:1:250000: bad"), "{text}");
        // The start and the end of a line keep their side uncut.
        let e = ScenarioError::new(ErrorOrigin::File("s".into()), "bad").at_offset(&src, 0, 1);
        assert!(e.to_string().lines().nth(2).unwrap().starts_with("1 | xx"));
        let e =
            ScenarioError::new(ErrorOrigin::File("s".into()), "bad").at_offset(&src, 499_999, 1);
        let t = e.to_string();
        let carets = t.lines().nth(3).unwrap().strip_prefix("  | ").unwrap();
        let shown = t.lines().nth(2).unwrap().strip_prefix("1 | ").unwrap();
        assert_eq!(carets.find('^').unwrap() + 1, shown.chars().count());
    }

    #[test]
    fn a_long_secret_is_masked_before_the_excerpt_is_cut() {
        let secret = format!("S3cr3t{}", "q".repeat(300));
        let src = format!("[[users]]\npassword = '{secret}'\n");
        let e =
            ScenarioError::new(ErrorOrigin::File("s.toml".into()), "bad").at_line_col(&src, 2, 200);
        let shown = e.to_string();
        assert!(
            !shown.contains("S3cr3t") && !shown.contains("qqqqqqqq"),
            "{shown}"
        );
        let e = ScenarioError::new(
            ErrorOrigin::Set(format!("users.0.password={secret}")),
            "bad",
        );
        let shown = e.to_string();
        assert!(
            !shown.contains("S3cr3t") && !shown.contains("qqqq"),
            "{shown}"
        );
    }

    #[test]
    fn secrets_echoed_by_an_error_are_masked() {
        let e = ScenarioError::new(
            ErrorOrigin::Set("users.0.password=123".into()),
            "invalid type: integer `123`, expected a string",
        );
        let shown = e.to_string();
        assert!(!shown.contains("123"), "{shown}");
        assert!(
            shown.starts_with("--set users.0.password=********: "),
            "{shown}"
        );
        let src = "[[users]]\npassword = 'Zq-secret-9'\nbad = 1\n";
        let e =
            ScenarioError::new(ErrorOrigin::File("s.toml".into()), "bad").at_line_col(src, 2, 1);
        let shown = e.to_string();
        assert!(!shown.contains("Zq-secret-9"), "{shown}");
        assert!(shown.contains("password = '*"), "{shown}");
    }

    #[test]
    fn renders_a_caret_under_the_place() {
        let src = "a = 1\nmodel = \"x\"\n";
        let e = ScenarioError::new(ErrorOrigin::File("s.toml".into()), "bad").at_offset(src, 14, 3);
        assert_eq!(e.position, Some((2, 9)));
        assert_eq!(
            e.to_string(),
            "s.toml:2:9: bad\n  |\n2 | model = \"x\"\n  |         ^^^"
        );
    }
}
