//! `sasl.jaas.config`: the Java client's JAAS login module line, read with the grammar Kafka's
//! `JaasConfig` reads it (a `StreamTokenizer`): `Class flag (name=value)* ;` with `//` and
//! `/* */` comments, values quoted with `"` or `'` (escapes `\"`, `\\`, `\n`, octal...) or bare
//! words. Kafka allows exactly one login module. The options become librdkafka settings:
//! PLAIN and SCRAM credentials, or OAUTHBEARER with the unsecured JWT options (a token
//! endpoint needs librdkafka's OIDC support, which needs libcurl: not in sluice's build). No
//! error message carries an option's value.

use std::collections::BTreeMap;
use std::fmt;

const PLAIN: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const OAUTH: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";
const KERBEROS: &str = "com.sun.security.auth.module.Krb5LoginModule";

/// One parsed login module. Options may be secrets: `Debug` shows only their names.
#[derive(Clone, PartialEq)]
pub struct LoginModule {
    /// The login module class.
    pub class: String,
    /// `required`, `requisite`, `sufficient` or `optional` (lower case).
    pub flag: String,
    /// `name=value` options.
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for LoginModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
    Other(char),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() || c.is_control() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                loop {
                    match chars.next() {
                        Some('/') if last == '*' => break,
                        Some(c) => last = c,
                        None => return Err("a /* comment is not closed".into()),
                    }
                }
            }
            '"' | '\'' => tokens.push(Token::Quoted(quoted(c, &mut chars)?)),
            '=' => tokens.push(Token::Equals),
            ';' => tokens.push(Token::Semicolon),
            c if is_word(c) => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if !is_word(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            other => tokens.push(Token::Other(other)),
        }
    }
    Ok(tokens)
}

/// Word characters: StreamTokenizer's letters and digits (with `.`), plus the `-`, `_` and `$`
/// Kafka adds. (Java reads a bare value starting with a digit as a number and refuses it;
/// sluice takes it as the word it is.)
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '$') || (c as u32) >= 0xA0
}

/// A quoted string after its opening quote, with StreamTokenizer's escapes. It ends at the
/// matching quote or, as in Java, at the end of the line.
fn quoted(
    quote: char,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let c = match chars.next() {
            None | Some('\n') | Some('\r') => return Err("a quoted value is not closed".into()),
            Some(c) if c == quote => return Ok(out),
            Some(c) => c,
        };
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some(d @ '0'..='7') => {
                // Up to three octal digits, the first at most 3 when three are read.
                let mut value = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(next) if value * 8 + next <= 0o377 => {
                            value = value * 8 + next;
                            chars.next();
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => return Err("a quoted value is not closed".into()),
        }
    }
}

/// Parses a `sasl.jaas.config` value.
pub fn parse(text: &str) -> Result<LoginModule, String> {
    let mut tokens = tokenize(text)?.into_iter().peekable();
    let mut modules = Vec::new();
    while let Some(token) = tokens.next() {
        let Token::Word(class) = token else {
            return Err("expected a login module class name".into());
        };
        let flag = match tokens.next() {
            Some(Token::Word(flag)) => flag.to_ascii_lowercase(),
            _ => return Err(format!("{class}: the control flag (required) is missing")),
        };
        if !matches!(
            flag.as_str(),
            "required" | "requisite" | "sufficient" | "optional"
        ) {
            return Err(format!("{class}: '{flag}' is not a control flag (required, requisite, sufficient, optional)"));
        }
        let mut options = BTreeMap::new();
        loop {
            match tokens.next() {
                Some(Token::Semicolon) => break,
                Some(Token::Word(name)) => {
                    let value = match (tokens.next(), tokens.next()) {
                        (Some(Token::Equals), Some(Token::Word(v) | Token::Quoted(v))) => v,
                        _ => return Err(format!("{class}: no value for option {name}")),
                    };
                    options.insert(name, value);
                }
                None => return Err(format!("{class}: the entry does not end with ';'")),
                Some(_) => return Err(format!("{class}: expected name=value or ';'")),
            }
        }
        modules.push(LoginModule {
            class,
            flag,
            options,
        });
    }
    match modules.len() {
        1 => Ok(modules.remove(0)),
        0 => Err("no login module".into()),
        n => Err(format!("{n} login modules; Kafka clients take exactly one")),
    }
}

