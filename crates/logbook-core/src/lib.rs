//! The heart of Logbook: what an event is, what the catalog says about each action,
//! how an incoming event is validated, who may see what, and how a feed query is
//! described. This crate does no IO: no files, no network, no clock (callers pass
//! the current time in), so that every rule here can be tested with plain values.

pub mod access;
pub mod catalog;
pub mod cursor;
pub mod event;
pub mod export;
pub mod filter;
pub mod integrity;
pub mod mac;
pub mod query_language;
pub mod search;
pub mod timestamp;
pub mod validate;
pub mod viewer_token;
pub mod workspace;

pub use access::{Permission, Principal, Role};
pub use catalog::{ActionSpec, Catalog, CatalogMode, Severity, WorkspaceCatalog};
pub use event::{Actor, ActorType, Category, Change, Context, Event, EventBody, Outcome, RecordRef};
pub use filter::{ActionPattern, ChangeFilter, EventFilter, EventQuery, GroupBy, Order, Position, RecordKey};
pub use timestamp::Timestamp;
pub use validate::{FieldIssue, Limits};
pub use workspace::{Workspace, WorkspaceSettings};
