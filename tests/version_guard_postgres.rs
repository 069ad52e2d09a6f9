//! The version guard decides the same on PostgreSQL as on SQLite.
//!
//! On PostgreSQL a batch writes the versions of the keys whose stored version cannot change
//! what the batch does to them before reading anything (`versions::store_guarded`), and reads
//! and decides the rest as SQLite does for every key. Random batches of creates, updates,
//! deletes, TOAST placeholders and truncates, out of order, from two sources and two clocks,
//! go to both targets; after every batch the two must have counted the same (inserted,
//! updated, deleted, truncated, skipped by reason), hold the same rows and remember the same
//! versions.

mod support;

use serde_json::json;
use sluice::config::ConnectorConfig;
use sluice::event::{ChangeEvent, Coordinates, RawRecord};
use std::collections::BTreeMap;
use support::postgres::Postgres;

const TOPIC: &str = "db.public.t";
const PLACEHOLDER: &str = "__debezium_unavailable_value";

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// One generated change: `op` c/u/d/t, the key, the value, the source's name and position.
#[derive(Debug, Clone)]
struct Change {
    op: &'static str,
    id: i64,
    text: Option<String>,
    source: Option<&'static str>,
    lsn: Option<i64>,
    ts_ms: i64,
}

fn record(change: &Change, offset: i64) -> ChangeEvent {
    let field = |name: &str, t: &str| json!({"field": name, "type": t, "optional": name != "id"});
    let row_schema = |f: &str| json!({"type": "struct", "optional": true, "field": f, "fields": [field("id", "int32"), field("v", "string")]});
    let (before, after) = match change.op {
        "d" => (Some(json!({"id": change.id, "v": null})), None),
        "t" => (None, None),
        _ => (None, Some(json!({"id": change.id, "v": change.text}))),
    };
    let mut source = json!({"table": "t", "lsn": change.lsn, "ts_ms": change.ts_ms});
    if let Some(name) = change.source {
        source["name"] = json!(name);
    }
    let value = json!({
        "schema": {"type": "struct", "fields": [row_schema("before"), row_schema("after"),
            {"type": "struct", "field": "source", "fields": [field("table", "string"),
                field("lsn", "int64"), field("ts_ms", "int64"), field("name", "string")]},
            field("op", "string")]},
        "payload": {"before": before, "after": after, "op": change.op, "source": source}
    });
    let key = json!({"schema": {"type": "struct", "fields": [field("id", "int32")]}, "payload": {"id": change.id}});
    let record = RawRecord {
        coordinates: Coordinates {
            topic: TOPIC.into(),
            partition: 0,
            offset,
        },
        key: (change.op != "t").then(|| key.to_string().into_bytes()),
        value: Some(value.to_string().into_bytes()),
        headers: Vec::new(),
        timestamp_ms: None,
    };
    support::sink::change(&record)
}

/// A batch of 1–12 changes to keys 1–6. Positions mostly move forward and sometimes step back
/// (late and replayed changes); one change in 15 has no log position (the source-time clock);
/// one in 8 comes from a second source, one in 30 from a source that does not say.
fn batch(rng: &mut Rng, clock: &mut i64) -> Vec<Change> {
    (0..1 + rng.below(12))
        .map(|_| {
            *clock += 10;
            let back = if rng.below(4) == 0 {
                rng.below(80) as i64
            } else {
                0
            };
            let position = *clock - back;
            let op = match rng.below(40) {
                0 => "t",
                1..=7 => "d",
                8..=17 => "c",
                _ => "u",
            };
            let text = match (op, rng.below(6)) {
                ("d" | "t", _) => None,
                (_, 0) => Some(PLACEHOLDER.to_string()),
                (_, n) => Some(format!("v{position}-{n}")),
            };
            Change {
                op,
                id: 1 + rng.below(6) as i64,
                text,
                source: match rng.below(30) {
                    0 => None,
                    1..=3 => Some("b"),
                    _ => Some("a"),
                },
                lsn: (rng.below(15) != 0).then_some(position),
                ts_ms: 1_700_000_000_000 + position,
            }
        })
        .collect()
}

/// A target database through the sink, with `select` to read it back.
struct Target(support::sink::Target);

