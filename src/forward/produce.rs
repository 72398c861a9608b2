//! Step 4 of the data path: produce each batch to the same partition of the
//! remote topic with our own idempotent producer id, keeping acks in order.
//!
//! Up to `max_in_flight` batches per partition are on the wire (Kafka dedups
//! the last 5 per producer id and partition). A retriable failure resends the
//! failed batch and everything after it with the same sequence numbers, so the
//! broker drops duplicates. A fenced or unknown producer resets the producer
//! (epoch bump) and resends with new sequences: the only case that can
//! duplicate records, at most the unacknowledged batches of that window. A
//! batch the target refuses for itself (too large, a policy, an ACL) never
//! bumps the flow's shared epoch: its partition waits, logging why.
//!
//! # References
//! - `zero-copy-forwarding.md` §3.3 (our producer fields), §6.3 (rewrite), §6.4 (errors).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use kmirror_protocol::batch::builder::BatchBuilder;
use kmirror_protocol::batch::records;
use kmirror_protocol::batch::rewrite::{HeaderRewrite, ProducerFields, RewrittenBatch, rewrite};
use kmirror_protocol::batch::{RecordBatch, TimestampType};
use kmirror_protocol::client::api::produce::{PendingProduce, ProduceAck, ProduceBatch};
use kmirror_protocol::client::api::producer_id::ProducerIdentity;
use kmirror_protocol::client::backoff::{Backoff, BackoffConfig};
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::{BatchError, ResponseError};
use tokio::sync::Mutex;

use super::classify::{Outgoing, Path};

/// Errors that stop a partition's forwarding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The source batch failed its CRC check (or another batch fault).
    #[error("source batch of {topic}-{partition} is invalid")]
    Batch {
        /// Source topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// What was wrong.
        #[source]
        source: BatchError,
    },
    /// Getting a producer id failed.
    #[error("cannot get a producer id from the target")]
    ProducerId(#[source] ClientError),
}

/// The target-wide idempotent producer identity, shared by every partition.
#[derive(Debug)]
pub struct SharedProducerId {
    /// Target cluster client.
    client: Client,
    /// Current identity and its generation (bumped on each reset).
    state: Mutex<(ProducerIdentity, u64)>,
    /// Next sequence per target partition, with the generation it belongs
    /// to: a partition restarted in this process continues its sequence
    /// instead of starting again at 0 (which the broker would reject).
    sequences: std::sync::Mutex<std::collections::HashMap<(String, i32), (u64, i32)>>,
}

impl SharedProducerId {
    /// Gets a fresh producer id from the target.
    pub async fn new(client: Client) -> Result<Self, ForwardError> {
        let id = client
            .init_producer_id(None)
            .await
            .map_err(ForwardError::ProducerId)?;
        Ok(Self {
            client,
            state: Mutex::new((id, 0)),
            sequences: std::sync::Mutex::default(),
        })
    }

    /// Current identity and generation.
    pub async fn current(&self) -> (ProducerIdentity, u64) {
        *self.state.lock().await
    }

    fn sequence(&self, tp: &(String, i32), generation: u64) -> i32 {
        let m = match self.sequences.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.get(tp)
            .filter(|(g, _)| *g == generation)
            .map_or(0, |(_, s)| *s)
    }

    fn set_sequence(&self, tp: &(String, i32), generation: u64, next: i32) {
        let mut m = match self.sequences.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.insert(tp.clone(), (generation, next));
    }

    /// Bumps the epoch unless another partition already did since `seen`.
    pub async fn reset(&self, seen: u64) -> Result<(ProducerIdentity, u64), ForwardError> {
        let mut st = self.state.lock().await;
        if st.1 == seen {
            // Bump the epoch (KIP-360); brokers that cannot get a fresh id.
            let id = match self.client.init_producer_id(Some(st.0)).await {
                Ok(id) => id,
                Err(e) => {
                    tracing::debug!(error = %e, "epoch bump refused; asking for a new producer id");
                    self.client
                        .init_producer_id(None)
                        .await
                        .map_err(ForwardError::ProducerId)?
                }
            };
            tracing::warn!(
                producer_id = id.producer_id,
                epoch = id.producer_epoch,
                "producer reset"
            );
            *st = (id, st.1 + 1);
        }
        Ok(*st)
    }
}

