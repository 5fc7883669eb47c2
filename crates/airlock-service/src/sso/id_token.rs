//! The ID token of a login (OpenID Connect Core 1.0, §3.1.3.7): a JWS in compact serialisation
//! (RFC 7515) whose signature is checked against the provider's JSON Web Key Set (RFC 7517, RFC
//! 7518 §6), then its claims: issuer, audience, authorized party, expiry, issue time and nonce.
//!
//! The signatures are `ring`'s, the crypto provider the TLS stack already builds: RS256/384/512,
//! PS256/384/512, ES256, ES384 and EdDSA (Ed25519). What remains is parsing three base64url parts
//! and two JSON objects, done here: the JOSE crates either bring a second crypto stack (RustCrypto's
//! `rsa`, `p256`, `p384`) or `aws-lc`. HMAC-signed tokens (HS256, keyed with the client secret) and
//! `none` are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The longest ID token read.
const MAX_TOKEN: usize = 64 * 1024;
/// How far the provider's clock may be from ours, in seconds.
const CLOCK_SKEW: i64 = 60;

/// The provider's keys (`jwks_uri`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct KeySet {
    #[serde(default)]
    keys: Vec<Jwk>,
}

/// One JSON Web Key: the members that verifying needs; others are ignored.
#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// What the token must say.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not a compact JWS, or its parts are not what they must be.
    Malformed(String),
    /// No key of the provider has the token's `kid` (it may have rotated its keys).
    UnknownKey(String),
    /// The signature does not verify.
    Signature,
    /// A claim does not hold.
    Claim(String),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Malformed(why) => write!(f, "malformed: {why}"),
            Invalid::UnknownKey(kid) => write!(
                f,
                "signed with key {kid:?}, which the provider does not list"
            ),
            Invalid::Signature => {
                f.write_str("its signature does not verify with the provider's keys")
            }
            Invalid::Claim(why) => f.write_str(why),
        }
    }
}

fn malformed(why: impl Into<String>) -> Invalid {
    Invalid::Malformed(why.into())
}

fn claim(why: impl Into<String>) -> Invalid {
    Invalid::Claim(why.into())
}

fn b64(part: &str, what: &str) -> Result<Vec<u8>, Invalid> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("{what} is not base64url")))
}

/// The token's claims once its signature and the claims above hold.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, Invalid> {
    if token.len() > MAX_TOKEN {
        return Err(malformed("longer than 64 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "not three dot-separated parts (an encrypted token?)",
        ));
    };
    let header: Header = serde_json::from_slice(&b64(header, "the header")?)
        .map_err(|e| malformed(format!("the header: {e}")))?;
    if header.crit.is_some() {
        return Err(malformed(
            "it names critical extensions (crit), which airlock does not know",
        ));
    }
    let alg = Alg::named(&header.alg)?;
    let signature = b64(sig, "the signature")?;
    let signed = &token.as_bytes()[..token.len() - sig.len() - 1];
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == header.alg))
        .filter(|k| alg.fits(k))
        .collect();
    if candidates.is_empty() {
        return Err(match header.kid {
            Some(kid) if !keys.keys.iter().any(|k| k.kid.as_deref() == Some(&kid)) => {
                Invalid::UnknownKey(kid)
            }
            _ => malformed(format!("the provider lists no key for {}", header.alg)),
        });
    }
    if !candidates
        .iter()
        .any(|key| alg.verify(key, signed, &signature))
    {
        return Err(Invalid::Signature);
    }
    let claims: Map<String, Value> = serde_json::from_slice(&b64(payload, "the payload")?)
        .map_err(|e| malformed(format!("the payload is not a JSON object: {e}")))?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

