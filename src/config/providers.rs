//! Kafka Connect config providers: `${provider:[path:]key}` placeholders in worker and connector
//! values, declared in the worker file as Connect declares them:
//!
//! ```properties
//! config.providers=file,directory,env
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.directory.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.directory.param.allowed.paths=/run/secrets
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.env.param.allowlist.pattern=PG_.*
//! ```
//!
//! `${file:PATH:KEY}` reads KEY of the properties file PATH, `${directory:DIR:NAME}` the whole
//! content of the file DIR/NAME (as Connect: not trimmed, a trailing newline stays; the
//! Kubernetes secret volume layout, `..data` symlinks, reads through), `${env:NAME}` a variable.
//! For compatibility with configs written before sluice read `config.providers`, `${env:NAME}`
//! and `${file:PATH:KEY}` work without a declaration as long as no provider is declared under
//! those aliases. Where Connect would leave a placeholder it cannot resolve in the value, sluice
//! refuses the config, naming the key and the provider (never the value). `${topic}` and other
//! placeholders without a colon are not provider references and stay as they are.

pub use super::properties::{parse_properties, read_properties};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The Connect class names of the providers sluice has (simple names are accepted too).
const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIRECTORY_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// One declared provider.
#[derive(Debug, Clone)]
enum Provider {
    /// `FileConfigProvider`: a properties file per path.
    File { allowed: Option<Vec<PathBuf>> },
    /// `DirectoryConfigProvider`: a file per key in a directory.
    Directory { allowed: Option<Vec<PathBuf>> },
    /// `EnvVarConfigProvider`: environment variables, optionally only those matching.
    Env { allowlist: Option<Regex> },
}

/// The worker's config providers, by alias. The default has none declared (only the
/// undeclared `${env:}` and `${file:}` work).
#[derive(Debug, Clone, Default)]
pub struct Providers {
    declared: BTreeMap<String, Provider>,
}

/// A value after expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    /// The value with every placeholder replaced.
    pub value: String,
    /// Whether a provider supplied any of it (then it is shown only in its raw form).
    pub from_provider: bool,
}

impl Providers {
    /// Reads `config.providers` and `config.providers.<alias>.class` / `.param.*` from the
    /// worker's settings; every problem names its key.
    pub fn declare(settings: &BTreeMap<String, String>, problems: &mut Vec<String>) -> Self {
        let aliases = super::values::list(settings, "config.providers");
        let mut declared = BTreeMap::new();
        for alias in &aliases {
            let class_key = format!("config.providers.{alias}.class");
            let Some(class) = settings.get(&class_key).map(|c| c.trim()) else {
                problems.push(format!("{class_key}: required for config provider {alias} (listed in config.providers)"));
                continue;
            };
            let params = params(settings, alias);
            let param = |name: &str| {
                let key = format!("config.providers.{alias}.param.{name}");
                settings.get(&key).map(|value| (key, value.clone()))
            };
            let (provider, accepted): (Provider, &[&str]) = match class {
                FILE_CLASS | "FileConfigProvider" => (
                    Provider::File {
                        allowed: allowed_paths(param("allowed.paths"), problems),
                    },
                    &["allowed.paths"],
                ),
                DIRECTORY_CLASS | "DirectoryConfigProvider" => (
                    Provider::Directory {
                        allowed: allowed_paths(param("allowed.paths"), problems),
                    },
                    &["allowed.paths"],
                ),
                ENV_CLASS | "EnvVarConfigProvider" => (
                    Provider::Env {
                        allowlist: allowlist(param("allowlist.pattern"), problems),
                    },
                    &["allowlist.pattern"],
                ),
                other => {
                    problems.push(format!(
                        "{class_key}: config provider class {other} (provider {alias}) is not one sluice has: {FILE_CLASS}, {DIRECTORY_CLASS} or {ENV_CLASS}"
                    ));
                    continue;
                }
            };
            for key in &params {
                if !accepted
                    .iter()
                    .any(|p| key.ends_with(&format!(".param.{p}")))
                {
                    problems.push(format!(
                        "{key}: not a parameter of {class} (provider {alias})"
                    ));
                }
            }
            declared.insert(alias.clone(), provider);
        }
        for key in settings.keys() {
            let Some(rest) = key.strip_prefix("config.providers.") else {
                continue;
            };
            let alias = rest.split('.').next().unwrap_or_default();
            if !aliases.iter().any(|a| a == alias) {
                problems.push(format!(
                    "{key}: provider {alias} is not listed in config.providers"
                ));
            }
        }
        Providers { declared }
    }