/// A batch acknowledged by the target, or a source range skipped.
#[derive(Debug, Clone)]
pub struct Completed {
    /// Next source offset once this entry is done.
    pub next_source_offset: i64,
    /// Where the forwarded records landed; `None` for a skipped range.
    pub mapping: Option<Mapping>,
    /// Fetch-buffer bytes released with this entry.
    pub release_bytes: usize,
}

/// Upstream → downstream mapping of one acknowledged batch (§6.5).
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Source offset of the first record.
    pub first_source_offset: i64,
    /// Source offset of the last record.
    pub last_source_offset: i64,
    /// Target offset of the first record.
    pub target_base_offset: i64,
    /// Records in the batch.
    pub records: i32,
    /// Batch bytes (for counters).
    pub bytes: usize,
    /// Max timestamp of the batch (for record age).
    pub max_timestamp: i64,
    /// First timestamp of the batch.
    pub base_timestamp: i64,
    /// How the batch was forwarded.
    pub path: Path,
    /// Records that may have been written twice (producer reset while unacknowledged).
    pub possible_duplicates: bool,
}

#[allow(clippy::large_enum_variant)] // one per in-flight batch; boxing buys nothing
enum Entry {
    Batch {
        out: Outgoing,
        sequence: i32,
        rewritten: RewrittenBatch,
        pending: Option<PendingProduce>,
        release_bytes: usize,
        after_reset: bool,
    },
    Skip {
        next_source_offset: i64,
        release_bytes: usize,
    },
}

/// Ordered, pipelined producer for one target partition.
pub struct PartitionProducer {
    /// Target cluster.
    client: Client,
    /// Remote topic.
    topic: String,
    /// Partition (same number as the source).
    partition: i32,
    /// Shared producer identity.
    pid: Arc<SharedProducerId>,
    /// Identity and generation the sequences below belong to.
    identity: (ProducerIdentity, u64),
    /// Sequence of the next new batch.
    next_sequence: i32,
    /// Entries in source order; the head is the oldest.
    window: VecDeque<Entry>,
    /// Batches allowed on the wire at once.
    max_in_flight: usize,
    /// Produce request timeout (ms).
    timeout_ms: i32,
    /// Backoff between resends.
    backoff: BackoffConfig,
    /// While the window is full, consecutive queued batches whose combined
    /// size stays under this are merged into one (0 disables).
    coalesce_bytes: usize,
}

impl std::fmt::Debug for PartitionProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionProducer")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("window", &self.window.len())
            .finish()
    }
}

/// Default coalescing limit: off. Measured on loopback (benches/mirror.py
/// coalesce mode, 30k one-record lz4 batches): x0.93 throughput for x7.8 CPU,
/// because the target, not the round trip, was the limit and each merge
/// re-decodes the growing batch. Worth trying on high-latency links only.
pub const DEFAULT_COALESCE_BYTES: usize = 0;

/// A coalescing limit that keeps merged batches well under max.message.bytes.
pub const SUGGESTED_COALESCE_BYTES: usize = 64 * 1024;

/// Source offsets of every record of an outgoing batch.
fn source_offsets(o: &Outgoing) -> Vec<i64> {
    o.source_offsets
        .clone()
        .unwrap_or_else(|| (o.first_source_offset..=o.last_source_offset).collect())
}

/// One batch holding the records of `a` then `b` (decode path), codec of `a`.
fn merge(a: &Outgoing, b: &Outgoing) -> Result<Outgoing, BatchError> {
    let codec = a.batch.compression()?;
    let mut builder = BatchBuilder::new(codec);
    for r in records::decode(&a.batch)?
        .into_iter()
        .chain(records::decode(&b.batch)?)
    {
        builder.push(r);
    }
    let batch = RecordBatch::new(builder.build()?)?;
    let mut offsets = source_offsets(a);
    offsets.extend(source_offsets(b));
    let contiguous = offsets.windows(2).all(|w| w[1] == w[0] + 1);
    Ok(Outgoing {
        batch,
        source_offsets: (!contiguous).then_some(offsets),
        first_source_offset: a.first_source_offset,
        last_source_offset: b.last_source_offset,
        next_source_offset: b.next_source_offset,
        path: Path::Coalesced,
    })
}

