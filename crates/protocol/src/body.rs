//! Typed message bodies and their JSON rendering for traces.

use serde_json::{json, Value};

use crate::display::{is_secret_name, MASK};
use crate::Url;

/// Ordered form fields (`application/x-www-form-urlencoded`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// An empty form.
    pub fn new() -> Form {
        Form(Vec::new())
    }
    /// Adds a field (builder style).
    pub fn with(mut self, k: &str, v: impl Into<String>) -> Form {
        self.0.push((k.to_string(), v.into()));
        self
    }
    /// The first value of field `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str())
    }
    /// The form as it travels: `application/x-www-form-urlencoded` bytes.
    pub fn encode(&self) -> crate::codec::Encoded {
        crate::codec::Encoded::new(
            crate::codec::ContentType::Form,
            crate::codec::form::encode(&self.0),
        )
    }
    /// Reads form bytes (fields in wire order).
    pub fn decode(bytes: &[u8]) -> Result<Form, crate::codec::form::FormError> {
        crate::codec::form::decode(bytes).map(Form)
    }
}

/// An interactive page shown to the user in a browser or a sign-in web view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// A credentials form posting `UserName` and `Password` to `action`.
    SignIn {
        /// Where the form posts.
        action: Url,
        /// The user name already known (login hint).
        username: Option<String>,
    },
    /// An MFA prompt; approving posts to `action`.
    Mfa {
        /// Where the approval posts.
        action: Url,
        /// What the page asks for.
        method: MfaPrompt,
    },
    /// A hidden form the page submits by itself (WS-Federation `wresult`, OIDC form_post).
    AutoPost {
        /// Where the form posts.
        action: Url,
        /// The hidden fields.
        fields: Form,
    },
    /// An error page.
    Error {
        /// The error code (e.g. `AADSTS53003`).
        code: String,
        /// What the page says.
        message: String,
    },
}

impl Page {
    /// The page as the text trace's detail line shows it: its kind and form target (an
    /// auto-post page's fields masked), an error page's code and message.
    pub fn digest(&self) -> Value {
        match self {
            Page::SignIn { action, username } => {
                json!({"page": "sign-in", "action": action.to_string(), "username": username})
            }
            Page::Mfa { action, method } => {
                json!({"page": "mfa", "action": action.to_string(), "method": method.as_str()})
            }
            Page::AutoPost { action, fields, .. } => {
                json!({"page": "auto-post", "action": action.to_string(), "fields": form_json(fields)})
            }
            Page::Error { code, message } => {
                json!({"page": "error", "code": code, "message": message})
            }
        }
    }
}

/// What an MFA page asks of the user (the method the page names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaPrompt {
    /// `PhoneAppNotification`: approve a push on the user's phone.
    PhoneAppNotification,
    /// `RegisterSecurityInfo`: register an MFA method now (the registration interrupt).
    RegisterSecurityInfo,
}

impl MfaPrompt {
    /// The name the page carries.
    pub const fn as_str(self) -> &'static str {
        match self {
            MfaPrompt::PhoneAppNotification => "PhoneAppNotification",
            MfaPrompt::RegisterSecurityInfo => "RegisterSecurityInfo",
        }
    }
}

/// What AutoDetect tells Outlook mobile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectAnswer {
    /// `activesync` (or `rest` for Exchange Online mailboxes).
    pub protocol: String,
    /// The ActiveSync URL discovered.
    pub url: Url,
    /// The Entra ID authorization URL from the 401 challenge, if any.
    pub aad: Option<String>,
    /// Whether the mailbox is on-premises (hybrid modern auth through MRS).
    pub onprem: bool,
}

impl DetectAnswer {
    /// The answer as it travels (`codec::autodiscover::DetectJson`).
    pub fn encode(&self) -> crate::codec::Encoded {
        crate::codec::autodiscover::DetectJson {
            protocol: self.protocol.clone(),
            url: self.url.href(),
            aad: self.aad.clone(),
            onprem: self.onprem,
        }
        .encode()
    }
    /// Reads the answer's JSON; `None` when it is not one or its URL is not a URL.
    pub fn decode(bytes: &[u8]) -> Option<DetectAnswer> {
        let d = crate::codec::autodiscover::DetectJson::decode(bytes).ok()?;
        Some(DetectAnswer {
            protocol: d.protocol,
            url: Url::parse(&d.url).ok()?,
            aad: d.aad,
            onprem: d.onprem,
        })
    }
}

