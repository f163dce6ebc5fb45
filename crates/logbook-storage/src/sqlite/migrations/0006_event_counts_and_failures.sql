-- How many events each workspace holds per UTC day (days since 1970-01-01 of
-- `occurred_at`, earlier days negative), category, action, actor type, target
-- type and outcome, kept in the same transaction as the events themselves (see
-- `daily_counts.rs`). Stats whose filter needs nothing finer read these
-- rows, a few per day and action, instead of every matching event.
CREATE TABLE event_counts (
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
INSERT INTO event_counts (workspace, day, category, action, actor_type, target_type, outcome, events)
    SELECT workspace, (occurred_at - (((occurred_at % 86400000) + 86400000) % 86400000)) / 86400000, category, action,
           actor_type, target_type, outcome, COUNT(*)
    FROM events
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Failures are a small share of the log: a feed of them walked the time index
-- past every success. This index holds only them, newest last.
CREATE INDEX events_by_failure ON events (workspace, occurred_at, seq) WHERE outcome = 'failure';

-- A page under a broad filter (an action prefix, a record type, one category or
-- actor type) walks the time index newest first and skips what does not match.
-- With those columns in the index, SQLite skips them without reading the event's
-- row (it seeks the row only once a column outside the index is needed), so a
-- page reads the rows it returns rather than every row it passes over.
DROP INDEX events_by_time;
CREATE INDEX events_by_time ON events (workspace, occurred_at, seq, category, action, actor_type, target_type, outcome);
