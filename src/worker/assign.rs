//! Which live worker runs which task: every worker computes the same answer from the same
//! view. A connector's tasks start at a place fixed by its name's hash and go round the sorted
//! members, so adding or removing a connector moves no other connector's tasks; only a member
//! joining or leaving does. The tasks of one connector are consumers of one group, so Kafka
//! splits its partitions among them wherever they run.

use super::types::TargetState;
use super::view::Connector;
use std::collections::BTreeMap;

/// `tasks.max` of a config (1 when unset or unreadable: the config check reports it).
pub(super) fn tasks_max(connector: &Connector) -> u32 {
    connector
        .config
        .get("tasks.max")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// The tasks a connector has: `tasks.max` of them unless it is STOPPED.
pub(super) fn task_count(connector: &Connector) -> u32 {
    match connector.target {
        TargetState::Stopped => 0,
        TargetState::Started | TargetState::Paused => tasks_max(connector),
    }
}

/// A stable hash of a name (FNV-1a), the same on every worker and every run.
fn place(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The worker of each task, and of each connector itself (its status reporter), among the
/// sorted `members`; empty when there are none.
pub(super) fn assign(connectors: &BTreeMap<String, Connector>, members: &[String]) -> Assignment {
    let mut assignment = Assignment::default();
    if members.is_empty() {
        return assignment;
    }
    let n = members.len() as u64;
    for (name, connector) in connectors {
        let start = place(name) % n;
        assignment
            .connectors
            .insert(name.clone(), members[start as usize].clone());
        for task in 0..task_count(connector) {
            let at = (start + u64::from(task)) % n;
            assignment
                .tasks
                .insert((name.clone(), task), members[at as usize].clone());
        }
    }
    assignment
}

/// Who runs what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Assignment {
    /// Connector name -> the worker reporting its state.
    pub connectors: BTreeMap<String, String>,
    /// (connector, task) -> the worker running it.
    pub tasks: BTreeMap<(String, u32), String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::types::Config;

    fn connector(tasks: &str, target: TargetState) -> Connector {
        Connector {
            config: Config::from([("tasks.max".to_string(), tasks.to_string())]),
            target,
            restart: None,
            task_restarts: BTreeMap::new(),
        }
    }

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("w{i}:8083")).collect()
    }

    #[test]
    fn tasks_spread_over_members_and_stay_put() {
        let mut connectors = BTreeMap::from([
            ("a".to_string(), connector("4", TargetState::Started)),
            ("b".to_string(), connector("2", TargetState::Paused)),
            ("c".to_string(), connector("3", TargetState::Stopped)),
        ]);
        let three = assign(&connectors, &members(3));
        assert_eq!(three.tasks.len(), 6, "{three:?}");
        assert_eq!(three.connectors.len(), 3);
        // Four tasks over three workers: every worker gets one or two of them.
        for w in members(3) {
            let of_a = three
                .tasks
                .iter()
                .filter(|((c, _), m)| c == "a" && **m == w)
                .count();
            assert!((1..=2).contains(&of_a), "{w}: {of_a} of a's tasks");
        }
        // Another connector moves none of a's tasks.
        connectors.insert("d".to_string(), connector("1", TargetState::Started));
        let more = assign(&connectors, &members(3));
        for (k, w) in &three.tasks {
            assert_eq!(more.tasks.get(k), Some(w), "{k:?} moved");
        }
        // One worker: everything there; none: nothing.
        let one = assign(&connectors, &members(1));
        assert!(one.tasks.values().all(|w| w == "w0:8083"));
        assert_eq!(assign(&connectors, &[]), Assignment::default());
    }

    #[test]
    fn tasks_max_defaults_to_one() {
        assert_eq!(tasks_max(&connector("0", TargetState::Started)), 1);
        assert_eq!(tasks_max(&connector("x", TargetState::Started)), 1);
        assert_eq!(tasks_max(&connector("8", TargetState::Started)), 8);
    }
}
