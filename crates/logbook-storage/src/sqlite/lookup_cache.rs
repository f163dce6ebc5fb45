//! API keys and workspaces kept in memory, so that authenticating a request
//! reads no table.
//!
//! Every request reads its API key and its workspace. Read from the store, each
//! was a trip to another thread (then one of tokio's blocking threads; now one
//! of [`super::pool`]'s): with 64 clients sending one event each, the threads'
//! sleeping and waking took about a third of the server's CPU, and single
//! events went about 1.5 times as fast without it (BENCHMARKS.md). A key or a
//! workspace read from the store is remembered here; the writer forgets what a
//! commit changed (everything, for a workspace or a revocation; the one key, for
//! a key's last use), and records each workspace's event count as its appends
//! commit. Only finds are remembered, never that a key or a workspace does not
//! exist, so creating one needs nothing forgotten.
//!
//! How it stays right while reads and commits race:
//! - What a reader found is remembered only if nothing was forgotten since it
//!   began to read ([`LookupCache::generation`]), under the same lock that
//!   forgetting takes: a read that began before a change committed cannot put
//!   back what the change made stale.
//! - The writer forgets after the commit and before the caller hears back,
//!   whether or not the caller still waits ([`super::writer::Writer::write_then`]):
//!   once the revocation of a key is answered, no request is let in by that key.
//! - A workspace's event count only grows: it is the largest count read or
//!   committed, so a read that began before an append cannot lower it, and a
//!   client that was told its event is stored finds it counted.
//!
//! Only the embedded store keeps one: its data directory is served by one
//! process, whose writer sees every change. Several servers may share one
//! PostgreSQL database, and none would hear of another's changes.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use logbook_core::Workspace;

use crate::model::ApiKey;

/// How many keys and workspaces it remembers at most; past that it forgets
/// them all and starts again, so that its memory stays bounded however many
/// there are.
const MAX_ENTRIES: usize = 10_000;

/// The remembered keys and workspaces (see the module's documentation).
#[derive(Default)]
pub(crate) struct LookupCache {
    entries: Mutex<Entries>,
}

/// How many times the cache has forgotten everything; a reader's find is
/// remembered only under the generation in which it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

#[derive(Default)]
struct Entries {
    generation: u64,
    keys: HashMap<String, ApiKey>,
    workspaces: HashMap<String, Workspace>,
    /// The largest event count read or committed for each workspace: kept apart
    /// from `workspaces` so that an append committed while its workspace was
    /// not remembered still counts.
    event_counts: HashMap<String, u64>,
}

impl Entries {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.keys.clear();
        self.workspaces.clear();
        self.event_counts.clear();
    }

    fn make_room(&mut self) {
        if self.keys.len() + self.workspaces.len() + self.event_counts.len() >= MAX_ENTRIES {
            self.forget_all();
        }
    }

    /// Whether a find that began in generation `began` may be remembered now,
    /// after making room for it (which forgets everything, so not this one).
    fn may_remember(&mut self, began: Generation) -> bool {
        if self.generation != began.0 {
            return false;
        }
        self.make_room();
        self.generation == began.0
    }

    fn count(&mut self, workspace: &str, event_count: u64) {
        let counted = self.event_counts.entry(workspace.to_string()).or_default();
        *counted = (*counted).max(event_count);
    }
}

