//! Accepted exceptions: the file `hmasim verify --accept FILE` reads, and the calendar date
//! that decides whether an exception has expired.
//!
//! ```toml
//! [[accept]]
//! user = "breakglass@contoso.com"       # required: whose paths
//! client = "browser"                    # optional: only this client kind
//! method = "web"                        # optional: only this way of authenticating
//! signals = { location = "external" }   # optional: only paths pinning these signals
//! justification = "break-glass account, excluded from MFA on purpose (runbook 12)"
//! expires = "2027-06-30"                # the last day it holds
//! ```
//!
//! An exception holds through its `expires` day and has expired the day after. The day
//! "today" is never read from a clock here: the caller passes it (see [`Date`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorOrigin, ScenarioError};
use crate::limits::{read_capped, too_deep, too_large, Input, MAX_NESTING};
use crate::ClientKind;

/// A calendar date (`YYYY-MM-DD`, proleptic Gregorian), written and read as that string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year (1 to 9999).
    pub year: u16,
    /// The month (1 to 12).
    pub month: u8,
    /// The day of the month (1 to its last day).
    pub day: u8,
}

impl Date {
    /// The date `YYYY-MM-DD` (exactly that shape, a real day), or why not.
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10
            || b[4] != b'-'
            || b[7] != b'-'
            || !digits(0..4)
            || !digits(5..7)
            || !digits(8..10)
        {
            return Err(format!("`{s}` is not a date of the form YYYY-MM-DD"));
        }
        let year: u16 = s[0..4].parse().map_err(|_| format!("`{s}`: bad year"))?;
        let month: u8 = s[5..7].parse().map_err(|_| format!("`{s}`: bad month"))?;
        let day: u8 = s[8..10].parse().map_err(|_| format!("`{s}`: bad day"))?;
        if year == 0 || !(1..=12).contains(&month) {
            return Err(format!(
                "`{s}` is not a date: no month {month} of year {year}"
            ));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(format!(
                "`{s}` is not a date: {year}-{month:02} has {} days",
                days_in_month(year, month)
            ));
        }
        Ok(Date { year, month, day })
    }

    /// The date `days` days after 1970-01-01 (what a caller turns the system clock into;
    /// never called inside the simulation).
    pub fn from_unix_days(days: i64) -> Date {
        let (year, month, day) = hmasim_protocol::codec::civil_from_days(days);
        Date {
            year: year.clamp(1, 9999) as u16,
            month,
            day,
        }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A date is read from a string (`"2027-06-30"`, TOML or JSON) or a TOML local date
/// (`2027-06-30`, unquoted).
impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Date, E> {
                Date::parse(s).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Date, A::Error> {
                use serde::de::Error as _;
                let dt = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(m),
                )?;
                match (dt.date, dt.time, dt.offset) {
                    (Some(_), None, None) => Date::parse(&dt.to_string()).map_err(A::Error::custom),
                    _ => Err(A::Error::custom(format!(
                        "`{dt}` is not a date of the form YYYY-MM-DD (no time of day)"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The signals an exception may pin: a path matches when it pins each to the same value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSelector {
    /// `internal` or `external`.
    #[serde(default)]
    pub location: Option<String>,
    /// The device platform Entra ID derives (`android`, `iOS`, `linux`, `unknown`...).
    #[serde(default)]
    pub platform: Option<String>,
    /// The `User-Agent` the client sends.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The source address, or the named location it is drawn from.
    #[serde(default)]
    pub source_address: Option<String>,
    /// The client app type the request presents.
    #[serde(default)]
    pub client_app_type: Option<String>,
    /// The ActiveSync `DeviceType`.
    #[serde(default)]
    pub device_type: Option<String>,
    /// The ActiveSync device model.
    #[serde(default)]
    pub device_model: Option<String>,
    /// `registered` or `unregistered` (MFA registration).
    #[serde(default)]
    pub registration: Option<String>,
}

impl SignalSelector {
    /// The pinned signals, by name, in a fixed order.
    pub fn pinned(&self) -> BTreeMap<&'static str, &str> {
        [
            ("location", &self.location),
            ("platform", &self.platform),
            ("user_agent", &self.user_agent),
            ("source_address", &self.source_address),
            ("client_app_type", &self.client_app_type),
            ("device_type", &self.device_type),
            ("device_model", &self.device_model),
            ("registration", &self.registration),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// One accepted exception.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// The user (UPN) whose paths it accepts.
    pub user: String,
    /// Only paths of this client kind (`None`: every client).
    pub client: Option<ClientKind>,
    /// Only paths authenticating this way (`web`, `modern`, `basic-activesync`...).
    pub method: Option<String>,
    /// Only paths pinning these signals to these values.
    pub signals: SignalSelector,
    /// Why it is accepted.
    pub justification: String,
    /// The last day it holds.
    pub expires: Date,
    /// Where it is written: the file and the line of its `user` key.
    pub at: String,
}

impl Exception {
    /// Whether it has expired on `today` (it holds through its `expires` day).
    pub fn expired(&self, today: Date) -> bool {
        today > self.expires
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    accept: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    user: toml::Spanned<String>,
    #[serde(default)]
    client: Option<ClientKind>,
    #[serde(default)]
    method: Option<toml::Spanned<String>>,
    #[serde(default)]
    signals: SignalSelector,
    justification: toml::Spanned<String>,
    expires: Date,
}

/// Reads the accepted exceptions at `path` (a regular UTF-8 file, at most
/// [`Input::AcceptFile`]'s cap).
pub fn read_accept(path: &Path) -> Result<Vec<Exception>, ScenarioError> {
    let name = path.display().to_string();
    let src = read_capped(
        path,
        Input::AcceptFile,
        ErrorOrigin::Argument(format!("--accept {name}")),
        "the accepted-exceptions file",
    )?;
    parse_accept(&src, &name)
}

/// Parses an accepted-exceptions file; `origin` names it in errors (`file:line:col`).
pub fn parse_accept(src: &str, origin: &str) -> Result<Vec<Exception>, ScenarioError> {
    let file = || ErrorOrigin::File(origin.to_string());
    if src.len() as u64 > Input::AcceptFile.max_bytes() {
        return Err(too_large(file(), Input::AcceptFile));
    }
    if let Some(at) = too_deep(src, true) {
        return Err(
            ScenarioError::new(file(), format!("nested deeper than {MAX_NESTING} levels"))
                .at_offset(src, at, 1),
        );
    }
    let parsed: File = toml::from_str(src).map_err(|e| {
        let (offset, width) = e
            .span()
            .map_or((0, 1), |s| (s.start, s.end.saturating_sub(s.start)));
        ScenarioError::new(file(), e.message().trim().to_string())
            .at_offset(src, offset, width)
            .expected("[[accept]] entries with user, justification and expires (YYYY-MM-DD), and optionally client, method and signals")
    })?;
    let located = |span: std::ops::Range<usize>, msg: &str, expected: &str| {
        ScenarioError::new(file(), msg.to_string())
            .at_offset(src, span.start, span.end.saturating_sub(span.start))
            .expected(expected.to_string())
    };
    let mut out = Vec::new();
    for e in parsed.accept {
        let user = e.user.get_ref().trim();
        if !user.contains('@') || user.contains(char::is_whitespace) {
            return Err(located(
                e.user.span(),
                "the user is not a user principal name",
                "the UPN of a user of the scenario (name@domain)",
            ));
        }
        if e.justification.get_ref().trim().is_empty() {
            return Err(located(
                e.justification.span(),
                "the justification is empty",
                "why the finding is accepted, in a sentence",
            ));
        }
        if let Some(m) = &e.method {
            if m.get_ref().trim().is_empty() {
                return Err(located(
                    m.span(),
                    "the method is empty",
                    "a method verify reports (`web`, `modern`, `basic-activesync`...), or no `method` key",
                ));
            }
        }
        let line = src[..e.user.span().start].matches('\n').count() + 1;
        out.push(Exception {
            user: user.to_string(),
            client: e.client,
            method: e.method.map(|m| m.into_inner().trim().to_string()),
            signals: e.signals,
            justification: e.justification.into_inner().trim().to_string(),
            expires: e.expires,
            at: format!("{origin}:{line}"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly_and_order() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024-01-00",
            "2024/01/01",
            "",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert!(Date::parse("2026-12-31").unwrap() < Date::parse("2027-01-01").unwrap());
    }

    #[test]
    fn unix_days_are_civil_dates() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_unix_days(20_788).to_string(), "2026-12-01");
    }

    #[test]
    fn an_exception_holds_through_its_last_day() {
        let src = "[[accept]]\nuser = \"a@contoso.com\"\njustification = \"x\"\nexpires = \"2026-12-01\"\n";
        let e = &parse_accept(src, "a.toml").unwrap()[0];
        let bare = src.replace("\"2026-12-01\"", "2026-12-01");
        assert_eq!(parse_accept(&bare, "a.toml").unwrap()[0].expires, e.expires);
        assert!(parse_accept(
            &src.replace("\"2026-12-01\"", "2026-12-01T10:00:00"),
            "a.toml"
        )
        .is_err());
        assert!(!e.expired(Date::parse("2026-12-01").unwrap()));
        assert!(e.expired(Date::parse("2026-12-02").unwrap()));
        assert_eq!(e.at, "a.toml:2");
    }

    #[test]
    fn bad_entries_are_located() {
        for (src, line, col, what) in [
            ("[[accept]]\nuser = \"a@contoso.com\"\njustification = \"x\"\nexpires = \"2026-02-30\"\n", 4, 11, "not a date"),
            ("[[accept]]\nuser = \"a@contoso.com\"\njustification = \"  \"\nexpires = \"2026-02-03\"\n", 3, 17, "justification is empty"),
            ("[[accept]]\nuser = \"nobody\"\njustification = \"x\"\nexpires = \"2026-02-03\"\n", 2, 8, "not a user principal name"),
            ("[[accept]]\nuser = \"a@contoso.com\"\nexpires = \"2026-02-03\"\n", 1, 1, "justification"),
            ("[[accept]]\nuser = \"a@contoso.com\"\njustification = \"x\"\nexpires = \"2026-02-03\"\nsignals = { colour = \"red\" }\n", 5, 13, "colour"),
            ("[[accept]]\nuser = \"a@contoso.com\"\nclient = \"telnet\"\njustification = \"x\"\nexpires = \"2026-02-03\"\n", 3, 10, "telnet"),
        ] {
            let e = parse_accept(src, "a.toml").unwrap_err();
            assert_eq!(e.position, Some((line, col)), "{src}: {e}");
            assert!(e.to_string().contains(what), "{e}");
            assert!(e.to_string().starts_with(&format!("a.toml:{line}:{col}:")), "{e}");
        }
    }
}
