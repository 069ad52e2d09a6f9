//! `connection.url`: a JDBC url (as Debezium's JDBC sink takes it) or a sqlx url.
//!
//! A PostgreSQL url's parameters are translated to what sqlx reads: libpq's TLS parameters
//! (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) pass through, pgjdbc's `ssl=true` means
//! `verify-full` as it does in pgjdbc, and parameters only the JDBC driver knows are dropped
//! (listed by `validate`) rather than handed to sqlx, which would log their values.

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
    /// JDBC url parameters sqlx has no use for, dropped (names only: values may be secrets).
    pub ignored: Vec<String>,
}

/// libpq's `sslmode` values, in libpq's order of strictness.
pub const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// PostgreSQL url parameters sqlx reads (libpq names).
const PG_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "user",
    "password",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "application_name",
    "options",
    "statement-cache-capacity",
];

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
            return postgres(rest);
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("the sqlite url names no file".into());
            }
            return Ok(TargetUrl {
                dialect: Dialect::Sqlite,
                url: format!("sqlite:{path}"),
                ignored: Vec::new(),
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

    /// Sets a PostgreSQL url parameter (`sslmode`, `sslrootcert`, ...), replacing the url's own:
    /// connector keys such as `sluice.connection.sslmode` win over the url.
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<(), String> {
        if self.dialect != Dialect::Postgres {
            return Err(format!("{name} applies to PostgreSQL targets only"));
        }
        check_param(name, value)?;
        let (base, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let mut pairs: Vec<(String, String)> = query_pairs(query)
            .filter(|(k, _)| *k != name)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push((name.to_string(), encode(value)));
        self.url = join(base, &pairs);
        Ok(())
    }

    /// The `sslmode` in effect (`prefer` when the url names none, as libpq).
    pub fn ssl_mode(&self) -> &str {
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        query_pairs(query)
            .find(|(k, _)| *k == "sslmode")
            .and_then(|(_, v)| SSL_MODES.iter().find(|m| **m == v))
            .copied()
            .unwrap_or("prefer")
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

/// A PostgreSQL url after the scheme: JDBC parameters translated to libpq's.
fn postgres(rest: &str) -> Result<TargetUrl, String> {
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut pairs = Vec::new();
    let mut ignored = Vec::new();
    let mut jdbc_ssl = None;
    for (name, value) in query_pairs(query) {
        match name {
            // pgjdbc: `ssl=true` without an sslmode verifies the certificate and host name.
            "ssl" => jdbc_ssl = Some(value.eq_ignore_ascii_case("true")),
            "ApplicationName" => pairs.push(("application_name".to_string(), value.to_string())),
            n if PG_PARAMS.contains(&n) => {
                check_param(n, value)?;
                pairs.push((n.to_string(), value.to_string()));
            }
            n => ignored.push(n.to_string()),
        }
    }
    if let Some(ssl) = jdbc_ssl {
        if !pairs.iter().any(|(k, _)| k == "sslmode") {
            let mode = if ssl { "verify-full" } else { "disable" };
            pairs.push(("sslmode".to_string(), mode.to_string()));
        }
    }
    Ok(TargetUrl {
        dialect: Dialect::Postgres,
        url: join(&format!("postgres://{base}"), &pairs),
        ignored,
    })
}

/// Refuses values sqlx would misread: an unknown `sslmode`, an empty file name.
fn check_param(name: &str, value: &str) -> Result<(), String> {
    match name {
        "sslmode" if !SSL_MODES.contains(&value) => Err(format!(
            "sslmode '{value}' is not one of {}",
            SSL_MODES.join(", ")
        )),
        "sslrootcert" | "sslcert" | "sslkey" if value.is_empty() => {
            Err(format!("{name} names no file"))
        }
        _ => Ok(()),
    }
}

/// `name=value` pairs of a url query (values left percent-encoded).
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn join(base: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return base.to_string();
    }
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base}?{}", query.join("&"))
}

/// Percent-encodes what would end a query value (a file path may hold `&`, `#`, `%`, spaces).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
    fn tls_parameters_translate_from_jdbc() {
        let url = |raw: &str| TargetUrl::parse(raw).unwrap();
        let pg = url("jdbc:postgresql://h:5432/db?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(
            pg.url,
            "postgres://h:5432/db?sslmode=require&sslrootcert=/ca.pem"
        );
        assert_eq!(pg.ssl_mode(), "require");
        // pgjdbc's ssl=true verifies the server, unless sslmode says otherwise.
        assert_eq!(
            url("jdbc:postgresql://h/db?ssl=true").ssl_mode(),
            "verify-full"
        );
        assert_eq!(
            url("jdbc:postgresql://h/db?ssl=true&sslmode=require").ssl_mode(),
            "require"
        );
        assert_eq!(
            url("jdbc:postgresql://h/db?ssl=false").ssl_mode(),
            "disable"
        );
        assert_eq!(url("postgres://h/db").ssl_mode(), "prefer");
        // JDBC-only parameters are dropped by name, never handed to sqlx (which logs values).
        let jdbc = url(
            "jdbc:postgresql://h/db?reWriteBatchedInserts=true&sslpassword=x&ApplicationName=a",
        );
        assert_eq!(jdbc.ignored, vec!["reWriteBatchedInserts", "sslpassword"]);
        assert_eq!(jdbc.url, "postgres://h/db?application_name=a");
        assert!(TargetUrl::parse("jdbc:postgresql://h/db?sslmode=strict")
            .unwrap_err()
            .contains("sslmode 'strict'"));
    }

    #[test]
    fn connector_keys_replace_url_parameters() {
        let mut pg = TargetUrl::parse("postgres://h/db?sslmode=disable&user=u").unwrap();
        pg.set_param("sslmode", "verify-ca").unwrap();
        pg.set_param("sslrootcert", "/certs/my ca&x.pem").unwrap();
        assert_eq!(pg.ssl_mode(), "verify-ca");
        assert_eq!(
            pg.url,
            "postgres://h/db?user=u&sslmode=verify-ca&sslrootcert=/certs/my%20ca%26x.pem"
        );
        assert!(pg.set_param("sslmode", "bogus").is_err());
        let mut lite = TargetUrl::parse("sqlite:x.db").unwrap();
        assert!(lite.set_param("sslmode", "require").is_err());
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
