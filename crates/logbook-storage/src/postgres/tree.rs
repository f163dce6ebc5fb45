//! Tree maths over the stored nodes of a workspace's Merkle tree. The tree
//! functions of `logbook-tlog` read nodes one at a time; here each computation
//! runs twice: once to learn which nodes it needs (they depend on the sizes
//! only, never on hashes), then, after one statement has read them all, for real.
//! A proof or root therefore costs one round trip, whatever its size.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use logbook_tlog::Hash;
use logbook_tlog::tree::{NodeId, TreeError};

use super::backend;
use crate::model::StorageError;
use crate::rows::{to_hash, tree_error};

/// A node reader as the tree functions take it.
pub(super) type ReadNode<'a> = &'a mut dyn FnMut(NodeId) -> Result<Hash, StorageError>;

/// Runs `work` over the stored nodes of `workspace`'s tree.
pub(super) async fn with_nodes<T>(
    client: &impl GenericClient,
    workspace: &str,
    work: impl Fn(ReadNode<'_>) -> Result<T, TreeError<StorageError>>,
) -> Result<T, StorageError> {
    let mut wanted = Vec::new();
    work(&mut |node| {
        wanted.push(node);
        Ok([0; 32])
    })
    .map_err(tree_error)?;
    let nodes = read_nodes(client, workspace, wanted).await?;
    work(&mut |node| {
        nodes.get(&node).copied().ok_or_else(|| {
            StorageError::Corrupt(format!("tree node {}/{} of {workspace} is missing", node.level, node.index))
        })
    })
    .map_err(tree_error)
}

/// The stored hashes of these nodes (missing ones are left out).
async fn read_nodes(
    client: &impl GenericClient,
    workspace: &str,
    mut nodes: Vec<NodeId>,
) -> Result<HashMap<NodeId, Hash>, StorageError> {
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() {
        return Ok(HashMap::new());
    }
    let levels: Vec<i32> = nodes.iter().map(|node| i32::from(node.level)).collect();
    let indexes: Vec<i64> = nodes.iter().map(|node| i64::try_from(node.index).unwrap_or(i64::MAX)).collect();
    let statement = client
        .prepare_cached(
            "SELECT n.level, n.idx, n.hash FROM tree_nodes n
             JOIN UNNEST($2::integer[], $3::bigint[]) AS wanted (level, idx) ON n.level = wanted.level AND n.idx = wanted.idx
             WHERE n.workspace = $1",
        )
        .await
        .map_err(backend)?;
    let rows = client.query(&statement, &[&workspace, &levels, &indexes]).await.map_err(backend)?;
    rows.iter()
        .map(|row| {
            let (level, index, hash): (i32, i64, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
            let node = NodeId::new(
                u8::try_from(level).map_err(|error| StorageError::Corrupt(format!("a tree level: {error}")))?,
                u64::try_from(index).map_err(|error| StorageError::Corrupt(format!("a tree index: {error}")))?,
            );
            Ok((node, to_hash(&hash, &format!("tree node {level}/{index} of {workspace}"))?))
        })
        .collect()
}
