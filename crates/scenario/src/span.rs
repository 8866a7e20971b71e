//! Durations written as `500ms`, `30s`, `15m`, `1h`, `14d` (or plain milliseconds).

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A span of simulated time in milliseconds, written `500ms`, `30s`, `15m`, `1h` or `14d`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

impl Span {
    /// Milliseconds.
    pub const fn ms(self) -> u64 {
        self.0
    }

    /// Parses `N` followed by `ms`, `s`, `m`, `h` or `d`, or a sum of such parts written
    /// together (`1d12h`, `3h30m`).
    pub fn parse(s: &str) -> Option<Span> {
        let mut rest = s.trim();
        if rest.is_empty() {
            return None;
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let split = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (num, tail) = rest.split_at(split);
            let n: u64 = num.parse().ok()?;
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let mult = match unit.trim() {
                "ms" => 1,
                "s" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return None,
            };
            total = total.checked_add(n.checked_mul(mult)?)?;
            rest = tail;
        }
        Some(Span(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms != 0 && ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"500ms\", \"30s\", \"15m\", \"1h\" or \"14d\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v)
                    .map(Span)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (s, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("15m", 900_000),
            ("1h", 3_600_000),
            ("14d", 1_209_600_000),
        ] {
            assert_eq!(Span::parse(s), Some(Span(ms)));
            assert_eq!(Span(ms).to_string(), s);
        }
        assert_eq!(Span::parse("5 parsecs"), None);
        assert_eq!(Span::parse("1d12h"), Some(Span(36 * 3_600_000)));
        assert_eq!(Span::parse("3h30m"), Some(Span(210 * 60_000)));
        assert_eq!(Span::parse("3h30"), None);
        assert_eq!(Span::parse(""), None);
        assert_eq!(Span::parse("-1s"), None);
        assert_eq!(Span(90_500).to_string(), "90500ms");
    }
}