    /// Expands every `${provider:[path:]key}` placeholder of `value`. `env` looks up
    /// environment variables (injected so tests need not touch the process environment). The
    /// error names the provider and the placeholder, never a resolved value; the caller adds
    /// the config key.
    pub fn expand(
        &self,
        value: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Expanded, String> {
        let mut out = String::with_capacity(value.len());
        let mut from_provider = false;
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err("a '${' placeholder has no closing '}'".into());
            };
            let inner = &after[..end];
            match inner.split_once(':') {
                // Not a provider reference (e.g. `${topic}` in a table name format).
                None => out.push_str(&rest[start..start + end + 3]),
                Some((alias, spec)) => {
                    // Connect's pattern: the path ends at the next colon, the key takes the rest.
                    let (path, key) = match spec.split_once(':') {
                        Some((path, key)) => (Some(path), key),
                        None => (None, spec),
                    };
                    out.push_str(
                        &self
                            .resolve(alias, path, key, env)
                            .map_err(|e| format!("${{{inner}}}: {e}"))?,
                    );
                    from_provider = true;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Expanded {
            value: out,
            from_provider,
        })
    }

    fn resolve(
        &self,
        alias: &str,
        path: Option<&str>,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, String> {
        let provider = match (self.declared.get(alias), alias) {
            (Some(provider), _) => provider.clone(),
            // Undeclared, as sluice always resolved them.
            (None, "env") => Provider::Env { allowlist: None },
            (None, "file") => Provider::File { allowed: None },
            (None, _) => {
                let declared: Vec<&str> = self.declared.keys().map(String::as_str).collect();
                return Err(format!(
                    "unknown config provider '{alias}' (declared in config.providers: {})",
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                ));
            }
        };
        let path = path.filter(|p| !p.is_empty());
        match provider {
            Provider::Env { allowlist } => {
                if path.is_some() {
                    return Err(format!(
                        "provider {alias} (EnvVarConfigProvider) takes no path: use ${{{alias}:NAME}}"
                    ));
                }
                if allowlist.as_ref().is_some_and(|re| !re.is_match(key)) {
                    return Err(format!("provider {alias}: environment variable {key} does not match its allowlist.pattern"));
                }
                env(key).ok_or_else(|| {
                    format!("provider {alias}: environment variable {key} is not set")
                })
            }
            Provider::File { allowed } => {
                let Some(path) = path else {
                    return Err(format!(
                        "provider {alias} (FileConfigProvider) needs ${{{alias}:PATH:KEY}}"
                    ));
                };
                let file = permitted(path, allowed.as_deref()).ok_or_else(|| {
                    format!("provider {alias}: {path} is outside its allowed.paths")
                })?;
                read_properties(&file)
                    .map_err(|e| format!("provider {alias}: {e}"))?
                    .remove(key)
                    .ok_or_else(|| format!("provider {alias}: key {key} not found in {path}"))
            }
            Provider::Directory { allowed } => {
                let Some(path) = path else {
                    return Err(format!(
                        "provider {alias} (DirectoryConfigProvider) needs ${{{alias}:DIRECTORY:FILE}}"
                    ));
                };
                let dir = permitted(path, allowed.as_deref()).ok_or_else(|| {
                    format!("provider {alias}: {path} is outside its allowed.paths")
                })?;
                read_entry(&dir, key).map_err(|e| format!("provider {alias}: {e}"))
            }
        }
    }
}

/// The keys of a config whose values config providers supplied: the value and the raw text
/// with its placeholders, which is all that may be shown of them.
#[derive(Default)]
pub(super) struct Provided {
    values: BTreeMap<String, (String, String)>,
}

impl Provided {
    pub(super) fn insert(&mut self, key: &str, value: &str, raw: &str) {
        self.values
            .insert(key.to_string(), (value.to_string(), raw.to_string()));
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Shows each provided value as its placeholder (unless already redacted).
    pub(super) fn show_raw(&self, shown: &mut BTreeMap<String, String>) {
        for (key, (_, raw)) in &self.values {
            if let Some(text) = shown.get_mut(key).filter(|t| *t != "[redacted]") {
                *text = raw.clone();
            }
        }
    }

    /// In the problems of each provided key, replaces the value by its placeholder (a parse
    /// error quotes the value it could not read).
    pub(super) fn hide(&self, problems: &mut [String]) {
        for (key, (value, raw)) in &self.values {
            let own = format!("{key}:");
            for problem in problems.iter_mut().filter(|p| p.starts_with(&own)) {
                if !value.is_empty() {
                    *problem = problem.replace(value.as_str(), raw);
                }
            }
        }
    }
}

impl Providers {
    /// Expands every value of a flat config; problems name their key.
    pub(super) fn expand_all(
        &self,
        flat: BTreeMap<String, String>,
        env: &dyn Fn(&str) -> Option<String>,
        problems: &mut Vec<String>,
    ) -> (BTreeMap<String, String>, Provided) {
        let mut expanded = BTreeMap::new();
        let mut provided = Provided::default();
        for (key, raw) in flat {
            match self.expand(&raw, env) {
                Ok(v) => {
                    if v.from_provider {
                        provided.insert(&key, &v.value, &raw);
                    }
                    expanded.insert(key, v.value);
                }
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        (expanded, provided)
    }
}

/// The `config.providers.<alias>.param.*` keys given.
fn params<'a>(settings: &'a BTreeMap<String, String>, alias: &str) -> Vec<&'a String> {
    let prefix = format!("config.providers.{alias}.param.");
    settings
        .keys()
        .filter(|key| key.starts_with(&prefix))
        .collect()
}

/// `allowed.paths`: absolute paths that exist, as Connect requires.
fn allowed_paths(
    param: Option<(String, String)>,
    problems: &mut Vec<String>,
) -> Option<Vec<PathBuf>> {
    let (key, value) = param?;
    if value.trim().is_empty() {
        return None;
    }
    let mut paths = Vec::new();
    for raw in value.split(',') {
        let path = normalize(Path::new(raw.trim()));
        if !path.is_absolute() {
            problems.push(format!("{key}: {} is not absolute", path.display()));
        } else if !path.exists() {
            problems.push(format!("{key}: {} does not exist", path.display()));
        } else {
            paths.push(path);
        }
    }
    Some(paths)
}

fn allowlist(param: Option<(String, String)>, problems: &mut Vec<String>) -> Option<Regex> {
    let (key, pattern) = param?;
    // Java's Matcher.matches(): the whole name must match.
    match Regex::new(&format!("^(?:{pattern})$")) {
        Ok(re) => Some(re),
        Err(e) => {
            problems.push(format!("{key}: not a regular expression: {e}"));
            None
        }
    }
}

/// The path to read, or `None` when `allowed.paths` excludes it (compared after resolving
/// `.` and `..` by name, as Connect does).
fn permitted(path: &str, allowed: Option<&[PathBuf]>) -> Option<PathBuf> {
    match allowed {
        None => Some(PathBuf::from(path)),
        Some(allowed) => {
            let path = normalize(Path::new(path));
            allowed.iter().any(|a| path.starts_with(a)).then_some(path)
        }
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The content of the regular file `name` directly in `dir` (symlinks followed, as Kubernetes
/// secret volumes link each key through `..data`). Only names of the directory's own entries
/// count, so `../x` or `sub/x` never reach another directory.
fn read_entry(dir: &Path, name: &str) -> Result<String, String> {
    let is_entry = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
    let file = dir.join(name);
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if !is_entry || !file.is_file() {
        return Err(format!("no file {name} in {}", dir.display()));
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Expands `${env:NAME}` and `${file:PATH:KEY}` with no provider declared (the connector
/// configs read without a worker).
pub fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    Providers::default().expand(value, env).map(|e| e.value)
}

#[cfg(test)]
mod tests;
