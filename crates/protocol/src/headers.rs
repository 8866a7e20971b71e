//! Header names (issue 12 items 3 and 7): every name a party writes or decides on, as an
//! `http::HeaderName`, in one place. The standard names are the `http` crate's (interned:
//! comparing two is comparing a small enum); the Microsoft and proxy names are
//! `HeaderName::from_static` values here, so no party compares a header name as a string.
//!
//! A `HeaderName` is lower case, as HTTP/2 writes it; traces show each name as the flows'
//! articles and the services spell it on HTTP/1.1 ([`display_name`]), so they read as
//! before. Values stay `String`s on [`crate::Wire`]: a value built from scenario input may
//! hold bytes an `http::HeaderValue` refuses (a control character in a UPN), and how such
//! a value is encoded or refused belongs to the codec step that turns messages into bytes.

pub use http::HeaderName;

/// `Authorization`.
pub static AUTHORIZATION: HeaderName = http::header::AUTHORIZATION;
/// `WWW-Authenticate`.
pub static WWW_AUTHENTICATE: HeaderName = http::header::WWW_AUTHENTICATE;
/// `User-Agent`.
pub static USER_AGENT: HeaderName = http::header::USER_AGENT;
/// `Content-Type`.
pub static CONTENT_TYPE: HeaderName = http::header::CONTENT_TYPE;
/// `Content-Length`.
pub static CONTENT_LENGTH: HeaderName = http::header::CONTENT_LENGTH;
/// `Cookie`.
pub static COOKIE: HeaderName = http::header::COOKIE;
/// `Set-Cookie`.
pub static SET_COOKIE: HeaderName = http::header::SET_COOKIE;
/// `Server`.
pub static SERVER: HeaderName = http::header::SERVER;
/// `Location` (a redirect's target).
pub static LOCATION: HeaderName = http::header::LOCATION;
/// `X-Forwarded-For`: the client address a relay in Microsoft's range passes on.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-MS-Proxy`: the Web Application Proxy marks what it forwards to AD FS.
pub static X_MS_PROXY: HeaderName = HeaderName::from_static("x-ms-proxy");
/// `x-ms-diagnostics`: Exchange's diagnostic header on a refusal.
pub static X_MS_DIAGNOSTICS: HeaderName = HeaderName::from_static("x-ms-diagnostics");
/// `X-DeviceModel`: the ActiveSync device model an ActiveSync client reports.
pub static X_DEVICE_MODEL: HeaderName = HeaderName::from_static("x-devicemodel");
/// `X-Email`: the mailbox the protocol translator provisions.
pub static X_EMAIL: HeaderName = HeaderName::from_static("x-email");
/// `X-ClientApplication`: the client application a request names.
pub static X_CLIENT_APPLICATION: HeaderName = HeaderName::from_static("x-clientapplication");
/// `MS-ASProtocolVersion`: the ActiveSync protocol version.
pub static MS_AS_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("ms-asprotocolversion");
/// `x-ms-RefreshTokenCredential`: a registered device's credential at Entra ID's
/// authorize endpoint ([`crate::device::DEVICE_CREDENTIAL_HEADER`]).
pub static X_MS_REFRESH_TOKEN_CREDENTIAL: HeaderName =
    HeaderName::from_static("x-ms-refreshtokencredential");
/// `X-RequestType`: the MAPI over HTTP request type (`Execute`...).
pub static X_REQUEST_TYPE: HeaderName = HeaderName::from_static("x-requesttype");
/// `X-ResponseCode`: the MAPI over HTTP response code (`0`: success).
pub static X_RESPONSE_CODE: HeaderName = HeaderName::from_static("x-responsecode");
/// `X-RequestId`: the MAPI over HTTP request id (`{GUID}:counter`).
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-requestid");

/// Every name above with the spelling traces show.
static SPELLINGS: [(&HeaderName, &str); 21] = [
    (&AUTHORIZATION, "Authorization"),
    (&WWW_AUTHENTICATE, "WWW-Authenticate"),
    (&USER_AGENT, "User-Agent"),
    (&CONTENT_TYPE, "Content-Type"),
    (&CONTENT_LENGTH, "Content-Length"),
    (&COOKIE, "Cookie"),
    (&SET_COOKIE, "Set-Cookie"),
    (&SERVER, "Server"),
    (&LOCATION, "Location"),
    (&X_FORWARDED_FOR, "X-Forwarded-For"),
    (&X_MS_PROXY, "X-MS-Proxy"),
    (&X_MS_DIAGNOSTICS, "x-ms-diagnostics"),
    (&X_DEVICE_MODEL, "X-DeviceModel"),
    (&X_EMAIL, "X-Email"),
    (&X_CLIENT_APPLICATION, "X-ClientApplication"),
    (&MS_AS_PROTOCOL_VERSION, "MS-ASProtocolVersion"),
    (
        &X_MS_REFRESH_TOKEN_CREDENTIAL,
        "x-ms-RefreshTokenCredential",
    ),
    (&http::header::ACCEPT, "Accept"),
    (&X_REQUEST_TYPE, "X-RequestType"),
    (&X_RESPONSE_CODE, "X-ResponseCode"),
    (&X_REQUEST_ID, "X-RequestId"),
];

/// How a trace shows `name`: the services' spelling of a known name, else the name as
/// the `http` crate holds it (lower case).
pub fn display_name(name: &HeaderName) -> &str {
    SPELLINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name.as_str(), |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_shows_as_it_is_spelled_and_matches_its_lower_case() {
        for (name, spelling) in &SPELLINGS {
            assert_eq!(display_name(name), *spelling);
            assert_eq!(name.as_str(), spelling.to_ascii_lowercase());
            let parsed = HeaderName::from_bytes(spelling.as_bytes()).expect("a valid name");
            assert_eq!(&parsed, *name);
        }
        let unknown = HeaderName::from_static("x-unknown");
        assert_eq!(display_name(&unknown), "x-unknown");
    }
}