/// An input of the scenario's timeline, delivered to the party it concerns: what a user
/// does on a client, or what an admin or a background job does on a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Add an account in Outlook mobile (starts AutoDetect).
    AddAccount,
    /// Start Outlook desktop, or open Outlook mobile again.
    StartOutlook,
    /// Open OWA (or ECP) at this URL in the browser.
    OpenOwa(Url),
    /// Synchronize now.
    SyncNow,
    /// Close Outlook: background activity stops.
    CloseOutlook,
    /// Answer the sign-in prompt: sign in interactively again.
    SignIn,
    /// The user now knows this new password (told to the user's clients).
    NewPassword(String),
    /// Change a password in Active Directory.
    ChangePassword {
        /// The user.
        upn: String,
        /// The new password.
        password: String,
    },
    /// Run a directory synchronization cycle now.
    DirectorySync,
    /// Roll the token-signing key (Entra ID).
    RotateKey,
    /// `Set-AuthServer EvoSts -RefreshAuthMetadata` (Exchange on-premises).
    RefreshAuthMetadata,
}

/// A password change as directory synchronization carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordChange {
    /// The user.
    pub upn: String,
    /// The new password (its hash, for password hash synchronization).
    pub password: String,
    /// When it changed, simulated ms.
    pub changed_ms: u64,
}

/// A typed body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A request for MFA (AD FS adapter to Entra MFA, or Entra MFA to the user's device).
    MfaRequest {
        /// The user.
        upn: String,
        /// The method.
        method: &'static str,
    },
    /// The result of MFA.
    MfaResult {
        /// The user.
        upn: String,
        /// Whether the user approved.
        approved: bool,
    },
    /// A credential check against the directory (LDAP bind or PTA agent).
    Bind {
        /// The user.
        upn: String,
        /// The password presented.
        password: String,
    },
    /// A Kerberos service ticket request (IWA).
    KerberosRequest {
        /// The user.
        upn: String,
        /// The service principal name, e.g. `HTTP/sts.contoso.com`.
        spn: String,
    },
    /// The directory's answer to a bind or ticket request.
    Directory {
        /// Whether the credentials were valid.
        ok: bool,
        /// The user's groups.
        groups: Vec<String>,
        /// A Kerberos ticket, for ticket requests.
        ticket: Option<String>,
    },
    /// A timeline input.
    Action(UserAction),
    /// A directory synchronization cycle's changes.
    DirectorySync(Vec<PasswordChange>),
    /// A timer tag.
    Timer(&'static str),
    /// A note's detail lines.
    Lines(Vec<String>),
    /// An HTTP body as it crosses the wire: the bytes a real receiver parses and their
    /// content type (issue 12 item 3). Receivers read it with the decoders of
    /// [`crate::codec`]; the trace shows it through [`crate::codec::trace_value`].
    Encoded(crate::codec::Encoded),
}

impl Body {
    /// The media type an encoded body travels as, or `None` for a body that does not
    /// cross HTTP (directory bind, Kerberos, MFA push, timers, timeline inputs, notes).
    pub fn content_type(&self) -> Option<crate::codec::ContentType> {
        match self {
            Body::Encoded(e) => Some(e.content_type),
            _ => None,
        }
    }

