-- A feed of changes of a field to a value (`field` and `to` filters) walked the
-- time index and looked at each event's changes, far past every event for a
-- value few events have. Changes now carry their event's time, and an index of
-- changes by field and new value, in the feed's order, finds a page directly
-- (`filter_sql::changes_by_value_drive`). Fields and values longer than 200
-- characters (descriptions, bodies) stay out of it, which also keeps every entry
-- within the third of a page an index entry may take; a filter on one reads as
-- before. The migration holds `event_changes` locked while it fills in the
-- times of the changes already stored: appends of events with changes wait for
-- it (about a minute per 10M changes is to be expected).
ALTER TABLE event_changes ADD COLUMN occurred_at BIGINT;

-- During a rolling upgrade, processes of an earlier version go on appending
-- changes without their time: this trigger fills it in from the event, which
-- an append stores first, in the same transaction. Current processes write the
-- time themselves, and the trigger's condition leaves their rows alone. It is
-- created before the backfill, which then sees every row written before it.
CREATE FUNCTION logbook_change_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.occurred_at := (SELECT e.occurred_at FROM events e
                        WHERE e.workspace = NEW.workspace AND e.seq = NEW.seq AND e.received_at = NEW.received_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER event_changes_timed BEFORE INSERT ON event_changes
    FOR EACH ROW WHEN (NEW.occurred_at IS NULL) EXECUTE FUNCTION logbook_change_time();

UPDATE event_changes c SET occurred_at = e.occurred_at
    FROM events e
    WHERE e.workspace = c.workspace AND e.seq = c.seq AND e.received_at = c.received_at AND c.occurred_at IS NULL;
CREATE INDEX event_changes_by_to ON event_changes (workspace, field, to_value, occurred_at, seq)
    WHERE length(field) <= 200 AND length(to_value) <= 200;
