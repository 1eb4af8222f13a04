//! The trust list: the issuer keys a checkpoint accepts, published by the service at
//! `/.well-known/mingma/trust-list.json` and read strictly.
//!
//! ```json
//! {"format":"mingma-trust-list/1","issuers":[
//!   {"province":"41","key_id":"1a2b3c4d","public_key":"<base64 32 bytes>","name":"河南省"}]}
//! ```
//!
//! Each key id must be the one [`issuer_key_id`](crate::keys::issuer_key_id) gives for
//! its province and key, so a list cannot name a key under another issuer's id.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use mingma_core::division::Level;
use mingma_core::Jurisdiction;
use serde::{Deserialize, Serialize};

use crate::keys::{issuer_key_id, IssuerKey};

/// The format name of a trust list.
pub const TRUST_LIST_FORMAT: &str = "mingma-trust-list/1";

/// One trusted issuer key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// Its province.
    pub province: Jurisdiction,
    /// Its key id.
    pub key_id: u32,
    /// Its public key.
    pub public_key: VerifyingKey,
    /// A name to show (e.g. 河南省卫生健康委员会).
    pub name: String,
}

/// The issuer keys a verifier trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustList {
    /// The keys.
    pub issuers: Vec<TrustedIssuer>,
}

/// Why a trust list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust list: {0}")]
pub struct TrustListError(pub String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListJson {
    format: String,
    issuers: Vec<IssuerJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerJson {
    province: String,
    key_id: String,
    public_key: String,
    name: String,
}

impl TrustList {
    /// A list of one key.
    pub fn of(key: &IssuerKey, name: &str) -> Self {
        Self {
            issuers: vec![TrustedIssuer {
                province: key.province(),
                key_id: key.key_id(),
                public_key: key.public_key(),
                name: name.to_owned(),
            }],
        }
    }

    /// The key of `province` with `key_id`, if trusted.
    pub fn find(&self, province: Jurisdiction, key_id: u32) -> Option<&TrustedIssuer> {
        self.issuers
            .iter()
            .find(|i| i.province == province && i.key_id == key_id)
    }

    /// The list as JSON.
    pub fn to_json(&self) -> String {
        let list = ListJson {
            format: TRUST_LIST_FORMAT.into(),
            issuers: self
                .issuers
                .iter()
                .map(|i| IssuerJson {
                    province: i.province.to_string(),
                    key_id: format!("{:08x}", i.key_id),
                    public_key: BASE64.encode(i.public_key.as_bytes()),
                    name: i.name.clone(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&list).unwrap_or_default()
    }

    /// Reads a list, strictly; the error names the issuer and field.
    pub fn from_json(text: &str) -> Result<Self, TrustListError> {
        let list: ListJson = serde_json::from_str(text)
            .map_err(|e| TrustListError(format!("not a trust list: {e}")))?;
        if list.format != TRUST_LIST_FORMAT {
            return Err(TrustListError(format!(
                "format is {:?}; this program reads {TRUST_LIST_FORMAT:?}",
                list.format
            )));
        }
        let mut issuers = Vec::with_capacity(list.issuers.len());
        for (n, i) in list.issuers.into_iter().enumerate() {
            let at = |what: &str| TrustListError(format!("issuers[{n}]: {what}"));
            let province = Jurisdiction::parse(&i.province)
                .ok()
                .filter(|p| p.level() == Level::Province)
                .ok_or_else(|| at(&format!("province {:?} is not a province code", i.province)))?;
            let key_id = u32::from_str_radix(&i.key_id, 16)
                .ok()
                .filter(|_| i.key_id.len() == 8)
                .ok_or_else(|| at("key_id is not 8 hexadecimal digits"))?;
            let bytes = BASE64
                .decode(i.public_key.as_bytes())
                .map_err(|_| at("public_key is not base64"))?;
            let bytes = <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| at("public_key is not 32 bytes"))?;
            let public_key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| at("public_key is not an Ed25519 public key"))?;
            if issuer_key_id(province, &public_key) != key_id {
                return Err(at("key_id does not match the province and public key"));
            }
            issuers.push(TrustedIssuer {
                province,
                key_id,
                public_key,
                name: i.name,
            });
        }
        Ok(Self { issuers })
    }
}
