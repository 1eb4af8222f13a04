//! The tokens as a checkpoint and a venue check-in see them.

use mingma_core::{Colour, Jurisdiction, NationalId, Presence, PseudonymKey, Timestamp, VenueId};
use mingma_token::code::{holder_of, mask_name};
use mingma_token::{
    classify, CheckpointCode, IssuerKey, Refusal, TrustList, VenueKey, VenueTokenError,
    ROTATION_SECONDS,
};
use proptest::prelude::*;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn henan() -> IssuerKey {
    IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [41; 32]).unwrap()
}

fn code(key: &IssuerKey) -> CheckpointCode {
    let id = NationalId::parse("410102198503121017").unwrap();
    let person = PseudonymKey::from_bytes([9; 32]).person_key(&id);
    CheckpointCode {
        holder: holder_of(&person),
        masked_name: mask_name("张三丰"),
        id_last_four: id.last_four().to_owned(),
        colour: Colour::Yellow,
        latest_test: Some(ts("2022-06-13T09:00:00+08:00")),
        issuer: key.province(),
        key_id: key.key_id(),
        issued_at: ts("2022-06-14T12:00:00+08:00"),
        expires_at: ts("2022-06-14T12:05:00+08:00"),
        rule_set: "mingma-default".into(),
        rule_set_version: "2026.1".into(),
        ledger_index: 12_345,
    }
}

#[test]
fn a_signed_code_verifies_and_says_what_was_signed() {
    let key = henan();
    let statement = code(&key);
    let token = statement.sign(&key).unwrap();
    assert!(token.starts_with("MC1."));
    assert!(token.len() < 300, "{} characters", token.len());
    let trust = TrustList::from_json(&TrustList::of(&key, "河南省").to_json()).unwrap();
    let ok = CheckpointCode::verify(&token, &trust, ts("2022-06-14T12:01:00+08:00")).unwrap();
    assert_eq!(ok.code, statement);
    assert_eq!(ok.issuer_name, "河南省");
    assert_eq!(ok.code.masked_name, "张**");
    assert_eq!(ok.code.id_last_four, "1017");
}

#[test]
fn each_refusal_names_its_reason() {
    let key = henan();
    let token = code(&key).sign(&key).unwrap();
    let trust = TrustList::of(&key, "河南省");
    let now = ts("2022-06-14T12:01:00+08:00");
    // Expired (at the second it expires).
    let err = CheckpointCode::verify(&token, &trust, ts("2022-06-14T12:05:00+08:00")).unwrap_err();
    assert_eq!(err.code(), "expired");
    // Not yet valid beyond the skew.
    let err = CheckpointCode::verify(&token, &trust, ts("2022-06-14T11:58:00+08:00")).unwrap_err();
    assert_eq!(err.code(), "not_yet_valid");
    // Unknown issuer: a list of another key of the same province.
    let other = IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [1; 32]).unwrap();
    let err = CheckpointCode::verify(&token, &TrustList::of(&other, "x"), now).unwrap_err();
    assert!(matches!(err, Refusal::UnknownIssuer { .. }), "{err}");
    // Bad signature: the same key id and province with another public key.
    let mut forged_trust = trust.clone();
    forged_trust.issuers[0].public_key = other.public_key();
    let err = CheckpointCode::verify(&token, &forged_trust, now).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    // Altered bytes: a red code turned green keeps the signature of the red one.
    let mut statement = code(&key);
    statement.colour = Colour::Green;
    let green = statement.sign(&key).unwrap();
    let (_, green_body) = green.split_at(4);
    let (_, red_body) = token.split_at(4);
    // Splice: the green payload with the yellow signature.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let g = b64.decode(green_body).unwrap();
    let r = b64.decode(red_body).unwrap();
    let mut spliced = g[..g.len() - 64].to_vec();
    spliced.extend_from_slice(&r[r.len() - 64..]);
    let spliced = format!("MC1.{}", b64.encode(spliced));
    let err = CheckpointCode::verify(&spliced, &trust, now).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    // Malformed.
    for bad in [
        "",
        "MC1.",
        "MC2.AAAA",
        "MC1.!!!!",
        "MC1.AAAA",
        &token[..token.len() - 3],
    ] {
        let err = CheckpointCode::verify(bad, &trust, now).unwrap_err();
        assert_eq!(err.code(), "malformed", "{bad:?}: {err}");
    }
}

