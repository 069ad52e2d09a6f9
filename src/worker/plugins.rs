//! `GET /connector-plugins`, `GET /connector-plugins/{plugin}/config` and
//! `PUT /connector-plugins/{plugin}/config/validate`: the Java class names sluice accepts, the
//! keys a connector takes (from the reference tables of `docs/configuration.md`, the one place
//! they are written), and a config's problems in Connect's `ConfigInfos` shape, each under the
//! key it names (the same checks `sluice validate` makes, without connecting).

use super::operations::SINK_CLASSES;
use super::types::*;
use super::{Worker, WorkerError};

/// Transforms sluice runs (`org.apache.kafka.connect.transforms.*` with `$Key`/`$Value`).
const TRANSFORMS: &[&str] = &[
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "org.apache.kafka.connect.transforms.ValueToKey",
    "io.debezium.transforms.ExtractNewRecordState",
];

const PREDICATES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
];

const CONVERTERS: &[&str] = &[
    crate::config::JSON_CONVERTER,
    crate::config::STRING_CONVERTER,
    crate::decode::AVRO_CONVERTER,
];

/// Keys whose values are secrets: never echoed back.
fn secret(key: &str) -> bool {
    key.ends_with("password") || key.contains("basic.auth.user.info") || key.ends_with("secret")
}

impl Worker {
    /// The plugins sluice accepts: sink connector classes, and with `connectors_only=false`
    /// transforms, predicates and converters.
    pub fn plugins(connectors_only: bool) -> Vec<PluginInfo> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        let of = |classes: &[&str], kind: &str| -> Vec<PluginInfo> {
            classes
                .iter()
                .map(|c| PluginInfo {
                    class: c.to_string(),
                    kind: kind.to_string(),
                    version: version.clone(),
                })
                .collect()
        };
        let mut plugins = of(SINK_CLASSES, "sink");
        if !connectors_only {
            plugins.extend(of(TRANSFORMS, "transformation"));
            plugins.extend(of(PREDICATES, "predicate"));
            plugins.extend(of(CONVERTERS, "converter"));
        }
        plugins
    }

    /// The keys a connector of `plugin` takes, as Connect lists a plugin's `ConfigDef`: each
    /// documented key of `docs/configuration.md`'s connector tables, grouped by its table.
    pub fn plugin_config(plugin: &str) -> Result<Vec<ConfigKeyInfo>, WorkerError> {
        if !SINK_CLASSES
            .iter()
            .any(|c| *c == plugin || c.rsplit('.').next() == Some(plugin))
        {
            return Err(WorkerError::NotFound(format!("plugin {plugin}")));
        }
        Ok(documented_keys(REFERENCE))
    }

    /// Validates a config for a connector class: every problem under the key it names
    /// (problems that name no key of the config go under `connector.class`).
    pub fn validate(&self, plugin: &str, config: &Config) -> Result<ConfigInfos, WorkerError> {
        let class = SINK_CLASSES
            .iter()
            .find(|c| **c == plugin || c.rsplit('.').next() == Some(plugin))
            .ok_or_else(|| {
                WorkerError::BadRequest(format!(
                    "Failed to find any class that implements Connector and which name matches {plugin}; \
                     sluice runs {}",
                    SINK_CLASSES.join(", ")
                ))
            })?;
        let mut config = config.clone();
        config
            .entry("connector.class".into())
            .or_insert_with(|| class.to_string());
        config
            .entry("name".into())
            .or_insert_with(|| "validate".to_string());
        let problems = self.problems(&config);
        Ok(infos(class, &config, &problems))
    }
}

/// The configuration reference; its connector section's tables document every key.
const REFERENCE: &str = include_str!("../../docs/configuration.md");

/// The rows `| \`key\` | default | meaning |` of the reference's connector section, each under
/// the `###` heading it follows. Keys with a placeholder (`<column>`) are patterns, left out.
fn documented_keys(reference: &str) -> Vec<ConfigKeyInfo> {
    let section = reference
        .split("\n## ")
        .find(|s| s.starts_with("Connector configs"))
        .unwrap_or_default();
    let mut keys = Vec::new();
    let mut group = String::from("Common");
    let mut order = 0;
    for line in section.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            group = heading.trim().to_string();
            order = 0;
            continue;
        }
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let [first, default, meaning] = cells[..] else {
            continue;
        };
        let Some(key) = first
            .strip_prefix("| `")
            .and_then(|k| k.strip_suffix('`'))
            .filter(|k| !k.contains(['<', '`', ' ']))
        else {
            continue;
        };
        let default_value = default
            .strip_prefix('`')
            .and_then(|d| d.split_once('`'))
            .map(|(d, _)| d.to_string());
        let kind = match default_value.as_deref() {
            _ if secret(key) => "PASSWORD",
            Some("true" | "false") => "BOOLEAN",
            Some(d) if d.parse::<i64>().is_ok() => "LONG",
            Some(d) if d.parse::<f64>().is_ok() => "DOUBLE",
            _ => "STRING",
        };
        let required = default == "required";
        order += 1;
        keys.push(ConfigKeyInfo {
            name: key.to_string(),
            kind: kind.into(),
            required,
            default_value,
            importance: if required { "HIGH" } else { "MEDIUM" }.into(),
            documentation: meaning.trim_end_matches('|').trim().to_string(),
            group: group.clone(),
            width: "NONE".into(),
            display_name: key.to_string(),
            dependents: Vec::new(),
            order,
        });
    }
    keys
}

