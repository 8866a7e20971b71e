//! Reading scenario files and turning parse errors into located messages.

use std::path::Path;

use crate::error::{closest, unknown_and_candidates, ErrorOrigin, ScenarioError};
use crate::limits::{read_capped, too_deep, too_large, Input, MAX_NESTING};
use crate::{bundled, model::Invalid, Scenario, BUNDLED};

/// The syntax of a scenario source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON.
    Json,
}

/// Loads a scenario by bundled name or file path. Returns the scenario and the name its
/// errors and traces refer to.
pub fn load(arg: &str) -> Result<Scenario, ScenarioError> {
    if let Some(b) = bundled(arg) {
        let sc = parse(b.source, b.name, Format::Toml)?;
        if !sc.conditional_access_files.is_empty() {
            return Err(ScenarioError::new(
                ErrorOrigin::File(b.name.to_string()),
                "a bundled scenario cannot name `conditional_access_files` (no directory to read them from)",
            ));
        }
        return Ok(sc);
    }
    let path = Path::new(arg);
    let looks_like_path =
        arg.contains('/') || arg.contains('\\') || arg.ends_with(".toml") || arg.ends_with(".json");
    if !path.exists() && !looks_like_path {
        let names: Vec<_> = BUNDLED.iter().map(|b| b.name).collect();
        let mut e = ScenarioError::new(
            ErrorOrigin::Argument(arg.to_string()),
            format!("no bundled scenario is named `{arg}` and no such file exists"),
        )
        .expected(format!(
            "a scenario file path or one of: {}",
            names.join(", ")
        ));
        if let Some(c) = closest(arg, names.iter().copied()) {
            e = e.hint(format!("did you mean `{c}`?"));
        }
        return Err(e);
    }
    let src = read_capped(
        path,
        Input::ScenarioFile,
        ErrorOrigin::Argument(arg.to_string()),
        "the scenario file",
    )?;
    let format = if arg.to_ascii_lowercase().ends_with(".json") {
        Format::Json
    } else {
        Format::Toml
    };
    let mut sc = parse(&src, arg, format)?;
    crate::graph::load_scenario_files(&mut sc, path, &src)?;
    Ok(sc)
}

/// Parses and validates a scenario source. `origin` names it in errors, which never echo a
/// secret the source holds (see [`crate::secret::mask_error`]).
pub fn parse(src: &str, origin: &str, format: Format) -> Result<Scenario, ScenarioError> {
    parse_unmasked(src, origin, format).map_err(|e| crate::secret::mask_error(e, src))
}

fn parse_unmasked(src: &str, origin: &str, format: Format) -> Result<Scenario, ScenarioError> {
    let file = || ErrorOrigin::File(origin.to_string());
    if src.len() as u64 > Input::ScenarioFile.max_bytes() {
        return Err(too_large(file(), Input::ScenarioFile));
    }
    if let Some(at) = too_deep(src, format == Format::Toml) {
        return Err(too_deep_error(file(), src, at));
    }
    let scenario: Scenario = match format {
        Format::Toml => toml::from_str(src).map_err(|e| {
            let msg = e.message().trim().to_string();
            let (offset, width) = e
                .span()
                .map_or((0, 1), |s| (s.start, s.end.saturating_sub(s.start)));
            let e = with_candidates(
                ScenarioError::new(file(), msg.clone()).at_offset(src, offset, width),
                &msg,
            );
            qualify_hint(e, table_at(src, offset))
        })?,
        Format::Json => serde_json::from_str(src).map_err(|e| {
            let full = e.to_string();
            let msg = full.split(" at line ").next().unwrap_or(&full).to_string();
            with_candidates(
                ScenarioError::new(file(), msg.clone()).at_line_col(src, e.line(), e.column()),
                &msg,
            )
        })?,
    };
    scenario
        .validate()
        .and_then(|()| crate::graph::check(&scenario))
        .map_err(|inv| invalid_error(file(), src, &inv))?;
    if let Err((path, e)) = crate::set::check_sets(&scenario) {
        let mut located = ScenarioError::new(file(), format!("{} (at `{path}`)", e.message));
        located.expected = e.expected;
        located.hint = e.hint;
        // A fix override is located by its whole `KEY=VALUE` text; a timeline `set` by its
        // value.
        let kv = match &e.origin {
            ErrorOrigin::Set(kv) => kv.clone(),
            _ => String::new(),
        };
        let (key, value) = if path.starts_with("fix.set") {
            (String::new(), kv)
        } else {
            let v = kv
                .split_once('=')
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default();
            ("value".to_string(), v)
        };
        let inv = Invalid {
            path,
            key,
            value,
            message: located.message.clone(),
            expected: located.expected.clone().unwrap_or_default(),
        };
        let mut out = invalid_error(file(), src, &inv);
        out.message = located.message;
        out.hint = located.hint;
        out.expected = located.expected.filter(|x| !x.is_empty());
        return Err(out);
    }
    Ok(scenario)
}

