//! Typed helpers, one file per API family, as `impl Client` blocks.

pub mod fetch;
pub mod produce;
