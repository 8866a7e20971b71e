//! Refusals are learned from the wire ("Left in issue 12", item 2): a receiver reads the
//! error the refusing service writes (Entra ID's OAuth error JSON, Exchange's
//! `X-MS-Diagnostics`, an IMAP reply line) with `hmasim_protocol::refusal`, and a relay's
//! record of a refusal is what it read, not a copy of the refusing party's record.

use hmasim::protocol::codec::oauth::OAuthError;
use hmasim::protocol::{headers, refusal, FaultCode, Kind};
use hmasim::scenario::Scenario;
use hmasim::sim::{self, Event, Trace};

mod common;

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = hmasim::scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        hmasim::scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{e}"));
    }
    sc
}

fn find(t: &Trace, pred: impl Fn(&Event, &str, &str) -> bool) -> &Event {
    t.events
        .iter()
        .find(|e| pred(e, &t.names[e.from.0 as usize], &t.names[e.to.0 as usize]))
        .expect("event not found")
}

/// An IMAP mail app of a cloud mailbox whose Basic sign-in Conditional Access refuses
/// (`extra` is the policy).
fn imap_scenario(extra: &str) -> Scenario {
    let head = common::native_mail(
        "refusal-imap",
        "a mail app over IMAP, refused by Entra ID",
        "online",
        "Refusal-Secret-42!",
        "imap",
    );
    let toml = format!(
        r#"{head}
[[exchange_online.authentication_policies]]
name = "Allow IMAP"
allow_basic_auth_imap = true

[exchange_online]
default_authentication_policy = "Allow IMAP"

{extra}
"#
    );
    let dir = std::env::temp_dir().join(format!("hmasim-refusals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("imap-{}.toml", extra.len()));
    std::fs::write(&path, toml).unwrap();
    hmasim::scenario::load(path.to_str().unwrap()).unwrap()
}

#[test]
fn exchange_online_learns_entra_ids_refusal_of_a_basic_sign_in_from_its_error_json() {
    // A legacy sign-in meets an applying policy: blocked (AADSTS53003).
    let policy = "[[conditional_access]]\nname = \"Block legacy\"\ninclude_applications = [\"All\"]\nclient_app_types = [\"other\"]\ngrant = [\"block\"]\n";
    let aadsts = 53003;
    let t = sim::run(&imap_scenario(policy), true);
    // Entra ID's answer to Exchange Online: the OAuth error JSON, nothing typed.
    let entra = find(&t, |e, from, to| {
        from == "entra-id" && to == "exchange-online" && e.msg.kind == Kind::Response
    });
    let written = OAuthError::decode(entra.msg.bytes()).expect("Entra ID's error JSON");
    assert_eq!(written.code, aadsts);
    // Exchange Online answers in its own protocol, and records what it read.
    let exo = find(&t, |e, from, to| {
        from == "exchange-online" && to == "native-mail" && e.msg.kind == Kind::Response
    });
    let read = refusal::read(&exo.msg.wire).expect("a refusing reply");
    assert_eq!(read.description, "a1 NO LOGIN failed.");
    let learned = exo
        .msg
        .meta
        .fault
        .as_deref()
        .expect("Exchange Online's record");
    assert_eq!(
        learned.code,
        FaultCode::BlockedByConditionalAccess,
        "AADSTS{aadsts}"
    );
    assert_eq!(
        (learned.party, learned.diagnostics.as_str()),
        ("entra-id", format!("AADSTS{aadsts}").as_str())
    );
    assert_eq!(learned.message, written.message);
    // The mail app learns only the reply line.
    let gave_up = find(&t, |e, from, _| {
        from == "native-mail" && e.msg.kind == Kind::Note && e.msg.meta.fault.is_some()
    });
    let f = gave_up
        .msg
        .meta
        .fault
        .as_deref()
        .expect("the client's failure");
    assert_eq!(f.code, FaultCode::AccessDenied);
    assert_eq!(f.message, "the server answers a1 NO LOGIN failed.");
    // The outcome is the refusing party's record, as before.
    let o = &t.outcome;
    assert!(!o.mailbox_access);
    assert_eq!(
        o.failure.as_ref().map(|f| f.code.as_str()),
        Some("blocked_by_conditional_access")
    );
}

#[test]
fn mrs_learns_exchanges_refusal_from_x_ms_diagnostics() {
    let t = sim::run(&load("fault-tls-offloading", &[]), true);
    // Exchange's 401, as it reaches MRS (through the load balancer).
    let onprem = find(&t, |e, _, to| {
        to == "mrs" && e.msg.header_value(&headers::X_MS_DIAGNOSTICS).is_some()
    });
    let header = onprem
        .msg
        .header_value(&headers::X_MS_DIAGNOSTICS)
        .expect("Exchange's diagnostics")
        .to_string();
    assert!(header.starts_with("2000003;"), "{header}");
    let note = find(&t, |e, from, _| {
        from == "mrs" && e.msg.kind == Kind::Note && e.msg.meta.fault.is_some()
    });
    let learned = note.msg.meta.fault.as_deref().expect("MRS's record");
    assert_eq!(learned.code, FaultCode::AudienceMismatch);
    assert_eq!(learned.diagnostics, header);
    assert!(
        learned
            .message
            .starts_with("The hostname component of the audience claim value is invalid."),
        "{}",
        learned.message
    );
    assert_eq!(
        t.outcome.failure.as_ref().map(|f| f.code.as_str()),
        Some("audience_mismatch")
    );
}

#[test]
fn a_refresh_refusal_is_read_from_the_token_endpoints_json() {
    let t = sim::run(&load("password-change-phs", &[]), true);
    let refusal = find(&t, |e, from, _| {
        from == "entra-id"
            && e.msg.kind == Kind::Response
            && OAuthError::decode(e.msg.bytes()).is_ok_and(|o| o.code == 50173)
    });
    let client = t.names[refusal.to.0 as usize].clone();
    let read = refusal::fault_of(&refusal.msg.wire, "entra-id", FaultCode::RefreshFailed);
    assert_eq!(read.code, FaultCode::InvalidGrant);
    // The client that received it records the same code and words.
    let gave_up = t
        .events
        .iter()
        .filter(|e| t.names[e.from.0 as usize] == client && e.msg.kind == Kind::Note)
        .find_map(|e| e.msg.meta.fault.as_deref())
        .expect("the client's failure");
    assert_eq!(
        (
            gave_up.code,
            gave_up.diagnostics.as_str(),
            gave_up.message.as_str()
        ),
        (read.code, "AADSTS50173", read.message.as_str())
    );
}

#[test]
fn entra_id_learns_ad_fs_refusal_from_its_error_page_and_writes_its_own_oauth_error() {
    let t = sim::run(
        &imap_scenario(
            "[identity]\nmodel = \"federated\"\n\n[adfs]\noffice365_policy = \"require-mfa\"\n",
        ),
        true,
    );
    // AD FS's active endpoint refuses with its error page and event code (through WAP).
    let adfs = find(&t, |e, _, to| {
        to == "entra-id" && e.msg.kind == Kind::Response && e.msg.page().is_some()
    });
    let page = refusal::read(&adfs.msg.wire).expect("AD FS's error page");
    assert!(
        page.diagnostics.starts_with("MSIS7089"),
        "{}",
        page.diagnostics
    );
    // Entra ID writes its own error and records what it read of AD FS's.
    let entra = find(&t, |e, from, to| {
        from == "entra-id" && to == "exchange-online" && e.msg.kind == Kind::Response
    });
    let written = OAuthError::decode(entra.msg.bytes()).expect("Entra ID's error JSON");
    assert_eq!(
        (written.error.as_str(), written.code),
        ("invalid_grant", 50126)
    );
    assert_eq!(written.message, page.description);
    let learned = entra.msg.meta.fault.as_deref().expect("Entra ID's record");
    assert_eq!(
        (learned.code, learned.party, learned.diagnostics.as_str()),
        (FaultCode::MfaRequired, "adfs", page.diagnostics.as_str())
    );
    // Exchange Online, one hop further, learns only what Entra ID wrote.
    let exo = find(&t, |e, from, to| {
        from == "exchange-online" && to == "native-mail" && e.msg.kind == Kind::Response
    });
    let relayed = exo
        .msg
        .meta
        .fault
        .as_deref()
        .expect("Exchange Online's record");
    assert_eq!(
        (relayed.code, relayed.party, relayed.diagnostics.as_str()),
        (FaultCode::InvalidCredentials, "entra-id", "AADSTS50126")
    );
    // The outcome names the refusal where it started.
    assert_eq!(
        t.outcome.failure.as_ref().map(|f| f.code.as_str()),
        Some("mfa_required")
    );
}
