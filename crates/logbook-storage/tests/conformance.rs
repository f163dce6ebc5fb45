//! The storage conformance suite: every behaviour of the [`Storage`] contract,
//! written once and run against every backend by the `backends!` macro at the
//! bottom. A new backend adds one line there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use logbook_core::GroupBy;
use logbook_core::filter::value_text;
use logbook_core::integrity::{Commitments, decode_hash, event_leaf_hash};
use logbook_core::search::{search_text, searchable_words};
use logbook_core::validate::{Limits, validate_event};
use logbook_core::{
    ActionPattern, ActorType, Catalog, Category, ChangeFilter, Event, EventFilter, EventQuery, Order, Outcome,
    Position, RecordKey, Role, Timestamp, WorkspaceCatalog, WorkspaceSettings,
};
use logbook_storage::{NewApiKey, NewEvent, NewWorkspace, Storage, StorageError, WorkspaceUpdate};
use logbook_tlog::proof::{verify_consistency, verify_inclusion};
use logbook_tlog::tree::RightEdge;
use logbook_workload::{Workload, WorkloadConfig};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const NOW: Timestamp = Timestamp::from_millis(1_790_000_000_000);

/// Opens a fresh, empty storage of one backend, and reopens the same one.
trait Backend {
    fn open(&self) -> Arc<dyn Storage>;
    fn reopen(&self) -> Arc<dyn Storage>;
}

struct Sqlite {
    directory: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Sqlite {
        Sqlite { directory: tempfile::tempdir().expect("a temporary directory") }
    }
}

impl Backend for Sqlite {
    fn open(&self) -> Arc<dyn Storage> {
        // Trained after a few events, so that the checks that store more than
        // that read rows kept as text and packed rows side by side
        // (`sqlite/packing.rs`).
        let storage = logbook_storage::sqlite::SqliteStorage::open_training_after(self.directory.path(), 32);
        Arc::new(storage.expect("SQLite opens"))
    }
    fn reopen(&self) -> Arc<dyn Storage> {
        self.open()
    }
}

/// A fresh database on the test PostgreSQL server (dropped afterwards); `new`
/// is `None` when the server cannot be reached outside CI (see
/// `logbook_storage::postgres::test_database`).
struct Postgres {
    database: logbook_storage::postgres::test_database::TestDatabase,
}

impl Postgres {
    async fn new() -> Option<Postgres> {
        Some(Postgres { database: logbook_storage::postgres::test_database::TestDatabase::create().await? })
    }
}

impl Backend for Postgres {
    fn open(&self) -> Arc<dyn Storage> {
        let options = logbook_storage::postgres::ConnectOptions::new(self.database.url.clone());
        // The suite's tests run on a multi-threaded runtime, where this may block.
        let storage = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(logbook_storage::postgres::PostgresStorage::open(&options))
        });
        Arc::new(storage.expect("PostgreSQL opens"))
    }
    fn reopen(&self) -> Arc<dyn Storage> {
        self.open()
    }
}

async fn workspace(storage: &dyn Storage, id: &str) {
    storage
        .create_workspace(NewWorkspace { id: id.into(), name: id.to_uppercase(), created_at: NOW })
        .await
        .expect("workspace created");
}

/// Validated events from the realistic workload, with fresh ids.
fn events(seed: u64, count: usize, span_days: i64) -> Vec<NewEvent> {
    let start = NOW.plus_millis(-span_days * 86_400_000);
    let mut config = WorkloadConfig::new(seed, start, NOW);
    config.people = 8;
    config.records_per_type = 12;
    let document = WorkspaceCatalog::default();
    let catalog = Catalog::new(&document);
    Workload::new(config)
        .events(count)
        .into_iter()
        .enumerate()
        .map(|(number, value)| {
            let body = validate_event(&value, &catalog, NOW, &Limits::default()).expect("workload events are valid");
            let mut salt = seed.wrapping_mul(1_000_003).wrapping_add(number as u64);
            let commitments = Commitments::commit(&body, || {
                salt = salt.wrapping_add(1);
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&salt.to_le_bytes());
                bytes
            });
            NewEvent { id: format!("{seed:04}-{number:08}"), body, commitments }
        })
        .collect()
}

/// Every event of a workspace, in `seq` order.
async fn all_events(storage: &dyn Storage, workspace: &str) -> Vec<Event> {
    let query = EventQuery {
        filter: EventFilter::default(),
        order: Order::Asc,
        limit: usize::MAX >> 2,
        after: None,
        max_seq: None,
    };
    let mut events = storage.query(workspace, &query).await.expect("query");
    events.sort_by_key(|event| event.seq);
    events
}

