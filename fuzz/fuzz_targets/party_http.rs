//! Arbitrary bytes as raw HTTP/1.1 requests into every service party (issue 12 "Bad
//! input"): up to four pipelined requests through `codec::http1::parse_request`, each that
//! parses read into a `Wire` (`Wire::from_http`, over TLS when the input's length is even)
//! and handed to Entra ID, AD FS, WAP, Exchange Online, MRS, the protocol translator,
//! Exchange on-premises, the load balancer, AutoDetect and Active Directory, built once
//! from a bundled scenario's world and run through a `Recording` environment (state
//! carries from request to request within one input, as on a server; what a service sends
//! another is delivered to it, so lookups are answered). Must never panic;
//! every answer sent back to the caller must be well-formed (`check_answer`: a status, a
//! body that reads as its content type), and everything sent is encoded to bytes.
#![no_main]

use std::sync::OnceLock;

use hmasim::protocol::codec::http1;
use hmasim_fuzz::parties::{check_answer, feed, Services};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    let mut services = SERVICES.get_or_init(Services::bundled).clone();
    let tls = data.len() & 1 == 0;
    let mut rest = data;
    for _ in 0..4 {
        let Ok((req, used)) = http1::parse_request(rest) else {
            return;
        };
        rest = &rest[used..];
        for h in feed(&mut services, &req, tls).into_iter().flatten() {
            for (answer, m) in &h.sent {
                if *answer {
                    if let Err(e) = check_answer(&m.wire) {
                        panic!("{} answered badly: {e}\n{:?}", h.party, m.wire);
                    }
                }
            }
        }
    }
});
