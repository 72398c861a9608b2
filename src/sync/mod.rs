//! LEAVES beside the data path: heartbeats, checkpoints and group offsets,
//! topic configs and ACLs. Each uses only `kmirror_protocol::client`,
//! `internal_topics`, `policy` and `config`, never `forward` or `engine`;
//! `engine::leaves` starts them.

pub mod acls;
pub mod heartbeats;
pub mod io;
pub mod offsets;
pub mod report;
pub mod topics;