    /// The body as the trace's JSON (`null` when empty). Passwords are masked.
    pub fn to_json(&self) -> Value {
        match self {
            Body::Empty => Value::Null,
            Body::MfaRequest { upn, method } => json!({"upn": upn, "method": method}),
            Body::MfaResult { upn, approved } => json!({"upn": upn, "approved": approved}),
            Body::Bind { upn, .. } => json!({"upn": upn, "password": MASK}),
            Body::KerberosRequest { upn, spn } => json!({"upn": upn, "spn": spn}),
            Body::Directory { ok, groups, ticket } => {
                json!({"ok": ok, "groups": groups, "ticket": ticket})
            }
            Body::Action(a) => match a {
                UserAction::AddAccount => json!({"action": "add-account"}),
                UserAction::StartOutlook => json!({"action": "start-outlook"}),
                UserAction::OpenOwa(u) => json!({"action": "open-owa", "url": u.to_string()}),
                UserAction::SyncNow => json!({"action": "sync-now"}),
                UserAction::CloseOutlook => json!({"action": "close-outlook"}),
                UserAction::SignIn => json!({"action": "sign-in"}),
                UserAction::NewPassword(_) => json!({"action": "new-password", "password": MASK}),
                UserAction::ChangePassword { upn, .. } => {
                    json!({"action": "change-password", "upn": upn, "password": MASK})
                }
                UserAction::DirectorySync => json!({"action": "directory-sync"}),
                UserAction::RotateKey => json!({"action": "rotate-evosts-key"}),
                UserAction::RefreshAuthMetadata => {
                    json!({"action": "Set-AuthServer EvoSts -RefreshAuthMetadata"})
                }
            },
            Body::DirectorySync(c) => {
                json!({"changes": c.iter().map(|c| json!({"upn": c.upn, "password_changed_ms": c.changed_ms, "password_hash": MASK})).collect::<Vec<_>>()})
            }
            Body::Timer(t) => json!({"timer": t}),
            Body::Lines(l) => json!(l),
            Body::Encoded(e) => crate::codec::trace_value(e),
        }
    }

    /// The body as the text trace's detail line shows it, `None` for none: what
    /// [`Body::to_json`] shows, except that forms, token answers and timeline inputs are
    /// left out (the summary says what they do), and an encoded body is shown as what it
    /// decodes to (a page by its kind and form target, not its HTML).
    pub fn digest(&self) -> Option<Value> {
        match self {
            Body::Empty | Body::Action(_) => None,
            Body::Encoded(e) => crate::codec::digest(e),
            b => Some(b.to_json()),
        }
    }

    /// The bytes of an encoded body (empty for any other).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Encoded(e) => &e.bytes,
            _ => &[],
        }
    }
}

fn form_json(f: &Form) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &f.0 {
        let v = if is_secret_name(k) { MASK } else { v.as_str() };
        m.insert(k.clone(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiscover_answer_is_the_documented_json() {
        let b = Body::Encoded(
            crate::codec::autodiscover::V2Answer {
                protocol: "activesync".into(),
                url: "https://mail.contoso.com/Microsoft-Server-ActiveSync".into(),
            }
            .encode(),
        );
        assert_eq!(
            b.to_json().to_string(),
            r#"{"Protocol":"activesync","Url":"https://mail.contoso.com/Microsoft-Server-ActiveSync"}"#
        );
    }

    #[test]
    fn passwords_never_reach_the_trace() {
        let f = Body::Encoded(
            Form::new()
                .with("UserName", "u")
                .with("Password", "secret")
                .encode(),
        );
        assert!(!f.to_json().to_string().contains("secret"));
        let b = Body::Bind {
            upn: "u".into(),
            password: "secret".into(),
        };
        assert!(!b.to_json().to_string().contains("secret"));
    }

    #[test]
    fn every_secret_form_field_is_masked() {
        let f = Form::new()
            .with("grant_type", "password")
            .with("client_secret", "s3cr3t-value")
            .with("new_password", "N3w-value")
            .with("PWD", "p-value");
        let shown = Body::Encoded(f.encode()).to_json().to_string();
        for v in ["s3cr3t-value", "N3w-value", "p-value"] {
            assert!(!shown.contains(v), "{shown}");
        }
        // A field named otherwise keeps its value, even when the value is the word.
        assert!(shown.contains("grant_type=password"), "{shown}");
        let page = Page::AutoPost {
            action: Url::https("login.microsoftonline.com", "/login.srf"),
            fields: f,
        };
        assert!(!page.digest().to_string().contains("s3cr3t-value"));
        let html = Body::Encoded(crate::codec::html::encode(&page));
        assert!(!html.to_json().to_string().contains("s3cr3t-value"));
    }
}
