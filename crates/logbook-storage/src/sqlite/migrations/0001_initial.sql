-- The embedded backend's schema. Every key starts with the workspace, as the
-- PostgreSQL backend's will, so that one workspace's rows sit together.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    settings    TEXT NOT NULL,
    catalog     TEXT NOT NULL,
    next_seq    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace     TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    roles         TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX api_keys_by_workspace ON api_keys (workspace, created_at);

-- One row per event. The columns beside `body` are copies of body fields that
-- filters use; `body` is the event as validated, never rewritten. `personal`
-- holds the commitments (and salts) of its personal fields; `leaf_hash` is a copy
-- of the tree's leaf for reads (the tree below is what verification trusts).
CREATE TABLE events (
    workspace        TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    id               TEXT NOT NULL,
    action           TEXT NOT NULL,
    category         TEXT NOT NULL,
    occurred_at      INTEGER NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    target_type      TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    ip               TEXT,
    idempotency_key  TEXT,
    body             TEXT NOT NULL,
    personal         TEXT NOT NULL,
    leaf_hash        BLOB NOT NULL,
    PRIMARY KEY (workspace, seq)
) STRICT;
CREATE UNIQUE INDEX events_by_id ON events (workspace, id);
CREATE UNIQUE INDEX events_by_idempotency_key ON events (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_time ON events (workspace, occurred_at, seq);
CREATE INDEX events_by_actor ON events (workspace, actor_id, occurred_at, seq);
CREATE INDEX events_by_target ON events (workspace, target_type, target_id, occurred_at, seq);
CREATE INDEX events_by_action ON events (workspace, action, occurred_at, seq);
CREATE INDEX events_by_ip ON events (workspace, ip, occurred_at, seq) WHERE ip IS NOT NULL;

-- Each change of each event, its values as filters compare them (a string as
-- itself, anything else as compact JSON): the `field`, `from_value` and
-- `to_value` filters.
CREATE TABLE event_changes (
    workspace   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    field       TEXT NOT NULL,
    from_value  TEXT NOT NULL,
    to_value    TEXT NOT NULL,
    PRIMARY KEY (workspace, seq, position)
) STRICT, WITHOUT ROWID;

-- Every record an event concerns (its target and each related record): the
-- index behind record timelines and the `record` filter.
CREATE TABLE event_records (
    workspace    TEXT NOT NULL,
    record_type  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (workspace, record_type, record_id, occurred_at, seq)
) STRICT, WITHOUT ROWID;

-- The Merkle tree of each workspace's log: the hash of every complete subtree,
-- level 0 being the leaves (see crates/logbook-tlog). Proofs read O(log n) rows.
CREATE TABLE tree_nodes (
    workspace  TEXT NOT NULL,
    level      INTEGER NOT NULL,
    idx        INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (workspace, level, idx)
) STRICT, WITHOUT ROWID;

-- The words free text finds each event by (`logbook_core::search`). They include
-- the actor's name: erasing a person must delete their words here too.
CREATE TABLE event_words (
    workspace  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    word       TEXT NOT NULL,
    PRIMARY KEY (workspace, seq, word)
) STRICT, WITHOUT ROWID;

CREATE TABLE secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) STRICT;
