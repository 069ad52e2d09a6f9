//! The Java client's SASL and SSL keys in librdkafka's terms (the rules are listed in the
//! parent module). Each consumed key leaves `given`; problems name the key as the user wrote it.

use super::{ClientValue, Out};
use crate::config::jaas;
use crate::config::secret::Secret;
use std::collections::BTreeMap;

/// Settings by key (prefix removed): the key as given and its value.
type Given = BTreeMap<String, (String, ClientValue)>;

pub(super) fn translate(given: &mut Given, out: &mut Out) {
    sasl(given, out);
    truststore(given, out);
    keystore(given, out);
    if let Some((shown, value)) = given.remove("ssl.endpoint.identification.algorithm") {
        // Java: "" turns hostname verification off, HTTPS (the default) turns it on.
        match value.expose().trim().to_ascii_lowercase().as_str() {
            "" | "none" => out.set(
                "ssl.endpoint.identification.algorithm",
                &shown,
                ClientValue::Plain("none".into()),
            ),
            "https" => out.set(
                "ssl.endpoint.identification.algorithm",
                &shown,
                ClientValue::Plain("https".into()),
            ),
            other => out.problem(
                &shown,
                format!("'{other}' is not valid (expected HTTPS, or empty for no hostname verification)"),
            ),
        }
    }
}

fn sasl(given: &mut Given, out: &mut Out) {
    // Kafka's own OAuthBearerLoginCallbackHandler fetches tokens from an OIDC endpoint; the
    // librdkafka equivalent (sasl.oauthbearer.method=oidc) needs libcurl, not in this build.
    if let Some((shown, _)) = given.remove("sasl.login.callback.handler.class") {
        out.problem(
            &shown,
            "Java classes cannot run in sluice (and OAuth token endpoints need librdkafka's \
             OIDC support, which needs libcurl: not in this build); use sasl.jaas.config with \
             PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule's unsecured JWT",
        );
    }
    let Some((shown, value)) = given.remove("sasl.jaas.config") else {
        return;
    };
    let module = match jaas::parse(value.expose()) {
        Ok(module) => module,
        Err(e) => return out.problem(&shown, e),
    };
    let upper = |key: &str| {
        given
            .get(key)
            .map(|(_, v)| v.expose().trim().to_ascii_uppercase())
    };
    let serves = jaas::mechanisms(&module);
    let mechanism = upper("sasl.mechanism");
    let sasl_protocol = upper("security.protocol").is_some_and(|p| p.starts_with("SASL_"));
    if sasl_protocol
        && !serves.is_empty()
        && !mechanism.as_deref().is_some_and(|m| serves.contains(&m))
    {
        let class = module.class.rsplit('.').next().unwrap_or_default();
        out.problem(
            &shown,
            format!(
                "{class} serves sasl.mechanism {}, but sasl.mechanism is {}",
                serves.join(" or "),
                mechanism.unwrap_or_else(|| "not set (GSSAPI)".into())
            ),
        );
    }
    match jaas::librdkafka_settings(&module) {
        Err(e) => out.problem(&shown, e),
        Ok(settings) => {
            for (key, value, secret) in settings {
                if let Some((explicit, _)) = given.get(key) {
                    out.problem(explicit, format!("also given by {shown}; set one of them"));
                    continue;
                }
                let value = if secret {
                    ClientValue::Secret(Secret::new(value))
                } else {
                    ClientValue::Plain(value)
                };
                out.set(key, &shown, value);
            }
        }
    }
}

/// Takes a key whose empty value means "not set" (as Java reads an empty store location).
fn take_set(given: &mut Given, key: &str) -> Option<(String, ClientValue)> {
    given
        .remove(key)
        .filter(|(_, v)| !v.expose().trim().is_empty())
}

/// The store type a file name implies, if any.
fn by_extension(location: &str) -> Option<&'static str> {
    let extension = location.rsplit_once('.')?.1.to_ascii_lowercase();
    match extension.as_str() {
        "pem" | "crt" | "cer" => Some("PEM"),
        "p12" | "pfx" => Some("PKCS12"),
        "jks" | "keystore" | "truststore" => Some("JKS"),
        _ => None,
    }
}