impl Target {
    async fn open(url: &str, policy: &[(&str, &str)]) -> Target {
        let mut config = json!({"topics": TOPIC, "connection.url": url,
            "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
            "truncate.enabled": "true", "schema.evolution": "basic",
            "collection.name.format": "${source.table}",
            "sluice.conflict.source.priority": "b,a", "sluice.conflict.window.ms": "25"});
        for (k, v) in policy {
            config[*k] = json!(v);
        }
        let config = json!({"name": "g", "config": config});
        let config =
            ConnectorConfig::from_json(&config.to_string(), "t", &|_| None).expect("config");
        Target(support::sink::Target::open(&config, TOPIC).await)
    }

    async fn select(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.0.sink.db().query(sql, &[]).await {
            Ok(rows) => rows.into_iter().map(|r| r.into_cells()).collect(),
            // Before the first row change the table does not exist.
            Err(e)
                if e.to_string().contains("no such table")
                    || e.to_string().contains("does not exist") =>
            {
                Vec::new()
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    /// The target's rows, its remembered versions, and its pending conflicts.
    async fn state(&self) -> [Vec<Vec<Option<String>>>; 3] {
        [
            self.select("SELECT CAST(id AS TEXT), v FROM t ORDER BY id").await,
            self.select(
                "SELECT row_key, CAST(version_kind AS TEXT), CAST(version_hi AS TEXT), \
                 CAST(version_lo AS TEXT), CASE WHEN deleted THEN 't' ELSE 'f' END, source_name, \
                 CAST(source_ts_ms AS TEXT) FROM sluice_row_versions ORDER BY row_key",
            )
            .await,
            self.select(
                "SELECT row_key, CAST(kafka_offset AS TEXT), conflict_type, status, incoming_source, \
                 current_source FROM sluice_conflicts ORDER BY conflict_id",
            )
            .await,
        ]
    }
}

/// Applies `batches` to a fresh SQLite and a fresh PostgreSQL target with the connector settings
/// `policy`, comparing them after each batch (`what` names the run in a failure); returns how
/// many changes PostgreSQL skipped, by reason.
async fn compare(
    what: &str,
    batches: &[Vec<Change>],
    policy: &[(&str, &str)],
) -> BTreeMap<&'static str, u64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let lite_url = format!("sqlite:{}", dir.path().join("t.db").display());
    let mut lite = Target::open(&lite_url, policy).await;
    let mut pg = Target::open(&Postgres::database(), policy).await;
    let (mut offset, mut skipped) = (0, BTreeMap::new());
    for (n, changes) in batches.iter().enumerate() {
        let events: Vec<ChangeEvent> = changes
            .iter()
            .map(|c| {
                offset += 1;
                record(c, offset)
            })
            .collect();
        let (a, b) = (lite.0.apply(&events).await, pg.0.apply(&events).await);
        let at = format!("{what}, batch {n}: {changes:#?}");
        assert_eq!(
            format!("{:?} {:?}", a.tables, a.skipped),
            format!("{:?} {:?}", b.tables, b.skipped),
            "counts differ (SQLite, PostgreSQL) at {at}"
        );
        let (x, y) = (lite.state().await, pg.state().await);
        assert_eq!(x, y, "state differs (SQLite, PostgreSQL) at {at}");
        for table in b.tables.values() {
            for (reason, count) in &table.skipped {
                *skipped.entry(*reason).or_default() += count;
            }
        }
    }
    skipped
}

/// `count` random batches of `seed` (see [`batch`]).
fn random(seed: u64, count: usize) -> Vec<Vec<Change>> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut clock = 1_000;
    (0..count).map(|_| batch(&mut rng, &mut clock)).collect()
}

#[tokio::test]
async fn random_batches_are_decided_alike_on_postgresql_and_sqlite() {
    let mut stale = 0;
    for seed in 1..=6 {
        let skipped = compare(&format!("seed {seed}"), &random(seed, 40), &[]).await;
        stale += skipped.get("stale_version").copied().unwrap_or(0);
    }
    assert!(
        stale > 20,
        "the batches hardly reached the guard: {stale} stale"
    );
}

#[tokio::test]
async fn random_batches_with_conflict_detection_are_decided_alike() {
    for (seed, strategy) in [
        (11, "last_write_wins"),
        (12, "source_priority"),
        (13, "manual_review"),
    ] {
        let policy = [("sluice.conflict.strategy", strategy)];
        compare(
            &format!("seed {seed}, {strategy}"),
            &random(seed, 40),
            &policy,
        )
        .await;
    }
}

/// A change older than the table's last truncate is skipped as `before_truncate`, also when a
/// newer change to its key came first in the same batch (so the key ends the batch at the
/// version of its first change, which alone is newer than the truncate).
#[tokio::test]
async fn a_change_before_the_truncate_behind_a_newer_one_of_its_key_is_counted_as_such() {
    let change = |op, id, lsn, source| Change {
        op,
        id,
        text: (op != "d" && op != "t").then(|| format!("v{lsn}")),
        source: Some(source),
        lsn: Some(lsn),
        ts_ms: 1_700_000_000_000 + lsn,
    };
    let batches = [
        vec![change("c", 1, 100, "a"), change("c", 2, 110, "a")],
        vec![change("t", 0, 200, "a")],
        vec![
            change("c", 1, 300, "a"),
            change("u", 1, 150, "a"),
            change("c", 2, 190, "b"),
        ],
    ];
    let skipped = compare("scripted", &batches, &[]).await;
    assert_eq!(skipped.get("before_truncate"), Some(&1), "{skipped:?}");
}

/// The guarded statement by itself: it writes a key only where the stored version lets the
/// key's first change apply, and says whether the key existed.
#[tokio::test]
async fn the_guarded_write_takes_only_the_keys_the_stored_version_lets_through() {
    use sluice::resolve::conflict::Writer;
    use sluice::resolve::{StoredVersion, Version, VersionKind};
    use sluice::sink::versions::{self, Guarded};
    let version = |kind, n| Version { kind, hi: n, lo: 0 };
    let lsn = |n| version(VersionKind::PgLsn, n);
    let writer = |source: Option<&str>| Writer {
        source: source.map(str::to_string),
        ts_ms: Some(1),
    };
    let stored = |key: &str, n, deleted, source| {
        let version = StoredVersion {
            version: lsn(n),
            deleted,
        };
        (key.to_string(), version, writer(source))
    };
    let change = |key: &str, v: Version, least: i64, source| Guarded {
        entry: (
            key.into(),
            StoredVersion {
                version: v,
                deleted: false,
            },
            writer(source),
        ),
        least: version(v.kind, least),
    };
    let target = Target::open(&Postgres::database(), &[]).await;
    let mut tx = target.0.sink.db().begin().await.expect("begin");
    versions::store(
        &mut tx,
        "t",
        &[
            stored("live", 5, false, Some("a")),
            stored("equal", 5, false, Some("a")),
            stored("newer", 5, false, Some("a")),
            stored("tombstone", 5, true, Some("a")),
            stored("other", 5, false, Some("b")),
            stored("unnamed", 5, false, None),
            stored("clock", 5, false, Some("a")),
            stored(versions::TRUNCATE_KEY, 3, true, Some("a")),
        ],
    )
    .await
    .expect("store");
    let written = versions::store_guarded(
        &mut tx,
        "t",
        &[
            change("fresh", lsn(6), 6, Some("a")),
            change("live", lsn(6), 6, Some("a")),
            change("equal", lsn(5), 5, Some("a")),
            change("newer", lsn(4), 4, Some("a")),
            change("tombstone", lsn(6), 6, Some("a")),
            change("other", lsn(6), 6, Some("a")),
            change("unnamed", lsn(6), 6, Some("a")),
            change(
                "clock",
                version(VersionKind::TimestampOffset, 1),
                1,
                Some("a"),
            ),
            change("truncated", lsn(6), 2, Some("a")),
            change("truncated elsewhere", lsn(6), 2, Some("b")),
        ],
    )
    .await
    .expect("guarded");
    let mut got: Vec<(&str, bool)> = written.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("clock", true),
            ("equal", true),
            ("fresh", false),
            ("live", true),
            ("truncated elsewhere", false),
            ("unnamed", true),
        ]
    );
    // What was not taken is as it was.
    let kept = versions::load(&mut tx, "t", &["newer".into(), "tombstone".into()])
        .await
        .expect("load");
    assert_eq!(kept["newer"].0.version, lsn(5));
    assert!(kept["tombstone"].0.deleted);
    assert!(!kept.contains_key("truncated"));
}
