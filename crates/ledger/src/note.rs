//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more
//! signature lines `— <key name> <base64(key ID || signature)>`. The text is
//! meaningless until a signature by a trusted key has been verified, so
//! [`NoteVerifier::open`] verifies before handing the text out.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;

/// Signature type byte of Ed25519 note signatures.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// Most signature lines a note may carry before it is rejected as malformed
/// (the specification requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Start of every signature line: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Prefix of the standard encoding of a signer (private) key.
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Why a note, key or checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note does not follow the signed-note syntax.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A key name is empty or contains a Unicode space or `+`.
    #[error("invalid key name {0:?}: must be non-empty, without spaces or '+'")]
    InvalidKeyName(String),
    /// A verifier key string is not `<name>+<hex key ID>+<base64 key>`.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A signer key string is not `PRIVATE+KEY+<name>+<hex key ID>+<base64 key>`.
    /// The message never includes key material.
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    /// A key uses a signature type other than Ed25519 (0x01).
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedSignatureType(u8),
    /// No signature line of the note is by the expected key (same name and
    /// key ID); signatures by other keys are ignored.
    #[error("note has no signature by key {name}+{key_id:08x}")]
    UnknownKey {
        /// Name of the expected key.
        name: String,
        /// Key ID of the expected key.
        key_id: u32,
    },
    /// A signature line by the expected key does not verify.
    #[error("invalid signature by key {name}+{key_id:08x}")]
    BadSignature {
        /// Name of the key.
        name: String,
        /// Key ID of the key.
        key_id: u32,
    },
    /// The verified note text is not a valid checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The checkpoint is validly signed but for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The origin the caller expected.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

/// Whether `name` is a valid key name: non-empty, no Unicode whitespace, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName(name.to_owned()))
    }
}

/// Key ID of an Ed25519 key:
/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`, big-endian.
pub fn ed25519_key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_SIGNATURE_TYPE]);
    h.update(key.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    let [a, b, c, e, ..] = d;
    u32::from_be_bytes([a, b, c, e])
}

/// Checks the signed-note character rules: no ASCII control character
/// other than newline (UTF-8 validity is given by `&str`).
fn check_chars(text: &str) -> Result<(), NoteError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_chars(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end with a newline"));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Name of the signing key.
    pub name: String,
    /// Key ID of the signing key.
    pub key_id: u32,
    /// The signature bytes, without the key ID (64 bytes for Ed25519).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without its final newline.
    fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}", self.name, STANDARD.encode(raw))
    }
}

/// A parsed (not yet verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signatures, in note order.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note. Syntax only: no signature is verified, so the
    /// text must not be trusted yet.
    pub fn parse(note: impl AsRef<[u8]>) -> Result<Self, NoteError> {
        let note = std::str::from_utf8(note.as_ref())
            .map_err(|_| NoteError::Malformed("not valid UTF-8"))?;
        check_chars(note)?;
        // The text is separated from the signatures by the last blank line.
        let (text, sigs) = note
            .rfind("\n\n")
            .and_then(|split| Some((note.get(..split + 1)?, note.get(split + 2..)?)))
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        if sigs.is_empty() {
            return Err(NoteError::Malformed("no signature lines"));
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::Malformed(
                "signature block does not end with a newline",
            ));
        };
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Encodes the note: text, blank line, one line per signature.
    pub fn encode(&self) -> Result<String, NoteError> {
        check_text(&self.text)?;
        if self.signatures.is_empty() {
            return Err(NoteError::Malformed("no signature lines"));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            check_key_name(&s.name)?;
            if s.signature.is_empty() {
                return Err(NoteError::Malformed("empty signature"));
            }
            out.push_str(&s.line());
            out.push('\n');
        }
        Ok(out)
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
        "signature line does not start with '— '",
    ))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(NoteError::Malformed("signature line has no signature"))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::Malformed("invalid key name in signature line"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| NoteError::Malformed("signature is not base64"))?;
    match raw.split_first_chunk::<4>() {
        Some((id, sig)) if !sig.is_empty() => Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes(*id),
            signature: sig.to_vec(),
        }),
        _ => Err(NoteError::Malformed("signature too short")),
    }
}

/// Signs notes and checkpoints with an Ed25519 key under a key name.
///
/// `Debug` never shows the private key.
pub struct CheckpointSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer for `key` under `name` (a key name; by convention the
    /// checkpoint origin).
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self, NoteError> {
        let name = name.into();
        check_key_name(&name)?;
        let key_id = ed25519_key_id(&name, &key.verifying_key());
        Ok(CheckpointSigner { name, key, key_id })
    }

    /// Parses the standard signer key encoding
    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>`.
    pub fn from_signer_key(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteError::MalformedSignerKey("missing PRIVATE+KEY+ prefix"))?;
        let (name, id, key) =
            split_key(rest).ok_or(NoteError::MalformedSignerKey("not name+id+key"))?;
        let id = parse_key_id(id).ok_or(NoteError::MalformedSignerKey("bad key ID"))?;
        let raw = STANDARD
            .decode(key)
            .map_err(|_| NoteError::MalformedSignerKey("key is not base64"))?;
        let (alg, seed) = raw
            .split_first()
            .ok_or(NoteError::MalformedSignerKey("empty key"))?;
        if *alg != ED25519_SIGNATURE_TYPE {
            return Err(NoteError::UnsupportedSignatureType(*alg));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::MalformedSignerKey("Ed25519 seed is not 32 bytes"))?;
        let signer = Self::new(name, SigningKey::from_bytes(&seed))?;
        if signer.key_id != id {
            return Err(NoteError::MalformedSignerKey("key ID does not match key"));
        }
        Ok(signer)
    }

    /// The standard signer key encoding (see [`Self::from_signer_key`]).
    /// This string is the private key: store it as a secret.
    pub fn to_signer_key(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_SIGNATURE_TYPE);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{SIGNER_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            key_id: self.key_id,
        }
    }

    /// Signs a note text (which must end with a newline) and returns the
    /// signature line's content.
    pub fn sign_text(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: sig.to_bytes().to_vec(),
        })
    }

    /// Signs a note text and returns the encoded signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        SignedNote {
            text: text.to_owned(),
            signatures: vec![self.sign_text(text)?],
        }
        .encode()
    }

    /// Signs a checkpoint and returns the encoded signed note.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        self.sign_note(&checkpoint.to_text()?)
    }
}