async fn workspaces_and_settings(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    workspace(&*storage, "beta").await;
    let duplicate =
        storage.create_workspace(NewWorkspace { id: "acme".into(), name: "again".into(), created_at: NOW }).await;
    assert!(matches!(duplicate, Err(StorageError::Conflict(_))), "{duplicate:?}");
    let listed: Vec<String> = storage.list_workspaces().await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(listed, ["acme", "beta"]);
    let acme = storage.workspace("acme").await.unwrap().expect("acme exists");
    assert_eq!((acme.name.as_str(), acme.event_count, acme.settings.audit_log_enabled), ("ACME", 0, true));
    assert_eq!(storage.workspace("nope").await.unwrap(), None);

    let catalog = WorkspaceCatalog {
        mode: logbook_core::CatalogMode::Open,
        actions: vec![Catalog::default_actions()[0].clone()],
    };
    let update = WorkspaceUpdate {
        settings: Some(WorkspaceSettings { audit_log_enabled: false }),
        catalog: Some(catalog.clone()),
        name: None,
    };
    let updated = storage.update_workspace("acme", update).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.settings.audit_log_enabled, &updated.catalog),
        ("ACME", false, &catalog)
    );
    let missing = storage.update_workspace("nope", WorkspaceUpdate::default()).await;
    assert!(matches!(missing, Err(StorageError::NotFound(_))));
    let reopened = backend.reopen();
    assert_eq!(reopened.workspace("acme").await.unwrap().unwrap().catalog, catalog);
}

async fn api_keys(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    let key = |id: &str, workspace: &str| NewApiKey {
        id: id.into(),
        workspace: workspace.into(),
        name: format!("key {id}"),
        roles: vec![Role::Supervisor, Role::Setup],
        secret_hash: vec![7; 32],
        created_at: NOW,
    };
    let created = storage.create_api_key(key("k1", "acme")).await.unwrap();
    assert_eq!(created.roles, [Role::Supervisor, Role::Setup]);
    assert!(matches!(storage.create_api_key(key("k2", "nope")).await, Err(StorageError::NotFound(_))));
    storage.touch_api_key("k1", NOW.plus_millis(5)).await.unwrap();
    let found = storage.api_key("k1").await.unwrap().expect("k1 exists");
    assert_eq!((found.last_used_at, found.revoked_at, found.secret_hash.len()), (Some(NOW.plus_millis(5)), None, 32));
    assert!(!storage.revoke_api_key("other", "k1", NOW).await.unwrap(), "a key is revoked only in its own workspace");
    assert!(storage.revoke_api_key("acme", "k1", NOW.plus_millis(9)).await.unwrap());
    assert!(storage.revoke_api_key("acme", "k1", NOW.plus_millis(20)).await.unwrap());
    assert_eq!(storage.api_key("k1").await.unwrap().unwrap().revoked_at, Some(NOW.plus_millis(9)));
    assert_eq!(storage.list_api_keys("acme").await.unwrap().len(), 1);
    assert_eq!(storage.api_key("k9").await.unwrap(), None);
}

