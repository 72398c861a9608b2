//! Scale-out: many kmirror processes share one flow through Kafka's group protocol on the
//! target cluster. This is the pure part: the member/assignment bytes and the leader's assignor.

pub mod assignor;
pub mod metadata;

pub use assignor::{Plan, assign};
pub use metadata::{Assignment, MemberMetadata, MetadataError, TopicPartition, differing_keys};
