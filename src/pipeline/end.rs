//! Where `--stop-at-end` stops: the end of each assigned partition, and when it is reached.
//!
//! A partition's end is the larger of the offset lookup at assignment and the high watermark
//! of its first fetch response after it ([`SourceMsg::FetchEnd`](crate::source::SourceMsg)).
//! The lookup alone is not enough: tansu answers it with the base offset of the last record
//! batch, below the real end. Until a fetch response has confirmed every partition's end, the
//! source must also have been quiet for [`QUIET`].
//!
//! A partition is applied up to its end when the next offset to apply, or the consumer's
//! position past the records it handed over ([`SourceMsg::Position`](crate::source::SourceMsg)),
//! reaches it: a transaction marker takes the last offset of a transactional topic and is
//! never delivered, so the next offset to apply stays one below the end.

use crate::checkpoint::TopicPartition;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the source must be quiet before stopping when some partition's end is known only
/// from the offset lookup at assignment.
pub(super) const QUIET: Duration = Duration::from_millis(1500);

/// The ends of the assigned partitions.
pub(super) struct Ends {
    offsets: HashMap<TopicPartition, i64>,
    /// Partitions whose end a fetch response has confirmed.
    fetched: HashSet<TopicPartition>,
    /// The consumer's position per partition: every record below it was handed over.
    positions: HashMap<TopicPartition, i64>,
    /// The last record or assignment (the quiet period counts from it).
    last_activity: Instant,
}

impl Default for Ends {
    fn default() -> Self {
        Ends {
            offsets: HashMap::new(),
            fetched: HashSet::new(),
            positions: HashMap::new(),
            last_activity: Instant::now(),
        }
    }
}

impl Ends {
    /// Partitions were assigned, with the offset lookup's ends (one per partition).
    pub(super) fn assigned(&mut self, ends: Vec<(TopicPartition, i64)>) {
        self.offsets.extend(ends);
        self.last_activity = Instant::now();
    }

    /// A record arrived.
    pub(super) fn record(&mut self) {
        self.last_activity = Instant::now();
    }

    /// The first fetch response of an assigned partition told its high watermark.
    pub(super) fn fetched(&mut self, tp: TopicPartition, high: i64) {
        let end = self.offsets.entry(tp.clone()).or_insert(high);
        *end = (*end).max(high);
        self.fetched.insert(tp);
    }

    /// The consumer's position in a partition, past the records handed over before it.
    pub(super) fn position(&mut self, tp: TopicPartition, position: i64) {
        self.positions.insert(tp, position);
    }

    /// A partition was revoked.
    pub(super) fn revoked(&mut self, tp: &TopicPartition) {
        self.offsets.remove(tp);
        self.fetched.remove(tp);
        self.positions.remove(tp);
    }

    /// Whether every partition of `assigned` is applied up to its end (`next`: the next offset
    /// to apply per partition; the caller has nothing in hand), and how its end is known;
    /// `None` while some is not, or while an end known only from the lookup has not been
    /// followed by the quiet period.
    pub(super) fn reached<'a>(
        &self,
        mut assigned: impl Iterator<Item = &'a TopicPartition> + Clone,
        next: &HashMap<TopicPartition, i64>,
    ) -> Option<&'static str> {
        // Nothing assigned yet is not the end.
        assigned.clone().next()?;
        let applied = assigned.clone().all(|tp| {
            let end = self.offsets.get(tp).copied().unwrap_or(0);
            let next = next.get(tp).copied().unwrap_or(0);
            let position = self.positions.get(tp).copied().unwrap_or(0);
            end == 0 || next.max(position) >= end
        });
        if !applied {
            return None;
        }
        if assigned.all(|tp| self.fetched.contains(tp)) {
            Some("confirmed by fetch responses")
        } else if self.last_activity.elapsed() >= QUIET {
            Some("from the offset lookup, then quiet")
        } else {
            None
        }
    }
}

/// The tasks of one connector that `sluice run` runs side by side (`tasks.max` > 1), each a
/// consumer of the connector's group, as `--stop-at-end` sees them: they stop together, once
/// all of them are at their end at one moment — a task at the end of every partition it holds,
/// or one the group gave no partition (more tasks than partitions) — and one of them reached a
/// real end. Stopping one by one would make the group move the others' partitions each time a
/// task left: on tansu that rebalance holds every member for half the session timeout, and may
/// never complete, leaving a task that held nothing waiting for ever.
///
/// "At one moment" excludes a rebalance in flight: every running task must have been given its
/// share at least once (possibly nothing), and every partition a task ever held must be held by
/// a task now. Between one task giving a partition up and another taking it, the partition is
/// nobody's, and its new owner, which holds nothing yet, would otherwise count as at its end.
#[derive(Debug, Clone)]
pub struct Siblings {
    together: Arc<Mutex<Together>>,
    task: usize,
}