fn split_key(s: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = s.split_once('+')?;
    let (id, key) = rest.split_once('+')?;
    Some((name, id, key))
}

fn parse_key_id(hex: &str) -> Option<u32> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// A trusted Ed25519 note verifier: key name, public key and key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    key_id: u32,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self, NoteError> {
        let name = name.into();
        check_key_name(&name)?;
        let key_id = ed25519_key_id(&name, &key);
        Ok(NoteVerifier { name, key, key_id })
    }

    /// Parses a verifier key `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, key) =
            split_key(vkey).ok_or(NoteError::MalformedVerifierKey("not name+id+key"))?;
        check_key_name(name)?;
        let id = parse_key_id(id).ok_or(NoteError::MalformedVerifierKey(
            "key ID is not 8 hex digits",
        ))?;
        let raw = STANDARD
            .decode(key)
            .map_err(|_| NoteError::MalformedVerifierKey("key is not base64"))?;
        let (alg, public) = raw
            .split_first()
            .ok_or(NoteError::MalformedVerifierKey("empty key"))?;
        if *alg != ED25519_SIGNATURE_TYPE {
            return Err(NoteError::UnsupportedSignatureType(*alg));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::MalformedVerifierKey("not an Ed25519 public key"))?;
        if key.is_weak() {
            return Err(NoteError::MalformedVerifierKey("weak Ed25519 public key"));
        }
        let verifier = Self::new(name, key)?;
        if verifier.key_id != id {
            return Err(NoteError::MalformedVerifierKey("key ID does not match key"));
        }
        Ok(verifier)
    }

    /// The verifier key encoding (see [`Self::from_vkey`]).
    pub fn to_vkey(&self) -> String {
        self.to_string()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verifies a parsed note: every signature line with this key's name and
    /// key ID must verify, and there must be at least one. Lines by other keys
    /// are ignored, as the specification requires.
    pub fn verify(&self, note: &SignedNote) -> Result<(), NoteError> {
        let mut verified = false;
        for s in &note.signatures {
            if s.name != self.name || s.key_id != self.key_id {
                continue;
            }
            let bad = || NoteError::BadSignature {
                name: self.name.clone(),
                key_id: self.key_id,
            };
            let sig = Signature::from_slice(&s.signature).map_err(|_| bad())?;
            self.key
                .verify_strict(note.text.as_bytes(), &sig)
                .map_err(|_| bad())?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::UnknownKey {
                name: self.name.clone(),
                key_id: self.key_id,
            });
        }
        Ok(())
    }

    /// Parses and verifies a signed note; only then is its text returned.
    pub fn open(&self, note: impl AsRef<[u8]>) -> Result<SignedNote, NoteError> {
        let note = SignedNote::parse(note)?;
        self.verify(&note)?;
        Ok(note)
    }

    /// Parses and verifies a signed checkpoint for the log `origin`.
    ///
    /// Checks, in order: note syntax, signature by this key, checkpoint
    /// syntax, origin.
    pub fn verify_checkpoint(
        &self,
        note: impl AsRef<[u8]>,
        origin: &str,
    ) -> Result<Checkpoint, NoteError> {
        let note = self.open(note)?;
        let checkpoint = Checkpoint::parse(&note.text)?;
        if checkpoint.origin != origin {
            return Err(NoteError::WrongOrigin {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

impl fmt::Display for NoteVerifier {
    /// Writes the verifier key encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ED25519_SIGNATURE_TYPE);
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(raw)
        )
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_vkey(s)
    }
}
