//! Faithful labels: what a trace prints is what the parties sent and did. Redirect URIs as
//! sent, notes that name the app the client is, a user-name-only POST told apart from a
//! password POST, token names that keep AT2/RT2 for the articles' on-behalf-of pair, and
//! the party flows.md names for each step.

use hmasim::protocol::Kind;
use hmasim::scenario::{self, Scenario};
use hmasim::sim::{self, Trace};

fn load(name: &str, sets: &[&str]) -> Scenario {
    let mut sc = scenario::load(name).unwrap_or_else(|e| panic!("{e}"));
    for s in sets {
        scenario::apply_set(&mut sc, s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    sc
}

fn run(name: &str, sets: &[&str]) -> Trace {
    sim::run(&load(name, sets), true)
}

fn name_of(t: &Trace, a: hmasim::kernel::ActorId) -> &str {
    &t.names[a.0 as usize]
}

#[test]
fn native_redirect_uris_are_printed_as_sent() {
    for (scenario, sent) in [
        ("desktop-exo-ca", "urn:ietf:wg:oauth:2.0:oob"),
        ("mobile-exo", "msauth.com.microsoft.Outlook://auth"),
    ] {
        let t = run(scenario, &[]);
        // The client asked for this redirect URI...
        let asked = t
            .events
            .iter()
            .filter_map(|e| e.msg.url.as_ref())
            .filter_map(|u| u.param("redirect_uri"))
            .next()
            .unwrap_or_else(|| panic!("{scenario}: no redirect_uri"));
        assert_eq!(asked, sent);
        // ...and the code comes back to exactly it, in every rendering.
        let code = t
            .events
            .iter()
            .filter(|e| e.msg.kind == Kind::Redirect)
            .filter_map(|e| e.msg.url.as_ref())
            .map(|u| u.to_string())
            .find(|u| u.contains("code="))
            .unwrap_or_else(|| panic!("{scenario}: no code redirect"));
        assert!(code.starts_with(&format!("{sent}?code=")), "{code}");
        assert!(
            t.to_text().contains(&format!("302 -> {sent}?code=")),
            "{scenario}"
        );
        assert!(
            t.to_json().contains(&format!("\"{sent}?code=")),
            "{scenario}"
        );
    }
}

#[test]
fn notes_name_the_app_of_each_client_kind() {
    let t = run("secure-hybrid", &[]);
    for e in t.events.iter().filter(|e| e.msg.kind == Kind::Note) {
        let who = name_of(&t, e.from);
        let s = e.msg.meta.summary.as_ref();
        if s.starts_with("the user adds the account") || s.starts_with("the user opens") {
            let app = match who {
                "outlook-mobile" => "Outlook mobile",
                "outlook-desktop" => "Outlook desktop",
                "browser" => "Outlook on the web",
                "native-mail" => "the mail app",
                _ => continue,
            };
            assert!(s.contains(app), "{who}: {s}");
        }
    }
    // A native mail app adding the account is not Outlook mobile.
    let mut sc = load("mobile-onprem-hma", &[]);
    sc.clients[0].kind = scenario::ClientKind::NativeMail;
    for a in &mut sc.timeline {
        if a.client.as_deref() == Some("outlook-mobile") {
            a.client = Some("native-mail".into());
        }
    }
    let t = sim::run(&sc, true);
    let note = t
        .events
        .iter()
        .find(|e| e.msg.meta.summary.starts_with("the user adds the account"))
        .expect("the add-account note");
    assert_eq!(
        note.msg.meta.summary,
        "the user adds the account in the mail app"
    );
}

#[test]
fn a_user_name_only_post_does_not_claim_credentials() {
    // PHS: Entra ID's sign-in page asks for the user name first (home realm discovery),
    // then for the password.
    let t = run("desktop-exo-ca", &["identity.model=phs"]);
    let posts: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.msg.kind == Kind::Request && name_of(&t, e.from) == "outlook-desktop")
        .filter_map(|e| match e.msg.form() {
            Some(f) if f.get("UserName").is_some() => {
                Some((f.get("Password").is_some(), e.msg.meta.summary.to_string()))
            }
            _ => None,
        })
        .collect();
    assert!(!posts.is_empty());
    for (with_password, summary) in posts {
        assert_eq!(with_password, summary.contains("password"), "{summary}");
        assert!(
            !summary.contains("credentials") || with_password,
            "{summary}"
        );
    }
}

#[test]
fn only_on_behalf_of_tokens_are_named_at2() {
    // Three clients sign in, and MRS gets AT2 on behalf of Outlook mobile's token.
    for name in ["secure-hybrid", "password-change-phs", "token-lifetime"] {
        let t = run(name, &[]);
        let mut obo = 0;
        for tok in &t.tokens {
            let role = tok.id.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let on_behalf = role.starts_with('2');
            if tok.id.starts_with("AT") || tok.id.starts_with("RT") {
                assert_eq!(
                    on_behalf,
                    tok.obo_of.is_some(),
                    "{name}: {} (on behalf of {:?})",
                    tok.id,
                    tok.obo_of
                );
                obo += usize::from(on_behalf);
            }
        }
        if name == "secure-hybrid" {
            assert!(obo >= 2, "AT2 and RT2 exist");
            let ids: Vec<&str> = t.tokens.iter().map(|t| t.id.as_str()).collect();
            assert!(ids.contains(&"AT1") && ids.contains(&"AT1b"), "{ids:?}");
        }
    }
}

#[test]
fn wap_realizes_step_2_of_the_external_web_flow() {
    let t = run("web-onprem-external", &[]);
    let step2: Vec<_> = t
        .events
        .iter()
        .filter(|e| t.step(&e.msg).map(|(_, n)| n) == Some(2))
        .collect();
    let first = step2.first().expect("step 2 is realized");
    assert_eq!(first.msg.kind, Kind::Redirect);
    assert_eq!(name_of(&t, first.from), "wap");
    assert!(first
        .msg
        .url
        .as_ref()
        .is_some_and(|u| u.host == "sts.contoso.com"));
    // Exchange itself does not redirect: WAP pre-authenticates before it.
    assert!(!t
        .events
        .iter()
        .any(|e| e.msg.kind == Kind::Redirect && name_of(&t, e.from) == "exchange-onprem"));
    assert!(t.outcome.mailbox_access && t.outcome.mfa_satisfied);

    // Published pass-through, Exchange redirects (the internal flow's shape).
    let t = run("web-onprem-external", &["wap.owa_publishing=pass-through"]);
    let first = t
        .events
        .iter()
        .find(|e| t.step(&e.msg).map(|(_, n)| n) == Some(2))
        .unwrap();
    assert_eq!(name_of(&t, first.from), "exchange-onprem");
    assert!(t.outcome.mailbox_access && t.outcome.mfa_satisfied);

    // Inside, Exchange redirects: WAP is not on the path.
    let t = run("web-onprem-internal", &[]);
    assert!(!t
        .events
        .iter()
        .any(|e| name_of(&t, e.from) == "wap" || name_of(&t, e.to) == "wap"));
}
