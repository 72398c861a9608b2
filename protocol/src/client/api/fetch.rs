//! Fetch with incremental fetch sessions (KIP-227) and isolation level: one
//! `FetchSession` per source broker; records come back as zero-copy `Bytes`.
//!
//! # References
//! - `zero-copy-forwarding.md` §4.1-§4.4; KIP-227; KIP-74 (MaxBytes).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::client::cluster::check_code;
use crate::client::error::tp_name;
use crate::client::{Client, ClientError};
use crate::error::ResponseError;

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Everything, including aborted and open transactions.
    ReadUncommitted = 0,
    /// Up to the last stable offset; aborted transactions listed.
    ReadCommitted = 1,
}

/// One partition to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPosition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset wanted.
    pub fetch_offset: i64,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
}

/// An aborted transaction overlapping the returned range (read_committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer id of the transaction.
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
}

/// What one partition returned.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The partition-level error, if any.
    pub error: Option<ClientError>,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset (-1 if unknown).
    pub last_stable_offset: i64,
    /// Log start offset (-1 if unknown).
    pub log_start_offset: i64,
    /// Aborted transactions (read_committed only).
    pub aborted: Vec<AbortedTransaction>,
    /// The records blob: a slice of the response frame, split with `batch::batches`.
    pub records: Bytes,
}

/// Fetch-session state with one broker.
#[derive(Debug)]
pub struct FetchSession {
    /// Cluster client.
    client: Client,
    /// Broker id this session lives on.
    broker: i32,
    /// Isolation level of every request.
    isolation: IsolationLevel,
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// Session id from the broker (0 = none).
    session_id: i32,
    /// Next epoch to send (0 = create a session with a full request).
    epoch: i32,
    /// What the broker's session holds: (offset, max bytes) per partition.
    sent: HashMap<(String, i32), (i64, i32)>,
}

impl FetchSession {
    /// A session with broker `broker` (created on the first fetch).
    pub fn new(client: Client, broker: i32, isolation: IsolationLevel) -> Self {
        Self {
            client,
            broker,
            isolation,
            // Kafka consumer defaults.
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            session_id: 0,
            epoch: 0,
            sent: HashMap::new(),
        }
    }

    /// Broker id.
    pub fn broker(&self) -> i32 {
        self.broker
    }

    /// Drops session state so the next fetch is a full one.
    pub fn reset(&mut self) {
        self.session_id = 0;
        self.epoch = 0;
        self.sent.clear();
    }

    /// Fetches `wanted` (all partitions this session should follow). With a
    /// session, only partitions whose position changed are sent and the
    /// response holds only partitions with news.
    pub async fn fetch(
        &mut self,
        wanted: &[FetchPosition],
    ) -> Result<Vec<FetchedPartition>, ClientError> {
        let conn = self.client.broker_conn(self.broker).await?;
        let version = conn.version_for(kafka_protocol::messages::ApiKey::Fetch)?;
        let sessions = version >= 7;
        let incremental = sessions && self.session_id != 0;
        let mut by_topic: Vec<(String, Vec<&FetchPosition>)> = Vec::new();
        for w in wanted {
            let changed = self.sent.get(&(w.topic.clone(), w.partition))
                != Some(&(w.fetch_offset, w.partition_max_bytes));
            if incremental && !changed {
                continue;
            }
            match by_topic.iter_mut().find(|(t, _)| *t == w.topic) {
                Some((_, v)) => v.push(w),
                None => by_topic.push((w.topic.clone(), vec![w])),
            }
        }
        let mut forgotten: Vec<(String, Vec<i32>)> = Vec::new();
        if incremental {
            for (t, p) in self.sent.keys() {
                if !wanted.iter().any(|w| &w.topic == t && w.partition == *p) {
                    match forgotten.iter_mut().find(|(ft, _)| ft == t) {
                        Some((_, v)) => v.push(*p),
                        None => forgotten.push((t.clone(), vec![*p])),
                    }
                }
            }
        }
        let topics = by_topic
            .iter()
            .map(|(t, ps)| {
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(t.clone())))
                    .with_partitions(
                        ps.iter()
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition(p.partition)
                                    .with_fetch_offset(p.fetch_offset)
                                    .with_partition_max_bytes(p.partition_max_bytes)
                                    .with_log_start_offset(-1)
                                    .with_current_leader_epoch(-1)
                            })
                            .collect(),
                    )
            })
            .collect();
        let mut req = FetchRequest::default()
            .with_replica_id((-1).into())
            .with_max_wait_ms(self.max_wait.as_millis().min(i32::MAX as u128) as i32)
            .with_min_bytes(self.min_bytes)
            .with_max_bytes(self.max_bytes)
            .with_isolation_level(self.isolation as i8)
            .with_topics(topics);
        if sessions {
            req = req
                .with_session_id(self.session_id)
                .with_session_epoch(self.epoch)
                .with_forgotten_topics_data(
                    forgotten
                        .iter()
                        .map(|(t, ps)| {
                            ForgottenTopic::default()
                                .with_topic(TopicName(StrBytes::from_string(t.clone())))
                                .with_partitions(ps.clone())
                        })
                        .collect(),
                );
        }
        let resp = conn.send_version(version, &req).await?;
        let broker = conn.broker().to_owned();
        if sessions {
            match ResponseError::try_from_code(resp.error_code) {
                Some(
                    ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch,
                ) => {
                    tracing::debug!(broker, "fetch session lost; next fetch is a full one");
                    self.reset();
                    return Ok(Vec::new());
                }
                _ => check_code::<FetchRequest>(resp.error_code, &broker, || None, None)?,
            }
            if resp.session_id == 0 {
                // The broker keeps no session for us: every fetch stays full.
                self.reset();
            } else {
                if self.session_id != resp.session_id {
                    self.sent.clear();
                }
                self.session_id = resp.session_id;
                self.epoch = if self.epoch == i32::MAX {
                    1
                } else {
                    self.epoch + 1
                };
                if !incremental {
                    self.sent.clear();
                }
                for (_, ps) in &by_topic {
                    for p in ps {
                        self.sent.insert(
                            (p.topic.clone(), p.partition),
                            (p.fetch_offset, p.partition_max_bytes),
                        );
                    }
                }
                for (t, ps) in &forgotten {
                    for p in ps {
                        self.sent.remove(&(t.clone(), *p));
                    }
                }
            }
        } else {
            check_code::<FetchRequest>(resp.error_code, &broker, || None, None)?;
        }
        let mut out = Vec::new();
        for t in resp.responses {
            let topic = t.topic.0.as_str().to_owned();
            for p in t.partitions {
                let error = check_code::<FetchRequest>(
                    p.error_code,
                    &broker,
                    || Some(tp_name(&topic, p.partition_index)),
                    None,
                )
                .err();
                if error.is_some() {
                    // The broker may drop the partition from the session on error.
                    self.sent.remove(&(topic.clone(), p.partition_index));
                }
                out.push(FetchedPartition {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    error,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    aborted: p
                        .aborted_transactions
                        .unwrap_or_default()
                        .iter()
                        .map(|a| AbortedTransaction {
                            producer_id: a.producer_id.0,
                            first_offset: a.first_offset,
                        })
                        .collect(),
                    records: p.records.unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}
