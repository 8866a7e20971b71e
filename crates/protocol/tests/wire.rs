//! Property smoke of the codecs and line protocols (issue 12 items 3 and 4): every
//! encoder's output decodes back to what was encoded, and no decoder or parser panics on
//! arbitrary or mutated bytes. Cases are bounded to keep CI short; the long runs are the
//! fuzz targets (`fuzz/`, README's development section).

use hmasim_protocol::body::{Form, MfaPrompt, Page};
use hmasim_protocol::codec::{
    self, autodiscover, dirsync, ecp, ews, graph, html, http1, mapi, mrs, oab, oauth, oidc, owa,
    rpc, wbxml, xml, ContentType, MailItem,
};
use hmasim_protocol::display::MASK;
use hmasim_protocol::line::sasl::{Mechanism, Plain, Xoauth2};
use hmasim_protocol::line::{imap, pop, smtp, split_line};
use hmasim_protocol::oauth::GrantType;
use hmasim_protocol::Url;
use proptest::prelude::*;

/// Text a body may carry: printable, a few markup characters and non-ASCII letters, no
/// white space at either end (XML and HTML readers trim text content).
fn text() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9<>&\"'.@%+=/éß€][a-zA-Z0-9 <>&\"'.@%+=/éß€]{0,14}[a-zA-Z0-9<>&\"'.@é€])?"
}

/// Any string (form and JSON values carry anything).
fn any_text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.chars().take(24).collect())
}

/// A printable line argument without spaces.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._@+=/-]{1,16}"
}

fn item() -> impl Strategy<Value = MailItem> {
    (
        word(),
        text(),
        word(),
        // Days 10 to 28: every month of 2026 has them (MAPI carries a FILETIME, so a
        // date that does not exist cannot read back as written).
        "2026-0[1-9]-(1[0-9]|2[0-8])T[01][0-9]:[0-5][0-9]:00Z",
    )
        .prop_map(|(id, subject, from, received)| MailItem {
            id,
            subject,
            from,
            received,
        })
}

fn items() -> impl Strategy<Value = Vec<MailItem>> {
    proptest::collection::vec(item(), 0..4)
}

fn page() -> impl Strategy<Value = Page> {
    let action = || {
        word().prop_map(|v| Url::https("login.microsoftonline.com", "/common/login").with("ctx", v))
    };
    prop_oneof![
        (
            action(),
            proptest::option::of(text().prop_filter("non-empty", |t| !t.is_empty()))
        )
            .prop_map(|(action, username)| Page::SignIn { action, username }),
        (action(), any::<bool>()).prop_map(|(action, r)| Page::Mfa {
            action,
            method: if r {
                MfaPrompt::RegisterSecurityInfo
            } else {
                MfaPrompt::PhoneAppNotification
            },
        }),
        (action(), proptest::collection::vec((word(), text()), 0..4)).prop_map(|(action, f)| {
            Page::AutoPost {
                action,
                fields: Form(f),
            }
        }),
        (word(), text()).prop_map(|(code, message)| Page::Error { code, message }),
    ]
}

fn command() -> impl Strategy<Value = wbxml::Command> {
    use wbxml::{Command, Folder, SyncResponse};
    let s = || "[a-zA-Z0-9:{}-]{0,12}";
    prop_oneof![
        proptest::option::of(word())
            .prop_map(|policy_key| Command::ProvisionRequest { policy_key }),
        // A refusal carries its status alone (MS-ASCMD): no key, no folders.
        (any::<u8>(), s()).prop_map(|(status, k)| Command::ProvisionResponse {
            status,
            policy_key: if status == 1 { k } else { String::new() }
        }),
        any::<u8>().prop_map(|status| Command::SyncError { status }),
        s().prop_map(|sync_key| Command::FolderSyncRequest { sync_key }),
        (
            any::<u8>(),
            s(),
            proptest::collection::vec((s(), s(), text(), any::<u8>()), 0..3)
        )
            .prop_map(|(status, sync_key, f)| {
                let ok = status == 1;
                Command::FolderSyncResponse {
                    status,
                    sync_key: if ok { sync_key } else { String::new() },
                    folders: f
                        .into_iter()
                        .filter(|_| ok)
                        .map(|(server_id, parent_id, display_name, kind)| Folder {
                            server_id,
                            parent_id,
                            display_name,
                            kind,
                        })
                        .collect(),
                }
            }),
        (s(), s()).prop_map(|(sync_key, collection_id)| Command::SyncRequest {
            sync_key,
            collection_id
        }),
        (any::<u8>(), s(), s(), items()).prop_map(|(status, sync_key, collection_id, items)| {
            Command::SyncResponse(SyncResponse {
                status,
                sync_key,
                collection_id,
                items,
            })
        }),
    ]
}

