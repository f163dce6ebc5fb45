-- Quoted phrases of the query language match within an event's searchable parts,
-- laid out as one text by logbook_core::search::search_text. Events stored before
-- this column existed get theirs from the Rust step that runs with this script.
-- It includes the actor's name: erasing a person must rewrite it too.
ALTER TABLE events ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
