//! Cluster I/O shared by the leaves for MM2's single-partition internal topics: create one,
//! read partition 0 incrementally up to its end, and write records to partition 0.
//!
//! MM2 writes heartbeats, checkpoints and offset syncs to partition 0 only and its readers read
//! only partition 0 (mm2-reference §1.1); every helper here follows that. These mirror what
//! `forward::progress` does for its own topics, kept here so `sync/` never imports `forward/`.
//!
//! # References
//! - `mm2-reference.md` §1.1 (internal topics: 1 partition, `cleanup.policy=compact`, creation
//!   failures that MM2 swallows), §2 (partition 0).
//! - Kafka `MirrorUtils.createSinglePartitionCompactedTopic`, `KafkaBasedLog` (read to end).

use std::time::Duration;

use kmirror_protocol::batch::builder::BatchBuilder;
use kmirror_protocol::batch::records::{self, Record};
use kmirror_protocol::batch::{Compression, RawBatch, batches};
use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession, IsolationLevel};
use kmirror_protocol::client::api::offsets::OffsetSpec;
use kmirror_protocol::client::api::produce::ProduceAck;
use kmirror_protocol::client::api::topics::NewTopic;
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::ResponseError;
use kmirror_protocol::kafka_protocol::messages::ApiKey;

/// The partition MM2's internal records live in.
const PARTITION: i32 = crate::internal_topics::INTERNAL_TOPIC_PARTITION;

/// Fetches in a row that may return nothing before a read-to-end gives up for this round (the
/// broker's high watermark can be ahead of what it serves, e.g. during a leader move).
const MAX_IDLE_FETCHES: u32 = 20;

