//! SHA-256 hashes and the RFC 6962 / RFC 9162 domain-separated tree hashing.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Domain-separation prefix of leaf hashes (RFC 9162 section 2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 9162 section 2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// A 32-byte SHA-256 value: a leaf hash, an interior node hash or a tree root.
///
/// `Display` (and `FromStr`) use lowercase hex; [`Hash::to_base64`] and
/// [`Hash::from_base64`] give the standard, padded base64 used by checkpoints
/// and proof vectors.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, std::hash::Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// Why a byte string, hex string or base64 string is not a [`Hash`](struct@Hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The input decoded to a number of bytes other than 32.
    #[error("a hash is 32 bytes, got {0}")]
    WrongLength(usize),
    /// The input is not 64 hex digits.
    #[error("invalid hex hash")]
    InvalidHex,
    /// The input is not canonical standard (padded) base64.
    #[error("invalid base64 hash")]
    InvalidBase64,
}

impl Hash {
    /// Length of a hash in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Copies a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError::WrongLength(bytes.len()))
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(HashParseError::InvalidHex);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_value(*hi), hex_value(*lo)),
                _ => (None, None),
            };
            match (hi, lo) {
                (Some(hi), Some(lo)) => *o = (hi << 4) | lo,
                _ => return Err(HashParseError::InvalidHex),
            }
        }
        Ok(Hash(out))
    }

    /// Standard padded base64 (RFC 4648 section 4), 44 characters.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses canonical standard padded base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, HashParseError> {
        let bytes = STANDARD
            .decode(s)
            .map_err(|_| HashParseError::InvalidBase64)?;
        Self::from_slice(&bytes)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    /// Parses lowercase or uppercase hex, as produced by `Display`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; 32] {
    fn from(h: Hash) -> Self {
        h.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashParseError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::from_slice(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 9162 leaf hash: `SHA-256(0x00 || data)`.
///
/// `data` is an opaque leaf entry; this crate never interprets it.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// RFC 9162 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // SHA-256("") — the RFC 9162 empty tree hash.
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // SHA-256(0x00), the hash of an empty leaf (transparency-dev/merkle vectors).
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // node(leaf(""), leaf("")) cross-checked against a direct SHA-256 computation.
        let l = leaf_hash(b"");
        let mut buf = vec![1u8];
        buf.extend_from_slice(&l.0);
        buf.extend_from_slice(&l.0);
        assert_eq!(node_hash(&l, &l), Hash(Sha256::digest(&buf).into()));
    }

    #[test]
    fn encodings_round_trip() {
        let h = leaf_hash(b"mingma");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert_eq!(h.to_hex().parse::<Hash>(), Ok(h));
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(h.to_base64().len(), 44);
        assert_eq!(format!("{h:?}"), format!("Hash({h})"));
        assert_eq!(Hash::try_from(&h.0[..]), Ok(h));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Hash::from_hex(""), Err(HashParseError::InvalidHex));
        assert_eq!(
            Hash::from_hex(&"0".repeat(63)),
            Err(HashParseError::InvalidHex)
        );
        assert_eq!(
            Hash::from_hex(&"g".repeat(64)),
            Err(HashParseError::InvalidHex)
        );
        // Multi-byte UTF-8 of the right byte length must not panic.
        assert_eq!(
            Hash::from_hex(&"é".repeat(32)),
            Err(HashParseError::InvalidHex)
        );
        assert_eq!(
            Hash::from_base64("ZG9uJ3QgY2FyZSAy"),
            Err(HashParseError::WrongLength(12))
        );
        assert_eq!(Hash::from_base64("!!"), Err(HashParseError::InvalidBase64));
        // Unpadded input is not canonical.
        let h = leaf_hash(b"x").to_base64();
        assert_eq!(
            Hash::from_base64(h.trim_end_matches('=')),
            Err(HashParseError::InvalidBase64)
        );
        assert_eq!(
            Hash::from_slice(&[0; 31]),
            Err(HashParseError::WrongLength(31))
        );
    }
}
