//! The faults the live dashboard test injects, one connector each, and what each must make
//! Prometheus answer while it holds: every alert is either fired live by a fault ([`LIVE`]) or
//! named in [`SCALED`] with the reason its literal expression cannot hold within a test, and
//! the panels a fault moves off zero are named in [`PANELS`].
//!
//! An alert's `for:` (minutes) cannot pass in a test: its expression is evaluated through
//! `/api/v1/query` while the fault holds (that is the firing condition), and the rule group,
//! evaluated every second by the test's Prometheus, must show the alert in `ALERTS` (pending, or
//! firing for an alert without `for:`). The promtool unit tests prove the `for:` durations.

use super::support::prometheus::Prometheus;
use super::support::Postgres;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The run's connectors by role: `poison` (the poison corpus, `errors.tolerance=all`, a
/// dead-letter topic the broker refuses), `review` (a version-guard skip, a change an hour
/// late held for review), `outage` (its own PostgreSQL cluster, stopped mid-run while records
/// keep arriving), `slow` (a partition produced faster than its target applies it) and `fail`
/// (a record that is not JSON with `errors.tolerance=none`).
pub type Roles = BTreeMap<&'static str, String>;

/// (alert, the role whose fault fires it, the fault).
pub const LIVE: [(&str, &str, &str); 7] = [
    (
        "SluiceConnectorFailed",
        "fail",
        "a record that is not JSON, errors.tolerance=none",
    ),
    (
        "SluiceTargetRetrying",
        "outage",
        "the target PostgreSQL stopped",
    ),
    (
        "SluiceConsumerLagGrowing",
        "outage",
        "records keep arriving while the target is down",
    ),
    (
        "SluiceConsumerLagGrowing",
        "slow",
        "10 records/s produced, 4/s applied",
    ),
    ("SluiceDeadLettering", "poison", "the poison corpus"),
    (
        "SluiceDeadLetterPublishFailing",
        "poison",
        "a dead letter over max.request.size",
    ),
    (
        "SluiceReviewQueueGrowing",
        "review",
        "a change an hour late held for review",
    ),
];

/// Alerts whose literal expression cannot hold within the test: (alert, role, the threshold
/// as the rule file has it, as the test evaluates it, why). The rest of the expression is
/// evaluated as shipped while the fault holds; no `ALERTS` series is required.
pub const SCALED: [(&str, &str, &str, &str, &str); 1] = [(
    "SluiceNoCommit",
    "outage",
    "> 600",
    "> 5",
    "the threshold (10 minutes without a commit) is in the expression, not in `for:`; the \
     outage lasts seconds",
)];

