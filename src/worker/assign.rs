//! Which live worker runs which task: every worker computes the same answer from the same
//! view, by rendezvous hashing with a bounded load. Each task ranks the members by a hash of
//! (task, member) and takes the first whose share of that connector's tasks is not full
//! (`ceil(tasks / members)`), so the tasks spread evenly, another connector's changes move
//! nothing, and a member leaving mostly moves only its own tasks (each task's ranking of the
//! others is unchanged). The tasks of one connector are consumers of one group, so Kafka
//! splits its partitions among them wherever they run; fewer moves mean fewer rebalances.

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

/// A stable hash (FNV-1a, then a SplitMix64 finish for spread), the same on every worker and
/// every run.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `members` ranked for `key`, best first.
fn ranked<'a>(key: &[&str], members: &'a [String]) -> Vec<&'a String> {
    let mut ranked: Vec<(u64, &String)> = members
        .iter()
        .map(|m| {
            let mut parts = key.to_vec();
            parts.push(m);
            (hash(&parts), m)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// The worker of each task, and of each connector itself (its status reporter), among the
/// live `members`; empty when there are none.
pub(super) fn assign(connectors: &BTreeMap<String, Connector>, members: &[String]) -> Assignment {
    let mut assignment = Assignment::default();
    if members.is_empty() {
        return assignment;
    }
    for (name, connector) in connectors {
        if let Some(owner) = ranked(&[name], members).first() {
            assignment
                .connectors
                .insert(name.clone(), owner.to_string());
        }
        let count = task_count(connector);
        let cap = count.div_ceil(members.len() as u32).max(1);
        let mut load: BTreeMap<&String, u32> = BTreeMap::new();
        for task in 0..count {
            let id = task.to_string();
            let choice = ranked(&[name, &id], members)
                .into_iter()
                .find(|m| load.get(m).copied().unwrap_or(0) < cap);
            if let Some(member) = choice {
                *load.entry(member).or_default() += 1;
                assignment
                    .tasks
                    .insert((name.clone(), task), member.clone());
            }
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
    fn tasks_spread_evenly_and_stay_put() {
        let mut connectors = BTreeMap::from([
            ("a".to_string(), connector("4", TargetState::Started)),
            ("b".to_string(), connector("2", TargetState::Paused)),
            ("c".to_string(), connector("3", TargetState::Stopped)),
            ("d".to_string(), connector("12", TargetState::Started)),
        ]);
        let three = assign(&connectors, &members(3));
        assert_eq!(three.tasks.len(), 18, "{three:?}");
        assert_eq!(three.connectors.len(), 4);
        // Every member gets at most its share of each connector's tasks.
        for (name, tasks) in [("a", 4u32), ("d", 12)] {
            for w in members(3) {
                let here = three
                    .tasks
                    .iter()
                    .filter(|((c, _), m)| c == name && **m == w)
                    .count() as u32;
                assert!(here <= tasks.div_ceil(3), "{w}: {here} of {name}'s tasks");
            }
        }
        // The same view gives the same answer; another connector moves nothing.
        assert_eq!(assign(&connectors, &members(3)), three);
        connectors.insert("e".to_string(), connector("5", TargetState::Started));
        let more = assign(&connectors, &members(3));
        for (k, w) in &three.tasks {
            assert_eq!(more.tasks.get(k), Some(w), "{k:?} moved");
        }
        // A member leaving: its tasks move; of the others' tasks, few do.
        let gone = "w1:8083".to_string();
        let two: Vec<String> = members(3).into_iter().filter(|m| *m != gone).collect();
        let after = assign(&connectors, &two);
        let stayed_elsewhere = more.tasks.iter().filter(|(_, w)| **w != gone).count();
        let moved_elsewhere = more
            .tasks
            .iter()
            .filter(|(k, w)| **w != gone && after.tasks.get(*k) != Some(*w))
            .count();
        assert!(
            moved_elsewhere * 4 <= stayed_elsewhere,
            "{moved_elsewhere} of {stayed_elsewhere} tasks on the remaining members moved"
        );
        assert!(after.tasks.values().all(|w| *w != gone));
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
