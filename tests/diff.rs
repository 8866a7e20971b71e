//! `hmasim diff`: the change review before a rollout.

use std::process::Command;

fn hmasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hmasim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_change_that_loses_mfa_or_access_exits_1_and_names_the_paths() {
    let o = hmasim(&[
        "diff",
        "secure-web",
        "--set-after",
        "adfs.owa_policy=permit-everyone",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Inside and outside (outside from each address class the tenant distinguishes).
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(v["regressions"].as_u64(), Some(changes.len() as u64));
    let locations: std::collections::BTreeSet<_> =
        changes.iter().map(|c| c["location"].as_str()).collect();
    assert_eq!(locations.len(), 2);
    for c in changes {
        assert_eq!(c["at_ms"], 0);
        assert!(c["signals"].is_string());
        assert_eq!(
            (c["user"].as_str(), c["client"].as_str()),
            (Some("onprem@contoso.com"), Some("browser"))
        );
        assert_eq!(
            (
                c["before"].as_str(),
                c["after"].as_str(),
                c["regression"].as_str()
            ),
            (
                Some("mailbox with MFA"),
                Some("mailbox WITHOUT MFA"),
                Some("loses MFA")
            )
        );
    }
    // Losing access (MRS can no longer sync once the OutlookService allow rule is gone).
    let o = hmasim(&[
        "diff",
        "secure-mobile",
        "--set-after",
        "onprem.activesync.device_rules=[]",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("loses access"));
}

#[test]
fn a_harmless_change_exits_0() {
    let o = hmasim(&[
        "diff",
        "secure-hybrid",
        "--set-after",
        "network.latency_ms=80",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("no path changes its outcome"));
    // Closing a path is not a regression.
    let o = hmasim(&["diff", "mobile-onprem-hma", "--set-after", "onprem.activesync.default_access_level=block", "--set-after", "onprem.activesync.device_rules=[{characteristic = \"DeviceType\", query = \"OutlookService\", access_level = \"allow\"}]"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn two_scenarios_and_bad_input() {
    let o = hmasim(&["diff", "desktop-onprem-ca", "desktop-onprem-adfs-mfa"]);
    assert!(matches!(o.status.code(), Some(0 | 1)));
    assert_eq!(
        hmasim(&["diff", "secure-web", "--set-after", "nope=1"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        hmasim(&["diff", "secure-web", "missing-scenario"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_timeline_change_is_compared_at_the_instant_it_takes_effect() {
    // AFTER leaves federation two hours in: before that instant nothing changes; from it,
    // AD FS's MFA is gone, where BEFORE (one epoch, federated throughout) still has it.
    let o = hmasim(&[
        "diff",
        "desktop-exo-adfs-mfa",
        "--set-after",
        "run.duration=4h",
        "--set-after",
        "timeline=[{at = \"0s\", client = \"outlook-desktop\", do = \"start-outlook\"}, {at = \"2h\", do = \"set\", key = \"identity.model\", value = \"phs\"}]",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = v["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(
        changes.iter().all(|c| c["at_ms"] == 7_200_000),
        "{changes:?}"
    );
    assert!(changes.iter().any(|c| c["client"] == "outlook-desktop"
        && c["method"] == "modern"
        && c["before"] == "mailbox with MFA"
        && c["regression"] == "loses MFA"));
}
