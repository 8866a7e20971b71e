//! Raw HTTP/1.1 bytes into every service party (issue 12 "Bad input"), in every `cargo
//! test`: what the `party_http` fuzz target does under libFuzzer, on requests generated
//! from a grammar (every method, every endpoint path the services serve on every host of
//! the world, Authorization with Basic, Bearer, Negotiate or garbage, every Content-Type
//! with valid, mutated and arbitrary bodies) and on arbitrary bytes. Each request that
//! parses is read into a `Wire` and handed to each service, built once from a bundled
//! scenario's world (what a service sends another is delivered to it); nothing may panic and every answer must be well-formed (a status, a
//! body that reads as its content type). 64 cases by default (`PROPTEST_CASES=N`).

#[path = "../fuzz/src/parties.rs"]
#[allow(dead_code)]
mod parties;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use base64::Engine as _;
use hmasim::protocol::codec::{http1, ContentType};
use hmasim::protocol::Wire;
use parties::{check_answer, feed, Services};
use proptest::prelude::*;

fn services() -> Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(Services::bundled).clone()
}

/// Every endpoint path the services route on, with the queries their flows send.
const PATHS: &[&str] = &[
    "/",
    "/common/oauth2/authorize?client_id=d3590ed6-52b3-4102-aeff-aad2292ab01c&resource=https%3A%2F%2Fmail.contoso.com&response_type=code&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&login_hint=test%40contoso.com",
    "/contoso.com/oauth2/authorize?client_id=x&response_type=code",
    "/common/oauth2/token",
    "/common/login",
    "/common/login/more",
    "/login.srf",
    "/common/SAS/ProcessAuth",
    "/EnrollmentServer/device/",
    "/StrongAuthenticationService.svc/Connector",
    "/4b3f0b6e-9d1c-4c56-8a2e-6f0d3c1b7a92/metadata/json/1",
    "/provisioningservice.svc",
    "/adfs/ls/?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&username=test%40contoso.com",
    "/adfs/ls/",
    "/adfs/services/trust/2005/usernamemixed",
    "/adfs/services/trust/mex",
    "/autodiscover/autodiscover.json/v1.0/test@contoso.com?Protocol=ActiveSync",
    "/autodiscover/autodiscover.json?Email=test%40contoso.com&Protocol=EWS&RedirectCount=1",
    "/autodiscover/autodiscover.xml",
    "/EWS/Exchange.asmx",
    "/mapi/emsmdb/?MailboxId=test@contoso.com",
    "/mapi/nspi/",
    "/Microsoft-Server-ActiveSync?Cmd=Sync&User=test&DeviceId=abc&DeviceType=iPhone",
    "/Microsoft-Server-ActiveSync?Cmd=Provision&DeviceType=Outlook",
    "/owa/",
    "/owa/auth.owa",
    "/owa/service.svc?action=FindItem",
    "/ecp/",
    "/oab/",
    "/rpc/rpcproxy.dll",
    "/provisioning/mailbox",
    "/ProvisioningApi/provision",
    "/detect/v1?email=test%40contoso.com&services=office365,onprem&protocols=activesync,eas,rest",
    "/ldap/bind",
    "/pta/validate",
    "/notify",
    "/%00/%ZZ/..%2f..%2f?%=&&=",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "PROPFIND", "X",
];

/// The bodies of `fuzz/seeds/body_decoders/`, each with the type its extension names.
fn bodies() -> &'static [(ContentType, Vec<u8>)] {
    static B: OnceLock<Vec<(ContentType, Vec<u8>)>> = OnceLock::new();
    B.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/body_decoders");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("the body seeds")
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|p| {
                let ct = match p.extension()?.to_str()? {
                    "json" => ContentType::Json,
                    "xml" => ContentType::Xml,
                    "form" => ContentType::Form,
                    "html" => ContentType::Html,
                    "wbxml" => ContentType::Wbxml,
                    _ => return None,
                };
                Some((ct, std::fs::read(&p).ok()?))
            })
            .collect()
    })
}