/// Every read sees each change answered before it began, although the embedded
/// store keeps keys and workspaces in memory: here each one is read first, then
/// changed, then read again, with other reads racing the changes.
async fn reads_see_every_change_answered_before_them(backend: &dyn Backend) {
    let storage = backend.open();
    // What does not exist yet is found once it is created.
    assert_eq!(storage.workspace("acme").await.unwrap(), None);
    assert_eq!(storage.api_key("k1").await.unwrap(), None);
    workspace(&*storage, "acme").await;
    let key = NewApiKey {
        id: "k1".into(),
        workspace: "acme".into(),
        name: "key k1".into(),
        roles: vec![Role::Publisher],
        secret_hash: vec![7; 32],
        created_at: NOW,
    };
    storage.create_api_key(key).await.unwrap();
    let read_key = || async { storage.api_key("k1").await.unwrap().expect("k1 exists") };
    let read_workspace = || async { storage.workspace("acme").await.unwrap().expect("acme exists") };
    assert_eq!((read_key().await.last_used_at, read_workspace().await.event_count), (None, 0));

    storage.touch_api_key("k1", NOW.plus_millis(5)).await.unwrap();
    assert_eq!(read_key().await.last_used_at, Some(NOW.plus_millis(5)));
    let settings = WorkspaceSettings { audit_log_enabled: false };
    storage
        .update_workspace("acme", WorkspaceUpdate { settings: Some(settings.clone()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(read_workspace().await.settings, settings);
    storage.append("acme", events(1, 3, 1)).await.unwrap();
    assert_eq!(read_workspace().await.event_count, 3);
    let mut repeated = events(2, 1, 1);
    repeated[0].body.idempotency_key = Some("once".into());
    storage.append("acme", repeated.clone()).await.unwrap();
    storage.append("acme", repeated).await.unwrap();
    assert_eq!(read_workspace().await.event_count, 4, "a duplicate adds no event");

    // Appends from several clients, each followed by a read, while other reads
    // of the key and the workspace race them and the revocation of the key.
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (storage, revoked, done) = (storage.clone(), revoked.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let revocation_answered = revoked.load(std::sync::atomic::Ordering::SeqCst);
                let key = storage.api_key("k1").await.unwrap().expect("k1 exists");
                assert!(key.revoked_at.is_some() || !revocation_answered, "a read after the revocation let the key in");
                storage.workspace("acme").await.unwrap().expect("acme exists");
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut appenders = Vec::new();
    for client in 0..4u64 {
        let storage = storage.clone();
        appenders.push(tokio::spawn(async move {
            for round in 0..10u64 {
                let appended = storage.append("acme", events(100 + client * 10 + round, 2, 1)).await.unwrap();
                let last = appended.iter().map(|answer| answer.seq).max().unwrap();
                let counted = storage.workspace("acme").await.unwrap().unwrap().event_count;
                assert!(counted > last, "event {last} was stored, yet the workspace counts {counted} events");
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(storage.revoke_api_key("acme", "k1", NOW.plus_millis(9)).await.unwrap());
    revoked.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(read_key().await.revoked_at, Some(NOW.plus_millis(9)));
    for appender in appenders {
        appender.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(read_workspace().await.event_count, 4 + 4 * 10 * 2);
}

async fn appends_are_sequenced_durable_and_idempotent(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    let mut batch = events(1, 5, 1);
    batch[1].body.idempotency_key = Some("retry-1".into());
    batch[3].body.idempotency_key = Some("retry-1".into());
    let answers = storage.append("acme", batch.clone()).await.unwrap();
    let seqs: Vec<(u64, bool)> = answers.iter().map(|answer| (answer.seq, answer.duplicate)).collect();
    assert_eq!(seqs, [(0, false), (1, false), (2, false), (1, true), (3, false)]);
    assert_eq!(answers[3].id, batch[1].id, "a duplicate answers with the original id");

    let mut retry = events(2, 2, 1);
    retry[0].body.idempotency_key = Some("retry-1".into());
    let answers = storage.append("acme", retry).await.unwrap();
    assert_eq!((answers[0].seq, answers[0].duplicate, answers[1].seq), (1, true, 4));

    assert!(matches!(storage.append("nope", events(3, 1, 1)).await, Err(StorageError::NotFound(_))));

    // A batch that fails part-way stores nothing: here its second event reuses an id.
    let mut failing = events(4, 3, 1);
    failing[1].id = batch[0].id.clone();
    assert!(storage.append("acme", failing).await.is_err());

    let reopened = backend.reopen();
    let stored = all_events(&*reopened, "acme").await;
    assert_eq!(stored.iter().map(|event| event.seq).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(reopened.workspace("acme").await.unwrap().unwrap().event_count, 5);
    let first = reopened.event("acme", &batch[0].id).await.unwrap().expect("stored");
    assert_eq!(first.body, batch[0].body, "an event reads back exactly as appended");
    assert_eq!(reopened.event("other", &batch[0].id).await.unwrap(), None);
}

async fn concurrent_appends_have_no_gaps(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    workspace(&*storage, "beta").await;
    let mut tasks = Vec::new();
    for client in 0..20u64 {
        let storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            let target = if client % 2 == 0 { "acme" } else { "beta" };
            for round in 0..5u64 {
                storage.append(target, events(100 + client * 10 + round, 7, 1)).await.expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for id in ["acme", "beta"] {
        let seqs: Vec<u64> = all_events(&*storage, id).await.iter().map(|event| event.seq).collect();
        assert_eq!(seqs, (0..350).collect::<Vec<u64>>(), "workspace {id}");
    }
}

async fn secrets_are_created_once(backend: &dyn Backend) {
    let storage = backend.open();
    let first = storage.secret("cursor", vec![1; 32]).await.unwrap();
    let second = storage.secret("cursor", vec![2; 32]).await.unwrap();
    assert_eq!((first, second), (vec![1; 32], vec![1; 32]));
    storage.ping().await.unwrap();
}

async fn merkle_tree_follows_the_log(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    workspace(&*storage, "beta").await;
    // Appends of many sizes, interleaved across workspaces, exercise the right edge.
    let mut batch_seed = 300;
    for size in [1, 2, 5, 1, 64, 7, 100, 3] {
        storage.append("acme", events(batch_seed, size, 2)).await.unwrap();
        storage.append("beta", events(batch_seed + 1, 3, 2)).await.unwrap();
        batch_seed += 2;
    }
    let entries = storage.log_entries("acme", 0, 10_000).await.unwrap();
    assert_eq!(entries.len(), 183);
    let leaves = storage.tree_leaves("acme", 0, 10_000).await.unwrap();
    let mut edge = RightEdge::new();
    let mut roots = vec![logbook_tlog::empty_root()];
    for (entry, (index, leaf)) in entries.iter().zip(&leaves) {
        let recomputed = event_leaf_hash(&entry.event, &entry.commitments).expect("a leaf");
        assert_eq!((entry.event.seq, recomputed), (*index, *leaf), "the stored leaf is the event's");
        assert_eq!(decode_hash(&entry.event.leaf_hash), Some(recomputed), "events carry their leaf hash");
        entry.commitments.check_values(&entry.event.body).expect("commitments open");
        edge.append(recomputed);
        roots.push(edge.root());
    }
    let from_later = storage.log_entries("acme", 180, 10).await.unwrap();
    assert_eq!(from_later.iter().map(|entry| entry.event.seq).collect::<Vec<_>>(), [180, 181, 182]);
    assert_eq!(storage.tree_leaves("acme", 181, 1).await.unwrap(), vec![leaves[181]]);

    let mut rng = SmallRng::seed_from_u64(3);
    for size in [1u64, 2, 3, 8, 64, 65, 100, 183] {
        assert_eq!(storage.tree_root("acme", size).await.unwrap(), roots[size as usize], "root at {size}");
        for _ in 0..5 {
            let seq = rng.random_range(0..size);
            let proof = storage.inclusion_proof("acme", seq, size).await.unwrap();
            verify_inclusion(&leaves[seq as usize].1, seq, size, &proof, &roots[size as usize])
                .expect("inclusion verifies");
            let from = rng.random_range(1..=size);
            let proof = storage.consistency_proof("acme", from, size).await.unwrap();
            verify_consistency(from, size, &proof, &roots[from as usize], &roots[size as usize])
                .expect("consistency verifies");
        }
    }
    assert!(matches!(storage.tree_root("acme", 184).await, Err(StorageError::OutOfRange(_))));
    assert!(matches!(storage.inclusion_proof("acme", 50, 50).await, Err(StorageError::OutOfRange(_))));
    assert!(matches!(storage.consistency_proof("acme", 60, 50).await, Err(StorageError::OutOfRange(_))));
    assert_eq!(storage.tree_root("beta", 0).await.unwrap(), logbook_tlog::empty_root());
    let beta = storage.log_entries("beta", 0, 100).await.unwrap();
    assert!(beta.iter().all(|entry| entry.event.workspace == "beta") && beta.len() == 24);
    let picked = storage.commitments("acme", vec![0, 5, 9999]).await.unwrap();
    assert_eq!(picked.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [0, 5]);
    assert_eq!(picked[1].1, entries[5].commitments);

    // The tree survives a reopen and goes on growing from where it was.
    let reopened = backend.reopen();
    reopened.append("acme", events(999, 10, 1)).await.unwrap();
    let proof = reopened.consistency_proof("acme", 183, 193).await.unwrap();
    let new_root = reopened.tree_root("acme", 193).await.unwrap();
    verify_consistency(183, 193, &proof, &roots[183], &new_root).expect("the grown tree extends the old one");
}

/// A random filter drawn from the values that occur in `sample`, so that most
/// filters match something.
fn random_filter(rng: &mut SmallRng, sample: &[Event], depth: usize) -> EventFilter {
    let mut filter = EventFilter::default();
    let pick = |rng: &mut SmallRng| &sample[rng.random_range(0..sample.len())].body;
    if rng.random_bool(0.2) {
        filter.categories = vec![[Category::Activity, Category::Audit][rng.random_range(0..2)]];
    }
    if rng.random_bool(0.3) {
        let action = pick(rng).action.clone();
        filter.actions.push(if rng.random_bool(0.5) {
            ActionPattern::Exact(action)
        } else {
            ActionPattern::Prefix(format!("{}.", action.split('.').next().unwrap()))
        });
        if rng.random_bool(0.3) {
            filter.actions.push(ActionPattern::Exact(pick(rng).action.clone()));
        }
    }
    if rng.random_bool(0.3) {
        filter.actor_id = Some(pick(rng).actor.id.clone());
    }
    if rng.random_bool(0.2) {
        filter.actor_type = Some([ActorType::User, ActorType::System, ActorType::Api][rng.random_range(0..3)]);
    }
    if rng.random_bool(0.3) {
        filter.target_type = Some(pick(rng).target.record_type.clone());
    }
    if rng.random_bool(0.2) {
        filter.target_id = Some(pick(rng).target.id.clone());
    }
    if rng.random_bool(0.3) {
        let body = pick(rng);
        let records = body.records();
        let record = records[rng.random_range(0..records.len())];
        filter.record = Some(RecordKey { record_type: record.record_type.clone(), id: record.id.clone() });
    }
    if rng.random_bool(0.25) {
        for _ in 0..rng.random_range(1..=2) {
            let words: Vec<String> = searchable_words(pick(rng)).into_iter().collect();
            let word = &words[rng.random_range(0..words.len())];
            let length = word.chars().count();
            filter.text.push(word.chars().take(rng.random_range(1..=length)).collect());
        }
    }
    if rng.random_bool(0.15) {
        filter.outcome = Some([Outcome::Success, Outcome::Failure][rng.random_range(0..2)]);
    }
    if rng.random_bool(0.15) {
        filter.ip = pick(rng).context.ip.clone();
    }
    if rng.random_bool(0.3) {
        let with_changes: Vec<&Event> = sample.iter().filter(|event| !event.body.changes.is_empty()).collect();
        let change = &with_changes[rng.random_range(0..with_changes.len())].body.changes[0];
        filter.change = ChangeFilter {
            field: rng.random_bool(0.7).then(|| change.field.clone()),
            from: rng.random_bool(0.5).then(|| value_text(&change.from)),
            to: rng.random_bool(0.5).then(|| value_text(&change.to)),
        };
    }
    if rng.random_bool(0.3) {
        filter.since = Some(pick(rng).occurred_at);
    }
    if rng.random_bool(0.3) {
        filter.until = Some(pick(rng).occurred_at.plus_millis(rng.random_range(0..86_400_000)));
    }
    if rng.random_bool(0.2) {
        let text = search_text(pick(rng));
        let part: Vec<&str> =
            text.lines().map(str::split_whitespace).max_by_key(|words| words.clone().count()).unwrap().collect();
        let length = rng.random_range(1..=part.len().min(3));
        let start = rng.random_range(0..=part.len() - length);
        filter.phrases.push(part[start..start + length].iter().map(|word| word.to_string()).collect());
    }
    // The query language's nested filters: a further condition, or exclusions.
    if depth == 0 && rng.random_bool(0.15) {
        filter.all_of.push(random_filter(rng, sample, depth + 1));
    }
    if depth == 0 && rng.random_bool(0.3) {
        for _ in 0..rng.random_range(1..=2) {
            filter.none_of.push(random_filter(rng, sample, depth + 1));
        }
    }
    filter
}

async fn queries_match_the_reference_filter(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    workspace(&*storage, "beta").await;
    // Out-of-order occurrence times and same-millisecond ties exercise ordering.
    let mut stored = events(7, 1500, 30);
    for (number, event) in stored.iter_mut().enumerate() {
        if number % 10 == 0 {
            event.body.occurred_at = NOW.plus_millis(-(number as i64) * 1000);
        }
        if number % 7 == 0 {
            event.body.occurred_at = Timestamp::from_millis(event.body.occurred_at.as_millis() / 60_000 * 60_000);
        }
    }
    for chunk in stored.chunks(500) {
        storage.append("acme", chunk.to_vec()).await.unwrap();
    }
    storage.append("beta", events(8, 200, 30)).await.unwrap();
    let everything = all_events(&*storage, "acme").await;
    assert_eq!(everything.len(), 1500);

    let mut rng = SmallRng::seed_from_u64(99);
    let mut nonempty = 0;
    for round in 0..300 {
        let filter = random_filter(&mut rng, &everything, 0);
        let order = if rng.random_bool(0.5) { Order::Desc } else { Order::Asc };
        let max_seq = rng.random_bool(0.2).then(|| rng.random_range(0..1500u64));
        let mut expected: Vec<&Event> = everything
            .iter()
            .filter(|event| filter.matches(&event.body) && max_seq.is_none_or(|max| event.seq <= max))
            .collect();
        expected.sort_by_key(|event| (event.body.occurred_at, event.seq));
        if order == Order::Desc {
            expected.reverse();
        }
        nonempty += usize::from(!expected.is_empty());

        let limit = [1, 3, 17, 100, 1000][rng.random_range(0..5)];
        let mut seen: Vec<u64> = Vec::new();
        let mut after = None;
        loop {
            let query = EventQuery { filter: filter.clone(), order, limit, after, max_seq };
            let page = storage.query("acme", &query).await.unwrap();
            assert!(page.len() <= limit);
            seen.extend(page.iter().map(|event| event.seq));
            match page.last() {
                Some(last) if page.len() == limit => {
                    after = Some(Position { occurred_at: last.body.occurred_at, seq: last.seq })
                }
                _ => break,
            }
        }
        let expected_seqs: Vec<u64> = expected.iter().map(|event| event.seq).collect();
        assert_eq!(seen, expected_seqs, "round {round}: {filter:?} {order:?} limit {limit} max_seq {max_seq:?}");
    }
    assert!(nonempty >= 100, "only {nonempty} of 300 random filters matched anything");

    // Counts per group under random filters equal the reference grouping.
    for round in 0..60 {
        let filter = random_filter(&mut rng, &everything, 0);
        let group_by = GroupBy::ALL[round % GroupBy::ALL.len()];
        let max_seq = if round % 3 == 0 { 999 } else { 1499 };
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for event in everything.iter().filter(|event| event.seq <= max_seq && filter.matches(&event.body)) {
            *want.entry(group_by.key(&event.body)).or_default() += 1;
        }
        let got: BTreeMap<String, u64> =
            storage.stats("acme", &filter, max_seq, group_by).await.unwrap().into_iter().collect();
        assert_eq!(got, want, "stats round {round} by {group_by:?}: {filter:?}");
    }

    // Each filter on its own, so that none is only ever tested in combination.
    let body = &everything[42].body;
    let single: Vec<EventFilter> = vec![
        EventFilter { categories: vec![Category::Audit], ..Default::default() },
        EventFilter { actions: vec![ActionPattern::Exact(body.action.clone())], ..Default::default() },
        EventFilter { actions: vec![ActionPattern::Prefix("ticket.".into())], ..Default::default() },
        EventFilter { actor_id: Some(body.actor.id.clone()), ..Default::default() },
        EventFilter { actor_type: Some(ActorType::System), ..Default::default() },
        EventFilter { target_type: Some(body.target.record_type.clone()), ..Default::default() },
        EventFilter { target_id: Some(body.target.id.clone()), ..Default::default() },
        EventFilter {
            record: Some(RecordKey { record_type: "ticket".into(), id: "T-10000".into() }),
            ..Default::default()
        },
        EventFilter { text: vec!["refund".into()], ..Default::default() },
        EventFilter { text: vec!["renam".into(), "queue".into()], ..Default::default() },
        EventFilter { outcome: Some(Outcome::Failure), ..Default::default() },
        EventFilter { ip: body.context.ip.clone(), ..Default::default() },
        EventFilter {
            change: ChangeFilter { field: Some("status".into()), ..Default::default() },
            ..Default::default()
        },
        EventFilter { change: ChangeFilter { to: Some("solved".into()), ..Default::default() }, ..Default::default() },
        EventFilter {
            change: ChangeFilter { field: Some("status".into()), from: Some("open".into()), to: None },
            ..Default::default()
        },
        EventFilter { since: Some(body.occurred_at), ..Default::default() },
        EventFilter { until: Some(body.occurred_at), ..Default::default() },
    ];
    for filter in single {
        let query = EventQuery { filter: filter.clone(), order: Order::Desc, limit: 5000, after: None, max_seq: None };
        let got: BTreeSet<u64> = storage.query("acme", &query).await.unwrap().iter().map(|event| event.seq).collect();
        let want: BTreeSet<u64> =
            everything.iter().filter(|event| filter.matches(&event.body)).map(|event| event.seq).collect();
        assert!(!want.is_empty(), "{filter:?} matches nothing; pick another sample");
        assert_eq!(got, want, "{filter:?}");
    }
    let per_workspace: HashMap<String, usize> =
        all_events(&*storage, "beta").await.iter().fold(HashMap::new(), |mut counts, event| {
            *counts.entry(event.workspace.clone()).or_default() += 1;
            counts
        });
    assert_eq!(per_workspace, HashMap::from([("beta".to_string(), 200)]), "workspaces never mix");
}

/// Stats whose filter names only categories, actions, actor and target types,
/// outcomes and whole days (both backends answer those from their daily counts)
/// equal the reference grouping, for any `max_seq`, after appends of every size,
/// retries and a refused append; a range that does not begin or end at
/// midnight is counted too.
async fn coarse_stats_match_the_reference(backend: &dyn Backend) {
    const DAY: i64 = 86_400_000;
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    workspace(&*storage, "beta").await;
    let stored = events(5, 1200, 30);
    let mut rng = SmallRng::seed_from_u64(7);
    let mut rest = &stored[..];
    let mut other_seed = 100;
    while !rest.is_empty() {
        let size = rng.random_range(1..=200).min(rest.len());
        storage.append("acme", rest[..size].to_vec()).await.unwrap();
        other_seed += 1;
        storage.append("beta", events(other_seed, 3, 30)).await.unwrap();
        rest = &rest[size..];
    }
    // Retries answered by their idempotency keys, and an append refused whole
    // (an id already taken), add nothing to the counts.
    let mut keyed = events(7, 20, 30);
    for (number, event) in keyed.iter_mut().enumerate() {
        event.body.idempotency_key = Some(format!("retry-{number}"));
    }
    storage.append("acme", keyed.clone()).await.unwrap();
    let retried = storage.append("acme", keyed).await.unwrap();
    assert!(retried.iter().all(|appended| appended.duplicate));
    let taken = events(5, 1, 30);
    assert!(matches!(storage.append("acme", taken).await, Err(StorageError::Conflict(_))));
    let everything = all_events(&*storage, "acme").await;
    assert_eq!(everything.len(), 1220);
    let today = NOW.as_millis().div_euclid(DAY);
    let mut nonempty = 0;
    for round in 0..150 {
        let sample = &everything[rng.random_range(0..everything.len())].body;
        let categories = [vec![Category::Activity], vec![Category::Audit], Category::ALL.to_vec()];
        let mut filter = EventFilter { categories: categories[rng.random_range(0..3)].clone(), ..Default::default() };
        if rng.random_bool(0.3) {
            filter.actions = vec![ActionPattern::Exact(sample.action.clone())];
        } else if rng.random_bool(0.2) {
            let prefix = sample.action.split('.').next().unwrap_or_default();
            filter.actions = vec![ActionPattern::Prefix(format!("{prefix}."))];
        }
        if rng.random_bool(0.3) {
            filter.actor_type = Some(sample.actor.actor_type);
        }
        if rng.random_bool(0.3) {
            filter.target_type = Some(sample.target.record_type.clone());
        }
        if rng.random_bool(0.3) {
            filter.outcome = Some(sample.outcome);
        }
        let day_boundary = |rng: &mut SmallRng| {
            let millis = (today - rng.random_range(-1..32)) * DAY;
            let off_midnight = if rng.random_bool(0.15) { 3_600_000 } else { 0 };
            Timestamp::from_millis(millis + off_midnight)
        };
        if rng.random_bool(0.4) {
            filter.since = Some(day_boundary(&mut rng));
        }
        if rng.random_bool(0.4) {
            filter.until = Some(day_boundary(&mut rng));
        }
        let group_by = GroupBy::ALL[round % GroupBy::ALL.len()];
        let max_seq = if rng.random_bool(0.5) { 1219 } else { rng.random_range(0..1220u64) };
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for event in everything.iter().filter(|event| event.seq <= max_seq && filter.matches(&event.body)) {
            *want.entry(group_by.key(&event.body)).or_default() += 1;
        }
        nonempty += usize::from(!want.is_empty());
        let got: BTreeMap<String, u64> =
            storage.stats("acme", &filter, max_seq, group_by).await.unwrap().into_iter().collect();
        assert_eq!(got, want, "round {round} by {group_by:?} up to {max_seq}: {filter:?}");
    }
    assert!(nonempty >= 75, "only {nonempty} of 150 filters matched anything");
}

/// An event made from JSON, validated as ingest would.
fn handmade(number: usize, json: serde_json::Value) -> NewEvent {
    let document = WorkspaceCatalog::default();
    let body = validate_event(&json, &Catalog::new(&document), NOW, &Limits::default()).expect("a valid event");
    let commitments = Commitments::commit(&body, || [number as u8; 32]);
    NewEvent { id: format!("handmade-{number}"), body, commitments }
}

/// Asserts that a filter selects exactly `want` (by `seq`), in storage and in
/// the reference meaning.
async fn check(storage: &dyn Storage, filter: EventFilter, want: &[u64]) {
    let query = EventQuery { filter: filter.clone(), order: Order::Asc, limit: 10, after: None, max_seq: None };
    let got: Vec<u64> = storage.query("acme", &query).await.unwrap().iter().map(|event| event.seq).collect();
    assert_eq!(got, want, "{filter:?}");
    let all = all_events(storage, "acme").await;
    let reference: Vec<u64> = all.iter().filter(|event| filter.matches(&event.body)).map(|event| event.seq).collect();
    assert_eq!(reference, want, "the reference meaning of {filter:?}");
}

/// Phrases, exclusions and nested filters on events made for their edge cases:
/// an event without an IP, names whose words appear in another order or across
/// two parts of an event.
async fn phrases_and_exclusions_are_exact(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    let event = |actor_name: &str, ip: Option<&str>, target: &str, changes: serde_json::Value| {
        let mut json = serde_json::json!({
            "action": "ticket.updated",
            "occurred_at": "2026-09-01T10:00:00Z",
            "actor": {"id": "u-1", "name": actor_name},
            "target": {"type": "ticket", "id": target, "name": "Printer on fire"},
            "related": [{"type": "organization", "id": "org-1", "name": "Lee Ana Ltd"}],
            "changes": changes,
        });
        if let Some(ip) = ip {
            json["context"] = serde_json::json!({"ip": ip});
        }
        json
    };
    let made = [
        event("Ana Lee", None, "T-1", serde_json::json!([{"field": "status", "from": "open", "to": "pending"}])),
        event(
            "Lee Ana",
            Some("10.0.0.1"),
            "T-2",
            serde_json::json!([{"field": "status", "from": "pending", "to": "solved"}]),
        ),
        event("Ana Fire", Some("10.0.0.2"), "T-3", serde_json::json!([])),
    ];
    let stored: Vec<NewEvent> = made.into_iter().enumerate().map(|(number, json)| handmade(number, json)).collect();
    storage.append("acme", stored).await.unwrap();
    let phrase = |words: &[&str]| EventFilter {
        phrases: vec![words.iter().map(|word| word.to_string()).collect()],
        ..Default::default()
    };
    let ip = |address: &str| EventFilter { ip: Some(address.into()), ..Default::default() };
    let record = |id: &str| EventFilter {
        record: Some(RecordKey { record_type: "ticket".into(), id: id.into() }),
        ..Default::default()
    };
    check(&*storage, phrase(&["ana", "lee"]), &[0]).await;
    check(&*storage, phrase(&["lee", "ana"]), &[0, 1, 2]).await;
    check(&*storage, phrase(&["ana"]), &[0, 1, 2]).await;
    check(&*storage, phrase(&["an"]), &[]).await;
    check(&*storage, phrase(&["fire", "printer"]), &[]).await;
    check(&*storage, phrase(&["printer", "on", "fire"]), &[0, 1, 2]).await;
    check(&*storage, phrase(&["open", "pending"]), &[]).await;
    check(&*storage, EventFilter { none_of: vec![ip("10.0.0.1")], ..Default::default() }, &[0, 2]).await;
    check(&*storage, EventFilter { none_of: vec![ip("10.0.0.1"), ip("10.0.0.2")], ..Default::default() }, &[0]).await;
    check(&*storage, EventFilter { none_of: vec![record("T-2")], ..Default::default() }, &[0, 2]).await;
    check(&*storage, EventFilter { all_of: vec![record("T-2")], ..Default::default() }, &[1]).await;
    check(&*storage, EventFilter { all_of: vec![record("T-2")], ..record("T-3") }, &[]).await;
    check(&*storage, EventFilter { none_of: vec![EventFilter::default()], ..Default::default() }, &[]).await;
    let to_pending = ChangeFilter { to: Some("pending".into()), ..Default::default() };
    check(
        &*storage,
        EventFilter { none_of: vec![EventFilter { change: to_pending, ..Default::default() }], ..Default::default() },
        &[1, 2],
    )
    .await;
    let nested = EventFilter { none_of: vec![phrase(&["ana", "lee"])], ..Default::default() };
    check(&*storage, EventFilter { all_of: vec![nested], ..ip("10.0.0.1") }, &[1]).await;
}

/// Changes to a value, which the index of changes by value finds: an event with
/// two such changes is one row of a page and one of a count, pages follow the
/// feed's order, and a field or value too long for that index is found all the
/// same.
async fn changes_to_a_value_are_found_once(backend: &dyn Backend) {
    let storage = backend.open();
    workspace(&*storage, "acme").await;
    let long = "x".repeat(250);
    let event = |hour: u32, changes: serde_json::Value| {
        serde_json::json!({
            "action": "ticket.updated",
            "occurred_at": format!("2026-09-01T{hour:02}:00:00Z"),
            "actor": {"id": "u-1"},
            "target": {"type": "ticket", "id": "T-1"},
            "changes": changes,
        })
    };
    let made = [
        event(8, serde_json::json!([{"field": "status", "from": "open", "to": "solved"}])),
        event(
            9,
            serde_json::json!([
                {"field": "status", "from": "new", "to": "solved"},
                {"field": "status", "from": "solved", "to": "solved"}
            ]),
        ),
        event(10, serde_json::json!([{"field": "status", "from": "solved", "to": "open"}])),
        event(11, serde_json::json!([{"field": "priority", "from": "low", "to": "solved"}])),
        event(12, serde_json::json!([{"field": "status", "from": "pending", "to": long}])),
        event(13, serde_json::json!([{"field": long, "from": "open", "to": "solved"}])),
    ];
    let stored: Vec<NewEvent> = made.into_iter().enumerate().map(|(number, json)| handmade(number, json)).collect();
    storage.append("acme", stored).await.unwrap();
    let change = |field: Option<&str>, from: Option<&str>, to: &str| EventFilter {
        change: ChangeFilter { field: field.map(str::to_string), from: from.map(str::to_string), to: Some(to.into()) },
        ..Default::default()
    };
    let solved = change(Some("status"), None, "solved");
    check(&*storage, solved.clone(), &[0, 1]).await;
    check(&*storage, change(Some("status"), Some("new"), "solved"), &[1]).await;
    check(&*storage, change(Some("status"), Some("solved"), "solved"), &[1]).await;
    check(&*storage, change(None, None, "solved"), &[0, 1, 3, 5]).await;
    check(&*storage, change(Some("status"), None, &long), &[4]).await;
    check(&*storage, change(Some(&long), None, "solved"), &[5]).await;
    check(&*storage, EventFilter { actor_id: Some("u-1".into()), ..solved.clone() }, &[0, 1]).await;
    let mut pages = Vec::new();
    let mut query = EventQuery { filter: solved.clone(), order: Order::Desc, limit: 1, after: None, max_seq: None };
    loop {
        let page = storage.query("acme", &query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.after = Some(Position { occurred_at: last.body.occurred_at, seq: last.seq });
        pages.push(page.iter().map(|event| event.seq).collect::<Vec<_>>());
    }
    assert_eq!(pages, [[1], [0]]);
    let counts = storage.stats("acme", &solved, 5, GroupBy::Action).await.unwrap();
    assert_eq!(counts, [("ticket.updated".to_string(), 2)]);
}

/// Says whether the PostgreSQL tests run or are skipped; its output is shown at
/// the end of every nextest run (`.config/nextest.toml`).
#[tokio::test]
async fn postgres_test_server() {
    let url = logbook_storage::postgres::redact_url(&logbook_storage::postgres::test_database::test_server_url());
    if logbook_storage::postgres::test_database::server_reachable().await {
        println!("The PostgreSQL tests run against {url}.");
    } else {
        println!("!!!! WARNING: every PostgreSQL test was SKIPPED: {url} cannot be reached !!!!");
    }
}

/// One module of tests per backend; `$make` gives `Some(backend)`, or `None` to
/// skip (a PostgreSQL server that cannot be reached outside CI).
macro_rules! backends {
    ($($backend:ident => $make:expr),* $(,)?) => {$(
        mod $backend {
            use super::*;

            macro_rules! run {
                ($test:ident) => {{
                    let Some(backend) = $make else { return };
                    super::$test(&backend).await
                }};
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn workspaces_and_settings() { run!(workspaces_and_settings) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn api_keys() { run!(api_keys) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reads_see_every_change_answered_before_them() { run!(reads_see_every_change_answered_before_them) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appends_are_sequenced_durable_and_idempotent() { run!(appends_are_sequenced_durable_and_idempotent) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_have_no_gaps() { run!(concurrent_appends_have_no_gaps) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn secrets_are_created_once() { run!(secrets_are_created_once) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn merkle_tree_follows_the_log() { run!(merkle_tree_follows_the_log) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn queries_match_the_reference_filter() { run!(queries_match_the_reference_filter) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn phrases_and_exclusions_are_exact() { run!(phrases_and_exclusions_are_exact) }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn changes_to_a_value_are_found_once() { run!(changes_to_a_value_are_found_once) }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn coarse_stats_match_the_reference() { run!(coarse_stats_match_the_reference) }
        }
    )*};
}

backends! {
    sqlite => Some(Sqlite::new()),
    postgres => Postgres::new().await,
}
