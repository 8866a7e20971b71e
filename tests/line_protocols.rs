//! IMAP and POP as their own line protocols (issue 12 item 4): a Basic mail client's
//! session travels as command lines to the protocol's port, the servers answer with
//! Exchange's replies, and the monitor counts the fetched message as mailbox data
//! reached without MFA, from the replies and the session's credential.

use hmasim::kernel::{ActorId, SimTime};
use hmasim::protocol::line::session::{LineExchange, LineProtocol};
use hmasim::protocol::{Message, Url};
use hmasim::scenario::Scenario;
use hmasim::sim;
use serde_json::Value;

mod common;

/// One native mail app of `upn` (mailbox `mailbox`) speaking `protocol`, with `extra`
/// appended to the scenario.
fn scenario(protocol: &str, mailbox: &str, extra: &str) -> Scenario {
    let head = common::native_mail(
        &format!("line-{protocol}-{mailbox}"),
        &format!("a mail app over {protocol}"),
        mailbox,
        "Line-Secret-42!",
        protocol,
    );
    let toml = format!(
        r#"{head}
{extra}
"#
    );
    let dir = std::env::temp_dir().join(format!("hmasim-line-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{protocol}-{mailbox}.toml"));
    std::fs::write(&path, toml).unwrap();
    hmasim::scenario::load(path.to_str().unwrap()).unwrap()
}

fn json(sc: &Scenario) -> Value {
    serde_json::from_str(&sim::run(sc, true).to_json()).unwrap()
}

fn events(v: &Value) -> &Vec<Value> {
    v["events"].as_array().unwrap()
}

fn lines(e: &Value) -> Vec<&str> {
    e["body"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn an_imap_client_reaches_the_cloud_mailbox_over_the_line_protocol_without_mfa() {
    let sc = scenario(
        "imap",
        "online",
        "[[exchange_online.authentication_policies]]\nname = \"Allow IMAP\"\nallow_basic_auth_imap = true\n\n[exchange_online]\ndefault_authentication_policy = \"Allow IMAP\"\n",
    );
    let v = json(&sc);
    let session = events(&v)
        .iter()
        .find(|e| e["from"] == "native-mail" && e["kind"] == "request")
        .expect("the client's session");
    assert_eq!(session["url"], "imaps://outlook.office365.com");
    assert_eq!(session["method"], Value::Null);
    assert_eq!(session["content_type"], "text/x-imap");
    assert_eq!(
        lines(session),
        [
            "a1 LOGIN u@contoso.com ********",
            "a2 SELECT INBOX",
            "a3 FETCH 1 (BODY[])",
            "a4 LOGOUT"
        ]
    );
    let answer = events(&v)
        .iter()
        .find(|e| e["to"] == "native-mail" && e["kind"] == "response")
        .expect("the server's answer");
    assert_eq!(answer["status"], Value::Null);
    let shown = lines(answer);
    assert_eq!(
        shown[0],
        "* OK The Microsoft Exchange IMAP4 service is ready."
    );
    assert!(shown.contains(&"a1 OK LOGIN completed."), "{shown:?}");
    assert!(shown.iter().any(|l| l.starts_with("* 1 FETCH (BODY[] {")));
    let o = &v["outcome"];
    assert_eq!(o["mailbox_access"], true);
    assert_eq!(o["mfa_satisfied"], false);
    assert_eq!(o["served_by"], "exchange-online");
    assert_eq!(o["clients"][0]["reached_without_mfa"], true);
    // The legacy sign-in Exchange Online makes at Entra ID is still there.
    assert!(events(&v)
        .iter()
        .any(|e| e["from"] == "exchange-online" && e["to"] == "entra-id"));
}

#[test]
fn a_pop_client_reaches_the_on_premises_mailbox_and_a_blocked_one_sees_err() {
    let open = scenario("pop", "onprem", "[onprem]\npop_enabled = true\n");
    let v = json(&open);
    let o = &v["outcome"];
    assert_eq!(
        (o["mailbox_access"].clone(), o["served_by"].clone()),
        (Value::Bool(true), Value::from("exchange-onprem"))
    );
    let session = events(&v)
        .iter()
        .find(|e| e["from"] == "native-mail" && e["kind"] == "request")
        .unwrap();
    assert_eq!(session["url"], "pop3s://mail.contoso.com");
    assert_eq!(lines(session)[1], "PASS ********");

    let blocked = scenario(
        "pop",
        "onprem",
        "[onprem]\npop_enabled = true\ndefault_authentication_policy = \"Block\"\n\n[[onprem.authentication_policies]]\nname = \"Block\"\nblock_legacy_auth_pop = true\n",
    );
    let v = json(&blocked);
    let o = &v["outcome"];
    assert_eq!(o["mailbox_access"], false);
    assert_eq!(o["failure"]["code"], "legacy_auth_blocked");
    let answer = events(&v)
        .iter()
        .find(|e| e["to"] == "native-mail" && e["kind"] == "response")
        .unwrap();
    assert!(
        lines(answer).contains(&"-ERR Authentication failure: unknown user name or bad password.")
    );
    assert!(o["symptom"]
        .as_str()
        .unwrap()
        .contains("-ERR Authentication failure"));
    // The text and Mermaid views read the session naturally.
    let trace = sim::run(&blocked, true);
    assert!(trace
        .to_mermaid()
        .contains("POP USER/PASS as u@contoso.com"));
    assert!(trace.to_text().contains("C: PASS ********"));
}

#[test]
fn a_malformed_command_gets_the_documented_bad_answer() {
    let sc = scenario(
        "imap",
        "online",
        "[[exchange_online.authentication_policies]]\nname = \"Allow IMAP\"\nallow_basic_auth_imap = true\n",
    );
    let mut built = sim::build(&sc);
    let exo = built
        .names
        .iter()
        .position(|n| n == "exchange-online")
        .map(|i| ActorId(i as u32))
        .unwrap();
    let client = built.clients[0];
    let session = LineExchange::commands(
        LineProtocol::Imap,
        vec![
            "a1 FROB".into(),
            "a2 LOGIN onlyuser".into(),
            "a3 LOGOUT".into(),
        ],
    );
    let msg = Message::line_session(
        Url::line(LineProtocol::Imap, "outlook.office365.com"),
        999,
        session,
        "a hand-written session",
    );
    built
        .world
        .schedule(SimTime::from_micros(1), client, exo, msg);
    let v: Value = serde_json::from_str(&sim::run_built(&sc, built, true).to_json()).unwrap();
    let answer = events(&v)
        .iter()
        .find(|e| e["from"] == "exchange-online" && e["kind"] == "response")
        .expect("an answer to the session");
    assert_eq!(
        lines(answer),
        [
            "* OK The Microsoft Exchange IMAP4 service is ready.",
            "a1 BAD Command Error. 12",
            "a2 BAD Command Error. 12",
            "* BYE Microsoft Exchange Server IMAP4 server signing off.",
            "a3 OK LOGOUT completed."
        ]
    );
}