#[derive(Debug)]
struct Together {
    /// Per running task (`None`: stopped).
    tasks: Vec<Option<Sibling>>,
    /// Every partition a task of the connector has held.
    ever: HashSet<TopicPartition>,
    /// Some task was at the end of partitions it held.
    reached: bool,
    /// All were at their end at one moment: every task stops.
    over: bool,
}

/// One running task as its siblings see it.
#[derive(Debug, Clone, Default)]
struct Sibling {
    /// At its end.
    at_end: bool,
    /// The partitions it holds (`None`: the group has given it nothing yet).
    held: Option<HashSet<TopicPartition>>,
}

impl Siblings {
    /// The handles of `tasks` tasks, all running.
    pub fn group(tasks: usize) -> Vec<Siblings> {
        let together = Arc::new(Mutex::new(Together {
            tasks: vec![Some(Sibling::default()); tasks],
            ever: HashSet::new(),
            reached: false,
            over: false,
        }));
        (0..tasks)
            .map(|task| Siblings {
                together: together.clone(),
                task,
            })
            .collect()
    }

    /// The group gave this task `partitions` (possibly none).
    pub(super) fn assigned<'a>(&self, partitions: impl Iterator<Item = &'a TopicPartition>) {
        if let Ok(mut t) = self.together.lock() {
            let partitions: Vec<TopicPartition> = partitions.cloned().collect();
            t.ever.extend(partitions.iter().cloned());
            if let Some(me) = t.tasks[self.task].as_mut() {
                me.held.get_or_insert_with(HashSet::new).extend(partitions);
            }
        }
    }

    /// The group took `partition` from this task.
    pub(super) fn revoked(&self, partition: &TopicPartition) {
        if let Ok(mut t) = self.together.lock() {
            if let Some(held) = t.tasks[self.task].as_mut().and_then(|me| me.held.as_mut()) {
                held.remove(partition);
            }
        }
    }

    /// This task is at its end (`at_end`; `reached`: at the end of partitions it holds) or
    /// not; whether all the running tasks have been at once (then it stops).
    pub(super) fn at_end(&self, at_end: bool, reached: bool) -> bool {
        let Ok(mut t) = self.together.lock() else {
            return false;
        };
        if let Some(me) = t.tasks[self.task].as_mut() {
            me.at_end = at_end;
        }
        t.reached |= reached;
        let running = || t.tasks.iter().flatten();
        let all_at_end = running().all(|s| s.at_end);
        let all_given = running().all(|s| s.held.is_some());
        let in_transit = t.ever.iter().any(|tp| {
            !running()
                .filter_map(|s| s.held.as_ref())
                .any(|held| held.contains(tp))
        });
        if t.reached && all_at_end && all_given && !in_transit {
            t.over = true;
        }
        t.over
    }

    /// This task stopped (at the end, on a signal, or failing): what it held is nobody's.
    pub(super) fn stopped(&self) {
        if let Ok(mut t) = self.together.lock() {
            t.tasks[self.task] = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition,
        }
    }

    #[test]
    fn sibling_tasks_stop_together_once_all_are_at_their_end_at_one_moment() {
        let tasks = Siblings::group(3);
        tasks[0].assigned([].iter());
        tasks[1].assigned([].iter());
        tasks[2].assigned([tp(0)].iter());
        // Nobody reached a real end yet: tasks the group gave nothing do not stop the run.
        assert!(!tasks[0].at_end(true, false));
        assert!(!tasks[1].at_end(true, false));
        assert!(!tasks[2].at_end(false, false));
        assert!(
            tasks[2].at_end(true, true),
            "all at their end, one at a real one"
        );
        // Once over, every task stops, whatever it sees afterwards (a rebalance started by
        // the first one leaving).
        assert!(tasks[1].at_end(false, false));
        let tasks = Siblings::group(2);
        tasks[0].assigned([tp(0)].iter());
        tasks[1].assigned([tp(1)].iter());
        assert!(!tasks[0].at_end(true, true));
        assert!(
            !tasks[1].at_end(false, false),
            "task 1 still has records to apply"
        );
        tasks[1].stopped();
        assert!(
            !tasks[0].at_end(true, false),
            "the stopped task's partition is nobody's until the group moves it"
        );
        tasks[0].assigned([tp(1)].iter());
        assert!(!tasks[0].at_end(false, false), "task 0 now applies it");
        assert!(
            tasks[0].at_end(true, true),
            "a stopped task does not hold the others"
        );
    }

    /// A rebalance in flight is not an end: the partition one task gave up is nobody's until
    /// its new owner takes it, and that owner (holding nothing yet) is not at its end; a task
    /// the group has not given its share yet is not either.
    #[test]
    fn sibling_tasks_do_not_stop_while_a_partition_moves_between_them() {
        let tasks = Siblings::group(3);
        // Task 0 got every partition first; task 2 has not been given anything yet.
        tasks[0].assigned([tp(0), tp(1)].iter());
        tasks[1].assigned([].iter());
        assert!(
            !tasks[0].at_end(true, true),
            "task 2 has not been given its share"
        );
        tasks[2].assigned([].iter());
        // The group moves partition 1 from task 0 to task 1: given up, not yet taken.
        tasks[0].revoked(&tp(1));
        assert!(!tasks[1].at_end(true, false));
        assert!(!tasks[2].at_end(true, false));
        assert!(
            !tasks[0].at_end(true, true),
            "partition 1 is in flight: its new owner holds nothing yet"
        );
        tasks[1].assigned([tp(1)].iter());
        assert!(!tasks[1].at_end(false, false));
        assert!(
            tasks[1].at_end(true, true),
            "every partition held and at its end"
        );
    }

    #[test]
    fn a_fetch_response_end_above_the_lookup_is_waited_for() {
        let mut ends = Ends::default();
        let assigned = [tp(0), tp(1)];
        // The lookup answered 90 for partition 0 (the last batch's base offset on tansu).
        ends.assigned(vec![(tp(0), 90), (tp(1), 0)]);
        let mut next = HashMap::from([(tp(0), 90)]);
        ends.fetched(tp(0), 100);
        ends.fetched(tp(1), 0);
        assert_eq!(ends.reached(assigned.iter(), &next), None);
        next.insert(tp(0), 100);
        assert_eq!(
            ends.reached(assigned.iter(), &next),
            Some("confirmed by fetch responses")
        );
    }

    #[test]
    fn a_lower_fetch_response_end_does_not_lower_the_lookup() {
        let mut ends = Ends::default();
        ends.assigned(vec![(tp(0), 100)]);
        ends.fetched(tp(0), 50);
        let next = HashMap::from([(tp(0), 50)]);
        assert_eq!(ends.reached([tp(0)].iter(), &next), None);
    }

    #[test]
    fn without_a_fetch_response_the_source_must_be_quiet() {
        let mut ends = Ends::default();
        ends.assigned(vec![(tp(0), 10)]);
        let next = HashMap::from([(tp(0), 10)]);
        assert_eq!(ends.reached([tp(0)].iter(), &next), None);
        ends.last_activity = Instant::now() - QUIET;
        assert_eq!(
            ends.reached([tp(0)].iter(), &next),
            Some("from the offset lookup, then quiet")
        );
        // A revoked partition's confirmation goes with it.
        ends.fetched(tp(0), 10);
        ends.revoked(&tp(0));
        ends.assigned(vec![(tp(0), 10)]);
        assert_eq!(ends.reached([tp(0)].iter(), &next), None);
    }

    #[test]
    fn a_position_past_a_transaction_marker_reaches_the_end() {
        let mut ends = Ends::default();
        // Ten records (0-9) and the commit marker at 10: the end is 11.
        ends.assigned(vec![(tp(0), 11)]);
        ends.fetched(tp(0), 11);
        let next = HashMap::from([(tp(0), 10)]);
        assert_eq!(ends.reached([tp(0)].iter(), &next), None);
        ends.position(tp(0), 11);
        assert_eq!(
            ends.reached([tp(0)].iter(), &next),
            Some("confirmed by fetch responses")
        );
        ends.revoked(&tp(0));
        ends.assigned(vec![(tp(0), 11)]);
        ends.fetched(tp(0), 11);
        assert_eq!(ends.reached([tp(0)].iter(), &next), None);
    }

    #[test]
    fn nothing_assigned_is_not_the_end() {
        let ends = Ends::default();
        assert_eq!(ends.reached([].iter(), &HashMap::new()), None);
    }
}
