-- Event rows packed with zstd and a dictionary trained on the store's own events
-- (`sqlite/packing.rs`): a packed row holds empty text in `body` and `personal`
-- and both in `packed`, whose zstd frame names its dictionary by `zstd_id`. Rows
-- stored before stay as they are, with `packed` null, and read as before.
-- Staged rows are carried over in place (STAGING_SINCE in migrations.rs).
CREATE TABLE dictionaries (
    number      INTEGER PRIMARY KEY,
    zstd_id     INTEGER NOT NULL UNIQUE,
    dictionary  BLOB NOT NULL
) STRICT;
ALTER TABLE events ADD COLUMN packed BLOB;
ALTER TABLE staged_events ADD COLUMN packed BLOB;
