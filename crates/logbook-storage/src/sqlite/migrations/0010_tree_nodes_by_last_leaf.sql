-- Tree nodes in the order appends complete them. Keyed by (workspace, level,
-- idx), the nodes one append completes (its leaf, and each subtree it closes)
-- sat at one place per level, and the write-ahead log holds whole pages: in a
-- copy of the log taken while 64 clients sent single events, 27.6 of the 43.5
-- pages a group commit wrote were tree nodes (BENCHMARKS.md). Keyed by
-- (workspace, last_leaf, level), where last_leaf is the last leaf a node covers,
-- ((idx + 1) << level) - 1, the leaf whose append completes it
-- (`logbook_tlog::tree::NodeId::last_leaf`), those nodes sit side by side at the
-- end of their workspace's nodes. A node is still found by one key lookup.
--
-- The Rust step of this migration (`fill_tree_nodes_by_last_leaf` in
-- `sqlite/migrations.rs`) copies the nodes a workspace at a time, merging its
-- levels, which are each in `last_leaf` order already, so that the copy needs
-- no sort (an ORDER BY held 1.3 GB for the 20 million nodes of 10 million
-- events); then it drops `tree_nodes` and gives this table its name. Only nodes
-- a log can hold are carried over (level at most 40 and last leaf below 2^40, a
-- workspace's most events); a row outside them could only have been written
-- behind Logbook's back, and no log Logbook wrote reads it.
CREATE TABLE tree_nodes_by_last_leaf (
    workspace  TEXT NOT NULL,
    last_leaf  INTEGER NOT NULL,
    level      INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (workspace, last_leaf, level)
) STRICT, WITHOUT ROWID;
