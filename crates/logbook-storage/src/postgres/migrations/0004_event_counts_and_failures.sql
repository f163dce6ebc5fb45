-- How many events each workspace holds per UTC day (days since 1970-01-01 of
-- `occurred_at`, earlier days negative), category, action, actor type, target
-- type and outcome (see `daily_counts.rs`). Stats whose filter needs nothing
-- finer read these rows, a few per day and action, instead of every matching
-- event.
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

-- A trigger keeps the counts, not the appending process: during a rolling
-- upgrade, processes of an earlier version go on appending, and their events
-- must be counted too. It runs once per insert statement (an append writes its
-- events with one), in the append's transaction.
CREATE FUNCTION logbook_count_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_counts (workspace, day, category, action, actor_type, target_type, outcome, events)
        SELECT workspace, (occurred_at - (((occurred_at % 86400000) + 86400000) % 86400000)) / 86400000, category,
               action, actor_type, target_type, outcome, COUNT(*)
        FROM appended
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (workspace, day, category, action, actor_type, target_type, outcome)
        DO UPDATE SET events = event_counts.events + excluded.events;
    RETURN NULL;
END
$$;

-- The trigger before the count of the events already stored: creating it waits
-- for the appends under way and holds new ones until this migration commits, so
-- the count sees every event stored before it and the trigger every one after.
CREATE TRIGGER events_counted AFTER INSERT ON events
    REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION logbook_count_events();
INSERT INTO event_counts (workspace, day, category, action, actor_type, target_type, outcome, events)
    SELECT workspace, (occurred_at - (((occurred_at % 86400000) + 86400000) % 86400000)) / 86400000, category, action,
           actor_type, target_type, outcome, COUNT(*)
    FROM events
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Failures are a small share of the log: a feed of them walked the time index
-- past every success. This index holds only them.
CREATE INDEX events_by_failure ON events (workspace, occurred_at, seq) WHERE outcome = 'failure';