/// Puts each problem under the key it starts with.
fn infos(class: &str, config: &Config, problems: &[String]) -> ConfigInfos {
    let mut configs: Vec<ConfigInfo> = config
        .iter()
        .map(|(key, value)| entry(key, Some(value)))
        .collect();
    for problem in problems {
        let named = problem
            .split_once(':')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.contains(' '));
        let key = match named {
            Some(k) if configs.iter().any(|c| c.value.name == k) => k.to_string(),
            Some(k) if k.contains('.') => {
                configs.push(entry(k, None));
                k.to_string()
            }
            _ => "connector.class".to_string(),
        };
        if !configs.iter().any(|c| c.value.name == key) {
            configs.push(entry(&key, None));
        }
        if let Some(c) = configs.iter_mut().find(|c| c.value.name == key) {
            c.value.errors.push(problem.clone());
        }
    }
    ConfigInfos {
        name: class.to_string(),
        error_count: configs.iter().map(|c| c.value.errors.len()).sum(),
        groups: vec!["Common".into()],
        configs,
    }
}

fn entry(key: &str, value: Option<&String>) -> ConfigInfo {
    let required = matches!(key, "connector.class" | "connection.url" | "name");
    ConfigInfo {
        definition: ConfigKeyInfo {
            name: key.to_string(),
            kind: if secret(key) { "PASSWORD" } else { "STRING" }.into(),
            required,
            default_value: None,
            importance: if required { "HIGH" } else { "MEDIUM" }.into(),
            documentation: String::new(),
            group: "Common".into(),
            width: "NONE".into(),
            display_name: key.to_string(),
            dependents: Vec::new(),
            order: -1,
        },
        value: ConfigValueInfo {
            name: key.to_string(),
            value: value.map(|v| {
                if secret(key) {
                    "[hidden]".to_string()
                } else {
                    v.clone()
                }
            }),
            recommended_values: Vec::new(),
            errors: Vec::new(),
            visible: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_go_under_their_keys_and_secrets_stay_hidden() {
        let config = Config::from([
            ("connection.password".to_string(), "hunter2".to_string()),
            ("insert.mode".to_string(), "sideways".to_string()),
        ]);
        let problems = vec![
            "insert.mode: 'sideways' is not valid".to_string(),
            "topics.regex: missing".to_string(),
            "not JSON at all".to_string(),
        ];
        let infos = infos(
            "io.debezium.connector.jdbc.JdbcSinkConnector",
            &config,
            &problems,
        );
        assert_eq!(infos.error_count, 3, "{infos:?}");
        let of = |k: &str| infos.configs.iter().find(|c| c.value.name == k).expect(k);
        assert_eq!(of("insert.mode").value.errors.len(), 1);
        assert_eq!(of("topics.regex").value.errors.len(), 1);
        assert_eq!(
            of("connector.class").value.errors,
            vec!["not JSON at all".to_string()]
        );
        assert_eq!(
            of("connection.password").value.value.as_deref(),
            Some("[hidden]")
        );
        assert_eq!(of("connection.password").definition.kind, "PASSWORD");
        let text = serde_json::to_string(&infos).expect("json");
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn every_key_sluice_reads_is_documented_for_the_plugin_config() {
        let keys = Worker::plugin_config("JdbcSinkConnector").expect("plugin");
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let missing: Vec<&&str> = crate::config::keys::SUPPORTED
            .iter()
            .chain(crate::config::keys::SLUICE)
            .filter(|k| !names.contains(k))
            .collect();
        assert!(
            missing.is_empty(),
            "not in docs/configuration.md's tables: {missing:?}"
        );
        let of = |name: &str| keys.iter().find(|k| k.name == name).expect(name);
        assert!(of("connection.url").required);
        assert_eq!(of("connection.password").kind, "PASSWORD");
        assert_eq!(of("delete.enabled").kind, "BOOLEAN");
        assert_eq!(of("batch.size").default_value.as_deref(), Some("500"));
        assert_eq!(
            of("errors.tolerance").group,
            "Errors and the dead-letter path"
        );
        assert!(of("insert.mode").documentation.contains("upsert"));
        assert!(matches!(
            Worker::plugin_config("com.example.Other"),
            Err(WorkerError::NotFound(_))
        ));
    }

    #[test]
    fn plugin_lists() {
        let sinks = Worker::plugins(true);
        assert!(sinks.iter().all(|p| p.kind == "sink"));
        assert_eq!(sinks.len(), SINK_CLASSES.len());
        let all = Worker::plugins(false);
        assert!(all.iter().any(|p| p.kind == "transformation"));
        assert!(all.iter().any(|p| p.kind == "converter"));
    }
}
