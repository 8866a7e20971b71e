//! Microsoft Graph `GET /v1.0/me/messages`: an OData collection (`@odata.context`,
//! `value`) of `message` resources (`id`, `subject`, `receivedDateTime`,
//! `from.emailAddress.address`).

use serde_json::{json, Value};

use super::{ContentType, DecodeError, Encoded, MailItem};

/// A page of the user's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Messages {
    /// The mailbox owner (in `@odata.context`).
    pub user: String,
    /// `value`.
    pub value: Vec<MailItem>,
}

impl Messages {
    /// The `@odata.context` of the collection.
    pub fn context(user: &str) -> String {
        format!("https://graph.microsoft.com/v1.0/$metadata#users('{user}')/messages")
    }
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        let value: Vec<Value> = self
            .value
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "subject": m.subject,
                    "receivedDateTime": m.received,
                    "from": {"emailAddress": {"address": m.from}},
                })
            })
            .collect();
        let v = json!({"@odata.context": Self::context(&self.user), "value": value});
        Encoded::new(ContentType::Json, v.to_string().into_bytes())
    }
    /// Reads the JSON body: an object whose `@odata.context` names a `messages`
    /// collection and whose `value` is an array of messages.
    pub fn decode(bytes: &[u8]) -> Result<Messages, DecodeError> {
        const F: &str = "Graph messages JSON";
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let ctx = v
            .get("@odata.context")
            .and_then(Value::as_str)
            .ok_or_else(|| DecodeError::new(F, "no @odata.context"))?;
        let user = ctx
            .strip_prefix("https://graph.microsoft.com/v1.0/$metadata#users('")
            .and_then(|r| r.strip_suffix("')/messages"))
            .ok_or_else(|| DecodeError::new(F, "the context is not a messages collection"))?;
        let value = v
            .get("value")
            .and_then(Value::as_array)
            .ok_or_else(|| DecodeError::new(F, "no value array"))?;
        let mut out = Vec::with_capacity(value.len());
        for m in value {
            let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(MailItem {
                id: s("id").ok_or_else(|| DecodeError::new(F, "a message without id"))?,
                subject: s("subject").unwrap_or_default(),
                received: s("receivedDateTime").unwrap_or_default(),
                from: m["from"]["emailAddress"]["address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(Messages {
            user: user.to_string(),
            value: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    #[test]
    fn messages_round_trip_and_are_mailbox_content() {
        let m = Messages {
            user: "test@contoso.com".into(),
            value: vec![MailItem {
                id: "AAMk1".into(),
                subject: "Welcome".into(),
                from: "admin@contoso.com".into(),
                received: "2026-01-01T00:00:00Z".into(),
            }],
        };
        let e = m.encode();
        assert_eq!(Messages::decode(&e.bytes).unwrap(), m);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let empty = Messages {
            user: "u".into(),
            value: vec![],
        }
        .encode();
        assert!(!carries_mailbox(empty.content_type, &empty.bytes));
        assert!(!carries_mailbox(
            ContentType::Json,
            br#"{"value":[{"id":"x"}]}"#
        ));
    }
}
