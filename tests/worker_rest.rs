//! `sluice worker`: connectors managed over Kafka Connect's REST API, their configs and target
//! states in the config topic, on tansu and PostgreSQL. A connector created over REST applies
//! the recorded inventory stream; pause, resume, stop, the offsets round trip (KIP-875),
//! restart, delete; and a worker restarted finds every connector in its last state.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::oracle::Oracle;
use support::publish_jsonl;
use support::{corpus_dir, http, random_name, Postgres, Tansu};

/// The Debezium JDBC sink config of the inventory tables under `prefix`, into `url`. One task:
/// tansu keeps a member that leaves its group in the middle of a rebalance (two tasks stopped
/// together by a pause) and then never completes another rebalance of that group, where Kafka
/// would drop the member; several tasks are for the scale-out test.
fn sink_config(prefix: &str, url: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics.regex": format!("{prefix}\\..*"),
        "connection.url": format!("jdbc:{}", url.replacen("postgres://", "postgresql://", 1)),
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "delete.enabled": "true",
        "truncate.enabled": "true",
        "schema.evolution": "basic",
        "collection.name.format": "${source.table}",
        "batch.size": "40",
        "errors.tolerance": "all",
    })
}

/// A record no converter can read, on partition 0 of `topic`.
async fn produce_garbage(bootstrap: &str, topic: &str) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(topic)
                .partition(0)
                .key("{not json")
                .payload("\u{0}garbage{"),
            Duration::from_secs(10),
        )
        .await
        .expect("produced");
}

/// Asks a worker to stop (SIGTERM) and waits for it; its exit status.
fn stop_worker(child: &mut std::process::Child, log: &std::path::Path) -> std::process::ExitStatus {
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    support::sluice::wait(child, Duration::from_secs(60), log)
}

/// A worker file (`support::sluice::worker_mode_file` on `port`) listening on `listeners`
/// instead, with `extra` lines added.
fn amend_worker(worker: &std::path::Path, port: u16, listeners: &str, extra: &str) {
    let text = std::fs::read_to_string(worker).expect("worker").replace(
        &format!("listeners=http://127.0.0.1:{port}"),
        &format!("listeners={listeners}"),
    );
    std::fs::write(worker, format!("{text}{extra}")).expect("worker");
}

/// Polls `GET path` until `ok` holds for the answer.
fn until(
    port: u16,
    path: &str,
    within: Duration,
    what: &str,
    ok: impl Fn(u16, &Value) -> bool,
) -> Value {
    support::http_until(port, path, within, what, None, ok)
}

/// Every checkpoint row's fencing epoch for `group`.
async fn epochs(url: &str, group: &str) -> std::collections::BTreeMap<(String, i64), i64> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT topic, CAST(kafka_partition AS BIGINT), CAST(epoch AS BIGINT) FROM sluice_offsets \
         WHERE group_id = $1",
    )
    .bind(group)
    .fetch_all(&mut conn)
    .await
    .expect("epochs")
    .into_iter()
    .map(|(t, p, e)| ((t, p), e))
    .collect()
}