fn authorization() -> impl Strategy<Value = Option<String>> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    prop_oneof![
        Just(None),
        Just(Some(format!("Basic {}", b64("test@contoso.com:P@ssw0rd!")))),
        Just(Some(format!("Basic {}", b64("nocolon")))),
        Just(Some("Basic !!!not-base64".to_string())),
        Just(Some(
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln".to_string()
        )),
        Just(Some("Bearer ".to_string())),
        Just(Some("Bearer a.b".to_string())),
        Just(Some(
            "Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgI=".to_string()
        )),
        Just(Some("NTLM TlRMTVNTUAABAAAA".to_string())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        prop::sample::select(ContentType::ALL.to_vec()).prop_map(|c| Some(c.as_str().to_string())),
        prop::sample::select(ContentType::ALL.to_vec())
            .prop_map(|c| Some(c.media_type().to_ascii_uppercase())),
        Just(Some(
            "application/soap+xml; charset=utf-8; action=x".to_string()
        )),
        Just(Some("image/png".to_string())),
        Just(Some("multipart/form-data; boundary=x".to_string())),
        "[ -~]{0,20}".prop_map(Some),
    ]
}

/// A body: a seed of some format (as is, mutated or truncated), or arbitrary bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let n = bodies().len();
    prop_oneof![
        Just(Vec::new()),
        (0..n).prop_map(|i| bodies()[i].1.clone()),
        (
            0..n,
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
        )
            .prop_map(|(i, edits)| {
                let mut b = bodies()[i].1.clone();
                for (at, v) in edits {
                    if !b.is_empty() {
                        let k = at.index(b.len());
                        b[k] = v;
                    }
                }
                b
            }),
        (0..n, any::<prop::sample::Index>()).prop_map(|(i, at)| {
            let mut b = bodies()[i].1.clone();
            b.truncate(at.index(b.len() + 1));
            b
        }),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// A raw request from the grammar, in bytes.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let hosts = Services::bundled().hosts;
    (
        prop::sample::select(METHODS),
        prop::sample::select(hosts),
        prop::sample::select(PATHS),
        authorization(),
        content_type(),
        body(),
        prop::collection::vec(
            (
                prop::sample::select(
                    &[
                        "User-Agent",
                        "X-Forwarded-For",
                        "X-MS-Proxy",
                        "Cookie",
                        "X-DeviceModel",
                        "MS-ASProtocolVersion",
                        "X-RequestType",
                        "X-ClientApplication",
                        "x-ms-RefreshTokenCredential",
                        "Accept",
                    ][..],
                ),
                "[ -~]{0,30}",
            ),
            0..4,
        ),
    )
        .prop_map(|(method, host, path, auth, ct, body, extra)| {
            let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
            if let Some(a) = auth {
                r.push_str(&format!("Authorization: {a}\r\n"));
            }
            if let Some(c) = ct {
                r.push_str(&format!("Content-Type: {c}\r\n"));
            }
            for (n, v) in extra {
                r.push_str(&format!("{n}: {}\r\n", v.trim()));
            }
            r.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let mut bytes = r.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        })
}

/// What the services did with some requests: who answered the caller, who sent anything
/// (an answer, or a request passed on or made: AutoDetect asks Exchange Online first, a
/// federated password grant goes to AD FS, so their answers come later).
#[derive(Default)]
struct Acted {
    answered: BTreeSet<String>,
    sent: BTreeSet<String>,
}

