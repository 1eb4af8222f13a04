//! Who a record is about: national ID numbers and the pseudonymous person key.
//!
//! The platform keys people by [`PersonKey`], a keyed hash (HMAC-SHA-256) of the
//! national ID number, so that evidence, scans and codes can be joined without the ID
//! number itself being stored next to them (principle 7). Whoever holds the
//! [`PseudonymKey`] can compute a person's key from an ID card; nobody can reverse it.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

/// A resident identity card number (公民身份号码) checked against GB 11643-1999:
/// six-digit address code, eight-digit birth date, three-digit sequence number and a
/// check character (`0`-`9` or `X`) computed with ISO 7064 MOD 11-2.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

/// Why a text is not a valid national ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    /// Not 18 characters.
    #[error("an ID number has 18 characters, this one has {0}")]
    Length(usize),
    /// A character other than a digit where one is required.
    #[error("character {position} of the ID number must be a digit")]
    NotDigit {
        /// 1-based position of the offending character.
        position: usize,
    },
    /// The eight-digit birth date is not a real date.
    #[error("the birth date {0} in the ID number is not a valid date")]
    BirthDate(String),
    /// The check character does not match.
    #[error("the check character of the ID number is `{found}`, but the first 17 digits give `{expected}`")]
    CheckDigit {
        /// Character found at position 18.
        found: char,
        /// Character the first 17 digits require.
        expected: char,
    },
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl NationalId {
    /// Checks `text` (a lower-case `x` is accepted and stored upper-case).
    pub fn parse(text: &str) -> Result<Self, NationalIdError> {
        let chars: Vec<char> = text.trim().chars().collect();
        if chars.len() != 18 {
            return Err(NationalIdError::Length(chars.len()));
        }
        let mut sum = 0;
        for (i, (ch, weight)) in chars.iter().zip(WEIGHTS).enumerate() {
            let digit = ch
                .to_digit(10)
                .ok_or(NationalIdError::NotDigit { position: i + 1 })?;
            sum += digit * weight;
        }
        let birth: String = chars[6..14].iter().collect();
        if !is_valid_birth_date(&birth) {
            return Err(NationalIdError::BirthDate(birth));
        }
        let expected = CHECK_CHARS[(sum % 11) as usize];
        let found = chars[17].to_ascii_uppercase();
        if found != expected {
            return Err(NationalIdError::CheckDigit { found, expected });
        }
        let mut canonical: String = chars[..17].iter().collect();
        canonical.push(found);
        Ok(Self(canonical))
    }

    /// The number as written on the card.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters, which a checkpoint compares with the ID card shown.
    pub fn last_four(&self) -> &str {
        &self.0[14..]
    }
}

fn is_valid_birth_date(yyyymmdd: &str) -> bool {
    let number = |range: std::ops::Range<usize>| yyyymmdd[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(4..6), number(6..8)) else {
        return false;
    };
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days_in_month
}

impl fmt::Debug for NationalId {
    /// Debug output never prints a whole ID number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId(**************{})", self.last_four())
    }
}

impl FromStr for NationalId {
    type Err = NationalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for NationalId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NationalId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The secret key of the pseudonym function. Whoever holds it can link an ID number
/// to its [`PersonKey`]; it lives in the service's key store, never in the database.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hexadecimal digits (how it is kept in configuration).
    pub fn parse_hex(text: &str) -> Result<Self, crate::hex::HexError> {
        crate::hex::from_hex(text.trim()).map(Self)
    }

    /// The pseudonymous key of the holder of `id`.
    pub fn person_key(&self, id: &NationalId) -> PersonKey {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"mingma/person/v1\0");
        mac.update(id.as_str().as_bytes());
        PersonKey(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// A person's pseudonym: HMAC-SHA-256 of the ID number under the [`PseudonymKey`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonKey([u8; 32]);

/// Why a text is not a [`PersonKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a person key is 64 hexadecimal digits")]
pub struct PersonKeyError;

impl PersonKey {
    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hexadecimal digits.
    pub fn parse_hex(text: &str) -> Result<Self, PersonKeyError> {
        crate::hex::from_hex(text)
            .map(Self)
            .map_err(|_| PersonKeyError)
    }

    /// The first eight hexadecimal digits, enough to tell people apart on a screen.
    pub fn short(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hex::to_hex(&self.0, f)
    }
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonKey({})", self.short())
    }
}

impl Serialize for PersonKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PersonKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid number from 17 digits by computing its check character.
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .chars()
            .zip(WEIGHTS)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        format!("{first17}{}", CHECK_CHARS[(sum % 11) as usize])
    }

    #[test]
    fn accepts_the_standard_example() {
        // The worked example of GB 11643-1999, annex A.
        let id = NationalId::parse("11010519491231002X").unwrap();
        assert_eq!(id.last_four(), "002X");
        assert_eq!(
            NationalId::parse("11010519491231002x").unwrap().as_str(),
            "11010519491231002X"
        );
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(NationalId::parse("4101"), Err(NationalIdError::Length(4)));
        assert_eq!(
            NationalId::parse("41010219900A07123X"),
            Err(NationalIdError::NotDigit { position: 12 })
        );
        assert_eq!(
            NationalId::parse(&with_check("41010219900230123")),
            Err(NationalIdError::BirthDate("19900230".into()))
        );
        assert!(matches!(
            NationalId::parse("110105194912310021"),
            Err(NationalIdError::CheckDigit {
                found: '1',
                expected: 'X'
            })
        ));
    }

    #[test]
    fn leap_days_are_checked() {
        assert!(NationalId::parse(&with_check("41010220000229123")).is_ok());
        assert!(NationalId::parse(&with_check("41010219000229123")).is_err());
    }

    #[test]
    fn person_keys_depend_on_the_secret_and_round_trip() {
        let id = NationalId::parse("11010519491231002X").unwrap();
        let a = PseudonymKey::from_bytes([1; 32]).person_key(&id);
        let b = PseudonymKey::from_bytes([2; 32]).person_key(&id);
        assert_ne!(a, b);
        assert_eq!(PersonKey::parse_hex(&a.to_string()), Ok(a));
        assert_eq!(PersonKey::parse_hex(&"+f".repeat(32)), Err(PersonKeyError));
        assert!(!format!("{id:?}").contains("110105"));
    }
}
