//! The pure part of reconciliation: desired slots vs. actual instances → actions.

use berth_runtime::{Instance, InstanceState};

use super::labels;

/// One desired instance: process type, index (1-based), release and restart generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub process: String,
    pub index: i64,
    pub release: i64,
    pub generation: i64,
    pub size: String,
}

impl Slot {
    pub fn dyno(&self) -> String {
        format!("{}.{}", self.process, self.index)
    }

    fn matches(&self, instance: &Instance) -> bool {
        let num = |key| instance.label(key).and_then(|v| v.parse::<i64>().ok());
        instance.label(labels::PROCESS) == Some(self.process.as_str())
            && num(labels::INDEX) == Some(self.index)
            && num(labels::RELEASE) == Some(self.release)
            && num(labels::GENERATION) == Some(self.generation)
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Slots filled by an existing instance: (slot, instance id).
    pub keep: Vec<(Slot, String)>,
    /// Existing instances of `keep` that are stopped and must be started again.
    pub start: Vec<String>,
    /// Slots with no instance: create one.
    pub create: Vec<Slot>,
    /// Instances no slot wants (old release, old generation, scaled away, duplicates).
    pub obsolete: Vec<Instance>,
}

/// Matches instances to slots. Each slot takes at most one instance (a running
/// one first), so instances adopted after a server restart are never duplicated.
pub fn plan(slots: &[Slot], instances: &[Instance]) -> Plan {
    let mut remaining: Vec<&Instance> = instances.iter().filter(|i| i.state != InstanceState::Removing).collect();
    // Running instances first, so a slot adopts the running one of two candidates.
    remaining.sort_by_key(|i| i.state != InstanceState::Running);
    let mut plan = Plan::default();
    for slot in slots {
        match remaining.iter().position(|i| slot.matches(i)) {
            Some(pos) => {
                let instance = remaining.remove(pos);
                if matches!(instance.state, InstanceState::Exited | InstanceState::Created | InstanceState::Dead) {
                    plan.start.push(instance.id.clone());
                }
                plan.keep.push((slot.clone(), instance.id.clone()));
            }
            None => plan.create.push(slot.clone()),
        }
    }
    plan.obsolete = remaining.into_iter().cloned().collect();
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn slot(process: &str, index: i64, release: i64) -> Slot {
        Slot { process: process.into(), index, release, generation: 0, size: "standard-1X".into() }
    }

    fn instance(id: &str, process: &str, index: i64, release: i64, state: InstanceState) -> Instance {
        let labels: BTreeMap<String, String> = [
            (labels::PROCESS, process.to_string()),
            (labels::INDEX, index.to_string()),
            (labels::RELEASE, release.to_string()),
            (labels::GENERATION, "0".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Instance {
            id: id.into(),
            name: id.into(),
            labels,
            state,
            status: String::new(),
            ip: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn empty_engine_creates_every_slot() {
        let p = plan(&[slot("web", 1, 2), slot("web", 2, 2)], &[]);
        assert_eq!(p.create.len(), 2);
        assert!(p.keep.is_empty() && p.obsolete.is_empty());
    }

    #[test]
    fn running_instances_are_adopted_not_duplicated() {
        let p = plan(&[slot("web", 1, 2)], &[instance("a", "web", 1, 2, InstanceState::Running)]);
        assert_eq!(p.keep, vec![(slot("web", 1, 2), "a".to_string())]);
        assert!(p.create.is_empty() && p.start.is_empty() && p.obsolete.is_empty());
    }

    #[test]
    fn new_release_replaces_old_instances() {
        let p = plan(&[slot("web", 1, 3)], &[instance("old", "web", 1, 2, InstanceState::Running)]);
        assert_eq!(p.create, vec![slot("web", 1, 3)]);
        assert_eq!(p.obsolete.len(), 1);
        assert_eq!(p.obsolete[0].id, "old");
    }

    #[test]
    fn stopped_instances_are_started_again() {
        let p = plan(&[slot("web", 1, 2)], &[instance("a", "web", 1, 2, InstanceState::Exited)]);
        assert_eq!(p.start, vec!["a".to_string()]);
        assert!(p.create.is_empty());
    }

    #[test]
    fn duplicates_keep_the_running_one() {
        let p = plan(
            &[slot("web", 1, 2)],
            &[
                instance("stopped", "web", 1, 2, InstanceState::Exited),
                instance("up", "web", 1, 2, InstanceState::Running),
            ],
        );
        assert_eq!(p.keep[0].1, "up");
        assert_eq!(p.obsolete.len(), 1);
        assert_eq!(p.obsolete[0].id, "stopped");
    }

    #[test]
    fn scale_down_and_restart_generation() {
        let mut restarted = slot("web", 1, 2);
        restarted.generation = 1;
        let p = plan(
            &[restarted.clone()],
            &[instance("a", "web", 1, 2, InstanceState::Running), instance("b", "web", 2, 2, InstanceState::Running)],
        );
        assert_eq!(p.create, vec![restarted]);
        assert_eq!(p.obsolete.len(), 2);
    }
}