/// Every decoder, on the same bytes: none may panic.
/// The refusal reader on `b` as every body type it reads, and as an `X-MS-Diagnostics`
/// value: a refusal or none, never a panic.
fn refusals_never_panic(b: &[u8]) {
    use hmasim_protocol::{headers, refusal, FaultCode, Message, Method};
    let req = Message::request(Method::GET, Url::https("x.test", "/"), 1, "r");
    for ct in ContentType::ALL {
        let answer = Message::response(&req.wire, 400, "r")
            .with_encoded(codec::Encoded::new(ct, b.to_vec()));
        let _ = refusal::fault_of(&answer.wire, "x", FaultCode::AccessDenied);
        let diagnosed = answer.header(&headers::X_MS_DIAGNOSTICS, String::from_utf8_lossy(b));
        let _ = refusal::fault_of(&diagnosed.wire, "x", FaultCode::AccessDenied);
    }
}

fn decode_everything(b: &[u8]) {
    let _ = codec::form::decode(b);
    let _ = oauth::TokenRequest::decode(b);
    let _ = oauth::TokenAnswer::decode(b);
    let _ = oauth::OAuthError::decode(b);
    let _ = autodiscover::V2Answer::decode(b);
    let _ = autodiscover::PoxRequest::decode(b);
    let _ = autodiscover::PoxResponse::decode(b);
    let _ = autodiscover::DetectJson::decode(b);
    let _ = oidc::Metadata::decode(b);
    let _ = oidc::Jwks::decode(b);
    let _ = html::decode(b);
    let _ = html::parse_form(b);
    let _ = ews::FindItem::decode(b);
    let _ = ews::FindItemResponse::decode(b);
    let _ = graph::Messages::decode(b);
    let _ = owa::FindItemJson::decode(b);
    let _ = mapi::ExecuteResponse::decode(b);
    let _ = codec::read_mailbox(ContentType::MapiHttp, b);
    let _ = wbxml::decode(b);
    let _ = wbxml::decode_request(b);
    let _ = mrs::Provision::decode(b);
    let _ = oab::Manifest::decode(b);
    let _ = ecp::OptionsPage::decode(b);
    let _ = rpc::OutStream::decode(b);
    let _ = dirsync::SyncResults::decode(b);
    let _ = autodiscover::answer_pox(b, "test@contoso.com", "mail.contoso.com");
    let _ = xml::parse(b);
    let _ = http1::parse_request(b);
    for ct in ContentType::ALL {
        let _ = codec::mask(ct, b);
        // The look that spares a parse never hides what the decoders read as mail.
        assert_eq!(
            codec::carries_mailbox(ct, b),
            codec::read_mailbox(ct, b).is_ok_and(|m| m.carries_data()),
            "{ct:?}"
        );
    }
    let _ = imap::Reply::parse(b);
    let _ = pop::Reply::parse(b, true);
    let _ = smtp::Reply::parse(b);
    let _ = smtp::decode_data(b);
    refusals_never_panic(b);
    let (mut i, mut p, mut s) = (
        imap::Masker::default(),
        pop::Masker::default(),
        smtp::Masker::default(),
    );
    let mut rest = b;
    while let Ok((line, next)) = split_line(rest, smtp::MAX_AUTH_LINE) {
        let _ = imap::Command::parse(line);
        let _ = pop::Command::parse(line);
        let _ = smtp::Command::parse(line);
        let _ = (i.mask(line), p.mask(line), s.mask(line));
        let _ = Plain::decode(line);
        let _ = Xoauth2::decode(line);
        rest = next;
    }
}

