use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PG_PASS" => Some("s3cret".to_string()),
        "OTHER" => Some("other".to_string()),
        _ => None,
    }
}

fn declared(lines: &[(&str, String)]) -> Result<Providers, Vec<String>> {
    let settings: BTreeMap<String, String> = lines
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut problems = Vec::new();
    let providers = Providers::declare(&settings, &mut problems);
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

#[test]
fn undeclared_env_and_file_work_and_other_placeholders_stay() {
    assert_eq!(expand("pw=${env:PG_PASS}", &env).unwrap(), "pw=s3cret");
    assert_eq!(expand("${topic}_x", &env).unwrap(), "${topic}_x");
    assert_eq!(
        expand("${source.db}.${topic}", &env).unwrap(),
        "${source.db}.${topic}"
    );
    let err = expand("${env:MISSING}", &env).unwrap_err();
    assert!(err.contains("MISSING") && err.contains("env"), "{err}");
    let err = expand("${env:PG_PASS", &env).unwrap_err();
    assert!(!err.contains("PG_PASS"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.properties");
    std::fs::write(&path, "# comment\npassword = abc\nuser: bob\n").unwrap();
    let value = format!("${{file:{}:password}}", path.display());
    assert_eq!(expand(&value, &env).unwrap(), "abc");
    let missing = format!("${{file:{}:nope}}", path.display());
    assert!(expand(&missing, &env).unwrap_err().contains("nope"));
    let no_key = format!("${{file:{}}}", path.display());
    assert!(expand(&no_key, &env).unwrap_err().contains("PATH:KEY"));
}

/// An alias nobody declared is an error naming it, never the placeholder used as the value.
#[test]
fn an_unknown_provider_is_named() {
    let none = Providers::default();
    let err = none
        .expand("${vault:secret/db:password}", &env)
        .unwrap_err();
    assert!(err.contains("unknown config provider 'vault'"), "{err}");
    let err = none.expand("${directory:/x:y}", &env).unwrap_err();
    assert!(err.contains("'directory'"), "{err}");
    let problems = declared(&[
        ("config.providers", "vault,env".into()),
        (
            "config.providers.vault.class",
            "com.acme.VaultConfigProvider".into(),
        ),
        ("config.providers.env.class", ENV_CLASS.into()),
        ("config.providers.env.param.colour", "blue".into()),
        ("config.providers.nope.class", FILE_CLASS.into()),
    ])
    .unwrap_err();
    let all = problems.join("\n");
    assert!(
        all.contains("config.providers.vault.class: config provider class com.acme.VaultConfigProvider (provider vault)"),
        "{all}"
    );
    assert!(
        all.contains("config.providers.env.param.colour: not a parameter"),
        "{all}"
    );
    assert!(
        all.contains("config.providers.nope.class: provider nope is not listed"),
        "{all}"
    );
    let problems = declared(&[("config.providers", "file".into())]).unwrap_err();
    assert!(
        problems[0].starts_with("config.providers.file.class: required"),
        "{problems:?}"
    );
}

/// Kubernetes mounts a secret as `..<timestamp>/` with the files, `..data` linking to it and
/// one link per key through `..data`; Connect reads each file whole (a trailing newline stays).
#[test]
fn directory_provider_reads_a_mounted_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("db-credentials");
    let stamp = mount.join("..2024_05_01_10_00_00.123456789");
    std::fs::create_dir_all(&stamp).unwrap();
    std::fs::write(stamp.join("password"), "hunter2\n").unwrap();
    std::fs::write(stamp.join("username"), "sluice").unwrap();
    std::os::unix::fs::symlink("..2024_05_01_10_00_00.123456789", mount.join("..data")).unwrap();
    for key in ["password", "username"] {
        std::os::unix::fs::symlink(format!("..data/{key}"), mount.join(key)).unwrap();
    }
    let providers = declared(&[
        ("config.providers", "directory".into()),
        ("config.providers.directory.class", DIRECTORY_CLASS.into()),
        (
            "config.providers.directory.param.allowed.paths",
            dir.path().display().to_string(),
        ),
    ])
    .unwrap();
    let m = mount.display();
    let got = providers
        .expand(
            &format!("${{directory:{m}:username}}:${{directory:{m}:password}}"),
            &env,
        )
        .unwrap();
    assert_eq!(got.value, "sluice:hunter2\n");
    assert!(got.from_provider);
    for (key, says) in [
        ("..data", "no file ..data"),
        ("../x", "no file ../x"),
        ("nope", "no file nope"),
    ] {
        let err = providers
            .expand(&format!("${{directory:{m}:{key}}}"), &env)
            .unwrap_err();
        assert!(
            err.contains(says) && err.contains("provider directory"),
            "{err}"
        );
    }
    let err = providers
        .expand("${directory:/etc:passwd}", &env)
        .unwrap_err();
    assert!(err.contains("outside its allowed.paths"), "{err}");
    let escape = format!("${{directory:{}/../..:x}}", dir.path().display());
    assert!(providers
        .expand(&escape, &env)
        .unwrap_err()
        .contains("allowed.paths"));
    // Undeclared, the alias means nothing: the legacy fallback covers only env and file.
    assert!(Providers::default()
        .expand(&format!("${{directory:{m}:password}}"), &env)
        .is_err());
}

#[test]
fn declared_file_and_env_providers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kafka.properties");
    std::fs::write(&path, "sasl.password=pw\\=1\n").unwrap();
    let providers = declared(&[
        ("config.providers", "secrets, vars".into()),
        (
            "config.providers.secrets.class",
            "FileConfigProvider".into(),
        ),
        ("config.providers.vars.class", ENV_CLASS.into()),
        (
            "config.providers.vars.param.allowlist.pattern",
            "PG_.*".into(),
        ),
    ])
    .unwrap();
    let value = format!("${{secrets:{}:sasl.password}}", path.display());
    assert_eq!(providers.expand(&value, &env).unwrap().value, "pw=1");
    assert_eq!(
        providers.expand("${vars:PG_PASS}", &env).unwrap().value,
        "s3cret"
    );
    let err = providers.expand("${vars:OTHER}", &env).unwrap_err();
    assert!(
        err.contains("allowlist.pattern") && !err.contains("other\""),
        "{err}"
    );
    assert!(providers
        .expand("${vars:a:PG_PASS}", &env)
        .unwrap_err()
        .contains("takes no path"));
    // Declaring other aliases leaves the undeclared env/file fallback in place.
    assert_eq!(
        providers.expand("${env:PG_PASS}", &env).unwrap().value,
        "s3cret"
    );
    let plain = providers.expand("no placeholder", &env).unwrap();
    assert!(!plain.from_provider);
    let problems = declared(&[
        ("config.providers", "f".into()),
        ("config.providers.f.class", FILE_CLASS.into()),
        (
            "config.providers.f.param.allowed.paths",
            "relative/dir".into(),
        ),
    ])
    .unwrap_err();
    assert!(problems[0].contains("is not absolute"), "{problems:?}");
}
