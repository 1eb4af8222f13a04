//! Identifiers of records, authorities, officials, venues and data sources.
//!
//! Identifiers are chosen by whoever creates the thing (a lab's sample number, a
//! customs declaration number), so they are checked once, here: 1 to 64 characters
//! from `A-Z a-z 0-9 - _ . :`. That keeps them safe in URLs, file names and logs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what}: use 1-64 characters from A-Z a-z 0-9 - _ . :")]
pub struct IdError {
    /// What kind of identifier was expected.
    pub what: &'static str,
    /// The text that was refused (cut to 80 characters).
    pub text: String,
}

fn check(what: &'static str, text: &str) -> Result<(), IdError> {
    let ok = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(IdError {
            what,
            text: text.chars().take(80).collect(),
        })
    }
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Kept inline when it is at most 23 bytes (most are), so that a copy
        /// allocates nothing: derivation copies ids into every decision.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(smol_str::SmolStr);

        impl $name {
            /// Checks `text` and wraps it.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check($what, text).map(|()| Self(smol_str::SmolStr::new(text)))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// The identifier of an evidence record, unique across the platform.
    RecordId,
    "record id"
);
identifier!(
    /// The identifier of an authority (a health commission, a customs office, a CDC).
    AuthorityId,
    "authority id"
);
identifier!(
    /// The identifier of a person acting for an authority: an official's account.
    OfficialId,
    "official id"
);
identifier!(
    /// The identifier of a venue that displays a scan code.
    VenueId,
    "venue id"
);
identifier!(
    /// The identifier of a registered external data source (a lab, a customs post, a
    /// case-reporting unit) whose records are signed with its registered key.
    DataSourceId,
    "data source id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(RecordId::parse("lab-01:2022-06-13.0001").is_ok());
        for bad in ["", "has space", "斜杠", "a/b", &"x".repeat(65)] {
            let err = RecordId::parse(bad).unwrap_err();
            assert_eq!(err.what, "record id");
        }
    }
}
