//! Arbitrary bytes as raw HTTP/1.1 request bytes through `codec::http1::parse_request`
//! (issue 12's fuzz target over raw HTTP). Must never panic. A refusal must have its
//! HTTP.sys page and a 4xx/5xx status; an accepted request must use no more bytes than
//! given, respect the limits, and survive `write_request` then `parse_request` unchanged
//! (method, target, headers, body). Pipelined requests are parsed one after the other.
#![no_main]

use hmasim::protocol::codec::http1::{self, ParseError, MAX_BODY, MAX_HEADERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    for _ in 0..4 {
        match http1::parse_request(rest) {
            Ok((req, used)) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "used {used} of {}",
                    rest.len()
                );
                assert!(req.headers().len() <= MAX_HEADERS);
                assert!(req.body().len() <= MAX_BODY);
                let again = http1::write_request(&req);
                let (back, n) = http1::parse_request(&again).expect("a written request parses");
                assert_eq!(n, again.len());
                assert_eq!(back.method(), req.method());
                assert_eq!(back.uri(), req.uri());
                assert_eq!(back.headers(), req.headers());
                assert_eq!(back.body(), req.body());
                rest = &rest[used..];
            }
            Err(ParseError::Incomplete) => return,
            Err(ParseError::Bad(b)) => {
                assert!(b.status() >= 400);
                let page = b.response();
                assert!(page.starts_with(format!("HTTP/1.1 {} ", b.status()).as_bytes()));
                return;
            }
        }
    }
});
