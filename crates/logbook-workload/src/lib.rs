//! Realistic events for demos, tests and benchmarks, generated deterministically
//! from a seed: the whole default catalog's mix of actions, people who act with
//! Zipf-distributed frequency on Zipf-distributed records, changes with plausible
//! from/to values, failed logins, automations acting as `system`, API clients as
//! `api`, and stable IP addresses per person.
//!
//! Events come out as ingest JSON (`serde_json::Value`), exactly what a client
//! sends, so that whatever consumes them exercises validation too.

mod people;
mod values;

use logbook_core::catalog::is_reserved;
use logbook_core::{ActionSpec, Catalog, Category, Timestamp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

pub use people::Person;

/// The shape of a workload.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// The seed; the same seed and config give the same events.
    pub seed: u64,
    /// How many people act.
    pub people: usize,
    /// How many distinct records of each type exist.
    pub records_per_type: usize,
    /// The first `occurred_at`.
    pub start: Timestamp,
    /// The last `occurred_at`.
    pub end: Timestamp,
    /// Fraction of events that are `audit` category (the rest `activity`).
    pub audit_share: f64,
}

impl WorkloadConfig {
    /// A config over `[start, end]` with demo-sized pools.
    pub fn new(seed: u64, start: Timestamp, end: Timestamp) -> WorkloadConfig {
        WorkloadConfig { seed, people: 60, records_per_type: 400, start, end, audit_share: 0.3 }
    }
}

/// A sampler of indexes `0..n` where index `k` has weight `1 / (k + 1)^s`.
#[derive(Debug, Clone)]
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(count: usize, exponent: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..count.max(1))
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut SmallRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let point = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&edge| edge < point).min(self.cumulative.len() - 1)
    }
}

/// An endless, deterministic stream of events in `occurred_at` order.
pub struct Workload {
    config: WorkloadConfig,
    rng: SmallRng,
    activity: Vec<&'static ActionSpec>,
    audit: Vec<&'static ActionSpec>,
    people: Vec<Person>,
    person_rank: Zipf,
    record_rank: Zipf,
}

impl Workload {
    /// A workload over the default catalog.
    pub fn new(config: WorkloadConfig) -> Workload {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let people = people::generate(&mut rng, config.people);
        // Logbook's own actions are recorded only by Logbook, never sent.
        let (activity, audit) = Catalog::default_actions()
            .iter()
            .filter(|spec| !is_reserved(&spec.action))
            .partition(|spec| spec.category == Category::Activity);
        Workload {
            person_rank: Zipf::new(config.people, 1.0),
            record_rank: Zipf::new(config.records_per_type, 1.1),
            rng,
            activity,
            audit,
            people,
            config,
        }
    }

    /// The people who act in this workload.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// `count` events spread evenly (with jitter) over the configured span, oldest
    /// first.
    pub fn events(&mut self, count: usize) -> Vec<Value> {
        self.events_between(count, self.config.start, self.config.end)
    }

    /// `count` events spread over `[start, end]`, in time order: a long history
    /// can be made a slice at a time, without holding all of it.
    pub fn events_between(&mut self, count: usize, start: Timestamp, end: Timestamp) -> Vec<Value> {
        let span = (end.as_millis() - start.as_millis()).max(1);
        let mut times: Vec<i64> = (0..count).map(|_| start.as_millis() + self.rng.random_range(0..=span)).collect();
        times.sort_unstable();
        times.into_iter().map(|millis| self.event_at(Timestamp::from_millis(millis))).collect()
    }

    /// One event that occurred at `occurred_at`.
    pub fn event_at(&mut self, occurred_at: Timestamp) -> Value {
        let pool = if self.rng.random_bool(self.config.audit_share) { &self.audit } else { &self.activity };
        let spec = pool[self.rng.random_range(0..pool.len())];
        let person = self.people[self.person_rank.sample(&mut self.rng)].clone();
        let (actor, ip) = self.actor_for(spec, &person);
        let target = self.record(&spec.target_type);
        let mut event = json!({
            "action": spec.action,
            "occurred_at": occurred_at.to_rfc3339(),
            "actor": actor,
            "target": target,
            "context": {"ip": ip, "user_agent": person.user_agent, "request_id": format!("req-{:016x}", self.rng.random::<u64>())},
        });
        let related = self.related_for(spec);
        if !related.is_empty() {
            event["related"] = Value::Array(related);
        }
        if spec.changes {
            event["changes"] = json!([values::change_for(&mut self.rng, spec)]);
        }
        if values::is_failure(&spec.action) {
            event["outcome"] = json!("failure");
        }
        if self.rng.random_bool(0.2) {
            let source = ["web", "mobile", "api"][self.rng.random_range(0..3)];
            event["metadata"] = json!({"source": source, "plan": "enterprise"});
        }
        event
    }

    fn actor_for(&mut self, spec: &ActionSpec, person: &Person) -> (Value, String) {
        if spec.action.starts_with("automation.ran")
            || (spec.category == Category::Activity && self.rng.random_bool(0.05))
        {
            let automation = self.rng.random_range(1..=12);
            return (
                json!({"type": "system", "id": format!("automation-{automation}"), "name": format!("Automation #{automation}")}),
                "10.0.0.1".into(),
            );
        }
        if self.rng.random_bool(0.04) {
            let client = self.rng.random_range(1..=3);
            return (
                json!({"type": "api", "id": format!("api-client-{client}"), "name": format!("Integration {client}")}),
                format!("203.0.113.{client}"),
            );
        }
        let ip = if self.rng.random_bool(0.9) {
            person.ip.clone()
        } else {
            format!("198.51.100.{}", self.rng.random_range(1..255))
        };
        (json!({"type": "user", "id": person.id, "name": person.name, "email": person.email, "role": person.role}), ip)
    }

    /// A record of `record_type`, Zipf-distributed so that some records are busy.
    pub fn record(&mut self, record_type: &str) -> Value {
        let rank = self.record_rank.sample(&mut self.rng);
        let (id, name) = values::record_identity(record_type, rank, &self.people);
        json!({"type": record_type, "id": id, "name": name})
    }

    fn related_for(&mut self, spec: &ActionSpec) -> Vec<Value> {
        let kinds: &[&str] = match spec.target_type.as_str() {
            "score" | "appeal" => &["ticket", "agent"],
            "file" | "comment" => &["ticket"],
            "conversation" => &["ticket"],
            "ticket_review" => &["ticket"],
            _ if spec.target_type == "ticket" && spec.action.contains("assigned") => &["agent"],
            _ => &[],
        };
        kinds.iter().map(|kind| self.record(kind)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbook_core::WorkspaceCatalog;
    use logbook_core::validate::{Limits, validate_event};

    #[test]
    fn every_generated_event_is_valid_and_deterministic() {
        let config = WorkloadConfig::new(
            7,
            Timestamp::from_millis(1_700_000_000_000),
            Timestamp::from_millis(1_707_776_000_000),
        );
        let events = Workload::new(config.clone()).events(3000);
        assert_eq!(events, Workload::new(config).events(3000));
        let document = WorkspaceCatalog::default();
        let catalog = Catalog::new(&document);
        let now = Timestamp::from_millis(1_800_000_000_000);
        let mut actions = std::collections::HashSet::new();
        for event in &events {
            validate_event(event, &catalog, now, &Limits::default())
                .unwrap_or_else(|issues| panic!("{event}: {issues:?}"));
            actions.insert(event["action"].as_str().unwrap().to_string());
        }
        assert!(actions.len() > 100, "only {} distinct actions", actions.len());
    }
}
