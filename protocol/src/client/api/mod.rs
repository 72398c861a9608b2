//! Typed helpers, one file per API family, as `impl Client` blocks.

pub mod acls;
pub mod configs;
pub mod fetch;
pub mod groups;
pub mod offsets;
pub mod produce;
pub mod producer_id;
pub mod topics;
