//! kmirror: a zero-copy, MirrorMaker 2 compatible Kafka replicator.

pub mod config;
pub mod internal_topics;
pub mod policy;
