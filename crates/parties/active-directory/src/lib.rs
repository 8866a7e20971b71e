//! On-premises Active Directory: checks passwords (LDAP bind from AD FS, or the
//! pass-through authentication agent for Entra ID) and issues Kerberos service tickets for
//! Integrated Windows Authentication.
#![deny(missing_docs)]

pub mod setup;
use std::collections::BTreeMap;

use hmasim_base::SimDuration;
use hmasim_protocol::jwt::{Claims, SigningKey};
use hmasim_protocol::Env;
use hmasim_protocol::Wire;
use hmasim_protocol::{Body, Kind, Message, Method, Net, PasswordChange, Url, UserAction};

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
    /// How often Entra Connect synchronizes changes to Entra ID.
    pub sync_interval: SimDuration,
}

const SYNC_TIMER: &str = "entra-connect-sync-cycle";
/// Where Entra Connect exports changes.
pub const SYNC_HOST: &str = "adminwebservice.microsoftonline.com";

/// The `active-directory` party, with Entra Connect synchronizing it to Entra ID.
#[derive(Clone, Debug)]
pub struct ActiveDirectory {
    cfg: AdConfig,
    net: Net,
    /// Changes not yet exported.
    pending: Vec<PasswordChange>,
}

impl ActiveDirectory {
    /// A directory with `cfg`, reaching Entra ID through `net`.
    pub fn new(cfg: AdConfig, net: Net) -> Self {
        ActiveDirectory {
            cfg,
            net,
            pending: Vec::new(),
        }
    }

    /// Changes a password; the change reaches Entra ID at the next synchronization cycle.
    pub fn set_password(&mut self, upn: &str, password: &str, now_ms: u64) {
        if let Some(a) = self.cfg.accounts.get_mut(&upn.to_ascii_lowercase()) {
            a.password = password.to_string();
            self.pending.push(PasswordChange {
                upn: upn.to_ascii_lowercase(),
                password: password.to_string(),
                changed_ms: now_ms,
            });
        }
    }

    /// Takes the configuration of `fresh`, keeping the passwords as they are now and the
    /// changes not yet synchronized.
    pub fn reconfigure(&mut self, fresh: ActiveDirectory) {
        let mut cfg = fresh.cfg;
        for (upn, acct) in cfg.accounts.iter_mut() {
            if let Some(now) = self.cfg.accounts.get(upn) {
                acct.password = now.password.clone();
            }
        }
        self.cfg = cfg;
        self.net.adopt(fresh.net);
    }

    /// The synchronization cycle's timer.
    pub fn initial_timers(&self) -> Vec<(SimDuration, Message)> {
        vec![(self.cfg.sync_interval, Message::timer(SYNC_TIMER))]
    }

    fn sync(&mut self, ctx: &mut impl Env) {
        if self.pending.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.pending);
        let msg = Message::request(
            Method::POST,
            Url::https(SYNC_HOST, "/provisioningservice.svc"),
            0,
            "Entra Connect synchronizes the directory changes to Entra ID",
        )
        .with_body(Body::DirectorySync(changes));
        let _ = self.net.request(ctx, msg);
    }
}

/// The party runs on anything that implements [`Env`] (the simulator's `SimEnv` does):
/// `hmasim-sim`'s `Party` calls these two as its `Actor` implementation.
impl ActiveDirectory {
    /// Comes back after a crash: the default keeps everything (no volatile state).
    pub fn restart(&mut self) {}

    /// Handles one message (or timer) from `from`.
    pub fn handle(&mut self, msg: Wire, ctx: &mut impl Env) {
        let from = ctx.caller();
        match (&msg.kind, &msg.body) {
            (_, Body::Action(UserAction::ChangePassword { upn, password })) => {
                self.set_password(upn, password, ctx.now().as_millis());
                return;
            }
            (_, Body::Action(UserAction::DirectorySync)) => return self.sync(ctx),
            (Kind::Timer, _) => {
                self.sync(ctx);
                ctx.timer(self.cfg.sync_interval, Message::timer(SYNC_TIMER));
                return;
            }
            (Kind::Request, _) => {}
            _ => return,
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
                        let now = hmasim_protocol::unix_now(ctx);
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
                        let ticket = ctx.sign(&claims, &self.cfg.kerberos_key);
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
        ctx.send(from, reply.same_stage());
    }
}
