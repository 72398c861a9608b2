//! Heartbeats: every `emit.heartbeats.interval.seconds`, a heartbeat record (source alias,
//! target alias, now) into the `heartbeats` topic of the flow's target, as MM2's heartbeat task.
//!
//! The topic (1 partition, compacted, keyed by the alias pair) is created on the target if
//! missing. It is an ordinary topic for the data path: a flow *out of* that cluster replicates it
//! like any other (MM2's replicate test accepts heartbeats topics whatever `topics` says, unless
//! `heartbeats.replication.enabled=false`), so in a chain `A->B->C` the cluster C holds
//! `heartbeats` (records `B->C`) and `B.heartbeats` (records `A->B`, their original source A).
//!
//! MM2 also runs a heartbeat-only herder for every *disabled* pair whose
//! `emit.heartbeats.enabled` is true (mm2-reference §9); e.g. herder `B->A` fills `heartbeats`
//! on A, which `A->B` then replicates as `A.heartbeats` and `B->C` as `B.A.heartbeats`. This
//! module emits for whatever pair it is given; running it for disabled pairs is the engine's call.
//!
//! # References
//! - `mm2-reference.md` §1.1 (topic), §2.1 (record layout, timestamp), §3.4 (replicate test),
//!   §7.6 (keys), §9 (herders for disabled pairs).
//! - Kafka `MirrorHeartbeatTask.poll`, `MirrorHeartbeatConnector`, `Heartbeat.java`.

use std::time::Duration;

use kmirror_protocol::batch::records::Record;
use kmirror_protocol::client::{Client, ClientError};
use tokio_util::sync::CancellationToken;

use super::io;
use crate::internal_topics::{Heartbeat, InternalTopicError};

/// Result alias for this module.
pub type Result<T, E = HeartbeatError> = std::result::Result<T, E>;

/// `emit.heartbeats.interval.seconds` default (MM2 `MirrorHeartbeatConfig`).
pub const DEFAULT_EMIT_HEARTBEATS_INTERVAL: Duration = Duration::from_secs(1);

/// A heartbeat could not be built or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeartbeatError {
    /// An alias does not fit MM2's `STRING` type.
    #[error("flow {flow}: cannot encode a heartbeat")]
    Encode {
        /// `source->target`.
        flow: String,
        /// Cause.
        #[source]
        source: InternalTopicError,
    },
    /// The target refused or did not answer.
    #[error("flow {flow}: {what} `{topic}` on the target")]
    Target {
        /// `source->target`.
        flow: String,
        /// What was being done (`creating`, `writing to`).
        what: &'static str,
        /// The heartbeats topic.
        topic: String,
        /// Cause (boxed: a `ClientError` is large).
        #[source]
        source: Box<ClientError>,
    },
}

/// What the heartbeat emitter of one pair needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// `sourceClusterAlias` written in every heartbeat key.
    pub source_alias: String,
    /// `targetClusterAlias`; the cluster written to.
    pub target_alias: String,
    /// The topic (`ReplicationPolicy::heartbeats_topic`, always `heartbeats`).
    pub topic: String,
    /// `emit.heartbeats.interval.seconds`.
    pub interval: Duration,
    /// `heartbeats.topic.replication.factor`, used when the topic is created.
    pub replication_factor: i16,
}

impl HeartbeatConfig {
    /// `source->target`, for logs and errors.
    pub fn flow(&self) -> String {
        format!("{}->{}", self.source_alias, self.target_alias)
    }
}

/// The record MM2 writes for one heartbeat: key (source, target), value (version 0, `now_ms`),
/// record timestamp `now_ms`.
pub fn heartbeat_record(source_alias: &str, target_alias: &str, now_ms: i64) -> Result<Record> {
    let hb = Heartbeat {
        source_cluster_alias: source_alias.to_owned(),
        target_cluster_alias: target_alias.to_owned(),
        timestamp: now_ms,
    };
    let key = hb.encode_key().map_err(|source| HeartbeatError::Encode {
        flow: format!("{source_alias}->{target_alias}"),
        source,
    })?;
    Ok(Record::new(Some(&key), Some(&hb.encode_value()), now_ms))
}

/// Creates the heartbeats topic on `target` if missing, then writes one heartbeat.
pub async fn emit_once(config: &HeartbeatConfig, target: &Client) -> Result<()> {
    let record = heartbeat_record(&config.source_alias, &config.target_alias, io::now_ms())?;
    io::write_records(target, &config.topic, vec![record])
        .await
        .map(drop)
        .map_err(|source| HeartbeatError::Target {
            flow: config.flow(),
            what: "writing to",
            topic: config.topic.clone(),
            source: Box::new(source),
        })
}

/// Emits heartbeats into `target` every `config.interval` until `cancel` (which also interrupts
/// a write in progress). Failures are logged and retried on the next tick (MM2 logs them too);
/// creating the topic is retried until it succeeds.
pub async fn run(config: HeartbeatConfig, target: Client, cancel: CancellationToken) {
    run_observed(config, target, cancel, |_| {}).await;
}

/// [`run`], telling `on_round` the outcome of every tick: the heartbeat written, or why not
/// (topic not created, write refused). Where the engine feeds its per-sync metrics.
pub async fn run_observed(
    config: HeartbeatConfig,
    target: Client,
    cancel: CancellationToken,
    on_round: impl Fn(Result<(), &HeartbeatError>),
) {
    let mut tick = tokio::time::interval(config.interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut created = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !created {
            let ensure =
                io::ensure_compacted_topic(&target, &config.topic, config.replication_factor);
            match cancel.run_until_cancelled(ensure).await {
                None => return,
                Some(Ok(())) => created = true,
                Some(Err(source)) => {
                    let e = HeartbeatError::Target {
                        flow: config.flow(),
                        what: "creating",
                        topic: config.topic.clone(),
                        source: Box::new(source),
                    };
                    tracing::warn!(error = %e, "heartbeats topic not ready; will retry");
                    on_round(Err(&e));
                    continue;
                }
            }
        }
        match cancel
            .run_until_cancelled(emit_once(&config, &target))
            .await
        {
            None => return,
            Some(Ok(())) => on_round(Ok(())),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "heartbeat not written; will retry");
                on_round(Err(&e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_mm2_heartbeat_with_matching_timestamp() {
        let r = heartbeat_record("A", "B", 1_700_000_000_000).unwrap();
        assert_eq!(r.timestamp, 1_700_000_000_000);
        let key = r.key.unwrap();
        let value = r.value.unwrap();
        // mm2-reference §2.1 example bytes.
        assert_eq!(&key[..], [0x00, 0x01, 0x41, 0x00, 0x01, 0x42]);
        assert_eq!(
            &value[..],
            [0x00, 0x00, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00]
        );
        let hb = Heartbeat::decode(&key, &value).unwrap();
        assert_eq!(
            (
                hb.source_cluster_alias.as_str(),
                hb.target_cluster_alias.as_str()
            ),
            ("A", "B")
        );
    }

    #[test]
    fn oversized_alias_is_an_error_naming_the_flow() {
        let long = "x".repeat(40_000);
        let e = heartbeat_record(&long, "B", 0).unwrap_err();
        assert!(
            e.to_string().ends_with("->B: cannot encode a heartbeat"),
            "{e}"
        );
    }
}
