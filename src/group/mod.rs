//! Scale-out: many kmirror processes share one flow through Kafka's group protocol on the
//! target cluster. This is the pure part: the member/assignment bytes and the leader's assignor.

pub mod assignor;
pub mod metadata;

pub use assignor::{Plan, assign};
pub use metadata::{Assignment, MemberMetadata, MetadataError, TopicPartition, differing_keys};

use std::collections::BTreeMap;

use crate::config::mm2::FlowConfig;

/// Per-key hashes of a flow's settings, secrets left out, so members can name
/// the keys that differ without showing values. CRC32C: stable across builds.
pub fn config_keys(f: &FlowConfig) -> BTreeMap<String, String> {
    f.settings
        .iter()
        .filter(|(k, _)| !crate::config::is_sensitive(k))
        .map(|(k, (v, _))| (k.clone(), format!("{:08x}", crc32c::crc32c(v.as_bytes()))))
        .collect()
}

/// One hash over [`config_keys`]: equal files give equal fingerprints.
pub fn config_fingerprint(f: &FlowConfig) -> String {
    let text: String = config_keys(f)
        .iter()
        .map(|(k, h)| format!("{k}={h}\n"))
        .collect();
    format!("{:08x}", crc32c::crc32c(text.as_bytes()))
}
