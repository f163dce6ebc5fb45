//! The HTTP handlers, one module per resource.

pub mod catalog;
pub mod events;
pub mod export;
pub mod filters;
pub mod health;
pub mod integrity;
pub mod keys;
pub mod settings;
pub mod stats;
pub mod viewer_tokens;
pub mod workspaces;
