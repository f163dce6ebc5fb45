-- Readers who see one category (a supervisor sees activity, setup sees audit)
-- filter every read by it: pages and counts over one category walk this index
-- instead of every event of the workspace.
CREATE INDEX events_by_category ON events (workspace, category, occurred_at, seq);
