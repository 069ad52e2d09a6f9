//! `connection.url`: a JDBC url (as Debezium's JDBC sink takes it) or a sqlx url.

use std::fmt;

/// The SQL dialect of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Postgres => "postgresql",
            Dialect::Sqlite => "sqlite",
        })
    }
}

/// A target database URL in sqlx form, with its dialect.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// The dialect.
    pub dialect: Dialect,
    /// The sqlx connection URL (may contain credentials: never print it, use [`TargetUrl::redact`]).
    pub url: String,
}

impl fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetUrl({})", Self::redact(&self.url))
    }
}

impl TargetUrl {
    /// Parses a JDBC or sqlx URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let url = raw.strip_prefix("jdbc:").unwrap_or(raw);
        if let Some(rest) = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
        {
            return Ok(TargetUrl {
                dialect: Dialect::Postgres,
                url: format!("postgres://{rest}"),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("the sqlite url names no file".into());
            }
            return Ok(TargetUrl {
                dialect: Dialect::Sqlite,
                url: format!("sqlite:{path}"),
            });
        }
        if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            return Err("MySQL targets are not supported yet".into());
        }
        Err(format!(
            "'{}' is not a PostgreSQL or SQLite url (jdbc:postgresql://host:port/db, postgres://..., sqlite:path)",
            Self::redact(raw)
        ))
    }

    /// The URL with any password (userinfo or `password=` parameter) replaced, for display.
    pub fn redact(raw: &str) -> String {
        let mut shown = raw.to_string();
        if let Some(scheme_end) = shown.find("://") {
            let after = scheme_end + 3;
            if let Some(at) = shown[after..].find('@').map(|i| i + after) {
                if let Some(colon) = shown[after..at].find(':').map(|i| i + after) {
                    shown.replace_range(colon + 1..at, "[redacted]");
                }
            }
        }
        if let Some(start) = shown.find("password=") {
            let value_start = start + "password=".len();
            let end = shown[value_start..]
                .find('&')
                .map(|i| i + value_start)
                .unwrap_or(shown.len());
            shown.replace_range(value_start..end, "[redacted]");
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_and_sqlx_urls() {
        let pg = TargetUrl::parse("jdbc:postgresql://db:5432/inventory?user=u").unwrap();
        assert_eq!(pg.dialect, Dialect::Postgres);
        assert_eq!(pg.url, "postgres://db:5432/inventory?user=u");
        let lite = TargetUrl::parse("jdbc:sqlite:/tmp/x.db").unwrap();
        assert_eq!(
            (lite.dialect, lite.url.as_str()),
            (Dialect::Sqlite, "sqlite:/tmp/x.db")
        );
        assert_eq!(
            TargetUrl::parse("sqlite://rel.db").unwrap().url,
            "sqlite:rel.db"
        );
        assert!(TargetUrl::parse("jdbc:mysql://h/db")
            .unwrap_err()
            .contains("MySQL"));
        assert!(TargetUrl::parse("http://x").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let shown = TargetUrl::redact("postgres://bob:hunter2@h/db?password=hunter2&x=1");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("bob") && shown.contains("x=1"));
        let debug = format!("{:?}", TargetUrl::parse("postgres://a:pw@h/d").unwrap());
        assert!(!debug.contains("pw@"), "{debug}");
    }
}
