//! On-premises Active Directory: checks passwords (LDAP bind from AD FS, or the
//! pass-through authentication agent for Entra ID) and issues Kerberos service tickets for
//! Integrated Windows Authentication.
#![deny(missing_docs)]

use std::collections::BTreeMap;

use hmasim_kernel::{Actor, ActorId, Ctx};
use hmasim_protocol::jwt::{self, Claims, SigningKey};
use hmasim_protocol::{Body, Kind, Message, EPOCH_UNIX};

/// One directory account.
#[derive(Clone, Debug)]
pub struct Account {
    /// The current password.
    pub password: String,
    /// Group memberships.
    pub groups: Vec<String>,
}

/// The directory's configuration.
#[derive(Clone, Debug)]
pub struct AdConfig {
    /// Accounts by lower-case UPN.
    pub accounts: BTreeMap<String, Account>,
    /// The key Kerberos service tickets are sealed with (shared with the AD FS service
    /// account, so AD FS can read them).
    pub kerberos_key: SigningKey,
    /// The Kerberos realm, e.g. `CONTOSO.COM`.
    pub realm: String,
}

/// The `active-directory` party.
#[derive(Clone, Debug)]
pub struct ActiveDirectory {
    cfg: AdConfig,
}

impl ActiveDirectory {
    /// A directory with `cfg`.
    pub fn new(cfg: AdConfig) -> Self {
        ActiveDirectory { cfg }
    }
    /// Changes a password (a later timeline action).
    pub fn set_password(&mut self, upn: &str, password: &str) {
        if let Some(a) = self.cfg.accounts.get_mut(&upn.to_ascii_lowercase()) {
            a.password = password.to_string();
        }
    }
}

impl Actor<Message> for ActiveDirectory {
    fn handle(&mut self, msg: Message, from: ActorId, ctx: &mut Ctx<'_, Message>) {
        if msg.kind != Kind::Request {
            return;
        }
        let reply = match &msg.body {
            Body::Bind { upn, password } => {
                let acct = self.cfg.accounts.get(&upn.to_ascii_lowercase());
                let ok = acct.is_some_and(|a| &a.password == password);
                tracing::debug!(
                    t_ms = ctx.now().as_millis(),
                    party = "active-directory",
                    upn,
                    ok,
                    "bind"
                );
                let groups = if ok {
                    acct.map(|a| a.groups.clone()).unwrap_or_default()
                } else {
                    Vec::new()
                };
                Message::response(
                    &msg,
                    if ok { 200 } else { 401 },
                    if ok {
                        "the password is valid"
                    } else {
                        "invalid credentials"
                    },
                )
                .with_body(Body::Directory {
                    ok,
                    groups,
                    ticket: None,
                })
            }
            Body::KerberosRequest { upn, spn } => {
                match self.cfg.accounts.get(&upn.to_ascii_lowercase()) {
                    Some(a) => {
                        let now = EPOCH_UNIX + ctx.now().as_millis() / 1000;
                        let claims = Claims {
                            aud: spn.clone(),
                            iss: format!("krbtgt/{}", self.cfg.realm),
                            iat: now,
                            nbf: now,
                            exp: now + 10 * 3600,
                            amr: vec!["wia".into()],
                            appid: String::new(),
                            // The ticket's authorization data (PAC): the user's groups.
                            scp: a.groups.join(" "),
                            tid: String::new(),
                            upn: upn.clone(),
                            uti: String::new(),
                        };
                        let ticket = jwt::sign(&claims, &self.cfg.kerberos_key);
                        Message::response(&msg, 200, "Kerberos service ticket issued").with_body(
                            Body::Directory {
                                ok: true,
                                groups: a.groups.clone(),
                                ticket: Some(ticket),
                            },
                        )
                    }
                    None => Message::response(&msg, 401, "no such principal").with_body(
                        Body::Directory {
                            ok: false,
                            groups: Vec::new(),
                            ticket: None,
                        },
                    ),
                }
            }
            _ => Message::response(&msg, 400, "not a directory request"),
        };
        ctx.send(from, reply.at_opt(msg.stage));
    }
}
