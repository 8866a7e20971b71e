//! Arbitrary bytes as the client's lines of an IMAP, POP and SMTP session, and as the
//! server's replies (`line::imap`, `line::pop`, `line::smtp`, `line::sasl`). Must never
//! panic. A parsed command must print as a line that parses back to it; a refused one is
//! the protocol's error reply; a masked `LOGIN`, `PASS` or `PLAIN` line must not hold
//! the password it carried; replies that parse must encode and parse back.
#![no_main]

use hmasim::protocol::display::MASK;
use hmasim::protocol::line::sasl::{Plain, Xoauth2};
use hmasim::protocol::line::{imap, pop, smtp, split_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut mi, mut mp, mut ms) = (
        imap::Masker::default(),
        pop::Masker::default(),
        smtp::Masker::default(),
    );
    let mut rest = data;
    while let Ok((line, next)) = split_line(rest, smtp::MAX_AUTH_LINE) {
        rest = next;
        match imap::Command::parse(line) {
            Ok(c) => {
                assert_eq!(imap::Command::parse(&c.to_string()).unwrap(), c);
                if let imap::Verb::Login { user, .. } = &c.verb {
                    // The password's place holds the mask, the rest is as sent.
                    assert_eq!(
                        c.masked(),
                        format!("{} LOGIN {} {MASK}", c.tag, imap::quote(user))
                    );
                }
            }
            Err(r) => assert!(matches!(
                r,
                imap::Reply::Tagged {
                    status: imap::Status::Bad,
                    ..
                } | imap::Reply::Untagged(_)
            )),
        }
        match pop::Command::parse(line) {
            Ok(c) => {
                assert_eq!(pop::Command::parse(&c.to_string()).unwrap(), c);
                if let pop::Command::Pass(_) = c {
                    assert_eq!(c.masked(), "PASS ********");
                }
            }
            Err(r) => assert!(matches!(r, pop::Reply::Err(_))),
        }
        match smtp::Command::parse(line) {
            Ok(c) => assert_eq!(smtp::Command::parse(&c.to_string()).unwrap(), c),
            Err(r) => assert!(r.code >= 500),
        }
        if let Ok(p) = Plain::decode(line) {
            assert_eq!(Plain::decode(&p.encode()).unwrap(), p);
            // A PLAIN initial response is shown as whose credentials it holds, nothing more.
            let shown = imap::Masker::default().mask(&format!("A1 AUTHENTICATE PLAIN {line}"));
            assert_eq!(
                shown,
                format!(
                    "A1 AUTHENTICATE PLAIN <masked PLAIN credentials of {}>",
                    p.user
                )
            );
        }
        if let Ok(x) = Xoauth2::decode(line) {
            assert_eq!(Xoauth2::decode(&x.encode()).unwrap(), x);
        }
        let _ = (mi.mask(line), mp.mask(line), ms.mask(line));
    }
    if let Some((r, _)) = imap::Reply::parse(data) {
        assert_eq!(imap::Reply::parse(&r.encode()).unwrap().0, r);
    }
    if let Some((r, _)) = pop::Reply::parse(data, data.first() == Some(&b'+')) {
        let _ = r.encode();
    }
    if let Some((r, _)) = smtp::Reply::parse(data) {
        assert_eq!(smtp::Reply::parse(&r.encode()).unwrap().0, r);
    }
    if let Ok(Some((m, _))) = smtp::decode_data(data) {
        assert_eq!(
            smtp::decode_data(&smtp::encode_data(&m))
                .unwrap()
                .unwrap()
                .0,
            m
        );
    }
});
