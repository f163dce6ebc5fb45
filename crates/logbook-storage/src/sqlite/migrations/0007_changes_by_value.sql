-- A feed of changes of a field to a value (`field` and `to` filters) walked the
-- time index and looked at each event's changes, far past every event for a
-- value few events have. Changes now carry their event's time, and an index of
-- changes by field and new value, in the feed's order, finds a page directly
-- (`filter_sql::changes_by_value_drive`). Fields and values longer than 200
-- characters (descriptions, bodies) stay out of it, as on PostgreSQL, where an
-- index entry must fit in a third of a page; a filter on one reads as before.
ALTER TABLE event_changes ADD COLUMN occurred_at INTEGER NOT NULL DEFAULT 0;
UPDATE event_changes SET occurred_at = coalesce(
    (SELECT e.occurred_at FROM events e WHERE e.workspace = event_changes.workspace AND e.seq = event_changes.seq), 0);
CREATE INDEX event_changes_by_to ON event_changes (workspace, field, to_value, occurred_at, seq)
    WHERE length(field) <= 200 AND length(to_value) <= 200;
