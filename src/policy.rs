//! Replication policies and topic/group filters (work in progress).
