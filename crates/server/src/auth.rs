//! Who a holder is: checked values (phone number, name), the one-time-code channel
//! and the identity verifier (traits, so an SMS gateway and a real-name provider plug
//! in), and session tokens.

use std::future::Future;
use std::pin::Pin;

use mingma_core::NationalId;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// A boxed future, for the dyn-compatible traits below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A mainland mobile number: 11 digits starting with 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number (spaces and dashes ignored).
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() == 11
            && digits.starts_with('1')
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Self(digits))
        } else {
            Err(AppError::bad_request(
                "malformed_phone",
                format!("phone number {text:?} is not 11 digits starting with 1"),
            ))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked for display: `138****1234`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// A holder's name as given: 1 to 32 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderName(String);

impl HolderName {
    /// Parses a name (trimmed).
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let name = text.trim();
        let count = name.chars().count();
        if (1..=32).contains(&count) && !name.chars().any(char::is_control) {
            Ok(Self(name.to_owned()))
        } else {
            Err(AppError::bad_request(
                "malformed_name",
                "the name must be 1 to 32 characters without control characters",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an ID number, answering a clear 400.
pub fn parse_id(text: &str) -> Result<NationalId, AppError> {
    NationalId::parse(text.trim())
        .map_err(|e| AppError::bad_request("malformed_id_number", format!("ID number: {e}")))
}

/// How a one-time code reached the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent by the channel (an SMS gateway); not shown anywhere.
    Sent,
    /// The demo channel: shown to whoever asked (on the page and in the log).
    Shown(String),
}

/// Sends one-time codes to phones.
pub trait OtpChannel: Send + Sync + 'static {
    /// Sends `code` to `phone`.
    fn send<'a>(
        &'a self,
        phone: &'a Phone,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Delivery, String>>;
}

/// The demo channel: logs the code and lets the page show it. Never for production.
#[derive(Debug, Default)]
pub struct DemoOtpChannel;

impl OtpChannel for DemoOtpChannel {
    fn send<'a>(
        &'a self,
        phone: &'a Phone,
        code: &'a str,
    ) -> BoxFuture<'a, Result<Delivery, String>> {
        Box::pin(async move {
            tracing::info!(phone = %phone.masked(), code, "demo one-time code (not sent)");
            Ok(Delivery::Shown(code.to_owned()))
        })
    }
}

/// Checks that an ID number belongs to a person of that name (a real-name provider).
pub trait IdentityVerifier: Send + Sync + 'static {
    /// `Ok` if `name` holds `id`; otherwise the reason.
    fn verify<'a>(
        &'a self,
        id: &'a NationalId,
        name: &'a HolderName,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// The demo verifier: every valid ID number (checked when parsed) with any name.
#[derive(Debug, Default)]
pub struct DemoIdentityVerifier;

impl IdentityVerifier for DemoIdentityVerifier {
    fn verify<'a>(
        &'a self,
        _id: &'a NationalId,
        _name: &'a HolderName,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// A random token: 32 bytes in hex.
pub fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal(format!("randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random six-digit code.
pub fn random_otp() -> Result<String, AppError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal(format!("randomness: {e}")))?;
    Ok(format!("{:06}", u64::from_le_bytes(bytes) % 1_000_000))
}

/// SHA-256 of the parts, each length-prefixed (tokens and codes are stored hashed).
pub fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_names_are_checked() {
        assert_eq!(
            Phone::parse("138 0000 1234").unwrap().masked(),
            "138****1234"
        );
        for bad in ["", "2380000123", "1380000123x", "123456789012"] {
            assert_eq!(Phone::parse(bad).unwrap_err().code, "malformed_phone");
        }
        assert!(HolderName::parse(" 张三 ").is_ok());
        assert!(HolderName::parse("").is_err());
        assert!(HolderName::parse(&"x".repeat(33)).is_err());
        assert_eq!(
            parse_id("410102198503121018").unwrap_err().code,
            "malformed_id_number"
        );
    }

    #[test]
    fn otps_are_six_digits() {
        for _ in 0..50 {
            let c = random_otp().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
