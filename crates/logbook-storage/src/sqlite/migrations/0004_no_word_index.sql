-- Free text finds a word prefix in `events.search_text` (every word there follows
-- a space), so the per-event word rows are no longer read. They were about twenty
-- index rows per event: most of the cost of an append and a fifth of the store.
DROP TABLE event_words;
