//! Which scenario fields hold secrets, and how output shows them.
//!
//! A secret field is one whose last dotted segment names a password or a client secret
//! ([`hmasim_protocol::display::is_secret_name`]): `users.0.password`,
//! `timeline.3.password`, and any `client_secret` a later format adds. The scenario keeps
//! the real values (the parties need them); every output masks them: the `reproduce:` line
//! and the timeline notes show a `--set` of a secret field as [`mask_set`] does, and a
//! [`ScenarioError`](crate::ScenarioError) masks the values its origin or its excerpt holds.
//!
//! ```
//! use hmasim_scenario::secret::{is_secret_path, mask_set};
//! assert!(is_secret_path("users.0.password"));
//! assert!(!is_secret_path("users.0.upn"));
//! assert_eq!(mask_set("users.0.password=hunter2"), "users.0.password=********");
//! assert_eq!(mask_set("identity.model=phs"), "identity.model=phs");
//! ```

use std::borrow::Cow;

use hmasim_protocol::display::is_secret_name;
pub use hmasim_protocol::display::MASK;

use crate::Scenario;

/// Whether the dotted path `key` names a secret field.
pub fn is_secret_path(key: &str) -> bool {
    key.trim().rsplit('.').next().is_some_and(is_secret_name)
}

/// A `KEY=VALUE` override as output shows it: the value masked when `KEY` is a secret field.
pub fn mask_set(kv: &str) -> Cow<'_, str> {
    match kv.split_once('=') {
        Some((k, _)) if is_secret_path(k) => Cow::Owned(format!("{k}={MASK}")),
        _ => Cow::Borrowed(kv),
    }
}

/// The value of a `KEY=VALUE` override when `KEY` is a secret field: as written, and
/// without the quotes TOML would strip.
pub fn set_secret_values(kv: &str) -> Vec<String> {
    match kv.split_once('=') {
        Some((k, v)) if is_secret_path(k) => with_unquoted(v.trim()),
        _ => Vec::new(),
    }
}

fn with_unquoted(v: &str) -> Vec<String> {
    let mut out = vec![v.to_string()];
    let inner = v
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
    if let Some(i) = inner {
        out.push(i.to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Every secret value `sc` holds: the users' passwords, the passwords of `change-password`
/// entries, and the values of timeline and fix `set`s of secret fields.
pub fn secret_values(sc: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = sc.users.iter().map(|u| u.password.clone()).collect();
    let timelines = sc
        .timeline
        .iter()
        .chain(sc.fix.iter().flat_map(|f| f.timeline.iter()));
    for a in timelines {
        out.extend(a.password.clone());
        if let (Some(k), Some(v)) = (&a.key, &a.value) {
            if is_secret_path(k) {
                out.extend(with_unquoted(v.trim()));
            }
        }
    }
    for kv in sc.fix.iter().flat_map(|f| f.set.iter()) {
        out.extend(set_secret_values(kv));
    }
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

/// `text` with every occurrence of each secret replaced by [`MASK`] (longest first, so a
/// secret that contains another is masked whole).
pub fn redact<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), MASK);
    }
    Cow::Owned(out)
}