fn sequence_after(seq: i32, records: i32) -> i32 {
    // Kafka wraps sequences at i32::MAX back to 0.
    ((i64::from(seq) + i64::from(records)) % (i64::from(i32::MAX) + 1)) as i32
}

impl PartitionProducer {
    /// A producer for `topic`-`partition` on the target.
    pub async fn new(
        client: Client,
        topic: String,
        partition: i32,
        pid: Arc<SharedProducerId>,
        max_in_flight: usize,
        timeout_ms: i32,
    ) -> Self {
        let identity = pid.current().await;
        let next_sequence = pid.sequence(&(topic.clone(), partition), identity.1);
        Self {
            client,
            topic,
            partition,
            pid,
            identity,
            next_sequence,
            window: VecDeque::new(),
            max_in_flight: max_in_flight.clamp(1, 5),
            timeout_ms,
            backoff: BackoffConfig::default(),
            coalesce_bytes: DEFAULT_COALESCE_BYTES,
        }
    }

    /// Sets the coalescing limit (0 disables).
    pub fn with_coalesce_bytes(mut self, bytes: usize) -> Self {
        self.coalesce_bytes = bytes;
        self
    }

    fn set_next(&mut self, next: i32) {
        self.next_sequence = next;
        self.pid
            .set_sequence(&(self.topic.clone(), self.partition), self.identity.1, next);
    }

    /// Entries not yet completed.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// True when another batch may be pushed without waiting.
    pub fn has_room(&self) -> bool {
        self.in_flight() < self.max_in_flight
    }

