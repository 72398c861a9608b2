//! kmirror-protocol: a Kafka wire-protocol client with a zero-copy record-batch core.
//!
//! # Layers
//! - [`frame`]: length-prefixed frames (sans-io).
//! - [`batch`]: the zero-copy core: a [`batch::RecordBatch`] view over `Bytes`,
//!   the splitter, the header rewrite with CRC recompute, and the decode path.
//!
//! Message structs come from the `kafka-protocol` crate.
#![deny(missing_docs)]

pub mod batch;
#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod error;
pub mod frame;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod versions;

pub use kafka_protocol;