/// The librdkafka settings a login module stands for: `(key, value, secret)`.
pub fn librdkafka_settings(
    module: &LoginModule,
) -> Result<Vec<(&'static str, String, bool)>, String> {
    let option = |name: &str| module.options.get(name).cloned();
    match module.class.as_str() {
        PLAIN | SCRAM => {
            if module.class == SCRAM && option("tokenauth").is_some_and(|t| t == "true") {
                return Err("ScramLoginModule with tokenauth=true (delegation tokens) has no librdkafka equivalent".into());
            }
            let user = option("username").ok_or("the username option is missing")?;
            let password = option("password").ok_or("the password option is missing")?;
            Ok(vec![
                ("sasl.username", user, false),
                ("sasl.password", password, true),
            ])
        }
        OAUTH => unsecured_jwt(module).map(|config| {
            vec![
                ("enable.sasl.oauthbearer.unsecure.jwt", "true".into(), false),
                ("sasl.oauthbearer.config", config, true),
            ]
        }),
        KERBEROS => Err("Kerberos (GSSAPI) is not built into sluice's librdkafka; use SASL PLAIN, SCRAM or OAUTHBEARER".into()),
        other => Err(format!(
            "login module {other} has no librdkafka equivalent (PlainLoginModule, ScramLoginModule and OAuthBearerLoginModule do)"
        )),
    }
}

/// The mechanism a login module serves, for checking `sasl.mechanism` against it.
pub fn mechanisms(module: &LoginModule) -> &'static [&'static str] {
    match module.class.as_str() {
        PLAIN => &["PLAIN"],
        SCRAM => &["SCRAM-SHA-256", "SCRAM-SHA-512"],
        OAUTH => &["OAUTHBEARER"],
        _ => &[],
    }
}