/// Every encoding of a few values, as seeds for mutation.
fn encodings() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> =
        vec![
        oauth::TokenRequest::new(
            GrantType::Password,
            &[("client_id", "c"), ("username", "u"), ("password", "p")],
        )
        .encode()
        .bytes
        .to_vec(),
        autodiscover::PoxRequest::outlook("test@contoso.com")
            .encode()
            .bytes
            .to_vec(),
        ews::FindItem {
            folder: "inbox".into(),
            max_entries: 10,
        }
        .encode()
        .bytes
        .to_vec(),
        ews::FindItemResponse {
            items: vec![MailItem {
                id: "i".into(),
                subject: "s".into(),
                from: "f".into(),
                received: "r".into(),
            }],
        }
        .encode()
        .bytes
        .to_vec(),
        graph::Messages {
            user: "u".into(),
            value: vec![],
        }
        .encode()
        .bytes
        .to_vec(),
        html::encode(&Page::Error {
            code: "c".into(),
            message: "m".into(),
        })
        .bytes
        .to_vec(),
        b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            .to_vec(),
        b"A1 LOGIN u p\r\nA2 AUTHENTICATE PLAIN\r\nAHUAcA==\r\n".to_vec(),
        autodiscover::PoxResponse::settings("test@contoso.com", "mail.contoso.com")
            .encode()
            .bytes
            .to_vec(),
        oab::Manifest {
            lists: vec![oab::AddressList::default_for("contoso.com")],
        }
        .encode()
        .bytes
        .to_vec(),
        ecp::OptionsPage::of("test@contoso.com").encode().bytes.to_vec(),
        rpc::OutStream::rows(1, MailItem::sample("test@contoso.com", 1_767_225_600))
            .encode()
            .bytes
            .to_vec(),
        b"250-a\r\n250 b\r\nAUTH LOGIN\r\ndQ==\r\ncA==\r\n".to_vec(),
    ];
    out.extend(wbxml_seeds());
    out
}

fn wbxml_seeds() -> Vec<Vec<u8>> {
    vec![
        wbxml::encode(&wbxml::Command::SyncRequest {
            sync_key: "0".into(),
            collection_id: "5".into(),
        }),
        wbxml::encode(&wbxml::Command::ProvisionRequest {
            policy_key: Some("1".into()),
        }),
    ]
}

