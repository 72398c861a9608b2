//! The single integration-test binary: real brokers, librdkafka as oracle.

mod cli;
mod forward;
mod fuzz_corpus;
#[allow(dead_code)] // helpers used as scenarios land
mod harness;
mod metrics;
mod protocol;
mod scale;
mod secure;
mod sync;
mod sync_configs;
