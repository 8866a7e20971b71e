//! Exchange Web Services over SOAP 1.1: the `FindItem` request, its response with the
//! items found, and the SOAP faults EWS answers to a request it cannot read
//! (`ErrorSchemaValidation`, `ErrorInvalidRequest`; HTTP 500, as SOAP faults travel).

use super::xml::{self, escape, Element};
use super::{ContentType, DecodeError, Encoded, MailItem, Refusal, WireError};

/// The SOAP 1.1 envelope namespace.
pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// EWS types.
pub const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS messages.
pub const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS errors.
pub const ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

/// The EWS response codes of a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    /// The request is not valid against the schema.
    ErrorSchemaValidation,
    /// The request is not a request EWS knows.
    ErrorInvalidRequest,
}

impl FaultCode {
    /// The code's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultCode::ErrorSchemaValidation => "ErrorSchemaValidation",
            FaultCode::ErrorInvalidRequest => "ErrorInvalidRequest",
        }
    }
}

/// A SOAP fault of EWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoapFault {
    /// The EWS response code.
    pub code: FaultCode,
    /// The message (`faultstring`).
    pub message: String,
}

impl SoapFault {
    /// `ErrorSchemaValidation`: the request failed schema validation.
    pub fn schema(detail: &str) -> SoapFault {
        SoapFault {
            code: FaultCode::ErrorSchemaValidation,
            message: format!("The request failed schema validation: {detail}"),
        }
    }
    /// `ErrorInvalidRequest`: the request is invalid.
    pub fn invalid() -> SoapFault {
        SoapFault {
            code: FaultCode::ErrorInvalidRequest,
            message: "The request is invalid.".into(),
        }
    }
    /// The fault as EWS answers it (HTTP 500).
    pub fn refuse(self) -> WireError {
        WireError::new(500, Refusal::Soap(self))
    }
    /// The SOAP envelope.
    pub fn encode(&self) -> Vec<u8> {
        let c = self.code.as_str();
        let m = escape(&self.message);
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\"><s:Body><s:Fault><faultcode xmlns:a=\"{TYPES}\">a:{c}</faultcode><faultstring xml:lang=\"en-US\">{m}</faultstring><detail><e:ResponseCode xmlns:e=\"{ERRORS}\">{c}</e:ResponseCode><e:Message xmlns:e=\"{ERRORS}\">{m}</e:Message></detail></s:Fault></s:Body></s:Envelope>"
        )
        .into_bytes()
    }
}

/// A `FindItem` request over one distinguished folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindItem {
    /// The `DistinguishedFolderId` (`inbox`).
    pub folder: String,
    /// `MaxEntriesReturned` of the indexed page view.
    pub max_entries: u32,
}

fn body_of(root: &Element) -> Option<&Element> {
    if root.local() != "Envelope" {
        return None;
    }
    root.child("Body")
}

impl FindItem {
    /// The SOAP request.
    pub fn encode(&self) -> Encoded {
        let s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{SOAP}\" xmlns:t=\"{TYPES}\" xmlns:m=\"{MESSAGES}\"><soap:Header><t:RequestServerVersion Version=\"Exchange2013_SP1\"/></soap:Header><soap:Body><m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned=\"{}\" Offset=\"0\" BasePoint=\"Beginning\"/><m:ParentFolderIds><t:DistinguishedFolderId Id=\"{}\"/></m:ParentFolderIds></m:FindItem></soap:Body></soap:Envelope>",
            self.max_entries,
            escape(&self.folder)
        );
        Encoded::new(ContentType::Xml, s.into_bytes())
    }
    /// Reads a posted request as EWS does: not well-formed XML, or no SOAP envelope, is
    /// `ErrorInvalidRequest`; an envelope whose body is not a `FindItem` with a folder
    /// and a valid page size is `ErrorSchemaValidation`.
    pub fn decode(bytes: &[u8]) -> Result<FindItem, WireError> {
        let root = xml::parse(bytes).map_err(|_| SoapFault::invalid().refuse())?;
        let body = body_of(&root).ok_or_else(|| SoapFault::invalid().refuse())?;
        let schema = |d: &str| SoapFault::schema(d).refuse();
        let f = body
            .child("FindItem")
            .ok_or_else(|| schema("The element 'Body' has no FindItem child."))?;
        match f.attr("Traversal") {
            Some("Shallow" | "Deep" | "SoftDeleted" | "Associated") => {}
            _ => return Err(schema("The 'Traversal' attribute is invalid.")),
        }
        let max_entries = match f.child("IndexedPageItemView") {
            Some(v) => v
                .attr("MaxEntriesReturned")
                .and_then(|m| m.parse::<u32>().ok())
                .filter(|&m| m > 0)
                .ok_or_else(|| schema("The 'MaxEntriesReturned' attribute is invalid."))?,
            None => 1000,
        };
        let folder = f
            .child("ParentFolderIds")
            .and_then(|p| p.child("DistinguishedFolderId"))
            .and_then(|d| d.attr("Id"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                schema("The element 'FindItem' has incomplete content: ParentFolderIds.")
            })?;
        Ok(FindItem {
            folder: folder.to_string(),
            max_entries,
        })
    }
}