/// The error for a document nested deeper than [`MAX_NESTING`] at byte `at`.
pub(crate) fn too_deep_error(origin: ErrorOrigin, src: &str, at: usize) -> ScenarioError {
    ScenarioError::new(origin, format!("nested deeper than {MAX_NESTING} levels"))
        .at_offset(src, at, 1)
        .expected(format!(
            "at most {MAX_NESTING} levels of arrays, tables and dotted keys (see docs/limits.md)"
        ))
}

/// The dotted name of the TOML table that holds byte `offset` (`identity`, `users`...).
fn table_at(src: &str, offset: usize) -> Option<String> {
    let offset = offset.min(src.len());
    // An error on a table header itself (a misspelled table) belongs to no table.
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    if src[line_start..].trim_start().starts_with('[') {
        return None;
    }
    let before = &src[..offset];
    before.lines().rev().find_map(|l| {
        let t = l.trim();
        t.strip_prefix("[[")
            .and_then(|r| r.strip_suffix("]]"))
            .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
            .map(|name| name.trim().to_string())
    })
}

/// Turns "did you mean `model`?" into "did you mean `identity.model`?" for a field of a
/// table.
fn qualify_hint(mut e: ScenarioError, table: Option<String>) -> ScenarioError {
    if let (Some(table), Some(h)) = (table, e.hint.clone()) {
        if e.message.starts_with("unknown field") {
            if let Some(field) = h
                .strip_prefix("did you mean `")
                .and_then(|r| r.strip_suffix("`?"))
            {
                e.hint = Some(format!("did you mean `{table}.{field}`?"));
            }
        }
    }
    e
}

/// Adds "expected" and "did you mean" from a serde "unknown field/variant" message.
pub(crate) fn with_candidates(e: ScenarioError, msg: &str) -> ScenarioError {
    match unknown_and_candidates(msg) {
        Some((word, cands)) => {
            let list = cands
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let e = e.expected(format!("one of {list}"));
            match closest(&word, cands.iter().map(String::as_str)) {
                Some(c) => e.hint(format!("did you mean `{c}`?")),
                None => e,
            }
        }
        None => e,
    }
}

/// A validation failure placed at the line where `key` is set to `value`.
pub(crate) fn invalid_error(origin: ErrorOrigin, src: &str, inv: &Invalid) -> ScenarioError {
    let e = ScenarioError::new(origin, format!("{} (at `{}`)", inv.message, inv.path))
        .expected(inv.expected.clone());
    // A value that cannot be searched for as written is found by its path first; in a
    // JSON file, always by its path (a value may be written with escapes, `"\u00e9"`).
    let json = src.trim_start().starts_with('{');
    let at = if json {
        crate::graph::locate_dotted(src, &inv.path).or_else(|| locate(src, &inv.key, &inv.value))
    } else if inv.value.is_empty() {
        locate_path(src, &inv.path).or_else(|| locate(src, &inv.key, &inv.value))
    } else {
        locate(src, &inv.key, &inv.value).or_else(|| locate_path(src, &inv.path))
    };
    match at {
        Some((offset, width)) => e.at_offset(src, offset, width),
        None => e,
    }
}

/// The byte offset and width of the value of dotted `path` (`timeline.1.at`,
/// `tenant.domain`) in a TOML source, found by walking its table headers: used when the value
/// is written differently from how it prints (`60s` for `1m`, escapes), or in JSON.
fn locate_path(src: &str, path: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = path.split('.').collect();
    let (key, tables) = parts.split_last()?;
    // The table header the key sits under: `[a.b]`, or the (n+1)-th `[[a]]` for `a.n`.
    let mut header = String::new();
    let mut nth = 0usize;
    for p in tables {
        match p.parse::<usize>() {
            Ok(i) => nth = i,
            Err(_) => {
                if !header.is_empty() {
                    header.push('.');
                }
                header.push_str(p);
            }
        }
    }
    let mut offset = 0;
    let mut in_table = header.is_empty();
    let mut seen = 0usize;
    for line in src.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_start_matches('[').trim_end_matches(']').trim();
            in_table = false;
            if name == header {
                if t.starts_with("[[") {
                    in_table = seen == nth;
                    seen += 1;
                } else {
                    in_table = true;
                }
            }
        } else if in_table {
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    let eq = line.find('=')?;
                    let value = line[eq + 1..].trim_end();
                    let lead = value.len() - value.trim_start().len();
                    return Some((offset + eq + 1 + lead, value.trim().len().max(1)));
                }
            }
        }
        offset += line.len();
    }
    None
}

/// The byte offset and width of `value` on the first line that sets `key` to it.
fn locate(src: &str, key: &str, value: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut fallback = None;
    for line in src.split_inclusive('\n') {
        let t = line.trim_start();
        let sets_key = t.starts_with(key) || t.starts_with(&format!("\"{key}\""));
        if let Some(i) = line.find(value) {
            if sets_key && !value.is_empty() {
                return Some((offset + i, value.len()));
            }
            fallback.get_or_insert((offset + i, value.len()));
        } else if sets_key && fallback.is_none() && value.is_empty() {
            fallback = Some((offset + line.len() - t.len(), key.len()));
        }
        offset += line.len();
    }
    fallback
}

impl From<&Path> for ErrorOrigin {
    fn from(p: &Path) -> Self {
        ErrorOrigin::File(p.display().to_string())
    }
}
