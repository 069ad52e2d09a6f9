//! Connect's `listeners` worker key: where `sluice worker` serves the REST API.
//!
//! Connect accepts a comma-separated list of `protocol://host:port` (Apache Kafka's
//! `RestServer.LISTENER_PATTERN`: the protocol `http` or `https` in any case, a host of
//! `[0-9a-zA-Z-%._:]`, IPv6 in brackets, nothing after the port). sluice serves every entry,
//! `https` ones with the TLS settings of `api::tls`. Connect binds every interface for an
//! empty host (`HTTP://:8083`, its default);
//! sluice binds the loopback interface instead, so a worker is never exposed by accident:
//! write `http://0.0.0.0:8083` (or `http://[::]:8083`) to listen on every interface.

use std::fmt;

/// Where Connect listens when `listeners` is not set (and where sluice does, on loopback).
pub const DEFAULT_LISTENERS: &str = "http://127.0.0.1:8083";

/// What an empty host means to sluice: loopback, never every interface.
const EMPTY_HOST: &str = "127.0.0.1";

/// One listener: HTTP or HTTPS, a host (name or address, resolved when bound) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `https://`: served over TLS.
    pub https: bool,
    /// A host name or an IP address, IPv6 without brackets.
    pub host: String,
    /// The port; 0 picks a free one (tests).
    pub port: u16,
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            https: false,
            host: EMPTY_HOST.to_string(),
            port: 8083,
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl Listener {
    /// Parses the `listeners` value: every entry must be well formed, and each is served,
    /// in order. The error names the entry and what is wrong with it.
    pub fn parse_all(listeners: &str) -> Result<Vec<Listener>, String> {
        let all = listeners
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(parse_one)
            .collect::<Result<Vec<_>, _>>()?;
        if all.is_empty() {
            return Err("listeners is empty: give at least one http://host:port".into());
        }
        Ok(all)
    }

    /// The address to bind, as `tokio::net::TcpListener::bind` takes it (names resolved).
    pub fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }
}

/// One entry: `http` or `https`, a host and a port.
fn parse_one(entry: &str) -> Result<Listener, String> {
    let wrong = |why: &str| format!("listener {entry}: {why} (expected http://host:port)");
    let (scheme, rest) = entry
        .split_once("://")
        .ok_or_else(|| wrong("no protocol"))?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return Err(wrong("the protocol must be http or https")),
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| wrong("no closing ]"))?;
            let port = after.strip_prefix(':').ok_or_else(|| wrong("no port"))?;
            (host, port)
        }
        None => rest.rsplit_once(':').ok_or_else(|| wrong("no port"))?,
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-%._:".contains(c);
    if !host.chars().all(allowed) {
        return Err(wrong("the host has a character a host name cannot have"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| wrong("the port must be a number from 0 to 65535"))?;
    let host = if host.is_empty() { EMPTY_HOST } else { host };
    Ok(Listener {
        https,
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(host: &str, port: u16) -> Listener {
        Listener {
            https: false,
            host: host.into(),
            port,
        }
    }

    fn parse(listeners: &str) -> Result<Listener, String> {
        Listener::parse_all(listeners).map(|all| all[0].clone())
    }

    #[test]
    fn connects_forms() {
        assert_eq!(parse(DEFAULT_LISTENERS), Ok(Listener::default()));
        assert_eq!(parse("HTTP://:8083"), Ok(at("127.0.0.1", 8083)));
        assert_eq!(parse("http://0.0.0.0:9000"), Ok(at("0.0.0.0", 9000)));
        assert_eq!(parse("http://[::1]:8083"), Ok(at("::1", 8083)));
        assert_eq!(parse("http://[]:8083"), Ok(at("127.0.0.1", 8083)));
        assert_eq!(
            parse("http://connect-1.internal:8083"),
            Ok(at("connect-1.internal", 8083))
        );
        assert_eq!(parse("http://localhost:0"), Ok(at("localhost", 0)));
    }

    #[test]
    fn every_entry_is_served_in_order() {
        let secure = Listener {
            https: true,
            ..at("127.0.0.1", 8443)
        };
        assert_eq!(
            Listener::parse_all("HTTPS://:8443, http://a:1,http://b:2"),
            Ok(vec![secure, at("a", 1), at("b", 2)])
        );
        assert_eq!(Listener::parse_all(" ,http://a:1,"), Ok(vec![at("a", 1)]));
    }

    #[test]
    fn refuses_what_connect_refuses() {
        for bad in [
            "localhost:8083",
            "ftp://a:1",
            "http://a",
            "http://a:port",
            "http://a:-1",
            "http://a:65536",
            "http://a:8083/path",
            "http://[::1:8083",
            "http://a b:1",
            "http://a:1,nonsense",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(error.contains("listener"), "{bad}: {error}");
        }
        assert!(parse("").is_err());
        assert!(parse(" , ").is_err());
    }

    #[test]
    fn displays_as_a_url() {
        assert_eq!(at("::1", 1).to_string(), "http://[::1]:1");
        let secure = Listener {
            https: true,
            ..at("a", 2)
        };
        assert_eq!(secure.to_string(), "https://a:2");
        assert_eq!(Listener::default().to_string(), DEFAULT_LISTENERS);
    }
}