    fn in_flight(&self) -> usize {
        self.window
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Entry::Batch {
                        pending: Some(_),
                        ..
                    }
                )
            })
            .count()
    }

    fn fields(&self, base_sequence: i32) -> ProducerFields {
        ProducerFields {
            producer_id: self.identity.0.producer_id,
            producer_epoch: self.identity.0.producer_epoch,
            base_sequence,
        }
    }

    /// Queues a batch: rewrites its header with our producer fields and puts it
    /// on the wire if the window has room (else it waits in the queue).
    pub async fn push(&mut self, out: Outgoing, release_bytes: usize) -> Result<(), ForwardError> {
        let out = match self.try_coalesce(out, release_bytes) {
            Ok(()) => return Ok(()),
            Err(out) => out,
        };
        let seq = self.next_sequence;
        let rewritten =
            rewrite(&out.batch, &HeaderRewrite::new(self.fields(seq))).map_err(|source| {
                ForwardError::Batch {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    source,
                }
            })?;
        self.set_next(sequence_after(seq, out.batch.records_count()));
        self.window.push_back(Entry::Batch {
            out,
            sequence: seq,
            rewritten,
            pending: None,
            release_bytes,
            after_reset: false,
        });
        self.fill().await;
        Ok(())
    }

    /// Merges `out` into the last queued, not yet sent batch when the window is
    /// full and both are small: many tiny source batches would otherwise make
    /// the target round trip the limit. Gives `out` back when it cannot merge.
    fn try_coalesce(&mut self, out: Outgoing, release_bytes: usize) -> Result<(), Outgoing> {
        if self.coalesce_bytes == 0 || self.has_room() {
            return Err(out);
        }
        let Some(Entry::Batch {
            out: prev,
            sequence,
            rewritten,
            pending: None,
            release_bytes: prev_release,
            after_reset: false,
        }) = self.window.back_mut()
        else {
            return Err(out);
        };
        if prev.batch.size() + out.batch.size() > self.coalesce_bytes
            || prev.batch.compression().ok() != out.batch.compression().ok()
            || prev.batch.timestamp_type() != TimestampType::CreateTime
            || out.batch.timestamp_type() != TimestampType::CreateTime
        {
            return Err(out);
        }
        let Ok(merged) = merge(prev, &out) else {
            return Err(out);
        };
        let fields = ProducerFields {
            producer_id: self.identity.0.producer_id,
            producer_epoch: self.identity.0.producer_epoch,
            base_sequence: *sequence,
        };
        let Ok(rw) = rewrite(&merged.batch, &HeaderRewrite::new(fields)) else {
            return Err(out);
        };
        let next = sequence_after(*sequence, merged.batch.records_count());
        *prev = merged;
        *rewritten = rw;
        *prev_release += release_bytes;
        self.set_next(next);
        Ok(())
    }

    /// Queues a skipped source range (dropped batches) behind pending batches.
    pub fn skip(&mut self, next_source_offset: i64, release_bytes: usize) {
        self.window.push_back(Entry::Skip {
            next_source_offset,
            release_bytes,
        });
    }

    /// Submits queued batches while the window has room, in order.
    async fn fill(&mut self) {
        let mut on_wire = self.in_flight();
        for e in self.window.iter_mut() {
            if on_wire >= self.max_in_flight {
                break;
            }
            if let Entry::Batch {
                rewritten,
                pending: pending @ None,
                ..
            } = e
            {
                let batch = ProduceBatch {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    chunks: rewritten.chunks().into_iter().cloned().collect(),
                };
                let submitted = match self.client.leader(&self.topic, self.partition).await {
                    Ok(leader) => {
                        self.client
                            .submit_produce(
                                leader,
                                -1,
                                self.timeout_ms,
                                std::slice::from_ref(&batch),
                            )
                            .await
                    }
                    Err(e) => Err(e),
                };
                match submitted {
                    Ok(p) => {
                        *pending = Some(p);
                        on_wire += 1;
                    }
                    // Not on the wire: `next` will find it unsent and retry.
                    Err(_) => break,
                }
            }
        }
    }

    /// Waits for the oldest entry to complete, resending as needed. Never
    /// skips a batch: a batch the target keeps refusing stalls the partition
    /// with an error logged on every attempt.
    pub async fn next(&mut self) -> Option<Result<Completed, ForwardError>> {
        let mut backoff = Backoff::new(self.backoff);
        let mut attempts_on_head = 0u32;
        loop {
            let head = self.window.front_mut()?;
            let result = match head {
                Entry::Skip {
                    next_source_offset,
                    release_bytes,
                } => {
                    let done = Completed {
                        next_source_offset: *next_source_offset,
                        mapping: None,
                        release_bytes: *release_bytes,
                    };
                    self.window.pop_front();
                    return Some(Ok(done));
                }
                // Waiting in place keeps the response if this future is
                // dropped (the partition loop selects on it), so a batch is
                // never sent twice just because a chunk arrived meanwhile.
                Entry::Batch { pending, .. } => match pending.as_mut() {
                    Some(p) => {
                        let r = p.wait_one().await;
                        *pending = None;
                        r
                    }
                    None => {
                        self.fill().await;
                        match self.window.front_mut() {
                            Some(Entry::Batch {
                                pending: Some(_), ..
                            }) => continue,
                            _ => Err(ClientError::NoLeader {
                                tp: format!("{}-{}", self.topic, self.partition),
                            }),
                        }
                    }
                },
            };
            match result {
                Ok(ack) => {
                    let Some(Entry::Batch {
                        out,
                        rewritten,
                        release_bytes,
                        after_reset,
                        ..
                    }) = self.window.pop_front()
                    else {
                        unreachable!("head was a batch");
                    };
                    self.fill().await;
                    return Some(Ok(self.completed(
                        out,
                        &rewritten,
                        ack,
                        release_bytes,
                        after_reset,
                    )));
                }
                Err(e) if e.code() == Some(ResponseError::DuplicateSequenceNumber) => {
                    // The broker already has this batch (Java's producer
                    // treats this as success); its offsets are unknown, so
                    // it yields no offset sync.
                    let Some(Entry::Batch {
                        out, release_bytes, ..
                    }) = self.window.pop_front()
                    else {
                        unreachable!("head was a batch");
                    };
                    self.fill().await;
                    return Some(Ok(Completed {
                        next_source_offset: out.next_source_offset,
                        mapping: None,
                        release_bytes,
                    }));
                }
                Err(e) => {
                    attempts_on_head += 1;
                    // Anything else non-retriable and unexplained (tansu's
                    // UNKNOWN_SERVER_ERROR for a sequence it disagrees with)
                    // also gets a new epoch after 3 tries.
                    let fenced = needs_new_epoch(e.code())
                        || (!e.is_retriable()
                            && attempts_on_head >= 3
                            && !refused_for_the_batch(e.code()));
                    if !refused_for_the_batch(e.code()) {
                        tracing::warn!(topic = %self.topic, partition = self.partition, error = %e, attempt = attempts_on_head, "produce failed; resending");
                    } else {
                        let hint = match e.code() {
                            Some(
                                ResponseError::MessageTooLarge | ResponseError::RecordListTooLarge,
                            ) => {
                                "the batch is larger than the remote topic's max.message.bytes (or the target broker's message.max.bytes): raise it"
                            }
                            _ => "fix the cause on the target",
                        };
                        tracing::error!(topic = %self.topic, partition = self.partition, error = %e, attempt = attempts_on_head, hint, "the target refuses this batch; this partition waits and retries (nothing is skipped)");
                    }
                    // Let the rest of the window finish before resending in order.
                    for en in self.window.iter_mut() {
                        if let Entry::Batch { pending, .. } = en
                            && let Some(mut p) = pending.take()
                        {
                            let _ = p.wait().await;
                        }
                    }
                    if e.needs_metadata_refresh() {
                        self.client.invalidate_topic(&self.topic);
                    }
                    tokio::time::sleep(backoff.next_delay().max(Duration::from_millis(50))).await;
                    if fenced {
                        if let Err(err) = self.reset().await {
                            return Some(Err(err));
                        }
                        attempts_on_head = 0;
                    }
                    self.fill().await;
                }
            }
        }
    }

    /// New epoch: re-sequence every unacknowledged batch from 0. Only for
    /// [`needs_new_epoch`] errors.
    async fn reset(&mut self) -> Result<(), ForwardError> {
        self.identity = self.pid.reset(self.identity.1).await?;
        self.set_next(0);
        let mut seq = 0;
        let fields_for = |seq| ProducerFields {
            producer_id: self.identity.0.producer_id,
            producer_epoch: self.identity.0.producer_epoch,
            base_sequence: seq,
        };
        for e in self.window.iter_mut() {
            if let Entry::Batch {
                out,
                sequence,
                rewritten,
                pending,
                after_reset,
                ..
            } = e
            {
                *sequence = seq;
                *pending = None;
                *rewritten = rewritten.with_producer(fields_for(seq));
                *after_reset = true;
                seq = sequence_after(seq, out.batch.records_count());
            }
        }
        self.set_next(seq);
        Ok(())
    }

    fn completed(
        &self,
        out: Outgoing,
        rewritten: &RewrittenBatch,
        ack: ProduceAck,
        release_bytes: usize,
        after_reset: bool,
    ) -> Completed {
        Completed {
            next_source_offset: out.next_source_offset,
            mapping: Some(Mapping {
                first_source_offset: out.first_source_offset,
                last_source_offset: out.last_source_offset,
                target_base_offset: ack.base_offset,
                records: out.batch.records_count(),
                bytes: rewritten.len(),
                max_timestamp: out.batch.max_timestamp(),
                base_timestamp: out.batch.base_timestamp(),
                path: out.path,
                possible_duplicates: after_reset,
            }),
            release_bytes,
        }
    }

    /// Timestamp of the oldest record not yet acknowledged (recovery point).
    pub fn oldest_timestamp(&self) -> Option<i64> {
        self.window.iter().find_map(|e| match e {
            Entry::Batch { out, .. } => {
                Some(out.batch.base_timestamp().min(out.batch.max_timestamp()))
            }
            Entry::Skip { .. } => None,
        })
    }

    /// Adopts a newer producer identity before the next new batch (another
    /// partition reset it); only when nothing is pending.
    pub async fn refresh_identity(&mut self) {
        if self.window.is_empty() {
            let cur = self.pid.current().await;
            if cur.1 != self.identity.1 {
                self.identity = cur;
                self.set_next(0);
            }
        }
    }
}

