//! What an Exchange mailbox endpoint answers a request it has authenticated: the request
//! body read with its protocol's decoder (a [`WireError`] when it cannot be read), and
//! the user's Inbox ([`MailItem::sample`]) in the protocol's answer. The mailbox servers
//! (Exchange Online and on-premises) share this; what they decide before it (who may
//! read which mailbox) is theirs.

use http::HeaderName;

use super::{
    autodiscover, ecp, ews, graph, mapi, oab, owa, rpc, wbxml, Encoded, MailItem, Stamp, WireError,
};
use crate::{headers, Message, Wire};

/// A mailbox protocol whose answer is encoded here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Exchange ActiveSync (`/Microsoft-Server-ActiveSync`): a WBXML command.
    ActiveSync,
    /// EWS (`/EWS/Exchange.asmx`): a SOAP `FindItem`.
    Ews,
    /// MAPI over HTTP (`/mapi/emsmdb/`): an `Execute` (its request body is not modelled).
    Mapi,
    /// Outlook on the web (`/owa/`): the `FindItem` JSON of the Inbox.
    Owa,
    /// The REST API Outlook mobile's cloud service serves mail over: Graph `messages`.
    Rest,
    /// AutoDiscover POX (`/autodiscover/autodiscover.xml`): the mailbox's settings.
    AutodiscoverPox,
    /// The offline address book (`/OAB/`): its `oab.xml` manifest.
    Oab,
    /// RPC over HTTP, Outlook Anywhere (`/rpc/rpcproxy.dll`): the `RPC_OUT_DATA` stream.
    Rpc,
    /// The Exchange Control Panel (`/ecp/`): the options page of the mailbox.
    Ecp,
}

impl Endpoint {
    /// The endpoint a mailbox path is served by, if its answer is encoded here.
    pub fn of_path(path: &str) -> Option<Endpoint> {
        let p = path.to_ascii_lowercase();
        if p.starts_with("/microsoft-server-activesync") {
            Some(Endpoint::ActiveSync)
        } else if p.starts_with("/ews") {
            Some(Endpoint::Ews)
        } else if p.starts_with("/mapi") {
            Some(Endpoint::Mapi)
        } else if p.starts_with("/owa") {
            Some(Endpoint::Owa)
        } else if p.starts_with("/autodiscover") {
            Some(Endpoint::AutodiscoverPox)
        } else if p.starts_with("/oab") {
            Some(Endpoint::Oab)
        } else if p.starts_with("/rpc") {
            Some(Endpoint::Rpc)
        } else if p.starts_with("/ecp") {
            Some(Endpoint::Ecp)
        } else {
            None
        }
    }
}

/// A mailbox answer: the body and the headers the protocol sends beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The encoded body (its content type goes in `Content-Type`).
    pub body: Encoded,
    /// Other headers, in wire order (MAPI's `X-RequestType`, `X-ResponseCode`,
    /// `X-RequestId`).
    pub headers: Vec<(HeaderName, String)>,
}

/// The next ActiveSync `SyncKey` after `key` (a number; anything else starts again at 1).
fn next_key(key: &str) -> String {
    key.parse::<u64>()
        .map_or(1, |k| k.saturating_add(1))
        .to_string()
}

/// The `X-RequestId` of MAPI over HTTP ([MS-OXCMAPIHTTP] 2.2.3.3.2): `{GUID}:counter`,
/// the GUID derived from `id`.
pub fn mapi_request_id(id: u64) -> String {
    format!("{{{}}}:1", super::guid(id).to_ascii_uppercase())
}

