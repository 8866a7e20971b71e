//! Microsoft Graph `GET /v1.0/me/messages`: an OData collection (`@odata.context`,
//! `value`) of `message` resources (`id`, `subject`, `receivedDateTime`,
//! `from.emailAddress.address`).

use super::{ContentType, DecodeError, Encoded, MailItem, Member};

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
        Messages::encode_of(&self.user, &self.value)
    }
    /// The JSON body of `user`'s messages `value`, from borrowed parts (what
    /// [`Messages::encode`] writes; a service answering from messages it holds does not copy
    /// them into a `Messages` first).
    pub fn encode_of(user: &str, value: &[MailItem]) -> Encoded {
        // Members in alphabetical order, as a `serde_json::Value` writes them.
        #[derive(serde::Serialize)]
        struct Address<'a> {
            address: &'a str,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct From<'a> {
            email_address: Address<'a>,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Message<'a> {
            from: From<'a>,
            id: &'a str,
            received_date_time: &'a str,
            subject: &'a str,
        }
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(rename = "@odata.context")]
            context: String,
            value: Vec<Message<'a>>,
        }
        let out = Out {
            context: Self::context(user),
            value: value
                .iter()
                .map(|m| Message {
                    from: From {
                        email_address: Address { address: &m.from },
                    },
                    id: &m.id,
                    received_date_time: &m.received,
                    subject: &m.subject,
                })
                .collect(),
        };
        let mut bytes = Vec::with_capacity(128 + 160 * value.len());
        serde_json::to_writer(&mut bytes, &out).expect("a struct of strings serializes");
        Encoded::new(ContentType::Json, bytes)
    }
    /// Reads the JSON body: an object whose `@odata.context` names a `messages`
    /// collection and whose `value` is an array of messages.
    pub fn decode(bytes: &[u8]) -> Result<Messages, DecodeError> {
        const F: &str = "Graph messages JSON";
        #[derive(serde::Deserialize, Default)]
        struct Address {
            #[serde(default)]
            address: Member,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct From {
            #[serde(default)]
            email_address: Address,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Message {
            #[serde(default)]
            id: Member,
            #[serde(default)]
            subject: Member,
            #[serde(default)]
            received_date_time: Member,
            #[serde(default)]
            from: From,
        }
        #[derive(serde::Deserialize)]
        struct In {
            #[serde(rename = "@odata.context", default)]
            context: Member,
            #[serde(default)]
            value: Option<Vec<Message>>,
        }
        let v: In = super::from_json(bytes).map_err(|e| DecodeError::new(F, e.to_string()))?;
        let Member::Str(ctx) = &v.context else {
            return Err(DecodeError::new(F, "no @odata.context"));
        };
        let user = ctx
            .strip_prefix("https://graph.microsoft.com/v1.0/$metadata#users('")
            .and_then(|r| r.strip_suffix("')/messages"))
            .ok_or_else(|| DecodeError::new(F, "the context is not a messages collection"))?;
        let value = v
            .value
            .ok_or_else(|| DecodeError::new(F, "no value array"))?;
        let mut out = Vec::with_capacity(value.len());
        for m in value {
            out.push(MailItem {
                id: m
                    .id
                    .into_str()
                    .ok_or_else(|| DecodeError::new(F, "a message without id"))?,
                subject: m.subject.into_str().unwrap_or_default(),
                received: m.received_date_time.into_str().unwrap_or_default(),
                from: m.from.email_address.address.into_str().unwrap_or_default(),
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

    #[test]
    fn messages_are_written_as_sorted_objects() {
        let m = Messages {
            user: "u@contoso.com".into(),
            value: vec![MailItem {
                id: "AAMk1".into(),
                subject: "Hello \"you\"".into(),
                from: "a@contoso.com".into(),
                received: "2026-01-01T00:00:00Z".into(),
            }],
        };
        let bytes = m.encode().bytes;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v.to_string().as_bytes(), &bytes[..]);
    }
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