proptest! {
    // 48 cases in CI; `PROPTEST_CASES=N` for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn forms_round_trip(fields in proptest::collection::vec((any_text(), any_text()), 0..6)) {
        let enc = codec::form::encode(&fields);
        prop_assert!(enc.iter().all(|b| b.is_ascii_graphic()));
        let back = codec::form::decode(&enc).unwrap();
        prop_assert_eq!(back, fields);
    }

    #[test]
    fn token_requests_round_trip(code in word(), client in word(), redirect in word()) {
        let r = oauth::TokenRequest::new(GrantType::AuthorizationCode, &[("client_id", &client), ("code", &code), ("redirect_uri", &redirect)]);
        prop_assert_eq!(oauth::TokenRequest::decode(&r.encode().bytes).unwrap(), r);
    }

    #[test]
    fn json_bodies_round_trip(a in any_text(), b in any_text(), n in any::<u32>(), rt in proptest::option::of(any_text()), ms in items()) {
        let t = oauth::TokenAnswer { token_type: "Bearer".into(), resource: a.clone(), scope: b.clone(), expires_in: u64::from(n), access_token: a.clone(), refresh_token: rt.clone(), id_token: None };
        prop_assert_eq!(oauth::TokenAnswer::decode(&t.encode().bytes).unwrap(), t);
        let e = oauth::OAuthError { error: a.clone(), code: n, message: b.clone() };
        let stamp = codec::Stamp::default();
        // A message holding CR LF would read back shorter (the description's first line).
        if !b.contains("\r\n") {
            prop_assert_eq!(oauth::OAuthError::decode(&e.encode(&stamp)).unwrap(), e);
        }
        let v = autodiscover::V2Answer { protocol: a.clone(), url: b.clone() };
        prop_assert_eq!(autodiscover::V2Answer::decode(&v.encode().bytes).unwrap(), v);
        let d = autodiscover::DetectJson { protocol: a.clone(), url: b.clone(), aad: rt.clone(), onprem: n % 2 == 0 };
        prop_assert_eq!(autodiscover::DetectJson::decode(&d.encode().bytes).unwrap(), d);
        let m = oidc::Metadata { issuer: a.clone(), authorization_endpoint: b.clone(), token_endpoint: a.clone(), jwks_uri: b.clone() };
        prop_assert_eq!(oidc::Metadata::decode(&m.encode().bytes).unwrap(), m);
        let j = oidc::Jwks { keys: vec![oidc::Jwk { kid: a.clone(), k: b.clone() }] };
        prop_assert_eq!(oidc::Jwks::decode(&j.encode().bytes).unwrap(), j);
        let user = a.replace('\'', "");
        let g = graph::Messages { user, value: ms.clone() };
        if !g.user.contains("')/messages") {
            let enc = g.encode();
            prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !ms.is_empty());
            prop_assert_eq!(graph::Messages::decode(&enc.bytes).unwrap(), g);
        }
    }

    #[test]
    fn mapi_and_owa_answers_round_trip(ms in items(), start in 0u64..4_102_444_800, n in any::<u64>()) {
        // MAPI carries a PidTagMid: items with hexadecimal ids read back as they were.
        let rows: Vec<MailItem> = ms
            .iter()
            .enumerate()
            .map(|(i, m)| MailItem { id: format!("{:016X}", n.wrapping_add(i as u64)), ..m.clone() })
            .collect();
        let r = mapi::ExecuteResponse { start_unix: start, rows: rows.clone() };
        let enc = r.encode();
        prop_assert_eq!(mapi::ExecuteResponse::decode(&enc.bytes).unwrap(), r);
        prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !ms.is_empty());
        let o = owa::FindItemJson { items: ms.clone() };
        let enc = o.encode();
        prop_assert_eq!(owa::FindItemJson::decode(&enc.bytes).unwrap(), o);
        prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !ms.is_empty());
    }

    #[test]
    fn xml_bodies_round_trip(name in text(), server in text(), ms in items(), folder in word(), max in 1u32..5000) {
        let r = autodiscover::PoxResponse { display_name: name.clone(), protocols: vec![autodiscover::PoxProtocol { kind: "EXPR".into(), server: server.clone(), ews_url: name.clone() }] };
        prop_assert_eq!(autodiscover::PoxResponse::decode(&r.encode().bytes).unwrap(), r);
        let f = ews::FindItem { folder, max_entries: max };
        prop_assert_eq!(ews::FindItem::decode(&f.encode().bytes).unwrap(), f);
        let resp = ews::FindItemResponse { items: ms.clone() };
        let enc = resp.encode();
        prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !ms.is_empty());
        prop_assert_eq!(ews::FindItemResponse::decode(&enc.bytes).unwrap(), resp);
        // Masking a document without secrets changes nothing.
        prop_assert_eq!(codec::mask(ContentType::Xml, &enc.bytes), enc.bytes);
    }

    #[test]
    fn legacy_mailbox_answers_round_trip(
        name in text(),
        dn in text(),
        file in text(),
        nums in (any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>()),
        upn in word(),
        options in proptest::collection::vec((text(), text()), 0..5),
        ms in items(),
        call in any::<u32>(),
        fault in any::<u32>(),
        n in any::<u64>(),
        revoked in proptest::collection::vec((word(), any::<bool>()), 0..4),
    ) {
        // AutoDiscover POX: the settings Exchange answers are mailbox data.
        let pox = autodiscover::PoxResponse::settings(&format!("{upn}@contoso.com"), "mail.contoso.com");
        let enc = pox.encode();
        prop_assert_eq!(autodiscover::PoxResponse::decode(&enc.bytes).unwrap(), pox);
        prop_assert!(codec::carries_mailbox(enc.content_type, &enc.bytes));
        // The OAB manifest: mailbox data when it lists an address list.
        let list = oab::AddressList {
            id: name.clone(),
            dn,
            name: name.clone(),
            seq: nums.0,
            ver: nums.1,
            size: nums.2,
            uncompressed: nums.3,
            sha: name.clone(),
            file: format!("f{file}"),
        };
        for lists in [vec![], vec![list.clone()], vec![list.clone(), list]] {
            let m = oab::Manifest { lists };
            let enc = m.encode();
            prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !m.lists.is_empty());
            prop_assert_eq!(oab::Manifest::decode(&enc.bytes).unwrap(), m);
        }
        // ECP's options page: mailbox data when it shows an option, never a sign-in page.
        let shows = !options.is_empty();
        let page = ecp::OptionsPage { mailbox: name.clone(), options };
        let enc = page.encode();
        prop_assert_eq!(ecp::OptionsPage::decode(&enc.bytes).unwrap(), page);
        prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), shows);
        prop_assert!(html::decode(&enc.bytes).is_err());
        // RPC over HTTP: rows with hexadecimal ids read back (a PidTagMid, as MAPI).
        let rows: Vec<MailItem> = ms
            .iter()
            .enumerate()
            .map(|(i, m)| MailItem { id: format!("{:016X}", n.wrapping_add(i as u64)), ..m.clone() })
            .collect();
        let s = rpc::OutStream::rows(call, rows);
        let enc = s.encode();
        prop_assert_eq!(codec::carries_mailbox(enc.content_type, &enc.bytes), !ms.is_empty());
        prop_assert_eq!(rpc::OutStream::decode(&enc.bytes).unwrap(), s);
        let f = rpc::OutStream { call_id: call, answer: Err(fault) };
        let enc = f.encode();
        prop_assert!(!codec::carries_mailbox(enc.content_type, &enc.bytes));
        prop_assert_eq!(rpc::OutStream::decode(&enc.bytes).unwrap(), f);
        // Entra ID's directory sync results.
        let r = dirsync::SyncResults {
            results: revoked.into_iter().map(|(upn, revoked)| dirsync::Applied { upn, revoked }).collect(),
        };
        let enc = r.encode();
        prop_assert_eq!(dirsync::SyncResults::decode(&enc.bytes).unwrap(), r);
        prop_assert!(!codec::carries_mailbox(enc.content_type, &enc.bytes));
    }

    #[test]
    fn pages_round_trip(p in page(), secret in word()) {
        let enc = html::encode(&p);
        prop_assert_eq!(html::decode(&enc.bytes).unwrap(), p.clone());
        if let Page::AutoPost { action, mut fields } = p {
            fields.0.push(("client_secret".into(), format!("S3CR3T{secret}")));
            let enc = html::encode(&Page::AutoPost { action, fields });
            let shown = String::from_utf8(codec::mask(ContentType::Html, &enc.bytes)).unwrap();
            prop_assert!(!shown.contains("S3CR3T"));
            prop_assert!(shown.contains(MASK));
        }
    }

    #[test]
    fn activesync_round_trips(c in command()) {
        prop_assert_eq!(wbxml::decode(&wbxml::encode(&c)).unwrap(), c);
    }

    #[test]
    fn provisioning_round_trips(upn in word(), path in word()) {
        let p = mrs::Provision { upn: format!("{upn}@contoso.com"), url: format!("https://mail.contoso.com/{path}") };
        prop_assert_eq!(mrs::Provision::decode(&p.encode().bytes).unwrap(), p);
    }

    #[test]
    fn http_requests_round_trip(path in "/[a-zA-Z0-9/._-]{0,30}", absolute in any::<bool>(), value in "[ -~]{0,30}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Origin-form, or absolute-form as a client sends it to a proxy.
        let target = if absolute { format!("https://mail.contoso.com{path}") } else { path };
        let raw = [
            format!("POST {target} HTTP/1.1\r\nHost: mail.contoso.com\r\nX-Value: {value}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(),
            body.clone(),
        ]
        .concat();
        let (r, used) = http1::parse_request(&raw).unwrap();
        prop_assert_eq!(used, raw.len());
        prop_assert_eq!(&r.body()[..], &body[..]);
        prop_assert_eq!(r.headers()["x-value"].as_bytes(), value.trim().as_bytes());
        let again = http1::write_request(&r);
        let (r2, _) = http1::parse_request(&again).unwrap();
        prop_assert_eq!((r2.uri(), r2.headers(), r2.body()), (r.uri(), r.headers(), r.body()));
    }

    #[test]
    fn line_commands_round_trip(tag in "[A-Za-z0-9]{1,6}", user in word(), pass in "[ -~]{1,20}", n in 1u32..1000, token in word()) {
        let ir = Xoauth2 { user: user.clone(), token: token.clone() }.encode();
        prop_assert_eq!(Xoauth2::decode(&ir).unwrap(), Xoauth2 { user: user.clone(), token });
        let plain = Plain { authzid: String::new(), user: user.clone(), password: pass.clone() };
        prop_assert_eq!(Plain::decode(&plain.encode()).unwrap(), plain.clone());
        for c in [
            imap::Command::new(&tag, imap::Verb::Login { user: user.clone(), password: pass.clone() }),
            imap::Command::new(&tag, imap::Verb::Authenticate { mechanism: Mechanism::Xoauth2, initial: Some(ir.clone()) }),
            imap::Command::new(&tag, imap::Verb::Fetch { seq: n, items: "BODY[]".into() }),
        ] {
            let line = c.to_string();
            prop_assert_eq!(&imap::Command::parse(&line).unwrap(), &c);
            let shown = imap::Masker::default().mask(&line);
            if matches!(c.verb, imap::Verb::Login { .. }) {
                prop_assert_eq!(shown, format!("{tag} LOGIN {} {MASK}", imap::quote(&user)));
            }
        }
        for c in [pop::Command::User(user.clone()), pop::Command::Pass(pass.clone()), pop::Command::Retr(n), pop::Command::Auth { mechanism: Mechanism::Plain, initial: Some(plain.encode()) }] {
            prop_assert_eq!(pop::Command::parse(&c.to_string()).unwrap(), c);
        }
        prop_assert_eq!(pop::Masker::default().mask(&format!("PASS {pass}")), format!("PASS {MASK}"));
        for c in [smtp::Command::Ehlo(user.clone()), smtp::Command::MailFrom(format!("{user}@contoso.com")), smtp::Command::Auth { mechanism: Mechanism::Xoauth2, initial: Some(ir.clone()) }] {
            prop_assert_eq!(smtp::Command::parse(&c.to_string()).unwrap(), c);
        }
        let mut m = smtp::Masker::default();
        m.mask("AUTH LOGIN");
        m.mask(&hmasim_protocol::line::sasl::encode_base64(user.as_bytes()));
        prop_assert_eq!(m.mask(&hmasim_protocol::line::sasl::encode_base64(pass.as_bytes())), MASK);
    }

    #[test]
    fn line_replies_round_trip(code in 200u16..600, lines in proptest::collection::vec("[ -~]{0,30}", 1..4), message in proptest::collection::vec("[ -~]{0,30}", 0..4)) {
        let r = smtp::Reply { code, lines };
        prop_assert_eq!(smtp::Reply::parse(&r.encode()).unwrap().0, r);
        let msg: String = message.iter().map(|l| format!("{l}\r\n")).collect();
        let p = pop::Reply::Message { text: "message follows".into(), message: msg.clone() };
        prop_assert_eq!(pop::Reply::parse(&p.encode(), true).unwrap().0, p);
        prop_assert_eq!(smtp::decode_data(&smtp::encode_data(&msg)).unwrap().unwrap().0, msg.clone());
        let f = imap::Reply::Fetch { seq: 1, message: msg };
        prop_assert_eq!(imap::Reply::parse(&f.encode()).unwrap().0, f);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&b);
    }

    #[test]
    fn decoders_never_panic_on_mutated_encodings(seed in 0usize..64, edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let all = encodings();
        let mut b = all[seed % all.len()].clone();
        for (at, byte, op) in edits {
            let at = if b.is_empty() { 0 } else { at % b.len() };
            match op {
                0 if !b.is_empty() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if !b.is_empty() => { b.remove(at); }
                _ => {}
            }
        }
        decode_everything(&b);
    }
}

