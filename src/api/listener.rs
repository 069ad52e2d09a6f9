//! Connect's `listeners` worker key: where `sluice worker` serves the REST API.
//!
//! Connect accepts a comma-separated list of `protocol://host:port` (Apache Kafka's
//! `RestServer.LISTENER_PATTERN`: the protocol `http` or `https` in any case, a host of
//! `[0-9a-zA-Z-%._:]`, IPv6 in brackets, nothing after the port). sluice serves plain HTTP
//! only, on the first `http` entry; `https` entries are checked and skipped (put a TLS proxy
//! in front). Connect binds every interface for an empty host (`HTTP://:8083`, its default);
//! sluice binds the loopback interface instead, so a worker is never exposed by accident:
//! write `http://0.0.0.0:8083` (or `http://[::]:8083`) to listen on every interface.

use std::fmt;

/// Where Connect listens when `listeners` is not set (and where sluice does, on loopback).
pub const DEFAULT_LISTENERS: &str = "http://127.0.0.1:8083";

/// What an empty host means to sluice: loopback, never every interface.
const EMPTY_HOST: &str = "127.0.0.1";

/// One HTTP listener: a host (name or address, resolved when bound) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// A host name or an IP address, IPv6 without brackets.
    pub host: String,
    /// The port; 0 picks a free one (tests).
    pub port: u16,
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            host: EMPTY_HOST.to_string(),
            port: 8083,
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

impl Listener {
    /// Parses the `listeners` value: every entry must be well formed, the first `http` one
    /// is served. The error names the entry and what is wrong with it.
    pub fn parse(listeners: &str) -> Result<Listener, String> {
        let mut first = None;
        let mut any = false;
        for entry in listeners
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            any = true;
            let (https, listener) = parse_one(entry)?;
            if !https && first.is_none() {
                first = Some(listener);
            }
        }
        match first {
            Some(listener) => Ok(listener),
            None if any => Err(format!(
                "listeners={listeners}: sluice serves the REST API over http only; \
                 add an http:// listener and terminate TLS in a proxy"
            )),
            None => Err("listeners is empty: give at least one http://host:port".into()),
        }
    }

    /// The address to bind, as `tokio::net::TcpListener::bind` takes it (names resolved).
    pub fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }
}

/// One entry: whether it is `https`, and its host and port.
fn parse_one(entry: &str) -> Result<(bool, Listener), String> {
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
    Ok((
        https,
        Listener {
            host: host.to_string(),
            port,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(host: &str, port: u16) -> Listener {
        Listener {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn connects_forms() {
        assert_eq!(Listener::parse(DEFAULT_LISTENERS), Ok(Listener::default()));
        assert_eq!(Listener::parse("HTTP://:8083"), Ok(at("127.0.0.1", 8083)));
        assert_eq!(
            Listener::parse("http://0.0.0.0:9000"),
            Ok(at("0.0.0.0", 9000))
        );
        assert_eq!(Listener::parse("http://[::1]:8083"), Ok(at("::1", 8083)));
        assert_eq!(Listener::parse("http://[]:8083"), Ok(at("127.0.0.1", 8083)));
        assert_eq!(
            Listener::parse("http://connect-1.internal:8083"),
            Ok(at("connect-1.internal", 8083))
        );
        assert_eq!(
            Listener::parse("http://localhost:0"),
            Ok(at("localhost", 0))
        );
    }

    #[test]
    fn first_http_entry_wins() {
        assert_eq!(
            Listener::parse("https://:8443, http://a:1,http://b:2"),
            Ok(at("a", 1))
        );
        assert_eq!(Listener::parse(" ,http://a:1,"), Ok(at("a", 1)));
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
            let error = Listener::parse(bad).expect_err(bad);
            assert!(error.contains("listener"), "{bad}: {error}");
        }
        assert!(Listener::parse("https://a:1").is_err());
        assert!(Listener::parse("").is_err());
        assert!(Listener::parse(" , ").is_err());
    }

    #[test]
    fn displays_as_a_url() {
        assert_eq!(at("::1", 1).to_string(), "http://[::1]:1");
        assert_eq!(Listener::default().to_string(), DEFAULT_LISTENERS);
    }
}
