//! The little URL handling this crate needs: pointing a `postgresql://` URL at another
//! database, percent-encoding, and keeping passwords out of messages.

use crate::PgTestError;

/// A `postgresql://` or `postgres://` URL split where the database name goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgUrl {
    /// `scheme://authority`.
    prefix: String,
    /// The query parameters other than `dbname`, as written.
    params: Vec<String>,
}

impl PgUrl {
    /// Splits `url`; only the URL form is accepted (not `key=value` strings).
    pub fn parse(url: &str) -> Result<Self, PgTestError> {
        let bad = |reason: &str| PgTestError::BadUrl {
            url: redact(url),
            reason: reason.into(),
        };
        let scheme_end = url
            .find("://")
            .ok_or_else(|| bad("expected postgresql://…"))?;
        let scheme = &url[..scheme_end];
        if scheme != "postgresql" && scheme != "postgres" {
            return Err(bad("the scheme must be postgresql:// or postgres://"));
        }
        let after = scheme_end + 3;
        let rest = &url[after..];
        let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let prefix = url[..after + authority_len].to_owned();
        let rest = &rest[authority_len..];
        let query = rest.find('?').map(|i| &rest[i + 1..]).unwrap_or("");
        let params = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
            .map(str::to_owned)
            .collect();
        Ok(PgUrl { prefix, params })
    }

    /// The same server and options, database `database`.
    pub fn with_database(&self, database: &str) -> String {
        let mut url = format!("{}/{}", self.prefix, encode(database, false));
        if !self.params.is_empty() {
            url.push('?');
            url.push_str(&self.params.join("&"));
        }
        url
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and `/`, if
/// `keep_slash`, for socket paths in a `host=` parameter).
pub(crate) fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let authority_end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@') {
            let userinfo = &out[start..start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|p| {
                if p.starts_with("password=") {
                    "password=***".to_owned()
                } else {
                    p.to_owned()
                }
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_options_kept() {
        let u = PgUrl::parse("postgresql://postgres@/postgres?host=/tmp/x&port=5433").unwrap();
        assert_eq!(
            u.with_database("t_1"),
            "postgresql://postgres@/t_1?host=/tmp/x&port=5433"
        );
        let u = PgUrl::parse("postgres://u:p@db.example:5432").unwrap();
        assert_eq!(
            u.with_database("a b"),
            "postgres://u:p@db.example:5432/a%20b"
        );
        let u = PgUrl::parse("postgresql://h/x?dbname=y&sslmode=disable").unwrap();
        assert_eq!(u.with_database("z"), "postgresql://h/z?sslmode=disable");
        let u = PgUrl::parse("postgresql://h?application_name=t").unwrap();
        assert_eq!(u.with_database("z"), "postgresql://h/z?application_name=t");
    }

    #[test]
    fn only_postgres_urls() {
        assert!(PgUrl::parse("host=/tmp dbname=x").is_err());
        let err = PgUrl::parse("mysql://u:secret@h/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgresql://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("/tmp/a b,c", true), "/tmp/a%20b%2Cc");
        assert_eq!(encode("/tmp", false), "%2Ftmp");
        assert_eq!(encode("t_1-x.y~", false), "t_1-x.y~");
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgresql://u:pw@h:5/d"),
            "postgresql://u:***@h:5/d"
        );
        assert_eq!(redact("postgresql://u@h/d"), "postgresql://u@h/d");
        assert_eq!(
            redact("postgresql://h/d?user=u&password=pw&port=1"),
            "postgresql://h/d?user=u&password=***&port=1"
        );
    }
}
