//! Keys that sign tokens, and their files.
//!
//! A key file is one line: a format tag, the purpose's fields and the Ed25519 seed in
//! standard base64, e.g. `mingma-issuer-key/1 41 <seed>` for a province's
//! checkpoint-code key. Files are written by the server with mode 0600.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use mingma_core::division::Level;
use mingma_core::Jurisdiction;
use sha2::{Digest, Sha256};

/// What is wrong with a key or key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The file's text does not have the expected form.
    #[error("{0}")]
    Malformed(String),
    /// The randomness source failed.
    #[error("cannot draw a random key: {0}")]
    Random(String),
}

pub(crate) fn random_seed() -> Result<[u8; 32], KeyError> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(seed)
}

pub(crate) fn parse_seed(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let bytes = BASE64
        .decode(text.as_bytes())
        .map_err(|_| KeyError::Malformed(format!("{what}: the seed is not base64")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| KeyError::Malformed(format!("{what}: the seed is not 32 bytes")))
}

/// The identifier of an issuer key: the first four bytes of
/// `SHA-256("mingma/issuer-key/v1" 0x00 || province digits || public key)`.
pub fn issuer_key_id(province: Jurisdiction, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(b"mingma/issuer-key/v1\0");
    h.update(province.to_string().as_bytes());
    h.update(key.as_bytes());
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A province's key for signing checkpoint codes.
#[derive(Clone)]
pub struct IssuerKey {
    province: Jurisdiction,
    key: SigningKey,
    key_id: u32,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerKey({} {:08x})", self.province, self.key_id)
    }
}

impl IssuerKey {
    /// The key for `province` (a province-level GB/T 2260 code) with this seed.
    pub fn from_seed(province: Jurisdiction, seed: [u8; 32]) -> Result<Self, KeyError> {
        if province.level() != Level::Province {
            return Err(KeyError::Malformed(format!(
                "issuer {province} is not a province (two digits, e.g. 41)"
            )));
        }
        let key = SigningKey::from_bytes(&seed);
        let key_id = issuer_key_id(province, &key.verifying_key());
        Ok(Self {
            province,
            key,
            key_id,
        })
    }

    /// A new random key for `province`.
    pub fn generate(province: Jurisdiction) -> Result<Self, KeyError> {
        Self::from_seed(province, random_seed()?)
    }

    /// Reads the one-line key file text `mingma-issuer-key/1 <province> <seed>`.
    pub fn from_file_text(text: &str) -> Result<Self, KeyError> {
        let mut parts = text.split_whitespace();
        let (Some("mingma-issuer-key/1"), Some(province), Some(seed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed(
                "an issuer key file is one line: `mingma-issuer-key/1 <province code> <base64 seed>`"
                    .into(),
            ));
        };
        let province = Jurisdiction::parse(province)
            .map_err(|e| KeyError::Malformed(format!("issuer key file: {e}")))?;
        Self::from_seed(province, parse_seed(seed, "issuer key file")?)
    }

    /// The key file text (secret).
    pub fn to_file_text(&self) -> String {
        format!(
            "mingma-issuer-key/1 {} {}\n",
            self.province,
            BASE64.encode(self.key.to_bytes())
        )
    }

    /// The issuing province.
    pub fn province(&self) -> Jurisdiction {
        self.province
    }

    /// The key id that codes name.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_refuse_bad_text() {
        let province = Jurisdiction::parse("41").unwrap();
        let key = IssuerKey::from_seed(province, [7; 32]).unwrap();
        let back = IssuerKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(back.key_id(), key.key_id());
        assert_eq!(back.public_key(), key.public_key());
        for bad in [
            "",
            "mingma-issuer-key/1 41",
            "mingma-issuer-key/2 41 AAAA",
            "mingma-issuer-key/1 41 AAAA",
            "mingma-issuer-key/1 4101 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            "mingma-issuer-key/1 99 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ] {
            assert!(IssuerKey::from_file_text(bad).is_err(), "{bad:?}");
        }
        assert!(IssuerKey::from_seed(Jurisdiction::parse("4101").unwrap(), [1; 32]).is_err());
    }

    #[test]
    fn key_ids_depend_on_province_and_key() {
        let a = IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [1; 32]).unwrap();
        let b = IssuerKey::from_seed(Jurisdiction::parse("42").unwrap(), [1; 32]).unwrap();
        let c = IssuerKey::from_seed(Jurisdiction::parse("41").unwrap(), [2; 32]).unwrap();
        assert_ne!(a.key_id(), b.key_id());
        assert_ne!(a.key_id(), c.key_id());
    }
}