/// Waits until every partition of `group` has been claimed again since `before` (its epoch
/// moved): the resumed tasks have joined the group and hold the partitions. (A task stopped
/// while still joining can leave tansu's group stuck; Kafka would expire such a member.)
async fn until_claimed(
    url: &str,
    group: &str,
    before: &std::collections::BTreeMap<(String, i64), i64>,
) {
    let started = Instant::now();
    loop {
        let now = epochs(url, group).await;
        if before
            .iter()
            .all(|(k, e)| now.get(k).is_some_and(|n| n > e))
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not claimed again: {before:?} -> {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `PUT /connectors/{name}/{action}` answered `code`, then the status until `settled`.
fn act(port: u16, name: &str, action: &str, code: u16, settled: impl Fn(&Value) -> bool) {
    let (answered, body) =
        http(port, "PUT", &format!("/connectors/{name}/{action}"), None).expect("answer");
    assert_eq!(answered, code, "{action}: {body}");
    until(
        port,
        &format!("/connectors/{name}/status"),
        Duration::from_secs(60),
        action,
        |c, s| c == 200 && settled(s),
    );
}

fn states(status: &Value) -> Vec<String> {
    status["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["state"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn connectors_over_rest_apply_pause_stop_replay_and_survive_a_restart() {
    let tansu = Tansu::start();
    let prefix = random_name("t");
    let events = support::corpus_events("inventory", "default.json-schemas.jsonl");
    publish_jsonl(&tansu.bootstrap(), &events, |t| format!("{prefix}.{t}"), 1).await;
    let url = Postgres::database();
    let oracle = Oracle::load(corpus_dir().join("inventory/oracle/final.json"));
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let group = random_name("workers");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, port);
    let mut child = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    let root = until(
        port,
        "/",
        Duration::from_secs(60),
        "the REST API",
        |c, _| c == 200,
    );
    assert!(root["version"].is_string(), "{root}");

    // Create: 201, then every task RUNNING and the target equal to the source.
    let name = random_name("inventory");
    let doc = json!({"name": name, "config": sink_config(&prefix, &url)});
    let (code, created) = http(port, "POST", "/connectors", Some(&doc)).expect("answer");
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["tasks"].as_array().map(Vec::len),
        Some(1),
        "{created}"
    );
    let (code, again) = http(port, "POST", "/connectors", Some(&doc)).expect("answer");
    assert_eq!(
        (code, again["error_code"].as_i64()),
        (409, Some(409)),
        "{again}"
    );
    let status_path = format!("/connectors/{name}/status");
    until(
        port,
        &status_path,
        Duration::from_secs(60),
        "tasks running",
        |c, s| c == 200 && s["connector"]["state"] == "RUNNING" && states(s) == ["RUNNING"],
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if support::check_pg_matches(&url, &oracle, |n| n.to_string())
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not applied; log:\n{}",
            support::tail(&dir.path().join("worker.log"), 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (code, listed) =
        http(port, "GET", "/connectors?expand=status&expand=info", None).expect("answer");
    assert_eq!(code, 200);
    assert_eq!(
        listed[&name]["info"]["config"]["tasks.max"], "1",
        "{listed}"
    );
    assert_eq!(
        listed[&name]["status"]["connector"]["state"], "RUNNING",
        "{listed}"
    );

    // sluice's own reports: a record that cannot be decoded is dead-lettered, and the status
    // report, the dead letters and the conflicts are read from the target over REST.
    let customers = format!("{prefix}.dbserver1.public.customers");
    produce_garbage(&tansu.bootstrap(), &customers).await;
    let letters = until(
        port,
        &format!("/connectors/{name}/sluice/dead-letters?waiting=true"),
        Duration::from_secs(60),
        "the dead letter",
        |c, l| c == 200 && l.as_array().is_some_and(|a| !a.is_empty()),
    );
    assert_eq!(letters.as_array().map(Vec::len), Some(1), "{letters}");
    assert_eq!(letters[0]["topic"], customers.as_str(), "{letters}");
    assert_eq!(letters[0]["stage"], "decode", "{letters}");
    let (code, none) = http(
        port,
        "GET",
        &format!("/connectors/{name}/sluice/dead-letters?stage=write"),
        None,
    )
    .expect("answer");
    assert_eq!((code, none), (200, json!([])));
    let (code, report) = http(
        port,
        "GET",
        &format!("/connectors/{name}/sluice/status"),
        None,
    )
    .expect("answer");
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["metadata"]["sync_id"], name.as_str(), "{report}");
    assert_eq!(report["statistics"]["errors"], 1, "{report}");
    assert!(
        report["statistics"]["records_processed"].as_i64() > Some(0)
            && report["checkpoint"]["partitions"]
                .as_array()
                .is_some_and(|p| !p.is_empty()),
        "{report}"
    );
    let (code, conflicts) = http(
        port,
        "GET",
        &format!("/connectors/{name}/sluice/conflicts?pending=TRUE"),
        None,
    )
    .expect("answer");
    assert_eq!((code, conflicts), (200, json!([])));
    let (code, missing) =
        http(port, "GET", "/connectors/nobody/sluice/status", None).expect("answer");
    assert_eq!((code, missing["error_code"].as_i64()), (404, Some(404)));
    let (code, keys) = http(
        port,
        "GET",
        "/connector-plugins/JdbcSinkConnector/config",
        None,
    )
    .expect("answer");
    assert_eq!(code, 200, "{keys}");
    assert!(
        keys.as_array().is_some_and(|k| k
            .iter()
            .any(|k| k["name"] == "connection.url" && k["required"] == true)),
        "{keys}"
    );

    // Pause and resume.
    act(port, &name, "pause", 202, |s| {
        s["connector"]["state"] == "PAUSED" && states(s) == ["PAUSED"]
    });
    let group = format!("connect-{name}");
    let before = epochs(&url, &group).await;
    act(port, &name, "resume", 202, |s| states(s) == ["RUNNING"]);
    until_claimed(&url, &group, &before).await;

    // Offsets: read, refused while running, then stop, rewind to 0, replay.
    let offsets_path = format!("/connectors/{name}/offsets");
    let offsets = until(
        port,
        &offsets_path,
        Duration::from_secs(30),
        "offsets",
        |c, o| c == 200 && o["offsets"].as_array().is_some_and(|a| !a.is_empty()),
    );
    // The customers table's partition, rewound to 0 and replayed back to where it was.
    let (first, before) = offsets["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["partition"].clone(),
                p["offset"]["kafka_offset"].as_i64().unwrap_or(0),
            )
        })
        .find(|(p, _)| {
            p["kafka_topic"]
                .as_str()
                .is_some_and(|t| t.ends_with(".public.customers"))
        })
        .expect("the customers partition's offset");
    assert!(before > 0, "{offsets}");
    let rewind = json!({"offsets": [{"partition": first, "offset": {"kafka_offset": 0}}]});
    let (code, refused) = http(port, "PATCH", &offsets_path, Some(&rewind)).expect("answer");
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("STOPPED"),
        "{refused}"
    );
    act(port, &name, "stop", 204, |s| {
        s["connector"]["state"] == "STOPPED" && states(s).is_empty()
    });
    let started = Instant::now();
    let altered = loop {
        let (code, body) = http(port, "PATCH", &offsets_path, Some(&rewind)).expect("answer");
        // The group may still have its leaving members for a moment (409).
        if code != 409 || started.elapsed() > Duration::from_secs(30) {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        altered.0,
        200,
        "{}\n{}",
        altered.1,
        support::tail(&dir.path().join("worker.log"), 60)
    );
    let now = until(
        port,
        &offsets_path,
        Duration::from_secs(10),
        "rewound",
        |_, o| {
            o["offsets"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|p| p["partition"] == first && p["offset"]["kafka_offset"] == 0)
            })
        },
    );
    assert!(now["offsets"].is_array());

    // A restart of the worker: the connector comes back STOPPED (its last state), then
    // resumes and replays from 0 without moving any row backwards.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = support::sluice::wait(
        &mut child,
        Duration::from_secs(60),
        &dir.path().join("worker.log"),
    );
    assert!(
        exit.success(),
        "{}",
        support::tail(&dir.path().join("worker.log"), 40)
    );
    let mut child = support::sluice::spawn_worker(dir.path(), &worker, "worker2.log");
    until(
        port,
        &status_path,
        Duration::from_secs(60),
        "back stopped",
        |c, s| c == 200 && s["connector"]["state"] == "STOPPED",
    );
    act(port, &name, "resume", 202, |s| states(s) == ["RUNNING"]);
    until(
        port,
        &offsets_path,
        Duration::from_secs(60),
        "replayed back to where it was",
        |_, o| {
            o["offsets"].as_array().is_some_and(|a| {
                a.iter().any(|p| {
                    p["partition"] == first && p["offset"]["kafka_offset"].as_i64() == Some(before)
                })
            })
        },
    );
    support::assert_pg_matches(&url, &oracle, |n| n.to_string()).await;

    // Restart (the answer is Connect's plan: what restarts says RESTARTING), unknown
    // connector, delete.
    let restart = |query: &str| {
        let path = format!("/connectors/{name}/restart?{query}");
        let (code, plan) = http(port, "POST", &path, None).expect("answer");
        assert_eq!(code, 202, "{plan}");
        std::iter::once(plan["connector"]["state"].clone())
            .chain(
                plan["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| t["state"].clone()),
            )
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    until(
        port,
        &format!("/connectors/{name}/status"),
        Duration::from_secs(60),
        "running",
        |c, s| c == 200 && s["connector"]["state"] == "RUNNING" && states(s) == ["RUNNING"],
    );
    assert_eq!(
        restart("includeTasks=TRUE&onlyFailed=true"),
        ["RUNNING", "RUNNING"]
    );
    assert_eq!(restart("includeTasks=true"), ["RESTARTING", "RESTARTING"]);
    let (code, missing) =
        http(port, "GET", "/connectors/no-such-connector/status", None).expect("answer");
    assert_eq!(
        (code, missing["error_code"].as_i64()),
        (404, Some(404)),
        "{missing}"
    );
    let (code, _) = http(port, "DELETE", &format!("/connectors/{name}"), None).expect("answer");
    assert_eq!(code, 204);
    until(
        port,
        "/connectors",
        Duration::from_secs(10),
        "deleted",
        |_, l| l.as_array().is_some_and(|a| a.is_empty()),
    );

    // KIP-980: created PAUSED, its task never runs; resumed, it does.
    let paused = random_name("paused");
    let doc =
        json!({"name": paused, "config": sink_config(&prefix, &url), "initial_state": "PAUSED"});
    let (code, body) = http(port, "POST", "/connectors", Some(&doc)).expect("answer");
    assert_eq!(code, 201, "{body}");
    let path = format!("/connectors/{paused}/status");
    for _ in 0..10 {
        let (_, status) = http(port, "GET", &path, None).expect("answer");
        assert!(
            states(&status).iter().all(|s| s != "RUNNING"),
            "a connector created PAUSED ran: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    act(port, &paused, "resume", 202, |s| states(s) == ["RUNNING"]);
    let log = std::fs::read_to_string(dir.path().join("worker2.log")).unwrap_or_default();
    let starts = log
        .lines()
        .filter(|l| l.contains("starting task") && l.contains(&paused))
        .count();
    assert_eq!(starts, 1, "{log}");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = support::sluice::wait(
        &mut child,
        Duration::from_secs(60),
        &dir.path().join("worker2.log"),
    );
}

/// REST safety: an empty listener host binds loopback only; with a credentials file
/// (Connect's `BasicAuthSecurityRestExtension` named in `rest.extension.classes`) and a bearer
/// token from a `${file:}` provider, every call without accepted credentials is 401 with the
/// error body and a challenge, the probes stay open, and no secret reaches an answer or the log.
#[tokio::test(flavor = "multi_thread")]
async fn rest_needs_credentials_and_binds_loopback() {
    let tansu = Tansu::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let group = random_name("auth");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, port);
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "ops=ops-Pa55word\nreader=reader-Pa55word\n").expect("users");
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, "token=tok-Very-Secret-42\n").expect("secrets");
    amend_worker(
        &worker,
        port,
        &format!("http://:{port}"),
        &format!(
            "rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension\n\
             sluice.rest.basic.auth.file={}\nsluice.rest.bearer.token=${{file:{}:token}}\n",
            users.display(),
            secrets.display()
        ),
    );
    let _worker = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    let started = Instant::now();
    while support::http(port, "GET", "/health", None).is_none_or(|(c, _)| c != 200) {
        assert!(started.elapsed() < Duration::from_secs(60), "worker not up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let basic = |user: &str, password: &str| {
        use base64::Engine as _;
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let ask = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        support::http_with(port, "GET", "/connectors", None, &headers).expect("answer")
    };
    let (code, body) = ask(None);
    assert_eq!(
        (code, body["error_code"].as_i64()),
        (401, Some(401)),
        "{body}"
    );
    assert_eq!(ask(Some(&basic("ops", "wrong"))).0, 401);
    assert_eq!(ask(Some(&basic("nobody", "ops-Pa55word"))).0, 401);
    assert_eq!(ask(Some("Bearer not-the-token")).0, 401);
    assert_eq!(ask(Some(&basic("ops", "ops-Pa55word"))), (200, json!([])));
    assert_eq!(ask(Some(&basic("reader", "reader-Pa55word"))).0, 200);
    assert_eq!(ask(Some("Bearer tok-Very-Secret-42")).0, 200);
    // A write needs them too; probes and scrapes do not.
    let (code, _) = support::http(
        port,
        "POST",
        "/connectors",
        Some(&json!({"name": "x", "config": {}})),
    )
    .expect("answer");
    assert_eq!(code, 401);
    assert_eq!(
        support::http(port, "GET", "/ready", None).map(|(c, _)| c),
        Some(200)
    );
    assert!(support::http_get(port, "/metrics").is_some_and(|m| m.contains("sluice_build_info")));
    // Loopback only: the machine's other addresses refuse the port.
    let others = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for address in others
        .split_whitespace()
        .filter(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
    {
        let reached = std::net::TcpStream::connect_timeout(
            &format!("{address}:{port}").parse().expect("address"),
            Duration::from_secs(2),
        );
        assert!(reached.is_err(), "the REST API answers on {address}:{port}");
    }
    let log = std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default();
    for secret in ["ops-Pa55word", "reader-Pa55word", "tok-Very-Secret-42"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// `sluice connectors ...` against `url` with extra arguments: exit code, stdout, stderr.
fn connectors_cli(url: &str, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = std::process::Command::new(support::sluice::binary())
        .args(["connectors", "list", "--url", url])
        .args(args)
        .env_remove("SLUICE_REST_CACERT")
        .output()
        .expect("run sluice connectors");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits for the worker's plain listener to answer `/health`.
fn until_up(port: u16, dir: &std::path::Path) {
    let started = Instant::now();
    while support::http(port, "GET", "/health", None).is_none_or(|(c, _)| c != 200) {
        let log = std::fs::read_to_string(dir.join("worker.log")).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "worker not up; log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_over_https_with_client_certificates() {
    let tansu = Tansu::start();
    let certs = support::tls::Certs::generate();
    let dir = tempfile::tempdir().expect("tempdir");
    let (plain, secure) = (support::free_port(), support::free_port());
    let group = random_name("https");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, plain);
    // Connect's PEM keystore (KIP-651): the private key and the chain in one file.
    let keystore = dir.path().join("rest-keystore.pem");
    let pem = |p: &std::path::Path| std::fs::read_to_string(p).expect("pem");
    std::fs::write(&keystore, pem(&certs.key) + &pem(&certs.cert)).expect("keystore");
    amend_worker(
        &worker,
        plain,
        &format!("http://127.0.0.1:{plain},https://127.0.0.1:{secure}"),
        &format!(
            "listeners.https.ssl.keystore.type=PEM\n\
             listeners.https.ssl.keystore.location={}\n\
             listeners.https.ssl.truststore.type=PEM\n\
             listeners.https.ssl.truststore.location={}\n\
             listeners.https.ssl.client.auth=required\n",
            keystore.display(),
            certs.ca.display()
        ),
    );
    let mut process = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    until_up(plain, dir.path());
    let url = format!("https://127.0.0.1:{secure}");
    let os = |p: &std::path::Path| p.as_os_str().to_owned();
    let (ca, cert, key) = (os(&certs.ca), os(&certs.client_cert), os(&certs.client_key));
    let flag = |f: &str| std::ffi::OsString::from(f);
    let trusted = [flag("--cacert"), ca.clone()];
    let with = |extra: &[std::ffi::OsString]| {
        let all: Vec<&std::ffi::OsStr> =
            trusted.iter().chain(extra).map(|a| a.as_os_str()).collect();
        connectors_cli(&url, &all)
    };
    // A client certificate signed by the trusted CA gets the answer.
    let (code, out, err) = with(&[flag("--cert"), cert.clone(), flag("--key"), key.clone()]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    // No certificate, or one from another CA: refused in the handshake.
    let (code, _, err) = with(&[]);
    assert_ne!(code, 0, "answered without a client certificate");
    let rogue = [
        flag("--cert"),
        os(&certs.rogue_cert),
        flag("--key"),
        os(&certs.rogue_key),
    ];
    let (code, _, rogue_err) = with(&rogue);
    assert_ne!(code, 0, "answered a client certificate of another CA");
    // The client checks the server too: a CA that did not sign it fails verification.
    let other = [
        flag("--cacert"),
        os(&certs.other_ca),
        flag("--cert"),
        cert,
        flag("--key"),
        key,
    ];
    let others: Vec<&std::ffi::OsStr> = other.iter().map(|a| a.as_os_str()).collect();
    let (code, _, other_err) = connectors_cli(&url, &others);
    assert_ne!(code, 0, "trusted a server its CA did not sign");
    assert!(other_err.contains("certificate"), "{other_err}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(support::http(secure, "GET", "/connectors", None), None);
    stop_worker(&mut process, &dir.path().join("worker.log"));
    let log = std::fs::read_to_string(dir.path().join("worker.log")).unwrap_or_default();
    assert!(
        log.contains("TLS handshake refused") && log.contains("client certificate"),
        "the refusals are not logged with their reason ({err} / {rogue_err}); log:\n{log}"
    );

    // PKCS12, its password from a config provider, no client certificates asked for.
    let store = dir.path().join("rest.p12");
    let exported = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:Store-Pa55"])
        .arg("-inkey")
        .arg(&certs.key)
        .arg("-in")
        .arg(&certs.cert)
        .arg("-out")
        .arg(&store)
        .status()
        .expect("openssl pkcs12");
    assert!(exported.success());
    let secrets = dir.path().join("rest-secrets.properties");
    std::fs::write(&secrets, "store=Store-Pa55\n").expect("secrets");
    let group = random_name("https12");
    let (plain, secure) = (support::free_port(), support::free_port());
    let dir2 = tempfile::tempdir().expect("tempdir");
    let worker = support::sluice::worker_mode_file(dir2.path(), &tansu.bootstrap(), &group, plain);
    amend_worker(
        &worker,
        plain,
        &format!("https://127.0.0.1:{secure},http://127.0.0.1:{plain}"),
        &format!(
            "config.providers=file\n\
             config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\
             listeners.https.ssl.keystore.location={}\n\
             listeners.https.ssl.keystore.password=${{file:{}:store}}\n",
            store.display(),
            secrets.display()
        ),
    );
    let _process = support::sluice::spawn_worker(dir2.path(), &worker, "worker.log");
    until_up(plain, dir2.path());
    let url = format!("https://127.0.0.1:{secure}");
    let (code, out, err) = connectors_cli(&url, &[std::ffi::OsStr::new("--cacert"), &ca]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    let log = std::fs::read_to_string(dir2.path().join("worker.log")).unwrap_or_default();
    assert!(
        !log.contains("Store-Pa55"),
        "the store password is in the log:\n{log}"
    );
}

/// An audit copy of the inventory tables: every change a row keyed by its Kafka coordinates
/// (`primary.key.mode=kafka`, plain inserts), so a change applied twice breaks the key and one
/// never applied is a row short.
fn audit_config(prefix: &str, url: &str) -> Value {
    let mut config = sink_config(prefix, url);
    for (key, value) in [
        ("insert.mode", "insert"),
        ("primary.key.mode", "kafka"),
        ("delete.enabled", "false"),
        ("truncate.enabled", "false"),
        ("errors.tolerance", "none"),
    ] {
        config[key] = json!(value);
    }
    config
}

/// The rows of each inventory table in an audit target, and how many distinct coordinates.
async fn audit_rows(url: &str) -> Vec<(String, i64, i64)> {
    let pool = sqlx::PgPool::connect(url).await.expect("target");
    let mut rows = Vec::new();
    for table in ["customers", "orders", "products", "products_on_hand"] {
        let counted: Result<(i64, i64), _> = sqlx::query_as(&format!(
            "SELECT count(*), count(DISTINCT (__connect_topic, __connect_partition, __connect_offset)) \
             FROM \"{table}\""
        ))
        .fetch_one(&pool)
        .await;
        let (all, distinct) = counted.unwrap_or((0, 0));
        rows.push((table.to_string(), all, distinct));
    }
    pool.close().await;
    rows
}

/// The changes (`c`, `r`, `u`) of each inventory table in JSONL lines of the recording.
fn changes(lines: &[String]) -> Vec<(String, i64, i64)> {
    ["customers", "orders", "products", "products_on_hand"]
        .iter()
        .map(|table| {
            let topic = format!("dbserver1.public.{table}");
            let n = lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|r| r["topic"] == topic.as_str())
                .filter_map(|r| serde_json::from_str::<Value>(r["value"].as_str()?).ok())
                .filter(|v| matches!(v["payload"]["op"].as_str(), Some("c" | "r" | "u")))
                .count() as i64;
            (table.to_string(), n, n)
        })
        .collect()
}

/// Polls an audit target until it holds `expected`.
async fn until_audited(url: &str, expected: &[(String, i64, i64)], log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = audit_rows(url).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {now:?}, expected {expected:?}; log:\n{}",
            support::tail(log, 40)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_cluster_brings_back_each_state_and_applies_once() {
    let tansu = Tansu::start();
    let prefix = random_name("t");
    // The recording in two halves: one before the restart, one after.
    let dir = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = std::fs::read_to_string(support::corpus_events(
        "inventory",
        "default.json-schemas.jsonl",
    ))
    .expect("corpus")
    .lines()
    .map(str::to_string)
    .collect();
    let half = lines.len() / 2;
    let (first, second) = (
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    );
    std::fs::write(&first, lines[..half].join("\n") + "\n").expect("first half");
    std::fs::write(&second, lines[half..].join("\n") + "\n").expect("second half");
    let rename = |t: &str| format!("{prefix}.{t}");
    publish_jsonl(&tansu.bootstrap(), &first, rename, 1).await;
    let port = support::free_port();
    let group = random_name("cluster");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, port);
    let log = dir.path().join("worker.log");
    let mut process = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    until(
        port,
        "/",
        Duration::from_secs(60),
        "the REST API",
        |c, _| c == 200,
    );

    // running: applies throughout; paused: created paused; stopped: applies, then stopped.
    let urls: Vec<String> = (0..3).map(|_| Postgres::database()).collect();
    let names: Vec<String> = ["running", "paused", "stopped"]
        .iter()
        .map(|n| random_name(n))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let mut doc = json!({"name": name, "config": audit_config(&prefix, &urls[i])});
        if i == 1 {
            doc["initial_state"] = json!("PAUSED");
        }
        let (code, body) = http(port, "POST", "/connectors", Some(&doc)).expect("answer");
        assert_eq!(code, 201, "{body}");
    }
    let status = |name: &str| format!("/connectors/{name}/status");
    let first_half = changes(&lines[..half]);
    for i in [0, 2] {
        until_audited(&urls[i], &first_half, &log).await;
    }
    act(port, &names[2], "stop", 204, |s| {
        s["connector"]["state"] == "STOPPED" && states(s).is_empty()
    });

    // Every worker stopped and started again: each connector is back in its state.
    let exited = stop_worker(&mut process, &log);
    assert!(exited.success(), "worker exit {exited}");
    let log = dir.path().join("worker-2.log");
    let _process = support::sluice::spawn_worker(dir.path(), &worker, "worker-2.log");
    let expected = [
        ("RUNNING", vec!["RUNNING"]),
        ("PAUSED", vec!["PAUSED"]),
        ("STOPPED", vec![]),
    ];
    for (name, (connector, tasks)) in names.iter().zip(&expected) {
        until(
            port,
            &status(name),
            Duration::from_secs(60),
            connector,
            |c, s| c == 200 && s["connector"]["state"] == *connector && states(s) == *tasks,
        );
    }
    // The paused one applied nothing (its tables do not exist); the stopped one nothing more.
    let nothing: Vec<(String, i64, i64)> = first_half
        .iter()
        .map(|(t, _, _)| (t.clone(), 0, 0))
        .collect();
    assert_eq!(audit_rows(&urls[1]).await, nothing);

    // The second half arrives; the paused and stopped ones are resumed; all three hold every
    // change exactly once.
    publish_jsonl(&tansu.bootstrap(), &second, rename, 1).await;
    assert_eq!(
        audit_rows(&urls[2]).await,
        first_half,
        "the stopped one moved"
    );
    act(port, &names[1], "resume", 202, |s| states(s) == ["RUNNING"]);
    act(port, &names[2], "resume", 202, |s| states(s) == ["RUNNING"]);
    let all = changes(&lines);
    for url in &urls {
        until_audited(url, &all, &log).await;
    }
    for name in &names {
        let (code, s) = http(port, "GET", &status(name), None).expect("answer");
        assert_eq!(
            (code, states(&s)),
            (200, vec!["RUNNING".to_string()]),
            "{s}"
        );
    }
}

/// One raw HTTP/1.0 request: status and JSON body (`Null` when the body is not JSON).
fn raw(port: u16, head: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "{head}\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (code, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_whole_and_concurrent_updates_stay_whole() {
    let tansu = Tansu::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let group = random_name("bad");
    let worker = support::sluice::worker_mode_file(dir.path(), &tansu.bootstrap(), &group, port);
    let _process = support::sluice::spawn_worker(dir.path(), &worker, "worker.log");
    until(
        port,
        "/",
        Duration::from_secs(60),
        "the REST API",
        |c, _| c == 200,
    );
    let url = Postgres::database();
    let good = sink_config("t", &url);
    let post = |doc: &Value| http(port, "POST", "/connectors", Some(doc)).expect("answer");
    let nothing_created = || {
        let (code, list) = http(port, "GET", "/connectors", None).expect("answer");
        assert_eq!(
            (code, list),
            (200, json!([])),
            "a refused request created a connector"
        );
    };
    let refused = |(code, body): (u16, Value), want: u16| {
        assert_eq!(code, want, "{body}");
        assert_eq!(body["error_code"].as_u64(), Some(u64::from(want)), "{body}");
        body["message"].as_str().unwrap_or_default().to_string()
    };

    // Malformed JSON, a wrong content type, a body over the limit.
    let doc = json!({"name": "x", "config": good}).to_string();
    let json_head = "POST /connectors HTTP/1.0\r\nContent-Type: application/json";
    refused(raw(port, json_head, &doc.as_bytes()[..doc.len() - 1]), 400);
    refused(
        raw(
            port,
            "POST /connectors HTTP/1.0\r\nContent-Type: text/plain",
            doc.as_bytes(),
        ),
        415,
    );
    let huge = format!(
        r#"{{"name":"x","config":{{"pad":"{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    refused(raw(port, json_head, huge.as_bytes()), 413);
    nothing_created();

    // An unknown connector class; unknown and invalid keys, every problem listed at once.
    let mut other = good.clone();
    other["connector.class"] = json!("com.example.NotASink");
    let message = refused(post(&json!({"name": "x", "config": other})), 400);
    assert!(message.contains("com.example.NotASink"), "{message}");
    let mut wrong = good.clone();
    wrong["insert.mode"] = json!("sideways");
    wrong["no.such.key"] = json!("1");
    wrong["batch.size"] = json!("-3");
    wrong
        .as_object_mut()
        .expect("object")
        .remove("connection.url");
    let message = refused(post(&json!({"name": "x", "config": wrong})), 400);
    for key in ["insert.mode", "no.such.key", "batch.size", "connection.url"] {
        assert!(message.contains(key), "{key} not named: {message}");
    }
    // The same checks on PUT: an invalid config replaces nothing and creates nothing.
    refused(
        http(port, "PUT", "/connectors/x/config", Some(&wrong)).expect("answer"),
        400,
    );
    nothing_created();

    // Two updates at once end in one of them, whole (created stopped: no task runs).
    let (code, body) = post(&json!({"name": "x", "config": good, "initial_state": "STOPPED"}));
    assert_eq!(code, 201, "{body}");
    let version = |batch: &str, linger: &str| {
        let mut c = good.clone();
        c["batch.size"] = json!(batch);
        c["sluice.batch.linger.ms"] = json!(linger);
        c["name"] = json!("x");
        c
    };
    let (a, b) = (version("11", "101"), version("22", "202"));
    for _ in 0..5 {
        let put = |config: Value| {
            std::thread::spawn(move || {
                http(port, "PUT", "/connectors/x/config", Some(&config)).expect("answer")
            })
        };
        let (first, second) = (put(a.clone()), put(b.clone()));
        for answer in [first.join().expect("put"), second.join().expect("put")] {
            assert!(matches!(answer.0, 200 | 409), "{answer:?}");
        }
        let (code, now) = http(port, "GET", "/connectors/x/config", None).expect("answer");
        assert_eq!(code, 200);
        assert!(now == a || now == b, "a mix of two updates: {now}");
    }
}
