//! Join token verification against real RS256 signatures.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{crypto, Algorithm, EncodingKey, Header};
use oriel_jointoken::{
    key_id, verify, JoinGrant, JoinTokenError as E, PublicSigningKey, Role, LEEWAY_SECONDS,
    MAX_TOKEN_LEN,
};
use rand::{Rng, RngCore};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use rsa::pkcs8::EncodePublicKey;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const KID: &str = "key-main";

struct Keys {
    enc: EncodingKey,
    private_pem: String,
    spki: String,
    pkcs1: String,
}

fn gen() -> Keys {
    let k = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let private_pem = k.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    Keys {
        enc: EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
        spki: k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap(),
        pkcs1: k.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap(),
        private_pem,
    }
}

/// Keygen is slow: one key per test binary, plus one "other" key.
fn main_key() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(gen)
}
fn other_key() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(gen)
}

fn key() -> PublicSigningKey<'static> {
    PublicSigningKey {
        id: KID,
        public_key_pem: &main_key().spki,
    }
}

fn check(token: &str) -> Result<JoinGrant, E> {
    verify(token, &key(), NOW)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Baseline claims as the Node SDK signs them (no iat).
fn claims() -> Value {
    json!({"sub": "space-1", "aud": "rt", "exp": NOW + 3600})
}

/// `claims()` with `patch` merged in and `remove` taken out.
fn claims_with(patch: Value, remove: &[&str]) -> Value {
    let mut c = claims();
    let map = c.as_object_mut().unwrap();
    map.extend(patch.as_object().unwrap().clone());
    for r in remove {
        map.remove(*r);
    }
    c
}

/// Signs any header and claims with `alg`, exactly as given.
fn sign_raw(header: Value, claims: Value, enc: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig = crypto::sign(input.as_bytes(), enc, alg).unwrap();
    format!("{input}.{sig}")
}

/// Node `jsonwebtoken` with `keyid` (Joken looks the same): kid in the header.
fn node(claims: Value) -> String {
    let header = Header {
        kid: Some(KID.into()),
        ..Header::new(Algorithm::RS256)
    };
    jsonwebtoken::encode(&header, &claims, &main_key().enc).unwrap()
}

/// `jose`: header only `{"alg":"RS256"}`, kid in the payload.
fn jose(mut claims: Value) -> String {
    claims["kid"] = json!(KID);
    sign_raw(
        json!({"alg": "RS256"}),
        claims,
        &main_key().enc,
        Algorithm::RS256,
    )
}

fn expected(role: Role, participant_id: Option<&str>) -> JoinGrant {
    JoinGrant {
        space_id: "space-1".into(),
        signing_key_id: KID.into(),
        role,
        participant_id: participant_id.map(Into::into),
        expires_at: NOW + 3600,
        hidden: false,
    }
}

// ---- accepted tokens ----

#[test]
fn valid_kid_in_header_node_style() {
    let t = node(claims());
    assert_eq!(key_id(&t).unwrap(), KID);
    assert_eq!(check(&t).unwrap(), expected(Role::Publisher, None));
}

#[test]
fn valid_kid_in_claims_jose_style() {
    let t = jose(claims_with(json!({"iat": NOW - 10}), &[]));
    assert_eq!(key_id(&t).unwrap(), KID);
    assert_eq!(check(&t).unwrap(), expected(Role::Publisher, None));
}

#[test]
fn valid_joken_style_with_extra_claims() {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let c = claims_with(
        json!({"iat": NOW, "nbf": NOW, "jti": "2t0abc", "iss": "Joken", "params": {"x": 1}}),
        &[],
    );
    let t = sign_raw(header, c, &main_key().enc, Algorithm::RS256);
    assert_eq!(check(&t).unwrap(), expected(Role::Publisher, None));
}

#[test]
fn valid_kid_in_both_places_when_equal() {
    assert_eq!(
        check(&node(claims_with(json!({"kid": KID}), &[])))
            .unwrap()
            .signing_key_id,
        KID
    );
}

#[test]
fn valid_with_pkcs1_public_key_pem() {
    let k = PublicSigningKey {
        id: KID,
        public_key_pem: &main_key().pkcs1,
    };
    assert!(k
        .public_key_pem
        .starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    assert!(key()
        .public_key_pem
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        verify(&node(claims()), &k, NOW).unwrap(),
        expected(Role::Publisher, None)
    );
}

#[test]
fn role_defaults_to_publisher_when_absent_or_null() {
    assert_eq!(check(&node(claims())).unwrap().role, Role::Publisher);
    let null_role = claims_with(json!({"role": null}), &[]);
    assert_eq!(check(&node(null_role)).unwrap().role, Role::Publisher);
    let explicit = claims_with(json!({"role": "publisher"}), &[]);
    assert_eq!(check(&node(explicit)).unwrap().role, Role::Publisher);
}

#[test]
fn role_subscriber() {
    let t = jose(claims_with(json!({"role": "subscriber"}), &[]));
    assert_eq!(check(&t).unwrap(), expected(Role::Subscriber, None));
    assert_eq!(Role::Subscriber.as_str(), "subscriber");
    assert_eq!(Role::Publisher.as_str(), "publisher");
}

#[test]
fn hidden_is_read_as_a_boolean_and_absent_means_visible() {
    let t = node(claims_with(json!({"oriel_hidden": true}), &[]));
    assert!(check(&t).unwrap().hidden);
    let t = node(claims_with(json!({"oriel_hidden": false}), &[]));
    assert!(!check(&t).unwrap().hidden);
    assert!(!check(&node(claims())).unwrap().hidden);
    let t = node(claims_with(json!({"oriel_hidden": "yes"}), &[]));
    assert_eq!(check(&t), Err(E::Malformed));
}

#[test]
fn participant_id_passed_through() {
    let t = node(claims_with(json!({"participant_id": "alice"}), &[]));
    assert_eq!(check(&t).unwrap(), expected(Role::Publisher, Some("alice")));
    // Limit counts characters, not bytes.
    let long = "é".repeat(255);
    let t = node(claims_with(json!({"participant_id": long}), &[]));
    assert_eq!(
        check(&t).unwrap().participant_id.as_deref(),
        Some(long.as_str())
    );
    let t = node(claims_with(json!({"participant_id": null}), &[]));
    assert_eq!(check(&t).unwrap().participant_id, None);
}

#[test]
fn audience_array_with_only_rt_accepted() {
    let t = node(claims_with(json!({"aud": ["rt"]}), &[]));
    assert!(check(&t).is_ok());
}

#[test]
fn leeway_on_expiry() {
    assert_eq!(LEEWAY_SECONDS, 5);
    let at = |exp: u64| check(&node(claims_with(json!({"exp": exp}), &[])));
    assert_eq!(at(NOW - 3).unwrap().expires_at, NOW - 3);
    assert!(at(NOW - LEEWAY_SECONDS).is_ok());
    assert_eq!(at(NOW - LEEWAY_SECONDS - 1), Err(E::Expired));
    assert_eq!(at(NOW - 10), Err(E::Expired));
}

#[test]
fn fractional_expiry_accepted() {
    let t = node(claims_with(json!({"exp": (NOW + 60) as f64 + 0.5}), &[]));
    assert_eq!(check(&t).unwrap().expires_at, NOW + 60);
}

// ---- refusals, one or more per variant ----

#[test]
fn malformed() {
    let good = node(claims());
    let [h, p, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();
    let not_json = URL_SAFE_NO_PAD.encode("not json");
    let cases = [
        String::new(),
        "abc".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
        format!("{h}!.{p}.{s}"),
        format!("{h}.{p}.{s}!"),
        format!("{h}=.{p}.{s}"),
        format!("{not_json}.{p}.{s}"),
        format!("{h}.{not_json}.{s}"),
        format!("{}.{p}.{s}", b64(&json!(["alg", "RS256"]))),
        format!("{h}.{}.{s}", b64(&json!("claims"))),
        format!("{}.{p}.{s}", b64(&json!({"typ": "JWT", "kid": KID}))),
        format!("{}.{p}.{s}", b64(&json!({"alg": 256, "kid": KID}))),
        format!("{}.{p}.{s}", b64(&json!({"alg": "RS256", "kid": 7}))),
        format!(
            "{}.{p}.{s}",
            b64(&json!({"alg": "RS256", "kid": KID, "crit": ["b64"]}))
        ),
    ];
    for t in &cases {
        assert_eq!(key_id(t), Err(E::Malformed), "{t}");
        assert_eq!(check(t), Err(E::Malformed), "{t}");
    }
    // Past the length cap, even if well-formed.
    let big = node(claims_with(
        json!({"params": "x".repeat(MAX_TOKEN_LEN)}),
        &[],
    ));
    assert_eq!(check(&big), Err(E::Malformed));
    // A signed but non-numeric nbf.
    let t = node(claims_with(json!({"nbf": "soon"}), &[]));
    assert_eq!(check(&t), Err(E::Malformed));
}

#[test]
fn unsupported_algorithm_none() {
    for alg in ["none", "None", "NONE"] {
        let t = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "kid": KID})),
            b64(&claims())
        );
        assert_eq!(key_id(&t), Err(E::UnsupportedAlgorithm(alg.into())));
        assert_eq!(check(&t), Err(E::UnsupportedAlgorithm(alg.into())));
    }
}

