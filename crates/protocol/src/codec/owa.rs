//! Outlook on the web's `service.svc?action=FindItem` answer: the JSON form of EWS's
//! `FindItemResponse` that OWA's script reads (`Body.ResponseMessages.Items[]` of
//! `__type` `FindItemResponseMessage:#Exchange`, `ResponseClass`, `ResponseCode`,
//! `RootFolder.Items[]` of `Message:#Exchange` with `ItemId.Id`, `Subject`,
//! `DateTimeReceived`, `From.Mailbox.EmailAddress`). OWA's JSON endpoint is not publicly
//! documented: the names are EWS's ("FindItem operation"), in the `__type` notation of
//! WCF's JSON serializer that OWA's traffic shows.

use serde_json::{json, Value};

use super::{ContentType, DecodeError, Encoded, MailItem};

/// The `__type` of the response message.
pub const RESPONSE_TYPE: &str = "FindItemResponseMessage:#Exchange";
/// The `__type` of an item.
pub const MESSAGE_TYPE: &str = "Message:#Exchange";

/// OWA's `FindItem` answer over the Inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindItemJson {
    /// The items, in order.
    pub items: Vec<MailItem>,
}

impl FindItemJson {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|m| {
                json!({
                    "__type": MESSAGE_TYPE,
                    "ItemId": {"Id": m.id},
                    "Subject": m.subject,
                    "DateTimeReceived": m.received,
                    "From": {"Mailbox": {"EmailAddress": m.from}},
                })
            })
            .collect();
        let v = json!({"Body": {"ResponseMessages": {"Items": [{
            "__type": RESPONSE_TYPE,
            "ResponseClass": "Success",
            "ResponseCode": "NoError",
            "RootFolder": {
                "IncludesLastItemInRange": true,
                "TotalItemsInView": self.items.len(),
                "Items": items,
            },
        }]}}});
        Encoded::new(ContentType::Json, v.to_string().into_bytes())
    }

    /// Reads the JSON body: one `FindItemResponseMessage` of class `Success` with its
    /// `RootFolder.Items`.
    pub fn decode(bytes: &[u8]) -> Result<FindItemJson, DecodeError> {
        const F: &str = "OWA FindItem JSON";
        let v = super::json_value(bytes, F)?;
        let msg = v["Body"]["ResponseMessages"]["Items"]
            .as_array()
            .and_then(|a| a.first())
            .filter(|m| m["__type"] == RESPONSE_TYPE)
            .ok_or_else(|| DecodeError::new(F, "no FindItemResponseMessage"))?;
        if msg["ResponseClass"] != "Success" {
            return Err(DecodeError::new(
                F,
                format!("ResponseCode {}", msg["ResponseCode"]),
            ));
        }
        let items = msg["RootFolder"]["Items"]
            .as_array()
            .ok_or_else(|| DecodeError::new(F, "no RootFolder.Items"))?;
        let s = |m: &Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
        Ok(FindItemJson {
            items: items
                .iter()
                .filter(|m| m["__type"] == MESSAGE_TYPE)
                .map(|m| MailItem {
                    id: m["ItemId"]["Id"].as_str().unwrap_or_default().to_string(),
                    subject: s(m, "Subject"),
                    received: s(m, "DateTimeReceived"),
                    from: m["From"]["Mailbox"]["EmailAddress"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    #[test]
    fn find_item_json_round_trips_and_is_mailbox_content() {
        let r = FindItemJson {
            items: vec![MailItem {
                id: "AAMk1".into(),
                subject: "Q\"A".into(),
                from: "a@contoso.com".into(),
                received: "2026-01-01T00:00:00Z".into(),
            }],
        };
        let e = r.encode();
        assert_eq!(FindItemJson::decode(&e.bytes).unwrap(), r);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let none = FindItemJson { items: vec![] }.encode();
        assert!(!carries_mailbox(none.content_type, &none.bytes));
        let failed = String::from_utf8(e.bytes.to_vec())
            .unwrap()
            .replace("\"Success\"", "\"Error\"");
        assert!(FindItemJson::decode(failed.as_bytes()).is_err());
        assert!(!carries_mailbox(ContentType::Json, failed.as_bytes()));
        assert!(FindItemJson::decode(b"{\"Body\":{}}").is_err());
    }
}
