-- The PostgreSQL backend's schema. It keeps the embedded backend's tables and
-- columns (so that both read the same shared filter SQL), and is ready to be
-- distributed by workspace on Citus:
-- - every primary key and unique index starts with the workspace (the
--   distribution column); no foreign key crosses workspaces;
-- - the per-event tables are partitioned by `received_at` (milliseconds since
--   the epoch, set by Logbook, so it only moves forward), monthly, so that
--   retention can drop whole partitions; a DEFAULT partition takes whatever no
--   monthly partition covers. The backend creates the monthly partitions ahead
--   (see partitions.rs).
-- - a unique index on a partitioned table must include the partition key, so
--   uniqueness of event ids and of idempotency keys per workspace is kept by two
--   unpartitioned tables, and uniqueness of `seq` by the unpartitioned tree
--   (leaf `seq` is node (0, seq)) and the per-workspace lock on `next_seq`.
-- Text columns that filters compare by range (`action`, `word`) or that are
-- ordered use the "C" collation: byte order, as SQLite compares.

CREATE TABLE workspaces (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    settings    TEXT NOT NULL,
    catalog     TEXT NOT NULL,
    next_seq    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE api_keys (
    workspace     TEXT COLLATE "C" NOT NULL REFERENCES workspaces (id),
    id            TEXT COLLATE "C" NOT NULL,
    name          TEXT NOT NULL,
    roles         TEXT NOT NULL,
    secret_hash   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    PRIMARY KEY (workspace, id)
);
-- Authentication finds a key by its id alone (the token does not name the
-- workspace); on Citus this lookup goes to every shard.
CREATE INDEX api_keys_by_id ON api_keys (id);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace, created_at);

CREATE TABLE events (
    workspace        TEXT COLLATE "C" NOT NULL,
    seq              BIGINT NOT NULL,
    received_at      BIGINT NOT NULL,
    id               TEXT COLLATE "C" NOT NULL,
    action           TEXT COLLATE "C" NOT NULL,
    category         TEXT COLLATE "C" NOT NULL,
    occurred_at      BIGINT NOT NULL,
    actor_type       TEXT COLLATE "C" NOT NULL,
    actor_id         TEXT COLLATE "C" NOT NULL,
    target_type      TEXT COLLATE "C" NOT NULL,
    target_id        TEXT COLLATE "C" NOT NULL,
    outcome          TEXT COLLATE "C" NOT NULL,
    ip               TEXT COLLATE "C",
    idempotency_key  TEXT COLLATE "C",
    body             TEXT NOT NULL,
    personal         TEXT NOT NULL,
    leaf_hash        BYTEA NOT NULL,
    search_text      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (workspace, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_by_time ON events (workspace, occurred_at, seq);
CREATE INDEX events_by_actor ON events (workspace, actor_id, occurred_at, seq);
CREATE INDEX events_by_target ON events (workspace, target_type, target_id, occurred_at, seq);
CREATE INDEX events_by_action ON events (workspace, action, occurred_at, seq);
CREATE INDEX events_by_ip ON events (workspace, ip, occurred_at, seq) WHERE ip IS NOT NULL;

-- Event ids, unique per workspace, and where each event is (lookups by id).
CREATE TABLE event_ids (
    workspace    TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace, id)
);

-- Idempotency keys, unique per workspace, with what a retry is answered.
CREATE TABLE idempotency_keys (
    workspace  TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    leaf_hash  BYTEA NOT NULL,
    PRIMARY KEY (workspace, key)
);

CREATE TABLE event_changes (
    workspace    TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    field        TEXT COLLATE "C" NOT NULL,
    from_value   TEXT COLLATE "C" NOT NULL,
    to_value     TEXT COLLATE "C" NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace, seq, position, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE event_changes_default PARTITION OF event_changes DEFAULT;

CREATE TABLE event_records (
    workspace    TEXT COLLATE "C" NOT NULL,
    record_type  TEXT COLLATE "C" NOT NULL,
    record_id    TEXT COLLATE "C" NOT NULL,
    occurred_at  BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace, record_type, record_id, occurred_at, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE event_records_default PARTITION OF event_records DEFAULT;

CREATE TABLE event_words (
    workspace    TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    word         TEXT COLLATE "C" NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace, seq, word, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE event_words_default PARTITION OF event_words DEFAULT;

-- The Merkle tree of each workspace's log (never partitioned: retention keeps
-- it). Its primary key is also what keeps each leaf position, so each `seq`,
-- unique per workspace.
CREATE TABLE tree_nodes (
    workspace  TEXT COLLATE "C" NOT NULL,
    level      INTEGER NOT NULL,
    idx        BIGINT NOT NULL,
    hash       BYTEA NOT NULL,
    PRIMARY KEY (workspace, level, idx)
);

-- Deployment-wide secrets shared by every process (on Citus, a reference table).
CREATE TABLE secrets (
    name   TEXT COLLATE "C" PRIMARY KEY,
    value  BYTEA NOT NULL
);