#[test]
fn unsupported_algorithm_hmac_with_public_key_as_secret() {
    // Classic algorithm confusion: HMAC keyed with the public PEM the server holds.
    for pem in [&main_key().spki, &main_key().pkcs1] {
        let secret = EncodingKey::from_secret(pem.as_bytes());
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let name = format!("{alg:?}");
            let t = sign_raw(json!({"alg": name, "kid": KID}), claims(), &secret, alg);
            assert_eq!(key_id(&t), Err(E::UnsupportedAlgorithm(name.clone())));
            let k = PublicSigningKey {
                id: KID,
                public_key_pem: pem,
            };
            assert_eq!(verify(&t, &k, NOW), Err(E::UnsupportedAlgorithm(name)));
        }
        // Same HMAC signature under an honest-looking RS256 header.
        let t = sign_raw(
            json!({"alg": "RS256", "kid": KID}),
            claims(),
            &secret,
            Algorithm::HS256,
        );
        assert_eq!(check(&t), Err(E::BadSignature));
    }
}

#[test]
fn unsupported_algorithm_other_families() {
    // PS256/RS512 are genuinely signed with the right key and still refused.
    for alg in [Algorithm::PS256, Algorithm::RS512] {
        let name = format!("{alg:?}");
        let t = sign_raw(
            json!({"alg": name, "kid": KID}),
            claims(),
            &main_key().enc,
            alg,
        );
        assert_eq!(check(&t), Err(E::UnsupportedAlgorithm(name)));
    }
    for alg in ["ES256", "ES384", "EdDSA", "rs256", ""] {
        let t = format!(
            "{}.{}.AAAA",
            b64(&json!({"alg": alg, "kid": KID})),
            b64(&claims())
        );
        assert_eq!(check(&t), Err(E::UnsupportedAlgorithm(alg.into())));
    }
}