/// Records per produce request for internal records: keeps each batch far below the broker's
/// default `message.max.bytes` (1 MiB) even with long group and topic names.
pub const MAX_RECORDS_PER_BATCH: usize = 500;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Creates `topic` with one partition and `cleanup.policy=compact` unless it exists (MM2's
/// `createSinglePartitionCompactedTopic`). A replication factor the cluster cannot meet is
/// retried once with the broker's default (-1), so a small test or dev cluster still gets it.
pub async fn ensure_compacted_topic(
    client: &Client,
    topic: &str,
    replication_factor: i16,
) -> Result<(), ClientError> {
    let topics = [topic.to_owned()];
    client.refresh_metadata(Some(&topics)).await?;
    if client.topic_meta(topic).is_some() {
        return Ok(());
    }
    let mut rf = replication_factor;
    loop {
        let created = client
            .create_topics(
                &[NewTopic {
                    name: topic.to_owned(),
                    num_partitions: 1,
                    replication_factor: rf,
                    configs: vec![("cleanup.policy".to_owned(), "compact".to_owned())],
                }],
                30_000,
                false,
            )
            .await?;
        match created.into_iter().next().map(|(_, r)| r) {
            Some(Ok(())) | None => break,
            Some(Err(e)) if e.code() == Some(ResponseError::TopicAlreadyExists) => break,
            Some(Err(e))
                if e.code() == Some(ResponseError::InvalidReplicationFactor) && rf != -1 =>
            {
                tracing::warn!(topic, replication_factor = rf, error = %e,
                    "retrying with the broker's default replication factor");
                rf = -1;
            }
            Some(Err(e)) => return Err(e),
        }
    }
    client
        .retry(&topics, || async {
            client.refresh_metadata(Some(&topics)).await?;
            match client.topic_meta(topic) {
                Some(m) if m.partitions.values().all(|p| p.leader >= 0) => Ok(()),
                _ => Err(ClientError::NoLeader {
                    tp: format!("{topic}-{PARTITION}"),
                }),
            }
        })
        .await
}

/// Writes `records` to partition 0 of `topic` as one uncompressed batch (acks=all, retried on
/// retriable errors; a retry may write them twice, which compaction and every MM2 reader
/// tolerate). Returns the acknowledgement; nothing is sent for an empty list.
pub async fn write_records(
    client: &Client,
    topic: &str,
    records: Vec<Record>,
) -> Result<Option<ProduceAck>, ClientError> {
    if records.is_empty() {
        return Ok(None);
    }
    let mut builder = BatchBuilder::new(Compression::None);
    for r in records {
        builder.push(r);
    }
    let bytes = builder
        .build()
        .map_err(|e| ClientError::MissingInResponse {
            api: ApiKey::Produce,
            resource: format!("batch for {topic}: {e}"),
        })?;
    let topics = [topic.to_owned()];
    client
        .retry(&topics, || {
            client.produce(topic, PARTITION, vec![bytes.clone()], 30_000)
        })
        .await
        .map(Some)
}

/// Reads partition 0 of one topic from the beginning, a round at a time: each
/// [`read_to_end`](Self::read_to_end) returns the records written since the previous one, up to
/// the end the broker reported when the round started (MM2's `KafkaBasedLog.readToEnd`).
#[derive(Debug)]
pub struct PartitionReader {
    /// Topic read.
    topic: String,
    /// Next offset to return.
    next_offset: i64,
    /// Fetch session with the partition leader, rebuilt after an error.
    session: Option<FetchSession>,
}

impl PartitionReader {
    /// A reader of partition 0 of `topic`, starting at offset 0.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            next_offset: 0,
            session: None,
        }
    }

    /// The topic read.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next offset a round will return.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Returns every record from the current position to the partition's end as of now, in
    /// offset order. A topic that does not exist yet reads as empty. Records in batches the
    /// decoder refuses are skipped with a warning, as MM2 logs and skips unreadable records.
    pub async fn read_to_end(&mut self, client: &Client) -> Result<Vec<Record>, ClientError> {
        let topics = [self.topic.clone()];
        client.refresh_metadata(Some(&topics)).await?;
        if client.topic_meta(&self.topic).is_none() {
            return Ok(Vec::new());
        }
        let result = self.read_round(client).await;
        if result.is_err() {
            self.session = None;
        }
        result
    }

    async fn read_round(&mut self, client: &Client) -> Result<Vec<Record>, ClientError> {
        let tp = [(self.topic.clone(), PARTITION)];
        let end = match client
            .list_offsets(&tp, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
            .await?
            .pop()
        {
            Some((_, r)) => r?,
            None => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        let mut idle = 0;
        while self.next_offset < end && idle < MAX_IDLE_FETCHES {
            let session = match &mut self.session {
                Some(s) => s,
                None => {
                    let leader = client.leader(&self.topic, PARTITION).await?;
                    let mut s =
                        FetchSession::new(client.clone(), leader, IsolationLevel::ReadUncommitted);
                    s.max_wait = Duration::from_millis(100);
                    self.session.insert(s)
                }
            };
            let fetched = session
                .fetch(&[FetchPosition {
                    topic: self.topic.clone(),
                    partition: PARTITION,
                    fetch_offset: self.next_offset,
                    partition_max_bytes: 1 << 20,
                }])
                .await?;
            let before = self.next_offset;
            for p in fetched {
                if let Some(e) = p.error {
                    return Err(e);
                }
                for raw in batches(p.records) {
                    let Ok(RawBatch::V2(batch)) = raw else {
                        // A legacy or truncated batch ends what this response can give.
                        break;
                    };
                    if batch.last_offset() < self.next_offset {
                        continue;
                    }
                    let start = self.next_offset;
                    self.next_offset = batch.last_offset() + 1;
                    if batch.is_control() {
                        continue;
                    }
                    match records::decode(&batch) {
                        Ok(recs) => out.extend(recs.into_iter().filter(|r| r.offset >= start)),
                        Err(e) => tracing::warn!(topic = %self.topic, error = %e,
                            base_offset = batch.base_offset(), "skipping an unreadable batch"),
                    }
                }
            }
            idle = if self.next_offset == before {
                idle + 1
            } else {
                0
            };
        }
        Ok(out)
    }
}
