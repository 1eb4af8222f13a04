//! Venue tokens: what a venue's QR codes carry.
//!
//! - a **static** token, printed on the venue's poster, signed once;
//! - a **rotating** token, shown on a screen at the venue, naming the
//!   [`ROTATION_SECONDS`] window it was made for.
//!
//! A check-in [`classify`]s a token: a rotating token of the current window (or the
//! one before, allowing for the time to scan) is a fresh scan
//! ([`Presence::Rotating`]); an older or far-future one is stale or replayed
//! ([`Presence::Stale`], a forwarded photo); a poster token is
//! [`Presence::StaticPoster`]. A token whose signature does not verify is forged and
//! one that does not decode is malformed: both are refused.
//!
//! # Canonical bytes (version 1)
//! kind (1: 1 static, 2 rotating), venue id (u8 length + ASCII), then for a static
//! token the issue time (i64 seconds), for a rotating one the window (u64: Unix
//! seconds / 30). Signed with Ed25519 over `"mingma/venue-token/v1" 0x00 || bytes`;
//! the text is [`VENUE_PREFIX`] + unpadded base64url of bytes and signature.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use mingma_core::{Presence, Timestamp, VenueId};

use crate::keys::{parse_seed, random_seed, KeyError};
use crate::wire::{join_signed, signed_message, split_signed, Reader, Writer};

/// What every venue token starts with.
pub const VENUE_PREFIX: &str = "MV1.";
const DOMAIN: &str = "mingma/venue-token/v1";
/// How long a rotating token is shown.
pub const ROTATION_SECONDS: i64 = 30;

/// The window a rotating token made at `t` names.
pub fn window_of(t: Timestamp) -> u64 {
    u64::try_from(t.unix_seconds() / ROTATION_SECONDS).unwrap_or(0)
}

/// The kind of a venue token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueTokenKind {
    /// Printed on the poster; issued at this time.
    Static {
        /// When it was issued.
        issued_at: Timestamp,
    },
    /// Shown on a screen during one window of [`ROTATION_SECONDS`].
    Rotating {
        /// Unix seconds / [`ROTATION_SECONDS`].
        window: u64,
    },
}

/// A venue token's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueToken {
    /// The venue.
    pub venue: VenueId,
    /// Static or rotating.
    pub kind: VenueTokenKind,
}

/// Why a venue token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueTokenError {
    /// It does not decode.
    #[error("malformed venue code: {0}")]
    Malformed(String),
    /// It decodes but was not signed by this service's venue key (or was altered).
    #[error("forged venue code: its signature does not verify")]
    Forged,
}

impl VenueTokenError {
    /// A stable identifier: `venue_token_malformed` or `venue_token_forged`.
    pub fn code(&self) -> &'static str {
        match self {
            VenueTokenError::Malformed(_) => "venue_token_malformed",
            VenueTokenError::Forged => "venue_token_forged",
        }
    }
}

/// The key the service signs venue tokens with.
#[derive(Clone)]
pub struct VenueKey(SigningKey);

impl std::fmt::Debug for VenueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VenueKey(..)")
    }
}

impl VenueKey {
    /// The key with this seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_seed(random_seed()?))
    }

    /// Reads the one-line key file text `mingma-venue-key/1 <seed>`.
    pub fn from_file_text(text: &str) -> Result<Self, KeyError> {
        let mut parts = text.split_whitespace();
        let (Some("mingma-venue-key/1"), Some(seed), None) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed(
                "a venue key file is one line: `mingma-venue-key/1 <base64 seed>`".into(),
            ));
        };
        Ok(Self::from_seed(parse_seed(seed, "venue key file")?))
    }

    /// The key file text (secret).
    pub fn to_file_text(&self) -> String {
        format!("mingma-venue-key/1 {}\n", BASE64.encode(self.0.to_bytes()))
    }

    /// The public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// Signs a token.
    pub fn sign(&self, token: &VenueToken) -> String {
        let payload = token.to_bytes();
        let signature = self.0.sign(&signed_message(DOMAIN, &payload));
        join_signed(VENUE_PREFIX, &payload, &signature.to_bytes())
    }

    /// The poster token of `venue`, issued at `at`.
    pub fn static_token(&self, venue: &VenueId, at: Timestamp) -> String {
        self.sign(&VenueToken {
            venue: venue.clone(),
            kind: VenueTokenKind::Static { issued_at: at },
        })
    }

    /// The rotating token of `venue` for the window containing `at`.
    pub fn rotating_token(&self, venue: &VenueId, at: Timestamp) -> String {
        self.sign(&VenueToken {
            venue: venue.clone(),
            kind: VenueTokenKind::Rotating {
                window: window_of(at),
            },
        })
    }
}

impl VenueToken {
    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self.kind {
            VenueTokenKind::Static { issued_at } => {
                w.u8(1);
                w.str(self.venue.as_str());
                w.time(issued_at);
            }
            VenueTokenKind::Rotating { window } => {
                w.u8(2);
                w.str(self.venue.as_str());
                w.u64(window);
            }
        }
        w.0
    }

    /// Reads canonical bytes; the error names the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let kind = r.u8("kind")?;
        let venue = VenueId::parse(r.str("venue")?).map_err(|e| format!("field `venue`: {e}"))?;
        let kind = match kind {
            1 => VenueTokenKind::Static {
                issued_at: r.time("issued_at")?,
            },
            2 => VenueTokenKind::Rotating {
                window: r.u64("window")?,
            },
            other => return Err(format!("field `kind` is {other}, not 1 or 2")),
        };
        r.finish()?;
        Ok(Self { venue, kind })
    }

    /// Reads and checks a token's signature under `key`.
    pub fn verify(text: &str, key: &VerifyingKey) -> Result<Self, VenueTokenError> {
        let (payload, signature) =
            split_signed(text, VENUE_PREFIX).map_err(VenueTokenError::Malformed)?;
        let token = Self::from_bytes(&payload).map_err(VenueTokenError::Malformed)?;
        key.verify(
            &signed_message(DOMAIN, &payload),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| VenueTokenError::Forged)?;
        Ok(token)
    }
}

/// A check-in's reading of a venue token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    /// The venue.
    pub venue: VenueId,
    /// How strongly the scan assures presence.
    pub presence: Presence,
    /// The token as read.
    pub token: VenueToken,
}

/// Classifies a scanned token at `now`: fresh rotating, static poster, or stale /
/// replayed rotating; forged or malformed tokens are refused.
pub fn classify(
    text: &str,
    key: &VerifyingKey,
    now: Timestamp,
) -> Result<CheckIn, VenueTokenError> {
    Ok(VenueToken::verify(text, key)?.classify(now))
}

impl VenueToken {
    /// Classifies this token, already verified, as scanned at `now` (see [`classify`]).
    pub fn classify(self, now: Timestamp) -> CheckIn {
        let presence = match self.kind {
            VenueTokenKind::Static { .. } => Presence::StaticPoster,
            VenueTokenKind::Rotating { window } => {
                let current = window_of(now);
                // The previous window counts as fresh (time to scan), and the next one
                // too (the screen's clock may run slightly ahead).
                if window.abs_diff(current) <= 1 {
                    Presence::Rotating
                } else {
                    Presence::Stale
                }
            }
        };
        CheckIn {
            venue: self.venue.clone(),
            presence,
            token: self,
        }
    }
}