/// What `endpoint` at `host` answers `upn`'s authenticated request whose body is
/// `request` at `unix_now`; `id` numbers the answer (MAPI's `X-RequestId`, RPC's
/// `call_id`). A request body the protocol cannot read is refused as the service refuses
/// it: ActiveSync `400` or the command's protocol-error status, EWS a SOAP fault (`500`),
/// AutoDiscover POX its `Error` response (`200`).
///
/// An ActiveSync `Sync` adds the Inbox's items (collection `5`, item `ServerId`s `5:n`)
/// whatever its `SyncKey`, and answers the next key: the model sends no `FolderSync`
/// first and keeps no per-device sync state. EWS answers the Inbox's items for the
/// `inbox` folder (at most `MaxEntriesReturned`), none for another folder.
pub fn reply(
    endpoint: Endpoint,
    request: &[u8],
    upn: &str,
    host: &str,
    unix_now: u64,
    id: u64,
) -> Result<Reply, WireError> {
    let items = MailItem::sample(upn, unix_now);
    let plain = |body: Encoded| Reply {
        body,
        headers: Vec::new(),
    };
    Ok(match endpoint {
        Endpoint::ActiveSync => plain(
            match wbxml::decode_request(request)? {
                wbxml::Command::SyncRequest {
                    sync_key,
                    collection_id,
                } => wbxml::Command::SyncResponse(wbxml::SyncResponse {
                    status: 1,
                    sync_key: next_key(&sync_key),
                    items: items
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| MailItem {
                            id: format!("{collection_id}:{}", i + 1),
                            ..m
                        })
                        .collect(),
                    collection_id,
                }),
                wbxml::Command::FolderSyncRequest { sync_key } => {
                    wbxml::Command::FolderSyncResponse {
                        status: 1,
                        sync_key: next_key(&sync_key),
                        folders: vec![wbxml::Folder {
                            server_id: "5".into(),
                            parent_id: "0".into(),
                            display_name: "Inbox".into(),
                            kind: 2,
                        }],
                    }
                }
                _ => wbxml::Command::ProvisionResponse {
                    status: 1,
                    policy_key: "1307199584".into(),
                },
            }
            .encode(),
        ),
        Endpoint::Ews => {
            let f = ews::FindItem::decode(request)?;
            let items = if f.folder.eq_ignore_ascii_case("inbox") {
                items.into_iter().take(f.max_entries as usize).collect()
            } else {
                Vec::new()
            };
            plain(ews::FindItemResponse { items }.encode())
        }
        Endpoint::Mapi => Reply {
            body: mapi::ExecuteResponse {
                start_unix: unix_now,
                rows: items,
            }
            .encode(),
            headers: vec![
                (headers::X_REQUEST_TYPE.clone(), "Execute".into()),
                (headers::X_RESPONSE_CODE.clone(), "0".into()),
                (headers::X_REQUEST_ID.clone(), mapi_request_id(id)),
            ],
        },
        Endpoint::Owa => plain(owa::FindItemJson { items }.encode()),
        Endpoint::Rest => plain(
            graph::Messages {
                user: upn.to_string(),
                value: items,
            }
            .encode(),
        ),
        Endpoint::AutodiscoverPox => plain(autodiscover::answer_pox(request, upn, host)?.encode()),
        Endpoint::Oab => {
            let domain = upn.rsplit_once('@').map_or(host, |(_, d)| d);
            plain(
                oab::Manifest {
                    lists: vec![oab::AddressList::default_for(domain)],
                }
                .encode(),
            )
        }
        // The low 32 bits of the answer's number: a `call_id` is a u32.
        Endpoint::Rpc => plain(rpc::OutStream::rows(id as u32, items).encode()),
        Endpoint::Ecp => plain(ecp::OptionsPage::of(upn).encode()),
    })
}

/// The answer of a mailbox server that has authenticated `upn`'s request `req` at
/// `unix_now`: for an endpoint of [`Endpoint::of_path`], `200` with its [`reply`] (or
/// the refusal of a body it cannot read, with a [`Stamp`] derived from the request's
/// correlation and the time); for a path of none, `404`.
pub fn answer(req: &Wire, upn: &str, unix_now: u64, summary: &'static str) -> Message {
    let url = req.url.as_ref();
    let Some(endpoint) = url.and_then(|u| Endpoint::of_path(&u.path)) else {
        return Message::response(req, 404, "no mailbox endpoint at this path");
    };
    let host = url.map_or("", |u| u.host.as_str());
    match reply(
        endpoint,
        req.bytes(),
        upn,
        host,
        unix_now,
        req.conv ^ unix_now,
    ) {
        Ok(r) => {
            let mut m = Message::response(req, 200, summary)
                .header(&headers::CONTENT_TYPE, r.body.content_type.as_str());
            for (name, value) in r.headers {
                m = m.header(&name, value);
            }
            m.with_encoded(r.body)
        }
        Err(e) => Message::response(
            req,
            e.status,
            "the mailbox server cannot read the request body and refuses it",
        )
        .with_encoded(e.encode(&Stamp::at(unix_now, req.conv))),
    }
}

/// The ActiveSync `Sync` request of the Inbox (collection `5`) with `sync_key`.
pub fn sync_request(sync_key: &str) -> Encoded {
    wbxml::Command::SyncRequest {
        sync_key: sync_key.to_string(),
        collection_id: "5".into(),
    }
    .encode()
}

/// The EWS `FindItem` request of the Inbox's first 50 items.
pub fn find_item_request() -> Encoded {
    ews::FindItem {
        folder: "inbox".into(),
        max_entries: 50,
    }
    .encode()
}