#[test]
fn missing_key_id() {
    let t = sign_raw(
        json!({"alg": "RS256"}),
        claims(),
        &main_key().enc,
        Algorithm::RS256,
    );
    assert_eq!(key_id(&t), Err(E::MissingKeyId));
    assert_eq!(check(&t), Err(E::MissingKeyId));
    let empty = sign_raw(
        json!({"alg": "RS256", "kid": ""}),
        claims(),
        &main_key().enc,
        Algorithm::RS256,
    );
    assert_eq!(check(&empty), Err(E::MissingKeyId));
}

#[test]
fn unknown_key_when_kid_differs_from_key_id() {
    let t = node(claims());
    let k = PublicSigningKey {
        id: "another-key",
        ..key()
    };
    assert_eq!(verify(&t, &k, NOW), Err(E::UnknownKey));
}

#[test]
fn key_id_mismatch() {
    let t = node(claims_with(json!({"kid": "other"}), &[]));
    assert_eq!(key_id(&t), Err(E::KeyIdMismatch));
    assert_eq!(check(&t), Err(E::KeyIdMismatch));
}

#[test]
fn invalid_public_key() {
    let t = node(claims());
    let truncated = &main_key().spki[..100];
    let bad_pems = ["", "garbage", truncated, main_key().private_pem.as_str()];
    for pem in bad_pems {
        let k = PublicSigningKey {
            id: KID,
            public_key_pem: pem,
        };
        assert_eq!(verify(&t, &k, NOW), Err(E::InvalidPublicKey), "{pem}");
    }
}

#[test]
fn bad_signature_from_another_key() {
    let t = sign_raw(
        json!({"alg": "RS256", "kid": KID}),
        claims(),
        &other_key().enc,
        Algorithm::RS256,
    );
    assert_eq!(key_id(&t).unwrap(), KID);
    assert_eq!(check(&t), Err(E::BadSignature));
    // And our token does not verify under the other key's public PEM.
    let k = PublicSigningKey {
        id: KID,
        public_key_pem: &other_key().spki,
    };
    assert_eq!(verify(&node(claims()), &k, NOW), Err(E::BadSignature));
}

