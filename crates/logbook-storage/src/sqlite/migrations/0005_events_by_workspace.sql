-- Each workspace's events sit together, in `seq` order: an event's rowid is its
-- workspace's number times 2^40 plus its `seq` (see `rowid_of` in mod.rs). Before,
-- the rowid was the order of arrival across all workspaces, so one workspace's
-- export, or a page of its feed, read a table page per event in a busy store;
-- now they read neighbouring rows. Numbers are given once and never reused.
-- (No event is left behind: one whose workspace row is missing gets number 0.)
ALTER TABLE workspaces ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET number = (SELECT COUNT(*) FROM workspaces AS earlier WHERE earlier.id <= workspaces.id);
CREATE UNIQUE INDEX workspaces_by_number ON workspaces (number);

CREATE TABLE events_by_workspace (
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
    search_text      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (workspace, seq)
) STRICT;
INSERT INTO events_by_workspace (rowid, workspace, seq, id, action, category, occurred_at, actor_type, actor_id,
                                 target_type, target_id, outcome, ip, idempotency_key, body, personal, leaf_hash,
                                 search_text)
    SELECT COALESCE(workspaces.number, 0) * 1099511627776 + events.seq, events.workspace, events.seq, events.id,
           events.action,
           events.category, events.occurred_at, events.actor_type, events.actor_id, events.target_type,
           events.target_id, events.outcome, events.ip, events.idempotency_key, events.body, events.personal,
           events.leaf_hash, events.search_text
    FROM events LEFT JOIN workspaces ON workspaces.id = events.workspace
    ORDER BY 1;
DROP TABLE events;
ALTER TABLE events_by_workspace RENAME TO events;

CREATE UNIQUE INDEX events_by_id ON events (workspace, id);
CREATE UNIQUE INDEX events_by_idempotency_key ON events (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_time ON events (workspace, occurred_at, seq);
CREATE INDEX events_by_actor ON events (workspace, actor_id, occurred_at, seq);
CREATE INDEX events_by_target ON events (workspace, target_type, target_id, occurred_at, seq);
CREATE INDEX events_by_action ON events (workspace, action, occurred_at, seq);
CREATE INDEX events_by_ip ON events (workspace, ip, occurred_at, seq) WHERE ip IS NOT NULL;
CREATE INDEX events_by_category ON events (workspace, category, occurred_at, seq);
