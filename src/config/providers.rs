//! Kafka Connect config providers: `${env:NAME}` and `${file:path:key}` in config values.
//!
//! Kafka Connect resolves these through `config.providers`; sluice resolves the two common
//! ones itself so the same connector JSON works unchanged. A reference that cannot be resolved
//! is a config problem naming the key and the reference (never the resolved value).

use std::collections::BTreeMap;
use std::path::Path;

/// Expands every `${env:NAME}` and `${file:path:key}` reference in `value`.
///
/// `env` looks up environment variables (injected so tests need not touch the process
/// environment). `file` references read a Java properties file and take `key` from it.
pub fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated reference in '{rest}'"));
        };
        let reference = &after[..end];
        out.push_str(&resolve(reference, env)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(reference: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        return env(name).ok_or_else(|| format!("environment variable {name} is not set"));
    }
    if let Some(spec) = reference.strip_prefix("file:") {
        let Some((path, key)) = spec.rsplit_once(':') else {
            return Err(format!(
                "file reference '${{{reference}}}' needs the form file:PATH:KEY"
            ));
        };
        let props = read_properties(Path::new(path))?;
        return props
            .get(key)
            .cloned()
            .ok_or_else(|| format!("key {key} not found in {path}"));
    }
    // Not a provider reference (e.g. `${topic}` in a table name format): keep it verbatim.
    Ok(format!("${{{reference}}}"))
}

/// Reads a Java-style properties file: `key=value` or `key: value` lines, `#`/`!` comments.
pub fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse_properties(&text))
}

/// Parses Java-style properties text (no line continuations or unicode escapes).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .filter_map(|line| {
            let split = line.find(['=', ':'])?;
            Some((
                line[..split].trim().to_string(),
                line[split + 1..].trim().to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PG_PASS").then(|| "s3cret".to_string())
    }

    #[test]
    fn expands_env_and_keeps_other_placeholders() {
        assert_eq!(expand("pw=${env:PG_PASS}", &env).unwrap(), "pw=s3cret");
        assert_eq!(expand("${topic}_x", &env).unwrap(), "${topic}_x");
        assert!(expand("${env:MISSING}", &env)
            .unwrap_err()
            .contains("MISSING"));
        assert!(expand("${env:PG_PASS", &env).is_err());
    }

    #[test]
    fn expands_file_references() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.properties");
        std::fs::write(&path, "# comment\npassword = abc\nuser: bob\n").unwrap();
        let value = format!("${{file:{}:password}}", path.display());
        assert_eq!(expand(&value, &env).unwrap(), "abc");
        let missing = format!("${{file:{}:nope}}", path.display());
        assert!(expand(&missing, &env).unwrap_err().contains("nope"));
    }
}
