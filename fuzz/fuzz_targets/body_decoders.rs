//! Arbitrary bytes through every body decoder of `codec` (token requests and answers,
//! OAuth errors, AutoDiscover v2 and POX, OpenID metadata and JWKS, HTML pages and forms,
//! EWS FindItem requests and responses, Graph messages, ActiveSync WBXML, MRS
//! provisioning, the OAB manifest, ECP's options page, RPC over HTTP streams, directory
//! sync results), the XML reader, `mask` and `carries_mailbox` for every content type.
//! Must never panic. A request decoder's refusal must render in its shape; what a decoder
//! accepts must encode to bytes that decode to the same value; masking must keep no
//! secret form field's value; and `carries_mailbox` must agree with the decoders.
#![no_main]

use hmasim::protocol::codec::{
    self, autodiscover, ews, graph, html, mrs, oauth, oidc, wbxml, xml, ContentType, Stamp,
};
use hmasim::protocol::display::is_secret_name;
use libfuzzer_sys::fuzz_target;

fn refusal_renders(e: &codec::WireError) {
    let body = e.encode(&Stamp::default());
    assert!(!body.bytes.is_empty());
    assert!((200..600).contains(&e.status));
}

fuzz_target!(|data: &[u8]| {
    match oauth::TokenRequest::decode(data) {
        Ok(r) => assert_eq!(oauth::TokenRequest::decode(&r.encode().bytes).unwrap(), r),
        Err(e) => refusal_renders(&e),
    }
    if let Ok(a) = oauth::TokenAnswer::decode(data) {
        assert_eq!(oauth::TokenAnswer::decode(&a.encode().bytes).unwrap(), a);
    }
    if let Ok(e) = oauth::OAuthError::decode(data) {
        let _ = e.encode(&Stamp::default());
    }
    if let Ok(v) = autodiscover::V2Answer::decode(data) {
        assert_eq!(
            autodiscover::V2Answer::decode(&v.encode().bytes).unwrap(),
            v
        );
    }
    match autodiscover::PoxRequest::decode(data) {
        Ok(r) => assert_eq!(
            autodiscover::PoxRequest::decode(&r.encode().bytes).unwrap(),
            r
        ),
        Err(e) => refusal_renders(&e),
    }
    let _ = autodiscover::PoxResponse::decode(data);
    if let Ok(d) = autodiscover::DetectJson::decode(data) {
        assert_eq!(
            autodiscover::DetectJson::decode(&d.encode().bytes).unwrap(),
            d
        );
    }
    if let Ok(m) = oidc::Metadata::decode(data) {
        assert_eq!(oidc::Metadata::decode(&m.encode().bytes).unwrap(), m);
    }
    if let Ok(j) = oidc::Jwks::decode(data) {
        assert_eq!(oidc::Jwks::decode(&j.encode().bytes).unwrap(), j);
    }
    let _ = html::parse_form(data);
    if let Ok(p) = html::decode(data) {
        let _ = html::encode(&p);
    }
    match ews::FindItem::decode(data) {
        Ok(f) => assert_eq!(ews::FindItem::decode(&f.encode().bytes).unwrap(), f),
        Err(e) => refusal_renders(&e),
    }
    let _ = ews::FindItemResponse::decode(data);
    let messages = graph::Messages::decode(data);
    let sync = wbxml::decode(data);
    // The look that spares a parse never hides an answer the decoders read as mail.
    for ct in ContentType::ALL {
        assert_eq!(
            codec::carries_mailbox(ct, data),
            codec::read_mailbox(ct, data).is_ok_and(|m| m.carries_data()),
            "{ct:?}"
        );
    }
    if let Ok(m) = codec::oab::Manifest::decode(data) {
        assert_eq!(codec::oab::Manifest::decode(&m.encode().bytes).unwrap(), m);
    }
    if let Ok(p) = codec::ecp::OptionsPage::decode(data) {
        assert_eq!(codec::ecp::OptionsPage::decode(&p.encode().bytes).unwrap(), p);
    }
    if let Ok(r) = codec::rpc::OutStream::decode(data) {
        // Times past what ISO 8601 writes do not come back, as with MAPI.
        let again = codec::rpc::OutStream::decode(&r.encode().bytes).unwrap();
        assert_eq!(again.call_id, r.call_id);
        assert_eq!(
            again.answer.as_ref().map(Vec::len),
            r.answer.as_ref().map(Vec::len)
        );
    }
    if let Ok(r) = codec::dirsync::SyncResults::decode(data) {
        assert_eq!(codec::dirsync::SyncResults::decode(&r.encode().bytes).unwrap(), r);
    }
    let owa = codec::owa::FindItemJson::decode(data);
    assert_eq!(
        codec::carries_mailbox(ContentType::Json, data),
        messages.as_ref().is_ok_and(|m| !m.value.is_empty())
            || (messages.is_err() && owa.as_ref().is_ok_and(|o| !o.items.is_empty()))
    );
    let execute = codec::mapi::ExecuteResponse::decode(data);
    assert_eq!(
        codec::carries_mailbox(ContentType::MapiHttp, data),
        execute.as_ref().is_ok_and(|r| !r.rows.is_empty())
    );
    if let Ok(r) = &execute {
        let again = codec::mapi::ExecuteResponse::decode(&r.encode().bytes).unwrap();
        assert_eq!(again.rows.len(), r.rows.len());
    }
    if let Ok(c) = &sync {
        assert_eq!(&wbxml::decode(&wbxml::encode(c)).unwrap(), c);
    }
    if let Err(e) = wbxml::decode_request(data) {
        refusal_renders(&e);
    }
    match mrs::Provision::decode(data) {
        Ok(p) => assert_eq!(mrs::Provision::decode(&p.encode().bytes).unwrap(), p),
        Err(e) => refusal_renders(&e),
    }
    let _ = xml::parse(data);
    for ct in ContentType::ALL {
        let _ = codec::mask(ct, data);
    }
    // A secret form field's value never survives masking.
    let masked = codec::mask(ContentType::Form, data);
    if let (Ok(before), Ok(after)) = (codec::form::decode(data), codec::form::decode(&masked)) {
        for ((k, v), (_, shown)) in before.iter().zip(&after) {
            if is_secret_name(k) && !v.is_empty() && v != "********" {
                assert_eq!(shown, "********", "{k} kept its value");
            }
        }
    }
});
