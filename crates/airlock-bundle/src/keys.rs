//! Signing keys: ed25519, the secret kept as PKCS#8 PEM (RFC 8410, what `openssl genpkey
//! -algorithm ed25519` writes), the public key written `ed25519:BASE64` (standard base64 of its
//! 32 bytes) in configuration, manifests and messages. A public key is its own id.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Why a key cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0:?} is not a public key: write ed25519:BASE64 (32 bytes)")]
    BadPublicKey(String),
    #[error("not an ed25519 private key in PKCS#8 PEM (`airlock bundle keygen` writes one)")]
    BadSecretKey,
}

/// The prefix of a public key's text.
const PREFIX: &str = "ed25519:";

/// A secret signing key.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> SecretKey {
        use rand::Rng;
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = SecretKey(SigningKey::from_bytes(&seed));
        seed.fill(0);
        key
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| KeyError::BadSecretKey)
    }

    /// A key from PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<SecretKey, KeyError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(SecretKey)
            .map_err(|_| KeyError::BadSecretKey)
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The detached signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public())
    }
}

/// A public key, which checks signatures.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Whether `signature` is this key's signature of `message` (strict: no malleable or
    /// small-order forms).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", STANDARD.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        let bad = || KeyError::BadPublicKey(s.chars().take(80).collect());
        let b64 = s.trim().strip_prefix(PREFIX).ok_or_else(bad)?;
        let bytes = STANDARD.decode(b64).map_err(|_| bad())?;
        let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        if key.is_weak() {
            return Err(bad());
        }
        Ok(PublicKey(key))
    }
}

/// The `manifest.sig` entry: the signing key and the signature, both as text.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignatureEntry {
    pub key: String,
    pub signature: String,
}

impl SignatureEntry {
    pub(crate) fn new(secret: &SecretKey, manifest: &[u8]) -> SignatureEntry {
        SignatureEntry {
            key: secret.public().to_string(),
            signature: STANDARD.encode(secret.sign(manifest)),
        }
    }

    pub(crate) fn signature_bytes(&self) -> Option<Vec<u8>> {
        STANDARD.decode(&self.signature).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_text() {
        let secret = SecretKey::generate();
        let pem = secret.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SecretKey::from_pem(&pem).unwrap();
        assert_eq!(again.public(), secret.public());
        let text = secret.public().to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), secret.public());
        let sig = secret.sign(b"manifest");
        assert!(secret.public().verifies(b"manifest", &sig));
        assert!(!secret.public().verifies(b"manifest!", &sig));
        assert!(!SecretKey::generate().public().verifies(b"manifest", &sig));
        assert!(!secret.public().verifies(b"manifest", &sig[..63]));
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in [
            "",
            "ed25519:",
            "ed25519:AAAA",
            "rsa:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            // The identity point: a weak key anyone can forge for.
            "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad}");
        }
        assert!(
            SecretKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(SecretKey::from_pem("not pem").is_err());
    }
}
