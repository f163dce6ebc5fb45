-- Small appends are staged (`sqlite/staging.rs`): a commit of a few dozen single
-- events wrote every index page each of them touched, about ten pages an event.
-- They now go to these tables, which have no index but the few that keep ids and
-- idempotency keys unique, and the writer moves them into the indexed tables a
-- few thousand at a time, in one statement per table. Each has the columns of
-- the table it feeds; the tree nodes and each workspace's `next_seq` are written
-- at once either way, so a staged event has its `seq` and its place in the tree
-- when it is acknowledged.
CREATE TABLE staged_events (
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
    search_text      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX staged_events_by_id ON staged_events (workspace, id);
CREATE UNIQUE INDEX staged_events_by_idempotency_key ON staged_events (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE staged_records (
    workspace    TEXT NOT NULL,
    record_type  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (workspace, record_type, record_id, occurred_at, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE staged_changes (
    workspace    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    field        TEXT NOT NULL,
    from_value   TEXT NOT NULL,
    to_value     TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace, seq, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE staged_counts (
    workspace    TEXT NOT NULL,
    day          INTEGER NOT NULL,
    category     TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor_type   TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    events       INTEGER NOT NULL,
    PRIMARY KEY (workspace, day, category, action, actor_type, target_type, outcome)
) STRICT, WITHOUT ROWID;