/// Writes the seed inputs of the wire fuzz targets (`fuzz/seeds/TARGET/`): every
/// encoding of this file's examples, refusals included. Run by hand:
/// `HMASIM_SEEDS_DIR=fuzz/seeds cargo test -p hmasim-protocol --test wire -- --ignored`.
#[test]
#[ignore = "writes files; run by hand to regenerate fuzz/seeds"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("HMASIM_SEEDS_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let stamp = codec::Stamp::default();
    let item = MailItem {
        id: "AAMk1".into(),
        subject: "Welcome".into(),
        from: "admin@contoso.com".into(),
        received: "2026-01-01T00:00:00Z".into(),
    };
    let mut bodies: Vec<(&str, Vec<u8>)> =
        vec![
        (
            "token-request.form",
            oauth::TokenRequest::new(
                GrantType::AuthorizationCode,
                &[
                    ("client_id", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
                    ("code", "c0de"),
                    ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
                ],
            )
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "token-request-password.form",
            b"grant_type=password&client_id=c&username=test%40contoso.com&password=P%40ssw0rd%21"
                .to_vec(),
        ),
        (
            "token-answer.json",
            oauth::TokenAnswer {
                token_type: "Bearer".into(),
                resource: "https://outlook.office365.com".into(),
                scope: "user_impersonation".into(),
                expires_in: 3599,
                access_token: "eyJ0eXAiOiJKV1QifQ.e30.sig".into(),
                refresh_token: Some("0.ARr".into()),
                id_token: None,
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "oauth-error.json",
            oauth::OAuthError::missing_parameter("grant_type").encode(&stamp),
        ),
        (
            "v2.json",
            autodiscover::V2Answer {
                protocol: "ActiveSync".into(),
                url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "detect.json",
            autodiscover::DetectJson {
                protocol: "activesync".into(),
                url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
                aad: Some("https://login.windows.net/common/oauth2/authorize".into()),
                onprem: true,
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "pox-request.xml",
            autodiscover::PoxRequest::outlook("test@contoso.com")
                .encode()
                .bytes
                .to_vec(),
        ),
        (
            "pox-response.xml",
            autodiscover::PoxResponse {
                display_name: "Test".into(),
                protocols: vec![autodiscover::PoxProtocol {
                    kind: "EXPR".into(),
                    server: "mail.contoso.com".into(),
                    ews_url: "https://mail.contoso.com/EWS/Exchange.asmx".into(),
                }],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "pox-settings.xml",
            autodiscover::PoxResponse::settings("test@contoso.com", "mail.contoso.com")
                .encode()
                .bytes
                .to_vec(),
        ),
        (
            "oab-manifest.xml",
            oab::Manifest {
                lists: vec![oab::AddressList::default_for("contoso.com")],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "ecp-options.html",
            ecp::OptionsPage::of("test@contoso.com").encode().bytes.to_vec(),
        ),
        (
            "rpc-out.bin",
            rpc::OutStream::rows(1, vec![item.clone()]).encode().bytes.to_vec(),
        ),
        (
            "dirsync-results.json",
            dirsync::SyncResults {
                results: vec![dirsync::Applied {
                    upn: "test@contoso.com".into(),
                    revoked: true,
                }],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "pox-error.xml",
            autodiscover::encode_pox_error(600, "Invalid Request", &stamp),
        ),
        (
            "metadata.json",
            oidc::Metadata {
                issuer: "https://sts.windows.net/t/".into(),
                authorization_endpoint: "https://login.microsoftonline.com/t/oauth2/authorize"
                    .into(),
                token_endpoint: "https://login.microsoftonline.com/t/oauth2/token".into(),
                jwks_uri: "https://login.microsoftonline.com/common/discovery/keys".into(),
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "jwks.json",
            oidc::Jwks {
                keys: vec![oidc::Jwk {
                    kid: "k1".into(),
                    k: "c2VjcmV0".into(),
                }],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "finditem.xml",
            ews::FindItem {
                folder: "inbox".into(),
                max_entries: 10,
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "finditem-response.xml",
            ews::FindItemResponse {
                items: vec![item.clone()],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        ("soap-fault.xml", ews::SoapFault::invalid().encode()),
        (
            "messages.json",
            graph::Messages {
                user: "test@contoso.com".into(),
                value: vec![item.clone()],
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "provision.json",
            mrs::Provision {
                upn: "test@contoso.com".into(),
                url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
            }
            .encode()
            .bytes
            .to_vec(),
        ),
        (
            "sync.wbxml",
            wbxml::encode(&wbxml::Command::SyncResponse(wbxml::SyncResponse {
                status: 1,
                sync_key: "2".into(),
                collection_id: "5".into(),
                items: vec![item],
            })),
        ),
        (
            "foldersync.wbxml",
            wbxml::encode(&wbxml::Command::FolderSyncRequest {
                sync_key: "0".into(),
            }),
        ),
        (
            "provision.wbxml",
            wbxml::encode(&wbxml::Command::ProvisionRequest { policy_key: None }),
        ),
    ];
    for p in [
        Page::SignIn {
            action: Url::https("sts.contoso.com", "/adfs/ls/"),
            username: Some("test@contoso.com".into()),
        },
        Page::Mfa {
            action: Url::https("login.microsoftonline.com", "/common/SAS/ProcessAuth"),
            method: MfaPrompt::PhoneAppNotification,
        },
        Page::AutoPost {
            action: Url::https("login.microsoftonline.com", "/login.srf"),
            fields: Form::new()
                .with("wa", "wsignin1.0")
                .with("wresult", "<t:RequestSecurityTokenResponse/>"),
        },
        Page::Error {
            code: "AADSTS53003".into(),
            message: "Access has been blocked by Conditional Access policies.".into(),
        },
    ] {
        let name = match &p {
            Page::SignIn { .. } => "signin.html",
            Page::Mfa { .. } => "mfa.html",
            Page::AutoPost { .. } => "autopost.html",
            Page::Error { .. } => "error.html",
        };
        bodies.push((name, html::encode(&p).bytes.to_vec()));
    }
    let http: Vec<(&str, Vec<u8>)> = vec![
        ("token.http", [b"POST /common/oauth2/token HTTP/1.1\r\nHost: login.microsoftonline.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 19\r\n\r\n".as_ref(), b"grant_type=password"].concat()),
        ("chunked.http", b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\n\r\n".to_vec()),
        ("pipelined.http", b"GET /autodiscover/autodiscover.json/v1.0/test@contoso.com?Protocol=ActiveSync HTTP/1.1\r\nHost: outlook.office365.com\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("basic.http", b"POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=test&DeviceId=1&DeviceType=iPhone HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Basic dGVzdEBjb250b3NvLmNvbTpQQHNzdzByZCE=\r\nContent-Length: 0\r\n\r\n".to_vec()),
    ];
    let lines: Vec<(&str, Vec<u8>)> = vec![
        ("imap.txt", format!("a1 CAPABILITY\r\na2 STARTTLS\r\na3 AUTHENTICATE XOAUTH2 {}\r\na4 LOGIN test@contoso.com \"P@ss w\"\r\na5 AUTHENTICATE PLAIN\r\n{}\r\na6 SELECT INBOX\r\na7 FETCH 1 BODY[]\r\na8 LOGOUT\r\n", Xoauth2 { user: "test@contoso.com".into(), token: "eyJ0".into() }.encode(), Plain { authzid: String::new(), user: "u".into(), password: "p".into() }.encode()).into_bytes()),
        ("imap-replies.txt", [imap::Reply::Untagged(imap::GREETING.into()).encode(), imap::Reply::authenticate_failed("a1").encode(), imap::Reply::Fetch { seq: 1, message: "Subject: x\r\n\r\nbody\r\n".into() }.encode()].concat()),
        ("pop.txt", b"CAPA\r\nUSER test@contoso.com\r\nPASS P@ss\r\nAUTH XOAUTH2\r\ndXNlcj11AWF1dGg9QmVhcmVyIHQBAQ==\r\nSTAT\r\nRETR 1\r\nQUIT\r\n".to_vec()),
        ("pop-replies.txt", pop::Reply::Message { text: "".into(), message: "Subject: x\r\n\r\n.dot\r\n".into() }.encode()),
        ("smtp.txt", b"EHLO client.contoso.com\r\nSTARTTLS\r\nAUTH LOGIN\r\ndGVzdEBjb250b3NvLmNvbQ==\r\nUEBzcw==\r\nMAIL FROM:<test@contoso.com>\r\nRCPT TO:<b@fabrikam.com>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n".to_vec()),
        ("smtp-replies.txt", [smtp::Reply::ehlo("AM0PR01CA0001.outlook.office365.com", "192.0.2.1", true).encode(), smtp::Reply::smtp_auth_disabled().encode()].concat()),
    ];
    for (target, files) in [
        ("body_decoders", bodies),
        ("http_request", http),
        ("line_protocols", lines),
    ] {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        for (name, bytes) in files {
            std::fs::write(d.join(name), bytes).unwrap();
        }
    }
}