/// The request body `upn`'s client sends to `endpoint` to read the mailbox: a WBXML
/// `Sync` (key `sync_key`) to ActiveSync, a SOAP `FindItem` to EWS, the POX request of
/// `upn`'s address to AutoDiscover, none to the others (the MAPI `Execute` and RPC
/// request bodies are not modelled; OWA, ECP and REST read with a form post or a `GET`,
/// the offline address book with a `GET` of its manifest).
pub fn request_body(endpoint: Endpoint, sync_key: &str, upn: &str) -> Option<Encoded> {
    match endpoint {
        Endpoint::ActiveSync => Some(sync_request(sync_key)),
        Endpoint::Ews => Some(find_item_request()),
        Endpoint::AutodiscoverPox => Some(autodiscover::PoxRequest::outlook(upn).encode()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{carries_mailbox, read_mailbox, Refusal};

    const NOW: u64 = 1_767_236_400;

    #[test]
    fn every_endpoint_answers_the_users_inbox() {
        for (e, req) in [
            (Endpoint::ActiveSync, sync_request("0").bytes),
            (Endpoint::Ews, find_item_request().bytes),
            (Endpoint::Mapi, Vec::new().into()),
            (Endpoint::Owa, Vec::new().into()),
            (Endpoint::Rest, Vec::new().into()),
            (Endpoint::Rpc, Vec::new().into()),
        ] {
            let r = reply(e, &req, "u@contoso.com", "mail.contoso.com", NOW, 7).unwrap();
            assert!(carries_mailbox(r.body.content_type, &r.body.bytes), "{e:?}");
            let m = read_mailbox(r.body.content_type, &r.body.bytes).unwrap();
            assert_eq!(m.items[0].subject, "Welcome to your mailbox, u");
        }
        let mapi = reply(Endpoint::Mapi, &[], "u@contoso.com", "h", NOW, 7).unwrap();
        assert_eq!(mapi.headers[0].1, "Execute");
        assert_eq!(mapi.headers[2].1, mapi_request_id(7));
        assert!(mapi.headers[2].1.starts_with('{') && mapi.headers[2].1.ends_with("}:1"));
    }

    #[test]
    fn an_activesync_sync_answers_the_next_key_and_collection_item_ids() {
        let r = reply(
            Endpoint::ActiveSync,
            &sync_request("41").bytes,
            "u@c.com",
            "h",
            NOW,
            0,
        )
        .unwrap();
        match wbxml::decode(&r.body.bytes).unwrap() {
            wbxml::Command::SyncResponse(s) => {
                assert_eq!((s.status, s.sync_key.as_str()), (1, "42"));
                assert_eq!(s.items[2].id, "5:3");
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn unreadable_requests_are_refused_as_the_service_refuses_them() {
        let e = reply(Endpoint::ActiveSync, b"not wbxml", "u", "h", NOW, 0).unwrap_err();
        assert_eq!(e.status, 400);
        let resp = wbxml::Command::SyncError { status: 1 }.encode();
        let e = reply(Endpoint::ActiveSync, &resp.bytes, "u", "h", NOW, 0).unwrap_err();
        assert_eq!(e.status, 200);
        assert!(matches!(
            e.refusal,
            Refusal::ActiveSync(wbxml::Command::SyncError { status: 4 })
        ));
        let e = reply(Endpoint::Ews, b"<not xml", "u", "h", NOW, 0).unwrap_err();
        assert_eq!(e.status, 500);
        assert!(matches!(e.refusal, Refusal::Soap(_)));
        let other = ews::FindItem {
            folder: "sentitems".into(),
            max_entries: 5,
        }
        .encode();
        let r = reply(Endpoint::Ews, &other.bytes, "u", "h", NOW, 0).unwrap();
        assert!(!carries_mailbox(r.body.content_type, &r.body.bytes));
    }

    #[test]
    fn legacy_endpoints_answer_the_mailboxs_data() {
        let pox = autodiscover::PoxRequest::outlook("u@contoso.com")
            .encode()
            .bytes;
        for (e, req, format) in [
            (
                Endpoint::AutodiscoverPox,
                pox.clone(),
                "AutoDiscover POX settings",
            ),
            (Endpoint::Oab, Vec::new().into(), "OAB manifest"),
            (Endpoint::Ecp, Vec::new().into(), "ECP options"),
        ] {
            let r = reply(e, &req, "u@contoso.com", "mail.contoso.com", NOW, 7).unwrap();
            assert!(carries_mailbox(r.body.content_type, &r.body.bytes), "{e:?}");
            let m = read_mailbox(r.body.content_type, &r.body.bytes).unwrap();
            assert_eq!((m.format, m.items.len()), (format, 0));
            assert!(!m.data.is_empty());
        }
        for (path, e) in [
            ("/autodiscover/autodiscover.xml", Endpoint::AutodiscoverPox),
            ("/OAB/oab.xml", Endpoint::Oab),
            ("/rpc/rpcproxy.dll", Endpoint::Rpc),
            ("/ecp/", Endpoint::Ecp),
        ] {
            assert_eq!(Endpoint::of_path(path), Some(e));
        }
        assert_eq!(
            request_body(Endpoint::AutodiscoverPox, "0", "u@contoso.com").map(|b| b.bytes),
            Some(pox)
        );
        // A POX body that does not read is answered with the POX error, not settings.
        let e = reply(
            Endpoint::AutodiscoverPox,
            b"<x",
            "u@contoso.com",
            "h",
            NOW,
            0,
        )
        .unwrap_err();
        assert_eq!(e.status, 200);
        let shown = e.encode(&Stamp::at(NOW, 1));
        assert!(!carries_mailbox(shown.content_type, &shown.bytes));
    }
}
