//! Signed tokens: what a holder shows at a checkpoint and what a venue displays.
//!
//! - [`CheckpointCode`] (数字哨兵): a short-lived, Ed25519-signed statement of a
//!   holder's colour, made of canonical bytes (see [`code`]) and encoded for a QR
//!   code. A checkpoint verifies it offline against a [`TrustList`] of issuer keys
//!   and gets the colour and "valid as of", or a precise [`Refusal`].
//! - [`VenueToken`]: the static token printed on a venue's poster and the rotating
//!   token a screen at the venue shows (a new one every [`ROTATION_SECONDS`]). A
//!   check-in classifies it as fresh, static, or stale/replayed
//!   ([`Presence`](mingma_core::Presence)); a forged or malformed token is refused.
//!
//! Every token is domain-separated bytes signed with Ed25519; every decoder is strict
//! (no trailing bytes, lengths checked) and never panics on any input (property
//! tested).
//!
//! # What this crate must never do
//! Decide a colour: a checkpoint code carries a colour that `mingma_core::derive`
//! decided; this crate only signs and checks statements. No IO, no clock: every time
//! is an argument.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod code;
pub mod keys;
pub mod trust;
pub mod venue;
mod wire;

pub use code::{CheckpointCode, Refusal, VerifiedCode, CODE_PREFIX};
pub use keys::{IssuerKey, KeyError};
pub use trust::{TrustList, TrustListError, TrustedIssuer};
pub use venue::{
    classify, CheckIn, VenueKey, VenueToken, VenueTokenError, VenueTokenKind, ROTATION_SECONDS,
    VENUE_PREFIX,
};
