-- How many events each workspace holds per UTC day (days since 1970-01-01 of
-- `occurred_at`, earlier days negative), category, action, actor type, target
-- type and outcome, kept in the same transaction as the events themselves (see
-- `daily_counts.rs`). Stats whose filter needs nothing finer read these rows, a
-- few per day and action, instead of every matching event.
CREATE TABLE event_counts (
    workspace    TEXT COLLATE "C" NOT NULL,
    day          BIGINT NOT NULL,
    category     TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    actor_type   TEXT COLLATE "C" NOT NULL,
    target_type  TEXT COLLATE "C" NOT NULL,
    outcome      TEXT COLLATE "C" NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (workspace, day, category, action, actor_type, target_type, outcome)
);
INSERT INTO event_counts (workspace, day, category, action, actor_type, target_type, outcome, events)
    SELECT workspace, (occurred_at - (((occurred_at % 86400000) + 86400000) % 86400000)) / 86400000, category, action,
           actor_type, target_type, outcome, COUNT(*)
    FROM events
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Failures are a small share of the log: a feed of them walked the time index
-- past every success. This index holds only them.
CREATE INDEX events_by_failure ON events (workspace, occurred_at, seq) WHERE outcome = 'failure';
