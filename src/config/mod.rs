//! MM2 properties files → a typed replication plan.

pub mod lint;
pub mod mm2;
pub mod properties;
