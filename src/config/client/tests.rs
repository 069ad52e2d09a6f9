//! Every Java and librdkafka security key, read back from each client's librdkafka config.

use super::*;
use crate::config::{ConnectorConfig, WorkerConfig};

const ROLES: [ClientRole; 3] = [
    ClientRole::Consumer,
    ClientRole::Producer,
    ClientRole::Admin,
];

fn worker(text: &str) -> Result<WorkerConfig, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.properties");
    std::fs::write(&file, text).unwrap();
    WorkerConfig::load(Some(&file), &BTreeMap::new(), &|_| None, &[])
}

fn problems(text: &str) -> String {
    worker(text).unwrap_err().join("\n")
}

/// SASL_SSL with SCRAM from a JAAS line continued over lines, a PEM truststore, a PKCS12
/// keystore, hostname verification off: every client gets librdkafka's keys, secrets never
/// show in Debug output.
#[test]
fn java_security_keys_reach_every_client() {
    let w = worker(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
         \x20   username=\"sluice\" \\\n    password=\"scram-pw\";\n\
         ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/ca.pem\n\
         ssl.keystore.type=PKCS12\nssl.keystore.location=/etc/kafka/client.p12\n\
         ssl.keystore.password=store-pw\nssl.key.password=key-pw\n\
         ssl.endpoint.identification.algorithm=\n",
    )
    .expect("worker");
    for role in ROLES {
        let c = w.client_config(role);
        for (key, value) in [
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "sluice"),
            ("sasl.password", "scram-pw"),
            ("ssl.ca.location", "/etc/kafka/ca.pem"),
            ("ssl.keystore.location", "/etc/kafka/client.p12"),
            ("ssl.keystore.password", "store-pw"),
            ("ssl.key.password", "key-pw"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ] {
            assert_eq!(c.get(key), Some(value), "{role:?} {key}");
        }
        for java in [
            "sasl.jaas.config",
            "ssl.truststore.location",
            "ssl.truststore.type",
            "ssl.keystore.type",
        ] {
            assert_eq!(c.get(java), None, "{role:?} {java} reached librdkafka");
        }
        // librdkafka takes the whole configuration.
        assert!(c.create_native_config().is_ok(), "{role:?}");
    }
    let debug = format!("{w:?}");
    for secret in ["scram-pw", "store-pw", "key-pw"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(w.no_effect_keys.is_empty(), "{:?}", w.no_effect_keys);
}

/// PLAIN, librdkafka's own names, PEM strings, a PEM keystore file, HTTPS verification, and
/// the unsecured OAUTHBEARER token.
#[test]
fn other_security_forms() {
    let w = worker(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
         sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='u' password=\"p'w\";\n\
         ssl.truststore.certificates=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\n\
         ssl.truststore.type=PEM\n\
         ssl.keystore.type=PEM\nssl.keystore.location=/etc/kafka/client.pem\n\
         ssl.endpoint.identification.algorithm=HTTPS\n\
         producer.ssl.keystore.key=-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----\n",
    )
    .expect("worker");
    let c = w.client_config(ClientRole::Consumer);
    assert_eq!(c.get("sasl.username"), Some("u"));
    assert_eq!(c.get("sasl.password"), Some("p'w"));
    assert!(c.get("ssl.ca.pem").is_some_and(|p| p.contains("MIIB\n")));
    assert_eq!(
        c.get("ssl.certificate.location"),
        Some("/etc/kafka/client.pem")
    );
    assert_eq!(c.get("ssl.key.location"), Some("/etc/kafka/client.pem"));
    assert_eq!(
        c.get("ssl.endpoint.identification.algorithm"),
        Some("https")
    );
    assert_eq!(c.get("ssl.key.pem"), None);
    let p = w.client_config(ClientRole::Producer);
    assert!(p.get("ssl.key.pem").is_some_and(|k| k.contains("abc")));
    assert!(!format!("{w:?}").contains("abc"), "PEM key in Debug");

    let w = worker(
        "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n\
         sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"alice\";\n",
    )
    .expect("worker");
    for role in ROLES {
        let c = w.client_config(role);
        assert_eq!(c.get("enable.sasl.oauthbearer.unsecure.jwt"), Some("true"));
        assert_eq!(
            c.get("sasl.oauthbearer.config"),
            Some("principalClaimName=sub principal=alice scopeClaimName=scope")
        );
    }

    // librdkafka's own keys go through as they are, also from SLUICE_* variables.
    let env = [
        ("SLUICE_SECURITY_PROTOCOL", "SASL_SSL"),
        ("SLUICE_SASL_MECHANISM", "SCRAM-SHA-256"),
        ("SLUICE_SASL_USERNAME", "env-user"),
        ("SLUICE_SASL_PASSWORD", "env-pw"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let flags = BTreeMap::from([("ssl.ca.location".to_string(), "/ca.pem".to_string())]);
    let w = WorkerConfig::load(None, &flags, &|_| None, &env).expect("worker");
    for role in ROLES {
        let c = w.client_config(role);
        assert_eq!(c.get("sasl.username"), Some("env-user"));
        assert_eq!(c.get("sasl.password"), Some("env-pw"));
        assert_eq!(c.get("ssl.ca.location"), Some("/ca.pem"));
    }
    assert!(!format!("{w:?}").contains("env-pw"));
}

/// Java keystores, PKCS12 truststores and Java classes are refused, naming the key and what
/// to use instead; nothing is half-applied.
#[test]
fn java_only_security_is_refused_with_the_alternative() {
    let all = problems(
        "ssl.truststore.location=/etc/kafka/truststore.jks\nssl.truststore.password=x\n\
         ssl.keystore.location=/etc/kafka/keystore.jks\nssl.keystore.password=y\n",
    );
    assert!(
        all.contains("ssl.truststore.location: librdkafka cannot read a JKS truststore"),
        "{all}"
    );
    assert!(
        all.contains("ssl.truststore.type=PEM") && all.contains("ssl.ca.location"),
        "{all}"
    );
    assert!(
        all.contains("ssl.keystore.location: librdkafka cannot read a JKS keystore"),
        "{all}"
    );
    assert!(
        all.contains("ssl.certificate.location and ssl.key.location"),
        "{all}"
    );
    // Java's default type is JKS whatever the file is called, unless its name says PEM.
    let all = problems("ssl.truststore.location=/etc/kafka/truststore\n");
    assert!(all.contains("cannot read a JKS truststore"), "{all}");
    assert!(worker("ssl.truststore.location=/etc/kafka/ca.crt\n").is_ok());
    let all =
        problems("consumer.ssl.truststore.type=PKCS12\nconsumer.ssl.truststore.location=/t.p12\n");
    assert!(
        all.contains(
            "consumer.ssl.truststore.location: librdkafka cannot read a PKCS12 truststore"
        ),
        "{all}"
    );
    assert!(all.contains("openssl pkcs12"), "{all}");
    let all = problems("ssl.keystore.type=JKS\nssl.keystore.location=/k.p12\n");
    assert!(
        all.contains("ssl.keystore.location: librdkafka cannot read a JKS keystore"),
        "{all}"
    );
    for key in [
        "sasl.login.callback.handler.class",
        "sasl.client.callback.handler.class",
        "ssl.engine.factory.class",
        "producer.sasl.login.class",
    ] {
        let all = problems(&format!("{key}=com.acme.Handler\n"));
        assert!(all.starts_with(&format!("{key}: ")), "{all}");
        assert!(all.contains("cannot run in sluice"), "{all}");
    }
    // Kafka's own OIDC handler too: librdkafka's OIDC login needs libcurl, not in this build,
    // and librdkafka itself refuses its keys.
    let all = problems(
        "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n\
         sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
         sasl.oauthbearer.method=oidc\n\
         sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"id\" clientSecret=\"oidc-secret\";\n",
    );
    assert!(
        all.contains("sasl.login.callback.handler.class: Java classes cannot run"),
        "{all}"
    );
    assert!(
        all.contains("sasl.jaas.config: OAuthBearerLoginModule: unsecuredLoginStringClaim_sub"),
        "{all}"
    );
    assert!(
        all.contains("sasl.oauthbearer.method: librdkafka refuses the value: "),
        "{all}"
    );
    assert!(!all.contains("oidc-secret"), "{all}");
}

#[test]
fn jaas_problems_name_the_key_and_never_the_password() {
    for (text, says) in [
        (
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"leak\"\n",
            "does not end with ';'",
        ),
        (
            "security.protocol=SASL_SSL\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"leak\";\n",
            "PlainLoginModule serves sasl.mechanism PLAIN, but sasl.mechanism is not set",
        ),
        (
            "sasl.username=x\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"leak\";\n",
            "sasl.username: also given by sasl.jaas.config",
        ),
        (
            "ssl.endpoint.identification.algorithm=leak\n",
            "expected HTTPS",
        ),
    ] {
        let all = problems(text);
        assert!(all.contains(says), "{all}");
        assert!(
            all.starts_with("sasl.jaas.config: ") || all.starts_with("sasl.username: ") || all.starts_with("ssl.endpoint"),
            "{all}"
        );
        if !says.contains("HTTPS") {
            assert!(!all.contains("leak"), "{all}");
        }
    }
    let all = problems("security.protocol=plain-text\n");
    assert!(
        all.contains("security.protocol: librdkafka refuses the value: "),
        "{all}"
    );
    // A value a config provider supplied is a secret: not quoted back.
    let flags = BTreeMap::from([("security.protocol".to_string(), "${env:P}".to_string())]);
    let env = |_: &str| Some("leak-protocol".to_string());
    let all = WorkerConfig::load(None, &flags, &env, &[])
        .unwrap_err()
        .join("\n");
    assert_eq!(all, "security.protocol: librdkafka refuses the value");
}

/// Java consumer keys librdkafka does not know are mapped or have no effect; keys librdkafka
/// knows go through; names neither knows are errors.
#[test]
fn java_consumer_keys() {
    let w = worker(
        "consumer.max.poll.records=200\nconsumer.max.poll.interval.ms=600000\n\
         consumer.key.deserializer=org.apache.kafka.common.serialization.ByteArrayDeserializer\n\
         consumer.value.deserializer=org.apache.kafka.common.serialization.ByteArrayDeserializer\n\
         consumer.interceptor.classes=com.acme.Tracing\nconsumer.metric.reporters=com.acme.Metrics\n\
         consumer.default.api.timeout.ms=60000\nconsumer.allow.auto.create.topics=false\n\
         consumer.fetch.max.wait.ms=250\nconsumer.receive.buffer.bytes=-1\n\
         consumer.request.timeout.ms=40000\nconsumer.auto.offset.reset=none\n\
         consumer.enable.auto.commit=true\n\
         consumer.partition.assignment.strategy=org.apache.kafka.clients.consumer.RangeAssignor\n\
         consumer.isolation.level=read_committed\nconsumer.session.timeout.ms=45000\n\
         producer.key.serializer=org.apache.kafka.common.serialization.ByteArraySerializer\n\
         producer.max.request.size=2000000\nproducer.linger.ms=5\nadmin.default.api.timeout.ms=1\n",
    )
    .expect("worker");
    assert_eq!(w.max_poll_records, Some(200));
    let c = w.client_config(ClientRole::Consumer);
    for (key, value) in [
        ("max.poll.interval.ms", Some("600000")),
        ("allow.auto.create.topics", Some("false")),
        ("fetch.wait.max.ms", Some("250")),
        ("socket.receive.buffer.bytes", Some("0")),
        ("socket.timeout.ms", Some("40000")),
        ("auto.offset.reset", Some("error")),
        ("isolation.level", Some("read_committed")),
        ("session.timeout.ms", Some("45000")),
        ("max.poll.records", None),
        ("key.deserializer", None),
        ("interceptor.classes", None),
        ("default.api.timeout.ms", None),
        ("fetch.max.wait.ms", None),
        ("enable.auto.commit", None),
        ("partition.assignment.strategy", None),
        ("linger.ms", None),
    ] {
        assert_eq!(c.get(key), value, "{key}");
    }
    assert!(c.create_native_config().is_ok());
    let p = w.client_config(ClientRole::Producer);
    assert_eq!(p.get("message.max.bytes"), Some("2000000"));
    assert_eq!(p.get("linger.ms"), Some("5"));
    assert_eq!(p.get("key.serializer"), None);
    assert_eq!(p.get("max.poll.interval.ms"), None);
    for key in [
        "consumer.key.deserializer",
        "consumer.value.deserializer",
        "consumer.interceptor.classes",
        "consumer.metric.reporters",
        "consumer.default.api.timeout.ms",
        "consumer.enable.auto.commit",
        "consumer.partition.assignment.strategy",
        "producer.key.serializer",
        "admin.default.api.timeout.ms",
    ] {
        assert!(
            w.no_effect_keys.iter().any(|k| k == key),
            "{key}: {:?}",
            w.no_effect_keys
        );
    }
    let all = problems(
        "consumer.max.poll.recrods=1\nconsumer.max.poll.records=0\nconsumer.fetch.max.wait.ms=-5\n\
         consumer.group.id=shared\nproducer.max.poll.records=5\n",
    );
    for says in [
        "consumer.max.poll.recrods: not a consumer setting librdkafka or the Java client knows",
        "consumer.max.poll.records: '0' is not valid",
        "consumer.fetch.max.wait.ms: librdkafka refuses the value",
        "consumer.group.id: each connector has its own group",
        "producer.max.poll.records: not a producer setting",
    ] {
        assert!(all.contains(says), "{says}:\n{all}");
    }
}

/// A connector's `consumer.override.*` comes after the worker's `consumer.*`, and is
/// translated the same way.
#[test]
fn connector_overrides_come_last() {
    let w = worker(
        "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n\
         sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"worker\" password=\"w-pw\";\n\
         consumer.fetch.max.wait.ms=300\nconsumer.max.poll.records=300\n",
    )
    .expect("worker");
    let text = serde_json::json!({"name": "c", "config": {
        "topics": "t", "connection.url": "sqlite::memory:", "batch.size": "1000",
        "consumer.override.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"conn\" password=\"c-pw\";",
        "consumer.override.fetch.max.wait.ms": "50",
        "consumer.override.max.poll.records": "100",
        "consumer.override.value.deserializer": "x",
        "producer.override.linger.ms": "7",
        "admin.override.request.timeout.ms": "20000"}})
    .to_string();
    let connector =
        ConnectorConfig::from_json_with(&text, "c.json", &|_| None, &w).expect("connector");
    assert_eq!(connector.batch_size, 100);
    assert_eq!(connector.max_poll_records, Some(100));
    assert_eq!(
        connector.no_effect_keys,
        ["consumer.override.value.deserializer"]
    );
    let c = w.client_config_for(ClientRole::Consumer, &connector);
    assert_eq!(c.get("sasl.username"), Some("conn"));
    assert_eq!(c.get("sasl.password"), Some("c-pw"));
    assert_eq!(c.get("fetch.wait.max.ms"), Some("50"));
    assert_eq!(c.get("linger.ms"), None);
    let p = w.client_config_for(ClientRole::Producer, &connector);
    assert_eq!(p.get("sasl.username"), Some("worker"));
    assert_eq!(p.get("linger.ms"), Some("7"));
    let a = w.client_config_for(ClientRole::Admin, &connector);
    assert_eq!(a.get("socket.timeout.ms"), Some("20000"));
    let debug = format!("{connector:?}");
    assert!(
        !debug.contains("c-pw") && !debug.contains("w-pw"),
        "{debug}"
    );
    // Without an override, the worker's max.poll.records bounds the batch.
    let plain = serde_json::json!({"name": "c", "config": {
        "topics": "t", "connection.url": "sqlite::memory:"}})
    .to_string();
    let connector =
        ConnectorConfig::from_json_with(&plain, "c.json", &|_| None, &w).expect("connector");
    assert_eq!(
        (connector.batch_size, connector.max_poll_records),
        (300, Some(300))
    );
}