/// Kafka's unsecured JWT options as librdkafka's `sasl.oauthbearer.config`
/// (`principalClaimName=... principal=... scopeClaimName=... scope=a,b lifeSeconds=...
/// extension_NAME=...`). Claims librdkafka cannot put in its token are refused by name.
fn unsecured_jwt(module: &LoginModule) -> Result<String, String> {
    let o = &module.options;
    let principal_claim = o
        .get("unsecuredLoginPrincipalClaimName")
        .map_or("sub", String::as_str);
    let scope_claim = o
        .get("unsecuredLoginScopeClaimName")
        .map_or("scope", String::as_str);
    let principal = o
        .get(&format!("unsecuredLoginStringClaim_{principal_claim}"))
        .ok_or_else(|| format!("OAuthBearerLoginModule: unsecuredLoginStringClaim_{principal_claim} (the principal) is missing; tokens from an OAuth endpoint need librdkafka's OIDC support (libcurl), which sluice's build lacks"))?;
    let mut parts = vec![
        format!("principalClaimName={principal_claim}"),
        format!("principal={principal}"),
        format!("scopeClaimName={scope_claim}"),
    ];
    for (name, value) in o {
        let part = if name == "unsecuredLoginPrincipalClaimName"
            || name == "unsecuredLoginScopeClaimName"
            || *name == format!("unsecuredLoginStringClaim_{principal_claim}")
        {
            continue;
        } else if *name == format!("unsecuredLoginListClaim_{scope_claim}") {
            // Java: the first character is the delimiter of the list that follows.
            let mut chars = value.chars();
            let delimiter = chars.next().unwrap_or(',');
            let scopes: Vec<&str> = chars
                .as_str()
                .split(delimiter)
                .filter(|s| !s.is_empty())
                .collect();
            format!("scope={}", scopes.join(","))
        } else if *name == format!("unsecuredLoginStringClaim_{scope_claim}") {
            format!("scope={value}")
        } else if name == "unsecuredLoginLifetimeSeconds" {
            format!("lifeSeconds={value}")
        } else if let Some(ext) = name.strip_prefix("unsecuredLoginExtension_") {
            format!("extension_{ext}={value}")
        } else if name.starts_with("unsecuredLogin") {
            return Err(format!("OAuthBearerLoginModule: option {name} has no equivalent in librdkafka's unsecured JWT (principal, scope, lifetime and extensions only)"));
        } else {
            continue;
        };
        if part.contains([' ', '"']) {
            return Err(format!(
                "OAuthBearerLoginModule: option {name} holds a blank or a quote, which librdkafka's sasl.oauthbearer.config cannot carry"
            ));
        }
        parts.push(part);
    }
    if parts[1].contains([' ', '"']) {
        return Err(format!("OAuthBearerLoginModule: unsecuredLoginStringClaim_{principal_claim} holds a blank or a quote, which librdkafka's sasl.oauthbearer.config cannot carry"));
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_grammar() {
        let m = parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule Required\n\
             // a comment\n username=\"al\\\"ice\" /* another */ password='p;w=\\\\x\\101' extra=bare-word_1.2 ;  ",
        )
        .unwrap();
        assert_eq!(m.class, SCRAM);
        assert_eq!(m.flag, "required");
        assert_eq!(m.options["username"], "al\"ice");
        assert_eq!(m.options["password"], "p;w=\\xA");
        assert_eq!(m.options["extra"], "bare-word_1.2");
        assert!(!format!("{m:?}").contains("p;w"), "{m:?}");
        for (bad, says) in [
            (
                format!("{PLAIN} required username=\"u\""),
                "does not end with ';'",
            ),
            (format!("{PLAIN} username=\"u\";"), "not a control flag"),
            (
                format!("{PLAIN} required username=;"),
                "no value for option username",
            ),
            (
                format!("{PLAIN} required password=\"unclosed;"),
                "not closed",
            ),
            (
                format!("{PLAIN} required; {SCRAM} required;"),
                "exactly one",
            ),
            (String::new(), "no login module"),
        ] {
            let err = parse(&bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("unclosed"), "{err}");
        }
    }

    #[test]
    fn plain_scram_and_unsecured_oauth() {
        let plain = parse(&format!("{PLAIN} required username=\"u\" password=\"pw\";")).unwrap();
        assert_eq!(
            librdkafka_settings(&plain).unwrap(),
            vec![
                ("sasl.username", "u".to_string(), false),
                ("sasl.password", "pw".to_string(), true)
            ]
        );
        let no_pw = parse(&format!("{SCRAM} required username=\"u\";")).unwrap();
        assert!(librdkafka_settings(&no_pw)
            .unwrap_err()
            .contains("password"));
        let oauth = parse(&format!(
            "{OAUTH} required unsecuredLoginStringClaim_sub=\"alice\" \
             unsecuredLoginListClaim_scope=\"|read|write\" unsecuredLoginLifetimeSeconds=\"600\" \
             unsecuredLoginExtension_traceId=\"123\";"
        ))
        .unwrap();
        let settings = librdkafka_settings(&oauth).unwrap();
        assert_eq!(settings[0].1, "true");
        assert_eq!(
            settings[1].1,
            "principalClaimName=sub principal=alice scopeClaimName=scope extension_traceId=123 \
             lifeSeconds=600 scope=read,write"
        );
        let other_claim = parse(&format!(
            "{OAUTH} required unsecuredLoginStringClaim_sub=\"a\" unsecuredLoginNumberClaim_n=\"1\";"
        ))
        .unwrap();
        assert!(librdkafka_settings(&other_claim)
            .unwrap_err()
            .contains("unsecuredLoginNumberClaim_n"));
        let oidc = parse(&format!(
            "{OAUTH} required clientId=\"id\" clientSecret=\"s3\" scope=\"kafka\";"
        ))
        .unwrap();
        let err = librdkafka_settings(&oidc).unwrap_err();
        assert!(err.contains("OIDC") && !err.contains("s3"), "{err}");
        let krb = parse(&format!("{KERBEROS} required useKeyTab=true;")).unwrap();
        assert!(librdkafka_settings(&krb).unwrap_err().contains("GSSAPI"));
    }
}