fn store_type(
    kind: &Option<(String, ClientValue)>,
    location: Option<&str>,
    default: &str,
) -> String {
    match kind {
        Some((_, v)) if !v.expose().trim().is_empty() => v.expose().trim().to_ascii_uppercase(),
        _ => location
            .and_then(by_extension)
            .unwrap_or(default)
            .to_string(),
    }
}

fn truststore(given: &mut Given, out: &mut Out) {
    let location = take_set(given, "ssl.truststore.location");
    let certificates = take_set(given, "ssl.truststore.certificates");
    let kind = given.remove("ssl.truststore.type");
    let password = given.remove("ssl.truststore.password");
    let Some((shown, _)) = location.as_ref().or(certificates.as_ref()) else {
        // A type or a password alone configures nothing.
        out.no_effect
            .extend(kind.into_iter().chain(password).map(|(s, _)| s));
        return;
    };
    let shown = shown.clone();
    let path = location.as_ref().map(|(_, v)| v.expose().trim());
    // Java's default truststore type is JKS.
    match store_type(&kind, path, "JKS").as_str() {
        "PEM" => {
            if let Some((shown, v)) = location {
                out.set("ssl.ca.location", &shown, v);
            }
            if let Some((shown, v)) = certificates {
                out.set("ssl.ca.pem", &shown, v);
            }
            // PEM truststores have no password.
            out.no_effect.extend(password.map(|(s, _)| s));
        }
        other => {
            let convert = if other == "PKCS12" {
                "openssl pkcs12 -in truststore.p12 -nokeys -out ca.pem"
            } else {
                "keytool -exportcert -rfc -keystore truststore.jks -alias CA -file ca.pem"
            };
            out.problem(
                &shown,
                format!(
                    "librdkafka cannot read a {other} truststore; convert it to PEM ({convert}) and \
                     set ssl.truststore.type=PEM, or give the PEM file as ssl.ca.location"
                ),
            );
        }
    }
}

fn keystore(given: &mut Given, out: &mut Out) {
    let location = take_set(given, "ssl.keystore.location");
    let kind = given.remove("ssl.keystore.type");
    let password = given.remove("ssl.keystore.password");
    // Java's PEM strings (type PEM): the chain and the key, encrypted with ssl.key.password.
    let mut inline = false;
    for (java, key) in [
        ("ssl.keystore.certificate.chain", "ssl.certificate.pem"),
        ("ssl.keystore.key", "ssl.key.pem"),
    ] {
        if let Some((shown, v)) = take_set(given, java) {
            out.set(key, &shown, v);
            inline = true;
        }
    }
    let Some((shown, value)) = location else {
        if !inline {
            out.no_effect.extend(kind.map(|(s, _)| s));
        }
        out.no_effect.extend(password.map(|(s, _)| s));
        return;
    };
    // librdkafka's own ssl.keystore.location is PKCS12, so a file of no known kind is PKCS12.
    match store_type(&kind, Some(value.expose().trim()), "PKCS12").as_str() {
        "PKCS12" => {
            out.set("ssl.keystore.location", &shown, value);
            if let Some((shown, v)) = password {
                out.set("ssl.keystore.password", &shown, v);
            }
        }
        "PEM" => {
            // One file with the certificate chain and the private key.
            out.set("ssl.certificate.location", &shown, value.clone());
            out.set("ssl.key.location", &shown, value);
            out.no_effect.extend(password.map(|(s, _)| s));
        }
        other => out.problem(
            &shown,
            format!(
                "librdkafka cannot read a {other} keystore; convert it to PKCS12 (keytool \
                 -importkeystore -srckeystore keystore.jks -destkeystore keystore.p12 \
                 -deststoretype PKCS12) and set ssl.keystore.type=PKCS12, or give PEM files as \
                 ssl.certificate.location and ssl.key.location"
            ),
        ),
    }
}