#[test]
fn bad_signature_when_payload_tampered() {
    let t = node(claims_with(json!({"role": "subscriber"}), &[]));
    let [h, _, s]: [&str; 3] = t.split('.').collect::<Vec<_>>().try_into().unwrap();
    for forged in [
        claims_with(json!({"role": "publisher"}), &[]),
        claims_with(json!({"role": "subscriber", "sub": "space-2"}), &[]),
        claims_with(json!({"role": "subscriber", "exp": NOW + 999_999}), &[]),
    ] {
        assert_eq!(
            check(&format!("{h}.{}.{s}", b64(&forged))),
            Err(E::BadSignature)
        );
    }
    assert_eq!(
        check(&format!("{h}.{}.", b64(&claims()))),
        Err(E::BadSignature)
    );
}

#[test]
fn wrong_audience() {
    for aud in [
        json!("pub"),
        json!("RT"),
        json!(""),
        json!(["rt", "v"]),
        json!(["pub"]),
        json!([]),
        json!(1),
    ] {
        let t = node(claims_with(json!({"aud": aud}), &[]));
        assert_eq!(check(&t), Err(E::WrongAudience), "{aud}");
    }
    assert_eq!(
        check(&node(claims_with(json!({}), &["aud"]))),
        Err(E::WrongAudience)
    );
}

#[test]
fn missing_expiry() {
    assert_eq!(
        check(&node(claims_with(json!({}), &["exp"]))),
        Err(E::MissingExpiry)
    );
    for exp in [json!("1700003600"), json!(null), json!(true)] {
        let t = node(claims_with(json!({"exp": exp}), &[]));
        assert_eq!(check(&t), Err(E::MissingExpiry), "{exp}");
    }
}

#[test]
fn expired() {
    for exp in [json!(0), json!(-1), json!(NOW - 3600)] {
        let t = node(claims_with(json!({"exp": exp}), &[]));
        assert_eq!(check(&t), Err(E::Expired), "{exp}");
    }
}

#[test]
fn not_yet_valid() {
    let at = |nbf: u64| check(&node(claims_with(json!({"nbf": nbf}), &[])));
    assert!(at(NOW + LEEWAY_SECONDS).is_ok());
    assert_eq!(at(NOW + LEEWAY_SECONDS + 1), Err(E::NotYetValid));
}

#[test]
fn missing_subject() {
    assert_eq!(
        check(&node(claims_with(json!({}), &["sub"]))),
        Err(E::MissingSubject)
    );
    for sub in [json!(""), json!(42), json!(null), json!(["space-1"])] {
        let t = jose(claims_with(json!({"sub": sub}), &[]));
        assert_eq!(check(&t), Err(E::MissingSubject), "{sub}");
    }
}

#[test]
fn invalid_role() {
    for (role, shown) in [
        (json!("admin"), "admin"),
        (json!("Publisher"), "Publisher"),
        (json!(""), ""),
        (json!(2), "2"),
    ] {
        let t = node(claims_with(json!({"role": role}), &[]));
        assert_eq!(check(&t), Err(E::InvalidRole(shown.into())));
    }
}

#[test]
fn invalid_participant_id() {
    for pid in [
        json!(""),
        json!("a".repeat(256)),
        json!(7),
        json!({"id": "a"}),
    ] {
        let t = node(claims_with(json!({"participant_id": pid}), &[]));
        assert_eq!(check(&t), Err(E::InvalidParticipantId));
    }
}

#[test]
fn messages_match_display_and_are_distinct() {
    let all = [
        E::Malformed,
        E::UnsupportedAlgorithm("HS256".into()),
        E::MissingKeyId,
        E::UnknownKey,
        E::InvalidPublicKey,
        E::BadSignature,
        E::WrongAudience,
        E::MissingExpiry,
        E::Expired,
        E::NotYetValid,
        E::MissingSubject,
        E::SpaceNotInEnvironment,
        E::InvalidRole("admin".into()),
        E::InvalidParticipantId,
        E::KeyIdMismatch,
    ];
    let mut seen = std::collections::HashSet::new();
    for e in &all {
        assert_eq!(e.to_string(), e.message());
        assert!(e.message().starts_with("join token") || e.message().starts_with("signing key"));
        assert!(seen.insert(e.message()), "duplicate: {}", e.message());
    }
    assert_eq!(E::Expired.to_string(), "join token has expired");
}

