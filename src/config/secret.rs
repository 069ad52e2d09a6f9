//! A string that never prints: passwords and other secrets from connector and worker configs.

use std::fmt;

/// A secret value. `Debug` and `Display` print `[redacted]`, so a secret cannot reach a log
/// line, an error message or the status report by accident; [`Secret::expose`] is the one
/// deliberate way out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for handing to a driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Whether a config key names a secret (its value must be redacted wherever it is shown).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "credentials",
        "user.info",
        "sasl.jaas.config",
        "token",
        "key.pem",
        "keystore.key",
    ]
    .iter()
    .any(|needle| key.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn secret_keys_are_recognised() {
        assert!(is_secret_key("connection.password"));
        assert!(is_secret_key("value.converter.basic.auth.user.info"));
        assert!(is_secret_key("sasl.jaas.config"));
        assert!(!is_secret_key("connection.username"));
    }
}
