//! Trace events carry `content_type` (contract: "Events gain content_type"): the media type
//! the body travels as over HTTP, `null` for what does not cross HTTP.

use serde_json::Value;

#[test]
fn token_answers_and_form_posts_name_their_media_type_and_binds_do_not() {
    let sc = hmasim::scenario::load("mobile-onprem-hma").unwrap();
    let doc: Value = serde_json::from_str(&hmasim::sim::run(&sc, true).to_json()).unwrap();
    let events = doc["events"].as_array().unwrap();
    let mut seen_json = false;
    for e in events {
        let ct = &e["content_type"];
        assert!(
            e.get("content_type").is_some(),
            "every event has the key: {e}"
        );
        if e["body"].get("access_token").is_some() {
            assert_eq!(ct, "application/json", "{e}");
            seen_json = true;
        }
        if e["body"].is_null() {
            assert!(ct.is_null(), "an empty body has no content type: {e}");
        }
    }
    assert!(seen_json, "the default scenario issues a token");
}
