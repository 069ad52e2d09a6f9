//! `key.converter` / `value.converter` and their sub-settings: Kafka Connect's JsonConverter and
//! Confluent's AvroConverter with its Schema Registry (`schema.registry.url`, basic auth).
//! Every problem names its key.

use super::errors::ErrorsConfig;
use super::values::{parse, parse_bool};
use crate::decode::AVRO_CONVERTER;
use crate::decode::{
    strip_user_info, AvroConverter, DecodeConfig, Registry, RegistrySettings, SourceFields,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kafka Connect's JsonConverter.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Kafka Connect's StringConverter (accepted for keys: the key is then text).
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";

/// Sub-settings each converter reads.
const JSON_KEYS: &[&str] = &["schemas.enable"];
const AVRO_KEYS: &[&str] = &[
    "schema.registry.url",
    "basic.auth.credentials.source",
    "basic.auth.user.info",
    "schema.registry.basic.auth.user.info",
];

/// Sub-settings that tune the converter's serializing side or its JVM caches, or belong to the
/// other converter (a config switched from JSON to Avro keeps `schemas.enable`); accepted,
/// without effect (sluice only reads, and caches every schema it meets).
const NO_EFFECT: &[&str] = &[
    "schemas.enable",
    "schemas.cache.size",
    "decimal.format",
    "replace.null.with.default",
    "auto.register.schemas",
    "use.latest.version",
    "latest.compatibility.strict",
    "normalize.schemas",
    "key.subject.name.strategy",
    "value.subject.name.strategy",
    "enhanced.avro.schema.support",
    "connect.meta.data",
    "schemas.cache.config",
    "avro.use.logical.type.converters",
    "scrub.invalid.names",
    "max.schemas.per.subject",
];

/// Reads both converters into the decode settings. Registries named the same way (URLs and
/// credentials) are one client, so key and value schemas share its cache.
pub fn decode_config(
    map: &BTreeMap<String, String>,
    errors: &ErrorsConfig,
    problems: &mut Vec<String>,
    no_effect: &mut Vec<String>,
) -> DecodeConfig {
    let mut registries: Vec<Arc<Registry>> = Vec::new();
    let mut side = |prefix: &str, problems: &mut Vec<String>| -> (bool, Option<AvroConverter>) {
        let class = map.get(prefix).map(|c| c.trim()).unwrap_or(JSON_CONVERTER);
        let accepted = match class {
            JSON_CONVERTER => JSON_KEYS,
            AVRO_CONVERTER => AVRO_KEYS,
            STRING_CONVERTER if prefix == "key.converter" => &[][..],
            other => {
                problems.push(format!(
                    "{prefix}: converter {other} is not supported (use {JSON_CONVERTER} or {AVRO_CONVERTER})"
                ));
                return (true, None);
            }
        };
        for key in map.keys() {
            let Some(sub) = key.strip_prefix(prefix).and_then(|k| k.strip_prefix('.')) else {
                continue;
            };
            if accepted.contains(&sub) {
                continue;
            }
            if NO_EFFECT.contains(&sub) {
                no_effect.push(key.clone());
            } else {
                problems.push(format!("{key}: not a setting of {class}"));
            }
        }
        let schemas_enable = parse(
            map,
            &format!("{prefix}.schemas.enable"),
            true,
            problems,
            parse_bool,
            "true or false",
        );
        if class != AVRO_CONVERTER {
            return (schemas_enable, None);
        }
        let settings = registry_settings(map, prefix, errors, problems);
        let registry = settings.and_then(|settings| {
            if let Some(same) = registries.iter().find(|r| *r.settings() == settings) {
                return Some(same.clone());
            }
            match Registry::new(settings) {
                Ok(r) => {
                    let r = Arc::new(r);
                    registries.push(r.clone());
                    Some(r)
                }
                Err(e) => {
                    problems.push(format!("{prefix}.schema.registry.url: {e}"));
                    None
                }
            }
        });
        (schemas_enable, registry.map(AvroConverter))
    };
    let (key_schemas_enable, key_avro) = side("key.converter", problems);
    let (value_schemas_enable, value_avro) = side("value.converter", problems);
    DecodeConfig {
        key_schemas_enable,
        value_schemas_enable,
        key_avro,
        value_avro,
        // The pipeline narrows it to what the connector's names and transforms read.
        source_fields: SourceFields::All,
    }
}

/// The registry settings of one AvroConverter.
fn registry_settings(
    map: &BTreeMap<String, String>,
    prefix: &str,
    errors: &ErrorsConfig,
    problems: &mut Vec<String>,
) -> Option<RegistrySettings> {
    let url_key = format!("{prefix}.schema.registry.url");
    let Some(raw) = map.get(&url_key) else {
        problems.push(format!("{url_key}: required by {AVRO_CONVERTER}"));
        return None;
    };
    let mut urls = Vec::new();
    let mut url_credentials = None;
    for url in raw.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (url, credentials) = strip_user_info(url);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(format!(
                "{url_key}: {url:?} is not an http:// or https:// URL"
            ));
            continue;
        }
        url_credentials = url_credentials.or(credentials);
        urls.push(url.trim_end_matches('/').to_string());
    }
    if urls.is_empty() {
        problems.push(format!("{url_key}: no URL given"));
        return None;
    }
    let source_key = format!("{prefix}.basic.auth.credentials.source");
    let info = map
        .get(&format!("{prefix}.basic.auth.user.info"))
        .or_else(|| map.get(&format!("{prefix}.schema.registry.basic.auth.user.info")));
    let source = map.get(&source_key).map(|s| s.trim().to_ascii_uppercase());
    let basic_auth = match source.as_deref() {
        // Confluent's default source is URL; without user info in the URL there is no auth.
        None | Some("URL") => url_credentials,
        Some("USER_INFO") => match info.and_then(|i| i.split_once(':')) {
            Some((user, password)) => Some((user.to_string(), password.to_string())),
            None => {
                problems.push(format!(
                    "{prefix}.basic.auth.user.info: required as user:password when {source_key}=USER_INFO"
                ));
                None
            }
        },
        Some(other) => {
            problems.push(format!(
                "{source_key}: {other} is not supported (use URL or USER_INFO)"
            ));
            None
        }
    };
    Some(RegistrySettings {
        urls,
        basic_auth,
        retry_timeout: errors.retry_timeout,
        retry_delay_max: errors.retry_delay_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (DecodeConfig, Vec<String>, Vec<String>) {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut problems = Vec::new();
        let mut no_effect = Vec::new();
        let config = decode_config(
            &map,
            &ErrorsConfig::default(),
            &mut problems,
            &mut no_effect,
        );
        (config, problems, no_effect)
    }

    #[test]
    fn avro_converters_share_one_registry() {
        let (config, problems, no_effect) = read(&[
            ("key.converter", AVRO_CONVERTER),
            ("key.converter.schema.registry.url", "http://reg:8081"),
            ("value.converter", AVRO_CONVERTER),
            ("value.converter.schema.registry.url", "http://reg:8081/"),
            ("value.converter.auto.register.schemas", "false"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(no_effect, ["value.converter.auto.register.schemas"]);
        assert_eq!(config.key_avro, config.value_avro);
        assert!(config.key_avro.is_some());
        assert_eq!(config.converter_class(true), AVRO_CONVERTER);
    }

    #[test]
    fn basic_auth_from_user_info_or_url() {
        let (config, problems, _) = read(&[
            ("value.converter", AVRO_CONVERTER),
            (
                "value.converter.schema.registry.url",
                "http://a:8081,http://b:8081",
            ),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
            ("value.converter.basic.auth.user.info", "bob:pa:ss"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        let settings = config.value_avro.unwrap().0.settings().clone();
        assert_eq!(settings.urls, ["http://a:8081", "http://b:8081"]);
        assert_eq!(settings.basic_auth, Some(("bob".into(), "pa:ss".into())));
        assert!(!format!("{settings:?}").contains("pa:ss"));

        let (config, problems, _) = read(&[
            ("value.converter", AVRO_CONVERTER),
            (
                "value.converter.schema.registry.url",
                "http://amy:pw@reg:8081",
            ),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        let settings = config.value_avro.unwrap().0.settings().clone();
        assert_eq!(settings.urls, ["http://reg:8081"]);
        assert_eq!(settings.basic_auth, Some(("amy".into(), "pw".into())));
    }

    #[test]
    fn problems_name_their_keys() {
        let (_, problems, _) = read(&[
            ("key.converter", "com.example.Unknown"),
            ("value.converter", AVRO_CONVERTER),
            (
                "value.converter.basic.auth.credentials.source",
                "SASL_INHERIT",
            ),
            ("value.converter.schemas.enabled", "true"),
        ]);
        let text = problems.join("\n");
        assert!(
            text.contains("key.converter: converter com.example.Unknown"),
            "{text}"
        );
        assert!(
            text.contains("value.converter.schema.registry.url: required"),
            "{text}"
        );
        assert!(
            text.contains("value.converter.schemas.enabled: not a setting"),
            "{text}"
        );
        let (_, problems, _) = read(&[
            ("value.converter", AVRO_CONVERTER),
            ("value.converter.schema.registry.url", "reg:8081"),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
        ]);
        let text = problems.join("\n");
        assert!(text.contains("not an http"), "{text}");
        let (_, problems, _) = read(&[
            ("value.converter", AVRO_CONVERTER),
            ("value.converter.schema.registry.url", "http://reg:8081"),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
        ]);
        assert!(problems
            .join("\n")
            .contains("basic.auth.user.info: required"));
    }
}
