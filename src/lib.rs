//! kmirror: a zero-copy, MirrorMaker 2 compatible Kafka replicator.
//!
//! # Layout
//! - [`config`]: MM2 properties files → typed flows.
//! - [`policy`]: replication policies and topic/group filters.
//! - [`forward`]: the data path (fetch → classify → rewrite → produce).
//! - [`internal_topics`]: MM2's byte formats (heartbeats, checkpoints, offset syncs).
//! - [`sync`]: leaves beside the data path (heartbeats, checkpoints, configs, ACLs).
//! - [`engine`], [`cli`]: wiring and the command line.

pub mod cli;
pub mod config;
pub mod engine;
pub mod forward;
pub mod group;
pub mod internal_topics;
pub mod metrics;
pub mod policy;
pub mod sync;
