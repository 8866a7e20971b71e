//! Scenario text shared by the integration tests (each test crate includes the module
//! with `mod common;` and uses what it needs).

#![allow(dead_code)] // each test crate uses a part of it

/// A tenant `contoso.com` with one user `u@contoso.com` (mailbox `mailbox`, password
/// `password`) and one native mail app of that user on iOS, outside the office, speaking
/// `protocol` (`imap` or `pop`), which adds the account at the start: the head of a
/// scenario file named `name`, to which a test appends its own tables.
pub fn native_mail(
    name: &str,
    summary: &str,
    mailbox: &str,
    password: &str,
    protocol: &str,
) -> String {
    format!(
        r#"name = "{name}"
summary = "{summary}"
seed = 1

[tenant]
domain = "contoso.com"
tenant_id = "4b3f0b6e-9d1c-4c56-8a2e-6f0d3c1b7a92"

[[users]]
upn = "u@contoso.com"
mailbox = "{mailbox}"
password = "{password}"

[[clients]]
kind = "native-mail"
user = "u@contoso.com"
platform = "ios"
location = "external"
protocol = "{protocol}"

[[timeline]]
at = "0s"
client = "native-mail"
do = "add-account"
"#
    )
}