/// Feeds `bytes` (every pipelined request in them, up to four) to fresh services and
/// checks every answer.
fn run(bytes: &[u8], tls: bool) -> Result<Acted, String> {
    let mut s = services();
    let mut acted = Acted::default();
    let mut rest = bytes;
    for _ in 0..4 {
        let Ok((req, used)) = http1::parse_request(rest) else {
            break;
        };
        rest = &rest[used..];
        for h in feed(&mut s, &req, tls).into_iter().flatten() {
            for (answer, m) in &h.sent {
                if *answer {
                    check_answer(&m.wire).map_err(|e| format!("{}: {e}\n{:?}", h.party, m.wire))?;
                    acted.answered.insert(h.party.clone());
                }
                acted.sent.insert(h.party.clone());
            }
        }
    }
    Ok(acted)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn grammar_requests_get_well_formed_answers_from_every_service(raw in request(), tls in any::<bool>()) {
        prop_assert!(http1::parse_request(&raw).is_ok(), "the grammar writes requests that parse");
        if let Err(e) = run(&raw, tls) {
            prop_assert!(false, "{}\n{}", e, String::from_utf8_lossy(&raw));
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_request_line_never_panic_a_service(
        head in prop::sample::select(PATHS),
        tail in prop::collection::vec(any::<u8>(), 0..300),
        tls in any::<bool>(),
    ) {
        let mut raw = format!("POST {head} HTTP/1.1\r\n").into_bytes();
        raw.extend_from_slice(&tail);
        if let Err(e) = run(&raw, tls) {
            prop_assert!(false, "{}", e);
        }
        if let Err(e) = run(&tail, tls) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Every path on every host, with each seed body, over TLS: each answer well-formed, every
/// service acts on some request, and the services in front answer some themselves.
#[test]
fn every_endpoint_on_every_host_answers_well_formed() {
    let hosts = Services::bundled().hosts;
    let mut all = Acted::default();
    for host in &hosts {
        for path in PATHS {
            for (ct, body) in std::iter::once(&(ContentType::Text, Vec::new())).chain(bodies()) {
                let method = if body.is_empty() { "GET" } else { "POST" };
                let mut raw = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                    ct.as_str(),
                    body.len()
                )
                .into_bytes();
                raw.extend_from_slice(body);
                match run(&raw, true) {
                    Ok(a) => {
                        all.answered.extend(a.answered);
                        all.sent.extend(a.sent);
                    }
                    Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&raw)),
                }
            }
        }
    }
    let (answered, sent) = (&all.answered, &all.sent);
    for (name, _) in &Services::bundled().parties {
        assert!(sent.contains(name), "{name} did nothing: {sent:?}");
    }
    for p in [
        "entra-id",
        "adfs",
        "wap",
        "exchange-online",
        "exchange-onprem",
        "load-balancer",
        "autodetect",
    ] {
        assert!(answered.contains(p), "{p} answered nothing: {answered:?}");
    }
}

/// A request the services receive keeps what the raw bytes said (the conversion is
/// what they decide from).
#[test]
fn the_wire_a_service_receives_is_the_raw_request() {
    let raw = b"POST /common/oauth2/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=password&scope=abc";
    let (req, used) = http1::parse_request(raw).unwrap();
    assert_eq!(used, raw.len());
    let w = Wire::from_http(&req, true).unwrap();
    assert_eq!(
        w.url.as_ref().unwrap().to_string(),
        "https://login.microsoftonline.com/common/oauth2/token"
    );
    assert_eq!(w.form().unwrap().get("grant_type"), Some("password"));
    let acted = run(raw, true).unwrap();
    assert!(acted.answered.contains("entra-id"), "{:?}", acted.answered);
}

/// Writes the fuzz target's seeds (`fuzz/seeds/party_http/`): one GET per endpoint path,
/// on the first host whose service acts on it, and POSTs with a body of each format on the token endpoint and
/// the mailbox endpoints. Run with `HMASIM_SEEDS_DIR=fuzz/seeds/party_http cargo test
/// --test party_http -- --ignored`.
#[test]
#[ignore = "writes the fuzz seeds"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("HMASIM_SEEDS_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = Services::bundled().hosts;
    let mut n = 0;
    for path in PATHS {
        for host in &hosts {
            let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln\r\n\r\n");
            // The first host whose service answers other than 404 or passes it on.
            let mut s = services();
            let (req, _) = http1::parse_request(raw.as_bytes()).unwrap();
            let acted = feed(&mut s, &req, true)
                .unwrap()
                .iter()
                .any(|h| h.sent.iter().any(|(_, m)| m.status_number() != 404));
            if acted {
                std::fs::write(dir.join(format!("get-{n:02}.http")), raw).unwrap();
                n += 1;
                break;
            }
        }
    }
    for (host, path) in [
        ("login.microsoftonline.com", "/common/oauth2/token"),
        ("mail.contoso.com", "/EWS/Exchange.asmx"),
        (
            "mail.contoso.com",
            "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceType=iPhone",
        ),
        ("sts.contoso.com", "/adfs/ls/"),
    ] {
        for (ct, body) in bodies() {
            let mut raw = format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic dGVzdEBjb250b3NvLmNvbTpQQHNzdzByZCE=\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                ct.as_str(),
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(body);
            std::fs::write(
                dir.join(format!("post-{n:02}-{ct:?}.http").to_lowercase()),
                raw,
            )
            .unwrap();
            n += 1;
        }
    }
}