/// A successful `FindItem` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindItemResponse {
    /// The items, in order.
    pub items: Vec<MailItem>,
}

impl FindItemResponse {
    /// The SOAP response.
    pub fn encode(&self) -> Encoded {
        let mut s = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\"><s:Body><m:FindItemResponse xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages><m:FindItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder TotalItemsInView=\"{}\" IncludesLastItemInRange=\"true\"><t:Items>",
            self.items.len()
        );
        for m in &self.items {
            s.push_str(&format!(
                "<t:Message><t:ItemId Id=\"{}\"/><t:Subject>{}</t:Subject><t:DateTimeReceived>{}</t:DateTimeReceived><t:From><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:From></t:Message>",
                escape(&m.id),
                escape(&m.subject),
                escape(&m.received),
                escape(&m.from)
            ));
        }
        s.push_str("</t:Items></m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse></s:Body></s:Envelope>");
        Encoded::new(ContentType::Xml, s.into_bytes())
    }
    /// Reads a response: a SOAP envelope with a `FindItemResponseMessage` of class
    /// `Success`; a fault or an error class is reported.
    pub fn decode(bytes: &[u8]) -> Result<FindItemResponse, DecodeError> {
        const F: &str = "EWS FindItem response";
        let root = xml::parse(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let body = body_of(&root).ok_or_else(|| DecodeError::new(F, "no SOAP Envelope/Body"))?;
        if let Some(f) = body.child("Fault") {
            return Err(DecodeError::new(
                F,
                format!(
                    "SOAP fault {}",
                    f.child_text("faultcode").unwrap_or_default()
                ),
            ));
        }
        let msg = body
            .child("FindItemResponse")
            .and_then(|r| r.child("ResponseMessages"))
            .and_then(|r| r.child("FindItemResponseMessage"))
            .ok_or_else(|| DecodeError::new(F, "no FindItemResponseMessage"))?;
        if msg.attr("ResponseClass") != Some("Success") {
            return Err(DecodeError::new(
                F,
                format!(
                    "ResponseCode {}",
                    msg.child_text("ResponseCode").unwrap_or_default()
                ),
            ));
        }
        let items = msg
            .child("RootFolder")
            .and_then(|r| r.child("Items"))
            .ok_or_else(|| DecodeError::new(F, "no RootFolder/Items"))?;
        let items = items
            .elements()
            .map(|m| MailItem {
                id: m
                    .child("ItemId")
                    .and_then(|i| i.attr("Id"))
                    .unwrap_or_default()
                    .to_string(),
                subject: m.child_text("Subject").unwrap_or_default(),
                received: m.child_text("DateTimeReceived").unwrap_or_default(),
                from: m
                    .child("From")
                    .and_then(|f| f.child("Mailbox"))
                    .and_then(|b| b.child_text("EmailAddress"))
                    .unwrap_or_default(),
            })
            .collect();
        Ok(FindItemResponse { items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    #[test]
    fn find_item_round_trips() {
        let f = FindItem {
            folder: "inbox".into(),
            max_entries: 10,
        };
        assert_eq!(FindItem::decode(&f.encode().bytes).unwrap(), f);
    }

    #[test]
    fn bad_requests_are_the_documented_faults() {
        let code = |b: &[u8]| match FindItem::decode(b).unwrap_err() {
            WireError {
                status: 500,
                refusal: Refusal::Soap(f),
            } => f.code,
            e => panic!("{e:?}"),
        };
        assert_eq!(code(b"<not xml"), FaultCode::ErrorInvalidRequest);
        assert_eq!(code(b"<a/>"), FaultCode::ErrorInvalidRequest);
        let env = |inner: &str| {
            format!("<s:Envelope xmlns:s=\"{SOAP}\"><s:Body>{inner}</s:Body></s:Envelope>")
        };
        assert_eq!(
            code(env("<GetItem/>").as_bytes()),
            FaultCode::ErrorSchemaValidation
        );
        assert_eq!(
            code(env("<FindItem Traversal=\"Shallow\"/>").as_bytes()),
            FaultCode::ErrorSchemaValidation
        );
        let fault = SoapFault::invalid().encode();
        let s = String::from_utf8(fault.clone()).unwrap();
        assert!(s.contains("a:ErrorInvalidRequest</faultcode>"), "{s}");
        assert!(FindItemResponse::decode(&fault).is_err());
    }

    #[test]
    fn a_response_with_items_is_mailbox_content() {
        let r = FindItemResponse {
            items: vec![MailItem {
                id: "AAMk1".into(),
                subject: "Q&A".into(),
                from: "a@contoso.com".into(),
                received: "2026-01-01T00:00:00Z".into(),
            }],
        };
        let e = r.encode();
        assert_eq!(FindItemResponse::decode(&e.bytes).unwrap(), r);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let none = FindItemResponse { items: vec![] }.encode();
        assert!(!carries_mailbox(none.content_type, &none.bytes));
        assert!(!carries_mailbox(
            ContentType::Xml,
            &SoapFault::invalid().encode()
        ));
    }
}