/// Whether the target refuses the batch itself (its size, a policy, an ACL):
/// neither resending nor a new epoch helps until an operator acts.
fn refused_for_the_batch(code: Option<ResponseError>) -> bool {
    matches!(
        code,
        Some(
            ResponseError::MessageTooLarge
                | ResponseError::RecordListTooLarge
                | ResponseError::PolicyViolation
                | ResponseError::TopicAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::InvalidRecord
                | ResponseError::InvalidTimestamp
                | ResponseError::UnsupportedCompressionType
                | ResponseError::UnsupportedForMessageFormat
        )
    )
}

/// Whether a produce error is about the producer's own state (sequence,
/// epoch, id), which a new epoch fixes. The epoch is shared by the flow, so
/// bumping it for an error the batch itself causes (MESSAGE_TOO_LARGE, a
/// policy, an ACL) would fence every partition again and again: such a
/// partition waits and retries instead.
fn needs_new_epoch(code: Option<ResponseError>) -> bool {
    matches!(
        code,
        Some(
            ResponseError::OutOfOrderSequenceNumber
                | ResponseError::InvalidProducerEpoch
                | ResponseError::UnknownProducerId
                | ResponseError::InvalidProducerIdMapping
                | ResponseError::ProducerFenced
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_producers_own_state_bumps_the_shared_epoch() {
        for code in [
            ResponseError::OutOfOrderSequenceNumber,
            ResponseError::InvalidProducerEpoch,
            ResponseError::UnknownProducerId,
            ResponseError::ProducerFenced,
        ] {
            assert!(needs_new_epoch(Some(code)), "{code:?}");
        }
        for code in [
            ResponseError::MessageTooLarge,
            ResponseError::RecordListTooLarge,
            ResponseError::PolicyViolation,
            ResponseError::TopicAuthorizationFailed,
            ResponseError::NotLeaderOrFollower,
        ] {
            assert!(!needs_new_epoch(Some(code)), "{code:?}");
        }
        assert!(!needs_new_epoch(None));
        assert!(refused_for_the_batch(Some(ResponseError::MessageTooLarge)));
        assert!(!refused_for_the_batch(Some(
            ResponseError::UnknownServerError
        )));
    }

    fn outgoing(first: i64, n: usize, codec: kmirror_protocol::batch::Compression) -> Outgoing {
        let mut b = BatchBuilder::new(codec);
        b.base_offset(first);
        for i in 0..n {
            b.push(records::Record::new(
                Some(b"k"),
                Some(format!("v{i}").as_bytes()),
                100 + i as i64,
            ));
        }
        Outgoing {
            batch: RecordBatch::new(b.build().unwrap()).unwrap(),
            source_offsets: None,
            first_source_offset: first,
            last_source_offset: first + n as i64 - 1,
            next_source_offset: first + n as i64,
            path: Path::PassThrough,
        }
    }

    #[test]
    fn merge_keeps_records_order_and_source_offsets_across_a_gap() {
        use kmirror_protocol::batch::Compression;
        let a = outgoing(10, 2, Compression::Lz4);
        // A control batch at 12 was dropped in between.
        let b = outgoing(13, 3, Compression::Lz4);
        let m = merge(&a, &b).unwrap();
        assert_eq!(m.batch.records_count(), 5);
        assert_eq!(m.batch.compression().unwrap(), Compression::Lz4);
        assert_eq!(m.source_offsets.as_deref(), Some(&[10, 11, 13, 14, 15][..]));
        assert_eq!(
            (
                m.first_source_offset,
                m.last_source_offset,
                m.next_source_offset
            ),
            (10, 15, 16)
        );
        let values: Vec<_> = records::decode(&m.batch)
            .unwrap()
            .into_iter()
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(
            values,
            ["v0", "v1", "v0", "v1", "v2"]
                .map(bytes::Bytes::from)
                .to_vec()
        );
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(sequence_after(0, 5), 5);
        assert_eq!(sequence_after(i32::MAX - 1, 3), 1);
        assert_eq!(sequence_after(i32::MAX, 1), 0);
    }
}
