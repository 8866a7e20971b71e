//! A JSON writer for the encoders on every sign-in's path (JWT claims, token answers): the
//! bytes `serde_json` writes for the same members in the same order (compact, the same
//! escapes), but a string with nothing to escape (a JWT, a URL, a UPN) is copied whole
//! after a check of eight bytes at a time, where `serde_json` looks each byte up.
//! The tests hold it to `serde_json`'s output.

/// The escape of each byte as `serde_json` writes it: `0` none, `u` for `\u00XX`, else the
/// letter after the backslash.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `v` is a control byte, `"` or `\`.
fn special(v: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let control = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
    (control | zero(v ^ (ONES * u64::from(b'"'))) | zero(v ^ (ONES * u64::from(b'\\')))) != 0
}

/// The first byte at or after `from` that needs an escape: eight bytes checked at a time,
/// the last few padded with a byte that needs none (no loop over single bytes unless a
/// check finds one).
fn next_special(b: &[u8], mut from: usize) -> Option<usize> {
    let first = |from: usize, to: usize| (from..to).find(|&k| ESCAPE[usize::from(b[k])] != 0);
    while let Some(chunk) = b.get(from..from + 8) {
        if special(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))) {
            if let Some(k) = first(from, from + 8) {
                return Some(k);
            }
        }
        from += 8;
    }
    let tail = b.get(from..).unwrap_or_default();
    let mut padded = [b'A'; 8];
    padded[..tail.len()].copy_from_slice(tail);
    if special(u64::from_le_bytes(padded)) {
        first(from, b.len())
    } else {
        None
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut run = 0;
    while let Some(k) = next_special(b, run) {
        out.extend_from_slice(&b[run..k]);
        let c = b[k];
        match ESCAPE[usize::from(c)] {
            b'u' => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            e => out.extend_from_slice(&[b'\\', e]),
        }
        run = k + 1;
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

/// Appends `n` in decimal.
pub(crate) fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// An object being written: members in the order they are added.
pub(crate) struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    /// Opens an object at the end of `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(b':');
        self.out
    }
    /// A string member.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        string(out, value);
        self
    }
    /// A string member when there is a value (left out otherwise, as
    /// `skip_serializing_if = "Option::is_none"` does).
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.str(key, v);
        }
        self
    }
    /// A number member.
    pub(crate) fn num(&mut self, key: &str, value: u64) -> &mut Self {
        let out = self.key(key);
        number(out, value);
        self
    }
    /// An array of strings.
    pub(crate) fn strs(&mut self, key: &str, values: &[String]) -> &mut Self {
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, v);
        }
        out.push(b']');
        self
    }
    /// Closes the object.
    pub(crate) fn end(&mut self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(s: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2ln",
            "a\"b\\c/d",
            "tab\there, nl\n, cr\r, ff\x0c, bs\x08, nul\0, us\x1f, del\x7f",
            "Héllo wörld ✓ and a longer tail past eight bytes\"",
            "12345678\"",
        ] {
            assert_eq!(written(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_are_decimal() {
        for n in [0, 7, 10, 1_767_225_600, u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in any::<String>()) {
            prop_assert_eq!(written(&s), serde_json::to_string(&s).unwrap());
        }
        #[test]
        fn ascii_with_escapes_is_written_as_serde_json_writes_it(s in "[ -~\\x00-\\x1f\"\\\\]{0,40}") {
            prop_assert_eq!(written(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