/// Every secret value a scenario source (TOML or JSON) writes, whether or not it is valid:
/// the values of secret keys (whatever their type), the `value` of a timeline `set` of a
/// secret field, a fix's `set` of one. For a source that does not parse, what each line
/// assigns to secret keys.
pub fn source_secrets(src: &str) -> Vec<String> {
    let tree = toml::from_str::<toml::Table>(src)
        .ok()
        .and_then(|t| serde_json::to_value(t).ok())
        .or_else(|| serde_json::from_str::<serde_json::Value>(src).ok());
    let mut out = match tree {
        Some(v) => {
            let mut out = Vec::new();
            collect_secrets(&v, &mut out);
            out
        }
        None => src.lines().flat_map(source_line_secrets).collect(),
    };
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn collect_secrets(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            let set_of_secret = map
                .get("key")
                .and_then(|k| k.as_str())
                .is_some_and(is_secret_path);
            for (k, x) in map {
                if is_secret_name(k) || (set_of_secret && k == "value") {
                    out.push(text_of(x));
                } else if k == "set" {
                    for kv in x.as_array().into_iter().flatten() {
                        out.extend(kv.as_str().map(set_secret_values).unwrap_or_default());
                    }
                }
                collect_secrets(x, out);
            }
        }
        serde_json::Value::Array(xs) => xs.iter().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

/// `e` with every secret `src` writes masked in its message, excerpt, expectation and hint:
/// what `parse` returns, so an error never echoes a password of the file it is about.
pub fn mask_error(mut e: crate::ScenarioError, src: &str) -> crate::ScenarioError {
    let secrets = source_secrets(src);
    if secrets.is_empty() {
        return e;
    }
    let mask = |s: &mut String| {
        if let Cow::Owned(m) = redact(s, &secrets) {
            *s = m;
        }
    };
    mask(&mut e.message);
    if let Some(x) = e.excerpt.as_mut() {
        mask(x);
    }
    if let Some(x) = e.expected.as_mut() {
        mask(x);
    }
    if let Some(x) = e.hint.as_mut() {
        mask(x);
    }
    e
}

/// The values a line of a scenario file (TOML or JSON) assigns to secret keys:
/// `password = "x"`, `"password": "x"`, inline tables included.
pub fn source_line_secrets(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // A key: bare (letters, digits, `_`, `-`) or quoted.
        let (key, end) = if chars[i] == '"' || chars[i] == '\'' {
            let q = chars[i];
            let close = (i + 1..chars.len()).find(|&j| chars[j] == q);
            match close {
                Some(j) => (chars[i + 1..j].iter().collect::<String>(), j + 1),
                None => break,
            }
        } else if chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-' {
            let j = (i..chars.len())
                .find(|&j| !(chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '-'))
                .unwrap_or(chars.len());
            (chars[i..j].iter().collect::<String>(), j)
        } else {
            i += 1;
            continue;
        };
        let mut j = end;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && (chars[j] == '=' || chars[j] == ':') && is_secret_name(&key) {
            j += 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            if j < chars.len() && (chars[j] == '"' || chars[j] == '\'') {
                let q = chars[j];
                let mut k = j + 1;
                while k < chars.len() && chars[k] != q {
                    k += if chars[k] == '\\' { 2 } else { 1 };
                }
                let inner: String = chars[j + 1..k.min(chars.len())].iter().collect();
                out.push(inner);
                j = (k + 1).min(chars.len());
            } else {
                while j < chars.len() && !matches!(chars[j], ',' | '}' | ']' | '#') {
                    j += 1;
                }
                out.push(
                    chars[start..j]
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_string(),
                );
            }
            i = j;
        } else {
            i = end;
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_of_a_source_line() {
        assert_eq!(source_line_secrets(r#"password = "hunter2""#), ["hunter2"]);
        assert_eq!(
            source_line_secrets(r#"  "password": "a,b", "upn": "x""#),
            ["a,b"]
        );
        assert_eq!(
            source_line_secrets(r#"users = [{ upn = "a@b", password = 123 }]"#),
            ["123"]
        );
        assert!(source_line_secrets(r#"upn = "password""#).is_empty());
        assert!(source_line_secrets("password_expiry_claims = true").is_empty());
    }

    #[test]
    fn secrets_of_a_source_whatever_their_type() {
        let src = "[[users]]\npassword = 12345\n[[timeline]]\ndo = \"set\"\nkey = \"users.0.password\"\nvalue = \"Xy-77\"\n[[timeline]]\ndo = \"set\"\nkey = \"identity.model\"\nvalue = \"phs\"\n[fix]\nset = [\"users.0.password=Fx-1\"]\n";
        assert_eq!(source_secrets(src), ["12345", "Fx-1", "Xy-77"]);
        let json = r#"{"users": [{"upn": "a@b", "password": "Js-9"}]}"#;
        assert_eq!(source_secrets(json), ["Js-9"]);
        // Not a scenario at all: each line is read on its own.
        assert_eq!(source_secrets("password = 'Ln-3' [[["), ["Ln-3"]);
    }

    #[test]
    fn redaction_masks_the_longest_first() {
        let s = vec!["abc".to_string(), "abcdef".to_string()];
        assert_eq!(redact("x abcdef y abc", &s), "x ******** y ********");
        assert_eq!(redact("nothing", &s), "nothing");
    }

    #[test]
    fn overrides_of_secret_fields() {
        assert_eq!(
            set_secret_values(r#"users.0.password="quoted""#),
            [r#""quoted""#, "quoted"]
        );
        assert!(set_secret_values("users.0.upn=a@b").is_empty());
        assert_eq!(
            mask_set("timeline.2.password=x"),
            "timeline.2.password=********"
        );
    }
}
