//! Trace events carry `content_type` (contract: "Events gain content_type"): the media type
//! the body travels as over HTTP, `null` for what does not cross HTTP. Mailbox content
//! travels encoded: its answers name their protocol's media type, and their `body` is the
//! contract's rendering of it (JSON as JSON, XML as a string, WBXML and MAPI as base64).

use serde_json::Value;

fn events(name: &str) -> Vec<Value> {
    let sc = hmasim::scenario::load(name).unwrap();
    let doc: Value = serde_json::from_str(&hmasim::sim::run(&sc, true).to_json()).unwrap();
    doc["events"].as_array().unwrap().clone()
}

#[test]
fn token_answers_and_form_posts_name_their_media_type_and_binds_do_not() {
    let mut seen_json = false;
    for e in events("mobile-onprem-hma") {
        let ct = &e["content_type"];
        assert!(
            e.get("content_type").is_some(),
            "every event has the key: {e}"
        );
        if e["body"].get("access_token").is_some() {
            assert_eq!(ct, "application/json", "{e}");
            seen_json = true;
        }
        if e["body"].is_null() {
            assert!(ct.is_null(), "an empty body has no content type: {e}");
        }
    }
    assert!(seen_json, "the default scenario issues a token");
}

/// The first answer of `name` whose summary contains `what`.
fn answer(name: &str, what: &str) -> Value {
    events(name)
        .into_iter()
        .find(|e| e["kind"] == "response" && e["summary"].as_str().unwrap().contains(what))
        .unwrap_or_else(|| panic!("{name}: no answer \"{what}\""))
}

fn header<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    e["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
}

#[test]
fn mailbox_answers_name_their_protocols_media_type() {
    // ActiveSync (MRS's sync of the on-premises mailbox): WBXML, shown as base64.
    let eas = answer("mobile-onprem-hma", "Exchange verifies the token");
    assert_eq!(eas["content_type"], "application/vnd.ms-sync.wbxml");
    assert!(eas["body"]["base64"].is_string(), "{eas}");
    // What Outlook mobile gets from the cloud service: Graph messages, as JSON.
    let rest = answer("mobile-onprem-hma", "reaches Outlook mobile");
    assert_eq!(rest["content_type"], "application/json");
    assert_eq!(rest["body"]["value"].as_array().map(Vec::len), Some(3));
    // MAPI over HTTP: its own media type and headers, binary after the meta-tags.
    let mapi = answer("desktop-exo-ca", "serves the mailbox");
    assert_eq!(mapi["content_type"], "application/mapi-http");
    assert_eq!(header(&mapi, "X-RequestType"), Some("Execute"));
    assert_eq!(header(&mapi, "X-ResponseCode"), Some("0"));
    assert!(header(&mapi, "X-RequestId").is_some_and(|v| v.ends_with("}:1")));
    assert!(mapi["body"]["base64"].is_string());
    // OWA: the FindItem JSON.
    let owa = answer("web-exo", "opens the mailbox");
    assert_eq!(owa["content_type"], "application/json");
    assert_eq!(
        owa["body"]["Body"]["ResponseMessages"]["Items"][0]["ResponseClass"],
        "Success"
    );
    for e in [&eas, &rest, &mapi, &owa] {
        assert_eq!(
            header(e, "Content-Type").map(|v| v.split(';').next().unwrap()),
            e["content_type"].as_str()
        );
    }
}

#[test]
fn the_requests_that_ask_for_mail_carry_their_protocols_body() {
    let sync = events("mobile-onprem-hma")
        .into_iter()
        .find(|e| {
            e["kind"] == "request"
                && e["url"]
                    .as_str()
                    .is_some_and(|u| u.contains("Cmd=Sync&User="))
        })
        .unwrap();
    assert_eq!(sync["method"], "POST");
    assert_eq!(sync["content_type"], "application/vnd.ms-sync.wbxml");
    assert!(sync["body"]["base64"].is_string());
}

/// The legacy protocols a desktop client can use with Basic on-premises answer their own
/// bytes (no marker any more), and the verdict is what it was: mailbox data reaches the
/// client, without MFA, decided from the decoded answer.
#[test]
fn legacy_answers_are_their_protocols_bytes_and_still_mailbox_data() {
    for (protocol, media, starts) in [
        (
            "autodiscover",
            "text/xml",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover ",
        ),
        (
            "oab",
            "text/xml",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><OAB><OAL ",
        ),
        ("rpc", "application/rpc", ""),
    ] {
        let mut sc = hmasim::scenario::load("desktop-onprem-ca").unwrap();
        hmasim::scenario::apply_set(&mut sc, "clients.0.auth=basic").unwrap();
        hmasim::scenario::apply_set(&mut sc, &format!("clients.0.protocol={protocol}")).unwrap();
        let doc: Value = serde_json::from_str(&hmasim::sim::run(&sc, true).to_json()).unwrap();
        let outcome = &doc["outcome"];
        assert_eq!(outcome["mailbox_access"], true, "{protocol}");
        assert_eq!(outcome["mfa_satisfied"], false, "{protocol}");
        let served: Vec<&Value> = doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "response" && e["from"] == "exchange-onprem")
            .collect();
        assert!(!served.is_empty(), "{protocol}");
        for e in served {
            assert_eq!(e["status"], 200, "{e}");
            assert_eq!(e["content_type"], media, "{e}");
            assert_eq!(
                header(e, "Content-Type").map(|h| h.split(';').next()),
                Some(Some(media))
            );
            match e["body"].as_str() {
                Some(text) => assert!(text.starts_with(starts), "{e}"),
                None => assert!(e["body"]["base64"].is_string(), "{e}"),
            }
            assert!(e["body"].get("items").is_none(), "no marker: {e}");
        }
    }
}