// ---- never panic ----

#[test]
fn random_and_mangled_input_never_panics_nor_passes() {
    let mut rng = rand::thread_rng();
    let good = node(claims());
    let refused = |t: &str| {
        let _ = key_id(t);
        assert!(check(t).is_err(), "{t}");
    };

    // Every proper prefix of a valid token.
    for i in 0..good.len() {
        refused(&good[..i]);
    }
    // Every single-character substitution.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    for _ in 0..300 {
        let mut bytes = good.clone().into_bytes();
        let i = rng.gen_range(0..bytes.len());
        let c = alphabet[rng.gen_range(0..alphabet.len())];
        if bytes[i] == c {
            continue;
        }
        bytes[i] = c;
        refused(&String::from_utf8(bytes).unwrap());
    }
    // Random strings, ASCII and Unicode.
    for _ in 0..500 {
        let len = rng.gen_range(0..300);
        let s: String = (0..len)
            .map(|_| match rng.gen_range(0..10) {
                0 => '.',
                1 => char::from_u32(rng.gen_range(0..0x11_0000)).unwrap_or('\u{fffd}'),
                _ => alphabet[rng.gen_range(0..alphabet.len())] as char,
            })
            .collect();
        refused(&s);
    }
    // Three random base64url segments, and random JSON-ish payloads.
    for _ in 0..200 {
        let mut seg = || {
            let mut b = vec![0u8; rng.gen_range(0..200)];
            rng.fill_bytes(&mut b);
            URL_SAFE_NO_PAD.encode(b)
        };
        refused(&format!("{}.{}.{}", seg(), seg(), seg()));
        let h = b64(&json!({"alg": "RS256", "kid": KID}));
        refused(&format!("{h}.{}.{}", seg(), seg()));
    }
    // Huge inputs.
    refused(&"A".repeat(10 * 1024 * 1024));
    refused(&".".repeat(1024 * 1024));
    let mut huge = good.clone();
    huge.push_str(&"A".repeat(MAX_TOKEN_LEN));
    refused(&huge);
    // Deeply nested JSON (serde_json has a recursion limit; must not overflow).
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    let h = b64(&json!({"alg": "RS256", "kid": KID}));
    refused(&format!("{h}.{}.AAAA", URL_SAFE_NO_PAD.encode(&deep)));
}

// Signed playback tokens (`?token=` on HLS), as `@mux/mux-node`'s `jwt.signPlaybackId` makes them.

fn playback(claims: Value) -> Result<u64, oriel_jointoken::PlaybackTokenError> {
    oriel_jointoken::verify_playback(&node(claims), &key(), "pb1", NOW)
}

#[test]
fn playback_token_for_its_playback_id_is_accepted() {
    assert_eq!(
        playback(json!({"sub": "pb1", "aud": "v", "exp": NOW + 60})),
        Ok(NOW + 60)
    );
}

#[test]
fn playback_token_refusals() {
    use oriel_jointoken::PlaybackTokenError as P;
    assert_eq!(
        playback(json!({"sub": "pb2", "aud": "v", "exp": NOW + 60})),
        Err(P::OtherPlaybackId)
    );
    // A join token (aud "rt") never plays a recording, nor a thumbnail token ("t").
    for aud in ["rt", "t"] {
        assert_eq!(
            playback(json!({"sub": "pb1", "aud": aud, "exp": NOW + 60})),
            Err(P::WrongAudience)
        );
    }
    assert_eq!(
        playback(json!({"sub": "pb1", "aud": "v", "exp": NOW - 600})),
        Err(P::Token(E::Expired))
    );
    assert_eq!(
        playback(json!({"sub": "pb1", "aud": "v"})),
        Err(P::Token(E::MissingExpiry))
    );
    let forged = sign_raw(
        json!({"alg": "RS256", "typ": "JWT", "kid": KID}),
        json!({"sub": "pb1", "aud": "v", "exp": NOW + 60}),
        &other_key().enc,
        Algorithm::RS256,
    );
    let refused = oriel_jointoken::verify_playback(&forged, &key(), "pb1", NOW).unwrap_err();
    assert_eq!(refused, P::Token(E::BadSignature));
    assert_eq!(refused.to_string(), "playback token signature is invalid");
}