/// A panel a fault moves off zero: (title, role, `label=value` or "", the value to exceed).
/// Its first query (refId A), with every variable at "All", must return a series for the
/// role's connector (when the panel has a `connector` label) carrying the label, with a value
/// above the threshold, while the fault holds.
pub type PanelCheck = (&'static str, &'static str, &'static str, f64);

/// The panels the faults move off zero. The lag thresholds are well above what the
/// connectors show without a fault (a record or two, well under a second).
pub const PANELS: [PanelCheck; 11] = [
    ("Connector state", "outage", "state=RETRYING", 0.0),
    ("Task state", "outage", "state=RETRYING", 0.0),
    ("Target retrying", "outage", "", 0.0),
    ("Retries, by stage", "outage", "stage=sink", 0.0),
    ("Errors", "outage", "", 0.0),
    ("Failed and retrying tasks", "outage", "state=RETRYING", 0.0),
    ("Failed and retrying tasks", "fail", "state=FAILED", 0.0),
    ("Consumer lag (records), per partition", "outage", "", 20.0),
    ("Consumer lag (records), per partition", "slow", "", 20.0),
    ("Lag (seconds), per partition", "slow", "", 2.0),
    ("In-flight records", "slow", "", 0.0),
];

/// Alerts whose expression also holds now and then without their fault, (alert, role, the
/// panel of [`PANELS`] that shows the fault): a connector that keeps up with a steady feed
/// still shows its lag rising for a moment, which `deriv` over the short history of a test
/// takes for growth. Their conditions count only once that panel's condition held.
pub const AFTER: [(&str, &str, &str); 2] = [
    (
        "SluiceConsumerLagGrowing",
        "outage",
        "Consumer lag (records), per partition",
    ),
    (
        "SluiceConsumerLagGrowing",
        "slow",
        "Consumer lag (records), per partition",
    ),
];

/// One thing Prometheus must answer while a fault holds: `expr` returns a series carrying
/// every one of `labels`, with a value above `above` when set, once the condition `after`
/// (of the same role) held.
#[derive(Debug)]
pub struct Condition {
    pub role: &'static str,
    pub what: String,
    pub expr: String,
    pub labels: Vec<(&'static str, String)>,
    pub above: Option<f64>,
    pub after: Option<String>,
}

/// Drops from `pending` the conditions Prometheus answers now (printing each with `since`),
/// leaving alone those of `outage` while the outage has not started and those whose `after`
/// is still pending.
pub fn settle(pending: &mut Vec<Condition>, prometheus: &Prometheus, outage: bool, since: f64) {
    let open: Vec<(&str, String)> = pending.iter().map(|c| (c.role, c.what.clone())).collect();
    pending.retain(|c| {
        let waits = c
            .after
            .as_ref()
            .is_some_and(|a| open.contains(&(c.role, a.clone())));
        let held = (c.role != "outage" || outage) && !waits && c.holds(prometheus);
        if held {
            eprintln!("{since:5.1} s: {} [{}]", c.what, c.role);
        }
        !held
    });
}

impl Condition {
    pub fn holds(&self, prometheus: &Prometheus) -> bool {
        prometheus.query(&self.expr).iter().any(|s| {
            let value: f64 = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            self.labels.iter().all(|(k, v)| s["metric"][*k] == **v)
                && self.above.is_none_or(|min| value > min)
        })
    }
}

/// Every condition of [`LIVE`], [`SCALED`] and [`PANELS`], plus `sluice_lag_seconds` growing
/// on the slow partition. `rules`: (alert, expr) of the rule file; `panels`: (title, refId,
/// expr as Grafana sends it).
pub fn conditions(
    roles: &Roles,
    rules: &[(String, String)],
    panels: &[(String, String, String)],
) -> Vec<Condition> {
    let rule = |alert: &str| -> &str {
        let found = rules.iter().find(|(name, _)| name == alert);
        &found.unwrap_or_else(|| panic!("no rule {alert}")).1
    };
    let connector = |role: &str| ("connector", roles[role].clone());
    let panel = |title: &str, above: f64| format!("panel {title:?} above {above}");
    let mut out = Vec::new();
    for (alert, role, fault) in LIVE {
        let after = AFTER.iter().find(|(a, r, _)| *a == alert && *r == role);
        let after = after.map(|(_, _, title)| {
            let found = PANELS.iter().find(|(t, r, ..)| t == title && *r == role);
            let (_, _, _, above) = found.expect("AFTER names a panel of PANELS");
            panel(title, *above)
        });
        out.push(Condition {
            role,
            what: format!("{alert} expression ({fault})"),
            expr: rule(alert).to_string(),
            labels: vec![connector(role)],
            above: None,
            after: after.clone(),
        });
        out.push(Condition {
            role,
            what: format!("{alert} in ALERTS ({fault})"),
            expr: format!("ALERTS{{alertname=\"{alert}\"}}"),
            labels: vec![connector(role)],
            above: None,
            after,
        });
    }
    for (alert, role, shipped, scaled, _) in SCALED {
        let expr = rule(alert);
        assert!(
            expr.contains(shipped),
            "{alert} no longer says {shipped:?}: {expr}"
        );
        out.push(Condition {
            role,
            what: format!("{alert} expression with {scaled:?} for {shipped:?}"),
            expr: expr.replace(shipped, scaled),
            labels: vec![connector(role)],
            above: None,
            after: None,
        });
    }
    for (title, role, label, above) in PANELS {
        let found = panels.iter().find(|(t, r, _)| t == title && r == "A");
        let (_, _, expr) = found.unwrap_or_else(|| panic!("no panel {title:?} A"));
        let label = label.split_once('=').map(|(k, v)| (k, v.to_string()));
        let mut labels: Vec<_> = label.into_iter().collect();
        if expr.contains("by (connector") {
            labels.push(connector(role));
        }
        out.push(Condition {
            role,
            what: panel(title, above),
            expr: expr.clone(),
            labels,
            above: Some(above),
            after: None,
        });
    }
    out.push(Condition {
        role: "slow",
        what: "sluice_lag_seconds grows".into(),
        expr: "deriv(sluice_lag_seconds[15s])".into(),
        labels: vec![connector("slow")],
        above: Some(0.0),
        after: None,
    });
    out
}

/// A change of table `items` (Debezium JSON with schemas): `op` on row `id` setting `v`, at
/// source time `ts` (ms).
pub fn change(op: &str, id: i64, v: i64, ts: i64) -> (String, String) {
    super::support::generate::items_change(("postgresql", "test"), op, id, Some(v), Some(ts))
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("clock").as_millis() as i64
}

/// Inserts of rows 1, 2, … (source time: when published) on partition 0 of a topic, one every
/// `every`, from a thread of its own until stopped (or dropped, when a test fails).
pub struct Feed {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<i64>>,
}

impl Feed {
    pub fn start(bootstrap: &str, topic: &str, every: Duration) -> Feed {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .create()
            .expect("producer");
        let (stop, topic) = (Arc::new(AtomicBool::new(false)), topic.to_string());
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !stopped.load(Ordering::SeqCst) {
                let (key, value) = change("c", sent + 1, sent + 1, now_ms());
                let record = BaseRecord::to(&topic)
                    .partition(0)
                    .key(&key)
                    .payload(&value);
                producer.send(record).map_err(|(e, _)| e).expect("send");
                producer.flush(Duration::from_secs(10)).expect("publish");
                sent += 1;
                std::thread::sleep(every);
            }
            sent
        });
        Feed {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops publishing; how many records were published.
    pub fn stop(mut self) -> i64 {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("a running feed");
        thread.join().expect("feed thread")
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Creates `table` (`id` key, `v`) in `db` with a trigger that sleeps `per_row` seconds for
/// every row written: a target slower than its partition.
pub fn slow_table(pg: &Postgres, db: &str, table: &str, per_row: f64) {
    pg.psql(
        db,
        &format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, v bigint);
             CREATE FUNCTION {table}_slow() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep({per_row}); RETURN NEW; END $$;
             CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON {table}
               FOR EACH ROW EXECUTE FUNCTION {table}_slow();"
        ),
    );
}

/// Takes the trigger of [`slow_table`] off (it waits for the batch being written).
pub fn speed_up(pg: &Postgres, db: &str, table: &str) {
    pg.psql(db, &format!("ALTER TABLE {table} DISABLE TRIGGER slow"));
}