impl LookupCache {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics while holding the lock, and every change under it is
        // whole; a poisoned lock's entries are as good as any.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The generation a reader notes before it reads a key or a workspace from
    /// the store.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.entries().generation)
    }

    /// The remembered key `id`.
    pub(crate) fn key(&self, id: &str) -> Option<ApiKey> {
        self.entries().keys.get(id).cloned()
    }

    /// The remembered workspace `id`, with the largest event count known.
    pub(crate) fn workspace(&self, id: &str) -> Option<Workspace> {
        let entries = self.entries();
        let mut workspace = entries.workspaces.get(id)?.clone();
        if let Some(&counted) = entries.event_counts.get(id) {
            workspace.event_count = workspace.event_count.max(counted);
        }
        Some(workspace)
    }

    /// Remembers a key read from the store, unless the cache forgot everything
    /// since `began`.
    pub(crate) fn remember_key(&self, began: Generation, key: &ApiKey) {
        let mut entries = self.entries();
        if entries.may_remember(began) {
            entries.keys.insert(key.id.clone(), key.clone());
        }
    }

    /// Remembers a workspace read from the store, unless the cache forgot
    /// everything since `began`.
    pub(crate) fn remember_workspace(&self, began: Generation, workspace: &Workspace) {
        let mut entries = self.entries();
        if entries.may_remember(began) {
            entries.count(&workspace.id, workspace.event_count);
            entries.workspaces.insert(workspace.id.clone(), workspace.clone());
        }
    }

    /// Forgets every key and workspace: a commit changed one of them. Called
    /// by the writer after that commit and before its caller hears back.
    pub(crate) fn forget_all(&self) {
        self.entries().forget_all();
    }

    /// Forgets the key `id` alone: a commit changed only it (its last use).
    /// Finds under way are not remembered either, since any of them may be of
    /// that key.
    pub(crate) fn forget_key(&self, id: &str) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.keys.remove(id);
    }

    /// Records that `workspace` holds at least `event_count` events: an append
    /// to it committed. Called by the writer after that commit and before its
    /// caller hears back.
    pub(crate) fn counted(&self, workspace: &str, event_count: u64) {
        let mut entries = self.entries();
        entries.make_room();
        entries.count(workspace, event_count);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Poll;

    use logbook_core::{Timestamp, WorkspaceCatalog, WorkspaceSettings};

    use super::super::SqliteStorage;
    use super::*;
    use crate::{NewApiKey, NewWorkspace, Storage};

    fn workspace(id: &str, event_count: u64) -> Workspace {
        Workspace {
            id: id.into(),
            name: id.to_uppercase(),
            created_at: Timestamp::from_millis(0),
            settings: WorkspaceSettings::default(),
            catalog: WorkspaceCatalog::default(),
            event_count,
        }
    }

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            workspace: "acme".into(),
            name: format!("key {id}"),
            roles: Vec::new(),
            secret_hash: vec![7; 32],
            created_at: Timestamp::from_millis(0),
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_find_is_remembered_until_everything_is_forgotten() {
        let cache = LookupCache::default();
        assert_eq!(cache.key("k1"), None);
        let began = cache.generation();
        cache.remember_key(began, &key("k1"));
        cache.remember_workspace(began, &workspace("acme", 3));
        assert_eq!(cache.key("k1"), Some(key("k1")));
        assert_eq!(cache.workspace("acme"), Some(workspace("acme", 3)));
        cache.forget_all();
        assert_eq!((cache.key("k1"), cache.workspace("acme")), (None, None));
    }

    #[test]
    fn forgetting_a_key_keeps_the_rest() {
        let cache = LookupCache::default();
        let began = cache.generation();
        cache.remember_key(began, &key("k1"));
        cache.remember_key(began, &key("k2"));
        cache.remember_workspace(began, &workspace("acme", 3));
        cache.forget_key("k1");
        assert_eq!(cache.key("k1"), None);
        assert_eq!((cache.key("k2"), cache.workspace("acme")), (Some(key("k2")), Some(workspace("acme", 3))));
        cache.remember_key(began, &key("k1"));
        assert_eq!(cache.key("k1"), None, "a find that began before is not remembered");
    }

    #[test]
    fn a_find_that_began_before_a_forgetting_is_not_remembered() {
        let cache = LookupCache::default();
        let began = cache.generation();
        cache.forget_all();
        cache.remember_key(began, &key("k1"));
        cache.remember_workspace(began, &workspace("acme", 3));
        assert_eq!((cache.key("k1"), cache.workspace("acme")), (None, None));
        let began_again = cache.generation();
        cache.remember_key(began_again, &key("k1"));
        assert_eq!(cache.key("k1"), Some(key("k1")));
    }

    #[test]
    fn an_event_count_only_grows() {
        let cache = LookupCache::default();
        // An append commits while the workspace is not remembered, then a read
        // that began before it remembers the count it found.
        let began = cache.generation();
        cache.counted("acme", 5);
        cache.remember_workspace(began, &workspace("acme", 3));
        assert_eq!(cache.workspace("acme").map(|found| found.event_count), Some(5));
        cache.counted("acme", 4);
        assert_eq!(cache.workspace("acme").map(|found| found.event_count), Some(5));
        cache.counted("acme", 9);
        assert_eq!(cache.workspace("acme").map(|found| found.event_count), Some(9));
        assert_eq!(cache.workspace("beta"), None, "a count alone is no workspace");
    }

    /// The writer forgets after the commit even when the caller of a revocation
    /// went away before it was answered (a dropped request, say).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_counts_even_if_its_caller_went_away() {
        let directory = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(directory.path()).unwrap();
        let now = Timestamp::from_millis(1_790_000_000_000);
        storage
            .create_workspace(NewWorkspace { id: "acme".into(), name: "Acme".into(), created_at: now })
            .await
            .unwrap();
        let new_key = NewApiKey {
            id: "k1".into(),
            workspace: "acme".into(),
            name: "key k1".into(),
            roles: Vec::new(),
            secret_hash: vec![7; 32],
            created_at: now,
        };
        storage.create_api_key(new_key).await.unwrap();
        assert_eq!(storage.api_key("k1").await.unwrap().unwrap().revoked_at, None);
        {
            // Its first poll hands the revocation to the writer; then it is dropped.
            let mut revocation = std::pin::pin!(storage.revoke_api_key("acme", "k1", now));
            let first = std::future::poll_fn(|context| Poll::Ready(revocation.as_mut().poll(context))).await;
            assert!(first.is_pending(), "the revocation was answered at once");
        }
        // The writer answers in order, so once a later job is answered the
        // revocation's commit is done.
        storage.ping().await.unwrap();
        assert_eq!(storage.api_key("k1").await.unwrap().unwrap().revoked_at, Some(now));
    }

    #[test]
    fn it_forgets_everything_when_full() {
        let cache = LookupCache::default();
        let began = cache.generation();
        for number in 0..MAX_ENTRIES {
            cache.remember_key(began, &key(&format!("k{number}")));
        }
        assert_eq!(cache.key("k0"), Some(key("k0")), "it holds MAX_ENTRIES");
        cache.remember_key(began, &key("one-more"));
        assert_eq!(cache.key("k0"), None, "one more made room by forgetting everything");
        assert_eq!(cache.key("one-more"), None, "and was itself not remembered");
        let began_again = cache.generation();
        cache.remember_key(began_again, &key("k1"));
        assert_eq!(cache.key("k1"), Some(key("k1")));
    }
}
