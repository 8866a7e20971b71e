//! Entra ID's answer to a directory synchronization cycle (Entra Connect's export to
//! `provisioningservice.svc`), as `application/json`.
//!
//! **Modelled**: the synchronization service's own protocol is not public. The answer
//! lists, per user whose password change was exported, what Entra ID applied:
//! `{"results": [{"userPrincipalName": "...", "passwordChanged": true,
//! "refreshTokensRevoked": true|false}]}` (refresh tokens issued before the change are
//! revoked, or the change cannot act on them and they live on).

use serde_json::{json, Value};

use super::{ContentType, DecodeError, Encoded};

/// What Entra ID applied of one exported change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// `userPrincipalName`.
    pub upn: String,
    /// `refreshTokensRevoked`: refresh tokens issued before the change are revoked.
    pub revoked: bool,
}

/// The answer to one synchronization cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResults {
    /// One result per change, in the order exported.
    pub results: Vec<Applied>,
}

impl SyncResults {
    /// The JSON body.
    pub fn encode(&self) -> Encoded {
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|a| {
                json!({
                    "userPrincipalName": a.upn,
                    "passwordChanged": true,
                    "refreshTokensRevoked": a.revoked,
                })
            })
            .collect();
        Encoded::new(
            ContentType::Json,
            json!({ "results": results }).to_string().into_bytes(),
        )
    }

    /// The text trace's lines: what each result means for the user's tokens.
    pub fn lines(&self) -> Vec<String> {
        self.results
            .iter()
            .map(|a| {
                if a.revoked {
                    format!(
                        "{}: password changed; refresh tokens issued before it are revoked",
                        a.upn
                    )
                } else {
                    format!(
                        "{}: password changed; Entra ID cannot act on it (tokens live on)",
                        a.upn
                    )
                }
            })
            .collect()
    }

    /// Reads the JSON body: `results`, each with a string `userPrincipalName`,
    /// `passwordChanged` true and a boolean `refreshTokensRevoked`.
    pub fn decode(bytes: &[u8]) -> Result<SyncResults, DecodeError> {
        const F: &str = "directory sync results JSON";
        let v = super::json_value(bytes, F)?;
        let results = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| DecodeError::new(F, "no results array"))?;
        let results = results
            .iter()
            .map(|r| {
                if r.get("passwordChanged").and_then(Value::as_bool) != Some(true) {
                    return Err(DecodeError::new(F, "a result without passwordChanged true"));
                }
                Ok(Applied {
                    upn: super::json_str(r, "userPrincipalName", F)?,
                    revoked: r
                        .get("refreshTokensRevoked")
                        .and_then(Value::as_bool)
                        .ok_or_else(|| DecodeError::new(F, "no boolean refreshTokensRevoked"))?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(SyncResults { results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_and_malformed_ones_are_refused() {
        let r = SyncResults {
            results: vec![
                Applied {
                    upn: "test@contoso.com".into(),
                    revoked: true,
                },
                Applied {
                    upn: "b@contoso.com".into(),
                    revoked: false,
                },
            ],
        };
        let e = r.encode();
        assert_eq!(e.content_type, ContentType::Json);
        assert!(e
            .bytes
            .starts_with(br#"{"results":[{"passwordChanged":true,"#));
        assert_eq!(SyncResults::decode(&e.bytes).unwrap(), r);
        for bad in [
            &b""[..],
            b"[]",
            br#"{"results":{}}"#,
            br#"{"results":[{"userPrincipalName":"a","refreshTokensRevoked":true}]}"#,
            br#"{"results":[{"userPrincipalName":1,"passwordChanged":true,"refreshTokensRevoked":true}]}"#,
            br#"{"results":[{"userPrincipalName":"a","passwordChanged":true}]}"#,
        ] {
            assert!(SyncResults::decode(bad).is_err());
        }
        assert!(!crate::codec::carries_mailbox(e.content_type, &e.bytes));
    }
}
