//! Instants and durations.
//!
//! Derivation compares and adds times many millions of times, so an instant is a
//! plain count of seconds since the Unix epoch (UTC). Parsing and display go through
//! the `time` crate: input is RFC 3339 with an explicit offset, display is in China
//! Standard Time (UTC+08:00), the zone every provincial system showed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// China Standard Time, the offset used when showing times to people.
const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// Earliest instant accepted from input: 2000-01-01T00:00:00Z.
const MIN_SECONDS: i64 = 946_684_800;
/// Latest instant accepted from input: 2100-01-01T00:00:00Z.
const MAX_SECONDS: i64 = 4_102_444_800;

/// An instant, in whole seconds since 1970-01-01T00:00:00Z.
///
/// Values from input are limited to the years 2000–2099, so adding any
/// [`Span`] accepted by the rule set never overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a text is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not RFC 3339 with an explicit offset.
    #[error("`{0}` is not an RFC 3339 time with an offset (e.g. 2022-06-13T10:00:00+08:00)")]
    Format(String),
    /// Outside the years 2000–2099.
    #[error("`{0}` is outside the years 2000-2099")]
    Range(String),
}

impl Timestamp {
    /// The instant `seconds` after the epoch, if it lies in 2000–2099.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        (MIN_SECONDS..MAX_SECONDS)
            .contains(&seconds)
            .then_some(Self(seconds))
    }

    /// The instant `seconds` after the epoch, clamped into 2000–2099 (for clocks).
    pub fn clamped_unix_seconds(seconds: i64) -> Self {
        Self(seconds.clamp(MIN_SECONDS, MAX_SECONDS - 1))
    }

    /// Seconds since the epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// This instant moved forward by `span`.
    pub fn plus(self, span: Span) -> Self {
        Self(self.0.saturating_add(span.seconds()))
    }

    /// This instant moved back by `span`.
    pub fn minus(self, span: Span) -> Self {
        Self(self.0.saturating_sub(span.seconds()))
    }

    /// This instant moved by `seconds` (negative: back).
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    /// Parses RFC 3339 text with an explicit offset (`Z` or `+08:00`).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimestampError::Format(text.to_owned()))?;
        Self::from_unix_seconds(parsed.unix_timestamp())
            .ok_or_else(|| TimestampError::Range(text.to_owned()))
    }

    fn to_cst(self) -> OffsetDateTime {
        // In range by construction (2000-2099), so this cannot fail; fall back to the
        // epoch rather than panic if it ever did.
        OffsetDateTime::from_unix_timestamp(self.0)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(CST)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in China Standard Time, e.g. `2022-06-13T10:00:00+08:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_cst().format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "@{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A length of time, in whole seconds, at most 10 years.
///
/// Written in rule sets as a number with a unit: `7d`, `24h`, `30m`, `90s`, or a sum
/// such as `1d12h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

/// Why a text is not a [`Span`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration: write a positive number with a unit d, h, m or s (e.g. 7d, 24h, 1d12h), at most 3650d")]
pub struct SpanError(pub String);

impl Span {
    /// The longest span accepted: ten years.
    pub const MAX: Span = Span(3650 * 86_400);
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// `days` whole days.
    pub const fn days(days: i64) -> Self {
        Self(days * 86_400)
    }

    /// `hours` whole hours.
    pub const fn hours(hours: i64) -> Self {
        Self(hours * 3_600)
    }

    /// `minutes` whole minutes.
    pub const fn minutes(minutes: i64) -> Self {
        Self(minutes * 60)
    }

    /// Length in seconds.
    pub const fn seconds(self) -> i64 {
        self.0
    }

    /// Parses `7d`, `24h`, `1d12h`, `30m`, `45s`.
    pub fn parse(text: &str) -> Result<Self, SpanError> {
        let fail = || SpanError(text.to_owned());
        let mut total: i64 = 0;
        let mut number: Option<i64> = None;
        for ch in text.trim().chars() {
            if let Some(digit) = ch.to_digit(10) {
                let so_far = number.unwrap_or(0);
                number = Some(
                    so_far
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(i64::from(digit)))
                        .ok_or_else(fail)?,
                );
                continue;
            }
            let unit = match ch {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(fail()),
            };
            let value = number.take().ok_or_else(fail)?;
            total = value
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(fail)?;
        }
        if number.is_some() || total <= 0 || total > Self::MAX.0 {
            return Err(fail());
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Span {
    /// The shortest form, e.g. `7d`, `1d12h`, `90m` is shown as `1h30m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
            if rest >= unit {
                write!(f, "{}{}", rest / unit, name)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_times_in_china_standard_time() {
        let t = Timestamp::parse("2022-06-13T02:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2022-06-13T10:00:00+08:00");
        assert_eq!(Timestamp::parse("2022-06-13T10:00:00+08:00").unwrap(), t);
    }

    #[test]
    fn refuses_times_without_offset_or_out_of_range() {
        assert!(matches!(
            Timestamp::parse("2022-06-13 10:00"),
            Err(TimestampError::Format(_))
        ));
        assert!(matches!(
            Timestamp::parse("2022-06-13T10:00:00"),
            Err(TimestampError::Format(_))
        ));
        assert!(matches!(
            Timestamp::parse("1999-12-31T23:59:59Z"),
            Err(TimestampError::Range(_))
        ));
    }

    #[test]
    fn spans_parse_and_print() {
        for (text, seconds, shown) in [
            ("7d", 604_800, "7d"),
            ("24h", 86_400, "1d"),
            ("1d12h", 129_600, "1d12h"),
            ("90m", 5_400, "1h30m"),
            ("45s", 45, "45s"),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.seconds(), seconds, "{text}");
            assert_eq!(span.to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "0d",
            "7w",
            "3651d",
            "99999999999999999999d",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
