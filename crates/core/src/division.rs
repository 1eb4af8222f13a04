//! GB/T 2260 administrative divisions: the jurisdictions officials act in and the
//! addresses of venues.
//!
//! The table of real codes (province 41, city 4101, district 410102, street
//! 410102001) ships inside the binary (`data/divisions.tsv`, 44,703 divisions) and
//! is parsed once, on first use, into one sorted array.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const TABLE: &str = include_str!("../data/divisions.tsv");

/// The level of a division, which the length of its code tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 省级: 2 digits.
    Province,
    /// 地级 (city, prefecture): 4 digits.
    City,
    /// 县级 (district, county): 6 digits.
    District,
    /// 乡级 (street, town): 9 digits.
    Street,
}

impl Level {
    fn digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::District => 6,
            Level::Street => 9,
        }
    }

    fn from_digits(digits: usize) -> Option<Self> {
        match digits {
            2 => Some(Level::Province),
            4 => Some(Level::City),
            6 => Some(Level::District),
            9 => Some(Level::Street),
            _ => None,
        }
    }
}

/// A division that exists in the shipped GB/T 2260 table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jurisdiction {
    level: Level,
    code: u32,
}

/// Why a text is not a known division.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JurisdictionError {
    /// Not 2, 4, 6 or 9 digits.
    #[error("`{0}` is not a GB/T 2260 code: use 2 (province), 4 (city), 6 (district) or 9 (street) digits")]
    Format(String),
    /// Well-formed but not in the table.
    #[error("`{0}` is not a known GB/T 2260 division")]
    Unknown(String),
}

struct Entry {
    level: Level,
    code: u32,
    name: &'static str,
}

fn table() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let mut entries: Vec<Entry> = TABLE
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| {
                let (code, name) = line.split_once('\t')?;
                Some(Entry {
                    level: Level::from_digits(code.len())?,
                    code: code.parse().ok()?,
                    name,
                })
            })
            .collect();
        entries.sort_by_key(|e| (e.level, e.code));
        entries
    })
}

fn find(level: Level, code: u32) -> Option<&'static Entry> {
    let entries = table();
    entries
        .binary_search_by_key(&(level, code), |e| (e.level, e.code))
        .ok()
        .map(|i| &entries[i])
}

impl Jurisdiction {
    /// Parses a code and checks that the division exists.
    pub fn parse(text: &str) -> Result<Self, JurisdictionError> {
        let text = text.trim();
        let level = Level::from_digits(text.len())
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| JurisdictionError::Format(text.to_owned()))?;
        let code: u32 = text
            .parse()
            .map_err(|_| JurisdictionError::Format(text.to_owned()))?;
        find(level, code)
            .map(|e| Self {
                level: e.level,
                code: e.code,
            })
            .ok_or_else(|| JurisdictionError::Unknown(text.to_owned()))
    }

    /// Province, city, district or street.
    pub fn level(self) -> Level {
        self.level
    }

    /// The division's name in the table (e.g. 中原区).
    pub fn name(self) -> &'static str {
        find(self.level, self.code).map_or("", |e| e.name)
    }

    /// The enclosing division: street → district → city → province → none.
    ///
    /// A parent missing from the table is skipped (a few cities have districts
    /// directly under them), so the chain always ends at a province.
    pub fn parent(self) -> Option<Jurisdiction> {
        let mut level = self.level;
        let mut code = self.code;
        loop {
            let (up, divisor) = match level {
                Level::Province => return None,
                Level::City => (Level::Province, 100),
                Level::District => (Level::City, 100),
                Level::Street => (Level::District, 1000),
            };
            level = up;
            code /= divisor;
            if let Some(e) = find(level, code) {
                return Some(Self {
                    level: e.level,
                    code: e.code,
                });
            }
        }
    }

    /// This division and every division above it, nearest first.
    pub fn chain(self) -> impl Iterator<Item = Jurisdiction> {
        std::iter::successors(Some(self), |j| j.parent())
    }

    /// Whether `other` is this division or lies inside it.
    pub fn contains(self, other: Jurisdiction) -> bool {
        if other.level < self.level {
            return false;
        }
        let shift = other.level.digits() - self.level.digits();
        other.code / 10u32.pow(shift as u32) == self.code
    }

    /// The divisions directly or indirectly inside this one at `level`.
    pub fn descendants(self, level: Level) -> impl Iterator<Item = Jurisdiction> {
        table()
            .iter()
            .filter(move |e| e.level == level)
            .map(|e| Jurisdiction {
                level: e.level,
                code: e.code,
            })
            .filter(move |j| self.contains(*j))
    }

    /// The full name from the province down, e.g. 河南省 郑州市 中原区.
    pub fn full_name(self) -> String {
        let mut names: Vec<&str> = self.chain().map(|j| j.name()).collect();
        names.reverse();
        names.join(" ")
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.code, width = self.level.digits())
    }
}

impl fmt::Debug for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jurisdiction({self} {})", self.name())
    }
}

impl Serialize for Jurisdiction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Jurisdiction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zhengzhou_chain() {
        let street = Jurisdiction::parse("410102001").unwrap();
        let chain: Vec<String> = street.chain().map(|j| j.to_string()).collect();
        assert_eq!(chain, ["410102001", "410102", "4101", "41"]);
        assert_eq!(street.parent().unwrap().name(), "中原区");
        assert_eq!(Jurisdiction::parse("4101").unwrap().name(), "郑州市");
        assert!(street.full_name().starts_with("河南省 郑州市 中原区 "));
    }

    #[test]
    fn containment_follows_the_code_prefix() {
        let henan = Jurisdiction::parse("41").unwrap();
        let zhengzhou = Jurisdiction::parse("4101").unwrap();
        let street = Jurisdiction::parse("410102001").unwrap();
        let beijing = Jurisdiction::parse("11").unwrap();
        assert!(henan.contains(street) && zhengzhou.contains(street));
        assert!(street.contains(street));
        assert!(!street.contains(zhengzhou));
        assert!(!beijing.contains(street));
    }

    #[test]
    fn the_whole_table_is_loaded_and_every_parent_chain_ends_at_a_province() {
        assert_eq!(table().len(), 44_703);
        for e in table() {
            let j = Jurisdiction {
                level: e.level,
                code: e.code,
            };
            assert_eq!(j.chain().last().unwrap().level(), Level::Province, "{j:?}");
        }
    }

    #[test]
    fn unknown_and_malformed_codes_are_refused() {
        assert_eq!(
            Jurisdiction::parse("419999"),
            Err(JurisdictionError::Unknown("419999".into()))
        );
        for bad in ["4", "41010", "41a1", "4101020011"] {
            assert!(matches!(
                Jurisdiction::parse(bad),
                Err(JurisdictionError::Format(_))
            ));
        }
        let districts = Jurisdiction::parse("4101")
            .unwrap()
            .descendants(Level::District);
        assert!(districts.count() >= 12);
    }
}