/// The claims' checks of §3.1.3.7 (steps 2, 3, 4, 5, 9, 10 and 11).
fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Invalid> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    if text("iss") != Some(expected.issuer) {
        return Err(claim(format!(
            "it was issued by {:?}, not by {:?}",
            text("iss").unwrap_or("nobody"),
            expected.issuer
        )));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(claim("it names no subject (sub)"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(claim(format!(
            "it is meant for {audiences:?}, not for client {:?}",
            expected.client_id
        )));
    }
    match text("azp") {
        Some(azp) if azp != expected.client_id => {
            return Err(claim(format!(
                "its authorized party (azp) is {azp:?}, not this client"
            )));
        }
        None if audiences.len() > 1 => {
            return Err(claim(
                "it has several audiences and no authorized party (azp)",
            ));
        }
        _ => {}
    }
    let Some(exp) = number("exp") else {
        return Err(claim("it has no expiry (exp)"));
    };
    if (exp as i64) + CLOCK_SKEW <= expected.now {
        return Err(claim("it has expired"));
    }
    let Some(iat) = number("iat") else {
        return Err(claim("it has no issue time (iat)"));
    };
    if (iat as i64) > expected.now + CLOCK_SKEW {
        return Err(claim("it was issued in the future (the clocks disagree)"));
    }
    if !text("nonce").is_some_and(|n| super::constant_time_eq(n, expected.nonce)) {
        return Err(claim("its nonce is not this login's"));
    }
    Ok(())
}

/// A signature algorithm (RFC 7518 §3.1) that airlock verifies.
#[derive(Debug, Clone, Copy)]
enum Alg {
    Rsa(&'static signature::RsaParameters),
    Ecdsa(
        &'static signature::EcdsaVerificationAlgorithm,
        &'static str,
        usize,
    ),
    Ed25519,
}

impl Alg {
    fn named(name: &str) -> Result<Alg, Invalid> {
        Ok(match name {
            "RS256" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
            "RS384" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
            "RS512" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
            "PS256" => Alg::Rsa(&signature::RSA_PSS_2048_8192_SHA256),
            "PS384" => Alg::Rsa(&signature::RSA_PSS_2048_8192_SHA384),
            "PS512" => Alg::Rsa(&signature::RSA_PSS_2048_8192_SHA512),
            "ES256" => Alg::Ecdsa(&signature::ECDSA_P256_SHA256_FIXED, "P-256", 32),
            "ES384" => Alg::Ecdsa(&signature::ECDSA_P384_SHA384_FIXED, "P-384", 48),
            "EdDSA" => Alg::Ed25519,
            "none" => return Err(malformed("it is not signed (alg none)")),
            other => {
                return Err(malformed(format!(
                    "airlock does not verify {other:?} signatures"
                )));
            }
        })
    }

    /// Whether `key` is of this algorithm's type.
    fn fits(self, key: &Jwk) -> bool {
        match self {
            Alg::Rsa(_) => key.kty == "RSA",
            Alg::Ecdsa(_, curve, _) => key.kty == "EC" && key.crv.as_deref() == Some(curve),
            Alg::Ed25519 => key.kty == "OKP" && key.crv.as_deref() == Some("Ed25519"),
        }
    }

    fn verify(self, key: &Jwk, message: &[u8], signature: &[u8]) -> bool {
        let part = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        match self {
            Alg::Rsa(params) => {
                let (Some(n), Some(e)) = (part(&key.n), part(&key.e)) else {
                    return false;
                };
                let strip = |v: &[u8]| v[v.iter().take_while(|b| **b == 0).count()..].to_vec();
                RsaPublicKeyComponents {
                    n: strip(&n),
                    e: strip(&e),
                }
                .verify(params, message, signature)
                .is_ok()
            }
            Alg::Ecdsa(algorithm, _, size) => {
                let (Some(x), Some(y)) = (part(&key.x), part(&key.y)) else {
                    return false;
                };
                if x.len() != size || y.len() != size {
                    return false;
                }
                let point = [&[4u8][..], &x, &y].concat();
                verify_with(algorithm, &point, message, signature)
            }
            Alg::Ed25519 => part(&key.x)
                .is_some_and(|x| verify_with(&signature::ED25519, &x, message, signature)),
        }
    }
}

fn verify_with(
    algorithm: &'static dyn VerificationAlgorithm,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    const ISSUER: &str = "https://id.example.com";
    const NOW: i64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: "airlock",
            nonce: "n-0S6_WzA2Mj",
            now: NOW,
        }
    }

    fn good_claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "alice", "aud": "airlock", "exp": NOW + 300, "iat": NOW - 5,
            "nonce": "n-0S6_WzA2Mj", "groups": ["staff"],
        })
    }

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    /// A P-256 key: its JWK and a function signing a token with it.
    struct Signer {
        pair: EcdsaKeyPair,
        kid: &'static str,
    }

    impl Signer {
        fn new(kid: &'static str) -> Signer {
            let rng = SystemRandom::new();
            let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            Signer {
                pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
                kid,
            }
        }

        fn jwk(&self) -> Value {
            let point = self.pair.public_key().as_ref();
            json!({
                "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            })
        }

        fn sign(&self, header: &Value, claims: &Value) -> String {
            let input = format!("{}.{}", enc(header), enc(claims));
            let sig = self
                .pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }

        fn token(&self, claims: &Value) -> String {
            self.sign(
                &json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}),
                claims,
            )
        }
    }

    fn set(keys: &[Value]) -> KeySet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn a_good_token_gives_its_claims() {
        let signer = Signer::new("k1");
        let other = Signer::new("k0");
        let keys = set(&[other.jwk(), signer.jwk()]);
        let claims = verify(&signer.token(&good_claims()), &keys, &expected()).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["groups"], json!(["staff"]));
    }

    #[test]
    fn an_ed25519_token_verifies() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let input = format!("{}.{}", enc(&json!({"alg": "EdDSA"})), enc(&good_claims()));
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref())
        );
        let keys = set(&[json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        })]);
        assert!(verify(&token, &keys, &expected()).is_ok());
        let tampered = token.replacen('.', ".e", 1);
        assert!(verify(&tampered, &keys, &expected()).is_err());
    }

    #[test]
    fn a_token_signed_by_another_key_or_altered_is_refused() {
        let signer = Signer::new("k1");
        let impostor = Signer::new("k1");
        let keys = set(&[signer.jwk()]);
        assert_eq!(
            verify(&impostor.token(&good_claims()), &keys, &expected()),
            Err(Invalid::Signature)
        );
        // The payload swapped for another user's, the signature kept.
        let token = signer.token(&good_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut claims = good_claims();
        claims["sub"] = json!("mallory");
        let mallory = enc(&claims);
        parts[1] = &mallory;
        assert_eq!(
            verify(&parts.join("."), &keys, &expected()),
            Err(Invalid::Signature)
        );
    }

    #[test]
    fn unsigned_symmetric_and_unknown_key_tokens_are_refused() {
        let signer = Signer::new("k1");
        let keys = set(&[signer.jwk()]);
        let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&good_claims()));
        assert!(matches!(
            verify(&none, &keys, &expected()),
            Err(Invalid::Malformed(_))
        ));
        // HS256 keyed with a public key's bytes: the classic algorithm confusion.
        let hs = signer.sign(&json!({"alg": "HS256", "kid": "k1"}), &good_claims());
        assert!(matches!(
            verify(&hs, &keys, &expected()),
            Err(Invalid::Malformed(_))
        ));
        let rotated = signer.sign(&json!({"alg": "ES256", "kid": "k9"}), &good_claims());
        assert_eq!(
            verify(&rotated, &keys, &expected()),
            Err(Invalid::UnknownKey("k9".into()))
        );
        // An RSA algorithm named for an EC key finds no key to try.
        let rs = signer.sign(&json!({"alg": "RS256", "kid": "k1"}), &good_claims());
        assert!(matches!(
            verify(&rs, &keys, &expected()),
            Err(Invalid::Malformed(_))
        ));
        let crit = signer.sign(
            &json!({"alg": "ES256", "crit": ["exp"], "exp": 1}),
            &good_claims(),
        );
        assert!(matches!(
            verify(&crit, &keys, &expected()),
            Err(Invalid::Malformed(_))
        ));
        for junk in [
            "",
            "a.b",
            "a.b.c.d.e",
            "!!.??.**",
            &"a".repeat(MAX_TOKEN + 1),
        ] {
            assert!(
                matches!(verify(junk, &keys, &expected()), Err(Invalid::Malformed(_))),
                "{junk:.20}"
            );
        }
    }

    #[test]
    fn each_claim_is_checked() {
        let signer = Signer::new("k1");
        let keys = set(&[signer.jwk()]);
        let refused = |change: &dyn Fn(&mut Value)| {
            let mut claims = good_claims();
            change(&mut claims);
            match verify(&signer.token(&claims), &keys, &expected()) {
                Err(Invalid::Claim(why)) => why,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(&|c| c["iss"] = json!("https://evil.example.com")).contains("issued by"));
        assert!(refused(&|c| c["aud"] = json!("someone-else")).contains("meant for"));
        assert!(refused(&|c| c["aud"] = json!(["airlock", "other"])).contains("azp"));
        assert!(refused(&|c| c["azp"] = json!("other")).contains("authorized party"));
        assert!(refused(&|c| c["exp"] = json!(NOW - CLOCK_SKEW - 1)).contains("expired"));
        assert!(refused(&|c| c["iat"] = json!(NOW + 3600)).contains("future"));
        assert!(refused(&|c| c["nonce"] = json!("replayed")).contains("nonce"));
        assert!(refused(&|c| drop(c.as_object_mut().unwrap().remove("nonce"))).contains("nonce"));
        assert!(refused(&|c| drop(c.as_object_mut().unwrap().remove("exp"))).contains("expiry"));
        assert!(refused(&|c| c["sub"] = json!("")).contains("subject"));
        // Several audiences are fine when this client is the authorized party.
        let mut claims = good_claims();
        claims["aud"] = json!(["other", "airlock"]);
        claims["azp"] = json!("airlock");
        assert!(verify(&signer.token(&claims), &keys, &expected()).is_ok());
    }
}