#[test]
fn signing_refuses_an_inconsistent_statement() {
    let key = henan();
    let mut c = code(&key);
    c.expires_at = c.issued_at;
    assert!(c.sign(&key).is_err());
    let mut c = code(&key);
    c.id_last_four = "12a4".into();
    assert!(c.sign(&key).is_err());
    let mut c = code(&key);
    c.key_id ^= 1;
    assert!(c.sign(&key).is_err());
}

#[test]
fn trust_lists_refuse_a_key_under_another_id() {
    let key = henan();
    let json = TrustList::of(&key, "河南省").to_json();
    let swapped = json.replace(&format!("{:08x}", key.key_id()), "00000000");
    let err = TrustList::from_json(&swapped).unwrap_err();
    assert!(err.0.contains("key_id"), "{err}");
    assert!(TrustList::from_json("{}").is_err());
    assert!(TrustList::from_json(&json.replace("mingma-trust-list/1", "x")).is_err());
}

fn venue() -> VenueId {
    VenueId::parse("v-erqi-market").unwrap()
}

#[test]
fn venue_tokens_classify_by_presence() {
    let key = VenueKey::from_seed([5; 32]);
    let public = key.public_key();
    let now = ts("2022-06-14T12:00:10+08:00");
    let poster = key.static_token(&venue(), ts("2022-06-01T00:00:00+08:00"));
    let c = classify(&poster, &public, now).unwrap();
    assert_eq!((c.venue, c.presence), (venue(), Presence::StaticPoster));
    let fresh = key.rotating_token(&venue(), now);
    assert_eq!(
        classify(&fresh, &public, now).unwrap().presence,
        Presence::Rotating
    );
    // The previous window still counts (time to scan); two windows back is stale.
    let previous = key.rotating_token(&venue(), now.plus_seconds(-ROTATION_SECONDS));
    assert_eq!(
        classify(&previous, &public, now).unwrap().presence,
        Presence::Rotating
    );
    let old = key.rotating_token(&venue(), now.plus_seconds(-3 * ROTATION_SECONDS));
    assert_eq!(
        classify(&old, &public, now).unwrap().presence,
        Presence::Stale
    );
    let future = key.rotating_token(&venue(), now.plus_seconds(10 * ROTATION_SECONDS));
    assert_eq!(
        classify(&future, &public, now).unwrap().presence,
        Presence::Stale
    );
    // Another key's token is forged; garbage is malformed.
    let other = VenueKey::from_seed([6; 32]).rotating_token(&venue(), now);
    assert_eq!(
        classify(&other, &public, now).unwrap_err(),
        VenueTokenError::Forged
    );
    for bad in ["", "MV1.", "MV1.AAAA", "hello", &fresh[..fresh.len() - 1]] {
        assert!(
            matches!(
                classify(bad, &public, now),
                Err(VenueTokenError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn key_files_round_trip() {
    let key = VenueKey::from_seed([5; 32]);
    let back = VenueKey::from_file_text(&key.to_file_text()).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert!(VenueKey::from_file_text("mingma-venue-key/1 AAAA").is_err());
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let key = henan();
        let trust = TrustList::of(&key, "x");
        let now = ts("2022-06-14T12:00:00+08:00");
        let _ = CheckpointCode::verify(&text, &trust, now);
        let _ = classify(&text, &VenueKey::from_seed([5; 32]).public_key(), now);
        let _ = TrustList::from_json(&text);
        let _ = IssuerKey::from_file_text(&text);
    }

    #[test]
    fn arbitrary_bytes_after_the_prefix_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let key = henan();
        let trust = TrustList::of(&key, "x");
        let now = ts("2022-06-14T12:00:00+08:00");
        let r = CheckpointCode::verify(&format!("MC1.{body}"), &trust, now);
        prop_assert!(r.is_err());
        let _ = CheckpointCode::from_bytes(&bytes);
        let r = classify(&format!("MV1.{body}"), &VenueKey::from_seed([5; 32]).public_key(), now);
        prop_assert!(r.is_err());
    }

    #[test]
    fn every_byte_flip_of_a_code_is_refused(position in 0usize..200, bit in 0u8..8) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = henan();
        let token = code(&key).sign(&key).unwrap();
        let mut bytes = b64.decode(&token[4..]).unwrap();
        let i = position % bytes.len();
        bytes[i] ^= 1 << bit;
        let altered = format!("MC1.{}", b64.encode(&bytes));
        let r = CheckpointCode::verify(&altered, &TrustList::of(&key, "x"), ts("2022-06-14T12:01:00+08:00"));
        prop_assert!(r.is_err());
    }
}
