-- Staged rows in the order they arrive (`sqlite/staging.rs`). Keyed by workspace
-- first, as in 0008, each staged table took a commit's rows at one place per
-- workspace, and the write-ahead log holds whole pages: in a copy of the log
-- taken while 64 clients sent single events, a group commit (about 19 events)
-- wrote 108 pages, 65 of them to the staged tables (BENCHMARKS.md). Each staged
-- table now adds its rows at its end. An event keeps the rowid it will have in
-- `events` in `event_rowid`; its id stays unique by an index that begins with
-- the id, a time-ordered UUID, so that new ids land on the index's last page
-- (idempotency keys are the clients' own, unordered: their index is as in 0008);
-- records, changes and daily counts have no key (the move sums the counts of a
-- day and kind). Rows staged under 0008 are carried over as they are.
CREATE TABLE staged_events_arriving (
    event_rowid      INTEGER NOT NULL,
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
INSERT INTO staged_events_arriving
    SELECT rowid, workspace, seq, id, action, category, occurred_at, actor_type, actor_id, target_type, target_id,
           outcome, ip, idempotency_key, body, personal, leaf_hash, search_text
    FROM staged_events ORDER BY rowid;
DROP TABLE staged_events;
ALTER TABLE staged_events_arriving RENAME TO staged_events;
CREATE UNIQUE INDEX staged_events_by_id ON staged_events (id, workspace);
CREATE UNIQUE INDEX staged_events_by_idempotency_key ON staged_events (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE staged_records_arriving (
    workspace    TEXT NOT NULL,
    record_type  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    seq          INTEGER NOT NULL
) STRICT;
INSERT INTO staged_records_arriving SELECT * FROM staged_records;
DROP TABLE staged_records;
ALTER TABLE staged_records_arriving RENAME TO staged_records;

CREATE TABLE staged_changes_arriving (
    workspace    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    field        TEXT NOT NULL,
    from_value   TEXT NOT NULL,
    to_value     TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL
) STRICT;
INSERT INTO staged_changes_arriving SELECT * FROM staged_changes;
DROP TABLE staged_changes;
ALTER TABLE staged_changes_arriving RENAME TO staged_changes;

CREATE TABLE staged_counts_arriving (
    workspace    TEXT NOT NULL,
    day          INTEGER NOT NULL,
    category     TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor_type   TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    events       INTEGER NOT NULL
) STRICT;
INSERT INTO staged_counts_arriving SELECT * FROM staged_counts;
DROP TABLE staged_counts;
ALTER TABLE staged_counts_arriving RENAME TO staged_counts;
